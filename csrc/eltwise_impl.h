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

/* log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)): no overflow for large |x| */
static inline float softplus_(float v)
{
    return (v > 0.0f ? v : 0.0f) + log1pf(tc_expf_(-fabsf(v)));
}

static void unary_run_(int op, float alpha, float beta, const float *x, float *y, ptrdiff_t n)
{
    switch (op) {
    case TC_UNARY_RELU: UNARY_LOOP(v < 0.0f ? 0.0f : v) break;
    case TC_UNARY_LEAKY_RELU: UNARY_LOOP(tc_sel_(v < 0.0f, alpha * v, v)) break;
    case TC_UNARY_SIGMOID: UNARY_LOOP(1.0f / (1.0f + tc_expf_(-v))) break;
    case TC_UNARY_HARD_SIGMOID: UNARY_LOOP(clamp01_(alpha * v + beta)) break;
    case TC_UNARY_HARD_SWISH: UNARY_LOOP(v * clamp01_(v * (1.0f / 6.0f) + 0.5f)) break;
    case TC_UNARY_CLIP: UNARY_LOOP((v < alpha ? alpha : v) > beta ? beta : (v < alpha ? alpha : v)) break;
    case TC_UNARY_TANH: UNARY_LOOP(tc_tanhf_(v)) break;
    case TC_UNARY_EXP: UNARY_LOOP(tc_expf_(v)) break;
    case TC_UNARY_NEG: UNARY_LOOP(-v) break;
    case TC_UNARY_ABS: UNARY_LOOP(fabsf(v)) break;
    case TC_UNARY_SQRT: UNARY_LOOP(sqrtf(v)) break;
    case TC_UNARY_ERF: UNARY_LOOP(erff(v)) break;
    case TC_UNARY_LOG: UNARY_LOOP(logf(v)) break;
    case TC_UNARY_RECIPROCAL: UNARY_LOOP(1.0f / v) break;
    case TC_UNARY_SOFTPLUS: UNARY_LOOP(softplus_(v)) break;
    case TC_UNARY_MISH: UNARY_LOOP(v * tc_tanhf_(softplus_(v))) break;
    case TC_UNARY_ELU: UNARY_LOOP(tc_sel_(v < 0.0f, alpha * (tc_expf_(v) - 1.0f), v)) break;
    case TC_UNARY_SELU: UNARY_LOOP(beta * tc_sel_(v <= 0.0f, alpha * tc_expf_(v) - alpha, v)) break;
    case TC_UNARY_GELU: UNARY_LOOP(0.5f * v * (1.0f + erff(v * 0.70710678118654752f))) break;
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
