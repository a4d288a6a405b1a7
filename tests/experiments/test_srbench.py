"""kanlab reproduce srbench: jobs, resume, timeouts, recorded failures, the report, the CLI options.

Fast: a fake database and fake discover / judge (monkeypatched; the job processes are forked,
so they inherit the fakes), no training. A fake law's first variable name says how the fake
discover behaves: "solve..." (a symbolic solution), "acc..." (accurate only), "bad..." (neither),
"sleep..." (never returns in time), "raise..." (discover fails).
"""
import json
import multiprocessing as mp
import os
import time
from types import SimpleNamespace

import numpy as np
import pytest
import sympy

from kanlab.cli import main
from kanlab.experiments import get_experiment, run_experiment, srbench, srbench_report
from kanlab.experiments.runner import Experiment, JobLog
from kanlab.validate import KanlabError


def _law(name, var, in_srbench=True, bonus=False):
    variables = [SimpleNamespace(name=var, low=1.0, high=5.0, units=None), SimpleNamespace(name="z", low=1.0, high=5.0, units=None)]
    sym = sympy.Symbol(var)
    return SimpleNamespace(name=name, formula=f"2*{var}", variables=variables, bonus=bonus, in_srbench=in_srbench,
                           sympy_expr=lambda: (2 * sym, [sym, sympy.Symbol("z")]))


LAWS = {"I.12.1": _law("I.12.1", "solve_a"), "I.14.4": _law("I.14.4", "acc_b"), "I.25.13": _law("I.25.13", "bad_c"),
        "II.1.1": _law("II.1.1", "solve_d", in_srbench=False), "test_1": _law("test_1", "solve_e", bonus=True),
        "slow.1": _law("slow.1", "sleep_f"), "err.1": _law("err.1", "raise_g")}


def fake_data(law, n, noise, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, size=(n, 2))
    return {"X_train": X[: 3 * n // 4], "y_train": 2 * X[: 3 * n // 4, 0], "X_test": X[3 * n // 4:], "y_test": 2 * X[3 * n // 4:, 0]}


def fake_discover(X, y, var_names, seed, **settings):
    name = var_names[0]
    if name.startswith("sleep"):
        time.sleep(60)
    if name.startswith("raise"):
        raise RuntimeError("boom in discover")
    marker = os.environ.get("SRBENCH_TEST_CALLS")
    if marker:
        with open(marker, "a") as fh:
            fh.write(name + "\n")
    return SimpleNamespace(formula=2 * sympy.Symbol(name), pareto=[1, 2, 3])


def fake_judge(formula, truth, symbols, X_test, y_test):
    text = str(formula)
    solved = "solve" in text
    return SimpleNamespace(r2=1.0 if solved or "acc" in text else 0.2, symbolic_solution=solved,
                           accuracy_solution=solved or "acc" in text, rounded=text, reason="fake")


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setattr(srbench, "laws", lambda: LAWS)
    monkeypatch.setattr(srbench, "make_data", fake_data)
    monkeypatch.setattr(srbench, "discover", fake_discover)
    monkeypatch.setattr(srbench, "judge", fake_judge)
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("SRBENCH_TEST_CALLS", str(calls))
    return calls


def _lines(path):
    with open(path) as fh:
        return [json.loads(line) for line in fh]


def test_job_list_and_ids(fake):
    jobs = srbench.jobs(False, {"noise": None, "seeds": 2, "only": None})
    assert len(jobs) == len(LAWS) * 4 * 2
    ids = [j["id"] for j in jobs]
    assert len(set(ids)) == len(ids)
    assert "I.12.1/noise0.01/seed1" in ids and "I.12.1/noise0/seed0" in ids and "I.12.1/noise0.001/seed0" in ids
    assert jobs[0]["n"] == 10_000 and jobs[0]["discover"] == {}
    quick = srbench.jobs(True, {"noise": None, "seeds": 1, "only": None})
    assert [j["id"] for j in quick] == [f"quick/{n}/noise{v}/seed0" for n in ("I.12.1", "I.14.4", "I.25.13") for v in ("0", "0.01")]
    assert quick[0]["n"] == 1000 and quick[0]["discover"]["steps"] < 50
    only = srbench.jobs(False, {"noise": (0.1,), "seeds": 1, "only": ("I.14.4",)})
    assert [j["id"] for j in only] == ["I.14.4/noise0.1/seed0"]


@pytest.mark.parametrize("options, words", [({"only": ("I.99",)}, "unknown equation"), ({"noise": (-1.0,)}, "--noise"),
                                            ({"seeds": 0}, "--seeds")])
def test_bad_options_are_clear_errors(fake, options, words):
    with pytest.raises(KanlabError, match=words):
        srbench.jobs(False, {"noise": None, "seeds": 1, "only": None, **options})


def test_run_resume_and_recorded_failures(fake, tmp_path, capsys):
    out = tmp_path / "sr"
    argv = ["reproduce", "srbench", "--out", str(out), "--noise", "0,0.01", "--only", "I.12.1,I.14.4,err.1",
            "--job-timeout", "30"]
    assert main(argv) == 0
    recs = {r["id"]: r for r in _lines(out / "jobs.jsonl")}
    assert len(recs) == 6
    ok = recs["I.12.1/noise0.01/seed0"]
    assert ok["status"] == "ok" and ok["symbolic_solution"] and ok["accuracy_solution"] and ok["pareto_size"] == 3
    assert ok["formula"] == "2*solve_a" and ok["n_vars"] == 2 and ok["in_srbench"] and not ok["bonus"]
    assert recs["I.14.4/noise0/seed0"]["accuracy_solution"] and not recs["I.14.4/noise0/seed0"]["symbolic_solution"]
    err = recs["err.1/noise0/seed0"]
    assert err["status"] == "error" and err["error"] == "RuntimeError: boom in discover" and not err["symbolic_solution"]
    assert "ERROR" in capsys.readouterr().out
    n_calls = len(fake.read_text().splitlines())
    assert main(argv) == 0  # resume: everything done, discover not called again
    assert "6 already done" in capsys.readouterr().out
    assert len(fake.read_text().splitlines()) == n_calls and len(_lines(out / "jobs.jsonl")) == 6


def test_timeout_kills_the_job_and_records_it(fake, tmp_path):
    out = tmp_path / "sr"
    res = run_experiment(get_experiment("srbench"), str(out), options={"noise": (0.0,), "only": ("slow.1", "I.12.1")},
                         job_timeout=1.0)
    recs = {r["id"]: r for r in _lines(out / "jobs.jsonl")}
    slow = recs["slow.1/noise0/seed0"]
    assert slow["status"] == "timeout" and slow["law"] == "slow.1" and "job timeout" in slow["error"]
    assert recs["I.12.1/noise0/seed0"]["status"] == "ok" and not res["crashed"]
    rows = list(open(out / "table.csv"))
    assert any(r.startswith("slow.1,0.0,0,timeout") for r in rows)


def test_crashed_job_is_not_recorded_and_rerun_retries(fake, tmp_path, monkeypatch, capsys):
    def broken(law, n, noise, seed):
        raise KeyError("no such column")

    monkeypatch.setattr(srbench, "make_data", broken)
    out = tmp_path / "sr"
    assert main(["reproduce", "srbench", "--out", str(out), "--noise", "0", "--only", "I.12.1"]) == 1
    assert "CRASHED" in capsys.readouterr().out
    assert not (out / "jobs.jsonl").exists() or not _lines(out / "jobs.jsonl")
    monkeypatch.setattr(srbench, "make_data", fake_data)
    assert main(["reproduce", "srbench", "--out", str(out), "--noise", "0", "--only", "I.12.1"]) == 0
    assert [r["status"] for r in _lines(out / "jobs.jsonl")] == ["ok"]


def test_report_rates_and_not_run(tmp_path):
    laws = {k: LAWS[k] for k in ("I.12.1", "I.14.4", "I.25.13", "II.1.1")}  # 3 in the SRBench subset
    res = [dict(law="I.12.1", noise=0.0, seed=0, status="ok", formula="x", r2=1.0, symbolic_solution=True,
                accuracy_solution=True, seconds=2.0),
           dict(law="I.14.4", noise=0.0, seed=0, status="ok", formula="y", r2=0.9999, symbolic_solution=False,
                accuracy_solution=True, seconds=4.0),
           dict(law="II.1.1", noise=0.0, seed=0, status="ok", formula="z", r2=1.0, symbolic_solution=True,
                accuracy_solution=True, seconds=9.0),
           dict(law="I.12.1", noise=0.01, seed=0, status="timeout", error="killed", seconds=600.0)]
    summary = srbench_report.write_report(res, str(tmp_path), False, laws, noise=(0.0, 0.01), seeds=1,
                                          settings={"n": 10_000, "discover": {}})
    s0, s1 = summary
    assert s0["symbolic % (all)"] == pytest.approx(50.0) and s0["accuracy % (all)"] == pytest.approx(75.0)
    assert s0["symbolic % (3 SRBench)"] == pytest.approx(100 / 3) and s0["equations run"] == "3/4"
    assert s0["median s"] == 4.0 and s0["max s"] == 9.0 and s0["goal % (all)"] == 90.0
    assert s1["symbolic % (all)"] == 0.0 and s1["timeouts"] == 1 and s1["runs"] == "1/4"
    md = (tmp_path / "table.md").read_text()
    assert md.split("## Per equation")[1].count("| not run |") == 4
    assert "AI Feynman (SRBench 2021, 116 eqs)" in md and "PhySO" in md and "**50.0%** (3/4 run)" in md
    assert "4 of 8 runs done (50.0%)" in md
    assert len((tmp_path / "table.csv").read_text().splitlines()) == 1 + 8
    assert (tmp_path / "solution_rate.png").stat().st_size > 10_000


def test_cli_option_errors(fake, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "srbench", "--noise", "zero", "--out", str(tmp_path)])
    assert e.value.code == 2 and "comma-separated numbers" in capsys.readouterr().err
    assert main(["reproduce", "srbench", "--only", "I.12.1,nope", "--out", str(tmp_path)]) == 2
    assert "unknown equation name(s) nope" in capsys.readouterr().err
    assert main(["reproduce", "toy", "--noise", "0.1", "--out", str(tmp_path)]) == 2
    assert "--noise: not an option of experiment 'toy'" in capsys.readouterr().err
    assert main(["reproduce", "toy", "--job-timeout", "5", "--out", str(tmp_path)]) == 2


def _toy_jobs(quick):
    return [{"id": f"j{i}", "i": i} for i in range(3)]


def _toy_run(job):
    return {"square": job["i"] ** 2}


def _toy_report(results, out, quick):
    with open(os.path.join(out, "table.md"), "w") as fh:
        fh.write(str(sorted(r["square"] for r in results)))


def test_experiments_without_options_keep_their_signature(tmp_path):
    exp = Experiment("toyish", "a job list without options", _toy_jobs, _toy_run, _toy_report)
    run_experiment(exp, str(tmp_path))
    assert (tmp_path / "table.md").read_text() == "[0, 1, 4]"


def _append_many(path, start):
    log = JobLog(path)
    for i in range(start, start + 200):
        log.append({"id": f"job{i}", "payload": "x" * (i % 97) * 50})


def test_job_log_concurrent_appends_and_cut_lines(tmp_path):
    path = str(tmp_path / "jobs.jsonl")
    with open(path, "w") as fh:
        fh.write('{"id": "a", "v": 1}\n{"id": "cut", "v"')  # a line cut by an interruption
    procs = [mp.get_context("fork").Process(target=_append_many, args=(path, s)) for s in (0, 1000)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    done = JobLog(path).refresh()
    assert "cut" not in done and "a" in done and len(done) == 401


def test_real_database_jobs_and_judging_wiring(monkeypatch):
    """The real database, data and judge with a discover that returns the right formula: the job
    list has 480 jobs and the variable symbols of discover's formula meet the truth's."""
    database = srbench.laws()
    assert len(database) == 120 and sum(law.in_srbench for law in database.values()) == 116
    assert len(srbench.jobs(False, {"noise": None, "seeds": 1, "only": None})) == 480
    monkeypatch.setattr(srbench, "discover", lambda X, y, names, seed, **kw: SimpleNamespace(
        formula=sympy.Symbol(names[0]) * sympy.Symbol(names[1]) * 1.0000001, pareto=[]))
    job = srbench.jobs(True, {"noise": (0.01,), "seeds": 1, "only": ("I.12.1",)})[0]
    rec = srbench.run_job(dict(job, n=200))
    assert rec["status"] == "ok" and rec["symbolic_solution"] and rec["accuracy_solution"] and rec["n_vars"] == 2
    json.dumps(rec)


@pytest.mark.slow
def test_quick_run_of_one_easy_equation(tmp_path):
    out = tmp_path / "srq"
    assert main(["reproduce", "srbench", "--quick", "--only", "I.12.1", "--noise", "0", "--out", str(out)]) == 0
    (rec,) = _lines(out / "jobs.jsonl")
    assert rec["id"] == "quick/I.12.1/noise0/seed0" and rec["status"] == "ok"
    for name in ("table.md", "table.csv", "solution_rate.png", "command.txt"):
        assert (out / name).exists(), name
