"""The one constant-snapping recipe (kanlab.symbolic.snap) on hand-made formulas."""
import numpy as np
import pytest
import sympy

from kanlab.symbolic.snap import ROUNDING_DIGITS, rounded_variants, snap_constants, snap_formula

a, b = sympy.symbols("a b")
F = sympy.Float


def _data(f, lo=(-1.0, -1.0), hi=(1.0, 1.0), n=200):
    X = np.random.default_rng(0).uniform(lo, hi, size=(n, 2))
    return X, f(X[:, 0], X[:, 1])


@pytest.mark.parametrize("start, truth, f", [
    (F(2.0000003) * a + F(0.9999998), 2 * a + 1, lambda x, y: 2 * x + 1),                       # integers
    (F(0.33333334) * a - F(1.4999999) * b, a / 3 - sympy.Rational(3, 2) * b, lambda x, y: x / 3 - 1.5 * y),  # fractions
    (F(3.1415925) * a ** 2, sympy.pi * a ** 2, lambda x, y: np.pi * x ** 2),                     # pi
    (sympy.sin(F(1.5707964) * b) + a, sympy.sin(sympy.pi * b / 2) + a,                       # pi/2 inside
     lambda x, y: np.sin(np.pi * y / 2) + x),
    (F(1e-9) * a + b, b, lambda x, y: y),                                                        # a vanishing term
])
def test_near_simple_constants_snap_to_exact_numbers(start, truth, f):
    X, y = _data(f)
    got = snap_constants(start, [a, b], X, y)
    assert not got.atoms(sympy.Float), got
    assert sympy.simplify(got - truth) == 0


@pytest.mark.parametrize("start, f", [
    (F(2.37) * a + b, lambda x, y: 2.37 * x + y),          # 2.37 is the true value: nothing simple is near enough
    (F(0.1234) * a ** 2 + 1, lambda x, y: 0.1234 * x ** 2 + 1),
    (F(3.15) * a, lambda x, y: 3.15 * x),                  # near pi, but pi is 3e-3 off: far beyond snap_tol
])
def test_constants_that_are_not_simple_stay(start, f):
    X, y = _data(f)
    got = snap_constants(start, [a, b], X, y)
    assert sorted(float(c) for c in got.atoms(sympy.Float)) == sorted(float(c) for c in start.atoms(sympy.Float))


def test_snap_tolerance_decides():
    """1.0005 a on data of 1.0005 a: snapping to a raises the error from 0 to 5e-4 |a|: only a loose
    tol lets it snap."""
    X, y = _data(lambda x, y: 1.0005 * x + y)
    start = F(1.0005) * a + b
    assert snap_constants(start, [a, b], X, y, tol=1e-3).atoms(sympy.Float)
    exact = snap_constants(start, [a, b], X, y + 1e-3 * np.random.default_rng(1).standard_normal(len(y)), tol=0.5)
    assert exact == a + b


def test_snap_formula_refits_rough_constants_first():
    """Constants with only an oracle's accuracy (1e-3 off): snapping alone leaves the one that is
    not simple where it was; the recipe's refit moves it onto the data (and the rest snap)."""
    X, y = _data(lambda x, y: 2 * x + 0.7312 * np.sin(3 * y), hi=(1.0, 2.0))
    rough = F(2.003) * a + F(0.7335) * sympy.sin(F(2.998) * b)
    alone = snap_constants(rough, [a, b], X, y)
    assert 0.7335 in [float(c) for c in alone.atoms(sympy.Float)]
    got = snap_formula(rough, [a, b], X, y, refit=True)
    assert got.has(sympy.sin(3 * b))
    consts = sorted(float(c) for c in got.atoms(sympy.Float))
    assert consts[0] == pytest.approx(0.7312, abs=1e-9) and consts[1:] in ([], [2.0])  # sympy may keep 2.0 a


def test_snap_formula_without_refit_is_snap_constants():
    X, y = _data(lambda x, y: 2 * x + 1)
    start = F(2.0000003) * a + F(0.9999998)
    assert snap_formula(start, [a, b], X, y) == snap_constants(start, [a, b], X, y)


def test_rounded_variants_round_to_each_level():
    e = F(1.23456789) * a + F(0.000123456) * b
    out = rounded_variants(e)
    assert len(out) == len(ROUNDING_DIGITS)
    assert sorted(float(c) for c in out[0].atoms(sympy.Float)) in ([0.0001], [0.0001, 1.0])
    assert all(abs(float(c) - 1.23456789) < 1e-3 for c in out[-1].atoms(sympy.Float) if float(c) > 1)


def test_a_formula_not_finite_on_its_data_is_left_unsnapped():
    """sqrt of a negative number at some rows: the error is infinite, every trial would pass an
    infinite limit (down to the formula 0), so nothing snaps; the caller rejects the formula."""
    X, y = _data(lambda x, y: np.sqrt(x ** 2 + y ** 2))
    start = sympy.sqrt(F(1.0000001) * a ** 2 + F(0.9999999) * b ** 2 - F(0.05))  # negative near (0, 0)
    got = snap_constants(start, [a, b], X, y)
    assert sorted(float(c) for c in got.atoms(sympy.Float)) == [-0.05, 0.9999999, 1.0000001]
    # the recipe's refit first moves the constants where the formula is finite; then they snap
    assert snap_formula(start, [a, b], X, y, refit=True) == sympy.sqrt(a ** 2 + b ** 2)
