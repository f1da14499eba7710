"""The compiled backend (the default): whole fits in one GIL-free kernel call."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .. import _linear
from .._random import POWER_SEED
from ._base import BLOWUP, POWER_MAX_ITER, POWER_RTOL, FitResult


class CythonBackend:
    name = "cython"

    def predict(self, X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
        out = np.empty(X.shape[0], dtype=X.dtype)
        _linear.predict(X, w, b, out)
        return out

    def loss_value(self, kind: int, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return _linear.loss_value(kind, y_true, y_pred)

    def loss_grad(self, kind: int, X: np.ndarray, y: np.ndarray, w: np.ndarray,
                  b: float) -> Tuple[float, np.ndarray, float]:
        loss, gw, gb = _linear.loss_grad(kind, X, y, w, b)
        return loss, gw.astype(X.dtype, copy=False), gb

    def curvature(self, X: np.ndarray, fit_intercept: bool) -> Tuple[float, float]:
        return _linear.curvature(X, fit_intercept, POWER_MAX_ITER, POWER_RTOL, POWER_SEED)

    def fit(self, kind: int, X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray,
            fit_intercept: bool, lr: float, epochs: int, tol: float,
            batch_size: Optional[int], seed: int) -> FitResult:
        history, final_loss, grad_norm, status = _linear.fit(
            kind, X, y, w, b, fit_intercept, lr, epochs, tol, BLOWUP, batch_size, seed)
        return FitResult(history, final_loss, grad_norm, status)
