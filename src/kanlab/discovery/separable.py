"""Separability, tested on a numeric oracle, for :func:`kanlab.discover`.

The trained numeric KAN is accurate (error ~ ``tol``) and can be evaluated anywhere in the data's
box, so it serves as an oracle for f. For a split of the variables into groups A and B, sample
m points a_1..a_m of A and b_1..b_m of B and form the matrix M_ij = f(a_i, b_j) (the test is
:mod:`kanlab.structure.split`, shared with the public :mod:`kanlab.structure`). Then

  * f = g(A) + h(B)        (additive)   <=>  M minus its row and column means (plus the grand
                                              mean) vanishes;
  * f = g(A) h(B)          (product)    <=>  M has rank 1;
  * f = sum_k g_k(A) h_k(B), k = 1, 2   <=>  M has rank 2 (e.g. 1 + a sin(theta), or
                                              cos(a) + alpha cos(a)^2, or (1 + a b) / (1 + a)).

"Vanishes" means: RMS of what is left (after removing the means, or beyond the first one or
two singular values) below ``tol``. For a split that passes, f is rebuilt exactly from
functions of fewer variables, at anchor points a0, a1 of A and b0, b1 of B (simple values such
as 0, 1, -1 inside the box, so that the pieces come out simple):

  additive:  f = f(A, b0) + f(a0, B) - f(a0, b0)
  product:   f = f(A, b0) f(a0, B) / f(a0, b0)
  rank 2:    f = sum_ij f(A, b_j) (K^-1)_ji f(a_i, B),  K_ij = f(a_i, b_j)   (cross approximation;
             the second piece of each side is solved as a difference, f(A, b1) - f(A, b0))

Order of the tests on f (or a piece): an additive or product split; else a two-variable
symmetry (:mod:`kanlab.structure.symmetry`: f depends on x_i, x_j only through x_i - x_j,
x_i + x_j, x_i x_j or x_i / x_j), after which the pair is one new variable; else a split of a
transform of f (1/f, f^2, log|f|, sin f, tan f); a rank-2 split of f itself only when no
transform splits more simply (asin(a / n) is nearly rank 2 within the oracle's tolerance, while
sin of it is exactly rank 1).

Each piece is solved the same way, recursively; a piece of one variable is fitted directly to
the library (c f(a x + b) + d), and a piece that is neither separable nor one-dimensional goes
to ``fallback`` (a KAN fitted on oracle samples). The combined formula's constants are then
refitted on the real data by the caller (the pieces only carry the oracle's accuracy).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import sympy
import torch

from ..structure import symmetry
from ..structure.split import best_split
from .. import symbolic
from ..symbolic.rank import tiny_stretch

__all__ = ["separable_formula"]

_SIMPLE = (0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 1.5, 0.25, 3.0, -3.0)


def _anchors(lo: float, hi: float, k: int = 3):
    """Up to k simple values inside [lo, hi] (simplest first), padded with interior points."""
    vals = [v for v in _SIMPLE if lo <= v <= hi][:k]
    for t in (0.5, 0.25, 0.75, 0.1, 0.9):
        if len(vals) >= k:
            break
        v = float(np.round(lo + t * (hi - lo), 2))
        if lo <= v <= hi and v not in vals:
            vals.append(v)
    return vals


class _Ctx:
    def __init__(self, oracle, lo, hi, tol, syms, fallback, lib, seed, max_fallbacks, root_symmetry):
        self.oracle, self.lo, self.hi, self.tol, self.syms = oracle, lo, hi, tol, list(syms)
        self.fallback, self.lib, self.max_fallbacks = fallback, lib, max_fallbacks
        self.root_symmetry = root_symmetry
        self.rng = np.random.default_rng(seed)
        self.base = (lo + hi) / 2

    def add_var(self, lo, hi, sym) -> int:
        """A new column (a combination of variables found by a symmetry): its index."""
        self.lo, self.hi = np.append(self.lo, lo), np.append(self.hi, hi)
        self.base = np.append(self.base, (lo + hi) / 2)
        self.syms.append(sym)
        return len(self.lo) - 1

    def sample(self, idx, m):
        X = np.tile(self.base, (m, 1))
        X[:, idx] = self.rng.uniform(self.lo[idx], self.hi[idx], size=(m, len(idx)))
        return X


def _freeze(f, cols, vals):
    cols, vals = list(cols), np.asarray(vals, dtype=float)

    def g(X):
        X = X.copy()
        X[:, cols] = vals
        return f(X)
    return g


def _point(ctx, fixed: dict):
    X = ctx.base.copy()[None, :]
    for k, v in fixed.items():
        X[0, k] = v
    return X


# inner functions tried for a one-variable piece that is no single library edge:
# y = c F(alpha G(x) + beta) + d with G one of these (unit argument) and F from the library
_INNER = {"x^2": lambda x: x ** 2, "x^3": lambda x: x ** 3, "1/x": lambda x: 1 / x, "sqrt": np.sqrt,
          "exp": np.exp, "exp(-x)": lambda x: np.exp(-x), "log": np.log, "sin": np.sin, "cos": np.cos}
_INNER_SYMPY = {"x^2": lambda s: s ** 2, "x^3": lambda s: s ** 3, "1/x": lambda s: 1 / s, "sqrt": sympy.sqrt,
                "exp": sympy.exp, "exp(-x)": lambda s: sympy.exp(-s), "log": sympy.log, "sin": sympy.sin,
                "cos": sympy.cos}


def _cost(s, u) -> int:
    """Complexity of a fitted edge, +2 for a transcendental function used over a tiny stretch of
    its argument (:func:`kanlab.symbolic.rank.tiny_stretch`)."""
    return s.complexity + (2 if tiny_stretch(s.name, s.fit.a, float(np.ptp(u))) else 0)


def _fit_1d(f, k, ctx, tol):
    """A one-variable piece: the simplest library edge c f(a x + b) + d within tol, else the
    simplest two-function composition within tol, c F(alpha G(x) + beta) + d with G from _INNER
    or F(c f(a x + b) + d) with F = exp, sqrt, 1/x, x^2 (fitted on log|y|, y^2, 1/y, sqrt|y|),
    else a KAN fit (``fallback``)."""
    x = np.linspace(ctx.lo[k], ctx.hi[k], 401)
    X = np.tile(ctx.base, (len(x), 1))
    X[:, k] = x
    y = f(X)
    if not np.all(np.isfinite(y)):
        raise _GiveUp
    sd = float(np.std(y))
    if sd <= tol:
        return sympy.Float(float(np.mean(y)))
    yt = torch.as_tensor(y)

    def simplest(u):
        sug = symbolic.suggest(torch.as_tensor(u), yt, names=ctx.lib, topk=None)
        ok = [s for s in sug if sd * math.sqrt(max(1.0 - s.r2, 0.0)) <= tol]
        return min(ok, key=lambda s: (_cost(s, u), -s.r2)) if ok else None

    best = simplest(x)
    if best is not None:
        return best.fit.expr(ctx.syms[k])
    found = []
    for name, g in _INNER.items():
        with np.errstate(all="ignore"):
            u = g(x)
        if not np.all(np.isfinite(u)) or np.std(u) < 1e-12:
            continue
        s = simplest(u)
        if s is not None:
            found.append((_cost(s, u) + 2, -s.r2, name, s))
    if np.all(y > 0) or np.all(y < 0):  # y = F(one edge) with F = exp, sqrt, 1/x or x^2
        sg = 1.0 if y[0] > 0 else -1.0
        for inv, outer in ((np.log, sympy.exp), (np.square, sympy.sqrt), (np.reciprocal, lambda e: 1 / e),
                           (np.sqrt, lambda e: e ** 2)):
            u = inv(sg * y)
            sug = symbolic.suggest(torch.as_tensor(x), torch.as_tensor(u), names=ctx.lib, topk=None)
            for s in sug:
                with np.errstate(all="ignore"):
                    back = sg * _np_outer(outer, s.fit.predict(torch.as_tensor(x)).numpy())
                if float(np.sqrt(np.mean((back - y) ** 2))) <= tol:
                    found.append((_cost(s, x) + 2, -s.r2, (outer, sg), s))
                    break
    if found:
        _, _, how, s = min(found, key=lambda t: t[:2])
        if isinstance(how, str):
            return s.fit.expr(_INNER_SYMPY[how](ctx.syms[k]))
        outer, sg = how
        return sg * outer(s.fit.expr(ctx.syms[k]))
    return _fallback(f, [k], ctx)


def _np_outer(outer, v):
    x = sympy.Symbol("x")
    return sympy.lambdify(x, outer(x), "numpy")(v)


def _fallback(f, idx, ctx):
    if ctx.max_fallbacks <= 0:
        raise _GiveUp
    ctx.max_fallbacks -= 1
    X = ctx.sample(idx, 1000)
    names = [f"_v{k}" for k in idx]  # placeholders: a column may be a combination of variables
    expr = ctx.fallback(X[:, idx], f(X), names)
    return expr.xreplace({sympy.Symbol(v): ctx.syms[k] for v, k in zip(names, idx)})


class _GiveUp(Exception):
    pass


def _piece_transforms(y):
    """Transforms g tried on a piece that does not split, as (g, inverse of g as a formula,
    |g'|): y^2 where y keeps one sign; 1/y and log|y| also need y away from 0 (|y| >= 2% of
    max |y|), where their error amplification |g'| stays moderate; sin y (inverse asin) where
    |y| <= 1.5 and tan y (inverse atan) where |y| <= 1.4. The split test on g(f) uses
    the propagated tolerance tol * rms(|g'(f)|), and a transform is skipped (by the caller) when
    that tolerance relative to the spread of g(f) is over twice tol relative to the spread of f:
    the tests would pass too easily. The transform whose split is simplest wins."""
    out = []
    if np.all(y > 0) or np.all(y < 0):
        s = 1.0 if y[0] > 0 else -1.0
        out.append((lambda v: v ** 2, lambda e: s * sympy.sqrt(e), lambda v: 2 * np.abs(v)))
        if np.min(np.abs(y)) >= 0.02 * np.max(np.abs(y)):  # 1/y and log|y| only away from y = 0
            out += [(lambda v: 1 / v, lambda e: 1 / e, lambda v: 1 / v ** 2),
                    (lambda v: np.log(s * v), lambda e: s * sympy.exp(e), lambda v: 1 / np.abs(v))]
    top = float(np.max(np.abs(y)))
    if top <= 1.5:  # y = asin(...) or atan(...) of a separable function
        out.append((np.sin, sympy.asin, lambda v: np.abs(np.cos(v))))
    if top <= 1.4:
        out.append((np.tan, sympy.atan, lambda v: 1 / np.cos(v) ** 2))
    return out


def _solve(f, idx, ctx, tol, depth=0):
    X = ctx.sample(idx, 200)
    y = f(X)
    if not np.all(np.isfinite(y)):
        raise _GiveUp
    if float(np.std(y)) <= tol:
        return sympy.Float(float(np.mean(y)))
    # drop the variables f does not depend on
    keep = []
    for k in idx:
        X2 = X.copy()
        X2[:, k] = ctx.rng.uniform(ctx.lo[k], ctx.hi[k], size=len(X))
        if float(np.sqrt(np.mean((f(X2) - y) ** 2))) > tol:
            keep.append(k)
    idx = keep or idx[:1]
    if len(idx) == 1:
        return _fit_1d(f, idx[0], ctx, tol)
    if depth > 6:
        return _fallback(f, idx, ctx)
    # order of the module docstring: add / mul split, symmetry, transforms, then rank 2
    split = best_split(f, idx, ctx.sample, tol)
    if split is not None and split[0] != "rank2":
        return _combine(f, split, ctx, tol, depth)
    found = symmetry.find_symmetry(f, X, idx, ctx.lo, ctx.hi, tol, ctx.rng)
    if found is not None:
        if depth == 0 and ctx.root_symmetry is not None:
            return ctx.root_symmetry(*found)  # the caller solves the reduced data afresh
        F, idx = _reduce(f, found, idx, ctx)
        return _solve(F, idx, ctx, tol, depth + 1)
    tried = [] if split is None else [(2, -1, f, lambda e: e, split, tol)]
    for g, g_inv, dg in _piece_transforms(y):
        tol_g = tol * float(np.sqrt(np.mean(dg(y) ** 2)))
        if tol_g / max(float(np.std(g(y))), 1e-300) > 2 * tol / float(np.std(y)):
            continue  # the transform would make the split tests twice as loose (relative to the spread)
        fg = (lambda h: (lambda Z: h(f(Z))))(g)
        split = best_split(fg, idx, ctx.sample, tol_g)
        if split is not None:
            tried.append((("add", "mul", "rank2").index(split[0]), len(tried), fg, g_inv, split, tol_g))
    if tried:
        _, _, fg, g_inv, split, tol_g = min(tried, key=lambda t: t[:2])
        return g_inv(_combine(fg, split, ctx, tol_g, depth))
    if depth == 0:
        raise _GiveUp  # nothing separable at all: the plain KAN pipeline already covers this
    return _fallback(f, idx, ctx)


def _reduce(f, found, idx, ctx):
    """(F, new idx) for f that depends on two of its variables only through one combination u
    (``found`` = (kind, i, j), see kanlab.structure.symmetry): F reads u from a new column and sets the
    pair from it."""
    kind, i, j = found
    bi, bj = (ctx.lo[i], ctx.hi[i]), (ctx.lo[j], ctx.hi[j])
    u = ctx.add_var(*symmetry.u_range(kind, bi, bj), symmetry.combine(kind, ctx.syms[i], ctx.syms[j]))
    return symmetry.reduce_oracle(f, kind, i, j, bi, bj, u), [k for k in idx if k not in (i, j)] + [u]


def _combine(f, split, ctx, tol, depth):
    """f rebuilt from the pieces of a passing split (formulas of the module docstring)."""
    kind, A, B = split
    cand_a = list(zip(*[_anchors(ctx.lo[k], ctx.hi[k]) for k in A]))
    cand_b = list(zip(*[_anchors(ctx.lo[k], ctx.hi[k]) for k in B]))

    def val(a, b):
        return float(f(_point(ctx, {**dict(zip(A, a)), **dict(zip(B, b))}))[0])

    def part(group, vals, other):
        return _solve(_freeze(f, group, vals), other, ctx, tol, depth + 1)

    if kind in ("add", "mul"):
        a0, b0 = max(itertools.product(cand_a, cand_b), key=lambda p: abs(val(*p)) if kind == "mul" else 0)
        g, h, c = part(B, b0, A), part(A, a0, B), val(a0, b0)
        return g + h - c if kind == "add" else g * h / c
    # rank 2: the anchor pairs with the best-conditioned K
    best = None
    for (a0, a1), (b0, b1) in itertools.product(itertools.combinations(cand_a, 2), itertools.combinations(cand_b, 2)):
        K = np.array([[val(a0, b0), val(a0, b1)], [val(a1, b0), val(a1, b1)]])
        q = abs(np.linalg.det(K)) / max(float(np.sum(K ** 2)), 1e-300)
        if best is None or q > best[0]:
            best = (q, (a0, a1), (b0, b1), K)
    q, (a0, a1), (b0, b1), K = best
    if q < 1e-6:
        return _fallback(f, A + B, ctx)
    W = np.linalg.inv(K)
    # f(A, b1) is solved as f(A, b0) + [f(A, b1) - f(A, b0)]: the difference drops whatever the
    # two share (for f = u(A) + v(A) w(B) it is v(A) times a constant), so it is often simpler
    c0 = part(B, b0, A)
    c1 = c0 + _solve(_diff(f, B, b1, b0), A, ctx, 1.5 * tol, depth + 1)
    r0 = part(A, a0, B)
    r1 = r0 + _solve(_diff(f, A, a1, a0), B, ctx, 1.5 * tol, depth + 1)
    cols, rows = [c0, c1], [r0, r1]   # f(A, b_j), f(a_i, B)
    return sum(cols[j] * sympy.Float(W[j, i]) * rows[i] for i in range(2) for j in range(2))


def _diff(f, cols, v1, v0):
    f1, f0 = _freeze(f, cols, v1), _freeze(f, cols, v0)
    return lambda X: f1(X) - f0(X)


def separable_formula(oracle, lo, hi, idx, tol, syms, fallback, lib=None, seed=0, max_fallbacks=2,
                      root_symmetry=None, on_error=None):
    """A formula for the oracle on the box [lo, hi] over the variables idx, built from
    separable pieces (see the module docstring), or None when f is not separable at all or the
    pieces need more than ``max_fallbacks`` KAN fits. For one variable: a library edge or a
    two-function composition (no KAN fit), else None. ``oracle``: (N, n) array -> (N,) array;
    ``fallback(X, y, names)``: a sympy formula in Symbols ``names`` (one per column of X) fitted
    to samples of a non-separable piece. ``root_symmetry(kind, i, j)``, when given, is called
    instead of reducing the oracle when f itself (not a piece) has a symmetry of
    :mod:`kanlab.structure.symmetry` and no additive or product split; it returns the formula
    (e.g. found afresh on the data with x_i, x_j replaced by their combination), or None.
    ``on_error(exc)``, when given, is told of a numerical failure (a piece not finite on the box, a
    singular matrix, an overflow) that ended the search; the result is then None, as when f
    does not split."""
    n = len(lo)
    ctx = _Ctx(oracle, np.asarray(lo, float), np.asarray(hi, float), tol, syms, fallback, lib, seed, max_fallbacks,
               root_symmetry)
    idx = list(idx)
    if not idx:
        return None
    if len(idx) == 1:
        ctx.max_fallbacks = 0  # a library edge or composition, else None (a KAN fit is the caller's)
    try:
        return _solve(lambda X: oracle(X[:, :n]), idx, ctx, tol)  # extra columns: combinations
    except _GiveUp:
        return None  # not separable, or a piece not finite on the box
    except (ValueError, ZeroDivisionError, np.linalg.LinAlgError, OverflowError) as e:
        if on_error is not None:
            on_error(e)
        return None
