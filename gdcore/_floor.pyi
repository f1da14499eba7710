"""Type stub of gdcore._floor (source: src/_floor.pyx); _floor_v3 and _floor_v4 alike."""

from typing import Optional

import numpy as np
import numpy.typing as npt

def read_floor(X: npt.NDArray[np.floating], reps: int = 1,
               order: Optional[npt.NDArray[np.intp]] = None) -> float: ...
