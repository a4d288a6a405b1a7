"""Save and load models: one safetensors file holding the tensors and a JSON config.

The safetensors header carries ``format`` ("kanlab"), ``format_version`` and ``config`` (JSON).
Writes are atomic: the file is written to a temporary name in the same directory, flushed to
disk, then renamed over the target, so a crash mid-save leaves any previous file intact.
"""
from __future__ import annotations

import json
import os
import tempfile


from .validate import KanlabError

__all__ = ["save", "load", "atomic_write", "FORMAT", "FORMAT_VERSION", "ModelFileError"]

FORMAT = "kanlab"
FORMAT_VERSION = 2  # 2: KANLayer.coef is (in, G+k, out); version 1 files (in, out, G+k) still load


class ModelFileError(KanlabError):
    """The file is not a readable kanlab model (truncated, foreign, or from a newer version)."""


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
    """Read a model written by ``save`` and rebuild it as an instance of ``cls``."""
    from safetensors import SafetensorError
    from safetensors import safe_open

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        with safe_open(path, framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"{path!r} is not a readable kanlab model file (truncated or foreign?): {e}") from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path!r} is a safetensors file but not a kanlab model (format={meta.get('format')!r})")
    try:
        version = int(meta.get("format_version", "0"))
    except ValueError:
        raise ModelFileError(f"{path!r} has an unreadable format_version {meta.get('format_version')!r}") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path!r} was written by a newer kanlab (format {version} > {FORMAT_VERSION}); upgrade kanlab")
    if version < 1:
        raise ModelFileError(f"{path!r} has unsupported format version {version}")
    from .symbolic import UnknownSymbolicFunction

    try:
        cfg = json.loads(meta["config"])
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
