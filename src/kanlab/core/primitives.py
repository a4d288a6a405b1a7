"""Library of symbolic primitives for edge-level symbolic regression.

Every primitive is a :class:`Primitive` holding the same function in four forms:

``torch_fn(x)``
    the exact torch form (may return ``inf``/``nan`` outside its domain);
``safe_torch_fn(x)``
    a singularity-safe torch form meant for training a symbolic edge: it equals
    ``torch_fn`` inside the domain (away from a tiny margin at singular points) and
    is finite, with finite gradients, for every finite input;
``sympy_fn(sym)``
    the sympy expression, used to build formulas;
``numpy_fn(x)``
    the numpy form (numpy warnings for domain errors are silenced; the values are
    ``nan``/``inf`` exactly as numpy gives them).

Built-in primitives, their complexities and their safe forms
-------------------------------------------------------------
Complexity is a small integer that ranks how "simple" a function is (it is used by
:func:`kanlab.symbolic.suggest` to prefer simple formulas). The ordering follows the
KAN paper's library: the zero function is free, the identity costs 1, low powers,
reciprocals, roots, exp/log and sin/cos cost 2, higher powers and the remaining
smooth or piecewise functions cost 3, and the inverse trig/hyperbolic functions with
a bounded domain cost 4.

===========  ===================  ==========  =====================================
name         function             complexity  safe form (training)
===========  ===================  ==========  =====================================
``x``        x                    1           same
``x^2``      x**2                 2           same
``x^3``      x**3                 3           same
``x^4``      x**4                 3           same
``x^5``      x**5                 4           same (not in ``default_library()``)
``1/x``      1/x                  2           ``|x|`` clamped to >= SAFE_EPS, sign kept
``1/x^2``    1/x**2               2           ``x**2`` clamped to >= SAFE_EPS**2
``sqrt``     sqrt(x)              2           value sqrt(max(x, 0)); gradient taken
                                              from sqrt(max(x, SAFE_EPS)) (finite)
``1/sqrt``   1/sqrt(x)            2           x clamped to >= SAFE_EPS
``exp``      exp(x)               2           x clamped to <= EXP_MAX (no overflow in
                                              float32)
``log``      log(x)               2           x clamped to >= SAFE_EPS
``sin``      sin(x)               2           same
``cos``      cos(x)               2           same
``tan``      tan(x)               3           x reduced modulo pi, then clamped to
                                              [-pi/2 + SAFE_EPS, pi/2 - SAFE_EPS]
``tanh``     tanh(x)              3           same
``cosh``     cosh(x)              3           x clamped to [-EXP_MAX, EXP_MAX]
``sinh``     sinh(x)              3           x clamped to [-EXP_MAX, EXP_MAX]
``arctan``   arctan(x)            3           same
``arcsin``   arcsin(x)            4           x clamped to [-1 + DOMAIN_EPS,
                                              1 - DOMAIN_EPS]
``arctanh``  arctanh(x)           4           x clamped to [-1 + DOMAIN_EPS,
                                              1 - DOMAIN_EPS]
``abs``      abs(x)               3           same
``sgn``      sign(x)              3           same (zero gradient)
``gaussian`` exp(-x**2)           3           same
``0``        0                    0           x * 0 (zero, attached to the graph)
===========  ===================  ==========  =====================================

Registry
--------
:data:`LIBRARY` is a read-only, ordered mapping ``name -> Primitive``. Look names up
with :func:`get` (an unknown name raises :class:`UnknownSymbolicFunction`, which is
both a ``KeyError`` and a ``ValueError``) and add your own functions with
:func:`register`. Models store only the *name* of a symbolic function, never the
function itself, so a saved model that uses a user-registered function can be
loaded in a new process once the same name has been registered again. All built-in
forms are module-level functions (picklable); the default ``numpy_fn`` built from
a sympy form is a small picklable callable as well.

:func:`default_library` lists the names searched by automatic symbolic fitting:
every registered name (including ``"0"``, so that a dead edge can be recognised)
except those registered with ``in_default=False`` -- of the built-ins only
``"x^5"`` is left out, because on a short interval it is nearly indistinguishable
from ``x^3`` and rarely the intended formula.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import sympy
import torch

__all__ = [
    "Primitive",
    "LIBRARY",
    "UnknownSymbolicFunction",
    "get",
    "register",
    "unregister",
    "names",
    "default_library",
    "SAFE_EPS",
    "DOMAIN_EPS",
    "EXP_MAX",
]

from .primitive_forms import BUILTINS, DOMAIN_EPS, EXP_MAX, SAFE_EPS  # noqa: F401 (re-exported constants)


class UnknownSymbolicFunction(KeyError, ValueError):
    """Raised when a symbolic function name is not registered."""

    def __init__(self, name: Any, available: list[str] | None = None):
        self.name = name
        avail = list(LIBRARY) if available is None else list(available)
        self.available = avail
        msg = f"unknown symbolic function {name!r}"
        if isinstance(name, str):
            close = difflib.get_close_matches(name, avail, n=3, cutoff=0.6)
            if close:
                msg += f" (did you mean {', '.join(repr(c) for c in close)}?)"
        msg += (
            f"; available: {', '.join(avail)}. "
            "Add new functions with kanlab.symbolic.register(name, torch_fn, sympy_fn, ...)."
        )
        self.message = msg
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return self.message


class _SympyNumpy:
    """Picklable numpy form of a sympy form, built lazily with ``sympy.lambdify``."""

    def __init__(self, sympy_fn: Callable[[Any], Any]):
        self.sympy_fn = sympy_fn
        self._compiled = None

    def _compile(self):
        s = sympy.Symbol("x", real=True)
        expr = sympy.sympify(self.sympy_fn(s))
        self._compiled = sympy.lambdify(s, expr, modules="numpy")
        return self._compiled

    def __call__(self, x):
        fn = self._compiled if self._compiled is not None else self._compile()
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            out = np.asarray(fn(x), dtype=float)
        return np.broadcast_to(out, x.shape).copy() if out.shape != x.shape else out

    def __getstate__(self):
        return {"sympy_fn": self.sympy_fn}

    def __setstate__(self, state):
        self.sympy_fn = state["sympy_fn"]
        self._compiled = None

    def __repr__(self) -> str:
        return f"_SympyNumpy({self.sympy_fn!r})"


@dataclass(frozen=True)
class Primitive:
    """One library function in torch, sympy and numpy forms (see module docstring).

    ``numpy_fn`` defaults to the lambdified ``sympy_fn`` and ``safe_torch_fn`` to
    ``torch_fn`` when passed as ``None``.
    """

    name: str
    torch_fn: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    sympy_fn: Callable[[Any], Any] = field(repr=False)
    numpy_fn: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    complexity: int = 2
    safe_torch_fn: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("a primitive needs a non-empty string name")
        if not callable(self.torch_fn) or not callable(self.sympy_fn):
            raise TypeError(f"primitive {self.name!r}: torch_fn and sympy_fn must be callable")
        if isinstance(self.complexity, bool) or not isinstance(self.complexity, (int, np.integer)):
            raise TypeError(f"primitive {self.name!r}: complexity must be an int")
        if self.complexity < 0:
            raise ValueError(f"primitive {self.name!r}: complexity must be >= 0")
        object.__setattr__(self, "complexity", int(self.complexity))
        if self.numpy_fn is None:
            object.__setattr__(self, "numpy_fn", _SympyNumpy(self.sympy_fn))
        if self.safe_torch_fn is None:
            object.__setattr__(self, "safe_torch_fn", self.torch_fn)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Shorthand for the exact torch form."""
        return self.torch_fn(x)

    def sympy(self, sym: Any) -> sympy.Expr:
        """The sympy expression evaluated at ``sym`` (always a sympy object)."""
        return sympy.sympify(self.sympy_fn(sym))


# --------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------


class _Registry(Mapping):
    """Read-only ordered view ``name -> Primitive``; change it with ``register``."""

    def __init__(self):
        self._entries: dict[str, Primitive] = {}
        self._not_default: set[str] = set()

    def __getitem__(self, name: str) -> Primitive:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownSymbolicFunction(name, list(self._entries)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._entries
        except TypeError:
            return False

    def __repr__(self) -> str:
        return f"LIBRARY({', '.join(self._entries)})"


LIBRARY = _Registry()


def _add(prim: Primitive, in_default: bool = True) -> None:
    LIBRARY._entries[prim.name] = prim
    if in_default:
        LIBRARY._not_default.discard(prim.name)
    else:
        LIBRARY._not_default.add(prim.name)



_BUILTIN_PRIMS: dict[str, Primitive] = {}
for _name, _t, _s, _n, _c, _safe in BUILTINS:
    _BUILTIN_PRIMS[_name] = Primitive(_name, _t, _s, _n, _c, _safe)
    _add(_BUILTIN_PRIMS[_name], in_default=(_name != "x^5"))
del _name, _t, _s, _n, _c, _safe

#: names of the built-in primitives, in library order
BUILTIN_NAMES: tuple[str, ...] = tuple(n for n, *_ in BUILTINS)


def get(name: str | Primitive) -> Primitive:
    """Return the registered :class:`Primitive` called ``name``.

    A :class:`Primitive` passed in is returned unchanged. Unknown names raise
    :class:`UnknownSymbolicFunction` (a ``KeyError`` and a ``ValueError``) whose
    message lists the available names.
    """
    if isinstance(name, Primitive):
        return name
    if not isinstance(name, str):
        raise TypeError(f"symbolic function names are strings, got {type(name).__name__}")
    return LIBRARY[name]


def names() -> list[str]:
    """All registered names, in registration order (built-ins first)."""
    return list(LIBRARY)


def default_library() -> list[str]:
    """Names searched by automatic symbolic fitting (see module docstring).

    Every registered name, ``"0"`` included, except those registered with
    ``in_default=False`` (of the built-ins only ``"x^5"``).
    """
    return [n for n in LIBRARY if n not in LIBRARY._not_default]


def register(
    name: str,
    torch_fn: Callable[[torch.Tensor], torch.Tensor],
    sympy_fn: Callable[[Any], Any],
    numpy_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    complexity: int = 2,
    safe_torch_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    overwrite: bool = False,
    *,
    in_default: bool = True,
) -> Primitive:
    """Add a user primitive to :data:`LIBRARY` and return it.

    ``numpy_fn`` defaults to ``sympy.lambdify`` of ``sympy_fn``; ``safe_torch_fn``
    defaults to ``torch_fn``. Registering a name that already exists raises
    ``ValueError`` unless ``overwrite=True``. ``in_default=False`` keeps the name out
    of :func:`default_library` (automatic searches) while still allowing it by name.

    Models store only the name, so to load a model using this function in another
    process, register the same name there first. Prefer module-level functions
    (picklable) over lambdas.

    Both forms are checked once: ``sympy_fn`` must build a sympy expression from a
    symbol, and ``torch_fn`` must return a tensor of its input's shape.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("the name of a symbolic function must be a non-empty string")
    if name in LIBRARY and not overwrite:
        raise ValueError(
            f"symbolic function {name!r} is already registered; pass overwrite=True to replace it"
        )
    prim = Primitive(name, torch_fn, sympy_fn, numpy_fn, complexity, safe_torch_fn)
    try:
        expr = sympy.sympify(sympy_fn(sympy.Symbol("x", real=True)))
    except Exception as exc:  # noqa: BLE001 - re-raised with context
        raise TypeError(f"sympy_fn of {name!r} does not build a sympy expression: {exc}") from exc
    if not isinstance(expr, sympy.Basic):
        raise TypeError(f"sympy_fn of {name!r} returned {type(expr).__name__}, not a sympy expression")
    probe = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
    for label, fn in (("torch_fn", prim.torch_fn), ("safe_torch_fn", prim.safe_torch_fn)):
        out = fn(probe)
        if not isinstance(out, torch.Tensor) or out.shape != probe.shape:
            raise TypeError(f"{label} of {name!r} must return a tensor shaped like its input")
    _add(prim, in_default=in_default)
    return prim


def unregister(name: str) -> None:
    """Remove a user-registered name.

    For a built-in name that was overwritten, the original built-in is restored; a
    built-in that was not overwritten cannot be removed (``ValueError``). Unknown
    names raise :class:`UnknownSymbolicFunction`.
    """
    current = LIBRARY[name]  # raises for unknown names
    if name in _BUILTIN_PRIMS:
        original = _BUILTIN_PRIMS[name]
        if current is original:
            raise ValueError(f"{name!r} is a built-in symbolic function and cannot be removed")
        _add(original, in_default=(name != "x^5"))
        return
    del LIBRARY._entries[name]
    LIBRARY._not_default.discard(name)
