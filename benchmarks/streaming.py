"""Streaming and data-parallel training benchmark (issue 21).

1. Generates a CSV of ``--rows`` rows x 8 feature columns (+ target y), in chunks.
2. ``kanlab train`` on it, streamed: one pass over the rows (steps = rows / batch), peak resident
   memory of the training process (resource.getrusage of the child) and rows/s.
3. The in-memory path on the first ``--memory-rows`` rows (read_csv + fit on a dataset dict with
   the same batch size and number of steps), peak RSS and rows/s.
4. The same streamed training as 2 processes x 1 thread (torchrun, gloo) and 1 process x 2
   threads, with the same global batch and number of steps: rows/s and the time ratio.

Full run (the issue's acceptance figures; the CSV is ~1.5 GB, takes a while on 2 cores):

    python benchmarks/streaming.py --rows 10000000 --out bench_streaming

Reduced run: ``--rows 1000000 --memory-rows 1000000``. Results go to OUT/results.json and stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import subprocess
import sys
import time

import numpy as np

TRAIN = ["--target", "y", "--width", "8,4", "--grid", "5", "--lr", "0.01", "--quiet", "--holdout", "0.01",
         "--test-rows", "5000"]


def generate(path: str, rows: int, chunk: int = 500_000) -> None:
    if os.path.exists(path):
        return
    rng = np.random.default_rng(0)
    tmp = path + ".part"
    with open(tmp, "w") as fh:
        fh.write(",".join([f"x{i}" for i in range(8)] + ["y"]) + "\n")
        for start in range(0, rows, chunk):
            X = rng.uniform(-1, 1, (min(chunk, rows - start), 8))
            y = np.sin(np.pi * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 3] ** 2 + 0.1 * X[:, 4:].sum(1)
            np.savetxt(fh, np.c_[X, y], delimiter=",", fmt="%.6g")
    os.replace(tmp, path)


def _run(cmd, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux: the largest child so far
    out = res.stdout
    found = re.search(r"time: ([\d.]+) s, ([\d,]+) rows/s", out)
    rss = re.search(r"peak resident memory \(rank 0\): (\d+) MB", out)
    return {"wall_s": round(wall, 1), "fit_s": float(found.group(1)) if found else None,
            "rows_per_s": int(found.group(2).replace(",", "")) if found else None,
            "peak_rss_mb_rank0": int(rss.group(1)) if rss else None,
            "max_child_rss_mb_so_far": round(max(peak, before) / 1024), "stdout_tail": out[-600:]}


def in_memory(path: str, rows: int, batch: int, steps: int, threads: int) -> dict:
    code = f"""
import resource, time, itertools, numpy as np, torch
from kanlab import KAN
torch.set_num_threads({threads})
import pandas as pd
df = pd.read_csv({path!r}, nrows={rows})
X = torch.as_tensor(df.drop(columns='y').to_numpy(), dtype=torch.float32)
y = torch.as_tensor(df[['y']].to_numpy(), dtype=torch.float32)
del df
m = KAN([8, 8, 4, 1], grid=5, seed=0)
t0 = time.perf_counter()
m.fit({{'train_input': X, 'train_label': y}}, opt='Adam', lr=0.01, steps={steps}, batch={batch}, progress=False,
      stop_grid_update_step=min({steps}, 50))
dt = time.perf_counter() - t0
print(f"time: {{dt:.1f}} s, {{int({steps} * {batch} / dt):,}} rows/s")
print(f"peak resident memory (rank 0): {{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}} MB")
"""
    return _run([sys.executable, "-c", code], threads)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--memory-rows", type=int, default=1_000_000)
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--parallel-steps", type=int, default=200, help="steps of the 2x1 vs 1x2 comparison")
    p.add_argument("--out", default="bench_streaming")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    data = os.path.join(a.out, f"data_{a.rows}.csv")
    t0 = time.perf_counter()
    generate(data, a.rows)
    results = {"rows": a.rows, "csv_bytes": os.path.getsize(data), "generate_s": round(time.perf_counter() - t0, 1)}
    kanlab = [sys.executable, "-m", "kanlab", "train", data, *TRAIN]
    steps = max(1, a.rows // a.batch_size)
    results["streamed_1proc"] = _run(kanlab + ["--steps", str(steps), "--batch-size", str(a.batch_size),
                                               "--out", os.path.join(a.out, "stream1")], threads=2)
    mem_steps = max(1, a.memory_rows // a.batch_size)
    results["in_memory"] = in_memory(data, a.memory_rows, a.batch_size, mem_steps, threads=2)
    results["streamed_same_steps_as_in_memory"] = _run(
        kanlab + ["--steps", str(mem_steps), "--batch-size", str(a.batch_size), "--out", os.path.join(a.out, "stream_m")],
        threads=2)
    ps = a.parallel_steps
    results["1proc_x_2threads"] = _run(kanlab + ["--steps", str(ps), "--batch-size", str(2 * a.batch_size),
                                                 "--out", os.path.join(a.out, "p1")], threads=2)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
                "--master-port", str(_port()), "-m", "kanlab", "train", data, *TRAIN]
    results["2proc_x_1thread"] = _run(torchrun + ["--steps", str(ps), "--batch-size", str(a.batch_size),
                                                  "--out", os.path.join(a.out, "p2")], threads=1)
    r1, r2 = results["1proc_x_2threads"]["fit_s"], results["2proc_x_1thread"]["fit_s"]
    results["time_ratio_2proc_over_1proc"] = round(r2 / r1, 2) if r1 and r2 else None
    with open(os.path.join(a.out, "results.json"), "w") as fh:
        json.dump(results, fh, indent=1)
    for k, v in results.items():
        if isinstance(v, dict):
            v = {kk: vv for kk, vv in v.items() if kk != "stdout_tail"}
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
