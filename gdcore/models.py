"""Models: parameters as arrays, and a prediction."""

from __future__ import annotations

import math
import numbers
import os
from typing import Any, ClassVar, Dict, Mapping, Optional, Tuple, Type, Union

import numpy as np

from ._validation import as_features, as_parameter, check_dtype
from .backends import get_backend
from .backends._base import Backend, Run
from .stepsize import auto_lr, needs_row_curvature


#: Model classes by name, for ``gdcore.load``: every subclass of Model registers itself.
MODEL_CLASSES: Dict[str, Type["Model"]] = {}

Config = Dict[str, Any]  # JSON-able: str, int, float, bool, None, lists and dicts of them
Arrays = Dict[str, np.ndarray]  # numeric arrays only


class Model:
    """What the Trainer needs of a model: a width, a dtype, and hooks.

    ``_auto_lr`` gives the step ``lr="auto"`` takes on validated X;
    ``_start`` hands the model's own parameter buffers to a backend and
    returns the Run. Models keep their parameters as arrays of ``dtype``.

    Persistence (``save`` / ``gdcore.load``) goes through two more hooks:
    ``_state()`` returns ``(config, arrays)`` (a JSON-able dict and a dict of
    numeric arrays) and the classmethod ``_from_state(config, arrays)``
    rebuilds the model, validating what it is given. Subclasses register
    under their class name, which is what a saved file names.
    """

    n_features: int
    dtype: np.dtype
    _registry_name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._registry_name = cls.__name__
        MODEL_CLASSES[cls.__name__] = cls

    def predict(self, X: Any) -> np.ndarray:
        """Predictions for the rows of X."""
        raise NotImplementedError

    def save(self, path: Union[str, "os.PathLike[str]"],
             metadata: Optional[Mapping[str, Any]] = None) -> None:
        """Write the model to ``path`` in gdcore's safe format (see ``gdcore.load``).

        Parameters
        ----------
        path : str or path-like
            The file to write (an .npz archive, whatever its extension).
        metadata : mapping, optional
            JSON-able extra information kept alongside (e.g. column names);
            read back with ``gdcore.persist.read``.
        """
        from .persist import save
        save(self, path, metadata)

    def _state(self) -> Tuple[Config, Arrays]:
        raise NotImplementedError

    @classmethod
    def _from_state(cls, config: Config, arrays: Arrays) -> "Model":
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
    _w: np.ndarray
    _b: np.ndarray

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
        self._w = as_parameter(value, self.dtype, (self.n_features,), "w").copy()

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
        curvature, row_curvature = backend.curvature(
            X, self.fit_intercept, rows=needs_row_curvature(X.shape[0], batch_size))
        return auto_lr(curvature, row_curvature, X.shape[0], batch_size)

    def _start(self, backend: Backend, kind: int, X: np.ndarray, y: np.ndarray, lr: float,
               epochs: int, tol: float, batch_size: Optional[int], seed: int,
               record_path: bool, n_jobs: int = 1) -> Run:
        return backend.start(kind, X, y, self._w, self._b, self.fit_intercept, lr, epochs, tol,
                             batch_size, seed, record_path, n_jobs)

    def _state(self) -> Tuple[Config, Arrays]:
        config = {"n_features": self.n_features, "dtype": self.dtype.name,
                  "fit_intercept": self.fit_intercept}
        return config, {"w": self._w.copy(), "b": self._b.copy()}

    @classmethod
    def _from_state(cls, config: Config, arrays: Arrays) -> "LinearModel":
        if set(arrays) != {"w", "b"} or arrays["b"].shape != (1,):
            raise ValueError(f"a LinearModel needs arrays w and b (one value), "
                             f"got {sorted(arrays)}")
        model = cls(config["n_features"], dtype=config["dtype"],
                    fit_intercept=config["fit_intercept"])
        model.w = arrays["w"]
        model.b = float(arrays["b"][0])
        return model

    def __repr__(self) -> str:
        return (f"LinearModel(n_features={self.n_features}, dtype={self.dtype.name}, "
                f"w={np.array2string(self._w, precision=6, threshold=8)}, b={self.b:.6g})")
