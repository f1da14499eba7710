"""gdcore fit's CSV reading: pandas when installed, the csv-module parser otherwise,
the same numbers and the same messages either way."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from gdcore.cli import inputs
from child import run_child

pytest.importorskip("pandas")

GOOD = {
    "plain": "a,b,y\n1,2,3\n4.5,-6e-3,7\n",
    "bom, spaces, quotes": "\ufeff a , b ,y\n\" 1.25\",2, 3 \n4,5,6\n",
    "blank lines": "a,y\n\n1,2\n\n3,4\n\n",
    "digits": "a,y\n0.1000000000000000055511151231257827,9007199254740993\n"
              "1e-310,123456789012345678901234567890\n",
}
#: Files pandas reads differently or not at all: the parser here reads (or refuses) them.
AWKWARD = {
    "blank cells": "a,y\n1,\n3,4\n",
    "row of empty cells": "a,y\n1,2\n,\n3,4\n",
    "extra cell": "a,y\n1,2,3\n",
    "short row": "a,y\n1\n",
    "word": "a,y\n1,two\n",
    "nan": "a,y\n1,nan\n",
    "underscores": "a,y\n1_000,2\n",
    "empty name": "a,,y\n1,2,3\n",
    "duplicate names": "a,a,y\n1,2,3\n",
    "no rows": "a,y\n",
    "newline in a name": "\"a\nb\",y\n1,2\n",
    "leading blank line": "\na,y\n1,2\n",
    "spaces line": "a,y\n1,2\n   \n3,4\n",
}


def both(tmp_path, text, monkeypatch):
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    results = []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(inputs, "_read_with_pandas", lambda path: None)
        try:
            results.append(inputs.read_csv(str(path)))
        except inputs.UsageError as exc:
            results.append(str(exc))
    return str(path), results


@pytest.mark.parametrize("name", sorted(GOOD))
def test_pandas_reads_the_same_numbers(tmp_path, monkeypatch, name):
    path, (fast, careful) = both(tmp_path, GOOD[name], monkeypatch)
    assert inputs._read_with_pandas.__module__  # (restored by monkeypatch afterwards)
    assert fast[0] == careful[0]
    assert fast[1].flags.c_contiguous and np.array_equal(fast[1], careful[1])


@pytest.mark.parametrize("name", sorted(GOOD))
def test_pandas_is_used_for_clean_files(tmp_path, name):
    path = tmp_path / "data.csv"
    path.write_text(GOOD[name], encoding="utf-8")
    assert inputs._read_with_pandas(str(path)) is not None


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_awkward_files_read_or_refused_as_before(tmp_path, monkeypatch, name):
    _, (fast, careful) = both(tmp_path, AWKWARD[name], monkeypatch)
    if isinstance(careful, str):
        assert fast == careful
    else:
        assert fast[0] == careful[0] and np.array_equal(fast[1], careful[1])


def test_the_core_does_not_import_pandas():
    code = "import sys, gdcore, gdcore.cli.inputs; print('pandas' in sys.modules)"
    out = run_child(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.fixture
def big_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10_000, 3)) * [1.0, 10.0, 100.0]
    y = X @ [1.0, -2.0, 0.5] + 3.0 + 0.1 * rng.standard_normal(10_000)
    path = tmp_path / "big.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,c,y", comments="",
               fmt="%.17g")
    return path


def fit_cli(path, out, *options):
    from gdcore.cli import main
    return main(["fit", str(path), "--target", "y", "-o", str(out), *options])


def test_a_csv_larger_than_memory_is_fitted_from_disk(big_csv, tmp_path, monkeypatch,
                                                      capsys):
    import gdcore
    assert fit_cli(big_csv, tmp_path / "memory.npz") == 0
    memory_out = capsys.readouterr().out
    monkeypatch.setattr(inputs, "ON_DISK_SHARE", 0.0)  # every CSV is "larger than memory"
    monkeypatch.setattr(inputs, "CHUNK_ROWS", 3000)  # several chunks, a short last one
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert fit_cli(big_csv, tmp_path / "disk.npz", "--features", "c,a") == 0
    capsys.readouterr()
    assert fit_cli(big_csv, tmp_path / "disk.npz") == 0
    disk_out = capsys.readouterr().out
    memory, disk = gdcore.load(tmp_path / "memory.npz"), gdcore.load(tmp_path / "disk.npz")
    assert np.array_equal(memory.params, disk.params)
    assert memory_out.splitlines()[:5] == disk_out.splitlines()[:5]  # the coefficients
    assert not list(tmp_path.glob("gdcore-csv-*"))  # the .npy files deleted


def test_errors_of_a_csv_fitted_from_disk(big_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(inputs, "ON_DISK_SHARE", 0.0)
    monkeypatch.setattr(inputs, "CHUNK_ROWS", 3000)
    lines = big_csv.read_text().splitlines()
    for row, cell, message in [(7001, "nan", "data row 7001, column 'b': not a finite number: "
                                             "'nan'\n"),
                               (4001, "two", "data row 4001, column 'b': not a finite "
                                             "number: 'two'"),
                               (5001, "1,2", "Expected 4 fields in line 5002, saw 5"),
                               (5001, "", "data row 5001, column 'b': not a finite number: ''")]:
        bad = lines.copy()
        cells = bad[row].split(",")
        cells[1] = cell
        bad[row] = ",".join(cells)
        (tmp_path / "bad.csv").write_text("\n".join(bad) + "\n")
        assert fit_cli(tmp_path / "bad.csv", tmp_path / "m.npz") == 2
        assert message in capsys.readouterr().err
    assert fit_cli(big_csv, tmp_path / "m.npz", "--features", "a,q") == 2
    assert "has no column 'q'" in capsys.readouterr().err
    assert fit_cli(big_csv, tmp_path / "m.npz", "--batch-size", "32") == 2  # --shuffle rows
    assert "shuffle='rows'" in capsys.readouterr().err
    assert fit_cli(big_csv, tmp_path / "m.npz", "--batch-size", "32", "--shuffle", "blocks",
                   "--epochs", "2") == 0  # mini-batches from disk
    assert fit_cli(big_csv, tmp_path / "m.npz", "--dtype", "float32") == 0
