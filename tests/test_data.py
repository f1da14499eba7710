""".npy files streamed from disk (gdcore.data): the in-memory fit's numbers, bit for bit,
with bounded memory; clear errors for files that cannot be fitted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gdcore
import gdcore.data
import gdcore.loop
from gdcore.data import open_npy
from gdcore.errors import NotSupportedError
from helpers import assert_warm_start_continues


#: A block of 2 runs of 4,096 rows of 20 float64 features (the tests' files span several).
SMALL_BLOCK = 2 * 4096 * 20 * 8


def problem(n, d, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) * np.linspace(1.0, 30.0, d) + 5.0).astype(dtype)
    y = (X @ np.linspace(-1.0, 1.0, d) + 0.5 + 0.1 * rng.standard_normal(n)).astype(dtype)
    return X, y


@pytest.fixture
def files(tmp_path):
    def save(X, y):
        np.save(tmp_path / "X.npy", X)
        np.save(tmp_path / "y.npy", y)
        return open_npy(tmp_path / "X.npy"), open_npy(tmp_path / "y.npy")
    return save


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(gdcore.data, "BLOCK_BYTES", SMALL_BLOCK)


def fit_both(X, y, Xf, yf, dtype=np.float64, **kw):
    d = X.shape[1]
    memory, disk = gdcore.LinearModel(d, dtype=dtype), gdcore.LinearModel(d, dtype=dtype)
    h_memory = gdcore.Trainer(**kw).fit(memory, X, y)
    h_disk = gdcore.Trainer(**kw).fit(disk, Xf, yf)
    return (memory, h_memory), (disk, h_disk)


@pytest.mark.parametrize("d", [3, 20, 70])  # narrow, padded rows (17..64), wide
@pytest.mark.parametrize("kw", [{}, {"optimizer": "momentum"},
                                {"lr": 1e-4, "epochs": 20, "tol": 0.0}],
                         ids=["default", "momentum", "plain"])
def test_streamed_fit_equals_in_memory_bit_for_bit(files, monkeypatch, d, kw):
    monkeypatch.setattr(gdcore.data, "BLOCK_BYTES", 2 * 4096 * d * 8)  # 2 runs a block
    X, y = problem(30_000 + 123, d)  # several blocks, and a short last run
    (memory, h_memory), (disk, h_disk) = fit_both(X, y, *files(X, y), **kw)
    assert h_disk.n_epochs == h_memory.n_epochs > 1
    assert np.array_equal(disk.params, memory.params)
    assert np.array_equal(h_disk.loss, h_memory.loss)


def test_blocks_narrower_than_a_run(files, monkeypatch):
    """A block smaller than 4,096 rows: shorter runs, equal to rounding."""
    monkeypatch.setattr(gdcore.data, "BLOCK_BYTES", 1000 * 30 * 8)
    X, y = problem(10_000, 30)
    (memory, _), (disk, _) = fit_both(X, y, *files(X, y), optimizer="momentum")
    np.testing.assert_allclose(disk.params, memory.params, rtol=1e-12)


def test_float32_and_converted_files(files, small_blocks):
    X, y = problem(20_000, 20, np.float32)
    (memory, _), (disk, _) = fit_both(X, y, *files(X, y), dtype=np.float32)
    assert np.array_equal(disk.params, memory.params)
    # a float64 file fitted in float32 is converted block by block, as in memory
    X64, y64 = problem(20_000, 20)
    (memory, _), (disk, _) = fit_both(X64, y64, *files(X64, y64), dtype=np.float32)
    assert np.array_equal(disk.params, memory.params)


def test_no_intercept_and_raw_step(files, small_blocks):
    X, y = problem(10_000, 5)
    Xf, yf = files(X, y)
    memory, disk = (gdcore.LinearModel(5, fit_intercept=False) for _ in range(2))
    gdcore.Trainer().fit(memory, X, y)
    gdcore.Trainer().fit(disk, Xf, yf)
    assert np.array_equal(disk.params, memory.params)
    # precondition=None, lr="auto": the raw Gram matrix summed per block (equal to rounding)
    (memory, _), (disk, _) = fit_both(X, y, Xf, yf, precondition=None, epochs=30, tol=0.0)
    np.testing.assert_allclose(disk.params, memory.params, rtol=1e-12)


def test_y_in_memory_and_one_feature(files):
    X, y = problem(5_000, 1)
    Xf, yf = files(X[:, 0], y)  # a 1-D X file is one feature, as in memory
    (memory, _), (disk, _) = fit_both(X, y, Xf, y)
    assert np.array_equal(disk.params, memory.params)
    (_, _), (disk, _) = fit_both(X, y, Xf, yf)
    assert np.array_equal(disk.params, memory.params)


def test_gdregressor_fits_files(files, monkeypatch):
    pytest.importorskip("sklearn")
    from gdcore.sklearn import GDRegressor
    monkeypatch.setattr(gdcore.data, "BLOCK_BYTES", 2 * 4096 * 4 * 8)  # several blocks
    X, y = problem(30_000, 4)
    Xf, yf = files(X, y)
    memory, disk = GDRegressor().fit(X, y), GDRegressor().fit(Xf, yf)
    np.testing.assert_array_equal(disk.coef_, memory.coef_)
    assert disk.intercept_ == memory.intercept_ and disk.n_features_in_ == 4
    np.testing.assert_array_equal(disk.predict(Xf), memory.predict(X))  # read in blocks
    with pytest.raises(ValueError, match="X.npy.*has 4 features.*expecting 3"):
        GDRegressor().fit(X[:, :3], y).predict(Xf)
    with pytest.raises(NotSupportedError, match="^dtype"):
        GDRegressor(dtype="float32").fit(Xf, yf)


def test_open_npy_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        open_npy(tmp_path / "missing.npy")
    (tmp_path / "text.npy").write_text("not an array")
    with pytest.raises(ValueError, match="text.npy.*not a readable .npy"):
        open_npy(tmp_path / "text.npy")
    np.save(tmp_path / "ints.npy", np.arange(6).reshape(3, 2))
    with pytest.raises(TypeError, match="ints.npy.*float32 or float64"):
        open_npy(tmp_path / "ints.npy")
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.ones((3, 2))))
    with pytest.raises(ValueError, match="fortran.npy.*Fortran order"):
        open_npy(tmp_path / "fortran.npy")
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="cube.npy.*3-D"):
        open_npy(tmp_path / "cube.npy")
    np.save(tmp_path / "empty.npy", np.ones((0, 2)))
    with pytest.raises(ValueError, match="empty.npy.*empty"):
        open_npy(tmp_path / "empty.npy")
    np.save(tmp_path / "big_endian.npy", np.ones(3, dtype=">f8"))
    with pytest.raises(TypeError, match="big_endian.npy.*byte order"):
        open_npy(tmp_path / "big_endian.npy")
    np.save(tmp_path / "cut.npy", np.ones((100, 2)))
    with open(tmp_path / "cut.npy", "r+b") as f:
        f.truncate(os.path.getsize(tmp_path / "cut.npy") - 8)
    with pytest.raises(ValueError, match="cut.npy.*truncated"):
        open_npy(tmp_path / "cut.npy")


def test_fit_errors(files, tmp_path):
    X, y = problem(1_000, 3)
    X[700, 1] = np.nan
    Xf, yf = files(X, y)
    with pytest.raises(ValueError, match=r"X \('.*X.npy'\) contains NaN.*rows 0 to 999"):
        gdcore.Trainer().fit(gdcore.LinearModel(3), Xf, yf)
    X[700, 1] = 0.0
    Xf, yf = files(X, y)
    np.save(tmp_path / "short.npy", y[:10])
    with pytest.raises(ValueError, match="different lengths"):
        gdcore.Trainer().fit(gdcore.LinearModel(3), Xf, open_npy(tmp_path / "short.npy"))
    with pytest.raises(ValueError, match="n_features=4"):
        gdcore.Trainer().fit(gdcore.LinearModel(4), Xf, yf)
    with pytest.raises(NotSupportedError, match="^shuffle: .*'blocks' or shuffle=False"):
        gdcore.Trainer(batch_size=32).fit(gdcore.LinearModel(3), Xf, yf)  # "rows"
    with pytest.raises(NotSupportedError, match="^model.*MLP"):
        gdcore.Trainer().fit(gdcore.MLP([3, 4, 1]), Xf, yf)
    with pytest.raises(NotSupportedError, match="^early_stopping"):
        gdcore.Trainer(early_stopping=True).fit(gdcore.LinearModel(3), Xf, yf)
    with pytest.raises(NotSupportedError, match="^X.*partial_fit"):
        gdcore.Trainer().partial_fit(gdcore.LinearModel(3), Xf, yf)
    with pytest.raises(NotSupportedError, match="^optimizer"):
        gdcore.Trainer(loss=gdcore.MAELoss()).fit(gdcore.LinearModel(3), Xf, yf)


@pytest.mark.parametrize("batch,shuffle", [(None, False), (32, "blocks"), (32, False)])
def test_warm_start_continues_as_one_fit(files, small_blocks, batch, shuffle):
    assert_warm_start_continues(*files(*problem(20_000 + 123, 20)), batch, shuffle)


# -- mini-batches: blocks of the file in a random order (or in order), rows shuffled within

def mini_batch_both(X, y, Xf, yf, monkeypatch, batch, shuffle, **kw):
    """The in-memory fit with the file's blocks (the most whole batches within its buffer
    of runs of 4,096 rows) and the file's."""
    row_bytes = X.shape[1] * X.itemsize
    runs = gdcore.data.BLOCK_BYTES // (4096 * row_bytes)
    monkeypatch.setattr(gdcore.loop, "BLOCK_BYTES", runs * 4096 * row_bytes)
    kw = dict(batch_size=batch, shuffle=shuffle, random_state=5, epochs=4, tol=0.0, **kw)
    return fit_both(X, y, Xf, yf, X.dtype, **kw)


@pytest.mark.parametrize("d", [3, 20])  # 20: rows read padded, but X's last row
@pytest.mark.parametrize("batch", [32, 100, 5000])  # 100: batches straddle the short block
@pytest.mark.parametrize("shuffle", ["blocks", False])
@pytest.mark.parametrize("kw", [{}, {"optimizer": "adam", "lr": 0.01}], ids=["default", "adam"])
def test_mini_batch_fit_equals_in_memory_bit_for_bit(files, monkeypatch, d, batch, shuffle, kw):
    monkeypatch.setattr(gdcore.data, "BLOCK_BYTES", 2 * 4096 * d * 8)  # blocks of 8,192 rows
    X, y = problem(30_000 + 123, d)  # 3 or 6 blocks, the last short
    (memory, h_memory), (disk, h_disk) = mini_batch_both(X, y, *files(X, y), monkeypatch,
                                                         batch, shuffle, **kw)
    assert h_disk.n_epochs == h_memory.n_epochs == 4 and h_disk.lr == h_memory.lr
    assert np.array_equal(disk.params, memory.params)
    assert np.array_equal(h_disk.loss, h_memory.loss)
    # the full pass after the epochs (their blocks overwrote the full passes' buffer)
    assert (h_disk.final_loss, h_disk.grad_norm) == (h_memory.final_loss, h_memory.grad_norm)


def test_mini_batch_float32_and_raw_step(files, monkeypatch, small_blocks):
    X, y = problem(20_000, 20, np.float32)
    (memory, _), (disk, _) = mini_batch_both(X, y, *files(X, y), monkeypatch, 64, "blocks")
    assert np.array_equal(disk.params, memory.params)
    # precondition=None, lr="auto": the raw Gram matrix summed per block (equal to rounding),
    # the rows' largest norm the compiled pass's, row for row
    X, y = problem(20_000, 5)
    (memory, h_memory), (disk, h_disk) = mini_batch_both(X, y, *files(X, y), monkeypatch,
                                                         32, False, precondition=None)
    assert h_disk.lr == pytest.approx(h_memory.lr, rel=1e-12)
    np.testing.assert_allclose(disk.params, memory.params, rtol=1e-10)


def test_mini_batch_larger_than_the_buffer(files, monkeypatch):
    """A batch larger than the buffer (1,000 rows of float64 here, 2,000 of float32):
    blocks of one batch, in a buffer of their own (and its staging, for the float64 file
    fitted in float32). Full passes run in shorter runs here, equal to rounding (the
    default fit's statistics): Adam, whose steps read only the batches."""
    monkeypatch.setattr(gdcore.data, "BLOCK_BYTES", 1000 * 20 * 8)
    X, y = problem(10_000 + 7, 20)
    Xf, yf = files(X, y)
    for dtype in (np.float64, np.float32):
        monkeypatch.setattr(gdcore.loop, "BLOCK_BYTES", 2500 * 20 * np.dtype(dtype).itemsize)
        kw = dict(batch_size=2500, shuffle="blocks", random_state=2, epochs=3, tol=0.0,
                  optimizer="adam", lr=0.01)
        (memory, _), (disk, _) = fit_both(X.astype(dtype), y.astype(dtype), Xf, yf, dtype,
                                          **kw)
        assert np.array_equal(disk.params, memory.params), dtype


def test_mini_batch_reads_each_block_once_per_epoch(files, monkeypatch, small_blocks):
    """Every row once per epoch, each block read once (in a new order each epoch), one
    block's buffer, the kernel asked for the block read next; reproducible from
    random_state."""
    X, y = problem(30_000 + 123, 20)
    Xf, yf = files(X, y)
    events = []
    load, read = gdcore.data.FileData._load, gdcore.data._Reader.read
    monkeypatch.setattr(gdcore.data.FileData, "_load",
                        lambda self, k, *a: events.append(("load", k)) or load(self, k, *a))
    monkeypatch.setattr(gdcore.data._Reader, "read",
                        lambda self, start, views, staging, ahead=(0, 0): (
                            events.append(("read", ahead)) if self.name == "X" else None)
                        or read(self, start, views, staging, ahead))
    gdcore.Trainer(batch_size=32, shuffle="blocks", random_state=5, epochs=3, tol=0.0).fit(
        gdcore.LinearModel(20), Xf, yf)
    block = 8192  # the most whole batches of 32 in 2 runs of 4,096 rows
    loads = [k for what, k in events if what == "load"]
    asked = [events[i + 1][1] for i, (what, _) in enumerate(events) if what == "load"]
    assert len(loads) == 12
    for e in range(3):
        order = loads[4 * e:4 * e + 4]
        # each block but the epoch's last asks for the next (the next epoch's is not drawn)
        assert asked[4 * e:4 * e + 3] == [(k * block, min(block, 30_123 - k * block))
                                          for k in order[1:]], (order, asked)
    loads = []
    monkeypatch.setattr(gdcore.data.FileData, "_load",
                        lambda self, k, *a: loads.append(k) or load(self, k, *a))
    fits = []
    for seed in (5, 5, 6):
        loads.clear()
        model = gdcore.LinearModel(20)
        gdcore.Trainer(batch_size=32, shuffle="blocks", random_state=seed, epochs=3,
                       tol=0.0).fit(model, Xf, yf)
        fits.append((model.params, list(loads)))
    epochs = [fits[0][1][k * 4:(k + 1) * 4] for k in range(3)]
    assert len(fits[0][1]) == 12 and all(sorted(e) == [0, 1, 2, 3] for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1
    assert np.array_equal(fits[0][0], fits[1][0]) and fits[0][1] == fits[1][1]
    assert not np.array_equal(fits[0][0], fits[2][0])
    loads.clear()
    gdcore.Trainer(batch_size=32, shuffle=False, epochs=2).fit(gdcore.LinearModel(20), Xf, yf)
    assert loads == [0, 1, 2, 3] * 2


def test_mini_batch_reaches_least_squares(files, small_blocks):
    X, y = problem(30_000, 5)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    best = np.linalg.lstsq(A, y, rcond=None)[0]
    least = np.mean((A @ best - y) ** 2)
    for shuffle in ("blocks", False):  # the default mini-batch fit: momentum, a cosine decay
        model = gdcore.LinearModel(5)
        gdcore.Trainer(batch_size=64, shuffle=shuffle, epochs=30, random_state=0).fit(
            model, *files(X, y))
        error = np.linalg.norm(model.params - best) / np.linalg.norm(best)
        excess = np.mean((A @ model.params - y) ** 2) / least - 1
        assert error < 1e-2 and excess < 3e-2, (shuffle, error, excess)  # noise: 0.1


def test_mini_batch_refusals(files):
    Xf, yf = files(*problem(1_000, 3))
    with pytest.raises(NotSupportedError, match="^shuffle: .*shuffle='rows'.*'blocks'"):
        gdcore.Trainer(batch_size=32, shuffle="rows").fit(gdcore.LinearModel(3), Xf, yf)
    with pytest.raises(NotSupportedError, match="^early_stopping"):
        gdcore.Trainer(batch_size=32, shuffle="blocks", early_stopping=True).fit(
            gdcore.LinearModel(3), Xf, yf)
    with pytest.raises(NotSupportedError, match="^X.*partial_fit"):
        gdcore.Trainer(batch_size=32, shuffle="blocks").partial_fit(gdcore.LinearModel(3),
                                                                    Xf, yf)
    with pytest.raises(NotSupportedError, match="^model.*MLP"):
        gdcore.Trainer(batch_size=32, shuffle="blocks").fit(gdcore.MLP([3, 4, 1]), Xf, yf)
    with pytest.raises(ValueError, match="batch_size must be at most"):
        gdcore.Trainer(batch_size=2_000, shuffle="blocks").fit(gdcore.LinearModel(3), Xf, yf)



def test_mini_batches_within_a_block_are_summed_in_the_compiled_loop(files, monkeypatch,
                                                                     small_blocks):
    """Python is called back for the full passes and for a batch that needs a block read
    (or holds X's last row): a few times an epoch, not once a batch."""
    X, y = problem(30_000 + 123, 20)  # 4 blocks of 8,192 rows, the last short
    Xf, yf = files(X, y)
    calls = {"sums": 0, "batch_sums": 0}
    for name in calls:
        method = getattr(gdcore.data.FileData, name)
        monkeypatch.setattr(gdcore.data.FileData, name,
                            lambda self, *a, _m=method, _n=name: calls.update(
                                {_n: calls[_n] + 1}) or _m(self, *a))
    for shuffle in ("blocks", False):
        calls.update(sums=0, batch_sums=0)
        gdcore.Trainer(optimizer="sgd", lr=1e-4, batch_size=32, shuffle=shuffle, epochs=3,
                       tol=0.0, random_state=1).fit(gdcore.LinearModel(20), Xf, yf)
        assert calls["sums"] == 2  # the loss at the start, the gradient at the end
        # each block's first batch, one batch across two blocks past the short one, X's
        # last row, in each of 3 epochs (of 942 batches)
        assert 3 * 4 <= calls["batch_sums"] <= 3 * (2 * 4 + 1), (shuffle, calls)


@pytest.mark.parametrize("batch,method,error", [
    (None, "sums", OSError(5, "Input/output error")),
    (32, "_load", OSError(5, "Input/output error")),
    (32, "_load", KeyboardInterrupt())])
def test_a_failure_while_reading_is_raised(files, monkeypatch, small_blocks, batch, method,
                                           error):
    """What the file's reads raise inside the compiled loop's epochs (a disk error, Ctrl-C)
    ends the fit and is raised as it is: not a divergence, not a fitted model."""
    X, y = problem(30_000 + 123, 20)
    Xf, yf = files(X, y)
    original, calls = getattr(gdcore.data.FileData, method), []

    def failing(self, *args):
        calls.append(1)
        if len(calls) == 6:  # in the second epoch (a mini-batch fit's, or a full pass)
            raise error
        return original(self, *args)
    monkeypatch.setattr(gdcore.data.FileData, method, failing)
    trainer = gdcore.Trainer(optimizer="sgd", lr=1e-4, batch_size=batch, shuffle="blocks",
                             epochs=10, tol=0.0)
    with pytest.raises(type(error)) as raised:
        trainer.fit(gdcore.LinearModel(20), Xf, yf)
    assert raised.value is error and len(calls) == 6  # no read after it
    monkeypatch.setattr(gdcore.data.FileData, method, original)
    model = gdcore.LinearModel(20)
    assert trainer.fit(model, Xf, yf).n_epochs == 10 and np.isfinite(model.params).all()


def test_block_objective_refuses_objectives_of_another_buffer():
    from gdcore._dispatch import pass_linear
    X, y, batch_X, batch_y = np.zeros((10, 3)), np.zeros(10), np.zeros((5, 3)), np.zeros(5)
    source = type("Source", (), {"n_rows": 100})()
    ok = pass_linear.LinearObjective("mse", 0.0, batch_X, batch_y)
    pass_linear.BlockObjective(source, X, y, batch_X, batch_y, ok)
    for shuffled, in_order in [
            (pass_linear.LinearObjective("mse", 0.0, batch_X.copy(), batch_y), None),
            (pass_linear.LinearObjective("mse", 0.0, batch_X[:4], batch_y[:4]), None),
            (ok, pass_linear.LinearObjective("mse", 0.0, batch_X.copy(), batch_y))]:
        with pytest.raises(ValueError, match="must sum the batch buffer"):
            pass_linear.BlockObjective(source, X, y, batch_X, batch_y, shuffled, in_order)
    with pytest.raises(ValueError, match="of the objectives' dtype"):
        pass_linear.BlockObjective(source, X.astype(np.float32), y, batch_X, batch_y, ok)

RSS_CHILD = textwrap.dedent("""
    import sys, numpy as np, gdcore, gdcore.data
    from gdcore.data import open_npy
    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    gdcore.data.BLOCK_BYTES = 16 << 20
    Xf, yf = open_npy(sys.argv[1]), open_npy(sys.argv[2])
    model = gdcore.LinearModel(Xf.shape[1])
    batch = None if sys.argv[3] == "full" else int(sys.argv[3])
    before = hwm()
    gdcore.Trainer(optimizer="accelerated" if batch is None else "momentum", epochs=3,
                   tol=0.0, batch_size=batch, shuffle="blocks").fit(model, Xf, yf)
    print(before, hwm(), model.params[0])
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's VmHWM")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer's allocator holds freed blocks in quarantine: "
                           "resident memory does not measure the reader there")
@pytest.mark.parametrize("batch", ["full", "4096"])
def test_resident_memory_stays_bounded(tmp_path, batch):
    """A 200 MB file fitted with a 16 MB block: the peak resident memory of the fitting
    process grows by well under the file's size (a memmap's would grow by all of it); its
    mini-batches read their blocks into the same buffer (and keep a row order, 10 MB)."""
    n, d = 1_250_000, 20
    X = np.lib.format.open_memmap(tmp_path / "X.npy", "w+", np.float64, (n, d))
    rng = np.random.default_rng(0)
    for lo in range(0, n, 250_000):
        X[lo:lo + 250_000] = rng.standard_normal((250_000, d))
    np.save(tmp_path / "y.npy", X[:, 0] - 2.0 * X[:, 1])
    X.flush()
    del X
    out = subprocess.run([sys.executable, "-c", RSS_CHILD, str(tmp_path / "X.npy"),
                          str(tmp_path / "y.npy"), batch], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(gdcore.__file__)))
    before, after, _ = out.stdout.split()
    file_bytes = n * d * 8
    # the 16 MB block of X and its runs of y (a memmap of the file: +212 MB)
    # measured: +20 MB full batch, +31 MB mini-batch (batch 4096 or 32)
    assert int(after) - int(before) < file_bytes / 5, (before, after)


def test_disk_benchmark_tiny(tmp_path, capsys):
    from gdcore.benchmarks import disk
    assert disk.main(size_gb=0.004, json_path=str(tmp_path / "disk.json"),
                     folder=str(tmp_path), epochs=2) == 0
    out = capsys.readouterr().out
    assert "epoch / dd" in out and "peak resident memory" in out
    assert "gdcore batch-32 epoch 2 (X, y)" in out and "batch-32 epoch / dd" in out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("gdcore-disk-")]  # deleted
    assert disk.main(size_gb=1e6, folder=str(tmp_path)) == 1  # more than the disk holds
    assert "do not fit" in capsys.readouterr().err


def test_bench_size_goes_with_disk():
    from gdcore.cli import main
    assert main(["bench", "--size", "1"]) == 2
