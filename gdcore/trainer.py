"""The trainer: validates once, picks a step size, hands the whole fit to a backend."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np

from ._validation import (as_data, check_batch_size, check_epochs, check_lr,
                          check_random_state, check_tol, seed_from)
from .backends import get_backend
from .backends._base import CONVERGED, DIVERGED
from .errors import DivergenceError
from .losses import Loss, MSELoss
from .models import LinearModel


@dataclass
class History:
    """What a fit did.

    ``loss[k]`` is the loss measured during epoch k, before its update (for
    mini-batches, the mean of the batch losses); ``final_loss`` and
    ``grad_norm`` are measured at the parameters the fit returned.
    """

    loss: np.ndarray
    converged: bool
    grad_norm: float
    final_loss: float
    lr: float
    seconds: float
    status: str = field(default=CONVERGED)

    @property
    def n_epochs(self) -> int:
        return int(self.loss.shape[0])

    def __repr__(self) -> str:
        return (f"History(n_epochs={self.n_epochs}, converged={self.converged}, "
                f"final_loss={self.final_loss:.6g}, grad_norm={self.grad_norm:.3g}, "
                f"lr={self.lr:.6g}, seconds={self.seconds:.3g})")


def auto_lr(curvature: float, row_curvature: float, n_samples: int,
            batch_size: Optional[int]) -> float:
    """1 / L_B: the step size ``lr="auto"`` takes.

    Full batch: L = lambda_max of the MSE Hessian (2/N) A^T A, A = [X 1];
    gradient descent converges for lr < 2/L and 1/L is the classical safe
    step. Mini-batches of B rows: the expected smoothness of Gower et al.
    (2019), L_B = n(B-1)/(B(n-1)) L + (n-B)/(B(n-1)) L_max, where L_max =
    max_i 2||a_i||^2 is the curvature of the worst single row; it runs from
    L_max at B = 1 to L at B = n.
    """
    b = n_samples if batch_size is None else batch_size
    if n_samples > 1 and b < n_samples:
        smooth = (n_samples * (b - 1) * curvature + (n_samples - b) * row_curvature) / (
            b * (n_samples - 1))
    else:
        smooth = curvature
    if not smooth > 0:
        raise ValueError("lr='auto' needs data with some variation (the loss has no "
                         "curvature here); pass a number for lr")
    return 1.0 / smooth


class Trainer:
    """Fits a model to (X, y) by gradient descent.

    Parameters
    ----------
    loss : MSELoss() (default) or MAELoss().
    lr : a positive number, or "auto" (default): 1/L_B from the curvature of
        the MSE on X (see ``auto_lr``), safe for MSE full batch and
        mini-batch. For MAE, which has no curvature to measure, "auto" takes
        the same step: a sensible scale when X and y have similar magnitudes
        (standardised data); pass a number otherwise.
    epochs : the most passes over the data (0 means no update).
    tol : stop when the gradient norm ||(dL/dw, dL/db)|| <= tol (for
        mini-batches, the mean gradient of the epoch's batches).
    batch_size : None for full batch, else rows per mini-batch step.
    random_state : None, an int or a numpy Generator: the seed of the
        mini-batch order (reshuffled every epoch, reproducible for an int).
    backend : "cython" (default), "numpy" or "python".
    """

    def __init__(self, loss: Optional[Loss] = None, lr: Union[float, str] = "auto",
                 epochs: int = 1000, tol: float = 1e-6, batch_size: Optional[int] = None,
                 random_state: Any = None, backend: str = "cython") -> None:
        loss = MSELoss() if loss is None else loss
        if not isinstance(loss, Loss):
            raise TypeError(f"loss must be a gdcore loss such as MSELoss() or MAELoss(), got {loss!r}")
        self.loss = loss
        self.lr = check_lr(lr)
        self.epochs = check_epochs(epochs)
        self.tol = check_tol(tol)
        self.batch_size = check_batch_size(batch_size)
        self.random_state = check_random_state(random_state)
        self.backend = get_backend(backend).name

    def learning_rate(self, model: LinearModel, X: Any) -> float:
        """The step this trainer would take on X: ``lr`` itself or the "auto" step."""
        if self.lr != "auto":
            return float(self.lr)
        from ._validation import as_features
        Xc = as_features(X, model.dtype)
        return self._auto_lr(model, Xc)

    def _auto_lr(self, model: LinearModel, X: np.ndarray) -> float:
        curvature, row_curvature = get_backend(self.backend).curvature(X, model.fit_intercept)
        return auto_lr(curvature, row_curvature, X.shape[0], self.batch_size)

    def fit(self, model: LinearModel, X: Any, y: Any) -> History:
        """Fit ``model`` in place; returns the History, raises DivergenceError on blow-up."""
        if not isinstance(model, LinearModel):
            raise TypeError(f"model must be a gdcore LinearModel, got {type(model).__name__}")
        Xc, yc = as_data(X, y, model.dtype)
        if Xc.shape[1] != model.n_features:
            raise ValueError(f"model has n_features={model.n_features} but X has "
                             f"{Xc.shape[1]} features")
        batch_size = check_batch_size(self.batch_size, Xc.shape[0])
        lr = self._auto_lr(model, Xc) if self.lr == "auto" else self.lr
        seed = seed_from(self.random_state)
        start = time.perf_counter()
        run = get_backend(self.backend).start(
            self.loss.kind, Xc, yc, model._w, model._b, model.fit_intercept,
            lr, self.epochs, self.tol, batch_size, seed)
        result = run.advance(self.epochs)
        assert result is not None, "a run given all its epochs must end"
        history = History(loss=result.loss, converged=result.status == CONVERGED,
                          grad_norm=float(result.grad_norm), final_loss=float(result.final_loss),
                          lr=lr, seconds=time.perf_counter() - start, status=result.status)
        if result.status == DIVERGED:
            safe = self._auto_lr(model, Xc)
            raise DivergenceError(lr, safe if safe < lr else lr / 10, history)
        return history

    def __repr__(self) -> str:
        return (f"Trainer(loss={self.loss!r}, lr={self.lr!r}, epochs={self.epochs}, "
                f"tol={self.tol}, batch_size={self.batch_size}, "
                f"random_state={self.random_state!r}, backend={self.backend!r})")
