"""Rank candidate functions for one edge by accuracy versus simplicity.

Ranking rule
------------
Every candidate ``f`` is fitted as ``y ~ c * f(a*x + b) + d``
(:func:`kanlab.symbolic.fit.fit_affine`), giving its ``R^2``. Its score (lower is
better) is::

    accuracy_term   = 10 * log10(max(1 - R^2, 0) + FLOOR)     # decibels, FLOOR = 1e-4
    complexity_term = complexity                              # library integer
    score = w * complexity_term + (1 - w) * accuracy_term     # w = weight_simple

``accuracy_term`` is the unexplained variance in decibels: -40 dB for a perfect fit
(it saturates there: R^2 beyond 0.9999 earns nothing more), -20 dB at R^2 = 0.99,
0 dB at R^2 = 0 (the constant fit). One complexity unit is worth ``w / (1 - w)`` dB,
i.e. 4 dB at the default ``w = 0.8``. Consequences at ``w = 0.8``:

* **near-perfect fits -> simplest wins.** Two fits with R^2 >= 0.9999 differ by at most
  ``10 log10(2) = 3.01 dB`` (0.60 score) < one complexity unit (0.8), so the less
  complex one ranks first.
* **a poor simple fit loses.** If the simpler fit has R^2 <= 0.99 (>= -19.96 dB) and a
  rival has R^2 >= 0.9999 (<= -36.99 dB), the rival is ahead by >= 17.0 dB = 3.4 score,
  more than the 0.8 per unit of up to 4 complexity units (the whole built-in range
  0..4), so the accurate function ranks first.

(Both properties hold for any ``0.38 < w < 0.81``.) Ties in score are broken by lower
complexity, then higher R^2, then the order of ``names``. Candidates with
``R^2 < r2_threshold`` (by default: worse than the constant fit) or non-finite R^2
are dropped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from .affine_fit import AffineFit, fit_affine
from ..core.primitives import Primitive, default_library, get

__all__ = ["Suggestion", "suggest", "ranking_score", "accuracy_term", "FLOOR", "SCALE_FREE", "tiny_stretch"]

#: floor added to the unexplained variance 1 - R^2 (accuracy saturates at -40 dB)
FLOOR = 1e-4

#: library functions whose shape does not depend on the scale of their argument
SCALE_FREE = frozenset({"x", "x^2", "x^3", "x^4", "x^5", "1/x", "1/x^2", "sqrt", "1/sqrt", "abs", "sgn", "0"})


def tiny_stretch(name: str, a: float, span: float) -> bool:
    """True when a fitted ``c f(a x + b) + d`` with a transcendental f (not in SCALE_FREE) only
    uses a tiny stretch of f's argument (|a| * span < 1, span = the range of x): there f merely
    mimics a low-order polynomial, so the polynomial should be preferred (discover adds 2 to such
    a candidate's complexity)."""
    return name not in SCALE_FREE and abs(a) * span < 1.0


@dataclass(frozen=True)
class Suggestion:
    """One ranked candidate: its name, R^2, complexity, score and affine fit."""

    name: str
    r2: float
    complexity: int
    score: float
    fit: AffineFit


def accuracy_term(r2: float, floor: float = FLOOR) -> float:
    """``10 * log10(max(1 - r2, 0) + floor)`` (``+inf`` for a non-finite ``r2``)."""
    if not math.isfinite(r2):
        return math.inf
    return 10.0 * math.log10(max(1.0 - r2, 0.0) + floor)


def ranking_score(r2: float, complexity: float, weight_simple: float = 0.8, floor: float = FLOOR) -> float:
    """``weight_simple * complexity + (1 - weight_simple) * accuracy_term(r2)``; lower is better."""
    acc = accuracy_term(r2, floor)
    if math.isinf(acc):
        return math.inf
    return weight_simple * complexity + (1.0 - weight_simple) * acc


def suggest(
    x: Any,
    y: Any,
    names: Iterable[str | Primitive] | str | None = None,
    topk: int | None = 5,
    weight_simple: float = 0.8,
    r2_threshold: float = 0.0,
    **fit_kwargs: Any,
) -> list[Suggestion]:
    """Fit every candidate in ``names`` (default :func:`default_library`) to the samples
    and return the best ``topk`` (``None``: all) as :class:`Suggestion`, best first,
    ranked by the rule in the module docstring. ``fit_kwargs`` go to
    :func:`kanlab.symbolic.fit.fit_affine`."""
    if not 0.0 <= float(weight_simple) <= 1.0:
        raise ValueError(f"weight_simple must lie in [0, 1], got {weight_simple}")
    if topk is not None and int(topk) < 1:
        raise ValueError(f"topk must be >= 1 or None, got {topk}")
    if names is None:
        names = default_library()
    elif isinstance(names, (str, Primitive)):
        names = [names]
    prims = [get(n) for n in names]
    fits = fit_affine(x, y, prims, **fit_kwargs)
    ranked = []
    for i, (prim, fit) in enumerate(zip(prims, fits)):
        if not math.isfinite(fit.r2) or fit.r2 < r2_threshold:
            continue
        s = ranking_score(fit.r2, prim.complexity, float(weight_simple))
        ranked.append((s, prim.complexity, -fit.r2, i, Suggestion(prim.name, fit.r2, prim.complexity, s, fit)))
    ranked.sort(key=lambda t: t[:4])
    out = [t[-1] for t in ranked]
    return out if topk is None else out[: int(topk)]
