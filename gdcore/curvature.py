"""Curvature in the raw coordinates, and the step ``lr="auto"`` takes from it.

Fits in standardised coordinates measure theirs in gdcore/precondition.py;
these are for fits in the user's coordinates (``precondition=None``) and for
networks.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Tuple

import numpy as np

from .precondition import row_blocks

#: Up to this many parameters (features + intercept), lambda_max is exact: the
#: eigenvalue of the small Gram matrix A^T A, built in one pass over X
#: (O(N p^2) work, a single BLAS call in the numpy and cython backends).
#: Wider models use power iteration, O(N p) per Hessian-vector product.
GRAM_MAX_PARAMS = 64

#: Power iteration for lambda_max: at most this many products, stopping
#: once the estimate moves by less than POWER_RTOL relatively.
POWER_MAX_ITER = 100
POWER_RTOL = 1e-6


def uses_gram(n_params: int) -> bool:
    return n_params <= GRAM_MAX_PARAMS


def lambda_max_of_gram(gram: Any, n_samples: int) -> float:
    """Largest eigenvalue of the MSE Hessian H = (2/N) A^T A, from G = A^T A (inf if G
    overflowed)."""
    G = np.asarray(gram, dtype=np.float64)
    if not np.all(np.isfinite(G)):
        return math.inf
    return 2.0 * float(np.linalg.eigvalsh(G)[-1]) / n_samples


def gram_blas(X: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """A^T A with A = [X 1], without forming A: X^T X (one BLAS call), X^T 1, N."""
    n, d = X.shape
    G = np.empty((d + fit_intercept, d + fit_intercept))
    with np.errstate(over="ignore"):  # sums beyond float64: inf, reported by auto_lr
        G[:d, :d] = X.T @ X
        if fit_intercept:
            G[:d, d] = G[d, :d] = X.sum(axis=0, dtype=np.float64)
            G[d, d] = n
    return G


def weighted_curvature(X: np.ndarray, fit_intercept: bool, weights: np.ndarray,
                       rows: bool = True) -> Tuple[float, float]:
    """A backend's ``curvature`` for rows weighted by ``weights`` (mean 1): lambda_max
    of (2/N) A^T W A and max_i 2 w_i ||a_i||^2, from the Gram matrix of the rows
    scaled by sqrt(w_i), built block by block (any width: weighted raw-coordinate
    fits are rare enough not to need their own power iteration)."""
    n, d = X.shape
    p = d + fit_intercept
    G = np.zeros((p, p))
    row_max = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for lo, B in row_blocks(X):
            B = B.astype(np.float64)
            if fit_intercept:
                B = np.column_stack([B, np.ones(B.shape[0])])
            w = weights[lo:lo + B.shape[0]]
            if rows:
                row_max = max(row_max, float(np.max(w * np.einsum("ij,ij->i", B, B))))
            S = B * np.sqrt(w)[:, None]
            G += S.T @ S
    return lambda_max_of_gram(G, n), (2.0 * row_max if rows else math.nan)


def raw_curvature(backend: Any, X: np.ndarray, fit_intercept: bool, rows: bool,
                  sample_weight: Optional[np.ndarray]) -> Tuple[float, float]:
    """The backend's curvature of X, or ``weighted_curvature`` for weighted rows."""
    if sample_weight is None:
        return backend.curvature(X, fit_intercept, rows=rows)
    return weighted_curvature(X, fit_intercept, sample_weight, rows)


def needs_row_curvature(n_samples: int, batch_size: Optional[int]) -> bool:
    """Whether auto_lr uses L_max: only for batches smaller than the data."""
    return batch_size is not None and 1 < n_samples and batch_size < n_samples


def auto_lr(curvature: float, row_curvature: float, n_samples: int,
            batch_size: Optional[int]) -> float:
    """1 / L_B: the step size ``lr="auto"`` takes.

    Full batch: L = lambda_max of the MSE Hessian (2/N) A^T A, A = [X 1];
    gradient descent converges for lr < 2/L and 1/L is the classical safe
    step. Mini-batches of B rows: the expected smoothness of Gower et al.
    (2019), L_B = n(B-1)/(B(n-1)) L + (n-B)/(B(n-1)) L_max, where L_max =
    max_i 2||a_i||^2 is the curvature of the worst single row; it runs from
    L_max at B = 1 to L at B = n.
    """
    if needs_row_curvature(n_samples, batch_size):
        b = n_samples if batch_size is None else batch_size
        smooth = (n_samples * (b - 1) * curvature + (n_samples - b) * row_curvature) / (
            b * (n_samples - 1))
    else:
        smooth = curvature
    if not smooth > 0:
        raise ValueError("lr='auto' needs data with some variation (the loss has no "
                         "curvature here); pass a number for lr")
    if not math.isfinite(smooth):
        raise ValueError("lr='auto' cannot measure the curvature of the loss: the squares "
                         "of X overflow float64 arithmetic; rescale X (or fit a linear "
                         "model with precondition='standardize')")
    return 1.0 / smooth


def power_iteration(hessian_times: Callable[[Any], Any], v: Any, norm: Callable[[Any], float],
                    max_iter: int = POWER_MAX_ITER, rtol: float = POWER_RTOL) -> float:
    """Largest eigenvalue of a symmetric PSD operator: ``||H v||`` with ``v`` converged.

    ``||H v|| <= lambda_max`` for a unit ``v``, so the estimate never overshoots;
    ``1 / estimate`` stays below the divergence bound ``2 / lambda_max`` as soon as
    the estimate passes half of lambda_max, which takes a handful of products.
    """
    scale = norm(v)
    v = [x / scale for x in v] if isinstance(v, list) else v / scale
    lam = 0.0
    for _ in range(max_iter):
        u = hessian_times(v)
        new = norm(u)
        if new == 0.0:
            return 0.0
        v = [x / new for x in u] if isinstance(u, list) else u / new
        if abs(new - lam) <= rtol * new:
            return new
        lam = new
    return lam
