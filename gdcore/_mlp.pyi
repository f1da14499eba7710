"""Type stub of the compiled module gdcore._mlp (source: src/_mlp.pyx).

Functions fused over float32/float64; arguments validated by the Python
layer (gdcore/backends/cython.py, gdcore/mlp.py).
"""

from typing import Any

def __getattr__(name: str) -> Any: ...
