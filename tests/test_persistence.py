"""Models round-trip through pickle and through save/load; bad files get clear errors."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

import gdcore
from gdcore.persist import HEADER, read


def fitted(dtype=np.float64, fit_intercept=True):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.25
    model = gdcore.LinearModel(3, dtype=dtype, fit_intercept=fit_intercept)
    gdcore.Trainer(epochs=50).fit(model, X, y)
    return model, X


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_save_load_round_trip(tmp_path, dtype, fit_intercept):
    model, X = fitted(dtype, fit_intercept)
    path = tmp_path / "model.gdm"  # any extension: nothing is appended
    model.save(path, metadata={"features": ["a", "b", "c"]})
    assert path.exists() and not (tmp_path / "model.gdm.npz").exists()
    loaded = gdcore.load(path)
    assert type(loaded) is gdcore.LinearModel
    assert loaded.dtype == dtype and loaded.fit_intercept == fit_intercept
    np.testing.assert_array_equal(loaded.w, model.w)
    assert loaded.b == model.b
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert read(str(path))[1] == {"features": ["a", "b", "c"]}
    # the loaded model keeps training like the original
    y = X.sum(axis=1)
    gdcore.Trainer(epochs=3).fit(model, X, y)
    gdcore.Trainer(epochs=3).fit(loaded, X, y)
    np.testing.assert_array_equal(loaded.w, model.w)


def test_pickle_round_trip(dtype):
    model, X = fitted(dtype)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.w, model.w)
    assert clone.b == model.b and clone.dtype == dtype
    clone.w = np.zeros(3)
    assert np.any(model.w != 0)  # independent buffers


def write_npz(path, header=None, **arrays):
    if header is not None:
        arrays[HEADER] = np.array(json.dumps(header))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


GOOD = {"format": "gdcore-model", "version": 1, "class": "LinearModel",
        "config": {"n_features": 2, "dtype": "float64", "fit_intercept": True}, "metadata": {}}


@pytest.mark.parametrize("case,match", [
    ("text", "not an .npz archive"),
    ("truncated", "not a gdcore model file"),
    ("foreign", "no gdcore header"),
    ("format", "wrong format tag"),
    ("version", "unsupported gdcore model file version"),
    ("class", "unknown model class 'Evil'"),
    ("pickled", "not a gdcore model file"),
    ("shape", "invalid LinearModel"),
    ("nan", "invalid LinearModel"),
    ("missing", "invalid LinearModel"),
    ("dtype", "invalid LinearModel"),
])
def test_bad_files_get_a_value_error_naming_the_file(tmp_path, case, match):
    path = tmp_path / f"{case}.gdm"
    good = dict(w=np.array([1.0, 2.0]), b=np.array([0.5]))
    if case == "text":
        path.write_text("w = 1, b = 2\n")
    elif case == "truncated":
        write_npz(path, GOOD, **good)
        path.write_bytes(path.read_bytes()[:-40])
    elif case == "foreign":
        write_npz(path, None, a=np.arange(3))
    elif case in ("format", "version", "class"):
        header = dict(GOOD, **{"format": "other"} if case == "format" else
                      {"version": 99} if case == "version" else {"class": "Evil"})
        write_npz(path, header, **good)
    elif case == "pickled":  # an object array: loading must not unpickle it
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(f"{HEADER}.npy", _npy(np.array(json.dumps(GOOD))))
            z.writestr("w.npy", _npy(np.array([{"x": 1}, 2], dtype=object)))
            z.writestr("b.npy", _npy(np.array([0.5])))
    elif case == "shape":
        write_npz(path, GOOD, w=np.array([1.0, 2.0, 3.0]), b=np.array([0.5]))
    elif case == "nan":
        write_npz(path, GOOD, w=np.array([1.0, np.nan]), b=np.array([0.5]))
    elif case == "missing":
        write_npz(path, GOOD, w=np.array([1.0, 2.0]))
    elif case == "dtype":
        write_npz(path, dict(GOOD, config=dict(GOOD["config"], dtype="int8")), **good)
    with pytest.raises(ValueError, match=match) as info:
        gdcore.load(path)
    assert str(path) in str(info.value)


def _npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def test_missing_file_and_bad_metadata(tmp_path):
    with pytest.raises(FileNotFoundError):
        gdcore.load(tmp_path / "none.gdm")
    model, _ = fitted()
    with pytest.raises(ValueError, match="metadata must be JSON-able"):
        model.save(tmp_path / "m.gdm", metadata={"f": object()})
    with pytest.raises(TypeError, match="model must be a gdcore model"):
        gdcore.persist.save("not a model", tmp_path / "m.gdm")


def test_a_new_model_class_plugs_in(tmp_path):
    class Scaled(gdcore.LinearModel):
        pass

    model = Scaled(2)
    model.w = [3.0, 4.0]
    model.save(tmp_path / "s.gdm")
    assert type(gdcore.load(tmp_path / "s.gdm")) is Scaled


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_mlp_round_trips_and_keeps_its_views(tmp_path, activation):
    """weights and biases are views of one flat buffer: after pickle or load, a fit must
    still move them (a naive pickle would leave stale copies)."""
    x = np.linspace(-2, 2, 64)
    net = gdcore.MLP([1, 8, 1], activation=activation, random_state=3)
    gdcore.Trainer(lr=0.05, epochs=5, tol=0).fit(net, x, np.sin(x))
    path = tmp_path / "net.npz"
    net.save(path)
    for clone in (pickle.loads(pickle.dumps(net)), gdcore.load(path)):
        assert type(clone) is gdcore.MLP and clone.layer_sizes == net.layer_sizes
        assert clone.activation == activation
        np.testing.assert_array_equal(clone.params, net.params)
        np.testing.assert_array_equal(clone.predict(x), net.predict(x))
        before = clone.weights[0].copy()
        gdcore.Trainer(lr=0.05, epochs=3, tol=0).fit(clone, x, np.sin(x))
        assert not np.array_equal(clone.weights[0], before)
        assert np.shares_memory(clone.weights[0], clone.params)


def test_mlp_file_with_wrong_arrays_is_refused(tmp_path):
    net = gdcore.MLP([2, 3, 1], random_state=0)
    path = tmp_path / "net.npz"
    net.save(path)
    with np.load(path, allow_pickle=False) as f:
        entries = {k: f[k] for k in f.files}
    key = next(k for k in entries if "params" in k)
    entries[key] = entries[key][:-1]  # one value short
    np.savez(path, **entries)
    with pytest.raises(ValueError, match="net.npz"):
        gdcore.load(path)
