"""Symbolic edges of one layer: phi_ij(x) = c * f(a * x + b) + d with f from the library.

Stored sparsely: ``index`` (E, 2) holds (i, j) of each fixed edge, ``affine`` (E, 4) its
trainable (a, b, c, d), and ``names`` the library name of each f (strings only: the functions
are looked up in :mod:`kanlab.symbolic` at call time, so modules pickle and a registered user
function survives save/load by name). Evaluation is grouped by function: one vectorised call
per distinct name, never a Python loop over the edges. The training forward uses each
primitive's singularity-safe torch form (identical inside its domain).
"""
from __future__ import annotations

import torch
from torch import nn

from . import primitives

__all__ = ["SymbolicEdges"]


class SymbolicEdges(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, names=(), dtype=None, device=None):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.names = list(names)
        n = len(self.names)
        self.register_buffer("index", torch.zeros(n, 2, dtype=torch.long, device=device))
        self.affine = nn.Parameter(torch.zeros(n, 4, dtype=dtype, device=device))

    def __len__(self) -> int:
        return len(self.names)

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, out_dim={self.out_dim}, edges={len(self)}"

    # ------------------------------------------------------------------ editing
    def edges(self):
        """[(i, j, name, (a, b, c, d)), ...] of the fixed edges."""
        return [(int(i), int(j), name, tuple(float(v) for v in p))
                for (i, j), name, p in zip(self.index.tolist(), self.names, self.affine.detach())]

    def find(self, i: int, j: int) -> int:
        hits = ((self.index[:, 0] == i) & (self.index[:, 1] == j)).nonzero().flatten()
        return int(hits[0]) if hits.numel() else -1

    @torch.no_grad()
    def set(self, i: int, j: int, name: str, params) -> None:
        """Fix edge (i, j) to name with params (a, b, c, d), replacing any previous fit."""
        primitives.get(name)  # unknown names fail here, clearly
        self.remove(i, j)
        dev, dt = self.affine.device, self.affine.dtype
        self.index = torch.cat([self.index, torch.tensor([[i, j]], dtype=torch.long, device=dev)])
        row = torch.tensor([list(params)], dtype=dt, device=dev)
        self.affine = nn.Parameter(torch.cat([self.affine.detach(), row]))
        self.names.append(name)

    @torch.no_grad()
    def remove(self, i: int, j: int) -> bool:
        e = self.find(i, j)
        if e < 0:
            return False
        keep = [k for k in range(len(self)) if k != e]
        self._keep(keep)
        return True

    def _keep(self, keep):
        sel = torch.as_tensor(keep, dtype=torch.long, device=self.index.device)
        self.index = self.index[sel].clone()
        self.affine = nn.Parameter(self.affine.detach()[sel].clone())
        self.names = [self.names[k] for k in keep]

    @torch.no_grad()
    def subset(self, in_ids, out_ids) -> "SymbolicEdges":
        """A copy keeping only edges between the given inputs and outputs, re-indexed."""
        in_map = {int(v): n for n, v in enumerate(in_ids)}
        out_map = {int(v): n for n, v in enumerate(out_ids)}
        new = SymbolicEdges(len(in_map), len(out_map), dtype=self.affine.dtype, device=self.affine.device)
        for (i, j), name, p in zip(self.index.tolist(), self.names, self.affine.detach()):
            if i in in_map and j in out_map:
                new.set(in_map[i], out_map[j], name, p.tolist())
        return new

    # ------------------------------------------------------------------ evaluation
    def _groups(self):
        groups = {}
        for e, name in enumerate(self.names):
            groups.setdefault(name, []).append(e)
        return groups

    def edge_outputs(self, x: torch.Tensor, safe: bool = True) -> torch.Tensor:
        """c * f(a * x_i + b) + d for every fixed edge: (N, in) -> (N, E)."""
        out = x.new_empty(x.shape[0], len(self))
        for name, ids in self._groups().items():
            prim = primitives.get(name)
            fn = prim.safe_torch_fn if safe else prim.torch_fn
            sel = torch.as_tensor(ids, dtype=torch.long, device=x.device)
            p = self.affine.index_select(0, sel)
            xi = x.index_select(1, self.index[sel, 0])
            out[:, sel] = p[:, 2] * fn(p[:, 0] * xi + p[:, 1]) + p[:, 3]
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Sum of the symbolic edges at each output node: (N, in) -> (N, out)."""
        y = x.new_zeros(x.shape[0], self.out_dim)
        if len(self):
            y = y.index_add(1, self.index[:, 1], self.edge_outputs(x))
        return y

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """Dense (N, in, out) tensor of the symbolic edges' values (zero elsewhere)."""
        dense = x.new_zeros(x.shape[0], self.in_dim * self.out_dim)
        if len(self):
            flat = self.index[:, 0] * self.out_dim + self.index[:, 1]
            dense = dense.index_add(1, flat, self.edge_outputs(x))
        return dense.view(x.shape[0], self.in_dim, self.out_dim)
