"""The compiled backend (the default): Cython passes and the epoch loop in C, GIL released."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from .._dispatch import loop, pass_linear, pass_mlp
from .._random import POWER_SEED
from ..curvature import POWER_MAX_ITER, POWER_RTOL, gram_blas, lambda_max_of_gram, uses_gram
from ..losses import Loss
from ..loop import Fit, Settings
from ..optim import State


def _in_dtype(weights: Optional[np.ndarray], dtype: np.dtype) -> Optional[np.ndarray]:
    """The rows' weights in the data's type, as the passes read them."""
    return None if weights is None else np.ascontiguousarray(weights, dtype=dtype)


class CompiledBackend:
    name = "cython"

    def linear(self, loss: Loss, X: np.ndarray, y: np.ndarray, n_jobs: int = 1,
               sample_weight: Optional[np.ndarray] = None):
        return pass_linear.LinearObjective(loss.kind, loss.param, X, y, n_jobs,
                                           _in_dtype(sample_weight, X.dtype))

    def mlp(self, loss: Loss, X: np.ndarray, y: np.ndarray, sizes: Sequence[int],
            activation: str, sample_weight: Optional[np.ndarray] = None):
        return pass_mlp.MLPObjective(loss.kind, loss.param, X, y, sizes, activation,
                                     _in_dtype(sample_weight, X.dtype))

    def predict_linear(self, X: np.ndarray, params: np.ndarray) -> np.ndarray:
        out = np.empty(X.shape[0], dtype=X.dtype)
        pass_linear.predict(X, params, out)
        return out

    def predict_mlp(self, X: np.ndarray, params: np.ndarray, sizes: Sequence[int],
                    activation: str) -> np.ndarray:
        out = np.empty(X.shape[0], dtype=X.dtype)
        pass_mlp.predict(X, params, np.asarray(sizes, dtype=np.intp), activation, out)
        return out

    def curvature(self, X: np.ndarray, fit_intercept: bool,
                  rows: bool = True) -> Tuple[float, float]:
        if uses_gram(X.shape[1] + fit_intercept):  # exact, from one BLAS call
            row_max = (pass_linear.curvature(X, fit_intercept, 0, POWER_RTOL, POWER_SEED)[1]
                       if rows else math.nan)  # max_iter=0: the row pass alone
            return lambda_max_of_gram(gram_blas(X, fit_intercept), X.shape[0]), row_max
        return pass_linear.curvature(X, fit_intercept, POWER_MAX_ITER, POWER_RTOL, POWER_SEED)

    def start(self, objective, params: np.ndarray, state: State, settings: Settings) -> Fit:
        return Fit(compiled_run(objective, params, state, settings), params, state, settings)


def compiled_run(objective, params: np.ndarray, state: State, settings: Settings) -> Any:
    """The compiled epoch loop over ``objective`` (one with ``capsule()``), from the run's
    settings (gdcore.loop.ReferenceRun's signature)."""
    pre, pen = settings.precondition, settings.penalty
    return loop.Run(
        objective, params, state.array,
        optimizer=settings.optimizer.settings(settings.lr),
        schedule=settings.schedule.settings(settings.schedule_horizon),
        n_slots=len(settings.optimizer.slots),
        precondition=None if pre is None else pre.kernel(),
        n_free=settings.n_free, epochs=settings.epochs,
        batch_size=settings.batch_size or 0, seed=settings.seed,
        abs_tol=settings.stop.abs_tol, rel_tol=settings.stop.rel_tol,
        rel_len=settings.stop.rel_len, patience=settings.stop.patience,
        blowup=settings.blowup, blowup_floor=settings.blowup_floor,
        record_path=settings.record_path, max_records=settings.max_records,
        error_map=settings.stop.error_map, coords_abs_tol=settings.stop.coords_abs_tol,
        penalty=None if pen is None else (pen.l2, pen.l1, pen.l2_coords, pen.l1_coords,
                                          pen.in_gradient),
        first_epoch=settings.first_epoch, order=settings.order,
        shuffle=settings.shuffle, block=settings.block)
