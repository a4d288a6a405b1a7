"""Formula discovery on the whole AI Feynman database under SRBench's ground-truth protocol.

One job per (equation, noise level, seed), id ``NAME/noiseLEVEL/seedS`` (quick runs: prefixed
``quick/``, so a quick and a full run into one directory never take each other's results).
A job samples SRBench's data (:func:`kanlab.datasets.ai_feynman.srbench_data`: 10,000 rows in
the original ranges, 75/25 split, Gaussian noise of level * RMS(y) on the training rows only),
calls ``kanlab.discover`` on the training rows with the variable names and the seed and
nothing else (the same settings for every equation: nothing sees the truth or the equation's
name), and judges the one returned formula on the noiseless test rows by SRBench's rule
(:func:`kanlab.experiments.srbench_judge.judge`). A failure inside discover is recorded
(status "error", its type and message) instead of ending the run; the runner kills a job over
the per-job cap (``--job-timeout``, default 600 s: "none over 10 minutes") and records it as
timed out. Options: ``--noise``, ``--seeds``, ``--only`` (a partial run; the report counts the
equations not run). Quick: 3 easy equations, noise 0 and 0.01, 1,000 rows, a small budget.
"""
from __future__ import annotations

import math
import time

from ..validate import KanlabError
from .runner import Experiment
from .srbench_report import describe, write_report

__all__ = ["EXPERIMENT", "jobs", "run_job", "report", "FULL", "QUICK"]

#: the protocol's settings; ``discover``: keyword arguments beyond X, y, var_names and seed ({}:
#: discover's defaults), the same for every equation
FULL = {"noise": (0.0, 0.001, 0.01, 0.1), "n": 10_000, "discover": {}}
QUICK = {"noise": (0.0, 0.01), "n": 1_000, "discover": {"grids": [5], "sparse_steps": 20, "steps": 10},
         "laws": ("I.12.1", "I.14.4", "I.25.13")}
DEFAULT_JOB_TIMEOUT_S = 600.0


def laws() -> dict:
    """The AI Feynman database, name -> Law (imported when first needed)."""
    from ..datasets.ai_feynman import AI_FEYNMAN

    return AI_FEYNMAN


def make_data(law, n: int, noise: float, seed: int) -> dict:
    """SRBench's data for one equation: X_train, y_train (noisy), X_test, y_test (noiseless)."""
    from ..datasets.ai_feynman import srbench_data

    return srbench_data(law, n=n, noise=noise, seed=seed)


def discover(X, y, var_names, seed, **settings):
    """kanlab.discover (a module-level name, so tests can replace it)."""
    from .. import discover as _discover

    return _discover(X, y, var_names=var_names, seed=seed, **settings)


def judge(formula, truth, symbols, X_test, y_test):
    """SRBench's judgement of one returned formula."""
    from .srbench_judge import judge as _judge

    return _judge(formula, truth, symbols, X_test, y_test)


def _resolved(options: dict, quick: bool) -> dict:
    """The options with the mode's default noise levels where none were given."""
    return dict(options, noise=(QUICK if quick else FULL)["noise"] if options.get("noise") is None else options["noise"],
                seeds=1 if options.get("seeds") is None else options["seeds"])


def _check_options(options: dict, names: dict) -> tuple:
    """Validated (noise levels, seeds, law names) of the options; clear errors for bad values."""
    noise = tuple(float(v) for v in options["noise"])
    if not noise or any(not math.isfinite(v) or v < 0 for v in noise):
        raise KanlabError(f"--noise must list noise levels >= 0 such as 0,0.01, got {options['noise']!r}")
    seeds = options["seeds"]
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise KanlabError(f"--seeds must be an integer >= 1, got {seeds!r}")
    only = options.get("only")
    if only:
        unknown = [v for v in only if v not in names]
        if unknown:
            raise KanlabError(f"--only: unknown equation name(s) {', '.join(unknown)}; names look like "
                              f"{', '.join(list(names)[:4])}, ... (AI Feynman's Filename column)")
    return tuple(dict.fromkeys(noise)), seeds, tuple(dict.fromkeys(only)) if only else None


def jobs(quick: bool, options: dict) -> list:
    """The job list: every chosen equation x noise level x seed, with the protocol's settings."""
    P = QUICK if quick else FULL
    database = laws()
    noise, seeds, only = _check_options(_resolved(options, quick), database)
    names = only or (P["laws"] if quick else tuple(database))
    prefix = "quick/" if quick else ""
    return [{"id": f"{prefix}{name}/noise{level:g}/seed{seed}", "law": name, "noise": level, "seed": seed,
             "n": P["n"], "discover": dict(P["discover"])}
            for name in names for level in noise for seed in range(seeds)]


def _law_fields(law) -> dict:
    return {"n_vars": len(law.variables), "in_srbench": bool(law.in_srbench), "bonus": bool(law.bonus)}


def run_job(job: dict) -> dict:
    """Data -> discover -> judge for one job; JSON-able. discover's exceptions become status
    "error" (and a judge failure "judge-error") so one equation cannot end the run."""
    law = laws()[job["law"]]
    record = {"law": job["law"], "noise": job["noise"], "seed": job["seed"], "n": job["n"], **_law_fields(law)}
    data = make_data(law, job["n"], job["noise"], job["seed"])
    t0 = time.perf_counter()
    try:
        result = discover(data["X_train"], data["y_train"], [v.name for v in law.variables], job["seed"],
                          **job["discover"])
    except Exception as e:  # noqa: BLE001 - recorded: one equation's failure is a result, not a crash
        return dict(record, status="error", error=f"{type(e).__name__}: {e}", seconds=round(time.perf_counter() - t0, 3),
                    symbolic_solution=False, accuracy_solution=False)
    seconds = time.perf_counter() - t0
    pareto = getattr(result, "pareto", None)
    record.update(formula=str(result.formula), seconds=round(seconds, 3),
                  pareto_size=len(pareto) if pareto is not None else None)
    truth, symbols = law.sympy_expr()
    try:
        j = judge(result.formula, truth, symbols, data["X_test"], data["y_test"])
    except Exception as e:  # noqa: BLE001 - the formula is kept; the judgement failed
        return dict(record, status="judge-error", error=f"{type(e).__name__}: {e}",
                    symbolic_solution=False, accuracy_solution=False)
    return dict(record, status="ok", rounded=str(j.rounded), r2=_float(j.r2),
                symbolic_solution=bool(j.symbolic_solution), accuracy_solution=bool(j.accuracy_solution),
                reason=str(j.reason), judge_seconds=round(time.perf_counter() - t0 - seconds, 3))


def _float(v):
    return None if v is None else float(v)


def report(results: list, out: str, quick: bool, options: dict) -> None:
    """table.md, table.csv, solution_rate.png: see :mod:`.srbench_report`."""
    P = QUICK if quick else FULL
    noise, seeds, only = _check_options(_resolved(options, quick), laws())
    write_report(results, out, quick, laws(), noise=noise, seeds=seeds, settings={"n": P["n"], "discover": P["discover"]},
                 only=only)


EXPERIMENT = Experiment("srbench", "AI Feynman database (120 equations) under SRBench's protocol: exact formulas "
                        "from noisy data", jobs, run_job, report,
                        options={"noise": None, "seeds": 1, "only": None},
                        job_timeout=DEFAULT_JOB_TIMEOUT_S, describe=describe)
