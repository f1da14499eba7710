"""Multi-layer perceptrons: dense networks fitted by back-propagation.

A network is a list of layer sizes ``[n_features, h_1, ..., h_k, 1]``: dense
layers, one activation on every hidden layer, a linear output. Its
parameters live in one flat array (weights ``W_l`` of shape (n_l, n_{l+1})
then biases ``b_l``, layer by layer; see ``gdcore/backends/_network.py``);
``weights`` and ``biases`` are views into it, so the kernels update them in
place. The same ``Trainer`` fits it as it fits a ``LinearModel``.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._dispatch import pass_mlp
from .._validation import (as_features, as_parameter, check_dtype, check_model_size,
                           check_random_state)
from ..backends import get_backend
from ..backends._base import Backend
from ..backends._network import layer_slices, n_params
from ..backends.numpy import forward
from ..curvature import auto_lr, needs_row_curvature, raw_curvature
from ..losses import Loss
from ..loop import Objective
from .base import Arrays, Config, Model, config_dtype, config_fields

#: The hidden-layer activations (their names in the compiled pass).
ACTIVATIONS = tuple(pass_mlp.ACTIVATIONS)


class MLP(Model):
    """A multi-layer perceptron ``[n_features, hidden..., 1]`` for regression.

    Parameters
    ----------
    layer_sizes : sequence of int
        At least two integers >= 1, the last one 1 (the output).
        ``[d, 1]`` is the linear model ``X w + b``.
    activation : {"tanh", "relu", "sigmoid", "identity"}, default="tanh"
        Applied to every hidden layer; the output layer is linear.
    dtype : numpy.float32 or numpy.float64, default=numpy.float64
        Precision of the parameters and of the fit.
    random_state : None, int or numpy.random.Generator, default=None
        The seed of the initialisation. Weights are drawn as Glorot & Bengio
        (2010), uniform on ``+-sqrt(6 / (fan_in + fan_out))``, for tanh,
        sigmoid and identity, and as He et al. (2015), normal with variance
        ``2 / fan_in``, for relu (the output layer always Glorot); biases
        start at zero.

    Attributes
    ----------
    weights : tuple of numpy.ndarray
        ``weights[l]`` of shape (n_l, n_{l+1}), so a layer computes
        ``a @ weights[l] + biases[l]``; views of ``params`` (assigning
        ``weights`` copies into them).
    biases : tuple of numpy.ndarray
        ``biases[l]`` of shape (n_{l+1},), likewise.
    params : numpy.ndarray
        Every parameter in one flat array (the views above share it).

    Notes
    -----
    ``lr="auto"`` for a network: each layer l, seen on its own with the
    others fixed, is a linear least-squares problem in (W_l, b_l) on its
    inputs A_l (the previous layer's activations at the current weights),
    whose MSE curvature L_l = lambda_max((2/N) [A_l 1]^T [A_l 1]) the power
    iteration measures as for ``LinearModel``. The sum over the layers bounds
    the largest eigenvalue of the block-diagonal part of the Gauss-Newton
    matrix, and "auto" takes 1 / (sum of L_l) (1 / L_B with mini-batches,
    as for the linear model). For ``[d, 1]`` this is exactly the linear
    model's safe step; with hidden layers it is a heuristic (it leaves out
    the factors the later layers' weights and slopes contribute), measured
    at the weights the fit starts from.

    Examples
    --------
    >>> import numpy as np, gdcore
    >>> net = gdcore.MLP([2, 3, 1], random_state=0)
    >>> [W.shape for W in net.weights], net.params.shape
    ([(2, 3), (3, 1)], (13,))

    A network of one hidden layer fitted to a small curve:

    >>> X = np.linspace(-1.0, 1.0, 8).reshape(-1, 2); y = X[:, 0] ** 2 - X[:, 1]
    >>> history = gdcore.Trainer(epochs=200).fit(net, X, y)
    >>> bool(history.final_loss < history.loss[0])
    True
    >>> net.predict(X).shape
    (4,)
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str = "tanh",
                 dtype: Any = np.float64, random_state: Any = None) -> None:
        sizes = _check_sizes(layer_sizes)
        _check_activation(activation)
        self.layer_sizes: Tuple[int, ...] = tuple(sizes)
        self.activation = activation
        self.n_features = sizes[0]
        self.dtype = check_dtype(dtype)
        self.random_state = check_random_state(random_state)
        check_model_size(n_params(sizes), self.dtype, "layer_sizes")
        self._params = np.zeros(n_params(sizes), dtype=self.dtype)
        slices = layer_slices(sizes)
        self._weights = tuple(self._params[w:b].reshape(n_in, n_out)
                              for w, b, n_in, n_out in slices)
        self._biases = tuple(self._params[b:b + n_out] for _, b, _, n_out in slices)
        self.initialize()

    @property
    def _penalised(self) -> np.ndarray:
        mask = np.zeros(self._params.shape[0], dtype=bool)
        for w, b, _, _ in layer_slices(self.layer_sizes):
            mask[w:b] = True
        return mask

    # weights and biases are tuples of views of params: what a fit updates. Assigning
    # them copies into those views, so nothing can cut them loose from the buffer.

    @property
    def weights(self) -> Tuple[np.ndarray, ...]:
        return self._weights

    @weights.setter
    def weights(self, value: Any) -> None:
        self._set_layers(self._weights, value, "weights")

    @property
    def biases(self) -> Tuple[np.ndarray, ...]:
        return self._biases

    @biases.setter
    def biases(self, value: Any) -> None:
        self._set_layers(self._biases, value, "biases")

    def _set_layers(self, views: Tuple[np.ndarray, ...], value: Any, name: str) -> None:
        arrays = list(value) if isinstance(value, (list, tuple)) else None
        if arrays is None or len(arrays) != len(views):
            raise ValueError(f"{name} must be a list of {len(views)} arrays, one per layer")
        new = []
        for l, (array, view) in enumerate(zip(arrays, views)):
            if np.shape(array) != view.shape:
                raise ValueError(f"{name}[{l}] must have shape {view.shape}, "
                                 f"got {np.shape(array)}")
            new.append(as_parameter(array, self.dtype, (view.size,), f"{name}[{l}]"))
        for view, array in zip(views, new):
            view[...] = array.reshape(view.shape)

    def initialize(self) -> None:
        """Draw fresh weights from ``random_state`` (Glorot, or He for relu) and zero the biases."""
        rng = np.random.default_rng(self.random_state)
        last = len(self.weights) - 1
        for l, W in enumerate(self.weights):
            n_in, n_out = W.shape
            if self.activation == "relu" and l < last:
                W[:] = rng.normal(0.0, math.sqrt(2.0 / n_in), size=W.shape)
            else:
                limit = math.sqrt(6.0 / (n_in + n_out))
                W[:] = rng.uniform(-limit, limit, size=W.shape)
            self.biases[l][:] = 0

    @property
    def params(self) -> np.ndarray:
        return self._params

    @params.setter
    def params(self, value: Any) -> None:
        # in place: weights and biases are views of this buffer
        self._params[:] = as_parameter(value, self.dtype, self._params.shape, "params")

    # Persistence: weights and biases are views of the flat buffer, so both
    # save/load and pickle store the configuration and the flat parameters and
    # rebuild the views (a plain pickle would cut them loose from the buffer).

    def _state(self) -> Tuple[Config, Arrays]:
        config = {"layer_sizes": list(self.layer_sizes), "activation": self.activation,
                  "dtype": self.dtype.name}
        return config, {"params": self._params.copy()}

    @classmethod
    def _state_layout(cls, config: Config) -> Tuple[np.dtype, Dict[str, Tuple[int, ...]]]:
        layer_sizes, activation, dtype = config_fields(config, "layer_sizes", "activation",
                                                       "dtype")
        sizes, dt = _check_sizes(layer_sizes), config_dtype(dtype)
        _check_activation(activation)
        check_model_size(n_params(sizes), dt, "layer_sizes")
        return dt, {"params": (n_params(sizes),)}

    @classmethod
    def _from_state(cls, config: Config, arrays: Arrays) -> "MLP":
        dtype = cls._check_state(config, arrays)
        model = cls(config["layer_sizes"], activation=config["activation"], dtype=dtype)
        model.params = arrays["params"]
        return model

    def __reduce__(self) -> Tuple[Any, ...]:
        config, arrays = self._state()
        return (_rebuild_mlp, (config, arrays, self.random_state))

    def predict(self, X: Any) -> np.ndarray:
        """The network's output for the rows of X (1-D X is one feature).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features) or (n_samples,)
            The network's inputs, ``layer_sizes[0]`` columns.

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            The output layer's values (one per row), in the model's dtype.

        Raises
        ------
        ValueError
            X's width is not ``layer_sizes[0]``, or the output is not finite in the
            model's dtype.
        """
        Xc = as_features(X, self.dtype)
        self._check_features(Xc)
        return self._finite(get_backend("cython").predict_mlp(Xc, self._params,
                                                              self.layer_sizes, self.activation))

    def _objective(self, backend: Backend, loss: Loss, X: np.ndarray, y: np.ndarray,
                   n_jobs: int = 1, sample_weight: Optional[np.ndarray] = None) -> Objective:
        # n_jobs: the network's pass runs on one thread (its matrix products are
        # BLAS calls, threaded as SciPy's OpenBLAS is configured).
        return backend.mlp(loss, X, y, self.layer_sizes, self.activation, sample_weight)

    def _split_gradient(self, grad: np.ndarray) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """(dL/dweights, dL/dbiases), layer by layer."""
        g = np.asarray(grad, dtype=self.dtype)
        slices = layer_slices(self.layer_sizes)
        return ([g[w:b].reshape(n_in, n_out) for w, b, n_in, n_out in slices],
                [g[b:b + n_out] for _, b, _, n_out in slices])

    def _auto_lr(self, backend: Backend, X: np.ndarray, batch_size: Optional[int],
                 sample_weight: Optional[np.ndarray] = None) -> float:
        with np.errstate(over="ignore", invalid="ignore"):  # inf: auto_lr says it overflows
            inputs = forward(self._params, self.layer_sizes, self.activation, X)[:-1]
        curvature = row_curvature = 0.0
        rows = needs_row_curvature(X.shape[0], batch_size)
        for A in inputs:
            lam, row_max = raw_curvature(backend, np.ascontiguousarray(A), True, rows,
                                         sample_weight)
            curvature += lam
            row_curvature += row_max
        return auto_lr(curvature, row_curvature, X.shape[0], batch_size)

    def __repr__(self) -> str:
        return (f"MLP(layer_sizes={list(self.layer_sizes)}, activation={self.activation!r}, "
                f"dtype={self.dtype.name})")


def _check_sizes(layer_sizes: Any) -> List[int]:
    try:
        sizes = list(layer_sizes)
    except TypeError:
        raise ValueError(f"layer_sizes must be a sequence of integers, got {layer_sizes!r}") from None
    if len(sizes) < 2 or any(not isinstance(s, numbers.Integral) or isinstance(s, bool) or s < 1
                             for s in sizes):
        raise ValueError(f"layer_sizes must be at least two integers >= 1 "
                         f"([n_features, hidden..., 1]), got {layer_sizes!r}")
    if sizes[-1] != 1:
        raise ValueError(f"the last layer size must be 1 (one output), got {sizes[-1]}")
    return [int(s) for s in sizes]


def _check_activation(activation: Any) -> None:
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, "
                         f"got {reprlib.repr(activation)}")


def _rebuild_mlp(config: Config, arrays: Arrays, random_state: Any) -> MLP:
    """Unpickle an MLP: the views of its flat parameter buffer built anew."""
    model = MLP._from_state(config, arrays)
    model.random_state = random_state
    return model
