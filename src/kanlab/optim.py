"""L-BFGS with a strong-Wolfe line search, on one flat parameter vector.

Written for KAN training: the paper's reference code uses L-BFGS with curvature pairs kept
down to tiny y's (the fits reach MSE ~1e-8, where torch's built-in ``ys > 1e-10`` test stops
updating the Hessian model and progress stalls). This version keeps pairs while
``y.s > tolerance_ys`` (default 1e-32), and works on a single flat vector (gradients gathered
with one ``cat``, parameters written back with one foreach copy) to keep the per-evaluation
overhead small for small networks.

Algorithm: Nocedal & Wright, Numerical Optimization (2nd ed.), Alg. 7.4/7.5 (two-loop
recursion) and Alg. 3.5/3.6 (line search with zoom), cubic interpolation eq. 3.59.
"""
from __future__ import annotations

import math

import torch

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

    def reset(self) -> None:
        """Forget the curvature history (e.g. after the parameters were changed externally)."""
        self.old_s, self.old_y, self.rho = [], [], []
        self.H_diag = 1.0
        self.d = self.t = self.prev_g = self.prev_loss = None
        self.n_iter = 0
        self.n_evals = 0

    # ------------------------------------------------------------------ flat helpers
    def _flat_params(self) -> torch.Tensor:
        if self._bound():
            return self._flat.clone()
        return torch.cat([p.detach().reshape(-1) for p in self.params])

    def _set_params(self, flat: torch.Tensor) -> None:
        with torch.no_grad():
            if self._bound():
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
        loss, g = self._evaluate(closure)
        first_loss = loss
        evals = 1
        if not math.isfinite(loss) or float(g.abs().max()) <= self.tol_grad:
            return first_loss
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
                    if len(self.old_s) == self.history_size:
                        self.old_s.pop(0), self.old_y.pop(0), self.rho.pop(0)
                    self.old_s.append(s)
                    self.old_y.append(y)
                    self.rho.append(1.0 / ys)
                    self.H_diag = ys / float(y.dot(y))
                d = self._two_loop(g)
            self.prev_g = g
            self.prev_loss = loss
            t = min(1.0, 1.0 / float(g.abs().sum())) * self.lr if self.n_iter == 1 else self.lr
            gtd = float(g.dot(d))
            if gtd > -self.tol_change:
                self.d, self.t = d, t
                break
            x0 = self._flat_params()
            loss, g, t, n_ls = self._line_search(closure, x0, t, d, loss, g, gtd)
            self._set_params(x0 + t * d)
            evals += n_ls
            self.d, self.t = d, t
            if not math.isfinite(loss):
                break
            if evals >= self.max_eval or float(g.abs().max()) <= self.tol_grad:
                break
            if float((d * t).abs().max()) <= self.tol_change or abs(loss - self.prev_loss) < self.tol_change:
                break
        return first_loss

    def _two_loop(self, g: torch.Tensor) -> torch.Tensor:
        q = -g
        alphas = []
        for s, y, rho in zip(reversed(self.old_s), reversed(self.old_y), reversed(self.rho)):
            a = rho * float(s.dot(q))
            alphas.append(a)
            q.add_(y, alpha=-a)
        r = q.mul_(self.H_diag)
        for s, y, rho, a in zip(self.old_s, self.old_y, self.rho, reversed(alphas)):
            b = rho * float(y.dot(r))
            r.add_(s, alpha=a - b)
        return r

    def _line_search(self, closure, x0, t, d, f0, g0, gtd0):
        """Strong-Wolfe line search; returns (f, g, t, evaluations). Parameters end undefined."""
        c1, c2 = self.c1, self.c2
        d_norm = float(d.abs().max())
        f, g = self._evaluate(closure, x0 + t * d)
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
                return f, g, t, n
            if gtd >= 0:
                bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f, g, gtd)]
                break
            lo, hi = t + 0.01 * (t - t_prev), t * 10.0
            t_new = _cubic_min(t_prev, f_prev, gtd_prev, t, f, gtd, lo, hi)
            t_prev, f_prev, g_prev, gtd_prev = t, f, g, gtd
            t = t_new
            f, g = self._evaluate(closure, x0 + t * d)
            n += 1
            gtd = float(g.dot(d))
        if bracket is None:  # ran out of evaluations while extrapolating
            return f, g, t, n
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
            f, g = self._evaluate(closure, x0 + t * d)
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
        return best[1], best[2], best[0], n
