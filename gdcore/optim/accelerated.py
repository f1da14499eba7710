"""Accelerated gradient descent: Nesterov/FISTA momentum with adaptive restart."""

from __future__ import annotations

import math
from typing import Any, Dict

import numpy as np

from .base import (LearningRate, Optimizer, Prox, State, check_flag, check_positive, proximal,
                   sequential_dot)


class Accelerated(Optimizer):
    """Nesterov's accelerated gradient (FISTA's momentum) with adaptive restart.

    The gradient is taken at the extrapolated point y_k (what the model
    holds during the fit): x_k = y_k - lr g(y_k), t_{k+1} = (1 + sqrt(1 + 4
    t_k^2)) / 2, y_{k+1} = x_k + ((t_k - 1) / t_{k+1}) (x_k - x_{k-1}).
    With ``restart`` (O'Donoghue and Candes, 2015) the momentum starts again
    (t = 1, y_{k+1} = x_k) whenever g(y_k) . (x_k - x_{k-1}) > 0, i.e. the
    momentum points uphill: this recovers the linear rate of strongly convex
    problems, about (1 - 1/sqrt(kappa)) per step, without knowing the
    strong convexity. ``lr="auto"`` takes 1 / L from the loss's curvature.
    Meant for full-batch fits.

    Parameters
    ----------
    lr : float or "auto"
        The step; "auto" measures 1 / L from the data.
    restart : bool
        Restart the momentum when it points uphill.

    Raises
    ------
    ValueError
        A bad ``lr`` or ``restart``.

    Examples
    --------
    The method the default fit runs; here by name, in raw coordinates:

    >>> import numpy as np, gdcore
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> model = gdcore.LinearModel(1)
    >>> history = gdcore.Trainer(optimizer="accelerated", precondition=None,
    ...                          tol=1e-9).fit(model, x, x)
    >>> history.optimizer.restart, round(float(model.w[0]), 6)
    (True, 1.0)
    """

    kind = "accelerated"
    slots = ("x_prev",)
    default_lr = "auto"
    curvature_step = True
    proximal = True

    def __init__(self, lr: LearningRate = "auto", restart: bool = True) -> None:
        self.lr = check_positive("lr", lr, allow_auto=True)
        self.restart = check_flag("restart", restart)

    def settings(self, lr: float) -> Dict[str, Any]:
        return {"kind": self.kind, "lr": lr, "restart": self.restart}

    def update(self, x: np.ndarray, g: np.ndarray, state: State, lr: float) -> None:
        self.step(x, g, state, lr)

    def step(self, x: np.ndarray, g: np.ndarray, state: State, lr: float,
             prox: Prox = None) -> None:
        """FISTA's step: with a penalty its proximal step comes before the momentum,
        and the restart tests the proximal gradient, (y_k - x_k) / lr, in place of g."""
        x_prev = state.slots["x_prev"]
        y = x.astype(np.float64)
        if state.step == 0:
            x_prev[:] = y
        x_new = y - lr * g
        if prox is None:
            uphill = sequential_dot(g, x_new - x_prev) > 0
        else:
            x_new = proximal(x_new, lr, prox)
            uphill = sequential_dot(y - x_new, x_new - x_prev) > 0
        if self.restart and uphill:
            state["momentum_t"] = 1.0
            x[:] = x_new
        else:
            t = state["momentum_t"]
            t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
            x[:] = x_new + ((t - 1) / t_next) * (x_new - x_prev)
            state["momentum_t"] = t_next
        x_prev[:] = x_new
        state["step"] = state.step + 1
