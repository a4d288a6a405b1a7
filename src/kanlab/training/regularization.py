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
values are the sums of its edge values). The first layer's basis features of that subsample
are reused while neither the data tensor nor the first layer's knots change (an LBFGS step
evaluates the penalty many times on the same batch).
"""
from __future__ import annotations

import torch

__all__ = ["make_penalty", "edge_magnitudes", "penalty_value"]

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
            h = phi.sum(1) if bias is None else phi.sum(1) + bias
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


def _same(old, key) -> bool:
    """Cache keys: tensors compared by identity, version counters by value."""
    return old is not None and all(a is b if torch.is_tensor(a) else a == b for a, b in zip(old, key))


def make_penalty(network, lamb_l1=1.0, lamb_entropy=2.0, lamb_coef=0.0, lamb_coefdiff=0.0,
                 metric="edge_l1", max_rows: int = 128, seed: int = 0):
    """A callable penalty(x) -> scalar for the training loop (subsampling at most max_rows rows)."""
    if metric not in METRICS:
        raise ValueError(f"reg_metric must be one of {METRICS}, got {metric!r}")
    gen = torch.Generator().manual_seed(seed)
    rows = {}
    last = {}  # the subsample and first-layer basis of the last data tensor seen

    def penalty(x: torch.Tensor) -> torch.Tensor:
        knots = network.layers[0].knots
        key = (x, x._version, knots, knots._version, network.input_index)
        if not _same(last.get("key"), key):
            n = x.shape[0]
            xs = x
            if n > max_rows:
                if (n, x.device) not in rows:  # one fixed subsample per batch size: a smooth objective for LBFGS
                    rows[(n, x.device)] = torch.randperm(n, generator=gen)[:max_rows].to(x.device)
                xs = x.index_select(0, rows[(n, x.device)])
            basis = None
            if not xs.requires_grad:  # inputs that need gradients (e.g. PDE collocation points): no reuse
                with torch.no_grad():
                    basis = network.layers[0].basis(network.select_inputs(xs))
            last.update(key=key, xs=xs, basis=basis)
        return penalty_value(network, last["xs"], lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff, metric,
                             first_basis=last["basis"])

    return penalty
