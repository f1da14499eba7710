"""Model files built field by field, lies included, for the tests of gdcore.load on hostile files.

``archive(entries)`` writes a zip archive whose every declared field (method,
flags, CRC, sizes, version) is whatever the entries say, which zipfile's
writer would not allow; ``entries_of(data)`` takes a valid file apart into
such entries, so a test can change one field and rebuild it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import struct
import tempfile
import zipfile
import zlib
from typing import Any, List, Optional, Sequence

import numpy as np

import gdcore
from gdcore.persist import HEADER

STORED, DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED

GOOD = {"format": "gdcore-model", "version": 1, "class": "LinearModel",
        "config": {"n_features": 2, "dtype": "float64", "fit_intercept": True}, "metadata": {}}


@dataclasses.dataclass
class Entry:
    name: str
    data: bytes  # as stored in the archive: compressed for deflate
    method: int = STORED
    crc: int = 0
    file_size: int = 0  # the declared uncompressed size
    flags: int = 0
    version: int = 20  # the version needed to extract
    compress_size: Optional[int] = None  # the declared compressed size, if not len(data)


def entry(name: str, content: bytes, method: int = STORED, **lies: Any) -> Entry:
    """An honest entry for ``content``, but for the fields given in ``lies``."""
    data = deflate(content) if method == DEFLATED else content
    return dataclasses.replace(Entry(name, data, method, zlib.crc32(content), len(content)),
                               **lies)


def archive(entries: Sequence[Entry], comment: bytes = b"") -> bytes:
    out, directory = bytearray(), bytearray()
    for e in entries:
        name = e.name.encode("utf-8")
        compress_size = len(e.data) if e.compress_size is None else e.compress_size
        fields = (e.flags, e.method, 0, 0x21, e.crc, compress_size, e.file_size, len(name))
        directory += struct.pack(zipfile.structCentralDir, zipfile.stringCentralDir, 20, 3,
                                 e.version, 0, *fields, 0, 0, 0, 0, 0, len(out)) + name
        out += struct.pack(zipfile.structFileHeader, zipfile.stringFileHeader, e.version, 0,
                           *fields, 0) + name + e.data
    n = len(entries)
    end = struct.pack(zipfile.structEndArchive, zipfile.stringEndArchive, 0, 0, n, n,
                      len(directory), len(out), len(comment))
    return bytes(out + directory + end + comment)


def entries_of(data: bytes) -> List[Entry]:
    """A zip archive's members as entries, stored, in order (the file's own names)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [entry(info.filename, z.read(info)) for info in z.infolist()]


def npy(array: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=True)
    return buf.getvalue()


def npy_raw(header: str, data: bytes = b"", version: bytes = b"\1\0") -> bytes:
    """An .npy member with the header text given, as numpy would pad it."""
    text = header.encode("utf-8")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    size = len(text).to_bytes(2 if version == b"\1\0" else 4, "little")
    return b"\x93NUMPY" + version + size + text + data


def header_npy(header: Any) -> bytes:
    """The __gdcore__ member for a header dict (as JSON) or a header text."""
    return npy(np.array(header if isinstance(header, str) else json.dumps(header)))


def linear_entries(header: Any = GOOD, w: Any = (1.0, 2.0), b: Any = (0.5,)) -> List[Entry]:
    """A LinearModel file's entries: lists as float64, arrays as they are."""
    def array(x: Any) -> np.ndarray:
        return x if isinstance(x, np.ndarray) else np.array(x, dtype=np.float64)

    return [entry(f"{HEADER}.npy", header_npy(header)),
            entry("w.npy", npy(array(w))), entry("b.npy", npy(array(b)))]


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def deflate_bomb(prefix: bytes, zeros: int) -> bytes:
    """A raw deflate stream of ``prefix`` and then ``zeros`` zero bytes (a multiple of
    1 MiB), built in time and memory of about zeros / 1000: a flushed block holds no
    reference to what came before, so one block of zeros can be repeated."""
    mib = 1 << 20
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(mib)) + c.flush(zlib.Z_FULL_FLUSH)
    return first + block * (zeros // mib) + c.flush()


def saved(model: gdcore.Model, metadata: Optional[dict] = None) -> bytes:
    """The bytes of ``model.save``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/model.gdm"
        model.save(path, metadata=metadata)
        with open(path, "rb") as f:
            return f.read()
