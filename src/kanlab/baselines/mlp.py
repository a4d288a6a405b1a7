"""A multi-layer perceptron with the same ``fit`` API as a KAN, and parameter matching.

``MLP(width, activation, seed)`` trains with :func:`kanlab.training.loop.fit` (same optimiser, same
history) so comparisons differ only in the model. ``match_mlp_width`` picks the hidden width
whose parameter count is closest to a target, answering "KAN or MLP: A Fairer Comparison"
(compare at matched parameter counts, not only matched widths).
"""
from __future__ import annotations

import torch
from torch import nn

from ..core.network import check_width

__all__ = ["MLP", "match_mlp_width", "n_params"]

ACTIVATIONS = {"silu": nn.SiLU, "tanh": nn.Tanh, "relu": nn.ReLU}


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class MLP(nn.Module):
    def __init__(self, width, activation: str = "silu", seed: int = 0, dtype=None):
        super().__init__()
        width = check_width(width)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.n_inputs, self._width, self.activation = width[0], width, activation
        gen = torch.Generator().manual_seed(seed)
        layers = []
        for a, b in zip(width[:-1], width[1:]):
            lin = nn.Linear(a, b, dtype=dtype)
            with torch.no_grad():
                bound = 1.0 / a**0.5
                lin.weight.copy_((torch.rand(b, a, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
                lin.bias.copy_((torch.rand(b, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
            layers += [lin, ACTIVATIONS[activation]()]
        self.net = nn.Sequential(*layers[:-1])

    @property
    def width(self):
        return list(self._width)

    def forward(self, x):
        return self.net(x)

    # the parts of the KAN training interface an MLP needs
    def out_of_range_fraction(self, x) -> float:
        return 0.0

    def update_grid(self, x) -> None:
        return None


def match_mlp_width(n_in: int, n_out: int, depth: int, target_params: int) -> int:
    """Hidden width (same for all depth-1 hidden layers) whose MLP has ~target_params parameters."""
    best, best_err = 1, None
    for w in range(1, 2049):
        widths = [n_in] + [w] * (depth - 1) + [n_out]
        p = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
        err = abs(p - target_params)
        if best_err is None or err < best_err:
            best, best_err = w, err
        if p > target_params:
            break
    return best
