"""The mean squared error of a plain KAN and its gradient in one pass, without autograd.

For small networks a training evaluation is mostly per-operation overhead: recording the
autograd graph and replaying ~100 small kernels. When the network has no symbolic edges, no
large-grid layers and the loss is the plain MSE (the paper's fits), each layer
y = base(x) Wb + F(x) Ws + bias has a short closed-form gradient:

    dWb = base(x)^T g      dWs = F^T g      dbias = sum_n g
    dx  = base'(x) * (g Wb^T) + sum_r B'_r(x) * (g Ws^T)[basis index r]

with F the basis features and B'_r the derivatives of the k + 1 basis functions that are
non-zero at x (computed alongside their values from the layer's polynomial table). The
parameter gradients follow from Wb = scale_base * mask and Ws = coef * scale_sp * mask.
Which fits take this path (plain MSE, no penalty, a plain KAN: the fused-* backends) is decided
by ``kernels.dispatch``; the result equals autograd's to rounding
(tests/kernels/test_fused_grad.py). :func:`evaluator` binds a model and a batch: on the
fused-torch / fused-matmul backends it computes the first layer's features once; on fused-numba
it binds the model's tensors to the compiled layer kernels of :mod:`numba_layer`, so that an
evaluation is 2 kernel calls per layer instead of ~25 torch operations (~4x faster on the
paper's [2,5,1] recipe).
"""
from __future__ import annotations

import torch

from . import numba_layer
from . import torch_basis
from .base_functions import BASE_FUNCTIONS

__all__ = ["mse_and_grad", "evaluator"]


def _layer_params(layer):
    return [layer.coef, layer.scale_base, layer.scale_sp] + ([layer.bias] if layer.bias is not None else [])


def mse_and_grad(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MSE of ``model`` on (x, y) with the gradients written to each parameter's ``.grad``
    (the reference the evaluators are tested against).

    x: the selected inputs (``model.select_inputs(x)``), shape (N, in); y: (N, out). Returns
    the loss (0-dim)."""
    return _mse_and_grad(model, x, y, None)


@torch.no_grad()
def _mse_and_grad(model, x: torch.Tensor, y: torch.Tensor, first_features: torch.Tensor | None) -> torch.Tensor:
    """:func:`mse_and_grad`, with the first layer's dense features (N * in, G + k) given or None."""
    saved = []
    h = x
    for l, layer in enumerate(model.layers):
        n, n_in = h.shape
        wb = layer.scale_base * layer.mask
        sm = layer.scale_sp * layer.mask
        ws = (layer.coef * sm.unsqueeze(1)).reshape(n_in * layer.n_basis, layer.out_dim)
        b = layer.base(h)
        state = None
        if l == 0 and first_features is not None:
            feats = first_features.view(n, -1)
        else:
            feats, state = torch_basis.features(h, layer.knots, layer.basis_table, layer.k, with_deriv=l > 0)
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
        d = (feats.t() @ g).view(layer.in_dim, layer.n_basis, layer.out_dim)  # (in, nb, out), as coef
        layer.coef.grad = d * sm.unsqueeze(1)
        layer.scale_sp.grad = (d * layer.coef).sum(1) * layer.mask
        if l > 0:
            gx = BASE_FUNCTIONS[layer.base_fun].backward(g @ wb.t(), x_l)
            g = gx + torch_basis.grad_input(g @ ws.t(), state).view_as(x_l)
    for s in model.symbolic:
        for p in s.parameters():
            p.grad = torch.zeros_like(p)
    return loss


def evaluator(model, x: torch.Tensor, y: torch.Tensor, numba_layers: bool):
    """A function of no arguments that computes :func:`mse_and_grad` (model, x, y) at the
    model's current parameter values, owning what depends only on x and the knots (the first
    layer's features or kernel state). Build it after anything that changes the model's tensors
    (a grid update, a rebinding of ``.data``); parameter values may change between calls.
    ``numba_layers``: bind the numba layer kernels (the fused-numba backend; CPU float32/64
    tensors of one dtype) instead of torch operations."""
    if numba_layers:
        return _NumbaMSE(model, x, y)
    return _TorchMSE(model, x, y)


class _TorchMSE:
    """:func:`mse_and_grad` on torch operations, the first layer's features computed once."""

    def __init__(self, model, x, y):
        self.model, self.x, self.y = model, x, y
        layer = model.layers[0]
        table = layer.basis_table if layer.basis_table.dtype == x.dtype else layer.basis_table.to(x.dtype)
        with torch.no_grad():
            self.first_features, _ = torch_basis.features(x, layer.knots.to(x.dtype), table, layer.k, False)

    def __call__(self) -> torch.Tensor:
        return _mse_and_grad(self.model, self.x, self.y, self.first_features)


def _np(t: torch.Tensor):
    return t.detach().numpy()


class _NumbaMSE:
    """The model's tensors bound (as numpy views, no copies) to the compiled layer kernels,
    with the work arrays of one evaluation allocated once (feature-major, see numba_layer).
    The first layer's per-input state (knot intervals, basis values, base(x)) depends only on
    x and the knots, so it is computed on the first call and reused."""

    def __init__(self, model, x, y):
        n = x.shape[0]
        self.y = _np(y.t().contiguous())
        self.dtype = x.dtype
        self.g = torch.empty(y.shape[1], n, dtype=x.dtype).numpy()
        self.have_state = False
        self.layers = []
        h = x.detach().t().contiguous()
        for l, layer in enumerate(model.layers):
            n_in, n_out, nb, k1 = layer.in_dim, layer.out_dim, layer.n_basis, layer.k + 1
            _, E, th, _ = torch_basis.horner_tables(layer.basis_table, layer.k, nb)
            grads = []
            for p in _layer_params(layer):
                if p.grad is None or p.grad.shape != p.shape or p.grad.dtype != p.dtype or not p.grad.is_contiguous():
                    p.grad = torch.empty_like(p, memory_format=torch.contiguous_format)
                grads.append(_np(p.grad))
            if layer.bias is None:
                bias, g_bias = torch.zeros(n_out, dtype=x.dtype).numpy(), torch.empty(n_out, dtype=x.dtype).numpy()
            else:
                bias, g_bias = _np(layer.bias), grads[3]
            empty = lambda *shape, dtype=x.dtype: torch.empty(*shape, dtype=dtype)
            out = empty(n_out, n)
            out_np = out.numpy()
            pre_fn = BASE_FUNCTIONS[layer.base_fun].precursor
            pre = empty(n_in, n) if pre_fn else h
            wb, ws = empty(n_out, n_in).numpy(), torch.zeros(n_out, n_in, nb + 2 * k1, dtype=x.dtype).numpy()
            first, vals, dvals = empty(n_in, n, dtype=torch.int64).numpy(), empty(n_in, k1, n).numpy(), empty(n_in, k1, n).numpy()
            bvals, bders = empty(n_in, n).numpy(), empty(n_in, n).numpy()
            coef, ssp, mask = _np(layer.coef), _np(layer.scale_sp), _np(layer.mask)
            want_gx = l > 0
            gx = (empty(n_in, n) if want_gx else empty(1, 1)).numpy()
            self.layers.append(dict(
                h=h, pre_fn=pre_fn, pre=pre, out=out_np, gx=gx,
                # the kernels' argument lists (see numba_layer.layer_forward / layer_backward)
                forward=(h.numpy(), pre.numpy(), _np(layer.knots.contiguous()), _np(E), _np(th), layer.k, coef,
                         _np(layer.scale_base), ssp, mask, bias, BASE_FUNCTIONS[layer.base_fun].code, want_gx),
                state=(wb, ws, out_np, first, vals, dvals, bvals, bders),
                backward=(layer.k, coef, ssp, mask, wb, ws, first, vals, dvals, bvals, bders, want_gx,
                          empty(n_out, n_in, nb + 2 * k1, dtype=torch.float64).numpy(), grads[0], grads[1], grads[2],
                          g_bias, gx)))
            h = out
        for s in model.symbolic:
            for p in s.parameters():
                p.grad = torch.zeros_like(p)

    def __call__(self) -> torch.Tensor:
        for l, L in enumerate(self.layers):
            have_state = l == 0 and self.have_state
            if L["pre_fn"] is not None and not have_state:
                L["pre_fn"](L["h"], out=L["pre"])
            numba_layer.layer_forward(*L["forward"], have_state, *L["state"])
        self.have_state = True
        loss = numba_layer.mse(self.layers[-1]["out"], self.y, self.g)
        g = self.g
        for L in reversed(self.layers):
            numba_layer.layer_backward(g, *L["backward"])
            g = L["gx"]
        return torch.tensor(loss, dtype=self.dtype)
