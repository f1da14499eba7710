"""A regularisation path: fits at a sequence of penalty strengths, at little more than
the cost of one.

The fits share their data, so ``penalty_path`` measures it once (the standardised
coordinates, their centred Gram matrix and curvature: the set-up pass that dominates
a fit of a well-conditioned problem) and starts each fit where the one before ended,
from the largest alpha (the sparsest solution) down, as scikit-learn's
``lasso_path`` does. Each fit is the Trainer's own, certified to its ``tol``.

For the MSE of a linear model with an intercept, the fits then need X no more:
the loss and its gradient at any parameters follow from the centred Gram matrix
C the set-up measured, A^T y / N and y . y / N (``GramObjective``, one more pass
over X for the path), at O(d^2) per epoch instead of O(N d); the epochs run in
the reference loop (gdcore/loop.py), which steps as the compiled one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import numpy as np

from . import strategy
from ._validation import as_data
from .backends import get_backend
from .history import History
from .loop import Fit, ReferenceRun
from .losses import Loss, MSELoss
from .models import LinearModel
from .precondition import Standardization, row_blocks
from .trainer import Trainer


@dataclass
class PenaltyPath:
    """What ``penalty_path`` found: one row per alpha, in the order fitted."""

    alphas: np.ndarray        # (k,), largest first
    coefs: np.ndarray         # (k, n_features)
    intercepts: np.ndarray    # (k,)
    histories: List[History]


class GramObjective:
    """The MSE sums of a linear model [w, b] from the moments of (X, y): in standardised
    coordinates z = (s w, b + m . w), with a_i = [(x_i - m) / s, 1] and rows weighted
    by c_i (mean 1, or 1), sum_i c_i (a_i . z - y_i)^2 = N (z C z - 2 z . q + yy), where
    C = A^T W A / N is the standardisation's matrix, q = A^T W y / N and yy = y W y / N;
    its gradient sums are 2 N (C z - q), taken back to (w, b) by the chain rule.
    Full batches only (``rows`` None)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, std: Standardization,
                 weights: Optional[np.ndarray]) -> None:
        assert std.gram is not None and std.intercept
        n, d = X.shape
        wy = (y if weights is None else weights * y).astype(np.float64)
        centre = float(wy.sum()) / n  # the weighted mean of y, less the rounding of its sum
        r = wy - (centre if weights is None else centre * weights)  # y centred, weighted
        # q in the centred form: y's mean is c's optimum, the rest is A'^T W (y - mean)
        xr = np.zeros(d)
        for lo, B in row_blocks(X):  # X^T r block by block: float32 X is not copied whole
            xr += B.T.astype(np.float64) @ r[lo:lo + B.shape[0]]
        self.q = np.empty(d + 1)
        self.q[:d] = (xr - std.mean * float(r.sum())) / std.scale / n
        self.q[d] = centre
        yc = y.astype(np.float64) - centre
        self.yy = float((yc if weights is None else weights * yc) @ yc) / n  # about the mean
        self.C, self.std = std.gram, std
        self.n_rows, self.n_params = n, d + 1

    def sums(self, params: np.ndarray, rows: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
        if rows is not None:
            raise ValueError("GramObjective sums full batches only")
        std, n = self.std, self.n_rows
        p = params.astype(np.float64)
        # z, its intercept's part taken about y's mean: no cancellation in the loss
        centred = np.append(std.scale * p[:-1], p[-1] + float(std.mean @ p[:-1]) - self.q[-1])
        u = self.C @ centred
        u[:-1] -= self.q[:-1]
        loss = n * max(float(centred @ u) - float(centred[:-1] @ self.q[:-1]) + self.yy, 0.0)
        grad = np.empty_like(p)  # d/dw = s d/dv + m d/dc, d/db = d/dc
        grad[:-1] = 2.0 * n * (std.scale * u[:-1] + std.mean * u[-1])
        grad[-1] = 2.0 * n * u[-1]
        return loss, grad


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


class _FromMoments:
    """A backend whose MSE objectives of the path's (X, y) are one GramObjective, run
    by the reference loop; any other objective, and everything else, the backend's."""

    def __init__(self, backend: Any, measured: _MeasuredOnce, X: np.ndarray,
                 y: np.ndarray) -> None:
        self.backend, self.measured, self.X, self.y = backend, measured, X, y
        self.gram: Optional[GramObjective] = None

    def linear(self, loss: Loss, X: np.ndarray, y: np.ndarray, n_jobs: int = 1,
               sample_weight: Optional[np.ndarray] = None) -> Any:
        std = self.measured.std
        if (type(loss) is MSELoss and X is self.X and y is self.y and std is not None
                and std.gram is not None and std.intercept):
            if self.gram is None:
                self.gram = GramObjective(X, y, std, sample_weight)
            return self.gram
        return self.backend.linear(loss, X, y, n_jobs, sample_weight)

    def start(self, objective: Any, params: np.ndarray, state: Any, settings: Any) -> Fit:
        if isinstance(objective, GramObjective):
            return Fit(ReferenceRun(objective, params, state, settings), params, state, settings)
        return self.backend.start(objective, params, state, settings)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


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
    engine = None
    coefs, intercepts, histories = [], [], []
    for alpha in values:
        fit = Trainer(penalty=penalty, alpha=float(alpha), l1_ratio=l1_ratio, **trainer)
        fit._measure, fit._checked = measured, (Xc, yc)
        if fit.batch_size is None and not fit.early_stopping:  # full batches of all of X
            engine = engine or _FromMoments(get_backend(fit.backend), measured, Xc, yc)
            fit._engine = engine
        histories.append(fit.fit(model, Xc, yc, sample_weight=sample_weight))
        coefs.append(model.w.astype(np.float64))
        intercepts.append(float(model.b))
    return PenaltyPath(values, np.array(coefs), np.array(intercepts), histories)
