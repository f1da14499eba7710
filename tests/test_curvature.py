"""lr='auto': exact lambda_max from the Gram matrix for narrow models, power iteration
beyond GRAM_MAX_PARAMS parameters; both must match numpy.linalg.eigvalsh."""

from __future__ import annotations

import numpy as np
import pytest

import gdcore
from gdcore.backends import get_backend
from gdcore.curvature import GRAM_MAX_PARAMS, auto_lr
from helpers import hessian_lambda_max


@pytest.mark.parametrize("d, rtol", [(5, 1e-12), (GRAM_MAX_PARAMS - 1, 1e-12),
                                     (GRAM_MAX_PARAMS, 1e-4), (70, 1e-4)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_curvature_is_lambda_max(backend, d, rtol, fit_intercept):
    rng = np.random.default_rng(d)
    X = rng.standard_normal((150, d)) + rng.uniform(-1, 1, d)  # off-centre columns
    lam, row_max = get_backend(backend).curvature(np.ascontiguousarray(X), fit_intercept)
    assert lam == pytest.approx(hessian_lambda_max(X, fit_intercept), rel=rtol)
    assert lam <= hessian_lambda_max(X, fit_intercept) * (1 + 1e-12)  # never overshoots
    A = np.hstack([X, np.ones((150, 1))]) if fit_intercept else X
    assert row_max == pytest.approx(2 * (A * A).sum(axis=1).max(), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_curvature_is_close(dtype):
    rng = np.random.default_rng(1)
    X = (rng.standard_normal((2000, 8)) * [1, 2, 3, 4, 5, 6, 7, 8]).astype(dtype)
    lam, _ = get_backend("cython").curvature(X, True)
    assert lam == pytest.approx(hessian_lambda_max(X.astype(np.float64), True), rel=1e-5)


def test_auto_lr_interpolates_between_row_and_full_curvature():
    assert auto_lr(2.0, 50.0, 100, None) == pytest.approx(0.5)
    assert auto_lr(2.0, 50.0, 100, 100) == pytest.approx(0.5)
    assert auto_lr(2.0, 50.0, 100, 1) == pytest.approx(1 / 50.0)
    mid = auto_lr(2.0, 50.0, 100, 10)
    assert 1 / 50.0 < mid < 0.5
    with pytest.raises(ValueError, match="lr"):
        auto_lr(0.0, 0.0, 10, None)


def test_wide_model_fits_with_power_iteration_step():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 70))
    y = X @ rng.standard_normal(70) + 1.0
    model = gdcore.LinearModel(70)
    hist = gdcore.Trainer(epochs=5000, tol=1e-9).fit(model, X, y)
    assert hist.converged
    coef = np.linalg.lstsq(np.hstack([X, np.ones((400, 1))]), y, rcond=None)[0]
    np.testing.assert_allclose(model.w, coef[:-1], rtol=1e-6, atol=1e-7)
    assert model.b == pytest.approx(coef[-1], rel=1e-6)
