# cython: language_level=3
"""Small compiled helpers of the Python layer (one build: nothing here is per ISA).

``all_finite`` checks arrays without a temporary, ``loss_value`` is a loss
of predictions (``constant_loss`` of one prediction for all), ``cpu_level``
tells gdcore/_dispatch.py which kernel builds the CPU runs,
``openmp_thread_limit`` gives the limit ``n_jobs=-1`` respects, and
``shuffled`` exposes the kernels' row order to the tests. The scans
standardising needs are per ISA: src/_scan.pyx.
"""

import numpy as np

from cython cimport floating
from libc.stdint cimport uint64_t

from _common cimport weights_of
from _loss cimport loss_code, loss_term
from _rng cimport shuffle

cdef extern from *:
    """
    #include <string.h>
    #include <stdint.h>
    /* Whether any of values[0 .. n-1] has every exponent bit set (infinite or NaN):
       integer tests ORed over blocks of 4096 values, which the compiler vectorises
       (an early exit from each value's isfinite() leaves the loop scalar). */
    #define GD_NOT_FINITE(NAME, T, U, SHIFT, EXPONENT)                               \
        static int NAME(const T* values, Py_ssize_t n)                               \
        {                                                                            \
            Py_ssize_t lo, i;                                                        \
            for (lo = 0; lo < n; lo += 4096) {                                       \
                Py_ssize_t hi = n - lo < 4096 ? n : lo + 4096;                       \
                U flags = 0;                                                         \
                for (i = lo; i < hi; i++) {                                          \
                    U bits;                                                          \
                    memcpy(&bits, values + i, sizeof bits);                          \
                    flags |= (((bits >> SHIFT) & EXPONENT) + 1) & (EXPONENT + 1);    \
                }                                                                    \
                if (flags)                                                           \
                    return 1;                                                        \
            }                                                                        \
            return 0;                                                                \
        }
    GD_NOT_FINITE(gd_not_finite_double, double, uint64_t, 52, 0x7FF)
    GD_NOT_FINITE(gd_not_finite_float, float, uint32_t, 23, 0xFF)
    """
    bint gd_not_finite_double(const double* values, Py_ssize_t n) nogil
    bint gd_not_finite_float(const float* values, Py_ssize_t n) nogil


def all_finite(const floating[::1] values):
    """True when no value is NaN or infinite."""
    cdef bint bad = False
    if values.shape[0] == 0:
        return True
    with nogil:
        if floating is double:
            bad = gd_not_finite_double(&values[0], values.shape[0])
        else:
            bad = gd_not_finite_float(&values[0], values.shape[0])
    return not bad


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
