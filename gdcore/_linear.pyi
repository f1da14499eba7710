"""Type stub of the compiled module gdcore._linear (source: src/_linear.pyx).

gdcore._linear_v3 and gdcore._linear_v4, the same source built for newer
ISAs (see gdcore/_dispatch.py), have the same interface.

The functions are Cython fused over float32/float64 (``floating``): X, y, w,
b, w_saved, path and out share one dtype per call. Arguments are trusted
(validated by the Python layer); see gdcore/backends/cython.py.
"""

import enum
from typing import Optional, Tuple

import numpy as np
import numpy.typing as npt

_Floats = npt.NDArray[np.floating]
_Doubles = npt.NDArray[np.float64]

class Status(enum.IntEnum):
    CONVERGED = 0
    MAX_EPOCHS = 1
    DIVERGED = 2
    PAUSED = 3

def run_epochs(kind: int, X: _Floats, y: _Floats, w: _Floats, b: _Floats, fit_intercept: bool,
               lr: float, epochs: int, stop_at: int, tol: float, blowup: float,
               batch_size: int, history: _Doubles, n_hist: int, w_saved: _Floats,
               saved: _Doubles, order: npt.NDArray[np.intp], rng: npt.NDArray[np.uint64],
               path: Optional[_Floats], report: _Doubles,
               n_threads: int = 1) -> Tuple[int, int]: ...
def loss_grad(kind: int, X: _Floats, y: _Floats, w: _Floats,
              b: float, n_threads: int = 1) -> Tuple[float, _Doubles, float]: ...
def loss_value(kind: int, y_true: _Floats, y_pred: _Floats) -> float: ...
def predict(X: _Floats, w: _Floats, b: float, out: _Floats) -> None: ...
def all_finite(values: _Floats) -> bool: ...
def curvature(X: _Floats, fit_intercept: bool, max_iter: int, rtol: float,
              seed: int) -> Tuple[float, float]: ...
def shuffled(n: int, seed: int, times: int) -> npt.NDArray[np.intp]: ...
def read_floor(X: _Floats, reps: int = 1, order: Optional[npt.NDArray[np.intp]] = None) -> float: ...
def cpu_level() -> int: ...
