"""Edge / node / input attribution (KAN 2.0 backward scores) and forward magnitudes."""
import pytest
import torch

from _sparse_kan import sparse_model
from kanlab import KAN


def test_scores_follow_the_backward_recursion():
    m = KAN([3, 4, 2, 1], seed=1, bias=True, dtype=torch.float64)
    x = torch.rand(300, 3, dtype=torch.float64) * 2 - 1
    s = m.attribute(x)
    xs = m.layer_inputs(x)
    node = torch.ones(1, dtype=torch.float64)
    assert torch.allclose(s.node[-1], node)
    for l in (2, 1, 0):  # E_l[i,j] = std(phi_ij) / std(node j) * N_{l+1}[j];  N_l[i] = sum_j E_l[i,j]
        phi = m.edge_values(l, xs[l])
        e = phi.std(0, unbiased=False) / xs[l + 1].std(0, unbiased=False) * node
        assert torch.allclose(s.edge[l], e, rtol=1e-8)
        node = e.sum(1)
        assert torch.allclose(s.node[l], node)
        assert torch.allclose(s.forward_edge[l], phi.abs().mean(0) / xs[l + 1].abs().mean(0))
        assert torch.allclose(s.edge_mean[l], phi.mean(0))
        assert torch.allclose(s.x_range[l][:, 0], xs[l].min(0).values)
    # incoming >= outgoing for hidden nodes (the spread of a sum <= the sum of the spreads)
    for l in (1, 2):
        assert bool((s.node_in(l) >= s.node[l] - 1e-12).all())
    assert torch.equal(s.input, s.node[0]) and torch.equal(m.feature_score(x), s.input)


def test_irrelevant_input_scores_low_and_pruned_inputs_score_zero():
    m, ds = sparse_model()
    x = ds["train_input"]
    s = m.attribute(x)
    assert [tuple(e.shape) for e in s.edge] == [(3, 4), (4, 1)]
    assert s.input[2] < 0.05 * s.input[0] and s.input[1] > 0.1 * s.input[0]
    small = m.prune_input(th=1e-2, x=x)
    score = small.feature_score(x)
    assert score.shape == (3,) and score[2] == 0 and bool((score[:2] > 0).all())


def test_attribute_rejects_bad_data():
    m = KAN([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match="N >= 2"):
        m.attribute(torch.rand(1, 2))
    with pytest.raises(ValueError, match="N >= 2"):
        m.attribute(None)
    with pytest.raises(ValueError, match="shape"):
        m.attribute(torch.rand(10, 3))
