"""Exports of a trained KAN: TorchScript (script and trace), torch.compile and ONNX, each with
symbolic edges, against the model's own outputs."""
import math

import pytest
import torch

from kanlab import KAN, create_dataset, export, symbolic
from kanlab.validate import KanlabError


def _f(x):
    return torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)


@pytest.fixture(scope="module")
def trained():
    ds = create_dataset(_f, n_var=3, train_num=200, test_num=200, seed=0)
    ds["train_label"] = torch.cat([ds["train_label"], -ds["train_label"]], 1)
    m = KAN([3, 3, 2], grid=5, seed=0)
    m.fit({"train_input": ds["train_input"], "train_label": ds["train_label"]}, steps=4, progress=False)
    m.fix_symbolic(0, 0, 0, "sin", x=ds["train_input"])
    m.fix_symbolic(1, 1, 1, "x^2", x=ds["train_input"])
    m = m.prune_input(th=0.0, x=ds["train_input"])  # keeps all inputs but exercises input_index
    return m, ds["test_input"] * 1.4  # some inputs outside the grid


def test_exportable_and_script_match_the_model(trained, tmp_path):
    m, x = trained
    ref = m(x).detach()
    assert torch.allclose(export.exportable(m)(x), ref, atol=2e-6)
    path = str(tmp_path / "m.pt")
    scripted = export.to_torchscript(m, path)
    assert torch.allclose(scripted(x), ref, atol=2e-6)
    assert torch.allclose(torch.jit.load(path)(x), ref, atol=2e-6)


def test_trace_of_the_model_itself(trained):
    m, x = trained
    with torch.no_grad():
        traced = torch.jit.trace(m, x[:16], check_trace=False)
    assert torch.allclose(traced(x), m(x), atol=1e-6)


@pytest.mark.slow
def test_torch_compile_with_symbolic_edges(trained):
    m, x = trained
    torch._dynamo.reset()
    assert torch.allclose(torch.compile(m)(x), m(x), atol=1e-5)


def test_onnx_matches_within_1e_5(trained, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    m, x = trained
    path = export.to_onnx(m, str(tmp_path / "m.onnx"))
    out = ort.InferenceSession(path).run(None, {"x": x.numpy()})[0]
    assert abs(out - m(x).detach().numpy()).max() <= 1e-5


@pytest.mark.parametrize("name", export.EXPORTABLE_PRIMITIVES)
def test_every_builtin_primitive_exports(name):
    m = KAN([1, 2, 1], grid=3, seed=1, dtype=torch.float64)
    m.fix_symbolic(0, 0, 1, name, fit_params=False, params=(0.7, 0.2, 1.3, -0.1))
    x = torch.linspace(-0.95, 0.95, 97, dtype=torch.float64)[:, None]
    ref = m(x).detach()
    got = export.exportable(m)(x)
    assert torch.allclose(got, ref, rtol=1e-9, atol=1e-9), name
    assert torch.allclose(export.to_torchscript(m)(x), ref, rtol=1e-9, atol=1e-9), name


def test_user_primitive_is_a_clear_error():
    symbolic.register("cube_plus", lambda x: x**3 + x, lambda s: s**3 + s, overwrite=True)
    try:
        m = KAN([1, 1], grid=3, seed=0)
        m.fix_symbolic(0, 0, 0, "cube_plus", fit_params=False, params=(1.0, 0.0, 1.0, 0.0))
        with pytest.raises(KanlabError, match="cube_plus"):
            export.exportable(m)
    finally:
        symbolic.unregister("cube_plus")


def test_formula_to_python_source_runs_without_kanlab():
    import numpy as np
    import sympy

    from kanlab.symbolic.formula import to_python_source

    u, v = sympy.symbols("u v")
    src = to_python_source([sympy.tanh(sympy.atanh(u) + sympy.atanh(v)), u * sympy.exp(v)], ["u", "v"], name="w")
    ns = {}
    exec(compile(src, "<formula>", "exec"), ns)
    a, b = np.array([0.1, 0.5]), np.array([0.2, -0.3])
    w1, w2 = ns["w"](a, b)
    assert np.allclose(w1, (a + b) / (1 + a * b)) and np.allclose(w2, a * np.exp(b))
    with pytest.raises(ValueError):
        to_python_source(u, ["u"], name="not valid")


def test_bounded_simplify_gives_up_instead_of_exhausting_memory(monkeypatch):
    """The time limit is armed with the requested seconds and disarmed afterwards, and the
    alarm handler restored; the wall-clock time is in benchmarks/speed_guards.py."""
    import signal

    import sympy

    from kanlab.symbolic.formula import bounded_simplify

    timers = []
    real_setitimer = signal.setitimer

    def setitimer(which, seconds, *rest):
        timers.append((which, seconds))
        return real_setitimer(which, seconds, *rest)

    monkeypatch.setattr(signal, "setitimer", setitimer)
    handler = signal.getsignal(signal.SIGALRM)
    a, b, c = sympy.symbols("a b c")
    nasty = sympy.cos(sympy.Rational(7, 5) * a - sympy.Rational(11, 8) * b + sympy.Rational(1, 9) - 34 / (8 * c + 10) ** 2)
    out = bounded_simplify(nasty, seconds=1.0)  # the formula the limit was added for (see its docstring)
    assert timers == [(signal.ITIMER_REAL, 1.0), (signal.ITIMER_REAL, 0)]
    assert signal.getsignal(signal.SIGALRM) is handler
    assert out.free_symbols == nasty.free_symbols
    point = {a: 0.3, b: -0.7, c: 0.2}
    assert abs(float(out.subs(point)) - float(nasty.subs(point))) < 1e-12
    assert bounded_simplify(sympy.sin(a) ** 2 + sympy.cos(a) ** 2) == 1

    def never_returns(expr, *args, **kwargs):
        while True:
            pass

    timers.clear()
    monkeypatch.setattr(sympy, "simplify", never_returns)
    assert bounded_simplify(nasty, seconds=0.2) is nasty  # interrupted: the expression unchanged
    assert timers == [(signal.ITIMER_REAL, 0.2), (signal.ITIMER_REAL, 0)]
    assert signal.getsignal(signal.SIGALRM) is handler
