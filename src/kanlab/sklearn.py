"""scikit-learn estimators: KANRegressor and KANClassifier.

They follow the estimator contract: parameters are stored verbatim in ``__init__`` (validated
in ``fit``), fitted state ends with an underscore, ``get_params``/``set_params`` come from
``BaseEstimator`` (so ``clone``, ``Pipeline`` and ``GridSearchCV`` work). Inputs are
standardised (mean ``x_mean_``, scale ``x_scale_``) and regression targets too (``y_mean_``,
``y_scale_``); ``formula_`` folds both back, so the formula speaks in the user's units.

    from kanlab.sklearn import KANRegressor
    reg = KANRegressor(hidden=(5,), steps=100).fit(X, y)
    reg.predict(X); reg.score(X, y)
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .training import losses, loop as train
from .core.network import KANNetwork

__all__ = ["KANRegressor", "KANClassifier"]


class _KANBase(BaseEstimator):
    def __init__(self, hidden=(5,), grid=5, k=3, steps=100, lamb=0.0, grid_schedule=None, seed=0, lr=1.0):
        self.hidden = hidden
        self.grid = grid
        self.k = k
        self.steps = steps
        self.lamb = lamb
        self.grid_schedule = grid_schedule
        self.seed = seed
        self.lr = lr

    def _check_params(self):
        hidden = tuple(self.hidden) if self.hidden is not None else ()
        if any((not isinstance(h, (int, np.integer))) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be a tuple of positive ints, got {self.hidden!r}")
        if not isinstance(self.steps, (int, np.integer)) or self.steps < 0:
            raise ValueError(f"steps must be a non-negative int, got {self.steps!r}")
        return hidden

    def _standardise(self, X, fit):
        X = np.asarray(X, dtype=np.float64)
        if fit:
            self.x_mean_ = X.mean(0)
            scale = X.std(0)
            self.x_scale_ = np.where(scale > 0, scale, 1.0)
        return torch.as_tensor((X - self.x_mean_) / self.x_scale_ / 2.0)  # most data inside [-1, 1]

    def _train(self, X, Y, n_out, loss_fn=None):
        hidden = self._check_params()
        width = [X.shape[1], *hidden, n_out]
        model = KANNetwork(width, grid=int(self.grid), k=int(self.k), seed=int(self.seed), dtype=torch.float64)
        ds = {"train_input": X, "train_label": Y}
        schedule = list(self.grid_schedule) if self.grid_schedule else [int(self.grid)]
        hist = []
        for i, g in enumerate(schedule):
            if i:
                model = model.refine(int(g))
            if self.steps and len(X) > 1:
                hist.append(train.fit(model, ds, steps=int(self.steps), lr=float(self.lr), lamb=float(self.lamb),
                                      loss_fn=loss_fn, progress=False, warn_out_of_range=1.0))
        self.model_ = model
        self.history_ = hist
        return self

    def _raw(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.no_grad():
            return self.model_(self._standardise(X, fit=False)).numpy()

    def sympy(self, var_names=None, **kwargs):
        return self.formula_expr(var_names, **kwargs)

    def latex(self, var_names=None):
        import sympy

        return sympy.latex(self.formula_expr(var_names))

    def formula_expr(self, var_names=None, x=None):
        """The fitted network as one formula in the ORIGINAL units (standardisation folded in).
        Needs every edge symbolic: call ``symbolify(X)`` first."""
        import sympy

        from .symbolic.formula import symbolic_formula

        check_is_fitted(self, "model_")
        n = self.n_features_in_
        names = list(var_names) if var_names is not None else [f"x{i}" for i in range(n)]
        syms = [sympy.Symbol(v) for v in names]
        inner = [sympy.Symbol(f"_z{i}") for i in range(n)]
        exprs = symbolic_formula(self.model_, var_names=[str(s) for s in inner], simplify=False)
        subs = {z: (s - float(m)) / (2.0 * float(sc)) for z, s, m, sc in zip(inner, syms, self.x_mean_, self.x_scale_)}
        exprs = [e.xreplace(subs) for e in exprs]
        if hasattr(self, "y_mean_"):
            exprs = [float(m) + float(sc) * e for m, sc, e in zip(np.ravel(self.y_mean_), np.ravel(self.y_scale_), exprs)]
        return exprs[0] if len(exprs) == 1 else exprs

    def symbolify(self, X, y=None, lib=None, steps: int = 30):
        """Fix every edge of the fitted network to its best symbolic form on X, retrain the
        affine constants on (X, y) when y is given, and set ``formula_`` (in the user's units)."""
        from .symbolic.fix_edges import auto_symbolic

        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        Xt = self._standardise(X, fit=False)
        auto_symbolic(self.model_, Xt, lib=lib)
        if y is not None and steps:
            if hasattr(self, "y_mean_"):
                Y = (np.asarray(y, dtype=np.float64).reshape(len(X), -1) - self.y_mean_) / self.y_scale_
                train.fit(self.model_, {"train_input": Xt, "train_label": torch.as_tensor(Y)}, steps=steps,
                          update_grid=False, progress=False, warn_out_of_range=1.0)
            else:
                codes = np.searchsorted(self.classes_, np.asarray(y))
                train.fit(self.model_, {"train_input": Xt, "train_label": torch.as_tensor(codes, dtype=torch.float64)[:, None]},
                          steps=steps, update_grid=False, loss_fn=losses.cross_entropy, progress=False, warn_out_of_range=1.0)
        self.formula_ = self.formula_expr()
        return self


class KANRegressor(RegressorMixin, _KANBase):
    """A KAN regressor [n_features, *hidden, n_targets] trained with LBFGS."""

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        Y = y.reshape(len(y), -1)
        self.y_mean_ = Y.mean(0)
        scale = Y.std(0)
        self.y_scale_ = np.where(scale > 0, scale, 1.0)
        Xt = self._standardise(X, fit=True)
        return self._train(Xt, torch.as_tensor((Y - self.y_mean_) / self.y_scale_), Y.shape[1])

    def predict(self, X):
        out = self._raw(X) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class KANClassifier(ClassifierMixin, _KANBase):
    """A KAN classifier: logits [n_features, *hidden, n_classes], cross-entropy, LBFGS."""

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        Xt = self._standardise(X, fit=True)
        n_out = max(2, len(self.classes_))
        if len(self.classes_) == 1:
            hidden = self._check_params()
            self.model_ = KANNetwork([X.shape[1], *hidden, n_out], seed=int(self.seed), dtype=torch.float64)
            self.history_ = []
            return self
        return self._train(Xt, torch.as_tensor(codes, dtype=torch.float64)[:, None], n_out, loss_fn=losses.cross_entropy)

    def predict_proba(self, X):
        logits = torch.as_tensor(self._raw(X))
        p = torch.softmax(logits, dim=1).numpy()
        return p[:, : len(self.classes_)] / p[:, : len(self.classes_)].sum(1, keepdims=True)

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
