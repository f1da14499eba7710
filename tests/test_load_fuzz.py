"""Fuzzing gdcore.load: a mutated model file loads as a valid model or raises ValueError
naming the file, nothing else, and quickly.

The mutations start from valid files: bytes flipped, inserted, deleted; members
rewritten as .npy arrays of random dtypes, shapes and lengths; random JSON in
the header; zip fields that lie. CI runs a small fixed budget (derandomized:
the same examples on every run, a few seconds); a nightly run sets
GDCORE_FUZZ_EXAMPLES (e.g. 100000) for a longer search. fuzz/load_atheris.py
is a coverage-guided harness for the same property.
"""

from __future__ import annotations

import io
import json
import os
import time

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import gdcore  # noqa: E402
from gdcore.persist import HEADER  # noqa: E402
from craft import (DEFLATED, STORED, archive, entries_of, entry, header_npy,  # noqa: E402
                   npy_raw, saved)

EXAMPLES = int(os.environ.get("GDCORE_FUZZ_EXAMPLES", 200))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def _seeds():
    linear = gdcore.LinearModel(3)
    linear.w, linear.b = [1.0, -2.0, 0.5], 0.25
    small = gdcore.LinearModel(1, dtype=np.float32, fit_intercept=False)
    net = gdcore.MLP([2, 3, 1], activation="relu", random_state=0)
    return {"linear": saved(linear, metadata={"features": ["a", "b", "c"], "target": "y"}),
            "linear-float32": saved(small), "mlp": saved(net)}


SEEDS = _seeds()


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "model.gdm"


def check_load(path, data):
    """The property: load gives a valid model or a ValueError naming the file."""
    path.write_bytes(data)
    start = time.perf_counter()
    try:
        model = gdcore.load(path)
    except ValueError as exc:
        assert str(path) in str(exc)
        hypothesis.event("refused", str(exc).split(": ", 1)[1][:24])
    else:
        assert isinstance(model, gdcore.Model)
        assert np.all(np.isfinite(model.params))
        hypothesis.event("loaded")
    assert time.perf_counter() - start < 2.0


edits = st.lists(st.tuples(st.sampled_from(["flip", "set", "insert", "delete"]),
                           st.integers(0, 1 << 16), st.integers(0, 255)),
                 min_size=1, max_size=8)


@FUZZ
@given(seed=st.sampled_from(sorted(SEEDS)), edits=edits)
def test_byte_mutations(fuzz_file, seed, edits):
    data = bytearray(SEEDS[seed])
    for op, at, value in edits:
        at %= len(data) + (op == "insert")
        if op == "flip":
            data[at] ^= 1 << (value % 8)
        elif op == "set":
            data[at] = value
        elif op == "insert":
            data[at:at] = bytes([value]) * (1 + value % 4)
        elif data:
            del data[at:at + 1 + value % 4]
    check_load(fuzz_file, bytes(data))


descrs = st.sampled_from(["<f8", "<f4", ">f8", "<f2", "<i8", "|u1", "|b1", "<c16", "<U5",
                          "|S3", "|O", "|V8", "<M8[s]", "f8", "<f8'", ""])
shapes = st.lists(st.one_of(st.integers(0, 8), st.integers(0, 1 << 64)), max_size=3)


@st.composite
def npy_members(draw):
    """An .npy member: mostly plausible, with a header that may lie about its data."""
    header = (f"{{'descr': '{draw(descrs)}', 'fortran_order': {draw(st.booleans())}, "
              f"'shape': {tuple(draw(shapes))!r}, }}")
    if draw(st.integers(0, 9)) == 0:
        header = draw(st.text(max_size=80))
    data = draw(st.one_of(st.binary(max_size=64),
                          st.integers(0, 64).map(lambda n: np.arange(n, dtype="<f8").tobytes())))
    version = draw(st.sampled_from([b"\1\0", b"\2\0", b"\3\0", b"\4\0"]))
    return npy_raw(header, data, version)


@FUZZ
@given(seed=st.sampled_from(sorted(SEEDS)), which=st.integers(0, 10), content=npy_members(),
       method=st.sampled_from([STORED, DEFLATED]))
def test_members_rewritten(fuzz_file, seed, which, content, method):
    entries = entries_of(SEEDS[seed])
    entries[which % len(entries)] = entry(entries[which % len(entries)].name, content, method)
    check_load(fuzz_file, archive(entries))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 1 << 70) | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.sampled_from(["float32", "float64", "MLP", "LinearModel",
                                             "tanh", "relu", "gdcore-model"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12)
header_keys = st.sampled_from(["format", "version", "class", "config", "metadata",
                               "n_features", "dtype", "fit_intercept", "layer_sizes",
                               "activation"])


@FUZZ
@given(seed=st.sampled_from(sorted(SEEDS)),
       changes=st.lists(st.tuples(header_keys, json_values), min_size=1, max_size=4),
       drop=st.lists(header_keys, max_size=2))
def test_headers_rewritten(fuzz_file, seed, changes, drop):
    entries = entries_of(SEEDS[seed])
    header = json.loads(str(np.load(io.BytesIO(entries[0].data))[()]))
    for key, value in changes:
        config = header.get("config")
        (config if isinstance(config, dict) and key in config else header)[key] = value
    for key in drop:
        for part in (header, header.get("config")):
            if isinstance(part, dict):
                part.pop(key, None)
    entries[0] = entry(f"{HEADER}.npy", header_npy(json.dumps(header)))  # inf as Infinity
    check_load(fuzz_file, archive(entries))


@FUZZ
@given(seed=st.sampled_from(sorted(SEEDS)), which=st.integers(0, 10),
       method=st.sampled_from([STORED, DEFLATED, 1, 12, 14, 99]),
       flags=st.sampled_from([0, 0, 1, 8, 0x20, 0x40, 0x800]),
       version=st.sampled_from([20, 45, 63, 64, 255]),
       crc=st.one_of(st.none(), st.integers(0, (1 << 32) - 1)),
       file_size=st.one_of(st.none(), st.integers(0, (1 << 32) - 1)),
       compress_size=st.one_of(st.none(), st.integers(0, (1 << 32) - 1)),
       name=st.one_of(st.none(), st.text(max_size=12)))
def test_zip_fields_that_lie(fuzz_file, seed, which, method, flags, version, crc, file_size,
                             compress_size, name):
    entries = entries_of(SEEDS[seed])
    i = which % len(entries)
    e = entry(entries[i].name, entries[i].data, DEFLATED if method == DEFLATED else STORED)
    e.method, e.flags, e.version = method, flags, version
    e.crc = e.crc if crc is None else crc
    e.file_size = e.file_size if file_size is None else file_size
    e.compress_size = compress_size
    e.name = e.name if name is None else name
    entries[i] = e
    check_load(fuzz_file, archive(entries))
