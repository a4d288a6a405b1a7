"""The sparsity penalty of the paper (eqs. 2.17-2.20), for ``fit(..., lamb=...)``.

For layer l with edges phi_ij, the edge magnitude is |phi_ij| = mean_s |phi_ij(x_s)| over the
batch ("edge_l1", the paper's choice) or the standard deviation of phi_ij(x_s) ("edge_std").
The layer's L1 norm is |Phi_l| = sum_ij |phi_ij| and its entropy
S(Phi_l) = -sum_ij p_ij log p_ij with p_ij = |phi_ij| / |Phi_l|. The penalty is

    sum_l ( lamb_l1 |Phi_l| + lamb_entropy S(Phi_l) )
      + lamb_coef * sum |c|  +  lamb_coefdiff * sum |c_{m+1} - c_m|

and ``fit`` adds ``lamb`` times it to the loss. Edge magnitudes need the per-edge values, a
(batch, in, out) tensor per layer; to keep a step cheap the penalty is computed on a fixed
subsample of at most ``max_rows`` rows of the batch (the magnitudes are batch means, so a few
hundred rows estimate them well), from layer inputs obtained in one pass (each layer's node
values are the sums of its edge values). ``Penalty.on(x)`` binds the penalty to one batch: it draws the subsample and computes its
first-layer basis features once (an LBFGS step evaluates the penalty many times on the same batch),
and the fit loop's evaluator keeps that binding for exactly as long as it keeps its own batch.
"""
from __future__ import annotations

import torch

__all__ = ["Penalty", "make_penalty", "edge_magnitudes", "penalty_value"]

METRICS = ("edge_l1", "edge_std")


def edge_magnitudes(network, x: torch.Tensor, metric: str = "edge_l1", first_basis=None) -> list[torch.Tensor]:
    """|phi_ij| of every layer on x (N, n_inputs): a list of (in, out) tensors (differentiable).
    ``first_basis``: optional precomputed ``network.layers[0].basis(network.select_inputs(x))``."""
    if metric not in METRICS:
        raise ValueError(f"reg_metric must be one of {METRICS}, got {metric!r}")
    h = network.select_inputs(x)
    out = []
    for l in range(len(network.layers)):
        phi = network.edge_values(l, h, basis=first_basis if l == 0 else None)  # (N, in, out)
        out.append(phi.abs().mean(0) if metric == "edge_l1" else phi.std(0, unbiased=False))
        if l + 1 < len(network.layers):  # the node values are the edge sums: no second forward
            bias = network.layers[l].bias
            h = network.node_values(l, phi.sum(1) if bias is None else phi.sum(1) + bias)
    return out


def penalty_value(network, x, lamb_l1=1.0, lamb_entropy=2.0, lamb_coef=0.0, lamb_coefdiff=0.0,
                  metric="edge_l1", first_basis=None) -> torch.Tensor:
    """The penalty on x (see the module docstring)."""
    total = x.new_zeros(())
    for mag in edge_magnitudes(network, x, metric, first_basis):
        l1 = mag.sum()
        p = mag / (l1 + 1e-12)
        entropy = -(p * torch.log(p + 1e-12)).sum()
        total = total + lamb_l1 * l1 + lamb_entropy * entropy
    if lamb_coef or lamb_coefdiff:
        for layer in network.layers:
            if lamb_coef:
                total = total + lamb_coef * layer.coef.abs().mean(1).sum()
            if lamb_coefdiff:
                total = total + lamb_coefdiff * layer.coef.diff(dim=1).abs().mean(1).sum()
    return total


class Penalty:
    """The sparsity penalty of one fit: ``penalty(x)`` evaluates it on x (at most ``max_rows``
    rows, a fixed subsample per batch size drawn with ``seed``: a smooth objective for LBFGS);
    ``penalty.on(x)`` returns a function of no arguments bound to x that reuses the subsample's
    first-layer basis features (valid while x and the first layer's knots do not change)."""

    def __init__(self, network, lamb_l1=1.0, lamb_entropy=2.0, lamb_coef=0.0, lamb_coefdiff=0.0,
                 metric="edge_l1", max_rows: int = 128, seed: int = 0):
        if metric not in METRICS:
            raise ValueError(f"reg_metric must be one of {METRICS}, got {metric!r}")
        self.network, self.metric, self.max_rows = network, metric, max_rows
        self.weights = dict(lamb_l1=lamb_l1, lamb_entropy=lamb_entropy, lamb_coef=lamb_coef, lamb_coefdiff=lamb_coefdiff)
        self._gen = torch.Generator().manual_seed(seed)
        self._rows = {}  # (n, device) -> the fixed subsample of a batch of n rows

    def subsample(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if n <= self.max_rows:
            return x
        key = (n, x.device)
        if key not in self._rows:
            self._rows[key] = torch.randperm(n, generator=self._gen)[: self.max_rows].to(x.device)
        return x.index_select(0, self._rows[key])

    def on(self, x: torch.Tensor):
        """The penalty on x as a function of no arguments (first-layer features computed once)."""
        xs = self.subsample(x)
        basis = None
        if not xs.requires_grad:  # inputs that need gradients (e.g. PDE collocation points): no reuse
            with torch.no_grad():
                basis = self.network.layers[0].basis(self.network.select_inputs(xs))
        return lambda: penalty_value(self.network, xs, metric=self.metric, first_basis=basis, **self.weights)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return penalty_value(self.network, self.subsample(x), metric=self.metric, **self.weights)


def make_penalty(network, lamb_l1=1.0, lamb_entropy=2.0, lamb_coef=0.0, lamb_coefdiff=0.0,
                 metric="edge_l1", max_rows: int = 128, seed: int = 0) -> Penalty:
    """The :class:`Penalty` of ``fit(..., lamb=...)`` with these weights."""
    return Penalty(network, lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff, metric, max_rows, seed)
