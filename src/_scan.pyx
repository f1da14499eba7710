# cython: language_level=3
"""The scans standardising needs, built per ISA (gdcore/_dispatch.py picks one).

``column_scan`` gives each column's magnitude, mean and sum of squares,
``run_sums`` its sums run by run, ``centred_gram`` the centred Gram matrix.
Every value is taken in units of its column's magnitude ``big``, a power of
two: multiplying by its reciprocal is exact, so nothing overflows or
underflows at any scale and no rounding is added. Sums go in a fixed order
(row order; a single column as four interleaved sums), one product and one
addition a term (built with -ffp-contract=off), so each ISA build gives the
same bits and runs of rows held apart (gdcore/_runs.py) add up to the same
numbers.
"""

import numpy as np

from cython cimport floating
from libc.math cimport fabs, frexp, ldexp, sqrt

from _common cimport weights_of

cdef extern from "_gram.h":
    int GD_GRAM_LANES
    ctypedef struct gd_gram_ahead:
        const char* at
        const char* end
    void gd_gram_block(const double* U, Py_ssize_t m, Py_ssize_t dp, double* R,
                       gd_gram_ahead ahead) noexcept nogil
    void gd_centre_double(const double* x, const double* inv, const double* mean, double root,
                          Py_ssize_t d, double* u) noexcept nogil
    void gd_centre_float(const float* x, const double* inv, const double* mean, double root,
                         Py_ssize_t d, double* u) noexcept nogil

cdef enum:
    RUN = 256  # rows per partial sum of column_scan (gdcore/_runs.py's RUN)
    GRAM_ROWS = 4096  # rows per partial sum of centred_gram (gdcore/_runs.py's GRAM_ROWS)
    GRAM_BLOCK = 128  # rows of a block of centred values (GRAM_ROWS is a multiple)
    TOP_COLUMNS = 64  # columns per pass of column_max


cdef double[::1] reciprocals(const double[::1] big, Py_ssize_t d):
    """1 / big, checked to be exact: big must hold d powers of two (column_scan's)."""
    if big.shape[0] != d:
        raise ValueError("big must have one value per column of X")
    out = np.empty(d)
    cdef double[::1] inv = out
    cdef Py_ssize_t j
    cdef int e
    for j in range(d):
        if not (big[j] > 0 and frexp(big[j], &e) == 0.5 and 1.0 / big[j] * big[j] == 1.0):
            raise ValueError(f"big must hold powers of two (column_scan's), got {big[j]!r}")
        inv[j] = 1.0 / big[j]
    return inv


cdef inline void run_sum(const floating[:, ::1] X, const double* inv, const double* shift,
                         bint square, Py_ssize_t lo, double* part,
                         const double* sw) noexcept nogil:
    """part[j] = sum of u_ij (or u_ij^2), u_ij = X[i, j] * inv[j] - shift[j], over the
    run of RUN rows from ``lo`` in row order (one column: four sums of every fourth
    row, then added), each term times row i's weight sw[i] unless sw is NULL."""
    cdef Py_ssize_t d = X.shape[1], hi = min(lo + RUN, X.shape[0]), i, j, k
    cdef double u, wi = 1.0
    cdef double t[4]
    if d == 1:  # one column (y): row lo + 4q + k into t[k], t added at the end (one sum
        # would make each addition wait for the one before)
        t[0] = t[1] = t[2] = t[3] = 0.0
        for i in range(lo, hi):
            k = (i - lo) & 3
            if sw != NULL:
                wi = sw[i]
            u = X[i, 0] * inv[0] - shift[0]
            t[k] += wi * (u * u if square else u)
        part[0] = (t[0] + t[1]) + (t[2] + t[3])
        return
    for j in range(d):
        part[j] = 0.0
    for i in range(lo, hi):
        if sw != NULL:
            wi = sw[i]
        for j in range(d):
            u = X[i, j] * inv[j] - shift[j]
            part[j] += wi * (u * u if square else u)


cdef void column_sums(const floating[:, ::1] X, const double* inv, const double* shift,
                      bint square, double* part, double* out, const double* sw) noexcept nogil:
    """out[j] += the sums of run_sum over the runs of RUN rows, in row order: the
    rounding of the sums grows as n / RUN + RUN, not as n."""
    cdef Py_ssize_t lo = 0, j
    while lo < X.shape[0]:
        run_sum(X, inv, shift, square, lo, part, sw)
        for j in range(X.shape[1]):
            out[j] += part[j]
        lo += RUN


def run_sums(const floating[:, ::1] X, const double[::1] big, const double[::1] shift,
             bint square):
    """(runs, d): column_scan's partial sum of each run of RUN rows of u = X / big -
    shift (or u^2), in row order: what rows held apart (gdcore/_runs.py) add up to the
    same sums."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], r
    cdef double[::1] inv = reciprocals(big, d)
    if shift.shape[0] != d:
        raise ValueError("shift must have one value per column of X")
    out = np.zeros(((n + RUN - 1) // RUN, d))
    cdef double[:, ::1] parts = out
    if d:
        with nogil:
            for r in range(parts.shape[0]):
                run_sum(X, &inv[0], &shift[0], square, r * RUN, &parts[r, 0], NULL)
    return out


cdef void column_max(const floating[:, ::1] X, double* big) noexcept nogil:
    """big[j] = the largest |X[i, j]|, TOP_COLUMNS columns at a time, each group's
    held in a local array meanwhile: one the compiler knows X does not alias, so
    the loop over a row's columns vectorises."""
    cdef double top[TOP_COLUMNS]
    cdef Py_ssize_t i, j, first = 0, width
    cdef double v
    if X.shape[1] == 1:  # one column (y): four maxima, of rows 4q + k, so they overlap
        top[0] = top[1] = top[2] = top[3] = 0.0
        for i in range(X.shape[0]):
            v = fabs(X[i, 0])
            top[i & 3] = v if v > top[i & 3] else top[i & 3]
        big[0] = max(max(top[0], top[1]), max(top[2], top[3]))
        return
    while first < X.shape[1]:
        width = X.shape[1] - first if X.shape[1] - first < TOP_COLUMNS else TOP_COLUMNS
        for j in range(width):
            top[j] = 0.0
        for i in range(X.shape[0]):
            for j in range(width):
                v = fabs(X[i, first + j])
                top[j] = v if v > top[j] else top[j]
        for j in range(width):
            big[first + j] = top[j]
        first += TOP_COLUMNS


cdef inline double power_of_two_below(double top) noexcept nogil:
    """The largest power of two <= top (1 for 0), at least the smallest normal number
    (whose reciprocal is finite): then |x| / it < 2 for every |x| <= top."""
    cdef int e
    if top == 0:
        return 1.0
    frexp(top, &e)  # top = f 2^e, 0.5 <= f < 1
    return ldexp(1.0, e - 1 if e - 1 > -1022 else -1022)


def column_scan(const floating[:, ::1] X, bint centre, bint squares=False, weights=None):
    """(big, mean, sq): each column's magnitude ``big``, the power of two at or below its
    largest |value| (1 for a column of zeros), if ``centre`` the mean of the column
    divided by it (else zeros), and if ``squares`` the sum of squares of the column
    divided by it, less that mean (else zeros). With ``weights`` (n doubles summing
    to n), the weighted mean and sums of squares.

    The divided values lie in (-2, 2), so nothing overflows or underflows for data
    near 1e300 or 1e-300. Rows are read in order, as they lie in memory (numpy's
    reductions along axis 0 take several times as long on a small X, and this runs
    before every standardised fit).
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], j
    big_out, mean_out, sq_out = np.zeros(d), np.zeros(d), np.zeros(d)
    cdef double[::1] big = big_out, mean = mean_out, sq = sq_out
    cdef double[::1] part = np.zeros(d), zero = np.zeros(d), inv = np.zeros(d)
    cdef const double[::1] wv = weights
    cdef const double* sw = weights_of(weights, wv)
    if weights is not None and wv.shape[0] != n:
        raise ValueError("weights must have one value per row of X")
    if d == 0:
        return big_out, mean_out, sq_out
    with nogil:
        column_max(X, &big[0])
        for j in range(d):
            big[j] = power_of_two_below(big[j])
            inv[j] = 1.0 / big[j]
        if centre:
            column_sums(X, &inv[0], &zero[0], False, &part[0], &mean[0], sw)
            for j in range(d):
                mean[j] /= n
        if squares:
            column_sums(X, &inv[0], &mean[0], True, &part[0], &sq[0], sw)
    return big_out, mean_out, sq_out


def centred_gram(const floating[:, ::1] X, const double[::1] big, const double[::1] mean,
                 weights=None):
    """G = U^T U for u_ij = X[i, j] / big[j] - mean[j] (column_scan's big and mean):
    the centred Gram matrix of the columns in units of their magnitudes; with
    ``weights``, U^T diag(weights) U (each row scaled by its weight's root).

    Blocks of GRAM_BLOCK rows are centred into a buffer and added by
    src/_gram.h into the sum of their run of GRAM_ROWS rows, each run's sum
    into G in row order: runs of rows held apart (the shards of
    gdcore/dask.py) add up to the same G. One call from Python however many
    rows; X is never copied.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], lo = 0, i, j, k, m
    cdef double[::1] inv = reciprocals(big, d)
    if mean.shape[0] != d:
        raise ValueError("mean must have one value per column of X")
    cdef Py_ssize_t dp = max(1, (d + GD_GRAM_LANES - 1) // GD_GRAM_LANES) * GD_GRAM_LANES
    gram_out = np.zeros((d, d))
    cdef double[:, ::1] G = gram_out
    cdef double[:, ::1] R = np.zeros((dp, dp))
    cdef double[:, ::1] U = np.zeros((GRAM_BLOCK, dp))  # columns d.. stay 0
    cdef double root = 1.0
    cdef gd_gram_ahead ahead
    cdef const double[::1] wv = weights
    cdef const double* sw = weights_of(weights, wv)
    if weights is not None and wv.shape[0] != n:
        raise ValueError("weights must have one value per row of X")
    if d == 0:
        return gram_out
    with nogil:
        while lo < n:
            m = min(GRAM_BLOCK, n - lo)
            for i in range(m):
                if sw != NULL:
                    root = sqrt(sw[lo + i])
                if floating is double:
                    gd_centre_double(&X[lo + i, 0], &inv[0], &mean[0], root, d, &U[i, 0])
                else:
                    gd_centre_float(&X[lo + i, 0], &inv[0], &mean[0], root, d, &U[i, 0])
            ahead.at = <const char*>&X[lo + m - 1, 0] + sizeof(floating) * d  # the next block
            ahead.end = <const char*>&X[n - 1, 0] + sizeof(floating) * d
            ahead.end = min(ahead.end, ahead.at + GRAM_BLOCK * d * sizeof(floating))
            gd_gram_block(&U[0, 0], m, dp, &R[0, 0], ahead)
            lo += m
            if lo % GRAM_ROWS == 0 or lo >= n:  # the run's end: into G, R from zero
                for j in range(d):
                    for k in range(j, d):
                        G[j, k] += R[j, k]
                for j in range(dp):
                    for k in range(dp):
                        R[j, k] = 0.0
        for j in range(d):  # the upper triangle into the lower
            for k in range(j + 1, d):
                G[k, j] = G[j, k]
    return gram_out
