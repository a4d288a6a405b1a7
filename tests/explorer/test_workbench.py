"""The explorer's Workbench without a browser: undo/redo, failures leave the state, checks."""
import math

import pytest
import torch

from kanlab.explorer import MAX_RETRAIN_STEPS, Workbench, WorkbenchBusy, WorkbenchInputError


@pytest.fixture
def wb(trained, rapidity_data):
    X, y, Xt, yt = rapidity_data
    return Workbench(trained, X, y, Xt, yt, var_names=["u", "v"])


def _coef(model):
    return [p.detach().clone() for p in model.parameters()]


def test_the_callers_model_is_never_changed(trained, wb):
    before = _coef(trained)
    wb.fix(0, 0, 0, "x")
    wb.refine(8)
    assert all(torch.equal(a, b) for a, b in zip(before, _coef(trained)))
    assert len(trained.symbolic[0]) == 0


def test_fix_undo_redo_round_trip(wb):
    start = wb.metrics
    assert start["formula"] is None and "numeric" in start["formula_error"]
    wb.fix(0, 0, 0, "x")
    wb.fix(0, 1, 0, "x")
    fixed = wb.metrics
    assert fixed["n_symbolic"] == 2 and fixed["formula"] is not None
    assert "u" in fixed["formula"][0] and "v" in fixed["formula"][0]
    assert math.isclose(fixed["formula_rmse"], fixed["network_rmse"], rel_tol=1e-6)
    wb.undo()
    assert wb.metrics["n_symbolic"] == 1
    wb.undo()
    assert wb.metrics == start and len(wb.model.symbolic[0]) == 0
    with pytest.raises(WorkbenchInputError, match="nothing to undo"):
        wb.undo()
    wb.redo()
    wb.redo()
    assert wb.metrics == fixed and len(wb.model.symbolic[0]) == 2
    with pytest.raises(WorkbenchInputError, match="nothing to redo"):
        wb.redo()
    wb.undo()
    wb.unfix(0, 0, 0)  # a new action after undo drops the redo branch
    h = wb.history()
    assert [s["action"] for s in h["states"]] == ["load", "fix (0,0,0) = x", "unfix (0,0,0)"]
    assert h["can_undo"] and not h["can_redo"]


@pytest.mark.parametrize("call, match", [
    (lambda wb: wb.fix(0, 0, 0, "__import__('os')"), "not in the symbolic library"),
    (lambda wb: wb.fix(0, 0, 0, 3), "must be text"),
    (lambda wb: wb.fix(1, 0, 0, "x"), "l=1 is out of range"),
    (lambda wb: wb.fix(0, 2, 0, "x"), "i=2 is out of range"),
    (lambda wb: wb.fix(0, 0, -1, "x"), "j=-1 is out of range"),
    (lambda wb: wb.fix(True, 0, 0, "x"), "must be an integer"),
    (lambda wb: wb.fix(0, 0, 0, "x", params=[1, 2, 3]), "4 finite numbers"),
    (lambda wb: wb.unfix(0, 0, 0), "is not symbolic"),
    (lambda wb: wb.refine(1), "grid=1 is out of range"),
    (lambda wb: wb.refine(5.0), "must be an integer"),
    (lambda wb: wb.start_retrain(MAX_RETRAIN_STEPS + 1), "out of range"),
    (lambda wb: wb.start_retrain(0), "out of range"),
    (lambda wb: wb.start_retrain(5, lr=-1), "lr must be"),
    (lambda wb: wb.prune_node(1, 0), "no hidden layer"),
    (lambda wb: wb.candidates(0, 0, 0, topk=100), "topk=100 is out of range"),
])
def test_bad_inputs_are_refused_and_change_nothing(wb, call, match):
    before = (wb.history(), _coef(wb.model))
    with pytest.raises(WorkbenchInputError, match=match):
        call(wb)
    assert wb.history() == before[0]
    assert all(torch.equal(a, b) for a, b in zip(before[1], _coef(wb.model)))


def test_an_action_that_fails_midway_leaves_the_state(wb, monkeypatch):
    from kanlab.symbolic import fix_edges

    def broken(network, l, i, j, *args, **kwargs):
        network.layers[l].mask[i, j] = 0.0  # half-done change on the copy, then a failure
        raise RuntimeError("boom")

    monkeypatch.setattr(fix_edges, "fix_symbolic", broken)
    with pytest.raises(RuntimeError, match="boom"):
        wb.fix(0, 0, 0, "x")
    assert wb.history()["position"] == 0 and bool(wb.model.layers[0].mask[0, 0] == 1)


def test_pruned_edge_cannot_be_fixed_until_undone(wb):
    wb.prune_edge(0, 1, 0)
    assert [e["i"] for e in wb.edges()] == [0]
    with pytest.raises(WorkbenchInputError, match="pruned"):
        wb.fix(0, 1, 0, "x")
    wb.undo()
    wb.fix(0, 1, 0, "x")


def test_candidates_and_edge_curve(wb):
    cands = wb.candidates(0, 0, 0, topk=3)
    assert 1 <= len(cands) <= 3 and cands[0]["r2"] > 0.9
    assert set(cands[0]) == {"name", "params", "r2", "complexity", "score"} and len(cands[0]["params"]) == 4
    curve = wb.edge_curve(0, 1, 0, n_points=50)
    assert len(curve["x"]) == len(curve["y"]) == 50 and len(curve["inputs"]) == 160
    assert min(curve["inputs"]) >= curve["x"][0] and max(curve["inputs"]) <= curve["x"][-1]
    assert curve["importance"] > 0 and curve["symbolic"] is None


def test_retrain_commits_and_cancel_keeps_the_state(wb):
    wb.fix(0, 0, 0, "x")
    wb.retrain(10)
    assert wb.history()["states"][-1]["action"] == "retrain 10 steps" and len(wb.job.losses) == 10  # one loss per step: the page draws a curve
    pos = wb.history()["position"]
    job = wb.start_retrain(2000)
    with pytest.raises(WorkbenchBusy):
        wb.undo()
    assert wb.cancel()
    job.wait(60)
    assert job.status == "cancelled" and wb.history()["position"] == pos


def test_auto_symbolic_fixes_every_edge(wb):
    wb.auto_symbolic()
    assert wb.metrics["n_numeric"] == 0 and wb.metrics["formula_r2"] > 0.8


def test_workbench_without_data_refuses_data_actions(trained):
    wb = Workbench(trained)
    assert wb.metrics["network_rmse"] is None
    wb.fix(0, 0, 0, "x", params=[1.0, 0.0, 1.0, 0.0])  # given constants need no data
    with pytest.raises(WorkbenchInputError, match="needs data"):
        wb.candidates(0, 1, 0)
    with pytest.raises(WorkbenchInputError, match="give X with y"):
        Workbench(trained, X=[[0.0, 0.0]])


def test_a_finished_job_stops_its_clock():
    import time as _time

    from kanlab.explorer.jobs import Job

    job = Job("noop", 1, lambda j: None, lambda result: None).start().wait(5)
    assert job.status == "finished"
    first = job.info()["seconds"]
    _time.sleep(0.05)
    assert job.info()["seconds"] == first
