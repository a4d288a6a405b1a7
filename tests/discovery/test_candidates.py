"""The candidate record, its rejection when complex or not finite, the stage log, the Pareto front
(kanlab.discovery.candidates)."""
import logging
import math
import warnings

import numpy as np
import pytest
import sympy

from kanlab.discovery.candidates import Candidate, LogEntry, StageLog, make_candidate, pareto_front
from kanlab.discovery.data import prepare

a, b = sympy.symbols("a b")


@pytest.fixture
def problem():
    X = np.random.default_rng(0).uniform([-1, 0.5], [1, 2], size=(100, 2))
    return prepare(X, 2 * X[:, 0] + X[:, 1] ** 2, ["a", "b"], test_size=0.2, seed=0)


def test_a_candidate_carries_its_errors_on_each_split(problem):
    log = StageLog()
    c = make_candidate(2 * a + b ** 2 + sympy.Float(0.01), problem, "identity", "identity", log, model="m",
                       numeric_rmse=0.5, raw=a)
    assert isinstance(c, Candidate) and not log
    assert c.train_rmse == pytest.approx(0.01) and c.val_rmse == pytest.approx(0.01)
    assert c.test_rmse == c.val_rmse == c.rmse
    assert (c.pipeline, c.transform, c.model, c.numeric_rmse, c.raw, c.complexity) == ("identity", "identity", "m",
                                                                                      0.5, a, 6)


@pytest.mark.parametrize("formula, reason", [
    (sympy.sqrt(sympy.Float(-1.0)) * a + b ** 2, "complex values"),  # 1.0 I a: never its real part b^2
    (2 * a + b ** 2 + sympy.log(a), "non-finite values"),            # log(a) with a < 0 on the data
    (2 * a + b ** 2 + sympy.Function("g")(a), "cannot be evaluated"),  # an unknown function
])
def test_a_formula_not_real_and_finite_on_the_data_is_rejected_and_logged(problem, formula, reason, caplog):
    log = StageLog()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning, no RuntimeWarning on the way
        with caplog.at_level(logging.INFO, logger="kanlab.discover"):
            assert make_candidate(formula, problem, "log", "log", log) is None
    (entry,) = log
    assert (entry.stage, entry.status) == ("log", "rejected") and reason in entry.message
    assert any(reason in r.getMessage() for r in caplog.records)


def test_stage_log_levels_and_nesting(caplog):
    top, nested = StageLog(), StageLog(depth=1)
    with caplog.at_level(logging.DEBUG, logger="kanlab.discover"):
        top.record("identity", "ok", "fine", seconds=1.0)
        top.record("log", "failed", "ValueError: boom")
        nested.record("identity", "ok", "inner")
        nested.record("log", "failed", "inner boom")
    levels = [(r.levelno, r.getMessage().strip()) for r in caplog.records]
    assert levels == [(logging.INFO, "identity: ok, fine (1.0 s)"), (logging.WARNING, "log: failed, ValueError: boom"),
                      (logging.DEBUG, "identity: ok, inner"), (logging.WARNING, "log: failed, inner boom")]
    top.merge(nested, "separable > a - b")
    assert [e.stage for e in top[2:]] == ["separable > a - b > identity", "separable > a - b > log"]
    assert isinstance(top[0], LogEntry) and str(top[0]) == "identity: ok, fine (1.0 s)"


def test_pareto_front_keeps_each_point_more_accurate_than_every_simpler_one():
    entries = [(a + b + sympy.sin(a), 1e-3, "identity"), (a, 0.5, "log"), (a + b, 0.1, "separable"),
               (a * b + b, 0.2, "identity"), (b, math.inf, "log")]
    front = pareto_front(entries)
    assert [(cx, err) for cx, err, _ in front] == [(1, 0.5), (3, 0.1), (5, 1e-3)]
    assert [p.pipeline for p in front] == ["log", "separable", "identity"]
