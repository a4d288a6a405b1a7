"""discover's bounds on work: the time budget (pipelines not started once it is spent), max_rows
(a seeded sample, logged), and the Pareto table. The pipelines are fakes: no training, fast."""
import time

import numpy as np
import pytest
import sympy

import kanlab
from kanlab.discovery import DiscoverConfig
from kanlab.discovery.candidates import make_candidate, pareto_front, pareto_table
from kanlab.discovery.data import prepare
from kanlab.discovery.pipelines import PIPELINES
from kanlab.validate import KanlabError

a, b = sympy.symbols("a b")
X = np.random.default_rng(0).uniform([-1, 0.5], [1, 2], size=(100, 2))
Y = 2 * X[:, 0] + X[:, 1] ** 2 + 0.01 * np.random.default_rng(1).standard_normal(100)


def _slow(formula, name, calls, clock):
    """A fake pipeline that moves the fake clock on by 10 s."""
    def run(ctx):
        calls.append(name)
        clock[0] += 10.0
        return make_candidate(formula, ctx.problem, name, "identity", ctx.log)
    return run


@pytest.fixture
def fake_clock(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    return clock


def test_pipelines_after_the_budget_are_skipped(monkeypatch, fake_clock):
    calls = []
    for name, f in (("separable", a + b), ("identity", 2 * a + b ** 2), ("log", 2 * a)):
        monkeypatch.setitem(PIPELINES, name, _slow(f, name, calls, fake_clock))
    res = kanlab.discover(X, Y, var_names=["a", "b"], time_budget=15)
    assert calls == ["separable", "identity"]  # the second starts at 10 s (< 15), the third at 20 s
    assert [(e.stage, e.status) for e in res.log][-1] == ("log", "skipped")
    assert "time budget (15 s) is spent" in res.log[-1].message
    unbounded = []
    for name, f in (("separable", a + b), ("identity", 2 * a + b ** 2), ("log", 2 * a)):
        monkeypatch.setitem(PIPELINES, name, _slow(f, name, unbounded, fake_clock))
    kanlab.discover(X, Y, var_names=["a", "b"])
    assert unbounded == ["separable", "identity", "log"]


def test_budget_never_leaves_the_call_without_a_formula(monkeypatch, fake_clock):
    """A budget spent before any formula: the first pipeline still runs."""
    calls = []
    monkeypatch.setitem(PIPELINES, "separable", _slow(2 * a + b ** 2, "separable", calls, fake_clock))
    res = kanlab.discover(X, Y, var_names=["a", "b"], time_budget=1e-9, transforms=("separable",))
    assert calls == ["separable"] and res.formula == 2 * a + b ** 2


@pytest.mark.parametrize("bad", [0, -1, "10", float("nan")])
def test_budget_is_validated(bad):
    with pytest.raises(KanlabError, match="time_budget"):
        DiscoverConfig(time_budget=bad)


def test_max_rows_samples_and_says_so(monkeypatch):
    seen = []

    def run(ctx):
        seen.append(len(ctx.problem.ytr) + len(ctx.problem.yte))
        return make_candidate(2 * a + b ** 2, ctx.problem, "identity", "identity", ctx.log)
    monkeypatch.setitem(PIPELINES, "identity", run)
    res = kanlab.discover(X, Y, var_names=["a", "b"], transforms=("identity",), max_rows=40)
    assert seen == [40]
    assert res.log[0].stage == "data" and "40 of the 100 rows" in res.log[0].message


def test_max_rows_sample_is_seeded_and_a_subset():
    p1 = prepare(X, Y, ["a", "b"], 0.2, seed=3, max_rows=30)
    p2 = prepare(X, Y, ["a", "b"], 0.2, seed=3, max_rows=30)
    assert np.array_equal(p1.Xtr, p2.Xtr) and p1.subsampled_from == 100
    rows = {tuple(r) for r in X}
    assert all(tuple(r) in rows for r in np.vstack([p1.Xtr, p1.Xte])) and len(p1.ytr) + len(p1.yte) == 30
    assert prepare(X, Y, ["a", "b"], 0.2, seed=3).subsampled_from is None


def test_pareto_table_marks_the_choice_and_caps_rows():
    front = pareto_front([(a, 0.5, "identity"), (a + b, 0.1, "separable"), (a + b ** 2, 0.01, "log")])
    text = pareto_table(front, a + b, max_rows=2)
    lines = text.splitlines()
    assert lines[2].startswith("*") and "separable" in lines[2] and "a + b" in lines[2]
    assert not lines[1].startswith("*") and lines[-1].strip() == "... 1 more"


def test_repeated_and_empty_column_names_stay_distinct_variables():
    p = prepare(np.c_[X, X[:, :1]], Y, ["a", "a", ""], 0.2, seed=0)
    assert len(set(p.syms)) == 3
