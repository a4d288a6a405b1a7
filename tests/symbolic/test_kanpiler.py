"""Formula -> KAN (issue 22 item 2): KAN.from_formula, to_splines, the round trip."""
import pytest
import sympy
import torch

from kanlab import KAN
from kanlab.datasets.feynman import FEYNMAN
from kanlab.validate import KanlabError

#: Feynman formulas whose round trip formula -> KAN -> formula is sympy-exact. The other three
#: (I.6.2, I.6.2b, II.6.15a) compile and agree to 1e-15, but carry 1/sqrt(2 pi) or 1/(4 pi) as
#: a float, which nsimplify does not turn back into pi.
ROUND_TRIP = ["I.9.18", "I.12.11", "I.13.12", "I.15.3x", "I.16.6", "I.18.4", "I.26.2", "I.27.6", "I.29.16",
              "I.30.3", "I.30.5", "I.37.4", "I.40.1", "I.44.4", "I.50.26", "II.2.42", "II.11.7", "II.11.27",
              "II.35.18", "II.36.38", "II.38.3", "III.9.52", "III.10.19", "III.17.37"]


def _points(eq, n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    lo = torch.tensor([r[0] for r in eq.ranges], dtype=torch.float64)
    hi = torch.tensor([r[1] for r in eq.ranges], dtype=torch.float64)
    return lo + (hi - lo) * torch.rand(n, len(lo), generator=g, dtype=torch.float64)


@pytest.mark.parametrize("fid", list(FEYNMAN))
def test_feynman_formula_compiles_and_agrees(fid):
    eq = FEYNMAN[fid]
    model = KAN.from_formula(eq.sympy, eq.var_names)
    x = _points(eq)
    with torch.no_grad():
        assert torch.allclose(model(x), eq.f(x), atol=1e-6, rtol=0)
    assert all(float(layer.mask.sum()) == 0 for layer in model.layers)  # every edge symbolic


@pytest.mark.parametrize("fid", ROUND_TRIP)
def test_feynman_round_trip_is_exact(fid):
    eq = FEYNMAN[fid]
    back = KAN.from_formula(eq.sympy, eq.var_names).symbolic_formula(var_names=eq.var_names, simplify=False)[0]
    back = sympy.nsimplify(back, [sympy.pi])
    by_name = {str(s): s for s in eq.sympy.free_symbols}
    back = back.xreplace({s: by_name[str(s)] for s in back.free_symbols})
    assert sympy.simplify(back - eq.sympy) == 0


def test_mixed_arities_in_one_row_are_padded():
    x, y, z, a, b = syms = sympy.symbols("x y z a b")
    expr = x * y * z + 2 * a * b
    model = KAN.from_formula(expr, [str(s) for s in syms])
    assert model.width_spec == [5, [0, 2], 1] and model.mult_arity[1] == 3
    back = sympy.nsimplify(model.symbolic_formula(var_names=[str(s) for s in syms])[0])
    assert sympy.simplify(back - expr) == 0
    X = torch.rand(50, 5, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(model(X)[:, 0], X[:, 0] * X[:, 1] * X[:, 2] + 2 * X[:, 3] * X[:, 4])


def test_same_input_twice_into_one_sum_node():
    x = sympy.Symbol("x")
    model = KAN.from_formula(x + sympy.sin(x) + sympy.exp(-x), ["x"])
    X = torch.linspace(-2, 2, 41, dtype=torch.float64)[:, None]
    with torch.no_grad():
        assert torch.allclose(model(X), X + torch.sin(X) + torch.exp(-X))


def test_values_passed_through_rows_on_identity_edges():
    x, y = sympy.symbols("x y")
    expr = sympy.sin(sympy.exp(x) + y) + x  # x reaches the output row through an identity chain
    model = KAN.from_formula(expr, ["x", "y"])
    names = [n for sym in model.symbolic for n in sym.names]
    assert names.count("x") == 3 and len(model.layers) == 2  # y, x carried to row 1, x into the output
    back = sympy.nsimplify(model.symbolic_formula(var_names=["x", "y"])[0])
    assert sympy.simplify(back - expr) == 0


@pytest.mark.parametrize("expr,match", [(sympy.erf(sympy.Symbol("x")), "not expressible"),
                                         (sympy.Symbol("x") ** 7, "powers above 5"),
                                         (sympy.Symbol("q") + 1, "not in var_names")])
def test_inexpressible_formulas_fail_clearly(expr, match):
    with pytest.raises(KanlabError, match=match):
        KAN.from_formula(expr, ["x"])


def test_text_is_refused():
    with pytest.raises(KanlabError, match="sympy expression"):
        KAN.from_formula("x + 1", ["x"])


def test_to_splines_then_train():
    x, y = sympy.symbols("x y")
    model = KAN.from_formula(sympy.sin(x) * y + x ** 2, ["x", "y"])
    g = torch.Generator().manual_seed(0)
    X = torch.rand(300, 2, generator=g, dtype=torch.float64) * 2 - 1
    Y = torch.sin(X[:, :1]) * X[:, 1:] + X[:, :1] ** 2
    err = model.to_splines(X)
    assert err < 1e-3
    assert sum(len(s) for s in model.symbolic) == 0 and all(float(layer.mask.sum()) > 0 for layer in model.layers)
    with torch.no_grad():
        assert float((model(X) - Y).abs().max()) < 1e-3
    before = [p.detach().clone() for p in model.parameters()]
    hist = model.fit({"train_input": X, "train_label": Y, "test_input": X, "test_label": Y}, steps=5)
    assert hist["train_loss"][-1] < 1e-3
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the splines train
