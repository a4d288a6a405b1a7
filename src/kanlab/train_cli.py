"""``kanlab train``: fit a KAN to a CSV or Parquet table streamed from disk, in one process or
several (``torchrun --nproc-per-node N -m kanlab train ...``).

The table is read in chunks (:func:`kanlab.datasets.stream_table`), so its size is bounded by
the disk, not by memory. A seeded ``--holdout`` fraction of rows is never trained on; the test
RMSE is computed over the held-out rows of the file's first chunks (at most ``--test-rows``).
Under torchrun (``WORLD_SIZE`` > 1) the process group is initialised here (gloo on CPU, nccl
on GPU), each rank reads every WORLD_SIZE-th chunk, and ``fit(distributed=True)`` keeps the
ranks identical; rank 0 alone shows progress and writes model.kan, history.csv,
training_curve.png and report.md to ``--out``. docs/distributed.md has the details.
"""
from __future__ import annotations

import datetime
import os
import resource
import sys
import time

__all__ = ["add_parser", "cmd_train"]


def add_parser(sub, user_error) -> None:
    """Register ``train`` on the CLI's subparsers (``user_error``: the CLI's one-line error type)."""
    t = sub.add_parser("train", help="fit a KAN to a CSV/Parquet table streamed from disk (1 or more processes)")
    t.add_argument("table", help="CSV (header row) or Parquet file")
    t.add_argument("--target", required=True, help="name of the column to predict")
    t.add_argument("--features", default=None, help="comma-separated feature columns (default: all others)")
    t.add_argument("--width", default="8", help="hidden layer widths, comma-separated (default 8): 8,4 -> [n, 8, 4, 1]")
    t.add_argument("--grid", type=int, default=5, help="grid intervals per edge (default 5)")
    t.add_argument("--k", type=int, default=3, help="spline order (default 3)")
    t.add_argument("--steps", type=int, default=1000, help="Adam steps, one batch each (default 1000)")
    t.add_argument("--batch-size", type=int, default=1024, help="rows per batch and rank (default 1024)")
    t.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 0.01)")
    t.add_argument("--holdout", type=float, default=0.1, help="fraction of rows held out for testing (default 0.1)")
    t.add_argument("--test-rows", type=int, default=20_000, help="held-out rows used for the test RMSE (default 20000)")
    t.add_argument("--test-every", type=int, default=None, help="steps between test evaluations (default steps/20)")
    t.add_argument("--reservoir", type=int, default=10_000, help="rows sampled for grid updates (default 10000)")
    t.add_argument("--checkpoint-every", type=int, default=None, help="write OUT/checkpoint.pt every N steps")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--timeout", type=float, default=300.0, help="seconds a rank waits for the others (default 300)")
    t.add_argument("--out", default="kanlab_train", help="output directory (default kanlab_train)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=lambda args: cmd_train(args, user_error))


def _hidden(text: str, user_error) -> list[int]:
    try:
        widths = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise user_error(f"--width must be positive integers separated by commas, such as 8,4; got {text!r}")
    return widths


def _check(args, user_error) -> None:
    for name in ("grid", "k", "steps", "batch_size", "test_rows", "reservoir"):
        if getattr(args, name) < 1:
            raise user_error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if not 0 < args.holdout < 1:
        raise user_error(f"--holdout must be in (0, 1), got {args.holdout}")
    if args.lr <= 0:
        raise user_error(f"--lr must be positive, got {args.lr}")


def _process_group(args):
    """(rank, world size, whether this call initialised the group) from torchrun's environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=args.timeout))
        return dist.get_rank(), dist.get_world_size(), True
    return dist.get_rank(), dist.get_world_size(), False


def _test_batches(args, rank: int, world: int) -> list:
    """The held-out rows of the first chunks (at most --test-rows, split over the ranks)."""
    from .datasets import stream_table

    batches, rows = [], 0
    limit = max(1, args.test_rows // world)
    for x, y in stream_table(args.table, args.target, 1024, features=args.features, holdout=args.holdout,
                             part="test", seed=args.seed, rank=rank, world_size=world):
        batches.append((x[: limit - rows], y[: limit - rows]))
        rows += len(batches[-1][0])
        if rows >= limit:
            break
    return batches


def cmd_train(args, user_error) -> int:
    import torch

    from .datasets import stream_table
    from . import KAN

    _check(args, user_error)
    hidden = _hidden(args.width, user_error)
    rank, world, owned = _process_group(args)
    try:
        train = stream_table(args.table, args.target, args.batch_size, features=args.features, holdout=args.holdout,
                             seed=args.seed, rank=rank, world_size=world)
        test = _test_batches(args, rank, world)
        model = KAN([len(train.features), *hidden, 1], grid=args.grid, k=args.k, seed=args.seed)
        if rank == 0:
            print(f"kanlab train: {args.table}, features {', '.join(train.features)} -> {args.target}; "
                  f"KAN {model.width}, grid {args.grid}; {args.steps} Adam steps of {args.batch_size} rows x "
                  f"{world} process(es)", flush=True)
        done = _steps_done(args)
        t0 = time.perf_counter()
        hist = model.fit(train, opt="Adam", lr=args.lr, steps=args.steps, seed=args.seed, test_data=test if (test or world > 1) else None,
                         test_every=args.test_every or max(1, args.steps // 20), reservoir=args.reservoir,
                         stop_grid_update_step=min(args.steps, 50), progress=not args.quiet and rank == 0,
                         distributed=world > 1, resume=args.resume,
                         checkpoint=args.out if (args.checkpoint_every or args.resume) else None,
                         checkpoint_every=args.checkpoint_every or args.steps)
        seconds = time.perf_counter() - t0
        if rank == 0:
            _write(args, model, hist, train.features, seconds, world, done)
    finally:
        if owned:
            torch.distributed.destroy_process_group()
    return 0


def _steps_done(args) -> int:
    """Steps an earlier run already took (resume: the checkpoint's), for the rows/s of this run."""
    path = os.path.join(args.out, "checkpoint.pt")
    if not args.resume or not os.path.exists(path):
        return 0
    import torch

    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["step"]) + 1
    except Exception:  # noqa: BLE001 - fit's own resume reports an unreadable checkpoint clearly
        return 0


def _peak_rss_mb() -> float:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _write(args, model, hist, features, seconds: float, world: int, done: int = 0) -> None:
    os.makedirs(args.out, exist_ok=True)
    steps = len(hist["train_loss"])
    every = args.test_every or max(1, args.steps // 20)
    test_steps = [s for s in range(steps) if s % every == 0 or s == args.steps - 1][: len(hist["test_loss"])]
    test_at = dict(zip(test_steps, hist["test_loss"]))
    model.save(os.path.join(args.out, "model.kan"))
    with open(os.path.join(args.out, "history.csv"), "w", encoding="utf-8") as fh:
        fh.write("step,train_rmse,test_rmse\n")
        for s, v in enumerate(hist["train_loss"]):
            fh.write(f"{s},{v:.8g},{'' if s not in test_at else format(test_at[s], '.8g')}\n")
    _plot(os.path.join(args.out, "training_curve.png"), hist["train_loss"], test_at)
    rows = (steps - done) * args.batch_size * world  # rows trained in this run (after a resume: since it)
    lines = ["# kanlab train report", "", f"- data: `{os.path.basename(args.table)}` -> `{args.target}` "
             f"({len(features)} features), holdout {args.holdout:g}",
             f"- network: {model.width}, grid {args.grid}, k {args.k}; Adam lr {args.lr:g}",
             f"- steps: {steps - done} x {args.batch_size} rows x {world} process(es) = {rows:,} rows"
             + (f" (resumed after step {done})" if done else ""),
             f"- time: {seconds:.1f} s, {rows / max(seconds, 1e-9):,.0f} rows/s",
             f"- peak resident memory (rank 0): {_peak_rss_mb():.0f} MB",
             f"- final train RMSE (last batch): {hist['train_loss'][-1]:.4g}" if steps else "- no step ran",
             f"- final test RMSE: {hist['test_loss'][-1]:.4g}" if hist["test_loss"] else "- no test rows",
             f"- compute path: {hist['backend']} ({hist['backend_reason']})"]
    with open(os.path.join(args.out, "report.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines[2:]))
    print(f"wrote model.kan, history.csv, training_curve.png, report.md to {args.out}")


def _plot(path, train, test_at: dict) -> None:
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global figure state

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(range(len(train)), train, lw=0.8, label="train (batch)")
    if test_at:
        ax.plot(list(test_at), list(test_at.values()), "o-", label="test")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("RMSE")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
