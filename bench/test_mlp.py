"""Neural-network benchmarks: gdcore's MLP kernel against scikit-learn and PyTorch.

Time per training epoch on N = 10,000 rows for the networks [10, 32, 32, 1]
and [20, 64, 1] (tanh hidden layers, linear output, MSE, plain SGD with a
constant step, no momentum, no weight decay), mini-batches of 32 rows and
full batch, one thread (bench/conftest.py pins BLAS/OpenMP; torch is pinned
with torch.set_num_threads(1)):

* ``gdcore``: ``Trainer(lr, epochs, tol=0, batch_size).fit(MLP(...))``, one
  kernel call per fit (timed: the whole fit, including validation and the
  final loss pass, divided by the epochs);
* ``sklearn``: ``MLPRegressor(solver="sgd", momentum=0, alpha=0,
  learning_rate="constant", batch_size, max_iter=epochs, tol=0)``, fit time
  divided by the epochs;
* ``torch``: ``torch.nn.Sequential`` of ``Linear``/``Tanh`` with
  ``torch.optim.SGD`` and ``torch.nn.MSELoss``, the hand-written loop
  (``randperm``, index a batch, zero_grad, forward, backward, step).

Groups ``mlp-<net>-<batch>`` (use ``--benchmark-group-by=group``); sklearn and
torch rows are skipped when those packages are not installed. Running this
file as a script prints the side-by-side table with ratios (every
implementation measured in the same process, interleaved, median of repeats):

    python bench/test_mlp.py [--repeats 5] [--json out.json]   (or: gdcore bench --mlp)
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as bench/conftest.py does, for the script

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gdcore.benchmarks.mlp import (BATCHES, IMPLEMENTATIONS, N, NETWORKS, compare,  # noqa: E402
                                  format_table, run_one)

# ----------------------------------------------------------- pytest-benchmark --

@pytest.mark.parametrize("batch", list(BATCHES))
@pytest.mark.parametrize("net", list(NETWORKS))
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_mlp_epoch(benchmark, impl, net, batch):
    if impl.startswith("sklearn"):
        pytest.importorskip("sklearn")
    if impl.startswith("torch"):
        pytest.importorskip("torch")
    benchmark.group = f"mlp-{net}-{batch}"
    results = []

    def once():
        results.append(run_one(impl, net, batch))

    rounds = 1 if benchmark.disabled else 3
    benchmark.pedantic(once, rounds=rounds, warmup_rounds=0 if benchmark.disabled else 1,
                       iterations=1)
    per_epoch = float(np.median([r[0] for r in results]))
    benchmark.extra_info.update(impl=impl, network=net, batch=batch, s_per_epoch=per_epoch)
    loss = results[-1][1]
    assert np.isfinite(loss) and 0 < loss < 1.0  # trained, did not blow up


if __name__ == "__main__":
    import argparse
    import json
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also save the medians here")
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    result = compare(args.repeats)
    print(f"N = {N}, one thread, median of {args.repeats} interleaved repeats, tanh, MSE, SGD")
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({f"{k[0]}/{k[1]}": v for k, v in result.items()}, fh, indent=2)
    sys.exit(0)
