"""Type stub of gdcore._scan and its ISA builds (source: src/_scan.pyx)."""

from typing import Optional

import numpy as np
import numpy.typing as npt

_Floats = npt.NDArray[np.floating]

def column_scan(X: _Floats, centre: bool, squares: bool = False,
                weights: Optional[npt.NDArray[np.float64]] = None) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def run_sums(X: _Floats, big: npt.NDArray[np.float64], shift: npt.NDArray[np.float64],
             square: bool) -> npt.NDArray[np.float64]: ...
def centred_gram(X: _Floats, big: npt.NDArray[np.float64], mean: npt.NDArray[np.float64],
                 weights: Optional[npt.NDArray[np.float64]] = None) -> npt.NDArray[np.float64]: ...
