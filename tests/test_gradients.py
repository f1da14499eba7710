"""Gradients against central finite differences and the hand-written formulas."""

from __future__ import annotations

import numpy as np
import pytest

import gdcore
from helpers import central_differences, design, mae, mae_subgrad, make_problem, mse_grad


def model_at(w, b, dtype=np.float64):
    model = gdcore.LinearModel(len(w), dtype=dtype)
    model.w = w
    model.b = float(b)
    return model


def theta_of(model):
    return np.r_[np.asarray(model.w, dtype=np.float64), model.b]


# ------------------------------------------------------------------- MSE --

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mse_gradient_matches_finite_differences(backend, seed):
    X, y, _, _ = make_problem(80, 4, seed, noise=0.5)
    rng = np.random.default_rng(100 + seed)
    model = model_at(rng.normal(size=4), rng.normal())
    d = X.shape[1]
    # the MSE written by hand in numpy: L(theta) = mean((A theta - y)^2)
    A = design(X)
    fd = central_differences(lambda t: np.mean((A @ t - y) ** 2), theta_of(model), 1e-5)
    gw, gb = gdcore.MSELoss().gradient(model, X, y, backend=backend)
    assert gw.shape == (d,) and gw.dtype == np.float64
    # the MSE is quadratic: central differences are exact up to rounding (~eps L / h)
    np.testing.assert_allclose(np.r_[gw, gb], fd, rtol=1e-7, atol=1e-8)


def test_mse_gradient_finite_differences_of_library_loss(backend):
    """FD of loss(y, model.predict(X)) — the library's own loss value — agrees too."""
    X, y, _, _ = make_problem(50, 3, 5, noise=0.5)
    theta0 = np.array([0.3, -0.7, 1.1, 0.2])
    loss = gdcore.MSELoss()

    def f(t):
        return loss(y, model_at(t[:3], t[3]).predict(X))

    fd = central_differences(f, theta0, 1e-5)
    gw, gb = loss.gradient(model_at(theta0[:3], theta0[3]), X, y, backend=backend)
    np.testing.assert_allclose(np.r_[gw, gb], fd, rtol=1e-7, atol=1e-8)


def test_mse_gradient_formula_by_hand(backend):
    """(2/N) sum (y_hat_i - y_i) x_i and (2/N) sum (y_hat_i - y_i), on numbers worked by hand."""
    X = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]])
    y = np.array([1.0, 2.0, -1.0])
    model = model_at([1.0, -1.0], 0.5)
    # y_hat = [1 - 2 + .5, 0 + 1 + .5, 3 - 1 + .5] = [-0.5, 1.5, 2.5]; r = [-1.5, -0.5, 3.5]
    # dL/dw1 = 2/3 (-1.5*1 + -0.5*0 + 3.5*3) = 2/3 * 9 = 6
    # dL/dw2 = 2/3 (-1.5*2 + -0.5*-1 + 3.5*1) = 2/3 * 1 = 2/3
    # dL/db  = 2/3 (-1.5 - 0.5 + 3.5) = 1
    gw, gb = gdcore.MSELoss().gradient(model, X, y, backend=backend)
    np.testing.assert_allclose(gw, [6.0, 2.0 / 3.0], rtol=1e-15)
    assert gb == pytest.approx(1.0, rel=1e-15)
    # and the loss value: (2.25 + 0.25 + 12.25) / 3
    assert gdcore.MSELoss()(y, model.predict(X)) == pytest.approx(14.75 / 3, rel=1e-15)
    # the row-by-row reference agrees with the same hand numbers
    rw, rb = mse_grad(X, y, [1.0, -1.0], 0.5)
    np.testing.assert_allclose(np.r_[rw, rb], [6.0, 2.0 / 3.0, 1.0], rtol=1e-15)


def test_mse_gradient_float32(backend):
    X, y, _, _ = make_problem(80, 4, 6, noise=0.5, dtype=np.float32)
    model = model_at([0.5, -0.25, 1.0, 2.0], -0.5, dtype=np.float32)
    gw, gb = gdcore.MSELoss().gradient(model, X, y, backend=backend)
    assert gw.dtype == np.float32
    ref_w, ref_b = mse_grad(X, y, model.w, model.b)  # float64 on the float32 values
    ref = np.r_[ref_w, ref_b]
    np.testing.assert_allclose(np.r_[gw, gb], ref, rtol=1e-4, atol=1e-5 * np.linalg.norm(ref))


def test_mse_gradient_is_zero_at_lstsq(backend):
    X, y, _, _ = make_problem(100, 3, 7, noise=0.5)
    theta = np.linalg.lstsq(design(X), y, rcond=None)[0]
    gw, gb = gdcore.MSELoss().gradient(model_at(theta[:3], theta[3]), X, y, backend=backend)
    assert np.linalg.norm(np.r_[gw, gb]) < 1e-12


def test_loss_values_match_numpy():
    rng = np.random.default_rng(3)
    yt, yp = rng.normal(size=37), rng.normal(size=37)
    assert gdcore.MSELoss()(yt, yp) == pytest.approx(np.mean((yt - yp) ** 2), rel=1e-14)
    assert gdcore.MAELoss()(yt, yp) == pytest.approx(np.mean(np.abs(yt - yp)), rel=1e-14)


# ------------------------------------------------------------------- MAE --

def integer_problem():
    """Integer data and parameters chosen so that rows 0, 3, 5 and 6 have residual exactly 0."""
    X = np.array([[1, 2], [0, 1], [3, -1], [2, 2], [-1, 4], [5, 0], [1, 1], [-2, -3]], dtype=float)
    w, b = np.array([2.0, -1.0]), 1.0
    fit = X @ w + b  # [1, 0, 8, 3, -5, 11, 2, 0]
    offsets = np.array([0.0, 2.0, -3.0, 0.0, 1.0, 0.0, 0.0, -4.0])
    y = fit + offsets  # residual y_hat - y = -offsets
    return X, y, w, b, offsets


def test_mae_subgradient_with_exact_zero_residuals(backend):
    X, y, w, b, offsets = integer_problem()
    model = model_at(w, b)
    r = model.predict(X) - y
    zero = offsets == 0.0
    assert np.array_equal(r == 0.0, zero) and zero.sum() == 4  # the construction holds exactly
    gw, gb = gdcore.MAELoss().gradient(model, X, y, backend=backend)
    # (1/N) sum sign(y_hat - y) x_i with sign(0) = 0, by hand:
    # nonzero rows: 1 (r=-2, x=[0,1]), 2 (r=+3, x=[3,-1]), 4 (r=-1, x=[-1,4]), 7 (r=+4, x=[-2,-3])
    # sum sign*x = -[0,1] + [3,-1] - [-1,4] + [-2,-3] = [2, -9]; sum sign = -1 + 1 - 1 + 1 = 0
    np.testing.assert_allclose(gw, np.array([2.0, -9.0]) / 8, rtol=1e-15)
    assert gb == 0.0
    rw, rb = mae_subgrad(X, y, w, b)
    np.testing.assert_allclose(np.r_[gw, gb], np.r_[rw, rb], rtol=1e-15)
    # the zero-residual rows contribute nothing: dropping them only changes the 1/N
    X_nz, y_nz = X[~zero], y[~zero]
    gw_nz, gb_nz = gdcore.MAELoss().gradient(model, X_nz, y_nz, backend=backend)
    np.testing.assert_allclose(gw * 8, gw_nz * 4, rtol=1e-15)
    assert gb * 8 == gb_nz * 4
    # and a convention sign(0) = +1 would give a different answer (the test can tell)
    plus = np.where(zero, 1.0, np.sign(-offsets))
    assert not np.allclose(gw, X.T @ plus / 8)


def test_mae_subgradient_all_rows_exact(backend):
    """Every residual zero: the subgradient is exactly 0 although the loss has a kink here."""
    X, _, w, b, _ = integer_problem()
    y = X @ w + b
    gw, gb = gdcore.MAELoss().gradient(model_at(w, b), X, y, backend=backend)
    assert np.all(gw == 0.0) and gb == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_mae_gradient_matches_finite_differences_off_kinks(backend, seed):
    """Away from the kinks the MAE is linear, so central differences give its gradient exactly."""
    X, y, _, _ = make_problem(60, 3, 40 + seed, noise=1.0)
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=4)
    A = design(X)
    h = 1e-7
    # h is far smaller than the smallest |residual| / ||a_i||: no kink is crossed
    assert np.min(np.abs(A @ theta - y) / np.linalg.norm(A, axis=1)) > 100 * h
    fd = central_differences(lambda t: np.mean(np.abs(A @ t - y)), theta, h)
    gw, gb = gdcore.MAELoss().gradient(model_at(theta[:3], theta[3]), X, y, backend=backend)
    np.testing.assert_allclose(np.r_[gw, gb], fd, rtol=1e-6, atol=1e-8)
    value = gdcore.MAELoss()(y, A @ theta)
    assert value == pytest.approx(mae(X, y, theta[:3], theta[3]), rel=1e-14)


def test_gradient_backend_argument_is_validated():
    X, y, w, b, _ = integer_problem()
    with pytest.raises(ValueError, match="backend"):
        gdcore.MSELoss().gradient(model_at(w, b), X, y, backend="fortran")
