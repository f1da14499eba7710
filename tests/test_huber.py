"""The Huber loss: its formulas, its gradients in every engine, and the default fit's
minimum against an independent solver (L-BFGS, then Newton on the rows within epsilon)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import gdcore
from gdcore.plot import _loss_grid
from helpers import huber_minimum, huber_slopes, huber_terms


def raw_diabetes():
    """scikit-learn's diabetes data in units of very different sizes, as users pass them."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    X, y = sklearn_datasets.load_diabetes(return_X_y=True)
    X = X * np.logspace(-2, 4, X.shape[1]) + np.linspace(-50.0, 300.0, X.shape[1])
    return np.ascontiguousarray(X), y


def heavy_tailed(n=2000, d=6, seed=0):
    """y = X w + 3 + Student-t noise (3 degrees of freedom): outliers a Huber fit resists."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.logspace(0, 3, d)
    w = rng.uniform(-2, 2, d) / np.logspace(0, 3, d)
    return X, X @ w + 3.0 + rng.standard_t(3, n), w


def relative_error(model, w, b):
    return float(np.linalg.norm(np.append(model.w - w, model.b - b)) / np.linalg.norm(np.append(w, b)))


def test_terms_and_slopes_follow_the_definition():
    loss = gdcore.HuberLoss(0.8)
    r = np.array([-5.0, -0.8, -0.3, 0.0, 0.3, 0.8, 0.800001, 5.0])
    np.testing.assert_array_equal(loss.terms(r), huber_terms(r, 0.8))
    np.testing.assert_array_equal(loss.slopes(r), huber_slopes(r, 0.8))
    assert [loss.term(v) for v in r] == list(huber_terms(r, 0.8))
    assert [loss.slope(v) for v in r] == list(huber_slopes(r, 0.8))
    y, p = np.array([1.0, 2.0, 3.0]), np.array([1.5, 0.0, 3.1])
    assert loss(y, p) == pytest.approx(np.mean(huber_terms(p - y, 0.8)), rel=1e-15)
    assert gdcore.HuberLoss().epsilon == 1.35 and repr(loss) == "HuberLoss(epsilon=0.8)"
    assert loss == gdcore.HuberLoss(0.8) != gdcore.HuberLoss(0.9)


def test_the_same_loss_as_torch():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(1).standard_normal(1000) * 3
    theirs = torch.nn.HuberLoss(delta=1.35)(torch.tensor(r), torch.zeros(1000, dtype=torch.float64))
    assert gdcore.HuberLoss(1.35)(np.zeros(1000), r) == pytest.approx(float(theirs), rel=1e-14)


@pytest.mark.parametrize("epsilon", [0, -1.0, math.nan, math.inf, True, "1", None])
def test_epsilon_must_be_a_positive_number(epsilon):
    with pytest.raises(ValueError, match="epsilon must be a positive finite number"):
        gdcore.HuberLoss(epsilon)


@pytest.mark.parametrize("backend", ["cython", "numpy", "python"])
def test_gradient_against_finite_differences(backend):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 3))
    y = rng.standard_normal(40) * 2
    linear = gdcore.LinearModel(3)
    linear.w, linear.b = rng.standard_normal(3), 0.3
    assert gdcore.gradient_check(linear, gdcore.HuberLoss(0.7), X, y, backend=backend) < 1e-7
    net = gdcore.MLP([3, 5, 1], activation="tanh", random_state=0)
    assert gdcore.gradient_check(net, gdcore.HuberLoss(0.2), X, y, backend=backend) < 1e-7


@pytest.mark.parametrize("batch_size", [None, 7])
@pytest.mark.parametrize("network", [False, True])
def test_every_engine_takes_the_same_steps(batch_size, network):
    X, y, _ = heavy_tailed(n=60, d=3)
    X /= np.abs(X).max(axis=0)
    params = []
    for backend in ("python", "numpy", "cython"):
        model = (gdcore.MLP([3, 4, 1], random_state=1) if network else gdcore.LinearModel(3))
        gdcore.Trainer(loss=gdcore.HuberLoss(0.5), optimizer="momentum", lr=0.05, epochs=30,
                       batch_size=batch_size, random_state=4, backend=backend).fit(model, X, y)
        params.append(model.params.copy())
    np.testing.assert_allclose(params[1], params[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(params[2], params[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("epsilon", [0.5, 1.35, 10.0, 50.0])
@pytest.mark.parametrize("data", ["diabetes", "heavy_tailed"])
def test_the_default_fit_reaches_the_minimum(data, epsilon):
    X, y = raw_diabetes() if data == "diabetes" else heavy_tailed()[:2]
    w, b = huber_minimum(X, y, epsilon)
    model = gdcore.LinearModel(X.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: a certified fit
        history = gdcore.Trainer(loss=gdcore.HuberLoss(epsilon)).fit(model, X, y)
    assert history.status == "converged"
    assert relative_error(model, w, b) <= 1e-6
    assert history.final_loss == pytest.approx(np.mean(huber_terms(X @ w + b - y, epsilon)),
                                               rel=1e-12)


def test_without_intercept_and_in_float32():
    X, y, _ = heavy_tailed(seed=3)
    w, _ = huber_minimum(X, y, 1.0, fit_intercept=False)
    model = gdcore.LinearModel(X.shape[1], fit_intercept=False)
    assert gdcore.Trainer(loss=gdcore.HuberLoss(1.0)).fit(model, X, y).converged
    assert model.b == 0.0 and relative_error(model, w, 0.0) <= 1e-6
    w, b = huber_minimum(X, y, 1.0)
    model = gdcore.LinearModel(X.shape[1], dtype=np.float32)
    gdcore.Trainer(loss=gdcore.HuberLoss(1.0)).fit(model, X, y)
    assert relative_error(model, w, b) <= 1e-3


def test_a_huber_fit_resists_outliers_that_move_least_squares():
    X, y, w_true = heavy_tailed(seed=5)
    y = y.copy()
    y[:40] += 1e4  # 2 % of the targets wildly off
    huber, squares = gdcore.LinearModel(X.shape[1]), gdcore.LinearModel(X.shape[1])
    gdcore.Trainer(loss=gdcore.HuberLoss(1.35)).fit(huber, X, y)
    gdcore.Trainer().fit(squares, X, y)
    assert abs(huber.b - 3.0) < 0.2 < abs(squares.b - 3.0)
    assert np.linalg.norm(huber.w - w_true) < 0.1 * np.linalg.norm(squares.w - w_true)


def test_the_automatic_step_uses_the_huber_curvature():
    """Huber's second derivative is at most 1, the MSE's is 2: twice the MSE's step."""
    X, y, _ = heavy_tailed(n=200)
    model = gdcore.LinearModel(X.shape[1])
    mse = gdcore.Trainer().learning_rate(model, X)
    assert gdcore.Trainer(loss=gdcore.HuberLoss()).learning_rate(model, X) == pytest.approx(2 * mse)


def test_a_network_fits_with_it():
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (400, 1))
    y = np.sin(X[:, 0])
    y[::25] += 20.0  # outliers
    net = gdcore.MLP([1, 16, 1], activation="tanh", random_state=0)
    history = gdcore.Trainer(loss=gdcore.HuberLoss(0.1), epochs=300, batch_size=32,
                             random_state=0).fit(net, X, y)
    assert history.loss[-1] < history.loss[0]
    clean = np.ones(400, dtype=bool)
    clean[::25] = False
    assert np.sqrt(np.mean((net.predict(X)[clean] - y[clean]) ** 2)) < 0.3


def test_the_contour_grid_uses_the_loss():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 9.0])
    W, B = np.meshgrid([0.5, 1.0], [0.0, 0.2])
    grid = _loss_grid(x, y, W, B, gdcore.HuberLoss(1.0))
    expected = [[np.mean(huber_terms(wv * x + bv - y, 1.0)) for wv, bv in zip(wr, br)]
                for wr, br in zip(W, B)]
    np.testing.assert_allclose(grid, expected, rtol=1e-15)


def test_gdregressor_fits_the_huber_loss_in_the_units_of_y():
    pytest.importorskip("sklearn")
    from gdcore.sklearn import GDRegressor
    X, y = raw_diabetes()
    w, b = huber_minimum(X, y, 20.0)
    reg = GDRegressor(loss="huber", epsilon=20.0).fit(X, y)
    error = np.linalg.norm(np.append(reg.coef_ - w, reg.intercept_ - b)) / np.linalg.norm(np.append(w, b))
    assert error <= 1e-6
    assert reg.loss_curve_[-1] == pytest.approx(
        np.mean(huber_terms(reg.predict(X) - y, 20.0)), rel=1e-6)
    with pytest.raises(ValueError, match="epsilon"):
        GDRegressor(loss="huber", epsilon=-1.0).fit(X, y)


def test_the_command_line_fits_it(tmp_path):
    from test_cli import run, write_csv
    X, y, _ = heavy_tailed(n=100, d=2)
    path = write_csv(tmp_path / "d.csv", ["a", "b", "y"], [[*x, t] for x, t in zip(X, y)])
    run("fit", path, "--target", "y", "--loss", "huber", "--epsilon", "2", "-o",
        tmp_path / "m.gdm", cwd=tmp_path)
    model = gdcore.load(tmp_path / "m.gdm")
    w, b = huber_minimum(X, y, 2.0)
    assert relative_error(model, w, b) <= 1e-6
