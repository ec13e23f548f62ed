/* Private to the C kernels: blocking constants, micro-kernel signature, the
 * GEMM family's kernel table and the generic blocked GEMM driver (used by
 * gemm.c, conv.c and the Winograd products). */
#ifndef TC_GEMM_INTERNAL_H
#define TC_GEMM_INTERNAL_H

#include "epilogue.h"
#include "tinycnn.h"

#define MR TC_GEMM_MR
#define NR TC_GEMM_NR

/* Cache blocking (32 KiB L1d, 512 KiB L2 per core): a B micro-panel KC x NR
 * (at most 20 KiB) stays in L1 while MC/MR A micro-panels stream from L2; the
 * A block MC x KC (150 KiB) stays in L2 across the NC/NR B micro-panels.  The
 * driver cuts K into equal blocks of at most KC.  MC must be a multiple of MR,
 * NC of NR. */
#ifndef TC_GEMM_KC
#define TC_GEMM_KC 320
#endif
#ifndef TC_GEMM_MC
#define TC_GEMM_MC 120
#endif
/* MC for a shallow K block (kc < TC_GEMM_MSTEP_SHALLOW_K): see gemm_mstep. */
#ifndef TC_GEMM_MC_SHALLOW
#define TC_GEMM_MC_SHALLOW 48
#endif
/* ... and for a shallow K block that B reads in place into a C of at least
 * TC_GEMM_COLD_C_BYTES (a whole layer's output, not an inverted-residual band): see
 * gemm_mstep. */
#ifndef TC_GEMM_MC_COLD
#define TC_GEMM_MC_COLD 12
#endif
#define TC_GEMM_COLD_C_BYTES (512 * 1024)
#ifndef TC_GEMM_MSTEP_SHALLOW_K
#define TC_GEMM_MSTEP_SHALLOW_K 64
#endif
#ifndef TC_GEMM_NC
#define TC_GEMM_NC 512
#endif
/* Re-measured on the target, AMD EPYC Zen 3 (512 KiB L2), native, 1 thread (s23, 2026-12-03
 * 11:35-11:48, load 7-11 on 2 cores): flat.  The 1x1 layers of MobileNetV2 / MnasNet /
 * EfficientNet-B0 / V3-Large on 14x14 and 7x7 maps (pointwise_ab.c, 12-20 rounds, the variant
 * / this build over the 19 shapes' minima; the control, this build twice, 1.005): MC 60
 * 1.009, MC 180 1.002, TC_GEMM_PF_A_INPLACE 256 0.999 and 1024 1.008 (every shape 0.98-1.03
 * at min); with 4 MB written before each run (the weights from L3) MC 60 1.033, PF 256 1.007,
 * PF 1024 1.029, control 1.016.  The layers run at 90-95 GF/s here, hot or with the weights in L3
 * (96 -> 576 at 14x14 231-233 us both ways): the constants stay.  The channel-lane tiles
 * (1x1_chan) on the 7x7 shapes, same protocol: 1.26-1.43 of these tiles' time (conv_algo.py's
 * CHAN_MAX_PIXELS holds).  KC 480 and 576 (other bits where K > 320: fewer passes over C on
 * 960 -> 160, 1152 -> 320, 576 -> 96) 1.004 and 1.008, no shape below 0.975.
 * On the Intel Xeon (2 MiB L2; h36-gemm, 2026-12-05, AVX2 kernels, 1 thread, pointwise_ab.c 15
 * rounds x 10, both orders): KC 1152, every K of these networks one block (no C round trips;
 * other bits): the 7x7 layers 1152 -> 192 / 320, 960 -> 160, 576 -> 160 0.984-1.014 of the
 * time at min, but 576 -> 96 at 14x14 1.06 / 1.08, 672 -> 112 1.03 / 1.04, 480 -> 80 1.01 /
 * 1.03; sums 1.012 and 1.015: not taken.  The K-split layers run at 102-107 GF/s hot here
 * (fma_peak.c 110): their C round trips cost little. */

/* Prefetch distance on the packed A of a K block, one sequential stream: 1 KiB
 * (ResNet-50's 1x1 and strided convolutions, see git log d5011d2). */
#ifndef TC_GEMM_PF_A
#define TC_GEMM_PF_A 256
#endif
/* ... and 2 KiB for the tiles reading B in place (the 1x1 layers of the mobile networks):
 * per-step minima of whole models, AVX2 emulation, 1 thread, 4-5 alternating rounds of
 * 12-15 profiled runs, 2026-12-01 20:37-20:39, sum of the steps 512 / 256 (median):
 * MnasNet 0.984, EfficientNet-B0 0.986, SqueezeNet 0.988, MobileNetV2's 1x1 layers
 * from 14x14 on 0.978 (whole model 0.99), MobileNetV3-Large 1.005, ResNet-50 (its
 * packed tiles unchanged) 0.999; 1024 and 2048 no better than 512. */
#ifndef TC_GEMM_PF_A_INPLACE
#define TC_GEMM_PF_A_INPLACE 512
#endif
/* ... but only in the first column tiles of a sweep when its A block (mstep rows x kc)
 * is at most this many bytes: it is then in L1 for the later ones, and the prefetch
 * was one of ~21 instructions of a K step at kc = 16 (tiles take pf_a == 0 as none). */
#ifndef TC_GEMM_PF_A_L1_BYTES
#define TC_GEMM_PF_A_L1_BYTES (16 * 1024)
#endif

/* The AVX2 tiles prefetch the rows of C they will store only from this K block depth on: below
 * it the prefetches (two per row of C, one uop each) cost more than they hide.  Zen 3, native,
 * 1 thread, lone layers with bias and ReLU (pointwise_ab.c, 20-30 rounds x 10, 2026-12-03
 * 17:2x, load 4-7 on 2 cores), without / with: 16 -> 64 at 16x16, 28x28, 55x55 0.93, 0.92,
 * 0.90 (0.94 with 8 MB written before each run), 16 -> 72 at 56x56 0.95, 24 -> 72 0.98; from
 * K = 40 on nothing won (40 -> 240, 48 -> 48, 64 -> 64: 1.00-1.03 at min), nor on the 14x14 and
 * 7x7 layers of K 64..1152 (0.98-1.01 at min).  K = 32 is mixed (with strip16_fixed, median of
 * 100-300 alternating pairs, 17:4x), with / without: 32 -> 48 at 112x112 0.87 (C of 2.4 MB; 0.87
 * with 8 MB written before each run), 32 -> 16 1.02 (0.98), 32 -> 64 and 32 -> 192 at 28x28
 * 1.02: it keeps the prefetch. */
#ifndef TC_GEMM_PF_C_MIN_K
#define TC_GEMM_PF_C_MIN_K 32
#endif

/* The K blocks of the driver: equal blocks of at most KC (576 = 2 x 288, not
 * 256 + 256 + 64: fewer passes over C).  Packed A is laid out by the same
 * blocks, so one block of it is a single sequential stream. */
static inline int tc_gemm_kstep(int K)
{
    int nkb = (K + TC_GEMM_KC - 1) / TC_GEMM_KC;
    return nkb > 0 ? (K + nkb - 1) / nkb : 1;
}

/* y[n0 .. n0 + nr) = act(acc + bias) for one panel of a GEMV. */
static inline void tc_gemv_store(const float *acc, int n0, int nr, const float *bias, int act,
                                 float *y)
{
    for (int j = 0; j < nr; j++)
        y[n0 + j] = tc_act_f32(tc_act_of(act), acc[j] + (bias ? bias[n0 + j] : 0.0f));
}

/* Per-thread workspace: B block, A block, plus scratch ints for B packers. */
#define TC_GEMM_WS_B ((size_t)TC_GEMM_KC * TC_GEMM_NC)
#define TC_GEMM_WS_A ((size_t)TC_GEMM_MC * TC_GEMM_KC)
#define TC_GEMM_WS_SCRATCH (2 * (size_t)TC_GEMM_KC + TC_GEMM_NC + 64)
#define TC_GEMM_WS_THREAD (TC_GEMM_WS_B + TC_GEMM_WS_A + TC_GEMM_WS_SCRATCH + 32)

/* AVX2's 6x16 tiles reading B in place (benchmarks/pointwise_shapes.py's shapes, under the AVX2
 * emulation, 2026-11-30): 0.83-0.98 of the packed time where one sweep over a
 * K block touches up to ~100 pages of B and C rows (a large map puts each row
 * on its own page), 0.99-1.00 at 120-170, but 1.04-1.08 on ResNet-50's
 * 64 -> 256 and 256 -> 64 at 56x56 (184 and 320 pages: the first-level data
 * TLB has 64 entries, and a packed B block is a few contiguous pages). */
#define TC_GEMM_INPLACE_MAX_PAGES_AVX2 128
/* ... and at 1 thread up to this many where B's rows lie less than a page apart (ldb < 1024
 * floats: maps up to 31x31): RegNetY-400MF's 28x28 layers 104 -> 104 (160 pages) and 104 ->
 * 208 (172).  h47-rg (2026-12-07, Intel Xeon, AVX2 emulation, 1 thread, the same bits;
 * h46-rg's benchmarks/inplace_short_rows.patch limited): steps_ab.py --steps against the base,
 * 60 rounds x 5 each order, those six steps 0.933-0.958 (this first) and 1.038-1.072 (the base
 * first) of the other's time, block3-0's pair 0.980 / 1.020, ~75 us a run; whole runs
 * (ab_threads.py --threads 1 --fifo, 60 x 10) 0.994 [0.987-1.003] and 1 / 1.010
 * [1.002-1.018].  Not at 2 threads: there the projections after a grouped layer (their x
 * written by both cores, channel by channel) read 1.03-1.04 of the packed time in place (h47-rg,
 * steps_ab.py --threads 2 under chrt -f 10, 40 rounds each order; the 1x1 "a" layers
 * 0.96-0.98, the run level).  Not up to 256 pages: DenseNet-121's 28x28 conv1 layers (128 ..
 * 208 -> 128, 190-252 pages) read 1.01-1.05 of their time in place in both orders, and its
 * 3x3 conv2 after them 1.04-1.09 (steps_ab.py, 30 rounds each order); ResNet-50's 128 -> 512
 * (190) and GoogLeNet's 28x28 layers (197-246) stay packed too. */
#ifndef TC_GEMM_INPLACE_SHORT_ROWS_PAGES_AVX2
#define TC_GEMM_INPLACE_SHORT_ROWS_PAGES_AVX2 176
#endif

/* AVX2's in-place tiles on small maps whose rows are not a multiple of 16 floats (7x7: 49)
 * read each K block of B from a copy with aligned rows (gemm.c gemm_copy_ldb), copied by
 * the block's first sweep: at 49 one 16-column load in two straddles cache lines, and a
 * tile's kc rows of B touch twice the lines.  The same FMAs: the same bits.  Lone layers
 * (AMD EPYC Zen 4, AVX2 kernels, 1 thread, thread CPU time, 60-100 runs alternating both
 * in one process, 2026-12-02 10:09, min), copy / in place: 7x7 160 -> 960 0.93, 960 -> 160
 * 0.94, 960 -> 320 0.94, 320 -> 1280 0.89, 192 -> 1152 0.88, 1152 -> 192 0.92, 1152 -> 320
 * 0.91, 576 -> 160 0.93; with the weights evicted to L3 (8 MB written before each run)
 * 0.85-0.95.  At 14x14 (196 columns) and 13x13 (169) 1.0-1.07: no copy there.  AVX-512's
 * 12x32 tiles 1.0-1.04 at 7x7: no copy in its table.
 * Tried without gain (same protocol, 7x7): with the copy, each 12-row panel sweeping the
 * columns (rows outer, the A panels in L1, the copy from L2) 0.96-1.04 of columns outer;
 * K blocks of 160 or 240 (TC_GEMM_KC; other bits) before the copy 0.97-1.05.
 * Tried without gain on the target (Zen 3, native, 1 thread, pointwise_ab.c with ReLU, min of
 * 15 rounds, 2026-12-03 14:2x): the copy up to 1024 columns (SqueezeNet's 27x27 maps, rows of
 * 729 floats, so half the 16-column loads straddle lines): 128 -> 32 at 27x27 1.13, 256 -> 32
 * 1.12, 32 -> 128 1.02, 512 -> 64 at 13x13 1.03 of the in-place time.
 * Re-measured on the Intel Xeon (h36-gemm, 2026-12-05, AVX2 kernels, 1 thread, pointwise_ab.c,
 * 20 rounds x 10, the row copy NR floats at a time as in benchmarks/copy_row.patch): the copy
 * up to 208 columns, 14x14: 96 <-> 576, 80 <-> 480, 112 <-> 672, 64 <-> 384 min 1.002-1.031 of
 * the in-place time (sum 1.012, one order): still not at 14x14.  That patch's row copy against
 * the extension's memcpy (a libc call per row): whole networks (subgraph_shapes.py --against
 * the base, 31 rounds, both orders, geometric means) MnasNet 0.999, MobileNetV2 0.998, V3-Large
 * 1.005, bit-identical: level, not taken (its 0.91-0.95 on lone 7x7 layers were against
 * ab_so.sh's rep movsq, see there). */
#define TC_GEMM_COPY_MAX_N_AVX2 64
/* Where a tc_dense_b's row_scale is set (a squeeze-and-excitation's gates taken by the 1x1
 * projection after it, conv.c tc_conv2d_scaled_f32), the copy scales B's rows (rows of any
 * alignment up to the same TC_GEMM_COPY_MAX_N_AVX2 columns): the Mul step before the layer,
 * a pass of its own over x, goes.  h42-se (Intel Xeon, AVX2 emulation, 1 thread, 2026-12-06,
 * the same bits): lone layers (benchmarks/se_scale_ab.py, 30 rounds x 10 calls, median of the
 * per-round ratios, scaled / Mul + layer) at 7x7 0.92 (V3-Small's 288 / 576 -> 96) to
 * 0.95-0.97 (672 / 960 -> 160, 672 / 1152 -> 192, 1152 -> 320), 6-13 us; in the networks
 * (steps_ab.py against the base, 30-60 rounds) V3-Small's blocks 9-11 0.977-0.985,
 * V3-Large's 13-15 0.969-0.992, EfficientNet-B0's 6.1-7.0 0.985-0.997 (their minima 6-30 us
 * lower); 2 threads (steps_ab.py --threads 2 under chrt -f 10, 30-40 rounds) V3-Large's 13-15
 * 0.979-1.000, V3-Small's 9-11 0.963-1.000.  Up to 256 columns (14x14, rows of 196): lone 0.985-0.996, but in EfficientNet-B0
 * (steps_ab.py against the same build copying at 7x7 only, 30 rounds) its 14x14 blocks
 * 5.0-5.2 1.003-1.014 (minima +10-17 us): 7x7 only. */

/* AVX2's in-place tiles take all the rows of a K block (up to this many 6-row A panels) per
 * call, where the driver called them per 12 rows: each 16-column strip's whole 6x16 tiles
 * then run in one function (gemm_avx2.c tile16_panels), their prologue paid once: a 6x16
 * tile's fixed cost was ~35 cycles beside its 96 of FMAs at kc = 16 (pointwise_ab.c, K swept
 * 16..64 on 48 rows at 28x28).  The same bits.  s20, Zen 4, AVX2 emulation, 1 thread, loaded
 * host (2026-12-03 00:33-00:50): lone layers (pointwise_ab.c, min of 60 rounds) 16 -> 48 at
 * 28x28 0.92, 72 -> 24 and 96 -> 24 at 56x56 0.95-0.98, the rest 0.99-1.02 (C of 512 KiB and
 * more sweeps 12 rows at a time, TC_GEMM_MC_COLD: unchanged); in one process against the
 * base (subgraph_shapes.py --against, 15 rounds, median [25-75%]): MnasNet's layers.8.0
 * 0.933 [0.886-0.947], MnasNet 0.972 [0.966-0.979], MobileNetV2 0.977 [0.945-0.991],
 * V3-Large 0.982 [0.974-0.987], EfficientNet-B0 0.988 [0.946-0.991], V3-Small 0.983,
 * ShuffleNetV2 0.975, SqueezeNet 0.986, RegNetY 0.979, ResNet-50 0.984, GoogLeNet 0.979. */
#define TC_GEMM_INPLACE_MAX_NA_AVX2 64

/* ... and only while B's rows do not all fall in the same cache sets: rows a multiple of
 * 16 KiB apart (a 64x64, 128x128 or 256x256 map) share one set of a 64-set L1 and one of a
 * quarter of the L2's sets, so the kc rows one tile reads (plus its C rows) evict each
 * other.  A packed B block is contiguous.  Measured on LRASPP-MobileNetV3 at 512x512 (AVX2
 * emulation, 1 thread, 2026-11-30, same session alternating both choices, loaded host):
 * the whole model 0.80-0.90 of its time with in-place tiles; cachegrind (32 KiB 8-way L1d,
 * the target's) counts ~7x the compulsory L1 misses of 72 -> 24 at 128x128 in place, none
 * extra packed or in place at 126x126.  YOLOv8n's 160x160 maps (100 KiB rows, not a
 * multiple of 16 KiB) lost with packing (32 -> 32, 48 -> 32: 1.05-1.3x): they keep in place. */
#define TC_GEMM_INPLACE_ALIAS_FLOATS 4096

/* ... and, on maps of more than 4 x 16 pixels, only while A holds fewer than
 * TC_GEMM_PACKED_MK elements (7x7 maps, N = 16 k + 1, keep the 17-column tile up to
 * TC_GEMM_INPLACE_MAX_MK: 1.13-1.19x slower packed at every M tried).  SqueezeNet's
 * classifier, 512 -> 1000 at 13x13 (A: 2 MB, from memory at each run): packed, its B panels
 * (kc x 16, contiguous) stay in L1 across the 1000 rows; in place, each row panel re-reads
 * kc misaligned rows of B.  AVX2 emulation, 1 thread, thread CPU time, 2026-12-01: the lone
 * layer 0.92 of the in-place time (1875 -> 1725 us, 40 alternating runs, 15:22), the whole
 * model 0.975.  Packing more pays on lone layers but not in the networks (15:32, whole
 * model / in place, 10 alternating bursts): packed from M >= 512 or M K >= 128 Ki (256 ->
 * 1024 and 1024 -> 256 at 14x14, 0.93-0.96 lone) ran ResNet-50 1.006 (every burst
 * 1.002-1.009), MobileNetV3-Large 1.01-1.03, MobileNetV2 0.99-1.02. */
#define TC_GEMM_PACKED_MK (384 * 1024)

/* micro-kernel flags */
#define TC_UK_FIRST 1 /* first K block: add C_old if accumulate, bias, residual */
#define TC_UK_LAST 2  /* last K block: apply the activation */
#define TC_UK_ACCUM 4 /* with FIRST: C_old is part of the sum */

/* Epilogue pointers already offset to the tile's first row / element. */
typedef struct tc_tile_epi {
    const float *bias;     /* [mr] or NULL */
    const float *col_bias; /* [nr] or NULL */
    const float *residual; /* [mr, ldr] or NULL */
    ptrdiff_t ldr;
    tc_activation act;     /* applied with TC_UK_LAST; PReLU's slope: [mr] */
} tc_tile_epi;

/* e for the part of its tile from row `rows` and column `cols` on */
static inline tc_tile_epi tc_tile_epi_shift(const tc_tile_epi *e, int rows, int cols)
{
    tc_tile_epi t = *e;
    t.bias = e->bias ? e->bias + rows : NULL;
    t.col_bias = e->col_bias ? e->col_bias + cols : NULL;
    t.residual = e->residual ? e->residual + rows * e->ldr + cols : NULL;
    if (t.act.slope)
        t.act.slope += rows;
    return t;
}

/* C[mr, nr] (+)= a[kc][MR] . b[kc][NR], then the epilogue per flags.
 * Panels are full (zero padded); only mr x nr elements of C are touched.
 * pf_a: how many floats ahead of a to prefetch at each step, for A panels that
 * stream from memory once (the GEMM's weights: TC_GEMM_PF_A; Winograd's
 * transformed weights, read once per chunk: WG_PF_U). */
typedef void (*tc_ukernel_fn)(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                              int mr, int nr, int flags, const tc_tile_epi *e, int pf_a);

/* The same for two adjacent B panels at once: b[kc][NR] and (b + bstride)[kc][NR],
 * C[mr, NR < nr <= 2 NR].  Each A element loaded feeds twice the FMAs. */
typedef void (*tc_ukernel_wide_fn)(int kc, const float *a, const float *b, ptrdiff_t bstride,
                                   float *c, ptrdiff_t ldc, int mr, int nr, int flags,
                                   const tc_tile_epi *e, int pf_a);

/* Two A panels and up to two B panels at once: a[kc][MR] and (a + astride)[kc][MR],
 * C[MR < mr <= 2 MR, nr <= 2 NR]; the second B panel (b + bstride) is read only
 * when nr > NR.  24 accumulators: each B row loaded feeds twice the FMAs of the
 * wide tile (AVX-512's 32 registers). */
typedef void (*tc_ukernel_tall_fn)(int kc, const float *a, ptrdiff_t astride, const float *b,
                                   ptrdiff_t bstride, float *c, ptrdiff_t ldc, int mr, int nr,
                                   int flags, const tc_tile_epi *e, int pf_a);

/* The same tiles reading B where it lies, row-major [kc, ldb], no packing: row k
 * of the tile at b + k ldb, only its columns [0, nr) (masked loads, nothing
 * read past them).  na A panels (1 or 2, up to the table's inplace_max_na):
 * C[mr <= na MR, nr <= 2 NR] (any nr where the table's inplace_wide is set). */
typedef void (*tc_ukernel_inplace_fn)(int kc, const float *a, ptrdiff_t astride, int na,
                                      const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
                                      int mr, int nr, int flags, const tc_tile_epi *e, int pf_a);

/* Channel-lane tiles, for 1x1 convolutions on few pixels (7x7, 14x14 maps):
 * the vector lanes run over TC_GEMM_CH rows of C (output channels) and each of
 * TC_GEMM_PX columns (pixels) is broadcast from B read where it lies, so no
 * lane is wasted on N = 49 = 3 x 16 + 1 and B is never packed.
 * a: [kc][TC_GEMM_CH] (tc_gemm_pack_a_chan_f32)  b: row k at b + k ldb, columns
 * [0, nr) read  c: [mr <= TC_GEMM_CH, nr <= TC_GEMM_PX].  Each output is the
 * same FMA sequence over k as in the row tiles (tc_ukernel_fn) and the same
 * epilogue, so the two give the same bits. */
#define TC_GEMM_CH 16
#define TC_GEMM_PX 6
typedef void (*tc_ukernel_chan_fn)(int kc, const float *a, const float *b, ptrdiff_t ldb, float *c,
                                   ptrdiff_t ldc, int mr, int nr, int flags, const tc_tile_epi *e,
                                   int pf_a);

/* y[n] = act(a . packed[:, n] + bias[n]) for the columns of B panels [p0, p1)
 * (packed: [ceil(N/NR)][K][NR]). */
typedef void (*tc_gemv_panels_fn)(int K, const float *a, const float *packed, int p0, int p1,
                                  int N, const float *bias, int act, float *y);

/* y[n] = act(a . w[n, :] + bias[n]) for the rows n in [r0, r1) of a row-major w [Nout, K]. */
typedef void (*tc_gemv_rows_fn)(int K, const float *a, const float *w, ptrdiff_t ldw, int r0,
                                int r1, const float *bias, int act, float *y);

/* The GEMM family's kernels for one instruction set: tc_gemm_portable (gemm.c),
 * tc_gemm_avx2 (gemm_avx2.c) and tc_gemm_avx512 (gemm_avx512.c); dispatch.c
 * picks one per tc_ctx. */
typedef struct tc_gemm_kernels {
    tc_ukernel_fn tile;      /* the MR x NR micro-kernel */
    tc_ukernel_fn tile_half; /* same contract for nr <= NR/2, reading only the
                                first NR/2 columns of each B panel row; it may
                                ignore pf_a (it runs after full-width tiles of
                                the same A panels) */
    tc_gemv_panels_fn gemv_panels;
    tc_gemv_rows_fn gemv_rows;
    tc_ukernel_wide_fn tile_wide; /* MR x 2 NR over two panels, or NULL (use tile twice) */
    tc_ukernel_tall_fn tile_tall; /* 2 MR x 2 NR over two A and two B panels, or NULL */
    tc_ukernel_tall_fn tile_tall9; /* two A panels by one packed B panel of exactly NR / 2 + 1
                                      columns (bstride unused; the packed driver's last 9 of
                                      a row where tile_tall is not used), or NULL */
    tc_ukernel_inplace_fn tile_inplace; /* up to 2 MR x 2 NR, B unpacked, or NULL */
    tc_ukernel_chan_fn tile_chan; /* channel-lane tile (every table has one) */
    int inplace_max_pages; /* tile_inplace only while a sweep touches at most these
                              4 KiB pages of B and C rows (gemm_b_inplace), 0: any */
    int inplace_short_rows_pages; /* ... or these where B's rows lie less than a page apart
                                     (0: inplace_max_pages there too) */
    int inplace_copy_max_n; /* tile_inplace reads B of at most this many columns, rows
                               not a multiple of NR floats (any, where a tc_dense_b's
                               row_scale is set), from an aligned copy of each K block
                               (gemm.c gemm_copy_ldb), 0: never */
    /* dst[r][0..cols) = src[r][0..cols) * scale[r] for rows r, one rounding each (the
     * element-wise Mul's products): the scaled copy of a K block of B, or NULL (gemm.c's
     * loop) */
    void (*copy_rows_scaled)(const float *src, ptrdiff_t lds, const float *scale, int rows,
                             int cols, float *dst, ptrdiff_t ldd);
    int inplace_max_na; /* A panels per tile_inplace call, 0: 2 */
    int inplace_wide; /* tile_inplace takes any number of columns (nr > 2 NR: a last 17,
                         a last 1..4 or 5..15 as within 2 NR), 0: at most 2 NR */
} tc_gemm_kernels;

extern const tc_gemm_kernels tc_gemm_portable, tc_gemm_avx2, tc_gemm_avx512;
/* AVX2's GEMVs, shared by the AVX-512 table (gemm_avx512.c). */
void tc_gemv_panels_avx2(int K, const float *a, const float *packed, int p0, int p1, int N,
                         const float *bias, int act, float *y);
void tc_gemv_rows_avx2(int K, const float *a, const float *w, ptrdiff_t ldw, int r0, int r1,
                       const float *bias, int act, float *y);
/* AVX2's channel-lane tile, also the AVX-512 table's (the same bits by construction). */
void tc_gemm_chan_avx2(int kc, const float *a, const float *b, ptrdiff_t ldb, float *c,
                       ptrdiff_t ldc, int mr, int nr, int flags, const tc_tile_epi *e, int pf_a);
const tc_gemm_kernels *tc_gemm_kernels_of(const tc_ctx *ctx);

/* Scalar epilogue + store of an accumulator tile acc[mr][nr] (row i at acc + i ldacc):
 * shared by the kernels for partial tiles. */
void tc_tile_store(const float *acc, ptrdiff_t ldacc, float *c, ptrdiff_t ldc, int mr, int nr,
                   int flags, const tc_tile_epi *e);

/* Packs the B block rows [k0, k0+kc) x columns [n0, n0+nc) into
 * dst[ceil(nc/NR)][kc][NR] (zero padded).  scratch: TC_GEMM_WS_SCRATCH floats
 * private to the thread; new_k is 1 on the first call for a given [k0, k0+kc)
 * (the driver packs one NR panel at a time, right before the kernel uses it,
 * so packers may cache per-row tables in scratch between calls). */
typedef void (*tc_pack_b_fn)(const void *arg, int k0, int kc, int n0, int nc, float *dst,
                             void *scratch, int new_k);
/* Packs A rows [m0, m0+mc) x [k0, k0+kc) into dst[ceil(mc/MR)][kc][MR]. */
typedef void (*tc_pack_a_fn)(const void *arg, int m0, int mc, int k0, int kc, float *dst);

typedef struct tc_gemm_op {
    int M, N, K;
    const float *a_packed; /* tc_gemm_pack_a_f32's layout, or NULL: use pack_a */
    int a_chan; /* a_packed is tc_gemm_pack_a_chan_f32's layout: channel-lane
                   tiles over a row-major B read in place (pack_b is
                   tc_pack_b_rowmajor, b_arg an untransposed tc_dense_b) */
    tc_pack_a_fn pack_a;
    const void *a_arg;
    const float *b_packed; /* full-K panels, or NULL: use pack_b */
    tc_pack_b_fn pack_b;
    const void *b_arg;
    float *C;
    ptrdiff_t ldc;
    int accumulate;
    tc_epilogue epi;
} tc_gemm_op;

/* A: [M, K] row-major (lda)  packed: for each K block [k0, k0 + kc) of the
 * driver (tc_gemm_kstep), [ceil(M/CH)][kc][CH] at packed + k0 * ceil(M/CH) * CH
 * (rows past M zero), CH = TC_GEMM_CH: the channel-lane tiles' A. */
size_t tc_gemm_pack_a_chan_size(int M, int K);
void tc_gemm_pack_a_chan_f32(int M, int K, const float *A, ptrdiff_t lda, float *packed);

/* A layer's GEMM over its prepacked weights (a_packed: tc_gemm_pack_a_f32's layout):
 * C [M, N] (ldc) = act(packed . B [K, N] + bias + residual [M, ldr]), B from pack_b (b_arg);
 * bias, residual, act may be NULL.  Every other field zero (a_chan: set it after). */
static inline tc_gemm_op tc_gemm_op_layer(int M, int N, int K, const float *a_packed,
                                          tc_pack_b_fn pack_b, const void *b_arg, float *C,
                                          ptrdiff_t ldc, const float *bias, const float *residual,
                                          ptrdiff_t ldr, const tc_activation *act)
{
    tc_gemm_op op = {.M = M, .N = N, .K = K, .a_packed = a_packed, .pack_b = pack_b,
                     .b_arg = b_arg, .C = C, .ldc = ldc};
    op.epi.bias = bias;
    op.epi.residual = residual;
    op.epi.ldr = ldr;
    if (act)
        op.epi.act = *act;
    return op;
}

/* Runs op on ctx's threads; workspace: tc_gemm_workspace_size(ctx) floats. */
void tc_gemm_run(const tc_ctx *ctx, const tc_gemm_op *op, float *workspace);

/* Row-major B [K, N] packer; arg is a tc_dense_b. */
typedef struct tc_dense_b {
    const float *B;
    ptrdiff_t ldb;
    int trans;
    /* [K] or NULL: row k of B read as B[k][:] * row_scale[k] (a squeeze-and-excitation's gates,
     * conv.c tc_conv2d_scaled_f32), each product rounded once as the element-wise Mul's, so the
     * same bits as the GEMM on that Mul's output.  Every path applies it: the packers
     * (tc_pack_b_rowmajor, gemm.c pack_b_rows_block), the in-place tiles' aligned copy
     * (gemm_copy_ldb; where the driver would read B in place without one, it packs instead), the
     * channel-lane tiles a scaled copy in workspace.  Free only in the aligned copy
     * (tc_gemm_b_copied), which is where conv.c sets it */
    const float *row_scale;
} tc_dense_b;
/* Whether tc_gemm_run reads op's B (a tc_dense_b) through the in-place tiles' aligned copy of
 * each K block (gemm.c gemm_copy_ldb), where a tc_dense_b's row_scale costs no pass of its own */
int tc_gemm_b_copied(const tc_ctx *ctx, const tc_gemm_op *op);
/* Test hook (tests/test_gemm.py): C [M, N] = act(A [M, K] . (diag(row_scale) op(B)) + bias)
 * through tc_gemm_run as a 1x1 layer runs it: A packed into packed_a (tc_gemm_pack_a_size(M,
 * K) floats, or with chan tc_gemm_pack_a_chan_size(M, K) and the channel-lane tiles), op(B) a
 * tc_dense_b [K, N] (trans_b: stored [N, K]; ldb its row length), row_scale [K] or NULL, bias
 * [M] or NULL, relu 0 / 1.  workspace: tc_gemm_workspace_size(ctx) floats.  -1 where chan is
 * asked with trans_b (the channel-lane tiles read an untransposed B) */
int tc_gemm_scaled_b_f32(const tc_ctx *ctx, int M, int N, int K, const float *A, int chan,
                         float *packed_a, const float *B, ptrdiff_t ldb, int trans_b,
                         const float *row_scale, const float *bias, int relu, float *C,
                         float *workspace);
void tc_pack_b_rowmajor(const void *arg, int k0, int kc, int n0, int nc, float *dst, void *scratch,
                        int new_k);

#endif
