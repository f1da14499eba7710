"""The trainer: validates once, picks a step size, hands the whole fit to a backend."""

from __future__ import annotations

import numbers
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, Union

import numpy as np

from ._validation import (as_data, as_features, check_batch_size, check_epochs, check_lr,
                          check_n_jobs, check_random_state, check_tol, seed_from)
from .backends import get_backend
from .backends._base import CONVERGED, DIVERGED
from .backends._base import FitResult, Run
from .errors import DivergenceError, FitInterrupted
from .losses import Loss, MSELoss
from .models import Model

#: Status of a History whose fit was stopped by Ctrl-C (see FitInterrupted).
INTERRUPTED = "interrupted"

#: Wall time aimed at per chunk of epochs run between two returns to Python:
#: with a progress bar or a callback, and without (then chunks only serve Ctrl-C).
CHUNK_SECONDS = 0.1
QUIET_CHUNK_SECONDS = 0.25

#: callback(epoch, loss, model): epoch = epochs finished, loss = loss recorded
#: for the last of them, model = the model being fitted (its current parameters).
Callback = Callable[[int, float, Model], Optional[bool]]


@dataclass
class History:
    """What a fit did.

    Attributes
    ----------
    loss : numpy.ndarray
        ``loss[k]`` is the loss measured during epoch k, before its update (for
        mini-batches, the mean of the batch losses).
    converged : bool
        The gradient norm reached ``tol``.
    grad_norm, final_loss : float
        Measured at the parameters the fit returned.
    lr : float
        The step used.
    seconds : float
        Wall time of the fit.
    status : str
        "converged", "max_epochs", "diverged", "stopped" (by a callback) or
        "interrupted" (by Ctrl-C).
    path : numpy.ndarray or None
        With ``Trainer(record_path=True)``, the parameters at the start of
        every epoch: row k is ``(w..., b)`` before epoch k's update, shape
        ``(n_epochs, n_params)``. None otherwise.
    """

    loss: np.ndarray
    converged: bool
    grad_norm: float
    final_loss: float
    lr: float
    seconds: float
    status: str = field(default=CONVERGED)
    path: Optional[np.ndarray] = None

    @property
    def n_epochs(self) -> int:
        return int(self.loss.shape[0])

    def __repr__(self) -> str:
        return (f"History(n_epochs={self.n_epochs}, converged={self.converged}, "
                f"final_loss={self.final_loss:.6g}, grad_norm={self.grad_norm:.3g}, "
                f"lr={self.lr:.6g}, seconds={self.seconds:.3g})")


class Trainer:
    """Fits a model to (X, y) by gradient descent.

    Parameters
    ----------
    loss : MSELoss() (default) or MAELoss().
    lr : a positive number, or "auto" (default): 1/L_B from the curvature of
        the MSE on X (see ``auto_lr``), safe for MSE full batch and
        mini-batch. For MAE, which has no curvature to measure, "auto" takes
        the same step: a sensible scale when X and y have similar magnitudes
        (standardised data); pass a number otherwise.
    epochs : the most passes over the data (0 means no update).
    tol : stop when the gradient norm ||(dL/dw, dL/db)|| <= tol (for
        mini-batches, the mean gradient of the epoch's batches).
    batch_size : None for full batch, else rows per mini-batch step.
    random_state : None, an int or a numpy Generator: the seed of the
        mini-batch order (reshuffled every epoch, reproducible for an int).
    backend : "cython" (default), "numpy" or "python".
    n_jobs : threads sharing each full pass over X (compiled backend, OpenMP
        builds): 1 (default), a count, or -1 for every core. Mini-batch steps
        run on one thread. The rows are summed in a fixed order whatever the
        thread count, so results are identical for every n_jobs.
    record_path : keep the parameters of every epoch in ``History.path``
        (default False: nothing is recorded and nothing is paid).
    """

    def __init__(self, loss: Optional[Loss] = None, lr: Union[float, str] = "auto",
                 epochs: int = 1000, tol: float = 1e-6, batch_size: Optional[int] = None,
                 random_state: Any = None, backend: str = "cython",
                 record_path: bool = False, n_jobs: int = 1) -> None:
        loss = MSELoss() if loss is None else loss
        if not isinstance(loss, Loss):
            raise TypeError(f"loss must be a gdcore loss such as MSELoss() or MAELoss(), got {loss!r}")
        self.loss = loss
        self.lr = check_lr(lr)
        self.epochs = check_epochs(epochs)
        self.tol = check_tol(tol)
        self.batch_size = check_batch_size(batch_size)
        self.random_state = check_random_state(random_state)
        self.backend = get_backend(backend).name
        if not isinstance(record_path, (bool, np.bool_)):
            raise TypeError(f"record_path must be True or False, got {record_path!r}")
        self.record_path = bool(record_path)
        self.n_jobs = check_n_jobs(n_jobs)

    def learning_rate(self, model: Model, X: Any) -> float:
        """The step this trainer would take on X: ``lr`` itself or the "auto" step."""
        if self.lr != "auto":
            return float(self.lr)
        self._check_model(model)
        Xc = as_features(X, model.dtype)
        model._check_features(Xc)
        batch_size = check_batch_size(self.batch_size, Xc.shape[0])
        return model._auto_lr(get_backend(self.backend), Xc, batch_size)

    @staticmethod
    def _check_model(model: Any) -> None:
        if not isinstance(model, Model):
            raise TypeError(f"model must be a gdcore model such as LinearModel, "
                            f"got {type(model).__name__}")

    def fit(self, model: Model, X: Any, y: Any, *, progress: bool = False,
            callback: Optional[Callback] = None, callback_every: int = 1) -> History:
        """Fit ``model`` to ``(X, y)`` in place and return the History.

        Parameters
        ----------
        model : Model
            Updated in place (e.g. a LinearModel of X's width).
        X : array-like, shape (n_samples, n_features) or (n_samples,)
        y : array-like, shape (n_samples,)
        progress : bool
            Show a tqdm progress bar (tqdm must be installed), updated between
            chunks of epochs run in the kernel, about ten times a second.
        callback : callable or None
            ``callback(epoch, loss, model)`` is called after every
            ``callback_every`` epochs, with the number of epochs finished, the
            loss recorded for the last of them and the model (holding the
            current parameters). Returning True stops the fit: the History then
            has status "stopped" (or "converged" if the gradient is small).
        callback_every : int
            Epochs between two callback calls (default 1).

        Returns
        -------
        History

        Raises
        ------
        DivergenceError
            The loss became non-finite or blew up; the model keeps the last
            parameters whose loss was finite.
        FitInterrupted
            Ctrl-C (SIGINT) arrived during the fit: the fit stops at the end of
            the epoch running, the model keeps the parameters of that last
            finished epoch, and the exception (a KeyboardInterrupt) carries the
            History (status "interrupted") in ``.history``.

        Notes
        -----
        The epochs run in chunks, each one call into the backend (one
        GIL-free kernel call for cython). Chunks are sized to last about 0.1 s
        with a progress bar or callback (and end on every ``callback_every``-th
        epoch), 0.25 s otherwise, so that Ctrl-C is honoured promptly; a chunk
        boundary costs a few microseconds.
        """
        self._check_model(model)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {callback!r}")
        if (not isinstance(callback_every, numbers.Integral) or isinstance(callback_every, bool)
                or callback_every < 1):
            raise ValueError(f"callback_every must be an integer >= 1, got {callback_every!r}")
        bar_factory = _progress_bar_factory() if progress else None
        Xc, yc = as_data(X, y, model.dtype)
        model._check_features(Xc)
        batch_size = check_batch_size(self.batch_size, Xc.shape[0])
        backend = get_backend(self.backend)
        lr = model._auto_lr(backend, Xc, batch_size) if self.lr == "auto" else self.lr
        seed = seed_from(self.random_state)
        start = time.perf_counter()
        run = model._start(backend, self.loss.kind, Xc, yc, lr, self.epochs, self.tol,
                           batch_size, seed, record_path=self.record_path,
                           n_jobs=self.n_jobs)
        bar = bar_factory(total=self.epochs) if bar_factory is not None else None
        try:
            with _deferred_sigint() as sigint:
                result, status = _drive(run, model, bar, callback, int(callback_every), sigint)
        finally:
            if bar is not None:
                bar.close()
        history = History(loss=result.loss, converged=result.status == CONVERGED,
                          grad_norm=float(result.grad_norm), final_loss=float(result.final_loss),
                          lr=lr, seconds=time.perf_counter() - start, status=status,
                          path=result.path)
        if status == INTERRUPTED:
            raise FitInterrupted(history)
        if result.status == DIVERGED:
            safe = model._auto_lr(backend, Xc, batch_size)
            raise DivergenceError(lr, safe if safe < lr else lr / 10, history)
        return history

    def __repr__(self) -> str:
        return (f"Trainer(loss={self.loss!r}, lr={self.lr!r}, epochs={self.epochs}, "
                f"tol={self.tol}, batch_size={self.batch_size}, "
                f"random_state={self.random_state!r}, backend={self.backend!r}, "
                f"record_path={self.record_path}, n_jobs={self.n_jobs})")


def _progress_bar_factory() -> Any:
    """tqdm's bar class, looked up when a progress bar is asked for."""
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ImportError("progress=True needs tqdm, which is not installed: "
                          "pip install tqdm (or gdcore[progress])") from exc

    def make(total: int) -> Any:
        return tqdm(total=total, unit="epoch", desc="fit", dynamic_ncols=True)
    return make


@contextmanager
def _deferred_sigint() -> Iterator[Dict[str, int]]:
    """Turn the first Ctrl-C into a flag the chunk loop checks between chunks.

    Only in the main thread and only when Python's default SIGINT handler is
    in place (someone else's handler is left alone). A second Ctrl-C raises
    KeyboardInterrupt at once.
    """
    state = {"hits": 0}
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield state
        return

    def handler(signum: int, frame: Any) -> None:
        state["hits"] += 1
        if state["hits"] > 1:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def _drive(run: Run, model: Model, bar: Any, callback: Optional[Callback], every: int,
           sigint: Dict[str, int]) -> Tuple[FitResult, str]:
    """Advance ``run`` chunk by chunk until it ends; returns (result, history status).

    Each chunk is sized from the time per epoch measured so far to last about
    CHUNK_SECONDS (QUIET_CHUNK_SECONDS without bar or callback), and ends on
    the next multiple of ``every`` when there is a callback.
    """
    target = CHUNK_SECONDS if (bar is not None or callback is not None) else QUIET_CHUNK_SECONDS
    chunk, done, spent = 1, 0, 0.0
    while True:
        n = min(chunk, every - done % every) if callback is not None else chunk
        t0 = time.perf_counter()
        result = run.advance(n)
        spent += time.perf_counter() - t0
        now = result.n_epochs if result is not None else run.n_epochs
        if bar is not None:
            bar.update(now - done)
            loss = result.final_loss if result is not None else run.last_loss
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        done = now
        if result is not None:
            return result, result.status
        if sigint["hits"]:
            return run.finish(), INTERRUPTED
        if callback is not None and done % every == 0 and callback(done, run.last_loss, model):
            stopped = run.finish()
            return stopped, stopped.status
        per_epoch = spent / max(done, 1)
        chunk = int(min(max(target / max(per_epoch, 1e-9), 1), 1 << 40))
