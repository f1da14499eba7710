/* The Gram matrix of a block of rows, for _scan.pyx's centred_gram.
 *
 * Why not BLAS: at the widths standardising measures (up to 256 columns,
 * mostly under 30) BLAS's syrk and gemm run far below the core's speed
 * (OpenBLAS's X.T @ X at 1,000,000 x 20: 32 ms, six times the time to read
 * X), and their order of summation is their own, so runs of rows held apart
 * could not add up to the same matrix.
 *
 * R[j, k] += sum over the block's rows i of U[i, j] * U[i, k], for the
 * blocks j <= k of LANES x LANES entries (the upper block triangle; the
 * caller reads the upper triangle). Each entry is summed in row order, one
 * product and one addition a row (the module is built with
 * -ffp-contract=off), so every ISA build gives the same bits: the vectors
 * run across k, never across rows.
 *
 * U is m rows of dp values, dp a multiple of LANES (zeros past the row's
 * real width), and R is dp x dp. A tile of LANES rows j by KV vectors of k
 * stays in registers over the block's rows: LANES broadcasts and KV loads
 * feed LANES * KV multiply-adds. U's block is small enough to stay in L1 or
 * L2 while every tile reads it.
 */
#ifndef GDCORE_GRAM_H
#define GDCORE_GRAM_H

#include <Python.h>
#include "_prefetch.h"

/* The bytes [at, end) of the rows the next block centres, asked into L2 a line per row
   a tile sums: the tiles' arithmetic then overlaps the reading of X, where in turn
   they would wait for each other. */
typedef struct {
    const char* at;
    const char* end;
} gd_gram_ahead;

static inline void gd_gram_ask(gd_gram_ahead* ahead)
{
    if (ahead->at < ahead->end) {
        GD_PREFETCH(ahead->at, 2);
        ahead->at += 64;
    }
}

/* u = root * (x * inv - mean), a row of d values (inv: the columns' reciprocal
   magnitudes); restrict tells the compiler u aliases none of the others, so the
   loop vectorises. */
#define GD_CENTRE(NAME, T)                                                          \
    static inline void NAME(const T* GD_RESTRICT x, const double* GD_RESTRICT inv,  \
                            const double* GD_RESTRICT mean, double root, Py_ssize_t d, \
                            double* GD_RESTRICT u)                                  \
    {                                                                               \
        Py_ssize_t j;                                                               \
        for (j = 0; j < d; j++)                                                     \
            u[j] = root * ((double)x[j] * inv[j] - mean[j]);                        \
    }
#if defined(__GNUC__)
#define GD_RESTRICT __restrict__
#else
#define GD_RESTRICT
#endif
GD_CENTRE(gd_centre_double, double)
GD_CENTRE(gd_centre_float, float)

#if defined(__GNUC__)
#if defined(__AVX__)
#define GD_GRAM_LANES 4 /* 32-byte vectors, also under AVX-512: on a 4-double grid the
                           upper block triangle wastes fewer products than on an 8 */
#else
#define GD_GRAM_LANES 2
#endif
typedef double gd_gram_vec __attribute__((vector_size(8 * GD_GRAM_LANES), aligned(8)));

#define GD_GRAM_TILE(KV)                                                                 \
    static inline void gd_gram_tile_##KV(const double* U, Py_ssize_t m, Py_ssize_t dp,   \
                                         Py_ssize_t j0, Py_ssize_t k0, double* R,        \
                                         gd_gram_ahead* ahead)                           \
    {                                                                                    \
        gd_gram_vec acc[GD_GRAM_LANES][KV], x[KV];                                       \
        Py_ssize_t i, t, v;                                                              \
        for (t = 0; t < GD_GRAM_LANES; t++)                                              \
            for (v = 0; v < KV; v++)                                                     \
                acc[t][v] = *(const gd_gram_vec*)(R + (j0 + t) * dp + k0 + v * GD_GRAM_LANES); \
        for (i = 0; i < m; i++) {                                                        \
            const double* row = U + i * dp;                                              \
            gd_gram_ask(ahead);                                                          \
            for (v = 0; v < KV; v++)                                                     \
                x[v] = *(const gd_gram_vec*)(row + k0 + v * GD_GRAM_LANES);              \
            for (t = 0; t < GD_GRAM_LANES; t++)                                          \
                for (v = 0; v < KV; v++)                                                 \
                    acc[t][v] = acc[t][v] + row[j0 + t] * x[v];                          \
        }                                                                                \
        for (t = 0; t < GD_GRAM_LANES; t++)                                              \
            for (v = 0; v < KV; v++)                                                     \
                *(gd_gram_vec*)(R + (j0 + t) * dp + k0 + v * GD_GRAM_LANES) = acc[t][v]; \
    }
GD_GRAM_TILE(1)
GD_GRAM_TILE(2)
GD_GRAM_TILE(3)

static void gd_gram_block(const double* U, Py_ssize_t m, Py_ssize_t dp, double* R,
                          gd_gram_ahead ahead)
{
    Py_ssize_t nv = dp / GD_GRAM_LANES, jb, kv;
    for (jb = 0; jb < nv; jb++)
        for (kv = jb; kv < nv;) {
            Py_ssize_t j0 = jb * GD_GRAM_LANES, k0 = kv * GD_GRAM_LANES;
            if (nv - kv >= 3) {
                gd_gram_tile_3(U, m, dp, j0, k0, R, &ahead);
                kv += 3;
            } else if (nv - kv == 2) {
                gd_gram_tile_2(U, m, dp, j0, k0, R, &ahead);
                kv += 2;
            } else {
                gd_gram_tile_1(U, m, dp, j0, k0, R, &ahead);
                kv += 1;
            }
        }
}

#else /* no vector extensions: one entry at a time, in the same order */
#define GD_GRAM_LANES 1

static void gd_gram_block(const double* U, Py_ssize_t m, Py_ssize_t dp, double* R,
                          gd_gram_ahead ahead)
{
    Py_ssize_t i, j, k;
    (void)ahead;
    for (j = 0; j < dp; j++)
        for (k = j; k < dp; k++) {
            double s = R[j * dp + k];
            for (i = 0; i < m; i++)
                s = s + U[i * dp + j] * U[i * dp + k];
            R[j * dp + k] = s;
        }
}
#endif

#endif /* GDCORE_GRAM_H */
