"""Looking inside a trained KAN: attribution scores, pruning, editing, interactions, the network plot
and training videos."""
from .video import animate

__all__ = ["animate"]
