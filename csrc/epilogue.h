/* The activation of every fused epilogue (GEMM tiles, GEMV, depthwise,
 * Winograd, the reference convolution), scalar form; the AVX2 form is in
 * epilogue_avx2.h.  A tc_activation (tinycnn.h) is resolved per output
 * channel into a tc_act_k (PReLU becomes a leaky ReLU with that channel's
 * slope); the kernels apply the tc_act_k.  Adding an activation: a value in
 * enum tc_act, a case here, one in tc_act_avx2 and one in tc_activation_check. */
#ifndef TC_EPILOGUE_H
#define TC_EPILOGUE_H

#include "eltwise_internal.h"
#include "tinycnn.h"

/* One channel's activation. */
typedef struct tc_act_k {
    int kind; /* enum tc_act, never TC_ACT_PRELU */
    float alpha, beta;
} tc_act_k;

/* act (NULL: none) for output channel ch. */
static inline tc_act_k tc_act_at(const tc_activation *act, ptrdiff_t ch)
{
    tc_act_k k = {TC_ACT_NONE, 0.0f, 0.0f};
    if (act) {
        k.kind = act->kind;
        k.alpha = act->alpha;
        k.beta = act->beta;
        if (act->kind == TC_ACT_PRELU) {
            k.kind = TC_ACT_LEAKY_RELU;
            k.alpha = act->slope[ch];
        }
    }
    return k;
}

/* A parameter-free kind (the dense layers' ReLU). */
static inline tc_act_k tc_act_of(int kind)
{
    tc_act_k k = {kind, 0.0f, 0.0f};
    return k;
}

/* min(1, max(0, t)); NaN stays NaN */
static inline float tc_act_clamp01_(float t)
{
    return tc_sel_(t < 0.0f, 0.0f, tc_sel_(t > 1.0f, 1.0f, t));
}

/* The comparisons are written so that NaN falls through to v. */
static inline float tc_act_f32(tc_act_k a, float v)
{
    switch (a.kind) {
    case TC_ACT_RELU:
        return v < 0.0f ? 0.0f : v;
    case TC_ACT_CLIP: {
        float t = v < a.alpha ? a.alpha : v;
        return t > a.beta ? a.beta : t;
    }
    case TC_ACT_LEAKY_RELU:
        return v < 0.0f ? a.alpha * v : v;
    case TC_ACT_HARD_SIGMOID:
        return tc_act_clamp01_(a.alpha * v + a.beta);
    case TC_ACT_HARD_SWISH:
        return v * tc_act_clamp01_(a.alpha * v + a.beta);
    case TC_ACT_SIGMOID:
        return tc_sigmoidf_(v);
    case TC_ACT_SILU:
        return tc_siluf_(v);
    default:
        return v;
    }
}

/* Kinds that cost a few dozen operations per value (an exp and a divide): the
 * GEMM driver and the depthwise kernel store the values before activation and
 * then run tc_act_rows (the ISA's form: tc_act_rows_avx2) over the rows just
 * written, still in L1, instead of one call per register from the tile stores.
 * The cheap kinds stay in registers. */
static inline int tc_act_deferred(int kind)
{
    return kind == TC_ACT_SIGMOID || kind == TC_ACT_SILU;
}

/* y = act(y) over rows [rows][cols] (leading dimension ldy), in place. */
static inline void tc_act_rows_f32(int kind, float *y, ptrdiff_t ldy, int rows, ptrdiff_t cols)
{
    const tc_act_k a = tc_act_of(kind);
    for (int i = 0; i < rows; i++)
        for (ptrdiff_t j = 0; j < cols; j++)
            y[i * ldy + j] = tc_act_f32(a, y[i * ldy + j]);
}

#endif
