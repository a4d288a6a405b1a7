"""The ``kanlab`` command line: demo, discover, fit, reproduce, plot, formula, train (train_cli.py).

User errors (bad files, names, arguments) print one line to stderr and exit with code 2;
no Python traceback is shown for them.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import time
import warnings

__all__ = ["main"]


class UserError(Exception):
    """An error in what the user asked for: reported in one line, exit code 2."""


def _write_discovery(res, out, var_names, X=None, target="y"):
    from .symbolic.formula import to_latex, to_python_source
    from .symbolic.user_names import is_python_name, plot_label

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "formula.txt"), "w", encoding="utf-8") as fh:
        fh.write(f"{target} = {res.formula}\n")
    with open(os.path.join(out, "formula.tex"), "w", encoding="utf-8") as fh:
        fh.write(to_latex(res.formula) + "\n")  # names escaped: no name can inject LaTeX
    with open(os.path.join(out, "formula.py"), "w", encoding="utf-8") as fh:
        fh.write(to_python_source(res.formula, var_names, name=target if is_python_name(target) else "formula"))
    res.model.save(os.path.join(out, "model.kan"))
    from .explorer.pareto import pareto_rows

    with open(os.path.join(out, "pareto.json"), "w", encoding="utf-8") as fh:  # the explorer's Pareto view
        json.dump(pareto_rows(res.pareto, res.formula), fh, indent=1)
    if X is not None:
        import torch

        res.model.plot(os.path.join(out, "network.png"), x=torch.as_tensor(X, dtype=torch.float64),
                       in_vars=[plot_label(v) for v in var_names], out_vars=[plot_label(target)])
    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(_report_lines(res, target)) + "\n")


def _report_lines(res, target):
    """report.md: the result, every stage's outcome, every candidate, the Pareto front. Every
    text that can hold a user's name is escaped: no HTML, link or table cell can start in it."""
    from .symbolic.user_names import markdown_text as cell

    lines = ["# kanlab discover report", "", f"formula: {cell(target)} = {cell(res.formula)}", "",
             f"- test RMSE of the formula: {res.test_rmse:.4g}", f"- test R^2: {res.r2:.6f}",
             f"- chosen pipeline: {res.transform}",
             f"- test RMSE of the numeric (spline) model before symbolic fitting: {res.model_numeric_rmse:.4g}",
             f"- network shape: {res.model.width}", f"- time: {res.seconds:.1f} s", "",
             "## Stages", "", "| stage | status | message | s |", "|---|---|---|---|"]
    lines += [f"| {cell(e.stage)} | {e.status} | {cell(e.message)} | {e.seconds:.1f} |" for e in res.log]
    lines += ["", "## Candidates (one per pipeline)", "",
              "| pipeline | fitted to | complexity | train RMSE | held-out RMSE | formula |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {cell(c.pipeline)} | {cell('log|y|' if c.transform == 'log' else 'y')} | {c.complexity} | "
              f"{c.train_rmse:.3g} | {c.val_rmse:.3g} | {cell(c.formula)} |" for c in res.candidates]
    lines += ["", "## Pareto front (complexity vs test RMSE)", "", "| complexity | test RMSE | pipeline | formula |",
              "|---|---|---|---|"]
    lines += [f"| {c} | {e:.3g} | {cell(p.pipeline)} | {cell(f)} |" for p in res.pareto for c, e, f in [p]]
    return lines


def _short(text, width):
    text = str(text)
    return text if len(text) <= width else text[: width - 4] + " ..."


class _ShortFormatter(logging.Formatter):
    """One line per record, at most ``width`` characters."""

    def __init__(self, prefix="  ", width=110):
        super().__init__()
        self.prefix, self.width = prefix, width

    def format(self, record):
        return self.prefix + _short(" ".join(record.getMessage().split()), self.width - len(self.prefix))


@contextlib.contextmanager
def _discover_output(quiet: bool, verbose: bool):
    """discover's stage progress (logger "kanlab.discover", INFO and up, one short line each) to
    stdout unless ``quiet``; with ``verbose`` everything else of the "kanlab" loggers (details at
    DEBUG, the compute paths the fits take) to stderr as well."""
    log = logging.getLogger("kanlab")
    handlers = []
    if not quiet:
        h = logging.StreamHandler(sys.stdout)
        h.setLevel(logging.INFO)
        h.addFilter(lambda r: r.name.startswith("kanlab.discover"))  # others (compute paths): --verbose
        h.setFormatter(_ShortFormatter())
        handlers.append(h)
    if verbose:
        h = logging.StreamHandler(sys.stderr)
        h.setLevel(logging.DEBUG)
        h.addFilter(lambda r: r.levelno < logging.INFO or not r.name.startswith("kanlab.discover"))
        h.setFormatter(logging.Formatter("kanlab: %(message)s"))
        handlers.append(h)
    old = log.level
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    for h in handlers:
        log.addHandler(h)
    try:
        with warnings.catch_warnings():
            # discover's own warning about the formula's error is also a stage line (result: warning)
            warnings.filterwarnings("ignore", message="the symbolic formula's test RMSE", category=UserWarning)
            yield
    finally:
        for h in handlers:
            log.removeHandler(h)
        log.setLevel(old)


def _print_result(res, target, out):
    formula = f"{target} = {res.formula}"
    if len(formula) > 150:
        formula = _short(formula, 120) + " (full formula in formula.txt)"
    print(formula)
    print(f"test RMSE {res.test_rmse:.4g}, R^2 {res.r2:.6f} ({res.transform} pipeline, {res.seconds:.1f} s)")
    if math.isfinite(res.noise_bound):
        print(f"noise in {target}: at most {res.noise_bound:.3g} RMS (the best numeric KAN's held-out error)")
    print("Pareto front (complexity vs held-out RMSE; * the returned formula):")
    print(f"  {'complexity':>10}  {'RMSE':>9}  {'pipeline':<10}  formula")
    for point in res.pareto:
        c, e, f = point
        mark = "*" if f == res.formula else " "
        print(f"{mark} {c:>10}  {e:>9.3g}  {point.pipeline:<10}  {_short(f, 74)}")


def _run_discover(X, y, names, target, args):
    from .model import discover

    with _discover_output(args.quiet, getattr(args, "verbose", False)):
        res = discover(X, y, var_names=names, seed=args.seed, time_budget=getattr(args, "time_budget", None),
                       max_rows=getattr(args, "max_rows", 20_000))
    _print_result(res, target, args.out)
    _write_discovery(res, args.out, names, X, target)
    print(f"wrote formula.txt, formula.tex, formula.py, model.kan, pareto.json, network.png, report.md to {args.out}")
    return 0


def _cmd_discover(args) -> int:
    from .datasets.tabular import read_csv

    X, y, names = read_csv(args.csv, args.target, args.features)
    print(f"kanlab discover: {len(y)} rows, features {', '.join(names)} -> {args.target}")
    rows = f"{args.max_rows} of them (a seeded sample)" if len(y) > args.max_rows else "all of them"
    limit = f"{args.time_budget:g} s" if args.time_budget is not None else "none (--time-budget S sets one)"
    print(f"budget: rows used: {rows}; time: {limit}")
    return _run_discover(X, y, names, args.target, args)


def _cmd_reproduce(args) -> int:
    from .experiments import AVAILABLE, get_experiment, run_experiment

    if args.name not in AVAILABLE:
        raise UserError(f"unknown experiment {args.name!r}; available: {', '.join(AVAILABLE)}")
    out = args.out or os.path.join("results_quick" if args.quick else "results", args.name)
    options = {"noise": args.noise, "seeds": args.seeds, "only": args.only}
    res = run_experiment(get_experiment(args.name), out, quick=args.quick, workers=args.workers, options=options,
                         job_timeout=args.job_timeout)
    return 1 if res.get("crashed") else 0


def _float_list(text: str) -> tuple:
    """argparse type of --noise: comma-separated numbers."""
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0,0.01, got {text!r}") from None


def _name_list(text: str) -> tuple:
    """argparse type of --only: comma-separated names."""
    names = tuple(v.strip() for v in text.split(",") if v.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names such as I.6.2,I.8.14, got {text!r}")
    return names


def _cmd_demo(args) -> int:
    if not args.fit:
        return _demo_discover(args)
    return _demo_fit(args)


def _demo_discover(args) -> int:
    import numpy as np

    print("kanlab demo: discover the law behind samples of relativistic velocity addition, (u + v) / (1 + u v)")
    rng = np.random.default_rng(0)
    X = rng.uniform(-0.9, 0.9, size=(1000, 2))
    y = (X[:, 0] + X[:, 1]) / (1 + X[:, 0] * X[:, 1])
    args.seed = 0
    return _run_discover(X, y, ["u", "v"], "w", args)


def _demo_fit(args) -> int:
    import torch

    from .interpret import plot
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


def _cmd_explore(args) -> int:
    from .datasets.tabular import from_csv
    from .explorer import Workbench, launch
    from .explorer.pareto import read_pareto
    from .model import KAN

    if (args.data is None) != (args.target is None):
        raise UserError("give --data FILE.csv together with --target COLUMN (or neither)")
    model = KAN.load(args.model)
    data, names = {}, None
    if args.data is not None:
        ds = from_csv(args.data, args.target)
        data = {"X": ds["train_input"], "y": ds["train_label"], "X_test": ds["test_input"], "y_test": ds["test_label"]}
        names = ds["feature_names"]
    pareto_path = os.path.join(os.path.dirname(os.path.abspath(args.model)), "pareto.json")
    pareto = read_pareto(pareto_path) if os.path.exists(pareto_path) else None
    if pareto is not None:
        print(f"kanlab explore: the Pareto front of {pareto_path} is shown beside the model")
    launch(Workbench(model, var_names=names, target=args.target or "y", pareto=pareto, **data), port=args.port,
           open_browser=not args.no_browser, block=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kanlab", description="Kolmogorov-Arnold Networks: fit, prune, discover formulas, reproduce the paper.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="fit a built-in example and write a model and plots")
    d.add_argument("--out", default="kanlab_demo", help="output directory (default: kanlab_demo)")
    d.add_argument("--steps", type=int, default=50, help="LBFGS steps per grid (default: 50)")
    d.add_argument("--quiet", action="store_true", help="no progress output")
    d.add_argument("--verbose", action="store_true", help="details of every discover stage to stderr")
    d.add_argument("--fit", action="store_true", help="the grid-extension fitting demo instead of discover")
    d.set_defaults(func=_cmd_demo)
    c = sub.add_parser("discover", help="find a formula for a CSV column: formula, plot, model, report")
    c.add_argument("csv", help="CSV file with a header row")
    c.add_argument("--target", required=True, help="name of the column to explain")
    c.add_argument("--features", default=None, help="comma-separated feature columns (default: all others)")
    c.add_argument("--out", default="kanlab_discover", help="output directory (default: kanlab_discover)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="bound the run: pipelines not started after this many seconds are skipped")
    c.add_argument("--max-rows", type=int, default=20_000,
                   help="use a seeded sample of at most this many rows (default: 20000)")
    c.add_argument("--quiet", action="store_true", help="no stage progress lines")
    c.add_argument("--verbose", action="store_true", help="details of every stage (logging DEBUG) to stderr")
    c.set_defaults(func=_cmd_discover)
    r = sub.add_parser("reproduce", help="run one of the paper's experiments and write tables and plots")
    r.add_argument("name", help="experiment name (toy, special, feynman, pde, continual, rapidity, knots, anderson, srbench)")
    r.add_argument("--quick", action="store_true", help="a smoke version that finishes in seconds")
    r.add_argument("--out", default=None, help="output directory (default results/NAME or results_quick/NAME)")
    r.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    r.add_argument("--noise", type=_float_list, default=None, metavar="LEVELS",
                   help="srbench: comma-separated noise levels (default 0,0.001,0.01,0.1; --quick: 0,0.01)")
    r.add_argument("--seeds", type=int, default=None, metavar="N", help="srbench: seeds per equation and noise level (default 1)")
    r.add_argument("--only", type=_name_list, default=None, metavar="NAMES",
                   help="srbench: comma-separated equation names, a partial run (default: all 120)")
    r.add_argument("--job-timeout", type=float, default=None, metavar="S",
                   help="srbench: kill a job after S seconds and record it as timed out (default 600; 0: no cap)")
    r.set_defaults(func=_cmd_reproduce)
    e = sub.add_parser("explore", help="open a model in the interactive explorer (a local web page)")
    e.add_argument("model", help="a .kan model file")
    e.add_argument("--data", default=None, help="CSV file with the data the model was trained on (header row)")
    e.add_argument("--target", default=None, help="the CSV column the model predicts (with --data)")
    e.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    e.add_argument("--no-browser", action="store_true", help="only print the URL (with its token)")
    e.set_defaults(func=_cmd_explore)
    from .train_cli import add_parser as add_train_parser

    add_train_parser(sub, UserError)
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
