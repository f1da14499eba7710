"""Sample weights: the weighted passes against the formula, weights against repeated and
dropped rows, weighted fits against scikit-learn's weighted solvers, and bad weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gdcore
from gdcore import _dispatch
from gdcore.backends import get_backend
from gdcore.errors import NotSupportedError
from gdcore.sklearn import GDRegressor

linear_model = pytest.importorskip("sklearn.linear_model")
datasets = pytest.importorskip("sklearn.datasets")

# the widths of each specialised pass: one feature, 2-4, the SIMD 5-16, padded 17-64, wider
WIDTHS = [1, 2, 3, 4, 5, 7, 8, 10, 16, 17, 20, 33, 64, 65, 100]
LOSSES = [("mse", 0.0), ("mae", 0.0), ("huber", 0.7), ("smooth_mae", 0.3)]


def raw_diabetes():
    X, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    return np.ascontiguousarray(X), y


def integer_weights(n, seed=0, high=4):
    return np.random.default_rng(seed).integers(0, high, size=n).astype(np.float64)


def repeated(X, y, w):
    counts = w.astype(int)
    return np.repeat(X, counts, axis=0), np.repeat(y, counts)


def reference_sums(kind, e, X, y, w, params):
    """sum_i w_i term(r_i) and sum_i w_i slope(r_i) [x_i, 1], in float64 (_loss.h's table)."""
    d = X.shape[1]
    r = X.astype(np.float64) @ params[:d].astype(np.float64) + float(params[d]) - y
    a = np.abs(r)
    if kind == "mse":
        terms, slopes = r * r, 2 * r
    elif kind == "mae":
        terms, slopes = a, np.sign(r)
    elif kind == "huber":
        terms, slopes = np.where(a <= e, r * r / 2, e * a - e * e / 2), np.clip(r, -e, e)
    else:
        terms, slopes = a, np.clip(r / e, -1, 1)
    return float(w @ terms), np.append(X.T.astype(np.float64) @ (w * slopes), w @ slopes)


@pytest.mark.parametrize("variant", _dispatch.available("_pass_linear"))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", WIDTHS)
def test_weighted_linear_pass_is_the_weighted_formula(variant, dtype, d):
    module = _dispatch.load("_pass_linear", variant)
    rng = np.random.default_rng(d)
    n = 5003  # whole SIMD blocks and a remainder, two chunks
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    w = rng.uniform(0, 3, n).astype(dtype)
    w[::7] = 0.0
    params = rng.standard_normal(d + 1).astype(dtype)
    rows = rng.permutation(n).astype(np.intp)
    rtol = 1e-11 if dtype == np.float64 else 3e-4
    for kind, e in LOSSES:
        objective = module.LinearObjective(kind, e, X, y, 1, w)
        total, grad = objective.sums(params)
        ref_total, ref_grad = reference_sums(kind, e, X, y, w.astype(np.float64), params)
        assert total == pytest.approx(ref_total, rel=rtol), kind
        np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=rtol * np.abs(ref_grad).max())
        # a mini-batch: rows listed out of order
        total, grad = objective.batch_sums(params, rows, 100, 97)
        pick = rows[100:197]
        ref_total, ref_grad = reference_sums(kind, e, X[pick], y[pick],
                                             w[pick].astype(np.float64), params)
        assert total == pytest.approx(ref_total, rel=rtol), kind
        np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=rtol * np.abs(ref_grad).max())


def test_threads_sum_weighted_passes_alike():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300_000, 8))
    y = rng.standard_normal(300_000)
    w = rng.uniform(0, 2, 300_000)
    p = rng.standard_normal(9)
    one = _dispatch.pass_linear.LinearObjective("mse", 0.0, X, y, 1, w).sums(p)
    two = _dispatch.pass_linear.LinearObjective("mse", 0.0, X, y, 2, w).sums(p)
    assert one[0] == two[0] and np.array_equal(one[1], two[1])


def test_the_three_engines_sum_weighted_rows_alike():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((50, 3)), rng.standard_normal(50)
    w = rng.uniform(0, 2, 50)
    params = rng.standard_normal(4)
    loss = gdcore.HuberLoss(0.5)
    sums = [get_backend(name).linear(loss, X, y, 1, w).sums(params)
            for name in gdcore.backends()]
    for total, grad in sums[1:]:
        assert total == pytest.approx(sums[0][0], rel=1e-13)
        np.testing.assert_allclose(grad, sums[0][1], rtol=1e-13)
    net = gdcore.MLP([3, 4, 1], random_state=0)
    sums = [net._objective(get_backend(name), loss, X, y, 1, w).sums(net.params)
            for name in gdcore.backends()]
    for total, grad in sums[1:]:
        assert total == pytest.approx(sums[0][0], rel=1e-12)
        np.testing.assert_allclose(grad, sums[0][1], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("backend", ["cython", "numpy", "python"])
def test_integer_weights_fit_as_repeated_rows(backend):
    X, y = raw_diabetes()
    if backend == "python":
        X, y = X[:120], y[:120]
    w = integer_weights(len(y))
    Xr, yr = repeated(X, y, w)
    for loss in [gdcore.MSELoss(), gdcore.HuberLoss(20.0)]:
        weighted, plain = gdcore.LinearModel(10), gdcore.LinearModel(10)
        a = gdcore.Trainer(loss=loss, backend=backend).fit(weighted, X, y, sample_weight=w)
        b = gdcore.Trainer(loss=loss, backend=backend).fit(plain, Xr, yr)
        assert a.converged and b.converged
        np.testing.assert_allclose(weighted.params, plain.params, rtol=1e-9)
        assert a.final_loss == pytest.approx(b.final_loss, rel=1e-12)


def test_zero_weights_drop_rows_in_every_default_fit():
    X, y = raw_diabetes()
    w = np.ones(len(y))
    w[::3] = 0.0
    keep = w > 0
    cases = [dict(), dict(loss=gdcore.HuberLoss(20.0)), dict(penalty="l1", alpha=2.0),
             dict(loss=gdcore.MAELoss())]
    for trainer in cases:
        weighted, plain = gdcore.LinearModel(10), gdcore.LinearModel(10)
        a = gdcore.Trainer(**trainer).fit(weighted, X, y, sample_weight=w)
        b = gdcore.Trainer(**trainer).fit(plain, X[keep], y[keep])
        assert a.converged and b.converged, trainer
        assert a.final_loss == pytest.approx(b.final_loss, rel=2e-6), trainer  # each to 1e-6
        if "loss" not in trainer or not isinstance(trainer["loss"], gdcore.MAELoss):
            np.testing.assert_allclose(weighted.params, plain.params, rtol=1e-6)


def test_equal_weights_are_no_weights_bit_for_bit():
    X, y = raw_diabetes()
    for trainer in [dict(), dict(batch_size=32, epochs=5, random_state=0)]:
        a, b = gdcore.LinearModel(10), gdcore.LinearModel(10)
        gdcore.Trainer(**trainer).fit(a, X, y, sample_weight=np.full(len(y), 3.0))
        gdcore.Trainer(**trainer).fit(b, X, y)
        assert np.array_equal(a.params, b.params)


def test_weighted_least_squares_matches_linear_regression():
    X, y = raw_diabetes()
    w = np.random.default_rng(3).uniform(0.1, 5.0, len(y))
    model = gdcore.LinearModel(10)
    gdcore.Trainer().fit(model, X, y, sample_weight=w)
    ref = linear_model.LinearRegression().fit(X, y, sample_weight=w)
    error = np.linalg.norm(np.append(model.w - ref.coef_, model.b - ref.intercept_))
    assert error <= 1e-6 * np.linalg.norm(np.append(ref.coef_, ref.intercept_))


def test_weighted_ridge_and_lasso_match_scikit_learn():
    X, y = raw_diabetes()
    w = np.random.default_rng(4).uniform(0.0, 4.0, len(y))
    n, total = len(y), w.sum()
    for a in [1e-3, 1e-1, 10.0]:
        # Ridge minimises sum w r^2 + a ||coef||^2: sum(w) times gdcore's MSE + (2a/sum(w))/2 ||.||^2
        ref = linear_model.Ridge(alpha=a, solver="cholesky").fit(X, y, sample_weight=w)
        model = gdcore.LinearModel(10)
        gdcore.Trainer(penalty="l2", alpha=2 * a / total).fit(model, X, y, sample_weight=w)
        np.testing.assert_allclose(model.w, ref.coef_, rtol=1e-6, atol=1e-6 * np.abs(ref.coef_).max())
    for a in [0.05, 0.5, 2.0]:
        # Lasso scales the weights to sum n: (1/2n) sum w' r^2 + a ||coef||_1, half gdcore's
        ref = linear_model.Lasso(alpha=a, tol=1e-13, max_iter=1_000_000).fit(X, y, sample_weight=w)
        model = gdcore.LinearModel(10)
        gdcore.Trainer(penalty="l1", alpha=2 * a).fit(model, X, y, sample_weight=w)
        np.testing.assert_allclose(model.w, ref.coef_, rtol=1e-6, atol=1e-6 * np.abs(ref.coef_).max())
        assert np.array_equal(model.w == 0, ref.coef_ == 0), a
    path = gdcore.penalty_path(X, y, [2.0, 0.5], sample_weight=w)
    ref = linear_model.Lasso(alpha=0.25, tol=1e-13, max_iter=1_000_000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(path.coefs[1], ref.coef_, rtol=1e-6, atol=1e-6 * np.abs(ref.coef_).max())
    assert n == len(y)


def test_weighted_least_absolute_deviations_reach_the_linear_programme():
    X, y = raw_diabetes()
    X, y = X[:200], y[:200]
    w = integer_weights(len(y), seed=5, high=5)
    ref = linear_model.QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(
        X, y, sample_weight=w)
    optimum = float(w @ np.abs(ref.predict(X) - y)) / w.sum()
    model = gdcore.LinearModel(10)
    history = gdcore.Trainer(loss=gdcore.MAELoss(), tol=1e-7).fit(model, X, y, sample_weight=w)
    assert history.converged
    assert optimum <= history.final_loss * (1 + 1e-12)
    assert history.final_loss <= optimum * (1 + 1e-7)


def test_weighted_mini_batches_reach_the_weighted_optimum():
    X, y = raw_diabetes()
    w = np.random.default_rng(6).uniform(0.0, 3.0, len(y))
    ref = linear_model.LinearRegression().fit(X, y, sample_weight=w)
    optimum = float(w @ (ref.predict(X) - y) ** 2) / w.sum()
    model = gdcore.LinearModel(10)
    history = gdcore.Trainer(batch_size=16, epochs=400, random_state=0).fit(
        model, X, y, sample_weight=w)
    assert history.final_loss <= optimum * (1 + 1e-4)


def test_a_weighted_network_fits_as_repeated_rows():
    X, y = raw_diabetes()
    X, y = (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()
    w = integer_weights(len(y), seed=7)
    Xr, yr = repeated(X, y, w)
    a, b = gdcore.MLP([10, 8, 1], random_state=0), gdcore.MLP([10, 8, 1], random_state=0)
    ha = gdcore.Trainer(epochs=30, random_state=0).fit(a, X, y, sample_weight=w)
    hb = gdcore.Trainer(epochs=30, random_state=0).fit(b, Xr, yr)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-10)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-8, atol=1e-10)


def test_weighted_partial_fits_continue_one_fit_bit_for_bit():
    X, y = raw_diabetes()
    w = np.random.default_rng(8).uniform(0.0, 2.0, len(y))
    settings = dict(optimizer="momentum", epochs=6, tol=0.0, batch_size=32, random_state=3)
    whole, parts = gdcore.LinearModel(10), gdcore.LinearModel(10)
    gdcore.Trainer(**settings).fit(whole, X, y, sample_weight=w)
    trainer = gdcore.Trainer(**settings)
    for _ in range(6):
        trainer.partial_fit(parts, X, y, sample_weight=w)
    assert np.array_equal(whole.params, parts.params)


def test_early_stopping_weighs_the_held_out_rows():
    X, y = raw_diabetes()
    w = np.random.default_rng(9).uniform(0.5, 2.0, len(y))
    model = gdcore.LinearModel(10)
    history = gdcore.Trainer(early_stopping=True, optimizer="gd", lr=1e-6, epochs=20,
                             random_state=1).fit(model, X, y, sample_weight=w)
    from gdcore._validation import seed_from
    from gdcore.early_stopping import split
    from gdcore.trainer import HELD_OUT_SEED
    *_, held = split(X, y, 0.1, seed_from(1) ^ HELD_OUT_SEED)
    # before the first epoch the model predicts 0 everywhere
    expected = float(w[held] @ y[held] ** 2 / w[held].sum())
    assert history.validation_loss[0] == pytest.approx(expected, rel=1e-12)


def test_gdregressor_takes_sample_weight():
    X, y = raw_diabetes()
    w = np.random.default_rng(10).uniform(0.0, 3.0, len(y))
    ref = linear_model.LinearRegression().fit(X, y, sample_weight=w)
    reg = GDRegressor().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-5)
    assert reg.score(X, y, sample_weight=w) == pytest.approx(ref.score(X, y, sample_weight=w),
                                                              rel=1e-9)
    reg32 = GDRegressor(dtype="float32").fit(X, y, sample_weight=w)
    np.testing.assert_allclose(reg32.coef_, ref.coef_, rtol=5e-3)


@pytest.mark.parametrize("weights, message", [
    (np.array([1.0, -1.0, 1.0, 1.0]), "negative"),
    (np.array([1.0, np.nan, 1.0, 1.0]), "NaN or infinite"),
    (np.array([1.0, np.inf, 1.0, 1.0]), "NaN or infinite"),
    (np.zeros(4), "all zeros"),
    (np.ones(3), "one weight per row"),
    (np.ones((4, 1)), "one weight per row"),
    (np.array(["a", "b", "c", "d"]), "numeric"),
    (-2.0, "positive finite number"),
])
def test_bad_weights_name_the_argument(weights, message):
    X, y = np.arange(8.0).reshape(4, 2), np.arange(4.0)
    with pytest.raises((ValueError, TypeError), match=message) as info:
        gdcore.Trainer().fit(gdcore.LinearModel(2), X, y, sample_weight=weights)
    assert "sample_weight" in str(info.value)


def test_the_users_weights_are_left_alone():
    X, y = raw_diabetes()
    w = integer_weights(len(y)) * 1e300  # scaled inside without overflow, on a copy
    before = w.copy()
    model = gdcore.LinearModel(10)
    gdcore.Trainer().fit(model, X, y, sample_weight=w)
    assert np.array_equal(w, before)
    reference = gdcore.LinearModel(10)
    gdcore.Trainer().fit(reference, X, y, sample_weight=integer_weights(len(y)))
    np.testing.assert_allclose(model.params, reference.params, rtol=1e-12)


def test_a_scalar_weight_is_no_weight():
    X, y = raw_diabetes()
    a, b = gdcore.LinearModel(10), gdcore.LinearModel(10)
    gdcore.Trainer().fit(a, X, y, sample_weight=2.5)
    gdcore.Trainer().fit(b, X, y)
    assert np.array_equal(a.params, b.params)


def test_dask_arrays_refuse_weights():
    da = pytest.importorskip("dask.array")
    X, y = raw_diabetes()
    with pytest.raises(NotSupportedError, match="sample_weight"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdcore.Trainer().fit(gdcore.LinearModel(10), da.from_array(X), da.from_array(y),
                                 sample_weight=np.ones(len(y)))


def test_files_streamed_from_disk_refuse_weights(tmp_path):
    from gdcore.data import open_npy
    X, y = raw_diabetes()
    np.save(tmp_path / "X.npy", X)
    with pytest.raises(NotSupportedError, match="sample_weight"):
        gdcore.Trainer().fit(gdcore.LinearModel(10), open_npy(tmp_path / "X.npy"), y,
                             sample_weight=np.ones(len(y)))


def test_weights_go_with_every_mini_batch_order():
    X, y = raw_diabetes()
    w = integer_weights(len(y), seed=11)
    for order in ["rows", "blocks", False]:
        a, b = gdcore.LinearModel(10), gdcore.LinearModel(10)
        settings = dict(batch_size=16, epochs=3, tol=0.0, random_state=0, shuffle=order)
        gdcore.Trainer(backend="cython", **settings).fit(a, X, y, sample_weight=w)
        gdcore.Trainer(backend="numpy", **settings).fit(b, X, y, sample_weight=w)
        np.testing.assert_allclose(a.params, b.params, rtol=1e-9)


def test_the_raw_step_of_weighted_rows_is_that_of_repeated_rows():
    from gdcore.curvature import weighted_curvature
    X, y = raw_diabetes()
    w = integer_weights(len(y), seed=12)
    Xr, _ = repeated(X, y, w)
    lam, row = weighted_curvature(X, True, w / w.mean(), rows=True)
    ref_lam, ref_row = get_backend("numpy").curvature(Xr, True, rows=True)
    assert lam == pytest.approx(ref_lam, rel=1e-12)
    # a sampled row's gradient counts w_i / mean(w) times: so does its curvature
    A = np.column_stack([X, np.ones(len(y))])
    assert row == pytest.approx(2 * np.max(w / w.mean() * np.einsum("ij,ij->i", A, A)), rel=1e-12)
    assert ref_row > 0
