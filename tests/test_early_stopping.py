"""Early stopping: the held-out rows, their loss per epoch, the best epoch's parameters."""

from __future__ import annotations

import numpy as np
import pytest

import gdcore
from gdcore.early_stopping import split
from gdcore.trainer import HELD_OUT_SEED


def noisy_sine(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, (n, 1))
    return X, np.sin(3 * X[:, 0]) + 0.5 * rng.standard_normal(n)


def trainer(**kwargs):
    settings = dict(early_stopping=True, n_iter_no_change=4, batch_size=16, epochs=400,
                    random_state=3, optimizer=gdcore.optim.Adam(lr=0.02))
    settings.update(kwargs)
    return gdcore.Trainer(**settings)


def test_the_best_epoch_is_restored_bit_for_bit():
    X, y = noisy_sine()
    net = gdcore.MLP([1, 64, 64, 1], random_state=0)
    history = trainer().fit(net, X, y)
    assert history.status == "stopped"
    assert history.n_epochs == history.best_epoch + 4  # four epochs without a new best
    # the same fit on the same rows, stopped at the best epoch, lands on the same parameters
    X_fit, y_fit, X_held, y_held, _ = split(X, y, 0.1, 3 ^ HELD_OUT_SEED)
    assert X_held.shape[0] == 150 and X_fit.shape[0] == 1350
    again = gdcore.MLP([1, 64, 64, 1], random_state=0)
    trainer(early_stopping=False, epochs=history.best_epoch).fit(again, X_fit, y_fit)
    np.testing.assert_array_equal(net.params, again.params)
    held = gdcore.MSELoss()(y_held, net.predict(X_held))
    assert history.validation_loss[history.best_epoch] == held == history.validation_loss.min()
    assert len(history.validation_loss) == history.n_epochs + 1
    # final_loss is measured at the restored parameters, on the rows fitted
    assert history.final_loss == pytest.approx(gdcore.MSELoss()(y_fit, net.predict(X_fit)), rel=1e-12)


def test_the_held_out_rows_are_reproducible_and_disjoint():
    X = np.arange(20.0)[:, None]
    a = split(X, X[:, 0], 0.25, 7)
    b = split(X, X[:, 0], 0.25, 7)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert sorted(np.concatenate([a[1], a[3]]).tolist()) == list(range(20))
    assert a[3].shape == (5,)
    with pytest.raises(ValueError, match="leaves no rows to fit on"):
        split(X[:1], X[:1, 0], 0.5, 0)


def test_a_user_callback_still_runs_and_may_stop():
    X, y = noisy_sine(300)
    seen = []

    def callback(epoch, loss, model):
        seen.append(epoch)
        return epoch >= 6
    history = trainer(n_iter_no_change=1000).fit(gdcore.MLP([1, 8, 1], random_state=0), X, y,
                                                 callback=callback, callback_every=3)
    assert seen == [3, 6] and history.n_epochs == 6 and history.status == "stopped"


def test_a_fit_that_ends_by_itself_is_observed_to_its_end():
    X, y = noisy_sine(300)
    model = gdcore.LinearModel(1)
    history = gdcore.Trainer(early_stopping=True).fit(model, X, y)
    assert history.converged and len(history.validation_loss) == history.n_epochs + 1


@pytest.mark.parametrize("kwargs,message", [
    (dict(early_stopping=1), "early_stopping must be True or False"),
    (dict(early_stopping=True, validation_fraction=1.0), r"validation_fraction must be a number in \(0, 1\)"),
    (dict(early_stopping=True, validation_fraction=0), r"validation_fraction must be a number in \(0, 1\)"),
    (dict(early_stopping=True, n_iter_no_change=0), "n_iter_no_change must be an integer >= 1"),
    (dict(early_stopping=True, n_iter_no_change=2.5), "n_iter_no_change must be an integer >= 1"),
])
def test_bad_settings_name_the_argument(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        gdcore.Trainer(**kwargs)


def test_gdregressor_maps_sklearn_names():
    pytest.importorskip("sklearn")
    from gdcore.sklearn import GDRegressor
    X, y = noisy_sine(400)
    X = np.column_stack([X, X ** 2])
    reg = GDRegressor(early_stopping=True, n_iter_no_change=3, validation_fraction=0.2,
                      batch_size=8, epochs=200, random_state=0).fit(X, y)
    h = reg.history_
    assert h.validation_loss is not None and h.best_epoch is not None
    assert h.n_epochs <= h.best_epoch + 3
