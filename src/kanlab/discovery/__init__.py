"""Data -> formula: the ``discover`` pipeline and its stages (separability, symmetry, target
transforms). The user-facing entry point is :func:`kanlab.discover`."""
from .pipeline import DiscoverResult, discover

__all__ = ["DiscoverResult", "discover"]
