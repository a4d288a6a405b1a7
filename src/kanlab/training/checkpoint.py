"""Checkpoints of a running fit: save atomically, resume to the same result.

``fit(..., checkpoint="DIR", checkpoint_every=N)`` writes ``DIR/checkpoint.pt`` after every N-th
step and after the last one: the model's state (parameters and knots), the optimiser's state
(Adam's moments, or L-BFGS's curvature history, direction and step), the history so far, the
batch sampler's RNG state and, when streaming, the reservoir and the number of batches consumed.
The file is written to a temporary name in DIR and moved onto ``checkpoint.pt`` with
``os.replace``: a killed fit leaves the previous checkpoint or the new one, never half a file.

``resume=True`` loads it (``torch.load(weights_only=True)``: tensors and plain containers only)
and continues at the next step; with the same data and data order the result equals that of an
uninterrupted fit. The model's shape and the options that change the trajectory must match the
checkpoint's, else a KanlabError names the difference.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import torch

from ..validate import KanlabError
from .lbfgs import LBFGS

__all__ = ["Checkpointer", "FILE_NAME", "open_checkpointer"]

FILE_NAME = "checkpoint.pt"
_LBFGS_FIELDS = ("_hist", "_order", "_rho", "_sy", "_yy", "H_diag", "d", "t", "prev_g", "prev_loss", "n_iter", "n_evals")
_TRAJECTORY = ("opt", "lr", "batch", "seed", "update_grid", "grid_update_num", "stop_grid_update_step",
               "start_grid_update_step", "max_iter", "history_size", "lamb", "reservoir")


def _plain(value):
    """numpy arrays as tensors (torch.load's safe mode reads tensors and plain containers only)."""
    if isinstance(value, np.generic):
        return value.item()
    return torch.from_numpy(value.copy()) if isinstance(value, np.ndarray) else value


def optimizer_state(optimizer) -> dict:
    if isinstance(optimizer, LBFGS):
        return {"kind": "LBFGS", "state": {f: _plain(getattr(optimizer, f)) for f in _LBFGS_FIELDS}}
    return {"kind": "Adam", "state": optimizer.state_dict()}


def load_optimizer_state(optimizer, saved: dict) -> None:
    if isinstance(optimizer, LBFGS):
        for f in _LBFGS_FIELDS:
            v = saved["state"][f]
            setattr(optimizer, f, v.numpy().copy() if f in ("_rho", "_sy", "_yy") else v)
    else:
        optimizer.load_state_dict(saved["state"])


def _shape(model) -> list:
    """What a checkpoint's model must share with the resuming one: width, grid and k of each layer."""
    return [[int(layer.in_dim), int(layer.out_dim), int(layer.grid), int(layer.k)] for layer in model.layers] + \
        [int(getattr(model, "n_inputs", 0))]


class Checkpointer:
    """Writes and reads one fit's checkpoint in ``directory`` (only where ``writer``)."""

    def __init__(self, cfg, model, writer: bool = True):
        self.cfg, self.writer = cfg, writer
        self.directory = os.fspath(cfg.checkpoint)
        self.path = os.path.join(self.directory, FILE_NAME)
        self.shape = json.dumps(_shape(model))
        self.options = {k: repr(getattr(cfg, k)) for k in _TRAJECTORY}

    def due(self, step: int) -> bool:
        return (step + 1) % self.cfg.checkpoint_every == 0 or step == self.cfg.steps - 1

    def save(self, step: int, model, optimizer, hist: dict, rng: torch.Tensor, extra: dict | None = None) -> None:
        """Write the state after step ``step`` atomically (nothing on ranks other than the writer)."""
        if not self.writer:
            return
        state = {"step": step, "shape": self.shape, "options": self.options,
                 "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                 "optimizer": optimizer_state(optimizer), "history": {k: list(v) for k, v in hist.items()},
                 "rng": rng, "extra": extra or {}}
        os.makedirs(self.directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + FILE_NAME, dir=self.directory)
        os.close(fd)
        try:
            torch.save(state, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def load(self) -> dict:
        """The saved state, checked against this fit's model shape and options."""
        if not os.path.exists(self.path):
            raise KanlabError(f"resume=True but there is no checkpoint at {self.path}; run once without resume=True "
                              "(with checkpoint=...) to create it")
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
            raise KanlabError(f"{self.path} is not a readable kanlab checkpoint ({type(e).__name__}: "
                              f"{str(e)[:200]}); delete it to start over") from None
        if state.get("shape") != self.shape:
            raise KanlabError(f"the checkpoint {self.path} is of a different model shape; build the model as before "
                              "(same width, grid, k) or use a new checkpoint directory")
        diff = [k for k in _TRAJECTORY if state["options"].get(k) != self.options[k]]
        if diff:
            was = ", ".join(f"{k}={state['options'].get(k)}" for k in diff)
            raise KanlabError(f"the checkpoint {self.path} was written with {was}; resume with the same options "
                              "or use a new checkpoint directory")
        return state

    def restore(self, model, optimizer, hist: dict) -> dict:
        """Load the checkpoint into model, optimiser and history; returns the saved state."""
        state = self.load()
        with torch.no_grad():
            own = model.state_dict()
            for k, v in state["model"].items():
                own[k].copy_(v)  # in place: L-BFGS's flat-buffer views stay bound
        for layer in getattr(model, "layers", []):
            if hasattr(layer, "refresh_basis_table"):
                layer.refresh_basis_table()  # the cached polynomial table follows the restored knots
        load_optimizer_state(optimizer, state["optimizer"])
        for k, v in state["history"].items():
            hist[k] = list(v)
        return state


def open_checkpointer(cfg, model, sync, optimizer, recorder):
    """The fit's Checkpointer (None without ``cfg.checkpoint``) and, when ``cfg.resume``, the
    restored checkpoint's state (model, optimiser and history already restored; else None). Only
    the writing rank (``sync.writer``) writes."""
    if cfg.checkpoint is None:
        return None, None
    ckpt = Checkpointer(cfg, model, writer=sync is None or sync.writer)
    return ckpt, (ckpt.restore(model, optimizer, recorder.hist) if cfg.resume else None)
