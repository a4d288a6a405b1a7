"""The KAN stage of discover: data -> trained, pruned, symbolified KAN -> a raw formula.

1. standardise y (the penalty is not scale-free; the formula gets mu + sigma * f, explicitly),
   train a KAN [n, hidden, 1] with the sparsity penalty; prune nodes, edges and inputs
   (:func:`prune_search`: thresholds tried from coarse to fine, then whole hidden nodes dropped
   greedily while a short retraining keeps the error small);
2. extend the grid and retrain (the numeric model);
3. make the edges symbolic one by one, layer by layer (:func:`symbolify_edges`): for each edge the
   best ``topk`` candidates of the ranking are each tried with a short retraining of the whole
   model, and the simplest within 3x of the lowest held-out error wins;
4. retrain the affine parameters and build the formula (float constants; snapping is the
   pipeline's, :func:`kanlab.symbolic.snap.snap_formula`).

Also the separable pipeline's oracle: a dense KAN without penalty or pruning
(:func:`dense_oracle`).
"""
from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass

import sympy
import torch

from ..interpret import prune
from ..symbolic.fix_edges import active_numeric_edges, fix_symbolic, suggest_symbolic
from ..symbolic.formula import symbolic_formula
from ..symbolic.rank import SCALE_FREE, tiny_stretch
from ..training import loop as train
from .data import standardised

__all__ = ["KanFit", "kan_formula", "prune_search", "symbolify_edges", "dense_oracle"]

logger = logging.getLogger("kanlab.discover")


@dataclass
class KanFit:
    """The KAN stage's answer on one target: ``raw`` = mu + sigma * f(x) with float constants
    (in the target's units), the symbolic model, and the numeric model's held-out RMSE (target units)."""

    raw: sympy.Expr
    model: object
    numeric_rmse: float
    mu: float
    sigma: float


def _taylor_regime(cand, model, l, i, x) -> bool:
    """True when a transcendental candidate is only used over a tiny stretch of its argument
    (:func:`kanlab.symbolic.rank.tiny_stretch`): there it merely mimics a low-order polynomial."""
    if cand.name in SCALE_FREE:
        return False
    with torch.no_grad():
        xi = model.layer_inputs(x)[l][:, i]
    return tiny_stretch(cand.name, cand.fit.a, float(xi.max() - xi.min()))


def _size(model) -> int:
    return sum(int((layer.mask > 0).sum()) for layer in model.layers)


def prune_search(model, ds, steps, levels=(1e-1, 3e-2, 1e-2)):
    """Prune at several node thresholds, retrain each briefly, keep the smallest model whose
    held-out error is within 3x of the best (or below 1% of std(y)), capped at 10% of std(y);
    then drop whole hidden nodes greedily while a short retraining keeps the error within that
    bound. ``ds``: standardised labels. Returns ``model`` itself when no threshold prunes."""
    xtr = ds["train_input"]
    found = []
    for th in levels:
        try:
            cand = prune.prune_input(prune.prune(model, node_th=th, edge_th=max(th, 3e-2), x=xtr), th=th, x=xtr)
        except ValueError:  # nothing would be left at this threshold
            continue
        h = train.fit(cand, ds, steps=max(10, steps // 2), progress=False)
        found.append((h["test_loss"][-1], _size(cand), cand))
    if not found:
        return model
    best = min(f[0] for f in found)
    # standardised units: within 3x of the best pruned model or 1% of std(y), but never a
    # model that explains less than ~99% of the variance when the best one does better
    tol = max(3 * best, 1e-2)
    tol = min(tol, max(0.1, 1.5 * best))
    model = min((f for f in found if f[0] <= tol), key=lambda f: (f[1], f[0]))[2]
    return _drop_nodes(model, ds, steps, tol)


def _drop_nodes(model, ds, steps, tol):
    """Greedy: drop the hidden node whose removal (and a short retraining) keeps the held-out
    error lowest, while that error stays within tol."""
    xtr = ds["train_input"]
    while True:
        trials = []
        for l in range(1, len(model.layers)):
            for j in range(model.width[l] if model.width[l] > 1 else 0):
                cand = prune.remove_node(model, l, j, x=xtr)
                h = train.fit(cand, ds, steps=max(10, steps // 2), progress=False)
                trials.append((h["test_loss"][-1], cand))
        good = [t for t in trials if t[0] <= tol]
        if not good:
            return model
        model = min(good, key=lambda t: t[0])[1]


def symbolify_edges(model, ds, cfg, sigma: float = 1.0):
    """Every live numeric edge made symbolic, layer by layer: the best ``cfg.topk`` candidates of
    the ranking each tried with a short retraining of the whole model; the simplest within 3x of
    the lowest held-out error wins (a transcendental function over a tiny stretch of its
    argument counts 2 more). Returns the new model."""
    xtr = ds["train_input"]
    for l, i, j in active_numeric_edges(model):
        if model.layers[l].mask[i, j] == 0:
            continue
        cands = suggest_symbolic(model, l, i, j, xtr, topk=cfg.topk, lib=cfg.lib)
        trials = []
        for c in cands:
            trial = copy.deepcopy(model)
            fix_symbolic(trial, l, i, j, c.name, fit_params=False, params=c.fit.params)
            hist = train.fit(trial, ds, steps=10, grid_update_num=2, stop_grid_update_step=10, progress=False)
            err = hist["test_loss"][-1] if hist["test_loss"] else math.inf
            cx = c.complexity + (2 if _taylor_regime(c, trial, l, i, xtr) else 0)
            trials.append((err if math.isfinite(err) else math.inf, cx, c.name, trial))
        if not trials:
            continue
        best_err = min(t[0] for t in trials)
        ok = [t for t in trials if t[0] <= 3 * best_err + 1e-12]
        err, _, name, model = min(ok, key=lambda t: (t[1], t[0]))
        logger.debug("edge (%d,%d,%d) -> %s (held-out RMSE %.3g; tried %s)", l, i, j, name, err * sigma,
                     [t[2] for t in trials])
    return model


def kan_formula(ds, names, cfg) -> KanFit:
    """Steps 1-4 of the module docstring on the target in ``ds`` (train / test labels)."""
    # the sparsity penalty is not scale-free: train on standardised y, and put the scale back
    # into the formula explicitly (y = mu + sigma * f), where the user sees it
    ds, mu, sigma = standardised(ds)
    n = ds["train_input"].shape[1]
    hidden = cfg.hidden if cfg.hidden is not None else 2 * n + 1
    model = cfg.model_cls([n, hidden, 1], grid=cfg.grids[0], k=3, seed=cfg.seed, dtype=torch.float64)
    train.fit(model, ds, steps=cfg.sparse_steps, lamb=cfg.lamb, lamb_entropy=cfg.lamb_entropy, progress=False)
    model = prune_search(model, ds, cfg.steps)
    logger.debug("pruned to %s, inputs %s", model.width, [names[i] for i in model.input_ids])
    for i, g in enumerate(cfg.grids):
        if i:
            model = model.refine(g)
        h = train.fit(model, ds, steps=cfg.steps, progress=False)
    numeric_rmse = h["test_loss"][-1] * sigma
    logger.debug("numeric model held-out RMSE %.3g", numeric_rmse)
    model = symbolify_edges(model, ds, cfg, sigma)
    train.fit(model, ds, steps=cfg.steps, progress=False)
    raw = mu + sigma * symbolic_formula(model, var_names=names, simplify=False)[0]
    return KanFit(raw, model, numeric_rmse, mu, sigma)


def dense_oracle(ds, cfg):
    """A KAN [n, 2n+1, 1] trained without sparsity penalty or pruning on standardised y: the
    most accurate numeric stand-in for f. Returns (callable (N, n) array -> (N,) y values,
    the model, its held-out RMSE in y units)."""
    sds, mu, sigma = standardised(ds)
    n = ds["train_input"].shape[1]
    model = cfg.model_cls([n, 2 * n + 1, 1], grid=cfg.grids[0], k=3, seed=cfg.seed, dtype=torch.float64)
    for i, g in enumerate(cfg.grids):
        if i:
            model = model.refine(g)
        h = train.fit(model, sds, steps=cfg.steps, progress=False)

    def oracle(X):
        with torch.no_grad():
            return mu + sigma * model(torch.as_tensor(X, dtype=torch.float64))[:, 0].numpy()
    return oracle, model, h["test_loss"][-1] * sigma
