"""Shared set-up for the gdcore benchmarks (pytest-benchmark).

Run from the repository root:

    python -m pytest bench -q --benchmark-columns=median,iqr,rounds --benchmark-group-by=group
    python -m pytest bench --benchmark-disable -q     # smoke run: each benchmark once (CI)
    python -m pytest bench --bench-all ...            # also the tests marked ``slow``

Threads: BLAS and OpenMP are pinned to one thread (DESIGN.md, "How performance
is measured"). The environment variables only work if they are set before the
libraries load, so they are set as this file is imported, before it imports
numpy. If numpy was loaded before that (say, by another plugin or test
directory in the same run), threadpoolctl is used to set the limit at run time,
but only if it is installed. It is never required. The header of the run says
which of these happened. The same information goes into the ``machine_info``
of ``--benchmark-json`` files.
"""

from __future__ import annotations

import os
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

NUMPY_LOADED_FIRST = "numpy" in sys.modules
for _var in THREAD_VARS:
    os.environ[_var] = "1"

import numpy as np  # noqa: E402  (after the thread pinning above, on purpose)
import pytest  # noqa: E402

try:  # optional: detected at run time, never required
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - depends on the environment
    threadpool_info = threadpool_limits = None

# Keep a reference to the limiter: the limits hold for the whole run.
_THREADPOOL_LIMITER = threadpool_limits(limits=1) if threadpool_limits is not None else None


def thread_report() -> dict:
    """How threads were pinned for this run (goes into the header and the JSON)."""
    report = {var: os.environ.get(var) for var in THREAD_VARS}
    report["numpy_loaded_before_pinning"] = NUMPY_LOADED_FIRST
    if threadpool_info is None:
        report["threadpoolctl"] = "not installed"
    else:
        report["threadpoolctl"] = [
            {"api": p.get("internal_api"), "num_threads": p.get("num_threads")}
            for p in threadpool_info()
        ]
    return report


# --------------------------------------------------------------------- options

def pytest_addoption(parser):
    parser.addoption("--bench-all", action="store_true", default=False,
                     help="gdcore bench: also run the benchmarks marked 'slow' (several seconds each)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a large benchmark (more than about 2 s); skipped unless --bench-all is given")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--bench-all"):
        return
    skip_slow = pytest.mark.skip(reason="slow benchmark: pass --bench-all to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def pytest_report_header(config):
    r = thread_report()
    pinned = ", ".join(f"{v}={r[v]}" for v in THREAD_VARS)
    lines = [f"gdcore bench threads: {pinned}; threadpoolctl: {r['threadpoolctl']}"]
    if r["numpy_loaded_before_pinning"] and threadpool_limits is None:
        lines.append("gdcore bench WARNING: numpy was imported before bench/conftest.py and "
                     "threadpoolctl is not installed, so BLAS may not be pinned to 1 thread "
                     "(run `python -m pytest bench` on its own)")
    return lines


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["gdcore_threads"] = thread_report()


# ------------------------------------------------------------------------ data

#: Noise added to y: small, so a converged fit lands close to w_true.
NOISE = 0.01
#: The true intercept.
B_TRUE = 0.5

_DATA_CACHE: dict = {}


def make_data(n_samples: int, n_features: int, dtype=np.float64):
    """``(X, y, w_true, b_true)`` for one size: X standard normal, y = X w_true + b + noise.

    The seed depends only on the shape, so every backend and both dtypes see
    the same numbers (float32 data is the float64 data rounded). Arrays are
    C-contiguous and already of ``dtype``, so a fit does not copy them. They are
    cached for the whole run and must not be written to.
    """
    dtype = np.dtype(dtype)
    key = (n_samples, n_features)
    if key not in _DATA_CACHE:
        rng = np.random.default_rng([20240601, n_samples, n_features])
        X = rng.standard_normal((n_samples, n_features))
        w_true = rng.uniform(-2.0, 2.0, size=n_features)
        y = X @ w_true + B_TRUE + NOISE * rng.standard_normal(n_samples)
        _DATA_CACHE[key] = {"base": (X, y, w_true)}
    entry = _DATA_CACHE[key]
    if dtype not in entry:
        X, y, w_true = entry["base"]
        Xd = np.ascontiguousarray(X, dtype=dtype)
        yd = np.ascontiguousarray(y, dtype=dtype)
        Xd.flags.writeable = False
        yd.flags.writeable = False
        entry[dtype] = (Xd, yd)
    Xd, yd = entry[dtype]
    return Xd, yd, entry["base"][2], B_TRUE


@pytest.fixture(scope="session")
def data():
    """The data factory: ``data(n_samples, n_features, dtype) -> (X, y, w_true, b_true)``."""
    return make_data
