"""A too-large learning rate raises DivergenceError naming lr and suggesting a safe one;
the model keeps its last finite parameters."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gdcore
from helpers import design, hessian_lambda_max, make_problem, mse

N, D = 100, 4


@pytest.fixture(scope="module")
def problem():
    X, y, _, _ = make_problem(N, D, 0, noise=0.3)
    return X, y, hessian_lambda_max(X)


def fit_diverging(X, y, lr, backend, dtype, batch_size, epochs=60):
    model = gdcore.LinearModel(D, dtype=dtype)
    trainer = gdcore.Trainer(lr=lr, epochs=epochs, tol=0.0, batch_size=batch_size,
                             random_state=0, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow inside the doomed fit
        with pytest.raises(gdcore.DivergenceError) as info:
            trainer.fit(model, X, y)
    return model, info.value


@pytest.mark.parametrize("multiple", [10.0, 1e10], ids=["10x", "1e10x"])
@pytest.mark.parametrize("batch_size", [None, 10, 1], ids=["full", "mb10", "mb1"])
def test_divergence_error(problem, backend, dtype, batch_size, multiple):
    X, y, lam = problem
    lr = multiple / lam  # `multiple` times the full-batch auto step (and more for mini-batches)
    X, y = X.astype(dtype), y.astype(dtype)
    model, err = fit_diverging(X, y, lr, backend, dtype, batch_size)
    assert isinstance(err, RuntimeError)
    assert err.lr == lr
    message = str(err)
    assert f"lr={lr:.6g}" in message
    assert err.suggested_lr is not None and 0.0 < err.suggested_lr < lr
    assert f"lr={err.suggested_lr:.6g}" in message
    # the model keeps finite parameters, and the history describes them
    assert np.all(np.isfinite(model.w)), model.w
    assert np.isfinite(model.b), model.b
    hist = err.history
    assert hist.status == "diverged" and not hist.converged
    assert hist.lr == lr
    assert np.all(np.isfinite(hist.loss))
    assert np.isfinite(hist.final_loss)
    assert hist.final_loss == pytest.approx(mse(X, y, model.w, model.b), rel=1e-5)


@pytest.mark.parametrize("batch_size", [None, 10, 1], ids=["full", "mb10", "mb1"])
def test_suggested_lr_is_safe(problem, backend, batch_size):
    X, y, lam = problem
    _, err = fit_diverging(X, y, 10.0 / lam, backend, np.float64, batch_size)
    if batch_size is None:
        assert err.suggested_lr == pytest.approx(1.0 / lam, rel=1e-4)
    model = gdcore.LinearModel(D)
    hist = gdcore.Trainer(lr=err.suggested_lr, epochs=20, tol=0.0, batch_size=batch_size,
                          random_state=0, backend=backend).fit(model, X, y)
    assert hist.final_loss < hist.loss[0]


def test_full_batch_restores_last_good_step(problem, backend):
    """Check against plain gradient descent done here: the model is theta_k with k = n_epochs,
    its loss is final_loss, and the next step's loss had exploded past 1e6 L_0."""
    X, y, lam = problem
    lr = 10.0 / lam
    model, err = fit_diverging(X, y, lr, backend, np.float64, None)
    k = err.history.n_epochs
    A = design(X)
    theta, losses = np.zeros(D + 1), []
    for _ in range(k + 1):
        r = A @ theta - y
        losses.append(np.mean(r * r))
        theta_k = theta
        theta = theta - lr * 2.0 * A.T @ r / N
    np.testing.assert_allclose(err.history.loss, losses[:k], rtol=1e-9)
    np.testing.assert_allclose(np.r_[model.w, model.b], theta_k, rtol=1e-9)
    assert err.history.final_loss == pytest.approx(losses[k], rel=1e-9)
    assert np.mean((A @ theta - y) ** 2) > 1e6 * losses[0]  # the step that was undone
    assert losses[k] <= 1e6 * losses[0]


@pytest.mark.parametrize("multiple, first_bad_epoch", [(2.5, 3), (10.0, 0)])
def test_mini_batch_restores_epoch_start(problem, backend, multiple, first_bad_epoch):
    """A mini-batch blow-up puts back the parameters the failing epoch started from: those of
    a fit with that many epochs. The first epoch is checked too (against the loss at the start)."""
    X, y, lam = problem
    lr = multiple / lam
    model, err = fit_diverging(X, y, lr, backend, np.float64, 10)
    k = err.history.n_epochs
    assert k == first_bad_epoch
    again = gdcore.LinearModel(D)
    hist = gdcore.Trainer(lr=lr, epochs=k, tol=0.0, batch_size=10, random_state=0,
                          backend=backend).fit(again, X, y)
    np.testing.assert_array_equal(model.w, again.w)
    assert model.b == again.b
    np.testing.assert_array_equal(err.history.loss, hist.loss)
