"""How one estimator fit trains its network(s): the validation split, one member's training
(early stopping, the smoothness penalty, the grid schedule), ``hidden="auto"`` and bagging.

Everything here works on the estimator's internal units: standardised (and clipped) inputs,
standardised regression targets or class indices.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..core.network import KANNetwork
from ..training.early_stopping import fit_validated
from ..training.regularization import Penalty
from ..training.smoothness import SmoothnessPenalty
from .params import Settings, choose_solver, default_width

__all__ = ["Plan", "split", "train_member", "choose_capacity", "MIN_VALIDATION_ROWS"]

MIN_VALIDATION_ROWS = 10  # fewer held-out rows than this: no early stopping (recorded in validation_)
AUTO_WIDTH_FACTORS = (0.5, 1.0, 2.0)  # hidden="auto": widths tried, relative to default_width
AUTO_GRIDS = (3, 6)  # hidden="auto": grids tried


@dataclass
class Plan:
    """The concrete choices of one fit (all reported on the fitted estimator)."""

    hidden: tuple
    grid: int
    solver: str
    solver_reason: str
    lr: float
    validation: str


def split(n: int, s: Settings, seed: int, codes=None):
    """(train rows, validation rows or None, the reason). ``codes``: class indices, for a
    stratified split when every class has at least two rows."""
    n_val = int(np.floor(n * s.validation_fraction))
    if not s.early_stopping:
        return np.arange(n), None, "early_stopping=False: trained on every row, no validation split"
    if n_val < MIN_VALIDATION_ROWS or n - n_val < 2:
        return np.arange(n), None, (f"{n} rows give {n_val} validation rows (< {MIN_VALIDATION_ROWS}): "
                                    "no early stopping, trained on every row for `steps` iterations")
    rng = np.random.default_rng(seed)
    if codes is not None and np.bincount(codes).min() >= 2 and n_val >= codes.max() + 1:
        from sklearn.model_selection import train_test_split

        tr, va = train_test_split(np.arange(n), test_size=n_val, random_state=int(rng.integers(2**31)), stratify=codes)
        return np.sort(tr), np.sort(va), f"{len(va)} stratified validation rows ({s.validation_fraction:.0%})"
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val]), f"{n_val} validation rows ({s.validation_fraction:.0%})"


def _penalty(model, s: Settings, x_train, n_rows):
    smooth = SmoothnessPenalty(model, s.alpha, n_rows)
    if s.lamb <= 0:
        return smooth
    sparsity = Penalty(model)
    return lambda: smooth() + s.lamb * sparsity(x_train)


def _steps(s: Settings) -> int:
    return max(s.steps, 1)


def train_member(x, y, val, n_out, loss_fn, s: Settings, plan: Plan, seed: int):
    """One network trained on (x, y), early-stopped on ``val`` = (x, y) or None; returns
    (network, histories: one per grid of the schedule)."""
    width = [x.shape[1], *plan.hidden, n_out]
    model = KANNetwork(width, grid=plan.grid, k=s.k, seed=seed, base_fun=s.base_fun, grid_eps=0.5,
                       dtype=x.dtype)
    hists = []
    for i, g in enumerate((plan.grid, *s.grid_schedule[1:]) if s.grid_schedule else (plan.grid,)):
        if i:
            model = model.refine(int(g))
        if s.steps == 0 or len(x) < 2:
            break
        hists.append(fit_validated(
            model, (x, y), val, loss_fn=loss_fn, penalty=_penalty(model, s, x, len(x)), solver=plan.solver,
            max_iter=_steps(s), lr=plan.lr, batch_size=s.batch_size, n_iter_no_change=s.n_iter_no_change,
            tol=s.tol, grid_update_iters=(0, 3, 10) if i == 0 else (), seed=seed))
    return model, hists


def make_plan(s: Settings, n_rows: int, n_train: int, n_features: int, validation: str) -> Plan:
    """The solver (by all ``n_rows``), its learning rate, the grid and the width (by ``n_train``)."""
    solver, reason = choose_solver(s.solver, n_rows)
    lr = s.lr if s.lr is not None else (1.0 if solver == "lbfgs" else 1e-2)
    grid = s.grid_schedule[0] if s.grid_schedule else s.grid
    hidden = s.hidden if isinstance(s.hidden, tuple) else (default_width(n_train, n_features),)
    return Plan(hidden, grid, solver, reason, lr, validation)


def choose_capacity(x, y, val, n_out, loss_fn, s: Settings, plan: Plan, seed: int, budget_s: float | None):
    """hidden="auto": widths AUTO_WIDTH_FACTORS x default width and grids AUTO_GRIDS, each trained
    once; the one with the lowest validation loss wins. Candidates are tried smallest first;
    once ``budget_s`` seconds have passed no new candidate starts. Returns (plan, trials)."""
    if val is None:
        raise ValueError("hidden='auto' chooses the width on the validation split: it needs early_stopping=True "
                         f"and at least {MIN_VALIDATION_ROWS} validation rows")
    base = plan.hidden[0]
    widths = sorted({max(1, int(round(base * f))) for f in AUTO_WIDTH_FACTORS})
    trials, start = [], time.perf_counter()
    for w in widths:
        for g in AUTO_GRIDS:
            if budget_s is not None and trials and time.perf_counter() - start > budget_s:
                break
            cand = Plan((w,), g, plan.solver, plan.solver_reason, plan.lr, plan.validation)
            model, hists = train_member(x, y, val, n_out, loss_fn, s, cand, seed)
            trials.append({"hidden": (w,), "grid": g, "val_loss": min(hists[-1]["val_loss"]) if hists else float("inf"),
                           "model": model, "history": hists})
    best = min(trials, key=lambda t: t["val_loss"])
    return Plan(best["hidden"], best["grid"], plan.solver, plan.solver_reason, plan.lr, plan.validation), trials
