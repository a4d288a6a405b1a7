"""KAN: the user-facing facade. Each method delegates to the module that does the work."""
from __future__ import annotations

from . import io, train
from .network import KANNetwork

__all__ = ["KAN"]


class KAN(KANNetwork):
    """A Kolmogorov-Arnold Network with the paper's toolchain as methods.

    >>> model = KAN(width=[2, 5, 1], grid=5, k=3, seed=0)
    >>> hist = model.fit(dataset, steps=50)        # trains in place
    >>> fine = model.refine(10)                    # new model, finer grid, same function

    Structure-changing operations (refine, prune) return a new model; content-changing ones
    (fit, update_grid, fix_symbolic) work in place.
    """

    def fit(self, dataset, **kwargs):
        """Train in place; see :func:`kanlab.train.fit` for the arguments. Returns the history."""
        return train.fit(self, dataset, **kwargs)

    def save(self, path) -> None:
        """Write this model to ``path`` (safetensors + JSON config, atomic)."""
        io.save(self, path)

    @classmethod
    def load(cls, path, device=None) -> "KAN":
        """Read a model written by :meth:`save`."""
        return io.load(path, cls, device=device)
