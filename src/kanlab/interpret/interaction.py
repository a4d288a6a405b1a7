"""Pairwise feature interactions of a model on data, and their heatmap.

The interaction of inputs i and j is the mean absolute mixed second derivative of the model's
output on the data, scaled by the inputs' spreads so it is in the output's units:

    I[i, j] = mean_s |d^2 f / dx_i dx_j (x_s)| * std(x_i) * std(x_j)        (i != j; I[i, i] = 0)

It is zero exactly when f is additive in x_i and x_j on the data (f = g(x_i, ...) + h(x_j, ...)),
and e.g. std(x)·std(y) for f = x·y. The derivatives are exact (autograd through the splines'
closed-form derivatives), not finite differences. With several outputs, ``output=None`` sums
the matrices of all outputs; ``output=j`` takes output j only. Large-grid layers are evaluated
on the dense path here (equal values; the large-grid kernels have no second derivatives).
"""
from __future__ import annotations

import copy

import torch

from ..validate import KanlabError
from .plot import _plt

__all__ = ["feature_interaction", "plot_interaction"]


def _outputs(network, output) -> list[int]:
    n_out = network.width[-1]
    if output is None:
        return list(range(n_out))
    if isinstance(output, bool) or not isinstance(output, int) or not 0 <= output < n_out:
        raise KanlabError(f"output must be None (all outputs) or an output index in 0..{n_out - 1}, got {output!r}")
    return [output]


def _mean_abs_hessian(network, x: torch.Tensor, out: int) -> torch.Tensor:
    """mean_s |d^2 f_out / dx_i dx_j| over the rows of x: (n, n)."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y = network(x)[:, out]
        (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
        rows = []
        for i in range(x.shape[1]):
            if not g.requires_grad:  # the output is linear in every input: no second derivative
                rows.append(torch.zeros_like(x))
                continue
            (h,) = torch.autograd.grad(g[:, i].sum(), x, retain_graph=True, allow_unused=True)
            rows.append(torch.zeros_like(x) if h is None else h)
    return torch.stack([r.detach().abs().mean(0) for r in rows])


def _dense(network):
    """The network itself, or a copy on the dense basis path where a layer takes the large-grid
    path (equal values; only the dense path has second derivatives)."""
    if not any(layer.uses_large_grid() for layer in network.layers):
        return network
    dense = copy.deepcopy(network)
    for layer in dense.layers:
        layer.large_grid = False
    return dense


def feature_interaction(network, x: torch.Tensor, output: int | None = None) -> torch.Tensor:
    """The (n_inputs, n_inputs) matrix of pairwise interaction strengths on data x, over the
    model's original columns (see the module docstring); symmetric, zero diagonal."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] < 2:
        raise KanlabError("feature_interaction needs data x: a tensor of shape (N, n_inputs) with N >= 2 rows "
                          "(e.g. dataset['train_input'])")
    if x.shape[1] != network.n_inputs:
        raise KanlabError(f"x must have the model's {network.n_inputs} input columns, got {x.shape[1]}")
    x = x.to(next(network.parameters()).dtype)
    network = _dense(network)
    total = torch.zeros(x.shape[1], x.shape[1], dtype=x.dtype)
    for out in _outputs(network, output):
        total += _mean_abs_hessian(network, x, out).cpu()
    spread = x.detach().std(0, unbiased=False).cpu()
    total = 0.5 * (total + total.t()) * spread[:, None] * spread[None, :]
    total.fill_diagonal_(0.0)
    return total


def plot_interaction(matrix, names=None, path=None, title: str | None = "feature interactions"):
    """Heatmap of an interaction matrix (e.g. :func:`feature_interaction`'s); returns the Figure,
    written to ``path`` only when given."""
    import numpy as np

    m = np.asarray(matrix.detach().cpu() if isinstance(matrix, torch.Tensor) else matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise KanlabError(f"plot_interaction needs a square matrix, got shape {m.shape}")
    n = m.shape[0]
    names = [f"$x_{{{i + 1}}}$" for i in range(n)] if names is None else list(names)
    if len(names) != n:
        raise KanlabError(f"names has {len(names)} entries for a {n} x {n} matrix; give one name per input")
    plt = _plt()
    size = min(max(3.0, 0.5 * n + 2.0), 20.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    im = ax.imshow(m, cmap="viridis", vmin=0.0)
    ax.set_xticks(range(n), names, rotation=90 if n > 8 else 0)
    ax.set_yticks(range(n), names)
    fig.colorbar(im, ax=ax, label="interaction strength")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig
