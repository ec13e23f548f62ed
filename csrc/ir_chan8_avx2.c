/* AVX2: an inverted-residual block's expansion written channel-blocked for its depthwise
 * (ir_fused.c tc_ir_chan8_f32): the depthwise channel-block kernel (depthwise_body.h _block_k)
 * copies 8 x 8 blocks of the NCHW planes into vectors of 8 channels per pixel, transposing each,
 * 0.2-0.4 of its time on 14x14 and 28x28 maps.  Here the expansion makes those vectors itself:
 *   expansion:  channel-lane tiles (16 channels x 6 pixels, 12 accumulators; per K step 2 loads
 *               of the 1X1_CHAN packed weights and 6 broadcasts of x), bias and activation,
 *               stored [E/8][H W][8] ("NHWC8") as made;
 *   depthwise:  3x3 at stride 1 or 2, pads 1: each 8-channel block's padded pixel buffer filled
 *               by plain vector copies, 7 pixels in flight, then transposed back to NCHW planes
 *               with the activation (the block kernel's steps but the copy);
 *   projection: as before (ir_fused.c, on the NCHW depthwise output).
 * The expansion and the depthwise run one strip of 16 channels at a time (the strip's NHWC8
 * output, 16 N floats, still in L1 / L2 when the depthwise reads it), and each strip's first
 * tile prefetches the next strip's weights into L2.  As session 27 built it (the whole
 * expansion, E N floats, then the whole depthwise; benchmarks/ir_chan8.patch) it lost in the
 * network: MobileNetV2 1.012-1.026 of 26b50c0's time, where the blocks cut alone gained.
 * benchmarks/steps_ab.py (both builds' blocks inside the network, one process, 40 rounds,
 * 2026-12-04, Zen 4, AVX2 emulation) found it: the 7x7 blocks lost 6-9% (fused_ir.py
 * _CHAN8_MIN_PIXELS now leaves them out), the 14x14 ones were level; the strips then took
 * features.5 0.97 -> 0.90, .6 0.95 -> 0.93, .12 1.01 -> 0.98, and the prefetch (T1; T0 lost
 * 1-2% of it) 0.97-0.98 of the 14x14 blocks' time.  The block right after the last chan8
 * block runs 2-4% slower than in the base (features.15 after .14, or .14 after .13 when .14
 * runs the three layers): its intermediates land on arena lines the chain left cold.  The
 * block's buffers as arena values of its step (not the plan's workspace) did not change that.
 * Each output is the FMA sequence of the row path (from zero, k ascending, then bias, then the
 * activation; the depthwise: bias, then the taps in the order (ki, kj), padding taps as zeros):
 * the unfused layers' bits.  Prototyped in benchmarks/chan_nhwc_potential.c.
 * Activations: none, ReLU, Clip and (s29, MobileNetV3-Large's features.7) HardSwish, each a
 * constant kind per kernel (TC_CHAN8_BY_KIND). */
#include <immintrin.h>
#include <string.h>
#include "conv_internal.h"
#include "epilogue_avx2.h"
#include "gemm_internal.h"
#include "transpose_avx2.h"

/* pixels [n0, n0 + NT) of the S 16-channel strips from m0, each output as the 6-pixel panels */
static inline __attribute__((always_inline)) void chan8_tail(const int NT, const int S, int C, int N,
                                                             int n0, int m0, const float *wp,
                                                             const float *bias, tc_act_k act,
                                                             const float *x, float *y)
{
    /* act.kind: a constant where inlined (chan8_expand_k) */
    __m256 acc[4][2][5];
    for (int q = 0; q < S; q++)
        for (int j = 0; j < NT; j++)
            acc[q][0][j] = acc[q][1][j] = _mm256_setzero_ps();
    const float *xk = x + n0, *ak = wp + (size_t)m0 * C;
    for (int k = 0; k < C; k++, xk += N, ak += 16)
#pragma GCC unroll 5
        for (int j = 0; j < NT; j++) {
            const __m256 bj = _mm256_broadcast_ss(xk + j);
#pragma GCC unroll 4
            for (int q = 0; q < S; q++) {
                acc[q][0][j] = _mm256_fmadd_ps(bj, _mm256_loadu_ps(ak + (size_t)q * 16 * C), acc[q][0][j]);
                acc[q][1][j] =
                    _mm256_fmadd_ps(bj, _mm256_loadu_ps(ak + (size_t)q * 16 * C + 8), acc[q][1][j]);
            }
        }
    for (int q = 0; q < S; q++) {
        const int m = m0 + 16 * q;
        for (int j = 0; j < NT; j++)
            for (int h = 0; h < 2; h++) {
                __m256 v = acc[q][h][j];
                if (bias)
                    v = _mm256_add_ps(v, _mm256_loadu_ps(bias + m + 8 * h));
                _mm256_storeu_ps(y + (size_t)(m + 8 * h) * N + (size_t)(n0 + j) * 8, tc_act_avx2(act, v));
            }
    }
}

/* wp: [E/16][C][16] (1X1_CHAN, one K block)  x: [C][N]  y: [E/8][N][8] = act(W x + bias);
 * act: one kind and parameters for all channels (none, ReLU, Clip, HardSwish), its kind KIND a
 * constant: tc_act_avx2's switch at each stored vector cost the prototype's depthwise its whole gain
 * (0.72 -> 0.94 of the channel-block kernel's time at 576@14, 0.85 -> 1.10 at 192@28) */
/* one tile: 16 channels x 6 pixels from n0; PF: also prefetch the next strip's weights, one line
 * per k (the first tile of each strip: the weights stream from L3 once per run in a network) */
static inline __attribute__((always_inline)) void chan8_tile6(const int PF, int C, int N, int n0,
                                                              const float *a, __m256 b0, __m256 b1,
                                                              int has_bias, tc_act_k act,
                                                              const float *x, float *y0, float *y1)
{
    __m256 lo[6], hi[6];
    for (int j = 0; j < 6; j++)
        lo[j] = hi[j] = _mm256_setzero_ps();
    const float *xk = x + n0, *ak = a;
#pragma GCC unroll 4
    for (int k = 0; k < C; k++, xk += N, ak += 16) {
        if (PF)
            _mm_prefetch((const char *)(ak + (size_t)16 * C), _MM_HINT_T1);
        const __m256 a0 = _mm256_loadu_ps(ak), a1 = _mm256_loadu_ps(ak + 8);
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++) {
            const __m256 bj = _mm256_broadcast_ss(xk + j);
            lo[j] = _mm256_fmadd_ps(bj, a0, lo[j]);
            hi[j] = _mm256_fmadd_ps(bj, a1, hi[j]);
        }
    }
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
        __m256 l = lo[j], h = hi[j];
        if (has_bias)
            l = _mm256_add_ps(l, b0), h = _mm256_add_ps(h, b1);
        _mm256_storeu_ps(y0 + (size_t)(n0 + j) * 8, tc_act_avx2(act, l));
        _mm256_storeu_ps(y1 + (size_t)(n0 + j) * 8, tc_act_avx2(act, h));
    }
}

/* wp: [E/16][C][16] (1X1_CHAN, one K block)  x: [C][N]  y: [E/8][N][8] = act(W x + bias);
 * act: one kind and parameters for all channels (none, ReLU, Clip, HardSwish), its kind KIND a
 * constant: tc_act_avx2's switch at each stored vector cost the prototype's depthwise its whole gain
 * (0.72 -> 0.94 of the channel-block kernel's time at 576@14, 0.85 -> 1.10 at 192@28) */
static inline __attribute__((always_inline)) void chan8_expand_k(const int KIND, int C, int E, int N,
                                                                 const float *wp, const float *bias,
                                                                 tc_act_k act, const float *x,
                                                                 float *y)
{
    act.kind = KIND;
    for (int m0 = 0; m0 < E; m0 += 16) {
        const float *a = wp + (size_t)m0 * C;
        float *y0 = y + (size_t)m0 * N, *y1 = y0 + (size_t)8 * N;
        __m256 b0 = _mm256_setzero_ps(), b1 = b0;
        if (bias)
            b0 = _mm256_loadu_ps(bias + m0), b1 = _mm256_loadu_ps(bias + m0 + 8);
        int n0 = 0;
        if (N >= 6) { /* a prefetch past the weights' end does not fault */
            chan8_tile6(1, C, N, 0, a, b0, b1, bias != NULL, act, x, y0, y1);
            n0 = 6;
        }
        for (; n0 + 6 <= N; n0 += 6)
            chan8_tile6(0, C, N, n0, a, b0, b1, bias != NULL, act, x, y0, y1);
    }
    /* the last N % 6 pixels (196 = 32 x 6 + 4, 49 = 8 x 6 + 1) of S strips at a time: at least
     * 8 FMA chains (one pixel of one strip alone, 2 chains, ran the 7x7 expansion 1.19 of the
     * row tiles' time) */
    const int n0 = N - N % 6;
    int m0 = 0;
#define TC_CHAN8_TAILS(NT, S)                                                                      \
    for (; m0 + 16 * (S) <= E; m0 += 16 * (S))                                                     \
        chan8_tail(NT, S, C, N, n0, m0, wp, bias, act, x, y);
    switch (N % 6) {
    case 1: TC_CHAN8_TAILS(1, 4) TC_CHAN8_TAILS(1, 1) break;
    case 2: TC_CHAN8_TAILS(2, 2) TC_CHAN8_TAILS(2, 1) break;
    case 3: TC_CHAN8_TAILS(3, 1) break;
    case 4: TC_CHAN8_TAILS(4, 1) break;
    case 5: TC_CHAN8_TAILS(5, 1) break;
    default: break;
    }
#undef TC_CHAN8_TAILS
}

/* the depthwise's pixel offsets and the zero borders of its padded pixel buffer (dw8_3x3
 * writes only the inside of buf, every vector of it for each 8-channel block) */
static void dw8_setup(int H, int W, int s, __m256 *buf, int *pix)
{
    const int OH = (H - 1) / s + 1, OW = (W - 1) / s + 1, Wp = W + 2, n = OH * OW;
    for (int oh = 0, o = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++, o++)
            pix[o] = oh * s * Wp + ow * s;
    for (int o = n; o < n + 7; o++)
        pix[o] = pix[n - 1];
    const __m256 z = _mm256_setzero_ps();
    for (int j = 0; j < Wp; j++)
        buf[j] = buf[(H + 1) * Wp + j] = z;
    for (int i = 1; i <= H; i++)
        buf[i * Wp] = buf[i * Wp + W + 1] = z;
}

/* 3x3, stride s (1 or 2), pads 1: x [E/8][H W][8]  w: [E][9] (DEPTHWISE packed: the weights)
 * bias: [E] or NULL  y: [E][OH OW].  buf: (H + 2) (W + 2) + 8 vectors, ob: OH OW + 8, pix: OH OW + 8,
 * both as dw8_setup left them */
static inline __attribute__((always_inline)) void dw8_3x3_k(const int KIND, int E, int H, int W,
                                                            int s, const float *x, const float *w,
                                                            const float *bias, tc_act_k act,
                                                            float *y, __m256 *buf, __m256 *ob,
                                                            const int *pix)
{
    act.kind = KIND;
    const int OH = (H - 1) / s + 1, OW = (W - 1) / s + 1, Wp = W + 2, n = OH * OW, nin = H * W;
    for (int c0 = 0; c0 < E; c0 += 8) {
        __m256 wt[9], r[8];
        for (int t = 0; t < 9; t++)
            wt[t] = _mm256_setr_ps(w[(c0 + 0) * 9 + t], w[(c0 + 1) * 9 + t], w[(c0 + 2) * 9 + t],
                                   w[(c0 + 3) * 9 + t], w[(c0 + 4) * 9 + t], w[(c0 + 5) * 9 + t],
                                   w[(c0 + 6) * 9 + t], w[(c0 + 7) * 9 + t]);
        const __m256 bv = bias ? _mm256_loadu_ps(bias + c0) : _mm256_setzero_ps();
        const float *xc = x + (size_t)c0 * nin;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                buf[(i + 1) * Wp + j + 1] = _mm256_loadu_ps(xc + (size_t)(i * W + j) * 8);
        for (int o0 = 0; o0 < n; o0 += 7) {
            const __m256 *src[7];
            __m256 a[7];
            for (int i = 0; i < 7; i++)
                src[i] = buf + pix[o0 + i], a[i] = bv;
#pragma GCC unroll 3
            for (int ki = 0; ki < 3; ki++)
#pragma GCC unroll 3
                for (int kj = 0; kj < 3; kj++) {
                    const int d = ki * Wp + kj;
                    const __m256 wv = wt[ki * 3 + kj];
#pragma GCC unroll 7
                    for (int i = 0; i < 7; i++)
                        a[i] = _mm256_fmadd_ps(src[i][d], wv, a[i]);
                }
            for (int i = 0; i < 7; i++)
                ob[o0 + i] = a[i];
        }
        /* n >= 8 (the caller's check): the last 8 pixels may overlap the ones before */
        for (int q0 = 0; q0 < n; q0 += 8) {
            if (q0 + 8 > n)
                q0 = n - 8;
            tc_transpose8_avx2(ob + q0, r);
            for (int ch = 0; ch < 8; ch++)
                _mm256_storeu_ps(y + (size_t)(c0 + ch) * n + q0, tc_act_avx2(act, r[ch]));
        }
    }
}

/* the kernels for each kind tc_ir_chan8_check lets through */
#define TC_CHAN8_BY_KIND(kind, FN, ...)                                                            \
    switch (kind) {                                                                                \
    case TC_ACT_RELU: FN(TC_ACT_RELU, __VA_ARGS__); break;                                         \
    case TC_ACT_CLIP: FN(TC_ACT_CLIP, __VA_ARGS__); break;                                         \
    case TC_ACT_HARD_SWISH: FN(TC_ACT_HARD_SWISH, __VA_ARGS__); break;                             \
    default: FN(TC_ACT_NONE, __VA_ARGS__); break;                                                  \
    }
static __attribute__((noinline)) void chan8_expand(int C, int E, int N, const float *wp,
                                                   const float *bias, tc_act_k act, const float *x,
                                                   float *y)
{
    TC_CHAN8_BY_KIND(act.kind, chan8_expand_k, C, E, N, wp, bias, act, x, y)
}
static __attribute__((noinline)) void dw8_3x3(int E, int H, int W, int s, const float *x,
                                              const float *w, const float *bias, tc_act_k act,
                                              float *y, __m256 *buf, __m256 *ob, const int *pix)
{
    TC_CHAN8_BY_KIND(act.kind, dw8_3x3_k, E, H, W, s, x, w, bias, act, y, buf, ob, pix)
}
#undef TC_CHAN8_BY_KIND

/* The expansion and the depthwise of the 16-channel strips [m0, m1) (m0, m1 multiples of 16):
 * d [E][n] (n the depthwise's output pixels) gets those channels' planes.  slot:
 * tc_ir_chan8_slot_floats floats, 64-byte aligned, this thread's alone.  The strips share
 * nothing but x, so any split of them over threads gives the same bits. */
void tc_ir_chan8_strips_avx2(const tc_ir_stage *expand, const tc_ir_stage *dw, int h, int w,
                             int m0, int m1, const float *x, float *d, float *slot)
{
    const int C = expand->p.C, s = dw->p.sh, N = h * w;
    const int OH = (h - 1) / s + 1, OW = (w - 1) / s + 1, n = OH * OW;
    float *e8 = slot;                                      /* [2][N][8]: one strip */
    __m256 *buf = (__m256 *)(e8 + (((size_t)16 * N + 15) & ~(size_t)15));
    __m256 *ob = buf + (((size_t)(h + 2) * (w + 2) + 8 + 1) & ~(size_t)1);
    int *pix = (int *)(ob + ((n + 8 + 1) & ~1));
    /* one strip of 16 channels at a time, expanded then filtered while in L1 / L2 (the
     * whole expansion first: E N floats, 602 KB at 192 x 28 x 28, left L2 before the
     * depthwise read it back) */
    dw8_setup(h, w, s, buf, pix);
    for (int m = m0; m < m1; m += 16) {
        chan8_expand(C, 16, N, expand->packed + (size_t)m * C,
                     expand->bias ? expand->bias + m : NULL, tc_act_at(expand->act, 0), x, e8);
        dw8_3x3(16, h, w, s, e8, dw->packed + (size_t)m * 9, dw->bias ? dw->bias + m : NULL,
                tc_act_at(dw->act, 0), d + (size_t)m * n, buf, ob, pix);
    }
}
