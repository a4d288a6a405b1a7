"""Snapping a fitted formula's constants to simple values: the one recipe every discover pipeline
uses (:func:`snap_formula`), and the rounding levels of the Pareto list (:func:`rounded_variants`).

The recipe, :func:`snap_formula`:
  1. (``refit=True`` only: for a formula whose constants carry only an oracle's accuracy, such as
     the separable pipeline's pieces) refit the float constants on the data
     (:func:`kanlab.symbolic.expression.polish_constants`), then snap; twice, since snapping the
     constants inside functions (1.0000001 t - 1.5707963) makes equal terms merge and the refit
     then moves the remaining constants onto simple values; then replace calls that are straight
     lines over the data by those lines (:func:`linearise_flat_calls`) and snap once more;
  2. snap (:func:`snap_constants`), described below. A KAN's formula (constants trained on the
     data already) takes this step only.

A formula fitted to data carries float constants such as 0.99999 or 3.14158. ``snap_constants``
first rewrites the formula so that each constant is free to move on its own (products expanded
into function arguments, the scale of a sum pulled out of powers and logs, floats that agree to
1e-5 merged), then snaps the floats one at a time, largest first, to simple values (0, an
integer, a fraction with denominator <= 10, a multiple of pi/4), refitting the others when a
plain snap fails, and keeps a snap while the training error stays within the rule of
:mod:`kanlab.symbolic.snap_search` (``tol=None``: the information criterion's price per
snapped constant, which adapts to the noise in y; a number: a fixed relative RMSE rise).
"""
from __future__ import annotations

import math

import numpy as np
import sympy

from .expression import EVAL_ERRORS, evaluate, polish_constants
from .expression import rmse as _rmse
from .formula import bounded_simplify, round_expr
from .snap_search import snap_floats, snap_limit, to_sympy_number

__all__ = ["snap_formula", "snap_constants", "linearise_flat_calls", "rounded_variants", "simplify_bounded",
           "ROUNDING_DIGITS"]

#: significant digits of the rounded variants of a formula offered in the Pareto list
ROUNDING_DIGITS = (1, 2, 3, 4, 6)

#: what a sympy rewrite may raise on a formula it cannot handle (then the formula stays as it was)
_REWRITE_ERRORS = EVAL_ERRORS + (sympy.polys.polyerrors.BasePolynomialError, sympy.SympifyError)


def snap_formula(expr, syms, X, y, tol=None, refit: bool = False):
    """The constant-snapping recipe of the module docstring: ``refit=False`` for a formula whose
    constants were fitted on (X, y) already (a KAN's), ``refit=True`` for one whose constants
    only approximate (the separable pipeline's, built on an oracle). ``tol``: the rule a snap must
    pass (see :mod:`kanlab.symbolic.snap_search`; None: the default, noise-adaptive rule)."""
    if not refit:
        return snap_constants(expr, syms, X, y, tol=tol)
    for _ in range(2):
        expr = snap_constants(polish_constants(expr, syms, X, y), syms, X, y, tol=tol)
    flat = linearise_flat_calls(expr, syms, X, y)  # e.g. a fitted asin(0.016 a) that is a line
    if flat is not expr:
        expr = snap_constants(flat, syms, X, y, tol=tol)
    return expr


def rounded_variants(expr, digits=ROUNDING_DIGITS):
    """expr with its floats rounded to each number of significant ``digits``, each simplified
    (bounded): the simpler, less accurate alternatives the Pareto list offers."""
    return [_simplify(round_expr(expr, d)) for d in digits]


def _pull_scale(expr):
    """Write every power and log of a sum with float coefficients with the sum normalised, its
    scale in front: (k u)^e = |k|^e (u k/|k|)^e and log(k u) = log|k| + log(u k/|k|), with k the
    sum's constant term (unless it is below 1% of the largest coefficient: then that coefficient). Constants that only matter in product,
    such as the two in 2.245 sqrt(0.198 a^2 + 0.198), then merge and can snap: sqrt(a^2 + 1)."""
    def scale(base):
        coeffs = [t.as_coeff_Mul()[0] for t in sympy.Add.make_args(base)]
        if not all(c.is_number for c in coeffs):
            return None
        big = max(coeffs, key=lambda c: abs(float(c)))
        const = [t for t in sympy.Add.make_args(base) if t.is_number]
        k = const[0] if const and abs(float(const[0])) >= 1e-2 * abs(float(big)) else big
        return abs(k) if k != 0 else None

    def pw(e):
        k = scale(e.base)
        return e if k is None else sympy.Pow(k, e.exp) * sympy.Pow(sympy.expand(e.base / k), e.exp)

    def lg(e):
        k = scale(e.args[0])
        return e if k is None else sympy.log(k) + sympy.log(sympy.expand(e.args[0] / k))

    expr = expr.replace(lambda e: isinstance(e, sympy.Pow) and isinstance(e.base, sympy.Add)
                        and e.base.has(sympy.Float), pw)
    return expr.replace(lambda e: isinstance(e, sympy.log) and isinstance(e.args[0], sympy.Add)
                        and e.args[0].has(sympy.Float), lg)


def _unify_close(expr, rtol=1e-5):
    """Replace floats that agree to rtol (relative) by their mean: terms such as
    3.01 sin(0.99999998 t - 1.5707963) - 5.01 sin(0.99999999 t - 1.5707964) then become one
    term, -2.0 sin(1.0 t - 1.5707963), whose constants can snap one at a time (the caller refits
    the merged constants before comparing errors)."""
    fl = sorted(expr.atoms(sympy.Float), key=float)
    groups, cur = [], fl[:1]
    for f in fl[1:]:
        if abs(float(f) - float(cur[-1])) <= rtol * max(abs(float(f)), abs(float(cur[-1]))):
            cur.append(f)
        else:
            groups.append(cur)
            cur = [f]
    groups.append(cur)
    rep = {f: sympy.Float(float(np.mean([float(g) for g in grp]))) for grp in groups if len(grp) > 1 for f in grp}
    return expr.xreplace(rep) if rep else expr


def snap_constants(expr, syms, X, y, tol=None):
    """Distribute constants into function arguments, pull the scale out of powers and logs of
    sums (see _pull_scale), and replace each float by a simple value while the training error
    passes the rule of :mod:`kanlab.symbolic.snap_search` (``tol``: None or a relative RMSE rise). A formula that is not finite at every row of
    (X, y) is returned without snapping."""
    expr = sympy.expand(expr, power_exp=True, log=False, multinomial=False, deep=True)
    if not math.isfinite(_rmse(expr, syms, X, y)):
        # not finite (or not real) somewhere on its own data: there is no error a snap could keep
        # (every trial would pass an infinite limit, down to the formula 0); left as it is, the
        # caller rejects it (see kanlab.discovery.candidates.make_candidate)
        return expr
    try:
        pulled = sympy.expand(_pull_scale(expr), power_exp=True, log=False, multinomial=False, deep=True)
        if _rmse(pulled, syms, X, y) <= _rmse(expr, syms, X, y) * (1 + 1e-9) + 1e-12 * float(np.std(y)):
            expr = pulled
    except _REWRITE_ERRORS:  # a rewrite sympy cannot do leaves the formula as it was
        pass
    limit = snap_limit(_rmse(expr, syms, X, y), len(y), 1, tol, float(np.std(y)))
    if expr.atoms(sympy.Float):
        unified = sympy.expand(_unify_close(expr), power_exp=True, log=False, multinomial=False, deep=True)
        if unified != expr:
            unified = polish_constants(unified, syms, X, y)
        if _rmse(unified, syms, X, y) <= limit:
            expr = unified
    expr = _simplify(snap_floats(expr, syms, X, y, tol=tol))
    exact = {f: to_sympy_number(float(f)) for f in expr.atoms(sympy.Float)}
    return _simplify(expr.xreplace({f: v for f, v in exact.items() if not isinstance(v, sympy.Float)}))


def simplify_bounded(expr, max_ops: int = 80):
    """sympy.simplify bounded in size and time (see formula.bounded_simplify)."""
    return bounded_simplify(expr, seconds=5.0, max_ops=max_ops)


_simplify = simplify_bounded


_CURVED = (sympy.sin, sympy.cos, sympy.tan, sympy.asin, sympy.atan, sympy.exp, sympy.log, sympy.tanh,
           sympy.sinh, sympy.cosh, sympy.atanh)


def linearise_flat_calls(expr, syms, X, y, flat: float = 1e-3):
    """Replace each call f(u) of a curved function whose argument spans so little of f over the
    data that f is a straight line there (deviation from its tangent at the mean of u below
    ``flat`` times the spread of f(u)) by that tangent line, refit the constants, and keep the
    result when the training RMSE does not rise. A fitted asin(0.016 a - 0.013) that only
    mimics a straight line becomes c a + d, and the formula's true terms can then be exact."""
    best, err = expr, _rmse(expr, syms, X, y)
    t = sympy.Symbol("_t")
    for call in sorted(expr.atoms(*_CURVED), key=sympy.count_ops):
        (u,) = call.args
        if not u.free_symbols:
            continue
        try:
            uv = evaluate(u, syms, X)
            m = float(np.mean(uv))
            fv = evaluate(call.func(t), [t], uv[:, None])
            d = float(sympy.diff(call.func(t), t).subs(t, m))
            f0 = float(call.func(t).subs(t, m))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if not (np.all(np.isfinite(fv)) and np.ptp(fv) > 0):
            continue
        if np.max(np.abs(fv - (f0 + d * (uv - m)))) > flat * np.ptp(fv):
            continue
        cand = polish_constants(best.xreplace({call: sympy.Float(f0) + sympy.Float(d) * (u - sympy.Float(m))}), syms, X, y)
        e = _rmse(cand, syms, X, y)
        if e <= err:
            best, err = cand, e
    return best
