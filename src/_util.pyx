# cython: language_level=3
"""Small compiled helpers of the Python layer (one build: nothing here is per ISA).

``all_finite`` checks arrays without a temporary, ``column_scan`` and
``centred_gram`` measure the columns standardising needs, ``loss_value`` is
a loss of predictions (``constant_loss`` of one prediction for all),
``cpu_level`` tells gdcore/_dispatch.py which kernel builds the CPU runs,
``openmp_thread_limit`` gives the limit ``n_jobs=-1`` respects, and
``shuffled`` exposes the kernels' row order to the tests.
"""

import numpy as np

from cython cimport floating
from libc.math cimport fabs, isfinite, sqrt
from libc.stdint cimport uint64_t
cimport scipy.linalg.cython_blas as blas

from _loss cimport loss_code, loss_term
from _rng cimport shuffle

cdef enum:
    GRAM_ROWS = 4096  # rows per partial sum of centred_gram (gdcore/_runs.py's GRAM_ROWS)
    TOP_COLUMNS = 64  # columns per pass of column_max


def all_finite(const floating[::1] values):
    """True when no value is NaN or infinite."""
    cdef Py_ssize_t i
    cdef bint ok = True
    with nogil:
        for i in range(values.shape[0]):
            if not isfinite(values[i]):
                ok = False
                break
    return ok


cdef inline const double* weights_of(object weights, const double[::1] view) except? NULL:
    """The data of the rows' weights, NULL for None (unweighted)."""
    return NULL if weights is None else &view[0]


cdef inline void run_sum(const floating[:, ::1] X, const double[::1] big,
                         const double[::1] shift, bint square, Py_ssize_t lo,
                         double* part, const double* sw) noexcept nogil:
    """part[j] = sum of u_ij (or u_ij^2), u_ij = X[i, j] / big[j] - shift[j], over the
    run of 256 rows from ``lo`` in row order, each term times row i's weight sw[i]
    unless sw is NULL."""
    cdef Py_ssize_t d = X.shape[1], i, j
    cdef double u, wi = 1.0
    for j in range(d):
        part[j] = 0.0
    for i in range(lo, min(lo + 256, X.shape[0])):
        if sw != NULL:
            wi = sw[i]
        for j in range(d):
            u = X[i, j] / big[j] - shift[j]
            part[j] += wi * (u * u if square else u)


cdef void column_sums(const floating[:, ::1] X, const double[::1] big,
                      const double[::1] shift, bint square, double[::1] part,
                      double[::1] out, const double* sw) noexcept nogil:
    """out[j] += the sums of run_sum over the runs of 256 rows, in row order: the
    rounding of the sums grows as n / 256 + 256, not as n."""
    cdef Py_ssize_t lo, j
    if X.shape[1] == 0:
        return
    for lo in range(0, X.shape[0], 256):
        run_sum(X, big, shift, square, lo, &part[0], sw)
        for j in range(X.shape[1]):
            out[j] += part[j]


def run_sums(const floating[:, ::1] X, const double[::1] big, const double[::1] shift,
             bint square):
    """(runs, d): column_scan's partial sum of each run of 256 rows of u = X / big -
    shift (or u^2), in row order: what rows held apart (gdcore/_runs.py) add up to the
    same sums."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], r
    if big.shape[0] != d or shift.shape[0] != d:
        raise ValueError("big and shift must have one value per column of X")
    out = np.zeros(((n + 255) // 256, d))
    cdef double[:, ::1] parts = out
    if d:
        with nogil:
            for r in range(parts.shape[0]):
                run_sum(X, big, shift, square, r * 256, &parts[r, 0], NULL)
    return out


cdef void column_max(const floating[:, ::1] X, double* big) noexcept nogil:
    """big[j] = the largest |X[i, j]|, TOP_COLUMNS columns at a time, each group's
    held in a local array meanwhile: one the compiler knows X does not alias, so
    the loop over a row's columns vectorises."""
    cdef double top[TOP_COLUMNS]
    cdef Py_ssize_t i, j, first = 0, width
    cdef double v
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


def column_scan(const floating[:, ::1] X, bint centre, bint squares=False, weights=None):
    """(big, mean, sq): each column's largest magnitude (1 for a column of zeros), if
    ``centre`` the mean of the column divided by it (else zeros), and if ``squares``
    the sum of squares of the column divided by it, less that mean (else zeros).
    With ``weights`` (n doubles summing to n), the weighted mean and sums of squares.

    Dividing by ``big`` first keeps every value in [-1, 1], so nothing overflows
    or underflows for data near 1e300 or 1e-300. Rows are read in order, as
    they lie in memory (numpy's reductions along axis 0 take several times as
    long on a small X, and this runs before every standardised fit).
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], j
    big_out, mean_out, sq_out = np.zeros(d), np.zeros(d), np.zeros(d)
    cdef double[::1] big = big_out, mean = mean_out, sq = sq_out
    cdef double[::1] part = np.zeros(d), zero = np.zeros(d)
    cdef const double[::1] wv = weights
    cdef const double* sw = weights_of(weights, wv)
    if weights is not None and wv.shape[0] != n:
        raise ValueError("weights must have one value per row of X")
    with nogil:
        if d:
            column_max(X, &big[0])
        for j in range(d):
            if big[j] == 0:
                big[j] = 1.0
        if centre:
            column_sums(X, big, zero, False, part, mean, sw)
            for j in range(d):
                mean[j] /= n
        if squares:
            column_sums(X, big, mean, True, part, sq, sw)
    return big_out, mean_out, sq_out


def centred_gram(const floating[:, ::1] X, const double[::1] big, const double[::1] mean,
                 weights=None):
    """G = U^T U for u_ij = X[i, j] / big[j] - mean[j] (column_scan's big and mean):
    the centred Gram matrix of the columns divided by their largest magnitudes;
    with ``weights``, U^T diag(weights) U (each row scaled by its weight's root).

    Blocks of 256 rows are centred into a buffer, each added by one BLAS syrk
    into the sum of its run of GRAM_ROWS rows, and each run's sum into G in
    row order: runs of rows held apart (the shards of gdcore/dask.py) add up
    to the same G. One call from Python however many rows; X is never copied.
    """
    cdef Py_ssize_t n = X.shape[0], lo = 0, i, j, k
    cdef int d = X.shape[1], m
    if big.shape[0] != d or mean.shape[0] != d:
        raise ValueError("big and mean must have one value per column of X")
    gram_out = np.zeros((d, d))
    cdef double[:, ::1] G = gram_out
    cdef double[:, ::1] R = np.zeros((max(d, 1), max(d, 1)))
    cdef double[:, ::1] U = np.empty((256, max(d, 1)))
    cdef double one = 1.0
    cdef char* upper = b"U"
    cdef char* plain = b"N"
    cdef double root = 1.0
    cdef const double[::1] wv = weights
    cdef const double* sw = weights_of(weights, wv)
    if weights is not None and wv.shape[0] != n:
        raise ValueError("weights must have one value per row of X")
    if d == 0:
        return gram_out
    with nogil:
        while lo < n:
            m = <int>min(256, n - lo)
            for i in range(m):
                if sw != NULL:
                    root = sqrt(sw[lo + i])
                for j in range(d):
                    U[i, j] = root * (X[lo + i, j] / big[j] - mean[j])
            # row-major U is the column-major d x m matrix U^T: R += U^T (U^T)^T
            blas.dsyrk(upper, plain, &d, &m, &one, &U[0, 0], &d, &one, &R[0, 0], &d)
            lo += 256
            if lo % GRAM_ROWS == 0 or lo >= n:  # the run's end: into G, R from zero
                for j in range(d):
                    for k in range(j, d):
                        G[k, j] += R[k, j]
                        R[k, j] = 0.0
        for j in range(d):  # syrk filled the column-major upper triangle: the rows' lower one
            for k in range(j + 1, d):
                G[j, k] = G[k, j]
    return gram_out


def loss_value(str loss, double e, const floating[::1] y_true, const floating[::1] y_pred):
    """The mean loss of predictions ``y_pred`` for targets ``y_true``."""
    cdef int kind = loss_code(loss)
    cdef double total = 0.0
    cdef Py_ssize_t i
    if y_true.shape[0] != y_pred.shape[0] or y_true.shape[0] == 0:
        raise ValueError("y_true and y_pred must have the same, non-zero length")
    with nogil:
        for i in range(y_true.shape[0]):
            total += loss_term(kind, <double>y_pred[i] - y_true[i], e)
    return total / y_true.shape[0]


def constant_loss(str loss, double e, const floating[::1] y_true, double prediction,
                  weights=None):
    """The mean loss of predicting ``prediction`` for every target (no temporary),
    each term times its weight if ``weights`` (summing to n) are given."""
    cdef int kind = loss_code(loss)
    cdef double total = 0.0
    cdef Py_ssize_t i
    cdef const double[::1] wv = weights
    cdef const double* sw = weights_of(weights, wv)
    if y_true.shape[0] == 0:
        raise ValueError("y_true must not be empty")
    if weights is not None and wv.shape[0] != y_true.shape[0]:
        raise ValueError("weights must have one value per target")
    with nogil:
        for i in range(y_true.shape[0]):
            total += (1.0 if sw == NULL else sw[i]) * loss_term(kind, prediction - y_true[i], e)
    return total / y_true.shape[0]


def shuffled(Py_ssize_t n, uint64_t seed, Py_ssize_t times):
    """The row order after ``times`` epochs' shuffles of 0..n-1 (gdcore/_random.py's, compiled):
    early stopping's held-out rows, and the tests of the two against each other."""
    cdef Py_ssize_t[::1] order = np.arange(n, dtype=np.intp)
    cdef uint64_t state = seed
    cdef Py_ssize_t t
    if n > 0:
        for t in range(times):
            shuffle(&order[0], n, &state)
    return np.asarray(order)


cdef extern from *:
    """
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    static int gdcore_cpu_level(void) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("x86-64-v4")) return 4;
        if (__builtin_cpu_supports("x86-64-v3")) return 3;
        return 1;
    }
    #else
    static int gdcore_cpu_level(void) { return 0; }
    #endif
    """
    int gdcore_cpu_level() nogil


def cpu_level():
    """x86-64 micro-architecture level of this CPU (1, 3 or 4; 0 if not x86)."""
    return gdcore_cpu_level()


cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int gdcore_openmp_limit(void) { return omp_get_max_threads(); }
    #else
    static int gdcore_openmp_limit(void) { return 0; }
    #endif
    """
    int gdcore_openmp_limit() nogil


def openmp_thread_limit():
    """OpenMP's thread limit for this thread (OMP_NUM_THREADS, or what threadpoolctl
    set), or 0 in a build without OpenMP."""
    return gdcore_openmp_limit()
