"""What discover's pipelines hand back, and how one answer is picked.

Every pipeline returns a :class:`Candidate` (or nothing); every stage outcome, failure and
rejection is a :class:`LogEntry` in the result's ``log`` and a line through
``logging.getLogger("kanlab.discover")``.

Candidate choice (documented rule). Every candidate has a held-out RMSE e (the rows ``discover``
holds out; they also guide pruning and edge choices inside the pipelines, so they are
validation rows; ``discover`` reports them as its test error) and a complexity (sympy operation
count + number of symbols). With e_min the lowest held-out RMSE:
  * a formula is *essentially exact* when e <= EXACT_RTOL * std(y); among essentially exact
    formulas the simplest wins;
  * otherwise the candidates within NEAR_FACTOR * e_min count as near-equal, and the simplest
    of those wins (ties: lower error).
The same threshold lets ``discover`` skip the remaining pipelines once one formula is
essentially exact. A formula that is complex (non-zero imaginary part) or not finite at some
row of the data is rejected before it becomes a candidate.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import sympy

from ..symbolic.expression import complexity, not_real_reason, rmse
from ..validate import KanlabError

__all__ = ["Candidate", "LogEntry", "StageLog", "DiscoverError", "ParetoPoint", "make_candidate", "choose",
           "is_exact", "pareto_front", "pareto_table", "EXACT_RTOL", "NEAR_FACTOR"]

logger = logging.getLogger("kanlab.discover")

#: held-out RMSE below EXACT_RTOL * std(y) counts as an essentially exact formula
EXACT_RTOL = 1e-7
#: candidates within NEAR_FACTOR of the best held-out RMSE count as equally accurate
NEAR_FACTOR = 1.5


class DiscoverError(KanlabError):
    """No pipeline produced a formula (each failed, declined, or gave one that was rejected);
    ``log``: the stage log of the call."""

    def __init__(self, message: str, log=()):
        super().__init__(message)
        self.log = list(log)


@dataclass
class Candidate:
    """One pipeline's answer, in y's units.

    formula       the sympy formula, constants snapped
    pipeline      the pipeline that made it: "separable", "identity" or "log"
    transform     the target the pipeline's network was fitted to: "identity" (y) or "log" (log|y|)
    train_rmse    RMSE on the training rows
    val_rmse      RMSE on the held-out rows (they guided the choices: validation)
    test_rmse     RMSE on the rows reported as test: discover holds out one set of rows, so this
                  equals val_rmse there
    complexity    sympy operation count + number of symbols
    model         the network behind it (the pruned symbolic KAN, the dense oracle), or None
    numeric_rmse  held-out RMSE of the pipeline's numeric KAN in y's units (nan: none in y's units)
    raw           the formula before snapping, when its rounded variants belong in the Pareto list
    """

    formula: sympy.Expr
    pipeline: str
    transform: str
    train_rmse: float
    val_rmse: float
    test_rmse: float
    complexity: int
    model: object = None
    numeric_rmse: float = math.nan
    raw: object = None

    @property
    def rmse(self) -> float:
        """The error the choice rule compares: the held-out RMSE."""
        return self.val_rmse


@dataclass(frozen=True)
class LogEntry:
    """One stage outcome: ``status`` is "ok", "skipped", "rejected", "failed" or "warning"."""

    stage: str
    status: str
    message: str
    seconds: float = 0.0

    def __str__(self) -> str:
        took = f" ({self.seconds:.1f} s)" if self.seconds else ""
        return f"{self.stage}: {self.status}, {self.message}{took}"


# "warning" entries (the formula far less accurate than the network) also go out through
# warnings.warn at the top level, so their log line is INFO: one message, not two, on stderr
_LEVEL = {"ok": logging.INFO, "skipped": logging.INFO, "rejected": logging.INFO, "failed": logging.WARNING,
          "warning": logging.INFO}


class StageLog(list):
    """The entries of one discover call; each is also logged ("kanlab.discover"): at the top level
    outcomes at INFO and failures at WARNING; inside the recursion (``depth`` > 0) all at DEBUG
    except failures."""

    def __init__(self, depth: int = 0):
        super().__init__()
        self.depth = depth
        self._started = None

    def start(self) -> None:
        """A stage begins: later entries carry the seconds since (until the next start)."""
        self._started = time.perf_counter()

    def record(self, stage: str, status: str, message: str, seconds: float | None = None) -> LogEntry:
        if seconds is None:
            seconds = time.perf_counter() - self._started if self._started is not None else 0.0
        entry = LogEntry(stage, status, message, seconds)
        self.append(entry)
        level = _LEVEL.get(status, logging.INFO)
        if self.depth and level < logging.WARNING:
            level = logging.DEBUG
        logger.log(level, "%s%s", "  " * self.depth, entry)
        return entry

    def merge(self, entries, prefix: str) -> None:
        """Add a nested call's entries (already logged there) under ``prefix``."""
        self.extend(LogEntry(f"{prefix} > {e.stage}", e.status, e.message, e.seconds) for e in entries)


def make_candidate(formula, problem, pipeline: str, transform: str, log: StageLog, model=None,
                   numeric_rmse: float = math.nan, raw=None):
    """The candidate record of a pipeline's formula, or None (and a "rejected" log entry) when the
    formula is complex or not finite at some row of the data (training or held-out)."""
    for X, what in ((problem.Xtr, "training"), (problem.Xte, "held-out")):
        reason = not_real_reason(formula, problem.syms, X)
        if reason is not None:
            log.record(pipeline, "rejected", f"its formula has {reason} of the {what} data")
            return None
    val = rmse(formula, problem.syms, problem.Xte, problem.yte)
    return Candidate(formula, pipeline, transform, rmse(formula, problem.syms, problem.Xtr, problem.ytr), val, val,
                     complexity(formula), model, numeric_rmse, raw)


def is_exact(err: float, y_std: float) -> bool:
    return err <= EXACT_RTOL * y_std


def choose(cands, y_std: float) -> Candidate:
    """The candidate picked by the rule of the module docstring."""
    cands = [c for c in cands if math.isfinite(c.rmse)] or list(cands)
    exact = [c for c in cands if is_exact(c.rmse, y_std)]
    if exact:
        return min(exact, key=lambda c: (c.complexity, c.rmse))
    best = min(c.rmse for c in cands)
    near = [c for c in cands if c.rmse <= NEAR_FACTOR * best]
    return min(near, key=lambda c: (c.complexity, c.rmse))


class ParetoPoint(tuple):
    """A Pareto entry that unpacks as (complexity, held-out RMSE, formula) and carries
    ``.pipeline`` (also as ``.transform``, its older name): the pipeline it comes from."""

    def __new__(cls, complexity, err, formula, pipeline="identity"):
        obj = super().__new__(cls, (complexity, err, formula))
        obj.pipeline = obj.transform = pipeline
        return obj


def pareto_front(entries):
    """The Pareto front of (formula, held-out RMSE, pipeline) entries: by rising complexity,
    each point more accurate than every simpler one; entries with a non-finite error are left out."""
    front = []
    scored = [(complexity(e), err, e, p) for e, err, p in entries if math.isfinite(err)]
    for cx, err, e, p in sorted(scored, key=lambda t: (t[0], t[1])):
        if not front or err < front[-1][1]:
            front.append(ParetoPoint(cx, err, e, p))
    return front


def pareto_table(front, chosen=None, max_rows: int = 12) -> str:
    """Plain-text table of a Pareto front (complexity, held-out RMSE, pipeline, formula), the
    ``chosen`` formula marked with *; at most ``max_rows`` rows, the simplest first."""
    lines = ["  complexity  held-out RMSE  pipeline    formula"]
    for point in list(front)[:max_rows]:
        cx, err, expr = point
        pipeline = getattr(point, "pipeline", "")
        mark = "*" if chosen is not None and expr == chosen else " "
        lines.append(f"{mark} {cx:>10d}  {err:>13.4g}  {pipeline:<10}  {expr}")
    if len(front) > max_rows:
        lines.append(f"  ... {len(front) - max_rows} more")
    return "\n".join(lines)
