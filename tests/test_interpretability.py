"""Sparsity penalty, attribution, pruning and the network plot (small, CI-fast)."""
import math
import os

import pytest
import torch

from kanlab import KAN, create_dataset
from kanlab.regularize import edge_magnitudes, make_penalty, penalty_value


def f5(x):
    return torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)


@pytest.fixture(scope="module")
def sparse_model():
    ds = create_dataset(f5, n_var=3, train_num=400, test_num=200, seed=0)
    m = KAN([3, 4, 1], seed=0)
    m.fit(ds, steps=40, lamb=1e-2, lamb_entropy=10.0, progress=False)
    return m, ds


def test_penalty_matches_direct_computation():
    m = KAN([2, 3, 1], seed=0, dtype=torch.float64)
    x = torch.rand(64, 2, dtype=torch.float64) * 2 - 1
    xs = m.layer_inputs(x)
    want = 0.0
    for l in range(2):
        mag = m.edge_values(l, xs[l]).abs().mean(0)
        p = mag / mag.sum()
        want += 1.0 * mag.sum() - 2.0 * (p * torch.log(p)).sum()
    got = penalty_value(m, x, lamb_l1=1.0, lamb_entropy=2.0)
    assert torch.allclose(got, want, rtol=1e-6)
    assert torch.allclose(make_penalty(m)(x), got)  # 64 rows: no subsampling
    std = edge_magnitudes(m, x, metric="edge_std")
    assert torch.allclose(std[0], m.edge_values(0, x).std(0, unbiased=False))
    with pytest.raises(ValueError, match="reg_metric"):
        make_penalty(m, metric="nope")


def test_penalty_is_differentiable_and_coef_terms():
    m = KAN([2, 3, 1], seed=0)
    x = torch.rand(32, 2)
    v = penalty_value(m, x, lamb_coef=1.0, lamb_coefdiff=1.0)
    v.backward()
    assert m.layers[0].coef.grad is not None


def test_attribution_shapes_and_recursion(sparse_model):
    m, ds = sparse_model
    s = m.attribute(ds["train_input"])
    assert [tuple(e.shape) for e in s.edge] == [(3, 4), (4, 1)]
    assert torch.allclose(s.node[-1], torch.ones(1))
    for l in range(2):
        assert torch.allclose(s.node[l], s.edge[l].sum(1))
    assert s.input.shape == (3,) and torch.equal(s.input, m.feature_score(ds["train_input"]))
    assert s.input[2] < 0.1 * s.input[0]  # the irrelevant input


def test_prune_keeps_function_within_removed_attribution(sparse_model):
    m, ds = sparse_model
    x = ds["train_input"]
    s = m.attribute(x)
    small = m.prune(node_th=1e-2, edge_th=3e-2, x=x)
    assert small.width[1] <= m.width[1] and small is not m and m.width == [3, 4, 1]
    removed = 0.0
    kept_nodes = s.node[1] >= 1e-2
    removed += float(s.edge[0][(s.edge[0] < 3e-2)].sum() + s.edge[1][(s.edge[1] < 3e-2)].sum())
    removed += float(s.node[1][~kept_nodes].sum())
    diff = (small(x) - m(x)).std().item()
    assert diff <= removed * m(x).std().item() + 1e-6


def test_prune_input_keeps_original_columns(sparse_model, tmp_path):
    m, ds = sparse_model
    x = ds["train_input"]
    small = m.prune(x=x).prune_input(th=1e-2, x=x)
    assert small.input_ids.tolist() == [0, 1]
    assert small.width[0] == 2 and small(x).shape == (x.shape[0], 1)
    p = tmp_path / "small.kan"
    small.save(p)
    back = KAN.load(p)
    assert back.width == small.width and back.input_ids.tolist() == [0, 1]
    assert torch.equal(back(x), small(x))


def test_prune_errors():
    m = KAN([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match="needs data"):
        m.prune()
    with pytest.raises(ValueError, match="lower node_th"):
        m.prune(node_th=1e9, x=torch.rand(50, 2))
    with pytest.raises(ValueError, match="lower th"):
        m.prune_input(th=1e9, x=torch.rand(50, 2))


def test_plot_returns_figure_and_writes_only_when_asked(sparse_model, tmp_path):
    m, ds = sparse_model
    before = set(os.listdir(tmp_path))
    fig = m.plot(x=ds["train_input"][:100])
    assert fig.__class__.__name__ == "Figure"
    assert set(os.listdir(tmp_path)) == before
    path = tmp_path / "net.png"
    m.plot(str(path), x=ds["train_input"][:100], in_vars=["a", "b", "c"])
    assert path.exists() and path.stat().st_size > 1000
    from kanlab.plot import training_curves

    hist = m.fit(ds, steps=2, progress=False)
    training_curves(hist, path=str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").exists()
    with pytest.raises(ValueError, match="needs data"):
        m.plot()
