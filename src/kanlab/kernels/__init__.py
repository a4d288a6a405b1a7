"""The compute paths: B-spline basis kernels (numba and torch), the fused layer kernels, the
large-grid kernels, and the fused MSE evaluator. The lowest layer of kanlab: it imports nothing
from the rest of the package except ``kanlab.validate``."""
