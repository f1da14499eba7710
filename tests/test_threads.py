"""n_jobs: validated and capped, bit-identical for every thread count, safe when the
machine is busy, and -1 bounded by what the process may use."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import gdcore
from gdcore import _dispatch
from gdcore._validation import MAX_JOBS, effective_n_jobs, usable_cpus

from helpers import make_problem

Objective = _dispatch.pass_linear.LinearObjective


@pytest.mark.parametrize("bad", [0, -2, MAX_JOBS + 1, 40_000, 100_000, 2**31, 2**64, True,
                                 1.5, "2", None])
def test_n_jobs_out_of_range_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match="n_jobs"):
        gdcore.Trainer(n_jobs=bad)


def test_huge_n_jobs_fits_like_one_thread():
    """The audit's case: Trainer(n_jobs=100_000) crashed the interpreter; the cap and
    one thread per usable CPU leave nothing to crash."""
    X, y = np.arange(5000.0).reshape(-1, 1), np.arange(5000.0)
    results = []
    for n_jobs in (1, MAX_JOBS, -1):
        model = gdcore.LinearModel(1)
        gdcore.Trainer(n_jobs=n_jobs).fit(model, X, y)
        results.append((model.w[0], model.b))
    assert results[0] == results[1] == results[2]


def test_n_jobs_is_kept_as_given_and_resolved_when_a_fit_starts():
    assert gdcore.Trainer(n_jobs=-1).n_jobs == -1
    assert 1 <= effective_n_jobs(-1) <= (os.cpu_count() or 1)
    assert effective_n_jobs(MAX_JOBS) == usable_cpus()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_every_thread_count_gives_the_same_bits(dtype, loss):
    """More threads than CPUs (so the caller keeps taking over late threads' chunks):
    each chunk is summed alone and the chunks in order, so nothing can show."""
    X, y, _, _ = make_problem(120_000, 17, 3, noise=0.5, dtype=dtype)  # 30 chunks
    rng = np.random.default_rng(1)
    points = [rng.standard_normal(18).astype(dtype) for _ in range(40)]
    serial = Objective(loss, 0.0, X, y, 1)
    assert serial.n_threads == 1
    expected = [serial.sums(p) for p in points]
    for n_threads in (2, 3, 8):
        objective = Objective(loss, 0.0, X, y, n_threads)
        assert objective.n_threads == min(n_threads, X.nbytes // 2**21)
        for _ in range(3):
            for p, (total, grad) in zip(points, expected):
                got_total, got_grad = objective.sums(p)
                assert got_total == total
                np.testing.assert_array_equal(got_grad, grad)


def test_fits_with_threads_equal_the_serial_fit_bit_for_bit():
    X, y, _, _ = make_problem(70_000, 8, 3, noise=0.5)  # 4.5 MB: two threads may share it
    results = []
    for n_jobs in (1, 2, 3, 1, 2):
        model = gdcore.LinearModel(8)
        hist = gdcore.Trainer(lr=0.05, epochs=30, tol=0.0, n_jobs=n_jobs).fit(model, X, y)
        results.append((hist.loss, model.w.copy(), model.b, hist.final_loss))
    for loss, w, b, final in results[1:]:
        np.testing.assert_array_equal(loss, results[0][0])
        np.testing.assert_array_equal(w, results[0][1])
        assert b == results[0][2] and final == results[0][3]


def test_small_passes_stay_on_the_calling_thread():
    """Waking a thread costs more than a pass of a few hundred kilobytes."""
    X, y, _, _ = make_problem(10_000, 10, 0)
    assert Objective("mse", 0.0, X, y, 8).n_threads == 1
    X, y, _, _ = make_problem(4000, 600, 0)  # 19 MB but one chunk of rows
    assert Objective("mse", 0.0, X, y, 8).n_threads == 1


def native_threads():
    """The ids of this process's threads (Linux)."""
    return set(os.listdir("/proc/self/task"))


def ended(started, n_pool, seconds=5.0):
    """How many of ``started`` have left /proc once at least ``n_pool`` have, or the
    seconds run out: a thread leaves it a moment after pthread_join returns (the
    kernel wakes the joiner as the thread exits, and removes the entry after)."""
    deadline = time.monotonic() + seconds
    while len(started - native_threads()) < n_pool and time.monotonic() < deadline:
        time.sleep(0.001)
    return len(started - native_threads())


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux's /proc")
def test_threads_end_with_their_objective():
    """Each objective's pool threads end with it (counted by id: a thread that another
    library starts meanwhile, say a finalizer of an earlier test's cluster, is not ours)."""
    X, y, _, _ = make_problem(50_000, 20, 0)
    gc.collect()
    for _ in range(50):
        before = native_threads()
        objective = Objective("mse", 0.0, X, y, 4)
        objective.sums(np.zeros(21))
        started, n_pool = native_threads() - before, objective.n_threads - 1
        assert len(started) >= n_pool
        del objective
        assert ended(started, n_pool) >= n_pool  # the pool's threads ended


def run_python(code, cwd, **env):
    """``code`` in a new interpreter, away from the source tree (so it imports the
    installed gdcore, as CI has it)."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=120, env={**os.environ, **env}, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_minus_one_respects_the_cpu_affinity(tmp_path):
    code = """
        import os
        from gdcore._validation import effective_n_jobs
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        print(effective_n_jobs(-1), effective_n_jobs(8))
    """
    assert run_python(code, tmp_path) == "1 1"


def test_minus_one_respects_the_openmp_limit(tmp_path):
    from gdcore import _util
    if _util.openmp_thread_limit() == 0:
        pytest.skip("built without OpenMP")
    code = "from gdcore._validation import effective_n_jobs; print(effective_n_jobs(-1))"
    assert run_python(code, tmp_path, OMP_NUM_THREADS="1") == "1"
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_jobs(-1) == 1


def test_a_busy_machine_changes_no_result():
    """With every CPU busy the pool's threads are descheduled at random: the caller takes
    over their chunks, and the fit is the serial one, bit for bit."""
    X, y, _, _ = make_problem(100_000, 12, 5, noise=0.5)
    serial = gdcore.LinearModel(12)
    gdcore.Trainer(lr=0.05, epochs=40, tol=0.0).fit(serial, X, y)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(os.cpu_count() or 1)]
    try:
        for _ in range(3):
            model = gdcore.LinearModel(12)
            gdcore.Trainer(lr=0.05, epochs=40, tol=0.0, n_jobs=MAX_JOBS).fit(model, X, y)
            np.testing.assert_array_equal(model.w, serial.w)
            assert model.b == serial.b
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_the_threads_benchmark_measures_both_counts_in_pairs():
    from gdcore.benchmarks.threads import paired
    r = paired(9000, 3, 2, target=0.002)
    assert set(r) == {"one", "many", "ratio", "worst"}
    assert r["one"] > 0 and r["many"] > 0 and r["worst"] >= r["ratio"] > 0


@pytest.mark.parametrize("options", [["--threads", "--mlp"], ["--threads", "--solve"],
                                     ["--threads", "--plot", "x.png"]])
def test_the_threads_benchmark_is_a_table_of_its_own(options, capsys):
    from gdcore.cli import main
    assert main(["bench", *options]) == 2
    assert "--threads" in capsys.readouterr().err
