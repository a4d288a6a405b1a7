"""The shape of every request the explorer's web API accepts: which fields, of which JSON type.

A body must be a JSON object with exactly the listed fields (unknown or missing ones are refused);
the ranges (indices, names, step counts) are checked by the :class:`~.workbench.Workbench`
itself, so Python callers get the same checks."""
from __future__ import annotations

import json

from .checks import WorkbenchInputError

__all__ = ["ACTIONS", "parse_body", "query_ints", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = 4096
_NUM = (int, float)

#: action -> {field: (accepted JSON types, required)}
ACTIONS = {
    "fix": {"l": (int, True), "i": (int, True), "j": (int, True), "name": (str, True), "params": (list, False)},
    "unfix": {"l": (int, True), "i": (int, True), "j": (int, True)},
    "prune_edge": {"l": (int, True), "i": (int, True), "j": (int, True)},
    "prune_node": {"l": (int, True), "j": (int, True)},
    "refine": {"grid": (int, True)},
    "retrain": {"steps": (int, True), "lr": (_NUM, False), "opt": (str, False)},
    "auto_symbolic": {"r2_threshold": (_NUM, False)},
    "undo": {},
    "redo": {},
    "cancel": {},
}


def parse_body(action: str, raw: bytes, content_type: str) -> dict:
    """The validated fields of a POST body for ``action``."""
    if action not in ACTIONS:
        raise WorkbenchInputError(f"unknown action {action!r:.40}; actions are: {', '.join(ACTIONS)}")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise WorkbenchInputError("the body must be JSON (Content-Type: application/json)")
    if len(raw) > MAX_BODY_BYTES:
        raise WorkbenchInputError(f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WorkbenchInputError(f"the body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise WorkbenchInputError(f"the body must be a JSON object, got {type(body).__name__}")
    spec = ACTIONS[action]
    unknown = sorted(set(body) - set(spec))
    if unknown:
        raise WorkbenchInputError(f"{action} takes the fields {', '.join(spec) or '(none)'}; unknown: {', '.join(map(str, unknown))[:200]}")
    for name, (types, required) in spec.items():
        if name not in body:
            if required:
                raise WorkbenchInputError(f"{action} needs the field {name!r}")
            continue
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, types):
            want = "/".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
            raise WorkbenchInputError(f"field {name!r} must be JSON {want}, got {type(value).__name__}")
    return body


def query_ints(params, names) -> dict:
    """Integer query parameters (e.g. l, i, j of an edge) as ints; digits only."""
    out = {}
    for name in names:
        text = params.get(name)
        if text is None:
            raise WorkbenchInputError(f"the query needs the parameter {name!r}")
        if not (text.isascii() and text.isdigit()) or len(text) > 6:
            raise WorkbenchInputError(f"query parameter {name!r} must be a non-negative integer, got {text!r:.20}")
        out[name] = int(text)
    return out
