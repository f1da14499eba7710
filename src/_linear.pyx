# cython: language_level=3
"""Compiled kernels for linear regression by gradient descent.

One source serves float32 and float64 through the fused type ``floating``.
The Python layer (gdcore/backends/cython.py) validates and allocates; the
functions here trust their arguments, release the GIL and run whole fits:
the epoch loop, the loss, the gradient and the updates never return to
Python. The loop mirrors gdcore/backends/_loop.py line for line.

Accumulation is in double whatever the data's dtype, so a float32 fit reads
half the bytes without losing the precision of its sums.
"""

import numpy as np

from cython cimport floating
from libc.math cimport NAN, fabs, isfinite, sqrt
from libc.stdint cimport uint64_t
from libc.string cimport memcpy
from cython.parallel cimport prange, threadid

from _loss cimport loss_slope, loss_term
from _rng cimport shuffle, splitmix64_next, splitmix64_uniform

# Status codes returned by the fit kernels (names in gdcore/backends/_base.py).
cpdef enum Status:
    CONVERGED = 0
    MAX_EPOCHS = 1
    DIVERGED = 2
    PAUSED = 3


# ---------------------------------------------------------------- one pass --
#
# Rows are summed in a fixed tree, whatever the thread count: runs of rows
# accumulate in the data's precision (up to SUB rows for float32, which keeps
# float32 SIMD width; a whole CHUNK for float64, which saves the flushes),
# each run is flushed into the double partial of its CHUNK, and
# the partials of the chunks are added in chunk order. Chunks are the unit of
# parallel work (handed out dynamically: a late thread cannot stall the
# others), so the result is bit-identical for 1 or N threads.

cdef enum:
    SUB = 256      # rows accumulated in float32 before a flush to double
    CHUNK = 4096   # rows per parallel task and per double partial
    NARROW = 16    # widths up to this are compiled as constants (see span_pass)
    PADDED = 64    # widths NARROW .. PADDED read rows padded to 8k values (padded_pass)
    PREFETCH_ROWS = 24  # padded_pass asks for the row this far ahead


cdef extern from *:
    void __builtin_prefetch(const void* address) nogil


cdef extern from "_simd.h" nogil:
    # Passes over listed rows (a mini-batch) ask for the row listed GD_AHEAD places ahead.
    void gd_prefetch_listed(const void* X, const void* y, Py_ssize_t size, Py_ssize_t d,
                            const Py_ssize_t* rows, Py_ssize_t k, Py_ssize_t n_listed)


cdef inline void rows_pass(int kind, const floating* X, const floating* y,
                           const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                           Py_ssize_t d, const Py_ssize_t width, const floating* w,
                           floating b, floating* acc, double* out,
                           const bint prefetch, Py_ssize_t n_listed) noexcept nogil:
    """out[:d] += sum slope_i x_i, out[d] += sum slope_i, out[d+1] += sum term_i.

    Rows first .. first+n-1, or rows[first ..] when ``rows`` (of ``n_listed``
    entries) is not NULL. Each row is read once: its prediction, loss term and
    gradient contribution are computed while it sits in cache. The loops over
    a row run over ``width`` >= d values, ``w`` and ``acc`` having that many
    (see padded_pass).
    """
    cdef Py_ssize_t i, j, k
    cdef floating r, slope, gb = 0, loss = 0
    cdef const floating* row
    for j in range(width):
        acc[j] = 0
    for k in range(first, first + n):
        i = rows[k] if rows != NULL else k
        row = X + i * d
        if rows != NULL:  # scattered rows: ask for the one listed GD_AHEAD places on
            gd_prefetch_listed(X, y, sizeof(floating), d, rows, k, n_listed)
        elif prefetch:
            # Ask for the row PREFETCH_ROWS ahead (past X is harmless: prefetches never
            # fault).
            __builtin_prefetch(row + PREFETCH_ROWS * d)
            __builtin_prefetch(row + PREFETCH_ROWS * d + 8)
            __builtin_prefetch(row + PREFETCH_ROWS * d + 16)
        r = 0
        for j in range(width):
            r += w[j] * row[j]
        r = r + b - y[i]
        loss += loss_term(kind, r)
        slope = loss_slope(kind, r)
        gb += slope
        for j in range(width):
            acc[j] += slope * row[j]
    for j in range(d):
        out[j] += acc[j]
    out[d] += gb
    out[d + 1] += loss


cdef inline void padded_pass(int kind, const floating* X, const floating* y,
                             const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                             Py_ssize_t d, const Py_ssize_t width, const floating* w,
                             floating b, double* out, Py_ssize_t n_listed) noexcept nogil:
    """rows_pass reading ``width`` >= d values per row.

    The values past d belong to the next row: their weights are zero, so the
    prediction is unchanged, and their gradient lanes are dropped. With
    ``width`` a literal multiple of the SIMD width, the compiler vectorises
    both loops over a row (which it does not for, say, d = 17). The caller
    keeps ``width - d`` values of X readable after every row it passes.
    """
    cdef floating padded_w[PADDED]
    cdef floating acc[PADDED]
    cdef Py_ssize_t j
    for j in range(width):
        padded_w[j] = w[j] if j < d else 0
    rows_pass(kind, X, y, rows, first, n, d, width, padded_w, b, acc, out, True, n_listed)


cdef inline void single_feature_pass(int kind, const floating* X, const floating* y,
                                     Py_ssize_t first, Py_ssize_t n, floating w, floating b,
                                     double* out) noexcept nogil:
    """rows_pass over contiguous rows of one feature, as two interleaved halves.

    The vectorised loop is then bound by throughput, not by the latency of
    its three sums: each half carries its own chains (measured 1.25x faster
    at 1,000 rows with AVX-512, 1.7x with AVX2).
    """
    cdef Py_ssize_t half = n // 2, k, i
    cdef floating r, slope
    cdef floating grad[2]
    cdef floating gb[2]
    cdef floating loss[2]
    grad[0] = grad[1] = gb[0] = gb[1] = loss[0] = loss[1] = 0
    for k in range(first, first + half):
        r = w * X[k] + b - y[k]
        loss[0] += loss_term(kind, r)
        slope = loss_slope(kind, r)
        gb[0] += slope
        grad[0] += slope * X[k]
        i = k + half
        r = w * X[i] + b - y[i]
        loss[1] += loss_term(kind, r)
        slope = loss_slope(kind, r)
        gb[1] += slope
        grad[1] += slope * X[i]
    if n % 2:
        i = first + n - 1
        r = w * X[i] + b - y[i]
        loss[0] += loss_term(kind, r)
        slope = loss_slope(kind, r)
        gb[0] += slope
        grad[0] += slope * X[i]
    out[0] += grad[0] + grad[1]
    out[1] += gb[0] + gb[1]
    out[2] += loss[0] + loss[1]


cdef extern from "_simd.h" nogil:
    enum:
        GD_CHUNK_DOUBLE  # the narrowest row gd_narrow_pass_* takes
        GD_CHUNK_FLOAT
        GD_LISTED_DOUBLE  # the narrowest row gd_listed_pass_* takes
        GD_LISTED_FLOAT
    void gd_narrow_pass_double(int kind, const double* X, const double* y,
                               const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                               const Py_ssize_t d, const double* w, double b, double* out,
                               Py_ssize_t n_listed)
    void gd_narrow_pass_float(int kind, const float* X, const float* y,
                              const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                              const Py_ssize_t d, const float* w, float b, double* out,
                              Py_ssize_t n_listed)
    void gd_listed_pass_double(int kind, const double* X, const double* y,
                               const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                               const Py_ssize_t d, const double* w, double b, double* out,
                               Py_ssize_t n_listed)
    void gd_listed_pass_float(int kind, const float* X, const float* y,
                              const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                              const Py_ssize_t d, const float* w, float b, double* out,
                              Py_ssize_t n_listed)


cdef inline void narrow_pass(int kind, const floating* X, const floating* y,
                             const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                             const Py_ssize_t d, const floating* w, floating b,
                             floating* acc, double* out, Py_ssize_t n_listed) noexcept nogil:
    """rows_pass for 5 <= d <= NARROW features: the SIMD passes of _simd.h.

    They vectorise across rows (GCC vectorises neither a 5 to 16 term dot
    product nor, for most such d, a loop over rows), when a chunk (contiguous
    rows) or a vector (listed rows) of the data's type fits in a row; else
    the scalar rows_pass.
    """
    if floating is double:
        if rows == NULL and d >= GD_CHUNK_DOUBLE:
            gd_narrow_pass_double(kind, X, y, rows, first, n, d, w, b, out, n_listed)
            return
        if rows != NULL and d >= GD_LISTED_DOUBLE:
            gd_listed_pass_double(kind, X, y, rows, first, n, d, w, b, out, n_listed)
            return
    else:
        if rows == NULL and d >= GD_CHUNK_FLOAT:
            gd_narrow_pass_float(kind, X, y, rows, first, n, d, w, b, out, n_listed)
            return
        if rows != NULL and d >= GD_LISTED_FLOAT:
            gd_listed_pass_float(kind, X, y, rows, first, n, d, w, b, out, n_listed)
            return
    rows_pass(kind, X, y, rows, first, n, d, d, w, b, acc, out, False, n_listed)


cdef void span_pass(int kind, const floating* X, const floating* y, const Py_ssize_t* rows,
                    Py_ssize_t first, Py_ssize_t n, Py_ssize_t d, const floating* w,
                    floating b, floating* scratch, double* out,
                    Py_ssize_t n_total) noexcept nogil:
    """rows_pass over runs of rows of X (which has ``n_total`` rows; ``rows``,
    when not NULL, lists ``n_total`` of them: the mini-batch order).

    Contiguous rows of NARROW + 1 to PADDED features go through padded_pass
    (measured faster there; narrower rows waste too many padded lanes), but
    for the last few rows, whose padding would read past X. Narrow widths are
    passed as literals, so the C compiler specialises each: one feature takes
    single_feature_pass, 2 to 4 the inline rows_pass (unrolled, accumulators
    in registers), 5 to NARROW the SIMD narrow_pass. Wider rows use the
    generic loop with ``scratch`` (d values).
    """
    cdef floating acc[NARROW]
    cdef Py_ssize_t lo = first, end = first + n, m, k, width = 0, safe = 0, padded_end = first
    cdef Py_ssize_t run = CHUNK if floating is double else SUB
    if NARROW < d <= PADDED:
        width = (d + 7) // 8 * 8
        if n_total * d >= width:  # rows i < safe have i*d + width <= n_total*d (C division!)
            safe = (n_total * d - width) // d + 1
    if rows == NULL:
        padded_end = min(end, safe)
    elif width:  # a mini-batch: padded if none of its rows is among the last few of X
        padded_end = end
        for k in range(first, end):
            if rows[k] >= safe:
                padded_end = first
                break
    while lo < end:
        m = run if end - lo > run else end - lo
        if lo < padded_end:
            m = min(m, padded_end - lo)
            if width == 24:
                padded_pass(kind, X, y, rows, lo, m, d, 24, w, b, out, n_total)
            elif width == 32:
                padded_pass(kind, X, y, rows, lo, m, d, 32, w, b, out, n_total)
            elif width == 40:
                padded_pass(kind, X, y, rows, lo, m, d, 40, w, b, out, n_total)
            elif width == 48:
                padded_pass(kind, X, y, rows, lo, m, d, 48, w, b, out, n_total)
            elif width == 56:
                padded_pass(kind, X, y, rows, lo, m, d, 56, w, b, out, n_total)
            else:
                padded_pass(kind, X, y, rows, lo, m, d, 64, w, b, out, n_total)
        elif d == 1 and rows == NULL and floating is double:  # (float32: measured no gain)
            single_feature_pass(kind, X, y, lo, m, w[0], b, out)
        elif d == 1:
            rows_pass(kind, X, y, rows, lo, m, 1, 1, w, b, acc, out, False, n_total)
        elif d == 2:
            rows_pass(kind, X, y, rows, lo, m, 2, 2, w, b, acc, out, False, n_total)
        elif d == 3:
            rows_pass(kind, X, y, rows, lo, m, 3, 3, w, b, acc, out, False, n_total)
        elif d == 4:
            rows_pass(kind, X, y, rows, lo, m, 4, 4, w, b, acc, out, False, n_total)
        elif d == 5:
            narrow_pass(kind, X, y, rows, lo, m, 5, w, b, acc, out, n_total)
        elif d == 6:
            narrow_pass(kind, X, y, rows, lo, m, 6, w, b, acc, out, n_total)
        elif d == 7:
            narrow_pass(kind, X, y, rows, lo, m, 7, w, b, acc, out, n_total)
        elif d == 8:
            narrow_pass(kind, X, y, rows, lo, m, 8, w, b, acc, out, n_total)
        elif d == 9:
            narrow_pass(kind, X, y, rows, lo, m, 9, w, b, acc, out, n_total)
        elif d == 10:
            narrow_pass(kind, X, y, rows, lo, m, 10, w, b, acc, out, n_total)
        elif d == 11:
            narrow_pass(kind, X, y, rows, lo, m, 11, w, b, acc, out, n_total)
        elif d == 12:
            narrow_pass(kind, X, y, rows, lo, m, 12, w, b, acc, out, n_total)
        elif d == 13:
            narrow_pass(kind, X, y, rows, lo, m, 13, w, b, acc, out, n_total)
        elif d == 14:
            narrow_pass(kind, X, y, rows, lo, m, 14, w, b, acc, out, n_total)
        elif d == 15:
            narrow_pass(kind, X, y, rows, lo, m, 15, w, b, acc, out, n_total)
        elif d == 16:
            narrow_pass(kind, X, y, rows, lo, m, 16, w, b, acc, out, n_total)
        else:
            rows_pass(kind, X, y, rows, lo, m, d, d, w, b, scratch, out, False, n_total)
        lo += m


cdef struct Pass:
    # Work buffers of a loss+gradient pass, allocated once per fit.
    int n_threads
    double* partials   # n_chunks x (d + 2) doubles
    void* scratch      # n_threads x d values of the data's dtype


cdef double batch_pass(int kind, const floating* X, const floating* y, Py_ssize_t n_total,
                       Py_ssize_t d, const Py_ssize_t* rows, Py_ssize_t first,
                       Py_ssize_t n_rows, const floating* w, double b,
                       double* gw, double* gb, Pass* work) noexcept nogil:
    """Mean loss over the rows and its gradient (dL/dw into gw, dL/db into gb).

    X is ``n_total`` x ``d``. ``rows`` NULL means all rows in order (``first``
    0), split into CHUNKs over ``work.n_threads`` threads; otherwise the rows
    listed at rows[first:first + n_rows] (a mini-batch of the order, which
    lists every row of X), on the calling thread. Pointers, not memoryviews:
    a mini-batch epoch calls this N / batch_size times, and copying memoryview
    structs into each call measured as a stall on every call.
    """
    cdef Py_ssize_t n_chunks = (n_rows + CHUNK - 1) // CHUNK, c, j, lo
    cdef double* part
    cdef floating* scratch = <floating*>work.scratch
    cdef double loss = 0.0, gb_sum = 0.0, scale = 1.0 / n_rows
    for c in range(n_chunks * (d + 2)):
        work.partials[c] = 0.0
    if rows == NULL and work.n_threads > 1 and n_chunks > 1:
        for c in prange(n_chunks, num_threads=work.n_threads, schedule="dynamic"):
            lo = c * CHUNK
            span_pass(kind, X, y, NULL, lo, min(CHUNK, n_rows - lo), d, w, <floating>b,
                      scratch + threadid() * d, work.partials + c * (d + 2), n_total)
    else:
        for c in range(n_chunks):
            lo = c * CHUNK
            span_pass(kind, X, y, rows, first + lo, min(CHUNK, n_rows - lo), d, w, <floating>b,
                      scratch, work.partials + c * (d + 2), n_total)
    for j in range(d):
        gw[j] = 0.0
    for c in range(n_chunks):
        part = work.partials + c * (d + 2)
        for j in range(d):
            gw[j] += part[j]
        gb_sum += part[d]
        loss += part[d + 1]
    for j in range(d):
        gw[j] *= scale  # (a multiply: a division here sat on each mini-batch's critical path)
    gb[0] = gb_sum * scale
    return loss * scale


cdef inline double grad_norm(const double* gw, double gb, Py_ssize_t d,
                             bint fit_intercept) noexcept nogil:
    cdef double sq = 0.0
    cdef Py_ssize_t j
    for j in range(d):
        sq += gw[j] * gw[j]
    if fit_intercept:
        sq += gb * gb
    return sqrt(sq)


cdef inline void step(floating* w, Py_ssize_t d, floating* b, const double* gw, double gb,
                      double lr, bint fit_intercept) noexcept nogil:
    """w <- w - lr dL/dw, b <- b - lr dL/db."""
    cdef Py_ssize_t j
    for j in range(d):
        w[j] = <floating>(w[j] - lr * gw[j])
    if fit_intercept:
        b[0] = <floating>(b[0] - lr * gb)


cdef inline bint is_bad(double loss, double reference, double blowup) noexcept nogil:
    """Non-finite, or exploded past ``blowup`` times the loss at the start (NaN: none yet)."""
    return not isfinite(loss) or loss > blowup * reference


cdef object pass_buffers(const floating[:, ::1] X, int n_threads, Pass* work):
    """Allocate the work buffers of batch_pass; the returned arrays own them."""
    cdef Py_ssize_t d = X.shape[1], n_chunks = (X.shape[0] + CHUNK - 1) // CHUNK
    cdef double[::1] partials = np.empty(n_chunks * (d + 2), dtype=np.float64)
    cdef floating[::1] scratch = np.empty(max(n_threads, 1) * d,
                                          dtype=np.float64 if floating is double else np.float32)
    work.n_threads = max(n_threads, 1)
    work.partials = &partials[0]
    work.scratch = &scratch[0]
    return partials.base, scratch.base


# ------------------------------------------------------------------- fits --
#
# A fit may run in chunks of epochs (the Python layer reports progress and
# calls callbacks in between), so the loops keep their state in buffers the
# caller owns: the history, the epoch count, the parameters saved before the
# last step (to undo a step that blew up), the row order and the random state.
# saved = (loss, gradient norm, b) of the saved parameters (full batch), or
# saved[0] = the loss at the start, the reference for a blow-up (mini-batch).

cdef inline void record(floating* path, Py_ssize_t epoch, const floating* w, floating b,
                        Py_ssize_t d) noexcept nogil:
    """path[epoch] = (w, b) when a path is kept (path != NULL)."""
    if path != NULL:
        memcpy(path + epoch * (d + 1), w, d * sizeof(floating))
        path[epoch * (d + 1) + d] = b


cdef int full_batch(int kind, const floating[:, ::1] X, const floating[::1] y,
                    floating[::1] w, floating* b, bint fit_intercept,
                    double lr, Py_ssize_t epochs, Py_ssize_t stop_at, double tol,
                    double blowup, double* history, Py_ssize_t* n_hist_io, double* gw,
                    floating* w_prev, double* saved, floating* path,
                    double* report, Pass* work) noexcept nogil:
    """Gradient descent on all rows until converged, diverged, ``epochs`` done or
    ``stop_at`` epochs done (PAUSED); report = (final_loss, grad_norm)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], n_hist = n_hist_io[0]
    cdef const floating* data = &X[0, 0]
    cdef const floating* target = &y[0]
    cdef double loss, gb, norm
    cdef int status
    while True:
        if n_hist == stop_at and n_hist < epochs:
            status = PAUSED
            break
        loss = batch_pass(kind, data, target, n, d, NULL, 0, n, &w[0], b[0], gw, &gb, work)
        if is_bad(loss, history[0] if n_hist > 0 else NAN, blowup):
            if n_hist > 0:  # undo the step that blew up
                memcpy(&w[0], w_prev, d * sizeof(floating))
                b[0] = <floating>saved[2]
                n_hist -= 1
                report[0], report[1] = saved[0], saved[1]
            else:
                report[0], report[1] = loss, NAN
            status = DIVERGED
            break
        norm = grad_norm(gw, gb, d, fit_intercept)
        if norm <= tol or n_hist == epochs:
            report[0], report[1] = loss, norm
            status = CONVERGED if norm <= tol else MAX_EPOCHS
            break
        history[n_hist] = loss
        record(path, n_hist, &w[0], b[0], d)
        n_hist += 1
        memcpy(w_prev, &w[0], d * sizeof(floating))
        saved[0], saved[1], saved[2] = loss, norm, b[0]
        step(&w[0], d, b, gw, gb, lr, fit_intercept)
    n_hist_io[0] = n_hist
    return status


cdef int mini_batch(int kind, const floating[:, ::1] X, const floating[::1] y,
                    floating[::1] w, floating* b, bint fit_intercept,
                    double lr, Py_ssize_t epochs, Py_ssize_t stop_at, double tol,
                    double blowup, Py_ssize_t batch_size, uint64_t* rng,
                    Py_ssize_t* order, double* history, Py_ssize_t* n_hist_io,
                    double* gw, double* epoch_gw, floating* w_start, double* saved,
                    floating* path, double* report, Pass* work) noexcept nogil:
    """Mini-batch SGD over rows reshuffled every epoch; stops and reports as full_batch."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], n_hist = n_hist_io[0], j, lo, m
    cdef const floating* data = &X[0, 0]
    cdef const floating* target = &y[0]
    cdef double loss, gb, epoch_loss, epoch_gb
    cdef floating b_start
    cdef bint stopped = False, diverged = False
    if n_hist == 0 and stop_at > 0:
        saved[0] = batch_pass(kind, data, target, n, d, NULL, 0, n, &w[0], b[0], gw, &gb, work)
        if not isfinite(saved[0]):
            report[0], report[1] = saved[0], NAN
            return DIVERGED
    while n_hist < stop_at:
        shuffle(order, n, rng)
        memcpy(w_start, &w[0], d * sizeof(floating))
        b_start = b[0]
        epoch_loss = 0.0
        epoch_gb = 0.0
        for j in range(d):
            epoch_gw[j] = 0.0
        lo = 0
        while lo < n:
            m = batch_size if n - lo > batch_size else n - lo
            loss = batch_pass(kind, data, target, n, d, order, lo, m, &w[0], b[0], gw, &gb, work)
            if not isfinite(loss):
                diverged = True
                break
            epoch_loss += m * loss
            for j in range(d):
                epoch_gw[j] += m * gw[j]
            epoch_gb += m * gb
            step(&w[0], d, b, gw, gb, lr, fit_intercept)
            lo += m
        if not diverged:
            epoch_loss /= n
            diverged = is_bad(epoch_loss, saved[0], blowup)
        if diverged:  # back to the parameters this epoch started from
            memcpy(&w[0], w_start, d * sizeof(floating))
            b[0] = b_start
            break
        history[n_hist] = epoch_loss
        record(path, n_hist, w_start, b_start, d)
        n_hist += 1
        for j in range(d):
            epoch_gw[j] = (1.0 / n) * epoch_gw[j]
        if grad_norm(epoch_gw, epoch_gb / n, d, fit_intercept) <= tol:
            stopped = True
            break
    n_hist_io[0] = n_hist
    if not (stopped or diverged or n_hist == epochs):
        return PAUSED
    loss = batch_pass(kind, data, target, n, d, NULL, 0, n, &w[0], b[0], gw, &gb, work)
    report[0] = loss
    if not isfinite(loss):
        report[1] = NAN
        return DIVERGED
    report[1] = grad_norm(gw, gb, d, fit_intercept)
    if diverged:
        return DIVERGED
    return CONVERGED if stopped or report[1] <= tol else MAX_EPOCHS


def run_epochs(int kind, const floating[:, ::1] X, const floating[::1] y,
               floating[::1] w, floating[::1] b, bint fit_intercept, double lr,
               Py_ssize_t epochs, Py_ssize_t stop_at, double tol, double blowup,
               Py_ssize_t batch_size, double[::1] history, Py_ssize_t n_hist,
               floating[::1] w_saved, double[::1] saved, Py_ssize_t[::1] order,
               uint64_t[::1] rng, floating[:, ::1] path, double[::1] report,
               int n_threads=1):
    """Continue a fit from epoch ``n_hist`` up to ``stop_at`` (at most ``epochs``).

    ``w`` and ``b`` (1 element) are updated in place; ``batch_size`` 0 means
    full batch. The buffers are the caller's (see gdcore/backends/cython.py):
    ``history`` and ``path`` (or None) hold ``epochs`` rows, ``w_saved`` and
    ``saved`` the last step's start, ``order`` and ``rng`` the mini-batch state.
    Returns ``(status, n_hist)``; ``report`` receives (final_loss, grad_norm).
    Full passes over X run on ``n_threads`` threads (OpenMP, when built with it).
    """
    cdef Py_ssize_t d = X.shape[1]
    cdef double[::1] gw = np.empty(d, dtype=np.float64)
    cdef double[::1] epoch_gw = np.empty(d, dtype=np.float64)
    cdef floating* path_ptr = &path[0, 0] if path is not None else NULL
    cdef int status
    cdef Pass work
    buffers = pass_buffers(X, n_threads, &work)
    with nogil:
        if batch_size == 0:
            status = full_batch(kind, X, y, w, &b[0], fit_intercept, lr, epochs, stop_at,
                                tol, blowup, &history[0], &n_hist, &gw[0], &w_saved[0],
                                &saved[0], path_ptr, &report[0], &work)
        else:
            status = mini_batch(kind, X, y, w, &b[0], fit_intercept, lr, epochs, stop_at,
                                tol, blowup, batch_size, &rng[0], &order[0], &history[0],
                                &n_hist, &gw[0], &epoch_gw[0], &w_saved[0], &saved[0],
                                path_ptr, &report[0], &work)
    return status, n_hist


# ------------------------------------------------------- single evaluations --

def loss_grad(int kind, const floating[:, ::1] X, const floating[::1] y,
              const floating[::1] w, double b, int n_threads=1):
    """(loss, dL/dw, dL/db) at (w, b) over all rows, in one pass."""
    cdef double[::1] gw = np.empty(X.shape[1] + 1, dtype=np.float64)
    cdef double loss, gb
    cdef Pass work
    buffers = pass_buffers(X, n_threads, &work)
    with nogil:
        loss = batch_pass(kind, &X[0, 0], &y[0], X.shape[0], X.shape[1], NULL, 0, X.shape[0], &w[0], b,
                          &gw[0], &gb, &work)
    return loss, np.asarray(gw)[:X.shape[1]].copy(), gb


def loss_value(int kind, const floating[::1] y_true, const floating[::1] y_pred):
    cdef double total = 0.0
    cdef Py_ssize_t i
    with nogil:
        for i in range(y_true.shape[0]):
            total += loss_term(kind, <double>y_pred[i] - y_true[i])
    return total / y_true.shape[0]


def predict(const floating[:, ::1] X, const floating[::1] w, double b, floating[::1] out):
    """out[i] = w . x_i + b."""
    cdef Py_ssize_t i, j
    cdef double s
    with nogil:
        for i in range(X.shape[0]):
            s = 0.0
            for j in range(X.shape[1]):
                s += w[j] * X[i, j]
            out[i] = <floating>(s + b)


def all_finite(const floating[::1] values):
    """True when no value is NaN or infinite (no temporary array, unlike numpy)."""
    cdef Py_ssize_t i
    cdef bint ok = True
    with nogil:
        for i in range(values.shape[0]):
            if not isfinite(values[i]):
                ok = False
                break
    return ok


def curvature(const floating[:, ::1] X, bint fit_intercept, int max_iter,
              double rtol, uint64_t seed):
    """(lambda_max of H = (2/N) A^T A, max_i 2 ||a_i||^2), A = [X 1] or X.

    Power iteration from the same start vector as the reference backends:
    each product H v is one pass over X.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], m = d + fit_intercept, i, j, it
    cdef double[::1] v = np.empty(m, dtype=np.float64)
    cdef double[::1] u = np.empty(m, dtype=np.float64)
    cdef double s, norm, lam = 0.0, row_max = 0.0
    cdef uint64_t state = seed
    with nogil:
        for j in range(m):
            v[j] = 0.5 + splitmix64_uniform(&state)
        norm = 0.0
        for j in range(m):
            norm += v[j] * v[j]
        norm = sqrt(norm)
        for j in range(m):
            v[j] = v[j] / norm
        for it in range(max_iter):
            for j in range(m):
                u[j] = 0.0
            for i in range(n):
                s = 0.0
                for j in range(d):
                    s += X[i, j] * v[j]
                if fit_intercept:
                    s += v[d]
                    u[d] += s
                for j in range(d):
                    u[j] += s * X[i, j]
            norm = 0.0
            for j in range(m):
                u[j] = 2.0 * u[j] / n
                norm += u[j] * u[j]
            norm = sqrt(norm)
            if norm == 0.0:
                lam = 0.0
                break
            for j in range(m):
                v[j] = u[j] / norm
            if fabs(norm - lam) <= rtol * norm:
                lam = norm
                break
            lam = norm
        for i in range(n):
            s = <double>fit_intercept
            for j in range(d):
                s += X[i, j] * X[i, j]
            if s > row_max:
                row_max = s
    return lam, 2.0 * row_max


def shuffled(Py_ssize_t n, uint64_t seed, Py_ssize_t times):
    """The row order after ``times`` epochs' shuffles (to test against _random)."""
    cdef Py_ssize_t[::1] order = np.arange(n, dtype=np.intp)
    cdef uint64_t state = seed
    cdef Py_ssize_t t
    for t in range(times):
        shuffle(&order[0], n, &state)
    return np.asarray(order)


# ------------------------------------------------------------ measurement --

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
