"""Closed-form least squares: the answer gradient descent is checked against."""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from ._validation import as_data


def closed_form(X: Any, y: Any, fit_intercept: bool = True) -> Tuple[np.ndarray, float]:
    """The (w, b) minimising the MSE, by least squares in float64.

    With an intercept the problem is solved on centred data (better
    conditioned than appending a column of ones), then b = mean(y) - mean(X) . w.
    """
    Xc, yc = as_data(X, y, np.dtype(np.float64))
    if not fit_intercept:
        w = np.linalg.lstsq(Xc, yc, rcond=None)[0]
        return w, 0.0
    x_mean, y_mean = Xc.mean(axis=0), yc.mean()
    w = np.linalg.lstsq(Xc - x_mean, yc - y_mean, rcond=None)[0]
    return w, float(y_mean - x_mean @ w)
