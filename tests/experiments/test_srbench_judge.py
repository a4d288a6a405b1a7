"""SRBench's ground-truth judge on hand-made cases (kanlab.experiments.srbench_judge)."""
import math

import numpy as np
import pytest
import sympy

from kanlab.datasets import AI_FEYNMAN, srbench_data
from kanlab.experiments import srbench_judge
from kanlab.experiments.srbench_judge import judge, round_formula, symbolic_match
from kanlab.validate import KanlabError

x, y, z = SYMS = sympy.symbols("x y z", positive=True)  # the ranges below are positive
X = np.random.default_rng(0).uniform(1.0, 10.0, size=(400, 3))
TRUTH = x ** 2 * y + sympy.Rational(31, 25) * z ** 2  # a law whose constant is 1.24, not a global factor


def _judge(formula, truth=TRUTH, syms=SYMS, **kw):
    y_test = sympy.lambdify(syms, truth, "numpy")(*X.T)
    return judge(formula, truth, syms, X, y_test, **kw)


def test_the_truth_itself_counts():
    j = _judge(TRUTH)
    assert j.symbolic_solution and j.accuracy_solution and j.r2 == pytest.approx(1.0)
    assert "simplifies to 0" in j.reason


def test_off_by_an_additive_constant_counts():
    j = _judge(TRUTH + 3.7)
    assert j.r2 > 0.5 and j.symbolic_solution and "additive constant" in j.reason


def test_off_by_a_constant_factor_counts():
    j = _judge(1.25 * TRUTH)
    assert j.symbolic_solution and "factor" in j.reason
    assert symbolic_match(TRUTH, 2.5 * TRUTH)[0]


def test_a_factor_far_from_one_fails_the_r2_gate_first():
    """R² of c * truth is at most 1 - (c - 1)²: a factor 2.5 is never judged symbolically."""
    j = _judge(2.5 * TRUTH)
    assert j.r2 <= 0.5 and not j.symbolic_solution and "not judged symbolically" in j.reason


def test_a_coefficient_off_in_the_third_digit_does_not_count():
    j = _judge(x ** 2 * y + 1.23 * z ** 2)
    assert not j.symbolic_solution and j.accuracy_solution  # accurate, but not the law
    assert "neither" in j.reason


def test_a_coefficient_off_in_the_fourth_digit_counts_after_rounding():
    j = _judge(x ** 2 * y + 1.2401 * z ** 2)
    assert j.symbolic_solution
    assert j.rounded == x ** 2 * y + sympy.Float(1.24) * z ** 2


def test_a_tiny_spurious_term_is_removed():
    j = _judge(TRUTH + 5e-5 * x)
    assert j.symbolic_solution and x not in (j.rounded - x ** 2 * y).free_symbols
    assert not _judge(TRUTH + 2e-4 * x).symbolic_solution  # above 1e-4: kept, and wrong


def test_r2_at_most_half_is_not_judged():
    j = _judge(TRUTH + 1000)  # symbolically right (an additive constant), but R² < 0
    assert j.r2 < 0.5 and not j.symbolic_solution and not j.accuracy_solution
    assert "not judged symbolically" in j.reason and symbolic_match(TRUTH, TRUTH + 1000)[0]
    assert not _judge(z).symbolic_solution


def test_equivalent_forms_count():
    truth = x * sympy.exp(y - z)
    assert _judge("x*exp(y)*exp(-z)", truth).symbolic_solution
    assert _judge(x * sympy.exp(y) / sympy.exp(z) + 0.0, truth).symbolic_solution
    assert _judge("sqrt(x**2)*y + z", x * y + z).symbolic_solution  # x > 0: sqrt(x**2) = x


def test_without_the_sign_of_the_range_sqrt_x_squared_is_not_x():
    """Why the symbols should carry their ranges' signs: for a real x, sqrt(x**2) is |x|."""
    xr, yr, zr = real = sympy.symbols("x y z", real=True)
    j = _judge("sqrt(x**2)*y + z", xr * yr + zr, real)
    assert j.r2 == pytest.approx(1.0) and not j.symbolic_solution


def test_plain_symbols_are_matched_to_the_judges_symbols_by_name():
    px, py, pz = sympy.symbols("x y z")
    assert _judge(px ** 2 * py + 1.24 * pz ** 2).symbolic_solution


def test_complex_or_non_finite_formulas_are_rejected():
    j = _judge(TRUTH + sympy.I * x)
    assert j.r2 == -math.inf and not j.symbolic_solution and not j.accuracy_solution and "complex" in j.reason
    j = _judge(TRUTH + sympy.sqrt(x - 20))  # NaN on the whole test set
    assert j.r2 == -math.inf and not j.symbolic_solution and "non-finite" in j.reason


def test_string_formulas_bind_clashing_names_to_variables():
    i, e, gamma = syms = sympy.symbols("I E gamma", positive=True)
    truth = i * e / gamma
    assert _judge("E*I/gamma", truth, syms).symbolic_solution
    assert judge("E*I/gamma", "I*E/gamma", syms, X, (X[:, 0] * X[:, 1] / X[:, 2])).symbolic_solution
    j = _judge("E*I/gamma + w", truth, syms)
    assert j.r2 == -math.inf and j.rounded is None and "unknown name" in j.reason


def test_pi_as_a_three_digit_float_counts_as_srbench_counts_it():
    truth = sympy.sqrt(x ** 2 + sympy.pi ** 2 * y ** 2)
    assert _judge("sqrt(x**2 + 9.8696*y**2)", truth).symbolic_solution
    assert _judge("sqrt(x**2 + pi**2*y**2)", truth).symbolic_solution
    assert not _judge("sqrt(x**2 + 9.8696*y**2)", truth, pi_as_float=False).symbolic_solution
    assert not _judge("sqrt(x**2 + 9.95*y**2)", truth).symbolic_solution  # 3.154**2: wrong in the 3rd digit


def test_an_exact_rational_of_the_truth_is_not_matched_by_its_decimal():
    truth = x / (1 + x * y / 3)
    assert _judge("x/(1 + x*y/3)", truth).symbolic_solution
    assert not _judge("x/(1 + 0.333*x*y)", truth).symbolic_solution


def test_a_simplification_that_times_out_is_no_solution(monkeypatch):
    monkeypatch.setattr(srbench_judge, "simplify_within", lambda expr, seconds, max_ops: (expr, "timed out"))
    j = _judge("x*exp(y)*exp(-z)", x * sympy.exp(y - z), seconds=0.5)
    assert not j.symbolic_solution and "timed out" in j.reason and "not a solution" in j.reason


def test_rounding_rule():
    r = round_formula(1.23456 * x + 0.000099 * y + 123456.0 * z + 2.0)
    assert r == sympy.Float(1.23) * x + sympy.Float(123000.0) * z + sympy.Float(2.0)


def test_bad_test_data_is_an_error():
    with pytest.raises(KanlabError, match="X_test"):
        judge(TRUTH, TRUTH, SYMS, X[:, :2], X[:, 0])


def test_every_law_of_the_database_is_its_own_solution():
    for law in AI_FEYNMAN.values():
        truth, syms = law.sympy_expr()
        d = srbench_data(law, n=40)
        j = judge(law.formula, truth, syms, d["X_test"], d["y_test"])
        assert j.symbolic_solution and j.accuracy_solution, (law.name, j.reason)
