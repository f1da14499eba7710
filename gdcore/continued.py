"""Continued fits: ``warm_start`` and ``partial_fit`` carry a fit's optimizer on.

A ``Stream`` keeps what a later fit of the same model continues from: the
optimizer's state (momentum buffers, Adam's moments, the step count t), the
epochs run (the schedule counts on from them) and the mini-batch random
stream with its row order. scikit-learn resets its schedule on a warm start
(its issue #4306) and ignores it in ``partial_fit``; gdcore carries all of it,
so that ten one-epoch continuations take the steps of one ten-epoch fit, bit
for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional, Tuple

import numpy as np

from .loop import Fit, FitResult, Precondition, Settings, new_state
from .optim import State


def _same_coordinates(a: Optional[Precondition], b: Optional[Precondition]) -> bool:
    if a is None or b is None:
        return a is b
    return (a.intercept == b.intercept and np.array_equal(a.scale, b.scale)
            and np.array_equal(a.shift, b.shift))


@dataclass
class Stream:
    """What the fits of one model have carried so far (``settings`` is None for a
    stream read from a model file: the next fit sets itself up from its data)."""

    model: Any  # the model continued (held, so that a pickled trainer carries on too)
    settings: Optional[Settings]
    state: State
    optimizer: str  # the optimizer's class name, n_free and coordinates the state is for
    n_free: int
    precondition: Optional[Precondition]
    epochs: int = 0
    rng: int = 0
    order: Optional[np.ndarray] = None
    params: Optional[np.ndarray] = None  # what the last fit left the model with

    @classmethod
    def of(cls, stream: Optional["Stream"], model: Any) -> Optional["Stream"]:
        """``stream`` if it is this model's, else the one a model file gave the model."""
        if stream is not None and stream.model is model:
            return stream
        loaded = getattr(model, "_loaded_stream", None)
        return loaded if loaded is not None and loaded.model is model else None

    @classmethod
    def started(cls, model: Any, fit: Fit) -> "Stream":
        settings = fit.settings
        return cls(model, settings, fit.state, type(settings.optimizer).__name__,
                   settings.n_free, settings.precondition)

    def continued(self, settings: Settings, params: np.ndarray,
                  n_rows: int) -> Tuple[Settings, State]:
        """``settings`` continuing this stream on ``n_rows`` rows, and the optimizer state
        to continue from (a copy; a fresh one if the optimizer or the layout changed). If the
        coordinates changed (other data) or the parameters were set since, the state's
        coordinates follow the parameters; the row order carries on for as many rows."""
        state = new_state(settings, params)
        if (type(settings.optimizer).__name__ != self.optimizer
                or settings.n_free != self.n_free
                or (settings.precondition is None) != (self.precondition is None)
                or state.array.shape != self.state.array.shape):
            return replace(settings, first_epoch=self.epochs, seed=self.rng), state
        state.array[:] = self.state.array
        if settings.precondition is not None and not (
                _same_coordinates(settings.precondition, self.precondition)
                and self.params is not None and np.array_equal(params, self.params)):
            assert state.coords is not None
            state.coords[:] = settings.precondition.coordinates(params)
        order = (self.order if settings.batch_size and self.order is not None
                 and self.order.shape[0] == n_rows else None)
        return replace(settings, first_epoch=self.epochs, seed=self.rng, order=order), state

    def advanced(self, fit: Fit, result: FitResult, n_rows: int) -> None:
        """Record what ``fit`` (on ``n_rows`` rows) carried on."""
        settings = fit.settings
        self.settings, self.state = settings, fit.state
        self.optimizer = type(settings.optimizer).__name__
        self.n_free, self.precondition = settings.n_free, settings.precondition
        self.epochs += result.n_epochs
        self.rng, order = fit.stream
        self.order = (order if settings.batch_size and order is not None
                      and order.shape[0] == n_rows else None)
        self.params = fit.params.copy()


def start(stream: Optional[Stream], model: Any, settings: Settings,
          n_rows: int) -> Tuple[Settings, State]:
    """The settings and state of a fit of ``model`` on ``n_rows`` rows: fresh, or
    continuing ``stream``."""
    if stream is None:
        return settings, new_state(settings, model.params)
    return stream.continued(settings, model.params, n_rows)
