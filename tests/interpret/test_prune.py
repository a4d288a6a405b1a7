"""Pruning: smaller models that keep the function, inputs by original index, save/load, errors."""
import pytest
import torch

from _sparse_kan import sparse_model
from kanlab import KAN
from kanlab.interpret import prune


def test_prune_keeps_function_within_removed_attribution():
    m, ds = sparse_model()
    x = ds["train_input"]
    before = {k: v.clone() for k, v in m.state_dict().items()}
    s = m.attribute(x)
    small = m.prune(node_th=1e-2, edge_th=3e-2, x=x)
    assert type(small) is KAN and small is not m
    assert m.width == [3, 4, 1] and all(torch.equal(v, m.state_dict()[k]) for k, v in before.items())
    assert small.width[1] < m.width[1]
    removed = float(sum(e[e < 3e-2].sum() for e in s.edge))
    weak = (s.node[1] < 1e-2) | (s.node_in(1) < 1e-2)
    removed += float(s.node[1][weak].sum())
    with torch.no_grad():
        diff = (small(x) - m(x)).pow(2).mean().sqrt().item()
        ystd = m(x).std().item()
    assert diff <= removed * ystd + 1e-6


def test_prune_edge_and_prune_node_helpers():
    m, ds = sparse_model()
    x = ds["train_input"]
    s = m.attribute(x)
    masked = prune.prune_edge(m, th=3e-2, x=x)
    assert masked.width == m.width
    for l, layer in enumerate(masked.layers):
        assert torch.equal(layer.mask > 0, (s.edge[l] >= 3e-2) & (m.layers[l].mask > 0))
    fewer = prune.prune_node(m, th=1e-2, x=x)
    assert fewer.width[1] == int(((s.node[1] >= 1e-2) & (s.node_in(1) >= 1e-2)).sum())


def test_dead_nodes_are_removed_exactly():
    m = KAN([2, 3, 1], seed=0, dtype=torch.float64)
    x = torch.rand(100, 2, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        m.layers[1].mask[1, 0] = 0.0  # hidden node 1 feeds nothing
        small = m.prune(node_th=0.0, edge_th=0.0, x=x)
        assert small.width == [2, 2, 1]
        assert torch.allclose(small(x), m(x), atol=1e-12)


def test_prune_input_keeps_original_columns_and_round_trips(tmp_path):
    m, ds = sparse_model()
    x = ds["train_input"]
    small = m.prune(x=x).prune_input(th=1e-2, x=x)
    assert small.input_ids == [0, 1] and m.input_ids == [0, 1, 2]
    assert small.width[0] == 2 and small.n_inputs == 3 and small(x).shape == (x.shape[0], 1)
    p = tmp_path / "small.kan"
    small.save(p)
    back = KAN.load(p)
    assert back.width == small.width and back.input_ids == [0, 1] and back.n_inputs == 3
    with torch.no_grad():
        assert torch.equal(back(x), small(x))


def test_state_dict_with_the_old_buffer_name_still_loads():
    m, ds = sparse_model()
    small = m.prune_input(th=1e-2, x=ds["train_input"])
    state = dict(small.state_dict())
    state["input_ids"] = state.pop("input_index")
    fresh = KAN.from_config(small.config())
    fresh.load_state_dict(state, strict=True)
    assert fresh.input_ids == small.input_ids


def test_symbolic_edges_follow_the_pruning():
    m, ds = sparse_model()
    x = ds["train_input"]
    s = m.attribute(x)
    j = int(s.node[1].argmax())
    m.fix_symbolic(0, 0, j, "sin", x=x)
    weak_j = int(s.node[1].argmin())
    m.fix_symbolic(0, 2, weak_j, "x", x=x)  # irrelevant input: a weak symbolic edge
    with torch.no_grad():
        ref = m(x)
    s = m.attribute(x)
    small = m.prune(x=x)
    names = [e[2] for e in small.symbolic[0].edges()]
    assert "sin" in names and "x" not in names
    assert small.symbolic[0].in_dim == 3 and small.symbolic[0].out_dim == small.width[1]
    removed = float(sum(e[e < 3e-2].sum() for e in s.edge)) + float(s.node[1][s.node[1] < 1e-2].sum())
    with torch.no_grad():
        assert (small(x) - ref).pow(2).mean().sqrt().item() <= removed * ref.std().item() + 1e-6


def test_pruning_never_leaves_a_layer_empty():
    m = KAN([2, 3, 1], seed=0)
    x = torch.rand(50, 2)
    with pytest.raises(ValueError, match="needs data"):
        m.prune()
    with pytest.raises(ValueError, match="needs data"):
        m.prune_input()
    with pytest.raises(ValueError, match="hidden layer 1.*lower node_th"):
        m.prune(node_th=1e9, x=x)
    with pytest.raises(ValueError, match="every edge of layer 0.*lower edge_th"):
        m.prune(edge_th=1e9, x=x)
    with pytest.raises(ValueError, match="every input.*lower th"):
        m.prune_input(th=1e9, x=x)
