"""The public structure tests: additive, multiplicative and general (rank-2) separability, and
two-variable symmetries, of a model or a callable f on the box of data X (or on ``bounds``).

Each returns a small record with the evidence: the groups or pairs found, the residual of every
test that was run, and the tolerance they were judged by (``tol``, or ``rtol`` x the spread of f
on the box). The numerics are :mod:`kanlab.structure.split` and :mod:`kanlab.structure.symmetry`,
the same tests :func:`kanlab.discover` runs on its trained oracle.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..validate import KanlabError
from . import split, symmetry
from .oracle import Box, as_oracle, make_box, tolerance

__all__ = ["Separability", "Symmetry", "Symmetries", "additive_separability", "multiplicative_separability",
           "general_separability", "symmetries", "Problem", "setup", "active_variables"]

MAX_SEARCH_VARS = 12  # an unguided search tries every split: 2^(n-1) of them


@dataclass(frozen=True)
class Separability:
    """``kind``: "additive", "multiplicative" or "rank-2". ``groups``: the groups found (finest
    partition for additive / multiplicative; the two sides for rank-2) or the groups given.
    ``tests``: (A, B, residual) of each split tested; a split passes when residual <= ``tol``.
    ``unused``: variables f does not depend on (in no group)."""
    kind: str
    separable: bool
    groups: list
    tests: list
    tol: float
    unused: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.separable


@dataclass(frozen=True)
class Symmetry:
    """f depends on x_i, x_j only through ``combination`` (kind: diff x_i - x_j, sum x_i + x_j,
    prod x_i x_j, ratio x_i / x_j); ``residual``: RMS change of f under moves that keep it."""
    kind: str
    i: int
    j: int
    residual: float

    @property
    def combination(self) -> str:
        op = {"diff": "-", "sum": "+", "prod": "*", "ratio": "/"}[self.kind]
        return f"x{self.i} {op} x{self.j}"


@dataclass(frozen=True)
class Symmetries:
    """``found``: the symmetries that pass (residual <= sqrt(2) tol); ``tests``: every (kind, i,
    j, residual) tried, residual None where the test could not run (prod / ratio need both
    variables positive on the box)."""
    found: list
    tests: list
    tol: float

    def __bool__(self) -> bool:
        return bool(self.found)


@dataclass
class Problem:
    f: object   # the numpy oracle
    box: Box
    tol: float
    n: int


def setup(f, X=None, bounds=None, tol=None, rtol=1e-2, output=0, seed=0) -> Problem:
    box, torch_input = make_box(X, bounds, seed)
    n = len(box.lo)
    oracle = as_oracle(f, n, torch_input, output)
    return Problem(oracle, box, tolerance(oracle, box, tol, rtol), n)


def active_variables(f, idx, box: Box, tol: float) -> list:
    """The variables of idx that f depends on: moving one at random changes f by more than tol (RMS)."""
    X = box.sample(idx, 200)
    y = f(X)
    keep = []
    for k in idx:
        X2 = X.copy()
        X2[:, k] = box.rng.uniform(box.lo[k], box.hi[k], size=len(X))
        if float(np.sqrt(np.mean((f(X2) - y) ** 2))) > tol:
            keep.append(k)
    return keep


def _check_groups(groups, n):
    gs = [sorted(int(k) for k in g) for g in groups]
    flat = [k for g in gs for k in g]
    if len(gs) < 2 or any(not g for g in gs) or len(set(flat)) != len(flat) or not all(0 <= k < n for k in flat):
        raise KanlabError(f"groups must be 2 or more non-empty, disjoint lists of column indices in 0..{n - 1}, "
                          f"got {groups!r}")
    return gs


def _residual(p: Problem, A, B, kind: str) -> float:
    M = split.split_matrix(p.f, A, B, p.box.sample)
    return split.split_scores(M)[split.KINDS.index(kind)]


def _anchor_box(p: Problem, box: Box, idx) -> Box:
    """The box with its base point moved to where |f| is largest among a few samples over idx (a
    product split frozen where a factor vanishes would pass every test)."""
    X = box.sample(idx, 16)
    return box.with_base(X[int(np.argmax(np.abs(p.f(X))))])


def _finest(p: Problem, idx, box: Box, kind: str, tests: list) -> list:
    """The finest partition of idx into groups f splits across (by ``kind``), recursively: a
    passing split A | B, then each side with the other held fixed."""
    if len(idx) < 2:
        return [list(idx)]
    found = split.best_split(p.f, idx, box.sample, p.tol, kinds=(kind,))
    if found is None:
        return [list(idx)]
    _, A, B = found
    tests.append((A, B, _residual(Problem(p.f, box, p.tol, p.n), A, B, kind)))
    return _finest(p, A, _anchor_box(p, box, B), kind, tests) + _finest(p, B, _anchor_box(p, box, A), kind, tests)


def _separability(kind, name, f, X, groups, bounds, tol, rtol, output, seed) -> Separability:
    p = setup(f, X, bounds, tol, rtol, output, seed)
    if groups is not None:
        gs = _check_groups(groups, p.n)
        tests = []
        for g in gs:
            rest = [k for h in gs if h is not g for k in h]
            tests.append((g, rest, _residual(p, g, rest, kind)))
            if len(gs) == 2:
                break  # A | B and B | A are the same test
        return Separability(name, all(t[2] <= p.tol for t in tests), gs, tests, p.tol)
    idx = active_variables(p.f, list(range(p.n)), p.box, p.tol)
    unused = [k for k in range(p.n) if k not in idx]
    if len(idx) > MAX_SEARCH_VARS:
        raise KanlabError(f"{len(idx)} variables: too many to search every split; pass groups= to test one")
    tests: list = []
    found = sorted(_finest(p, idx, _anchor_box(p, p.box, idx), kind, tests), key=min)
    return Separability(name, len(found) > 1, found, tests, p.tol, unused)


def additive_separability(f, X=None, groups=None, *, bounds=None, tol=None, rtol=1e-2, output=0,
                          seed=0) -> Separability:
    """Is f(x) = g_1(G_1) + g_2(G_2) + ...? With ``groups`` (lists of column indices): tests that
    split; without: finds the finest additive partition of the variables f depends on.
    ``f``: a model or a callable f(X) -> y (called on tensors when X is a tensor, else on numpy
    arrays); the tests sample the box of X (or ``bounds=[(lo, hi), ...]``)."""
    return _separability("add", "additive", f, X, groups, bounds, tol, rtol, output, seed)


def multiplicative_separability(f, X=None, groups=None, *, bounds=None, tol=None, rtol=1e-2, output=0,
                                seed=0) -> Separability:
    """Is f(x) = g_1(G_1) g_2(G_2) ...? Arguments as :func:`additive_separability`."""
    return _separability("mul", "multiplicative", f, X, groups, bounds, tol, rtol, output, seed)


def general_separability(f, X=None, groups=None, *, bounds=None, tol=None, rtol=1e-2, output=0,
                         seed=0) -> Separability:
    """Is f(x) = g_1(A) h_1(B) + g_2(A) h_2(B) for a split A | B (rank 2, which includes the
    additive and product splits)? With ``groups``: the two groups [A, B]; without: the simplest
    passing split (smallest group first, then lowest residual), as discover's rank test."""
    p = setup(f, X, bounds, tol, rtol, output, seed)
    if groups is not None:
        gs = _check_groups(groups, p.n)
        if len(gs) != 2:
            raise KanlabError(f"general_separability tests one split: give two groups [A, B], got {len(gs)}")
        r = _residual(p, gs[0], gs[1], "rank2")
        return Separability("rank-2", r <= p.tol, gs, [(gs[0], gs[1], r)], p.tol)
    idx = active_variables(p.f, list(range(p.n)), p.box, p.tol)
    unused = [k for k in range(p.n) if k not in idx]
    if len(idx) > MAX_SEARCH_VARS:
        raise KanlabError(f"{len(idx)} variables: too many to search every split; pass groups= to test one")
    found = split.best_split(p.f, idx, p.box.sample, p.tol) if len(idx) > 1 else None
    if found is None:
        return Separability("rank-2", False, [idx], [], p.tol, unused)
    _, A, B = found
    return Separability("rank-2", True, [A, B], [(A, B, _residual(p, A, B, "rank2"))], p.tol, unused)


def symmetries(f, X=None, pairs=None, *, bounds=None, tol=None, rtol=1e-2, output=0, seed=0) -> Symmetries:
    """The pairs (x_i, x_j) through which f depends only on x_i - x_j, x_i + x_j, x_i x_j or
    x_i / x_j (the last two need both positive on the box), tested on ``pairs`` (default all
    pairs of variables f depends on). Arguments as :func:`additive_separability`."""
    p = setup(f, X, bounds, tol, rtol, output, seed)
    if pairs is None:
        idx = active_variables(p.f, list(range(p.n)), p.box, p.tol)
        todo = [(i, j) for a, i in enumerate(idx) for j in idx[a + 1:]]
    else:
        todo = [tuple(int(k) for k in pr) for pr in pairs]
        if any(len(pr) != 2 or pr[0] == pr[1] or not all(0 <= k < p.n for k in pr) for pr in todo):
            raise KanlabError(f"pairs must be (i, j) of distinct column indices in 0..{p.n - 1}, got {pairs!r}")
    Xs = p.box.sample(list(range(p.n)), 200)
    tests = []
    for i, j in todo:
        tests += symmetry.scan_symmetries(p.f, Xs, [i, j], p.box.lo, p.box.hi, p.box.rng)
    found = [Symmetry(kind, i, j, r) for kind, i, j, r in tests if symmetry.passes(r, p.tol)]
    return Symmetries(found, tests, p.tol)
