"""Inputs the validation accepts must work the same on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import gdcore
from helpers import lstsq, make_problem

X_TUT = np.array([[1.0], [2.0], [3.0], [4.0]])
Y_TUT = np.array([1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("epochs", [10**12, 2**63 - 1, 2**64], ids=["1e12", "2^63-1", "2^64"])
def test_huge_epoch_budget_with_tol(backend, epochs):
    """epochs is "the most passes"; with a tol the fit stops after a few hundred.

    Validation accepts any integer >= 0, so a large budget ("until converged") must not
    fail up front on any backend.
    """
    model = gdcore.LinearModel(1)
    hist = gdcore.Trainer(tol=1e-8, epochs=epochs, backend=backend).fit(model, X_TUT, Y_TUT)
    assert hist.converged and hist.n_epochs < 10_000
    assert model.w[0] == pytest.approx(1.0, abs=1e-6) and model.b == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("seed", [5, 2**63 + 5])
def test_random_state_beyond_64_bits_is_reduced(backend, seed):
    """random_state accepts any integer >= 0 and SplitMix64 documents the seed is reduced
    modulo 2**64: seed + 2**64 must give the same fit as seed, on every backend."""
    X, y, _, _ = make_problem(30, 2, 0, noise=0.3)

    def run(random_state):
        model = gdcore.LinearModel(2)
        hist = gdcore.Trainer(lr=0.05, epochs=5, tol=0.0, batch_size=4,
                              random_state=random_state, backend=backend).fit(model, X, y)
        return hist.loss, model.w.copy()

    l1, w1 = run(seed)
    l2, w2 = run(seed + 2**64)
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(w1, w2)


def test_single_sample(backend):
    """One row, no intercept: y = w x is solved exactly (w = 3)."""
    model = gdcore.LinearModel(1, fit_intercept=False)
    gdcore.Trainer(tol=1e-12, epochs=1000, backend=backend).fit(model, [[2.0]], [6.0])
    assert model.w[0] == pytest.approx(3.0, rel=1e-10)
    model = gdcore.LinearModel(1, fit_intercept=False)
    gdcore.Trainer(tol=1e-12, epochs=1000, batch_size=1, random_state=0,
                   backend=backend).fit(model, [[2.0]], [6.0])
    assert model.w[0] == pytest.approx(3.0, rel=1e-10)


def test_more_features_than_samples_reaches_zero_loss(backend):
    """Underdetermined: GD from zero interpolates the data (and finds the minimum-norm
    solution, which lstsq also returns)."""
    X, y, _, _ = make_problem(4, 6, 3, noise=0.0)
    model = gdcore.LinearModel(6, fit_intercept=False)
    hist = gdcore.Trainer(optimizer="gd", precondition=None, tol=1e-12, epochs=20_000,
                          backend=backend).fit(model, X, y)
    assert hist.final_loss < 1e-20
    w_ref, _ = lstsq(X, y, fit_intercept=False)
    np.testing.assert_allclose(model.w, w_ref, rtol=1e-8, atol=1e-10)


def test_warm_start_from_the_optimum(backend):
    """Fitting starts from the model's current parameters: at the optimum, nothing to do."""
    X, y, _, _ = make_problem(50, 3, 4, noise=0.3)
    w_ref, b_ref = lstsq(X, y)
    model = gdcore.LinearModel(3)
    model.w, model.b = w_ref, b_ref
    hist = gdcore.Trainer(tol=1e-9, epochs=100, backend=backend).fit(model, X, y)
    assert hist.converged and hist.n_epochs == 0
    np.testing.assert_array_equal(model.w, w_ref)
    assert model.b == b_ref


def test_no_intercept_keeps_a_user_set_b(backend):
    """fit_intercept=False keeps b fixed (not reset to 0): w then fits y - b."""
    X, y, _, _ = make_problem(60, 2, 5, noise=0.2, intercept=2.0)
    model = gdcore.LinearModel(2, fit_intercept=False)
    model.b = 2.0
    gdcore.Trainer(tol=1e-12, epochs=2000, backend=backend).fit(model, X, y)
    assert model.b == 2.0
    w_ref, _ = lstsq(X, y - 2.0, fit_intercept=False)
    np.testing.assert_allclose(model.w, w_ref, rtol=1e-8)


def test_auto_lr_needs_curvature(backend):
    """All-zero X without intercept: the loss is flat in w; "auto" cannot pick a step."""
    with pytest.raises(ValueError, match="lr"):
        gdcore.Trainer(backend=backend).fit(gdcore.LinearModel(2, fit_intercept=False),
                                            np.zeros((5, 2)), np.ones(5))
