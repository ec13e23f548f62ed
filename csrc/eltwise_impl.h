/* Element-wise loops, written once and compiled twice: by eltwise.c (any CPU)
 * and by eltwise_avx2.c (-mavx2 -mfma), giving identical results (no
 * contraction under -std=c99, the same approximations of exp and tanh). */
#ifndef TC_ELTWISE_IMPL_H
#define TC_ELTWISE_IMPL_H
#include <math.h>
#include "eltwise_internal.h"

/* Comparisons are written so that NaN falls through to x (onnxruntime keeps NaN). */
#define UNARY_LOOP(EXPR)                  \
    for (ptrdiff_t i = 0; i < n; i++) {   \
        float v = x[i];                   \
        y[i] = (EXPR);                    \
    }

/* min(1, max(0, t)); NaN stays NaN */
static inline float clamp01_(float t)
{
    return tc_sel_(t < 0.0f, 0.0f, tc_sel_(t > 1.0f, 1.0f, t));
}

/* log(x), branch-free so that loops over it vectorise (libm's logf does not): x = 2^e m with
 * m in [sqrt(1/2), sqrt(2)), log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its
 * series to s^9 (truncation 6e-10), e ln 2 in two parts (Cody-Waite).  Within 2 ulp;
 * denormals scaled first; 0 gives -inf, x < 0 and NaN give NaN, +inf gives +inf. */
static inline float tc_logf_(float x)
{
    int32_t ix;
    memcpy(&ix, &x, 4);
    const int denormal = (ix > 0) & (ix < 0x00800000);
    float xs = tc_sel_(denormal, x * 8388608.0f, x); /* 2^23 */
    memcpy(&ix, &xs, 4);
    int32_t e = ((ix >> 23) & 0xff) - 127 - (denormal ? 23 : 0);
    int32_t im = (ix & 0x007fffff) | 0x3f800000;
    float m;
    memcpy(&m, &im, 4);
    const int high = m > 1.41421356f;
    m = tc_sel_(high, m * 0.5f, m);
    e += high;
    const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    const float p = t * (2.0f + t2 * (0.666666667f + t2 * (0.4f + t2 * (0.285714286f + t2 * 0.222222222f))));
    const float fe = (float)e;
    float r = fe * 0.693359375f + (p + fe * -2.12194440e-4f);
    r = tc_sel_(x == 0.0f, -INFINITY, r);
    r = tc_sel_((x < 0.0f) | (x != x), NAN, r);
    return tc_sel_(x == INFINITY, x, r);
}

/* log(1 + u) for u >= 0 without losing a small u: log(w) * u / (w - 1) with w = 1 + u
 * (Goldberg's correction), u itself where w rounds to 1. */
static inline float log1p_pos_(float u)
{
    const float w = 1.0f + u, d = w - 1.0f;
    return tc_sel_(d == 0.0f, u, tc_logf_(w) * (u / d));
}

/* erf(x), branch-free, within 2e-7 absolute (2 ulp): |x| <= 1: x p(x^2); 1 < |x| < 4:
 * 1 - exp(-x^2) r(|x|) with r = erfc(x) exp(x^2), smooth, a polynomial in |x| - 2.5 (no
 * division); beyond: +-1.  Coefficients fitted to erf in double (relative least squares on
 * Chebyshev nodes), checked in float. */
static inline float tc_erff_(float x)
{
    const float a = fabsf(x), z = a * a, t = a - 2.5f;
    const float small = a * (1.12837911f + z * (-0.376126260f + z * (0.112835824f + z * (-0.0268536918f +
                             z * (0.00518809911f + z * (-0.000800818903f + z * 7.84725926e-05f))))));
    const float r = 0.21080637f + t * (-0.0743475556f + t * (0.0249378048f + t * (-0.00799960922f +
                    t * (0.00246744533f + t * (-0.000738566392f + t * (0.000211108374f +
                    t * (-5.38454224e-05f + t * (1.53171623e-05f + t * (-6.33418313e-06f +
                    t * 1.49813388e-06f)))))))));
    const float big = 1.0f - tc_expf_(-z) * r;
    float v = tc_sel_(a <= 1.0f, small, tc_sel_(a >= 4.0f, 1.0f, big));
    v = tc_sel_(x != x, x, v);
    return tc_sel_(x < 0.0f, -v, v);
}

/* log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)): no overflow for large |x| */
static inline float softplus_(float v)
{
    return (v > 0.0f ? v : 0.0f) + log1p_pos_(tc_expf_(-fabsf(v)));
}

static void unary_run_(int op, float alpha, float beta, const float *x, float *y, ptrdiff_t n)
{
    switch (op) {
    case TC_UNARY_RELU: UNARY_LOOP(v < 0.0f ? 0.0f : v) break;
    case TC_UNARY_LEAKY_RELU: UNARY_LOOP(tc_sel_(v < 0.0f, alpha * v, v)) break;
    case TC_UNARY_SIGMOID: UNARY_LOOP(tc_sigmoidf_(v)) break;
    case TC_UNARY_HARD_SIGMOID: UNARY_LOOP(clamp01_(alpha * v + beta)) break;
    case TC_UNARY_HARD_SWISH: UNARY_LOOP(v * clamp01_(v * (1.0f / 6.0f) + 0.5f)) break;
    case TC_UNARY_CLIP: UNARY_LOOP((v < alpha ? alpha : v) > beta ? beta : (v < alpha ? alpha : v)) break;
    case TC_UNARY_TANH: UNARY_LOOP(tc_tanhf_(v)) break;
    case TC_UNARY_EXP: UNARY_LOOP(tc_expf_(v)) break;
    case TC_UNARY_NEG: UNARY_LOOP(-v) break;
    case TC_UNARY_ABS: UNARY_LOOP(fabsf(v)) break;
    case TC_UNARY_SQRT: UNARY_LOOP(sqrtf(v)) break;
    case TC_UNARY_ERF: UNARY_LOOP(tc_erff_(v)) break;
    case TC_UNARY_LOG: UNARY_LOOP(tc_logf_(v)) break;
    case TC_UNARY_RECIPROCAL: UNARY_LOOP(1.0f / v) break;
    case TC_UNARY_SOFTPLUS: UNARY_LOOP(softplus_(v)) break;
    case TC_UNARY_MISH: UNARY_LOOP(v * tc_tanhf_(softplus_(v))) break;
    case TC_UNARY_ELU: UNARY_LOOP(tc_sel_(v < 0.0f, alpha * (tc_expf_(v) - 1.0f), v)) break;
    case TC_UNARY_SELU: UNARY_LOOP(beta * tc_sel_(v <= 0.0f, alpha * tc_expf_(v) - alpha, v)) break;
    case TC_UNARY_GELU: UNARY_LOOP(0.5f * v * (1.0f + tc_erff_(v * 0.70710678118654752f))) break;
    case TC_UNARY_SILU: UNARY_LOOP(tc_siluf_(v)) break;
    case TC_UNARY_GELU_TANH:
        UNARY_LOOP(0.5f * v * (1.0f + tc_tanhf_(0.79788456080286536f * (v + 0.044715f * v * v * v))))
        break;
    default: break;
    }
}

/* P is a's element, Q is b's element. */
#define BINARY_LOOPS(EXPR)                                           \
    if (sa && sb) {                                                  \
        for (ptrdiff_t i = 0; i < n; i++) {                          \
            float P = a[i], Q = b[i];                                \
            y[i] = (EXPR);                                           \
        }                                                            \
    } else if (sa) {                                                 \
        const float Q = b[0];                                        \
        for (ptrdiff_t i = 0; i < n; i++) {                          \
            float P = a[i];                                          \
            y[i] = (EXPR);                                           \
        }                                                            \
    } else if (sb) {                                                 \
        const float P = a[0];                                        \
        for (ptrdiff_t i = 0; i < n; i++) {                          \
            float Q = b[i];                                          \
            y[i] = (EXPR);                                           \
        }                                                            \
    } else {                                                         \
        const float P = a[0], Q = b[0];                              \
        const float r = (EXPR);                                      \
        for (ptrdiff_t i = 0; i < n; i++)                            \
            y[i] = r;                                                \
    }

/* NaN-propagating max/min, like onnxruntime's Max and Min. */
static inline float max_nan(float p, float q) { return tc_sel_((p != p) | (q != q), p + q, p > q ? p : q); }
static inline float min_nan(float p, float q) { return tc_sel_((p != p) | (q != q), p + q, p < q ? p : q); }

static void binary_run_(int op, const float *a, int sa, const float *b, int sb, float *y, ptrdiff_t n)
{
    switch (op) {
    case TC_BINARY_ADD: BINARY_LOOPS(P + Q) break;
    case TC_BINARY_SUB: BINARY_LOOPS(P - Q) break;
    case TC_BINARY_MUL: BINARY_LOOPS(P * Q) break;
    case TC_BINARY_DIV: BINARY_LOOPS(P / Q) break;
    case TC_BINARY_MAX: BINARY_LOOPS(max_nan(P, Q)) break;
    case TC_BINARY_MIN: BINARY_LOOPS(min_nan(P, Q)) break;
    case TC_BINARY_POW: BINARY_LOOPS(powf(P, Q)) break;
    case TC_BINARY_PRELU: BINARY_LOOPS(tc_sel_(P < 0.0f, Q * P, P)) break;
    default: break;
    }
}

#endif
