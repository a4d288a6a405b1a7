"""`kanlab train`: a streamed fit from a CSV in one process and under torchrun (2 processes)."""
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from kanlab import KAN
from kanlab.cli import main


def _csv(path, n=3000):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (n, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    with open(path, "w") as fh:
        fh.write("a,b,c,y\n")
        np.savetxt(fh, np.c_[X, y], delimiter=",", fmt="%.8g")
    return path


def test_train_writes_model_history_curve_and_report(tmp_path, capsys):
    data = _csv(tmp_path / "d.csv")
    out = tmp_path / "out"
    assert main(["train", str(data), "--target", "y", "--width", "4,2", "--steps", "60", "--batch-size", "128",
                   "--test-every", "20", "--out", str(out), "--quiet"]) == 0
    assert sorted(os.listdir(out)) == ["history.csv", "model.kan", "report.md", "training_curve.png"]
    model = KAN.load(out / "model.kan")
    assert model.width == [3, 4, 2, 1]
    rows = (out / "history.csv").read_text().splitlines()
    assert rows[0] == "step,train_rmse,test_rmse" and len(rows) == 61
    tested = [r for r in rows[1:] if not r.endswith(",")]
    assert [int(r.split(",")[0]) for r in tested] == [0, 20, 40, 59]
    assert float(tested[-1].split(",")[2]) < float(tested[0].split(",")[2])
    assert "rows/s" in (out / "report.md").read_text()


@pytest.mark.parametrize("argv,match", [
    (["--target", "zz"], "column 'zz' not in"),
    (["--target", "y", "--width", "4,x"], "--width must be"),
    (["--target", "y", "--holdout", "1.5"], "--holdout must be in"),
])
def test_train_user_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, match):
    data = _csv(tmp_path / "d.csv", n=50)
    assert main(["train", str(data), *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kanlab: error:") and match in err and "\n" not in err


def test_train_parquet_without_pyarrow_names_the_extra(tmp_path, capsys):
    try:
        import pyarrow  # noqa: F401
        pytest.skip("pyarrow is installed")
    except ImportError:
        pass
    p = tmp_path / "d.parquet"
    p.write_bytes(b"PAR1")
    assert main(["train", str(p), "--target", "y", "--out", str(tmp_path / "o")]) == 2
    assert "kanlab[parquet]" in capsys.readouterr().err


@pytest.mark.slow
def test_train_under_torchrun_with_two_processes(tmp_path):
    data = _csv(tmp_path / "d.csv")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(port), "-m", "kanlab", "train", str(data), "--target", "y", "--width", "4",
           "--steps", "30", "--batch-size", "128", "--out", str(out), "--quiet", "--timeout", "60"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    assert "x 2 process(es)" in res.stdout and res.stdout.count("wrote model.kan") == 1  # rank 0 alone writes
    assert sorted(os.listdir(out)) == ["history.csv", "model.kan", "report.md", "training_curve.png"]
    assert KAN.load(out / "model.kan").width == [3, 4, 1]
