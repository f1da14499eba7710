"""Penalties: L2, L1 and elastic net against scikit-learn's specialised solvers (same
coefficients, the same zeros), the proximal steps against their reference, and every
engine, model and front end taking the same penalty."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import gdcore
from gdcore import _dispatch
from gdcore.optim.base import proximal
from test_optim import SETTINGS, quadratic

linear_model = pytest.importorskip("sklearn.linear_model")


def raw_diabetes():
    """scikit-learn's diabetes data in columns of very different units, as users pass them."""
    from sklearn.datasets import load_diabetes
    X, y = load_diabetes(return_X_y=True)
    X = X * np.logspace(-2, 4, X.shape[1]) + np.linspace(-50.0, 300.0, X.shape[1])
    return np.ascontiguousarray(X), y


def sparse_problem(n=400, d=30, informative=5, seed=0):
    """y = X w + 1 + noise with 5 of 30 coefficients non-zero, correlated columns."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) @ (np.eye(d) + 0.3 * rng.standard_normal((d, d)) / math.sqrt(d))
    X *= np.logspace(-1, 2, d)
    w = np.zeros(d)
    w[rng.choice(d, informative, replace=False)] = rng.uniform(1, 3, informative) * rng.choice([-1, 1], informative)
    w /= np.logspace(-1, 2, d)
    return X, X @ w + 1.0 + 0.5 * rng.standard_normal(n)


DATASETS = {"diabetes": raw_diabetes, "sparse": sparse_problem}


def lasso_alpha_max(X, y):
    """The smallest alpha at which Lasso's coefficients are all zero."""
    return float(np.max(np.abs((X - X.mean(0)).T @ (y - y.mean())))) / X.shape[0]


def relative_error(w, b, w_ref, b_ref):
    return float(np.linalg.norm(np.append(w - w_ref, b - b_ref)) / np.linalg.norm(np.append(w_ref, b_ref)))


def fit(X, y, **trainer):
    model = gdcore.LinearModel(X.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a certified fit warns of nothing
        history = gdcore.Trainer(**trainer).fit(model, X, y)
    return model, history


@pytest.mark.parametrize("data", DATASETS)
@pytest.mark.parametrize("kind", ["l1", "elasticnet"])
def test_lasso_and_elastic_net_at_20_alphas(data, kind):
    """Lasso(alpha=a) and ElasticNet(alpha=a) minimise (1/2n)||r||^2 + a R(w): half of
    gdcore's MSE + 2a R(w). Same coefficients to 1e-6, and the same exact zeros."""
    X, y = DATASETS[data]()
    zeros = []
    for a in lasso_alpha_max(X, y) * np.logspace(-4, -0.05, 20):
        if kind == "l1":
            ref = linear_model.Lasso(alpha=a, tol=1e-13, max_iter=1_000_000).fit(X, y)
        else:
            ref = linear_model.ElasticNet(alpha=a, l1_ratio=0.7, tol=1e-13, max_iter=1_000_000).fit(X, y)
        model, history = fit(X, y, penalty=kind, alpha=2 * a, l1_ratio=0.7)
        assert history.status == "converged"
        assert relative_error(model.w, model.b, ref.coef_, ref.intercept_) <= 1e-6, a
        np.testing.assert_array_equal(model.w == 0, ref.coef_ == 0)
        zeros.append(int(np.sum(model.w == 0)))
    assert zeros[0] < zeros[-1]  # the path runs from dense to sparse


@pytest.mark.parametrize("data", DATASETS)
def test_ridge_at_20_alphas(data):
    """Ridge(alpha=a) minimises ||r||^2 + a ||w||^2: n times gdcore's MSE + (2a/n) ||w||^2 / 2."""
    X, y = DATASETS[data]()
    n = X.shape[0]
    for a in np.logspace(-3, 3, 20) * n * np.var(X, axis=0).min():
        ref = linear_model.Ridge(alpha=a, solver="cholesky").fit(X, y)
        model, history = fit(X, y, penalty="l2", alpha=2 * a / n)
        assert history.status == "converged"
        assert relative_error(model.w, model.b, ref.coef_, ref.intercept_) <= 1e-6, a


def test_the_penalised_objective_is_what_is_reported():
    X, y = raw_diabetes()
    model, history = fit(X, y, penalty="elasticnet", alpha=3.0, l1_ratio=0.4)
    r = X @ model.w + model.b - y
    objective = np.mean(r * r) + 3.0 * (0.6 / 2 * model.w @ model.w + 0.4 * np.abs(model.w).sum())
    assert history.final_loss == pytest.approx(objective, rel=1e-13)
    # at the optimum the objective's minimum-norm subgradient vanishes, not the MSE's gradient
    g = np.append(2 * X.T @ r / len(y), 2 * r.mean())
    assert np.linalg.norm(g) > 1e3 * history.grad_norm


def test_the_intercept_is_never_penalised():
    X, y = raw_diabetes()
    y = y + 1e4  # a large intercept: shrinking it would show
    model, _ = fit(X, y, penalty="l1", alpha=1e6)  # strong enough to zero every weight
    assert np.all(model.w == 0)
    assert model.b == pytest.approx(np.mean(y), rel=1e-6)  # the fit's tolerance


PROXIMAL = [s for s in SETTINGS if s.proximal]


@pytest.mark.parametrize("variant", _dispatch.available("_loop"))
@pytest.mark.parametrize("opt", PROXIMAL, ids=[repr(s) for s in PROXIMAL])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_proximal_step_is_the_reference_step_bit_for_bit(opt, dtype, variant):
    step = _dispatch.load("_loop", variant).optimizer_step
    A, c = quadratic(37)
    rng = np.random.default_rng(0)
    prox = (rng.uniform(0, 3, 37) * (rng.random(37) < 0.7), rng.uniform(0, 2, 37))
    x_ref = np.linspace(-1, 1, 37).astype(dtype)
    x_cmp = x_ref.copy()
    s_ref = opt.new_state(37)
    s_cmp = opt.new_state(37).array
    lr = 0.1 if opt.lr == "auto" else opt.lr
    for t in range(200):
        g = A @ x_ref.astype(np.float64) - c + (0.0 if t % 7 else 1e-3)
        opt.step(x_ref, g, s_ref, lr, prox)
        step(opt.settings(lr), x_cmp, g, s_cmp, len(opt.slots), lr, prox)
        np.testing.assert_array_equal(x_cmp, x_ref)
        np.testing.assert_array_equal(s_cmp, s_ref.array)


def test_proximal_map_solves_its_problem():
    """prox(v) minimises lr (t1 |x| + t2 x^2 / 2) + (x - v)^2 / 2, checked on a fine grid."""
    grid = np.linspace(-4, 4, 800_001)
    for v, t1, t2, lr in [(3.0, 1.0, 0.5, 0.7), (-0.2, 1.0, 0.0, 0.5), (-2.5, 0.3, 2.0, 1.0),
                          (0.1, 0.0, 1.0, 0.1)]:
        x = float(proximal(np.array([v]), lr, (np.array([t1]), np.array([t2])))[0])
        f = lr * (t1 * np.abs(grid) + t2 * grid ** 2 / 2) + (grid - v) ** 2 / 2
        assert abs(x - grid[np.argmin(f)]) <= 1e-5


@pytest.mark.parametrize("batch_size", [None, 16])
@pytest.mark.parametrize("optimizer", ["gd", "momentum", "nesterov", "accelerated", "adam"])
@pytest.mark.parametrize("precondition", [None, "standardize"])
def test_every_engine_takes_the_same_steps(batch_size, optimizer, precondition):
    X, y = sparse_problem(n=80, d=6)
    X = X / np.abs(X).max(axis=0)
    params = []
    for backend in ("python", "numpy", "cython"):
        model = gdcore.LinearModel(6)
        history = gdcore.Trainer(penalty="l2" if optimizer == "adam" else "elasticnet",
                                 alpha=0.3, l1_ratio=0.5, optimizer=optimizer,
                                 lr=0.01, epochs=40, batch_size=batch_size, random_state=2,
                                 precondition=precondition, backend=backend).fit(model, X, y)
        params.append((model.params.copy(), history.loss, history.grad_norm))
    for p, loss, norm in params[1:]:
        np.testing.assert_allclose(p, params[0][0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(loss, params[0][1], rtol=1e-12)
        assert norm == pytest.approx(params[0][2], rel=1e-10)


def test_a_network_step_shrinks_its_weights_but_not_its_biases():
    """One plain step with an L2 penalty: the prox of lr alpha ||W||^2 / 2 after the step,
    W <- (W - lr dL/dW) / (1 + lr alpha), b <- b - lr dL/db."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 3)), rng.standard_normal(30)
    start = gdcore.MLP([3, 4, 1], random_state=0)
    gw, gb = gdcore.MSELoss().gradient(start, X, y)
    net = gdcore.MLP([3, 4, 1], random_state=0)
    history = gdcore.Trainer(optimizer="gd", lr=0.1, epochs=1, penalty="l2", alpha=0.5).fit(net, X, y)
    for k in range(2):
        np.testing.assert_allclose(net.weights[k], (start.weights[k] - 0.1 * gw[k]) / 1.05,
                                   rtol=1e-12)
        np.testing.assert_allclose(net.biases[k], start.biases[k] - 0.1 * gb[k], rtol=1e-12)
    squares = sum(float((W ** 2).sum()) for W in start.weights)
    assert history.loss[0] == pytest.approx(gdcore.MSELoss()(y, start.predict(X)) + 0.25 * squares,
                                            rel=1e-12)


def test_mini_batch_proximal_steps_give_exact_zeros_near_the_lasso():
    """Proximal SGD: exact zeros, but the step noise keeps some of Lasso's zeros small
    rather than zero (the step, and so the threshold, decays with the schedule)."""
    X, y = sparse_problem()
    a = 0.2 * lasso_alpha_max(X, y)
    ref = linear_model.Lasso(alpha=a, tol=1e-12, max_iter=100_000).fit(X, y)
    model = gdcore.LinearModel(X.shape[1])
    gdcore.Trainer(penalty="l1", alpha=2 * a, batch_size=32, epochs=300, random_state=0).fit(model, X, y)
    assert np.sum(model.w == 0) >= np.sum(ref.coef_ == 0) // 2
    assert relative_error(model.w, model.b, ref.coef_, ref.intercept_) < 2e-2


@pytest.mark.parametrize("kwargs,message", [
    (dict(penalty="l3"), "penalty must be None, 'l2', 'l1' or 'elasticnet'"),
    (dict(penalty="l2", alpha=-1.0), "alpha must be a finite number >= 0"),
    (dict(penalty="l2", alpha=math.nan), "alpha must be a finite number >= 0"),
    (dict(penalty="l2", alpha="big"), "alpha must be a finite number >= 0"),
    (dict(penalty="elasticnet", l1_ratio=1.5), r"l1_ratio must be a number in \[0, 1\]"),
])
def test_bad_penalties_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gdcore.Trainer(**kwargs)


def test_an_adaptive_optimizer_takes_the_l2_part_in_its_gradient_and_refuses_l1():
    X, y = sparse_problem(n=200, d=4, informative=2)
    with pytest.raises(ValueError, match="an L1 penalty takes proximal steps, which Adam"):
        gdcore.Trainer(optimizer="adam", penalty="l1").fit(gdcore.LinearModel(4), X, y)
    n = X.shape[0]
    ref = linear_model.Ridge(alpha=5.0 * n, solver="cholesky").fit(X, y)
    model = gdcore.LinearModel(4)
    gdcore.Trainer(optimizer=gdcore.optim.Adam(lr=0.05), penalty="l2", alpha=10.0, epochs=20_000,
                   tol=1e-9).fit(model, X, y)
    assert relative_error(model.w, model.b, ref.coef_, ref.intercept_) <= 1e-5


def test_the_automatic_mae_fit_refuses_a_penalty():
    X, y = sparse_problem(n=50, d=3, informative=2)
    with pytest.raises(ValueError, match="automatic MAE fit takes no penalty"):
        gdcore.Trainer(loss=gdcore.MAELoss(), penalty="l1", alpha=0.1).fit(gdcore.LinearModel(3), X, y)
    model = gdcore.LinearModel(3)  # with an optimizer of the user's, it runs
    gdcore.Trainer(loss=gdcore.MAELoss(), penalty="l1", alpha=0.1, optimizer="gd", lr=1e-4,
                   epochs=5).fit(model, X, y)


def test_huber_with_an_l1_penalty_is_certified():
    """Both pieces at once: the rows within epsilon and the signs of the slopes. The
    optimum's subgradient conditions, checked directly: zero slopes have |g_j| <= alpha,
    the others g_j + alpha sign(w_j) = 0."""
    X, y = sparse_problem(seed=4)
    model, history = fit(X, y, loss=gdcore.HuberLoss(0.5), penalty="l1", alpha=0.05)
    assert history.status == "converged" and np.any(model.w == 0)
    r = X @ model.w + model.b - y
    s = np.clip(r, -0.5, 0.5)
    g, gb = X.T @ s / len(y), s.mean()
    on = model.w != 0
    scale = np.abs(X).mean(axis=0)
    assert abs(gb) <= 1e-6 * 0.5
    assert np.all(np.abs(g[~on]) <= 0.05 * (1 + 1e-9))
    assert np.max(np.abs(g[on] + 0.05 * np.sign(model.w[on])) * (1 / scale[on])) <= 1e-6


def test_gdregressor_matches_lasso_in_the_units_of_y():
    from gdcore.sklearn import GDRegressor
    X, y = raw_diabetes()
    a = 0.05 * lasso_alpha_max(X, y)
    ref = linear_model.ElasticNet(alpha=a, l1_ratio=0.8, tol=1e-13, max_iter=1_000_000).fit(X, y)
    for dtype, tol in [("float64", 1e-6), ("float32", 1e-3)]:
        reg = GDRegressor(penalty="elasticnet", alpha=2 * a, l1_ratio=0.8, dtype=dtype).fit(X, y)
        assert relative_error(reg.coef_, reg.intercept_, ref.coef_, ref.intercept_) <= tol
        np.testing.assert_array_equal(reg.coef_ == 0, ref.coef_ == 0)


def test_the_command_line_takes_a_penalty(tmp_path):
    from test_cli import run, write_csv
    X, y = sparse_problem(n=100, d=4, informative=2)
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "e", "y"], [[*x, t] for x, t in zip(X, y)])
    a = 0.3 * lasso_alpha_max(X, y)
    run("fit", path, "--target", "y", "--penalty", "l1", "--alpha", repr(2 * a), "-o",
        tmp_path / "m.gdm", cwd=tmp_path)
    model = gdcore.load(tmp_path / "m.gdm")
    ref = linear_model.Lasso(alpha=a, tol=1e-15, max_iter=100_000).fit(X, y)
    assert relative_error(model.w, model.b, ref.coef_, ref.intercept_) <= 1e-6
    np.testing.assert_array_equal(model.w == 0, ref.coef_ == 0)


def test_a_penalty_path_measures_x_once_and_matches_each_fit(monkeypatch):
    from gdcore import strategy
    X, y = sparse_problem()
    calls = []
    measure = strategy.IN_MEMORY.standardize
    monkeypatch.setattr(strategy.IN_MEMORY, "standardize",
                        lambda *a, **k: calls.append(1) or measure(*a, **k))
    alphas = 2 * lasso_alpha_max(X, y) * np.logspace(0, -3, 8)
    path = gdcore.penalty_path(X, y, alphas[::-1])  # any order: fitted largest first
    assert len(calls) == 1
    np.testing.assert_array_equal(path.alphas, alphas)
    assert [h.status for h in path.histories] == ["converged"] * 8
    for a, w, b in zip(path.alphas, path.coefs, path.intercepts):
        ref = linear_model.Lasso(alpha=a / 2, tol=1e-13, max_iter=1_000_000).fit(X, y)
        assert relative_error(w, b, ref.coef_, ref.intercept_) <= 1e-6
        np.testing.assert_array_equal(w == 0, ref.coef_ == 0)
    with pytest.raises(ValueError, match="alphas must be finite numbers >= 0"):
        gdcore.penalty_path(X, y, [1.0, -1.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_path_sums_the_mse_from_the_moments_of_x(dtype, weighted):
    """GramObjective: the MSE sums from C, A^T y and y . y equal a pass over X's rows."""
    from gdcore.backends import get_backend
    from gdcore.paths import GramObjective
    from gdcore.precondition import standardize
    X, y = raw_diabetes()
    X, y = X.astype(dtype), y.astype(dtype)
    rng = np.random.default_rng(0)
    w = rng.uniform(0, 2, len(y)) if weighted else None
    w = None if w is None else w / w.mean()
    objective = GramObjective(X, y, standardize(X, True, weights=w), w)
    passes = get_backend("numpy").linear(gdcore.MSELoss(), X.astype(np.float64),
                                         y.astype(np.float64), 1, w)
    for scale in [1.0, 1e-3]:  # near the optimum too, where the loss is what is left
        params = rng.standard_normal(11) * scale
        params[:-1] += np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]).astype(np.float64),
                                       y.astype(np.float64), rcond=None)[0][:-1]
        loss, grad = objective.sums(params)
        ref_loss, ref_grad = passes.sums(params)
        assert loss == pytest.approx(ref_loss, rel=1e-9)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-7, atol=1e-9 * np.abs(ref_grad).max())


def test_a_full_batch_mse_path_reads_x_twice(monkeypatch):
    """The set-up's passes and A^T y: after them, the path's epochs take the moments."""
    from gdcore.backends.compiled import CompiledBackend
    calls = []
    original = CompiledBackend.linear
    monkeypatch.setattr(CompiledBackend, "linear",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    X, y = sparse_problem()
    path = gdcore.penalty_path(X, y, 2 * lasso_alpha_max(X, y) * np.logspace(0, -3, 5))
    assert [h.status for h in path.histories] == ["converged"] * 5
    assert calls == []
    huber = gdcore.penalty_path(X, y, [1.0], loss=gdcore.HuberLoss(1.0))
    assert huber.histories[0].converged and calls  # other losses read X's rows
