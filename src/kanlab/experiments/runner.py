"""The shared runner: jobs in worker processes, progress, resume, report.

An experiment module defines ``EXPERIMENT = Experiment(name, jobs, run_job, report)``:
``jobs(quick)`` lists job dicts (each with a unique "id"; the protocol lives there, in one
place), ``run_job(job)`` (a module-level function, so it can run in a worker process) returns a
JSON-able result dict, and ``report(results, out, quick)`` writes tables and plots. Finished
jobs are appended to ``OUT/jobs.jsonl``; a rerun skips them (resume after an interruption).
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable

from .report import write_command

__all__ = ["Experiment", "run_experiment"]


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    jobs: Callable
    run_job: Callable
    report: Callable


def _worker_init():
    import torch

    torch.set_num_threads(1)


def run_experiment(exp: Experiment, out: str, quick: bool = False, workers: int = 1, argv=None) -> dict:
    t0 = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    jobs = exp.jobs(quick)
    path = os.path.join(out, "jobs.jsonl")
    done = {}
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                try:
                    r = json.loads(line)
                    done[r["id"]] = r
                except (json.JSONDecodeError, KeyError):
                    continue  # a line cut by an interruption: that job runs again
    todo = [j for j in jobs if j["id"] not in done]
    print(f"kanlab reproduce {exp.name}{' --quick' if quick else ''}: {len(jobs)} jobs, {len(jobs) - len(todo)} already done, output in {out}", flush=True)

    def record(job, result, k):
        result = dict(result, id=job["id"])
        done[job["id"]] = result
        with open(path, "a") as fh:
            fh.write(json.dumps(result) + "\n")
        print(f"  [{k}/{len(todo)}] {job['id']} done ({time.perf_counter() - t0:.0f} s)", flush=True)

    if workers <= 1:
        for k, job in enumerate(todo, 1):
            record(job, exp.run_job(job), k)
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
            futures = {pool.submit(exp.run_job, job): job for job in todo}
            for k, fut in enumerate(as_completed(futures), 1):
                record(futures[fut], fut.result(), k)
    results = [done[j["id"]] for j in jobs]
    exp.report(results, out, quick)
    write_command(out, time.perf_counter() - t0, argv)
    print(f"wrote {out}/table.md, table.csv and plots ({time.perf_counter() - t0:.0f} s)", flush=True)
    return {"results": results, "out": out}
