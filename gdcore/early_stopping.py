"""Early stopping: rows held out, their loss after every epoch, the best epoch's parameters.

``Trainer(early_stopping=True)`` fits on the other rows and measures the loss
of the held-out ones (without any penalty: what is estimated is the error on
new data) before the first epoch and after each one. The fit stops after
``n_iter_no_change`` epochs without a new smallest held-out loss, and the
model gets back the parameters that had it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, List, Optional, Tuple

import numpy as np

from . import _util
from .losses import Loss
from .models import Model


def check_early_stopping(early_stopping: Any, validation_fraction: Any,
                         n_iter_no_change: Any) -> Tuple[bool, float, int]:
    if not isinstance(early_stopping, (bool, np.bool_)):
        raise TypeError(f"early_stopping must be True or False, got {early_stopping!r}")
    if (isinstance(validation_fraction, bool) or not isinstance(validation_fraction, numbers.Real)
            or not 0 < float(validation_fraction) < 1):
        raise ValueError(f"validation_fraction must be a number in (0, 1), "
                         f"got {validation_fraction!r}")
    if (isinstance(n_iter_no_change, bool) or not isinstance(n_iter_no_change, numbers.Integral)
            or n_iter_no_change < 1):
        raise ValueError(f"n_iter_no_change must be an integer >= 1, got {n_iter_no_change!r}")
    return bool(early_stopping), float(validation_fraction), int(n_iter_no_change)


def split(X: np.ndarray, y: np.ndarray, fraction: float,
          seed: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X, y) to fit on, (X, y) held out, and the mask of the held-out rows:
    ceil(fraction n) rows drawn by ``seed`` (the mini-batch order's compiled shuffle,
    reproducible across platforms), the rest in their order."""
    n = X.shape[0]
    held = math.ceil(fraction * n)
    if held >= n:
        raise ValueError(f"validation_fraction={fraction:g} of {n} rows leaves no rows to fit on")
    order = _util.shuffled(n, seed, 1)
    out = np.zeros(n, dtype=bool)
    out[order[:held]] = True
    return X[~out], y[~out], X[out], y[out], out


class EarlyStopping:
    """The held-out loss of each epoch, and the parameters of the best one."""

    def __init__(self, model: Model, loss: Loss, X: np.ndarray, y: np.ndarray,
                 patience: int, weights: Optional[np.ndarray] = None) -> None:
        self.loss, self.X, self.y, self.patience = loss, X, y, patience
        # the held-out loss weighted as the fit's (unless the held-out rows weigh nothing)
        self.weights = weights if weights is not None and weights.sum() > 0 else None
        self.losses: List[float] = []
        self.best = math.inf
        self.best_epoch, self.since_best = 0, 0
        self.best_params = model.params.copy()
        self.observe(0, model)

    def observe(self, epoch: int, model: Model) -> bool:
        """Record the held-out loss after ``epoch`` epochs; whether to stop now."""
        prediction = model.predict(self.X)
        if self.weights is None:
            value = self.loss(self.y, prediction)
        else:
            terms = self.loss.terms(prediction.astype(np.float64) - self.y)
            value = float(terms @ self.weights / self.weights.sum())
        self.losses.append(value)
        if value < self.best:
            self.best, self.best_epoch, self.since_best = value, epoch, 0
            self.best_params[:] = model.params
        else:
            self.since_best += 1
        return self.since_best >= self.patience

    def wrap(self, callback: Optional[Any], every: int) -> Any:
        """A callback for every epoch that observes, then calls ``callback`` every
        ``every`` epochs; either may stop the fit."""
        def combined(epoch: int, loss: float, model: Model) -> bool:
            stop = self.observe(epoch, model)
            if callback is not None and epoch % every == 0:
                stop = bool(callback(epoch, loss, model)) or stop
            return stop
        return combined

    def restore(self, model: Model, run: Any, result: Any) -> Any:
        """Give the model the best epoch's parameters; the run's result measured there."""
        if np.array_equal(model.params, self.best_params):
            return result
        model.params[:] = self.best_params
        run.parameters_changed()
        final = run.finish()
        result.final_loss, result.grad_norm = final.final_loss, final.grad_norm
        return result
