"""The L-BFGS optimiser: its direction equals the textbook two-loop recursion, it minimises
standard test functions, and the flat-buffer binding is transparent."""
import pytest
import torch

from kanlab.training.lbfgs import LBFGS


def _two_loop_reference(g, pairs, h_diag):
    """Nocedal & Wright Alg. 7.4, written out plainly."""
    q = -g.clone()
    alphas = []
    for s, y in reversed(pairs):
        a = float(s.dot(q)) / float(y.dot(s))
        alphas.append(a)
        q -= a * y
    r = q * h_diag
    for (s, y), a in zip(pairs, reversed(alphas)):
        b = float(y.dot(r)) / float(y.dot(s))
        r += (a - b) * s
    return r


@pytest.mark.parametrize("backend", ["autograd-numba", "autograd-torch"], ids=["numba", "torch-ops"])
def test_direction_equals_two_loop_recursion_with_eviction(backend):
    from kanlab.kernels import dispatch

    if backend == "autograd-numba" and not dispatch.lbfgs_uses_numba(torch.zeros(1)):
        pytest.skip("numba does not run here")
    with dispatch.using(backend):  # the compiled or the torch-op history updates
        _check_direction()


def _check_direction():
    gen = torch.Generator().manual_seed(0)
    p = torch.nn.Parameter(torch.zeros(7, dtype=torch.float64))
    opt = LBFGS([p], history_size=4)
    pairs = []
    for _ in range(9):  # more pairs than the history holds: the oldest are evicted
        s = torch.randn(7, generator=gen, dtype=torch.float64)
        y = s + 0.3 * torch.randn(7, generator=gen, dtype=torch.float64)  # y.s > 0
        ys = float(y.dot(s))
        opt._push(s, y, ys)
        pairs = (pairs + [(s, y)])[-4:]
        g = torch.randn(7, generator=gen, dtype=torch.float64)
        h = ys / float(y.dot(y))
        assert abs(opt.H_diag - h) < 1e-14
        torch.testing.assert_close(opt._direction(g), _two_loop_reference(g, pairs, h), rtol=1e-11, atol=1e-12)


def _rosenbrock(x):
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


def test_follows_torch_lbfgs_and_minimises_rosenbrock():
    """Same algorithm as torch.optim.LBFGS(line_search_fn="strong_wolfe"): the same losses on
    the first steps (torch then stops on its default tolerance_change=1e-9; ours, with the
    paper's 1e-32 tolerances, goes on to the minimum)."""
    x0 = torch.tensor([-1.2, 1.0, -0.5, 0.8], dtype=torch.float64)
    curves = []
    for cls, kw in ((LBFGS, {}), (torch.optim.LBFGS, {"line_search_fn": "strong_wolfe"})):
        x = torch.nn.Parameter(x0.clone())
        opt = cls([x], lr=1.0, max_iter=20, history_size=10, **kw)

        def closure():
            x.grad = None
            loss = _rosenbrock(x)
            loss.backward()
            return loss

        curve = []
        for _ in range(6):
            opt.step(closure)
            curve.append(float(_rosenbrock(x.detach())))
        curves.append(curve)
        if cls is LBFGS:
            opt.release()
            torch.testing.assert_close(x.detach(), torch.ones(4, dtype=torch.float64), atol=1e-9, rtol=0)
    ours, ref = curves
    assert abs(ours[0] - ref[0]) <= 1e-9 * ref[0] and abs(ours[1] - ref[1]) <= 1e-8 * ref[1]
    assert ours[-1] < 1e-15


def test_flat_binding_is_transparent_and_released():
    lin = torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in lin.parameters()]
    opt = LBFGS(lin.parameters())
    assert opt._is_bound
    for p, b in zip(lin.parameters(), before):
        assert torch.equal(p.detach(), b)
    opt.release()
    assert not opt._is_bound
    w = lin.weight.data_ptr()
    assert all(p.data_ptr() != w for p in [lin.bias])
    lin.weight.data.add_(1.0)  # own storage again: the bias is untouched
    assert torch.equal(lin.bias.detach(), before[1])
