"""Optimizers and learning-rate schedules.

The optimizers of torch.optim with the same names, settings and formulas
(``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``), and an accelerated
full-batch method that needs no curvature constants (``Accelerated``:
Nesterov/FISTA momentum with adaptive restart). ``Trainer(optimizer=...)``
takes one of them or a name of ``OPTIMIZERS``; the compiled loop runs the
same steps as the NumPy references here.
"""

from __future__ import annotations

from typing import Any, Callable, Dict

from .accelerated import Accelerated
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .base import Optimizer, State
from .rmsprop import RMSprop
from .schedules import (SCHEDULES, Constant, CosineWarmup, ExponentialDecay, InverseScaling,
                        ReduceOnPlateau, Schedule, StepDecay, get_schedule)
from .sgd import SGD

#: Names ``Trainer(optimizer=...)`` accepts, and what each builds (lr passed on).
OPTIMIZERS: Dict[str, Callable[..., Optimizer]] = {
    "gd": lambda lr="auto": SGD(lr=lr),
    "sgd": lambda lr="auto": SGD(lr=lr),
    "momentum": lambda lr="auto": SGD(lr=lr, momentum=0.9),
    "nesterov": lambda lr="auto": SGD(lr=lr, momentum=0.9, nesterov=True),
    "accelerated": lambda lr="auto": Accelerated(lr=lr),
    "adam": lambda lr="auto": Adam(lr=1e-3 if lr == "auto" else lr),
    "adamw": lambda lr="auto": AdamW(lr=1e-3 if lr == "auto" else lr),
    "rmsprop": lambda lr="auto": RMSprop(lr=1e-2 if lr == "auto" else lr),
    "adagrad": lambda lr="auto": Adagrad(lr=1e-2 if lr == "auto" else lr),
}


def get_optimizer(optimizer: Any, lr: Any = "auto") -> Optimizer:
    """An Optimizer from an Optimizer or a name of OPTIMIZERS (built with ``lr``).

    Raises
    ------
    ValueError
        Anything else.

    Examples
    --------
    >>> from gdcore.optim import get_optimizer
    >>> get_optimizer("nesterov", lr=0.01)
    SGD(lr=0.01, momentum=0.9, dampening=0.0, nesterov=True, weight_decay=0.0)
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        return OPTIMIZERS[optimizer](lr)
    raise ValueError(f"optimizer must be a gdcore.optim optimizer or one of "
                     f"{sorted(OPTIMIZERS)} (or 'auto'), got {optimizer!r}")


__all__ = ["Accelerated", "Adagrad", "Adam", "AdamW", "Constant", "CosineWarmup",
           "ExponentialDecay", "InverseScaling", "OPTIMIZERS", "Optimizer", "RMSprop",
           "ReduceOnPlateau", "SCHEDULES", "SGD", "Schedule", "State", "StepDecay",
           "get_optimizer", "get_schedule"]
