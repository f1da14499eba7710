"""gdcore.load on files from strangers: every malformed file is a ValueError naming the
file, raised in bounded time and memory; never a hang, a huge allocation, or another
exception. (tests/test_load_fuzz.py searches for counterexamples.)"""

from __future__ import annotations

import json
import os
import threading
import time
import tracemalloc

import numpy as np
import pytest

import gdcore
from gdcore.persist import HEADER, MAX_DEPTH, MAX_DIRECTORY, MAX_HEADER_CHARS, MAX_NPY_HEADER
from craft import (DEFLATED, GOOD, archive, deflate_bomb, entries_of, entry, header_npy,
                   linear_entries, npy, npy_raw, saved)

MiB = 1 << 20


def refused(path, match=None, peak=4 * MiB, seconds=2.0):
    """gdcore.load(path) raises ValueError naming the file and matching ``match``, having
    allocated at most ``peak`` bytes on the way, within ``seconds``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=match) as info:
            gdcore.load(path)
        elapsed = time.perf_counter() - start
        used = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert used <= peak, f"{used / MiB:.1f} MiB allocated to refuse {path}"
    assert elapsed <= seconds, f"{elapsed:.2f} s to refuse {path}"
    return str(info.value)


def write(tmp_path, data, name="model.gdm"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def linear_file(tmp_path, header=GOOD, **arrays):
    return write(tmp_path, archive(linear_entries(header, **arrays)))


# --- what is not a regular file ---------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.gdm"
    os.mkfifo(fifo)
    outcome = []

    def target():
        try:
            gdcore.load(fifo)
        except Exception as exc:  # what load raised, checked below
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(2.0)
    if thread.is_alive():  # a writer unblocks the reader, so that the suite goes on
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        thread.join(2.0)
        pytest.fail("gdcore.load blocked on a FIFO")
    assert isinstance(outcome[0], ValueError), outcome
    assert str(fifo) in str(outcome[0]) and "FIFO" in str(outcome[0])


def test_a_directory_is_refused(tmp_path):
    refused(tmp_path, "a directory")


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_a_device_is_refused():
    refused("/dev/null", "not a regular file")  # /dev/zero would be read for ever


def test_a_missing_file_stays_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        gdcore.load(tmp_path / "none.gdm")


def test_a_file_larger_than_memory_is_refused_before_reading(tmp_path, monkeypatch):
    path = linear_file(tmp_path)
    monkeypatch.setattr(gdcore.persist, "physical_memory", lambda: 1000)
    refused(path, "larger than any model")


# --- sizes that would allocate or decompress without bound ------------------------


def test_a_zip_bomb_is_refused_before_it_is_decompressed(tmp_path):
    """256 MiB of zeros in a 260 KB member, honestly declared: refused at once."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (33554432,), }"
    content = npy_raw(header)
    bomb = deflate_bomb(content, 256 * MiB)
    entries = linear_entries()
    entries[1] = entry("w.npy", b"", DEFLATED, data=bomb, file_size=len(content) + 256 * MiB)
    path = write(tmp_path, archive(entries))
    assert path.stat().st_size < 300_000
    refused(path, "more than its array can need")


def test_a_member_lying_about_its_size_is_read_no_further(tmp_path):
    """The same bomb declared as the 144 bytes w needs: reading stops there."""
    entries = linear_entries()
    content = npy(np.array([1.0, 2.0]))
    entries[1] = entry("w.npy", b"", DEFLATED, data=deflate_bomb(content, 64 * MiB),
                       crc=0, file_size=len(content))
    refused(write(tmp_path, archive(entries)), "corrupt archive")


def test_a_size_beyond_what_deflate_can_expand_is_refused(tmp_path):
    entries = linear_entries()
    entries[1] = entry("w.npy", b"", DEFLATED, data=b"\x03\x00", file_size=10 * MiB)
    refused(write(tmp_path, archive(entries)), "declares sizes the file cannot hold")


def test_a_small_file_declaring_an_enormous_array_allocates_nothing(tmp_path):
    entries = linear_entries()
    entries[1] = entry("w.npy", npy_raw(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"))
    path = write(tmp_path, archive(entries))
    assert path.stat().st_size < 2000
    refused(path, "w.npy holds float64 of shape \\(1000000000000,\\)")


def test_a_small_file_declaring_an_enormous_network_allocates_nothing(tmp_path):
    """A config asking for 60 million parameters (allowed on a large machine): the
    file's one small array is compared with it before the network is built."""
    config = {"layer_sizes": [1, 20_000_000, 1], "activation": "tanh", "dtype": "float64"}
    header = dict(GOOD, **{"class": "MLP", "config": config})
    path = write(tmp_path, archive([entry(f"{HEADER}.npy", header_npy(header)),
                                    entry("params.npy", npy(np.zeros(4)))]))
    refused(path, "invalid MLP")


@pytest.mark.parametrize("config, match", [
    ({"n_features": 10 ** 400}, "integer .* is too large"),
    ({"n_features": 10 ** 17}, "invalid LinearModel.*memory"),
    ({"n_features": 1e300}, "n_features must be an integer"),
    ({"n_features": 2.0}, "n_features must be an integer"),
    ({"n_features": True}, "n_features must be an integer"),
    ({"dtype": "(100000000000,)f8"}, "dtype must be"),
    ({"dtype": {"names": ["a"], "formats": ["f8"]}}, "dtype must be"),
    ({"fit_intercept": "yes"}, "fit_intercept must be"),
    ({"fit_intercept": None}, "fit_intercept must be"),
])
def test_a_config_that_makes_no_model_is_refused(tmp_path, config, match):
    header = dict(GOOD, config=dict(GOOD["config"], **config))
    refused(linear_file(tmp_path, header), match)


def test_a_config_missing_a_field_is_refused(tmp_path):
    config = {k: v for k, v in GOOD["config"].items() if k != "fit_intercept"}
    refused(linear_file(tmp_path, dict(GOOD, config=config)), "lacks fit_intercept")


# --- the JSON header --------------------------------------------------------------


def test_a_deeply_nested_header_is_refused(tmp_path):
    text = json.dumps(GOOD)[:-1] + ', "x": ' + "[" * 20_000 + "]" * 20_000 + "}"
    refused(linear_file(tmp_path, text), "nests deeper than")


def test_brackets_inside_strings_are_no_nesting(tmp_path):
    header = dict(GOOD, metadata={"note": "[{" * 1000, "q": 'a\\"[[[', "list": [[[1]]]})
    model, metadata = gdcore.persist.read(linear_file(tmp_path, header))
    assert metadata == header["metadata"]


@pytest.mark.parametrize("text, match", [
    ('{"format": "gdcore-model", "version": NaN}', "NaN is not a number"),
    ('{"format": "gdcore-model", "version": 1e999}', "overflows"),
    ('{"format": "gdcore-model", "version": 1', "not valid JSON"),
    ('[1, 2]', "wrong format tag"),
    ("", "not valid JSON"),
    ('{"format": "gdcore-model", "version": 1, "class": ["LinearModel"]}', "unknown model class"),
    ('{"format": "gdcore-model", "version": 1, "class": "LinearModel", "config": 5}',
     "config, metadata or continuation"),
    ('{"format": "gdcore-model", "version": 1, "class": "' + "x" * 10_000 + '"}',
     "unknown model class 'xxxx"),
])
def test_a_malformed_header_is_refused(tmp_path, text, match):
    message = refused(linear_file(tmp_path, text), match)
    assert len(message) < 1000  # what the file says is quoted, not copied whole


def test_a_header_that_is_not_text_is_refused(tmp_path):
    for content in (npy(np.arange(3.0)), npy(np.array([json.dumps(GOOD)])),
                    npy_raw("{'descr': '<U1', 'fortran_order': False, 'shape': (), }",
                            b"\xff\xff\xff\xff")):
        entries = linear_entries()
        entries[0] = entry(f"{HEADER}.npy", content)
        refused(write(tmp_path, archive(entries)), "header")


def test_an_oversized_header_is_refused_before_it_is_read(tmp_path):
    entries = linear_entries()
    too_long = npy_raw(f"{{'descr': '<U{MAX_HEADER_CHARS + 1}', 'fortran_order': False, "
                       f"'shape': (), }}")
    entries[0] = entry(f"{HEADER}.npy", b"", DEFLATED, data=bytes(20_000),
                       file_size=13 + MAX_NPY_HEADER + 4 * MAX_HEADER_CHARS)
    refused(write(tmp_path, archive(entries)), "more than its array can need")
    entries[0] = entry(f"{HEADER}.npy", too_long + b"[]", DEFLATED)
    refused(write(tmp_path, archive(entries)), "not text of at most")


# --- the .npy members -------------------------------------------------------------


@pytest.mark.parametrize("content", [
    pytest.param(b"not an npy file", id="magic"),
    pytest.param(b"\x93NUMPY\x09\x00\x10\x00{}", id="version"),
    pytest.param(b"\x93NUMPY\x01\x00\xff\xff{'descr'", id="length-beyond-data"),
    pytest.param(b"\x93NUMPY\x02\x00\xff\xff\xff\x7f", id="length-huge"),
    pytest.param(npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': "
                         + "(" * 5000 + ")" * 5000 + ", }"), id="nested-parentheses"),
    pytest.param(npy_raw("-" * 9000 + "1"), id="deep-unary"),
    pytest.param(npy_raw("[" * 3000 + "]" * 3000), id="deep-list"),
    pytest.param(npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
                         " + __import__('os').system('true')"), id="code"),
    pytest.param(npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }"),
                 id="negative-shape"),
    pytest.param(npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': 2, }"),
                 id="shape-not-tuple"),
    pytest.param(npy_raw("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }"),
                 id="structured"),
    pytest.param(npy_raw("{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }",
                         bytes(16)), id="fortran-order"),
    pytest.param(npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                         bytes(8)), id="truncated-data"),
    pytest.param(npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                         bytes(24)), id="extra-data"),
    pytest.param(npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                         bytes(16))[:-30], id="truncated-header"),
])
def test_a_malformed_npy_member_is_refused(tmp_path, content):
    entries = linear_entries()
    entries[1] = entry("w.npy", content)
    refused(write(tmp_path, archive(entries)))


@pytest.mark.parametrize("array", [
    pytest.param(np.array(["a", "b"]), id="text"),
    pytest.param(np.array([b"a", b"b"]), id="bytes"),
    pytest.param(np.array([True, False]), id="bool"),
    pytest.param(np.array([1, 2]), id="int"),
    pytest.param(np.array([1 + 2j, 2]), id="complex"),
    pytest.param(np.array([1.0, 2.0], dtype=np.float32), id="float32-in-a-float64-model"),
    pytest.param(np.array([1.0, 2.0], dtype=np.float16), id="float16"),
    pytest.param(np.array([{"x": 1}, 2], dtype=object), id="object"),
    pytest.param(np.array([(1.0, 2.0)], dtype=[("a", "<f8"), ("b", "<f8")]), id="structured"),
    pytest.param(np.zeros(2, dtype="datetime64[s]"), id="datetime"),
    pytest.param(np.zeros((2, 1)), id="2-d"),
])
def test_an_array_of_the_wrong_kind_is_refused(tmp_path, array):
    refused(linear_file(tmp_path, w=array))


def test_a_big_endian_file_loads(tmp_path):
    entries = linear_entries()
    entries[1] = entry("w.npy", npy(np.array([1.0, 2.0], dtype=">f8")))
    model = gdcore.load(write(tmp_path, archive(entries)))
    np.testing.assert_array_equal(model.w, [1.0, 2.0])


@pytest.mark.parametrize("w, b", [([1.0, np.inf], [0.5]), ([1.0, 2.0], [np.nan]),
                                  ([1.0, 2.0], [-np.inf])])
def test_non_finite_parameters_are_refused(tmp_path, w, b):
    refused(linear_file(tmp_path, w=w, b=b), "invalid LinearModel")


def test_non_finite_network_parameters_are_refused(tmp_path):
    net = gdcore.MLP([2, 3, 1], random_state=0)
    entries = entries_of(saved(net))
    params = net.params.copy()
    params[4] = np.nan
    entries[-1] = entry(entries[-1].name, npy(params))
    refused(write(tmp_path, archive(entries)), "invalid MLP.*finite")


# --- the zip archive --------------------------------------------------------------


@pytest.mark.parametrize("method", [1, 9, 12, 14, 99])
def test_a_compression_method_other_than_stored_or_deflate_is_refused(tmp_path, method):
    entries = linear_entries()
    entries[1].method = method
    refused(write(tmp_path, archive(entries)), f"method {method}")


@pytest.mark.parametrize("flags", [0x1, 0x20, 0x40])
def test_an_encrypted_member_is_refused(tmp_path, flags):
    entries = linear_entries()
    entries[2].flags = flags
    refused(write(tmp_path, archive(entries)), "encrypted")


def test_a_zip_version_zipfile_cannot_read_is_refused(tmp_path):
    entries = linear_entries()
    entries[1].version = 99
    refused(write(tmp_path, archive(entries)), "not an .npz archive")


@pytest.mark.parametrize("change, match", [
    ("duplicate", "repeated member 'w.npy'"),
    ("unknown-array", "the file holds \\['b', 'extra', 'w'\\]"),
    ("unknown-file", "unexpected or repeated member 'README.txt'"),
    ("missing", "needs the arrays \\['b', 'w'\\]"),
    ("no-header", "no gdcore header"),
    ("directory-entry", "unexpected or repeated member 'w/'"),
])
def test_members_must_be_exactly_the_header_and_the_models_arrays(tmp_path, change, match):
    entries = linear_entries()
    if change == "duplicate":  # the second w would win: it must not be read at all
        entries.append(entry("w.npy", npy(np.array([3.0, 4.0]))))
    elif change == "unknown-array":
        entries.append(entry("extra.npy", npy(np.arange(3.0))))
    elif change == "unknown-file":
        entries.append(entry("README.txt", b"hello"))
    elif change == "missing":
        del entries[2]
    elif change == "no-header":
        del entries[0]
    elif change == "directory-entry":
        entries.append(entry("w/", b""))
    refused(write(tmp_path, archive(entries)), match)


def test_a_large_zip_directory_is_refused_before_it_is_read(tmp_path):
    entries = linear_entries() + [entry(f"x{i:05}.npy", b"") for i in range(2000)]
    path = write(tmp_path, archive(entries))
    refused(path, f"a zip directory of [0-9,]+ bytes", peak=MAX_DIRECTORY)


def test_a_member_declared_beyond_the_end_of_the_file_is_refused(tmp_path):
    entries = linear_entries()
    entries[1].compress_size = 1 << 20
    refused(write(tmp_path, archive(entries)), "declares sizes the file cannot hold")


def test_every_truncation_of_a_valid_file_is_refused(tmp_path):
    data = saved(gdcore.LinearModel(2))
    for n in range(len(data)):
        with pytest.raises(ValueError, match="model.gdm"):
            gdcore.load(write(tmp_path, data[:n]))


def test_every_byte_of_a_valid_file_flipped_gives_a_model_or_a_value_error(tmp_path):
    """Each byte in turn replaced by its complement: the file still loads (a byte
    of padding or of a date) or is refused with a ValueError, nothing else."""
    data = bytearray(saved(gdcore.MLP([2, 3, 1], random_state=0), metadata={"f": ["a", "b"]}))
    loaded = 0
    for i in range(len(data)):
        data[i] ^= 0xFF
        try:
            model = gdcore.load(write(tmp_path, bytes(data)))
        except ValueError as exc:
            assert "model.gdm" in str(exc)
        else:
            assert isinstance(model, gdcore.MLP) and np.all(np.isfinite(model.params))
            loaded += 1
        data[i] ^= 0xFF
    assert 0 < loaded < len(data) // 2


def test_a_model_class_that_cannot_describe_its_arrays_is_not_loaded(tmp_path):
    class Opaque(gdcore.Model):  # only the older hooks: its arrays cannot be checked first
        @classmethod
        def _from_state(cls, config, arrays):
            return cls()

    refused(linear_file(tmp_path, dict(GOOD, **{"class": "Opaque"})),
            "Opaque cannot be loaded.*_state_layout")


# --- files written by save load back ----------------------------------------------


def test_save_refuses_metadata_that_is_not_a_mapping(tmp_path):
    model = gdcore.LinearModel(2)
    for metadata in (5, "abc", [("a", 1)]):
        with pytest.raises(TypeError, match="metadata must be a mapping"):
            model.save(tmp_path / "m.gdm", metadata=metadata)


def test_save_refuses_metadata_it_could_not_read_back(tmp_path):
    model = gdcore.LinearModel(2)
    deep = nested = []
    for _ in range(100_000):
        nested.append([])
        nested = nested[0]
    with pytest.raises(ValueError, match="metadata must be JSON-able"):
        model.save(tmp_path / "m.gdm", metadata={"deep": deep})
    with pytest.raises(ValueError, match="too large to be read back"):
        model.save(tmp_path / "m.gdm", metadata={"deep": json.loads("[" * 100 + "]" * 100)})
    with pytest.raises(ValueError, match="too large to be read back"):
        model.save(tmp_path / "m.gdm", metadata={"big": "x" * MAX_HEADER_CHARS})
    metadata = {"deep": json.loads("[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)),
                "features": [f"feature {i}" for i in range(10_000)]}
    model.save(tmp_path / "m.gdm", metadata=metadata)
    assert gdcore.persist.read(tmp_path / "m.gdm")[1] == metadata


def test_a_deflated_archive_of_a_saved_model_loads(tmp_path):
    """save writes stored members; a file recompressed by a zip tool still loads."""
    net = gdcore.MLP([3, 4, 1], activation="relu", random_state=1)
    entries = [entry(e.name, e.data, DEFLATED) for e in entries_of(saved(net))]
    clone = gdcore.load(write(tmp_path, archive(entries, comment=b"recompressed")))
    np.testing.assert_array_equal(clone.params, net.params)
