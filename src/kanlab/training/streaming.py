"""Training from a stream of batches: data that does not fit in memory.

``fit(model, loader, opt="Adam", steps=N, ...)`` takes a ``torch.utils.data.DataLoader`` or any
iterable of ``(x, y)`` batches (an ``IterableDataset`` of unknown length too; when a pass ends,
the stream is iterated again, so ``steps`` need not match its length). Each step is one Adam
step on the next batch. Supported: Adam only; L-BFGS needs the same objective at every
evaluation of its line search, which a stream of new batches does not give (load the data into a
dataset dict for full-batch L-BFGS).

- Grid updates: while streaming, a uniform reservoir sample (Algorithm R, seeded) of at most
  ``reservoir`` input rows is kept (the model's inputs; every later layer's inputs are computed
  from them at update time); a scheduled grid update adapts the knots to it (with
  ``distributed=True`` to every rank's reservoir, all-gathered).
- The sparsity penalty (``lamb > 0``) is computed on each step's batch.
- ``test_data``: a held-out stream; every ``test_every`` steps (and after the last) the test loss
  is the RMSE over all of it (custom losses and metrics: the row-weighted mean of the batches'
  values), summed over the ranks when distributed.
- Checkpoints also hold the reservoir and the number of batches consumed; ``resume=True`` skips
  that many batches, so a stream that yields the same batches in the same order resumes exactly.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from ..validate import KanlabError, as_tensor, check_finite
from . import distributed, losses
from .checkpoint import open_checkpointer
from .config import FitConfig
from .evaluator import build_evaluator
from .history import FitHistory, HistoryRecorder
from .regularization import Penalty
from .steps import ParameterGuard, fit_threads, guarded_step, make_optimizer, progress_bar, resolve_metrics, show_progress

__all__ = ["fit_stream", "Reservoir", "BatchStream"]


class Reservoir:
    """A uniform sample of at most ``capacity`` rows of everything ``add``-ed (Algorithm R with a
    seeded generator; deterministic, also where two rows of one batch draw the same slot)."""

    def __init__(self, capacity: int, seed: int):
        self.capacity, self.seen, self.rows = capacity, 0, None
        self.gen = torch.Generator().manual_seed(seed + 7919)

    def add(self, x: torch.Tensor) -> None:
        x = x.detach().reshape(x.shape[0], -1)
        if self.rows is None:
            self.rows = x.new_empty((0, x.shape[1]))
        free = min(self.capacity - self.rows.shape[0], x.shape[0])
        if free > 0:
            self.rows = torch.cat([self.rows, x[:free].clone()])
        rest = x[free:]
        if rest.shape[0]:
            pos = torch.arange(self.seen + free, self.seen + x.shape[0], dtype=torch.float64) + 1
            slot = (torch.rand(rest.shape[0], generator=self.gen, dtype=torch.float64) * pos).long().numpy()
            keep = np.nonzero(slot < self.capacity)[0]
            if keep.size:  # the last row drawing a slot wins, as in the sequential algorithm
                rev = keep[::-1]
                _, first = np.unique(slot[rev], return_index=True)
                take = rev[first]
                self.rows[torch.from_numpy(slot[take])] = rest[torch.from_numpy(take.copy())]
        self.seen += x.shape[0]

    def state(self) -> dict:
        return {"seen": self.seen, "rows": self.rows, "gen": self.gen.get_state()}

    def load(self, state: dict) -> None:
        self.seen, self.rows = int(state["seen"]), state["rows"]
        self.gen.set_state(state["gen"])


class BatchStream:
    """The batches of ``data`` as checked tensors, forever (each pass ends, the next begins);
    ``consumed`` counts the batches drawn."""

    def __init__(self, data, n_inputs: int, n_outputs: int | None, dtype, device, name: str = "training data"):
        if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
            raise KanlabError(f"{name} must be a dataset dict, a torch DataLoader or an iterable of (x, y) batches, "
                              f"got {type(data).__name__}")
        self.data, self.name, self.consumed = data, name, 0
        self.n_inputs, self.n_outputs, self.dtype, self.device = n_inputs, n_outputs, dtype, device
        self._it = None

    def check(self, item):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise KanlabError(f"each batch of the {self.name} must be a pair (x, y), got {type(item).__name__}"
                              + (f" of length {len(item)}" if isinstance(item, (tuple, list)) else ""))
        x = as_tensor(item[0], f"{self.name} batch x", self.dtype, self.device)
        y = as_tensor(item[1], f"{self.name} batch y", self.dtype, self.device)
        x = x[:, None] if x.dim() == 1 and self.n_inputs == 1 else x
        y = y[:, None] if y.dim() == 1 else y
        if x.dim() != 2 or x.shape[1] != self.n_inputs or y.shape[0] != x.shape[0]:
            raise KanlabError(f"a batch of the {self.name} has x of shape {tuple(x.shape)} and y of shape "
                              f"{tuple(y.shape)}; expected (B, {self.n_inputs}) and (B, n_outputs)")
        if self.n_outputs is not None and (y.dim() != 2 or y.shape[1] != self.n_outputs):
            raise KanlabError(f"a batch of the {self.name} has y of shape {tuple(y.shape)}; the model has "
                              f"{self.n_outputs} output(s)")
        check_finite(x, f"a batch of the {self.name} (x)")
        check_finite(y, f"a batch of the {self.name} (y)")
        return x, y

    def passes(self):
        """One pass over the data (checked batches)."""
        for item in self.data:
            yield self.check(item)

    def next(self):
        for _ in range(2):
            if self._it is None:
                self._it = iter(self.data)
            try:
                item = next(self._it)
            except StopIteration:
                self._it = None
                continue
            self.consumed += 1
            return self.check(item)
        raise KanlabError(f"the {self.name} yielded no batch; check the loader (an empty file or shard?)")

    def skip(self, n: int) -> None:
        """Draw and drop ``n`` batches (resume: the batches the checkpointed steps consumed)."""
        for _ in range(n):
            self.next()


def fit_stream(model, data, cfg: FitConfig, test_data=None) -> FitHistory:
    """Train ``model`` in place on a stream of batches (see the module docstring)."""
    if cfg.opt != "Adam":
        raise KanlabError("training from a stream of batches supports opt='Adam' only: L-BFGS's line search needs "
                          "the same objective at every evaluation; pass opt='Adam', or load the data into a dataset "
                          "dict (train_input, train_label) for full-batch L-BFGS")
    if cfg.batch != -1:
        raise KanlabError("batch= does not apply to a stream: the loader's batches are the steps' batches; "
                          "set the batch size in the loader (DataLoader(batch_size=...) or stream_table)")
    with fit_threads(cfg, model, data), contextlib.ExitStack() as cleanup:
        return _train_stream(model, data, cfg, test_data, cleanup)


def _train_stream(model, data, cfg: FitConfig, test_data, cleanup) -> FitHistory:
    loss_fn = losses.get_loss(cfg.loss_fn)
    custom_loss = loss_fn is not None
    loss_fn = loss_fn or losses.mse
    metrics = resolve_metrics(cfg.metrics)
    p0 = next(model.parameters())
    n_out = None if custom_loss else model.width[-1]
    stream = BatchStream(data, model.n_inputs, n_out, p0.dtype, p0.device)
    tests = None if test_data is None else BatchStream(test_data, model.n_inputs, n_out, p0.dtype, p0.device, "test data")
    sync = distributed.start(cfg.distributed, cfg.lamb)
    if sync is not None and int(sync.all_reduce(torch.tensor([int(tests is not None)]), "check of test_data")) not in (0, sync.world):
        raise KanlabError("test_data was given on some ranks only; give it on every rank (an empty list where a "
                          "rank holds no test rows) or on none")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(cfg, params, cleanup)
    penalty = None if cfg.lamb <= 0 else Penalty(model, lamb_l1=cfg.lamb_l1, lamb_entropy=cfg.lamb_entropy,
                                                lamb_coef=cfg.lamb_coef, lamb_coefdiff=cfg.lamb_coefdiff,
                                                metric=cfg.reg_metric)
    recorder = HistoryRecorder({}, custom_loss, loss_fn, cfg.test_every, cfg.steps)
    for name in metrics:
        recorder.hist[name] = []
    reservoir = Reservoir(cfg.reservoir, cfg.seed)
    ckpt, start = _resume(cfg, model, sync, optimizer, recorder, stream, reservoir)
    guard = ParameterGuard(model, params)
    bar = progress_bar(cfg.steps, cfg.progress and (sync is None or sync.writer), initial=start)
    stopped_nan = False
    for step in range(start, cfg.steps):
        xb, yb = stream.next()
        reservoir.add(xb)
        if cfg.grid_update_due(step):
            model.update_grid(reservoir.rows if sync is None else sync.gather_rows(reservoir.rows))
        evaluator = build_evaluator(model, xb, yb, params, cfg, loss_fn, custom_loss, penalty)
        evaluator = evaluator if sync is None else sync.average(evaluator, xb.shape[0])
        recorder.set_backend(evaluator.backend)
        if not guarded_step(optimizer, evaluator, guard, step, "try a smaller lr or check the data scale"):
            stopped_nan = True
            break
        recorder.record(step, model, evaluator.loss.detach(), evaluator.reg, (xb, yb), None)
        if tests is not None and (step % cfg.test_every == 0 or step == cfg.steps - 1):
            _record_test(recorder.hist, model, tests, loss_fn, custom_loss, metrics, sync)
        if ckpt is not None and ckpt.due(step):
            ckpt.save(step, model, optimizer, recorder.hist, torch.empty(0, dtype=torch.uint8),
                      extra={"consumed": stream.consumed, "reservoir": reservoir.state()})
        show_progress(bar, recorder, step, cfg, penalty is not None)
    if bar is not None:
        bar.close()
    return recorder.finish(stopped_nan)


def _resume(cfg, model, sync, optimizer, recorder, stream, reservoir):
    ckpt, state = open_checkpointer(cfg, model, sync, optimizer, recorder)
    if state is None:
        return ckpt, 0
    extra = state["extra"]
    if "consumed" not in extra:
        raise KanlabError(f"{ckpt.path} was written by a fit on a dataset dict, not on a stream; resume it with "
                          "the same kind of data")
    reservoir.load(extra["reservoir"])
    stream.skip(int(extra["consumed"]))
    return ckpt, int(state["step"]) + 1


@torch.no_grad()
def _record_test(hist, model, tests: BatchStream, loss_fn, custom_loss, metrics, sync) -> None:
    """The test loss (RMSE, or the custom loss's row-weighted mean) and metrics over one pass,
    over every rank's test batches when distributed (a rank may hold none)."""
    sums = torch.zeros(len(metrics) + 2, dtype=torch.float64)
    for x, y in tests.passes():
        pred = model(x)
        vals = [((pred - y) ** 2).mean() if not custom_loss else loss_fn(pred, y)]
        vals += [fn(pred, y) for fn in metrics.values()]
        row = torch.stack([torch.as_tensor(v).detach().to(torch.float64).reshape(()) for v in vals]
                          + [torch.tensor(1.0, dtype=torch.float64)])
        sums += row * x.shape[0]
    if sync is not None:
        sync.all_reduce(sums, "all-reduce of the test loss")
    if sums[-1] == 0:
        raise KanlabError("the test data yielded no batch; check the held-out loader")
    mean = sums[:-1] / sums[-1]
    hist["test_loss"].append(mean[0] if custom_loss else mean[0].sqrt())
    for name, value in zip(metrics, mean[1:]):
        hist[name].append(value)
