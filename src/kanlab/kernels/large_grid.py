"""The large-grid path: spline features as a sparse (CSR) matrix, cost independent of G.

Only k + 1 of the G + k basis functions are non-zero at any input, so for large grids the
(batch, in * (G+k)) feature matrix is mostly zeros. Here it is held as a CSR matrix with
k + 1 entries per (sample, input) and multiplied into the spline weight with sparse kernels:

    forward   y = S @ W                          (sparse x dense)
    backward  dW = S^T @ dy                      (S^T built as CSR by one stable sort of columns)
              dx = sum_r (dy @ W^T)[n, col] * dB  (sampled dense-dense product on S's pattern)

Memory is O(batch * in * (k+1)) whatever G is. On CPU with numba, :mod:`numba_large_grid` does the
same from the coefficients without building any sparse matrix or the weight
(``_SplineCoefMM``: it takes coef and s = scale_sp * mask, saves nothing of size G beyond coef
itself, and returns the gradients of x, coef and s directly). Second derivatives
(create_graph) are not supported on this path; ``KANLayer`` uses the dense path when
``large_grid=False`` or G is small. Which layers take this path, and which of the two kernels, is
decided by ``kernels.dispatch`` (``layer_uses_large_grid``, ``large_grid_kernel``).
"""
from __future__ import annotations

import warnings

import torch

from . import dispatch, numba_large_grid
from .torch_basis import horner_tables, local_values

__all__ = ["large_grid_matmul"]


class _LargeGridCSR(torch.autograd.Function):
    """The eager (torch) formulation: CSR features times the (in * (G+k), out) weight."""

    @staticmethod
    def forward(ctx, x, knots, table, k, weight):
        N, n_in = x.shape
        k1 = k + 1
        n_basis = knots.shape[-1] - 1 - k
        need_x = bool(ctx.needs_input_grad[0])
        vals, idx, dvals = local_values(x, knots, table, k, need_x)
        col = (idx + torch.arange(0, n_in * n_basis, n_basis, device=x.device).repeat(N)[:, None]).reshape(-1)
        crow = torch.arange(0, N * n_in * k1 + 1, n_in * k1, device=x.device)
        S = torch.sparse_csr_tensor(crow, col, vals.reshape(-1), (N, n_in * n_basis))
        y = torch.sparse.mm(S, weight)
        ctx.save_for_backward(crow, col, vals, dvals if need_x else vals, weight)
        ctx.shape = (N, n_in, k1, n_basis)
        return y

    @staticmethod
    def backward(ctx, gy):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
            warnings.filterwarnings("ignore", message=".*Sparse invariant checks are implicitly disabled.*")
            return _LargeGridCSR._backward(ctx, gy)

    @staticmethod
    def _backward(ctx, gy):
        _no_double_backward()
        crow, col, vals, dvals, weight = ctx.saved_tensors
        N, n_in, k1, n_basis = ctx.shape
        gy = gy.contiguous()
        gx = gw = None
        if ctx.needs_input_grad[0]:
            S = torch.sparse_csr_tensor(crow, col, vals.reshape(-1), (N, n_in * n_basis))
            sampled = torch.sparse.sampled_addmm(S, gy, weight.t(), beta=0.0)
            gx = (sampled.values().view(-1, k1) * dvals).sum(1).view(N, n_in)
        if ctx.needs_input_grad[4]:
            order = torch.argsort(col, stable=True)
            counts = torch.bincount(col, minlength=n_in * n_basis)
            crow_t = torch.zeros(n_in * n_basis + 1, dtype=crow.dtype, device=crow.device)
            crow_t[1:] = counts.cumsum(0)
            rows = torch.div(order, n_in * k1, rounding_mode="floor")
            ST = torch.sparse_csr_tensor(crow_t, rows, vals.reshape(-1)[order], (n_in * n_basis, N))
            gw = torch.sparse.mm(ST, gy)
        return gx, None, None, None, gw


def _no_double_backward():
    if torch.is_grad_enabled():
        raise RuntimeError("second derivatives are not available on the large-grid path; "
                           "set layer.large_grid = False for PDE losses")


class _SplineCoefMM(torch.autograd.Function):
    """The compiled formulation (numba_large_grid): y = sum_i sum_m B_m(x_i) coef[i, m, :] s[i, :]
    straight from the coefficients and the edge scales s = scale_sp * mask. The weight is never
    formed and nothing of size G is saved beyond coef itself: the forward saves each input value's
    knot interval and local coordinate (not x), from which the backward recomputes the k + 1 basis
    values (and derivatives) and returns the gradients of x, coef and s."""

    @staticmethod
    def forward(ctx, x, knots, table, k, coef, s):
        C, E, th, _ = horner_tables(table, k, coef.shape[1])  # cached per table (the layer's)
        y, order = numba_large_grid.large_grid_forward(x, knots, C, th, k, coef, s)  # values only: C, not E
        ctx.save_for_backward(coef, s, *order)
        ctx.tables, ctx.k = (E, th), k
        return y

    @staticmethod
    def backward(ctx, gy):
        _no_double_backward()
        coef, s, *order = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx, gc, gs = numba_large_grid.large_grid_backward(order, *ctx.tables, ctx.k, coef, s, gy.contiguous(),
                                                    need[0], need[4], need[5])
        return gx, None, None, None, gc, gs


def large_grid_matmul(x: torch.Tensor, knots: torch.Tensor, table: torch.Tensor, k: int, coef: torch.Tensor,
                         s: torch.Tensor) -> torch.Tensor:
    """sum over inputs i and basis functions m of B_m(x_i) * coef[i, m, :] * s[i, :], for x (N, in),
    coef (in, G+k, out), s (in, out): the spline part of a KAN layer, whose weight
    (in * (G+k), out) has rows coef[i, m, :] * s[i, :]."""
    if dispatch.large_grid_kernel(x, coef, s) == "numba":
        return _SplineCoefMM.apply(x, knots, table, k, coef, s)
    weight = (coef * s.unsqueeze(1)).reshape(-1, coef.shape[2])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        warnings.filterwarnings("ignore", message=".*Sparse invariant checks are implicitly disabled.*")
        return _LargeGridCSR.apply(x, knots, table, k, weight)
