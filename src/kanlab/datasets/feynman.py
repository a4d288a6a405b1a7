"""The 27 dimensionless Feynman equations of the KAN paper (arXiv 2404.19756, §3.3, Table 2).

Each entry is a frozen :class:`FeynmanEquation` with the dimensionless formula as a sympy
expression in its variables (named as in the paper's table: theta, sigma, theta1, a..f, n,
theta2, n0, alpha, delta, beta), ``f`` (torch, ``(N, n_var) -> (N, 1)``, generated from the
sympy expression by ``sympy.lambdify(..., "torch")`` and evaluated in float64 on x's device,
returned in x's dtype), the sampling box, the paper's human-designed and pruned KAN shapes and
its four test RMSEs (human-shape KAN, pruned KAN, unpruned KAN, best MLP).

Ranges. The paper does not give the ranges of the dimensionless variables. We derive them
from the dimensional ranges of the AI Feynman helper (shared/reference/feynman_equations.md)
where that is sensible, and otherwise use: [-1, 1] for free signed variables, [0, 1] for
non-negative amplitudes/densities, [0, 2pi] for angles, [0.5, 2] for variables in a
denominator or under a log; every box is closed, the formula is finite (and, except the
smooth-but-0/0 III.9.52, evaluable as written) on the whole box, and its output is O(1):

=========  ===============================  ==========================================================
ID         formula                          ranges (one per variable, in order)
=========  ===============================  ==========================================================
I.6.2      exp(-θ²/2σ²)/√(2πσ²)             θ [-1,1], σ [0.5,2]                 (= dimensional I.6.20)
I.6.2b     exp(-(θ-θ1)²/2σ²)/√(2πσ²)        θ, θ1 [-1.5,1.5], σ [0.5,2]         (= dimensional I.6.20b)
I.9.18     a/((b-1)²+(c-d)²+(e-f)²)         a [-1,1], b [-1,0], c,e [-1,-0.5], d,f [0.5,1]  (denominator in [3,12])
I.12.11    1+a·sinθ                         a [-1,1], θ [0,2π]
I.13.12    a(1/b-1)                         a [-1,1], b [0.5,2]                 (b = r2/r1-like ratio)
I.15.3x    (1-a)/√(1-b²)                    a [-1,1], b [-0.9,0.9]              (b = u/c, |b| < 1)
I.16.6     (a+b)/(1+ab)                     a, b [-0.8,0.8]                     (= dimensional u/c, v/c; 1+ab >= 0.36)
I.18.4     (1+ab)/(1+a)                     a [0.5,2], b [-1,1]                 (a = m2/m1 > 0)
I.26.2     arcsin(n·sinθ2)                  n [0,0.9], θ2 [0,2π]                (|arg| <= 0.9; dimensional n <= 0.99 made the slope 7)
I.27.6     1/(1+ab)                         a, b [0.5,2]
I.29.16    √(1+a²-2a·cos(θ1-θ2))            a [-0.8,0.8], θ1, θ2 [0,2π]         (root >= 0.2: no cone at a=1, θ1=θ2)
I.30.3     sin²(nθ/2)/sin²(θ/2)             n [0,4], θ [0.4π,1.6π]              (= dimensional; |sin(θ/2)| >= 0.59)
I.30.5     arcsin(a/n)                      a [-1,1], n [1.2,2]                 (|a/n| <= 0.83)
I.37.4     1+a+2√a·cosδ                     a [0.1,1], δ [0,2π]                 (a = I2/I1 of dimensional I in [0.1,1])
I.40.1     n0·exp(-a)                       n0 [0,1], a [-1,1]
I.44.4     n·ln(a)                          n [0,1], a [0.5,2]                  (a = V2/V1)
I.50.26    cos(a)+α·cos²(a)                 a [0,2π], α [0,1]                   (a = ωt)
II.2.42    (a-1)·b                          a [0,2], b [-1,1]                   (a = T2/T1)
II.6.15a   (1/4π)·c·√(a²+b²)                a, b [0,1], c [0,4]                 (= dimensional x, y; c scaled for O(0.1-1) output)
II.11.7    n0(1+a·cosθ)                     n0 [0,1], a [-1,1], θ [0,2π]
II.11.27   nα/(1-nα/3)                      n [0,1], α [0,2]                    (= dimensional; denominator >= 1/3)
II.35.18   n0/(e^a+e^-a)                    n0 [0,1], a [-2,2]
II.36.38   a+α·b                            a [-1,1], α [0,1], b [-1,1]
II.38.3    a/b                              a [-1,1], b [0.5,2]
III.9.52   a·sin²((b-c)/2)/((b-c)/2)²       a [0,1], b, c [-π,π]                (b = c is a removable 0/0: see below)
III.10.19  √(1+a²+b²)                       a, b [-1,1]
III.17.37  β(1+α·cosθ)                      α [0,1], β [0,1], θ [0,2π]          (= dimensional)
=========  ===============================  ==========================================================

III.9.52: the box contains the line b = c where the written formula is 0/0; its limit is a
(sinc² = 1). ``f`` is therefore implemented with ``torch.sinc`` (a·sinc²((b-c)/2π) in NumPy's
normalised convention), finite everywhere; the sympy expression stays the paper's formula.

``paper_shape`` is the paper's human-designed shape; ``pruned_shape`` the smallest pruned
shape. ``paper`` holds both shapes and the RMSEs under the keys human_rmse, pruned_rmse,
unpruned_rmse, mlp_rmse; cells marked (?) in PAPER_NUMBERS.md (read from text conversions
that disagree) are kept, with ``uncertain=True`` and their keys in ``uncertain_keys``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import sympy as sp
import torch

__all__ = ["FeynmanEquation", "FEYNMAN", "feynman_equation"]

_PI = math.pi
_TWO_PI = 2 * math.pi


@dataclass(frozen=True)
class FeynmanEquation:
    """One dimensionless Feynman equation ``f: (N, n_var) -> (N, 1)`` with box and paper numbers."""

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
    pruned_shape: list = field(default_factory=list)

    def __post_init__(self):
        if len(self.var_names) != self.n_var or len(self.ranges) != self.n_var:
            raise ValueError(f"{self.name}: n_var={self.n_var} but {len(self.var_names)} names, "
                             f"{len(self.ranges)} ranges")
        for (lo, hi) in self.ranges:
            if not lo < hi:
                raise ValueError(f"{self.name}: empty range ({lo}, {hi})")

    def __hash__(self):  # the list/dict fields are unhashable; the name identifies an entry
        return hash((type(self).__name__, self.name))

    @property
    def id(self) -> str:
        """The AI Feynman ID (same as ``name``)."""
        return self.name

    @property
    def human_shape(self) -> list:
        return self.paper_shape

    @property
    def symbols(self) -> tuple:
        """The sympy symbols of ``var_names``, in order."""
        return tuple(sp.Symbol(v) for v in self.var_names)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)


class _FeynmanFn:
    """``f`` of one entry. The torch function is lambdified from the sympy expression on first
    use (or given explicitly, for III.9.52). Evaluates in float64 on x's device and returns
    (N, 1) in x's dtype. Pickles by ID (so entries can cross process boundaries)."""

    def __init__(self, name: str, expr: sp.Expr, symbols: tuple, torch_fn: Callable | None = None):
        self.name, self.n_var = name, len(symbols)
        self._expr, self._symbols, self._fn = expr, symbols, torch_fn
        self.__name__ = self.__qualname__ = name.replace(".", "_")

    def _get(self) -> Callable:
        if self._fn is None:
            # numeric constants (sqrt(2), 1/pi, ...) become floats: torch.sqrt(2) would fail on an int
            expr = sp.nfloat(self._expr, 17, exponent=False)
            self._fn = sp.lambdify(self._symbols, expr, modules="torch")
        return self._fn

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x)
        if x.dim() != 2 or x.shape[1] != self.n_var:
            raise ValueError(f"{self.name}: expected input of shape (N, {self.n_var}), got {tuple(x.shape)}")
        out_dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        xd = x.detach().to(torch.float64) if x.device.type != "mps" else x.detach().cpu().to(torch.float64)
        y = torch.as_tensor(self._get()(*xd.unbind(dim=1)), dtype=torch.float64, device=xd.device)
        y = torch.broadcast_to(y, (xd.shape[0],)).reshape(-1, 1)
        return y.to(device=x.device, dtype=out_dtype)

    def __reduce__(self):
        return (_lookup_f, (self.name,))

    def __repr__(self):
        return f"<Feynman equation {self.name}>"


def _lookup_f(name: str):
    return FEYNMAN[name].f


def _iii_9_52(a, b, c):
    # a*sin(u)^2/u^2 with u = (b-c)/2, via torch.sinc(t) = sin(pi t)/(pi t), finite at b = c
    return a * torch.sinc((b - c) / _TWO_PI) ** 2


P, TP = _PI, _TWO_PI
# ID, variables, dimensionless formula (sympy syntax), ranges, human shape, pruned shape,
# (human, pruned, unpruned, MLP) RMSE, keys marked (?) in the paper numbers, note on the ranges
_TABLE2 = [
    ("I.6.2", "theta sigma", "exp(-theta**2/(2*sigma**2))/sqrt(2*pi*sigma**2)",
     [(-1, 1), (0.5, 2)], [2, 2, 1, 1], [2, 2, 1], (7.66e-5, 2.86e-5, 4.60e-5, 1.45e-4), (),
     "Already dimensionless: the dimensional I.6.20 ranges (sigma >= 0.5 keeps the Gaussian O(1))."),
    ("I.6.2b", "theta theta1 sigma", "exp(-(theta-theta1)**2/(2*sigma**2))/sqrt(2*pi*sigma**2)",
     [(-1.5, 1.5), (-1.5, 1.5), (0.5, 2)], [3, 2, 2, 1, 1], [3, 4, 1], (1.22e-3, 4.45e-4, 1.25e-3, 7.40e-4), (),
     "The dimensional I.6.20b ranges."),
    ("I.9.18", "a b c d e f", "a/((b-1)**2+(c-d)**2+(e-f)**2)",
     [(-1, 1), (-1, 0), (-1, -0.5), (0.5, 1), (-1, -0.5), (0.5, 1)], [6, 4, 2, 1, 1], [6, 4, 1, 1],
     (1.48e-3, 8.62e-3, 6.56e-3, 1.59e-3), (),
     "a free in [-1,1]; the pairs (c,d), (e,f) separated like the dimensional (y1,y2), (z1,z2) "
     "([-1,-0.5] vs [0.5,1]) and b in [-1,0], so each squared gap is in [1,4] and the "
     "denominator in [3,12]: |f| <= 1/3."),
    ("I.12.11", "a theta", "1+a*sin(theta)", [(-1, 1), (0, TP)], [2, 2, 2, 1], [2, 2, 1],
     (2.07e-3, 1.39e-3, 9.13e-4, 6.71e-4), (), "a free in [-1,1], angle theta in [0,2pi]."),
    ("I.13.12", "a b", "a*(1/b-1)", [(-1, 1), (0.5, 2)], [2, 2, 1], [2, 2, 1],
     (7.22e-3, 4.81e-3, 2.72e-3, 1.42e-3), (),
     "a free in [-1,1]; b (a ratio of radii, dimensional r in [0.5,2]) in [0.5,2], away from 0."),
    ("I.15.3x", "a b", "(1-a)/sqrt(1-b**2)", [(-1, 1), (-0.9, 0.9)], [2, 2, 1, 1], [2, 1, 1],
     (7.35e-3, 1.58e-3, 1.14e-3, 8.54e-4), (),
     "a free in [-1,1]; b = u/c in [-0.9,0.9] so 1-b**2 >= 0.19 (f <= 4.6)."),
    ("I.16.6", "a b", "(a+b)/(1+a*b)", [(-0.8, 0.8), (-0.8, 0.8)], [2, 2, 2, 2, 2, 1], [2, 2, 1],
     (1.06e-3, 1.19e-3, 1.53e-3, 6.20e-4), (),
     "a = u/c, b = v/c with the dimensional |u|, |v| <= 0.8, c >= 1: 1+ab >= 0.36."),
    ("I.18.4", "a b", "(1+a*b)/(1+a)", [(0.5, 2), (-1, 1)], [2, 2, 2, 1, 1], [2, 2, 1],
     (3.92e-4, 1.50e-4, 1.32e-3, 3.68e-4), (),
     "a = m2/m1 with the dimensional masses in [0.5,1]: a in [0.5,2], 1+a >= 1.5; b = r2/r1 free in [-1,1]."),
    ("I.26.2", "n theta2", "asin(n*sin(theta2))", [(0, 0.9), (0, TP)], [2, 2, 2, 1, 1], [2, 2, 1],
     (1.22e-4, 7.90e-4, 8.63e-4, 1.24e-4), ("human_rmse", "mlp_rmse"),
     "n in [0,0.9] (dimensional [0,0.99]) so |n sin(theta2)| <= 0.9 < 1 and arcsin's slope <= 2.3; "
     "theta2 in [0,2pi]."),
    ("I.27.6", "a b", "1/(1+a*b)", [(0.5, 2), (0.5, 2)], [2, 2, 1, 1], [2, 1, 1],
     (2.22e-4, 1.94e-4, 2.14e-4, 2.46e-4), (),
     "a = n, b = d1/d2 (dimensional n, d in [0.5,2]): both positive in [0.5,2], 1+ab in [1.25,5]."),
    ("I.29.16", "a theta1 theta2", "sqrt(1+a**2-2*a*cos(theta1-theta2))",
     [(-0.8, 0.8), (0, TP), (0, TP)], [3, 2, 2, 3, 2, 1, 1], [3, 2, 2, 1],
     (2.36e-1, 3.99e-3, 3.20e-3, 4.64e-3), (),
     "a = x2/x1 in [-0.8,0.8] keeps the radicand >= 0.04 (no sqrt cone at a = 1, theta1 = theta2); "
     "angles in [0,2pi]."),
    ("I.30.3", "n theta", "sin(n*theta/2)**2/sin(theta/2)**2", [(0, 4), (0.4 * P, 1.6 * P)],
     [2, 3, 2, 2, 1, 1], [2, 4, 3, 1], (3.85e-1, 1.03e-3, 1.11e-2, 1.50e-2), (),
     "The dimensional ranges: n in [0,4], theta in [0.4pi,1.6pi] so sin(theta/2) >= 0.59 (never 0)."),
    ("I.30.5", "a n", "asin(a/n)", [(-1, 1), (1.2, 2)], [2, 1, 1], [2, 1, 1],
     (2.23e-4, 3.49e-5, 6.92e-5, 9.45e-5), (),
     "a = lambda/d free in [-1,1]; n in [1.2,2] so |a/n| <= 0.83 < 1 (slope <= 1.8)."),
    ("I.37.4", "a delta", "1+a+2*sqrt(a)*cos(delta)", [(0.1, 1), (0, TP)], [2, 3, 2, 1], [2, 2, 1],
     (7.57e-5, 4.91e-6, 3.41e-4, 5.67e-4), (),
     "a = I2/I1 in [0.1,1] (dimensional intensities start at 0.1: sqrt stays away from its "
     "infinite slope at 0); delta in [0,2pi]."),
    ("I.40.1", "n0 a", "n0*exp(-a)", [(0, 1), (-1, 1)], [2, 1, 1], [2, 2, 1],
     (3.45e-3, 5.01e-4, 3.12e-4, 3.99e-4), (),
     "n0 a density in [0,1]; a = mgx/kT free in [-1,1]."),
    ("I.44.4", "n a", "n*log(a)", [(0, 1), (0.5, 2)], [2, 2, 1], [2, 2, 1],
     (2.30e-5, 2.43e-5, 1.10e-4, 3.99e-4), (),
     "n in [0,1]; a = V2/V1 under the log in [0.5,2]."),
    ("I.50.26", "a alpha", "cos(a)+alpha*cos(a)**2", [(0, TP), (0, 1)], [2, 2, 3, 1], [2, 3, 1],
     (1.52e-4, 5.82e-4, 4.90e-4, 1.53e-3), (),
     "a = omega*t an angle in [0,2pi]; alpha in [0,1] (dimensional)."),
    ("II.2.42", "a b", "(a-1)*b", [(0, 2), (-1, 1)], [2, 2, 1], [2, 2, 1],
     (8.54e-4, 7.22e-4, 1.22e-3, 1.81e-4), (),
     "a = T2/T1 in [0,2] (so a-1 in [-1,1]); b free in [-1,1]."),
    ("II.6.15a", "a b c", "c*sqrt(a**2+b**2)/(4*pi)", [(0, 1), (0, 1), (0, 4)], [3, 2, 2, 2, 1],
     [3, 2, 1, 1], (2.61e-3, 3.28e-3, 1.35e-3, 5.92e-4), (),
     "a, b (dimensional x, y) in [0,1]; c in [0,4] so the output spans ~[0,0.45] despite the 1/4pi."),
    ("II.11.7", "n0 a theta", "n0*(1+a*cos(theta))", [(0, 1), (-1, 1), (0, TP)], [3, 3, 3, 2, 2, 1],
     [3, 3, 1, 1], (7.10e-3, 8.52e-3, 5.03e-3, 5.92e-4), (),
     "Dimensional II.11.17 with a = pd*Ef/kT free in [-1,1]; n0 in [0,1]; theta in [0,2pi]."),
    ("II.11.27", "n alpha", "n*alpha/(1-n*alpha/3)", [(0, 1), (0, 2)], [2, 2, 1, 2, 1], [2, 1, 1],
     (2.67e-5, 4.40e-5, 1.43e-5, 7.18e-5), (),
     "The dimensional ranges (n in [0,1], alpha in [0,2]): n*alpha <= 2, denominator >= 1/3, f in [0,6]."),
    ("II.35.18", "n0 a", "n0/(exp(a)+exp(-a))", [(0, 1), (-2, 2)], [2, 1, 1], [2, 1, 1],
     (4.13e-4, 1.58e-4, 7.71e-5, 7.92e-5), (),
     "n0 in [0,1]; a = mu*B/kT in [-2,2] so 1/(2cosh a) spans [0.13,0.5]."),
    ("II.36.38", "a alpha b", "a+alpha*b", [(-1, 1), (0, 1), (-1, 1)], [3, 3, 1], [3, 2, 1],
     (2.85e-3, 1.15e-3, 3.03e-3, 2.15e-3), (),
     "a, b free in [-1,1]; the coupling alpha in [0,1]."),
    ("II.38.3", "a b", "a/b", [(-1, 1), (0.5, 2)], [2, 1, 1], [2, 1, 1],
     (1.47e-4, 8.78e-5, 6.43e-4, 5.26e-4), (),
     "a free in [-1,1]; the denominator b (dimensional d) in [0.5,2]."),
    ("III.9.52", "a b c", "a*sin((b-c)/2)**2/((b-c)/2)**2", [(0, 1), (-P, P), (-P, P)],
     [3, 2, 3, 1, 1], [3, 3, 2, 1], (4.43e-2, 3.90e-3, 2.11e-2, 9.07e-4), (),
     "a in [0,1]; b, c in [-pi,pi] so (b-c)/2 in [-pi,pi] (sinc**2 from 1 down to 0). b = c is a "
     "removable 0/0 (limit a); f uses torch.sinc and is finite there."),
    ("III.10.19", "a b", "sqrt(1+a**2+b**2)", [(-1, 1), (-1, 1)], [2, 1, 1], [2, 1, 1],
     (2.54e-3, 1.18e-3, 8.16e-4, 1.67e-4), (), "a, b free in [-1,1]."),
    ("III.17.37", "alpha beta theta", "beta*(1+alpha*cos(theta))", [(0, 1), (0, 1), (0, TP)],
     [3, 3, 3, 2, 2, 1], [3, 3, 1], (1.10e-3, 5.03e-4, 4.12e-4, 6.80e-4), (),
     "The dimensional ranges: alpha, beta in [0,1], theta in [0,2pi]."),
]


def _make() -> dict:
    out = {}
    for (fid, names, text, box, human, pruned, rmse, unsure, notes) in _TABLE2:
        var_names = tuple(names.split())
        syms = tuple(sp.Symbol(v) for v in var_names)
        local = {v: s for v, s in zip(var_names, syms)}
        expr = sp.parse_expr(text, local_dict=local)
        if expr.free_symbols - set(syms):
            raise RuntimeError(f"{fid}: stray symbols {expr.free_symbols - set(syms)}")
        fn = _FeynmanFn(fid, expr, syms, _iii_9_52 if fid == "III.9.52" else None)
        h, p, u, m = rmse
        out[fid] = FeynmanEquation(
            name=fid, n_var=len(var_names), var_names=var_names,
            ranges=tuple((float(lo), float(hi)) for lo, hi in box), f=fn, sympy=expr, formula=text,
            paper_shape=list(human),
            paper={"human_shape": list(human), "pruned_shape": list(pruned), "human_rmse": h,
                   "pruned_rmse": p, "unpruned_rmse": u, "mlp_rmse": m,
                   "uncertain": bool(unsure), "uncertain_keys": tuple(unsure)},
            notes=notes, pruned_shape=list(pruned),
        )
    return out


#: ID -> :class:`FeynmanEquation`, in the order of the paper's Table 2 (dicts keep order).
FEYNMAN: dict = _make()


def feynman_equation(id: str) -> FeynmanEquation:  # noqa: A002 - the paper's word
    """The dimensionless Feynman equation with this ID (e.g. "I.6.2"); ValueError otherwise."""
    key = id.strip() if isinstance(id, str) else id
    try:
        return FEYNMAN[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown Feynman equation {id!r}; valid IDs: {', '.join(FEYNMAN)}") from None
