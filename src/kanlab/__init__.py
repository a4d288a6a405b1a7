"""kanlab: Kolmogorov-Arnold Networks with fast B-spline layers, grid extension,
sparsification and pruning, symbolic formulas, and the paper's experiments."""
from .core.layer import KANLayer
from .core.network import KANNetwork
from .model import KAN, discover
from .datasets import create_dataset

__version__ = "0.1.0"
__all__ = ["KAN", "KANLayer", "KANNetwork", "create_dataset", "discover", "__version__"]
