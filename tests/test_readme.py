"""The README's Python examples run as written (from a checkout: the README is not installed)."""

from __future__ import annotations

import os
import re

import pytest

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def blocks():
    if not os.path.exists(README):
        return []
    return re.findall(r"```python\n(.*?)```", open(README, encoding="utf-8").read(), re.S)


@pytest.mark.parametrize("code", blocks(), ids=lambda c: c.split("\n")[-2][:40])
def test_readme_example_runs(code, tmp_path, monkeypatch):
    if "sklearn" in code:
        pytest.importorskip("sklearn")
    if "plot" in code:
        pytest.importorskip("matplotlib")
    if "progress=True" in code:
        pytest.importorskip("tqdm")
    if "dask" in code:
        pytest.importorskip("distributed")
    monkeypatch.chdir(tmp_path)  # examples write files
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    if "plot.save" in code:
        for name in ("loss.png", "fit.png", "path.png", "bench.png"):
            assert (tmp_path / name).stat().st_size > 8000


def test_readme_has_the_examples():
    if not os.path.exists(README):
        pytest.skip("README.md not available")
    assert len(blocks()) >= 5
