"""The comparison of ``gdcore bench`` as pytest-benchmark suites: one group per size,
gdcore beside the read-X-once floor, NumPy by hand, scikit-learn's SGDRegressor and
PyTorch (the last two when installed).

Each benchmark times a fixed number of epochs of one method (the callables of
gdcore.benchmarks.epochs, so both tools measure the same thing); extra_info carries the
seconds per epoch.
"""

from __future__ import annotations

import pytest

from gdcore.benchmarks import epochs as gb

SIZES = [(1_000, 1), (10_000, 10), (100_000, 20)]
EPOCHS = {1_000: 200, 10_000: 20, 100_000: 3}


def _ids(case):
    name, dtype, threads, batch, _ = case
    return "-".join(str(p) for p in (name, dtype, f"{threads}t", f"b{batch or 'all'}"))


CASES = [(n, d, case) for n, d in SIZES for case in gb.methods(n, d)]


@pytest.mark.parametrize("n, d, case", CASES,
                         ids=[f"{n}x{d}-{_ids(c)}" for n, d, c in CASES])
def test_method_epochs(benchmark, n, d, case):
    name, dtype, threads, batch, factory = case
    if name == "python" and n > 1_000:
        epochs = 1
    else:
        epochs = EPOCHS[n]
    X, y = gb.make_data(n, d, dtype)
    step = factory(X, y)
    step(1)  # warm-up
    benchmark.group = f"compare-{n}x{d}"
    benchmark.pedantic(step, args=(epochs,), rounds=3, iterations=1, warmup_rounds=0)
    if benchmark.stats is not None:
        benchmark.extra_info["seconds_per_epoch"] = benchmark.stats.stats.median / epochs
