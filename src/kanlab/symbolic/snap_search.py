"""The search that snaps a formula's float constants one at a time (step 2 of
:func:`kanlab.symbolic.snap.snap_formula`), with the rule that says when a snap is kept.

The formula's floats become a parameter vector of one compiled function, so a trial costs one
numpy evaluation, not a sympy rewrite. Each step tries every float not snapped yet at each
simple value near it (0, an integer, a fraction with denominator <= 10, a multiple of pi/4),
cheapest first (the lowest error with that one replacement), and keeps the first that passes
the rule; when a plain replacement does not pass, the other free constants are refitted
(Levenberg-Marquardt on up to REFIT_ROWS rows; only when the plain trial is within
RESCUE_FACTOR of the limit) and the refitted trial is judged again: on
noisy data a fitted formula's constants compensate one another (x**0.9975 beside (q + 0.0073)),
so a constant can only snap if its neighbours may move with it. Cheapest first matters with
the refit: the snaps that cost nothing (an exponent 0.5003) go first, so a later refit cannot
make a wrong value (0.4 for 0.3989) pass by bending the constants that should have snapped.
The steps go on while one snaps (a snap can free another: x**1.9998 once the shift beside it
has).

The rule (``tol=None``, the default): a formula with k constants snapped is kept while its
training MSE is within (1 + k ln(n) / n) of the unsnapped one's (n rows): the Bayesian
information criterion's price of k free parameters. On noisy data the MSE is the noise's, so a
snap that the noise cannot tell from the fitted value passes and a real bias does not; on clean
data the MSE is the fit's tiny approximation error, so the rule is as strict as the fit is
accurate. A number ``tol`` instead keeps each snap while the training RMSE stays within
(1 + tol) of the start (the former fixed rule).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import sympy

from .expression import EVAL_ERRORS, real_values

__all__ = ["snap_floats", "snap_limit", "nice_values", "to_sympy_number", "REFIT_ROWS"]

#: rows the refit of the free constants uses (a spread sample of the training rows)
REFIT_ROWS = 2000
#: a plain snap whose RMSE is over this multiple of the limit is not worth a refit (on clean
#: data, where the limit is tiny, this keeps the search as cheap as plain snapping)
RESCUE_FACTOR = 30.0
#: fractions p/q (q <= 10) are offered for constants below this size only
FRACTIONS_BELOW = 10.0



def snap_limit(base_rmse: float, n: int, k: int, tol, y_std: float) -> float:
    """The largest training RMSE a formula with ``k`` snapped constants may have (see the module
    docstring); ``base_rmse``: the unsnapped formula's."""
    floor = 1e-9 * y_std
    if tol is None:
        return base_rmse * math.sqrt(1.0 + k * math.log(max(n, 2)) / max(n, 2)) + floor
    return base_rmse * (1.0 + tol) + floor


def nice_values(v: float, exponent: bool = False):
    """Simple numbers near v, simplest first: 0 (|v| < 0.5), the nearest integer, the nearest
    fraction with denominator <= 10 (|v| < FRACTIONS_BELOW: above, such a fraction is near every
    number and says nothing), the nearest multiple of pi/4 (|v| > 0.3; not for an ``exponent``:
    a power x**(pi/3) is no law's)."""
    from fractions import Fraction

    out = [0.0] if abs(v) < 0.5 else []
    out.append(float(round(v)))
    if abs(v) < FRACTIONS_BELOW:
        out.append(float(Fraction(v).limit_denominator(10)))
    if abs(v) > 0.3 and not exponent:
        k = Fraction(v / math.pi).limit_denominator(4)
        if k != 0:
            out.append(float(k) * math.pi)
    return list(dict.fromkeys(out))


def to_sympy_number(v: float):
    """v as an exact sympy number when it is 0, a fraction with denominator <= 10 or a multiple
    of pi/4 (to 1e-12); else a Float."""
    from fractions import Fraction

    if v == 0:
        return sympy.Integer(0)
    k = Fraction(v / math.pi).limit_denominator(4)
    if k != 0 and abs(float(k) * math.pi - v) < 1e-12:
        return sympy.Rational(k.numerator, k.denominator) * sympy.pi
    fr = Fraction(v).limit_denominator(10)
    if abs(float(fr) - v) < 1e-12:
        return sympy.Rational(fr.numerator, fr.denominator)
    return sympy.Float(v)


class _Parametric:
    """expr with its floats as parameters: values, a compiled function, errors and refits."""

    def __init__(self, expr, syms, X, y):
        self.floats = sorted(expr.atoms(sympy.Float), key=lambda f: -abs(float(f)))
        self.params = sympy.symbols(f"_c0:{len(self.floats)}")
        self.template = expr.xreplace(dict(zip(self.floats, self.params)))
        in_exponent = set().union(*[p.exp.free_symbols for p in self.template.atoms(sympy.Pow)])
        self.exponent = [p in in_exponent for p in self.params]
        self.fn = sympy.lambdify(list(syms) + list(self.params), self.template, "numpy")
        self.cols = [X[:, k] for k in range(X.shape[1])]
        self.y = y
        step = max(1, len(y) // REFIT_ROWS)
        self.sample = slice(0, None, step)

    def residuals(self, values, rows=slice(None)):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                v = self.fn(*[c[rows] for c in self.cols], *values)
            except EVAL_ERRORS:
                return None
        y = self.y[rows]
        r = real_values(v, y.shape) - y
        return r if np.all(np.isfinite(r)) else None

    def rmse(self, values) -> float:
        r = self.residuals(values)
        return math.inf if r is None else float(np.sqrt(np.mean(r ** 2)))

    def refit(self, values, free):
        """values with the ``free`` entries refitted (least squares on the sample rows)."""
        from scipy.optimize import least_squares

        idx = np.flatnonzero(free)
        if idx.size == 0:
            return values

        def resid(p):
            v = values.copy()
            v[idx] = p
            r = self.residuals(v, self.sample)
            return np.full(len(self.y[self.sample]), 1e6) if r is None else r

        try:
            sol = least_squares(resid, values[idx], method="lm", max_nfev=50 * (idx.size + 1))
        except EVAL_ERRORS + (ValueError,):
            return values
        out = values.copy()
        out[idx] = sol.x
        return out

    def expression(self, values, snapped):
        return self.template.xreplace({p: (to_sympy_number(float(v)) if s else sympy.Float(float(v)))
                                       for p, v, s in zip(self.params, values, snapped)})


def snap_floats(expr, syms, X, y, tol=None, refit: bool = True):
    """expr with its floats snapped to simple values by the search and rule of the module
    docstring (``refit``: try refitting the other constants when a plain snap fails)."""
    if not expr.atoms(sympy.Float):
        return expr
    model = _Parametric(expr, syms, X, y)
    values = np.array([float(f) for f in model.floats])
    base = model.rmse(values)
    if not math.isfinite(base):
        return expr
    snapped = np.zeros(len(values), dtype=bool)
    failed = set()  # (constant, value) pairs whose refit did not pass: not tried again
    y_std = float(np.std(y))
    while not snapped.all():
        limit = snap_limit(base, len(y), int(snapped.sum()) + 1, tol, y_std)
        kept = _cheapest_snap(model, values, snapped, limit, refit, failed)
        if kept is None:
            break
        values, i = kept
        snapped[i] = True
    return model.expression(values, snapped)


def _cheapest_snap(model, values, snapped, limit, refit, failed):
    """(values with one more constant snapped, its index), or None: the trials in order of their
    plain error; the first that passes the limit plainly or after a refit of the free others."""
    trials = []
    for i in np.flatnonzero(~snapped):
        for v in nice_values(float(values[i]), exponent=model.exponent[i]):
            trial = values.copy()
            trial[i] = v
            trials.append((model.rmse(trial), int(i), v, trial))
    for err, i, v, trial in sorted(trials, key=lambda t: t[:3]):
        if err <= limit:
            return trial, i
        free = ~snapped
        free[i] = False
        if not refit or not free.any() or err > RESCUE_FACTOR * limit or (i, v) in failed:
            continue
        trial = model.refit(trial, free)
        if model.rmse(trial) <= limit:
            return trial, i
        failed.add((i, v))
    return None
