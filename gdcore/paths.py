"""A regularisation path: fits at a sequence of penalty strengths, at little more than
the cost of one.

The fits share their data, so ``penalty_path`` measures it once (the standardised
coordinates, their centred Gram matrix and curvature: the set-up pass that dominates
a fit of a well-conditioned problem) and starts each fit where the one before ended,
from the largest alpha (the sparsest solution) down, as scikit-learn's
``lasso_path`` does. Each fit is the Trainer's own, certified to its ``tol``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import numpy as np

from . import strategy
from ._validation import as_data
from .history import History
from .models import LinearModel
from .precondition import Standardization
from .trainer import Trainer


@dataclass
class PenaltyPath:
    """What ``penalty_path`` found: one row per alpha, in the order fitted."""

    alphas: np.ndarray        # (k,), largest first
    coefs: np.ndarray         # (k, n_features)
    intercepts: np.ndarray    # (k,)
    histories: List[History]


class _MeasuredOnce:
    """strategy.IN_MEMORY, but X's standardisation computed at the first fit only."""

    def __init__(self) -> None:
        self.std: Optional[Standardization] = None
        self.target_stats = strategy.IN_MEMORY.target_stats
        self.trivial_loss = strategy.IN_MEMORY.trivial_loss

    def standardize(self, X: np.ndarray, fit_intercept: bool, rows: bool = False,
                    weights: Optional[np.ndarray] = None) -> Standardization:
        if self.std is None:
            self.std = strategy.IN_MEMORY.standardize(X, fit_intercept, rows=rows,
                                                      weights=weights)
        return self.std


def penalty_path(X: Any, y: Any, alphas: Any, *, penalty: str = "l1", l1_ratio: float = 0.15,
                 fit_intercept: bool = True, dtype: Any = np.float64, sample_weight: Any = None,
                 **trainer: Any) -> PenaltyPath:
    """Fit a linear model at each of ``alphas`` (sorted largest first), each fit starting
    from the coefficients of the one before and X measured once.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    alphas : sequence of numbers >= 0
        The penalty strengths, as ``Trainer``'s ``alpha``.
    penalty : {"l1", "l2", "elasticnet"}, default="l1"
    l1_ratio : float, default=0.15
        The L1 share of "elasticnet".
    fit_intercept : bool, default=True
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
    sample_weight : array-like of shape (n_samples,) or None
        The rows' weights, as ``Trainer.fit`` takes them.
    **trainer
        Other ``Trainer`` settings (``tol``, ``epochs``, ``optimizer``, ...).

    Returns
    -------
    PenaltyPath
        ``alphas``, ``coefs`` (one row per alpha), ``intercepts`` and the fits'
        ``histories``.

    Examples
    --------
    >>> import numpy as np, gdcore
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 5)); y = X @ [3.0, 0, 0, 1.0, 0] + 0.1 * rng.standard_normal(200)
    >>> path = gdcore.penalty_path(X, y, [4.0, 1.0, 0.1])
    >>> [int(np.sum(c != 0)) for c in path.coefs]
    [1, 2, 2]
    """
    values = np.sort(np.asarray(alphas, dtype=np.float64).reshape(-1))[::-1]
    if values.size == 0 or not np.all(np.isfinite(values)) or values[-1] < 0:
        raise ValueError(f"alphas must be finite numbers >= 0, at least one, got {alphas!r}")
    model = LinearModel(np.shape(X)[1] if np.ndim(X) == 2 else 1, dtype=dtype,
                        fit_intercept=fit_intercept)
    Xc, yc = as_data(X, y, model.dtype)
    measured = _MeasuredOnce()
    coefs, intercepts, histories = [], [], []
    for alpha in values:
        fit = Trainer(penalty=penalty, alpha=float(alpha), l1_ratio=l1_ratio, **trainer)
        fit._measure = measured
        histories.append(fit.fit(model, Xc, yc, sample_weight=sample_weight))
        coefs.append(model.w.astype(np.float64))
        intercepts.append(float(model.b))
    return PenaltyPath(values, np.array(coefs), np.array(intercepts), histories)
