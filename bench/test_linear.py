"""Linear regression benchmarks: the three backends side by side.

Groups (use ``--benchmark-group-by=group``; each group holds one size and
one kind of work, so its rows compare directly):

* ``epoch-NxD``: a full-batch fit with a fixed ``lr``, ``tol=0`` and a fixed
  number of epochs, the same for every backend in the group, so every row
  does the same work. ``extra_info`` gives ``s_per_epoch`` (median fit time /
  epochs), ``backend_s_per_epoch`` (the backend's own time, History.seconds,
  without validation) and ``x_gb_per_s`` (bytes of X / s_per_epoch). A fit
  also does one extra pass over X (final loss and gradient) and checks X is
  finite, so ``s_per_epoch`` is a little above the marginal cost of an epoch.
* ``minibatch32-NxD``: mini-batch fit (batch_size=32), fixed ``lr``,
  ``tol=0``. One epoch, except 10 at 1,000 x 1 where a single epoch would be
  mostly per-fit overhead. Same ``extra_info`` as above.
* ``fit-auto-NxD``: a complete fit to convergence with ``lr="auto"`` and the
  default ``tol``. On this well-conditioned data it converges in a handful of
  epochs, so most of its time goes to the step-size (curvature) estimate.
  That estimate is also timed alone in ``curvature-NxD``.

Each round fits a fresh ``LinearModel`` (``pedantic`` with a setup). Rounds
are sized by a calibration run (which is also a warm-up) to take about
``BUDGET_S`` per benchmark. With ``--benchmark-disable`` every benchmark runs
once. Every benchmark checks its result, so a broken one fails.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import gdcore

#: Seconds of measured rounds to aim for per benchmark (min/max rounds apply).
BUDGET_S = 0.8
MIN_ROUNDS = 3
MAX_ROUNDS = 50

#: Fixed step for the fixed-work groups: safe on this data (L ~ 2 full batch,
#: L_B < 7 for batches of 32 rows), far from the divergence limit.
LR = 0.1
BATCH = 32

SLOW = pytest.mark.slow

# (n_samples, n_features, full-batch epochs, mini-batch epochs)
SIZES = {
    (1_000, 1): (200, 10),
    (10_000, 10): (20, 1),
    (100_000, 20): (20, 1),
    (1_000_000, 20): (5, None),  # slow: memory-bound regime, 160 MB of X
}

# (backend, dtype): python only at the small sizes, float32 only for cython.
COMBOS = [("cython", "float64"), ("cython", "float32"), ("numpy", "float64"),
          ("python", "float64")]


def _cases(kind):
    """pytest params ``(n, d, backend, dtype)`` for one group kind."""
    params = []
    for (n, d), (epochs, mb_epochs) in SIZES.items():
        if kind == "minibatch" and mb_epochs is None:
            continue
        if kind in ("fit-auto", "curvature") and n > 100_000:
            continue
        for backend, dtype in COMBOS:
            marks = []
            if backend == "python":
                if n > 10_000:
                    continue  # about 0.3 s per epoch: not worth measuring
                if kind in ("fit-auto", "curvature") and n >= 10_000:
                    marks.append(SLOW)  # its curvature estimate alone is ~1.5 s
            if n >= 1_000_000:
                marks.append(SLOW)
            params.append(pytest.param(n, d, backend, dtype, marks=marks,
                                       id=f"{n}x{d}-{backend}-{dtype}"))
    return params


def _measure(benchmark, target, make_model):
    """Benchmark ``target(model)`` on a fresh model each round; returns its last result."""
    setup = lambda: ((make_model(),), {})  # noqa: E731
    if benchmark.disabled:  # --benchmark-disable: one plain run
        return benchmark.pedantic(target, setup=setup, rounds=1)
    start = time.perf_counter()
    target(make_model())  # calibration, and a first warm-up
    once = time.perf_counter() - start
    rounds = int(min(MAX_ROUNDS, max(MIN_ROUNDS, BUDGET_S / max(once, 1e-9))))
    warmup = 1 if once < 0.1 else 0
    return benchmark.pedantic(target, setup=setup, rounds=rounds, warmup_rounds=warmup,
                              iterations=1)


def _record(benchmark, *, backend, dtype, X, epochs, histories):
    """extra_info common to the groups; per-epoch figures only when timed."""
    info = benchmark.extra_info
    info.update(backend=backend, dtype=dtype, n_samples=int(X.shape[0]),
                n_features=int(X.shape[1]), epochs=int(epochs))
    if benchmark.stats is not None and epochs:
        s_per_epoch = benchmark.stats.stats.median / epochs
        info["s_per_epoch"] = s_per_epoch
        info["backend_s_per_epoch"] = float(np.median([h.seconds for h in histories])) / epochs
        info["x_gb_per_s"] = X.nbytes / s_per_epoch / 1e9


def _initial_loss(y):
    """MSE at w = 0, b = 0."""
    return float(np.mean(np.asarray(y, dtype=np.float64) ** 2))


# -------------------------------------------------------------- (a) full batch

def _timed_fixed_epochs(benchmark, trainer, X, y, backend, dtype, epochs):
    """Time fits of ``epochs`` epochs on fresh models; returns the last History."""
    histories = []

    def fit(model):
        h = trainer.fit(model, X, y)
        histories.append(h)
        return h

    h = _measure(benchmark, fit, lambda: gdcore.LinearModel(X.shape[1], dtype=dtype))
    _record(benchmark, backend=backend, dtype=dtype, X=X, epochs=epochs, histories=histories)
    return h


@pytest.mark.parametrize("n,d,backend,dtype", _cases("epoch"))
def test_epoch(benchmark, data, n, d, backend, dtype):
    X, y, _, _ = data(n, d, dtype)
    epochs = SIZES[(n, d)][0]
    benchmark.group = f"epoch-{n}x{d}"
    trainer = gdcore.Trainer(lr=LR, tol=0.0, epochs=epochs, backend=backend)
    h = _timed_fixed_epochs(benchmark, trainer, X, y, backend, dtype, epochs)

    assert h.n_epochs == epochs
    assert h.status == "max_epochs" and not h.converged
    assert np.all(np.isfinite(h.loss))
    assert h.final_loss < 0.5 * h.loss[0]


# ---------------------------------------------------------- (b) to convergence

@pytest.mark.parametrize("n,d,backend,dtype", _cases("fit-auto"))
def test_fit_auto(benchmark, data, n, d, backend, dtype):
    X, y, w_true, b_true = data(n, d, dtype)
    benchmark.group = f"fit-auto-{n}x{d}"
    trainer = gdcore.Trainer(lr="auto", epochs=10_000, backend=backend)
    histories = []

    def fit(model):
        h = trainer.fit(model, X, y)
        histories.append(h)
        return model, h

    model, h = _measure(benchmark, fit, lambda: gdcore.LinearModel(d, dtype=dtype))
    _record(benchmark, backend=backend, dtype=dtype, X=X, epochs=0, histories=histories)
    benchmark.extra_info.update(n_epochs=h.n_epochs, lr=h.lr)

    assert h.converged and h.status == "converged"
    assert 0 < h.n_epochs < 10_000
    np.testing.assert_allclose(model.w, w_true, atol=1e-2)
    assert abs(model.b - b_true) < 1e-2


# ---------------------------------------------------------- (c) mini-batch

@pytest.mark.parametrize("n,d,backend,dtype", _cases("minibatch"))
def test_minibatch_epoch(benchmark, data, n, d, backend, dtype):
    X, y, _, _ = data(n, d, dtype)
    epochs = SIZES[(n, d)][1]
    benchmark.group = f"minibatch{BATCH}-{n}x{d}"
    trainer = gdcore.Trainer(lr=LR, tol=0.0, epochs=epochs, batch_size=BATCH,
                             random_state=0, backend=backend)
    h = _timed_fixed_epochs(benchmark, trainer, X, y, backend, dtype, epochs)

    assert h.n_epochs == epochs
    assert h.status == "max_epochs"
    assert np.all(np.isfinite(h.loss))
    # >= 300 steps of lr=0.1 from w=0: far below the starting loss.
    assert h.final_loss < 1e-2 * _initial_loss(y)


# ------------------------------------------------- the lr="auto" estimate alone

@pytest.mark.parametrize("n,d,backend,dtype", _cases("curvature"))
def test_curvature(benchmark, data, n, d, backend, dtype):
    X, y, _, _ = data(n, d, dtype)
    benchmark.group = f"curvature-{n}x{d}"
    trainer = gdcore.Trainer(lr="auto", backend=backend)
    model = gdcore.LinearModel(d, dtype=dtype)

    lr = _measure(benchmark, lambda m: trainer.learning_rate(m, X), lambda: model)
    benchmark.extra_info.update(backend=backend, dtype=dtype, n_samples=n, n_features=d, lr=lr)

    A = np.hstack([np.asarray(X, dtype=np.float64), np.ones((n, 1))])
    lam_max = 2.0 / n * np.linalg.eigvalsh(A.T @ A)[-1]
    assert lr == pytest.approx(1.0 / lam_max, rel=1e-2)
