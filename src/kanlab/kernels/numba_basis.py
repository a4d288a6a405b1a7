"""Compiled CPU kernels for the B-spline basis (numba), used by ``torch_basis`` when available.

Why: in eager PyTorch the basis costs ~10 passes over memory (interval search, a gather of
each input's polynomial row, three Horner steps, a scatter into the dense features), and on
a memory-bound CPU that dominates a KAN layer. These kernels do the whole thing in one pass
per input, in registers: find the knot interval, evaluate the k + 1 non-zero basis values, and if asked their
x-derivatives, by Horner's rule from the layer's polynomial table (``spline.basis_table``),
and write the dense feature row. The backward is then a short gather-dot of the output
gradient with those derivatives.

Which inputs take these kernels is decided by ``kernels.dispatch`` (CPU float32/float64 tensors
outside ``torch.compile`` tracing, numba available, not turned off by the chosen backend);
everything else takes the eager torch kernels, with identical results to rounding
(tests/kernels/test_spline_kernels.py). The interval search and Horner step are
:mod:`numba_spline`'s. Compiled once per dtype (serial and parallel variants) and cached on
disk by numba (``cache=True``).
"""
from __future__ import annotations

import os
import types

import torch

from .numba_support import AVAILABLE, numba

__all__ = ["AVAILABLE", "features", "grad_input"]

_PARALLEL_MIN = 1 << 15  # rows * basis below which one thread is faster than a parallel launch


_SERIAL: dict = {}  # kernel name -> serial compilation
_PARALLEL: dict = {}  # kernel name -> parallel (prange) compilation
_FAST = {"reassoc", "contract"}  # vectorised sums and FMAs; NaN/inf semantics unchanged


def _kernel(fn):
    """Register a loop kernel (written with numba.prange) for two compilations, serial and
    parallel, each under its own name so that numba's on-disk caches never mix them."""
    for table, parallel in ((_SERIAL, False), (_PARALLEL, True)):
        suffix = "_parallel" if parallel else "_serial"
        clone = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
        clone.__qualname__ = fn.__qualname__ + suffix
        table[fn.__name__] = numba.njit(parallel=parallel, cache=True, fastmath=_FAST)(clone)
    return fn


if AVAILABLE:
    from .numba_spline import horner as _horner, interval as _interval

    @numba.njit(inline="always", cache=True)
    def _locate(xv, t, th, i):
        """(j, table row, local coordinate s in [0, 1)) of input value xv of input i."""
        j = _interval(xv, t, i)
        row = i * (t.shape[1] + 1) + j
        return j, row, (xv - th[row, 0]) * th[row, 1]

    @numba.njit(inline="always", cache=True)
    def _row(x, t, E, th, out, first, dv, a, i, k, with_deriv):
        """Dense basis row of input value x[a, i] into out[a * in + i] (and, with_deriv, the
        x-derivatives of its k + 1 non-zero values into dv, the first one's index into first).
        Inlined into the loops below, where k and with_deriv are constants for the common
        case, so the compiler unrolls it. Plain 2-D indexing: row slices would be array views,
        each with reference-count traffic."""
        nb = out.shape[1]
        q = a * x.shape[1] + i
        j, row, s = _locate(x[a, i], t, th, i)
        k1 = k + 1
        for m in range(nb):
            out[q, m] = 0.0
        for r in range(k1):
            c = j - k1 + r
            if 0 <= c < nb:
                out[q, c] = _horner(E, row, s, k, r)
            if with_deriv:
                dv[q, r] = _horner(E, row, s, k, k1 + r) * th[row, 1]
        if with_deriv:
            first[q] = j - k1

    @_kernel
    def _features_cubic(x, t, E, th, out, first, dv):
        for a in numba.prange(x.shape[0]):
            for i in range(x.shape[1]):
                _row(x, t, E, th, out, first, dv, a, i, 3, False)

    @_kernel
    def _features_cubic_deriv(x, t, E, th, out, first, dv):
        for a in numba.prange(x.shape[0]):
            for i in range(x.shape[1]):
                _row(x, t, E, th, out, first, dv, a, i, 3, True)

    @_kernel
    def _features_any(x, t, E, th, out, first, dv, k, with_deriv):
        for a in numba.prange(x.shape[0]):
            for i in range(x.shape[1]):
                _row(x, t, E, th, out, first, dv, a, i, k, with_deriv)

    @_kernel
    def _grad(first, dv, grad, gx):
        nb = grad.shape[1]
        k1 = dv.shape[1]
        for q in numba.prange(gx.shape[0]):
            c0 = first[q]
            total = 0.0
            for r in range(k1):
                c = c0 + r
                if 0 <= c < nb:
                    total += grad[q, c] * dv[q, r]
            gx[q] = total


_parallel_ok = True  # False in forked children and when numba's only threading layer is workqueue


def _no_parallel_after_fork() -> None:
    # GNU OpenMP's thread pool does not survive fork(): a forked child runs the serial kernels
    global _parallel_ok
    _parallel_ok = False


if AVAILABLE:
    os.register_at_fork(after_in_child=_no_parallel_after_fork)


def _kernels(work: int) -> dict:
    """The serial kernels for small work (a parallel launch costs more than it gains) or one
    thread, else the parallel ones on torch's thread count."""
    threads = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    if not _parallel_ok or threads <= 1 or work < _PARALLEL_MIN:
        return _SERIAL
    if numba.get_num_threads() != threads:
        numba.set_num_threads(threads)
    return _PARALLEL


def _run(name: str, work: int, *args) -> None:
    global _parallel_ok
    table = _kernels(work)
    table[name](*args)
    if table is _PARALLEL and numba.threading_layer() == "workqueue":
        _parallel_ok = False  # workqueue aborts on concurrent launches from several threads


def _np(t: torch.Tensor):
    return t.detach().contiguous().numpy()


def features(x: torch.Tensor, knots: torch.Tensor, E: torch.Tensor, th: torch.Tensor, k: int, n_basis: int,
             with_deriv: bool = False):
    """Dense basis features (N * in, n_basis) of x (N, in), E and th from
    ``torch_basis.horner_tables``; with_deriv: also (first, dvals), the index of each input's first
    non-zero basis function (N * in,) and the x-derivatives of its k + 1 values (N * in, k + 1),
    which :func:`grad_input` takes."""
    rows = x.shape[0] * x.shape[1]
    out = torch.empty(rows, n_basis, dtype=x.dtype)
    first = torch.empty(rows if with_deriv else 1, dtype=torch.int32)
    dv = torch.empty(rows if with_deriv else 1, k + 1, dtype=x.dtype)
    if rows:
        t = knots if knots.dtype == x.dtype else knots.to(x.dtype)
        args = (_np(x), _np(t), _np(E), _np(th), out.numpy(), first.numpy(), dv.numpy())
        if k == 3:  # the default order: a kernel with k and with_deriv fixed at compile time
            _run("_features_cubic_deriv" if with_deriv else "_features_cubic", out.numel(), *args)
        else:
            _run("_features_any", out.numel(), *args, k, bool(with_deriv))
    return out, (first, dv)


def grad_input(first: torch.Tensor, dv: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """d(sum grad * features)/dx: (N * in,) for grad (N * in, n_basis)."""
    gx = torch.empty(first.shape[0], dtype=grad.dtype)
    if gx.numel():
        g = grad.reshape(gx.shape[0], -1)
        _run("_grad", g.numel(), first.numpy(), dv.numpy(), _np(g), gx.numpy())
    return gx
