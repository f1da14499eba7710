"""The pure-Python backend: lists and loops, written to read like the formulas.

It is the reference users benchmark against, and the tests' independent
check on the compiled kernel. NumPy appears only at the edges (converting
the validated arrays to lists once per call, and the results back); all
arithmetic is Python floats, whatever the model's dtype.
"""

from __future__ import annotations

import math
from array import array
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .._random import start_vector
from ._base import MSE, FitResult
from ..stepsize import lambda_max_of_gram, uses_gram
from ._loop import Engine, ReferenceRun, power_iteration


def sign(r: float) -> float:
    return (r > 0) - (r < 0)


def loss_term(kind: int, r: float) -> float:
    """One row's contribution: r**2 for MSE, |r| for MAE (r = y_hat - y)."""
    return r * r if kind == MSE else abs(r)


def loss_slope(kind: int, r: float) -> float:
    """d(term)/d(y_hat): 2 r for MSE, sign(r) for MAE."""
    return 2.0 * r if kind == MSE else sign(r)


def dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def stored(values: List[float], single: bool) -> List[float]:
    """Values as the model stores them: rounded to float32 for a float32 model."""
    return array("f", values).tolist() if single else values


class ListEngine(Engine):
    """Arithmetic in Python floats; parameters kept in the model's precision."""

    def __init__(self, kind: int, X: List[List[float]], y: List[float],
                 w: List[float], b: float, fit_intercept: bool, single: bool = False) -> None:
        self.kind, self.X, self.y = kind, X, y
        self.w, self.b, self.fit_intercept, self.single = w, b, fit_intercept, single

    def evaluate(self, rows: Optional[Sequence[int]]) -> Tuple[float, List[float], float]:
        """L = (1/N) sum term(y_hat_i - y_i); dL/dw = (1/N) sum slope_i x_i; dL/db = (1/N) sum slope_i."""
        rows = range(len(self.y)) if rows is None else rows
        loss, gw, gb = 0.0, [0.0] * len(self.w), 0.0
        for i in rows:
            x_i = self.X[i]
            r = dot(self.w, x_i) + self.b - self.y[i]
            loss += loss_term(self.kind, r)
            slope = loss_slope(self.kind, r)
            for j, x_ij in enumerate(x_i):
                gw[j] += slope * x_ij
            gb += slope
        n = len(rows)
        return loss / n, [g / n for g in gw], gb / n

    def update(self, gw: List[float], gb: float, lr: float) -> None:
        """w <- w - lr dL/dw, b <- b - lr dL/db."""
        self.w = stored([w_j - lr * g_j for w_j, g_j in zip(self.w, gw)], self.single)
        if self.fit_intercept:
            self.b = stored([self.b - lr * gb], self.single)[0]

    def snapshot(self) -> Tuple[List[float], float]:
        return list(self.w), self.b

    def restore(self, snap: Tuple[List[float], float]) -> None:
        self.w, self.b = list(snap[0]), snap[1]

    def weighted_sum(self, acc: Optional[List[float]], g: List[float], weight: float) -> List[float]:
        if acc is None:
            return [weight * g_j for g_j in g]
        return [a + weight * g_j for a, g_j in zip(acc, g)]

    def sq_norm(self, g: List[float]) -> float:
        return dot(g, g)

    def flat(self, snap: Tuple[List[float], float]) -> np.ndarray:
        return np.array(snap[0] + [snap[1]])


class PythonBackend:
    name = "python"

    def predict(self, X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
        w_list = w.tolist()
        return np.array([dot(w_list, x_i) + b for x_i in X.tolist()], dtype=X.dtype)

    def loss_value(self, kind: int, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        pairs = zip(y_true.tolist(), y_pred.tolist())
        return sum(loss_term(kind, p - t) for t, p in pairs) / len(y_true)

    def loss_grad(self, kind: int, X: np.ndarray, y: np.ndarray, w: np.ndarray,
                  b: float) -> Tuple[float, np.ndarray, float]:
        engine = ListEngine(kind, X.tolist(), y.tolist(), w.tolist(), float(b), True)
        loss, gw, gb = engine.evaluate(None)
        return loss, np.array(gw, dtype=X.dtype), gb

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

    def start(self, kind: int, X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray,
              fit_intercept: bool, lr: float, epochs: int, tol: float,
              batch_size: Optional[int], seed: int, record_path: bool = False,
              n_jobs: int = 1) -> "ListRun":
        engine = ListEngine(kind, X.tolist(), y.tolist(), w.tolist(), float(b[0]), fit_intercept,
                            single=X.dtype == np.float32)
        return ListRun(engine, w, b, len(engine.y), lr, epochs, tol, batch_size, seed, record_path)


    # Multi-layer perceptrons (sizes, activation and the flat parameters: see _network).

    def mlp_predict(self, X: np.ndarray, params: np.ndarray, sizes: Sequence[int],
                    activation: int) -> np.ndarray:
        from .python_mlp import forward, layers
        net = layers(params.tolist(), sizes)
        return np.array([forward(net, activation, x)[-1][0] for x in X.tolist()], dtype=X.dtype)

    def mlp_loss_grad(self, kind: int, X: np.ndarray, y: np.ndarray, params: np.ndarray,
                      sizes: Sequence[int], activation: int) -> Tuple[float, np.ndarray]:
        from .python_mlp import loss_grad
        loss, g = loss_grad(kind, X.tolist(), y.tolist(), params.tolist(), sizes, activation)
        return loss, np.array(g)

    def start_mlp(self, kind: int, X: np.ndarray, y: np.ndarray, params: np.ndarray,
                  sizes: Sequence[int], activation: int, lr: float, epochs: int, tol: float,
                  batch_size: Optional[int], seed: int, record_path: bool = False) -> "ListRun":
        from .python_mlp import MLPListEngine
        engine = MLPListEngine(kind, X.tolist(), y.tolist(), params.tolist(), sizes, activation,
                               single=X.dtype == np.float32)
        return ListRun(engine, params, np.zeros(1, dtype=params.dtype), len(engine.y), lr,
                       epochs, tol, batch_size, seed, record_path)


class ListRun(ReferenceRun):
    """A ReferenceRun that copies the list parameters back into the model's arrays."""

    engine: ListEngine

    def __init__(self, engine: ListEngine, w: np.ndarray, b: np.ndarray, *args: Any) -> None:
        super().__init__(engine, *args)
        self.w, self.b = w, b

    def advance(self, epochs: int) -> Optional[FitResult]:
        try:
            return super().advance(epochs)
        finally:  # the model sees the parameters of the last finished epoch
            self.w[:] = self.engine.w
            self.b[0] = self.engine.b
