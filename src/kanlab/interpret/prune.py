"""Pruning: from a trained (sparsified) KAN to a smaller one.

Scores come from :mod:`kanlab.interpret.attribution` on data x (required: there is no hidden cache of
the last batch). Scores are relative to the outputs (each output node has score 1), so a
threshold means "fraction of an output's variation".

- ``prune_edge``: edges (numeric or symbolic) scoring below ``th`` are switched off (numeric:
  mask = 0; symbolic: removed).
- ``prune_node``: a hidden node is important when both its incoming score (sum of its incoming
  edge scores) and its outgoing score (its node score) reach ``th`` (paper section 2.5.1);
  the others are removed, and so are hidden nodes left without any live incoming or outgoing
  edge.
- ``prune`` = both, from one set of scores; ``prune_input`` removes inputs scoring below ``th``
  (the model still takes all original columns; ``input_ids`` lists those it reads).

Removing an edge or a node removes its *variation*; its *mean* contribution on the data is
kept by adding it to the bias of the node it fed, so on the data the pruned model differs from
the original by at most the removed variation. Structure-changing: a new model is returned
(same class), the original is untouched. A layer is never left empty: that raises ValueError
naming the layer and the threshold to lower.

Multiplication nodes: a mult node is one node (its score is its outgoing score; its incoming
score sums over its factors); removing it removes its factors (the sub-nodes of the layer
before) with it, so a mult node whose outgoing edges are all pruned disappears cleanly.
"""
from __future__ import annotations

import copy

import torch

from .attribution import attribute

__all__ = ["prune", "prune_edge", "prune_node", "prune_input", "remove_node"]


def _require_x(x, what):
    if x is None:
        raise ValueError(f"{what} needs data: pass x, the model inputs of shape (N, n_inputs) "
                         "(e.g. dataset['train_input'])")


def _symbolic(net, l):
    sym = getattr(net, "symbolic", None)
    return sym[l] if sym is not None else None


def _live(net, l) -> torch.Tensor:
    """Boolean (in, out): edges of layer l that carry a function (numeric or symbolic)."""
    live = net.layers[l].mask > 0
    sym = _symbolic(net, l)
    if sym is not None:
        for (i, j, *_rest) in sym.edges():
            live[i, j] = True
    return live


def _subset_layer(net, l, in_ids, out_ids):
    in_ids, out_ids = list(in_ids), list(out_ids)
    net.layers[l] = net.layers[l].subset(in_ids, out_ids)
    sym = getattr(net, "symbolic", None)
    if sym is not None:
        sym[l] = sym[l].subset(in_ids, out_ids)


def _drop_edges(net, l, weak, means):
    """Switch off the edges of layer l marked in ``weak`` (in, out), folding their means into the biases."""
    weak = weak & _live(net, l)
    if not bool(weak.any()):
        return
    net.layers[l].add_to_bias((means * weak).sum(0))
    net.layers[l].mask[weak] = 0.0
    sym = _symbolic(net, l)
    if sym is not None:
        for i, j in weak.nonzero().tolist():
            sym.remove(i, j)


def _check_edges(net, l, what):
    if not bool(_live(net, l).any()):
        raise ValueError(f"pruning would remove every edge of layer {l} (the output would be constant); "
                         f"lower {what}")


def _keep_nodes(net, l, keep, means_out, what):
    """Keep only nodes ``keep`` of hidden layer l (outputs of layers[l-1], inputs of layers[l]);
    the live outgoing edges of removed nodes have their means folded into layers[l]'s biases."""
    n = net.layers[l].in_dim
    if not keep:
        raise ValueError(f"pruning would remove every node of hidden layer {l}; lower {what}")
    drop = [j for j in range(n) if j not in keep]
    if not drop:
        return
    live = _live(net, l)
    net.layers[l].add_to_bias((means_out[drop] * live[drop]).sum(0))
    mult = getattr(net, "mult", None)
    subs = mult.subs_of_nodes(l, keep) if mult is not None and mult.has(l) else keep
    _subset_layer(net, l - 1, range(net.layers[l - 1].in_dim), subs)
    _subset_layer(net, l, keep, range(net.layers[l].out_dim))
    if mult is not None:
        mult.keep_nodes(l, keep)


def _live_in(net, l) -> torch.Tensor:
    """Boolean (nodes of row l,): nodes with a live incoming edge (a mult node: on any factor)."""
    live = _live(net, l - 1).any(0)
    mult = getattr(net, "mult", None)
    if mult is None or not mult.has(l):
        return live
    groups = mult.node_of_sub(l).to(live.device)
    return torch.zeros(net.layers[l].in_dim, dtype=torch.long, device=live.device).index_add(0, groups, live.long()) > 0


def _prune_nodes_inplace(net, scores, th, width):
    """Remove weak and dead hidden nodes of ``net`` (whose edges may already be masked)."""
    for l in range(1, len(width) - 1):
        important = (scores.node_in(l) >= th) & (scores.node[l] >= th)
        live_in = _live_in(net, l)
        live_out = _live(net, l).any(1)
        keep = (important & live_in & live_out).nonzero().flatten().tolist()
        best = float(torch.minimum(scores.node_in(l), scores.node[l]).max())
        _keep_nodes(net, l, keep, scores.edge_mean[l], f"node_th (largest node score {best:.3g})")


@torch.no_grad()
def prune_edge(network, th: float = 3e-2, x=None, scores=None):
    """A new network with the edges scoring below ``th`` on x switched off."""
    _require_x(x, "prune_edge")
    scores = attribute(network, x) if scores is None else scores
    new = copy.deepcopy(network)
    for l in range(len(new.layers)):
        _drop_edges(new, l, scores.edge[l] < th, scores.edge_mean[l])
        _check_edges(new, l, f"edge_th (largest edge score {float(scores.edge[l].max()):.3g})")
    return new


@torch.no_grad()
def prune_node(network, th: float = 1e-2, x=None, scores=None):
    """A new network without the hidden nodes whose incoming or outgoing score on x is below ``th``."""
    _require_x(x, "prune_node")
    scores = attribute(network, x) if scores is None else scores
    new = copy.deepcopy(network)
    _prune_nodes_inplace(new, scores, th, network.width)
    return new


@torch.no_grad()
def prune(network, node_th: float = 1e-2, edge_th: float = 3e-2, x=None):
    """A new, smaller network: weak edges switched off, weak (or dead) hidden nodes removed;
    all decisions from one attribution of the original network on x."""
    _require_x(x, "prune")
    scores = attribute(network, x)
    new = prune_edge(network, edge_th, x=x, scores=scores)
    _prune_nodes_inplace(new, scores, node_th, network.width)
    return new


@torch.no_grad()
def prune_input(network, th: float = 1e-2, x=None):
    """A new network without the inputs whose score on x is below ``th``; it still takes all
    the original columns (``input_ids`` lists the ones it reads)."""
    _require_x(x, "prune_input")
    scores = attribute(network, x)
    local = scores.node[0]
    keep = (local >= th).nonzero().flatten().tolist()
    if not keep:
        raise ValueError(f"pruning would remove every input (largest input score {float(local.max()):.3g}); lower th")
    drop = [i for i in range(len(local)) if i not in keep]
    new = copy.deepcopy(network)
    if drop:
        new.layers[0].add_to_bias((scores.edge_mean[0][drop] * _live(network, 0)[drop]).sum(0))
    _subset_layer(new, 0, keep, range(new.layers[0].out_dim))
    new.input_index = network.input_index[torch.as_tensor(keep, dtype=torch.long, device=network.input_index.device)].clone()
    return new


@torch.no_grad()
def remove_node(network, l: int, j: int, x=None):
    """A new network without hidden node j of layer l (1 <= l < depth); its mean outgoing
    contribution on x is folded into the next layer's biases."""
    _require_x(x, "remove_node")
    if not 1 <= l < len(network.layers):
        raise ValueError(f"hidden layer index must be in 1..{len(network.layers) - 1}, got {l}")
    width = network.width[l]
    if not 0 <= j < width:
        raise ValueError(f"node index of hidden layer {l} must be in 0..{width - 1}, got {j}")
    if width < 2:
        raise ValueError(f"layer {l} has a single node; removing it would leave the layer empty")
    scores = attribute(network, x)
    new = copy.deepcopy(network)
    _keep_nodes(new, l, [k for k in range(width) if k != j], scores.edge_mean[l], "the node count")
    return new
