"""Training against a held-out validation set: early stopping with best-state restore.

``fit_validated(model, (x, y), (x_val, y_val), ...)`` trains ``model`` in place with one of two
solvers and keeps the parameters (and grids) of the iteration with the lowest validation loss:

- ``"lbfgs"``: full-batch L-BFGS (:class:`.lbfgs.LBFGS`); one iteration is one L-BFGS step
  (up to ``max_iter_lbfgs`` evaluations with its line search);
- ``"adam"``: Adam over shuffled minibatches of ``batch_size`` rows; one iteration is one pass
  over the rows or ``batches_per_iter`` minibatches, whichever is smaller (so a very large table
  is checked against the validation set often, and the cost per iteration is bounded).

After every iteration the validation loss (the data loss alone, without the penalty) is
computed in chunks; when it has not fallen below ``best - tol * |best|`` for
``n_iter_no_change`` iterations in a row, training stops, and in every case the best state is
copied back. Without a validation set the training objective plays its part. The objective
is ``loss_fn(pred, y) + penalty()``; the grids adapt to (a subsample of) the training rows
before the iterations in ``grid_update_iters`` (the L-BFGS curvature history is reset there).
It reuses the fit loop's parts (optimiser, evaluator, NaN guard); it does not replace ``fit``.
"""
from __future__ import annotations

import contextlib
import warnings

import torch

from .config import FitConfig
from .evaluator import build_evaluator
from .history import FitHistory
from .lbfgs import LBFGS
from .loop import ParameterGuard, optimizer_step

__all__ = ["fit_validated", "BestState", "predict_chunked"]

SOLVERS = ("lbfgs", "adam")
CHUNK_ROWS = 32768  # rows per forward pass when evaluating: bounds the basis features' memory


class BestState:
    """The best state seen so far (parameters and buffers, e.g. the grids) and the patience
    counter. ``update(score)`` returns True when training should stop."""

    def __init__(self, model, n_iter_no_change: int, tol: float):
        self.model, self.patience, self.tol = model, n_iter_no_change, tol
        self.best, self.best_iter, self.bad, self.state = float("inf"), -1, 0, None
        self._it = -1

    def update(self, score: float) -> bool:
        self._it += 1
        if score < self.best - self.tol * abs(self.best) or self.state is None:
            self.best, self.best_iter, self.bad = score, self._it, 0
            self.state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            return False
        self.bad += 1
        return self.bad >= self.patience

    @torch.no_grad()
    def restore(self) -> None:
        """Copy the best state back in place (parameters keep their storage)."""
        if self.state is None:
            return
        current = self.model.state_dict(keep_vars=True)
        for k, v in self.state.items():
            if current[k].shape == v.shape:
                current[k].copy_(v)
            else:  # a grid refinement changed the shape since: load_state_dict rebinds
                self.model.load_state_dict(self.state)
                return
        for layer in getattr(self.model, "layers", []):
            layer.refresh_basis_table()


@torch.no_grad()
def predict_chunked(model, x: torch.Tensor, chunk: int = CHUNK_ROWS) -> torch.Tensor:
    """model(x) evaluated ``chunk`` rows at a time."""
    if len(x) <= chunk:
        return model(x)
    return torch.cat([model(x[i:i + chunk]) for i in range(0, len(x), chunk)])


@torch.no_grad()
def _data_loss(model, loss_fn, x, y) -> float:
    if len(x) <= CHUNK_ROWS:
        return float(loss_fn(model(x), y))
    total = sum(float(loss_fn(model(x[i:i + CHUNK_ROWS]), y[i:i + CHUNK_ROWS])) * len(x[i:i + CHUNK_ROWS])
                for i in range(0, len(x), CHUNK_ROWS))
    return total / len(x)


def _batches(n: int, batch_size: int, per_iter: int, gen: torch.Generator):
    """Endless minibatch index tensors from shuffled passes, grouped into iterations."""
    while True:
        perm = torch.randperm(n, generator=gen)
        starts = list(range(0, n, batch_size))
        for k in range(0, len(starts), per_iter):
            yield [perm[s:s + batch_size] for s in starts[k:k + per_iter]]


def _one_iteration(model, opt, cfg, params, x, y, objective, idx_groups, solver) -> float:
    """One iteration; returns the mean objective over its evaluations' last values."""
    if solver == "lbfgs":
        ev = build_evaluator(model, x, y, params, cfg, objective, True, None)
        optimizer_step(opt, ev)
        return float(ev.loss.detach())
    losses = []
    for idx in next(idx_groups):
        ev = build_evaluator(model, x[idx], y[idx], params, cfg, objective, True, None)
        optimizer_step(opt, ev)
        losses.append(ev.loss.detach())
    return float(torch.stack(losses).mean())


def _check(solver, max_iter, n_iter_no_change, batch_size):
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    for name, v in (("max_iter", max_iter), ("n_iter_no_change", n_iter_no_change), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def fit_validated(model, train, val=None, *, loss_fn, penalty=None, solver="lbfgs", max_iter=100, lr=1.0,
                  batch_size=256, n_iter_no_change=10, tol=1e-4, grid_update_iters=(0,), grid_rows=20000,
                  seed=0, batches_per_iter=200, max_iter_lbfgs=20) -> FitHistory:
    """Train ``model`` in place on ``train`` = (x, y), stopping early on ``val`` = (x, y) or None
    (see the module docstring). Returns a history: ``train_loss`` and ``val_loss`` per iteration
    (objective with the penalty, data loss without), ``best_iter``, ``n_iter``, ``stopped``
    ("no improvement", "max_iter" or "non-finite loss") and ``solver``."""
    _check(solver, max_iter, n_iter_no_change, batch_size)
    x, y = train
    rows = len(x) if solver == "lbfgs" else min(len(x), batch_size)
    with _small_threads(rows * max(getattr(model, "width", [1]))):
        return _fit_validated(model, x, y, val, loss_fn, penalty, solver, max_iter, lr, batch_size, n_iter_no_change,
                              tol, grid_update_iters, grid_rows, seed, batches_per_iter, max_iter_lbfgs)


@contextlib.contextmanager
def _small_threads(work: int):
    """One intra-op thread for small batches (thread start-up costs more than it gains there,
    as in the fit loop), torch's setting otherwise; restored afterwards."""
    before = torch.get_num_threads()
    if work < 2**17:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit_validated(model, x, y, val, loss_fn, penalty, solver, max_iter, lr, batch_size, n_iter_no_change, tol,
                   grid_update_iters, grid_rows, seed, batches_per_iter, max_iter_lbfgs) -> FitHistory:
    def objective(pred, label):
        loss = loss_fn(pred, label)
        return loss + penalty() if penalty is not None else loss

    cfg = FitConfig(opt="LBFGS" if solver == "lbfgs" else "Adam", lr=float(lr), loss_fn=objective,
                    progress=False, max_iter=max_iter_lbfgs, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    groups = _batches(len(x), batch_size, batches_per_iter, gen)
    params = [p for p in model.parameters() if p.requires_grad]
    best = BestState(model, n_iter_no_change, tol)
    hist = FitHistory(train_loss=[], val_loss=[], solver=solver)
    stopped = "max_iter"
    with contextlib.ExitStack() as cleanup:
        opt = _optimizer(solver, params, lr, max_iter_lbfgs, cleanup)
        guard = ParameterGuard(model, params)
        for it in range(max_iter):
            if it in grid_update_iters:
                _update_grid(model, x, grid_rows, gen)
                guard = ParameterGuard(model, params)
                if hasattr(opt, "reset"):
                    opt.reset()
            train_loss = _one_iteration(model, opt, cfg, params, x, y, objective, groups, solver)
            if not guard.check(torch.tensor(train_loss)):
                warnings.warn(f"the training loss became non-finite at iteration {it}; the best state so far is kept",
                              RuntimeWarning, stacklevel=2)
                stopped = "non-finite loss"
                break
            score = _data_loss(model, loss_fn, *val) if val is not None else train_loss
            hist["train_loss"].append(train_loss)
            hist["val_loss"].append(score)
            if best.update(score):
                stopped = "no improvement"
                break
    best.restore()
    hist.update(best_iter=best.best_iter, n_iter=len(hist["train_loss"]), stopped=stopped)
    return hist


def _optimizer(solver, params, lr, max_iter_lbfgs, cleanup: contextlib.ExitStack):
    """L-BFGS binds the parameters to one flat buffer (released when training ends, also on an
    exception; see :class:`.lbfgs.LBFGS`); evaluators are built after it."""
    if solver == "adam":
        return torch.optim.Adam(params, lr=float(lr))
    opt = LBFGS(params, lr=float(lr), max_iter=max_iter_lbfgs)
    cleanup.callback(opt.release)
    return opt


@torch.no_grad()
def _update_grid(model, x, rows, gen) -> None:
    sample = x if len(x) <= rows else x[torch.randperm(len(x), generator=gen)[:rows]]
    model.update_grid(sample)
