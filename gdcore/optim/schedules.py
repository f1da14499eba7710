"""Learning-rate schedules: lr_t = lr * factor, evaluated before every step.

A schedule is a function of the steps taken (t) and the epochs finished; the
plateau schedule also carries a factor in the optimizer's state, updated at
the end of every epoch from the epoch's loss. Both loops keep that state in
the run, so a fit cut in chunks takes the same steps as the uncut fit. The
compiled formulas are ``lr_factor`` and ``epoch_end`` in src/_optim.pxd;
``factor`` and ``epoch_end`` here are their references.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Dict, Optional

from .base import State, check_in, check_positive


class Schedule:
    """A learning-rate schedule: the step is lr times ``factor`` before every step.

    Subclasses set ``kind`` (the compiled loop's name for the formula) and
    write the formula twice: ``settings`` for the compiled loop and
    ``factor`` (with ``epoch_end``) as its reference.
    """

    kind: str

    def settings(self, epochs: int) -> Dict[str, Any]:
        """The parameters as the compiled loop reads them, for a fit of ``epochs`` epochs."""
        return {"kind": self.kind}

    def factor(self, state: State, epoch: float, steps_per_epoch: float, epochs: int) -> float:
        """The factor of lr for the next step.

        Parameters
        ----------
        state : State
            The optimizer's state (its step count and the schedule's counters).
        epoch : float
            The epochs finished, with the fraction of the current one.
        steps_per_epoch : float
            Steps in one epoch (1 for full batch).
        epochs : int
            The fit's epochs.

        Returns
        -------
        float
        """
        return 1.0

    def epoch_end(self, state: State, loss: float) -> None:
        """After every epoch, with its loss."""

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)


class Constant(Schedule):
    """lr at every step (what ``schedule=None`` means).

    Examples
    --------
    >>> from gdcore.optim import Constant, SGD
    >>> Constant().factor(SGD().new_state(1), 10.0, 1, 100)
    1.0
    """

    kind = "constant"


class InverseScaling(Schedule):
    """lr / (t + 1)^power_t, t the steps taken before (scikit-learn's "invscaling").

    A step that decays like this lets stochastic steps settle where a
    constant one keeps wandering in the gradient's noise.

    Parameters
    ----------
    power_t : float >= 0
        The exponent (0.25, scikit-learn's default).

    Examples
    --------
    >>> from gdcore.optim import InverseScaling, SGD
    >>> state = SGD().new_state(1)
    >>> state["step"] = 15                  # 15 steps taken
    >>> InverseScaling(power_t=0.5).factor(state, 15.0, 1, 100)
    0.25
    """

    kind = "inverse_scaling"

    def __init__(self, power_t: float = 0.25) -> None:
        self.power_t = check_in("power_t", power_t, 0.0, float("inf"))

    def settings(self, epochs: int) -> Dict[str, Any]:
        return {"kind": self.kind, "power_t": self.power_t}

    def factor(self, state: State, epoch: float, steps_per_epoch: float, epochs: int) -> float:
        return 1.0 / math.pow(state.step + 1, self.power_t)


class StepDecay(Schedule):
    """lr * gamma^floor(epoch / step_size) (torch's StepLR).

    Parameters
    ----------
    step_size : int >= 1
        Epochs between two decays.
    gamma : float > 0
        The factor of each decay.

    Raises
    ------
    ValueError
        A bad ``step_size`` or ``gamma``.

    Examples
    --------
    >>> from gdcore.optim import StepDecay, SGD
    >>> StepDecay(step_size=10, gamma=0.5).factor(SGD().new_state(1), 25.0, 1, 100)
    0.25
    """

    kind = "step_decay"

    def __init__(self, step_size: int = 30, gamma: float = 0.1) -> None:
        if not isinstance(step_size, numbers.Integral) or isinstance(step_size, bool) or step_size < 1:
            raise ValueError(f"step_size must be an integer >= 1, got {step_size!r}")
        self.step_size: int = int(step_size)
        self.gamma: float = check_positive("gamma", gamma)

    def settings(self, epochs: int) -> Dict[str, Any]:
        return {"kind": self.kind, "step_size": float(self.step_size), "gamma": self.gamma}

    def factor(self, state: State, epoch: float, steps_per_epoch: float, epochs: int) -> float:
        return math.pow(self.gamma, math.floor(epoch / self.step_size))


class ExponentialDecay(Schedule):
    """lr * gamma^epoch (torch's ExponentialLR).

    Parameters
    ----------
    gamma : float > 0
        The factor per epoch.

    Examples
    --------
    >>> from gdcore.optim import ExponentialDecay, SGD
    >>> ExponentialDecay(gamma=0.5).factor(SGD().new_state(1), 3.0, 1, 100)
    0.125
    """

    kind = "exponential"

    def __init__(self, gamma: float = 0.99) -> None:
        self.gamma = check_positive("gamma", gamma)

    def settings(self, epochs: int) -> Dict[str, Any]:
        return {"kind": self.kind, "gamma": self.gamma}

    def factor(self, state: State, epoch: float, steps_per_epoch: float, epochs: int) -> float:
        return math.pow(self.gamma, epoch)


class CosineWarmup(Schedule):
    """A linear warm-up over ``warmup`` epochs, then a half cosine from lr to
    ``min_factor * lr`` at epoch ``total`` (default: the fit's epochs), then flat.

    In steps: (t + 1) / (warmup * S) while t / S < warmup (S the steps per
    epoch), then min_factor + (1 - min_factor) (1 + cos(pi p)) / 2 with p the
    fraction of the cosine's epochs done.

    The warm-up keeps the first steps small while adaptive methods' moments
    are still poor estimates; the cosine takes the step to ``min_factor`` so
    that mini-batch steps settle. The mini-batch default uses it.

    Parameters
    ----------
    warmup : float >= 0
        Epochs of linear warm-up.
    total : float > 0, optional
        The epoch where the cosine ends (default: the fit's epochs).
    min_factor : float in [0, 1]
        The factor at the end.

    Examples
    --------
    Half-way through the cosine of a fit of 100 epochs, full batch:

    >>> from gdcore.optim import CosineWarmup, SGD
    >>> state = SGD().new_state(1)
    >>> state["step"] = 50
    >>> CosineWarmup().factor(state, 50.0, 1, 100)
    0.5
    """

    kind = "cosine"

    def __init__(self, warmup: float = 0.0, total: Optional[float] = None,
                 min_factor: float = 0.0) -> None:
        self.warmup = check_in("warmup", warmup, 0.0, float("inf"))
        self.total = None if total is None else check_positive("total", total)
        self.min_factor = check_in("min_factor", min_factor, 0.0, 1.0, high_open=False)

    def _total(self, epochs: int) -> float:
        return float(epochs) if self.total is None else self.total

    def settings(self, epochs: int) -> Dict[str, Any]:
        return {"kind": self.kind, "warmup": self.warmup, "total": self._total(epochs),
                "min_factor": self.min_factor}

    def factor(self, state: State, epoch: float, steps_per_epoch: float, epochs: int) -> float:
        t = state.step
        tau = t / steps_per_epoch
        if tau < self.warmup:
            return (t + 1) / (self.warmup * steps_per_epoch)
        total = self._total(epochs)
        progress = (tau - self.warmup) / (total - self.warmup) if total > self.warmup else 1.0
        progress = min(progress, 1.0)
        return self.min_factor + (1 - self.min_factor) * (1 + math.cos(math.pi * progress)) / 2


class ReduceOnPlateau(Schedule):
    """torch's ReduceLROnPlateau on the epoch loss (mode "min", relative threshold):
    the factor is multiplied by ``gamma`` once the loss has not improved by a
    relative ``threshold`` for more than ``patience`` epochs, then waits
    ``cooldown`` epochs; it never goes below ``min_factor``.

    Parameters
    ----------
    gamma : float in [0, 1)
        The factor of each reduction.
    patience : int >= 0
        Epochs without improvement tolerated before a reduction.
    threshold : float in [0, 1)
        The relative improvement that counts.
    cooldown : int >= 0
        Epochs after a reduction before counting again.
    min_factor : float in [0, 1]
        The smallest factor.

    Raises
    ------
    ValueError
        A setting out of its range.

    Examples
    --------
    >>> from gdcore.optim import ReduceOnPlateau, SGD
    >>> sched, state = ReduceOnPlateau(gamma=0.5, patience=1), SGD().new_state(1)
    >>> for loss in (1.0, 1.0, 1.0):        # no improvement after the first epoch
    ...     sched.epoch_end(state, loss)
    >>> sched.factor(state, 3.0, 1, 100)
    0.5
    """

    kind = "plateau"

    def __init__(self, gamma: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                 cooldown: int = 0, min_factor: float = 0.0) -> None:
        self.gamma = check_in("gamma", gamma, 0.0, 1.0)
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        self.patience, self.cooldown = int(patience), int(cooldown)
        self.threshold = check_in("threshold", threshold, 0.0, 1.0)
        self.min_factor = check_in("min_factor", min_factor, 0.0, 1.0, high_open=False)

    def settings(self, epochs: int) -> Dict[str, Any]:
        return {"kind": self.kind, "gamma": self.gamma, "patience": float(self.patience),
                "threshold": self.threshold, "cooldown": float(self.cooldown),
                "min_factor_plateau": self.min_factor}

    def factor(self, state: State, epoch: float, steps_per_epoch: float, epochs: int) -> float:
        return state["lr_factor"]

    def epoch_end(self, state: State, loss: float) -> None:
        if loss < state["plateau_best"] * (1 - self.threshold):
            state["plateau_best"] = loss
            state["plateau_bad"] = 0
        else:
            state["plateau_bad"] = state["plateau_bad"] + 1
        if state["plateau_cooldown"] > 0:
            state["plateau_cooldown"] = state["plateau_cooldown"] - 1
            state["plateau_bad"] = 0
        if state["plateau_bad"] > self.patience:
            state["lr_factor"] = max(state["lr_factor"] * self.gamma, self.min_factor)
            state["plateau_cooldown"] = self.cooldown
            state["plateau_bad"] = 0


#: Names ``Trainer(schedule=...)`` accepts, and the class each builds (default settings).
SCHEDULES = {"constant": Constant, "inverse_scaling": InverseScaling, "step": StepDecay,
             "exponential": ExponentialDecay, "cosine": CosineWarmup,
             "plateau": ReduceOnPlateau}


def get_schedule(schedule: Any) -> Schedule:
    """A Schedule from a Schedule, a name of SCHEDULES (default settings) or None (constant).

    Raises
    ------
    ValueError
        Anything else.

    Examples
    --------
    >>> from gdcore.optim import get_schedule
    >>> get_schedule("step")
    StepDecay(step_size=30, gamma=0.1)
    """
    if schedule is None:
        return Constant()
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str) and schedule in SCHEDULES:
        return SCHEDULES[schedule]()
    raise ValueError(f"schedule must be None, a gdcore.optim schedule or one of "
                     f"{sorted(SCHEDULES)}, got {schedule!r}")
