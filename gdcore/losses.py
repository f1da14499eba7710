"""Loss functions: a value for (y_true, y_pred) and a gradient for a model.

The arithmetic lives in the backends (one formula per backend); a loss
object only names which one and validates what the user passes.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from ._validation import as_data, as_target
from .backends import get_backend
from .backends._base import MAE, MSE


class Loss:
    kind: int
    name: str

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """The mean loss over the samples."""
        yt = as_target(y_true, np.dtype(np.float64), "y_true")
        yp = as_target(y_pred, np.dtype(np.float64), "y_pred")
        if yt.shape != yp.shape:
            raise ValueError(f"y_true and y_pred have different lengths: {yt.shape[0]} and {yp.shape[0]}")
        return get_backend("cython").loss_value(self.kind, yt, yp)

    def gradient(self, model: Any, X: Any, y: Any, backend: str = "cython") -> Tuple[np.ndarray, float]:
        """``(dL/dw, dL/db)`` of the loss of ``model`` on ``(X, y)``.

        For an MLP: ``(dL/dweights, dL/dbiases)``, lists of arrays layer by layer.
        """
        impl = get_backend(backend)
        Xc, yc = as_data(X, y, model.dtype)
        if Xc.shape[1] != model.n_features:
            raise ValueError(f"X has {Xc.shape[1]} features but the model has {model.n_features}")
        if hasattr(model, "_gradient"):
            return model._gradient(impl, self.kind, Xc, yc)
        _, gw, gb = impl.loss_grad(self.kind, Xc, yc, model.w, model.b)
        return gw, gb

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class MSELoss(Loss):
    """Mean squared error: L = (1/N) sum (y_i - y_hat_i)^2."""

    kind = MSE
    name = "mse"


class MAELoss(Loss):
    """Mean absolute error: L = (1/N) sum |y_i - y_hat_i|, subgradient with sign(0) = 0."""

    kind = MAE
    name = "mae"
