import os

from kanlab.cli import main


def test_demo_writes_model_and_plot(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--steps", "2", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "grid  20: test RMSE" in text
    assert os.path.exists(out / "model.kan") and os.path.exists(out / "training_curves.png")


def test_no_command_exits_2(capsys):
    assert main([]) == 2
