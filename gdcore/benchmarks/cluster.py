"""``gdcore bench --dask``: fits of dask arrays on a 2-worker LocalCluster (loopback).

Side by side in one run, at 1,000,000 x 20 (``--full``: 10,000,000 x 20 too),
the data persisted on the workers in chunks of 131,072 rows (32 x 4,096),
each chunk made on its worker (``map_blocks(np.copy)``), as a loader
(``from_zarr``, ``read_parquet``) makes them, chunk i (of X and y) on worker
i mod 2: the rows spread evenly (dask's own placement can leave one worker
five chunks of eight, and every epoch waits on the busiest worker):

* time per full-batch epoch (plain steps, medians of 3 after a warm-up):
  gdcore in memory on one thread; gdcore on the cluster with each epoch's
  round trip made by actors (the default) and by futures through the
  scheduler; dask-glm's ``gradient_descent`` per iteration;
* time per batch-32 epoch (``shuffle="blocks"``, plain steps): in memory (its
  own blocks, which the L2 cache holds) and on the cluster (each chunk's
  batches on its worker, one round trip per chunk);
* time to 1e-6 of the least-squares answer, ||beta - beta*|| <= 1e-6
  ||beta*|| over (w, b), beta* from ``numpy.linalg.lstsq`` in memory: gdcore's
  default fit on the cluster (the shards built, the statistics reduced, the
  epochs: everything after ``persist``) and in memory, and on the chunks as
  ``from_array(X).persist()`` leaves them, sent from the client: most arrive
  unaligned (not on an 8-byte boundary) and each fit copies those; dask-glm's ``lbfgs``
  and dask-ml's ``LinearRegression`` (admm, penalty 1e-12), each run with
  max_iter 1, 2, 4, ... until it gets there (the time of that run).

dask-glm and dask-ml are not dependencies of gdcore: measured when installed.
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .. import LinearModel, Trainer
from . import environment, installed
from .epochs import gdcore_epochs, make_data

SIZES = [(1_000_000, 20)]
BATCH = 32
FULL_SIZES = SIZES + [(10_000_000, 20)]
CHUNK_ROWS = 32 * 4096
TARGET = 1e-6
MAX_ITER = 512       # the peers' doubling stops here
PEER_SECONDS = 120.0  # ... or once a run takes this long


def _per_epoch(epochs: Callable[[int], Any], target: float = 0.5) -> float:
    """Median seconds per epoch over 3 timings of k epochs (k sized to ``target``)."""
    start = time.perf_counter()
    epochs(2)  # warm-up (a cluster fit: the first epoch sets the workers' passes up)
    start = time.perf_counter()
    epochs(2)
    k = int(min(max(target / max((time.perf_counter() - start) / 2, 1e-6), 2), 10_000))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        epochs(k)
        times.append((time.perf_counter() - start) / k)
    return statistics.median(times)


def _error(beta: np.ndarray, best: np.ndarray) -> float:
    return float(np.linalg.norm(beta - best) / np.linalg.norm(best))


def _doubling(fit: Callable[[int], np.ndarray], best: np.ndarray) -> Dict[str, Any]:
    """Runs fit(max_iter) for max_iter = 1, 2, 4, ... until its error reaches TARGET."""
    max_iter = 1
    while True:
        start = time.perf_counter()
        beta = np.asarray(fit(max_iter), dtype=np.float64)
        seconds = time.perf_counter() - start
        error = _error(beta, best)
        if error <= TARGET or max_iter >= MAX_ITER or seconds > PEER_SECONDS:
            return {"seconds": seconds, "error": error, "iterations": max_iter}
        max_iter *= 2


def _gdcore_fit(X: Any, y: Any, best: np.ndarray) -> Dict[str, Any]:
    model = LinearModel(X.shape[1])
    start = time.perf_counter()
    history = Trainer().fit(model, X, y)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "error": _error(model.params, best),
            "iterations": history.n_epochs}


def _spread(make: Callable[[], Any]) -> Any:
    """The dask array ``make()`` builds, persisted with chunk i on worker i mod (the number
    of workers)."""
    import dask
    from distributed import get_client
    workers = sorted(get_client().scheduler_info()["workers"])
    with dask.annotate(workers=lambda key: [workers[key[1] % len(workers)]],
                       allow_other_workers=False):
        array = make()
    return array.persist(optimize_graph=False)  # (optimizing would drop the annotations)


def measure(n: int, d: int, report: Callable[[str], None] = print) -> Dict[str, Any]:
    import dask.array as da
    from distributed import wait
    from .. import dask as gdask
    X, y = make_data(n, d)
    Xd = _spread(lambda: da.from_array(X, chunks=(CHUNK_ROWS, -1)).map_blocks(np.copy))
    yd = _spread(lambda: da.from_array(y, chunks=CHUNK_ROWS).map_blocks(np.copy))
    wait([Xd, yd])
    from distributed import futures_of, get_client
    held: Dict[str, int] = {}
    for workers in get_client().who_has(futures_of(Xd)).values():
        held[workers[0]] = held.get(workers[0], 0) + 1
    best = np.linalg.lstsq(np.column_stack([X, np.ones(n)]), y, rcond=None)[0]
    out: Dict[str, Any] = {"n": n, "d": d, "chunk_rows": CHUNK_ROWS, "epoch": {},
                           "batch epoch": {}, "solve": {},
                           "chunks per worker": sorted(held.values())}
    epoch, batch, solve = out["epoch"], out["batch epoch"], out["solve"]
    epoch["gdcore in memory, 1 thread"] = _per_epoch(gdcore_epochs(X, y))
    report(f"  {n:,} x {d}: in memory {epoch['gdcore in memory, 1 thread'] * 1e3:.2f} ms")
    for via in ("actors", "futures"):
        gdask.ROUND_TRIP = via
        try:
            epoch[f"gdcore dask ({via})"] = _per_epoch(gdcore_epochs(Xd, yd))
        finally:
            gdask.ROUND_TRIP = "actors"
        report(f"  dask ({via}) {epoch[f'gdcore dask ({via})'] * 1e3:.2f} ms")
    for name, Xs, ys in (("gdcore in memory, 1 thread", X, y), ("gdcore dask", Xd, yd)):
        batch[name] = _per_epoch(gdcore_epochs(Xs, ys, batch_size=BATCH, shuffle="blocks"))
        report(f"  batch {BATCH}: {name} {batch[name] * 1e3:.2f} ms")
    solve["gdcore in memory"] = _gdcore_fit(X, y, best)
    solve["gdcore dask"] = _gdcore_fit(Xd, yd, best)
    report(f"  default fit: dask {solve['gdcore dask']['seconds']:.3f} s")
    sent = [da.from_array(X, chunks=(CHUNK_ROWS, -1)).persist(),
            da.from_array(y, chunks=CHUNK_ROWS).persist()]
    wait(sent)
    aligned = sent[0].map_blocks(lambda b: np.array([[b.flags.aligned]]), chunks=(1, 1),
                                 dtype=bool).compute()
    out["sent chunks unaligned"] = f"{int((~aligned).sum())} of {aligned.size}"
    solve["gdcore dask, chunks sent by the client"] = _gdcore_fit(sent[0], sent[1], best)
    del sent
    X1 = da.hstack([Xd, da.ones((n, 1), chunks=(CHUNK_ROWS, 1))]).rechunk({1: -1}).persist()
    wait(X1)
    if installed("dask_glm"):
        from dask_glm.algorithms import gradient_descent, lbfgs
        from dask_glm.families import Normal
        iterations = 4
        start = time.perf_counter()
        gradient_descent(X1, yd, max_iter=iterations, tol=0.0, family=Normal)
        epoch["dask-glm gradient_descent"] = (time.perf_counter() - start) / iterations
        report(f"  dask-glm gradient_descent {epoch['dask-glm gradient_descent'] * 1e3:.1f} ms")
        solve["dask-glm lbfgs"] = _doubling(
            lambda m: lbfgs(X1, yd, regularizer=None, max_iter=m, tol=1e-30, family=Normal),
            best)
        report(f"  dask-glm lbfgs {solve['dask-glm lbfgs']}")
    if installed("dask_ml"):
        from dask_ml.linear_model import LinearRegression

        def dask_ml(m: int) -> np.ndarray:
            est = LinearRegression(C=1e12, max_iter=m,
                                   solver_kwargs={"abstol": 0.0, "reltol": 0.0})
            est.fit(Xd, yd)
            return np.append(np.asarray(est.coef_), est.intercept_)
        solve["dask-ml LinearRegression"] = _doubling(dask_ml, best)
        report(f"  dask-ml LinearRegression {solve['dask-ml LinearRegression']}")
    return out


def table(results: List[Dict[str, Any]]) -> str:
    lines = []
    for r in results:
        spread = ", ".join(map(str, r.get("chunks per worker", [])))
        lines.append(f"{r['n']:,} x {r['d']}, chunks of {r['chunk_rows']:,} rows "
                     f"(per worker: {spread})")
        lines.append(f"  {'time per full-batch epoch':<36} {'ms':>9} {'vs in memory':>13}")
        base = r["epoch"]["gdcore in memory, 1 thread"]
        for name, seconds in r["epoch"].items():
            lines.append(f"  {name:<36} {seconds * 1e3:9.2f} {seconds / base:12.2f}x")
        if r.get("batch epoch"):
            lines.append(f"  {f'time per batch-{BATCH} epoch (blocks)':<36} {'ms':>9} "
                         f"{'vs in memory':>13}")
            base = r["batch epoch"]["gdcore in memory, 1 thread"]
            for name, seconds in r["batch epoch"].items():
                lines.append(f"  {name:<36} {seconds * 1e3:9.2f} {seconds / base:12.2f}x")
        lines.append(f"  {'time to 1e-6 of least squares':<36} {'s':>9} {'vs gdcore dask':>14} "
                     f"{'error':>8} {'iterations':>10}")
        if "sent chunks unaligned" in r:
            lines.append(f"  (chunks sent by the client: {r['sent chunks unaligned']} unaligned)")
        ours = r["solve"]["gdcore dask"]["seconds"]
        for name, s in r["solve"].items():
            missed = "  not reached: a lower bound" if s["error"] > TARGET else ""
            lines.append(f"  {name:<36} {s['seconds']:9.3f} {s['seconds'] / ours:13.1f}x "
                         f"{s['error']:8.1e} {s['iterations']:>10}{missed}")
    return "\n".join(lines)


def main(full: bool = False, json_path: Optional[str] = None) -> int:
    if not (installed("dask") and installed("distributed")):
        print("gdcore bench --dask needs dask and distributed: pip install gdcore[dask]")
        return 1
    from distributed import Client, LocalCluster
    env = environment()
    print("gdcore bench --dask: a 2-worker LocalCluster (1 thread each, loopback) against "
          "gdcore in memory, dask-glm and dask-ml")
    print(f"CPU: {env['cpu']} ({env['cores_available']} cores available); kernel build: "
          f"{env['kernel_isa']}; dask-glm {'installed' if installed('dask_glm') else 'not installed'}, "
          f"dask-ml {'installed' if installed('dask_ml') else 'not installed'}\n")
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the peers' FutureWarnings, large-graph notes
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None) as cluster, \
                Client(cluster):
            for n, d in (FULL_SIZES if full else SIZES):
                results.append(measure(n, d))
    print()
    print(table(results))
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"environment": env, "dask": results}, f, indent=2)
        print(f"wrote {json_path}")
    return 0
