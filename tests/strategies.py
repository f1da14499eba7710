"""Hypothesis strategies and input layouts for the property suite (tests/test_properties.py).

Everything is derandomized with a fixed example budget, so CI runs the same
examples every time; ``GDCORE_FUZZ_EXAMPLES=100000`` raises the budget of every
property for a long (nightly) run.
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import gdcore


def budget(default: int) -> settings:
    """A fixed, derandomized example budget: ``default``, or GDCORE_FUZZ_EXAMPLES when set."""
    examples = int(os.environ.get("GDCORE_FUZZ_EXAMPLES") or default)
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# -- values ---------------------------------------------------------------------------------

#: Values a user's data may hold that stress the arithmetic: signed zeros,
#: subnormals, the normal range's ends, integers past 2**53.
SPECIAL_VALUES = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 1e-160,
                  1e150, -1e150, 1e300, -1e300, 1.7976931348623157e308, 2.0 ** 53 + 2,
                  float(np.finfo(np.float32).max), float(np.finfo(np.float32).tiny)]

#: Scales (powers of ten) for the columns of X and for y: mostly ordinary, some extreme.
EXPONENTS = st.one_of(st.just(0), st.integers(-8, 8), st.sampled_from([-320, -300, -160, 150, 300]))


@st.composite
def problems(draw: Any, max_n: int = 40, wide: bool = True, special: bool = True,
             ) -> Tuple[np.ndarray, np.ndarray]:
    """(X, y): float64, C-contiguous; n = 1 and d > n included, columns of any scale,
    constant columns, a constant y, and special values at random places."""
    n = draw(st.integers(1, max_n))
    d = draw(st.one_of(st.integers(1, 6), st.sampled_from([9, 17] + ([257] if wide else []))))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    X = rng.standard_normal((n, d)) + draw(st.sampled_from([0.0, 0.0, 3.0, 1e4]))
    with np.errstate(all="ignore"):
        X *= 10.0 ** np.array([draw(EXPONENTS) for _ in range(min(d, 3))] + [0] * (d - min(d, 3)),
                              dtype=np.float64)
    with np.errstate(all="ignore"):
        y = X[:, : min(d, 3)] @ rng.uniform(-2, 2, size=min(d, 3)) + rng.standard_normal(n)
        if draw(st.booleans()):
            y = rng.standard_normal(n) * 10.0 ** draw(EXPONENTS)
    if draw(st.integers(0, 9)) == 0:
        X[:, draw(st.integers(0, d - 1))] = draw(st.sampled_from(SPECIAL_VALUES))
    if draw(st.integers(0, 9)) == 0:
        y[:] = draw(st.sampled_from(SPECIAL_VALUES))
    if special:
        for _ in range(draw(st.integers(0, 3))):
            i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))
            X[i, j] = draw(st.sampled_from(SPECIAL_VALUES))
        for _ in range(draw(st.integers(0, 2))):
            y[draw(st.integers(0, n - 1))] = draw(st.sampled_from(SPECIAL_VALUES))
    X[~np.isfinite(X)] = 0.0  # products of the scales above: only finite data here
    y[~np.isfinite(y)] = 0.0
    return np.ascontiguousarray(X), np.ascontiguousarray(y)


@st.composite
def plain_problems(draw: Any, max_n: int = 30, max_d: int = 5) -> Tuple[np.ndarray, np.ndarray]:
    """Ordinary data (standard normal X, a linear y with noise) of random shape."""
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    X = rng.standard_normal((n, d)) * 10.0 ** draw(st.integers(-3, 3))
    y = X @ rng.uniform(-2, 2, size=d) + 0.5 + 0.3 * rng.standard_normal(n)
    return X, y


# -- trainers -------------------------------------------------------------------------------

OPTIMIZERS = ["auto", "gd", "sgd", "momentum", "nesterov", "accelerated", "adam", "adamw",
              "rmsprop", "adagrad"]
SCHEDULES = [None, "inverse_scaling", "step", "exponential", "cosine", "plateau"]


@st.composite
def trainer_settings(draw: Any, n: int, linear: bool = True, max_epochs: int = 40,
                     backends: Tuple[str, ...] = ("cython", "numpy", "python")) -> Dict[str, Any]:
    """Keyword arguments of a Trainer for data of n rows: any optimizer, step, schedule,
    batching, coordinates, loss; epochs bounded so that every backend stays quick."""
    kw: Dict[str, Any] = {"backend": draw(st.sampled_from(backends))}
    kw["loss"] = draw(st.sampled_from([gdcore.MSELoss(), gdcore.MAELoss()]))
    optimizer = draw(st.sampled_from(OPTIMIZERS))
    if optimizer != "auto":
        kw["optimizer"] = optimizer
    if draw(st.booleans()):
        kw["lr"] = draw(st.sampled_from([1e-300, 1e-8, 1e-3, 0.01, 0.1, 1.0, 10.0, 1e300]))
    if optimizer == "auto" and "lr" not in kw and kw["backend"] == "cython" and draw(st.booleans()):
        pass  # the default epoch budget: the certified fits run until they certify
    else:
        kw["epochs"] = draw(st.integers(0, max_epochs))
    if draw(st.booleans()):
        kw["tol"] = draw(st.sampled_from([0.0, 1e-12, 1e-6, 1e-2, 1e300]))
    if draw(st.booleans()):
        kw["batch_size"] = draw(st.integers(1, n))
        kw["random_state"] = draw(st.integers(0, 2 ** 64 + 5))
    if draw(st.integers(0, 3)) == 0:
        kw["schedule"] = draw(st.sampled_from(SCHEDULES))
    if linear and draw(st.integers(0, 3)) == 0:
        kw["precondition"] = draw(st.sampled_from(["standardize", None]))
    return kw


# -- layouts and containers -----------------------------------------------------------------

def _with_offset(a: np.ndarray, offset: int) -> np.ndarray:
    """The values of ``a`` in a read-only buffer starting ``offset`` bytes into a bytes object."""
    return np.frombuffer(b"\0" * offset + a.tobytes(), dtype=a.dtype,
                         offset=offset).reshape(a.shape)


def _read_only(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    out.setflags(write=False)
    return out


def _memmap(a: np.ndarray, directory: str) -> np.ndarray:
    path = os.path.join(directory, f"mm-{a.shape}-{id(a)}.dat")
    mm = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
    mm[...] = a
    mm.flush()
    return np.memmap(path, dtype=a.dtype, mode="r", shape=a.shape)


def _reversed(a: np.ndarray) -> np.ndarray:
    """A view with negative strides on every axis holding ``a``'s values."""
    index = (slice(None, None, -1),) * a.ndim
    return np.ascontiguousarray(a[index])[index]


def _strided(a: np.ndarray) -> np.ndarray:
    """A non-contiguous view (every other element of a doubled buffer) holding ``a``."""
    big = np.repeat(a, 2, axis=-1)
    out = big[..., ::2]
    return np.repeat(out, 3, axis=0)[1::3] if a.ndim == 2 else out


def _nested(a: np.ndarray, kind: type) -> Any:
    listed = a.tolist()
    if kind is tuple:
        return tuple(tuple(row) if isinstance(row, list) else row for row in listed)
    return listed


def _pandas(a: np.ndarray, nullable: bool) -> Any:
    import pandas as pd
    if a.ndim == 1:
        return pd.Series(a, dtype="Float64" if nullable else None)
    frame = pd.DataFrame(a, columns=[f"c{j}" for j in range(a.shape[1])])
    return frame.astype("Float64") if nullable else frame


#: name -> f(values, temporary directory): the same values in another layout or container.
LAYOUTS: Dict[str, Callable[[np.ndarray, str], Any]] = {
    "c": lambda a, tmp: a,
    "fortran": lambda a, tmp: np.asfortranarray(a),
    "negative-strides": lambda a, tmp: _reversed(a),
    "non-contiguous": lambda a, tmp: _strided(a),
    "read-only": lambda a, tmp: _read_only(a),
    "memmap": _memmap,
    "big-endian": lambda a, tmp: a.astype(a.dtype.newbyteorder(">")),
    "unaligned": lambda a, tmp: _with_offset(a, 1),
    "offset-8": lambda a, tmp: _with_offset(a, 8),
    "offset-24": lambda a, tmp: _with_offset(a, 24),
    "list": lambda a, tmp: _nested(a, list),
    "tuple": lambda a, tmp: _nested(a, tuple),
    "pandas": lambda a, tmp: _pandas(a, nullable=False),
    "pandas-nullable": lambda a, tmp: _pandas(a, nullable=True),
    "masked": lambda a, tmp: np.ma.masked_array(a, mask=np.zeros(a.shape, dtype=bool)),
}


# -- inputs are never modified --------------------------------------------------------------

def snapshot(value: Any) -> Any:
    """Everything about ``value`` a call could change: bytes, dtype, shape, strides, flags."""
    if isinstance(value, np.ma.MaskedArray):
        return ("masked", snapshot(np.ma.getdata(value)), snapshot(np.ma.getmaskarray(value)))
    if isinstance(value, np.ndarray):
        flags = value.flags
        return ("array", type(value), value.dtype.str, value.shape, value.strides,
                np.array(value, copy=True).tobytes(), flags.writeable, flags.aligned,
                flags.c_contiguous, flags.f_contiguous, flags.owndata)
    if type(value).__name__ == "DataFrame":
        return ("frame", list(map(str, value.dtypes)), list(value.columns), value.copy(deep=True))
    if type(value).__name__ == "Series":
        return ("series", str(value.dtype), value.copy(deep=True))
    return ("other", copy.deepcopy(value))


def assert_unmodified(before: Any, value: Any) -> None:
    after = snapshot(value)
    if before[0] in ("frame", "series"):
        assert before[:-1] == after[:-1]
        assert before[-1].equals(after[-1])
        return
    assert before == after, "the input was modified"


# -- outcomes -------------------------------------------------------------------------------

#: The arguments a message may name (README, "Inputs are checked ... naming the argument").
ARGUMENT = re.compile(r"\b(X|y|y_true|y_pred|lr|epochs|tol|batch_size|random_state|optimizer|"
                      r"schedule|backend|n_features|layer_sizes|loss|model|precondition|step|"
                      r"dtype|w|b|params)\b")

DOCUMENTED_ERRORS = (ValueError, TypeError, gdcore.DivergenceError)
DOCUMENTED_WARNINGS = (gdcore.ConvergenceWarning, gdcore.ConditioningWarning)


def check_error(exc: BaseException) -> None:
    """A documented exception whose message names the argument at fault."""
    assert isinstance(exc, DOCUMENTED_ERRORS), f"undocumented {type(exc).__name__}: {exc}"
    assert ARGUMENT.search(str(exc)), f"the message names no argument: {exc}"


def check_warnings(caught: List[Any], allowed: Tuple[type, ...] = DOCUMENTED_WARNINGS) -> None:
    stray = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught
             if not issubclass(w.category, allowed)]
    assert not stray, stray
