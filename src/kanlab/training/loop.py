"""The fit loop: optimiser steps over batches, the paper's grid-update schedule, per-step
history, a progress bar and NaN safety.

``fit(model, dataset, **options)`` trains any ``KANNetwork`` (``KAN.fit`` delegates here; the MLP
baselines train through it too). The options are validated into a :class:`FitConfig`. One
step is one optimiser step; for LBFGS that is up to ``max_iter`` (default 20) evaluations with a
strong-Wolfe line search, as in the paper's reference code. Each step:

1. draw the batch (``batch`` rows, or all of them);
2. adapt the grids to it when the schedule says so (``FitConfig.grid_update_due``);
3. (re)build the evaluator when the batch or the grids changed (:mod:`.evaluator`: it picks the
   compute path through the dispatcher and owns the training cache);
4. one optimiser step with the evaluator as closure (:func:`optimizer_step`);
5. restore the last good parameters and stop if anything became non-finite (:class:`ParameterGuard`);
6. record the step (:class:`.history.HistoryRecorder`).
"""
from __future__ import annotations

import contextlib
import warnings

import torch

from ..kernels import dispatch
from ..validate import check_dataset
from . import losses
from .config import FitConfig
from .evaluator import build_evaluator
from .history import FitHistory, HistoryRecorder
from .lbfgs import LBFGS
from .regularization import Penalty

__all__ = ["fit", "FitConfig", "FitHistory", "ParameterGuard", "optimizer_step"]


def fit(model, dataset, config: FitConfig | None = None, **options) -> FitHistory:
    """Train ``model`` in place on ``dataset`` and return the per-step history.

    dataset: dict with ``train_input`` (N, n_in), ``train_label`` (N, n_out) and optionally
    ``test_input``/``test_label``. Options: the fields of :class:`FitConfig` as keywords (or a
    ``config``, with keywords overriding it). The history holds ``train_loss`` and ``test_loss``
    (RMSE for the default loss), ``reg``, one list per metric, ``stopped_nan``, and ``backend`` /
    ``backend_reason``: the compute path that ran and why. If the loss or parameters become
    NaN/inf, the last good parameters are restored, training stops and a RuntimeWarning is raised.
    ``threads``: intra-op threads during the fit; None picks 1 for small problems (rows x widest
    layer < 2**17, where thread start-up costs more than it gains: ~1.5x faster on the paper's
    [2,5,1] recipe) and leaves torch's setting otherwise; the setting is restored afterwards.
    """
    cfg = config.replace(**options) if config is not None else FitConfig(**options)
    with _threads(cfg, model, dataset), contextlib.ExitStack() as cleanup:
        return _train(model, dataset, cfg, cleanup)


@contextlib.contextmanager
def _threads(cfg: FitConfig, model, dataset):
    before = torch.get_num_threads()
    threads = cfg.threads
    if threads is None:
        rows = len(dataset["train_input"]) if isinstance(dataset, dict) and "train_input" in dataset else 0
        threads = 1 if rows * max(getattr(model, "width", [1])) < 2**17 else before
    torch.set_num_threads(max(1, int(threads)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _resolve_metrics(metrics) -> dict:
    if metrics is not None and not isinstance(metrics, dict):  # a list of names or functions
        metrics = {m if isinstance(m, str) else getattr(m, "__name__", "metric"): m for m in metrics}
    return {name: losses.get_metric(fn) for name, fn in (metrics or {}).items()}


def _make_optimizer(cfg: FitConfig, params, cleanup: contextlib.ExitStack):
    """LBFGS binds the parameters to one flat buffer here (released when the fit ends, even
    when interrupted); evaluators are built after this."""
    if cfg.opt == "LBFGS":
        optimizer = LBFGS(params, lr=cfg.lr, max_iter=cfg.max_iter, history_size=cfg.history_size)
        cleanup.callback(optimizer.release)
        return optimizer
    return torch.optim.Adam(params, lr=cfg.lr)


def optimizer_step(optimizer, closure) -> None:
    """One optimiser step: LBFGS calls the closure itself; Adam steps on one evaluation."""
    if isinstance(optimizer, LBFGS):
        optimizer.step(closure)
    else:
        closure()
        optimizer.step()


class ParameterGuard:
    """Keeps a copy of the model's last good state (parameters and buffers); ``check`` accepts
    the current state when the objective and every parameter are finite, else restores the
    copy and returns False."""

    def __init__(self, model, params):
        self.params = params
        self.state = list(model.state_dict(keep_vars=True).values())
        self.good = [t.detach().clone() for t in self.state]

    @torch.no_grad()
    def check(self, objective: torch.Tensor) -> bool:
        if not bool(torch.isfinite(objective)) or not all(bool(torch.isfinite(p).all()) for p in self.params):
            torch._foreach_copy_(self.state, self.good)
            return False
        if any(g.shape != s.shape for g, s in zip(self.good, self.state)):  # a shape changed: new snapshot
            self.good = [t.detach().clone() for t in self.state]
        else:
            torch._foreach_copy_(self.good, [s.detach() for s in self.state])
        return True


def _train(model, dataset, cfg: FitConfig, cleanup: contextlib.ExitStack) -> FitHistory:
    loss_fn = losses.get_loss(cfg.loss_fn)
    metrics = _resolve_metrics(cfg.metrics)
    custom_loss = loss_fn is not None
    param0 = next(model.parameters())
    ds = check_dataset(dataset, n_inputs=model.n_inputs, n_outputs=None if custom_loss else model.width[-1],
                       dtype=param0.dtype, device=param0.device)
    x_tr, y_tr = ds["train_input"], ds["train_label"]
    test = (ds["test_input"], ds["test_label"]) if "test_input" in ds else None
    loss_fn = loss_fn or losses.mse
    _warn_out_of_range(model, x_tr, cfg)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = _make_optimizer(cfg, params, cleanup)
    penalty = None
    if cfg.lamb > 0:
        penalty = Penalty(model, lamb_l1=cfg.lamb_l1, lamb_entropy=cfg.lamb_entropy, lamb_coef=cfg.lamb_coef,
                          lamb_coefdiff=cfg.lamb_coefdiff, metric=cfg.reg_metric)
    guard = ParameterGuard(model, params)
    recorder = HistoryRecorder(metrics, custom_loss, loss_fn, cfg.test_every, cfg.steps)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    n = x_tr.shape[0]
    bar = _progress(cfg.steps, cfg.progress)
    evaluator, stopped_nan = None, False
    for step in range(cfg.steps):
        idx = None if cfg.full_batch or cfg.batch >= n else torch.randperm(n, generator=gen)[:cfg.batch].to(x_tr.device)
        xb, yb = (x_tr, y_tr) if idx is None else (x_tr[idx], y_tr[idx])
        stale = evaluator is None or idx is not None
        if cfg.grid_update_due(step):
            model.update_grid(xb)
            stale = True
        if stale:
            evaluator = build_evaluator(model, xb, yb, params, cfg, loss_fn, custom_loss, penalty)
            recorder.set_backend(evaluator.backend)
        with dispatch.using(evaluator.backend):  # the optimiser's own kernels (L-BFGS updates) follow it too
            optimizer_step(optimizer, evaluator)
        if not guard.check(evaluator.loss.detach()):
            warnings.warn(f"loss became non-finite at step {step}; restored the parameters of step {step - 1} and "
                          "stopped (try a smaller lr, Adam, or check the data scale)", RuntimeWarning, stacklevel=3)
            stopped_nan = True
            break
        recorder.record(step, model, evaluator.loss.detach(), evaluator.reg, (xb, yb), test)
        if bar is not None:
            if step % cfg.log == 0 or step == cfg.steps - 1:
                bar.set_postfix(recorder.postfix(show_reg=penalty is not None), refresh=False)
            bar.update(1)
    if bar is not None:
        bar.close()
    return recorder.finish(stopped_nan)


def _warn_out_of_range(model, x, cfg: FitConfig) -> None:
    if cfg.update_grid or not hasattr(model, "out_of_range_fraction"):
        return
    frac = model.out_of_range_fraction(x)
    if frac > cfg.warn_out_of_range:
        warnings.warn(f"{frac:.0%} of layer inputs fall outside the spline grids (the spline part is zero there); "
                      "use update_grid=True or a wider grid_range", UserWarning, stacklevel=4)


def _progress(steps, enabled):
    if not enabled or steps == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=steps, desc="fit", unit="step", leave=False, dynamic_ncols=True)
