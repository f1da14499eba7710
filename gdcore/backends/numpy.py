"""The NumPy backend: the same sums, vectorised, as a user would write them by hand.

Linear model: ``r = X @ w + b - y``, then ``X.T @ slopes`` (two passes over X
per gradient, temporaries of length N, arithmetic in the model's dtype).
Network: forward and backward as matrix products over all the rows at once.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .._random import start_vector
from ..curvature import gram_blas, lambda_max_of_gram, power_iteration, uses_gram
from ..losses import Loss
from ..loop import Fit, ReferenceRun, Settings
from ..optim import State
from ._network import layer_slices


def _blocks(X: np.ndarray, rows: int = 8192):
    """Row blocks of X, so per-row temporaries stay small."""
    return (X[i:i + rows] for i in range(0, X.shape[0], rows))


def _weighted(weights: Optional[np.ndarray], rows: Optional[np.ndarray],
              dtype: np.dtype) -> Optional[np.ndarray]:
    """The weights of the rows (all, or those listed) in the data's type."""
    if weights is None:
        return None
    return (weights if rows is None else weights[rows]).astype(dtype)


class LinearSums:
    def __init__(self, loss: Loss, X: np.ndarray, y: np.ndarray,
                 sample_weight: Optional[np.ndarray] = None) -> None:
        self.loss, self.X, self.y, self.weights = loss, X, y, sample_weight
        self.n_rows, self.n_params = X.shape[0], X.shape[1] + 1

    def sums(self, params: np.ndarray, rows: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
        X, y = (self.X, self.y) if rows is None else (self.X[rows], self.y[rows])
        w = _weighted(self.weights, rows, X.dtype)
        r = X @ params[:-1]
        r += params[-1]
        r -= y
        slopes, terms = self.loss.slopes(r), self.loss.terms(r)
        if w is not None:
            slopes, terms = w * slopes, w * terms
        grad = np.empty(self.n_params)
        grad[:-1] = X.T @ slopes
        grad[-1] = slopes.sum()
        return float(terms.sum()), grad


def split(params: np.ndarray, sizes: Sequence[int]) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Views (W_l, b_l) into the flat parameters."""
    return [(params[w:b].reshape(n_in, n_out), params[b:b + n_out])
            for w, b, n_in, n_out in layer_slices(sizes)]


def activate(activation: str, z: np.ndarray) -> np.ndarray:
    if activation == "tanh":
        return np.tanh(z, out=z)
    if activation == "relu":
        return np.maximum(z, 0, out=z)
    if activation == "sigmoid":  # 1 / (1 + e^-z), without overflow for large |z|
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)
    return z


def slope(activation: str, a: np.ndarray) -> np.ndarray:
    """f'(z) read off the activation a = f(z)."""
    if activation == "tanh":
        return 1 - a * a
    if activation == "relu":
        return (a > 0).astype(a.dtype)
    if activation == "sigmoid":
        return a * (1 - a)
    return np.ones_like(a)


def forward(params: np.ndarray, sizes: Sequence[int], activation: str,
            X: np.ndarray) -> List[np.ndarray]:
    """Every layer's activations a_0 = X, ..., a_L (the output, linear)."""
    layers = split(params, sizes)
    acts = [X]
    for l, (W, b) in enumerate(layers):
        z = acts[-1] @ W + b
        acts.append(z if l == len(layers) - 1 else activate(activation, z))
    return acts


class MLPSums:
    def __init__(self, loss: Loss, X: np.ndarray, y: np.ndarray, sizes: Sequence[int],
                 activation: str, sample_weight: Optional[np.ndarray] = None) -> None:
        self.loss, self.X, self.y, self.weights = loss, X, y, sample_weight
        self.sizes, self.activation = list(sizes), activation
        self.n_rows = X.shape[0]
        self.n_params = sum(n_in * n_out + n_out for _, _, n_in, n_out in layer_slices(sizes))

    def sums(self, params: np.ndarray, rows: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
        """Back-propagation: deltas from the loss back to the input, gradients on the way."""
        X, y = (self.X, self.y) if rows is None else (self.X[rows], self.y[rows])
        acts = forward(params, self.sizes, self.activation, X)
        r = acts[-1][:, 0] - y
        w = _weighted(self.weights, rows, X.dtype)
        slopes, terms = self.loss.slopes(r), self.loss.terms(r)
        if w is not None:
            slopes, terms = w * slopes, w * terms
        delta = slopes[:, None]  # dL/dz of the output layer, one row per sample
        grads: List[np.ndarray] = []
        layers = split(params, self.sizes)
        for l in range(len(layers) - 1, -1, -1):
            W = layers[l][0]
            grads[:0] = [(acts[l].T @ delta).ravel(), delta.sum(axis=0)]
            if l > 0:
                delta = (delta @ W.T) * slope(self.activation, acts[l])
        return float(terms.sum()), np.concatenate(grads).astype(np.float64)


class NumpyBackend:
    name = "numpy"

    def linear(self, loss: Loss, X: np.ndarray, y: np.ndarray, n_jobs: int = 1,
               sample_weight: Optional[np.ndarray] = None) -> LinearSums:
        return LinearSums(loss, X, y, sample_weight)

    def mlp(self, loss: Loss, X: np.ndarray, y: np.ndarray, sizes: Sequence[int],
            activation: str, sample_weight: Optional[np.ndarray] = None) -> MLPSums:
        return MLPSums(loss, X, y, sizes, activation, sample_weight)

    def predict_linear(self, X: np.ndarray, params: np.ndarray) -> np.ndarray:
        return X @ params[:-1] + params[-1]

    def predict_mlp(self, X: np.ndarray, params: np.ndarray, sizes: Sequence[int],
                    activation: str) -> np.ndarray:
        return forward(params, sizes, activation, X)[-1][:, 0].copy()

    def curvature(self, X: np.ndarray, fit_intercept: bool,
                  rows: bool = True) -> Tuple[float, float]:
        n, d = X.shape
        row_max = math.nan
        if rows:
            row_max = 2.0 * (max(float(np.einsum("ij,ij->i", block, block, dtype=np.float64).max())
                                 for block in _blocks(X)) + fit_intercept)
        if uses_gram(d + fit_intercept):
            return lambda_max_of_gram(gram_blas(X, fit_intercept), n), row_max
        X64 = X.astype(np.float64, copy=False)

        def hessian_times(v: np.ndarray) -> np.ndarray:
            s = X64 @ v[:d] + (v[d] if fit_intercept else 0.0)
            out = X64.T @ s
            if fit_intercept:
                out = np.append(out, s.sum())
            return 2.0 * out / n

        v0 = np.array(start_vector(d + fit_intercept))
        with np.errstate(over="ignore", invalid="ignore"):  # inf, as in the other backends:
            lam = power_iteration(hessian_times, v0,        # auto_lr reports it
                                  lambda v: float(np.linalg.norm(v)))
        return lam, row_max

    def start(self, objective, params: np.ndarray, state: State, settings: Settings) -> Fit:
        return Fit(ReferenceRun(objective, params, state, settings), params, state, settings)
