"""Least squares between sampled curves and B-spline coefficients (used by grid update,
grid extension and initialisation), batched over inputs.

``curve_to_coef`` solves in float64 with an SVD-based solver (minimum-norm for rank-deficient
systems), a ridge-regularised Cholesky fallback, and banded normal equations for large grids;
it never raises for conditioning and never prints.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from .spline import basis, local_basis

def curve_to_coef(x: torch.Tensor, y: torch.Tensor, knots: torch.Tensor, k: int, ridge: float = 0.0) -> torch.Tensor:
    """Least-squares spline coefficients of sampled curves, batched over inputs.

    x: (N, in) sample locations; y: (N, in, out) curve values; knots: (in, n_knots).
    Returns coef (in, n_basis, out) (the layout of ``KANLayer.coef``) minimising sum_n (y - sum_m coef B_m(x))^2 per (in, out).
    Solved in float64. Rank-deficient systems (basis functions with no samples) get the
    minimum-norm solution; if the SVD-based solver fails, a ridge-regularised normal-equation
    solve is used instead. Never raises for conditioning, never prints.
    """
    dtype = y.dtype
    with torch.no_grad():
        x64, y64, t64 = x.double().cpu(), y.double().cpu(), knots.double().cpu()
        if t64.shape[-1] - 1 - k > _DENSE_MAX_BASIS:
            coef = _banded_lstsq(x64, y64, t64, k, ridge)
            return coef.to(device=y.device, dtype=dtype).contiguous()
        A = basis(x64, t64, k).permute(1, 0, 2)  # (in, N, nb)
        B = y64.permute(1, 0, 2)  # (in, N, out)
        coef = None
        if ridge == 0.0:
            try:
                coef = torch.linalg.lstsq(A, B, rcond=1e-12, driver="gelsd").solution
                if not bool(torch.isfinite(coef).all()):
                    coef = None
            except RuntimeError:
                coef = None
        if coef is None:
            coef = _ridge_solve(A, B, ridge)
        return coef.to(device=y.device, dtype=dtype).contiguous()


_DENSE_MAX_BASIS = 48


def _banded_lstsq(x, y, knots, k, ridge):
    """Normal equations in banded form (bandwidth k) for large grids: cost O(N (k+1)^2 + nb k^2)."""
    import scipy.linalg

    n_in, out = x.shape[1], y.shape[-1]
    nb = knots.shape[-1] - 1 - k
    first, vals, _ = local_basis(x, knots, k)
    bidx = (first.unsqueeze(-1) + torch.arange(k + 1)).clamp(0, nb - 1)  # (N, in, k+1)
    aty = torch.zeros(nb, n_in, out, dtype=torch.float64)
    ab = torch.zeros(n_in, k + 1, nb, dtype=torch.float64)  # upper banded storage
    for r in range(k + 1):
        aty.scatter_add_(0, bidx[:, :, r, None].expand(-1, -1, out), vals[:, :, r, None] * y)
        for r2 in range(r, k + 1):
            row = ab[:, k - (r2 - r), :]
            row.scatter_add_(1, bidx[:, :, r2].t(), (vals[:, :, r] * vals[:, :, r2]).t())
    scale = ab[:, k, :].mean(-1).clamp_min(1e-300)
    coef = torch.zeros(n_in, nb, out, dtype=torch.float64)
    for i in range(n_in):
        lam = max(ridge, 1e-10)
        for _ in range(8):
            band = ab[i].clone()
            band[k] += lam * scale[i]
            try:
                coef[i] = torch.from_numpy(scipy.linalg.solveh_banded(band.numpy(), aty[:, i, :].numpy()))
                break
            except (np.linalg.LinAlgError, ValueError):
                lam *= 100.0
    return coef


def _ridge_solve(A: torch.Tensor, B: torch.Tensor, ridge: float) -> torch.Tensor:
    AtA = A.transpose(-1, -2) @ A
    AtB = A.transpose(-1, -2) @ B
    n = AtA.shape[-1]
    eye = torch.eye(n, dtype=A.dtype)
    scale = AtA.diagonal(dim1=-2, dim2=-1).mean(-1, keepdim=True).clamp_min(1e-300).unsqueeze(-1)
    lam = max(ridge, 1e-10)
    for _ in range(8):
        L, info = torch.linalg.cholesky_ex(AtA + lam * scale * eye)
        if int(info.max()) == 0:
            sol = torch.cholesky_solve(AtB, L)
            if bool(torch.isfinite(sol).all()):
                return sol
        lam *= 100.0
    warnings.warn("curve_to_coef: system singular even with regularisation; returning zeros", RuntimeWarning)
    return torch.zeros(A.shape[0], n, B.shape[-1], dtype=A.dtype)


def coef_to_curve(x: torch.Tensor, coef: torch.Tensor, knots: torch.Tensor, k: int) -> torch.Tensor:
    """Evaluate splines: x (N, in), coef (in, nb, out) -> (N, in, out)."""
    return torch.einsum("nim,imo->nio", basis(x, knots, k), coef)
