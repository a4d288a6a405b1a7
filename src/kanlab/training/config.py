"""FitConfig: every option of a fit in one validated, immutable record.

``fit(model, dataset, **options)`` builds one with ``FitConfig(**options)``; an unknown option is
a TypeError and a bad value a ``ValueError`` naming the option and what it accepts, raised
before any training work starts. The fields and their defaults are the keyword arguments of
``KAN.fit`` (the paper's reference-code names).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

__all__ = ["FitConfig"]


def _positive_int(name, value, allow=()):
    if value in allow and not isinstance(value, bool):
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        extra = " or " + " or ".join(map(str, allow)) if allow else ""
        raise ValueError(f"{name} must be a positive integer{extra}, got {value!r}")


def _non_negative_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def _non_negative_number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Options of one fit (see :func:`kanlab.training.fit`).

    Optimiser: ``opt`` "LBFGS" (strong-Wolfe line search, up to ``max_iter`` evaluations per
    step, ``history_size`` curvature pairs) or "Adam"; ``steps`` optimiser steps; ``lr``;
    ``batch`` rows per step (-1: full batch), drawn with ``seed``.
    Grid schedule: with ``update_grid``, the grids adapt to the step's batch every
    ``stop_grid_update_step // grid_update_num`` steps while
    ``start_grid_update_step <= step < stop_grid_update_step``.
    Loss: ``loss_fn`` None/"mse" (the history reports RMSE), "cross_entropy" (outputs are
    logits, labels class indices) or a callable(pred, label) (reported as is).
    Sparsity penalty (paper eqs. 2.17-2.20, :mod:`kanlab.training.regularization`): ``lamb``
    times lamb_l1 * L1 + lamb_entropy * entropy (+ lamb_coef, lamb_coefdiff), edge magnitudes
    by ``reg_metric`` ("edge_l1" or "edge_std").
    Reporting: ``metrics`` (dict name -> fn(pred, label) or built-in name, or a list of names)
    on the test set every ``test_every`` steps; a progress bar (``progress``) updated every
    ``log`` steps; a UserWarning when more than ``warn_out_of_range`` of the layer inputs lie
    outside the grids and ``update_grid`` is off.
    Compute: ``threads`` intra-op threads during the fit (None: 1 for small problems, else
    torch's setting); ``backend`` "auto" or a name of :data:`kanlab.kernels.dispatch.FIT_BACKENDS`
    (an impossible choice is an error naming the possible ones).
    Scaling (docs/distributed.md): ``checkpoint`` a directory where the model, optimiser state,
    history and RNG state are written atomically every ``checkpoint_every`` steps and at the end;
    ``resume`` continues from it; ``distributed`` averages gradients over the ranks of an
    initialised torch.distributed process group; ``reservoir`` rows of inputs kept (uniformly
    sampled) for grid updates when training from a stream of batches.
    Snapshots (:mod:`kanlab.training.snapshots`): the model saved as ``snapshot_dir/step_NNNNNN.kan``
    before the first step and every ``snapshot_every`` steps, for ``kanlab.interpret.animate``.
    """

    opt: str = "LBFGS"
    steps: int = 100
    lr: float = 1.0
    batch: int = -1
    update_grid: bool = True
    grid_update_num: int = 10
    stop_grid_update_step: int = 50
    start_grid_update_step: int = -1
    loss_fn: Any = None
    lamb: float = 0.0
    lamb_l1: float = 1.0
    lamb_entropy: float = 2.0
    lamb_coef: float = 0.0
    lamb_coefdiff: float = 0.0
    reg_metric: str = "edge_l1"
    log: int = 1
    progress: bool = True
    seed: int = 0
    metrics: Any = None
    test_every: int = 1
    max_iter: int = 20
    history_size: int = 10
    warn_out_of_range: float = 0.1
    threads: int | None = None
    backend: str = "auto"
    checkpoint: Any = None
    checkpoint_every: int = 100
    resume: bool = False
    distributed: bool = False
    reservoir: int = 10_000
    snapshot_every: int | None = None
    snapshot_dir: Any = None

    def __post_init__(self):
        if self.opt not in ("LBFGS", "Adam"):
            raise ValueError(f"opt must be 'LBFGS' or 'Adam', got {self.opt!r}")
        _non_negative_int("steps", self.steps)
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")
        _positive_int("batch", self.batch, allow=(-1,))
        _positive_int("grid_update_num", self.grid_update_num)
        _non_negative_int("stop_grid_update_step", self.stop_grid_update_step)
        if isinstance(self.start_grid_update_step, bool) or not isinstance(self.start_grid_update_step, int):
            raise ValueError(f"start_grid_update_step must be an integer, got {self.start_grid_update_step!r}")
        _positive_int("log (steps between progress updates)", self.log)
        _positive_int("test_every", self.test_every)
        _positive_int("max_iter", self.max_iter)
        _positive_int("history_size", self.history_size)
        for name in ("lamb", "lamb_l1", "lamb_entropy", "lamb_coef", "lamb_coefdiff"):
            _non_negative_number(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if self.threads is not None:
            _positive_int("threads", self.threads)
        if not isinstance(self.backend, str):
            raise ValueError(f"backend must be 'auto' or a backend name, got {self.backend!r}")
        self._check_scaling()

    def _check_scaling(self):
        if self.checkpoint is not None and not isinstance(self.checkpoint, (str, bytes)) and not hasattr(self.checkpoint, "__fspath__"):
            raise ValueError(f"checkpoint must be a directory path or None, got {self.checkpoint!r}")
        _positive_int("checkpoint_every", self.checkpoint_every)
        _positive_int("reservoir (rows kept for grid updates while streaming)", self.reservoir)
        if self.resume and self.checkpoint is None:
            raise ValueError("resume=True needs checkpoint='DIR' (the directory the interrupted fit wrote to)")
        for name in ("resume", "distributed"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if (self.snapshot_every is None) != (self.snapshot_dir is None):
            raise ValueError("snapshots need both snapshot_every=N (steps between snapshots) and snapshot_dir='DIR'")
        if self.snapshot_every is not None:
            _positive_int("snapshot_every", self.snapshot_every)
            if not isinstance(self.snapshot_dir, str) and not hasattr(self.snapshot_dir, "__fspath__"):
                raise ValueError(f"snapshot_dir must be a directory path, got {self.snapshot_dir!r}")

    @property
    def grid_every(self) -> int:
        """Steps between grid updates."""
        return max(1, self.stop_grid_update_step // self.grid_update_num)

    def grid_update_due(self, step: int) -> bool:
        """Whether the grids adapt to the batch before optimiser step ``step``."""
        return (self.update_grid and step % self.grid_every == 0
                and self.start_grid_update_step <= step < self.stop_grid_update_step)

    @property
    def full_batch(self) -> bool:
        return self.batch == -1

    def replace(self, **changes) -> "FitConfig":
        """A copy with some options changed (validated again)."""
        return dataclasses.replace(self, **changes)

