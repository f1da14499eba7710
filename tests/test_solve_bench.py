"""The time-to-solution benchmark scores against references that are right, and runs."""

from __future__ import annotations

import importlib.util
import json
from fractions import Fraction

import numpy as np
import pytest

import gdcore.cli
from gdcore.benchmarks import solve
from gdcore.benchmarks.epochs import THREAD_VARIABLES


HAVE_STATSMODELS = importlib.util.find_spec("statsmodels") is not None


@pytest.fixture(scope="module")
def problems():
    notes = []
    found = solve.problems(notes=notes)
    return {p.name: p for p in found}, notes


def exact_decimal_least_squares(rows, y):
    """Normal equations in fractions, Gauss-Jordan: independent of the module's solver."""
    p = len(rows[0])
    G = [[sum(r[i] * r[j] for r in rows) for j in range(p)] + [sum(r[i] * v for r, v in zip(rows, y))]
         for i in range(p)]
    for k in range(p):
        pivot = next(i for i in range(k, p) if G[i][k] != 0)
        G[k], G[pivot] = G[pivot], G[k]
        for i in range(p):
            if i != k and G[i][k] != 0:
                f = G[i][k] / G[k][k]
                G[i] = [a - f * c for a, c in zip(G[i], G[k])]
    return [G[i][p] / G[i][i] for i in range(p)]  # intercept first


def test_references_zero_the_least_squares_gradient(problems):
    """(w, b) solves the normal equations: each gradient component is at rounding level
    of the sums that form it, |A|^T (|A| |z| + |y|)."""
    found, _ = problems
    assert {"diabetes", "linnerud", "Wampler1", "Filip"} <= set(found)
    if HAVE_STATSMODELS:
        assert "Longley" in found
    for p in found.values():
        A = np.column_stack([p.X, np.ones(len(p.y))])
        z = np.r_[p.w, p.b]
        gradient = A.T @ (A @ z - p.y)
        scale = np.abs(A).T @ (np.abs(A) @ np.abs(z) + np.abs(p.y))
        # certified values are for NIST's decimals, not for their float64 roundings
        tol = 1e-13 if p.reference.startswith("exact") else 1e-11
        assert np.all(np.abs(gradient) <= tol * scale), p.name


def test_exact_solution_is_exact_and_its_condition_numbers_right():
    rng = np.random.default_rng(0)
    X = rng.integers(-50, 50, size=(40, 4)).astype(float)
    w = np.array([3.0, -1.0, 0.5, 2.0])
    exact = solve.exact_least_squares(X, X @ w + 7.0)  # y exact in float64
    assert np.array_equal(exact.w, w) and exact.b == 7.0
    A = np.column_stack([X, np.ones(40)])
    assert exact.cond_raw == pytest.approx(np.linalg.cond(A), rel=1e-9)
    Xs = (X - X.mean(0)) / X.std(0)
    assert exact.cond_standardized == pytest.approx(np.linalg.cond(Xs), rel=1e-9)
    with pytest.raises(np.linalg.LinAlgError):
        solve.exact_least_squares(np.column_stack([X, X[:, 0]]), X @ w)


@pytest.mark.parametrize("name", ["Norris", "Pontius", "Filip", "Wampler1", "Wampler2",
                                  "Wampler3", "Wampler4", "Wampler5"])
def test_nist_data_reproduce_the_certified_values(name):
    """Solved exactly from NIST's decimals, the data give the certified values: the data
    and the values were transcribed right."""
    if name in solve.NIST_POLYNOMIALS:
        x, y = solve.nist_polynomial_data(name)
        degree = solve.NIST_POLYNOMIALS[name][1]
        certified = solve.NIST_CERTIFIED[name]
    else:
        x = [Fraction(v) for v in range(21)]
        degree = 5
        if name == "Wampler1":
            y = [sum(v ** k for k in range(6)) for v in x]
        elif name == "Wampler2":
            y = [sum(Fraction(1, 10) ** k * v ** k for k in range(6)) for v in x]
        else:
            y = [Fraction(v) for v in solve.WAMPLER_NOISY_Y[name]]
        certified = [1.0] * 6 if name != "Wampler2" else [10.0 ** -k for k in range(6)]
    rows = [[v ** k for k in range(degree + 1)] for v in x]
    z = exact_decimal_least_squares(rows, y)
    np.testing.assert_allclose([float(v) for v in z], certified, rtol=1e-14)


@pytest.mark.skipif(not HAVE_STATSMODELS, reason="Longley comes from statsmodels")
def test_longley_is_nist_longley(problems):
    found, _ = problems
    p = found["Longley"]
    assert p.X.shape == (16, 6) and p.X[0, 1] == 234289.0 and p.y[0] == 60323.0
    rows = [[Fraction(1)] + [Fraction(v) for v in row] for row in p.X]
    z = exact_decimal_least_squares(rows, [Fraction(v) for v in p.y])
    np.testing.assert_allclose([float(v) for v in z], solve.NIST_CERTIFIED["Longley"], rtol=1e-14)
    np.testing.assert_allclose(np.r_[p.b, p.w], solve.NIST_CERTIFIED["Longley"], rtol=0)


def test_mpmath_agrees_with_the_exact_reference(problems):
    """An independent high-precision solve (mpmath's QR-free LU of the normal equations
    at 60 digits) on a real problem."""
    mpmath = pytest.importorskip("mpmath")
    found, _ = problems
    p = found["stackloss"] if "stackloss" in found else found["linnerud"]
    with mpmath.workdps(60):
        A = mpmath.matrix([[mpmath.mpf(float(v)) for v in row] + [1] for row in p.X])
        y = mpmath.matrix([mpmath.mpf(float(v)) for v in p.y])
        z = mpmath.lu_solve(A.T * A, A.T * y)
        np.testing.assert_allclose([float(v) for v in z], np.r_[p.w, p.b], rtol=1e-15)


def test_digits():
    assert solve.digits(np.array([1.0]), 1.0, np.array([1.0]), 1.0) == 16.0
    assert solve.digits(np.array([1.001]), 1.0, np.array([1.0]), 1.0) == pytest.approx(
        -np.log10(0.001 / np.sqrt(2)))
    assert solve.digits(np.array([np.nan]), 1.0, np.array([1.0]), 1.0) == -np.inf


@pytest.fixture(scope="module")
def quick_results():
    return solve.solve_table(quick=True, methods=["gdcore", "LinearRegression"])


@pytest.mark.parametrize("name", ["diabetes", "Wampler1"])
def test_quick_table_gdcore_gets_six_digits(quick_results, name):
    rows = {r.name: r for r in quick_results.problems}
    ours = rows[name].method("gdcore")
    assert ours is not None and ours.seconds > 0
    assert ours.digits >= 6, ours


def test_quick_table_formats_and_scores_the_mae(quick_results):
    text = solve.format_table(quick_results)
    assert "LinearRegression" in text and "median" in text and "MAE" in text
    mae = {m.name: m for m in quick_results.mae}["diabetes"]
    assert {f.method: f for f in mae.methods}["gdcore MAE"].excess <= 1e-5


def test_cli_bench_solve_quick(tmp_path, monkeypatch, capsys):
    for variable in THREAD_VARIABLES:  # else the CLI re-executes itself pinned
        monkeypatch.setenv(variable, "1")
    out = tmp_path / "solve.json"
    assert gdcore.cli.main(["bench", "--solve", "--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Time to solution" in printed and "diabetes" in printed
    data = json.loads(out.read_text())
    shipped = set(solve.QUICK_PROBLEMS) - (set() if HAVE_STATSMODELS else {"Longley"})
    assert {p["name"] for p in data["problems"]} == shipped
    assert all(m["seconds"] > 0 for p in data["problems"] for m in p["methods"])


def test_cli_quick_needs_solve(capsys):
    assert gdcore.cli.main(["bench", "--quick"]) == 2


def test_the_penalty_benchmark_scores_against_the_optimum():
    """Quick mode: every gdcore fit has 6 digits and exactly the optimum's zeros, the
    Lasso references satisfy their optimality conditions, the table prints."""
    pytest.importorskip("sklearn")
    from gdcore.benchmarks import penalties
    rows = penalties.lasso_rows(*penalties.QUICK_LASSO_SHAPE, repeats=1)
    rows += penalties.ridge_rows(*penalties.QUICK_RIDGE_SHAPE, repeats=1)
    path = penalties.path_rows(*penalties.QUICK_LASSO_SHAPE)
    assert path[0].method.startswith("gdcore penalty_path") and path[0].digits >= 6
    assert path[0].zeros_exact
    ours = [r for r in rows if r.method == "gdcore"]
    assert len(ours) == len(penalties.LASSO_FRACTIONS) + len(penalties.RIDGE_ALPHAS)
    assert all(r.digits >= 6 and r.excess < 1e-10 for r in ours)
    assert all(r.zeros_exact for r in ours if r.problem == "lasso")
    assert all(float(r.note.split()[-1]) < 1e-8 for r in ours if r.problem == "lasso")
    assert "| gdcore |" in penalties.format_table(rows, "Lasso", (1, 1))
