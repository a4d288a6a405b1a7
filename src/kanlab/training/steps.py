"""The parts every fit loop shares (in memory, streaming, distributed): the thread setting, the
optimiser and its step, metric names, NaN safety and the progress bar."""
from __future__ import annotations

import contextlib
import warnings

import torch

from ..kernels import dispatch
from . import losses
from .config import FitConfig
from .lbfgs import LBFGS

__all__ = ["ParameterGuard", "optimizer_step", "make_optimizer", "resolve_metrics", "progress_bar", "fit_threads", "show_progress"]


@contextlib.contextmanager
def fit_threads(cfg: FitConfig, model, dataset):
    before = torch.get_num_threads()
    threads = cfg.threads
    if threads is None:
        if isinstance(dataset, dict) and "train_input" in dataset:
            rows = len(dataset["train_input"])
            threads = 1 if rows * max(getattr(model, "width", [1])) < 2**17 else before
        else:  # a stream of batches: torch's setting
            threads = before
    torch.set_num_threads(max(1, int(threads)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_metrics(metrics) -> dict:
    if metrics is not None and not isinstance(metrics, dict):  # a list of names or functions
        metrics = {m if isinstance(m, str) else getattr(m, "__name__", "metric"): m for m in metrics}
    return {name: losses.get_metric(fn) for name, fn in (metrics or {}).items()}


def make_optimizer(cfg: FitConfig, params, cleanup: contextlib.ExitStack):
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


def progress_bar(steps, enabled, initial: int = 0):
    if not enabled or steps == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=steps, initial=initial, desc="fit", unit="step", leave=False, dynamic_ncols=True)


def show_progress(bar, recorder, step: int, cfg: FitConfig, show_reg: bool) -> None:
    """Advance the progress bar (None: no bar) by one step; new values every ``cfg.log`` steps."""
    if bar is None:
        return
    if step % cfg.log == 0 or step == cfg.steps - 1:
        bar.set_postfix(recorder.postfix(show_reg=show_reg), refresh=False)
    bar.update(1)


def guarded_step(optimizer, evaluator, guard, step: int, hint: str) -> bool:
    """One optimiser step on the evaluator's compute path (the optimiser's own kernels follow it
    too); False, with the last good parameters restored and a RuntimeWarning naming ``hint``,
    when the loss became non-finite (the caller stops)."""
    with dispatch.using(evaluator.backend):
        optimizer_step(optimizer, evaluator)
    if guard.check(evaluator.loss.detach()):
        return True
    warnings.warn(f"loss became non-finite at step {step}; restored the parameters of step {step - 1} and "
                  f"stopped ({hint})", RuntimeWarning, stacklevel=4)
    return False
