"""The pure-Python backend: lists and loops, written to read like the formulas.

It is the reference users benchmark against, and the tests' independent
check on the compiled passes. NumPy appears only at the edges (the validated
arrays become lists once, the sums become an array); all arithmetic is
Python floats, whatever the model's dtype.

Linear model, rows i: r_i = w . x_i + b - y_i, L = sum term(r_i),
dL/dw = sum slope(r_i) x_i, dL/db = sum slope(r_i).

Network, for one row x with target y, layers l = 0 .. L-1, weights W_l[k][j]
(from neuron k of layer l to neuron j of layer l+1) and biases b_l[j]:

    forward:   a_0 = x;  z_{l+1}[j] = b_l[j] + sum_k a_l[k] W_l[k][j];
               a_{l+1} = f(z_{l+1}) (the output a_L = z_L is left linear)
    loss:      term(r) with r = a_L[0] - y;  delta_L[0] = slope(r)
    backward:  dL/dW_l[k][j] += a_l[k] delta_{l+1}[j]   (dz/dW = a)
               dL/db_l[j]    += delta_{l+1}[j]           (dz/db = 1)
               delta_l[k] = f'(z_l[k]) sum_j W_l[k][j] delta_{l+1}[j]   (dz/da = W)
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .._random import start_vector
from ..curvature import lambda_max_of_gram, power_iteration, uses_gram
from ..losses import Loss
from ..loop import Fit, ReferenceRun, Settings
from ..optim import State
from ._network import layer_slices

Matrix = List[List[float]]


def dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


class LinearSums:
    def __init__(self, loss: Loss, X: np.ndarray, y: np.ndarray,
                 sample_weight: Optional[np.ndarray] = None) -> None:
        self.loss, self.X, self.y = loss, X.tolist(), y.tolist()
        self.weights = [1.0] * X.shape[0] if sample_weight is None else sample_weight.tolist()
        self.n_rows, self.n_params = X.shape[0], X.shape[1] + 1

    def sums(self, params: np.ndarray, rows: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
        p = params.tolist()
        w, b = p[:-1], p[-1]
        total, gw, gb = 0.0, [0.0] * len(w), 0.0
        for i in (range(self.n_rows) if rows is None else rows.tolist()):
            x_i = self.X[i]
            r = dot(w, x_i) + b - self.y[i]
            total += self.weights[i] * self.loss.term(r)
            slope = self.weights[i] * self.loss.slope(r)
            for j, x_ij in enumerate(x_i):
                gw[j] += slope * x_ij
            gb += slope
        return total, np.array(gw + [gb])


def f(activation: str, z: float) -> float:
    """The hidden layers' activation."""
    if activation == "tanh":
        return math.tanh(z)
    if activation == "relu":
        return z if z > 0 else 0.0
    if activation == "sigmoid":
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)
    return z


def f_prime(activation: str, a: float) -> float:
    """df/dz, read off the activation a = f(z): the value kept from the forward pass."""
    if activation == "tanh":
        return 1.0 - a * a
    if activation == "relu":
        return 1.0 if a > 0 else 0.0
    if activation == "sigmoid":
        return a * (1.0 - a)
    return 1.0


def layers(params: List[float], sizes: Sequence[int]) -> List[Tuple[Matrix, List[float]]]:
    """(W_l, b_l) as nested lists, from the flat parameters."""
    out = []
    for w, b, n_in, n_out in layer_slices(sizes):
        W = [params[w + k * n_out:w + (k + 1) * n_out] for k in range(n_in)]
        out.append((W, params[b:b + n_out]))
    return out


def forward(net: List[Tuple[Matrix, List[float]]], activation: str,
            x: List[float]) -> List[List[float]]:
    """Every layer's activations for one row: [a_0 = x, a_1, ..., a_L]."""
    a = [x]
    for l, (W, b) in enumerate(net):
        z = [b_j + sum(a_k * W_k[j] for a_k, W_k in zip(a[-1], W)) for j, b_j in enumerate(b)]
        a.append(z if l == len(net) - 1 else [f(activation, z_j) for z_j in z])
    return a


class MLPSums:
    def __init__(self, loss: Loss, X: np.ndarray, y: np.ndarray, sizes: Sequence[int],
                 activation: str, sample_weight: Optional[np.ndarray] = None) -> None:
        self.loss, self.X, self.y = loss, X.tolist(), y.tolist()
        self.weights = [1.0] * X.shape[0] if sample_weight is None else sample_weight.tolist()
        self.sizes, self.activation = list(sizes), activation
        self.n_rows = X.shape[0]
        self.n_params = sum(n_in * n_out + n_out for _, _, n_in, n_out in layer_slices(sizes))

    def sums(self, params: np.ndarray, rows: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
        net = layers(params.tolist(), self.sizes)
        grads = [([[0.0] * len(b) for _ in W], [0.0] * len(b)) for W, b in net]
        total = 0.0
        for i in (range(self.n_rows) if rows is None else rows.tolist()):
            a = forward(net, self.activation, self.X[i])
            r = a[-1][0] - self.y[i]
            total += self.weights[i] * self.loss.term(r)
            delta = [self.weights[i] * self.loss.slope(r)]  # dL/dz at the output
            for l in range(len(net) - 1, -1, -1):
                W, _ = net[l]
                gW, gb = grads[l]
                for k, a_k in enumerate(a[l]):
                    for j, d_j in enumerate(delta):
                        gW[k][j] += a_k * d_j
                for j, d_j in enumerate(delta):
                    gb[j] += d_j
                if l > 0:  # the chain rule: back through W_l, then through f
                    delta = [f_prime(self.activation, a_k) * dot(W[k], delta)
                             for k, a_k in enumerate(a[l])]
        flat = [g for gW, gb in grads for g in [v for row in gW for v in row] + gb]
        return total, np.array(flat)


class PythonBackend:
    name = "python"

    def linear(self, loss: Loss, X: np.ndarray, y: np.ndarray, n_jobs: int = 1,
               sample_weight: Optional[np.ndarray] = None) -> LinearSums:
        return LinearSums(loss, X, y, sample_weight)

    def mlp(self, loss: Loss, X: np.ndarray, y: np.ndarray, sizes: Sequence[int],
            activation: str, sample_weight: Optional[np.ndarray] = None) -> MLPSums:
        return MLPSums(loss, X, y, sizes, activation, sample_weight)

    def predict_linear(self, X: np.ndarray, params: np.ndarray) -> np.ndarray:
        p = params.tolist()
        w, b = p[:-1], p[-1]
        return np.array([dot(w, x_i) + b for x_i in X.tolist()], dtype=X.dtype)

    def predict_mlp(self, X: np.ndarray, params: np.ndarray, sizes: Sequence[int],
                    activation: str) -> np.ndarray:
        net = layers(params.tolist(), sizes)
        return np.array([forward(net, activation, x)[-1][0] for x in X.tolist()], dtype=X.dtype)

    def curvature(self, X: np.ndarray, fit_intercept: bool,
                  rows: bool = True) -> Tuple[float, float]:
        """H = (2/N) A^T A with A = [X 1]: H v = (2/N) sum_i (a_i . v) a_i."""
        A = [row + [1.0] if fit_intercept else row for row in X.tolist()]
        n, p = len(A), len(A[0])
        row_max = max(2.0 * dot(a_i, a_i) for a_i in A) if rows else math.nan
        if uses_gram(p):  # G = sum_i a_i a_i^T, then its largest eigenvalue
            G = [[0.0] * p for _ in range(p)]
            for a_i in A:
                for j, a_ij in enumerate(a_i):
                    G_j = G[j]
                    for k, a_ik in enumerate(a_i):
                        G_j[k] += a_ij * a_ik
            return lambda_max_of_gram(G, n), row_max

        def hessian_times(v: List[float]) -> List[float]:
            out = [0.0] * len(v)
            for a_i in A:
                s = dot(a_i, v)
                for j, a_ij in enumerate(a_i):
                    out[j] += s * a_ij
            return [2.0 * o / n for o in out]

        lam = power_iteration(hessian_times, start_vector(p), lambda v: math.sqrt(dot(v, v)))
        return lam, row_max

    def start(self, objective, params: np.ndarray, state: State, settings: Settings) -> Fit:
        return Fit(ReferenceRun(objective, params, state, settings), params, state, settings)
