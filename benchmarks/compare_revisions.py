"""`make bench` for two revisions side by side, in one run: the benchmarks of a base revision
(checked out into a temporary git worktree) and of the working tree, interleaved round by round
(base, new, base, new, ...) so that both see the same machine load. Prints each run's key
figures and their medians.

    python benchmarks/compare_revisions.py BASE_REV [--rounds 3]

Figures: layer fwd+bwd at in=out=256, batch 1024, G=5 (ms and ratio to the bare matmul
floor, `layer_speed.py`), the core recipe's total time and seed-0 test RMSEs (`fit_recipe.py`),
and large-grid fwd+bwd at G=5/100/1000 (`large_grid.py`). Set OMP_WAIT_POLICY=PASSIVE (the
Makefile does).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BENCHES = {
    "layer": (["layer_speed.py", "--sizes", "256", "--batches", "1024", "--repeats", "7", "--no-compile",
               "--candidates", "kanlab,floor"], {
        "kanlab fwd+bwd ms": r"\|\s*kanlab\s*\|\s*[\d.]+\s*\|\s*([\d.]+)\s*\|",
        "fwd+bwd / floor": r"\|\s*kanlab\s*\|\s*[\d.]+\s*\|\s*[\d.]+\s*\|\s*[\d.]+\s*\|\s*([\d.]+)\s*\|",
    }),
    "recipe": (["fit_recipe.py"], {
        "total s": r"total ([\d.]+) s wall",
        "RMSE G=5": r"G=\s*5: test RMSE ([\d.e+-]+)",
        "RMSE G=10": r"G=\s*10: test RMSE ([\d.e+-]+)",
        "RMSE G=20": r"G=\s*20: test RMSE ([\d.e+-]+)",
    }),
    "large grid": (["large_grid.py", "--repeats", "5"], {
        f"G={g} fwd+bwd ms": rf"\|\s*{g}\s*\|\s*numba\s*\|[^|]*\|[^|]*\|\s*([\d.]+)\s*\|" for g in (5, 100, 1000)
    }),
}


def run(tree: str, script: list[str]) -> str:
    env = dict(os.environ, PYTHONPATH=os.path.join(tree, "src"), OMP_WAIT_POLICY="PASSIVE")
    out = subprocess.run([sys.executable, os.path.join(tree, "benchmarks", script[0]), *script[1:]],
                         capture_output=True, text=True, env=env, cwd=tree, timeout=900)
    return out.stdout + out.stderr


def figures(text: str, patterns: dict) -> dict:
    got = {}
    for name, pat in patterns.items():
        m = re.search(pat, text)
        got[name] = float(m.group(1)) if m else float("nan")
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default=",".join(BENCHES), help="comma-separated subset of " + ", ".join(BENCHES))
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="kanlab_base_")
    subprocess.run(["git", "worktree", "add", "--detach", base, args.base], cwd=ROOT, check=True,
                   capture_output=True)
    try:
        for bench in args.only.split(","):
            script, patterns = BENCHES[bench]
            rows = {"base": [], "new": []}
            for r in range(args.rounds):
                for label, tree in (("base", base), ("new", ROOT)):
                    f = figures(run(tree, script), patterns)
                    rows[label].append(f)
                    print(f"{bench} round {r + 1} {label}: " + ", ".join(f"{k} {v:.4g}" for k, v in f.items()), flush=True)
            print(f"\n| {bench} | " + " | ".join(patterns) + " |")
            print("|---|" + "---|" * len(patterns))
            for label in ("base", "new"):
                med = [statistics.median(f[k] for f in rows[label]) for k in patterns]
                print(f"| {label} (median of {args.rounds}) | " + " | ".join(f"{v:.4g}" for v in med) + " |")
            print(flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", base], cwd=ROOT, capture_output=True)


if __name__ == "__main__":
    main()
