"""Jobs in their own child processes under a wall-clock cap.

A benchmark such as SRBench promises "no equation over N minutes": a job that exceeds the cap has
to be stopped from outside, since a training loop or a sympy simplification cannot be asked to
stop. Each job therefore runs in a fresh child process (``fork`` where the platform has it, so
the parent's imports and settings are inherited and nothing is pickled but the result), at most
``workers`` at a time; one still running after ``timeout`` seconds is terminated (then killed)
and reported as timed out. A child that raises, or dies, is reported as crashed with the error.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import time
import traceback
from multiprocessing.connection import wait
from typing import Callable

__all__ = ["run_capped"]

#: seconds a terminated child gets to exit before it is killed
_GRACE_S = 5.0


def _context():
    """fork where available (Linux): no pickling of the job function, no re-import per job."""
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else None)


def _child(run_job: Callable, job: dict, conn, threads: int | None) -> None:
    """The body of one job's process: run it and send ("ok", result) or ("crashed", message)."""
    try:
        if threads:
            import torch

            torch.set_num_threads(threads)
        message = ("ok", run_job(job))
    except BaseException as e:  # noqa: BLE001 - every failure is reported to the parent
        message = ("crashed", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    try:
        conn.send(message)
    except Exception as e:  # noqa: BLE001 - e.g. a result that cannot be pickled
        conn.send(("crashed", f"the job's result could not be sent back: {type(e).__name__}: {e}"))
    finally:
        conn.close()


def _stop(proc) -> None:
    """Terminate a child (SIGTERM), kill it if it has not exited after the grace period, reap it."""
    if proc.is_alive():
        proc.terminate()
        proc.join(_GRACE_S)
    if proc.is_alive():
        proc.kill()
    proc.join()


def _receive(conn, proc) -> tuple[str, object]:
    """The child's message, or a crash report when it died without sending one."""
    try:
        kind, payload = conn.recv()
    except (EOFError, OSError):
        proc.join()
        kind, payload = "crashed", f"the job's process died without a result (exit code {proc.exitcode})"
    conn.close()
    proc.join()
    return kind, payload


def run_capped(run_job: Callable, jobs: list, done: Callable, workers: int = 1, timeout: float | None = None,
               skip: Callable | None = None, threads: int | None = None) -> None:
    """Run ``run_job(job)`` for each job in a child process, ``workers`` at a time.

    ``done(job, kind, payload, seconds)`` is called in the parent as each job ends: kind "ok"
    (payload: run_job's result), "timeout" (payload: a message; the child was killed after
    ``timeout`` seconds; None or inf: no cap) or "crashed" (payload: the error and its
    traceback). ``skip(job)``, asked just before a job starts, may drop it (e.g. a concurrent
    run finished it meanwhile). ``threads``: torch's thread count in each child (None: its
    default). Children still running when the parent is interrupted are stopped.
    """
    ctx = _context()
    cap = math.inf if timeout is None or timeout <= 0 else float(timeout)
    pending = list(jobs)
    running = {}  # connection -> (process, job, start)
    try:
        while pending or running:
            while pending and len(running) < max(1, workers):
                job = pending.pop(0)
                if skip is not None and skip(job):
                    continue
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(run_job, job, send, threads), name=f"kanlab-job-{job['id']}")
                proc.start()
                send.close()
                running[recv] = (proc, job, time.monotonic())
            if not running:
                break
            first_deadline = min(t0 for _, _, t0 in running.values()) + cap
            wait_s = None if math.isinf(cap) else max(0.0, first_deadline - time.monotonic())
            for conn in wait(list(running), timeout=wait_s):
                proc, job, t0 = running.pop(conn)
                kind, payload = _receive(conn, proc)
                done(job, kind, payload, time.monotonic() - t0)
            now = time.monotonic()
            for conn, (proc, job, t0) in list(running.items()):
                if now - t0 < cap:
                    continue
                del running[conn]
                if conn.poll():  # it finished just as the cap ran out: keep its result
                    done(job, *_receive(conn, proc), now - t0)
                    continue
                _stop(proc)
                conn.close()
                done(job, "timeout", f"killed after the job timeout of {cap:g} s", now - t0)
    finally:
        for conn, (proc, _, _) in running.items():
            _stop(proc)
            conn.close()
