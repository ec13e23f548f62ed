/* The grouped 3x3 kernel for groups of 8 input and 8 output channels (RegNet's group width 8)
 * on AVX2, the group's 8 output channels in the 8 lanes; included by conv_avx2.c, used by
 * conv.c's grouped_run where it applies (gc8_applies), else grouped_body.h's kernel.
 *
 * grouped_body.h puts 8 output pixels of one channel in the lanes: a row of 14 outputs takes
 * 16 lanes, of 7 outputs 8, and a stride-2 layer reads a phase-split copy of its input.  Here
 * every accumulator is one output pixel's 8 channels: a run of Q pixels of a row (Q = 14, or
 * 2 rows of 7) keeps Q accumulators; per tap t = (c, ki, kj), in the weights' order, it loads
 * the tap's 8 weights (one per output channel) once and broadcasts each pixel's input value
 * from the group's zero-padded planes (copied plainly, at any stride: a stride is only the
 * broadcasts' spacing), or at stride 2 on rows of 14k from the input where it lies, the taps
 * that read a pad left out (tc_gc8_direct_avx2, conv.c gc8_direct_applies).  No lane idles,
 * and no phase split.  The run's accumulators are then transposed 8 pixels at a time into
 * the 8 output planes, where bias and activation are applied per channel as grouped_body.h
 * does: each output sums the same 72 products in the same order with the same FMAs, adds its
 * bias (or +0) the same way: the same bits.
 * Measured (Intel Xeon, Sapphire Rapids class, KVM, AVX2, 1 thread, 2026-12-05, the same
 * bits): RegNetY-400MF's layers alone (benchmarks/gc_ab.sh base . and GC_AB_GC8=b, the copy
 * and the kernel against the block kernel and its phase copy, 30 calls x 11 rounds, median of
 * the per-round ratios [25-75%]) 208@14 0.905 [0.873-0.929], 104@28 0.940 [0.926-0.960],
 * 440@7 0.816 [0.784-0.844]; stride 2: 48@112 0.892 [0.874-0.909], 104@56 0.894
 * [0.882-0.914], 208@28 0.897 [0.888-0.935], 440@14 0.704 [0.668-0.739].  In the network
 * (steps_ab.py --steps, 30 rounds, per step) the grouped steps 0.77-0.95, the whole network
 * (subgraph_shapes.py --against the base, 31 rounds) 0.988 [0.979-0.994].
 * Tried in a prototype and left (same harness): the input as 8-channel pixels (8x8 transposes
 * into [hp][wp][8]) 1.0-1.4 of the block kernel's time (the transposing copy); the three kj
 * taps of a (c, ki) on one base pointer 1.04-1.32 (gcc spills accumulators); one body for all
 * run shapes inlined into the caller (gcc kept the accumulators on the stack) 1.06-1.33;
 * the weights rearranged per call from the blocks' packing ([2][72][4]) and the zero borders
 * rewritten per group: 1.07 at 7x7 (so conv.c packs [72][8] for these layers, and zeroes a
 * thread's planes once a run).  Tried and left (s33, gc_ab.sh with GC_AB_GC8=ab against the
 * base, 30 calls x 11 rounds, median of the per-round ratios [25-75%], the same bits): each
 * input value of a row broadcast once for the up to 3 outputs that read it, a (c, ki)'s three
 * weight vectors in registers (benchmarks/gc8_row_reuse.patch, runs of 7 pixels in one row:
 * 7 + 3 + 1 registers) 1.07-1.11 at every layer (208@14 1.109 [1.085-1.128], 48@112 s2 1.085),
 * runs of 8 (the rows of 56) 1.045: an accumulator's 72 FMAs are one dependent chain (288
 * cycles at 4 each) that 7 or 8 accumulators no longer cover, and 10 or more do not fit the 16
 * registers beside the 3 weights; a prefetch of the next run's inputs per (c, ki) at stride 2
 * 1.00-1.04.  The kernel without its transposing stores (a timing probe, wrong output) took
 * 0.90-0.94 of its time at stride 1 (98 GFLOP/s at 208@14): the FMA loop itself runs at ~80%
 * of the peak, its 15 loads per 14 FMAs included.  Tried and left (s34, gc_ab.sh GC_AB_GC8=ab
 * against the base, 30 calls x 15 rounds, load 4-8, median [25-75%], the same bits): the
 * stores as 4-float halves of the transpose's two in-lane stages (16 shuffles and 16
 * vextractf128 / 128-bit stores for 24 shuffles and 8 stores) 208@14 0.955 [0.942-1.002],
 * 440@7 1.047 [0.998-1.062], 104@28 0.991, 208@28 s2 0.998, 48@112 s2 0.996: level, the
 * shuffle port is not what binds (perf: the samples sit on the broadcasts of the FMA loop).
 * Tried and left (h39-rg, 2026-12-06, benchmarks/gc8_means8.patch, the same bits): the means of
 * a group's 8 planes summed side by side (the pool's partial sums in the same order, the 8
 * chains interleaved, the last reduction in the lanes of an 8 x 8 transpose) instead of one
 * plane at a time: 440 planes of 49 2.93 -> 2.14 us, of 196 6.1 -> 4.8, of 784 level (a
 * standalone loop, planes in cache): ~1 us a layer, ~0.1% of RegNetY; not worth a field in
 * the kernels' table.
 * h40-rg (2026-12-06): 7x7 maps (stride 1, and stride 2 from 14x14) and stride 1 on rows of
 * 14k read the input where it lies too (tc_gc8_direct_avx2, gc8_runq): every run's edges
 * (top, bottom row; left, right chunk) compiled in, so the taps on a pad are left out
 * without a test (a 7x7 plane's 441 products 361, at 14x14 1600 of 1764) and there is no
 * padded copy.  s33's stride-1 try of this (0.96-0.98, conv.c gc8_direct_applies) probably
 * lost to gcc sharing the broadcasts of neighbouring taps (it does so here without the asm in
 * gc8_runq, spilling accumulators: 1.01-1.03); with every tap's base opaque, none spill.  gc_ab.sh GC_AB_GC8=ab
 * against the base (30 calls x 11-15 rounds, median of the per-round ratios [25-75%], the
 * same bits, host load 5-6): 440@7 0.706 [0.700-0.714], 0.709, 0.735; 440@14 s2 0.770
 * [0.766-0.797], 0.752; 208@14 0.843 [0.840-0.850] (0.78-0.80 with the row width a
 * constant), 104@28 0.851, 48@56 0.876, 16@14 / 28 / 56 0.82-0.88; the stride-2 rows of 14k
 * (their own direct path) level.  Hot and alone the 7x7 layer's real products (361 / 441
 * of the padded count) run at ~96% of fma_peak.c's peak.  In RegNetY-400MF (steps_ab.py
 * --steps against the base, 15 rounds, medians of the per-round ratios, bit-identical): the
 * grouped steps at 28x28 0.870-0.883, 14x14 0.862-0.879, 7x7 0.860-0.893, 14 -> 7 0.833
 * (~190 us a run); the whole network (subgraph_shapes.py, 40 rounds, each build first twice)
 * 0.979-0.984 and 0.993-1.007: ~0.99; 2 threads (ab_threads.py --fifo, 30 x 10) 0.993.
 * Tried before it and left (gc_ab.sh, the same bits): the 7x7 copy's masked rows as whole
 * vectors with their pad lanes zeroed (blend; the last row read shifted a lane) 1.02-1.05 of
 * the masked copy's time, and the copy prefetching the next group's input 1.05-1.07: what the
 * copy cost (0.89 without it, a probe) was not its masked moves.  Then the stride-2 rows of
 * 14k's runs on the top row and the left chunk through gc8_runq too (gc8_run_edge tested its
 * edge bits per tap; the other edges, a band's bottom or an odd width's right, stay there):
 * gc_ab.sh against the commit before, 30 x 11, twice: 208@28 s2 0.862 / 0.706, 104@56 0.980 /
 * 0.889, 48@112 0.929 / 0.975; in the network (steps_ab.py --steps vs the base, 15 rounds)
 * block3-0's grouped step 0.732, block2-0's and block1-0's banded pairs 0.952 / 0.960, the
 * whole run 0.976 [0.966-0.983]; subgraph_shapes.py (40 rounds) new first 0.978 / 0.979,
 * base first 1.002 / 0.999 (new / base), geometric means 0.990 / 0.989.  Not taken: 14x14
 * runs with the row width a constant, 1.004 of the runtime width's time. */
#include <immintrin.h>
#include <string.h>
#include "transpose_avx2.h"

#define TC_GC8_TAPS 72 /* 8 input channels x 3 x 3 */
#define TC_GC8_HAS_DIRECT 1 /* tc_gc8_direct_avx2 (benchmarks/gc_ab_kernel.c) */

typedef struct {
    __m256 bias;       /* lane k: channel k's bias, or +0 (added as grouped_body.h adds it) */
    const tc_act_k *act; /* [8] */
    int relus, inline_act; /* every channel ReLU (applied in the lanes); some channel's
                            * activation applied per plane after the transpose */
    float *y;          /* 8 planes ldy apart */
    ptrdiff_t ldy, end; /* end: OH * OW, the values of a plane this call writes */
} gc8_out;

/* n <= 8 pixels' accumulators r (lane k: channel k, bias added) -> channel k's plane at
 * pos .. pos + n - 1; 8 values stored whole unless they would pass the call's end (then
 * masked) */
static inline void gc8_store(const gc8_out *o, const __m256 acc[8], ptrdiff_t pos, int n)
{
    __m256 r[8];
    tc_transpose8_avx2(acc, r);
    if (o->inline_act)
        for (int k = 0; k < 8; k++)
            if (!tc_act_deferred(o->act[k].kind))
                r[k] = tc_v_act(o->act[k], r[k]);
    if (pos + 8 <= o->end) {
        for (int k = 0; k < 8; k++)
            _mm256_storeu_ps(o->y + k * o->ldy + pos, r[k]);
    } else if (n == 7 && pos >= 1) {
        /* a 7x7 plane's last row (pixels 42..48): 8 values stored from pixel 41, lane 0 the
         * value this call already wrote there (every run stores its pixels in increasing
         * order), so the same values land.  A masked store (vmaskmovps) is microcoded on AMD
         * Zen: 4-5 ns each against 0.4 for a plain one, 8 a group.  h52-rg (AMD EPYC Zen 4,
         * AVX2, 1 thread, gc_ab.sh GC_AB_GC8=ab against the masked store, 30 calls x 21
         * rounds, each order twice, median of the per-round ratios, the same bits, load 6-25):
         * 440@7 0.947-0.961, 440@14 s2 0.940-0.972 (~2 us a layer); 208@14 (no 7-wide
         * rows, a control) 0.997-1.006. */
        const __m256i up = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);
        for (int k = 0; k < 8; k++) {
            float *d = o->y + k * o->ldy + pos - 1;
            _mm256_storeu_ps(d, _mm256_blend_ps(_mm256_permutevar8x32_ps(r[k], up),
                                                _mm256_broadcast_ss(d), 1));
        }
    } else {
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int k = 0; k < 8; k++)
            _mm256_maskstore_ps(o->y + k * o->ldy + pos, m, r[k]);
    }
}

/* o for 8 output channels' bias [8] or NULL, act [8], planes y ldy apart of `end` values;
 * returns whether some channel's activation is deferred (gc8_deferred after the runs) */
static inline int gc8_out_init(gc8_out *o, const float *bias, const tc_act_k *act, float *y,
                               ptrdiff_t ldy, ptrdiff_t end)
{
    *o = (gc8_out){bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps(), act, 1, 0, y, ldy, end};
    int defer = 0;
    for (int k = 0; k < 8; k++) {
        o->relus &= act[k].kind == TC_ACT_RELU;
        o->inline_act |= act[k].kind != TC_ACT_NONE && !tc_act_deferred(act[k].kind);
        defer |= tc_act_deferred(act[k].kind);
    }
    o->inline_act &= !o->relus;
    return defer;
}

/* the deferred activations (Sigmoid, SiLU) over the n values of each plane just written */
static void gc8_deferred(const tc_act_k *act, float *y, ptrdiff_t ldy, ptrdiff_t n)
{
    for (int k = 0; k < 8; k++)
        if (tc_act_deferred(act[k].kind))
            tc_v_act_rows(act[k].kind, y + (ptrdiff_t)k * ldy, n);
}

/* R rows x Q output pixels' sums (bias not added) -> act(sum + bias) in their planes */
static inline __attribute__((always_inline)) void
gc8_finish(const int R, const int Q, __m256 *acc, const gc8_out *o, int OW, int oh, int ow0)
{
    /* bias and ReLU are per element: in the lanes, before the transpose, the same bits */
#pragma GCC unroll 14
    for (int i = 0; i < R * Q; i++) {
        acc[i] = _mm256_add_ps(acc[i], o->bias);
        if (o->relus)
            acc[i] = _mm256_max_ps(_mm256_setzero_ps(), acc[i]);
    }
#pragma GCC unroll 2
    for (int r = 0; r < R; r++) {
        const ptrdiff_t row = (ptrdiff_t)(oh + r) * OW + ow0;
#pragma GCC unroll 2
        for (int q0 = 0; q0 < Q; q0 += 8) {
            const int s0 = Q >= 8 && q0 + 8 > Q ? Q - 8 : q0; /* over the block before */
            const int n = Q - s0 < 8 ? Q - s0 : 8;
            __m256 b[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                b[i] = i < n ? acc[r * Q + s0 + i] : _mm256_setzero_ps();
            gc8_store(o, b, row + s0, n);
        }
    }
}

/* R rows x Q output pixels from output (oh, ow0): x0 their first tap's input, PS floats
 * between two pixels' inputs (the stride), rs between two rows'; w: [72][8] */
static inline __attribute__((always_inline)) void
gc8_run(const int R, const int Q, const int PS, const float *x0, ptrdiff_t rs,
        const ptrdiff_t *taps, const float *w, const gc8_out *o, int OW, int oh, int ow0)
{
    __m256 acc[14];
#pragma GCC unroll 14
    for (int i = 0; i < R * Q; i++)
        acc[i] = _mm256_setzero_ps();
    for (int t = 0; t < TC_GC8_TAPS; t++) {
        const float *xt = x0 + taps[t];
        /* one base register, the pixels at constant displacements (else gcc keeps an index
         * per pixel and spills them: 1.2x the time) */
        __asm__("" : "+r"(xt));
        const __m256 wv = _mm256_loadu_ps(w + (size_t)t * 8);
#pragma GCC unroll 2
        for (int r = 0; r < R; r++)
#pragma GCC unroll 14
            for (int q = 0; q < Q; q++)
                acc[r * Q + q] = _mm256_fmadd_ps(_mm256_broadcast_ss(xt + r * rs + q * PS), wv,
                                                 acc[r * Q + q]);
    }
    gc8_finish(R, Q, acc, o, OW, oh, ow0);
}

/* Edges of a run read from the unpadded input (tc_gc8_direct_avx2): the taps that would read
 * a zero pad are left out (bits: row r's ki = 0 taps (1 << r), row r's ki = 2 (4 << r),
 * pixel 0's kj = 0 (16), pixel Q - 1's kj = 2 (32)).  A pad's product is +-0, and a sum that
 * starts at +0 is never -0 (x + -x rounds to +0), so adding it changed nothing: the same bits. */
static inline __attribute__((always_inline)) void
gc8_run_edge(const int R, const int Q, const int PS, const float *x0, ptrdiff_t rs,
             const ptrdiff_t *taps, const float *w, const gc8_out *o, int OW, int oh, int ow0,
             unsigned edges)
{
    __m256 acc[14];
#pragma GCC unroll 14
    for (int i = 0; i < R * Q; i++)
        acc[i] = _mm256_setzero_ps();
    int ki = 0, kj = 0;
    for (int t = 0; t < TC_GC8_TAPS; t++) {
        const float *xt = x0 + taps[t];
        __asm__("" : "+r"(xt));
        const __m256 wv = _mm256_loadu_ps(w + (size_t)t * 8);
        const int l = (edges & 16) && kj == 0, rt = (edges & 32) && kj == 2;
#pragma GCC unroll 2
        for (int r = 0; r < R; r++) {
            if (((edges >> r) & 1 && ki == 0) || ((edges >> (2 + r)) & 1 && ki == 2))
                continue;
#pragma GCC unroll 14
            for (int q = 0; q < Q; q++) {
                if ((q == 0 && l) || (q == Q - 1 && rt))
                    continue;
                acc[r * Q + q] = _mm256_fmadd_ps(_mm256_broadcast_ss(xt + r * rs + q * PS), wv,
                                                 acc[r * Q + q]);
            }
        }
        if (++kj == 3)
            kj = 0, ki = ki == 2 ? 0 : ki + 1;
    }
    gc8_finish(R, Q, acc, o, OW, oh, ow0);
}

#define TC_GC8_EDGE_INSTANCE(NAME, R, Q, PS)                                               \
    static __attribute__((noinline)) void NAME(const float *x0, ptrdiff_t rs,              \
                                               const ptrdiff_t *taps, const float *w,      \
                                               const gc8_out *o, int OW, int oh, int ow0,  \
                                               unsigned edges)                             \
    {                                                                                      \
        gc8_run_edge(R, Q, PS, x0, rs, taps, w, o, OW, oh, ow0, edges);                    \
    }
TC_GC8_EDGE_INSTANCE(gc8e_1x14_s2, 1, 14, 2)
#undef TC_GC8_EDGE_INSTANCE

/* A run of R rows x Q pixels from the unpadded input at stride S, pads 1 (tc_gc8_direct_avx2:
 * 7x7 outputs of a 7x7 or a 14x14 input, and stride-1 rows of 14k in 14-pixel chunks): x0 at
 * the input of output (oh, ow0)'s first tap, (S oh - 1, S ow0 - 1), W floats a row, PL a
 * plane; the tap (c, ki, kj) of output (oh + r, ow0 + q) at x0 + c PL + (S r + ki) W + S q + kj.
 * The taps that would read a pad are left out at compile time: (LEFT) pixel 0's kj = 0,
 * (RIGHT) pixel Q - 1's kj = 2, (TOP) row 0's ki = 0, (BOT) the run's last row's ki = 2 (a 7x7
 * plane's 441 products 361 at stride 1, 400 at stride 2), and there is no copy into padded
 * planes.  Each output's remaining products in tap order, as gc8_run_edge's: the same bits as
 * gc8_run over the padded copy. */
static inline __attribute__((always_inline)) void
gc8_runq(const int R, const int Q, const int S, const int TOP, const int BOT, const int LEFT,
         const int RIGHT, const float *x0, ptrdiff_t W, ptrdiff_t PL, const float *w,
         const gc8_out *o, int OW, int oh, int ow0)
{
    __m256 acc[14];
#pragma GCC unroll 14
    for (int i = 0; i < R * Q; i++)
        acc[i] = _mm256_setzero_ps();
    for (int c = 0; c < 8; c++, x0 += PL, w += 72) {
#pragma GCC unroll 3
        for (int ki = 0; ki < 3; ki++)
#pragma GCC unroll 3
            for (int kj = 0; kj < 3; kj++) {
                /* the tap's base opaque to gcc: else it keeps the broadcasts that taps share
                 * in registers and spills accumulators (as gc8_row_reuse.patch did) */
                const float *xt = x0 + ki * W + kj;
                __asm__("" : "+r"(xt));
                const __m256 wv = _mm256_loadu_ps(w + (ki * 3 + kj) * 8);
#pragma GCC unroll 2
                for (int r = 0; r < R; r++) {
                    if ((TOP && r == 0 && ki == 0) || (BOT && r == R - 1 && ki == 2))
                        continue;
#pragma GCC unroll 14
                    for (int q = 0; q < Q; q++) {
                        if ((LEFT && q == 0 && kj == 0) || (RIGHT && q == Q - 1 && kj == 2))
                            continue;
                        acc[r * Q + q] = _mm256_fmadd_ps(
                            _mm256_broadcast_ss(xt + S * r * W + S * q), wv, acc[r * Q + q]);
                    }
                }
            }
    }
    gc8_finish(R, Q, acc, o, OW, oh, ow0);
}

/* 7x7 outputs: rows 0-1 (TOP), 2-3, 4-5, 6 (BOT at stride 1); W and PL constants */
#define TC_GC8_RUN7(NAME, R, S, TOP, BOT)                                                   \
    static __attribute__((noinline)) void NAME(const float *x0, const float *w,             \
                                               const gc8_out *o, int oh)                    \
    {                                                                                       \
        gc8_runq(R, 7, S, TOP, BOT, 1, S == 1, x0, 7 * S, 49 * S * S, w, o, 7, oh, 0);      \
    }
TC_GC8_RUN7(gc8d7_2_top_s1, 2, 1, 1, 0)
TC_GC8_RUN7(gc8d7_2_mid_s1, 2, 1, 0, 0)
TC_GC8_RUN7(gc8d7_1_bot_s1, 1, 1, 0, 1)
TC_GC8_RUN7(gc8d7_2_top_s2, 2, 2, 1, 0)
TC_GC8_RUN7(gc8d7_2_mid_s2, 2, 2, 0, 0)
TC_GC8_RUN7(gc8d7_1_bot_s2, 1, 2, 0, 0)
#undef TC_GC8_RUN7
/* stride 1, rows of 14k outputs: a row's 14-pixel chunk, its edges by row (TOP, BOT) and
 * chunk (LEFT, RIGHT) */
#define TC_GC8_RUN14(NAME, TOP, BOT, LEFT, RIGHT)                                           \
    static __attribute__((noinline)) void NAME(const float *x0, ptrdiff_t W, ptrdiff_t PL,   \
                                               const float *w, const gc8_out *o, int OW,    \
                                               int oh, int ow0)                             \
    {                                                                                       \
        gc8_runq(1, 14, 1, TOP, BOT, LEFT, RIGHT, x0, W, PL, w, o, OW, oh, ow0);            \
    }
#define TC_GC8_RUN14_ROWS(SFX, LEFT, RIGHT)                                                 \
    TC_GC8_RUN14(gc8d14_top_##SFX, 1, 0, LEFT, RIGHT)                                       \
    TC_GC8_RUN14(gc8d14_mid_##SFX, 0, 0, LEFT, RIGHT)                                       \
    TC_GC8_RUN14(gc8d14_bot_##SFX, 0, 1, LEFT, RIGHT)
/* stride 2 on rows of 14k: the runs on the top row and the left chunk (pads 1 above and
 * left; tc_gc8_direct_avx2's other edges take gc8e_1x14_s2) */
#define TC_GC8_RUN14S2(NAME, TOP, LEFT)                                                     \
    static __attribute__((noinline)) void NAME(const float *x0, ptrdiff_t W, ptrdiff_t PL,   \
                                               const float *w, const gc8_out *o, int OW,    \
                                               int oh, int ow0)                             \
    {                                                                                       \
        gc8_runq(1, 14, 2, TOP, 0, LEFT, 0, x0, W, PL, w, o, OW, oh, ow0);                  \
    }
TC_GC8_RUN14S2(gc8d14s2_tl, 1, 1)
TC_GC8_RUN14S2(gc8d14s2_t, 1, 0)
TC_GC8_RUN14S2(gc8d14s2_l, 0, 1)
#undef TC_GC8_RUN14S2
TC_GC8_RUN14_ROWS(lr, 1, 1)
TC_GC8_RUN14_ROWS(l, 1, 0)
TC_GC8_RUN14_ROWS(r, 0, 1)
TC_GC8_RUN14_ROWS(in, 0, 0)
#undef TC_GC8_RUN14_ROWS
#undef TC_GC8_RUN14
typedef void (*gc8d14_fn)(const float *x0, ptrdiff_t W, ptrdiff_t PL, const float *w,
                          const gc8_out *o, int OW, int oh, int ow0);
/* [top, middle, bottom row][chunk: both edges, left, right, inside] */
static const gc8d14_fn gc8d14_of[3][4] = {
    {gc8d14_top_lr, gc8d14_top_l, gc8d14_top_r, gc8d14_top_in},
    {gc8d14_mid_lr, gc8d14_mid_l, gc8d14_mid_r, gc8d14_mid_in},
    {gc8d14_bot_lr, gc8d14_bot_l, gc8d14_bot_r, gc8d14_bot_in}};
#define TC_GC8_HAS_DIRECT7 1 /* tc_gc8_direct_avx2 takes 7x7 maps (stride 1 or 2) and stride 1 */

/* Each shape its own function, the pixel step (the stride) a constant in each: one body
 * for all of them in tc_gc8_avx2 made gcc keep the accumulators on the stack (1.3x the time
 * at 7x7) */
#define TC_GC8_INSTANCE(NAME, R, Q, PS)                                                  \
    static __attribute__((noinline)) void NAME(const float *x0, ptrdiff_t rs,            \
                                               const ptrdiff_t *taps, const float *w,    \
                                               const gc8_out *o, int OW, int oh, int ow0) \
    {                                                                                    \
        gc8_run(R, Q, PS, x0, rs, taps, w, o, OW, oh, ow0);                              \
    }
TC_GC8_INSTANCE(gc8_2x7_s1, 2, 7, 1)
TC_GC8_INSTANCE(gc8_2x7_s2, 2, 7, 2)
TC_GC8_INSTANCE(gc8_1x7_s1, 1, 7, 1)
TC_GC8_INSTANCE(gc8_1x7_s2, 1, 7, 2)
TC_GC8_INSTANCE(gc8_1x14_s1, 1, 14, 1)
TC_GC8_INSTANCE(gc8_1x14_s2, 1, 14, 2)
#undef TC_GC8_INSTANCE

#define TC_GC8_RUN(R, Q, X0, OH_, OW0)                                                   \
    (S == 1 ? gc8_##R##x##Q##_s1 : gc8_##R##x##Q##_s2)(X0, rs, taps, w8, &o, OW, OH_, OW0)

/* xp: the group's 8 zero-padded planes [8][hp][wp] (tc_gc8_copy_avx2), output (oh, ow)'s tap
 * t = (c, ki, kj) at xp + (oh * S) * wp + ow * S + taps[t]; w: [72][8] (tap t's 8 output
 * channels); bias: [8] or NULL; act: [8]; y: 8 planes [OH][OW] ldy apart; pf, pf_lines: as
 * grouped_body.h's, spread over the runs. */
void tc_gc8_avx2(const float *xp, const ptrdiff_t *taps, int hp, int wp, int S, int OH, int OW,
                 ptrdiff_t ldy, const float *w, const float *bias, const tc_act_k *act, float *y,
                 const char *pf, ptrdiff_t pf_lines)
{
    (void)hp;
    const float *w8 = w;
    gc8_out o;
    const int defer = gc8_out_init(&o, bias, act, y, ldy, (ptrdiff_t)OH * OW);
    const ptrdiff_t rs = (ptrdiff_t)S * wp;
    /* runs: pairs of rows of 7, or a row's 14-pixel chunks */
    const int per_row = OW == 7 ? 1 : OW / 14;
    const ptrdiff_t runs = OW == 7 ? (OH + 1) / 2 : (ptrdiff_t)OH * per_row;
    ptrdiff_t pf_done = 0;
    for (ptrdiff_t run = 0; run < runs; run++) {
        if (pf) { /* this run's share of the lines, all of them by the last run */
            const ptrdiff_t to = pf_lines * (run + 1) / runs;
            for (; pf_done < to; pf_done++)
                __builtin_prefetch(pf + pf_done * 64, 0, 2);
        }
        if (OW == 7) {
            const int oh = (int)run * 2;
            if (oh + 2 <= OH)
                TC_GC8_RUN(2, 7, xp + oh * rs, oh, 0);
            else
                TC_GC8_RUN(1, 7, xp + oh * rs, oh, 0);
        } else {
            const int oh = (int)(run / per_row), ow0 = (int)(run % per_row) * 14;
            TC_GC8_RUN(1, 14, xp + oh * rs + ow0 * S, oh, ow0);
        }
    }
    if (defer) /* Sigmoid, SiLU: one pass over each plane just written (tc_act_deferred) */
        gc8_deferred(act, y, ldy, (ptrdiff_t)OH * OW);
}

#undef TC_GC8_RUN

/* Winograd F(2x2, 3x3) for a group at stride 1, pads 1 on every side, an even number of rows
 * of 14 or 28 (RegNetY-400MF's 104@28 and 208@14 layers; tc_gc8_wino_avx2, conv.c
 * gc8_wino_applies): per 2x2 tile of outputs 16 products per input and output channel pair
 * instead of 36 (32 where the direct kernel leaves out the pads' taps).  The weights
 * transformed per call (U = G g G^T, the 8 output channels in the lanes: [16][8 in][8 out]);
 * per row of tiles each input channel's 4 x 4 patches transformed (V = B^T d B) with 8 tiles
 * in the lanes (each row's 4 patch columns the even / odd split of 4 loads from x where it
 * lies, the columns outside it masked), into [16][8 in][lanes]; then per position p the 8
 * input channels' products summed for 14 (or 7) tiles at once, each tile's V broadcast as
 * gc8_run broadcasts its taps (M: [tile][16][8 out]); then Y = A^T M A per tile, the bias and
 * activation as gc8_finish applies them.  Not the direct kernel's bits: another summation
 * (within 2e-7 of the float64 sums here, the direct kernel's 2-2.5e-7; onnxruntime at full
 * depth in tests/test_pg_fused.py).  Measured (h41-rg, 2026-12-06, AVX2, 1 thread, gc_ab.sh
 * GC_AB_GC8=ab against the base's gc8_runq, 30 calls x 21 rounds, median of the per-round
 * ratios [25-75%], a loaded host): 208@14 0.902 [0.878-0.920] and 0.892 [0.871-0.910], 104@28
 * 0.840 [0.828-0.873] and 0.840 [0.818-0.860]; GC_AB_NO_WINO (the same direct kernel) 1.023.
 * perf (cpu-clock) at 208@14: the products at the FMA peak ~half of its time, the input
 * transform a quarter, the output transform and stores a fifth.  Tried and left: the input
 * rows a pair of tile rows share transformed once (24 vectors live: 0.95-1.01 against 0.90 in
 * the same runs); the row copies into zero-bordered buffers (memcpy calls) instead of masked
 * loads 1.13-1.33; every column start transformed (no even / odd split, twice the stores)
 * 0.92-1.09.  7x7 maps would need 16 tiles for 49 outputs (2048 products against the direct
 * kernel's 2888): left to the direct kernel. */
#define GC8W_VROW(UW) (16 * 8 * (UW)) /* floats of one tile row's V */
#define TC_GC8_HAS_WINO 1 /* tc_gc8_wino_avx2 (benchmarks/gc_ab_kernel.c) */

/* U [16][8][8]: position p = 4 i + j (i: kernel rows' side, j: columns'), input channel c,
 * the 8 output channels; w8: [72][8], tap (c, ki, kj) at 9 c + 3 ki + kj */
static void gc8w_weights(const float *w8, float *U)
{
    const __m256 h = _mm256_set1_ps(0.5f);
    for (int c = 0; c < 8; c++) {
        __m256 g[9], r[4][3];
        for (int t = 0; t < 9; t++)
            g[t] = _mm256_loadu_ps(w8 + (size_t)(c * 9 + t) * 8);
        for (int j = 0; j < 3; j++) { /* G g: rows */
            r[0][j] = g[j];
            r[1][j] = _mm256_mul_ps(h, _mm256_add_ps(_mm256_add_ps(g[j], g[3 + j]), g[6 + j]));
            r[2][j] = _mm256_mul_ps(h, _mm256_add_ps(_mm256_sub_ps(g[j], g[3 + j]), g[6 + j]));
            r[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; i++) { /* (G g) G^T */
            const __m256 u1 = _mm256_mul_ps(h, _mm256_add_ps(_mm256_add_ps(r[i][0], r[i][1]), r[i][2]));
            const __m256 u2 = _mm256_mul_ps(h, _mm256_add_ps(_mm256_sub_ps(r[i][0], r[i][1]), r[i][2]));
            _mm256_store_ps(U + ((size_t)(i * 4 + 0) * 8 + c) * 8, r[i][0]);
            _mm256_store_ps(U + ((size_t)(i * 4 + 1) * 8 + c) * 8, u1);
            _mm256_store_ps(U + ((size_t)(i * 4 + 2) * 8 + c) * 8, u2);
            _mm256_store_ps(U + ((size_t)(i * 4 + 3) * 8 + c) * 8, r[i][2]);
        }
    }
}

/* lane of tile t (of 8) in V: the even / odd split of two vectors (_mm256_shuffle_ps) leaves
 * tiles 0 1 4 5 | 2 3 6 7 in the lanes (bits 1 and 2 swapped) */
#define GC8W_LANE(t) (((t) & ~7) | ((t) & 1) | (((t) & 2) << 1) | (((t) & 4) >> 1))

/* 8 floats of row from column col (col + l in lane l), the columns outside [0, W) zero */
static inline __attribute__((always_inline)) __m256 gc8w_load(const float *row, int col, int W)
{
    if (col >= 0 && col + 8 <= W)
        return _mm256_loadu_ps(row + col);
    const __m256i l = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                       _mm256_set1_epi32(col));
    const __m256i m = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), l),
                                          _mm256_cmpgt_epi32(_mm256_set1_epi32(W), l));
    return _mm256_maskload_ps(row + col, m);
}

/* V [16][8][UW] of tile row ty: V[p][c][GC8W_LANE(tx)] for tile tx's patch (rows 2 ty - 1 ..,
 * columns 2 tx - 1 ..), read from x where it lies (the rows and columns outside it zero); per
 * 8 tiles, each row's 4 patch columns by the even / odd split of 4 loads */
static inline __attribute__((always_inline)) void
gc8w_input(const int UW, const int W, const float *x, int H, int ty, float *V)
{
    for (int c = 0; c < 8; c++) {
#pragma GCC unroll 2
        for (int g = 0; g < UW / 8; g++) {
            const int cb = 16 * g;
            __m256 hh[4][4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                const int r = 2 * ty - 1 + i;
                if (r < 0 || r >= H) {
                    for (int j = 0; j < 4; j++)
                        hh[i][j] = _mm256_setzero_ps();
                    continue;
                }
                const float *row = x + ((size_t)c * H + r) * W;
                const __m256 p0 = gc8w_load(row, cb - 1, W), q0 = gc8w_load(row, cb + 7, W);
                const __m256 p1 = gc8w_load(row, cb + 1, W), q1 = gc8w_load(row, cb + 9, W);
                const __m256 d0 = _mm256_shuffle_ps(p0, q0, 0x88), d1 = _mm256_shuffle_ps(p0, q0, 0xdd);
                const __m256 d2 = _mm256_shuffle_ps(p1, q1, 0x88), d3 = _mm256_shuffle_ps(p1, q1, 0xdd);
                hh[i][0] = _mm256_sub_ps(d0, d2);
                hh[i][1] = _mm256_add_ps(d1, d2);
                hh[i][2] = _mm256_sub_ps(d2, d1);
                hh[i][3] = _mm256_sub_ps(d1, d3);
            }
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                float *v = V + (size_t)c * UW + 8 * g;
                _mm256_store_ps(v + (size_t)(0 * 4 + j) * 8 * UW, _mm256_sub_ps(hh[0][j], hh[2][j]));
                _mm256_store_ps(v + (size_t)(1 * 4 + j) * 8 * UW, _mm256_add_ps(hh[1][j], hh[2][j]));
                _mm256_store_ps(v + (size_t)(2 * 4 + j) * 8 * UW, _mm256_sub_ps(hh[2][j], hh[1][j]));
                _mm256_store_ps(v + (size_t)(3 * 4 + j) * 8 * UW, _mm256_sub_ps(hh[1][j], hh[3][j]));
            }
        }
    }
}

/* M [R * Q][16][8]: per tile (r, q) of R tile rows (V's GC8W_VROW(UW) apart) x Q tiles and
 * position p, the sum over the 8 input channels of U[p][c] V[p][c][2 q] */
static inline __attribute__((always_inline)) void
gc8w_elem(const int R, const int Q, const int UW, const float *V, const float *U, float *M)
{
    for (int p = 0; p < 16; p++) {
        __m256 acc[14];
#pragma GCC unroll 14
        for (int i = 0; i < R * Q; i++)
            acc[i] = _mm256_setzero_ps();
        for (int c = 0; c < 8; c++) {
            const float *vt = V + (size_t)(p * 8 + c) * UW;
            __asm__("" : "+r"(vt));
            const __m256 wv = _mm256_load_ps(U + (size_t)(p * 8 + c) * 8);
#pragma GCC unroll 2
            for (int r = 0; r < R; r++)
#pragma GCC unroll 14
                for (int q = 0; q < Q; q++)
                    acc[r * Q + q] = _mm256_fmadd_ps(
                        _mm256_broadcast_ss(vt + r * GC8W_VROW(UW) + GC8W_LANE(q)), wv, acc[r * Q + q]);
        }
#pragma GCC unroll 14
        for (int i = 0; i < R * Q; i++)
            _mm256_store_ps(M + ((size_t)i * 16 + p) * 8, acc[i]);
    }
}

#define TC_GC8W_ELEM(NAME, R, Q, UW)                                                         \
    static __attribute__((noinline)) void NAME(const float *V, const float *U, float *M)     \
    {                                                                                        \
        gc8w_elem(R, Q, UW, V, U, M);                                                        \
    }
TC_GC8W_ELEM(gc8w_e2x7, 2, 7, 8)
TC_GC8W_ELEM(gc8w_e1x7, 1, 7, 8)
TC_GC8W_ELEM(gc8w_e1x14, 1, 14, 16)
#undef TC_GC8W_ELEM

static __attribute__((noinline)) void gc8w_in14(const float *x, int H, int ty, float *V)
{
    gc8w_input(8, 14, x, H, ty, V);
}
static __attribute__((noinline)) void gc8w_in28(const float *x, int H, int ty, float *V)
{
    gc8w_input(16, 28, x, H, ty, V);
}

/* Y = A^T M A of the tiles of nr tile rows x Q (M: [nr * Q][16][8]), the bias and activation
 * added and stored (gc8_finish) to output rows oh0 .. oh0 + 2 nr - 1 of width W = 2 Q */
static inline __attribute__((always_inline)) void
gc8w_tail(const int Q, int nr, const float *M, const gc8_out *o_, int oh0)
{
    const gc8_out o = *o_; /* in registers: the stores to y would make gcc reload *o_ */
    for (int r = 0; r < nr; r++) {
        __m256 out[2][2 * Q];
#pragma GCC unroll 14
        for (int q = 0; q < Q; q++) {
            const float *m = M + (size_t)(r * Q + q) * 128;
            __m256 t0[4], t1[4];
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const __m256 m0 = _mm256_load_ps(m + (0 * 4 + j) * 8), m1 = _mm256_load_ps(m + (1 * 4 + j) * 8),
                             m2 = _mm256_load_ps(m + (2 * 4 + j) * 8), m3 = _mm256_load_ps(m + (3 * 4 + j) * 8);
                t0[j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
                t1[j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
            }
            out[0][2 * q] = _mm256_add_ps(_mm256_add_ps(t0[0], t0[1]), t0[2]);
            out[0][2 * q + 1] = _mm256_sub_ps(_mm256_sub_ps(t0[1], t0[2]), t0[3]);
            out[1][2 * q] = _mm256_add_ps(_mm256_add_ps(t1[0], t1[1]), t1[2]);
            out[1][2 * q + 1] = _mm256_sub_ps(_mm256_sub_ps(t1[1], t1[2]), t1[3]);
        }
#pragma GCC unroll 2
        for (int rr = 0; rr < 2; rr++)
#pragma GCC unroll 2
            for (int ow0 = 0; ow0 < 2 * Q; ow0 += 14)
                gc8_finish(1, 14, out[rr] + ow0, &o, 2 * Q, oh0 + 2 * r + rr, ow0);
    }
}

static __attribute__((noinline)) void gc8w_tail14(int nr, const float *M, const gc8_out *o, int oh0)
{
    gc8w_tail(7, nr, M, o, oh0);
}
static __attribute__((noinline)) void gc8w_tail28(const float *M, const gc8_out *o, int oh0)
{
    gc8w_tail(14, 1, M, o, oh0);
}

/* the group x [8][H][W] (stride 1, pads 1, gc8w_applies) -> o's planes, tile rows [ty0, ty1)
 * (output rows 2 ty0 .. 2 ty1 - 1: each tile its own sums, so any range gives the whole
 * group's bits there); pf as tc_gc8_avx2's, spread over the range */
static void gc8w_run(const float *x, int H, int W, const float *w8, const gc8_out *o,
                     const char *pf, ptrdiff_t pf_lines, int ty0, int ty1)
{
    float U[16 * 8 * 8] __attribute__((aligned(32)));
    float V[2 * GC8W_VROW(8)] __attribute__((aligned(32))); /* == GC8W_VROW(16) */
    float M[14 * 128] __attribute__((aligned(32)));
    gc8w_weights(w8, U);
    const int R = W == 14 ? 2 : 1;
    ptrdiff_t pf_done = 0;
    for (int ty = ty0; ty < ty1; ty += R) {
        const int nr = ty + R <= ty1 ? R : ty1 - ty;
        if (pf) {
            const ptrdiff_t to = pf_lines * (ty + nr - ty0) / (ty1 - ty0);
            for (; pf_done < to; pf_done++)
                __builtin_prefetch(pf + pf_done * 64, 0, 2);
        }
        if (W == 14) {
            for (int r = 0; r < nr; r++)
                gc8w_in14(x, H, ty + r, V + (size_t)r * GC8W_VROW(8));
            (nr == 2 ? gc8w_e2x7 : gc8w_e1x7)(V, U, M);
        } else {
            gc8w_in28(x, H, ty, V);
            gc8w_e1x14(V, U, M);
        }
        if (W == 14)
            gc8w_tail14(nr, M, o, 2 * ty);
        else
            gc8w_tail28(M, o, 2 * ty);
    }
}

/* tc_gc8_wino_fn: one group x [8][h][w] at stride 1, pads 1 on every side, h even, w 14 or 28
 * (conv.c gc8_wino_applies), its output rows [r0, r1) (even), by gc8w_run; the rest as
 * tc_gc8_direct_avx2's */
#define TC_GC8_WINO_ROWS 1 /* tc_gc8_wino_avx2 takes r0, r1 (benchmarks/gc_ab_kernel.c) */
void tc_gc8_wino_avx2(const float *x, int h, int w, ptrdiff_t ldy, const float *w8,
                      const float *bias, const tc_act_k *act, float *y, const char *pf,
                      ptrdiff_t pf_lines, int r0, int r1)
{
    gc8_out o;
    const int defer = gc8_out_init(&o, bias, act, y, ldy, (ptrdiff_t)h * w);
    gc8w_run(x, h, w, w8, &o, pf, pf_lines, r0 / 2, r1 / 2);
    if (defer)
        gc8_deferred(act, y + (ptrdiff_t)r0 * w, ldy, (ptrdiff_t)(r1 - r0) * w);
}

/* gc8_run_edge's bits for a run of R rows x Q pixels from output (oh, ow0): the taps that
 * read a pad (pads pt, pl above and left, at most 1 on every side) */
static inline unsigned gc8_edges(int R, int Q, int S, int h, int w, int pt, int pl, int oh,
                                 int ow0)
{
    unsigned e = 0;
    for (int r = 0; r < R; r++) {
        e |= (oh + r) * S - pt < 0 ? 1u << r : 0;
        e |= (oh + r) * S - pt + 2 >= h ? 4u << r : 0;
    }
    e |= ow0 * S - pl < 0 ? 16u : 0;
    e |= (ow0 + Q - 1) * S - pl + 2 >= w ? 32u : 0;
    return e;
}

/* tc_gc8_avx2 at stride 2 on rows of 14k outputs, reading the group's input x [8][h][w] where
 * it lies, pads pt, pl above and left and at most 1 on every side: no copy into padded planes
 * (the taps that would read a pad left out, gc8_run_edge).  taps: [72], tap t = (c, ki, kj)
 * at (c h + ki) w + kj from output (oh, ow)'s input (2 oh - pt, 2 ow - pl); the rest as
 * tc_gc8_avx2's. */
void tc_gc8_direct_avx2(const float *x, const ptrdiff_t *taps, int h, int w, int pt, int pl,
                        int OH, int OW, ptrdiff_t ldy, const float *w8, const float *bias,
                        const tc_act_k *act, float *y, const char *pf, ptrdiff_t pf_lines)
{
    gc8_out o;
    const int defer = gc8_out_init(&o, bias, act, y, ldy, (ptrdiff_t)OH * OW);
    if (OW == 7) { /* 7x7 at stride 1 or 14x14 at stride 2, pads 1 (conv.c
                    * gc8_direct_applies): gc8_run7, rows 0-1, 2-3, 4-5, 6 */
        (void)taps, (void)h, (void)pt, (void)pl;
        const int s2 = w == 14;
        for (int run = 0; run < 4; run++) {
            if (pf) { /* as tc_gc8_avx2's */
                for (ptrdiff_t l = pf_lines * run / 4; l < pf_lines * (run + 1) / 4; l++)
                    __builtin_prefetch(pf + l * 64, 0, 2);
            }
            /* the run's first tap's input, (S 2 run - 1, -1): only read where inside x */
            const float *x0 = x + (ptrdiff_t)((s2 ? 4 : 2) * run - 1) * w - 1;
            if (run == 0)
                (s2 ? gc8d7_2_top_s2 : gc8d7_2_top_s1)(x0, w8, &o, 0);
            else if (run < 3)
                (s2 ? gc8d7_2_mid_s2 : gc8d7_2_mid_s1)(x0, w8, &o, 2 * run);
            else
                (s2 ? gc8d7_1_bot_s2 : gc8d7_1_bot_s1)(x0, w8, &o, 6);
        }
        if (defer)
            gc8_deferred(act, y, ldy, (ptrdiff_t)OH * OW);
        return;
    }
    /* rows of 14k outputs, a run per 14-pixel chunk of a row: at stride 1 (OW == w; pads 1, 2
     * rows or more: conv.c gc8_direct_applies) every run's edges compiled in (gc8_runq), at
     * stride 2 those on the top row and the left chunk */
    const int s1 = OW == w;
    const ptrdiff_t rs = 2 * (ptrdiff_t)w;
    const int per_row = OW / 14;
    const ptrdiff_t runs = (ptrdiff_t)OH * per_row;
    ptrdiff_t pf_done = 0;
    for (ptrdiff_t run = 0; run < runs; run++) {
        if (pf) { /* as tc_gc8_avx2's */
            const ptrdiff_t to = pf_lines * (run + 1) / runs;
            for (; pf_done < to; pf_done++)
                __builtin_prefetch(pf + pf_done * 64, 0, 2);
        }
        const int oh = (int)(run / per_row), ow0 = (int)(run % per_row) * 14;
        if (s1) {
            const int rk = oh == 0 ? 0 : oh == h - 1 ? 2 : 1;
            const int left = ow0 == 0, right = ow0 + 14 == OW;
            const int ck = left && right ? 0 : left ? 1 : right ? 2 : 3;
            /* the run's first tap's input, (oh - 1, ow0 - 1): only read where inside x */
            gc8d14_of[rk][ck](x + (ptrdiff_t)(oh - 1) * w + ow0 - 1, w, (ptrdiff_t)h * w, w8, &o,
                              OW, oh, ow0);
            continue;
        }
        /* the run's first tap's input, (2 oh - pt, 2 ow0 - pl): only read where inside x */
        const float *x0 = x + (ptrdiff_t)(2 * oh - pt) * w + 2 * ow0 - pl;
        const unsigned e = gc8_edges(1, 14, 2, h, w, pt, pl, oh, ow0);
        if (e == 17u || e == 1u || e == 16u) /* top-left, top, left: edges compiled in */
            (e == 17u ? gc8d14s2_tl : e == 1u ? gc8d14s2_t : gc8d14s2_l)(
                x0, w, (ptrdiff_t)h * w, w8, &o, OW, oh, ow0);
        else if (e)
            gc8e_1x14_s2(x0, rs, taps, w8, &o, OW, oh, ow0, e);
        else
            gc8_1x14_s2(x0, rs, taps, w8, &o, OW, oh, ow0);
    }
    if (defer)
        gc8_deferred(act, y, ldy, (ptrdiff_t)OH * OW);
}

/* x: [8][h][w], one group's input -> xp: [8][hp][wp], x at rows pt.., columns pl..; the
 * zeros around are left as they are (the caller's slot holds them from its first use) */
void tc_gc8_copy_avx2(const float *x, int h, int w, int pt, int pl, int hp, int wp, float *xp)
{
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(w % 8),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int c = 0; c < 8; c++)
        for (int ih = 0; ih < h; ih++) {
            float *d = xp + ((size_t)c * hp + pt + ih) * wp + pl;
            const float *s = x + ((size_t)c * h + ih) * w;
            int i = 0;
            for (; i + 8 <= w; i += 8)
                _mm256_storeu_ps(d + i, _mm256_loadu_ps(s + i));
            if (i < w && w >= 8) /* the last 8 again, over values just stored */
                _mm256_storeu_ps(d + w - 8, _mm256_loadu_ps(s + w - 8));
            else if (i < w)
                _mm256_maskstore_ps(d, m, _mm256_maskload_ps(s, m));
        }
}
