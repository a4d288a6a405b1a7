"""discover's settings as one validated, frozen object: built once from ``discover``'s keyword
arguments, passed unchanged to every stage and to the recursion (the separable pipeline
solving reduced data afresh), so no stage re-lists the settings."""
from __future__ import annotations

import numbers
from dataclasses import dataclass, fields, replace

from ..validate import KanlabError

__all__ = ["DiscoverConfig", "PIPELINES"]

#: the candidate pipelines, in the default order
PIPELINES = ("separable", "identity", "log")


def _int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise KanlabError(f"{name} must be an integer{f' >= {low}' if low > -(2 ** 63) else ''}, got {value!r}")
    return int(value)


def _float(value, name: str, low: float, high: float = float("inf"), open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise KanlabError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not (low < v if open_low else low <= v) or not v < high:
        raise KanlabError(f"{name} must be in {'(' if open_low else '['}{low}, {high}), got {value!r}")
    return v


@dataclass(frozen=True)
class DiscoverConfig:
    """The settings of one ``discover`` call (see :func:`kanlab.discovery.pipeline.discover`):

    seed          model initialisation and the train / held-out split
    hidden        hidden width of the KAN [n, hidden, 1] (None: 2n + 1)
    grids         grid sizes, trained in turn (the model refined between them)
    sparse_steps  steps of the first fit with the sparsity penalty (lamb, lamb_entropy)
    steps         steps of each later fit
    lib           the symbolic library (names), None for the default
    topk          candidates tried per edge
    test_size     fraction of the rows held out (they guide choices and are reported)
    snap_tol      the rule a snapped constant must pass: None (default) the information
                  criterion's price per constant (adapts to the noise; see
                  kanlab.symbolic.snap_search), a number: the training RMSE may rise by this fraction
    verbose       details of every stage to stderr (logging DEBUG) for this call
    model_cls     the network class (``kanlab.discover`` passes the ``KAN`` facade)
    transforms    the candidate pipelines, tried in this order (a subset of PIPELINES)
    time_budget   seconds for the whole call (None: no bound): once spent, the pipelines not
                  started yet are skipped (a stage that has started finishes; the identity
                  pipeline still runs when no formula was found yet)
    max_rows      rows used at most: a larger table is subsampled (seeded, logged) to this many
    """

    seed: int = 0
    hidden: int | None = None
    grids: tuple = (5, 10, 20)
    sparse_steps: int = 100
    steps: int = 50
    lamb: float = 1e-2
    lamb_entropy: float = 10.0
    lib: object = None
    topk: int = 3
    test_size: float = 0.2
    snap_tol: float | None = None
    verbose: bool = False
    model_cls: object = None
    transforms: tuple = PIPELINES
    time_budget: float | None = None
    max_rows: int = 20_000

    def __post_init__(self):
        transforms = tuple(self.transforms) if not isinstance(self.transforms, str) else (self.transforms,)
        if set(transforms) - set(PIPELINES) or not transforms:
            raise KanlabError(f"transforms must be a non-empty subset of ('identity', 'separable', 'log'), "
                              f"got {self.transforms!r}")
        try:
            grids = tuple(_int(g, "every grid size", 1) for g in self.grids)
        except TypeError:
            raise KanlabError(f"grids must be a sequence of grid sizes, got {self.grids!r}") from None
        if not grids:
            raise KanlabError("grids must name at least one grid size")
        model_cls = self.model_cls
        if model_cls is None:
            from ..core.network import KANNetwork
            model_cls = KANNetwork
        values = dict(
            seed=_int(self.seed, "seed", -(2 ** 63)), transforms=transforms, grids=grids, model_cls=model_cls,
            hidden=None if self.hidden is None else _int(self.hidden, "hidden", 1),
            sparse_steps=_int(self.sparse_steps, "sparse_steps", 0), steps=_int(self.steps, "steps", 1),
            lamb=_float(self.lamb, "lamb", 0.0), lamb_entropy=_float(self.lamb_entropy, "lamb_entropy", 0.0),
            topk=_int(self.topk, "topk", 1), test_size=_float(self.test_size, "test_size", 0.0, 1.0, open_low=True),
            snap_tol=None if self.snap_tol is None else _float(self.snap_tol, "snap_tol", 0.0), verbose=bool(self.verbose),
            lib=tuple(self.lib) if isinstance(self.lib, list) else self.lib,
            time_budget=None if self.time_budget is None else _float(self.time_budget, "time_budget", 0.0,
                                                                     open_low=True),
            max_rows=_int(self.max_rows, "max_rows", 20))
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def replace(self, **changes) -> "DiscoverConfig":
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def names(cls) -> tuple:
        """The settings' names (discover's keyword arguments)."""
        return tuple(f.name for f in fields(cls))
