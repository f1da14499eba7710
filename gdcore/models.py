"""Models: parameters as arrays, and a prediction."""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional

import numpy as np

from ._validation import as_features, check_dtype
from .backends import get_backend
from .backends._base import Backend, Run
from .stepsize import auto_lr


class Model:
    """What the Trainer needs of a model: a width, a dtype, and two hooks.

    ``_auto_lr`` gives the step ``lr="auto"`` takes on validated X;
    ``_start`` hands the model's own parameter buffers to a backend and
    returns the Run. Models keep their parameters as arrays of ``dtype``.
    """

    n_features: int
    dtype: np.dtype

    def predict(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def _auto_lr(self, backend: Backend, X: np.ndarray, batch_size: Optional[int]) -> float:
        raise NotImplementedError

    def _start(self, backend: Backend, kind: int, X: np.ndarray, y: np.ndarray, lr: float,
               epochs: int, tol: float, batch_size: Optional[int], seed: int,
               record_path: bool, n_jobs: int = 1) -> Run:
        raise NotImplementedError

    def _check_features(self, X: np.ndarray) -> None:
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features but the model has "
                             f"n_features={self.n_features}")


class LinearModel(Model):
    """y_hat = X w + b, with ``w`` of shape (n_features,) and ``b`` a float.

    Parameters start at zero. ``fit_intercept=False`` is the tutorial's
    y = w x: ``b`` stays 0 and gradient descent leaves it alone.
    """

    def __init__(self, n_features: int, dtype: Any = np.float64, fit_intercept: bool = True) -> None:
        if (not isinstance(n_features, numbers.Integral) or isinstance(n_features, bool)
                or n_features < 1):
            raise ValueError(f"n_features must be an integer >= 1, got {n_features!r}")
        self.n_features = int(n_features)
        self.dtype = check_dtype(dtype)
        self.fit_intercept = bool(fit_intercept)
        self._w = np.zeros(self.n_features, dtype=self.dtype)
        self._b = np.zeros(1, dtype=self.dtype)  # one element, so kernels update it in place

    @property
    def w(self) -> np.ndarray:
        return self._w

    @w.setter
    def w(self, value: Any) -> None:
        arr = np.asarray(value, dtype=self.dtype).reshape(-1)
        if arr.shape != (self.n_features,):
            raise ValueError(f"w must have shape ({self.n_features},), got {np.shape(value)}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("w must be finite")
        self._w = arr.copy()

    @property
    def b(self) -> float:
        return float(self._b[0])

    @b.setter
    def b(self, value: Any) -> None:
        if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                or not math.isfinite(value)):
            raise ValueError(f"b must be a finite number, got {value!r}")
        self._b[0] = value

    def predict(self, X: Any) -> np.ndarray:
        """Predictions for the rows of X (1-D X is one feature)."""
        Xc = as_features(X, self.dtype)
        self._check_features(Xc)
        return get_backend("cython").predict(Xc, self._w, self.b)

    def _auto_lr(self, backend: Backend, X: np.ndarray, batch_size: Optional[int]) -> float:
        curvature, row_curvature = backend.curvature(X, self.fit_intercept)
        return auto_lr(curvature, row_curvature, X.shape[0], batch_size)

    def _start(self, backend: Backend, kind: int, X: np.ndarray, y: np.ndarray, lr: float,
               epochs: int, tol: float, batch_size: Optional[int], seed: int,
               record_path: bool, n_jobs: int = 1) -> Run:
        return backend.start(kind, X, y, self._w, self._b, self.fit_intercept, lr, epochs, tol,
                             batch_size, seed, record_path, n_jobs)

    def __repr__(self) -> str:
        return (f"LinearModel(n_features={self.n_features}, dtype={self.dtype.name}, "
                f"w={np.array2string(self._w, precision=6, threshold=8)}, b={self.b:.6g})")
