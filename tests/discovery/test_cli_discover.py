"""What a user of ``kanlab discover data.csv --target signal`` sees: one short line per stage,
the result and a Pareto table; details only with --verbose (stderr) and in report.md; no
ComplexWarning; the target's name on the network plot."""
import warnings

import numpy as np
import pytest
import sympy
import torch

from kanlab.cli import main
from kanlab.discovery.candidates import make_candidate
from kanlab.discovery.pipelines import PIPELINES
from kanlab.interpret import plot
from kanlab.symbolic.user_names import markdown_text

p, q = sympy.symbols("p q")
LONG = sum(sympy.Float(1 + k / 7) * sympy.sin(sympy.Float(0.1 * k + 0.05) * p) for k in range(25)) + q  # ~650 chars


def _csv(tmp_path, f, n=120):
    X = np.random.default_rng(0).uniform(-1, 1, size=(n, 2))
    y = f(X)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="p,q,signal", comments="")
    return path


@pytest.fixture
def plot_labels(monkeypatch):
    """Every text drawn on the network plots of the run."""
    texts = []
    real = plot.plot_network

    def spy(*args, **kwargs):
        fig = real(*args, **kwargs)
        texts.extend(t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text")))
        return fig
    monkeypatch.setattr(plot, "plot_network", spy)
    return texts


@pytest.fixture
def fake_pipelines(monkeypatch):
    """separable: a complex formula (rejected); identity: a 650-character exact formula."""
    def separable(ctx):
        return make_candidate(sympy.sqrt(sympy.Float(-2.0)) * p + q, ctx.problem, "separable", "identity", ctx.log)

    def identity(ctx):
        model = ctx.cfg.model_cls([2, 3, 1], grid=3, k=3, seed=0, dtype=torch.float64)
        return make_candidate(LONG, ctx.problem, "identity", "identity", ctx.log, model=model)
    monkeypatch.setitem(PIPELINES, "separable", separable)
    monkeypatch.setitem(PIPELINES, "identity", identity)


def _run(argv, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_stage_lines_result_and_pareto_are_short(tmp_path, capsys, fake_pipelines, plot_labels):
    f = sympy.lambdify((p, q), LONG, "numpy")
    path = _csv(tmp_path, lambda X: f(X[:, 0], X[:, 1]))
    out_dir = tmp_path / "out"
    code, out, err = _run(["discover", str(path), "--target", "signal", "--out", str(out_dir)], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert max(len(line.replace(str(tmp_path), "")) for line in lines) <= 160  # the output folder aside
    assert any(line.startswith("  separable: rejected, its formula has complex values") for line in lines)
    assert any(line.startswith("  identity: ok, held-out RMSE") for line in lines)
    assert any(line.startswith("  log: skipped, an essentially exact formula") for line in lines)
    (result,) = [line for line in lines if line.startswith("signal = ")]
    assert "full formula in" in result
    assert "Pareto front (complexity vs held-out RMSE; * the returned formula):" in lines
    head = lines.index("Pareto front (complexity vs held-out RMSE; * the returned formula):")
    assert lines[head + 1].split() == ["complexity", "RMSE", "pipeline", "formula"]
    assert [line.split()[3] for line in lines[head + 2:] if line.startswith("*")] == ["identity"]
    assert "[identity]" not in out  # details are for --verbose
    assert (out_dir / "formula.txt").read_text() == f"signal = {LONG}\n"
    from kanlab.explorer.pareto import read_pareto
    assert [r["chosen"] for r in read_pareto(out_dir / "pareto.json")].count(True) == 1  # the explorer's Pareto view
    report = (out_dir / "report.md").read_text()
    assert "## Stages" in report and "| separable | rejected | its formula has complex values" in report
    assert markdown_text(LONG) in report  # the formula, escaped as Markdown (docs/security.md)
    assert "signal" in plot_labels and "$y$" not in plot_labels


def test_verbose_sends_the_details_to_stderr(tmp_path, capsys, fake_pipelines):
    f = sympy.lambdify((p, q), LONG, "numpy")
    path = _csv(tmp_path, lambda X: f(X[:, 0], X[:, 1]))
    code, out, err = _run(["discover", str(path), "--target", "signal", "--out", str(tmp_path / "o"), "--verbose"],
                          capsys)
    assert code == 0
    assert "kanlab: [identity] " in err and "[identity]" not in out
    assert max(len(line.replace(str(tmp_path), "")) for line in out.splitlines()) <= 160


def test_quiet_shows_the_result_only(tmp_path, capsys, fake_pipelines):
    f = sympy.lambdify((p, q), LONG, "numpy")
    path = _csv(tmp_path, lambda X: f(X[:, 0], X[:, 1]))
    code, out, err = _run(["discover", str(path), "--target", "signal", "--out", str(tmp_path / "o"), "--quiet"],
                          capsys)
    assert code == 0 and err == ""
    assert "identity: ok" not in out and "signal = " in out


@pytest.mark.slow
def test_discover_end_to_end_output(tmp_path, capsys, plot_labels):
    path = _csv(tmp_path, lambda X: 3 * X[:, 0] - X[:, 1] ** 2, n=300)
    code, out, err = _run(["discover", str(path), "--target", "signal", "--out", str(tmp_path / "o")], capsys)
    assert code == 0 and "Warning" not in err
    lines = out.splitlines()
    assert max(len(line.replace(str(tmp_path), "")) for line in lines) <= 160
    assert "  identity: ok" in out and "signal = 3*p - q**2" in lines
    assert "signal" in plot_labels and "$y$" not in plot_labels


def test_the_budget_line_and_the_row_sample(tmp_path, capsys, fake_pipelines):
    path = _csv(tmp_path, lambda X: X[:, 0] + X[:, 1])
    code, out, _ = _run(["discover", str(path), "--target", "signal", "--out", str(tmp_path / "o"),
                         "--max-rows", "50", "--time-budget", "30"], capsys)
    assert code == 0
    assert "budget: rows used: 50 of them (a seeded sample); time: 30 s" in out.splitlines()
    assert any(line.startswith("  data: ok, using a seeded sample of 50 of the 120 rows") for line in out.splitlines())
