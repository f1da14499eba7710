"""The linear model y_hat = X w + b, the tutorial's model."""

from __future__ import annotations

import math
import numbers
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .._validation import as_features, as_parameter, check_dtype, check_model_size
from ..backends import get_backend
from ..backends._base import Backend
from ..curvature import auto_lr, needs_row_curvature, raw_curvature
from ..losses import Loss
from ..loop import Objective
from .base import Arrays, Config, Model, config_dtype, config_fields


class LinearModel(Model):
    """y_hat = X w + b, with ``w`` of shape (n_features,) and ``b`` a float.

    Parameters
    ----------
    n_features : int
        Width of X (>= 1).
    dtype : numpy.float64 (default) or numpy.float32
        Precision of the parameters and of the fit.
    fit_intercept : bool
        False is the tutorial's y = w x: ``b`` stays 0 and gradient descent
        leaves it alone.

    Attributes
    ----------
    w : numpy.ndarray of shape (n_features,)
        Starts at zero; assignable (validated, copied).
    b : float
        Starts at zero; assignable.

    Examples
    --------
    >>> import gdcore
    >>> model = gdcore.LinearModel(2)
    >>> model.w, model.b = [1.0, 2.0], 0.5
    >>> model.predict([[1.0, 1.0]])
    array([3.5])
    """

    fit_intercept: bool
    _linear = True
    _params: np.ndarray

    def __init__(self, n_features: int, dtype: Any = np.float64, fit_intercept: bool = True) -> None:
        self.n_features = _check_n_features(n_features)
        self.dtype = check_dtype(dtype)
        check_model_size(self.n_features + 1, self.dtype, "n_features")
        self.fit_intercept = bool(fit_intercept)
        self._params = np.zeros(self.n_features + 1, dtype=self.dtype)  # [w..., b]

    @property
    def params(self) -> np.ndarray:
        """``[w..., b]``: the buffer fits update (``w`` is a view of it)."""
        return self._params

    @property
    def _n_free(self) -> int:
        return self.n_features + self.fit_intercept

    @property
    def _penalised(self) -> np.ndarray:
        return np.arange(self.n_features + 1) < self.n_features

    @property
    def w(self) -> np.ndarray:
        return self._params[:-1]

    @w.setter
    def w(self, value: Any) -> None:  # in place: the fit and any view see the new values
        self._params[:-1] = as_parameter(value, self.dtype, (self.n_features,), "w")

    @property
    def b(self) -> float:
        return float(self._params[-1])

    @b.setter
    def b(self, value: Any) -> None:
        if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                or not math.isfinite(value)):
            raise ValueError(f"b must be a finite number, got {value!r}")
        self._params[-1] = as_parameter(value, self.dtype, (1,), "b")[0]

    def predict(self, X: Any) -> np.ndarray:
        """Predictions ``X @ w + b`` for the rows of X (1-D X is one feature).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features) or (n_samples,)
            The rows to predict, converted to the model's dtype.

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            ``X @ w + b``, computed in the model's dtype.

        Raises
        ------
        ValueError
            X does not have ``n_features`` columns, or ``X @ w + b``
            overflows the model's dtype.
        """
        Xc = as_features(X, self.dtype)
        self._check_features(Xc)
        return self._finite(get_backend("cython").predict_linear(Xc, self._params))

    def _objective(self, backend: Backend, loss: Loss, X: np.ndarray, y: np.ndarray,
                   n_jobs: int = 1, sample_weight: Optional[np.ndarray] = None) -> Objective:
        return backend.linear(loss, X, y, n_jobs, sample_weight)

    def _split_gradient(self, grad: np.ndarray) -> Tuple[np.ndarray, float]:
        """(dL/dw, dL/db)."""
        return grad[:-1].astype(self.dtype), float(grad[-1])

    def _auto_lr(self, backend: Backend, X: np.ndarray, batch_size: Optional[int],
                 sample_weight: Optional[np.ndarray] = None) -> float:
        curvature, row_curvature = raw_curvature(
            backend, X, self.fit_intercept, needs_row_curvature(X.shape[0], batch_size),
            sample_weight)
        return auto_lr(curvature, row_curvature, X.shape[0], batch_size)

    def _state(self) -> Tuple[Config, Arrays]:
        config = {"n_features": self.n_features, "dtype": self.dtype.name,
                  "fit_intercept": self.fit_intercept}
        return config, {"w": self._params[:-1].copy(), "b": self._params[-1:].copy()}

    @classmethod
    def _state_layout(cls, config: Config) -> Tuple[np.dtype, Dict[str, Tuple[int, ...]]]:
        n_features, dtype, fit_intercept = config_fields(config, "n_features", "dtype",
                                                         "fit_intercept")
        n, dt = _check_n_features(n_features), config_dtype(dtype)
        check_model_size(n + 1, dt, "n_features")
        if not isinstance(fit_intercept, bool):
            raise ValueError(f"fit_intercept must be true or false, got {fit_intercept!r}")
        return dt, {"w": (n,), "b": (1,)}

    @classmethod
    def _from_state(cls, config: Config, arrays: Arrays) -> "LinearModel":
        dtype = cls._check_state(config, arrays)
        model = cls(config["n_features"], dtype=dtype, fit_intercept=config["fit_intercept"])
        model.w = arrays["w"]
        model.b = float(arrays["b"][0])
        return model

    def __repr__(self) -> str:
        return (f"LinearModel(n_features={self.n_features}, dtype={self.dtype.name}, "
                f"w={np.array2string(self.w, precision=6, threshold=8)}, b={self.b:.6g})")


def _check_n_features(n_features: Any) -> int:
    if (not isinstance(n_features, numbers.Integral) or isinstance(n_features, bool)
            or n_features < 1):
        raise ValueError(f"n_features must be an integer >= 1, got {n_features!r}")
    return int(n_features)
