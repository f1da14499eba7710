# cython: language_level=3
"""The floor of an epoch: the smallest loop that reads X once (``gdcore bench``).

Built once per ISA like the linear pass, so the floor it measures is the one
the pass could reach on this CPU.
"""

from cython cimport floating


cdef extern from "_simd.h" nogil:
    void gd_prefetch_listed(const void* X, const void* y, Py_ssize_t size, Py_ssize_t d,
                            const Py_ssize_t* rows, Py_ssize_t k, Py_ssize_t n_listed)


def read_floor(const floating[:, ::1] X, Py_ssize_t reps=1, const Py_ssize_t[::1] order=None):
    """The floor of any epoch: read every value of X once (summing it), ``reps`` times.

    A minimal loop with 32 independent accumulators, so it runs at the speed
    the memory (or cache) delivers X; the benchmark's reference for an epoch.
    With ``order`` (a permutation of the rows), the rows are read in that
    order, each prefetched GD_AHEAD rows ahead as the kernel's mini-batch
    passes do: the floor of a mini-batch epoch, whose rows come at random.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], m = n * d, k, j, t
    cdef const floating* values = &X[0, 0]
    cdef const floating* row
    cdef floating acc[32]
    cdef floating row_sum
    cdef double total = 0.0
    if order is not None:
        if order.shape[0] != n or n == 0:
            raise ValueError("order must list the rows of X, one entry per row")
        for k in range(n):
            if not 0 <= order[k] < n:
                raise ValueError(f"order[{k}] = {order[k]} is not a row of X")
    with nogil:
        for t in range(reps if order is not None else 0):
            for j in range(32):
                acc[j] = 0
            for k in range(n):  # a vectorised sum per row, into four running totals
                gd_prefetch_listed(values, NULL, sizeof(floating), d, &order[0], k, n)
                row = values + order[k] * d
                row_sum = 0
                for j in range(d):
                    row_sum += row[j]
                acc[k & 3] += row_sum
            for j in range(32):
                total += acc[j]
        for t in range(reps if order is None else 0):
            for j in range(32):
                acc[j] = 0
            for k in range(0, m - m % 32, 32):
                for j in range(32):
                    acc[j] += values[k + j]
            for k in range(m - m % 32, m):
                acc[0] += values[k]
            for j in range(32):
                total += acc[j]
    return total
