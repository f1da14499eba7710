"""Standardising as a change of variables: the coordinates a linear fit runs in.

With column means m and scales s, a linear model [w, b] is fitted in
v = s * w and c = b + m . w, for which x . w + b = ((x - m) / s) . v + c:
the same predictions, and the Hessian of the MSE becomes 2 [C 0; 0 1] with
C the correlation matrix of X, whatever the units of the columns. The
epochs a gradient method needs follow the condition number of that matrix
rather than of the raw one (1e4 to 1e19 on public datasets, 1 to 1e5
after). X is never copied or centred: the row pass reads the raw X, and
only the O(d) step works in v and c (gdcore/loop.py, src/_loop.pyx).

``standardize`` measures m, s and, for up to GRAM_MAX_FEATURES features,
the exact eigenvalues of C from the centred Gram matrix (built block by
block, never from the raw one, whose cancellation would lose the digits),
which gives the step 1/L and the strong convexity mu of the fit.
Without an intercept nothing is centred: s is the root mean square.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from . import _util
from ._dispatch import scan
from .loop import Precondition

#: Up to this many features the centred Gram matrix (O(N d^2), src/_gram.h) gives
#: the exact curvature range; beyond, only the scales are measured.
GRAM_MAX_FEATURES = 256

#: Values per block when scanning X for the rows' norms: the temporaries stay small (32 kB).
BLOCK_VALUES = 4096


@dataclass
class Standardization:
    """The change of variables of a linear fit, and the curvature it leaves.

    ``eigenvalues`` are those of the Hessian of (1/N) sum (a_i . z - y_i)^2 / 2,
    i.e. of (1/N) A^T A with A = [(X - m) / s, 1] (None for wide X): the MSE's
    Hessian is twice that. ``row_max`` = max_i ||a_i||^2 (measured on request).
    ``constant`` flags the columns without variation (left unscaled).
    """

    mean: np.ndarray
    scale: np.ndarray
    intercept: bool
    eigenvalues: Optional[np.ndarray]
    gram: Optional[np.ndarray]
    row_max: float
    constant: np.ndarray

    def error_map(self, hessian: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
        """[J H^-1; H^-1] (2 n_free x n_free), None for wide X (or for tiny columns,
        whose errors in the user's units overflow: the fit then stops on its gradient).
        H is the MSE's Hessian, 2 [C 0; 0 1], or the ``hessian`` given. The MSE is
        quadratic, so at any (w, b) with gradient g in these coordinates
        H^-1 g = z - z*, the Newton step, and J maps it to the user's units
        (dw = dv / s, db = dc - m . dw): the stopping rule bounds both errors,
        (w, b) - (w*, b*) and z - z*."""
        if self.gram is None:
            return None
        H = self.mse_hessian() if hessian is None else hessian
        H_inv = np.linalg.pinv(H, hermitian=True) if self.rank_deficient else np.linalg.inv(H)
        d, n_free = self.scale.shape[0], H_inv.shape[0]
        out = np.empty((2 * n_free, n_free))
        out[n_free:] = H_inv
        M = out[:n_free]
        with np.errstate(over="ignore", invalid="ignore"):
            np.divide(H_inv[:d], self.scale[:, None], out=M[:d])
            if self.intercept:
                np.subtract(H_inv[d], self.mean @ M[:d], out=M[d])
        if not _util.all_finite(out.reshape(-1)):
            return None  # errors in the user's units beyond float64: none to measure
        return out

    def mse_hessian(self) -> np.ndarray:
        """The MSE's Hessian in these coordinates, 2 [C 0; 0 1] (not for wide X)."""
        assert self.gram is not None
        return 2.0 * self.gram

    def precondition(self) -> Precondition:
        return Precondition(self.scale, self.mean, self.mean / self.scale, self.intercept)

    @property
    def largest(self) -> float:
        """lambda_max of (1/N) A^T A (exact up to GRAM_MAX_FEATURES features, else a bound)."""
        if self.eigenvalues is not None:
            return float(self.eigenvalues[-1])
        # the correlation matrix has trace d, and lambda_max <= trace
        return float(self.scale.shape[0] + self.intercept)

    @property
    def smallest(self) -> Optional[float]:
        """The smallest eigenvalue that is not zero to rounding (None for wide X)."""
        return None if self.eigenvalues is None else smallest_positive(self.eigenvalues)

    @property
    def rank_deficient(self) -> bool:
        if self.eigenvalues is None:
            return bool(self.constant.any() and self.intercept)
        floor = self.largest * self.eigenvalues.shape[0] * np.finfo(np.float64).eps
        return bool(self.eigenvalues[0] <= floor)

    @property
    def condition(self) -> Optional[float]:
        """lambda_max / lambda_min of the standardised Hessian (inf when singular)."""
        if self.eigenvalues is None:
            return None
        low = float(self.eigenvalues[0])
        return self.largest / low if low > 0 else math.inf


def smallest_positive(eigenvalues: np.ndarray) -> Optional[float]:
    """The smallest of ascending ``eigenvalues`` that is not zero to rounding (None if
    none is)."""
    floor = eigenvalues[-1] * eigenvalues.shape[0] * np.finfo(np.float64).eps
    positive = eigenvalues[eigenvalues > floor]
    return float(positive[0]) if positive.size else None


def row_blocks(X: np.ndarray):
    """(first row, block of rows) over X, BLOCK_VALUES values a block: the temporaries
    of a block's arithmetic stay small."""
    rows = max(16, BLOCK_VALUES // X.shape[1])
    for lo in range(0, X.shape[0], rows):
        yield lo, X[lo:lo + rows]


def standardize(X: np.ndarray, fit_intercept: bool, rows: bool = False,
                weights: Optional[np.ndarray] = None) -> Standardization:
    """Means (with an intercept), scales and the standardised curvature of X, for
    rows weighted by ``weights`` (mean 1) if given: weighted means, scales and Gram
    matrix, and the rows' curvature w_i ||a_i||^2.

    Passes over X in blocks: the columns' largest magnitudes (so that nothing
    overflows or underflows, data near 1e300 or 1e-300 included), the means,
    then the centred Gram matrix (or the sums of squares, for wide X); one
    more for ``row_max`` when ``rows`` (mini-batch steps).
    """
    wide = X.shape[1] > GRAM_MAX_FEATURES
    # the columns divided by ``big`` (powers of two) lie in (-2, 2); centred, less ``mean``
    big, mean, squares = scan.column_scan(X, fit_intercept, squares=wide, weights=weights)
    gram = None if wide else scan.centred_gram(X, big, mean, weights)

    def row_max(unit_scale: np.ndarray) -> float:
        return rows_max(X, fit_intercept, big, mean, unit_scale, weights)
    return from_scans(X.shape[0], fit_intercept, big, mean, squares, gram,
                      row_max if rows else None)


def rows_max(X: np.ndarray, fit_intercept: bool, big: np.ndarray, mean: np.ndarray,
             unit_scale: np.ndarray, weights: Optional[np.ndarray] = None) -> float:
    """max_i w_i ||a_i||^2 over the rows of X in standardised coordinates, a_i = [(x_i /
    big - mean) / unit_scale, 1] (0 for no rows; the caller takes the max over blocks)."""
    largest = 0.0
    for lo, B in row_blocks(X):
        C = (B / big - mean) / unit_scale
        norms = np.einsum("ij,ij->i", C, C) + float(fit_intercept)
        if weights is not None:
            norms *= weights[lo:lo + B.shape[0]]
        largest = max(largest, float(np.max(norms)))
    return largest


def from_scans(n: int, fit_intercept: bool, big: np.ndarray, mean: np.ndarray,
               squares: np.ndarray, gram: Optional[np.ndarray],
               row_max: Optional[Callable[[np.ndarray], float]] = None) -> Standardization:
    """The Standardization of n rows from ``_scan.column_scan``'s (big, mean, squares)
    and ``_scan.centred_gram``'s matrix (None for wide X), however they were summed:
    in memory, or chunk by chunk on a cluster (gdcore/dask.py). ``row_max`` maps the
    unit scales to max_i ||a_i||^2 (None: not measured)."""
    d = big.shape[0]
    if gram is not None:
        squares = gram.diagonal()
    unit_scale = np.sqrt(squares / n)
    tiny = 1e3 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), unit_scale)
    constant = ~(unit_scale > tiny) | (unit_scale == 0)
    unit_scale = np.where(constant, 1.0, unit_scale)
    # the coordinates divide by the scales: below the normal range (subnormal data) they
    # have no finite reciprocal, so such columns are scaled by the smallest normal number
    unit_scale = np.maximum(unit_scale, np.finfo(np.float64).tiny / big)
    eigenvalues = corr = None
    if gram is not None:
        corr = gram / n / np.outer(unit_scale, unit_scale)
        if fit_intercept:  # the centred columns are orthogonal to the intercept's
            bordered = np.zeros((d + 1, d + 1))
            bordered[:d, :d], bordered[d, d] = corr, 1.0
            corr = bordered
        eigenvalues = np.linalg.eigvalsh(corr)
    return Standardization(mean * big, unit_scale * big, fit_intercept, eigenvalues, corr,
                           math.nan if row_max is None else row_max(unit_scale), constant)
