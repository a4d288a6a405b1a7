"""The torch basis kernels: the k + 1 non-zero B-spline values (and derivatives) of every input
from a layer's polynomial table (see ``kanlab.core.spline.basis_table``), scattered into dense
features, and the input gradient of a feature product.

``features`` runs the kernel ``dispatch.basis_kernel`` names: the compiled numba kernels of
:mod:`numba_basis`, the eager torch kernels below, or those through ``torch.compile`` (the
``autograd-compile`` backend). :func:`knot_interval` is the one torch knot-interval search (also
used by ``core.spline`` and ``export``). Nothing here knows about layers or networks.
"""
from __future__ import annotations

import torch

from . import dispatch, numba_basis

_HORNER_TABLES: dict = {}  # id(table) -> (table, tables); see horner_tables


def horner_tables(tab: torch.Tensor, k: int, n_basis: int):
    """The polynomial table rearranged for contiguous Horner passes: C (in*rows, k+1, k+1) with
    C[., p, r] the s^p coefficient of value r; E (in*rows, k+1, 2(k+1)) with the s-derivative
    coefficients beside them (row p = k zero); [t_mu, 1/h] (in*rows, 2); and the clamped basis
    indices (in*rows, k+1). Cached per table object (layers keep theirs until the knots change)."""
    compiling = torch.compiler.is_compiling()  # under torch.compile: no cache (its guards would recompile per table)
    hit = None if compiling else _HORNER_TABLES.get(id(tab))
    if hit is not None and hit[0] is tab:
        return hit[1]
    k1 = k + 1
    n_in, n_rows, _ = tab.shape
    C = tab[..., 2:2 + k1 * k1].reshape(n_in * n_rows, k1, k1)
    D = tab[..., 2 + k1 * k1:].reshape(n_in * n_rows, k1 - 1, k1)
    E = torch.cat([C, torch.cat([D, D.new_zeros(n_in * n_rows, 1, k1)], 1)], 2)
    j = torch.arange(n_rows, device=tab.device)
    idx = (j[:, None] - k1 + torch.arange(k1, device=tab.device)).clamp(0, max(n_basis - 1, 0)).repeat(n_in, 1)
    out = (C.contiguous(), E.contiguous(), tab[..., :2].reshape(-1, 2).contiguous(), idx.contiguous())
    if compiling:
        return out
    if len(_HORNER_TABLES) > 256:
        _HORNER_TABLES.clear()
    _HORNER_TABLES[id(tab)] = (tab, out)
    return out


def knot_interval(x: torch.Tensor, knots: torch.Tensor, by_count: bool = False) -> torch.Tensor:
    """j (N, in) = the number of knots knots[i, :] <= x[:, i], so that t_{j-1} <= x < t_j
    (``searchsorted(right=True)``; values left of all knots get 0, right of them n_knots).
    ``by_count``: count the knots instead of searching (for the exported model: ONNX has no
    searchsorted; O(n_knots) per value; NaN gets 0 there, n_knots from the search)."""
    if by_count:
        return (x.unsqueeze(-1) >= knots.unsqueeze(0)).sum(-1)
    return torch.searchsorted(knots, x.t().contiguous(), right=True).t()


def local_values(x: torch.Tensor, knots: torch.Tensor, tab: torch.Tensor, k: int, with_deriv: bool):
    """The k+1 non-zero basis values of every input from the polynomial table.

    x (N, in) -> vals (N*in, k+1), idx (N*in, k+1) their basis indices (clamped into range;
    values of non-existent basis functions are 0), and if asked dvals (N*in, k+1), the
    derivatives in x. One Horner pass over contiguous rows gives values and derivatives together.
    """
    n_in = x.shape[1]
    k1 = k + 1
    n_rows = tab.shape[1]
    C, E, th, idx_tab = horner_tables(tab, k, knots.shape[-1] - 1 - k)
    j = knot_interval(x, knots)  # t_{j-1} <= x < t_j
    flat = (j + torch.arange(0, n_in * n_rows, n_rows, device=x.device)).reshape(-1)
    rows = (E if with_deriv else C).index_select(0, flat)
    tr = th.index_select(0, flat)
    s = ((x.reshape(-1) - tr[:, 0]) * tr[:, 1]).unsqueeze(1)
    acc = rows[:, k]
    for p in range(k - 1, -1, -1):
        acc = torch.addcmul(rows[:, p], acc, s)
    idx = idx_tab.index_select(0, flat)
    if not with_deriv:
        return acc, idx, None
    return acc[:, :k1], idx, acc[:, k1:] * tr[:, 1:2]


def features(x: torch.Tensor, knots: torch.Tensor, tab: torch.Tensor, k: int, with_deriv: bool):
    """Dense features (N*in, G+k) of x (N, in) and, if ``with_deriv``, the state
    :func:`grad_input` needs for the input gradient (else None), by the kernel that
    ``dispatch.basis_kernel`` names for x (numba: one pass for values and derivatives)."""
    kernel = dispatch.basis_kernel(x)
    if kernel == "numba":
        n_basis = knots.shape[-1] - 1 - k
        _, E, th, _ = horner_tables(tab, k, n_basis)
        out, (first, dvals) = numba_basis.features(x, knots, E, th, k, n_basis, with_deriv)
        return out, (("numba", first, dvals) if with_deriv else None)
    kernels = _torch_compiled_kernels() if kernel == "compile" else _EAGER
    out, idx, dvals = kernels["features"](x, knots, tab, k, with_deriv)
    return out, ((kernel, idx, dvals) if with_deriv else None)


def grad_input(grad: torch.Tensor, state) -> torch.Tensor:
    """(N*in,) input gradient of sum(grad * features) from the state of :func:`features` (by
    the kernel that computed the features)."""
    if state[0] == "numba":
        return numba_basis.grad_input(state[1], state[2], grad)
    kernels = _torch_compiled_kernels() if state[0] == "compile" else _EAGER
    return kernels["grad_input"](grad, state[1], state[2])


def _eager_features(x: torch.Tensor, knots: torch.Tensor, tab: torch.Tensor, k: int, with_deriv: bool):
    """Eager kernel: dense features (N*in, G+k), their scatter indices (N*in, k+1) and, if
    asked, the derivatives of the k+1 non-zero values (N*in, k+1)."""
    vals, idx, dvals = local_values(x, knots, tab, k, with_deriv)
    out = x.new_zeros(vals.shape[0], knots.shape[-1] - 1 - k).scatter_add_(1, idx, vals)
    return out, idx, dvals


def _eager_grad_input(grad: torch.Tensor, idx: torch.Tensor, dvals: torch.Tensor) -> torch.Tensor:
    return (grad.reshape(idx.shape[0], -1).gather(1, idx) * dvals).sum(1)


_EAGER = {"features": _eager_features, "grad_input": _eager_grad_input}
_COMPILED: dict = {}  # the eager kernels through torch.compile, built on first use


def _torch_compiled_kernels() -> dict:
    """The eager kernels through ``torch.compile`` (fused loops, at a one-off compile cost of
    ~20-30 s per shape family): the ``autograd-compile`` backend's basis kernels."""
    if not _COMPILED:
        _COMPILED.update({name: torch.compile(fn, dynamic=True) for name, fn in _EAGER.items()})
    return _COMPILED
