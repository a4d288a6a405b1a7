"""The ``kanlab`` command line: demo, discover, fit, reproduce, plot, formula.

User errors (bad files, names, arguments) print one line to stderr and exit with code 2;
no Python traceback is shown for them.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

__all__ = ["main"]


class UserError(Exception):
    """An error in what the user asked for: reported in one line, exit code 2."""


def _cmd_demo(args) -> int:
    import torch

    from . import plot
    from .datasets import create_dataset
    from .model import KAN

    torch.manual_seed(0)
    out = args.out
    os.makedirs(out, exist_ok=True)

    def f(x):
        return torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)

    print("kanlab demo: fit f(x, y) = exp(sin(pi x) + y^2) with a [2, 5, 1] KAN, grids 3 -> 5 -> 10 -> 20")
    ds = create_dataset(f, n_var=2, ranges=[-1, 1], train_num=1000, test_num=1000, seed=0)
    model = KAN(width=[2, 5, 1], grid=3, k=3, seed=0)
    histories = []
    t_all = time.perf_counter()
    for i, grid in enumerate([3, 5, 10, 20]):
        if i:
            model = model.refine(grid)
        t0 = time.perf_counter()
        hist = model.fit(ds, opt="LBFGS", steps=args.steps, progress=not args.quiet)
        histories.append((grid, hist))
        print(f"  grid {grid:>3}: test RMSE {hist['test_loss'][-1]:.3e}  train RMSE {hist['train_loss'][-1]:.3e}"
              f"  ({time.perf_counter() - t0:.2f} s)")
    print(f"  total {time.perf_counter() - t_all:.2f} s")
    model_path = os.path.join(out, "model.kan")
    model.save(model_path)
    fig = plot.training_curves([h for _, h in histories], labels=[f"G={g}" for g, _ in histories])
    curve_path = os.path.join(out, "training_curves.png")
    fig.savefig(curve_path, dpi=120, bbox_inches="tight")
    print(f"wrote {model_path} and {curve_path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kanlab", description="Kolmogorov-Arnold Networks: fit, prune, discover formulas, reproduce the paper.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="fit a built-in example and write a model and plots")
    d.add_argument("--out", default="kanlab_demo", help="output directory (default: kanlab_demo)")
    d.add_argument("--steps", type=int, default=50, help="LBFGS steps per grid (default: 50)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=_cmd_demo)
    return p


def _version() -> str:
    from . import __version__

    return f"kanlab {__version__}"


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"kanlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kanlab: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as e:
        from .validate import KanlabError

        if isinstance(e, (KanlabError, FileNotFoundError)):
            print(f"kanlab: error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
