"""Bad input raises before any work, naming the argument; good input of any usual form works;
user arrays are never modified."""

from __future__ import annotations

import warnings
import numpy as np
import pytest

import gdcore
from helpers import lstsq, make_problem


@pytest.fixture
def data():
    X, y, _, _ = make_problem(30, 3, 0, noise=0.1)
    return X, y


def fit(X, y, n_features=3, backend="cython", **kw):
    model = gdcore.LinearModel(n_features)
    kw.setdefault("epochs", 5)
    gdcore.Trainer(backend=backend, **kw).fit(model, X, y)
    return model


# ------------------------------------------------------------- bad data --

def bad_data_cases():
    X, y, _, _ = make_problem(30, 3, 0, noise=0.1)
    nan_X = X.copy()
    nan_X[4, 1] = np.nan
    inf_X = X.copy()
    inf_X[0, 0] = np.inf
    ninf_X = X.copy()
    ninf_X[29, 2] = -np.inf
    nan_y = y.copy()
    nan_y[7] = np.nan
    inf_y = y.copy()
    inf_y[-1] = np.inf
    obj_X = X.astype(object)
    obj_X[3, 1] = None
    obj_y = list(y)
    obj_y[2] = None
    return [
        pytest.param(nan_X, y, ValueError, r"X contains NaN", id="nan-in-X"),
        pytest.param(inf_X, y, ValueError, r"X contains NaN or infinite", id="inf-in-X"),
        pytest.param(ninf_X, y, ValueError, r"X contains NaN or infinite", id="-inf-in-X"),
        pytest.param(X, nan_y, ValueError, r"y contains NaN", id="nan-in-y"),
        pytest.param(X, inf_y, ValueError, r"y contains NaN or infinite", id="inf-in-y"),
        pytest.param(X, y[:-1], ValueError, r"X and y have different lengths", id="len-mismatch"),
        pytest.param(X[:-2], y, ValueError, r"X and y have different lengths", id="len-mismatch-2"),
        pytest.param(np.empty((0, 3)), np.empty(0), ValueError, r"X is empty", id="empty-X"),
        pytest.param([], [], ValueError, r"X is empty", id="empty-list-X"),
        pytest.param(X.reshape(30, 3, 1), y, ValueError, r"X must be 1-D or 2-D, got 3-D",
                     id="3d-X"),
        pytest.param(np.float64(1.0), y, ValueError, r"X must be 1-D or 2-D, got 0-D", id="0d-X"),
        pytest.param(np.empty((30, 0)), y, ValueError, r"X has no features", id="no-features-X"),
        pytest.param(X, np.empty(0), ValueError, r"y is empty", id="empty-y"),
        pytest.param(X, y[:, None], ValueError, r"y must be 1-D, got 2-D", id="2d-y"),
        pytest.param(X, np.float64(2.0), ValueError, r"y must be 1-D, got 0-D", id="0d-y"),
        pytest.param(np.full((30, 3), "a"), y, TypeError, r"X must be numeric", id="str-X"),
        pytest.param(X, ["a"] * 30, TypeError, r"y must be numeric", id="str-y"),
        pytest.param(obj_X, y, TypeError, r"X must be numeric", id="object-None-X"),
        pytest.param(X, obj_y, TypeError, r"y must be numeric", id="object-None-y"),
        pytest.param(X + 1j, y, TypeError, r"X must be real", id="complex-X"),
        pytest.param(X, y.astype(np.complex128), TypeError, r"y must be real", id="complex-y"),
        pytest.param([[1.0, 2.0, 3.0], [1.0, 2.0]], [1.0, 2.0], ValueError, r"X must be",
                     id="ragged-X"),
    ]


@pytest.mark.parametrize("X,y,exc,match", bad_data_cases())
def test_bad_data_raises_naming_the_argument(backend, X, y, exc, match):
    model = gdcore.LinearModel(3)
    trainer = gdcore.Trainer(backend=backend, epochs=5)
    with pytest.raises(exc, match=match):
        trainer.fit(model, X, y)
    # raised before any work: the model is untouched
    assert np.all(model.w == 0.0) and model.b == 0.0


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_float32_overflow_on_conversion_is_reported():
    X, y, _, _ = make_problem(10, 2, 0)
    X[3, 0] = 1e300  # finite in float64, inf once converted to the model's float32
    with pytest.raises(ValueError, match=r"X contains NaN or infinite values \(after conversion"):
        gdcore.Trainer().fit(gdcore.LinearModel(2, dtype=np.float32), X, y)


def test_bad_data_for_loss_and_gradient(data):
    X, y = data
    model = gdcore.LinearModel(3)
    with pytest.raises(ValueError, match="y_true and y_pred have different lengths"):
        gdcore.MSELoss()(y, y[:-1])
    with pytest.raises(ValueError, match="y_pred contains NaN"):
        gdcore.MSELoss()(y, np.full_like(y, np.nan))
    with pytest.raises(ValueError, match="y_true must be 1-D"):
        gdcore.MAELoss()(X, y)
    with pytest.raises(ValueError, match="X contains NaN"):
        gdcore.MSELoss().gradient(model, np.full_like(X, np.nan), y)
    with pytest.raises(ValueError, match="features"):
        gdcore.MSELoss().gradient(model, X[:, :2], y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match="X contains NaN"):
        model.predict(np.full_like(X, np.inf))


# ------------------------------------------------------- bad parameters --

@pytest.mark.parametrize("lr", [0, 0.0, -0.1, -1, float("nan"), float("inf"), -float("inf"),
                                "fast", "AUTO", "", True, False, None, [0.1], 1 + 0j])
def test_bad_lr(lr):
    with pytest.raises(ValueError, match="lr"):
        gdcore.Trainer(lr=lr)


@pytest.mark.parametrize("epochs", [-1, -100, 2.5, 10.0, "10", True, float("nan")])
def test_bad_epochs(epochs):
    with pytest.raises(ValueError, match="epochs"):
        gdcore.Trainer(epochs=epochs)


@pytest.mark.parametrize("batch_size", [0, -1, -32, 2.0, "8", True])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        gdcore.Trainer(batch_size=batch_size)


def test_batch_size_larger_than_n_samples(data, backend):
    X, y = data
    model = gdcore.LinearModel(3)
    with pytest.raises(ValueError,
                       match=r"batch_size must be at most the number of samples \(30\)"):
        gdcore.Trainer(batch_size=31, backend=backend).fit(model, X, y)
    assert np.all(model.w == 0.0)
    fit(X, y, batch_size=30, backend=backend)  # exactly n is fine


@pytest.mark.parametrize("tol", [-1e-9, float("nan"), "small", True])
def test_bad_tol(tol):
    with pytest.raises(ValueError, match="tol"):
        gdcore.Trainer(tol=tol)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-6), (np.float32, 1e-4)])
def test_default_tol_follows_the_dtype(dtype, tol):
    """float32 cannot certify 1e-6: its default is 1e-4, reached without a warning."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = gdcore.LinearModel(3, dtype=dtype)
        history = gdcore.Trainer().fit(model, X, y)
    assert history.converged
    assert np.allclose(model.w, [1.0, -2.0, 0.5], rtol=10 * tol, atol=0)
    assert gdcore.strategy.DEFAULT_TOL[np.dtype(dtype)] == tol


@pytest.mark.parametrize("random_state", [-1, 1.5, "seed", True, np.random.RandomState(0)])
def test_bad_random_state(random_state):
    with pytest.raises(ValueError, match="random_state"):
        gdcore.Trainer(random_state=random_state)


@pytest.mark.parametrize("name", ["fortran", "Cython", "", None, 0])
def test_unknown_backend(name):
    with pytest.raises(ValueError, match="backend"):
        gdcore.Trainer(backend=name)


def test_bad_loss():
    with pytest.raises(TypeError, match="loss"):
        gdcore.Trainer(loss="mse")


def test_model_feature_mismatch(data, backend):
    X, y = data
    for n_features in (2, 4):
        with pytest.raises(ValueError, match=r"n_features=%d" % n_features):
            gdcore.Trainer(backend=backend).fit(gdcore.LinearModel(n_features), X, y)
    with pytest.raises(ValueError, match="n_features"):
        gdcore.Trainer(backend=backend).fit(gdcore.LinearModel(2), X[:, 0], y)  # 1-D X is 1 feature


def test_not_a_model(data):
    X, y = data
    with pytest.raises(TypeError, match="model"):
        gdcore.Trainer().fit("model", X, y)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float16, np.complex128, "int8", "U3",
                                   object, "not-a-dtype", bool])
def test_bad_model_dtype(dtype):
    with pytest.raises(TypeError, match="dtype"):
        gdcore.LinearModel(3, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32", "f8", np.dtype("float64")])
def test_good_model_dtype(dtype):
    assert gdcore.LinearModel(2, dtype=dtype).w.dtype == np.dtype(dtype)


@pytest.mark.parametrize("n_features", [0, -1, 2.0, "3", True, None])
def test_bad_n_features(n_features):
    with pytest.raises(ValueError, match="n_features"):
        gdcore.LinearModel(n_features)


def test_bad_parameter_assignment():
    model = gdcore.LinearModel(3)
    with pytest.raises(ValueError, match="w must have shape"):
        model.w = [1.0, 2.0]
    with pytest.raises(ValueError, match="w must be finite"):
        model.w = [1.0, np.nan, 2.0]
    for bad in (np.nan, np.inf, "1", True, None):
        with pytest.raises(ValueError, match="b must be"):
            model.b = bad
    assert np.all(model.w == 0.0) and model.b == 0.0


# --------------------------------------------------------- accepted input --

def accepted_cases():
    X, y, _, _ = make_problem(60, 4, 1, noise=0.2)
    Xf = np.asfortranarray(X)
    X_wide = np.repeat(X, 2, axis=1)  # X_wide[:, ::2] == X, a non-contiguous view
    X_ro, y_ro = X.copy(), y.copy()
    X_ro.setflags(write=False)
    y_ro.setflags(write=False)
    X_int = np.round(X * 3).astype(np.int64)
    y_int = np.round(y * 3).astype(np.int32)
    return [
        pytest.param(X.tolist(), y.tolist(), X, y, id="lists"),
        pytest.param(X_int, y_int, X_int, y_int, id="int-arrays"),
        pytest.param(X_int.tolist(), y_int.tolist(), X_int, y_int, id="int-lists"),
        pytest.param(X[:, 0], y, X[:, :1], y, id="1d-X"),
        pytest.param(X[:, 0].tolist(), y, X[:, :1], y, id="1d-list-X"),
        pytest.param(X_wide[:, ::2], y, X, y, id="strided-columns"),
        pytest.param(X[::-1], y[::-1], X[::-1], y[::-1], id="negative-strides"),
        pytest.param(np.repeat(X, 2, axis=0)[::2], np.repeat(y, 2)[::2], X, y, id="strided-rows"),
        pytest.param(Xf, y, X, y, id="fortran"),
        pytest.param(X_ro, y_ro, X, y, id="read-only"),
        pytest.param(X.astype(np.float32), y.astype(np.float32), X.astype(np.float32),
                     y.astype(np.float32), id="float32-data"),
        pytest.param(X > 0, y, X > 0, y, id="bool-X"),
    ]


@pytest.mark.parametrize("X,y,X_ref,y_ref", accepted_cases())
def test_accepted_inputs_fit_correctly(backend, X, y, X_ref, y_ref):
    d = np.asarray(X_ref).shape[1]
    model = gdcore.LinearModel(d)
    hist = gdcore.Trainer(tol=1e-11, epochs=3000, backend=backend).fit(model, X, y)
    assert hist.converged
    w_ref, b_ref = lstsq(X_ref, y_ref)
    np.testing.assert_allclose(np.r_[model.w, model.b], np.r_[w_ref, b_ref], rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("batch_size", [None, 7])
def test_read_only_inputs_all_paths(backend, dtype, batch_size):
    X, y, _, _ = make_problem(40, 3, 2, noise=0.1, dtype=dtype)
    X.setflags(write=False)
    y.setflags(write=False)
    model = gdcore.LinearModel(3, dtype=dtype)
    gdcore.Trainer(lr=0.05, epochs=5, batch_size=batch_size, random_state=0,
                   backend=backend).fit(model, X, y)
    model.predict(X)
    gdcore.MSELoss().gradient(model, X, y, backend=backend)
    gdcore.MAELoss()(y, model.predict(X))
    assert np.all(np.isfinite(model.w)) and np.any(model.w != 0.0)


# ------------------------------------------------------- nothing modified --

@pytest.mark.parametrize("model_dtype", [np.float64, np.float32], ids=["model64", "model32"])
@pytest.mark.parametrize("data_dtype", [np.float64, np.float32], ids=["data64", "data32"])
@pytest.mark.parametrize("batch_size", [None, 8])
@pytest.mark.parametrize("loss", [gdcore.MSELoss(), gdcore.MAELoss()], ids=["mse", "mae"])
def test_inputs_not_modified(backend, model_dtype, data_dtype, batch_size, loss):
    X, y, _, _ = make_problem(50, 3, 3, noise=0.3, dtype=data_dtype)
    X0, y0 = X.copy(), y.copy()
    model = gdcore.LinearModel(3, dtype=model_dtype)
    gdcore.Trainer(loss=loss, lr=0.05, epochs=10, tol=0.0, batch_size=batch_size, random_state=1,
                   backend=backend).fit(model, X, y)
    assert np.any(model.w != 0.0)
    loss.gradient(model, X, y, backend=backend)
    loss(y, model.predict(X))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    assert X.dtype == data_dtype and y.dtype == data_dtype


def test_list_inputs_not_modified(backend):
    X, y, _, _ = make_problem(20, 2, 4, noise=0.3)
    Xl, yl = X.tolist(), y.tolist()
    Xl0, yl0 = [row[:] for row in Xl], yl[:]
    fit(Xl, yl, n_features=2, backend=backend, batch_size=3, random_state=0)
    assert Xl == Xl0 and yl == yl0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unaligned_buffers_reach_the_kernels_aligned(dtype):
    """The kernels load whole values; UBSan reported a misaligned load before the copy."""
    from gdcore._validation import as_data
    def unaligned(values):
        return np.frombuffer(b"\0" + values.tobytes(), dtype=dtype, offset=1)
    X = unaligned(np.arange(1, 13, dtype=dtype)).reshape(6, 2)
    y = unaligned(np.arange(6, dtype=dtype))
    assert not X.flags.aligned and not y.flags.aligned
    Xc, yc = as_data(X, y, np.dtype(dtype))
    assert Xc.flags.aligned and Xc.flags.c_contiguous and yc.flags.aligned
    np.testing.assert_array_equal(Xc, X)
    np.testing.assert_array_equal(yc, y)
