"""Input derivatives of a network for physics-informed losses (PINNs).

``gradient`` and ``laplacian`` are batched and differentiable (usable inside a loss): the
B-spline basis has closed-form derivatives that autograd uses at every order (see
:func:`kanlab.core.spline.basis`), so nested autograd here is exact, not a finite difference.
"""
from __future__ import annotations

import torch

__all__ = ["gradient", "laplacian"]


def gradient(model, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
    """du/dx_k for a scalar-output model: x (N, d) -> (N, d)."""
    x = x if x.requires_grad else x.detach().requires_grad_(True)
    u = model(x)
    if u.shape[-1] != 1:
        raise ValueError(f"gradient needs a scalar-output model, got {u.shape[-1]} outputs")
    return torch.autograd.grad(u.sum(), x, create_graph=create_graph)[0]


def laplacian(model, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
    """sum_k d2u/dx_k2 for a scalar-output model: x (N, d) -> (N,)."""
    x = x if x.requires_grad else x.detach().requires_grad_(True)
    g = gradient(model, x, create_graph=True)
    lap = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for k in range(x.shape[1]):
        lap = lap + torch.autograd.grad(g[:, k].sum(), x, create_graph=create_graph)[0][:, k]
    return lap
