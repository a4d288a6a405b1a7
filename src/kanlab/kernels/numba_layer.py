"""Compiled (numba) forward and backward of one plain KAN layer on the k + 1 non-zero basis
values of each input, for :mod:`fused_mse`'s training evaluations on small networks.

Why: an L-BFGS fit of a small KAN (the paper's [2,5,1] recipe: ~3,400 evaluations) spends its
time in per-operation overhead: ~25 small torch kernels per evaluation, each a few
microseconds of dispatch around a few microseconds of work. Here one evaluation is two kernel
calls per layer plus one for the loss, and the work itself is sparse: an input touches only
the k + 1 coefficient columns of its knot interval (no dense (N, in * (G+k)) features).

Layout: every per-row array is feature-major, (features, N), so that the inner loops run over
rows, contiguous and independent of each other (no accumulation chain through one register
or one memory cell); a layer's output (out, N) is the next layer's input as it is.

Forward of layer y = base(x) Wb + sum_r B_r(x) Ws[., j + r] + bias, with Wb = scale_base *
mask and Ws[o, i, c] = coef[i, c, o] * scale_sp[i, o] * mask[i, o], keeps per (input, row) the
knot interval j, the k + 1 values B_r and their x-derivatives, base(x) and base'(x). The
backward turns an output gradient g (out, N) into the parameter gradients (sums over rows in
float64) and, for layers after the first, the input gradient (in, N). Results equal autograd's
to rounding (tests/kernels/test_fused_grad.py). The interval search and Horner evaluation are
:mod:`numba_spline`'s, the base functions' codes those of :mod:`base_functions`.
"""
from __future__ import annotations

from .base_functions import IDENTITY, SILU, TANH, ZERO
from .numba_support import AVAILABLE, numba

__all__ = ["AVAILABLE", "BASE_CODES", "layer_forward", "layer_backward", "mse"]

BASE_CODES = frozenset({SILU, TANH, IDENTITY, ZERO})  # the base functions' codes _base implements

_FAST = {"reassoc", "contract"}

if AVAILABLE:
    from .numba_spline import horner as _horner, intervals as _intervals

    @numba.njit(inline="always", cache=True)
    def _base(x, pre, code):
        """(base(x), base'(x)) for the codes of ``base_functions``, from its precursor pre =
        sigmoid(x) (silu) or tanh(x) (tanh), computed beforehand by torch's vectorised kernels."""
        if code == SILU:
            return x * pre, pre * (1.0 + x * (1.0 - pre))
        if code == TANH:
            return pre, 1.0 - pre * pre
        if code == IDENTITY:
            return x, 1.0
        return 0.0 * x, 0.0

    @numba.njit(inline="always", cache=True)
    def _forward(h, pre, t, E, th, k, coef, scale_base, scale_sp, mask, bias, base_code, with_deriv, have_state,
                 wb, ws, out, first, vals, dvals, bvals, bders):
        n_in, n = h.shape
        n_out = out.shape[0]
        nb = coef.shape[1]
        k1 = k + 1
        for i in range(n_in):
            for o in range(n_out):
                m = mask[i, o]
                wb[o, i] = scale_base[i, o] * m
                s = scale_sp[i, o] * m
                for c in range(nb):
                    ws[o, i, k1 + c] = coef[i, c, o] * s
        if not have_state:
            n_knots = t.shape[1]
            for i in range(n_in):
                # the knot interval j = #(knots <= x) (= first basis index + k + 1: the padded
                # column of ws)
                _intervals(h, t, i, first)
                for a in range(n):
                    xv = h[i, a]
                    b, bd = _base(xv, pre[i, a], base_code)
                    bvals[i, a] = b
                    bders[i, a] = bd
                    j = first[i, a]
                    row = i * (n_knots + 1) + j
                    s = (xv - th[row, 0]) * th[row, 1]
                    for r in range(k1):
                        vals[i, r, a] = _horner(E, row, s, k, r)
                        if with_deriv:
                            dvals[i, r, a] = _horner(E, row, s, k, k1 + r) * th[row, 1]
        for o in range(n_out):
            for a in range(n):
                out[o, a] = bias[o]
            for i in range(n_in):
                w = wb[o, i]
                for a in range(n):
                    c = first[i, a]
                    acc = bvals[i, a] * w
                    for r in range(k1):
                        acc += vals[i, r, a] * ws[o, i, c + r]
                    out[o, a] += acc

    @numba.njit(cache=True, fastmath=_FAST)
    def _forward_cubic(h, pre, t, E, th, coef, scale_base, scale_sp, mask, bias, base_code, with_deriv, have_state,
                       wb, ws, out, first, vals, dvals, bvals, bders):
        _forward(h, pre, t, E, th, 3, coef, scale_base, scale_sp, mask, bias, base_code, with_deriv, have_state,
                 wb, ws, out, first, vals, dvals, bvals, bders)

    @numba.njit(cache=True, fastmath=_FAST)
    def _forward_any(h, pre, t, E, th, k, coef, scale_base, scale_sp, mask, bias, base_code, with_deriv, have_state,
                     wb, ws, out, first, vals, dvals, bvals, bders):
        _forward(h, pre, t, E, th, k, coef, scale_base, scale_sp, mask, bias, base_code, with_deriv, have_state,
                 wb, ws, out, first, vals, dvals, bvals, bders)

    def layer_forward(h, pre, t, E, th, k, coef, scale_base, scale_sp, mask, bias, base_code, with_deriv, have_state,
                      wb, ws, out, first, vals, dvals, bvals, bders):
        """out (out, N) of the layer at h (in, N). Fills the weights wb (out, in) and ws (out, in,
        G + k + 2(k + 1)): the spline weights with k + 1 zero columns either side, so that the
        k + 1 columns from an input's interval index j are always in range and need no test (ws
        must start zeroed). Unless have_state (same h and knots as the previous call: the
        first layer during one optimiser step) also the per-input state: first (in, N) the
        interval index j, vals/dvals (in, k+1, N), bvals/bders (in, N). pre: sigmoid(h) for
        silu, tanh(h) for tanh (else unused)."""
        if k == 3:
            _forward_cubic(h, pre, t, E, th, coef, scale_base, scale_sp, mask, bias, base_code, with_deriv,
                           have_state, wb, ws, out, first, vals, dvals, bvals, bders)
        else:
            _forward_any(h, pre, t, E, th, k, coef, scale_base, scale_sp, mask, bias, base_code, with_deriv,
                         have_state, wb, ws, out, first, vals, dvals, bvals, bders)

    @numba.njit(inline="always", cache=True)
    def _backward(g, k, coef, scale_sp, mask, wb, ws, first, vals, dvals, bvals, bders, want_gx,
                  acc_s, g_coef, g_scale_base, g_scale_sp, g_bias, gx):
        n_out, n = g.shape
        n_in = first.shape[0]
        nb = coef.shape[1]
        k1 = k + 1
        acc_s[:] = 0.0
        if want_gx:
            gx[:] = 0.0
        for o in range(n_out):
            tb = 0.0
            for a in range(n):
                tb += g[o, a]
            g_bias[o] = tb
            for i in range(n_in):
                w = wb[o, i]
                tb = 0.0
                for a in range(n):
                    go = g[o, a]
                    tb += bvals[i, a] * go
                    c = first[i, a]
                    for r in range(k1):
                        acc_s[o, i, c + r] += vals[i, r, a] * go
                    if want_gx:
                        d = bders[i, a] * w
                        for r in range(k1):
                            d += dvals[i, r, a] * ws[o, i, c + r]
                        gx[i, a] += go * d
                m = mask[i, o]
                g_scale_base[i, o] = tb * m
                s = scale_sp[i, o] * m
                total = 0.0
                for c in range(nb):
                    d = acc_s[o, i, k1 + c]
                    g_coef[i, c, o] = d * s
                    total += d * coef[i, c, o]
                g_scale_sp[i, o] = total * m

    @numba.njit(cache=True, fastmath=_FAST)
    def _backward_cubic(g, coef, scale_sp, mask, wb, ws, first, vals, dvals, bvals, bders, want_gx,
                        acc_s, g_coef, g_scale_base, g_scale_sp, g_bias, gx):
        _backward(g, 3, coef, scale_sp, mask, wb, ws, first, vals, dvals, bvals, bders, want_gx,
                  acc_s, g_coef, g_scale_base, g_scale_sp, g_bias, gx)

    @numba.njit(cache=True, fastmath=_FAST)
    def _backward_any(g, k, coef, scale_sp, mask, wb, ws, first, vals, dvals, bvals, bders, want_gx,
                      acc_s, g_coef, g_scale_base, g_scale_sp, g_bias, gx):
        _backward(g, k, coef, scale_sp, mask, wb, ws, first, vals, dvals, bvals, bders, want_gx,
                  acc_s, g_coef, g_scale_base, g_scale_sp, g_bias, gx)

    def layer_backward(g, k, coef, scale_sp, mask, wb, ws, first, vals, dvals, bvals, bders, want_gx,
                       acc_s, g_coef, g_scale_base, g_scale_sp, g_bias, gx):
        """Parameter gradients of sum(g * out) for g (out, N) into g_* (the spline coefficients'
        sums over rows in the float64 work array acc_s (out, in, G + k + 2(k + 1)), the others
        in float64 registers), and with want_gx the input gradient gx (in, N)."""
        if k == 3:
            _backward_cubic(g, coef, scale_sp, mask, wb, ws, first, vals, dvals, bvals, bders, want_gx,
                            acc_s, g_coef, g_scale_base, g_scale_sp, g_bias, gx)
        else:
            _backward_any(g, k, coef, scale_sp, mask, wb, ws, first, vals, dvals, bvals, bders, want_gx,
                          acc_s, g_coef, g_scale_base, g_scale_sp, g_bias, gx)

    @numba.njit(cache=True, fastmath=_FAST)
    def mse(pred, y, g):
        """mean((pred - y)^2) (summed in float64), and its gradient into g."""
        scale = 2.0 / pred.size
        total = 0.0
        for o in range(pred.shape[0]):
            for a in range(pred.shape[1]):
                r = pred[o, a] - y[o, a]
                total += r * r
                g[o, a] = r * scale
        return total / pred.size
