"""Snapshots during a fit and the training video made from them."""
import os

import pytest
import torch

from kanlab import KAN
from kanlab.interpret import animate
from kanlab.training.snapshots import snapshot_files
from kanlab.validate import KanlabError


def _dataset():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 2, generator=g) * 2 - 1
    return {"train_input": x, "train_label": (x[:, :1] * x[:, 1:]) + torch.sin(x[:, :1])}


def test_fit_writes_numbered_snapshots_and_animate_makes_one_frame_each(tmp_path):
    from PIL import Image

    ds, snaps = _dataset(), tmp_path / "snaps"
    m = KAN([2, 3, 1], seed=0)
    m.fit(ds, steps=5, snapshot_every=2, snapshot_dir=snaps, progress=False, lamb=1e-3)
    files = snapshot_files(snaps)
    assert [s for s, _ in files] == [0, 2, 4, 5]  # before the first step, every 2 steps, the end
    with torch.no_grad():
        assert torch.equal(KAN.load(files[-1][1])(ds["train_input"]), m(ds["train_input"]))
        assert not torch.equal(KAN.load(files[0][1])(ds["train_input"]), m(ds["train_input"]))
    gif = tmp_path / "train.gif"
    assert animate(snaps, gif, x=ds["train_input"], fps=2, dpi=40) == 4
    with Image.open(gif) as im:
        assert im.n_frames == len(files)


def test_snapshot_options_are_checked(tmp_path):
    ds, m = _dataset(), KAN([2, 1], seed=0)
    with pytest.raises(ValueError, match="both snapshot_every=N .* and snapshot_dir"):
        m.fit(ds, steps=1, snapshot_every=2, progress=False)
    with pytest.raises(ValueError, match="snapshot_every must be a positive integer"):
        m.fit(ds, steps=1, snapshot_every=0, snapshot_dir=tmp_path, progress=False)
    m.fit(ds, steps=1, snapshot_every=1, snapshot_dir=tmp_path, progress=False)
    with pytest.raises(KanlabError, match="already holds snapshots"):
        m.fit(ds, steps=1, snapshot_every=1, snapshot_dir=tmp_path, progress=False)
    with pytest.raises(KanlabError, match="no snapshots"):
        animate(tmp_path / "empty", tmp_path / "a.gif", x=ds["train_input"])
    with pytest.raises(KanlabError, match="writes .gif or .mp4"):
        animate(tmp_path, tmp_path / "a.avi", x=ds["train_input"])


def test_mp4_without_ffmpeg_is_a_clear_error(tmp_path, monkeypatch):
    from matplotlib import animation

    ds, m = _dataset(), KAN([2, 1], seed=0)
    m.fit(ds, steps=1, snapshot_every=1, snapshot_dir=tmp_path, progress=False)
    monkeypatch.setattr(animation.writers, "is_available", lambda name: False)
    with pytest.raises(KanlabError, match="needs the ffmpeg program"):
        animate(tmp_path, tmp_path / "train.mp4", x=ds["train_input"])
    assert not os.path.exists(tmp_path / "train.mp4")
