"""``gdcore bench --disk``: epochs of a .npy file larger than memory, against dd.

Writes X (20 float64 features) and y as .npy files of ``size`` GB in all
(default 1.5x this machine's memory, so that the page cache cannot hold
them), then, in one run: ``dd if=X.npy of=/dev/null bs=16M``, the epochs of
a full-batch fit of ``gdcore.data.open_npy`` files in a separate process (its
peak resident memory, VmHWM, is the fit's alone), those of a batch-32 fit
(``shuffle="blocks"``: the blocks read in a random order), and dd again. Each read starts
with the file dropped from the page cache (``posix_fadvise(DONTNEED)``; the
caches cannot be dropped for the whole machine without root). Targets: an
epoch reads at least 80 % of dd's bytes per second, in under 1 GB of
resident memory. The files are deleted at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Optional

import numpy as np

from .._validation import physical_memory
from ..data import _available_memory as _available
from . import environment

D = 20
EPOCHS = 3
#: The mini-batch fit's batch size.
BATCH = 32
#: Free space the files leave on the disk, at least.
MARGIN = 2 << 30
#: Bytes written per call (one random block, written again and again: the content does
#: not change the speed).
WRITE_BLOCK = 64 << 20

FIT_CHILD = """
import json, sys, time
import gdcore
from gdcore.data import open_npy
stamps = []
def tick(epoch, loss, model):
    stamps.append(time.perf_counter())
X, y = open_npy(sys.argv[1]), open_npy(sys.argv[2])
batch = None if sys.argv[4] == "full" else int(sys.argv[4])
trainer = gdcore.Trainer(lr=1e-3, epochs=int(sys.argv[3]), tol=0.0, batch_size=batch,
                         shuffle="blocks")
start = time.perf_counter()
trainer.fit(gdcore.LinearModel(X.shape[1]), X, y, callback=tick)
hwm = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
           if line.startswith("VmHWM:"))
print(json.dumps({"start": start, "stamps": stamps, "hwm": hwm}))
"""


def write_files(folder: str, size: int, d: int = D) -> Dict[str, Any]:
    """X.npy (n x d float64) and y.npy of ``size`` bytes in all, flushed to the disk and
    dropped from the page cache."""
    n = max(1, size // ((d + 1) * 8))
    rows = max(1, min(n, WRITE_BLOCK // (d * 8)))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, d))
    y = X @ np.linspace(-1.0, 1.0, d) + 0.5 + 0.1 * rng.standard_normal(rows)
    paths = {"X": os.path.join(folder, "X.npy"), "y": os.path.join(folder, "y.npy")}
    for name, block, shape in (("X", X, (n, d)), ("y", y, (n,))):
        with open(paths[name], "wb") as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f8", "fortran_order": False, "shape": shape})
            data = memoryview(block).cast("B")  # type: ignore[arg-type]
            row_bytes = block.nbytes // rows
            for lo in range(0, n, rows):
                f.write(data[:min(rows, n - lo) * row_bytes])
            f.flush()
            os.fsync(f.fileno())
        uncache(paths[name])
    return {"n": n, "d": d, **paths}


def uncache(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def dd(path: str) -> float:
    """Bytes per second of dd reading ``path`` from the disk."""
    uncache(path)
    start = time.perf_counter()
    subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=16M"], check=True,
                   capture_output=True)
    return os.path.getsize(path) / (time.perf_counter() - start)


def fit(files: Dict[str, Any], epochs: int, batch: Optional[int] = None) -> Dict[str, Any]:
    """The epochs of a fit of the files (full batch, or batches of ``batch`` rows) in a
    fresh process: bytes per second of each (X and y read), and the process's peak
    resident memory."""
    for name in ("X", "y"):
        uncache(files[name])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", FIT_CHILD, files["X"], files["y"], str(epochs),
                          "full" if batch is None else str(batch)],
                         check=True, capture_output=True, text=True, cwd=root)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    read = os.path.getsize(files["X"]) + os.path.getsize(files["y"])
    stamps = r["stamps"]
    speeds = [read / (b - a) for a, b in zip(stamps, stamps[1:])]
    return {"epoch_bytes_per_s": speeds, "peak_rss": r["hwm"], "bytes_per_epoch": read}


def main(size_gb: Optional[float] = None, json_path: Optional[str] = None,
         folder: Optional[str] = None, epochs: int = EPOCHS) -> int:
    memory = physical_memory() or 0
    size = int(size_gb * 2**30) if size_gb is not None else int(1.5 * memory)
    folder = folder or tempfile.gettempdir()
    free = shutil.disk_usage(folder).free
    if size + MARGIN > free:
        print(f"gdcore bench --disk: {size / 2**30:.1f} GB of files do not fit in {folder} "
              f"({free / 2**30:.1f} GB free, {MARGIN / 2**30:.0f} GB kept free): "
              "use a smaller --size", file=sys.stderr)
        return 1
    env = environment()
    print(f"gdcore bench --disk: a .npy X ({D} float64 features) and y of {size / 2**30:.1f} GB "
          f"({size / memory:.2f}x this machine's {memory / 2**30:.1f} GB of memory) in {folder}")
    print(f"CPU: {env['cpu']} ({env['cores_available']} cores available); load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    work = tempfile.mkdtemp(prefix="gdcore-disk-", dir=folder)
    try:
        start = time.perf_counter()
        files = write_files(work, size)
        written = time.perf_counter() - start
        before = dd(files["X"])
        # callbacks come after epochs 1 .. E - 1 of E (the last one ends with one more
        # pass, measuring its gradient): epochs 2 .. epochs + 1 are timed, one pass each
        result = fit(files, epochs + 2)
        mini = fit(files, epochs + 2, BATCH)
        after = dd(files["X"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    speeds = result["epoch_bytes_per_s"]
    reference = (before + after) / 2
    epoch = statistics.median(speeds)
    ratio = epoch / reference
    rss = result["peak_rss"]
    print(f"{'':<34} {'GB/s':>8}")
    print(f"{'written (X and y)':<34} {size / written / 1e9:8.2f}")
    print(f"{'dd bs=16M of X, before the fit':<34} {before / 1e9:8.2f}")
    print(f"{'dd bs=16M of X, after the fit':<34} {after / 1e9:8.2f}")
    for k, s in enumerate(speeds, start=2):
        print(f"{f'gdcore full-batch epoch {k} (X, y)':<34} {s / 1e9:8.2f}")
    for k, s in enumerate(mini["epoch_bytes_per_s"], start=2):
        print(f"{f'gdcore batch-{BATCH} epoch {k} (X, y)':<34} {s / 1e9:8.2f}")
    mini_ratio = statistics.median(mini["epoch_bytes_per_s"]) / reference
    print(f"\nepoch / dd: {ratio:.2f} (target >= 0.80)   peak resident memory of the fit: "
          f"{rss / 2**20:.0f} MB (target < 1024 MB)")
    print(f"batch-{BATCH} epoch / dd: {mini_ratio:.2f}   peak resident memory: "
          f"{mini['peak_rss'] / 2**20:.0f} MB")
    if size <= _available() // 2:
        print("(files this small stay in the page cache: the epochs after the first read "
              "memory, not the disk)")
    print(f"rows: {files['n']:,} x {files['d']}; load average after: "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"environment": env, "size": size, "n": files["n"], "d": files["d"],
                       "dd_before": before, "dd_after": after, "epochs": speeds,
                       "ratio": ratio, "peak_rss": rss,
                       "batch_epochs": mini["epoch_bytes_per_s"], "batch_ratio": mini_ratio,
                       "batch_peak_rss": mini["peak_rss"]}, f, indent=2)
        print(f"wrote {json_path}")
    return 0
