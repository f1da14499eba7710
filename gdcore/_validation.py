"""Validation and conversion at the edge: everything the kernels trust is checked here.

Each check raises before any work starts, with a message naming the argument.
Arrays are converted at most once (no copy when the input is already a
C-contiguous array of the model's dtype) and never modified.
"""

from __future__ import annotations

import math
import os
import numbers
import secrets
from typing import Any, Optional, Tuple

import numpy as np

from . import _util

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def on_cluster(value: Any) -> bool:
    """Whether ``value`` is a dask collection (told without importing dask, which is
    optional: ``pip install gdcore[dask]``)."""
    return type(value).__module__.partition(".")[0] in ("dask", "dask_expr")


def check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def check_not_masked(value: Any, name: str) -> Any:
    """``value``, or a masked array's data if nothing is masked: masks are not honoured,
    so a masked value is an error rather than a number silently used."""
    if not isinstance(value, np.ma.MaskedArray):
        return value
    if np.ma.getmaskarray(value).any():
        raise ValueError(f"{name} is a masked array with masked entries, which gdcore "
                         f"would not skip: drop those rows or fill them ({name}.filled(...))")
    return np.ma.getdata(value)


def _from_frame(value: Any, arr: np.ndarray, name: str) -> np.ndarray:
    """A pandas-like container of nullable columns (object once converted) as float64."""
    isna = getattr(value, "isna", None)
    if arr.dtype != object or not callable(isna) or not hasattr(value, "to_numpy"):
        return arr
    dtypes = value.dtypes if hasattr(value, "columns") else [getattr(value, "dtype", None)]
    if not all(getattr(dtype, "kind", "O") in "biuf" for dtype in dtypes):
        return arr  # strings, categories, objects: not numbers, reported by the caller
    if bool(np.asarray(isna()).any()):
        raise ValueError(f"{name} contains missing values (NA)")
    try:
        return np.asarray(value.to_numpy(dtype=np.float64))
    except (TypeError, ValueError):  # not numbers: reported as such by the caller
        return arr


def _numeric_array(value: Any, name: str) -> np.ndarray:
    value = check_not_masked(value, name)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a rectangular array of numbers: {exc}") from exc
    arr = _from_frame(value, arr, name)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real numbers, got complex dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr


def _converted(arr: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    # Aligned too: the kernels load whole values (an unaligned buffer is copied).
    out = arr
    if not (arr.dtype == dtype and arr.flags.c_contiguous and arr.flags.aligned):
        with np.errstate(over="ignore"):  # overflow to inf is reported just below
            out = np.require(arr, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])
    if not _util.all_finite(out.reshape(-1)):
        after = "" if arr.dtype == dtype else f" (after conversion to {dtype})"
        raise ValueError(f"{name} contains NaN or infinite values{after}")
    return out


def as_features(X: Any, dtype: np.dtype, name: str = "X") -> np.ndarray:
    """A 2-D C-contiguous finite array of ``dtype``; 1-D input is one feature."""
    arr = _numeric_array(X, name)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {arr.shape})")
    return _converted(arr, dtype, name)


def as_target(y: Any, dtype: np.dtype, name: str = "y") -> np.ndarray:
    arr = _numeric_array(y, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return _converted(arr, dtype, name)


def as_data(X: Any, y: Any, dtype: np.dtype) -> Tuple[np.ndarray, np.ndarray]:
    Xc = as_features(X, dtype)
    yc = as_target(y, dtype)
    if Xc.shape[0] != yc.shape[0]:
        raise ValueError(f"X and y have different lengths: X has {Xc.shape[0]} rows, "
                         f"y has {yc.shape[0]} values")
    return Xc, yc


def as_weights(sample_weight: Any, n_samples: int,
               name: str = "sample_weight") -> Optional[np.ndarray]:
    """The rows' weights as float64 scaled to mean 1, or None if they are all equal.

    Weights are relative, as repeated rows are: the loss is sum_i w_i l_i /
    sum_i w_i, so integer weights fit as the rows repeated that many times
    and equal weights as no weights (bit for bit: None). Negative, NaN or
    infinite weights, or all zero, are refused by name.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        if not (_finite(sample_weight) and float(sample_weight) > 0):
            raise ValueError(f"{name} must be a positive finite number or an array, "
                             f"got {sample_weight!r}")
        return None
    arr = _numeric_array(sample_weight, name)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"{name} must hold one weight per row of X ({n_samples}), got "
                         f"shape {arr.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        w = np.array(arr, dtype=np.float64)  # a copy: the user's array is never scaled
    if not _util.all_finite(w):
        raise ValueError(f"{name} contains NaN or infinite values")
    if (w < 0).any():
        raise ValueError(f"{name} contains negative weights (the first at row "
                         f"{int(np.argmax(w < 0))})")
    top = float(w.max())
    if top == 0:
        raise ValueError(f"{name} is all zeros: no row would count")
    if float(w.min()) == top:
        return None
    w /= top  # in [0, 1]: the mean cannot overflow
    w /= np.mean(w)
    return w


def as_parameter(value: Any, dtype: np.dtype, shape: Tuple[int, ...], name: str) -> np.ndarray:
    """A new finite array of ``shape`` and ``dtype`` for a model's parameter setter."""
    try:
        with np.errstate(over="ignore"):  # overflow to inf is reported below
            arr = np.array(value, dtype=dtype).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be real numbers: {exc}") from None
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {np.shape(value)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def physical_memory() -> Optional[int]:
    """Bytes of RAM on this machine, where the OS says."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_model_size(n_params: int, dtype: np.dtype, name: str) -> None:
    """A model's parameters must fit in memory: checked before they are allocated
    (a fit needs a few more copies: optimizer state, snapshot, gradient)."""
    need = 4 * int(n_params) * max(np.dtype(dtype).itemsize, 8)  # an int: no overflow
    ram = physical_memory()
    if ram is not None and need > ram:
        size = (f"{n_params:,} parameters: fitting it needs about {need // 2**30:,} GiB"
                if need < 2**80 else "more parameters than any memory holds")
        raise ValueError(f"{name} asks for a model of {size}, more than this machine's "
                         f"{ram / 2**30:.3g} GiB of memory")


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_lr(lr: Any) -> Any:
    if isinstance(lr, str) and lr == "auto":
        return lr
    if not _is_real(lr) or not _finite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number or 'auto', got {lr!r}")
    return float(lr)


def _finite(value: numbers.Real) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def check_epochs(epochs: Any) -> int:
    if not isinstance(epochs, numbers.Integral) or isinstance(epochs, bool) or epochs < 0:
        raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
    return int(epochs)


PENALTIES = (None, "l2", "l1", "elasticnet")


def check_penalty(penalty: Any, alpha: Any, l1_ratio: Any) -> Tuple[float, float]:
    """The strengths (of ||w||^2 / 2, of ||w||_1) of scikit-learn's penalty settings."""
    if not any(penalty is p or (isinstance(penalty, str) and penalty == p) for p in PENALTIES):
        raise ValueError(f"penalty must be None, 'l2', 'l1' or 'elasticnet', got {penalty!r}")
    if not _is_real(alpha) or not _finite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    if not _is_real(l1_ratio) or not _finite(l1_ratio) or not 0 <= l1_ratio <= 1:
        raise ValueError(f"l1_ratio must be a number in [0, 1], got {l1_ratio!r}")
    alpha, l1_ratio = float(alpha), float(l1_ratio)
    if penalty is None:
        return 0.0, 0.0
    share = {"l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}[penalty]
    return alpha * (1.0 - share), alpha * share


def check_tol(tol: Any) -> float:
    try:
        value = float(tol) if _is_real(tol) else math.nan
    except OverflowError:  # an int too large for a float: no gradient is that large
        value = math.inf
    if math.isnan(value) or value < 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    return value


def check_batch_size(batch_size: Any, n_samples: Optional[int] = None) -> Optional[int]:
    if batch_size is None:
        return None
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be None or an integer >= 1, got {batch_size!r}")
    if n_samples is not None and int(batch_size) > n_samples:
        raise ValueError(f"batch_size must be at most the number of samples "
                         f"({n_samples}), got {batch_size}")
    return int(batch_size)


MAX_JOBS = 256  # the compiled pass's limit (src/_pool.h)


def check_n_jobs(n_jobs: Any) -> int:
    """``n_jobs`` as given: a thread count from 1 to MAX_JOBS, or -1 (see effective_n_jobs)."""
    if isinstance(n_jobs, numbers.Integral) and not isinstance(n_jobs, bool):
        if n_jobs == -1 or 1 <= int(n_jobs) <= MAX_JOBS:
            return int(n_jobs)
    raise ValueError(f"n_jobs must be an integer from 1 to {MAX_JOBS}, or -1 (every CPU "
                     f"this process may use), got {n_jobs!r}")


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, and a cgroup CPU quota if any."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:  # cgroup v2: "<quota> <period>" or "max ..."
            quota, period = f.read().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def effective_n_jobs(n_jobs: int) -> int:
    """Threads a fit runs, decided when it starts: at most one per usable CPU; -1 takes
    them all, within OpenMP's limit (OMP_NUM_THREADS, threadpoolctl) as scikit-learn does."""
    if n_jobs == 1:
        return 1
    cpus = usable_cpus()
    if n_jobs == -1:
        limit = _util.openmp_thread_limit()
        return min(cpus, limit) if limit > 0 else cpus
    return min(n_jobs, cpus)


def check_random_state(random_state: Any) -> Any:
    ok = (random_state is None or isinstance(random_state, np.random.Generator)
          or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
              and int(random_state) >= 0))
    if not ok:
        raise ValueError(f"random_state must be None, an integer >= 0 or a "
                         f"numpy.random.Generator, got {random_state!r}")
    return random_state


def seed_from(random_state: Any) -> int:
    """A 64-bit seed for the mini-batch order: fresh entropy for None."""
    if random_state is None:
        return secrets.randbits(64)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**64, dtype=np.uint64))
    return int(random_state) % 2**64
