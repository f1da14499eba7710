"""A scikit-learn estimator over gdcore: ``GDRegressor``.

This is the only module of gdcore that imports scikit-learn (>= 1.6), which
stays an optional dependency (``pip install gdcore[sklearn]``).
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Union

import numpy as np

try:
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("gdcore.sklearn needs scikit-learn >= 1.6: "
                      "pip install scikit-learn (or gdcore[sklearn])") from exc

from .backends._base import MAX_EPOCHS
from .losses import MAELoss, MSELoss
from .models import LinearModel
from .trainer import History, Trainer

_LOSSES = {"mse": MSELoss, "mae": MAELoss}


class GDRegressor(RegressorMixin, BaseEstimator):
    """Linear regression fitted by gdcore's gradient descent, as a scikit-learn regressor.

    Parameters
    ----------
    loss : {"mse", "mae"}, default="mse"
        Mean squared error or mean absolute error.
    lr : float or "auto", default="auto"
        Learning rate. "auto" takes 1/L from the curvature of the MSE (see
        ``gdcore.Trainer``). With ``standardize=True`` it applies to the
        standardised problem.
    epochs : int, default=1000
        Most passes over the data.
    tol : float, default=1e-6
        Stop when the gradient norm is at most ``tol`` (in the standardised
        problem when ``standardize=True``).
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
        Fit on standardised features and target (centred when
        ``fit_intercept``, scaled to unit variance; constant columns are left
        unscaled), then map the parameters back: ``coef_``, ``intercept_``,
        ``predict`` and ``loss_curve_`` are in the original units. This makes
        the default learning rate and ``tol`` meaningful whatever the data's
        scale (gradient descent is slow on badly scaled data).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features_in_,)
    intercept_ : float
    n_iter_ : int
        Epochs run.
    loss_curve_ : ndarray of shape (n_iter_,)
        Loss of every epoch, in the units of ``y``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has string column names (a pandas DataFrame).
    model_ : gdcore.LinearModel
        The fitted model in original units (``model_.save(path)`` stores it).
    history_ : gdcore.History
        The trainer's record of the fit (in standardised units if
        ``standardize``).

    Notes
    -----
    ``sample_weight`` is not supported: weighting rows exactly would need
    weighted passes in the compiled kernels, which gdcore does not have.
    A fit that stops at ``epochs`` without reaching ``tol`` emits
    sklearn's ``ConvergenceWarning``; a divergent learning rate raises
    ``gdcore.DivergenceError``.

    Examples
    --------
    >>> import numpy as np
    >>> from gdcore.sklearn import GDRegressor
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0]]); y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> reg = GDRegressor(tol=1e-10).fit(X, y)
    >>> round(float(reg.coef_[0]), 6), round(reg.intercept_, 6)
    (1.0, 0.0)
    """

    def __init__(self, loss: str = "mse", lr: Union[float, str] = "auto", epochs: int = 1000,
                 tol: float = 1e-6, batch_size: Optional[int] = None, random_state: Any = None,
                 backend: str = "cython", dtype: str = "float64", fit_intercept: bool = True,
                 standardize: bool = True) -> None:
        self.loss = loss
        self.lr = lr
        self.epochs = epochs
        self.tol = tol
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
        if self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {sorted(_LOSSES)}, got {self.loss!r}")
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        n = X.shape[0]
        batch = None if self.batch_size is None else self.batch_size
        if isinstance(batch, (int, np.integer)) and not isinstance(batch, bool) and batch > n:
            batch = n
        trainer = Trainer(loss=_LOSSES[self.loss](), lr=self.lr, epochs=self.epochs,
                          tol=self.tol, batch_size=batch, random_state=self.random_state,
                          backend=self.backend)
        model = LinearModel(X.shape[1], dtype=self.dtype, fit_intercept=bool(self.fit_intercept))
        x_mean, x_scale, y_mean, y_scale = self._scaling(X, y)
        Xs = (X - x_mean) / x_scale
        ys = (y - y_mean) / y_scale
        history = trainer.fit(model, Xs, ys)

        coef = model.w.astype(np.float64) * y_scale / x_scale
        intercept = y_mean + y_scale * model.b - float(coef @ x_mean)
        self.model_ = LinearModel(X.shape[1], dtype=self.dtype,
                                  fit_intercept=bool(self.fit_intercept))
        self.model_.w = coef
        if self.fit_intercept:
            self.model_.b = float(intercept)
        self.coef_ = self.model_.w.astype(np.float64)
        self.intercept_ = float(self.model_.b)
        units = y_scale ** 2 if self.loss == "mse" else y_scale
        self.loss_curve_ = history.loss * units
        self.n_iter_ = history.n_epochs
        self.history_: History = history
        if history.status == MAX_EPOCHS:
            warnings.warn(f"GDRegressor stopped after epochs={self.epochs} epochs without "
                          f"reaching tol={self.tol} (gradient norm {history.grad_norm:.3g}); "
                          "increase epochs or tol", ConvergenceWarning, stacklevel=2)
        return self

    def _scaling(self, X: np.ndarray, y: np.ndarray) -> "tuple[np.ndarray, np.ndarray, float, float]":
        d = X.shape[1]
        if not self.standardize:
            return np.zeros(d), np.ones(d), 0.0, 1.0
        if self.fit_intercept:
            x_mean, y_mean = X.mean(axis=0), float(y.mean())
            x_scale, y_scale = X.std(axis=0), float(y.std())
        else:  # no intercept: scaling only, centring would change the model
            x_mean, y_mean = np.zeros(d), 0.0
            x_scale = np.sqrt(np.mean(X * X, axis=0))
            y_scale = float(np.sqrt(np.mean(y * y)))
        tiny = 10 * np.finfo(np.float64).eps
        x_scale = np.where(x_scale > tiny * np.maximum(np.abs(x_mean), 1.0), x_scale, 1.0)
        if not y_scale > tiny * max(abs(y_mean), 1.0):
            y_scale = 1.0
        return x_mean, x_scale, y_mean, y_scale

    def predict(self, X: Any) -> np.ndarray:
        """Predictions ``X @ coef_ + intercept_`` for the rows of X, as float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.model_.predict(X).astype(np.float64, copy=False)
