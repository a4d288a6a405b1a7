"""KAN: the user-facing facade. Each method delegates to the module that does the work."""
from __future__ import annotations

from . import attribution, io, plot, prune, train
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

    def attribute(self, x):
        """Edge / node / input importance scores on data x (see :mod:`kanlab.attribution`)."""
        return attribution.attribute(self, x)

    def feature_score(self, x):
        """Importance of each original input column on data x."""
        return attribution.feature_score(self, x)

    def prune(self, node_th: float = 1e-2, edge_th: float = 3e-2, x=None) -> "KAN":
        """A new, smaller KAN: weak hidden nodes removed, weak edges masked (scores on x)."""
        return prune.prune(self, node_th=node_th, edge_th=edge_th, x=x)

    def prune_input(self, th: float = 1e-2, x=None) -> "KAN":
        """A new KAN without the inputs scoring below ``th`` on x; it still takes all columns."""
        return prune.prune_input(self, th=th, x=x)

    def plot(self, path=None, x=None, in_vars=None, out_vars=None, beta: float = 3.0, **kwargs):
        """The network diagram with every edge's curve; returns the Figure (writes only to ``path``)."""
        return plot.plot_network(self, x, path=path, in_vars=in_vars, out_vars=out_vars, beta=beta, **kwargs)

    def save(self, path) -> None:
        """Write this model to ``path`` (safetensors + JSON config, atomic)."""
        io.save(self, path)

    @classmethod
    def load(cls, path, device=None) -> "KAN":
        """Read a model written by :meth:`save`."""
        return io.load(path, cls, device=device)
