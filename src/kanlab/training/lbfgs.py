"""L-BFGS with a strong-Wolfe line search, on one flat parameter vector.

Written for KAN training: the paper's reference code uses L-BFGS with curvature pairs kept
down to tiny y's (the fits reach MSE ~1e-8, where torch's built-in ``ys > 1e-10`` test stops
updating the Hessian model and progress stalls). This version keeps pairs while
``y.s > tolerance_ys`` (default 1e-32), and works on a single flat vector (gradients gathered
with one ``cat``, parameters written back with one copy into the buffer they view) and
computes the search direction from stored inner products of the history (two small
matrix-vector products per iteration instead of 4m dot products), to keep the per-iteration
overhead small for small networks.

Algorithm: Nocedal & Wright, Numerical Optimization (2nd ed.), Alg. 7.4/7.5 (two-loop
recursion) and Alg. 3.5/3.6 (line search with zoom), cubic interpolation eq. 3.59.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..kernels import dispatch
from .lbfgs_history import direction_flat, push_pair, record_pair, two_loop

__all__ = ["LBFGS"]


def _cubic_min(x1, f1, g1, x2, f2, g2, lo=None, hi=None):
    """Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to [lo, hi]."""
    if lo is None:
        lo, hi = min(x1, x2), max(x1, x2)
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc >= 0 and math.isfinite(disc):
        d2 = math.sqrt(disc)
        if x1 <= x2:
            x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        else:
            x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        if math.isfinite(x):
            return min(max(x, lo), hi)
    return 0.5 * (lo + hi)


class LBFGS:
    """Limited-memory BFGS; ``step(closure)`` performs up to ``max_iter`` iterations.

    ``closure()`` must zero the gradients, compute the loss, call backward and return the loss.
    The state (history, last direction and step) carries over between ``step`` calls, as in
    ``torch.optim.LBFGS``.

    The flat-parameter contract: when the parameters share one dtype and device, the
    constructor rebinds each parameter's ``.data`` to a view of one flat buffer (trial points are
    then written with one copy). So (1) build anything that holds raw views of parameter storage
    (numpy views, data pointers, e.g. the fused evaluator) after the optimiser, or check the
    storage before use, as ``training.evaluator`` does; (2) if someone rebinds a parameter's
    ``.data`` between steps, the next ``step`` notices and falls back to per-parameter copies;
    (3) ``release()`` gives every parameter its own storage again (the fit loop calls it when the
    fit ends, also on an exception). Gradients are read from each parameter's ``.grad``.
    tests/training/test_fit_parts.py and tests/training/test_optim.py check this contract.
    """

    def __init__(self, params, lr: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 history_size: int = 10, tolerance_grad: float = 1e-32, tolerance_change: float = 1e-32,
                 tolerance_ys: float = 1e-32, c1: float = 1e-4, c2: float = 0.9, max_ls: int = 25):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("LBFGS got no trainable parameters")
        self.lr, self.max_iter = lr, max_iter
        self.max_eval = max_eval if max_eval is not None else max_iter * 5 // 4
        self.history_size = history_size
        self.tol_grad, self.tol_change, self.tol_ys = tolerance_grad, tolerance_change, tolerance_ys
        self.c1, self.c2, self.max_ls = c1, c2, max_ls
        self.sizes = [p.numel() for p in self.params]
        self._flat = None
        self._bind_flat()
        self._is_bound = self._bound()
        self.reset()

    def _bind_flat(self) -> None:
        """Make the parameters views of one flat buffer (when they share dtype and device), so
        that writing a trial point is one copy and reading one clone. ``release`` undoes it."""
        ps = self.params
        if len({(p.dtype, p.device) for p in ps}) != 1:
            return
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1) for p in ps])
            for p, v in zip(ps, flat.split(self.sizes)):
                p.data = v.view_as(p)
        self._flat = flat

    def _bound(self) -> bool:
        """The parameters are still views of the flat buffer (nobody rebound their .data)."""
        if self._flat is None:
            return False
        base = self._flat.data_ptr()
        off = 0
        for p, n in zip(self.params, self.sizes):
            if n and p.data_ptr() != base + off * self._flat.element_size():
                return False
            off += n
        return True

    def release(self) -> None:
        """Give every parameter its own storage again (call when done stepping)."""
        if self._flat is not None and self._bound():
            with torch.no_grad():
                for p in self.params:
                    p.data = p.data.clone()
        self._flat = None
        self._is_bound = False

    def reset(self) -> None:
        """Forget the curvature history (e.g. after the parameters were changed externally)."""
        self._hist = None  # (2m, n) buffer: rows [0, m) hold s_i, rows [m, 2m) hold y_i
        m = self.history_size
        self._order: list[int] = []  # history slots, oldest first (only these entries below are read)
        self._rho = np.zeros(m)
        self._sy = np.zeros((m, m))  # [i, j] = s_i . y_j
        self._yy = np.zeros((m, m))  # [i, j] = y_i . y_j
        self.H_diag = 1.0
        self.d = self.t = self.prev_g = self.prev_loss = None
        self.n_iter = 0
        self.n_evals = 0

    # ------------------------------------------------------------------ flat helpers
    def _flat_params(self) -> torch.Tensor:
        if self._is_bound:
            return self._flat.clone()
        return torch.cat([p.detach().reshape(-1) for p in self.params])

    def _set_params(self, flat: torch.Tensor) -> None:
        with torch.no_grad():
            if self._is_bound:
                self._flat.copy_(flat)
                return
            views = [v.view_as(p) for v, p in zip(flat.split(self.sizes), self.params)]
            torch._foreach_copy_([p.data for p in self.params], views)

    def _flat_grad(self) -> torch.Tensor:
        return torch.cat([p.grad.reshape(-1) if p.grad is not None else p.new_zeros(p.numel()) for p in self.params])

    def _evaluate(self, closure, x=None):
        if x is not None:
            self._set_params(x)
        with torch.enable_grad():
            loss = closure()
        self.n_evals += 1
        return float(loss), self._flat_grad()

    # ------------------------------------------------------------------ the step
    @torch.no_grad()
    def step(self, closure) -> float:
        self._is_bound = self._bound()  # checked once per step: nothing rebinds .data inside one
        loss, g = self._evaluate(closure)
        first_loss = loss
        evals = 1
        if not math.isfinite(loss) or float(g.abs().max()) <= self.tol_grad:
            return first_loss
        x = self._flat_params()
        for _ in range(self.max_iter):
            self.n_iter += 1
            if self.n_iter == 1:
                d = -g
                self.H_diag = 1.0
            else:
                y = g - self.prev_g
                s = self.d * self.t
                ys = float(y.dot(s))
                if ys > self.tol_ys:
                    self._push(s, y, ys)
                d = self._direction(g)
            self.prev_g = g
            self.prev_loss = loss
            t = min(1.0, 1.0 / float(g.abs().sum())) * self.lr if self.n_iter == 1 else self.lr
            gtd = float(g.dot(d))
            if gtd > -self.tol_change:
                self.d, self.t = d, t
                break
            d_norm = float(d.abs().max())
            loss, g, t, n_ls, x_new = self._line_search(closure, x, t, d, d_norm, loss, g, gtd)
            if x_new is None:  # the parameters hold another trial point: write the accepted one
                x_new = torch.add(x, d, alpha=t)
                self._set_params(x_new)
            x = x_new
            evals += n_ls
            self.d, self.t = d, t
            if not math.isfinite(loss):
                break
            if evals >= self.max_eval or float(g.abs().max()) <= self.tol_grad:
                break
            if abs(t) * d_norm <= self.tol_change or abs(loss - self.prev_loss) < self.tol_change:
                break
        return first_loss

    def _push(self, s: torch.Tensor, y: torch.Tensor, ys: float) -> None:
        """Add the curvature pair (s, y) to the history, updating the inner products the
        direction needs (two matrix-vector products for the new pair, instead of 4m dot
        products in every direction computation)."""
        m = self.history_size
        if self._hist is None:
            self._hist = s.new_zeros(2 * m, s.numel(), dtype=torch.float64)  # float64: accurate inner products
        # slots fill 0..m-1, then the oldest is reused; its stale products are all overwritten below
        slot = self._order.pop(0) if len(self._order) == m else len(self._order)
        self._order.append(slot)
        order = np.asarray(self._order, dtype=np.int64)
        if dispatch.lbfgs_uses_numba(self._hist):
            push_pair(self._hist.numpy(), order, slot, s.detach().numpy(), y.detach().numpy(), self._sy, self._yy)
        else:
            self._hist[slot].copy_(s)
            self._hist[m + slot].copy_(y)
            prods = (self._hist @ torch.stack([s, y], 1).to(torch.float64)).cpu().numpy()  # s_i.s, s_i.y; y_i.s, y_i.y
            record_pair(order, slot, prods, self._sy, self._yy)
        self._sy[slot, slot] = ys
        self._rho[slot] = 1.0 / ys
        self.H_diag = ys / self._yy[slot, slot]

    def _direction(self, g: torch.Tensor) -> torch.Tensor:
        """-H g by the L-BFGS two-loop recursion (Nocedal & Wright Alg. 7.4), evaluated on the
        stored inner products (see :func:`lbfgs_history.two_loop`): the vectors are touched twice (B g and
        one B^T v), with B the stacked history [S; Y]."""
        if not self._order:
            return g.mul(-self.H_diag)
        m, h = self.history_size, self.H_diag
        if dispatch.lbfgs_uses_numba(g):
            out = torch.empty_like(g)
            direction_flat(self._hist.numpy(), np.asarray(self._order, dtype=np.int64), self._rho, self._sy,
                            self._yy, g.detach().numpy(), float(h), out.numpy())
            return out
        g64 = g.to(torch.float64)
        bg = (self._hist @ g64).cpu().numpy()
        v = np.zeros(2 * m)
        two_loop(np.asarray(self._order, dtype=np.int64), self._rho, self._sy, self._yy, bg, h, v)
        r = torch.addmv(g64, self._hist.t(), torch.from_numpy(v).to(g.device), beta=-h)
        return r.to(g.dtype)

    def _line_search(self, closure, x0, t, d, d_norm, f0, g0, gtd0):
        """Strong-Wolfe line search; returns (f, g, t, evaluations, x) with x the accepted point
        x0 + t d when the parameters hold it, else None (then the caller writes it)."""
        c1, c2 = self.c1, self.c2
        last = [None, None]  # (t, point) of the latest evaluation

        def evaluate(t):
            x = torch.add(x0, d, alpha=t)
            last[:] = t, x
            return self._evaluate(closure, x)

        def result(f, g, t, n):
            return f, g, t, n, last[1] if last[0] == t else None

        f, g = evaluate(t)
        n = 1
        gtd = float(g.dot(d))
        t_prev, f_prev, g_prev, gtd_prev = 0.0, f0, g0, gtd0
        bracket = None
        done = False
        while n < self.max_ls:
            if (not math.isfinite(f)) or f > f0 + c1 * t * gtd0 or (n > 1 and f >= f_prev):
                bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f, g, gtd)]
                break
            if abs(gtd) <= -c2 * gtd0:
                return result(f, g, t, n)
            if gtd >= 0:
                bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f, g, gtd)]
                break
            lo, hi = t + 0.01 * (t - t_prev), t * 10.0
            t_new = _cubic_min(t_prev, f_prev, gtd_prev, t, f, gtd, lo, hi)
            t_prev, f_prev, g_prev, gtd_prev = t, f, g, gtd
            t = t_new
            f, g = evaluate(t)
            n += 1
            gtd = float(g.dot(d))
        if bracket is None:  # ran out of evaluations while extrapolating
            return result(f, g, t, n)
        # zoom: bracket[lo_i] has the lower objective
        insufficient = False
        while not done and n < self.max_ls:
            (ta, fa, ga, gtda), (tb, fb, gb, gtdb) = bracket
            if abs(tb - ta) * d_norm < self.tol_change:
                break
            if not math.isfinite(fb):
                t = 0.5 * (ta + tb)
            else:
                t = _cubic_min(ta, fa, gtda, tb, fb, gtdb)
            tmin, tmax = min(ta, tb), max(ta, tb)
            eps = 0.1 * (tmax - tmin)
            if min(tmax - t, t - tmin) < eps:
                if insufficient or t >= tmax or t <= tmin:
                    t = tmax - eps if abs(t - tmax) < abs(t - tmin) else tmin + eps
                    insufficient = False
                else:
                    insufficient = True
            else:
                insufficient = False
            f, g = evaluate(t)
            n += 1
            gtd = float(g.dot(d))
            lo_i = 0 if fa <= fb else 1
            if (not math.isfinite(f)) or f > f0 + c1 * t * gtd0 or f >= bracket[lo_i][1]:
                bracket[1 - lo_i] = (t, f, g, gtd)
            else:
                if abs(gtd) <= -c2 * gtd0:
                    done = True
                elif gtd * (bracket[1 - lo_i][0] - bracket[lo_i][0]) >= 0:
                    bracket[1 - lo_i] = bracket[lo_i]
                bracket[lo_i] = (t, f, g, gtd)
        best = min(bracket, key=lambda b: b[1] if math.isfinite(b[1]) else math.inf)
        return result(best[1], best[2], best[0], n)
