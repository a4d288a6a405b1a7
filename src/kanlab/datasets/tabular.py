"""Tabular data: CSV files to arrays or dataset dicts, with errors that name the problem."""
from __future__ import annotations

import csv
import os

import numpy as np
import torch

from ..validate import KanlabError

__all__ = ["read_csv", "from_csv", "split"]


def _names(names) -> str:
    """Column names for an error message on one line: a name with a line break or another
    unprintable character (a quoted CSV field may hold one) is shown as its repr."""
    return ", ".join(n if n.isprintable() else repr(n) for n in names)


def read_csv(path, target: str, features=None):
    """(X, y, feature names) from a CSV file with a header row.

    ``features``: a list or comma-separated string of columns (default: every column but the
    target). Raises KanlabError for a missing file or column, non-numeric or NaN/inf values,
    and files without data rows.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise KanlabError(f"no such file: {path}")
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if len(rows) < 2:
        raise KanlabError(f"{path} needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise KanlabError(f"column {target!r} not in {path}; columns are: {_names(header)}")
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",")]
    features = list(features) if features else [h for h in header if h != target]
    missing = [f for f in features if f not in header]
    if missing:
        raise KanlabError(f"feature column(s) {_names(missing)} not in {path}; columns are: {_names(header)}")
    cols = [header.index(f) for f in features] + [header.index(target)]
    data = np.empty((len(rows) - 1, len(cols)))
    for r, row in enumerate(rows[1:], start=2):
        for c, k in enumerate(cols):
            try:
                data[r - 2, c] = float(row[k])
            except (ValueError, IndexError):
                value = row[k] if k < len(row) else "(missing)"
                raise KanlabError(f"{path} line {r}, column {header[k]!r}: {value!r} is not a number") from None
    bad = [header[k] for c, k in enumerate(cols) if not np.isfinite(data[:, c]).all()]
    if bad:
        raise KanlabError(f"{path} has NaN/inf values in column(s) {_names(bad)}; drop or impute them")
    return data[:, :-1], data[:, -1], features


def split(X, y, test_size: float = 0.2, seed: int = 0, dtype=torch.float64) -> dict:
    """A seeded train/test split as a dataset dict (with ``split`` info: sizes and seed)."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64).reshape(len(X), -1)
    if len(X) < 4:
        raise KanlabError(f"need at least 4 rows to split into train and test, got {len(X)}")
    if not 0 < test_size < 1:
        raise KanlabError(f"test_size must be in (0, 1), got {test_size}")
    perm = np.random.default_rng(seed).permutation(len(X))
    n_test = max(1, int(round(test_size * len(X))))
    te, tr = perm[:n_test], perm[n_test:]
    t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
    return {"train_input": t(X[tr]), "train_label": t(y[tr]), "test_input": t(X[te]), "test_label": t(y[te]),
            "split": {"train": len(tr), "test": len(te), "seed": seed}}


def from_csv(path, target: str, features=None, test_size: float = 0.2, seed: int = 0) -> dict:
    """A dataset dict from a CSV file (seeded split; ``feature_names`` and ``split`` included).
    Constant feature columns are reported as errors: they carry no information."""
    X, y, names = read_csv(path, target, features)
    if len(X) < 4:
        raise KanlabError(f"{path} has {len(X)} data row(s); need at least 4 rows to split into train and test")
    const = [n for n, col in zip(names, X.T) if np.ptp(col) == 0]
    if const:
        raise KanlabError(f"column(s) {_names(const)} in {path} are constant; drop them (features=...)")
    ds = split(X, y, test_size=test_size, seed=seed)
    ds["feature_names"] = names
    return ds
