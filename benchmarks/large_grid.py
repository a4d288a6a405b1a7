"""Large grids: KANLayer time and activation memory at G = 5, 100, 1000, measured in one run.

in = out = 64, batch 4096, float32, k = 3 (issue 5: G = 100 and G = 1000 within 2x of G = 5).
For G + k >= 64 the layer takes the large-grid path (kanlab/kernels/large_grid.py; on CPU with numba the
compiled kernels of kanlab/kernels/numba_large_grid.py), whose per-sample cost does not grow with G.
The candidates alternate (interleaved repeats, medians). ``--eager`` adds the same layers with
the compiled kernels switched off, for comparison. Memory: saved activations + output, as in
layer_speed.py (parameters that autograd saves, such as coef on the large-grid path, count too).
Gradients are reset to None before each forward+backward, as optimizer.zero_grad() does.

    python benchmarks/large_grid.py [--threads 2] [--repeats 7] [--eager]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from kanlab import KANLayer
from kanlab.kernels import dispatch, numba_support

sys.path.insert(0, os.path.dirname(__file__))
from layer_speed import saved_bytes  # noqa: E402


def backend(layer, numba: bool) -> str:
    """The backend that runs ``layer`` on its usual path (large-grid or dense) with numba or torch kernels."""
    path = "large-grid" if layer.n_basis >= dispatch.LARGE_GRID_MIN_BASIS else "autograd"
    return f"{path}-{'numba' if numba else 'torch'}"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--grids", default="5,100,1000")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--eager", action="store_true", help="also time the eager (non-numba) kernels")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(args.batch, args.width, generator=gen) * 2 - 1).requires_grad_()
    cands = []
    for G in (int(g) for g in args.grids.split(",")):
        layer = KANLayer(args.width, args.width, grid=G, k=3)
        for compiled in ((True, False) if args.eager else (True,)):
            cands.append((G, compiled, layer))
    times = {(G, c): {"fwd": [], "fwdbwd": []} for G, c, _ in cands}

    def run(layer, compiled, backward):
        with dispatch.using(backend(layer, compiled)):
            if backward:
                layer.zero_grad(set_to_none=True)  # as optimizer.zero_grad(): no gradient accumulation timed
                x.grad = None
                out = layer(x)
                out.backward(torch.ones_like(out))
            else:
                with torch.no_grad():
                    layer(x)

    for G, c, layer in cands:  # warm up (numba compiles on first use, then loads from its cache)
        run(layer, c, True)
    for _ in range(args.repeats):
        for G, c, layer in cands:
            for key, bwd in (("fwd", False), ("fwdbwd", True)):
                t = time.perf_counter()
                run(layer, c, bwd)
                times[G, c][key].append(time.perf_counter() - t)
    print(f"in=out={args.width}, batch {args.batch}, float32, k=3, threads={args.threads}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, median of {args.repeats} interleaved repeats\n")
    print("| G | kernels | path | fwd ms | fwd+bwd ms | vs G=5 | memory MB | vs G=5 |")
    print("|---|---|---|---|---|---|---|---|")
    ref = {}
    for G, c, layer in cands:
        with dispatch.using(backend(layer, c)):
            mem = saved_bytes(layer, x) / 2**20
        fwd = statistics.median(times[G, c]["fwd"]) * 1e3
        fb = statistics.median(times[G, c]["fwdbwd"]) * 1e3
        ref.setdefault(c, (fb, mem))
        path = "large-grid" if layer.uses_large_grid() else "dense"
        kern = "numba" if c and numba_support.AVAILABLE else "eager"
        print(f"| {G} | {kern} | {path} | {fwd:.2f} | {fb:.2f} | {fb / ref[c][0]:.2f} | {mem:.1f} | {mem / ref[c][1]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
