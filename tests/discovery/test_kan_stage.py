"""The KAN stage of discover: the prune search and the raw formula (kanlab.discovery.kan_stage)."""
import numpy as np
import pytest
import sympy
import torch

from kanlab.discovery import kan_stage
from kanlab.discovery.config import DiscoverConfig
from kanlab.discovery.data import prepare, standardised
from kanlab.model import KAN
from kanlab.symbolic.expression import rmse
from kanlab.training import loop as train


@pytest.fixture(scope="module")
def sparse_model():
    """A [2, 5, 1] KAN trained with the sparsity penalty on y = sin(pi a) (b plays no part)."""
    X = np.random.default_rng(0).uniform(-1, 1, size=(200, 2))
    p = prepare(X, np.sin(np.pi * X[:, 0]), ["a", "b"], 0.2, 0)
    ds = standardised(p.ds)[0]
    model = KAN([2, 5, 1], grid=5, k=3, seed=0, dtype=torch.float64)
    train.fit(model, ds, steps=30, lamb=1e-2, lamb_entropy=10.0, progress=False)
    return model, ds


def _test_rmse(model, ds):
    with torch.no_grad():
        return float(torch.sqrt(((model(ds["test_input"]) - ds["test_label"]) ** 2).mean()))


def test_prune_search_keeps_the_input_that_matters_and_one_hidden_node(sparse_model):
    model, ds = sparse_model
    small = kan_stage.prune_search(model, ds, steps=10)
    assert small is not model and model.width == [2, 5, 1]  # a new model; the original untouched
    assert small.width == [1, 1, 1] and list(small.input_ids) == [0]
    assert _test_rmse(small, ds) < 1e-2  # standardised units: within the 1%-of-std(y) bound


def test_prune_search_returns_the_model_when_no_threshold_prunes(sparse_model, monkeypatch):
    model, ds = sparse_model

    def nothing_left(*args, **kwargs):
        raise ValueError("no edge left")
    monkeypatch.setattr(kan_stage.prune, "prune", nothing_left)
    assert kan_stage.prune_search(model, ds, steps=10) is model


def test_node_removal_stops_when_every_removal_costs_too_much(sparse_model):
    model, ds = sparse_model
    assert kan_stage._drop_nodes(model, ds, steps=10, tol=-1.0) is model
    fewer = kan_stage._drop_nodes(model, ds, steps=10, tol=1e-2)
    assert fewer.width[1] < model.width[1]


def test_kan_formula_is_mu_plus_sigma_times_the_networks_formula():
    X = np.random.default_rng(1).uniform(-1, 1, size=(200, 2))
    y = 5 + 3 * X[:, 0] ** 2
    p = prepare(X, y, ["a", "b"], 0.2, 0)
    cfg = DiscoverConfig(grids=(5,), sparse_steps=30, steps=20, model_cls=KAN)
    fit = kan_stage.kan_formula(p.ds, p.names, cfg)
    assert fit.mu == pytest.approx(np.mean(p.ytr)) and fit.sigma == pytest.approx(np.std(p.ytr, ddof=1))
    assert isinstance(fit.model, KAN) and fit.raw.atoms(sympy.Float)
    assert rmse(fit.raw, p.syms, p.Xte, p.yte) < 1e-2 * np.std(y)
    assert fit.numeric_rmse < 1e-2 * np.std(y)
