/* Per-row losses: the one definition every compiled pass uses.
 *
 * r = y_hat - y is the residual and e the loss's parameter; "term" is the
 * row's loss and "slope" its derivative d(term)/d(y_hat):
 *
 *   GD_MSE         r^2                                     2 r
 *   GD_MAE         |r|                                     sign(r), sign(0) = 0
 *   GD_HUBER       r^2 / 2 if |r| <= e, else e|r| - e^2/2  clip(r, -e, e)
 *   GD_SMOOTH_MAE  |r|                                     clip(r / e, -1, 1)
 *
 * GD_SMOOTH_MAE is the MAE as recorded, stepped by the slope of its Huber
 * smoothing of width e (divided by e): how the default MAE fit reaches the
 * least-absolute-deviations optimum (gdcore/trainer.py). The reference
 * formulas users read are in gdcore/losses.py.
 *
 * Scalar functions for each type, and GD_VEC_LOSS for the SIMD pass of
 * _simd.h, which works on GCC/Clang vectors with the same operations.
 */
#ifndef GDCORE_LOSS_H
#define GDCORE_LOSS_H

enum { GD_MSE = 0, GD_MAE = 1, GD_HUBER = 2, GD_SMOOTH_MAE = 3 };

#define GD_DEFINE_LOSS(T, SUF)                                                         \
static inline T gd_term_##SUF(int kind, T r, T e)                                      \
{                                                                                      \
    T a = r < 0 ? -r : r;                                                              \
    if (kind == GD_MSE)                                                                \
        return r * r;                                                                  \
    if (kind == GD_HUBER)                                                              \
        return a <= e ? r * r / 2 : e * a - e * e / 2;                                 \
    return a;                                                                          \
}                                                                                      \
static inline T gd_slope_##SUF(int kind, T r, T e)                                     \
{                                                                                      \
    if (kind == GD_MSE)                                                                \
        return r + r;                                                                  \
    if (kind == GD_MAE)                                                                \
        return (T)((r > 0) - (r < 0));                                                 \
    if (kind == GD_SMOOTH_MAE) {                                                       \
        r = r / e;                                                                     \
        e = 1;                                                                         \
    }                                                                                  \
    return r > e ? e : (r < -e ? -e : r);                                              \
}
GD_DEFINE_LOSS(double, double)
GD_DEFINE_LOSS(float, float)

/* On vectors ``vec`` (and their comparison masks ``ivec``): adds the terms of
   the residuals p to lossv and sets s to their slopes, except that for the
   MSE s = p (the caller doubles the slope sums at the end, exactly). ev holds
   e in every lane. */
#define GD_SELECT(m, a, b) ((vec)(((ivec)(a) & (m)) | ((ivec)(b) & ~(m))))
#define GD_VEC_LOSS(kind, p, ev, lossv, s)                                             \
    do {                                                                               \
        vec a_ = GD_SELECT(p < 0, -(p), p);                                            \
        if ((kind) == GD_MSE) {                                                        \
            lossv += (p) * (p);                                                        \
            s = (p);                                                                   \
        } else if ((kind) == GD_MAE) {                                                 \
            s = __builtin_convertvector((p) < 0, vec) - __builtin_convertvector((p) > 0, vec); \
            lossv += a_;                                                               \
        } else {                                                                       \
            vec q_ = (p), lim_ = (ev);                                                 \
            if ((kind) == GD_HUBER)                                                    \
                lossv += GD_SELECT(a_ <= lim_, (p) * (p) / 2, lim_ * a_ - lim_ * lim_ / 2); \
            else {                                                                     \
                lossv += a_;                                                           \
                q_ = (p) / lim_;                                                       \
                lim_ = lim_ / lim_;                                                    \
            }                                                                          \
            s = GD_SELECT(q_ > lim_, lim_, GD_SELECT(q_ < -lim_, -lim_, q_));          \
        }                                                                              \
    } while (0)

#endif
