"""Shared job bodies for the function-fitting reproductions (toy, special, feynman).

``fit_kan`` trains a KAN through a grid schedule (grid extension by ``refine`` between stages,
LBFGS, the library's ``fit``), optionally sparsified and pruned; ``fit_mlp`` trains an MLP with the
same optimiser and the same total number of steps. Both return JSON-able dicts with the test RMSE
after every stage and the parameter count, so scaling plots can use every stage as a point.
"""
from __future__ import annotations

import math

import torch

from ..baselines import MLP, n_params
from ..datasets import create_dataset
from ..model import KAN
from ..training.loop import fit


def make_data(f, n_var, ranges, n_train, seed=0):
    return create_dataset(f, n_var=n_var, ranges=list(ranges), train_num=n_train, test_num=n_train,
                          seed=seed, dtype=torch.float64)


def _rmse(model, x, y):
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((model(x) - y) ** 2)))


def _finite(v):
    return v if v is not None and math.isfinite(v) else None


def fit_kan(ds, width, grids, steps, seed=0, lamb=0.0, prune=False, restarts=3):
    """Train a KAN through ``grids``; returns per-stage params / train / test RMSE and the best.

    The first grid is trained from ``restarts`` seeds (seed, seed+1, ...) and the one with the
    lowest training RMSE continues (a [2,1,1] KAN on exp(sin(pi x)+y^2) lands in a poor local
    minimum from about half of the seeds; the paper also ran 3 seeds). With ``prune`` that first
    stage is sparsified with ``lamb`` and the model pruned before grid extension.
    """
    torch.set_num_threads(1)
    model, best_train = None, float("inf")
    for s in range(seed, seed + max(1, restarts)):
        cand = KAN(width, grid=grids[0], k=3, seed=s, dtype=torch.float64)
        try:
            fit(cand, ds, steps=steps, lamb=lamb if prune else 0.0, progress=False, warn_out_of_range=1.0)
        except Exception:
            continue
        tr = _rmse(cand, ds["train_input"], ds["train_label"])
        if model is None or (math.isfinite(tr) and tr < best_train):
            model, best_train = cand, tr
    stages = []
    if prune and hasattr(model, "prune"):
        try:
            model = model.prune(x=ds["train_input"])
        except Exception as exc:  # pruning is best effort; an unpruned model still counts
            stages.append({"note": f"prune failed: {exc}"})
    for i, g in enumerate(grids):
        if i > 0:
            model = model.refine(g)
        if i > 0 or prune:
            try:
                fit(model, ds, steps=steps, progress=False, warn_out_of_range=1.0)
            except Exception as exc:  # a diverged stage ends the schedule; earlier stages count
                stages.append({"grid": g, "error": str(exc)})
                break
        stages.append({"grid": g, "params": n_params(model), "train": _finite(_rmse(model, ds["train_input"], ds["train_label"])),
                       "test": _finite(_rmse(model, ds["test_input"], ds["test_label"]))})
    good = [s for s in stages if s.get("test") is not None]
    best = min(good, key=lambda s: s["test"]) if good else {}
    return {"family": "KAN", "shape": list(model.width), "stages": stages,
            "params": best.get("params"), "test": best.get("test"), "grid": best.get("grid")}


def fit_mlp(ds, width, steps, activation="silu", seed=0):
    torch.set_num_threads(1)
    model = MLP(width, activation=activation, seed=seed, dtype=torch.float64)
    test = None
    try:
        fit(model, ds, steps=steps, update_grid=False, progress=False, warn_out_of_range=1.0)
        test = _finite(_rmse(model, ds["test_input"], ds["test_label"]))
    except Exception:
        pass
    return {"family": f"MLP-{activation}", "shape": list(width), "params": n_params(model), "test": test}


def slope(points):
    """Least-squares slope of log(test) against log(params) over (params, test) pairs."""
    pts = [(math.log(p), math.log(t)) for p, t in points if p and t and t > 0]
    if len(pts) < 2:
        return None
    mx = sum(p for p, _ in pts) / len(pts)
    my = sum(t for _, t in pts) / len(pts)
    den = sum((p - mx) ** 2 for p, _ in pts)
    return sum((p - mx) * (t - my) for p, t in pts) / den if den > 0 else None


def pareto(points):
    """(params, test) points on the lower-left frontier, sorted by params."""
    front, best = [], float("inf")
    for p, t in sorted(points):
        if t is not None and t < best:
            front.append((p, t))
            best = t
    return front
