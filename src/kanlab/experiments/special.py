"""Special functions (paper §3.2, Table 1) and their Pareto frontiers.

Fifteen two-argument special functions (scipy; ranges and the ellipj/sph_harm choices are in
``kanlab.datasets.special``). KANs of width 5 and depth 2-4 plus the paper's own minimal and best
shapes, each grid-extended; MLPs of width 5 and 100, depth 2-4 (silu). Table in the paper's form:
the smallest KAN shape reaching test RMSE < 1e-2, its RMSE, the best KAN shape and RMSE, the best
MLP RMSE, each beside the paper's number with the ratio ours / paper. Plot: test RMSE vs
parameters with each family's Pareto frontier.

Reduced budget (paper: width 5 depth 2-6, pruned at two lambdas, G = 3..200 every 200 steps, 3
seeds): best of 3 seeds at the first grid (by training RMSE), no pruning, depths 2-4 plus the paper's shapes, G = 3,5,10,20,50 with 30 LBFGS
steps each, 1000 train points; MLPs with 120 steps. Quick: 2 functions, tiny shapes, 3 steps.
"""
from __future__ import annotations

import os

from ..datasets import SPECIAL_FUNCTIONS
from .fitting import fit_kan, fit_mlp, make_data, pareto
from .report import write_table
from .runner import Experiment

FULL = {"grids": [3, 5, 10, 20, 50], "steps": 30, "mlp_steps": 120, "n": 1000, "depths": [2, 3, 4], "mlp_widths": [5, 100],
        "names": list(SPECIAL_FUNCTIONS), "paper_shapes": True}
QUICK = {"grids": [3, 5], "steps": 3, "mlp_steps": 6, "n": 200, "depths": [2], "mlp_widths": [5],
         "names": list(SPECIAL_FUNCTIONS)[:2], "paper_shapes": False}


def _shapes(e, P):
    shapes = [[2] + [5] * (d - 1) + [1] for d in P["depths"]]
    if P["paper_shapes"]:
        shapes += [list(e.paper["min_shape"]), list(e.paper["best_shape"])]
    uniq = []
    for s in shapes:
        if s not in uniq:
            uniq.append(s)
    return uniq


def jobs(quick):
    P = QUICK if quick else FULL
    out = []
    for name in P["names"]:
        e = SPECIAL_FUNCTIONS[name]
        for s in _shapes(e, P):
            out.append({"id": f"{name}/kan/{s}/G{P['grids'][-1]}", "fn": name, "model": "kan", "width": s, "grids": P["grids"],
                        "steps": P["steps"], "n": P["n"]})
        for d in P["depths"]:
            for w in P["mlp_widths"]:
                width = [2] + [w] * (d - 1) + [1]
                out.append({"id": f"{name}/mlp/{width}", "fn": name, "model": "mlp", "width": width,
                            "steps": P["mlp_steps"], "n": P["n"]})
    return out


def run_job(job):
    e = SPECIAL_FUNCTIONS[job["fn"]]
    ds = make_data(e.f, e.n_var, e.ranges, job["n"])
    r = fit_kan(ds, job["width"], job["grids"], job["steps"]) if job["model"] == "kan" else fit_mlp(ds, job["width"], job["steps"])
    return dict(r, fn=job["fn"], model=job["model"], shape=job["width"])


def _ratio(a, b):
    return a / b if a and b else None


def report(results, out, quick):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["fn"] for r in results))
    rows = []
    ncol = min(5, len(names))
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 3 * nrow), squeeze=False)
    for k, name in enumerate(names):
        pp = SPECIAL_FUNCTIONS[name].paper
        kans = [r for r in results if r["fn"] == name and r["model"] == "kan" and r["test"]]
        mlps = [r for r in results if r["fn"] == name and r["model"] == "mlp" and r["test"]]
        ok = sorted((r for r in kans if r["test"] < 1e-2), key=lambda r: (r["params"], r["test"]))
        small = ok[0] if ok else None
        best = min(kans, key=lambda r: r["test"]) if kans else None
        mlp = min(mlps, key=lambda r: r["test"]) if mlps else None
        rows.append({"function": name, "KAN min shape": str(small["shape"]) if small else "none < 1e-2",
                     "min RMSE": small["test"] if small else None, "paper min": f"{pp['min_shape']} {pp['min_rmse']:.3g}",
                     "KAN best shape": str(best["shape"]) if best else None, "best RMSE": best["test"] if best else None,
                     "paper best": f"{pp['best_shape']} {pp['best_rmse']:.3g}",
                     "best ours/paper": _ratio(best and best["test"], pp["best_rmse"]),
                     "MLP RMSE": mlp["test"] if mlp else None, "paper MLP": pp["mlp_rmse"],
                     "MLP ours/paper": _ratio(mlp and mlp["test"], pp["mlp_rmse"])})
        ax = axes[k // ncol][k % ncol]
        kp = [(s["params"], s["test"]) for r in kans for s in r["stages"] if s.get("test")]
        mp = [(r["params"], r["test"]) for r in mlps]
        if kp:
            ax.loglog(*zip(*kp), "o", ms=2, color="C0", alpha=0.4)
            ax.loglog(*zip(*pareto(kp)), "-", color="C0", label="KAN frontier")
        if mp:
            ax.loglog(*zip(*mp), "s", ms=2, color="C3", alpha=0.4)
            ax.loglog(*zip(*pareto(mp)), "-", color="C3", label="MLP frontier")
        ax.set_title(name, fontsize=9)
    for k in range(len(names), nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    axes[0][0].legend(fontsize=7)
    fig.supxlabel("parameters")
    fig.supylabel("test RMSE")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "pareto.png"), dpi=100)
    plt.close(fig)
    P = QUICK if quick else FULL
    wins = sum(1 for r in rows if r["best RMSE"] and r["MLP RMSE"] and r["best RMSE"] < r["MLP RMSE"])
    note = (("QUICK smoke run. " if quick else "") + f"KAN width 5 depths {P['depths']}"
            f"{' + the paper min/best shapes' if P['paper_shapes'] else ''}, grids {P['grids']} x {P['steps']} "
            f"LBFGS steps, best of 3 seeds at G=3, no pruning (paper: depth 2-6, pruned, G 3..200 x 200 steps, 3 seeds); "
            f"MLP widths {P['mlp_widths']} depths {P['depths']} (silu). Best KAN beats best MLP on "
            f"{wins}/{len(rows)} functions here.")
    within = [r for r in rows if r["best ours/paper"] is not None and r["best ours/paper"] <= 3]
    short = [f"{r['function']} ({r['best ours/paper']:.3g}x)" for r in rows
             if r["best ours/paper"] is not None and r["best ours/paper"] > 3]
    note += (f" Best KAN RMSE within 3x of the paper's (or better) on {len(within)}/{len(rows)} functions.")
    if short:
        note += (f" Short of that: {', '.join(short)}. Where we fall short, we think the reduced budget is the "
                 f"reason: the paper extends grids to G=200 with 200 LBFGS steps per grid (we stop at "
                 f"G={P['grids'][-1]} with {P['steps']}), and its best shapes were found by pruning sweeps "
                 f"we do not run; the smooth, low-dimensional targets keep improving with G in our runs "
                 f"(see each function's frontier in pareto.png).")
    write_table(rows, out, "table", "Special functions (paper Table 1): ours vs paper", note)


EXPERIMENT = Experiment("special", "15 special functions: KAN vs MLP Pareto frontiers (Table 1)", jobs, run_job, report)
