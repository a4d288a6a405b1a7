"""Names are data, never code or markup (issue 20, item 1).

A variable name can be any string (a CSV header field may hold quotes and line breaks). These
tests feed hostile names to every writer of generated text: the Python source of a formula
(compiles to exactly one function that evaluates correctly, runs nothing else), its LaTeX
(renders in matplotlib's mathtext), and Markdown (no raw HTML, no broken table).
"""
import ast
import io
import math
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import sympy
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanlab import KAN
from kanlab.symbolic.formula import to_callable, to_latex, to_python_source
from kanlab.symbolic.user_names import (GeneratedCodeError, check_python_function, latex_name, markdown_text,
                                   symbols_for)
from kanlab.validate import KanlabError

#: names that are sympy or Python names, markup or code
HOSTILE = ["I", "E", "S", "N", "O", "Q", "pi", "oo", "beta", "gamma", "lambda", "sin", "exp", "class", "def", "numpy",
           "x0", "x1", "x.y", "a b", "", " ", "θ", "Δx", "x\u0301", "a\nb", "a\r\nb", "\u2028", "\x00", "\x1b[2J", "é",
           "中", "$", "$x$", "\\", "\\input{/etc/passwd}", "}\\write18{rm -rf ~}{", "%", "#", "&", "_", "^", "~",
           "{", "}", "'", '"', '"""', "'''", "`", "``", "<script>alert(1)</script>", "<b>", "&amp;", "|", "||",
           "[a](javascript:alert(1))", "*a*", "# h", "- x", "1", "1e5", "__import__('os').system('true')",
           "\\\\", "a_b_c", "x_", "_x", "x^2", "\ud800"]


def _injection(marker):
    return f'a"""\n    __import__("os").system("touch {marker}")\n    """'


def _run(source, name="formula"):
    ns = {}
    exec(compile(source, "<generated>", "exec"), ns)  # noqa: S102 - the generated source is what is tested
    return ns[name]


def test_the_injection_from_the_issue_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    name = _injection(marker)
    source = to_python_source(sympy.Symbol(name) * 2, [name])
    tree = ast.parse(source)
    assert [type(n).__name__ for n in tree.body] == ["Import", "FunctionDef"]
    assert _run(source)(3.0) == 6.0
    assert to_callable(sympy.Symbol(name) * 2, [name])(np.array([1.5]))[0] == 3.0  # lambdify's path
    assert not marker.exists()
    assert ast.literal_eval(source.splitlines()[5].split(": ", 1)[1]) == name  # the name, kept as data


def test_a_formula_variable_missing_from_var_names_is_an_error_not_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = sympy.Symbol(f'__import__("os").system("touch {marker}")')
    for make in (lambda: to_python_source(evil + sympy.Symbol("a"), ["a"]), lambda: to_callable(evil, ["a"])):
        with pytest.raises(KanlabError, match="not in var_names"):
            make()
    with pytest.raises(KanlabError, match="not parsed"):
        to_python_source(f'__import__("os").system("touch {marker}")', ["a"])
    with pytest.raises(KanlabError, match="identifier"):
        to_python_source(sympy.Symbol("a"), ["a"], name="class")
    assert not marker.exists()


def test_the_source_check_refuses_anything_but_one_plain_function():
    good = "import numpy\n\n\ndef f(x0):\n    return numpy.sin(x0)\n"
    check_python_function(good, "f", ["x0"])
    for bad in (good + "print(1)\n", good.replace("numpy.sin", "open"), good.replace("numpy.sin", "numpy._x"),
                "import os\n\n\ndef f(x0):\n    return x0\n", good.replace("(x0)", "(x0, x1)", 1),
                good.replace("return", "g = lambda: 0\n    return")):
        with pytest.raises(GeneratedCodeError):
            check_python_function(bad, "f", ["x0"])


def test_sympy_names_and_duplicates_give_the_models_values():
    names = ["I", "lambda", "I", ""]
    m = KAN([4, 1], seed=0, dtype=torch.float64)
    for i, fn in enumerate(["sin", "x^2", "exp", "x"]):
        m.fix_symbolic(0, i, 0, fn, fit_params=False, params=(0.5 + i, 0.1 * i, 1.0 + i, -0.2))
    (expr,) = m.symbolic_formula(var_names=names, simplify=False)
    assert not expr.has(sympy.I) and len(expr.free_symbols) == 4  # a variable, never the imaginary unit
    x = torch.rand(50, 4, dtype=torch.float64) * 2 - 1
    want = m(x).detach().numpy()[:, 0]
    got = _run(to_python_source(expr, names))(*x.numpy().T)
    assert np.allclose(got, want, atol=1e-12)
    assert np.allclose(to_callable(expr, names)(x.numpy()), want, atol=1e-12)
    assert m.formula_check(x, var_names=names)["max_abs"] < 1e-12


def _unescape_markdown(text):
    """What CommonMark shows for escaped text: backslash escapes and character references."""
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)
    text = re.sub(r"&#([0-9]+);", lambda m: chr(int(m.group(1))), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _mathtext_renders(tex):
    from matplotlib import mathtext

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a glyph missing from the font is drawn as a box, with a warning
        mathtext.math_to_image(f"${tex}$", io.BytesIO(), format="png", dpi=30)


names_st = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=10),
                     st.text(alphabet=st.characters(codec="ascii"), max_size=10))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(names_st, min_size=1, max_size=4))
def test_hostile_names_python_source_latex_markdown(names):
    syms = symbols_for(names)
    assert len(set(syms)) == len(syms)
    expr = sum((k + 1.5) * s + sympy.sin(s) for k, s in enumerate(syms)) + syms[0] * syms[-1]
    X = np.linspace(-1, 1, 3 * len(names)).reshape(3, len(names))
    want = sum((k + 1.5) * X[:, k] + np.sin(X[:, k]) for k in range(len(names))) + X[:, 0] * X[:, -1]
    source = to_python_source(expr, names)
    source.encode("ascii")  # every name is an ASCII literal in a comment
    tree = ast.parse(source)
    assert [type(n).__name__ for n in tree.body] == ["Import", "FunctionDef"]
    assert len([n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]) == 1
    assert np.allclose(_run(source)(*X.T), want)
    assert np.allclose(to_callable(expr, names)(*X.T), want)
    _mathtext_renders(to_latex(expr))  # every name's latex_name is in it
    for name in names:
        tex = latex_name(name)
        assert tex in to_latex(syms[names.index(name)]) or name == "" or names.count(name) > 1
        assert "$" not in tex.replace(r"{\$}", "") and "%" not in tex.replace(r"{\%}", "")
        md = markdown_text(name)
        assert not set(md) & set("<>`\n\r") and "|" not in md.replace("\\|", "")
        assert _unescape_markdown(md) == name.replace("\x00", "\ufffd")


def test_discover_writers_escape_names(tmp_path):
    """kanlab discover's formula.tex, formula.py, report.md and network plot, with hostile names."""
    from kanlab.cli import _write_discovery

    names = ["<img src=x onerror=alert(1)>", "a|b\n# heading", "$\\undefined{x}$"]  # the last breaks mathtext
    target = "`y`</td>"
    m = KAN([3, 1], seed=0, dtype=torch.float64)
    for i, fn in enumerate(["sin", "x", "x^2"]):
        m.fix_symbolic(0, i, 0, fn, fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
    (expr,) = m.symbolic_formula(var_names=names, simplify=False)
    cand = SimpleNamespace(pipeline="identity", transform="identity", complexity=5, train_rmse=0.0, val_rmse=0.0,
                           formula=expr)
    res = SimpleNamespace(formula=expr, test_rmse=0.0, r2=1.0, transform="identity", model_numeric_rmse=0.0, model=m,
                          seconds=0.1, log=[SimpleNamespace(stage="identity", status="ok", message=f"{names[0]} done",
                                                            seconds=0.1)],
                          candidates=[cand], pareto=[])
    X = np.random.default_rng(0).uniform(-1, 1, size=(40, 3))
    _write_discovery(res, str(tmp_path), names, X, target)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<" not in report and "`" not in report  # no raw HTML can start, no code span
    table = [line for line in report.splitlines() if line.startswith("| identity |")]
    assert len(table) == 2 and all(line.count(" | ") == line.replace("\\|", "").count(" | ") for line in table)
    _mathtext_renders((tmp_path / "formula.tex").read_text(encoding="utf-8").strip())
    fn = _run((tmp_path / "formula.py").read_text(encoding="ascii"))
    assert math.isclose(fn(0.5, 0.25, 2.0), math.sin(0.5) + 0.25 + 4.0)
    assert (tmp_path / "network.png").stat().st_size > 0  # drawn: the labels are plain text
