"""Relativistic velocity addition (paper §6 / §4.1): w = (u + v) / (1 + u v) on [-0.9, 0.9]^2.

A KAN [2, 5, 1] trained with sparsity and pruned becomes [2, 1, 1]: the hidden edges compute
the rapidities arctanh(u), arctanh(v) and the output edge tanh of their sum. The run writes the
pruned network's plot, the discovered formula (``kanlab.discover``) and the affine-fit R^2 of
each pruned edge against arctanh / tanh.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ..datasets import create_dataset
from ..model import KAN, discover
from ..symbolic import fit_affine
from .report import write_table
from .runner import Experiment


def w(x):
    return (x[:, [0]] + x[:, [1]]) / (1 + x[:, [0]] * x[:, [1]])


def jobs(quick):
    return [{"id": "rapidity", "steps": 20 if quick else 100, "n": 300 if quick else 1000}]


def run_job(job):
    torch.set_num_threads(1)
    ds = create_dataset(w, n_var=2, ranges=[-0.9, 0.9], train_num=job["n"], test_num=job["n"], seed=0)
    x = ds["train_input"]
    model = KAN([2, 5, 1], seed=0)
    model.fit(ds, steps=job["steps"], lamb=1e-2, lamb_entropy=10.0, progress=False)
    small = model.prune(x=x)
    small.fit(ds, steps=job["steps"] // 2, progress=False)
    edges = []
    with torch.no_grad():
        xs = small.layer_inputs(x)
        for l, layer in enumerate(small.layers):
            phi = small.edge_values(l, xs[l])
            for i, j in (layer.mask > 0).nonzero().tolist():
                r2 = {n: f.r2 for n, f in zip(("arctanh", "tanh"), fit_affine(xs[l][:, i].double(), phi[:, i, j].double(), ["arctanh", "tanh"]))}
                edges.append({"edge": f"layer {l}: {i}->{j}", "R2 arctanh": r2["arctanh"], "R2 tanh": r2["tanh"]})
    rng = np.random.default_rng(0)
    X = rng.uniform(-0.9, 0.9, size=(job["n"], 2))
    res = discover(X, w(torch.as_tensor(X))[:, 0].numpy(), var_names=["u", "v"], seed=0,
                   sparse_steps=job["steps"], steps=max(10, job["steps"] // 2))
    return {"width": small.width, "edges": edges, "formula": str(res.formula), "test_rmse": res.test_rmse,
            "state": {k: v.tolist() for k, v in small.state_dict().items()}, "config": small.config()}


def report(results, out, quick):
    r = results[0]
    rows = [dict(e, **{"pruned shape": str(r["width"])}) for e in r["edges"]]
    note = (f"Discovered formula: `w = {r['formula']}` (test RMSE {r['test_rmse']:.3g}). Paper: the pruned KAN is "
            "[2,1,1]-like with hidden node ~ arctanh(u) + arctanh(v) (rapidity) and output ~ tanh.")
    write_table(rows, out, "table", "Relativistic velocity addition: pruned KAN edges vs arctanh / tanh", note)
    with open(os.path.join(out, "formula.txt"), "w") as fh:
        fh.write(f"w = {r['formula']}\n")
    model = KAN.from_config(r["config"])
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    state = {{"input_ids": "input_index"}.get(k, k): v for k, v in r["state"].items()}  # older results: old buffer name
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float64 if not k.endswith("index") else torch.long).reshape(shapes[k]).to(model.state_dict()[k].dtype) for k, v in state.items()})
    ds = create_dataset(w, n_var=2, ranges=[-0.9, 0.9], train_num=500, test_num=0, seed=0)
    model.plot(os.path.join(out, "pruned_network.png"), x=ds["train_input"], in_vars=["$u$", "$v$"], out_vars=["$w$"])


EXPERIMENT = Experiment("rapidity", "velocity addition: pruning reveals rapidity", jobs, run_job, report)
