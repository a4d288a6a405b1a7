"""The explorer's state: a model, its data, and an undo/redo history of model states.

Every action deep-copies the current model, applies itself to the copy and computes the copy's
metrics; only then does the copy become the new state. An action that raises leaves the state
as it was. Long actions (retrain, auto-symbolic) run as a :class:`~.jobs.Job` off the caller's
thread, can be cancelled, and commit only when they complete.

>>> wb = Workbench(model, X, y, X_test, y_test, var_names=["u", "v"])
>>> wb.candidates(0, 0, 0)[0]["name"]
>>> wb.fix(0, 0, 0, "x"); wb.metrics["network_rmse"]
>>> wb.undo(); wb.redo()
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

import torch

from ..interpret import attribution, edit, prune
from ..symbolic import fix_edges
from ..training import loop as training_loop
from .checks import (GRID_RANGE, MAX_HISTORY, MAX_RETRAIN_STEPS, MAX_TOPK, WorkbenchBusy, WorkbenchInputError,
                     check_edge, check_int, check_name, check_node, live_edge, symbolic_form)
from .pareto import check_pareto
from .jobs import Job
from .metrics import model_metrics

__all__ = ["Workbench", "State"]

RETRAIN_CHUNK = 10  # steps per fit call: cancel and progress are checked between chunks


@dataclass
class State:
    """One model state of the history: the model, the action that made it, its metrics."""

    model: object
    action: str
    metrics: dict
    _scores: object = field(default=None, repr=False)


def _tensor(a, name):
    if a is None:
        return None
    t = torch.as_tensor(a, dtype=torch.float64)
    if t.dim() == 1 and name.startswith("y"):
        t = t[:, None]
    if t.dim() != 2 or not torch.isfinite(t).all():
        raise WorkbenchInputError(f"{name} must be a finite 2-D array (rows, columns), got shape {tuple(t.shape)}")
    return t


class Workbench:
    """A trained model under edit, with undo/redo. ``X, y``: the data edges are fitted and
    retrained on; ``X_test, y_test``: held-out data for the metrics (default: X, y)."""

    def __init__(self, model, X=None, y=None, X_test=None, y_test=None, var_names=None, target="y", pareto=None):
        self._x, self._y = _tensor(X, "X"), _tensor(y, "y")
        self._xt, self._yt = _tensor(X_test, "X_test"), _tensor(y_test, "y_test")
        if (self._x is None) != (self._y is None) or (self._xt is None) != (self._yt is None):
            raise WorkbenchInputError("give X with y (and X_test with y_test), or neither")
        for xx, yy, what in ((self._x, self._y, "X"), (self._xt, self._yt, "X_test")):
            if xx is not None and (xx.shape[1] != model.n_inputs or len(xx) != len(yy) or yy.shape[1] != model.width[-1]):
                raise WorkbenchInputError(f"{what} must have {model.n_inputs} columns and as many rows as its y, which "
                                          f"needs {model.width[-1]} column(s); got {tuple(xx.shape)} and {tuple(yy.shape)}")
        if self._xt is None:
            self._xt, self._yt = self._x, self._y
        self.var_names = [f"x_{k + 1}" for k in range(model.n_inputs)] if var_names is None else [str(v) for v in var_names]
        if len(self.var_names) != model.n_inputs:
            raise WorkbenchInputError(f"var_names needs {model.n_inputs} names, got {len(self.var_names)}")
        self.target = str(target)
        self.pareto = None if pareto is None else check_pareto(pareto)  # discover's front, shown as a table
        self._lock = threading.RLock()
        self._job: Job | None = None
        first = copy.deepcopy(model)
        self._states = [State(first, "load", self._metrics(first))]
        self._pos = 0

    # ------------------------------------------------------------------ state
    @property
    def model(self):
        """The current model (a copy is made before any change: edit it only through actions)."""
        return self._states[self._pos].model

    @property
    def metrics(self) -> dict:
        return self._states[self._pos].metrics

    @property
    def x(self):
        """The training inputs (float64, (N, n_inputs)) or None."""
        return self._x

    @property
    def has_data(self) -> bool:
        return self._x is not None

    @property
    def job(self) -> Job | None:
        return self._job

    def history(self) -> dict:
        """{"position", "states": [{"action", "metrics"}], "can_undo", "can_redo"}."""
        with self._lock:
            return {"position": self._pos, "can_undo": self._pos > 0, "can_redo": self._pos < len(self._states) - 1,
                    "states": [{"action": s.action, "metrics": s.metrics} for s in self._states]}

    def _metrics(self, model) -> dict:
        return model_metrics(model, self.var_names, self._xt, self._yt, "test" if self._xt is not self._x else "train")

    def _need_data(self, what: str):
        if self._x is None:
            raise WorkbenchInputError(f"{what} needs data: give X and y (kanlab explore --data FILE.csv --target COLUMN)")
        return self._x

    def _idle(self):
        if self._job is not None and self._job.running:
            raise WorkbenchBusy(f"{self._job.action} is running; wait for it or cancel it first")

    def _commit(self, action: str, model) -> dict:
        metrics = self._metrics(model)
        with self._lock:
            del self._states[self._pos + 1:]
            self._states.append(State(model, action, metrics))
            if len(self._states) > MAX_HISTORY:
                del self._states[0]
            self._pos = len(self._states) - 1
        return metrics

    def _apply(self, action: str, change) -> dict:
        """Run change(copy) -> model or None on a copy of the current model; commit it."""
        with self._lock:
            self._idle()
            new = copy.deepcopy(self.model)
            out = change(new)
            return self._commit(action, new if out is None else out)

    def undo(self) -> dict:
        with self._lock:
            self._idle()
            if self._pos == 0:
                raise WorkbenchInputError("nothing to undo")
            self._pos -= 1
            return self.metrics

    def redo(self) -> dict:
        with self._lock:
            self._idle()
            if self._pos >= len(self._states) - 1:
                raise WorkbenchInputError("nothing to redo")
            self._pos += 1
            return self.metrics

    # ------------------------------------------------------------------ queries
    def scores(self):
        """Edge/node importance of the current model on the data (cached per state)."""
        state = self._states[self._pos]
        if state._scores is None:
            state._scores = attribution.attribute(state.model, self._need_data("importance"))
        return state._scores

    def edges(self) -> list[dict]:
        """Every live edge: position, symbolic form if any, importance (None without data)."""
        m = self.model
        sc = self.scores() if self.has_data else None
        out = []
        for l, layer in enumerate(m.layers):
            for i in range(layer.in_dim):
                for j in range(layer.out_dim):
                    if live_edge(m, l, i, j):
                        form = symbolic_form(m, l, i, j)
                        out.append({"l": l, "i": i, "j": j, "symbolic": form[0] if form else None,
                                    "params": list(form[1]) if form else None,
                                    "importance": float(sc.edge[l][i, j]) if sc is not None else None})
        return out

    def candidates(self, l, i, j, topk: int = 8) -> list[dict]:
        """Ranked symbolic forms for edge (l, i, j) on the data: name, (a, b, c, d), R^2, complexity."""
        l, i, j = check_edge(self.model, l, i, j)
        topk = check_int("topk", topk, 1, MAX_TOPK, "candidate counts")
        x = self._need_data("candidates")
        if self.model.layers[l].mask[i, j] <= 0:
            raise WorkbenchInputError(f"edge ({l},{i},{j}) has no numeric curve to fit (it is symbolic or pruned); unfix it first")
        return [{"name": c.name, "params": [float(p) for p in c.fit.params], "r2": float(c.r2),
                 "complexity": int(c.complexity), "score": float(c.score)}
                for c in fix_edges.suggest_symbolic(self.model, l, i, j, x, topk=topk)]

    @torch.no_grad()
    def edge_curve(self, l, i, j, n_points: int = 200, max_inputs: int = 2000) -> dict:
        """The curve of edge (l, i, j) over the range of inputs it receives, and those inputs
        (at most ``max_inputs``, evenly subsampled) for a rug or histogram."""
        l, i, j = check_edge(self.model, l, i, j)
        n_points = check_int("n_points", n_points, 2, 2000, "curve sample counts")
        m = self.model
        xin = m.layer_inputs(self._need_data("edge curve").to(next(m.parameters()).dtype))[l][:, i]
        lo, hi = float(xin.min()), float(xin.max())
        grid = torch.linspace(lo, hi if hi > lo else lo + 1.0, n_points, dtype=xin.dtype)
        full = grid[:, None].expand(-1, m.layers[l].in_dim).contiguous()
        values = m.edge_values(l, full)[:, i, j]
        step = max(1, len(xin) // max_inputs)
        form = symbolic_form(m, l, i, j)
        return {"l": l, "i": i, "j": j, "x": grid.tolist(), "y": values.double().tolist(),
                "inputs": xin[::step].double().tolist(), "symbolic": form[0] if form else None,
                "params": list(form[1]) if form else None, "importance": float(self.scores().edge[l][i, j]),
                "live": live_edge(m, l, i, j)}

    # ------------------------------------------------------------------ actions
    def fix(self, l, i, j, name: str, params=None) -> dict:
        """Fix edge (l, i, j) to ``name`` from the library: fitted on the data, or to the given
        (a, b, c, d) (e.g. a candidate's) when ``params`` is given."""
        l, i, j = check_edge(self.model, l, i, j)
        name = check_name(name)
        if params is not None:
            if not (isinstance(params, (list, tuple)) and len(params) == 4 and all(
                    isinstance(p, (int, float)) and not isinstance(p, bool) and abs(p) < 1e12 for p in params)):
                raise WorkbenchInputError("params must be 4 finite numbers (a, b, c, d) of c*f(a*x+b)+d")
            params = [float(p) for p in params]
        if not live_edge(self.model, l, i, j):
            raise WorkbenchInputError(f"edge ({l},{i},{j}) is pruned; undo the pruning to use it again")
        x = None if params is not None else self._need_data("fitting an edge")

        def change(m):
            m.symbolic[l].remove(i, j)
            with torch.no_grad():
                m.layers[l].mask[i, j] = 1.0  # refit a symbolic edge from its numeric curve
            fix_edges.fix_symbolic(m, l, i, j, name, x=x, fit_params=params is None, params=params)
        return self._apply(f"fix ({l},{i},{j}) = {name}", change)

    def unfix(self, l, i, j) -> dict:
        """Return symbolic edge (l, i, j) to its numeric spline."""
        l, i, j = check_edge(self.model, l, i, j)
        if symbolic_form(self.model, l, i, j) is None:
            raise WorkbenchInputError(f"edge ({l},{i},{j}) is not symbolic")
        return self._apply(f"unfix ({l},{i},{j})", lambda m: fix_edges.unfix_symbolic(m, l, i, j))

    def prune_edge(self, l, i, j) -> dict:
        """Switch edge (l, i, j) off."""
        l, i, j = check_edge(self.model, l, i, j)
        if not live_edge(self.model, l, i, j):
            raise WorkbenchInputError(f"edge ({l},{i},{j}) is already pruned")
        return self._apply(f"prune edge ({l},{i},{j})", lambda m: edit.remove_edge(m, l, i, j))

    def prune_node(self, l, j) -> dict:
        """Remove hidden node j of layer l (its mean contribution kept in the next biases)."""
        l, j = check_node(self.model, l, j)
        x = self._need_data("pruning a node")
        return self._apply(f"prune node ({l},{j})", lambda m: prune.remove_node(m, l, j, x=x))

    def refine(self, grid) -> dict:
        """The same function on ``grid`` intervals per edge."""
        grid = check_int("grid", grid, *GRID_RANGE, "grid sizes")
        return self._apply(f"refine grid={grid}", lambda m: m.refine(grid))

    # ------------------------------------------------------------------ long actions
    def _start(self, action: str, total: int, work) -> Job:
        with self._lock:
            self._idle()
            start_pos, model = self._pos, copy.deepcopy(self.model)

        def on_done(result):
            with self._lock:
                if self._pos != start_pos:  # cannot happen while the job runs (actions are refused)
                    raise WorkbenchBusy("the state changed while the job ran")
            self._commit(action, result)

        self._job = Job(action, total, lambda job: work(job, model), on_done)
        return self._job.start()

    def start_retrain(self, steps, lr: float = 1.0, opt: str = "LBFGS") -> Job:
        """Train the current model ``steps`` more steps (<= MAX_RETRAIN_STEPS) in a thread."""
        steps = check_int("steps", steps, 1, MAX_RETRAIN_STEPS, "retrain step counts")
        if opt not in ("LBFGS", "Adam"):
            raise WorkbenchInputError(f"opt must be 'LBFGS' or 'Adam', got {opt!r:.40}")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr <= 10:
            raise WorkbenchInputError(f"lr must be a number in (0, 10], got {lr!r:.40}")
        x = self._need_data("retraining")
        data = {"train_input": x, "train_label": self._y, "test_input": self._xt, "test_label": self._yt}

        def work(job, model):
            done = 0
            while done < steps:
                job.check_cancel()
                n = min(RETRAIN_CHUNK, steps - done)
                hist = training_loop.fit(model, data, steps=n, lr=float(lr), opt=opt, update_grid=False,
                                         progress=False, seed=done)
                for k, loss in enumerate(hist["train_loss"]):  # every step's loss: the curve has a point per step
                    job.report(done + k + 1, loss)
                done += n
                job.report(done)
                if hist.get("stopped_nan"):
                    raise FloatingPointError("training became non-finite; lower lr or use Adam")
            return model
        return self._start(f"retrain {steps} steps", steps, work)

    def start_auto_symbolic(self, r2_threshold: float = 0.0) -> Job:
        """Fix every live numeric edge to its best candidate, edge by edge, in a thread."""
        if isinstance(r2_threshold, bool) or not isinstance(r2_threshold, (int, float)) or not -1 <= r2_threshold <= 1:
            raise WorkbenchInputError(f"r2_threshold must be a number in [-1, 1], got {r2_threshold!r:.40}")
        x = self._need_data("auto-symbolic")
        edges = fix_edges.active_numeric_edges(self.model)

        def work(job, model):
            for k, (l, i, j) in enumerate(edges):
                job.check_cancel()
                best = fix_edges.suggest_symbolic(model, l, i, j, x, topk=1)
                if best and best[0].r2 >= r2_threshold:
                    fix_edges.fix_symbolic(model, l, i, j, best[0].name, fit_params=False, params=best[0].fit.params)
                job.report(k + 1)
            return model
        return self._start("auto-symbolic", len(edges), work)

    def retrain(self, steps, **kwargs) -> dict:
        """:meth:`start_retrain` and wait; raises if the job failed."""
        return self._finish(self.start_retrain(steps, **kwargs))

    def auto_symbolic(self, r2_threshold: float = 0.0) -> dict:
        """:meth:`start_auto_symbolic` and wait; raises if the job failed."""
        return self._finish(self.start_auto_symbolic(r2_threshold))

    def _finish(self, job: Job) -> dict:
        job.wait()
        if job.status != "finished":
            raise RuntimeError(f"{job.action} {job.status}: {job.error or 'cancelled'}; the state is unchanged")
        return self.metrics

    def cancel(self) -> bool:
        """Cancel the running job (True if there was one)."""
        job = self._job
        if job is None or not job.running:
            return False
        job.cancel()
        return True
