"""The pure KAN network module: a stack of KANLayers (paper eq. 2.7), nothing else.

It knows how to evaluate itself, capture the inputs each layer sees, adapt its grids and
refine them. Training, pruning, symbolic fitting, plotting and I/O live in their own modules
and operate on this class; the user-facing facade ``kanlab.KAN`` subclasses it.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .layer import KANLayer
from . import primitives
from .symbolic_edges import SymbolicEdges
from .mult import MultSpec, parse_width

__all__ = ["KANNetwork", "check_width"]


def check_width(width) -> list[int]:
    if isinstance(width, (str, bytes)) or not hasattr(width, "__len__"):
        raise ValueError(f"width must be a list of layer sizes like [2, 5, 1], got {width!r}")
    w = list(width)
    if len(w) < 2:
        raise ValueError(f"width needs at least 2 entries (inputs and outputs), got {w}")
    for n in w:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"every entry of width must be a positive integer, got {w}")
    return w


class KANNetwork(nn.Module):
    """A KAN of shape ``width`` = [n0, n1, ..., nL].

    A width entry may also be ``[n_sum, n_mult]`` (multiplication nodes, :mod:`.mult`; each
    multiplies ``mult_arity`` consecutive outputs of the layer before: an int, or one per entry).

    ``seed`` seeds this model's initialisation only, through a private generator: the global
    torch RNG is neither read nor changed. The buffer ``input_index`` holds the original indices
    of the inputs the network reads (``input_ids`` gives them as a list): after input pruning
    the model still takes all original columns and selects its own.
    """

    def __init__(self, width, grid: int = 5, k: int = 3, seed: int = 0, grid_range=(-1.0, 1.0),
                 grid_eps: float = 0.02, noise_scale: float = 0.3, base_fun: str = "silu",
                 scale_base_mu: float = 0.0, scale_base_sigma: float = 1.0, scale_sp: float = 1.0,
                 bias: bool = False, device=None, dtype=None, mult_arity=2):
        super().__init__()
        plain = not isinstance(width, (str, bytes)) and hasattr(width, "__len__") and \
            not any(isinstance(e, (list, tuple)) for e in width)
        n_sum, n_mult, arity = parse_width(check_width(width) if plain else width, mult_arity)
        self.mult = MultSpec([s + m for s, m in zip(n_sum, n_mult)], n_mult, arity)
        width = self.mult.n_nodes
        subs = [self.mult.n_sub(l) for l in range(len(width))]
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.seed = seed
        self.n_inputs = width[0]  # number of columns the model takes
        gen = torch.Generator().manual_seed(seed)
        self.layers = nn.ModuleList(
            KANLayer(width[l], subs[l + 1], grid=grid, k=k, grid_range=grid_range, grid_eps=grid_eps,
                     noise_scale=noise_scale, base_fun=base_fun, scale_base_mu=scale_base_mu,
                     scale_base_sigma=scale_base_sigma, scale_sp=scale_sp, bias=bias,
                     device=device, dtype=dtype, generator=gen)
            for l in range(len(width) - 1)
        )
        self.symbolic = nn.ModuleList(SymbolicEdges(width[l], subs[l + 1], dtype=dtype, device=device)
                                      for l in range(len(width) - 1))
        self.register_buffer("input_index", torch.arange(width[0], device=device))

    # ------------------------------------------------------------------ shape
    @property
    def width(self) -> list[int]:
        """Nodes per row (a mult node counts once; its factors are sub-nodes, see ``width_spec``)."""
        if not self.has_mult:
            return [self.layers[0].in_dim] + [layer.out_dim for layer in self.layers]
        return [self.layers[0].in_dim] + self.mult.n_nodes[1:]

    @property
    def has_mult(self) -> bool:
        """Whether the network has multiplication nodes."""
        return self.mult.any

    @property
    def width_spec(self) -> list:
        """pykan-style width: an int per row, [n_sum, n_mult] for rows with mult nodes."""
        return [self.layers[0].in_dim] + self.mult.width_entries()[1:]

    @property
    def mult_arity(self) -> list[int]:
        return list(self.mult.arity)

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def grid(self) -> int:
        return self.layers[0].grid

    @property
    def k(self) -> int:
        return self.layers[0].k

    @property
    def input_ids(self) -> list[int]:
        """Original column indices of the inputs this network reads (all columns unless pruned)."""
        return [int(i) for i in self.input_index]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        old = prefix + "input_ids"  # files written before the buffer was renamed input_index
        if old in state_dict and prefix + "input_index" not in state_dict:
            state_dict[prefix + "input_index"] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        if self.has_mult:
            return f"width={self.width_spec}, mult_arity={self.mult.arity}"
        return f"width={self.width}"

    # ------------------------------------------------------------------ evaluation
    def select_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Check x has the model's original number of columns and keep the ones it reads."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor of shape (..., {self.n_inputs}), got {type(x).__name__}")
        if x.dim() < 1 or x.shape[-1] != self.n_inputs:
            raise ValueError(f"expected input of shape (..., {self.n_inputs}), got {tuple(x.shape)}")
        if self.input_index.numel() == self.n_inputs:
            return x
        return x.index_select(-1, self.input_index)

    def layer_forward(self, l: int, x: torch.Tensor) -> torch.Tensor:
        """Output of layer ``l`` (all its edges, numeric and symbolic, summed at the nodes)."""
        return self.add_symbolic(l, x, self.layers[l](x))

    def node_values(self, l: int, y: torch.Tensor) -> torch.Tensor:
        """The nodes of row l + 1 from layer ``l``'s outputs y: y itself, or with the mult
        nodes' factors multiplied (the only place the mult step is applied)."""
        if not self.mult.n_mult[l + 1]:
            return y
        return self.mult.combine(l + 1, y)

    def add_symbolic(self, l: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """y plus the symbolic edges of layer ``l`` evaluated on its inputs x."""
        sym = self.symbolic[l]
        if len(sym):
            lead = x.shape[:-1]
            y = y + sym(x.reshape(-1, x.shape[-1])).reshape(*lead, -1)
        return y

    def edge_values(self, l: int, x: torch.Tensor, basis: torch.Tensor | None = None) -> torch.Tensor:
        """phi_ij(x_i) of every edge of layer ``l`` on its inputs x (N, in) -> (N, in, out),
        numeric and symbolic edges together. ``basis``: optional precomputed basis features of x."""
        values = self.layers[l].edge_values(x, basis=basis)
        if len(self.symbolic[l]):
            values = values + self.symbolic[l].edge_values(x)
        return values

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate the network on x (..., n_inputs)."""
        return self.run_layers(self.select_inputs(x))

    def run_layers(self, h: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Layers ``start``.. applied to h, the (selected) input of layer ``start``."""
        for l in range(start, len(self.layers)):
            h = self.node_values(l, self.layer_forward(l, h))
        return h

    def layer_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[x_0, x_1, ..., x_L]: the input of every layer and the output, for x of shape (N, n_inputs)."""
        xs = [self.select_inputs(x)]
        for l in range(len(self.layers)):
            xs.append(self.node_values(l, self.layer_forward(l, xs[-1])))
        return xs

    # ------------------------------------------------------------------ grids
    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Adapt every layer's grid to the inputs it sees on x, layer by layer."""
        x = self.select_inputs(x).reshape(-1, self.layers[0].in_dim)
        for l, layer in enumerate(self.layers):
            layer.update_grid(x)
            x = self.node_values(l, self.layer_forward(l, x))

    def refine(self, new_grid: int):
        """A new network (same class) with ``new_grid`` intervals per edge, same function."""
        new = copy.deepcopy(self)
        new.layers = nn.ModuleList(layer.refine(new_grid) for layer in self.layers)
        return new

    def out_of_range_fraction(self, x: torch.Tensor) -> float:
        """Fraction of layer-input values outside their interior grids (over all layers)."""
        with torch.no_grad():
            xs = self.layer_inputs(x.reshape(-1, x.shape[-1]))
            fr = [layer.out_of_range_fraction(xi) * xi.numel() for layer, xi in zip(self.layers, xs)]
            return sum(fr) / max(sum(xi.numel() for xi in xs[:-1]), 1)

    # ------------------------------------------------------------------ config (for io)
    def config(self) -> dict:
        """JSON-able description from which ``from_config`` rebuilds an identical skeleton."""
        cfg = {
            "n_inputs": self.n_inputs,
            "seed": self.seed,
            "layers": [
                {"in_dim": l.in_dim, "out_dim": l.out_dim, "grid": l.grid, "k": l.k,
                 "grid_range": list(l.grid_range), "grid_eps": l.grid_eps, "noise_scale": l.noise_scale,
                 "base_fun": l.base_fun, "bias": l.bias is not None, "symbolic": list(sym.names)}
                for l, sym in zip(self.layers, self.symbolic)
            ],
        }
        if self.has_mult:  # plain networks keep the config they always had
            cfg["mult"] = self.mult.config()
        return cfg

    @classmethod
    def from_config(cls, cfg: dict, dtype=None):
        layers = cfg["layers"]
        width = [layers[0]["in_dim"]] + [l["out_dim"] for l in layers]
        arity = 2
        if "mult" in cfg:  # width from the node counts: a row's next layer's in_dim (outputs: sub-nodes less factors)
            n_mult, arity = cfg["mult"]["n_mult"], cfg["mult"]["mult_arity"]
            nodes = [l["in_dim"] for l in layers] + [layers[-1]["out_dim"] - n_mult[-1] * (arity[-1] - 1)]
            width = [[n - m, m] if m else n for n, m in zip(nodes, n_mult)]
        first = layers[0]
        model = cls(width, grid=first["grid"], k=first["k"], seed=cfg.get("seed", 0), dtype=dtype, mult_arity=arity,
                    grid_range=first["grid_range"], grid_eps=first["grid_eps"], noise_scale=first["noise_scale"],
                    base_fun=first["base_fun"], bias=first["bias"])
        model.layers = nn.ModuleList(
            KANLayer(l["in_dim"], l["out_dim"], grid=l["grid"], k=l["k"], grid_range=l["grid_range"],
                     grid_eps=l["grid_eps"], noise_scale=l["noise_scale"], base_fun=l["base_fun"],
                     bias=l["bias"], dtype=dtype)
            for l in layers
        )
        for l in layers:
            for name in l.get("symbolic", []):
                primitives.get(name)  # an unregistered function name fails clearly here
        model.symbolic = nn.ModuleList(SymbolicEdges(l["in_dim"], l["out_dim"], names=l.get("symbolic", []), dtype=dtype)
                                       for l in layers)
        model.n_inputs = cfg["n_inputs"]
        model.input_index = torch.arange(width[0])
        return model
