"""The three backends take the same steps: same seed, same lr, same batches, same numbers.

Each backend is also checked against ``helpers.reference_fit``, an independent
NumPy float64 implementation of the documented loop (with its own SplitMix64
and Fisher-Yates), so agreement cannot come from a shared mistake.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import gdcore
from helpers import MAE, MSE, fisher_yates, make_problem, reference_fit, splitmix64

LOSSES = {MSE: gdcore.MSELoss, MAE: gdcore.MAELoss}

# (batch_size, n): full batch; batches dividing n; a last batch shorter than batch_size; one row
BATCHINGS = [
    pytest.param(None, 120, id="full"),
    pytest.param(30, 120, id="mb30of120"),
    pytest.param(32, 120, id="mb32of120-short-last"),
    pytest.param(7, 50, id="mb7of50-short-last"),
    pytest.param(1, 40, id="sgd1"),
]

LR = {MSE: 0.05, MAE: 0.02}
EPOCHS = 25


def run(backend, kind, X, y, batch_size, dtype, seed=12345, lr=None, epochs=EPOCHS,
        fit_intercept=True):
    model = gdcore.LinearModel(X.shape[1], dtype=dtype, fit_intercept=fit_intercept)
    trainer = gdcore.Trainer(loss=LOSSES[kind](), lr=LR[kind] if lr is None else lr,
                             epochs=epochs, tol=0.0, batch_size=batch_size, random_state=seed,
                             backend=backend)
    hist = trainer.fit(model, X, y)
    return hist, np.asarray(model.w, dtype=np.float64).copy(), model.b


@pytest.mark.parametrize("kind", [MSE, MAE])
@pytest.mark.parametrize("batch_size,n", BATCHINGS)
def test_float64_backends_agree_with_reference(kind, batch_size, n):
    X, y, _, _ = make_problem(n, 4, 31, noise=0.4)
    ref = reference_fit(kind, X, y, LR[kind], EPOCHS, tol=0.0, batch_size=batch_size, seed=12345)
    assert ref["loss"].shape == (EPOCHS,)
    results = {b: run(b, kind, X, y, batch_size, np.float64) for b in gdcore.backends()}
    for name, (hist, w, b) in results.items():
        assert hist.n_epochs == EPOCHS, name
        np.testing.assert_allclose(hist.loss, ref["loss"], rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(w, ref["w"], rtol=1e-10, atol=1e-12, err_msg=name)
        assert b == pytest.approx(ref["b"], rel=1e-10, abs=1e-12), name
        assert hist.final_loss == pytest.approx(ref["final_loss"], rel=1e-10), name
        assert hist.grad_norm == pytest.approx(ref["grad_norm"], rel=1e-8, abs=1e-12), name
    # and with each other, elementwise
    base_hist, base_w, base_b = results["cython"]
    for name in ("numpy", "python"):
        hist, w, b = results[name]
        np.testing.assert_allclose(hist.loss, base_hist.loss, rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(w, base_w, rtol=1e-10, atol=1e-12, err_msg=name)
        assert b == pytest.approx(base_b, rel=1e-10, abs=1e-12), name


def test_python_and_cython_agree_to_rounding_in_float64():
    """Both accumulate in double; the compiled kernel sums in a SIMD-friendly order, so the
    trajectories agree to a few units in the last place, not bit for bit."""
    X, y, _, _ = make_problem(53, 3, 32, noise=0.4)
    for kind in (MSE, MAE):
        for batch_size in (None, 10):
            hc, wc, bc = run("cython", kind, X, y, batch_size, np.float64)
            hp, wp, bp = run("python", kind, X, y, batch_size, np.float64)
            np.testing.assert_allclose(hc.loss, hp.loss, rtol=1e-12)
            np.testing.assert_allclose(wc, wp, rtol=1e-12, atol=1e-14)
            assert bc == pytest.approx(bp, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("kind", [MSE, MAE])
@pytest.mark.parametrize("batch_size,n", BATCHINGS[:4])
def test_float32_backends_agree(kind, batch_size, n):
    """float32 differs in rounding (numpy sums in float32, cython rounds w every step,
    python keeps doubles): agreement to 1e-5 (observed <= 7e-7), also with the float64
    reference run on the float32 values."""
    X, y, _, _ = make_problem(n, 4, 33, noise=0.4, dtype=np.float32)
    ref = reference_fit(kind, X, y, LR[kind], EPOCHS, tol=0.0, batch_size=batch_size, seed=12345)
    results = {b: run(b, kind, X, y, batch_size, np.float32) for b in gdcore.backends()}
    for name, (hist, w, b) in results.items():
        assert hist.n_epochs == EPOCHS
        np.testing.assert_allclose(hist.loss, ref["loss"], rtol=1e-5, err_msg=name)
        scale = np.linalg.norm(np.r_[ref["w"], ref["b"]])
        np.testing.assert_allclose(np.r_[w, b], np.r_[ref["w"], ref["b"]], rtol=1e-5,
                                   atol=1e-5 * scale, err_msg=name)
    base_hist = results["cython"][0]
    for name in ("numpy", "python"):
        np.testing.assert_allclose(results[name][0].loss, base_hist.loss, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("batch_size", [None, 9])
def test_backends_agree_without_intercept(batch_size):
    X, y, _, _ = make_problem(60, 3, 34, noise=0.3, intercept=1.5)
    ref = reference_fit(MSE, X, y, 0.05, EPOCHS, batch_size=batch_size, seed=12345,
                        fit_intercept=False)
    for name in gdcore.backends():
        hist, w, b = run(name, MSE, X, y, batch_size, np.float64, fit_intercept=False)
        assert b == 0.0
        np.testing.assert_allclose(hist.loss, ref["loss"], rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(w, ref["w"], rtol=1e-10, err_msg=name)
        assert hist.grad_norm == pytest.approx(ref["grad_norm"], rel=1e-8), name


def test_backends_agree_on_auto_lr():
    X, y, _, _ = make_problem(100, 5, 35, noise=0.3)
    for batch_size in (None, 8):
        lrs = [gdcore.Trainer(batch_size=batch_size, backend=b).learning_rate(
            gdcore.LinearModel(5), X) for b in gdcore.backends()]
        np.testing.assert_allclose(lrs, lrs[0], rtol=1e-10)


def test_mini_batch_epoch_loss_is_row_weighted_mean():
    """Hand-check of one epoch with a short last batch: 5 rows, batches of 2, 2, 1."""
    X = np.array([[1.0], [2.0], [-1.0], [0.5], [3.0]])
    y = np.array([2.0, 1.0, 0.0, -1.0, 4.0])
    lr, seed = 0.1, 99
    order = list(range(5))
    fisher_yates(order, splitmix64(seed))
    w = b = 0.0
    total = 0.0
    for rows in (order[0:2], order[2:4], order[4:5]):
        r = w * X[rows, 0] + b - y[rows]
        total += len(rows) * np.mean(r * r)
        w, b = w - lr * np.mean(2 * r * X[rows, 0]), b - lr * np.mean(2 * r)
    for name in gdcore.backends():
        model = gdcore.LinearModel(1)
        hist = gdcore.Trainer(lr=lr, epochs=1, tol=0.0, batch_size=2, random_state=seed,
                              backend=name).fit(model, X, y)
        assert hist.loss[0] == pytest.approx(total / 5, rel=1e-14), name
        assert model.w[0] == pytest.approx(w, rel=1e-14), name
        assert model.b == pytest.approx(b, rel=1e-14), name


class _Rows:
    """The reference loop's objective over a LinearObjective's rows, a batch of rows in
    order summed as the compiled loop sums it (``in_order``): as contiguous rows (one
    partial: batches under 4,096 rows)."""

    def __init__(self, objective, n, p, in_order):
        self.objective, self.n_rows, self.n_params = objective, n, p
        self.in_order = in_order

    def sums(self, params, rows=None):
        if not self.in_order:
            return self.objective.sums(params, rows)
        part = self.objective.chunk_sums(params, int(rows[0]), len(rows))[0]
        return part[-1], part[:-1]


@pytest.mark.parametrize("shuffle", ["rows", False])
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_compiled_batches_are_the_reference_batches(shuffle, optimizer):
    """Run.batches (a chunk's part of an epoch, on a cluster's worker) takes
    ReferenceRun.batches' steps bit for bit, and adds the same sums."""
    from gdcore._dispatch import pass_linear
    from gdcore.backends.compiled import compiled_run
    from gdcore.loop import ReferenceRun, new_state
    n, d = 203, 5
    X, y, _, _ = make_problem(n, d, 7, noise=0.4)
    plan, _, _ = gdcore.Trainer(batch_size=16, shuffle=shuffle, random_state=3, epochs=3,
                                optimizer=optimizer, lr=0.01, tol=0.0)._start(
        gdcore.LinearModel(d), X, y)
    settings = plan.settings
    objective = pass_linear.LinearObjective("mse", 0.0, X, y, 1)
    order = np.random.default_rng(0).permutation(n) if shuffle else np.arange(n)
    results = []
    for make, source in ((compiled_run, objective),
                         (ReferenceRun, _Rows(objective, n, d + 1, not shuffle))):
        params = gdcore.LinearModel(d).params
        state = new_state(settings, params)
        run = make(source, params, state, settings)
        run.steps_per_epoch = 40.0
        loss, grad, diverged = run.batches(order, 2, 1.5, np.ones(settings.n_free))
        results.append((params, state.array, loss, grad, diverged))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    assert not results[0][4] and not np.array_equal(results[0][0], gdcore.LinearModel(d).params)
    run = compiled_run(objective, params, new_state(settings, params), settings)
    for bad in (order[:-1], order.astype(np.int32), np.full(n, n, dtype=np.intp),
                *([] if shuffle else [order[::-1].copy()])):
        with pytest.raises(ValueError, match="rows must be"):
            run.batches(bad, 0, 0.0, np.zeros(settings.n_free))
    with pytest.raises(ValueError, match="grad_sum"):
        run.batches(order, 0, 0.0, np.zeros(settings.n_free + 1))


def _unaligned(a):
    """A copy of ``a`` starting one byte into its buffer (as arrays arrive in messages)."""
    a = np.asarray(a)
    out = np.frombuffer(np.zeros(a.nbytes + 1, np.uint8).data, dtype=a.dtype, count=a.size,
                        offset=1).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def test_the_compiled_loop_takes_settings_that_arrived_unaligned():
    """On a cluster's worker the settings' arrays arrive in message buffers, at any byte:
    the Run loads aligned copies of the preconditioner's (the sanitizer build checks the
    loads), and refuses unaligned parameters or state, which it would write."""
    import types
    from gdcore.backends.compiled import compiled_run
    from gdcore.loop import new_state
    from gdcore._dispatch import pass_linear
    X, y, _, _ = make_problem(203, 5, 7, noise=0.4)
    plan, _, _ = gdcore.Trainer(batch_size=16, random_state=3, epochs=3, tol=0.0)._start(
        gdcore.LinearModel(5), X, y)
    settings = plan.settings
    assert settings.precondition is not None
    scale, shift, over, intercept = settings.precondition.kernel()
    moved = dataclasses.replace(settings, precondition=types.SimpleNamespace(
        kernel=lambda: (_unaligned(scale), _unaligned(shift), _unaligned(over), intercept)))
    objective = pass_linear.LinearObjective("mse", 0.0, X, y, 1)
    order = np.random.default_rng(0).permutation(203)
    results = []
    for s in (settings, moved):
        params = gdcore.LinearModel(5).params
        state = new_state(settings, params)
        run = compiled_run(objective, params, state, s)
        results.append((run.batches(order, 0, 0.0, np.zeros(s.n_free)), params))
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert results[0][0][0] == results[1][0][0]
    plain = dataclasses.replace(settings, precondition=None)
    params = gdcore.LinearModel(5).params
    state = new_state(plain, params)
    compiled_run(objective, params, state, plain)  # aligned: taken
    with pytest.raises(ValueError, match="params must be a writeable, aligned"):
        compiled_run(objective, _unaligned(params), state, plain)
    state.array = _unaligned(state.array)  # (compiled_run passes the array alone)
    with pytest.raises(ValueError, match="state must be an aligned"):
        compiled_run(objective, params, state, plain)
