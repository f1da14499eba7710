"""Saving and loading models in a safe format: an .npz archive, no pickle.

A model file is a NumPy ``.npz`` (zip) archive holding

* ``__gdcore__``: a JSON document, stored as a 0-d unicode array, with
  ``{"format": "gdcore-model", "version": 1, "class": <model class name>,
  "config": {...}, "metadata": {...}}``;
* one numeric array per entry of the model's ``_state()`` arrays.

It is read with ``numpy.load(..., allow_pickle=False)`` and ``json.loads``,
and the model is rebuilt by the registered class's ``_from_state``, which
validates shapes and values: loading never executes code from the file. A
file that is not such an archive, or whose contents do not make a valid
model, raises ValueError naming the file.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np

from .models import MODEL_CLASSES, Model

FORMAT = "gdcore-model"
VERSION = 1
HEADER = "__gdcore__"

PathLike = Union[str, "os.PathLike[str]"]


def save(model: Model, path: PathLike, metadata: Optional[Mapping[str, Any]] = None) -> None:
    """Write ``model`` to ``path`` (see the module docstring for the format).

    Parameters
    ----------
    model : Model
        Any gdcore model (LinearModel, or a model class implementing the
        ``_state`` / ``_from_state`` hooks).
    path : str or path-like
        Written as given (no extension is added).
    metadata : mapping, optional
        JSON-able extra information stored with the model.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a gdcore model, got {type(model).__name__}")
    config, arrays = model._state()
    header = {"format": FORMAT, "version": VERSION, "class": model._registry_name,
              "config": config, "metadata": dict(metadata or {})}
    try:
        text = json.dumps(header, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be JSON-able: {exc}") from exc
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
    if os.path.exists(name) and not zipfile.is_zipfile(name):
        raise ValueError(f"{name}: not a gdcore model file (not an .npz archive)")
    try:
        with np.load(name, allow_pickle=False) as archive:
            if HEADER not in archive.files:
                raise ValueError("no gdcore header")
            header = json.loads(str(archive[HEADER][()]))
            arrays = {key: archive[key] for key in archive.files if key != HEADER}
    except FileNotFoundError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError, TypeError) as exc:
        raise ValueError(f"{name}: not a gdcore model file ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{name}: not a gdcore model file (wrong format tag)")
    if header.get("version") != VERSION:
        raise ValueError(f"{name}: unsupported gdcore model file version {header.get('version')!r}")
    cls = MODEL_CLASSES.get(str(header.get("class")))
    if cls is None:
        raise ValueError(f"{name}: unknown model class {header.get('class')!r} "
                         f"(known: {sorted(MODEL_CLASSES)})")
    for key, arr in arrays.items():
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name}: array {key!r} is not numeric (dtype {arr.dtype})")
    config, metadata = header.get("config"), header.get("metadata", {})
    if not isinstance(config, dict) or not isinstance(metadata, dict):
        raise ValueError(f"{name}: malformed gdcore model file (config or metadata)")
    try:
        model = cls._from_state(config, arrays)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{name}: invalid {cls.__name__} in the file: {exc}") from None
    return model, metadata


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
    """
    return read(path)[0]
