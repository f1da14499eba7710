"""epochs=0 makes no update; tol stops early; tol=0 runs every epoch."""

from __future__ import annotations

import numpy as np
import pytest

import gdcore
from helpers import design, mae_subgrad, make_problem, mse_grad

BATCHES = pytest.mark.parametrize("batch_size", [None, 16], ids=["full", "mb16"])


@BATCHES
@pytest.mark.parametrize("loss", [gdcore.MSELoss(), gdcore.MAELoss()], ids=["mse", "mae"])
def test_zero_epochs_makes_no_update(backend, dtype, batch_size, loss):
    X, y, _, _ = make_problem(50, 3, 0, noise=0.3, dtype=dtype)
    model = gdcore.LinearModel(3, dtype=dtype)
    hist = gdcore.Trainer(loss=loss, lr=0.1, epochs=0, tol=1e-9, batch_size=batch_size,
                          random_state=0, backend=backend).fit(model, X, y)
    assert np.all(model.w == 0.0) and model.b == 0.0
    assert hist.n_epochs == 0 and hist.loss.shape == (0,)
    assert not hist.converged and hist.status == "max_epochs"
    # measured at w = 0, b = 0: loss mean(y^2) or mean|y|, gradient by the formulas
    y64 = y.astype(np.float64)
    if isinstance(loss, gdcore.MSELoss):
        gw, gb = mse_grad(X, y, np.zeros(3), 0.0)
        expected_loss = np.mean(y64 ** 2)
    else:
        gw, gb = mae_subgrad(X, y, np.zeros(3), 0.0)
        expected_loss = np.mean(np.abs(y64))
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert hist.grad_norm == pytest.approx(np.linalg.norm(np.r_[gw, gb]), rel=rtol)
    assert hist.final_loss == pytest.approx(expected_loss, rel=rtol)


def test_zero_epochs_without_intercept_leaves_b_out_of_the_norm(backend):
    X, y, _, _ = make_problem(40, 2, 1, noise=0.3, intercept=3.0)
    model = gdcore.LinearModel(2, fit_intercept=False)
    hist = gdcore.Trainer(epochs=0, backend=backend).fit(model, X, y)
    gw, _ = mse_grad(X, y, np.zeros(2), 0.0)
    assert hist.grad_norm == pytest.approx(np.linalg.norm(gw), rel=1e-12)


@BATCHES
def test_tol_stops_early(backend, batch_size):
    # noise-free data so the mini-batch gradient, too, can go to zero
    X, y, _, _ = make_problem(64, 3, 2, noise=0.0)
    tol = 1e-6
    model = gdcore.LinearModel(3)
    hist = gdcore.Trainer(optimizer="gd", precondition=None, tol=tol, epochs=10_000,
                          batch_size=batch_size, random_state=0,
                          backend=backend).fit(model, X, y)
    assert hist.converged and hist.status == "converged"
    assert 0 < hist.n_epochs < 10_000
    assert hist.grad_norm <= tol
    # the reported norm is the true gradient norm at the returned parameters
    gw, gb = mse_grad(X, y, model.w, model.b)
    assert hist.grad_norm == pytest.approx(np.linalg.norm(np.r_[gw, gb]), rel=1e-6, abs=1e-15)


def test_full_batch_stops_at_first_epoch_under_tol(backend):
    """Full batch: the fit stops at the first epoch whose gradient norm is <= tol,
    without updating."""
    X, y, _, _ = make_problem(50, 3, 3, noise=0.5)
    lr, tol = 0.05, 1e-3
    A = design(X)
    theta, k = np.zeros(4), 0
    while True:
        g = 2.0 * A.T @ (A @ theta - y) / 50
        if np.linalg.norm(g) <= tol:
            break
        theta, k = theta - lr * g, k + 1
    model = gdcore.LinearModel(3)
    hist = gdcore.Trainer(lr=lr, tol=tol, epochs=10_000, backend=backend).fit(model, X, y)
    assert hist.n_epochs == k
    np.testing.assert_allclose(np.r_[model.w, model.b], theta, rtol=1e-9)
    assert hist.grad_norm == pytest.approx(np.linalg.norm(g), rel=1e-8)
    assert hist.grad_norm <= tol


def test_already_optimal_converges_in_zero_epochs(backend):
    X = np.array([[1.0], [2.0], [3.0]])
    y = np.zeros(3)  # w = 0, b = 0 is the optimum: gradient exactly 0
    hist = gdcore.Trainer(epochs=100, tol=0.0, backend=backend).fit(gdcore.LinearModel(1), X, y)
    assert hist.converged and hist.n_epochs == 0 and hist.grad_norm == 0.0


@BATCHES
@pytest.mark.parametrize("epochs", [1, 3, 7])
def test_tol_zero_runs_every_epoch(backend, batch_size, epochs):
    X, y, _, _ = make_problem(48, 3, 4, noise=0.3)
    model = gdcore.LinearModel(3)
    hist = gdcore.Trainer(tol=0.0, epochs=epochs, batch_size=batch_size, random_state=0,
                          backend=backend).fit(model, X, y)
    assert not hist.converged and hist.status == "max_epochs"
    assert hist.n_epochs == epochs and hist.loss.shape == (epochs,)
    assert hist.grad_norm > 0.0
    if batch_size is None:  # safe step on a quadratic: the loss goes down
        assert np.all(np.diff(hist.loss) < 0)


def test_history_fields(backend):
    X, y, _, _ = make_problem(30, 2, 5, noise=0.3)
    hist = gdcore.Trainer(epochs=5, tol=0.0, backend=backend).fit(gdcore.LinearModel(2), X, y)
    assert hist.loss.dtype == np.float64
    assert hist.seconds >= 0.0
    assert "n_epochs=5" in repr(hist)
    assert hist.loss[0] == pytest.approx(np.mean(y ** 2), rel=1e-12)  # the loss at zero
