"""Report writing shared by the experiments: Markdown + CSV tables, the command, the wall time."""
from __future__ import annotations

import csv
import os
import sys


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return "" if v is None else str(v)


def write_table(rows: list[dict], out: str, name: str = "table", title: str = "", notes: str = "") -> str:
    """Write rows (dicts with the same keys) as NAME.md and NAME.csv in out; returns the Markdown."""
    os.makedirs(out, exist_ok=True)
    cols = list(rows[0]) if rows else []
    with open(os.path.join(out, f"{name}.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    md = ([f"# {title}", ""] if title else []) + ([notes, ""] if notes else [])
    md += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    text = "\n".join(md) + "\n"
    with open(os.path.join(out, f"{name}.md"), "w") as fh:
        fh.write(text)
    return text


def write_command(out: str, seconds: float, argv=None) -> None:
    argv = sys.argv if argv is None else argv
    with open(os.path.join(out, "command.txt"), "w") as fh:
        fh.write(" ".join(["kanlab"] + list(argv[1:]) if argv and argv[0].endswith("kanlab") else argv) + "\n")
        fh.write(f"wall time: {seconds:.1f} s\n")


def ratio(ours, paper):
    if ours is None or paper is None or paper == 0:
        return None
    return ours / paper
