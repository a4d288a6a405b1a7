"""Continual learning (paper §3.5, fig. 3.4): five Gaussian peaks shown one region at a time.

y(x) = sum_{c in (-0.8, -0.4, 0, 0.4, 0.8)} exp(-300 (x - c)^2) on [-1, 1]. Phase t trains only on
x in [c_t - 0.2, c_t + 0.2]. KAN [1, 1] with G = 200 (no grid updates: spline locality is the
point) against an MLP [1, 64, 64, 1] (silu), both with the library's LBFGS. After every phase the
RMSE on every region seen so far is recorded. The paper gives no number; we report the ratio
of each region's final error to its error right after it was learned. The KAN trains only its
spline coefficients (base branch off, edge scales frozen): the global scale parameters would
otherwise let each phase rescale the whole curve, and the locality argument of the paper is
about the B-spline coefficients.
"""
from __future__ import annotations

import os

import torch

from ..baselines import MLP
from ..model import KAN
from ..training.loop import fit
from .report import write_table
from .runner import Experiment

CENTERS = (-0.8, -0.4, 0.0, 0.4, 0.8)


def target(x):
    return sum(torch.exp(-300 * (x - c) ** 2) for c in CENTERS)


def region(t, n, gen):
    c = CENTERS[t]
    x = c - 0.2 + 0.4 * torch.rand(n, 1, generator=gen, dtype=torch.float64)
    return x, target(x)


def jobs(quick):
    return [{"id": m, "model": m, "steps": 10 if quick else 100, "n": 100 if quick else 400} for m in ("kan", "mlp")]


def run_job(job):
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    if job["model"] == "kan":
        # locality needs every trained parameter to be local: no silu base branch, and the
        # global edge scales w_s, w_b frozen; only the spline coefficients learn
        model = KAN([1, 1], grid=200, k=3, seed=0, dtype=torch.float64, noise_scale=0.0, base_fun="zero")
        model.layers[0].scale_sp.requires_grad_(False)
        model.layers[0].scale_base.requires_grad_(False)
    else:
        model = MLP([1, 64, 64, 1], seed=0, dtype=torch.float64)
    test = [region(t, 200, gen) for t in range(5)]
    errors, preds = [], []
    grid = torch.linspace(-1, 1, 400, dtype=torch.float64)[:, None]
    for t in range(5):
        x, y = region(t, job["n"], gen)
        ds = {"train_input": x, "train_label": y, "test_input": test[t][0], "test_label": test[t][1]}
        fit(model, ds, steps=job["steps"], update_grid=False, progress=False, warn_out_of_range=1.0)
        with torch.no_grad():
            errors.append([float(torch.sqrt(torch.mean((model(test[s][0]) - test[s][1]) ** 2))) for s in range(t + 1)])
            preds.append(model(grid)[:, 0].tolist())
    return {"model": job["model"], "errors": errors, "preds": preds, "grid": grid[:, 0].tolist()}


def report(results, out, quick):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for r in results:
        for t, errs in enumerate(r["errors"]):
            row = {"model": r["model"].upper(), "after phase": t + 1}
            row.update({f"region {s + 1} RMSE": errs[s] if s < len(errs) else None for s in range(5)})
            rows.append(row)
    growth = []
    for r in results:
        for s in range(4):
            growth.append({"model": r["model"].upper(), "region": s + 1, "RMSE right after learning": r["errors"][s][s],
                           "RMSE after phase 5": r["errors"][4][s], "ratio": r["errors"][4][s] / max(r["errors"][s][s], 1e-300)})
    note = ("Paper: KANs keep earlier peaks (fig. 3.4), MLPs forget; no numbers given. "
            f"{'QUICK smoke run (10 steps per phase).' if quick else '100 LBFGS steps per phase.'}")
    write_table(rows, out, "table", "Continual learning: RMSE on each region after each phase", note)
    write_table(growth, out, "forgetting", "Forgetting: error on region s after phase 5 vs right after learning it")
    fig, axes = plt.subplots(len(results), 5, figsize=(15, 2.6 * len(results)), squeeze=False)
    for a, r in enumerate(results):
        xg = torch.tensor(r["grid"])
        for t in range(5):
            ax = axes[a][t]
            ax.plot(xg, target(xg), color="0.8", lw=2)
            ax.plot(xg, r["preds"][t], color="C0" if r["model"] == "kan" else "C3")
            ax.axvspan(CENTERS[t] - 0.2, CENTERS[t] + 0.2, color="C2", alpha=0.1)
            ax.set_ylim(-0.5, 1.5)
            ax.set_title(f"{r['model'].upper()} after phase {t + 1}", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "continual.png"), dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment("continual", "five sequential Gaussian peaks: KAN vs MLP forgetting", jobs, run_job, report)
