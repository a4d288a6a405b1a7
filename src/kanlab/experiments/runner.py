"""The shared runner: jobs in worker processes, progress, resume, report.

An experiment module defines ``EXPERIMENT = Experiment(name, description, jobs, run_job, report)``:
``jobs(quick)`` lists job dicts (each with a unique "id"; the protocol lives there, in one
place), ``run_job(job)`` (a module-level function, so it can run in a worker process) returns a
JSON-able result dict, and ``report(results, out, quick)`` writes tables and plots. Finished
jobs are appended to ``OUT/jobs.jsonl``; a rerun skips them (resume after an interruption). The
jobs file and the lock ``OUT/run.lock`` (one run per directory at a time) are
:mod:`.jobs_file`'s: a kill at any moment loses at most the job being recorded.

An experiment with options of its own (``Experiment.options``: their defaults, e.g. SRBench's
noise levels) gets them merged with what the user gave as ``jobs(quick, options)`` and
``report(results, out, quick, options)``; the others keep the two- and three-argument forms.
An experiment with a ``job_timeout`` runs every job in its own child process under that
wall-clock cap (:mod:`.capped`): a job over the cap is killed and recorded as timed out
(``status: "timeout"`` with the job's fields), so the report can count it; one that crashes is
not recorded (a rerun retries it) and the run ends with an error naming it.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable

from ..validate import KanlabError
from .capped import run_capped
from .jobs_file import JobLog, RunLock
from .report import write_command

__all__ = ["Experiment", "JobLog", "RunLock", "run_experiment"]


@dataclass(frozen=True)
class Experiment:
    """One reproducible experiment. ``options``: the experiment's own options and their
    defaults (empty: it takes none). ``job_timeout``: the default per-job cap in seconds (None:
    jobs run uncapped in a process pool and the cap cannot be set). ``describe(result)``: an
    optional short text for the per-job progress line."""

    name: str
    description: str
    jobs: Callable
    run_job: Callable
    report: Callable
    options: dict = field(default_factory=dict)
    job_timeout: float | None = None
    describe: Callable | None = None


def _worker_init():
    import torch

    torch.set_num_threads(1)


def _settings(exp: Experiment, options, job_timeout):
    """The experiment's options (defaults + given) and the job cap; a clear error for options
    the experiment does not take."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    unknown = sorted(set(options) - set(exp.options))
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        takes = ", ".join("--" + k.replace("_", "-") for k in exp.options) or "none"
        raise KanlabError(f"{flags}: not an option of experiment {exp.name!r} (its own options: {takes})")
    if job_timeout is not None and exp.job_timeout is None:
        raise KanlabError(f"--job-timeout: experiment {exp.name!r} runs its jobs uncapped; a cap applies to "
                          "experiments that record timed-out jobs (srbench)")
    if job_timeout is not None and job_timeout < 0:
        raise KanlabError(f"--job-timeout must be >= 0 seconds (0: no cap), got {job_timeout}")
    return {**exp.options, **options}, exp.job_timeout if job_timeout is None else job_timeout


def run_experiment(exp: Experiment, out: str, quick: bool = False, workers: int = 1, argv=None, options=None,
                   job_timeout: float | None = None) -> dict:
    """Run ``exp``'s jobs not yet in OUT/jobs.jsonl, then its report. ``options``: the
    experiment's own options (None values: the default); ``job_timeout``: seconds per job (None:
    the experiment's default; 0: no cap). Returns {"results", "out", "crashed"}."""
    t0 = time.perf_counter()
    opts, cap = _settings(exp, options, job_timeout)
    jobs = exp.jobs(quick, opts) if exp.options else exp.jobs(quick)
    os.makedirs(out, exist_ok=True)
    with RunLock(out):  # a second run into this directory stops here with a clear message
        return _run_locked(exp, jobs, out, quick, workers, argv, opts, cap, t0)


def _run_locked(exp, jobs, out, quick, workers, argv, opts, cap, t0) -> dict:
    """run_experiment's body, under the directory's lock."""
    log = JobLog(os.path.join(out, "jobs.jsonl"))
    done = log.refresh()
    todo = [j for j in jobs if j["id"] not in done]
    print(f"kanlab reproduce {exp.name}{' --quick' if quick else ''}: {len(jobs)} jobs, {len(jobs) - len(todo)} "
          f"already done, output in {out}", flush=True)
    progress = {"k": 0, "crashed": []}

    def record(job, result):
        progress["k"] += 1
        log.append(dict(result, id=job["id"]))
        text = f": {exp.describe(result)}" if exp.describe else " done"
        print(f"  [{progress['k']}/{len(todo)}] {job['id']}{text} ({time.perf_counter() - t0:.0f} s)", flush=True)

    if exp.job_timeout is not None:
        _run_capped(exp, todo, record, progress, workers, cap, log)
    elif workers <= 1:
        for job in todo:
            record(job, exp.run_job(job))
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
            futures = {pool.submit(exp.run_job, job): job for job in todo}
            for fut in as_completed(futures):
                record(futures[fut], fut.result())
    results = [done[j["id"]] for j in jobs if j["id"] in done]
    if exp.options:
        exp.report(results, out, quick, opts)
    else:
        exp.report(results, out, quick)
    write_command(out, time.perf_counter() - t0, argv)
    print(f"wrote {out}/table.md, table.csv and plots ({time.perf_counter() - t0:.0f} s)", flush=True)
    if progress["crashed"]:
        print(f"{len(progress['crashed'])} job(s) crashed and were not recorded (a rerun retries them): "
              f"{', '.join(progress['crashed'])}", flush=True)
    return {"results": results, "out": out, "crashed": list(progress["crashed"])}


def _run_capped(exp, todo, record, progress, workers, cap, log):
    """Each job in its own process under the cap; timeouts recorded, crashes reported."""

    def done(job, kind, payload, seconds):
        if kind == "ok":
            record(job, payload)
        elif kind == "timeout":
            record(job, dict(job, status="timeout", error=payload, seconds=round(seconds, 3)))
        else:
            progress["k"] += 1
            progress["crashed"].append(job["id"])
            print(f"  [{progress['k']}/{len(todo)}] {job['id']}: CRASHED (not recorded) {payload}", flush=True)

    def finished_elsewhere(job):
        if job["id"] not in log.refresh():
            return False
        progress["k"] += 1  # a concurrent run into the same directory finished it meanwhile
        print(f"  [{progress['k']}/{len(todo)}] {job['id']}: done by another run, skipped", flush=True)
        return True

    run_capped(exp.run_job, todo, done, workers=workers, timeout=cap, skip=finished_elsewhere,
               threads=1 if workers > 1 else None)
