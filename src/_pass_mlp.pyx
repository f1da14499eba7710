# cython: language_level=3
"""The pass of multi-layer perceptrons: forward, back-propagation, gradient sums.

A network [n_0, n_1, ..., n_L] (n_0 inputs, n_L = 1 output) keeps all its
parameters in one flat array ``params`` of the model's dtype: layer by layer,
the weights ``W_l`` (n_l x n_{l+1}, row-major, so ``z = a @ W_l + b_l``) then
the biases ``b_l`` (n_{l+1}). Hidden layers apply one activation (tanh, relu,
sigmoid or identity); the output is linear.

The gradient of a block of rows:

* forward: a_0 = x, z_{l+1} = a_l W_l + b_l, a_{l+1} = f(z_{l+1}) (no f on the
  output), every a_l kept;
* loss term and its slope at the output (_loss.h), r = y_hat - y: delta_L;
* backward, l = L-1 .. 0 (the chain rule): dL/dW_l = a_l^T delta_{l+1},
  dL/db_l = sum of delta_{l+1} over rows, then
  delta_l = (delta_{l+1} W_l^T) * f'(a_l), f' read off the kept activation
  (tanh: 1 - a^2, sigmoid: a (1 - a), relu: a > 0).

Rows go through in blocks of at most ``BLOCK`` so every layer's activations
of a block stay in cache; the three products of each layer are BLAS gemm
calls on the block (see "forward, backward" below for why), the activations
and their slopes are loops GCC vectorises. A block's gradient is added into
the sums in double. The epoch loop (src/_loop.pyx) calls the pass through
the Objective of ``MLPObjective``, as it calls the linear one.
"""

import numpy as np

from cpython.pycapsule cimport PyCapsule_New
from cython cimport floating
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from _common cimport address, OBJECTIVE_CAPSULE, Objective
from _loss cimport loss_code, loss_slope, loss_term
cimport scipy.linalg.cython_blas as blas

# Hidden-layer activations, and the names gdcore/models/mlp.py gives them.
cdef enum Activation:
    TANH = 0
    RELU = 1
    SIGMOID = 2
    IDENTITY = 3

ACTIVATIONS = {"tanh": TANH, "relu": RELU, "sigmoid": SIGMOID, "identity": IDENTITY}

# Rows per block: 256 rows of a 64-neuron layer take 128 KB (L2).
cdef enum:
    BLOCK = 256


cdef struct Net:
    Py_ssize_t n_layers     # L: layer_sizes has L + 1 entries
    Py_ssize_t* sizes       # n_0 .. n_L
    Py_ssize_t* w_off       # where W_l starts in params (and W_l^T in the transposed copy)
    Py_ssize_t* b_off       # where b_l starts in params
    Py_ssize_t* a_off       # where a_l of a block starts in the activations buffer
    Py_ssize_t n_params
    Py_ssize_t n_acts       # BLOCK * sum of the sizes
    Py_ssize_t width        # the widest layer
    int activation


cdef int net_init(Net* net, const Py_ssize_t[::1] sizes, int activation) noexcept nogil:
    """Offsets of a network; 0 on success, -1 if out of memory."""
    cdef Py_ssize_t L = sizes.shape[0] - 1, l, p = 0, a = 0
    net.n_layers = L
    net.activation = activation
    net.sizes = <Py_ssize_t*>malloc(4 * (L + 1) * sizeof(Py_ssize_t))
    if net.sizes == NULL:
        return -1
    net.w_off = net.sizes + (L + 1)
    net.b_off = net.w_off + (L + 1)
    net.a_off = net.b_off + (L + 1)
    net.width = 0
    for l in range(L + 1):
        net.sizes[l] = sizes[l]
        net.a_off[l] = a
        a += BLOCK * sizes[l]
        if sizes[l] > net.width:
            net.width = sizes[l]
        if l < L:
            net.w_off[l] = p
            p += sizes[l] * sizes[l + 1]
            net.b_off[l] = p
            p += sizes[l + 1]
    net.n_params = p
    net.n_acts = a
    return 0


cdef struct Work:
    # Buffers of one fit, as void* so one struct serves float32 and float64.
    void* acts      # activations of a block, layer by layer
    void* delta     # dL/dz of a block's layer (two, swapped going backwards)
    void* dprev
    void* gblk      # float32: a block's gradient (params layout), added into the double sums
    void* wt        # W_l^T of the layers after the first (at W_l's offset)


cdef int work_init(Work* w, const Net* net, size_t itemsize) noexcept nogil:
    cdef size_t n = (net.n_acts + 2 * BLOCK * net.width + 2 * net.n_params) * itemsize
    w.acts = malloc(n)
    if w.acts == NULL:
        return -1
    w.delta = <char*>w.acts + net.n_acts * itemsize
    w.dprev = <char*>w.delta + BLOCK * net.width * itemsize
    w.gblk = <char*>w.dprev + BLOCK * net.width * itemsize
    w.wt = <char*>w.gblk + net.n_params * itemsize
    return 0


cdef void work_free(Work* w) noexcept nogil:
    free(w.acts)


# ------------------------------------------------------------ activations --
#
# tanh and the sigmoid are written out so the loops vectorise: libm's tanh is
# a scalar call of ~15 ns, which would cost more than the matrix products.
# exp(x) - 1 by Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, a Taylor
# polynomial for expm1(r) (degree 13 in double, 7 in float: below half an
# ulp), and 2^k built in the exponent bits (k found with the round-to-nearest
# shifter 1.5 * 2^52, resp. 1.5 * 2^23, which stays in floating point). Then
# tanh(x) = -e / (e + 2) with e = expm1(-2|x|) and the sign of x, and the
# sigmoid 1 / (1 + e) or e / (1 + e) with e = exp(-|x|): relative error a few
# ulps over the whole range (tests/test_mlp.py checks it against numpy).
#
# These loops are C for the bit manipulations of 2^k; like the rest of this
# module they are built per ISA (setup.py), so they vectorise to the CPU's
# width (the matrix products get the same from OpenBLAS).

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>

    static inline double gd_scale_d(double t) {  /* 2^k from t = k + 1.5 * 2^52 */
        uint64_t u; double d;
        memcpy(&u, &t, 8); u = (u << 52) + ((uint64_t)1023 << 52); memcpy(&d, &u, 8);
        return d;
    }
    static inline float gd_scale_f(float t) {  /* 2^k from t = k + 1.5 * 2^23 */
        uint32_t u; float f;
        memcpy(&u, &t, 4); u = (u << 23) + ((uint32_t)127 << 23); memcpy(&f, &u, 4);
        return f;
    }
    /* exp(x) = s (1 + p), returns p = expm1(r) and sets s = 2^k; x in [-708, 0] */
    static inline double gd_expm1_d(double x, double *s) {
        double t = x * 1.4426950408889634 + 6755399441055744.0;
        double k = t - 6755399441055744.0;
        double r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
        *s = gd_scale_d(t);
        return r * (1.0 + r * (1.0/2 + r * (1.0/6 + r * (1.0/24 + r * (1.0/120 + r * (
            1.0/720 + r * (1.0/5040 + r * (1.0/40320 + r * (1.0/362880 + r * (
            1.0/3628800 + r * (1.0/39916800 + r * (1.0/479001600
            + r * (1.0/6227020800.0)))))))))))));
    }
    /* the same in float, x in [-87, 0] */
    static inline float gd_expm1_f(float x, float *s) {
        float t = x * 1.44269504f + 12582912.0f;
        float k = t - 12582912.0f;
        float r = (x - k * 0.693145752f) - k * 1.42860677e-06f;
        *s = gd_scale_f(t);
        return r * (1.0f + r * (1.0f/2 + r * (1.0f/6 + r * (1.0f/24 + r * (1.0f/120 + r * (
            1.0f/720 + r * (1.0f/5040 + r * (1.0f/40320))))))));
    }

    #define GD_ACTIVATIONS(T, SUF, ABS, SIGN, TANH_CLAMP, EXP_CLAMP)                  \
    static void gd_tanh_##SUF(T *a, Py_ssize_t n) {                         \
        for (Py_ssize_t i = 0; i < n; i++) {                                          \
            T s, ax = ABS(a[i]);                                                      \
            T p = gd_expm1_##SUF(-2 * (ax < TANH_CLAMP ? ax : TANH_CLAMP), &s);      \
            T e = s * p + (s - 1);                                                    \
            a[i] = SIGN(-e / (e + 2), a[i]);                                          \
        }                                                                             \
    }                                                                                 \
    static void gd_sigmoid_##SUF(T *a, Py_ssize_t n) {                      \
        for (Py_ssize_t i = 0; i < n; i++) {                                          \
            T s, ax = ABS(a[i]);                                                      \
            T p = gd_expm1_##SUF(-(ax < EXP_CLAMP ? ax : EXP_CLAMP), &s);            \
            T e = s * (1 + p);                                                        \
            T q = 1 / (1 + e);                                                        \
            a[i] = a[i] >= 0 ? q : e * q;                                             \
        }                                                                             \
    }                                                                                 \
    static void gd_tanh_slope_##SUF(T *d, const T *a, Py_ssize_t n) {       \
        for (Py_ssize_t i = 0; i < n; i++) d[i] *= 1 - a[i] * a[i];                   \
    }                                                                                 \
    static void gd_sigmoid_slope_##SUF(T *d, const T *a, Py_ssize_t n) {    \
        for (Py_ssize_t i = 0; i < n; i++) d[i] *= a[i] * (1 - a[i]);                 \
    }
    /* tanh(20) and tanh(9.1f) round to 1; exp(-708), exp(-87) are still normal numbers
       (so a float32 sigmoid below -87 stays at ~1.6e-38 instead of going subnormal) */
    GD_ACTIVATIONS(double, d, fabs, copysign, 20.0, 708.0)
    GD_ACTIVATIONS(float, f, fabsf, copysignf, 9.1f, 87.0f)
    """
    void tanh_d "gd_tanh_d"(double* a, Py_ssize_t n) noexcept nogil
    void tanh_f "gd_tanh_f"(float* a, Py_ssize_t n) noexcept nogil
    void sigmoid_d "gd_sigmoid_d"(double* a, Py_ssize_t n) noexcept nogil
    void sigmoid_f "gd_sigmoid_f"(float* a, Py_ssize_t n) noexcept nogil
    void tanh_slope_d "gd_tanh_slope_d"(double* d, const double* a, Py_ssize_t n) noexcept nogil
    void tanh_slope_f "gd_tanh_slope_f"(float* d, const float* a, Py_ssize_t n) noexcept nogil
    void sigmoid_slope_d "gd_sigmoid_slope_d"(double* d, const double* a, Py_ssize_t n) noexcept nogil
    void sigmoid_slope_f "gd_sigmoid_slope_f"(float* d, const float* a, Py_ssize_t n) noexcept nogil


cdef void activate(int activation, floating* a, Py_ssize_t n) noexcept nogil:
    """a <- f(a) in place."""
    cdef Py_ssize_t i
    if activation == TANH:
        if floating is double:
            tanh_d(a, n)
        else:
            tanh_f(a, n)
    elif activation == RELU:
        for i in range(n):
            a[i] = a[i] if a[i] > 0 else 0
    elif activation == SIGMOID:
        if floating is double:
            sigmoid_d(a, n)
        else:
            sigmoid_f(a, n)


cdef void times_slope(int activation, floating* d, const floating* a, Py_ssize_t n) noexcept nogil:
    """d <- d * f'(z), with f'(z) read off the activation a = f(z)."""
    cdef Py_ssize_t i
    if activation == TANH:
        if floating is double:
            tanh_slope_d(d, a, n)
        else:
            tanh_slope_f(d, a, n)
    elif activation == RELU:
        for i in range(n):
            d[i] = d[i] if a[i] > 0 else 0
    elif activation == SIGMOID:
        if floating is double:
            sigmoid_slope_d(d, a, n)
        else:
            sigmoid_slope_f(d, a, n)


# ------------------------------------------------------- forward, backward --
#
# The three products of a layer are BLAS gemm calls (scipy.linalg.cython_blas:
# OpenBLAS picks AVX2/AVX-512 kernels at run time, which the portable -O3
# build of our own loops cannot). Row-major matrices are column-major
# transposes, so: Z = A W is Z^T = W^T A^T; dW = A^T D is dW^T = D^T A;
# dA = D W^T is dA^T = W D^T, with W read from a transposed copy so that all
# three are "N" products: OpenBLAS has small-matrix kernels for those, while a
# transposed first operand takes its packing path (a third slower at 64^3).

cdef inline void gemm(char* tb, int m, int n, int k, const floating* a, int lda,
                      const floating* b, int ldb, floating beta, floating* c,
                      int ldc) noexcept nogil:
    """C = A op(B) + beta C, column-major (BLAS conventions)."""
    cdef floating one = 1
    if floating is double:
        blas.dgemm(b"N", tb, &m, &n, &k, &one, <double*>a, &lda, <double*>b, &ldb, &beta,
                   c, &ldc)
    else:
        blas.sgemm(b"N", tb, &m, &n, &k, &one, <float*>a, &lda, <float*>b, &ldb, &beta,
                   c, &ldc)


cdef void forward(const Net* net, const floating* params, floating* acts,
                  Py_ssize_t m) noexcept nogil:
    """a_{l+1} = f(a_l W_l + b_l) for the m rows of a block, a_0 already in acts."""
    cdef Py_ssize_t L = net.n_layers, l, r, n_in, n_out
    cdef floating* z
    for l in range(L):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        z = acts + net.a_off[l + 1]
        gemm(b"N", n_out, m, n_in, params + net.w_off[l], n_out, acts + net.a_off[l], n_in,
             0, z, n_out)
        add_bias(z, params + net.b_off[l], m, n_out)
        if l < L - 1:
            activate(net.activation, z, m * n_out)


cdef inline void add_bias(floating* z, const floating* b, Py_ssize_t m, Py_ssize_t n) noexcept nogil:
    """z <- z + b on each of the m rows."""
    cdef Py_ssize_t r, j
    for r in range(m):
        for j in range(n):
            z[r * n + j] = z[r * n + j] + b[j]


cdef void transpose_weights(const Net* net, const floating* params, floating* wt) noexcept nogil:
    """W_l^T (n_{l+1} x n_l, row-major) at W_l's offset in wt, for every layer after the
    first (the first passes nothing back). In 8 x 8 tiles, which stay in L1."""
    cdef Py_ssize_t l, i, j, i0, j0, n_in, n_out
    cdef const floating* w
    cdef floating* t
    for l in range(1, net.n_layers):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        w = params + net.w_off[l]
        t = wt + net.w_off[l]
        for i0 in range(0, n_in, 8):
            for j0 in range(0, n_out, 8):
                for i in range(i0, min(i0 + 8, n_in)):
                    for j in range(j0, min(j0 + 8, n_out)):
                        t[j * n_in + i] = w[i * n_out + j]


cdef double block_pass(const Net* net, int kind, double e, const floating* X,
                       const floating* y, const floating* sw, const Py_ssize_t* rows,
                       Py_ssize_t r0, Py_ssize_t m, const floating* params, Work* work,
                       double* g, bint first_block) noexcept nogil:
    """Forward and backward over rows r0 .. r0+m-1 (of ``rows``, or in order if NULL),
    each row's loss term and output slope times its weight sw[k] unless sw is NULL.

    Returns the block's sum of loss terms. Its gradient sums are written into g
    (params layout) if ``first_block``, added to g otherwise; g NULL: the loss
    only (no backward). work.wt holds the transposed weights (transpose_weights).
    """
    cdef Py_ssize_t L = net.n_layers, d = net.sizes[0], l, r, i, j, k, n_in, n_out
    cdef floating* acts = <floating*>work.acts
    cdef floating* delta = <floating*>work.delta
    cdef floating* dprev = <floating*>work.dprev
    cdef floating* tmp
    cdef floating* gblk = <floating*>work.gblk
    cdef const floating* out
    cdef double* gb
    cdef double loss = 0.0, res
    for r in range(m):
        k = rows[r0 + r] if rows != NULL else r0 + r
        memcpy(acts + r * d, X + k * d, d * sizeof(floating))
    forward(net, params, acts, m)
    out = acts + net.a_off[L]
    for r in range(m):  # the output layer has one neuron: delta_L = dL/dy_hat
        k = rows[r0 + r] if rows != NULL else r0 + r
        res = <double>out[r] - y[k]
        if sw != NULL:
            loss += sw[k] * loss_term(kind, res, e)
            delta[r] = <floating>(sw[k] * loss_slope(kind, res, e))
        else:
            loss += loss_term(kind, res, e)
            delta[r] = <floating>loss_slope(kind, res, e)
    if g == NULL:
        return loss
    for l in range(L - 1, -1, -1):  # the chain rule, from the loss back to the input
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        # dL/dW_l = a_l^T delta: straight into the double sums, or through gblk (float32)
        if floating is double:
            gemm(b"T", n_out, n_in, m, delta, n_out, acts + net.a_off[l], n_in,
                 0 if first_block else 1, g + net.w_off[l], n_out)
        else:
            gemm(b"T", n_out, n_in, m, delta, n_out, acts + net.a_off[l], n_in, 0,
                 gblk + net.w_off[l], n_out)
            for i in range(net.w_off[l], net.b_off[l]):
                g[i] = gblk[i] if first_block else g[i] + gblk[i]
        gb = g + net.b_off[l]  # dL/db_l: the column sums of delta, row by row (vectorised)
        if first_block:
            memset(gb, 0, n_out * sizeof(double))
        for r in range(m):
            for j in range(n_out):
                gb[j] += delta[r * n_out + j]
        if l > 0:  # dL/da_l = delta W_l^T, then dL/dz_l = dL/da_l * f'(z_l)
            gemm(b"N", n_in, m, n_out, <floating*>work.wt + net.w_off[l], n_in, delta, n_out,
                 0, dprev, n_in)
            times_slope(net.activation, dprev, acts + net.a_off[l], m * n_in)
            tmp = delta
            delta = dprev
            dprev = tmp
    return loss


cdef double batch_pass(const Net* net, int kind, double e, const floating* X,
                       const floating* y, const floating* sw, const Py_ssize_t* rows,
                       Py_ssize_t first, Py_ssize_t n_rows, const floating* params,
                       Work* work, double* g) noexcept nogil:
    """Loss sum over the rows; their gradient sums (params layout) into g unless NULL."""
    cdef Py_ssize_t r0 = 0
    cdef double loss = 0.0
    if g != NULL:
        transpose_weights(net, params, <floating*>work.wt)
    while r0 < n_rows:
        loss += block_pass(net, kind, e, X, y, sw, rows, first + r0,
                           BLOCK if n_rows - r0 > BLOCK else n_rows - r0, params, work, g,
                           r0 == 0)
        r0 += BLOCK
    return loss


cdef struct MLPData:
    int kind
    double e
    const void* X
    const void* y
    const void* sw  # the rows' weights, NULL: unweighted
    Net net
    Work work


cdef double sums_double(void* ctx, const void* params, const Py_ssize_t* rows,
                        Py_ssize_t first, Py_ssize_t n, double* grad) noexcept nogil:
    cdef MLPData* data = <MLPData*>ctx
    return batch_pass(&data.net, data.kind, data.e, <const double*>data.X,
                      <const double*>data.y, <const double*>data.sw, rows, first, n, <const double*>params,
                      &data.work, grad)


cdef double sums_float(void* ctx, const void* params, const Py_ssize_t* rows,
                       Py_ssize_t first, Py_ssize_t n, double* grad) noexcept nogil:
    cdef MLPData* data = <MLPData*>ctx
    return batch_pass(&data.net, data.kind, data.e, <const float*>data.X,
                      <const float*>data.y, <const float*>data.sw, rows, first, n, <const float*>params,
                      &data.work, grad)


cdef class MLPObjective:
    """The loss of a network ``sizes`` with ``activation`` on (X, y), for the epoch loop
    and for single evaluations (the MLP analogue of _pass_linear.LinearObjective)."""

    cdef Objective objective
    cdef MLPData data
    cdef object X, y, sample_weight
    cdef bint ready
    cdef readonly object dtype

    def __cinit__(self, str loss, double e, X, y, sizes, str activation, sample_weight=None):
        self.ready = False
        if not (isinstance(X, np.ndarray) and isinstance(y, np.ndarray) and X.ndim == 2
                and y.ndim == 1 and X.dtype == y.dtype and X.dtype in (np.float32, np.float64)
                and X.flags.c_contiguous and y.flags.c_contiguous
                and X.shape[0] == y.shape[0] and X.shape[0] > 0):
            raise ValueError("MLPObjective needs C-contiguous X (n x d) and y (n) of one "
                             "float dtype, n >= 1")
        if sample_weight is not None and not (
                isinstance(sample_weight, np.ndarray) and sample_weight.dtype == X.dtype
                and sample_weight.shape == y.shape and sample_weight.flags.c_contiguous):
            raise ValueError("MLPObjective's sample_weight must be a C-contiguous array "
                             "of X's dtype, one value per row")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}")
        cdef Py_ssize_t[::1] s = np.ascontiguousarray(sizes, dtype=np.intp)
        _setup(&self.data.net, &self.data.work, s, ACTIVATIONS[activation], X.dtype.itemsize,
               X.shape[1], -1)
        self.ready = True
        self.X, self.y, self.dtype = X, y, X.dtype
        self.data.kind = loss_code(loss)
        self.data.e = e
        self.data.X = <const void*>address(X)
        self.data.y = <const void*>address(y)
        self.sample_weight = sample_weight
        self.data.sw = NULL if sample_weight is None else <const void*>address(sample_weight)
        self.objective.sums = sums_double if X.dtype == np.float64 else sums_float
        self.objective.ctx = &self.data
        self.objective.rows.X = <const char*>address(X)
        self.objective.rows.row_bytes = X.strides[0]
        self.objective.rows.y = <const char*>address(y)
        self.objective.rows.sw = <const char*>self.data.sw
        self.objective.rows.sweeps = False  # the loop warms the next block itself
        self.objective.rows.sweep = NULL
        self.objective.n_rows = X.shape[0]
        self.objective.n_params = self.data.net.n_params
        self.objective.itemsize = X.dtype.itemsize

    def __dealloc__(self):
        if self.ready:
            _teardown(&self.data.net, &self.data.work)

    def capsule(self):
        """The Objective, for the epoch loop (valid while this object lives)."""
        return PyCapsule_New(&self.objective, OBJECTIVE_CAPSULE, NULL)

    def sums(self, params):
        """(loss sum, gradient sums in float64, params layout) at ``params`` over all rows."""
        grad = np.empty(self.data.net.n_params, dtype=np.float64)
        cdef double[::1] g = grad
        return self._sums(params, &g[0]), grad

    def loss_sum(self, params):
        """The loss sum alone at ``params`` over all rows: forward passes, no backward
        (what the loop asks for its reference loss)."""
        return self._sums(params, NULL)

    cdef double _sums(self, params, double* grad) except? -1.0:
        p = np.ascontiguousarray(params, dtype=self.dtype)
        if p.shape != (self.data.net.n_params,):
            raise ValueError(f"params must have {self.data.net.n_params} values, got shape {p.shape}")
        cdef const void* pp = <const void*>address(p)
        cdef double loss
        with nogil:
            loss = self.objective.sums(self.objective.ctx, pp, NULL, 0, self.objective.n_rows,
                                       grad)
        return loss


cdef void _setup(Net* net, Work* work, const Py_ssize_t[::1] sizes, int activation,
                 size_t itemsize, Py_ssize_t n_features, Py_ssize_t n_params) except *:
    """Offsets and buffers; the shapes are checked so no call can write out of bounds."""
    cdef Py_ssize_t l
    if sizes.shape[0] < 2 or sizes[sizes.shape[0] - 1] != 1:
        raise ValueError("layer sizes must be at least two, the last one 1")
    for l in range(sizes.shape[0]):
        if sizes[l] < 1:
            raise ValueError("layer sizes must be >= 1")
    if sizes[0] != n_features:
        raise ValueError(f"X has {n_features} features, the network {sizes[0]} inputs")
    if net_init(net, sizes, activation) != 0:
        raise MemoryError()
    if n_params >= 0 and net.n_params != n_params:
        free(net.sizes)
        raise ValueError(f"params has {n_params} values, the network {net.n_params}")
    if work_init(work, net, itemsize) != 0:
        free(net.sizes)
        raise MemoryError()


cdef void _teardown(Net* net, Work* work) noexcept nogil:
    work_free(work)
    free(net.sizes)


# ------------------------------------------------------------- prediction --

def predict(const floating[:, ::1] X, const floating[::1] params,
            const Py_ssize_t[::1] sizes, str activation, floating[::1] out):
    """out[i] = the network's output for row i."""
    cdef Net net
    cdef Work work
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], r0, r, m
    cdef floating* acts
    if out.shape[0] != X.shape[0]:
        raise ValueError("out must have one value per row of X")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}")
    _setup(&net, &work, sizes, ACTIVATIONS[activation], sizeof(floating), X.shape[1],
           params.shape[0])
    acts = <floating*>work.acts
    with nogil:
        r0 = 0
        while r0 < n:
            m = BLOCK if n - r0 > BLOCK else n - r0
            memcpy(acts, &X[r0, 0], m * d * sizeof(floating))
            forward(&net, &params[0], acts, m)
            for r in range(m):
                out[r0 + r] = acts[net.a_off[net.n_layers] + r]
            r0 += BLOCK
        _teardown(&net, &work)
