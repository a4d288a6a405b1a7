"""The large-grid path: spline features as a sparse (CSR) matrix, cost independent of G.

Only k + 1 of the G + k basis functions are non-zero at any input, so for large grids the
(batch, in * (G+k)) feature matrix is mostly zeros. Here it is held as a CSR matrix with
k + 1 entries per (sample, input) and multiplied into the spline weight with sparse kernels:

    forward   y = S @ W                          (sparse x dense)
    backward  dW = S^T @ dy                      (S^T built as CSR by one stable sort of columns)
              dx = sum_r (dy @ W^T)[n, col] * dB  (sampled dense-dense product on S's pattern)

Memory is O(batch * in * (k+1)) whatever G is. On CPU with numba, ``spline_kernels`` does the
same in three loops without building any sparse matrix (forward: k + 1 rows of the weight per
input; backward: the weight gradient accumulated per input, the input gradient as k + 1 dot
products). Second derivatives (create_graph) are not
supported on this path; ``KANLayer`` uses the dense path when ``sparse=False`` or G is small.
"""
from __future__ import annotations

import warnings

import torch

from . import spline_kernels
from .spline import _horner_tables, local_values

__all__ = ["sparse_spline_matmul"]


class _SparseSplineMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, knots, table, k, weight):
        N, n_in = x.shape
        k1 = k + 1
        n_basis = knots.shape[-1] - 1 - k
        need_x = bool(ctx.needs_input_grad[0])
        ctx.compiled = spline_kernels.applies(x) and weight.dtype == x.dtype
        if ctx.compiled:  # one pass, no sparse matrix (spline_kernels)
            _, E, th, _ = _horner_tables(table, k, n_basis)
            y, (first, vals, dv) = spline_kernels.sparse_matmul(x, knots, E, th, k, weight, need_x)
            ctx.save_for_backward(first, vals, dv, weight)
            ctx.n_in = n_in
            return y
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
            return _SparseSplineMM._backward(ctx, gy)

    @staticmethod
    def _backward(ctx, gy):
        if torch.is_grad_enabled():
            raise RuntimeError("second derivatives are not available on the sparse large-grid path; "
                               "set layer.sparse = False for PDE losses")
        if ctx.compiled:
            first, vals, dv, weight = ctx.saved_tensors
            gx, gw = spline_kernels.sparse_grads(first, vals, dv, gy, weight, ctx.n_in, ctx.needs_input_grad[0],
                                                 ctx.needs_input_grad[4])
            return gx, None, None, None, gw
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


def sparse_spline_matmul(x: torch.Tensor, knots: torch.Tensor, table: torch.Tensor, k: int, weight: torch.Tensor) -> torch.Tensor:
    """sum over inputs and basis functions of B_m(x_i) * weight[i*(G+k)+m, :], for x (N, in)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        return _SparseSplineMM.apply(x, knots, table, k, weight)
