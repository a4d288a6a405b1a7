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

from ..validate import KanlabError, check_dataset
from . import losses
from .config import FitConfig
from .evaluator import build_evaluator
from .history import FitHistory, HistoryRecorder
from .regularization import Penalty
from . import distributed, streaming
from .checkpoint import open_checkpointer
from .snapshots import Snapshots
from .steps import (ParameterGuard, fit_threads, guarded_step, make_optimizer, optimizer_step, progress_bar,
                    resolve_metrics, show_progress)

__all__ = ["fit", "FitConfig", "FitHistory", "ParameterGuard", "optimizer_step"]


def fit(model, dataset, config: FitConfig | None = None, test_data=None, **options) -> FitHistory:
    """Train ``model`` in place on ``dataset`` and return the per-step history.

    dataset: dict with ``train_input`` (N, n_in), ``train_label`` (N, n_out) and optionally
    ``test_input``/``test_label``; or a stream of batches (a ``torch.utils.data.DataLoader`` or
    any iterable of (x, y) pairs, :mod:`.streaming`: Adam only, ``test_data`` a held-out stream).
    Options: the fields of :class:`FitConfig` as keywords (or a
    ``config``, with keywords overriding it). The history holds ``train_loss`` and ``test_loss``
    (RMSE for the default loss), ``reg``, one list per metric, ``stopped_nan``, and ``backend`` /
    ``backend_reason``: the compute path that ran and why. If the loss or parameters become
    NaN/inf, the last good parameters are restored, training stops and a RuntimeWarning is raised.
    ``threads``: intra-op threads during the fit; None picks 1 for small problems (rows x widest
    layer < 2**17, where thread start-up costs more than it gains: ~1.5x faster on the paper's
    [2,5,1] recipe) and leaves torch's setting otherwise; the setting is restored afterwards.
    ``checkpoint``/``checkpoint_every``/``resume`` and ``distributed``: see docs/distributed.md.
    """
    cfg = config.replace(**options) if config is not None else FitConfig(**options)
    if not isinstance(dataset, dict):
        if cfg.snapshot_every is not None:
            raise KanlabError("snapshot_every works with a dataset dict; a streamed fit writes no snapshots "
                              "(use checkpoint=DIR to keep its state)")
        return streaming.fit_stream(model, dataset, cfg, test_data=test_data)
    if test_data is not None:
        raise KanlabError("test_data is for streamed training data; with a dataset dict give test_input and "
                          "test_label in the dict")
    with fit_threads(cfg, model, dataset), contextlib.ExitStack() as cleanup:
        return _train(model, dataset, cfg, cleanup)


def _train(model, dataset, cfg: FitConfig, cleanup: contextlib.ExitStack) -> FitHistory:
    loss_fn = losses.get_loss(cfg.loss_fn)
    metrics = resolve_metrics(cfg.metrics)
    custom_loss = loss_fn is not None
    param0 = next(model.parameters())
    ds = check_dataset(dataset, n_inputs=model.n_inputs, n_outputs=None if custom_loss else model.width[-1],
                       dtype=param0.dtype, device=param0.device)
    x_tr, y_tr = ds["train_input"], ds["train_label"]
    test = (ds["test_input"], ds["test_label"]) if "test_input" in ds else None
    loss_fn = loss_fn or losses.mse
    sync = distributed.start(cfg.distributed, cfg.lamb)
    _warn_out_of_range(model, x_tr, cfg)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(cfg, params, cleanup)
    penalty = None
    if cfg.lamb > 0:
        penalty = Penalty(model, lamb_l1=cfg.lamb_l1, lamb_entropy=cfg.lamb_entropy, lamb_coef=cfg.lamb_coef,
                          lamb_coefdiff=cfg.lamb_coefdiff, metric=cfg.reg_metric)
    recorder = HistoryRecorder(metrics, custom_loss, loss_fn, cfg.test_every, cfg.steps)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    ckpt, start = _checkpointer(cfg, model, sync, optimizer, recorder, gen)
    snaps = None if cfg.snapshot_every is None else Snapshots(cfg, model, start, writer=sync is None or sync.writer)
    guard = ParameterGuard(model, params)
    n = x_tr.shape[0]
    bar = progress_bar(cfg.steps, cfg.progress and (sync is None or sync.writer), initial=start)
    evaluator, stopped_nan = None, False
    for step in range(start, cfg.steps):
        idx = None if cfg.full_batch or cfg.batch >= n else torch.randperm(n, generator=gen)[:cfg.batch].to(x_tr.device)
        xb, yb = (x_tr, y_tr) if idx is None else (x_tr[idx], y_tr[idx])
        stale = evaluator is None or idx is not None
        if cfg.grid_update_due(step):
            model.update_grid(xb if sync is None else sync.gather_rows(xb))
            stale = True
        if stale:
            evaluator = build_evaluator(model, xb, yb, params, cfg, loss_fn, custom_loss, penalty)
            evaluator = evaluator if sync is None else sync.average(evaluator, xb.shape[0])
            recorder.set_backend(evaluator.backend)
        if not guarded_step(optimizer, evaluator, guard, step, "try a smaller lr, Adam, or check the data scale"):
            stopped_nan = True
            break
        recorder.record(step, model, evaluator.loss.detach(), evaluator.reg, (xb, yb), test)
        if ckpt is not None and ckpt.due(step):
            ckpt.save(step, model, optimizer, recorder.hist, gen.get_state())
        if snaps is not None:
            snaps.after_step(step, model)
        show_progress(bar, recorder, step, cfg, penalty is not None)
    if bar is not None:
        bar.close()
    if snaps is not None:
        snaps.finish(len(recorder.hist["train_loss"]), model)
    return recorder.finish(stopped_nan)


def _checkpointer(cfg: FitConfig, model, sync, optimizer, recorder, gen):
    """The fit's Checkpointer (or None) and the first step to run (after the checkpoint's on resume)."""
    ckpt, state = open_checkpointer(cfg, model, sync, optimizer, recorder)
    if state is None:
        return ckpt, 0
    gen.set_state(state["rng"])
    return ckpt, int(state["step"]) + 1


def _warn_out_of_range(model, x, cfg: FitConfig) -> None:
    if cfg.update_grid or not hasattr(model, "out_of_range_fraction"):
        return
    frac = model.out_of_range_fraction(x)
    if frac > cfg.warn_out_of_range:
        warnings.warn(f"{frac:.0%} of layer inputs fall outside the spline grids (the spline part is zero there); "
                      "use update_grid=True or a wider grid_range", UserWarning, stacklevel=4)
