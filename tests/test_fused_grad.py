"""The fused MSE gradient equals autograd's, and fit takes it only where it applies."""
import math

import pytest
import torch

from kanlab import KAN, create_dataset, fused_grad


def _autograd(model, x, y, basis0):
    params = [p for p in model.parameters() if p.numel()]
    for p in params:
        p.grad = None
    loss = torch.mean((model(x, first_basis=basis0) - y) ** 2)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in params]


def _fused(model, x, y, basis0):
    loss = fused_grad.mse_and_grad(model, model.select_inputs(x), y, basis0)
    return loss, [p.grad.clone() for p in model.parameters() if p.numel()]


@pytest.mark.parametrize("width,base_fun,bias,given_basis", [
    ([2, 5, 1], "silu", True, True),
    ([3, 4, 2, 2], "silu", True, False),
    ([2, 3, 1], "tanh", False, True),
    ([2, 3, 3, 1], "identity", True, False),
    ([1, 2, 1], "zero", True, True),
])
def test_matches_autograd(width, base_fun, bias, given_basis):
    g = torch.Generator().manual_seed(1)
    m = KAN(width, grid=4, k=3, seed=3, base_fun=base_fun, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        for layer in m.layers:  # non-trivial splines, one masked edge, non-uniform knots
            layer.coef.normal_(generator=g)
            layer.mask[0, 0] = 0.0
        m.update_grid(torch.rand(200, width[0], generator=g, dtype=torch.float64) * 1.6 - 0.8)
    x = torch.rand(64, width[0], generator=g, dtype=torch.float64) * 2.2 - 1.1  # some points outside the grid
    y = torch.randn(64, width[-1], generator=g, dtype=torch.float64)
    basis0 = m.layers[0].basis(x).detach() if given_basis else None
    assert fused_grad.supports(m, [p for p in m.parameters() if p.requires_grad])
    la, ga = _autograd(m, x, y, basis0)
    lf, gf = _fused(m, x, y, basis0)
    assert torch.allclose(la, lf, rtol=1e-12, atol=0)
    for a, b in zip(ga, gf):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_not_used_with_symbolic_edges_or_frozen_parameters():
    m = KAN([2, 2, 1], grid=3, seed=0)
    params = [p for p in m.parameters() if p.requires_grad]
    assert fused_grad.supports(m, params)
    assert not fused_grad.supports(m, params[1:])  # a frozen parameter: autograd path
    m.fix_symbolic(0, 0, 0, "x", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
    assert not fused_grad.supports(m, [p for p in m.parameters() if p.requires_grad])
    for layer in m.layers:
        layer.sparse = True
    m.unfix_symbolic(0, 0, 0)
    assert not fused_grad.supports(m, [p for p in m.parameters() if p.requires_grad])


def test_fit_is_the_same_with_and_without_the_fused_path():
    ds = create_dataset(lambda x: torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2), n_var=2,
                        train_num=200, test_num=200, seed=0, dtype=torch.float64)
    hist = []
    for enabled in (True, False):
        fused_grad.ENABLED = enabled
        try:
            m = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
            hist.append(m.fit(ds, steps=3, progress=False)["test_loss"])
        finally:
            fused_grad.ENABLED = True
    # the same path through L-BFGS (rounding differences grow over longer runs: line-search branches)
    assert hist[0] == pytest.approx(hist[1], rel=1e-5)

