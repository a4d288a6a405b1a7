"""Evidence for sparsification, pruning, attribution and the plot (issue 3).

(a) f(x1..x5) = exp(sin(pi x1) + x2^2) on [-1, 1]^5 (x3..x5 irrelevant): KAN [5,5,1] trained
    with the sparsity penalty, pruned (nodes, edges, inputs), then retrained with grid
    extension 5 -> 10 -> 20.
(b) f(u, v) = (u + v) / (1 + uv) on [-0.9, 0.9]^2: KAN [2,5,1] with sparsity, pruned; the plot is
    written to docs/rapidity.png and the learned hidden / output activations are compared with
    arctanh / tanh by the R^2 of an affine fit c*f(a*x+b)+d.
(c) training step time with lamb = 0 and lamb > 0 on [2,5,1], 1000 points, interleaved.

    python benchmarks/prune_evidence.py
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch

from kanlab import KAN, create_dataset

SPARSE = dict(lamb=1e-2, lamb_entropy=10.0)


def part_a():
    f = lambda x: torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)  # noqa: E731
    ds = create_dataset(f, n_var=5, train_num=1000, test_num=1000, seed=0)
    x = ds["train_input"]
    m = KAN([5, 5, 1], grid=5, k=3, seed=0)
    m.fit(ds, steps=100, progress=False, **SPARSE)
    small = m.prune(x=x).prune_input(x=x)
    print(f"(a) input scores: {[f'{v:.2e}' for v in m.feature_score(x).tolist()]}")
    print(f"(a) pruned shape {small.width}, inputs kept {small.input_ids}")
    rmse = []
    for grid in (5, 10, 20):
        if grid != 5:
            small = small.refine(grid)
        rmse.append(small.fit(ds, steps=50, progress=False)["test_loss"][-1])
    print(f"(a) retrained test RMSE at G=5/10/20: {', '.join(f'{r:.2e}' for r in rmse)}")
    ok = small.input_ids == [0, 1] and small.width[1] <= 2 and rmse[-1] <= 1e-3
    print(f"(a) check inputs == [0, 1], <= 2 hidden nodes, final RMSE <= 1e-3: {'PASS' if ok else 'FAIL'}")


def _affine_r2(x, y, fn):
    from kanlab.symbolic import fit_affine

    return fit_affine(x, y, [fn])[0].r2


def part_b():
    f = lambda x: (x[:, [0]] + x[:, [1]]) / (1 + x[:, [0]] * x[:, [1]])  # noqa: E731
    ds = create_dataset(f, n_var=2, ranges=[-0.9, 0.9], train_num=1000, test_num=1000, seed=0)
    x = ds["train_input"]
    m = KAN([2, 5, 1], grid=5, k=3, seed=0)
    m.fit(ds, steps=100, progress=False, **SPARSE)
    small = m.prune(x=x)
    hist = small.fit(ds, steps=50, progress=False)
    print(f"(b) pruned shape {small.width}, test RMSE after 50 retraining steps {hist['test_loss'][-1]:.2e}")
    os.makedirs("docs", exist_ok=True)
    small.plot("docs/rapidity.png", x=x, in_vars=["$u$", "$v$"], out_vars=["$(u+v)/(1+uv)$"])
    with torch.no_grad():
        xs = small.layer_inputs(x)
        for l, layer in enumerate(small.layers):
            phi = small.edge_values(l, xs[l])
            for i in range(layer.in_dim):
                for j in range(layer.out_dim):
                    if layer.mask[i, j] == 0:
                        continue
                    xi, yi = xs[l][:, i].double(), phi[:, i, j].double()
                    r2 = {name: _affine_r2(xi, yi, name) for name in ("arctanh", "tanh", "x")}
                    print(f"(b) layer {l} edge {i}->{j}: R^2 arctanh {r2['arctanh']:.5f}  tanh {r2['tanh']:.5f}  x {r2['x']:.5f}")
    print("(b) plot written to docs/rapidity.png")


def part_c(repeats=5):
    f = lambda x: torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)  # noqa: E731
    ds = create_dataset(f, n_var=2, train_num=1000, test_num=1000, seed=0)
    times = {0.0: [], 1e-2: []}
    for _ in range(repeats):
        for lamb in times:
            m = KAN([2, 5, 1], seed=0)
            t = time.perf_counter()
            m.fit(ds, steps=10, lamb=lamb, progress=False, update_grid=False)
            times[lamb].append((time.perf_counter() - t) / 10)
    t0, t1 = statistics.median(times[0.0]), statistics.median(times[1e-2])
    print(f"(c) LBFGS step time (median of {repeats}): lamb=0 {t0 * 1e3:.1f} ms, lamb=1e-2 {t1 * 1e3:.1f} ms, "
          f"ratio {t1 / t0:.2f} ({'PASS' if t1 / t0 <= 2 else 'FAIL'}: <= 2)")


if __name__ == "__main__":
    torch.set_num_threads(2)
    part_a()
    part_b()
    part_c()
    sys.exit(0)
