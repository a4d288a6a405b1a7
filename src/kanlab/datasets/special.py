"""The 15 special functions of the KAN paper (arXiv 2404.19756, §3.2, Table 1), as plain data.

Each entry is a frozen :class:`SpecialFunction`: ``f`` maps a tensor ``(N, 2)`` to ``(N, 1)``
by calling SciPy (on CPU, in float64) and returning the result on x's device in x's dtype.
The paper writes every function as ``f(x, y)`` with the order/degree first; input ranges are
not stated in the paper, so the ranges below are our choice, picked so that every function is
finite and O(1) on the whole closed box (checked by the tests on a dense grid).

Choices (documented here and in each entry's ``notes``):

=================  ===================================  ==========================  ===================
name               fitted quantity (SciPy 1.17)         variables (x, y)            ranges
=================  ===================================  ==========================  ===================
ellipj             ellipj(u, m)[0] = sn(u|m)            u, m                        [-2, 2] x [0, 1]
ellipkinc          ellipkinc(phi, m) = F(phi|m)         phi, m                      [-1, 1] x [0, 1]
ellipeinc          ellipeinc(phi, m) = E(phi|m)         phi, m                      [-1, 1] x [0, 1]
jv                 jv(v, z)                             v (order), z                [0, 2] x [0.5, 5]
yv                 yv(v, z)                             v, z                        [0, 2] x [1, 5]
kv                 kv(v, z)                             v, z                        [0, 2] x [1, 3]
iv                 iv(v, z)                             v, z                        [0, 2] x [0.5, 2]
lpmv_m0/m1/m2      lpmv(m, v, x)                        v (degree), x               [0, 2] x [-0.8, 0.8]
sph_harm_mM_nN     Re sph_harm_y(N, M, polar, azimuth)  azimuth, polar              [0, 2pi] x [0, pi]
=================  ===================================  ==========================  ===================

Why these ranges:

* ``ellipj``: ellipj returns (sn, cn, dn, ph); the paper does not say which it fitted, we fit
  **sn**. m in [0, 1] is the real parameter range (sn = sin u at m=0, tanh u at m=1);
  u in [-2, 2] goes past the quarter period K(m) >= pi/2 so sn bends over. |sn| <= 1.
* ``ellipkinc``/``ellipeinc``: m in [0, 1]; phi in [-1, 1] keeps m*sin^2(phi) < 1 so F stays
  finite at m=1 (F(1|1) = artanh(sin 1) ~ 1.23).
* Bessel: order v in [0, 2]; the argument z > 0 (J_v, I_v of negative z are complex for
  non-integer v). Y_v and K_v diverge as z -> 0 (Y_2(0.5) ~ -5.4, K_2(0.5) ~ 7.6), so their
  argument starts at 1: Y on [1, 5] lies in [-1.65, 0.52], K on [1, 3] in [0.035, 1.62].
  J on [0.5, 5] lies in [-0.40, 0.94] (z >= 0.5 avoids the steep (z/2)^v layer at z -> 0,
  small v). I grows like e^z/sqrt(z), so its argument stops at 2: I on [0.5, 2] in [0.03, 2.28].
* Legendre ``lpmv(m, v, x)`` (Condon-Shortley phase, as SciPy): degree v in [0, 2] is
  continuous, and for non-integer v P_v^m(x) is singular at x = -1 (log for m = 0,
  (1+x)^(-m/2) for m >= 1), so the argument is kept to [-0.8, 0.8]; max |P| = 1, 1.65, 4.4.
* Spherical harmonics: the paper's ``sph_harm(m, n, x, y)`` is old SciPy's argument order, in
  which x is the azimuthal angle and y the polar angle. We keep that input order
  (variables ``azimuth`` in [0, 2pi], ``polar`` in [0, pi], the whole sphere) and call
  SciPy 1.17's ``sph_harm_y(n, m, polar, azimuth)``. Y is complex; we fit its **real part**
  N P_n^m(cos polar) cos(m azimuth). For m = 0, Y is real and independent of the azimuth
  (the paper's [2,1,1] shape for those rows reflects that).

``paper_shape`` is the paper's *best* KAN shape (the one with the best RMSE);
``min_shape`` is its smallest shape reaching RMSE < 1e-2. ``paper`` holds the Table 1 numbers.
``sympy`` is a closed form where SymPy has one (``None`` for sn, which SymPy lacks; ``formula``
then gives the SciPy call).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.special as sps
import sympy as sp
import torch

__all__ = ["SpecialFunction", "SPECIAL_FUNCTIONS", "special_function"]

_PI = float(np.pi)


@dataclass(frozen=True)
class SpecialFunction:
    """One special-function target ``f: (N, 2) -> (N, 1)`` with its box and the paper's numbers."""

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
    min_shape: list = field(default_factory=list)
    best_shape: list = field(default_factory=list)

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
    def symbols(self) -> tuple:
        """The sympy symbols of ``var_names``, in order."""
        return tuple(sp.Symbol(v) for v in self.var_names)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)


class _ScipyFn:
    """``f`` of one entry: x (N, n_var) -> float64 numpy on CPU -> np_fn(*columns) -> (N, 1) on
    x's device in x's dtype. Pickles by name (so entries can cross process boundaries)."""

    def __init__(self, name: str, n_var: int, np_fn: Callable):
        self.name, self.n_var, self._np_fn = name, n_var, np_fn
        self.__name__ = self.__qualname__ = name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x)
        if x.dim() != 2 or x.shape[1] != self.n_var:
            raise ValueError(f"{self.name}: expected input of shape (N, {self.n_var}), got {tuple(x.shape)}")
        out_dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        xn = x.detach().to(device="cpu", dtype=torch.float64).numpy()
        y = np.asarray(self._np_fn(*(xn[:, i] for i in range(self.n_var))), dtype=np.float64)
        y = np.array(np.broadcast_to(y, (xn.shape[0],)), dtype=np.float64).reshape(-1, 1)  # own, writable copy
        return torch.from_numpy(y).to(device=x.device, dtype=out_dtype)

    def __reduce__(self):
        return (_lookup_f, (self.name,))

    def __repr__(self):
        return f"<special function {self.name}>"


def _lookup_f(name: str):
    return SPECIAL_FUNCTIONS[name].f


def _sph_real(n: int, m: int) -> Callable:
    return lambda azimuth, polar: sps.sph_harm_y(n, m, polar, azimuth).real


def _sph_sympy(n: int, m: int, az: sp.Symbol, po: sp.Symbol) -> sp.Expr:
    """Re Y_n^m(polar, azimuth) in closed form (SciPy's normalisation, Condon-Shortley phase)."""
    c, s = sp.cos(po), sp.sin(po)
    forms = {
        (1, 0): sp.sqrt(3 / sp.pi) / 2 * c,
        (1, 1): -sp.sqrt(3 / (2 * sp.pi)) / 2 * s * sp.cos(az),
        (2, 0): sp.sqrt(5 / sp.pi) / 4 * (3 * c ** 2 - 1),
        (2, 1): -sp.sqrt(15 / (2 * sp.pi)) / 2 * s * c * sp.cos(az),
        (2, 2): sp.sqrt(15 / (2 * sp.pi)) / 4 * s ** 2 * sp.cos(2 * az),
    }
    return forms[(n, m)]


# Table 1 of the paper: name -> (min shape, its RMSE, best shape, best RMSE, MLP RMSE)
_TABLE1 = {
    "ellipj": ([2, 2, 1], 7.29e-3, [2, 3, 2, 1, 1], 1.33e-4, 6.48e-4),
    "ellipkinc": ([2, 2, 1, 1], 1.00e-3, [2, 2, 1, 1, 1], 1.24e-4, 5.52e-4),
    "ellipeinc": ([2, 2, 1, 1], 8.36e-5, [2, 2, 1, 1], 8.26e-5, 3.04e-4),
    "jv": ([2, 2, 1], 4.93e-3, [2, 3, 1, 1, 1], 1.64e-3, 5.52e-3),
    "yv": ([2, 3, 1], 1.89e-3, [2, 2, 2, 1], 1.49e-5, 3.45e-4),
    "kv": ([2, 1, 1], 4.89e-3, [2, 2, 1], 2.52e-5, 1.67e-4),
    "iv": ([2, 4, 3, 2, 1, 1], 9.28e-3, [2, 4, 3, 2, 1, 1], 9.28e-3, 1.07e-2),
    "lpmv_m0": ([2, 2, 1], 5.25e-5, [2, 2, 1], 5.25e-5, 1.74e-2),
    "lpmv_m1": ([2, 4, 1], 6.90e-4, [2, 4, 1], 6.90e-4, 1.50e-3),
    "lpmv_m2": ([2, 2, 1], 4.88e-3, [2, 3, 2, 1], 2.26e-4, 9.43e-4),
    "sph_harm_m0_n1": ([2, 1, 1], 2.21e-7, [2, 1, 1], 2.21e-7, 1.25e-6),
    "sph_harm_m1_n1": ([2, 2, 1], 7.86e-4, [2, 3, 2, 1], 1.22e-4, 6.70e-4),
    "sph_harm_m0_n2": ([2, 1, 1], 1.95e-7, [2, 1, 1], 1.95e-7, 2.85e-6),
    "sph_harm_m1_n2": ([2, 2, 1], 4.70e-4, [2, 2, 1, 1], 1.50e-5, 1.84e-3),
    "sph_harm_m2_n2": ([2, 2, 1], 1.12e-3, [2, 2, 3, 2, 1], 9.45e-5, 6.21e-4),
}


def _make() -> dict:
    u, m, phi, v, z, x = sp.symbols("u m phi v z x")
    az, po = sp.symbols("azimuth polar")
    ell_box = ((-1.0, 1.0), (0.0, 1.0))
    leg_box = ((0.0, 2.0), (-0.8, 0.8))
    sph_box = ((0.0, 2 * _PI), (0.0, _PI))
    specs = [
        ("ellipj", "Jacobian elliptic sn", ("u", "m"), ((-2.0, 2.0), (0.0, 1.0)),
         lambda a, b: sps.ellipj(a, b)[0], None, "scipy.special.ellipj(u, m)[0]  # sn(u|m)",
         "Fits sn, the first of ellipj's (sn, cn, dn, ph). u in [-2,2] (past the quarter period "
         "K(m) >= pi/2), parameter m in [0,1]; |sn| <= 1."),
        ("ellipkinc", "incomplete elliptic integral of the 1st kind", ("phi", "m"), ell_box,
         sps.ellipkinc, sp.elliptic_f(phi, m), "scipy.special.ellipkinc(phi, m)",
         "phi in [-1,1], m in [0,1]: m*sin(phi)**2 < 1, so F is finite (|F| <= 1.23 at m=1)."),
        ("ellipeinc", "incomplete elliptic integral of the 2nd kind", ("phi", "m"), ell_box,
         sps.ellipeinc, sp.elliptic_e(phi, m), "scipy.special.ellipeinc(phi, m)",
         "phi in [-1,1], m in [0,1] (same box as ellipkinc)."),
        ("jv", "Bessel function of the 1st kind", ("v", "z"), ((0.0, 2.0), (0.5, 5.0)),
         sps.jv, sp.besselj(v, z), "scipy.special.jv(v, z)",
         "order v in [0,2], argument z in [0.5,5] (z > 0: complex for z < 0 and non-integer v; "
         "z >= 0.5 avoids the steep (z/2)**v layer near z = 0). Values in [-0.40, 0.94]."),
        ("yv", "Bessel function of the 2nd kind", ("v", "z"), ((0.0, 2.0), (1.0, 5.0)),
         sps.yv, sp.bessely(v, z), "scipy.special.yv(v, z)",
         "order v in [0,2], argument z in [1,5]: Y diverges at z = 0 (Y_2(0.5) ~ -5.4). "
         "Values in [-1.65, 0.52]."),
        ("kv", "modified Bessel function of the 2nd kind", ("v", "z"), ((0.0, 2.0), (1.0, 3.0)),
         sps.kv, sp.besselk(v, z), "scipy.special.kv(v, z)",
         "order v in [0,2], argument z in [1,3]: K diverges at z = 0 and decays like e^-z. "
         "Values in [0.035, 1.62]."),
        ("iv", "modified Bessel function of the 1st kind", ("v", "z"), ((0.0, 2.0), (0.5, 2.0)),
         sps.iv, sp.besseli(v, z), "scipy.special.iv(v, z)",
         "order v in [0,2], argument z in [0.5,2]: I grows like e^z/sqrt(z). Values in [0.03, 2.28]."),
    ]
    for mm in (0, 1, 2):
        specs.append(
            (f"lpmv_m{mm}", f"associated Legendre function, order m={mm}", ("v", "x"), leg_box,
             (lambda k: (lambda a, b: sps.lpmv(k, a, b)))(mm), sp.assoc_legendre(v, mm, x),
             f"scipy.special.lpmv({mm}, v, x)",
             "degree v in [0,2] (continuous), argument x in [-0.8,0.8]: for non-integer v, "
             "P_v^m is singular at x = -1, so the box stays away from it. SciPy's "
             "Condon-Shortley phase."))
    for (mm, nn) in ((0, 1), (1, 1), (0, 2), (1, 2), (2, 2)):
        specs.append(
            (f"sph_harm_m{mm}_n{nn}", f"spherical harmonic m={mm}, n={nn} (real part)",
             ("azimuth", "polar"), sph_box, _sph_real(nn, mm), _sph_sympy(nn, mm, az, po),
             f"scipy.special.sph_harm_y({nn}, {mm}, polar, azimuth).real",
             "Real part of Y_n^m. Inputs in the paper's order sph_harm(m, n, x, y) of old SciPy: "
             "x = azimuth in [0, 2pi], y = polar angle in [0, pi] (the whole sphere); SciPy 1.17 "
             "call sph_harm_y(n, m, polar, azimuth)."
             + (" m = 0: real and independent of the azimuth." if mm == 0 else "")))

    out = {}
    for name, title, names, box, np_fn, expr, formula, notes in specs:
        min_shape, min_rmse, best_shape, best_rmse, mlp_rmse = _TABLE1[name]
        out[name] = SpecialFunction(
            name=name, n_var=2, var_names=names, ranges=tuple(tuple(map(float, r)) for r in box),
            f=_ScipyFn(name, 2, np_fn), sympy=expr, formula=formula,
            paper_shape=list(best_shape),
            paper={"title": title, "min_shape": list(min_shape), "min_rmse": min_rmse,
                   "best_shape": list(best_shape), "best_rmse": best_rmse, "mlp_rmse": mlp_rmse,
                   "uncertain": False},
            notes=notes, min_shape=list(min_shape), best_shape=list(best_shape),
        )
    return out


#: name -> :class:`SpecialFunction`, in the order of the paper's Table 1.
SPECIAL_FUNCTIONS: dict = _make()


def special_function(name: str) -> SpecialFunction:
    """The special function called ``name``; ValueError listing the valid names otherwise."""
    try:
        return SPECIAL_FUNCTIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown special function {name!r}; valid names: "
                         f"{', '.join(SPECIAL_FUNCTIONS)}") from None
