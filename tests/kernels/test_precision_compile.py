"""Precision (float64 / float16 / bfloat16) and torch.compile on the layer and a full KAN."""
import pytest
import torch

from kanlab import KAN, KANLayer


def twin(dtype):
    ref = KANLayer(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref.coef.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
    low = KANLayer(4, 3, dtype=torch.float64)
    low.load_state_dict(ref.state_dict())
    return ref, low.to(dtype)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5), (torch.float16, 3e-3), (torch.bfloat16, 2e-2)])
def test_low_precision_accuracy_against_float64(dtype, tol):
    ref, low = twin(dtype)
    x = torch.rand(200, 4, dtype=torch.float64) * 1.8 - 0.9
    err = (low(x.to(dtype)).double() - ref(x)).abs().max().item()
    assert err <= tol * max(1.0, ref(x).abs().max().item())
    xl = x.to(dtype).requires_grad_()
    low(xl).sum().backward()
    assert xl.grad is not None and torch.isfinite(xl.grad.float()).all()


@pytest.mark.slow
def test_torch_compile_layer_and_kan_inductor():
    torch._dynamo.reset()
    layer = KANLayer(3, 2)
    x = (torch.rand(16, 3) * 2 - 1).requires_grad_()
    cl = torch.compile(layer)
    y = cl(x)
    assert torch.allclose(y, layer(x), atol=1e-6)
    y.sum().backward()
    g = x.grad.clone()
    x.grad = None
    layer(x).sum().backward()
    assert torch.allclose(g, x.grad, atol=1e-5)
    model = KAN([2, 3, 1], seed=0)
    cm = torch.compile(model)
    z = torch.rand(8, 2)
    assert torch.allclose(cm(z), model(z), atol=1e-6)
