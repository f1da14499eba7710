"""No silent wrong answers: every result is right to its tolerance, or an exception or a
warning says what happened (issue 12's classes: bounded records, overflow and underflow,
divergence judged fairly, callbacks, float32, containers, sizes)."""

from __future__ import annotations

import math
import tracemalloc
import warnings

import numpy as np
import pytest

import gdcore
from gdcore import loop
from gdcore.backends import get_backend
from gdcore.loop import Settings, StopRule, new_state
from gdcore.optim import SGD, Constant

REFERENCE_BACKENDS = ["cython", "numpy"]


def problem(n=200, d=3, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + np.arange(d)
    y = X @ np.arange(1.0, d + 1) + 3 + noise * rng.normal(size=n)
    return X, y


def least_squares(X, y):
    A = np.column_stack([X, np.ones(len(X))])
    return np.linalg.lstsq(A, y, rcond=None)[0]


# -- the record of a fit is bounded ----------------------------------------------------


def run_plain(backend, X, y, epochs, lr, batch_size=None, max_records=loop.MAX_RECORDS):
    model = gdcore.LinearModel(X.shape[1])
    objective = model._objective(get_backend(backend), gdcore.MSELoss(), X, y)
    settings = Settings(optimizer=SGD(lr), lr=lr, schedule=Constant(), epochs=epochs,
                        batch_size=batch_size, seed=3, n_free=X.shape[1] + 1,
                        stop=StopRule(abs_tol=0.0), record_path=True, max_records=max_records)
    fit = get_backend(backend).start(objective, model.params,
                                     new_state(settings, model.params), settings)
    result = None
    while result is None:  # in uneven chunks: pausing must not disturb the record
        result = fit.advance(5)
    return result, model.params.copy()


@pytest.mark.parametrize("backend", REFERENCE_BACKENDS)
@pytest.mark.parametrize("batch_size", [None, 16])
def test_a_long_fit_keeps_every_stride_th_epoch(backend, batch_size):
    X, y = problem()
    full, params = run_plain(backend, X, y, 37, 0.01, batch_size)
    thin, thin_params = run_plain(backend, X, y, 37, 0.01, batch_size, max_records=8)
    np.testing.assert_array_equal(thin_params, params)  # the fit itself is the same
    assert thin.n_epochs == full.n_epochs == 37
    assert 4 <= len(thin.loss) <= 8
    stride = thin.epochs[1] - thin.epochs[0]
    np.testing.assert_array_equal(thin.epochs, stride * np.arange(len(thin.loss)))
    assert thin.epochs[-1] < 37 <= thin.epochs[-1] + stride
    np.testing.assert_array_equal(thin.loss, full.loss[thin.epochs])
    np.testing.assert_array_equal(thin.path, full.path[thin.epochs])


def test_the_compiled_and_reference_records_agree_through_a_divergence():
    """The step that blew up is undone, and its record with it, the same in both loops."""
    X, y = problem()
    L = 2 * np.linalg.eigvalsh(np.cov(np.column_stack([X, np.ones(len(X))]).T, bias=True)
                               + np.outer(*(2 * [np.append(X.mean(0), 1)])))[-1]
    lr = 2.3 / L  # slowly divergent: past the blow-up threshold after a few dozen epochs
    results = []
    for backend in REFERENCE_BACKENDS:
        result, params = run_plain(backend, X, y, 10_000, lr, max_records=4)
        assert result.status == loop.DIVERGED
        results.append((result, params))
    (a, pa), (b, pb) = results
    assert a.n_epochs == b.n_epochs > 8
    np.testing.assert_array_equal(a.epochs, b.epochs)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-9)
    np.testing.assert_allclose(pa, pb, rtol=1e-9)


def test_history_of_a_long_fit_is_decimated(monkeypatch):
    monkeypatch.setattr(loop, "MAX_RECORDS", 16)
    X, y = problem()
    h = gdcore.Trainer(lr=0.01, epochs=100, tol=0.0).fit(gdcore.LinearModel(3), X, y)
    assert h.n_epochs == 100 and 8 <= len(h.loss) <= 16
    monkeypatch.setattr(loop, "MAX_RECORDS", 1 << 20)
    whole = gdcore.Trainer(lr=0.01, epochs=100, tol=0.0).fit(gdcore.LinearModel(3), X, y)
    np.testing.assert_array_equal(h.loss, whole.loss[h.epochs])
    np.testing.assert_array_equal(whole.epochs, np.arange(100))


def test_the_mae_path_reports_its_epochs(monkeypatch):
    monkeypatch.setattr(loop, "MAX_RECORDS", 8)
    X, y = problem(noise=1.0)
    h = gdcore.Trainer(loss=gdcore.MAELoss()).fit(gdcore.LinearModel(3), X, y)
    assert len(h.loss) == len(h.epochs) < h.n_epochs
    assert np.all(np.diff(h.epochs) > 0) and h.epochs[-1] < h.n_epochs


def test_an_endless_fit_uses_bounded_memory():
    """epochs=4e6 with tol=0 (a few tenths of a second): the record stays at most 2**20
    losses (8 MB); unbounded, it would hold 32 MB and copy it as it grew."""
    X, y = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 5.0])
    tracemalloc.start()
    try:
        h = gdcore.Trainer(lr=0.01, epochs=4_000_000, tol=0.0).fit(gdcore.LinearModel(1), X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert h.n_epochs == 4_000_000
    assert len(h.loss) <= loop.MAX_RECORDS
    assert peak < 40e6, peak


# -- overflow, underflow -----------------------------------------------------------------


@pytest.mark.parametrize("settings", [dict(lr=0.1), dict(), dict(batch_size=10),
                                      dict(optimizer="adam"), dict(optimizer="gd")])
def test_data_whose_loss_overflows_is_an_error_naming_it(settings):
    X, y = problem()
    with pytest.raises(ValueError, match="too large for float64"):
        gdcore.Trainer(epochs=50, **settings).fit(gdcore.LinearModel(3), X * 1e200, y * 1e200)


def test_a_network_on_overflowing_data_and_float32_overflow():
    X, y = problem()
    with pytest.raises(ValueError, match="too large for float64"):
        gdcore.Trainer(epochs=5).fit(gdcore.MLP([3, 4, 1], random_state=0), X * 1e160, y * 1e160)
    with pytest.raises(ValueError, match="too large for float32"):
        gdcore.Trainer(epochs=5).fit(gdcore.LinearModel(3, dtype=np.float32), X * 1e25, y * 1e25)


@pytest.mark.parametrize("batch_size", [None, 10])
def test_auto_step_in_raw_coordinates_on_overflowing_x(batch_size):
    """The Gram matrix overflows: a clear error, not LinAlgError nor a step of 0."""
    X, y = problem()
    trainer = gdcore.Trainer(precondition=None, batch_size=batch_size, epochs=10)
    with pytest.raises(ValueError, match="overflow"):
        trainer.learning_rate(gdcore.LinearModel(3), X * 1e160)
    with pytest.raises(ValueError, match="overflow"):
        trainer.fit(gdcore.LinearModel(3), X * 1e160, y)


@pytest.mark.parametrize("backend", REFERENCE_BACKENDS)
@pytest.mark.parametrize("sx, sy", [(1.0, 1e-200), (1e-200, 1.0), (1e150, 1.0), (1.0, 1e150),
                                    (1e100, 1e-100)])
def test_the_default_fit_is_certified_at_any_scale(backend, sx, sy):
    """Norms of gradients and errors are taken without overflow or underflow: a target
    near 1e-200 no longer looks converged at w = 0."""
    X, y = problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = gdcore.LinearModel(3)
        h = gdcore.Trainer(backend=backend).fit(model, X * sx, y * sy)
    assert h.converged
    estimate = np.append(model.w * sx / sy, model.b / sy)
    ref = least_squares(X, y)
    assert np.linalg.norm(estimate - ref) <= 2e-6 * np.linalg.norm(ref)
    assert math.isfinite(h.grad_norm) and h.grad_norm > 0


def test_data_too_small_for_the_gradient_is_warned_about():
    X, y = problem()
    with pytest.warns(gdcore.ConditioningWarning, match="too small"):
        gdcore.Trainer().fit(gdcore.LinearModel(3), X * 1e-160, y * 1e-160)


def test_predictions_that_overflow_are_an_error():
    model = gdcore.LinearModel(1, dtype=np.float32)
    model.w = [1e30]
    with pytest.raises(ValueError, match="overflow float32"):
        model.predict([[1e10]])
    net = gdcore.MLP([1, 2, 1], activation="identity", random_state=0)
    net.params = np.full(net.params.shape, 1e200)
    with pytest.raises(ValueError, match="overflow float64"):
        net.predict([[1e200]])


def test_regressor_predictions_that_overflow_are_an_error():
    pytest.importorskip("sklearn")
    from gdcore.sklearn import GDRegressor
    X = np.array([[1.0], [2.0], [3.0]])
    est = GDRegressor().fit(X, [2.0, 4.0, 6.0])
    with pytest.raises(ValueError, match="overflow float64"):
        est.predict([[1e308]])


# -- divergence, judged fairly -------------------------------------------------------------


@pytest.mark.parametrize("backend", gdcore.backends())
def test_an_mae_fit_started_at_its_optimum_is_not_a_divergence(backend):
    """Its first loss is 1e-15: a step that moves to 0.07 is not a blow-up."""
    X, y = np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([2.0, 4.0, 6.0, 8.0])
    model = gdcore.LinearModel(1)
    model.w, model.b = [2.0], 1e-15
    h = gdcore.Trainer(loss=gdcore.MAELoss(), lr=0.01, epochs=20, backend=backend).fit(
        model, X, y)
    assert h.status == "max_epochs" and np.all(np.isfinite(h.loss))


@pytest.mark.parametrize("backend", gdcore.backends())
def test_divergence_from_the_optimum_is_still_caught(backend):
    X, y = problem(noise=0.0)
    ref = least_squares(X, y)
    model = gdcore.LinearModel(3)
    model.w, model.b = ref[:3] + 1e-9, ref[3]
    with pytest.raises(gdcore.DivergenceError) as info:
        gdcore.Trainer(lr=1.0, epochs=10_000, tol=0.0, backend=backend).fit(model, X, y)
    assert info.value.history.n_epochs < 200
    assert np.all(np.isfinite(model.params))


@pytest.mark.parametrize("backend", gdcore.backends())
def test_a_diverging_mini_batch_fit_keeps_its_last_finite_parameters(backend):
    model = gdcore.LinearModel(1)
    with pytest.raises(gdcore.DivergenceError):
        gdcore.Trainer(lr=1e308, epochs=5, batch_size=3, backend=backend).fit(
            model, [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert np.all(np.isfinite(model.params))


# -- callbacks may set parameters -----------------------------------------------------------


@pytest.mark.parametrize("backend", REFERENCE_BACKENDS)
def test_parameters_set_in_a_callback_are_where_the_fit_goes_on(backend):
    X, y = problem()
    moved = np.array([10.0, -10.0, 5.0])

    def callback(epoch, loss, model):
        if epoch == 3:
            model.w = moved
            model.b = 1.0

    trainer = gdcore.Trainer(optimizer="gd", precondition="standardize", epochs=8, tol=0.0,
                             record_path=True, backend=backend)
    h = trainer.fit(gdcore.LinearModel(3), X, y, callback=callback)
    fresh = gdcore.LinearModel(3)
    fresh.w, fresh.b = moved, 1.0
    again = gdcore.Trainer(optimizer="gd", precondition="standardize", epochs=5, tol=0.0,
                           record_path=True, backend=backend).fit(fresh, X, y)
    np.testing.assert_array_equal(h.path[3:], again.path)


def test_the_default_fit_continues_from_a_callback_and_converges():
    X, y = problem()

    def callback(epoch, loss, model):
        if epoch == 2:
            model.w = [100.0, -100.0, 100.0]

    model = gdcore.LinearModel(3)
    h = gdcore.Trainer().fit(model, X, y, callback=callback)
    assert h.converged
    np.testing.assert_allclose(np.append(model.w, model.b), least_squares(X, y), rtol=1e-5)
    assert h.final_loss == pytest.approx(gdcore.MSELoss()(y, model.predict(X)), rel=1e-12)


def test_network_layers_cannot_be_cut_loose_from_the_parameters():
    net = gdcore.MLP([2, 3, 1], random_state=0)
    with pytest.raises(TypeError):
        net.weights[0] = np.zeros((2, 3))
    net.weights = [np.ones((2, 3)), np.full((3, 1), 2.0)]
    assert np.shares_memory(net.weights[0], net.params)
    assert np.all(net.params[:6] == 1.0)
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape"):
        net.weights = [np.ones((2, 3)), np.ones((1, 3))]
    with pytest.raises(ValueError, match=r"biases\[0\] must be finite"):
        net.biases = [np.full(3, np.inf), np.zeros(1)]


# -- inputs ------------------------------------------------------------------------------------


def test_gradient_check_refuses_what_it_cannot_check():
    X, y = problem()
    with pytest.raises(ValueError, match="not finite"):
        gdcore.gradient_check(gdcore.LinearModel(3), gdcore.MSELoss(), X * 1e200, y * 1e200)
    for step in (math.nan, 0.0, -1e-4, 2.0, "a"):
        with pytest.raises(ValueError, match="step"):
            gdcore.gradient_check(gdcore.LinearModel(3), gdcore.MSELoss(), X, y, step=step)


def test_nullable_and_missing_pandas_values():
    pd = pytest.importorskip("pandas")
    X, y = problem(n=40, d=2)
    frame = pd.DataFrame({"a": pd.array(np.round(X[:, 0] * 100).astype(int), dtype="Int64"),
                          "b": X[:, 1]})
    plain = frame.astype(float).to_numpy()
    m1, m2 = gdcore.LinearModel(2), gdcore.LinearModel(2)
    gdcore.Trainer().fit(m1, frame, y)
    gdcore.Trainer().fit(m2, plain, y)
    np.testing.assert_array_equal(m1.params, m2.params)
    frame.loc[3, "a"] = pd.NA
    with pytest.raises(ValueError, match="X contains missing values"):
        gdcore.Trainer().fit(gdcore.LinearModel(2), frame, y)


def test_masked_arrays_are_refused_when_something_is_masked():
    X, y = problem(n=40, d=2)
    masked = np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool))
    m1, m2 = gdcore.LinearModel(2), gdcore.LinearModel(2)
    gdcore.Trainer().fit(m1, masked, y)
    gdcore.Trainer().fit(m2, X, y)
    np.testing.assert_array_equal(m1.params, m2.params)
    masked[0, 1] = np.ma.masked
    with pytest.raises(ValueError, match="X is a masked array"):
        gdcore.Trainer().fit(gdcore.LinearModel(2), masked, y)
    with pytest.raises(ValueError, match="X is a masked array"):
        m1.predict(masked)
    with pytest.raises(ValueError, match="y is a masked array"):
        gdcore.Trainer().fit(gdcore.LinearModel(2), X, np.ma.masked_less(y, np.median(y)))


def test_models_too_large_for_memory_are_refused_before_allocating():
    with pytest.raises(ValueError, match="n_features .* more than this machine's"):
        gdcore.LinearModel(2 ** 50)
    with pytest.raises(ValueError, match="layer_sizes .* more than this machine's"):
        gdcore.MLP([10 ** 6, 10 ** 6, 1])
    with pytest.raises(ValueError, match="n_features .* more parameters than any memory holds"):
        gdcore.LinearModel(10 ** 400)  # no OverflowError on the way to the message
    with pytest.raises(ValueError, match="layer_sizes .* more parameters than any memory holds"):
        gdcore.MLP([10 ** 200, 10 ** 200, 1])


def test_parameter_setters_name_the_parameter():
    model = gdcore.LinearModel(2)
    with pytest.raises(ValueError, match="w must be real numbers"):
        model.w = ["a", "b"]
    f32 = gdcore.LinearModel(1, dtype=np.float32)
    for name, value in (("w", [1e39]), ("b", 1e39)):
        with pytest.raises(ValueError, match=f"{name} must be finite"):
            setattr(f32, name, value)


# -- GDRegressor -------------------------------------------------------------------------------


def test_float32_regressor_keeps_the_digits_of_offset_features():
    pytest.importorskip("sklearn")
    from gdcore.sklearn import GDRegressor
    rng = np.random.default_rng(0)
    X = 1e8 + rng.uniform(0, 100, size=(200, 1))
    y = X[:, 0] - 1e8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = GDRegressor(dtype="float32").fit(X, y)
    prediction = reg.predict(X)
    assert prediction.dtype == np.float64
    assert np.max(np.abs(prediction - y)) < 1e-2  # float32 digits of [0, 100], not of 1e8


@pytest.mark.parametrize("sx, sy", [(1e-160, 1e-160), (1.0, 1e-200), (1e-16, 1e-15),
                                    (1e155, 1.0)])
def test_regressor_is_scale_free(sx, sy):
    pytest.importorskip("sklearn")
    from gdcore.sklearn import GDRegressor
    X, y = problem()
    reg = GDRegressor().fit(X * sx, y * sy)
    ref = least_squares(X, y)
    np.testing.assert_allclose(reg.coef_ * sx / sy, ref[:3], rtol=1e-5)
    assert reg.intercept_ / sy == pytest.approx(ref[3], rel=1e-5)
    assert reg.n_iter_ > 0
