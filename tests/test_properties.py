"""Proven, not hoped: properties of every fit, checked on generated inputs (hypothesis).

For any shape (n = 1, d = 1, d > n, more than 256 features), dtype, memory layout,
container and value (subnormals, signed zeros, 1e300, integers past 2**53):

* nothing crashes, and what fails raises a documented exception (ValueError,
  TypeError, DivergenceError) whose message names the argument at fault, and
  warns only with gdcore's warnings;
* what returns is finite: parameters, predictions, the History's numbers;
* the same values in any layout or container fit bit for bit like the
  C-contiguous array of the model's dtype, and nothing passed in is modified;
* the three engines agree, and save/load (and pickle) give back the same model;
* GDRegressor obeys the same.

The examples are derandomized and their number fixed (``strategies.budget``):
``GDCORE_FUZZ_EXAMPLES=100000 pytest tests/test_properties.py`` is the long run.
"""

from __future__ import annotations

import math
import pickle
import re
import textwrap
import warnings
from typing import Any, Callable, Dict, Tuple

import numpy as np
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

import gdcore
from child import run_child
from strategies import (DOCUMENTED_ERRORS, LAYOUTS, SPECIAL_VALUES, assert_unmodified, budget,
                        check_error, check_warnings, plain_problems, problems, snapshot,
                        trainer_settings)

pd = pytest.importorskip("pandas")

DTYPES = [np.float64, np.float32]
ACTIVATIONS = ["tanh", "relu", "sigmoid", "identity"]


@pytest.fixture(scope="module")
def tmp_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("props"))


@st.composite
def model_factories(draw: Any, d: int, mlp: bool = True) -> Callable[[], gdcore.Model]:
    """A way to build a fresh model of width d (the same one every call)."""
    dtype = draw(st.sampled_from(DTYPES))
    if mlp and draw(st.integers(0, 3)) == 0:
        hidden = draw(st.lists(st.integers(1, 4), min_size=0, max_size=2))
        activation = draw(st.sampled_from(ACTIVATIONS))
        seed = draw(st.integers(0, 1000))
        return lambda: gdcore.MLP([d, *hidden, 1], activation=activation, dtype=dtype,
                                  random_state=seed)
    fit_intercept = draw(st.booleans())
    return lambda: gdcore.LinearModel(d, dtype=dtype, fit_intercept=fit_intercept)


def _message(exc: BaseException) -> str:
    """An error's message without the conversion note, which depends on the input's dtype."""
    return re.sub(r" \(after conversion to float(32|64)\)", "", str(exc))


def outcome(make_model: Callable[[], gdcore.Model], X: Any, y: Any,
            settings: Dict[str, Any]) -> Tuple[Any, ...]:
    """Everything a fit produces, comparable bit for bit: (kind, ...) and the warnings.

    Checks on the way that an error is documented and names its argument, that
    warnings are gdcore's, and that what returns is finite.
    """
    model = make_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            history = gdcore.Trainer(**settings).fit(model, X, y)
        except DOCUMENTED_ERRORS as exc:
            check_error(exc)
            assert np.all(np.isfinite(model.params)), "an error left non-finite parameters"
            result: Tuple[Any, ...] = ("error", type(exc), _message(exc), model.params.tobytes())
        else:
            assert np.all(np.isfinite(model.params)), model.params
            assert math.isfinite(history.final_loss), history
            assert math.isfinite(history.grad_norm), history
            assert np.all(np.isfinite(history.loss)), history.loss
            assert history.n_epochs <= (settings.get("epochs") or 10 ** 9)
            try:
                predictions: Any = model.predict(X).tobytes()
            except ValueError as exc:  # predictions that overflow the dtype: named, not inf
                check_error(exc)
                predictions = str(exc)
            result = ("fit", model.params.tobytes(), history.loss.tobytes(), history.status,
                      history.n_epochs, history.grad_norm, history.final_loss, predictions)
    check_warnings(caught)
    return result + (sorted({(w.category.__name__, str(w.message)) for w in caught}),)


# -- layouts and containers agree, nothing is modified ----------------------------------------


@budget(500)
@given(data=st.data(), problem=problems(max_n=25, wide=False),
       x_layout=st.sampled_from(sorted(LAYOUTS)), y_layout=st.sampled_from(sorted(LAYOUTS)))
def test_any_layout_or_container_fits_bit_for_bit_like_a_c_array(tmp_dir, data, problem,
                                                                  x_layout, y_layout):
    X, y = problem
    make_model = data.draw(model_factories(X.shape[1]))
    settings = data.draw(trainer_settings(X.shape[0], linear=isinstance(make_model(),
                                                                          gdcore.LinearModel)))
    dtype = make_model().dtype
    with np.errstate(over="ignore"):
        reference = outcome(make_model, X.astype(dtype), y.astype(dtype), settings)
    Xv, yv = LAYOUTS[x_layout](X, tmp_dir), LAYOUTS[y_layout](y, tmp_dir)
    before = snapshot(Xv), snapshot(yv)
    assert outcome(make_model, Xv, yv, settings) == reference
    assert_unmodified(before[0], Xv)
    assert_unmodified(before[1], yv)


INTEGER_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                  np.uint64, np.bool_, np.float16, np.float32]


@st.composite
def typed_arrays(draw: Any, shape: Tuple[int, ...]) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(INTEGER_DTYPES)))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 10.0 ** draw(st.integers(-3, 3))).astype(dtype)
    info = np.iinfo(dtype)
    small = rng.integers(max(info.min, -100), min(info.max, 100), size=shape, endpoint=True)
    out = small.astype(dtype)
    if draw(st.booleans()):  # the type's extremes, int64 max included
        flat = out.reshape(-1)
        for _ in range(draw(st.integers(1, 3))):
            flat[draw(st.integers(0, flat.size - 1))] = draw(st.sampled_from([info.min, info.max]))
    return out


@budget(200)
@given(data=st.data(), n=st.integers(1, 20), d=st.integers(1, 4))
def test_integer_bool_and_small_float_data_fit_like_their_conversion(tmp_dir, data, n, d):
    """Integer types (to int64 max), bool, float16 and float32 data: the same fit as the
    C array of the model's dtype they convert to, and left unmodified."""
    X = data.draw(typed_arrays((n, d)), "X")
    y = data.draw(typed_arrays((n,)), "y")
    make_model = data.draw(model_factories(d))
    settings = data.draw(trainer_settings(n, linear=isinstance(make_model(), gdcore.LinearModel),
                                          backends=("cython", "numpy")))
    dtype = make_model().dtype
    with np.errstate(over="ignore"):
        reference = outcome(make_model, X.astype(dtype), y.astype(dtype), settings)
    Xv = LAYOUTS[data.draw(st.sampled_from(["c", "fortran", "negative-strides", "list",
                                             "pandas", "unaligned"]))](X, tmp_dir)
    before = snapshot(Xv), snapshot(y)
    assert outcome(make_model, Xv, y, settings) == reference
    assert_unmodified(before[0], Xv)
    assert_unmodified(before[1], y)


def test_nullable_integer_columns_fit_like_their_values():
    """pandas' nullable Int64 (no NA) and Float64 columns, and a nullable Int64 target."""
    X, y = np.arange(12.0).reshape(6, 2) % 5, np.array([1.0, 3.0, 2.0, 5.0, 4.0, 7.0])
    frame = pd.DataFrame({"a": pd.array(X[:, 0].astype(int), dtype="Int64"),
                          "b": pd.array(X[:, 1], dtype="Float64")})
    target = pd.Series(y.astype(int), dtype="Int64")
    settings = dict(epochs=30)
    make_model = lambda: gdcore.LinearModel(2)  # noqa: E731
    assert outcome(make_model, frame, target, settings) == outcome(make_model, X, y, settings)


# -- what is not data is rejected, naming the argument ------------------------------------------


def _entry_points(X: Any, y: Any, d: int) -> Dict[str, Callable[[], Any]]:
    """Every public function that takes data, called on (X, y)."""
    from gdcore.sklearn import GDRegressor
    fitted = GDRegressor(epochs=3).fit(np.ones((3, d)) * np.arange(3.0)[:, None], np.arange(3.0))
    model = gdcore.LinearModel(d)
    return {
        "fit": lambda: gdcore.Trainer(epochs=3).fit(model, X, y),
        "fit-mlp": lambda: gdcore.Trainer(epochs=3).fit(gdcore.MLP([d, 2, 1], random_state=0),
                                                        X, y),
        "learning_rate": lambda: gdcore.Trainer().learning_rate(model, X),
        "predict": lambda: model.predict(X),
        "gradient": lambda: gdcore.MSELoss().gradient(model, X, y),
        "gradient_check": lambda: gdcore.gradient_check(model, gdcore.MSELoss(), X, y),
        "loss": lambda: gdcore.MAELoss()(y, y),
        "regressor-fit": lambda: GDRegressor(epochs=3).fit(X, y),
        "regressor-predict": lambda: fitted.predict(X),
    }


#: Which argument each entry point's message must name for bad X / bad y.
X_NAMES = {"loss": None}
Y_NAMES = {"learning_rate": None, "predict": None, "regressor-predict": None, "loss": "y_true"}


def _assert_rejected(call: Callable[[], Any], name: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises((ValueError, TypeError)) as info:
            call()
    check_warnings(caught, allowed=(Warning,))  # (the rejection is what matters here)
    assert re.search(rf"\b{re.escape(name)}\b", str(info.value)), (name, str(info.value))


def _ragged(a: np.ndarray) -> list:
    """Rows (or values) of unequal lengths."""
    listed = a.tolist()
    return listed + [[1.0] * (a.shape[1] + 1)] if a.ndim == 2 else [listed[0], [1.0, 2.0]]


BAD_KINDS = {
    "complex": lambda a: a + 1j,
    "complex64": lambda a: a.astype(np.complex64),
    "object-none": lambda a: np.where(np.arange(a.size).reshape(a.shape) == 0, None,
                                      a.astype(object)),
    "strings": lambda a: a.astype(str),
    "bytes": lambda a: a.astype("S8"),
    "datetime": lambda a: a.astype("datetime64[s]"),
    "timedelta": lambda a: a.astype("timedelta64[s]"),
    "string-list": lambda a: np.asarray(a).astype(str).tolist(),
    "pandas-strings": lambda a: (pd.DataFrame(a.astype(str)) if a.ndim == 2
                                 else pd.Series(a.astype(str))),
    "pandas-complex": lambda a: (pd.DataFrame(a + 1j) if a.ndim == 2 else pd.Series(a + 1j)),
    "ragged": lambda a: _ragged(a),
}


@budget(60)
@given(problem=plain_problems(max_n=8, max_d=3), kind=st.sampled_from(sorted(BAD_KINDS)),
       target=st.sampled_from(["X", "y"]))
def test_data_of_the_wrong_kind_is_rejected_naming_the_argument(problem, kind, target):
    """complex, object, strings, bytes, dates, ragged lists: a TypeError or ValueError
    naming X or y (y_true for a loss), from every entry point, before any work."""
    X, y = problem
    X, y = np.ascontiguousarray(X[:, :]) + 1.0, y + 1.0  # no zero: a date of 0 is still a date
    n, d = X.shape
    bad = BAD_KINDS[kind](X if target == "X" else y)
    for entry, call in _entry_points(bad if target == "X" else X, bad if target == "y" else y,
                                     d).items():
        name = (X_NAMES if target == "X" else Y_NAMES).get(entry, target)
        if name is None:
            continue
        if entry == "loss":
            call = (lambda b=bad: gdcore.MAELoss()(b, y)) if target == "y" else call
        note(entry)
        _assert_rejected(call, name)


NONFINITE = [math.nan, math.inf, -math.inf]


@budget(60)
@given(data=st.data(), problem=plain_problems(max_n=10, max_d=3),
       value=st.sampled_from(NONFINITE), target=st.sampled_from(["X", "y"]),
       layout=st.sampled_from(["c", "fortran", "list", "pandas", "pandas-nullable",
                               "big-endian", "unaligned", "masked", "non-contiguous"]))
def test_nan_and_inf_are_rejected_naming_the_argument(tmp_dir, data, problem, value, target,
                                                      layout):
    X, y = problem
    X, y = X.copy(), y.copy()
    bad = X if target == "X" else y
    bad.reshape(-1)[data.draw(st.integers(0, bad.size - 1))] = value
    bad = LAYOUTS[layout](bad, tmp_dir)
    Xv, yv = (bad, y) if target == "X" else (X, bad)
    before = snapshot(bad)
    for entry, call in _entry_points(Xv, yv, X.shape[1]).items():
        name = (X_NAMES if target == "X" else Y_NAMES).get(entry, target)
        if name is None:
            continue
        if entry == "loss" and target == "y":
            call = lambda: gdcore.MSELoss()(yv, y)  # noqa: E731
        note(entry)
        _assert_rejected(call, name)
    assert_unmodified(before, bad)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("target", ["X", "y"])
def test_float64_values_beyond_float32_are_rejected_for_a_float32_model(target):
    X, y = np.arange(6.0).reshape(3, 2), np.arange(3.0)
    (X if target == "X" else y)[1] = 1e300
    with pytest.raises(ValueError, match=rf"{target} contains NaN or infinite values "
                                         r"\(after conversion to float32\)"):
        gdcore.Trainer(epochs=3).fit(gdcore.LinearModel(2, dtype=np.float32), X, y)


def _empty_cases():
    yield "X", np.empty((0, 2)), np.empty(0)
    yield "X", np.empty((3, 0)), np.ones(3)
    yield "X", [], []
    yield "X", pd.DataFrame({"a": [], "b": []}, dtype=float), pd.Series([], dtype=float)
    yield "y", np.ones((3, 2)), np.empty(0)
    yield "X", np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.int64)
    yield "X", np.empty((0, 2), order="F")[::-1], np.empty(0)


@pytest.mark.parametrize("target, X, y", list(_empty_cases()))
def test_empty_data_is_rejected_naming_the_argument(target, X, y):
    d = 2
    for entry, call in _entry_points(X, y, d).items():
        name = (X_NAMES if target == "X" else Y_NAMES).get(entry, target)
        if name is None or (target == "X" and entry == "loss"):
            continue
        _assert_rejected(call, name)


@budget(40)
@given(problem=plain_problems(max_n=10, max_d=3), target=st.sampled_from(["X", "y"]),
       how=st.sampled_from(["pd.NA", "masked"]), data=st.data())
def test_missing_values_are_rejected_naming_the_argument(problem, target, how, data):
    X, y = problem
    bad_values = X if target == "X" else y
    position = data.draw(st.integers(0, bad_values.size - 1))
    if how == "pd.NA":
        bad = LAYOUTS["pandas-nullable"](bad_values, "")
        if target == "X":
            bad.iloc[position // X.shape[1], position % X.shape[1]] = pd.NA
        else:
            bad.iloc[position] = pd.NA
    else:
        mask = np.zeros(bad_values.shape, dtype=bool)
        mask.reshape(-1)[position] = True
        bad = np.ma.masked_array(bad_values, mask=mask)
    Xv, yv = (bad, y) if target == "X" else (X, bad)
    for entry, call in _entry_points(Xv, yv, X.shape[1]).items():
        name = (X_NAMES if target == "X" else Y_NAMES).get(entry, target)
        if name is None or entry == "loss":
            continue
        note(entry)
        _assert_rejected(call, name)


# -- any fit: finite results or a documented error, documented warnings only ---------------------


@budget(2000)
@given(data=st.data(), problem=problems())
def test_every_fit_is_finite_or_a_documented_error(data, problem):
    """Any data (extreme scales, subnormals, constant columns, d > n, d > 256), any model,
    any settings: finite parameters, History and predictions, or a documented error naming
    its argument (the model then keeps finite parameters); gdcore's warnings only; the
    inputs untouched."""
    X, y = problem
    make_model = data.draw(model_factories(X.shape[1], mlp=X.shape[1] < 100))
    linear = isinstance(make_model(), gdcore.LinearModel)
    backends = ("cython", "numpy", "python") if X.size <= 200 else ("cython", "numpy")
    settings = data.draw(trainer_settings(X.shape[0], linear=linear, backends=backends))
    note(f"X {X.shape} max|X| {np.max(np.abs(X)):.3g}, max|y| {np.max(np.abs(y)):.3g}")
    before = snapshot(X), snapshot(y)
    outcome(make_model, X, y, settings)
    assert_unmodified(before[0], X)
    assert_unmodified(before[1], y)


# -- the engines agree ---------------------------------------------------------------------------

#: Agreement of the engines after at most 20 epochs, relative to the parameters' norm.
#: float64: each pass sums at most 30 rows in a different order (cython's SIMD lanes,
#: BLAS, Python left to right), a relative rounding of at most n eps ~ 7e-15 per sum; with
#: lr <= 1/L_B a step does not amplify a difference in the parameters (MSE: I - lr H is
#: non-expansive; MAE: the slopes are +-1 or 0 whatever the rounding, away from ties),
#: so 20 epochs stay below 20 x 7e-15 x the cancellation in the gradient: 1e-9 leaves
#: room for 1e3 of the latter. float32: cython rounds the parameters to float32 each
#: step, numpy sums in float32, python in doubles: 20 epochs x 30 rows x 6e-8 ~ 4e-5.
ENGINE_RTOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 2e-4}


def _close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return bool(np.linalg.norm(a - b) <= rtol * max(np.linalg.norm(a), np.linalg.norm(b), 1e-300))


@budget(300)
@given(problem=plain_problems(max_n=30, max_d=5), data=st.data())
def test_the_three_engines_take_the_same_steps(problem, data):
    """Plain steps with a given lr and epochs, full batch or mini-batches from a seed:
    cython, numpy and python agree (to ENGINE_RTOL) on the parameters and every loss."""
    X, y = problem
    n, d = X.shape
    dtype = np.dtype(data.draw(st.sampled_from(DTYPES)))
    fit_intercept = data.draw(st.booleans())
    loss = data.draw(st.sampled_from([gdcore.MSELoss(), gdcore.MAELoss()]))
    batch_size = data.draw(st.one_of(st.none(), st.integers(1, n)))
    safe = gdcore.Trainer(optimizer="gd", precondition=None, batch_size=batch_size).learning_rate(
        gdcore.LinearModel(d, fit_intercept=fit_intercept), X)
    # (below 1/L: a step of exactly 1/L lands one-row problems on the optimum, where a zero
    # gradient in one engine and 1e-17 in another stop tol=0 at different epochs)
    lr = safe * data.draw(st.sampled_from([0.05, 0.3, 0.9]))
    settings = dict(loss=loss, lr=lr, epochs=data.draw(st.integers(1, 20)), tol=0.0,
                    batch_size=batch_size, random_state=data.draw(st.integers(0, 2 ** 63)))
    runs = {}
    for backend in gdcore.backends():
        model = gdcore.LinearModel(d, dtype=dtype, fit_intercept=fit_intercept)
        history = gdcore.Trainer(backend=backend, **settings).fit(model, X, y)
        runs[backend] = (model.params.copy(), history)
    params, history = runs["cython"]
    for backend in ("numpy", "python"):
        other, other_history = runs[backend]
        assert _close(other, params, ENGINE_RTOL[dtype]), (backend, other, params)
        if other_history.n_epochs != history.n_epochs:
            # tol=0 stops only on an exactly zero gradient: at the optimum, to rounding,
            # where one engine's sums can cancel exactly and another's leave an ulp (a
            # float32 pass can round the residual to 0 where the reported gradient,
            # measured again, keeps an ulp: its loss is then 0)
            shorter = min(other_history, history, key=lambda h: h.n_epochs)
            assert shorter.converged and (shorter.grad_norm == 0.0
                                          or shorter.loss[-1] == 0.0), backend
        common = min(other_history.n_epochs, history.n_epochs)
        np.testing.assert_allclose(other_history.loss[:common], history.loss[:common],
                                   rtol=ENGINE_RTOL[dtype],
                                   atol=ENGINE_RTOL[dtype] * history.loss[0], err_msg=backend)


@budget(50)
@given(problem=plain_problems(max_n=20, max_d=3), data=st.data())
def test_the_three_engines_fit_a_network_alike(problem, data):
    X, y = problem
    hidden = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=2))
    activation = data.draw(st.sampled_from(ACTIVATIONS))
    batch_size = data.draw(st.one_of(st.none(), st.integers(1, X.shape[0])))
    runs = []
    for backend in gdcore.backends():
        net = gdcore.MLP([X.shape[1], *hidden, 1], activation=activation, random_state=1)
        X1 = X / np.max(np.abs(X))  # data of order one: steps of lr 0.01 stay stable
        h = gdcore.Trainer(lr=0.01, epochs=10, tol=0.0, batch_size=batch_size, random_state=3,
                           backend=backend).fit(net, X1, y / np.max(np.abs(y)))
        runs.append((net.params.copy(), h.loss))
    for params, losses in runs[1:]:
        assert _close(params, runs[0][0], 1e-9)
        np.testing.assert_allclose(losses, runs[0][1], rtol=1e-9)


@budget(50)
@given(problem=plain_problems(max_n=30, max_d=4), loss=st.sampled_from(["mse", "mae"]))
def test_the_engines_certify_the_same_default_fit(problem, loss):
    """The default fit (lr="auto") stops on a certificate: each engine's (w, b) is within
    tol of the optimum relative to ||(w, b)|| (the MSE's least squares, the MAE's objective),
    so the engines' MSE fits are within 2 tol (1 + tol) of each other."""
    X, y = problem
    assume(X.shape[0] > X.shape[1] + 2)
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gdcore.ConvergenceWarning)
        for backend in gdcore.backends():
            model = gdcore.LinearModel(X.shape[1])
            loss_ = gdcore.MSELoss() if loss == "mse" else gdcore.MAELoss()
            history = gdcore.Trainer(loss=loss_, backend=backend).fit(model, X, y)
            results.append((model.params.copy(), history))
    assume(all(h.converged for _, h in results))
    tol = 1e-6
    for params, history in results[1:]:
        if loss == "mse":
            assert _close(params, results[0][0], 2.5 * tol)
        else:
            assert history.final_loss == pytest.approx(results[0][1].final_loss, rel=2.5 * tol)


# -- save/load and pickle give back the same model ---------------------------------------------


@budget(60)
@given(problem=plain_problems(max_n=20, max_d=4), data=st.data())
def test_save_load_and_pickle_give_back_the_same_model(tmp_dir, problem, data):
    X, y = problem
    make_model = data.draw(model_factories(X.shape[1]))
    model = make_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            gdcore.Trainer(epochs=data.draw(st.integers(0, 20)), lr=0.01).fit(
                model, X / np.max(np.abs(X)), y / np.max(np.abs(y)))
        except gdcore.DivergenceError:
            pass  # the model keeps its last finite parameters: they round-trip too
    path = f"{tmp_dir}/model-{data.draw(st.integers(0, 3))}.gdm"
    if data.draw(st.booleans()):
        model.save(path)
    else:
        from gdcore.persist import save
        save(model, path)
    for clone in (gdcore.load(path), pickle.loads(pickle.dumps(model))):
        assert type(clone) is type(model) and clone.dtype == model.dtype
        assert clone.params.tobytes() == model.params.tobytes()
        assert clone.predict(X).tobytes() == model.predict(X).tobytes()
        assert clone._state()[0] == model._state()[0]  # the configuration
        clone.params[...] = 0  # its own buffer
        assert model.params.tobytes() != clone.params.tobytes() or not np.any(model.params)


# -- GDRegressor obeys the same ----------------------------------------------------------------


@budget(120)
@given(data=st.data(), problem=problems(max_n=25, wide=False),
       x_layout=st.sampled_from(sorted(LAYOUTS)), y_layout=st.sampled_from(sorted(LAYOUTS)))
def test_the_regressor_is_finite_or_an_error_whatever_the_layout(tmp_dir, data, problem, x_layout,
                                                                  y_layout):
    """Any data in any layout or container: the same fit bit for bit as the C array (or the
    same error, naming its argument), inputs unmodified, finite coefficients and
    predictions; pickle and model_.save give back the same predictions and parameters."""
    GDRegressor = _regressor()
    X, y = problem
    params = dict(loss=data.draw(st.sampled_from(["mse", "mae"])),
                  dtype=data.draw(st.sampled_from(["float64", "float32"])),
                  fit_intercept=data.draw(st.booleans()),
                  standardize=data.draw(st.booleans()),
                  epochs=data.draw(st.one_of(st.none(), st.integers(0, 30))),
                  backend=data.draw(st.sampled_from(["cython", "numpy"])))
    if data.draw(st.booleans()):
        params.update(batch_size=data.draw(st.integers(1, 40)), random_state=7)

    def run(Xv, yv):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                reg = GDRegressor(**params).fit(Xv, yv)
            except DOCUMENTED_ERRORS as exc:
                check_error(exc)
                return ("error", type(exc), _message(exc)), None
        from sklearn.exceptions import ConvergenceWarning
        check_warnings(caught, allowed=(ConvergenceWarning, gdcore.ConditioningWarning))
        assert np.all(np.isfinite(reg.coef_)) and math.isfinite(reg.intercept_)
        assert np.all(np.isfinite(reg.model_.params))
        predictions = reg.predict(Xv)
        return ("fit", reg.coef_.tobytes(), reg.intercept_, predictions.tobytes(),
                reg.n_iter_), reg

    reference, _ = run(X, y)
    Xv, yv = LAYOUTS[x_layout](X, tmp_dir), LAYOUTS[y_layout](y, tmp_dir)
    before = snapshot(Xv), snapshot(yv)
    result, reg = run(Xv, yv)
    assert result == reference
    assert_unmodified(before[0], Xv)
    assert_unmodified(before[1], yv)
    if reg is not None:
        clone = pickle.loads(pickle.dumps(reg))
        assert clone.predict(Xv).tobytes() == reg.predict(Xv).tobytes()
        reg.model_.save(f"{tmp_dir}/regressor.gdm")
        assert gdcore.load(f"{tmp_dir}/regressor.gdm").params.tobytes() == \
            reg.model_.params.tobytes()


# -- nothing crashes the interpreter ----------------------------------------------------------

CRASH_PROBE = """
import warnings, numpy as np, gdcore
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
def variants(a):
    yield a
    yield np.frombuffer(b"\\0" + a.tobytes(), dtype=a.dtype, offset=1).reshape(a.shape)
    yield a.astype(a.dtype.newbyteorder(">"))
    yield np.asfortranarray(a)[::-1]
    yield np.lib.stride_tricks.as_strided(a, shape=a.shape, strides=(0,) * a.ndim)
for n, d in [(1, 1), (2, 5), (3, 257), (40, 3)]:
    for scale in (5e-324, 1e-300, 1.0, 1e150, 3.4e38, 1.7e308):
        X = rng.standard_normal((n, d)) * scale
        y = rng.standard_normal(n) * scale
        for dtype in (np.float64, np.float32):
            for Xv in variants(X.astype(dtype) if scale < 1e38 or dtype == np.float64 else X):
                for kw in ({}, {"lr": 1e300, "epochs": 3}, {"batch_size": 1, "epochs": 2, "random_state": 0},
                           {"loss": gdcore.MAELoss(), "epochs": 50}):
                    for model in (gdcore.LinearModel(d, dtype=dtype),
                                  gdcore.MLP([d, 3, 1], dtype=dtype, random_state=0)):
                        try:
                            gdcore.Trainer(**kw).fit(model, Xv, y)
                            model.predict(Xv)
                        except (ValueError, TypeError, gdcore.DivergenceError):
                            pass
print("survived")
"""


def test_the_compiled_code_survives_hostile_layouts_in_a_subprocess():
    """Unaligned, byte-swapped, negative-strided and zero-strided buffers, subnormal to 1.7e308
    values, n = 1, d = 257, through the compiled kernels: a crash would kill only the child."""
    done = run_child(textwrap.dedent(CRASH_PROBE), timeout=600)
    assert done.returncode == 0 and "survived" in done.stdout, (done.returncode, done.stderr[-2000:])


# -- regressions: defects the properties above found, minimised -----------------------------------


def _strict_warnings():
    """Turn every warning but gdcore's into an error."""
    context = warnings.catch_warnings()
    context.__enter__()
    warnings.simplefilter("error")
    for category in (gdcore.ConvergenceWarning, gdcore.ConditioningWarning):
        warnings.simplefilter("ignore", category)
    return context


@pytest.fixture
def strict_warnings():
    context = _strict_warnings()
    yield
    context.__exit__(None, None, None)


@pytest.mark.parametrize("backend", gdcore.backends())
@pytest.mark.parametrize("y, norm", [([1e150, 1e150], "nan"), ([1e150, 0.0], "inf")])
def test_a_gradient_that_overflows_where_the_fit_starts_is_an_error(strict_warnings, backend,
                                                                    y, norm):
    """The loss is finite (1e300) but its gradient overflows: a History with grad_norm nan
    and status "converged" (or inf and "max_epochs") was returned."""
    # (numpy sums the two infinite terms in another order: inf where the others get nan)
    with pytest.raises(ValueError, match=rf"gradient norm is ({norm}|inf) .* too large .* "
                                         r"\|X\| 1e\+300, \|y\| 1e\+150"):
        gdcore.Trainer(lr=1e-3, epochs=0, backend=backend).fit(gdcore.LinearModel(1),
                                                               [1e300, -1e300], y)


@pytest.mark.parametrize("backend", ["cython", "python"])
def test_the_loops_do_not_call_a_nan_gradient_converged(backend):
    from gdcore.backends import get_backend
    from gdcore.loop import CONVERGED, Settings, StopRule, new_state
    from gdcore.optim import SGD, Constant
    X, y = np.array([[1e300], [-1e300]]), np.array([1e150, 1e150])
    model = gdcore.LinearModel(1)
    objective = model._objective(get_backend(backend), gdcore.MSELoss(), X, y)
    settings = Settings(optimizer=SGD(1e-3), lr=1e-3, schedule=Constant(), epochs=5,
                        batch_size=None, seed=0, n_free=2, stop=StopRule(abs_tol=0.0))
    fit = get_backend(backend).start(objective, model.params, new_state(settings, model.params),
                                     settings)
    result = fit.advance(5)
    assert math.isnan(result.grad_norm)
    assert result.status != CONVERGED


def test_the_mae_fit_of_data_near_1e300_reports_its_gradient_norm(strict_warnings):
    """np.linalg.norm squared the gradient (1e300): overflow, grad_norm inf, a warning."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 2)) * 1e300, rng.standard_normal(40) * 1e300
    history = gdcore.Trainer(loss=gdcore.MAELoss()).fit(gdcore.LinearModel(2), X, y)
    assert history.converged and 0 < history.grad_norm < math.inf


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss", [gdcore.MSELoss(), gdcore.MAELoss()], ids=["mse", "mae"])
@pytest.mark.parametrize("X", [[[5e-324]], [[5e-324], [0.0], [1e-320]]], ids=["one", "three"])
def test_subnormal_columns_neither_warn_nor_fail(strict_warnings, X, loss, fit_intercept):
    """A subnormal column's scale had no finite reciprocal: RuntimeWarnings (overflow in the
    error map, the coordinates, the MAE's dual bound) and, for the MAE, a ZeroDivisionError."""
    model = gdcore.LinearModel(1, fit_intercept=fit_intercept)
    y = np.arange(len(X), dtype=np.float64) * 1e-310
    gdcore.Trainer(loss=loss).fit(model, X, y)
    assert np.all(np.isfinite(model.params))


def test_the_mae_path_stops_before_its_width_underflows(strict_warnings):
    """A target of 5e-324: the smoothing width shrank to 0 and SmoothedMAE(0) raised
    "width must be a positive finite number", naming no argument of the user's."""
    model = gdcore.LinearModel(2, fit_intercept=False)
    history = gdcore.Trainer(loss=gdcore.MAELoss()).fit(model, [[0.13, -0.1]], [5e-324])
    assert np.all(np.isfinite(model.params)) and history.status in ("converged", "stalled")


@pytest.mark.parametrize("case", ["numpy-loop", "numpy-wide-curvature", "mlp-safe-lr",
                                  "mlp-auto-lr"])
def test_overflow_in_a_fit_is_reported_by_gdcore_not_by_numpy(strict_warnings, case):
    """Overflows the fit handles (inf, then a clear error) leaked NumPy RuntimeWarnings."""
    if case == "numpy-loop":
        fit = lambda: gdcore.Trainer(lr=1e-3, epochs=3, backend="numpy").fit(  # noqa: E731
            gdcore.LinearModel(1), [1e300, -1e300], [1e150, 0.0])
    elif case == "numpy-wide-curvature":
        X = np.random.default_rng(0).standard_normal((3, 70))
        X[0, 0] = 1e160
        fit = lambda: gdcore.Trainer(precondition=None, epochs=3, backend="numpy").fit(  # noqa
            gdcore.LinearModel(70), X, np.ones(3))
    elif case == "mlp-safe-lr":
        fit = lambda: gdcore.Trainer(epochs=1).fit(  # noqa: E731
            gdcore.MLP([1, 2, 1], random_state=0), [[3.4e38], [1.0]], [0.5, 0.0])
    else:
        fit = lambda: gdcore.Trainer(optimizer="gd", epochs=1).fit(  # noqa: E731
            gdcore.MLP([1, 1], activation="identity", random_state=0), [1e300, -1e300],
            [1.0, 2.0])
    try:
        fit()
    except DOCUMENTED_ERRORS as exc:
        check_error(exc)


@pytest.mark.parametrize("make", [lambda: pd.DataFrame({"a": ["1.5", "2"], "b": ["3", "4"]}),
                                  lambda: pd.DataFrame({"a": ["1.5", "2"]}, dtype="string"),
                                  lambda: pd.Series(["1.5", "2"])],
                         ids=["object-strings", "string-dtype", "series"])
def test_pandas_strings_are_not_numbers(make):
    """pandas columns of strings went through the nullable-columns path, whose
    to_numpy(float64) parsed them: '1.5' was fitted as 1.5 (numpy strings are refused)."""
    data = make()
    width = data.shape[1] if data.ndim == 2 else 1
    with pytest.raises(TypeError, match="X must be numeric"):
        gdcore.Trainer(epochs=2).fit(gdcore.LinearModel(width), data, [1.0, 2.0])
    with pytest.raises(TypeError, match="y must be numeric"):
        gdcore.Trainer(epochs=2).fit(gdcore.LinearModel(1), [1.0, 2.0], pd.Series(["1", "2"]))


# -- GDRegressor regressions --------------------------------------------------------------------


def _regressor():
    return pytest.importorskip("gdcore.sklearn").GDRegressor


@pytest.mark.parametrize("target", ["X", "y"])
@pytest.mark.parametrize("kind", ["str", "S8", "datetime64[s]", "timedelta64[s]"])
def test_regressor_refuses_strings_and_dates(target, kind):
    """scikit-learn parsed X of strings ('1.5') and dates as numbers; y of strings or dates
    failed inside the fit with numpy's UFuncTypeError."""
    X, y = np.arange(1.0, 7.0).reshape(3, 2), np.arange(1.0, 4.0)
    X, y = (X.astype(kind), y) if target == "X" else (X, y.astype(kind))
    with pytest.raises(TypeError, match=rf"{target} must be numeric"):
        _regressor()(epochs=3).fit(X, y)


@pytest.mark.parametrize("X, y, message", [
    (np.empty((0, 2)), np.empty(0), r"X: Found array with 0 sample"),
    (np.ones((3, 2)), np.empty(0), r"y: Found array with 0 sample"),
    (np.ones((3, 2)), np.ones(2), r"X and y have different lengths"),
    (np.ones((3, 2)) + 1j, np.ones(3), r"X: Complex data not supported"),
    (np.ones((3, 2)), np.ones(3) + 1j, r"y: Complex data not supported"),
], ids=["empty-X", "empty-y", "lengths", "complex-X", "complex-y"])
def test_regressor_errors_name_the_argument(X, y, message):
    """scikit-learn's own messages ('Found array with 0 sample(s)', 'Complex data not
    supported', 'inconsistent numbers of samples') named neither X nor y."""
    with pytest.raises(ValueError, match=message):
        _regressor()(epochs=3).fit(X, y)


def test_regressor_on_a_target_near_1e300(strict_warnings):
    """loss_curve_ = loss * y_scale ** 2 raised OverflowError (a Python float power)."""
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0) % 3 * 1e300
    reg = _regressor()().fit(X, y)
    assert np.all(np.isfinite(reg.coef_)) and math.isfinite(reg.intercept_)
    assert reg.loss_curve_.shape == (reg.n_iter_,)


@pytest.mark.parametrize("dtype, sx, sy", [("float32", 1e-30, 1e30), ("float64", 1e-200, 1e200)])
def test_regressor_coefficients_beyond_the_dtype_are_an_error_naming_x_and_y(dtype, sx, sy):
    """The coefficients in the user's units overflowed the model's dtype: the error said
    'w must be finite', an argument the user never passed."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    y = X @ np.array([1.0, -2.0]) + 0.1 * rng.standard_normal(20)
    with pytest.raises(ValueError, match=rf"coefficients overflow {dtype} .* rescale X or y"):
        _regressor()(dtype=dtype).fit(X * sx, y * sy)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_regressor_fits_and_predicts_fortran_data_bit_for_bit_like_c_data(dtype):
    """X in Fortran order reached X.mean(axis=0) (the float32 fit's centring) and
    X @ coef_ (predict) as such: sums in another order, another last bit."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 7)) * 1e4 + 3e5
    y = X @ np.arange(7.0) + rng.standard_normal(300)
    a = _regressor()(dtype=dtype).fit(X, y)
    b = _regressor()(dtype=dtype).fit(np.asfortranarray(X), y)
    assert a.coef_.tobytes() == b.coef_.tobytes() and a.intercept_ == b.intercept_
    assert a.predict(X).tobytes() == b.predict(np.asfortranarray(X)).tobytes()
