# Per-row loss terms shared by every kernel. r = y_hat - y (the residual).
from libc.math cimport fabs

cdef enum LossKind:
    MSE = 0
    MAE = 1


cdef inline double loss_term(int kind, double r) noexcept nogil:
    """One row's loss: r**2 (MSE) or |r| (MAE)."""
    if kind == MSE:
        return r * r
    return fabs(r)


cdef inline double loss_slope(int kind, double r) noexcept nogil:
    """d(term)/d(y_hat): 2 r (MSE) or sign(r) with sign(0) = 0 (MAE)."""
    if kind == MSE:
        return 2.0 * r
    return <double>((r > 0) - (r < 0))
