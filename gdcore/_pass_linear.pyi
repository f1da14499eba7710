"""Type stub of gdcore._pass_linear (source: src/_pass_linear.pyx).

gdcore._pass_linear_v3 and gdcore._pass_linear_v4, the same source built for
newer ISAs (see gdcore/_dispatch.py), have the same interface. Functions are
fused over float32/float64: the arrays of one call share one dtype.
"""

from typing import Any, Optional, Tuple

import numpy as np
import numpy.typing as npt

_Floats = npt.NDArray[np.floating]
_Doubles = npt.NDArray[np.float64]

class LinearObjective:
    dtype: np.dtype
    n_threads: int
    def __init__(self, loss: str, e: float, X: _Floats, y: _Floats, n_threads: int = 1,
                 sample_weight: Optional[_Floats] = None) -> None: ...
    def capsule(self) -> Any: ...
    def sums(self, params: _Floats, rows: Optional[npt.ArrayLike] = None) -> Tuple[float, _Doubles]: ...
    def chunk_sums(self, params: _Floats, first: int = 0,
                   count: Optional[int] = None) -> _Doubles: ...
    def loss_sum(self, params: _Floats) -> float: ...
    def batch_sums(self, params: _Floats, order: npt.NDArray[np.intp], first: int,
                   count: int) -> Tuple[float, _Doubles]: ...

class BlockObjective:
    dtype: np.dtype
    def __init__(self, source: Any, X: _Floats, y: _Floats, batch_X: _Floats, batch_y: _Floats,
                 shuffled: LinearObjective, in_order: Optional[LinearObjective] = None,
                 pad: int = 0) -> None: ...
    def capsule(self) -> Any: ...
    def reraise(self) -> None: ...

def predict(X: _Floats, params: _Floats, out: _Floats) -> None: ...
def curvature(X: _Floats, fit_intercept: bool, max_iter: int, rtol: float,
              seed: int) -> Tuple[float, float]: ...
