"""Multiplication nodes (issue 22 item 1): width [n_sum, n_mult], mult_arity per network or
per row; forward, formula for arity 2, 3, 4, pruning, plot, save/load, fit."""
import matplotlib
import pytest
import sympy
import torch

from kanlab import KAN
from kanlab.io import ModelFileError

matplotlib.use("Agg")


def _x(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g, dtype=torch.float64) * 2 - 1


def _fixed(width, arity, edges):
    """A KAN whose live edges are exactly ``edges`` {(l, i, j): (name, params)}, all symbolic."""
    m = KAN(width, mult_arity=arity, seed=0, dtype=torch.float64)
    with torch.no_grad():
        for layer in m.layers:
            layer.mask.zero_()
    for (l, i, j), (name, params) in edges.items():
        m.fix_symbolic(l, i, j, name, fit_params=False, params=params)
    return m


def _product_model(n):
    """x_1 * ... * x_n through one mult node of arity n: edge i -> factor i is the identity."""
    edges = {(0, i, i): ("x", (1, 0, 1, 0)) for i in range(n)}
    edges[(1, 0, 0)] = ("x", (1, 0, 1, 0))
    return _fixed([n, [0, 1], 1], n, edges)


def _exact(expr):
    return sympy.nsimplify(expr, rational=True)


def test_shapes_and_width_spec():
    m = KAN([3, [2, 2], [0, 1], 1], mult_arity=[2, 3, 2, 2], seed=0)
    assert m.width == [3, 4, 1, 1]
    assert m.width_spec == [3, [2, 2], [0, 1], 1]
    assert [(layer.in_dim, layer.out_dim) for layer in m.layers] == [(3, 2 + 2 * 3), (4, 2), (1, 1)]
    assert m(torch.rand(5, 3)).shape == (5, 1)


def test_plain_width_unchanged():
    m = KAN([2, 3, 1], seed=0)
    assert not m.has_mult and m.width == [2, 3, 1]
    assert "mult" not in m.config()


@pytest.mark.parametrize("width,arity,match", [
    ([2, [1], 1], 2, "n_sum, n_mult"), ([2, [0, 0], 1], 2, "at least one node"), ([[1, 1], 2, 1], 2, "inputs"),
    ([2, [1, 1], 1], 1, "mult_arity"), ([2, [1, 1], 1], [2, 2], "one per width entry"), ([2, 0, 1], 2, "positive integer")])
def test_bad_width_or_arity(width, arity, match):
    with pytest.raises(ValueError, match=match):
        KAN(width, mult_arity=arity)


def test_forward_multiplies_consecutive_factors():
    m = KAN([2, [1, 2], 1], mult_arity=3, seed=1, dtype=torch.float64)
    x = _x(20, 2)
    sub = m.layer_forward(0, x)  # (20, 1 + 2 * 3)
    nodes = torch.stack([sub[:, 0], sub[:, 1:4].prod(1), sub[:, 4:7].prod(1)], 1)
    assert torch.allclose(m.layer_inputs(x)[1], nodes)
    assert torch.allclose(m(x), m.layer_forward(1, nodes))


@pytest.mark.parametrize("n", [2, 3, 4])
def test_formula_of_product_exact(n):
    m = _product_model(n)
    syms = sympy.symbols(f"v1:{n + 1}")
    expr = m.symbolic_formula(var_names=[str(s) for s in syms])[0]
    assert sympy.simplify(_exact(expr) - sympy.Mul(*syms)) == 0
    x = _x(50, n)
    assert torch.allclose(m(x)[:, 0], x.prod(1), atol=1e-12)


def test_formula_two_mult_nodes_arity_4_distinct_factors():
    """Each factor and each node in the right place (pykan #404: wrong formula at arity 4)."""
    edges = {(0, i, j): ("x", (1, 0, 1, 0)) for i, j in [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (1, 6), (2, 7), (3, 8)]}
    edges[(0, 0, 0)] = ("sin", (1, 0, 1, 0))  # sum node 0: sin(a)
    edges[(0, 3, 5)] = ("x^2", (1, 0, 1, 0))  # second node's first factor: a + d^2
    edges.update({(1, 0, 0): ("x", (1, 0, 1, 0)), (1, 1, 0): ("x", (1, 0, 2, 0)), (1, 2, 0): ("x", (1, 0, -1, 0))})
    m = _fixed([4, [1, 2], 1], 4, edges)
    a, b, c, d = sympy.symbols("a b c d")
    want = sympy.sin(a) + 2 * a * b * c * d - (a + d ** 2) * b * c * d
    expr = m.symbolic_formula(var_names=["a", "b", "c", "d"])[0]
    assert sympy.simplify(_exact(expr) - want) == 0
    x = _x(40, 4)
    check = m.formula_check(x, var_names=["a", "b", "c", "d"])
    assert check["max_abs"] < 1e-12


def test_save_load_round_trip(tmp_path):
    m = KAN([3, [1, 2], [2, 1], 2], mult_arity=[2, 2, 3, 2], seed=3, dtype=torch.float64)
    m.fix_symbolic(1, 0, 2, "sin", fit_params=False, params=(1, 0, 1, 0))
    m.save(tmp_path / "m.kan")
    back = KAN.load(tmp_path / "m.kan")
    assert back.width_spec == m.width_spec and back.mult_arity == m.mult_arity
    x = _x(30, 3)
    assert torch.equal(back(x), m(x))


def test_load_rejects_inconsistent_mult(tmp_path):
    import json

    from safetensors.torch import load_file, save_file

    m = KAN([2, [1, 1], 1], mult_arity=2, seed=0)
    m.save(tmp_path / "m.kan")
    tensors = load_file(tmp_path / "m.kan")
    for bad, match in [({"n_mult": [0, 1, 0], "mult_arity": [2, 3, 2]}, "consecutive layers"),
                       ({"n_mult": [0, 1], "mult_arity": [2, 2, 2]}, "mult.n_mult"),
                       ({"n_mult": [0, 1, 0]}, "n_mult and mult_arity"),
                       ({"n_mult": [0, 2, 0], "mult_arity": [2, 2, 2]}, "mult node")]:
        cfg = m.config()
        cfg["mult"] = bad
        save_file(tensors, tmp_path / "bad.kan", metadata={"format": "kanlab", "format_version": "2",
                                                          "config": json.dumps(cfg)})
        with pytest.raises(ModelFileError, match=match):
            KAN.load(tmp_path / "bad.kan")


def test_prune_removes_dead_mult_node_with_its_factors():
    # node 0: sum (x), node 1: mult x*y (kept), node 2: mult whose outgoing edge is dead
    edges = {(0, 0, 0): ("x", (1, 0, 1, 0)), (0, 0, 1): ("x", (1, 0, 1, 0)), (0, 1, 2): ("x", (1, 0, 1, 0)),
             (0, 0, 3): ("x", (1, 0, 1, 0)), (0, 1, 4): ("x", (1, 0, 1, 0)),
             (1, 0, 0): ("x", (1, 0, 1, 0)), (1, 1, 0): ("x", (1, 0, 1, 0)), (1, 2, 0): ("x", (1, 0, 1e-9, 0))}
    m = _fixed([2, [1, 2], 1], 2, edges)
    x = _x(100, 2)
    small = m.prune(x=x, node_th=1e-3, edge_th=1e-3)
    assert small.width_spec == [2, [1, 1], 1]
    assert small.layers[0].out_dim == 3
    assert torch.allclose(small(x), m(x), atol=1e-6)
    v, w = sympy.symbols("v w")
    expr = small.symbolic_formula(var_names=["v", "w"])[0]
    assert sympy.simplify(_exact(sympy.nsimplify(expr, tolerance=1e-6)) - (v + v * w)) == 0


def test_prune_keeps_live_mult_nodes_and_function():
    m = KAN([2, [2, 2], 1], mult_arity=3, seed=0, dtype=torch.float64)
    x = _x(100, 2)
    small = m.prune(x=x, node_th=0.0, edge_th=0.0)
    assert small.width_spec == m.width_spec
    assert torch.allclose(small(x), m(x))


def test_attribution_shapes():
    m = KAN([2, [1, 2], 1], mult_arity=2, seed=0, dtype=torch.float64)
    s = m.attribute(_x(50, 2))
    assert s.edge[0].shape == (2, 5) and s.node[1].shape == (3,) and s.node_in(1).shape == (3,)
    assert torch.allclose(s.node_in(1), torch.stack([s.edge[0][:, 0].sum(), s.edge[0][:, 1:3].sum(), s.edge[0][:, 3:].sum()]))


def test_plot_draws_mult_nodes(tmp_path):
    m = KAN([2, [1, 1], 1], mult_arity=2, seed=0)
    fig = m.plot(x=torch.rand(30, 2) * 2 - 1, path=tmp_path / "p.png")
    squares = [c for ax in fig.axes for c in ax.collections if c.get_paths() and len(c.get_offsets()) == 1
               and c.get_paths()[0].vertices.shape[0] == 5]  # the square marker: one closed 4-sided path
    texts = [t for ax in fig.axes for t in ax.texts if t.get_text() == "\u00d7"]
    assert len(texts) == 1 and squares
    assert (tmp_path / "p.png").stat().st_size > 0


def test_fit_takes_autograd_path_and_learns():
    x = _x(200, 2)
    y = (x[:, 0] * x[:, 1])[:, None]
    m = KAN([2, [0, 1], 1], mult_arity=2, seed=0, dtype=torch.float64)
    hist = m.fit({"train_input": x, "train_label": y, "test_input": x, "test_label": y}, steps=20)
    assert hist["backend"].startswith("autograd")
    assert hist["train_loss"][-1] < 0.05 * float(y.std())


def test_unsupported_edits_refuse():
    from kanlab.validate import KanlabError

    m = KAN([2, [1, 1], 1], mult_arity=2, seed=0)
    with pytest.raises(KanlabError, match="multiplication nodes"):
        m.swap(1, 0, 1)
    with pytest.raises(KanlabError, match="multiplication nodes"):
        m.to_torchscript()


def test_learnt_x_times_y_comes_back_exactly():
    """The demonstration: x*y learnt by one mult node, then auto_symbolic + snapping."""
    from kanlab.symbolic.snap import snap_formula

    x = _x(400, 2)
    y = (x[:, 0] * x[:, 1])[:, None]
    ds = {"train_input": x, "train_label": y, "test_input": x[:100], "test_label": y[:100]}
    m = KAN([2, [0, 1], 1], mult_arity=2, seed=0, dtype=torch.float64)
    m.fit(ds, steps=50)
    m = m.prune_edge(0.05, x=x)
    m.auto_symbolic(x, lib=["x", "x^2", "0"])
    m.fit(ds, steps=20)  # the affine constants of the symbolic edges
    v, w = sympy.symbols("v w")
    expr = snap_formula(m.symbolic_formula(var_names=["v", "w"])[0], [v, w], x.numpy(), y[:, 0].numpy())
    assert sympy.simplify(expr - v * w) == 0
