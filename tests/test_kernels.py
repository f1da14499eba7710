"""The compiled kernels' machinery: ISA variants, widths, threads, the floor.

Every build of the row pass (baseline x86-64, v3, v4) and every code path
(narrow widths compiled as constants, the SIMD pass, padded rows, the
generic wide loop, one or many threads) must give the reference answers.
"""

from __future__ import annotations

import numpy as np
import pytest

import gdcore
from gdcore import _dispatch, _util
from gdcore.backends import get_backend
from gdcore.loop import Settings, StopRule, new_state
from gdcore.optim import SGD, Constant
from helpers import make_problem

VARIANTS = _dispatch.available("_pass_linear")
LOSSES = {"mse": gdcore.MSELoss(), "mae": gdcore.MAELoss()}


def fit_with(module, loss, X, y, epochs, lr, batch_size=0, n_threads=1):
    """Plain steps through one build's LinearObjective and the compiled loop: (history, params)."""
    n, d = X.shape
    objective = module.LinearObjective(loss.kind, loss.param, X, y, n_threads)
    params = np.zeros(d + 1, X.dtype)
    settings = Settings(optimizer=SGD(lr), lr=lr, schedule=Constant(), epochs=epochs,
                        batch_size=batch_size or None, seed=7, n_free=d + 1,
                        stop=StopRule(abs_tol=0.0))
    fit = get_backend("cython").start(objective, params, new_state(settings, params), settings)
    result = fit.advance(epochs)
    assert result is not None and result.n_epochs == epochs
    return result.loss, params


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["mse", "mae"])
@pytest.mark.parametrize("batch_size", [0, 7, 19])
@pytest.mark.parametrize("d", [1, 6, 8, 10, 13, 16, 20])
def test_every_isa_variant_matches_the_numpy_backend(variant, dtype, kind, batch_size, d):
    """Full batches (contiguous rows: the chunked SIMD pass for 5 to 16 features) and
    mini-batches (listed rows: the whole-vector SIMD pass from 4 or 8 features on)."""
    X, y, _, _ = make_problem(301, d, 1, noise=0.2, dtype=dtype)
    module = _dispatch.load("_pass_linear", variant)
    history, params = fit_with(module, LOSSES[kind], X, y, 25, 0.05, batch_size)
    model = gdcore.LinearModel(d, dtype=dtype)
    ref = gdcore.Trainer(loss=LOSSES[kind], lr=0.05, epochs=25, tol=0.0,
                         batch_size=batch_size or None, random_state=7,
                         backend="numpy").fit(model, X, y)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(history, ref.loss, rtol=rtol)
    np.testing.assert_allclose(params[:-1], model.w, rtol=rtol, atol=rtol)
    assert params[-1] == pytest.approx(model.b, rel=rtol, abs=rtol)


def reference_sums(loss, X, y, params):
    """The loss and gradient sums in float64, written out with NumPy."""
    X64 = X.astype(np.float64)
    r = X64 @ params[:-1].astype(np.float64) + float(params[-1]) - y.astype(np.float64)
    slope = loss.slopes(r)
    return float(loss.terms(r).sum()), np.append(X64.T @ slope, slope.sum())


WIDTHS = list(range(1, 17)) + [17, 20, 24, 25, 33, 40, 64, 65, 80]


HUBER = gdcore.HuberLoss(0.7)
SMOOTH = gdcore.losses.SmoothedMAE(0.4)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("d", WIDTHS)
@pytest.mark.parametrize("n", [1003, 1, 2, 3, 9])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_width_gives_the_reference_gradient(variant, d, n, dtype):
    """Every build, every code path: one feature (two interleaved halves), 2 to 4 (loops
    specialised at compile time), 5 to 16 (the SIMD pass of _simd.h, whose blocks of 2, 4
    or 8 rows leave remainders for n = 1003, 9, 3), 17 to 24 in float32 (its SIMD pass
    of 8 rows at a time, three vectors of 8 values a row), 17 to 64 (rows read padded
    to a multiple of 8 values, but for the last rows, whose padding would run past X:
    hence the tiny n) and wider (the generic loop)."""
    module = _dispatch.load("_pass_linear", variant)
    rng = np.random.default_rng(d)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    params = np.append(rng.standard_normal(d), 0.3).astype(dtype)
    rows = rng.permutation(n)[:max(1, n // 2)]
    for loss in (gdcore.MSELoss(), gdcore.MAELoss(), HUBER, SMOOTH):
        objective = module.LinearObjective(loss.kind, loss.param, X, y)
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        for listed in (None, rows):  # contiguous rows, and a mini-batch of listed rows
            total, grad = objective.sums(params, listed)
            if listed is None:  # and the loss alone, as the loop asks for its reference
                assert objective.loss_sum(params) == total
            sub = slice(None) if listed is None else listed
            ref_total, ref_grad = reference_sums(loss, X[sub], y[sub], params)
            scale = max(1.0, ref_total)
            assert total == pytest.approx(ref_total, rel=rtol, abs=rtol * scale), loss
            np.testing.assert_allclose(grad, ref_grad, rtol=rtol * 10, atol=rtol * 10 * scale)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_floor_reads_every_value(dtype):
    X = np.random.default_rng(0).standard_normal((1001, 7)).astype(dtype)
    total = _dispatch.floor.read_floor(X, 3)
    assert total == pytest.approx(3 * X.astype(np.float64).sum(), rel=1e-4, abs=1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_floor_in_a_given_row_order_reads_every_value(dtype):
    X = np.random.default_rng(1).standard_normal((1001, 7)).astype(dtype)
    order = np.random.default_rng(2).permutation(1001)
    total = _dispatch.floor.read_floor(X, 2, order)
    assert total == pytest.approx(2 * X.astype(np.float64).sum(), rel=1e-4, abs=1e-3)


@pytest.mark.parametrize("order", [np.arange(1000), np.arange(1, 1002), -np.arange(1001)])
def test_read_floor_rejects_an_order_that_is_not_of_the_rows(order):
    with pytest.raises(ValueError, match="order"):
        _dispatch.floor.read_floor(np.zeros((1001, 3)), 1, order.astype(np.intp))


@pytest.mark.parametrize("kernel,prefetch", [("_floor", "prefetcht0"),
                                              ("_pass_linear", "prefetcht0"),
                                              ("_pass_linear", "prefetcht1"),
                                              ("_loop", "prefetcht1"),
                                              ("_loop", "prefetcht0"),
                                              ("_scan", "prefetcht1")])
def test_the_built_kernels_keep_their_prefetches(kernel, prefetch):
    """The mini-batch passes ask for rows ahead (prefetcht0) and for the next block of
    shuffle="blocks" as they go (prefetcht1, Rows.sweep), the epoch loop warms that
    block's targets (prefetcht1) and asks for the entries its reshuffle swaps
    (prefetcht0, _rng.pxd's shuffle), and the centred Gram matrix asks for its next
    block of rows (prefetcht1, _gram.h): instructions an optimiser is free to delete
    (GCC 12 did, see src/_prefetch.h), so read them in the built modules."""
    import platform
    import shutil
    import subprocess
    if platform.machine() not in ("x86_64", "AMD64") or shutil.which("objdump") is None:
        pytest.skip("reads x86-64 disassembly with objdump")
    for variant in ("", "_v3", "_v4"):
        try:
            module = _dispatch.load(kernel, variant)
        except ImportError:
            continue  # a variant this build left out
        text = subprocess.run(["objdump", "-d", module.__file__], capture_output=True,
                              text=True, check=True).stdout
        assert prefetch in text, (kernel + variant, prefetch)


def test_dispatch_picks_a_variant_the_cpu_runs():
    assert VARIANTS[0] == "baseline"
    level = _util.cpu_level()
    assert all(_dispatch.LEVELS[v] <= max(level, 1) for v in VARIANTS)
    assert _dispatch.chosen("_pass_linear") in VARIANTS


def test_dispatch_rejects_an_unknown_forced_variant(monkeypatch):
    monkeypatch.setenv("GDCORE_ISA", "v9")
    with pytest.raises(ValueError, match="GDCORE_ISA"):
        _dispatch.chosen("_pass_linear")


@pytest.mark.parametrize("d", [5, 7, 10, 13, 16, 17, 20, 24, 33, 64])
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
    params = np.append(rng.standard_normal(d), 0.25).astype(dtype)
    loss, grad = _dispatch.pass_linear.LinearObjective("mse", 0.0, X, y).sums(params)
    ref = _dispatch.pass_linear.LinearObjective("mse", 0.0, X.copy(), y).sums(params)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert loss == ref[0]
    np.testing.assert_array_equal(grad, ref[1])


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
    module = _dispatch.load("_pass_linear", variant)
    for dtype in (np.float64, np.float32):
        for d in (1, 3, 6, 10, 16, 20, 40):
            n = 301
            X = before_a_guard_page(rng.standard_normal((n, d)).astype(dtype))
            y = before_a_guard_page(rng.standard_normal(n).astype(dtype))
            params = before_a_guard_page(rng.standard_normal(d + 1).astype(dtype))
            for loss in ("mse", "mae", "huber", "smooth_mae"):
                objective = module.LinearObjective(loss, 0.5, X, y)
                assert np.isfinite(objective.sums(params)[0])
                order = before_a_guard_page(rng.permutation(n).astype(np.intp))
                for batch_size in (1, 7, 32, n):
                    for first in range(0, n, batch_size):
                        count = min(batch_size, n - first)
                        total, grad = objective.batch_sums(params, order, first, count)
                        assert np.all(np.isfinite(grad)), (variant, dtype, d, batch_size)
print("ok")
'''


@pytest.mark.skipif(not hasattr(__import__("mmap"), "PROT_READ"), reason="needs POSIX mmap")
def test_no_kernel_reads_past_X_y_or_the_row_order(tmp_path):
    """X, y, the parameters and the mini-batch order each end just before a PROT_NONE
    page: one read past any of them (a padded row, a vector, a prefetch distance gone
    past the order) is a segmentation fault of the child process, on every ISA build
    and every loss."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", GUARDED_FITS, *VARIANTS],
                          capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)  # (not the source tree: the installed gdcore)
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stderr[-2000:])


SCANS = _dispatch.available("_scan")


def power_of_two_below(top):
    """column_scan's magnitudes, from the columns' largest |values| ``top``."""
    exponent = np.frexp(top)[1] - 1
    return np.where(top == 0, 1.0, np.ldexp(1.0, np.maximum(exponent, -1022)))


@pytest.mark.parametrize("variant", SCANS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 5, 64, 65, 150])
def test_column_scan_against_numpy(variant, dtype, d):
    """Standardising's scan: the magnitudes (the power of two at or below each column's
    largest |value|, 1 for zero columns), means and centred sums of squares of the
    columns in units of those magnitudes, at any scale (subnormal data included); the
    largest values are taken 64 columns at a time (hence the widths)."""
    scan = _dispatch.load("_scan", variant)
    rng = np.random.default_rng(5)
    X = (rng.standard_normal((1000, d)) * np.resize([1.0, 1e-3, 1e3, 0.0, 1.0], d)
         + np.resize([0, 0, 5, 0, 2], d))
    factors = [1e300, 1e-300, 1e-315] if dtype == np.float64 else [1e30, 1e-30, 1e-40]
    for Xs in (X, *(X * f for f in factors)):  # the last one subnormal
        Xs = np.ascontiguousarray(Xs, dtype=dtype)
        top = np.abs(Xs.astype(np.float64)).max(axis=0)
        big, mean, squares = scan.column_scan(Xs, True, True)
        np.testing.assert_array_equal(big, power_of_two_below(top))
        assert np.all((top < 2 * big) & ((top >= big) | (top == 0) | (top < 2.0 ** -1022)))
        unit = Xs.astype(np.float64) / big  # exact: big is a power of two
        np.testing.assert_allclose(mean, unit.mean(axis=0), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(squares, ((unit - unit.mean(axis=0)) ** 2).sum(axis=0),
                                   rtol=1e-12, atol=1e-12)
        _, no_mean, no_squares = scan.column_scan(Xs, False)
        assert not no_mean.any() and not no_squares.any()


@pytest.mark.parametrize("variant", SCANS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, d", [(1, 1), (128, 3), (257, 7), (1000, 12), (4097, 20),
                                  (9000, 5), (300, 37)])
def test_centred_gram_against_numpy(variant, dtype, n, d):
    """The centred Gram matrix in units of the column_scan's magnitudes, unweighted and
    weighted, over whole and partial blocks of rows and tiles of columns, symmetric
    to the last bit; magnitudes that are not powers of two are refused."""
    scan = _dispatch.load("_scan", variant)
    rng = np.random.default_rng(n + d)
    X = np.ascontiguousarray(rng.standard_normal((n, d)) * np.logspace(-3, 3, d) + 7.0,
                             dtype=dtype)
    weights = rng.uniform(0.1, 2.0, n)
    weights *= n / weights.sum()
    big, mean, _ = scan.column_scan(X, True)
    U = X.astype(np.float64) / big - mean
    for w in (None, weights):
        gram = scan.centred_gram(X, big, mean, w)
        ref = U.T @ (U if w is None else U * w[:, None])
        np.testing.assert_allclose(gram, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
        np.testing.assert_array_equal(gram, gram.T)
    with pytest.raises(ValueError, match="one value per column"):
        scan.centred_gram(X, big[:-1], mean)
    with pytest.raises(ValueError, match="powers of two"):
        scan.centred_gram(X, big * 1.5, mean)
    with pytest.raises(ValueError, match="powers of two"):
        scan.run_sums(X, big * 0.0, mean, False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 6, 20, 37])
def test_every_scan_build_gives_the_same_bits(dtype, d):
    """The scans sum in row order, one product and one addition a term, whatever the
    vector width: every ISA build's magnitudes, means, squares and Gram matrix are
    the baseline's to the last bit (weighted too)."""
    rng = np.random.default_rng(d)
    X = np.ascontiguousarray(rng.standard_normal((5000, d)) * 3 + 1, dtype=dtype)
    w = rng.uniform(0.5, 1.5, 5000)
    w *= 5000 / w.sum()
    results = []
    for variant in SCANS:
        scan = _dispatch.load("_scan", variant)
        big, mean, squares = scan.column_scan(X, True, True, w)
        results.append((big, mean, squares, scan.centred_gram(X, big, mean, w),
                        scan.run_sums(X, big, mean, True)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 6, 20])
def test_partial_sums_of_rows_held_apart_add_up_to_the_whole(dtype, d):
    """The partials that blocks of rows held elsewhere compute (gdcore/_runs.py, the
    shards of gdcore/dask.py), added in row order, give the whole X's numbers bit for
    bit: column_scan's means, centred_gram's matrix and the pass's sums."""
    from gdcore import _runs
    scan = _dispatch.scan
    rng = np.random.default_rng(d)
    n = 3 * 4096 + 77
    X = np.ascontiguousarray(rng.standard_normal((n, d)) * 3 + 1, dtype=dtype)
    y = np.ascontiguousarray(rng.standard_normal(n), dtype=dtype)
    big, mean, _ = scan.column_scan(X, True)
    parts = [_runs.run_sums(X[lo:lo + 8192], big, 0.0, False) for lo in (0, 8192)]
    np.testing.assert_array_equal(_runs.in_order(parts) / n, mean)
    gram = np.zeros((d, d))
    for lo in (0, 4096, 8192):
        for part in _runs.centred_grams(X[lo:lo + 4096 if lo < 8192 else n], big, mean):
            gram += part
    np.testing.assert_array_equal(gram, scan.centred_gram(X, big, mean))
    params = rng.standard_normal(d + 1).astype(dtype)
    objective = _dispatch.pass_linear.LinearObjective("mse", 0.0, X, y)
    loss, grad = objective.sums(params)
    chunks = objective.chunk_sums(params)
    assert chunks.shape == (4, d + 2)
    total = _runs.in_order([chunks])
    assert total[-1] == loss
    np.testing.assert_array_equal(total[:-1], grad)
    # the rows after a block are read as in the whole X: its partials are the whole's
    np.testing.assert_array_equal(objective.chunk_sums(params, 4096, 8192), chunks[1:3])
    with pytest.raises(ValueError, match="first and count"):
        objective.chunk_sums(params, 0, n + 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_constant_loss_is_the_loss_of_one_prediction(dtype):
    from gdcore import _util
    y = np.random.default_rng(3).standard_normal(501).astype(dtype)
    for loss in (gdcore.MSELoss(), gdcore.MAELoss(), HUBER):
        c = 0.25
        assert _util.constant_loss(loss.kind, loss.param, y, c) == pytest.approx(
            float(np.mean(loss.terms(c - y.astype(np.float64)))), rel=1e-13)
