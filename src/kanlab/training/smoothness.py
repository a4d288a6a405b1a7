"""A smoothness and size penalty for KAN splines (P-spline style), for tabular fits.

For every layer the effective spline coefficients of edge i -> j are
w_ijm = coef_ijm * scale_sp_ij * mask_ij (the B-spline weights of the edge's spline part). The
penalty is

    alpha / n * ( sum (second differences of w along m)^2
                  + ridge * sum w^2  +  ridge * sum (scale_base * mask)^2 )

Squared second differences are the discrete curvature of a B-spline (Eilers & Marx's
P-splines): strong alpha pulls every spline towards a straight line, and the residual base
function (identity or SiLU) carries what is left, so a heavily penalised KAN with identity
base functions is a linear model. The small ridge term keeps the coefficients from growing
where the curvature term does not see them. Dividing by the number of training rows ``n``
gives the penalty the weight of a fixed number of pseudo-observations, as in ridge
regression: more data, relatively less smoothing. Smooth in the parameters, so L-BFGS can
take it. Cheap: it touches the coefficients only, never the data.
"""
from __future__ import annotations

import torch

__all__ = ["SmoothnessPenalty"]


class SmoothnessPenalty:
    """``penalty()`` -> the scalar above for ``network`` (differentiable)."""

    def __init__(self, network, alpha: float, n_rows: int, ridge: float = 0.01):
        if not alpha >= 0 or not ridge >= 0:
            raise ValueError(f"alpha and ridge must be non-negative, got {alpha!r}, {ridge!r}")
        self.network, self.ridge = network, float(ridge)
        self.weight = float(alpha) / max(int(n_rows), 1)

    def __call__(self) -> torch.Tensor:
        total = None
        for layer in self.network.layers:
            w = layer.coef * (layer.scale_sp * layer.mask).unsqueeze(1)  # (in, G+k, out)
            term = self.ridge * (w ** 2).sum()
            if w.shape[1] >= 3:
                term = term + (w.diff(n=2, dim=1) ** 2).sum()
            total = term if total is None else total + term
        return self.weight * total
