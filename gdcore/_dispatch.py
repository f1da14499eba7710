"""Pick, at import time, the fastest build of each kernel module this CPU runs.

setup.py compiles the modules whose speed depends on the vector width (the
linear and network passes, the read floor, the epoch loop, the scans of
standardising) for the baseline x86-64 ISA
and, where it can, for x86-64-v3 (AVX2/FMA) and x86-64-v4 (AVX-512):
``gdcore._pass_linear``, ``gdcore._pass_linear_v3``, ``gdcore._pass_linear_v4``.
``gdcore._util`` (one build) asks the CPU which it supports.
``GDCORE_ISA=baseline|v3|v4`` forces a variant (tests use it to hold every
variant to the same answers).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType
from typing import List

from . import _util

LEVELS = {"baseline": 1, "v3": 3, "v4": 4}


def available(kernel: str) -> List[str]:
    """Variants of ``kernel`` built into this install and runnable on this CPU."""
    level = _util.cpu_level()
    names = ["baseline"]
    for name in ("v3", "v4"):
        if LEVELS[name] <= level and importlib.util.find_spec(f"gdcore.{kernel}_{name}"):
            names.append(name)
    return names


def chosen(kernel: str) -> str:
    forced = os.environ.get("GDCORE_ISA", "")
    names = available(kernel)
    if forced:
        if forced not in LEVELS:
            raise ValueError(f"GDCORE_ISA must be one of {sorted(LEVELS)}, got {forced!r}")
        if forced not in names:
            raise RuntimeError(f"GDCORE_ISA={forced} is not available here (have {names})")
        return forced
    return names[-1]


def load(kernel: str, variant: str = "") -> ModuleType:
    """The kernel module for ``variant`` (default: the best one available)."""
    variant = variant or chosen(kernel)
    suffix = "" if variant == "baseline" else f"_{variant}"
    return importlib.import_module(f"gdcore.{kernel}{suffix}")


#: The passes, the read floor, the epoch loop and the scans of the build this CPU runs best.
pass_linear = load("_pass_linear")
pass_mlp = load("_pass_mlp")
floor = load("_floor")
loop = load("_loop")
scan = load("_scan")
