"""The fused MSE gradient equals autograd's, and fit takes it only where it applies."""
import math

import pytest
import torch

from kanlab import KAN, create_dataset
from kanlab.kernels import dispatch, fused_mse, numba_layer


def _autograd(model, x, y):
    params = [p for p in model.parameters() if p.numel()]
    for p in params:
        p.grad = None
    loss = torch.mean((model(x) - y) ** 2)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in params]


def _fused(model, x, y):
    loss = fused_mse.mse_and_grad(model, model.select_inputs(x), y)
    return loss, [p.grad.clone() for p in model.parameters() if p.numel()]


def _torch_evaluator(model, x, y):
    """The fused-torch evaluator: its own first-layer features, reused over two calls."""
    ev = fused_mse.evaluator(model, model.select_inputs(x), y, numba_layers=False)
    ev()
    loss = ev()
    return loss, [p.grad.clone() for p in model.parameters() if p.numel()]


def _compiled(model, x, y):
    if not numba_layer.AVAILABLE:
        pytest.skip("numba is not installed: no compiled evaluator")
    ev = fused_mse.evaluator(model, model.select_inputs(x), y, numba_layers=True)
    assert isinstance(ev, fused_mse._NumbaMSE)
    loss = ev()
    return loss, [p.grad.clone() for p in model.parameters() if p.numel()]


def _supported(model, x, y, params):
    """Whether the dispatcher lets a plain-MSE fit of ``model`` training ``params`` take a fused path."""
    backend = dispatch.choose_fit_backend(model, model.select_inputs(x), y, params=params, custom_loss=False,
                                          penalty=False)
    return backend.name.startswith("fused")


CASES = [([2, 5, 1], "silu", True, 3), ([3, 4, 2, 2], "silu", True, 3), ([2, 3, 1], "tanh", False, 3),
         ([2, 3, 3, 1], "identity", True, 2), ([1, 2, 1], "zero", True, 1), ([2, 2, 1], "silu", False, 4)]


def _random_model(width, base_fun, bias, k, dtype=torch.float64, grid=4):
    g = torch.Generator().manual_seed(1)
    m = KAN(width, grid=grid, k=k, seed=3, base_fun=base_fun, bias=bias, dtype=dtype)
    with torch.no_grad():
        for layer in m.layers:  # non-trivial splines, one masked edge, non-uniform knots
            layer.coef.normal_(generator=g)
            layer.mask[0, 0] = 0.0
            if layer.bias is not None:
                layer.bias.normal_(generator=g)
        m.update_grid(torch.rand(200, width[0], generator=g, dtype=dtype) * 1.6 - 0.8)
    x = torch.rand(64, width[0], generator=g, dtype=dtype) * 2.2 - 1.1  # some points outside the grid
    y = torch.randn(64, width[-1], generator=g, dtype=dtype)
    return m, x, y


@pytest.mark.parametrize("width,base_fun,bias,k", CASES)
@pytest.mark.parametrize("path", [_fused, _torch_evaluator, _compiled])
def test_matches_autograd(width, base_fun, bias, k, path):
    m, x, y = _random_model(width, base_fun, bias, k)
    assert _supported(m, x, y, [p for p in m.parameters() if p.requires_grad])
    la, ga = _autograd(m, x, y)
    lf, gf = path(m, x, y)
    assert torch.allclose(la, lf, rtol=1e-12, atol=0)
    for a, b in zip(ga, gf):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_compiled_evaluator_float32_and_reuse_after_parameter_changes():
    """float32 agrees to float32 rounding; a second call after the parameters changed in place
    (as L-BFGS writes trial points) reuses the first layer's state and is still exact."""
    if not numba_layer.AVAILABLE:
        pytest.skip("numba is not installed: no compiled evaluator")
    for dtype, rtol in ((torch.float32, 2e-5), (torch.float64, 1e-10)):
        m, x, y = _random_model([3, 4, 2], "silu", True, 3, dtype=dtype, grid=20)
        ev = fused_mse.evaluator(m, x, y, numba_layers=True)
        ev()
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(0.9).add_(0.05)
        lc = ev()
        gc = [p.grad.clone() for p in m.parameters() if p.numel()]
        la, ga = _autograd(m, x, y)
        assert torch.allclose(la, lc, rtol=rtol)
        for a, b in zip(ga, gc):
            assert torch.allclose(a, b, rtol=rtol, atol=rtol * float(a.abs().max()))


def test_compiled_evaluator_only_where_it_applies():
    m, x, y = _random_model([2, 3, 1], "silu", True, 3)
    params = [p for p in m.parameters() if p.requires_grad]

    def choice(y, **kw):
        return dispatch.choose_fit_backend(m, x, y, params=params, custom_loss=False, penalty=False, **kw).name

    assert choice(y) == ("fused-numba" if numba_layer.AVAILABLE else "fused-torch")
    assert choice(y.float()) in ("fused-matmul", "fused-torch")  # mixed dtypes: not the compiled kernels
    ev = fused_mse.evaluator(m, x, y, numba_layers=False)
    assert not isinstance(ev, fused_mse._NumbaMSE)
    la, _ = _autograd(m, x, y)
    assert torch.allclose(ev(), la, rtol=1e-12)


def test_not_used_with_symbolic_edges_or_frozen_parameters():
    m = KAN([2, 2, 1], grid=3, seed=0)
    x, y = torch.rand(8, 2), torch.rand(8, 1)
    params = [p for p in m.parameters() if p.requires_grad]
    assert _supported(m, x, y, params)
    assert not _supported(m, x, y, params[1:])  # a frozen parameter: autograd path
    m.fix_symbolic(0, 0, 0, "x", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
    assert not _supported(m, x, y, [p for p in m.parameters() if p.requires_grad])
    for layer in m.layers:
        layer.large_grid = True
    m.unfix_symbolic(0, 0, 0)
    assert not _supported(m, x, y, [p for p in m.parameters() if p.requires_grad])


def test_fit_is_the_same_with_and_without_the_fused_path():
    ds = create_dataset(lambda x: torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2), n_var=2,
                        train_num=200, test_num=200, seed=0, dtype=torch.float64)
    hist = []
    for backend in ("auto", "autograd-torch"):
        m = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
        h = m.fit(ds, steps=3, progress=False, backend=backend)
        assert h["backend"].startswith("fused") == (backend == "auto")
        hist.append(h["test_loss"])
    # the same path through L-BFGS (rounding differences grow over longer runs: line-search branches)
    assert hist[0] == pytest.approx(hist[1], rel=1e-5)
