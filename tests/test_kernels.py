"""The compiled kernel's machinery: ISA variants, widths, threads, the floor.

Every build of the kernel (baseline x86-64, v3, v4) and every code path
(narrow widths compiled as constants, the generic wide loop, one or many
threads) must give the reference answers.
"""

from __future__ import annotations

import numpy as np
import pytest

import gdcore
from gdcore import _dispatch
from gdcore.backends import get_backend
from gdcore.backends._base import MAE, MSE
from helpers import make_problem

VARIANTS = _dispatch.available("_linear")


def fit_with(module, kind, X, y, epochs, lr, batch_size=0, n_threads=1):
    """A fit through one kernel module's run_epochs, returning (history, w, b, report)."""
    n, d = X.shape
    w, b = np.zeros(d, X.dtype), np.zeros(1, X.dtype)
    history, report = np.empty(epochs), np.empty(2)
    status, n_hist = module.run_epochs(
        kind, X, y, w, b, True, lr, epochs, epochs, 0.0, 1e6, batch_size, history, 0,
        np.empty(d, X.dtype), np.full(3, np.nan), np.arange(n if batch_size else 1),
        np.array([7], np.uint64), None, report, n_threads)
    assert n_hist == epochs
    return history, w, b, report


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", [MSE, MAE])
@pytest.mark.parametrize("batch_size", [0, 7, 19])
@pytest.mark.parametrize("d", [1, 6, 8, 10, 13, 16, 20])
def test_every_isa_variant_matches_the_numpy_backend(variant, dtype, kind, batch_size, d):
    """Full batches (contiguous rows: the chunked SIMD pass for 5 to 16 features) and
    mini-batches (listed rows: the whole-vector SIMD pass from 4 or 8 features on)."""
    X, y, _, _ = make_problem(301, d, 1, noise=0.2, dtype=dtype)
    module = _dispatch.load("_linear", variant)
    history, w, b, _ = fit_with(module, kind, X, y, 25, 0.05, batch_size)
    model = gdcore.LinearModel(d, dtype=dtype)
    ref = gdcore.Trainer(loss=gdcore.MSELoss() if kind == MSE else gdcore.MAELoss(), lr=0.05,
                         epochs=25, tol=0.0, batch_size=batch_size or None, random_state=7,
                         backend="numpy").fit(model, X, y)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(history, ref.loss, rtol=rtol)
    np.testing.assert_allclose(w, model.w, rtol=rtol, atol=rtol)
    assert b[0] == pytest.approx(model.b, rel=rtol, abs=rtol)


WIDTHS = list(range(1, 17)) + [17, 20, 33, 40, 64, 65, 80]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("d", WIDTHS)
@pytest.mark.parametrize("n", [1003, 1, 2, 3, 9])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_width_gives_the_reference_gradient(variant, d, n, dtype):
    """Every build, every code path: one feature (two interleaved halves), 2 to 4 (loops
    specialised at compile time), 5 to 16 (the SIMD pass of _simd.h, whose blocks of 2, 4
    or 8 rows leave remainders for n = 1003, 9, 3), 17 to 64 (rows read padded to a
    multiple of 8 values, but for the last rows, whose padding would run past X: hence
    the tiny n) and wider (the generic loop)."""
    module = _dispatch.load("_linear", variant)
    rng = np.random.default_rng(d)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    w = rng.standard_normal(d).astype(dtype)
    for kind in (MSE, MAE):
        loss, gw, gb = module.loss_grad(kind, X, y, w, 0.3)
        X64, r = X.astype(np.float64), X.astype(np.float64) @ w.astype(np.float64) + 0.3 - y
        slope = 2 * r if kind == MSE else np.sign(r)
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        assert loss == pytest.approx(np.mean(r * r if kind == MSE else np.abs(r)), rel=rtol)
        np.testing.assert_allclose(gw, X64.T @ slope / n, rtol=rtol * 10, atol=rtol)
        assert gb == pytest.approx(slope.mean(), rel=rtol * 10, abs=rtol)


def test_threads_give_bit_identical_results():
    """Rows are summed per fixed chunk and chunks in order: the thread count cannot show."""
    X, y, _, _ = make_problem(20_000, 5, 3, noise=0.5)  # five chunks of 4096 rows
    results = []
    for n_jobs in (1, 2, 3, 1, 2):
        model = gdcore.LinearModel(5)
        hist = gdcore.Trainer(lr=0.05, epochs=30, tol=0.0, n_jobs=n_jobs).fit(model, X, y)
        results.append((hist.loss, model.w.copy(), model.b, hist.final_loss))
    for loss, w, b, final in results[1:]:
        np.testing.assert_array_equal(loss, results[0][0])
        np.testing.assert_array_equal(w, results[0][1])
        assert b == results[0][2] and final == results[0][3]


def test_threads_in_the_loss_gradient_pass():
    X, y, _, _ = make_problem(10_000, 3, 4, noise=0.5)
    w = np.array([0.1, -0.2, 0.3])
    one = gdcore._dispatch.linear.loss_grad(MSE, X, y, w, 0.5, 1)
    two = gdcore._dispatch.linear.loss_grad(MSE, X, y, w, 0.5, 2)
    assert one[0] == two[0] and one[2] == two[2]
    np.testing.assert_array_equal(one[1], two[1])


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2", None])
def test_n_jobs_is_validated(bad):
    with pytest.raises(ValueError, match="n_jobs"):
        gdcore.Trainer(n_jobs=bad)


def test_n_jobs_minus_one_means_every_core():
    assert gdcore.Trainer(n_jobs=-1).n_jobs >= 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_floor_reads_every_value(dtype):
    X = np.random.default_rng(0).standard_normal((1001, 7)).astype(dtype)
    total = gdcore._dispatch.linear.read_floor(X, 3)
    assert total == pytest.approx(3 * X.astype(np.float64).sum(), rel=1e-4, abs=1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_floor_in_a_given_row_order_reads_every_value(dtype):
    X = np.random.default_rng(1).standard_normal((1001, 7)).astype(dtype)
    order = np.random.default_rng(2).permutation(1001)
    total = gdcore._dispatch.linear.read_floor(X, 2, order)
    assert total == pytest.approx(2 * X.astype(np.float64).sum(), rel=1e-4, abs=1e-3)


@pytest.mark.parametrize("order", [np.arange(1000), np.arange(1, 1002), -np.arange(1001)])
def test_read_floor_rejects_an_order_that_is_not_of_the_rows(order):
    with pytest.raises(ValueError, match="order"):
        gdcore._dispatch.linear.read_floor(np.zeros((1001, 3)), 1, order.astype(np.intp))


def test_dispatch_picks_a_variant_the_cpu_runs():
    assert VARIANTS[0] == "baseline"
    level = gdcore._linear.cpu_level()
    assert all(_dispatch.LEVELS[v] <= max(level, 1) for v in VARIANTS)
    assert _dispatch.chosen("_linear") in VARIANTS


def test_dispatch_rejects_an_unknown_forced_variant(monkeypatch):
    monkeypatch.setenv("GDCORE_ISA", "v9")
    with pytest.raises(ValueError, match="GDCORE_ISA"):
        _dispatch.chosen("_linear")


@pytest.mark.parametrize("d", [5, 7, 10, 13, 16, 17, 20, 33, 64])
@pytest.mark.parametrize("n", [1, 2, 3, 50])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_are_never_read_outside_X(d, n, dtype):
    """X is a view between NaNs: a padded or vector read past either end would turn the
    result NaN (0 * NaN), so the answer must equal the one from a standalone copy of X."""
    rng = np.random.default_rng(n * d)
    buffer = np.full(n * d + 256, np.nan, dtype=dtype)
    buffer[128:128 + n * d] = rng.standard_normal(n * d)
    X = buffer[128:128 + n * d].reshape(n, d)
    assert X.flags.c_contiguous and not X.flags.owndata
    y = rng.standard_normal(n).astype(dtype)
    w = rng.standard_normal(d).astype(dtype)
    loss, gw, gb = gdcore._dispatch.linear.loss_grad(MSE, X, y, w, 0.25)
    ref = gdcore._dispatch.linear.loss_grad(MSE, X.copy(), y, w, 0.25)
    assert np.isfinite(loss) and np.all(np.isfinite(gw))
    assert loss == ref[0] and gb == ref[2]
    np.testing.assert_array_equal(gw, ref[1])


GUARDED_FITS = r'''
import ctypes, mmap, sys
import numpy as np
from gdcore import _dispatch

PAGE = mmap.PAGESIZE
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
maps = []


def before_a_guard_page(values):
    """A copy of ``values`` whose last byte is followed by a page no one may touch."""
    nbytes = values.nbytes
    pages = (nbytes + PAGE - 1) // PAGE
    mm = mmap.mmap(-1, (pages + 1) * PAGE)
    maps.append(mm)
    base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
    if libc.mprotect(base + pages * PAGE, PAGE, 0):  # PROT_NONE
        raise OSError(ctypes.get_errno(), "mprotect failed")
    out = np.frombuffer(mm, dtype=values.dtype, count=values.size,
                        offset=pages * PAGE - nbytes).reshape(values.shape)
    out[...] = values
    return out


rng = np.random.default_rng(0)
for variant in sys.argv[1:]:
    module = _dispatch.load("_linear", variant)
    for dtype in (np.float64, np.float32):
        for d in (1, 3, 6, 10, 16, 20, 40):
            n = 301
            X = before_a_guard_page(rng.standard_normal((n, d)).astype(dtype))
            y = before_a_guard_page(rng.standard_normal(n).astype(dtype))
            for batch_size in (0, 1, 7, 32, n):
                order = before_a_guard_page(np.arange(n if batch_size else 1, dtype=np.intp))
                w, b = np.zeros(d, dtype), np.zeros(1, dtype)
                module.run_epochs(0, X, y, w, b, True, 1e-3, 3, 3, 0.0, 1e6, batch_size,
                                  np.empty(3), 0, np.empty(d, dtype), np.full(3, np.nan),
                                  order, np.array([5], np.uint64), None, np.empty(2), 1)
                assert np.all(np.isfinite(w)), (variant, dtype, d, batch_size)
print("ok")
'''


@pytest.mark.skipif(not hasattr(__import__("mmap"), "PROT_READ"), reason="needs POSIX mmap")
def test_no_kernel_reads_past_X_y_or_the_row_order(tmp_path):
    """X, y and the mini-batch order each end just before a PROT_NONE page: one read past
    any of them (a padded row, a vector, a prefetch distance gone past the order) is a
    segmentation fault of the child process, on every ISA build."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", GUARDED_FITS, *VARIANTS],
                          capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)  # (not the source tree: the installed gdcore)
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stderr[-2000:])
