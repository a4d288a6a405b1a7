"""Input validation shared by the public entry points: errors that name the argument and the fix."""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["KanlabError", "as_tensor", "check_finite", "check_dataset", "check_range"]


class KanlabError(ValueError):
    """Base class of kanlab's own errors (a ValueError, so callers can catch either)."""


def as_tensor(value, name: str, dtype=None, device=None) -> torch.Tensor:
    """Convert array-likes to a float tensor, naming ``name`` in the error if that fails."""
    if isinstance(value, torch.Tensor):
        t = value
    else:
        try:
            arr = np.asarray(value)
        except Exception as e:  # pragma: no cover - exotic inputs
            raise KanlabError(f"{name} could not be converted to an array: {e}") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise KanlabError(f"{name} must be numeric, got values of type {arr.dtype}; convert or drop non-numeric columns")
        t = torch.as_tensor(arr.astype(np.float64) if arr.dtype != np.float32 else arr)
    if t.is_complex():
        raise KanlabError(f"{name} must be real-valued, got a complex tensor")
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    return t.to(dtype=dtype or t.dtype, device=device)


def check_finite(t: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise KanlabError(f"{name} contains {bad} NaN or infinite value(s); drop or impute them first")


def check_dataset(dataset, n_inputs: int, n_outputs: int | None, dtype=None, device=None) -> dict:
    """Validate a dataset dict and return it with tensors of the model's dtype/device and 2-D labels."""
    if not isinstance(dataset, dict):
        raise KanlabError("dataset must be a dict with train_input and train_label (see kanlab.create_dataset)")
    out = {}
    for split in ("train", "test"):
        xi, yi = f"{split}_input", f"{split}_label"
        if xi not in dataset and yi not in dataset:
            if split == "train":
                raise KanlabError("dataset is missing 'train_input' and 'train_label'")
            continue
        if (xi in dataset) != (yi in dataset):
            raise KanlabError(f"dataset has only one of {xi!r} and {yi!r}; give both")
        x = as_tensor(dataset[xi], xi, dtype, device)
        y = as_tensor(dataset[yi], yi, dtype, device)
        if x.dim() == 1 and n_inputs == 1:
            x = x[:, None]
        if y.dim() == 1:
            y = y[:, None]
        if x.dim() != 2 or x.shape[1] != n_inputs:
            raise KanlabError(f"{xi} must have shape (N, {n_inputs}) for this model, got {tuple(x.shape)}")
        if y.dim() != 2 or (n_outputs is not None and y.shape[1] != n_outputs):
            raise KanlabError(f"{yi} must have shape (N, {n_outputs}) for this model, got {tuple(y.shape)}")
        if x.shape[0] != y.shape[0]:
            raise KanlabError(f"{xi} has {x.shape[0]} rows but {yi} has {y.shape[0]}; they must match")
        if x.shape[0] == 0:
            raise KanlabError(f"{xi} is empty; give at least one sample")
        check_finite(x, xi)
        check_finite(y, yi)
        out[xi], out[yi] = x, y
    return out


def check_range(value, name: str = "grid_range") -> tuple[float, float]:
    """A (low, high) pair of finite numbers with low < high."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise KanlabError(f"{name} must be a pair of numbers (low, high), got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise KanlabError(f"{name} must be finite with low < high, got ({lo}, {hi})")
    return lo, hi
