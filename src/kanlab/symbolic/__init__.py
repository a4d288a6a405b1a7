"""Edge-level symbolic maths: a library of primitives, affine fits
``y ~ c * f(a*x + b) + d`` of one edge's samples, and a ranking of candidates.

This package knows nothing about networks; it works on 1-D samples ``(x, y)``.
"""
from ..core.primitives import LIBRARY, Primitive, UnknownSymbolicFunction, default_library, get, names, register, unregister
from .affine_fit import AffineFit, fit_affine, fit_affine_batch
from .rank import Suggestion, suggest

__all__ = [
    "Primitive",
    "LIBRARY",
    "get",
    "register",
    "unregister",
    "names",
    "default_library",
    "UnknownSymbolicFunction",
    "fit_affine",
    "fit_affine_batch",
    "AffineFit",
    "suggest",
    "Suggestion",
]
