"""Affine fits ``y ~ c * f(a * x + b) + d`` of one edge's samples to library functions.

Method (per candidate function ``f``; everything in float64)
-------------------------------------------------------------
1. **Coarse grid.** ``f(a*x + b)`` is evaluated for every point of a
   ``grid_number x grid_number`` grid over ``a_range x b_range`` at once (one
   ``(grid, samples)`` tensor; no Python loop over grid points). For each grid point
   the best ``(c, d)`` is the closed-form least-squares line of ``y`` on
   ``z = f(a*x + b)``, whose coefficient of determination is the squared correlation
   ``R^2 = cov(z, y)^2 / (var(z) var(y))`` = ``1 - SSE/SST``. To keep this step cheap it
   uses at most ``coarse_samples`` points, picked at evenly spaced ranks of ``x`` so the
   smallest and largest ``x`` are always included (``a*x + b`` is monotone in ``x``, so
   for a function whose domain is an interval -- every built-in except ``tan`` -- a
   grid point valid on the subsample is valid on all points; the later steps use all
   points anyway).
2. **Zoom.** ``iteration`` times, a ``zoom_number x zoom_number`` grid is laid over the
   box of +-1 previous grid step around the best point and evaluated on (up to
   ``max_samples``) all points.
3. **Polish.** Starting from the best grid point, a Levenberg-Marquardt iteration
   minimises the SSE of ``y - c*f(a*x+b) - d`` over all four parameters (the
   derivative ``f'`` by finite differences of ``f``); after every accepted step
   ``(c, d)`` are reset to their closed-form optimum for the new ``(a, b)``, which only
   lowers the SSE (so it converges like variable projection). The polished result is
   kept only if its R^2 on all points is higher.

Grid points where ``f`` is not finite at some sample (domain violations such as
``log`` of a negative number, overflow) score ``R^2 = -inf``; they never propagate
``nan`` nor raise. A function that is constant on the samples scores ``R^2 = 0``
(the fit is the mean, ``c = 0``). Ties between grid points (for example every
``a != 0`` for ``f = x``) are broken towards the point closest to ``(a, b) = (1, 0)``.

Constant ``y``: every function fits exactly with ``c = 0, d = mean(y)``, so every
candidate that is finite somewhere on the grid gets ``R^2 = 1`` (with ``a = 0`` when
possible). The ``"0"`` primitive always returns ``a = b = c = 0, d = mean(y)`` and the
ordinary ``R^2`` (``0`` for non-constant ``y``).

The reported ``r2`` is always computed on all finite samples with the exact torch
form of the function.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import sympy
import torch

from ..core.primitive_forms import _t_zero
from ..core.primitives import Primitive, default_library, get
from .polish import _CONST_REL, _polish

__all__ = ["AffineFit", "fit_affine", "fit_affine_batch"]

_F64 = torch.float64
# grid evaluation is chunked to at most this many (grid point, sample) values
_CHUNK = 1 << 21
# grid search: var(z) <= ~_CONST_VAR * sum(z^2) counts as constant (std/rms < ~3e-7)
_CONST_VAR = 1e-13
# R^2 difference under which grid points count as tied
_TIE_TOL = 1e-12


@dataclass(frozen=True)
class AffineFit:
    """Result of an affine fit ``y ~ c * f(a * x + b) + d`` (``f`` = library ``name``)."""

    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.a, self.b, self.c, self.d)

    def predict(self, x: Any) -> torch.Tensor:
        """``c * f(a*x + b) + d`` with the exact torch form (float64 unless ``x`` is a
        floating tensor, whose dtype is kept)."""
        t = torch.as_tensor(x)
        if not t.is_floating_point():
            t = t.to(_F64)
        f = get(self.name).torch_fn
        return self.c * f(self.a * t + self.b) + self.d

    def expr(self, sym: Any = None) -> sympy.Expr:
        """The fitted formula as a sympy expression in ``sym`` (default symbol ``x``)."""
        if sym is None:
            sym = sympy.Symbol("x")
        f = get(self.name).sympy
        a, b, c, d = (sympy.Float(v) for v in self.params)
        return c * f(a * sym + b) + d


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _as_1d(v: Any) -> torch.Tensor:
    t = v.detach() if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v, dtype=float))
    return t.to(device="cpu", dtype=_F64).reshape(-1)


def _apply(fn, u: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = fn(u)
    if not isinstance(z, torch.Tensor):
        z = torch.as_tensor(z)
    z = z.to(_F64)
    if z.shape != u.shape:
        z = torch.broadcast_to(z, u.shape)
    return z


def _r2_rows(z: torch.Tensor, w: torch.Tensor, sst: float) -> torch.Tensor:
    """R^2 of the best line y ~ c z + d for every row of z (samples on the last axis).

    ``w`` is the ``(m, 2)`` matrix ``[1, y - mean(y)]``. Each row is first shifted by
    its value at the middle sample (R^2 is shift invariant; this keeps the one-pass
    variance below free of cancellation when ``z`` varies little around a large
    value), then one matrix product gives the row sums and the covariances (the
    centred ``y`` sums to zero) and one norm the sums of squares.
    """
    m = z.shape[-1]
    ref = z[:, m // 2 : m // 2 + 1]
    z = z - ref
    s = z @ w
    zsum, cov = s[:, 0], s[:, 1]
    ss = torch.linalg.vector_norm(z, dim=-1) ** 2
    varz = ss - zsum * zsum / m
    r2 = cov * cov / (varz * sst)
    ref = ref.squeeze(-1)
    valid = torch.isfinite(ref) & torch.isfinite(zsum) & torch.isfinite(ss) & torch.isfinite(cov)
    # a function (numerically) constant on the samples fits only the mean: R^2 = 0
    const = varz <= _CONST_VAR * (ss + m * ref * ref)
    r2 = torch.where(const, torch.zeros_like(r2), r2)
    valid = valid & torch.isfinite(r2)
    return torch.where(valid, r2.clamp(0.0, 1.0), torch.full_like(r2, -math.inf))


def _grid_args(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> list[torch.Tensor]:
    """Arguments ``a_i x_j + b_i`` of a grid, in chunks of at most ``_CHUNK`` values."""
    g, m = a.numel(), x.numel()
    x1 = torch.stack([x, torch.ones_like(x)])  # (2, m)
    step = max(1, _CHUNK // max(m, 1))
    return [torch.stack([a[s:s + step], b[s:s + step]], 1) @ x1 for s in range(0, g, step)]


def _grid_r2(fn, args: list[torch.Tensor], yc: torch.Tensor, sst: float) -> torch.Tensor:
    """R^2 at every grid point, given the chunked arguments from ``_grid_args``."""
    w = torch.stack([torch.ones_like(yc), yc], 1)  # (m, 2)
    return torch.cat([_r2_rows(_apply(fn, u), w, sst) for u in args])


def _pick(r2: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
    best = r2.max()
    if not torch.isfinite(best):
        return None
    near = r2 >= best - _TIE_TOL
    dist = torch.where(near, (a - 1.0) ** 2 + b**2, torch.full_like(a, math.inf))
    i = int(torch.argmin(dist))
    return float(a[i]), float(b[i]), float(r2[i])


def _box(lo: float, hi: float, n: int) -> torch.Tensor:
    if n <= 1:
        return torch.tensor([(lo + hi) / 2], dtype=_F64)
    k = torch.arange(n, dtype=_F64)
    # (lo (n-1-k) + hi k) / (n-1): exact at "round" points such as 0 and 1 for (-10, 10)
    return (lo * (n - 1 - k) + hi * k) / (n - 1)


def _mesh(a_lo, a_hi, b_lo, b_hi, n):
    A, B = torch.meshgrid(_box(a_lo, a_hi, n), _box(b_lo, b_hi, n), indexing="ij")
    return A.reshape(-1), B.reshape(-1)


def _rank_subsample(order: torch.Tensor, m: int) -> torch.Tensor:
    n = order.numel()
    if m >= n:
        return order
    pos = torch.linspace(0, n - 1, m, dtype=_F64).round().long().unique()
    return order[pos]


def _line_fit(fn, a: float, b: float, x: torch.Tensor, y: torch.Tensor, ym: float, sst: float):
    """(c, d, r2) of the best line y ~ c f(a x + b) + d on all samples."""
    z = _apply(fn, a * x + b)
    if not bool(torch.isfinite(z).all()):
        return 0.0, ym, -math.inf
    zm = z.mean()
    zc = z - zm
    varz = float(zc @ zc)
    if not math.isfinite(varz):
        return 0.0, ym, -math.inf
    if varz <= z.numel() * (_CONST_REL * float(zm.abs())) ** 2:
        c = 0.0
    else:
        c = float(zc @ (y - ym)) / varz
    d = ym - c * float(zm)
    res = y - (c * z + d)
    sse = float(res @ res)
    if not math.isfinite(sse) or not math.isfinite(c):
        return 0.0, ym, -math.inf
    return c, d, min(1.0, 1.0 - sse / sst)


def _check_options(names, grid_number, zoom_number, iteration):
    """The primitives to fit and the validated grid sizes: (prims, grid_number, zoom_number
    (made odd), iteration)."""
    if names is None:
        names = default_library()
    elif isinstance(names, (str, Primitive)):
        names = [names]
    prims = [get(n) for n in names]
    if int(grid_number) < 1 or int(zoom_number) < 1:
        raise ValueError("grid_number and zoom_number must be >= 1")
    if int(iteration) < 0:
        raise ValueError("iteration must be >= 0")
    return prims, int(grid_number), int(zoom_number) | 1, int(iteration)


def _finite_samples(x, y):
    """x and y as float64 1-D tensors of equal length, pairs with a non-finite value dropped."""
    xt, yt = _as_1d(x), _as_1d(y)
    if xt.numel() != yt.numel():
        raise ValueError(f"x and y need the same number of samples, got {xt.numel()} and {yt.numel()}")
    keep = torch.isfinite(xt) & torch.isfinite(yt)
    xt, yt = xt[keep], yt[keep]
    if xt.numel() == 0:
        raise ValueError("fit_affine needs at least one sample with finite x and y")
    return xt, yt


def _subsamples(xt, yt, coarse_samples, max_samples):
    """The rank subsamples of the coarse grid and of the zoom / polish steps:
    (x_coarse, centred y_coarse, SST_coarse, x_zoom, y_zoom, centred y_zoom, SST_zoom)."""
    order = torch.argsort(xt)
    ic = _rank_subsample(order, max(2, int(coarse_samples)))
    iz = _rank_subsample(order, max(2, int(max_samples)))
    xc, ycc = xt[ic], yt[ic] - yt[ic].mean()
    xz, yz = xt[iz], yt[iz]
    yzc = yz - yz.mean()
    return xc, ycc, float(ycc @ ycc), xz, yz, yzc, float(yzc @ yzc)


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


def fit_affine(
    x: Any,
    y: Any,
    names: Iterable[str | Primitive] | str | None = None,
    a_range: Sequence[float] = (-10.0, 10.0),
    b_range: Sequence[float] = (-10.0, 10.0),
    grid_number: int = 101,
    iteration: int = 3,
    polish: bool = True,
    *,
    zoom_number: int = 11,
    coarse_samples: int = 128,
    max_samples: int = 4096,
) -> list[AffineFit]:
    """Fit ``y ~ c * f(a*x + b) + d`` for every function ``f`` in ``names``.

    Parameters
    ----------
    x, y : 1-D samples of one edge (tensors, arrays or sequences of equal length).
        Pairs with a non-finite ``x`` or ``y`` are dropped.
    names : library names (or :class:`Primitive` objects); a single string is allowed;
        ``None`` means :func:`kanlab.symbolic.library.default_library`.
    a_range, b_range : box of the coarse ``(a, b)`` grid.
    grid_number : points per axis of the coarse grid.
    iteration : number of zoom steps around the best grid point.
    polish : refine all four parameters by Levenberg-Marquardt after the grid search
        (kept only if the R^2 improves).
    zoom_number : points per axis of each zoom grid (made odd so it contains its centre).
    coarse_samples, max_samples : sample caps of the coarse grid and of the zoom /
        polish steps (the reported R^2 always uses all samples).

    Returns one :class:`AffineFit` per name, in the order given. See the module
    docstring for the method and the conventions (non-finite grid points, constant
    ``y``, the ``"0"`` function).
    """
    prims, grid_number, zoom_number, iteration = _check_options(names, grid_number, zoom_number, iteration)
    a_lo, a_hi = (float(v) for v in a_range)
    b_lo, b_hi = (float(v) for v in b_range)
    xt, yt = _finite_samples(x, y)
    n = xt.numel()
    ym = float(yt.mean())
    yc = yt - ym
    sst = float(yc @ yc)
    y_scale = float(yt.abs().max())
    y_const = sst <= n * (1e-12 * y_scale) ** 2
    xc, ycc, sst_c, xz, yz, yzc, sst_z = _subsamples(xt, yt, coarse_samples, max_samples)

    coarse = None
    results = []
    for prim in prims:
        fn = prim.torch_fn
        if fn is _t_zero:
            r2 = 1.0 if y_const else _line_fit(fn, 0.0, 0.0, xt, yt, ym, sst)[2]
            results.append(AffineFit(prim.name, 0.0, 0.0, 0.0, ym, r2))
            continue
        if y_const:
            results.append(_constant_fit(prim, xt, ym, a_lo, a_hi, b_lo, b_hi, grid_number))
            continue
        if coarse is None:  # the coarse grid's arguments are shared by all functions
            A, B = _mesh(a_lo, a_hi, b_lo, b_hi, grid_number)
            coarse = (A, B, _grid_args(A, B, xc))
        results.append(
            _fit_one(prim, xt, yt, ym, sst, coarse, ycc, sst_c, xz, yz, yzc, sst_z,
                     a_lo, a_hi, b_lo, b_hi, grid_number, iteration, zoom_number, polish)
        )
    return results


def _constant_fit(prim, x, ym, a_lo, a_hi, b_lo, b_hi, grid_number) -> AffineFit:
    fn = prim.torch_fn
    for b in (0.5, 1.0, -0.5, 0.0, 2.0, -2.0):
        if bool(torch.isfinite(_apply(fn, torch.full_like(x[:1], b))).all()):
            return AffineFit(prim.name, 0.0, b, 0.0, ym, 1.0)
    a, b = _mesh(a_lo, a_hi, b_lo, b_hi, grid_number)
    ok = torch.cat([torch.isfinite(_apply(fn, u)).all(1) for u in _grid_args(a, b, x)])
    if bool(ok.any()):
        i = int(torch.nonzero(ok)[0])
        return AffineFit(prim.name, float(a[i]), float(b[i]), 0.0, ym, 1.0)
    return AffineFit(prim.name, 0.0, 0.0, 0.0, ym, -math.inf)


def _fit_one(prim, xt, yt, ym, sst, coarse, ycc, sst_c, xz, yz, yzc, sst_z,
             a_lo, a_hi, b_lo, b_hi, grid_number, iteration, zoom_number, polish) -> AffineFit:
    fn = prim.torch_fn
    A, B, args = coarse
    best = _pick(_grid_r2(fn, args, ycc, sst_c), A, B)
    if best is None:
        return AffineFit(prim.name, 0.0, 0.0, 0.0, ym, -math.inf)
    a0, b0, _ = best
    ha = (a_hi - a_lo) / (grid_number - 1) if grid_number > 1 else 0.0
    hb = (b_hi - b_lo) / (grid_number - 1) if grid_number > 1 else 0.0
    for _ in range(iteration):
        if ha == 0.0 and hb == 0.0:
            break
        A, B = _mesh(a0 - ha, a0 + ha, b0 - hb, b0 + hb, zoom_number)
        z = _pick(_grid_r2(fn, _grid_args(A, B, xz), yzc, sst_z), A, B)
        if z is not None:
            a0, b0, _ = z
        ha, hb = (2 * ha / (zoom_number - 1), 2 * hb / (zoom_number - 1)) if zoom_number > 1 else (0.0, 0.0)

    c, d, r2 = _line_fit(fn, a0, b0, xt, yt, ym, sst)
    if polish and xz.numel() >= 3 and r2 < 1.0 - 1e-13:
        p = _polish(prim, a0, b0, xz, yz)
        if p is not None:
            c1, d1, r21 = _line_fit(fn, p[0], p[1], xt, yt, ym, sst)
            if r21 > r2:
                a0, b0, c, d, r2 = p[0], p[1], c1, d1, r21
    return AffineFit(prim.name, float(a0), float(b0), float(c), float(d), float(r2))


def fit_affine_batch(x: Any, Y: Any, names: Iterable[str | Primitive] | str | None = None, **kwargs):
    """:func:`fit_affine` for many edges: ``x`` of shape ``(N,)`` (shared) or ``(N, E)``,
    ``Y`` of shape ``(N, E)``. Returns ``E`` lists of :class:`AffineFit` (one per edge)."""
    xt = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=float))
    Yt = Y.detach() if isinstance(Y, torch.Tensor) else torch.as_tensor(np.asarray(Y, dtype=float))
    if Yt.dim() != 2:
        raise ValueError(f"Y must have shape (N, E), got {tuple(Yt.shape)}")
    if xt.dim() == 1:
        xt = xt.unsqueeze(1).expand(-1, Yt.shape[1])
    if xt.shape != Yt.shape:
        raise ValueError(f"x must have shape (N,) or {tuple(Yt.shape)}, got {tuple(xt.shape)}")
    if names is None:
        names = default_library()
    elif isinstance(names, (str, Primitive)):
        names = [names]
    names = list(names)
    return [fit_affine(xt[:, e], Yt[:, e], names, **kwargs) for e in range(Yt.shape[1])]
