"""discover: data -> a closed-form formula, as one pipeline of stages.

  settings   discover's keyword arguments become one validated, frozen
             :class:`~kanlab.discovery.config.DiscoverConfig`;
  data       X, y checked and split once into training and held-out rows
             (:func:`~kanlab.discovery.data.prepare`); the held-out rows guide pruning and edge
             choices inside the pipelines and are the rows ``result.test_rmse`` is measured on;
  pipelines  the candidate pipelines of ``transforms`` (default: separable, identity, log; see
             :mod:`kanlab.discovery.pipelines`) run in that order until one formula is
             essentially exact (held-out RMSE <= 1e-7 std(y)); each returns one
             :class:`~kanlab.discovery.candidates.Candidate` record or none; its constants are
             snapped by the one recipe (:func:`kanlab.symbolic.snap.snap_formula`); a formula
             that is complex or not finite on the data is rejected; a pipeline that fails with
             an expected numerical error is recorded (``result.log``) and the others go on;
  choice     the rule of :mod:`kanlab.discovery.candidates` (essentially exact first, else the
             simplest within 1.5x of the lowest held-out error); ``result.transform`` names the
             winning pipeline;
  result     the formula, its own held-out RMSE and R^2 (the formula, not the network, is
             evaluated), ``pareto`` (complexity vs held-out RMSE over the candidates and the
             rounding levels of the KAN's formula; ``pareto_table()`` prints it), ``noise_bound``
             (the best numeric KAN's held-out RMSE: an upper bound of the noise), ``candidates``,
             ``log``.

Noise. Nothing is told the noise level; the steps that must tell signal from noise take it from
the data: the snap rule weighs a snapped constant against the training MSE (the information
criterion's price, :mod:`kanlab.symbolic.snap_search`: on noisy data the MSE is the noise's),
the separable pipeline's split tests use a tolerance of three times its oracle's held-out RMSE,
and the choice accepts the simplest candidate within 1.5x of the lowest held-out error.

Budget. ``max_rows`` (default 20,000) bounds the rows used (a seeded sample, logged);
``time_budget`` seconds bounds the call between stages (pipelines not started by then are
skipped, including the separable pipeline's reduced problems).

Every stage outcome goes to ``logging.getLogger("kanlab.discover")``: stage progress at INFO,
details (pruned shapes, edge choices, intermediate formulas) at DEBUG, failures at WARNING;
``verbose=True`` shows all of it on stderr for one call.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import sympy
import torch

from ..symbolic.expression import rmse
from ..symbolic.snap import rounded_variants
from .candidates import DiscoverError, StageLog, choose, is_exact, pareto_front, pareto_table
from .config import DiscoverConfig
from .data import prepare
from .pipelines import ORACLE_MAX_RTOL, PIPELINES, StageContext

__all__ = ["discover", "discover_with", "DiscoverResult", "DiscoverConfig", "DiscoverError", "ORACLE_MAX_RTOL",
           "STAGE_ERRORS"]

logger = logging.getLogger("kanlab.discover")

#: the failures of a pipeline that are expected on some data (a numerical breakdown, a fit or a
#: prune that cannot proceed): recorded in ``result.log``, and the other pipelines go on
STAGE_ERRORS = (ValueError, ArithmeticError, torch.linalg.LinAlgError)


@dataclass
class DiscoverResult:
    """formula (sympy, y's units), test_rmse and r2 (of the formula on the held-out rows), model
    (the winning pipeline's network), pareto (ParetoPoint: complexity, held-out RMSE, formula),
    var_names, model_numeric_rmse (the best numeric KAN's held-out RMSE), seconds, transform
    (the winning pipeline's name; also ``.pipeline``), candidates (every pipeline's Candidate),
    log (LogEntry: stage, status, message, seconds)."""

    formula: sympy.Expr
    test_rmse: float
    r2: float
    model: object
    pareto: list = field(default_factory=list)
    var_names: list = field(default_factory=list)
    model_numeric_rmse: float = float("nan")
    seconds: float = 0.0
    transform: str = "identity"
    candidates: list = field(default_factory=list)
    log: list = field(default_factory=list)

    @property
    def pipeline(self) -> str:
        return self.transform

    @property
    def noise_bound(self) -> float:
        """An upper bound of the noise in y (its RMSE): the best numeric KAN's held-out RMSE,
        which is the noise plus the network's own approximation error."""
        return self.model_numeric_rmse

    def pareto_table(self, max_rows: int = 12) -> str:
        """The Pareto front as a plain-text table (complexity, held-out RMSE, pipeline, formula;
        the returned formula marked with *), at most ``max_rows`` rows (the simplest ones)."""
        return pareto_table(self.pareto, self.formula, max_rows)

    def __str__(self) -> str:
        return f"{self.formula}  (test RMSE {self.test_rmse:.3g}, R^2 {self.r2:.6f})"


def discover(X, y, var_names=None, seed: int = 0, hidden=None, grids=(5, 10, 20), sparse_steps: int = 100,
             steps: int = 50, lamb: float = 1e-2, lamb_entropy: float = 10.0, lib=None, topk: int = 3,
             test_size: float = 0.2, snap_tol=None, verbose: bool = False,
             model_cls=None, transforms=("separable", "identity", "log"), time_budget=None,
             max_rows: int = 20_000) -> DiscoverResult:
    """Find a closed-form formula y = f(X). See the module docstring for the pipeline and
    :class:`~kanlab.discovery.config.DiscoverConfig` for the settings. ``transforms``: the
    candidate pipelines, tried in this order until one gives an essentially exact formula:
    "separable" (a dense numeric KAN used as an oracle for additive / product / rank-2
    separability, recursively), "identity" (a KAN on y), "log" (a KAN on log|y|, when y has one
    sign; the formula is y = sign * exp(g)). ``verbose``: every stage's details on stderr.
    ``time_budget``: seconds (None: unbounded; pipelines not started when it is spent are
    skipped). ``max_rows``: larger tables are subsampled to this many rows (logged).
    Raises DiscoverError (a ValueError) when no pipeline gives a formula."""
    cfg = DiscoverConfig(seed=seed, hidden=hidden, grids=grids, sparse_steps=sparse_steps, steps=steps, lamb=lamb,
                         lamb_entropy=lamb_entropy, lib=lib, topk=topk, test_size=test_size, snap_tol=snap_tol,
                         verbose=verbose, model_cls=model_cls, transforms=transforms, time_budget=time_budget,
                         max_rows=max_rows)
    with _verbose_logging(cfg.verbose):
        res = discover_with(X, y, var_names, cfg)
    for entry in res.log:
        if entry.stage == "result" and entry.status == "warning":
            warnings.warn(entry.message, UserWarning, stacklevel=3)
    return res


def discover_with(X, y, var_names, cfg: DiscoverConfig, depth: int = 0, deadline: float | None = None
                  ) -> DiscoverResult:
    """discover with its settings as one config object; ``depth``: the recursion level (the
    separable pipeline's reduced problems run at depth + 1, their progress logged at DEBUG);
    ``deadline``: the time.perf_counter() value after which no new pipeline starts (the top
    level sets it from ``cfg.time_budget``; the recursion shares it)."""
    t0 = time.perf_counter()
    if deadline is None and cfg.time_budget is not None:
        deadline = t0 + cfg.time_budget
    problem = prepare(X, y, var_names, cfg.test_size, cfg.seed, cfg.max_rows)
    log = StageLog(depth)
    if problem.subsampled_from is not None:
        log.record("data", "ok", f"using a seeded sample of {cfg.max_rows} of the {problem.subsampled_from} rows "
                   "(max_rows)", seconds=0.0)
    ctx = StageContext(problem, cfg, log, depth,
                       functools.partial(_rediscover, cfg=cfg, depth=depth + 1, deadline=deadline), deadline)
    cands = _run_pipelines(ctx)
    if not cands:
        raise DiscoverError("no pipeline gave a formula: " + "; ".join(str(e) for e in log if "> " not in e.stage),
                            log)
    return _result(cands, ctx, time.perf_counter() - t0)


def _rediscover(X, y, names, cfg, depth, deadline):
    return discover_with(X, y, names, cfg, depth, deadline)


def _run_pipelines(ctx: StageContext) -> list:
    """The pipelines of ``transforms`` in order, until one formula is essentially exact or the
    time budget is spent; the identity pipeline as well when none of them gave a formula."""
    cands = []
    for name in ctx.cfg.transforms:
        if any(is_exact(c.rmse, ctx.problem.y_std) for c in cands):
            ctx.log.record(name, "skipped", "an essentially exact formula was found already", seconds=0.0)
            continue
        if cands and ctx.out_of_time():
            ctx.log.record(name, "skipped", f"the time budget ({ctx.cfg.time_budget:g} s) is spent", seconds=0.0)
            continue
        _run_stage(name, ctx, cands)
    if not cands and "identity" not in ctx.cfg.transforms:
        logger.debug("none of the requested pipelines gave a formula: running the identity pipeline")
        _run_stage("identity", ctx, cands)
    return cands


def _run_stage(name: str, ctx: StageContext, cands: list) -> None:
    """One pipeline: its candidate appended to ``cands``; its outcome or failure in the log."""
    ctx.log.start()
    try:
        cand = PIPELINES[name](ctx)
    except STAGE_ERRORS as e:
        ctx.log.record(name, "failed", f"{type(e).__name__}: {e}")
        logger.debug("%s pipeline failed", name, exc_info=True)
        return
    if cand is not None:
        cands.append(cand)
        ctx.log.record(name, "ok", f"held-out RMSE {cand.val_rmse:.3g}, complexity {cand.complexity}")
        logger.debug("[%s] %s  (held-out RMSE %.3g)", name, cand.formula, cand.val_rmse)


def _result(cands, ctx: StageContext, seconds: float) -> DiscoverResult:
    p = ctx.problem
    best = choose(cands, p.y_std)
    formula, test_rmse = best.formula, best.test_rmse
    numeric_rmse = min((c.numeric_rmse for c in cands if math.isfinite(c.numeric_rmse)), default=float("nan"))
    r2 = 1.0 - test_rmse ** 2 / float(np.var(p.yte)) if math.isfinite(test_rmse) else -math.inf
    entries = [(c.formula, c.rmse, c.pipeline) for c in cands]
    for c in cands:
        if c.raw is not None:
            entries += [(e, rmse(e, p.syms, p.Xte, p.yte), c.pipeline) for e in rounded_variants(c.raw)]
    logger.debug("formula (%s): %s  (held-out RMSE %.3g)", best.pipeline, formula, test_rmse)
    if math.isfinite(numeric_rmse) and not test_rmse <= 10 * numeric_rmse + 1e-12 * p.y_std:
        ctx.log.record("result", "warning", f"the symbolic formula's test RMSE ({test_rmse:.3g}) is far above the "
                       f"numeric KAN's ({numeric_rmse:.3g}): no formula of the library fits every edge well. "
                       "result.model holds the accurate numeric model; result.pareto lists the alternatives",
                       seconds=0.0)
    return DiscoverResult(formula, test_rmse, r2, best.model, pareto_front(entries), p.names, numeric_rmse,
                          seconds, best.pipeline, list(cands), list(ctx.log))


@contextlib.contextmanager
def _verbose_logging(on: bool):
    """With ``on``: the "kanlab" logger's records (DEBUG and up) also go to stderr for the call."""
    if not on:
        yield
        return
    root = logging.getLogger("kanlab")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("kanlab: %(message)s"))
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
