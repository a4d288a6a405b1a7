"""What the structure tests evaluate: f (a model or a callable) as a numpy oracle on a box.

The tests sample f anywhere in the box [lo, hi] that holds the data (or the bounds given), so f
must be trustworthy there: a trained model on the box of its training inputs, or a known
function. Variables that are not sampled in a test stay at the box's base point.
"""
from __future__ import annotations

import numpy as np
import torch

from ..validate import KanlabError

__all__ = ["Box", "as_oracle", "make_box", "tolerance"]


class Box:
    """The box [lo, hi], the base point of the columns a test does not sample, and the random
    stream of the tests. ``add_var`` appends a column (a combination of two variables)."""

    def __init__(self, lo, hi, seed: int = 0, base=None, rng=None):
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)
        self.base = (self.lo + self.hi) / 2 if base is None else np.asarray(base, float)
        self.rng = np.random.default_rng(seed) if rng is None else rng

    def sample(self, idx, m: int) -> np.ndarray:
        X = np.tile(self.base, (m, 1))
        X[:, idx] = self.rng.uniform(self.lo[idx], self.hi[idx], size=(m, len(idx)))
        return X

    def with_base(self, base) -> "Box":
        return Box(self.lo.copy(), self.hi.copy(), base=np.array(base, float), rng=self.rng)

    def add_var(self, lo: float, hi: float) -> int:
        self.lo, self.hi = np.append(self.lo, lo), np.append(self.hi, hi)
        self.base = np.append(self.base, (lo + hi) / 2)
        return len(self.lo) - 1


def _call_module(model: torch.nn.Module, output: int):
    p = next(model.parameters(), None)
    dtype = p.dtype if p is not None else torch.get_default_dtype()
    device = p.device if p is not None else torch.device("cpu")

    def f(X):
        with torch.no_grad():
            y = model(torch.as_tensor(X, dtype=dtype, device=device))
        return y.reshape(len(X), -1)[:, output].double().cpu().numpy()
    return f


def as_oracle(f, n: int, torch_input: bool, output: int = 0):
    """f as a function (N, >= n) float array -> (N,) float array, reading the first n columns. An
    ``nn.Module`` (a KAN) is called on a tensor of its own dtype; a callable on a torch tensor
    when the data X was a tensor, else on a numpy array; one output column (``output``) is kept."""
    if isinstance(f, torch.nn.Module):
        call = _call_module(f, output)
    elif callable(f):
        def call(X):
            y = f(torch.as_tensor(X) if torch_input else X)
            y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y, dtype=float)
            if y.ndim == 0 or y.shape[0] != len(X) or y.size % len(X):
                raise KanlabError(f"f returned shape {tuple(y.shape)} for {len(X)} rows; it must return one "
                                  "value per row, shape (N,) or (N, n_outputs)")
            return y.reshape(len(X), -1)[:, output].astype(float)
    else:
        raise KanlabError(f"f must be a model (torch.nn.Module) or a callable f(X) -> y, got {type(f).__name__}")

    def oracle(X):
        y = call(np.ascontiguousarray(X[:, :n]))
        if not np.all(np.isfinite(y)):
            raise KanlabError(f"f is not finite at {int((~np.isfinite(y)).sum())} of {len(y)} points of the box; "
                              "pass bounds= (or data X) on which f is defined")
        return y
    return oracle


def make_box(X=None, bounds=None, seed: int = 0) -> tuple[Box, bool]:
    """(the box, whether f takes torch tensors) from data X (its column minima and maxima) or
    from ``bounds`` = [(lo, hi), ...] per variable; exactly one of the two."""
    if (X is None) == (bounds is None):
        raise KanlabError("give the data X (its box is used) or bounds=[(lo, hi), ...], exactly one of them")
    if bounds is not None:
        b = np.asarray(bounds, dtype=float)
        if b.ndim != 2 or b.shape[1] != 2 or not np.all(b[:, 0] < b[:, 1]):
            raise KanlabError(f"bounds must be [(lo, hi), ...] with lo < hi per variable, got {bounds!r}")
        return Box(b[:, 0], b[:, 1], seed=seed), False
    torch_input = isinstance(X, torch.Tensor)
    A = X.detach().cpu().double().numpy() if torch_input else np.asarray(X, dtype=float)
    if A.ndim != 2 or len(A) < 2:
        raise KanlabError(f"X must be a 2-D array of at least 2 rows (samples x variables), got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise KanlabError("X contains NaN or infinite values; drop or impute them first")
    lo, hi = A.min(axis=0), A.max(axis=0)
    flat = [k for k in range(A.shape[1]) if not hi[k] > lo[k]]
    if flat:
        raise KanlabError(f"column(s) {flat} of X are constant: no box to test in; drop them or pass bounds=")
    return Box(lo, hi, seed=seed), torch_input


def tolerance(f, box: Box, tol=None, rtol: float = 1e-2) -> float:
    """The absolute tolerance of the tests: ``tol`` if given, else rtol x the spread (standard
    deviation) of f over the box."""
    if tol is not None:
        if not tol > 0:
            raise KanlabError(f"tol must be > 0, got {tol}")
        return float(tol)
    if not rtol > 0:
        raise KanlabError(f"rtol must be > 0, got {rtol}")
    sd = float(np.std(f(box.sample(list(range(len(box.lo))), 400))))
    if sd == 0.0:
        raise KanlabError("f is constant on the box: there is no structure to test")
    return rtol * sd
