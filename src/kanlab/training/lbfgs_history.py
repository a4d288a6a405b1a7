"""The L-BFGS curvature history kept as inner products, and the search direction from it.

The history holds m pairs (s_i, y_i) as rows of one (2m, n) buffer and their inner products
s_i.y_j and y_i.y_j as small (m, m) matrices, so that the two-loop recursion (Nocedal & Wright,
Alg. 7.4) becomes two small matrix-vector products per iteration instead of 4m dot products.
The loops below are compiled by numba where it runs (``kernels.numba_support``, KANLAB_NUMBA;
``dispatch.lbfgs_uses_numba`` decides per call) and run as plain Python otherwise; the torch-op
equivalent lives in :class:`kanlab.training.lbfgs.LBFGS` for non-CPU tensors.
"""
from __future__ import annotations

import numpy as np

from ..kernels.numba_support import njit as _njit

__all__ = ["record_pair", "two_loop", "push_pair", "direction_flat"]


@_njit(cache=True)
def record_pair(order, slot, prods, sy, yy):
    """Store the inner products of the new pair (in ``slot``) with every pair in ``order``;
    prods (2m, 2): rows [0, m) s_i.s_new, s_i.y_new, rows [m, 2m) y_i.s_new, y_i.y_new."""
    m = sy.shape[0]
    for j in order:
        sy[slot, j] = prods[m + j, 0]  # s_new . y_j
        sy[j, slot] = prods[j, 1]  # s_j . y_new
        yy[slot, j] = prods[m + j, 1]
        yy[j, slot] = prods[m + j, 1]


@_njit(cache=True)
def two_loop(order, rho, sy, yy, bg, h, v):
    """Coefficients v (2m,) with -H g = -h g + B^T v, B = [S; Y] the history (rows in slots,
    ``order`` oldest first) and bg = B g.

    First loop, newest to oldest: a_i = rho_i s_i.q_i with q_i = -g - sum_{j newer} a_j y_j,
    so s_i.q_i = -s_i.g - sum_{j newer} a_j (s_i.y_j). Then r0 = h (-g - sum_j a_j y_j).
    Second loop, oldest to newest: b_i = rho_i y_i.r_i with r_i = r0 + sum_{j older} c_j s_j,
    c_j = a_j - b_j, so y_i.r_i = y_i.r0 + sum_{j older} c_j (s_j.y_i), and
    y_i.r0 = h (-y_i.g - sum_j a_j (y_i.y_j)). The result r0 + sum_j c_j s_j is
    -h g + B^T [c; -h a].
    """
    m = sy.shape[0]
    n = len(order)
    a = np.zeros(m)
    c = np.zeros(m)
    for pos in range(n - 1, -1, -1):
        i = order[pos]
        acc = -bg[i]
        for q in range(pos + 1, n):
            acc -= a[order[q]] * sy[i, order[q]]
        a[i] = rho[i] * acc
    for pos in range(n):
        i = order[pos]
        yr = -bg[m + i]
        for q in range(n):
            yr -= a[order[q]] * yy[i, order[q]]
        yr *= h
        for q in range(pos):
            yr += c[order[q]] * sy[order[q], i]
        c[i] = a[i] - rho[i] * yr
    for q in range(n):
        i = order[q]
        v[i] = c[i]
        v[m + i] = -h * a[i]


@_njit(cache=True, fastmath={"reassoc", "contract"})
def push_pair(hist, order, slot, s, y, sy, yy):
    """Write the pair (s, y) into history slot ``slot`` (rows slot and m + slot of hist, float64)
    and its inner products with every pair in ``order`` (the new one included) into sy, yy:
    one pass over the history instead of a handful of torch calls (CPU, with numba)."""
    m, n = sy.shape[0], hist.shape[1]
    for q in range(n):
        hist[slot, q] = s[q]
        hist[m + slot, q] = y[q]
    for j in order:
        sn_yj, sj_yn, yn_yj = 0.0, 0.0, 0.0
        for q in range(n):
            sn_yj += hist[slot, q] * hist[m + j, q]
            sj_yn += hist[j, q] * hist[m + slot, q]
            yn_yj += hist[m + slot, q] * hist[m + j, q]
        sy[slot, j] = sn_yj
        sy[j, slot] = sj_yn
        yy[slot, j] = yn_yj
        yy[j, slot] = yn_yj


@_njit(cache=True, fastmath={"reassoc", "contract"})
def direction_flat(hist, order, rho, sy, yy, g, h, out):
    """out = -H g (the two-loop recursion on the stored products, see two_loop), with B g and
    the final -h g + B^T v computed here too: one compiled call per iteration (CPU)."""
    m, n = sy.shape[0], g.shape[0]
    bg = np.zeros(2 * m)
    for i in order:
        sg, yg = 0.0, 0.0
        for q in range(n):
            sg += hist[i, q] * g[q]
            yg += hist[m + i, q] * g[q]
        bg[i], bg[m + i] = sg, yg
    v = np.zeros(2 * m)
    two_loop(order, rho, sy, yy, bg, h, v)
    r = np.empty(n)
    for q in range(n):
        r[q] = -h * g[q]
    for i in order:
        vs, vy = v[i], v[m + i]
        for q in range(n):
            r[q] += vs * hist[i, q] + vy * hist[m + i, q]
    for q in range(n):
        out[q] = r[q]
