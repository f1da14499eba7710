"""Saving and loading models in a safe format: an .npz archive, no pickle.

A model file is a NumPy ``.npz`` (zip) archive holding

* ``__gdcore__.npy``: a JSON document, stored as a 0-d unicode array, with
  ``{"format": "gdcore-model", "version": 1, "class": <model class name>,
  "config": {...}, "metadata": {...}}``;
* one ``<name>.npy`` numeric array per entry of the model's ``_state()`` arrays;
* with ``save(..., trainer=...)``, the optimizer state the trainer would continue
  from (``gdcore.continued``): the header's ``"continuation"`` (the optimizer's
  class name, the coordinates' layout, the epochs run, the random stream's state)
  and the arrays ``__state__`` (float64), ``__order__`` (int64, the mini-batch
  row order, if any) and ``__scale__``, ``__shift__`` (float64, the coordinates).

Model files come from strangers, so ``read`` trusts nothing in them and reads
the archive itself, with ``zipfile`` and a strict parser of .npy headers
(never ``numpy.load``, never pickle). It reads a regular file only (a FIFO
would block it forever), with a small zip directory and stored or deflated
members only; first the JSON header, bounded in size and nesting, whose
config gives the names, dtype and shapes of the arrays the model needs
(``Model._state_layout``, which refuses models too large for memory); then
each array, its member's declared size and .npy header checked against them
before a byte of data is read, and its data read in chunks. The model is
rebuilt by the class's ``_from_state``, which validates the values: whatever
is wrong with a file, ``read`` raises ValueError naming the file, in time
and memory bounded by the file and by the model its header describes.
"""

from __future__ import annotations

import json
import math
import os
import re
import reprlib
import stat
import zipfile
import zlib
from typing import IO, Any, Callable, Dict, Mapping, Optional, Tuple, Type, Union

import numpy as np

from ._validation import physical_memory
from .models import MODEL_CLASSES, Model

FORMAT = "gdcore-model"
VERSION = 1
HEADER = "__gdcore__"

#: Limits on what a model file may declare, checked before it is read. A model
#: has a few members and a small header (metadata is for column names and the like).
MAX_HEADER_CHARS = 1 << 22  # the JSON header; save refuses to write a larger one
MAX_DEPTH = 64  # nesting of the JSON header: json's parser recurses once per level
MAX_DIRECTORY = 1 << 16  # bytes of the zip directory, which zipfile reads whole
MAX_NPY_HEADER = 1 << 12  # bytes of a member's .npy header (numpy writes 128)
_CHUNK = 1 << 20  # bytes of a member read at once
_DEFLATE_RATIO = 1032  # deflate never expands data more than this

PathLike = Union[str, "os.PathLike[str]"]


def save(model: Model, path: PathLike, metadata: Optional[Mapping[str, Any]] = None,
         trainer: Any = None) -> None:
    """Write ``model`` to ``path`` (see the module docstring for the format).

    Parameters
    ----------
    model : Model
        Any gdcore model (LinearModel, or a model class implementing the
        ``_state`` / ``_state_layout`` / ``_from_state`` hooks).
    path : str or path-like
        Written as given (no extension is added).
    metadata : mapping, optional
        JSON-able extra information stored with the model, at most
        ``MAX_HEADER_CHARS`` characters and ``MAX_DEPTH`` levels deep as JSON.
    trainer : gdcore.Trainer, optional
        Also store the optimizer state with which it fitted ``model`` last.

    Raises
    ------
    TypeError
        ``model`` is not a gdcore model, or ``metadata`` not a mapping.
    ValueError
        ``metadata`` is not JSON-able, or too large to be read back; ``trainer``
        has not fitted ``model``.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a gdcore model, got {type(model).__name__}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping (such as a dict) or None, "
                        f"got {type(metadata).__name__}")
    config, arrays = model._state()
    header = {"format": FORMAT, "version": VERSION, "class": model._registry_name,
              "config": config, "metadata": dict(metadata or {})}
    if trainer is not None:
        header["continuation"], extra = _continuation(trainer, model)
        arrays = {**arrays, **extra}
    try:
        text = json.dumps(header, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise ValueError(f"metadata must be JSON-able: {exc}") from exc
    if len(text) > MAX_HEADER_CHARS or _json_depth(text) > MAX_DEPTH:
        raise ValueError(f"metadata is too large to be read back: a model file's header is "
                         f"at most {MAX_HEADER_CHARS:,} characters and {MAX_DEPTH} levels "
                         f"deep as JSON")
    if HEADER in arrays:
        raise ValueError(f"{HEADER!r} is reserved and cannot name a model array")
    payload: Dict[str, Any] = {HEADER: np.array(text), **arrays}
    with open(path, "wb") as f:  # a file object: numpy adds no .npz suffix
        np.savez(f, **payload)


def read(path: PathLike) -> Tuple[Model, Dict[str, Any]]:
    """Load a model file: ``(model, metadata)``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not a gdcore model file, or its contents are invalid.
    """
    name = os.fspath(path)
    f, size = _open_regular(name)
    try:
        with f, _archive(f) as archive:
            return _read_archive(archive, size)
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:  # as zipfile and zlib see it
        raise ValueError(f"{name}: not a gdcore model file (corrupt archive: {exc})") from None
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def load(path: PathLike) -> Model:
    """Load a model saved by ``model.save(path)``; never executes code from the file.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    Model
        A new model of the saved class, with the saved parameters.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is corrupt, foreign, or does not hold a valid model (the
        message names the file).

    Examples
    --------
    >>> import gdcore
    >>> model = gdcore.LinearModel(2)
    >>> model.w, model.b = [1.5, -2.0], 0.25
    >>> model.save("model.gdm")
    >>> same = gdcore.load("model.gdm")
    >>> same.w, same.b
    (array([ 1.5, -2. ]), 0.25)
    """
    return read(path)[0]


# --- the file and the archive -----------------------------------------------------


def _open_regular(name: Any) -> Tuple[IO[bytes], int]:
    """The file open for reading, and its size, if it is a regular file that could hold
    a model: a FIFO would block the open or the reads forever, a device never end."""
    _check_regular(name, os.stat(name))
    # non-blocking: a FIFO put in the file's place after the check cannot block the open
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    f = os.fdopen(fd, "rb")
    try:
        st = os.fstat(fd)
        _check_regular(name, st)
    except BaseException:
        f.close()
        raise
    return f, st.st_size


def _check_regular(name: Any, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else
                "a FIFO" if stat.S_ISFIFO(st.st_mode) else "not a regular file")
        raise ValueError(f"{name}: not a gdcore model file ({kind})")
    # models refuse to need more than this machine's memory (check_model_size)
    limit = physical_memory() or 1 << 40
    if st.st_size > limit:
        raise ValueError(f"{name}: not a gdcore model file ({st.st_size:,} bytes, larger than "
                         f"any model this machine could hold)")


def _archive(f: IO[bytes]) -> zipfile.ZipFile:
    """The zip archive in ``f``, its directory checked small before zipfile reads it whole
    (with zipfile's own reader of the end record: the sizes zipfile will use)."""
    end_record: Any = getattr(zipfile, "_EndRecData", None)  # private: absent, zipfile alone
    if end_record is not None:
        try:
            end = end_record(f)
        except OSError:  # what zipfile.ZipFile makes of it too
            end = None
        if not end:
            raise ValueError("not a gdcore model file (not an .npz archive)")
        directory = end[getattr(zipfile, "_ECD_SIZE")]
        if directory > MAX_DIRECTORY:
            raise ValueError(f"not a gdcore model file (a zip directory of {directory:,} bytes)")
    try:
        return zipfile.ZipFile(f)
    except (zipfile.BadZipFile, NotImplementedError) as exc:  # a zip feature zipfile lacks
        raise ValueError(f"not a gdcore model file (not an .npz archive: {exc})") from None


_UNREADABLE_FLAGS = 0x1 | 0x20 | 0x40  # encrypted, patch data, strong encryption


def _members(archive: zipfile.ZipFile, size: int) -> Dict[str, zipfile.ZipInfo]:
    """The archive's members by array name, each checked before any is decompressed: a
    method zipfile reads, and sizes the file can hold (a lying size would be a bomb)."""
    members: Dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        key = info.filename[:-4]
        if not info.filename.endswith(".npy") or key in members:
            raise ValueError(f"not a gdcore model file (unexpected or repeated member "
                             f"{reprlib.repr(info.filename)})")
        if info.flag_bits & _UNREADABLE_FLAGS:
            raise ValueError(f"not a gdcore model file ({info.filename} is encrypted)")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"not a gdcore model file ({info.filename} is compressed with "
                             f"method {info.compress_type}: only stored and deflate are read)")
        expands = 1 if info.compress_type == zipfile.ZIP_STORED else _DEFLATE_RATIO
        if (not 0 <= info.header_offset <= size - info.compress_size
                or info.file_size > expands * info.compress_size + 64):
            raise ValueError(f"not a gdcore model file ({info.filename} declares sizes the "
                             f"file cannot hold)")
        members[key] = info
    return members


def _read_archive(archive: zipfile.ZipFile, size: int) -> Tuple[Model, Dict[str, Any]]:
    members = _members(archive, size)
    if HEADER not in members:
        raise ValueError("not a gdcore model file (no gdcore header)")
    cls, config, metadata, continuation = _read_header(archive, members.pop(HEADER))
    dtype, shapes = _checked(cls, cls._state_layout, config)
    extra = {key: members.pop(key) for key in CONTINUATION_ARRAYS if key in members}
    if set(members) != set(shapes):
        raise ValueError(f"invalid {cls.__name__} in the file: it needs the arrays "
                         f"{sorted(shapes)}, the file holds {reprlib.repr(sorted(members))}")
    arrays = {key: _read_array(archive, members[key], dtype, shape, cls)
              for key, shape in shapes.items()}
    model = _checked(cls, cls._from_state, config, arrays)
    if continuation is not None or extra:
        model._loaded_stream = _read_continuation(archive, continuation, extra, model)
    return model, metadata


def _checked(cls: Type[Model], hook: Callable[..., Any], *args: Any) -> Any:
    """A model hook's result; its complaints about the file's contents as ValueError."""
    try:
        return hook(*args)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid {cls.__name__} in the file: {exc}") from None


# --- the header -------------------------------------------------------------------


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Tuple[
        Type[Model], Dict[str, Any], Dict[str, Any], Optional[Dict[str, Any]]]:
    """The model class, config, metadata and continuation the JSON header names."""
    def accept(dtype: np.dtype, shape: Tuple[int, ...]) -> None:
        if dtype.kind != "U" or shape != () or dtype.itemsize > 4 * MAX_HEADER_CHARS:
            raise ValueError(f"not a gdcore model file (its header is {shape} of {dtype}, "
                             f"not text of at most {MAX_HEADER_CHARS:,} characters)")

    dtype, data = _read_npy(archive, info, accept, 4 * MAX_HEADER_CHARS)
    try:
        text = data.tobytes().decode("utf-32-be" if dtype.str[0] == ">" else "utf-32-le")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not a gdcore model file (its header is not text: {exc})") from None
    header = _parse_json(text.rstrip("\0"))  # numpy's strings end at their first trailing NUL
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError("not a gdcore model file (wrong format tag)")
    if header.get("version") != VERSION:
        raise ValueError(f"unsupported gdcore model file version "
                         f"{reprlib.repr(header.get('version'))}")
    name = header.get("class")
    cls = MODEL_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown model class {reprlib.repr(name)} "
                         f"(known: {sorted(MODEL_CLASSES)})")
    if getattr(cls._state_layout, "__func__", None) is getattr(Model._state_layout, "__func__"):
        raise ValueError(f"model class {name} cannot be loaded: it does not say which "
                         f"arrays its files hold (Model._state_layout)")
    config, metadata = header.get("config"), header.get("metadata", {})
    continuation = header.get("continuation")
    if (not isinstance(config, dict) or not isinstance(metadata, dict)
            or not isinstance(continuation, (dict, type(None)))):
        raise ValueError("malformed gdcore model file (config, metadata or continuation)")
    return cls, config, metadata, continuation


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENING, _CLOSING = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


def _json_depth(text: str) -> int:
    """How deep a JSON text nests, counted without recursion, so that json.loads is
    never given a text deep enough to exhaust the stack."""
    skeleton = np.frombuffer(_JSON_STRING.sub("", text).encode("ascii", "replace"), np.uint8)
    steps = np.isin(skeleton, _OPENING).astype(np.int8) - np.isin(skeleton, _CLOSING)
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def _parse_json(text: str) -> Any:
    if _json_depth(text) > MAX_DEPTH:
        raise ValueError(f"not a gdcore model file (its header nests deeper than "
                         f"{MAX_DEPTH} levels)")
    try:
        return json.loads(text, parse_int=_json_int, parse_float=_json_float,
                          parse_constant=_json_constant)
    except ValueError as exc:
        raise ValueError(f"not a gdcore model file (its header is not valid JSON: {exc})") \
            from None


def _json_int(digits: str) -> int:
    if len(digits) > 19:  # sizes and counts: no model is that large
        raise ValueError(f"the integer {digits[:20]}... is too large")
    return int(digits)


def _json_float(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):
        raise ValueError(f"the number {digits[:20]} overflows")
    return value


def _json_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number save writes")


# --- the optimizer state saved with a model --------------------------------------

CONTINUATION_ARRAYS = ("__state__", "__order__", "__scale__", "__shift__")
_COUNTERS = 8  # the optimizer state's scalars (gdcore._loop.COUNTERS)


def _continuation(trainer: Any, model: Model) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """The header entry and arrays of the stream with which ``trainer`` fitted ``model``."""
    from .continued import Stream
    stream = Stream.of(getattr(trainer, "_stream", None), model)
    if stream is None:
        raise ValueError("trainer has not fitted this model: there is no optimizer state "
                         "to save with it")
    pre = stream.precondition
    header = {"optimizer": stream.optimizer, "n_free": stream.n_free,
              "slots": (stream.state.array.shape[0] - _COUNTERS) // max(stream.n_free, 1)
              - (pre is not None),
              "coordinates": None if pre is None else bool(pre.intercept),
              "epochs": stream.epochs, "rng": format(stream.rng, "x"),
              "rows": 0 if stream.order is None else int(stream.order.shape[0])}
    arrays = {"__state__": stream.state.array.copy()}
    if stream.order is not None:
        arrays["__order__"] = stream.order.astype(np.int64)
    if pre is not None:
        arrays["__scale__"], arrays["__shift__"] = pre.scale, pre.shift
    return header, arrays


def _read_continuation(archive: zipfile.ZipFile, header: Optional[Dict[str, Any]],
                       members: Dict[str, zipfile.ZipInfo], model: Model) -> Any:
    """The Stream a model file saved, every value checked against the model it continues."""
    from .continued import Stream
    from .loop import Precondition
    from .optim import State

    def bad(what: str) -> ValueError:
        return ValueError(f"invalid optimizer state in the file: {what}")

    def integer(key: str, low: int, high: int) -> int:
        value = header.get(key) if header is not None else None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise bad(f"{key} must be an integer in [{low}, {high}], got {reprlib.repr(value)}")
        return value

    if header is None or "__state__" not in members:
        raise bad("its header entry and its arrays come together")
    p = model.params.shape[0]
    name, rng = header.get("optimizer"), header.get("rng")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z]{1,32}", name):
        raise bad(f"optimizer must be a class name, got {reprlib.repr(name)}")
    if not isinstance(rng, str) or not re.fullmatch(r"[0-9a-f]{1,16}", rng):
        raise bad(f"rng must be at most 16 hexadecimal digits, got {reprlib.repr(rng)}")
    n_free, slots = integer("n_free", 0, p), integer("slots", 0, 3)
    epochs = integer("epochs", 0, 1 << 62)
    intercept = header.get("coordinates")
    if intercept is not None and not isinstance(intercept, bool):
        raise bad(f"coordinates must be true, false or null, got {reprlib.repr(intercept)}")
    n_coords = 0 if intercept is None else n_free
    state = _read_array(archive, members["__state__"], np.dtype(np.float64),
                        (n_coords + slots * n_free + _COUNTERS,), type(model))
    if not np.all(np.isfinite(state[:n_coords + slots * n_free])):
        raise bad("its vectors are not finite")
    pre = None
    if intercept is not None:
        if "__scale__" not in members or "__shift__" not in members or n_free != p - 1 + intercept:
            raise bad("coordinates need a scale and shift for each weight")
        scale, shift = (_read_array(archive, members[k], np.dtype(np.float64), (p - 1,),
                                    type(model)) for k in ("__scale__", "__shift__"))
        if not (np.all(np.isfinite(scale)) and np.all(scale > 0) and np.all(np.isfinite(shift))):
            raise bad("its scales must be positive and finite, its shifts finite")
        pre = Precondition(scale, shift, shift / scale, intercept)
    order = None
    rows = integer("rows", 0, (physical_memory() or 1 << 40) // 8)
    if ("__order__" in members) != (rows > 0):
        raise bad("a row order comes with its number of rows")
    if rows:
        order = _read_array(archive, members["__order__"], np.dtype(np.int64), (rows,),
                            type(model)).astype(np.intp)
        if not np.array_equal(np.sort(order), np.arange(rows)):
            raise bad("its row order is not a permutation of the rows")
    holder = State(tuple(f"slot{k}" for k in range(slots)), n_free, intercept is not None)
    holder.array[:] = state  # the layout's; the continuing fit copies it into its optimizer's
    return Stream(model, None, holder, name, n_free, pre, epochs=epochs, rng=int(rng, 16),
                  order=order, params=model.params.copy())


# --- the arrays -------------------------------------------------------------------


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dtype: np.dtype,
                shape: Tuple[int, ...], cls: Type[Model]) -> np.ndarray:
    """The array in ``info``, which must have ``shape`` and numbers of ``dtype``'s kind
    (floats or integers) and size."""
    def accept(found: np.dtype, found_shape: Tuple[int, ...]) -> None:
        if found.kind != dtype.kind or found.itemsize != dtype.itemsize or found_shape != shape:
            raise ValueError(f"invalid {cls.__name__} in the file: {info.filename} holds "
                             f"{found} of shape {found_shape}, its config says {dtype} of "
                             f"shape {shape}")

    found, data = _read_npy(archive, info, accept, math.prod(shape) * dtype.itemsize)
    return data.view(found).reshape(shape)


_NPY_MAGIC = b"\x93NUMPY"
# the dict numpy writes (its keys sorted), spaces and last comma optional; fortran_order is
# False for every array of a model file (0-d and 1-D)
_NPY_DICT = re.compile(r"\{\s*'descr':\s*'([<>|=]?[biufcOSUV]\d{0,9})',"
                       r"\s*'fortran_order':\s*False,"
                       r"\s*'shape':\s*\(\s*((?:\d{1,19}\s*,\s*)*(?:\d{1,19}\s*)?)\)\s*,?\s*\}\s*")


def _npy_header(text: str) -> Optional[Tuple[np.dtype, Tuple[int, ...]]]:
    """The dtype and shape an .npy header says, or None if it is not the plain dict numpy
    writes (numpy's own parser evaluates Python literals, which crafted text can make
    raise SyntaxError, MemoryError or RecursionError)."""
    match = _NPY_DICT.fullmatch(text)
    if match is None:
        return None
    try:
        dtype = np.dtype(match.group(1))
    except TypeError:  # letters and digits that name no dtype
        return None
    return dtype, tuple(int(n) for n in match.group(2).replace(",", " ").split())


def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo,
              accept: Callable[[np.dtype, Tuple[int, ...]], None],
              limit: int) -> Tuple[np.dtype, np.ndarray]:
    """The dtype and raw bytes of an .npy member of at most ``limit`` bytes of data.

    Its declared size is checked before it is decompressed; its header, bounded
    and parsed strictly, is checked by ``accept`` before its data is read; its
    data is read in chunks, exactly as many bytes as the header says.
    """
    if info.file_size > 12 + MAX_NPY_HEADER + limit:
        raise ValueError(f"not a gdcore model file ({info.filename} declares "
                         f"{info.file_size:,} bytes, more than its array can need)")
    with archive.open(info) as member:
        prefix = member.read(10)
        version = prefix[6:8]
        if prefix[:6] != _NPY_MAGIC or version not in (b"\1\0", b"\2\0", b"\3\0"):
            raise ValueError(f"not a gdcore model file ({info.filename} is not an .npy array)")
        if version != b"\1\0":
            prefix += member.read(2)
        length = int.from_bytes(prefix[8:], "little")
        text = member.read(length).decode("latin-1") if length <= MAX_NPY_HEADER else ""
        parsed = _npy_header(text) if len(text) == length else None
        if parsed is None:
            raise ValueError(f"not a gdcore model file ({info.filename} has no plain .npy "
                             f"header: {reprlib.repr(text or prefix)})")
        dtype, shape = parsed
        if dtype.hasobject:
            raise ValueError(f"not a gdcore model file ({info.filename} holds Python objects, "
                             f"which are never loaded)")
        accept(dtype, shape)
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size != len(prefix) + length + nbytes:
            raise ValueError(f"not a gdcore model file ({info.filename} declares "
                             f"{info.file_size:,} bytes, its .npy header "
                             f"{len(prefix) + length + nbytes:,})")
        data = np.empty(nbytes, np.uint8)
        done = 0
        while done < nbytes:
            chunk = member.read(min(_CHUNK, nbytes - done))
            if not chunk:
                raise ValueError(f"not a gdcore model file ({info.filename} is truncated)")
            data[done:done + len(chunk)] = np.frombuffer(chunk, np.uint8)
            done += len(chunk)
        if member.read(1):
            raise ValueError(f"not a gdcore model file ({info.filename} holds more data than "
                             f"its header says)")
    return dtype, data
