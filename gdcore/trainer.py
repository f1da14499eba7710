"""The trainer: validates once, picks a step size, hands the whole fit to a backend."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np

from ._validation import (as_data, as_features, check_batch_size, check_epochs, check_lr,
                          check_n_jobs, check_random_state, check_tol, seed_from)
from .backends import get_backend
from .backends._base import CONVERGED, DIVERGED
from .errors import DivergenceError
from .losses import Loss, MSELoss
from .models import Model


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
    n_jobs : threads sharing each full pass over X (compiled backend, OpenMP
        builds): 1 (default), a count, or -1 for every core. Mini-batch steps
        run on one thread. The rows are summed in a fixed order whatever the
        thread count, so results are identical for every n_jobs.
    """

    def __init__(self, loss: Optional[Loss] = None, lr: Union[float, str] = "auto",
                 epochs: int = 1000, tol: float = 1e-6, batch_size: Optional[int] = None,
                 random_state: Any = None, backend: str = "cython", n_jobs: int = 1) -> None:
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
        self.n_jobs = check_n_jobs(n_jobs)

    def learning_rate(self, model: Model, X: Any) -> float:
        """The step this trainer would take on X: ``lr`` itself or the "auto" step."""
        if self.lr != "auto":
            return float(self.lr)
        self._check_model(model)
        Xc = as_features(X, model.dtype)
        model._check_features(Xc)
        batch_size = check_batch_size(self.batch_size, Xc.shape[0])
        return model._auto_lr(get_backend(self.backend), Xc, batch_size)

    @staticmethod
    def _check_model(model: Any) -> None:
        if not isinstance(model, Model):
            raise TypeError(f"model must be a gdcore model such as LinearModel, "
                            f"got {type(model).__name__}")

    def fit(self, model: Model, X: Any, y: Any) -> History:
        """Fit ``model`` in place; returns the History, raises DivergenceError on blow-up."""
        self._check_model(model)
        Xc, yc = as_data(X, y, model.dtype)
        model._check_features(Xc)
        batch_size = check_batch_size(self.batch_size, Xc.shape[0])
        backend = get_backend(self.backend)
        lr = model._auto_lr(backend, Xc, batch_size) if self.lr == "auto" else self.lr
        seed = seed_from(self.random_state)
        start = time.perf_counter()
        run = model._start(backend, self.loss.kind, Xc, yc, lr, self.epochs, self.tol,
                           batch_size, seed, record_path=False, n_jobs=self.n_jobs)
        result = run.advance(self.epochs)
        assert result is not None, "a run given all its epochs must end"
        history = History(loss=result.loss, converged=result.status == CONVERGED,
                          grad_norm=float(result.grad_norm), final_loss=float(result.final_loss),
                          lr=lr, seconds=time.perf_counter() - start, status=result.status)
        if result.status == DIVERGED:
            safe = model._auto_lr(backend, Xc, batch_size)
            raise DivergenceError(lr, safe if safe < lr else lr / 10, history)
        return history

    def __repr__(self) -> str:
        return (f"Trainer(loss={self.loss!r}, lr={self.lr!r}, epochs={self.epochs}, "
                f"tol={self.tol}, batch_size={self.batch_size}, "
                f"random_state={self.random_state!r}, backend={self.backend!r}, "
                f"n_jobs={self.n_jobs})")
