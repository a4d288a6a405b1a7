"""discover's alternative pipelines: log|y| target, oracle separability, candidate choice (CI-sized)."""
import numpy as np
import pytest
import sympy

import kanlab
from kanlab.discovery.candidates import Candidate, ParetoPoint, choose
from kanlab.discovery.separable import separable_formula
from kanlab.discovery.transforms import from_log, log_target
from kanlab.symbolic.expression import polish_constants

a, b, c = sympy.symbols("a b c")


def _solve_exact(f, lo, hi, syms, tol=1e-9):
    """separable_formula with the true function as oracle; the pieces must never need a KAN."""
    def no_kan(X, y, names):
        raise AssertionError("a piece needed the KAN fallback")
    return separable_formula(f, lo, hi, range(len(lo)), tol, syms, no_kan, seed=0)


def _same(expr, truth, syms, lo, hi):
    rng = np.random.default_rng(3)
    X = rng.uniform(lo, hi, size=(200, len(lo)))
    fa = sympy.lambdify(syms, expr, "numpy")(*X.T)
    fb = sympy.lambdify(syms, truth, "numpy")(*X.T)
    return np.max(np.abs(fa - fb)) < 1e-6 * (1 + np.max(np.abs(fb)))


@pytest.mark.parametrize("truth, lo, hi", [
    (a / b, [-1, 0.5], [1, 2]),                                  # product, sign-changing
    (a * (1 / b - 1), [-1, 0.5], [1, 2]),                        # product with a composite piece
    (1 + a * sympy.sin(b), [-1, 0], [1, 6]),                     # rank 2
    (a + b * c, [-1, 0, -1], [1, 1, 1]),                         # additive, then product
    (c * sympy.sqrt(a ** 2 + b ** 2), [0.1, 0.1, 0], [1, 1, 4]),  # product, then y^2 is additive
    (sympy.asin(a / b), [-1, 1.2], [1, 2]),                      # sin(y) is a product
    (a * b / (1 - a * b / 3), [0.1, 0.1], [1, 2]),               # a function of a b alone
    (sympy.sqrt(1 + a ** 2 - 2 * a * sympy.cos(b - c)), [-0.8, 0, 0], [0.8, 6.28, 6.28]),  # of b - c; y^2 rank 2
])
def test_separable_formula_rebuilds_the_function_from_pieces(truth, lo, hi):
    syms = sorted(truth.free_symbols, key=str)
    f = sympy.lambdify(syms, truth, "numpy")
    expr = _solve_exact(lambda X: f(*X.T), np.array(lo, float), np.array(hi, float), syms)
    assert expr is not None
    assert _same(expr, truth, syms, lo, hi)


def test_separable_formula_declines_a_non_separable_function():
    f = lambda X: np.tanh(np.arctanh(X[:, 0]) + np.arctanh(X[:, 1]))  # noqa: E731
    assert _solve_exact(f, np.array([-0.8, -0.8]), np.array([0.8, 0.8]), [a, b], tol=1e-6) is None


def test_log_target_and_back():
    assert log_target(np.array([1.0, -2.0])) is None
    assert log_target(np.array([0.0, 2.0])) is None
    s, v = log_target(np.array([-1.0, -np.e]))
    assert s == -1 and np.allclose(v, [0, 1])
    assert sympy.simplify(from_log(sympy.log(a) - sympy.log(b), 1) - a / b) == 0
    assert from_log(sympy.log(a) + 2, -1) == -sympy.exp(2) * a


def test_polish_constants_refits_floats_only():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 2, size=(100, 2))
    y = 3 * np.sin(2 * X[:, 0]) + X[:, 1] / 7
    start = sympy.Float(2.9) * sympy.sin(sympy.Float(2.05) * a) + b / 7
    got = polish_constants(start, [a, b], X, y)
    assert got.coeff(b) == sympy.Rational(1, 7)  # the exact rational untouched
    vals = sorted(float(f) for f in got.atoms(sympy.Float))
    assert np.allclose(vals, [2, 3], atol=1e-8)


def test_choice_rule_prefers_exact_then_simple_among_near_equal():
    def cand(formula, err, cx, pipeline):
        return Candidate(formula, pipeline, "identity", err, err, err, cx)

    big = cand(a + b + sympy.sin(a), 1e-3, 9, "identity")
    small = cand(a, 1.2e-3, 1, "log")
    worse = cand(b, 1.0, 1, "separable")
    assert choose([big, small, worse], 1.0).pipeline == "log"
    exact = cand(a * b + sympy.cos(b), 1e-16, 12, "separable")
    assert choose([big, small, exact], 1.0) is exact
    p = ParetoPoint(3, 0.5, a, "log")
    cx, err, formula = p
    assert (cx, err, formula, p.transform, p.pipeline) == (3, 0.5, a, "log", "log")


@pytest.mark.slow
@pytest.mark.slow
def test_discover_log_pipeline_recovers_a_quotient():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 2, size=(300, 2))
    y = X[:, 0] / X[:, 1]
    res = kanlab.discover(X, y, var_names=["a", "b"], seed=0, grids=(5, 10), sparse_steps=30, steps=20,
                          transforms=("log",))
    assert res.transform == "log"
    assert sympy.simplify(res.formula - a / b) == 0
    assert all(hasattr(p, "transform") for p in res.pareto)


@pytest.mark.slow
def test_discover_separable_pipeline_recovers_a_rank_two_law():
    rng = np.random.default_rng(0)
    X = rng.uniform([-1, 0], [1, 6], size=(400, 2))
    y = 1 + X[:, 0] * np.sin(X[:, 1])
    res = kanlab.discover(X, y, var_names=["a", "b"], seed=0, grids=(5, 10, 20), steps=30,
                          transforms=("separable",))
    assert res.transform == "separable"
    assert sympy.simplify(res.formula - (1 + a * sympy.sin(b))) == 0
    assert res.test_rmse < 1e-9


@pytest.mark.slow
def test_discover_skips_the_separable_tests_on_noisy_data():
    """With noise at 50% of the signal the oracle's error is far above 10% of std(y): its split
    tests would pass anything (here: drop b), so the pipeline stands aside for the identity one."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 2))
    y = X[:, 0] + 0.5 * X[:, 1] ** 2
    y = y + 0.5 * np.std(y) * rng.standard_normal(len(y))
    res = kanlab.discover(X, y, var_names=["a", "b"], seed=0, grids=(5,), sparse_steps=10, steps=10,
                          transforms=("separable",))
    skipped = [e for e in res.log if e.stage == "separable" and e.status == "skipped"]
    assert len(skipped) == 1 and "too noisy" in skipped[0].message
    assert res.transform == "identity"


def test_discover_rejects_unknown_transform():
    with pytest.raises(ValueError, match="transforms"):
        kanlab.discover(np.random.default_rng(0).uniform(size=(30, 2)), np.arange(30.0), transforms=("sqrt",))


def test_linearise_flat_calls_turns_a_line_mimicking_call_into_the_line():
    from kanlab.symbolic.snap import linearise_flat_calls
    rng = np.random.default_rng(0)
    X = rng.uniform([0.1, 0.0], [1.0, 6.0], size=(300, 2))
    y = X[:, 0] + 1 + np.sin(X[:, 1])
    u = 0.0158 * a - 0.013  # asin is a straight line to ~1e-5 here: a fitted stand-in for a + 1
    approx = (a + 1).subs(a, 0) + sympy.Float(1 / 0.0158) * sympy.asin(u) + sympy.Float(0.013 / 0.0158) + sympy.sin(b)
    out = linearise_flat_calls(approx, [a, b], X, y)
    assert not out.has(sympy.asin) and out.has(sympy.sin)  # sin(b) is far from straight: kept
    f = sympy.lambdify((a, b), out, "numpy")
    assert np.max(np.abs(f(*X.T) - y)) < 1e-9
