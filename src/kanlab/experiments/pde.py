"""The Poisson PINN of paper §3.4 (fig. 3.3).

u_xx + u_yy = f on [-1, 1]^2, u = 0 on the boundary, exact u = sin(pi x) sin(pi y^2). Loss =
alpha * mean(residual^2) + mean(u_boundary^2), alpha = 0.01, 10,000 interior and 800 boundary
points (uniform). KAN [2, 10, 1] with grid extension (G = 5 -> 10 -> 20) against MLPs
[2, 100, 100, 100, 1] and [2, 32, 32, 1] (tanh), all with the library's LBFGS. Squared L2 and
H1 errors against the exact solution on a 101 x 101 mesh are recorded per step.

Budget: 20 LBFGS steps per grid stage for the KAN (60 in all) and 60 for each MLP, so that
the full run fits about 15 minutes on a shared 2-core machine (the paper's plot runs to ~250
steps). With 50 steps per stage the KAN job alone took over 30 minutes here.
"""
from __future__ import annotations

import math
import os

import torch

from ..baselines import MLP, n_params
from ..model import KAN
from ..training.lbfgs import LBFGS
from ..training.pde_derivatives import gradient, laplacian
from .report import write_table
from .runner import Experiment

ALPHA = 0.01
PAPER = {"kan": {"l2": 1e-7, "h1": 1e-4}, "mlp_large": {"l2": 1e-5, "h1": 1e-3}}


def exact(x):
    return torch.sin(math.pi * x[:, 0]) * torch.sin(math.pi * x[:, 1] ** 2)


def exact_grad(x):
    a, b = math.pi * x[:, 0], math.pi * x[:, 1] ** 2
    return torch.stack([math.pi * torch.cos(a) * torch.sin(b), 2 * math.pi * x[:, 1] * torch.sin(a) * torch.cos(b)], 1)


def source(x):
    a, y = math.pi * x[:, 0], x[:, 1]
    b = math.pi * y ** 2
    return -math.pi ** 2 * (1 + 4 * y ** 2) * torch.sin(a) * torch.sin(b) + 2 * math.pi * torch.sin(a) * torch.cos(b)


def points(n_int, n_bd, gen):
    xi = torch.rand(n_int, 2, generator=gen, dtype=torch.float64) * 2 - 1
    t = torch.rand(n_bd, generator=gen, dtype=torch.float64) * 2 - 1
    side = torch.arange(n_bd) % 4
    one = torch.ones_like(t)
    xb = torch.where((side == 0)[:, None], torch.stack([t, -one], 1),
         torch.where((side == 1)[:, None], torch.stack([t, one], 1),
         torch.where((side == 2)[:, None], torch.stack([-one, t], 1), torch.stack([one, t], 1))))
    return xi, xb


def errors(model, mesh):
    u = model(mesh)[:, 0].detach()
    g = gradient(model, mesh, create_graph=False).detach()
    l2 = float(torch.mean((u - exact(mesh)) ** 2))
    return l2, l2 + float(torch.mean(((g - exact_grad(mesh)) ** 2).sum(1)))


def jobs(quick):
    steps = 3 if quick else 20  # per grid stage for the KAN (3 stages), x3 for the MLPs: budget-bound
    js = [{"id": "kan", "model": "kan", "grids": [5, 10, 20], "steps": steps}]
    js += [{"id": "mlp_large", "model": "mlp", "width": [2, 100, 100, 100, 1], "steps": 3 * steps},
           {"id": "mlp_small", "model": "mlp", "width": [2, 32, 32, 1], "steps": 3 * steps}]
    for j in js:
        j["n_int"], j["n_bd"] = (500, 100) if quick else (10000, 800)
    return js


def run_job(job):
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    xi, xb = points(job["n_int"], job["n_bd"], gen)
    f = source(xi)
    g1 = torch.linspace(-1, 1, 101 if job["n_int"] > 1000 else 31, dtype=torch.float64)
    mesh = torch.cartesian_prod(g1, g1)
    if job["model"] == "kan":
        model = KAN([2, 10, 1], grid=job["grids"][0], k=3, seed=0, dtype=torch.float64)
        stages = job["grids"]
    else:
        model = MLP(job["width"], activation="tanh", seed=0, dtype=torch.float64)
        stages = [None]
    hist = {"l2": [], "h1": [], "loss": []}
    for s, grid in enumerate(stages):
        if grid is not None and s:
            model = model.refine(grid)
        if grid is not None:
            model.update_grid(torch.cat([xi, xb]))
        opt = LBFGS([p for p in model.parameters() if p.requires_grad], lr=1.0)

        def closure():
            for p in model.parameters():
                p.grad = None
            res = laplacian(model, xi) - f
            loss = ALPHA * torch.mean(res ** 2) + torch.mean(model(xb)[:, 0] ** 2)
            loss.backward()
            return loss

        for _ in range(job["steps"]):
            loss = opt.step(closure)
            l2, h1 = errors(model, mesh)
            hist["l2"].append(l2)
            hist["h1"].append(h1)
            hist["loss"].append(float(loss))
    return {"model": job["id"], "params": n_params(model), "l2": hist["l2"][-1], "h1": hist["h1"][-1], "hist": hist}


def report(results, out, quick):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for r in results:
        paper = PAPER.get(r["model"], {})
        rows.append({"model": r["model"], "params": r["params"], "L2^2 error": r["l2"], "paper L2^2": paper.get("l2"),
                     "H1^2 error": r["h1"], "paper H1^2": paper.get("h1"),
                     "ratio L2 (ours/paper)": r["l2"] / paper["l2"] if paper else None})
    note = ("Paper (fig. 3.3, read from the plot): KAN [2,10,1] L2^2 ~1e-7, H1^2 ~1e-4; MLP [2,100,100,100,1] "
            f"~1e-5 / ~1e-3. {'QUICK smoke run: tiny data and steps, numbers meaningless.' if quick else ''}")
    write_table(rows, out, "table", "Poisson PINN: squared L2 and H1 errors", note)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for r in results:
        axes[0].semilogy(r["hist"]["l2"], label=r["model"])
        axes[1].semilogy(r["hist"]["h1"], label=r["model"])
        axes[2].loglog([r["params"]], [r["l2"]], "o", label=r["model"])
    axes[0].set(title="squared L2 error", xlabel="step")
    axes[1].set(title="squared H1 error", xlabel="step")
    axes[2].set(title="parameters vs L2^2", xlabel="parameters")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "pde.png"), dpi=110)
    plt.close(fig)


EXPERIMENT = Experiment("pde", "Poisson equation PINN: KAN vs MLPs", jobs, run_job, report)
