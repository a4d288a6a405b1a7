import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.interpolate import BSpline

from kanlab.core import spline, spline_lstsq


def random_knots(n_in, n_knots, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.sort(torch.rand(n_in, n_knots, generator=g, dtype=torch.float64) * 2 - 1, dim=1).values


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 5])
def test_basis_matches_scipy_on_nonuniform_knots(k):
    G = 7
    t = random_knots(3, G + 2 * k + 1, seed=k)
    x = torch.rand(2000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2.4 - 1.2
    B = spline.basis(x, t, k)
    nb = G + k
    for i in range(3):
        tn = t[i].numpy()
        inside = ((x[:, i] >= t[i, k]) & (x[:, i] < t[i, nb])).numpy()  # scipy's base interval
        for m in range(nb):
            ref = BSpline(tn, np.eye(nb)[m], k)(x[:, i].numpy())
            assert np.abs(ref[inside] - B[inside, i, m].numpy()).max() <= 1e-12


@pytest.mark.parametrize("k", [1, 2, 3])
def test_fast_basis_equals_cox_de_boor_everywhere(k):
    t = random_knots(4, 5 + 2 * k + 1, seed=10 + k)
    x = torch.rand(500, 4, dtype=torch.float64) * 3 - 1.5  # also outside the knots
    assert torch.allclose(spline.basis(x, t, k), spline.cox_de_boor(x, t, k), atol=1e-13)


def test_basis_is_zero_outside_knots():
    t = spline.uniform_knots(1, 5, 3, (-1, 1), dtype=torch.float64)
    x = torch.tensor([[t[0, 0] - 1e-3], [t[0, -1] + 1e-3], [5.0]], dtype=torch.float64)
    assert spline.basis(x, t, 3).abs().max() == 0


@settings(max_examples=40, deadline=None)
@given(G=st.integers(1, 30), k=st.integers(0, 4), seed=st.integers(0, 10_000))
def test_partition_of_unity_inside_grid(G, k, seed):
    t = spline.uniform_knots(2, G, k, (-1, 1), dtype=torch.float64)
    x = torch.rand(300, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    s = spline.basis(x, t, k).sum(-1)
    assert torch.allclose(s, torch.ones_like(s), atol=1e-12)


def test_gradcheck_and_second_derivative():
    t = random_knots(3, 12, seed=3)
    x = (torch.rand(40, 3, dtype=torch.float64) * 1.6 - 0.8).requires_grad_()
    assert torch.autograd.gradcheck(lambda z: spline.basis(z, t, 3), (x,))
    assert torch.autograd.gradgradcheck(lambda z: spline.basis(z, t, 3), (x,))


def test_analytic_derivatives_match_scipy():
    k, G = 3, 6
    t = random_knots(1, G + 2 * k + 1, seed=5)
    c = np.random.default_rng(0).normal(size=G + k)
    x = torch.rand(1000, 1, dtype=torch.float64) * 2 - 1
    inside = ((x[:, 0] >= t[0, k]) & (x[:, 0] < t[0, G + k])).numpy()
    ref = BSpline(t[0].numpy(), c, k)
    for d in (1, 2):
        got = (spline.basis(x, t, k, deriv=d)[:, 0, :].numpy() @ c)
        want = ref.derivative(d)(x[:, 0].numpy())
        assert np.abs(got - want)[inside].max() <= 1e-8 * max(1.0, np.abs(want).max())


def test_curve_to_coef_roundtrip_and_rank_deficient():
    k, G = 3, 8
    t = spline.uniform_knots(2, G, k, dtype=torch.float64)
    coef = torch.randn(2, G + k, 3, dtype=torch.float64)
    x = torch.rand(400, 2, dtype=torch.float64) * 2 - 1
    y = spline_lstsq.coef_to_curve(x, coef, t, k)
    back = spline_lstsq.curve_to_coef(x, y, t, k)
    assert torch.allclose(spline_lstsq.coef_to_curve(x, back, t, k), y, atol=1e-10)
    # only 3 samples for 11 basis functions: minimum-norm, finite, no crash
    few = spline_lstsq.curve_to_coef(x[:3], y[:3], t, k)
    assert torch.isfinite(few).all()
    assert torch.allclose(spline_lstsq.coef_to_curve(x[:3], few, t, k), y[:3], atol=1e-8)


def test_curve_to_coef_large_grid_uses_banded_solver():
    k, G = 3, 200
    t = spline.uniform_knots(2, G, k, dtype=torch.float64)
    coef = torch.randn(2, G + k, 2, dtype=torch.float64)
    x = torch.rand(5000, 2, dtype=torch.float64) * 2 - 1
    y = spline_lstsq.coef_to_curve(x, coef, t, k)
    back = spline_lstsq.curve_to_coef(x, y, t, k)
    assert (spline_lstsq.coef_to_curve(x, back, t, k) - y).abs().max() < 1e-6


def test_curve_to_coef_constant_input_does_not_crash():
    t = spline.uniform_knots(1, 5, 3, dtype=torch.float64)
    x = torch.zeros(50, 1, dtype=torch.float64)
    y = torch.ones(50, 1, 1, dtype=torch.float64)
    c = spline_lstsq.curve_to_coef(x, y, t, 3)
    assert torch.isfinite(c).all()
