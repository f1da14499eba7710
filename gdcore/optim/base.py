"""What every optimizer has: settings, a state laid out for both loops, a reference step.

An optimizer is a small object of hyper-parameters, as in torch.optim, but
its state lives with the run, as in optax: ``State`` is one float64 array
(the fit's coordinates when they are not the parameters, then the
optimizer's vectors ``slots``, then the ``COUNTERS``), which the compiled
loop (src/_loop.pyx) snapshots with one copy and the reference loop
(gdcore/loop.py) reads through named views. ``update`` is the reference step
in NumPy: it follows torch.optim's formulas operation by operation, as the
compiled step in src/_optim.pxd does, so both round alike.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from .._loop import COUNTERS

LearningRate = Union[float, str]


def check_positive(name: str, value: Any, allow_auto: bool = False) -> Any:
    if allow_auto and isinstance(value, str) and value == "auto":
        return value
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not _finite(value) or value <= 0):
        auto = " or 'auto'" if allow_auto else ""
        raise ValueError(f"{name} must be a positive finite number{auto}, got {value!r}")
    return float(value)


def check_in(name: str, value: Any, low: float, high: float, high_open: bool = True) -> float:
    if (not isinstance(value, numbers.Real) or isinstance(value, bool) or not _finite(value)
            or float(value) < low or (float(value) >= high if high_open else float(value) > high)):
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must be a number in [{low}, {high}{bracket}, got {value!r}")
    return float(value)


def check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _finite(value: numbers.Real) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def sequential_dot(a: np.ndarray, b: np.ndarray) -> float:
    """a . b summed left to right, as the compiled loop sums it."""
    return float(np.cumsum(a * b)[-1]) if a.size else 0.0


class State:
    """An optimizer's state (and a preconditioned fit's coordinates) in one float64 array.

    One array, so that a fit can snapshot and restore it whole (after a
    divergence) and hand it to the compiled loop as it is. ``slots`` are
    views of its vectors by name (``"exp_avg"``, ...), ``counters`` its
    scalars (the step count ``state["step"]``, the schedule's counters).

    Examples
    --------
    >>> from gdcore.optim import Adam
    >>> state = Adam().new_state(3)
    >>> sorted(state.slots), state.step
    (['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'], 0.0)
    """

    def __init__(self, slots: Tuple[str, ...], n: int, coordinates: bool) -> None:
        n_coords = n if coordinates else 0
        self.array = np.zeros(n_coords + len(slots) * n + len(COUNTERS))
        self.coords: Optional[np.ndarray] = self.array[:n_coords] if coordinates else None
        self.slots: Dict[str, np.ndarray] = {
            name: self.array[n_coords + k * n:n_coords + (k + 1) * n]
            for k, name in enumerate(slots)}
        self.counters = self.array[n_coords + len(slots) * n:]
        self["momentum_t"] = 1.0
        self["lr_factor"] = 1.0
        self["plateau_best"] = math.inf
        self["beta1_power"] = self["beta2_power"] = 1.0

    def __getitem__(self, counter: str) -> float:
        return float(self.counters[COUNTERS.index(counter)])

    def __setitem__(self, counter: str, value: float) -> None:
        self.counters[COUNTERS.index(counter)] = value

    @property
    def step(self) -> float:
        """The steps taken."""
        return self["step"]


#: A penalty's weights (t1, t2) on |x_j| and x_j^2 / 2, for the proximal step; None: none.
Prox = Optional[Tuple[np.ndarray, np.ndarray]]


def proximal(v: np.ndarray, lr: float, prox: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The proximal map of lr (t1 |v| + t2 v^2 / 2), coordinate by coordinate:
    v shrunk towards 0 by lr t1 (stopping there: exact zeros), divided by 1 + lr t2
    (as _optim.pxd's)."""
    t1, t2 = lr * prox[0], lr * prox[1]
    return np.where(v > t1, v - t1, np.where(v < -t1, v + t1, 0.0)) / (1.0 + t2)


def lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """torch.lerp's formula (exact at both ends)."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


class Optimizer:
    """The settings of an optimizer; ``update`` is its reference step.

    Subclasses set ``kind`` (the compiled loop's name for the step),
    ``slots`` (the state's vectors, in the compiled step's order) and
    ``default_lr``. The compiled loop runs the same step (``src/_optim.pxd``);
    the tests hold it to ``update``.

    Examples
    --------
    One plain step, p <- p - lr g, by the reference:

    >>> import numpy as np
    >>> from gdcore.optim import SGD
    >>> opt = SGD()
    >>> p = np.array([1.0, 2.0])
    >>> opt.update(p, np.array([1.0, -1.0]), opt.new_state(2), 0.1)
    >>> p
    array([0.9, 2.1])
    """

    kind: str
    slots: Tuple[str, ...] = ()
    default_lr: LearningRate = 1e-3
    #: Whether lr="auto" means 1 / L from the loss's curvature (else the default lr).
    curvature_step: bool = False
    #: Whether it takes a penalty's proximal steps (else the penalty's L2 part joins the
    #: gradient, and an L1 part is refused: an adaptive step would need its own metric).
    proximal: bool = False

    lr: LearningRate

    def settings(self, lr: float) -> Dict[str, Any]:
        """The hyper-parameters as the compiled loop reads them, with the step ``lr``."""
        raise NotImplementedError

    def new_state(self, n: int, coordinates: bool = False) -> State:
        """A fresh State for ``n`` parameters (with room for standardised coordinates)."""
        return State(self.slots, n, coordinates)

    def update(self, x: np.ndarray, g: np.ndarray, state: State, lr: float) -> None:
        """One step on x in place (any float dtype: computed in float64, rounded once)."""
        raise NotImplementedError

    def step(self, x: np.ndarray, g: np.ndarray, state: State, lr: float,
             prox: Prox = None) -> None:
        """``update``, then (optimizers with ``proximal``) for a penalty of weights
        ``prox`` = (t1, t2) on |x_j| and x_j^2 / 2 its proximal step (``proximal``)."""
        if prox is not None:
            raise TypeError(f"{type(self).__name__} takes no proximal step")
        self.update(x, g, state, lr)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)
