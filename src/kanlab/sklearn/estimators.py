"""KANRegressor and KANClassifier (scikit-learn's estimator contract)."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ..training import losses
from . import symbolic
from .base import KANEstimator

__all__ = ["KANRegressor", "KANClassifier"]

_PARAMS_DOC = """
    Parameters (every one a plain argument, checked in ``fit``; so ``clone``, ``Pipeline`` and
    ``GridSearchCV`` work):

    hidden : None, "auto" or tuple of int, default None
        Hidden layer widths. None: one hidden layer whose width follows the number of training
        rows (``kanlab.sklearn.params.default_width``: 2 for a few hundred rows, 4 at ~2,000,
        8 at ~30,000, at most 16 and at most twice the number of features). "auto": widths
        0.5x, 1x and 2x that rule times grids 3 and 6, each trained once and picked on the
        validation split (costs up to 6 fits; ``auto_budget`` caps the time).
    grid : int, default 4
        Spline intervals per edge (a small grid and a strong penalty generalise on tables).
    k : int, default 3
        Spline order.
    steps : int, default 300
        Most iterations (``max_iter`` in scikit-learn's MLP): L-BFGS steps, or Adam passes of
        at most 200 minibatches. Early stopping usually ends training well before.
    alpha : float or None, default None
        Strength of the smoothness penalty (squared second differences of the spline
        coefficients plus a small ridge term, divided by the number of training rows;
        :mod:`kanlab.training.smoothness`). 0 turns it off; larger is smoother (towards linear).
        None: 30 for the regressor, 300 for the classifier (cross-entropy is smaller than the
        MSE of a standardised target and rewards ever larger logits, so it needs more).
    solver : {"auto", "lbfgs", "adam"}, default "auto"
        "auto": full-batch L-BFGS up to 10,000 training rows, Adam on minibatches above.
        The choice and its reason are in ``solver_`` and ``solver_reason_``.
    lr : float or None, default None
        Learning rate; None: 1.0 for L-BFGS, 0.01 for Adam.
    batch_size : int, default 256
        Adam minibatch rows.
    early_stopping : bool, default True
        Hold out ``validation_fraction`` of the rows (stratified for a classifier), stop when the
        validation loss has not improved by ``tol`` (relative) for ``n_iter_no_change``
        iterations, and restore the parameters of the best iteration. With fewer than 10
        validation rows it is off (``validation_`` says so). False: train on every row for ``steps``.
    validation_fraction : float in (0, 0.5], default 0.15
    n_iter_no_change : int, default 10
    tol : float, default 1e-4
    base_fun : {"identity", "silu", "tanh", "zero"}, default "identity"
        The residual function of every edge (edge = w_b * base(x) + spline(x)). "identity"
        makes a linear model the limit of strong smoothing.
    clip_inputs : bool, default True
        Clip each feature of new data to the range it had in training before predicting
        (a spline says nothing beyond its data; without clipping the residual base function
        extrapolates).
    n_estimators : int or "auto", default "auto"
        Bagging: the networks of that many fits, each with its own seed and validation split
        (so together they learn from every row); predictions averaged (probabilities for a
        classifier). "auto": 5 when L-BFGS runs (up to 10,000 rows; it lowers the variance of
        small-table fits), 1 with Adam (large tables); the number used is ``n_estimators_``.
    lamb : float, default 0.0
        The paper's sparsity penalty (L1 + entropy of edge magnitudes), added on top.
    grid_schedule : tuple of int or None, default None
        Grid extension: train at the first grid, then refine to each next one and train again.
    symbolic : bool, default False
        After fitting, fit a formula (:meth:`auto_symbolic` on the training rows) and score it
        on the validation rows (``formula_``, ``formula_score_``).
    auto_budget : float or None, default None
        For ``hidden="auto"``: no new candidate starts after this many seconds (None: all six).
    seed : int, default 0
        Seeds the network initialisation, the validation split and the minibatch order.

    Fitted attributes: ``model_`` (the first network; ``models_`` all), ``n_estimators_``, ``hidden_``, ``grid_``,
    ``solver_``, ``solver_reason_``, ``validation_``, ``n_iter_``, ``history_`` (per grid:
    train and validation loss per iteration, ``best_iter``, ``stopped``), ``validation_scores_``,
    ``feature_importances_`` (backward attribution of the network on the training rows,
    normalised to sum 1), ``interactions_``, ``reference_X_``, ``x_mean_``, ``x_scale_``,
    ``x_min_``, ``x_max_``; ``formula_`` after :meth:`auto_symbolic` (or ``symbolic=True``).
"""


class KANRegressor(RegressorMixin, KANEstimator):
    __doc__ = ("A KAN regressor [n_features, *hidden, n_targets]: standardised inputs and targets, "
               "a smoothness penalty, early stopping on a validation split.\n" + _PARAMS_DOC)

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        Y = y.reshape(len(y), -1)
        self.y_mean_ = Y.mean(0)
        scale = Y.std(0)
        self.y_scale_ = np.where(scale > 0, scale, 1.0)
        Yt = torch.from_numpy((Y - self.y_mean_) / self.y_scale_)
        return self._fit_networks(X, Yt, Y.shape[1], losses.mse)

    def _user_targets(self, Yt):
        out = Yt.numpy() * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_1d else out

    def _from_outputs(self, out):
        out = out * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_1d else out

    def predict(self, X):
        return self._from_outputs(np.mean(self._member_outputs(X), axis=0))

    def formula_score(self, X, y):
        """R^2 of the fitted formula's predictions on (X, y) (after :meth:`auto_symbolic`)."""
        from sklearn.metrics import r2_score

        return r2_score(y, self._from_outputs(symbolic.formula_outputs(self, X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class KANClassifier(ClassifierMixin, KANEstimator):
    _default_alpha = 300.0
    __doc__ = ("A KAN classifier: logits [n_features, *hidden, n_classes], cross-entropy, a smoothness "
               "penalty, early stopping on a stratified validation split.\n" + _PARAMS_DOC)

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        n_out = max(2, len(self.classes_))
        Yt = torch.as_tensor(codes, dtype=torch.float64)[:, None]
        return self._fit_networks(X, Yt, n_out, losses.cross_entropy, codes=codes)

    def _user_targets(self, Yt):
        return self.classes_[Yt.numpy()[:, 0].round().astype(int)]

    def _proba(self, logits):
        p = torch.softmax(torch.as_tensor(logits), dim=1).numpy()[:, : len(self.classes_)]
        return p / p.sum(1, keepdims=True)

    def predict_proba(self, X):
        return np.mean([self._proba(o) for o in self._member_outputs(X)], axis=0)

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def formula_score(self, X, y):
        """Accuracy of the fitted formula's predictions on (X, y) (after :meth:`auto_symbolic`)."""
        pred = self.classes_[np.argmax(self._proba(symbolic.formula_outputs(self, X)), axis=1)]
        return float(np.mean(pred == np.asarray(y)))
