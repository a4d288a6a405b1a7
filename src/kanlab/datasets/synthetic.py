"""Data sets generated from a formula: uniform samples of f on a box, seeded and reproducible."""
from __future__ import annotations

import torch

from ..validate import KanlabError

__all__ = ["create_dataset"]


def _ranges(ranges, n_var):
    r = torch.as_tensor(ranges, dtype=torch.float64)
    if r.dim() == 1:
        if r.numel() != 2:
            raise KanlabError(f"ranges must be [lo, hi] or one [lo, hi] per variable, got {ranges!r}")
        r = r.expand(n_var, 2)
    if r.shape != (n_var, 2):
        raise KanlabError(f"ranges must have {n_var} [lo, hi] pairs, got shape {tuple(r.shape)}")
    if not bool((r[:, 1] > r[:, 0]).all()) or not bool(torch.isfinite(r).all()):
        raise KanlabError(f"every range needs finite lo < hi, got {r.tolist()}")
    return r


def create_dataset(f, n_var: int = 2, ranges=(-1.0, 1.0), train_num: int = 1000, test_num: int = 1000,
                   seed: int = 0, dtype=torch.float32, device=None, normalize_label: bool = False) -> dict:
    """Sample ``f`` uniformly on a box: a dict with train_input/train_label/test_input/test_label.

    ``f`` maps a tensor (N, n_var) to (N,), (N, 1) or (N, n_out); it is evaluated in float64.
    ``seed`` drives a private generator (the global RNG is untouched).
    """
    if not callable(f):
        raise KanlabError(f"f must be a callable taking a (N, n_var) tensor, got {type(f).__name__}")
    for name, v, lo in (("n_var", n_var, 1), ("train_num", train_num, 1), ("test_num", test_num, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise KanlabError(f"{name} must be an integer >= {lo}, got {v!r}")
    r = _ranges(ranges, n_var)
    gen = torch.Generator().manual_seed(seed)

    def sample(n):
        u = torch.rand(n, n_var, generator=gen, dtype=torch.float64)
        x = r[:, 0] + (r[:, 1] - r[:, 0]) * u
        y = torch.as_tensor(f(x))
        if y.dim() == 1:
            y = y[:, None]
        if y.dim() != 2 or y.shape[0] != n:
            raise KanlabError(f"f must return shape (N,) or (N, n_out) for input (N, {n_var}); got {tuple(y.shape)}")
        if not bool(torch.isfinite(y).all()):
            raise KanlabError("f returned NaN or infinite values on the given ranges; narrow the ranges")
        return x.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)

    x_tr, y_tr = sample(train_num)
    x_te, y_te = sample(test_num) if test_num else (x_tr[:0], y_tr[:0])
    ds = {"train_input": x_tr, "train_label": y_tr, "test_input": x_te, "test_label": y_te}
    if normalize_label:
        mu, sd = y_tr.mean(0, keepdim=True), y_tr.std(0, keepdim=True).clamp_min(1e-12)
        ds["train_label"], ds["test_label"] = (y_tr - mu) / sd, (y_te - mu) / sd
    return ds
