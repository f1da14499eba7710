"""``gdcore bench --threads``: n_jobs on a quiet machine and on a busy one.

A full-batch epoch with every usable CPU (``n_jobs=-1``'s count, at least 2)
against one thread, in pairs (one, many, one, many, ...) so each ratio is
measured side by side: first with the machine as it is, then with one
spinning process per other CPU, which is what a shared machine does to a
thread pool. A pool whose threads wait at a barrier is then slower than one
thread; gdcore's caller takes over a late thread's rows instead.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from .._validation import usable_cpus
from . import environment
from .epochs import QUICK_SIZES, FULL_SIZES, gdcore_epochs, make_data

PAIRS = 7


def paired(n: int, d: int, threads: int, target: float) -> Dict[str, float]:
    """Medians of one-thread and ``threads``-thread epochs, and of their ratio by pair."""
    X, y = make_data(n, d)
    runs = {1: gdcore_epochs(X, y), threads: gdcore_epochs(X, y, n_jobs=threads)}
    start = time.perf_counter()
    runs[1](1)
    runs[threads](1)
    k = int(min(max(target / max(time.perf_counter() - start, 1e-7), 1), 100_000))
    times: Dict[int, List[float]] = {1: [], threads: []}
    for _ in range(PAIRS):
        for jobs, epochs in runs.items():
            start = time.perf_counter()
            epochs(k)
            times[jobs].append((time.perf_counter() - start) / k)
    ratios = [many / one for one, many in zip(times[1], times[threads])]
    return {"one": statistics.median(times[1]), "many": statistics.median(times[threads]),
            "ratio": statistics.median(ratios), "worst": max(ratios)}


def main(full: bool = False, json_path: Optional[str] = None) -> int:
    threads = max(2, usable_cpus())
    sizes = FULL_SIZES if full else QUICK_SIZES
    env = environment()
    print(f"gdcore bench --threads: full-batch epoch, n_jobs={threads} against n_jobs=1, "
          f"{PAIRS} pairs each, medians; busy: {threads - 1} spinning process(es) beside it")
    print(f"CPU: {env['cpu']} ({env['cores_available']} cores available)\n")
    print(f"{'machine':<7} {'N x d':>14} {'1 thread':>12} {f'{threads} threads':>12} "
          f"{'ratio':>7} {'worst':>7}")
    records: List[Dict[str, Any]] = []
    for busy in (False, True):
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(threads - 1 if busy else 0)]
        try:
            for n, d in sizes:
                r = paired(n, d, threads, 0.1)
                print(f"{'busy' if busy else 'quiet':<7} {n:>9,} x {d:<3} {r['one'] * 1e6:9.1f} us "
                      f"{r['many'] * 1e6:9.1f} us {r['ratio']:7.2f} {r['worst']:7.2f}")
                records.append({"busy": busy, "n": n, "d": d, "threads": threads, **r})
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
    print("\nratio: time per epoch with the threads over one thread (below 1: faster)")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"environment": env, "threads": records}, f, indent=2)
        print(f"wrote {json_path}")
    return 0
