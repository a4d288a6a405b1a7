import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from kanlab.sklearn import KANClassifier, KANRegressor  # noqa: E402


def test_regressor_fits_and_scores():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 3, size=(300, 2)) * [1, 10]
    y = np.sin(X[:, 0]) + 0.01 * X[:, 1] ** 2
    reg = KANRegressor(hidden=(3,), steps=30).fit(X, y)
    assert reg.score(X, y) > 0.99
    assert reg.n_features_in_ == 2 and reg.model_.width == [2, 3, 1]


def test_classifier_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = np.where(X[:, 0] ** 2 + X[:, 1] ** 2 > 1.0, "out", "in")
    clf = KANClassifier(hidden=(3,), steps=30).fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.predict_proba(X).shape == (300, 2)


def test_pipeline_and_grid_search():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(120, 2))
    y = X[:, 0] * X[:, 1]
    search = GridSearchCV(make_pipeline(StandardScaler(), KANRegressor(steps=5)),
                          {"kanregressor__hidden": [(2,), (4,)]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["kanregressor__hidden"] == (4,)  # CV R^2 0.99 against 0.73 for (2,)
    assert search.best_estimator_[-1].model_.width == [2, 4, 1]  # refitted with the chosen width
    assert search.score(X, y) > 0.95


def test_formula_in_user_units():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, size=(200, 1))
    y = 3 * X[:, 0] + 5
    reg = KANRegressor(hidden=(1,), steps=20, n_estimators=1).fit(X, y)
    reg.symbolify(X, y, lib=["x"])
    f = reg.formula_
    import sympy

    val = float(f.subs(sympy.Symbol("x0"), 2.0))
    assert abs(val - 11.0) < 1e-3
    assert reg.latex() == sympy.latex(f) and "x_{0}" in reg.latex()


@pytest.mark.parametrize("est", [KANRegressor(steps=2), KANClassifier(steps=2)], ids=["regressor", "classifier"])
def test_check_estimator(est):
    check_estimator(est)
