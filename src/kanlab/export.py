"""Export a trained KAN to TorchScript and ONNX.

The training modules use a custom autograd function and ``searchsorted``, which neither
TorchScript scripting nor ONNX knows. :func:`exportable` therefore converts a trained network
into :class:`ExportKAN`, a plain inference module computing the same function with basic
tensor ops only:

* each edge's spline is rewritten, interval by interval, as a degree-k polynomial in the local
  coordinate s = (x - t_mu) / h_mu (exact: a B-spline is a polynomial on each knot interval);
  the interval is found by counting the knots <= x, and the (k+1) x out polynomial
  coefficients of the interval are gathered and evaluated by Horner's rule;
* symbolic edges c * f(a x + b) + d use the built-in primitives' singularity-safe torch forms,
  the ones the model itself evaluates (user-registered primitives can be traced but not
  scripted or exported here; a clear error says so).

``to_torchscript(model)`` scripts it; ``to_onnx(model, path)`` writes an ONNX file with a
dynamic batch dimension (needs the ``onnx`` package). Outputs match the model to float
rounding (tests/test_export.py checks TorchScript and onnxruntime against the model).
"""
from __future__ import annotations

import torch
from torch import nn

from . import io
from .core import primitive_forms as bf
from .kernels.base_functions import BASE_FUNCTIONS, IDENTITY, SILU, TANH
from .kernels.torch_basis import knot_interval
from .validate import KanlabError

__all__ = ["ExportKAN", "exportable", "to_torchscript", "to_onnx", "EXPORTABLE_PRIMITIVES"]

#: built-in primitives an exported model can contain, in the order of their integer codes
EXPORTABLE_PRIMITIVES = ("x", "x^2", "x^3", "x^4", "x^5", "1/x", "1/x^2", "sqrt", "1/sqrt", "exp", "log", "sin",
                         "cos", "tan", "tanh", "arctan", "arcsin", "arctanh", "abs", "sgn", "gaussian", "0",
                         "cosh", "sinh")


def _primitive(code: int, x: torch.Tensor) -> torch.Tensor:
    """The safe torch form of primitive number ``code`` of EXPORTABLE_PRIMITIVES."""
    if code <= 4:
        return x ** (code + 1) if code > 0 else x
    if code == 5:
        return 1.0 / torch.where(x >= 0, torch.clamp(x, min=bf.SAFE_EPS), torch.clamp(x, max=-bf.SAFE_EPS))
    if code == 6:
        return 1.0 / torch.clamp(x * x, min=bf.SAFE_EPS * bf.SAFE_EPS)
    if code == 7:
        return torch.sqrt(torch.clamp(x, min=0.0))
    if code == 8:
        return torch.rsqrt(torch.clamp(x, min=bf.SAFE_EPS))
    if code == 9:
        return torch.exp(torch.clamp(x, max=bf.EXP_MAX))
    if code == 10:
        return torch.log(torch.clamp(x, min=bf.SAFE_EPS))
    if code == 11:
        return torch.sin(x)
    if code == 12:
        return torch.cos(x)
    if code == 13:
        lim = 1.5707963267948966 - bf.SAFE_EPS
        r = x - 3.141592653589793 * torch.round(x / 3.141592653589793)
        return torch.tan(torch.clamp(r, -lim, lim))
    if code == 14:
        return torch.tanh(x)
    if code == 15:
        return torch.atan(x)
    if code == 16:
        return torch.asin(torch.clamp(x, -1.0 + bf.DOMAIN_EPS, 1.0 - bf.DOMAIN_EPS))
    if code == 17:
        return torch.atanh(torch.clamp(x, -1.0 + bf.DOMAIN_EPS, 1.0 - bf.DOMAIN_EPS))
    if code == 18:
        return torch.abs(x)
    if code == 19:
        return torch.sign(x)
    if code == 20:
        return torch.exp(-(x * x))
    if code == 22:
        return torch.cosh(torch.clamp(x, -bf.EXP_MAX, bf.EXP_MAX))
    if code == 23:
        return torch.sinh(torch.clamp(x, -bf.EXP_MAX, bf.EXP_MAX))
    return x * 0.0


class ExportLayer(nn.Module):
    """One layer as piecewise polynomials plus base weights plus symbolic edges (inference only)."""

    def __init__(self, knots, poly, wb, bias, base_code: int, k: int, sym_index, sym_affine, sym_code):
        super().__init__()
        self.register_buffer("knots", knots)  # (in, n_knots)
        self.register_buffer("poly", poly)  # (in * (n_knots + 1), 2 + (k + 1) * out): [t_mu, 1/h, coefficients]
        self.register_buffer("wb", wb)  # (in, out), mask applied
        self.register_buffer("bias", bias)  # (out,)
        self.register_buffer("sym_index", sym_index)  # (E, 2) long
        self.register_buffer("sym_affine", sym_affine)  # (E, 4)
        self.register_buffer("sym_code", sym_code)  # (E,) long
        sym_out = torch.zeros(sym_code.shape[0], wb.shape[1], dtype=wb.dtype, device=wb.device)
        sym_out[torch.arange(sym_code.shape[0]), sym_index[:, 1]] = 1.0
        self.register_buffer("sym_out", sym_out)  # (E, out): edge e feeds output node sym_index[e, 1]
        self.base_code = base_code  # a code of kernels.base_functions; the ones base() tests, as attributes
        self.silu_code, self.identity_code, self.tanh_code = SILU, IDENTITY, TANH  # (TorchScript takes no globals)
        self.k = k
        self.n_rows = knots.shape[1] + 1
        self.out_dim = wb.shape[1]

    def base(self, x: torch.Tensor) -> torch.Tensor:
        if self.base_code == self.silu_code:
            return x * torch.sigmoid(x)
        if self.base_code == self.identity_code:
            return x
        if self.base_code == self.tanh_code:
            return torch.tanh(x)
        return x * 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, n_in = x.shape[0], x.shape[1]
        j = knot_interval(x, self.knots, by_count=True)  # t_{j-1} <= x < t_j (ONNX has no searchsorted)
        offset = torch.arange(n_in, device=x.device).unsqueeze(0) * self.n_rows
        rows = self.poly.index_select(0, (j + offset).reshape(-1))
        s = ((x.reshape(-1) - rows[:, 0]) * rows[:, 1]).unsqueeze(1)
        width = self.out_dim
        start = 2 + self.k * width
        acc = rows[:, start:start + width]
        for p in range(self.k - 1, -1, -1):
            acc = rows[:, 2 + p * width:2 + (p + 1) * width] + acc * s
        y = acc.reshape(n, n_in, width).sum(1) + self.base(x) @ self.wb + self.bias
        if self.sym_code.shape[0] > 0:
            p = self.sym_affine
            arg = p[:, 0] * x.index_select(1, self.sym_index[:, 0]) + p[:, 1]  # (N, E)
            cols = [_primitive(int(self.sym_code[e]), arg[:, e]) for e in range(self.sym_code.shape[0])]
            y = y + (p[:, 2] * torch.stack(cols, 1) + p[:, 3]) @ self.sym_out
        return y


class ExportKAN(nn.Module):
    """A trained KAN's function for inference and export: (N, n_inputs) -> (N, n_outputs)."""

    def __init__(self, layers, input_index, n_inputs: int):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.register_buffer("input_index", input_index)
        self.n_inputs = n_inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.index_select(1, self.input_index)
        for layer in self.layers:
            x = layer(x)
        return x


def _poly_rows(layer) -> torch.Tensor:
    """Per-interval polynomial coefficients of every edge of ``layer``, in float64."""
    tab = layer.basis_table.double()  # (in, rows, [t, 1/h, C (k1 x k1), D])
    n_in, n_rows, _ = tab.shape
    k1 = layer.k + 1
    C = tab[..., 2:2 + k1 * k1].reshape(n_in, n_rows, k1, k1)  # [p, r]: s^p coefficient of B_{mu-k+r}
    w = (layer.coef.double() * (layer.scale_sp.double() * layer.mask.double()).unsqueeze(1))  # (in, nb, out)
    # row j = mu + 1 uses basis functions mu - k + r = j - k1 + r; pad so every index exists
    wpad = torch.nn.functional.pad(w, (0, 0, k1, k1))  # basis m sits at m + k1
    idx = torch.arange(n_rows)[:, None] + torch.arange(k1)[None, :]  # (rows, r): j - k1 + r + k1
    wsel = wpad[:, idx]  # (in, rows, r, out)
    coef = torch.einsum("ijpr,ijro->ijpo", C, wsel)  # (in, rows, p, out)
    return torch.cat([tab[..., :2], coef.reshape(n_in, n_rows, -1)], -1).reshape(n_in * n_rows, -1)


@torch.no_grad()
def exportable(model, dtype=None) -> ExportKAN:
    """An :class:`ExportKAN` computing ``model``'s function (in ``dtype``, default the model's)."""
    from .core.network import KANNetwork

    if not isinstance(model, KANNetwork):
        raise KanlabError(f"exportable() needs a KAN, got {type(model).__name__}")
    if model.has_mult:
        raise KanlabError("export does not support multiplication nodes yet (width "
                          f"{model.width_spec}); use torch.jit.trace(model, x) instead")
    dtype = dtype or next(model.parameters()).dtype
    layers = []
    for layer, sym in zip(model.layers, model.symbolic):
        unknown = sorted(set(sym.names) - set(EXPORTABLE_PRIMITIVES))
        if unknown:
            raise KanlabError(f"symbolic edges use user-registered functions {unknown}, which cannot be exported; "
                              "fix those edges to built-in primitives, or use torch.jit.trace(model, x)")
        codes = torch.tensor([EXPORTABLE_PRIMITIVES.index(nm) for nm in sym.names], dtype=torch.long)
        bias = layer.bias if layer.bias is not None else layer.scale_base.new_zeros(layer.out_dim)
        layers.append(ExportLayer(layer.knots.double().to(dtype), _poly_rows(layer).to(dtype),
                                  (layer.scale_base * layer.mask).to(dtype), bias.detach().to(dtype),
                                  BASE_FUNCTIONS[layer.base_fun].code, layer.k, sym.index.clone().cpu(),
                                  sym.affine.detach().to(dtype).cpu(), codes))
    device = next(model.parameters()).device
    return ExportKAN(layers, model.input_index.clone(), model.n_inputs).to(device).eval()


def to_torchscript(model, path: str | None = None) -> torch.jit.ScriptModule:
    """``torch.jit.script`` of the model's exportable form; saved to ``path`` if given."""
    scripted = torch.jit.script(exportable(model))
    if path is not None:
        io.atomic_write(path, lambda tmp: scripted.save(tmp))
    return scripted


def to_onnx(model, path: str, opset: int = 17) -> str:
    """Write the model as ONNX (input "x" of shape (batch, n_inputs), output "y"). Returns path."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError as exc:
        raise KanlabError("ONNX export needs the onnx package: pip install kanlab[export]") from exc
    mod = exportable(model, dtype=torch.float32).cpu()
    x = torch.zeros(2, model.n_inputs)
    import warnings

    def write(tmp):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(mod, (x,), tmp, input_names=["x"], output_names=["y"], opset_version=opset,
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, dynamo=False)

    io.atomic_write(path, write)
    return path

