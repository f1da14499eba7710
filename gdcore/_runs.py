"""Runs of rows summed as the in-memory kernels sum them, and the fit's set-up: what
every source of blocks of rows held elsewhere shares (gdcore/dask.py's shards on a
cluster, gdcore/data.py's blocks of a file).

A full-batch pass adds one partial sum per run of ``CHUNK`` rows, in row order;
``_util.column_scan`` one per run of ``RUN`` rows, ``_util.centred_gram`` one per
run of ``GRAM_ROWS`` rows. A
source that computes the same partials on its blocks and adds them in the same
order gets the in-memory numbers bit for bit, as long as its blocks start on
those runs' boundaries.
"""

from __future__ import annotations

from typing import Any, Sequence, Tuple

import numpy as np

from . import _util, strategy
from ._validation import check_batch_size, seed_from
from .errors import NotSupportedError
from .loop import Fit, Objective, ReferenceRun, new_state

#: Rows per partial sum of the compiled pass (src/_pass_linear.pyx's CHUNK).
CHUNK = 4096
#: Rows per partial sum of _util.column_scan (src/_util.pyx).
RUN = 256
#: Rows per partial sum of _util.centred_gram (src/_util.pyx's GRAM_ROWS).
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
    """Each column's largest magnitude, 0 for a column of zeros (the caller takes the max
    over blocks): _util.column_scan's, which reads X once without a temporary."""
    big = _util.column_scan(X, False)[0]
    for j in np.flatnonzero(big == 1.0):  # 1: the largest magnitude, or a column of zeros
        if not X[:, j].any():
            big[j] = 0.0
    return big


def run_sums(data: np.ndarray, big: np.ndarray, shift: object, square: bool) -> np.ndarray:
    """Sums over each run of RUN rows of u = data / big - shift (or u^2), each added row
    after row as _util.column_scan does: one row per run (the last may be shorter)."""
    d = data.shape[1]
    return _util.run_sums(np.ascontiguousarray(data), np.full(d, big, dtype=np.float64),
                          np.full(d, shift, dtype=np.float64), square)


def centred_grams(X: np.ndarray, big: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(runs, d, d): _util.centred_gram of each run of GRAM_ROWS rows of X, in row order:
    the partial sums the whole X's centred Gram matrix adds."""
    return np.array([_util.centred_gram(X[lo:lo + GRAM_ROWS], big, mean)
                     for lo in range(0, X.shape[0], GRAM_ROWS)])


def add_centred_gram(G: np.ndarray, X: np.ndarray, big: np.ndarray, mean: np.ndarray) -> None:
    """G += each of centred_grams(X, big, mean), in row order (as in memory)."""
    for part in centred_grams(X, big, mean):
        G += part


def in_order(parts: Sequence[np.ndarray]) -> np.ndarray:
    """The sum of the rows of the parts, added one after the other in row order (as the
    kernels add their partials)."""
    return np.add.accumulate(np.concatenate(parts), axis=0)[-1]


def refuse(trainer: Any, model: Any, where: str) -> None:
    """What no source held elsewhere fits (yet): networks, mini-batches."""
    if not model._linear:
        raise NotSupportedError("model", f"{type(model).__name__} on {where} (linear "
                                "models only)")
    if trainer.batch_size is not None:
        raise NotSupportedError("batch_size", f"mini-batch fits of {where}; use "
                                "batch_size=None (full batch)")


def start(trainer: Any, model: Any, data: Any, objective: Objective,
          where: str) -> Tuple[Any, Any, Any]:
    """Trainer._start of a linear model on ``data`` held elsewhere, which measures itself
    (``strategy.setup``'s measure) and whose rows ``objective`` sums: (setup, run,
    (data, batch_size, data)), the epochs run by gdcore.loop.ReferenceRun."""
    batch_size = check_batch_size(trainer.batch_size, data.n_rows)
    measured: Any = data  # the data, as setup's X and y (it reads their shape and dtype)
    plan = strategy.setup(trainer, model, data, measured, measured, batch_size,
                          seed_from(trainer.random_state), measure=data)
    if plan.stages is not None:
        raise NotSupportedError("optimizer", "the default fits made of stages (the MAE's "
                                "smoothing path; the Huber loss; an L1 penalty) on "
                                f"{where}; give an optimizer, e.g. optimizer='accelerated'")
    state = new_state(plan.settings, model.params)
    run = Fit(ReferenceRun(objective, model.params, state, plan.settings), model.params,
              state, plan.settings)
    return plan, run, (data, batch_size, data)
