"""gdcore fit and predict of .npy files: X with y in a file of its own or in one of its
columns, in memory or streamed from disk, the same model as the CSV of the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

import gdcore
from gdcore.cli import inputs, main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10_000, 3)) * [1.0, 10.0, 100.0]
    y = X @ [1.0, -2.0, 0.5] + 3.0 + 0.1 * rng.standard_normal(10_000)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "Xy.npy", np.column_stack([X, y]))
    np.savetxt(tmp_path / "Xy.csv", np.column_stack([X, y]), delimiter=",",
               header="0,1,2,3", comments="", fmt="%.17g")
    return tmp_path


def fit(data, target, out, *options):
    return main(["fit", str(data), "--target", str(target), "-o", str(out), *options])


def params(path):
    return gdcore.load(path).params


def test_npy_fits_equal_the_csv_fit(files, capsys):
    assert fit(files / "Xy.csv", "3", files / "csv.npz") == 0
    assert fit(files / "Xy.npy", "3", files / "column.npz") == 0
    assert fit(files / "X.npy", files / "y.npy", files / "file.npz") == 0
    out = capsys.readouterr().out
    assert "fitted y = 'y' from 3 feature(s), 10000 rows" in out  # the file's name
    assert "w[2] = 0.49" in out  # the columns named by number
    for name in ("column.npz", "file.npz"):
        assert np.array_equal(params(files / "csv.npz"), params(files / name))
    assert fit(files / "Xy.npy", "3", files / "two.npz", "--features", "2,0") == 0
    assert fit(files / "Xy.csv", "3", files / "two_csv.npz", "--features", "2,0") == 0
    assert np.array_equal(params(files / "two.npz"), params(files / "two_csv.npz"))
    meta = gdcore.persist.read(str(files / "two.npz"))[1]
    assert meta["features"] == ["2", "0"] and meta["target"] == "3"


@pytest.mark.parametrize("how", ["files as they are", "columns written out"])
def test_npy_larger_than_memory_is_fitted_from_disk(files, tmp_path, monkeypatch, capsys,
                                                     how):
    data, target = (files / "X.npy", files / "y.npy") if how == "files as they are" else \
        (files / "Xy.npy", "3")
    assert fit(data, target, files / "memory.npz") == 0
    monkeypatch.setattr(inputs, "ON_DISK_SHARE", 0.0)  # every file is "larger than memory"
    monkeypatch.setattr(inputs, "CHUNK_ROWS", 3000)  # several blocks, a short last one
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    opened = []
    real_open = gdcore.data.open_npy
    monkeypatch.setattr(gdcore.data, "open_npy", lambda p: opened.append(p) or real_open(p))
    assert fit(data, target, files / "disk.npz") == 0
    assert np.array_equal(params(files / "memory.npz"), params(files / "disk.npz"))
    if how == "files as they are":  # read in place, no copy
        assert opened == [str(files / "X.npy"), str(files / "y.npy")]
    else:
        assert [p.rsplit("/", 1)[1] for p in opened] == ["X.npy", "y.npy"]
        assert not list(tmp_path.glob("gdcore-npy-*"))  # the copies deleted
    # mini-batches from disk: blocks, not rows
    assert fit(data, target, files / "m.npz", "--batch-size", "32") == 2
    assert "shuffle='rows'" in capsys.readouterr().err
    assert fit(data, target, files / "m.npz", "--batch-size", "32", "--shuffle", "blocks",
               "--optimizer", "sgd", "--lr", "1e-6", "--epochs", "2") == 0


def test_a_1d_x_and_a_column_y(files, monkeypatch, capsys):
    np.save(files / "x.npy", np.load(files / "X.npy")[:, 2].copy())  # one feature
    np.save(files / "y_column.npy", np.load(files / "y.npy")[:, None])  # y as (n, 1)
    for data, target in ((files / "x.npy", files / "y.npy"),
                         (files / "X.npy", files / "y_column.npy")):
        monkeypatch.setattr(inputs, "ON_DISK_SHARE", 0.25)
        assert fit(data, target, files / "memory.npz") == 0
        monkeypatch.setattr(inputs, "ON_DISK_SHARE", 0.0)  # streamed: copied as rows
        assert fit(data, target, files / "disk.npz") == 0
        assert np.array_equal(params(files / "memory.npz"), params(files / "disk.npz"))
    assert params(files / "disk.npz").shape == (4,)


def test_predict_of_npy_rows(files, monkeypatch, capsys):
    assert fit(files / "Xy.npy", "3", files / "m.npz", "--features", "2,0") == 0
    capsys.readouterr()
    monkeypatch.setattr(inputs, "CHUNK_ROWS", 3000)
    assert main(["predict", str(files / "m.npz"), str(files / "Xy.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "3_predicted"
    model = gdcore.load(files / "m.npz")
    X = np.load(files / "Xy.npy")[:, [2, 0]]
    assert np.array_equal(np.array(lines[1:], dtype=float), model.predict(X))
    assert main(["predict", str(files / "m.npz"), str(files / "X.npy")]) == 0  # 0..2 too
    assert main(["predict", str(files / "m.npz"), str(files / "y.npy")]) == 2
    assert "has no column '2'" in capsys.readouterr().err


def test_other_numbers_are_read_as_float64(files, capsys):
    Xy = np.load(files / "Xy.npy")
    np.save(files / "big_endian.npy", Xy.astype(">f8"))
    np.save(files / "ints.npy", np.round(Xy * 1000).astype(np.int64))
    assert fit(files / "big_endian.npy", "3", files / "be.npz") == 0
    assert fit(files / "Xy.npy", "3", files / "native.npz") == 0
    assert np.array_equal(params(files / "be.npz"), params(files / "native.npz"))
    assert fit(files / "ints.npy", "3", files / "ints.npz") == 0
    np.save(files / "ints_as_floats.npy", np.round(Xy * 1000))
    assert fit(files / "ints_as_floats.npy", "3", files / "floats.npz") == 0
    assert np.array_equal(params(files / "ints.npz"), params(files / "floats.npz"))


def test_mistakes_in_npy_files_are_named(files, capsys):
    bad = np.load(files / "Xy.npy")
    bad[4321, 1] = np.nan
    np.save(files / "nan.npy", bad)
    np.save(files / "short.npy", np.zeros(10))
    np.save(files / "cube.npy", np.zeros((2, 2, 2)))
    np.save(files / "empty.npy", np.zeros((0, 3)))
    np.save(files / "text.npy", np.array(["a", "b"]))
    np.save(files / "objects.npy", np.array([1, "a"], dtype=object))
    (files / "fake.npy").write_bytes(b"\x93NUMPY garbage")
    cases = [
        (files / "nan.npy", "3", "row 4321, column '1': not a finite number: nan"),
        (files / "Xy.npy", "4", "--target 4: "),
        (files / "Xy.npy", "y", "name y by its column number (0 to 3) or give a .npy file"),
        (files / "X.npy", files / "short.npy", "has 10 values but DATA"),
        (files / "X.npy", files / "Xy.npy", "y must be 1-D"),
        (files / "cube.npy", "0", "expected a non-empty 1-D or 2-D array"),
        (files / "empty.npy", "0", "expected a non-empty 1-D or 2-D array"),
        (files / "text.npy", "0", "expected real numbers"),
        (files / "objects.npy", "0", "cannot read DATA"),
        (files / "fake.npy", "0", "cannot read DATA"),
    ]
    for data, target, message in cases:
        assert fit(data, target, files / "m.npz") == 2, message
        assert message in capsys.readouterr().err
    assert fit(files / "Xy.npy", "3", files / "m.npz", "--features", "0,3") == 2
    assert "must not include the target column '3'" in capsys.readouterr().err
    assert fit(files / "X.npy", files / "y.npy", files / "m.npz", "--features", "0,7") == 2
    assert "has no column '7'" in capsys.readouterr().err


def test_numbers_beyond_float32_are_named(files, monkeypatch, capsys):
    X, y = np.load(files / "X.npy"), np.load(files / "y.npy")
    X[17, 1] = 1e39
    np.save(files / "huge_X.npy", X)
    y[23] = -1e39
    np.save(files / "huge_y.npy", y)
    for data, target, where in [(files / "huge_X.npy", files / "y.npy", "huge_X.npy', row 17, "
                                 "column '1': 1e+39"),
                                (files / "X.npy", files / "huge_y.npy", "huge_y.npy', row 23, "
                                 "column 'huge_y': -1e+39")]:
        assert fit(data, target, files / "m.npz", "--dtype", "float32") == 2
        assert where in capsys.readouterr().err
    monkeypatch.setattr(inputs, "ON_DISK_SHARE", 0.0)  # columns written out: checked per block
    monkeypatch.setattr(inputs, "CHUNK_ROWS", 10)
    np.save(files / "huge_Xy.npy", np.column_stack([X, y]))
    assert fit(files / "huge_Xy.npy", "3", files / "m.npz", "--dtype", "float32") == 2
    assert "huge_Xy.npy', row 17, column '1': 1e+39" in capsys.readouterr().err
    np.save(files / "huge_Xy.npy", np.column_stack([np.load(files / "X.npy"), y]))
    for data, target, extra, where in [
            (files / "huge_Xy.npy", "3", [], "huge_Xy.npy', row 23, column '3': -1e+39"),
            (files / "X.npy", files / "huge_y.npy", ["--features", "0,2"],
             "huge_y.npy', row 23, column 'huge_y': -1e+39")]:  # y's blocks, as written
        assert fit(data, target, files / "m.npz", "--dtype", "float32", *extra) == 2
        assert where in capsys.readouterr().err
    assert fit(files / "X.npy", files / "y.npy", files / "m.npz") == 0
    capsys.readouterr()
    assert main(["predict", str(files / "m.npz"), str(files / "huge_X.npy")]) == 0  # float64


def test_nan_in_a_file_of_y_is_named(files, capsys):
    y = np.load(files / "y.npy")
    y[99] = np.nan
    np.save(files / "nan_y.npy", y)
    assert fit(files / "X.npy", files / "nan_y.npy", files / "m.npz") == 2
    assert "nan_y.npy', row 99, column 'nan_y': not a finite number: nan" in \
        capsys.readouterr().err


def test_nan_in_a_streamed_file_is_named(files, monkeypatch, capsys):
    X = np.load(files / "X.npy")
    X[7000, 2] = np.inf
    np.save(files / "inf.npy", X)
    monkeypatch.setattr(inputs, "ON_DISK_SHARE", 0.0)
    assert fit(files / "inf.npy", files / "y.npy", files / "m.npz") == 2
    assert "contains NaN or infinite values (rows" in capsys.readouterr().err
