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
from libc.math cimport NAN, copysign, fabs, isfinite, sqrt
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
# tanh (and the sigmoid's exp) written out so GCC vectorises the loops: libm's
# tanh is a scalar call of ~15 ns, which would cost more than the matrix
# products. expm1 by Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, a
# degree-13 Taylor polynomial for expm1(r), and 2^k built in the exponent bits
# (k found with the round-to-nearest shifter 1.5 * 2^52, which stays in
# floating point). Relative error ~1e-16 over the whole range.

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    static inline double gd_bits_to_double(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
    static inline uint64_t gd_double_to_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
    """
    double bits_to_double "gd_bits_to_double"(uint64_t u) noexcept nogil
    uint64_t double_to_bits "gd_double_to_bits"(double d) noexcept nogil

cdef inline double expm1_neg(double x, double* scale) noexcept nogil:
    """exp(x) - 1 = scale (1 + p) - 1 for x in [-709, 0]; returns p = expm1(r), sets scale = 2^k."""
    cdef double t = x * 1.4426950408889634 + 6755399441055744.0
    cdef double k = t - 6755399441055744.0
    cdef double r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
    scale[0] = bits_to_double((double_to_bits(t) << 52) + (<uint64_t>1023 << 52))
    return r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (
        1.0 / 120 + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (
        1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (
        1.0 / 479001600 + r * (1.0 / 6227020800.0)))))))))))))


cdef inline double fast_tanh(double x) noexcept nogil:
    """tanh(x) = -expm1(-2|x|) / (expm1(-2|x|) + 2), with the sign of x."""
    cdef double ax = fabs(x), scale
    cdef double p = expm1_neg(-2.0 * (ax if ax < 20.0 else 20.0), &scale)  # tanh(20) = 1
    cdef double e = scale * p + (scale - 1.0)
    return copysign(-e / (e + 2.0), x)


cdef inline double fast_sigmoid(double x) noexcept nogil:
    """1 / (1 + e^-x), from e = exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e) below."""
    cdef double ax = fabs(x), scale
    cdef double p = expm1_neg(-(ax if ax < 700.0 else 700.0), &scale)
    cdef double e = scale * (1.0 + p)
    cdef double s = 1.0 / (1.0 + e)
    return s if x >= 0 else e * s


cdef void activate(int activation, floating* a, Py_ssize_t n) noexcept nogil:
    """a <- f(a) in place (one loop per activation)."""
    cdef Py_ssize_t i
    if activation == TANH:
        for i in range(n):
            a[i] = <floating>fast_tanh(a[i])
    elif activation == RELU:
        for i in range(n):
            a[i] = a[i] if a[i] > 0 else 0
    elif activation == SIGMOID:
        for i in range(n):
            a[i] = <floating>fast_sigmoid(a[i])


cdef void times_slope(int activation, floating* d, const floating* a, Py_ssize_t n) noexcept nogil:
    """d <- d * f'(z), with f'(z) read off the activation a = f(z)."""
    cdef Py_ssize_t i
    if activation == TANH:
        for i in range(n):
            d[i] = d[i] * (1 - a[i] * a[i])
    elif activation == RELU:
        for i in range(n):
            d[i] = d[i] if a[i] > 0 else 0
    elif activation == SIGMOID:
        for i in range(n):
            d[i] = d[i] * (a[i] * (1 - a[i]))


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
    _setup(&net, &work, sizes, activation, sizeof(floating))
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
                 size_t itemsize) except *:
    if net_init(net, sizes, activation) != 0:
        raise MemoryError()
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
    _setup(&net, &work, sizes, activation, sizeof(floating))
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
    _setup(&net, &work, sizes, activation, sizeof(floating))
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
