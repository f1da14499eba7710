"""Runs of rows summed as the in-memory kernels sum them, and the fit's set-up: what
every source of blocks of rows held elsewhere shares (gdcore/dask.py's shards on a
cluster, gdcore/data.py's blocks of a file).

A full-batch pass adds one partial sum per run of ``CHUNK`` rows, in row order;
``_scan.column_scan`` one per run of ``RUN`` rows, ``_scan.centred_gram`` one per
run of ``GRAM_ROWS`` rows. A
source that computes the same partials on its blocks and adds them in the same
order gets the in-memory numbers bit for bit, as long as its blocks start on
those runs' boundaries.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Dict, Sequence, Tuple

import numpy as np

from . import continued, strategy
from ._dispatch import pass_linear, scan
from ._random import POWER_SEED
from ._validation import check_batch_size, seed_from
from .curvature import POWER_RTOL
from .errors import NotSupportedError
from .continued import Stream
from .loop import Fit, ReferenceRun

#: Rows per partial sum of the compiled pass (src/_pass_linear.pyx's CHUNK).
CHUNK = 4096
#: Rows per partial sum of _scan.column_scan (src/_scan.pyx's RUN).
RUN = 256
#: Rows per partial sum of _scan.centred_gram (src/_scan.pyx's GRAM_ROWS).
GRAM_ROWS = 4096
#: Widths the pass reads as padded rows (src/_pass_linear.pyx: NARROW < d <= PADDED): all
#: but the last row of X. A run of rows held apart gets a row of zeros after it, whose
#: target is set to the intercept before each pass (its terms are then 0), to be read alike.
PADDED_WIDTHS = range(17, 65)


def padded(d: int, last: bool) -> bool:
    """Whether a run of CHUNK rows of width ``d`` needs the row of zeros after it: in
    memory every run but X's ``last`` is read as padded rows."""
    return d in PADDED_WIDTHS and not last


def largest(X: np.ndarray) -> np.ndarray:
    """Each column's magnitude, _scan.column_scan's power of two at or below its largest
    |value| (0 for a column of zeros; the caller takes the max over blocks): one read of
    X without a temporary."""
    big = scan.column_scan(X, False)[0]
    for j in np.flatnonzero(big == 1.0):  # 1: a largest |value| in [1, 2), or a column of zeros
        if not X[:, j].any():
            big[j] = 0.0
    return big


def run_sums(data: np.ndarray, big: np.ndarray, shift: object, square: bool) -> np.ndarray:
    """Sums over each run of RUN rows of u = data / big - shift (or u^2), each added row
    after row as _scan.column_scan does: one row per run (the last may be shorter)."""
    d = data.shape[1]
    return scan.run_sums(np.ascontiguousarray(data), np.full(d, big, dtype=np.float64),
                          np.full(d, shift, dtype=np.float64), square)


def centred_grams(X: np.ndarray, big: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(runs, d, d): _scan.centred_gram of each run of GRAM_ROWS rows of X, in row order:
    the partial sums the whole X's centred Gram matrix adds."""
    return np.array([scan.centred_gram(X[lo:lo + GRAM_ROWS], big, mean)
                     for lo in range(0, X.shape[0], GRAM_ROWS)])


def add_centred_gram(G: np.ndarray, X: np.ndarray, big: np.ndarray, mean: np.ndarray) -> None:
    """G += each of centred_grams(X, big, mean), in row order (as in memory)."""
    for part in centred_grams(X, big, mean):
        G += part


def in_order(parts: Sequence[np.ndarray]) -> np.ndarray:
    """The sum of the rows of the parts, added one after the other in row order (as the
    kernels add their partials)."""
    return np.add.accumulate(np.concatenate(parts), axis=0)[-1]


def row_curvature(X: np.ndarray, fit_intercept: bool) -> float:
    """max_i 2 ||a_i||^2, a_i = [x_i 1], over the rows of X (the caller takes the max over
    blocks): the compiled backend's row pass (``curvature``), row for row."""
    return float(pass_linear.curvature(X, fit_intercept, 0, POWER_RTOL, POWER_SEED)[1])


class Batch:
    """One mini-batch's rows copied into a buffer of ``size`` rows (+ 1) and summed as the
    in-memory loop sums them, so that sources held elsewhere give its numbers bit for bit:
    shuffled rows by the pass over listed rows, rows in order (``in_order``: shuffle=False)
    by the pass over contiguous rows. The pass reads rows of 17 to 64 features padded, but
    for X's last row (contiguous rows), or for each run of 4,096 listed rows that lists it:
    so X's last row is the last of the rows summed here too (listed where the batch has it),
    and a batch without it is summed with a row after it (of zeros, whose target is set to
    the intercept, so that its terms are 0)."""

    def __init__(self, size: int, d: int, dtype: np.dtype, kind: str, param: float,
                 in_order: bool) -> None:
        self.kind, self.param, self.in_order, self.d = kind, param, in_order, d
        self.X = np.zeros((size + 1, d), dtype)
        self.y = np.zeros(size + 1, dtype)
        self.listed = np.arange(size + 1, dtype=np.intp)
        self.objectives: Dict[int, Any] = {}  # LinearObjective over the first rows
        self.m = 0

    def add(self, X: np.ndarray, y: np.ndarray, rows: np.ndarray) -> None:
        """Copy the listed rows of (X, y) after those added so far."""
        k = len(rows)
        self.X[self.m:self.m + k] = X[rows]
        self.y[self.m:self.m + k] = y[rows]
        self.m += k

    def sums(self, params: np.ndarray, last: int) -> Tuple[float, np.ndarray]:
        """(loss sum, gradient sums) over the rows added (then forgotten); ``last``: where
        X's last row is among them (-1: it is not)."""
        m, self.m = self.m, 0
        if self.in_order:
            pad = padded(self.d, last >= 0)
            if pad:
                self.X[m] = 0.0
                self.y[m] = params[-1]
            return self.objective(m + pad).sums(params)
        if last < 0:
            return self.objective(self.X.shape[0]).batch_sums(params, self.listed, 0, m)
        swap = [last, m - 1]  # X's last row to the end of the buffer, listed where it was
        self.X[swap] = self.X[swap[::-1]]
        self.y[swap] = self.y[swap[::-1]]
        listed = np.arange(m, dtype=np.intp)
        listed[swap] = listed[swap[::-1]]
        return self.objective(m).batch_sums(params, listed, 0, m)

    def objective(self, m: int) -> Any:
        """The LinearObjective over the buffer's first ``m`` rows."""
        if m not in self.objectives:
            self.objectives[m] = pass_linear.LinearObjective(self.kind, self.param, self.X[:m],
                                                             self.y[:m], 1)
        return self.objectives[m]


def block_objective(source: Any, X: np.ndarray, y: np.ndarray, batch: Batch) -> Any:
    """The compiled loop's objective of mini-batches read from (X, y), the block of
    ``source``'s rows in memory, copied into ``batch`` and summed as it sums them
    (``_pass_linear.BlockObjective``: ``source`` has n_rows, held(), batch_sums and
    sums)."""
    size = batch.X.shape[0] - 1
    pad = int(padded(batch.d, False))
    return pass_linear.BlockObjective(source, X, y, batch.X, batch.y, batch.objective(size + 1),
                                      batch.objective(size + pad) if batch.in_order else None,
                                      pad)


class HeldRows:
    """The mini-batches of a linear model on (X, y) in memory (a shard's chunk), through a
    Batch: ``last`` says whether X's last row is the data's. As a block_objective source:
    the whole chunk is the block held."""

    def __init__(self, X: np.ndarray, y: np.ndarray, batch: Batch, last: bool) -> None:
        self.X, self.y, self.batch, self.last = X, y, batch, last
        self.n_rows = X.shape[0]
        self.objective = block_objective(self, X, y, batch)

    def held(self) -> Tuple[int, int]:
        return 0, self.n_rows

    def batch_sums(self, params: np.ndarray, rows: np.ndarray,
                   after: int = -1) -> Tuple[float, np.ndarray]:
        self.batch.add(self.X, self.y, rows)
        return self.batch.sums(params, where_last(rows, self.n_rows) if self.last else -1)

    def sums(self, params: np.ndarray) -> Tuple[float, np.ndarray]:
        """All the rows as one batch in order (a chunk no longer than a batch)."""
        return self.batch_sums(params, np.arange(self.n_rows))


def where_last(rows: np.ndarray, n: int) -> int:
    """Where row n - 1 is listed in ``rows`` (-1: it is not)."""
    at = np.flatnonzero(rows == n - 1)
    return int(at[0]) if at.size else -1


def refuse(trainer: Any, model: Any, where: str) -> None:
    """What no source held elsewhere fits (yet): networks, and mini-batches of rows
    reshuffled every epoch (each batch would read rows scattered over the whole data)."""
    if not model._linear:
        raise NotSupportedError("model", f"{type(model).__name__} on {where} (linear "
                                "models only)")
    if trainer.batch_size is not None and trainer.shuffle == "rows":
        raise NotSupportedError("shuffle", f"shuffle='rows' in mini-batch fits of {where} "
                                "(every batch would read rows scattered over all the data); "
                                "use shuffle='blocks' or shuffle=False")


def start(trainer: Any, model: Any, data: Any, objective: Any, where: str,
          run: Callable[..., Any] = ReferenceRun) -> Tuple[Any, Any, Any]:
    """Trainer._start of a linear model on ``data`` held elsewhere, which measures itself
    (``strategy.setup``'s measure): (setup, run, (data, batch_size, data)), the epochs
    run by ``run(objective, params, state, settings)`` (gdcore.loop.ReferenceRun's
    signature: ``objective`` sums the rows). Mini-batches take their blocks from
    ``data.blocked(batch_size, shuffle)`` (the rows per block of shuffle="blocks")."""
    batch_size = check_batch_size(trainer.batch_size, data.n_rows)
    measured: Any = data  # the data, as setup's X and y (it reads their shape and dtype)
    plan = strategy.setup(trainer, model, data, measured, measured, batch_size,
                          seed_from(trainer.random_state), measure=data)
    if plan.stages is not None:
        raise NotSupportedError("optimizer", "the default fits made of stages (the MAE's "
                                "smoothing path; the Huber loss; an L1 penalty) on "
                                f"{where}; give an optimizer, e.g. optimizer='accelerated'")
    if batch_size is not None:
        plan.settings = replace(plan.settings, shuffle=trainer.shuffle,
                                block=data.blocked(batch_size, trainer.shuffle))
    stream = Stream.of(trainer._stream, model) if trainer.warm_start else None
    settings, state = continued.start(stream, model, plan.settings, data.n_rows)
    fit = Fit(run(objective, model.params, state, settings), model.params, state, settings)
    return plan, fit, (data, batch_size, data)
