"""The tabular defaults of kanlab.sklearn (issue 19): early stopping restores the best state,
clipping to the training range, the automatic choices are reported, interpretation outputs."""
import copy
import pickle

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")
from kanlab.core.network import KANNetwork  # noqa: E402
from kanlab.sklearn import KANClassifier, KANRegressor  # noqa: E402
from kanlab.sklearn.params import default_width  # noqa: E402
from kanlab.training import losses  # noqa: E402
from kanlab.training.early_stopping import fit_validated  # noqa: E402


def _overfitting_case():
    """Few noisy training rows, a big grid and no penalty: the validation loss falls, then rises."""
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.uniform(-1, 1, size=(30, 1)))
    y = torch.sin(3 * x) + 0.5 * torch.as_tensor(rng.standard_normal((30, 1)))
    xv = torch.as_tensor(rng.uniform(-1, 1, size=(200, 1)))
    yv = torch.sin(3 * xv)
    return (x, y), (xv, yv)


def test_early_stopping_restores_the_best_validation_state():
    train, val = _overfitting_case()
    kw = dict(loss_fn=losses.mse, solver="lbfgs", lr=1.0, n_iter_no_change=5, tol=0.0, grid_update_iters=(0,))
    model = KANNetwork([1, 8, 1], grid=20, seed=0, dtype=torch.float64)
    hist = fit_validated(model, train, val, max_iter=60, **kw)
    val_loss = hist["val_loss"]
    best = int(np.argmin(val_loss))
    assert hist["best_iter"] == best and hist["stopped"] == "no improvement"
    assert max(val_loss[best:]) > val_loss[best] * 1.01  # the case really overfits after the best iteration
    # the restored model is the best iteration's: same validation loss, and the same parameters as a
    # second run (same seed) stopped right after that iteration
    with torch.no_grad():
        assert float(losses.mse(model(val[0]), val[1])) == pytest.approx(val_loss[best], rel=1e-10)
    again = KANNetwork([1, 8, 1], grid=20, seed=0, dtype=torch.float64)
    fit_validated(again, train, val, max_iter=best + 1, **kw)
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=name)


def test_regressor_reports_its_choices_and_stops_early():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(400, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.1 * rng.standard_normal(400)
    reg = KANRegressor(n_estimators=1).fit(X, y)
    assert reg.solver_ == "lbfgs" and "L-BFGS" in reg.solver_reason_
    assert reg.hidden_ == (default_width(340, 3),) and reg.n_estimators_ == 1
    assert "validation rows" in reg.validation_
    assert reg.history_[0]["stopped"] == "no improvement" and reg.n_iter_ < 300
    assert reg.score(X, y) > 0.9


def test_adam_above_the_row_threshold(monkeypatch):
    from kanlab.sklearn import params

    monkeypatch.setattr(params, "LBFGS_MAX_ROWS", 100)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    reg = KANRegressor(steps=3).fit(X, X[:, 0])
    assert reg.solver_ == "adam" and "Adam" in reg.solver_reason_ and reg.n_estimators_ == 1


def test_inputs_are_clipped_to_the_training_range():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(200, 2))
    y = X[:, 0] ** 2 + X[:, 1]
    reg = KANRegressor(n_estimators=1).fit(X, y)
    far = np.array([[5.0, 0.5], [-3.0, 0.5]])
    edge = np.array([[X[:, 0].max(), 0.5], [X[:, 0].min(), 0.5]])
    np.testing.assert_allclose(reg.predict(far), reg.predict(edge), rtol=1e-12)
    free = KANRegressor(n_estimators=1, clip_inputs=False).fit(X, y)
    assert not np.allclose(free.predict(far), free.predict(edge))


def test_fitted_estimators_copy_and_pickle_predict_identically():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(120, 3))
    for est, y in [(KANRegressor(n_estimators=2), X[:, 0] ** 2 + X[:, 1]),
                   (KANClassifier(n_estimators=2), (X[:, 0] + X[:, 2] > 0).astype(int))]:
        est.fit(X, y)
        for other in (copy.deepcopy(est), pickle.loads(pickle.dumps(est))):
            np.testing.assert_array_equal(other.predict(X), est.predict(X))
            if hasattr(est, "predict_proba"):
                np.testing.assert_array_equal(other.predict_proba(X), est.predict_proba(X))


def test_importances_and_interactions():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(600, 4))
    y = 2 * X[:, 0] + X[:, 1] * X[:, 2]  # column 3 is noise; only (1, 2) interact
    reg = KANRegressor(n_estimators=1, hidden=(6,)).fit(X, y)
    imp = reg.feature_importances_
    assert imp.shape == (4,) and imp.sum() == pytest.approx(1.0) and np.argmin(imp) == 3 and imp[3] < 0.05
    top = reg.interactions_[0]
    assert (top[0], top[1]) == (1, 2)
    assert top[2] > 5 * reg.interactions_[1][2]


def test_additive_model_has_no_interactions():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 3))
    reg = KANRegressor(n_estimators=1, hidden=(1,), base_fun="identity").fit(X, X[:, 0] + np.sin(2 * X[:, 1]))
    # width 1 with a near-linear output edge: nearly additive
    assert all(s < 0.05 for _, _, s in reg.interactions())


def test_plot_shapes_renders():
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(150, 3))
    X[:, 2] = rng.integers(0, 2, 150)  # a binary column: drawn at its two values
    clf = KANClassifier(n_estimators=1).fit(X, (np.sin(3 * X[:, 0]) + X[:, 2] > 0.5).astype(int))
    fig = clf.plot_shapes(feature_names=["a", "b", "flag"])
    assert len([ax for ax in fig.axes if ax.lines]) == 3
    shapes = clf.shape_functions()
    assert len(shapes[2][0]) == 2  # binary feature: two points
    vals, curve, _ = shapes[0]
    assert curve.shape == (len(vals), 1) and np.ptp(curve) > 0.5  # the sine shows


def test_hidden_auto_tries_candidates():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    reg = KANRegressor(hidden="auto", n_estimators=1, steps=20).fit(X, np.sin(3 * X[:, 0]))
    assert len(reg.auto_trials_) == 6
    best = min(reg.auto_trials_, key=lambda t: t["val_loss"])
    assert (best["hidden"], best["grid"]) == (reg.hidden_, reg.grid_)


def test_symbolic_fit_reports_the_formula_and_its_score():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, size=(200, 1))
    reg = KANRegressor(hidden=(1,), n_estimators=1, symbolic=True).fit(X, 3 * X[:, 0] + 5)
    assert reg.formula_score_ > 0.99
    import sympy

    assert abs(float(reg.formula_.subs(sympy.Symbol("x0"), 2.0)) - 11.0) < 0.1


@pytest.mark.parametrize("kw, match", [({"alpha": -1}, "alpha"), ({"solver": "sgd"}, "solver"),
                                       ({"validation_fraction": 0.9}, "validation_fraction"),
                                       ({"hidden": "wide"}, "hidden"), ({"n_estimators": 0}, "n_estimators"),
                                       ({"base_fun": "relu"}, "base_fun"), ({"early_stopping": "yes"}, "early_stopping")])
def test_bad_parameters_name_themselves(kw, match):
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(ValueError, match=match):
        KANRegressor(**kw).fit(X, X[:, 0])


def test_nan_is_a_clear_error():
    X = np.random.default_rng(0).normal(size=(50, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KANRegressor().fit(X, np.ones(50))
