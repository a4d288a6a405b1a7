"""The network diagram (and the training curves): Figures back, files only when asked."""
import os

import pytest

from _sparse_kan import sparse_model
from kanlab.interpret.plot import _formula_text, plot_network, training_curves


def test_plot_returns_figure_and_writes_only_when_asked(tmp_path):
    m, ds = sparse_model()
    x = ds["train_input"][:100]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        fig = m.plot(x=x)
        live = sum(int((layer.mask > 0).sum()) for layer in m.layers)
        assert fig.__class__.__name__ == "Figure" and len(fig.axes) == 1 + live  # the diagram + one inset per edge
        assert os.listdir(tmp_path) == []
    finally:
        os.chdir(cwd)
    for ext in ("png", "svg", "pdf"):
        path = tmp_path / f"net.{ext}"
        m.plot(str(path), x=x, in_vars=["$a$", "b", "c"], out_vars=["$f$"])
        assert path.exists() and path.stat().st_size > 1000
    assert (tmp_path / "net.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "net.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(ValueError, match="needs data"):
        m.plot()


def test_plot_pruned_and_symbolic_model(tmp_path):
    m, ds = sparse_model()
    x = ds["train_input"][:200]
    small = m.prune(x=x).prune_input(x=x)
    small.fix_symbolic(0, 0, 0, "sin", x=x)
    fig = plot_network(small, x, in_vars=["u", "v", "w"], beta=3)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]
    assert "u" in texts and "v" in texts and "w" not in texts  # names of the kept inputs only
    ((i, j, name, params),) = [e for e in small.symbolic[0].edges() if e[2] == "sin"]
    assert (i, j) == (0, 0) and _formula_text(name, params) in texts  # the inset's title
    assert _formula_text("sin", (2.0, 0.0, 1.0, 0.0)) == "sin(2x)"
    assert _formula_text("exp", (1.0, -0.5, 3.0, 0.25)) == "3 exp(x-0.5)+0.25"


def test_training_curves(tmp_path):
    hist = {"train_loss": [1.0, 0.5, 0.2], "test_loss": [1.1, 0.6, 0.3]}
    fig = training_curves([hist, hist], labels=["G=5", "G=10"])
    assert fig.__class__.__name__ == "Figure"
    training_curves(hist, path=str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").exists()
