/* SIMD pass over narrow rows (and contiguous float rows of 17 to 24 values),
 * for _pass_linear.pyx (see narrow_pass and span_pass there).
 *
 * Why C: a row of 5 to 16 features is too short for the compiler to
 * vectorise its dot product (GCC leaves it scalar), and vectorising across
 * rows needs a transpose that Cython cannot express. GCC/Clang vector
 * extensions can, portably: each ISA build of _pass_linear (baseline,
 * x86-64-v3, x86-64-v4) compiles these lines to its own SIMD width, and a
 * compiler without the extensions gets GD_CHUNK, GD_LISTED and
 * GD_WIDE_FLOAT_MIN = a huge number, so _pass_linear never calls them and
 * keeps its scalar loops.
 *
 * The pass mirrors rows_pass: for each row i, r = x_i.w + b - y_i, then
 * out[:d] += slope(r) x_i, out[d] += slope(r), out[d+1] += term(r), with the
 * loss ``kind`` of _loss.h (parameter e), accumulated in the data's precision
 * and added to the double ``out`` at the end.
 *
 * Layout of the work, for LANES rows at a time (a block):
 *   - each row is read as NC = ceil(d / C) chunks of C values, the last one
 *     ending at the row's end (it overlaps the one before when C does not
 *     divide d; its overlapping lanes carry zero weights and are dropped from
 *     the gradient), so no value outside a row is ever read;
 *   - a vector holds K = LANES / C chunks: the same chunk of rows a, a + C,
 *     .. (K = 2 wastes fewer lanes on rows whose width is not a multiple
 *     of LANES: 10 doubles take two whole 8-lane vectors, 6 lanes wasted,
 *     but three 4-lane chunks, 2 wasted);
 *   - the LANES dot products are C product vectors, summed by a
 *     transpose-and-add tree (GD_SUM), which leaves the prediction of row r
 *     in lane r;
 *   - residuals, loss terms and slopes are then computed on a whole vector;
 *   - the gradient adds each chunk times the slope of its row (spread over
 *     the chunks by GD_SLOPES) into SETS sets of accumulators, to keep the
 *     multiply-add chains independent.
 * The rows left over (fewer than LANES) take the scalar loop.
 */
#ifndef GDCORE_SIMD_H
#define GDCORE_SIMD_H

#include <stdint.h>

#include "_loss.h"
#include "_prefetch.h"

/* A mini-batch lists its rows scattered over X, so each would wait on a
   cache miss. Passes over listed rows ask for the row listed GD_AHEAD places
   ahead as they go: a steady stream of requests (a burst of a whole batch's
   lines would fill the core's miss buffers and stall on them). */
#define GD_AHEAD 24 /* measured flat from 8 to 48 */

/* Ask for row rows[k + GD_AHEAD] of X (``d`` values of ``size`` bytes), every
   cache line of it, and for its target in y unless y is NULL; nothing when
   the list (rows[0 .. n_listed-1]) ends before. */
static inline void gd_prefetch_listed(const void* X, const void* y, Py_ssize_t size,
                                      Py_ssize_t d, const Py_ssize_t* rows, Py_ssize_t k,
                                      Py_ssize_t n_listed)
{
    if (k + GD_AHEAD < n_listed) {
        Py_ssize_t at = rows[k + GD_AHEAD], bytes = d * size, line;
        const char* row = (const char*)X + at * bytes;
        for (line = 0; line < bytes; line += 64)
            GD_PREFETCH(row + line, 3);
        GD_PREFETCH(row + bytes - 1, 3);
        if (y)
            GD_PREFETCH((const char*)y + at * size, 3);
    }
}

/* Ask for rows k .. k+count-1 of ``sweep`` (rows of ``bytes`` bytes; nothing if
   NULL) into L2: the rows the epoch loop reads next (Rows.sweep, _common.pxd).
   Called for rows 0, 1, .. in turn, it asks for the cache lines that start
   within them (and row 0 for its first line too): each line once, however
   short the rows. */
static inline void gd_sweep(const char* sweep, Py_ssize_t k, Py_ssize_t count,
                            Py_ssize_t bytes)
{
    if (sweep) {
        uintptr_t from = (uintptr_t)(sweep + k * bytes), to = from + count * bytes;
        uintptr_t line = k ? (from + 63) & ~(uintptr_t)63 : from & ~(uintptr_t)63;
        for (; line < to; line += 64)
            GD_PREFETCH((const char*)line, 2);
    }
}

/* The weight of that row, for a weighted pass (its weights scattered like X's rows). */
static inline void gd_prefetch_weight(const void* sw, Py_ssize_t size, const Py_ssize_t* rows,
                                      Py_ssize_t k, Py_ssize_t n_listed)
{
    if (k + GD_AHEAD < n_listed)
        GD_PREFETCH((const char*)sw + rows[k + GD_AHEAD] * size, 3);
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

/* Contiguous rows: under AVX-512, doubles in 64-byte vectors of two 32-byte
   chunks (10,000 x 10: 14.3 us, against 16.2 in 32-byte vectors of two
   16-byte chunks and more in whole 64-byte vectors, which waste 6 of 16
   lanes there), floats in 32-byte vectors of two 16-byte chunks; one
   accumulator set per row of a chunk (32 registers). Under AVX2, 32-byte
   vectors, whole for doubles (16 registers: 16-byte chunks, which keep
   twice the values live, measured up to a quarter slower for 7 to 16
   features), in two 16-byte chunks for floats; else 16-byte vectors.
   Listed rows: whole vectors of 32 bytes under AVX (64 under AVX-512 leave
   5 to 7 doubles no vector and measured 2-10% slower at 10 and 12, 12%
   faster at 16), else 16. */
#if defined(__AVX512F__)
#define GD_LANES_DOUBLE 8
#define GD_LANES_FLOAT 8
#define GD_CHUNK_DOUBLE 4
#define GD_CHUNK_FLOAT 4
#define GD_SETS_DOUBLE 4
#define GD_SETS_FLOAT 4
#define GD_K_DOUBLE 2 /* = LANES / CHUNK */
#define GD_K_FLOAT 2
#define GD_LISTED_DOUBLE 4
#define GD_LISTED_FLOAT 8
#elif defined(__AVX__)
#define GD_LANES_DOUBLE 4
#define GD_LANES_FLOAT 8
#define GD_CHUNK_DOUBLE 4
#define GD_CHUNK_FLOAT 4
#define GD_SETS_DOUBLE 2
#define GD_SETS_FLOAT 2
#define GD_K_DOUBLE 1
#define GD_K_FLOAT 2
#define GD_LISTED_DOUBLE 4
#define GD_LISTED_FLOAT 8
#else
#define GD_LANES_DOUBLE 2
#define GD_LANES_FLOAT 4
#define GD_CHUNK_DOUBLE 2
#define GD_CHUNK_FLOAT 4
#define GD_SETS_DOUBLE 2
#define GD_SETS_FLOAT 2
#define GD_K_DOUBLE 1
#define GD_K_FLOAT 1
#define GD_LISTED_DOUBLE 2
#define GD_LISTED_FLOAT 4
#endif

/* A vector (of the pass's type ``vec``) of chunk ``off`` of rows a, a + C,
   ..: with K = 2, from row[0] + off and from row[C] + off, the second half
   inserted straight from memory, which the core runs on any vector port
   (GCC turns the same __builtin_shufflevector into a shuffle on the one
   shuffle port: 3% slower at 10,000 x 10); with K = 1, one whole vector. */
#define GD_CHUNKS_1_double(row, C, off) (*(const uvec*)((row)[0] + (off)))
#define GD_CHUNKS_1_float GD_CHUNKS_1_double /* the same load of the pass's uvec */
#if defined(__AVX512F__)
#define GD_CHUNKS_2_double(row, C, off)                                                \
    ((vec)_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_loadu_pd((row)[0] + (off))), \
                             _mm256_loadu_pd((row)[C] + (off)), 1))
#else
#define GD_CHUNKS_2_double(row, C, off)                                                \
    ((vec)_mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd((row)[0] + (off))), \
                               _mm_loadu_pd((row)[C] + (off)), 1))
#endif
#define GD_CHUNKS_2_float(row, C, off)                                                 \
    ((vec)_mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps((row)[0] + (off))), \
                               _mm_loadu_ps((row)[C] + (off)), 1))

/* GD_SUM_<LANES>_<C>(p): lane r = the sum of row r's parts, for C vectors p[a]
   whose K runs of C lanes each hold the C parts of one row of a chunk (log2 C
   levels, each interleaving pairs of vectors and adding them, halving the
   parts per row). */
#define GD_PAIR(a, b, ...) (__builtin_shufflevector(a, b, __VA_ARGS__))
#define GD_SUM_2_2(p) (GD_PAIR(p[0], p[1], 0, 2) + GD_PAIR(p[0], p[1], 1, 3))
#define GD_HALVE_4(a, b) (GD_PAIR(a, b, 0, 4, 2, 6) + GD_PAIR(a, b, 1, 5, 3, 7))
#define GD_SUM_4_2(p) GD_HALVE_4(p[0], p[1])
#define GD_SUM_4_4(p) ({ __typeof__(p[0]) u_ = GD_HALVE_4(p[0], p[1]),                 \
                                          v_ = GD_HALVE_4(p[2], p[3]);                 \
    GD_PAIR(u_, v_, 0, 1, 6, 7) + GD_PAIR(u_, v_, 2, 3, 4, 5); })
#define GD_HALVE_8(a, b) (GD_PAIR(a, b, 0, 8, 2, 10, 4, 12, 6, 14) +                   \
                          GD_PAIR(a, b, 1, 9, 3, 11, 5, 13, 7, 15))
#define GD_QUARTER_8(a, b) (GD_PAIR(a, b, 0, 1, 8, 9, 4, 5, 12, 13) +                \
                            GD_PAIR(a, b, 2, 3, 10, 11, 6, 7, 14, 15))
#define GD_SUM_8_4(p) GD_QUARTER_8(GD_HALVE_8(p[0], p[1]), GD_HALVE_8(p[2], p[3]))
#define GD_SUM_8_8(p) ({ __typeof__(p[0]) u_ = GD_SUM_8_4(p), v_ = GD_SUM_8_4((p + 4));  \
    GD_PAIR(u_, v_, 0, 1, 2, 3, 12, 13, 14, 15) + GD_PAIR(u_, v_, 4, 5, 6, 7, 8, 9, 10, 11); })

/* GD_SLOPES_<LANES>_<C>(S, s): S[a] = the slope of each lane's row, s[a],
   s[a + C], .. spread over their chunks. */
#define GD_SLOPES_2_2(S, s) (S[0] = GD_PAIR(s, s, 0, 0), S[1] = GD_PAIR(s, s, 1, 1))
#define GD_SLOPES_4_2(S, s) (S[0] = GD_PAIR(s, s, 0, 0, 2, 2), S[1] = GD_PAIR(s, s, 1, 1, 3, 3))
#define GD_SLOPES_4_4(S, s) (S[0] = GD_PAIR(s, s, 0, 0, 0, 0), S[1] = GD_PAIR(s, s, 1, 1, 1, 1), \
                             S[2] = GD_PAIR(s, s, 2, 2, 2, 2), S[3] = GD_PAIR(s, s, 3, 3, 3, 3))
#define GD_SLOPES_8_4(S, s) (S[0] = GD_PAIR(s, s, 0, 0, 0, 0, 4, 4, 4, 4),            \
                             S[1] = GD_PAIR(s, s, 1, 1, 1, 1, 5, 5, 5, 5),            \
                             S[2] = GD_PAIR(s, s, 2, 2, 2, 2, 6, 6, 6, 6),            \
                             S[3] = GD_PAIR(s, s, 3, 3, 3, 3, 7, 7, 7, 7))
#define GD_SLOPES_8_8(S, s) (S[0] = GD_PAIR(s, s, 0, 0, 0, 0, 0, 0, 0, 0),            \
                             S[1] = GD_PAIR(s, s, 1, 1, 1, 1, 1, 1, 1, 1),            \
                             S[2] = GD_PAIR(s, s, 2, 2, 2, 2, 2, 2, 2, 2),            \
                             S[3] = GD_PAIR(s, s, 3, 3, 3, 3, 3, 3, 3, 3),            \
                             S[4] = GD_PAIR(s, s, 4, 4, 4, 4, 4, 4, 4, 4),            \
                             S[5] = GD_PAIR(s, s, 5, 5, 5, 5, 5, 5, 5, 5),            \
                             S[6] = GD_PAIR(s, s, 6, 6, 6, 6, 6, 6, 6, 6),            \
                             S[7] = GD_PAIR(s, s, 7, 7, 7, 7, 7, 7, 7, 7))
#define GD_PASTE(macro, lanes, c) macro##_##lanes##_##c
#define GD_AT(macro, lanes, c) GD_PASTE(macro, lanes, c)

/* gd_vec_<T>_<LANES>, and gd_uvec_<T>_<LANES> for unaligned loads. */
#define GD_VEC(T, LANES) GD_AT(gd_vec, T, LANES)
#define GD_UVEC(T, LANES) GD_AT(gd_uvec, T, LANES)
#define GD_DEFINE_TYPES(T, LANES)                                                      \
typedef T GD_VEC(T, LANES) __attribute__((vector_size(LANES * sizeof(T))));            \
typedef T GD_UVEC(T, LANES) __attribute__((vector_size(LANES * sizeof(T)), aligned(sizeof(T))));

/* The pass NAME for element type T: vectors of LANES values, chunks of C
   values, K = LANES / C chunks per vector, SETS accumulator sets; RELOAD:
   the gradient reads the rows' chunks again. Rows of d values (C <= d,
   ceil(d / C) <= NC_MAX) are read as nc = ceil(d / C) chunks, nc a literal
   at every call (so the loops over a row's chunks unroll; d need not be). */
#define GD_DEFINE_CHUNKED_PASS(NAME, T, LANES, C, K, SETS, RELOAD)                     \
static inline __attribute__((always_inline)) void                                      \
NAME(int kind, T e, const T* X, const T* y, const Py_ssize_t* rows,                    \
                   Py_ssize_t first, Py_ssize_t n, const Py_ssize_t d,                 \
                   const Py_ssize_t nc, const T* w,                                    \
                   T b, double* out, Py_ssize_t n_listed, const char* sweep,           \
                   const T* sw, int weighted)                                          \
{                                                                                      \
    typedef GD_VEC(T, LANES) vec;                                                      \
    typedef GD_UVEC(T, LANES) uvec;                                                    \
    typedef __typeof__((vec){0} < (vec){0}) ivec;                                      \
    const vec ev = (vec){0} + e;                                                       \
    enum { NC_MAX = 24 / C };                                                          \
    const Py_ssize_t tail = d - C;                                                     \
    const Py_ssize_t kept = (nc - 1) * C; /* first column the tail chunk owns */       \
    vec wv[NC_MAX], acc[SETS][NC_MAX], gbv = {0}, lossv = {0};                         \
    T w_lanes[LANES], sum[24 + C], gb = 0, loss = 0;                                   \
    Py_ssize_t i, k, j, l, a, r, end = first + n;                                      \
    const T* w_rows[LANES];                                                            \
    for (r = 0; r < LANES; r++)                                                        \
        w_rows[r] = w;                                                                 \
    for (k = 0; k < nc - 1; k++) /* chunk k of w, once per row of a vector */          \
        wv[k] = GD_AT(GD_CHUNKS, K, T)(w_rows, C, k * C);                              \
    for (l = 0; l < LANES; l++) /* the tail chunk, without the columns it overlaps */  \
        w_lanes[l] = tail + l % C >= kept ? w[tail + l % C] : 0;                       \
    wv[nc - 1] = *(const uvec*)w_lanes;                                                \
    for (a = 0; a < SETS; a++)                                                         \
        for (k = 0; k < nc; k++)                                                       \
            acc[a][k] = (vec){0};                                                      \
    for (i = first; i + LANES <= end; i += LANES) {                                    \
        const T* row[LANES];                                                           \
        vec t[C][NC_MAX], part[C], slopes[C], yv, p, s, sv = {0}, termv = {0};         \
        if (rows) { /* a mini-batch: listed rows (rows[0 .. n_listed-1] readable) */   \
            gd_sweep(sweep, i - first, LANES, d * (Py_ssize_t)sizeof(T));              \
            for (r = 0; r < LANES; r++) {                                              \
                row[r] = X + rows[i + r] * d;                                          \
                yv[r] = y[rows[i + r]];                                                \
                gd_prefetch_listed(X, y, sizeof(T), d, rows, i + r, n_listed);         \
                if (weighted) {                                                        \
                    sv[r] = sw[rows[i + r]];                                           \
                    gd_prefetch_weight(sw, sizeof(T), rows, i + r, n_listed);          \
                }                                                                      \
            }                                                                          \
        } else {                                                                       \
            for (r = 0; r < LANES; r++)                                                \
                row[r] = X + (i + r) * d;                                              \
            yv = *(const uvec*)(y + i);                                                \
            if (weighted)                                                              \
                sv = *(const uvec*)(sw + i);                                           \
        }                                                                              \
        for (a = 0; a < C; a++) {                                                      \
            for (k = 0; k < nc; k++)                                                   \
                t[a][k] = GD_AT(GD_CHUNKS, K, T)(row + a, C, k < nc - 1 ? k * C : tail); \
            part[a] = t[a][0] * wv[0];                                                 \
            for (k = 1; k < nc; k++)                                                   \
                part[a] += t[a][k] * wv[k];                                            \
        }                                                                              \
        p = GD_AT(GD_SUM, LANES, C)(part) + b - yv;                                    \
        if (weighted && kind == GD_MSE) { /* (w p) p and w p: one product more */      \
            s = sv * p;                                                                \
            lossv += s * p;                                                            \
        } else if (weighted) { /* the row's term and slope times its weight */         \
            GD_VEC_LOSS(kind, p, ev, termv, s);                                        \
            lossv += sv * termv;                                                       \
            s *= sv;                                                                   \
        } else {                                                                       \
            GD_VEC_LOSS(kind, p, ev, lossv, s); /* for the MSE s = p, doubled at the end */ \
        }                                                                              \
        gbv += s;                                                                      \
        GD_AT(GD_SLOPES, LANES, C)(slopes, s);                                         \
        if (RELOAD) { /* read the rows again (from L1) rather than keep them live */   \
            __asm__ volatile("" ::: "memory");                                         \
            for (a = 0; a < C; a++)                                                    \
                for (k = 0; k < nc; k++)                                               \
                    t[a][k] = GD_AT(GD_CHUNKS, K, T)(row + a, C, k < nc - 1 ? k * C : tail); \
        }                                                                              \
        for (a = 0; a < C; a++)                                                        \
            for (k = 0; k < nc; k++)                                                   \
                acc[a % SETS][k] += slopes[a] * t[a][k];                               \
    }                                                                                  \
    for (j = 0; j < d; j++)                                                            \
        sum[j] = 0;                                                                    \
    for (a = 0; a < SETS; a++)                                                         \
        for (k = 0; k < nc; k++)                                                       \
            for (l = 0; l < LANES; l++) {                                              \
                j = k < nc - 1 ? k * C + l % C : tail + l % C;                         \
                if (k < nc - 1 || j >= kept)                                           \
                    sum[j] += acc[a][k][l];                                            \
            }                                                                          \
    for (l = 0; l < LANES; l++) {                                                      \
        gb += gbv[l];                                                                  \
        loss += lossv[l];                                                              \
    }                                                                                  \
    if (kind == GD_MSE) {                                                              \
        for (j = 0; j < d; j++)                                                        \
            sum[j] += sum[j];                                                          \
        gb += gb;                                                                      \
    }                                                                                  \
    for (; i < end; i++) { /* the rows left over, one at a time */                     \
        Py_ssize_t at = rows ? rows[i] : i;                                            \
        if (rows)                                                                      \
            gd_sweep(sweep, i - first, 1, d * (Py_ssize_t)sizeof(T));                  \
        const T* x = X + at * d;                                                       \
        T res = b - y[at], slope;                                                      \
        for (j = 0; j < d; j++)                                                        \
            res += w[j] * x[j];                                                        \
        slope = gd_slope_##T(kind, res, e);                                            \
        if (weighted)                                                                  \
            slope *= sw[at];                                                           \
        loss += weighted ? sw[at] * gd_term_##T(kind, res, e) : gd_term_##T(kind, res, e); \
        gb += slope;                                                                   \
        for (j = 0; j < d; j++)                                                        \
            sum[j] += slope * x[j];                                                    \
    }                                                                                  \
    for (j = 0; j < d; j++)                                                            \
        out[j] += sum[j];                                                              \
    out[d] += gb;                                                                      \
    out[d + 1] += loss;                                                                \
}

/* Contiguous rows (a whole pass), in chunks; listed rows (a mini-batch), in
   whole vectors: a scattered row is a cache miss of its own, and chunks of
   two rows per vector measured 3-12% slower there (twice the loads).

   Contiguous float rows of 17 to 24 values too (gd_wide_pass_float): 8 rows
   at a time, each as 3 vectors of 8 values, read again for the gradient
   rather than kept in registers. _pass_linear's padded loop, one row at a
   time, is bound there by each row's own horizontal sum (a long chain the
   core overlaps for only a few rows): 3.1 ns a row in cache against 2.6, and
   3.3 ms against 2.9 for a float32 epoch at 1,000,000 x 20. Doubles (bound
   by memory: 5.6 ms became 7.0), wider float rows (d = 32: 5.0 ms became
   5.6; d = 64: twice as slow in cache) and listed rows (5% slower) measured
   slower this way, so they keep the padded loop. */
GD_DEFINE_TYPES(double, GD_LANES_DOUBLE)
GD_DEFINE_TYPES(float, GD_LANES_FLOAT)
#if GD_LISTED_DOUBLE != GD_LANES_DOUBLE
GD_DEFINE_TYPES(double, GD_LISTED_DOUBLE)
#endif
#if GD_LISTED_FLOAT != GD_LANES_FLOAT
GD_DEFINE_TYPES(float, GD_LISTED_FLOAT)
#endif
#if GD_LANES_FLOAT != 8 && GD_LISTED_FLOAT != 8
GD_DEFINE_TYPES(float, 8)
#endif
GD_DEFINE_CHUNKED_PASS(gd_chunked_pass_double, double, GD_LANES_DOUBLE, GD_CHUNK_DOUBLE,
                       GD_K_DOUBLE, GD_SETS_DOUBLE, 0)
GD_DEFINE_CHUNKED_PASS(gd_chunked_pass_float, float, GD_LANES_FLOAT, GD_CHUNK_FLOAT,
                       GD_K_FLOAT, GD_SETS_FLOAT, 0)
GD_DEFINE_CHUNKED_PASS(gd_listed_chunks_double, double, GD_LISTED_DOUBLE, GD_LISTED_DOUBLE, 1, 2, 0)
GD_DEFINE_CHUNKED_PASS(gd_listed_chunks_float, float, GD_LISTED_FLOAT, GD_LISTED_FLOAT, 1, 2, 0)
#define GD_WIDE_FLOAT_MIN 17 /* the rows gd_wide_pass_float is called for: 3 chunks of 8 */
#define GD_WIDE_FLOAT_MAX 24
GD_DEFINE_CHUNKED_PASS(gd_wide_chunks_float, float, 8, 8, 1, 2, 1)

/* Rows of d <= 16 values (d a literal), the chunk count derived from it; rows of
   GD_WIDE_FLOAT_MIN to GD_WIDE_FLOAT_MAX floats in 3 chunks. */
#define GD_CHUNKS_OF(d, C) (((d) + (C) - 1) / (C))
#define gd_wide_pass_float(kind, e, X, y, rows, first, n, d, ...) \
    gd_wide_chunks_float(kind, e, X, y, rows, first, n, d, 3, __VA_ARGS__)
#define gd_narrow_pass_double(kind, e, X, y, rows, first, n, d, ...) \
    gd_chunked_pass_double(kind, e, X, y, rows, first, n, d, GD_CHUNKS_OF(d, GD_CHUNK_DOUBLE), __VA_ARGS__)
#define gd_narrow_pass_float(kind, e, X, y, rows, first, n, d, ...) \
    gd_chunked_pass_float(kind, e, X, y, rows, first, n, d, GD_CHUNKS_OF(d, GD_CHUNK_FLOAT), __VA_ARGS__)
#define gd_listed_pass_double(kind, e, X, y, rows, first, n, d, ...) \
    gd_listed_chunks_double(kind, e, X, y, rows, first, n, d, GD_CHUNKS_OF(d, GD_LISTED_DOUBLE), __VA_ARGS__)
#define gd_listed_pass_float(kind, e, X, y, rows, first, n, d, ...) \
    gd_listed_chunks_float(kind, e, X, y, rows, first, n, d, GD_CHUNKS_OF(d, GD_LISTED_FLOAT), __VA_ARGS__)

#else /* no vector extensions: never called (d >= GD_CHUNK_*, GD_LISTED_* never true) */

#define GD_CHUNK_DOUBLE 1000000
#define GD_CHUNK_FLOAT 1000000
#define GD_LISTED_DOUBLE 1000000
#define GD_LISTED_FLOAT 1000000
#define GD_DEFINE_STUB(NAME, T)                                                        \
static inline void NAME(int kind, T e, const T* X, const T* y, const Py_ssize_t* rows, \
                        Py_ssize_t first, Py_ssize_t n, const Py_ssize_t d, const T* w, \
                        T b, double* out, Py_ssize_t n_listed, const char* sweep,       \
                        const T* sw, int weighted) {}
GD_DEFINE_STUB(gd_narrow_pass_double, double)
GD_DEFINE_STUB(gd_narrow_pass_float, float)
GD_DEFINE_STUB(gd_listed_pass_double, double)
GD_DEFINE_STUB(gd_listed_pass_float, float)
#define GD_WIDE_FLOAT_MIN 1000000
#define GD_WIDE_FLOAT_MAX 0
GD_DEFINE_STUB(gd_wide_pass_float, float)

#endif
#endif
