"""Local refinement of an affine fit y ~ c f(a x + b) + d (the last step of ``fit_affine``).

Levenberg-Marquardt on (a, b, c, d) in numpy float64, with (c, d) reset to their closed-form
least-squares optimum after each accepted step (variable projection); f' by finite differences,
one-sided at domain ends.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from ..core.primitives import Primitive

# relative size below which a function's variation on the samples counts as constant
_CONST_REL = 1e-12


def _np_fn(prim: Primitive):
    nf = prim.numpy_fn

    def f(u: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z = np.asarray(nf(u), dtype=float)
        return z if z.shape == u.shape else np.broadcast_to(z, u.shape)

    return f


def _eval_with_slope(f, a: float, b: float, x: np.ndarray):
    """f(u) and a finite-difference f'(u) at u = a x + b (one call on a (3, n) array).

    Central differences where both neighbours are finite, one-sided where only one
    is (domain ends), zero where neither is. Returns None if f(u) is not finite."""
    u = a * x + b
    h = 1e-6 * (1.0 + np.abs(u))
    v = f(np.stack([u - h, u, u + h]))
    fm, z, fp = v[0], v[1], v[2]
    if not np.isfinite(z).all():
        return None
    okm, okp = np.isfinite(fm), np.isfinite(fp)
    with np.errstate(all="ignore"):
        slope = np.where(
            okm & okp, (fp - fm) / (2 * h),
            np.where(okp, (fp - z) / h, np.where(okm, (z - fm) / h, 0.0)),
        )
    slope = np.where(np.isfinite(slope), slope, 0.0)
    return z, slope


def _best_line(z: np.ndarray, y: np.ndarray):
    zm = float(z.mean())
    zc = z - zm
    v = float(zc @ zc)
    if not math.isfinite(v):
        return None
    ym = float(y.mean())
    c = 0.0 if v <= z.size * (_CONST_REL * zm) ** 2 else float(zc @ (y - ym)) / v
    d = ym - c * zm
    r = y - (c * z + d)
    cost = float(r @ r)
    return (c, d, r, cost) if math.isfinite(cost) else None


def _polish(prim: Primitive, a0: float, b0: float, x: torch.Tensor, y: torch.Tensor,
            max_iter: int = 60):
    """Levenberg-Marquardt on (a, b, c, d) for the SSE of y - c f(a x + b) - d.

    After every accepted step (c, d) are reset to their closed-form optimum for the
    new (a, b) (this only lowers the SSE), so the iteration also converges like
    variable projection. Returns the polished (a, b) or None."""
    f = _np_fn(prim)
    xn, yn = x.numpy(), y.numpy()
    try:
        ev = _eval_with_slope(f, a0, b0, xn)
        fit = None if ev is None else _best_line(ev[0], yn)
    except Exception:  # noqa: BLE001 - polishing is best effort
        return None
    if fit is None:
        return None
    a, b = a0, b0
    z, slope = ev
    c, d, r, cost = fit
    ones = np.ones_like(xn)
    lam = 1e-3
    for _ in range(max_iter):
        cs = c * slope
        J = np.stack([cs * xn, cs, z, ones], 1)  # d model / d (a, b, c, d)
        H = J.T @ J
        g = J.T @ r
        if not (np.isfinite(H).all() and np.isfinite(g).all()):
            break
        dH = np.diag(H).copy()
        dH = np.maximum(dH, 1e-12 * max(float(dH.max()), 1e-300))
        accepted = False
        for _try in range(12):
            try:
                with np.errstate(over="ignore", invalid="ignore"):  # a huge damping: a rejected (non-finite) step
                    step = np.linalg.solve(H + lam * np.diag(dH), g)
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            a1, b1 = a + float(step[0]), b + float(step[1])
            try:
                ev1 = _eval_with_slope(f, a1, b1, xn)
            except Exception:  # noqa: BLE001
                ev1 = None
            fit1 = None if ev1 is None else _best_line(ev1[0], yn)
            if fit1 is not None and fit1[3] < cost:
                accepted = True
                break
            lam *= 4.0
        if not accepted:
            break
        small = abs(a1 - a) <= 1e-13 * (1 + abs(a)) and abs(b1 - b) <= 1e-13 * (1 + abs(b))
        gain = cost - fit1[3]
        a, b = a1, b1
        z, slope = ev1
        c, d, r, cost = fit1
        lam = max(lam / 3.0, 1e-12)
        if small or gain <= 1e-15 * cost or cost == 0.0:
            break
    return a, b
