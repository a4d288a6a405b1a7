"""The base functions b(x) of a KAN edge's residual part w_b * b(x): one table for every path.

Each row says, for one ``base_fun`` name, everything a compute path needs: the torch function
(the layer's forward), its backward g * b'(x) (the fused MSE gradient), the integer code the
numba layer kernels and the exported model branch on, and the precursor those numba kernels
take precomputed by torch's vectorised kernels (sigmoid(x) for silu, tanh(x) for tanh; b and
b' follow from it in a few flops). Codes are internal (not stored in ``.kan`` files); an
exported model carries the code of its own base function.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F

__all__ = ["BaseFunction", "BASE_FUNCTIONS", "SILU", "IDENTITY", "ZERO", "TANH"]

SILU, IDENTITY, ZERO, TANH = 0, 1, 2, 3  # the integer codes (numba kernels, exported models)


@dataclass(frozen=True)
class BaseFunction:
    name: str
    code: int
    forward: Callable[[torch.Tensor], torch.Tensor]
    backward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (g, x) -> g * b'(x)
    precursor: Optional[Callable[[torch.Tensor], torch.Tensor]]  # for the numba layer kernels


def _zero(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _silu_backward(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.silu_backward(g, x)  # one fused kernel for g * silu'(x)


def _tanh_backward(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return g * (1 - torch.tanh(x) ** 2)


def _identity_backward(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return g


def _zero_backward(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(g)


BASE_FUNCTIONS = {b.name: b for b in (
    BaseFunction("silu", SILU, F.silu, _silu_backward, torch.sigmoid),
    BaseFunction("identity", IDENTITY, _identity, _identity_backward, None),
    BaseFunction("zero", ZERO, _zero, _zero_backward, None),
    BaseFunction("tanh", TANH, torch.tanh, _tanh_backward, torch.tanh),
)}
