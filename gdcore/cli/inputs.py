"""What the user gives the command line: CSV files and the options of a fit.

Mistakes in it (a missing file or column, a non-numeric cell, a bad option
value) raise UsageError, which the command line reports in one line on
stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import math
import os
import stat
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from .. import _util
from ..backends import backends
from ..losses import HuberLoss, Loss, MAELoss, MSELoss
from ..optim import OPTIMIZERS, SCHEDULES, RMSprop, SGD
from ..trainer import Trainer

LOSSES = {"mse": MSELoss, "mae": MAELoss, "huber": HuberLoss}


class UsageError(Exception):
    """A mistake in what the user typed or gave: reported in one line, exit status 2."""


# ------------------------------------------------------------------ paths --

def _reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _clip(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[:size] + "..."


def _names(names: Sequence[str], most: int = 20) -> str:
    """Column names for a one-line message: quoted (a name may hold a newline), at most 20."""
    shown = ", ".join(repr(_clip(n)) for n in names[:most])
    return shown + (f", ... ({len(names)} in all)" if len(names) > most else "")


def check_input(path: str, name: str) -> None:
    """An input must be an existing regular file: a FIFO would block the read, a
    directory or device would fail it (or never end)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UsageError(f"{name} {path!r} does not exist") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise UsageError(f"cannot read {name} {path!r}: {_reason(exc)}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{name} {path!r} is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{name} {path!r} is not a regular file (a pipe or device?)")
    if not os.access(path, os.R_OK):
        raise UsageError(f"cannot read {name} {path!r}: permission denied")


def check_output(path: str, option: str) -> None:
    """Before the work starts, an output's folder must exist and be writable: a long
    benchmark or fit must not end in an error about where to save it."""
    if not path or "\0" in path:
        raise UsageError(f"{option} needs a file name, got {path!r}")
    folder = os.path.dirname(path) or "."
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a directory, not a file")
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path!r}: the folder {folder!r} is not writable")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return  # to be created
    except OSError as exc:  # e.g. a link in a loop
        raise UsageError(f"cannot write {option} {path!r}: {_reason(exc)}") from None
    if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):  # /dev/null is fine, a FIFO blocks
        raise UsageError(f"{option} {path!r} is not a regular file")
    if not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path!r} is not writable")


# ------------------------------------------------------------------ CSV files --

def read_csv(path: str, name: str = "DATA.csv") -> Tuple[List[str], np.ndarray]:
    """A CSV file with a header row and numbers below it: (column names, float64 rows).

    pandas reads it when installed (several times faster, in less memory); a file it
    does not read cleanly goes to the parser here, which says what is wrong with it.
    """
    check_input(path, name)
    fast = _read_with_pandas(path)
    if fast is not None:
        return fast
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path!r} is not UTF-8 text (it holds the byte "
                         f"{exc.object[exc.start]:#04x}): a binary file?") from None
    except (OSError, csv.Error) as exc:
        raise UsageError(f"cannot read {path!r}: {_reason(exc)}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]  # blank lines
    if not rows:
        raise UsageError(f"{path!r} is empty: expected a header row and data rows")
    header = _header(rows[0], path)
    if len(rows) < 2:
        raise UsageError(f"{path!r} has a header row but no data rows")
    data = np.empty((len(rows) - 1, len(header)))
    for i, row in enumerate(rows[1:]):
        data[i] = _values(row, i + 1, header, path)
    return header, data


def _values(row: Sequence[str], number: int, header: List[str], path: str) -> List[float]:
    """The numbers of data row ``number``, or the UsageError naming its mistake."""
    if len(row) != len(header):
        raise UsageError(f"{path!r}, data row {number}: {len(row)} cells, "
                         f"but the header has {len(header)} columns")
    values = []
    for j, cell in enumerate(row):
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise UsageError(f"{path!r}, data row {number}, column {header[j]!r}: "
                             f"not a finite number: {_clip(cell)!r}")
        values.append(value)
    return values


def _header(row: List[str], path: str) -> List[str]:
    """The column names of a header row, checked."""
    header = [cell.strip() for cell in row]
    if any(not h for h in header):
        raise UsageError(f"{path!r}: the header row has an empty column name")
    dupes = sorted(h for h, k in Counter(header).items() if k > 1)
    if dupes:
        raise UsageError(f"{path!r}: duplicate column names in the header: {_names(dupes)}")
    return header


def _first_line(path: str) -> Optional[List[str]]:
    """The cells of the file's first line if it is a whole row (no quoted line break),
    else None."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            row = next(reader)
            return row if reader.line_num == 1 else None
    except (OSError, UnicodeDecodeError, csv.Error, StopIteration):
        return None


def _pandas_chunks(path: str, n_columns: int, chunksize: Optional[int] = None,
                   **options: Any) -> Any:
    """pandas.read_csv of the rows below a one-line header as float64 (a DataFrame, or an
    iterator of them with ``chunksize``; ``options`` for others)."""
    import pandas as pd
    return pd.read_csv(path, **{"header": None, "skiprows": 1,
                                "names": list(range(n_columns)), "index_col": False,
                                "dtype": np.float64, "na_filter": False,
                                "encoding": "utf-8-sig", "chunksize": chunksize, **options})


def _read_with_pandas(path: str) -> Optional[Tuple[List[str], np.ndarray]]:
    """read_csv's result by pandas.read_csv (if installed), or None for any file that is
    not a one-line header of distinct names over rows of finite numbers: read_csv's own
    parser then reads it, or reports the mistake in its words."""
    if importlib.util.find_spec("pandas") is None:
        return None
    row = _first_line(path)  # None: a quoted line break in it, pandas counts lines apart
    header = [cell.strip() for cell in row or []]
    if not header or any(not h for h in header) or len(set(header)) < len(header):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            frame = _pandas_chunks(path, len(header))
    except Exception:  # whatever pandas objects to, the parser below names it
        return None
    if frame.shape[0] == 0 or frame.shape[1] != len(header):
        return None
    data = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
    del frame
    if not _util.all_finite(data.reshape(-1)):
        return None
    return header, data


def columns(header: List[str], data: np.ndarray, names: Sequence[str], path: str) -> np.ndarray:
    """The named columns of ``data`` (2-D), or a UsageError naming the missing one."""
    missing = [c for c in names if c not in header]
    if missing:
        raise UsageError(f"{path!r} has no column {missing[0]!r} (columns: {_names(header)})")
    return np.ascontiguousarray(data[:, [header.index(c) for c in names]])


@dataclass
class Dataset:
    X: Any  # an array, or a gdcore.data.NpyFile (load_dataset_on_disk)
    y: Any
    features: List[str]
    target: str
    npy: bool = False  # read from .npy files (rows counted from 0 in messages)
    y_path: Optional[str] = None  # y's own file, if not DATA


def load_dataset(path: str, target: str, features: Optional[str]) -> Dataset:
    header, data = read_csv(path)
    names = _selected(header, target, features, path)
    y = columns(header, data, [target], path)[:, 0]
    return Dataset(columns(header, data, names, path), y, names, target)


def _selected(header: List[str], target: Optional[str], features: Optional[str],
              path: str) -> List[str]:
    """The feature columns --features names (default: all but the target, if it is one of
    the columns: ``target`` None when y is a file of its own), checked."""
    names = ([c.strip() for c in features.split(",") if c.strip()] if features
             else [c for c in header if c != target])
    if target is not None and target in names:
        raise UsageError(f"--features must not include the target column {target!r}")
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)
    if dupes:
        raise UsageError(f"--features names a column twice: {_names(dupes)}")
    if not names:
        raise UsageError(f"{path!r} has no feature column besides the target {target!r}")
    columns(header, np.empty((0, len(header))), ([] if target is None else [target]) + names,
            path)  # all exist
    return names


#: A CSV larger than this share of the memory available is read in chunks into
#: temporary .npy files that the fit streams (gdcore.data.open_npy; needs pandas).
ON_DISK_SHARE = 0.25
#: Rows per chunk of such a CSV.
CHUNK_ROWS = 1 << 16


def fits_in_memory(path: str) -> bool:
    """Whether read_csv reads ``path`` (else load_dataset_on_disk: a large CSV, pandas
    installed, a one-line header)."""
    from ..data import _available_memory
    check_input(path, "DATA.csv")
    return (os.path.getsize(path) <= ON_DISK_SHARE * _available_memory()
            or importlib.util.find_spec("pandas") is None or _first_line(path) is None)


def load_dataset_on_disk(path: str, target: str, features: Optional[str],
                         folder: str, dtype: str) -> Dataset:
    """load_dataset for a CSV larger than memory: pandas reads it in chunks of CHUNK_ROWS
    rows, checked (finite numbers, within ``dtype``'s range), into X.npy and y.npy in
    ``folder``, which the Dataset holds opened for streaming."""
    from ..data import NpyWriter, open_npy
    check_input(path, "DATA.csv")
    row = _first_line(path)
    assert row is not None
    header = _header(row, path)
    names = _selected(header, target, features, path)
    picked, at = [header.index(c) for c in names], header.index(target)
    paths = os.path.join(folder, "X.npy"), os.path.join(folder, "y.npy")
    done = 0
    try:
        with NpyWriter(paths[0], len(names)) as X, NpyWriter(paths[1]) as y, \
                warnings.catch_warnings():
            warnings.simplefilter("error")
            for chunk in _pandas_chunks(path, len(header), CHUNK_ROWS):
                data = chunk.to_numpy(dtype=np.float64)
                if not _util.all_finite(data.reshape(-1)):
                    i, j = np.argwhere(~np.isfinite(data))[0]
                    value = str(float(data[i, j]))
                    raise UsageError(f"{path!r}, data row {done + i + 1}, column "
                                     f"{header[j]!r}: not a finite number: {value!r}")
                check_range(data, dtype, header, path, first_row=done)
                X.write(data[:, picked])
                y.write(data[:, at])
                done += data.shape[0]
    except UsageError:
        raise
    except OSError as exc:
        raise UsageError(f"cannot write the .npy files of {path!r} to {folder!r}: "
                         f"{_reason(exc)}") from None
    except Exception as exc:  # pandas' objection to a cell or a row: say which
        _find_mistake(path, header, done)
        raise UsageError(f"{path!r}, in data rows {done + 1} to {done + CHUNK_ROWS}: "
                         f"{_clip(str(exc), 200)}") from None
    if done == 0:
        raise UsageError(f"{path!r} has a header row but no data rows")
    return Dataset(open_npy(paths[0]), open_npy(paths[1]), names, target)


# ------------------------------------------------------------------ .npy files --

#: The first bytes of every .npy file (np.lib.format's magic string).
NPY_MAGIC = b"\x93NUMPY"


def is_npy(path: str) -> bool:
    """Whether ``path`` is a .npy file (by its first bytes, whatever its name); never
    opens anything but a regular file (a FIFO would block)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            return f.read(len(NPY_MAGIC)) == NPY_MAGIC
    except (OSError, ValueError):
        return False


def read_npy(path: str, name: str) -> np.ndarray:
    """The array of a .npy file, mapped (read as it is used), as rows: a 1-D array is one
    column; a UsageError for anything but a non-empty 1-D or 2-D array of real numbers."""
    check_input(path, name)
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise UsageError(f"cannot read {name} {path!r} as a .npy file: {_reason(exc)}") \
            from None
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "biuf":
        raise UsageError(f"{name} {path!r} holds {getattr(a, 'dtype', type(a).__name__)} "
                         f"values: expected real numbers")
    if a.ndim not in (1, 2) or a.size == 0:
        raise UsageError(f"{name} {path!r} holds an array of shape {a.shape}: expected a "
                         f"non-empty 1-D or 2-D array")
    return a.reshape(-1, 1) if a.ndim == 1 else a


def npy_header(data: np.ndarray) -> List[str]:
    """The column names of a .npy file's rows: their numbers, 0, 1, ..."""
    return [str(j) for j in range(data.shape[1])]


def npy_columns(data: np.ndarray, picked: Sequence[int], path: str, header: Sequence[str],
                first_row: int = 0) -> np.ndarray:
    """Columns ``picked`` of rows of a .npy file, in memory, in this machine's byte order:
    float32 stays float32, other numbers become float64; a UsageError naming the first
    value that is not finite."""
    part = np.asarray(data[:, list(picked)])
    single = part.dtype.kind == "f" and part.dtype.itemsize == 4
    part = np.ascontiguousarray(part, np.float32 if single else np.float64)  # native order
    if not _util.all_finite(part.reshape(-1)):
        i, j = np.argwhere(~np.isfinite(part))[0]
        raise UsageError(f"{path!r}, row {first_row + i}, column {header[picked[j]]!r}: "
                         f"not a finite number: {float(part[i, j])!r}")
    return part


def load_npy_dataset(path: str, target: str, features: Optional[str], folder: str,
                     dtype: str, in_memory: bool) -> Dataset:
    """load_dataset for a .npy DATA, its columns named by number (0, 1, ...). y is the .npy
    file ``target`` names (1-D, one value a row; X's columns are the features) or, when
    ``target`` is a number, that column of DATA. In memory if it fits (or ``in_memory``);
    else streamed from disk (gdcore.data.open_npy): the files themselves when they are
    what the fit reads, else the columns picked, written to .npy files in ``folder``."""
    from ..data import NpyWriter, _available_memory, open_npy
    data = read_npy(path, "DATA")
    header = npy_header(data)
    y_file = None
    if target.isdigit():
        if target not in header:
            raise UsageError(f"--target {target}: {path!r} has columns 0 to {len(header) - 1}")
        target_name = target
    else:  # y in a .npy file of its own
        if not os.path.lexists(target):
            raise UsageError(f"--target {target!r}: for a .npy DATA, name y by its column "
                             f"number (0 to {len(header) - 1}) or give a .npy file of y; "
                             f"there is no file {target!r}")
        y_file = read_npy(target, "--target")
        if y_file.shape[1] != 1:
            raise UsageError(f"--target {target!r} holds an array of shape {y_file.shape}: "
                             f"y must be 1-D (a column number of DATA is a whole number)")
        if y_file.shape[0] != data.shape[0]:
            raise UsageError(f"--target {target!r} has {y_file.shape[0]} values but DATA "
                             f"{path!r} has {data.shape[0]} rows")
        target_name = os.path.splitext(os.path.basename(target))[0] or "y"
    names = _selected(header, target if y_file is None else None, features, path)
    picked = [int(n) for n in names]
    rows = data.shape[0]
    y_source, y_column = (data, int(target)) if y_file is None else (y_file, 0)
    y_path = None if y_file is None else target
    y_header = header if y_file is None else [target_name]
    if in_memory or rows * (len(picked) + 1) * 8 <= ON_DISK_SHARE * _available_memory():
        X = npy_columns(data, picked, path, header)
        y = npy_columns(y_source, [y_column], y_path or path, y_header)[:, 0]
        return Dataset(X, y, names, target_name, True, y_path)
    direct = (y_file is not None and picked == list(range(data.shape[1]))
              and all(a.dtype.kind == "f" and a.dtype.itemsize in (4, 8) and a.dtype.isnative
                      and a.flags.c_contiguous for a in (data, y_file)))
    if direct:  # the files as they are, read in blocks by the fit (else copied as rows)
        try:
            X_file, y_file_open = open_npy(path), open_npy(target)
        except (ValueError, TypeError, OSError) as exc:
            raise UsageError(str(exc)) from None
        if (X_file.ndim, y_file_open.ndim) == (2, 1):
            return Dataset(X_file, y_file_open, names, target_name, True, y_path)
    paths = os.path.join(folder, "X.npy"), os.path.join(folder, "y.npy")
    try:
        with NpyWriter(paths[0], len(picked)) as X_out, NpyWriter(paths[1]) as y_out:
            for lo in range(0, rows, CHUNK_ROWS):
                block = npy_columns(data[lo:lo + CHUNK_ROWS], picked, path, header, lo)
                check_range(block, dtype, names, path, first_row=lo, npy=True)
                X_out.write(block)
                y_block = npy_columns(y_source[lo:lo + CHUNK_ROWS], [y_column],
                                      y_path or path, y_header, lo)
                check_range(y_block, dtype, [target_name], y_path or path, first_row=lo,
                            npy=True)
                y_out.write(y_block[:, 0])
    except OSError as exc:
        raise UsageError(f"cannot write the .npy files of {path!r} to {folder!r}: "
                         f"{_reason(exc)}") from None
    return Dataset(open_npy(paths[0]), open_npy(paths[1]), names, target_name, True, y_path)


def _find_mistake(path: str, header: List[str], done: int) -> None:
    """The UsageError of read_csv's parser for the first mistake in the CHUNK_ROWS data
    rows after the first ``done``, read as text (row numbers count from the file's
    second line)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = _pandas_chunks(path, len(header), skiprows=1 + done, nrows=CHUNK_ROWS,
                                  dtype=str, keep_default_na=False)
    except Exception:  # not even as text: the caller says what pandas said
        return
    for i, row in enumerate(rows.itertuples(index=False)):
        cells = [cell for cell in row if isinstance(cell, str)]
        _values(cells, done + i + 1, header, path)


def check_range(X: np.ndarray, dtype: str, names: Sequence[str], path: str,
                first_row: int = 0, npy: bool = False) -> None:
    """Numbers beyond float32's range would become infinite in a float32 model: say which
    (where: a CSV's data row counted from 1, a .npy's row from 0, as NumPy indexes it)."""
    limit = np.finfo(dtype).max
    beyond = np.argwhere(np.abs(X) > limit)
    if len(beyond):
        i, j = beyond[0]
        row = f"row {first_row + i}" if npy else f"data row {first_row + i + 1}"
        raise UsageError(f"{path!r}, {row}, column {names[j]!r}: "
                         f"{X[i, j]:g} is beyond the range of {dtype} (+-{limit:.4g}); use "
                         f"--dtype float64 or rescale the data")


# -------------------------------------------------------------- option types --

def _float(text: str) -> float:
    """The number ``text`` spells, NaN for anything else."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def _lr(text: str) -> Any:
    if text == "auto":
        return text
    value = _float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number or 'auto', got {text!r}")
    return value


def _positive(text: str) -> float:
    value = _float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value
    return parse


def _tol(text: str) -> float:
    value = _float(text)
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _unit(text: str) -> float:
    value = _float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


def add_data_options(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--target", metavar="COLUMN", required=required,
                   help="the column to predict; for a .npy DATA, its number or a .npy file of "
                        "y" + ("" if required else " (required but for bench)"))
    p.add_argument("--features", metavar="A,B,...",
                   help="comma-separated feature columns (default: every other column)")


def add_fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--loss", choices=sorted(LOSSES), default="mse", help="default: mse")
    p.add_argument("--epsilon", type=_positive, default=None,
                   help="the Huber loss's threshold, in the target's units (default: 1.35)")
    p.add_argument("--penalty", choices=["l2", "l1", "elasticnet"], default=None,
                   help="add alpha ((1 - l1_ratio)/2 ||w||^2 + l1_ratio ||w||_1) to the loss "
                        "(default: none)")
    p.add_argument("--alpha", type=_tol, default=1e-4, help="the penalty's strength (default: 1e-4)")
    p.add_argument("--l1-ratio", type=_unit, default=0.15,
                   help="the L1 share of --penalty elasticnet, in [0, 1] (default: 0.15)")
    p.add_argument("--optimizer", choices=["auto"] + sorted(OPTIMIZERS), default="auto",
                   help="default: auto (chosen per problem, see gdcore.strategy)")
    p.add_argument("--momentum", type=_fraction, default=None,
                   help="momentum in [0, 1) for sgd, gd, momentum, nesterov or rmsprop")
    p.add_argument("--schedule", choices=sorted(SCHEDULES), default=None,
                   help="learning-rate schedule (default: constant)")
    p.add_argument("--lr", type=_lr, default="auto",
                   help="learning rate, a positive number or 'auto' (default); a number with "
                        "--optimizer auto runs plain gradient descent in the data's units")
    p.add_argument("--precondition", choices=["auto", "standardize", "none"], default="auto",
                   help="fit in standardised coordinates (default: auto, unless --lr is a number)")
    p.add_argument("--epochs", type=_int_at_least(0), default=None,
                   help="default: 100000 for certified full-batch fits, else 1000")
    p.add_argument("--tol", type=_tol, default=None,
                   help="the stopping rule's tolerance (default: 1e-6, float32 1e-4; "
                        "see gdcore.Trainer)")
    p.add_argument("--batch-size", type=_int_at_least(1), default=None,
                   help="rows per mini-batch step (default: full batch)")
    p.add_argument("--seed", type=_int_at_least(0), default=None,
                   help="seed of the mini-batch order")
    p.add_argument("--backend", choices=backends(), default="cython", help="default: cython")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="default: float64")
    p.add_argument("--no-intercept", action="store_true", help="fit y = X w (b fixed at 0)")
    p.add_argument("--progress", action="store_true", help="show a progress bar (needs tqdm)")




def loss_from(args: argparse.Namespace) -> Loss:
    """The loss the options name."""
    if args.loss == "huber":
        return HuberLoss(1.35 if args.epsilon is None else args.epsilon)
    if args.epsilon is not None:
        raise UsageError(f"--epsilon applies to --loss huber, not to --loss {args.loss}")
    return LOSSES[args.loss]()


MOMENTUM_OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "rmsprop", "auto")


def trainer_from(args: argparse.Namespace, record_path: bool = False) -> Trainer:
    """The Trainer the fit options describe."""
    optimizer: Any = args.optimizer
    lr = args.lr
    if args.momentum is not None:
        if optimizer not in MOMENTUM_OPTIMIZERS:
            raise UsageError(f"--momentum applies to {', '.join(MOMENTUM_OPTIMIZERS[:-1])}, "
                             f"not to --optimizer {optimizer}")
        if optimizer == "rmsprop":
            optimizer = RMSprop(lr=1e-2 if lr == "auto" else lr, momentum=args.momentum)
        else:
            try:
                optimizer = SGD(lr=lr, momentum=args.momentum,
                                nesterov=optimizer == "nesterov")
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        lr = "auto"
    return Trainer(loss=loss_from(args), optimizer=optimizer, lr=lr, epochs=args.epochs,
                   tol=args.tol, schedule=args.schedule,
                   precondition=None if args.precondition == "none" else args.precondition,
                   batch_size=args.batch_size, random_state=args.seed, backend=args.backend,
                   record_path=record_path, penalty=args.penalty, alpha=args.alpha,
                   l1_ratio=args.l1_ratio)
