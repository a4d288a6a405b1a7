"""The record of a fit: per-step losses and metrics, and which compute path ran.

``FitHistory`` is a plain dict (it pickles, deep-copies and serialises like one) with attribute
access for reading (``hist.train_loss``); a missing attribute is an AttributeError, as Python's
protocols (hasattr, copy, pickle) expect. ``HistoryRecorder`` fills one during a fit: each
step's values are kept as 0-dim tensors (no device sync per step) and turned into floats once
at the end.
"""
from __future__ import annotations

import torch

from . import losses

__all__ = ["FitHistory", "HistoryRecorder"]


class FitHistory(dict):
    """Per-step history: ``train_loss``/``test_loss`` (RMSE for the default loss), ``reg``,
    one list per metric, ``stopped_nan``, and ``backend``/``backend_reason`` (the compute path
    that ran and why)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"FitHistory has no entry {name!r}; entries: {sorted(self)}") from None


class HistoryRecorder:
    """Collects one fit's history. ``custom_loss``: the loss is reported as is (else RMSE)."""

    def __init__(self, metrics: dict, custom_loss: bool, loss_fn, test_every: int, steps: int):
        self.metrics, self.custom_loss, self.loss_fn = metrics, custom_loss, loss_fn
        self.test_every, self.steps = test_every, steps
        self.hist = FitHistory(train_loss=[], test_loss=[], reg=[])
        for name in metrics:
            self.hist[name] = []
        self.backend = None

    @torch.no_grad()
    def record(self, step: int, model, objective, reg, batch, test) -> None:
        """Record step ``step``: the objective the optimiser saw (the loss without the penalty),
        the penalty ``reg`` (or None), and test metrics on ``test`` = (x, y) or None, else
        metrics on ``batch`` = (x, y)."""
        h = self.hist
        h["train_loss"].append(objective if self.custom_loss else objective.sqrt())
        h["reg"].append(objective.new_zeros(()) if reg is None else reg.detach())
        if test is not None:
            if step % self.test_every == 0 or step == self.steps - 1:
                pred = model(test[0])
                h["test_loss"].append(self.loss_fn(pred, test[1]) if self.custom_loss else losses.rmse(pred, test[1]))
                for name, fn in self.metrics.items():
                    h[name].append(fn(pred, test[1]))
        elif self.metrics:
            pred = model(batch[0])
            for name, fn in self.metrics.items():
                h[name].append(fn(pred, batch[1]))

    def set_backend(self, backend) -> None:
        """The compute path of the latest evaluator (name and reason)."""
        self.backend = backend

    def postfix(self, show_reg: bool) -> dict:
        """The latest values for the progress bar."""
        post = {"train": f"{float(self.hist['train_loss'][-1]):.2e}"}
        if self.hist["test_loss"]:
            post["test"] = f"{float(self.hist['test_loss'][-1]):.2e}"
        if show_reg:
            post["reg"] = f"{float(self.hist['reg'][-1]):.2e}"
        return post

    def finish(self, stopped_nan: bool) -> FitHistory:
        """The history with every value a float."""
        h = self.hist
        for key in list(h):
            h[key] = [float(v) for v in h[key]]
        h["stopped_nan"] = stopped_nan
        if self.backend is None:
            h["backend"], h["backend_reason"] = None, "no optimiser step ran"
        else:
            h["backend"], h["backend_reason"] = self.backend.name, self.backend.reason
        return h
