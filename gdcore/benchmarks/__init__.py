"""gdcore bench: per-epoch timings (epochs), networks (mlp) and time to solution (solve),
and what every table is printed with: the machine it was measured on."""

from __future__ import annotations

import importlib.util
import os
import platform
from typing import Any, Dict

import numpy as np

from .._dispatch import chosen

#: The thread pools `gdcore bench` pins to one thread (set before NumPy loads).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def environment() -> Dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "kernel_isa": chosen("_pass_linear"),
        "thread_pins": {k: os.environ.get(k, "unset") for k in THREAD_VARIABLES},
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sklearn": _version("sklearn"),
        "torch": _version("torch"),
    }


def _version(module: str) -> str:
    if not installed(module):
        return "not installed"
    return str(__import__(module).__version__)
