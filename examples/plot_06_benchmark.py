"""
Benchmark: gdcore against NumPy, scikit-learn and PyTorch
=========================================================

``gdcore bench --json FILE`` times one epoch of full-batch gradient descent
on the MSE for each method, in one process with BLAS and OpenMP pinned to one
thread (medians of 5 after a warm-up), beside the *floor*: a minimal compiled
loop that only reads X, the least any epoch can cost. scikit-learn and
PyTorch are measured when installed and left out otherwise. (scikit-learn's
``SGDRegressor`` has no full-batch mode: its epoch is N steps of one row.)

A quick run takes about a minute, too long to repeat at every documentation
build, so this page plots the JSON of one run saved with the examples
(``examples/data/bench_quick.json``, from the machine named below). Set
``GDCORE_DOCS_RUN_BENCH=1`` to run the benchmark during the build instead.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gdcore import plot

if os.environ.get("GDCORE_DOCS_RUN_BENCH") == "1":
    path = Path(tempfile.mkdtemp()) / "bench.json"
    subprocess.run([sys.executable, "-m", "gdcore", "bench", "--json", str(path)],
                   check=True, stdout=subprocess.DEVNULL)
else:
    here = Path(__file__).parent if "__file__" in globals() else Path.cwd()
    path = here / "data" / "bench_quick.json"

with open(path, encoding="utf-8") as f:
    run = json.load(f)
env = run["environment"]
print(f"CPU: {env['cpu']}, kernel build {env['kernel_isa']}; numpy {env['numpy']}, "
      f"scikit-learn {env['sklearn']}, torch {env['torch']}")

# %%
# Time per epoch against the number of rows (sizes 1,000 x 1, 10,000 x 10,
# 100,000 x 20), one line per method. The pure-Python reference is left out:
# it is a thousand times slower and would flatten the rest.

shown = ["floor", "gdcore float64", "gdcore float32", "numpy float64",
         "sklearn-sgd float64 batch 1", "torch float64", "torch-autograd float64"]
records = [r for r in plot.load_bench(path) if r["method"] in shown]
missing = [m for m in shown if not any(r["method"] == m for r in records)]
if missing:  # e.g. PyTorch not installed where the benchmark ran
    print("not measured:", ", ".join(missing))

fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
plot.plot_bench(records, ax=ax)
ax.legend(fontsize="small")
plt.show()

# %%
# How many times longer each method takes than gdcore's float64 epoch, size
# by size (the floor is below 1: gdcore's distance from it).

sizes = sorted({(r["n"], r["d"]) for r in records})
seconds = {(r["method"], r["n"], r["d"]): r["seconds_per_epoch"] for r in records}
others = [m for m in shown if m != "gdcore float64" and m not in missing]
width = 0.8 / len(others)
fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
for i, method in enumerate(others):
    ratio = [seconds.get((method, n, d), np.nan) / seconds[("gdcore float64", n, d)]
             for n, d in sizes]
    ax.bar(np.arange(len(sizes)) + (i - (len(others) - 1) / 2) * width, ratio, width,
           label=method)
ax.axhline(1.0, color="black", lw=0.8)
ax.set_yscale("log")
ax.set_xticks(np.arange(len(sizes)), [f"{n:,} x {d}" for n, d in sizes])
ax.set(ylabel="time / gdcore float64 time", title="Relative to gdcore (higher is slower)")
ax.legend(fontsize="small")
plt.show()
