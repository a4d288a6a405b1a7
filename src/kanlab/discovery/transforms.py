"""Target transforms for :func:`kanlab.discover`'s pipelines.

log|y|. When y never changes sign, a product or quotient of powers becomes a sum, which a KAN
represents with one hidden node: y = b (a - 1) gives log|y| = log|b| + log|a - 1|, y = a / b
gives log|a| - log|b|. The log pipeline fits g(x) ~ log|y| and returns the formula in the
user's units, visibly: y = s * exp(g(x)) with s = sign(y) = +1 or -1.
"""
from __future__ import annotations

import numpy as np
import sympy

__all__ = ["log_target", "from_log"]


def log_target(y: np.ndarray):
    """(sign, log|y|) when y has one strict sign (no zeros), else None."""
    if np.all(y > 0):
        return 1, np.log(y)
    if np.all(y < 0):
        return -1, np.log(-y)
    return None


def from_log(g, sign: int):
    """y = sign * exp(g), with exp(log u) and exp(a + b) = exp(a) exp(b) multiplied out."""
    e = sympy.expand(sympy.exp(g), power_exp=True, mul=False, multinomial=False, log=False)
    e = sympy.powsimp(sympy.powdenest(e), combine="base")
    return sign * e
