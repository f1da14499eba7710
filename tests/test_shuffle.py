"""The mini-batch orders ``shuffle="rows" | "blocks" | False``: every row once per epoch,
reproducible from random_state, the same in every backend, carried by continued fits."""

from __future__ import annotations

import numpy as np
import pytest

import gdcore
import gdcore.loop
from gdcore._random import SplitMix64, shuffle_blocks

MODES = ["rows", "blocks", False]
BACKENDS = ["cython", "numpy", "python"]
BATCH = 8


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of 3 batches of the problem below (5 features: 40 bytes a row), so that a
    fit of 100 rows has several blocks and a short last one."""
    monkeypatch.setattr(gdcore.loop, "BLOCK_BYTES", 3 * BATCH * 40)


def problem(n=100, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)


def trainer(shuffle, backend="cython", seed=7, epochs=5, **kwargs):
    return gdcore.Trainer(shuffle=shuffle, backend=backend, random_state=seed, epochs=epochs,
                          batch_size=BATCH, tol=0.0, **kwargs)


def orders(shuffle, backend="cython", seed=7, epochs=5, X=None, y=None):
    """The row order of each epoch of a fit, and its parameters at the end. The order is
    read from the run between epochs: from its stream for "rows", from the Python loop's
    order otherwise; the compiled loop keeps a window of a "blocks" order, so its batches
    are recorded by a run of the same settings (recorded_orders)."""
    X, y = problem() if X is None else (X, y)
    model = gdcore.LinearModel(X.shape[1])
    setup, run, _ = trainer(shuffle, backend, seed, epochs)._start(model, X, y)
    if backend == "cython" and shuffle != "rows":
        seen = recorded_orders(setup.settings, X, y, epochs)[0]
        run.advance(epochs)
        return seen, model.params.copy()
    seen = []
    for _ in range(epochs):
        run.advance(1)
        seen.append((run.stream[1] if shuffle == "rows" else run.run.order).copy())
    return seen, model.params.copy()


class Recorder:
    """A source of rows that holds none in memory: the compiled loop's BlockObjective
    calls it back for every batch, which it records and sums."""

    def __init__(self, X, y):
        from gdcore._dispatch import pass_linear
        self.objective = pass_linear.LinearObjective("mse", 0.0, X, y, 1)
        self.n_rows, self.batches = X.shape[0], []

    def held(self):
        return 0, 0

    def batch_sums(self, params, rows, after=-1):
        self.batches.append(np.array(rows))
        return self.objective.sums(params, rows)

    def sums(self, params, rows=None):  # (also the reference loop's objective)
        if rows is not None:
            self.batches.append(np.array(rows))
        return self.objective.sums(params, rows)


def recorded_orders(settings, X, y, epochs, run=None):
    """The rows each epoch of a compiled run (or of ``run``, the reference loop) of
    ``settings`` visits, batch after batch, and its parameters at the end."""
    from gdcore._runs import Batch, block_objective
    from gdcore.backends.compiled import compiled_run
    from gdcore.loop import new_state
    n, d = X.shape
    source = Recorder(X, y)
    params = gdcore.LinearModel(d).params
    state = new_state(settings, params)
    if run is None:
        batch = Batch(settings.batch_size, d, X.dtype, "mse", 0.0, settings.shuffle is False)
        rows = max(settings.block, settings.batch_size)  # the block a file would hold
        objective = block_objective(source, np.zeros((rows, d)), np.zeros(rows), batch)
        fit = compiled_run(objective, params, state, settings)
    else:
        source.n_params = d + 1
        fit = run(source, params, state, settings)
    fit.advance(epochs)
    seen = np.concatenate(source.batches)
    assert seen.shape == (epochs * n,)
    return list(seen.reshape(epochs, n)), params


def test_block_rows_is_whole_batches_within_the_block_bytes(monkeypatch):
    assert gdcore.loop.block_rows(8, 40) == 24
    assert gdcore.loop.block_rows(32, 10 ** 6) == 32  # at least one batch
    monkeypatch.setattr(gdcore.loop, "BLOCK_BYTES", 1 << 17)
    assert gdcore.loop.block_rows(32, 160) == 800  # 1,000,000 x 20 float64: 125 KiB


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shuffle", MODES)
def test_every_row_exactly_once_per_epoch(shuffle, backend):
    seen, _ = orders(shuffle, backend)
    for order in seen:
        np.testing.assert_array_equal(np.sort(order), np.arange(100))
    if shuffle is False:
        for order in seen:
            np.testing.assert_array_equal(order, np.arange(100))
    else:
        assert not np.array_equal(seen[0], seen[1])  # a new order every epoch


@pytest.mark.parametrize("backend", BACKENDS)
def test_blocks_are_contiguous_rows_in_a_random_order(backend):
    """Each block (24 rows, the last 4) comes whole, its rows shuffled; the blocks'
    order changes from epoch to epoch."""
    seen, _ = orders("blocks", backend)
    sequences = []
    for order in seen:
        blocks = order // 24
        starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])
        assert len(starts) == 5  # each block in one run
        sequences.append(tuple(blocks[starts]))
        for at, end in zip(starts, np.r_[starts[1:], 100]):
            k = blocks[at]
            np.testing.assert_array_equal(np.sort(order[at:end]),
                                          np.arange(24 * k, min(24 * k + 24, 100)))
        assert not all(np.array_equal(order[a:a + 4], np.arange(order[a], order[a] + 4))
                       for a in starts)  # rows shuffled within the blocks
    assert len(set(sequences)) > 1


def test_shuffle_blocks_of_one_row_and_of_all_rows():
    """Blocks of one row shuffle the blocks alone; one block, the rows alone."""
    for block in (1, 10, 100):
        order = np.zeros(10, dtype=np.intp)
        shuffle_blocks(order, block, SplitMix64(3))
        np.testing.assert_array_equal(np.sort(order), np.arange(10))


@pytest.mark.parametrize("shuffle", ["rows", "blocks"])
def test_reproducible_from_random_state_and_different_for_other_seeds(shuffle):
    a, pa = orders(shuffle, seed=7)
    b, pb = orders(shuffle, seed=7)
    c, _ = orders(shuffle, seed=8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(pa, pb)
    assert not any(np.array_equal(x, z) for x, z in zip(a, c))


def test_in_order_ignores_the_seed():
    a, pa = orders(False, seed=7)
    b, pb = orders(False, seed=8)
    np.testing.assert_array_equal(pa, pb)


@pytest.mark.parametrize("shuffle", MODES)
def test_backends_take_the_same_orders_and_steps(shuffle):
    """The row orders bit for bit; the parameters as test_backends_agree holds them."""
    results = {b: orders(shuffle, b) for b in BACKENDS}
    base_orders, base_params = results["cython"]
    for name in ("numpy", "python"):
        seen, params = results[name]
        for x, y in zip(seen, base_orders):
            np.testing.assert_array_equal(x, y, err_msg=name)
        np.testing.assert_allclose(params, base_params, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("shuffle", ["rows", "blocks"])
def test_a_diverged_epoch_leaves_the_stream_where_the_reference_does(shuffle):
    """The compiled loop shuffles each block of "blocks" during the batches of the one
    before; an epoch that blows up part way still takes all its draws, as the
    reference's shuffle at the epoch's start does."""
    X, y = problem()
    streams = {}
    for backend in ("cython", "python"):
        model = gdcore.LinearModel(5)
        run = trainer(shuffle, backend, epochs=5, lr=1e100)._start(model, X, y)[1]  # inf at batch 3
        result = run.advance(5)
        assert result is not None and result.status == "diverged", backend
        streams[backend] = run.stream[0]
    assert streams["cython"] == streams["python"]


def continued(how, shuffle, backend, X, y):
    """A 10-epoch fit in pieces: ten partial_fits, or warm-started fits of 4 and 6 epochs."""
    model = gdcore.LinearModel(5)
    t = trainer(shuffle, backend, epochs=4, optimizer="momentum", warm_start=True)
    if how == "partial_fit":
        t.epochs = 10  # the schedule's horizon
        for _ in range(10):
            t.partial_fit(model, X, y)
    else:
        t.fit(model, X, y)
        t.epochs = 6
        t.fit(model, X, y)
    return model.params


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shuffle", MODES)
def test_continued_fits_are_one_ten_epoch_fit(shuffle, backend, how):
    X, y = problem()
    once = gdcore.LinearModel(5)
    trainer(shuffle, backend, epochs=10, optimizer="momentum").fit(once, X, y)
    np.testing.assert_array_equal(continued(how, shuffle, backend, X, y), once.params)


def test_in_order_after_a_shuffled_fit_starts_from_row_zero():
    """A warm start in order does not keep the shuffled order it was handed (nor carry
    one on: only "rows" epochs reshuffle the last epoch's order)."""
    X, y = problem()
    t = trainer("rows", warm_start=True)
    model = gdcore.LinearModel(5)
    t.fit(model, X, y)
    assert sorted(t._stream.order) == list(range(100))
    for shuffle in (False, "blocks"):
        t.shuffle = shuffle
        t.fit(model, X, y)
        assert t._stream.order is None


@pytest.mark.parametrize("shuffle", ["blocks", False])
@pytest.mark.parametrize("block, batch", [(7, 3), (6, 3), (1, 1), (40, 8)])
def test_the_compiled_loop_visits_the_reference_order(shuffle, block, batch):
    """Over many more rows than its window of the order holds (8 runs of a block and a
    batch, and 64), with blocks that batches straddle (7 rows, batches of 3) and a short
    last one, the compiled loop's batches list the rows the reference loop's do: every
    row once an epoch, each block's rows together, the same steps bit for bit."""
    from dataclasses import replace

    from gdcore.loop import ReferenceRun
    X, y = problem(n=1003)
    setup, _, _ = trainer(shuffle, epochs=3, optimizer="momentum", lr=0.01)._start(
        gdcore.LinearModel(5), X, y)
    settings = replace(setup.settings, batch_size=batch, block=block)
    seen, params = recorded_orders(settings, X, y, 3)
    expected, reference = recorded_orders(settings, X, y, 3, run=ReferenceRun)
    for order, other in zip(seen, expected):
        np.testing.assert_array_equal(order, other)
        np.testing.assert_array_equal(np.sort(order), np.arange(1003))
        if shuffle:
            starts = np.flatnonzero(np.r_[True, np.diff(order // block) != 0])
            assert len(starts) == -(-1003 // block)  # each block in one run
    assert shuffle is False or not np.array_equal(seen[0], seen[1])
    np.testing.assert_array_equal(params, reference)


@pytest.mark.parametrize("shuffle", MODES)
def test_full_batch_fits_ignore_the_order(shuffle):
    X, y = problem()
    a, b = gdcore.LinearModel(5), gdcore.LinearModel(5)
    gdcore.Trainer(shuffle=shuffle, random_state=1).fit(a, X, y)
    gdcore.Trainer(random_state=1).fit(b, X, y)
    np.testing.assert_array_equal(a.params, b.params)


def test_each_order_reaches_least_squares_on_diabetes(monkeypatch):
    """Blocks of 2 batches (7 blocks of diabetes' 442 rows) land as near the
    least-squares answer as reshuffled rows do: the default mini-batch fit
    (momentum, a cosine decay) in 300 epochs."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_diabetes(return_X_y=True)
    monkeypatch.setattr(gdcore.loop, "BLOCK_BYTES", 2 * 32 * X[0].nbytes)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    best = np.linalg.lstsq(A, y, rcond=None)[0]
    least = np.mean((A @ best - y) ** 2)
    for shuffle in MODES:
        model = gdcore.LinearModel(X.shape[1])
        gdcore.Trainer(batch_size=32, epochs=300, tol=0.0, random_state=0,
                       shuffle=shuffle).fit(model, X, y)
        error = np.linalg.norm(model.params - best) / np.linalg.norm(best)
        excess = np.mean((A @ model.params - y) ** 2) / least - 1
        assert error < 0.05 and excess < 1e-3, (shuffle, error, excess)


@pytest.mark.parametrize("bad", ["row", "Blocks", "none", True, None, 0, 1, ["rows"]])
def test_bad_values_are_refused_naming_shuffle(bad):
    with pytest.raises(ValueError, match="shuffle"):
        gdcore.Trainer(shuffle=bad)


@pytest.mark.filterwarnings("ignore:GDRegressor stopped after")
def test_the_sklearn_estimator_maps_its_bool():
    pytest.importorskip("sklearn")
    from gdcore.sklearn import GDRegressor
    X, y = problem()
    fits = {}
    for shuffle in (True, False, "rows", "blocks"):
        est = GDRegressor(batch_size=BATCH, random_state=3, epochs=3, tol=0.0,
                                 shuffle=shuffle).fit(X, y)
        fits[repr(shuffle)] = np.r_[est.coef_, est.intercept_]
        assert est.get_params()["shuffle"] is shuffle or est.get_params()["shuffle"] == shuffle
    np.testing.assert_array_equal(fits["True"], fits["'rows'"])
    assert not np.array_equal(fits["False"], fits["True"])
    assert not np.array_equal(fits["'blocks'"], fits["True"])
    with pytest.raises(ValueError, match="shuffle"):
        GDRegressor(shuffle="sometimes").fit(X, y)


@pytest.mark.parametrize("option,shuffle", [("rows", "rows"), ("blocks", "blocks"),
                                            ("none", False)])
def test_the_command_line_option(option, shuffle, tmp_path, capsys):
    from gdcore.cli import main
    X, y = problem()
    path = tmp_path / "data.csv"
    rows = [",".join(repr(float(v)) for v in (*x, t)) for x, t in zip(X, y)]
    path.write_text("\n".join(["a,b,c,d,e,y"] + rows) + "\n")
    assert main(["fit", str(path), "--target", "y", "--batch-size", str(BATCH), "--seed", "3",
                 "--epochs", "3", "--shuffle", option, "-o", str(tmp_path / "m.gdm")]) == 0
    ref = gdcore.LinearModel(5)
    gdcore.Trainer(batch_size=BATCH, random_state=3, epochs=3, shuffle=shuffle).fit(ref, X, y)
    np.testing.assert_array_equal(gdcore.load(tmp_path / "m.gdm").params, ref.params)
    assert main(["fit", str(path), "--target", "y", "--shuffle", "sometimes", "-o", "m"]) != 0
    assert "--shuffle" in capsys.readouterr().err


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000])
def test_compiled_shuffled_is_shuffle_and_moves_the_stream_on(n):
    """What a dask worker shuffles its chunk with: the Python shuffle's order, and the
    stream left where the Python shuffle leaves it."""
    from gdcore._random import shuffle, shuffled
    a, b = SplitMix64(11), SplitMix64(11)
    order = np.arange(n)
    shuffle(order, a)
    np.testing.assert_array_equal(shuffled(n, b), order)
    assert a.state == b.state
