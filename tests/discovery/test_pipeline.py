"""discover as one pipeline of stages (kanlab.discovery.pipeline): the order and the stop rule, a
failing stage recorded in result.log (never swallowed), rejected candidates, the recursion
with one config object. The pipelines are replaced by fakes here: no training, fast."""
import logging
import warnings

import numpy as np
import pytest
import sympy

import kanlab
from kanlab.discovery import DiscoverError, pipeline
from kanlab.discovery.candidates import make_candidate
from kanlab.discovery.pipelines import PIPELINES

a, b = sympy.symbols("a b")
X = np.random.default_rng(0).uniform([-1, 0.5], [1, 2], size=(100, 2))
Y = 2 * X[:, 0] + X[:, 1] ** 2


def _returns(formula, pipeline_name, calls=None):
    def run(ctx):
        if calls is not None:
            calls.append(pipeline_name)
        return make_candidate(formula, ctx.problem, pipeline_name, "identity", ctx.log)
    return run


def _raises(exc, calls=None, name=None):
    def run(ctx):
        if calls is not None:
            calls.append(name)
        raise exc
    return run


@pytest.fixture
def fakes(monkeypatch):
    """Replace the pipelines by name: fakes(separable=fn, ...)."""
    def set_(**fns):
        for name, fn in fns.items():
            monkeypatch.setitem(PIPELINES, name, fn)
    return set_


def test_pipelines_run_in_order_until_one_is_exact(fakes):
    calls = []
    fakes(separable=_returns(a + b, "separable", calls), identity=_returns(2 * a + b ** 2, "identity", calls),
          log=_returns(2 * a, "log", calls))
    res = kanlab.discover(X, Y, var_names=["a", "b"])
    assert calls == ["separable", "identity"]
    assert res.formula == 2 * a + b ** 2 and res.transform == res.pipeline == "identity" and res.test_rmse == 0
    assert [(e.stage, e.status) for e in res.log] == [("separable", "ok"), ("identity", "ok"), ("log", "skipped")]
    assert [c.pipeline for c in res.candidates] == ["separable", "identity"]
    assert [p.pipeline for p in res.pareto] == ["separable", "identity"]


def test_a_failing_stage_is_recorded_logged_and_the_others_go_on(fakes, caplog):
    fakes(separable=_raises(np.linalg.LinAlgError("singular matrix")), identity=_returns(2 * a + b ** 2, "identity"),
          log=_raises(ZeroDivisionError("division by zero")))
    with caplog.at_level(logging.INFO, logger="kanlab"):
        res = kanlab.discover(X, Y + 1e-3 * np.sin(7 * X[:, 0]), var_names=["a", "b"])
    failed = {e.stage: e.message for e in res.log if e.status == "failed"}
    assert failed == {"separable": "LinAlgError: singular matrix", "log": "ZeroDivisionError: division by zero"}
    assert res.formula == 2 * a + b ** 2
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("separable: failed, LinAlgError" in m for m in warned) and any("log: failed" in m for m in warned)


def test_an_unexpected_error_is_not_swallowed(fakes):
    fakes(separable=_raises(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        kanlab.discover(X, Y, var_names=["a", "b"])


def test_when_every_stage_fails_discover_raises_with_the_log(fakes):
    fakes(separable=_raises(ValueError("no")), identity=_raises(OverflowError("too big")), log=_raises(ValueError("x")))
    with pytest.raises(DiscoverError, match="separable: failed, ValueError: no.*identity: failed") as info:
        kanlab.discover(X, Y, var_names=["a", "b"])
    assert [e.status for e in info.value.log] == ["failed"] * 3


def test_a_complex_candidate_is_rejected_and_identity_runs_instead(fakes):
    calls = []
    complex_formula = sympy.sqrt(sympy.Float(-1.0)) * a + b ** 2
    fakes(log=_returns(complex_formula, "log", calls), identity=_returns(2 * a + b ** 2, "identity", calls))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in particular no ComplexWarning
        res = kanlab.discover(X, Y, var_names=["a", "b"], transforms=("log",))
    assert calls == ["log", "identity"]
    assert [(e.stage, e.status) for e in res.log] == [("log", "rejected"), ("identity", "ok")]
    assert "complex values" in res.log[0].message
    assert [c.pipeline for c in res.candidates] == ["identity"]


def test_the_recursion_passes_the_one_config_object(fakes, monkeypatch):
    """A pipeline that solves other data afresh (as the separable one does after a symmetry) gets
    discover's own config object, one level deeper; its log entries come back prefixed."""
    seen = []
    real = pipeline.discover_with

    def spy(X_, y_, names, cfg, depth=0, deadline=None):
        seen.append((cfg, depth, list(names)))
        return real(X_, y_, names, cfg, depth, deadline)
    monkeypatch.setattr(pipeline, "discover_with", spy)

    def outer(ctx):
        if ctx.depth == 0:
            u = sympy.Symbol("_u2")
            inner = ctx.rediscover(ctx.problem.X[:, :1] * 2, ctx.problem.X[:, 0] * 2, ["_u2"])  # y = u there
            ctx.log.merge(inner.log, "separable > 2*a")
            formula = inner.formula.xreplace({u: 2 * a}) + b ** 2
            return make_candidate(formula, ctx.problem, "separable", "identity", ctx.log)
        return make_candidate(ctx.problem.syms[0], ctx.problem, "separable", "identity", ctx.log)
    fakes(separable=outer)
    res = kanlab.discover(X, Y, var_names=["a", "b"], steps=7, grids=(3,))
    (cfg, depth, _), (cfg2, depth2, names2) = seen
    assert cfg2 is cfg and (depth, depth2) == (0, 1) and names2 == ["_u2"]
    assert cfg.steps == 7 and cfg.grids == (3,)
    assert res.formula == 2 * a + b ** 2
    assert [(e.stage, e.status) for e in res.log][:4] == [
        ("separable > 2*a > separable", "ok"), ("separable > 2*a > identity", "skipped"),
        ("separable > 2*a > log", "skipped"), ("separable", "ok")]


def test_the_far_above_warning_is_recorded_and_warned(fakes, monkeypatch):
    def rough(ctx):
        c = make_candidate(2 * a + b, ctx.problem, "identity", "identity", ctx.log)
        c.numeric_rmse = 1e-6  # a numeric model far more accurate than the formula
        return c
    fakes(separable=_returns(b, "separable"), identity=rough)
    with pytest.warns(UserWarning, match="far above the numeric KAN"):
        res = kanlab.discover(X, Y, var_names=["a", "b"], transforms=("identity",))
    assert res.log[-1].stage == "result" and res.log[-1].status == "warning"


def test_verbose_shows_the_details_on_stderr_for_the_call(fakes, capsys):
    fakes(separable=_returns(2 * a + b ** 2, "separable"))
    kanlab.discover(X, Y, var_names=["a", "b"], verbose=True)
    err = capsys.readouterr().err
    assert "kanlab: separable: ok" in err and "[separable] 2*a + b**2" in err
    assert not logging.getLogger("kanlab").handlers  # removed after the call
