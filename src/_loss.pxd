# Per-row losses for the Cython passes: the C definitions of _loss.h, by dtype.
from cython cimport floating

cdef extern from "_loss.h" nogil:
    enum:
        MSE "GD_MSE"
        MAE "GD_MAE"
        HUBER "GD_HUBER"
        SMOOTH_MAE "GD_SMOOTH_MAE"
    double term_double "gd_term_double"(int kind, double r, double e)
    float term_float "gd_term_float"(int kind, float r, float e)
    double slope_double "gd_slope_double"(int kind, double r, double e)
    float slope_float "gd_slope_float"(int kind, float r, float e)


cdef inline floating loss_term(int kind, floating r, floating e) noexcept nogil:
    """One row's loss (see _loss.h)."""
    if floating is double:
        return term_double(kind, r, e)
    else:
        return term_float(kind, r, e)


cdef inline floating loss_slope(int kind, floating r, floating e) noexcept nogil:
    """d(term)/d(y_hat) of one row (see _loss.h)."""
    if floating is double:
        return slope_double(kind, r, e)
    else:
        return slope_float(kind, r, e)


cdef inline int loss_code(str name) except -1:
    """The kind of a loss named as gdcore/losses.py names it."""
    codes = {"mse": MSE, "mae": MAE, "huber": HUBER, "smooth_mae": SMOOTH_MAE}
    if name not in codes:
        raise ValueError(f"unknown loss {name!r}: expected one of {sorted(codes)}")
    return codes[name]
