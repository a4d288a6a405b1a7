"""Checks of every value an explorer action receives: indices in range, names from the symbolic
library, bounded counts. Each failure is a :class:`WorkbenchInputError` that names the field and
what it accepts; nothing is evaluated, nothing is coerced (``True`` is not an index, ``"3"`` is
not a step count)."""
from __future__ import annotations

from .. import symbolic
from ..validate import KanlabError

__all__ = ["WorkbenchInputError", "WorkbenchBusy", "check_int", "check_edge", "check_node", "check_name",
           "MAX_RETRAIN_STEPS", "GRID_RANGE", "MAX_TOPK", "MAX_HISTORY"]

#: the most steps one retrain may run
MAX_RETRAIN_STEPS = 2000
#: the grid sizes refine accepts (intervals per edge)
GRID_RANGE = (2, 200)
#: the most candidates one edge query ranks
MAX_TOPK = 20
#: model states kept for undo (the oldest are dropped beyond this)
MAX_HISTORY = 50


class WorkbenchInputError(KanlabError):
    """A value an action cannot take (the state is unchanged)."""


class WorkbenchBusy(KanlabError):
    """Another long action (retrain, auto-symbolic) is running; wait for it or cancel it."""


def check_int(field: str, value, lo: int, hi: int, what: str) -> int:
    """``value`` as an int in [lo, hi]; a bool, float or text is refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorkbenchInputError(f"{field} must be an integer ({what}: {lo}..{hi}), got {type(value).__name__} {value!r:.40}")
    if not lo <= value <= hi:
        raise WorkbenchInputError(f"{field}={value} is out of range: {what} are {lo}..{hi}")
    return value


def check_edge(network, l, i, j) -> tuple[int, int, int]:
    """(l, i, j) of an existing edge position of ``network``."""
    n_layers = len(network.layers)
    l = check_int("l", l, 0, n_layers - 1, f"the layers of this {n_layers}-layer model")
    layer = network.layers[l]
    i = check_int("i", i, 0, layer.in_dim - 1, f"the input nodes of layer {l}")
    j = check_int("j", j, 0, layer.out_dim - 1, f"the output nodes of layer {l}")
    return l, i, j


def check_node(network, l, j) -> tuple[int, int]:
    """(l, j) of a hidden node (1 <= l < depth)."""
    depth = len(network.layers)
    if depth < 2:
        raise WorkbenchInputError("this model has no hidden layer, so there is no node to prune")
    l = check_int("l", l, 1, depth - 1, "the hidden layers")
    j = check_int("j", j, 0, network.width[l] - 1, f"the nodes of hidden layer {l}")
    return l, j


def check_name(name) -> str:
    """``name`` if it is the name of a registered symbolic function (never parsed)."""
    if not isinstance(name, str):
        raise WorkbenchInputError(f"name must be text, the name of a library function, got {type(name).__name__}")
    known = symbolic.names()
    if name not in known:
        shown = name if len(name) <= 40 else name[:40] + "..."
        raise WorkbenchInputError(f"{shown!r} is not in the symbolic library; choose one of: {', '.join(known)}")
    return name


def live_edge(network, l: int, i: int, j: int) -> bool:
    """True when edge (l, i, j) is on: numeric (mask 1) or symbolic."""
    return bool(network.layers[l].mask[i, j] > 0) or network.symbolic[l].find(i, j) >= 0


def symbolic_form(network, l: int, i: int, j: int):
    """(name, (a, b, c, d)) of a symbolic edge, or None."""
    for (ii, jj, name, params) in network.symbolic[l].edges():
        if (ii, jj) == (i, j):
            return name, tuple(float(p) for p in params)
    return None
