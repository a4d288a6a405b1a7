"""What the explorer shows of one model state: its formula (when every live edge is symbolic)
and the test RMSE / R^2 of the network and of that formula."""
from __future__ import annotations

import math

import numpy as np
import sympy
import torch

from ..symbolic.formula import round_expr, symbolic_formula, to_callable, to_latex
from ..validate import KanlabError

__all__ = ["formula_of", "score", "model_metrics"]


def formula_of(network, var_names) -> tuple[list | None, str | None]:
    """(one sympy expression per output, None), or (None, why there is no formula yet)."""
    try:
        return list(symbolic_formula(network, var_names=var_names, simplify=True)), None
    except (KanlabError, ValueError) as e:
        return None, str(e)


def score(pred: np.ndarray, y: np.ndarray) -> dict:
    """RMSE over every output and R^2 (1 - SS_res / SS_tot, all outputs pooled around their means)."""
    pred, y = np.asarray(pred, dtype=np.float64).reshape(y.shape), np.asarray(y, dtype=np.float64)
    res = float(((pred - y) ** 2).sum())
    tot = float(((y - y.mean(axis=0)) ** 2).sum())
    rmse = math.sqrt(res / y.size) if np.isfinite(res) else math.inf
    r2 = 1.0 - res / tot if tot > 0 and np.isfinite(res) else (-math.inf if not np.isfinite(res) else math.nan)
    return {"rmse": rmse, "r2": r2}


def _finite(v: float):
    return v if math.isfinite(v) else None  # JSON has no inf/NaN


def model_metrics(network, var_names, x, y, data_name: str) -> dict:
    """Everything shown beside the network: the formula (text, LaTeX, 4-digit display), network and
    formula scores on (x, y) (None without data), and edge counts."""
    exprs, why = formula_of(network, var_names)
    n_sym = sum(len(s) for s in network.symbolic)
    n_num = sum(int((layer.mask > 0).sum()) for layer in network.layers)
    out = {"data": data_name, "n_symbolic": n_sym, "n_numeric": n_num, "formula": None, "formula_latex": None,
           "formula_error": why, "network_rmse": None, "network_r2": None, "formula_rmse": None, "formula_r2": None}
    if exprs is not None:
        shown = [round_expr(e, 4) for e in exprs]
        out["formula"] = [str(e) for e in shown]
        out["formula_latex"] = [to_latex(e) for e in shown]
    if x is None:
        return out
    with torch.no_grad():
        pred = network(x.to(next(network.parameters()).dtype)).double().cpu().numpy()
    yy = y.double().cpu().numpy().reshape(len(x), -1)
    s = score(pred, yy)
    out["network_rmse"], out["network_r2"] = _finite(s["rmse"]), _finite(s["r2"])
    if exprs is not None:
        fpred = to_callable(exprs, var_names)(x.double().cpu().numpy())
        s = score(np.asarray(fpred).reshape(yy.shape), yy)
        out["formula_rmse"], out["formula_r2"] = _finite(s["rmse"]), _finite(s["r2"])
    return out


def expressions(network, var_names) -> list:
    """The unrounded formula (for export); an error that names the numeric edges left."""
    return [sympy.sympify(e) for e in symbolic_formula(network, var_names=var_names, simplify=True)]
