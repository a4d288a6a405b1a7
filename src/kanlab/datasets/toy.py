"""The five toy functions of the KAN paper (arXiv 2404.19756, §3.1), as plain data.

Every entry is a frozen :class:`ToyFunction` with the target ``f`` (a torch function
``(N, n_var) -> (N, 1)``), its closed form as a sympy expression, the sampling box and the
KAN shape the paper used. The paper's protocol: inputs uniform on [-1, 1] for every variable,
1000 train / 1000 test points; it reports these experiments as plots only (test RMSE follows
the N^-4 line, N = number of parameters), so ``paper["rmse"]`` is ``None``.

==============  =====  ==========================================================  ===============
name            n_var  f                                                           paper shape
==============  =====  ==========================================================  ===============
bessel          1      J0(20 x)                                                    [1, 1]
exp_sin         2      exp(sin(pi x) + y^2)                                        [2, 1, 1]
xy              2      x y                                                         [2, 2, 1]
exp_sin_100d    100    exp((1/100) sum_i sin^2(pi x_i / 2))                        [100, 1, 1]
exp_sin_4d      4      exp((sin(pi (x1^2 + x2^2)) + sin(pi (x3^2 + x4^2))) / 2)    [4, 4, 2, 1]
==============  =====  ==========================================================  ===============

The functions are evaluated in float64 (on the input's device; ``bessel`` via SciPy on CPU)
and returned on the input's device in its dtype, so float32 and float64 inputs both work and
give labels accurate to the output dtype.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.special as sps
import sympy as sp
import torch

__all__ = ["ToyFunction", "TOY_FUNCTIONS", "toy_function"]


@dataclass(frozen=True)
class ToyFunction:
    """One toy target: ``f`` maps a tensor ``(N, n_var)`` to ``(N, 1)``.

    ``sympy`` is the closed form in symbols named ``var_names``; ``ranges`` holds one
    ``(lo, hi)`` per variable; ``paper_shape`` is the KAN shape of the paper; ``paper`` the
    paper's reported numbers (``None`` where it gives only plots).
    """

    name: str
    n_var: int
    var_names: tuple
    ranges: tuple
    f: Callable = field(repr=False)
    sympy: object = field(repr=False)
    formula: str
    paper_shape: list
    paper: dict
    notes: str = ""

    def __post_init__(self):
        _check_entry(self)

    def __hash__(self):  # the list/dict fields are unhashable; the name identifies an entry
        return hash((type(self).__name__, self.name))

    @property
    def symbols(self) -> tuple:
        """The sympy symbols of ``var_names``, in order."""
        return tuple(sp.Symbol(v) for v in self.var_names)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)


def _check_entry(e) -> None:
    if len(e.var_names) != e.n_var or len(e.ranges) != e.n_var:
        raise ValueError(f"{e.name}: n_var={e.n_var} but {len(e.var_names)} names, {len(e.ranges)} ranges")
    for (lo, hi) in e.ranges:
        if not lo < hi:
            raise ValueError(f"{e.name}: empty range ({lo}, {hi})")


class _ToyFn:
    """``f`` of one entry: validates x, evaluates in float64 on x's device, returns (N, 1) in
    x's dtype. Pickles by name (so entries can cross process boundaries)."""

    def __init__(self, name: str, n_var: int, fn: Callable[[torch.Tensor], torch.Tensor]):
        self.name, self.n_var, self._fn = name, n_var, fn
        self.__name__ = self.__qualname__ = name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x)
        if x.dim() != 2 or x.shape[1] != self.n_var:
            raise ValueError(f"{self.name}: expected input of shape (N, {self.n_var}), got {tuple(x.shape)}")
        out_dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        xd = x.detach().to(torch.float64) if x.device.type != "mps" else x.detach().cpu().to(torch.float64)
        y = self._fn(xd).reshape(-1, 1)
        return y.to(device=x.device, dtype=out_dtype)

    def __reduce__(self):
        return (_lookup_f, (self.name,))

    def __repr__(self):
        return f"<toy function {self.name}>"


def _lookup_f(name: str):
    return TOY_FUNCTIONS[name].f


def _bessel(x):
    # SciPy's j0 (double precision to ~1e-16); torch.special.bessel_j0 errs by up to ~4e-7 in
    # float64, too coarse for targets whose fitted RMSE goes far below 1e-6.
    y = sps.j0(20.0 * x[:, 0].cpu().numpy())
    return torch.from_numpy(np.array(y, dtype=np.float64)).to(x.device)


def _exp_sin(x):
    return torch.exp(torch.sin(torch.pi * x[:, 0]) + x[:, 1] ** 2)


def _xy(x):
    return x[:, 0] * x[:, 1]


def _exp_sin_100d(x):
    return torch.exp(torch.mean(torch.sin(torch.pi * x / 2) ** 2, dim=1))


def _exp_sin_4d(x):
    r12 = x[:, 0] ** 2 + x[:, 1] ** 2
    r34 = x[:, 2] ** 2 + x[:, 3] ** 2
    return torch.exp(0.5 * (torch.sin(torch.pi * r12) + torch.sin(torch.pi * r34)))


def _exp_mean_sin2(xs) -> sp.Expr:
    """exp((1/n) * sum sin(pi x_i / 2)**2), built without sympy's (slow, ~0.5 s) auto-evaluation."""
    terms = [sp.Pow(sp.sin(sp.Mul(sp.pi / 2, s), evaluate=False), 2) for s in xs]
    return sp.exp(sp.Mul(sp.Rational(1, len(xs)), sp.Add(*terms), evaluate=False), evaluate=False)


def _make() -> dict:
    pi = sp.pi
    x, y = sp.symbols("x y")
    xs100 = sp.symbols("x1:101")
    x1, x2, x3, x4 = sp.symbols("x1:5")
    result = "plots only: KAN test RMSE follows the N^-4 line until it saturates; MLPs plateau"
    specs = [
        ("bessel", ("x",), _bessel, sp.besselj(0, 20 * x), "J0(20*x)", [1, 1],
         "Bessel J0 of 20x: ~6 oscillations on [-1,1]; evaluated with scipy.special.j0 on CPU."),
        ("exp_sin", ("x", "y"), _exp_sin, sp.exp(sp.sin(pi * x) + y ** 2), "exp(sin(pi*x) + y**2)",
         [2, 1, 1], "Also the grid-extension example (test RMSE ~ G^-3 for a [2,1,1] KAN)."),
        ("xy", ("x", "y"), _xy, x * y, "x*y", [2, 2, 1], "Multiplication."),
        ("exp_sin_100d", tuple(str(s) for s in xs100), _exp_sin_100d,
         _exp_mean_sin2(xs100),
         "exp((1/100)*sum(sin(pi*x_i/2)**2 for i in 1..100))", [100, 1, 1],
         "100 inputs x1..x100."),
        ("exp_sin_4d", ("x1", "x2", "x3", "x4"), _exp_sin_4d,
         sp.exp((sp.sin(pi * (x1 ** 2 + x2 ** 2)) + sp.sin(pi * (x3 ** 2 + x4 ** 2))) / 2),
         "exp((sin(pi*(x1**2+x2**2)) + sin(pi*(x3**2+x4**2)))/2)", [4, 4, 2, 1], ""),
    ]
    out = {}
    for name, names, fn, expr, formula, shape, notes in specs:
        n = len(names)
        out[name] = ToyFunction(
            name=name, n_var=n, var_names=names, ranges=tuple((-1.0, 1.0) for _ in range(n)),
            f=_ToyFn(name, n, fn), sympy=expr, formula=formula, paper_shape=list(shape),
            paper={"shape": list(shape), "rmse": None, "result": result, "uncertain": False},
            notes=("Inputs uniform on [-1,1] (paper protocol). " + notes).strip(),
        )
    return out


#: name -> :class:`ToyFunction`, in the order of the paper.
TOY_FUNCTIONS: dict = _make()


def toy_function(name: str) -> ToyFunction:
    """The toy function called ``name``; ValueError listing the valid names otherwise."""
    try:
        return TOY_FUNCTIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown toy function {name!r}; valid names: {', '.join(TOY_FUNCTIONS)}") from None
