"""Two-variable symmetries on an oracle (kanlab.structure.symmetry)."""
import numpy as np
import pytest
import sympy

from kanlab.structure import symmetry as sym

LO, HI = np.array([0.5, 0.2, -1.0]), np.array([2.0, 1.5, 1.0])


def _samples(seed=0, n=200):
    return np.random.default_rng(seed).uniform(LO, HI, size=(n, 3))


@pytest.mark.parametrize("kind, f", [
    ("diff", lambda X: np.exp(-(X[:, 0] - X[:, 1]) ** 2) + X[:, 2]),
    ("sum", lambda X: np.sin(X[:, 0] + X[:, 1]) * X[:, 2]),
    ("prod", lambda X: 1 / (1 + X[:, 0] * X[:, 1]) + X[:, 2] ** 2),
    ("ratio", lambda X: np.log(X[:, 0] / X[:, 1]) * (2 + X[:, 2])),
])
def test_each_symmetry_is_found_on_its_pair(kind, f):
    found = sym.find_symmetry(f, _samples(), [0, 1, 2], LO, HI, 1e-9, np.random.default_rng(1))
    assert found == (kind, 0, 1)


def test_no_symmetry_in_a_generic_function():
    f = lambda X: np.sin(X[:, 0]) * X[:, 1] + X[:, 0] * X[:, 2] ** 2  # noqa: E731
    assert sym.find_symmetry(f, _samples(), [0, 1, 2], LO, HI, 1e-6, np.random.default_rng(1)) is None


def test_products_and_ratios_need_positive_variables():
    f = lambda X: X[:, 1] * X[:, 2]  # noqa: E731 - a product, but x2 changes sign
    found = sym.find_symmetry(f, _samples(), [1, 2], LO, HI, 1e-9, np.random.default_rng(1))
    assert found is None  # not a product (x2 < 0 somewhere), nor a function of x1 + x2 or x1 - x2


@pytest.mark.parametrize("kind", sym.KINDS)
def test_recover_gives_points_of_the_box_with_that_combination(kind):
    bi, bj = (LO[0], HI[0]), (LO[1], HI[1])
    lo_u, hi_u = sym.u_range(kind, bi, bj)
    u = np.linspace(lo_u, hi_u, 101)
    xi, xj = sym.recover(kind, u, bi, bj)
    e = 1e-12
    assert np.all((xi >= bi[0] - e) & (xi <= bi[1] + e) & (xj >= bj[0] - e) & (xj <= bj[1] + e))
    a, b = sympy.symbols("a b")
    back = sympy.lambdify((a, b), sym.combine(kind, a, b), "numpy")(xi, xj)
    assert np.allclose(back, u, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_discover_reduces_a_symmetric_pair_on_the_data_and_solves_afresh():
    import kanlab
    rng = np.random.default_rng(0)
    X = rng.uniform([-1, -1, -1], [1, 1, 1], size=(600, 3))
    y = 1 / (1 + (X[:, 0] - X[:, 1]) ** 2 + X[:, 2] ** 2)  # no split of f; 1/f splits after a - b
    res = kanlab.discover(X, y, var_names=["a", "b", "c"], seed=0, grids=(5, 10), steps=30, sparse_steps=40)
    a, b, c = sympy.symbols("a b c")
    f = sympy.lambdify((a, b, c), res.formula, "numpy")
    assert np.max(np.abs(f(*X.T) - y)) < 1e-8
    assert res.transform == "separable"
