"""User-supplied variable names in generated text: data, never code or markup.

A column name read from a CSV header can be any string: a quoted field may hold quotes, line
breaks, LaTeX, HTML or Markdown. Wherever such a name reaches text that is later run or
rendered, it goes through one function of this module:

* ``symbols_for(names)``: one distinct ``sympy.Symbol`` per name, made with ``sympy.Symbol(name)``
  and never by parsing, so "I", "E", "S", "N", "pi", "beta", "gamma", "lambda", "sin" stay plain
  variables (never sympy's imaginary unit, a constant or a function). An empty name and every
  repeat of an earlier name get a distinct replacement name (the same list always gives the
  same symbols, so two calls agree).
* ``python_comment(name)``: the name as an ASCII Python literal (``ascii()``), for a ``#``
  comment: no character of it can end the comment line. Generated Python names its arguments
  ``x0, x1, ...``; :func:`check_python_function` proves a generated source is exactly one
  function reading only its arguments and numpy.
* ``latex_name(name)``: math-mode LaTeX that matplotlib's mathtext also renders: a plain name
  (``x``, ``x_1``, ``x2``, ``beta``, ``v_max``) in the usual form, anything else upright inside
  ``\\mathrm{...}`` with every special character as a fixed command (no user backslash, brace,
  ``$``, ``%`` or ``&`` reaches the output unescaped). ``\\text`` is amsmath's.
* ``plot_label(name)``: matplotlib plain text (every ``$`` escaped, so no mathtext starts).
* ``markdown_text(text)``: Markdown that shows ``text`` literally: every ASCII punctuation
  character backslash-escaped, ``<``, ``>``, ``&``, the backtick, line breaks and control
  characters as character references, so no HTML, link, emphasis, code span, heading, new line
  or table cell can start.
"""
from __future__ import annotations

import ast
import keyword
import re
import string

import sympy

from ..validate import KanlabError

__all__ = ["symbols_for", "python_comment", "is_python_name", "check_python_function", "latex_name", "plot_label",
           "markdown_text", "GeneratedCodeError"]

_PLAIN = re.compile(r"([A-Za-z]+)(?:_([A-Za-z0-9]+)|([0-9]+))?")
#: Greek letters that both LaTeX and mathtext know as commands (not "pi": a variable must not look
#: like the constant)
_GREEK = frozenset("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi rho sigma tau "
                   "upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split())
#: characters of a name that math mode would read as markup, and the command that shows each
_LATEX_SPECIAL = {"\\": r"{\backslash}", "{": r"{\{}", "}": r"{\}}", "$": r"{\$}", "%": r"{\%}", "#": r"{\#}",
                  "&": r"\text{\&}", "_": r"{\_}", "^": r"{\wedge}", "~": r"{\sim}", '"': r'\text{"}',
                  "`": r"\text{`}", " ": r"{}\ {}"}


class GeneratedCodeError(KanlabError):
    """Generated Python source is not the single, plain function it must be: a kanlab bug, never
    written out; please report it with the formula (see docs/security.md)."""


def symbols_for(names) -> list:
    """One distinct sympy Symbol per entry of ``names`` (strings, or Symbols kept as they are).

    An empty name becomes ``x_K`` (K: its 1-based position) and a repeated name ``NAME_K``,
    each made unique against every other name, so a formula never merges two columns."""
    names = list(names)
    taken = {n if isinstance(n, str) else str(n) for n in names}
    seen: set = set()
    out = []
    for k, v in enumerate(names, start=1):
        if not isinstance(v, str):
            out.append(v)
            seen.add(str(v))
            continue
        name = v
        if name == "" or name in seen:
            base, n = (name or "x"), k
            name = f"{base}_{n}"
            while name in taken or name in seen:
                n += len(names)
                name = f"{base}_{n}"
        seen.add(name)
        out.append(sympy.Symbol(name))
    return out


def python_comment(name) -> str:
    """``name`` as an ASCII Python literal: safe inside a ``#`` comment (no line break, no
    non-ASCII character), and it reads back as the original with ``ast.literal_eval``."""
    return ascii(str(name))


def is_python_name(text) -> bool:
    """Whether ``text`` can name a generated function: an ASCII identifier, not a keyword, not
    ``numpy`` (the module the generated code uses)."""
    return (isinstance(text, str) and text.isascii() and text.isidentifier() and not keyword.iskeyword(text)
            and text != "numpy")


def check_python_function(source: str, name: str, args) -> None:
    """Raise GeneratedCodeError unless ``source`` is ``import numpy`` followed by exactly one
    function ``name(args...)`` whose body reads only its arguments and ``numpy``."""
    tree = ast.parse(source)
    if len(tree.body) != 2 or not isinstance(tree.body[0], ast.Import) or not isinstance(tree.body[1], ast.FunctionDef):
        raise GeneratedCodeError("generated source is not 'import numpy' plus one function")
    if [a.name for a in tree.body[0].names] != ["numpy"] or tree.body[0].names[0].asname:
        raise GeneratedCodeError("generated source imports something other than numpy")
    fn = tree.body[1]
    if fn.name != name or [a.arg for a in fn.args.args] != list(args) or fn.decorator_list:
        raise GeneratedCodeError(f"generated function is not {name}({', '.join(args)})")
    allowed = set(args) | {"numpy"}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and node.id not in allowed:
            raise GeneratedCodeError(f"generated function reads the name {node.id!r}")
        if isinstance(node, (ast.Lambda, ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom, ast.Global,
                             ast.Nonlocal, ast.NamedExpr, ast.Delete)) and node is not fn:
            raise GeneratedCodeError(f"generated function contains a {type(node).__name__}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise GeneratedCodeError(f"generated function reads the private attribute {node.attr!r}")


def _latex_word(word: str) -> str:
    if word in _GREEK:
        return "\\" + word
    return word if len(word) == 1 or word.isdigit() else r"\mathrm{" + word + "}"


def _latex_char(ch: str) -> str:
    if ch in _LATEX_SPECIAL:
        return _LATEX_SPECIAL[ch]
    if not ch.isprintable() or ch.isspace() or ord(ch) > 0x1FFFF:
        return r"{\cdot}"  # a control character, an invisible space or one mathtext cannot draw: a dot
    return ch if ch.isascii() or ch.isalnum() else "{" + ch + "}"


def latex_name(name) -> str:
    """Math-mode LaTeX (and mathtext) of a variable named ``name``; see the module docstring."""
    name = str(name)
    m = _PLAIN.fullmatch(name)
    if m:
        sub = m.group(2) or m.group(3)
        return _latex_word(m.group(1)) + ("_{" + _latex_word(sub) + "}" if sub else "")
    body = "".join(_latex_char(ch) for ch in name)
    if not any(ch.isprintable() and not ch.isspace() for ch in name):
        body = "[" + body + "]"  # nothing visible: brackets show that a name is there
    return r"\mathrm{" + body + "}"


def plot_label(name) -> str:
    """``name`` as a matplotlib label shown as plain text: every ``$`` is escaped, so no
    mathtext (which a name like "$\\undefined$" would make fail) can start."""
    return str(name).replace("$", r"\$")


def markdown_text(text) -> str:
    """``text`` as Markdown that renders literally (see the module docstring)."""
    out = []
    for ch in str(text):
        if ch in "&<>`":
            out.append({"&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "&#96;"}[ch])
        elif ch in string.punctuation:
            out.append("\\" + ch)
        elif ch == "\0":
            out.append("&#65533;")  # CommonMark shows NUL as U+FFFD anyway
        elif not ch.isprintable() or (ch.isspace() and ch != " "):
            out.append(f"&#{ord(ch)};")  # a line break or control character cannot end a line or a cell
        else:
            out.append(ch)
    return "".join(out)
