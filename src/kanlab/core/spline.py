"""B-spline mathematics: knot vectors, basis functions, and the curve <-> coefficient map.

Everything here works on a batch of independent 1-D splines, one per input feature ("edge
input"): knots have shape (in, G + 2k + 1) and a spline of degree k has G + k basis
functions on them. Nothing in this module knows about networks.

Conventions
- Basis functions are half-open: B_{i,0}(x) = 1 on [t_i, t_{i+1}). Every basis function,
  and therefore the spline, is zero outside [t_0, t_last) (the paper's behaviour; grid
  updates exist to keep inputs inside the grid).
- ``cox_de_boor`` is the textbook recursion over all basis functions (a plain, autograd-
  differentiable reference). ``basis`` is the fast path used by layers: it locates each input's
  knot interval by binary search and evaluates only the k + 1 non-zero basis functions with the
  local de Boor triangle, then scatters them into the dense feature tensor. Its backward pass
  uses the closed-form derivative of the B-spline (no recursion is stored for autograd), and is
  itself differentiable, so second derivatives (PINNs) are exact as well.
"""
from __future__ import annotations


import torch

from ..kernels import torch_basis

__all__ = [
    "uniform_knots",
    "extend_knots",
    "interior",
    "cox_de_boor",
    "basis",
    "local_basis",
    "basis_table",
]


def extend_knots(grid: torch.Tensor, k: int) -> torch.Tensor:
    """Extend interior grid points (in, G+1) by k knots on each side with the mean spacing."""
    if grid.shape[-1] < 2:
        raise ValueError("a grid needs at least 2 points (1 interval)")
    h = (grid[:, -1:] - grid[:, :1]) / (grid.shape[-1] - 1)
    steps = torch.arange(1, k + 1, dtype=grid.dtype, device=grid.device)
    left = grid[:, :1] - h * steps.flip(0)
    right = grid[:, -1:] + h * steps
    return torch.cat([left, grid, right], dim=-1)


def uniform_knots(n_in: int, G: int, k: int, grid_range=(-1.0, 1.0), *, dtype=None, device=None) -> torch.Tensor:
    """Knots of a uniform grid: G intervals on grid_range, extended by k knots per side.

    ``grid_range`` is (lo, hi) for all inputs or a tensor of shape (n_in, 2).
    Returns a tensor of shape (n_in, G + 2k + 1).
    """
    rng = torch.as_tensor(grid_range, dtype=dtype or torch.get_default_dtype(), device=device)
    if rng.dim() == 1:
        rng = rng.expand(n_in, 2)
    if rng.shape != (n_in, 2) or not bool((rng[:, 1] > rng[:, 0]).all()):
        raise ValueError(f"grid_range must be (lo, hi) with lo < hi, or shape ({n_in}, 2); got {tuple(rng.shape)}")
    t = torch.linspace(0, 1, G + 1, dtype=rng.dtype, device=rng.device)
    grid = rng[:, :1] + (rng[:, 1:] - rng[:, :1]) * t
    return extend_knots(grid, k)


def interior(knots: torch.Tensor, k: int) -> torch.Tensor:
    """The G + 1 interior grid points of extended knots (drop k knots per side)."""
    return knots[:, k : knots.shape[-1] - k]


# --------------------------------------------------------------------------- reference path
def _safe_inv(d: torch.Tensor) -> torch.Tensor:
    return torch.where(d > 0, 1.0 / torch.where(d > 0, d, torch.ones_like(d)), torch.zeros_like(d))


def cox_de_boor(x: torch.Tensor, knots: torch.Tensor, k: int) -> torch.Tensor:
    """All basis functions by the Cox-de Boor recursion (reference implementation).

    x: (..., in); knots: (in, n_knots) non-decreasing. Returns (..., in, n_knots - 1 - k).
    Repeated knots are allowed (0/0 terms are taken as 0).
    """
    xe = x.unsqueeze(-1)
    B = ((xe >= knots[:, :-1]) & (xe < knots[:, 1:])).to(x.dtype)
    for p in range(1, k + 1):
        inv_l = _safe_inv(knots[:, p:-1] - knots[:, : -(p + 1)])
        inv_r = _safe_inv(knots[:, p + 1 :] - knots[:, 1:-p])
        B = (xe - knots[:, : -(p + 1)]) * inv_l * B[..., :-1] + (knots[:, p + 1 :] - xe) * inv_r * B[..., 1:]
    return B


# --------------------------------------------------------------------------- fast local path
def _pad_knots(knots: torch.Tensor, k: int) -> torch.Tensor:
    """Pad knots by k extra knots per side (positive spacing) for the local triangle."""
    if k == 0:
        return knots
    h = (knots[:, -1:] - knots[:, :1]) / max(knots.shape[-1] - 1, 1)
    steps = torch.arange(1, k + 1, dtype=knots.dtype, device=knots.device)
    return torch.cat([knots[:, :1] - h * steps.flip(0), knots, knots[:, -1:] + h * steps], dim=-1)


def local_basis(x: torch.Tensor, knots: torch.Tensor, k: int, deriv: int = 0):
    """The k + 1 non-zero basis functions (or their ``deriv``-th derivative) at each input.

    x: (N, in); knots: (in, n_knots). Returns ``(first, vals, inside)`` where vals[n, i, r] is
    B^{(deriv)}_{first[n, i] + r, k}(x[n, i]) for r = 0..k, first = mu - k with mu the knot
    interval of x, and ``inside`` says whether x lies in [t_0, t_last). Values of basis
    functions that do not exist (index < 0 or >= n_knots - 1 - k) and of inputs outside the
    knots are set to zero. Runs without building an autograd graph.
    """
    with torch.no_grad():
        n_knots = knots.shape[-1]
        n_basis = n_knots - 1 - k
        # interval index mu with t_mu <= x < t_{mu+1}
        mu = torch_basis.knot_interval(x, knots) - 1
        inside = (mu >= 0) & (mu <= n_knots - 2)
        mu = mu.clamp(0, n_knots - 2)
        vals_shape = x.shape + (k + 1,)
        if deriv > k:
            return mu - k, x.new_zeros(vals_shape), inside
        padded = _pad_knots(knots, k)  # padded[:, j + k] = t_j
        # T[..., s] = t_{mu - k + 1 + s}, s = 0..2k-1  ->  padded index mu + 1 + s
        offs = torch.arange(1, 2 * k + 1, device=x.device)
        idx = mu.unsqueeze(-1) + offs
        T = padded.unsqueeze(0).expand(x.shape[0], -1, -1).gather(2, idx) if k > 0 else None
        p = k - deriv
        xe = x
        # de Boor triangle up to degree p: N[r] = B_{mu - j + r, j}
        N = [torch.ones_like(x)]
        for j in range(1, p + 1):
            saved = torch.zeros_like(x)
            new = []
            for r in range(j):
                right = T[..., k - 1 + r + 1] - xe  # t_{mu + r + 1} - x
                left = xe - T[..., k - j + r]  # x - t_{mu + 1 - j + r}
                temp = N[r] / (right + left)
                new.append(saved + right * temp)
                saved = left * temp
            new.append(saved)
            N = new
        # raise degree with derivatives: d/dx B_{i,q} = q (B_{i,q-1}/(t_{i+q}-t_i) - B_{i+1,q-1}/(t_{i+q+1}-t_{i+1}))
        for q in range(p + 1, k + 1):
            new = []
            for r in range(q + 1):
                # basis index i = mu - q + r; knot t_{mu + a} is T[..., a + k - 1]
                term = torch.zeros_like(x)
                if r >= 1:
                    term = term + N[r - 1] / (T[..., r + k - 1] - T[..., r - q + k - 1])
                if r <= q - 1:
                    term = term - N[r] / (T[..., r + k] - T[..., r - q + k])
                new.append(q * term)
            N = new
        vals = torch.stack(N, dim=-1)
        first = mu - k
        bidx = first.unsqueeze(-1) + torch.arange(k + 1, device=x.device)
        valid = (bidx >= 0) & (bidx < n_basis) & inside.unsqueeze(-1)
        vals = torch.where(valid, vals, torch.zeros_like(vals))
        return first, vals, inside


def basis_table(knots: torch.Tensor, k: int) -> torch.Tensor:
    """Per-interval polynomial form of the k + 1 non-zero basis functions, for fast evaluation.

    On knot interval mu (t_mu <= x < t_{mu+1}, width h) each non-zero basis function
    B_{mu-k+r} is a degree-k polynomial in s = (x - t_mu) / h in [0, 1); its coefficients are
    bounded whatever the knot spacing. Returns a float64 tensor (in, n_knots + 1, R) whose row
    j = mu + 1 holds [t_mu, 1/h, C (k+1)x(k+1), D k x(k+1)] with C[p, r] the coefficient of s^p
    in B_{mu-k+r} and D[p, r] = (p+1) C[p+1, r] (the derivative in s). Rows 0 and n_knots
    (inputs left or right of all knots) and empty intervals are zero. Built by exact
    interpolation of ``local_basis`` at k + 1 points per interval.
    """
    t = knots.detach().double()
    n_in, n_knots = t.shape
    n_int = n_knots - 1
    k1 = k + 1
    h = t[:, 1:] - t[:, :-1]
    sq = (torch.arange(k1, dtype=torch.float64, device=t.device) + 0.5) / k1
    xs = t[:, :-1, None] + h[:, :, None] * sq  # (in, mu, q)
    X = xs.permute(2, 1, 0).reshape(k1 * n_int, n_in)  # row q * n_int + mu
    first, vals, _ = local_basis(X, t, k)
    vals = vals.reshape(k1, n_int, n_in, k1).permute(2, 1, 0, 3)  # (in, mu, q, r)
    mu_found = first.reshape(k1, n_int, n_in).permute(2, 1, 0) + k
    ok = (h > 0) & (mu_found == torch.arange(n_int, device=t.device)[:, None]).all(-1)
    V = sq[:, None] ** torch.arange(k1, dtype=torch.float64, device=t.device)  # (q, p)
    C = torch.linalg.solve(V, vals) * ok[..., None, None]  # (in, mu, p, r)
    D = C[..., 1:, :] * torch.arange(1, k1, dtype=torch.float64, device=t.device)[:, None]
    hinv = torch.where(ok, 1.0 / torch.where(ok, h, torch.ones_like(h)), torch.zeros_like(h))
    rows = torch.cat([(t[:, :-1] * ok)[..., None], hinv[..., None], C.reshape(n_in, n_int, -1),
                      D.reshape(n_in, n_int, -1)], dim=-1)
    zero = rows.new_zeros(n_in, 1, rows.shape[-1])
    return torch.cat([zero, rows, zero], dim=1)


def _deriv_table(table: torch.Tensor, k: int, deriv: int) -> torch.Tensor:
    """Table of the ``deriv``-th derivative in x (same layout)."""
    if deriv == 0:
        return table
    k1 = k + 1
    lead = table.shape[:2]
    C = table[..., 2 : 2 + k1 * k1].reshape(*lead, k1, k1)
    hinv = table[..., 1:2, None]
    powers = torch.arange(1, k1, dtype=C.dtype, device=C.device)[:, None]
    for _ in range(deriv):
        C = torch.cat([C[..., 1:, :] * powers, C[..., :1, :] * 0], -2) * hinv
    D = C[..., 1:, :] * powers
    return torch.cat([table[..., :2], C.reshape(*lead, -1), D.reshape(*lead, -1)], -1)



class _BSplineBasis(torch.autograd.Function):
    """Dense basis features from the polynomial table, with an analytic backward.

    The backward uses the closed-form B-spline derivatives of the k + 1 non-zero values, computed
    in the forward pass (nothing of the Cox-de Boor recursion is stored); under ``create_graph`` it calls itself for the
    next derivative, so it is differentiable to any order.
    """

    @staticmethod
    def forward(ctx, x, knots, table, k, deriv):
        N, n_in = x.shape
        tab = _deriv_table(table, k, deriv)
        need = bool(ctx.needs_input_grad[0])
        out, state = torch_basis.features(x, knots, tab, k, need)
        if need:  # all through save_for_backward: autograd's saved-tensor hooks see (and count) them
            ctx.save_for_backward(x, knots, table, *state[1:])
            ctx.kind = state[0]
        ctx.k, ctx.deriv = k, deriv
        return out.view(N, n_in, knots.shape[-1] - 1 - k)

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        x, knots, table, *state = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: stay differentiable
            d = _BSplineBasis.apply(x, knots, table, ctx.k, ctx.deriv + 1)
            return (grad * d).sum(-1), None, None, None, None
        return torch_basis.grad_input(grad, (ctx.kind, *state)).view(x.shape), None, None, None, None


def basis(x: torch.Tensor, knots: torch.Tensor, k: int, deriv: int = 0, table: torch.Tensor | None = None) -> torch.Tensor:
    """Dense B-spline basis features (or their ``deriv``-th derivative).

    x: (..., in); knots: (in, n_knots). Returns (..., in, n_knots - 1 - k). Differentiable in x
    to any order (closed-form B-spline derivatives); no gradient flows to the knots. ``table``
    is ``basis_table(knots, k)`` in x's dtype; layers cache it, otherwise it is built here.
    """
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])
    if table is None:
        table = basis_table(knots, k)
    out = _BSplineBasis.apply(x2, knots.to(x.dtype), table.to(x.dtype), k, deriv)
    return out.reshape(*lead, *out.shape[1:])

