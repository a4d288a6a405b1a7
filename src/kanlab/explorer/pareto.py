"""The Pareto front a ``kanlab discover`` run saved beside its model (``pareto.json``), read as
untrusted data for the explorer's Pareto view: a list of at most MAX_ROWS rows, each with
complexity (int), rmse (number), pipeline and formula (text, shown with textContent, never
evaluated) and chosen (bool). Anything else is a clear error, never a partial view."""
from __future__ import annotations

import json
import math
import os

from ..validate import KanlabError

__all__ = ["read_pareto", "check_pareto", "pareto_rows", "MAX_ROWS", "MAX_BYTES"]

MAX_ROWS = 200
MAX_BYTES = 2_000_000
_FIELDS = {"complexity": int, "rmse": (int, float), "pipeline": str, "formula": str, "chosen": bool}


def pareto_rows(front, chosen) -> list:
    """The JSON rows of a DiscoverResult's Pareto front (``chosen``: the returned formula)."""
    return [{"complexity": int(c), "rmse": float(e), "pipeline": str(getattr(p, "pipeline", "")), "formula": str(f),
             "chosen": bool(f == chosen)} for p in front for c, e, f in [p]][:MAX_ROWS]


def check_pareto(rows) -> list:
    """rows if they have the shape of the module docstring, else KanlabError naming the problem."""
    if not isinstance(rows, list) or len(rows) > MAX_ROWS:
        raise KanlabError(f"pareto.json must hold a list of at most {MAX_ROWS} rows")
    for k, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != set(_FIELDS):
            raise KanlabError(f"pareto.json row {k} must have exactly the fields {sorted(_FIELDS)}")
        for name, kind in _FIELDS.items():
            v = row[name]
            if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
                raise KanlabError(f"pareto.json row {k}: {name} has the wrong type")
        if not math.isfinite(float(row["rmse"])) or len(row["formula"]) > 20_000:
            raise KanlabError(f"pareto.json row {k}: rmse must be finite and the formula under 20,000 characters")
    return rows


def read_pareto(path) -> list:
    """The checked rows of a pareto.json file (its size checked before it is read)."""
    if os.path.getsize(path) > MAX_BYTES:
        raise KanlabError(f"{path} is over {MAX_BYTES} bytes: not a pareto.json that kanlab discover wrote")
    with open(path, encoding="utf-8") as fh:
        try:
            rows = json.load(fh)
        except ValueError as e:
            raise KanlabError(f"{path} is not JSON: {e}") from None
    return check_pareto(rows)
