"""Adagrad (torch.optim.Adagrad)."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from .base import LearningRate, Optimizer, State, check_in, check_positive


class Adagrad(Optimizer):
    """torch.optim.Adagrad: s = s + g^2, p <- p - lr_t g / (sqrt(s) + eps) with
    lr_t = lr / (1 + (t - 1) lr_decay); s starts at ``initial_accumulator_value``.

    The sum of squares only grows, so the steps shrink by themselves: no
    schedule is needed, and a long fit may slow down too much.

    Parameters
    ----------
    lr : float
        The step (1e-2, torch's default).
    lr_decay : float >= 0
        Decay of the step with the step count t.
    weight_decay : float >= 0
        Adds ``weight_decay * p`` to the gradient.
    initial_accumulator_value : float >= 0
        Where the sum of squares starts.
    eps : float >= 0
        Added to the denominator.

    Raises
    ------
    ValueError
        A setting out of its range.

    Examples
    --------
    >>> import numpy as np
    >>> from gdcore.optim import Adagrad
    >>> opt = Adagrad(lr=0.5)
    >>> p, state = np.zeros(1), opt.new_state(1)
    >>> for _ in range(4):                 # steps of 0.5 / sqrt(k) for a constant gradient
    ...     opt.update(p, np.array([2.0]), state, 0.5)
    >>> np.round(p, 4)
    array([-1.3922])
    """

    kind = "adagrad"
    slots = ("sum",)
    default_lr = 1e-2

    def __init__(self, lr: LearningRate = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
        self.lr = check_positive("lr", lr, allow_auto=True)
        self.lr_decay = check_in("lr_decay", lr_decay, 0.0, float("inf"))
        self.weight_decay = check_in("weight_decay", weight_decay, 0.0, float("inf"))
        self.initial_accumulator_value = check_in("initial_accumulator_value",
                                                  initial_accumulator_value, 0.0, float("inf"))
        self.eps = check_in("eps", eps, 0.0, float("inf"))

    def settings(self, lr: float) -> Dict[str, Any]:
        return {"kind": self.kind, "lr": lr, "lr_decay": self.lr_decay,
                "weight_decay": self.weight_decay, "eps": self.eps}

    def new_state(self, n: int, coordinates: bool = False):
        state = super().new_state(n, coordinates)
        state.slots["sum"][:] = self.initial_accumulator_value
        return state

    def update(self, x: np.ndarray, g: np.ndarray, state: State, lr: float) -> None:
        x64 = x.astype(np.float64)
        t = state.step
        clr = lr / (1 + t * self.lr_decay)
        d = g + self.weight_decay * x64 if self.weight_decay != 0 else g
        s = state.slots["sum"]
        s[:] = s + d * d
        x[:] = x64 + (-clr) * d / (np.sqrt(s) + self.eps)
        state["step"] = t + 1
