"""Training videos: the network plot of every snapshot of a fit, as a GIF or MP4.

``fit(..., snapshot_every=N, snapshot_dir=DIR)`` writes the snapshots
(:mod:`kanlab.training.snapshots`); :func:`animate` draws each with
:func:`kanlab.interpret.plot.plot_network` on the same data x and writes one frame per snapshot
through matplotlib's animation writers: GIF by ``PillowWriter`` (no extra program), MP4 by
``FFMpegWriter`` (needs the ``ffmpeg`` program on PATH).
"""
from __future__ import annotations

import os

from .. import io
from ..core.network import KANNetwork
from ..training.snapshots import snapshot_files
from ..validate import KanlabError
from .plot import _plt, plot_network

__all__ = ["animate"]


def _writer(path, fps):
    from matplotlib import animation

    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".gif":
        return animation.PillowWriter(fps=fps)
    if ext == ".mp4":
        if not animation.writers.is_available("ffmpeg"):
            raise KanlabError("writing .mp4 needs the ffmpeg program on PATH (matplotlib's FFMpegWriter); install "
                              "ffmpeg or write a .gif, which needs nothing extra")
        return animation.FFMpegWriter(fps=fps)
    raise KanlabError(f"animate writes .gif or .mp4 files, got {os.fspath(path)!r}; use a .gif or .mp4 name")


def _frame(model, x, title, kwargs):
    """The network plot of ``model`` as an RGB array (H, W, 3)."""
    import numpy as np

    plt = _plt()
    fig = plot_network(model, x, title=title, **kwargs)
    try:
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    finally:
        plt.close(fig)


def _fit_size(frame, shape):
    """``frame`` resized to ``shape`` (H, W, 3) when the plot's size changed (e.g. after pruning)."""
    if frame.shape == shape:
        return frame
    import numpy as np
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize((shape[1], shape[0])))


def animate(snapshot_dir, path, x, fps: float = 4.0, dpi: int = 100, **plot_kwargs) -> int:
    """Write an animation of the snapshots in ``snapshot_dir`` to ``path`` (.gif or .mp4): one
    frame per snapshot, the network plot on data x titled with the step. ``plot_kwargs`` go to
    :func:`~kanlab.interpret.plot.plot_network` (in_vars, out_vars, beta, scale). Returns the
    number of frames."""
    files = snapshot_files(snapshot_dir)
    if not files:
        raise KanlabError(f"no snapshots (step_*.kan) in {os.fspath(snapshot_dir)!r}; train with "
                          "fit(..., snapshot_every=N, snapshot_dir=DIR) first")
    if x is None:
        raise KanlabError("animate needs data x (N, n_inputs) to draw each edge over the inputs it sees")
    writer = _writer(path, fps)
    plt = _plt()
    first = _frame(io.load(files[0][1], KANNetwork), x, f"step {files[0][0]}", plot_kwargs)
    h, w = first.shape[:2]
    fig = plt.figure(figsize=(w / dpi, h / dpi), dpi=dpi)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.axis("off")
    image = ax.imshow(first)
    try:
        with writer.saving(fig, os.fspath(path), dpi):
            writer.grab_frame()
            for step, file in files[1:]:
                image.set_data(_fit_size(_frame(io.load(file, KANNetwork), x, f"step {step}", plot_kwargs), first.shape))
                writer.grab_frame()
    finally:
        plt.close(fig)
    return len(files)
