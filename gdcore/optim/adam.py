"""Adam and AdamW (torch.optim.Adam, torch.optim.AdamW)."""

from __future__ import annotations

import math
from typing import Any, Dict, Tuple

import numpy as np

from .base import LearningRate, Optimizer, State, check_flag, check_in, check_positive, lerp


class Adam(Optimizer):
    """torch.optim.Adam: m = lerp(m, g, 1 - beta1), v = beta2 v + (1 - beta2) g^2,
    p <- p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    (with amsgrad, the running maximum of v in place of v); weight decay adds
    weight_decay p to g.

    Each coordinate's step is scaled by its own gradients' history, so steps
    have about the size lr whatever the gradient's scale: the default for
    networks.

    Parameters
    ----------
    lr : float
        The step (1e-3, torch's default).
    betas : (float, float) in [0, 1)
        Decay rates of the running means of g and g^2.
    eps : float >= 0
        Added to the denominator, for steps where v is near 0.
    weight_decay : float >= 0
        Adds ``weight_decay * p`` to the gradient (for AdamW: decoupled).
    amsgrad : bool
        Divide by the running maximum of v (Reddi et al., 2018).

    Raises
    ------
    ValueError
        A setting out of its range.

    Examples
    --------
    >>> import numpy as np, gdcore
    >>> from gdcore.optim import Adam
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> model = gdcore.LinearModel(1)
    >>> history = gdcore.Trainer(optimizer=Adam(lr=0.1), epochs=300, tol=0.0).fit(model, x, x)
    >>> history.optimizer
    Adam(lr=0.1, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False)
    >>> bool(abs(model.w[0] - 1) < 0.05)
    True
    """

    kind = "adam"
    slots = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    default_lr = 1e-3
    decoupled = False

    def __init__(self, lr: LearningRate = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        self.lr = check_positive("lr", lr, allow_auto=True)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}") from None
        self.betas = (check_in("betas[0]", beta1, 0.0, 1.0), check_in("betas[1]", beta2, 0.0, 1.0))
        self.eps = check_in("eps", eps, 0.0, float("inf"))
        self.weight_decay = check_in("weight_decay", weight_decay, 0.0, float("inf"))
        self.amsgrad = check_flag("amsgrad", amsgrad)

    def settings(self, lr: float) -> Dict[str, Any]:
        return {"kind": self.kind, "lr": lr, "beta1": self.betas[0], "beta2": self.betas[1],
                "eps": self.eps, "weight_decay": self.weight_decay, "amsgrad": self.amsgrad,
                "decoupled": self.decoupled}

    def update(self, x: np.ndarray, g: np.ndarray, state: State, lr: float) -> None:
        beta1, beta2 = self.betas
        t = state.step
        state["beta1_power"] = state["beta1_power"] * beta1  # beta^(t+1), as a running product
        state["beta2_power"] = state["beta2_power"] * beta2
        step_size = lr / (1 - state["beta1_power"])
        bias_correction2_sqrt = math.sqrt(1 - state["beta2_power"])
        d = g
        if self.weight_decay != 0:
            if self.decoupled:
                x[:] = x.astype(np.float64) * (1 - lr * self.weight_decay)
            else:
                d = d + self.weight_decay * x.astype(np.float64)
        m, v = state.slots["exp_avg"], state.slots["exp_avg_sq"]
        m[:] = lerp(m, d, 1 - beta1)
        v[:] = v * beta2 + (1 - beta2) * d * d
        if self.amsgrad:
            v_max = state.slots["max_exp_avg_sq"]
            v_max[:] = np.maximum(v_max, v)
            denom = np.sqrt(v_max) / bias_correction2_sqrt + self.eps
        else:
            denom = np.sqrt(v) / bias_correction2_sqrt + self.eps
        x[:] = x.astype(np.float64) + (-step_size) * m / denom
        state["step"] = t + 1


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay, p <- p (1 - lr weight_decay)
    before the Adam step (weight_decay 0.01 by default, as in torch).

    Decoupled, the decay shrinks every weight by the same fraction whatever
    its gradients' history, which Adam's scaling would otherwise undo
    (Loshchilov and Hutter, 2019). The parameters are Adam's.

    Examples
    --------
    >>> from gdcore.optim import AdamW
    >>> AdamW(lr=0.01).weight_decay
    0.01
    """

    decoupled = True

    def __init__(self, lr: LearningRate = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(lr, betas, eps, weight_decay, amsgrad)
