"""Fits of dask arrays: the compiled pass runs on each chunk where it lives, the loop here.

``Trainer.fit(model, X, y)`` comes here when X or y is a dask array (``pip
install gdcore[dask]``; a ``distributed.Client`` must be running, local or
``Client("scheduler-address")``). The chunks are turned once into *shards*
kept in the workers' memory: the chunk's rows, validated and converted to
the model's dtype, with the compiled ``LinearObjective`` whose
``chunk_sums`` give one partial sum per ``CHUNK`` (4,096) rows, the kernel's
own unit of summation, as in memory. Every epoch the
client sends the parameters to each worker (one call per worker), each
worker returns the partial sums of its runs, and the client adds them in
row order: the partials the in-memory pass adds in the same order. The
epoch loop is ``gdcore.loop.ReferenceRun``, which steps exactly as the
compiled loop does, so a full-batch fit gives the in-memory fit's numbers
bit for bit when every chunk but the last has a multiple of 4,096 rows
(else the runs start at other rows: equal to rounding, 1e-12 relative in
float64).

The default fit's statistics are reduced over the chunks in the same order
as in memory: the columns' largest magnitudes (a max), their means and the
sums of squares (sums of runs of 256 rows, ``_scan.column_scan``'s runs,
added in row order), the centred Gram matrix (``_scan.centred_gram``'s
partial sums, one per run of 4,096 rows, computed on the workers at once
and added in row order on the client). What is not
equal bit for bit: the loss of predicting y's mean, the floor of the
divergence test (summed per chunk, equal to rounding), and with
``precondition=None`` and ``lr="auto"`` the raw Gram matrix behind the step
(summed per chunk, exact eigenvalue for every width, where memory uses power
iteration beyond 64 parameters).

Mini-batches (``batch_size``) are sequential SGD over the chunks
(``ChunkedRun``): each epoch visits the chunks one after the other, in a
random order drawn from the run's stream (``shuffle="blocks"``) or in row
order (``False``); the worker holding a chunk takes its rows in a random order
(the stream's next draws) or in order, in batches that never straddle chunks
(a chunk's last may be short), one step each (the compiled loop's
``Run.batches`` there), and sends the parameters, optimizer state, stream and
the epoch's sums back: one round trip per chunk per epoch, the steps one
machine would take in that order. With chunks of whole batches that is the
in-memory fit whose ``shuffle="blocks"`` blocks are the chunks, bit for bit
(the default step's rows' curvature included: the largest of the chunks').
``shuffle="rows"`` would mix every chunk into every batch: refused, by name.

Not on a cluster (a ``gdcore.errors.NotSupportedError`` names the argument):
``shuffle="rows"``, networks, and the default MAE fit (its smoothing path
checks duality gaps with in-memory X; give an optimizer).
"""

from __future__ import annotations

from dataclasses import replace

import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np


from . import _runs, _util, strategy
from ._dispatch import pass_linear
from ._random import SplitMix64, shuffle, shuffled
from ._validation import as_features, as_target, on_cluster
from .backends.compiled import compiled_run
from .curvature import lambda_max_of_gram
from .errors import NotSupportedError
from .linalg import predictions
from .loop import ReferenceRun, Settings, new_state
from .losses import Loss
from .optim import State
from .precondition import GRAM_MAX_FEATURES, Standardization, from_scans, rows_max
from ._runs import (CHUNK, Batch, HeldRows, centred_grams, in_order as _in_order,
                    largest as _largest, padded, row_curvature, run_sums)

#: How the calls reach the workers: "actors" (one dask actor per worker holding its
#: shards, called directly from the client) or "futures" (one task per worker through
#: the scheduler). ``gdcore bench --dask`` measures both.
ROUND_TRIP = "actors"


# -- on the workers --

class Shard:
    """One chunk of (X, y) in a worker's memory, with the compiled pass of the fit's loss
    over it (its partial sums per CHUNK rows are the in-memory pass's)."""

    def __init__(self, X: Any, y: Any, dtype: np.dtype, start: int, last: bool,
                 kind: str, param: float) -> None:
        where = f" (rows {start} to {start + len(X) - 1}, a chunk of the dask array)"
        try:
            X = as_features(X, dtype)
            y = as_target(y, dtype)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{exc}{where}") from None
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X and y chunks differ in length{where}")
        self.X, self.y, self.last = X, y, last
        self.n, self.d = X.shape
        self.big = _largest(X)
        self.y_big = _largest(y.reshape(-1, 1))
        self.whole = pass_linear.LinearObjective(kind, param, X, y, 1)
        # in memory the rows after this chunk's are readable, so the pass reads its last
        # row as a padded one: that run is passed apart, with a row of zeros after it
        self.split, self.tail = self.n, None
        if padded(self.d, last):
            self.split = (self.n - 1) // CHUNK * CHUNK
            zero = np.zeros(1, X.dtype)
            self.tail = pass_linear.LinearObjective(
                kind, param, np.concatenate([X[self.split:], zero[None].repeat(self.d, 1)]),
                np.concatenate([y[self.split:], zero]), 1)

    def sums(self, params: np.ndarray) -> np.ndarray:
        """(runs, d + 2): each run's gradient sums then loss sum, at ``params``."""
        params = _loadable(params)
        parts = [self.whole.chunk_sums(params, 0, self.split)] if self.split else []
        if self.tail is not None:
            parts.append(self.tail.chunk_sums(params, 0, self.n - self.split))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def run_sums(self, which: str, big: np.ndarray, shift: Any) -> np.ndarray:
        """Sums over each run of RUN rows of u = X / big - shift ("x"), or u^2 ("x2"),
        or the same of y ("y", "y2"), each added row after row as _scan.column_scan does."""
        data = self.y.reshape(-1, 1) if which[0] == "y" else self.X
        return run_sums(data, big, shift, which.endswith("2"))

    def y_rest(self, big: np.ndarray, mean: np.ndarray, kind: str, param: float,
               value: float) -> Tuple[np.ndarray, float]:
        """y's run sums of squares about its mean, and the chunk's loss sum predicting
        ``value``."""
        return (self.run_sums("y2", big, mean),
                float(_util.constant_loss(kind, param, self.y, value)) * self.n)

    def centred_grams(self, big: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """The centred Gram matrix of each run of GRAM_ROWS rows (_runs.centred_grams)."""
        return centred_grams(self.X, _loadable(big), _loadable(mean))

    def gram(self, fit_intercept: bool) -> np.ndarray:
        """A^T A of the chunk, A = [X 1] (``gdcore.curvature.gram_blas``)."""
        from .curvature import gram_blas
        return gram_blas(self.X, fit_intercept)

    def largest(self) -> Tuple[np.ndarray, np.ndarray]:
        return self.big, self.y_big

    def size(self) -> int:
        return self.n

    def rows_max(self, fit_intercept: bool, big: np.ndarray, mean: np.ndarray,
                 unit_scale: np.ndarray) -> float:
        """max_i ||a_i||^2 of the chunk's rows in standardised coordinates (precondition's)."""
        return rows_max(self.X, fit_intercept, _loadable(big), _loadable(mean),
                        _loadable(unit_scale))

    def row_curvature(self, fit_intercept: bool) -> float:
        """max_i 2 ||a_i||^2 of the chunk's rows, a_i = [x_i 1] (the compiled backend's)."""
        return row_curvature(self.X, fit_intercept)

    def batches(self, settings: Settings, kind: str, param: float, params: np.ndarray,
                state: np.ndarray, seed: int, epoch: int, steps: float, loss_sum: float,
                grad_sum: np.ndarray) -> Tuple[np.ndarray, np.ndarray, int, float, np.ndarray,
                                                bool]:
        """The chunk's part of a mini-batch epoch: its rows (shuffled from the random
        stream at ``seed`` for shuffle="blocks", else in order) in batches, one step each
        (the compiled loop's ``Run.batches``, ``ReferenceRun.batches`` in C, the epoch's
        ``steps`` for the schedule), from ``params`` and the optimizer ``state`` array.
        Returns them stepped, the stream's state, the epoch's sums so far and whether a
        batch's loss was not finite."""
        assert settings.batch_size is not None
        size = min(settings.batch_size, self.n)  # a chunk shorter than a batch: one batch
        key = (size, settings.shuffle is False, kind, param)
        if getattr(self, "batch_key", None) != key:  # kept from chunk to chunk of a fit
            self.batch_key = key
            self.held = HeldRows(self.X, self.y, Batch(size, self.d, self.X.dtype, kind, param,
                                                       settings.shuffle is False), self.last)
        rng = SplitMix64(seed)
        order = shuffled(self.n, rng) if settings.shuffle == "blocks" else np.arange(self.n)
        params = np.array(params)
        run_state = new_state(settings, params)
        run_state.array[:] = state
        run = compiled_run(self.held.objective, params, run_state,
                           replace(settings, batch_size=size))
        run.steps_per_epoch = steps
        loss_sum, grad_sum, diverged = run.batches(order, epoch, loss_sum, grad_sum)
        return params, run_state.array, rng.state, loss_sum, grad_sum, diverged

    def rows(self) -> np.ndarray:
        return self.X


def _loadable(a: np.ndarray) -> np.ndarray:
    """An array from the client as the kernels may load it: C order and aligned (one that
    arrives in a message's buffer can start at any byte, which C forbids for a double)."""
    return np.require(a, requirements=["C_CONTIGUOUS", "ALIGNED"])


def _call(method: str, shards: Sequence[Shard], *args: Any) -> List[Any]:
    return [getattr(shard, method)(*args) for shard in shards]


class ShardGroup:
    """The shards of one worker, as a dask actor: a call (an epoch's, a statistic's) goes
    straight from the client to the worker, past the scheduler."""

    def __init__(self, *shards: Shard) -> None:
        self.shards = shards

    def call(self, method: str, *args: Any) -> List[Any]:
        """[shard.method(*args) for its shards]."""
        return _call(method, self.shards, *args)

    def batches(self, k: int, *args: Any) -> Any:
        """Shard k's part of a mini-batch epoch (Shard.batches)."""
        return self.shards[k].batches(*args)


# -- on the client --

class DaskData:
    """(X, y) as shards on a cluster: what ``strategy.setup`` measures (the ``measure``,
    ``backend`` and the data it is given) and what the epochs sum over."""

    def __init__(self, X: Any, y: Any, dtype: np.dtype, loss: Loss,
                 via: str = "actors") -> None:
        import dask
        from distributed import wait
        self.client = _client()
        X, y = _aligned(X, y)
        self.dtype, self.loss = np.dtype(dtype), loss
        self.shape = (int(sum(X.chunks[0])), int(X.shape[1]))
        self.n_rows = self.shape[0]
        starts = np.cumsum((0,) + X.chunks[0])
        xs, ys = X.to_delayed().ravel(), y.to_delayed().ravel()
        make = dask.delayed(Shard, pure=False)
        self.shards = self.client.compute(
            [make(x, v, self.dtype, int(starts[i]), i == len(xs) - 1, loss.kind, loss.param)
             for i, (x, v) in enumerate(zip(xs, ys))], optimize_graph=False)
        wait(self.shards)
        for future in self.shards:
            if future.status == "error":
                future.result()  # raises the chunk's validation error
        where = self.client.who_has(self.shards)
        self.groups: Dict[str, List[int]] = {}
        for i, future in enumerate(self.shards):
            self.groups.setdefault(sorted(where[future.key])[0], []).append(i)
        self.via = via
        self.actor_futures = []
        if via == "actors":
            self.actor_futures = [self.client.submit(ShardGroup, *[self.shards[i] for i in idx],
                                                     workers=[w], actor=True)
                                  for w, idx in self.groups.items()]
        self.actors = dict(zip(self.groups, self.client.gather(self.actor_futures)))
        largest = self._each("largest")
        self.big = np.max([x for x, _ in largest], axis=0)
        self.y_big = np.max([v for _, v in largest], axis=0)
        self.y_scan: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
        self.trivial: Tuple[float, float] = (math.nan, math.nan)  # (prediction, loss)

    # the statistics strategy.setup needs, reduced over the shards in row order; the
    # waves of calls overlap where they can (y's statistics ride with X's)

    def _submit(self, method: str, *args: Any) -> Dict[str, Any]:
        """A future of [shard.method(*args) for its shards] per worker: a call of its
        actor, or a task through the scheduler."""
        if self.actors:
            return {w: actor.call(method, *args) for w, actor in self.actors.items()}
        return {w: self.client.submit(_call, method, [self.shards[i] for i in idx], *args,
                                      workers=[w], pure=False)
                for w, idx in self.groups.items()}

    def _collect(self, futures: Dict[str, Any]) -> List[Any]:
        """The results of _submit's futures, in row order."""
        return self.in_row_order((w, future.result()) for w, future in futures.items())

    def in_row_order(self, results: Iterable[Tuple[str, List[Any]]]) -> List[Any]:
        """Per-shard results from (worker, [its shards' results]) pairs, in row order."""
        out: List[Any] = [None] * len(self.shards)
        for w, values in results:
            for i, value in zip(self.groups[w], values):
                out[i] = value
        return out

    def _each(self, method: str, *args: Any) -> List[Any]:
        return self._collect(self._submit(method, *args))

    def _y_rest(self, y_mean_parts: List[np.ndarray]) -> Tuple[Any, Any]:
        """(y's unit mean, futures of y_rest), from y's run sums."""
        big = np.where(self.y_big == 0, 1.0, self.y_big)
        mean = _in_order(y_mean_parts) / self.n_rows
        value = float(mean[0]) * float(big[0])  # as strategy.target_stats_of gives it
        self.trivial = (value, math.nan)
        return mean, self._submit("y_rest", big, mean, self.loss.kind, self.loss.param, value)

    def _y_done(self, mean: np.ndarray, futures: Dict[str, Any]) -> None:
        parts = self._collect(futures)
        self.y_scan = (np.where(self.y_big == 0, 1.0, self.y_big), mean,
                       _in_order([p[0] for p in parts]))
        self.trivial = (self.trivial[0], sum(p[1] for p in parts) / self.n_rows)

    def standardize(self, X: Any, fit_intercept: bool, rows: bool = False,
                    weights: None = None) -> Standardization:
        """precondition.standardize's scans, y's with them: the means, then the centred
        Gram matrix (or the squares)."""
        n, d = self.shape
        big = np.where(self.big == 0, 1.0, self.big)
        y_big = np.where(self.y_big == 0, 1.0, self.y_big)
        x_means = self._submit("run_sums", "x", big, 0.0) if fit_intercept else {}
        y_means = self._submit("run_sums", "y", y_big, 0.0)
        mean = _in_order(self._collect(x_means)) / n if fit_intercept else np.zeros(d)
        y_mean, y_rest = self._y_rest(self._collect(y_means))
        squares, gram = np.zeros(d), None
        if d > GRAM_MAX_FEATURES:
            squares = _in_order(self._each("run_sums", "x2", big, mean))
        else:
            gram = np.zeros((d, d))
            for parts in self._each("centred_grams", big, mean):
                for part in parts:  # in row order, as in memory
                    gram += part
        self._y_done(y_mean, y_rest)
        row_max = None
        if rows:  # mini-batch steps: the rows' curvature too (a pass more)
            def row_max(unit_scale: np.ndarray) -> float:
                return max(self._each("rows_max", fit_intercept, big, mean, unit_scale))
        return from_scans(n, fit_intercept, big, mean, squares, gram, row_max)

    def target_stats(self, y: Any, weights: None = None) -> Tuple[float, float]:
        if self.y_scan is None:
            big = np.where(self.y_big == 0, 1.0, self.y_big)
            self._y_done(*self._y_rest(self._each("run_sums", "y", big, 0.0)))
        assert self.y_scan is not None
        return strategy.target_stats_of(self.n_rows, *self.y_scan)

    def trivial_loss(self, loss: Loss, y: Any, mean: float, weights: None = None) -> float:
        """The mean loss of predicting ``mean`` (the chunks' sums added: equal to rounding)."""
        value = self.trivial[1]
        if not (mean == self.trivial[0] and (loss.kind, loss.param) == (self.loss.kind,
                                                                         self.loss.param)):
            value = sum(self._each("y_rest", self.y_big, np.zeros(1), loss.kind, loss.param,
                                   mean)[i][1] for i in range(len(self.shards)))
            value /= self.n_rows
        return value if math.isfinite(value) else 0.0

    def curvature(self, X: Any, fit_intercept: bool, rows: bool = True) -> Tuple[float, float]:
        """(lambda_max of (2/N) A^T A, max_i 2 ||a_i||^2 if ``rows`` else NaN): the raw Gram
        matrix summed over the shards, the rows' largest of theirs."""
        G = np.zeros((self.shape[1] + fit_intercept,) * 2)
        for part in self._each("gram", fit_intercept):
            G += part
        row_max = max(self._each("row_curvature", fit_intercept)) if rows else math.nan
        return lambda_max_of_gram(G, self.n_rows), row_max

    # mini-batches: one chunk after the other, each run where it lives

    def blocked(self, batch_size: int, shuffle: Any) -> int:
        """Set mini-batches up (the shards' rows, where they live); the rows per block of
        shuffle="blocks": the largest chunk's (each chunk is a block)."""
        self.chunk_rows = self._each("size")
        self.owner = {i: w for w, idx in self.groups.items() for i in idx}
        return max(self.chunk_rows)

    def chunk_batches(self, i: int, *args: Any) -> Any:
        """Shard i's part of a mini-batch epoch (Shard.batches), on its worker."""
        w = self.owner[i]
        if self.via == "actors":
            return self.actors[w].batches(self.groups[w].index(i), *args).result()
        return self.client.submit(_batches, self.shards[i], *args, workers=[w],
                                  pure=False).result()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """X gathered to the client (an error message's largest |X|, nothing on the way)."""
        X = np.concatenate(self._each("rows"))
        return X if dtype is None else X.astype(dtype)


class DaskObjective:
    """``gdcore.loop.Objective`` of a linear model on DaskData: one round trip a call."""

    def __init__(self, data: DaskData) -> None:
        self.data = data
        self.n_rows, self.n_params = data.n_rows, data.shape[1] + 1

    def sums(self, params: np.ndarray, rows: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
        assert rows is None, "mini-batches run on the workers (ChunkedRun)"
        data = self.data
        total = _in_order(data._collect(data._submit("sums", np.array(params))))
        return float(total[-1]), total[:-1]


class ChunkedRun(ReferenceRun):
    """ReferenceRun whose mini-batch epochs go through the chunks one after the other (in
    a random order for shuffle="blocks", drawn from the run's stream, else in row order):
    each chunk's batches run on the worker holding it (Shard.batches), the parameters,
    optimizer state, random stream and the epoch's sums carried from chunk to chunk, one
    round trip each: sequential SGD, the steps one machine would take in that order. The
    epoch's end (records, divergence, stopping) is ReferenceRun's, on the client."""

    def __init__(self, data: DaskData, objective: Any, params: np.ndarray, state: State,
                 settings: Settings) -> None:
        super().__init__(objective, params, state, settings)
        self.data = data
        self.chunk_settings = replace(settings, order=None)  # each chunk shuffles its own
        b = settings.batch_size
        if b:  # batches never straddle chunks: a chunk's last may be short
            self.steps_per_epoch = float(sum(-(-m // b) for m in data.chunk_rows))

    def _epoch(self) -> Tuple[float, np.ndarray, bool]:
        chunks = list(range(len(self.data.shards)))
        if self.s.shuffle == "blocks":
            shuffle(chunks, self.rng)
        loss = self.data.loss.kind, self.data.loss.param
        loss_sum, grad_sum = 0.0, np.zeros(self.s.n_free)
        for i in chunks:
            params, state, seed, loss_sum, grad_sum, diverged = self.data.chunk_batches(
                i, self.chunk_settings, *loss, self.params, self.state.array, self.rng.state,
                self.n_epochs, self.steps_per_epoch, loss_sum, grad_sum)
            self.params[:] = params
            self.state.array[:] = state
            self.rng.state = seed
            if diverged:
                return loss_sum, grad_sum, True
        return loss_sum, grad_sum, False


def _batches(shard: Shard, *args: Any) -> Any:
    return shard.batches(*args)


def _client() -> Any:
    try:
        from distributed import get_client
        return get_client()
    except ImportError as exc:
        raise ImportError("fitting dask arrays needs dask and distributed: "
                          "pip install gdcore[dask]") from exc
    except ValueError as exc:
        raise ValueError("fitting dask arrays needs a dask.distributed Client: start one "
                         "first, Client() on this machine or Client('scheduler-address') "
                         "for a cluster") from exc


def _aligned(X: Any, y: Any) -> Tuple[Any, Any]:
    """X (2-D, one chunk across its columns) and y (1-D) as dask arrays with the same
    row chunks; a NumPy X or y is split along the other's chunks."""
    import dask.array as da
    for name, value in (("X", X), ("y", y)):
        if on_cluster(value) and not isinstance(value, da.Array):
            raise TypeError(f"{name} must be a dask array (or a NumPy array), "
                            f"got {type(value).__name__}")
    if not on_cluster(X):
        X = as_features(X, np.result_type(np.asarray(X).dtype, np.float32))
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(f"X must be 1-D or 2-D, got {X.ndim}-D with shape {X.shape}")
    if isinstance(X, da.Array):
        _known(X, "X")
    if not on_cluster(y):
        y = as_target(y, np.result_type(np.asarray(y).dtype, np.float32))
    elif y.ndim != 1:
        raise ValueError(f"y must be 1-D, got {y.ndim}-D with shape {y.shape}")
    else:
        _known(y, "y")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y have different lengths: X has {X.shape[0]} rows, "
                         f"y has {y.shape[0]} values")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X is empty (shape {X.shape})")
    if not isinstance(X, da.Array):
        X = da.from_array(X, chunks=(y.chunks[0], -1))
    if not isinstance(y, da.Array):
        y = da.from_array(y, chunks=(X.chunks[0],))
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk({0: X.chunks[0]})
    for name, value in (("X", X), ("y", y)):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {value.dtype}")
    return X, y


def _known(a: Any, name: str) -> None:
    if any(math.isnan(c) for c in a.chunks[0]):
        raise ValueError(f"{name} has chunks of unknown size (nan), as after boolean "
                         f"indexing: call {name}.compute_chunk_sizes() first")


def start(trainer: Any, model: Any, X: Any, y: Any) -> Tuple[Any, Any, Any]:
    """Trainer._start for dask arrays: (setup, run, (data, batch_size, data))."""
    _runs.refuse(trainer, model, "dask arrays")
    data = DaskData(X, y, model.dtype, trainer.loss, ROUND_TRIP)
    model._check_features(data)
    return _runs.start(trainer, model, data, DaskObjective(data), "dask arrays",
                       run=lambda *args: ChunkedRun(data, *args))


# -- gdcore.sklearn.GDRegressor's fit and predict of dask arrays --

def estimator_data(estimator: Any, X: Any, y: Any) -> Tuple[Any, Any]:
    """(X, y) for GDRegressor.fit as float64 dask arrays of aligned chunks (what
    scikit-learn's validate_data checks and records, without computing them)."""
    X, y = _aligned(X, y)
    estimator.n_features_in_ = int(X.shape[1])
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    return X.astype(np.float64), y.astype(np.float64)


def estimator_predict(estimator: Any, X: Any) -> Any:
    """GDRegressor.predict of a dask array: a dask array, each chunk's X @ coef_ + intercept_
    computed where the chunk is."""
    import dask.array as da
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask array (or a NumPy array), got {type(X).__name__}")
    if X.ndim != 2 or X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has shape {X.shape}, but {type(estimator).__name__} is expecting "
                         f"{estimator.n_features_in_} features as input")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be numeric, got dtype {X.dtype}")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X.map_blocks(_predict_block, estimator.coef_, estimator.intercept_, drop_axis=1,
                        dtype=np.float64)


def _predict_block(X: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return predictions(as_features(X, np.dtype(np.float64)), coef, intercept)
