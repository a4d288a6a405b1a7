"""The data of one discover call: checked, split once into training and held-out rows."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..symbolic.user_names import symbols_for
from ..validate import KanlabError, as_tensor, check_finite

__all__ = ["Problem", "prepare", "standardised"]


@dataclass
class Problem:
    """X, y (float64 tensors, all rows), the variable names, and ``ds``: the split as a dataset
    (train_input, train_label, test_input, test_label; the "test" rows are the held-out ones);
    ``subsampled_from``: the number of rows given when only a sample of them is used (else None)."""

    ds: dict
    names: list
    X: torch.Tensor
    y: torch.Tensor
    syms: list = field(init=False)
    subsampled_from: int | None = None

    def __post_init__(self):
        self.syms = symbols_for(self.names)  # distinct even for empty or repeated column names
        self.Xtr, self.ytr = self.ds["train_input"].numpy(), self.ds["train_label"][:, 0].numpy()
        self.Xte, self.yte = self.ds["test_input"].numpy(), self.ds["test_label"][:, 0].numpy()
        self.y_std = float(np.std(self.ytr))


def prepare(X, y, var_names, test_size: float, seed: int, max_rows: int | None = None) -> Problem:
    """Check X (N, n) and y (N,), name the columns, keep at most ``max_rows`` rows (a seeded
    sample; ``Problem.subsampled_from`` says from how many), hold out ``test_size`` of the rows
    (a seeded permutation)."""
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
    total = X.shape[0]
    if max_rows is not None and total > max_rows:
        X, y = X[perm[:max_rows]], y[perm[:max_rows]]
        perm = torch.arange(max_rows)
    n_test = max(1, int(round(test_size * X.shape[0])))
    te, tr = perm[:n_test], perm[n_test:]
    ds = {"train_input": X[tr], "train_label": y[tr, None], "test_input": X[te], "test_label": y[te, None]}
    return Problem(ds, names, X, y, subsampled_from=total if total > X.shape[0] else None)


def standardised(ds):
    """(ds with labels (y - mu) / sigma, mu, sigma), mu and sigma from the training labels."""
    mu, sigma = float(ds["train_label"].mean()), float(ds["train_label"].std())
    return {k: ((v - mu) / sigma if k.endswith("label") else v) for k, v in ds.items()}, mu, sigma
