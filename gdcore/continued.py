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
    """What the fits of one model have carried so far."""

    model: Any  # the model continued (held, so that a pickled trainer carries on too)
    settings: Settings
    state: State
    epochs: int = 0
    rng: int = 0
    order: Optional[np.ndarray] = None
    params: Optional[np.ndarray] = None  # what the last fit left the model with

    @classmethod
    def of(cls, stream: Optional["Stream"], model: Any) -> Optional["Stream"]:
        """``stream`` if it is this model's, else None."""
        return stream if stream is not None and stream.model is model else None

    def continued(self, settings: Settings, params: np.ndarray,
                  n_rows: int) -> Tuple[Settings, State]:
        """``settings`` continuing this stream on ``n_rows`` rows, and the optimizer state
        to continue from (a fresh one if the optimizer or the layout changed). If the
        coordinates changed (other data) or the parameters were set since, the state's
        coordinates follow the parameters; the row order carries on for as many rows."""
        old = self.settings
        state = self.state
        if (type(settings.optimizer) is not type(old.optimizer)
                or settings.optimizer.slots != old.optimizer.slots
                or settings.n_free != old.n_free
                or (settings.precondition is None) != (old.precondition is None)):
            state = new_state(settings, params)
        elif settings.precondition is not None and not (
                _same_coordinates(settings.precondition, old.precondition)
                and self.params is not None and np.array_equal(params, self.params)):
            assert state.coords is not None
            state.coords[:] = settings.precondition.coordinates(params)
        order = (self.order if settings.batch_size and self.order is not None
                 and self.order.shape[0] == n_rows else None)
        return replace(settings, first_epoch=self.epochs, seed=self.rng, order=order), state

    def advanced(self, fit: Fit, result: FitResult, n_rows: int) -> None:
        """Record what ``fit`` (on ``n_rows`` rows) carried on."""
        self.settings, self.state = fit.settings, fit.state
        self.epochs += result.n_epochs
        self.rng, order = fit.stream
        self.order = order if fit.settings.batch_size and order.shape[0] == n_rows else None
        self.params = fit.params.copy()


def start(stream: Optional[Stream], model: Any, settings: Settings,
          n_rows: int) -> Tuple[Settings, State]:
    """The settings and state of a fit of ``model`` on ``n_rows`` rows: fresh, or
    continuing ``stream``."""
    if stream is None:
        return settings, new_state(settings, model.params)
    return stream.continued(settings, model.params, n_rows)
