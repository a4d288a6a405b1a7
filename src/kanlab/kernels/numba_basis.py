"""Compiled CPU kernels for the B-spline basis (numba), used by ``spline`` when available.

Why: in eager PyTorch the basis costs ~10 passes over memory (interval search, a gather of
each input's polynomial row, three Horner steps, a scatter into the dense features), and on
a memory-bound CPU that dominates a KAN layer. These kernels do the whole thing in one pass
per input, in registers: find the knot interval (a count over short knot vectors, binary
search over long ones), evaluate the k + 1 non-zero basis values, and if asked their
x-derivatives, by Horner's rule from the layer's polynomial table (``spline.basis_table``),
and write the dense feature row. The backward is then a short gather-dot of the output
gradient with those derivatives.

Used only for CPU float32/float64 tensors outside ``torch.compile`` tracing, and only when
numba imports; everything else takes the eager path, with identical results to rounding
(tests/test_spline_kernels.py). ``KANLAB_NUMBA=0`` in the environment disables them.
Compiled once per dtype (serial and parallel variants) and cached on disk by numba (``cache=True``).
"""
from __future__ import annotations

import os
import types

import torch

try:  # optional: the eager kernels in spline.py are the fallback
    if os.environ.get("KANLAB_NUMBA", "1") == "0":
        raise ImportError("disabled by KANLAB_NUMBA=0")
    import numba

    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised when numba is missing
    numba = None
    AVAILABLE = False

__all__ = ["AVAILABLE", "ENABLED", "applies", "features", "grad_input"]

ENABLED = True  # set False to use the eager kernels only (benchmarks compare the two)

_PARALLEL_MIN = 1 << 15  # rows * basis below which one thread is faster than a parallel launch


def applies(x: torch.Tensor) -> bool:
    """Whether the compiled kernels can take ``x``."""
    return (AVAILABLE and ENABLED and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
            and not torch.compiler.is_compiling())


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

    @numba.njit(inline="always", cache=True)
    def _interval(x, t, i, n_knots):
        """j = number of knots t[i, :] <= x (searchsorted right): a branch-free count for short
        knot vectors, binary search for long ones."""
        if n_knots <= 40:
            j = 0
            for m in range(n_knots):
                j += t[i, m] <= x
            return j
        return _search(x, t, i, 0, n_knots)

    @numba.njit(inline="always", cache=True)
    def _search(x, t, i, lo, hi):
        """The number of knots t[i, :] <= x, known to lie in [lo, hi]: binary search."""
        while lo < hi:
            mid = (lo + hi) >> 1
            if t[i, mid] <= x:
                lo = mid + 1
            else:
                hi = mid
        return lo

    @numba.njit(inline="always", cache=True)
    def _locate(xv, t, th, i):
        """(j, table row, local coordinate s in [0, 1)) of input value xv of input i."""
        n_knots = t.shape[1]
        j = _interval(xv, t, i, n_knots)
        row = i * (n_knots + 1) + j
        return j, row, (xv - th[row, 0]) * th[row, 1]

    @numba.njit(inline="always", cache=True)
    def _horner(E, row, s, k, col):
        """sum_p E[row, p, col] s^p (column col of the table: a basis value or its s-derivative)."""
        acc = E[row, k, col]
        for p in range(k - 1, -1, -1):
            acc = acc * s + E[row, p, col]
        return acc

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
