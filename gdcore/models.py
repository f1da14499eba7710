"""Models: parameters as arrays, and a prediction."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._validation import as_features, check_dtype
from .backends import get_backend


class LinearModel:
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
        if Xc.shape[1] != self.n_features:
            raise ValueError(f"X has {Xc.shape[1]} features but the model has {self.n_features}")
        return get_backend("cython").predict(Xc, self._w, self.b)

    def __repr__(self) -> str:
        return (f"LinearModel(n_features={self.n_features}, dtype={self.dtype.name}, "
                f"w={np.array2string(self._w, precision=6, threshold=8)}, b={self.b:.6g})")
