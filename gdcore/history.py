"""What a fit did: ``History``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .loop import CONVERGED

#: Status of a History whose fit was stopped by Ctrl-C (see FitInterrupted).
INTERRUPTED = "interrupted"


@dataclass
class History:
    """What a fit did.

    Attributes
    ----------
    loss : numpy.ndarray
        ``loss[k]`` is the loss measured during epoch k, before its update (for
        mini-batches, the mean of the batch losses).
    converged : bool
        The stopping rule was met (see ``Trainer``'s ``tol``).
    grad_norm, final_loss : float
        Measured at the parameters the fit returned; ``grad_norm`` is the
        norm of the (sub)gradient over the parameters the fit steps, in the
        model's own coordinates.
    lr : float
        The step used (the optimizer's base learning rate).
    seconds : float
        Wall time of the fit.
    status : str
        "converged", "max_epochs", "stalled" (no progress for a long time:
        the limit of the arithmetic's precision), "diverged", "stopped" (by a
        callback) or "interrupted" (by Ctrl-C).
    path : numpy.ndarray or None
        With ``Trainer(record_path=True)``, the parameters at the start of
        every epoch: row k is ``(w..., b)`` before epoch k's update, shape
        ``(n_epochs, n_params)``. None otherwise.
    optimizer : gdcore.optim.Optimizer or None
        The optimizer that ran (with ``lr`` resolved).
    """

    loss: np.ndarray
    converged: bool
    grad_norm: float
    final_loss: float
    lr: float
    seconds: float
    status: str = field(default=CONVERGED)
    path: Optional[np.ndarray] = None
    optimizer: Any = None

    @property
    def n_epochs(self) -> int:
        return int(self.loss.shape[0])

    def __repr__(self) -> str:
        return (f"History(n_epochs={self.n_epochs}, converged={self.converged}, "
                f"final_loss={self.final_loss:.6g}, grad_norm={self.grad_norm:.3g}, "
                f"lr={self.lr:.6g}, seconds={self.seconds:.3g})")
