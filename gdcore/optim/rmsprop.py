"""RMSprop (torch.optim.RMSprop)."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from .base import LearningRate, Optimizer, State, check_flag, check_in, check_positive, lerp


class RMSprop(Optimizer):
    """torch.optim.RMSprop: s = alpha s + (1 - alpha) g^2; with ``centered`` the running
    mean a of g is subtracted, s - a^2; p <- p - lr g / (sqrt(s) + eps), or through a
    momentum buffer b = momentum b + g / (sqrt(s) + eps), p <- p - lr b.

    Parameters
    ----------
    lr : float
        The step (1e-2, torch's default).
    alpha : float in [0, 1)
        Decay rate of the running mean of g^2.
    eps : float >= 0
        Added to the denominator.
    weight_decay : float >= 0
        Adds ``weight_decay * p`` to the gradient.
    momentum : float in [0, 1)
        Momentum of the scaled steps (0: none).
    centered : bool
        Divide by an estimate of the gradient's variance instead of its
        second moment.

    Raises
    ------
    ValueError
        A setting out of its range.

    Examples
    --------
    One reference step from zero: the first step has size about
    lr / sqrt(1 - alpha), whatever the gradient's scale.

    >>> import numpy as np
    >>> from gdcore.optim import RMSprop
    >>> opt = RMSprop(lr=0.01)
    >>> p, state = np.zeros(2), opt.new_state(2)
    >>> opt.update(p, np.array([1e-2, -1e2]), state, 0.01)
    >>> np.round(p, 4)
    array([-0.1,  0.1])
    """

    kind = "rmsprop"
    slots = ("square_avg", "momentum_buffer", "grad_avg")
    default_lr = 1e-2

    def __init__(self, lr: LearningRate = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        self.lr = check_positive("lr", lr, allow_auto=True)
        self.alpha = check_in("alpha", alpha, 0.0, 1.0)
        self.eps = check_in("eps", eps, 0.0, float("inf"))
        self.weight_decay = check_in("weight_decay", weight_decay, 0.0, float("inf"))
        self.momentum = check_in("momentum", momentum, 0.0, 1.0)
        self.centered = check_flag("centered", centered)

    def settings(self, lr: float) -> Dict[str, Any]:
        return {"kind": self.kind, "lr": lr, "alpha": self.alpha, "eps": self.eps,
                "weight_decay": self.weight_decay, "momentum": self.momentum,
                "centered": self.centered}

    def update(self, x: np.ndarray, g: np.ndarray, state: State, lr: float) -> None:
        x64 = x.astype(np.float64)
        d = g + self.weight_decay * x64 if self.weight_decay != 0 else g
        s = state.slots["square_avg"]
        s[:] = s * self.alpha + (1 - self.alpha) * d * d
        if self.centered:
            a = state.slots["grad_avg"]
            a[:] = lerp(a, d, 1 - self.alpha)
            denom = np.sqrt(s + (-1.0) * a * a) + self.eps
        else:
            denom = np.sqrt(s) + self.eps
        if self.momentum > 0:
            buf = state.slots["momentum_buffer"]
            buf[:] = buf * self.momentum + d / denom
            x[:] = x64 + (-lr) * buf
        else:
            x[:] = x64 + (-lr) * d / denom
        state["step"] = state.step + 1
