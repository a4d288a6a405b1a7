"""Crash-safe jobs files and the lock of a results directory (every resumable run uses these).

``JobLog`` is ``OUT/jobs.jsonl``: one finished job per line, one JSON object with an "id". Each
record is appended as ONE ``os.write`` of the whole line to a file opened with ``O_APPEND``
(under an exclusive ``flock`` where the platform has it), then ``fsync``-ed, so a kill at any
moment (SIGKILL, power loss) leaves every earlier record complete and at most the last line
cut. On reading, a line that is not a complete record is skipped with a ``JobsFileWarning``
naming the file and the line (its job simply runs again), and the next append starts on a
fresh line so it cannot glue onto the cut one.

``RunLock`` is ``OUT/run.lock``: it holds the pid, host and start time of the run writing into
the directory. A second run into the same directory stops with ``RunLockedError`` (a clear
message: which process holds it and what to do); the lock of a process that no longer exists
(killed, crashed) is taken over with a warning. Checking and taking the lock happen under a
``flock`` of the directory, so two runs starting at once cannot both take it.
"""
from __future__ import annotations

import json
import os
import socket
import time
import warnings

from ..validate import KanlabError

__all__ = ["JobLog", "RunLock", "RunLockedError", "JobsFileWarning", "LOCK_NAME"]

LOCK_NAME = "run.lock"


class RunLockedError(KanlabError):
    """Another live run is writing into the same results directory."""


class JobsFileWarning(UserWarning):
    """A jobs file held a line that is not a complete record, or a stale lock was taken over."""


class JobLog:
    """``OUT/jobs.jsonl``: finished jobs, one per line; see the module docstring."""

    def __init__(self, path: str):
        self.path = path
        self.done: dict = {}
        self._offset = 0  # bytes of complete lines already read
        self._lines = 0  # how many lines those were
        self._warned_tail = -1  # the offset of an unterminated last line already reported

    def refresh(self) -> dict:
        """Read the lines appended since the last call; returns id -> result."""
        if not os.path.exists(self.path):
            return self.done
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # an unterminated last line is looked at again next time
        for line in data[:end].splitlines():
            self._lines += 1
            result = _record(line)
            if result is None:
                self._warn(f"line {self._lines} is not a complete job record (cut by an interruption?)")
            else:
                self.done[result["id"]] = result
        self._offset += end
        if data[end:].strip() and self._warned_tail != self._offset:
            self._warned_tail = self._offset
            self._warn(f"line {self._lines + 1} is incomplete: the run writing it was interrupted")
        return self.done

    def _warn(self, what: str) -> None:
        warnings.warn(f"{self.path}: {what}; skipped, its job runs again", JobsFileWarning, stacklevel=3)

    def append(self, result: dict) -> None:
        """Record one finished job (a dict with "id") as one line, on disk when this returns."""
        data = (json.dumps(result) + "\n").encode()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            _flock(fd)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # never glue onto a line cut by an interruption
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the flock
        self.done[result["id"]] = result


def _record(line: bytes):
    """The job record of one line, or None when the line is not one."""
    try:
        result = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return result if isinstance(result, dict) and "id" in result else None


def _flock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: O_APPEND alone keeps lines whole
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def _start_time(pid: int):
    """The kernel's start time of process ``pid`` (Linux /proc; None elsewhere or if gone):
    tells a live run from an unrelated process that reused a dead run's pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        return int(stat[stat.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int, start) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    now = _start_time(pid)
    return start is None or now is None or now == start


class RunLock:
    """The lock of one results directory (``with RunLock(out): ...``); see the module docstring."""

    def __init__(self, directory: str):
        self.directory = directory
        self.path = os.path.join(directory, LOCK_NAME)
        self._mine = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    def acquire(self) -> None:
        """Take the lock, or raise RunLockedError if a live run holds it."""
        me = {"pid": os.getpid(), "host": socket.gethostname(), "start": _start_time(os.getpid()),
              "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        with _DirectoryGuard(self.directory):
            held = self._read()
            if held is not None:
                self._check_stale(held)
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "w") as fh:
                json.dump(me, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        self._mine = me

    def _read(self):
        try:
            with open(self.path) as fh:
                return json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise RunLockedError(f"{self.path} exists but cannot be read ({e}); if no kanlab run is writing into "
                                 f"{self.directory}, delete it and start again") from None

    def _check_stale(self, held) -> None:
        """Raise if ``held`` (a lock's content) belongs to a live run; warn when taking it over."""
        pid, host = held.get("pid"), held.get("host")
        if not isinstance(pid, int) or isinstance(pid, bool):
            raise RunLockedError(f"{self.path} holds no process id; if no kanlab run is writing into "
                                 f"{self.directory}, delete it and start again")
        if host != socket.gethostname() or _alive(pid, held.get("start")):
            raise RunLockedError(f"another kanlab run (pid {pid} on {host}, since {held.get('since')}) is writing into "
                                 f"{self.directory}; wait for it to finish or choose another output directory (if that "
                                 f"run no longer exists, delete {self.path})")
        warnings.warn(f"{self.path}: taking over the lock of a run that no longer exists (pid {pid}, since "
                      f"{held.get('since')}); its finished jobs are kept", JobsFileWarning, stacklevel=4)

    def release(self) -> None:
        """Remove the lock if this process still holds it."""
        if self._mine is None:
            return
        with _DirectoryGuard(self.directory):
            try:
                held = self._read()
            except RunLockedError:
                held = None
            if held is not None and held.get("pid") == self._mine["pid"] and held.get("start") == self._mine["start"]:
                os.unlink(self.path)
        self._mine = None


class _DirectoryGuard:
    """An exclusive flock on the directory itself while a lock is checked and written."""

    def __init__(self, directory: str):
        self.directory = directory
        self.fd = None

    def __enter__(self):
        os.makedirs(self.directory, exist_ok=True)
        self.fd = os.open(self.directory, os.O_RDONLY)
        _flock(self.fd)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # releases the flock
