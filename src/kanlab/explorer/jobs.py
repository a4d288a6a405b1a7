"""Long explorer actions off the caller's thread: one job at a time, with progress and cancel.

A job works on its own copy of the model; only when it finishes without error or cancel does its
result become a new state (the workbench commits it). A cancelled or failed job leaves the state
exactly as it was."""
from __future__ import annotations

import threading
import time

__all__ = ["Job", "Cancelled"]


class Cancelled(Exception):
    """Raised inside a job's work function when cancel() was called."""


class Job:
    """One long action. ``work(job)`` runs in a thread, reports with :meth:`report`, checks
    :meth:`check_cancel` between its steps and returns what ``on_done`` receives."""

    def __init__(self, action: str, total: int, work, on_done):
        self.action, self.total = action, int(total)
        self.done = 0
        self.losses: list[float] = []
        self.status = "running"  # running | finished | cancelled | failed
        self.error: str | None = None
        self.started = time.time()
        self.ended: float | None = None  # when the job stopped (finished, cancelled or failed)
        self._cancel = threading.Event()
        self._work, self._on_done = work, on_done
        self._thread = threading.Thread(target=self._run, name=f"kanlab-explorer-{action}", daemon=True)

    def start(self) -> "Job":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            result = self._work(self)
            self.check_cancel()
            self._on_done(result)
            self.status = "finished"
        except Cancelled:
            self.status = "cancelled"
        except Exception as e:  # reported to the page and to wait(); the state is unchanged
            self.status, self.error = "failed", f"{type(e).__name__}: {e}"
        finally:
            self.ended = time.time()

    def report(self, done: int, loss: float | None = None) -> None:
        self.done = int(done)
        if loss is not None:
            self.losses.append(float(loss))

    def check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Cancelled

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self.status == "running"

    def wait(self, timeout: float | None = None) -> "Job":
        self._thread.join(timeout)
        return self

    def info(self) -> dict:
        return {"action": self.action, "status": self.status, "done": self.done, "total": self.total,
                "losses": self.losses[-500:], "error": self.error,
                "seconds": round((self.ended if self.ended is not None else time.time()) - self.started, 2)}
