"""From a fully symbolic network to closed-form formulas; exports; a check against the model.

``symbolic_formula`` composes every layer's symbolic edges c * f(a*x + b) + d and the node
biases into one sympy expression per output, in the model's ORIGINAL input variables (after
input pruning, the variables the model no longer reads simply do not appear). Every live edge
must be symbolic: numeric edges left over raise an error that names them.

``formula_check`` evaluates the formulas and the model on the same data and reports the
difference, so a symbolic export never silently disagrees with the model.

Variable names are data (:mod:`.names`): each becomes ``sympy.Symbol(name)`` (never parsed, so
"I", "E", "lambda" or "sin" are plain variables; empty and repeated names get distinct
replacements), generated Python names its arguments x0, x1, ... with the original names only in
``#`` comments as ASCII literals, and LaTeX shows every name escaped.
"""
from __future__ import annotations

import numpy as np
import sympy
import torch

from .. import symbolic
from ..validate import KanlabError
from .expression import real_values
from .user_names import check_python_function, is_python_name, latex_name, python_comment, symbols_for

__all__ = ["symbolic_formula", "bounded_simplify", "simplify_within", "to_latex", "to_callable", "to_python_source", "formula_check", "round_expr"]


def _symbols(network, var_names):
    n = network.n_inputs
    if var_names is None:
        var_names = [f"x_{i + 1}" for i in range(n)]
    var_names = list(var_names)
    if len(var_names) != n:
        raise ValueError(f"var_names needs {n} names (one per original input column), got {len(var_names)}")
    return symbols_for(var_names)


def round_expr(expr, digits: int):
    """Round every float in expr to ``digits`` significant digits."""
    return expr.xreplace({f: sympy.Float(float(f"{float(f):.{digits}g}")) for f in expr.atoms(sympy.Float)})


class _Timeout(Exception):
    pass


def bounded_simplify(expr, seconds: float = 5.0, max_ops: int = 80):
    """``sympy.simplify`` with a time limit: the expression unchanged when it is large (more than
    ``max_ops`` operations) or when simplification takes longer than ``seconds``.

    sympy.simplify is unbounded in time and memory: on a 22-operation formula such as
    cos(7a/5 - 11b/8 + 1/9 - 34/(8c + 10)**2) its trigsimp expands multinomials until the machine
    runs out of memory. The limit uses SIGALRM (POSIX, main thread), which interrupts sympy's pure
    Python loops; elsewhere only the cheap, bounded ``sympy.powsimp`` is applied.
    ``simplify_within`` is the same with the reason it stopped.
    """
    return simplify_within(expr, seconds, max_ops)[0]


def simplify_within(expr, seconds: float = 5.0, max_ops: int = 80):
    """``(expression, status)``: ``bounded_simplify``'s result and how it was reached, so a
    caller that must not mistake "not simplified" for "simplified" (a judge of formulas) can
    tell: "simplified"; "too large" (more than ``max_ops`` operations: unchanged); "timed out"
    (interrupted after ``seconds``: unchanged); "powsimp only" (no SIGALRM here, e.g. outside the
    main thread: only the bounded ``sympy.powsimp`` was applied)."""
    expr = sympy.sympify(expr)
    if sympy.count_ops(expr) > max_ops:
        return expr, "too large"
    import signal
    import threading

    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        return sympy.powsimp(expr), "powsimp only"

    def on_alarm(signum, frame):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return sympy.simplify(expr), "simplified"
    except _Timeout:
        return expr, "timed out"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def symbolic_formula(network, var_names=None, simplify: bool = True, digits: int | None = None):
    """One sympy expression per output of a network whose live edges are all symbolic."""
    numeric = [(l, int(i), int(j)) for l, layer in enumerate(network.layers) for i, j in (layer.mask > 0).nonzero().tolist()]
    if numeric:
        shown = ", ".join(map(str, numeric[:6])) + (" ..." if len(numeric) > 6 else "")
        raise ValueError(f"{len(numeric)} edge(s) are still numeric splines: {shown}; fix them with "
                         "fix_symbolic(l, i, j, name, x=...) or auto_symbolic(x)")
    syms = _symbols(network, var_names)
    h = [syms[i] for i in network.input_ids]
    for l, layer in enumerate(network.layers):
        out = [sympy.Integer(0)] * layer.out_dim
        if layer.bias is not None:
            out = [sympy.Float(float(b)) for b in layer.bias.detach()]
        for i, j, name, (a, b, c, d) in network.symbolic[l].edges():
            f = symbolic.get(name).sympy
            out[j] = out[j] + sympy.Float(c) * f(sympy.Float(a) * h[i] + sympy.Float(b)) + sympy.Float(d)
        h = network.mult.combine(l + 1, out) if network.mult.has(l + 1) else out  # products at mult nodes
    exprs = []
    for e in h:
        if digits is not None:
            e = round_expr(e, digits)
        if simplify:
            e = bounded_simplify(e)
            if digits is not None:
                e = round_expr(e, digits)
        exprs.append(e)
    return exprs


def to_latex(expr) -> str:
    """LaTeX of ``expr`` with every variable name escaped (:func:`.user_names.latex_name`): no name
    can inject LaTeX commands, and the result also renders in matplotlib's mathtext."""
    expr = _expression(expr)
    return sympy.latex(expr, symbol_names={s: latex_name(s.name) for s in expr.free_symbols if isinstance(s, sympy.Symbol)})


def _expression(e):
    """``e`` as a sympy expression; text is refused (parsing text runs Python's eval)."""
    try:
        return sympy.sympify(e, strict=True)
    except sympy.SympifyError:
        raise KanlabError(f"expected a sympy expression or a number, got {type(e).__name__} {e!r:.60}; text is "
                          "not parsed here (sympy.parse_expr evaluates Python: use it on trusted text only)") from None


def _arguments(exprs, var_names):
    """(the expressions in the argument symbols x0, x1, ..., those symbols): one argument per
    entry of ``var_names``. A variable of a formula that is not in var_names is an error."""
    syms = symbols_for(var_names)
    if len(set(syms)) != len(syms):
        raise KanlabError(f"var_names holds the same symbol twice ({', '.join(map(str, syms))}); give one distinct "
                          "symbol per variable, or pass names as strings")
    args = [sympy.Symbol(f"x{k}") for k in range(len(syms))]
    subs = dict(zip(syms, args))
    out = []
    for e in exprs:
        e = _expression(e)
        unknown = sorted((s for s in e.free_symbols if s not in subs), key=str)
        if unknown:
            shown = ", ".join(python_comment(s.name if isinstance(s, sympy.Symbol) else s) for s in unknown)
            raise KanlabError(f"the formula uses variable(s) {shown} that are not in var_names "
                              f"({', '.join(python_comment(s) for s in syms)}); pass one name per variable")
        out.append(e.xreplace(subs))
    return out, args


def to_python_source(exprs, var_names, name: str = "formula") -> str:
    """Stand-alone Python source (numpy only) of a function ``name(x0, x1, ...)`` returning the
    formula's value (or a tuple of values for a list of formulas).

    Argument ``xK`` is the variable ``var_names[K]``; the names themselves appear only in ``#``
    comments, as ASCII Python literals, so no name can become code. The source is checked to be
    exactly one function that reads nothing but its arguments and numpy."""
    from sympy.printing.numpy import NumPyPrinter

    if not is_python_name(name):
        raise KanlabError(f"name must be an ASCII Python identifier that is not a keyword or 'numpy', got {name!r}")
    single = not isinstance(exprs, (list, tuple))
    exprs, args = _arguments([exprs] if single else list(exprs), var_names)
    shown = [str(v) for v in symbols_for(var_names)]
    names = [python_comment(v) + (f" (in the formula: {python_comment(w)})" if str(v) != w else "")
             for v, w in zip(var_names, shown)]
    printer = NumPyPrinter({"fully_qualified_modules": True})
    body = [printer.doprint(e) for e in exprs]
    ret = body[0] if single else "(" + ", ".join(body) + ",)"
    arg_names = [str(a) for a in args]
    comments = "".join(f"    # {a}: {v}\n" for a, v in zip(arg_names, names))
    source = (f"import numpy\n\n\ndef {name}({', '.join(arg_names)}):\n"
              f"    \"\"\"The formula's value (numpy); the arguments are the variables named below.\"\"\"\n"
              f"{comments}    return {ret}\n")
    check_python_function(source, name, arg_names)
    return source


def to_callable(exprs, var_names, backend: str = "numpy"):
    """A function of the variables (as separate arguments or one (N, n) array) returning the
    formulas' values, (N,) for one expression or (N, n_out) for a list. With numpy, a value that is
    complex (non-zero imaginary part) comes back as NaN, like numpy's own sqrt(-1)."""
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    single = not isinstance(exprs, (list, tuple))
    exprs, syms = _arguments([exprs] if single else list(exprs), var_names)
    funcs = [sympy.lambdify(syms, e, modules="numpy" if backend == "numpy" else "torch") for e in exprs]

    def call(*args):
        if len(args) == 1 and len(syms) > 1:
            X = args[0]
            args = [X[:, k] for k in range(X.shape[1])]
        ref = args[0]
        outs = []
        for fn in funcs:
            v = fn(*args)
            if backend == "numpy":
                v = real_values(v, np.shape(ref))  # complex values are NaN, never cast to real
            else:
                v = torch.as_tensor(v, dtype=ref.dtype).expand(ref.shape)
            outs.append(v)
        if single:
            return outs[0]
        return np.stack(outs, axis=-1) if backend == "numpy" else torch.stack(outs, dim=-1)

    return call


def formula_check(network, x, var_names=None, exprs=None) -> dict:
    """How far the formulas' predictions are from the model's on x: max and RMS absolute
    difference, and the RMS difference relative to the model output's standard deviation."""
    exprs = exprs if exprs is not None else symbolic_formula(network, var_names=var_names, simplify=False)
    syms = _symbols(network, var_names)
    X = x.detach().double().cpu().numpy()
    pred = to_callable(list(exprs), syms)(X)
    with torch.no_grad():
        ref = network(x.to(next(network.parameters()).dtype)).double().cpu().numpy()
    diff = pred - ref
    return {"max_abs": float(np.abs(diff).max()), "rms": float(np.sqrt((diff ** 2).mean())),
            "rel_rms": float(np.sqrt((diff ** 2).mean()) / (ref.std() + 1e-300))}
