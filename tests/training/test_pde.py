import torch

from kanlab import KAN
from kanlab.training.pde_derivatives import gradient, laplacian


def test_gradient_and_laplacian_match_finite_differences_float64():
    m = KAN([2, 4, 1], seed=0, dtype=torch.float64)
    with torch.no_grad():
        for layer in m.layers:
            layer.coef.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
    x = torch.rand(50, 2, dtype=torch.float64) * 1.6 - 0.8
    g = gradient(m, x)
    lap = laplacian(m, x)
    h = 1e-5
    for k in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[k] = h
        fd = (m(x + e) - m(x - e))[:, 0] / (2 * h)
        assert torch.allclose(g[:, k], fd, atol=1e-7)
    h = 1e-4
    fd2 = sum((m(x + e) - 2 * m(x) + m(x - e))[:, 0] / h**2 for e in torch.eye(2, dtype=torch.float64) * h)
    assert torch.allclose(lap, fd2, atol=1e-4)


def test_laplacian_is_differentiable_in_parameters():
    m = KAN([2, 3, 1], seed=0, dtype=torch.float64)
    x = torch.rand(20, 2, dtype=torch.float64)
    laplacian(m, x).pow(2).mean().backward()
    assert all(p.grad is not None for p in m.layers[0].parameters() if p.requires_grad and p.shape != ())


def test_analytic_basis_second_derivative_equals_autograd():
    from kanlab.core import spline

    knots = torch.sort(torch.rand(3, 12, dtype=torch.float64) * 2 - 1, dim=1).values
    x = (torch.rand(40, 3, dtype=torch.float64) * 1.2 - 0.6).requires_grad_()
    B = spline.basis(x, knots, 3)
    w = torch.randn(B.shape[-1], dtype=torch.float64)
    d1 = torch.autograd.grad((B * w).sum(), x, create_graph=True)[0]
    d2 = torch.autograd.grad(d1.sum(), x)[0]
    assert torch.allclose(d1, (spline.basis(x, knots, 3, deriv=1) * w).sum(-1), atol=1e-8)
    assert torch.allclose(d2, (spline.basis(x, knots, 3, deriv=2) * w).sum(-1), atol=1e-8)
