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


def _formula_text(name, params) -> str:
    """Short label c*f(a*x+b)+d of a symbolic edge, e.g. '1.5 sin(2x+0.3)'."""
    a, b, c, d = params

    def num(v):
        return f"{v:.2g}"

    inner = ("x" if abs(a - 1) < 5e-3 else "-x" if abs(a + 1) < 5e-3 else f"{num(a)}x")
    if abs(b) >= 5e-3:
        inner += f"{'+' if b > 0 else '-'}{num(abs(b))}"
    text = f"{name}({inner})"
    if abs(c - 1) >= 5e-3:
        text = ("-" if abs(c + 1) < 5e-3 else f"{num(c)} ") + text
    if abs(d) >= 5e-3:
        text += f"{'+' if d > 0 else '-'}{num(abs(d))}"
    return text


def _node_names(network, in_vars, out_vars):
    """Labels of the input nodes (the kept inputs) and of the output nodes."""
    width = network.width
    in_names = list(in_vars) if in_vars is not None else [f"$x_{{{i + 1}}}$" for i in network.input_ids]
    if in_vars is not None and len(in_names) == network.n_inputs and network.n_inputs != width[0]:
        in_names = [in_names[i] for i in network.input_ids]
    out_names = list(out_vars) if out_vars is not None else [f"$y_{{{j + 1}}}$" if width[-1] > 1 else "$y$" for j in range(width[-1])]
    return in_names, out_names


def _drawn_edges(network):
    """Formula text of each symbolic edge {(l, i, j): text}, and the edges drawn in each layer:
    live numeric or symbolic ones, in (i, j) order."""
    width = network.width
    L = len(width) - 1
    sym = getattr(network, "symbolic", None)
    sym_edges = {}
    if sym is not None:
        for l in range(L):
            for (i, j, name, params) in sym[l].edges():
                sym_edges[(l, i, j)] = _formula_text(name, params)
    edges = [[(i, j) for i in range(width[l]) for j in range(network.layers[l].out_dim)
              if network.layers[l].mask[i, j] > 0 or (l, i, j) in sym_edges] for l in range(L)]
    return sym_edges, edges


def _edge_curves(network, l, x_range, n_points):
    """Each edge's curve of layer l on n_points over its input's range: (grid (n_points, in),
    values (n_points, in, out)) as float64 numpy arrays."""
    import torch

    dtype = next(network.parameters()).dtype
    grid = torch.stack([torch.linspace(lo, hi, n_points, dtype=torch.float64) for lo, hi in x_range], dim=1).to(dtype)
    with torch.no_grad():
        curves = network.edge_values(l, grid).cpu().double().numpy()  # (n_points, in, out)
    return grid.cpu().double().numpy(), curves


def _draw_layer_edges(fig, ax, network, scores, l, edges, sym_edges, beta, scale, n_points):
    """The wires and the inset curve of every drawn edge between rows l and l+1."""
    import numpy as np

    width = network.width
    L = len(width) - 1
    fig_w, fig_h = fig.get_size_inches()
    to_fig = ax.transData + fig.transFigure.inverted()
    grid, curves = _edge_curves(network, l, scores.x_range[l].tolist(), n_points)
    n = len(edges)
    w = min(0.8 / n, 0.12)  # inset width, axes units (= figure fraction)
    h = min(w * fig_w / fig_h * 1.16, 0.45 / L)  # inset height in data units
    w = h / (fig_w / fig_h * 1.16)  # square insets
    cy = (l + 0.5) / L
    for k, (i, j) in enumerate(edges):
        alpha = float(np.tanh(beta * float(scores.edge[l][i, j])))
        color = "tab:red" if (l, i, j) in sym_edges else "black"
        cx = (k + 0.5) / n
        (x0, y0), (x1, y1) = _node_xy(width, l, i), _sub_xy(network, l + 1, j)
        line_alpha = max(alpha, 0.05)
        ax.plot([x0, cx], [y0, cy - h / 2], color=color, alpha=line_alpha, lw=0.8 * scale)
        ax.plot([cx, x1], [cy + h / 2, y1], color=color, alpha=line_alpha, lw=0.8 * scale)
        (fx0, fy0), (fx1, fy1) = to_fig.transform([(cx - w / 2, cy - h / 2), (cx + w / 2, cy + h / 2)])
        sub = fig.add_axes([fx0, fy0, fx1 - fx0, fy1 - fy0])
        sub.plot(grid[:, i], curves[:, i, j], color=color, alpha=max(alpha, 0.05), lw=1.2 * scale)
        sub.set_xticks([])
        sub.set_yticks([])
        sub.patch.set_alpha(0.0)
        for spine in sub.spines.values():
            spine.set_alpha(max(alpha, 0.05))
        if (l, i, j) in sym_edges:
            sub.set_title(sym_edges[(l, i, j)], fontsize=7 * scale, color="tab:red", pad=1)


def _node_xy(width, l, i):
    L = len(width) - 1
    return (i + 0.5) / width[l], l / L


def _mult_rows(network) -> list:
    """The rows that have multiplication nodes."""
    mult = getattr(network, "mult", None)
    return [r for r in range(len(network.width)) if mult is not None and mult.has(r)]


def _sub_xy(network, row, j):
    """Where the edge into output j of layer row - 1 ends: its node, or for a factor of a mult
    node a point just below the node, the factors spread side by side."""
    width = network.width
    if row not in _mult_rows(network):
        return _node_xy(width, row, j)
    mult = network.mult
    node = int(mult.node_of_sub(row)[j])
    x, y = _node_xy(width, row, node)
    if node < mult.n_sum(row):
        return x, y
    a = mult.arity[row]
    r = (j - mult.n_sum(row)) % a
    return x + (r - (a - 1) / 2) * 0.5 / (width[row] * a), y - 0.04


def _draw_mult_nodes(ax, network, scale):
    """Mult nodes as squares marked with a times sign, wired to their factors (small dots)."""
    width = network.width
    for row in _mult_rows(network):
        s = network.mult.n_sum(row)
        groups = network.mult.node_of_sub(row).tolist()
        for j, node in enumerate(groups[s:], start=s):
            (xs, ys), (xn, yn) = _sub_xy(network, row, j), _node_xy(width, row, node)
            ax.plot([xs, xn], [ys, yn], color="tab:blue", lw=0.8 * scale, zorder=4)
            ax.scatter([xs], [ys], s=10 * scale, color="tab:blue", zorder=5)
        for node in range(s, width[row]):
            x, y = _node_xy(width, row, node)
            ax.scatter([x], [y], s=90 * scale, marker="s", color="white", edgecolors="tab:blue", zorder=6)
            ax.text(x, y, "\u00d7", ha="center", va="center", color="tab:blue", fontsize=9 * scale, zorder=7)


def _draw_nodes(ax, width, in_names, out_names, scale):
    """One row of dots per layer; input names below the bottom row, output names above the top."""
    L = len(width) - 1
    for l in range(L + 1):
        pts = [_node_xy(width, l, i) for i in range(width[l])]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=40 * scale, color="black", zorder=5)
    for i, name in enumerate(in_names[: width[0]]):
        ax.text(_node_xy(width, 0, i)[0], -0.04, name, ha="center", va="top", fontsize=11 * scale)
    for j, name in enumerate(out_names[: width[-1]]):
        ax.text(_node_xy(width, L, j)[0], 1.04, name, ha="center", va="bottom", fontsize=11 * scale)


def plot_network(network, x, path=None, in_vars=None, out_vars=None, beta: float = 3.0, scale: float = 1.0,
                 title=None, n_points: int = 80):
    """The paper's network diagram: nodes as dots in one row per layer; between two rows a small
    drawing of every live edge's learned curve over the range of inputs it sees on x, wired from
    its input node to its output node, with opacity tanh(beta * score) (backward attribution).

    Symbolic edges (if the model has any) are drawn in red with their formula c*f(a*x+b)+d.
    Multiplication nodes are blue squares marked with a times sign, wired to their factors.
    ``in_vars`` names the inputs (all original columns, or just the kept ones), ``out_vars`` the
    outputs; LaTeX like "$x_1$" is fine. Returns the matplotlib Figure; writes PNG/SVG/PDF (by
    the extension of ``path``) only when ``path`` is given.
    """
    from .attribution import attribute

    if x is None:
        raise ValueError("plot needs data x (N, n_inputs) to draw each edge over the inputs it sees")
    plt = _plt()
    scores = attribute(network, x)
    width = network.width
    L = len(width) - 1
    in_names, out_names = _node_names(network, in_vars, out_vars)
    sym_edges, edges = _drawn_edges(network)
    slots = max([max(width)] + [len(e) for e in edges])
    fig_w = min(max(4.0, 1.6 * max(width), 0.6 * slots), 40.0) * scale
    fig_h = 2.6 * L * scale
    fig = plt.figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.08, 1.08)
    ax.axis("off")
    for l in range(L):
        if edges[l]:
            _draw_layer_edges(fig, ax, network, scores, l, edges[l], sym_edges, beta, scale, n_points)
    _draw_nodes(ax, width, in_names, out_names, scale)
    _draw_mult_nodes(ax, network, scale)
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig
