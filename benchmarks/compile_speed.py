"""torch.compile on a KANLayer and a KAN, against eager (with and without the numba kernels).

KANLayer(256, 256), batch 1024, and KAN [2, 5, 1] on 1000 points (forward + backward, float32,
2 threads). Under torch.compile tracing the layer uses the torch formulation of the basis
(numba kernels cannot be traced), which inductor fuses. Prints the one-off compile time and
the medians of interleaved repeats.

    python benchmarks/compile_speed.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from kanlab import KAN, KANLayer
from kanlab.kernels import dispatch


def step(mod, x):
    out = mod(x)
    out.backward(torch.ones_like(out))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cases = {"KANLayer(256, 256), batch 1024": (KANLayer(256, 256), torch.rand(1024, 256) * 2 - 1),
             "KAN [2, 5, 1], 1000 points": (KAN([2, 5, 1], seed=0), torch.rand(1000, 2) * 2 - 1)}
    print(f"float32, threads={args.threads}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"median of {args.repeats} interleaved repeats, forward + backward\n")
    print("| module | eager, numba kernels ms | eager, torch kernels ms | torch.compile ms | compile s |")
    print("|---|---|---|---|---|")
    for name, (mod, x) in cases.items():
        x = x.requires_grad_()
        compiled = torch.compile(mod)
        t0 = time.perf_counter()
        step(compiled, x)
        step(compiled, x)
        compile_s = time.perf_counter() - t0
        times = {"numba": [], "torch": [], "compiled": []}
        backends = {"numba": "autograd-numba", "torch": "autograd-torch", "compiled": "autograd-numba"}
        for _ in range(args.repeats):
            for key in times:
                m = compiled if key == "compiled" else mod
                with dispatch.using(backends[key]):  # (traced by torch.compile: its own kernels)
                    step(m, x)  # one untimed call
                    t = time.perf_counter()
                    for _ in range(5):
                        step(m, x)
                    times[key].append((time.perf_counter() - t) / 5 * 1e3)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"| {name} | {med['numba']:.2f} | {med['torch']:.2f} | {med['compiled']:.2f} | {compile_s:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
