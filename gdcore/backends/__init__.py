"""Backends: one interface (``_base.Backend``), three implementations.

``cython`` (compiled, the default), ``numpy`` (vectorised) and ``python``
(plain loops, the reference). Each computes a model's loss and gradient
sums over rows; the epoch loop around them is the same everywhere
(``gdcore.loop``, compiled in ``src/_loop.pyx``). The trainer looks one up
by name and never branches on which it got.
"""

from __future__ import annotations

from typing import Dict, List

from ._base import Backend
from .compiled import CompiledBackend
from .numpy import NumpyBackend
from .python import PythonBackend

_REGISTRY: Dict[str, Backend] = {
    b.name: b for b in (CompiledBackend(), NumpyBackend(), PythonBackend())
}


def backends() -> List[str]:
    """Names of the available backends, the default first.

    Returns
    -------
    list of str
        The names ``Trainer(backend=...)`` accepts: the compiled
        ``"cython"`` (the default), then ``"numpy"`` and ``"python"``.

    Examples
    --------
    >>> import gdcore
    >>> gdcore.backends()
    ['cython', 'numpy', 'python']
    """
    return list(_REGISTRY)


def get_backend(name: str) -> Backend:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"backend must be one of {backends()}, got {name!r}")
    return _REGISTRY[name]
