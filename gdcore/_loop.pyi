"""Type stub of gdcore._loop (source: src/_loop.pyx), the compiled epoch loop."""

from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

_Floats = npt.NDArray[np.floating]
_Doubles = npt.NDArray[np.float64]

STATUS: Dict[int, str]
OPTIMIZERS: Dict[str, int]
SCHEDULES: Dict[str, int]
COUNTERS: Tuple[str, ...]

class Run:
    n_slots: int
    def __init__(self, objective: Any, params: _Floats, state: _Doubles, *,
                 optimizer: Dict[str, Any], schedule: Dict[str, Any], n_slots: int,
                 precondition: Optional[Tuple[Any, Any, Any, bool]], n_free: int, epochs: int,
                 batch_size: int, seed: int, abs_tol: float, rel_tol: float, rel_len: int,
                 patience: int, blowup: float, record_path: bool, max_records: int,
                 blowup_floor: float = ..., error_map: Optional[np.ndarray] = ...,
                 coords_abs_tol: float = ...,
                 penalty: Optional[Tuple[Any, Any, Any, Any, bool]] = ...,
                 first_epoch: int = ..., order: Optional[np.ndarray] = ...,
                 shuffle: Union[str, bool] = ..., block: int = ...,
                 initial_capacity: int = ...) -> None: ...
    @property
    def n_epochs(self) -> int: ...
    @property
    def last_loss(self) -> float: ...
    def advance(self, epochs: int) -> Optional[Tuple[str, float, float]]: ...
    def records(self) -> Tuple[_Doubles, Optional[_Floats], int]: ...
    def evaluate(self) -> Tuple[float, float, float]: ...
    @property
    def stream(self) -> Tuple[int, Optional[np.ndarray]]: ...
    def converged_at(self, norm: float) -> bool: ...
    def batches(self, rows: np.ndarray, epoch: int, loss_sum: float,
                grad_sum: np.ndarray) -> Tuple[float, _Doubles, bool]: ...
    @property
    def steps_per_epoch(self) -> float: ...
    @steps_per_epoch.setter
    def steps_per_epoch(self, steps: float) -> None: ...

def optimizer_step(optimizer: Dict[str, Any], x: _Floats, g: _Doubles, state: _Doubles,
                   n_slots: int, lr: float, prox: Optional[Tuple[Any, Any]] = None) -> None: ...
def schedule_factor(schedule: Dict[str, Any], counters: _Doubles, epoch: float,
                    steps_per_epoch: float, loss: Optional[float] = None) -> float: ...
