"""The sparsity penalty (paper eqs. 2.17-2.20) and its use in fit."""
import pytest
import torch

from kanlab import KAN
from kanlab.training.regularization import edge_magnitudes, make_penalty, penalty_value


def direct_penalty(m, x, lamb_l1, lamb_entropy, lamb_coef=0.0, lamb_coefdiff=0.0):
    """The penalty written out from edge_values, layer by layer."""
    xs = m.layer_inputs(x)
    want = 0.0
    for l in range(len(m.layers)):
        mag = m.edge_values(l, xs[l]).abs().mean(0)  # |phi_ij| = mean_s |phi_ij(x_s)|
        l1 = mag.sum()
        p = mag / l1
        want = want + lamb_l1 * l1 - lamb_entropy * (p * torch.log(p)).sum()
        c = m.layers[l].coef
        want = want + lamb_coef * c.abs().mean(1).sum() + lamb_coefdiff * c.diff(dim=1).abs().mean(1).sum()
    return want


def test_penalty_matches_direct_computation():
    m = KAN([2, 3, 2, 1], seed=0, bias=True, dtype=torch.float64)
    with torch.no_grad():
        for layer in m.layers:
            layer.bias.normal_()
    x = torch.rand(64, 2, dtype=torch.float64) * 2 - 1
    got = penalty_value(m, x, lamb_l1=0.7, lamb_entropy=2.0, lamb_coef=0.3, lamb_coefdiff=0.2)
    want = direct_penalty(m, x, 0.7, 2.0, 0.3, 0.2)
    assert torch.allclose(got, want, rtol=1e-10)
    pen = make_penalty(m, lamb_l1=0.7, lamb_entropy=2.0, lamb_coef=0.3, lamb_coefdiff=0.2)
    assert torch.allclose(pen(x), got)  # 64 rows: no subsampling


def test_edge_std_metric():
    m = KAN([2, 3, 1], seed=0, dtype=torch.float64)
    x = torch.rand(80, 2, dtype=torch.float64)
    std = edge_magnitudes(m, x, metric="edge_std")
    xs = m.layer_inputs(x)
    for l in range(2):
        assert torch.allclose(std[l], m.edge_values(l, xs[l]).std(0, unbiased=False))
    v = penalty_value(m, x, metric="edge_std")
    assert v.ndim == 0 and torch.isfinite(v)
    with pytest.raises(ValueError, match="reg_metric"):
        make_penalty(m, metric="nope")


def test_subsample_is_fixed_and_small():
    m = KAN([2, 3, 1], seed=0, dtype=torch.float64)
    x = torch.rand(1000, 2, dtype=torch.float64)
    pen = make_penalty(m, max_rows=100)
    with torch.no_grad():
        a, b, full = pen(x), pen(x), penalty_value(m, x)
    assert torch.equal(a, b)  # the same rows every evaluation: a smooth objective for LBFGS
    assert abs(float(a) - float(full)) < 0.1 * float(full)  # a good estimate of the full-batch value


def test_bound_penalty_reuses_its_subsample_and_plain_calls_follow_the_model():
    m = KAN([2, 3, 1], seed=0, dtype=torch.float64)
    x = torch.rand(300, 2, dtype=torch.float64) * 2 - 1
    pen = make_penalty(m, max_rows=50)
    rows = torch.randperm(300, generator=torch.Generator().manual_seed(0))[:50]
    with torch.no_grad():
        bound = pen.on(x)  # subsample and first-layer features fixed for this batch
        assert torch.allclose(bound(), penalty_value(m, x[rows]))
        m.layers[1].coef.mul_(2.0)  # parameters may change between calls of a bound penalty
        assert torch.allclose(bound(), penalty_value(m, x[rows]))
        m.update_grid(x * 0.5)  # new knots: a plain call (and a new binding) sees them
        assert torch.allclose(pen(x), penalty_value(m, x[rows]))
        assert torch.allclose(pen.on(x)(), penalty_value(m, x[rows]))
        x.mul_(0.9)  # the same tensor changed in place
        assert torch.allclose(pen(x), penalty_value(m, x[rows]))


def test_penalty_is_differentiable_and_sparsifies():
    from kanlab import create_dataset

    m = KAN([2, 3, 1], seed=0)
    x = torch.rand(32, 2)
    penalty_value(m, x, lamb_coef=1.0, lamb_coefdiff=1.0).backward()
    assert m.layers[0].coef.grad is not None and m.layers[0].scale_base.grad is not None

    ds = create_dataset(lambda x: torch.sin(3 * x[:, [0]]), n_var=2, train_num=200, test_num=20, seed=0)
    plain, sparse = KAN([2, 3, 1], seed=0), KAN([2, 3, 1], seed=0)
    plain.fit(ds, steps=15, progress=False)
    sparse.fit(ds, steps=15, lamb=1e-2, progress=False)
    with torch.no_grad():
        l1 = [float(sum(mag.sum() for mag in edge_magnitudes(k, ds["train_input"]))) for k in (plain, sparse)]
    assert l1[1] < l1[0]
