"""SRBench's ground-truth judge (La Cava et al. 2021): is a returned formula the true law?

One returned formula is judged against the truth on the test set:

1. its test R² (the formula as returned, evaluated with numpy); a formula that cannot be
   evaluated, or is complex or non-finite at some test row, gets R² = -inf and is not a solution;
2. every float of the formula is rounded to 3 significant digits, and a float with |c| < 1e-4
   is set to 0 first (a tiny spurious term disappears);
3. a formula with test R² <= 0.5 is not judged symbolically (SRBench's gate);
4. a *symbolic solution*: sympy simplifies truth - formula to 0 or to a constant (off by an
   additive constant), or formula / truth to a non-zero constant (off by a factor);
5. an *accuracy solution*: test R² > 0.999 (independent of 2-4).

``pi``: the comparison is first exact (pi is pi). When that fails and pi occurs, it is repeated
the way SRBench's script treats pi (it writes pi as 3.1415926535 on both sides before rounding):
pi becomes a float on both sides and the truth's floats are rounded to 3 significant digits
too, so a returned 9.8696 matches pi**2 to 3 digits wherever it stands (sqrt(w**2/c**2 -
9.87/d**2) for sqrt(w**2/c**2 - pi**2/d**2)), as a truth's decimal 1.24 is matched by 1.2401.
Either comparison succeeding counts (``pi_as_float=False`` keeps only the exact one). Exact
rationals of the truth (1/3 in n*alpha/(1 - n*alpha/3)) stay exact, as in SRBench: a returned
0.333 there is not a solution.

Differences from SRBench's script, in the direction of judging the mathematics rather than
sympy's bookkeeping: the rounded decimals become exact rationals (1.24 -> 31/25, 0.5 -> 1/2)
before the comparison, so 1.24 and 31/25 cancel exactly and x**0.5 is sqrt(x); both the
difference and the ratio are simplified (SRBench simplifies only the difference).
Simplification is bounded (``kanlab.symbolic.formula.simplify_within``: a time limit per call
and a size limit); one that timed out or was skipped is reported in ``reason`` and counts as no
solution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy

from ..datasets.ai_feynman import parse_formula
from ..symbolic.expression import evaluate, not_real_reason
from ..symbolic.formula import simplify_within
from ..validate import KanlabError

__all__ = ["Judgement", "judge", "symbolic_match", "round_formula", "exact_decimals", "formula_r2",
           "R2_GATE", "ACCURACY_R2", "DIGITS", "ZERO_BELOW"]

R2_GATE = 0.5  # formulas at or below this test R² are not judged symbolically
ACCURACY_R2 = 0.999  # an accuracy solution is above this test R²
DIGITS = 3  # significant digits every float of the formula is rounded to
ZERO_BELOW = 1e-4  # floats with a smaller magnitude are set to 0


@dataclass(frozen=True)
class Judgement:
    """The verdict on one formula: test R², the two solution flags, the formula after rounding
    (None when it could not be read) and a sentence saying why."""

    r2: float
    symbolic_solution: bool
    accuracy_solution: bool
    rounded: sympy.Expr | None
    reason: str


def round_formula(expr, digits: int = DIGITS, zero_below: float = ZERO_BELOW) -> sympy.Expr:
    """Every float of expr to ``digits`` significant digits; floats with |c| < zero_below to 0
    (tested on the value before rounding, as SRBench does)."""
    expr = sympy.sympify(expr)
    repl = {}
    for f in expr.atoms(sympy.Float):
        v = float(f)
        repl[f] = sympy.Integer(0) if abs(v) < zero_below else sympy.Float(float(f"{v:.{digits}g}"))
    return expr.xreplace(repl)


def exact_decimals(expr) -> sympy.Expr:
    """Every float of expr as the exact rational of its shortest decimal form (1.24 -> 31/25):
    the value unchanged to double precision, but comparable exactly with the truth's numbers."""
    expr = sympy.sympify(expr)
    return expr.xreplace({f: sympy.Rational(repr(float(f))) for f in expr.atoms(sympy.Float)
                          if math.isfinite(float(f))})


def formula_r2(expr, symbols, X, y) -> tuple[float, str | None]:
    """``(R², None)`` of expr on (X, y), or ``(-inf, why)`` when expr is complex, non-finite or
    cannot be evaluated at some row of X."""
    why = not_real_reason(expr, symbols, X)
    if why is not None:
        return -math.inf, why
    pred = evaluate(expr, symbols, X)
    with np.errstate(all="ignore"):
        ss_res = float(np.sum((y - pred) ** 2))
        ss_tot = float(np.sum((y - np.mean(y)) ** 2))
    if not math.isfinite(ss_res):
        return -math.inf, "the squared error overflows"
    if ss_tot == 0:  # a constant target (scikit-learn's convention)
        return (1.0 if ss_res == 0 else 0.0), None
    return 1.0 - ss_res / ss_tot, None


def _bind(expr, by_name: dict, what: str) -> sympy.Expr:
    """expr with its symbols replaced by the judge's symbols of the same name (a formula built
    with plain Symbols must meet the truth's symbols, which may carry range assumptions)."""
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in by_name)
    if unknown:
        raise KanlabError(f"{what} uses name(s) {', '.join(unknown)} that are not among the symbols "
                          f"{', '.join(by_name)}")
    return expr.xreplace({s: by_name[s.name] for s in expr.free_symbols})


def _read_formula(formula, symbols) -> sympy.Expr:
    if isinstance(formula, str):
        return parse_formula(formula, symbols)
    try:
        expr = sympy.sympify(formula)
    except (sympy.SympifyError, TypeError, ValueError) as e:
        raise KanlabError(f"formula {formula!r} is not a sympy expression: {e}") from None
    if not isinstance(expr, sympy.Expr):
        raise KanlabError(f"formula {formula!r} is not an expression (got {type(expr).__name__})")
    return _bind(expr, {s.name: s for s in symbols}, "the formula")


def _pi_float(expr) -> sympy.Expr:
    return expr.xreplace({sympy.pi: sympy.Float(math.pi)})


def _constant(e) -> bool:
    return not e.free_symbols and e.is_finite is not False and not e.has(sympy.nan)


def symbolic_match(truth, rounded, seconds: float = 10.0, max_ops: int = 300) -> tuple[bool, str]:
    """``(solved, why)``: SRBench's symbolic test of an already rounded formula (the R² gate is
    ``judge``'s): truth - formula simplifies to a constant, or formula / truth to a non-zero one.
    Floats on either side are compared as their exact decimals."""
    truth = exact_decimals(truth)
    exact = exact_decimals(rounded)
    diff, diff_status = simplify_within(truth - exact, seconds, max_ops)
    if _constant(diff):
        return True, ("truth - formula simplifies to 0" if diff == 0
                      else f"truth - formula simplifies to the constant {diff} (off by an additive constant)")
    ratio, ratio_status = simplify_within(exact / truth, seconds, max_ops)
    if _constant(ratio) and ratio != 0:
        return True, f"formula / truth simplifies to the constant {ratio} (off by a factor)"
    reason = f"neither truth - formula ({diff}) nor formula / truth ({ratio}) simplifies to a constant"
    stops = [f"{what} {status}" for what, status in (("truth - formula", diff_status), ("formula / truth", ratio_status))
             if status != "simplified"]
    if stops:
        limits = f"{seconds:g} s, {max_ops} operations"
        reason += f"; simplification of {' and '.join(stops)} ({limits}): counted as not a solution"
    return False, reason


def judge(formula, truth, symbols, X_test, y_test, *, seconds: float = 10.0, max_ops: int = 300,
          pi_as_float: bool = True) -> Judgement:
    """Judge one returned formula against ``truth`` by SRBench's rule (see the module docstring).

    ``formula`` and ``truth``: sympy expressions or strings (parsed with ``parse_formula``: every
    name must be one of ``symbols``, a known function or ``pi``; ``I``, ``E``, ``gamma`` ... are
    variables).
    ``symbols``: the variables, in the column order of ``X_test``. Pass the symbols of
    ``Law.sympy_expr()``: they are positive (nonnegative) where the sampling range is, which
    sympy needs to see that sqrt(x**2) is x there; the formula's symbols are matched to them
    by name. ``seconds`` / ``max_ops`` bound each of the (at most two) simplifications;
    ``pi_as_float``: also try pi as a 3-digit float, as SRBench does (module docstring).
    An unreadable formula (unknown name, not an expression) is judged, not raised: R² = -inf.
    """
    symbols = tuple(symbols)
    X = np.asarray(X_test, dtype=float)
    y = np.asarray(y_test, dtype=float).reshape(-1)
    if X.ndim != 2 or X.shape[1] != len(symbols) or X.shape[0] != y.shape[0] or not len(y):
        raise KanlabError(f"X_test must have shape (N, {len(symbols)}) (one column per symbol) and y_test N values; "
                          f"got {X.shape} and {y.shape}")
    truth = parse_formula(truth, symbols) if isinstance(truth, str) else _bind(
        sympy.sympify(truth), {s.name: s for s in symbols}, "the truth")
    try:
        expr = _read_formula(formula, symbols)
    except KanlabError as e:
        return Judgement(-math.inf, False, False, None, f"formula not judged: {e}")
    rounded = round_formula(expr)
    r2, why = formula_r2(expr, symbols, X, y)
    if why is not None:
        return Judgement(r2, False, False, rounded, f"not a real, finite formula on the test set: {why}")
    accurate = r2 > ACCURACY_R2
    if not r2 > R2_GATE:
        return Judgement(r2, False, accurate, rounded,
                         f"test R² = {r2:.4g} <= {R2_GATE}: not judged symbolically")
    solved, reason = symbolic_match(truth, rounded, seconds, max_ops)
    if not solved and pi_as_float and (truth.has(sympy.pi) or expr.has(sympy.pi)):
        # SRBench's pi: a float on both sides, the truth rounded like the formula
        solved, pi_reason = symbolic_match(round_formula(_pi_float(truth), zero_below=0.0),
                                           round_formula(_pi_float(expr)), seconds, max_ops)
        reason = f"with pi as a 3-digit float, {pi_reason}" if solved else f"{reason}; with pi as a float: {pi_reason}"
    return Judgement(r2, solved, accurate, rounded, f"test R² = {r2:.6g}; {reason}")
