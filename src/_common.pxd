# What every kernel module shares: how a run ends, and the objective interface.
#
# An objective is any model's loss on its data, seen from the epoch loop
# (src/_loop.pyx) as one function that returns additive sums over rows:
#
#     loss_sum = sums(ctx, params, rows, first, n, grad)
#
# over rows first .. first+n-1 (rows == NULL) or rows[first .. first+n-1]
# (a mini-batch of the order ``rows``, which lists all ``n_rows`` rows), at
# ``params`` (``n_params`` values of the model's dtype). It returns the sum
# of the loss terms and writes the sums of their gradients into ``grad``
# (``n_params`` doubles, overwritten), unless ``grad`` is NULL: then the
# loss alone (a network skips its backward pass). Sums, not means: the loop divides,
# and sums of blocks of rows add up (weights, chunks on other machines).
# The pass modules (_pass_linear, _pass_mlp) hand the loop a pointer to an
# Objective in a PyCapsule named OBJECTIVE_CAPSULE.

from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBuffer_Release, PyObject_GetBuffer


cdef inline void* address(object a) except? NULL:
    """Where the data of the C-contiguous array ``a`` start (the caller keeps ``a``
    alive): its buffer, without the ctypes object ``a.ctypes.data`` builds (1 us)."""
    cdef Py_buffer view
    PyObject_GetBuffer(a, &view, PyBUF_C_CONTIGUOUS)
    cdef void* data = view.buf
    PyBuffer_Release(&view)
    return data


cdef extern from *:
    """
    #define GD_OBJECTIVE_CAPSULE "gdcore.Objective"
    """
    const char* OBJECTIVE_CAPSULE "GD_OBJECTIVE_CAPSULE"

ctypedef double (*SumsFunction)(void* ctx, const void* params, const Py_ssize_t* rows,
                                Py_ssize_t first, Py_ssize_t n, double* grad) noexcept nogil

cdef struct Objective:
    SumsFunction sums
    void* ctx
    Py_ssize_t n_rows
    Py_ssize_t n_params
    Py_ssize_t itemsize   # of the parameters' (and the data's) type: 4 or 8
