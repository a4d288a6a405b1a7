"""The built-in primitives' forms: torch, singularity-safe torch, sympy and numpy.

Module-level functions (hence picklable), referenced by name from :mod:`.library`.
"""
from __future__ import annotations

import math

import numpy as np
import sympy
import torch

#: floor used by the safe forms at poles / log / sqrt / tan (|x| >= SAFE_EPS, ...)
SAFE_EPS = 1e-4
#: margin kept from the domain ends +-1 of arcsin and arctanh in their safe forms
DOMAIN_EPS = 1e-6
#: largest argument of the safe exp (exp(80) ~ 5.5e34 is finite in float32)
EXP_MAX = 80.0


# --------------------------------------------------------------------------------------
# built-in forms (module-level functions, hence picklable)
# --------------------------------------------------------------------------------------


def _t_x(x):
    return x


def _s_x(s):
    return s


def _n_x(x):
    return np.asarray(x, dtype=float)


def _t_x2(x):
    return x**2


def _s_x2(s):
    return s**2


def _n_x2(x):
    return np.asarray(x, dtype=float) ** 2


def _t_x3(x):
    return x**3


def _s_x3(s):
    return s**3


def _n_x3(x):
    return np.asarray(x, dtype=float) ** 3


def _t_x4(x):
    return x**4


def _s_x4(s):
    return s**4


def _n_x4(x):
    return np.asarray(x, dtype=float) ** 4


def _t_x5(x):
    return x**5


def _s_x5(s):
    return s**5


def _n_x5(x):
    return np.asarray(x, dtype=float) ** 5


def _t_inv(x):
    return 1.0 / x


def _safe_inv(x):
    return 1.0 / torch.copysign(torch.clamp(x.abs(), min=SAFE_EPS), x)


def _s_inv(s):
    return 1 / s


def _n_inv(x):
    with np.errstate(all="ignore"):
        return 1.0 / np.asarray(x, dtype=float)


def _t_inv2(x):
    return 1.0 / x**2


def _safe_inv2(x):
    return 1.0 / torch.clamp(x * x, min=SAFE_EPS * SAFE_EPS)


def _s_inv2(s):
    return 1 / s**2


def _n_inv2(x):
    with np.errstate(all="ignore"):
        return 1.0 / np.asarray(x, dtype=float) ** 2


def _t_sqrt(x):
    return torch.sqrt(x)


def _safe_sqrt(x):
    # value: sqrt(max(x, 0)); gradient: that of sqrt(max(x, SAFE_EPS)) (finite at 0)
    s = torch.sqrt(torch.clamp(x, min=SAFE_EPS))
    return s + (torch.sqrt(torch.clamp(x, min=0.0)) - s).detach()


def _s_sqrt(s):
    return sympy.sqrt(s)


def _n_sqrt(x):
    with np.errstate(all="ignore"):
        return np.sqrt(np.asarray(x, dtype=float))


def _t_rsqrt(x):
    return torch.rsqrt(x)


def _safe_rsqrt(x):
    return torch.rsqrt(torch.clamp(x, min=SAFE_EPS))


def _s_rsqrt(s):
    return 1 / sympy.sqrt(s)


def _n_rsqrt(x):
    with np.errstate(all="ignore"):
        return 1.0 / np.sqrt(np.asarray(x, dtype=float))


def _t_exp(x):
    return torch.exp(x)


def _safe_exp(x):
    return torch.exp(torch.clamp(x, max=EXP_MAX))


def _s_exp(s):
    return sympy.exp(s)


def _n_exp(x):
    with np.errstate(all="ignore"):
        return np.exp(np.asarray(x, dtype=float))


def _t_log(x):
    return torch.log(x)


def _safe_log(x):
    return torch.log(torch.clamp(x, min=SAFE_EPS))


def _s_log(s):
    return sympy.log(s)


def _n_log(x):
    with np.errstate(all="ignore"):
        return np.log(np.asarray(x, dtype=float))


def _t_sin(x):
    return torch.sin(x)


def _s_sin(s):
    return sympy.sin(s)


def _n_sin(x):
    return np.sin(np.asarray(x, dtype=float))


def _t_cos(x):
    return torch.cos(x)


def _s_cos(s):
    return sympy.cos(s)


def _n_cos(x):
    return np.cos(np.asarray(x, dtype=float))


def _t_tan(x):
    return torch.tan(x)


def _safe_tan(x):
    # tan is pi-periodic: reduce to [-pi/2, pi/2] (round() has zero gradient, so the
    # reduced argument has gradient 1) and keep a margin from the poles.
    r = x - math.pi * torch.round(x / math.pi)
    lim = math.pi / 2 - SAFE_EPS
    return torch.tan(torch.clamp(r, -lim, lim))


def _s_tan(s):
    return sympy.tan(s)


def _n_tan(x):
    return np.tan(np.asarray(x, dtype=float))


def _t_tanh(x):
    return torch.tanh(x)


def _s_tanh(s):
    return sympy.tanh(s)


def _n_tanh(x):
    return np.tanh(np.asarray(x, dtype=float))


def _t_cosh(x):
    return torch.cosh(x)


def _safe_cosh(x):
    return torch.cosh(torch.clamp(x, -EXP_MAX, EXP_MAX))


def _s_cosh(s):
    return sympy.cosh(s)


def _n_cosh(x):
    with np.errstate(over="ignore"):
        return np.cosh(np.asarray(x, dtype=float))


def _t_sinh(x):
    return torch.sinh(x)


def _safe_sinh(x):
    return torch.sinh(torch.clamp(x, -EXP_MAX, EXP_MAX))


def _s_sinh(s):
    return sympy.sinh(s)


def _n_sinh(x):
    with np.errstate(over="ignore"):
        return np.sinh(np.asarray(x, dtype=float))


def _t_arctan(x):
    return torch.atan(x)


def _s_arctan(s):
    return sympy.atan(s)


def _n_arctan(x):
    return np.arctan(np.asarray(x, dtype=float))


def _t_arcsin(x):
    return torch.asin(x)


def _safe_arcsin(x):
    return torch.asin(torch.clamp(x, -1.0 + DOMAIN_EPS, 1.0 - DOMAIN_EPS))


def _s_arcsin(s):
    return sympy.asin(s)


def _n_arcsin(x):
    with np.errstate(all="ignore"):
        return np.arcsin(np.asarray(x, dtype=float))


def _t_arctanh(x):
    return torch.atanh(x)


def _safe_arctanh(x):
    return torch.atanh(torch.clamp(x, -1.0 + DOMAIN_EPS, 1.0 - DOMAIN_EPS))


def _s_arctanh(s):
    return sympy.atanh(s)


def _n_arctanh(x):
    with np.errstate(all="ignore"):
        return np.arctanh(np.asarray(x, dtype=float))


def _t_abs(x):
    return torch.abs(x)


def _s_abs(s):
    return sympy.Abs(s)


def _n_abs(x):
    return np.abs(np.asarray(x, dtype=float))


def _t_sgn(x):
    return torch.sign(x)


def _s_sgn(s):
    return sympy.sign(s)


def _n_sgn(x):
    return np.sign(np.asarray(x, dtype=float))


def _t_gauss(x):
    return torch.exp(-(x**2))


def _s_gauss(s):
    return sympy.exp(-(s**2))


def _n_gauss(x):
    return np.exp(-np.asarray(x, dtype=float) ** 2)


def _t_zero(x):
    return torch.zeros_like(x)


def _safe_zero(x):
    # zero, but still attached to the graph (zero gradient) so autograd w.r.t. x works
    return x * 0.0


def _s_zero(s):
    return sympy.Integer(0)


def _n_zero(x):
    return np.zeros(np.shape(x), dtype=float)


#: the built-in primitives in library order: (name, torch, sympy, numpy, complexity, safe torch form or None)
BUILTINS = [
    # name, torch, sympy, numpy, complexity, safe
    ("x", _t_x, _s_x, _n_x, 1, None),
    ("x^2", _t_x2, _s_x2, _n_x2, 2, None),
    ("x^3", _t_x3, _s_x3, _n_x3, 3, None),
    ("x^4", _t_x4, _s_x4, _n_x4, 3, None),
    ("x^5", _t_x5, _s_x5, _n_x5, 4, None),
    ("1/x", _t_inv, _s_inv, _n_inv, 2, _safe_inv),
    ("1/x^2", _t_inv2, _s_inv2, _n_inv2, 2, _safe_inv2),
    ("sqrt", _t_sqrt, _s_sqrt, _n_sqrt, 2, _safe_sqrt),
    ("1/sqrt", _t_rsqrt, _s_rsqrt, _n_rsqrt, 2, _safe_rsqrt),
    ("exp", _t_exp, _s_exp, _n_exp, 2, _safe_exp),
    ("log", _t_log, _s_log, _n_log, 2, _safe_log),
    ("sin", _t_sin, _s_sin, _n_sin, 2, None),
    ("cos", _t_cos, _s_cos, _n_cos, 2, None),
    ("tan", _t_tan, _s_tan, _n_tan, 3, _safe_tan),
    ("tanh", _t_tanh, _s_tanh, _n_tanh, 3, None),
    ("cosh", _t_cosh, _s_cosh, _n_cosh, 3, _safe_cosh),
    ("sinh", _t_sinh, _s_sinh, _n_sinh, 3, _safe_sinh),
    ("arctan", _t_arctan, _s_arctan, _n_arctan, 3, None),
    ("arcsin", _t_arcsin, _s_arcsin, _n_arcsin, 4, _safe_arcsin),
    ("arctanh", _t_arctanh, _s_arctanh, _n_arctanh, 4, _safe_arctanh),
    ("abs", _t_abs, _s_abs, _n_abs, 3, None),
    ("sgn", _t_sgn, _s_sgn, _n_sgn, 3, None),
    ("gaussian", _t_gauss, _s_gauss, _n_gauss, 3, None),
    ("0", _t_zero, _s_zero, _n_zero, 0, _safe_zero),
]
