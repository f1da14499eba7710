"""The one interface every backend follows: sums over rows, and a loop to run them in.

A backend turns a model's loss on validated data into an *objective*
(``gdcore.loop.Objective``): ``sums(params, rows)`` returns the sum of the
loss terms and the float64 sums of their gradients over all rows or the
listed ones, at a flat parameter vector (``[w..., b]`` for a linear model,
the layers' weights and biases for an MLP, see ``_network``). That is all a
backend computes; ``start`` runs the one epoch loop of ``gdcore.loop`` on
it (in C for the compiled backend). Inputs are validated by the Python
layer: X is a C-contiguous 2-D array of the model's dtype with finite
values, y a 1-D array of the same dtype and length; parameters are the
model's own buffer, updated in place; X and y are never written.
"""

from __future__ import annotations

from typing import Optional, Protocol, Sequence, Tuple

import numpy as np

from ..losses import Loss
from ..loop import Fit, Objective, Settings
from ..optim import State

class Backend(Protocol):
    name: str

    def linear(self, loss: Loss, X: np.ndarray, y: np.ndarray, n_jobs: int = 1,
               sample_weight: Optional[np.ndarray] = None) -> Objective:
        """The loss of a linear model [w..., b] on (X, y); ``n_jobs`` threads share full
        passes where the backend can (the compiled one, built with OpenMP). With
        ``sample_weight`` (float64, mean 1: ``_validation.as_weights``), row i's loss
        term and slope count w_i times."""
        ...

    def mlp(self, loss: Loss, X: np.ndarray, y: np.ndarray, sizes: Sequence[int],
            activation: str, sample_weight: Optional[np.ndarray] = None) -> Objective:
        """The loss of a network of layer ``sizes`` on (X, y), rows weighted as in
        ``linear``."""
        ...

    def predict_linear(self, X: np.ndarray, params: np.ndarray) -> np.ndarray: ...

    def predict_mlp(self, X: np.ndarray, params: np.ndarray, sizes: Sequence[int],
                    activation: str) -> np.ndarray: ...

    def curvature(self, X: np.ndarray, fit_intercept: bool,
                  rows: bool = True) -> Tuple[float, float]:
        """``(lambda_max of (2/N) A^T A, max_i 2 ||a_i||^2)`` with ``A = [X 1]``.

        ``rows=False``: the row term is not needed (a full-batch step) and
        comes back as NaN, sparing a pass over X where it would cost one.
        """
        ...

    def start(self, objective: Objective, params: np.ndarray, state: State,
              settings: Settings) -> Fit:
        """Begin a fit of ``params`` (updated in place) from ``state``."""
        ...
