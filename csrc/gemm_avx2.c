/* AVX2/FMA micro-kernels of the packed GEMM (compiled with -mavx2 -mfma; their
 * table, tc_gemm_avx2, is picked for a tc_ctx only when the CPU has AVX2 and
 * FMA).  Portable twins are in gemm.c. */
#include <immintrin.h>
#include <string.h>
#include "epilogue_avx2.h"
#include "gemm_internal.h"
#include "panel16_avx2.h"
#include "transpose_avx2.h"

/* Lane masks for the first nr (0..16) columns of a row: lanes 0-7 and 8-15. */
static inline void col_masks(int nr, __m256i *m0, __m256i *m1)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    *m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
    *m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
}

/* The first n (0..8) lanes of v stored at p, none past them: as 4, 2 and 1 floats, not
 * _mm256_maskstore_ps, which is microcoded on AMD (one cost 7 ns on the Zen 4 host in
 * session 19's rows of 56, an empty mask as much).  2 floats with the integer form, any alignment (the double
 * forms want 8 bytes: UBSan). */
static inline __attribute__((always_inline)) void store_lanes(float *p, __m256 v, int n)
{
    if (n == 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    __m128 h = _mm256_castps256_ps128(v);
    if (n & 4) {
        _mm_storeu_ps(p, h);
        p += 4;
        h = _mm256_extractf128_ps(v, 1);
    }
    if (n & 2) {
        _mm_storel_epi64((__m128i *)(void *)p, _mm_castps_si128(h));
        p += 2;
        h = _mm_movehl_ps(h, h);
    }
    if (n & 1)
        _mm_store_ss(p, h);
}

/* The number of lanes set in a prefix mask (col_masks) */
static inline int mask_lanes(__m256i m)
{
    return __builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m)));
}

/* One row of the epilogue: r0, r1 hold C[i, 0:8], C[i, 8:16].  full: all 16
 * columns exist; otherwise only the lanes of m0, m1 (prefix masks) are read and written
 * (masked-out lanes never fault). */
static inline __attribute__((always_inline)) void store_row(float *ci, __m256 r0, __m256 r1, int i, int flags,
                             const tc_tile_epi *e, int full, __m256i m0, __m256i m1)
{
#define TC_LD(p, m) (full ? _mm256_loadu_ps(p) : _mm256_maskload_ps((p), (m)))
    /* nr <= 8: columns 8.. not read at all (no vmaskmovps load with an empty mask) */
    const int half = !full && mask_lanes(m1) == 0;
#define TC_LD1(p) (half ? _mm256_setzero_ps() : TC_LD((p), m1))
    if (flags & TC_UK_FIRST) {
        if (flags & TC_UK_ACCUM) {
            r0 = _mm256_add_ps(r0, TC_LD(ci, m0));
            r1 = _mm256_add_ps(r1, TC_LD1(ci + 8));
        }
        if (e->bias) {
            __m256 bi = _mm256_broadcast_ss(e->bias + i);
            r0 = _mm256_add_ps(r0, bi);
            r1 = _mm256_add_ps(r1, bi);
        }
        if (e->col_bias) {
            r0 = _mm256_add_ps(r0, TC_LD(e->col_bias, m0));
            r1 = _mm256_add_ps(r1, TC_LD1(e->col_bias + 8));
        }
        if (e->residual) {
            const float *ri = e->residual + i * e->ldr;
            r0 = _mm256_add_ps(r0, TC_LD(ri, m0));
            r1 = _mm256_add_ps(r1, TC_LD1(ri + 8));
        }
    } else {
        r0 = _mm256_add_ps(r0, TC_LD(ci, m0));
        r1 = _mm256_add_ps(r1, TC_LD1(ci + 8));
    }
#undef TC_LD
#undef TC_LD1
    if (flags & TC_UK_LAST) {
        const tc_act_k act = tc_act_at(&e->act, i);
        r0 = tc_act_avx2(act, r0);
        r1 = tc_act_avx2(act, r1);
    }
    if (full) {
        _mm256_storeu_ps(ci, r0);
        _mm256_storeu_ps(ci + 8, r1);
    } else {
        store_lanes(ci, r0, mask_lanes(m0));
        store_lanes(ci + 8, r1, mask_lanes(m1));
    }
}

/* The activations store_tile_fixed takes (the others: store_row, row by row) */
static inline int tc_tile_act_fixed(int kind)
{
    return kind == TC_ACT_NONE || kind == TC_ACT_RELU || kind == TC_ACT_CLIP || kind == TC_ACT_HARD_SWISH;
}

/* ROWS x NR of a tile (ROWS <= MR) with flags FIRST | LAST, no column bias, activation
 * KIND for every row (both constants once inlined): c[i] = act((acc[i] + bias[i]) +
 * residual[i]), store_row's operations in its order. */
static inline __attribute__((always_inline)) void store_tile_fixed(float *c, ptrdiff_t ldc,
                                                                   const __m256 *acc, const int ROWS,
                                                                   const tc_tile_epi *e,
                                                                   const int KIND)
{
    tc_act_k act = {KIND, e->act.alpha, e->act.beta};
    const float *bias = e->bias, *res = e->residual;
    for (int i = 0; i < ROWS; i++) {
        __m256 r0 = acc[2 * i], r1 = acc[2 * i + 1];
        if (bias) {
            const __m256 bi = _mm256_broadcast_ss(bias + i);
            r0 = _mm256_add_ps(r0, bi);
            r1 = _mm256_add_ps(r1, bi);
        }
        if (res) {
            r0 = _mm256_add_ps(r0, _mm256_loadu_ps(res + i * e->ldr));
            r1 = _mm256_add_ps(r1, _mm256_loadu_ps(res + i * e->ldr + 8));
        }
        _mm256_storeu_ps(c + i * ldc, tc_act_avx2(act, r0));
        _mm256_storeu_ps(c + i * ldc + 8, tc_act_avx2(act, r1));
    }
}

/* The whole-panel strips (strip16_fixed) of a 1x1 layer with few output channels over a large
 * map (M <= TC_GEMM_PF_B_MAX_M, B's rows at least TC_GEMM_PF_B_MIN_LDB floats apart: each on
 * its own page, kc >= TC_GEMM_PF_B_MIN_K of them): the first panel of each 16-column strip
 * prefetches, per k, row k of B TC_GEMM_PF_B_INPLACE floats (two strips) ahead.  Such a strip
 * reads kc lines from kc pages and feeds each to few FMAs (16 rows: 32 per line), more streams
 * than the L2 prefetcher follows, so the lines came from L3 as the tiles asked for them
 * (SqueezeNet's squeezes, whose input is the 1.5 MB Concat before them).  The same FMAs: the
 * same bits.  Zen 4, AVX2 kernels, 1 thread, lone layers with bias and ReLU (pointwise_ab.c,
 * 30 rounds x 10, 2026-12-04 07:53, load ~4 on 2 cores), new / old, min (median): 64 -> 16 at
 * 55x55 0.979 (0.919), 128 -> 16 0.958 (0.958); with 8 MB written before each run 0.880
 * (0.810) and 0.868 (0.825).  Tried (same protocol, 15 rounds): up to M = 32 and rows 512
 * floats apart: 128 -> 32 at 27x27 1.02 hot (0.94 evicted), 256 -> 32 1.03 (1.01), 96 -> 24
 * and 144 -> 24 at 56x56 0.98-1.01 (0.91-1.01), 192 -> 32 at 28x28 1.00; 64 floats ahead and
 * the T1 hint: the same within the noise. */
#ifndef TC_GEMM_PF_B_INPLACE
#define TC_GEMM_PF_B_INPLACE 32
#endif
#ifndef TC_GEMM_PF_B_MIN_LDB
#define TC_GEMM_PF_B_MIN_LDB 1024
#endif
/* n34-ir (2026-12-05, Intel Xeon, AVX2 kernels, 1 thread): TC_GEMM_PF_B_MIN_K 32, which takes
 * the stem block's 32 -> 16 projection (B: the band's depthwise output, rows 1344 floats apart,
 * from L2), benchmarks/sf_ab.c on MobileNetV2's block (32 MB read before each call, 300 rounds,
 * each order) 1.025 [0.988-1.066] and 1.007 of this: not taken. */
#ifndef TC_GEMM_PF_B_MIN_K
#define TC_GEMM_PF_B_MIN_K 64
#endif
/* h46-v3 (2026-12-06, Xeon KVM guest, AVX2, 2 threads, loaded host), TC_GEMM_PF_B_MAX_M 48 and
 * TC_GEMM_PF_B_MIN_LDB 512 (benchmarks/gemm_pf_b_mt.patch): for the 28x28 projections after an
 * SE at 2 threads, whose x the pair's strips left half in the other core's cache (120 -> 40
 * scaled: 78 us at 1 thread, 72-74 at 2 in MobileNetV3-Large, 48 alone with x warm, 57.5 with
 * x rewritten by both threads; benchmarks/xcore_1x1_ab.py).  Alone with x rewritten, new /
 * base (25th percentile): 120 -> 40 0.987, 72 -> 40 0.916, 64 -> 24 at 56x56 0.831; 1 thread
 * 1.00.  Inside the network (env_steps_ab.py --fifo, 8 processes each order, step minima)
 * features.4 / .5 / .6's projections 0.923 / 0.953 / 0.947 and (reversed) 0.920 / 0.998 /
 * 1.003; whole runs (ab_threads.py --fifo, 30 x 10) MobileNetV3-Large 0.998 [0.983-1.019],
 * -Small 1.036, 1.012, 1.010: not a gain, not kept. */
#ifndef TC_GEMM_PF_B_MAX_M
#define TC_GEMM_PF_B_MAX_M 16
#endif
/* Prefetch the 16 floats of rows [0, min(rows, mr)) of p (row stride ld): C or the residual
 * an epilogue will read and write.  rows a constant: unrolled, those past mr skipped (a
 * shallow tile's loop cost as much as its prefetches). */
static inline __attribute__((always_inline)) void prefetch_rows16(const float *p, ptrdiff_t ld,
                                                                   int rows, int mr)
{
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++) {
        if (i < mr) {
            _mm_prefetch((const char *)(p + i * ld), _MM_HINT_T0);
            _mm_prefetch((const char *)(p + i * ld + NR - 1), _MM_HINT_T0);
        }
    }
}

/* Each whole panel of strip16_fixed (its first K block) also prefetches (prefetcht0) its
 * rows of C TC_GEMM_PF_C_AHEAD floats (two strips) further along: the
 * lines of a C that comes from memory are asked for a strip or two before the stores need
 * them.  In the networks most outputs are lines no step touched since the run before (the
 * arena is larger than what L3 keeps of it beside the weights and the other processes):
 * EfficientNet-B0's features.1 projection (32 -> 16 at 112x112) took 266 us there against
 * 152-172 alone or in the cut block, and 207-279 alone with only y evicted.  The prefetch
 * before the tile (prefetch_rows16) comes too late for memory.  Zen 4, AVX2 kernels, 1
 * thread, pointwise_ab.c (15-20 rounds x 10, bias only, 2026-12-04 15:0x, host load 10-45),
 * x warm and 64 MB written before each run, with / without, min (median): 32 -> 16 at
 * 112x112 0.76 (0.67), 16 -> 96 0.64 (0.66), 32 -> 48 0.80 (0.81), 96 -> 24 at 56x56 1.02
 * (0.94); hot: 1.00-1.03 (medians 0.74-1.04, noise); the 14x14 and 7x7 list with Clip, hot,
 * medians 0.95-1.03.  64 floats ahead against 32: the same within the noise.  The same FMAs
 * and stores: the same bits.  In EfficientNet-B0 (per step, both builds profiled in one
 * process, 40 rounds x 5 runs, median, host load 7-10): features.1's projection 0.84 (287
 * against 342 us), features.2.0's and 2.1's expansion steps 0.97 and 0.95, the rest
 * 0.97-1.04 (noise), all steps 0.998; whole networks (subgraph_shapes.py --against the
 * base, 1 thread, median [25-75%]): EfficientNet-B0 0.987 [0.950-1.053] (31 rounds) and
 * 0.992 [0.955-1.015] (61), MobileNetV3-Small 0.989 [0.928-1.109] and 1.003 [0.976-1.047],
 * bit-identical: within the noise of this loaded host. */
/* Re-measured on the Intel Xeon host (Sapphire Rapids class, 2 MiB L2; n32-mnas, 2026-12-05,
 * AVX2 kernels, 1 thread, pointwise_ab.c, 12 rounds x 10, Clip, x warm and 8 MB written before
 * each run, host load ~9): the 7x7 and 14x14 layers of MnasNet (192 <-> 1152, 1152 -> 320,
 * 320 -> 1280, 96 <-> 576, 80 <-> 480), variant / this build, medians per shape: TC_GEMM_MC 240
 * 0.98-1.00, TC_GEMM_PF_A_INPLACE 1024 0.99-1.01, TC_GEMM_PF_C_AHEAD 64 1.00-1.03: the
 * constants stay.  Inside MnasNet, whose weights came from memory (h38-mn, 2026-12-05, the
 * classifier at memory speed, cold_steps.py: the 7x7 blocks 12.1-13.0 +54-76 us over warm,
 * layers.14 +40), steps_ab.py 30 rounds x 5, each order, variant / base and base / variant:
 * TC_GEMM_PF_A_INPLACE 1024 blocks 12.0-12.3 0.982-0.998 / layers.12 1.003, 13.0 0.993 /
 * 1.004, layers.14 1.000 / 0.993; 2048 layers.12 0.979 [0.476-1.067] / 1.005, 13.0 1.003 /
 * 0.999, layers.14 1.007 / 0.993: under 1%, level. */
#ifndef TC_GEMM_PF_C_AHEAD
#define TC_GEMM_PF_C_AHEAD 32
#endif
/* ... only where C's rows are at least this many floats apart (maps of 56x56 and more, a whole
 * layer's output: the lines the prefetch was measured for above); 0: every panel.  The 28x28,
 * 14x14 and 7x7 layers and the fused bands' slots (rows of 224-448 floats) write lines L2
 * still holds, and there the 12 prefetches a 6x16 tile cost more than they hide.  h52-mv (AMD
 * EPYC Zen 4, AVX2 kernels, 1 thread, pointwise_ab.c, 15-20 rounds x 10, 2026-12-07 16:5x, host
 * load 20-30, the same bits), 2048 / 0, min (median): 32 -> 192 at 28x28 0.968 (0.972), 64 ->
 * 384 at 14x14 0.987 (0.987), 24 -> 144 at 14x14 0.972 (0.972), 192 -> 32 / 64 at 28x28, 384
 * -> 64, 576 -> 96 at 14x14, 960 -> 160 and 320 -> 1280 at 7x7 0.992-1.003; with 8 MB written
 * before each run (x read back) 0.963 / 0.990 / 0.972 / 0.992-0.993: no layer lost where its C
 * came from L3 either.  Cut from the networks (subgraph_shapes.py against the base, 41 rounds,
 * each order, geometric mean): MobileNetV2's features.3 (its bands' 24 -> 144 expansion) 0.985,
 * MnasNet's layers.8.1-8.2 0.988; whole networks (31 and 61 rounds, each order) MobileNetV2
 * 1.004 and 0.990, MnasNet 1.000 and 1.001, where the base against itself read 0.985 / 1.003:
 * level there (the affected tiles are a few % of a run).  On the Zen 3 target, whose 512 KiB L2
 * holds less of a 28x28 layer's C (h53-l2, 2026-12-07, 1 thread, pointwise_ab.c, 15 rounds,
 * Clip, the same bits), 512 (the 28x28 layers prefetching too) / 2048: 1.00-1.02 on nine 28x28
 * layers of the networks (sum of minima 1.016; with 8 MB written before each run 1.010): kept. */
#ifndef TC_GEMM_PF_C_AHEAD_MIN_LDC
#define TC_GEMM_PF_C_AHEAD_MIN_LDC 2048
#endif

/* a: [kc][6]  b: row k at b + k ldb (packed: ldb = 16)  c: [mr, nr] (leading
 * dimension ldc).  12 ymm accumulators, 2 for B, 1 for the A broadcast.
 * masked: B read in place with only its columns [0, nr) loaded.
 * extra: B in place with 17 columns, nr == 17: the 17th (a 7x7 map's 49 = 3 x 16 + 1) in
 * a 13th accumulator with the rows in its lanes, the A panel row times that column's
 * value, instead of a 6x8 tile of its own (6 dependent chains of FMAs: 2/3 of a 6x16
 * tile's time for one column).  Each of its outputs is the same FMA sequence over k. */
static inline __attribute__((always_inline)) void tile_6x16_avx2(
    int kc, const float *a, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int mr,
    int nr, int flags, const tc_tile_epi *e, int pf_a, const int masked, const int rows,
    const int extra)
{
    __m256i bm0 = _mm256_setzero_si256(), bm1 = _mm256_setzero_si256();
    if (masked)
        col_masks(nr, &bm0, &bm1);
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

#define TC_STEP(off_a, off_b)                                                                     \
    do {                                                                                          \
        __m256 b0 = masked ? _mm256_maskload_ps(b + (off_b), bm0) : _mm256_loadu_ps(b + (off_b)); \
        __m256 b1 = masked ? _mm256_maskload_ps(b + (off_b) + 8, bm1)                             \
                           : _mm256_loadu_ps(b + (off_b) + 8);                                    \
        __m256 av;                                                                                \
        if (rows > 0) {                                                                          \
            av = _mm256_broadcast_ss(a + (off_a) + 0);                                            \
            c00 = _mm256_fmadd_ps(av, b0, c00);                                                   \
            c01 = _mm256_fmadd_ps(av, b1, c01);                                                   \
        }                                                                                         \
        if (rows > 1) {                                                                          \
            av = _mm256_broadcast_ss(a + (off_a) + 1);                                            \
            c10 = _mm256_fmadd_ps(av, b0, c10);                                                   \
            c11 = _mm256_fmadd_ps(av, b1, c11);                                                   \
        }                                                                                         \
        if (rows > 2) {                                                                          \
            av = _mm256_broadcast_ss(a + (off_a) + 2);                                            \
            c20 = _mm256_fmadd_ps(av, b0, c20);                                                   \
            c21 = _mm256_fmadd_ps(av, b1, c21);                                                   \
        }                                                                                         \
        if (rows > 3) {                                                                          \
            av = _mm256_broadcast_ss(a + (off_a) + 3);                                            \
            c30 = _mm256_fmadd_ps(av, b0, c30);                                                   \
            c31 = _mm256_fmadd_ps(av, b1, c31);                                                   \
        }                                                                                         \
        if (rows > 4) {                                                                          \
            av = _mm256_broadcast_ss(a + (off_a) + 4);                                            \
            c40 = _mm256_fmadd_ps(av, b0, c40);                                                   \
            c41 = _mm256_fmadd_ps(av, b1, c41);                                                   \
        }                                                                                         \
        if (rows > 5) {                                                                          \
            av = _mm256_broadcast_ss(a + (off_a) + 5);                                            \
            c50 = _mm256_fmadd_ps(av, b0, c50);                                                   \
            c51 = _mm256_fmadd_ps(av, b1, c51);                                                   \
        }                                                                                         \
    } while (0)

    /* The epilogue reads C (partial sums of earlier K blocks, often from L3)
     * and the residual, and writes C (first touch of a large output misses
     * all caches): start fetching them now, they land during the FMA loop. */
    if (kc >= TC_GEMM_PF_C_MIN_K)
        prefetch_rows16(c, ldc, rows, mr);
    if ((flags & TC_UK_FIRST) && e->residual)
        prefetch_rows16(e->residual, e->ldr, rows, mr);
    __m256 cx = _mm256_setzero_ps(); /* extra: column 16, rows in lanes 0..5 */
    /* A plain loop: gcc allocates the 12 accumulators without spills (a
     * hand-unrolled body spilled and ran ~8% slower).  packed A is one stream (a K
     * block of tc_gemm_pack_a_f32, a plane of Winograd's weights): pf_a ahead runs on
     * into the next panel, and cold weights arrive in time.  pf_a == 0: A is in L1
     * already (the driver's later column tiles over a small A block), no prefetch: at
     * kc = 16 the prefetch is one of ~21 instructions per step (TC_GEMM_PF_A_L1_BYTES). */
#define TC_KLOOP(PF)                                                                              \
    _Pragma("GCC unroll 4") for (int k = 0; k < kc - extra; k++)                                 \
    {                                                                                             \
        if (PF)                                                                                   \
            _mm_prefetch((const char *)(a + pf_a), _MM_HINT_T0);                                  \
        TC_STEP(0, 0);                                                                            \
        if (extra) /* lanes 6, 7: the next row of A, never stored */                              \
            cx = _mm256_fmadd_ps(_mm256_loadu_ps(a), _mm256_broadcast_ss(b + NR), cx);            \
        a += MR;                                                                                  \
        b += ldb;                                                                                 \
    }
    if (pf_a) {
        TC_KLOOP(1)
    } else {
        TC_KLOOP(0)
    }
#undef TC_KLOOP
    if (extra) {
        /* the last row of the panel: nothing read past it */
        TC_STEP(0, 0);
        const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
        cx = _mm256_fmadd_ps(_mm256_maskload_ps(a, six), _mm256_broadcast_ss(b + NR), cx);
        float col[8];
        _mm256_storeu_ps(col, cx);
        const tc_tile_epi ex = tc_tile_epi_shift(e, 0, NR);
        tc_tile_store(col, 1, c + NR, ldc, mr, 1, flags, &ex);
        nr = NR;
    }
#undef TC_STEP

    if (flags == (TC_UK_FIRST | TC_UK_LAST) && mr == MR && nr == NR && !e->bias && !e->col_bias &&
        !e->residual && e->act.kind == TC_ACT_NONE) {
        /* a whole tile without epilogue (Winograd's products, kc = C): plain
         * stores, no per-row tests, which are ~4% of a 64-channel layer */
        _mm256_storeu_ps(c + 0 * ldc, c00);
        _mm256_storeu_ps(c + 0 * ldc + 8, c01);
        _mm256_storeu_ps(c + 1 * ldc, c10);
        _mm256_storeu_ps(c + 1 * ldc + 8, c11);
        _mm256_storeu_ps(c + 2 * ldc, c20);
        _mm256_storeu_ps(c + 2 * ldc + 8, c21);
        _mm256_storeu_ps(c + 3 * ldc, c30);
        _mm256_storeu_ps(c + 3 * ldc + 8, c31);
        _mm256_storeu_ps(c + 4 * ldc, c40);
        _mm256_storeu_ps(c + 4 * ldc + 8, c41);
        _mm256_storeu_ps(c + 5 * ldc, c50);
        _mm256_storeu_ps(c + 5 * ldc + 8, c51);
        return;
    }
    if (mr == rows && flags == (TC_UK_FIRST | TC_UK_LAST) && nr == NR && !e->col_bias &&
        tc_tile_act_fixed(e->act.kind)) {
        /* all NR columns of the tile's rows (rows, a constant), one activation for
         * every row: store_row's operations with the kind a constant per case, so
         * its switch and the per-row flag and activation lookups fold away (a third
         * of a shallow tile's instructions: 16 -> 64 at kc = 16) */
        const __m256 acc[2 * MR] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
        switch (e->act.kind) {
        case TC_ACT_NONE:
            store_tile_fixed(c, ldc, acc, rows, e, TC_ACT_NONE);
            break;
        case TC_ACT_RELU:
            store_tile_fixed(c, ldc, acc, rows, e, TC_ACT_RELU);
            break;
        case TC_ACT_CLIP:
            store_tile_fixed(c, ldc, acc, rows, e, TC_ACT_CLIP);
            break;
        default:
            store_tile_fixed(c, ldc, acc, rows, e, TC_ACT_HARD_SWISH);
            break;
        }
        return;
    }
    /* rows past mr are never touched; a partial tile (the last row or column
     * panel) stores with masks instead of falling back to scalar code */
    const int full = nr == NR;
    __m256i m0 = _mm256_setzero_si256(), m1 = _mm256_setzero_si256();
    if (!full)
        col_masks(nr, &m0, &m1);
    store_row(c + 0 * ldc, c00, c01, 0, flags, e, full, m0, m1);
    if (mr > 1)
        store_row(c + 1 * ldc, c10, c11, 1, flags, e, full, m0, m1);
    if (mr > 2)
        store_row(c + 2 * ldc, c20, c21, 2, flags, e, full, m0, m1);
    if (mr > 3)
        store_row(c + 3 * ldc, c30, c31, 3, flags, e, full, m0, m1);
    if (mr > 4)
        store_row(c + 4 * ldc, c40, c41, 4, flags, e, full, m0, m1);
    if (mr > 5)
        store_row(c + 5 * ldc, c50, c51, 5, flags, e, full, m0, m1);
}

/* a: [kc][6]  b: row k at b + k ldb (first 8 columns used; masked: only [0, nr))
 * c: [mr, nr <= 8].  For the narrow last column panel of small images. */
static inline __attribute__((always_inline)) void tile_6x8_avx2(
    int kc, const float *a, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int mr,
    int nr, int flags, const tc_tile_epi *e, const int masked, const int rows)
{
    __m256i bm0, bm1;
    col_masks(nr, &bm0, &bm1);
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps();
    __m256 c3 = _mm256_setzero_ps(), c4 = _mm256_setzero_ps(), c5 = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m256 b0 = masked ? _mm256_maskload_ps(b, bm0) : _mm256_loadu_ps(b);
        if (rows > 0)
            c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 0), b0, c0);
        if (rows > 1)
            c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b0, c1);
        if (rows > 2)
            c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b0, c2);
        if (rows > 3)
            c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b0, c3);
        if (rows > 4)
            c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4), b0, c4);
        if (rows > 5)
            c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 5), b0, c5);
        a += MR;
        b += ldb;
    }
    /* bm1 is all clear: nr <= 8 */
    const __m256 z = _mm256_setzero_ps();
    store_row(c + 0 * ldc, c0, z, 0, flags, e, 0, bm0, bm1);
    if (mr > 1)
        store_row(c + 1 * ldc, c1, z, 1, flags, e, 0, bm0, bm1);
    if (mr > 2)
        store_row(c + 2 * ldc, c2, z, 2, flags, e, 0, bm0, bm1);
    if (mr > 3)
        store_row(c + 3 * ldc, c3, z, 3, flags, e, 0, bm0, bm1);
    if (mr > 4)
        store_row(c + 4 * ldc, c4, z, 4, flags, e, 0, bm0, bm1);
    if (mr > 5)
        store_row(c + 5 * ldc, c5, z, 5, flags, e, 0, bm0, bm1);
}

/* The tiles for R = mr rows (1..MR) as a constant, one function each: a tile of a last row
 * panel (M = 32 rows: 6, 6, 6, 6, 6, 2) runs the FMAs of its mr rows only, not MR
 * (MobileNetV2's projections to 32 channels, EfficientNet's to 40, and 16, 64, 112, 160:
 * 1/9 to 2/3 of the last panel's FMAs were on zero rows of A).  Each output's FMA sequence
 * is unchanged: the same bits.  B row k at b + k ldb: packed (ldb = NR), or in place with
 * masked loads of its columns [0, nr) (_m); tile8: the first 8 columns only;
 * _p: packed, ldb = NR known to the compiler (its offsets fold into the unrolled loop). */
/* with 24 tiles gcc stops inlining the activation into their epilogues, and the call
 * spills the accumulators: flatten keeps it inline, as in one tile before */
#define TC_FLAT __attribute__((flatten))
typedef void (*tile_rows_fn)(int kc, const float *a, const float *b, ptrdiff_t ldb, float *c,
                             ptrdiff_t ldc, int mr, int nr, int flags, const tc_tile_epi *e,
                             int pf_a);
/* tile16_r (B in place, 16 columns), tile16_m_r (in place, masked), tile16_p_r (packed),
 * tile17_r (in place, 17 columns) */
#define TC_TILE16(NAME, R, LDB, MASKED, EXTRA)                                                    \
    static TC_FLAT void NAME##_r##R(int kc, const float *a, const float *b, ptrdiff_t ldb,         \
                                    float *c, ptrdiff_t ldc, int mr, int nr, int flags,            \
                                    const tc_tile_epi *e, int pf_a)                                \
    {                                                                                              \
        (void)ldb;                                                                                 \
        tile_6x16_avx2(kc, a, b, LDB, c, ldc, mr, nr, flags, e, pf_a, MASKED, R, EXTRA);         \
    }
#define TC_TILES_OF_ROWS(R)                                                                        \
    TC_TILE16(tile16, R, ldb, 0, 0)                                                                \
    TC_TILE16(tile16_m, R, ldb, 1, 0)                                                              \
    TC_TILE16(tile16_p, R, NR, 0, 0)                                                               \
    TC_TILE16(tile17, R, ldb, 0, 1)                                                                \
    static TC_FLAT void tile8_p_r##R(int kc, const float *a, const float *b, ptrdiff_t ldb,         \
                                     float *c, ptrdiff_t ldc, int mr, int nr, int flags,           \
                                     const tc_tile_epi *e, int pf_a)                               \
    {                                                                                              \
        (void)ldb;                                                                                 \
        (void)pf_a;                                                                                \
        tile_6x8_avx2(kc, a, b, NR, c, ldc, mr, nr, flags, e, 0, R);                               \
    }                                                                                              \
    static TC_FLAT void tile8_m_r##R(int kc, const float *a, const float *b, ptrdiff_t ldb, float *c,      \
                             ptrdiff_t ldc, int mr, int nr, int flags, const tc_tile_epi *e,       \
                             int pf_a)                                                             \
    {                                                                                              \
        (void)pf_a;                                                                                \
        tile_6x8_avx2(kc, a, b, ldb, c, ldc, mr, nr, flags, e, 1, R);                              \
    }
TC_TILES_OF_ROWS(1)
TC_TILES_OF_ROWS(2)
TC_TILES_OF_ROWS(3)
TC_TILES_OF_ROWS(4)
TC_TILES_OF_ROWS(5)
TC_TILES_OF_ROWS(6)
#undef TC_TILES_OF_ROWS
#undef TC_TILE16

/* One R-row panel (R <= MR, a constant) of strip16_fixed: acc from zero, k ascending, then
 * the epilogue with its constants.  ADD_C: a later K block, c = act(acc + C) (store_row's
 * order without FIRST); else c = act((acc + bias) + residual).
 * Tried and left (n31-pf, Zen 4, AVX2 kernels, 1 thread, thread CPU time, 2026-12-04 21:0x-21:3x;
 * hooks in benchmarks/next_pf.patch, drivers next_pf_ab.c and next_pf_net.py): this K loop also
 * prefetching the NEXT step's weights (a classifier's, read once a run from L3 or memory: its
 * GEMV's in-network excess over warm is MobileNetV2's largest, 134 / 62 us, V3-Large's two
 * 157 / 74 and 169 / 61 us, cold_steps.py), one line every 1 / 2 / 4 / 8 k steps.  The layer before
 * the classifier (320 -> 1280 at 7x7) then the GEMV (1280 -> 1000, 5.1 MB) with 64 MB written
 * first (weights in memory), median of 30-40 rounds, layer + GEMV: none 401 + 278 us, every 2nd
 * k 556 + 118, every 4th 465 + 201, every 8th 438 + 239: what the GEMV saves the layer pays, at
 * every rate and hint (T0 / T1 / T2 / NTA alike; prefetching 2 lines per 4 KiB page and leaving
 * the rest to the L2 streamer: layer +130 us, GEMV -85).  The core's misses in flight bound
 * both.  The GEMV's weights in L3 instead (read after the eviction, 4 MB of other data after
 * them): none 384 + 115, every 2nd k 404 + 68 (total 0.94), every 4th 397 + 85.  Inside the
 * networks (next_pf_net.py, one session, 25 rounds, the run's total per round, median
 * [25-75%]): MobileNetV2's features.18 prefetching the classifier, every 2nd k, 0.996
 * [0.990-1.001] and 0.998 [0.987-1.004] (step +12-15 us, classifier 138 -> 96 us); every k
 * 0.999; V3-Large's features.16 (160 -> 960 at 7x7) prefetching classifier.0 0.994
 * [0.985-1.008] (+4.5, 139 -> 116 us); RegNetY's last 1x1 prefetching its fc 0.998
 * [0.991-1.003] (+5.5, 53 -> 29 us).  Under 1% where the per-round noise is 1%: not taken (it
 * needs a prefetch range carried from the planner through tc_conv2d to this loop).  After the
 * per-call bursts (the GEMM driver prefetching N lines after each tile call: 22 calls at 7x7)
 * the layer paid the whole fetch too (512 lines a call: +24 us, GEMV -17).
 * Again on the Intel Xeon host (h39-mn, 2 MiB L2, 300 MB L3, 2026-12-06; next_pf_ab.c FLUSH=1:
 * both weights flushed from the caches before each round, T2, 40 rounds, median layer + GEMV
 * us): none 567 + 400; every 2nd k 692 + 335 (68480 of the 80000 lines), every 4th 602 + 360,
 * every 8th 571 + 375 (total 0.98, inside the rounds' spread), 512 lines a tile call 604 + 383:
 * what the GEMV saves the layer pays, and lines prefetched past L2's 2 MiB did not wait in L3
 * for the GEMV (335 us where from L3 it takes 185-220).  There MnasNet's classifier found its
 * weights in L3 when tinycnn ran alone (cold_steps.py: 210 us against 202 warm) and in memory
 * only with onnxruntime's session running between the bursts (cold_steps.py --ort, bench.py's
 * 1-thread method: 405 us), so the planner's reads_next through MnasNet's ReduceMean to
 * layers.14 was not built. */
static inline __attribute__((always_inline)) void panel16_fixed(
    int kc, const float *a, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
    const float *bias, const float *res, ptrdiff_t ldr, tc_act_k act, int pf_a, int pf_b,
    const int R, const int HAS_BIAS, const int HAS_RES, const int ADD_C)
{
    __m256 acc[2 * MR];
#pragma GCC unroll 12
    for (int j = 0; j < 2 * R; j++)
        acc[j] = _mm256_setzero_ps();
    if (kc >= TC_GEMM_PF_C_MIN_K)
        prefetch_rows16(c, ldc, R, R);
#if TC_GEMM_PF_C_AHEAD
    if (!ADD_C && (TC_GEMM_PF_C_AHEAD_MIN_LDC == 0 || ldc >= TC_GEMM_PF_C_AHEAD_MIN_LDC))
        prefetch_rows16(c + TC_GEMM_PF_C_AHEAD, ldc, R, R);
#endif
    if (HAS_RES)
        prefetch_rows16(res, ldr, R, R);
    TC_PANEL16_K();
    /* Tried and left (h36-gemm, Intel Xeon, AVX2 kernels, 1 thread, pointwise_ab.c 15 rounds x
     * 10, both orders, 2026-12-05): A's prefetch every 2nd k step (48 bytes: every line still
     * asked for, half the prefetch uops), same bits: 1152 -> 192 / 320 and 320 -> 1280 and
     * 960 -> 160 at 7x7, 576 -> 96, 480 -> 80, 672 -> 112 at 14x14, sums of minima 1.001 and
     * 0.995 (per shape 0.99-1.02): level.  These strips already run at 102-107 GF/s of the
     * 110 (fma_peak.c) there, hot: the K loop is FMA-bound (perf annotate: samples even over
     * it, none piled on a load). */
    TC_PANEL16_STORE();
}

/* np whole 6x16 tiles of one 16-column strip of B in place (tile16_panels's) for one K block
 * (flags FIRST | LAST until s26: see below) and no column bias, with a bias or none, a residual or none and one
 * activation KIND of tc_tile_act_fixed, all three constants: a small loop of its own, where
 * tile_6x16_avx2's general epilogue (per-row tests, row addresses reloaded from the stack: a
 * third of a 16 -> 64 layer's samples outside its K loop, perf on Zen 3) cost as much as a few
 * k steps.  Each output the same FMA sequence (from zero, k ascending) and store_tile_fixed's
 * operations in its order: the same bits.  Zen 3, native, 1 thread, lone layers with bias and
 * ReLU or Clip (pointwise_ab.c, median of 200-300 alternating pairs, 2026-12-03 17:3x, load
 * 6-8 on 2 cores), against the tiles (both without C's prefetch below K = 40): 16 -> 64 at 28x28
 * 0.93 and 0.89, at 55x55 0.89, 16 -> 72 at 56x56 0.85, 16 -> 96 at 112x112 0.89, 24 -> 144
 * at 56x56 0.89, 24 -> 72 0.91, 32 -> 48 at 112x112 0.93, 32 -> 16 0.95; 40 -> 240 at 28x28
 * 0.91, 48 -> 48 at 56x56 0.92, 64 -> 64 at 28x28 0.93, 96 -> 576 at 14x14 0.95; the 14x14
 * and 7x7 layers of pointwise_ab.c's default list 0.92-1.00 of the base, none slower beyond
 * the noise (7x7 maps run the 16 + 17-column tiles, not this).  With TC_GEMM_PF_C_MIN_K, whole
 * networks in one process against the base (subgraph_shapes.py --against, 12-20 rounds, median
 * [25-75%], 17:56-18:05, load 6-8): SqueezeNet 0.964 [0.882-1.025], MobileNetV2 0.956
 * [0.916-0.993], MnasNet 0.973 [0.958-1.006], V3-Small 0.976 [0.926-1.078], RegNetY 0.986
 * [0.874-1.033], EfficientNet-B0 0.904 [0.806-1.017], V3-Large 0.967 [0.940-0.992] (a first
 * run in a slow spell 1.08 [1.00-1.17]), ResNet-50 1.007 [0.917-1.047], ShuffleNetV2 0.997.
 * s26: also the K blocks of a deep sum (K > TC_GEMM_KC: the first adds bias and residual, the
 * later ones C, the last the activation; ADD_C), and a last panel of 4 or 2 rows (R), which
 * tile16_r4 / tile16_r2 ran with store_tile_fixed already: there only the call and the runtime
 * bias / residual tests go.  Same bits (pointwise_ab.c, every shape).  Zen 4, AVX2 kernels, 1
 * thread: instructions (callgrind, tc_conv2d_f32 inclusive, new / old) 384 -> 64 at 14x14 0.966,
 * 672 -> 112 0.973, 480 -> 80 0.971, 576 -> 96 0.974, 960 -> 160 at 7x7 0.986, 960 -> 320 0.986,
 * 1152 -> 192 0.986; tails 32 -> 16 at 112x112 0.992, 240 -> 40 at 28x28 0.999, 192 -> 32 0.999;
 * but 24 -> 144 at 56x56 1.005 and 16 -> 48 at 112x112 1.007 (ukernel_inplace_avx2's per-strip
 * work; the tails inside the whole panels' function cost their loop 3% more).  Time (pointwise_ab.c,
 * 30 rounds x 10, median new / old, 2026-12-04 03:18, load ~3 on 2 cores): the K-split layers
 * 0.984-0.994 (576 -> 96 1.000), 240 -> 40 0.995, 32 -> 16 1.008, 24 -> 144 1.012 (noise
 * +-1%).  Whole networks (subgraph_shapes.py --against, 30 rounds, median [25-75%], 03:21):
 * MobileNetV2 0.993 [0.955-1.002], MnasNet 0.990 [0.962-1.008], EfficientNet-B0 0.992
 * [0.966-1.022], V3-Large 1.000 [0.983-1.028], bit-identical. */
static inline __attribute__((always_inline)) void strip16_fixed(
    int kc, const float *a, ptrdiff_t astride, int np, const float *b, ptrdiff_t ldb, float *c,
    ptrdiff_t ldc, const float *bias, const float *res, ptrdiff_t ldr, tc_act_k act, int pf_a,
    int pf_b, const int R, const int HAS_BIAS, const int HAS_RES, const int ADD_C, const int KIND)
{
    act.kind = KIND;
    for (int p = 0; p < np; p++, a += astride, c += MR * ldc, res += HAS_RES ? MR * ldr : 0)
        panel16_fixed(kc, a, b, ldb, c, ldc, HAS_BIAS ? bias + p * MR : NULL, res, ldr, act, pf_a,
                      p ? 0 : pf_b, R, HAS_BIAS, HAS_RES, ADD_C);
}

/* strip16_fixed's kernels: np whole panels (R = MR), or one panel of 4 or 2 rows (the last
 * of M = 16, 40, 64, 112, 160 or 32, 80, 320 rows; np = 1), a function of its own: in the
 * strip's function it cost the whole panels' loop 3% more instructions (registers) */
typedef void (*strip16_fn)(int kc, const float *a, ptrdiff_t astride, int np, const float *b,
                           ptrdiff_t ldb, float *c, ptrdiff_t ldc, const float *bias,
                           const float *res, ptrdiff_t ldr, tc_act_k act, int pf_a, int pf_b);
#define TC_STRIP(NAME, R, HAS_BIAS, HAS_RES, ADD_C, KIND)                                          \
    static __attribute__((flatten)) void NAME(int kc, const float *a, ptrdiff_t astride, int np,   \
                                              const float *b, ptrdiff_t ldb, float *c,             \
                                              ptrdiff_t ldc, const float *bias, const float *res,  \
                                              ptrdiff_t ldr, tc_act_k act, int pf_a, int pf_b)     \
    {                                                                                              \
        strip16_fixed(kc, a, astride, np, b, ldb, c, ldc, bias, res, ldr, act, pf_a, pf_b, R,      \
                      HAS_BIAS, HAS_RES, ADD_C, KIND);                                             \
    }
#define TC_STRIPS_R(KN, R, KIND)                                                                   \
    TC_STRIP(strip16_##R##_##KN, R, 0, 0, 0, KIND)                                                 \
    TC_STRIP(strip16_##R##_b_##KN, R, 1, 0, 0, KIND)                                               \
    TC_STRIP(strip16_##R##_r_##KN, R, 0, 1, 0, KIND)                                               \
    TC_STRIP(strip16_##R##_br_##KN, R, 1, 1, 0, KIND)                                              \
    TC_STRIP(strip16_##R##_c_##KN, R, 0, 0, 1, KIND)
#define TC_STRIPS(KN, KIND)                                                                        \
    TC_STRIPS_R(KN, 6, KIND)                                                                       \
    TC_STRIPS_R(KN, 4, KIND)                                                                       \
    TC_STRIPS_R(KN, 2, KIND)
TC_STRIPS(none, TC_ACT_NONE)
TC_STRIPS(relu, TC_ACT_RELU)
TC_STRIPS(clip, TC_ACT_CLIP)
TC_STRIPS(hswish, TC_ACT_HARD_SWISH)
#undef TC_STRIPS
#undef TC_STRIPS_R
#undef TC_STRIP
#define TC_STRIP_ROW(R, KN)                                                                        \
    {strip16_##R##_##KN, strip16_##R##_b_##KN, strip16_##R##_r_##KN, strip16_##R##_br_##KN,        \
     strip16_##R##_c_##KN}
#define TC_STRIP_KINDS(R)                                                                          \
    {TC_STRIP_ROW(R, none), TC_STRIP_ROW(R, relu), TC_STRIP_ROW(R, clip), TC_STRIP_ROW(R, hswish)}
/* [rows: 6, 4, 2][kind: none, ReLU, Clip, HardSwish][epilogue: -, bias, residual, both, C] */
static const strip16_fn strip16_of[3][4][5] = {TC_STRIP_KINDS(6), TC_STRIP_KINDS(4),
                                               TC_STRIP_KINDS(2)};
#undef TC_STRIP_KINDS
#undef TC_STRIP_ROW

/* The strip16_fixed kernel of this K block's epilogue for panels of 6, 4 or 2 rows (r: 0, 1,
 * 2), or NULL (tile16_panels): the first block (FIRST, not ACCUM) adds the bias and residual,
 * a later one (not FIRST) adds C; the activation only in the last (LAST) */
static strip16_fn strip16_pick(int flags, const tc_tile_epi *e, int r)
{
    if (e->col_bias || (flags & TC_UK_ACCUM))
        return NULL;
    const int v = flags & TC_UK_FIRST ? (e->bias != NULL) + 2 * (e->residual != NULL) : 4;
    switch (flags & TC_UK_LAST ? e->act.kind : TC_ACT_NONE) {
    case TC_ACT_NONE: return strip16_of[r][0][v];
    case TC_ACT_RELU: return strip16_of[r][1][v];
    case TC_ACT_CLIP: return strip16_of[r][2][v];
    case TC_ACT_HARD_SWISH: return strip16_of[r][3][v];
    default: return NULL;
    }
}

/* np whole 6x16 tiles of one 16-column strip of B in place: A panels at a + p astride, C rows
 * p MR.. (the epilogue's row data offset so).  One call for the strip's whole panels, where a
 * call per tile paid its prologue and epilogue (saved registers, the realigned stack, the
 * arguments; ~35 cycles, a quarter of a 6x16 tile's time at kc = 16) on every tile.  Each
 * output the same FMA sequence and epilogue as tile16_r6's: the same bits. */
static TC_FLAT void tile16_panels(int kc, const float *a, ptrdiff_t astride, int np,
                                  const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
                                  int flags, const tc_tile_epi *e, int pf_a)
{
    for (int p = 0; p < np; p++) {
        const tc_tile_epi t = tc_tile_epi_shift(e, p * MR, 0);
        tile_6x16_avx2(kc, a + p * astride, b, ldb, c + p * MR * ldc, ldc, MR, NR, flags, &t,
                       pf_a, 0, MR, 0);
    }
}
#undef TC_FLAT
static const tile_rows_fn tile16_rows[MR + 1] = {tile16_r6, tile16_r1, tile16_r2, tile16_r3,
                                                 tile16_r4, tile16_r5, tile16_r6};
static const tile_rows_fn tile16_m_rows[MR + 1] = {tile16_m_r6, tile16_m_r1, tile16_m_r2, tile16_m_r3,
                                                   tile16_m_r4, tile16_m_r5, tile16_m_r6};
static const tile_rows_fn tile16_p_rows[MR + 1] = {tile16_p_r6, tile16_p_r1, tile16_p_r2,
                                                   tile16_p_r3, tile16_p_r4, tile16_p_r5,
                                                   tile16_p_r6};
static const tile_rows_fn tile17_rows[MR + 1] = {tile17_r6, tile17_r1, tile17_r2, tile17_r3,
                                                 tile17_r4, tile17_r5, tile17_r6};
static const tile_rows_fn tile8_p_rows[MR + 1] = {tile8_p_r6, tile8_p_r1, tile8_p_r2, tile8_p_r3,
                                                  tile8_p_r4, tile8_p_r5, tile8_p_r6};
static const tile_rows_fn tile8_m_rows[MR + 1] = {tile8_m_r6, tile8_m_r1, tile8_m_r2, tile8_m_r3,
                                                  tile8_m_r4, tile8_m_r5, tile8_m_r6};

/* Measured and left (s26, Zen 4, callgrind's instruction counts, deterministic): the packed tiles
 * keep their per-tile call (the driver's loop over row panels, gemm.c gemm_block).  On 144 -> 24
 * at 56x56 with a residual (B packed row by row: gemm_pack_cols) tile16_p_r6 ran ~3530
 * instructions per call where its K loop of kc = 144 is ~21 per step (~3020): ~15% outside the
 * loop (prologue, prefetches of C and the residual, store_tile_fixed's runtime bias / residual
 * tests), and gemm_block another 17% of the tiles' count (packing, the epilogue pointers per
 * tile).  Its whole tiles already take store_tile_fixed's epilogue (FIRST | LAST, one K block).
 * A lead: the packed panels of one B panel as a strip (strip16_fixed with ldb = NR a constant,
 * one call per 16 columns); in the mobile networks only the 56x56 projections 144 -> 24 are
 * packed (gemm_b_inplace), the rest of the packed tiles are ResNet's and the classifiers'. */
static void ukernel_6x8_avx2(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                             int mr, int nr, int flags, const tc_tile_epi *e, int pf_a)
{
    tile8_p_rows[mr](kc, a, b, NR, c, ldc, mr, nr, flags, e, pf_a);
}

/* the K loop of the rows-in-lanes tiles (tile_tail_avx2, tile_8p_avx2) over a, a1 = a + astride
 * and b: STEP(A0, A1) on each K row, the A panels' prefetch pf_a floats ahead, the last row's
 * panels loaded masked (nothing read past them) */
#define TC_LANES_K_LOOP(STEP)                                                                     \
    do {                                                                                          \
        _Pragma("GCC unroll 4") for (int k = 0; k < kc - 1; k++)                                  \
        {                                                                                         \
            if (pf_a) {                                                                           \
                _mm_prefetch((const char *)(a + pf_a), _MM_HINT_T0);                              \
                if (NA > 1)                                                                       \
                    _mm_prefetch((const char *)(a1 + pf_a), _MM_HINT_T0);                         \
            }                                                                                     \
            STEP(_mm256_loadu_ps(a), _mm256_loadu_ps(a1));                                        \
            a += MR;                                                                              \
            a1 += MR;                                                                             \
            b += ldb;                                                                             \
        }                                                                                         \
        const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);                      \
        STEP(_mm256_maskload_ps(a, six), _mm256_maskload_ps(a1, six));                            \
    } while (0)

/* a: [kc][6] panels at a and a + astride (NA of them, a constant)  b: row k at b + k ldb,
 * its columns [0, NP) read (NP <= 4, a constant)  c: [mr <= NA MR, NP].  The last few
 * columns of a row of C (a 14x14 map's 196 = 12 x 16 + 4) with the rows in the lanes: per
 * K step one load of each A panel (rows 0..5 and 2 lanes of the next K row, never
 * stored) and NP broadcasts of B feed NA NP independent FMA chains, where the masked 6x8
 * tiles ran 6 chains each for 6 rows.  Each output is the FMA sequence over k of the 6x8
 * and 6x16 tiles (from zero, k ascending) and store_row's epilogue: the same bits. */
static inline __attribute__((always_inline)) void tile_tail_avx2(
    int kc, const float *a, ptrdiff_t astride, const float *b, ptrdiff_t ldb, float *c,
    ptrdiff_t ldc, int mr, int flags, const tc_tile_epi *e, int pf_a, const int NA, const int NP)
{
    __m256 acc[2][4];
#pragma GCC unroll 2
    for (int p = 0; p < NA; p++)
#pragma GCC unroll 4
        for (int j = 0; j < NP; j++)
            acc[p][j] = _mm256_setzero_ps();
    const float *a1 = a + astride;
#define TC_TAIL_STEP(A0, A1)                                                                      \
    do {                                                                                          \
        const __m256 x0 = (A0);                                                                   \
        const __m256 x1 = NA > 1 ? (A1) : x0;                                                     \
        _Pragma("GCC unroll 4") for (int j = 0; j < NP; j++)                                      \
        {                                                                                         \
            const __m256 bj = _mm256_broadcast_ss(b + j);                                         \
            acc[0][j] = _mm256_fmadd_ps(x0, bj, acc[0][j]);                                       \
            if (NA > 1)                                                                           \
                acc[1][j] = _mm256_fmadd_ps(x1, bj, acc[1][j]);                                   \
        }                                                                                         \
    } while (0)
    TC_LANES_K_LOOP(TC_TAIL_STEP);
#undef TC_TAIL_STEP
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(NP),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i m1 = _mm256_setzero_si256();
    const __m256 z = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int p = 0; p < NA; p++) {
        __m256 v[8], rows[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            v[j] = j < NP ? acc[p][j] : z;
        tc_transpose8_avx2(v, rows);
        const tc_tile_epi t = tc_tile_epi_shift(e, p * MR, 0); /* rows p MR.. */
        float *cp = c + p * MR * ldc;
        const int mrp = mr - p * MR < MR ? mr - p * MR : MR;
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++)
            if (i < mrp)
                store_row(cp + i * ldc, rows[i], z, i, flags, &t, 0, m0, m1);
    }
}

typedef void (*tile_tail_fn)(int kc, const float *a, ptrdiff_t astride, const float *b,
                             ptrdiff_t ldb, float *c, ptrdiff_t ldc, int mr, int flags,
                             const tc_tile_epi *e, int pf_a);
#define TC_TAIL(NA, NP)                                                                            \
    static __attribute__((flatten)) void tile_tail_##NA##x##NP(                                    \
        int kc, const float *a, ptrdiff_t astride, const float *b, ptrdiff_t ldb, float *c,        \
        ptrdiff_t ldc, int mr, int flags, const tc_tile_epi *e, int pf_a)                          \
    {                                                                                              \
        tile_tail_avx2(kc, a, astride, b, ldb, c, ldc, mr, flags, e, pf_a, NA, NP);                \
    }
TC_TAIL(1, 1)
TC_TAIL(1, 2)
TC_TAIL(1, 3)
TC_TAIL(1, 4)
TC_TAIL(2, 1)
TC_TAIL(2, 2)
TC_TAIL(2, 3)
TC_TAIL(2, 4)
#undef TC_TAIL
/* [na - 1][nr - 1] */
static const tile_tail_fn tile_tail[2][4] = {
    {tile_tail_1x1, tile_tail_1x2, tile_tail_1x3, tile_tail_1x4},
    {tile_tail_2x1, tile_tail_2x2, tile_tail_2x3, tile_tail_2x4}};
#define TC_TAIL_MAX 4

/* a: [kc][6] panels at a and a + astride (NA of them, a constant)  b: row k at b + k ldb,
 * its columns [0, 8 + NP) read (NP = 1..4, a constant)  c: [mr <= NA MR, 8 + NP].  A last
 * 9..12 columns of a row of C (SqueezeNet's 13x13 and 27x27 maps: 169 = 10 x 16 + 9,
 * 729 = 45 x 16 + 9): columns 0..7 as one vector per row (an A broadcast times B's row),
 * the last NP with the rows in the lanes (tile_tail_avx2's form: A's panel row times a
 * broadcast of B), NA (6 + NP) independent FMA chains per K step where the masked 6x16
 * tile ran 12 FMAs for 6 rows (8 of their lanes on nothing).  NA = 2 only for NP = 1 (14
 * accumulators; more spill).  Each output is the FMA sequence over k of the 6x16 tile
 * (from zero, k ascending) and store_row's epilogue with the 16-column masks of 8 + NP
 * columns: the same bits. */
static inline __attribute__((always_inline)) void tile_8p_avx2(
    int kc, const float *a, ptrdiff_t astride, const float *b, ptrdiff_t ldb, float *c,
    ptrdiff_t ldc, int mr, int flags, const tc_tile_epi *e, int pf_a, const int NA, const int NP)
{
    __m256 acc[2][MR], ext[2][4];
#pragma GCC unroll 2
    for (int p = 0; p < NA; p++) {
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++)
            acc[p][i] = _mm256_setzero_ps();
#pragma GCC unroll 4
        for (int j = 0; j < NP; j++)
            ext[p][j] = _mm256_setzero_ps();
    }
    const float *a1 = a + astride;
#define TC_8P_STEP(A0, A1)                                                                        \
    do {                                                                                          \
        const __m256 x0 = (A0);                                                                   \
        const __m256 x1 = NA > 1 ? (A1) : x0;                                                     \
        _Pragma("GCC unroll 4") for (int j = 0; j < NP; j++)                                      \
        {                                                                                         \
            const __m256 bj = _mm256_broadcast_ss(b + 8 + j);                                     \
            ext[0][j] = _mm256_fmadd_ps(x0, bj, ext[0][j]);                                       \
            if (NA > 1)                                                                           \
                ext[1][j] = _mm256_fmadd_ps(x1, bj, ext[1][j]);                                   \
        }                                                                                         \
        const __m256 b0 = _mm256_loadu_ps(b);                                                     \
        _Pragma("GCC unroll 6") for (int i = 0; i < MR; i++)                                      \
            acc[0][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i), b0, acc[0][i]);               \
        if (NA > 1) {                                                                             \
            _Pragma("GCC unroll 6") for (int i = 0; i < MR; i++)                                  \
                acc[1][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + i), b0, acc[1][i]);          \
        }                                                                                         \
    } while (0)
    TC_LANES_K_LOOP(TC_8P_STEP);
#undef TC_8P_STEP
    /* the 16-column masks of 8 + NP columns (col_masks) */
    const __m256i m0 = _mm256_set1_epi32(-1);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(NP),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 z = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int p = 0; p < NA; p++) {
        __m256 v[8], rows[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            v[j] = j < NP ? ext[p][j] : z;
        tc_transpose8_avx2(v, rows);
        const tc_tile_epi t = tc_tile_epi_shift(e, p * MR, 0); /* rows p MR.. */
        float *cp = c + p * MR * ldc;
        const int mrp = mr - p * MR < MR ? mr - p * MR : MR;
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++)
            if (i < mrp)
                store_row(cp + i * ldc, acc[p][i], rows[i], i, flags, &t, 0, m0, m1);
    }
}

#define TC_8P(NA, NP)                                                                              \
    static __attribute__((flatten)) void tile_8p_##NA##x##NP(                                      \
        int kc, const float *a, ptrdiff_t astride, const float *b, ptrdiff_t ldb, float *c,        \
        ptrdiff_t ldc, int mr, int flags, const tc_tile_epi *e, int pf_a)                          \
    {                                                                                              \
        tile_8p_avx2(kc, a, astride, b, ldb, c, ldc, mr, flags, e, pf_a, NA, NP);                  \
    }
TC_8P(1, 1)
TC_8P(1, 2)
TC_8P(1, 3)
TC_8P(1, 4)
TC_8P(2, 1)
#undef TC_8P
/* [np - 1]: one A panel a call; tile_8p_2x1: two, for a last 9 columns */
static const tile_tail_fn tile_8p[4] = {tile_8p_1x1, tile_8p_1x2, tile_8p_1x3, tile_8p_1x4};
#define TC_8P_MAX 4

/* tc_ukernel_tall_fn for the packed driver's last panel of 9 columns: two A panels a call
 * (tile_8p_2x1, as in place), B the packed panel (rows NR floats apart) */
static void ukernel_12x9_avx2(int kc, const float *a, ptrdiff_t astride, const float *b,
                              ptrdiff_t bstride, float *c, ptrdiff_t ldc, int mr, int nr,
                              int flags, const tc_tile_epi *e, int pf_a)
{
    (void)bstride, (void)nr;
    tile_8p_2x1(kc, a, astride, b, NR, c, ldc, mr, flags, e, pf_a);
}

/* The packed tile: a last panel of 9..12 columns in tile_8p (one A panel a call; a last 9
 * of two or more A panels two a call, ukernel_12x9_avx2) */
static void ukernel_6x16_avx2(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                              int mr, int nr, int flags, const tc_tile_epi *e, int pf_a)
{
    if (nr > NR / 2 && nr <= NR / 2 + TC_8P_MAX)
        tile_8p[nr - NR / 2 - 1](kc, a, 0, b, NR, c, ldc, mr, flags, e, pf_a);
    else
        tile16_p_rows[mr](kc, a, b, NR, c, ldc, mr, nr, flags, e, pf_a);
}

/* tc_ukernel_inplace_fn on the 6x16 and 6x8 tiles: B read where it lies, row k
 * at b + k ldb, only its columns [0, nr) (any nr: inplace_wide; masked in the last panel);
 * for each 16 columns, each of the na A panels; the last 17 columns in one tile
 * (tile17_rows), the last 1..4 in one tile for both A panels (tile_tail).
 * The same FMAs per output as the packed tiles, so the same bits. */
static void ukernel_inplace_avx2(int kc, const float *a, ptrdiff_t astride, int na,
                                 const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int mr,
                                 int nr, int flags, const tc_tile_epi *e, int pf_a)
{
    /* the whole panels' kernel: the shift per strip keeps what it depends on */
    const strip16_fn strip = strip16_pick(flags, e, 0);
    const int whole = mr / MR < na ? mr / MR : na;
    /* a last panel of 4 or 2 rows in a kernel of its own */
    const int rest = whole < na ? mr - whole * MR : 0;
    const strip16_fn last = strip && (rest == 4 || rest == 2) ? strip16_pick(flags, e, 3 - rest / 2)
                                                               : NULL;
    const int pf_b = TC_GEMM_PF_B_INPLACE && ldb >= TC_GEMM_PF_B_MIN_LDB && kc >= TC_GEMM_PF_B_MIN_K &&
                     mr <= TC_GEMM_PF_B_MAX_M ? TC_GEMM_PF_B_INPLACE : 0;
    for (int h = 0; h < nr; h += NR) {
        if (nr - h <= TC_TAIL_MAX) {
            /* the last 1..4 columns: rows in the lanes (tile_tail_avx2), two panels a call */
            for (int p = 0; p < na && p * MR < mr; p += 2) {
                const tc_tile_epi t = tc_tile_epi_shift(e, p * MR, h);
                const int rest = mr - p * MR, nap = rest > MR && na - p > 1 ? 2 : 1;
                tile_tail[nap - 1][nr - h - 1](kc, a + p * astride, astride, b + h, ldb,
                                               c + p * MR * ldc + h, ldc,
                                               rest < nap * MR ? rest : nap * MR, flags, &t, pf_a);
            }
            break;
        }
        if (nr - h > NR / 2 && nr - h <= NR / 2 + TC_8P_MAX) {
            /* the last 9..12 columns: 8 as vectors, the rest rows in lanes (tile_8p_avx2);
             * a last 9 two panels a call */
            const int np = nr - h - NR / 2;
            for (int p = 0; p < na && p * MR < mr;) {
                const tc_tile_epi t = tc_tile_epi_shift(e, p * MR, h);
                const int rest = mr - p * MR, nap = np == 1 && rest > MR && na - p > 1 ? 2 : 1;
                (nap == 2 ? tile_8p_2x1 : tile_8p[np - 1])(
                    kc, a + p * astride, astride, b + h, ldb, c + p * MR * ldc + h, ldc,
                    rest < nap * MR ? rest : nap * MR, flags, &t, pf_a);
                p += nap;
            }
            break;
        }
        /* the last 17 columns in one tile (tile17_rows) */
        const int nrh = nr - h == NR + 1 ? NR + 1 : nr - h < NR ? nr - h : NR;
        int p = 0;
        if (nrh == NR && (whole || last)) {
            /* the whole panels in one call */
            const tc_tile_epi t = tc_tile_epi_shift(e, 0, h);
            if (strip) {
                const tc_act_k act = {t.act.kind, t.act.alpha, t.act.beta};
                if (whole)
                    strip(kc, a, astride, whole, b + h, ldb, c + h, ldc, t.bias, t.residual, t.ldr,
                          act, pf_a, pf_b);
                p = whole;
                if (last) {
                    const tc_tile_epi u = tc_tile_epi_shift(&t, whole * MR, 0);
                    last(kc, a + whole * astride, astride, 1, b + h, ldb, c + whole * MR * ldc + h,
                         ldc, u.bias, u.residual, u.ldr, act, pf_a, 0);
                    p = na;
                }
            } else {
                tile16_panels(kc, a, astride, whole, b + h, ldb, c + h, ldc, flags, &t, pf_a);
                p = whole;
            }
        }
        for (; p < na && p * MR < mr; p++) {
            const int mrp = mr - p * MR < MR ? mr - p * MR : MR;
            /* rows p MR.., columns h.. of the tile */
            const tc_tile_epi t = tc_tile_epi_shift(e, p * MR, h);
            const float *ap = a + p * astride;
            float *cp = c + p * MR * ldc + h;
            const tile_rows_fn *tiles = nrh == NR + 1 ? tile17_rows : nrh == NR ? tile16_rows
                                        : nrh > NR / 2 ? tile16_m_rows : tile8_m_rows;
            tiles[mrp](kc, ap, b + h, ldb, cp, ldc, mrp, nrh, flags, &t, pf_a);
        }
        if (nrh == NR + 1)
            break;
    }
}

/* One row of a channel-lane tile's epilogue: r holds C[i, 0:nr] (nr <= 6):
 * store_row's operations on one register; a whole row (nr == 6) moves as
 * 4 + 2 floats, a shorter one with masks. */
static inline __attribute__((always_inline)) void store_row6(float *ci, __m256 r, int i, int flags,
                                                             const tc_tile_epi *e, int nr,
                                                             __m256i m)
{
/* 6 floats: 4, then 2 at any alignment (the double forms want 8 bytes: UBSan) */
#define TC_LD(p)                                                                                   \
    (nr == 6 ? _mm256_insertf128_ps(                                                               \
                   _mm256_castps128_ps256(_mm_loadu_ps(p)),                                        \
                   _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(const void *)((p) + 4))), 1) \
             : _mm256_maskload_ps((p), m))
    if (flags & TC_UK_FIRST) {
        if (flags & TC_UK_ACCUM)
            r = _mm256_add_ps(r, TC_LD(ci));
        if (e->bias)
            r = _mm256_add_ps(r, _mm256_broadcast_ss(e->bias + i));
        if (e->col_bias)
            r = _mm256_add_ps(r, TC_LD(e->col_bias));
        if (e->residual)
            r = _mm256_add_ps(r, TC_LD(e->residual + i * e->ldr));
    } else {
        r = _mm256_add_ps(r, TC_LD(ci));
    }
#undef TC_LD
    if (flags & TC_UK_LAST)
        r = tc_act_avx2(tc_act_at(&e->act, i), r);
    if (nr == 6) {
        _mm_storeu_ps(ci, _mm256_castps256_ps128(r));
        /* 2 floats, any alignment (the double forms want 8 bytes: UBSan) */
        _mm_storel_epi64((__m128i *)(void *)(ci + 4), _mm_castps_si128(_mm256_extractf128_ps(r, 1)));
    } else {
        store_lanes(ci, r, nr);
    }
}

/* a: [kc][16]  b: row k at b + k ldb, columns [0, np)  c: [mr <= 16, nr <= np]
 * (tc_ukernel_chan_fn; np, a constant, is the number of pixels computed).
 * 2 np accumulators (12 at np = 6), 2 loads of A and np broadcasts of B per
 * K step.  Each output is the FMA sequence of ukernel_6x16_avx2; the tile is
 * transposed to rows of C for store_row6, store_row's epilogue. */
static inline __attribute__((always_inline)) void ukernel_chan_np_avx2(
    int kc, const float *a, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int mr,
    int nr, int flags, const tc_tile_epi *e, int pf_a, const int np)
{
    __m256 lo[TC_GEMM_PX], hi[TC_GEMM_PX];
#pragma GCC unroll 6
    for (int j = 0; j < np; j++)
        lo[j] = hi[j] = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        _mm_prefetch((const char *)(a + pf_a), _MM_HINT_T0);
        __m256 a0 = _mm256_loadu_ps(a), a1 = _mm256_loadu_ps(a + 8);
#pragma GCC unroll 6
        for (int j = 0; j < np; j++) {
            __m256 bj = _mm256_broadcast_ss(b + j);
            lo[j] = _mm256_fmadd_ps(a0, bj, lo[j]);
            hi[j] = _mm256_fmadd_ps(a1, bj, hi[j]);
        }
        a += TC_GEMM_CH;
        b += ldb;
    }
    __m256 v[8], rows[8];
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        v[j] = j < np ? lo[j] : _mm256_setzero_ps();
    tc_transpose8_avx2(v, rows);
    for (int i = 0; i < 8 && i < mr; i++)
        store_row6(c + i * ldc, rows[i], i, flags, e, nr, m);
    if (mr <= 8)
        return;
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        v[j] = j < np ? hi[j] : _mm256_setzero_ps();
    tc_transpose8_avx2(v, rows);
    for (int i = 8; i < mr; i++)
        store_row6(c + i * ldc, rows[i - 8], i, flags, e, nr, m);
}

void tc_gemm_chan_avx2(int kc, const float *a, const float *b, ptrdiff_t ldb, float *c,
                       ptrdiff_t ldc, int mr, int nr, int flags, const tc_tile_epi *e, int pf_a)
{
    switch (nr) {
    case 6: ukernel_chan_np_avx2(kc, a, b, ldb, c, ldc, mr, 6, flags, e, pf_a, 6); break;
    case 5: ukernel_chan_np_avx2(kc, a, b, ldb, c, ldc, mr, 5, flags, e, pf_a, 5); break;
    case 4: ukernel_chan_np_avx2(kc, a, b, ldb, c, ldc, mr, 4, flags, e, pf_a, 4); break;
    case 3: ukernel_chan_np_avx2(kc, a, b, ldb, c, ldc, mr, 3, flags, e, pf_a, 3); break;
    case 2: ukernel_chan_np_avx2(kc, a, b, ldb, c, ldc, mr, 2, flags, e, pf_a, 2); break;
    default: ukernel_chan_np_avx2(kc, a, b, ldb, c, ldc, mr, 1, flags, e, pf_a, 1); break;
    }
}

/* packed: B panels [ceil(N/16)][K][16]  a: [K]  y: [N].  Streams each panel
 * once; 4-way unrolled over k with separate accumulators to hide FMA latency. */
void tc_gemv_panels_avx2(int K, const float *a, const float *packed, int p0, int p1, int N,
                         const float *bias, int act, float *y)
{
    for (int p = p0; p < p1; p++) {
        const float *b = packed + (size_t)p * K * NR;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        __m256 t0 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps();
        __m256 u0 = _mm256_setzero_ps(), u1 = _mm256_setzero_ps();
        __m256 v0 = _mm256_setzero_ps(), v1 = _mm256_setzero_ps();
        int k = 0;
        for (; k + 4 <= K; k += 4) {
            _mm_prefetch((const char *)(b + 256), _MM_HINT_T0);
            _mm_prefetch((const char *)(b + 256 + 32), _MM_HINT_T0);
            __m256 a0 = _mm256_broadcast_ss(a + k), a1 = _mm256_broadcast_ss(a + k + 1);
            __m256 a2 = _mm256_broadcast_ss(a + k + 2), a3 = _mm256_broadcast_ss(a + k + 3);
            s0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b), s0);
            s1 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b + 8), s1);
            t0 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b + 16), t0);
            t1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b + 24), t1);
            u0 = _mm256_fmadd_ps(a2, _mm256_loadu_ps(b + 32), u0);
            u1 = _mm256_fmadd_ps(a2, _mm256_loadu_ps(b + 40), u1);
            v0 = _mm256_fmadd_ps(a3, _mm256_loadu_ps(b + 48), v0);
            v1 = _mm256_fmadd_ps(a3, _mm256_loadu_ps(b + 56), v1);
            b += 4 * NR;
        }
        for (; k < K; k++) {
            __m256 a0 = _mm256_broadcast_ss(a + k);
            s0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b), s0);
            s1 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b + 8), s1);
            b += NR;
        }
        s0 = _mm256_add_ps(_mm256_add_ps(s0, t0), _mm256_add_ps(u0, v0));
        s1 = _mm256_add_ps(_mm256_add_ps(s1, t1), _mm256_add_ps(u1, v1));
        float acc[NR];
        _mm256_storeu_ps(acc, s0);
        _mm256_storeu_ps(acc + 8, s1);
        int n0 = p * NR;
        tc_gemv_store(acc, n0, N - n0 < NR ? N - n0 : NR, bias, act, y);
    }
}

/* Sum of the 8 lanes of each of x0..x3 -> [sum x0, sum x1, sum x2, sum x3]. */
static inline __m128 hsum4(__m256 x0, __m256 x1, __m256 x2, __m256 x3)
{
    __m256 s01 = _mm256_hadd_ps(x0, x1); /* x0 01 23 | x1 01 23 | x0 45 67 | x1 45 67 */
    __m256 s23 = _mm256_hadd_ps(x2, x3);
    __m256 s = _mm256_hadd_ps(s01, s23); /* [x0 x1 x2 x3 | x0 x1 x2 x3] halves */
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

static inline float row_tail(const float *a, const float *w, int k, int K, float v)
{
    for (; k < K; k++)
        v += a[k] * w[k];
    return v;
}

/* Row n's dot product (tc_gemv_rows_avx2's sums) into y[n] */
static inline __attribute__((always_inline)) void gemv_row_store(const float *a, const float *wn,
                                                                 int k, int K, __m256 c0,
                                                                 __m256 c1, __m256 c2, __m256 c3,
                                                                 int n, const float *bias,
                                                                 int act, float *y)
{
    c0 = _mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3));
    for (; k + 8 <= K; k += 8)
        c0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(wn + k), c0);
    const __m256 z = _mm256_setzero_ps();
    float t = row_tail(a, wn, k, K, _mm_cvtss_f32(hsum4(c0, z, z, z)));
    y[n] = tc_act_f32(tc_act_of(act), t + (bias ? bias[n] : 0.0f));
}

/* Rows of [r0, r1) this far apart or more run as GEMV_STREAMS streams (below). */
#define GEMV_STREAMS 4
#ifndef TC_GEMV_STREAMS_MIN_ROWS
#define TC_GEMV_STREAMS_MIN_ROWS 64
#endif

/* w: [Nout, K] row-major (ldw)  a: [K]  y: [Nout].  One row at a time, four accumulators
 * of 8 lanes over k (32 partial sums, paired at the end of the row): the weights (a
 * classifier's 2-5 MB) are read as one sequential stream, rows after rows, and no FMA
 * chain bounds it.  Measured (s16, AMD EPYC Zen 4, AVX2 kernels, 1 thread, thread CPU time,
 * 100-150 rounds alternating the variants in one process, 2026-12-02 10:20-10:45, median),
 * 1280x1000 with 0 / 4 / 8 / 16 / 64 MB written before each call (the weights in L3, then
 * further out): eight rows at once with one accumulator each (the kernel before) 73 / 92 /
 * 197 / 261 / 331 us; one row with one accumulator 165 / 167 / 203 / 204 / 271 (bound by
 * its chain of FMAs at ~31 GB/s); this kernel 74 / 87 / 130 / 175-234 / 240.  In the
 * networks the classifier ran at ~19 GB/s (0.27 ms): its weights come from far.  On this
 * host every interleaving of rows lost from memory: 12 rows 0.98, 4 rows 1.23, 2 rows 1.38
 * of eight rows' time; a prefetch along the row 1-4 KiB ahead into L1 or 4-16 KiB ahead into
 * L2 1.04-1.25 of no prefetch.  Before (s13, s14, Intel Xeon host): eight rows were
 * 0.88-0.99 of four rows' time; a T0 prefetch 2 KiB ahead per stream and prefetches 4-32
 * KiB ahead into L2 lost there too.
 * h38-mn (Intel Xeon, Sapphire Rapids class, 2 MiB L2, AVX2 kernels, 1 thread, 2026-12-05,
 * benchmarks/gemv_pf_ab.c, 1280 -> 1000): inside MnasNet the classifier took 369 us against
 * 202 warm (cold_steps.py, 40 rounds), the speed of its weights from memory (64 MB written
 * before each call: 403-478 us alone; from L3 181-196 us).  A long range of rows runs as
 * GEMV_STREAMS streams: rows n, n + step, n + 2 step, n + 3 step (step a quarter of the range)
 * a K chunk at a time, four pages read at once instead of one, each row's sums in the order
 * of one row alone (the same bits).  Weights in memory, 100 rounds alternating, per-round
 * ratio to one row at a time, median [25-75%]: 2 streams 0.973 [0.940-1.005] and 0.846
 * [0.829-0.878] (two runs), 3 0.909 [0.868-0.949], 4 0.881 [0.841-0.920] and 0.807
 * [0.781-0.843], 6 0.809, 8 0.793; weights in L3 (150 rounds): 2-8 streams 0.99-1.01.
 * Inside MnasNet (steps_ab.py, 30 rounds x 5 runs, each order) the classifier 0.930
 * [0.910-0.951] (367 against 394 us) and base / this 1.085 [1.056-1.113]; GEMV_STREAMS 8
 * against 4 1.061 [1.017-1.085] and 4 against 8 0.927 [0.916-0.934] (geomean 1.07; 32
 * accumulators in 16 registers).  Whole networks, 1 thread (subgraph_shapes.py --against,
 * both orders, geometric mean, bit-identical): MnasNet 0.995 (41 rounds), MobileNetV2 0.996,
 * V3-Large 0.990, EfficientNet-B0 0.998 (31).  At 2 threads the claims (16 rows of 1280) stay
 * one row at a time; claims of 64 rows (four streams each; gemm.c tc_dense_rows_f32's grain):
 * MnasNet's classifier 1.020 [0.950-1.067] and base / it 0.964 [0.929-0.990] (steps_ab.py
 * --threads 2 under chrt -f 10, 20 rounds; geomean 1.03), the run level (ab_threads.py --fifo
 * 30 rounds 0.996 / 0.993): not taken.
 * Tried and left there: at each row's start one prefetch per 4 KiB page 1, 2 or 4 pages
 * ahead (T0 / T1 / T2; the streamer stops at page ends), and every line 4 pages ahead:
 * 1.00-1.03 from L3 and from memory.
 * h39-mn (same host, 2026-12-06, gemv_pf_ab.c MODE=flush: the weights flushed from every cache,
 * 40-60 rounds): one row at a time 396-532 us, four streams 0.82-0.90 of it (355-450 us); a
 * plain read of the 5.1 MB as 8-16 interleaved streams (benchmarks/read_bw.c, paired runs) 344
 * and 400 us against the four streams' 355 and 439: this GEMV reads within 3-10% of what one
 * core draws from memory. */
void tc_gemv_rows_avx2(int K, const float *a, const float *w, ptrdiff_t ldw, int r0, int r1,
                       const float *bias, int act, float *y)
{
    const int S = GEMV_STREAMS, step = r1 - r0 >= TC_GEMV_STREAMS_MIN_ROWS ? (r1 - r0) / S : 0;
    for (int i = 0; i < step; i++) {
        const float *wn[GEMV_STREAMS];
        __m256 c[GEMV_STREAMS][4];
#pragma GCC unroll 4
        for (int s = 0; s < S; s++) {
            wn[s] = w + (size_t)(r0 + s * step + i) * ldw;
            c[s][0] = c[s][1] = c[s][2] = c[s][3] = _mm256_setzero_ps();
        }
        int k = 0;
        for (; k + 32 <= K; k += 32) {
#pragma GCC unroll 4
            for (int s = 0; s < S; s++)
#pragma GCC unroll 4
                for (int q = 0; q < 4; q++)
                    c[s][q] = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8 * q),
                                              _mm256_loadu_ps(wn[s] + k + 8 * q), c[s][q]);
        }
#pragma GCC unroll 4
        for (int s = 0; s < S; s++)
            gemv_row_store(a, wn[s], k, K, c[s][0], c[s][1], c[s][2], c[s][3],
                           r0 + s * step + i, bias, act, y);
    }
    /* the rest (or a short range): one row at a time */
    for (int n = r0 + S * step; n < r1; n++) {
        const float *wn = w + (size_t)n * ldw;
        __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
        __m256 c2 = _mm256_setzero_ps(), c3 = _mm256_setzero_ps();
        int k = 0;
        for (; k + 32 <= K; k += 32) {
            c0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(wn + k), c0);
            c1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(wn + k + 8), c1);
            c2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 16), _mm256_loadu_ps(wn + k + 16), c2);
            c3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 24), _mm256_loadu_ps(wn + k + 24), c3);
        }
        gemv_row_store(a, wn, k, K, c0, c1, c2, c3, n, bias, act, y);
    }
}

/* gemm_internal.h copy_rows_scaled: 8 values a vector, a row's last 1-7 one at a time (rows
 * of 49: 6 vectors and 1), x * g as the Mul step before the layer computed it */
static void copy_rows_scaled_avx2(const float *src, ptrdiff_t lds, const float *scale, int rows,
                                  int cols, float *dst, ptrdiff_t ldd)
{
    for (int r = 0; r < rows; r++, src += lds, dst += ldd) {
        const float s = scale[r];
        const __m256 v = _mm256_set1_ps(s);
        int i = 0;
        for (; i + 16 <= cols; i += 16) {
            const __m256 a = _mm256_loadu_ps(src + i), b = _mm256_loadu_ps(src + i + 8);
            _mm256_storeu_ps(dst + i, _mm256_mul_ps(a, v));
            _mm256_storeu_ps(dst + i + 8, _mm256_mul_ps(b, v));
        }
        for (; i + 8 <= cols; i += 8)
            _mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_loadu_ps(src + i), v));
        for (; i < cols; i++)
            dst[i] = src[i] * s;
    }
}

const tc_gemm_kernels tc_gemm_avx2 = {
    .tile = ukernel_6x16_avx2,
    .tile_half = ukernel_6x8_avx2,
    .tile_tall9 = ukernel_12x9_avx2,
    .gemv_panels = tc_gemv_panels_avx2,
    .gemv_rows = tc_gemv_rows_avx2,
    .tile_chan = tc_gemm_chan_avx2,
    .tile_inplace = ukernel_inplace_avx2,
    .inplace_max_pages = TC_GEMM_INPLACE_MAX_PAGES_AVX2,
    .inplace_short_rows_pages = TC_GEMM_INPLACE_SHORT_ROWS_PAGES_AVX2,
    .inplace_copy_max_n = TC_GEMM_COPY_MAX_N_AVX2,
    .copy_rows_scaled = copy_rows_scaled_avx2,
    .inplace_max_na = TC_GEMM_INPLACE_MAX_NA_AVX2,
    .inplace_wide = 1,
};
