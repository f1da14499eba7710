"""Exceptions of gdcore."""

from __future__ import annotations

from typing import Any, Optional


class DivergenceError(RuntimeError):
    """The loss became non-finite or blew up: the learning rate is too large.

    The model keeps the last parameters whose loss was finite; ``history``
    holds the epochs run before the blow-up.

    Attributes
    ----------
    lr : float
        The step that diverged.
    suggested_lr : float or None
        A safe step measured from the data (None when none could be).
    history : History
        The epochs run.

    Examples
    --------
    >>> import numpy as np, gdcore
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> try:
    ...     gdcore.Trainer(lr=0.2).fit(gdcore.LinearModel(1), x, x)
    ... except gdcore.DivergenceError as err:
    ...     print(f"{err.lr} diverged after {err.history.n_epochs} epochs; "
    ...           f"try {err.suggested_lr:.4f}")
    0.2 diverged after 8 epochs; try 0.0599
    """

    def __init__(self, lr: float, suggested_lr: Optional[float], history: Any = None) -> None:
        self.lr = lr
        self.suggested_lr = suggested_lr
        self.history = history
        advice = (f"; try lr={suggested_lr:.6g} (or lr='auto')" if suggested_lr is not None
                  else "; try a smaller lr")
        super().__init__(f"gradient descent diverged with learning rate lr={lr:.6g}: "
                         f"the loss became non-finite or exploded{advice}")


class ConvergenceWarning(UserWarning):
    """A fit ended without meeting its stopping rule: its epoch budget ran out, or it
    stalled at the limit of the arithmetic's precision.

    A warning, not an error: the parameters are the best the fit reached, and
    ``History.status`` says why it stopped.

    Examples
    --------
    A step far below the safe one runs out of epochs:

    >>> import warnings, numpy as np, gdcore
    >>> X = np.random.default_rng(0).standard_normal((50, 3))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     history = gdcore.Trainer(lr=0.001).fit(gdcore.LinearModel(3), X, X @ [1.0, 2.0, 3.0])
    >>> caught[0].category.__name__, history.status
    ('ConvergenceWarning', 'max_epochs')
    """


class ConditioningWarning(UserWarning):
    """The problem is rank-deficient, or too ill-conditioned for the requested accuracy
    in the arithmetic's precision; the message gives the measured condition number.

    Examples
    --------
    Two columns that carry the same information:

    >>> import warnings, numpy as np, gdcore
    >>> x = np.arange(10.0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = gdcore.Trainer().fit(gdcore.LinearModel(2), np.column_stack([x, 2 * x]), x)
    >>> print(caught[0].message)
    X is rank-deficient in standardised coordinates: ...
    """


class FitInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a fit cleanly.

    Raised by ``Trainer.fit`` once the epoch that was running has finished:
    the model holds the parameters of that last finished epoch, and
    ``history`` (status "interrupted") describes the epochs run. It is a
    KeyboardInterrupt, so a program that does not catch it still stops.
    """

    def __init__(self, history: Any) -> None:
        self.history = history
        super().__init__(f"fit interrupted after {history.n_epochs} epochs")


class NotSupportedError(NotImplementedError):
    """An argument asks for something gdcore does not do (yet) in this setting, such as
    reshuffled rows in a mini-batch fit of dask arrays; the message names the argument."""

    def __init__(self, argument: str, what: str) -> None:
        self.argument = argument
        super().__init__(f"{argument}: gdcore does not support {what}")
