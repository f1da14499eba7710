"""``gdcore bench``: time per epoch of gdcore against the tools users compare it with.

Everything runs in one process, side by side, so the ratios hold on a noisy
shared machine: the medians of several repeats after a warm-up, fixed seeds,
BLAS and OpenMP pinned to one thread (the CLI sets that up before NumPy
loads). Methods, all fitting y = Xw + b by gradient descent on the MSE:

* ``floor``: the smallest compiled loop that reads X once (gdcore's
  ``read_floor``): no epoch can beat it;
* ``floor-shuffled``: the same loop reading the rows in a random order,
  prefetching ahead: what random access alone costs, the floor of a
  mini-batch epoch (which also shuffles and steps);
* ``gdcore`` float64 and float32, 1 and 2 threads, full batch and mini-batches
  of 32 (one kernel call runs all the timed epochs); at 1,000,000 rows, the
  mini-batch epoch in each ``shuffle`` order too ("rows", "blocks", False;
  ``gdcore bench --shuffle`` runs that size and these rows alone);
* ``gdcore-weighted``: the same fits with a weight per row (``sample_weight``),
  whose passes read one more value per row;
* ``python``: gdcore's pure-Python backend (small sizes only);
* ``numpy``: NumPy by hand, ``r = X @ w + b - y``, then ``X.T @ r``;
* ``sklearn-sgd``: scikit-learn's SGDRegressor, one sample per step, when installed;
* ``torch`` (hand-written gradient) and ``torch-autograd`` (nn.Linear, autograd
  and torch.optim.SGD), on the CPU, when PyTorch is installed.

An epoch is one pass over the data with its updates. Effective bandwidth is
the bytes of X divided by the time per epoch.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import LinearModel, Trainer
from .._dispatch import floor
from . import THREAD_VARIABLES, environment, installed

QUICK_SIZES = [(1_000, 1), (10_000, 10), (100_000, 20)]
FULL_SIZES = QUICK_SIZES + [(1_000_000, 20)]
PYTHON_MAX_ROWS = 10_000
LR = 1e-3  # small and stable for every method on standardised data


@dataclass
class Result:
    method: str
    n: int
    d: int
    dtype: str
    threads: int
    batch_size: Optional[int]
    seconds_per_epoch: float
    gb_per_s: float
    ratio_to_floor: float = float("nan")


Epochs = Callable[[int], Any]  # runs k more epochs of one method


def make_data(n: int, d: int, dtype: Any = np.float64, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype)


# ------------------------------------------------------------------ methods --

def floor_epochs(X: np.ndarray, y: np.ndarray) -> Epochs:
    return lambda k: floor.read_floor(X, k)


def shuffled_floor_epochs(X: np.ndarray, y: np.ndarray) -> Epochs:
    order = np.random.default_rng(0).permutation(X.shape[0])
    return lambda k: floor.read_floor(X, k, order)


def gdcore_epochs(X: np.ndarray, y: np.ndarray, backend: str = "cython",
                  batch_size: Optional[int] = None, n_jobs: int = 1,
                  optimizer: str = "gd", shuffle: Any = "rows",
                  weighted: bool = False) -> Epochs:
    """A paused gdcore fit of plain steps (or ``optimizer``'s), of rows weighted
    at random in [0.5, 1.5] if ``weighted``; each call runs k more epochs (one kernel
    call for cython)."""
    model = LinearModel(X.shape[1], dtype=X.dtype)
    trainer = Trainer(optimizer=optimizer, lr=LR, epochs=1 << 40, tol=0.0, precondition=None,
                      batch_size=batch_size, random_state=0, backend=backend, n_jobs=n_jobs,
                      shuffle=shuffle)
    weights = np.random.default_rng(1).uniform(0.5, 1.5, X.shape[0]) if weighted else None
    run = trainer._start(model, X, y, weights)[1]
    return lambda k: run.advance(k)


def weighted_epochs(X: np.ndarray, y: np.ndarray, batch_size: Optional[int] = None) -> Epochs:
    return gdcore_epochs(X, y, batch_size=batch_size, weighted=True)


def numpy_epochs(X: np.ndarray, y: np.ndarray) -> Epochs:
    n, d = X.shape
    w, b = np.zeros(d, X.dtype), 0.0

    def epochs(k: int) -> None:
        nonlocal w, b
        for _ in range(k):
            r = X @ w
            r += b
            r -= y
            w -= (LR * 2.0 / n) * (X.T @ r)
            b -= LR * 2.0 * float(r.mean())
    return epochs


def sklearn_epochs(X: np.ndarray, y: np.ndarray) -> Epochs:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDRegressor

    def epochs(k: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            SGDRegressor(penalty=None, learning_rate="constant", eta0=LR, max_iter=k,
                         tol=None, shuffle=True, random_state=0).fit(X, y)
    return epochs


def torch_epochs(X: np.ndarray, y: np.ndarray, autograd: bool) -> Epochs:
    import torch
    torch.set_num_threads(1)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    n, d = X.shape
    if autograd:
        layer = torch.nn.Linear(d, 1, dtype=Xt.dtype)
        optimiser = torch.optim.SGD(layer.parameters(), lr=LR)

        def epochs(k: int) -> None:
            for _ in range(k):
                optimiser.zero_grad()
                loss = ((layer(Xt).squeeze(1) - yt) ** 2).mean()
                loss.backward()
                optimiser.step()
        return epochs
    w, b = torch.zeros(d, dtype=Xt.dtype), torch.zeros((), dtype=Xt.dtype)

    def epochs_by_hand(k: int) -> None:
        with torch.no_grad():
            for _ in range(k):
                r = Xt @ w + b - yt
                w.sub_((LR * 2.0 / n) * (Xt.T @ r))
                b.sub_(LR * 2.0 * r.mean())
    return epochs_by_hand


#: The mini-batch orders timed at this many rows and more (large enough to leave the caches).
SHUFFLE_MIN_ROWS = 1_000_000
SHUFFLE_SIZES = [(1_000_000, 20)]

Method = Tuple[str, str, int, Optional[int], Callable[..., Epochs]]


def shuffle_methods() -> List[Method]:
    """A batch-32 epoch in the orders "blocks" and False ("rows" is methods()' batch 32)."""
    return [(f"gdcore shuffle={order}", "float64", 1, 32,
             lambda X, y, order=order: gdcore_epochs(X, y, batch_size=32, shuffle=order))
            for order in ("blocks", False)]


def methods(n: int, d: int, shuffle_only: bool = False) -> List[Method]:
    """(name, dtype, threads, batch_size, factory(X, y)) for one size (``shuffle_only``:
    the floors, the full-batch epoch and the mini-batch epoch in each order)."""
    rows: List[Method] = [
        ("floor", "float64", 1, None, floor_epochs),
        ("floor-shuffled", "float64", 1, None, shuffled_floor_epochs),
        ("gdcore", "float64", 1, None, gdcore_epochs),
        ("gdcore", "float32", 1, None, gdcore_epochs),
        ("gdcore", "float64", 2, None, lambda X, y: gdcore_epochs(X, y, n_jobs=2)),
        ("gdcore", "float64", 1, 32, lambda X, y: gdcore_epochs(X, y, batch_size=32)),
        ("gdcore-weighted", "float64", 1, None, weighted_epochs),
        ("gdcore-weighted", "float32", 1, None, weighted_epochs),
        ("gdcore-weighted", "float64", 1, 32, lambda X, y: weighted_epochs(X, y, 32)),
        ("numpy", "float64", 1, None, numpy_epochs),
    ]
    if n >= SHUFFLE_MIN_ROWS or shuffle_only:
        rows[-1:-1] = shuffle_methods()
    if shuffle_only:
        return [r for r in rows if r[1] == "float64" and r[2] == 1 and r[0] != "numpy"]
    if n <= PYTHON_MAX_ROWS:
        rows.append(("python", "float64", 1, None, lambda X, y: gdcore_epochs(X, y, "python")))
    if installed("sklearn"):
        rows.append(("sklearn-sgd", "float64", 1, 1, sklearn_epochs))
    if installed("torch"):
        rows.append(("torch", "float64", 1, None, lambda X, y: torch_epochs(X, y, False)))
        rows.append(("torch-autograd", "float64", 1, None, lambda X, y: torch_epochs(X, y, True)))
    return rows


# ------------------------------------------------------------------ timing --

def seconds_per_epoch(epochs: Epochs, target: float, repeats: int) -> float:
    """Median over ``repeats`` of (time of k epochs) / k, k sized to last ~``target`` s."""
    return in_turn([epochs], target, repeats)[0]


def in_turn(methods: Sequence[Epochs], target: float, repeats: int) -> List[float]:
    """seconds_per_epoch of each method, their repeats taken in turn, so that a load
    coming and going on a shared machine weighs on all of them alike."""
    ks = []
    for epochs in methods:
        start = time.perf_counter()
        epochs(1)  # warm-up: caches, lazy imports, a mini-batch fit's first pass
        one = max(time.perf_counter() - start, 1e-7)
        ks.append(int(min(max(target / one, 1), 100_000)))
    samples: List[List[float]] = [[] for _ in methods]
    for _ in range(repeats):
        for epochs, k, times in zip(methods, ks, samples):
            start = time.perf_counter()
            epochs(k)
            times.append((time.perf_counter() - start) / k)
    return [statistics.median(times) for times in samples]


def run(sizes: Sequence[Tuple[int, int]], target: float = 0.05, repeats: int = 5,
        report: Callable[[str], None] = print, shuffle_only: bool = False) -> List[Result]:
    """Each method at each size; with ``shuffle_only`` (float64 alone), timed in turn: the
    ratios of the mini-batch orders to the full-batch epoch are the result."""
    results: List[Result] = []
    for n, d in sizes:
        data = {dt: make_data(n, d, dt) for dt in ("float64", "float32")}
        chosen = methods(n, d, shuffle_only)
        timed: Dict[int, float] = {}
        if shuffle_only:
            timed = dict(enumerate(in_turn([m[4](*data["float64"]) for m in chosen],
                                           target, repeats)))
        floor: Dict[str, float] = {}
        for i, (name, dtype, threads, batch, factory) in enumerate(chosen):
            X, y = data[dtype]
            if i in timed:
                t = timed[i]
                floor.setdefault(dtype, t)  # the floor comes first
            elif name == "floor":
                for dt, (Xf, yf) in data.items():
                    floor[dt] = seconds_per_epoch(floor_epochs(Xf, yf), target, repeats)
                t = floor[dtype]
            else:
                t = seconds_per_epoch(factory(X, y), target, repeats)
            res = Result(name, n, d, dtype, threads, batch, t, X.nbytes / t / 1e9, t / floor[dtype])
            results.append(res)
            report(f"  {n:>9,} x {d:<3} {label(res):<38} {t * 1e6:12.2f} us")
    return results


def label(r: Result) -> str:
    parts = [r.method]
    if not r.method.startswith("floor") or r.dtype != "float64":
        parts.append(r.dtype)
    if r.threads > 1:
        parts.append(f"{r.threads} threads")
    if r.batch_size:
        parts.append(f"batch {r.batch_size}")
    return " ".join(parts)


def table(results: Sequence[Result]) -> str:
    """Time per epoch, bandwidth, ratio to the floor, and gdcore's speed-up over each method."""
    lines = [f"{'N x d':>14}  {'method':<38} {'time/epoch':>12} {'GB/s':>7} "
             f"{'x floor':>8} {'gdcore faster by':>17}"]
    for (n, d) in dict.fromkeys((r.n, r.d) for r in results):
        rows = [r for r in results if (r.n, r.d) == (n, d)]
        ours = next(r for r in rows if r.method == "gdcore" and r.dtype == "float64"
                    and r.threads == 1 and not r.batch_size)
        for r in rows:
            t = r.seconds_per_epoch
            unit = f"{t * 1e6:9.2f} us" if t < 1e-3 else f"{t * 1e3:9.2f} ms"
            speedup = ("" if r.method.startswith(("floor", "gdcore"))
                       else f"{t / ours.seconds_per_epoch:16.1f}x")
            lines.append(f"{n:>9,} x {d:<3}  {label(r):<38} {unit:>12} {r.gb_per_s:7.1f} "
                         f"{r.ratio_to_floor:8.2f} {speedup:>17}")
        lines.append("")
    return "\n".join(lines)


def shuffle_summary(results: Sequence[Result]) -> str:
    """Each order's batch-32 epoch against the full-batch epoch, at the sizes timing both."""
    lines = []
    for (n, d) in dict.fromkeys((r.n, r.d) for r in results):
        rows = {label(r): r.seconds_per_epoch for r in results if (r.n, r.d) == (n, d)}
        full = rows.get("gdcore float64")
        timed = [(order, rows.get(f"{name} float64 batch 32")) for order, name in
                 (("rows", "gdcore"), ("blocks", "gdcore shuffle=blocks"),
                  ("False", "gdcore shuffle=False"))]
        if full is None or any(t is None for _, t in timed):
            continue
        lines.append(f"{n:,} x {d}: batch-32 epoch / full-batch epoch ({full * 1e3:.2f} ms): "
                     + ", ".join(f"shuffle={order} {t / full:.2f}x" for order, t in timed
                                 if t is not None))
    return "\n".join(lines)


def main(full: bool = False, json_path: Optional[str] = None,
         plot_path: Optional[str] = None, shuffle: bool = False) -> int:
    """The per-epoch table; ``full`` adds 1,000,000 x 20 and the time-to-solution table;
    ``shuffle`` times 1,000,000 x 20 alone: full batch and batch 32 in each order."""
    env = environment()
    print("gdcore bench: time per epoch of gradient descent on the MSE, one process, "
          "medians of 5 after a warm-up")
    print(f"CPU: {env['cpu']} ({env['cores_available']} cores available); kernel build: "
          f"{env['kernel_isa']}; threads pinned: "
          + ", ".join(f"{k}={v}" for k, v in env["thread_pins"].items()))
    print(f"numpy {env['numpy']}, scikit-learn {env['sklearn']}, torch {env['torch']}\n")
    sizes = SHUFFLE_SIZES if shuffle else FULL_SIZES if full else QUICK_SIZES
    results = run(sizes, target=0.2 if full or shuffle else 0.05, shuffle_only=shuffle)
    print()
    print(table(results))
    summary = shuffle_summary(results)
    if summary:
        print(summary + f" (load average {os.getloadavg()[0]:.2f})\n")
    solution = None
    if full:
        from .solve import format_table, solve_table, to_json
        solved = solve_table(report=print)
        print()
        print(format_table(solved))
        solution = to_json(solved)
    # "method" carries the full label (dtype, threads, batch), as gdcore.plot.plot_bench
    # and `gdcore plot bench FILE.json` draw one line per method; "tool" the bare name.
    records = [asdict(r) | {"method": label(r), "tool": r.method} for r in results]
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"environment": env, "results": records,
                       "time_to_solution": solution}, f, indent=2)
        print(f"wrote {json_path}")
    if plot_path:
        from ..plot import plot_bench, save
        save(plot_bench(records), plot_path)
        print(f"wrote {plot_path}")
    return 0
