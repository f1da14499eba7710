"""gdcore: gradient descent done right, with compiled Cython kernels.

    >>> import numpy as np, gdcore
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0]]); y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> model = gdcore.LinearModel(n_features=1)
    >>> history = gdcore.Trainer(loss=gdcore.MSELoss(), tol=1e-10, epochs=10_000).fit(model, X, y)
    >>> round(float(model.w[0]), 6), round(model.b, 6)
    (1.0, 0.0)
"""

from . import optim
from .backends import backends
from .errors import ConditioningWarning, ConvergenceWarning, DivergenceError, FitInterrupted
from .gradcheck import gradient_check
from .history import History
from .linalg import closed_form
from .losses import HuberLoss, Loss, MAELoss, MSELoss
from .models import LinearModel, MLP, Model
from .paths import PenaltyPath, penalty_path
from .persist import load
from .trainer import Trainer

__version__ = "0.1.0"

__all__ = [
    "ConditioningWarning",
    "ConvergenceWarning",
    "DivergenceError",
    "FitInterrupted",
    "History",
    "HuberLoss",
    "LinearModel",
    "Loss",
    "MAELoss",
    "MLP",
    "MSELoss",
    "Model",
    "PenaltyPath",
    "Trainer",
    "backends",
    "closed_form",
    "gradient_check",
    "load",
    "optim",
    "penalty_path",
    "__version__",
]
