"""Loss functions: what a fit minimises, with the formulas every backend follows.

A loss is a mean over rows of a per-row term of the residual r = y_hat - y.
Each class names its kind for the compiled passes (``src/_loss.h`` holds
the C formulas) and writes the same formulas out twice for the reference
backends: ``term``/``slope`` on one float (the python backend) and
``terms``/``slopes`` on an array (the numpy backend). ``slope`` is the
derivative of the term with respect to y_hat.
"""

from __future__ import annotations

import math
from typing import Any, Tuple

import numpy as np

from ._validation import as_target


class Loss:
    """A loss: ``loss(y_true, y_pred)`` is its value, ``loss.gradient(model, X, y)`` its gradient.

    The base class of ``MSELoss``, ``MAELoss`` and ``HuberLoss``: a mean over
    rows of a per-row term of the residual ``r = y_hat - y``.

    Examples
    --------
    >>> import gdcore
    >>> loss = gdcore.MSELoss()
    >>> isinstance(loss, gdcore.Loss)
    True
    >>> loss([1.0, 2.0], [1.0, 4.0])
    2.0
    """

    #: The kind of the compiled passes (src/_loss.h).
    kind: str
    #: Its parameter (Huber's epsilon; 0 where there is none).
    param: float = 0.0
    #: A bound on the term's second derivative in y_hat: ``lr="auto"`` steps by
    #: the curvature this gives the loss (the MSE's 2 also scales the MAE's steps).
    curvature: float = 2.0

    def term(self, r: float) -> float:
        raise NotImplementedError

    def slope(self, r: float) -> float:
        raise NotImplementedError

    def terms(self, r: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def slopes(self, r: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """The mean loss over the samples.

        Parameters
        ----------
        y_true : array-like, shape (n_samples,)
            The targets.
        y_pred : array-like, shape (n_samples,)
            The predictions, as many as the targets.

        Returns
        -------
        float
            The mean of the loss's term over the samples, computed in float64.

        Raises
        ------
        ValueError
            ``y_true`` and ``y_pred`` have different lengths, or either is not
            a finite 1-D array of numbers.

        Examples
        --------
        >>> import gdcore
        >>> gdcore.MAELoss()([0.0, 0.0], [1.0, -3.0])
        2.0
        """
        from . import _util
        yt = as_target(y_true, np.dtype(np.float64), "y_true")
        yp = as_target(y_pred, np.dtype(np.float64), "y_pred")
        if yt.shape != yp.shape:
            raise ValueError(f"y_true and y_pred have different lengths: {yt.shape[0]} and {yp.shape[0]}")
        return float(_util.loss_value(self.kind, self.param, yt, yp))

    def gradient(self, model: Any, X: Any, y: Any, backend: str = "cython") -> Any:
        """The gradient of the mean loss of ``model`` on ``(X, y)``.

        Parameters
        ----------
        model : Model
            A gdcore model (a LinearModel or an MLP), at its current
            parameters; only read.
        X : array-like, shape (n_samples, n_features) or (n_samples,)
            The features (a 1-D X is one feature).
        y : array-like, shape (n_samples,)
            The targets.
        backend : {"cython", "numpy", "python"}, default="cython"
            The implementation of the pass over the rows.

        Returns
        -------
        tuple
            ``(dL/dw, dL/db)`` for a LinearModel (an array of shape
            (n_features,) and a float); for an MLP ``(dL/dweights,
            dL/dbiases)``, lists of arrays layer by layer.

        Raises
        ------
        TypeError
            ``model`` is not a gdcore model.
        ValueError
            X or y is not usable data, or X's width is not the model's
            ``n_features``.

        Examples
        --------
        >>> import gdcore
        >>> model = gdcore.LinearModel(1)
        >>> dw, db = gdcore.MSELoss().gradient(model, [[1.0], [2.0]], [1.0, 2.0])
        >>> dw.tolist(), float(db)
        ([-5.0], -3.0)
        """
        compute = getattr(model, "_loss_gradient", None)  # the model's: it knows its layout
        if compute is None:
            raise TypeError(f"model must be a gdcore model such as LinearModel, "
                            f"got {type(model).__name__}")
        return compute(self, X, y, backend)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.param == getattr(other, "param", None)

    def __hash__(self) -> int:
        return hash((type(self), self.param))


class MSELoss(Loss):
    """Mean squared error: ``L = (1/N) sum (y_i - y_hat_i)^2``; slope ``2 r``.

    Examples
    --------
    >>> import gdcore
    >>> gdcore.MSELoss()([0.0, 0.0, 0.0], [1.0, -2.0, 3.0])
    4.666666666666667
    """

    kind = "mse"

    def term(self, r: float) -> float:
        return r * r

    def slope(self, r: float) -> float:
        return r + r

    def terms(self, r: np.ndarray) -> np.ndarray:
        return r * r

    def slopes(self, r: np.ndarray) -> np.ndarray:
        return r + r


class MAELoss(Loss):
    """Mean absolute error: ``L = (1/N) sum |y_i - y_hat_i|``; slope ``sign(r)``, ``sign(0) = 0``.

    Examples
    --------
    >>> import gdcore
    >>> gdcore.MAELoss()([0.0, 0.0, 0.0], [1.0, -2.0, 3.0])
    2.0
    """

    kind = "mae"

    def term(self, r: float) -> float:
        return abs(r)

    def slope(self, r: float) -> float:
        return float((r > 0) - (r < 0))

    def terms(self, r: np.ndarray) -> np.ndarray:
        return np.abs(r)

    def slopes(self, r: np.ndarray) -> np.ndarray:
        return np.sign(r)


class HuberLoss(Loss):
    """Huber loss: the mean of ``r^2 / 2`` for ``|r| <= epsilon`` and ``epsilon |r| - epsilon^2 / 2``
    beyond; slope ``clip(r, -epsilon, epsilon)``.

    Quadratic near the fit and linear for outliers, so a few wild targets pull the
    coefficients with a bounded force. The same loss as scikit-learn's
    ``SGDRegressor(loss="huber", epsilon=...)`` and torch's ``HuberLoss(delta=...)``;
    epsilon is in the units of y.

    Parameters
    ----------
    epsilon : float, default=1.35
        The threshold between the quadratic and the linear parts, a positive
        finite number in the units of y.

    Examples
    --------
    >>> import gdcore
    >>> loss = gdcore.HuberLoss(epsilon=1.0)
    >>> loss([0.0, 0.0], [0.5, 3.0])  # (0.5^2 / 2 + (3 - 1/2)) / 2
    1.3125
    """

    kind = "huber"
    curvature = 1.0

    def __init__(self, epsilon: float = 1.35) -> None:
        if (isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.floating))
                or not (math.isfinite(epsilon) and epsilon > 0)):
            raise ValueError(f"epsilon must be a positive finite number, got {epsilon!r}")
        self.param = float(epsilon)

    @property
    def epsilon(self) -> float:
        return self.param

    def term(self, r: float) -> float:
        a, e = abs(r), self.param
        return r * r / 2 if a <= e else e * a - e * e / 2

    def slope(self, r: float) -> float:
        e = self.param
        return e if r > e else (-e if r < -e else r)

    def terms(self, r: np.ndarray) -> np.ndarray:
        a, e = np.abs(r), self.param
        return np.where(a <= e, r * r / 2, e * a - e * e / 2)

    def slopes(self, r: np.ndarray) -> np.ndarray:
        return np.clip(r, -self.param, self.param)

    def __repr__(self) -> str:
        return f"HuberLoss(epsilon={self.param!r})"


class SmoothedMAE(Loss):
    """The MAE, stepped by the slope of its Huber smoothing of width ``width``.

    The term is ``|r|`` (what is recorded is the MAE itself); the slope is
    ``clip(r / width, -1, 1)``, the derivative of ``Huber_width(r) / width``, which
    is within ``width / 2`` of ``|r|`` everywhere. Gradient steps on it approach the
    least-absolute-deviations optimum as the width shrinks: the default MAE
    fit (``gdcore.trainer``) runs a short sequence of them.
    """

    kind = "smooth_mae"

    def __init__(self, width: float) -> None:
        if not (isinstance(width, (int, float)) and math.isfinite(width) and width > 0):
            raise ValueError(f"width must be a positive finite number, got {width!r}")
        self.param = float(width)

    def term(self, r: float) -> float:
        return abs(r)

    def slope(self, r: float) -> float:
        q = r / self.param
        return 1.0 if q > 1.0 else (-1.0 if q < -1.0 else q)

    def terms(self, r: np.ndarray) -> np.ndarray:
        return np.abs(r)

    def slopes(self, r: np.ndarray) -> np.ndarray:
        return np.clip(r / self.param, -1.0, 1.0)

    def __repr__(self) -> str:
        return f"SmoothedMAE(width={self.param!r})"


def sums(loss: Loss, r: np.ndarray) -> Tuple[float, np.ndarray]:
    """(sum of the terms, the slopes) of residuals r, vectorised."""
    return float(loss.terms(r).sum()), loss.slopes(r)
