"""Checks of the estimators' parameters (run in ``fit``, as scikit-learn's contract asks) and
the rules that turn the "automatic" settings into concrete ones: the hidden width for the data
size, the solver for the data size, the learning rate for the solver."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Settings", "resolve", "default_width", "choose_solver", "choose_estimators", "LBFGS_MAX_ROWS"]

LBFGS_MAX_ROWS = 10_000  # above this many training rows, Adam on minibatches (see choose_solver)
BASE_FUNS = ("identity", "silu", "tanh", "zero")


def default_width(n_rows: int, n_features: int) -> int:
    """The hidden width used when ``hidden=None``: grows slowly with the number of training rows
    (2 below ~250 rows, 4 at ~2,000, 8 at ~30,000, never above 16) and never above
    twice the number of features: small tables get a nearly additive model (each hidden node
    is one smooth function of one linear-plus-spline mix of the inputs), large ones room for
    interactions."""
    by_rows = int(round(math.log2(max(n_rows, 2)) - 6))
    return int(min(max(by_rows, 2), 16, max(2, 2 * n_features)))


def choose_solver(solver: str, n_rows: int) -> tuple[str, str]:
    """("lbfgs" or "adam", the reason)."""
    if solver != "auto":
        return solver, f"solver={solver!r} was requested"
    if n_rows <= LBFGS_MAX_ROWS:
        return "lbfgs", f"{n_rows} training rows <= {LBFGS_MAX_ROWS}: full-batch L-BFGS"
    return "adam", f"{n_rows} training rows > {LBFGS_MAX_ROWS}: Adam on minibatches"


AUTO_ESTIMATORS = 5  # n_estimators="auto": members when L-BFGS runs (small tables), 1 with Adam


def choose_estimators(n_estimators, solver: str) -> int:
    """The number of bagged networks: an int as given; "auto": 5 with L-BFGS, 1 with Adam."""
    if n_estimators != "auto":
        return n_estimators
    return AUTO_ESTIMATORS if solver == "lbfgs" else 1


def _int(name, v, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


def _num(name, v, lo, hi=math.inf, open_lo=False):
    ok = not isinstance(v, bool) and isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(v)
    if not ok or v < lo or v > hi or (open_lo and v == lo):
        raise ValueError(f"{name} must be a number in {'(' if open_lo else '['}{lo}, {hi}], got {v!r}")
    return float(v)


@dataclass(frozen=True)
class Settings:
    """The checked parameters; ``hidden`` is None (the width rule), "auto" or a tuple."""

    hidden: object
    grid: int
    k: int
    steps: int
    alpha: float
    lamb: float
    solver: str
    lr: float | None
    batch_size: int
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: int
    tol: float
    base_fun: str
    clip_inputs: bool
    n_estimators: object  # int or "auto"
    grid_schedule: tuple
    symbolic: bool
    seed: int


def _hidden(h):
    if h is None or (isinstance(h, str) and h == "auto"):
        return h
    if isinstance(h, (int, np.integer)) and not isinstance(h, bool):
        h = (h,)
    try:
        hidden = tuple(h)
    except TypeError:
        hidden = None
    if hidden is None or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in hidden):
        raise ValueError(f"hidden must be None (width from the data size), 'auto' (chosen on the validation split) "
                         f"or a tuple of positive ints like (5,), got {h!r}")
    return tuple(int(v) for v in hidden)


def _choice(name, v, options):
    if not isinstance(v, str) or v not in options:
        raise ValueError(f"{name} must be one of {options}, got {v!r}")
    return v


def resolve(est, default_alpha: float) -> Settings:
    """Check every parameter of estimator ``est``; a bad one is a ValueError naming it.
    ``alpha=None`` becomes ``default_alpha`` (the estimator's own)."""
    schedule = est.grid_schedule
    if schedule is not None:
        schedule = tuple(_int("every grid_schedule entry", g, 1) for g in np.atleast_1d(schedule))
    lr = None if est.lr is None else _num("lr", est.lr, 0.0, open_lo=True)
    for name in ("early_stopping", "clip_inputs", "symbolic"):
        if not isinstance(getattr(est, name), (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {getattr(est, name)!r}")
    return Settings(
        hidden=_hidden(est.hidden), grid=_int("grid", est.grid, 1), k=_int("k", est.k, 0),
        steps=_int("steps", est.steps, 0), alpha=default_alpha if est.alpha is None else _num("alpha", est.alpha, 0.0), lamb=_num("lamb", est.lamb, 0.0),
        solver=_choice("solver", est.solver, ("auto", "lbfgs", "adam")), lr=lr,
        batch_size=_int("batch_size", est.batch_size, 1), early_stopping=bool(est.early_stopping),
        validation_fraction=_num("validation_fraction", est.validation_fraction, 0.0, 0.5, open_lo=True),
        n_iter_no_change=_int("n_iter_no_change", est.n_iter_no_change, 1), tol=_num("tol", est.tol, 0.0),
        base_fun=_choice("base_fun", est.base_fun, BASE_FUNS), clip_inputs=bool(est.clip_inputs),
        n_estimators=est.n_estimators if isinstance(est.n_estimators, str) and est.n_estimators == "auto"
        else _int("n_estimators", est.n_estimators, 1), grid_schedule=schedule or (),
        symbolic=bool(est.symbolic), seed=_int("seed", est.seed, 0),
    )
