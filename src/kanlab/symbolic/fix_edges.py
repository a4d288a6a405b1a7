"""Fitting a trained network's edges to symbolic forms: suggest, fix, auto, unfix.

Model-level glue between the network and the edge-level maths of :mod:`kanlab.symbolic`. The
data an edge is fitted on is given explicitly (x: the model inputs, (N, n_inputs)); the
activation of edge (l, i, j) is its current *numeric* curve phi_ij over the inputs layer l sees.
Fixing an edge masks its numeric part and adds c * f(a*x + b) + d to the layer's symbolic
edges, whose (a, b, c, d) keep training in later ``fit`` calls. ``to_splines`` goes the other
way: every symbolic edge becomes a trainable spline fitted to its function.
"""
from __future__ import annotations

import torch

from .. import symbolic

__all__ = ["edge_samples", "suggest_symbolic", "fix_symbolic", "auto_symbolic", "unfix_symbolic", "to_splines"]


def _check_edge(network, l, i, j):
    if not 0 <= l < len(network.layers):
        raise ValueError(f"layer index l={l} out of range: the model has {len(network.layers)} layers")
    layer = network.layers[l]
    if not (0 <= i < layer.in_dim and 0 <= j < layer.out_dim):
        raise ValueError(f"edge ({i}, {j}) out of range for layer {l} of shape ({layer.in_dim}, {layer.out_dim})")


@torch.no_grad()
def edge_samples(network, l, i, j, x):
    """(inputs, values) of the numeric curve of edge (l, i, j) on the model inputs x."""
    if x is None:
        raise ValueError("symbolic fitting needs data x: the model inputs of shape (N, n_inputs)")
    _check_edge(network, l, i, j)
    xs = network.layer_inputs(x.to(next(network.parameters()).dtype))
    xi = xs[l][:, i:i + 1]
    layer = network.layers[l]
    sp = layer.spline_values(xi.expand(-1, layer.in_dim).contiguous())[:, i, j]
    val = layer.scale_sp[i, j] * sp + layer.scale_base[i, j] * layer.base(xi[:, 0])
    return xi[:, 0].double(), val.double()


def suggest_symbolic(network, l, i, j, x, topk=5, lib=None, weight_simple=0.8):
    """Ranked candidate forms for edge (l, i, j) (see :func:`kanlab.symbolic.suggest`)."""
    xi, yi = edge_samples(network, l, i, j, x)
    return symbolic.suggest(xi, yi, names=lib, topk=topk, weight_simple=weight_simple)


@torch.no_grad()
def fix_symbolic(network, l, i, j, name, x=None, fit_params=True, params=None) -> float:
    """Fix edge (l, i, j) to ``name``: fitted on x (returns R^2), or with given params (a, b, c, d)."""
    symbolic.get(name)
    _check_edge(network, l, i, j)
    if fit_params:
        xi, yi = edge_samples(network, l, i, j, x)
        fit = symbolic.fit_affine(xi, yi, [name])[0]
        params, r2 = fit.params, fit.r2
    else:
        if params is None:
            raise ValueError("fit_params=False needs params=(a, b, c, d)")
        r2 = float("nan")
    network.symbolic[l].set(i, j, name, params)
    network.layers[l].mask[i, j] = 0.0
    return r2


@torch.no_grad()
def unfix_symbolic(network, l, i, j) -> None:
    """Return edge (l, i, j) to its numeric spline."""
    _check_edge(network, l, i, j)
    network.symbolic[l].remove(i, j)
    network.layers[l].mask[i, j] = 1.0


def active_numeric_edges(network):
    return [(l, int(i), int(j)) for l, layer in enumerate(network.layers)
            for i, j in (layer.mask > 0).nonzero().tolist()]


def auto_symbolic(network, x, lib=None, r2_threshold=0.0, weight_simple=0.8, verbose=False):
    """Fix every active numeric edge to its best-ranked candidate; returns {(l, i, j): (name, r2)}."""
    out = {}
    for l, i, j in active_numeric_edges(network):
        cands = suggest_symbolic(network, l, i, j, x, topk=1, lib=lib, weight_simple=weight_simple)
        cands = [c for c in cands if c.r2 >= r2_threshold]
        if not cands:
            continue
        best = cands[0]
        network.symbolic[l].set(i, j, best.name, best.fit.params)
        with torch.no_grad():
            network.layers[l].mask[i, j] = 0.0
        out[(l, i, j)] = (best.name, best.r2)
        if verbose:
            print(f"fixed ({l},{i},{j}) with {best.name}, r2={best.r2:.6f}")
    return out


@torch.no_grad()
def to_splines(network, x, n_samples: int = 201) -> float:
    """Turn every symbolic edge into a numeric spline, in place: each layer's grid is set on the
    range of its inputs on x, each symbolic edge's spline is the least-squares fit of its function
    c*f(a*u+b)+d on ``n_samples`` points of that range (residual base weight 0, spline weight 1),
    and the edge is unfixed. Layers are converted first to last, each on the inputs the converted
    layers before it give. Returns the largest absolute fit error on the sample points."""
    from ..core import spline_lstsq

    if x is None:
        raise ValueError("to_splines needs data x: the model inputs of shape (N, n_inputs), whose range the splines cover")
    dtype = next(network.parameters()).dtype
    h = network.select_inputs(x.to(dtype)).reshape(-1, network.layers[0].in_dim)
    worst = 0.0
    for l, layer in enumerate(network.layers):
        sym = network.symbolic[l]
        lo, hi = h.min(0).values, h.max(0).values
        hi = torch.where(hi > lo, hi, lo + 1e-3)
        steps = torch.linspace(0, 1, n_samples, dtype=dtype, device=h.device)[:, None]
        grid = lo + (hi - lo) * steps  # (n_samples, in)
        if len(sym):
            layer.update_grid(grid)
            target = sym.edge_values(grid)  # (n_samples, in, out)
            coef = spline_lstsq.curve_to_coef(grid, target, layer.knots, layer.k)
            for i, j, *_ in sym.edges():
                layer.coef[i, :, j] = coef[i, :, j]
                layer.scale_base[i, j], layer.scale_sp[i, j] = 0.0, 1.0
            before = target.sum(1)
            for i, j, *_ in sym.edges():
                unfix_symbolic(network, l, i, j)
            fitted = layer.edge_values(grid).sum(1)
            worst = max(worst, float((fitted - before).abs().max()))
        h = network.node_values(l, network.layer_forward(l, h))
    return worst
