/* Squeeze-and-excitation block (MobileNetV3, EfficientNet, RegNetY) as one call:
 * global average pool, two small dense layers with their activations, and the
 * channel-wise scale of the block input.  Only the small vectors (the pooled
 * channels, the hidden layer, the gates) are materialized, in the caller's
 * workspace; the big tensor is read by the pool and read once more (from cache
 * on the networks' sizes) and written once by the scale.  Every step is an
 * existing dispatched kernel: the pool, the row-major GEMV of the dense layers,
 * the broadcasting multiply; the activations of the small vectors are the
 * epilogue's scalar ones.  tc_se_gate_f32 stops at the gates, for a 1x1 convolution
 * that folds them into its weights (tc_conv2d_scaled_f32) instead of this scale. */
#include "eltwise_internal.h"
#include "epilogue.h"
#include "tinycnn.h"

size_t tc_se_gate_workspace_size(int n, int c, int c1)
{
    return n > 0 && c > 0 && c1 > 0 ? (size_t)n * c + (size_t)c1 : 0;
}

size_t tc_se_workspace_size(int n, int c, int c1)
{
    return n > 0 && c > 0 && c1 > 0 ? (size_t)n * c + tc_se_gate_workspace_size(n, c, c1) : 0;
}

/* Sigmoid and SiLU (RegNetY's and EfficientNet's gates, EfficientNet's hidden layer) on the
 * ISA's vector loop, the fused pass the GEMM driver uses: one scalar exp per channel cost
 * ~3 us of a 440-channel gate.  The other kinds (MobileNetV3's ReLU hidden layer and
 * HardSigmoid gate) with the channel's parameters resolved once, outside the loop, unless
 * they differ per channel (PReLU): gcc then drops the per-value switch and vectorizes the
 * loop, the same operations per value (the same bits).  Measured (h52-v3, Zen 4, se.c's
 * flags, thread CPU time, best of 2000 calls): a 960-channel HardSigmoid gate and its
 * 240-channel ReLU hidden layer 2.5-3.4 us a gate resolved per value, 0.69-0.88 resolved
 * once; MobileNetV3-Large's eight gates hold 5080 values, ~10 us of its ~5.3 ms run. */
static void act_vec(const tc_ctx *ctx, const tc_activation *act, float *v, int len)
{
    if (!act || act->kind == TC_ACT_NONE)
        return;
    if (tc_act_deferred(act->kind)) {
        tc_eltwise_kernels_of(ctx)->act_rows(act->kind, v, len, 1, len);
        return;
    }
    if (act->kind == TC_ACT_PRELU) {
        for (int i = 0; i < len; i++)
            v[i] = tc_act_f32(tc_act_at(act, i), v[i]);
        return;
    }
    const tc_act_k k = tc_act_at(act, 0);
    for (int i = 0; i < len; i++)
        v[i] = tc_act_f32(k, v[i]);
}

/* x: [n][c][s]  w1: [c1][c]  b1: [c1] or NULL  w2: [c][c1]  b2: [c] or NULL
 * act1: on the hidden [c1]  act2: the gate's, on [c]
 *   pooled[b][i] = mean(x[b][i][:])
 *   hidden[j]    = act1(w1[j] . pooled[b] + b1[j])
 *   gate[b][i]   = act2(w2[i] . hidden + b2[i])
 * workspace: tc_se_gate_workspace_size(n, c, c1) floats.  Returns -1 (nothing
 * written) for invalid sizes or activations. */
int tc_se_gate_f32(const tc_ctx *ctx, int n, int c, ptrdiff_t s, int c1, const float *x,
                   const float *w1, const float *b1, const tc_activation *act1, const float *w2,
                   const float *b2, const tc_activation *act2, float *gate, float *workspace)
{
    if (n <= 0 || c <= 0 || c1 <= 0 || s <= 0 || tc_activation_check(act1) ||
        tc_activation_check(act2))
        return -1;
    tc_global_avg_pool_f32(ctx, (ptrdiff_t)n * c, s, x, workspace);
    return tc_se_gate_means_f32(ctx, n, c, c1, workspace, w1, b1, act1, w2, b2, act2, gate,
                                workspace + (size_t)n * c);
}

/* means: [n][c], the pooled block input (a depthwise layer's tc_conv2d_means_f32); the rest
 * as tc_se_gate_f32's, from the hidden layer on.  workspace: c1 floats. */
int tc_se_gate_means_f32(const tc_ctx *ctx, int n, int c, int c1, const float *means,
                         const float *w1, const float *b1, const tc_activation *act1,
                         const float *w2, const float *b2, const tc_activation *act2, float *gate,
                         float *workspace)
{
    if (n <= 0 || c <= 0 || c1 <= 0 || tc_activation_check(act1) || tc_activation_check(act2))
        return -1;
    const float *pooled = means;
    float *hidden = workspace;
    for (int b = 0; b < n; b++) {
        float *g = gate + (size_t)b * c;
        tc_dense_rows_f32(ctx, 1, c, c1, pooled + (size_t)b * c, w1, b1, 0, hidden);
        act_vec(ctx, act1, hidden, c1);
        tc_dense_rows_f32(ctx, 1, c1, c, hidden, w2, b2, 0, g);
        act_vec(ctx, act2, g, c);
    }
    return 0;
}

/* x, y: [n][c][s] (y may be x), the rest as tc_se_gate_f32's
 *   y[b][i][:]   = x[b][i][:] * gate[b][i]
 * workspace: tc_se_workspace_size(n, c, c1) floats: the gates, then tc_se_gate_f32's. */
int tc_se_f32(const tc_ctx *ctx, int n, int c, ptrdiff_t s, int c1, const float *x,
              const float *w1, const float *b1, const tc_activation *act1, const float *w2,
              const float *b2, const tc_activation *act2, float *y, float *workspace)
{
    float *gate = workspace;
    if (n <= 0 || c <= 0 || tc_se_gate_f32(ctx, n, c, s, c1, x, w1, b1, act1, w2, b2, act2, gate,
                       workspace + (size_t)n * c))
        return -1;
    const ptrdiff_t ys[3] = {n, c, s}, gs[3] = {n, c, 1};
    return tc_binary_f32(ctx, TC_BINARY_MUL, 3, ys, x, ys, gate, gs, y);
}
