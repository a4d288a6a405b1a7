"""Edge, node and input importance scores computed on data.

Backward attribution (KAN 2.0, arXiv 2408.10205): every output node starts with score 1. For
layer l, from the last to the first, an edge's score is the spread (standard deviation over the
samples) of its activation phi_ij(x_i) relative to the spread of the node it feeds, times that
node's score:

    E_l[i, j] = std_s(phi_ij) / std_s(sum_i' phi_i'j) * N_{l+1}[j],     N_l[i] = sum_j E_l[i, j]

so scores measure how much of an output's variation flows through each edge and node; the
input scores N_0 rank the model's inputs. Forward magnitudes (the paper's pruning metric) are
also given: mean |phi_ij| over the samples divided by the mean |value| of node j.

Under backward attribution a hidden node's incoming score sum_i E_{l-1}[i, j] is never below its
outgoing score N_l[j] (the spread of a sum is at most the sum of the spreads), so pruning by
"both scores above the threshold" (the paper's rule) is decided by the outgoing score.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..validate import KanlabError

__all__ = ["Scores", "attribute", "feature_score"]


@dataclass
class Scores:
    """Importance scores of one model on one data set.

    edge[l] (in_l, out_l) and node[l] (width[l],) per layer (node[-1] are the outputs, all 1);
    ``input`` (n_inputs,) over the model's ORIGINAL columns (0 for pruned inputs);
    forward_edge[l] the forward magnitudes; edge_std[l] the raw activation spreads;
    edge_mean[l] the mean activations (pruning keeps them in the biases);
    x_range[l] (in_l, 2) the min/max of each layer input on the data (for plots).
    With multiplication nodes, a layer's outputs are sub-nodes (the factors): edge[l] is
    (in_l, sub-nodes), each factor carries its mult node's score, and ``sub_node[l]`` maps the
    sub-nodes of row l to its nodes (None for rows without mult nodes).
    """

    edge: list
    node: list
    input: torch.Tensor
    forward_edge: list
    edge_std: list
    x_range: list
    edge_mean: list
    sub_node: list = field(default_factory=list)

    def node_in(self, l: int) -> torch.Tensor:
        """Incoming score of the nodes of layer ``l`` >= 1: the sum of their incoming edge scores
        (for a mult node, over all its factors)."""
        incoming = self.edge[l - 1].sum(0)
        groups = self.sub_node[l] if l < len(self.sub_node) else None
        if groups is None:
            return incoming
        return incoming.new_zeros(self.node[l].shape[0]).index_add(0, groups.to(incoming.device), incoming)


def _sub_node_maps(network) -> list:
    """Per row, the sub-node -> node map of rows with mult nodes (None elsewhere)."""
    if not getattr(network, "has_mult", False):
        return []
    return [network.mult.node_of_sub(r) if network.mult.has(r) else None for r in range(len(network.layers) + 1)]


def _output_scores(network, output, like: torch.Tensor) -> torch.Tensor:
    """The starting scores of the output nodes: all 1, or 1 for ``output`` alone."""
    n_out = network.width[-1]
    if output is None:
        return torch.ones(n_out, dtype=like.dtype, device=like.device)
    if isinstance(output, bool) or not isinstance(output, int) or not 0 <= output < n_out:
        raise KanlabError(f"output must be None (all outputs) or an output index in 0..{n_out - 1}, got {output!r}")
    start = torch.zeros(n_out, dtype=like.dtype, device=like.device)
    start[output] = 1.0
    return start


@torch.no_grad()
def attribute(network, x: torch.Tensor, output: int | None = None) -> Scores:
    """Backward attribution scores on x (module docstring). ``output``: None starts every output
    node at score 1 (the scores of all outputs summed); an index j starts output j alone at 1 and
    the others at 0, so the scores measure what flows into output j only."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] < 2:
        raise ValueError("attribute needs data x of shape (N, n_inputs) with N >= 2 samples")
    h = network.select_inputs(x.to(next(network.parameters()).dtype))
    stds, fwd, ranges, means = [], [], [], []
    for l in range(len(network.layers)):
        phi = network.edge_values(l, h)  # (N, in, out)
        node = network.layer_forward(l, h)  # (N, out): sub-nodes where a row has mult nodes
        stds.append((phi.std(0, unbiased=False), node.std(0, unbiased=False)))
        means.append(phi.mean(0))
        fwd.append(phi.abs().mean(0) / (node.abs().mean(0) + 1e-12))
        ranges.append(torch.stack([h.min(0).values, h.max(0).values], dim=1))
        h = network.node_values(l, node)
    L = len(network.layers)
    node_scores = [None] * (L + 1)
    edge_scores = [None] * L
    node_scores[L] = _output_scores(network, output, h)
    maps = _sub_node_maps(network)
    for l in range(L - 1, -1, -1):
        e_std, n_std = stds[l]
        target = node_scores[l + 1]
        if maps and maps[l + 1] is not None:  # each factor of a mult node carries the node's score
            target = target[maps[l + 1].to(target.device)]
        edge_scores[l] = e_std / (n_std + 1e-12) * target
        node_scores[l] = edge_scores[l].sum(1)
    full = torch.zeros(network.n_inputs, dtype=h.dtype, device=h.device)
    full[network.input_index] = node_scores[0]
    return Scores(edge_scores, node_scores, full, fwd, [s[0] for s in stds], ranges, means, maps)


def feature_score(network, x: torch.Tensor, output: int | None = None) -> torch.Tensor:
    """Input importance over the model's original columns (see :func:`attribute`)."""
    return attribute(network, x, output=output).input
