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

from ._validation import check_not_masked, check_penalty, on_cluster
from .data import (estimator_data as estimator_file_data,
                   estimator_predict as estimator_file_predict, on_disk)
from .errors import ConvergenceWarning as GDConvergenceWarning
from .linalg import predictions
from .loop import MAX_EPOCHS, STALLED
from .losses import HuberLoss, MAELoss, MSELoss
from .models import LinearModel
from .history import History
from .strategy import DEFAULT_TOL
from .trainer import Trainer

_LOSSES = ("mse", "mae", "huber")


class GDRegressor(RegressorMixin, BaseEstimator):
    """Linear regression fitted by gdcore's gradient descent, as a scikit-learn regressor.

    Parameters
    ----------
    loss : {"mse", "mae", "huber"}, default="mse"
        Mean squared error, mean absolute error or the Huber loss.
    epsilon : float, default=1.35
        The Huber loss's threshold, in the units of y: residuals beyond it
        count linearly (``loss="huber"`` only).
    penalty : {None, "l2", "l1", "elasticnet"}, default=None
        Adds alpha * ((1 - l1_ratio) / 2 ||coef_||^2 + l1_ratio ||coef_||_1) to
        the loss, as ``SGDRegressor`` (the intercept is not penalised); see
        ``gdcore.Trainer`` for how alpha relates to ``Ridge``, ``Lasso`` and
        ``ElasticNet``'s. The L1 part gives exact zeros.
    alpha : float, default=1e-4
        The penalty's strength.
    l1_ratio : float, default=0.15
        The L1 share of "elasticnet".
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop after
        ``n_iter_no_change`` epochs without a new smallest held-out loss, and
        keep the best epoch's coefficients (see ``gdcore.Trainer``).
    validation_fraction : float, default=0.1
        The share of the rows ``early_stopping`` holds out, in (0, 1).
    n_iter_no_change : int, default=5
        The epochs ``early_stopping`` waits for a new smallest held-out loss.
    warm_start : bool, default=False
        ``fit`` starts from the previous fit's coefficients and carries its
        optimizer on (momentum, Adam's moments, step count, schedule, random
        stream); scikit-learn resets the schedule.
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
    shuffle : bool or {"rows", "blocks"}, default=True
        The order of a mini-batch epoch's rows, as ``SGDRegressor``'s:
        True reshuffles every row each epoch ("rows"), False keeps the rows
        in order; "blocks" shuffles contiguous blocks of rows and the rows
        within each, which reads X nearly in order (see ``gdcore.Trainer``
        for what each means statistically). Full-batch fits ignore it.

    Attributes
    ----------
    coef_ : ndarray of shape (``n_features_in_``,)
        The coefficients, in the units of X and y.
    intercept_ : float
        The intercept, in the units of y (0 without ``fit_intercept``).
    n_iter_ : int
        Epochs run.
    loss_curve_ : ndarray
        Loss of every epoch, in the units of ``y`` (of every recorded epoch past
        2**20 epochs: ``history_.epochs`` says which).
    n_features_in_ : int
        The number of features X had in ``fit``.
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
    ``fit(X, y, sample_weight)`` weights the rows as ``Trainer.fit`` does:
    the loss is sum_i w_i loss_i / sum_i w_i (the convention of
    ``Lasso``/``ElasticNet``, which rescale the weights likewise), so integer
    weights fit as repeated rows and zero weights as dropped ones. A fit
    that stops without meeting its stopping rule emits sklearn's
    ``ConvergenceWarning``; a divergent learning rate raises
    ``gdcore.DivergenceError``.

    Examples
    --------
    >>> import numpy as np
    >>> from gdcore.sklearn import GDRegressor
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0]]); y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> reg = GDRegressor(tol=1e-10).fit(X, y)
    >>> round(float(reg.coef_[0]), 6), abs(round(reg.intercept_, 6))
    (1.0, 0.0)
    """

    def __init__(self, loss: str = "mse", epsilon: float = 1.35, penalty: Optional[str] = None,
                 alpha: float = 1e-4, l1_ratio: float = 0.15, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 5,
                 warm_start: bool = False, optimizer: Any = "auto",
                 lr: Union[float, str] = "auto", epochs: Optional[int] = None,
                 tol: Optional[float] = None, schedule: Any = None, batch_size: Optional[int] = None,
                 random_state: Any = None, backend: str = "cython", dtype: str = "float64",
                 fit_intercept: bool = True, standardize: bool = True,
                 shuffle: Union[bool, str] = True) -> None:
        self.loss = loss
        self.epsilon = epsilon
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
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
        self.shuffle = shuffle

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "GDRegressor":
        """Fit the linear model to ``(X, y)``; returns ``self``. With ``warm_start``,
        from the coefficients of the previous fit, its optimizer carried on.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training data (also a dask array, or a ``gdcore.data.open_npy``
            file, streamed from disk; y is then read into memory).
        y : array-like of shape (n_samples,)
            The targets.
        sample_weight : array-like of shape (n_samples,) or None
            The rows' weights (finite, >= 0, not all 0); None weighs them alike.

        Returns
        -------
        self : GDRegressor
            The fitted estimator.
        """
        X, y = self._data(X, y, reset=True)
        scaling = self._scaling(X, y)
        trainer, model = self._trainer(scaling, X.shape[0]), self._model(X.shape[1])
        previous = getattr(self, "_carried", None)
        if self.warm_start and previous is not None and previous[1].n_features == X.shape[1]:
            model = previous[1]  # the model its trainer's stream carries on
            self._to_scaled(model, scaling)
            trainer.warm_start, trainer._stream = True, previous[0]._stream
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GDConvergenceWarning)  # reported below, as sklearn's
            history = trainer.fit(model, *self._scaled(X, y, scaling),
                                  sample_weight=sample_weight)
        self._publish(model, scaling, history)
        self._carried = (trainer, model, scaling)
        self.n_iter_ = history.n_epochs
        self.loss_curve_ = self._in_y_units(history.loss, scaling)
        if history.status in (MAX_EPOCHS, STALLED):
            reason = (f"after {history.n_epochs} epochs" if history.status == MAX_EPOCHS
                      else "stalled at the limit of precision")
            tol = DEFAULT_TOL[np.dtype(self.dtype)] if self.tol is None else self.tol
            warnings.warn(f"GDRegressor stopped {reason} without meeting tol={tol:g} "
                          f"(gradient norm {history.grad_norm:.3g}); increase epochs or tol",
                          ConvergenceWarning, stacklevel=2)
        return self

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> "GDRegressor":
        """One epoch over ``(X, y)``, continuing the fits before it (``Trainer.partial_fit``):
        the scaling of y (and of X, in float32) is the first call's; ``n_iter_`` counts
        the epochs and ``loss_curve_`` grows by one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            This epoch's rows; the first call fixes ``n_features_in_``.
        y : array-like of shape (n_samples,)
            Their targets.
        sample_weight : array-like of shape (n_samples,) or None
            Their weights, relative within this call's rows.

        Returns
        -------
        self : GDRegressor
            The estimator, one epoch further.

        Examples
        --------
        >>> import numpy as np
        >>> from gdcore.sklearn import GDRegressor
        >>> X = np.array([[1.0], [2.0], [3.0], [4.0]]); y = np.array([1.0, 2.5, 2.5, 4.5])
        >>> reg = GDRegressor()
        >>> for _ in range(3):
        ...     reg = reg.partial_fit(X, y)
        >>> reg.n_iter_, reg.loss_curve_.shape
        (3, (3,))
        """
        first = getattr(self, "_carried", None) is None
        X, y = self._data(X, y, reset=first)
        if first:
            scaling = self._scaling(X, y)
            self._carried = (self._trainer(scaling, X.shape[0]), self._model(X.shape[1]), scaling)
            self.n_iter_, self.loss_curve_ = 0, np.empty(0)
        trainer, model, scaling = self._carried
        history = trainer.partial_fit(model, *self._scaled(X, y, scaling),
                                      sample_weight=sample_weight)
        self._publish(model, scaling, history)
        self.n_iter_ += history.n_epochs
        self.loss_curve_ = np.append(self.loss_curve_, self._in_y_units(history.loss, scaling))
        return self

    def _data(self, X: Any, y: Any, reset: bool) -> "tuple[np.ndarray, np.ndarray]":
        """X and y validated (and the settings): float64, C order, the same length."""
        if not isinstance(self.loss, str) or self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {sorted(_LOSSES)}, got {self.loss!r}")
        HuberLoss(self.epsilon)  # checks it, for every loss
        check_penalty(self.penalty, self.alpha, self.l1_ratio)
        if y is not None and (on_cluster(X) or on_cluster(y)):  # kept on the cluster
            from .dask import estimator_data
            X, y = estimator_data(self, X, y)
        if y is not None and on_disk(X):  # streamed from its file; y read (n values)
            X, y = estimator_file_data(self, X, y)
        # C order: the column means and X @ coef_ then sum in the same order whatever the
        # layout X came in, so any layout gives the same fit and predictions, bit for bit
        X = _checked(X, "X", lambda v: validate_data(self, v, dtype=np.float64, order="C",
                                                     reset=reset))
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             f"is None")
        y = _checked(y, "y", lambda v: column_or_1d(
            check_array(v, ensure_2d=False, dtype=np.float64, order="C", input_name="y"),
            warn=True))
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X and y have different lengths: X has {X.shape[0]} rows, "
                             f"y has {y.shape[0]} values")
        return X, y

    def _scaling(self, X: np.ndarray, y: np.ndarray) -> "tuple[Any, ...]":
        """(x_mean, x_scale or None, y_mean, y_scale): the fit's units (see standardize)."""
        return (*self._feature_scaling(X), *self._target_scaling(y))

    def _scaled(self, X: np.ndarray, y: np.ndarray,
                scaling: "tuple[Any, ...]") -> "tuple[np.ndarray, np.ndarray]":
        x_mean, x_scale, y_mean, y_scale = scaling
        return (X if x_scale is None else (X - x_mean) / x_scale), (y - y_mean) / y_scale

    def _trainer(self, scaling: "tuple[Any, ...]", n: int) -> Trainer:
        """The Trainer of the fit in the scaled units."""
        y_scale = scaling[3]
        l2, l1 = check_penalty(self.penalty, self.alpha, self.l1_ratio)
        loss = {"mse": MSELoss(), "mae": MAELoss()}.get(self.loss) or self._huber(y_scale)
        # the objective in y's scaled units is the user's divided by s^2 (s for the MAE),
        # whose coefficients are divided by s: the penalty's parts scale apart
        if self.loss == "mae":
            l2 = l2 * y_scale
        else:
            l1 = l1 / y_scale
        batch = self.batch_size
        if isinstance(batch, (int, np.integer)) and not isinstance(batch, bool) and batch > n:
            batch = n
        return Trainer(loss=loss, optimizer=self.optimizer, lr=self.lr,
                       penalty=None if l2 + l1 == 0 else "elasticnet", alpha=l2 + l1,
                       l1_ratio=l1 / (l2 + l1) if l2 + l1 > 0 else 0.0,
                       epochs=self.epochs, tol=self.tol, schedule=self.schedule,
                       precondition="standardize" if self.standardize else None,
                       batch_size=batch, random_state=self.random_state,
                       backend=self.backend, early_stopping=self.early_stopping,
                       validation_fraction=self.validation_fraction,
                       n_iter_no_change=self.n_iter_no_change, shuffle=self._order())

    def _order(self) -> Any:
        """The Trainer's ``shuffle`` for this one (SGDRegressor's bool mapped)."""
        if isinstance(self.shuffle, (bool, np.bool_)):
            return "rows" if self.shuffle else False
        return self.shuffle

    def _model(self, n_features: int) -> LinearModel:
        return LinearModel(n_features, dtype=self.dtype, fit_intercept=bool(self.fit_intercept))

    def _to_scaled(self, model: LinearModel, scaling: "tuple[Any, ...]") -> None:
        """Set ``model`` to coef_ and intercept_ in the scaled units of ``scaling``."""
        x_mean, x_scale, y_mean, y_scale = scaling
        coef = self.coef_ if x_scale is None else self.coef_ * x_scale
        model.w = coef / y_scale
        if self.fit_intercept:
            shift = 0.0 if x_scale is None else float(x_mean @ self.coef_)
            model.b = (self.intercept_ - y_mean + shift) / y_scale

    def _publish(self, model: LinearModel, scaling: "tuple[Any, ...]", history: History) -> None:
        """coef_, intercept_, model_ and history_ from the fitted model in scaled units."""
        x_mean, x_scale, y_mean, y_scale = scaling
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
        self.model_ = self._model(coef.shape[0])
        self.model_.w = coef
        self.model_.b = self.intercept_
        self.history_: History = history

    def _in_y_units(self, loss: np.ndarray, scaling: "tuple[Any, ...]") -> np.ndarray:
        y_scale = scaling[3]
        with np.errstate(over="ignore"):  # an MSE beyond float64 in y's units (y near 1e300) is inf
            return loss * y_scale * (1.0 if self.loss == "mae" else y_scale)

    def _huber(self, y_scale: float) -> HuberLoss:
        """The Huber loss in y's scaled units: Huber_eps(r) = s^2 Huber_{eps/s}(r / s)."""
        epsilon = float(self.epsilon) / y_scale
        if not (np.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"epsilon={self.epsilon!r} is out of range at y's scale "
                             f"({y_scale:.3g}): its ratio is {epsilon}")
        return HuberLoss(epsilon)

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
        if not self.standardize or np.dtype(self.dtype) == np.float64 or self.penalty is not None:
            return np.zeros(X.shape[1]), None  # (a penalty is on the user's coefficients)
        mean = np.asarray(X.mean(axis=0)) if self.fit_intercept else np.zeros(X.shape[1])
        scale = np.sqrt(np.asarray(np.mean((X - mean) ** 2, axis=0)))  # (dask X: computed)
        scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
        return mean, scale

    def predict(self, X: Any) -> np.ndarray:
        """Predictions ``X @ coef_ + intercept_`` for the rows of X, in float64 (also
        after a float32 fit: its raw-unit coefficients need the digits).

        Parameters
        ----------
        X : array-like of shape (n_samples, ``n_features_in_``)
            The rows to predict (also a ``gdcore.data.open_npy`` file, read in
            blocks).

        Returns
        -------
        ndarray of shape (n_samples,)
            The predictions, in float64.
        """
        check_is_fitted(self)
        if on_cluster(X):  # a dask array of predictions, computed where X's chunks are
            from .dask import estimator_predict
            return estimator_predict(self, X)
        if on_disk(X):  # read in blocks
            return estimator_file_predict(self, X)
        X = _checked(X, "X", lambda v: validate_data(self, v, dtype=np.float64, order="C",
                                                     reset=False))
        return predictions(X, self.coef_, self.intercept_)


#: dtype kinds that are not numbers, though scikit-learn would convert some of them:
#: strings, bytes, dates, durations, records.
_NOT_NUMBERS = "USMmV"


def _checked(value: Any, name: str, check: Callable[[Any], Any]) -> Any:
    """``check(value)``, scikit-learn's validation, after gdcore's rules (no masked entries;
    no strings, bytes or dates), its errors naming the argument."""
    if on_cluster(value) or on_disk(value):
        return value  # checked by gdcore.dask.estimator_data, by the fit of the file
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
