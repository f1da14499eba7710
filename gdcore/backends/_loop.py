"""The epoch loop of the reference backends, written once in Python.

The compiled kernel runs the same loop in C (``src/_linear.pyx``); the python
and numpy backends share this one and differ only in their ``Engine``: how
they compute a (batch) loss and gradient and apply an update. Reading this
file next to ``_base.py`` is the specification of a fit.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from .._random import SplitMix64, shuffle
from ._base import BLOWUP, CONVERGED, DIVERGED, MAX_EPOCHS, POWER_MAX_ITER, POWER_RTOL, FitResult


class Engine:
    """Parameters plus the arithmetic on them; subclasses pick lists or arrays."""

    fit_intercept: bool

    def evaluate(self, rows: Optional[Sequence[int]]) -> Tuple[float, Any, float]:
        """Mean loss and gradient over ``rows`` (all rows if None) at the current parameters."""
        raise NotImplementedError

    def update(self, gw: Any, gb: float, lr: float) -> None:
        raise NotImplementedError

    def snapshot(self) -> Any:
        raise NotImplementedError

    def restore(self, snap: Any) -> None:
        raise NotImplementedError

    def weighted_sum(self, acc: Any, g: Any, weight: float) -> Any:
        """``acc + weight * g`` (``acc`` None means zero)."""
        raise NotImplementedError

    def sq_norm(self, g: Any) -> float:
        raise NotImplementedError

    def grad_norm(self, gw: Any, gb: float) -> float:
        sq = self.sq_norm(gw)
        if self.fit_intercept:
            sq += gb * gb
        return math.sqrt(sq)


def run(engine: Engine, n: int, lr: float, epochs: int, tol: float,
        batch_size: Optional[int], seed: int) -> FitResult:
    if batch_size is None:
        return _full_batch(engine, lr, epochs, tol)
    return _mini_batch(engine, n, lr, epochs, tol, batch_size, seed)


def _bad(loss: float, first: Optional[float]) -> bool:
    return not math.isfinite(loss) or (first is not None and loss > BLOWUP * first)


def _full_batch(engine: Engine, lr: float, epochs: int, tol: float) -> FitResult:
    history = []
    prev = None  # (snapshot, loss, grad norm) of the last good step
    for _ in range(epochs + 1):
        loss, gw, gb = engine.evaluate(None)
        if _bad(loss, history[0] if history else None):
            if prev is not None:
                engine.restore(prev[0])
                return FitResult(np.array(history[:-1]), prev[1], prev[2], DIVERGED)
            return FitResult(np.array(history), loss, math.nan, DIVERGED)
        norm = engine.grad_norm(gw, gb)
        if norm <= tol:
            return FitResult(np.array(history), loss, norm, CONVERGED)
        if len(history) == epochs:
            return FitResult(np.array(history), loss, norm, MAX_EPOCHS)
        history.append(loss)
        prev = (engine.snapshot(), loss, norm)
        engine.update(gw, gb, lr)
    raise AssertionError("unreachable")


def _mini_batch(engine: Engine, n: int, lr: float, epochs: int, tol: float,
                batch_size: int, seed: int) -> FitResult:
    rng = SplitMix64(seed)
    order = list(range(n))
    history = []
    stopped = False
    for _ in range(epochs):
        shuffle(order, rng)
        start = engine.snapshot()
        epoch_loss, epoch_gw, epoch_gb = 0.0, None, 0.0
        for lo in range(0, n, batch_size):
            rows = order[lo:lo + batch_size]
            loss, gw, gb = engine.evaluate(rows)
            if not math.isfinite(loss):
                return _diverged(engine, start, history)
            m = len(rows)
            epoch_loss += m * loss
            epoch_gw = engine.weighted_sum(epoch_gw, gw, m)
            epoch_gb += m * gb
            engine.update(gw, gb, lr)
        epoch_loss /= n
        if _bad(epoch_loss, history[0] if history else None):
            return _diverged(engine, start, history)
        history.append(epoch_loss)
        if engine.grad_norm(engine.weighted_sum(None, epoch_gw, 1.0 / n), epoch_gb / n) <= tol:
            stopped = True
            break
    loss, gw, gb = engine.evaluate(None)
    norm = engine.grad_norm(gw, gb)
    if not math.isfinite(loss):
        return FitResult(np.array(history), loss, math.nan, DIVERGED)
    return FitResult(np.array(history), loss, norm,
                     CONVERGED if stopped or norm <= tol else MAX_EPOCHS)


def _diverged(engine: Engine, start: Any, history: list) -> FitResult:
    engine.restore(start)
    loss, gw, gb = engine.evaluate(None)
    return FitResult(np.array(history), loss, engine.grad_norm(gw, gb), DIVERGED)


def power_iteration(hessian_times, v: Any, norm) -> float:
    """Largest eigenvalue of a symmetric PSD operator: ``||H v||`` with ``v`` converged.

    ``||H v|| <= lambda_max`` for a unit ``v``, so the estimate never overshoots;
    ``1 / estimate`` stays below the divergence bound ``2 / lambda_max`` as soon as
    the estimate passes half of lambda_max, which takes a handful of products.
    """
    scale = norm(v)
    v = [x / scale for x in v] if isinstance(v, list) else v / scale
    lam = 0.0
    for _ in range(POWER_MAX_ITER):
        u = hessian_times(v)
        new = norm(u)
        if new == 0.0:
            return 0.0
        v = [x / new for x in u] if isinstance(u, list) else u / new
        if abs(new - lam) <= POWER_RTOL * new:
            return new
        lam = new
    return lam
