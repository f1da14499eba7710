"""The command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import gdcore

GDCORE = [sys.executable, "-m", "gdcore"]
# the child imports the gdcore under test (this tree's), not an installed one
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [os.path.dirname(os.path.dirname(os.path.abspath(gdcore.__file__)))]
    + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))


def run(*args, cwd, ok=True):
    out = subprocess.run(GDCORE + [str(a) for a in args], capture_output=True, text=True,
                         cwd=cwd, timeout=120, env=ENV)
    if ok:
        assert out.returncode == 0, out.stderr
    return out


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    y = X @ np.array([2.0, -1.0]) + 0.5
    return write_csv(tmp_path / "data.csv", ["a", "y", "b"],
                     [[x[0], t, x[1]] for x, t in zip(X, y)]), X, y


def test_every_command_has_help(tmp_path):
    top = run("--help", cwd=tmp_path).stdout
    for name in ("demo", "fit", "predict", "plot"):
        assert name in top
        assert "usage: gdcore " + name in run(name, "--help", cwd=tmp_path).stdout


def test_fit_then_predict(data, tmp_path):
    path, X, y = data
    out = run("fit", path, "--target", "y", "--tol", "1e-10", "--epochs", "100000",
              "-o", tmp_path / "m.gdm", cwd=tmp_path).stdout
    assert "w[a]" in out and "w[b]" in out and "final loss" in out and "epochs" in out
    assert "converged" in out and " s" in out
    model = gdcore.load(tmp_path / "m.gdm")
    np.testing.assert_allclose(model.w, [2.0, -1.0], atol=1e-8)
    assert model.b == pytest.approx(0.5, abs=1e-8)
    assert f"{float(model.w[0]):.10g}" in out
    # columns in another order, target absent: features are matched by name
    shuffled = write_csv(tmp_path / "new.csv", ["b", "a"], [[r[1], r[0]] for r in X[:5]])
    run("predict", tmp_path / "m.gdm", shuffled, "-o", tmp_path / "p.csv", cwd=tmp_path)
    with open(tmp_path / "p.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["y_predicted"]
    np.testing.assert_allclose([float(r[0]) for r in rows[1:]], y[:5], atol=1e-7)
    stdout = run("predict", tmp_path / "m.gdm", shuffled, cwd=tmp_path).stdout
    assert stdout.splitlines() == [",".join(r) for r in rows]


def test_fit_options(data, tmp_path):
    path, X, y = data
    run("fit", path, "--target", "y", "--features", "a", "--loss", "mae", "--lr", "0.01",
        "--epochs", "7", "--batch-size", "10", "--seed", "3", "--backend", "python",
        "--dtype", "float32", "--no-intercept", "-o", tmp_path / "m.gdm", cwd=tmp_path)
    model = gdcore.load(tmp_path / "m.gdm")
    ref = gdcore.LinearModel(1, dtype=np.float32, fit_intercept=False)
    gdcore.Trainer(gdcore.MAELoss(), lr=0.01, epochs=7, batch_size=10, random_state=3,
                   backend="python").fit(ref, X[:, :1], y)
    np.testing.assert_array_equal(model.w, ref.w)
    assert model.b == 0.0 and model.dtype == np.float32


@pytest.mark.parametrize("args,message", [
    (["fit", "missing.csv", "--target", "y", "-o", "m"], "'missing.csv' does not exist"),
    (["fit", "{data}", "--target", "z", "-o", "m"], "has no column 'z'"),
    (["fit", "{data}", "--target", "y", "--features", "a,q", "-o", "m"], "has no column 'q'"),
    (["fit", "{bad}", "--target", "y", "-o", "m"], "row 2, column 'a': not a finite number: 'oops'"),
    (["fit", "{ragged}", "--target", "y", "-o", "m"], "row 1: 1 cells"),
    (["fit", "{empty}", "--target", "y", "-o", "m"], "is empty"),
    (["fit", "{data}", "--target", "y", "--lr", "fast", "-o", "m"], "argument --lr"),
    (["fit", "{data}", "--target", "y", "--epochs", "-1", "-o", "m"], "argument --epochs"),
    (["fit", "{data}", "--target", "y", "--batch-size", "0", "-o", "m"], "argument --batch-size"),
    (["fit", "{data}", "--target", "y", "--batch-size", "1000", "-o", "m"], "larger than the number"),
    (["fit", "{data}", "--target", "y", "--lr", "1e3", "-o", "m"], "diverged"),
    (["fit", "{data}", "--target", "y", "--loss", "hinge", "-o", "m"], "argument --loss"),
    (["fit", "{data}", "--target", "y", "--loss", "huber", "--epsilon", "0", "-o", "m"],
     "argument --epsilon"),
    (["fit", "{data}", "--target", "y", "--epsilon", "2", "-o", "m"], "--epsilon applies to"),
    (["fit", "{data}", "-o", "m"], "--target"),
    (["fit", "{data}", "--target", "y", "-o", "/nonexistent/dir/m"],
     "the folder '/nonexistent/dir' does not exist"),
    (["predict", "{data}", "{data}"], "not a gdcore model file"),
    (["predict", "nothing.gdm", "{data}"], "'nothing.gdm' does not exist"),
    (["predict", "{model}", "{other}"], "has no column 'b'"),
    (["plot", "fit", "{data}", "--target", "y", "-o", "f.png"], "needs one feature"),
    (["plot", "bench", "{data}", "-o", "f.png"], "not JSON"),
    (["plot", "scatter", "{data}", "-o", "f.png"], "argument kind"),
])
def test_user_errors_are_one_line_and_status_2(data, tmp_path, args, message):
    path, _, _ = data
    files = {"data": path,
             "bad": write_csv(tmp_path / "bad.csv", ["a", "y"], [[1, 2], ["oops", 3]]),
             "ragged": write_csv(tmp_path / "ragged.csv", ["a", "y"], [[1]]),
             "empty": write_csv(tmp_path / "empty.csv", [], []),
             "other": write_csv(tmp_path / "other.csv", ["a", "c"], [[1, 2]]),
             "model": tmp_path / "model.gdm"}
    if "{model}" in args:
        run("fit", path, "--target", "y", "-o", files["model"], cwd=tmp_path)
    out = run(*[a.format(**files) for a in args], cwd=tmp_path, ok=False)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr


def test_plot_commands_write_pngs(data, tmp_path):
    pytest.importorskip("matplotlib")
    path, _, _ = data
    for kind, extra in (("loss", []), ("fit", ["--features", "a"]), ("path", ["--features", "b"])):
        out = tmp_path / f"{kind}.png"
        run("plot", kind, path, "--target", "y", *extra, "-o", out, cwd=tmp_path)
        assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 8000
    (tmp_path / "r.json").write_text(
        '[{"method": "cython", "n": 1000, "d": 20, "seconds_per_epoch": 1e-5},'
        ' {"method": "cython", "n": 10000, "d": 20, "seconds_per_epoch": 1e-4}]')
    run("plot", "bench", tmp_path / "r.json", "-o", tmp_path / "b.png", cwd=tmp_path)
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_still_runs(tmp_path):
    assert "closed form:      w = 1.000000, b = 0.000000" in run("demo", cwd=tmp_path).stdout


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process")
def test_ctrl_c_saves_the_last_finished_epoch(tmp_path):
    pytest.importorskip("tqdm")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 3))
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"],
                     [list(x) + [x.sum()] for x in X])
    # the child gets the default SIGINT disposition even if this runner ignores SIGINT
    proc = subprocess.Popen(GDCORE + ["fit", str(path), "--target", "y", "--backend", "python",
                                      "--lr", "1e-4", "--tol", "0", "--epochs", "200000",
                                      "--progress", "-o", str(tmp_path / "m.gdm")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    try:
        proc.stderr.read(1)  # the progress bar appeared: the fit has started
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        watchdog.cancel()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted after" in stderr
    assert "w[a]" in stdout and "(interrupted)" in stdout
    model = gdcore.load(tmp_path / "m.gdm")
    epochs = int(stderr.split("interrupted after ")[1].split()[0])
    ref = gdcore.LinearModel(3)
    gdcore.Trainer(lr=1e-4, tol=0.0, epochs=epochs, backend="python").fit(ref, X, X.sum(axis=1))
    np.testing.assert_allclose(model.w, ref.w, rtol=1e-12)
