"""The tutorial's worked example: data (1,1) (2,2) (3,3) (4,4).

For y = w x (no b): L(w) = (1/4)(1+4+9+16)(1-w)^2 = 7.5 w^2 - 15 w + 7.5 and
dL/dw = 15 w - 15, zero at w = 1. With a bias, gradient descent reaches w = 1, b = 0.
"""

from __future__ import annotations

import numpy as np
import pytest

import gdcore

X = np.array([[1.0], [2.0], [3.0], [4.0]])
Y = np.array([1.0, 2.0, 3.0, 4.0])
W_VALUES = [-2.0, -0.5, 0.0, 0.25, 1.0, 1.5, 3.0]


def L(w):
    return 7.5 * w * w - 15.0 * w + 7.5


def tutorial_model(w, fit_intercept=False):
    model = gdcore.LinearModel(1, fit_intercept=fit_intercept)
    model.w = [w]
    return model


@pytest.mark.parametrize("w", W_VALUES)
def test_loss_is_the_tutorial_polynomial(w):
    model = tutorial_model(w)
    assert gdcore.MSELoss()(Y, model.predict(X)) == pytest.approx(L(w), rel=1e-14, abs=1e-14)
    assert gdcore.MSELoss()(Y, w * Y) == pytest.approx(L(w), rel=1e-14, abs=1e-14)
    # the tutorial's misprint (+15 w) is not what the library computes
    if w != 0.0:
        assert gdcore.MSELoss()(Y, w * Y) != pytest.approx(7.5 * w * w + 15.0 * w + 7.5)


@pytest.mark.parametrize("w", W_VALUES)
def test_gradient_is_15w_minus_15(backend, w):
    gw, gb = gdcore.MSELoss().gradient(tutorial_model(w), X, Y, backend=backend)
    assert gw.shape == (1,)
    assert gw[0] == pytest.approx(15.0 * w - 15.0, rel=1e-14, abs=1e-13)
    # dL/db = (2/N) sum (w x_i - x_i) = (2/4) * 10 (w - 1) = 5 (w - 1)
    assert gb == pytest.approx(5.0 * (w - 1.0), rel=1e-14, abs=1e-13)


def test_one_hand_computed_step(backend):
    """From w = 0 with lr = 0.01: w1 = 0 - 0.01 * (15 * 0 - 15) = 0.15; L(0) = 7.5."""
    model = gdcore.LinearModel(1, fit_intercept=False)
    hist = gdcore.Trainer(lr=0.01, epochs=1, tol=0.0, backend=backend).fit(model, X, Y)
    assert hist.loss.tolist() == [7.5]
    assert model.w[0] == pytest.approx(0.15, rel=1e-15)
    assert hist.final_loss == pytest.approx(L(0.15), rel=1e-14)
    assert hist.grad_norm == pytest.approx(abs(15 * 0.15 - 15), rel=1e-14)


def test_descent_without_bias_reaches_w_1(backend, dtype):
    model = gdcore.LinearModel(1, dtype=dtype, fit_intercept=False)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    hist = gdcore.Trainer(optimizer="gd", precondition=None, tol=tol, epochs=10_000,
                          backend=backend).fit(model, X.astype(dtype), Y.astype(dtype))
    assert hist.converged
    # the curvature is d2L/dw2 = 15, so lr="auto" is 1/15 and one step lands at w = 1
    assert hist.lr == pytest.approx(1.0 / 15.0, rel=1e-6)
    assert model.w[0] == pytest.approx(1.0, abs=1e-8 if dtype == np.float64 else 1e-6)
    assert model.b == 0.0


def test_descent_with_bias_reaches_w_1_b_0(backend, dtype):
    model = gdcore.LinearModel(1, dtype=dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    hist = gdcore.Trainer(tol=tol, epochs=10_000, backend=backend).fit(
        model, X.astype(dtype), Y.astype(dtype))
    assert hist.converged and hist.grad_norm <= tol
    # ||theta - theta*|| <= ||grad|| / lambda_min(H); H = [[15, 5], [5, 2]], lambda_min ~ 0.30
    lam_min = (17.0 - np.sqrt(17.0**2 - 4 * 5.0)) / 2
    atol = 1e-8 if dtype == np.float64 else tol / lam_min
    assert model.w[0] == pytest.approx(1.0, abs=atol)
    assert model.b == pytest.approx(0.0, abs=atol)
    assert hist.final_loss < (1e-16 if dtype == np.float64 else 1e-9)
    # the loss went down monotonically (lr = 1/lambda_max on a quadratic)
    assert np.all(np.diff(hist.loss) < 0)


def test_descent_with_bias_mini_batch(backend):
    model = gdcore.LinearModel(1)
    gdcore.Trainer(tol=1e-12, epochs=3000, batch_size=2, random_state=0, backend=backend).fit(
        model, X, Y)
    assert model.w[0] == pytest.approx(1.0, abs=1e-8)
    assert model.b == pytest.approx(0.0, abs=1e-8)


def test_package_docstring_example():
    model = gdcore.LinearModel(n_features=1)
    gdcore.Trainer(loss=gdcore.MSELoss(), tol=1e-10, epochs=10_000).fit(model, X, Y)
    assert (round(float(model.w[0]), 6), round(model.b, 6)) == (1.0, 0.0)
