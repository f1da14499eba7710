"""Type stub of gdcore._pass_mlp (source: src/_pass_mlp.pyx)."""

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

_Floats = npt.NDArray[np.floating]
_Doubles = npt.NDArray[np.float64]

ACTIVATIONS: Dict[str, int]

class MLPObjective:
    dtype: np.dtype
    def __init__(self, loss: str, e: float, X: _Floats, y: _Floats, sizes: Sequence[int],
                 activation: str, sample_weight: Optional[_Floats] = None) -> None: ...
    def capsule(self) -> Any: ...
    def sums(self, params: _Floats) -> Tuple[float, _Doubles]: ...
    def loss_sum(self, params: _Floats) -> float: ...

def predict(X: _Floats, params: _Floats, sizes: npt.NDArray[np.intp], activation: str,
            out: _Floats) -> None: ...
