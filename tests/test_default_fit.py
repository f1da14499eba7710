"""The default fit: standardised coordinates, accelerated steps, a certified answer.

``Trainer().fit(LinearModel(d), X, y)`` must return the least-squares coefficients to
1e-6 relative, whatever the scale of X and y, or say that it did not; the default MAE
fit must reach the least-absolute-deviations optimum of a linear program. The change
of variables is checked against finite differences, and every optimizer runs the same
steps on every backend, in chunks or not.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gdcore
from gdcore import optim
from gdcore.loop import Precondition
from gdcore.precondition import standardize
from helpers import lstsq, make_problem


def reference(X, y, fit_intercept=True):
    """Least squares by numpy.linalg.lstsq on centred, scaled columns (so that data near
    1e-150 or 1e150 do not fall under lstsq's cut-off): (w, b, column scales)."""
    X = np.asarray(X, dtype=np.float64)
    big = np.abs(X).max(axis=0)  # so that squaring 1e150 does not overflow
    m = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
    s = np.sqrt(np.mean(((X - m) / big) ** 2, axis=0)) * big
    y_mean = y.mean() if fit_intercept else 0.0
    v = np.linalg.lstsq((X - m) / s, y - y_mean, rcond=None)[0]
    w = v / s
    return w, float(y_mean - m @ w), s


def coefficient_error(model, X, y, fit_intercept=True):
    """||v - v*|| / ||v*|| with v = s w the standardised slopes (units-free)."""
    w_ref, _, s = reference(X, y, fit_intercept)
    return float(np.linalg.norm((model.w - w_ref) * s) / np.linalg.norm(w_ref * s))


def scaled_problem(n=2000, d=8, seed=0):
    """Columns on scales 1e-3 .. 1e3, correlated, off-centre, with noise."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d))
    Z[:, 1] = 0.9 * Z[:, 0] + 0.1 * Z[:, 1]  # correlated columns
    scales = np.logspace(-3, 3, d)
    X = Z * scales + rng.uniform(-5, 5, d) * scales
    y = Z @ rng.uniform(-2, 2, d) + 4.0 + 0.3 * rng.standard_normal(n)
    return X, y


# ---------------------------------------------------------- change of variables --

@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_in_the_coordinates_is_the_chain_rule(fit_intercept):
    """dL/dz by the preconditioner equals central differences of L(params(z))."""
    X, y = scaled_problem(300, 4, 1)
    pre = standardize(X, fit_intercept).precondition()
    rng = np.random.default_rng(2)
    params = np.append(rng.standard_normal(4) / pre.scale, rng.standard_normal())
    if not fit_intercept:
        params[-1] = 0.0
    z = pre.coordinates(params)

    def loss_at(z):
        p = params.copy()
        pre.parameters(z, p)
        r = X @ p[:-1] + p[-1] - y
        return float(np.mean(r * r))

    r = X @ params[:-1] + params[-1] - y
    g = np.append(2 * X.T @ r / len(y), 2 * r.mean())
    analytic = pre.gradient(g)
    h = 1e-6 * max(1.0, float(np.abs(z).max()))
    numeric = np.array([(loss_at(z + h * e) - loss_at(z - h * e)) / (2 * h)
                        for e in np.eye(z.size)])
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6 * np.abs(analytic).max())


def test_coordinates_and_parameters_are_inverse():
    X, _ = scaled_problem(100, 5, 3)
    pre = standardize(X, True).precondition()
    params = np.append(np.arange(1.0, 6.0), -2.5)
    back = np.zeros(6)
    pre.parameters(pre.coordinates(params), back)
    np.testing.assert_allclose(back, params, rtol=1e-12)


def test_standardised_curvature_is_the_correlation_matrix():
    X, _ = scaled_problem(500, 4, 4)
    std = standardize(X, True)
    corr = np.corrcoef(X, rowvar=False)
    expected = np.linalg.eigvalsh(np.block([[corr, np.zeros((4, 1))], [np.zeros((1, 4)), 1]]))
    np.testing.assert_allclose(std.eigenvalues, expected, rtol=1e-10)
    assert std.condition == pytest.approx(expected[-1] / expected[0], rel=1e-9)


# ------------------------------------------------------------- the default fit --

@pytest.mark.parametrize("x_scale, y_scale", [(1.0, 1.0), (1e-150, 1.0), (1e150, 1.0),
                                              (1.0, 1e-100), (1.0, 1e100), (1e-3, 1e6),
                                              (1e100, 1e-100)])
def test_default_fit_reaches_least_squares_whatever_the_scale(x_scale, y_scale):
    X, y = scaled_problem()
    X, y = X * x_scale, y * y_scale
    model = gdcore.LinearModel(X.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: it converges, certified
        hist = gdcore.Trainer().fit(model, X, y)
    assert hist.status == "converged"
    assert coefficient_error(model, X, y) < 1e-6
    _, b_ref, _ = reference(X, y)
    assert model.b == pytest.approx(b_ref, rel=1e-6, abs=1e-6 * abs(y).max())


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_default_fit_on_every_backend(backend, fit_intercept, dtype):
    X, y = scaled_problem(300, 4, 5)
    model = gdcore.LinearModel(4, dtype=dtype, fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gdcore.ConditioningWarning)  # float32: 1e-6 is near eps
        hist = gdcore.Trainer(tol=1e-6 if dtype == np.float64 else 1e-4,
                              backend=backend).fit(model, X, y)
    assert hist.converged
    assert coefficient_error(model, X, y, fit_intercept) < (1e-6 if dtype == np.float64 else 1e-3)
    if not fit_intercept:
        assert model.b == 0.0


def test_default_fit_is_fast_on_diabetes():
    """Raw sklearn diabetes: 1e-6 in at most 500 epochs (plain steps in raw units need
    more than half a million)."""
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_diabetes(scaled=False)
    model = gdcore.LinearModel(10)
    hist = gdcore.Trainer().fit(model, data.data, data.target)
    assert hist.converged and hist.n_epochs <= 500
    assert coefficient_error(model, data.data, data.target) < 1e-6


def test_default_fit_warns_on_rank_deficient_data():
    X, y, _, _ = make_problem(50, 3, 1, noise=0.1)
    X = np.hstack([X, X[:, :1] * 2.0 + 1.0])  # a column the others and the intercept span
    model = gdcore.LinearModel(4)
    with pytest.warns(gdcore.ConditioningWarning, match="rank-deficient"):
        hist = gdcore.Trainer().fit(model, X, y)
    r = X @ model.w + model.b - y
    w_ref, b_ref = lstsq(X, y)
    assert np.mean(r * r) == pytest.approx(np.mean((X @ w_ref + b_ref - y) ** 2), rel=1e-8)
    assert hist.n_epochs < 10_000


def test_beyond_double_precision_the_fit_stalls_and_says_so():
    """A near-collinear pair (condition number ~1e12 in standardised units) and tol=1e-12:
    unreachable in float64; the fit must stop by itself and warn, not run 100,000 epochs."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(400)
    X = np.column_stack([a, a + 1e-6 * rng.standard_normal(400), rng.standard_normal(400)])
    y = X @ [1.0, -1.0, 0.5] + 0.1 * rng.standard_normal(400)
    with pytest.warns(gdcore.ConditioningWarning, match="condition number"):
        with pytest.warns(gdcore.ConvergenceWarning):
            hist = gdcore.Trainer(tol=1e-12).fit(gdcore.LinearModel(3), X, y)
    assert hist.status in ("stalled", "max_epochs") and not hist.converged


def test_an_explicit_step_keeps_the_raw_coordinates():
    """lr=... is a step in the data's units: today's plain gradient descent."""
    X, y = scaled_problem(100, 3, 6)
    X = X / np.abs(X).max(axis=0)  # so that a plain step converges at all
    a, b = gdcore.LinearModel(3), gdcore.LinearModel(3)
    gdcore.Trainer(lr=0.1, epochs=5, tol=0.0).fit(a, X, y)
    gdcore.Trainer(optimizer="gd", lr=0.1, epochs=5, tol=0.0, precondition=None).fit(b, X, y)
    np.testing.assert_array_equal(a.w, b.w)


# ----------------------------------------------------------------- the MAE fit --

def lad_optimum(X, y):
    """The least-absolute-deviations objective by a linear program (scipy's HiGHS)."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, hstack, identity
    n, d = X.shape
    A = hstack([csr_matrix(np.column_stack([X, np.ones(n)])), identity(n), -identity(n)])
    cost = np.concatenate([np.zeros(d + 1), np.ones(2 * n)])
    res = linprog(cost, A_eq=A.tocsr(), b_eq=y, bounds=[(None, None)] * (d + 1) + [(0, None)] * (2 * n),
                  method="highs")
    assert res.status == 0
    return res.fun / n


@pytest.mark.parametrize("backend, seed", [("cython", 7), ("cython", 9), ("numpy", 7)])
def test_default_mae_fit_reaches_the_linear_programs_optimum(backend, seed):
    """Heavy-tailed noise, where the MAE is used. The fit ends certified by a duality gap,
    or, where its dual bound stays loose (a degenerate optimum), stalls and warns; either
    way the objective is within 1e-5 of the linear program's."""
    X, y = scaled_problem(400, 4, seed)
    y = y + np.random.default_rng(seed + 1).standard_t(2, 400)
    model = gdcore.LinearModel(4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hist = gdcore.Trainer(loss=gdcore.MAELoss(), backend=backend).fit(model, X, y)
    optimum = lad_optimum(X, y)
    assert hist.converged or (hist.status == "stalled" and any(
        issubclass(w.category, gdcore.ConvergenceWarning) for w in caught))
    assert hist.final_loss == pytest.approx(gdcore.MAELoss()(y, model.predict(X)), rel=1e-12)
    assert optimum <= hist.final_loss <= optimum * (1 + 1e-5)


def test_default_mae_fit_on_diabetes():
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_diabetes(scaled=False)
    model = gdcore.LinearModel(10)
    hist = gdcore.Trainer(loss=gdcore.MAELoss()).fit(model, data.data, data.target)
    optimum = lad_optimum(data.data, data.target)
    assert hist.converged and hist.final_loss <= optimum * (1 + 1e-5)


# ----------------------------------------------------- every optimizer, every engine --

OPTIMIZERS = [optim.SGD(lr=0.05), optim.SGD(lr=0.02, momentum=0.9, nesterov=True),
              optim.Adam(lr=0.05), optim.AdamW(lr=0.05), optim.RMSprop(lr=0.01, momentum=0.5),
              optim.Adagrad(lr=0.5), optim.Accelerated(lr=0.05)]


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=[type(o).__name__ for o in OPTIMIZERS])
@pytest.mark.parametrize("batch_size", [None, 16])
@pytest.mark.parametrize("precondition", [None, "standardize"])
def test_backends_take_the_same_steps(opt, batch_size, precondition):
    X, y, _, _ = make_problem(64, 3, 9, noise=0.3)
    X = X * [1.0, 3.0, 0.5] + [0.5, -1.0, 2.0]
    results = {}
    for backend in gdcore.backends():
        model = gdcore.LinearModel(3)
        hist = gdcore.Trainer(optimizer=opt, epochs=12, tol=0.0, batch_size=batch_size,
                              random_state=4, precondition=precondition,
                              schedule=optim.ExponentialDecay(0.95),
                              backend=backend).fit(model, X, y)
        results[backend] = (hist.loss, model.params.copy())
    base_loss, base_params = results["cython"]
    for backend, (loss, params) in results.items():
        np.testing.assert_allclose(loss, base_loss, rtol=1e-10, err_msg=backend)
        np.testing.assert_allclose(params, base_params, rtol=1e-10, atol=1e-12, err_msg=backend)


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=[type(o).__name__ for o in OPTIMIZERS])
@pytest.mark.parametrize("batch_size", [None, 7])
@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_a_fit_cut_in_chunks_is_the_uncut_fit_bit_for_bit(opt, batch_size, backend):
    """Callbacks every 3 epochs cut the fit into kernel calls; the schedule's and the
    optimizer's state carry across, so nothing changes, to the last bit."""
    X, y, _, _ = make_problem(50, 3, 10, noise=0.3)
    schedule = optim.ReduceOnPlateau(gamma=0.5, patience=1, threshold=0.05)

    def fit(callback):
        model = gdcore.LinearModel(3)
        hist = gdcore.Trainer(optimizer=opt, epochs=20, tol=0.0, batch_size=batch_size,
                              random_state=1, schedule=schedule,
                              backend=backend).fit(model, X, y, callback=callback,
                                                   callback_every=3)
        return hist.loss, model.params.copy()

    whole = fit(None)
    cut = fit(lambda epoch, loss, model: False)
    np.testing.assert_array_equal(cut[0], whole[0])
    np.testing.assert_array_equal(cut[1], whole[1])


@pytest.mark.parametrize("backend", gdcore.backends())
def test_divergence_restores_parameters_and_optimizer_state(backend):
    """Momentum with a step far too large: the fit stops, the model keeps the last
    parameters whose loss was finite, and no parameter is inf or NaN."""
    X, y, _, _ = make_problem(40, 2, 11, noise=0.1)
    for batch_size in (None, 8):
        model = gdcore.LinearModel(2)
        with pytest.raises(gdcore.DivergenceError) as info:
            gdcore.Trainer(optimizer="momentum", lr=50.0, epochs=500, batch_size=batch_size,
                           random_state=0, backend=backend).fit(model, X, y)
        assert np.all(np.isfinite(model.params))
        hist = info.value.history
        r = X @ model.w + model.b - y
        assert np.isfinite(np.mean(r * r))
        assert hist.n_epochs < 500


def test_default_mini_batch_fit_decays_to_the_optimum():
    """Batch 32 on raw diabetes: the default (momentum, cosine decay) ends near the
    least-squares optimum; a constant step stays in its ball of gradient noise."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    w, b = lstsq(X, y)
    best = np.mean((X @ w + b - y) ** 2)

    def excess(**kw):
        model = gdcore.LinearModel(10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gdcore.ConvergenceWarning)
            gdcore.Trainer(batch_size=32, random_state=0, **kw).fit(model, X, y)
        return np.mean((model.predict(X) - y) ** 2) / best - 1

    assert excess() < 1e-5
    assert excess(schedule="constant") > 100 * excess()


def test_named_momentum_with_auto_step_is_stable_in_mini_batches():
    """lr='auto' with momentum scales 1/L_B by (1 - momentum): the buffer sums the noise
    of about 1 / (1 - momentum) batches (without it this fit diverges)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10_000, 20)) * np.logspace(-2, 2, 20)
    y = X @ rng.standard_normal(20) + 3 + rng.standard_normal(10_000)
    model = gdcore.LinearModel(20)
    plain = gdcore.Trainer(optimizer="sgd", batch_size=32).learning_rate(model, X)
    for name in ("momentum", "nesterov"):
        trainer = gdcore.Trainer(optimizer=name, batch_size=32, random_state=0, epochs=30,
                                 schedule="cosine")
        assert trainer.learning_rate(model, X) == pytest.approx(0.1 * plain, rel=1e-12)
        trainer.fit(gdcore.LinearModel(20), X, y)
    full = gdcore.Trainer(optimizer="momentum").learning_rate(model, X)
    assert full == pytest.approx(gdcore.Trainer(optimizer="sgd").learning_rate(model, X))


def test_accelerated_epochs_follow_the_square_root_of_the_condition_number():
    """10,000 x 20, column scales 1e-3 .. 1e3, correlated (condition ~1e4 standardised):
    1e-6 within 2,000 epochs and within 3 sqrt(kappa) ln(1e6)."""
    rng = np.random.default_rng(0)
    n, d = 10_000, 20
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Z = rng.standard_normal((n, d))
    Z = (Z - Z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(Z.T, bias=True))).T
    X = Z @ (Q * np.sqrt(np.geomspace(1.0, 1e-4, d))) @ Q.T
    scales = np.logspace(-3, 3, d)
    X = X / X.std(0) * scales + rng.standard_normal(d)
    y = X @ (rng.standard_normal(d) / scales) + 2 + 0.1 * rng.standard_normal(n)
    std = standardize(X, True)
    kappa = std.largest / std.smallest
    assert 5e3 < kappa < 2e4
    model = gdcore.LinearModel(d)
    hist = gdcore.Trainer().fit(model, X, y)
    assert hist.converged and hist.n_epochs <= min(2000, 3 * np.sqrt(kappa) * np.log(1e6))
    assert coefficient_error(model, X, y) < 1e-6


@pytest.mark.parametrize("backend", ["cython", "python"])
def test_momentum_bouncing_off_a_lucky_early_minimum_is_not_a_stall(backend):
    """Heavy ball hits the tutorial's optimum at epoch 1, then its momentum carries it
    away and back: a gradient far above its best is motion, not a precision stall."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    model = gdcore.LinearModel(1)
    hist = gdcore.Trainer(optimizer="momentum", tol=0.0, epochs=400,
                          backend=backend).fit(model, x, x)
    assert hist.status == "max_epochs"
    assert abs(model.w[0] - 1.0) < 1e-6


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_error_map_takes_the_gradient_to_the_distance_from_least_squares(fit_intercept):
    """The stopping rule's measure: M g = (w, b) - (w*, b*) in the user's units, g the
    gradient in standardised coordinates (the MSE is quadratic: the Newton step)."""
    X, y = scaled_problem(seed=3)
    w_ref, b_ref, _ = reference(X, y, fit_intercept)
    std = standardize(X, fit_intercept)
    rng = np.random.default_rng(1)
    w = w_ref * (1 + 1e-4 * rng.standard_normal(w_ref.size))
    b = b_ref + 1e-4 * abs(b_ref) if fit_intercept else 0.0
    r = X @ w + b - y
    g = 2.0 / len(y) * (((X - std.mean) / std.scale).T @ r)
    if fit_intercept:
        g = np.r_[g, 2.0 * r.mean()]
    error = np.r_[w - w_ref, b - b_ref] if fit_intercept else w - w_ref
    M = std.error_map()
    k = g.size
    np.testing.assert_allclose(M[:k] @ g, error, rtol=1e-6, atol=1e-9 * np.abs(error).max())
    v_error = (w - w_ref) * std.scale  # z - z*: the slopes v = s w (and c = b + m . w)
    np.testing.assert_allclose((M[k:] @ g)[:w.size], v_error, rtol=1e-6,
                               atol=1e-9 * np.abs(v_error).max())
