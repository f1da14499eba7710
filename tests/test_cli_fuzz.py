"""Fuzz targets for the command line: the CSV reader and the argument handling.

Whatever the files and option values, ``read_csv`` returns finite numbers or
raises UsageError, and ``main`` returns 0 or 2 without raising, with one line
on stderr when it returns 2. The examples are derandomised (a fixed seed); set
GDCORE_FUZZ_EXAMPLES for a longer run than CI's few seconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import gdcore  # noqa: E402
from gdcore.cli import main  # noqa: E402
from gdcore.cli.inputs import UsageError, read_csv  # noqa: E402

EXAMPLES = int(os.environ.get("GDCORE_FUZZ_EXAMPLES", 200))


def fuzz(examples=EXAMPLES):
    return settings(max_examples=examples, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One folder for the module (hypothesis reruns a test's body, not its fixtures)."""
    return tmp_path_factory.mktemp("fuzz")


# ---------------------------------------------------------------- strategies --
# Half the examples are well-formed (so that fits run, on odd data and options), the
# other half mix in hostile values.

NAMES = st.one_of(st.sampled_from(["a", "b", "y", " y", "", "a"]), st.text(max_size=4))
GOOD_NUMBERS = st.one_of(st.floats(-1e6, 1e6).map(repr), st.integers(-1000, 1000).map(str),
                         st.sampled_from(["0", "1e300", "-1e-300", "1e-320", "3e38", " 2 "]))
BAD_NUMBERS = st.one_of(
    st.floats().map(repr),
    st.integers().map(str),
    st.sampled_from(["-0", "1e39", "1e400", "nan", "inf", "-inf", "1_0", "0x10", "",
                     "\u0661"]),
    st.text(max_size=4))
NUMBERS = st.one_of(GOOD_NUMBERS, BAD_NUMBERS)


@st.composite
def csv_texts(draw):
    """A header and rows of numbers; in hostile ones, odd names, cells and ragged rows."""
    hostile = draw(st.booleans())
    header = draw(st.sampled_from([["a", "b", "y"], ["y", "a"], ["a", "y"]]) if not hostile
                  else st.lists(NAMES, max_size=4))
    width = len(header)
    ragged = hostile and draw(st.booleans())
    row = st.lists(NUMBERS if hostile else GOOD_NUMBERS,
                   min_size=max(width - ragged, 0), max_size=width + ragged)
    rows = draw(st.lists(row, min_size=0 if hostile else 1, max_size=8))
    separator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return separator.join(lines) + draw(st.sampled_from(["", separator]))


CSV_FILES = st.one_of(
    csv_texts().map(lambda text: text.encode("utf-8")),
    csv_texts().map(lambda text: text.encode("utf-8")),
    st.text(max_size=200).map(lambda text: text.encode("utf-8")),
    st.binary(max_size=200))


def _words(*words):
    return st.sampled_from(words)


# option: (values it accepts, hostile values)
OPTION_VALUES = {
    "--target": (st.just("y"), st.one_of(_words("a", "q", ""), st.text(max_size=3))),
    "--features": (_words("a", "b", "a,b"), st.one_of(_words("a,a", "b,y", ",", "q", ""),
                                                      st.text(max_size=4))),
    "--loss": (_words("mse", "mae"), st.text(max_size=4)),
    "--optimizer": (_words("auto", "gd", "sgd", "momentum", "nesterov", "adam", "adamw",
                           "rmsprop", "adagrad", "accelerated"), st.text(max_size=4)),
    "--momentum": (st.floats(0, 0.99).map(repr), BAD_NUMBERS),
    "--schedule": (_words("cosine", "step", "exponential", "inverse_scaling", "plateau"),
                   st.text(max_size=4)),
    "--lr": (st.one_of(st.just("auto"), st.floats(1e-6, 10).map(repr)), BAD_NUMBERS),
    "--precondition": (_words("auto", "standardize", "none"), st.text(max_size=4)),
    "--tol": (st.floats(0, 1).map(repr), BAD_NUMBERS),
    "--batch-size": (st.integers(1, 8).map(str), st.one_of(st.integers(-2, 0).map(str),
                                                           BAD_NUMBERS)),
    "--seed": (st.integers(0, 2**80).map(str), BAD_NUMBERS),
    "--backend": (_words("cython", "numpy", "python"), st.text(max_size=4)),
    "--dtype": (_words("float64", "float32"), _words("float16", "")),
    # bounded: a huge count with --tol 0 is a long fit, rightly
    "--epochs": (st.integers(0, 40).map(str), _words("", "1e3", "x", "-1", "-" + "9" * 30)),
}


@st.composite
def fit_options(draw):
    """--target, --epochs and a few more; in hostile examples, some values are bad
    (--progress is left out: it draws a bar on stderr)."""
    hostile = draw(st.booleans())
    names = ["--target", "--epochs"] + draw(st.lists(
        st.sampled_from(sorted(set(OPTION_VALUES) - {"--target", "--epochs"})), unique=True,
        max_size=4))
    options = []
    for name in names:
        good, bad = OPTION_VALUES[name]
        options += [name, draw(st.one_of(good, bad) if hostile else good)]
    if draw(st.booleans()):
        options.append("--no-intercept")
    return options


def call_main(args):
    """(status, stdout, stderr) of main(args) in this process; main must not raise."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def assert_clean_end(status, err, command):
    """0, or 2 with one line on stderr; warnings, one line each, only after a success."""
    assert status in (0, 2), err
    lines = err.split("\n")
    assert lines[-1] == "", err  # stderr ends with a newline
    if status == 2:
        assert len(lines) == 2, err
        assert lines[0].startswith(f"gdcore {command}: error: "), err
    else:
        assert all(line.startswith(f"gdcore {command}: warning: ") for line in lines[:-1]), err


# --------------------------------------------------------------------- targets --

@fuzz()
@given(content=CSV_FILES)
def test_read_csv_gives_finite_numbers_or_a_usage_error(workdir, content):
    path = workdir / "read.csv"
    path.write_bytes(content)
    try:
        header, data = read_csv(str(path))
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert header and all(header) and len(set(header)) == len(header)
    assert data.dtype == np.float64 and data.shape[0] >= 1 and data.shape[1] == len(header)
    assert np.isfinite(data).all()


@fuzz()
@given(content=CSV_FILES, options=fit_options())
def test_fit_ends_in_0_or_one_line_and_2(workdir, content, options):
    path = workdir / "fit.csv"
    path.write_bytes(content)
    model = workdir / "fit.gdm"
    status, out, err = call_main(["fit", path, *options, "-o", model])
    assert_clean_end(status, err, "fit")
    if status == 0:
        assert "saved the model" in out
        gdcore.load(model)


def _model_file(draw, path):
    """A saved LinearModel with drawn metadata, or one with bytes changed, or any bytes."""
    kind = draw(st.sampled_from(["metadata", "metadata", "mutated", "bytes"]))
    if kind == "bytes":
        path.write_bytes(draw(st.binary(max_size=300)))
        return
    n = draw(st.integers(1, 3))
    model = gdcore.LinearModel(n, dtype=draw(st.sampled_from(["float64", "float32"])))
    model.w = draw(st.lists(st.floats(-1e30, 1e30), min_size=n, max_size=n))
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=3),
                               lambda inner: st.lists(inner, max_size=3)
                               | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                               max_leaves=6)
    metadata = {"features": ["a", "b", "y"][:n], "target": "y"}
    if draw(st.booleans()):  # what a file may say
        columns = st.lists(st.sampled_from(["a", "b", "y"]), max_size=4)  # of any length
        metadata = {"features": draw(st.one_of(columns, st.lists(NAMES, max_size=4),
                                               json_values)),
                    "target": draw(st.one_of(st.just("y"), json_values))}
    gdcore.persist.save(model, path, metadata=draw(st.sampled_from([metadata, {}])))
    if kind == "mutated":
        raw = bytearray(path.read_bytes())
        for at, value in draw(st.lists(st.tuples(st.integers(0, len(raw) - 1),
                                                 st.integers(0, 255)), min_size=1, max_size=4)):
            raw[at] = value
        cut = draw(st.one_of(st.just(len(raw)), st.integers(1, len(raw))))
        path.write_bytes(bytes(raw[:cut]))


@fuzz()
@given(data=st.data(), content=CSV_FILES)
def test_predict_ends_in_0_or_one_line_and_2(workdir, data, content):
    model, path = workdir / "predict.gdm", workdir / "predict.csv"
    _model_file(data.draw, model)
    path.write_bytes(content)
    status, out, err = call_main(["predict", model, path])
    assert_clean_end(status, err, "predict")
    if status == 0:
        assert len(out.splitlines()) >= 2


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["method", "n", "d", "seconds_per_epoch", "results", "x"]), inner,
        max_size=5),
    max_leaves=12)
POSITIVE = st.one_of(st.integers(1, 10**7), st.floats(1e-9, 1e7))
RECORDS = st.lists(st.fixed_dictionaries({
    "method": st.one_of(st.sampled_from(["cython", "numpy"]), JSON_VALUES),
    "n": st.one_of(POSITIVE, POSITIVE, JSON_VALUES),
    "d": st.one_of(st.integers(1, 50), st.integers(1, 50), JSON_VALUES),
    "seconds_per_epoch": st.one_of(POSITIVE, POSITIVE, JSON_VALUES)}), max_size=4)


@fuzz(max(10, EXAMPLES // 4))  # a PNG per valid file
@given(content=st.one_of(RECORDS.map(lambda v: json.dumps(v).encode()),
                         JSON_VALUES.map(lambda v: json.dumps(v).encode()),
                         st.binary(max_size=100)))
def test_plot_bench_ends_in_0_or_one_line_and_2(workdir, content):
    pytest.importorskip("matplotlib")
    path = workdir / "bench.json"
    path.write_bytes(content)
    status, _, err = call_main(["plot", "bench", path, "-o", workdir / "bench.png"])
    assert_clean_end(status, err, "plot")


TOKENS = st.one_of(
    st.sampled_from(["fit", "predict", "plot", "loss", "path", "-o", "--target", "y",
                     "--features", "a", "--epochs", "3", "--lr", "0.1", "--tol", "--batch-size",
                     "--dtype", "float32", "--no-intercept", "--help", "-h", "{csv}",
                     "{model}", "{out}", "{missing}", "{folder}", "--", "-"]),
    st.text(max_size=6))


@fuzz()
@given(command=st.one_of(st.sampled_from(["fit", "predict", "plot"]), TOKENS),
       tokens=st.lists(TOKENS, max_size=8))
def test_any_command_line_ends_in_0_or_2(workdir, command, tokens):
    """Tokens in any order; bench and demo are left out (they run benchmarks and demos)."""
    csv_path = workdir / "argv.csv"
    if not csv_path.exists():
        csv_path.write_text("a,b,y\n1,2,3\n2,1,4\n3,5,2\n")
        gdcore.persist.save(gdcore.LinearModel(2), workdir / "argv.gdm",
                            metadata={"features": ["a", "b"], "target": "y"})
    files = {"csv": csv_path, "model": workdir / "argv.gdm", "out": workdir / "argv.out",
             "missing": workdir / "no" / "such", "folder": workdir}
    args = [str(files[t[1:-1]]) if t[1:-1] in files and t.startswith("{") else t
            for t in [command, *tokens] if t not in ("bench", "demo")]
    with mock.patch("os.execve", side_effect=AssertionError("bench would re-run itself")):
        status, _, err = call_main(args)
    assert status in (0, 2), err
    if status == 2 and err:  # no command at all prints the help on stdout
        assert err.count("\n") == 1, err
        assert re.match(r"gdcore( (fit|predict|plot))?: error: ", err), err


@pytest.mark.skipif(os.name != "posix", reason="a child process per example")
@fuzz(max(2, EXAMPLES // 100))
@given(csv_file=CSV_FILES, model_file=st.binary(max_size=200))
def test_as_a_user_runs_it_no_traceback(workdir, csv_file, model_file):
    """A few examples through `python -m gdcore`, as a user runs it."""
    (workdir / "user.csv").write_bytes(csv_file)
    (workdir / "user.gdm").write_bytes(model_file)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(gdcore.__file__)))
    for args in (["fit", "user.csv", "--target", "y", "--epochs", "5", "-o", "user.out"],
                 ["predict", "user.gdm", "user.csv"]):
        out = subprocess.run([sys.executable, "-m", "gdcore", *args], capture_output=True,
                             text=True, cwd=workdir, timeout=60, env=env)
        assert "Traceback" not in out.stderr
        assert_clean_end(out.returncode, out.stderr, args[0])
