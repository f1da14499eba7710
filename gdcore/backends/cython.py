"""The compiled backend (the default): whole fits in one GIL-free kernel call."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from .._dispatch import linear as _linear
from .. import _mlp
from .._random import POWER_SEED
from ..stepsize import gram_blas, lambda_max_of_gram, uses_gram
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
                 batch_size: Optional[int], seed: int, record_path: bool, n_jobs: int = 1) -> None:
        epochs = min(epochs, self.MAX_EPOCHS)
        self.args: Tuple[Any, ...] = (kind, X, y, w, b, fit_intercept, lr, epochs)
        self.n_jobs = n_jobs
        self._buffers(X, w.shape[0] + 1, w.shape[0], epochs, tol, batch_size, seed, record_path)

    def _buffers(self, X: np.ndarray, path_width: int, n_saved: int, epochs: int, tol: float,
                 batch_size: Optional[int], seed: int, record_path: bool) -> None:
        self.tol, self.batch_size = tol, batch_size or 0
        n = X.shape[0]
        capacity = max(1, min(epochs, self.INITIAL_CAPACITY))
        self.history = np.empty(capacity)
        self.path = np.empty((capacity, path_width), dtype=X.dtype) if record_path else None
        self.n_epochs = 0
        self.w_saved = np.empty(n_saved, dtype=X.dtype)
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

    def _run_epochs(self, stop_at: int) -> Tuple[int, int]:
        """One kernel call: continue up to ``stop_at`` epochs; (status, n_epochs)."""
        kind, X, y, w, b, fit_intercept, lr, total = self.args
        return _linear.run_epochs(
            kind, X, y, w, b, fit_intercept, lr, total, stop_at, self.tol, BLOWUP,
            self.batch_size, self.history, self.n_epochs, self.w_saved, self.saved, self.order,
            self.rng, self.path, self.report, self.n_jobs)

    def advance(self, epochs: int) -> Optional[FitResult]:
        total = self.args[-1]
        target = min(total, self.n_epochs + epochs)
        while True:
            status, self.n_epochs = self._run_epochs(min(target, len(self.history)))
            if status != _linear.Status.PAUSED:
                return self._result(self.report[0], self.report[1], _STATUS[status])
            if self.n_epochs == target:
                return None
            self._grow()

    def finish(self) -> FitResult:
        kind, X, y, w, b, fit_intercept = self.args[:6]
        loss, gw, gb = _linear.loss_grad(kind, X, y, w, b[0], self.n_jobs)
        norm = grad_norm(gw, gb, fit_intercept)
        return self._result(loss, norm, CONVERGED if norm <= self.tol else STOPPED)


class CompiledMLPRun(CompiledRun):
    """An MLP fit in the kernel (``_mlp.run_epochs``): the flat parameters play ``w``."""

    def __init__(self, kind: int, X: np.ndarray, y: np.ndarray, params: np.ndarray,
                 sizes: Sequence[int], activation: int, lr: float, epochs: int, tol: float,
                 batch_size: Optional[int], seed: int, record_path: bool) -> None:
        epochs = min(epochs, self.MAX_EPOCHS)
        self.args = (kind, X, y, params, np.asarray(sizes, dtype=np.intp), activation, lr, epochs)
        n_params = params.shape[0]
        self._buffers(X, n_params, n_params, epochs, tol, batch_size, seed, record_path)

    def _run_epochs(self, stop_at: int) -> Tuple[int, int]:
        kind, X, y, params, sizes, activation, lr, total = self.args
        return _mlp.run_epochs(
            kind, X, y, params, sizes, activation, lr, total, stop_at, self.tol, BLOWUP,
            self.batch_size, self.history, self.n_epochs, self.w_saved, self.saved, self.order,
            self.rng, self.path, self.report)

    def finish(self) -> FitResult:
        kind, X, y, params, sizes, activation = self.args[:6]
        loss, g = _mlp.loss_grad(kind, X, y, params, sizes, activation)
        norm = float(np.sqrt(g @ g))
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

    def curvature(self, X: np.ndarray, fit_intercept: bool,
                  rows: bool = True) -> Tuple[float, float]:
        if uses_gram(X.shape[1] + fit_intercept):  # exact, from one BLAS call
            row_max = (_linear.curvature(X, fit_intercept, 0, POWER_RTOL, POWER_SEED)[1]
                       if rows else math.nan)  # max_iter=0: the row pass alone
            return lambda_max_of_gram(gram_blas(X, fit_intercept), X.shape[0]), row_max
        return _linear.curvature(X, fit_intercept, POWER_MAX_ITER, POWER_RTOL, POWER_SEED)

    def start(self, kind: int, X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray,
              fit_intercept: bool, lr: float, epochs: int, tol: float,
              batch_size: Optional[int], seed: int, record_path: bool = False,
              n_jobs: int = 1) -> CompiledRun:
        return CompiledRun(kind, X, y, w, b, fit_intercept, lr, epochs, tol, batch_size, seed,
                           record_path, n_jobs)

    # Multi-layer perceptrons (sizes, activation and the flat parameters: see _network).

    def mlp_predict(self, X: np.ndarray, params: np.ndarray, sizes: Sequence[int],
                    activation: int) -> np.ndarray:
        out = np.empty(X.shape[0], dtype=X.dtype)
        _mlp.predict(X, params, np.asarray(sizes, dtype=np.intp), activation, out)
        return out

    def mlp_loss_grad(self, kind: int, X: np.ndarray, y: np.ndarray, params: np.ndarray,
                      sizes: Sequence[int], activation: int) -> Tuple[float, np.ndarray]:
        return _mlp.loss_grad(kind, X, y, params, np.asarray(sizes, dtype=np.intp), activation)

    def start_mlp(self, kind: int, X: np.ndarray, y: np.ndarray, params: np.ndarray,
                  sizes: Sequence[int], activation: int, lr: float, epochs: int, tol: float,
                  batch_size: Optional[int], seed: int,
                  record_path: bool = False) -> CompiledMLPRun:
        return CompiledMLPRun(kind, X, y, params, sizes, activation, lr, epochs, tol,
                              batch_size, seed, record_path)
