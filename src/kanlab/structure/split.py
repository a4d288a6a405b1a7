"""Is f(A, B) = g(A) + h(B), g(A) h(B) or g1(A) h1(B) + g2(A) h2(B)? One numerical test, shared by
:mod:`kanlab.structure` (the public tests) and :mod:`kanlab.discovery.separable` (discover).

For a split of the variables into groups A and B, sample m points a_1..a_m of A and b_1..b_m
of B (the other columns held at a base point) and form M_ij = f(a_i, b_j). Then

  * f = g(A) + h(B)        (additive)  <=>  M minus its row and column means (plus the grand
                                             mean) vanishes;
  * f = g(A) h(B)          (product)   <=>  M has rank 1;
  * f = sum_k g_k(A) h_k(B), k <= r    <=>  M has rank r (r = 2: e.g. 1 + a sin(theta)).

"Vanishes" means: the RMS of what is left (after removing the means, or beyond the first r
singular values) is at most the tolerance, the accuracy to which f is known.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["KINDS", "split_matrix", "split_scores", "rank_residual", "best_split"]

KINDS = ("add", "mul", "rank2")


def split_matrix(f, A, B, sample, m: int = 24) -> np.ndarray:
    """M_ij = f(a_i, b_j) for m random points of A and of B. ``sample(idx, m)``: an (m, n)
    array with the columns idx drawn at random and the others at the base point."""
    XA, XB = sample(A, m), sample(B, m)
    X = np.repeat(XA, m, axis=0)
    X[:, B] = np.tile(XB[:, B], (m, 1))
    return f(X).reshape(m, m)


def rank_residual(s: np.ndarray, size: int, r: int) -> float:
    """RMS over the ``size`` entries of a matrix of what lies beyond its first r singular values s."""
    return math.sqrt(float(np.sum(s[r:] ** 2)) / size)


def split_scores(M: np.ndarray) -> tuple[float, float, float]:
    """(additive residual, rank-1 residual, rank-2 residual), each an RMS over the entries."""
    add = M - M.mean(axis=1, keepdims=True) - M.mean(axis=0, keepdims=True) + M.mean()
    s = np.linalg.svd(M, compute_uv=False)
    return math.sqrt(float(np.mean(add ** 2))), rank_residual(s, M.size, 1), rank_residual(s, M.size, 2)


def best_split(f, idx, sample, tol, kinds=KINDS):
    """The simplest passing split of the variables idx, as (kind, A, B), or None: additive before
    product before rank 2 (only the ``kinds`` asked for); within a kind the one with the smaller
    group first (peeling one variable at a time), then the lower residual."""
    found = []
    n = len(idx)
    for r in range(1, n // 2 + 1):
        for A in itertools.combinations(idx, r):
            if 2 * r == n and idx[0] not in A:
                continue  # each balanced split once
            B = [k for k in idx if k not in A]
            scores = split_scores(split_matrix(f, list(A), B, sample))
            for kind, s in enumerate(scores):
                if KINDS[kind] in kinds and s <= tol:
                    found.append((kind, r, s, list(A), B))
                    break
    if not found:
        return None
    kind, _, _, A, B = min(found, key=lambda t: t[:3])
    return KINDS[kind], A, B
