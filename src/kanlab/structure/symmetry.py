"""Two-variable symmetries, tested on a numeric oracle: for :func:`kanlab.structure.symmetries` and
:mod:`kanlab.discovery.separable`.

A function of several variables often depends on two of them only through one combination
(the tests of Udrescu & Tegmark's AI Feynman). On the oracle f, for a pair (x_i, x_j):

  kind     invariance tested                 f depends on        needs
  ``diff``  f(x_i + s, x_j + s) = f(x_i, x_j)   u = x_i - x_j
  ``sum``   f(x_i + s, x_j - s) = f(x_i, x_j)   u = x_i + x_j
  ``prod``  f(x_i s, x_j / s)   = f(x_i, x_j)   u = x_i x_j          x_i, x_j > 0 on the box
  ``ratio`` f(x_i s, x_j s)     = f(x_i, x_j)   u = x_i / x_j        x_i, x_j > 0 on the box

Each move s is drawn per sample inside the range that keeps both variables in the data's box
(the oracle is only trusted there). A pair passes when the RMS change of f under the moves is
within the oracle's tolerance. The reduced function F(u, rest) is evaluated through f at a point
(x_i, x_j) of the box with that u: x_j as close to its box centre as the box allows.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["KINDS", "scan_symmetries", "passes", "find_symmetry", "u_range", "recover", "combine", "reduce_oracle"]

KINDS = ("diff", "sum", "prod", "ratio")


def _positive(lo, i, j) -> bool:
    return lo[i] > 0 and lo[j] > 0


def _move(kind, xi, xj, bi, bj, rng):
    """Random moves of (xi, xj) that keep the combination of ``kind`` and stay in the boxes."""
    (li, hi_), (lj, hj) = bi, bj
    if kind == "diff":
        a, b = np.maximum(li - xi, lj - xj), np.minimum(hi_ - xi, hj - xj)
    elif kind == "sum":
        a, b = np.maximum(li - xi, xj - hj), np.minimum(hi_ - xi, xj - lj)
    elif kind == "prod":
        a, b = np.maximum(np.log(li / xi), np.log(xj / hj)), np.minimum(np.log(hi_ / xi), np.log(xj / lj))
    else:
        a, b = np.maximum(np.log(li / xi), np.log(lj / xj)), np.minimum(np.log(hi_ / xi), np.log(hj / xj))
    s = a + (b - a) * rng.uniform(size=xi.shape)
    if kind == "diff":
        return xi + s, xj + s
    if kind == "sum":
        return xi + s, xj - s
    if kind == "prod":
        return xi * np.exp(s), xj * np.exp(-s)
    return xi * np.exp(s), xj * np.exp(s)


def scan_symmetries(f, X, idx, lo, hi, rng):
    """For each (kind, i, j) of KINDS x pairs of idx, in that order, yield (kind, i, j, rms): the
    RMS change of f on the samples X under the moves of ``kind``, or None where the test cannot
    run (``prod``/``ratio`` need both variables positive on the box; a box that leaves too little
    room to move). Lazy: a caller that stops early draws no further random moves."""
    y = f(X)
    for kind, (i, j) in itertools.product(KINDS, itertools.combinations(idx, 2)):
        if kind in ("prod", "ratio") and not _positive(lo, i, j):
            yield kind, i, j, None
            continue
        X2 = X.copy()
        X2[:, i], X2[:, j] = _move(kind, X[:, i], X[:, j], (lo[i], hi[i]), (lo[j], hi[j]), rng)
        moved = np.abs(X2[:, i] - X[:, i]) > 0.05 * (hi[i] - lo[i])
        if moved.sum() < len(X) // 4:
            yield kind, i, j, None  # the box leaves too little room for a meaningful test
            continue
        yield kind, i, j, float(np.sqrt(np.mean((f(X2) - y) ** 2)))


def passes(rms, tol) -> bool:
    """The pass rule: invariant to RMS <= sqrt(2) tol, the error of a difference of two values of f."""
    return rms is not None and rms <= math.sqrt(2.0) * tol


def find_symmetry(f, X, idx, lo, hi, tol, rng):
    """The first (kind, i, j) of KINDS x pairs of idx under which f is invariant on the samples
    X (:func:`passes`), or None."""
    for kind, i, j, rms in scan_symmetries(f, X, idx, lo, hi, rng):
        if passes(rms, tol):
            return kind, i, j
    return None


def u_range(kind, bi, bj):
    """The range of the combination u over the box bi x bj."""
    (li, hi_), (lj, hj) = bi, bj
    if kind == "diff":
        return li - hj, hi_ - lj
    if kind == "sum":
        return li + lj, hi_ + hj
    if kind == "prod":
        return li * lj, hi_ * hj
    return li / hj, hi_ / lj


def recover(kind, u, bi, bj):
    """A point (xi, xj) of the box with combination u: xj nearest its box centre."""
    (li, hi_), (lj, hj) = bi, bj
    if kind == "diff":
        a, b = li - u, hi_ - u            # xi = u + xj in [li, hi]
    elif kind == "sum":
        a, b = u - hi_, u - li            # xi = u - xj
    elif kind == "prod":
        a, b = u / hi_, u / li            # xi = u / xj
    else:
        a, b = li / u, hi_ / u            # xi = u xj
    xj = np.clip((lj + hj) / 2, np.maximum(a, lj), np.minimum(b, hj))
    if kind == "diff":
        xi = u + xj
    elif kind == "sum":
        xi = u - xj
    elif kind == "prod":
        xi = u / xj
    else:
        xi = u * xj
    return np.clip(xi, li, hi_), xj


def combine(kind, si, sj):
    """The combination as a formula of the two variables' formulas."""
    if kind == "diff":
        return si - sj
    if kind == "sum":
        return si + sj
    return si * sj if kind == "prod" else si / sj


def reduce_oracle(f, kind, i, j, bi, bj, u):
    """F(Z) = f with (x_i, x_j) set from the combination u read in column ``u`` of Z (a point of
    the box bi x bj with that combination, :func:`recover`): f as a function of one variable fewer."""
    def F(Z):
        Z = Z.copy()
        Z[:, i], Z[:, j] = recover(kind, Z[:, u], bi, bj)
        return f(Z)
    return F
