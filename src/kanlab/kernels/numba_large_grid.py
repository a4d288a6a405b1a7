"""Compiled CPU kernels (numba) for the large-grid path of ``sparse_spline``.

The spline part of a KAN layer is y[a] = sum_i sum_m B_m(x[a, i]) s[i] * coef[i, m], with
s = scale_sp * mask and coef (in, G+k, out). Only k + 1 of the G + k basis functions are non-zero
at any input, so the kernels work from the coefficients directly and never form the
(in * (G+k), out) weight:

  forward   inputs outer: input i's coefficient block coef[i] (G+k, out) stays in cache
            (256 KB at G = 1000, out = 64) while every sample adds k + 1 of its rows, times
            s[i], into y[a].
  backward  per input, likewise: gx[a, i] = sum_r B'_r (s[i] * gy[a]) . coef[i, c_r], and the
            weight gradient accumulated in place in gcoef[i], A[c] = sum_a B_c(x[a, i]) gy[a],
            then one pass over it gives gs[i] = sum_c coef[i, c] A[c] and gcoef[i, c] = s[i] A[c].

The layer keeps coef in this layout so that no kernel transposes it (an earlier (in, out, G+k)
layout cost three 16 MB transposes per step at G = 1000).

Large grids (G + k >= SORT_MIN_BASIS): the coefficient block and its gradient (256 KB each at
G = 1000) no longer fit in L1, and samples in batch order touch random rows of them. There the
forward first sorts each input's samples by knot interval (a counting sort, O(N + G)) and visits
them in that order, so those rows are visited in order; the y row of the sample a few places
ahead (in the backward its gy row) is prefetched, as those rows are now the random ones. The
order is saved for the backward (in * N int32 more). Sums over samples then run in another
order: results equal the unsorted kernels' to rounding (y and gx bitwise).

The knot interval and the k + 1 basis values (and derivatives) from the layer's polynomial table
by Horner's rule are :mod:`numba_spline`'s (the interval from the guess uniform knots give,
corrected by binary search where knots moved by ``update_grid`` make it miss). The forward saves each (sample, input)'s interval and
local coordinate (in * N int32 + float: 2 MB at batch 4096, in = 64), so the backward neither
searches nor needs x; the basis values are recomputed from them. Threads split the inputs: in
the forward one block of inputs each, each writing its own partial y, summed at the end; in the
backward (no reduction there) the threads claim one input at a time (an atomic counter), so
that a thread slowed by other load on its core does fewer inputs instead of holding up the rest.
"""
from __future__ import annotations

import torch

from . import numba_basis
from .numba_basis import AVAILABLE, _kernel, _np, _run

__all__ = ["large_grid_forward", "large_grid_backward", "SORT_MIN_BASIS"]

SORT_MIN_BASIS = 128  # G + k from which each input's samples are visited in knot-interval order
_AHEAD = 8  # in that order, the y / gy row this many samples ahead is prefetched

if AVAILABLE:
    import numpy as np
    from numba import njit, prange
    from llvmlite import binding as _llvm
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    from .numba_spline import horner as _horner, interval_from_guess as _interval, spacing as _spacing

    @intrinsic
    def _claim(typingctx, ctr):
        """Atomically ctr[0] += 1, returning the old value: the next unclaimed piece of work.
        Threads take pieces as they finish the last (dynamic scheduling), so a thread slowed by
        other load on its core (another process, a busy neighbour on a shared host) does less of
        the work instead of holding up the whole kernel, as a fixed split would."""
        if not (isinstance(ctr, types.Array) and ctr.ndim == 1 and ctr.dtype == types.int64):
            return None

        def codegen(context, builder, sig, args):
            ary = context.make_array(sig.args[0])(context, builder, args[0])
            return builder.atomic_rmw("add", ary.data, context.get_constant(types.int64, 1), "monotonic")

        return types.int64(ctr), codegen

    _PREFETCH = "llvm.prefetch.p0" if _llvm.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"

    @intrinsic
    def _prefetch_row(typingctx, arr, a, write):
        """A hint to bring row a of the C-contiguous 2-D array arr (its first 8 cache lines) into
        cache, for reading (write = 0) or writing (1): no effect on results."""
        if not (isinstance(arr, types.Array) and arr.ndim == 2 and isinstance(a, types.Integer)
                and isinstance(write, types.IntegerLiteral)):
            return None
        rw = write.literal_value

        def codegen(context, builder, sig, args):
            ary = context.make_array(sig.args[0])(context, builder, args[0])
            ncol = builder.extract_value(ary.shape, 1)
            row = builder.sext(args[1], ncol.type) if args[1].type.width < ncol.type.width else args[1]
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            start = builder.bitcast(builder.gep(ary.data, [builder.mul(row, ncol)]), i8p)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                                _PREFETCH)
            nbytes = builder.mul(ncol, ir.Constant(ncol.type, context.get_abi_sizeof(context.get_data_type(sig.args[0].dtype))))
            for q in range(8):
                off = ir.Constant(ncol.type, 64 * q)
                with builder.if_then(builder.icmp_signed("<", off, nbytes)):
                    builder.call(fn, [builder.gep(start, [off]), ir.Constant(i32, rw), ir.Constant(i32, 3), ir.Constant(i32, 1)])
            return context.get_dummy_value()

        return types.none(arr, a, write), codegen

    @njit(inline="always", cache=True)
    def _locate(xt, t, th, i, a, t_lo, t_hi, inv):
        """(interval j, table row, local coordinate) of x[a, i]; its first basis function is j - k - 1."""
        nk = t.shape[1]
        xv = xt[i, a]
        j = _interval(xv, t, i, t_lo, t_hi, inv)
        row = i * (nk + 1) + j
        return j, row, (xv - th[row, 0]) * th[row, 1]

    @njit(inline="always", cache=True)
    def _sort_input(xt, t, th, i, t_lo, t_hi, inv, js, ss, perm, hist, jt, st):
        """Counting sort of input i's samples by knot interval: perm[i, p] = the p-th sample in
        that order, js[i, p] and ss[i, p] its interval and local coordinate."""
        n, nk = xt.shape[1], t.shape[1]
        for b in range(nk + 1):
            hist[b] = 0
        for a in range(n):
            j, _, sl = _locate(xt, t, th, i, a, t_lo, t_hi, inv)
            jt[a], st[a] = j, sl
            hist[j] += 1
        total = 0
        for b in range(nk + 1):
            c = hist[b]
            hist[b] = total
            total += c
        for a in range(n):
            j = jt[a]
            p = hist[j]
            hist[j] = p + 1
            perm[i, p], js[i, p], ss[i, p] = a, j, st[a]

    @njit(inline="always", cache=True)
    def _fwd_inputs(xt, t, E, th, coef, s, y, lo, hi, k, js, ss, perm, sort):
        """y = the contribution of inputs lo..hi-1 (y is overwritten); the knot interval and
        local coordinate of every x[a, i] into js[i, p], ss[i, p] (for the backward), where p = a,
        or with sort the position of sample a = perm[i, p] in knot-interval order."""
        nb, n_out = coef.shape[1], coef.shape[2]
        n, k1, nr = xt.shape[1], k + 1, t.shape[1] + 1
        hist = np.empty(nr if sort else 1, dtype=np.int64)
        jt = np.empty(n if sort else 1, dtype=np.int32)
        st = np.empty(n if sort else 1, dtype=ss.dtype)
        for a in range(n):
            for o in range(n_out):
                y[a, o] = 0.0
        for i in range(lo, hi):
            w = coef[i]
            t_lo, t_hi, inv = _spacing(t, i)
            if sort:
                _sort_input(xt, t, th, i, t_lo, t_hi, inv, js, ss, perm, hist, jt, st)
            for p in range(n):
                if sort:
                    a = perm[i, p]
                    if p + _AHEAD < n:
                        _prefetch_row(y, perm[i, p + _AHEAD], 1)
                    j, sl = js[i, p], ss[i, p]
                    row = i * nr + j
                else:
                    a = p
                    j, row, sl = _locate(xt, t, th, i, a, t_lo, t_hi, inv)
                    js[i, a], ss[i, a] = j, sl
                c0 = j - k1
                if k == 3 and c0 >= 0 and c0 + 4 <= nb:  # the common case, unrolled
                    v0, v1 = _horner(E, row, sl, 3, 0), _horner(E, row, sl, 3, 1)
                    v2, v3 = _horner(E, row, sl, 3, 2), _horner(E, row, sl, 3, 3)
                    for o in range(n_out):
                        y[a, o] += s[i, o] * (v0 * w[c0, o] + v1 * w[c0 + 1, o] + v2 * w[c0 + 2, o]
                                              + v3 * w[c0 + 3, o])
                    continue
                for r in range(k1):
                    c = c0 + r
                    if 0 <= c < nb:
                        v = _horner(E, row, sl, k, r)
                        for o in range(n_out):
                            y[a, o] += s[i, o] * (v * w[c, o])

    @njit(inline="always", cache=True)
    def _bwd_inputs(E, th, coef, s, gy, js, ss, perm, sort, lo, hi, k, need_x, need_c, need_s, gxt, gcoef, gs,
                    scratch, sg):
        """Gradients for inputs lo..hi-1 (gs rows zero on entry), from the intervals js, local
        coordinates ss and (sort) sample order perm that the forward saved. The weight gradient
        of input i accumulates in gcoef[i] (or, when only gs is asked, in scratch (G+k, out));
        sg: scratch (out,)."""
        nb, n_out = coef.shape[1], coef.shape[2]
        n, k1 = js.shape[1], k + 1
        nr = th.shape[0] // coef.shape[0]
        need_w = need_c or need_s
        zero = coef.dtype.type(0)  # accumulators in the data type (a 0.0 literal would make them float64)
        for i in range(lo, hi):
            w = coef[i]
            acc = gcoef[i] if need_c else scratch
            if need_w:
                for c in range(nb):
                    for o in range(n_out):
                        acc[c, o] = 0.0
            for p in range(n):
                a = p
                if sort:  # samples in knot-interval order: coef[i] and gcoef[i] rows in order too
                    a = perm[i, p]
                    if p + _AHEAD < n:
                        _prefetch_row(gy, perm[i, p + _AHEAD], 0)
                j, sl = js[i, p], ss[i, p]
                row = i * nr + j
                c0 = j - k1
                if need_x:
                    for o in range(n_out):
                        sg[o] = s[i, o] * gy[a, o]
                if k == 3 and c0 >= 0 and c0 + 4 <= nb:  # the common case, unrolled
                    if need_w:
                        v0, v1 = _horner(E, row, sl, 3, 0), _horner(E, row, sl, 3, 1)
                        v2, v3 = _horner(E, row, sl, 3, 2), _horner(E, row, sl, 3, 3)
                        for o in range(n_out):
                            g = gy[a, o]
                            acc[c0, o] += v0 * g
                            acc[c0 + 1, o] += v1 * g
                            acc[c0 + 2, o] += v2 * g
                            acc[c0 + 3, o] += v3 * g
                    if need_x:
                        d0, d1, d2, d3 = zero, zero, zero, zero
                        for o in range(n_out):
                            g = sg[o]
                            d0 += w[c0, o] * g
                            d1 += w[c0 + 1, o] * g
                            d2 += w[c0 + 2, o] * g
                            d3 += w[c0 + 3, o] * g
                        gxt[i, a] = th[row, 1] * (_horner(E, row, sl, 3, 4) * d0 + _horner(E, row, sl, 3, 5) * d1
                                                  + _horner(E, row, sl, 3, 6) * d2 + _horner(E, row, sl, 3, 7) * d3)
                    continue
                total = zero
                for r in range(k1):
                    c = c0 + r
                    if 0 <= c < nb:
                        if need_w:
                            v = _horner(E, row, sl, k, r)
                            for o in range(n_out):
                                acc[c, o] += v * gy[a, o]
                        if need_x:
                            dot = zero
                            for o in range(n_out):
                                dot += w[c, o] * sg[o]
                            total += _horner(E, row, sl, k, k1 + r) * th[row, 1] * dot
                if need_x:
                    gxt[i, a] = total
            if need_w:  # gs[i] = sum_c coef[i, c] A[c], and the coefficient gradient s[i] A
                for c in range(nb):
                    for o in range(n_out):
                        d = acc[c, o]
                        if need_s:
                            gs[i, o] += w[c, o] * d
                        if need_c:
                            acc[c, o] = d * s[i, o]

    @_kernel
    def _large_grid_fwd(xt, t, E, th, coef, s, yp, k, chunk, js, ss, perm, sort):
        n_in = xt.shape[0]
        for b in prange(yp.shape[0]):
            _fwd_inputs(xt, t, E, th, coef, s, yp[b], b * chunk, min(n_in, b * chunk + chunk), k, js, ss, perm, sort)

    @_kernel
    def _large_grid_bwd(E, th, coef, s, gy, js, ss, perm, sort, need_x, need_c, need_s, gxt, gcoef, gs, k, workers):
        """One input at a time, claimed by the workers (each input's gradients are its own:
        nothing to reduce, results independent of scheduling)."""
        n_in, nb, n_out = coef.shape
        ctr = np.zeros(1, dtype=np.int64)
        for _ in prange(workers):
            scratch = np.empty((nb if (need_s and not need_c) else 1, n_out), dtype=coef.dtype)
            sg = np.empty(n_out, dtype=coef.dtype)
            i = _claim(ctr)
            while i < n_in:
                _bwd_inputs(E, th, coef, s, gy, js, ss, perm, sort, i, i + 1, k, need_x, need_c, need_s, gxt, gcoef,
                            gs, scratch, sg)
                i = _claim(ctr)


def _workers(work: int) -> int:
    """Threads the kernel will run on: 1 where the serial kernels run (small work, one thread)."""
    return numba_basis.numba.get_num_threads() if numba_basis._kernels(work) is numba_basis._PARALLEL else 1


def large_grid_forward(x: torch.Tensor, knots: torch.Tensor, E: torch.Tensor, th: torch.Tensor, k: int,
                   coef: torch.Tensor, s: torch.Tensor, sort: bool | None = None):
    """y (N, out) = sum_i sum_m B_m(x[:, i]) coef[i, m] s[i] for x (N, in), coef (in, G+k, out),
    s (in, out); E (or C: the values alone) and th from ``torch_basis.horner_tables``. Returns y and
    ``order`` for :func:`large_grid_backward`: the knot interval (in, N) and local coordinate (in, N)
    of every input value and, if the samples were visited in knot-interval order (``sort``; by
    default when G + k >= SORT_MIN_BASIS), that order (in, N) (else an empty tensor), by which the
    first two are arranged."""
    n, n_in = x.shape
    if sort is None:
        sort = coef.shape[1] >= SORT_MIN_BASIS
    js = torch.empty(n_in, n, dtype=torch.int32)
    ss = torch.empty(n_in, n, dtype=x.dtype)
    perm = torch.empty((n_in, n) if sort else (0, 0), dtype=torch.int32)
    if not n:
        return x.new_zeros(0, coef.shape[2]), (js, ss, perm)
    work = n * n_in * (k + 1) * coef.shape[2]
    chunk = -(-n_in // min(n_in, _workers(work)))  # one block of inputs per thread
    yp = torch.empty(-(-n_in // chunk), n, coef.shape[2], dtype=x.dtype)
    _run("_large_grid_fwd", work, _np(x.t()), _np(knots.to(x.dtype)), _np(E), _np(th), _np(coef), _np(s),
         yp.numpy(), k, chunk, js.numpy(), ss.numpy(), perm.numpy(), bool(sort))
    y = yp[0]
    for part in yp[1:]:  # the other threads' partial sums, added in place (no new (N, out) tensor)
        y += part
    return y, (js, ss, perm)


def large_grid_backward(order, E, th, k: int, coef, s, gy, need_x: bool, need_c: bool, need_s: bool):
    """Gradients of :func:`large_grid_forward` (``order``: what it returned beside y) for the output
    gradient gy: (gx, gcoef, gs), None where not asked."""
    n_in, n = order[0].shape
    gxt = torch.empty(n_in if need_x else 1, n if need_x else 1, dtype=coef.dtype)  # every entry written
    gcoef = torch.empty(coef.shape if need_c else (1, 1, 1), dtype=coef.dtype)
    gs = torch.zeros(s.shape if need_s else (1, 1), dtype=coef.dtype)
    if n:
        work = n * n_in * (k + 1) * coef.shape[2] * 2
        _run("_large_grid_bwd", work, _np(E), _np(th), _np(coef), _np(s), _np(gy), *(o.numpy() for o in order),
             order[2].numel() > 0, bool(need_x), bool(need_c), bool(need_s), gxt.numpy(), gcoef.numpy(), gs.numpy(), k,
             _workers(work))
    elif need_c:
        gcoef.zero_()
    return (gxt.t() if need_x else None), (gcoef if need_c else None), (gs if need_s else None)

