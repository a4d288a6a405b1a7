"""The compiled (numba) basis kernels equal the eager torch kernels, on the dense and the
large-grid paths, serial and parallel, and kanlab works without them."""
import os
import subprocess
import sys

import pytest
import torch

from kanlab import KANLayer
from kanlab.core import spline
from kanlab.kernels import dispatch, torch_basis
from kanlab.kernels import numba_basis

from _layer_paths import dense_and_large_grid

pytestmark = pytest.mark.skipif(not numba_basis.AVAILABLE, reason="numba is not installed")


def _knots(n_in, G, k, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    steps = torch.rand(n_in, G, generator=gen, dtype=torch.float64) + 0.2  # non-uniform
    grid = torch.cat([torch.zeros(n_in, 1, dtype=torch.float64), steps.cumsum(1)], 1)
    grid = 2 * grid / grid[:, -1:] - 1
    return spline.extend_knots(grid, k).to(dtype)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_dense_features_and_input_gradient_match_eager(k, dtype, tol):
    gen = torch.Generator().manual_seed(k)
    x = torch.rand(97, 6, generator=gen, dtype=dtype) * 3 - 1.5  # some inputs outside the grid
    knots = _knots(6, 7, k, dtype, k)
    tab = spline.basis_table(knots, k).to(dtype)
    feats, state = torch_basis.features(x, knots, tab, k, True)
    assert state[0] == "numba"
    ref, idx, dvals = torch_basis._eager_features(x, knots, tab, k, True)
    torch.testing.assert_close(feats, ref, atol=tol, rtol=0)
    g = torch.randn(feats.shape, generator=gen, dtype=dtype)
    torch.testing.assert_close(torch_basis.grad_input(g, state), torch_basis._eager_grad_input(g, idx, dvals),
                               atol=tol * 10, rtol=tol * 10)


def test_serial_and_parallel_kernels_agree(monkeypatch):
    x = torch.rand(512, 64, dtype=torch.float64) * 2 - 1
    knots = _knots(64, 9, 3, torch.float64, 0)
    tab = spline.basis_table(knots, 3)
    outs = []
    for par_min in (1 << 62, 0):  # never parallel, always parallel
        monkeypatch.setattr(numba_basis, "_PARALLEL_MIN", par_min)
        threads = torch.get_num_threads()
        torch.set_num_threads(2)
        try:
            feats, state = torch_basis.features(x, knots, tab, 3, True)
            outs.append((feats, torch_basis.grad_input(torch.ones_like(feats), state)))
        finally:
            torch.set_num_threads(threads)
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=0, rtol=0)
    torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-13, rtol=0)


@pytest.fixture(params=[False, True], ids=["batch-order", "interval-order"])
def visit_order(request, monkeypatch):
    """Run a large-grid test with the compiled kernels visiting samples in batch order and in
    knot-interval order (normally only from G + k >= SORT_MIN_BASIS)."""
    from kanlab.kernels import numba_large_grid
    monkeypatch.setattr(numba_large_grid, "SORT_MIN_BASIS", 0 if request.param else 1 << 30)
    return request.param


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-11), (torch.float32, 5e-5)])
def test_large_grid_path_matches_sparse_eager(dtype, tol, visit_order):
    torch.manual_seed(0)
    layer = KANLayer(7, 5, grid=100, k=3).to(dtype)
    assert layer.uses_large_grid()
    with torch.no_grad():
        layer.coef.normal_()
    x = (torch.rand(300, 7, dtype=dtype) * 2.4 - 1.2).requires_grad_()
    res = []
    for backend in ("large-grid-numba", "large-grid-torch"):
        layer.zero_grad()
        x.grad = None
        with dispatch.using(backend):
            y = layer(x)
            y.backward(torch.cos(y))
        res.append([y.detach().clone(), x.grad.clone(), layer.coef.grad.clone(), layer.scale_sp.grad.clone()])
    for a, b in zip(*res):
        torch.testing.assert_close(a, b, atol=tol * (1 + float(b.abs().max())), rtol=0)


def test_layer_gradcheck_on_compiled_kernels():
    layer = KANLayer(3, 2, grid=6).double()
    x = (torch.rand(11, 3, dtype=torch.float64) * 2 - 1).requires_grad_()
    assert torch.autograd.gradcheck(layer, (x,))


def test_kanlab_works_without_numba():
    code = ("import torch, kanlab; from kanlab.kernels import numba_basis; assert not numba_basis.AVAILABLE; "
            "y = kanlab.KANLayer(3, 2)(torch.rand(5, 3)); print(tuple(y.shape)); "
            "big = kanlab.KANLayer(3, 2, grid=70); big(torch.rand(5, 3)).sum().backward(); "
            "assert big.coef.grad is not None and big.scale_sp.grad is not None")
    env = dict(os.environ, KANLAB_NUMBA="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(5, 2)"


def _child_forward(layer, x, q):
    torch.set_num_threads(1)
    q.put((float(layer(x).detach().sum()), numba_basis._parallel_ok))


def test_forked_child_uses_serial_kernels():
    """GNU OpenMP's thread pool does not survive fork(): children must not launch parallel kernels."""
    import multiprocessing as mp

    layer = KANLayer(64, 8)
    x = torch.rand(1024, 64)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        parent = float(layer(x).detach().sum())
    finally:
        torch.set_num_threads(threads)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_forward, args=(layer, x, q))
    p.start()
    value, parallel_ok = q.get(timeout=60)
    p.join(timeout=60)
    assert not parallel_ok
    assert abs(value - parent) <= 1e-4 * (1 + abs(parent))


# ----------------------------------------------------------------------------- large-grid kernels
def _large_layer(G, k=3, n_in=5, n_out=4, seed=0):
    layer = KANLayer(n_in, n_out, grid=G, k=k, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.coef.normal_(generator=gen)
        layer.scale_sp.uniform_(0.5, 1.5, generator=gen)
        layer.mask[0, 1] = layer.mask[2, 0] = 0.0  # masked edges: zero weight, zero coef gradient
    return layer


def test_large_grid_function_gradcheck(visit_order):
    from kanlab.kernels.large_grid import large_grid_matmul
    for k, G in ((3, 9), (2, 7)):  # the unrolled cubic kernel and the general one
        layer = _large_layer(G, k, n_in=3, n_out=2)
        x = (torch.rand(13, 3, dtype=torch.float64) * 2.4 - 1.2).requires_grad_()  # some outside the grid
        s = (layer.scale_sp * layer.mask).detach().requires_grad_()
        coef = layer.coef.detach().clone().requires_grad_()
        fn = lambda x, coef, s: large_grid_matmul(x, layer.knots, layer.basis_table, k, coef, s)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x, coef, s))


@pytest.mark.parametrize("k", [2, 3])
def test_large_grid_after_update_grid_equals_dense(k, visit_order):
    """Non-uniform knots (update_grid on skewed data): the interval guess misses, the search
    must still find the right interval; gradients of coef and scale_sp, masked edges included."""
    layer = _large_layer(120, k, n_in=6, n_out=5)
    gen = torch.Generator().manual_seed(1)
    layer.update_grid((torch.rand(500, 6, generator=gen, dtype=torch.float64) * 2 - 1) ** 3)
    x = ((torch.rand(200, 6, generator=gen, dtype=torch.float64) * 2.2 - 1.1) ** 3).requires_grad_()
    x.data[0, 0] = layer.knots[0, 5]  # exactly on knots
    x.data[1, 1] = layer.knots[1, -1]
    res = {s: [y, gx, g["coef"], g["scale_sp"]] for s, (y, gx, g) in dense_and_large_grid(layer, x).items()}
    for a, b in zip(res[False], res[True]):
        torch.testing.assert_close(b, a, atol=1e-11, rtol=0)
    assert float(res[True][2][0, :, 1].abs().max()) == 0.0  # masked edge


def test_large_grid_serial_and_parallel_agree(monkeypatch, visit_order):
    layer = _large_layer(100, n_in=16, n_out=8)
    x = (torch.rand(300, 16, dtype=torch.float64) * 2.4 - 1.2).requires_grad_()
    outs = []
    for par_min in (1 << 62, 0):
        monkeypatch.setattr(numba_basis, "_PARALLEL_MIN", par_min)
        threads = torch.get_num_threads()
        torch.set_num_threads(2)
        try:
            layer.zero_grad(set_to_none=True)
            x.grad = None
            y = layer(x)
            y.backward(torch.sin(y))
        finally:
            torch.set_num_threads(threads)
        outs.append([y.detach(), x.grad.clone(), layer.coef.grad.clone(), layer.scale_sp.grad.clone()])
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_large_grid_partial_gradients_and_empty_batch(visit_order):
    layer = _large_layer(80)
    x = torch.rand(0, 5, dtype=torch.float64, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.shape == (0, 4) and float(layer.coef.grad.abs().sum()) == 0.0
    layer.coef.requires_grad_(False)  # only x and scale_sp
    x = (torch.rand(30, 5, dtype=torch.float64) * 2 - 1).requires_grad_()
    layer(x).sum().backward()
    gx, gs = x.grad.clone(), layer.scale_sp.grad.clone()
    layer.coef.requires_grad_(True)
    layer.zero_grad(set_to_none=True)
    x.grad = None
    layer(x).sum().backward()
    torch.testing.assert_close(x.grad, gx, atol=1e-13, rtol=0)
    torch.testing.assert_close(layer.scale_sp.grad, gs, atol=1e-13, rtol=0)


@pytest.mark.parametrize("k", [3, 2])
def test_interval_order_equals_batch_order(k):
    """The compiled large-grid kernels with samples visited in knot-interval order (the default
    from G + k >= SORT_MIN_BASIS) against batch order, float32: y and the input gradient
    bitwise (the same sums per sample), the parameter gradients to rounding (sums over samples
    in another order). Inputs outside the grid, on knots, NaN, and partial gradients."""
    from kanlab.kernels import numba_large_grid
    from kanlab.kernels.torch_basis import horner_tables

    layer = _large_layer(300, k, n_in=6, n_out=5).float()
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(500, 6, generator=gen) * 2.6 - 1.3
    x[0, 0], x[1, 1], x[2, 2] = layer.knots[0, 40], layer.knots[1, -1], float("nan")
    C, E, th, _ = horner_tables(layer.basis_table, k, layer.n_basis)
    coef, s = layer.coef.detach(), (layer.scale_sp * layer.mask).detach()
    gy = torch.randn(500, 5, generator=gen)
    res = {}
    for sort in (False, True):
        y, order = numba_large_grid.large_grid_forward(x, layer.knots, C, th, k, coef, s, sort=sort)
        assert order[2].numel() == (x.numel() if sort else 0)
        res[sort] = [(y,) + numba_large_grid.large_grid_backward(order, E, th, k, coef, s, gy, *need)
                     for need in ((True, True, True), (True, False, False), (False, False, True), (False, True, False))]
    for a_all, b_all in zip(res[False], res[True]):
        for i, (a, b) in enumerate(zip(a_all, b_all)):
            if a is None:
                assert b is None
            elif i < 2:
                torch.testing.assert_close(b, a, atol=0, rtol=0, equal_nan=True)
            else:
                torch.testing.assert_close(b, a, atol=2e-6 * float(a.abs().max()), rtol=0)
