"""The epoch loop of the reference backends, written once in Python.

The compiled kernel runs the same loop in C (``src/_linear.pyx``); the python
and numpy backends share this one and differ only in their ``Engine``: how
they compute a (batch) loss and gradient and apply an update. Reading this
file next to ``_base.py`` is the specification of a fit.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .._random import SplitMix64, shuffle
from ._base import (BLOWUP, CONVERGED, DIVERGED, MAX_EPOCHS, POWER_MAX_ITER, POWER_RTOL,
                    STOPPED, FitResult)


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

    def flat(self, snap: Any) -> np.ndarray:
        """A snapshot as one row of the recorded path: (w..., b)."""
        raise NotImplementedError

    def grad_norm(self, gw: Any, gb: float) -> float:
        sq = self.sq_norm(gw)
        if self.fit_intercept:
            sq += gb * gb
        return math.sqrt(sq)


class ReferenceRun:
    """A fit in progress on an Engine: the state machine of the compiled loops.

    ``advance(k)`` runs at most k more epochs and pauses after an update;
    the state kept between calls is what the C kernel keeps in its buffers.
    """

    def __init__(self, engine: Engine, n: int, lr: float, epochs: int, tol: float,
                 batch_size: Optional[int], seed: int, record_path: bool = False) -> None:
        self.engine, self.n, self.lr, self.epochs, self.tol = engine, n, lr, epochs, tol
        self.batch_size = batch_size
        self.rng = SplitMix64(seed)
        self.order = list(range(n)) if batch_size is not None else []
        self.history: List[float] = []
        self.path: Optional[List[Any]] = [] if record_path else None
        self.saved: Optional[Tuple[Any, float, float]] = None  # last step's start, its loss, norm
        self.reference: Optional[float] = None  # mini-batch: loss at the start, for blow-ups

    @property
    def n_epochs(self) -> int:
        return len(self.history)

    @property
    def last_loss(self) -> float:
        return self.history[-1] if self.history else math.nan

    def _result(self, loss: float, norm: float, status: str) -> FitResult:
        path = None
        if self.path is not None:
            path = np.array([self.engine.flat(p) for p in self.path[:len(self.history)]])
        return FitResult(np.array(self.history, dtype=np.float64), loss, norm, status, path)

    def _record(self, loss: float, params: Any) -> None:
        self.history.append(loss)
        if self.path is not None:
            self.path.append(params)

    def advance(self, epochs: int) -> Optional[FitResult]:
        stop_at = min(self.epochs, self.n_epochs + epochs)
        if self.batch_size is None:
            return self._full_batch(stop_at)
        return self._mini_batch(stop_at)

    def finish(self) -> FitResult:
        loss, gw, gb = self.engine.evaluate(None)
        norm = self.engine.grad_norm(gw, gb)
        return self._result(loss, norm, CONVERGED if norm <= self.tol else STOPPED)

    def _full_batch(self, stop_at: int) -> Optional[FitResult]:
        engine = self.engine
        while True:
            if self.n_epochs == stop_at and self.n_epochs < self.epochs:
                return None  # paused between epochs
            loss, gw, gb = engine.evaluate(None)
            if _bad(loss, self.history[0] if self.history else None):
                if self.saved is not None:  # undo the step that blew up
                    engine.restore(self.saved[0])
                    self.history.pop()
                    return self._result(self.saved[1], self.saved[2], DIVERGED)
                return self._result(loss, math.nan, DIVERGED)
            norm = engine.grad_norm(gw, gb)
            if norm <= self.tol or self.n_epochs == self.epochs:
                return self._result(loss, norm, CONVERGED if norm <= self.tol else MAX_EPOCHS)
            self.saved = (engine.snapshot(), loss, norm)
            self._record(loss, self.saved[0])
            engine.update(gw, gb, self.lr)

    def _mini_batch(self, stop_at: int) -> Optional[FitResult]:
        engine, n, batch_size = self.engine, self.n, self.batch_size
        assert batch_size is not None
        stopped = diverged = False
        if not self.history and stop_at > 0:
            self.reference = engine.evaluate(None)[0]
            if not math.isfinite(self.reference):
                return self._result(self.reference, math.nan, DIVERGED)
        while self.n_epochs < stop_at:
            shuffle(self.order, self.rng)
            start = engine.snapshot()
            epoch_loss, epoch_gw, epoch_gb = 0.0, None, 0.0
            for lo in range(0, n, batch_size):
                rows = self.order[lo:lo + batch_size]
                loss, gw, gb = engine.evaluate(rows)
                if not math.isfinite(loss):
                    diverged = True
                    break
                m = len(rows)
                epoch_loss += m * loss
                epoch_gw = engine.weighted_sum(epoch_gw, gw, m)
                epoch_gb += m * gb
                engine.update(gw, gb, self.lr)
            if not diverged:
                epoch_loss /= n
                diverged = _bad(epoch_loss, self.reference)
            if diverged:  # back to the parameters this epoch started from
                engine.restore(start)
                break
            self._record(epoch_loss, start)
            if engine.grad_norm(engine.weighted_sum(None, epoch_gw, 1.0 / n), epoch_gb / n) <= self.tol:
                stopped = True
                break
        if not (stopped or diverged or self.n_epochs == self.epochs):
            return None
        loss, gw, gb = engine.evaluate(None)
        if not math.isfinite(loss):
            return self._result(loss, math.nan, DIVERGED)
        norm = engine.grad_norm(gw, gb)
        if diverged:
            return self._result(loss, norm, DIVERGED)
        return self._result(loss, norm, CONVERGED if stopped or norm <= self.tol else MAX_EPOCHS)


def _bad(loss: float, first: Optional[float]) -> bool:
    return not math.isfinite(loss) or (first is not None and loss > BLOWUP * first)


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
