"""Closed-form least squares: the answer gradient descent is checked against."""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from . import _util
from ._validation import as_data


def closed_form(X: Any, y: Any, fit_intercept: bool = True) -> Tuple[np.ndarray, float]:
    """The (w, b) minimising the MSE, by least squares in float64.

    With an intercept the problem is solved on centred data (better
    conditioned than appending a column of ones), then b = mean(y) - mean(X) . w.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features) or (n_samples,)
    y : array-like, shape (n_samples,)
    fit_intercept : bool
        False solves y = X w (b is 0).

    Returns
    -------
    w : numpy.ndarray, shape (n_features,)
    b : float

    Raises
    ------
    ValueError
        Bad data (NaN or inf, mismatched lengths, empty, ...), named as by
        ``Trainer.fit``.

    Examples
    --------
    >>> import gdcore
    >>> w, b = gdcore.closed_form([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
    >>> w.round(12), round(b, 12)
    (array([2.]), 1.0)
    """
    Xc, yc = as_data(X, y, np.dtype(np.float64))
    if not fit_intercept:
        w = np.linalg.lstsq(Xc, yc, rcond=None)[0]
        return w, 0.0
    x_mean, y_mean = Xc.mean(axis=0), yc.mean()
    w = np.linalg.lstsq(Xc - x_mean, yc - y_mean, rcond=None)[0]
    return w, float(y_mean - x_mean @ w)


def predictions(X: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    """X @ coef + intercept for validated float64 X, an overflow reported."""
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        out = X @ coef + intercept
    if not _util.all_finite(out):
        raise ValueError("the predictions overflow float64 arithmetic (X is too large "
                         "for this model's coefficients)")
    return out
