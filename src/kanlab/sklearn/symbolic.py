"""Formulas from a fitted estimator: a symbolic copy of its network, the formula in the user's
units (the input and target standardisation folded back in), and the copy's outputs."""
from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from ..symbolic.fix_edges import auto_symbolic as _fix_all
from ..symbolic.formula import symbolic_formula
from ..symbolic.user_names import symbols_for
from ..training import losses, loop as train
from ..training.early_stopping import predict_chunked

__all__ = ["auto_symbolic", "formula_expr", "formula_outputs"]


def _targets(est, X, y):
    if hasattr(est, "y_mean_"):
        Y = (np.asarray(y, dtype=np.float64).reshape(len(X), -1) - est.y_mean_) / est.y_scale_
        return torch.as_tensor(Y), None
    codes = np.searchsorted(est.classes_, np.asarray(y))
    return torch.as_tensor(codes, dtype=torch.float64)[:, None], losses.cross_entropy


def auto_symbolic(est, X, y=None, lib=None, steps: int = 30):
    check_is_fitted(est, "models_")
    X = validate_data(est, X, reset=False, dtype=np.float64)
    Xt = est._scale_inputs(X, fit=False)
    model = copy.deepcopy(est.model_)
    _fix_all(model, Xt, lib=lib)
    if y is not None and steps:
        Y, loss = _targets(est, X, y)
        train.fit(model, {"train_input": Xt, "train_label": Y}, steps=steps, update_grid=False,
                  loss_fn=loss, progress=False, warn_out_of_range=1.0)
    model.eval()
    est.formula_model_ = model
    est.formula_ = formula_expr(est)
    return est


def formula_outputs(est, X) -> np.ndarray:
    """The symbolic copy's outputs on X (internal units: standardised target or logits)."""
    check_is_fitted(est, "formula_model_")
    X = validate_data(est, X, reset=False, dtype=np.float64)
    return predict_chunked(est.formula_model_, est._scale_inputs(X, fit=False)).numpy()


def formula_expr(est, var_names=None):
    """The symbolic copy as one formula per output, in the user's units."""
    import sympy

    check_is_fitted(est, "formula_model_")
    n = est.n_features_in_
    names = list(var_names) if var_names is not None else [f"x{i}" for i in range(n)]
    syms = symbols_for(names)  # distinct plain variables, whatever the names (I, E, repeats)
    inner = [sympy.Symbol(f"_z{i}") for i in range(n)]
    exprs = symbolic_formula(est.formula_model_, var_names=[str(s) for s in inner], simplify=False)
    subs = {z: (s - float(m)) / (2.0 * float(sc)) for z, s, m, sc in zip(inner, syms, est.x_mean_, est.x_scale_)}
    exprs = [e.xreplace(subs) for e in exprs]
    if hasattr(est, "y_mean_"):
        exprs = [float(m) + float(sc) * e for m, sc, e in zip(np.ravel(est.y_mean_), np.ravel(est.y_scale_), exprs)]
    return exprs[0] if len(exprs) == 1 else exprs
