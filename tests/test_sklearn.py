"""GDRegressor: scikit-learn's own estimator checks, pipelines, grid search."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import gdcore  # noqa: E402
from gdcore.sklearn import GDRegressor  # noqa: E402


def _expected_failures(estimator):
    # weighted and repeated rows fit alike to the fit's tol: at the default 1e-6 the
    # predictions differ by about 5e-7 there, where the check allows 1e-7 (with
    # tol=1e-10, 1e-10: the second estimator passes it)
    if estimator.tol is None and estimator.loss == "mse":
        return {"check_sample_weight_equivalence_on_dense_data":
                "equal to the fit's tol (1e-6 by default); the check asks 1e-7"}
    return {}


# The MAE's subgradient does not vanish at the optimum: its fits run to the epoch limit.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([GDRegressor(), GDRegressor(tol=1e-10),
                          GDRegressor(loss="mae", epochs=3000, tol=1e-4)],
                         expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def badly_scaled(seed=0, n=300):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)) * np.array([1000.0, 0.01, 5.0]) + np.array([50.0, -3.0, 0.0])
    y = X @ np.array([0.002, 300.0, -1.5]) + 40.0 + 0.01 * rng.standard_normal(n)
    return X, y


def test_matches_least_squares_on_badly_scaled_data():
    X, y = badly_scaled()
    reg = GDRegressor(tol=1e-9, epochs=100_000).fit(X, y)
    ref = LinearRegression().fit(X, y)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-6)
    assert reg.intercept_ == pytest.approx(ref.intercept_, rel=1e-6)
    np.testing.assert_allclose(reg.predict(X), ref.predict(X), rtol=1e-7, atol=1e-7)
    assert reg.n_iter_ == len(reg.loss_curve_) > 1
    assert reg.n_features_in_ == 3
    assert reg.history_.converged


def test_loss_curve_is_in_the_units_of_y():
    X, y = badly_scaled()
    reg = GDRegressor(epochs=5, tol=0.0)
    with pytest.warns(ConvergenceWarning, match="after 5 epochs"):
        reg.fit(X, y)
    # the first epoch's loss is that of the starting point: predicting mean(y)
    assert reg.loss_curve_[0] == pytest.approx(np.mean((y - y.mean()) ** 2), rel=1e-9)
    assert np.all(np.diff(reg.loss_curve_) < 0)
    mae = GDRegressor(loss="mae", epochs=3, tol=0.0)
    with pytest.warns(ConvergenceWarning):
        mae.fit(X, y)
    assert mae.loss_curve_[0] == pytest.approx(np.mean(np.abs(y - y.mean())), rel=1e-9)


def test_without_standardizing_or_intercept():
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    y = np.array([1.0, 2.0, 3.0, 4.0]) * 2.5
    for standardize in (True, False):
        reg = GDRegressor(fit_intercept=False, standardize=standardize, tol=1e-12,
                          epochs=10_000).fit(X, y)
        assert reg.intercept_ == 0.0
        assert reg.coef_[0] == pytest.approx(2.5, rel=1e-9)


def test_mini_batch_float32_and_backends():
    X, y = badly_scaled(1, n=200)
    ref = LinearRegression().fit(X, y)
    for backend in gdcore.backends():
        reg = GDRegressor(batch_size=500, backend=backend, dtype="float32", tol=1e-5,
                          epochs=5000, random_state=0).fit(X, y)  # batch capped at n
        assert reg.model_.dtype == np.float32
        np.testing.assert_allclose(reg.predict(X), ref.predict(X), rtol=1e-3, atol=1e-3)
    sgd = GDRegressor(batch_size=16, lr=0.01, epochs=300, tol=0.0, random_state=3)
    with pytest.warns(ConvergenceWarning):
        sgd.fit(X, y)
    again = GDRegressor(batch_size=16, lr=0.01, epochs=300, tol=0.0, random_state=3)
    with pytest.warns(ConvergenceWarning):
        again.fit(X, y)
    np.testing.assert_array_equal(sgd.coef_, again.coef_)  # reproducible
    assert sgd.score(X, y) > 0.99


def test_errors_name_the_parameter():
    X, y = badly_scaled()
    with pytest.raises(ValueError, match="loss must be one of"):
        GDRegressor(loss="quantile").fit(X, y)
    with pytest.raises(ValueError, match="epsilon must be a positive"):
        GDRegressor(loss="huber", epsilon=0.0).fit(X, y)
    with pytest.raises(ValueError, match="lr must be"):
        GDRegressor(lr=-1).fit(X, y)
    with pytest.raises(ValueError, match="backend must be"):
        GDRegressor(backend="fortran").fit(X, y)
    with pytest.raises(gdcore.DivergenceError, match="lr="):
        GDRegressor(lr=100.0).fit(X, y)
    with pytest.raises(NotFittedError):
        GDRegressor().predict(X)


def test_pipeline_grid_search_and_pickle():
    X, y = badly_scaled(2)
    pipe = make_pipeline(StandardScaler(), GDRegressor(tol=1e-8, epochs=20_000))
    search = GridSearchCV(pipe, {"gdregressor__loss": ["mse", "mae"],
                                 "gdregressor__lr": ["auto", 0.05]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the MAE runs to its limit
        search.fit(X, y)
    assert search.best_score_ > 0.999  # MSE and MAE fits both near perfect on these data
    fitted = search.best_estimator_
    clone = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(clone.predict(X), fitted.predict(X))
    mse_fit = make_pipeline(StandardScaler(), GDRegressor(tol=1e-8)).fit(X, y)
    ref = make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
    np.testing.assert_allclose(mse_fit.predict(X), ref.predict(X), rtol=1e-5, atol=1e-5)
