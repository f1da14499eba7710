"""The mini-batch random stream: SplitMix64 reference values, compiled == Python shuffle,
reproducibility by seed."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import gdcore
from gdcore import _util
from gdcore._random import SplitMix64, shuffle
from helpers import fisher_yates, make_problem, splitmix64


def test_splitmix64_reference_values_seed_0():
    """Published outputs of Vigna's splitmix64.c for a state of 0."""
    rng = SplitMix64(0)
    assert [rng.next() for _ in range(3)] == [
        0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@pytest.mark.parametrize("seed", [0, 1, 42, 2**63, 2**64 - 1, 0x5EED])
def test_splitmix64_matches_independent_implementation(seed):
    rng, ref = SplitMix64(seed), splitmix64(seed)
    for _ in range(100):
        x = rng.next()
        assert x == next(ref)
        assert 0 <= x < 2**64


def test_splitmix64_seed_reduced_mod_2_64():
    a, b = SplitMix64(5), SplitMix64(5 + 2**64)
    assert [a.next() for _ in range(5)] == [b.next() for _ in range(5)]


def test_uniform_uses_top_53_bits():
    rng, ref = SplitMix64(7), splitmix64(7)
    for _ in range(50):
        u = rng.uniform()
        assert u == (next(ref) >> 11) / 2.0**53
        assert 0.0 <= u < 1.0


@pytest.mark.parametrize("n", [1, 2, 3, 10, 257])
@pytest.mark.parametrize("seed", [0, 1, 12345, 2**64 - 1])
@pytest.mark.parametrize("times", [0, 1, 3])
def test_compiled_shuffle_equals_python_shuffle(n, seed, times):
    order = list(range(n))
    rng = SplitMix64(seed)
    for _ in range(times):
        shuffle(order, rng)
    compiled = _util.shuffled(n, seed, times)
    assert compiled.tolist() == order
    # and both equal a Fisher-Yates written here with j = ((next() >> 32) * (i + 1)) >> 32
    mine, stream = list(range(n)), splitmix64(seed)
    for _ in range(times):
        fisher_yates(mine, stream)
    assert mine == order
    assert sorted(order) == list(range(n))


@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_compiled_shuffle_of_an_order_larger_than_the_caches_equals_python_shuffle(seed):
    """Past 2**17 entries the compiled shuffle draws its steps ahead of its swaps (_rng.pxd):
    the same draws, the same swaps."""
    n = 200_003
    order = list(range(n))
    rng = SplitMix64(seed)
    for _ in range(2):
        shuffle(order, rng)
    assert _util.shuffled(n, seed, 2).tolist() == order


def test_shuffle_is_uniform_over_permutations():
    """All 24 orders of 4 rows, each about 1/24 of the time over 4800 seeds (chi-square test)."""
    counts = {p: 0 for p in itertools.permutations(range(4))}
    trials = 4800
    for seed in range(trials):
        counts[tuple(_util.shuffled(4, seed, 1).tolist())] += 1
    expected = trials / 24
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 49.7  # 99.9th percentile of chi-square with 23 degrees of freedom


def test_shuffle_changes_between_epochs():
    assert _util.shuffled(20, 3, 1).tolist() != _util.shuffled(20, 3, 2).tolist()


# ------------------------------------------------------- reproducibility --

def run(backend, random_state, batch_size=8, X=None, y=None):
    if X is None:
        X, y, _, _ = make_problem(60, 3, 0, noise=0.5)
    model = gdcore.LinearModel(3)
    hist = gdcore.Trainer(lr=0.05, epochs=6, tol=0.0, batch_size=batch_size,
                          random_state=random_state, backend=backend).fit(model, X, y)
    return hist.loss, model.w.copy(), model.b


def test_same_seed_identical(backend):
    l1, w1, b1 = run(backend, 7)
    l2, w2, b2 = run(backend, 7)
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(w1, w2)
    assert b1 == b2


def test_different_seeds_differ(backend):
    l1, w1, _ = run(backend, 7)
    l2, w2, _ = run(backend, 8)
    assert not np.array_equal(l1, l2)
    assert not np.array_equal(w1, w2)


def test_seed_is_the_splitmix_seed_across_backends():
    """Same integer seed: same batches in every backend (bit-identical for python and cython)."""
    ref = run("cython", 2**63 + 5)
    for name in ("numpy", "python"):
        loss, w, b = run(name, 2**63 + 5)
        np.testing.assert_allclose(loss, ref[0], rtol=1e-12)
        np.testing.assert_allclose(w, ref[1], rtol=1e-12)


def test_generator_random_state(backend):
    l1, w1, _ = run(backend, np.random.default_rng(3))
    l2, w2, _ = run(backend, np.random.default_rng(3))
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(w1, w2)
    l3, _, _ = run(backend, np.random.default_rng(4))
    assert not np.array_equal(l1, l3)


def test_none_random_state_draws_fresh_seeds():
    runs = [run("cython", None)[0] for _ in range(3)]
    assert not (np.array_equal(runs[0], runs[1]) and np.array_equal(runs[1], runs[2]))


def test_full_batch_ignores_random_state(backend):
    l1, w1, _ = run(backend, 1, batch_size=None)
    l2, w2, _ = run(backend, 2, batch_size=None)
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(w1, w2)


def test_batch_equal_to_n_is_full_batch_gradient_per_epoch(backend):
    """batch_size = n: one batch per epoch of all rows, whatever the order: the same
    steps as full batch (up to summation order)."""
    X, y, _, _ = make_problem(60, 3, 0, noise=0.5)
    lf, wf, bf = run(backend, 1, batch_size=None, X=X, y=y)
    lm, wm, bm = run(backend, 1, batch_size=60, X=X, y=y)
    np.testing.assert_allclose(lm, lf, rtol=1e-12)
    np.testing.assert_allclose(wm, wf, rtol=1e-12)
    assert math.isclose(bm, bf, rel_tol=1e-12)
