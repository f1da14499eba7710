"""The NumPy backend's multi-layer perceptron: forward and backward as matrix products."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ._network import IDENTITY, RELU, SIGMOID, TANH, layer_slices
from .numpy import ArrayEngine, loss_sum_and_slopes


def split(params: np.ndarray, sizes: Sequence[int]) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Views (W_l, b_l) into the flat parameters."""
    return [(params[w:b].reshape(n_in, n_out), params[b:b + n_out])
            for w, b, n_in, n_out in layer_slices(sizes)]


def activate(activation: int, z: np.ndarray) -> np.ndarray:
    if activation == TANH:
        return np.tanh(z, out=z)
    if activation == RELU:
        return np.maximum(z, 0, out=z)
    if activation == SIGMOID:  # 1 / (1 + e^-z), without overflow for large |z|
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)
    return z


def slope(activation: int, a: np.ndarray) -> np.ndarray:
    """f'(z) read off the activation a = f(z)."""
    if activation == TANH:
        return 1 - a * a
    if activation == RELU:
        return (a > 0).astype(a.dtype)
    if activation == SIGMOID:
        return a * (1 - a)
    return np.ones_like(a)


def forward(params: np.ndarray, sizes: Sequence[int], activation: int,
            X: np.ndarray) -> List[np.ndarray]:
    """Every layer's activations a_0 = X, ..., a_L (the output, linear)."""
    layers = split(params, sizes)
    acts = [X]
    for l, (W, b) in enumerate(layers):
        z = acts[-1] @ W + b
        acts.append(z if l == len(layers) - 1 else activate(activation, z))
    return acts


def loss_grad(kind: int, X: np.ndarray, y: np.ndarray, params: np.ndarray,
              sizes: Sequence[int], activation: int) -> Tuple[float, np.ndarray]:
    """Mean loss and its gradient (flat, params layout) by back-propagation."""
    acts = forward(params, sizes, activation, X)
    total, delta = loss_sum_and_slopes(kind, acts[-1][:, 0] - y)
    delta = delta[:, None]  # dL/dz of the output layer, one row per sample
    grads: List[np.ndarray] = []
    layers = split(params, sizes)
    for l in range(len(layers) - 1, -1, -1):
        W = layers[l][0]
        grads[:0] = [(acts[l].T @ delta).ravel(), delta.sum(axis=0)]
        if l > 0:
            delta = (delta @ W.T) * slope(activation, acts[l])
    n = len(y)
    return total / n, np.concatenate(grads) / n


class MLPArrayEngine(ArrayEngine):
    """The flat parameters stand in for ``w`` (see ``_network``)."""

    def __init__(self, kind: int, X: np.ndarray, y: np.ndarray, params: np.ndarray,
                 sizes: Sequence[int], activation: int) -> None:
        super().__init__(kind, X, y, params, np.zeros(1, dtype=params.dtype), False)
        self.sizes, self.activation = list(sizes), activation

    def evaluate(self, rows: Optional[Sequence[int]]) -> Tuple[float, np.ndarray, float]:
        X, y = (self.X, self.y) if rows is None else (self.X[rows], self.y[rows])
        loss, g = loss_grad(self.kind, X, y, self.w, self.sizes, self.activation)
        return loss, g, 0.0

    def flat(self, snap: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return snap[0].copy()
