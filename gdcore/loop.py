"""The epoch loop, written out in Python: the specification of a fit.

Every backend's fit is this loop; the compiled backend runs it in C
(``src/_loop.pyx``, which mirrors this file line for line), the python and
numpy backends run ``ReferenceRun`` below with their own objectives. An
objective is a model's loss on its data, reduced to one call,
``objective.sums(params, rows) -> (loss sum, gradient sums)`` over all rows
or the listed ones; the loop divides by the rows, steps, records and stops.

Semantics (the tests hold every backend to them):

* full batch, epoch k: the mean loss L_k and gradient g at the parameters;
  divergence is checked (L_k not finite, or L_k > blowup * max(L_0, blowup_floor))
  and undoes
  the last step, optimizer state included; then the stopping rule is tested
  on its measure (``StopRule``: ||g|| in the fit's coordinates, or the error
  it implies): converged when it is at most ``abs_tol + rel_tol *
  ||params[:rel_len]||`` (the parameters in the user's units), stalled after
  ``patience`` epochs without a new smallest measure; else L_k is recorded
  (and the parameters, with ``record_path``), the state is snapshotted, and
  the optimizer takes one step with lr * schedule factor.
* mini-batch, epoch k: the row order (kept across epochs, starting from
  0..n-1) is reshuffled in place (``gdcore._random.shuffle``; with
  ``shuffle="blocks"`` rewritten as blocks of ``block`` contiguous rows in a
  random order, each block's rows shuffled, ``shuffle_blocks``; with
  ``shuffle=False`` left at 0..n-1), then each run
  of ``batch_size`` rows (the last may be shorter) gives a mean loss and
  gradient and one step. The epoch's loss and gradient are the row-weighted
  means of its batches'; divergence is a non-finite batch loss, an epoch
  loss above blowup times the full loss measured before the first epoch (or
  blowup_floor, if larger), or
  non-finite parameters at the epoch's end, and restores the epoch's start.
* the fit's coordinates are the parameters, or for a preconditioned linear
  model [w, b] the standardised v = s w, c = b + m . w (gdcore/precondition.py);
  the optimizer steps them and the parameters follow.
* only the first ``n_free`` parameters are stepped (a linear model without
  intercept keeps b).
* with a ``Penalty``, every loss (recorded, judged, reported) is the objective,
  loss + penalty; each step is followed by the penalty's proximal step, and
  the stopping rule and the reported gradient norm read the objective's
  minimum-norm subgradient (see ``Penalty``).
* ``advance(k)`` runs at most k more epochs, pausing between epochs.
* the record keeps the loss (and, with ``record_path``, the parameters) of
  epochs 0, stride, 2 stride, ...: every epoch until ``max_records`` are
  kept, then every other one of them, the stride doubling each time, so a
  fit of any length keeps between max_records / 2 and max_records.
* after the loop, the final loss and the gradient norm over the free
  parameters are those at the returned parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, List, Optional, Protocol, Tuple, Union

import numpy as np

from ._random import SplitMix64, shuffle, shuffle_blocks
from .optim import Optimizer, Schedule, State
from .optim.base import sequential_dot

#: A loss this many times the first epoch's loss counts as divergence.
BLOWUP = 1e6

#: Most epochs a fit's record keeps (8 MB of losses); beyond, every other one.
MAX_RECORDS = 1 << 20
#: ... and at most this many bytes of recorded parameters (``record_path``).
MAX_PATH_BYTES = 1 << 28


def max_records(n_params: int, itemsize: int, record_path: bool) -> int:
    """The record's bound for a fit of ``n_params`` parameters (even, >= 2)."""
    if not record_path:
        return MAX_RECORDS
    return max(2, min(MAX_RECORDS, MAX_PATH_BYTES // max(n_params * itemsize, 1)) // 2 * 2)

#: The orders of a mini-batch epoch (``Trainer(shuffle=...)``).
SHUFFLES = ("rows", "blocks", False)

#: A block of ``shuffle="blocks"`` holds about this many bytes of X: it stays in a
#: core's L2 cache (1-2 MiB today) and spans 32 pages of 4 KiB (see block_rows).
BLOCK_BYTES = 1 << 17


def check_shuffle(shuffle: Any) -> Union[str, bool]:
    """``shuffle`` if it is one of SHUFFLES, else a ValueError naming it."""
    if not (shuffle is False or (isinstance(shuffle, str) and shuffle in SHUFFLES)):
        raise ValueError(f"shuffle must be 'rows', 'blocks' or False, got {shuffle!r}")
    return shuffle


def block_rows(batch_size: int, row_bytes: int, budget: Optional[int] = None) -> int:
    """Rows per block of ``shuffle="blocks"``: the most whole batches within ``budget``
    bytes (BLOCK_BYTES; at least one batch), so that a batch reads rows of one block (two,
    past the short block)."""
    budget = BLOCK_BYTES if budget is None else budget
    return batch_size * max(1, budget // max(1, batch_size * row_bytes))


CONVERGED = "converged"
MAX_EPOCHS = "max_epochs"
DIVERGED = "diverged"
STALLED = "stalled"    # no smaller gradient for ``patience`` epochs: at the limit of precision
STOPPED = "stopped"    # ended early by finish() (a callback, an interrupt)

#: Only epochs with ||g|| within this factor of its best count towards a stall (see
#: src/_loop.pyx): further above it the iterate is moving, not stuck at precision.
STALL_BAND = 100.0


class Objective(Protocol):
    """A model's loss on its data, as a backend computes it."""

    n_rows: int
    n_params: int

    def sums(self, params: np.ndarray, rows: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
        """(sum of the loss terms, float64 sums of their gradients) over all rows or ``rows``."""
        ...


@dataclass(frozen=True)
class StopRule:
    """When a fit stops before its epoch budget: converged when the measure is at most
    ``abs_tol + rel_tol * ||params[:rel_len]||`` (the parameters in the user's units).

    The measure is ||g||, the gradient in the fit's coordinates, or with an
    ``error_map`` (2 n_free x n_free, for a preconditioned fit) the error
    itself: its first n_free rows take g to (w, b) - (w*, b*) in the user's
    units (for least squares, J H^-1: the Newton step), the others to z - z*
    in standardised coordinates (H^-1), whose slopes must also be within
    ``coords_abs_tol + rel_tol * ||v||``."""

    abs_tol: float
    rel_tol: float = 0.0
    rel_len: int = 0
    patience: int = 0
    error_map: Optional[np.ndarray] = None
    coords_abs_tol: float = 0.0


@dataclass(frozen=True)
class Precondition:
    """The change of variables of a linear model [w (d), b], as the loop applies it."""

    scale: np.ndarray             # s
    shift: np.ndarray             # m (zeros without intercept)
    shift_over_scale: np.ndarray  # m / s
    intercept: bool

    def coordinates(self, params: np.ndarray) -> np.ndarray:
        """(v, c): v = s w and, with an intercept, c = b + m . w."""
        w = params[:-1].astype(np.float64)
        v = self.scale * w
        if not self.intercept:
            return v
        return np.append(v, float(params[-1]) + sequential_dot(self.shift, w))

    def gradient(self, g: np.ndarray) -> np.ndarray:
        """dL/dv = dL/dw / s - (m / s) dL/db, dL/dc = dL/db (the chain rule)."""
        d = self.scale.shape[0]
        if not self.intercept:
            return g[:d] / self.scale
        return np.append(g[:d] / self.scale - self.shift_over_scale * g[d], g[d])

    def parameters(self, z: np.ndarray, params: np.ndarray) -> None:
        """params <- (w, b) of the coordinates z: w = v / s, b = c - m . w."""
        d = self.scale.shape[0]
        w = z[:d] / self.scale
        params[:d] = w
        if self.intercept:
            params[d] = np.cumsum(np.concatenate(([z[d]], -(self.shift * w))))[-1]

    def kernel(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        return self.scale, self.shift, self.shift_over_scale, self.intercept


@dataclass(frozen=True)
class Penalty:
    """alpha ((1 - l1_ratio) / 2 ||w||^2 + l1_ratio ||w||_1) on the penalised parameters
    (a linear model's weights, a network's weight matrices), as the loops apply it.

    ``l2`` and ``l1`` hold alpha (1 - l1_ratio) and alpha l1_ratio for each
    parameter (0 for the intercept and biases): the loss gains
    sum (l2 p^2 / 2 + l1 |p|). The penalty does not enter the gradient the
    optimizer steps on: after every step, its proximal step,
    z_j <- soft(z_j, lr t1_j) / (1 + lr t2_j), acts on each coordinate z_j of
    the fit, with t1 = ``l1_coords`` and t2 = ``l2_coords`` (l1 / s_j and
    l2 / s_j^2 in standardised coordinates z = s w). The L1 part so reaches
    exact zeros, and the L2 part never limits the step, however small a
    column's scale. Optimizers without proximal steps (Adam, RMSprop, Adagrad)
    take the L2 part in the gradient instead (``in_gradient``: l2 p, as
    torch's weight_decay; ``l2_coords`` is then 0) and no L1 part. Stopping rules
    and reported gradient norms read the minimum-norm subgradient of the whole
    objective (``composite``), which vanishes at the optimum.
    """

    l2: np.ndarray
    l1: np.ndarray
    l2_coords: np.ndarray
    l1_coords: np.ndarray
    in_gradient: bool = False

    @property
    def has_l1(self) -> bool:
        return bool(np.any(self.l1 > 0))

    @property
    def l2_step(self) -> np.ndarray:
        """l2 where the proximal step applies it, else 0."""
        return np.zeros_like(self.l2) if self.in_gradient else self.l2

    def value(self, params: np.ndarray) -> float:
        """sum (l2 p^2 / 2 + l1 |p|), left to right."""
        w = params.astype(np.float64)
        return float(np.cumsum(0.5 * self.l2 * w * w + self.l1 * np.abs(w))[-1])


def composite(g: np.ndarray, x: np.ndarray, t1: np.ndarray, t2: np.ndarray) -> np.ndarray:
    """The minimum-norm subgradient of f + sum (t2_j x_j^2 / 2 + t1_j |x_j|) from f's
    gradient g: g_j + t2_j x_j + t1_j sign(x_j) where x_j != 0, else g_j shrunk
    towards 0 by t1_j."""
    x = x.astype(np.float64)
    smooth = g + t2 * x
    shrunk = np.where(g > t1, g - t1, np.where(g < -t1, g + t1, 0.0))
    return np.where(x > 0, smooth + t1, np.where(x < 0, smooth - t1, shrunk))


@dataclass(frozen=True)
class Settings:
    """Everything a run needs besides the objective, the parameters and the state."""

    optimizer: Optimizer
    lr: float
    schedule: Schedule
    epochs: int
    batch_size: Optional[int]
    seed: int
    n_free: int
    stop: StopRule
    precondition: Optional[Precondition] = None
    blowup: float = BLOWUP
    blowup_floor: float = 0.0
    record_path: bool = False
    max_records: int = MAX_RECORDS
    penalty: Optional[Penalty] = None
    # a continued fit (warm start, partial_fit): the epochs run before it (the
    # schedule counts on from them), the schedule's horizon if not ``epochs``, and
    # the mini-batch row order to start from (``seed`` is then the stream's state)
    first_epoch: int = 0
    horizon: Optional[int] = None
    order: Optional[np.ndarray] = None
    # the mini-batch order (SHUFFLES) and, for "blocks", the rows per block (block_rows)
    shuffle: Union[str, bool] = "rows"
    block: int = 0

    @property
    def schedule_horizon(self) -> int:
        return self.epochs if self.horizon is None else self.horizon


def ordered(settings: Settings, shuffle: Union[str, bool], row_bytes: int) -> Settings:
    """``settings`` with the mini-batch order ``shuffle``, for rows of ``row_bytes`` bytes."""
    block = block_rows(settings.batch_size, row_bytes) if settings.batch_size else 0
    return replace(settings, shuffle=check_shuffle(shuffle), block=block)


def new_state(settings: Settings, params: np.ndarray) -> State:
    """The optimizer's initial state (with the coordinates of a preconditioned fit)."""
    pre = settings.precondition
    state = settings.optimizer.new_state(settings.n_free, coordinates=pre is not None)
    if pre is not None:
        assert state.coords is not None
        state.coords[:] = pre.coordinates(params)
    return state


#: Sums of squares in this range are exact enough; outside it the norm is taken again
#: on values scaled by their largest (src/_loop.pyx's norm_of, op for op).
SQUARES_MIN, SQUARES_MAX = 1e-280, 1e280


def _norm(g: np.ndarray) -> float:
    """||g||, summed left to right, without overflow or underflow."""
    g = np.asarray(g, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        sq = sequential_dot(g, g)
        if SQUARES_MIN <= sq <= SQUARES_MAX:
            return math.sqrt(sq)
        if np.isnan(g).any():
            return math.nan
        big = float(np.max(np.abs(g))) if g.size else 0.0
        if big == 0.0 or big == math.inf:
            return big
        scaled = g / big
        return big * math.sqrt(sequential_dot(scaled, scaled))


def _ieee() -> np.errstate:
    """The loops compute as the C loop does, in IEEE arithmetic: an overflow is an inf (or
    NaN) that the loop itself judges (a divergence, an unusable start), not a warning."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


class ReferenceRun:
    """The epoch loop in Python, resumable between epochs (the compiled ``_loop.Run``'s twin)."""

    def __init__(self, objective: Objective, params: np.ndarray, state: State,
                 settings: Settings) -> None:
        self.objective, self.params, self.state, self.s = objective, params, state, settings
        self.n = objective.n_rows
        self.rng = SplitMix64(settings.seed)
        check_shuffle(settings.shuffle)
        if settings.shuffle == "blocks" and settings.batch_size and settings.block < 1:
            raise ValueError("shuffle='blocks' needs block >= 1 rows")
        self.order = np.arange(self.n) if settings.batch_size else np.arange(1)
        if settings.order is not None and settings.shuffle == "rows" and settings.batch_size:
            self.order[:] = settings.order
        self.steps_per_epoch = (1.0 if not settings.batch_size
                                else float(-(-self.n // settings.batch_size)))
        self.history: List[float] = []
        self.path: Optional[List[np.ndarray]] = [] if settings.record_path else None
        self.epochs_run, self.stride = 0, 1
        self.losses = [math.nan, math.nan]  # the last two epochs' (see _unrecord)
        self.first_loss = math.nan
        self.saved: Tuple[np.ndarray, np.ndarray] = (state.array.copy(), params.copy())
        self.saved_report = (math.nan, math.nan)
        self.started = False
        self.reference = math.nan
        self.best_norm, self.since_best = math.inf, 0
        self.coords_error = 0.0  # _measure's ||v - v*||, with an error map
        self.grad = np.zeros(objective.n_params)
        self.zgrad = self.grad[:settings.n_free]

    @property
    def n_epochs(self) -> int:
        return self.epochs_run

    @property
    def last_loss(self) -> float:
        return self.losses[-1]

    @property
    def stream(self) -> Tuple[int, Optional[np.ndarray]]:
        """(random state, row order): what a continued fit starts its mini-batches from
        (the run's own order array, not a copy: read it once the run has ended). The
        order is None but for shuffle="rows", whose epochs reshuffle it."""
        carried = self.s.shuffle == "rows" and self.s.batch_size
        return self.rng.state, self.order if carried else None

    def records(self) -> Tuple[np.ndarray, Optional[np.ndarray], int]:
        """(losses, path or None, stride): epochs 0, stride, 2 stride, ... below n_epochs."""
        path = None if self.path is None else np.array(self.path, dtype=self.params.dtype).reshape(
            len(self.path), self.params.shape[0])
        return np.array(self.history, dtype=np.float64), path, self.stride

    # -- one gradient, one step --

    def _evaluate(self, rows: Optional[np.ndarray]) -> float:
        m = self.n if rows is None else len(rows)
        loss, grad = self.objective.sums(self.params, rows)
        scale = 1.0 / m
        self.grad = np.asarray(grad, dtype=np.float64) * scale
        loss = loss * scale
        pen = self.s.penalty
        if pen is not None:
            loss = loss + pen.value(self.params)
            if pen.in_gradient:
                self.grad = self.grad + pen.l2 * self.params.astype(np.float64)
        pre = self.s.precondition
        self.zgrad = pre.gradient(self.grad) if pre is not None else self.grad[:self.s.n_free]
        return loss

    def _coordinates(self) -> np.ndarray:
        return self.state.coords if self.state.coords is not None else self.params[:self.s.n_free]

    def _fit_measure(self, zgrad: np.ndarray) -> float:
        """The stopping rule's measure of a gradient in the fit's coordinates (with an
        L1 penalty, of the subgradient it gives at the coordinates)."""
        pen = self.s.penalty
        if pen is not None:
            zgrad = composite(zgrad, self._coordinates(), pen.l1_coords, pen.l2_coords)
        return self._measure(zgrad)

    def _grad_norm(self) -> float:
        """||gradient|| over the free parameters (the subgradient's, with an L1 penalty)."""
        g, pen, k = self.grad[:self.s.n_free], self.s.penalty, self.s.n_free
        if pen is not None:
            g = composite(g, self.params[:k], pen.l1[:k], pen.l2_step[:k])
        return _norm(g)

    def _step(self, epoch: float) -> None:
        s, state = self.s, self.state
        lr = s.lr * s.schedule.factor(state, s.first_epoch + epoch, self.steps_per_epoch,
                                      s.schedule_horizon)
        pen = s.penalty
        prox = None if pen is None or pen.in_gradient else (pen.l1_coords, pen.l2_coords)
        if s.precondition is None:
            x = self.params[:s.n_free]
            s.optimizer.step(x, self.zgrad, state, lr, prox)
            return
        assert state.coords is not None
        s.optimizer.step(state.coords, self.zgrad, state, lr, prox)
        s.precondition.parameters(state.coords, self.params)

    def _snapshot(self) -> None:
        self.saved = (self.state.array.copy(), self.params.copy())

    def _restore(self) -> None:
        self.state.array[:] = self.saved[0]
        self.params[:] = self.saved[1]

    def _record(self, loss: float, params: np.ndarray) -> None:
        """Epoch n_epochs ends with ``loss``: recorded if it falls on the stride."""
        if self.epochs_run == 0:
            self.first_loss = loss
        self.losses = [self.losses[-1], loss]
        on_stride = self.epochs_run % self.stride == 0
        if on_stride and len(self.history) == self.s.max_records:  # keep every other one
            self.history = self.history[::2]
            if self.path is not None:
                self.path = self.path[::2]
            self.stride *= 2
        if self.epochs_run % self.stride == 0:
            self.history.append(loss)
            if self.path is not None:
                self.path.append(params.copy())
        self.epochs_run += 1

    def _unrecord(self) -> None:
        """Forget the last epoch (its step was undone)."""
        self.epochs_run -= 1
        if self.epochs_run % self.stride == 0:
            self.history.pop()
            if self.path is not None:
                self.path.pop()
        self.losses = [math.nan, self.losses[0]]

    def _is_bad(self, loss: float, reference: float) -> bool:
        """Non-finite, or past blowup x max(reference, blowup_floor) (NaN: no reference yet)."""
        if not math.isfinite(loss):
            return True
        if math.isnan(reference):
            return False
        return loss > self.s.blowup * max(reference, self.s.blowup_floor)

    def _x_norm(self) -> float:
        return _norm(self.params[:self.s.stop.rel_len].astype(np.float64))

    def _measure(self, g: np.ndarray) -> float:
        """What the stopping rule reads (the compiled loop's stop_measure, op for op)."""
        M = self.s.stop.error_map
        if M is None:
            return _norm(g)
        k, d = self.s.n_free, self.params.shape[0] - 1
        M = np.asarray(M, dtype=np.float64)
        g = np.asarray(g, dtype=np.float64)
        errors = np.zeros(2 * k)
        for j in range(k):  # every row's sum in the order of j, a product then a sum each
            errors += M[:, j] * g[j]
        self.coords_error = _norm(errors[k:k + d])
        return _norm(errors[:k])

    def converged_at(self, norm: float) -> bool:
        """The stopping rule at ``norm`` (what _measure returned)."""
        stop = self.s.stop
        if not norm <= stop.abs_tol + stop.rel_tol * self._x_norm():  # NaN: never
            return False
        if stop.error_map is None:
            return True
        assert self.state.coords is not None
        d = self.params.shape[0] - 1
        return self.coords_error <= stop.coords_abs_tol + stop.rel_tol * _norm(self.state.coords[:d])

    def _stop_test(self, norm: float) -> Optional[str]:
        if self.converged_at(norm):
            return CONVERGED
        if norm < self.best_norm:
            self.best_norm, self.since_best = norm, 0
        elif norm > STALL_BAND * self.best_norm:  # far above its best: moving, not stuck
            self.since_best = 0
        else:
            self.since_best += 1
            if self.s.stop.patience > 0 and self.since_best >= self.s.stop.patience:
                return STALLED
        return None

    def evaluate(self) -> Tuple[float, float, float]:
        """(mean loss, ||gradient|| of the free parameters, what the stopping rule reads)."""
        with _ieee():
            loss = self._evaluate(None)
            return loss, self._grad_norm(), self._fit_measure(self.zgrad)

    # -- the loops --

    def advance(self, epochs: int) -> Optional[Tuple[str, float, float]]:
        """Run at most ``epochs`` more epochs: (status, final_loss, grad_norm), or None if paused."""
        stop_at = min(self.s.epochs, self.n_epochs + epochs)
        with _ieee():
            if not self.s.batch_size:
                return self._full_batch(stop_at)
            return self._mini_batch(stop_at)

    def _full_batch(self, stop_at: int) -> Optional[Tuple[str, float, float]]:
        s = self.s
        while True:
            if self.n_epochs == stop_at and self.n_epochs < s.epochs:
                return None
            loss = self._evaluate(None)
            if self._is_bad(loss, self.first_loss if self.epochs_run else math.nan):
                if self.epochs_run:  # undo the step that blew up, optimizer state with it
                    self._restore()
                    self._unrecord()
                    return (DIVERGED,) + self.saved_report
                return DIVERGED, loss, math.nan
            status = self._stop_test(self._fit_measure(self.zgrad))
            if status is not None or self.n_epochs == s.epochs:
                return status or MAX_EPOCHS, loss, self._grad_norm()
            self._record(loss, self.params)
            self._snapshot()
            self.saved_report = (loss, self._grad_norm())
            self._step(self.n_epochs - 1)
            s.schedule.epoch_end(self.state, loss)

    def _epoch(self) -> Tuple[float, np.ndarray, bool]:
        """One mini-batch epoch: the order reshuffled as ``shuffle`` says, then its batches
        (``batches``' sums and divergence)."""
        if self.s.shuffle == "rows":
            shuffle(self.order, self.rng)
        elif self.s.shuffle == "blocks":
            shuffle_blocks(self.order, self.s.block, self.rng)
        return self.batches(self.order, self.n_epochs, 0.0, np.zeros(self.s.n_free))

    def batches(self, rows: np.ndarray, epoch: int, loss_sum: float,
                grad_sum: np.ndarray) -> Tuple[float, np.ndarray, bool]:
        """One step on each run of batch_size of ``rows`` (the last may be shorter), in
        epoch ``epoch``: (loss_sum, grad_sum) plus each batch's rows times its mean loss and
        gradient, and whether a batch's loss was not finite (no step taken on it). An epoch
        is one call over its order, or on a cluster one per chunk, run where the chunk is
        (gdcore/dask.py), the sums carried from chunk to chunk."""
        batch_size = self.s.batch_size
        assert batch_size is not None
        for lo in range(0, len(rows), batch_size):
            batch = rows[lo:lo + batch_size]
            loss = self._evaluate(batch)
            if not math.isfinite(loss):
                return loss_sum, grad_sum, True
            m = len(batch)
            loss_sum += m * loss
            grad_sum += m * self.zgrad
            self._step(epoch)
        return loss_sum, grad_sum, False

    def _mini_batch(self, stop_at: int) -> Optional[Tuple[str, float, float]]:
        s, n = self.s, self.n
        stopped = diverged = False
        status: Optional[str] = None
        if not self.started and stop_at > 0:
            self.started = True
            self.reference = self._evaluate(None)
            if not math.isfinite(self.reference):
                return DIVERGED, self.reference, math.nan
        while self.n_epochs < stop_at:
            self._snapshot()  # the epoch's start
            epoch_loss, epoch_grad, diverged = self._epoch()
            if not diverged:
                epoch_loss /= n
                diverged = (self._is_bad(epoch_loss, self.reference)
                            or not np.all(np.isfinite(self.params)))
            if diverged:  # back to the parameters and state this epoch started from
                self._restore()
                break
            self._record(epoch_loss, self.saved[1])
            s.schedule.epoch_end(self.state, epoch_loss)
            status = self._stop_test(self._fit_measure((1.0 / n) * epoch_grad))
            if status is not None:
                stopped = True
                break
        if not (stopped or diverged or self.n_epochs == s.epochs):
            return None
        loss = self._evaluate(None)
        if not math.isfinite(loss):
            return DIVERGED, loss, math.nan
        norm = self._grad_norm()
        if diverged:
            return DIVERGED, loss, norm
        if stopped:
            assert status is not None
            return status, loss, norm
        return (CONVERGED if self.converged_at(self._fit_measure(self.zgrad)) else MAX_EPOCHS), loss, norm


@dataclass
class FitResult:
    """What a run reports when it ends (the parameters are updated in place)."""

    loss: np.ndarray  # float64, the recorded epochs' losses (before their steps)
    final_loss: float  # loss at the returned parameters
    grad_norm: float  # ||gradient|| over the free parameters, at the returned parameters
    status: str
    path: Optional[np.ndarray] = None  # (records, n_params): parameters at their epochs' start
    epochs: Optional[np.ndarray] = None  # the epoch of each record (default: every epoch)
    n_epochs: int = -1  # epochs run (default: one per record)

    def __post_init__(self) -> None:
        if self.epochs is None:
            self.epochs = np.arange(self.loss.shape[0])
        if self.n_epochs < 0:
            self.n_epochs = int(self.loss.shape[0])


class Fit:
    """A run in progress, whichever loop runs it: what the Trainer drives in chunks."""

    def __init__(self, run: Any, params: np.ndarray, state: State, settings: Settings) -> None:
        self.run, self.params, self.state, self.settings = run, params, state, settings

    def parameters_changed(self) -> None:
        """The parameters were set between two advances (a callback): the fit goes on from
        them, its coordinates recomputed (the optimizer keeps its state)."""
        pre = self.settings.precondition
        if pre is not None:
            assert self.state.coords is not None
            self.state.coords[:] = pre.coordinates(self.params)

    @property
    def n_epochs(self) -> int:
        return int(self.run.n_epochs)

    @property
    def stream(self) -> Tuple[int, Optional[np.ndarray]]:
        return self.run.stream

    @property
    def last_loss(self) -> float:
        return float(self.run.last_loss)

    def advance(self, epochs: int) -> Optional[FitResult]:
        """Run at most ``epochs`` more epochs; the result once the fit has ended, else None."""
        report = self.run.advance(epochs)
        if report is None:
            return None
        return self._result(*report)

    def finish(self) -> FitResult:
        """End the fit now: STOPPED, or CONVERGED if the stopping rule holds here."""
        loss, norm, fit_norm = self.run.evaluate()
        return self._result(CONVERGED if self.run.converged_at(fit_norm) else STOPPED, loss, norm)

    def _result(self, status: str, loss: float, norm: float) -> FitResult:
        history, path, stride = self.run.records()
        return FitResult(history, float(loss), float(norm), status, path,
                         epochs=stride * np.arange(history.shape[0]), n_epochs=self.n_epochs)
