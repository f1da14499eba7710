"""The pure-Python backend's multi-layer perceptron: the chain rule in plain loops.

Read next to the tutorial: one forward pass keeps every layer's activations,
one backward pass walks from the loss back to the input multiplying each
layer's local derivatives, reusing those activations.

For one row x with target y, layers l = 0 .. L-1, weights W_l[k][j] (from
neuron k of layer l to neuron j of layer l+1) and biases b_l[j]:

    forward:   a_0 = x;  z_{l+1}[j] = b_l[j] + sum_k a_l[k] W_l[k][j];
               a_{l+1} = f(z_{l+1}) (the output a_L = z_L is left linear)
    loss:      term(r) with r = a_L[0] - y;  delta_L[0] = dterm/dr
    backward:  dL/dW_l[k][j] += a_l[k] delta_{l+1}[j]   (dz/dW = a)
               dL/db_l[j]    += delta_{l+1}[j]           (dz/db = 1)
               delta_l[k] = f'(z_l[k]) sum_j W_l[k][j] delta_{l+1}[j]   (dz/da = W)
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ._network import IDENTITY, RELU, SIGMOID, TANH, layer_slices
from .python import ListEngine, loss_slope, loss_term

Matrix = List[List[float]]


def f(activation: int, z: float) -> float:
    """The hidden layers' activation."""
    if activation == TANH:
        return math.tanh(z)
    if activation == RELU:
        return z if z > 0 else 0.0
    if activation == SIGMOID:
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)
    return z


def f_prime(activation: int, a: float) -> float:
    """df/dz, read off the activation a = f(z): the value kept from the forward pass."""
    if activation == TANH:
        return 1.0 - a * a
    if activation == RELU:
        return 1.0 if a > 0 else 0.0
    if activation == SIGMOID:
        return a * (1.0 - a)
    return 1.0


def layers(params: List[float], sizes: Sequence[int]) -> List[Tuple[Matrix, List[float]]]:
    """(W_l, b_l) as nested lists, from the flat parameters."""
    out = []
    for w, b, n_in, n_out in layer_slices(sizes):
        W = [params[w + k * n_out:w + (k + 1) * n_out] for k in range(n_in)]
        out.append((W, params[b:b + n_out]))
    return out


def forward(net: List[Tuple[Matrix, List[float]]], activation: int,
            x: List[float]) -> List[List[float]]:
    """Every layer's activations for one row: [a_0 = x, a_1, ..., a_L]."""
    a = [x]
    for l, (W, b) in enumerate(net):
        z = [b_j + sum(a_k * W_k[j] for a_k, W_k in zip(a[-1], W)) for j, b_j in enumerate(b)]
        a.append(z if l == len(net) - 1 else [f(activation, z_j) for z_j in z])
    return a


def loss_grad(kind: int, X: List[List[float]], y: List[float], params: List[float],
              sizes: Sequence[int], activation: int,
              rows: Optional[Sequence[int]] = None) -> Tuple[float, List[float]]:
    """Mean loss over the rows and its gradient (flat, the parameters' layout)."""
    net = layers(params, sizes)
    grads = [([[0.0] * len(b) for _ in W], [0.0] * len(b)) for W, b in net]
    rows = range(len(y)) if rows is None else rows
    loss = 0.0
    for i in rows:
        a = forward(net, activation, X[i])
        r = a[-1][0] - y[i]
        loss += loss_term(kind, r)
        delta = [loss_slope(kind, r)]  # dL/dz at the output
        for l in range(len(net) - 1, -1, -1):
            W, _ = net[l]
            gW, gb = grads[l]
            for k, a_k in enumerate(a[l]):
                for j, d_j in enumerate(delta):
                    gW[k][j] += a_k * d_j
            for j, d_j in enumerate(delta):
                gb[j] += d_j
            if l > 0:  # the chain rule: back through W_l, then through f
                delta = [f_prime(activation, a_k) * sum(w_kj * d_j for w_kj, d_j in zip(W[k], delta))
                         for k, a_k in enumerate(a[l])]
    n = len(rows)
    flat = [g / n for gW, gb in grads for g in [v for row in gW for v in row] + gb]
    return loss / n, flat


class MLPListEngine(ListEngine):
    """The flat parameters stand in for ``w`` (see ``_network``); no separate ``b``."""

    def __init__(self, kind: int, X: List[List[float]], y: List[float], params: List[float],
                 sizes: Sequence[int], activation: int, single: bool = False) -> None:
        super().__init__(kind, X, y, params, 0.0, False, single)
        self.sizes, self.activation = list(sizes), activation

    def evaluate(self, rows: Optional[Sequence[int]]) -> Tuple[float, List[float], float]:
        loss, g = loss_grad(self.kind, self.X, self.y, self.w, self.sizes, self.activation, rows)
        return loss, g, 0.0

    def flat(self, snap: Tuple[List[float], float]) -> np.ndarray:
        return np.array(snap[0])
