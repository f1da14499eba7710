"""Back-propagated gradients against finite differences of the forward pass."""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional

import numpy as np

from ._validation import as_data
from .backends import get_backend
from .losses import Loss
from .models import LinearModel, MLP, Model


def gradient_check(model: Model, loss: Loss, X: Any, y: Any, backend: str = "cython",
                   step: Optional[float] = None) -> float:
    """Largest relative error between back-propagated and finite-difference gradients.

    Works in float64 on a copy of the parameters of ``model`` (an MLP, or a
    LinearModel, seen as the network [d, 1]), which is left untouched. For
    every parameter ``p_k`` the fourth-order central difference
    ``(8 (L(p + h e_k) - L(p - h e_k)) - (L(p + 2h e_k) - L(p - 2h e_k))) / (12 h)``,
    ``h = step * max(1, |p_k|)`` (step 1e-4 by default: its truncation error,
    ``O(h^4)``, and its rounding error, ``O(eps L / h)``, are both ~1e-12), is
    compared with the back-propagated ``dL/dp_k``; the relative error is
    ``|a - b| / max(|a|, |b|, 1e-8)``. The losses use the forward pass only.
    Kinks (relu at 0, MAE at a zero residual) within 2h of the parameters
    make finite differences meaningless there: check at points away from them.

    Parameters
    ----------
    model : MLP or LinearModel
        The model whose gradient is checked, at its current parameters.
    loss : Loss
        The loss whose gradient is checked.
    X : array-like, shape (n_samples, n_features) or (n_samples,)
        The features.
    y : array-like, shape (n_samples,)
        The targets.
    backend : {"cython", "numpy", "python"}
        Whose back-propagation to check.
    step : float in (0, 1), optional
        The relative step h (default 1e-4).

    Returns
    -------
    float
        The largest relative error over all parameters: about 1e-9 when
        back-propagation is right. Where an exact gradient is zero (by a
        symmetry of the data, say) the relative error measures only the
        rounding of the differences, and can reach 1e-4.

    Raises
    ------
    ValueError
        The loss is not finite at or near the parameters, or ``step`` is out
        of range; bad data as for ``Trainer.fit``.
    TypeError
        ``model`` or ``loss`` is not a gdcore one.

    Examples
    --------
    >>> import numpy as np, gdcore
    >>> x = np.linspace(-2.0, 3.0, 50)
    >>> net = gdcore.MLP([1, 8, 1], activation="tanh", random_state=0)
    >>> bool(gdcore.gradient_check(net, gdcore.MSELoss(), x, np.sin(x)) < 1e-7)
    True
    """
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a gdcore loss such as MSELoss(), got {loss!r}")
    if isinstance(model, MLP):
        sizes, activation = model.layer_sizes, model.activation
    elif isinstance(model, LinearModel):
        sizes, activation = (model.n_features, 1), "identity"
    else:
        raise TypeError(f"model must be an MLP or a LinearModel, got {type(model).__name__}")
    impl = get_backend(backend)
    Xc, yc = as_data(X, y, np.dtype(np.float64))
    model._check_features(Xc)
    h0 = 1e-4 if step is None else step
    if not (isinstance(h0, numbers.Real) and not isinstance(h0, bool) and 0 < h0 < 1
            and math.isfinite(h0)):
        raise ValueError(f"step must be a number in (0, 1), got {step!r}")
    p = np.array(model.params, dtype=np.float64)
    total, grad = impl.mlp(loss, Xc, yc, sizes, activation).sums(p)
    grad = grad / Xc.shape[0]
    if not (math.isfinite(total) and np.all(np.isfinite(grad))):
        raise ValueError(f"the loss or its gradient is not finite at the model's parameters "
                         f"(loss sum {total}): there is nothing to check")

    def value(q: np.ndarray) -> float:
        with np.errstate(over="ignore", invalid="ignore"):
            v = float(np.mean(loss.terms(impl.predict_mlp(Xc, q, sizes, activation) - yc)))
        if not math.isfinite(v):
            raise ValueError(f"the loss is not finite ({v}) a step of {h0:g} from the "
                             "model's parameters: finite differences cannot check it there")
        return v

    worst = 0.0
    for k in range(p.size):
        h = h0 * max(1.0, abs(p[k]))
        shifted = []
        for t in (h, -h, 2 * h, -2 * h):
            q = p.copy()
            q[k] += t
            shifted.append(value(q))
        fd = (8 * (shifted[0] - shifted[1]) - (shifted[2] - shifted[3])) / (12 * h)
        worst = max(worst, abs(fd - grad[k]) / max(abs(fd), abs(grad[k]), 1e-8))
    return worst
