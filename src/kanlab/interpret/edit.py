"""Editing a KAN: new models from old ones by structural edits (pykan's editing toolbox).

Every function returns a new network of the same class; the original is untouched.

- :func:`expand_width`: ``n_new`` hidden nodes appended to hidden layer ``l``. Their incoming
  edges are initialised like a new layer's; their outgoing edges are zero (spline coefficients
  and residual weights 0, still trainable), so the new model computes the same function.
- :func:`expand_depth`: a new square layer inserted at ``position`` (default: after the last
  layer), initialised to the identity **by splines**: edge i -> i is the B-spline whose
  coefficients are the Greville abscissae of its knots (a spline of degree k >= 1 reproduces
  x exactly on its interior grid), every other edge is zero and the residual weights are 0.
  The grid of node i spans the values it sees on ``x`` (10% margin) or ``grid_range``: the same
  function there, to round-off; outside the grid the new layer gives 0.
- :func:`perturb`: ``scale`` * N(0, 1) noise added to every spline coefficient (a different
  function, the same shapes).
- :func:`remove_edge`: one edge switched off exactly (mask 0; a symbolic edge is removed).
- :func:`swap`: hidden nodes i and j of layer l exchanged (the same function).
- :func:`auto_swap`: greedy node swaps, each lowering :func:`connection_cost` (the plot's wire
  length sum |pos_in - pos_out| weighted by the edges' attribution scores), until no swap helps.
"""
from __future__ import annotations

import copy
import math

import torch

from ..core import spline
from ..core.layer import KANLayer
from ..core.mult import MultSpec
from ..core.symbolic_edges import SymbolicEdges
from ..validate import KanlabError, check_range
from .attribution import attribute

__all__ = ["expand_width", "expand_depth", "perturb", "remove_edge", "swap", "auto_swap", "connection_cost"]


# ---------------------------------------------------------------------------- checks
def _check_int(name, value, lo, hi, what):
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise KanlabError(f"{name} must be an integer in {lo}..{hi} ({what}), got {value!r}")


def _no_mult(net, op):
    """The node edits below assume sum nodes only: refuse multiplication nodes clearly."""
    if getattr(net, "has_mult", False):
        raise KanlabError(f"{op} does not support multiplication nodes yet (width {net.width_spec}); "
                          "remove_edge, perturb and prune do")


def _check_hidden(net, l, op):
    _no_mult(net, op)
    L = len(net.layers)
    if L < 2:
        raise KanlabError(f"{op} works on hidden nodes, and this network (width {net.width}) has none; "
                          "add a layer first (expand_depth)")
    _check_int("layer", l, 1, L - 1, f"the hidden layers of width {net.width}")


def _check_x(x, op):
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise KanlabError(f"{op} needs data x: the model inputs as a tensor of shape (N, n_inputs) "
                          "(e.g. dataset['train_input'])")


def _dtype(net):
    return next(net.parameters()).dtype


# ---------------------------------------------------------------------------- node re-indexing
def _permute_hidden(net, l, order) -> None:
    """In place: hidden layer l's node p becomes the old node ``order[p]``."""
    order = list(order)
    net.layers[l - 1] = net.layers[l - 1].subset(range(net.layers[l - 1].in_dim), order)
    net.layers[l] = net.layers[l].subset(order, range(net.layers[l].out_dim))
    net.symbolic[l - 1] = net.symbolic[l - 1].subset(range(net.symbolic[l - 1].in_dim), order)
    net.symbolic[l] = net.symbolic[l].subset(order, range(net.symbolic[l].out_dim))


def _grown_layer(layer: KANLayer, n_in: int, n_out: int, gen) -> KANLayer:
    """A layer of shape (n_in, n_out) holding ``layer`` in its first rows and columns; the new
    edges are initialised as in a fresh layer."""
    new = KANLayer(n_in, n_out, grid=layer.grid, k=layer.k, grid_range=layer.grid_range, grid_eps=layer.grid_eps,
                   noise_scale=layer.noise_scale, base_fun=layer.base_fun, scale_base_mu=layer.scale_base_mu,
                   scale_base_sigma=layer.scale_base_sigma, scale_sp=layer.scale_sp_init,
                   bias=layer.bias is not None, device=layer.coef.device, dtype=layer.coef.dtype, generator=gen)
    new.large_grid = layer.large_grid
    a, b = layer.in_dim, layer.out_dim
    with torch.no_grad():
        new.coef[:a, :, :b] = layer.coef
        new.scale_base[:a, :b] = layer.scale_base
        new.scale_sp[:a, :b] = layer.scale_sp
        new.mask[:a, :b] = layer.mask
        new.knots[:a] = layer.knots
        if layer.bias is not None:
            new.bias[:b] = layer.bias
    new.refresh_basis_table()
    return new


def _grown_symbolic(sym: SymbolicEdges, n_in: int, n_out: int) -> SymbolicEdges:
    new = SymbolicEdges(n_in, n_out, dtype=sym.affine.dtype, device=sym.affine.device)
    for i, j, name, params in sym.edges():
        new.set(i, j, name, params)
    return new


# ---------------------------------------------------------------------------- edits
@torch.no_grad()
def expand_width(network, l: int, n_new: int, seed: int = 0):
    """A new network with ``n_new`` more nodes in hidden layer ``l`` (1 <= l < depth), computing
    the same function: their outgoing edges are zero, their incoming edges freshly initialised
    (drawn with ``seed``)."""
    _check_hidden(network, l, "expand_width")
    _check_int("n_new", n_new, 1, 10**6, "the number of nodes to add")
    gen = torch.Generator().manual_seed(int(seed))
    new = copy.deepcopy(network)
    n = network.width[l]
    before, after = new.layers[l - 1], new.layers[l]
    new.layers[l - 1] = _grown_layer(before, before.in_dim, n + n_new, gen)
    grown = _grown_layer(after, n + n_new, after.out_dim, gen)
    grown.coef[n:] = 0.0
    grown.scale_base[n:] = 0.0
    new.layers[l] = grown
    new.symbolic[l - 1] = _grown_symbolic(new.symbolic[l - 1], before.in_dim, n + n_new)
    new.symbolic[l] = _grown_symbolic(new.symbolic[l], n + n_new, after.out_dim)
    return _plain_rows(new)


def _identity_range(network, position, x, grid_range):
    """(n, 2) grid ranges of the new layer's inputs: the data's range with a margin, or grid_range."""
    n = network.width[position]
    if x is not None:
        _check_x(x, "expand_depth")
        with torch.no_grad():
            h = network.layer_inputs(x.to(_dtype(network)))[position]
        lo, hi = h.min(0).values, h.max(0).values
        pad = torch.maximum(0.1 * (hi - lo), 1e-3 * (1.0 + lo.abs() + hi.abs()))
        return torch.stack([lo - pad, hi + pad], dim=1)
    if grid_range is None:
        raise KanlabError("expand_depth needs data x (the model inputs, so the new layer's grid covers the values "
                          "it will see) or grid_range=(lo, hi): the identity is exact only on that range")
    lo, hi = check_range(grid_range, "grid_range")
    return torch.tensor([[lo, hi]], dtype=_dtype(network)).expand(n, 2)


@torch.no_grad()
def identity_layer(template: KANLayer, ranges: torch.Tensor) -> KANLayer:
    """A square layer that is the identity on ``ranges`` (n, 2) by splines (Greville coefficients)."""
    n, k, G = ranges.shape[0], template.k, template.grid
    if k < 1:
        raise KanlabError("an identity layer needs splines of degree k >= 1 (k = 0 splines are piecewise constant)")
    layer = KANLayer(n, n, grid=G, k=k, grid_range=(float(ranges[:, 0].min()), float(ranges[:, 1].max())),
                     grid_eps=template.grid_eps, noise_scale=template.noise_scale, base_fun=template.base_fun,
                     bias=template.bias is not None, device=template.coef.device, dtype=template.coef.dtype)
    layer.knots.copy_(spline.uniform_knots(n, G, k, ranges, dtype=layer.knots.dtype, device=layer.knots.device))
    greville = layer.knots.unfold(1, k, 1)[:, 1:G + k + 1].mean(-1)  # (n, G+k): sum_m greville_m B_m(x) = x
    layer.coef.zero_()
    idx = torch.arange(n, device=layer.coef.device)
    layer.coef[idx, :, idx] = greville
    layer.scale_sp.fill_(1.0)
    layer.scale_base.zero_()
    layer.refresh_basis_table()
    return layer


@torch.no_grad()
def expand_depth(network, position: int | None = None, x=None, grid_range=None):
    """A new network with an identity-initialised layer inserted before layer ``position``
    (0..depth; default depth: after the last layer). The same function on the data range of
    ``x`` (or on ``grid_range``), see the module docstring."""
    _no_mult(network, "expand_depth")
    L = len(network.layers)
    position = L if position is None else position
    _check_int("position", position, 0, L, f"where the new layer goes among the {L} layers")
    ranges = _identity_range(network, position, x, grid_range)
    template = network.layers[min(position, L - 1)]
    new = copy.deepcopy(network)
    layer = identity_layer(template, ranges.to(_dtype(network)))
    new.layers.insert(position, layer)
    new.symbolic.insert(position, SymbolicEdges(layer.in_dim, layer.out_dim, dtype=layer.coef.dtype,
                                                device=layer.coef.device))
    return _plain_rows(new)


def _plain_rows(network):
    """network with its (mult-free) node-row description rebuilt from its layers, after an edit
    that adds a row or nodes: every row sum nodes only."""
    rows = [network.layers[0].in_dim] + [layer.out_dim for layer in network.layers]
    network.mult = MultSpec(rows, [0] * len(rows), [2] * len(rows))
    return network


@torch.no_grad()
def perturb(network, scale: float = 0.1, seed: int = 0):
    """A new network whose spline coefficients have ``scale`` * N(0, 1) noise added (drawn with ``seed``)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise KanlabError(f"scale must be a positive finite number (the noise's standard deviation), got {scale!r}")
    gen = torch.Generator().manual_seed(int(seed))
    new = copy.deepcopy(network)
    for layer in new.layers:
        noise = torch.randn(layer.coef.shape, generator=gen, dtype=torch.float64)
        layer.coef.add_(scale * noise.to(device=layer.coef.device, dtype=layer.coef.dtype))
    return new


def _check_edge(network, l, i, j):
    L, w = len(network.layers), network.width
    _check_int("layer", l, 0, L - 1, f"the layers of width {w}")
    _check_int("i (input node)", i, 0, w[l] - 1, f"the inputs of layer {l}")
    _check_int("j (output node)", j, 0, w[l + 1] - 1, f"the outputs of layer {l}")


@torch.no_grad()
def remove_edge(network, l: int, i: int, j: int):
    """A new network with edge (l, i, j) switched off: mask 0 (and its symbolic form removed)."""
    _check_edge(network, l, i, j)
    new = copy.deepcopy(network)
    new.layers[l].mask[i, j] = 0.0
    new.symbolic[l].remove(i, j)
    return new


@torch.no_grad()
def swap(network, l: int, i: int, j: int):
    """A new network with hidden nodes i and j of layer l exchanged (the same function)."""
    _check_hidden(network, l, "swap")
    n = network.width[l]
    _check_int("i", i, 0, n - 1, f"the nodes of hidden layer {l}")
    _check_int("j", j, 0, n - 1, f"the nodes of hidden layer {l}")
    order = list(range(n))
    order[i], order[j] = j, i
    new = copy.deepcopy(network)
    _permute_hidden(new, l, order)
    return new


# ---------------------------------------------------------------------------- auto_swap
def _distance(n_a: int, n_b: int) -> torch.Tensor:
    """|pos_a - pos_b| between the plot's node positions (i + 0.5) / n of two rows."""
    pa = (torch.arange(n_a, dtype=torch.float64) + 0.5) / n_a
    pb = (torch.arange(n_b, dtype=torch.float64) + 0.5) / n_b
    return (pa[:, None] - pb[None, :]).abs()


def connection_cost(network, x=None, scores=None) -> float:
    """sum over edges of score * |pos_in - pos_out|: the wire length of the network plot (nodes at
    (i + 0.5) / width), weighted by the backward attribution scores on x (or given ``scores``)."""
    if scores is None:
        _check_x(x, "connection_cost")
        scores = attribute(network, x)
    w = network.width
    return float(sum((s.double().cpu() * _distance(w[l], w[l + 1])).sum() for l, s in enumerate(scores.edge)))


def _swap_gains(e_in, e_out, d_in, d_out):
    """(n, n) change of the cost when hidden nodes a and b swap places, given the scores of the
    incoming (in, n) and outgoing (n, out) edges and the distances of their current positions."""
    p = e_in.t() @ d_in  # p[a, b]: node a's incoming edges drawn at b's position
    q = e_out @ d_out.t()
    total = p + q
    diag = total.diagonal()
    return total + total.t() - diag[:, None] - diag[None, :]


@torch.no_grad()
def auto_swap(network, x, max_swaps: int = 10_000):
    """A new network whose hidden nodes are reordered by greedy pairwise swaps, each the one that
    lowers :func:`connection_cost` on x the most, until no swap lowers it (the same function;
    the cost never increases)."""
    _check_x(x, "auto_swap")
    _no_mult(network, "auto_swap")
    w = network.width
    edge = [s.double().cpu().clone() for s in attribute(network, x).edge]
    orders = {l: list(range(w[l])) for l in range(1, len(w) - 1)}
    for _ in range(max_swaps):
        best = (0.0, None)
        for l in orders:
            gains = _swap_gains(edge[l - 1], edge[l], _distance(w[l - 1], w[l]), _distance(w[l], w[l + 1]))
            g = float(gains.min())
            if g < best[0] - 1e-12:
                a, b = divmod(int(gains.argmin()), w[l])
                best = (g, (l, a, b))
        if best[1] is None:
            break
        l, a, b = best[1]
        orders[l][a], orders[l][b] = orders[l][b], orders[l][a]
        edge[l - 1][:, [a, b]] = edge[l - 1][:, [b, a]]
        edge[l][[a, b]] = edge[l][[b, a]]
    new = copy.deepcopy(network)
    for l, order in orders.items():
        if order != sorted(order):
            _permute_hidden(new, l, order)
    return new
