"""Formulas on data (kanlab.symbolic.expression): real values only, errors, complexity, refit."""
import math
import warnings

import numpy as np
import pytest
import sympy

from kanlab.formula import to_callable
from kanlab.symbolic.expression import complexity, evaluate, not_real_reason, polish_constants, real_values, rmse

a, b = sympy.symbols("a b")
X = np.column_stack([np.linspace(-1, 1, 11), np.linspace(0.5, 2, 11)])
COMPLEX = sympy.sqrt(sympy.Float(-2.0)) * a + b  # sympy writes it 1.414 I a + b


@pytest.fixture(autouse=True)
def _no_complex_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        yield


def test_values_are_real_or_nan_never_the_real_part_of_a_complex_value():
    assert COMPLEX.has(sympy.I)
    v = evaluate(COMPLEX, [a, b], X)
    assert v.dtype == float and v.shape == (11,)
    assert np.isnan(v[X[:, 0] != 0]).all() and np.allclose(v[X[:, 0] == 0], X[X[:, 0] == 0, 1])
    assert math.isinf(rmse(COMPLEX, [a, b], X, X[:, 1]))
    v = to_callable(COMPLEX, [a, b])(X)
    assert np.isnan(v[X[:, 0] != 0]).all()


def test_complex_values_with_zero_imaginary_part_are_real():
    v = real_values(np.array([1 + 0j, 2 + 1e-300j, -3 + 0j]), (3,))
    assert v[0] == 1 and np.isnan(v[1]) and v[2] == -3


@pytest.mark.parametrize("expr, reason", [
    (a + b, None),
    (COMPLEX, "complex values at 10 of 11 rows"),
    (sympy.log(a) + b, "non-finite values at 6 of 11 rows"),    # log of a <= 0
    (1 / a + b, "non-finite values at 1 of 11 rows"),                  # 1/0
    (sympy.Function("g")(a), "cannot be evaluated"),
])
def test_not_real_reason_names_what_is_wrong(expr, reason):
    got = not_real_reason(expr, [a, b], X)
    if reason is None:
        assert got is None
    else:
        assert got is not None and got.startswith(reason), got


def test_complexity_counts_operations_and_symbols():
    assert complexity(a) == 1
    assert complexity(a + b) == 3
    assert complexity(sympy.sin(a) * b) == 4


def test_polish_constants_ignores_complex_trial_points():
    """A formula whose refit passes through complex values (sqrt of a negative sum) never takes the
    real part of them: the refit lands on the real solution, no ComplexWarning."""
    y = np.sqrt(X[:, 1] + 1.0)
    start = sympy.sqrt(b + sympy.Float(0.9))
    got = polish_constants(start, [a, b], X, y)
    assert abs(float(next(iter(got.atoms(sympy.Float)))) - 1.0) < 1e-8
