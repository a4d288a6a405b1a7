"""A formula as a function of data: its values, its error, its size, and a refit of its constants.

These are the helpers every step that judges or improves a sympy formula on data shares
(snapping, the discover pipelines, the Pareto list). A formula's values are real: where one
evaluates to a complex number with a non-zero imaginary part (sqrt of a negative number written
as ``(-2.0)**0.5``, a log of a negative constant), the value is NaN, never the real part, so such
a formula's error is infinite and it is never chosen.
"""
from __future__ import annotations

import math

import numpy as np
import sympy

__all__ = ["evaluate", "rmse", "complexity", "polish_constants", "real_values", "not_real_reason", "EVAL_ERRORS"]

#: what evaluating a formula on data may raise: a formula that raises one of these cannot be
#: evaluated there (unknown function, an object sympy cannot turn into numpy, an overflow)
EVAL_ERRORS = (ArithmeticError, TypeError, ValueError, NameError, AttributeError, KeyError, NotImplementedError,
               RecursionError)


def real_values(v, shape) -> np.ndarray:
    """``v`` as a float array broadcast to ``shape``; complex entries with a non-zero imaginary
    part become NaN (never cast to their real part)."""
    v = np.asarray(v)
    if np.iscomplexobj(v):
        v = np.where(v.imag == 0, v.real, np.nan)
    return np.broadcast_to(np.asarray(v, dtype=float), shape)


def _raw_values(expr, syms, X):
    fn = sympy.lambdify(list(syms), expr, "numpy")
    with np.errstate(all="ignore"):
        return np.asarray(fn(*[X[:, k] for k in range(X.shape[1])]))


def evaluate(expr, syms, X) -> np.ndarray:
    """Values of expr at the rows of X (columns in the order of syms), always shape (N,) and real
    (NaN where the value is complex)."""
    return real_values(_raw_values(expr, syms, X), (X.shape[0],))


def not_real_reason(expr, syms, X) -> str | None:
    """None when expr has finite real values at every row of X; else why not, in a few words
    ("complex values at 12 of 200 rows", "non-finite values at 3 of 200 rows", "cannot be
    evaluated: ...")."""
    try:
        v = np.broadcast_to(_raw_values(expr, syms, X), (X.shape[0],))
    except EVAL_ERRORS as e:
        return f"cannot be evaluated: {type(e).__name__}: {e}"[:200]
    if np.iscomplexobj(v):
        bad = int(np.sum(v.imag != 0))
        if bad:
            return f"complex values at {bad} of {len(v)} rows"
        v = v.real
    try:
        v = np.asarray(v, dtype=float)
    except EVAL_ERRORS as e:
        return f"cannot be evaluated: {type(e).__name__}: {e}"[:200]
    bad = int(np.sum(~np.isfinite(v)))
    return f"non-finite values at {bad} of {len(v)} rows" if bad else None


def rmse(expr, syms, X, y) -> float:
    """RMSE of expr on (X, y); inf when the formula cannot be evaluated or is not finite (or not
    real) somewhere on X."""
    try:
        r = float(np.sqrt(np.mean((evaluate(expr, syms, X) - y) ** 2)))
    except EVAL_ERRORS:  # a formula that cannot be evaluated is rejected by its infinite error
        return math.inf
    return r if math.isfinite(r) else math.inf


def complexity(expr) -> int:
    """sympy's operation count plus the number of distinct symbols."""
    return int(sympy.count_ops(expr, visual=False)) + len(expr.atoms(sympy.Symbol))


def polish_constants(expr, syms, X, y, max_nfev: int = 400):
    """Refit every float constant of expr to (X, y) by nonlinear least squares (Levenberg-
    Marquardt, starting from the current values); exact numbers (integers, rationals, pi) stay.
    Returns the refitted expression, or expr unchanged when the refit does not lower the RMSE."""
    from scipy.optimize import least_squares

    expr = sympy.expand(expr, power_exp=False, log=False, multinomial=False)
    floats = sorted(expr.atoms(sympy.Float), key=lambda f: float(f))
    if not floats or len(floats) >= len(y):
        return expr
    ps = sympy.symbols(f"_p0:{len(floats)}")
    template = expr.xreplace(dict(zip(floats, ps)))
    fn = sympy.lambdify(list(syms) + list(ps), template, "numpy")
    cols = [X[:, k] for k in range(X.shape[1])]

    def resid(p):
        with np.errstate(all="ignore"):
            r = real_values(fn(*cols, *p), y.shape) - y
        return np.where(np.isfinite(r), r, 1e6)

    p0 = np.array([float(f) for f in floats])
    try:
        sol = least_squares(resid, p0, method="lm", max_nfev=max_nfev * (len(p0) + 1))
    except EVAL_ERRORS:  # a refit that cannot run (includes numpy's LinAlgError) keeps the start
        return expr
    if not np.sqrt(np.mean(resid(sol.x) ** 2)) < np.sqrt(np.mean(resid(p0) ** 2)):
        return expr
    return template.xreplace({p: sympy.Float(float(v)) for p, v in zip(ps, sol.x)})
