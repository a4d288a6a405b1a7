"""Compiled CPU kernels (numba) for the large-grid path of ``sparse_spline``.

The spline part of a KAN layer is y[a] = sum_i sum_m B_m(x[a, i]) s[i] * coef[i, :, m], with
s = scale_sp * mask. Only k + 1 of the G + k basis functions are non-zero at any input, so the
kernels work from the coefficients directly and never form the (in * (G+k), out) weight:

  forward   inputs outer: input i's coefficient block coef[i] (out, G+k) is transposed once
            into a (G+k, out) scratch block that stays in cache (256 KB at G = 1000, out = 64),
            then every sample adds k + 1 of its rows, times s[i], into y[a].
  backward  per input, likewise: gx[a, i] = sum_r B'_r (s[i] * gy[a]) . coef[i, :, c_r], and the
            weight gradient accumulated in a (G+k, out) scratch block, A[c] = sum_a B_c(x[a, i]) gy[a],
            from which gs[i, o] = sum_c coef[i, o, c] A[c, o] and gcoef[i, o, c] = s[i, o] A[c, o]
            (one pass over 16-row blocks of A, each read once from L2).

The k + 1 basis values (and derivatives) come from the layer's polynomial table by Horner's rule
(as in ``spline_kernels``). The knot interval is the one uniform knots would give, checked
against the knots, with a binary search where the check fails, so knots moved by
``update_grid`` give the same results. The forward saves each (sample, input)'s interval and
local coordinate (in * N int32 + float: 2 MB at batch 4096, in = 64), so the backward neither
searches nor needs x; the basis values are recomputed from them. Threads split the inputs: in
the forward one block of inputs each, each writing its own partial y, summed at the end; in the
backward (no reduction there) the threads claim one input at a time (an atomic counter), so
that a thread slowed by other load on its core does fewer inputs instead of holding up the rest.
"""
from __future__ import annotations

import torch

from . import spline_kernels as _sk
from .spline_kernels import AVAILABLE, _kernel, _np, _run

__all__ = ["sparse_forward", "sparse_backward"]

if AVAILABLE:
    import numpy as np
    from numba import njit, prange
    from numba.core import types
    from numba.extending import intrinsic

    _horner, _search = _sk._horner, _sk._search

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

    @njit(inline="always", cache=True)
    def _spacing(t, i):
        """First and last knot of input i and (number of knots - 1) / span, for _interval."""
        n = t.shape[1]
        lo, hi = t[i, 0], t[i, n - 1]
        return lo, hi, ((n - 1) / (hi - lo) if hi > lo else 0.0)

    @njit(inline="always", cache=True)
    def _interval(xv, t, i, t_lo, t_hi, inv):
        """j = number of knots t[i, :] <= xv (searchsorted right; 0 for NaN, as in spline_kernels):
        the index uniform knots would give, checked against the knots; where the check fails
        (knots moved by update_grid, round-off) a binary search on the side it points to."""
        n = t.shape[1]
        if not xv >= t_lo:
            return 0
        if xv >= t_hi:
            return n
        g = min(int((xv - t_lo) * inv) + 1, n - 1)
        lo, hi = 0, n
        if t[i, g - 1] > xv:
            hi = g - 1
        elif t[i, g] <= xv:
            lo = g + 1
        else:
            return g
        return _search(xv, t, i, lo, hi)

    @njit(inline="always", cache=True)
    def _transpose(src, dst):
        """dst[q, p] = src[p, q], in fixed 16 x 16 tiles (unrolled and vectorised by the compiler,
        about 2.5x faster than a plain double loop)."""
        P, Q = src.shape
        pm, qm = P - P % 16, Q - Q % 16
        for q0 in range(0, qm, 16):
            for p0 in range(0, pm, 16):
                for q in range(16):
                    for p in range(16):
                        dst[q0 + q, p0 + p] = src[p0 + p, q0 + q]
        for q in range(qm, Q):
            for p in range(pm):
                dst[q, p] = src[p, q]
        for q in range(Q):
            for p in range(pm, P):
                dst[q, p] = src[p, q]

    @njit(inline="always", cache=True)
    def _locate(xt, t, th, i, a, t_lo, t_hi, inv):
        """(interval j, table row, local coordinate) of x[a, i]; its first basis function is j - k - 1."""
        nk = t.shape[1]
        xv = xt[i, a]
        j = _interval(xv, t, i, t_lo, t_hi, inv)
        row = i * (nk + 1) + j
        return j, row, (xv - th[row, 0]) * th[row, 1]

    @njit(inline="always", cache=True)
    def _fwd_inputs(xt, t, E, th, coef, s, y, lo, hi, k, js, ss):
        """y = the contribution of inputs lo..hi-1 (y is overwritten); the knot interval and
        local coordinate of every x[a, i] into js[i, a], ss[i, a] (for the backward)."""
        n_out, nb = coef.shape[1], coef.shape[2]
        n, k1 = xt.shape[1], k + 1
        w = np.empty((nb, n_out), dtype=coef.dtype)
        for a in range(n):
            for o in range(n_out):
                y[a, o] = 0.0
        for i in range(lo, hi):
            _transpose(coef[i], w)
            t_lo, t_hi, inv = _spacing(t, i)
            for a in range(n):
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
    def _finish(acc, w, s, i, gc, gs, need_c, need_s):
        """gs[i, o] += sum_c w[c, o] acc[c, o] and gc[o, c] = s[i, o] acc[c, o], 16 rows of acc
        at a time (each block read once from L2, then from L1)."""
        nb, n_out = acc.shape
        for c0 in range(0, nb, 16):
            c1 = min(nb, c0 + 16)
            if need_s:
                for c in range(c0, c1):
                    for o in range(n_out):
                        gs[i, o] += w[c, o] * acc[c, o]
            if need_c:
                for c in range(c0, c1):
                    for o in range(n_out):
                        acc[c, o] *= s[i, o]
                if c1 - c0 == 16:
                    for o0 in range(0, n_out - n_out % 16, 16):
                        for o in range(o0, o0 + 16):
                            for c in range(16):
                                gc[o, c0 + c] = acc[c0 + c, o]
                    for o in range(n_out - n_out % 16, n_out):
                        for c in range(16):
                            gc[o, c0 + c] = acc[c0 + c, o]
                else:
                    for o in range(n_out):
                        for c in range(c0, c1):
                            gc[o, c] = acc[c, o]

    @njit(inline="always", cache=True)
    def _bwd_inputs(E, th, coef, s, gy, js, ss, lo, hi, k, need_x, need_c, need_s, gxt, gcoef, gs, w, acc, sg):
        """Gradients for inputs lo..hi-1 (gs rows zero on entry), from the intervals js and local
        coordinates ss that the forward saved. w, acc: scratch (G+k, out) where needed (else
        (1, out)); sg: scratch (out,)."""
        n_out, nb = coef.shape[1], coef.shape[2]
        n, k1 = js.shape[1], k + 1
        nr = th.shape[0] // coef.shape[0]
        need_w = need_c or need_s
        zero = coef.dtype.type(0)  # accumulators in the data type (a 0.0 literal would make them float64)
        for i in range(lo, hi):
            if need_x or need_s:
                _transpose(coef[i], w)
            if need_w:
                for c in range(nb):
                    for o in range(n_out):
                        acc[c, o] = 0.0
            for a in range(n):
                j, sl = js[i, a], ss[i, a]
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
            if need_w:
                _finish(acc, w, s, i, gcoef[i], gs, need_c, need_s)

    @_kernel
    def _sparse_fwd(xt, t, E, th, coef, s, yp, k, chunk, js, ss):
        n_in = xt.shape[0]
        for b in prange(yp.shape[0]):
            _fwd_inputs(xt, t, E, th, coef, s, yp[b], b * chunk, min(n_in, b * chunk + chunk), k, js, ss)

    @_kernel
    def _sparse_bwd(E, th, coef, s, gy, js, ss, need_x, need_c, need_s, gxt, gcoef, gs, k, workers):
        """One input at a time, claimed by the workers (each input's gradients are its own:
        nothing to reduce, results independent of scheduling)."""
        n_in, n_out, nb = coef.shape
        need_w = need_c or need_s
        ctr = np.zeros(1, dtype=np.int64)
        for _ in prange(workers):
            w = np.empty((nb if (need_x or need_s) else 1, n_out), dtype=coef.dtype)
            acc = np.empty((nb if need_w else 1, n_out), dtype=coef.dtype)
            sg = np.empty(n_out, dtype=coef.dtype)
            i = _claim(ctr)
            while i < n_in:
                _bwd_inputs(E, th, coef, s, gy, js, ss, i, i + 1, k, need_x, need_c, need_s, gxt, gcoef, gs,
                            w, acc, sg)
                i = _claim(ctr)


def _workers(work: int) -> int:
    """Threads the kernel will run on: 1 where the serial kernels run (small work, one thread)."""
    return _sk.numba.get_num_threads() if _sk._kernels(work) is _sk._PARALLEL else 1


def sparse_forward(x: torch.Tensor, knots: torch.Tensor, E: torch.Tensor, th: torch.Tensor, k: int,
                   coef: torch.Tensor, s: torch.Tensor):
    """y (N, out) = sum_i sum_m B_m(x[:, i]) coef[i, :, m] s[i, :] for x (N, in), coef (in, out, G+k),
    s (in, out); E (or C: the values alone) and th from ``spline._horner_tables``. Returns y and
    ``order`` for :func:`sparse_backward`: the knot interval (in, N) and local coordinate (in, N)
    of every input value."""
    n, n_in = x.shape
    js = torch.empty(n_in, n, dtype=torch.int32)
    ss = torch.empty(n_in, n, dtype=x.dtype)
    if not n:
        return x.new_zeros(0, coef.shape[1]), (js, ss)
    work = n * n_in * (k + 1) * coef.shape[1]
    chunk = -(-n_in // min(n_in, _workers(work)))  # one block of inputs per thread
    yp = torch.empty(-(-n_in // chunk), n, coef.shape[1], dtype=x.dtype)
    _run("_sparse_fwd", work, _np(x.t()), _np(knots.to(x.dtype)), _np(E), _np(th), _np(coef), _np(s),
         yp.numpy(), k, chunk, js.numpy(), ss.numpy())
    return (yp[0] if yp.shape[0] == 1 else yp.sum(0)), (js, ss)


def sparse_backward(order, E, th, k: int, coef, s, gy, need_x: bool, need_c: bool, need_s: bool):
    """Gradients of :func:`sparse_forward` (``order``: what it returned beside y) for the output
    gradient gy: (gx, gcoef, gs), None where not asked."""
    n_in, n = order[0].shape
    gxt = torch.zeros(n_in if need_x else 1, n if need_x else 1, dtype=coef.dtype)
    gcoef = torch.empty(coef.shape if need_c else (1, 1, 1), dtype=coef.dtype)
    gs = torch.zeros(s.shape if need_s else (1, 1), dtype=coef.dtype)
    if n:
        work = n * n_in * (k + 1) * coef.shape[1] * 2
        _run("_sparse_bwd", work, _np(E), _np(th), _np(coef), _np(s), _np(gy), *(o.numpy() for o in order),
             bool(need_x), bool(need_c), bool(need_s), gxt.numpy(), gcoef.numpy(), gs.numpy(), k,
             _workers(work))
    elif need_c:
        gcoef.zero_()
    return (gxt.t() if need_x else None), (gcoef if need_c else None), (gs if need_s else None)

