"""The one backend interface every implementation follows.

The trainer drives a backend through five calls and never branches on which
backend it holds. Inputs are already validated by the Python layer: ``X`` is a
C-contiguous 2-D array of the model's dtype (float32 or float64) with finite
values, ``y`` a 1-D array of the same dtype and length, ``w`` a 1-D array of
that dtype and ``b`` a 1-element array of it. ``w`` and ``b`` are the model's
own buffers and are updated in place; ``X`` and ``y`` are never written.

Semantics shared by all backends (the tests hold them to the same numbers):

* residual ``r_i = (w . x_i + b) - y_i``;
  MSE: term ``r_i**2``, derivative ``2 r_i``; MAE: term ``|r_i|``, derivative
  ``sign(r_i)`` with ``sign(0) = 0``. Loss and gradient are means over rows.
* ``fit_intercept=False`` keeps ``b`` fixed and leaves it out of the gradient
  norm and of the curvature.
* full batch (``batch_size is None``), epoch ``k``: one fused pass gives
  ``L_k`` and the gradient at the current parameters; divergence is checked
  (``L_k`` not finite, or ``L_k > BLOWUP * L_0``), then ``L_k`` is recorded,
  then if ``||g_k|| <= tol`` the fit stops without updating, else
  ``w -= lr gw; b -= lr gb``.
* mini-batch, epoch ``k``: the row order (kept across epochs, starting from
  ``0..n-1``) is reshuffled in place by :func:`gdcore._random.shuffle`, then
  each run of ``batch_size`` rows (the last one may be shorter) gives a mean
  loss and gradient at the current parameters, and an update. The epoch's
  loss and gradient are the row-weighted means of its batches'; the stopping
  test uses that epoch gradient; divergence is a non-finite batch loss or an
  epoch loss above ``BLOWUP`` times the full loss at the start of the fit
  (measured by one pass before the first epoch), and restores the parameters
  of the epoch's start.
* a fit can run in chunks: ``Run.advance(k)`` runs at most ``k`` more epochs
  and pauses between epochs (after an update); ``Run.finish()`` stops early,
  measuring the final loss and gradient at the current parameters.
* after the loop, one more pass gives ``final_loss`` and ``grad_norm`` at the
  parameters returned (for the full batch this is the pass the stop test
  already made). ``converged`` means the stop test fired or the final
  gradient norm is ``<= tol``.
* on divergence the parameters of the last good step are restored and the
  status is ``"diverged"``; ``final_loss``/``grad_norm`` describe them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, Sequence, Tuple

import numpy as np

MSE = 0
MAE = 1

#: A loss this many times the first epoch's loss counts as divergence.
BLOWUP = 1e6

#: Power iteration for lambda_max: at most this many products, stopping
#: once the estimate moves by less than POWER_RTOL relatively.
POWER_MAX_ITER = 100
POWER_RTOL = 1e-6

CONVERGED = "converged"
MAX_EPOCHS = "max_epochs"
DIVERGED = "diverged"
STOPPED = "stopped"  # ended early by Run.finish() (a callback, an interrupt)


@dataclass
class FitResult:
    """What one call to ``Backend.fit`` reports (parameters are updated in place)."""

    loss: np.ndarray  # float64, one value per epoch run (loss before its update)
    final_loss: float  # loss at the returned parameters
    grad_norm: float  # ||(dL/dw, dL/db)|| at the returned parameters
    status: str  # CONVERGED, MAX_EPOCHS, DIVERGED or STOPPED
    path: Optional[np.ndarray] = None  # (n_epochs, n_params): parameters at each epoch's start

    @property
    def n_epochs(self) -> int:
        return int(self.loss.shape[0])


def grad_norm(gw: np.ndarray, gb: float, fit_intercept: bool) -> float:
    """||(dL/dw, dL/db)||, leaving dL/db out when b is not fitted."""
    sq = float(np.dot(gw, gw)) + (gb * gb if fit_intercept else 0.0)
    return float(np.sqrt(sq))


class Run(Protocol):
    """A fit in progress: ``backend.start(...)`` makes one.

    Between chunks, ``n_epochs`` is the number of epochs run so far and
    ``last_loss`` the loss recorded for the last of them (NaN before the
    first): what progress bars and callbacks report.
    """

    @property
    def n_epochs(self) -> int: ...

    @property
    def last_loss(self) -> float: ...

    def advance(self, epochs: int) -> Optional[FitResult]:
        """Run at most ``epochs`` more epochs; the result once the fit has ended, else None."""
        ...

    def finish(self) -> FitResult:
        """End the fit now (status STOPPED, or CONVERGED if the gradient is small)."""
        ...


class Backend(Protocol):
    """The calls a trainer makes; see the module docstring for their meaning."""

    name: str

    def predict(self, X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray: ...

    def loss_value(self, kind: int, y_true: np.ndarray, y_pred: np.ndarray) -> float: ...

    def loss_grad(
        self, kind: int, X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float
    ) -> Tuple[float, np.ndarray, float]: ...

    def curvature(self, X: np.ndarray, fit_intercept: bool,
                  rows: bool = True) -> Tuple[float, float]:
        """``(lambda_max of (2/N) A^T A, max_i 2 ||a_i||^2)`` with ``A = [X 1]``.

        ``rows=False``: the row term is not needed (a full-batch step) and
        comes back as NaN, sparing a pass over X where it would cost one.
        """
        ...

    def start(
        self,
        kind: int,
        X: np.ndarray,
        y: np.ndarray,
        w: np.ndarray,
        b: np.ndarray,
        fit_intercept: bool,
        lr: float,
        epochs: int,
        tol: float,
        batch_size: Optional[int],
        seed: int,
        record_path: bool = False,
        n_jobs: int = 1,
    ) -> Run:
        """Begin a fit; ``n_jobs`` threads share each full pass over X where the
        backend can (the compiled one, built with OpenMP); others ignore it."""
        ...

    # Multi-layer perceptrons: ``params`` is the model's flat parameter array
    # (layout in ``_network.py``), updated in place; ``sizes`` the layer sizes,
    # ``activation`` a code of ``_network.ACTIVATIONS``. A fit follows the
    # semantics above with the flat parameters in place of ``w``, no separate
    # ``b``, and the gradient norm taken over all parameters.

    def mlp_predict(self, X: np.ndarray, params: np.ndarray, sizes: Sequence[int],
                    activation: int) -> np.ndarray: ...

    def mlp_loss_grad(self, kind: int, X: np.ndarray, y: np.ndarray, params: np.ndarray,
                      sizes: Sequence[int], activation: int) -> Tuple[float, np.ndarray]: ...

    def start_mlp(self, kind: int, X: np.ndarray, y: np.ndarray, params: np.ndarray,
                  sizes: Sequence[int], activation: int, lr: float, epochs: int, tol: float,
                  batch_size: Optional[int], seed: int, record_path: bool = False) -> Run: ...
