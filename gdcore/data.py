"""Data on disk: ``.npy`` files fitted in blocks, with bounded memory, at the disk's speed.

``open_npy(path)`` reads a ``.npy`` header and checks it; ``Trainer.fit(model,
open_npy("X.npy"), open_npy("y.npy"))`` (or ``GDRegressor.fit``) then streams
the file: each pass reads it from start to end into one reusable buffer of
``BLOCK_BYTES`` (``os.preadv``, asking the kernel to read the next block
ahead), whatever the file's size. A ``np.load(path, mmap_mode="r")`` memmap
fits too, read in place, but its pages count in the process's resident
memory and fill it for a file larger than RAM; a file read here never does.
A file larger than half the memory available is also dropped from the page
cache as it is read (``posix_fadvise``), so that a fit does not push out
everyone else's pages; a smaller one stays cached, and later epochs read it
at memory speed.

The fit is the one of the same arrays in memory, bit for bit (like
gdcore/dask.py's, whose runs of rows it shares, gdcore/_runs.py): the
buffer holds whole runs of ``CHUNK`` (4,096) rows, each summed by its own
compiled ``LinearObjective`` and added in row order; the statistics of the
default fit (largest magnitudes, then means, then the centred Gram matrix:
three passes) are the in-memory scans' runs, added in the same order. Only
the loss of predicting y's mean and, with ``precondition=None`` and
``lr="auto"``, the raw Gram matrix behind the step are summed per block
(equal to rounding). Rows wider than a block (4,096 rows over
``BLOCK_BYTES``) are read in shorter runs: equal to rounding too.

Mini-batches (``batch_size``) read the file in blocks too: the most whole
batches the buffer holds (``FileData.blocked``), each block read into it once
per epoch. ``shuffle="blocks"`` takes the blocks in a random order and each
block's rows in a random order (``gdcore._random.shuffle_blocks`` with the
file's block: a batch holds rows of one block, two past the short last one);
``shuffle=False`` reads the rows in order. The epochs are the compiled loop's
(``FileData.objective``, a ``BlockObjective``): a batch within the block in
memory is copied into a batch buffer and summed there in C (``_runs.Batch``'s
buffer and objectives, which sum it as the in-memory pass sums those rows);
the full passes, and a batch that needs the next block read (or holds X's
last row), call back here with the GIL, a few times an epoch. The fit equals
the in-memory fit with the same blocks bit for bit (``shuffle=False``: the
in-memory fit itself), and the default fit's step measures the rows'
curvature over the blocks as memory does. Memory: the buffer, a batch, and
the row order (8 bytes a row). ``shuffle="rows"`` would read the disk at
random: refused, by name. What a read raises (a disk error, a second Ctrl-C)
ends the loop and is raised from the fit.

Not on files (a ``gdcore.errors.NotSupportedError`` names the argument):
``shuffle="rows"``, networks, early stopping, ``partial_fit``, and the default
fits made of stages (MAE, Huber, an L1 penalty: give an optimizer).
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterator, List, Optional, Tuple, Union

import numpy as np

from . import _runs, _util, strategy
from ._dispatch import pass_linear
from ._runs import (CHUNK, Batch, add_centred_gram, largest, padded, row_curvature,
                    run_sums, where_last)
from ._validation import as_features, as_target, physical_memory
from .backends.compiled import compiled_run
from .curvature import gram_blas, lambda_max_of_gram
from .errors import NotSupportedError
from .linalg import predictions
from .loop import block_rows
from .losses import Loss
from .precondition import GRAM_MAX_FEATURES, Standardization, from_scans, rows_max

__all__ = ["open_npy", "NpyFile"]

#: Bytes of X (and as many of y's rows) read per block: the bulk of a fit's memory.
BLOCK_BYTES = 32 << 20

_FADVISE = hasattr(os, "posix_fadvise")
#: Bytes asked of the kernel per posix_fadvise(WILLNEED): Linux reads at most its
#: readahead window (a few MB) a call, so a block is asked for in pieces.
WILLNEED_BYTES = 4 << 20


class NpyFile:
    """A ``.npy`` file of a 2-D X or a 1-D y, opened by ``open_npy``: its header read and
    checked, its data read only when a fit streams it.

    Attributes
    ----------
    path : str
        The file.
    shape : tuple of int
        The array's shape.
    dtype : numpy.dtype
        float32 or float64, in this machine's byte order.
    offset : int
        Where the data start in the file (after the header).
    """

    def __init__(self, path: str, shape: Tuple[int, ...], dtype: np.dtype, offset: int) -> None:
        self.path, self.shape, self.dtype, self.offset = path, shape, dtype, offset

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"open_npy({self.path!r})  # shape {self.shape}, {self.dtype.name}"

    def abs_max(self) -> float:
        """The largest magnitude in the file (a pass in blocks; for error messages)."""
        a = np.load(self.path, mmap_mode="r").reshape(self.shape[0], -1)
        rows = max(1, BLOCK_BYTES // max(1, a.shape[1] * a.itemsize))
        return max(float(np.max(np.abs(a[lo:lo + rows]))) for lo in range(0, a.shape[0], rows))


def open_npy(path: Union[str, "os.PathLike[str]"]) -> NpyFile:
    """Open a ``.npy`` file for a fit that streams it from disk.

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` file (``np.save``'s format) of a 2-D X (rows of features) or
        a 1-D y, float32 or float64, in C order.

    Returns
    -------
    NpyFile
        What ``Trainer.fit`` and ``GDRegressor.fit`` take as X or y: the file
        is read in blocks during the fit, never whole.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not a ``.npy`` file, truncated, Fortran order, empty, or not 1-D or 2-D.
    TypeError
        Its values are not float32 or float64.

    Examples
    --------
    >>> import numpy as np, tempfile, os, gdcore
    >>> from gdcore.data import open_npy
    >>> folder = tempfile.mkdtemp()
    >>> X = np.arange(8.0).reshape(4, 2); y = X @ [1.0, 2.0] + 3.0
    >>> np.save(os.path.join(folder, "X.npy"), X); np.save(os.path.join(folder, "y.npy"), y)
    >>> model = gdcore.LinearModel(n_features=2)
    >>> history = gdcore.Trainer().fit(model, open_npy(os.path.join(folder, "X.npy")),
    ...                                open_npy(os.path.join(folder, "y.npy")))
    >>> bool(np.allclose(model.predict(X), y))
    True
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such .npy file: {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a directory, not a .npy file")
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
        except (ValueError, OSError, SyntaxError) as exc:
            raise ValueError(f"{path!r} is not a readable .npy file: {exc}") from None
        offset = f.tell()
    if dtype.kind != "f" or dtype.itemsize not in (4, 8):
        raise TypeError(f"{path!r} holds {dtype} values: open_npy reads float32 or float64 "
                        "(convert it once, e.g. np.save(path, np.load(path).astype(np.float64)))")
    if not dtype.isnative:
        raise TypeError(f"{path!r} holds {dtype.str} values, in the other byte order than "
                        "this machine's: convert it once (np.save(path, a.astype(a.dtype."
                        "newbyteorder('=')))")
    if fortran and len(shape) > 1:
        raise ValueError(f"{path!r} is in Fortran order: rows must be contiguous (C order); "
                         "save np.ascontiguousarray(X)")
    if len(shape) not in (1, 2):
        raise ValueError(f"{path!r} holds a {len(shape)}-D array of shape {shape}: X must be "
                         "2-D, y 1-D")
    if shape[0] == 0 or (len(shape) == 2 and shape[1] == 0):
        raise ValueError(f"{path!r} is empty (shape {shape})")
    out = NpyFile(path, tuple(int(s) for s in shape), np.dtype(dtype), offset)
    size = os.path.getsize(path)
    if size < offset + out.nbytes:
        raise ValueError(f"{path!r} is truncated: its header promises {out.nbytes} bytes "
                         f"of data, it holds {size - offset}")
    return out


class NpyWriter:
    """A .npy file of float64 rows written block by block, its length unknown until the
    end (a CSV larger than memory, read in chunks): room for the header is kept at the
    start and the header written on ``close``."""

    #: Room for the header: a shape of up to 10^18 rows.
    HEADER = 128

    def __init__(self, path: str, width: Optional[int] = None) -> None:
        self.path, self.width, self.n = path, width, 0
        self.file = open(path, "wb")
        self.file.write(b" " * self.HEADER)

    def write(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        self.file.write(memoryview(rows).cast("B"))  # type: ignore[arg-type]
        self.n += rows.shape[0]

    def close(self) -> None:
        if self.file.closed:
            return
        shape = (self.n,) if self.width is None else (self.n, self.width)
        text = repr({"descr": "<f8", "fortran_order": False, "shape": shape})
        head = np.lib.format.magic(1, 0) + b"  " + text.encode("latin1")
        head = head.ljust(self.HEADER - 1) + b"\n"
        head = head[:8] + len(head[10:]).to_bytes(2, "little") + head[10:]
        self.file.seek(0)
        self.file.write(head)
        self.file.close()

    def __enter__(self) -> "NpyWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def on_disk(value: Any) -> bool:
    """Whether ``value`` is a file that a fit streams (``open_npy``'s)."""
    return isinstance(value, NpyFile)


class _Reader:
    """Rows of an NpyFile or of an array in memory, read into buffers in order."""

    def __init__(self, source: Any, name: str, dtype: np.dtype, drop: bool) -> None:
        self.name, self.dtype = name, dtype
        self.file: Optional[NpyFile] = source if on_disk(source) else None
        self.array: Optional[np.ndarray] = None
        self.fd = -1
        if self.file is None:
            self.array = (as_target(source, dtype, name) if name == "y"
                          else as_features(source, dtype, name))
            self.row_bytes = 0
        else:
            self.row_bytes = int(np.prod(self.file.shape[1:])) * self.file.dtype.itemsize
            self.fd = os.open(self.file.path, os.O_RDONLY)
            self.drop = drop
            if _FADVISE:
                os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def where(self) -> str:
        return self.name if self.file is None else f"{self.name} ({self.file.path!r})"

    def read(self, start: int, views: List[np.ndarray], staging: Optional[np.ndarray],
             ahead: Tuple[int, int] = (0, 0)) -> None:
        """Fill ``views`` (each a run of rows) with the rows from ``start`` on; then ask the
        kernel to read the ``ahead`` = (first, count) rows the fit reads next (and drop
        these from its cache if large)."""
        count = sum(len(v) for v in views)
        if self.file is None:
            assert self.array is not None
            for v in views:
                v[...] = self.array[start:start + len(v)]
                start += len(v)
            return
        offset = self.file.offset + start * self.row_bytes
        if self.file.dtype == self.dtype:
            _read_exact(self.fd, views, offset, self.where())
        else:  # read as stored, converted into the runs
            assert staging is not None
            raw = staging[:count * self.row_bytes].view(self.file.dtype)
            _read_exact(self.fd, [raw], offset, self.where())
            raw = raw.reshape((count,) + views[0].shape[1:])
            at = 0
            for v in views:
                v[...] = raw[at:at + len(v)]
                at += len(v)
        if _FADVISE:
            length = count * self.row_bytes
            first = self.file.offset + ahead[0] * self.row_bytes
            end = first + max(ahead[1], 0) * self.row_bytes
            for at in range(first, end, WILLNEED_BYTES):  # (Linux reads a few MB a call)
                os.posix_fadvise(self.fd, at, min(WILLNEED_BYTES, end - at),
                                 os.POSIX_FADV_WILLNEED)
            if self.drop:
                os.posix_fadvise(self.fd, offset, length, os.POSIX_FADV_DONTNEED)


def _read_exact(fd: int, views: List[np.ndarray], offset: int, where: str) -> None:
    """os.preadv until every view is full (a read may return fewer bytes than asked)."""
    buffers = [memoryview(v).cast("B") for v in views if v.size]  # type: ignore[arg-type]
    while buffers:
        got = os.preadv(fd, buffers, offset)
        if got == 0:
            raise ValueError(f"{where} ended early: the file changed during the fit")
        offset += got
        while buffers and got >= len(buffers[0]):
            got -= len(buffers[0])
            buffers.pop(0)
        if got:
            buffers[0] = buffers[0][got:]


def _available_memory() -> int:
    """Bytes of memory available (Linux's MemAvailable; elsewhere half the RAM)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return (physical_memory() or 0) // 2


class FileData:
    """(X, y) streamed from disk: what ``strategy.setup`` measures (its ``measure``,
    ``backend`` and data) and what the epochs sum over, block by block in row order.

    The block buffer holds ``slots`` runs of ``run`` rows (CHUNK when 4,096 rows fit
    in ``block_bytes``), each followed by a row of zeros where the pass reads padded
    rows (gdcore/_runs.py), so that each run is summed as in memory.
    """

    def __init__(self, X: Any, y: Any, dtype: np.dtype, loss: Loss,
                 block_bytes: Optional[int] = None) -> None:
        self.dtype, self.loss = np.dtype(dtype), loss
        if not (on_disk(X) or isinstance(X, np.ndarray)):
            raise TypeError(f"X must be a file from gdcore.data.open_npy (or a NumPy array), "
                            f"got {type(X).__name__}")
        shape = X.shape if X.ndim == 2 else (X.shape[0], 1)  # a 1-D X is one feature
        if on_disk(y) and y.ndim != 1:
            raise ValueError(f"y ({y.path!r}) must be 1-D, got shape {y.shape}")
        self.shape = (int(shape[0]), int(shape[1]))
        self.n_rows, d = self.shape
        if len(y) != self.n_rows:
            raise ValueError(f"X and y have different lengths: X has {self.n_rows} rows, "
                             f"y has {len(y)} values")
        block_bytes = BLOCK_BYTES if block_bytes is None else int(block_bytes)
        row_bytes = d * self.dtype.itemsize
        self.run = CHUNK if CHUNK * row_bytes <= block_bytes else max(1, block_bytes // row_bytes)
        self.slots = max(1, min(block_bytes // (self.run * row_bytes),
                                -(-self.n_rows // self.run)))
        self.pad = 1 if padded(d, False) and self.run == CHUNK else 0
        self.X = np.zeros((self.slots, self.run + self.pad, d), self.dtype)
        self.y = np.zeros((self.slots, self.run + self.pad), self.dtype)
        file_bytes = sum(s.nbytes for s in (X, y) if on_disk(s))
        drop = file_bytes > _available_memory() // 2
        self.readers = [_Reader(X, "X", self.dtype, drop), _Reader(y, "y", self.dtype, drop)]
        stored = max((r.file.dtype.itemsize for r in self.readers
                      if r.file is not None and r.file.dtype != self.dtype), default=0)
        self.staging = (np.empty(self.slots * self.run * d * stored, np.uint8)
                        if stored else None)
        self.objectives = [pass_linear.LinearObjective(loss.kind, loss.param, self.X[s],
                                                       self.y[s], 1)
                           for s in range(self.slots)]
        self.last_objective: Any = None
        self.big = self.y_big = np.zeros(0)  # the first pass's (check)
        self.y_scan: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
        self.trivial: Tuple[float, float] = (math.nan, math.nan)  # (prediction, loss)
        # mini-batches (``blocked``): blocks of ``block`` rows read into (bx, by) in turn
        self.block, self.loaded, self.in_order = 0, -1, False
        self.bx, self.by = self.X[:0, 0], self.y[:0, 0]
        self.batch: Optional[Batch] = None

    def close(self) -> None:
        for r in self.readers:
            r.close()

    def __del__(self) -> None:
        if hasattr(self, "readers"):
            self.close()

    # -- reading --

    def blocks(self, which: str = "Xy") -> Iterator[List[Tuple[int, int, int]]]:
        """Each block read into the buffer (of X, y or both): its runs as (slot, first
        row, rows), in row order."""
        step = self.slots * self.run
        if self.loaded >= 0 and self.pad:  # a block of mini-batches wrote over the rows
            self.X[:, -1] = 0.0            # of zeros after the runs
        self.loaded = -1
        for start in range(0, self.n_rows, step):
            count = min(step, self.n_rows - start)
            runs = [(s, start + s * self.run, min(self.run, count - s * self.run))
                    for s in range(-(-count // self.run))]
            ahead = (start + count, min(step, self.n_rows - start - count))
            for reader, buffer in zip(self.readers, (self.X, self.y)):
                if reader.name in which:
                    reader.read(start, [buffer[s, :m] for s, _, m in runs], self.staging, ahead)
            yield runs

    def check(self) -> None:
        """The first pass: the values checked, the columns' (and y's) largest magnitudes
        measured."""
        big, y_big = np.zeros(self.shape[1]), np.zeros(1)
        for runs in self.blocks():
            for s, first, m in runs:
                for reader, values in zip(self.readers, (self.X[s, :m], self.y[s, :m])):
                    if not _util.all_finite(values.reshape(-1)):
                        raise ValueError(f"{reader.where()} contains NaN or infinite values "
                                         f"(rows {first} to {first + m - 1})")
                big = np.maximum(big, largest(self.X[s, :m]))
                y_big = np.maximum(y_big, largest(self.y[s, :m].reshape(-1, 1)))
        self.big, self.y_big = big, y_big

    def abs_max(self) -> float:
        return float(np.max(self.big))

    # -- the statistics strategy.setup needs, in the in-memory scans' order --

    def _scan(self, x: Optional[Tuple[np.ndarray, Any, bool]],
              y: Optional[Tuple[np.ndarray, Any, bool]], gram: Optional[np.ndarray],
              trivial: Optional[Tuple[Loss, float]]) -> Tuple[np.ndarray, np.ndarray, float]:
        """One pass: the run sums of X (``x`` = (big, shift, square)) and of y, added in
        row order; ``gram`` (given the means, in x) += the centred Gram matrix; and the
        loss sum of predicting ``trivial``'s value."""
        x_sum, y_sum, loss_sum = np.zeros(self.shape[1]), np.zeros(1), 0.0
        for runs in self.blocks("Xy" if x is not None or gram is not None else "y"):
            for s, _, m in runs:
                X, yv = self.X[s, :m], self.y[s, :m]
                if x is not None and gram is None:
                    x_sum = _added(x_sum, run_sums(X, *x))
                if gram is not None:
                    assert x is not None
                    add_centred_gram(gram, X, x[0], x[1])
                if y is not None:
                    y_sum = _added(y_sum, run_sums(yv.reshape(-1, 1), *y))
                if trivial is not None:
                    loss, value = trivial
                    loss_sum += float(_util.constant_loss(loss.kind, loss.param, yv, value)) * m
        return x_sum, y_sum, loss_sum

    def standardize(self, X: Any, fit_intercept: bool, rows: bool = False,
                    weights: None = None) -> Standardization:
        """precondition.standardize's scans, y's with them: the means, then the centred
        Gram matrix (or the squares, for wide X)."""
        n, d = self.shape
        big = np.where(self.big == 0, 1.0, self.big)
        y_big = np.where(self.y_big == 0, 1.0, self.y_big)
        x_sum, y_sum, _ = self._scan((big, 0.0, False) if fit_intercept else None,
                                     (y_big, 0.0, False), None, None)
        mean = x_sum / n if fit_intercept else np.zeros(d)
        y_mean = y_sum / n
        value = float(y_mean[0]) * float(y_big[0])  # as strategy.target_stats_of gives it
        wide = d > GRAM_MAX_FEATURES
        gram = None if wide else np.zeros((d, d))
        squares, y_squares, loss_sum = self._scan((big, mean, True), (y_big, y_mean, True),
                                                  gram, (self.loss, value))
        self.y_scan = (y_big, y_mean, y_squares)
        self.trivial = (value, loss_sum / n)

        def row_max(unit_scale: np.ndarray) -> float:  # a pass more, for mini-batch steps
            return max(rows_max(self.X[s, :m], fit_intercept, big, mean, unit_scale)
                       for runs in self.blocks("X") for s, _, m in runs)
        return from_scans(n, fit_intercept, big, mean, squares if wide else np.zeros(d), gram,
                          row_max if rows else None)

    def target_stats(self, y: Any, weights: None = None) -> Tuple[float, float]:
        if self.y_scan is None:
            y_big = np.where(self.y_big == 0, 1.0, self.y_big)
            y_mean = self._scan(None, (y_big, 0.0, False), None, None)[1] / self.n_rows
            squares = self._scan(None, (y_big, y_mean, True), None, None)[1]
            self.y_scan = (y_big, y_mean, squares)
        return strategy.target_stats_of(self.n_rows, *self.y_scan)

    def trivial_loss(self, loss: Loss, y: Any, mean: float, weights: None = None) -> float:
        """The mean loss of predicting ``mean`` (summed per run: equal to rounding)."""
        value = self.trivial[1]
        if not (mean == self.trivial[0] and (loss.kind, loss.param) == (self.loss.kind,
                                                                         self.loss.param)):
            value = self._scan(None, None, None, (loss, mean))[2] / self.n_rows
        return value if math.isfinite(value) else 0.0

    def curvature(self, X: Any, fit_intercept: bool, rows: bool = True) -> Tuple[float, float]:
        """(lambda_max of (2/N) A^T A, max_i 2 ||a_i||^2 if ``rows`` else NaN): the raw Gram
        matrix summed over the blocks, the rows' largest taken in the same pass."""
        G = np.zeros((self.shape[1] + fit_intercept,) * 2)
        row_max = 0.0 if rows else math.nan
        for runs in self.blocks("X"):
            for s, _, m in runs:
                G += gram_blas(self.X[s, :m], fit_intercept)
                if rows:
                    row_max = max(row_max, row_curvature(self.X[s, :m], fit_intercept))
        return lambda_max_of_gram(G, self.n_rows), row_max

    # -- the epochs --

    def sums(self, params: np.ndarray) -> Tuple[float, np.ndarray]:
        """(loss sum, gradient sums) at ``params``: each run's compiled pass, added in row
        order (one read of the file)."""
        total = np.zeros(self.shape[1] + 2)
        part = np.empty_like(total)
        b = params[-1]
        for runs in self.blocks():
            for s, first, m in runs:
                objective = self.objectives[s]
                if first + m == self.n_rows:  # X's last run: read unpadded, as in memory
                    objective = self._last(s, m)
                elif self.pad:
                    self.y[s, -1] = b
                part[-1], part[:-1] = objective.sums(params)
                total += part
        return float(total[-1]), total[:-1]

    # -- mini-batches --

    def blocked(self, batch_size: int, shuffle: Any) -> int:
        """Set mini-batches of ``batch_size`` rows up: blocks of the most whole batches the
        buffer holds (at least one), read in place of the full passes' runs; returns the
        rows per block."""
        d = self.shape[1]
        self.block = min(block_rows(batch_size, 1, self.slots * self.run), self.n_rows)
        self.in_order = shuffle is False
        flat_x, flat_y = self.X.reshape(-1, d), self.y.reshape(-1)
        if self.block <= flat_x.shape[0]:  # the runs' buffer, viewed as one block of rows
            self.bx, self.by = flat_x[:self.block], flat_y[:self.block]
        else:  # a batch larger than the buffer
            self.bx = np.empty((self.block, d), self.dtype)
            self.by = np.empty(self.block, self.dtype)
            if self.staging is not None:  # room for the block as stored in the file
                stored = self.staging.size // (self.slots * self.run * d)
                self.staging = np.empty(self.block * d * stored, np.uint8)
        self.batch = Batch(batch_size, d, self.dtype, self.loss.kind, self.loss.param,
                           self.in_order)
        self.loaded = -1
        return self.block

    def _load(self, k: int, after: int = -1) -> int:
        """Read block k into (bx, by), asking for the block read next (in order, or the
        one holding row ``after``); its rows."""
        start = k * self.block
        m = min(self.block, self.n_rows - start)
        if self.in_order:
            j = k + 1
        else:
            j = after // self.block if after >= 0 else k
        ahead = (j * self.block, min(self.block, self.n_rows - j * self.block))
        for reader, buffer in zip(self.readers, (self.bx, self.by)):
            reader.read(start, [buffer[:m]], self.staging, ahead if j != k else (0, 0))
        self.loaded = k
        return m

    def batch_sums(self, params: np.ndarray, rows: np.ndarray,
                   after: int = -1) -> Tuple[float, np.ndarray]:
        """(loss sum, gradient sums) over the listed rows, read from the block loaded (the
        next block read when they go on past it: once per epoch each, in the order of
        shuffle="blocks" or False; ``after``, a row of the block after it, asked for)."""
        assert self.batch is not None
        at, count = 0, len(rows)
        while at < count:
            k = int(rows[at]) // self.block
            start = k * self.block
            m = self._load(k, after) if k != self.loaded else min(self.block,
                                                                   self.n_rows - start)
            local = rows[at:] - start
            outside = np.flatnonzero((local < 0) | (local >= m))
            take = int(outside[0]) if outside.size else count - at
            self.batch.add(self.bx, self.by, local[:take])
            at += take
        return self.batch.sums(params, where_last(rows, self.n_rows))

    def held(self) -> Tuple[int, int]:
        """(first row, rows) of the block in (bx, by): (0, 0) if none."""
        if self.loaded < 0:
            return 0, 0
        start = self.loaded * self.block
        return start, min(self.block, self.n_rows - start)

    def objective(self) -> Any:
        """The compiled loop's objective (set up after ``blocked``, if mini-batches): a
        batch in the block in memory is summed in C, anything else calls back ``sums``
        or ``batch_sums``."""
        batch = self.batch or Batch(1, self.shape[1], self.dtype, self.loss.kind,
                                    self.loss.param, False)
        return _runs.block_objective(self, self.bx, self.by, batch)

    def _last(self, s: int, m: int) -> Any:
        if self.last_objective is None:
            self.last_objective = pass_linear.LinearObjective(
                self.loss.kind, self.loss.param, self.X[s, :m], self.y[s, :m], 1)
        return self.last_objective


def _added(total: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """total plus the rows of parts, added one after the other (as the scans add runs)."""
    return np.add.accumulate(np.concatenate([total[None], parts]), axis=0)[-1]


def start(trainer: Any, model: Any, X: Any, y: Any,
          block_bytes: Optional[int] = None) -> Tuple[Any, Any, Any]:
    """Trainer._start for files: (setup, run, (data, batch_size, data))."""
    _runs.refuse(trainer, model, ".npy files")
    data = FileData(X, y, model.dtype, trainer.loss, block_bytes)
    model._check_features(data)
    data.check()
    return _runs.start(trainer, model, data, data, ".npy files", run=_compiled)


def _compiled(data: FileData, params: np.ndarray, state: Any, settings: Any) -> Any:
    """The compiled epoch loop over the file's blocks (``FileData.objective``)."""
    return compiled_run(data.objective(), params, state, settings)


def estimator_data(estimator: Any, X: NpyFile, y: Any) -> Tuple[NpyFile, np.ndarray]:
    """(X, y) for GDRegressor.fit of a file X: X as it is (its fit streams it), y in
    memory as float64 (n values, which GDRegressor centres and scales)."""
    scales_x = (estimator.standardize and np.dtype(estimator.dtype) != np.float64
                and estimator.penalty is None)
    if scales_x:
        raise NotSupportedError("dtype", "float32 GDRegressor fits of .npy files (they "
                                "standardise a copy of X); use dtype='float64' or Trainer")
    if on_disk(y):
        if y.ndim != 1:
            raise ValueError(f"y ({y.path!r}) must be 1-D, got shape {y.shape}")
        y = np.array(np.load(y.path, mmap_mode="r"), dtype=np.float64)
    estimator.n_features_in_ = int(X.shape[1]) if X.ndim == 2 else 1
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    return X, as_target(y, np.dtype(np.float64))


def estimator_predict(estimator: Any, X: NpyFile) -> np.ndarray:
    """GDRegressor.predict of a file X: X @ coef_ + intercept_ block by block, in float64
    (the n predictions in memory, X never whole)."""
    d = X.shape[1] if X.ndim == 2 else 1
    if d != estimator.n_features_in_:
        raise ValueError(f"X ({X.path!r}) has {d} features, but {type(estimator).__name__} "
                         f"is expecting {estimator.n_features_in_} features as input")
    n, dtype = X.shape[0], np.dtype(np.float64)
    reader = _Reader(X, "X", dtype, X.nbytes > _available_memory() // 2)
    rows = max(1, BLOCK_BYTES // (d * dtype.itemsize))
    block = np.empty((min(rows, n), d))
    staging = None if X.dtype == dtype else np.empty(block.size * X.dtype.itemsize, np.uint8)
    out = np.empty(n)
    try:
        for start in range(0, n, rows):
            m = min(rows, n - start)
            reader.read(start, [block[:m]], staging, (start + m, min(rows, n - start - m)))
            if not _util.all_finite(block[:m].reshape(-1)):
                raise ValueError(f"{reader.where()} contains NaN or infinite values (rows "
                                 f"{start} to {start + m - 1})")
            out[start:start + m] = predictions(block[:m], estimator.coef_, estimator.intercept_)
    finally:
        reader.close()
    return out
