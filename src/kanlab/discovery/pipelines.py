"""discover's candidate pipelines. Each is a function ``(StageContext) -> Candidate | None``: it
returns a :class:`~kanlab.discovery.candidates.Candidate` (its formula's constants snapped by the
one recipe, :func:`kanlab.symbolic.snap.snap_formula`), or None after recording in the log why
it has none (not applicable, declined, rejected). Registered by name in ``PIPELINES``.

  identity   the KAN stage (:mod:`kanlab.discovery.kan_stage`) on y;
  log        the KAN stage on log|y| when y has one sign; the formula is y = sign * exp(g),
             written out (:mod:`kanlab.discovery.transforms`), its constants snapped in y's units
             (the errors the snap rule weighs are then the data's own, not their logs');
  separable  a dense KAN (no sparsity, no pruning) serves as an oracle for f; additive, product
             and rank-2 splits of the variables (and of 1/f, f^2, log|f|, sin f, tan f) are
             tested on it and the pieces solved recursively (:mod:`kanlab.discovery.separable`);
             a pair of variables that enters only through x_i - x_j, x_i + x_j, x_i x_j or
             x_i / x_j (:mod:`kanlab.structure.symmetry`) is replaced by that combination: in a
             piece, on the oracle; in f itself, on the data, and discover runs afresh on the
             reduced data with the same config (``StageContext.rediscover``); the combined
             formula's constants are refitted on the data, then snapped; skipped when the
             oracle's held-out error exceeds ORACLE_MAX_RTOL (10%) of std(y): on data that
             noisy every split passes the tests' tolerance.

To add a pipeline: write ``def my_pipeline(ctx) -> Candidate | None`` here, add it to
``PIPELINES`` and its name to :data:`kanlab.discovery.config.PIPELINES`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import sympy
import torch

from ..symbolic.snap import snap_formula
from ..structure import symmetry
from .candidates import DiscoverError, StageLog, make_candidate
from .config import DiscoverConfig
from .data import Problem
from .kan_stage import dense_oracle, kan_formula
from .separable import separable_formula
from .transforms import from_log, log_target

__all__ = ["StageContext", "PIPELINES", "ORACLE_MAX_RTOL", "identity_pipeline", "log_pipeline", "separable_pipeline"]

logger = logging.getLogger("kanlab.discover")

#: the separable pipeline is skipped when its oracle's held-out RMSE exceeds this fraction of std(y)
ORACLE_MAX_RTOL = 0.1


@dataclass
class StageContext:
    """What a pipeline works with: the data, the settings, the log, the recursion depth and
    ``rediscover(X, y, names)``: discover with the same settings on other data (a DiscoverResult;
    raises DiscoverError when nothing is found); ``deadline``: the time.perf_counter() value after
    which no new pipeline starts (None: no time budget)."""

    problem: Problem
    cfg: DiscoverConfig
    log: StageLog
    depth: int
    rediscover: Callable
    deadline: float | None = None

    def out_of_time(self) -> bool:
        """Whether the call's time budget is spent (never, without one)."""
        return self.deadline is not None and time.perf_counter() >= self.deadline


def identity_pipeline(ctx: StageContext):
    """The KAN stage on y; its raw formula's rounding levels also go to the Pareto list."""
    p = ctx.problem
    fit = kan_formula(p.ds, p.names, ctx.cfg)
    formula = snap_formula(fit.raw, p.syms, p.Xtr, p.ytr, tol=ctx.cfg.snap_tol)
    return make_candidate(formula, p, "identity", "identity", ctx.log, model=fit.model,
                          numeric_rmse=fit.numeric_rmse, raw=fit.raw)


def log_pipeline(ctx: StageContext):
    """The KAN stage on log|y| (skipped when y changes sign); y = sign * exp(g), snapped in y's units."""
    p = ctx.problem
    lt, lte = log_target(p.ytr), log_target(p.yte)
    if lt is None or lte is None or lt[0] != lte[0]:
        ctx.log.record("log", "skipped", "y changes sign or touches zero")
        return None
    sign = lt[0]
    lds = dict(p.ds, train_label=torch.from_numpy(lt[1])[:, None], test_label=torch.from_numpy(lte[1])[:, None])
    fit = kan_formula(lds, p.names, ctx.cfg)
    logger.debug("log pipeline: log|y| = %s", fit.raw)
    formula = snap_formula(from_log(fit.raw, sign), p.syms, p.Xtr, p.ytr, tol=ctx.cfg.snap_tol)
    return make_candidate(formula, p, "log", "log", ctx.log, model=fit.model)


def separable_pipeline(ctx: StageContext):
    """Splits of f tested on a dense oracle KAN; the rebuilt formula refitted on the data, snapped."""
    p, cfg = ctx.problem, ctx.cfg
    lo, hi = p.Xtr.min(axis=0), p.Xtr.max(axis=0)
    oracle, model, oracle_rmse = dense_oracle(p.ds, cfg)
    logger.debug("separable: oracle KAN held-out RMSE %.3g", oracle_rmse)
    if oracle_rmse > ORACLE_MAX_RTOL * p.y_std:
        # noisy data: with a tolerance this wide every split "passes" (a function of one variable,
        # or a constant, is within it), so the structural tests say nothing
        ctx.log.record("separable", "skipped", f"the oracle's error is {oracle_rmse / p.y_std:.0%} of std(y) "
                       f"(above {ORACLE_MAX_RTOL:.0%}: too noisy for the split tests)")
        return None

    def fallback(X, y, names):
        """A KAN formula for a piece that does not split, fitted on oracle samples."""
        n_te = len(y) // 5
        t = torch.as_tensor
        d = {"train_input": t(X[n_te:]), "train_label": t(y[n_te:])[:, None],
             "test_input": t(X[:n_te]), "test_label": t(y[:n_te])[:, None]}
        return kan_formula(d, names, cfg).raw

    errors = []

    def on_error(e):
        errors.append(e)
        ctx.log.record("separable", "failed", f"the split search stopped: {type(e).__name__}: {e}")

    tol = 3 * oracle_rmse + 1e-9 * p.y_std
    expr = separable_formula(oracle, lo, hi, range(p.Xtr.shape[1]), tol, p.syms, fallback, lib=cfg.lib,
                             seed=cfg.seed, root_symmetry=lambda *found: _solve_reduced(ctx, *found),
                             on_error=on_error)
    if expr is None:
        if not errors:
            ctx.log.record("separable", "skipped", "no additive, product or rank-2 split")
        return None
    logger.debug("separable pieces: %s", expr)
    expr = snap_formula(expr, p.syms, p.Xtr, p.ytr, tol=cfg.snap_tol, refit=True)
    return make_candidate(expr, p, "separable", "identity", ctx.log, model=model, numeric_rmse=oracle_rmse)


def _solve_reduced(ctx: StageContext, kind: str, i: int, j: int):
    """The formula found afresh (all pipelines, a new oracle) on the data with x_i, x_j replaced
    by their combination u: the same rows, so the same held-out split. None (recorded) when the
    nested discover finds nothing."""
    p = ctx.problem
    if ctx.out_of_time():
        ctx.log.record("separable", "skipped", f"solving for {p.names[i]}, {p.names[j]} combined: the time budget "
                       "is spent")
        return None
    keep = [k for k in range(len(p.names)) if k not in (i, j)]
    Xr = torch.cat([p.X[:, keep], symmetry.combine(kind, p.X[:, i], p.X[:, j])[:, None]], dim=1)
    u, combo = f"_u{len(p.names)}", symmetry.combine(kind, p.syms[i], p.syms[j])
    logger.debug("symmetry: f depends on %s, %s only through %s; solving for it afresh", p.names[i], p.names[j], combo)
    prefix = f"separable > {combo}"
    try:
        res = ctx.rediscover(Xr, p.y, [p.names[k] for k in keep] + [u])
    except DiscoverError as e:
        ctx.log.merge(e.log, prefix)
        ctx.log.record(prefix, "failed", str(e))
        return None
    ctx.log.merge(res.log, prefix)
    return res.formula.xreplace({sympy.Symbol(u): combo})


#: the pipelines by name (the order they run in is ``DiscoverConfig.transforms``)
PIPELINES = {"separable": separable_pipeline, "identity": identity_pipeline, "log": log_pipeline}
