"""A scikit-learn estimator over gdcore: ``GDRegressor``.

This is the only module of gdcore that imports scikit-learn (>= 1.6), which
stays an optional dependency (``pip install gdcore[sklearn]``).
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Callable, Optional, Union

import numpy as np

try:
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.validation import (check_array, check_is_fitted, column_or_1d,
                                          validate_data)
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("gdcore.sklearn needs scikit-learn >= 1.6: "
                      "pip install scikit-learn (or gdcore[sklearn])") from exc

from . import _util
from ._validation import check_not_masked, on_cluster
from .errors import ConvergenceWarning as GDConvergenceWarning
from .loop import MAX_EPOCHS, STALLED
from .losses import MAELoss, MSELoss
from .models import LinearModel
from .history import History
from .strategy import DEFAULT_TOL
from .trainer import Trainer

_LOSSES = {"mse": MSELoss, "mae": MAELoss}


class GDRegressor(RegressorMixin, BaseEstimator):
    """Linear regression fitted by gdcore's gradient descent, as a scikit-learn regressor.

    Parameters
    ----------
    loss : {"mse", "mae"}, default="mse"
        Mean squared error or mean absolute error.
    optimizer : str or gdcore.optim optimizer, default="auto"
        As for ``gdcore.Trainer``: "auto" picks per problem (accelerated
        gradient for full batches, with a smoothing path to the exact optimum
        for the MAE; SGD with momentum and a cosine decay for mini-batches),
        or a name such as "gd", "momentum", "nesterov", "adam", or an
        optimizer object.
    lr : float or "auto", default="auto"
        Learning rate. "auto" takes 1/L from the curvature of the MSE (see
        ``gdcore.Trainer``). With ``standardize=True`` it applies to the
        standardised problem.
    epochs : int or None, default=None
        Most passes over the data (None: 100,000 for the certified full-batch
        fits, else 1000).
    tol : float or None, default=None
        The stopping rule's tolerance (None: 1e-6 for float64, 1e-4 for
        float32; for the default MSE fit, a certified
        relative accuracy of the coefficients; see ``gdcore.Trainer``).
    schedule : None, str or gdcore.optim schedule, default=None
        Learning-rate schedule (None: constant).
    batch_size : int or None, default=None
        None for full-batch gradient descent, else rows per mini-batch step
        (capped at the number of samples).
    random_state : int, numpy Generator or None, default=None
        Seed of the mini-batch order.
    backend : {"cython", "numpy", "python"}, default="cython"
    dtype : {"float64", "float32"}, default="float64"
        Precision of the fit.
    fit_intercept : bool, default=True
        Fit ``intercept_``; otherwise it is 0.
    standardize : bool, default=True
        Fit in standardised coordinates: the features through the
        Trainer's change of variables (``precondition="standardize"``, no copy
        of X), the target centred (when ``fit_intercept``) and scaled to unit
        variance. ``coef_``, ``intercept_``, ``predict`` and ``loss_curve_``
        are in the original units; the step and ``tol`` mean the same
        whatever the data's scale.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features_in_,)
    intercept_ : float
    n_iter_ : int
        Epochs run.
    loss_curve_ : ndarray
        Loss of every epoch, in the units of ``y`` (of every recorded epoch past
        2**20 epochs: ``history_.epochs`` says which).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has string column names (a pandas DataFrame).
    model_ : gdcore.LinearModel
        The fitted model in original units, of the fit's dtype (``model_.save(path)``
        stores it); ``predict`` computes in float64 from ``coef_`` and ``intercept_``.
    history_ : gdcore.History
        The trainer's record of the fit (in the scaled units of y if
        ``standardize``).

    Notes
    -----
    ``sample_weight`` is not supported yet. A fit that stops without
    meeting its stopping rule emits sklearn's ``ConvergenceWarning``; a
    divergent learning rate raises ``gdcore.DivergenceError``.

    Examples
    --------
    >>> import numpy as np
    >>> from gdcore.sklearn import GDRegressor
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0]]); y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> reg = GDRegressor(tol=1e-10).fit(X, y)
    >>> round(float(reg.coef_[0]), 6), abs(round(reg.intercept_, 6))
    (1.0, 0.0)
    """

    def __init__(self, loss: str = "mse", optimizer: Any = "auto",
                 lr: Union[float, str] = "auto", epochs: Optional[int] = None,
                 tol: Optional[float] = None, schedule: Any = None, batch_size: Optional[int] = None,
                 random_state: Any = None, backend: str = "cython", dtype: str = "float64",
                 fit_intercept: bool = True, standardize: bool = True) -> None:
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.tol = tol
        self.schedule = schedule
        self.batch_size = batch_size
        self.random_state = random_state
        self.backend = backend
        self.dtype = dtype
        self.fit_intercept = fit_intercept
        self.standardize = standardize

    def fit(self, X: Any, y: Any) -> "GDRegressor":
        """Fit the linear model to ``(X, y)``; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        """
        if not isinstance(self.loss, str) or self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {sorted(_LOSSES)}, got {self.loss!r}")
        if y is not None and (on_cluster(X) or on_cluster(y)):  # kept on the cluster
            from .dask import estimator_data
            X, y = estimator_data(self, X, y)
        # C order: the column means and X @ coef_ then sum in the same order whatever the
        # layout X came in, so any layout gives the same fit and predictions, bit for bit
        X = _checked(X, "X", lambda v: validate_data(self, v, dtype=np.float64, order="C"))
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             f"is None")
        y = _checked(y, "y", lambda v: column_or_1d(
            check_array(v, ensure_2d=False, dtype=np.float64, order="C", input_name="y"),
            warn=True))
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X and y have different lengths: X has {X.shape[0]} rows, "
                             f"y has {y.shape[0]} values")
        n = X.shape[0]
        batch = None if self.batch_size is None else self.batch_size
        if isinstance(batch, (int, np.integer)) and not isinstance(batch, bool) and batch > n:
            batch = n
        trainer = Trainer(loss=_LOSSES[self.loss](), optimizer=self.optimizer, lr=self.lr,
                          epochs=self.epochs, tol=self.tol, schedule=self.schedule,
                          precondition="standardize" if self.standardize else None,
                          batch_size=batch, random_state=self.random_state,
                          backend=self.backend)
        model = LinearModel(X.shape[1], dtype=self.dtype, fit_intercept=bool(self.fit_intercept))
        y_mean, y_scale = self._target_scaling(y)
        x_mean, x_scale = self._feature_scaling(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GDConvergenceWarning)  # reported below, as sklearn's
            history = trainer.fit(model, X if x_scale is None else (X - x_mean) / x_scale,
                                  (y - y_mean) / y_scale)

        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
            coef = model.w.astype(np.float64) * y_scale
            intercept = y_mean + y_scale * float(model.b) if self.fit_intercept else 0.0
            if x_scale is not None:
                coef = coef / x_scale
                intercept -= float(x_mean @ coef) if self.fit_intercept else 0.0
            representable = np.append(coef, intercept).astype(self.dtype)
        if not np.all(np.isfinite(representable)):
            raise ValueError(f"the fitted coefficients overflow {np.dtype(self.dtype).name} in "
                             f"the units of X and y (largest |coef| "
                             f"{float(np.max(np.abs(coef))):.3g}, |intercept| {abs(intercept):.3g})"
                             f": rescale X or y")
        self.coef_ = coef
        self.intercept_ = float(intercept)
        self.model_ = LinearModel(X.shape[1], dtype=self.dtype,
                                  fit_intercept=bool(self.fit_intercept))
        self.model_.w = coef
        self.model_.b = self.intercept_
        with np.errstate(over="ignore"):  # an MSE beyond float64 in y's units (y near 1e300) is inf
            self.loss_curve_ = history.loss * y_scale * (y_scale if self.loss == "mse" else 1.0)
        self.n_iter_ = history.n_epochs
        self.history_: History = history
        if history.status in (MAX_EPOCHS, STALLED):
            reason = (f"after {history.n_epochs} epochs" if history.status == MAX_EPOCHS
                      else "stalled at the limit of precision")
            tol = DEFAULT_TOL[np.dtype(self.dtype)] if self.tol is None else self.tol
            warnings.warn(f"GDRegressor stopped {reason} without meeting tol={tol:g} "
                          f"(gradient norm {history.grad_norm:.3g}); increase epochs or tol",
                          ConvergenceWarning, stacklevel=2)
        return self

    def _target_scaling(self, y: np.ndarray) -> "tuple[float, float]":
        if not self.standardize:
            return 0.0, 1.0
        big = float(np.max(np.abs(y))) or 1.0  # squares of y / big neither overflow nor underflow
        if self.fit_intercept:
            y_mean, y_scale = float(y.mean()), big * float((y / big).std())
        else:  # no intercept: scaling only, centring would change the model
            y_mean, y_scale = 0.0, big * float(np.sqrt(np.mean((y / big) ** 2)))
        if not (np.isfinite(y_scale) and y_scale > 10 * np.finfo(np.float64).eps * abs(y_mean)):
            y_scale = 1.0  # constant (to rounding): nothing to scale
        return y_mean, y_scale

    def _feature_scaling(self, X: np.ndarray) -> "tuple[np.ndarray, Optional[np.ndarray]]":
        """(mean, scale) of X's columns, in float64, for a float32 fit (else scale None).

        float64 fits standardise through the Trainer's change of variables, with no
        copy of X; a float32 fit converts X anyway, and centring it first keeps the
        digits that converting raw values (say near 1e8) would lose.
        """
        if not self.standardize or np.dtype(self.dtype) == np.float64:
            return np.zeros(X.shape[1]), None
        mean = np.asarray(X.mean(axis=0)) if self.fit_intercept else np.zeros(X.shape[1])
        scale = np.sqrt(np.asarray(np.mean((X - mean) ** 2, axis=0)))  # (dask X: computed)
        scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
        return mean, scale

    def predict(self, X: Any) -> np.ndarray:
        """Predictions ``X @ coef_ + intercept_`` for the rows of X, in float64 (also
        after a float32 fit: its raw-unit coefficients need the digits).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        if on_cluster(X):  # a dask array of predictions, computed where X's chunks are
            from .dask import estimator_predict
            return estimator_predict(self, X)
        X = _checked(X, "X", lambda v: validate_data(self, v, dtype=np.float64, order="C",
                                                     reset=False))
        return predictions(X, self.coef_, self.intercept_)


def predictions(X: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    """X @ coef + intercept for validated float64 X, an overflow reported."""
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        out = X @ coef + intercept
    if not _util.all_finite(out):
        raise ValueError("the predictions overflow float64 arithmetic (X is too large "
                         "for this model's coefficients)")
    return out


#: dtype kinds that are not numbers, though scikit-learn would convert some of them:
#: strings, bytes, dates, durations, records.
_NOT_NUMBERS = "USMmV"


def _checked(value: Any, name: str, check: Callable[[Any], Any]) -> Any:
    """``check(value)``, scikit-learn's validation, after gdcore's rules (no masked entries;
    no strings, bytes or dates), its errors naming the argument."""
    if on_cluster(value):
        return value  # checked by gdcore.dask.estimator_data
    value = check_not_masked(value, name)
    dtypes = list(value.dtypes) if hasattr(value, "columns") else [getattr(value, "dtype", None)]
    if dtypes == [None]:  # a list or the like
        try:
            dtypes = [np.asarray(value).dtype]
        except (TypeError, ValueError):  # ragged: scikit-learn's check says so
            dtypes = []
    for dtype in dtypes:
        if getattr(dtype, "kind", "O") in _NOT_NUMBERS or str(dtype) in ("string", "str"):
            raise TypeError(f"{name} must be numeric, got dtype {dtype}")
    try:
        return check(value)
    except ValueError as exc:
        if re.search(rf"\b{name}\b", str(exc)):
            raise
        raise ValueError(f"{name}: {exc}") from exc
