"""KAN: the user-facing facade. Each method delegates to the module that does the work."""
from __future__ import annotations

from .interpret import attribution, edit, interaction, plot, prune
from . import export, io
from .symbolic import fix_edges, formula, kanpiler
from .training import loop as training_loop
from .discovery import pipeline as discovery_pipeline
from .core.network import KANNetwork

__all__ = ["KAN", "discover"]


class KAN(KANNetwork):
    """A Kolmogorov-Arnold Network with the paper's toolchain as methods.

    >>> model = KAN(width=[2, 5, 1], grid=5, k=3, seed=0)
    >>> hist = model.fit(dataset, steps=50)        # trains in place
    >>> fine = model.refine(10)                    # new model, finer grid, same function

    Structure-changing operations (refine, prune) return a new model; content-changing ones
    (fit, update_grid, fix_symbolic) work in place.
    """

    def fit(self, dataset, **kwargs):
        """Train in place; see :class:`kanlab.training.config.FitConfig` for the options. Returns the history."""
        return training_loop.fit(self, dataset, **kwargs)

    def to_torchscript(self, path=None):
        """A scripted inference copy (TorchScript), saved to ``path`` if given (see :mod:`kanlab.export`)."""
        return export.to_torchscript(self, path)

    def to_onnx(self, path, opset: int = 17):
        """Write the model as ONNX (input "x" (batch, n_inputs), output "y"); needs ``kanlab[export]``."""
        return export.to_onnx(self, path, opset=opset)

    def attribute(self, x, output=None):
        """Edge / node / input importance scores on data x, towards all outputs or output
        ``output`` only (see :mod:`kanlab.interpret.attribution`)."""
        return attribution.attribute(self, x, output=output)

    def feature_score(self, x, output=None):
        """Importance of each original input column on data x (towards output ``output`` if given)."""
        return attribution.feature_score(self, x, output=output)

    def feature_interaction(self, x, output=None):
        """(n_inputs, n_inputs) pairwise interaction strengths on x (:mod:`kanlab.interpret.interaction`)."""
        return interaction.feature_interaction(self, x, output=output)

    # editing (:mod:`kanlab.interpret.edit`): each returns a new model, the original is untouched
    def expand_width(self, layer: int, n_new: int, seed: int = 0) -> "KAN":
        """``n_new`` more nodes in hidden layer ``layer``, outgoing edges zero: the same function."""
        return edit.expand_width(self, layer, n_new, seed=seed)

    def expand_depth(self, position=None, x=None, grid_range=None) -> "KAN":
        """A new layer, the identity by splines on x's range (or grid_range), before layer ``position`` (default: last)."""
        return edit.expand_depth(self, position, x=x, grid_range=grid_range)

    def perturb(self, scale: float = 0.1, seed: int = 0) -> "KAN":
        """Spline coefficients plus ``scale`` * N(0, 1) noise."""
        return edit.perturb(self, scale, seed=seed)

    def remove_edge(self, l: int, i: int, j: int) -> "KAN":
        """Edge (l, i, j) switched off."""
        return edit.remove_edge(self, l, i, j)

    def prune_edge(self, th: float = 3e-2, x=None) -> "KAN":
        """The edges scoring below ``th`` on x switched off (their means kept in the biases)."""
        return prune.prune_edge(self, th, x=x)

    def swap(self, l: int, i: int, j: int) -> "KAN":
        """Hidden nodes i and j of layer l exchanged: the same function."""
        return edit.swap(self, l, i, j)

    def auto_swap(self, x) -> "KAN":
        """Hidden nodes reordered to shorten the plot's importance-weighted wiring on x: the same function."""
        return edit.auto_swap(self, x)

    def prune(self, node_th: float = 1e-2, edge_th: float = 3e-2, x=None) -> "KAN":
        """A new, smaller KAN: weak hidden nodes removed, weak edges masked (scores on x)."""
        return prune.prune(self, node_th=node_th, edge_th=edge_th, x=x)

    def prune_input(self, th: float = 1e-2, x=None) -> "KAN":
        """A new KAN without the inputs scoring below ``th`` on x; it still takes all columns."""
        return prune.prune_input(self, th=th, x=x)

    def plot(self, path=None, x=None, in_vars=None, out_vars=None, beta: float = 3.0, **kwargs):
        """The network diagram with every edge's curve; returns the Figure (writes only to ``path``)."""
        return plot.plot_network(self, x, path=path, in_vars=in_vars, out_vars=out_vars, beta=beta, **kwargs)

    def suggest_symbolic(self, l: int, i: int, j: int, x=None, topk: int = 5, lib=None, weight_simple: float = 0.8):
        """Ranked symbolic candidates for edge (l, i, j), fitted on the data x."""
        return fix_edges.suggest_symbolic(self, l, i, j, x, topk=topk, lib=lib, weight_simple=weight_simple)

    def fix_symbolic(self, l: int, i: int, j: int, name: str, x=None, fit_params: bool = True, params=None) -> float:
        """Fix edge (l, i, j) to c*f(a*x+b)+d with f = name (fitted on x); returns R^2."""
        return fix_edges.fix_symbolic(self, l, i, j, name, x=x, fit_params=fit_params, params=params)

    def unfix_symbolic(self, l: int, i: int, j: int) -> None:
        """Return edge (l, i, j) to its numeric spline."""
        fix_edges.unfix_symbolic(self, l, i, j)

    def auto_symbolic(self, x=None, lib=None, r2_threshold: float = 0.0, weight_simple: float = 0.8, verbose: bool = False):
        """Fix every live numeric edge to its best-ranked symbolic form on x."""
        if x is None:
            raise ValueError("auto_symbolic needs data x: the model inputs of shape (N, n_inputs)")
        return fix_edges.auto_symbolic(self, x, lib=lib, r2_threshold=r2_threshold, weight_simple=weight_simple, verbose=verbose)

    def to_splines(self, x, n_samples: int = 201) -> float:
        """Every symbolic edge becomes a trainable spline fitted to its function over the range
        its inputs take on x (in place); returns the largest fit error (see ``fix_edges.to_splines``)."""
        return fix_edges.to_splines(self, x, n_samples=n_samples)

    @classmethod
    def from_formula(cls, expr, var_names, dtype=None) -> "KAN":
        """A KAN computing the sympy expression ``expr`` of ``var_names`` exactly: sums at sum
        nodes, products at multiplication nodes, unary functions on symbolic edges (float64
        unless ``dtype`` says otherwise; see :mod:`kanlab.symbolic.kanpiler`)."""
        import torch

        return kanpiler.from_formula(expr, var_names, cls=cls, dtype=dtype or torch.float64)

    def symbolic_formula(self, var_names=None, simplify: bool = True, digits=None):
        """One sympy expression per output (every live edge must be symbolic)."""
        return formula.symbolic_formula(self, var_names=var_names, simplify=simplify, digits=digits)

    def formula_check(self, x, var_names=None) -> dict:
        """How far the symbolic formula's predictions are from the model's on x."""
        return formula.formula_check(self, x, var_names=var_names)

    def save(self, path) -> None:
        """Write this model to ``path`` (safetensors + JSON config, atomic)."""
        io.save(self, path)

    @classmethod
    def load(cls, path, device=None) -> "KAN":
        """Read a model written by :meth:`save`."""
        return io.load(path, cls, device=device)

    def explore(self, x=None, y=None, x_test=None, y_test=None, var_names=None, target="y", port: int = 0,
                open_browser: bool = True):
        """Open this model in the interactive explorer (a local web page; in Jupyter an IFrame):
        look at edges, fix them to formulas, retrain, undo. Works on a copy; returns the running
        :class:`kanlab.explorer.server.Explorer` (``.url``, ``.workbench``, ``.stop()``)."""
        from .explorer import Workbench, launch

        wb = Workbench(self, x, y, x_test, y_test, var_names=var_names, target=target)
        return launch(wb, port=port, open_browser=open_browser)


def discover(X, y, var_names=None, seed: int = 0, **kwargs):
    """Data -> formula: see :func:`kanlab.discovery.pipeline.discover` (options: :class:`kanlab.discovery.config.DiscoverConfig`). ``result.model`` is a :class:`KAN`."""
    return discovery_pipeline.discover(X, y, var_names=var_names, seed=seed, model_cls=KAN, **kwargs)
