# What every compiled module shares: how a run ends, the objective interface, the rows' weights.
#
# An objective is any model's loss on its data, seen from the epoch loop
# (src/_loop.pyx) as one function that returns additive sums over rows:
#
#     loss_sum = sums(ctx, params, rows, first, n, grad)
#
# over rows first .. first+n-1 (rows == NULL) or rows[first .. first+n-1]
# (a mini-batch of the order ``rows``; its entries hold row numbers for 64
# rows, a block and a batch past the batch, or to n_rows: a pass may read the
# rows listed ahead; a "blocks" order is a window, see _loop.pyx's next_block), at
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


cdef inline const double* weights_of(object weights, const double[::1] view) except? NULL:
    """The data of the rows' weights, NULL for None (unweighted)."""
    return NULL if weights is None else &view[0]


cdef extern from *:
    """
    #define GD_OBJECTIVE_CAPSULE "gdcore.Objective"
    """
    const char* OBJECTIVE_CAPSULE "GD_OBJECTIVE_CAPSULE"

cdef extern from "_prefetch.h" nogil:
    void warm_bytes "gd_warm_bytes"(const void* start, Py_ssize_t size)

ctypedef double (*SumsFunction)(void* ctx, const void* params, const Py_ssize_t* rows,
                                Py_ssize_t first, Py_ssize_t n, double* grad) noexcept nogil

cdef struct Rows:
    # Where row i of an objective's data lies: X + i * row_bytes (row_bytes bytes),
    # its target at y + i * itemsize, its weight at sw + i * itemsize (sw may be
    # NULL; X is NULL for data not in memory). The epoch loop asks for rows it will
    # read soon (warm_rows).
    const char* X
    Py_ssize_t row_bytes
    const char* y
    const char* sw
    # With ``sweeps``, a pass over listed rows (a mini-batch) asks for the rows from
    # ``sweep`` (NULL: none) as it goes, one for each row it sums: the loop's next
    # block, asked for at the pace the pass reads (in one burst, the asks fill the
    # core's miss buffers and stall it).
    bint sweeps
    const char* sweep


cdef struct Objective:
    SumsFunction sums
    void* ctx
    Rows rows
    Py_ssize_t n_rows
    Py_ssize_t n_params
    Py_ssize_t itemsize   # of the parameters' (and the data's) type: 4 or 8


cdef inline void warm_targets(const Objective* obj, Py_ssize_t first, Py_ssize_t n) noexcept nogil:
    """The targets and weights of rows first .. first+n-1 asked into the cache."""
    cdef Py_ssize_t size = obj.itemsize
    warm_bytes(obj.rows.y + first * size, n * size)
    if obj.rows.sw != NULL:
        warm_bytes(obj.rows.sw + first * size, n * size)


cdef inline void warm_rows(const Objective* obj, Py_ssize_t first, Py_ssize_t n) noexcept nogil:
    """Rows first .. first+n-1 of the objective's data asked into the cache."""
    if obj.rows.X == NULL:
        return
    warm_bytes(obj.rows.X + first * obj.rows.row_bytes, n * obj.rows.row_bytes)
    warm_targets(obj, first, n)
