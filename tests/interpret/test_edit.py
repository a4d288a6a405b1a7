"""Editing: expand_width / expand_depth / swap / auto_swap keep the function (float64, 1e-10),
perturb and remove_edge change it as documented; originals untouched; clear errors; the edited
models still train and survive save/load."""
import itertools

import pytest
import torch

from kanlab import KAN
from kanlab.interpret import edit
from kanlab.validate import KanlabError

TOL = 1e-10


def _model():
    """A float64 [3, 4, 2] KAN with adapted (non-uniform) grids and one symbolic edge."""
    m = KAN([3, 4, 2], grid=5, k=3, seed=3, dtype=torch.float64)
    x = _data(300, seed=0)
    m.update_grid(x)
    m.fix_symbolic(1, 2, 1, "sin", fit_params=False, params=(1.3, 0.2, 0.7, -0.1))
    return m, x


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, generator=g, dtype=torch.float64) * 2 - 1


def _test_points(x, seed=7):
    """Fresh random inputs inside the data's range."""
    lo, hi = x.min(0).values, x.max(0).values
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(500, x.shape[1], generator=g, dtype=torch.float64)


def _snapshot(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def _unchanged(m, before):
    now = m.state_dict()
    return set(now) == set(before) and all(torch.equal(now[k], v) for k, v in before.items())


def _same_function(a, b, x):
    with torch.no_grad():
        return float((a(x) - b(x)).abs().max())


def _cost(net, x):
    """The plot's weighted wire length, computed here from the attribution scores."""
    w, s = net.width, net.attribute(x).edge
    total = 0.0
    for l in range(len(w) - 1):
        for i in range(w[l]):
            for j in range(w[l + 1]):
                total += float(s[l][i, j]) * abs((i + 0.5) / w[l] - (j + 0.5) / w[l + 1])
    return total


def _seen_range(m, x, t, position):
    """The rows of t whose input to layer ``position`` lies within the range seen on x (where
    expand_depth promises the identity)."""
    h, ht = m.layer_inputs(x)[position], m.layer_inputs(t)[position]
    inside = ((ht >= h.min(0).values) & (ht <= h.max(0).values)).all(1)
    assert int(inside.sum()) > 100
    return t[inside]


@pytest.mark.parametrize("op, position", [
    (lambda m, x: m.expand_width(1, 3, seed=5), None),
    (lambda m, x: m.expand_depth(x=x), 2),
    (lambda m, x: m.expand_depth(0, x=x), 0),
    (lambda m, x: m.expand_depth(1, x=x), 1),
    (lambda m, x: m.swap(1, 0, 2), None),
    (lambda m, x: m.auto_swap(x), None),
], ids=["expand_width", "expand_depth_end", "expand_depth_0", "expand_depth_1", "swap", "auto_swap"])
def test_function_preserving_edits(op, position):
    m, x = _model()
    before = _snapshot(m)
    new = op(m, x)
    assert type(new) is KAN and new is not m
    assert _unchanged(m, before)
    t = _test_points(x)
    if position is not None:
        t = _seen_range(m, x, t, position)
    assert _same_function(new, m, t) < TOL
    assert _same_function(new, m, x) < TOL


def test_expand_width_adds_nodes_with_zero_outgoing_edges():
    m, x = _model()
    new = m.expand_width(1, 2)
    assert new.width == [3, 6, 2]
    h = new.layer_inputs(x)[1].detach()
    with torch.no_grad():
        out = new.edge_values(1, h)
    assert float(out[:, 4:, :].abs().max()) == 0.0  # the new nodes feed nothing yet
    assert float(out[:, :4, :].abs().max()) > 0.01
    assert float(h[:, 4:].std(0).min()) > 0  # but they do compute something (fresh incoming edges)
    assert new.symbolic[1].edges() == m.symbolic[1].edges()


@pytest.mark.parametrize("position", [0, 1, 2])
def test_expand_depth_layer_is_the_identity_on_its_inputs(position):
    m, x = _model()
    new = m.expand_depth(position, x=x)
    assert new.width == m.width[:position + 1] + m.width[position:]
    h = m.layer_inputs(x)[position]
    with torch.no_grad():
        assert float((new.layers[position](h) - h).abs().max()) < TOL
    assert float(new.layers[position].scale_base.abs().max()) == 0.0


def test_expand_depth_with_grid_range_and_its_errors():
    m = KAN([2, 3], seed=0, dtype=torch.float64)
    x = torch.rand(100, 2, dtype=torch.float64) * 0.5  # outputs of a fresh model lie well within (-2, 2)
    new = m.expand_depth(grid_range=(-2.0, 2.0))
    assert _same_function(new, m, x) < TOL
    with pytest.raises(KanlabError, match="needs data x .* or grid_range"):
        m.expand_depth()
    with pytest.raises(KanlabError, match="position must be an integer in 0..1"):
        m.expand_depth(2, x=x)
    with pytest.raises(KanlabError, match="degree k >= 1"):
        KAN([2, 3], k=0, seed=0).expand_depth(x=x.float())


def test_perturb_changes_the_function_not_the_shapes():
    m, x = _model()
    before = _snapshot(m)
    a, b, c = m.perturb(0.05, seed=1), m.perturb(0.05, seed=1), m.perturb(0.05, seed=2)
    assert _unchanged(m, before)
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in before.items()}
    assert _same_function(a, m, x) > 1e-3
    assert _same_function(a, b, x) == 0.0 and _same_function(a, c, x) > 1e-3
    noise = torch.cat([(la.coef - lm.coef).flatten() for la, lm in zip(a.layers, m.layers)])
    assert abs(float(noise.std()) - 0.05) < 0.01
    with pytest.raises(KanlabError, match="scale must be a positive finite number"):
        m.perturb(0.0)


def test_remove_edge_subtracts_exactly_that_edge():
    m, x = _model()
    before = _snapshot(m)
    h = m.layer_inputs(x)[1]
    with torch.no_grad():
        phi = m.edge_values(1, h)
        y = m(x)
    numeric = m.remove_edge(1, 0, 1)
    symbolic = m.remove_edge(1, 2, 1)  # the sin edge
    assert _unchanged(m, before)
    with torch.no_grad():
        assert float((numeric(x)[:, 1] - (y[:, 1] - phi[:, 0, 1])).abs().max()) < TOL
        assert float((symbolic(x)[:, 1] - (y[:, 1] - phi[:, 2, 1])).abs().max()) < TOL
        assert float((numeric(x)[:, 0] - y[:, 0]).abs().max()) < TOL
    assert len(symbolic.symbolic[1]) == 0 and numeric.layers[1].mask[0, 1] == 0


def test_swap_moves_parameters_and_is_an_involution():
    m, x = _model()
    s = m.swap(1, 1, 2)
    assert torch.equal(s.layers[0].coef[:, :, 1], m.layers[0].coef[:, :, 2])
    assert torch.equal(s.layers[1].knots[2], m.layers[1].knots[1])
    assert s.symbolic[1].edges()[0][:2] == (1, 1)  # the sin edge followed its node
    back = s.swap(1, 1, 2)
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in back.state_dict().items())


def _tangled():
    """[2, 2, 2]: input 0 -> hidden 1 -> output 0 and input 1 -> hidden 0 -> output 1 (crossed wires)."""
    m = KAN([2, 2, 2], seed=0, dtype=torch.float64)
    with torch.no_grad():
        m.layers[0].mask.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
        m.layers[1].mask.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    return m


def test_auto_swap_untangles_to_the_best_order():
    m = _tangled()
    x = torch.rand(200, 2, dtype=torch.float64) * 2 - 1
    new = m.auto_swap(x)
    assert _same_function(new, m, x) < TOL
    best = min(_cost(m.swap(1, 0, 1) if p != (0, 1) else m, x) for p in itertools.permutations(range(2)))
    assert _cost(m, x) > 0.5 and abs(_cost(new, x) - best) < 1e-12
    assert abs(edit.connection_cost(new, x) - _cost(new, x)) < 1e-12


def test_auto_swap_never_increases_the_cost():
    for seed in range(3):
        m = KAN([3, 6, 5, 2], seed=seed, dtype=torch.float64)
        x = torch.rand(150, 3, dtype=torch.float64) * 2 - 1
        new = m.auto_swap(x)
        assert _cost(new, x) <= _cost(m, x) + 1e-12
        assert _same_function(new, m, x) < TOL
        assert new.auto_swap(x).state_dict().keys() == new.state_dict().keys()


@pytest.mark.parametrize("call, match", [
    (lambda m: m.expand_width(0, 1), "layer must be an integer in 1..1"),
    (lambda m: m.expand_width(2, 1), "layer must be an integer in 1..1"),
    (lambda m: m.expand_width(1, 0), "n_new must be an integer"),
    (lambda m: m.swap(1, 0, 4), "j must be an integer in 0..3"),
    (lambda m: m.swap(0, 0, 1), "layer must be an integer in 1..1"),
    (lambda m: m.remove_edge(2, 0, 0), "layer must be an integer in 0..1"),
    (lambda m: m.remove_edge(1, 4, 0), r"i \(input node\) must be an integer in 0..3"),
    (lambda m: m.remove_edge(1, 0, 2), r"j \(output node\) must be an integer in 0..1"),
    (lambda m: m.auto_swap(None), "auto_swap needs data x"),
    (lambda m: KAN([2, 1]).swap(1, 0, 0), "has none; add a layer first"),
])
def test_invalid_indices_give_clear_errors(call, match):
    m, _ = _model()
    with pytest.raises(KanlabError, match=match):
        call(m)


@pytest.mark.parametrize("op", [
    lambda m, x: m.expand_width(1, 2),
    lambda m, x: m.expand_depth(x=x),
    lambda m, x: m.perturb(0.05),
    lambda m, x: m.remove_edge(0, 1, 2),
    lambda m, x: m.auto_swap(x),
], ids=["expand_width", "expand_depth", "perturb", "remove_edge", "auto_swap"])
def test_edited_models_train_and_round_trip(op, tmp_path):
    m, x = _model()
    y = torch.stack([torch.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2], x[:, 0] ** 2], dim=1)
    new = op(m, x)
    hist = new.fit({"train_input": x, "train_label": y}, steps=3, update_grid=False, progress=False)
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    path = tmp_path / "edited.kan"
    new.save(path)
    back = KAN.load(path)
    assert back.width == new.width
    assert _same_function(back, new, _test_points(x)) == 0.0
