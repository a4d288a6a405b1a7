"""The modular structure of f as a tree, found recursively, and its plot (pykan's ``model.tree()``
idea, on kanlab's tests).

On the variables f depends on: an additive or product split (:mod:`kanlab.structure.split`)
gives a "+" or "×" node whose children are the structures of each side (the other side held at
a point where |f| is large); else a two-variable symmetry (:mod:`kanlab.structure.symmetry`)
makes the pair one new variable u (a node "x_i - x_j", ...) and the search goes on with f as a
function of u and the rest; else the variables meet in one non-separable node "f". The leaves
are the input variables f depends on.

Limitation: a part below a "+" is known only up to a constant, and the product test is not
blind to constants, so sin(x0) + x1 exp(x2) shows as +(x0, f(x1, x2)); test such a part with
:func:`kanlab.structure.multiplicative_separability` on f minus the other side.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..validate import KanlabError
from . import split, symmetry
from .separability import MAX_SEARCH_VARS, Problem, active_variables, setup

__all__ = ["TreeNode", "find_tree", "tree"]

_OPS = {"add": "+", "mul": "×"}
_SYM = {"diff": "−", "sum": "+", "prod": "×", "ratio": "/"}


@dataclass
class TreeNode:
    """``label``: "+", "×", "f" (not separable), a pair's combination such as "x0 − x1", or a
    variable's name at a leaf (``var``: its column)."""
    label: str
    children: list = field(default_factory=list)
    var: int | None = None

    def leaves(self) -> list:
        return [self] if not self.children else [v for c in self.children for v in c.leaves()]

    def __str__(self) -> str:
        return self.label if not self.children else f"{self.label}({', '.join(map(str, self.children))})"


def _build(p: Problem, f, idx, box, nodes: dict, depth: int) -> TreeNode | None:
    idx = active_variables(f, idx, box, p.tol)
    if not idx:
        return None
    if len(idx) == 1:
        return nodes[idx[0]]
    if depth > 2 * p.n:
        raise KanlabError("the structure search did not end (a symmetry found again and again); pass a larger tol")
    found = split.best_split(f, idx, box.sample, p.tol, kinds=("add", "mul"))
    if found is not None:
        kind, A, B = found
        children = []
        for side, other in ((A, B), (B, A)):
            X = box.sample(other, 16)
            child = _build(p, f, side, box.with_base(X[int(np.argmax(np.abs(f(X))))]), nodes, depth + 1)
            if child is not None:  # flatten a + (b + c) into one node
                children += child.children if child.label == _OPS[kind] and child.var is None else [child]
        return TreeNode(_OPS[kind], children)
    sym = symmetry.find_symmetry(f, box.sample(idx, 200), idx, box.lo, box.hi, p.tol, box.rng)
    if sym is None:
        return TreeNode("f", [nodes[k] for k in idx])
    kind, i, j = sym
    bi, bj = (box.lo[i], box.hi[i]), (box.lo[j], box.hi[j])
    box = box.with_base(box.base)
    u = box.add_var(*symmetry.u_range(kind, bi, bj))
    nodes = {**nodes, u: TreeNode(f"{nodes[i].label} {_SYM[kind]} {nodes[j].label}", [nodes[i], nodes[j]])}
    F = symmetry.reduce_oracle(f, kind, i, j, bi, bj, u)
    return _build(p, F, [k for k in idx if k not in (i, j)] + [u], box, nodes, depth + 1)


def find_tree(f, X=None, names=None, *, bounds=None, tol=None, rtol=1e-2, output=0, seed=0) -> TreeNode:
    """The modular structure of f (a model or a callable, on the box of X or ``bounds``) as a
    :class:`TreeNode`; ``names``: the variables' names (default x0, x1, ...)."""
    p = setup(f, X, bounds, tol, rtol, output, seed)
    names = [f"x{k}" for k in range(p.n)] if names is None else [str(v) for v in names]
    if len(names) != p.n:
        raise KanlabError(f"names has {len(names)} entries for {p.n} variables")
    if p.n > MAX_SEARCH_VARS:
        raise KanlabError(f"{p.n} variables: too many to search every split (at most {MAX_SEARCH_VARS})")
    nodes = {k: TreeNode(names[k], var=k) for k in range(p.n)}
    root = _build(p, p.f, list(range(p.n)), p.box, nodes, 0)
    if root is None:
        raise KanlabError("f does not depend on any variable on the box (within tol)")
    return root


def _layout(node: TreeNode, pos: dict, next_x: list) -> tuple[float, int]:
    """(x, height) of node, leaves spaced 1 apart left to right, parents above their children."""
    if not node.children:
        pos[id(node)] = (next_x[0], 0)
        next_x[0] += 1
        return pos[id(node)]
    kids = [_layout(c, pos, next_x) for c in node.children]
    pos[id(node)] = (float(np.mean([k[0] for k in kids])), 1 + max(k[1] for k in kids))
    return pos[id(node)]


def _draw(ax, node: TreeNode, pos: dict) -> None:
    x, y = pos[id(node)]
    for c in node.children:
        cx, cy = pos[id(c)]
        ax.plot([x, cx], [y, cy], color="0.4", lw=1.5, zorder=1)
        _draw(ax, c, pos)
    leaf = not node.children
    ax.text(x, y, node.label, ha="center", va="center", fontsize=12, zorder=2, gid="leaf" if leaf else "node",
            bbox=dict(boxstyle="round" if leaf else "circle", fc="white" if leaf else "#dde8f5", ec="0.3"))


def tree(f, X=None, names=None, path=None, **kwargs):
    """The modular structure of f drawn as a tree (leaves: the variables at the bottom; above them
    "+" and "×" splits, pair combinations and non-separable nodes "f"). Returns the matplotlib
    Figure (its leaf labels carry gid "leaf"); writes it to ``path`` when given. Options as
    :func:`find_tree`."""
    from matplotlib.figure import Figure

    root = find_tree(f, X, names, **kwargs)
    pos: dict = {}
    n_leaves = len(root.leaves())
    _, height = _layout(root, pos, [0])
    fig = Figure(figsize=(max(3.0, 1.2 * n_leaves), max(2.5, 1.4 * (height + 1))))
    ax = fig.add_subplot()
    _draw(ax, root, pos)
    ax.set_xlim(-0.6, n_leaves - 0.4)
    ax.set_ylim(-0.6, height + 0.6)
    ax.axis("off")
    ax.set_title(str(root), fontsize=9)
    if path is not None:
        fig.savefig(path, bbox_inches="tight")
    return fig
