"""Plots: training curves (and, with the interpretability tools, the network diagram).

Functions return matplotlib Figures and write files only when given a path.
"""
from __future__ import annotations

__all__ = ["training_curves"]


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def training_curves(history, labels=None, path=None, logy=True):
    """Train/test RMSE against step. ``history``: one history dict or a list of them (stages
    plotted one after another, e.g. the grids of a grid-extension schedule)."""
    plt = _plt()
    hists = [history] if isinstance(history, dict) else list(history)
    labels = labels or [None] * len(hists)
    fig, ax = plt.subplots(figsize=(6, 4))
    start = 0
    for i, (h, lab) in enumerate(zip(hists, labels)):
        n = len(h.get("train_loss", []))
        steps = range(start, start + n)
        ax.plot(steps, h["train_loss"], color="C0", label="train" if i == 0 else None)
        test = h.get("test_loss", [])
        if len(test) == n:
            ax.plot(steps, test, color="C1", ls="--", label="test" if i == 0 else None)
        if lab and len(hists) > 1:
            ax.axvline(start, color="0.8", lw=0.8)
            ax.text(start, 1.0, f" {lab}", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
        start += n
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("RMSE")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig
