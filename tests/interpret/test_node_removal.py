"""Unit tests of the structure operations of kanlab.interpret.prune on small random networks:
``remove_node``, ``prune_node``, ``prune_edge``, ``prune_input``. Each removes a part's
*variation* and keeps its mean on the data in the biases, so the new function is known exactly:
the tests check it (float64), the widths, input_ids, masks and parameters of what is kept, and
the errors for bad indices and thresholds."""
import pytest
import torch

from kanlab import KAN
from kanlab.interpret.prune import prune_edge, prune_input, prune_node, remove_node

DT = torch.float64


def _model(width, seed=0):
    return KAN(width, grid=5, k=3, seed=seed, dtype=DT)


def _data(n_in, n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, n_in, generator=g, dtype=DT) * 2 - 1


def _params(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def _unchanged(m, before):
    return all(torch.equal(v, m.state_dict()[k]) for k, v in before.items())


# ------------------------------------------------------------------ remove_node


@torch.no_grad()
def test_remove_node_subtracts_exactly_its_variation():
    m = _model([2, 3, 2])
    x, fresh = _data(2), _data(2, seed=1)
    before = _params(m)
    new = remove_node(m, 1, 1, x=x)
    assert new.width == [2, 2, 2] and m.width == [2, 3, 2] and _unchanged(m, before)
    assert type(new) is KAN and new.input_ids == [0, 1]
    mean = m.edge_values(1, m.layer_inputs(x)[1])[:, 1, :].mean(0)  # its mean outgoing value on x
    for data in (x, fresh):
        phi = m.edge_values(1, m.layer_inputs(data)[1])[:, 1, :]  # (N, out): the removed node's edges
        torch.testing.assert_close(new(data), m(data) - phi + mean, atol=1e-12, rtol=0)


@torch.no_grad()
def test_remove_node_whose_outgoing_edges_are_zero_keeps_the_function():
    m = _model([2, 3, 1])
    m.layers[1].mask[2, :] = 0.0  # hidden node 2 feeds nothing
    x, fresh = _data(2), _data(2, seed=1)
    new = remove_node(m, 1, 2, x=x)
    assert new.width == [2, 2, 1]
    torch.testing.assert_close(new(fresh), m(fresh), atol=1e-13, rtol=0)
    assert m.layers[1].bias is None and torch.equal(new.layers[1].bias, torch.zeros(1, dtype=DT))  # nothing folded


@torch.no_grad()
def test_remove_node_keeps_the_other_nodes_edges_masks_and_parameters():
    m = _model([3, 4, 2])
    m.layers[0].mask[0, 3] = 0.0
    m.layers[1].mask[2, 1] = 0.0
    new = remove_node(m, 1, 1, x=_data(3))
    keep = [0, 2, 3]
    assert torch.equal(new.layers[0].mask, m.layers[0].mask[:, keep])
    assert torch.equal(new.layers[1].mask, m.layers[1].mask[keep, :])
    assert torch.equal(new.layers[0].coef, m.layers[0].coef[:, :, keep])
    assert torch.equal(new.layers[1].coef, m.layers[1].coef[keep])
    assert torch.equal(new.layers[1].knots, m.layers[1].knots[keep])
    assert torch.equal(new.layers[0].knots, m.layers[0].knots)


@torch.no_grad()
def test_remove_node_in_a_deeper_network_shifts_the_next_layer_inputs_by_the_variation():
    m = _model([2, 3, 3, 1])
    x = _data(2)
    new = remove_node(m, 1, 0, x=x)
    assert new.width == [2, 2, 3, 1]
    h = m.layer_inputs(x)
    phi = m.edge_values(1, h[1])[:, 0, :]  # (N, 3): node 0 of layer 1 into layer 2
    torch.testing.assert_close(new.layer_inputs(x)[2], h[2] - phi + phi.mean(0), atol=1e-12, rtol=0)
    last = remove_node(m, 2, 2, x=x)
    assert last.width == [2, 3, 2, 1]
    phi = m.edge_values(2, h[2])[:, 2, :]
    torch.testing.assert_close(last(x), m(x) - phi + phi.mean(0), atol=1e-12, rtol=0)


def test_remove_node_moves_the_symbolic_edges_of_the_kept_nodes():
    m = _model([2, 3, 1])
    x = _data(2)
    m.fix_symbolic(1, 2, 0, "sin", fit_params=False, params=(1.0, 0.5, 2.0, 0.1))
    m.fix_symbolic(0, 1, 0, "x", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))  # into node 0
    new = remove_node(m, 1, 0, x=x)
    assert [e[:3] for e in new.symbolic[1].edges()] == [(1, 0, "sin")]  # old node 2 is node 1 now
    assert list(new.symbolic[0].edges()) == []  # the edge into the removed node went with it
    assert new.layers[1].mask[1, 0] == 0.0  # still symbolic, not numeric


@pytest.mark.parametrize("l,j,match", [
    (0, 0, "hidden layer index"),
    (2, 0, "hidden layer index"),
    (-1, 0, "hidden layer index"),
    (1, 3, "node index"),
    (1, -1, "node index"),
])
def test_remove_node_rejects_bad_indices(l, j, match):
    m = _model([2, 3, 1])
    before = _params(m)
    with pytest.raises(ValueError, match=match):
        remove_node(m, l, j, x=_data(2))
    assert _unchanged(m, before)


def test_remove_node_needs_data_and_never_empties_a_layer():
    with pytest.raises(ValueError, match="needs data"):
        remove_node(_model([2, 3, 1]), 1, 0)
    with pytest.raises(ValueError, match="single node"):
        remove_node(_model([2, 1, 1]), 1, 0, x=_data(2))


# ------------------------------------------------------------------ prune_edge


@torch.no_grad()
def test_prune_edge_subtracts_exactly_the_variation_of_the_weak_edges():
    m = _model([3, 2])
    x = _data(3)
    m.layers[0].scale_sp[2] *= 1e-3  # the edges of input 2 are weak
    m.layers[0].scale_base[2] *= 1e-3
    s = m.attribute(x)
    weak = s.edge[0] < 1e-2
    assert weak[2].all() and not weak[:2].any()
    new = prune_edge(m, th=1e-2, x=x)
    assert new.width == m.width and torch.equal(new.layers[0].mask > 0, ~weak)
    phi = m.edge_values(0, x)
    removed = (phi * weak).sum(1)  # (N, out)
    torch.testing.assert_close(new(x), m(x) - removed + removed.mean(0), atol=1e-12, rtol=0)


@torch.no_grad()
def test_prune_edge_with_zero_threshold_changes_nothing_and_removes_weak_symbolic_edges():
    m = _model([2, 3, 1])
    x = _data(2)
    same = prune_edge(m, th=0.0, x=x)
    assert all(torch.equal(a.mask, b.mask) for a, b in zip(same.layers, m.layers))
    torch.testing.assert_close(same(x), m(x), atol=0, rtol=0)
    m.fix_symbolic(1, 0, 0, "x", fit_params=False, params=(1.0, 0.0, 1e-9, 0.0))  # a flat symbolic edge
    new = prune_edge(m, th=1e-6, x=x)
    assert (0, 0) not in {e[:2] for e in new.symbolic[1].edges()}
    with pytest.raises(ValueError, match="every edge of layer"):
        prune_edge(m, th=1e9, x=x)
    with pytest.raises(ValueError, match="needs data"):
        prune_edge(m)


# ------------------------------------------------------------------ prune_node


@torch.no_grad()
def test_prune_node_removes_dead_nodes_exactly():
    m = _model([2, 4, 1])
    m.layers[0].mask[:, 1] = 0.0  # node 1: no live incoming edge (a constant)
    m.layers[1].mask[3, :] = 0.0  # node 3: no live outgoing edge
    x, fresh = _data(2), _data(2, seed=1)
    new = prune_node(m, th=0.0, x=x)
    assert new.width == [2, 2, 1]
    assert torch.equal(new.layers[0].mask, m.layers[0].mask[:, [0, 2]])
    assert torch.equal(new.layers[1].mask, m.layers[1].mask[[0, 2], :])
    torch.testing.assert_close(new(fresh), m(fresh), atol=1e-12, rtol=0)


@torch.no_grad()
def test_prune_node_removes_the_weak_nodes_by_score():
    m = _model([2, 3, 1])
    x = _data(2)
    m.layers[1].scale_sp[1] *= 1e-4  # node 1's outgoing edge is weak
    m.layers[1].scale_base[1] *= 1e-4
    s = m.attribute(x)
    assert s.node[1][1] < 1e-3 < float(s.node[1][[0, 2]].min())
    new = prune_node(m, th=1e-3, x=x)
    assert new.width == [2, 2, 1]
    phi = m.edge_values(1, m.layer_inputs(x)[1])[:, 1, :]
    torch.testing.assert_close(new(x), m(x) - phi + phi.mean(0), atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="hidden layer 1"):
        prune_node(m, th=1e9, x=x)
    with pytest.raises(ValueError, match="needs data"):
        prune_node(m)


# ------------------------------------------------------------------ prune_input


@torch.no_grad()
def test_prune_input_drops_unused_columns_exactly_and_keeps_original_indices():
    m = _model([4, 3, 1])
    m.layers[0].mask[1, :] = 0.0  # input 1 feeds nothing
    x, fresh = _data(4), _data(4, seed=1)
    new = prune_input(m, th=1e-9, x=x)
    assert new.input_ids == [0, 2, 3] and new.n_inputs == 4 and new.width == [3, 3, 1]
    assert torch.equal(new.layers[0].mask, m.layers[0].mask[[0, 2, 3]])
    torch.testing.assert_close(new(fresh), m(fresh), atol=1e-13, rtol=0)
    new.layers[0].mask[1, :] = 0.0  # now original column 2 feeds nothing
    again = prune_input(new, th=1e-9, x=x)
    assert again.input_ids == [0, 3] and again.n_inputs == 4
    other = fresh.clone()
    other[:, [1, 2]] = 7.0
    assert torch.equal(again(other), again(fresh))  # reads only columns 0 and 3


@torch.no_grad()
def test_prune_input_subtracts_exactly_the_variation_of_a_weak_input():
    m = _model([3, 2])
    x = _data(3)
    m.layers[0].scale_sp[0] *= 1e-4
    m.layers[0].scale_base[0] *= 1e-4
    new = prune_input(m, th=1e-2, x=x)
    assert new.input_ids == [1, 2]
    phi = m.edge_values(0, x)[:, 0, :]
    torch.testing.assert_close(new(x), m(x) - phi + phi.mean(0), atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="every input"):
        prune_input(m, th=1e9, x=x)
    with pytest.raises(ValueError, match="needs data"):
        prune_input(m)
