"""The command line never ends in a traceback: each path an audit found (and a few
more) ends in one line on stderr, ``gdcore <command>: error: ...``, and exit status 2.

Most run ``gdcore.cli.main`` in-process (it returns the exit status); those that
need a process of their own (a FIFO, a closed pipe, bench re-running itself) run
``python -m gdcore``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import gdcore
from gdcore.cli import main

GDCORE = [sys.executable, "-m", "gdcore"]
# the child imports the gdcore under test (this tree's), not an installed one
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [os.path.dirname(os.path.dirname(os.path.abspath(gdcore.__file__)))]
    + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def gdcore_main(capsys, *args):
    """(status, stdout, stderr) of main(args), run in this process."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, command, message):
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"gdcore {command}: error: ") and message in lines[0], err


def expect_error(capsys, message, *args):
    status, out, err = gdcore_main(capsys, *args)
    assert_one_line_error(status, err, args[0], message)
    return out


def run(*args, cwd, timeout=60):
    return subprocess.run(GDCORE + [str(a) for a in args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=ENV)


@pytest.fixture
def data(tmp_path):
    """A well-posed CSV: y = 2 a - b + 0.5."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    return write_csv(tmp_path / "data.csv", ["a", "b", "y"],
                     [[x[0], x[1], 2 * x[0] - x[1] + 0.5] for x in X])


def save_model(path, n_features=2, dtype="float64", **metadata):
    model = gdcore.LinearModel(n_features, dtype=dtype)
    model.w = np.arange(1.0, n_features + 1)
    gdcore.persist.save(model, path, metadata=metadata)
    return str(path)


# ------------------------------------------------------- the audit's paths --

def test_fit_on_data_near_1e300(capsys, tmp_path):
    path = write_csv(tmp_path / "huge.csv", ["a", "y"],
                     [[1e300, 2e300], [-1e300, 5e300], [3e300, -1e300]])
    expect_error(capsys, "too large for float64", "fit", path, "--target", "y",
                 "-o", tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_no_intercept_with_an_all_zero_column(capsys, tmp_path):
    path = write_csv(tmp_path / "zero.csv", ["z", "y"], [[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]])
    expect_error(capsys, "needs data with some variation", "fit", path, "--target", "y",
                 "--no-intercept", "-o", tmp_path / "m")


@pytest.mark.parametrize("column", ["a", "y"])
def test_float32_overflow_in_fit_is_caught_before_the_fit(capsys, tmp_path, column):
    rows = [[1.0, 2.0], [2.0, 1.0], [3.0, 5.0]]
    rows[1][["a", "y"].index(column)] = 1e39  # beyond float32, fine for float64
    path = write_csv(tmp_path / "f.csv", ["a", "y"], rows)
    expect_error(capsys, f"data row 2, column '{column}': 1e+39 is beyond the range of "
                 "float32", "fit", path, "--target", "y", "--dtype", "float32",
                 "-o", tmp_path / "m")


def test_float32_overflow_during_the_fit(capsys, tmp_path):
    path = write_csv(tmp_path / "f.csv", ["a", "y"], [[1, 1e30], [2, 2e30], [3, 1e30]])
    expect_error(capsys, "too large for float32", "fit", path, "--target", "y",
                 "--dtype", "float32", "-o", tmp_path / "m")


@pytest.mark.parametrize("value,message", [
    (1e39, "1e+39 is beyond the range of float32"),  # X itself overflows float32
    (3e38, "the predictions overflow float32"),  # X fits, X w does not
])
def test_float32_overflow_in_predict(capsys, tmp_path, value, message):
    model = save_model(tmp_path / "m.gdm", dtype="float32", features=["a", "b"], target="y")
    path = write_csv(tmp_path / "x.csv", ["a", "b"], [[1.0, 2.0], [value, value]])
    expect_error(capsys, message, "predict", model, path)


@pytest.mark.parametrize("metadata,message", [
    ({"features": ["a"]}, "names 1 feature(s) but has 2"),
    ({"features": ["a", "b", "c"]}, "names 3 feature(s) but has 2"),
    ({"features": ["a", "a"]}, "repeat a name"),
    ({"features": "ab"}, "not a list of column names"),
    ({"features": [1, 2]}, "not a list of column names"),
    ({"features": ["a", "b"], "target": ["y"]}, "target name is not a string"),
])
def test_model_metadata_not_matching_the_model(capsys, tmp_path, metadata, message):
    model = save_model(tmp_path / "m.gdm", **metadata)
    path = write_csv(tmp_path / "x.csv", ["a", "b", "c"], [[1.0, 2.0, 3.0]])
    expect_error(capsys, message, "predict", model, path)


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    return str(path)


def _npy(header_text=None, shape=None):
    """The bytes of a .npy member: a string array, or a float64 header declaring ``shape``."""
    if header_text is not None:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array(header_text))
        return buf.getvalue()
    text = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    text += " " * (117 - len(text)) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()


def _patched_central_directory(path, offset, value):
    """A saved model whose zip central directory says ``value`` at ``offset`` of each entry
    (8: the flag bits, bit 0 = encrypted; 10: the compression method)."""
    save_model(path, features=["a", "b"])
    raw = bytearray(open(path, "rb").read())
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        raw[at + offset:at + offset + 2] = value.to_bytes(2, "little")
        at = raw.find(b"PK\x01\x02", at + 4)
    open(path, "wb").write(bytes(raw))
    return str(path)


@pytest.mark.parametrize("kind,message", [
    ("nested header", "nests deeper than"),
    ("huge array", "its config says float64 of shape (2,)"),
    ("encrypted", "is encrypted"),
    ("compression", "only stored and deflate are read"),
])
def test_corrupt_model_files_in_predict(capsys, tmp_path, data, kind, message):
    if kind == "encrypted":
        model = _patched_central_directory(tmp_path / "m.gdm", 8, 1)
    elif kind == "compression":
        model = _patched_central_directory(tmp_path / "m.gdm", 10, 99)
    elif kind == "nested header":
        model = _zip(tmp_path / "m.gdm", {"__gdcore__.npy": _npy("[" * 100_000 + "]" * 100_000)})
    else:
        header = json.dumps({"format": "gdcore-model", "version": 1, "class": "LinearModel",
                             "config": {"n_features": 2, "dtype": "float64",
                                        "fit_intercept": True}, "metadata": {}})
        model = _zip(tmp_path / "m.gdm", {"__gdcore__.npy": _npy(header),
                                          "w.npy": _npy(shape=(10**14,)),
                                          "b.npy": _npy(shape=(1,))})
    expect_error(capsys, message, "predict", model, data)


def test_deeply_nested_json_to_plot_bench(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "r.json").write_text("[" * 100_000 + "]" * 100_000)
    expect_error(capsys, "nested too deeply", "plot", "bench", tmp_path / "r.json",
                 "-o", tmp_path / "b.png")


@pytest.mark.parametrize("option,path,message", [
    ("--json", "missing/r.json", "the folder 'missing' does not exist"),
    ("--json", ".", "'.' is a directory"),
    ("--plot", "missing/r.png", "the folder 'missing' does not exist"),
])
def test_bench_checks_its_outputs_before_the_benchmark(tmp_path, option, path, message):
    out = run("bench", option, path, cwd=tmp_path, timeout=30)  # the benchmark takes longer
    assert_one_line_error(out.returncode, out.stderr, "bench", message)
    assert out.stdout == ""


# --------------------------------------------------------------- and more --

@pytest.mark.parametrize("args,message", [
    (["fit", "{data}", "--target", "y", "-o", "{tmp}"], "is a directory, not a file"),
    (["fit", "{data}", "--target", "y", "-o", "{tmp}/no/m"], "does not exist"),
    (["plot", "loss", "{data}", "--target", "y", "-o", "{tmp}/no/p.png"], "does not exist"),
    (["predict", "{model}", "{data}", "-o", "{tmp}/no/p.csv"], "does not exist"),
])
def test_outputs_are_checked_before_the_work(capsys, tmp_path, data, args, message):
    model = save_model(tmp_path / "m.gdm", features=["a", "b"])
    out = expect_error(capsys, message, *[a.format(data=data, tmp=tmp_path, model=model)
                                          for a in args])
    assert out == ""  # nothing was fitted or predicted


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
@pytest.mark.parametrize("args,message", [
    (["fit", "{fifo}", "--target", "y", "-o", "m"], "DATA.csv"),
    (["predict", "{fifo}", "{data}"], "MODEL"),
    (["predict", "{model}", "{fifo}"], "DATA.csv"),
    (["plot", "bench", "{fifo}", "-o", "b.png"], "RESULTS.json"),
    (["fit", "{data}", "--target", "y", "-o", "{fifo}"], "-o"),
])
def test_a_fifo_is_refused_not_waited_on(tmp_path, data, args, message):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    model = save_model(tmp_path / "m.gdm", features=["a", "b"])
    out = run(*[a.format(fifo=fifo, data=data, model=model) for a in args], cwd=tmp_path,
              timeout=30)
    assert_one_line_error(out.returncode, out.stderr, args[0], "not a regular file")
    assert message in out.stderr


def test_plot_loss_of_a_fit_that_ran_no_epoch(capsys, tmp_path, data):
    pytest.importorskip("matplotlib")
    expect_error(capsys, "no loss to plot", "plot", "loss", data, "--target", "y",
                 "--epochs", "0", "-o", tmp_path / "p.png")


@pytest.mark.parametrize("record,message", [
    ({"d": [1]}, "d must be a positive finite number"),
    ({"d": {}}, "d must be a positive finite number"),
    ({"method": {}}, "method must be a string"),
    ({"n": float("nan")}, "n must be a positive finite number"),
    ({"seconds_per_epoch": float("inf")}, "seconds_per_epoch must be a positive finite"),
])
def test_plot_bench_validates_each_record(capsys, tmp_path, record, message):
    pytest.importorskip("matplotlib")
    records = [{"method": "cython", "n": 1000, "d": 2, "seconds_per_epoch": 1e-5} | record]
    (tmp_path / "r.json").write_text(json.dumps(records))
    expect_error(capsys, message, "plot", "bench", tmp_path / "r.json", "-o", tmp_path / "b.png")


@pytest.mark.parametrize("args,message", [
    (["--features", "a,a"], "names a column twice"),
    (["--tol", "1e400"], "argument --tol"),
])
def test_fit_options_that_were_accepted(capsys, tmp_path, data, args, message):
    expect_error(capsys, message, "fit", data, "--target", "y", *args, "-o", tmp_path / "m")


def test_column_names_with_newlines_stay_on_one_line(capsys, tmp_path):
    path = write_csv(tmp_path / "d.csv", ["a\nb", "y"], [[1, 2], [2, 3]])
    expect_error(capsys, r"has no column 'q' (columns: 'a\nb', 'y')", "fit", path,
                 "--target", "q", "-o", tmp_path / "m")


def test_a_nul_in_a_path(capsys, tmp_path, data):
    expect_error(capsys, "cannot read DATA.csv", "fit", "a\0b.csv", "--target", "y",
                 "-o", tmp_path / "m")
    expect_error(capsys, "-o needs a file name", "fit", data, "--target", "y", "-o", "m\0")


def test_main_returns_argparse_statuses(capsys):
    assert main(["--help"]) == 0
    assert main(["fit", "--lr", "fast"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "gdcore fit: error:" in err


def test_warnings_are_one_line_each(capsys, tmp_path, data):
    status, out, err = gdcore_main(capsys, "fit", data, "--target", "y", "--loss", "mae",
                                   "--batch-size", "5", "-o", tmp_path / "m")
    assert status == 0 and "saved the model" in out
    assert err.splitlines() and all(line.startswith("gdcore fit: warning: the fit did not "
                                                    "meet tol") for line in err.splitlines())


def test_ctrl_c_outside_a_fit(capsys, monkeypatch, data, tmp_path):
    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr("gdcore.cli.commands.load_dataset", interrupted)
    status, _, err = gdcore_main(capsys, "fit", data, "--target", "y", "-o", tmp_path / "m")
    assert status == 130 and err == "gdcore fit: interrupted\n"


def test_predictions_are_written_as_csv(capsys, tmp_path):
    model = save_model(tmp_path / "m.gdm", features=["a", "b"], target="price, in $")
    path = write_csv(tmp_path / "x.csv", ["a", "b"], [[1.0, 1.0], [2.0, 0.0]])
    status, out, _ = gdcore_main(capsys, "predict", model, path)
    assert status == 0
    assert list(csv.reader(io.StringIO(out))) == [["price, in $_predicted"], ["3.0"], ["2.0"]]


@pytest.mark.skipif(os.name != "posix", reason="a closed pipe")
def test_a_closed_stdout_ends_quietly(tmp_path):
    """A write to a pipe nobody reads ends the demo quietly, with the status of a kill
    by SIGPIPE (141); `gdcore demo | head -1` too. (Whether the demo writes again
    after head has left is a race: a loaded machine may run the whole demo first.)"""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        closed = subprocess.run(GDCORE + ["demo"], stdout=writer, stderr=subprocess.PIPE,
                                text=True, cwd=tmp_path, timeout=60, env=ENV)
    finally:
        os.close(writer)
    assert (closed.returncode, closed.stderr) == (141, "")
    command = " ".join(shlex.quote(a) for a in GDCORE + ["demo"])
    head = subprocess.run(f"{command} | head -1; echo status ${{PIPESTATUS[0]}}",
                          shell=True, executable="/bin/bash", capture_output=True, text=True,
                          cwd=tmp_path, timeout=60, env=dict(ENV, PYTHONUNBUFFERED="1"))
    assert head.stdout.splitlines()[1] in ("status 141", "status 0")
    assert head.stderr == ""


def test_bench_reruns_itself_with_the_arguments_main_was_given(monkeypatch):
    from gdcore.benchmarks.epochs import THREAD_VARIABLES

    class Execed(Exception):
        pass

    def execve(path, argv, env):
        calls.append(argv)
        raise Execed

    calls = []
    monkeypatch.setattr(os, "execve", execve)
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(Execed):
        main(["bench", "--solve", "--quick"])
    assert calls[0][1:] == ["-m", "gdcore", "bench", "--solve", "--quick"]
