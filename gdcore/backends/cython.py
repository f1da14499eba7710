"""The compiled backend (the default): whole fits in one GIL-free kernel call."""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import numpy as np

from .. import _linear
from .._random import POWER_SEED
from ._base import (BLOWUP, CONVERGED, DIVERGED, MAX_EPOCHS, POWER_MAX_ITER, POWER_RTOL,
                    STOPPED, FitResult, grad_norm)

_STATUS: Dict[int, str] = {_linear.Status.CONVERGED: CONVERGED, _linear.Status.MAX_EPOCHS: MAX_EPOCHS,
           _linear.Status.DIVERGED: DIVERGED}


class CompiledRun:
    """A fit in the kernel: owns the buffers ``_linear.run_epochs`` resumes from.

    The history (and path) grow by doubling, so a large epoch budget with an
    early stop by ``tol`` costs memory only for the epochs actually run.
    """

    INITIAL_CAPACITY = 1 << 16
    MAX_EPOCHS = 1 << 62  # more than any fit can run: the kernel counts in Py_ssize_t

    def __init__(self, kind: int, X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray,
                 fit_intercept: bool, lr: float, epochs: int, tol: float,
                 batch_size: Optional[int], seed: int, record_path: bool) -> None:
        epochs = min(epochs, self.MAX_EPOCHS)
        self.args = (kind, X, y, w, b, fit_intercept, lr, epochs)
        self.tol, self.batch_size = tol, batch_size or 0
        n, d = X.shape
        capacity = max(1, min(epochs, self.INITIAL_CAPACITY))
        self.history = np.empty(capacity)
        self.path = np.empty((capacity, d + 1), dtype=X.dtype) if record_path else None
        self.n_epochs = 0
        self.w_saved = np.empty(d, dtype=X.dtype)
        self.saved = np.full(3, np.nan)
        self.order = np.arange(n if batch_size else 1, dtype=np.intp)
        self.rng = np.array([seed], dtype=np.uint64)
        self.report = np.empty(2)

    def _grow(self) -> None:
        capacity = min(self.args[-1], 2 * len(self.history))
        self.history = np.resize(self.history, capacity)
        if self.path is not None:
            self.path = np.resize(self.path, (capacity, self.path.shape[1]))

    def _result(self, loss: float, norm: float, status: str) -> FitResult:
        n = self.n_epochs
        return FitResult(self.history[:n].copy(), loss, norm, status,
                         None if self.path is None else self.path[:n].copy())

    @property
    def last_loss(self) -> float:
        return float(self.history[self.n_epochs - 1]) if self.n_epochs else math.nan

    def advance(self, epochs: int) -> Optional[FitResult]:
        kind, X, y, w, b, fit_intercept, lr, total = self.args
        target = min(total, self.n_epochs + epochs)
        while True:
            status, self.n_epochs = _linear.run_epochs(
                kind, X, y, w, b, fit_intercept, lr, total, min(target, len(self.history)),
                self.tol, BLOWUP, self.batch_size, self.history, self.n_epochs, self.w_saved,
                self.saved, self.order, self.rng, self.path, self.report)
            if status != _linear.Status.PAUSED:
                return self._result(self.report[0], self.report[1], _STATUS[status])
            if self.n_epochs == target:
                return None
            self._grow()

    def finish(self) -> FitResult:
        kind, X, y, w, b, fit_intercept = self.args[:6]
        loss, gw, gb = _linear.loss_grad(kind, X, y, w, b[0])
        norm = grad_norm(gw, gb, fit_intercept)
        return self._result(loss, norm, CONVERGED if norm <= self.tol else STOPPED)


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

    def start(self, kind: int, X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray,
              fit_intercept: bool, lr: float, epochs: int, tol: float,
              batch_size: Optional[int], seed: int, record_path: bool = False) -> CompiledRun:
        return CompiledRun(kind, X, y, w, b, fit_intercept, lr, epochs, tol, batch_size, seed,
                           record_path)
