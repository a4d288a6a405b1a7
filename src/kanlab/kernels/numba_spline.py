"""The spline steps every numba kernel shares: find an input's knot interval, evaluate a
polynomial of the layer's basis table by Horner's rule.

One implementation of each, inlined (``inline="always"``) into the kernels of
:mod:`numba_basis` (dense features), :mod:`numba_layer` (fused layer forward/backward) and
:mod:`numba_large_grid` (large-grid path), so that they cannot disagree about which interval a
value falls in or which polynomial it takes.

Knot interval: j = the number of knots t[i, :] <= x (``torch.searchsorted(right=True)``; 0 for
NaN). For short knot vectors a branch-free count is fastest. For long ones, loops over the
samples of one input (:func:`intervals`, the large-grid kernels) take the index uniform knots
would give, checked against the knots, with a binary search on the side it points to where the
check fails (knots moved by ``update_grid``, round-off): ~O(1) for near-uniform knots. The
per-value :func:`interval`, inlined into loops over every (sample, input), takes a plain binary
search there: the guess's extra code in that loop made the dense basis kernel ~6x slower even on
short knots (measured at in = 256, G = 5). :func:`intervals` counts a whole row of samples at
once, vectorised over the samples, so its count pays off up to longer knot vectors.

Horner: ``E[row, p, col]`` is the s^p coefficient of column col of table row ``row`` (a basis
value, or beside them its s-derivative), s in [0, 1) the local coordinate in the interval; see
``torch_basis.horner_tables``.

numba's on-disk cache does not notice edits to this module in the kernels that inline it: after
changing it, delete ``kernels/__pycache__/*.nbi`` and ``*.nbc``.
"""
from __future__ import annotations

from .numba_support import AVAILABLE, numba

__all__ = ["COUNT_MAX", "ROW_COUNT_MAX", "search", "spacing", "interval_from_guess", "interval", "intervals",
           "horner"]

COUNT_MAX = 40  # knot vectors up to this length: one value's interval by a count
ROW_COUNT_MAX = 64  # up to this length: a row of values by a count vectorised over the row

if AVAILABLE:

    @numba.njit(inline="always", cache=True)
    def search(x, t, i, lo, hi):
        """The number of knots t[i, :] <= x, known to lie in [lo, hi]: binary search."""
        while lo < hi:
            mid = (lo + hi) >> 1
            if t[i, mid] <= x:
                lo = mid + 1
            else:
                hi = mid
        return lo

    @numba.njit(inline="always", cache=True)
    def spacing(t, i):
        """First and last knot of input i and (number of knots - 1) / span, for
        :func:`interval_from_guess` (hoisted out of loops over samples)."""
        n = t.shape[1]
        lo, hi = t[i, 0], t[i, n - 1]
        return lo, hi, ((n - 1) / (hi - lo) if hi > lo else 0.0)

    @numba.njit(inline="always", cache=True)
    def interval_from_guess(xv, t, i, t_lo, t_hi, inv):
        """The knot interval of xv (see the module docstring) from the guess uniform knots give,
        checked against the knots and corrected by binary search; (t_lo, t_hi, inv) from
        :func:`spacing`."""
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
        return search(xv, t, i, lo, hi)

    @numba.njit(inline="always", cache=True)
    def interval(xv, t, i):
        """The knot interval j of value xv of input i: a count over short knot vectors, else
        a binary search (see the module docstring)."""
        n = t.shape[1]
        if n <= COUNT_MAX:
            j = 0
            for m in range(n):
                j += t[i, m] <= xv
            return j
        return search(xv, t, i, 0, n)

    @numba.njit(inline="always", cache=True)
    def intervals(x, t, i, out):
        """out[i, a] = the knot interval of x[i, a] for every sample a (x and out feature-major,
        (inputs, samples)): a count vectorised over the samples for short knot vectors."""
        n, n_knots = x.shape[1], t.shape[1]
        if n_knots <= ROW_COUNT_MAX:
            for a in range(n):
                out[i, a] = 0
            for m in range(n_knots):
                tm = t[i, m]
                for a in range(n):
                    out[i, a] += x[i, a] >= tm
            return
        t_lo, t_hi, inv = spacing(t, i)
        for a in range(n):
            out[i, a] = interval_from_guess(x[i, a], t, i, t_lo, t_hi, inv)

    @numba.njit(inline="always", cache=True)
    def horner(E, row, s, k, col):
        """sum_p E[row, p, col] s^p: column col of table row ``row`` at local coordinate s."""
        acc = E[row, k, col]
        for p in range(k - 1, -1, -1):
            acc = acc * s + E[row, p, col]
        return acc
