"""The NumPy backend: the same loop as the python backend, vectorised.

This is "NumPy by hand" as a user would write it (X @ w, then X.T @ r):
two passes over X per step, temporaries of length N. Arithmetic runs in the
model's dtype.
"""

from __future__ import annotations

import math

from typing import Optional, Sequence, Tuple

import numpy as np

from .._random import start_vector
from ._base import MSE
from ..stepsize import gram_blas, lambda_max_of_gram, uses_gram
from ._loop import Engine, ReferenceRun, power_iteration


def loss_terms(kind: int, r: np.ndarray) -> np.ndarray:
    return r * r if kind == MSE else np.abs(r)


def loss_sum_and_slopes(kind: int, r: np.ndarray) -> Tuple[float, np.ndarray]:
    """sum of the loss terms, and the slopes d(term)/d(y_hat), reusing r's memory."""
    if kind == MSE:
        total = float(r @ r)
        r *= 2
        return total, r
    total = float(np.abs(r).sum())
    return total, np.sign(r, out=r)


def _blocks(X: np.ndarray, rows: int = 8192):
    """Row blocks of X, so per-row temporaries stay small."""
    return (X[i:i + rows] for i in range(0, X.shape[0], rows))


class ArrayEngine(Engine):
    def __init__(self, kind: int, X: np.ndarray, y: np.ndarray, w: np.ndarray,
                 b: np.ndarray, fit_intercept: bool) -> None:
        self.kind, self.X, self.y = kind, X, y
        self.w, self.b, self.fit_intercept = w, b, fit_intercept

    def evaluate(self, rows: Optional[Sequence[int]]) -> Tuple[float, np.ndarray, float]:
        X, y = (self.X, self.y) if rows is None else (self.X[rows], self.y[rows])
        r = X @ self.w
        r += self.b[0]
        r -= y
        total, slope = loss_sum_and_slopes(self.kind, r)
        n = len(y)
        return total / n, (X.T @ slope) / n, float(slope.sum() / n)

    def update(self, gw: np.ndarray, gb: float, lr: float) -> None:
        self.w -= (lr * gw).astype(self.w.dtype)
        if self.fit_intercept:
            self.b[0] -= lr * gb

    def snapshot(self) -> Tuple[np.ndarray, np.ndarray]:
        return self.w.copy(), self.b.copy()

    def restore(self, snap: Tuple[np.ndarray, np.ndarray]) -> None:
        self.w[:], self.b[:] = snap

    def weighted_sum(self, acc: Optional[np.ndarray], g: np.ndarray, weight: float) -> np.ndarray:
        return weight * g if acc is None else acc + weight * g

    def sq_norm(self, g: np.ndarray) -> float:
        return float(np.dot(g, g))

    def flat(self, snap: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return np.concatenate(snap)


class NumpyBackend:
    name = "numpy"

    def predict(self, X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
        return X @ w + X.dtype.type(b)

    def loss_value(self, kind: int, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(loss_terms(kind, y_pred - y_true).mean())

    def loss_grad(self, kind: int, X: np.ndarray, y: np.ndarray, w: np.ndarray,
                  b: float) -> Tuple[float, np.ndarray, float]:
        engine = ArrayEngine(kind, X, y, w, np.array([b], dtype=X.dtype), True)
        return engine.evaluate(None)

    def curvature(self, X: np.ndarray, fit_intercept: bool,
                  rows: bool = True) -> Tuple[float, float]:
        n, d = X.shape
        row_max = math.nan
        if rows:
            row_max = 2.0 * (max(float(np.einsum("ij,ij->i", block, block, dtype=np.float64).max())
                                 for block in _blocks(X)) + fit_intercept)
        if uses_gram(d + fit_intercept):
            return lambda_max_of_gram(gram_blas(X, fit_intercept), n), row_max
        X64 = X.astype(np.float64, copy=False)

        def hessian_times(v: np.ndarray) -> np.ndarray:
            s = X64 @ v[:d] + (v[d] if fit_intercept else 0.0)
            out = X64.T @ s
            if fit_intercept:
                out = np.append(out, s.sum())
            return 2.0 * out / n

        v0 = np.array(start_vector(d + fit_intercept))
        lam = power_iteration(hessian_times, v0, lambda v: float(np.linalg.norm(v)))
        return lam, row_max

    def start(self, kind: int, X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray,
              fit_intercept: bool, lr: float, epochs: int, tol: float,
              batch_size: Optional[int], seed: int, record_path: bool = False,
              n_jobs: int = 1) -> ReferenceRun:
        engine = ArrayEngine(kind, X, y, w, b, fit_intercept)
        return ReferenceRun(engine, len(y), lr, epochs, tol, batch_size, seed, record_path)

    # Multi-layer perceptrons (sizes, activation and the flat parameters: see _network).

    def mlp_predict(self, X: np.ndarray, params: np.ndarray, sizes: Sequence[int],
                    activation: int) -> np.ndarray:
        from .numpy_mlp import forward
        return forward(params, sizes, activation, X)[-1][:, 0].copy()

    def mlp_loss_grad(self, kind: int, X: np.ndarray, y: np.ndarray, params: np.ndarray,
                      sizes: Sequence[int], activation: int) -> Tuple[float, np.ndarray]:
        from .numpy_mlp import loss_grad
        return loss_grad(kind, X, y, params, sizes, activation)

    def start_mlp(self, kind: int, X: np.ndarray, y: np.ndarray, params: np.ndarray,
                  sizes: Sequence[int], activation: int, lr: float, epochs: int, tol: float,
                  batch_size: Optional[int], seed: int,
                  record_path: bool = False) -> ReferenceRun:
        from .numpy_mlp import MLPArrayEngine
        engine = MLPArrayEngine(kind, X, y, params, sizes, activation)
        return ReferenceRun(engine, len(y), lr, epochs, tol, batch_size, seed, record_path)
