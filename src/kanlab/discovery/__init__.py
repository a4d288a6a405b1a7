"""Data -> formula: the ``discover`` pipeline and its stages. The user-facing entry point is
:func:`kanlab.discover`.

  config      DiscoverConfig: the settings, validated once, passed to every stage and the recursion
  data        Problem: the checked data, split once into training and held-out rows
  candidates  Candidate (every pipeline's one record), LogEntry / StageLog, the choice rule, Pareto
  kan_stage   data -> trained, pruned, symbolified KAN -> raw formula; the dense oracle
  pipelines   the candidate pipelines (separable, identity, log) by name
  separable   separability tests and the rebuilt formula on a numeric oracle
  symmetry    two-variable symmetries on an oracle
  transforms  target transforms (log|y|)
  pipeline    discover(): runs the pipelines, chooses, reports
"""
from .candidates import Candidate, DiscoverError, LogEntry, ParetoPoint
from .config import DiscoverConfig
from .pipeline import DiscoverResult, discover, discover_with

__all__ = ["DiscoverResult", "DiscoverConfig", "DiscoverError", "Candidate", "LogEntry", "ParetoPoint", "discover",
           "discover_with"]
