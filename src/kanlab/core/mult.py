"""Multiplication nodes (KAN 2.0's MultKAN, pykan's width convention), as a pure description.

A width entry may be an int n (n sum nodes) or ``[n_sum, n_mult]``: n_sum sum nodes followed by
n_mult multiplication nodes. Each mult node takes ``arity`` consecutive *sub-node* outputs of the
KAN layer before it and multiplies them, so that layer has n_sum + n_mult * arity outputs
(sub-nodes) while the next layer sees n_sum + n_mult inputs (nodes). Sub-node s < n_sum is sum
node s; sub-node n_sum + m * arity + r is factor r of mult node n_sum + m.

``MultSpec`` holds, per node row (0 = inputs, ..., L = outputs), ``n_mult`` and ``arity``;
``combine`` is the one function that turns sub-node values into node values (torch tensors or
lists of sympy expressions). The network calls it only for rows that have mult nodes.
"""
from __future__ import annotations

import torch

from ..validate import KanlabError

__all__ = ["MultSpec", "parse_width"]


def _entry(e, l):
    """(n_sum, n_mult) of one width entry."""
    if isinstance(e, bool):
        raise ValueError(f"width entry {l} must be an int or [n_sum, n_mult], got {e!r}")
    if isinstance(e, int):
        return e, 0
    if isinstance(e, (list, tuple)) and len(e) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in e):
        return int(e[0]), int(e[1])
    raise ValueError(f"width entry {l} must be a positive int or [n_sum, n_mult] (two ints), got {e!r}")


def _arities(mult_arity, n_rows):
    if isinstance(mult_arity, bool):
        raise ValueError(f"mult_arity must be an int >= 2 or a list of them (one per width entry), got {mult_arity!r}")
    if isinstance(mult_arity, int):
        arities = [mult_arity] * n_rows
    elif isinstance(mult_arity, (list, tuple)) and len(mult_arity) == n_rows:
        arities = list(mult_arity)
    else:
        raise ValueError(f"mult_arity must be an int >= 2 or a list of {n_rows} ints (one per width entry), "
                         f"got {mult_arity!r}")
    for a in arities:
        if isinstance(a, bool) or not isinstance(a, int) or a < 2:
            raise ValueError(f"every mult_arity must be an integer >= 2, got {mult_arity!r}")
    return arities


def parse_width(width, mult_arity=2):
    """(n_sum per row, n_mult per row, arity per row) of a width list; errors name the entry."""
    if isinstance(width, (str, bytes)) or not hasattr(width, "__len__"):
        raise ValueError(f"width must be a list of layer sizes like [2, 5, 1] or [2, [3, 2], 1], got {width!r}")
    w = list(width)
    if len(w) < 2:
        raise ValueError(f"width needs at least 2 entries (inputs and outputs), got {w}")
    pairs = [_entry(e, l) for l, e in enumerate(w)]
    for l, (s, m) in enumerate(pairs):
        if s < 0 or m < 0 or s + m < 1:
            raise ValueError(f"width entry {l} needs n_sum >= 0, n_mult >= 0 and at least one node, got {w[l]!r}")
    if pairs[0][1]:
        raise ValueError(f"the inputs (width entry 0) cannot be multiplication nodes, got {w[0]!r}")
    arities = _arities(mult_arity, len(w))
    return [p[0] for p in pairs], [p[1] for p in pairs], arities


class MultSpec:
    """Where the mult nodes are: ``n_mult[l]`` and ``arity[l]`` per node row l."""

    def __init__(self, n_nodes, n_mult, arity):
        self.n_nodes, self.n_mult, self.arity = list(n_nodes), list(n_mult), list(arity)

    @property
    def any(self) -> bool:
        return any(self.n_mult)

    def has(self, row: int) -> bool:
        return bool(self.n_mult[row])

    def n_sum(self, row: int) -> int:
        return self.n_nodes[row] - self.n_mult[row]

    def n_sub(self, row: int) -> int:
        """Outputs of the KAN layer feeding row ``row``: n_sum + n_mult * arity."""
        return self.n_sum(row) + self.n_mult[row] * self.arity[row]

    def width_entries(self) -> list:
        """pykan-style width: an int per row without mult nodes, [n_sum, n_mult] otherwise."""
        return [[self.n_sum(l), m] if m else n for l, (n, m) in enumerate(zip(self.n_nodes, self.n_mult))]

    def node_of_sub(self, row: int) -> torch.Tensor:
        """(n_sub,) the node each sub-node of row ``row`` feeds."""
        s, m, a = self.n_sum(row), self.n_mult[row], self.arity[row]
        return torch.cat([torch.arange(s), s + torch.arange(m).repeat_interleave(a)])

    def subs_of_nodes(self, row: int, nodes) -> list:
        """The sub-nodes (sorted) that feed the given nodes of row ``row``."""
        s, a = self.n_sum(row), self.arity[row]
        out = []
        for j in sorted(int(v) for v in nodes):
            out.extend([j] if j < s else range(s + (j - s) * a, s + (j - s + 1) * a))
        return out

    def keep_nodes(self, row: int, nodes) -> None:
        """Record that only ``nodes`` of row ``row`` remain."""
        nodes = [int(v) for v in nodes]
        s = self.n_sum(row)
        self.n_mult[row] = sum(1 for j in nodes if j >= s)
        self.n_nodes[row] = len(nodes)

    def combine(self, row: int, y):
        """Node values of row ``row`` from sub-node values y: a tensor (..., n_sub) or a list."""
        s, m, a = self.n_sum(row), self.n_mult[row], self.arity[row]
        if isinstance(y, torch.Tensor):
            if y.shape[-1] != s + m * a:
                raise KanlabError(f"row {row} expects {s + m * a} sub-node values, got {y.shape[-1]}")
            prod = y[..., s:].reshape(*y.shape[:-1], m, a).prod(-1)
            return torch.cat([y[..., :s], prod], dim=-1)
        y = list(y)
        out = y[:s]
        for k in range(m):
            term = y[s + k * a]
            for r in range(1, a):
                term = term * y[s + k * a + r]
            out.append(term)
        return out

    def config(self) -> dict:
        return {"n_mult": list(self.n_mult), "mult_arity": list(self.arity)}
