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

from . import spline

__all__ = ["supports", "mse_and_grad", "ENABLED"]

ENABLED = True  # set False to train through autograd only (benchmarks compare the two)


def _silu_backward(g, x):
    return torch.ops.aten.silu_backward(g, x)  # one fused kernel for g * silu'(x)


def _tanh_backward(g, x):
    return g * (1 - torch.tanh(x) ** 2)


_BASE_BACKWARD = {"silu": _silu_backward, "tanh": _tanh_backward, "identity": lambda g, x: g,
                  "zero": lambda g, x: torch.zeros_like(g)}


def _layer_params(layer):
    return [layer.coef, layer.scale_base, layer.scale_sp] + ([layer.bias] if layer.bias is not None else [])


def supports(model, params) -> bool:
    """Whether :func:`mse_and_grad` computes the gradient of every parameter in ``params``
    for ``model`` exactly as autograd would."""
    from .network import KANNetwork

    if not ENABLED or not isinstance(model, KANNetwork) or type(model).forward is not KANNetwork.forward:
        return False
    layers = list(model.layers)
    if any(len(s) for s in model.symbolic) or any(l.use_sparse() or l.base_fun not in _BASE_BACKWARD for l in layers):
        return False
    trainable = {id(p) for p in params}
    own = [p for l in layers for p in _layer_params(l)] + [p for s in model.symbolic for p in s.parameters()]
    return len(trainable) == len(own) and all(id(p) in trainable for p in own)


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
        state = None
        if l == 0 and first_basis is not None:
            feats = first_basis.reshape(n, -1)
        else:
            feats, state = spline._features(h, layer.knots, layer.basis_table, layer.k, with_deriv=l > 0)
            feats = feats.view(n, -1)
        out = torch.addmm(layer.bias, b, wb) if layer.bias is not None else b @ wb
        out = torch.addmm(out, feats, ws)
        saved.append((h, b, feats, state, wb, ws, sm))
        h = out
    r = h - y
    loss = torch.mean(r * r)
    g = r * (2.0 / r.numel())
    for l in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[l]
        x_l, b, feats, state, wb, ws, sm = saved[l]
        if layer.bias is not None:
            layer.bias.grad = g.sum(0)
        layer.scale_base.grad = (b.t() @ g) * layer.mask
        d = (feats.t() @ g).view(layer.in_dim, layer.n_basis, layer.out_dim).transpose(1, 2)  # (in, out, nb)
        layer.coef.grad = d * sm.unsqueeze(-1)
        layer.scale_sp.grad = (d * layer.coef).sum(-1) * layer.mask
        if l > 0:
            gx = _BASE_BACKWARD[layer.base_fun](g @ wb.t(), x_l)
            g = gx + spline._grad_input(g @ ws.t(), state).view_as(x_l)
    for s in model.symbolic:
        for p in s.parameters():
            p.grad = torch.zeros_like(p)
    return loss
