"""The mean squared error of a plain KAN and its gradient in one pass, without autograd.

For small networks a training evaluation is mostly per-operation overhead: recording the
autograd graph and replaying ~100 small kernels. When the network has no symbolic edges, no
sparse layers and the loss is the plain MSE (the paper's fits), each layer
y = base(x) Wb + F(x) Ws + bias has a short closed-form gradient:

    dWb = base(x)^T g      dWs = F^T g      dbias = sum_n g
    dx  = base'(x) * (g Wb^T) + sum_r B'_r(x) * (g Ws^T)[basis index r]

with F the basis features and B'_r the derivatives of the k + 1 basis functions that are
non-zero at x (computed alongside their values from the layer's polynomial table). The
parameter gradients follow from Wb = scale_base * mask and Ws = coef * scale_sp * mask.
``train.fit`` uses this path automatically when :func:`supports` says it applies; the result
equals autograd's to rounding (tests/test_fused_grad.py).
"""
from __future__ import annotations

import torch

__all__ = ["supports", "mse_and_grad", "ENABLED"]

ENABLED = True  # set False to train through autograd only (benchmarks compare the two)


def _silu_grad(x):
    s = torch.sigmoid(x)
    return s * (1 + x * (1 - s))


def _tanh_grad(x):
    return 1 - torch.tanh(x) ** 2


_BASE_GRAD = {"silu": _silu_grad, "tanh": _tanh_grad, "identity": torch.ones_like, "zero": torch.zeros_like}


def _layer_params(layer):
    return [layer.coef, layer.scale_base, layer.scale_sp] + ([layer.bias] if layer.bias is not None else [])


def supports(model, params) -> bool:
    """Whether :func:`mse_and_grad` computes the gradient of every parameter in ``params``
    for ``model`` exactly as autograd would."""
    from .network import KANNetwork

    if not ENABLED or not isinstance(model, KANNetwork) or type(model).forward is not KANNetwork.forward:
        return False
    layers = list(model.layers)
    if any(len(s) for s in model.symbolic) or any(l.use_sparse() or l.base_fun not in _BASE_GRAD for l in layers):
        return False
    trainable = {id(p) for p in params}
    own = [p for l in layers for p in _layer_params(l)] + [p for s in model.symbolic for p in s.parameters()]
    return len(trainable) == len(own) and all(id(p) in trainable for p in own)


_TABLES: dict = {}  # id(basis_table) -> (basis_table, fused tables); see _fused_tables


def _fused_tables(layer, dtype):
    """The layer's polynomial table rearranged for one Horner pass giving values and x-derivatives
    together: E (in*rows, k+1, 2(k+1)) with E[., p, :k+1] the s^p coefficients of the k+1 values
    and E[., p, k+1:] those of their s-derivatives (times 1/h: x-derivatives); [t_mu, 1/h] (in*rows, 2); and
    the clamped basis indices (in*rows, k+1). Cached per basis table (rebuilt when knots change)."""
    tab = layer.basis_table
    hit = _TABLES.get(id(tab))
    if hit is not None and hit[0] is tab and hit[1][0].dtype == dtype:
        return hit[1]
    k1 = layer.k + 1
    t64 = tab.double()
    n_in, n_rows, _ = t64.shape
    C = t64[..., 2:2 + k1 * k1].reshape(n_in * n_rows, k1, k1)
    D = t64[..., 2 + k1 * k1:].reshape(n_in * n_rows, k1 - 1, k1)  # derivative in s; times 1/h below
    E = torch.cat([C, torch.cat([D, D.new_zeros(n_in * n_rows, 1, k1)], 1)], 2)
    th = t64[..., :2].reshape(-1, 2)
    j = torch.arange(n_rows, device=tab.device)
    idx = (j[:, None] - k1 + torch.arange(k1, device=tab.device)).clamp(0, layer.n_basis - 1).repeat(n_in, 1)
    out = (E.to(dtype).contiguous(), th.to(dtype).contiguous(), idx.contiguous())
    if len(_TABLES) > 64:
        _TABLES.clear()
    _TABLES[id(tab)] = (tab, out)
    return out


def _local(h, layer):
    """Values and x-derivatives of the k+1 non-zero basis functions at every input, with their
    basis indices: (N*in, k+1) each (the same numbers as spline.local_values)."""
    E, th, idx_tab = _fused_tables(layer, h.dtype)
    n_in = h.shape[1]
    n_rows = layer.basis_table.shape[1]
    j = torch.searchsorted(layer.knots, h.t().contiguous(), right=True).t()
    flat = (j + torch.arange(0, n_in * n_rows, n_rows, device=h.device)).reshape(-1)
    rows = E.index_select(0, flat)
    tr = th.index_select(0, flat)
    s = ((h.reshape(-1) - tr[:, 0]) * tr[:, 1]).unsqueeze(1)
    acc = rows[:, -1]
    for p in range(rows.shape[1] - 2, -1, -1):
        acc = torch.addcmul(rows[:, p], acc, s)
    k1 = layer.k + 1
    return acc[:, :k1], idx_tab.index_select(0, flat), acc[:, k1:] * tr[:, 1:2]


@torch.no_grad()
def mse_and_grad(model, x: torch.Tensor, y: torch.Tensor, first_basis: torch.Tensor | None = None) -> torch.Tensor:
    """MSE of ``model`` on (x, y) with the gradients written to each parameter's ``.grad``.

    x: the selected inputs (``model.select_inputs(x)``), shape (N, in); y: (N, out);
    first_basis: optional precomputed ``model.layers[0].basis(x)``. Returns the loss (0-dim).
    """
    saved = []
    h = x
    for l, layer in enumerate(model.layers):
        n, n_in = h.shape
        wb = layer.scale_base * layer.mask
        sm = layer.scale_sp * layer.mask
        ws = (layer.coef * sm.unsqueeze(-1)).transpose(1, 2).reshape(n_in * layer.n_basis, layer.out_dim)
        b = layer.base(h)
        idx = dvals = None
        if l == 0 and first_basis is not None:
            feats = first_basis.reshape(n, -1)
        else:
            vals, idx, dvals = _local(h, layer)
            feats = h.new_zeros(n * n_in, layer.n_basis).scatter_add_(1, idx, vals).view(n, -1)
        out = torch.addmm(layer.bias, b, wb) if layer.bias is not None else b @ wb
        out = torch.addmm(out, feats, ws)
        saved.append((h, b, feats, idx, dvals, wb, ws, sm))
        h = out
    r = h - y
    loss = torch.mean(r * r)
    g = r * (2.0 / r.numel())
    for l in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[l]
        x_l, b, feats, idx, dvals, wb, ws, sm = saved[l]
        if layer.bias is not None:
            layer.bias.grad = g.sum(0)
        layer.scale_base.grad = (b.t() @ g) * layer.mask
        d = (feats.t() @ g).view(layer.in_dim, layer.n_basis, layer.out_dim).transpose(1, 2)  # (in, out, nb)
        layer.coef.grad = d * sm.unsqueeze(-1)
        layer.scale_sp.grad = (d * layer.coef).sum(-1) * layer.mask
        if l > 0:
            gx = (g @ wb.t()) * _BASE_GRAD[layer.base_fun](x_l)
            gf = (g @ ws.t()).view(-1, layer.n_basis)
            g = gx + (gf.gather(1, idx) * dvals).sum(1).view_as(x_l)
    for s in model.symbolic:
        for p in s.parameters():
            p.grad = torch.zeros_like(p)
    return loss
