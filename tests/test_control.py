"""Progress bars, callbacks, Ctrl-C and the recorded path: Trainer.fit's control options."""

from __future__ import annotations

import signal
import sys
import threading

import numpy as np
import pytest

import gdcore
from gdcore.trainer import INTERRUPTED


def fit(X, y, backend="cython", epochs=50, batch_size=None, **kwargs):
    model = gdcore.LinearModel(X.shape[1])
    trainer = gdcore.Trainer(lr=0.01, epochs=epochs, tol=0.0, backend=backend,
                             batch_size=batch_size, random_state=5,
                             record_path=kwargs.pop("record_path", False))
    return model, trainer.fit(model, X, y, **kwargs)


@pytest.mark.parametrize("batch_size", [None, 8])
def test_callback_sees_every_kth_epoch_and_chunks_change_nothing(backend, make_problem, batch_size):
    X, y, _, _ = make_problem(40, 3, seed=1)
    ref_model, ref = fit(X, y, backend, batch_size=batch_size)
    seen = []

    def callback(epoch, loss, model):
        seen.append((epoch, loss, model.w.copy()))

    model, history = fit(X, y, backend, batch_size=batch_size, callback=callback, callback_every=7)
    assert [e for e, _, _ in seen] == [7, 14, 21, 28, 35, 42, 49]
    for epoch, loss, _ in seen:
        assert loss == history.loss[epoch - 1]
    np.testing.assert_array_equal(model.w, ref_model.w)
    np.testing.assert_array_equal(history.loss, ref.loss)
    assert history.status == ref.status == "max_epochs"
    # the parameters the callback saw at epoch 7 are those of a 7-epoch fit
    seven, _ = fit(X, y, backend, epochs=7, batch_size=batch_size)
    np.testing.assert_array_equal(seen[0][2], seven.w)


def test_callback_returning_true_stops_the_fit(backend, make_problem):
    X, y, _, _ = make_problem(40, 3, seed=2)
    model, history = fit(X, y, backend, epochs=1000, callback=lambda e, loss, m: e >= 30,
                         callback_every=10)
    assert history.status == "stopped" and not history.converged
    assert history.n_epochs == 30
    thirty, ref = fit(X, y, backend, epochs=30)
    np.testing.assert_array_equal(model.w, thirty.w)
    assert model.b == thirty.b
    assert history.final_loss == pytest.approx(ref.final_loss, rel=1e-12)


def test_control_arguments_are_checked(make_problem):
    X, y, _, _ = make_problem(10, 2, seed=0)
    with pytest.raises(ValueError, match="callback_every must be an integer >= 1"):
        fit(X, y, callback=lambda *a: None, callback_every=0)
    with pytest.raises(TypeError, match="callback must be callable"):
        fit(X, y, callback=3)
    with pytest.raises(TypeError, match="record_path must be True or False"):
        gdcore.Trainer(record_path="yes")


def test_progress_bar(make_problem, capsys):
    pytest.importorskip("tqdm")
    X, y, _, _ = make_problem(50, 2, seed=3)
    ref_model, _ = fit(X, y, epochs=300)
    model, history = fit(X, y, epochs=300, progress=True)
    err = capsys.readouterr().err
    assert "300/300" in err and "epoch" in err and "loss=" in err
    np.testing.assert_array_equal(model.w, ref_model.w)


def test_progress_without_tqdm_is_a_clear_error(make_problem, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    X, y, _, _ = make_problem(10, 2, seed=0)
    model = gdcore.LinearModel(2)
    with pytest.raises(ImportError, match="progress=True needs tqdm"):
        gdcore.Trainer().fit(model, X, y, progress=True)
    assert np.all(model.w == 0)  # raised before any work


@pytest.mark.parametrize("batch_size", [None, 4])
def test_record_path(backend, make_problem, batch_size):
    X, y, _, _ = make_problem(12, 2, seed=4)
    model, history = fit(X, y, backend, epochs=6, batch_size=batch_size, record_path=True)
    assert history.path.shape == (6, 3)
    np.testing.assert_array_equal(history.path[0], 0.0)
    for k in (1, 5):
        partial, _ = fit(X, y, backend, epochs=k, batch_size=batch_size)
        np.testing.assert_allclose(history.path[k], np.append(partial.w, partial.b), rtol=1e-12)
    assert fit(X, y, backend, epochs=6)[1].path is None


@pytest.fixture
def sigint_default():
    """Python's default SIGINT handler, whatever the runner set (a background job ignores SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


# budgets of tens of seconds: the interrupt comes after 0.4 s
@pytest.mark.parametrize("backend,n,budget", [("cython", 20_000, 10**6), ("python", 300, 10**5)])
def test_ctrl_c_stops_cleanly_at_an_epoch_boundary(make_problem, sigint_default, backend, n,
                                                   budget):
    X, y, _, _ = make_problem(n, 5, seed=6)
    main = threading.main_thread().ident
    timer = threading.Timer(0.4, signal.pthread_kill, (main, signal.SIGINT))
    model = gdcore.LinearModel(5)
    trainer = gdcore.Trainer(lr=1e-3, epochs=budget, tol=0.0, backend=backend)
    timer.start()
    try:
        with pytest.raises(gdcore.FitInterrupted) as info:
            trainer.fit(model, X, y)
    finally:
        timer.cancel()
    assert isinstance(info.value, KeyboardInterrupt)
    history = info.value.history
    assert history.status == INTERRUPTED and 0 < history.n_epochs < budget
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    # the model holds exactly the parameters after the last finished epoch
    same = gdcore.LinearModel(5)
    ref = gdcore.Trainer(lr=1e-3, epochs=history.n_epochs, tol=0.0, backend=backend).fit(same, X, y)
    np.testing.assert_array_equal(model.w, same.w)
    assert model.b == same.b
    np.testing.assert_array_equal(history.loss, ref.loss)
    assert history.final_loss == pytest.approx(ref.final_loss, rel=1e-12)
