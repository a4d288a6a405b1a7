"""Interpretation of a fitted estimator for tables: feature importances (backward attribution
of the network), shape functions (centred partial dependence) and their plot with a rug of the
data, and the pairwise interactions the network uses (a mixed-difference statistic)."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from ..interpret.attribution import feature_score
from ..training.early_stopping import predict_chunked

__all__ = ["importances", "shape_functions", "plot_shapes", "interactions"]

PD_ROWS = 300  # rows averaged over in a partial dependence curve
INTERACTION_ROWS = 256
INTERACTION_FEATURES = 30  # pairs among the most important features only


def _reference(est, X, rows: int, seed: int = 0) -> np.ndarray:
    check_is_fitted(est, "models_")
    X = est.reference_X_ if X is None else validate_data(est, X, reset=False, dtype=np.float64)
    if len(X) > rows:
        X = X[np.sort(np.random.default_rng(seed).permutation(len(X))[:rows])]
    return X


def _margins(est, Xt: torch.Tensor) -> np.ndarray:
    """The averaged network outputs in interpretable units: the target's units for a regressor
    (without the mean), the logit margins for a classifier (class 1 against class 0 with two
    classes, each class against the mean over classes otherwise)."""
    out = np.mean([predict_chunked(m, Xt).numpy() for m in est.models_], axis=0)
    if hasattr(est, "y_scale_"):
        return out * est.y_scale_
    n = len(est.classes_)
    if n <= 2:
        return out[:, 1:2] - out[:, 0:1]
    return out[:, :n] - out[:, :n].mean(1, keepdims=True)


def importances(est) -> np.ndarray:
    """Input scores of every member network on the reference rows, normalised to sum 1, averaged."""
    Xt = est._scale_inputs(est.reference_X_, fit=False)
    if len(Xt) < 2:
        return np.full(est.n_features_in_, 1.0 / est.n_features_in_)
    scores = []
    for m in est.models_:
        s = feature_score(m, Xt).numpy()
        total = s.sum()
        scores.append(s / total if total > 0 else np.full_like(s, 1.0 / len(s)))
    return np.mean(scores, axis=0)


def _grid_values(col: np.ndarray, lo: float, hi: float, n_points: int) -> np.ndarray:
    uniq = np.unique(col)
    if len(uniq) <= n_points:
        return uniq if len(uniq) > 1 else np.array([lo, hi]) if hi > lo else uniq
    return np.linspace(lo, hi, n_points)


def shape_functions(est, X=None, n_points: int = 50):
    """Per feature: (values, centred curve (len(values), n_curves), the reference column)."""
    Xr = _reference(est, X, PD_ROWS)
    out = []
    for i in range(est.n_features_in_):
        vals = _grid_values(Xr[:, i], est.x_min_[i], est.x_max_[i], n_points)
        rep = np.repeat(Xr[None], len(vals), axis=0)  # (points, rows, features)
        rep[:, :, i] = vals[:, None]
        marg = _margins(est, est._scale_inputs(rep.reshape(-1, Xr.shape[1]), fit=False))
        curve = marg.reshape(len(vals), len(Xr), -1).mean(1)
        at_data = np.stack([np.interp(Xr[:, i], vals, curve[:, c]) for c in range(curve.shape[1])], 1)
        out.append((vals, curve - at_data.mean(0), Xr[:, i]))
    return out


def plot_shapes(est, X=None, features=None, feature_names=None, ncols: int = 4, path=None):
    from ..interpret.plot import _plt

    plt = _plt()
    shapes = shape_functions(est, X)
    order = list(np.argsort(-est.feature_importances_)) if features is None else [int(f) for f in features]
    names = list(feature_names) if feature_names is not None else [
        str(n) for n in getattr(est, "feature_names_in_", [f"x{i}" for i in range(est.n_features_in_)])]
    ncols = max(1, min(int(ncols), len(order)))
    nrows = int(np.ceil(len(order) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.6 * nrows), squeeze=False)
    ylabel = "contribution to y" if hasattr(est, "y_scale_") else "logit contribution"
    for ax, i in zip(axes.ravel(), order):
        vals, curve, col = shapes[i]
        ax.plot(vals, curve, lw=1.8)
        ax.plot(col, np.zeros_like(col), "|", color="k", alpha=0.3, markersize=8,
                transform=ax.get_xaxis_transform())  # the rug: where the data lie
        ax.axhline(0, color="0.8", lw=0.8)
        ax.set_title(f"{names[i]} (importance {est.feature_importances_[i]:.2f})", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(order):]:
        ax.axis("off")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def interactions(est, X=None, top=None):
    """[(i, j, strength)], strongest first (see ``KANEstimator.interactions``)."""
    Xr = _reference(est, X, INTERACTION_ROWS, seed=1)
    n, d = Xr.shape
    if n < 2 or d < 2:
        return []
    feats = np.sort(np.argsort(-est.feature_importances_)[:INTERACTION_FEATURES])
    other = Xr[np.random.default_rng(2).permutation(n)]
    base = _margins(est, est._scale_inputs(Xr, fit=False))
    var = float(base.var(0).sum())
    if var <= 0:
        return [(int(i), int(j), 0.0) for a, i in enumerate(feats) for j in feats[a + 1:]][:top]
    single = {}
    for i in feats:
        Xi = Xr.copy()
        Xi[:, i] = other[:, i]
        single[i] = _margins(est, est._scale_inputs(Xi, fit=False))
    pairs = [(i, j) for a, i in enumerate(feats) for j in feats[a + 1:]]
    both = np.repeat(Xr[None], len(pairs), axis=0)
    for p, (i, j) in enumerate(pairs):
        both[p, :, [i, j]] = other[:, [i, j]].T
    fb = _margins(est, est._scale_inputs(both.reshape(-1, d), fit=False)).reshape(len(pairs), n, -1)
    out = [(int(i), int(j), float(((base - single[i] - single[j] + fb[p]) ** 2).mean(0).sum() / var))
           for p, (i, j) in enumerate(pairs)]
    out.sort(key=lambda t: -t[2])
    return out[:top] if top is not None else out
