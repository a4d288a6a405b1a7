"""Save and load models: one safetensors file holding the tensors and a JSON config.

The safetensors header carries ``format`` ("kanlab"), ``format_version`` and ``config`` (JSON).
Writes are atomic: the file is written to a temporary name in the same directory, flushed to
disk, then renamed over the target, so a crash mid-save leaves any previous file intact.

A model file is data, never code (no pickle), and it is checked before anything is allocated
(see docs/security.md). ``load`` reads only the safetensors header first: the JSON config and
each stored tensor's name, dtype and shape (safetensors itself checks that those shapes add up
to the file's size, so the file size bounds them). Then, before the network is built or a
tensor is read:

* every config field has its type and range (integers >= 1, a finite grid range, a known base
  function, ...), consecutive layers fit together;
* the stored tensors are exactly the ones the config implies, with exactly its shapes;
* the file is at most ``MAX_FILE_BYTES`` and the numbers the load allocates
  (``planned_values(config)``: parameters, buffers and the derived basis tables, counting the
  skeleton that is built first and then replaced) at most ``MAX_VALUES``.

Any failure is a ``ModelFileError`` that names the file and the field.
"""
from __future__ import annotations

import json
import math
import os
import tempfile

from .kernels.base_functions import BASE_FUNCTIONS
from .validate import KanlabError

__all__ = ["save", "load", "atomic_write", "planned_values", "FORMAT", "FORMAT_VERSION", "MAX_FILE_BYTES",
           "MAX_VALUES", "ModelFileError"]

FORMAT = "kanlab"
FORMAT_VERSION = 2  # 2: KANLayer.coef is (in, G+k, out); version 1 files (in, out, G+k) still load
#: the largest model file ``load`` reads (4 GiB)
MAX_FILE_BYTES = 4 * 2 ** 30
#: the most numbers loading one model may allocate (``planned_values``; 2e8 float64 values: 1.6 GB)
MAX_VALUES = 200_000_000
_FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


class ModelFileError(KanlabError):
    """The file is not a readable kanlab model (truncated, foreign, from a newer version, or with
    a config that does not match its tensors or exceeds the documented limits)."""


def atomic_write(path, write_fn) -> None:
    """Call ``write_fn(tmp_path)`` then atomically move the temporary file onto ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    os.close(fd)
    try:
        write_fn(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(model, path) -> None:
    """Write ``model`` (a KANNetwork) to ``path`` atomically."""
    from safetensors.torch import save_file

    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "config": json.dumps(model.config())}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def load(path, cls, device=None):
    """Read a model written by ``save`` and rebuild it as an instance of ``cls``.

    The file is checked before the network is built (see the module docstring): a config that
    does not match the stored tensors, or a model over ``MAX_FILE_BYTES`` / ``MAX_VALUES``, is a
    ``ModelFileError``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise ModelFileError(f"{path!r} is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,} bytes for a model "
                             "file (kanlab.io.MAX_FILE_BYTES)")
    meta, shapes = _read_header(path)
    version, cfg = _header_fields(path, meta)
    _check_config(path, cfg, shapes, version)  # everything checked before anything is allocated
    tensors = _read_tensors(path, shapes)
    _check_indices(path, cfg, tensors)
    from .symbolic import UnknownSymbolicFunction

    try:
        dtype = next(t.dtype for k, t in tensors.items() if k.endswith("coef"))
        if version < 2:  # coef was (in, out, G+k)
            tensors = {k: (t.transpose(1, 2).contiguous() if k.endswith(".coef") and t.dim() == 3 else t)
                       for k, t in tensors.items()}
        model = cls.from_config(cfg, dtype=dtype)
        model.load_state_dict(tensors, strict=True)
    except UnknownSymbolicFunction:
        raise
    except (KeyError, ValueError, RuntimeError, StopIteration) as e:
        raise ModelFileError(f"{path!r} has an inconsistent kanlab config or tensors: {e}") from None
    return model.to(device) if device is not None else model


def _read_header(path):
    """(metadata, {name: (shape, dtype)}) from the safetensors header; no tensor is read."""
    from safetensors import SafetensorError
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt") as fh:
            meta = fh.metadata() or {}
            shapes = {}
            for key in fh.keys():
                part = fh.get_slice(key)
                shapes[key] = (tuple(part.get_shape()), part.get_dtype())
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"{path!r} is not a readable kanlab model file (truncated or foreign?): {e}") from None
    return meta, shapes


def _read_tensors(path, shapes) -> dict:
    """The stored tensors, which must still have the checked shapes (the file may not change
    between the check and the read)."""
    from safetensors import SafetensorError
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt") as fh:
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"{path!r} is not a readable kanlab model file (truncated or foreign?): {e}") from None
    if {k: tuple(t.shape) for k, t in tensors.items()} != {k: v[0] for k, v in shapes.items()}:
        raise ModelFileError(f"{path!r} changed while it was being read; load it again")
    return tensors


def _header_fields(path, meta):
    """(format version, config dict) of a kanlab header."""
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path!r} is a safetensors file but not a kanlab model (format={_show(meta.get('format'))})")
    try:
        version = int(meta.get("format_version", "0"))
    except ValueError:
        raise ModelFileError(f"{path!r} has an unreadable format_version {_show(meta.get('format_version'))}") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path!r} was written by a newer kanlab (format {version} > {FORMAT_VERSION}); upgrade kanlab")
    if version < 1:
        raise ModelFileError(f"{path!r} has unsupported format version {version}")
    try:
        cfg = json.loads(meta["config"])
    except (KeyError, TypeError, ValueError, RecursionError) as e:
        raise ModelFileError(f"{path!r} has no readable config in its header: {type(e).__name__}: {_show(e)}") from None
    return version, cfg


def _show(value, width: int = 60) -> str:
    """A short repr of a value from a file, for an error message."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[: width - 4] + " ..."


class _Fields:
    """Typed access to one dict of the config; errors name the file and the field."""

    def __init__(self, path, where, data):
        if not isinstance(data, dict):
            raise ModelFileError(f"{path!r}: config {where} must be a JSON object, got {_show(data)}")
        self.path, self.where, self.data = path, where, data

    def fail(self, key, wanted):
        return ModelFileError(f"{self.path!r}: config {self.where}{key} must be {wanted}, got "
                              f"{_show(self.data.get(key, 'nothing (missing)'))}")

    def int(self, key, low, high, default=None):
        v = self.data.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise self.fail(key, f"an integer in [{low}, {high:,}]")
        return v

    def number(self, key, low=-math.inf, high=math.inf):
        v = self.data.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not low <= v <= high:
            raise self.fail(key, f"a finite number in [{low}, {high}]")
        return v

    def choice(self, key, options):
        v = self.data.get(key)
        if not isinstance(v, type(options[0])) or v not in options:
            raise self.fail(key, f"one of {list(options)}")
        return v


def _layer(path, index, data) -> tuple:
    """(in_dim, out_dim, grid, k, bias, n_symbolic) of one layer's config, every field checked."""
    f = _Fields(path, f"layers[{index}].", data)
    n_in, n_out = f.int("in_dim", 1, MAX_VALUES), f.int("out_dim", 1, MAX_VALUES)
    grid, k = f.int("grid", 1, MAX_VALUES), f.int("k", 0, 1000)
    rng = data.get("grid_range")
    if (not isinstance(rng, list) or len(rng) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, float))
                                                         or not math.isfinite(v) for v in rng) or not rng[0] < rng[1]):
        raise f.fail("grid_range", "[low, high], two finite numbers with low < high")
    f.number("grid_eps", 0.0, 1.0)
    f.number("noise_scale")
    f.choice("base_fun", sorted(BASE_FUNCTIONS))
    bias = f.choice("bias", [False, True])
    names = data.get("symbolic", [])
    if not isinstance(names, list) or not all(isinstance(v, str) and len(v) <= 200 for v in names):
        raise f.fail("symbolic", "a list of function names")
    return n_in, n_out, grid, k, bias, len(names)


def _layer_values(n_in, n_out, grid, k) -> int:
    """Numbers one layer holds: coef, scale_base, scale_sp, mask, bias, knots, basis table."""
    return (n_in * n_out * (grid + k + 3) + n_out + n_in * (grid + 2 * k + 1)
            + n_in * (grid + 2 * k + 2) * (2 * (k + 1) ** 2 + 2))


def planned_values(cfg: dict) -> int:
    """How many numbers loading ``cfg`` allocates: every layer's parameters, buffers and basis
    table, twice over (``from_config`` first builds a skeleton of the widths with the first
    layer's grid and k, then the real layers). The config must have been checked."""
    layers = cfg["layers"]
    g0, k0 = layers[0]["grid"], layers[0]["k"]
    return sum(_layer_values(l["in_dim"], l["out_dim"], l["grid"], l["k"]) + _layer_values(l["in_dim"], l["out_dim"], g0, k0)
               for l in layers)


def _expected_shapes(layers, version) -> dict:
    """{tensor name: shape} that checked layers imply (version 1: coef (in, out, G+k))."""
    shapes = {"input_index": (layers[0][0],)}
    for l, (n_in, n_out, grid, k, bias, n_sym) in enumerate(layers):
        p = f"layers.{l}."
        shapes[p + "coef"] = (n_in, grid + k, n_out) if version >= 2 else (n_in, n_out, grid + k)
        for name in ("scale_base", "scale_sp", "mask"):
            shapes[p + name] = (n_in, n_out)
        if bias:
            shapes[p + "bias"] = (n_out,)
        shapes[p + "knots"] = (n_in, grid + 2 * k + 1)
        shapes[f"symbolic.{l}.index"], shapes[f"symbolic.{l}.affine"] = (n_sym, 2), (n_sym, 4)
    return shapes


def _check_config(path, cfg, shapes, version) -> None:
    """The config's fields, its agreement with the stored tensors and the size limits."""
    f = _Fields(path, "", cfg)
    raw = cfg.get("layers")
    if not isinstance(raw, list) or not raw:
        raise f.fail("layers", "a non-empty list of layers")
    layers = [_layer(path, i, d) for i, d in enumerate(raw)]
    n_mult, arity = _check_mult(path, cfg, layers)
    for i in range(1, len(layers)):
        if layers[i][0] != layers[i - 1][1] - n_mult[i] * (arity[i] - 1):
            raise ModelFileError(f"{path!r}: config layers[{i}].in_dim = {layers[i][0]} but layers[{i - 1}].out_dim = "
                                 f"{layers[i - 1][1]} with {n_mult[i]} mult node(s) of arity {arity[i]}; consecutive "
                                 "layers must fit together")
    f.int("n_inputs", layers[0][0], MAX_VALUES)
    f.int("seed", -2 ** 63, 2 ** 64 - 1, default=0)
    stored = dict(shapes)
    if "input_ids" in stored and "input_index" not in stored:  # files written before the buffer was renamed
        stored["input_index"] = stored.pop("input_ids")
    _compare_tensors(path, _expected_shapes(layers, version), stored)
    from .symbolic import get as symbolic_function

    for data in raw:
        for name in data.get("symbolic", []):
            symbolic_function(name)  # an unregistered name: UnknownSymbolicFunction, which says how to register it
    total = planned_values(cfg)
    if total > MAX_VALUES:
        raise ModelFileError(f"{path!r}: loading this model would allocate {total:,} numbers, over the limit of "
                             f"{MAX_VALUES:,} (kanlab.io.MAX_VALUES); such a file is refused")


def _check_mult(path, cfg, layers) -> tuple:
    """(n_mult, arity) per node row from the optional ``mult`` field (none: no mult nodes)."""
    rows = len(layers) + 1
    if "mult" not in cfg:
        return [0] * rows, [2] * rows
    f = _Fields(path, "", cfg)
    mult = cfg["mult"]
    if not isinstance(mult, dict) or set(mult) != {"n_mult", "mult_arity"}:
        raise f.fail("mult", "an object with exactly the keys n_mult and mult_arity")
    n_mult, arity = mult["n_mult"], mult["mult_arity"]
    for key, values, low in (("n_mult", n_mult, 0), ("mult_arity", arity, 2)):
        if (not isinstance(values, list) or len(values) != rows or
                any(isinstance(v, bool) or not isinstance(v, int) or not low <= v <= MAX_VALUES for v in values)):
            raise ModelFileError(f"{path!r}: config mult.{key} must be a list of {rows} integers >= {low} (one per "
                                 f"width entry), got {_show(values)}")
    if n_mult[0]:
        raise ModelFileError(f"{path!r}: config mult.n_mult[0] must be 0 (inputs cannot be mult nodes), got {n_mult[0]}")
    for r in range(1, rows):
        if n_mult[r] * arity[r] > layers[r - 1][1]:
            raise ModelFileError(f"{path!r}: config mult: {n_mult[r]} mult node(s) of arity {arity[r]} need more than "
                                 f"layers[{r - 1}].out_dim = {layers[r - 1][1]} outputs")
    return n_mult, arity


def _compare_tensors(path, expected, stored) -> None:
    """The stored tensors must be exactly the expected ones, in shape and kind of dtype."""
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    wrong = [f"{k} is {list(stored[k][0])}, config says {list(v)}" for k, v in expected.items()
             if k in stored and tuple(stored[k][0]) != v]
    integer = {"input_index"} | {k for k in expected if k.endswith(".index")}
    for k in sorted(set(stored) & set(expected)):
        if not (stored[k][1] == "I64" if k in integer else stored[k][1] in _FLOAT_DTYPES):
            wrong.append(f"{k} has dtype {stored[k][1]}")
    problems = ([f"missing tensors {', '.join(missing[:5])}"] if missing else []) + \
               ([f"unexpected tensors {', '.join(map(_show, extra[:5]))}"] if extra else []) + wrong[:5]
    if problems:
        raise ModelFileError(f"{path!r}: the stored tensors do not match the config ({'; '.join(problems)}); the "
                             "file is damaged or was not written by kanlab")


def _check_indices(path, cfg, tensors) -> None:
    """Index tensors point inside their layers (read after the shape check, so they are small)."""
    import torch

    key = "input_index" if "input_index" in tensors else "input_ids"
    idx = tensors[key]
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= cfg["n_inputs"] or idx.unique().numel() != idx.numel()):
        raise ModelFileError(f"{path!r}: {key} must hold distinct column numbers in [0, {cfg['n_inputs']})")
    for l, layer in enumerate(cfg["layers"]):
        index = tensors[f"symbolic.{l}.index"]
        bound = torch.tensor([layer["in_dim"], layer["out_dim"]])
        if index.numel() and (bool((index < 0).any()) or bool((index >= bound).any())):
            raise ModelFileError(f"{path!r}: symbolic.{l}.index points outside layer {l} "
                                 f"({layer['in_dim']} inputs, {layer['out_dim']} outputs)")
