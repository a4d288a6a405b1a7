"""Layer speed and memory: kanlab.KANLayer against reference formulations, in one run.

Candidates (all float32, same shapes, inputs require grad as inside a network):
  kanlab     kanlab.KANLayer (the dense path: polynomial-table basis + one matmul)
  effkan     the efficient-kan formulation: Cox-de Boor basis with autograd through the
             recursion, flatten, one matmul for the splines + one for silu(x)
  pykan      the pykan formulation: basis, then a (batch, in, out) einsum, scale, sum
  floor      the bare matmuls on precomputed features (basis and silu(x) given as leaves)
  linear     nn.Linear with the same number of parameters as the KAN layer (in*(G+k+1) x out)

Time: median over interleaved repeats (candidates alternate, so machine noise hits all
alike). Memory: bytes of the tensors autograd keeps for the backward pass (saved-tensor hooks,
deduplicated by storage) plus the output; this is the activation memory a layer costs in
training. Run with OMP_WAIT_POLICY=PASSIVE (the Makefile sets it); threads: --threads (2).

    python benchmarks/layer_speed.py [--quick] [--threads 2] [--out results/layer_speed.md]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn.functional as F
from torch import nn

from kanlab import KANLayer
from kanlab.core import spline
from kanlab.kernels import dispatch
from kanlab.core.spline import uniform_knots


# ----------------------------------------------------------------------------- references
def cox_de_boor_autograd(x, grid, k):
    """All G+k basis functions by the Cox-de Boor recursion, autograd through every level."""
    x = x.unsqueeze(-1)
    b = ((x >= grid[:, :-1]) & (x < grid[:, 1:])).to(x.dtype)
    for p in range(1, k + 1):
        left = (x - grid[:, : -(p + 1)]) / (grid[:, p:-1] - grid[:, : -(p + 1)])
        right = (grid[:, p + 1 :] - x) / (grid[:, p + 1 :] - grid[:, 1:-p])
        b = left * b[..., :-1] + right * b[..., 1:]
    return b


class EffKANRef(nn.Module):
    def __init__(self, n_in, n_out, G, k):
        super().__init__()
        self.k = k
        self.register_buffer("grid", uniform_knots(n_in, G, k))
        self.base_weight = nn.Parameter(torch.randn(n_out, n_in) / n_in**0.5)
        self.spline_weight = nn.Parameter(torch.randn(n_out, n_in, G + k) * 0.1)
        self.spline_scaler = nn.Parameter(torch.ones(n_out, n_in))

    def forward(self, x):
        base = F.linear(F.silu(x), self.base_weight)
        feats = cox_de_boor_autograd(x, self.grid, self.k).reshape(x.shape[0], -1)
        w = (self.spline_weight * self.spline_scaler.unsqueeze(-1)).reshape(self.spline_weight.shape[0], -1)
        return base + F.linear(feats, w)


class PyKANRef(nn.Module):
    def __init__(self, n_in, n_out, G, k):
        super().__init__()
        self.k = k
        self.register_buffer("grid", uniform_knots(n_in, G, k))
        self.coef = nn.Parameter(torch.randn(n_in, n_out, G + k) * 0.1)
        self.scale_base = nn.Parameter(torch.randn(n_in, n_out) / n_in**0.5)
        self.scale_sp = nn.Parameter(torch.ones(n_in, n_out) / n_in**0.5)
        self.register_buffer("mask", torch.ones(n_in, n_out))

    def forward(self, x):
        b = cox_de_boor_autograd(x, self.grid, self.k)
        y = torch.einsum("ijk,jlk->ijl", b, self.coef)  # (batch, in, out)
        y = self.scale_base[None] * F.silu(x)[:, :, None] + self.scale_sp[None] * y
        return (self.mask[None] * y).sum(1)


class Floor(nn.Module):
    """The same matmuls on precomputed features: the cost no KAN layer can beat."""

    def __init__(self, n_in, n_out, G, k):
        super().__init__()
        self.ws = nn.Parameter(torch.randn(n_in * (G + k), n_out) * 0.1)
        self.wb = nn.Parameter(torch.randn(n_in, n_out) * 0.1)
        self.G, self.k = G, k

    def prepare(self, x):
        from kanlab.core.spline import basis

        feats = basis(x.detach(), uniform_knots(x.shape[1], self.G, self.k), self.k).reshape(x.shape[0], -1)
        return feats.requires_grad_(), F.silu(x.detach()).requires_grad_()

    def forward(self, inputs):
        feats, base = inputs
        return torch.addmm(base @ self.wb, feats, self.ws)


def make(name, n_in, n_out, G, k):
    if name in ("kanlab", "kanlab_compiled"):
        return KANLayer(n_in, n_out, grid=G, k=k)
    if name == "effkan":
        return EffKANRef(n_in, n_out, G, k)
    if name == "pykan":
        return PyKANRef(n_in, n_out, G, k)
    if name == "floor":
        return Floor(n_in, n_out, G, k)
    if name == "linear":
        return nn.Linear(n_in * (G + k + 1), n_out)
    raise ValueError(name)


# ----------------------------------------------------------------------------- measuring
def saved_bytes(module, inp):
    seen, total = set(), [0]

    def pack(t):
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if key not in seen:
            seen.add(key)
            total[0] += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = module(inp)
    return total[0] + out.numel() * out.element_size()


def run_case(n_in, n_out, batch, G, k, names, repeats, min_time=0.02):
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, n_in, generator=gen) * 2 - 1).requires_grad_()
    mods, inputs = {}, {}
    for name in names:
        if name == "pykan" and batch * n_in * n_out > 3e7:
            continue  # (batch, in, out) tensors would take gigabytes
        m = make(name, n_in, n_out, G, k)
        mods[name] = m
        if name == "floor":
            inputs[name] = m.prepare(x)
        elif name == "linear":
            inputs[name] = torch.rand(batch, n_in * (G + k + 1), generator=gen).requires_grad_()
        else:
            inputs[name] = x

    def kernels(name):  # kanlab_compiled: the basis kernels through torch.compile
        return dispatch.using("autograd-compile") if name == "kanlab_compiled" else contextlib.nullcontext()

    def fwd(name):
        with torch.no_grad(), kernels(name):
            mods[name](inputs[name])

    def fwd_bwd(name):
        with kernels(name):
            out = mods[name](inputs[name])
            out.backward(torch.ones_like(out))

    def n_iter(fn, name):
        fn(name)
        t = time.perf_counter()
        fn(name)
        dt = max(time.perf_counter() - t, 1e-6)
        return max(1, int(min_time / dt))

    res = {name: {"fwd": [], "fwdbwd": []} for name in mods}
    iters = {name: (n_iter(fwd, name), n_iter(fwd_bwd, name)) for name in mods}
    for _ in range(repeats):
        for name in mods:  # interleaved
            for key, fn, n in (("fwd", fwd, iters[name][0]), ("fwdbwd", fwd_bwd, iters[name][1])):
                t = time.perf_counter()
                for _ in range(n):
                    fn(name)
                res[name][key].append((time.perf_counter() - t) / n)
    out = {}
    for name in mods:
        for p in mods[name].parameters():
            p.grad = None
        out[name] = {"fwd": statistics.median(res[name]["fwd"]), "fwdbwd": statistics.median(res[name]["fwdbwd"]),
                     "mem": saved_bytes(mods[name], inputs[name])}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--grid", type=int, default=5)
    ap.add_argument("--sizes", default="64,256,1024")
    ap.add_argument("--batches", default="256,1024,4096")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile candidate")
    ap.add_argument("--candidates", default="kanlab,kanlab_compiled,effkan,pykan,floor,linear")
    ap.add_argument("--out", default=None, help="write the Markdown table here too")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.candidates.split(",")
    if args.no_compile and "kanlab_compiled" in names:
        names.remove("kanlab_compiled")
    sizes = [64] if args.quick else [int(s) for s in args.sizes.split(",")]
    batches = [256] if args.quick else [int(b) for b in args.batches.split(",")]
    lines = [f"threads={args.threads}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, G={args.grid}, k=3, float32, "
             f"median of {args.repeats} interleaved repeats; torch {torch.__version__}; memory = saved activations + output", "",
             "| in=out | batch | candidate | fwd ms | fwd+bwd ms | mem MB | fwd+bwd / floor | fwd+bwd / effkan | mem / effkan |",
             "|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for n in sizes:
        for b in batches:
            r = run_case(n, n, b, args.grid, 3, names, args.repeats if not args.quick else 2)
            for name, v in r.items():
                rel = lambda ref, key: f"{v[key] / r[ref][key]:.2f}" if ref in r else "n/a"  # noqa: E731
                row = (f"| {n} | {b} | {name} | {v['fwd'] * 1e3:.2f} | {v['fwdbwd'] * 1e3:.2f} | {v['mem'] / 2**20:.1f} | "
                       f"{rel('floor', 'fwdbwd')} | {rel('effkan', 'fwdbwd')} | {rel('effkan', 'mem')} |")
                lines.append(row)
                print(row, flush=True)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as fh:
            fh.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
