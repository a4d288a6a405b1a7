"""Plots: training curves (and, with the interpretability tools, the network diagram).

Functions return matplotlib Figures and write files only when given a path.
"""
from __future__ import annotations

__all__ = ["training_curves", "plot_network"]


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


def plot_network(network, x, path=None, in_vars=None, out_vars=None, beta: float = 3.0, scale: float = 1.0,
                 title=None):
    """The paper's network diagram: nodes in rows, and on every edge a small drawing of its
    learned curve over the range of inputs it sees on x, with opacity tanh(beta * score).

    Symbolic edges (if the model has any) are drawn in red with their formula. Returns the
    matplotlib Figure; writes PNG/SVG/PDF (by extension) only when ``path`` is given.
    """
    import numpy as np
    import torch

    from .attribution import attribute

    if x is None:
        raise ValueError("plot needs data x (N, n_inputs) to draw each edge over the inputs it sees")
    plt = _plt()
    scores = attribute(network, x)
    width = network.width
    L = len(width) - 1
    in_names = list(in_vars) if in_vars is not None else [f"$x_{{{i + 1}}}$" for i in network.input_ids.tolist()]
    if in_vars is not None and len(in_names) == network.n_inputs and network.n_inputs != width[0]:
        in_names = [in_names[i] for i in network.input_ids.tolist()]
    out_names = list(out_vars) if out_vars is not None else [f"$y_{{{j + 1}}}$" if width[-1] > 1 else "$y$" for j in range(width[-1])]
    max_w = max(width)
    fig_w = max(4.0, 1.6 * max_w) * scale
    fig_h = 2.6 * L * scale
    fig = plt.figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.08, 1.08)
    ax.axis("off")

    def node_x(l, i):
        return (i + 0.5) / width[l]

    def node_y(l):
        return l / L

    sym_edges = {}
    sym = getattr(network, "symbolic", None)
    if sym is not None:
        for l in range(L):
            for (i, j, name, params) in sym[l].edges():
                sym_edges[(l, i, j)] = name
    inset = min(0.5 / max_w, 0.12)
    for l in range(L):
        lo_hi = scores.x_range[l]
        grid = torch.stack([torch.linspace(float(lo), float(hi), 60) for lo, hi in lo_hi.tolist()], dim=1)
        grid = grid.to(next(network.parameters()).dtype)
        with torch.no_grad():
            curves = network.edge_values(l, grid).cpu().numpy()  # (60, in, out)
        for i in range(width[l]):
            for j in range(width[l + 1]):
                alpha = float(np.tanh(beta * float(scores.edge[l][i, j])))
                x0, y0, x1, y1 = node_x(l, i), node_y(l), node_x(l + 1, j), node_y(l + 1)
                symbolic = (l, i, j) in sym_edges
                color = "tab:red" if symbolic else "black"
                ax.plot([x0, x1], [y0, y1], color=color, alpha=max(alpha, 0.03), lw=0.8 * scale)
                if alpha < 0.05:
                    continue
                cx, cy = x0 + 0.5 * (x1 - x0), y0 + 0.5 * (y1 - y0)
                sub = fig.add_axes([cx - inset / 2, (cy + 0.08) / 1.16 - inset * fig_w / fig_h / 2, inset, inset * fig_w / fig_h])
                sub.plot(grid[:, i].numpy(), curves[:, i, j], color=color, alpha=alpha, lw=1.2)
                sub.set_xticks([])
                sub.set_yticks([])
                for sp in sub.spines.values():
                    sp.set_alpha(alpha)
                if symbolic:
                    sub.set_title(sym_edges[(l, i, j)], fontsize=7, color="tab:red", pad=1)
    for l in range(L + 1):
        for i in range(width[l]):
            ax.scatter([node_x(l, i)], [node_y(l)], s=40 * scale, color="black", zorder=5)
    for i, name in enumerate(in_names[: width[0]]):
        ax.text(node_x(0, i), -0.05, name, ha="center", va="top", fontsize=11)
    for j, name in enumerate(out_names[: width[-1]]):
        ax.text(node_x(L, j), 1.05, name, ha="center", va="bottom", fontsize=11)
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig
