"""Shared fixtures of the gdcore test suite.

The independent reference maths lives in ``helpers.py`` (plain NumPy, never
gdcore); the fixtures here hand out the problems and parametrise backends
and dtypes.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import gdcore

# make ``import helpers`` work whatever pytest's import mode
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helpers  # noqa: E402

BACKENDS = gdcore.backends()
DTYPES = [np.float64, np.float32]


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Every backend gdcore.backends() reports."""
    return request.param


@pytest.fixture(params=DTYPES, ids=["float64", "float32"])
def dtype(request):
    return request.param


@pytest.fixture
def make_problem():
    """make_problem(n, d, seed, noise=0.0, dtype=np.float64, intercept=0.5) -> (X, y, w, b)."""
    return helpers.make_problem

