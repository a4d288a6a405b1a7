"""Crash safety of resumable runs (issue 20, item 3): jobs files and the run lock.

The kill test starts a small resumable run (a fake, fast job function) in a child process,
SIGKILLs it at random moments, cuts the jobs file inside its last record (what a kill in the
middle of a write or a power loss leaves), resumes, and checks that the final table equals an
uninterrupted run's. The child is this file run as a script.
"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest

from kanlab.experiments.jobs_file import JobLog, JobsFileWarning, RunLock, RunLockedError, _start_time
from kanlab.experiments.runner import Experiment, run_experiment

N_JOBS = 40


def _job_list(quick):
    return [{"id": f"job{i:03d}", "i": i} for i in range(N_JOBS)]


def _run_job(job):
    time.sleep(0.06)  # 40 jobs: 2.4 s, longer than the three kill windows together
    i = job["i"]
    return {"square": i * i, "text": "é\n\"" * (i % 5) + "x" * (i * 37 % 300)}


def _report(results, out, quick):
    rows = sorted((r["id"], r["square"], r["text"]) for r in results)
    with open(os.path.join(out, "table.md"), "w") as fh:
        json.dump(rows, fh)


def _experiment(mode):
    return Experiment("toyjobs", "a fake resumable run", _job_list, _run_job, _report,
                      job_timeout=60.0 if mode == "capped" else None)


def _start(out, mode):
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", PYTHONWARNINGS="always")
    return subprocess.Popen([sys.executable, __file__, str(out), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def _cut_last_record(path, rng):
    """Truncate the file inside its last line: a record cut mid-write."""
    data = open(path, "rb").read()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    if len(data) - start > 2:
        with open(path, "r+b") as fh:
            fh.truncate(start + rng.randrange(1, len(data) - start - 1))
        return True
    return False


@pytest.mark.parametrize("mode", ["plain", "capped"])
def test_sigkill_at_random_points_then_resume_gives_the_uninterrupted_table(tmp_path, mode):
    ref = tmp_path / "ref"
    run_experiment(_experiment(mode), str(ref))
    out = tmp_path / "run"
    rng = random.Random(20 + len(mode))
    warned = []
    for attempt in range(3 if mode == "plain" else 2):
        child = _start(out, mode)
        assert child.stdout.readline().startswith("kanlab reproduce toyjobs")  # running: jobs begin now
        time.sleep(rng.uniform(0.05, 0.5))
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=60)
        assert child.returncode == -signal.SIGKILL
        warned.append(err)
        if (out / "jobs.jsonl").exists() and _cut_last_record(out / "jobs.jsonl", rng):
            warned.append("cut")
    assert (out / "run.lock").exists()  # left behind by the killed run
    child = _start(out, mode)
    _, err = child.communicate(timeout=300)
    assert child.returncode == 0, err[-3000:]
    assert "taking over the lock of a run that no longer exists" in err
    if "cut" in warned:
        assert "jobs.jsonl: line" in err or any("jobs.jsonl: line" in e for e in warned)
    assert (out / "table.md").read_text() == (ref / "table.md").read_text()
    assert not (out / "run.lock").exists()
    with pytest.warns(JobsFileWarning) if "cut" in warned else _nothing():
        done = JobLog(str(out / "jobs.jsonl")).refresh()
    assert sorted(done) == [j["id"] for j in _job_list(False)]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_cut_lines_are_skipped_with_a_warning_naming_file_and_line(tmp_path, monkeypatch):
    path = tmp_path / "jobs.jsonl"
    path.write_bytes(b'{"id": "a", "v": 1}\n{"id": "cut", "v"\n{"id": "b", "v": 2}\n{"id": "c", "v"')
    log = JobLog(str(path))
    with pytest.warns(JobsFileWarning) as record:
        done = log.refresh()
    assert sorted(done) == ["a", "b"]
    messages = [str(w.message) for w in record]
    assert any(f"{path}: line 2 is not a complete job record" in m for m in messages)
    assert any(f"{path}: line 4 is incomplete" in m for m in messages)
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    log.append({"id": "c", "v": 3})
    assert synced  # on disk before append returns
    lines = path.read_bytes().split(b"\n")
    assert lines[-2] == b'{"id": "c", "v": 3}' and lines[-3] == b'{"id": "c", "v"'  # a fresh line, not glued
    assert sorted(JobLog(str(path)).refresh()) == ["a", "b", "c"]


def test_a_second_run_into_the_same_directory_is_refused(tmp_path):
    with RunLock(str(tmp_path)):
        with pytest.raises(RunLockedError, match=r"another kanlab run \(pid \d+ .*\) is writing into"):
            run_experiment(_experiment("plain"), str(tmp_path))
        assert not (tmp_path / "jobs.jsonl").exists()
    assert not (tmp_path / "run.lock").exists()
    run_experiment(_experiment("plain"), str(tmp_path))  # free again


def _write_lock(folder, pid, start):
    (folder / "run.lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "start": start,
                                                 "since": "2024-01-01 00:00:00"}))


def test_a_live_process_holds_the_lock_and_a_dead_or_reused_pid_does_not(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_lock(tmp_path, sleeper.pid, _start_time(sleeper.pid))
        with pytest.raises(RunLockedError, match=f"pid {sleeper.pid}"):
            RunLock(str(tmp_path)).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
    _write_lock(tmp_path, sleeper.pid, None)  # that process is gone now
    with pytest.warns(JobsFileWarning, match="taking over"):
        with RunLock(str(tmp_path)):
            assert json.loads((tmp_path / "run.lock").read_text())["pid"] == os.getpid()
    if _start_time(os.getpid()) is not None:  # Linux: a live pid that started later is another process
        _write_lock(tmp_path, os.getpid(), _start_time(os.getpid()) - 1)
        with pytest.warns(JobsFileWarning, match="taking over"):
            RunLock(str(tmp_path)).acquire()
    (tmp_path / "run.lock").write_text("{not json")
    with pytest.raises(RunLockedError, match="cannot be read"):
        RunLock(str(tmp_path)).acquire()


if __name__ == "__main__":  # the child of the kill test: python test_jobs_file.py OUT MODE
    run_experiment(_experiment(sys.argv[2]), sys.argv[1])
