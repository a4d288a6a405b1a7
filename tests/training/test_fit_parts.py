"""The parts of the fit loop: config, history, grid schedule, evaluator, parameter guard, and
the flat-parameter contract between the L-BFGS optimiser and the evaluators."""
import copy
import math
import pickle

import numpy as np
import pytest
import torch

from kanlab import KAN, create_dataset
from kanlab.training import losses
from kanlab.training.config import FitConfig
from kanlab.training.evaluator import build_evaluator
from kanlab.training.history import FitHistory
from kanlab.training.lbfgs import LBFGS
from kanlab.training.loop import ParameterGuard
from kanlab.training.regularization import Penalty, penalty_value


def f2(x):
    return torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)


@pytest.fixture(scope="module")
def ds():
    return create_dataset(f2, n_var=2, train_num=200, test_num=50, seed=0, dtype=torch.float64)


# ------------------------------------------------------------------ config
def test_config_validates_every_option_by_name():
    with pytest.raises(TypeError, match="stepz"):
        FitConfig(stepz=3)
    for bad, match in [({"steps": 2.5}, "steps"), ({"log": 0}, "log"), ({"test_every": 0}, "test_every"),
                       ({"lamb_entropy": -1.0}, "lamb_entropy"), ({"threads": 0}, "threads"),
                       ({"max_iter": 0}, "max_iter"), ({"seed": "a"}, "seed"), ({"backend": 3}, "backend")]:
        with pytest.raises(ValueError, match=match):
            FitConfig(**bad)
    cfg = FitConfig(steps=7)
    assert cfg.replace(lr=0.5).lr == 0.5 and cfg.replace(lr=0.5).steps == 7
    with pytest.raises(ValueError, match="lr"):
        cfg.replace(lr=-1.0)


def test_fit_accepts_a_config_and_keyword_overrides(ds):
    m = KAN([2, 3, 1], grid=3, seed=0, dtype=torch.float64)
    h = m.fit(ds, config=FitConfig(steps=2, progress=False), steps=3)
    assert len(h["train_loss"]) == 3


def test_grid_schedule_matches_the_paper_recipe():
    cfg = FitConfig(steps=100, grid_update_num=10, stop_grid_update_step=50)
    assert [s for s in range(100) if cfg.grid_update_due(s)] == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]
    late = FitConfig(start_grid_update_step=12, stop_grid_update_step=30, grid_update_num=3)
    assert [s for s in range(100) if late.grid_update_due(s)] == [20]
    assert not any(FitConfig(update_grid=False).grid_update_due(s) for s in range(100))


# ------------------------------------------------------------------ history
def test_history_attribute_access_hasattr_deepcopy_and_pickle(ds):
    m = KAN([2, 3, 1], grid=3, seed=0, dtype=torch.float64)
    h = m.fit(ds, steps=2, progress=False)
    assert isinstance(h, FitHistory) and h.train_loss == h["train_loss"]
    assert not hasattr(h, "no_such_entry") and hasattr(h, "test_loss")
    with pytest.raises(AttributeError, match="no_such_entry"):
        h.no_such_entry
    for clone in (copy.deepcopy(h), pickle.loads(pickle.dumps(h))):
        assert type(clone) is FitHistory and clone == h and clone.backend == h["backend"]


def test_fitted_estimators_deepcopy_and_pickle():
    pytest.importorskip("sklearn")
    from kanlab.sklearn import KANClassifier, KANRegressor

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(60, 2))
    for est, y in [(KANRegressor(steps=3), X[:, 0] ** 2 + X[:, 1]), (KANClassifier(steps=3), (X[:, 0] > 0).astype(int))]:
        est.fit(X, y)
        for clone in (copy.deepcopy(est), pickle.loads(pickle.dumps(est))):
            np.testing.assert_array_equal(clone.predict(X), est.predict(X))


# ------------------------------------------------------------------ evaluator
def test_autograd_evaluator_with_cached_features_equals_plain_autograd(ds):
    m = KAN([2, 3, 1], grid=4, seed=0, dtype=torch.float64)
    m.fix_symbolic(0, 1, 2, "sin", x=ds["train_input"])  # a symbolic edge in the first layer
    x, y = ds["train_input"], ds["train_label"]
    params = [p for p in m.parameters() if p.requires_grad]
    ev = build_evaluator(m, x, y, params, FitConfig(), losses.mse, custom_loss=False, penalty=None)
    assert not ev.backend.name.startswith("fused")  # a symbolic edge needs autograd
    assert ev.features is not None  # the first layer's features are cached for the batch
    loss = ev()
    grads = [None if p.grad is None else p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    ref = losses.mse(m(x), y)
    ref.backward()
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=0)
    assert sum(g is not None for g in grads) >= 4
    for g, p in zip(grads, params):
        assert (g is None) == (p.grad is None)
        if g is not None:
            torch.testing.assert_close(g, p.grad, rtol=1e-10, atol=1e-14)


def test_evaluator_reports_loss_and_penalty_separately(ds):
    m = KAN([2, 3, 1], grid=4, seed=0, dtype=torch.float64)
    x, y = ds["train_input"], ds["train_label"]
    params = [p for p in m.parameters() if p.requires_grad]
    penalty = Penalty(m, max_rows=500)
    ev = build_evaluator(m, x, y, params, FitConfig(lamb=0.1), losses.mse, custom_loss=False, penalty=penalty)
    total = ev()
    with torch.no_grad():
        torch.testing.assert_close(ev.loss, losses.mse(m(x), y))
        torch.testing.assert_close(ev.reg, penalty_value(m, x))
    torch.testing.assert_close(total, ev.loss + 0.1 * ev.reg)


def test_flat_parameter_contract_lbfgs_then_evaluator(ds):
    """LBFGS rebinds the parameters to one flat buffer at construction; a fused evaluator bound
    before that notices the new storage and rebinds, so its gradients land where LBFGS reads."""
    m = KAN([2, 3, 1], grid=4, seed=0, dtype=torch.float64)
    x, y = ds["train_input"], ds["train_label"]
    params = [p for p in m.parameters() if p.requires_grad]
    ev = build_evaluator(m, x, y, params, FitConfig(), losses.mse, custom_loss=False, penalty=None)
    assert ev.backend.name.startswith("fused")
    before = [p.data_ptr() for p in params]
    opt = LBFGS(params)
    flat = opt._flat
    assert flat is not None and [p.data_ptr() for p in params] != before
    offsets = np.cumsum([0] + [p.numel() for p in params])[:-1]
    for p, o in zip(params, offsets):
        if p.numel():  # (empty tensors have no storage)
            assert p.data_ptr() == flat.data_ptr() + int(o) * flat.element_size()
    opt._set_params(opt._flat_params() * 1.01)  # a trial point, written into the flat buffer
    loss = ev()
    got = opt._flat_grad().clone()
    for p in params:
        p.grad = None
    ref = losses.mse(m(x), y)
    ref.backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close(got, opt._flat_grad(), rtol=1e-9, atol=1e-13)
    opt.release()
    end = flat.data_ptr() + flat.numel() * flat.element_size()
    assert not any(flat.data_ptr() <= p.data_ptr() < end for p in params if p.numel())  # each owns its storage again


# ------------------------------------------------------------------ guard
def test_parameter_guard_restores_the_last_good_state():
    m = KAN([2, 3, 1], grid=3, seed=0, dtype=torch.float64)
    params = [p for p in m.parameters() if p.requires_grad]
    guard = ParameterGuard(m, params)
    good = copy.deepcopy(m.state_dict())
    with torch.no_grad():
        m.layers[0].coef.fill_(float("nan"))
    assert guard.check(torch.tensor(1.0)) is False
    for k, v in m.state_dict().items():
        assert torch.equal(v, good[k]), k
    with torch.no_grad():
        m.layers[0].coef.add_(1.0)
    assert guard.check(torch.tensor(float("inf"))) is False
    assert torch.equal(m.layers[0].coef, good["layers.0.coef"])
    with torch.no_grad():
        m.layers[0].coef.add_(1.0)
    assert guard.check(torch.tensor(1.0)) is True  # accepted: becomes the new good state
    with torch.no_grad():
        m.layers[0].coef.fill_(float("nan"))
    guard.check(torch.tensor(1.0))
    assert torch.equal(m.layers[0].coef, good["layers.0.coef"] + 1.0)


def test_lbfgs_keeps_working_when_a_parameter_is_rebound_between_steps():
    """Contract (2) of LBFGS: a rebound .data is noticed at the next step, which then writes
    trial points parameter by parameter; the fit still converges."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 1).double()
    x = torch.randn(50, 3, dtype=torch.float64)
    y = x @ torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64) + 0.5

    def closure():
        for p in lin.parameters():
            p.grad = None
        loss = ((lin(x) - y) ** 2).mean()
        loss.backward()
        return loss

    opt = LBFGS(lin.parameters())
    opt.step(closure)
    assert opt._is_bound
    lin.weight.data = lin.weight.data.clone()  # someone rebinds a parameter
    for _ in range(3):
        opt.step(closure)
    assert not opt._is_bound
    torch.testing.assert_close(lin.weight.detach(), torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64), atol=1e-8, rtol=0)
    torch.testing.assert_close(lin.bias.detach(), torch.tensor([0.5], dtype=torch.float64), atol=1e-8, rtol=0)
