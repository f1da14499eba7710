# cython: language_level=3
"""The row pass of linear models: loss and gradient sums over rows of X, in one read.

A linear model's parameters are one flat vector ``[w_0 .. w_{d-1}, b]``; for
rows i the pass returns sum_i term(r_i) and the gradient sums
(sum_i slope_i x_i, sum_i slope_i), r_i = w . x_i + b - y_i, with term and
slope from _loss.h. It is specialised by width (narrow rows as literals, a
SIMD pass for 5 to 16 features and float rows of 17 to 24, padded rows up
to 64), by dtype (fused ``floating``; sums in double whatever the data's
type) and, through the module's three builds, by ISA: it runs at the speed
the memory delivers X. The epoch loop (src/_loop.pyx) calls it through the
Objective of ``LinearObjective``; nothing here knows about optimizers or epochs.

Rows are summed in a fixed tree, whatever the thread count: runs of rows
accumulate in the data's precision (up to SUB rows for float32, which keeps
float32 SIMD width; a whole CHUNK for float64), each run is flushed into the
double partial of its CHUNK, and the partials of the chunks are added in
chunk order. Chunks are the unit of parallel work (_pool.h: claimed from a
counter, and the caller takes over what a late thread has not finished, so a
descheduled thread never stalls the pass), so the result is bit-identical for
1 or N threads.
"""

import numpy as np

from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_New
from cython cimport floating
from libc.math cimport NAN, fabs, sqrt
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset

from _common cimport address, OBJECTIVE_CAPSULE, Objective, Rows
from _loss cimport MSE, loss_code, loss_slope, loss_term
from _rng cimport splitmix64_uniform


cdef enum:
    SUB = 256      # rows accumulated in float32 before a flush to double
    CHUNK = 4096   # rows per parallel task and per double partial
    NARROW = 16    # widths up to this are compiled as constants (see span_pass)
    PADDED = 64    # widths NARROW .. PADDED read rows padded to 8k values (padded_pass)
    PREFETCH_ROWS = 24  # padded_pass asks for the row this far ahead
    THREAD_BYTES = 1 << 21  # of X per thread at least: waking a thread costs microseconds


cdef extern from *:
    void __builtin_prefetch(const void* address) nogil


cdef extern from "_pool.h" nogil:
    ctypedef void (*ChunkFunction)(void* ctx, Py_ssize_t chunk, int thread, double* out) noexcept nogil
    ctypedef struct gd_pool:
        const double** result
        int n_workers
    gd_pool* gd_pool_new(int n_workers, Py_ssize_t n_chunks, Py_ssize_t width,
                         ChunkFunction fn, void* ctx)
    void gd_pool_run(gd_pool* pool)
    void gd_pool_free(gd_pool* pool)
    int MAX_THREADS "GD_POOL_MAX_THREADS"


cdef extern from "_simd.h" nogil:
    # Passes over listed rows (a mini-batch) ask for the row listed GD_AHEAD places ahead,
    # and for the loop's next block as they go (gd_sweep: Rows.sweep, _common.pxd).
    void gd_sweep(const char* sweep, Py_ssize_t k, Py_ssize_t count, Py_ssize_t bytes)
    void gd_prefetch_listed(const void* X, const void* y, Py_ssize_t size, Py_ssize_t d,
                            const Py_ssize_t* rows, Py_ssize_t k, Py_ssize_t n_listed)
    void gd_prefetch_weight(const void* sw, Py_ssize_t size, const Py_ssize_t* rows,
                            Py_ssize_t k, Py_ssize_t n_listed)


cdef inline floating row_terms(int kind, floating r, floating e, const floating* sw,
                              Py_ssize_t i, const bint weighted, floating* loss) noexcept nogil:
    """Row i's loss term added to loss[0], and its slope returned, both times its
    weight sw[i] if ``weighted`` (for the MSE as (w r) r and 2 (w r): one product more)."""
    cdef floating u
    if weighted and kind == MSE:
        u = sw[i] * r
        loss[0] += u * r
        return u + u
    if weighted:
        loss[0] += sw[i] * loss_term(kind, r, e)
        return sw[i] * loss_slope(kind, r, e)
    loss[0] += loss_term(kind, r, e)
    return loss_slope(kind, r, e)


cdef inline void rows_pass(int kind, floating e, const floating* X, const floating* y,
                           const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                           Py_ssize_t d, const Py_ssize_t width, const floating* w,
                           floating b, floating* acc, double* out,
                           const bint prefetch, Py_ssize_t n_listed, const char* sweep,
                           const floating* sw, const bint weighted) noexcept nogil:
    """out[:d] += sum slope_i x_i, out[d] += sum slope_i, out[d+1] += sum term_i.

    ``weighted``: each row's slope and term times its weight sw[i] (a literal at
    every call, so the unweighted copies carry no test).

    Rows first .. first+n-1, or rows[first ..] when ``rows`` (of ``n_listed``
    entries) is not NULL, asking for a row of ``sweep`` for each listed row
    (Rows.sweep, _common.pxd). Each row is read once: its prediction, loss term and
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
            gd_sweep(sweep, k - first, 1, d * sizeof(floating))
            if weighted:
                gd_prefetch_weight(sw, sizeof(floating), rows, k, n_listed)
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
        slope = row_terms(kind, r, e, sw, i, weighted, &loss)
        gb += slope
        for j in range(width):
            acc[j] += slope * row[j]
    for j in range(d):
        out[j] += acc[j]
    out[d] += gb
    out[d + 1] += loss


cdef inline void padded_pass(int kind, floating e, const floating* X, const floating* y,
                             const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                             Py_ssize_t d, const Py_ssize_t width, const floating* w,
                             floating b, double* out, Py_ssize_t n_listed, const char* sweep,
                             const floating* sw, const bint weighted) noexcept nogil:
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
    if rows == NULL:  # contiguous rows: a copy free of the per-row test of the row list
        rows_pass(kind, e, X, y, NULL, first, n, d, width, padded_w, b, acc, out, True,
                  n_listed, NULL, sw, weighted)
    else:
        rows_pass(kind, e, X, y, rows, first, n, d, width, padded_w, b, acc, out, True,
                  n_listed, sweep, sw, weighted)


cdef inline void few_features_pass(int kind, floating e, const floating* X, const floating* y,
                                   const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                                   Py_ssize_t d, const floating* w, floating b, floating* acc,
                                   double* out, Py_ssize_t n_total, const char* sweep,
                                   const floating* sw, const bint weighted) noexcept nogil:
    """rows_pass for 1 to 4 features, each width a literal (unrolled, in registers)."""
    if d == 1:
        rows_pass(kind, e, X, y, rows, first, n, 1, 1, w, b, acc, out, False, n_total, sweep,
                  sw, weighted)
    elif d == 2:
        rows_pass(kind, e, X, y, rows, first, n, 2, 2, w, b, acc, out, False, n_total, sweep,
                  sw, weighted)
    elif d == 3:
        rows_pass(kind, e, X, y, rows, first, n, 3, 3, w, b, acc, out, False, n_total, sweep,
                  sw, weighted)
    else:
        rows_pass(kind, e, X, y, rows, first, n, 4, 4, w, b, acc, out, False, n_total, sweep,
                  sw, weighted)


cdef inline void single_feature_pass(int kind, floating e, const floating* X, const floating* y,
                                     Py_ssize_t first, Py_ssize_t n, floating w, floating b,
                                     double* out, const floating* sw,
                                     const bint weighted) noexcept nogil:
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
        slope = row_terms(kind, r, e, sw, k, weighted, &loss[0])
        gb[0] += slope
        grad[0] += slope * X[k]
        i = k + half
        r = w * X[i] + b - y[i]
        slope = row_terms(kind, r, e, sw, i, weighted, &loss[1])
        gb[1] += slope
        grad[1] += slope * X[i]
    if n % 2:
        i = first + n - 1
        r = w * X[i] + b - y[i]
        slope = row_terms(kind, r, e, sw, i, weighted, &loss[0])
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
    void gd_narrow_pass_double(int kind, double e, const double* X, const double* y,
                               const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                               const Py_ssize_t d, const double* w, double b, double* out,
                               Py_ssize_t n_listed, const char* sweep,
                               const double* sw, int weighted)
    void gd_narrow_pass_float(int kind, float e, const float* X, const float* y,
                              const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                              const Py_ssize_t d, const float* w, float b, double* out,
                              Py_ssize_t n_listed, const char* sweep,
                              const float* sw, int weighted)
    void gd_listed_pass_double(int kind, double e, const double* X, const double* y,
                               const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                               const Py_ssize_t d, const double* w, double b, double* out,
                               Py_ssize_t n_listed, const char* sweep,
                               const double* sw, int weighted)
    void gd_listed_pass_float(int kind, float e, const float* X, const float* y,
                              const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                              const Py_ssize_t d, const float* w, float b, double* out,
                              Py_ssize_t n_listed, const char* sweep,
                              const float* sw, int weighted)
    enum:
        GD_WIDE_FLOAT_MIN  # the float rows gd_wide_pass_float takes
        GD_WIDE_FLOAT_MAX
    void gd_wide_pass_float(int kind, float e, const float* X, const float* y,
                            const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                            Py_ssize_t d, const float* w, float b, double* out,
                            Py_ssize_t n_listed, const char* sweep, const float* sw,
                            int weighted)


cdef inline void narrow_pass(int kind, floating e, const floating* X, const floating* y,
                             const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                             const Py_ssize_t d, const floating* w, floating b,
                             floating* acc, double* out, Py_ssize_t n_listed,
                             const char* sweep, const floating* sw,
                             const bint weighted) noexcept nogil:
    """rows_pass for 5 <= d <= NARROW features: the SIMD passes of _simd.h.

    They vectorise across rows (GCC vectorises neither a 5 to 16 term dot
    product nor, for most such d, a loop over rows), when a chunk (contiguous
    rows) or a vector (listed rows) of the data's type fits in a row; else
    the scalar rows_pass.
    """
    if floating is double:
        if rows == NULL and d >= GD_CHUNK_DOUBLE:
            gd_narrow_pass_double(kind, e, X, y, rows, first, n, d, w, b, out, n_listed, NULL,
                                  sw, weighted)
            return
        if rows != NULL and d >= GD_LISTED_DOUBLE:
            gd_listed_pass_double(kind, e, X, y, rows, first, n, d, w, b, out, n_listed, sweep,
                                  sw, weighted)
            return
    else:
        if rows == NULL and d >= GD_CHUNK_FLOAT:
            gd_narrow_pass_float(kind, e, X, y, rows, first, n, d, w, b, out, n_listed, NULL,
                                 sw, weighted)
            return
        if rows != NULL and d >= GD_LISTED_FLOAT:
            gd_listed_pass_float(kind, e, X, y, rows, first, n, d, w, b, out, n_listed, sweep,
                                 sw, weighted)
            return
    rows_pass(kind, e, X, y, rows, first, n, d, d, w, b, acc, out, False, n_listed, sweep,
              sw, weighted)


# Whether a pass weights its rows, as a type: span_pass is compiled once for each
# (fused types are specialised by Cython itself, where a flag would rely on GCC
# inlining a large function to drop its tests).
cdef struct Unweighted:
    char unused
cdef struct Weighted:
    char unused
ctypedef fused Weighting:
    Unweighted
    Weighted


cdef void span_pass(int kind, floating e, const floating* X, const floating* y,
                    const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n, Py_ssize_t d,
                    const floating* w, floating b, floating* scratch, double* out,
                    Py_ssize_t n_total, const char* sweep, const floating* sw,
                    Weighting* how) noexcept nogil:
    """rows_pass over runs of rows of X (which has ``n_total`` rows; ``rows``,
    when not NULL, is the mini-batch order and ``sweep`` the rows to ask for as
    it is read: see _common.pxd), each row's terms times its weight sw[i] in the
    Weighted copy (``how`` is never read).

    Contiguous float rows of 17 to 24 features take the SIMD gd_wide_pass_float
    (8 rows at a time, see _simd.h); other rows of NARROW + 1 to PADDED features
    go through padded_pass (measured faster there; narrower rows waste too many
    padded lanes), but for the last few contiguous rows, whose padding would
    read past X. Narrow widths are passed as literals, so the C compiler
    specialises each: one feature takes single_feature_pass, 2 to 4 the inline
    rows_pass (unrolled, accumulators in registers), 5 to NARROW the SIMD
    narrow_pass. Wider rows use the generic loop with ``scratch`` (d values).
    """
    cdef floating acc[NARROW]
    cdef Py_ssize_t lo = first, end = first + n, m, k, width = 0, safe = 0, padded_end = first
    cdef Py_ssize_t run = CHUNK if floating is double else SUB
    cdef bint weighted = Weighting is Weighted
    cdef const char* at  # the rows of ``sweep`` for the run from ``lo``
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
        at = NULL if sweep == NULL else sweep + (lo - first) * d * sizeof(floating)
        if floating is float and rows == NULL and GD_WIDE_FLOAT_MIN <= d <= GD_WIDE_FLOAT_MAX:
            gd_wide_pass_float(kind, e, X, y, NULL, lo, m, d, w, b, out, n_total, NULL, sw,
                               weighted)
        elif lo < padded_end:
            m = min(m, padded_end - lo)
            if width == 24:
                padded_pass(kind, e, X, y, rows, lo, m, d, 24, w, b, out, n_total, at, sw, weighted)
            elif width == 32:
                padded_pass(kind, e, X, y, rows, lo, m, d, 32, w, b, out, n_total, at, sw, weighted)
            elif width == 40:
                padded_pass(kind, e, X, y, rows, lo, m, d, 40, w, b, out, n_total, at, sw, weighted)
            elif width == 48:
                padded_pass(kind, e, X, y, rows, lo, m, d, 48, w, b, out, n_total, at, sw, weighted)
            elif width == 56:
                padded_pass(kind, e, X, y, rows, lo, m, d, 56, w, b, out, n_total, at, sw, weighted)
            else:
                padded_pass(kind, e, X, y, rows, lo, m, d, 64, w, b, out, n_total, at, sw, weighted)
        elif d == 1 and rows == NULL and floating is double:  # (float32: measured no gain)
            if kind == MSE:  # a copy the compiler vectorises, free of the other losses
                single_feature_pass(MSE, e, X, y, lo, m, w[0], b, out, sw, weighted)
            else:
                single_feature_pass(kind, e, X, y, lo, m, w[0], b, out, sw, weighted)
        elif d <= 4 and kind == MSE and rows == NULL:  # likewise
            few_features_pass(MSE, e, X, y, NULL, lo, m, d, w, b, acc, out, n_total, at, sw,
                              weighted)
        elif d <= 4:
            few_features_pass(kind, e, X, y, rows, lo, m, d, w, b, acc, out, n_total, at, sw,
                              weighted)
        elif d == 5:
            narrow_pass(kind, e, X, y, rows, lo, m, 5, w, b, acc, out, n_total, at, sw, weighted)
        elif d == 6:
            narrow_pass(kind, e, X, y, rows, lo, m, 6, w, b, acc, out, n_total, at, sw, weighted)
        elif d == 7:
            narrow_pass(kind, e, X, y, rows, lo, m, 7, w, b, acc, out, n_total, at, sw, weighted)
        elif d == 8:
            narrow_pass(kind, e, X, y, rows, lo, m, 8, w, b, acc, out, n_total, at, sw, weighted)
        elif d == 9:
            narrow_pass(kind, e, X, y, rows, lo, m, 9, w, b, acc, out, n_total, at, sw, weighted)
        elif d == 10:
            narrow_pass(kind, e, X, y, rows, lo, m, 10, w, b, acc, out, n_total, at, sw, weighted)
        elif d == 11:
            narrow_pass(kind, e, X, y, rows, lo, m, 11, w, b, acc, out, n_total, at, sw, weighted)
        elif d == 12:
            narrow_pass(kind, e, X, y, rows, lo, m, 12, w, b, acc, out, n_total, at, sw, weighted)
        elif d == 13:
            narrow_pass(kind, e, X, y, rows, lo, m, 13, w, b, acc, out, n_total, at, sw, weighted)
        elif d == 14:
            narrow_pass(kind, e, X, y, rows, lo, m, 14, w, b, acc, out, n_total, at, sw, weighted)
        elif d == 15:
            narrow_pass(kind, e, X, y, rows, lo, m, 15, w, b, acc, out, n_total, at, sw, weighted)
        elif d == 16:
            narrow_pass(kind, e, X, y, rows, lo, m, 16, w, b, acc, out, n_total, at, sw, weighted)
        else:
            rows_pass(kind, e, X, y, rows, lo, m, d, d, w, b, scratch, out, False, n_total,
                      at, sw, weighted)
        lo += m


ctypedef void (*SpanDouble)(int kind, double e, const double* X, const double* y,
                           const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                           Py_ssize_t d, const double* w, double b, double* scratch,
                           double* out, Py_ssize_t n_total, const char* sweep,
                           const double* sw, void* how) noexcept nogil
ctypedef void (*SpanFloat)(int kind, float e, const float* X, const float* y,
                          const Py_ssize_t* rows, Py_ssize_t first, Py_ssize_t n,
                          Py_ssize_t d, const float* w, float b, float* scratch,
                          double* out, Py_ssize_t n_total, const char* sweep,
                          const float* sw, void* how) noexcept nogil


cdef struct Pass:
    # Work buffers of a pass, allocated once per objective, and span_pass for its
    # dtype, called through these pointers from the serial and the threaded passes
    # alike: copies inlined into each would be vectorised (and so rounded) apart.
    double* partials   # n_chunks x (d + 2) doubles
    void* scratch      # d values of the data's dtype per thread, `stride` apart
    Py_ssize_t stride  # d rounded up to whole cache lines: threads share none
    SpanDouble span_double  # span_pass's Unweighted or Weighted copy
    SpanFloat span_float
    const void* sw          # the rows' weights (of the data's dtype), NULL: unweighted
    gd_pool* pool      # NULL: every pass on the calling thread
    void* params       # the parameters of the pass the pool is running (d + 1 values)


cdef inline void chunk_pass(Pass* work, int kind, floating e, const floating* X,
                            const floating* y, const Py_ssize_t* rows, Py_ssize_t first,
                            Py_ssize_t n, Py_ssize_t d, const floating* w, floating b,
                            floating* scratch, double* out, Py_ssize_t n_total,
                            const char* sweep) noexcept nogil:
    """span_pass through the Pass's pointer: one compiled copy for every caller."""
    if floating is double:
        work.span_double(kind, e, X, y, rows, first, n, d, w, b, scratch, out, n_total,
                         sweep, <const double*>work.sw, NULL)
    else:
        work.span_float(kind, e, X, y, rows, first, n, d, w, b, scratch, out, n_total,
                        sweep, <const float*>work.sw, NULL)


cdef double batch_pass(int kind, floating e, const floating* X, const floating* y,
                       Py_ssize_t n_total, Py_ssize_t d, const Py_ssize_t* rows,
                       Py_ssize_t first, Py_ssize_t n_rows, const floating* w, double b,
                       double* grad, Pass* work, const char* sweep) noexcept nogil:
    """Loss sum over the rows; gradient sums into grad[:d] (w) and grad[d] (b) unless
    grad is NULL.

    X is ``n_total`` x ``d``. ``rows`` NULL means rows first .. first+n_rows-1
    in order, in CHUNKs (a pass over all rows is shared with the pool's threads,
    if any); otherwise the rows listed at rows[first:first + n_rows] (a
    mini-batch of an order, see _common.pxd), on the calling thread, asking
    for a row from ``sweep`` for each (NULL: none).
    """
    cdef Py_ssize_t n_chunks = (n_rows + CHUNK - 1) // CHUNK, c, j, lo
    cdef const double* part
    cdef floating* scratch = <floating*>work.scratch
    cdef double loss = 0.0
    cdef bint pooled = rows == NULL and work.pool != NULL and first == 0 and n_rows == n_total
    if pooled:
        for j in range(d):
            (<floating*>work.params)[j] = w[j]
        (<floating*>work.params)[d] = <floating>b
        gd_pool_run(work.pool)
    else:
        for c in range(n_chunks * (d + 2)):
            work.partials[c] = 0.0
        for c in range(n_chunks):
            lo = c * CHUNK
            chunk_pass(work, kind, e, X, y, rows, first + lo, min(CHUNK, n_rows - lo), d, w,
                       <floating>b, scratch, work.partials + c * (d + 2), n_total,
                       NULL if rows == NULL or sweep == NULL
                       else sweep + lo * d * sizeof(floating))
    if grad != NULL:
        for j in range(d + 1):
            grad[j] = 0.0
    for c in range(n_chunks):
        part = work.pool.result[c] if pooled else work.partials + c * (d + 2)
        if grad != NULL:
            for j in range(d + 1):
                grad[j] += part[j]
        loss += part[d + 1]
    return loss


cdef struct LinearData:
    int kind
    double e
    const void* X
    const void* y
    Py_ssize_t n
    Py_ssize_t d
    Pass work
    const Rows* rows   # its Objective's (the rows the loop asks to sweep)


cdef inline const char* sweep_of(const LinearData* data) noexcept nogil:
    return data.rows.sweep if data.rows.sweeps else NULL


cdef double sums_double(void* ctx, const void* params, const Py_ssize_t* rows,
                        Py_ssize_t first, Py_ssize_t n, double* grad) noexcept nogil:
    cdef LinearData* data = <LinearData*>ctx
    cdef const double* p = <const double*>params
    return batch_pass(data.kind, <double>data.e, <const double*>data.X, <const double*>data.y,
                      data.n, data.d, rows, first, n, p, p[data.d], grad, &data.work,
                      sweep_of(data))


cdef double sums_float(void* ctx, const void* params, const Py_ssize_t* rows,
                       Py_ssize_t first, Py_ssize_t n, double* grad) noexcept nogil:
    cdef LinearData* data = <LinearData*>ctx
    cdef const float* p = <const float*>params
    return batch_pass(data.kind, <float>data.e, <const float*>data.X, <const float*>data.y,
                      data.n, data.d, rows, first, n, p, p[data.d], grad, &data.work,
                      sweep_of(data))


cdef inline void pool_chunk(LinearData* data, Py_ssize_t c, int thread, double* out,
                            const floating* p) noexcept nogil:
    """Chunk c of a full pass, for the pool's thread ``thread``, at the pool's parameters."""
    cdef Py_ssize_t lo = c * CHUNK
    chunk_pass(&data.work, data.kind, <floating>data.e, <const floating*>data.X,
               <const floating*>data.y, NULL, lo, min(CHUNK, data.n - lo), data.d, p,
               p[data.d], <floating*>data.work.scratch + thread * data.work.stride, out, data.n,
               NULL)


cdef void chunk_double(void* ctx, Py_ssize_t c, int thread, double* out) noexcept nogil:
    cdef LinearData* data = <LinearData*>ctx
    pool_chunk(data, c, thread, out, <const double*>data.work.params)


cdef void chunk_float(void* ctx, Py_ssize_t c, int thread, double* out) noexcept nogil:
    cdef LinearData* data = <LinearData*>ctx
    pool_chunk(data, c, thread, out, <const float*>data.work.params)


cdef class LinearObjective:
    """The loss of a linear model on (X, y), for the epoch loop and for single evaluations.

    ``X`` (C-contiguous, float32 or float64, n x d) and ``y`` (n, same dtype)
    are kept, never written. ``loss`` names a kind of _loss.h, ``e`` its
    parameter. ``sample_weight`` (n values of X's dtype, or None) weights each
    row's loss term and slope. Full passes share their chunks among up to
    ``n_threads`` threads (see _pool.h), at most one per chunk and per
    THREAD_BYTES of X; ``n_threads`` then tells how many run.
    """

    cdef Objective objective
    cdef LinearData data
    cdef object X, y, sample_weight, partials, scratch, params
    cdef readonly object dtype
    cdef readonly int n_threads

    def __cinit__(self, str loss, double e, X, y, Py_ssize_t n_threads=1, sample_weight=None):
        cdef Py_ssize_t n, d, n_chunks
        if not (isinstance(X, np.ndarray) and isinstance(y, np.ndarray) and X.ndim == 2
                and y.ndim == 1 and X.dtype == y.dtype and X.dtype in (np.float32, np.float64)
                and X.flags.c_contiguous and y.flags.c_contiguous
                and X.shape[0] == y.shape[0] and X.shape[0] > 0 and X.shape[1] > 0):
            raise ValueError("LinearObjective needs C-contiguous X (n x d) and y (n) "
                             "of one float dtype, n and d >= 1")
        if not 1 <= n_threads <= MAX_THREADS:
            raise ValueError(f"n_threads must be between 1 and {MAX_THREADS}")
        if sample_weight is not None and not (
                isinstance(sample_weight, np.ndarray) and sample_weight.dtype == X.dtype
                and sample_weight.shape == y.shape and sample_weight.flags.c_contiguous):
            raise ValueError("LinearObjective's sample_weight must be a C-contiguous array "
                             "of X's dtype, one value per row")
        n, d = X.shape[0], X.shape[1]
        n_chunks = (n + CHUNK - 1) // CHUNK
        n_threads = max(1, min(n_threads, n_chunks, X.nbytes // THREAD_BYTES))
        self.X, self.y, self.dtype = X, y, X.dtype
        self.partials = np.empty(n_chunks * (d + 2), dtype=np.float64)
        self.data.work.stride = (d + 15) // 16 * 16   # 64 bytes or more
        self.scratch = np.empty(n_threads * self.data.work.stride, dtype=X.dtype)
        self.params = np.empty(d + 1, dtype=X.dtype)
        self.data.kind = loss_code(loss)
        self.data.e = e
        self.data.X = <const void*>address(X)
        self.data.y = <const void*>address(y)
        self.data.n, self.data.d = n, d
        self.data.work.partials = <double*>address(self.partials)
        self.data.work.scratch = <void*>address(self.scratch)
        self.data.work.params = <void*>address(self.params)
        self.sample_weight = sample_weight
        if sample_weight is None:
            self.data.work.sw = NULL
            self.data.work.span_double = <SpanDouble>span_pass[double, Unweighted]
            self.data.work.span_float = <SpanFloat>span_pass[float, Unweighted]
        else:
            self.data.work.sw = <const void*>address(sample_weight)
            self.data.work.span_double = <SpanDouble>span_pass[double, Weighted]
            self.data.work.span_float = <SpanFloat>span_pass[float, Weighted]
        self.data.work.pool = NULL
        if n_threads > 1:
            self.data.work.pool = gd_pool_new(
                n_threads - 1, n_chunks, d + 2,
                chunk_double if X.dtype == np.float64 else chunk_float, &self.data)
            if self.data.work.pool == NULL:
                raise MemoryError("no memory for the threads' sums")
            n_threads = 1 + self.data.work.pool.n_workers  # fewer if the system refused some
        self.n_threads = n_threads
        self.objective.sums = sums_double if X.dtype == np.float64 else sums_float
        self.objective.ctx = &self.data
        self.objective.rows.X = <const char*>address(X)
        self.objective.rows.row_bytes = X.strides[0]
        self.objective.rows.y = <const char*>address(y)
        self.objective.rows.sw = <const char*>self.data.work.sw
        self.objective.rows.sweeps = True
        self.objective.rows.sweep = NULL
        self.data.rows = &self.objective.rows
        self.objective.n_rows = n
        self.objective.n_params = d + 1
        self.objective.itemsize = X.dtype.itemsize

    def __dealloc__(self):
        gd_pool_free(self.data.work.pool)

    def capsule(self):
        """The Objective, for the epoch loop (valid while this object lives)."""
        return PyCapsule_New(&self.objective, OBJECTIVE_CAPSULE, NULL)

    def sums(self, params, rows=None):
        """(loss sum, gradient sums) at ``params`` = [w..., b] over all rows or the listed ones."""
        cdef Py_ssize_t n_rows = self.data.n, m = n_rows
        if rows is None:
            return self._sums(params, None, 0, m)
        listed = np.asarray(rows, dtype=np.intp).reshape(-1)
        m = listed.shape[0]
        if m == 0 or m > n_rows:
            raise ValueError("rows must list between 1 and n rows of X")
        order = np.zeros(n_rows, dtype=np.intp)  # the loop's contract: n_rows entries
        order[:m] = listed
        return self.batch_sums(params, order, 0, m)

    def batch_sums(self, params, order, Py_ssize_t first, Py_ssize_t count):
        """The sums over rows order[first:first + count] of an order listing n rows, as
        the epoch loop asks for a mini-batch (the order is read in place)."""
        if not (isinstance(order, np.ndarray) and order.dtype == np.intp and order.ndim == 1
                and order.flags.c_contiguous and order.shape[0] == self.data.n):
            raise ValueError("order must be a C-contiguous intp array of n entries")
        if not (0 <= first and 0 < count and first + count <= self.data.n):
            raise ValueError("first and count must select a run of the order")
        if order.min() < 0 or order.max() >= self.data.n:
            raise ValueError("order must list rows of X")
        return self._sums(params, order, first, count)

    def chunk_sums(self, params, Py_ssize_t first=0, count=None):
        """The partial sums of a pass over rows first .. first + count - 1 in order: one
        row (gradient sums, then loss sum) per CHUNK rows, as the full pass adds them.
        The rows after them are read as padding, as in memory, so a block of rows held
        apart sums as the same rows of the whole X (gdcore/dask.py's shards)."""
        cdef Py_ssize_t m = self.data.n - first if count is None else count
        cdef Py_ssize_t width = self.data.d + 2
        if not (0 <= first and 0 < m and first + m <= self.data.n):
            raise ValueError("first and count must select rows of X")
        if self.data.work.pool != NULL and first == 0 and m == self.data.n:
            raise ValueError("chunk_sums needs an objective of one thread")
        self._sums(params, None, first, m)
        chunks = (m + CHUNK - 1) // CHUNK
        return self.partials[:chunks * width].reshape(chunks, width).copy()

    def loss_sum(self, params):
        """The loss sum alone at ``params`` over all rows (the loop's reference loss)."""
        return self._sums(params, None, 0, self.data.n, False)[0]

    def _sums(self, params, order, Py_ssize_t first, Py_ssize_t m, bint gradient=True):
        p = np.ascontiguousarray(params, dtype=self.dtype)
        if p.shape != (self.data.d + 1,):
            raise ValueError(f"params must have {self.data.d + 1} values, got shape {p.shape}")
        grad = np.empty(self.data.d + 1, dtype=np.float64) if gradient else None
        cdef double[::1] g = grad
        cdef double* out = &g[0] if gradient else NULL
        cdef const void* pp = <const void*>address(p)
        cdef const Py_ssize_t* listed = (<const Py_ssize_t*>address(order)
                                         if order is not None else NULL)
        cdef double loss
        with nogil:
            loss = self.objective.sums(self.objective.ctx, pp, listed, first, m, out)
        return loss, grad


cdef struct HeldBlock:
    # Rows start .. start+m-1 (m = 0: none) of data of n rows of d values, in memory at
    # X and y, and the mini-batch buffer (``size`` rows and one more) its rows are copied
    # to, with the objectives that sum the buffer.
    const char* X
    const char* y
    Py_ssize_t start, m, n, d, itemsize, row_bytes, size
    char* batch_X
    char* batch_y
    const Objective* shuffled   # over the buffer's size + 1 rows, listed by `listed`
    const Py_ssize_t* listed    # 0, 1, .. size
    const Objective* in_order   # over its first size + pad rows: a whole batch in order
    Py_ssize_t pad
    void* owner                 # the BlockObjective (borrowed): the calls back


cdef inline bint holds(const HeldBlock* h, const Py_ssize_t* rows, Py_ssize_t first,
                       Py_ssize_t n) noexcept nogil:
    """Whether a mini-batch of rows[first ..] (rows in order if NULL) is summed from the
    block: all of them in it, and none the data's last row (read unpadded)."""
    cdef Py_ssize_t k, i
    if n > h.size or (rows == NULL and (n != h.size or h.in_order == NULL)):
        return False
    for k in range(first, first + n):
        i = rows[k] if rows != NULL else k
        if i < h.start or i >= h.start + h.m or i == h.n - 1:
            return False
    return True


cdef double block_sums(void* ctx, const void* params, const Py_ssize_t* rows,
                       Py_ssize_t first, Py_ssize_t n, double* grad) noexcept nogil:
    """A mini-batch within the block: its rows copied into the buffer and summed there
    (as gdcore/_runs.py's Batch sums them); anything else called back with the GIL."""
    cdef HeldBlock* h = <HeldBlock*>ctx
    cdef Py_ssize_t k, i
    if not holds(h, rows, first, n):
        with gil:
            return (<BlockObjective>h.owner).called_back(params, rows, first, n, grad)
    for k in range(n):
        i = (rows[first + k] if rows != NULL else first + k) - h.start
        memcpy(h.batch_X + k * h.row_bytes, h.X + i * h.row_bytes, h.row_bytes)
        memcpy(h.batch_y + k * h.itemsize, h.y + i * h.itemsize, h.itemsize)
    if rows != NULL:
        return h.shuffled.sums(h.shuffled.ctx, params, h.listed, 0, n, grad)
    if h.pad:  # a row of zeros after the batch, its terms 0 (target = the intercept)
        memset(h.batch_X + n * h.row_bytes, 0, h.row_bytes)
        memcpy(h.batch_y + n * h.itemsize, <const char*>params + h.d * h.itemsize, h.itemsize)
    return h.in_order.sums(h.in_order.ctx, params, NULL, 0, n + h.pad, grad)


cdef const Objective* objective_of(LinearObjective objective) except NULL:
    return <const Objective*>PyCapsule_GetPointer(objective.capsule(), OBJECTIVE_CAPSULE)


cdef class BlockObjective:
    """The loss of a linear model on rows held elsewhere and read block by block into
    memory (gdcore/data.py's FileData: ``source``), for the epoch loop.

    A mini-batch whose rows all lie in the block in memory (``X`` and ``y``:
    ``source.held()``, (first row, rows), tells which) is copied into the
    batch buffer (``batch_X``, ``batch_y``: gdcore/_runs.py's Batch) and summed
    there by ``shuffled`` (listed rows) or ``in_order`` (a whole batch of
    ``size`` rows in order, ``pad`` rows of zeros after it; None: called back),
    LinearObjectives over that buffer, all in C. Anything else calls ``source``
    back in Python, with the GIL: a full pass (``source.sums(params)``), or a
    batch in the next block, across two or with the data's last row
    (``source.batch_sums(params, rows, after)``, which reads the block, and may
    ask for the one holding row ``after``: listed a block on, -1 if none). What a call
    back raises ends the loop (its loss is NaN) and is raised by ``reraise()``,
    which the loop calls on its return.
    """

    cdef Objective objective
    cdef HeldBlock held
    cdef object source, X, y, batch_X, batch_y, shuffled, in_order, listed, params
    cdef object error
    cdef readonly object dtype

    def __cinit__(self, source, X, y, batch_X, batch_y, LinearObjective shuffled,
                  LinearObjective in_order=None, Py_ssize_t pad=0):
        cdef Py_ssize_t n = source.n_rows, size = batch_X.shape[0] - 1
        arrays = (X, y, batch_X, batch_y)
        if not (all(isinstance(a, np.ndarray) and a.flags.c_contiguous
                    and a.dtype == shuffled.dtype for a in arrays)
                and X.ndim == batch_X.ndim == 2 and y.ndim == batch_y.ndim == 1
                and X.shape[1] == batch_X.shape[1] and X.shape[0] == y.shape[0]
                and batch_X.shape[0] == batch_y.shape[0] >= 2 and batch_X.flags.writeable
                and batch_y.flags.writeable and 0 <= pad <= 1):
            raise ValueError("BlockObjective needs C-contiguous X, y and a batch buffer of "
                             "two rows or more, of the objectives' dtype")
        if not (shuffled.data.X == address(batch_X) and shuffled.data.n == size + 1
                and (in_order is None or (in_order.data.X == address(batch_X)
                                          and in_order.data.n == size + pad))):
            raise ValueError("BlockObjective's objectives must sum the batch buffer: all its "
                             "rows (shuffled), its first size + pad (in_order)")
        self.source, self.X, self.y, self.batch_X, self.batch_y = source, X, y, batch_X, batch_y
        self.shuffled, self.in_order, self.dtype = shuffled, in_order, shuffled.dtype
        self.listed = np.arange(size + 1, dtype=np.intp)
        self.params = np.empty(X.shape[1] + 1, dtype=self.dtype)
        self.error = None
        self.held.X, self.held.y = <const char*>address(X), <const char*>address(y)
        self.held.start = self.held.m = 0
        self.held.n, self.held.d, self.held.size = n, X.shape[1], size
        self.held.itemsize, self.held.row_bytes = X.dtype.itemsize, X.strides[0]
        self.held.batch_X = <char*>address(batch_X)
        self.held.batch_y = <char*>address(batch_y)
        self.held.shuffled = objective_of(shuffled)
        self.held.listed = <const Py_ssize_t*>address(self.listed)
        self.held.in_order = NULL if in_order is None else objective_of(in_order)
        self.held.pad = pad
        self.held.owner = <void*>self
        self.objective.sums = block_sums
        self.objective.ctx = &self.held
        self.objective.rows.X = NULL  # not in memory: nothing for the loop to warm
        self.objective.rows.row_bytes = X.strides[0]
        self.objective.rows.y = self.objective.rows.sw = NULL
        self.objective.rows.sweeps = False
        self.objective.rows.sweep = NULL
        self.objective.n_rows = n
        self.objective.n_params = X.shape[1] + 1
        self.objective.itemsize = X.dtype.itemsize

    def capsule(self):
        """The Objective, for the epoch loop (valid while this object lives)."""
        return PyCapsule_New(&self.objective, OBJECTIVE_CAPSULE, NULL)

    def reraise(self):
        """Raise what a call back raised (once)."""
        error, self.error = self.error, None
        if error is not None:
            raise error

    cdef double called_back(self, const void* params, const Py_ssize_t* rows,
                            Py_ssize_t first, Py_ssize_t n, double* grad) noexcept:
        cdef Py_ssize_t k, ahead, after
        cdef double[::1] g
        if self.error is not None:
            return NAN
        try:
            memcpy(address(self.params), params, self.params.nbytes)
            if rows == NULL and first == 0 and n == self.held.n:
                loss, sums = self.source.sums(self.params.copy())
            else:
                listed = (np.arange(first, first + n) if rows == NULL
                          else np.array(<Py_ssize_t[:n]><Py_ssize_t*>(rows + first)))
                # a row of the block after the one these rows start (a batch one block on)
                ahead = first + self.X.shape[0] + n - 1
                after = -1 if rows == NULL or ahead >= self.held.n else rows[ahead]
                loss, sums = self.source.batch_sums(self.params.copy(), listed, after)
            start, m = self.source.held()
            if not (0 <= m <= self.X.shape[0] and 0 <= start and start + m <= self.held.n):
                raise ValueError(f"the block held, {m} rows from row {start}, does not fit "
                                 f"the buffer of {self.X.shape[0]} rows or the data")
            self.held.start, self.held.m = start, m
            if grad != NULL:
                g = np.ascontiguousarray(sums, dtype=np.float64)
                for k in range(self.held.d + 1):
                    grad[k] = g[k]
            return loss
        except BaseException as error:
            self.error = error
            self.held.m = 0
            return NAN


def predict(const floating[:, ::1] X, const floating[::1] params, floating[::1] out):
    """out[i] = w . x_i + b for params = [w..., b]."""
    cdef Py_ssize_t i, j, d = X.shape[1]
    cdef double s
    if params.shape[0] != d + 1 or out.shape[0] != X.shape[0]:
        raise ValueError("predict: params must have d + 1 values and out one per row")
    with nogil:
        for i in range(X.shape[0]):
            s = 0.0
            for j in range(d):
                s += params[j] * X[i, j]
            out[i] = <floating>(s + params[d])


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
