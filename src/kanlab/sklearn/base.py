"""The estimator base shared by KANRegressor and KANClassifier: parameters, input scaling and
clipping, the fit procedure, prediction in chunks, and the interpretation methods."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from ..symbolic.formula import to_latex
from ..training.early_stopping import predict_chunked
from . import fitting, interpret, symbolic
from .params import choose_estimators, choose_solver, resolve

__all__ = ["KANEstimator"]

REFERENCE_ROWS = 1000  # training rows kept (in the user's units) for plots, importances, interactions


class KANEstimator(BaseEstimator):
    """Shared parameters (documented on :class:`kanlab.sklearn.KANRegressor`)."""

    _default_alpha = 30.0  # alpha=None (each estimator sets its own)

    def __init__(self, hidden=None, grid=4, k=3, steps=300, alpha=None, solver="auto", lr=None, batch_size=256,
                 early_stopping=True, validation_fraction=0.15, n_iter_no_change=10, tol=1e-4,
                 base_fun="identity", clip_inputs=True, n_estimators="auto", lamb=0.0, grid_schedule=None,
                 symbolic=False, auto_budget=None, seed=0):
        self.hidden = hidden
        self.grid = grid
        self.k = k
        self.steps = steps
        self.alpha = alpha
        self.solver = solver
        self.lr = lr
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.base_fun = base_fun
        self.clip_inputs = clip_inputs
        self.n_estimators = n_estimators
        self.lamb = lamb
        self.grid_schedule = grid_schedule
        self.symbolic = symbolic
        self.auto_budget = auto_budget
        self.seed = seed

    # ------------------------------------------------------------------ inputs
    def _scale_inputs(self, X, fit: bool) -> torch.Tensor:
        """Standardised inputs (halved, so most values lie in [-1, 1]), clipped per feature to
        the training range when ``clip_inputs``."""
        X = np.asarray(X, dtype=np.float64)
        if fit:
            self.x_mean_ = X.mean(0)
            scale = X.std(0)
            self.x_scale_ = np.where(scale > 0, scale, 1.0)
            self.x_min_, self.x_max_ = X.min(0), X.max(0)
        Z = (X - self.x_mean_) / (2.0 * self.x_scale_)
        if self.clip_inputs and not fit:
            lo = (self.x_min_ - self.x_mean_) / (2.0 * self.x_scale_)
            hi = (self.x_max_ - self.x_mean_) / (2.0 * self.x_scale_)
            np.clip(Z, lo, hi, out=Z)
        return torch.from_numpy(Z)

    # ------------------------------------------------------------------ fitting
    def _fit_networks(self, X, Y: torch.Tensor, n_out: int, loss_fn, codes=None):
        """Train the member network(s) on the scaled inputs and internal targets ``Y``."""
        s = resolve(self, self._default_alpha)
        if isinstance(self.auto_budget, bool) or not (self.auto_budget is None or (
                isinstance(self.auto_budget, (int, float)) and self.auto_budget > 0)):
            raise ValueError(f"auto_budget must be None or a positive number of seconds, got {self.auto_budget!r}")
        Xt = self._scale_inputs(X, fit=True)
        self._interactions_cache = None
        self.models_, self.histories_, self.validation_scores_ = [], [], []
        solver, _ = choose_solver(s.solver, len(X))
        self.n_estimators_ = choose_estimators(s.n_estimators, solver)
        for m in range(self.n_estimators_):
            self._fit_member(Xt, Y, n_out, loss_fn, codes, s, m)
        self.model_ = self.models_[0]
        ref = np.random.default_rng(s.seed).permutation(len(X))[:REFERENCE_ROWS]
        self.reference_X_ = np.asarray(X, dtype=np.float64)[np.sort(ref)]
        self.feature_importances_ = interpret.importances(self)
        if s.symbolic:
            tr, va, _ = self._split_rows_
            rows = va if va is not None else tr
            y_user = self._user_targets(Y[rows])
            self.auto_symbolic(np.asarray(X)[tr], None)
            self.formula_score_ = self.formula_score(np.asarray(X)[rows], y_user)
        return self

    def _fit_member(self, Xt, Y, n_out, loss_fn, codes, s, m: int):
        seed = s.seed + m
        tr, va, reason = fitting.split(len(Xt), s, seed, codes)
        val = None if va is None else (Xt[va], Y[va])
        x, y = Xt[tr], Y[tr]
        plan = fitting.make_plan(s, len(Xt), len(tr), Xt.shape[1], reason)
        if s.hidden == "auto":
            plan, trials = fitting.choose_capacity(x, y, val, n_out, loss_fn, s, plan, seed, self.auto_budget)
            best = min(trials, key=lambda t: t["val_loss"])
            model, hists = best["model"], best["history"]
            self.auto_trials_ = [{k: t[k] for k in ("hidden", "grid", "val_loss")} for t in trials]
        else:
            model, hists = fitting.train_member(x, y, val, n_out, loss_fn, s, plan, seed)
        model.eval()
        self.models_.append(model)
        self.histories_.append(hists)
        if m == 0:
            self._split_rows_ = (tr, va, reason)
            self.hidden_, self.grid_, self.solver_, self.solver_reason_ = plan.hidden, plan.grid, plan.solver, plan.solver_reason
            self.validation_ = reason
            self.n_iter_ = sum(h["n_iter"] for h in hists)
            self.history_ = hists
        if val is not None and hists:
            self.validation_scores_.append(min(hists[-1]["val_loss"]))

    # ------------------------------------------------------------------ prediction
    def _member_outputs(self, X, models=None) -> list[np.ndarray]:
        check_is_fitted(self, "models_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        Xt = self._scale_inputs(X, fit=False)
        return [predict_chunked(m, Xt).numpy() for m in (models or self.models_)]

    # ------------------------------------------------------------------ interpretation
    def plot_shapes(self, X=None, features=None, feature_names=None, ncols=4, path=None):
        """One panel per input feature: its learned shape function (the centred partial dependence
        of the prediction on the feature, in the target's units; the logit of each class against
        the mean for a classifier), with a rug of the data. ``X``: the rows to average over and
        draw (default: up to 1,000 training rows kept at fit); ``features``: indices to draw
        (default all, most important first). Returns a matplotlib Figure (written to ``path`` if given)."""
        return interpret.plot_shapes(self, X, features=features, feature_names=feature_names, ncols=ncols, path=path)

    def shape_functions(self, X=None, n_points=50):
        """The curves ``plot_shapes`` draws: a list per feature of (grid values, curve (n_points, n_outputs))."""
        return interpret.shape_functions(self, X, n_points=n_points)

    def interactions(self, X=None, top=None):
        """Pairwise interaction strengths the fitted network uses, strongest first: a list of
        (i, j, strength). Strength: the mean squared mixed difference
        f(x) - f(x with x_i swapped) - f(x with x_j swapped) + f(x with both swapped) over rows of
        ``X`` (values swapped in from other rows), divided by the variance of f; 0 for an
        additive model. ``X`` defaults to the training rows kept at fit."""
        return interpret.interactions(self, X, top=top)

    @property
    def interactions_(self):
        """``interactions()`` on the training rows kept at fit (computed on first access)."""
        check_is_fitted(self, "models_")
        if getattr(self, "_interactions_cache", None) is None:
            self._interactions_cache = self.interactions()
        return self._interactions_cache

    # ------------------------------------------------------------------ formulas
    def auto_symbolic(self, X, y=None, lib=None, steps: int = 30):
        """Fit a formula: a copy of the (first) network gets every edge fixed to its best symbolic
        form on X, its affine constants retrained on (X, y) when y is given. Sets ``formula_``
        (in the user's units; input clipping is not part of it) and ``formula_model_``; the
        numeric network keeps making the predictions. Use ``formula_score(X_test, y_test)`` for
        the formula's test score (``fit(symbolic=True)`` stores it on the validation rows as
        ``formula_score_``)."""
        return symbolic.auto_symbolic(self, X, y, lib=lib, steps=steps)

    def symbolify(self, X, y=None, lib=None, steps: int = 30):
        """Same as :meth:`auto_symbolic` (the earlier name)."""
        return self.auto_symbolic(X, y, lib=lib, steps=steps)

    def formula_expr(self, var_names=None):
        """The fitted formula as sympy expression(s) in the user's units (after ``auto_symbolic``)."""
        return symbolic.formula_expr(self, var_names)

    def sympy(self, var_names=None):
        return self.formula_expr(var_names)

    def latex(self, var_names=None):
        """LaTeX of the formula (a list for several outputs), variable names escaped."""
        exprs = self.formula_expr(var_names)
        return [to_latex(e) for e in exprs] if isinstance(exprs, list) else to_latex(exprs)
