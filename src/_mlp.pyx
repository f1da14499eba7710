# cython: language_level=3
"""Compiled kernels for multi-layer perceptrons: forward, back-propagation, fits.

A network [n_0, n_1, ..., n_L] (n_0 inputs, n_L = 1 output) keeps all its
parameters in one flat array ``params`` of the model's dtype: layer by layer,
the weights ``W_l`` (n_l x n_{l+1}, row-major, so ``z = a @ W_l + b_l``) then
the biases ``b_l`` (n_{l+1}). Hidden layers apply one activation (tanh, relu,
sigmoid or identity); the output is linear.

One training step on a batch of rows:

* forward: a_0 = x, z_{l+1} = a_l W_l + b_l, a_{l+1} = f(z_{l+1}) (no f on the
  output), every a_l kept;
* loss term and its slope at the output: delta_L = dL/dy_hat = 2 r (MSE) or
  sign(r) (MAE), r = y_hat - y;
* backward, l = L-1 .. 0 (the chain rule): dL/dW_l = a_l^T delta_{l+1},
  dL/db_l = sum of delta_{l+1} over rows, then
  delta_l = (delta_{l+1} W_l^T) * f'(a_l), f' read off the kept activation
  (tanh: 1 - a^2, sigmoid: a (1 - a), relu: a > 0);
* update: params -= lr * gradient / rows.

Rows go through in blocks of at most ``BLOCK`` so every layer's activations
of a block stay in cache; the three products of each layer are BLAS gemm
calls on the block (see "forward, backward" below for why), the activations
and their slopes are loops GCC vectorises. A block's gradient is added into
the batch's gradient in double. The epoch loops mirror src/_linear.pyx and
gdcore/backends/_loop.py, with one flat parameter vector in place of (w, b).
"""

import numpy as np

from cython cimport floating
from libc.math cimport NAN, isfinite, sqrt
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from _loss cimport loss_slope, loss_term
from _rng cimport shuffle
cimport scipy.linalg.cython_blas as blas

# Hidden-layer activations (names in gdcore/mlp.py).
cpdef enum Activation:
    TANH = 0
    RELU = 1
    SIGMOID = 2
    IDENTITY = 3

# Status codes, the same numbers as _linear.Status.
cdef enum:
    CONVERGED = 0
    MAX_EPOCHS = 1
    DIVERGED = 2
    PAUSED = 3

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
    void* gblk      # a block's gradient, params layout
    double* g       # the batch's gradient, params layout, double


cdef int work_init(Work* w, const Net* net, size_t itemsize) noexcept nogil:
    cdef size_t n = (net.n_acts + 2 * BLOCK * net.width + net.n_params) * itemsize
    w.acts = malloc(n)
    w.g = <double*>malloc(net.n_params * sizeof(double))
    if w.acts == NULL or w.g == NULL:
        free(w.acts)
        free(w.g)
        return -1
    w.delta = <char*>w.acts + net.n_acts * itemsize
    w.dprev = <char*>w.delta + BLOCK * net.width * itemsize
    w.gblk = <char*>w.dprev + BLOCK * net.width * itemsize
    return 0


cdef void work_free(Work* w) noexcept nogil:
    free(w.acts)
    free(w.g)


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
# These four loops are C because they carry GCC's target_clones attribute,
# which Cython cannot express: one build holds AVX-512, AVX2 and baseline
# versions and the loader picks the one the CPU runs (the matrix products get
# the same from OpenBLAS). Elsewhere (other compilers) they are plain loops.

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define GD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
    #else
    #define GD_CLONES
    #endif

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
    GD_CLONES static void gd_tanh_##SUF(T *a, Py_ssize_t n) {                         \
        for (Py_ssize_t i = 0; i < n; i++) {                                          \
            T s, ax = ABS(a[i]);                                                      \
            T p = gd_expm1_##SUF(-2 * (ax < TANH_CLAMP ? ax : TANH_CLAMP), &s);      \
            T e = s * p + (s - 1);                                                    \
            a[i] = SIGN(-e / (e + 2), a[i]);                                          \
        }                                                                             \
    }                                                                                 \
    GD_CLONES static void gd_sigmoid_##SUF(T *a, Py_ssize_t n) {                      \
        for (Py_ssize_t i = 0; i < n; i++) {                                          \
            T s, ax = ABS(a[i]);                                                      \
            T p = gd_expm1_##SUF(-(ax < EXP_CLAMP ? ax : EXP_CLAMP), &s);            \
            T e = s * (1 + p);                                                        \
            T q = 1 / (1 + e);                                                        \
            a[i] = a[i] >= 0 ? q : e * q;                                             \
        }                                                                             \
    }                                                                                 \
    GD_CLONES static void gd_tanh_slope_##SUF(T *d, const T *a, Py_ssize_t n) {       \
        for (Py_ssize_t i = 0; i < n; i++) d[i] *= 1 - a[i] * a[i];                   \
    }                                                                                 \
    GD_CLONES static void gd_sigmoid_slope_##SUF(T *d, const T *a, Py_ssize_t n) {    \
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
# dA = D W^T is dA^T = W D^T.

cdef inline void gemm(char* ta, char* tb, int m, int n, int k, floating* a, int lda,
                      floating* b, int ldb, floating beta, floating* c, int ldc) noexcept nogil:
    """C = op(A) op(B) + beta C, column-major (BLAS conventions)."""
    cdef floating one = 1
    if floating is double:
        blas.dgemm(ta, tb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc)
    else:
        blas.sgemm(ta, tb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc)


cdef void forward(const Net* net, const floating* params, floating* acts,
                  Py_ssize_t m) noexcept nogil:
    """a_{l+1} = f(a_l W_l + b_l) for the m rows of a block, a_0 already in acts."""
    cdef Py_ssize_t L = net.n_layers, l, r, n_in, n_out
    cdef floating* z
    for l in range(L):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        z = acts + net.a_off[l + 1]
        for r in range(m):
            memcpy(z + r * n_out, params + net.b_off[l], n_out * sizeof(floating))
        gemm(b"N", b"N", n_out, m, n_in, <floating*>params + net.w_off[l], n_out,
             acts + net.a_off[l], n_in, 1, z, n_out)
        if l < L - 1:
            activate(net.activation, z, m * n_out)


cdef double block_pass(const Net* net, int kind, const floating[:, ::1] X,
                       const floating[::1] y, const Py_ssize_t* rows, Py_ssize_t r0,
                       Py_ssize_t m, const floating* params, Work* work) noexcept nogil:
    """Forward and backward over rows r0 .. r0+m-1 (of ``rows``, or in order if NULL).

    Returns the block's sum of loss terms and adds its gradient sums into work.g.
    """
    cdef Py_ssize_t L = net.n_layers, d = net.sizes[0], l, r, i, j, k, n_in, n_out
    cdef floating* acts = <floating*>work.acts
    cdef floating* delta = <floating*>work.delta
    cdef floating* dprev = <floating*>work.dprev
    cdef floating* tmp
    cdef floating* gblk = <floating*>work.gblk
    cdef double* g = work.g
    cdef const floating* out
    cdef floating* gb
    cdef double loss = 0.0, res
    for r in range(m):
        k = rows[r0 + r] if rows != NULL else r0 + r
        memcpy(acts + r * d, &X[k, 0], d * sizeof(floating))
    forward(net, params, acts, m)
    out = acts + net.a_off[L]
    for r in range(m):  # the output layer has one neuron: delta_L = dL/dy_hat
        k = rows[r0 + r] if rows != NULL else r0 + r
        res = <double>out[r] - y[k]
        loss += loss_term(kind, res)
        delta[r] = <floating>loss_slope(kind, res)
    for l in range(L - 1, -1, -1):  # the chain rule, from the loss back to the input
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        # dL/dW_l = a_l^T delta, dL/db_l = the column sums of delta
        gemm(b"N", b"T", n_out, n_in, m, delta, n_out, acts + net.a_off[l], n_in, 0,
             gblk + net.w_off[l], n_out)
        gb = gblk + net.b_off[l]
        memset(gb, 0, n_out * sizeof(floating))
        for r in range(m):
            for j in range(n_out):
                gb[j] += delta[r * n_out + j]
        for i in range(net.w_off[l], net.b_off[l] + n_out):
            g[i] += gblk[i]
        if l > 0:  # dL/da_l = delta W_l^T, then dL/dz_l = dL/da_l * f'(z_l)
            gemm(b"T", b"N", n_in, m, n_out, <floating*>params + net.w_off[l], n_out,
                 delta, n_out, 0, dprev, n_in)
            times_slope(net.activation, dprev, acts + net.a_off[l], m * n_in)
            tmp = delta
            delta = dprev
            dprev = tmp
    return loss


cdef double batch_pass(const Net* net, int kind, const floating[:, ::1] X,
                       const floating[::1] y, const Py_ssize_t* rows, Py_ssize_t n_rows,
                       const floating* params, Work* work) noexcept nogil:
    """Mean loss over the rows; its gradient (params layout, double) into work.g."""
    cdef Py_ssize_t i, r0
    cdef double loss = 0.0
    memset(work.g, 0, net.n_params * sizeof(double))
    r0 = 0
    while r0 < n_rows:
        loss += block_pass(net, kind, X, y, rows, r0,
                           BLOCK if n_rows - r0 > BLOCK else n_rows - r0, params, work)
        r0 += BLOCK
    for i in range(net.n_params):
        work.g[i] = work.g[i] / n_rows
    return loss / n_rows


cdef inline double norm(const double* g, Py_ssize_t n) noexcept nogil:
    cdef double sq = 0.0
    cdef Py_ssize_t i
    for i in range(n):
        sq += g[i] * g[i]
    return sqrt(sq)


cdef inline void step(floating* p, const double* g, double lr, Py_ssize_t n) noexcept nogil:
    """params <- params - lr dL/dparams."""
    cdef Py_ssize_t i
    for i in range(n):
        p[i] = <floating>(p[i] - lr * g[i])


cdef inline bint is_bad(double loss, double reference, double blowup) noexcept nogil:
    return not isfinite(loss) or loss > blowup * reference


cdef inline void record(floating* path, Py_ssize_t epoch, const floating* p,
                        Py_ssize_t n) noexcept nogil:
    if path != NULL:
        memcpy(path + epoch * n, p, n * sizeof(floating))


# ------------------------------------------------------------------- fits --
# The state between chunks of epochs lives in the caller's buffers, as for
# the linear kernels: history, epoch count, parameters before the last step
# (p_saved) with saved = (loss, gradient norm) (full batch) or saved[0] = the
# loss at the start (mini-batch), the row order and the random state.

cdef int full_batch(const Net* net, int kind, const floating[:, ::1] X,
                    const floating[::1] y, floating* p, double lr, Py_ssize_t epochs,
                    Py_ssize_t stop_at, double tol, double blowup, double* history,
                    Py_ssize_t* n_hist_io, floating* p_saved, double* saved,
                    floating* path, double* report, Work* work) noexcept nogil:
    cdef Py_ssize_t n_p = net.n_params, n_hist = n_hist_io[0]
    cdef double loss, gnorm
    cdef int status
    while True:
        if n_hist == stop_at and n_hist < epochs:
            status = PAUSED
            break
        loss = batch_pass(net, kind, X, y, NULL, X.shape[0], p, work)
        if is_bad(loss, history[0] if n_hist > 0 else NAN, blowup):
            if n_hist > 0:  # undo the step that blew up
                memcpy(p, p_saved, n_p * sizeof(floating))
                n_hist -= 1
                report[0], report[1] = saved[0], saved[1]
            else:
                report[0], report[1] = loss, NAN
            status = DIVERGED
            break
        gnorm = norm(work.g, n_p)
        if gnorm <= tol or n_hist == epochs:
            report[0], report[1] = loss, gnorm
            status = CONVERGED if gnorm <= tol else MAX_EPOCHS
            break
        history[n_hist] = loss
        record(path, n_hist, p, n_p)
        n_hist += 1
        memcpy(p_saved, p, n_p * sizeof(floating))
        saved[0], saved[1] = loss, gnorm
        step(p, work.g, lr, n_p)
    n_hist_io[0] = n_hist
    return status


cdef int mini_batch(const Net* net, int kind, const floating[:, ::1] X,
                    const floating[::1] y, floating* p, double lr, Py_ssize_t epochs,
                    Py_ssize_t stop_at, double tol, double blowup, Py_ssize_t batch_size,
                    uint64_t* rng, Py_ssize_t* order, double* history,
                    Py_ssize_t* n_hist_io, floating* p_start, double* saved, floating* path,
                    double* report, Work* work, double* epoch_g) noexcept nogil:
    cdef Py_ssize_t n = X.shape[0], n_p = net.n_params, n_hist = n_hist_io[0], i, lo, m
    cdef double loss, epoch_loss
    cdef bint stopped = False, diverged = False
    if n_hist == 0 and stop_at > 0:
        saved[0] = batch_pass(net, kind, X, y, NULL, n, p, work)
        if not isfinite(saved[0]):
            report[0], report[1] = saved[0], NAN
            return DIVERGED
    while n_hist < stop_at:
        shuffle(order, n, rng)
        memcpy(p_start, p, n_p * sizeof(floating))
        epoch_loss = 0.0
        memset(epoch_g, 0, n_p * sizeof(double))
        lo = 0
        while lo < n:
            m = batch_size if n - lo > batch_size else n - lo
            loss = batch_pass(net, kind, X, y, order + lo, m, p, work)
            if not isfinite(loss):
                diverged = True
                break
            epoch_loss += m * loss
            for i in range(n_p):
                epoch_g[i] += m * work.g[i]
            step(p, work.g, lr, n_p)
            lo += m
        if not diverged:
            epoch_loss /= n
            diverged = is_bad(epoch_loss, saved[0], blowup)
        if diverged:  # back to the parameters this epoch started from
            memcpy(p, p_start, n_p * sizeof(floating))
            break
        history[n_hist] = epoch_loss
        record(path, n_hist, p_start, n_p)
        n_hist += 1
        for i in range(n_p):
            epoch_g[i] = (1.0 / n) * epoch_g[i]
        if norm(epoch_g, n_p) <= tol:
            stopped = True
            break
    n_hist_io[0] = n_hist
    if not (stopped or diverged or n_hist == epochs):
        return PAUSED
    loss = batch_pass(net, kind, X, y, NULL, n, p, work)
    report[0] = loss
    if not isfinite(loss):
        report[1] = NAN
        return DIVERGED
    report[1] = norm(work.g, n_p)
    if diverged:
        return DIVERGED
    return CONVERGED if stopped or report[1] <= tol else MAX_EPOCHS


def run_epochs(int kind, const floating[:, ::1] X, const floating[::1] y,
               floating[::1] params, const Py_ssize_t[::1] sizes, int activation,
               double lr, Py_ssize_t epochs, Py_ssize_t stop_at, double tol, double blowup,
               Py_ssize_t batch_size, double[::1] history, Py_ssize_t n_hist,
               floating[::1] p_saved, double[::1] saved, Py_ssize_t[::1] order,
               uint64_t[::1] rng, floating[:, ::1] path, double[::1] report):
    """Continue an MLP fit from epoch ``n_hist`` up to ``stop_at`` (at most ``epochs``).

    ``params`` (the flat parameters) is updated in place; ``batch_size`` 0 is
    full batch; the other buffers are the caller's, as for
    ``_linear.run_epochs``. Returns ``(status, n_hist)`` with the codes of
    ``_linear.Status``; ``report`` receives (final_loss, grad_norm).
    """
    cdef Net net
    cdef Work work
    cdef double[::1] epoch_g = np.empty(params.shape[0], dtype=np.float64)
    cdef floating* path_ptr = &path[0, 0] if path is not None else NULL
    cdef int status
    if y.shape[0] != X.shape[0] or X.shape[0] == 0:
        raise ValueError("X and y must have the same, non-zero number of rows")
    if (batch_size < 0 or n_hist < 0 or stop_at < n_hist or epochs < stop_at
            or history.shape[0] < stop_at or p_saved.shape[0] != params.shape[0]
            or saved.shape[0] < 2 or report.shape[0] < 2 or rng.shape[0] < 1
            or (batch_size > 0 and order.shape[0] != X.shape[0])
            or (path is not None and (path.shape[0] < stop_at
                                      or path.shape[1] != params.shape[0]))):
        raise ValueError("run_epochs: buffers of the wrong size")
    _setup(&net, &work, sizes, activation, sizeof(floating), X.shape[1], params.shape[0])
    with nogil:
        if batch_size == 0:
            status = full_batch(&net, kind, X, y, &params[0], lr, epochs, stop_at, tol,
                                blowup, &history[0], &n_hist, &p_saved[0], &saved[0],
                                path_ptr, &report[0], &work)
        else:
            status = mini_batch(&net, kind, X, y, &params[0], lr, epochs, stop_at, tol,
                                blowup, batch_size, &rng[0], &order[0], &history[0],
                                &n_hist, &p_saved[0], &saved[0], path_ptr, &report[0],
                                &work, &epoch_g[0])
        _teardown(&net, &work)
    return status, n_hist


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
    if net.n_params != n_params:
        free(net.sizes)
        raise ValueError(f"params has {n_params} values, the network {net.n_params}")
    if work_init(work, net, itemsize) != 0:
        free(net.sizes)
        raise MemoryError()


cdef void _teardown(Net* net, Work* work) noexcept nogil:
    work_free(work)
    free(net.sizes)


# ------------------------------------------------------- single evaluations --

def loss_grad(int kind, const floating[:, ::1] X, const floating[::1] y,
              const floating[::1] params, const Py_ssize_t[::1] sizes, int activation):
    """(loss, gradient) at ``params`` over all rows; the gradient in float64, params layout."""
    cdef Net net
    cdef Work work
    cdef double loss
    if y.shape[0] != X.shape[0] or X.shape[0] == 0:
        raise ValueError("X and y must have the same, non-zero number of rows")
    _setup(&net, &work, sizes, activation, sizeof(floating), X.shape[1], params.shape[0])
    with nogil:
        loss = batch_pass(&net, kind, X, y, NULL, X.shape[0], &params[0], &work)
    grad = np.empty(net.n_params, dtype=np.float64)
    cdef double[::1] gv = grad
    memcpy(&gv[0], work.g, net.n_params * sizeof(double))
    _teardown(&net, &work)
    return loss, grad


def predict(const floating[:, ::1] X, const floating[::1] params,
            const Py_ssize_t[::1] sizes, int activation, floating[::1] out):
    """out[i] = the network's output for row i."""
    cdef Net net
    cdef Work work
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], r0, r, m
    cdef floating* acts
    if out.shape[0] != X.shape[0]:
        raise ValueError("out must have one value per row of X")
    _setup(&net, &work, sizes, activation, sizeof(floating), X.shape[1], params.shape[0])
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
