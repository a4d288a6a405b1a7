"""Pruning: from a trained (sparsified) KAN to a smaller one.

Scores come from :mod:`kanlab.attribution` on data x. ``prune`` removes hidden nodes whose
score is below ``node_th`` and masks numeric edges whose score is below ``edge_th``;
``prune_input`` removes inputs whose score is below ``th``. Scores are relative to the outputs
(each output node has score 1), so thresholds mean "fraction of an output's variation".

Removing an edge or a node removes its *variation*; its *mean* contribution on the data is
kept by adding it to the bias of the node it fed, so on the data the pruned model differs from
the original by at most the removed variation. Structure-changing: a new model is returned
(same class), the original is untouched. A layer is never left empty: that raises ValueError.
"""
from __future__ import annotations

import copy

import torch

from .attribution import attribute

__all__ = ["prune", "prune_input"]


def _require_x(x, what):
    if x is None:
        raise ValueError(f"{what} needs data: pass x, the model inputs of shape (N, n_inputs) "
                         "(e.g. dataset['train_input'])")


def _subset_layer(net, l, in_ids, out_ids):
    net.layers[l] = net.layers[l].subset(in_ids, out_ids)
    sym = getattr(net, "symbolic", None)
    if sym is not None:
        sym[l] = sym[l].subset(in_ids, out_ids)


@torch.no_grad()
def _edge_means(net, x):
    """Mean of every edge's activation on x, per layer: list of (in, out)."""
    h = net.select_inputs(x)
    out = []
    for l in range(len(net.layers)):
        out.append(net.edge_values(l, h).mean(0))
        h = net.layer_forward(l, h)
    return out


@torch.no_grad()
def prune(network, node_th: float = 1e-2, edge_th: float = 3e-2, x=None):
    """A new, smaller network: weak hidden nodes removed, weak edges masked."""
    _require_x(x, "prune")
    scores = attribute(network, x)
    means = _edge_means(network, network_input(network, x))
    new = copy.deepcopy(network)
    L = len(new.layers)
    # 1. mask weak numeric edges, folding their mean into the next node's bias
    for l in range(L):
        weak = (scores.edge[l] < edge_th) & (new.layers[l].mask > 0)
        if bool(weak.any()):
            new.layers[l].add_to_bias((means[l] * weak).sum(0))
            new.layers[l].mask[weak] = 0.0
    # 2. remove weak hidden nodes (layer l's outputs = layer l+1's inputs)
    for l in range(1, L):
        keep = (scores.node[l] >= node_th).nonzero().flatten().tolist()
        if not keep:
            raise ValueError(f"pruning would remove every node of hidden layer {l} (largest score "
                             f"{float(scores.node[l].max()):.3g}); lower node_th")
        drop = [j for j in range(network.width[l]) if j not in keep]
        if drop:
            # the dropped nodes' outgoing edges: fold their mean into layer l's output biases
            new.layers[l].add_to_bias((means[l][drop] * new.layers[l].mask[drop]).sum(0))
        _subset_layer(new, l - 1, range(new.layers[l - 1].in_dim), keep)
        _subset_layer(new, l, keep, range(new.layers[l].out_dim))
    return new


def network_input(network, x):
    return x.to(next(network.parameters()).dtype)


@torch.no_grad()
def prune_input(network, th: float = 1e-2, x=None):
    """A new network without the inputs whose score is below ``th``; it still takes all the
    original columns (``input_ids`` lists the ones it reads)."""
    _require_x(x, "prune_input")
    scores = attribute(network, x)
    local = scores.node[0]
    keep = (local >= th).nonzero().flatten().tolist()
    if not keep:
        raise ValueError(f"pruning would remove every input (largest score {float(local.max()):.3g}); lower th")
    means = _edge_means(network, network_input(network, x))[0]
    drop = [i for i in range(len(local)) if i not in keep]
    new = copy.deepcopy(network)
    if drop:
        new.layers[0].add_to_bias((means[drop] * new.layers[0].mask[drop]).sum(0))
    _subset_layer(new, 0, keep, range(new.layers[0].out_dim))
    new.input_ids = network.input_ids[torch.as_tensor(keep, dtype=torch.long, device=network.input_ids.device)].clone()
    return new


@torch.no_grad()
def remove_node(network, l: int, j: int, x=None):
    """A new network without hidden node j of layer l (1 <= l < depth); its mean outgoing
    contribution on x is folded into the next layer's biases."""
    _require_x(x, "remove_node")
    if not 1 <= l < len(network.layers):
        raise ValueError(f"hidden layer index must be in 1..{len(network.layers) - 1}, got {l}")
    width = network.width[l]
    if width < 2:
        raise ValueError(f"layer {l} has a single node; removing it would leave the layer empty")
    means = _edge_means(network, network_input(network, x))
    new = copy.deepcopy(network)
    new.layers[l].add_to_bias(means[l][j] * new.layers[l].mask[j])
    keep = [k for k in range(width) if k != j]
    _subset_layer(new, l - 1, range(new.layers[l - 1].in_dim), keep)
    _subset_layer(new, l, keep, range(new.layers[l].out_dim))
    return new
