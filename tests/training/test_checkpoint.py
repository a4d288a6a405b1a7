"""Checkpoints: atomic files, and a killed-and-resumed fit equal to an uninterrupted one."""
import math
import os
import subprocess
import sys

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from kanlab import KAN, create_dataset
from kanlab.training.checkpoint import FILE_NAME
from kanlab.validate import KanlabError


def f2(x):
    return torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)


@pytest.fixture(scope="module")
def ds():
    return create_dataset(f2, n_var=2, train_num=300, test_num=50, seed=0, dtype=torch.float64)


class Killer:
    """MSE that raises after ``limit`` evaluations (a fit killed mid-step); limit None: never."""

    def __init__(self, limit=None):
        self.limit, self.calls = limit, 0

    def __call__(self, pred, y):
        self.calls += 1
        if self.limit is not None and self.calls > self.limit:
            raise KeyboardInterrupt("killed")
        return ((pred - y) ** 2).mean()


def _model(seed=0):
    return KAN([2, 3, 1], grid=5, seed=seed, dtype=torch.float64)


OPTS = {"steps": 12, "progress": False, "grid_update_num": 2, "stop_grid_update_step": 8}


@pytest.mark.parametrize("opt,lr,when", [("Adam", 0.02, 0.6), ("LBFGS", 1.0, 0.6), ("LBFGS", 1.0, 0.9)])
def test_a_killed_and_resumed_fit_equals_an_uninterrupted_one(ds, tmp_path, opt, lr, when):
    ref = _model()
    counter = Killer()
    h_ref = ref.fit(ds, opt=opt, lr=lr, loss_fn=counter, **OPTS)
    limit = int(counter.calls * when)  # killed in the middle of a step, some way through the fit
    run = _model()
    with pytest.raises(KeyboardInterrupt):
        run.fit(ds, opt=opt, lr=lr, loss_fn=Killer(limit), checkpoint=tmp_path, checkpoint_every=3, **OPTS)
    saved = torch.load(tmp_path / FILE_NAME, weights_only=True)["step"]
    assert 0 <= saved < OPTS["steps"] - 1  # killed after a checkpoint, before the end
    fresh = _model(seed=5)  # a different start: everything must come from the checkpoint
    h = fresh.fit(ds, opt=opt, lr=lr, loss_fn=Killer(), checkpoint=tmp_path, checkpoint_every=3, resume=True, **OPTS)
    assert h.train_loss == h_ref.train_loss and h.test_loss == h_ref.test_loss
    for (name, a), b in zip(ref.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name


def test_resume_in_a_fresh_process_on_the_fused_path(ds, tmp_path):
    ref = _model()
    ref.fit(ds, opt="LBFGS", **OPTS)
    ref_file = tmp_path / "ref.pt"
    torch.save(ref.state_dict(), ref_file)
    first = _model()
    first.fit(ds, opt="LBFGS", checkpoint=tmp_path / "ck", checkpoint_every=6, **{**OPTS, "steps": 6})
    code = f"""
import math, torch
from kanlab import KAN, create_dataset
f2 = lambda x: torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)
ds = create_dataset(f2, n_var=2, train_num=300, test_num=50, seed=0, dtype=torch.float64)
m = KAN([2, 3, 1], grid=5, seed=9, dtype=torch.float64)
m.fit(ds, opt="LBFGS", checkpoint={str(tmp_path / 'ck')!r}, resume=True, checkpoint_every=6, **{OPTS!r})
ref = torch.load({str(ref_file)!r})
assert all(torch.equal(ref[k], v) for k, v in m.state_dict().items()), "differs"
print("same")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0 and "same" in out.stdout, out.stderr[-2000:]


def test_a_streaming_fit_resumes_exactly(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(500, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = f2(x)
    loader = DataLoader(TensorDataset(x, y), batch_size=64)  # 8 batches a pass: the resume crosses a pass
    opts = dict(opt="Adam", lr=0.02, steps=20, progress=False, grid_update_num=4, stop_grid_update_step=16,
                reservoir=100, loss_fn=Killer())
    ref = _model()
    ref.fit(loader, **opts)
    run = _model()
    with pytest.raises(KeyboardInterrupt):
        run.fit(loader, checkpoint=tmp_path, checkpoint_every=5, **{**opts, "loss_fn": Killer(13)})
    fresh = _model(seed=3)
    fresh.fit(loader, checkpoint=tmp_path, checkpoint_every=5, resume=True, **opts)
    for a, b in zip(ref.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_checkpoint_files_are_atomic_and_resume_errors_are_clear(ds, tmp_path):
    m = _model()
    m.fit(ds, opt="Adam", lr=0.01, checkpoint=tmp_path, checkpoint_every=2, **{**OPTS, "steps": 4})
    assert os.listdir(tmp_path) == [FILE_NAME]  # no temporary file left behind
    with pytest.raises(KanlabError, match="lr=0.01"):
        _model().fit(ds, opt="Adam", lr=0.02, checkpoint=tmp_path, resume=True, **OPTS)
    with pytest.raises(KanlabError, match="different model shape"):
        KAN([2, 4, 1], grid=5, dtype=torch.float64).fit(ds, opt="Adam", lr=0.01, checkpoint=tmp_path, resume=True, **OPTS)
    with pytest.raises(KanlabError, match="no checkpoint"):
        _model().fit(ds, opt="Adam", checkpoint=tmp_path / "empty", resume=True, **OPTS)
    (tmp_path / FILE_NAME).write_bytes(b"garbage")
    with pytest.raises(KanlabError, match="not a readable kanlab checkpoint"):
        _model().fit(ds, opt="Adam", lr=0.01, checkpoint=tmp_path, resume=True, **OPTS)
    with pytest.raises(ValueError, match="resume=True needs checkpoint"):
        _model().fit(ds, resume=True, **OPTS)
