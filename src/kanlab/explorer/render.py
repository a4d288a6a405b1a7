"""Images of the explorer page, drawn on the server with matplotlib (no browser-side maths or
plotting library): the network diagram (with the position of every edge's drawing, so the page
can make them clickable), one edge's curve with a rug of its inputs, the formula as mathtext."""
from __future__ import annotations

import io

from ..interpret import plot as network_plot
from ..symbolic.user_names import plot_label
from .checks import WorkbenchInputError, live_edge

__all__ = ["diagram", "edge_plot", "formula_image", "FORMATS"]

FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
DPI = 100


def _save(fig, fmt: str, tight: bool = False) -> bytes:
    if fmt not in FORMATS:
        raise WorkbenchInputError(f"image format must be one of {', '.join(FORMATS)}, got {fmt!r:.20}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI, **({"bbox_inches": "tight", "pad_inches": 0.1} if tight else {}))
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _live_edges(network):
    """The drawn edges of each layer in drawing order: live (numeric or symbolic), (i, j) order."""
    return [[(l, i, j) for i in range(layer.in_dim) for j in range(layer.out_dim) if live_edge(network, l, i, j)]
            for l, layer in enumerate(network.layers)]


def diagram(workbench, fmt: str = "png") -> tuple[bytes, list[dict]]:
    """(image bytes, hotspots): the network plot of the current model and, per drawn edge, its
    box {l, i, j, left, top, width, height} in fractions of the image (top-left origin)."""
    if not workbench.has_data:
        raise WorkbenchInputError("the network diagram draws each edge over the inputs it receives: give data")
    wb_model = workbench.model
    names = [plot_label(v) for v in workbench.var_names]
    fig = network_plot.plot_network(wb_model, workbench.x, in_vars=names, out_vars=[plot_label(workbench.target)])
    insets = fig.axes[1:]
    edges = [e for layer in _live_edges(wb_model) for e in layer]
    if len(insets) != len(edges):
        raise RuntimeError(f"the diagram drew {len(insets)} edges but the model has {len(edges)} live ones; "
                           "the explorer's edge order no longer matches kanlab.interpret.plot")
    spots = []
    for (l, i, j), ax in zip(edges, insets):
        box = ax.get_position()
        spots.append({"l": l, "i": i, "j": j, "left": float(box.x0), "top": float(1.0 - box.y1), "width": float(box.width),
                      "height": float(box.height)})
    return _save(fig, fmt), spots


def edge_plot(curve: dict, candidates=(), fmt: str = "png") -> bytes:
    """One edge's curve over the range of its inputs, a rug of those inputs below it, and the
    best candidate's fitted form c*f(a*x+b)+d dashed (if given)."""
    import numpy as np

    from .. import symbolic

    plt = network_plot._plt()
    fig, (ax, rug) = plt.subplots(2, 1, figsize=(5, 3.6), sharex=True, gridspec_kw={"height_ratios": [6, 1]})
    color = "tab:red" if curve["symbolic"] else "black"
    label = f"{curve['symbolic']} (symbolic)" if curve["symbolic"] else "learned curve"
    ax.plot(curve["x"], curve["y"], color=color, lw=2, label=label)
    for c in list(candidates)[:1]:
        import torch

        a, b, cc, d = c["params"]
        xs = torch.tensor(curve["x"], dtype=torch.float64)
        ys = cc * symbolic.get(c["name"])(a * xs + b) + d
        ax.plot(curve["x"], ys.numpy(), "--", color="tab:blue", lw=1.5, label=f"best candidate: {c['name']}")
    ax.set_title(f"edge ({curve['l']},{curve['i']},{curve['j']}), importance {curve['importance']:.3g}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    rug.plot(curve["inputs"], np.zeros(len(curve["inputs"])), "|", color="0.3", ms=12, alpha=0.4)
    rug.set_yticks([])
    rug.set_xlabel("input of the edge (the data it receives)")
    fig.tight_layout()
    return _save(fig, fmt)


def formula_image(latex: list | None, target: str, message: str | None = None) -> bytes:
    """The formula typeset by matplotlib's mathtext (the LaTeX comes from
    :func:`kanlab.symbolic.formula.to_latex`, whose names are escaped), or ``message`` as text."""
    plt = network_plot._plt()
    lines = [f"${t}$" for t in latex] if latex else [plot_label(message or "no formula yet")]
    fig = plt.figure(figsize=(9, 0.6 + 0.5 * len(lines)))
    for k, text in enumerate(lines):
        prefix = plot_label(target) + " = " if latex else ""
        fig.text(0.01, 1 - (k + 0.6) / len(lines), prefix + text, fontsize=13 if latex else 10, va="center",
                 wrap=not latex)
    return _save(fig, "png", tight=True)
