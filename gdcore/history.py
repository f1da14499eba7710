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
        ``loss[k]`` is the loss measured during epoch ``epochs[k]``, before its
        update (for mini-batches, the mean of the batch losses).
    epochs : numpy.ndarray
        The epoch of each recorded loss: every epoch, 0 .. n_epochs - 1, for
        fits of up to 2**20 epochs; longer fits keep a bounded record (between
        2**19 and 2**20 entries, every stride-th epoch, the stride doubling as
        the fit goes on), as does ``path`` (at most 256 MB of parameters).
    n_epochs : int
        The epochs run.
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
        the recorded epochs: row k is ``(w..., b)`` before epoch ``epochs[k]``'s
        update, shape ``(len(epochs), n_params)``. None otherwise.
    optimizer : gdcore.optim.Optimizer or None
        The optimizer that ran (with ``lr`` resolved).
    validation_loss : numpy.ndarray or None
        With ``Trainer(early_stopping=True)``, the loss of the held-out rows
        before the first epoch and after each epoch observed (None otherwise).
    best_epoch : int or None
        ... and the epochs after which it was smallest: the model has those
        parameters.

    Examples
    --------
    >>> import numpy as np, gdcore
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> history = gdcore.Trainer(lr=0.05, epochs=5000, tol=1e-8,
    ...                          record_path=True).fit(gdcore.LinearModel(1), x, x)
    >>> history.status, history.converged, float(history.loss[0])
    ('converged', True, 7.5)
    >>> history.path[:2]                 # (w, b) before the first two updates
    array([[0.  , 0.  ],
           [0.75, 0.25]])
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
    epochs: Optional[np.ndarray] = None
    n_epochs: int = -1
    validation_loss: Optional[np.ndarray] = None
    best_epoch: Optional[int] = None

    def __post_init__(self) -> None:
        if self.epochs is None:
            self.epochs = np.arange(self.loss.shape[0])
        if self.n_epochs < 0:
            self.n_epochs = int(self.loss.shape[0])

    def __repr__(self) -> str:
        return (f"History(n_epochs={self.n_epochs}, converged={self.converged}, "
                f"final_loss={self.final_loss:.6g}, grad_norm={self.grad_norm:.3g}, "
                f"lr={self.lr:.6g}, seconds={self.seconds:.3g})")
