"""Reproductions of the paper's experiments: ``kanlab reproduce NAME [--quick]``."""
from __future__ import annotations

import importlib

from .runner import Experiment, run_experiment

AVAILABLE = ("anderson", "continual", "feynman", "knots", "pde", "rapidity", "special", "srbench", "toy")

__all__ = ["AVAILABLE", "get_experiment", "run_experiment", "Experiment"]


def get_experiment(name: str) -> Experiment:
    if name not in AVAILABLE:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(AVAILABLE)}")
    return importlib.import_module(f".{name}", __name__).EXPERIMENT
