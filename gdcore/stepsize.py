"""Step sizes: what ``lr="auto"`` takes, from the curvature of the MSE."""

from __future__ import annotations

from typing import Optional


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
    b = n_samples if batch_size is None else batch_size
    if n_samples > 1 and b < n_samples:
        smooth = (n_samples * (b - 1) * curvature + (n_samples - b) * row_curvature) / (
            b * (n_samples - 1))
    else:
        smooth = curvature
    if not smooth > 0:
        raise ValueError("lr='auto' needs data with some variation (the loss has no "
                         "curvature here); pass a number for lr")
    return 1.0 / smooth
