"""discover: data -> trained, pruned, symbolified KAN -> a closed-form formula.

The pipeline (every step visible in the result, nothing normalised behind the user's back):
1. standardise y (the penalty is not scale-free; the formula gets mu + sigma * f, explicitly),
   train a KAN [n, 2n+1, 1] with the sparsity penalty; prune nodes, edges and inputs
   (thresholds tried from coarse to fine, then whole hidden nodes dropped greedily while a
   short retraining keeps the error small);
2. extend the grid and retrain (the numeric model: ``result.model_numeric_rmse``);
3. make the edges symbolic one by one, layer by layer: for each edge the best ``topk``
   candidates of the ranking are each tried with a short retraining of the whole model, and the
   one with the lowest validation error wins (a simpler one wins within a factor 1.5);
4. retrain the affine parameters, build the formula, distribute constants into the function
   arguments and snap each constant to a simple value (integer, small fraction, multiple of pi)
   whenever that does not raise the training error by more than ``snap_tol``;
5. report the formula's own test RMSE and R^2 (the formula, not the network, is evaluated),
   and a Pareto list of (complexity, test RMSE, formula) over rounding levels.
"""
from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy
import torch

from . import prune, train
from .formula import bounded_simplify, round_expr, symbolic_formula, to_callable
from .network import KANNetwork
from .symbolic_fit import active_numeric_edges, fix_symbolic, suggest_symbolic
from .validate import KanlabError, as_tensor, check_finite

__all__ = ["discover", "DiscoverResult"]


@dataclass
class DiscoverResult:
    formula: sympy.Expr
    test_rmse: float
    r2: float
    model: object
    pareto: list = field(default_factory=list)
    var_names: list = field(default_factory=list)
    model_numeric_rmse: float = float("nan")
    seconds: float = 0.0

    def __str__(self) -> str:
        return f"{self.formula}  (test RMSE {self.test_rmse:.3g}, R^2 {self.r2:.6f})"


def _prepare(X, y, var_names, test_size, seed):
    X = as_tensor(X, "X", dtype=torch.float64)
    y = as_tensor(y, "y", dtype=torch.float64)
    if X.dim() == 1:
        X = X[:, None]
    if y.dim() == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if X.dim() != 2 or y.dim() != 1 or X.shape[0] != y.shape[0]:
        raise KanlabError(f"X must be (N, n_features) and y (N,) with the same N; got {tuple(X.shape)} and {tuple(y.shape)}")
    if X.shape[0] < 20:
        raise KanlabError(f"discover needs at least 20 rows of data, got {X.shape[0]}")
    check_finite(X, "X")
    check_finite(y, "y")
    if float(y.std()) == 0.0:
        raise KanlabError("y is constant: there is no relation to discover")
    n = X.shape[1]
    names = list(var_names) if var_names is not None else [f"x_{i + 1}" for i in range(n)]
    if len(names) != n:
        raise KanlabError(f"var_names has {len(names)} names for {n} columns of X")
    perm = torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(seed))
    n_test = max(1, int(round(test_size * X.shape[0])))
    te, tr = perm[:n_test], perm[n_test:]
    ds = {"train_input": X[tr], "train_label": y[tr, None], "test_input": X[te], "test_label": y[te, None]}
    return ds, names


def _nice_values(v: float):
    """Simple numbers near v, simplest first."""
    out = [0.0] if abs(v) < 0.5 else []
    out.append(float(round(v)))
    fr = Fraction(v).limit_denominator(10)
    out.append(float(fr))
    if abs(v) > 0.3:
        k = Fraction(v / math.pi).limit_denominator(4)
        if k != 0:
            out.append(float(k) * math.pi)
    return out


def _to_sympy_number(v: float):
    if v == 0:
        return sympy.Integer(0)
    k = Fraction(v / math.pi).limit_denominator(4)
    if k != 0 and abs(float(k) * math.pi - v) < 1e-12:
        return sympy.Rational(k.numerator, k.denominator) * sympy.pi
    fr = Fraction(v).limit_denominator(10)
    if abs(float(fr) - v) < 1e-12:
        return sympy.Rational(fr.numerator, fr.denominator)
    return sympy.Float(v)


def _rmse(expr, syms, X, y):
    try:
        with np.errstate(all="ignore"):
            pred = to_callable(expr, syms)(X)
        r = float(np.sqrt(np.mean((pred - y) ** 2)))
    except Exception:  # noqa: BLE001 - a candidate formula that cannot be evaluated is just rejected
        return math.inf
    return r if math.isfinite(r) else math.inf


_SCALE_FREE = {"x", "x^2", "x^3", "x^4", "x^5", "1/x", "1/x^2", "sqrt", "1/sqrt", "abs", "sgn", "0"}


def _taylor_regime(cand, model, l, i, x) -> bool:
    """True when a transcendental candidate is only used over a tiny stretch of its argument
    (|a| * range(x) < 1): there it merely mimics a low-order polynomial, so prefer the polynomial."""
    if cand.name in _SCALE_FREE:
        return False
    with torch.no_grad():
        xi = model.layer_inputs(x)[l][:, i]
    return abs(cand.fit.a) * float(xi.max() - xi.min()) < 1.0


def _prune_search(model, ds, steps, levels=(1e-1, 3e-2, 1e-2)):
    """Prune at several node thresholds, retrain each briefly, keep the smallest model whose
    test error is within 3x of the best (or below 1% of std(y)), capped at 10% of std(y)."""
    xtr = ds["train_input"]
    found = []
    for th in levels:
        try:
            cand = prune.prune_input(prune.prune(model, node_th=th, edge_th=max(th, 3e-2), x=xtr), th=th, x=xtr)
        except ValueError:
            continue
        h = train.fit(cand, ds, steps=max(10, steps // 2), progress=False)
        size = sum(int((layer.mask > 0).sum()) for layer in cand.layers)
        found.append((h["test_loss"][-1], size, cand))
    if not found:
        return model
    best = min(f[0] for f in found)
    # standardised units: within 3x of the best pruned model or 1% of std(y), but never a
    # model that explains less than ~99% of the variance when the best one does better
    tol = max(3 * best, 1e-2)
    tol = min(tol, max(0.1, 1.5 * best))
    model = min((f for f in found if f[0] <= tol), key=lambda f: (f[1], f[0]))[2]
    # greedy: drop whole hidden nodes while a short retraining keeps the error within tol
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


def snap_constants(expr, syms, X, y, tol=1e-3):
    """Distribute constants into function arguments and replace each float by a simple value
    when the training RMSE stays within (1 + tol) of the start (plus 1e-9 * std(y))."""
    expr = sympy.expand(expr, power_exp=True, log=False, multinomial=False, deep=True)
    base = _rmse(expr, syms, X, y)
    limit = base * (1 + tol) + 1e-9 * float(np.std(y))
    for f in sorted(expr.atoms(sympy.Float), key=lambda a: -abs(float(a))):
        if f not in expr.atoms(sympy.Float):
            continue
        for v in _nice_values(float(f)):
            trial = expr.xreplace({f: _to_sympy_number(v)})
            if _rmse(trial, syms, X, y) <= limit:
                expr = trial
                break
    expr = _simplify(expr)
    exact = {f: _to_sympy_number(float(f)) for f in expr.atoms(sympy.Float)}
    return _simplify(expr.xreplace({f: v for f, v in exact.items() if not isinstance(v, sympy.Float)}))


def _simplify(expr, max_ops: int = 80):
    """sympy.simplify bounded in size and time (see formula.bounded_simplify)."""
    return bounded_simplify(expr, seconds=5.0, max_ops=max_ops)


def _complexity(expr) -> int:
    return int(sympy.count_ops(expr, visual=False)) + len(expr.atoms(sympy.Symbol))


def discover(X, y, var_names=None, seed: int = 0, hidden=None, grids=(5, 10, 20), sparse_steps: int = 100,
             steps: int = 50, lamb: float = 1e-2, lamb_entropy: float = 10.0, lib=None, topk: int = 3,
             test_size: float = 0.2, snap_tol: float = 1e-3, verbose: bool = False,
             model_cls=None) -> DiscoverResult:
    """Find a closed-form formula y = f(X). See the module docstring for the pipeline.
    ``model_cls``: the network class to build (``kanlab.discover`` passes the ``KAN`` facade)."""
    model_cls = model_cls or KANNetwork
    t0 = time.perf_counter()
    ds, names = _prepare(X, y, var_names, test_size, seed)
    # the sparsity penalty is not scale-free: train on standardised y, and put the scale back
    # into the formula explicitly (y = mu + sigma * f), where the user sees it
    mu, sigma = float(ds["train_label"].mean()), float(ds["train_label"].std())
    raw_ds = ds
    ds = {k: ((v - mu) / sigma if k.endswith("label") else v) for k, v in ds.items()}
    n = ds["train_input"].shape[1]
    hidden = hidden if hidden is not None else 2 * n + 1
    say = print if verbose else (lambda *a, **k: None)
    xtr = ds["train_input"]
    model = model_cls([n, hidden, 1], grid=grids[0], k=3, seed=seed, dtype=torch.float64)
    train.fit(model, ds, steps=sparse_steps, lamb=lamb, lamb_entropy=lamb_entropy, progress=False)
    model = _prune_search(model, ds, steps)
    say(f"pruned to {model.width}, inputs {[names[i] for i in model.input_ids]}")
    for i, g in enumerate(grids):
        if i:
            model = model.refine(g)
        h = train.fit(model, ds, steps=steps, progress=False)
    numeric_rmse = h["test_loss"][-1] * sigma
    say(f"numeric model test RMSE {numeric_rmse:.3g}")

    # symbolic edges, layer by layer, trying the best few candidates per edge
    for l, i, j in active_numeric_edges(model):
        if model.layers[l].mask[i, j] == 0:
            continue
        cands = suggest_symbolic(model, l, i, j, xtr, topk=topk, lib=lib)
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
        say(f"edge ({l},{i},{j}) -> {name} (test RMSE {err * sigma:.3g}; tried {[t[2] for t in trials]})")
    train.fit(model, ds, steps=steps, progress=False)

    syms = [sympy.Symbol(v) for v in names]
    raw = mu + sigma * symbolic_formula(model, var_names=names, simplify=False)[0]
    Xtr, ytr = raw_ds["train_input"].numpy(), raw_ds["train_label"][:, 0].numpy()
    Xte, yte = raw_ds["test_input"].numpy(), raw_ds["test_label"][:, 0].numpy()
    formula = snap_constants(raw, syms, Xtr, ytr, tol=snap_tol)
    test_rmse = _rmse(formula, syms, Xte, yte)
    r2 = 1.0 - test_rmse ** 2 / float(np.var(yte)) if math.isfinite(test_rmse) else -math.inf
    entries = [(formula, test_rmse)]
    for d in (1, 2, 3, 4, 6):
        e = _simplify(round_expr(raw, d))
        entries.append((e, _rmse(e, syms, Xte, yte)))
    pareto = []
    for e, err in sorted(entries, key=lambda t: (_complexity(t[0]), t[1])):
        if not pareto or err < pareto[-1][1]:
            pareto.append((_complexity(e), err, e))
    say(f"formula: {formula}  (test RMSE {test_rmse:.3g})")
    if not test_rmse <= 10 * numeric_rmse + 1e-12 * sigma:
        warnings.warn(f"the symbolic formula's test RMSE ({test_rmse:.3g}) is far above the numeric KAN's "
                      f"({numeric_rmse:.3g}): no formula of the library fits every edge well. result.model holds "
                      "the accurate numeric model; result.pareto lists the alternatives", UserWarning, stacklevel=3)
    return DiscoverResult(formula, test_rmse, r2, model, pareto, names, numeric_rmse, time.perf_counter() - t0)
