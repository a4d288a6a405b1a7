"""Alternative pipelines for :func:`kanlab.discover`: target transforms, constant polishing and
the rule that picks one candidate formula among several.

Target transform log|y|. When y never changes sign, a product or quotient of powers becomes a
sum, which a KAN represents with one hidden node: y = b (a - 1) gives log|y| = log|b| + log|a - 1|,
y = a / b gives log|a| - log|b|. The pipeline fits g(x) ~ log|y| and returns the formula in the
user's units, visibly: y = s * exp(g(x)) with s = sign(y) = +1 or -1.

Candidate choice (documented rule). Every pipeline yields a formula with a held-out RMSE e and a
complexity (sympy operation count + number of symbols). With e_min the lowest held-out RMSE:
  * a formula is *essentially exact* when e <= EXACT_RTOL * std(y); among essentially exact
    formulas the simplest wins;
  * otherwise the candidates within NEAR_FACTOR * e_min count as near-equal, and the simplest
    of those wins (ties: lower error).
The same threshold lets ``discover`` skip the remaining pipelines once one formula is
essentially exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy

from ..symbolic.formula import to_callable

__all__ = ["Candidate", "ParetoPoint", "choose", "is_exact", "log_target", "from_log", "polish_constants",
           "evaluate", "rmse", "complexity", "EXACT_RTOL", "NEAR_FACTOR"]

#: held-out RMSE below EXACT_RTOL * std(y) counts as an essentially exact formula
EXACT_RTOL = 1e-7
#: candidates within NEAR_FACTOR of the best held-out RMSE count as equally accurate
NEAR_FACTOR = 1.5


@dataclass
class Candidate:
    """One pipeline's answer: formula (in y's units), held-out RMSE, complexity, transform name."""
    formula: sympy.Expr
    rmse: float
    complexity: int
    transform: str
    model: object = None


class ParetoPoint(tuple):
    """A Pareto entry that unpacks as (complexity, test RMSE, formula) and carries ``.transform``."""

    def __new__(cls, complexity, err, formula, transform="identity"):
        obj = super().__new__(cls, (complexity, err, formula))
        obj.transform = transform
        return obj


def evaluate(expr, syms, X):
    """Values of expr at the rows of X (columns in the order of syms), always shape (N,)."""
    with np.errstate(all="ignore"):
        v = to_callable(expr, list(syms))(*[X[:, k] for k in range(X.shape[1])])
    return np.broadcast_to(np.asarray(v, dtype=float), (X.shape[0],))


def rmse(expr, syms, X, y) -> float:
    """RMSE of expr on (X, y); inf when the formula cannot be evaluated or is not finite."""
    try:
        r = float(np.sqrt(np.mean((evaluate(expr, syms, X) - y) ** 2)))
    except Exception:  # noqa: BLE001 - a formula that cannot be evaluated is just rejected
        return math.inf
    return r if math.isfinite(r) else math.inf


def complexity(expr) -> int:
    return int(sympy.count_ops(expr, visual=False)) + len(expr.atoms(sympy.Symbol))


def is_exact(err: float, y_std: float) -> bool:
    return err <= EXACT_RTOL * y_std


def choose(cands, y_std: float) -> Candidate:
    """The candidate picked by the rule of the module docstring."""
    cands = [c for c in cands if math.isfinite(c.rmse)] or list(cands)
    exact = [c for c in cands if is_exact(c.rmse, y_std)]
    if exact:
        return min(exact, key=lambda c: (c.complexity, c.rmse))
    best = min(c.rmse for c in cands)
    near = [c for c in cands if c.rmse <= NEAR_FACTOR * best]
    return min(near, key=lambda c: (c.complexity, c.rmse))


def log_target(y: np.ndarray):
    """(sign, log|y|) when y has one strict sign (no zeros), else None."""
    if np.all(y > 0):
        return 1, np.log(y)
    if np.all(y < 0):
        return -1, np.log(-y)
    return None


def from_log(g, sign: int):
    """y = sign * exp(g), with exp(log u) and exp(a + b) = exp(a) exp(b) multiplied out."""
    e = sympy.expand(sympy.exp(g), power_exp=True, mul=False, multinomial=False, log=False)
    e = sympy.powsimp(sympy.powdenest(e), combine="base")
    return sign * e


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
            r = np.broadcast_to(np.asarray(fn(*cols, *p), dtype=float), y.shape) - y
        return np.where(np.isfinite(r), r, 1e6)

    p0 = np.array([float(f) for f in floats])
    try:
        sol = least_squares(resid, p0, method="lm", max_nfev=max_nfev * (len(p0) + 1))
    except Exception:  # noqa: BLE001 - a failed refit keeps the start
        return expr
    if not np.sqrt(np.mean(resid(sol.x) ** 2)) < np.sqrt(np.mean(resid(p0) ** 2)):
        return expr
    return template.xreplace({p: sympy.Float(float(v)) for p, v in zip(ps, sol.x)})
