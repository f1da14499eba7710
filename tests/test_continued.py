"""Continued fits: partial_fit and warm_start carry the optimizer, schedule and
mini-batch stream on, so that continuations equal one long fit bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import gdcore

CASES = [  # batch_size, optimizer, schedule
    (None, "auto", None), (None, "momentum", None), (None, "adam", "exponential"),
    (16, "auto", "step"), (16, "adam", "inverse_scaling"), (7, "nesterov", "cosine"),
]


def problem(n=200, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.logspace(0, 2, d)
    return X, X @ rng.standard_normal(d) + 1.0 + rng.standard_normal(n)


def settings(batch_size, optimizer, schedule, **kwargs):
    return dict(batch_size=batch_size, optimizer=optimizer, schedule=schedule, random_state=5,
                tol=0.0, epochs=10, **kwargs)


@pytest.mark.parametrize("backend", ["cython", "numpy", "python"])
@pytest.mark.parametrize("batch_size,optimizer,schedule", CASES)
def test_ten_partial_fits_are_one_ten_epoch_fit(batch_size, optimizer, schedule, backend):
    X, y = problem()
    once = gdcore.LinearModel(5)
    gdcore.Trainer(**settings(batch_size, optimizer, schedule, backend=backend)).fit(once, X, y)
    steps = gdcore.LinearModel(5)
    trainer = gdcore.Trainer(**settings(batch_size, optimizer, schedule, backend=backend))
    for _ in range(10):
        history = trainer.partial_fit(steps, X, y)
        assert history.n_epochs == 1
    np.testing.assert_array_equal(steps.params, once.params)


@pytest.mark.parametrize("batch_size,optimizer,schedule", [c for c in CASES if c[2] != "cosine"])
def test_a_warm_start_continues_where_the_fit_ended(batch_size, optimizer, schedule):
    """(Not with a cosine schedule: its horizon is each fit's epochs.)"""
    X, y = problem(seed=1)
    once = gdcore.LinearModel(5)
    gdcore.Trainer(**settings(batch_size, optimizer, schedule)).fit(once, X, y)
    twice = gdcore.LinearModel(5)
    first = settings(batch_size, optimizer, schedule, warm_start=True)
    first["epochs"] = 4
    trainer = gdcore.Trainer(**first)
    trainer.fit(twice, X, y)
    trainer.epochs = 6
    trainer.fit(twice, X, y)
    np.testing.assert_array_equal(twice.params, once.params)


def test_without_warm_start_every_fit_starts_afresh():
    X, y = problem()
    trainer = gdcore.Trainer(optimizer="adam", epochs=5, tol=0.0)
    a, b = gdcore.LinearModel(5), gdcore.LinearModel(5)
    trainer.fit(a, X, y)
    trainer.fit(a, X, y)  # from a's parameters, Adam's moments and step count anew
    gdcore.Trainer(optimizer="adam", epochs=5, tol=0.0).fit(b, X, y)
    c = gdcore.LinearModel(5)
    c.params[:] = b.params
    gdcore.Trainer(optimizer="adam", epochs=5, tol=0.0).fit(c, X, y)
    np.testing.assert_array_equal(a.params, c.params)


def test_a_stream_of_slices_takes_one_pass_over_each():
    """Adam's step count after the slices is the number of batches they held: the state
    carried on; every engine agrees on the path."""
    X, y = problem(n=230)
    slices = [(0, 100), (100, 160), (160, 230), (0, 50)]
    params = []
    for backend in ("cython", "python"):
        model = gdcore.LinearModel(5)
        trainer = gdcore.Trainer(optimizer="adam", batch_size=32, random_state=1, backend=backend)
        for lo, hi in slices:
            trainer.partial_fit(model, X[lo:hi], y[lo:hi])
        params.append(model.params.copy())
        assert trainer._stream.state.step == sum(-(-(hi - lo) // 32) for lo, hi in slices)
        assert trainer._stream.epochs == len(slices)
    np.testing.assert_allclose(params[0], params[1], rtol=1e-12)


def test_parameters_set_between_calls_are_where_the_next_starts():
    X, y = problem()
    model = gdcore.LinearModel(5)
    trainer = gdcore.Trainer()
    trainer.partial_fit(model, X, y)
    model.params[:] = 0.0
    history = trainer.partial_fit(model, X, y)
    assert history.loss[0] == pytest.approx(np.mean(y ** 2), rel=1e-12)


def test_another_model_starts_its_own_stream():
    X, y = problem()
    trainer = gdcore.Trainer(optimizer="adam")
    a, b = gdcore.LinearModel(5), gdcore.LinearModel(5)
    trainer.partial_fit(a, X, y)
    trainer.partial_fit(b, X, y)
    np.testing.assert_array_equal(a.params, b.params)


def test_warm_start_must_be_a_flag():
    with pytest.raises(TypeError, match="warm_start must be True or False"):
        gdcore.Trainer(warm_start="yes")


def test_gdregressor_partial_fit_and_warm_start():
    pytest.importorskip("sklearn")
    from gdcore.sklearn import GDRegressor
    X, y = problem(seed=2)
    once = GDRegressor(optimizer="adam", batch_size=16, epochs=6, tol=0.0, random_state=0)
    with pytest.warns(Warning):  # 6 epochs do not meet any tolerance
        once.fit(X, y)
    steps = GDRegressor(optimizer="adam", batch_size=16, epochs=6, tol=0.0, random_state=0)
    for _ in range(6):
        steps.partial_fit(X, y)
    np.testing.assert_array_equal(steps.coef_, once.coef_)
    assert steps.n_iter_ == 6 and steps.loss_curve_.shape == (6,)
    np.testing.assert_allclose(steps.loss_curve_, once.loss_curve_, rtol=1e-12)
    warm = GDRegressor(optimizer="adam", batch_size=16, epochs=3, tol=0.0, random_state=0,
                       warm_start=True)
    with pytest.warns(Warning):
        warm.fit(X, y)
        warm.fit(X, y)
    np.testing.assert_allclose(warm.coef_, once.coef_, rtol=1e-12)


@pytest.mark.parametrize("batch_size,optimizer,schedule", CASES)
def test_a_fit_resumes_after_a_restart_from_the_saved_state(batch_size, optimizer, schedule,
                                                            tmp_path):
    """Five epochs, the model saved with its optimizer state, read back by a new process's
    worth of objects, five more: the parameters of one ten-epoch stream, bit for bit."""
    X, y = problem(seed=3)
    kwargs = settings(batch_size, optimizer, schedule)
    del kwargs["epochs"]
    once = gdcore.LinearModel(5)
    trainer = gdcore.Trainer(epochs=10, **kwargs)
    for _ in range(10):
        trainer.partial_fit(once, X, y)
    first = gdcore.LinearModel(5)
    trainer = gdcore.Trainer(epochs=10, **kwargs)
    for _ in range(5):
        trainer.partial_fit(first, X, y)
    first.save(tmp_path / "m.gdm", trainer=trainer)
    resumed = gdcore.load(tmp_path / "m.gdm")
    trainer = gdcore.Trainer(epochs=10, **kwargs)  # a new trainer: the state is the file's
    for _ in range(5):
        trainer.partial_fit(resumed, X, y)
    np.testing.assert_array_equal(resumed.params, once.params)


def test_saving_a_state_needs_the_trainer_that_fitted_the_model(tmp_path):
    X, y = problem()
    model = gdcore.LinearModel(5)
    with pytest.raises(ValueError, match="trainer has not fitted this model"):
        model.save(tmp_path / "m.gdm", trainer=gdcore.Trainer())
    model.save(tmp_path / "plain.gdm")  # without a trainer: the model alone, as before
    assert gdcore.load(tmp_path / "plain.gdm")._loaded_stream is None


def _rewritten(path, out, header=None, arrays=None):
    """The model file at ``path`` with its header's continuation or arrays changed."""
    import json
    import zipfile
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    payload = {name[:-4]: np.load(__import__("io").BytesIO(data)) for name, data in members.items()}
    if header is not None:
        text = json.loads(str(payload["__gdcore__"]))
        text["continuation"].update(header)
        payload["__gdcore__"] = np.array(json.dumps(text))
    payload.update(arrays or {})
    with open(out, "wb") as f:
        np.savez(f, **payload)
    return out


@pytest.mark.parametrize("header,arrays,message", [
    (dict(optimizer="Adam; rm -rf"), None, "optimizer must be a class name"),
    (dict(rng="zz"), None, "rng must be at most 16 hexadecimal digits"),
    (dict(n_free=99), None, "n_free must be an integer"),
    (dict(epochs=-1), None, "epochs must be an integer"),
    (dict(coordinates="yes"), None, "coordinates must be true, false or null"),
    (None, {"__state__": np.zeros(3)}, "holds float64 of shape"),
    (None, {"__state__": np.full(6 + 6 + 8, np.nan)}, "its vectors are not finite"),
    (None, {"__scale__": -np.ones(5)}, "its scales must be positive"),
    (None, {"__order__": np.zeros(200, dtype=np.int64)}, "not a permutation"),
])
def test_a_damaged_state_is_refused_by_name(tmp_path, header, arrays, message):
    X, y = problem()
    model = gdcore.LinearModel(5)
    trainer = gdcore.Trainer(optimizer="momentum", batch_size=16, random_state=0)
    trainer.partial_fit(model, X, y)
    model.save(tmp_path / "m.gdm", trainer=trainer)
    bad = _rewritten(tmp_path / "m.gdm", tmp_path / "bad.gdm", header, arrays)
    with pytest.raises(ValueError, match=message):
        gdcore.load(bad)
