"""Whether numba runs in this process: the one place that reads ``KANLAB_NUMBA``.

numba is optional: without it (or with ``KANLAB_NUMBA=0`` in the environment, to compare with
or debug the torch paths) every compute path has a torch equivalent with the same results to
rounding. Every user of numba (the kernels of this package, the L-BFGS updates in
``kanlab.training.lbfgs``) imports it from here, so that the switch reaches all of them, and
the dispatcher (``kernels.dispatch``) names ``UNAVAILABLE_REASON`` when it cannot take a numba
path.
"""
from __future__ import annotations

import os

__all__ = ["AVAILABLE", "DISABLED_BY_ENV", "UNAVAILABLE_REASON", "numba", "njit"]

DISABLED_BY_ENV = os.environ.get("KANLAB_NUMBA", "1") == "0"

try:
    if DISABLED_BY_ENV:
        raise ImportError("disabled by KANLAB_NUMBA=0")
    import numba

    AVAILABLE = True
    UNAVAILABLE_REASON = ""
except ImportError:  # pragma: no cover - exercised when numba is missing or disabled
    numba = None
    AVAILABLE = False
    UNAVAILABLE_REASON = "KANLAB_NUMBA=0 is set" if DISABLED_BY_ENV else "numba is not installed"


def njit(**options):
    """``numba.njit(**options)`` when numba runs, else a decorator that leaves the function as
    plain Python (for small helpers that must run either way)."""
    if AVAILABLE:
        return numba.njit(**options)
    return lambda fn: fn
