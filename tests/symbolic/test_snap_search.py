"""The snap search and its rule (kanlab.symbolic.snap_search) on noisy hand-made data."""
import math

import numpy as np
import pytest
import sympy

from kanlab.symbolic.snap_search import nice_values, snap_floats, snap_limit, to_sympy_number

q, r = sympy.symbols("q r")
F = sympy.Float


def _noisy(f, noise, n=6000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform([1.0, 1.0], [5.0, 5.0], size=(n, 2))
    y = f(X[:, 0], X[:, 1])
    return X, y + noise * np.sqrt(np.mean(y ** 2)) * rng.standard_normal(n)


def _fitted(template, params, X, y):
    """The least-squares fit of template's params on (X, y): what a noisy fit hands the snapper."""
    from scipy.optimize import least_squares

    fn = sympy.lambdify([q, r, *params], template, "numpy")
    sol = least_squares(lambda p: fn(X[:, 0], X[:, 1], *p) - y, np.ones(len(params)) * 0.9, method="lm")
    return template.xreplace({p: F(float(v)) for p, v in zip(params, sol.x)})


def test_limit_is_the_information_criterion_price():
    assert snap_limit(2.0, 1000, 3, None, 0.0) == pytest.approx(2.0 * math.sqrt(1 + 3 * math.log(1000) / 1000))
    assert snap_limit(2.0, 1000, 3, 1e-3, 0.0) == pytest.approx(2.002)


def test_compensating_constants_snap_on_noisy_data():
    """q r / r**2 fitted with free exponents and shifts on 1% noise: the fitted constants
    (0.99x, a shift of ~1e-2) only snap together; the result is the law."""
    a0, a1, a2, a3 = sympy.symbols("a0:4")
    X, y = _noisy(lambda x, z: x / z ** 2, 0.01)
    fitted = _fitted(a0 * (q + a1) ** a2 / r ** a3, [a0, a1, a2, a3], X, y)
    assert fitted.atoms(sympy.Float) and any(abs(float(c) - 1) > 1e-3 for c in fitted.atoms(sympy.Float))
    got = snap_floats(fitted, [q, r], X, y)
    assert sympy.simplify(got - q / r ** 2) == 0, got
    plain = snap_floats(fitted, [q, r], X, y, refit=False)
    assert plain.atoms(sympy.Float), plain  # without the refit the constants hold one another


def test_a_real_coefficient_stays_on_noisy_data():
    """0.93 q r**1.37 on 1% noise: 1 is 7% off, far beyond the noise; nothing snaps."""
    a0, a1 = sympy.symbols("a0:2")
    X, y = _noisy(lambda x, z: 0.93 * x * z ** 1.37, 0.01)
    fitted = _fitted(a0 * q * r ** a1, [a0, a1], X, y)
    got = snap_floats(fitted, [q, r], X, y)
    consts = sorted(float(c) for c in got.atoms(sympy.Float))
    assert consts == pytest.approx([0.93, 1.37], rel=2e-2)


def test_clean_data_rule_is_as_strict_as_the_fit():
    """On clean data 1.0005 q (the true value) does not snap to q under the default rule."""
    X, y = _noisy(lambda x, z: 1.0005 * x + z, 0.0)
    assert snap_floats(F(1.0005) * q + r, [q, r], X, y).atoms(sympy.Float)


@pytest.mark.parametrize("v, first", [(0.49, 0.0), (2.02, 2.0), (0.333, 0.0), (3.1416, 3.0)])
def test_nice_values_simplest_first(v, first):
    assert nice_values(v)[0] == first


def test_to_sympy_number_exact_forms():
    assert to_sympy_number(0.5) == sympy.Rational(1, 2)
    assert to_sympy_number(math.pi / 4) == sympy.pi / 4
    assert isinstance(to_sympy_number(0.1234), sympy.Float)


def test_exponents_do_not_snap_to_multiples_of_pi():
    """x**1.0472 on clean data: pi/3 is within 1e-5 of the exponent, but a power x**(pi/3) is no
    law's: the exponent stays a float; the same number as a factor does snap to pi/3."""
    X, y = _noisy(lambda x, z: x ** (math.pi / 3) + z, 0.0)
    got = snap_floats(q ** F(math.pi / 3) + r, [q, r], X, y)
    assert not got.has(sympy.pi) and got.atoms(sympy.Float)
    assert not any(abs(v - math.pi / 3) < 1e-3 for v in nice_values(1.0471976, exponent=True))
    X, y = _noisy(lambda x, z: math.pi / 3 * x + z, 0.0)
    assert snap_floats(F(math.pi / 3) * q + r, [q, r], X, y) == sympy.pi * q / 3 + r
