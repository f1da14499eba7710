"""``gdcore bench --penalty``: time to a penalised solution, against scikit-learn's solvers.

Two problems, each passed raw:

* Lasso on 100,000 x 100 (10 informative features, correlated columns, unit
  noise) at 5 values of alpha, from nearly empty to nearly dense: gdcore's
  default fit (penalty "l1", alpha 2a: its MSE is twice scikit-learn's
  least-squares term) against coordinate descent, ``Lasso(alpha=a)``, at
  its default tol and a tight one, and ``SGDRegressor(penalty="l1", alpha=a)``;
* a Lasso path of 20 alphas on the same data: ``gdcore.penalty_path``
  against ``lasso_path`` and against gdcore's one fit at the smallest alpha;
* Ridge on 1,000,000 x 20 (columns of scales 0.1 to 10) at 3 values of
  alpha: gdcore (penalty "l2", alpha 2a / n) against
  ``Ridge(alpha=a, solver="sag")`` at its default tol and a tight one, and
  ``SGDRegressor(penalty="l2", alpha=a / n)``.

Every answer is scored against the exact optimum: for Ridge, the penalised
normal equations solved in float64 (well conditioned here); for
Lasso, ``Lasso`` at tol 1e-12, checked by its own optimality conditions
(``kkt_violation``). Digits are -log10 of the coefficients' relative error
(capped at 16), "zeros" whether the zero coefficients are exactly the
optimum's, "excess" the relative excess of the objective. Times are medians
of ``repeats`` runs after a warm-up, BLAS on one thread (the CLI pins it).
The reference fits are not timed.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Callable, List, Optional, Tuple, cast

import numpy as np

from .. import LinearModel, Trainer, penalty_path
from . import environment, installed, solve
from .solve import digits

LASSO_SHAPE = (100_000, 100)
RIDGE_SHAPE = (1_000_000, 20)
QUICK_LASSO_SHAPE = (5_000, 30)
QUICK_RIDGE_SHAPE = (5_000, 10)
LASSO_FRACTIONS = (0.5, 0.1, 0.02, 0.005, 0.001)  # of the alpha that zeros every coefficient
RIDGE_ALPHAS = (1e-3, 1e-1, 10.0)  # times n: Ridge's alpha penalises a sum of squares

# a fit: (X, y) -> (w, b)
Fit = Callable[[np.ndarray, np.ndarray], Tuple[np.ndarray, float]]


def sparse_problem(n: int, d: int, informative: int = 10,
                   seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """y = X w + 1 + N(0, 1) with ``informative`` non-zero w, correlated columns."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:, 1:] += 0.5 * X[:, :-1]  # neighbours correlate
    w = np.zeros(d)
    w[rng.choice(d, informative, replace=False)] = rng.uniform(1, 3, informative) * rng.choice(
        [-1, 1], informative)
    return X, X @ w + 1.0 + rng.standard_normal(n)


def dense_problem(n: int, d: int, seed: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """y = X w + 1 + N(0, 1), columns of different scales."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.logspace(-1, 1, d)
    return X, X @ rng.uniform(-2, 2, d) + 1.0 + rng.standard_normal(n)


def lasso_alpha_max(X: np.ndarray, y: np.ndarray) -> float:
    """scikit-learn's alpha at which every Lasso coefficient is zero."""
    return float(np.max(np.abs((X - X.mean(0)).T @ (y - y.mean())))) / X.shape[0]


def kkt_violation(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, a: float) -> float:
    """How far (w, b) is from Lasso(alpha=a)'s optimality conditions, relative to a:
    the gradient g of (1/2n)||r||^2 must be -a sign(w_j) on non-zero w_j, within
    [-a, a] on the zeros, and 0 for b."""
    r = X @ w + b - y
    g = X.T @ r / X.shape[0]
    on = w != 0
    worst = max(float(np.max(np.abs(g[on] + a * np.sign(w[on])), initial=0.0)),
                float(np.max(np.abs(g[~on]) - a, initial=0.0)), abs(float(r.mean())))
    return worst / a


@dataclass
class Row:
    problem: str
    alpha: float
    method: str
    seconds: float
    digits: float
    zeros_exact: Optional[bool]
    excess: float
    note: str = ""


def _gdcore(penalty: str, alpha: float) -> Fit:
    def fit(X: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, float]:
        model = LinearModel(X.shape[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Trainer(penalty=penalty, alpha=alpha).fit(model, X, y)
        return model.w.copy(), float(model.b)
    return fit


def _sklearn(make: Callable[[], Any]) -> Fit:
    def fit(X: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SGD's ConvergenceWarning: scored below
            est = make().fit(X, y)
        return np.asarray(est.coef_, dtype=np.float64), float(np.ravel(est.intercept_)[0])
    return fit


def _timed(fit: Fit, X: np.ndarray, y: np.ndarray, repeats: int) -> Tuple[float, np.ndarray, float]:
    """``solve``'s timing of ``fit`` (the median of ``repeats`` runs, one for slow fits)
    after an untimed fit on a few rows (imports, first calls); the last fit's (w, b)."""
    fit(X[:200], y[:200])
    seconds, outputs = solve._timed(cast(Any, fit), X, y, repeats)
    w, b = cast(Tuple[np.ndarray, float], outputs[-1])
    return seconds, w, b


def lasso_rows(n: int, d: int, repeats: int) -> List[Row]:
    from sklearn.linear_model import Lasso, SGDRegressor
    X, y = sparse_problem(n, d)
    rows = []
    for fraction in LASSO_FRACTIONS:
        a = fraction * lasso_alpha_max(X, y)
        reference = _sklearn(lambda: Lasso(alpha=a, tol=1e-12, max_iter=1_000_000))(X, y)
        check = kkt_violation(X, y, *reference, a)

        def objective(w: np.ndarray, b: float) -> float:
            r = X @ w + b - y
            return float(r @ r) / (2 * len(y)) + a * float(np.abs(w).sum())
        best = objective(*reference)
        methods = {"gdcore": _gdcore("l1", 2 * a),
                   "Lasso (tol 1e-4)": _sklearn(lambda: Lasso(alpha=a)),
                   "Lasso (tol 1e-8)": _sklearn(lambda: Lasso(alpha=a, tol=1e-8, max_iter=100_000)),
                   "SGDRegressor": _sklearn(lambda: SGDRegressor(penalty="l1", alpha=a,
                                                                 random_state=0))}
        for name, fit in methods.items():
            seconds, w, b = _timed(fit, X, y, repeats)
            rows.append(Row("lasso", a, name, seconds, digits(w, b, *reference),
                            bool(np.array_equal(w == 0, reference[0] == 0)),
                            (objective(w, b) - best) / best,
                            f"reference KKT violation {check:.1e}" if name == "gdcore" else ""))
    return rows


PATH_ALPHAS = 20


def path_rows(n: int, d: int) -> List[Row]:
    """A Lasso path of PATH_ALPHAS alphas (1 to 0.001 of the largest useful one), one run
    each: gdcore.penalty_path against lasso_path (tol 1e-8), and gdcore's single fit at
    the smallest alpha; digits are the path's worst, against Lasso(tol=1e-12) fits."""
    from sklearn.linear_model import Lasso, lasso_path
    X, y = sparse_problem(n, d)
    alphas = lasso_alpha_max(X, y) * np.logspace(0, -3, PATH_ALPHAS)
    refs = [_sklearn(lambda: Lasso(alpha=a, tol=1e-12, max_iter=1_000_000))(X, y) for a in alphas]
    penalty_path(X[:200], y[:200], 2 * alphas[:2])  # warm-up
    start = time.perf_counter()
    ours = penalty_path(X, y, 2 * alphas)
    seconds = time.perf_counter() - start
    theirs_start = time.perf_counter()
    _, coefs, _ = lasso_path(X - X.mean(0), y - y.mean(), alphas=alphas, tol=1e-8)
    theirs = time.perf_counter() - theirs_start
    single, w, b = _timed(_gdcore("l1", 2 * alphas[-1]), X, y, 1)
    worst = min(digits(w_, b_, *ref) for w_, b_, ref in zip(ours.coefs, ours.intercepts, refs))
    zeros = all(np.array_equal(w_ == 0, ref[0] == 0) for w_, ref in zip(ours.coefs, refs))
    intercepts = y.mean() - X.mean(0) @ coefs  # lasso_path fits centred data
    worst_theirs = min(digits(coefs[:, k], float(intercepts[k]), *refs[k])
                       for k in range(PATH_ALPHAS))
    return [Row("path", float(alphas[-1]), f"gdcore penalty_path ({PATH_ALPHAS} alphas)", seconds,
                worst, zeros, math.nan),
            Row("path", float(alphas[-1]), f"lasso_path, tol 1e-8 ({PATH_ALPHAS} alphas)", theirs,
                worst_theirs, all(np.array_equal(coefs[:, k] == 0, refs[k][0] == 0)
                                  for k in range(PATH_ALPHAS)), math.nan),
            Row("path", float(alphas[-1]), "gdcore, one fit at the smallest alpha", single,
                digits(w, b, *refs[-1]), bool(np.array_equal(w == 0, refs[-1][0] == 0)),
                math.nan)]


def ridge_rows(n: int, d: int, repeats: int) -> List[Row]:
    from sklearn.linear_model import Ridge, SGDRegressor
    X, y = dense_problem(n, d)
    rows = []
    for scale in RIDGE_ALPHAS:
        a = scale * n
        Xc = X - X.mean(0)
        w_ref = np.linalg.solve(Xc.T @ Xc + a * np.eye(d), Xc.T @ (y - y.mean()))
        b_ref = float(y.mean() - X.mean(0) @ w_ref)

        def objective(w: np.ndarray, b: float) -> float:
            r = X @ w + b - y
            return float(r @ r) + a * float(w @ w)
        best = objective(w_ref, b_ref)
        methods = {"gdcore": _gdcore("l2", 2 * a / n),
                   "Ridge (sag)": _sklearn(lambda: Ridge(alpha=a, solver="sag", random_state=0)),
                   "Ridge (sag, tol 1e-8)": _sklearn(lambda: Ridge(alpha=a, solver="sag", tol=1e-8,
                                                                   max_iter=100_000, random_state=0)),
                   "SGDRegressor": _sklearn(lambda: SGDRegressor(penalty="l2", alpha=a / n,
                                                                 random_state=0))}
        for name, fit in methods.items():
            seconds, w, b = _timed(fit, X, y, repeats)
            rows.append(Row("ridge", a, name, seconds, digits(w, b, w_ref, b_ref), None,
                            (objective(w, b) - best) / best))
    return rows


def format_table(rows: List[Row], title: str, shape: Tuple[int, int]) -> str:
    lines = [f"{title}, {shape[0]:,} x {shape[1]}: seconds / digits of the coefficients / "
             "zeros exactly the optimum's / relative excess objective",
             "| alpha | method | time | digits | zeros | excess |", "|---|---|---|---|---|---|"]
    for r in rows:
        zeros = "" if r.zeros_exact is None else ("yes" if r.zeros_exact else "no")
        excess = "" if math.isnan(r.excess) else f"{r.excess:.1e}"
        lines.append(f"| {r.alpha:.3g} | {r.method} | {_ms(r.seconds)} | {r.digits:.1f} | "
                     f"{zeros} | {excess} |")
    notes = sorted({r.note for r in rows if r.note})
    return "\n".join(lines + [f"({n})" for n in notes])


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main(json_path: Optional[str] = None, quick: bool = False) -> int:
    if not installed("sklearn"):
        print("gdcore bench --penalty compares with scikit-learn, which is not installed")
        return 1
    repeats = 1 if quick else 3
    lasso_shape = QUICK_LASSO_SHAPE if quick else LASSO_SHAPE
    ridge_shape = QUICK_RIDGE_SHAPE if quick else RIDGE_SHAPE
    lasso = lasso_rows(*lasso_shape, repeats)
    print(format_table(lasso, "Lasso", lasso_shape))
    print()
    path = path_rows(*lasso_shape)
    print(format_table(path, "A Lasso path", lasso_shape))
    print()
    ridge = ridge_rows(*ridge_shape, repeats)
    print(format_table(ridge, "Ridge", ridge_shape))
    if json_path is not None:
        with open(json_path, "w") as f:
            json.dump({"environment": environment(), "repeats": repeats,
                       "rows": [asdict(r) for r in lasso + path + ridge]}, f, indent=1)
    return 0
