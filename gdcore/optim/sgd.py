"""Stochastic gradient descent with momentum (torch.optim.SGD), and the plain step."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from .base import (LearningRate, Optimizer, Prox, State, check_flag, check_in, check_positive,
                   proximal)


class SGD(Optimizer):
    """torch.optim.SGD: d = g + weight_decay p; b = momentum b + (1 - dampening) d
    (b = d on the first step); d = d + momentum b (Nesterov) or b; p <- p - lr d.

    With the defaults it is plain gradient descent, p <- p - lr g: the
    tutorial's update. ``lr="auto"`` (the default) takes 1 / L, L the
    curvature of the loss (1 / L_B for mini-batches; see ``Trainer``).

    Parameters
    ----------
    lr : float or "auto"
        The step; "auto" measures the safe one from the data.
    momentum : float in [0, 1)
        Heavy-ball momentum (0: none).
    dampening : float in [0, 1]
        How much of the new direction the momentum buffer leaves out.
    nesterov : bool
        Nesterov's form; needs ``momentum > 0`` and ``dampening == 0``.
    weight_decay : float >= 0
        Adds ``weight_decay * p`` to the gradient (an L2 penalty's gradient).

    Raises
    ------
    ValueError
        A setting out of its range, or ``nesterov`` without momentum.

    Examples
    --------
    Nesterov momentum on the tutorial's data, in the raw coordinates:

    >>> import numpy as np, gdcore
    >>> from gdcore.optim import SGD
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> model = gdcore.LinearModel(1)
    >>> opt = SGD(lr=0.05, momentum=0.9, nesterov=True)
    >>> history = gdcore.Trainer(optimizer=opt, precondition=None, epochs=2000,
    ...                          tol=1e-9).fit(model, x, x)
    >>> history.status, round(float(model.w[0]), 6), round(model.b, 6) + 0.0
    ('converged', 1.0, 0.0)
    """

    kind = "sgd"
    slots = ("momentum_buffer",)
    default_lr = "auto"
    curvature_step = True
    proximal = True

    def __init__(self, lr: LearningRate = "auto", momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        self.lr = check_positive("lr", lr, allow_auto=True)
        self.momentum = check_in("momentum", momentum, 0.0, 1.0)
        self.dampening = check_in("dampening", dampening, 0.0, 1.0, high_open=False)
        self.nesterov = check_flag("nesterov", nesterov)
        self.weight_decay = check_in("weight_decay", weight_decay, 0.0, float("inf"))
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0")

    def settings(self, lr: float) -> Dict[str, Any]:
        return {"kind": self.kind, "lr": lr, "momentum": self.momentum,
                "dampening": self.dampening, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}

    def update(self, x: np.ndarray, g: np.ndarray, state: State, lr: float) -> None:
        x64 = x.astype(np.float64)
        d = g
        if self.weight_decay != 0:
            d = d + self.weight_decay * x64
        if self.momentum != 0:
            buf = state.slots["momentum_buffer"]
            buf[:] = d if state.step == 0 else buf * self.momentum + (1 - self.dampening) * d
            d = d + self.momentum * buf if self.nesterov else buf
        x[:] = x64 + (-lr) * d
        state["step"] = state.step + 1

    def step(self, x: np.ndarray, g: np.ndarray, state: State, lr: float,
             prox: Prox = None) -> None:
        """The step, then a penalty's proximal step; the momentum buffer then holds the
        step taken, so that momentum follows the iterates (iPiano, Ochs et al. 2014)
        and the fixed points are the penalised objective's."""
        x64 = x.astype(np.float64)
        self.update(x, g, state, lr)
        if prox is None:
            return
        x_new = proximal(x.astype(np.float64), lr, prox)
        if self.momentum != 0:
            state.slots["momentum_buffer"][:] = (x64 - x_new) / lr
        x[:] = x_new
