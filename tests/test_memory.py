"""No copy of the user's X: a C-contiguous float64 X is read in place.

NumPy reports its data allocations to tracemalloc, so a copy of a 16 MB X
would show up as a 16 MB peak.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import gdcore

N, D = 200_000, 10


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    y = X @ np.linspace(-1.0, 1.0, D) + 0.5 + 0.1 * rng.standard_normal(N)
    assert X.flags.c_contiguous and X.nbytes == 16_000_000
    return X, y


def peak_during_fit(X, y, dtype, backend, **kw):
    model = gdcore.LinearModel(D, dtype=dtype)
    trainer = gdcore.Trainer(epochs=3, tol=0.0, backend=backend, **kw)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        trainer.fit(model, X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.all(np.isfinite(model.w)) and np.any(model.w != 0.0)
    return peak


@pytest.mark.parametrize("lr", ["auto", 0.1])
def test_cython_fit_does_not_copy_X(big, lr):
    X, y = big
    peak = peak_during_fit(X, y, np.float64, "cython", lr=lr)
    assert peak < X.nbytes / 100, peak  # under 160 kB (measured ~4 kB); a copy of X is 16 MB


def test_cython_mini_batch_does_not_copy_X(big):
    X, y = big
    peak = peak_during_fit(X, y, np.float64, "cython", batch_size=1000, random_state=0)
    # the row order (n intp = 1.6 MB) is the only O(n) buffer
    assert peak < X.nbytes / 5, peak


@pytest.mark.parametrize("shuffle", ["blocks", False])
def test_cython_mini_batch_in_blocks_or_in_order_keeps_no_row_order(big, shuffle):
    """"blocks" keeps a window of its order (8 runs of a block and a batch: 13,376
    entries, 107 kB, at 10 doubles a row and batch 32); in order, none. The whole
    order would be 1.6 MB."""
    X, y = big
    peak = peak_during_fit(X, y, np.float64, "cython", batch_size=32, shuffle=shuffle,
                           random_state=0)
    assert peak < X.nbytes / 100, peak


def test_numpy_backend_does_not_copy_X(big):
    X, y = big
    peak = peak_during_fit(X, y, np.float64, "numpy")
    # length-N temporaries (1.6 MB each) are expected, a 16 MB copy of X is not
    assert peak < X.nbytes / 2, peak


def test_measurement_sees_a_conversion(big):
    """The check can fail: a float32 model must convert X, and that 8 MB copy is seen."""
    X, y = big
    peak = peak_during_fit(X, y, np.float32, "cython")
    assert peak >= X.nbytes / 2
    Xf = np.asfortranarray(X)  # not C-contiguous: converted once, a full 16 MB copy
    peak = peak_during_fit(Xf, y, np.float64, "cython")
    assert peak >= X.nbytes


@pytest.mark.parametrize("batch_size", [None, 1000])
def test_a_memory_mapped_x_is_read_in_place_with_the_same_fit(big, tmp_path, batch_size):
    """X in a .npy file, mapped read-only (np.load(..., mmap_mode="r")): the fit reads the
    file's pages in place, no copy, and lands bit for bit where the in-memory fit does."""
    X, y = big
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable
    kwargs = dict(batch_size=batch_size, random_state=0)
    peak = peak_during_fit(mapped, y, np.float64, "cython", **kwargs)
    assert peak < X.nbytes / 5, peak  # the mini-batch order (1.6 MB) at most; X is 16 MB
    fits = []
    for data in (X, mapped):
        model = gdcore.LinearModel(D)
        gdcore.Trainer(epochs=3, tol=0.0, **kwargs).fit(model, data, y)
        fits.append(model.params)
    np.testing.assert_array_equal(fits[1], fits[0])
