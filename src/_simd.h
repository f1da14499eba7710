/* SIMD pass over narrow rows, for _linear.pyx (see narrow_pass there).
 *
 * Why C: a row of 5 to 16 features is too short for the compiler to
 * vectorise its dot product (GCC leaves it scalar), and vectorising across
 * rows needs a transpose that Cython cannot express. GCC/Clang vector
 * extensions can, portably: each ISA build of _linear (baseline, x86-64-v3,
 * x86-64-v4) compiles these lines to its own SIMD width, and a compiler
 * without the extensions gets GD_LANES = a huge number, so _linear never
 * calls them and keeps its scalar loop.
 *
 * The pass mirrors rows_pass: for each row i, r = x_i.w + b - y_i, then
 * out[:d] += slope(r) x_i, out[d] += slope(r), out[d+1] += term(r), with
 * MSE (kind 0: r^2, 2r) or MAE (kind 1: |r|, sign r), accumulated in the
 * data's precision and added to the double ``out`` at the end.
 *
 * Layout of the work, for LANES rows at a time (a block):
 *   - each row is read as NV = ceil(d / LANES) vectors, the last one ending
 *     at the row's end (it overlaps the one before when LANES does not
 *     divide d; its overlapping lanes carry zero weights and are dropped from
 *     the gradient), so no value outside a row is ever read;
 *   - the LANES dot products are the horizontal sums of LANES product
 *     vectors, done together by a transpose-and-add tree (GD_REDUCE), which
 *     leaves the prediction of row r in lane r;
 *   - residuals, loss terms and slopes are then computed on a whole vector;
 *   - the gradient adds slope_r * row_r into two sets of accumulators (row
 *     r goes to set r % 2), to keep the multiply-add chains independent.
 * The rows left over (fewer than LANES) take the scalar loop.
 */
#ifndef GDCORE_SIMD_H
#define GDCORE_SIMD_H

/* A mini-batch lists its rows scattered over X, so each would wait on a
   cache miss. Passes over listed rows ask for the row listed GD_AHEAD places
   ahead as they go: a steady stream of requests (a burst of a whole batch's
   lines would fill the core's miss buffers and stall on them). */
#define GD_AHEAD 24 /* measured flat from 12 to 48 */

/* Ask for row rows[k + GD_AHEAD] of X (``d`` values of ``size`` bytes), every
   cache line of it, and for its target in y unless y is NULL; nothing when
   the list (rows[0 .. n_listed-1]) ends before. */
static inline void gd_prefetch_listed(const void* X, const void* y, Py_ssize_t size,
                                      Py_ssize_t d, const Py_ssize_t* rows, Py_ssize_t k,
                                      Py_ssize_t n_listed)
{
#if defined(__GNUC__)
    if (k + GD_AHEAD < n_listed) {
        Py_ssize_t at = rows[k + GD_AHEAD], bytes = d * size, line;
        const char* row = (const char*)X + at * bytes;
        for (line = 0; line < bytes; line += 64)
            __builtin_prefetch(row + line);
        __builtin_prefetch(row + bytes - 1);
        if (y)
            __builtin_prefetch((const char*)y + at * size);
    }
#endif
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))

/* 32-byte vectors with AVX (also under AVX-512: measured faster here, as
   512-bit operations leave one of the three vector ports idle), else 16. */
#if defined(__AVX__)
#define GD_LANES_DOUBLE 4
#define GD_LANES_FLOAT 8
#else
#define GD_LANES_DOUBLE 2
#define GD_LANES_FLOAT 4
#endif

/* Sum of each of t[0 .. L-1] into lane r of one vector: pairs of vectors
   are interleaved and added, halving the number of vectors per level. The
   last level adds a blend to a swap of halves: one shuffle, not two, on the
   one port that does shuffles across 128-bit lanes. */
/* Sets of gradient accumulators (row r of a block adds into set r % GD_SETS):
   measured as fast as four under AVX-512 and faster under AVX2, whose 16
   registers cannot hold four. */
#define GD_SETS 2
#define GD_PAIR(a, b, ...) (__builtin_shufflevector(a, b, __VA_ARGS__))
#define GD_LEVEL2(a, b) (GD_PAIR(a, b, 0, 2) + GD_PAIR(a, b, 1, 3))
#define GD_LEVEL4_1(a, b) (GD_PAIR(a, b, 0, 4, 2, 6) + GD_PAIR(a, b, 1, 5, 3, 7))
#define GD_LEVEL4_2(a, b) (GD_PAIR(a, b, 0, 1, 6, 7) + GD_PAIR(a, b, 2, 3, 4, 5))
#define GD_LEVEL8_1(a, b) (GD_PAIR(a, b, 0, 8, 2, 10, 4, 12, 6, 14) +                  \
                           GD_PAIR(a, b, 1, 9, 3, 11, 5, 13, 7, 15))
#define GD_LEVEL8_2(a, b) (GD_PAIR(a, b, 0, 1, 8, 9, 4, 5, 12, 13) +                   \
                           GD_PAIR(a, b, 2, 3, 10, 11, 6, 7, 14, 15))
#define GD_LEVEL8_3(a, b) (GD_PAIR(a, b, 0, 1, 2, 3, 12, 13, 14, 15) +                 \
                           GD_PAIR(a, b, 4, 5, 6, 7, 8, 9, 10, 11))
#define GD_REDUCE2(t) GD_LEVEL2(t[0], t[1])
#define GD_REDUCE4(t) GD_LEVEL4_2(GD_LEVEL4_1(t[0], t[1]), GD_LEVEL4_1(t[2], t[3]))
#define GD_REDUCE8(t) GD_LEVEL8_3(                                                     \
    GD_LEVEL8_2(GD_LEVEL8_1(t[0], t[1]), GD_LEVEL8_1(t[2], t[3])),                     \
    GD_LEVEL8_2(GD_LEVEL8_1(t[4], t[5]), GD_LEVEL8_1(t[6], t[7])))
#define GD_REDUCE_(lanes) GD_REDUCE##lanes
#define GD_REDUCE(lanes) GD_REDUCE_(lanes)

/* The pass for element type T with vectors of LANES values. */
#define GD_DEFINE_NARROW_PASS(T, LANES)                                                \
typedef T gd_vec_##T __attribute__((vector_size(LANES * sizeof(T))));                  \
typedef T gd_uvec_##T __attribute__((vector_size(LANES * sizeof(T)), aligned(sizeof(T)))); \
                                                                                       \
static inline __attribute__((always_inline)) void                                      \
gd_narrow_pass_##T(int kind, const T* X, const T* y, const Py_ssize_t* rows,           \
                   Py_ssize_t first, Py_ssize_t n, const Py_ssize_t d, const T* w,     \
                   T b, double* out, Py_ssize_t n_listed)                              \
{                                                                                      \
    typedef gd_vec_##T vec;                                                            \
    enum { NV_MAX = 16 / LANES + 1 };                                                  \
    const Py_ssize_t nv = (d + LANES - 1) / LANES, tail = d - LANES;                   \
    const Py_ssize_t kept = (nv - 1) * LANES; /* first column the tail vector owns */  \
    vec wv[NV_MAX], acc[GD_SETS][NV_MAX], gbv = {0}, lossv = {0};                      \
    T last_w[LANES], sum[16 + LANES], gb = 0, loss = 0;                                \
    Py_ssize_t i, k, j, l, q, r, end = first + n;                                      \
    for (k = 0; k < nv - 1; k++)                                                       \
        wv[k] = *(const gd_uvec_##T*)(w + k * LANES);                                  \
    for (l = 0; l < LANES; l++)                                                        \
        last_w[l] = tail + l >= kept ? w[tail + l] : 0;                                \
    wv[nv - 1] = *(const gd_uvec_##T*)last_w;                                          \
    for (q = 0; q < GD_SETS; q++)                                                      \
        for (k = 0; k < nv; k++)                                                       \
            acc[q][k] = (vec){0};                                                      \
    for (i = first; i + LANES <= end; i += LANES) {                                    \
        const T* row[LANES];                                                           \
        vec t[LANES], yv, p, s;                                                        \
        if (rows) { /* a mini-batch: listed rows (rows[0 .. n_listed-1] readable) */   \
            for (r = 0; r < LANES; r++) {                                              \
                row[r] = X + rows[i + r] * d;                                          \
                yv[r] = y[rows[i + r]];                                                \
                gd_prefetch_listed(X, y, sizeof(T), d, rows, i + r, n_listed);         \
            }                                                                          \
        } else {                                                                       \
            for (r = 0; r < LANES; r++)                                                \
                row[r] = X + (i + r) * d;                                              \
            yv = *(const gd_uvec_##T*)(y + i);                                         \
        }                                                                              \
        for (r = 0; r < LANES; r++) {                                                  \
            t[r] = *(const gd_uvec_##T*)(row[r] + tail) * wv[nv - 1];                  \
            for (k = 0; k < nv - 1; k++)                                               \
                t[r] += *(const gd_uvec_##T*)(row[r] + k * LANES) * wv[k];             \
        }                                                                              \
        p = GD_REDUCE(LANES)(t) + b - yv;                                              \
        if (kind == 0) {                                                               \
            lossv += p * p;                                                            \
            s = p + p;                                                                 \
        } else { /* sign(p), 0 at 0; |p| = sign(p) p */                                \
            s = __builtin_convertvector(p < 0, vec) - __builtin_convertvector(p > 0, vec); \
            lossv += s * p;                                                            \
        }                                                                              \
        gbv += s;                                                                      \
        for (r = 0; r < LANES; r++) {                                                  \
            acc[r % GD_SETS][nv - 1] += s[r] * *(const gd_uvec_##T*)(row[r] + tail);   \
            for (k = 0; k < nv - 1; k++)                                               \
                acc[r % GD_SETS][k] += s[r] * *(const gd_uvec_##T*)(row[r] + k * LANES); \
        }                                                                              \
    }                                                                                  \
    for (j = 0; j < d; j++)                                                            \
        sum[j] = 0;                                                                    \
    for (q = 0; q < GD_SETS; q++) {                                                    \
        for (k = 0; k < nv - 1; k++)                                                   \
            for (l = 0; l < LANES; l++)                                                \
                sum[k * LANES + l] += acc[q][k][l];                                    \
        for (l = 0; l < LANES; l++)                                                    \
            if (tail + l >= kept)                                                      \
                sum[tail + l] += acc[q][nv - 1][l];                                    \
    }                                                                                  \
    for (l = 0; l < LANES; l++) {                                                      \
        gb += gbv[l];                                                                  \
        loss += lossv[l];                                                              \
    }                                                                                  \
    for (; i < end; i++) { /* the rows left over, one at a time */                     \
        Py_ssize_t at = rows ? rows[i] : i;                                            \
        const T* x = X + at * d;                                                       \
        T res = b - y[at], slope;                                                      \
        for (j = 0; j < d; j++)                                                        \
            res += w[j] * x[j];                                                        \
        slope = kind == 0 ? res + res : (T)((res > 0) - (res < 0));                    \
        loss += kind == 0 ? res * res : slope * res;                                   \
        gb += slope;                                                                   \
        for (j = 0; j < d; j++)                                                        \
            sum[j] += slope * x[j];                                                    \
    }                                                                                  \
    for (j = 0; j < d; j++)                                                            \
        out[j] += sum[j];                                                              \
    out[d] += gb;                                                                      \
    out[d + 1] += loss;                                                                \
}

GD_DEFINE_NARROW_PASS(double, GD_LANES_DOUBLE)
GD_DEFINE_NARROW_PASS(float, GD_LANES_FLOAT)

#else /* no vector extensions: never called (d >= GD_LANES_* is never true) */

#define GD_LANES_DOUBLE 1000000
#define GD_LANES_FLOAT 1000000
#define GD_DEFINE_STUB(T)                                                              \
static inline void gd_narrow_pass_##T(int kind, const T* X, const T* y,                \
                                      const Py_ssize_t* rows, Py_ssize_t first,        \
                                      Py_ssize_t n, const Py_ssize_t d, const T* w,    \
                                      T b, double* out, Py_ssize_t n_listed) {}
GD_DEFINE_STUB(double)
GD_DEFINE_STUB(float)

#endif
#endif
