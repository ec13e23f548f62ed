/* AVX2: an inverted-residual block's expansion written channel-blocked for its depthwise
 * (ir_fused.c tc_ir_chan8_f32): the depthwise channel-block kernel (depthwise_body.h _block_k)
 * copies 8 x 8 blocks of the NCHW planes into vectors of 8 channels per pixel, transposing each,
 * 0.2-0.4 of its time on 14x14 and 28x28 maps.  Here the expansion makes those vectors itself:
 *   expansion:  channel-lane tiles (16 channels x 6 pixels, 12 accumulators; per K step 2 loads
 *               of the 1X1_CHAN packed weights and 6 broadcasts of x), bias and activation,
 *               stored as made, 8 channels a pixel ("NHWC8"), straight inside the depthwise's
 *               two padded pixel buffers (s30; they were a copy of an [2][H W][8] strip: the
 *               blocks 0.94-0.98 of that, MnasNet's layers.9.0 0.935);
 *   depthwise:  3x3 or (s30) 5x5 at stride 1 or 2, pads 1 or 2: 7 pixels in flight from the
 *               padded buffer, then transposed back to NCHW planes with the activation (the
 *               block kernel's steps but the copy);
 *   projection: as before (ir_fused.c, on the NCHW depthwise output); without one (s30,
 *               tc_ir_chan8_pair_f32: MobileNetV3's pairs before their SE) the depthwise
 *               output is the result, with its planes' means summed strip by strip.
 * E % 16 == 8 (s30, MobileNetV3-Large's 200 and 184): the last strip 8 channels, its tiles 6
 * accumulators (the packing's 8 zero rows not computed).
 * The expansion and the depthwise run one strip of 16 channels at a time (the strip's NHWC8
 * output, 16 N floats, still in L1 / L2 when the depthwise reads it), and each strip's first
 * tile prefetches the next strip's weights into L2.  As session 27 built it (the whole
 * expansion, E N floats, then the whole depthwise; benchmarks/ir_chan8.patch) it lost in the
 * network: MobileNetV2 1.012-1.026 of 26b50c0's time, where the blocks cut alone gained.
 * benchmarks/steps_ab.py (both builds' blocks inside the network, one process, 40 rounds,
 * 2026-12-04, Zen 4, AVX2 emulation) found it: the 7x7 blocks lost 6-9% (fused_ir.py
 * _CHAN8_MIN_PIXELS now leaves them out; on the Intel Xeon host at 1 thread they gain, with
 * the 49 pixels as 4 x 6 + 5 x 5: _CHAN8_MIN_PIXELS_1T), the 14x14 ones were level; the
 * strips then took features.5 0.97 -> 0.90, .6 0.95 -> 0.93, .12 1.01 -> 0.98, and the prefetch (T1; T0 lost
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

/* one tile: NT (1 to 6) pixels from n0 of one strip, 16 channels (HI 0: the first 8 alone, the
 * last strip of E % 16 == 8 channels; its packed weights' other 8 are the packing's zeros) as
 * 12 (or 6) accumulators; per K step 2 (1) loads of the 1X1_CHAN packed weights and NT
 * broadcasts of x.  PF 1: also prefetch the next strip's weights, one line per k (the first
 * tile of each strip: the weights stream from L3 once per run in a network); PF 2: the pfn
 * lines from pf (what the next step reads: chan8_expand_k), one a K step from the first.  The
 * last N % 6 pixels (196 = 32 x 6 + 4) come as one narrower tile: a strip at a time, there is
 * no other strip to take them with (the whole-expansion tails of 4 strips at a time: one pixel
 * of one strip alone, 2 chains, ran the 7x7 expansion 1.19 of the row tiles' time) */
/* h50-pf: 0 compiles PF 1 (the next strip's weights) out: a diagnostic switch, as
 * TC_CHAN8_PF_TILE and ir_fused.c's TC_CHAN8_PF_PROJECT (benchmarks/relink_variant.py builds such
 * variants).  What they showed (MobileNetV2, 1 thread, step_suspects.py --touch idle --ort, 8-18
 * processes a variant, 2026-12-07 10:31-10:56): neither these prefetches nor any other family
 * carries the pause effect (300 us of spinning before each step giving back 134-155 us over
 * features.11-18 in session 49): with every software prefetch of the fp32 kernels compiled out
 * the pause gave -81..+47 us (median -12), the base -83..+129 (median +10), each family off
 * alone medians +10..+60; the prefetches are worth 380 us of features.11-18 (3117 -> 3496 us
 * plain, medians) and 3-9% of the run (ab_threads.py --fifo, both orders) */
/* h51-exp: x's rows (C of them, ldx apart) read a tile at a time cost 7-8% of the expansion at
 * 14x14 and 28x28 alone (benchmarks/chan8_expand_probe.c: 96-576 at 14x14 88-92 GF/s, every
 * broadcast from one L1-hot row 95-99); x packed once a band for the tiles took that back alone
 * but not in the network (benchmarks/chan8_pack_x.patch, its record in benchmarks/README.md) */
/* the epilogue's activation, KIND a constant: SiLU inline (tc_sigmoid_avx2, the same lanes as
 * tc_act_rows_avx2's deferred pass, so the same bits), not through tc_act_avx2's out-of-line
 * call, which would spill the tile's sums at every store */
static inline __attribute__((always_inline)) __m256 chan8_act(const int KIND, tc_act_k act,
                                                              __m256 v)
{
    return KIND == TC_ACT_SILU ? tc_sigmoid_avx2(v, 1) : tc_act_avx2(act, v);
}

#ifndef TC_CHAN8_PF_NEXT
#define TC_CHAN8_PF_NEXT 1
#endif
static inline __attribute__((always_inline)) void chan8_tile(const int PF, const int HI,
                                                             const int PK, const int NT, int C,
                                                             size_t ldx,
                                                             int n0, const float *a, __m256 b0,
                                                             __m256 b1,
                                                             int has_bias, tc_act_k act,
                                                             const float *x, const int *pin,
                                                             float *y0, float *y1, const char *pf,
                                                             int pfn)
{
    __m256 lo[6], hi[6];
    for (int j = 0; j < NT; j++)
        lo[j] = hi[j] = _mm256_setzero_ps();
    /* PK: x packed (chan8_pack_x), the tile's C rows of NT floats from x + n0 C */
    const float *xk = PK ? x + (size_t)n0 * C : x + n0, *ak = a;
    const size_t xs = PK ? (size_t)NT : ldx;
#pragma GCC unroll 4
    for (int k = 0; k < C; k++, xk += xs, ak += 16) {
        if (PF == 1 && TC_CHAN8_PF_NEXT)
            _mm_prefetch((const char *)(ak + (size_t)16 * C), _MM_HINT_T1);
        else if (PF == 2 && k < pfn)
            _mm_prefetch(pf + (size_t)64 * k, _MM_HINT_T1);
        const __m256 a0 = _mm256_loadu_ps(ak), a1 = HI ? _mm256_loadu_ps(ak + 8) : a0;
#pragma GCC unroll 6
        for (int j = 0; j < NT; j++) {
            const __m256 bj = _mm256_broadcast_ss(xk + j);
            lo[j] = _mm256_fmadd_ps(bj, a0, lo[j]);
            if (HI)
                hi[j] = _mm256_fmadd_ps(bj, a1, hi[j]);
        }
    }
#pragma GCC unroll 6
    for (int j = 0; j < NT; j++) {
        __m256 l = lo[j], h = hi[j];
        if (has_bias)
            l = _mm256_add_ps(l, b0), h = _mm256_add_ps(h, b1);
        _mm256_storeu_ps(y0 + (size_t)pin[n0 + j] * 8, chan8_act(act.kind, act, l));
        if (HI)
            _mm256_storeu_ps(y1 + (size_t)pin[n0 + j] * 8, chan8_act(act.kind, act, h));
    }
}

/* A pair's strips prefetch what the next step reads (its squeeze-and-excitation's weights) at
 * most this many lines a tile, the first K steps of each tile after a strip's first: at 14x14
 * (32 tiles a strip) 11 a tile bring MobileNetV3-Large's 0.9 MB into L2; at 7x7 (8 tiles) 35 a
 * tile (the 960-channel blocks' first 1 MB) cost the pair 1.15 of its time (42 us) for 29 us
 * of the gate's, and the same lines one every C / 35 K steps (a counter in the K loop) 1.10,
 * with the 14x14 pairs 1.08 (steps_ab.py, 60 rounds, 2026-12-05).  The cap, as the sum of
 * MobileNetV3-Large's features.11-.15 steps' change (pair, gate, projection), us: 8 -60, 12
 * -76, 16 -105 and -76 (two runs), 24 -60, 32 -15 (the 7x7 pairs +16-55 from 24 up). */
#ifndef TC_CHAN8_PF_TILE
#define TC_CHAN8_PF_TILE 16
#endif

/* chan8_expand_k's split of N pixels into tiles: 6 pixels each up to *n6, then the tiles of 5
 * (the count returned), then one tile of the rest */
static inline int chan8_split(int N, int *n6)
{
    /* N = 6 q + 1 (49: a 7x7 map) as 6 q - 24 + 5 x 5: the lone pixel's tile is 2 chains, as
     * slow a K step as 4 pixels' */
    const int fives = N % 6 == 1 && N >= 25 ? 5 : 0;
    *n6 = N - 5 * fives - (N - 5 * fives) % 6;
    return fives;
}

/* the tiles of a strip's expansion of N pixels after its first (chan8_expand_k's split) */
static inline int chan8_later_tiles(int N)
{
    int n6;
    const int fives = chan8_split(N, &n6);
    return n6 / 6 + fives - (n6 >= 6 || fives > 0);
}

/* x's N pixels (C rows ldx apart) packed for the tiles of chan8_split (PK 1): the tile of NT
 * pixels from n0 at xp + n0 C, C rows of NT floats, so that a tile's K loop reads one
 * contiguous run (xp: C N floats) */
static void chan8_pack_x(int C, int N, size_t ldx, const float *x, float *xp)
{
    int n6;
    const int fives = chan8_split(N, &n6);
    for (int n0 = 0; n0 < N;) {
        const int nt = n0 < n6 ? 6 : n0 < n6 + 5 * fives ? 5 : N - n0;
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(nt),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const float *src = x + n0;
        float *dst = xp + (size_t)n0 * C;
        for (int k = 0; k < C; k++, src += ldx, dst += nt)
            _mm256_maskstore_ps(dst, m, _mm256_maskload_ps(src, m));
        n0 += nt;
    }
}

/* one strip of 16 channels (HI 0: 8)  a: the strip's 1X1_CHAN packed weights [C][16]  x: [C][N]
 * (channels ldx apart: s31, a band of rows of a larger map)
 * y0, y1 (HI): channels 0-7, 8-15 = act(W x + bias), pixel i at vector pin[i] (inside the
 * depthwise's padded buffers)  bias: the strip's 16 (8) or NULL;
 * act: one kind and parameters for all channels (none, ReLU, Clip, HardSwish), its kind KIND a
 * constant: tc_act_avx2's switch at each stored vector cost the prototype's depthwise its whole gain
 * (0.72 -> 0.94 of the channel-block kernel's time at 576@14, 0.85 -> 1.10 at 192@28)
 * pf (or NULL): pfl cache lines the next step reads (the pair's SE weights), prefetched into L2
 * in equal shares over the tiles after the first, one a K step from each tile's first (at most
 * TC_CHAN8_PF_TILE a tile; the rest after the tiles) */
static inline __attribute__((always_inline)) void chan8_expand_k(const int KIND, const int HI,
                                                                 const int PK, int C,
                                                                 int N, size_t ldx, const float *a,
                                                                 const float *bias, tc_act_k act,
                                                                 const float *x, const int *pin,
                                                                 float *y0, float *y1,
                                                                 const char *pf, int pfl)
{
    act.kind = KIND;
    __m256 b0 = _mm256_setzero_ps(), b1 = b0;
    if (bias)
        b0 = _mm256_loadu_ps(bias), b1 = HI ? _mm256_loadu_ps(bias + 8) : b0;
    int n6;
    const int fives = chan8_split(N, &n6);
    const int later = chan8_later_tiles(N);
    const int share = later < 1 ? 0 : (pfl + later - 1) / later;
    const int cap = C < TC_CHAN8_PF_TILE ? C : TC_CHAN8_PF_TILE, per = share < cap ? share : cap;
#define TC_CHAN8_LATER(NT)                                                                         \
    do {                                                                                           \
        if (pf) {                                                                                  \
            const int k_ = pfl < per ? pfl : per;                                                  \
            chan8_tile(2, HI, PK, NT, C, ldx, n0, a, b0, b1, bias != NULL, act, x, pin, y0, y1, pf,    \
                       k_);                                                                        \
            pf += (size_t)64 * k_, pfl -= k_;                                                      \
        } else                                                                                     \
            chan8_tile(0, HI, PK, NT, C, ldx, n0, a, b0, b1, bias != NULL, act, x, pin, y0, y1, NULL,  \
                       0);                                                                         \
    } while (0)
    int n0 = 0;
    if (n6 >= 6) { /* a prefetch past the weights' end does not fault */
        chan8_tile(1, HI, PK, 6, C, ldx, 0, a, b0, b1, bias != NULL, act, x, pin, y0, y1, NULL, 0);
        n0 = 6;
    }
    for (; n0 < n6; n0 += 6)
        TC_CHAN8_LATER(6);
    for (int i = 0; i < fives; i++, n0 += 5)
        if (n0 == 0)
            chan8_tile(1, HI, PK, 5, C, ldx, n0, a, b0, b1, bias != NULL, act, x, pin, y0, y1, NULL,
                       0);
        else
            TC_CHAN8_LATER(5);
#undef TC_CHAN8_LATER
    switch (N - n0) {
#define TC_CHAN8_TAIL(NT)                                                                          \
    case NT:                                                                                       \
        chan8_tile(0, HI, PK, NT, C, ldx, n0, a, b0, b1, bias != NULL, act, x, pin, y0, y1, NULL, 0);  \
        break;
    TC_CHAN8_TAIL(1) TC_CHAN8_TAIL(2) TC_CHAN8_TAIL(3) TC_CHAN8_TAIL(4) TC_CHAN8_TAIL(5)
#undef TC_CHAN8_TAIL
    default: break;
    }
    for (; pf && pfl > 0; pfl--, pf += 64)
        _mm_prefetch(pf, _MM_HINT_T1);
}

/* the depthwise's pixel offsets (pix: output pixel o's first tap, pin: input pixel i) and the
 * zero borders of its two padded pixel buffers (bstride vectors apart) for the output rows
 * [oh0, oh1) of an H x W input (s31: a band; the whole map 0, OH), when setup (once per band
 * and thread: the expansion writes every vector of their insides for each strip): KC x KC,
 * pads KC / 2.  The buffers' row t holds input row oh0 s - P + t, (oh1 - oh0 - 1) s + KC rows;
 * those outside the input are zero (they were written by the band before: zeroed here at each
 * band's setup), as are the P columns each side.  Returns the input rows' first, *i1 their end
 * (with or without setup). */
static int dw8_setup(int KC, int H, int W, int s, int oh0, int oh1, int setup, __m256 *buf,
                     size_t bstride, int *pix, int *pin, int *i1)
{
    const int P = KC / 2, OW = (W - 1) / s + 1, Wp = W + 2 * P, n = (oh1 - oh0) * OW;
    const int t0 = oh0 * s - P, rows = (oh1 - oh0 - 1) * s + KC;
    const int r0 = t0 < 0 ? 0 : t0, r1 = t0 + rows > H ? H : t0 + rows;
    *i1 = r1;
    if (!setup)
        return r0;
    for (int oh = 0, o = 0; oh < oh1 - oh0; oh++)
        for (int ow = 0; ow < OW; ow++, o++)
            pix[o] = oh * s * Wp + ow * s;
    for (int o = n; o < n + 7; o++)
        pix[o] = pix[n - 1];
    for (int i = r0, o = 0; i < r1; i++)
        for (int j = 0; j < W; j++, o++)
            pin[o] = (i - t0) * Wp + j + P;
    const __m256 z = _mm256_setzero_ps();
    for (int t = 0; t < rows; t++) {
        const int inside = t0 + t >= 0 && t0 + t < H;
        for (int j = 0; j < Wp; j++)
            if (!inside || j < P || j >= W + P)
                buf[(size_t)t * Wp + j] = buf[bstride + (size_t)t * Wp + j] = z;
    }
    return r0;
}

/* KC x KC (3 or 5), stride s (1 or 2), pads KC / 2: buf: E / 8 (1 or 2) padded pixel buffers of
 * Wp = W + KC - 1 vectors a row, bstride apart (the expansion's output, borders zero: as
 * dw8_setup and chan8_expand left them)  w: [E][KC KC] (DEPTHWISE packed: the weights)  bias:
 * [E] or NULL  y: [E][n] (n output pixels: the band's).  ob: n + 8 vectors, pix: n + 8
 * (dw8_setup).  5x5 (s30): the base kernel's 7 pixels in flight, its 25 weights from the stack
 * as there.
 * Tried and left (n33-ir, Intel Xeon host, AVX2 emulation, 1 thread, 2026-12-05, bit-identical):
 * 8 pixels in flight (8 FMA chains keep both ports busy; 7 leave one idle 1 cycle in 8) with
 * the weights loaded at each tap for 3x3 too (perf showed gcc spilling 2-3 of the 7 sums of
 * the 3x3 Clip kernel around the hoisted weights, reloaded on the chains), and each group of 8
 * transposed and stored at once (no ob round trip; the last group at n - 8, overlapping):
 * benchmarks/subgraph_shapes.py against the base, 21 rounds, each order, geometric mean:
 * MobileNetV2's features.5 1.000 (0.981 / 0.981), features.12 0.985, features.15 0.995; whole
 * networks (41 rounds) MobileNetV2 1.004, MnasNet 0.990, V3-Large 0.990, V3-Small 1.004: level
 * (dw8 stayed 7.2% of MobileNetV2's perf samples: not its FMA chains).
 * h35-mnas (same host and setup, MnasNet, where dw8 is 8.3% of a run's perf samples and its
 * weights' setup ~9% of dw8's, mostly the first strided loads of each 8 channels): the weights
 * as 8 x 8 transposes of the channels' rows (below; they were 8 strided scalar loads and 7
 * inserts a vector): MnasNet's chan8 blocks layers.9.0-13.0 cut from the network
 * (subgraph_shapes.py --against the base, 101 rounds, each order twice, geometric means)
 * 0.9945 (0.998 / 1.009) and 0.989 (0.999 / 1.021); the whole network (61 and 101 rounds)
 * 0.997 (1.004 / 1.010) and 0.993 (0.996 / 1.010); MobileNetV2 0.9955 (1.002 / 1.011),
 * MobileNetV3-Large 0.987 (1.003 / 1.030; 41 rounds); bit-identical.  Tried and left: each
 * strip's depthwise weights and bias prefetched into L2 (T1) before its expansion, the same
 * cut 1.004 (1.008 / 1.001) and 0.994 (0.999 / 1.012): level.
 * h40-mn: where a group's 7 pixels lie in one row (pix[o0 + 6] == pix[o0] + 6 S: every group of
 * a map OW % 7 == 0 wide, so all of MnasNet's, MobileNetV2's and MobileNetV3's), each kernel
 * row's KC weights are held in registers and each of its 6 S + KC input vectors loaded once for
 * the sums that read it (5x5 / 1: 16 loads for 35 FMAs, were 40; 7 + KC + 1 ymm): the same FMAs
 * in the same order, so the same bits.  The strips alone (expansion + depthwise of the whole
 * map, benchmarks/chan8_ab.sh against the base, 1 thread, AVX2, Intel Xeon host loaded by the
 * session's builds, 41-61 rounds, median of per-round ratios): MnasNet's 120@28 5x5 0.86 (its
 * padded strip, 64 KB, is past L1: the taps had read it 25 times a vector), 72@56 5x5/2 0.94,
 * 480@14 5x5 0.95-0.98, 480@14 and 576@14 3x3 0.96-0.97, 576@14 5x5/2, 1152@7 5x5 and 3x3
 * level (0.99-1.01); MobileNetV2's 192@28 0.96, 384@14 0.97, 960@7 1.00; MobileNetV3-Large's
 * 200@14 HardSwish 0.97, 672@14 5x5 0.95-0.99.  Inside the network (steps_ab.py against the
 * base, 1 thread, 80 / 200 / 200 rounds of 5 runs, host at load 6-8, medians of per-round
 * ratios, bit-identical): MnasNet's layers.9 0.985 / 0.969 / 0.991, layers.10 0.987 / 0.959 /
 * 0.990, its other blocks 0.99-1.01, the run 1.001 / 0.988 / 0.999 (some 30 us of 9 ms: below
 * the noise); MobileNetV2 0.991, MobileNetV3-Large 0.998 (150 rounds).  The 8 x 8 transposes
 * back to planes made with the 128-bit lanes swapped as they load (vinsertf128 from ob instead
 * of 8 vperm2f128; the same bits) were level (1.00-1.02 on the 14x14 and 7x7 strips), though
 * without any transpose (a wrong layout, a bound) the strips ran 0.93-0.97:
 * benchmarks/chan8_transpose_inserts.patch.  Nor does laying the weights out as the 8 x 8
 * transposes below give them, once at load (h41-mn, benchmarks/chan8_dw_vectors.patch, the same
 * bits): the strips 0.99-1.01 at 7x7 and 14x14, MnasNet's 7x7 blocks in the network 0.999 /
 * 1.006: the shuffles run on port 5 beside the FMA-bound work. */
static inline __attribute__((always_inline)) void dw8_k(const int KIND, const int KC, const int S,
                                                        int E, int Wp, int n, const __m256 *buf,
                                                        size_t bstride, const float *w,
                                                        const float *bias, tc_act_k act, float *y,
                                                        size_t ldy, __m256 *ob, const int *pix)
{
    act.kind = KIND;
    for (int c0 = 0; c0 < E; c0 += 8, buf += bstride) {
        __m256 wt[KC * KC], r[8];
        /* the 8 channels' rows of KC KC weights (contiguous) as 8 x 8 transposes, the last tap
         * (KC KC = 8 q + 1) gathered: each vector from 8 strided scalar loads and 7 inserts
         * before */
        int t = 0;
        for (; t + 8 <= KC * KC; t += 8) {
            __m256 in[8];
            for (int i = 0; i < 8; i++)
                in[i] = _mm256_loadu_ps(w + (size_t)(c0 + i) * KC * KC + t);
            tc_transpose8_avx2(in, wt + t);
        }
        for (; t < KC * KC; t++)
            wt[t] = _mm256_setr_ps(w[(c0 + 0) * KC * KC + t], w[(c0 + 1) * KC * KC + t],
                                   w[(c0 + 2) * KC * KC + t], w[(c0 + 3) * KC * KC + t],
                                   w[(c0 + 4) * KC * KC + t], w[(c0 + 5) * KC * KC + t],
                                   w[(c0 + 6) * KC * KC + t], w[(c0 + 7) * KC * KC + t]);
        const __m256 bv = bias ? _mm256_loadu_ps(bias + c0) : _mm256_setzero_ps();
        for (int o0 = 0; o0 < n; o0 += 7) {
            const __m256 *src[7], *wq = wt;
            __m256 a[7];
            for (int i = 0; i < 7; i++)
                src[i] = buf + pix[o0 + i], a[i] = bv;
            if (pix[o0 + 6] == pix[o0] + 6 * S) {
                /* the 7 pixels in one row (every group of a map OW % 7 == 0 wide): each input
                 * vector of a kernel row loaded once for the sums it feeds, the row's KC weights
                 * in registers (7 + KC + 1 ymm); each sum's taps in the same (ki, kj) order */
                const __m256 *row = src[0];
#pragma GCC unroll 5
                for (int ki = 0; ki < KC; ki++, row += Wp) {
                    __m256 wr[KC];
                    __asm__("" : "+r"(wq)); /* this row's weights loaded here, not all at once */
#pragma GCC unroll 5
                    for (int kj = 0; kj < KC; kj++)
                        wr[kj] = wq[ki * KC + kj];
#pragma GCC unroll 17
                    for (int c = 0; c < 6 * S + KC; c++) {
                        const __m256 v = row[c];
#pragma GCC unroll 7
                        for (int i = 0; i < 7; i++)
                            if (c - S * i >= 0 && c - S * i < KC)
                                a[i] = _mm256_fmadd_ps(v, wr[c - S * i], a[i]);
                    }
                }
            } else {
                /* the weights loaded at each tap (5x5: 25 of them hoisted out of this loop
                 * spilled the 7 sums) */
                if (KC > 3)
                    __asm__("" : "+r"(wq));
#pragma GCC unroll 5
                for (int ki = 0; ki < KC; ki++)
#pragma GCC unroll 5
                    for (int kj = 0; kj < KC; kj++) {
                        const int d = ki * Wp + kj;
                        const __m256 wv = wq[ki * KC + kj];
#pragma GCC unroll 7
                        for (int i = 0; i < 7; i++)
                            a[i] = _mm256_fmadd_ps(src[i][d], wv, a[i]);
                    }
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
                _mm256_storeu_ps(y + (size_t)(c0 + ch) * ldy + q0, chan8_act(KIND, act, r[ch]));
        }
    }
}

/* the kernels for each kind tc_ir_chan8_check lets through */
#define TC_CHAN8_BY_KIND(kind, FN, ...)                                                            \
    switch (kind) {                                                                                \
    case TC_ACT_RELU: FN(TC_ACT_RELU, __VA_ARGS__); break;                                         \
    case TC_ACT_CLIP: FN(TC_ACT_CLIP, __VA_ARGS__); break;                                         \
    case TC_ACT_HARD_SWISH: FN(TC_ACT_HARD_SWISH, __VA_ARGS__); break;                             \
    case TC_ACT_SILU: FN(TC_ACT_SILU, __VA_ARGS__); break;                                         \
    default: FN(TC_ACT_NONE, __VA_ARGS__); break;                                                  \
    }
static __attribute__((noinline)) void chan8_expand_unpacked(int C, int E16, int N, size_t ldx,
                                                            const float *a, const float *bias,
                                                            tc_act_k act, const float *x,
                                                            const int *pin, float *y0, float *y1,
                                                            const char *pf, int pfl)
{
    if (E16 == 16)
        TC_CHAN8_BY_KIND(act.kind, chan8_expand_k, 1, 0, C, N, ldx, a, bias, act, x, pin, y0, y1,
                         pf, pfl)
    else
        TC_CHAN8_BY_KIND(act.kind, chan8_expand_k, 0, 0, C, N, ldx, a, bias, act, x, pin, y0, y1,
                         pf, pfl)
}
/* x as chan8_pack_x left it (a function of its own: with both layouts in one, the 7x7 strips'
 * unpacked tiles ran 1.09-1.12 of their time, chan8_ab.sh) */
static __attribute__((noinline)) void chan8_expand_packed(int C, int E16, int N, const float *a,
                                                          const float *bias, tc_act_k act,
                                                          const float *x, const int *pin,
                                                          float *y0, float *y1, const char *pf,
                                                          int pfl)
{
    if (E16 == 16)
        TC_CHAN8_BY_KIND(act.kind, chan8_expand_k, 1, 1, C, N, 0, a, bias, act, x, pin, y0, y1,
                         pf, pfl)
    else
        TC_CHAN8_BY_KIND(act.kind, chan8_expand_k, 0, 1, C, N, 0, a, bias, act, x, pin, y0, y1,
                         pf, pfl)
}
/* packed: x as chan8_pack_x left it (ldx unused) */
static inline void chan8_expand(int C, int E16, int N, size_t ldx, int packed, const float *a,
                                const float *bias, tc_act_k act, const float *x, const int *pin,
                                float *y0, float *y1, const char *pf, int pfl)
{
    if (packed)
        chan8_expand_packed(C, E16, N, a, bias, act, x, pin, y0, y1, pf, pfl);
    else
        chan8_expand_unpacked(C, E16, N, ldx, a, bias, act, x, pin, y0, y1, pf, pfl);
}
static __attribute__((noinline)) void dw8(int KC, int S, int E, int Wp, int n,
                                          const __m256 *buf, size_t bstride, const float *w,
                                          const float *bias, tc_act_k act, float *y, size_t ldy,
                                          __m256 *ob, const int *pix)
{
    if (KC == 3 && S == 1)
        TC_CHAN8_BY_KIND(act.kind, dw8_k, 3, 1, E, Wp, n, buf, bstride, w, bias, act, y, ldy, ob, pix)
    else if (KC == 3)
        TC_CHAN8_BY_KIND(act.kind, dw8_k, 3, 2, E, Wp, n, buf, bstride, w, bias, act, y, ldy, ob, pix)
    else if (S == 1)
        TC_CHAN8_BY_KIND(act.kind, dw8_k, 5, 1, E, Wp, n, buf, bstride, w, bias, act, y, ldy, ob, pix)
    else
        TC_CHAN8_BY_KIND(act.kind, dw8_k, 5, 2, E, Wp, n, buf, bstride, w, bias, act, y, ldy, ob, pix)
}
#undef TC_CHAN8_BY_KIND

/* one strip's rows [r0, r1) of the band (its input rows from i0) between the depthwise's
 * buffers and an edge (tc_chan8_halo): into the edge (to_edge) or out of it; e: the strip's
 * channels (16 or 8) */
static void chan8_edge_copy(int to_edge, const tc_chan8_edge *g, int strip, int e, int i0, int w,
                            const int *pin, __m256 *buf, size_t bstride)
{
    const int np = (g->r1 - g->r0) * w;
    __m256 *rows = (__m256 *)g->rows + (size_t)strip * np * 2;
    const int *pn = pin + (size_t)(g->r0 - i0) * w;
    for (int p = 0; p < np; p++) {
        __m256 *lo = buf + pn[p], *hi = lo + bstride;
        if (to_edge) {
            rows[2 * p] = *lo;
            if (e > 8)
                rows[2 * p + 1] = *hi;
        } else {
            *lo = rows[2 * p];
            if (e > 8)
                *hi = rows[2 * p + 1];
        }
    }
}

/* the band's input rows [i0, i1) of x (rows w apart, channels ldx apart) packed into xp for
 * chan8_expand_rows, a run of rows at a time as it expands them (with halo: the edges, the
 * rows between, the imports), row r's run at xp + (r - i0) w C */
static void chan8_pack_rows(const tc_chan8_halo *halo, int i0, int i1, int w, int C, size_t ldx,
                            const float *x, float *xp)
{
#define TC_CHAN8_PACK_ROWS(r0, r1)                                                                \
    chan8_pack_x(C, ((r1) - (r0)) * w, ldx, x + (size_t)((r0) - i0) * w,                         \
                 xp + (size_t)((r0) - i0) * w * C)
    if (!halo) {
        TC_CHAN8_PACK_ROWS(i0, i1);
        return;
    }
    for (int side = 0; side < 2; side++) {
        if (halo->out[side].r1 > halo->out[side].r0)
            TC_CHAN8_PACK_ROWS(halo->out[side].r0, halo->out[side].r1);
        if (halo->in[side].r1 > halo->in[side].r0)
            TC_CHAN8_PACK_ROWS(halo->in[side].r0, halo->in[side].r1);
    }
    if (halo->out[1].r0 > halo->out[0].r1)
        TC_CHAN8_PACK_ROWS(halo->out[0].r1, halo->out[1].r0);
#undef TC_CHAN8_PACK_ROWS
}

/* The expansion reads x's band packed for its tiles (chan8_pack_x: a tile's C x NT floats one
 * contiguous run) where x's band is this many floats (28 KB) or more over at most
 * TC_CHAN8_PACK_MAX_N pixels, for expansions of TC_CHAN8_PACK_MIN_E channels up: the 7x7 maps of
 * 160 and 192 channels (MobileNetV3-Large's features.14-.15, MnasNet's layers.12-.13,
 * MobileNetV2's 7x7 blocks).  Its tiles read x a pixel tile over all C rows, once per 16-channel
 * strip; x's C rows (31-38 KB at 7x7) with the strip's 10-12 KB of weights do not fit the
 * target's 32 KiB L1 (AMD EPYC Zen 3), so in x's rows every strip read all of x from L2 again.
 * h51-exp wrote the packing (benchmarks/chan8_pack_x.patch, then for 14x14 and 28x28 bands of
 * 10240 floats up): alone it ran as fast as every broadcast from one L1-hot row, but not in the
 * network (14x14 blocks 0.97-1.04, MobileNetV2 and MnasNet level), and the 7x7 expansions had
 * been level on that host (Zen 4).  h53-v3, on the Zen 3 target (2026-12-07, 1 thread, AVX2):
 * the expansion alone (chan8_expand_probe.c, 21 rounds, medians) x's rows / packed / the
 * packing: 192-1152 at 7x7 307 / 223 / 6.7 us (71 / 97 GF/s), 160-960 HardSwish 199 / 156 / 5.7;
 * 96-576 at 14x14 225 / 225 / 12.5 (no gain: left unpacked).  In the network, one session a
 * process (env_steps_ab.py against the base, 10-12 processes each, step minima, the host at load
 * 11): MobileNetV3-Large's features.14 / .15 pairs 234 / 235 us against 274 / 276 (0.86), the
 * run's step sum 0.987; MnasNet's layers.12.1-.3 and 13.0 0.87-0.89 of the base's.  Two builds in
 * one process favour the first loaded one by as much (steps_ab.py: 0.91-0.93 one order, 0.996-0.998
 * the other).  Bit-identical (the sums' order is the tile's). */
#ifndef TC_CHAN8_PACK_MIN_FLOATS
#define TC_CHAN8_PACK_MIN_FLOATS 7168
#endif
#ifndef TC_CHAN8_PACK_MAX_N
#define TC_CHAN8_PACK_MAX_N 64
#endif
/* ... and for expansions of this many channels up (the packing is paid once, the gain once a
 * strip: MobileNetV2's features.2 and .4, 96 and 144 channels at 112x112 / 56x56 in bands, ran
 * 1.05 of their time with it, steps_ab.py, 40 rounds) */
#ifndef TC_CHAN8_PACK_MIN_E
#define TC_CHAN8_PACK_MIN_E 256
#endif

/* One strip's expansion of the band's input rows [i0, i1) (x: row i0's first pixel, rows w
 * apart) into the depthwise's buffers.  With halo (h38-mv2, the rows mode at 2+ threads) the
 * rows the bands beside it need first, each edge published as soon as written, then the band's
 * other rows, then the rows it imports: copied where the band beside has published them, else
 * expanded here (never waiting).  A pixel's sums do not depend on the tile that computes it:
 * the same bits whoever expands a row.  pf (not with halo): chan8_expand's. */
static void chan8_expand_rows(const tc_chan8_halo *halo, int strip, int i0, int i1, int w, int C,
                              int e, size_t ldx, const float *a, const float *bias, tc_act_k act,
                              const float *x, const float *xp, const int *pin, __m256 *buf,
                              size_t bstride, const char *pf, int pfl)
{
    if (!halo) {
        chan8_expand(C, e, (i1 - i0) * w, ldx, xp != NULL, a, bias, act, xp ? xp : x, pin,
                     (float *)buf, (float *)(buf + bstride), pf, pfl);
        return;
    }
#define TC_CHAN8_EXPAND_ROWS(r0, r1)                                                              \
    chan8_expand(C, e, ((r1) - (r0)) * w, ldx, xp != NULL, a, bias, act,                         \
                 xp ? xp + (size_t)((r0) - i0) * w * C : x + (size_t)((r0) - i0) * w,             \
                 pin + (size_t)((r0) - i0) * w, (float *)buf, (float *)(buf + bstride), NULL, 0)
    for (int side = 0; side < 2; side++) {
        const tc_chan8_edge *g = &halo->out[side];
        if (g->r1 > g->r0) {
            TC_CHAN8_EXPAND_ROWS(g->r0, g->r1);
            chan8_edge_copy(1, g, strip, e, i0, w, pin, buf, bstride);
            __atomic_store_n(&g->ready[strip], 1, __ATOMIC_RELEASE);
        }
    }
    if (halo->out[1].r0 > halo->out[0].r1)
        TC_CHAN8_EXPAND_ROWS(halo->out[0].r1, halo->out[1].r0);
    for (int side = 0; side < 2; side++) {
        const tc_chan8_edge *g = &halo->in[side];
        if (g->r1 <= g->r0)
            continue;
        if (__atomic_load_n(&g->ready[strip], __ATOMIC_ACQUIRE))
            chan8_edge_copy(0, g, strip, e, i0, w, pin, buf, bstride);
        else
            TC_CHAN8_EXPAND_ROWS(g->r0, g->r1);
    }
#undef TC_CHAN8_EXPAND_ROWS
}

/* The expansion and the depthwise of the strips [m0, m1) of 16 channels (m0 a multiple of 16,
 * m1 one or E; the last strip of E % 16 == 8: 8 channels) for the depthwise's output rows
 * [oh0, oh1) (s31: a band of them; the expansion computes only the input rows the band reads,
 * the halo rows again for each band): d [E][n] (n the band's output pixels) gets those
 * channels' planes, means (or NULL) [E] their planes' means as the depthwise layer sums them
 * (the whole map only).  slot: tc_ir_chan8's slot of floats, 64-byte aligned, this thread's
 * alone (sized for the band).  The strips share nothing but x, so any split of them over
 * threads gives the same bits; each pixel's sums are the same in any band.
 * The halo rows carried from the band above instead (each strip's last KC - s rows copied out
 * of its buffers and into the next band's, benchmarks/chan8_band_carry.patch, bit-identical)
 * did not pay at the bands the planner takes (subgraph_shapes.py, carry / recompute, one
 * process, 31 rounds, 2026-12-04, bands of 12 rows): MobileNetV2 features.2 1.011
 * [0.994-1.017], MobileNetV3-Large features.2 1.011 [1.007-1.015], MnasNet layers.8.0 0.996
 * [0.990-0.998]; it helps bands of 4 rows (0.94 -> 0.92 of the banded block's time) that lose
 * to 8-12 anyway, and left stride 1 at 56x56 on the banded block (24-144-24 0.98-1.03 of
 * its time, 24-72-24 1.04-1.07).
 * setup 0: the slot's pixel tables and zero borders are already there (this thread's earlier
 * call for the same band of the same job: n31-2t, each strip claim re-built them).
 * pf (or NULL): pf_lines cache lines the next step reads (a pair's: its squeeze-and-excitation's
 * weights), prefetched into L2 in equal shares over the strips, as their expansions compute
 * (chan8_expand_k); hints only.
 * halo (or NULL): the rows shared with the bands beside (chan8_expand_rows; m0 0, m1 E). */
static void chan8_strips(const tc_ctx *serial, const tc_ir_stage *expand, const tc_ir_stage *dw,
                         int h, int w, int oh0, int oh1, int m0, int m1, const float *x, float *d,
                         size_t ldd, float *means, float *slot, int setup, const char *pf,
                         ptrdiff_t pf_lines, const tc_chan8_halo *halo)
{
    const int C = expand->p.C, s = dw->p.sh, KC = dw->p.KH;
    const int OW = (w - 1) / s + 1, n = (oh1 - oh0) * OW, Wp = w + KC - 1;
    const int rows = (oh1 - oh0 - 1) * s + KC;
    /* the depthwise's two padded pixel buffers (one strip), ob, pix, pin */
    const size_t bstride = ((size_t)rows * Wp + 8 + 1) & ~(size_t)1;
    __m256 *buf = (__m256 *)slot;
    __m256 *ob = buf + 2 * bstride;
    int *pix = (int *)(ob + ((n + 8 + 1) & ~1));
    int *pin = pix + ((n + 8 + 15) & ~15);
    /* x's input rows packed for the tiles (chan8_pack_x), after the pointer they were packed
     * from (a later call of the same band and job, setup 0, may come for another image) */
    const float **xrec = (const float **)(pin + (((size_t)rows * w + 15) & ~(size_t)15));
    float *xp = (float *)xrec + 16;
    /* one strip of 16 channels at a time, expanded into the depthwise's padded buffers (s30: no
     * copy there) then filtered while in L1 / L2 (the whole expansion first: E N floats, 602 KB
     * at 192 x 28 x 28, left L2 before the depthwise read it back) */
    int i1;
    const int i0 = dw8_setup(KC, h, w, s, oh0, oh1, setup, buf, bstride, pix, pin, &i1);
    const int N = (i1 - i0) * w;
    const float *xb = x + (size_t)i0 * w;
    if ((size_t)C * N < TC_CHAN8_PACK_MIN_FLOATS || N > TC_CHAN8_PACK_MAX_N
        || expand->p.K < TC_CHAN8_PACK_MIN_E)
        xp = NULL;
    else if (setup || *xrec != xb) {
        chan8_pack_rows(halo, i0, i1, w, C, (size_t)h * w, xb, xp);
        *xrec = xb;
    }
    const int strips = (m1 - m0 + 15) / 16;
    const ptrdiff_t room = (ptrdiff_t)strips * chan8_later_tiles(N) * TC_CHAN8_PF_TILE;
    pf_lines = pf_lines < room ? pf_lines : room; /* the first lines: the gate reads them first */
    for (int m = m0; m < m1; m += 16) {
        const int e = m1 - m < 16 ? m1 - m : 16, i = (m - m0) / 16;
        const ptrdiff_t l0 = pf_lines * i / strips, l1 = pf_lines * (i + 1) / strips;
        chan8_expand_rows(halo, m / 16, i0, i1, w, C, e, (size_t)h * w,
                          expand->packed + (size_t)m * C, expand->bias ? expand->bias + m : NULL,
                          tc_act_at(expand->act, 0), xb, xp, pin, buf, bstride,
                          pf ? pf + l0 * 64 : NULL, (int)(l1 - l0));
        dw8(KC, s, e, Wp, n, buf, bstride, dw->packed + (size_t)m * KC * KC,
            dw->bias ? dw->bias + m : NULL, tc_act_at(dw->act, 0), d + (size_t)m * ldd, ldd, ob,
            pix);
        if (means) /* the strip's planes while in L1 / L2, summed as the depthwise layer does
                    * (a pair: ldd n) */
            tc_fused_plane_means(serial, d + (size_t)m * ldd, e, (size_t)n, means + m);
    }
}

void tc_ir_chan8_strips_ld_avx2(const tc_ctx *serial, const tc_ir_stage *expand,
                                const tc_ir_stage *dw, int h, int w, int oh0, int oh1, int m0,
                                int m1, const float *x, float *d, size_t ldd, float *means,
                                float *slot, int setup, const char *pf, ptrdiff_t pf_lines)
{
    chan8_strips(serial, expand, dw, h, w, oh0, oh1, m0, m1, x, d, ldd, means, slot, setup, pf,
                 pf_lines, NULL);
}

/* the same with d's planes n floats apart (n: the band's output pixels) */
void tc_ir_chan8_strips_avx2(const tc_ctx *serial, const tc_ir_stage *expand,
                             const tc_ir_stage *dw, int h, int w, int oh0, int oh1, int m0, int m1,
                             const float *x, float *d, float *means, float *slot, int setup,
                             const char *pf, ptrdiff_t pf_lines)
{
    const int s = dw->p.sh, OW = (w - 1) / s + 1;
    chan8_strips(serial, expand, dw, h, w, oh0, oh1, m0, m1, x, d, (size_t)(oh1 - oh0) * OW,
                 means, slot, setup, pf, pf_lines, NULL);
}

/* all the strips of a band of the rows mode (ir_fused.c), its halo rows shared with the bands
 * beside it through halo (tc_chan8_halo) */
void tc_ir_chan8_rows_avx2(const tc_ctx *serial, const tc_ir_stage *expand, const tc_ir_stage *dw,
                           int h, int w, int oh0, int oh1, const float *x, float *d, size_t ldd,
                           float *slot, const tc_chan8_halo *halo)
{
    chan8_strips(serial, expand, dw, h, w, oh0, oh1, 0, expand->p.K, x, d, ldd, NULL, slot, 1, NULL,
                 0, halo);
}
