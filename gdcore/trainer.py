"""The trainer: validates once, sets the fit up, drives the run in chunks."""

from __future__ import annotations

import _signal  # signal's own functions, without the enum conversions (8 us a fit)
import numbers
import signal
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, Union

import numpy as np

from . import continued, strategy
from ._validation import (as_data, as_features, as_weights, check_batch_size, check_epochs,
                          check_lr, check_n_jobs, check_penalty, check_random_state, check_tol,
                          effective_n_jobs, on_cluster, seed_from)
from .backends import get_backend
from .data import on_disk, start as start_on_disk
from .early_stopping import EarlyStopping, check_early_stopping, split
from .errors import ConvergenceWarning, DivergenceError, FitInterrupted, NotSupportedError
from .history import INTERRUPTED, History
from .continued import Stream
from .loop import (CONVERGED, DIVERGED, MAX_EPOCHS, STALLED, Fit, FitResult, StopRule,
                   check_shuffle, ordered)
from .losses import Loss, MSELoss
from .models import Model
from .optim import OPTIMIZERS, Optimizer, get_schedule

#: Wall time aimed at per chunk of epochs run between two returns to Python:
#: with a progress bar or a callback, and without (then chunks only serve Ctrl-C).
CHUNK_SECONDS = 0.1
QUIET_CHUNK_SECONDS = 0.25

#: callback(epoch, loss, model): epoch = epochs finished, loss = loss recorded
#: for the last of them, model = the model being fitted (its current parameters).
Callback = Callable[[int, float, Model], Optional[bool]]

PRECONDITIONS = ("auto", "standardize", None)

#: Mixed into the seed of the rows early stopping holds out, so that they do not
#: follow the mini-batch order drawn from the same random_state.
HELD_OUT_SEED = 0x5EED0F4E1D



class Trainer:
    """Fits a model to (X, y) by gradient descent.

    Parameters
    ----------
    loss : Loss, default=MSELoss()
        ``MSELoss()`` (the default), ``MAELoss()`` or ``HuberLoss(epsilon)``.
    lr : float or "auto", default="auto"
        A positive number, or "auto". A number given here is a step in your
        data's units: with optimizer "auto" it runs the tutorial's plain
        steps, ``w <- w - lr dL/dw``, in the raw coordinates. "auto" takes
        1 / L from the curvature of the loss for the gradient methods
        (1 / L_B with mini-batches) and each adaptive optimizer's default
        (Adam 1e-3). An optimizer object carries its own lr.
    epochs : int or None, default=None
        The most passes over the data (0 means no update). None gives
        100,000 to fits that stop by a certificate (the automatic full-batch
        linear fits) and 1000 to the others.
    tol : float or None, default=None
        The stopping rule's tolerance. None gives 1e-6 for float64 models and
        1e-4 for float32 ones. For the automatic linear MSE fit, the relative
        accuracy of the coefficients, both in your units,
        ``||(w, b) - (w*, b*)|| <= tol ||(w, b)||``, and in standardised ones
        (measured every epoch by the Newton step, exact up to 256 features;
        see ``gdcore.strategy``), and the same for the automatic Huber fit;
        for the automatic MAE fit, the relative duality gap to the
        least-absolute-deviations optimum. Otherwise a bound on the gradient
        norm ``||(dL/dw, dL/db)||`` (for mini-batches, the mean gradient of
        the epoch's batches), in the fit's coordinates.
    batch_size : int or None, default=None
        None for full batch, else rows per mini-batch step.
    random_state : None, int or numpy.random.Generator, default=None
        The seed of the mini-batch order (reshuffled every epoch,
        reproducible for an int).
    backend : {"cython", "numpy", "python"}, default="cython"
        The implementation of the passes over the data (see ``backends()``).
    record_path : bool, default=False
        Keep the parameters of every epoch in ``History.path`` (by default
        nothing is recorded and nothing is paid).
    n_jobs : int, default=1
        Threads sharing each full pass over X (compiled backend): 1, a count
        up to 256, or -1 for every CPU the process may use (its affinity mask
        and cgroup quota, within OpenMP's thread limit as set by
        ``OMP_NUM_THREADS`` or threadpoolctl); never more than one thread per
        usable CPU, decided when a fit starts. Mini-batch steps run on one
        thread. The rows are summed in a fixed order whatever the thread
        count, so results are identical for every n_jobs. The calling thread
        never waits for a descheduled helper (it takes over the helper's
        rows), so a busy machine costs little.
    optimizer : str or gdcore.optim optimizer, default="auto"
        "auto", a name of ``gdcore.optim.OPTIMIZERS`` ("gd", "sgd",
        "momentum", "nesterov", "accelerated", "adam", "adamw", "rmsprop",
        "adagrad") or a ``gdcore.optim`` optimizer object. "auto" picks per
        problem (``gdcore.strategy``): accelerated gradient with restart for
        full-batch linear fits (a smoothing path to the exact optimum for the
        MAE, stages certified by Newton steps for Huber), SGD with momentum
        and a cosine decay for mini-batches, Adam for networks; with a number
        for ``lr``, plain gradient descent.
    schedule : None, str or gdcore.optim schedule, default=None
        None (a constant step), a ``gdcore.optim`` schedule or its name
        ("inverse_scaling", "step", "exponential", "cosine", "plateau").
    precondition : {"auto", "standardize", None}, default="auto"
        "standardize" fits a linear model in centred, scaled coordinates (a
        change of variables, no copy of X; the parameters come back in your
        units); "auto" does so unless you gave ``lr`` a number; None keeps
        the raw coordinates.
    penalty : {None, "l2", "l1", "elasticnet"}, default=None
        Adds ``alpha ((1 - l1_ratio) / 2 ||w||^2 + l1_ratio ||w||_1)`` to the
        loss, as scikit-learn's SGDRegressor ("l2" takes l1_ratio 0, "l1"
        takes 1). It applies to the weights in your units (a linear model's
        w, a network's weight matrices), never to an intercept or bias,
        whatever the coordinates the fit runs in. The L1 part is applied by
        proximal steps (soft-thresholding after each step), so coefficients
        reach exact zeros. gdcore's MSE is the mean of r^2, twice
        scikit-learn's least-squares term: ``Lasso(alpha=a)`` and
        ``ElasticNet(alpha=a, l1_ratio=r)`` minimise the objective of penalty
        "l1" / "elasticnet" with alpha 2a, and ``Ridge(alpha=a)`` that of
        "l2" with alpha 2a / n_samples.
    alpha : float, default=1e-4
        The penalty's strength, a number >= 0 (the default is
        scikit-learn's).
    l1_ratio : float, default=0.15
        The L1 share of "elasticnet", in [0, 1].
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (drawn from
        ``random_state``), fit on the others, and stop after
        ``n_iter_no_change`` epochs without a new smallest loss on the
        held-out rows; the model gets the parameters of the best epoch, and
        ``History.validation_loss`` has that loss before the first epoch and
        after each one (``gdcore.early_stopping``).
    validation_fraction : float, default=0.1
        The share of the rows ``early_stopping`` holds out, in (0, 1).
    n_iter_no_change : int, default=5
        The epochs ``early_stopping`` waits for a new smallest held-out
        loss, an integer >= 1.
    warm_start : bool, default=False
        A fit of the model this trainer fitted last continues its optimizer
        (momentum buffers, Adam's moments, the step count), schedule and
        mini-batch random stream, from the parameters the model holds
        (``gdcore.continued``). By default every fit starts them afresh. The
        default fits made of stages (MAE, Huber, L1) restart their stages.
    shuffle : {"rows", "blocks", False}, default="rows"
        The order of a mini-batch epoch's rows (full-batch fits ignore it).
        "rows" reshuffles every row each epoch: each batch is a uniform
        sample of the rows, but reads them at random (at 1,000,000 x 20 an
        epoch of batch 32 takes about 9x a full-batch epoch; "blocks" 2.5x,
        False 1.3x: ``gdcore bench --shuffle``). "blocks" cuts the rows
        into contiguous blocks of about 128 KiB of X (a whole number of
        batches), takes the blocks in a random order and shuffles the rows
        within each, so that a batch's rows come from one block (or two):
        rows within a batch are correlated with their neighbours in X, which
        is harmless for data stored in a random order and biases the steps
        for sorted data (by time, by target). False visits rows 0..n-1 every
        epoch (cyclic order, the incremental gradient method): deterministic
        and sequential, biased like "blocks" but with no randomness at all.
        Every mode visits every row exactly once per epoch, reproducibly from
        ``random_state``.

    See Also
    --------
    LinearModel, MLP : The models a Trainer fits.
    History : What ``fit`` returns.

    Examples
    --------
    >>> import numpy as np, gdcore
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([1.0, 3.0, 5.0, 7.0])
    >>> model = gdcore.LinearModel(n_features=1)
    >>> history = gdcore.Trainer(tol=1e-10).fit(model, X, y)
    >>> history.converged, round(float(model.w[0]), 6), round(model.b, 6)
    (True, 2.0, 1.0)

    Mini-batches with a fixed seed, and a penalty:

    >>> trainer = gdcore.Trainer(batch_size=2, random_state=0, epochs=5, penalty="l2", alpha=0.01)
    >>> history = trainer.fit(gdcore.LinearModel(n_features=1), X, y)
    >>> history.n_epochs
    5
    """

    def __init__(self, loss: Optional[Loss] = None, lr: Union[float, str] = "auto",
                 epochs: Optional[int] = None, tol: Optional[float] = None,
                 batch_size: Optional[int] = None, random_state: Any = None,
                 backend: str = "cython", record_path: bool = False, n_jobs: int = 1,
                 optimizer: Union[str, Optimizer] = "auto", schedule: Any = None,
                 precondition: Optional[str] = "auto", penalty: Optional[str] = None,
                 alpha: float = 1e-4, l1_ratio: float = 0.15, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 5,
                 warm_start: bool = False, shuffle: Union[str, bool] = "rows") -> None:
        loss = MSELoss() if loss is None else loss
        if not isinstance(loss, Loss):
            raise TypeError(f"loss must be a gdcore loss such as MSELoss() or MAELoss(), got {loss!r}")
        self.loss = loss
        self.lr = check_lr(lr)
        self.epochs = None if epochs is None else check_epochs(epochs)
        self.tol = None if tol is None else check_tol(tol)
        self.batch_size = check_batch_size(batch_size)
        self.random_state = check_random_state(random_state)
        self.backend = get_backend(backend).name
        if not isinstance(record_path, (bool, np.bool_)):
            raise TypeError(f"record_path must be True or False, got {record_path!r}")
        self.record_path = bool(record_path)
        self.n_jobs = check_n_jobs(n_jobs)
        if not (isinstance(optimizer, Optimizer)
                or (isinstance(optimizer, str) and (optimizer == "auto" or optimizer in OPTIMIZERS))):
            raise ValueError(f"optimizer must be 'auto', one of {sorted(OPTIMIZERS)} or a "
                             f"gdcore.optim optimizer, got {optimizer!r}")
        if isinstance(optimizer, Optimizer) and self.lr != "auto":
            raise ValueError("give the learning rate either to the optimizer or to the "
                             f"Trainer, not both (lr={lr!r}, optimizer={optimizer!r})")
        self.optimizer = optimizer
        self.schedule = get_schedule(schedule) if schedule is not None else None
        if not any(precondition is p or (isinstance(precondition, str) and precondition == p)
                   for p in PRECONDITIONS):
            raise ValueError(f"precondition must be 'auto', 'standardize' or None, "
                             f"got {precondition!r}")
        self.precondition = precondition
        check_penalty(penalty, alpha, l1_ratio)
        self.penalty, self.alpha, self.l1_ratio = penalty, float(alpha), float(l1_ratio)
        self.early_stopping, self.validation_fraction, self.n_iter_no_change = \
            check_early_stopping(early_stopping, validation_fraction, n_iter_no_change)
        if not isinstance(warm_start, (bool, np.bool_)):
            raise TypeError(f"warm_start must be True or False, got {warm_start!r}")
        self.warm_start = bool(warm_start)
        self.shuffle = check_shuffle(shuffle)
        self._stream: Optional[Stream] = None  # what the last fit carries on (gdcore.continued)
        self._measure: Any = None  # how setup measures the data (gdcore.paths: once for all)
        self._engine: Any = None  # the backend itself, if not the one named (gdcore.paths')
        self._checked: Any = ()  # (X, y) its caller validated already (gdcore.paths')

    def learning_rate(self, model: Model, X: Any) -> float:
        """The step this trainer would take on X (in the fit's coordinates).

        Parameters
        ----------
        model : Model
            The model to be fitted (its width must be X's); only read.
        X : array-like, shape (n_samples, n_features) or (n_samples,)
            The features the fit would run on (the step ``lr="auto"`` takes
            depends on them, not on y).

        Returns
        -------
        float
            ``lr`` itself when it is a number; otherwise the step ``"auto"``
            picks for this trainer's optimizer, batch size and
            preconditioning, in the coordinates the fit runs in.

        Examples
        --------
        >>> import numpy as np, gdcore
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> gdcore.Trainer(lr=0.05).learning_rate(gdcore.LinearModel(1), X)
        0.05
        """
        if self.lr != "auto":
            return float(self.lr)
        self._check_model(model)
        Xc = as_features(X, model.dtype)
        model._check_features(Xc)
        batch_size = check_batch_size(self.batch_size, Xc.shape[0])
        plan = strategy.setup(self, model, get_backend(self.backend), Xc,
                              np.zeros(Xc.shape[0], dtype=Xc.dtype), batch_size, 0)
        return plan.lr

    @staticmethod
    def _check_model(model: Any) -> None:
        if not isinstance(model, Model):
            raise TypeError(f"model must be a gdcore model such as LinearModel, "
                            f"got {type(model).__name__}")

    def fit(self, model: Model, X: Any, y: Any, *, sample_weight: Any = None,
            progress: bool = False, callback: Optional[Callback] = None,
            callback_every: int = 1) -> History:
        """Fit ``model`` to ``(X, y)`` in place and return the History.

        Parameters
        ----------
        model : Model
            Updated in place (e.g. a LinearModel of X's width).
        X : array-like, shape (n_samples, n_features) or (n_samples,)
            The features (a 1-D X is one feature).
        y : array-like, shape (n_samples,)
            The targets.
        sample_weight : array-like of shape (n_samples,), number or None
            Each row's weight (finite, >= 0, not all 0): the loss minimised is
            sum_i w_i loss_i / sum_i w_i, so only their ratios matter; an
            integer weight counts as the row repeated, a zero weight as the
            row dropped. None (or equal weights) fits the rows alike.
        progress : bool
            Show a tqdm progress bar (tqdm must be installed), updated between
            chunks of epochs run in the kernel, about ten times a second.
        callback : callable or None
            ``callback(epoch, loss, model)`` is called after every
            ``callback_every`` epochs, with the number of epochs finished, the
            loss recorded for the last of them and the model (holding the
            current parameters). Returning True stops the fit: the History then
            has status "stopped" (or "converged" if the gradient is small). The
            callback may set the model's parameters (``model.w = ...``): the fit
            goes on from them, the optimizer keeping its state.
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
        start = time.perf_counter()
        monitor = None
        if self.early_stopping:
            if on_cluster(X) or on_cluster(y):
                raise NotSupportedError("early_stopping", "on dask arrays")
            if on_disk(X) or on_disk(y):
                raise NotSupportedError("early_stopping", "on .npy files")
            X, y = as_data(X, y, model.dtype)
            model._check_features(X)
            weights = as_weights(sample_weight, X.shape[0])
            X, y, X_held, y_held, held = split(X, y, self.validation_fraction,
                                               seed_from(self.random_state) ^ HELD_OUT_SEED)
            if weights is not None:
                sample_weight = weights[~held]
                if not sample_weight.any():
                    raise ValueError("sample_weight is zero on every row left to fit on "
                                     "after holding out the validation rows")
            monitor = EarlyStopping(model, self.loss, X_held, y_held, self.n_iter_no_change,
                                    None if weights is None else weights[held])
            callback, callback_every = monitor.wrap(callback, int(callback_every)), 1
        plan, run, (Xc, batch_size, backend) = self._start(model, X, y, sample_weight)
        bar = bar_factory(total=plan.epochs) if bar_factory is not None else None
        try:
            with _deferred_sigint() as sigint:
                result, status = _drive(run, model, bar, callback, int(callback_every), sigint)
        finally:
            if bar is not None:
                bar.close()
        self._carry(model, run, result, Xc.shape[0])
        if monitor is not None and status not in (DIVERGED, INTERRUPTED):
            if len(monitor.losses) <= result.n_epochs:  # the last epoch, if the run ended it
                monitor.observe(result.n_epochs, model)
            result = monitor.restore(model, run, result)
        history = History(loss=result.loss, converged=result.status == CONVERGED,
                          grad_norm=float(result.grad_norm), final_loss=float(result.final_loss),
                          lr=plan.lr, seconds=time.perf_counter() - start, status=status,
                          path=result.path, optimizer=plan.optimizer, epochs=result.epochs,
                          n_epochs=result.n_epochs,
                          validation_loss=None if monitor is None else np.array(monitor.losses),
                          best_epoch=None if monitor is None else monitor.best_epoch)
        if status == INTERRUPTED:
            raise FitInterrupted(history)
        if result.status == DIVERGED and result.n_epochs == 0 and not np.isfinite(result.final_loss):
            raise ValueError(_unusable(model, Xc, y, "loss", result.final_loss, "starts from, "
                                       "before any step"))
        if result.status != DIVERGED and not np.isfinite(result.grad_norm):
            # the loss is finite but its gradient overflows: no step, nor stopping test, can
            # be trusted (a NaN norm passes the kernels' stopping test), so no result either
            raise ValueError(_unusable(model, Xc, y, "gradient norm", result.grad_norm,
                                       "starts from" if result.n_epochs == 0 else "reached"))
        if result.status == DIVERGED:
            raise DivergenceError(plan.lr, self._safe_lr(model, backend, Xc, batch_size, plan),
                                  history)
        if result.status == STALLED or (result.status == MAX_EPOCHS and self.epochs is None
                                        and plan.tol > 0):
            reason = ("stalled: no smaller gradient for many epochs, the limit of the "
                      "arithmetic's precision" if result.status == STALLED else
                      f"reached its {plan.epochs} epochs")
            warnings.warn(f"the fit did not meet tol={plan.tol:g}: it {reason} (gradient norm "
                          f"{result.grad_norm:.3g}); see History.status",
                          ConvergenceWarning, stacklevel=2)
        return history

    def _start(self, model: Model, X: Any, y: Any,
               sample_weight: Any = None) -> Tuple["strategy.Setup", Any, Any]:
        """Validate, set the fit up and start its run: (setup, run, (X, batch_size, backend))."""
        self._check_model(model)
        if on_cluster(X) or on_cluster(y):  # dask arrays: gdcore/dask.py (imports dask)
            if sample_weight is not None:
                raise NotSupportedError("sample_weight", "on dask arrays")
            from .dask import start
            return start(self, model, X, y)
        if on_disk(X) or on_disk(y):  # .npy files, streamed: gdcore/data.py
            if sample_weight is not None:
                raise NotSupportedError("sample_weight", "on .npy files streamed from disk")
            return start_on_disk(self, model, X, y)
        checked = len(self._checked) == 2 and X is self._checked[0] and y is self._checked[1]
        Xc, yc = (X, y) if checked else as_data(X, y, model.dtype)
        model._check_features(Xc)
        weights = as_weights(sample_weight, Xc.shape[0])
        batch_size = check_batch_size(self.batch_size, Xc.shape[0])
        backend = self._engine or get_backend(self.backend)
        plan = strategy.setup(self, model, backend, Xc, yc, batch_size,
                              seed_from(self.random_state), measure=self._measure,
                              weights=weights)
        plan.settings = ordered(plan.settings, self.shuffle, Xc.shape[1] * Xc.itemsize)
        run = strategy.start(backend, model, Xc, yc, plan, effective_n_jobs(self.n_jobs),
                             plan.tol, Stream.of(self._stream, model) if self.warm_start else None)
        return plan, run, (Xc, batch_size, backend)

    def _carry(self, model: Model, run: Any, result: FitResult, n_rows: int) -> None:
        """Keep what a later fit of ``model`` continues from (not from staged fits)."""
        if not isinstance(run, Fit):
            self._stream = None
            return
        stream = Stream.of(self._stream, model) or Stream.started(model, run)
        stream.advanced(run, result, n_rows)
        self._stream = stream
        model._loaded_stream = None  # a model file's stream, if any, is this trainer's now

    def partial_fit(self, model: Model, X: Any, y: Any, *, sample_weight: Any = None) -> History:
        """One epoch over ``(X, y)``, continuing the fits of ``model`` before it.

        The first call sets the fit up from its data (optimizer, step,
        coordinates, penalty; a constant schedule unless one was given, whose
        horizon is ``epochs``); each call then takes one pass over its rows, its
        full batch or its mini-batches, carrying on the optimizer state,
        schedule and mini-batch random stream of the calls (and fits) before
        it. Ten calls on the same data take the steps of one ten-epoch fit with
        the same settings, bit for bit; on a stream of slices, each call makes
        one pass over its slice (scikit-learn's convention). Every call takes
        its epoch: no stopping rule applies.

        Parameters
        ----------
        model : Model
            Updated in place; the calls continue one another as long as they
            fit the same model object.
        X : array-like, shape (n_samples, n_features) or (n_samples,)
            This epoch's rows (the whole data, or one slice of a stream).
        y : array-like, shape (n_samples,)
            Their targets.
        sample_weight : array-like of shape (n_samples,), number or None
            The rows' weights, as in ``fit``: relative within this call's rows.

        Returns
        -------
        History
            The epoch's History (one epoch; ``converged`` is False).

        Raises
        ------
        DivergenceError
            The loss became non-finite or blew up during the epoch.
        TypeError
            ``model`` is not a gdcore model.
        ValueError
            X or y is not usable data (e.g. non-finite values, different
            lengths), or X's width is not the model's ``n_features``.

        Examples
        --------
        >>> import numpy as np, gdcore
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([1.0, 3.5, 4.5, 7.0])
        >>> trainer, model = gdcore.Trainer(epochs=3, tol=0.0), gdcore.LinearModel(n_features=1)
        >>> for _ in range(3):
        ...     history = trainer.partial_fit(model, X, y)
        >>> history.n_epochs
        1

        Three calls take the steps of one three-epoch fit with the same settings:

        >>> other = gdcore.LinearModel(n_features=1)
        >>> _ = gdcore.Trainer(epochs=3, tol=0.0).fit(other, X, y)
        >>> bool(np.array_equal(model.params, other.params))
        True
        """
        start = time.perf_counter()
        self._check_model(model)
        if on_cluster(X) or on_cluster(y):
            raise NotSupportedError("X", "partial_fit of dask arrays (give it NumPy slices)")
        if on_disk(X) or on_disk(y):
            raise NotSupportedError("X", "partial_fit of .npy files (give it NumPy slices)")
        Xc, yc = as_data(X, y, model.dtype)
        model._check_features(Xc)
        n = Xc.shape[0]
        weights = as_weights(sample_weight, n)
        backend = get_backend(self.backend)
        batch_size = None if self.batch_size is None else min(check_batch_size(self.batch_size), n)
        stream = Stream.of(self._stream, model)
        if stream is None or stream.settings is None:
            plan = strategy.setup(self, model, backend, Xc, yc, batch_size,
                                  seed_from(self.random_state), weights=weights)
            settings = replace(plan.settings, horizon=self.epochs or strategy.DEFAULT_EPOCHS,
                               schedule=get_schedule(self.schedule))
        else:
            settings = stream.settings
        settings, state = continued.start(stream, model, ordered(replace(
            settings, epochs=1, batch_size=batch_size, stop=StopRule(abs_tol=-1.0)),  # never met
            self.shuffle, Xc.shape[1] * Xc.itemsize), n)
        objective = model._objective(backend, self.loss, Xc, yc, effective_n_jobs(self.n_jobs),
                                     weights)
        run = backend.start(objective, model.params, state, settings)
        result = run.advance(1)
        assert result is not None  # a run of one epoch ends with it
        self._carry(model, run, result, n)
        history = History(loss=result.loss, converged=False, grad_norm=float(result.grad_norm),
                          final_loss=float(result.final_loss), lr=settings.lr,
                          seconds=time.perf_counter() - start, status=result.status,
                          optimizer=settings.optimizer, epochs=result.epochs,
                          n_epochs=result.n_epochs)
        if result.status == DIVERGED:
            raise DivergenceError(settings.lr, None, history)
        return history

    def _safe_lr(self, model: Model, backend: Any, X: np.ndarray, batch_size: Optional[int],
                 plan: "strategy.Setup") -> Optional[float]:
        """A step to suggest after a divergence, or None when none can be measured."""
        try:
            safe = model._auto_lr(backend, X, batch_size, plan.weights)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            return None
        if not (np.isfinite(safe) and safe > 0):
            return None
        return safe if safe < plan.lr else plan.lr / 10

    def __repr__(self) -> str:
        return (f"Trainer(loss={self.loss!r}, optimizer={self.optimizer!r}, lr={self.lr!r}, "
                f"epochs={self.epochs}, tol={self.tol}, schedule={self.schedule!r}, "
                f"precondition={self.precondition!r}, batch_size={self.batch_size}, "
                f"random_state={self.random_state!r}, backend={self.backend!r}, "
                f"record_path={self.record_path}, n_jobs={self.n_jobs}, "
                f"penalty={self.penalty!r}, alpha={self.alpha!r}, l1_ratio={self.l1_ratio!r}, "
                f"early_stopping={self.early_stopping}, "
                f"validation_fraction={self.validation_fraction!r}, "
                f"n_iter_no_change={self.n_iter_no_change}, warm_start={self.warm_start}, "
                f"shuffle={self.shuffle!r})")


def _unusable(model: Model, X: np.ndarray, y: Any, what: str, value: float, where: str) -> str:
    """Why a fit has no usable result: its loss (or gradient) is not finite at the
    parameters it starts from (or reached)."""
    def largest(a: Any) -> float:
        if hasattr(a, "abs_max"):  # data on disk: not read whole
            return float(a.abs_max())
        return float(np.max(np.abs(np.asarray(a, dtype=np.float64))))
    return (f"the {what} is {value} at the parameters the fit {where}: "
            f"X, y or the model's parameters are too large for {model.dtype.name} "
            f"arithmetic (largest |X| {largest(X):.3g}, |y| {largest(y):.3g}, "
            f"|parameter| {largest(model.params):.3g}); rescale X and y")


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
            or _signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield state
        return

    def handler(signum: int, frame: Any) -> None:
        state["hits"] += 1
        if state["hits"] > 1:
            raise KeyboardInterrupt

    previous = _signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        _signal.signal(signal.SIGINT, previous)


def _drive(run: Any, model: Model, bar: Any, callback: Optional[Callback], every: int,
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
        if callback is not None and done % every == 0:
            before = model.params.copy()
            if callback(done, run.last_loss, model):
                stopped = run.finish()
                return stopped, stopped.status
            if not np.array_equal(before, model.params):
                run.parameters_changed()
        per_epoch = spent / max(done, 1)
        chunk = int(min(max(target / max(per_epoch, 1e-9), 1), 1 << 40))
