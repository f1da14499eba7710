"""Children of the test process that import the gdcore under test.

A child started in the checkout would find the checkout's uncompiled gdcore
folder first (``python -c`` puts the current folder on its path); CI installs
gdcore elsewhere and runs the tests from the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import Any

import gdcore


def run_child(code: str, **kwargs: Any) -> "subprocess.CompletedProcess[str]":
    """``python -c code``, started in an empty folder with the tested gdcore's folder on
    its path; its output captured as text."""
    where = os.path.dirname(os.path.dirname(os.path.abspath(gdcore.__file__)))
    with tempfile.TemporaryDirectory() as folder:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=folder, env=dict(os.environ, PYTHONPATH=where), **kwargs)
