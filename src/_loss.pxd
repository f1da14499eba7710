# Per-row loss terms shared by every kernel. r = y_hat - y (the residual).
from cython cimport floating
from libc.math cimport fabs

cdef enum LossKind:
    MSE = 0
    MAE = 1


cdef inline floating loss_term(int kind, floating r) noexcept nogil:
    """One row's loss: r**2 (MSE) or |r| (MAE)."""
    if kind == MSE:
        return r * r
    return fabs(r)


cdef inline floating loss_slope(int kind, floating r) noexcept nogil:
    """d(term)/d(y_hat): 2 r (MSE) or sign(r) with sign(0) = 0 (MAE)."""
    if kind == MSE:
        return 2 * r
    return <floating>((r > 0) - (r < 0))
