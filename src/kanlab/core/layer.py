"""KANLayer: a matrix of learnable residual B-spline edge functions (paper eqs. 2.6, 2.10-2.12).

phi_ij(x) = mask_ij * (w_b,ij * b(x) + w_s,ij * sum_m c_ijm B_m(x));  y_j = sum_i phi_ij(x_i) + bias_j

The forward pass is dense linear algebra over basis features: features of shape
(batch, in * (G + k)) times a weight of shape (in * (G + k), out), plus b(x) @ (w_b * mask).
No (batch, in, out) tensor is built on this path.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from . import spline, spline_lstsq
from ..kernels import base_functions, dispatch
from ..kernels.large_grid import large_grid_matmul
from ..validate import check_range

__all__ = ["KANLayer", "BASE_FUNCTIONS"]

# base_fun name -> torch function (the one table: kernels.base_functions)
BASE_FUNCTIONS = {name: b.forward for name, b in base_functions.BASE_FUNCTIONS.items()}


def _old_coef_layout(coef: torch.Tensor, metadata: dict, shape) -> bool:
    """Whether a loaded coef is in the version-1 layout (in, out, G+k): its state_dict says so,
    or (plain dicts carry no version) its shape is the transposed one."""
    version = metadata.get("version")
    if version is not None:
        return version < 2 and coef.dim() == 3
    return coef.dim() == 3 and tuple(coef.shape) != tuple(shape) and tuple(coef.shape) == (shape[0], shape[2], shape[1])


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


class KANLayer(nn.Module):
    """A KAN layer with ``in_dim`` inputs and ``out_dim`` outputs; behaves like ``nn.Linear``.

    Parameters: ``coef`` (in, G+k, out) spline coefficients (``coef[i, :, j]`` those of edge
    i -> j; this layout makes ``coef[i]`` the (G+k, out) block that input i's basis values
    multiply, so neither the dense weight nor the large-grid kernels transpose it),
    ``scale_base`` and ``scale_sp`` (in, out) the residual weights w_b and w_s, ``bias`` (out,).
    Buffers: ``knots`` (in, G+2k+1), one knot vector per input, and ``mask`` (in, out), 1 for
    live edges.
    """

    _version = 2  # state_dict layout: 1 had coef as (in, out, G+k)

    def __init__(self, in_dim: int, out_dim: int, grid: int = 5, k: int = 3, grid_range=(-1.0, 1.0),
                 grid_eps: float = 0.02, noise_scale: float = 0.3, base_fun: str = "silu",
                 scale_base_mu: float = 0.0, scale_base_sigma: float = 1.0, scale_sp: float = 1.0,
                 bias: bool = True, device=None, dtype=None, generator: torch.Generator | None = None):
        super().__init__()
        _check_int("in_dim", in_dim, 1)
        _check_int("out_dim", out_dim, 1)
        _check_int("grid", grid, 1)
        _check_int("k", k, 0)
        if base_fun not in BASE_FUNCTIONS:
            raise ValueError(f"unknown base_fun {base_fun!r}; choose one of {sorted(BASE_FUNCTIONS)}")
        if not 0.0 <= grid_eps <= 1.0:
            raise ValueError(f"grid_eps must be in [0, 1], got {grid_eps}")
        self.in_dim, self.out_dim, self.grid, self.k = in_dim, out_dim, grid, k
        self.grid_range = check_range(grid_range, "grid_range")
        self.grid_eps, self.noise_scale, self.base_fun = float(grid_eps), float(noise_scale), base_fun
        self.scale_base_mu, self.scale_base_sigma, self.scale_sp_init = scale_base_mu, scale_base_sigma, scale_sp
        self.large_grid: bool | None = None  # None: the dispatcher decides (see uses_large_grid)
        kw = {"device": device, "dtype": dtype}
        nb = grid + k
        self.coef = nn.Parameter(torch.empty(in_dim, nb, out_dim, **kw))
        self.scale_base = nn.Parameter(torch.empty(in_dim, out_dim, **kw))
        self.scale_sp = nn.Parameter(torch.empty(in_dim, out_dim, **kw))
        self.bias = nn.Parameter(torch.empty(out_dim, **kw)) if bias else None
        self.register_buffer("knots", torch.empty(in_dim, grid + 2 * k + 1, **kw))
        self.register_buffer("mask", torch.ones(in_dim, out_dim, **kw))
        # derived from knots (see spline.basis_table); not saved, rebuilt whenever knots change
        self.register_buffer("basis_table", torch.empty(0, **kw), persistent=False)
        self.reset_parameters(generator)

    # ------------------------------------------------------------------ set-up
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Uniform knots on grid_range, small random splines, pykan-style residual weights."""
        with torch.no_grad():
            dev, dt = self.coef.device, self.coef.dtype

            def rand(*shape):
                return torch.rand(*shape, generator=generator, dtype=torch.float64).to(device=dev, dtype=dt)

            self.knots.copy_(spline.uniform_knots(self.in_dim, self.grid, self.k, self.grid_range, dtype=dt, device=dev))
            # the paper's initialisation: the spline interpolating small noise at the grid points
            noise = (rand(self.grid + 1, self.in_dim, self.out_dim) - 0.5) * self.noise_scale / self.grid
            pts = spline.interior(self.knots, self.k).t()
            self.coef.copy_(spline_lstsq.curve_to_coef(pts, noise, self.knots, self.k))
            s = 1.0 / math.sqrt(self.in_dim)
            self.scale_base.copy_(self.scale_base_mu * s + self.scale_base_sigma * (rand(self.in_dim, self.out_dim) * 2 - 1) * s)
            self.scale_sp.fill_(self.scale_sp_init * s)
            if self.bias is not None:
                self.bias.zero_()
            self.mask.fill_(1.0)
        self.refresh_basis_table()

    def refresh_basis_table(self) -> None:
        """Rebuild the cached polynomial form of the basis; call after changing ``knots``."""
        self.basis_table = spline.basis_table(self.knots, self.k).to(self.knots.dtype)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs):
        key = prefix + "coef"
        if key in state_dict and _old_coef_layout(state_dict[key], local_metadata, self.coef.shape):
            state_dict[key] = state_dict[key].transpose(1, 2)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)
        self.refresh_basis_table()

    @property
    def n_basis(self) -> int:
        return self.grid + self.k

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, out_dim={self.out_dim}, grid={self.grid}, k={self.k}, base_fun={self.base_fun!r}"

    # ------------------------------------------------------------------ evaluation
    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"KANLayer expects a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 1 or x.shape[-1] != self.in_dim:
            raise ValueError(f"KANLayer expects input of shape (..., {self.in_dim}), got {tuple(x.shape)}")
        if x.dtype != self.coef.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(f"KANLayer has {self.coef.dtype} parameters but got a {x.dtype} input; convert one "
                            f"of them (e.g. x.to({self.coef.dtype}) or layer.to({x.dtype}))")

    def spline_weight(self) -> torch.Tensor:
        """The (in * (G+k), out) matrix multiplying the flattened basis features."""
        return (self.coef * (self.scale_sp * self.mask).unsqueeze(1)).reshape(self.in_dim * self.n_basis, self.out_dim)

    def base(self, x: torch.Tensor) -> torch.Tensor:
        return BASE_FUNCTIONS[self.base_fun](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """y = sum_i phi_ij(x_i) (+ bias) for x (..., in)."""
        self._check_input(x)
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_dim)
        if self.uses_large_grid():
            y = self._base_part(x2)
            table = self.basis_table if self.basis_table.dtype == x2.dtype else self.basis_table.to(x2.dtype)
            y = y + large_grid_matmul(x2, self.knots.to(x2.dtype), table, self.k, self.coef, self.scale_sp * self.mask)
        else:
            y = self.forward_features(x2, self.basis(x2))
        return y.reshape(*lead, self.out_dim)

    def forward_features(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """The output for x (N, in) from its basis features ``features`` = ``self.basis(x)``
        computed beforehand: for training loops that evaluate the same batch many times (the
        caller owns that cache; ``forward`` keeps none)."""
        feats = features.reshape(x.shape[0], self.in_dim * self.n_basis)
        return torch.addmm(self._base_part(x), feats, self.spline_weight())

    def _base_part(self, x2: torch.Tensor) -> torch.Tensor:
        """base(x) @ (w_b * mask) (+ bias) for x2 (N, in)."""
        wb = self.scale_base * self.mask
        if self.bias is not None:
            return torch.addmm(self.bias, self.base(x2), wb)
        return self.base(x2) @ wb

    def uses_large_grid(self) -> bool:
        """Whether forward takes the large-grid path (results equal the dense path): ``self.large_grid``
        if set (True/False), else as ``kernels.dispatch.layer_uses_large_grid`` decides (the active
        backend, or G + k >= dispatch.LARGE_GRID_MIN_BASIS)."""
        return dispatch.layer_uses_large_grid(self)

    def basis(self, x: torch.Tensor, deriv: int = 0) -> torch.Tensor:
        """Basis features (or their ``deriv``-th derivative) of x (..., in) -> (..., in, G+k)."""
        table = self.basis_table
        if table.dtype != x.dtype:
            table = table.to(x.dtype)
        return spline.basis(x, self.knots, self.k, deriv=deriv, table=table)

    def spline_values(self, x: torch.Tensor, basis: torch.Tensor | None = None) -> torch.Tensor:
        """sum_m c_ijm B_m(x_i) for every edge: (N, in) -> (N, in, out). For analysis, not the hot path."""
        return torch.einsum("nim,imo->nio", self.basis(x) if basis is None else basis, self.coef)

    def edge_values(self, x: torch.Tensor, basis: torch.Tensor | None = None) -> torch.Tensor:
        """phi_ij(x_i) for every edge: (N, in) -> (N, in, out). Summing over i and adding
        the bias gives forward(x). For analysis (scores, plots, symbolic fits), not the hot path.
        ``basis``: optional precomputed ``self.basis(x)``."""
        self._check_input(x)
        sp = self.spline_values(x, basis) * self.scale_sp
        return (sp + self.base(x).unsqueeze(-1) * self.scale_base) * self.mask

    def out_of_range_fraction(self, x: torch.Tensor) -> float:
        """Fraction of input values outside the interior grid [t_k, t_{G+k}] of their knots, over
        the inputs that still have a live spline edge."""
        g = spline.interior(self.knots, self.k)
        x2 = x.reshape(-1, self.in_dim)
        live = (self.mask != 0).any(1)  # inputs whose splines are all masked (pruned or symbolic) do not count
        if not x2.numel() or not bool(live.any()):
            return 0.0
        out = ((x2 < g[:, 0]) | (x2 > g[:, -1]))[:, live]
        return float(out.float().mean())

    # ------------------------------------------------------------------ structure
    @torch.no_grad()
    def subset(self, in_ids, out_ids) -> "KANLayer":
        """A new layer keeping only the given input and output indices (same functions)."""
        import copy

        in_ids = torch.as_tensor(list(in_ids), dtype=torch.long, device=self.coef.device)
        out_ids = torch.as_tensor(list(out_ids), dtype=torch.long, device=self.coef.device)
        if in_ids.numel() == 0 or out_ids.numel() == 0:
            raise ValueError("a layer needs at least one input and one output")
        new = copy.copy(self)
        new._parameters = dict(self._parameters)
        new._buffers = dict(self._buffers)
        new._modules = dict(self._modules)
        new.in_dim, new.out_dim = int(in_ids.numel()), int(out_ids.numel())
        new.coef = nn.Parameter(self.coef[in_ids][:, :, out_ids].clone())
        new.scale_base = nn.Parameter(self.scale_base[in_ids][:, out_ids].clone())
        new.scale_sp = nn.Parameter(self.scale_sp[in_ids][:, out_ids].clone())
        new.bias = nn.Parameter(self.bias[out_ids].clone()) if self.bias is not None else None
        new.knots = self.knots[in_ids].clone()
        new.mask = self.mask[in_ids][:, out_ids].clone()
        new.refresh_basis_table()
        return new

    @torch.no_grad()
    def add_to_bias(self, values: torch.Tensor) -> None:
        """Add constants to the outputs (creating the bias parameter if the layer has none)."""
        if self.bias is None:
            self.bias = nn.Parameter(torch.zeros(self.out_dim, dtype=self.coef.dtype, device=self.coef.device))
        self.bias.add_(values.to(self.bias.dtype))

    # ------------------------------------------------------------------ grid operations
    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Adapt the knots to samples x (N, in): grid_eps * uniform + (1 - grid_eps) * quantiles,
        then refit the spline coefficients so each edge function is unchanged on x."""
        self._check_input(x)
        x = x.reshape(-1, self.in_dim).to(self.knots.dtype)
        n = x.shape[0]
        if n < 2:
            raise ValueError("update_grid needs at least 2 samples")
        xs = torch.sort(x, dim=0).values
        G = self.grid
        ids = [int(n / G * i) for i in range(G)] + [n - 1]
        adaptive = xs[ids, :].t()  # (in, G+1)
        lo, hi = xs[0], xs[-1]
        steps = torch.arange(G + 1, dtype=xs.dtype, device=xs.device) / G
        uniform = lo[:, None] + (hi - lo)[:, None] * steps
        grid = self.grid_eps * uniform + (1 - self.grid_eps) * adaptive
        grid[:, 0], grid[:, -1] = lo, hi  # exact end points: no sample falls outside by round-off
        new_knots = spline.extend_knots(grid, self.k)
        ok = (hi - lo) > 1e-8 * (1.0 + hi.abs() + lo.abs())  # constant inputs keep their grid
        if not bool(ok.any()):
            return
        y = spline_lstsq.coef_to_curve(xs[:, ok], self.coef[ok], self.knots[ok], self.k)
        self.coef[ok] = spline_lstsq.curve_to_coef(xs[:, ok], y, new_knots[ok], self.k)
        self.knots[ok] = new_knots[ok]
        self.refresh_basis_table()

    @torch.no_grad()
    def refine(self, new_grid: int) -> "KANLayer":
        """Grid extension: a new layer with ``new_grid`` intervals representing the same functions.

        The new interior knots subdivide the current ones (nested when new_grid is a multiple of
        the current grid, so the refit is exact up to round-off on the interior grid); the
        coefficients are the least-squares fit of the old splines on dense interior samples.
        """
        import copy

        _check_int("new_grid", new_grid, 1)
        g_old = spline.interior(self.knots, self.k)  # (in, G+1)
        pos = torch.linspace(0, self.grid, new_grid + 1, dtype=torch.float64, device=g_old.device)
        lo_idx = pos.floor().long().clamp(max=self.grid - 1)
        frac = (pos - lo_idx).to(g_old.dtype)
        g_new = g_old[:, lo_idx] * (1 - frac) + g_old[:, lo_idx + 1] * frac
        new_knots = spline.extend_knots(g_new, self.k)
        # k+1 samples inside every new interval (and the right end point)
        per = self.k + 1
        u = (torch.arange(per, dtype=g_new.dtype, device=g_new.device) + 0.5) / per
        xs = (g_new[:, :-1, None] + (g_new[:, 1:, None] - g_new[:, :-1, None]) * u).reshape(self.in_dim, -1)
        xs = torch.cat([xs, g_new[:, :1], g_new[:, -1:] - 1e-9 * (g_new[:, -1:] - g_new[:, :1])], dim=1).t()
        y = spline_lstsq.coef_to_curve(xs, self.coef, self.knots, self.k)
        new = copy.deepcopy(self)
        new.grid = new_grid
        new.knots = new_knots.contiguous()
        new.coef = nn.Parameter(spline_lstsq.curve_to_coef(xs, y, new_knots, self.k))
        new.refresh_basis_table()
        return new
