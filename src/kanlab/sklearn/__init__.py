"""scikit-learn estimators: KANRegressor and KANClassifier.

They follow the estimator contract: parameters are stored verbatim in ``__init__`` (validated
in ``fit``), fitted state ends with an underscore, ``get_params``/``set_params`` come from
``BaseEstimator`` (so ``clone``, ``Pipeline`` and ``GridSearchCV`` work). The defaults are made
for tables: standardised inputs (clipped to the training range when predicting) and targets,
a KAN with identity residuals and a small grid, a smoothness penalty, early stopping on a
validation split with the best state restored, and L-BFGS or minibatch Adam by data size.

    from kanlab.sklearn import KANRegressor
    reg = KANRegressor().fit(X, y)
    reg.predict(X); reg.score(X, y)
    reg.feature_importances_, reg.interactions_, reg.plot_shapes()

Modules: ``estimators`` (the two classes), ``base`` (shared fit/predict), ``params`` (checks
and the automatic choices), ``fitting`` (validation split, training, hidden="auto"),
``interpret`` (importances, shape plots, interactions), ``symbolic`` (formulas).
"""
from .estimators import KANClassifier, KANRegressor

__all__ = ["KANRegressor", "KANClassifier"]
