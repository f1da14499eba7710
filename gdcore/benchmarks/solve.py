"""``gdcore bench --solve``: time to a correct solution, on real and certified problems.

The epoch benchmark says how fast a pass is; this one says what users care
about: how long each tool takes to give the least-squares coefficients, and
how many of their digits are right. Every problem is passed raw, as users
pass it (no scaling), and every answer is scored against a reference that is
exact, not against another float64 solver:

* NIST StRD certified problems (Norris, Pontius, Filip, Longley, Wampler1-5):
  the certified values (when the data are not exact in float64, the best any
  solver can do is what the exact solution of the rounded data scores);
* everything else: the exact least-squares solution of the float64 data,
  in rational arithmetic (``exact_least_squares``), correctly rounded.

Digits are -log10(||(w, b) - (w*, b*)|| / ||(w*, b*)||), capped at 16. Times
are medians of ``repeats`` wall times (one run for fits over a second), one
process, BLAS pinned to one thread by the CLI, after one warm-up of each method
(imports, first-call set-up). Methods: gdcore's default fit, scikit-learn's
LinearRegression and SGDRegressor (defaults), torch's LBFGS and Adam (float64,
full batch). A second table does the same for the MAE against the linear-
programming optimum: gdcore against QuantileRegressor(solver="highs").
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import statistics
import time
import warnings
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import LinearModel, MAELoss, Trainer
from . import environment, installed

DIGITS_CAP = 16.0
DIGITS_TARGET = 6.0
LBFGS_MAX_ITER = 1000
ADAM_LR = 1e-3
ADAM_STEPS = 10_000
ADAM_GRAD_TOL = 1e-7  # torch LBFGS's default tolerance_grad, so both stop alike
MAE_ROWS = 20_000
SINGLE_RUN_SECONDS = 1.0
QUICK_PROBLEMS = ("diabetes", "Longley", "Wampler1")
QUICK_ADAM_STEPS = 1000  # quick mode checks that the table runs, not Adam's digits

# A fit: (X, y) -> (w, b, note, warning names)
Fit = Callable[[np.ndarray, np.ndarray], Tuple[np.ndarray, float, str, List[str]]]


# ----------------------------------------------------------------- problems --

@dataclass
class Problem:
    """One regression problem, raw, with the coefficients every method is scored against."""
    name: str
    X: np.ndarray
    y: np.ndarray
    w: np.ndarray
    b: float
    source: str
    reference: str
    real: bool  # measured data, not a constructed test polynomial
    cond_raw: float = math.nan  # of [X, 1], as passed
    cond_standardized: float = math.nan  # of the centred, unit-variance columns of X
    attainable_digits: float = DIGITS_CAP  # of the exact solution of the float64 data


@dataclass
class _Spec:
    name: str
    source: str
    real: bool
    needs: str  # the optional module the data comes from ("" for none)
    load: Callable[[], Tuple[np.ndarray, np.ndarray]]
    certified: Optional[Tuple[List[float], float]] = None  # NIST (w, b)


def _sklearn_data(name: str) -> Tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets
    if name == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True, scaled=False)
        return X, y
    if name == "linnerud":  # exercises (chins, situps, jumps) -> weight
        bunch = datasets.load_linnerud()
        return bunch.data, bunch.target[:, list(bunch.target_names).index("Weight")]
    if name == "iris":  # sepal length, sepal width, petal length -> petal width
        data = datasets.load_iris().data
        return data[:, :3], data[:, 3]
    if name == "wine":  # the 12 other measurements -> alcohol
        data = datasets.load_wine().data
        return data[:, 1:], data[:, 0]
    if name == "breast_cancer":  # 30 measurements -> diagnosis (a linear probability model)
        bunch = datasets.load_breast_cancer()
        return bunch.data, bunch.target.astype(np.float64)
    raise KeyError(name)


def _statsmodels_data(name: str, y_column: Optional[str] = None,
                      x_columns: Optional[Sequence[str]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """A statsmodels dataset's endog (or the column named) on its exog (or the columns
    named), numeric columns only."""
    ds = importlib.import_module(f"statsmodels.datasets.{name}").load_pandas()
    if y_column is None:
        y = ds.endog.iloc[:, 0] if hasattr(ds.endog, "columns") else ds.endog  # frame or series
    else:
        y = ds.data[y_column]
    exog = ds.exog if x_columns is None else ds.data[list(x_columns)]
    exog = exog.select_dtypes(include="number")
    return exog.to_numpy(dtype=np.float64), y.to_numpy(dtype=np.float64)


# NIST StRD, https://www.itl.nist.gov/div898/strd/lls/lls.shtml. Wampler1-5 share
# x = 0..20; Wampler1 and 2 are exact polynomials, 3-5 add noise orthogonal to
# the polynomials, so all their certified coefficients are 1. Norris, Pontius
# and Filip are (y, x) pairs of NIST's files, as transcribed in Praat's test
# suite (praat/test/dwtools/test_DataModeler.praat). Every data set here
# reproduces its certified values to 15 digits when solved exactly from the
# decimal data (tests/test_solve_bench.py), which a mistyped digit would not.
NORRIS_YX = """
0.1 0.2  338.8 337.4  118.1 118.2  888.0 884.6  9.2 10.1  228.1 226.5  668.5 666.3
998.5 996.3  449.1 448.6  778.9 777.0  559.2 558.2  0.3 0.4  0.1 0.6  778.1 775.5
668.8 666.9  339.3 338.0  448.9 447.5  10.8 11.6  557.7 556.0  228.3 228.1
998.0 995.8  888.8 887.6  119.6 120.2  0.3 0.3  0.6 0.3  557.6 556.8  339.3 339.1
888.0 887.2  998.5 999.0  778.9 779.0  10.2 11.1  117.6 118.3  228.9 229.2
668.4 669.1  449.2 448.9  0.2 0.5
"""
PONTIUS_YX = """
0.11019 150000  0.21956 300000  0.32949 450000  0.43899 600000  0.54803 750000
0.65694 900000  0.76562 1050000  0.87487 1200000  0.98292 1350000  1.09146 1500000
1.20001 1650000  1.30822 1800000  1.41599 1950000  1.52399 2100000  1.63194 2250000
1.73947 2400000  1.84646 2550000  1.95392 2700000  2.06128 2850000  2.16844 3000000
0.11052 150000  0.22018 300000  0.32939 450000  0.43886 600000  0.54798 750000
0.65739 900000  0.76596 1050000  0.87474 1200000  0.98300 1350000  1.09150 1500000
1.20004 1650000  1.30818 1800000  1.41613 1950000  1.52408 2100000  1.63159 2250000
1.73965 2400000  1.84696 2550000  1.95445 2700000  2.06177 2850000  2.16829 3000000
"""
FILIP_YX = """
0.8116 -6.860120914  0.9072 -4.324130045  0.9052 -4.358625055  0.9039 -4.358426747
0.8053 -6.955852379  0.8377 -6.661145254  0.8667 -6.355462942  0.8809 -6.118102026
0.7975 -7.115148017  0.8162 -6.815308569  0.8515 -6.519993057  0.8766 -6.204119983
0.8885 -5.853871964  0.8859 -6.109523091  0.8959 -5.79832982   0.8913 -5.482672118
0.8959 -5.171791386  0.8971 -4.851705903  0.9021 -4.517126416  0.909  -4.143573228
0.9139 -3.709075441  0.9199 -3.499489089  0.8692 -6.300769497  0.8872 -5.953504836
0.89   -5.642065153  0.891  -5.031376979  0.8977 -4.680685696  0.9035 -4.329846955
0.9078 -3.928486195  0.7675 -8.56735134   0.7705 -8.363211311  0.7713 -8.107682739
0.7736 -7.823908741  0.7775 -7.522878745  0.7841 -7.218819279  0.7971 -6.920818754
0.8329 -6.628932138  0.8641 -6.323946875  0.8804 -5.991399828  0.7668 -8.781464495
0.7633 -8.663140179  0.7678 -8.473531488  0.7697 -8.247337057  0.77   -7.971428747
0.7749 -7.676129393  0.7796 -7.352812702  0.7897 -7.072065318  0.8131 -6.774174009
0.8498 -6.478861916  0.8741 -6.159517513  0.8061 -6.835647144  0.846  -6.53165267
0.8751 -6.224098421  0.8856 -5.910094889  0.8919 -5.598599459  0.8934 -5.290645224
0.894  -4.974284616  0.8957 -4.64454848   0.9047 -4.290560426  0.9129 -3.885055584
0.9209 -3.408378962  0.9219 -3.13200249   0.7739 -8.726767166  0.7681 -8.66695597
0.7665 -8.511026475  0.7703 -8.165388579  0.7702 -7.886056648  0.7761 -7.588043762
0.7809 -7.283412422  0.7961 -6.995678626  0.8253 -6.691862621  0.8602 -6.392544977
0.8809 -6.067374056  0.8301 -6.684029655  0.8664 -6.378719832  0.8834 -6.065855188
0.8898 -5.752272167  0.8964 -5.132414673  0.8963 -4.811352704  0.9074 -4.098269308
0.9119 -3.66174277   0.9228 -3.2644011
"""
# certified (b, w_1 .. w_d): the intercept first, as NIST lists them
NIST_CERTIFIED: Dict[str, List[float]] = {
    "Norris": [-0.262323073774029, 1.00211681802045],
    "Pontius": [0.673565789473684e-3, 0.732059160401003e-6, -0.316081871345029e-14],
    "Filip": [-1467.48961422980, -2772.17959193342, -2316.37108160893, -1127.97394098372,
              -354.478233703349, -75.1242017393757, -10.8753180355343, -1.06221498588947,
              -0.670191154593408e-1, -0.246781078275479e-2, -0.402962525080404e-4],
    "Longley": [-3482258.63459582, 15.0618722713733, -0.358191792925910e-01,
                -2.02022980381683, -1.03322686717359, -0.511041056535807e-01,
                1829.15146461355],
}
NIST_POLYNOMIALS = {"Norris": (NORRIS_YX, 1), "Pontius": (PONTIUS_YX, 2), "Filip": (FILIP_YX, 10)}
WAMPLER_NOISY_Y = {
    "Wampler3": [760, -2042, 2111, -1684, 3888, 1858, 11379, 17560, 39287, 64382, 113159,
                 175108, 273291, 400186, 581243, 811568, 1121004, 1506550, 2002767, 2611612,
                 3369180],
    "Wampler4": [75901, -204794, 204863, -204436, 253665, -200894, 214131, -185192, 221249,
                 -138370, 315911, -27644, 455253, 197434, 783995, 608816, 1370781, 1303798,
                 2205519, 2408860, 3444321],
    "Wampler5": [7590001, -20479994, 20480063, -20479636, 25231365, -20476094, 20489331,
                 -20460392, 18417449, -20413570, 20591111, -20302844, 18651453, -20077766,
                 21059195, -19666384, 26348481, -18971402, 22480719, -17866340, 10958421],
}
WAMPLER2_COEFFICIENTS = [Fraction(1, 10) ** k for k in range(6)]  # b, then x .. x^5


def _wampler(name: str) -> Tuple[np.ndarray, np.ndarray]:
    x = np.arange(21.0)
    X = np.column_stack([x ** k for k in range(1, 6)])  # exact in float64
    if name == "Wampler1":
        y = [sum(xi ** k for k in range(6)) for xi in range(21)]
    elif name == "Wampler2":  # NIST's 5-decimal values, each rounded once to float64
        y = [float(sum(c * xi ** k for k, c in enumerate(WAMPLER2_COEFFICIENTS)))
             for xi in range(21)]
    else:
        y = WAMPLER_NOISY_Y[name]
    return X, np.asarray(y, dtype=np.float64)


def nist_polynomial_data(name: str) -> Tuple[List[Fraction], List[Fraction]]:
    """(x, y) of a NIST polynomial problem exactly as NIST writes them (decimals)."""
    text, _ = NIST_POLYNOMIALS[name]
    tokens = [Fraction(t) for t in text.split()]
    return tokens[1::2], tokens[0::2]


def _nist_polynomial(name: str) -> Tuple[np.ndarray, np.ndarray]:
    """X = x, x^2, .. x^degree, each power taken exactly, then rounded once to float64."""
    x, y = nist_polynomial_data(name)
    degree = NIST_POLYNOMIALS[name][1]
    X = np.array([[float(v ** k) for k in range(1, degree + 1)] for v in x])
    return X, np.array([float(v) for v in y])


def _certified(name: str) -> Tuple[List[float], float]:
    values = NIST_CERTIFIED[name]
    return values[1:], values[0]


def _specs() -> List[_Spec]:
    sk, sm = "scikit-learn (shipped)", "statsmodels (shipped)"
    specs = [_Spec(name, sk, True, "sklearn", partial(_sklearn_data, name))
             for name in ("diabetes", "linnerud", "iris", "wine", "breast_cancer")]
    specs.append(_Spec("Longley", "NIST StRD (statsmodels' longley data)", True, "statsmodels",
                       partial(_statsmodels_data, "longley"), _certified("Longley")))
    specs += [_Spec(name, "NIST StRD (observed; data in code)", True, "",
                    partial(_nist_polynomial, name), _certified(name)) for name in NIST_POLYNOMIALS]
    specs.append(_Spec("Wampler1", "NIST StRD (generated)", False, "",
                       partial(_wampler, "Wampler1"), ([1.0] * 5, 1.0)))
    specs.append(_Spec("Wampler2", "NIST StRD (generated)", False, "",
                       partial(_wampler, "Wampler2"),
                       ([float(c) for c in WAMPLER2_COEFFICIENTS[1:]], 1.0)))
    specs += [_Spec(name, "NIST StRD (data in code)", False, "", partial(_wampler, name),
                    ([1.0] * 5, 1.0)) for name in WAMPLER_NOISY_Y]
    # (dataset, y column, X columns): None for its endog / its exog
    statsmodels_sets: List[Tuple[str, Optional[str], Optional[List[str]]]] = [
        ("anes96", None, None), ("cancer", None, None), ("ccard", None, None),
        ("committee", None, None), ("copper", None, None), ("cpunish", None, None),
        ("engel", "foodexp", ["income"]),  # Koenker's Engel curve: food spending on income
        ("fair", None, None), ("grunfeld", "invest", ["value", "capital", "year"]),
        ("macrodata", "realinv", ["year", "realgdp", "realcons", "realgovt", "realdpi", "cpi",
                                  "m1", "tbilrate", "unemp", "pop", "infl"]),
        ("modechoice", None, None), ("randhie", None, None), ("scotland", None, None),
        ("spector", None, None), ("stackloss", None, None),
        ("star98", "NABOVE", None),  # pupils above the median maths score; its exog
        ("statecrime", None, None), ("strikes", None, None),
    ]
    specs += [_Spec(name, sm, True, "statsmodels", partial(_statsmodels_data, name, y, x))
              for name, y, x in statsmodels_sets]
    return specs


def problems(names: Optional[Sequence[str]] = None,
             notes: Optional[List[str]] = None) -> List[Problem]:
    """The benchmark's problems (those in ``names``, else all) whose source is installed.

    Skipped ones (a missing package, rank-deficient data) are described in ``notes``.
    """
    out: List[Problem] = []
    for spec in _specs():
        if names is not None and spec.name not in names:
            continue
        if spec.needs and not installed(spec.needs):
            if notes is not None:
                notes.append(f"{spec.name}: skipped, {spec.needs} is not installed")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels' and pandas' deprecation notices
            X, y = spec.load()
        X = np.ascontiguousarray(X, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        try:
            exact = exact_least_squares(X, y)
        except np.linalg.LinAlgError:
            if notes is not None:
                notes.append(f"{spec.name}: skipped, its design [X, 1] is rank-deficient")
            continue
        if spec.certified is not None:
            w, b = np.asarray(spec.certified[0], dtype=np.float64), float(spec.certified[1])
            reference = "NIST certified values"
        else:
            w, b = exact.w, exact.b
            reference = "exact rational least squares of the float64 data"
        out.append(Problem(spec.name, X, y, w, b, spec.source, reference, spec.real,
                           exact.cond_raw, exact.cond_standardized,
                           digits(exact.w, exact.b, w, b)))
    return out


# --------------------------------------------------- exact reference solution --

@dataclass
class Exact:
    w: np.ndarray
    b: float
    cond_raw: float
    cond_standardized: float


def _as_integers(A: np.ndarray) -> Tuple[np.ndarray, List[int]]:
    """Each float64 column exactly as Python integers times a power of two:
    A[:, j] == M[:, j] * 2**scale[j]."""
    mantissa, exponent = np.frexp(A)
    M = (mantissa * 2.0 ** 53).astype(np.int64)  # exact: |mantissa| < 1
    E = exponent.astype(np.int64) - 53
    out = np.empty(A.shape, dtype=object)
    scales: List[int] = []
    for j in range(A.shape[1]):
        nonzero = M[:, j] != 0
        scale = int(E[nonzero, j].min()) if nonzero.any() else 0
        shift = np.where(nonzero, E[:, j] - scale, 0)
        out[:, j] = M[:, j].astype(object) << shift.astype(object)
        scales.append(scale)
    return out, scales


def _solve_exact(G: List[List[int]], rhs: List[List[int]]) -> List[List[Fraction]]:
    """G^-1 rhs exactly, for integer G and rhs; LinAlgError if G is singular.

    Fraction-free (Bareiss) Gauss-Jordan: every division is exact and every entry
    stays an integer (a minor of [G rhs]); at the end each diagonal entry is det G
    and the right-hand side holds det G times the solution.
    """
    p = len(G)
    rows = [G[i][:] + rhs[i][:] for i in range(p)]
    previous = 1
    for k in range(p):
        pivot = next((i for i in range(k, p) if rows[i][k] != 0), None)
        if pivot is None:
            raise np.linalg.LinAlgError("singular")
        rows[k], rows[pivot] = rows[pivot], rows[k]
        row_k, pivot_value = rows[k], rows[k][k]
        for i in range(p):
            if i != k:
                f = rows[i][k]
                rows[i] = [(pivot_value * a - f * c) // previous for a, c in zip(rows[i], row_k)]
        previous = pivot_value
    return [[Fraction(v, previous) for v in row[p:]] for row in rows]


def _cond_spd(G: np.ndarray, G_inv: np.ndarray) -> float:
    """sqrt(lambda_max(G) lambda_max(G^-1)) = the condition number of A when G = A^T A.

    Both matrices are known exactly and rounded once to float64, and the largest
    eigenvalue of a symmetric matrix comes out with a small relative error, so
    this is accurate even at condition numbers float64 SVD cannot see (1e17+)."""
    return float(math.sqrt(np.linalg.eigvalsh(G)[-1] * np.linalg.eigvalsh(G_inv)[-1]))


def exact_least_squares(X: np.ndarray, y: np.ndarray) -> Exact:
    """The exact minimiser of ||X w + b - y|| for the float64 data given, and the exact
    condition numbers of [X, 1] and of the standardised X.

    How: every float64 is an integer times a power of two, so the normal equations
    [X 1]^T [X 1] z = [X 1]^T y are formed without rounding in Python integers and
    solved by fraction-free Gauss-Jordan elimination; z is then rounded once to
    float64. Rank-deficient data raise LinAlgError.
    """
    n, d = X.shape
    A = np.column_stack([X, np.ones(n)])
    M, scales = _as_integers(A)
    my, (y_scale,) = _as_integers(y.reshape(-1, 1))
    G = M.T @ M  # exact integers
    r = M.T @ my[:, 0]
    p = d + 1
    G_int = [[int(G[i, j]) for j in range(p)] for i in range(p)]
    solved = _solve_exact(G_int, [[int(r[i])] + [int(i == j) for j in range(p)] for i in range(p)])
    G_frac = [[Fraction(v) for v in row] for row in G_int]
    two = Fraction(2)
    # [X 1] = M D with D = diag(2^scale), y = my 2^y_scale: z = D^-1 u 2^y_scale
    z = [solved[i][0] * two ** (y_scale - scales[i]) for i in range(p)]
    G_inv_int = [row[1:] for row in solved]
    G_user = np.array([[float(G_frac[i][j] * two ** (scales[i] + scales[j])) for j in range(p)]
                       for i in range(p)])
    G_inv_user = np.array([[float(G_inv_int[i][j] * two ** (-scales[i] - scales[j]))
                            for j in range(p)] for i in range(p)])
    cond_raw = _cond_spd(G_user, G_inv_user)
    # Standardised: C = centred cross-products of X (the Schur complement of the
    # intercept); its inverse is the leading block of G^-1. The correlation matrix
    # R = S C S (S = diag(C_jj^-1/2)) has R^-1 = S^-1 C^-1 S^-1; scales cancel.
    C = [[G_frac[i][j] - G_frac[i][d] * G_frac[j][d] / G_frac[d][d] for j in range(d)]
         for i in range(d)]
    R = np.array([[float(C[i][j] / C[i][i]) * math.sqrt(float(C[i][i] / C[j][j]))
                   for j in range(d)] for i in range(d)])
    R_inv = np.array([[float(G_inv_int[i][j] * C[i][i]) * math.sqrt(float(C[j][j] / C[i][i]))
                       for j in range(d)] for i in range(d)])
    return Exact(np.array([float(v) for v in z[:d]]), float(z[d]), cond_raw, _cond_spd(R, R_inv))


# ------------------------------------------------------------------ methods --

def _warning_names(caught: Sequence[warnings.WarningMessage]) -> List[str]:
    return list(dict.fromkeys(w.category.__name__ for w in caught))


def fit_gdcore(X: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, float, str, List[str]]:
    """The default fit, as the README shows it."""
    model = LinearModel(X.shape[1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = Trainer().fit(model, X, y)
    return (np.array(model.w, dtype=np.float64), float(model.b),
            f"{history.n_epochs} epochs, {history.status}", _warning_names(caught))


def fit_linear_regression(X: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, float, str, List[str]]:
    from sklearn.linear_model import LinearRegression
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LinearRegression().fit(X, y)
    return np.asarray(model.coef_), float(model.intercept_), "", _warning_names(caught)


def fit_sgd_regressor(X: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, float, str, List[str]]:
    """SGDRegressor() with its defaults (l2 penalty 1e-4, max_iter 1000) on the raw data."""
    from sklearn.linear_model import SGDRegressor
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = SGDRegressor().fit(X, y)
        except ValueError as exc:  # it raises on overflow
            return (np.full(X.shape[1], np.nan), math.nan,
                    f"failed: {str(exc).split('.')[0]}", _warning_names(caught))
    return (np.asarray(model.coef_), float(model.intercept_[0]), f"{model.n_iter_} epochs",
            _warning_names(caught))


def _torch_problem(X: np.ndarray, y: np.ndarray) -> Tuple[Any, Any, Any, Any, Callable[[], Any]]:
    import torch
    Xt, yt = torch.tensor(X), torch.tensor(y)  # copies, as users make them
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    return Xt, yt, w, b, lambda: torch.mean((Xt @ w + b - yt) ** 2)


def fit_torch_lbfgs(X: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, float, str, List[str]]:
    """torch.optim.LBFGS, float64, strong Wolfe line search, default tolerances, raw data."""
    import torch
    _, _, w, b, loss_fn = _torch_problem(X, y)
    optimizer = torch.optim.LBFGS([w, b], max_iter=LBFGS_MAX_ITER,
                                  line_search_fn="strong_wolfe")

    def closure() -> Any:
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    optimizer.step(closure)
    n_iter = optimizer.state[optimizer.param_groups[0]["params"][0]].get("n_iter", 0)
    return w.detach().numpy().copy(), float(b.detach()), f"{n_iter} iterations", []


def fit_torch_adam(X: np.ndarray, y: np.ndarray,
                   max_steps: int = ADAM_STEPS) -> Tuple[np.ndarray, float, str, List[str]]:
    """torch.optim.Adam, float64, lr 1e-3, full batch, raw data: ``max_steps`` steps or
    until the largest gradient component is at most ADAM_GRAD_TOL."""
    import torch
    _, _, w, b, loss_fn = _torch_problem(X, y)
    optimizer = torch.optim.Adam([w, b], lr=ADAM_LR)
    steps = 0
    for steps in range(1, max_steps + 1):
        optimizer.zero_grad()
        loss_fn().backward()
        assert w.grad is not None and b.grad is not None
        if max(float(w.grad.abs().max()), abs(float(b.grad))) <= ADAM_GRAD_TOL:
            break
        optimizer.step()
    return w.detach().numpy().copy(), float(b.detach()), f"{steps} steps", []


def available_methods(adam_steps: int = ADAM_STEPS) -> Dict[str, Fit]:
    """The methods whose packages are installed, gdcore first."""
    found: Dict[str, Fit] = {"gdcore": fit_gdcore}
    if installed("sklearn"):
        found["LinearRegression"] = fit_linear_regression
        found["SGDRegressor"] = fit_sgd_regressor
    if installed("torch"):
        found["torch LBFGS"] = fit_torch_lbfgs
        found["torch Adam"] = partial(fit_torch_adam, max_steps=adam_steps)
    return found


def digits(w: np.ndarray, b: float, ref_w: np.ndarray, ref_b: float) -> float:
    """Correct digits of the stacked (w, b): -log10 of the relative error, capped at 16;
    -inf for a non-finite answer."""
    coef, ref = np.r_[w, b], np.r_[ref_w, ref_b]
    if not np.all(np.isfinite(coef)):
        return -math.inf
    error = float(np.linalg.norm(coef - ref) / np.linalg.norm(ref))
    return DIGITS_CAP if error == 0 else min(DIGITS_CAP, -math.log10(error))


# ------------------------------------------------------------------ running --

@dataclass
class MethodResult:
    method: str
    seconds: float  # median wall time
    digits: float  # median over the repeats (SGDRegressor shuffles differently each time)
    note: str = ""
    warnings: List[str] = field(default_factory=list)


@dataclass
class ProblemResult:
    name: str
    n: int
    d: int
    cond_raw: float
    cond_standardized: float
    real: bool
    source: str
    reference: str
    attainable_digits: float
    methods: List[MethodResult]

    def method(self, name: str) -> Optional[MethodResult]:
        return next((m for m in self.methods if m.method == name), None)


@dataclass
class MAEMethodResult:
    method: str
    seconds: float
    mean_abs: float  # the objective reached, mean |y - Xw - b|
    excess: float  # relative to the optimum
    note: str = ""
    warnings: List[str] = field(default_factory=list)


@dataclass
class MAEResult:
    name: str
    n: int
    d: int
    optimum: float
    reference: str
    methods: List[MAEMethodResult]


@dataclass
class SolveResults:
    repeats: int
    problems: List[ProblemResult]
    mae: List[MAEResult]
    notes: List[str]


def _timed(fit: Fit, X: np.ndarray, y: np.ndarray,
           repeats: int) -> Tuple[float, List[Tuple[np.ndarray, float, str, List[str]]]]:
    """Median wall time of ``repeats`` fits, and their outputs. A fit slower than
    SINGLE_RUN_SECONDS runs once: its timing noise is small, and repeating it would
    make the table take minutes (torch Adam's 10,000 steps take seconds)."""
    seconds, outputs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        outputs.append(fit(X, y))
        seconds.append(time.perf_counter() - start)
        if seconds[0] > SINGLE_RUN_SECONDS:
            break
    return statistics.median(seconds), outputs


def run_problem(problem: Problem, methods: Dict[str, Fit], repeats: int) -> ProblemResult:
    results = []
    for name, fit in methods.items():
        seconds, outputs = _timed(fit, problem.X, problem.y, repeats)
        scores = [digits(w, b, problem.w, problem.b) for w, b, _, _ in outputs]
        note, caught = outputs[0][2], sorted({c for out in outputs for c in out[3]})
        results.append(MethodResult(name, seconds, statistics.median(scores), note, caught))
    n, d = problem.X.shape
    return ProblemResult(problem.name, n, d, problem.cond_raw, problem.cond_standardized,
                         problem.real, problem.source, problem.reference,
                         problem.attainable_digits, results)


def _warm_up(methods: Dict[str, Fit]) -> None:
    """One untimed call of each method: imports and first-call set-up are not the solve.
    Adam gets y = 0, solved at its first step: its 10,000 steps would take seconds."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = X @ np.ones(3) + 1.0
    for name, fit in methods.items():
        fit(X, np.zeros_like(y) if name == "torch Adam" else y)


# ---------------------------------------------------------------------- MAE --

def mae_problems(quick: bool = False) -> List[Tuple[str, np.ndarray, np.ndarray]]:
    """diabetes, and a 20,000-row problem: statsmodels' randhie, else heavy-tailed data."""
    found = []
    if installed("sklearn"):
        X, y = _sklearn_data("diabetes")
        found.append(("diabetes", np.ascontiguousarray(X, np.float64), y.astype(np.float64)))
    if quick:
        return found
    if installed("statsmodels"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X, y = _statsmodels_data("randhie")
        found.append(("randhie", np.ascontiguousarray(X), y))
    else:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((MAE_ROWS, 10)) * rng.uniform(0.1, 100.0, 10)
        y = X @ rng.standard_normal(10) + 3.0 + rng.standard_t(1.5, MAE_ROWS)
        found.append((f"synthetic t(1.5), {MAE_ROWS:,} rows", X, y))
    return found


def lad_optimum(X: np.ndarray, y: np.ndarray) -> Tuple[float, str]:
    """The least-absolute-deviations optimum, mean |y - Xw - b|, by linear programming.

    scipy's HiGHS on min 1^T (u + v) s.t. Xw + b + u - v = y, u, v >= 0 (written
    here, not QuantileRegressor's); its vertex is then polished: the d + 1
    smallest residuals are made exactly zero by one solve, and the lower of the
    two objectives is kept.
    """
    from scipy import sparse
    from scipy.optimize import linprog
    n, d = X.shape
    A = np.column_stack([X, np.ones(n)])
    eye = sparse.eye(n, format="csc")
    A_eq = sparse.hstack([sparse.csc_matrix(A), eye, -eye], format="csc")
    c = np.r_[np.zeros(d + 1), np.ones(2 * n)] / n
    bounds = [(None, None)] * (d + 1) + [(0, None)] * (2 * n)
    res = linprog(c, A_eq=A_eq, b_eq=y, bounds=bounds, method="highs")
    if not res.success:
        raise RuntimeError(f"linprog failed: {res.message}")
    z = res.x[:d + 1]
    best = float(np.mean(np.abs(y - A @ z)))
    rows = np.argsort(np.abs(y - A @ z))[:d + 1]
    try:
        vertex = np.linalg.solve(A[rows], y[rows])
        best = min(best, float(np.mean(np.abs(y - A @ vertex))))
    except np.linalg.LinAlgError:
        pass
    return best, "scipy linprog (HiGHS), vertex polished"


def fit_gdcore_mae(X: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, float, str, List[str]]:
    model = LinearModel(X.shape[1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = Trainer(loss=MAELoss()).fit(model, X, y)
    return (np.array(model.w, dtype=np.float64), float(model.b),
            f"{history.n_epochs} epochs, {history.status}", _warning_names(caught))


def fit_quantile_regressor(X: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, float, str, List[str]]:
    from sklearn.linear_model import QuantileRegressor
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = QuantileRegressor(quantile=0.5, alpha=0, solver="highs").fit(X, y)
    return np.asarray(model.coef_), float(model.intercept_), "", _warning_names(caught)


def run_mae(name: str, X: np.ndarray, y: np.ndarray, repeats: int) -> MAEResult:
    optimum, how = lad_optimum(X, y)
    methods: Dict[str, Fit] = {"gdcore MAE": fit_gdcore_mae}
    if installed("sklearn"):
        methods["QuantileRegressor"] = fit_quantile_regressor
    results = []
    for method, fit in methods.items():
        seconds, outputs = _timed(fit, X, y, repeats)
        w, b, note, caught = outputs[0]
        objective = float(np.mean(np.abs(y - X @ w - b)))
        results.append(MAEMethodResult(method, seconds, objective, objective / optimum - 1.0,
                                       note, caught))
    return MAEResult(name, X.shape[0], X.shape[1], optimum, how, results)


# --------------------------------------------------------------------- table --

def solve_table(repeats: int = 3, methods: Optional[Sequence[str]] = None,
                quick: bool = False, report: Callable[[str], None] = lambda line: None
                ) -> SolveResults:
    """Run every method on every problem (quick: a few small ones, one repeat, a
    shorter Adam)."""
    if quick:
        repeats = 1
    notes: List[str] = []
    chosen = available_methods(QUICK_ADAM_STEPS if quick else ADAM_STEPS)
    if quick and "torch Adam" in chosen:
        notes.append(f"quick: torch Adam runs at most {QUICK_ADAM_STEPS:,} steps")
    for missing in ("sklearn", "torch"):
        if not installed(missing):
            notes.append(f"{missing} is not installed: its methods are skipped")
    if methods is not None:
        unknown = set(methods) - set(chosen)
        if unknown:
            notes.append(f"unavailable methods skipped: {', '.join(sorted(unknown))}")
        chosen = {k: v for k, v in chosen.items() if k in methods}
    if installed("torch"):
        import torch
        torch.set_num_threads(1)
    _warm_up(chosen)
    rows = []
    for problem in problems(QUICK_PROBLEMS if quick else None, notes):
        report(f"  {problem.name} ...")
        rows.append(run_problem(problem, chosen, repeats))
    mae = []
    if methods is None or "gdcore" in methods:
        for name, X, y in mae_problems(quick):
            report(f"  MAE {name} ...")
            mae.append(run_mae(name, X, y, repeats))
    return SolveResults(repeats, rows, mae, notes)


def _cell(m: Optional[MethodResult]) -> str:
    if m is None:
        return "-"
    score = "fail" if m.digits == -math.inf else f"{m.digits:.1f}"
    return f"{_ms(m.seconds)} / {score}"


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def format_table(results: SolveResults) -> str:
    """The per-problem table, its medians and gdcore's score, the notes, then the MAE table."""
    rows = results.problems
    names = list(dict.fromkeys(m.method for r in rows for m in r.methods))
    header = ["problem", "n x d", "cond raw", "cond std"] + names
    table = [[r.name, f"{r.n} x {r.d}", f"{r.cond_raw:.1e}", f"{r.cond_standardized:.1e}"]
             + [_cell(r.method(n)) for n in names] for r in rows]
    median_row = ["median", "", "", ""]
    for n in names:
        ms = [m for m in (r.method(n) for r in rows) if m is not None]
        median_row.append(f"{_ms(statistics.median(m.seconds for m in ms))} / "
                          f"{statistics.median(m.digits for m in ms):.1f}" if ms else "-")
    table.append(median_row)
    widths = [max(len(row[i]) for row in [header] + table) for i in range(len(header))]

    def line(cells: List[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    lines = [f"Time to solution on the raw data: each cell is wall time in ms (median of "
             f"{results.repeats}) / correct digits of (w, b) against exact or NIST-certified "
             f"coefficients; cond raw: of [X, 1] as passed, cond std: of the centred, "
             f"unit-variance X (the coordinates of gdcore's fit), both computed exactly", "",
             line(header), line(["-" * w for w in widths])]
    lines += [line(row) for row in table[:-1]] + [line(["-" * w for w in widths]), line(table[-1])]
    lines += [""] + _summary(rows)
    for r in rows:
        ours = r.method("gdcore")
        if ours is not None and (ours.digits < DIGITS_TARGET or ours.warnings):
            lines.append(f"  gdcore on {r.name}: {ours.digits:.1f} digits ({ours.note}"
                         + (f"; warned {', '.join(ours.warnings)}" if ours.warnings else "") + ")")
    for r in rows:
        if r.attainable_digits < DIGITS_CAP:
            lines.append(f"  {r.name}: its data rounded to float64 allow {r.attainable_digits:.1f} "
                         f"digits of the certified values (the exact solution of the rounded data)")
    lines += [f"  note: {n}" for n in results.notes]
    if results.mae:
        lines += ["", "MAE: objective mean |y - Xw - b| against the LP optimum "
                  "(excess = objective / optimum - 1)", ""]
        for problem in results.mae:
            lines.append(f"  {problem.name} ({problem.n} x {problem.d}): optimum "
                         f"{problem.optimum:.10g} ({problem.reference})")
            for fit in problem.methods:
                warned = f", warned {', '.join(fit.warnings)}" if fit.warnings else ""
                lines.append(f"    {fit.method:<18} {_ms(fit.seconds):>8} ms   excess "
                             f"{fit.excess:+.2e}"
                             + (f"   ({fit.note}{warned})" if fit.note or warned else ""))
    return "\n".join(lines)


def _summary(rows: Sequence[ProblemResult]) -> List[str]:
    """gdcore against LinearRegression: median time ratio, and problems solved to 6 digits."""
    lines = []
    for label, subset in (("all", rows), ("real data", [r for r in rows if r.real])):
        pairs = [(r.method("gdcore"), r.method("LinearRegression")) for r in subset]
        ours = [g for g, _ in pairs if g is not None]
        if not ours:
            continue
        text = (f"{label} ({len(subset)} problems): gdcore >= {DIGITS_TARGET:.0f} digits on "
                f"{sum(g.digits >= DIGITS_TARGET for g in ours)}/{len(ours)}")
        both = [(g, s) for g, s in pairs if g is not None and s is not None]
        if both:
            ratio = statistics.median(g.seconds for g, _ in both) / statistics.median(
                s.seconds for _, s in both)
            per_problem = statistics.median(g.seconds / s.seconds for g, s in both)
            text += (f"; median time gdcore / LinearRegression {ratio:.2f} "
                     f"(median of per-problem ratios {per_problem:.2f})")
        lines.append(text)
    return lines


def _jsonable(value: Any) -> Any:
    """NaN and infinities as null: strict JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def to_json(results: SolveResults) -> Dict[str, Any]:
    jsonable: Dict[str, Any] = _jsonable(asdict(results))
    return jsonable


def main(json_path: Optional[str] = None, quick: bool = False) -> int:
    env = environment()
    print("gdcore bench --solve: time to solution" + (" (quick)" if quick else ""))
    print(f"CPU: {env['cpu']}; threads pinned: "
          + ", ".join(f"{k}={v}" for k, v in env["thread_pins"].items()))
    print(f"numpy {env['numpy']}, scikit-learn {env['sklearn']}, torch {env['torch']}\n")
    results = solve_table(quick=quick, report=print)
    print()
    print(format_table(results))
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"environment": env} | to_json(results), f, indent=2)
        print(f"wrote {json_path}")
    return 0
