"""Baselines the paper compares KANs with."""
from .mlp import MLP, match_mlp_width, n_params

__all__ = ["MLP", "match_mlp_width", "n_params"]
