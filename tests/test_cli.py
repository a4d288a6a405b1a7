import os

import pytest

from kanlab.cli import main


@pytest.mark.slow
def test_demo_writes_model_and_plot(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--fit", "--out", str(out), "--steps", "2", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "grid  20: test RMSE" in text
    assert os.path.exists(out / "model.kan") and os.path.exists(out / "training_curves.png")


def test_no_command_exits_2(capsys):
    assert main([]) == 2


def test_discover_cli_user_errors_exit_2(tmp_path, capsys):
    assert main(["discover", str(tmp_path / "missing.csv"), "--target", "y"]) == 2
    assert "no such file" in capsys.readouterr().err
    p = tmp_path / "d.csv"
    p.write_text("a,b,y\n1,2,3\n")
    assert main(["discover", str(p), "--target", "z"]) == 2
    assert "columns are: a, b, y" in capsys.readouterr().err
    p.write_text("a,b,y\n1,x,3\n")
    assert main(["discover", str(p), "--target", "y"]) == 2
    assert "is not a number" in capsys.readouterr().err
    p.write_text("a,b,y\n" + "1,2,3\n" * 5)
    assert main(["discover", str(p), "--target", "y"]) == 2
    assert "at least 20 rows" in capsys.readouterr().err


@pytest.mark.slow
def test_discover_cli_writes_outputs(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 2))
    y = 3 * X[:, 0] - X[:, 1] ** 2
    p = tmp_path / "data.csv"
    np.savetxt(p, np.column_stack([X, y]), delimiter=",", header="p,q,y", comments="")
    out = tmp_path / "out"
    assert main(["discover", str(p), "--target", "y", "--out", str(out), "--quiet"]) == 0
    for name in ("formula.txt", "formula.tex", "formula.py", "model.kan", "network.png", "report.md"):
        assert (out / name).exists(), name
    assert "y =" in capsys.readouterr().out
