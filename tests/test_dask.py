"""Fits of dask arrays on a 2-worker LocalCluster equal the in-memory fits.

Bit for bit when every chunk but the last has a multiple of 4,096 rows (the
kernel's summation chunk, src/_pass_linear.pyx), else to rounding; errors
for what the cluster path does not take. Skipped without dask and distributed.
"""

from __future__ import annotations

import dataclasses
import gc

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import gdcore  # noqa: E402
import gdcore.dask  # noqa: E402
import gdcore.loop  # noqa: E402
from gdcore import precondition, strategy  # noqa: E402
from gdcore.errors import NotSupportedError  # noqa: E402
from child import run_child  # noqa: E402
from helpers import assert_warm_start_continues  # noqa: E402

ALIGNED, UNALIGNED = 8192, 5000
N = 4096 * 3 + 123  # a short last chunk either way


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def problem(d, dtype=np.float64, n=N, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d) + 3).astype(dtype)
    y = (X @ rng.normal(size=d) + 0.5 + rng.normal(size=n)).astype(dtype)
    return X, y


def on_cluster(X, y, chunks):
    return da.from_array(X, chunks=(chunks, -1)), da.from_array(y, chunks=chunks)


def both(trainer, X, y, chunks, fit_intercept=True):
    """(in-memory model, history), (dask model, history)."""
    out = []
    for data in ((X, y), on_cluster(X, y, chunks)):
        model = gdcore.LinearModel(X.shape[1], dtype=X.dtype, fit_intercept=fit_intercept)
        out.append((model, trainer.fit(model, *data)))
    return out


def assert_same(a, b):
    (m1, h1), (m2, h2) = a, b
    np.testing.assert_array_equal(m2.params, m1.params)
    np.testing.assert_array_equal(h2.loss, h1.loss)
    assert (h2.n_epochs, h2.status) == (h1.n_epochs, h1.status)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("d", [1, 3, 7, 20])  # 20: the padded rows of the pass
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_default_fit_bit_for_bit(client, dtype, d, fit_intercept):
    X, y = problem(d, dtype)
    assert_same(*both(gdcore.Trainer(), X, y, ALIGNED, fit_intercept))


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "nesterov", "accelerated", "adam",
                                       "adamw", "rmsprop", "adagrad"])
def test_every_optimizer_bit_for_bit(client, optimizer):
    X, y = problem(5)
    assert_same(*both(gdcore.Trainer(optimizer=optimizer, epochs=15, tol=0.0), X, y, ALIGNED))


@pytest.mark.parametrize("batch_size", [None, 512])
def test_calls_through_the_scheduler_bit_for_bit(client, monkeypatch, batch_size):
    """ROUND_TRIP="futures" (tasks through the scheduler, what gdcore bench --dask
    measures beside the actors): the same set-up, epochs and numbers."""
    X, y = problem(20)
    trainer = gdcore.Trainer(batch_size=batch_size, shuffle="blocks", epochs=5, random_state=0)
    fits = []
    for via in ("actors", "futures"):
        monkeypatch.setattr(gdcore.dask, "ROUND_TRIP", via)
        model = gdcore.LinearModel(20)
        fits.append((model, trainer.fit(model, *on_cluster(X, y, ALIGNED))))
    assert_same(*fits)


def test_raw_coordinates_and_mae_bit_for_bit(client):
    X, y = problem(4)
    assert_same(*both(gdcore.Trainer(lr=1e-4, epochs=15, tol=0.0), X, y, 4096))
    assert_same(*both(gdcore.Trainer(loss=gdcore.MAELoss(), optimizer="accelerated",
                                     epochs=15, tol=0.0), X, y, ALIGNED))


@pytest.mark.parametrize("d", [3, 20])
def test_other_chunks_within_1e12(client, d):
    X, y = problem(d)
    for trainer in (gdcore.Trainer(optimizer="adam", epochs=20, tol=0.0), gdcore.Trainer()):
        (m1, h1), (m2, h2) = both(trainer, X, y, UNALIGNED)
        assert np.linalg.norm(m2.params - m1.params) <= 1e-12 * np.linalg.norm(m1.params)
        np.testing.assert_allclose(h2.loss, h1.loss, rtol=1e-12)


@pytest.mark.parametrize("d,n,chunks", [(1, N, 4096), (6, N, 4096), (20, N, 8192), (260, 700, 256)])
def test_statistics_equal_in_memory(client, d, n, chunks):
    """The default fit's change of variables and y's scales, reduced over the chunks."""
    from gdcore.dask import DaskData
    X, y = problem(d, n=n)
    data = DaskData(*on_cluster(X, y, chunks), np.float64, gdcore.MSELoss())
    for intercept in (True, False):
        a, b = precondition.standardize(X, intercept), data.standardize(data, intercept)
        for field in ("mean", "scale", "eigenvalues", "gram", "constant"):
            np.testing.assert_array_equal(getattr(b, field), getattr(a, field), err_msg=field)
    assert data.target_stats(data) == strategy._target_stats(y)
    mean = strategy._target_stats(y)[0]
    assert data.trivial_loss(gdcore.MSELoss(), data, mean) == pytest.approx(
        strategy._trivial_loss(gdcore.MSELoss(), y, mean), rel=1e-13)


def test_numpy_y_and_one_feature(client):
    X, y = problem(1)
    model = gdcore.LinearModel(1)
    gdcore.Trainer().fit(model, da.from_array(X[:, 0], chunks=ALIGNED), y)
    ref = gdcore.LinearModel(1)
    gdcore.Trainer().fit(ref, X, y)
    np.testing.assert_array_equal(model.params, ref.params)


def test_callback_stops_as_in_memory(client):
    X, y = problem(3)
    stop = lambda epoch, loss, model: epoch == 3  # noqa: E731
    trainer = gdcore.Trainer(optimizer="adam", epochs=50, tol=0.0)
    runs = []
    for data in ((X, y), on_cluster(X, y, ALIGNED)):
        model = gdcore.LinearModel(3)
        runs.append((model, trainer.fit(model, *data, callback=stop)))
    assert_same(*runs)
    assert runs[1][1].n_epochs == 3


def test_bad_input(client):
    X, y = problem(3)
    Xd, yd = on_cluster(X, y, ALIGNED)
    fit = gdcore.Trainer().fit
    with pytest.raises(ValueError, match="different lengths"):
        fit(gdcore.LinearModel(3), Xd, y[:-1])
    with pytest.raises(ValueError, match="different lengths"):
        fit(gdcore.LinearModel(3), Xd, yd[:-5])
    with pytest.raises(ValueError, match="unknown size.*compute_chunk_sizes"):
        fit(gdcore.LinearModel(3), Xd[Xd[:, 0] > 0], yd)
    with pytest.raises(ValueError, match="3 features"):
        fit(gdcore.LinearModel(4), Xd, yd)
    bad = X.copy()
    bad[9000, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN.*rows 8192 to"):
        fit(gdcore.LinearModel(3), da.from_array(bad, chunks=(ALIGNED, -1)), yd)
    with pytest.raises(ValueError, match="y must be 1-D"):
        fit(gdcore.LinearModel(3), Xd, da.stack([yd, yd], axis=1))
    with pytest.raises(TypeError, match="X must be numeric"):
        fit(gdcore.LinearModel(3), Xd.astype(str), yd)


def test_not_supported(client):
    X, y = problem(3)
    Xd, yd = on_cluster(X, y, ALIGNED)
    with pytest.raises(NotSupportedError, match="^shuffle: .*'rows'.*'blocks' or shuffle=False"):
        gdcore.Trainer(batch_size=32).fit(gdcore.LinearModel(3), Xd, yd)  # shuffle="rows"
    with pytest.raises(NotSupportedError, match="^model: "):
        gdcore.Trainer().fit(gdcore.MLP([3, 4, 1]), Xd, yd)
    with pytest.raises(NotSupportedError, match="^optimizer: .*MAE"):
        gdcore.Trainer(loss=gdcore.MAELoss()).fit(gdcore.LinearModel(3), Xd, yd)
    with pytest.raises(NotSupportedError, match="^optimizer: .*Huber"):
        gdcore.Trainer(loss=gdcore.HuberLoss()).fit(gdcore.LinearModel(3), Xd, yd)
    with pytest.raises(NotSupportedError, match="^optimizer: .*L1"):
        gdcore.Trainer(penalty="l1", alpha=0.1).fit(gdcore.LinearModel(3), Xd, yd)
    with pytest.raises(NotSupportedError, match="^early_stopping: "):
        gdcore.Trainer(early_stopping=True).fit(gdcore.LinearModel(3), Xd, yd)
    with pytest.raises(NotSupportedError, match="^X: .*partial_fit"):
        gdcore.Trainer().partial_fit(gdcore.LinearModel(3), Xd, yd)


def test_penalties_and_huber_with_an_optimizer_bit_for_bit(client):
    """The penalty's proximal steps and the Huber loss run on the client's loop as in memory."""
    for trainer in (gdcore.Trainer(penalty="l2", alpha=0.5),
                    gdcore.Trainer(penalty="elasticnet", alpha=0.3, optimizer="accelerated"),
                    gdcore.Trainer(loss=gdcore.HuberLoss(0.5), optimizer="accelerated")):
        assert_same(*both(trainer, *problem(3), ALIGNED))


def test_shards_released(client):
    def held(dask_worker):
        return len(dask_worker.data)
    X, y = problem(3)
    Xd, yd = on_cluster(X, y, ALIGNED)
    before = sum(client.run(held).values())
    gdcore.Trainer().fit(gdcore.LinearModel(3), Xd, yd)
    gc.collect()
    distributed.wait([])  # let the release messages reach the scheduler
    import time
    deadline = time.monotonic() + 10
    while sum(client.run(held).values()) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sum(client.run(held).values()) <= before


def test_gdcore_does_not_import_dask(tmp_path):
    """In a child that imports the gdcore under test (not the checkout's uncompiled
    folder, which a child started in the checkout would find first)."""
    code = ("import sys, gdcore, gdcore.trainer, gdcore.sklearn, gdcore.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed'}))")
    out = run_child(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_gdregressor(client, dtype):
    pytest.importorskip("sklearn")
    from gdcore.sklearn import GDRegressor
    X, y = problem(4)
    ref = GDRegressor(dtype=dtype).fit(X, y)
    est = GDRegressor(dtype=dtype).fit(*on_cluster(X, y, ALIGNED))
    # y's (and float32 X's) mean and scale are dask's sums, not NumPy's: both fits meet
    # tol (1e-6 float64, 1e-4 float32) from slightly different data, not bit for bit
    rtol = 1e-5 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=rtol)
    assert est.intercept_ == pytest.approx(ref.intercept_, rel=rtol)
    assert est.n_features_in_ == 4
    predicted = est.predict(da.from_array(X, chunks=(ALIGNED, -1)))
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), est.predict(X))
    with pytest.raises(ValueError, match="expecting 4 features"):
        est.predict(da.from_array(X[:, :3], chunks=(ALIGNED, -1)))


def test_without_a_client(monkeypatch):
    def no_client():
        raise ValueError("No clients found")
    monkeypatch.setattr(distributed, "get_client", no_client)
    X, y = problem(2, n=100)
    with pytest.raises(ValueError, match="needs a dask.distributed Client.*scheduler-address"):
        gdcore.Trainer().fit(gdcore.LinearModel(2), *on_cluster(X, y, 50))


def test_unusable_start_as_in_memory(client):
    X, y = problem(3)
    y = y * 1e200  # its squares overflow: no fit can start
    messages = []
    for data in ((X, y), on_cluster(X, y, ALIGNED)):
        with pytest.raises(ValueError, match="the loss is inf") as err:
            gdcore.Trainer(optimizer="gd", epochs=5).fit(gdcore.LinearModel(3), *data)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_divergence_as_in_memory(client):
    X, y = problem(3)
    errors = []
    for data in ((X, y), on_cluster(X, y, ALIGNED)):
        with pytest.raises(gdcore.DivergenceError) as err:
            gdcore.Trainer(lr=1.0, epochs=50).fit(gdcore.LinearModel(3), *data)
        errors.append(err.value)
    np.testing.assert_array_equal(errors[1].history.loss, errors[0].history.loss)
    # the step it suggests: from the raw Gram matrix, summed per chunk on the cluster
    assert errors[1].suggested_lr == pytest.approx(errors[0].suggested_lr, rel=1e-12)


def test_any_chunking_of_columns_and_y(client):
    """X chunked across its columns and y chunked otherwise are rechunked like X's rows."""
    X, y = problem(3)
    ref = gdcore.LinearModel(3)
    gdcore.Trainer().fit(ref, X, y)
    model = gdcore.LinearModel(3)
    gdcore.Trainer().fit(model, da.from_array(X, chunks=(ALIGNED, 2)),
                         da.from_array(y, chunks=3000))
    np.testing.assert_array_equal(model.params, ref.params)


# -- mini-batches: the chunks one after the other, each chunk's batches on its worker

MB_CHUNK, MB_N = 8192, 3 * 8192 + 4096  # a short last chunk, of whole batches of 32


def mini_batch(X, y, chunks, monkeypatch=None, **kw):
    """(in-memory model, history) with blocks of ``chunks`` rows, (dask model, history)."""
    if monkeypatch is not None:
        monkeypatch.setattr(gdcore.loop, "BLOCK_BYTES", chunks * X[0].nbytes)
    kw = dict(dict(batch_size=32, random_state=4, epochs=3, tol=0.0), **kw)
    return both(gdcore.Trainer(**kw), X, y, chunks)


@pytest.mark.parametrize("d", [3, 20])
@pytest.mark.parametrize("shuffle", ["blocks", False])
@pytest.mark.parametrize("kw", [{"optimizer": "momentum", "lr": 1e-3},
                                {"optimizer": "adam", "lr": 0.01}], ids=["momentum", "adam"])
def test_mini_batch_equals_in_memory_blocks_bit_for_bit(client, monkeypatch, d, shuffle, kw):
    """Chunks of whole batches are the in-memory fit's blocks: the same steps, bit for bit."""
    X, y = problem(d, n=MB_N)
    assert_same(*mini_batch(X, y, MB_CHUNK, monkeypatch, shuffle=shuffle, **kw))


@pytest.mark.parametrize("d", [3, 20])
def test_batches_of_whole_chunks_in_order(client, d):
    """Batches as long as the chunks (the last chunk shorter than a batch), in order: each
    chunk one batch summed as contiguous rows, as in memory."""
    X, y = problem(d, n=10 * 1000 + 500)
    (m1, h1), (m2, h2) = both(gdcore.Trainer(batch_size=1000, shuffle=False, epochs=3,
                                             tol=0.0, optimizer="momentum", lr=1e-4),
                              X, y, 1000)
    np.testing.assert_array_equal(m2.params, m1.params)
    np.testing.assert_array_equal(h2.loss, h1.loss)


@pytest.mark.parametrize("d", [5, 20])
def test_mini_batch_default_fit_bit_for_bit(client, monkeypatch, d):
    """The default mini-batch fit: its step from the rows' curvature, the largest over
    the chunks of the in-memory measure."""
    X, y = problem(d, n=MB_N)
    (m1, h1), (m2, h2) = mini_batch(X, y, MB_CHUNK, monkeypatch, shuffle="blocks")
    assert h2.lr == h1.lr
    np.testing.assert_array_equal(m2.params, m1.params)


@pytest.mark.parametrize("batch,shuffle", [(None, False), (32, "blocks"), (32, False)])
def test_warm_start_continues_as_one_fit(client, batch, shuffle):
    assert_warm_start_continues(*on_cluster(*problem(20, n=MB_N), MB_CHUNK), batch, shuffle)


class ChunkOrder(gdcore.loop.ReferenceRun):
    """The in-memory twin of a dask mini-batch epoch, in Python: the chunks in the order
    of a Fisher-Yates shuffle of the stream, each chunk's rows shuffled in turn, each
    chunk's batches apart."""

    def __init__(self, objective, params, state, settings, chunks):
        super().__init__(objective, params, state, settings)
        self.chunks = chunks
        self.steps_per_epoch = float(sum(-(-(b - a) // settings.batch_size) for a, b in chunks))

    def _epoch(self):
        from gdcore._random import shuffle
        order = list(range(len(self.chunks)))
        if self.s.shuffle == "blocks":
            shuffle(order, self.rng)
        loss, grad = 0.0, np.zeros(self.s.n_free)
        for k in order:
            rows = np.arange(*self.chunks[k])
            if self.s.shuffle == "blocks":
                shuffle(rows, self.rng)
            loss, grad, diverged = self.batches(rows, self.n_epochs, loss, grad)
            if diverged:
                return loss, grad, True
        return loss, grad, False


class Rows:
    def __init__(self, X, y):
        from gdcore._dispatch import pass_linear
        self.n_rows, self.n_params = X.shape[0], X.shape[1] + 1
        self.objective = pass_linear.LinearObjective("mse", 0.0, X, y, 1)

    def sums(self, params, rows=None):
        return self.objective.sums(params, rows)


@pytest.mark.parametrize("shuffle", ["blocks", False])
def test_mini_batch_equals_its_order_in_memory(client, shuffle):
    """Chunks of 5,000 rows (a short batch at each one's end) against ReferenceRun over
    the same order in memory: bit for bit shuffled, to rounding in order (summed there as
    contiguous rows, here as listed ones)."""
    from gdcore.loop import new_state
    X, y = problem(20, n=MB_N)
    trainer = gdcore.Trainer(batch_size=32, shuffle=shuffle, random_state=9, epochs=4,
                             tol=0.0, optimizer="momentum", lr=1e-3)
    model = gdcore.LinearModel(20)
    history = trainer.fit(model, *on_cluster(X, y, 5000))
    plan, _, _ = gdcore.Trainer(batch_size=32, random_state=9, epochs=4, tol=0.0,
                                optimizer="momentum", lr=1e-3)._start(
        gdcore.LinearModel(20), X, y)
    settings = dataclasses.replace(plan.settings, shuffle=shuffle, block=5000)
    twin = gdcore.LinearModel(20)
    chunks = [(a, min(a + 5000, MB_N)) for a in range(0, MB_N, 5000)]
    run = ChunkOrder(Rows(X, y), twin.params, new_state(settings, twin.params), settings, chunks)
    assert run.advance(10)[0] == "max_epochs"
    if shuffle:
        np.testing.assert_array_equal(model.params, twin.params)
        np.testing.assert_array_equal(history.loss, run.records()[0])
    else:
        np.testing.assert_allclose(model.params, twin.params, rtol=1e-12)


def test_mini_batch_visits_each_chunk_once_per_epoch(client, monkeypatch):
    from gdcore.dask import DaskData
    X, y = problem(3, n=MB_N)
    seen = []
    call = DaskData.chunk_batches
    monkeypatch.setattr(DaskData, "chunk_batches",
                        lambda self, i, *args: seen.append(i) or call(self, i, *args))
    fits = []
    for shuffle, seed in (("blocks", 4), ("blocks", 4), ("blocks", 5), (False, 4)):
        seen.clear()
        model = gdcore.LinearModel(3)
        gdcore.Trainer(batch_size=32, shuffle=shuffle, random_state=seed, epochs=4, tol=0.0,
                       optimizer="sgd", lr=1e-3).fit(model, *on_cluster(X, y, 4096))
        fits.append((model.params, list(seen)))
        epochs = [tuple(seen[k * 7:(k + 1) * 7]) for k in range(4)]
        assert len(seen) == 28 and all(sorted(e) == list(range(7)) for e in epochs)
        if shuffle:
            assert len(set(epochs)) > 1
        else:
            assert set(epochs) == {tuple(range(7))}
    assert np.array_equal(fits[0][0], fits[1][0]) and fits[0][1] == fits[1][1]
    assert not np.array_equal(fits[0][0], fits[2][0])


def test_mini_batch_reaches_least_squares(client):
    X, y = problem(4, n=MB_N)
    A = np.hstack([X, np.ones((MB_N, 1))])
    best = np.linalg.lstsq(A, y, rcond=None)[0]
    for shuffle in ("blocks", False):  # the default fit: momentum, a cosine decay
        model = gdcore.LinearModel(4)
        gdcore.Trainer(batch_size=64, shuffle=shuffle, epochs=20, random_state=0).fit(
            model, *on_cluster(X, y, MB_CHUNK))
        assert np.linalg.norm(model.params - best) < 1e-2 * np.linalg.norm(best), shuffle


def test_mini_batch_divergence_as_in_memory(client, monkeypatch):
    X, y = problem(3, n=MB_N)
    errors = []
    monkeypatch.setattr(gdcore.loop, "BLOCK_BYTES", MB_CHUNK * X[0].nbytes)
    for data in ((X, y), on_cluster(X, y, MB_CHUNK)):
        with pytest.raises(gdcore.DivergenceError) as err:
            gdcore.Trainer(batch_size=32, shuffle="blocks", optimizer="sgd", lr=0.5,
                           epochs=5).fit(gdcore.LinearModel(3), *data)
        errors.append(err.value)
    np.testing.assert_array_equal(errors[1].history.loss, errors[0].history.loss)


def test_mini_batch_refusals(client):
    Xd, yd = on_cluster(*problem(3), ALIGNED)
    with pytest.raises(NotSupportedError, match="^shuffle: .*'rows'"):
        gdcore.Trainer(batch_size=32, shuffle="rows").fit(gdcore.LinearModel(3), Xd, yd)
    with pytest.raises(NotSupportedError, match="^early_stopping: "):
        gdcore.Trainer(batch_size=32, shuffle="blocks", early_stopping=True).fit(
            gdcore.LinearModel(3), Xd, yd)
    with pytest.raises(NotSupportedError, match="^model: "):
        gdcore.Trainer(batch_size=32, shuffle=False).fit(gdcore.MLP([3, 4, 1]), Xd, yd)
    with pytest.raises(ValueError, match="batch_size must be at most"):
        gdcore.Trainer(batch_size=10 ** 6, shuffle=False).fit(gdcore.LinearModel(3), Xd, yd)


def test_the_benchmark_spreads_chunks_evenly(client):
    """gdcore bench --dask places chunk i of X and y on worker i mod 2 (an epoch waits
    for the busiest worker), and its table says how many each holds."""
    from gdcore.benchmarks import cluster
    X, y = problem(3, n=4096 * 5)
    Xd = cluster._spread(lambda: da.from_array(X, chunks=(4096, -1)).map_blocks(np.copy))
    yd = cluster._spread(lambda: da.from_array(y, chunks=4096).map_blocks(np.copy))
    distributed.wait([Xd, yd])
    workers = sorted(client.scheduler_info()["workers"])
    for array in (Xd, yd):
        where = client.who_has(distributed.futures_of(array))
        assert {key[1]: tuple(holders) for key, holders in where.items()} == {
            i: (workers[i % 2],) for i in range(5)}
    np.testing.assert_array_equal(Xd.compute(), X)
    result = {"n": 20480, "d": 3, "chunk_rows": 4096, "chunks per worker": [2, 3],
              "epoch": {"gdcore in memory, 1 thread": 1e-3, "gdcore dask (actors)": 2e-3},
              "batch epoch": {"gdcore in memory, 1 thread": 1e-2, "gdcore dask": 3e-2},
              "solve": {"gdcore dask": {"seconds": 0.1, "error": 1e-7, "iterations": 4}}}
    lines = cluster.table([result]).splitlines()
    assert lines[0] == "20,480 x 3, chunks of 4,096 rows (per worker: 2, 3)"
    assert lines[4].split() == ["time", "per", "batch-32", "epoch", "(blocks)", "ms", "vs",
                                "in", "memory"]
    assert lines[5].split()[-2:] == ["10.00", "1.00x"]
    assert lines[6].split() == ["gdcore", "dask", "30.00", "3.00x"]
