"""Formula -> KAN (the "kanpiler"): a network whose graph computes a sympy expression.

The expression tree becomes a graph of nodes: sums (``Add``) are sum nodes, products of two or
more non-constant factors (``Mul``) are multiplication nodes, and every unary function of the
library (sin, exp, sqrt, x^2, 1/x, ...) applied to ``a*u + b`` is a symbolic edge
c*f(a*u + b) + d from the node computing u. Constant terms become node biases, constant factors
the edge's c. A node's row is one more than its deepest input; a value used further up passes
through the rows between on identity edges (one chain per value and row, shared). Rows with
mult nodes of different arities are padded with factors that are constant 1 (a sub-node with no
incoming edge and bias 1), since a row has one arity.

Every numeric spline is switched off (mask 0): the network is exactly the formula (up to
floating point). ``fix_edges.to_splines`` turns the symbolic edges into trainable splines.
"""
from __future__ import annotations

import sympy
import torch

from ..validate import KanlabError
from .user_names import symbols_for

__all__ = ["from_formula", "UNARY"]

#: sympy function -> library name
UNARY = {sympy.sin: "sin", sympy.cos: "cos", sympy.tan: "tan", sympy.tanh: "tanh", sympy.sinh: "sinh",
         sympy.cosh: "cosh", sympy.exp: "exp", sympy.log: "log", sympy.atan: "arctan", sympy.asin: "arcsin",
         sympy.atanh: "arctanh", sympy.Abs: "abs", sympy.sign: "sgn"}
UNARY_NAMES = set(UNARY.values())
#: exponent -> library name
POWERS = {2: "x^2", 3: "x^3", 4: "x^4", 5: "x^5", -1: "1/x", -2: "1/x^2",
          sympy.Rational(1, 2): "sqrt", sympy.Rational(-1, 2): "1/sqrt"}


class _Node:
    """kind "input" (``var``), "sum" or "mult"; ``terms``: incoming edges
    (name, a, b, c, child); ``bias``: constant added (sum nodes)."""

    def __init__(self, kind, terms=(), bias=0.0, var=None):
        self.kind, self.terms, self.bias, self.var = kind, list(terms), float(bias), var
        if kind == "sum":  # one edge per (child, node): a second term of the same child gets its own node
            seen = set()
            for k, t in enumerate(self.terms):
                if id(t[4]) in seen:
                    self.terms[k] = ("x", 1.0, 0.0, 1.0, _Node("sum", [t]))
                seen.add(id(t[4]))
        self.row = 0 if kind == "input" else 1 + max(t[4].row for t in self.terms)


def _split_const(expr, free, op):
    """(constant part, rest) of an Add (op=Add) or Mul (op=Mul), constants = no free symbols."""
    const, rest = expr.as_independent(*free, as_Add=op is sympy.Add)
    return const, rest


class _Builder:
    def __init__(self, syms):
        self.syms = list(syms)
        self.inputs = {s: _Node("input", var=k) for k, s in enumerate(self.syms)}

    def _number(self, v, what):
        try:
            f = float(v)
        except TypeError:
            raise KanlabError(f"the constant {v} in {what} is not a real number") from None
        return f

    def edge(self, e, c=1.0):
        """(name, a, b, c, child) computing c * e."""
        name, arg = None, None
        if isinstance(e, sympy.Function) and type(e) in UNARY and len(e.args) == 1:
            name, arg = UNARY[type(e)], e.args[0]
        elif isinstance(e, sympy.Pow) and e.exp in POWERS:
            name, arg = POWERS[e.exp], e.base
        elif isinstance(e, sympy.Pow) and e.exp.is_Integer and e.exp > 5:
            raise KanlabError(f"{e}: powers above 5 are not in the library; write them as products")
        if name is None and not isinstance(e, (sympy.Symbol, sympy.Add, sympy.Mul)):
            raise KanlabError(f"{e} is not expressible with the library's unary functions ({', '.join(sorted(UNARY_NAMES))}) "
                              f"and the powers x^n for n in {{2, 3, 4, 5, -1, -2, 1/2, -1/2}}")
        if name is None:
            return ("x", 1.0, 0.0, c, self.node(e))
        free = sorted(arg.free_symbols, key=str)
        b, rest = _split_const(arg, free, sympy.Add)
        a, u = _split_const(rest, free, sympy.Mul)
        return (name, self._number(a, arg), self._number(b, arg), c, self.node(u))

    def node(self, e):
        """The node computing e (a symbol: its input node)."""
        e = sympy.sympify(e)
        if not e.free_symbols:
            raise KanlabError(f"a constant ({e}) cannot be a node of the network; it belongs in a bias or coefficient")
        if isinstance(e, sympy.Symbol):
            if e not in self.inputs:
                raise KanlabError(f"the formula uses {e}, which is not in var_names ({', '.join(map(str, self.syms))})")
            return self.inputs[e]
        free = sorted(e.free_symbols, key=str)
        if isinstance(e, sympy.Add):
            const, rest = _split_const(e, free, sympy.Add)
            return _Node("sum", [self._term(t, free) for t in sympy.Add.make_args(rest)], bias=self._number(const, e))
        return self._term_node(e, free)

    def _term(self, t, free):
        k, rest = _split_const(t, free, sympy.Mul)
        return self.edge(rest, self._number(k, t))

    def _term_node(self, e, free):
        """A product of >= 2 non-constant factors: a mult node; otherwise a one-edge sum node."""
        k, rest = _split_const(e, free, sympy.Mul)
        factors = sympy.Mul.make_args(rest)
        if len(factors) < 2:
            return _Node("sum", [self.edge(rest, self._number(k, e))])
        terms = [self.edge(f) for f in factors]
        name, a, b, c, child = terms[0]
        terms[0] = (name, a, b, c * self._number(k, e), child)
        return _Node("mult", terms)


class _Layout:
    """Rows of nodes (sums first, then mults) with identity chains carrying values upwards."""

    def __init__(self, root, n_inputs):
        self.rows = [[] for _ in range(root.row + 1)]
        self.carried = {}
        self.rows[0] = [None] * n_inputs
        self._place(root)

    def carry(self, node, row):
        """The node at ``row`` holding node's value (node itself, or a chain of identity edges)."""
        if node.row == row:
            return node
        key = (id(node), row)
        if key not in self.carried:
            below = self.carry(node, row - 1)
            self.carried[key] = n = _Node("sum", [("x", 1.0, 0.0, 1.0, below)])
            n.row = row
            self.rows[row].append(n)
        return self.carried[key]

    def _place(self, node):
        if node.kind == "input":
            self.rows[0][node.var] = node
            return
        self.rows[node.row].append(node)
        for t in node.terms:
            self._place(t[4])
        node.terms = [(*t[:4], self.carry(t[4], node.row - 1)) for t in node.terms]

    def ordered(self):
        """Rows with sum nodes first; (rows, n_mult per row, arity per row)."""
        rows, n_mult, arity = [self.rows[0]], [0], [2]
        for nodes in self.rows[1:]:
            sums = [n for n in nodes if n.kind == "sum"]
            mults = [n for n in nodes if n.kind == "mult"]
            rows.append(sums + mults)
            n_mult.append(len(mults))
            arity.append(max([len(n.terms) for n in mults] + [2]))
        return rows, n_mult, arity


def _build_model(cls, layout, n_inputs, dtype):
    rows, n_mult, arity = layout.ordered()
    width = [n_inputs] + [[len(r) - m, m] if m else len(r) for r, m in zip(rows[1:], n_mult[1:])]
    model = cls(width, mult_arity=arity, dtype=dtype, seed=0)
    position = [{id(n): k for k, n in enumerate(r) if n is not None} for r in rows]
    with torch.no_grad():
        for layer in model.layers:
            layer.mask.zero_()
        for r in range(1, len(rows)):
            bias = torch.zeros(model.layers[r - 1].out_dim, dtype=torch.float64)
            n_sum = len(rows[r]) - n_mult[r]
            for k, node in enumerate(rows[r]):
                first = k if k < n_sum else n_sum + (k - n_sum) * arity[r]
                for f, (name, a, b, c, child) in enumerate(node.terms):
                    j = first + (f if node.kind == "mult" else 0)
                    model.symbolic[r - 1].set(position[r - 1][id(child)], j, name, (a, b, c, 0.0))
                bias[first] += node.bias
                if node.kind == "mult":
                    bias[first + len(node.terms): first + arity[r]] = 1.0  # padding factors
            if bool(bias.any()):
                model.layers[r - 1].add_to_bias(bias)
    return model


def from_formula(expr, var_names, cls=None, dtype=torch.float64):
    """A ``cls`` (default :class:`kanlab.core.network.KANNetwork`) network computing ``expr`` of
    the variables ``var_names`` (one input column each, in order); see the module docstring.
    ``expr`` is a sympy expression (text is refused: parsing runs Python)."""
    if cls is None:
        from ..core.network import KANNetwork as cls
    if isinstance(expr, str):
        raise KanlabError("from_formula needs a sympy expression, not text (sympy.parse_expr evaluates Python: use it "
                          "on trusted text, then pass the expression)")
    expr = sympy.sympify(expr)
    if isinstance(var_names, (str, bytes)) or not var_names:
        raise KanlabError(f"var_names must be a non-empty list of variable names, got {var_names!r}")
    syms = symbols_for(list(var_names))
    syms = [s if s in expr.free_symbols else next((f for f in expr.free_symbols if str(f) == str(s)), s) for s in syms]
    builder = _Builder(syms)
    root = builder.node(expr)
    if root.kind == "input":  # the output must be a node of row >= 1
        root = _Node("sum", [("x", 1.0, 0.0, 1.0, root)])
    return _build_model(cls, _Layout(root, len(syms)), len(syms), dtype)
