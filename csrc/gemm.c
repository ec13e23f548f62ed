/* Packed single-precision GEMM: portable micro-kernel, packing, the blocked
 * multi-threaded driver, BLAS-shaped sgemm and the dense (Linear) layer.
 *
 * Loop nest of one thread's block of C (BLIS order):
 *   for nc block of columns (NC)         B block lives in L2/L3
 *     for kc block of depth (KC)         pack B[kc, nc] (or use prepacked panels)
 *       for mc block of rows (MC)        A block lives in L2
 *         for each NR column panel       B micro-panel lives in L1
 *           for each MR row panel        micro-kernel: MR x NR tile in registers
 * Threads get static (row range x column range) rectangles of C.  An ISA with
 * a tile_inplace kernel (AVX-512, AVX2) skips the packing of a row-major B (the 1x1
 * convolutions' input) and reads its rows where they lie (gemm_b_inplace).
 */
#include <stdint.h>
#include <string.h>
#include "gemm_internal.h"

/* ------------------------------------------------------------------------ */
/* Micro-kernel (portable) and the shared scalar epilogue                   */
/* ------------------------------------------------------------------------ */

void tc_tile_store(const float *acc, ptrdiff_t ldacc, float *c, ptrdiff_t ldc, int mr, int nr,
                   int flags, const tc_tile_epi *e)
{
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        const float *ai = acc + i * ldacc;
        const float *ri = e->residual ? e->residual + i * e->ldr : NULL;
        float bi = e->bias ? e->bias[i] : 0.0f;
        const tc_act_k act = tc_act_at(&e->act, i);
        for (int j = 0; j < nr; j++) {
            float v = ai[j];
            if (flags & TC_UK_FIRST) {
                if (flags & TC_UK_ACCUM)
                    v += ci[j];
                v += bi;
                if (e->col_bias)
                    v += e->col_bias[j];
                if (ri)
                    v += ri[j];
            } else {
                v += ci[j];
            }
            ci[j] = (flags & TC_UK_LAST) ? tc_act_f32(act, v) : v;
        }
    }
}

/* a: [kc][MR]  b: [kc][NR]  c: [mr, nr] (leading dimension ldc)
 * Two passes over 8-column halves: 6x8 accumulators fit the 16 SSE registers
 * once gcc scalarises the fully unrolled array (6x16 would spill). */
static void ukernel_6x16_portable(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                  int mr, int nr, int flags, const tc_tile_epi *e, int pf_a)
{
    (void)pf_a;
    float out[MR * NR];
    for (int h = 0; h < NR; h += 8) {
        if (h >= nr)
            break;
        float acc[MR][8];
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < 8; j++)
                acc[i][j] = 0.0f;
        const float *ak = a, *bk = b + h;
        for (int k = 0; k < kc; k++) {
            for (int i = 0; i < MR; i++) {
                const float ai = ak[i];
                for (int j = 0; j < 8; j++)
                    acc[i][j] += ai * bk[j];
            }
            ak += MR;
            bk += NR;
        }
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < 8; j++)
                out[i * NR + h + j] = acc[i][j];
    }
    tc_tile_store(out, NR, c, ldc, mr, nr, flags, e);
}

/* packed: B panels [ceil(N/NR)][K][NR]  a: [K]  y: [N] */
static void gemv_panels_portable(int K, const float *a, const float *packed, int p0, int p1, int N,
                                 const float *bias, int act, float *y)
{
    for (int p = p0; p < p1; p++) {
        const float *b = packed + (size_t)p * K * NR;
        float acc[NR];
        memset(acc, 0, sizeof(acc));
        for (int k = 0; k < K; k++) {
            float ak = a[k];
            for (int j = 0; j < NR; j++)
                acc[j] += ak * b[j];
            b += NR;
        }
        int n0 = p * NR;
        tc_gemv_store(acc, n0, N - n0 < NR ? N - n0 : NR, bias, act, y);
    }
}

/* w: [Nout, K] row-major (ldw)  a: [K]  y: [Nout].  32 partial sums per row over blocks of
 * 32, paired into 8, then 8 over the rest (the AVX2 twin's four accumulators of 8 lanes), so
 * both paths add in a similar order. */
static void gemv_rows_portable(int K, const float *a, const float *w, ptrdiff_t ldw, int r0, int r1,
                               const float *bias, int act, float *y)
{
    for (int n = r0; n < r1; n++) {
        const float *wn = w + (size_t)n * ldw;
        float acc[32] = {0};
        int k = 0;
        for (; k + 32 <= K; k += 32)
            for (int j = 0; j < 32; j++)
                acc[j] += a[k + j] * wn[k + j];
        for (int j = 0; j < 8; j++)
            acc[j] = (acc[j] + acc[8 + j]) + (acc[16 + j] + acc[24 + j]);
        for (; k + 8 <= K; k += 8)
            for (int j = 0; j < 8; j++)
                acc[j] += a[k + j] * wn[k + j];
        float v = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for (; k < K; k++)
            v += a[k] * wn[k];
        y[n] = tc_act_f32(tc_act_of(act), v + (bias ? bias[n] : 0.0f));
    }
}

/* a: [kc][CH]  b: row k at b + k ldb  c: [mr <= CH, nr <= PX] (tc_ukernel_chan_fn):
 * each output the same operations as in ukernel_6x16_portable. */
static void ukernel_chan_portable(int kc, const float *a, const float *b, ptrdiff_t ldb, float *c,
                                  ptrdiff_t ldc, int mr, int nr, int flags, const tc_tile_epi *e,
                                  int pf_a)
{
    (void)pf_a;
    float out[TC_GEMM_CH * NR];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float acc = 0.0f;
            for (int k = 0; k < kc; k++)
                acc += a[k * TC_GEMM_CH + i] * b[k * ldb + j];
            out[i * NR + j] = acc;
        }
    tc_tile_store(out, NR, c, ldc, mr, nr, flags, e);
}

/* The portable micro-kernel handles nr <= NR/2 itself (it skips the second half). */
const tc_gemm_kernels tc_gemm_portable = {
    .tile = ukernel_6x16_portable,
    .tile_half = ukernel_6x16_portable,
    .gemv_panels = gemv_panels_portable,
    .gemv_rows = gemv_rows_portable,
    .tile_chan = ukernel_chan_portable,
};

/* ------------------------------------------------------------------------ */
/* Packing                                                                  */
/* ------------------------------------------------------------------------ */

size_t tc_gemm_pack_a_size(int M, int K) { return (size_t)((M + MR - 1) / MR) * MR * (size_t)K; }

size_t tc_gemm_pack_b_size(int K, int N) { return (size_t)((N + NR - 1) / NR) * NR * (size_t)K; }

typedef struct {
    const float *A;
    ptrdiff_t lda;
    int trans;
    float alpha;
} rowmajor_a;

/* dst[ceil(mc/MR)][kc][MR] = alpha * A[m0.., k0..] (zero rows past mc) */
static void pack_a_rowmajor(const void *varg, int m0, int mc, int k0, int kc, float *dst)
{
    const rowmajor_a *g = (const rowmajor_a *)varg;
    for (int i0 = 0; i0 < mc; i0 += MR) {
        int mr = mc - i0 < MR ? mc - i0 : MR;
        for (int k = 0; k < kc; k++) {
            float *d = dst + k * MR;
            for (int i = 0; i < mr; i++) {
                ptrdiff_t m = m0 + i0 + i, kk = k0 + k;
                d[i] = g->alpha * (g->trans ? g->A[kk * g->lda + m] : g->A[m * g->lda + kk]);
            }
            for (int i = mr; i < MR; i++)
                d[i] = 0.0f;
        }
        dst += (size_t)kc * MR;
    }
}

/* dst[ceil(nc/NR)][kc][NR] = B[k0.., n0..] (zero columns past nc); with a row_scale, row k
 * of B times row_scale[k] (each product rounded once, as the element-wise Mul's) */
void tc_pack_b_rowmajor(const void *varg, int k0, int kc, int n0, int nc, float *dst, void *scratch,
                        int new_k)
{
    const tc_dense_b *g = (const tc_dense_b *)varg;
    const float *rs = g->row_scale ? g->row_scale + k0 : NULL;
    (void)scratch;
    (void)new_k;
    for (int j0 = 0; j0 < nc; j0 += NR) {
        int nr = nc - j0 < NR ? nc - j0 : NR;
        if (!g->trans) {
            const float *src = g->B + (ptrdiff_t)k0 * g->ldb + n0 + j0;
            for (int k = 0; k < kc; k++) {
                float *d = dst + k * NR;
                const float *s = src + (ptrdiff_t)k * g->ldb;
                if (nr == NR && !rs) {
#if defined(__GNUC__) || defined(__clang__)
                    /* the rows of a panel are KC planes apart, too many streams for
                     * the hardware prefetcher: ask for the panel after next now */
                    __builtin_prefetch(s + 2 * NR);
#endif
                    memcpy(d, s, NR * sizeof(float));
                } else if (rs) {
                    const float sk = rs[k];
                    for (int j = 0; j < nr; j++)
                        d[j] = s[j] * sk;
                    for (int j = nr; j < NR; j++)
                        d[j] = 0.0f;
                } else {
                    for (int j = 0; j < nr; j++)
                        d[j] = s[j];
                    for (int j = nr; j < NR; j++)
                        d[j] = 0.0f;
                }
            }
        } else {
            /* B stored [N, K]: walk each stored row once, scatter into the panel */
            for (int j = 0; j < NR; j++) {
                if (j < nr) {
                    const float *s = g->B + (ptrdiff_t)(n0 + j0 + j) * g->ldb + k0;
                    if (rs)
                        for (int k = 0; k < kc; k++)
                            dst[k * NR + j] = s[k] * rs[k];
                    else
                        for (int k = 0; k < kc; k++)
                            dst[k * NR + j] = s[k];
                } else {
                    for (int k = 0; k < kc; k++)
                        dst[k * NR + j] = 0.0f;
                }
            }
        }
        dst += (size_t)kc * NR;
    }
}

/* dst[ceil(nc/NR)][kc][NR] = B[k0.., n0..] for an untransposed row-major B, row by row:
 * each row of B is read as one run of nc floats (a few cache lines of one page); a row_scale
 * as in tc_pack_b_rowmajor */
static void pack_b_rows_block(const tc_dense_b *g, int k0, int kc, int n0, int nc, float *dst)
{
    const int full = nc / NR * NR;
    for (int k = 0; k < kc; k++) {
        const float *s = g->B + (ptrdiff_t)(k0 + k) * g->ldb + n0;
#if defined(__GNUC__) || defined(__clang__)
        if (k + 4 < kc)
            __builtin_prefetch(s + 4 * g->ldb);
#endif
        float *d = dst + (size_t)k * NR;
        int j = 0;
        if (g->row_scale) {
            const float sk = g->row_scale[k0 + k];
            for (; j < full; j += NR, d += (size_t)kc * NR)
                for (int i = 0; i < NR; i++)
                    d[i] = s[j + i] * sk;
            if (j < nc) {
                for (int i = 0; i < nc - j; i++)
                    d[i] = s[j + i] * sk;
                for (int i = nc - j; i < NR; i++)
                    d[i] = 0.0f;
            }
            continue;
        }
        for (; j < full; j += NR, d += (size_t)kc * NR)
            memcpy(d, s + j, NR * sizeof(float));
        if (j < nc) {
            int r = nc - j;
            for (int i = 0; i < r; i++)
                d[i] = s[j + i];
            for (int i = r; i < NR; i++)
                d[i] = 0.0f;
        }
    }
}

/* A: [M, K] (trans_a: [K, M])  packed: for each K block [k0, k0 + kc) of the
 * driver (tc_gemm_kstep), [ceil(M/MR)][kc][MR] at packed + k0 * ceil(M/MR) * MR:
 * the driver then reads the weights of a block as one sequential stream. */
void tc_gemm_pack_a_f32(int M, int K, const float *A, ptrdiff_t lda, int trans_a, float alpha,
                        float *packed)
{
    rowmajor_a g = {A, lda, trans_a, alpha};
    const int kstep = tc_gemm_kstep(K);
    const size_t mp = (size_t)((M + MR - 1) / MR) * MR;
    for (int k0 = 0; k0 < K; k0 += kstep) {
        int kc = K - k0 < kstep ? K - k0 : kstep;
        for (int m0 = 0; m0 < M; m0 += MR) {
            int mc = M - m0 < MR ? M - m0 : MR;
            pack_a_rowmajor(&g, m0, mc, k0, kc, packed + (size_t)k0 * mp + (size_t)(m0 / MR) * kc * MR);
        }
    }
}

size_t tc_gemm_pack_a_chan_size(int M, int K)
{
    return (size_t)((M + TC_GEMM_CH - 1) / TC_GEMM_CH) * TC_GEMM_CH * (size_t)K;
}

/* A: [M, K] (lda)  packed: see gemm_internal.h */
void tc_gemm_pack_a_chan_f32(int M, int K, const float *A, ptrdiff_t lda, float *packed)
{
    const int kstep = tc_gemm_kstep(K);
    const size_t mp = (size_t)((M + TC_GEMM_CH - 1) / TC_GEMM_CH) * TC_GEMM_CH;
    for (int k0 = 0; k0 < K; k0 += kstep) {
        int kc = K - k0 < kstep ? K - k0 : kstep;
        for (int m0 = 0; m0 < M; m0 += TC_GEMM_CH) {
            float *d = packed + (size_t)k0 * mp + (size_t)(m0 / TC_GEMM_CH) * kc * TC_GEMM_CH;
            for (int k = 0; k < kc; k++)
                for (int i = 0; i < TC_GEMM_CH; i++)
                    d[k * TC_GEMM_CH + i] = m0 + i < M ? A[(ptrdiff_t)(m0 + i) * lda + k0 + k] : 0.0f;
        }
    }
}

/* B: [K, N] (trans_b: [N, K])  packed: [ceil(N/NR)][K][NR] */
void tc_gemm_pack_b_f32(int K, int N, const float *B, ptrdiff_t ldb, int trans_b, float *packed)
{
    tc_dense_b g = {B, ldb, trans_b};
    for (int n0 = 0; n0 < N; n0 += NR) {
        int nc = N - n0 < NR ? N - n0 : NR;
        tc_pack_b_rowmajor(&g, 0, K, n0, nc, packed + (size_t)(n0 / NR) * K * NR, NULL, 1);
    }
}

/* ------------------------------------------------------------------------ */
/* Blocked, threaded driver                                                 */
/* ------------------------------------------------------------------------ */

static int ctx_threads(const tc_ctx *ctx) { return ctx ? tc_pool_size(ctx->pool) : 1; }

size_t tc_gemm_workspace_size(const tc_ctx *ctx)
{
    return (size_t)ctx_threads(ctx) * TC_GEMM_WS_THREAD + 16;
}

static float *align64(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

typedef struct {
    const tc_gemm_op *op;
    tc_ukernel_fn uk;
    tc_ukernel_fn uk_half; /* for nr <= NR/2 */
    tc_ukernel_wide_fn uk_wide; /* two panels at once, or NULL */
    tc_ukernel_tall_fn uk_tall; /* two A panels by up to two B panels, or NULL */
    tc_ukernel_tall_fn uk_tall9; /* two A panels by a last B panel of NR / 2 + 1 columns */
    tc_ukernel_inplace_fn uk_inplace; /* B read unpacked (see gemm_b_inplace), or NULL */
    int inplace_rows; /* rows of C per uk_inplace call (kern->inplace_max_na panels) */
    int inplace_wide; /* after a sweep's first call, the block's other columns in one call
                         (kern->inplace_wide; with act_rows, which runs over a call's block
                         while it is in L1, only on 12-row sweeps: cold_c) */
    /* the deferred activation (tc_act_deferred: Sigmoid, SiLU), or NULL: the
     * tiles store the values before it, act_rows runs over each finished
     * MC x NR (2 NR) block while it is in L1 */
    void (*act_rows)(int kind, float *y, ptrdiff_t ldy, int rows, ptrdiff_t cols);
    float *ws;
    int tm, tn; /* thread grid: tm row ranges x tn column ranges */
    int mp, np; /* number of MR row panels / NR column panels */
    int pack_cols; /* > NR: pack B row by row, this many columns at a time */
    int cold_c; /* B in place into a C of at least TC_GEMM_COLD_C_BYTES: GEMM_C_COLD, or
                   GEMM_C_WARM below TC_GEMM_WARM_C_BYTES at one thread (gemm_mstep) */
    int copy_ldb; /* > 0: the in-place tiles read each K block of B from an aligned copy
                     with this leading dimension (gemm_copy_ldb) */
    void (*copy_rows_scaled)(const float *src, ptrdiff_t lds, const float *scale, int rows,
                             int cols, float *dst, ptrdiff_t ldd); /* kern's, or NULL */
} gemm_job;

/* The epilogue of the tile whose first element is C[m, n]. */
static tc_tile_epi tile_epi_at(const tc_epilogue *epi, int m, int n)
{
    tc_tile_epi te;
    te.bias = epi->bias ? epi->bias + m : NULL;
    te.col_bias = epi->col_bias ? epi->col_bias + n : NULL;
    te.residual = epi->residual ? epi->residual + m * epi->ldr + n : NULL;
    te.ldr = epi->ldr;
    te.act = epi->act;
    if (tc_act_deferred(te.act.kind))
        te.act.kind = TC_ACT_NONE; /* gemm_block's act_rows pass applies it */
    if (te.act.slope)
        te.act.slope += m; /* PRelu's per-channel slopes: this tile's rows */
    return te;
}

/* Rows of C per sweep over a B block.  With a shallow K each tile stores soon
 * after it starts, and a sweep writes mc rows of C that lie a whole image
 * plane apart, one 4 KiB page each: past the 64 entries of the first-level
 * data TLB every store misses it (MobileNetV2's 16->96 expansion at 112x112
 * ran at a third of the speed of 16->48).  A shorter sweep costs nothing
 * there: B is packed once per K block whatever the number of sweeps. */
/* A whole layer's output (cold_c: B in place, C of TC_GEMM_COLD_C_BYTES or more) is
 * seldom in cache, and each line of C it writes is fetched first: a sweep of 48 rows
 * plus the kc rows of B are more streams (one per 4 KiB page) than the L2 prefetcher
 * follows, and the fetches wait on L3.  12 rows keep them under its ~32.  Lone layers
 * with C evicted and B in cache before each run, as in a network (AVX2 emulation, 1
 * thread, thread CPU time, 20 alternating bursts of 5, 2026-12-02 00:31), 12 / 48 rows,
 * min (median): 16 -> 64 at 55x55 0.93 (0.83), 24 -> 72 at 56x56 0.93 (0.88), 24 -> 144
 * 0.92 (0.71), 24 -> 96 0.95 (0.83), 48 -> 104 0.99 (0.87), 32 -> 48 at 112x112 0.83
 * (0.70), 16 -> 48 0.93 (0.80).  In the networks (one session, both rules alternating,
 * 12 rounds of 4-5 profiled runs, 00:55): SqueezeNet's features.3 expand1x1 0.87 (0.71),
 * features.4's 1.01 (1.01); RegNetY's block1-0 a 0.99 (0.54), block2-0 a 0.93 (0.87),
 * the layers reading them 1.0.  With C in cache (a lone layer run in a loop, where
 * the earlier tries of 12 / 24 rows found nothing) the small maps lose 2-6%: an
 * inverted-residual band's expansion (its slot at most 640 KiB with the halo and the
 * depthwise rows, tinycnn/ops/fused_ir.py) stays under the size and keeps 48 rows.
 * Tried and left (s20, Zen 4, AVX2 kernels taking every row panel per call, 1 thread): 48 rows
 * on a cold C too.  Lone layers (pointwise_ab.c with ReLU, 8 MB written before each run, x
 * read back, 40 rounds, 2026-12-03 00:45), 48 / 12 rows, min (median): 24 -> 72 at 56x56
 * 0.95 (0.92), 24 -> 144 0.92 (0.90), 16 -> 48 at 112x112 0.98 (1.03), 16 -> 96 0.99 (1.02),
 * 16 -> 64 at 55x55 0.88 (0.87), 32 -> 48 at 112x112 0.93 (0.86), 64 -> 16 and 128 -> 16 at
 * 55x55 0.98-1.0 (1.0); 24 and 36 rows in between.  But the networks in one process
 * (subgraph_shapes.py --against, median [25-75%]): MobileNetV2 1.025 [0.975-1.033] and 1.016
 * [0.955-1.069], MnasNet 0.968 [0.907-1.084] and 1.003 [0.973-1.050], SqueezeNet 1.007,
 * RegNetY 1.003, MobileNetV3-Large and EfficientNet-B0 0.988, ShuffleNetV2 0.999. */
/* Re-measured after the wide in-place calls (s21, same protocol, 8 MB evicted before each run,
 * x read back, min of 10 rounds x 10, load 4-6, 2026-12-03 03:47), 48 / 12 rows on a cold C:
 * 16 -> 96, 16 -> 64, 16 -> 48 and 32 -> 48 at 112x112 0.93-0.95, 24 -> 144 at 56x56 0.93,
 * 24 -> 72 0.96, 16 -> 64 at 55x55 0.94, 48 -> 48 at 56x56 0.97, but 32 -> 16 at 112x112 (16
 * rows: 12 + 4 against one sweep) 1.02-1.07; not taken (s20's networks did not show 48 rows'
 * lone gain): a lead for M > 16, to be measured in the networks. */
/* Re-measured on the target with strip16_fixed (Zen 3, native, 1 thread, 2026-12-03 18:1x, load
 * 6-8 on 2 cores), 24 / 12 rows on a cold C: lone layers (pointwise_ab.c, median of 200 pairs)
 * 16 -> 64 at 55x55 0.94, 16 -> 72 and 24 -> 144 at 56x56 0.97 / 0.95, 16 -> 48 and 32 -> 48 at
 * 112x112 0.93 / 0.94, 16 -> 96 1.01, 32 -> 16 1.06; the networks in one process
 * (subgraph_shapes.py, 15 rounds, median): SqueezeNet 1.016, RegNetY 0.996, V3-Small 1.019.
 * Not taken. */
/* ... but a C of less than TC_GEMM_WARM_C_BYTES (half the 2 MiB L2 of the Intel Xeon host) at
 * one thread is in L2 in the networks: the planner's first-fit arena (planner.py
 * _assign_offsets) puts a step's output where a dead input lay, often the one the step before
 * just read (SqueezeNet's 55x55 expand1x1s write over what their squeeze read).  There 12-row
 * sweeps read the block's rows of B from L2 once a sweep (6 times for M = 64), where one sweep
 * over all of C's rows (up to TC_GEMM_MC_WARM) reads each 16-column strip of B from L2 once and
 * from L1 for the rest.  The same FMAs per output: the same bits.  h43-sq (2026-12-06, Intel
 * Xeon, AVX2 emulation, 1 thread, benchmarks/env_steps_ab.py under chrt -f 10: one session a
 * process, variants alternating, 8-10 rounds x 120-150 runs, step minima; a getenv switch for
 * TC_GEMM_MC_COLD in an experimental build, fma_peak 80-84 GF/s): SqueezeNet's features.3 /
 * .4 expand1x1 (16 -> 64 at 55x55, C 756 KiB) with 66 rows 0.848 / 0.840 of the 12-row time
 * (91.1 -> 77.2, 92.2 -> 77.5 us; 48 rows 0.879 / 0.880, 24 rows 0.911 / 0.912), the run's
 * step sum 0.993; ShuffleNetV2's stage2.0 branch2.0 (24 -> 58 at 56x56, 710 KiB) 0.948;
 * RegNetY's block1-0 c (48 -> 48 at 56x56, 588 KiB) 0.935; the rest of those networks and
 * MobileNetV2 level (the switch also took the larger Cs).  At 2 threads the same switch read
 * ShuffleNetV2's and RegNetY's layers 1.10-1.16 (a noisy hour, not pursued): one thread only;
 * nor with a deferred activation (SiLU's act_rows after each call, not measured).
 * Re-measured on the Zen 3 target (512 KiB L2, where none of these Cs fits; h53-l2, 2026-12-07,
 * 1 thread, the same bits): a bound of 512 KiB (12-row sweeps for every C past the cold bound)
 * read the three layers above 1.091 / 1.077 / 1.080 of this one's time alone
 * (gemm_two_builds.py, 60 rounds x 10; control 24 -> 72 at 56x56 1.006); 4 MiB (66 rows up to
 * 2.4 MB Cs) 0.94 on 24 -> 144 at 56x56, 0.97-1.02 on the 112x112 shallow layers, whole
 * networks 0.995-1.009 (ab_threads.py --fifo, 16 x 10): the bound is not the L2's size here
 * either, it stays.  66 rows at 2 threads too: benchmarks/gemm_warm_mt.patch. */
#define TC_GEMM_WARM_C_BYTES (1024 * 1024)
#ifndef TC_GEMM_MC_WARM
#define TC_GEMM_MC_WARM 66
#endif
enum { GEMM_C_ANY = 0, GEMM_C_COLD = 1, GEMM_C_WARM = 2 };

static int gemm_mstep(int kc, int c_kind)
{
    return kc >= TC_GEMM_MSTEP_SHALLOW_K ? TC_GEMM_MC
           : c_kind == GEMM_C_COLD       ? TC_GEMM_MC_COLD
           : c_kind == GEMM_C_WARM       ? TC_GEMM_MC_WARM
                                         : TC_GEMM_MC_SHALLOW;
}

/* dst[r][0..cols) = src[r][0..cols) * scale[r] (ldd apart): the kernel table's copy, or this
 * loop (the same products) */
static void gemm_copy_scaled(void (*copy_rows_scaled)(const float *, ptrdiff_t, const float *, int,
                                                      int, float *, ptrdiff_t),
                             const float *src, ptrdiff_t lds, const float *scale, int rows,
                             int cols, float *dst, ptrdiff_t ldd)
{
    if (copy_rows_scaled) {
        copy_rows_scaled(src, lds, scale, rows, cols, dst, ldd);
        return;
    }
    for (int k = 0; k < rows; k++) {
        const float sk = scale[k];
        const float *s = src + (ptrdiff_t)k * lds;
        float *d = dst + (ptrdiff_t)k * ldd;
        for (int i = 0; i < cols; i++)
            d[i] = s[i] * sk;
    }
}

static void gemm_block(const gemm_job *job, int m0, int m1, int n0, int n1, float *wsa, float *wsb,
                       void *scratch)
{
    const tc_gemm_op *op = job->op;
    const int K = op->K;
    const tc_epilogue *epi = &op->epi;
    const int kstep = tc_gemm_kstep(K);
    const size_t mp = (size_t)job->mp * MR; /* rows of packed A */
    for (int nc0 = n0; nc0 < n1; nc0 += TC_GEMM_NC) {
        int nc = n1 - nc0 < TC_GEMM_NC ? n1 - nc0 : TC_GEMM_NC;
        for (int kc0 = 0; kc0 < K; kc0 += kstep) {
            int kc = K - kc0 < kstep ? K - kc0 : kstep;
            int flags = (kc0 == 0 ? TC_UK_FIRST | (op->accumulate ? TC_UK_ACCUM : 0) : 0) |
                        (kc0 + kc >= K ? TC_UK_LAST : 0);
            const float *bbase;
            size_t bstride;
            if (op->b_packed) {
                bbase = op->b_packed + (size_t)(nc0 / NR) * K * NR + (size_t)kc0 * NR;
                bstride = (size_t)K * NR;
            } else {
                bbase = wsb;
                bstride = (size_t)kc * NR;
            }
            const int mstep = gemm_mstep(kc, job->cold_c);
            for (int mc0 = m0; mc0 < m1; mc0 += mstep) {
                int mc = m1 - mc0 < mstep ? m1 - mc0 : mstep;
                const float *abase;
                size_t astride;
                if (op->a_packed) {
                    abase = op->a_packed + (size_t)kc0 * mp + (size_t)(mc0 / MR) * kc * MR;
                    astride = (size_t)kc * MR;
                } else {
                    op->pack_a(op->a_arg, mc0, mc, kc0, kc, wsa);
                    abase = wsa;
                    astride = (size_t)kc * MR;
                }
                if (job->uk_inplace) {
                    /* B row-major where it lies: 12x32 tiles, no packing.
                     * A shallow K (16 to 32) pays ~3 cycles per 8 outputs beyond its FMAs
                     * (AVX2 emulation, 2026-12-01: c -> 72 at 56x56 is 60 + 33 c/8 us, the
                     * FMAs at peak; 16 -> 64 at 55x55 86 us where ORT's node takes ~71).
                     * Tried without gain, lone layers, alternating: sweeping the columns
                     * for each 12-row panel (rows outer), prefetching the next tile's C
                     * rows, one call per panel for all its 16-column tiles, mstep 12 / 24 /
                     * 96, no C prefetch below kc 64 (1-2% lone, noise in the networks),
                     * 2 MiB pages for B and C.  Without a bias the 8 -> 72 layer ran 5-10%
                     * faster: the epilogue is part of it.
                     * Located (s13, lone layers, 2026-12-02): with neither C's stores nor its
                     * prefetches the tiles run at 86-98 of the 96 GF/s FMA peak (16 -> 64 at
                     * 55x55 71 -> 86 GF/s); either alone costs as much: the rest is fetching
                     * C's lines (gemm_mstep's cold_c).  Tried without gain: prefetchw for C
                     * (noise), C prefetched a 12-row call ahead (noise), C stored
                     * non-temporally at 2 MB and up (RegNetY's 32 -> 48 at 112x112 no faster
                     * in the network, and the next layer, reading it from memory, 1.19x).
                     * Tried without gain (s15b, lone 1x1 + ReLU, AVX2 emulation, 1 thread,
                     * thread CPU min of 60 runs x 3 alternating rounds vs the driver as it
                     * is, hot / after a 32 MB eviction stream, 2026-12-02 07:2x): the next A
                     * block (next 120 rows or next K block) prefetched by the tiles of the
                     * second column sweep (pf_a = its offset, panel for panel): hot 1-2%
                     * slower (440 <- 440 at 7x7 190 -> 192 us, 1280 <- 320 at 7x7 399 ->
                     * 408), cold no faster (206-223 -> 205-213, 166-173 -> 169-183 for 160
                     * <- 960); the next block in equal shares of T1 prefetches after each
                     * call: cold 1.1x slower (206-220 -> 229-257, 1280 <- 320 385-435 ->
                     * 461-479), in the networks the sum of step minima 1.015 (RegNetY),
                     * 1.018 (MobileNetV2), 1.031 (MnasNet).  The "cold" cost stays when a
                     * run right after the eviction warms the weights before the timed one
                     * (440 <- 440: 205-207 us against 189-191 back to back): most of it is
                     * not the weights' fetch, which the tiles' own prefetch 2 KiB ahead
                     * and the L2 streamer already hide.
                     * Where the 1x1 layers of 14x14 and 7x7 maps stand (s18, Zen 4, AVX2 kernels,
                     * 1 thread, 2026-12-02 16:51, the host quiet for once): lone, with bias and
                     * Clip or residual, every MobileNetV2 / MnasNet / EfficientNet-B0 / V3-Large
                     * shape at 101-108 GF/s, 94-100% of the 108 GF/s FMA peak (fma_peak.c), min
                     * of 100 runs (benchmarks/pointwise_ab.c); pointwise_shapes.py --min:
                     * onnxruntime's lone layers 86-103 GF/s (tinycnn 1.03-1.19x faster at 14x14,
                     * 1.00-1.07x at 7x7).  onnxruntime's nodes in the networks (its profiler, min
                     * of 60 runs) run about as fast: MobileNetV2 features.12's 96 -> 576 and
                     * 576 -> 96 at 14x14 222 and 206 us (98 and 106 GF/s), MnasNet layers.12's
                     * 192 -> 1152 and 1152 -> 192 at 7x7 241 and 232 us.  In the networks (this
                     * driver timed per call, thread CPU, mean of 200 runs, load 7 on 2 cores) the
                     * same GEMMs ran at 71-87 GF/s, about onnxruntime's medians there.  Little is
                     * left in these tiles at 1 thread: ~5% at best.  Re-measured: the aligned
                     * copy of B at 14x14 too (TC_GEMM_COPY_MAX_N_AVX2 208) 1.00-1.05 of the time.
                     * Tried without gain (s19, Zen 4, AVX2 kernels, 1 thread, pointwise_ab.c
                     * with ReLU, 20 rounds, load 5 on 2 cores, 2026-12-02 20:57): on maps whose
                     * B rows lie a page or more apart (ldb >= 1024), each tile call prefetching
                     * (T1) its share of the next 32-column tile's kc rows of B: SqueezeNet's
                     * squeezes 64 -> 16 and 128 -> 16 at 55x55 min 1.01 / 0.98 (median 0.97 /
                     * 0.95), everything else slower: 16 -> 64 at 55x55 1.05, 24 -> 144 and
                     * 96 -> 24 at 56x56 1.08, 48 -> 48 1.06, 16 -> 96 and 32 -> 48 at 112x112
                     * 1.08 / 1.05 (the L2 streamer already follows each row of B).
                     * SqueezeNet's and RegNetY's 1x1 layers (s19, same protocol, 20-30 rounds,
                     * min): RegNetY 208 -> 440 and 208 -> 208 at 14x14 107 GF/s (335 and 159
                     * us), 104 -> 208 at 28x28 108; SqueezeNet's 13x13 layers 92-104, its
                     * classifier 512 -> 1000 at 13x13 (packed B) 104-107 (256 -> 1000: 100, so
                     * its second K block costs nothing), 64 -> 16 and 128 -> 16 at 55x55 84-89
                     * and 67-86, 16 -> 64 at 55x55 76-78.  In a session RegNetY's 208 -> 440
                     * took 357 us (min of 2000 runs); against onnxruntime in one process
                     * (subgraph_shapes.py, 21-31 rounds) 0.995, 1.16, 1.19 of its time,
                     * moving with the load: session 18's 1.15 is not in these tiles. */
                    const tc_dense_b *g = (const tc_dense_b *)op->b_arg;
                    const int a_in_l1 = (size_t)mc * kc * sizeof(float) <= TC_GEMM_PF_A_L1_BYTES;
                    const float *bblk = g->B + (ptrdiff_t)kc0 * g->ldb + nc0;
                    ptrdiff_t ldb = g->ldb;
                    if (job->copy_ldb) {
                        /* the block's rows at 64-byte boundaries (gemm_copy_ldb), copied by
                         * the first sweep, read by all */
                        if (mc0 == m0 && g->row_scale) {
                            /* the gates' products, as the element-wise Mul it replaces */
                            gemm_copy_scaled(job->copy_rows_scaled, bblk, g->ldb,
                                             g->row_scale + kc0, kc, nc, wsb, job->copy_ldb);
                        } else if (mc0 == m0) {
                            for (int k = 0; k < kc; k++)
                                memcpy(wsb + (size_t)k * job->copy_ldb, bblk + (ptrdiff_t)k * g->ldb,
                                       (size_t)nc * sizeof(float));
                        }
                        bblk = wsb;
                        ldb = job->copy_ldb;
                    }
                    for (int jr = 0, nr; jr < nc; jr += nr) {
                        /* 33 columns as 16 + 17: the tile takes a 17th column
                         * (AVX2), a lone one would run a tile of its own.
                         * A last 5 to 8 columns still cost about a 16-column tile's
                         * time; a last 1 to 4 (a 14x14 map's 196 = 12 x 16 + 4) take
                         * the AVX2 kernel's rows-in-lanes tail tile (gemm_avx2.c), 4%
                         * of the layer, was 8% on masked 6x8 tiles (6 dependent FMA
                         * chains each).  Before that tile: AVX2 kernels on the host, 1 thread,
                         * thread CPU time, lone 480 <- 80 with bias + ReLU (s15,
                         * 2026-12-02 06:38, FMA peak 108-110 GF/s): N 192 157 us, 194
                         * 170, 196 172, 200 167, 204 181, 208 175; 1152 <- 192 at N 48
                         * 204-207 us, 49 216-226.  Where the small maps stand, same
                         * protocol: 7x7 (N 49) 96-100 GF/s, 14x14 87-95, 240 <- 40 at
                         * 28x28 94, 72 <- 24 at 56x56 80; without the bias + ReLU 1-3%
                         * faster at most. */
                        nr = nc - jr == 2 * NR + 1 ? NR : nc - jr < 2 * NR ? nc - jr : 2 * NR;
                        /* After the first call (it prefetches the A block into L1), the
                         * rest of the block's columns in one call where the kernel takes
                         * them (inplace_wide): the same tiles in the same order, and a
                         * shallow K paid the call's fixed cost (the epilogue pointers, the
                         * kernel's prologue) every 2 x 16 columns of 12 or 48 rows.  The
                         * same bits.  s21, Zen 4, AVX2 emulation, 1 thread, lone layers
                         * with bias and ReLU or Clip (pointwise_ab.c, min of 10-20 rounds x
                         * 10 runs; 8 MB written before each run, x read back), against
                         * integ20: 16 -> 64 at 55x55 0.91-0.97, 24 -> 72 at 56x56 0.94-0.95,
                         * 24 -> 144 0.95-0.99, 16 -> 48 / 16 -> 64 / 32 -> 16 / 32 -> 48 at
                         * 112x112 0.93-0.99, 32 -> 192 and 40 -> 240 at 28x28 0.96-0.97;
                         * with SiLU (act_rows after the wide call) 16 -> 96 at 112x112,
                         * 40 -> 240 at 28x28, 16 -> 64 at 55x55 0.95-0.97, 24 -> 144 at
                         * 56x56 0.74-0.90; K of 64 and more (A past L1: every call
                         * prefetches it) unchanged.  Tried without gain: A's prefetch left
                         * out up to 32 KiB (TC_GEMM_PF_A_L1_BYTES; 192 -> 32 at 28x28,
                         * 256 -> 32 at 27x27: wide calls too) 0.99-1.0. */
                        if (jr && job->inplace_wide && a_in_l1)
                            nr = nc - jr;
                        int n = nc0 + jr;
                        const float *b = bblk + jr;
                        /* Tried and left (h38-mn, Intel Xeon, AVX2 kernels, 1 thread,
                         * 2026-12-05): the first sweep over a deep A block (not a_in_l1, 4+
                         * calls) in two interleaved halves, calls 0, h, 1, h + 1, ...: two
                         * streams of weights from memory, as the classifier's GEMV gained
                         * (gemm_avx2.c tc_gemv_rows_avx2).  MnasNet, steps_ab.py 30 rounds x 5,
                         * each order (it / base, base / it): layers.12 0.997 / 0.989, .13
                         * 0.976 / 0.996, .14 1.002 / 1.000: level (the tiles' own prefetch 2
                         * KiB ahead already keeps this stream's lines in flight). */
                        for (int ir = 0; ir < mc; ir += job->inplace_rows) {
                            int mr = mc - ir < job->inplace_rows ? mc - ir : job->inplace_rows;
                            int m = mc0 + ir;
                            tc_tile_epi te = tile_epi_at(epi, m, n);
                            job->uk_inplace(kc, abase + (size_t)(ir / MR) * astride,
                                            (ptrdiff_t)astride, (mr + MR - 1) / MR, b, ldb,
                                            op->C + m * op->ldc + n, op->ldc, mr, nr, flags, &te,
                                            jr && a_in_l1 ? 0 : TC_GEMM_PF_A_INPLACE);
                        }
                        if (job->act_rows && (flags & TC_UK_LAST))
                            job->act_rows(epi->act.kind, op->C + mc0 * op->ldc + n, op->ldc, mc, nr);
                    }
                    continue;
                }
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    const float *b = bbase + (size_t)(jr / NR) * bstride;
                    if (job->uk_wide && nc - jr > NR) {
                        /* two panels per call: MobileNet's 7x7 maps are 49 = 32 + 17 */
                        int nr2 = nc - jr < 2 * NR ? nc - jr : 2 * NR;
                        if (!op->b_packed && mc0 == m0) {
                            op->pack_b(op->b_arg, kc0, kc, nc0 + jr, NR, (float *)b, scratch,
                                       jr == 0);
                            op->pack_b(op->b_arg, kc0, kc, nc0 + jr + NR, nr2 - NR,
                                       (float *)(b + bstride), scratch, 0);
                        }
                        int n = nc0 + jr;
                        for (int ir = 0; ir < mc; ir += MR) {
                            int mr = mc - ir < MR ? mc - ir : MR;
                            int m = mc0 + ir;
                            tc_tile_epi te = tile_epi_at(epi, m, n);
                            if (job->uk_tall && mc - ir > MR) {
                                mr = mc - ir < 2 * MR ? mc - ir : 2 * MR;
                                job->uk_tall(kc, abase + (size_t)(ir / MR) * astride,
                                             (ptrdiff_t)astride, b, (ptrdiff_t)bstride,
                                             op->C + m * op->ldc + n, op->ldc, mr, nr2, flags, &te,
                                             TC_GEMM_PF_A);
                                ir += MR; /* and MR more by the loop */
                                continue;
                            }
                            job->uk_wide(kc, abase + (size_t)(ir / MR) * astride, b,
                                         (ptrdiff_t)bstride, op->C + m * op->ldc + n, op->ldc,
                                         mr, nr2, flags, &te, TC_GEMM_PF_A);
                        }
                        if (job->act_rows && (flags & TC_UK_LAST))
                            job->act_rows(epi->act.kind, op->C + mc0 * op->ldc + n, op->ldc, mc, nr2);
                        jr += NR; /* and NR more by the loop */
                        continue;
                    }
                    /* pack each B micro-panel just before its first use: it is
                     * then in L1 for the whole sweep over the A panels */
                    if (!op->b_packed && mc0 == m0) {
                        if (job->pack_cols > NR) {
                            if (jr % job->pack_cols == 0)
                                pack_b_rows_block((const tc_dense_b *)op->b_arg, kc0, kc, nc0 + jr,
                                                  nc - jr < job->pack_cols ? nc - jr : job->pack_cols,
                                                  (float *)b);
                        } else {
                            op->pack_b(op->b_arg, kc0, kc, nc0 + jr, nr, (float *)b, scratch, jr == 0);
                        }
                    }
                    int n = nc0 + jr;
                    /* a narrow last panel (small images: 7x7 = 3 x 16 + 1)
                     * runs the half-width kernel */
                    tc_ukernel_fn uk = nr <= NR / 2 ? job->uk_half : job->uk;
                    /* one B panel, two A panels: 12 FMAs per load of B; or a last 9 columns
                     * (SqueezeNet's classifier: 169 = 10 x 16 + 9) by AVX2's tile_8p 2x1, 14
                     * FMA chains where one panel ran 7; the same bits */
                    tc_ukernel_tall_fn tall = job->uk_tall ? job->uk_tall
                                              : nr == NR / 2 + 1 ? job->uk_tall9 : NULL;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        int m = mc0 + ir;
                        tc_tile_epi te = tile_epi_at(epi, m, n);
                        if (tall && mc - ir > MR) {
                            mr = mc - ir < 2 * MR ? mc - ir : 2 * MR;
                            tall(kc, abase + (size_t)(ir / MR) * astride, (ptrdiff_t)astride, b,
                                 0, op->C + m * op->ldc + n, op->ldc, mr, nr, flags, &te,
                                 TC_GEMM_PF_A);
                            ir += MR;
                            continue;
                        }
                        uk(kc, abase + (size_t)(ir / MR) * astride, b, op->C + m * op->ldc + n,
                           op->ldc, mr, nr, flags, &te, TC_GEMM_PF_A);
                    }
                    if (job->act_rows && (flags & TC_UK_LAST))
                        job->act_rows(epi->act.kind, op->C + mc0 * op->ldc + n, op->ldc, mc, nr);
                }
            }
        }
    }
}

/* Range i of t over np panels of width w: panels [np i / t, np (i + 1) / t), the last one
 * ending at n (it may hold more than w: gemm_task). */
static void gemm_range(int np, int t, int i, int w, int n, int *n0, int *n1)
{
    const int p0 = (int)((long)np * i / t), p1 = (int)((long)np * (i + 1) / t);
    *n0 = p0 * w;
    *n1 = p1 == np ? n : p1 * w < n ? p1 * w : n;
}

/* The longest of the t ranges */
static int gemm_range_max(int np, int t, int w, int n)
{
    int longest = 0;
    for (int i = 0; i < t; i++) {
        int n0, n1;
        gemm_range(np, t, i, w, n, &n0, &n1);
        longest = n1 - n0 > longest ? n1 - n0 : longest;
    }
    return longest;
}

static void gemm_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const gemm_job *job = (const gemm_job *)varg;
    const tc_gemm_op *op = job->op;
    float *ws = align64(job->ws + (size_t)tid * TC_GEMM_WS_THREAD);
    float *wsb = ws, *wsa = ws + TC_GEMM_WS_B, *scratch = wsa + TC_GEMM_WS_A;
    for (ptrdiff_t t = begin; t < end; t++) {
        int m0, m1, n0, n1;
        gemm_range(job->mp, job->tm, (int)(t / job->tn), MR, op->M, &m0, &m1);
        gemm_range(job->np, job->tn, (int)(t % job->tn), NR, op->N, &n0, &n1);
        if (m0 < m1 && n0 < n1)
            gemm_block(job, m0, m1, n0, n1, wsa, wsb, scratch);
    }
}

/* C = epilogue(0) when K == 0 */
static void gemm_empty_k(const tc_gemm_op *op)
{
    const tc_epilogue *e = &op->epi;
    for (int m = 0; m < op->M; m++)
        for (int n = 0; n < op->N; n++) {
            float *c = op->C + m * op->ldc + n;
            float v = op->accumulate ? *c : 0.0f;
            if (e->bias)
                v += e->bias[m];
            if (e->col_bias)
                v += e->col_bias[n];
            if (e->residual)
                v += e->residual[m * e->ldr + n];
            *c = tc_act_f32(tc_act_at(&e->act, m), v);
        }
}

/* Read a row-major B where it lies instead of packing it, when the ISA has a
 * tile for that.  Measured on the 1x1 convolutions of MobileNetV2, MnasNet,
 * EfficientNet-B0 and ResNet-50 (benchmarks/pointwise_shapes.py, 2026-11-30):
 * 0.55-0.83 of the packed time up to 1280 x 320 weights, but 1.2-1.45 on
 * ResNet-50's 2048 x 512 ones (M K = 1 Mi: A no longer fits L2 beside the
 * scattered rows of B, which a packed block keeps contiguous).  Not the L2's size: on the Zen 3
 * target (512 KiB L2; h53-l2, 2026-12-07, 1 thread, pointwise_ab.c, 12 rounds, the same bits) a
 * bound of 128 Ki (A within that L2) packs the 7x7 layers of 160 -> 960 .. 1152 -> 320 and
 * reads them 1.16-1.22 of their in-place time (sum of the 19 shapes 1.085). */
#define TC_GEMM_INPLACE_MAX_MK (512 * 1024)

/* The channel-lane tiles (op->a_chan): threads take CH-row panels of C.  Per K
 * block the panel's A (kc x CH, 20 KiB at most) stays in L1 while its tiles
 * sweep the pixels, and the block of B (kc x N) stays in L2 across panels. */
typedef struct {
    const tc_gemm_op *op;
    tc_ukernel_chan_fn uk;
    void (*act_rows)(int kind, float *y, ptrdiff_t ldy, int rows, ptrdiff_t cols);
    int k0, k1; /* the K blocks [k0, k1) of op (whole blocks of tc_gemm_kstep) */
    int n0, n1; /* the columns [n0, n1) of C */
    const float *b; /* B's row k0, column n0: row k0 + k at b + k ldb */
    ptrdiff_t ldb;
} chan_job;

/* Pixels of the channel-lane tile that starts rem pixels before the end of the row: 6, and
 * no tile of 1 to 3 pixels where tiles of 4 and 5 cover the rest (13 = 5 + 4 + 4, 8 = 4 + 4,
 * 9 = 5 + 4, 7 = 4 + 3).  A tile's FMAs are 2 chains per pixel, and 4 cycles apart (their
 * latency): under 4 pixels it waits on them, and 1 pixel took 2/3 of a 6-pixel tile's time.
 * Lone layers (AVX2 emulation, 1 thread, min of 60 alternating runs, 2026-12-01): 0.93-0.96
 * of the time at 13 pixels, 0.95-0.98 at 25 (5x5), 0.94-0.99 at 9 (3x3), 0.98 at 49. */
static int chan_width(int rem)
{
    if (rem == 7 || rem == 8)
        return 4;
    if (rem == 9 || rem == 13)
        return 5;
    return rem < TC_GEMM_PX ? rem : TC_GEMM_PX;
}

static void gemm_chan_task(void *varg, int tid, ptrdiff_t p0, ptrdiff_t p1)
{
    const chan_job *job = (const chan_job *)varg;
    const tc_gemm_op *op = job->op;
    const int K = op->K, kstep = tc_gemm_kstep(K), n0 = job->n0, n1 = job->n1;
    const size_t mp = (size_t)((op->M + TC_GEMM_CH - 1) / TC_GEMM_CH) * TC_GEMM_CH;
    (void)tid;
    for (int kc0 = job->k0; kc0 < job->k1; kc0 += kstep) {
        int kc = K - kc0 < kstep ? K - kc0 : kstep;
        int flags = (kc0 == 0 ? TC_UK_FIRST | (op->accumulate ? TC_UK_ACCUM : 0) : 0) |
                    (kc0 + kc >= K ? TC_UK_LAST : 0);
        const float *bk = job->b + (ptrdiff_t)(kc0 - job->k0) * job->ldb;
        for (ptrdiff_t p = p0; p < p1; p++) {
            const float *a = op->a_packed + (size_t)kc0 * mp + (size_t)p * kc * TC_GEMM_CH;
            int m = (int)p * TC_GEMM_CH, mr = op->M - m < TC_GEMM_CH ? op->M - m : TC_GEMM_CH;
            for (int n = n0, nr; n < n1; n += nr) {
                nr = chan_width(n1 - n);
                tc_tile_epi te = tile_epi_at(&op->epi, m, n);
                /* the first tile brings the panel of A into L1 (prefetch ahead in
                 * it), the last one fetches the next panel's */
                int pf = n == n0 ? 4 * TC_GEMM_CH : n + nr >= n1 ? kc * TC_GEMM_CH : 0;
                job->uk(kc, a, bk + (n - n0), job->ldb, op->C + m * op->ldc + n, op->ldc, mr, nr,
                        flags, &te, pf);
            }
            if (job->act_rows && (flags & TC_UK_LAST))
                job->act_rows(op->epi.act.kind, op->C + m * op->ldc + n0, op->ldc, mr, n1 - n0);
        }
    }
}

/* The threads tc_gemm_run splits op over: one below 2e5 flops. */
static int gemm_threads(const tc_ctx *ctx, const tc_gemm_op *op)
{
    return 2.0 * op->M * op->N * op->K < 2e5 ? 1 : ctx_threads(ctx);
}

static void gemm_chan_panels(const tc_ctx *ctx, const tc_gemm_op *op, chan_job *job)
{
    int panels = (op->M + TC_GEMM_CH - 1) / TC_GEMM_CH;
    if (gemm_threads(ctx, op) == 1)
        gemm_chan_task(job, 0, 0, panels);
    else
        tc_parallel_for_dynamic(ctx->pool, panels, 1, gemm_chan_task, job);
}

/* workspace: tc_gemm_workspace_size(ctx) floats, used only where B has a row_scale */
static void gemm_chan_run(const tc_ctx *ctx, const tc_gemm_op *op, const tc_gemm_kernels *kern,
                          float *workspace)
{
    const tc_dense_b *g = (const tc_dense_b *)op->b_arg;
    chan_job job = {op, kern->tile_chan,
                    tc_act_deferred(op->epi.act.kind) ? tc_eltwise_kernels_of(ctx)->act_rows : NULL,
                    0, op->K, 0, op->N, g->B, g->ldb};
    if (!g->row_scale) {
        gemm_chan_panels(ctx, op, &job);
        return;
    }
    /* The channel-lane tiles read B where it lies: with a row_scale, each K block's scaled
     * rows from a copy in workspace (the element-wise Mul's products), as many columns at a
     * time as it holds, K blocks in order as the tiles take them: each output the same FMAs
     * and epilogue as on x * g, so the same bits (a kc x 640 block fits one thread's share). */
    const int K = op->K, kstep = tc_gemm_kstep(K);
    const size_t room = tc_gemm_workspace_size(ctx) - 16;
    float *copy = align64(workspace);
    for (int kc0 = 0; kc0 < K; kc0 += kstep) {
        const int kc = K - kc0 < kstep ? K - kc0 : kstep;
        const int w = room / (size_t)kc < (size_t)op->N ? (int)(room / (size_t)kc) : op->N;
        for (int n0 = 0; n0 < op->N; n0 += w) {
            const int nc = op->N - n0 < w ? op->N - n0 : w;
            gemm_copy_scaled(kern->copy_rows_scaled, g->B + (ptrdiff_t)kc0 * g->ldb + n0, g->ldb,
                             g->row_scale + kc0, kc, nc, copy, nc);
            job.k0 = kc0, job.k1 = kc0 + kc, job.n0 = n0, job.n1 = n0 + nc;
            job.b = copy, job.ldb = nc;
            gemm_chan_panels(ctx, op, &job);
        }
    }
}

/* Past the page limit, B still read in place where it fits L2 (K ldb floats at most
 * TC_GEMM_INPLACE_FEW_ROWS_B) and C has few rows: a packed panel then serves few tiles (3
 * for M = 16), and packing it costs more than the in-place tiles lose.  Lone layers (AVX2
 * emulation, 1 thread, thread CPU time, min / median of 80 runs in 10 alternating bursts,
 * 2026-12-01 17:11), in place / packed: M <= 48 on maps up to 31x31 (ldb < 1024): 144 -> 32,
 * 192 -> 32, 384 -> 32, 256 -> 48 at 28x28 0.91-0.94, 256 -> 32 at 27x27 0.90, 240 -> 40
 * 0.95-0.98, 120 -> 40 and 128 -> 32 0.98-1.0, 192 -> 16 and 256 -> 16 0.60-0.77; on larger
 * maps only M <= 16 with K >= 128 wins (128 -> 16 at 55x55 and 56x56 0.82-0.86, 144 -> 16
 * 0.95; 24..96 -> 16 0.94-1.04), M = 24..32 loses (144 -> 24, 72 -> 24 at 56x56, 128 -> 32
 * at 55x55: 1.03-1.08), and so does 256 -> 16 at 56x56 (B 3.2 MB: 1.06-1.18).  In the
 * networks (per-step minimum of 24-48 profiled runs, alternating, 17:33-17:35): EfficientNet-B0's
 * SE-scaled projections 144 -> 40 and 240 -> 40 at 28x28 0.80-0.81, MobileNetV2's 192 -> 32
 * at 28x28 0.80-0.87, SqueezeNet's squeezes 128 -> 16 at 55x55 and 256 -> 32 at 27x27 0.90,
 * GoogLeNet's 192 -> 16, 192 -> 32, 256 -> 32 at 28x28 and 480 -> 16 at 14x14 0.86-0.95. */
/* Tried without gain (s21, Zen 4, AVX2 emulation, 1 thread, pointwise_ab.c with ReLU, min of 20
 * rounds x 10, 2026-12-03 04:22): B packed for M <= 16, K >= 64 on maps of 1024 columns and more
 * (SqueezeNet's squeezes, 96 / 144 -> 16 at 56x56), with x evicted before each run (8 MB
 * written) 1.11-1.19 of the in-place time, hot 1.15-1.28.  SqueezeNet's fire blocks cut whole
 * (subgraph_shapes.py, features.2's pool output -> features.3's Concat) run at 1.22-1.27 of
 * onnxruntime's though their layers alone run at 0.78-1.01 (squeeze 0.78, expand1x1 0.96,
 * expand3x3 1.01, both expands and the Concat 0.90-0.97): the squeeze costs ~0.2 ms more in the
 * block (tinycnn profile), not from a cold input (64 -> 16 at 55x55 with x evicted: 85 us, hot
 * 92).  Not located.
 * Located in the cut, not in the network (s22, 2026-12-03 07:1x-07:5x, load 4-6 on 2 cores, each
 * step timed on the thread's CPU clock through run_profiled, 200-300 runs): in the fire block
 * cut the squeeze runs min 80-100 / median 280-430 us, but 80-127 median in a cut without the
 * expand 3x3 and 122-142 when the block's input is read (numpy sum) before each run: the
 * Winograd expand 3x3 at the end of the previous run leaves the cut's input out of cache, and
 * the in-place tiles (one stream per k row) fetch it slowly.  onnxruntime's first node
 * reorders its input to NCHWc in one sequential pass.  In the network the squeeze's input
 * was just written: per step, minima, tinycnn thread CPU time against onnxruntime's profiled
 * nodes (100 runs, both in one process), fire3 squeeze 88 / 83 us, expand1x1 84 / 66,
 * expand3x3 458 / 499; fire4 173 / 152, 85 / 68, 356 / 501; fire7's 256 -> 32 squeeze 137 /
 * 115; classifier 512 -> 1000 at 13x13 1711 / 1635; the whole network 5.94 / 7.41 ms (0.80).
 * The network loses to onnxruntime under load instead: whole network, one process,
 * percentiles of 200 runs each, tinycnn / onnxruntime at min 0.81, p25 0.83, median 0.87,
 * p90 0.94 (our p90 / min 1.48, onnxruntime's 1.28); fire4's squeeze (128 -> 16 at 55x55, its
 * input the 1.5 MB Concat half of which fire3's expand 3x3 evicted) min 168, median 180-387.
 * On the target (s24, Zen 3, native, 1 thread, 2026-12-03 14:07, same protocol, 100 runs, load
 * 6-10), tinycnn / onnxruntime minima in us: the squeezes 101 / 92, 188 / 170 (55x55), 84 / 69,
 * 165 / 132 (27x27), 50 / 52, 74 / 73, 101 / 93, 132 / 122 (13x13); expand1x1 16 -> 64 at 55x55
 * 105 / 84 twice (lone 101 us, 61 GF/s; 67 with C in L2 at 27x27 and 40x40, 74 at K = 32, 82
 * at K = 64: mostly the shallow K's per-tile overhead, by the code ~430 instructions per 6x16
 * tile for its 96 cycles of FMAs, not measured),
 * 32 -> 128 at 27x27 77 / 75; the Winograd expand3x3s 0.54-0.87 of onnxruntime's; the
 * classifier 1876 / 1848 (92 of the 100 GF/s FMA peak); the whole run 0.797 (CPU medians).
 * The squeezes and the 55x55 expand1x1s are the ~140 us left to win in these tiles.
 * Tried without gain on the target (s25, Zen 3, native, 1 thread, lone layers with ReLU, min of
 * 20 rounds x 10 alternating in one process): SqueezeNet's squeezes with B packed (M <= 64)
 * 1.05-1.14 of the in-place time at 27x27 and 13x13, 1.23 / 1.44 for 64 -> 16 / 128 -> 16 at
 * 55x55; on the channel-lane tiles (1x1_chan) 256 -> 48 and 384 -> 48 / 64 at 13x13 1.06-1.19,
 * 512 -> 64 0.99, 48 -> 192 and 64 -> 256 1.26-1.88, 128 -> 32 at 27x27 1.06, 256 -> 32 0.95
 * (median 1.03), the classifier 1.07.  The 6-row tile's short last panel (M = 32: 5 x 6 + 2,
 * 4 FMA chains waiting on their latency) run as a 2 x 32 tile over two whole strips (8 chains,
 * the same bits): 128 -> 32 and 256 -> 32 at 27x27 0.995-1.03 of the time, 32 -> 128 1.01-1.03,
 * 192 -> 32 at 28x28 0.85-0.97, 960 -> 320 and 320 -> 1280 at 7x7 0.90-1.0 (two to four runs
 * of 20-30 rounds, load 6-7), but 576 -> 160 at 7x7, whose code it does not change (M = 160:
 * 26 x 6 + 4), 0.86-0.95 in the same runs: nothing beyond the noise, dropped. */
#define TC_GEMM_INPLACE_FEW_ROWS_B (512 * 1024)
static int inplace_few_rows(const tc_gemm_op *op, long ldb)
{
    if ((long)op->K * ldb > TC_GEMM_INPLACE_FEW_ROWS_B)
        return 0;
    return (op->M <= 48 && ldb < 1024) || (op->M <= 16 && op->K >= 128);
}

/* With a second thread, B packed again for few rows of C over a deep K on large maps
 * (SqueezeNet's 128 -> 16 at 55x55, its fire4 squeeze): there the in-place tiles' kc
 * streams of B, one per 12 KiB row, find their lines neither in L2 nor prefetched (see
 * csrc/threadpool.c, h35-2t: the squeezes' inputs are not in the reading core's L2 at 2
 * threads), while packing reads each row of a panel's block in order.  Measured (h35-2t,
 * 2026-12-05, Xeon KVM guest, AVX2 emulation, 2 threads, SCHED_FIFO, mt_inproc.py 8 processes
 * x 60 runs, a getenv switch in an experimental build, bit-identical): that squeeze 0.932-0.935
 * of the in-place time (149 -> 139 us) in two runs; with K >= 64 too (features.3's 64 -> 16)
 * that one 1.082: kept to K >= 128; the expand3x3 after it 0.933-0.934 in both runs.  Whole
 * SqueezeNet at 2 threads against the base build, bit-identical: pool_ab.py --nice -20 (3-4
 * sets of processes x 18-24 rounds) 0.991 [0.981-1.004], 0.995 [0.985-1.001], 0.981
 * [0.973-0.997], builds swapped 1.016 [1.007-1.024], 1.012 [1.004-1.035], 0.999
 * [0.991-1.016]: 0.988 / 0.992 / 0.991 (geometric means); ab_threads.py --fifo (40 rounds,
 * both orders, four pairs) 1.018 (one order 0.954), 0.998, 1.000, 1.011: the whole run within
 * the noise, the step itself 0.93.  No other benchmark network has such a layer.
 * At 1 thread in place stays (packed 1.11-1.28 of its time, below). */
/* ... and for a shallow K into many rows of C on such maps (SqueezeNet's 16 -> 64 expand1x1 at
 * 55x55, after the squeeze that a split by columns left in L3, h36-2t): the in-place tiles'
 * 12-row sweeps (cold_c) read the thread's 16 rows of B once a sweep, 6 sweeps for M = 64,
 * beside 12 streams of C; a packed panel is read from B once and serves all 11 row panels.
 * Measured (h37-sq2, 2026-12-05, Xeon KVM guest, AVX2 emulation, 2 threads, SCHED_FIFO,
 * benchmarks/env_steps_ab.py: one session a process, 12 processes a variant alternating,
 * step minima over 150 runs, the processes whose worker never got its core left out, a getenv
 * switch in an experimental build, bit-identical): features.3 expand1x1 0.750 of the in-place
 * time (65.7 -> 49.2 us), features.4's 0.804 (58.8 -> 47.3), the rest level (the squeeze
 * before 1.034, the sum of the step minima 0.988).  Not taken: the 27x27 expand1x1s (32 ->
 * 128, N 729) packed too, 1.03-1.13; the 27x27 and 13x13 squeezes (M <= 64, K >= 256) packed,
 * the squeezes 0.89-0.93 but the expand1x1s after them 1.04-1.07, sum 0.999 (the 27x27
 * 256 -> 32 alone again 0.902, its expand1x1 1.036, sum 0.999); with this rule, features.3's
 * 64 -> 16 squeeze packed still 1.31 (46.8 -> 61.2 us; h35-2t: 1.08).  Only
 * SqueezeNet has such a layer among the benchmark networks (V3-Small's 16 -> 16 at 56x56 has
 * M = 16).  At 1 thread in place stays (see below). */
#define TC_GEMM_PACK_MT_MAX_SHALLOW_K 16
#define TC_GEMM_PACK_MT_MIN_SHALLOW_M 32
#define TC_GEMM_PACK_MT_MIN_K 128
#define TC_GEMM_PACK_MT_MIN_N 1024
/* At 2+ threads the in-place tiles on maps up to 31x31 (ldb < 1024) up to this many pages a
 * sweep (the ISA's short-rows limit at 1 thread, gemm_internal.h): RegNetY-400MF's 28x28 104 ->
 * 104 layers (160 pages), and GoogLeNet's 192 -> 16, ResNet-18's 64 -> 128 and EfficientNet-B0's
 * 144 -> 40 at 28x28 (141-160).  h53-rg (2026-12-07, AMD EPYC Zen 3, 512 KiB L2, native AVX2,
 * 2 threads, steps_ab.py --threads 2 --depth 5 against the base under chrt -f 10, 60 rounds,
 * the same bits): block2-0..2-2's "c" 0.919 [0.904-0.945], 0.943, 0.936 and block2-1..2-2's
 * "a" 0.957, 0.961 of the packed time (again: 0.929, 0.940, 0.958; 0.957, 0.962), ~40-50 us
 * a run, but block3-0's "c" (14x14, not itself changed) 1.023 and 1.053, the rest 0.98-1.03;
 * with the full 176 (block3-0's 104 -> 208, 172 pages, in place too) the same gains but
 * block3-0's "c" 1.134 and 1.163.  Whole runs (ab_threads.py --fifo, 40 x 10) 0.996
 * [0.973-1.014], 0.983 [0.937-1.015], 0.997 [0.977-1.009]; steps_ab.py's runs 0.987, 0.990: a
 * gain of ~0.5-1% inside the noise; GoogLeNet's inception3a, ResNet-18's layer2 and
 * EfficientNet-B0's features.3 level (1.000, 0.998, 1.015, 30 rounds).  The Intel Xeon read
 * RegNetY's projections after the grouped layers 1.03-1.04 in place at 2 threads (h47-rg;
 * gemm_internal.h's "Not at 2 threads" now holds above these 160 pages). */
#ifndef TC_GEMM_INPLACE_SHORT_ROWS_PAGES_MT
#define TC_GEMM_INPLACE_SHORT_ROWS_PAGES_MT 160
#endif
static int gemm_b_inplace(const tc_gemm_op *op, const tc_gemm_kernels *kern, int threads)
{
    if (threads > 1 && op->N >= TC_GEMM_PACK_MT_MIN_N &&
        ((op->M <= 16 && op->K >= TC_GEMM_PACK_MT_MIN_K) ||
         (op->K <= TC_GEMM_PACK_MT_MAX_SHALLOW_K && op->M >= TC_GEMM_PACK_MT_MIN_SHALLOW_M)))
        return 0;
    if (!kern->tile_inplace || op->b_packed || op->pack_b != tc_pack_b_rowmajor ||
        ((const tc_dense_b *)op->b_arg)->trans || (long)op->M * op->K >= TC_GEMM_INPLACE_MAX_MK)
        return 0;
    /* a row_scale only where B is copied (gemm_copy_ldb) or packed: the tiles read what lies
     * at B */
    if (((const tc_dense_b *)op->b_arg)->row_scale && op->N > kern->inplace_copy_max_n)
        return 0;
    if (kern->inplace_max_pages) {
        /* 4 KiB pages one sweep touches: kc rows of B and mstep rows of C */
        const long kc = tc_gemm_kstep(op->K), mc = op->M < gemm_mstep(kc, 0) ? op->M : gemm_mstep(kc, 0);
        const long ldb = ((const tc_dense_b *)op->b_arg)->ldb;
        const long pages = ldb >= 1024 ? kc + mc : (kc + mc) * ldb / 1024 + 1;
        const long short_rows = threads == 1 || kern->inplace_short_rows_pages <
                                                    TC_GEMM_INPLACE_SHORT_ROWS_PAGES_MT
                                    ? kern->inplace_short_rows_pages
                                    : TC_GEMM_INPLACE_SHORT_ROWS_PAGES_MT;
        const long most = ldb < 1024 && short_rows ? short_rows : kern->inplace_max_pages;
        if ((pages > most && !inplace_few_rows(op, ldb)) ||
            ldb % TC_GEMM_INPLACE_ALIAS_FLOATS == 0)
            return 0;
        /* A lead, not taken (s18, Zen 4, AVX2 emulation, 1 thread, load 7-8 on 2 cores,
         * 2026-12-02 17:16-17:27, same bits): B packed on every map of 65..256 columns
         * (14x14, 13x13: "|| op->N <= 256" here).  Lone layers (benchmarks/pointwise_ab.c,
         * 30-40 rounds both orders) 96 -> 576 ... 672 -> 112 at 14x14: min 1.00-1.12 of the
         * in-place time (in place wins undisturbed), median 0.95-1.02 (packed wins under
         * load).  Whole networks in one process (subgraph_shapes.py --against, 16-20 rounds,
         * in-place / packed time, median [25-75%]): MobileNetV2 1.024 [1.012-1.052] and
         * 1.008 [0.979-1.028], EfficientNet-B0 1.021 [0.967-1.037], MnasNet 0.995
         * [0.901-1.032], SqueezeNet 0.996 [0.977-1.025], ResNet-50 1.029 [0.991-1.057].
         * Worth a quieter measurement with GoogLeNet, DenseNet, RegNetY and ShuffleNet too. */
        if (op->N > 4 * NR && op->N % NR != 1 && (long)op->M * op->K >= TC_GEMM_PACKED_MK)
            return 0;
    }
    return 1;
}

/* Columns of a row-major B packed at a time, row by row (pack_b_rows_block), or 0: one NR
 * panel at a time, right before its tiles.  Few rows of C (a projection to 24-48 channels)
 * use each packed panel for few tiles, and packing a 16-column panel reads one cache line
 * from each of kc rows, each on its own page (a 56x56 map's rows are 12.5 KiB apart): the
 * packing then costs about what the tiles do.  Row by row, each row is one run of several
 * lines of one page.  The block stays in L2 (at most TC_GEMM_ROWPACK_BYTES).  Measured
 * (AVX2 emulation, 1 thread, 2026-11-30, lone layer with residual, alternating): 144 -> 24
 * at 56x56 0.82-0.88 of the per-panel packing's time, 192 -> 32 and 240 -> 40 at 28x28 0.96. */
#define TC_GEMM_ROWPACK_MAX_M 48
/* ... and whatever the rows of C where B's rows are a multiple of 4 KiB apart (32x32, 64x64,
 * 128x128, 256x256 maps: LRASPP at 512x512): a panel's kc lines then all fall in one set of
 * the L1 (and of the L2 for 16 KiB multiples) and evict each other before the next panel
 * reads the rest of their lines.  LRASPP-MobileNetV3 at 512x512 (AVX2 emulation, 2026-12-01,
 * one process alternating both rules, heavily loaded host, identical outputs): whole model
 * 0.975 (1 thread) and 0.88 (2 threads) of the per-panel packing's time (pairwise medians);
 * callgrind's cache model (32 KiB 8-way L1d, 512 KiB 8-way L2) counts half the L2 read
 * misses on 16 -> 64 at 256x256. */
#define TC_GEMM_ROWPACK_ALIAS_FLOATS 1024
#define TC_GEMM_ROWPACK_BYTES (128 * 1024)
static int gemm_pack_cols(const tc_gemm_op *op, const gemm_job *job)
{
    if (job->uk_inplace || job->uk_wide || op->b_packed || op->pack_b != tc_pack_b_rowmajor ||
        ((const tc_dense_b *)op->b_arg)->trans)
        return 0;
    if (op->M > TC_GEMM_ROWPACK_MAX_M && ((const tc_dense_b *)op->b_arg)->ldb % TC_GEMM_ROWPACK_ALIAS_FLOATS)
        return 0;
    int cols = (int)(TC_GEMM_ROWPACK_BYTES / (sizeof(float) * (size_t)tc_gemm_kstep(op->K))) / NR * NR;
    return cols < 2 * NR ? 0 : cols;
}

/* The in-place tiles' B from an aligned copy (kern->inplace_copy_max_n): see
 * TC_GEMM_COPY_MAX_N_AVX2.  Rows at 64-byte boundaries, an odd number of lines apart (all
 * the L1's sets): 80 floats for 49 columns.  With a row_scale, rows of whole lines too: the
 * copy is where the gates are applied. */
/* ... and on wider maps too where B's rows crowd into few sets of the L1: the 64-byte set
 * indexes (of a 32 KiB 8-way L1's 64) that the kc rows of one K block touch, rows ldb floats
 * apart.  A 112x112 map's rows are 784 lines apart (16 mod 64): 32 rows in 4 sets, 8 a set,
 * the L1's 8 ways full before A's and C's lines come in.  Measured (h52-al, 2026-12-07, AMD
 * EPYC Zen 4, AVX2 emulation, 1 thread, load 2-3, same bits): RegNetY-400MF's block1-0 1x1
 * (32 -> 48 at 112x112, in pg_fused.c's bands of 1568 / 1680 columns) with the pair's 3x3,
 * subgraph_shapes.py --against the base build, 80-120 rounds a run: copied / in place 0.938,
 * 0.951, 0.896, 0.915, 1.015, 0.920, 0.930, 0.919, 0.934 (median 0.930; a getenv switch)
 * against A/A 1.000, 1.011, 1.012, 0.988, 0.990; this rule built, 0.915, 0.971, 0.971,
 * 0.968, 0.920, 0.975, 0.944 and with the builds' roles swapped 0.947, 0.951, 0.897; at 2
 * threads (wall time, alternating bursts, 150 rounds) 0.903, 0.904, 0.905 (A/A 0.994,
 * 0.999).  The whole network at 1 thread 0.993 and 1.013 (A/A 0.990): ~40 us of ~5 ms,
 * below the noise.  The lone GEMM (gemm_ldb_alias.c, M 48 K
 * 32 N 1792) 58.0-58.9 us copied against 59.1 in place (the copy costs most of what the
 * sets win: rows 12560 floats apart, no copy, 54.5).  Not taken: B packed there instead, the
 * lone GEMM 63.0-63.9 us (1.07), the pair 0.984 and 0.968; the copy for EfficientNet-B0's
 * 32 -> 16 at 112x112 (M 16: 3 row panels to share it), its lone GEMM 172 us against 159
 * in place: hence the M floor.  Among the benchmark networks only RegNetY's block1-0 has
 * kc rows in fewer than 8 sets with M >= 32 (MobileNetV2's 16 -> 96 at 112x112 bands: 8 sets,
 * 2 rows a set; rows a multiple of 16 KiB apart, one set, are packed: gemm_b_inplace).
 * Only the kernels that copy narrow maps (AVX2): the AVX-512 ones were not measured. */
#define TC_GEMM_COPY_FEW_SETS 8
#define TC_GEMM_COPY_FEW_SETS_MIN_M 32
static int inplace_l1_sets(int kc, long ldb)
{
    uint64_t seen = 0;
    for (long k = 0; k < kc; k++)
        seen |= (uint64_t)1 << (k * ldb / 16 % 64);
    return __builtin_popcountll(seen);
}

static int gemm_copy_ldb(const tc_gemm_op *op, const gemm_job *job, const tc_gemm_kernels *kern)
{
    if (!job->uk_inplace || !kern->inplace_copy_max_n)
        return 0;   /* B packed (no tc_dense_b behind b_arg) or no copying kernels */
    const tc_dense_b *g = (const tc_dense_b *)op->b_arg;
    const int wide = op->N > kern->inplace_copy_max_n;
    const int kc = tc_gemm_kstep(op->K);
    if (!wide && g->ldb % NR == 0 && !g->row_scale)
        return 0;   /* aligned rows: no copy unless it scales them */
    if (wide && (op->M < TC_GEMM_COPY_FEW_SETS_MIN_M || g->row_scale ||
                 inplace_l1_sets(kc, g->ldb) >= TC_GEMM_COPY_FEW_SETS))
        return 0;
    /* a narrow map's columns a row, or one NC block's (gemm_block copies block by block) */
    int lines = ((op->N < TC_GEMM_NC ? op->N : TC_GEMM_NC) + NR - 1) / NR;
    lines += lines % 2 == 0;
    return !wide || (size_t)kc * lines * NR <= TC_GEMM_WS_B ? lines * NR : 0;
}

/* tc_gemm_run's in-place tiles for op (B read where it lies, gemm_b_inplace), or NULL; one
 * choice for it and tc_gemm_b_copied, which says whether a row_scale will be applied. */
static tc_ukernel_inplace_fn gemm_inplace_tile(const tc_ctx *ctx, const tc_gemm_op *op,
                                               const tc_gemm_kernels *kern)
{
    return gemm_b_inplace(op, kern, gemm_threads(ctx, op)) ? kern->tile_inplace : NULL;
}

int tc_gemm_b_copied(const tc_ctx *ctx, const tc_gemm_op *op)
{
    if (op->M <= 0 || op->N <= 0 || op->K <= 0 || op->a_chan || op->b_packed ||
        op->pack_b != tc_pack_b_rowmajor)
        return 0;
    const tc_gemm_kernels *kern = tc_gemm_kernels_of(ctx);
    gemm_job job;
    memset(&job, 0, sizeof(job));
    job.op = op;
    job.uk_inplace = gemm_inplace_tile(ctx, op, kern);
    return gemm_copy_ldb(op, &job, kern) > 0;
}

/* The finer cut below only for jobs of more than this many column panels (N > 256): at
 * 14x14 and 7x7 (N 196, 49) each thread's one rectangle, which its chunks otherwise cut
 * into 4 column ranges or into row ranges (a guess at the cost, not measured apart: each
 * column range re-reads its rows' A panels, 512 KB a range in ResNet-50's 1024 -> 256 at
 * 14x14).  Measured (h51-sq, 2026-12-07, Xeon KVM guest, AVX2 emulation, 2 threads, chrt
 * -f 10, bit-identical): ResNet-50 per step
 * (env_steps_ab.py, 8 processes x 40 runs a variant, step minima) layer3.1-.5 conv1
 * 0.978-0.995, layer4.0 conv1 / conv2 / downsample 0.939 / 0.949 / 0.976, sum of step minima
 * 0.992; whole runs (ab_threads.py --fifo against the base, each order, inverted where the
 * base ran first) bursts of 5 0.995 / 0.981, of 10 0.990 / 0.987, of 20 0.994 / 0.984, at 1
 * thread (the path unchanged) 0.995 / 0.998; at 2 threads SqueezeNet 0.994 / 0.986 (bursts of
 * 20), ResNet-18 0.996 / 0.988, GoogLeNet 1.000 / 0.987, ShuffleNetV2 1.011 / 0.995,
 * MobileNetV2 0.997 / 0.989, DenseNet-121 0.994 / 0.984 (bursts of 10).  Every GEMM one
 * rectangle a thread (no finer cut at all): SqueezeNet level (sum of step minima
 * 1.001, its 13x13 layers and classifier, N 169, 0.993-1.004; s25 had measured the finer cut
 * 3-8% better there on Zen 3), but ResNet-50's 56x56 layers 1.02-1.12. */
#define TC_GEMM_FINE_MIN_NP 16

void tc_gemm_run(const tc_ctx *ctx, const tc_gemm_op *op, float *workspace)
{
    if (op->M <= 0 || op->N <= 0)
        return;
    if (op->K <= 0) {
        gemm_empty_k(op);
        return;
    }
    const tc_gemm_kernels *kern = tc_gemm_kernels_of(ctx);
    if (op->a_chan) {
        gemm_chan_run(ctx, op, kern, workspace);
        return;
    }
    gemm_job job;
    job.op = op;
    job.uk = kern->tile;
    job.uk_half = kern->tile_half;
    job.uk_wide = kern->tile_wide;
    job.uk_tall = kern->tile_wide ? kern->tile_tall : NULL; /* the wide path calls it */
    job.uk_tall9 = job.uk_tall ? NULL : kern->tile_tall9;
    const int T = gemm_threads(ctx, op);
    job.uk_inplace = gemm_inplace_tile(ctx, op, kern);
    job.inplace_rows = (kern->inplace_max_na ? kern->inplace_max_na : 2) * MR;
    job.inplace_wide = kern->inplace_wide;
    /* Sigmoid / SiLU after the tiles (act_rows), not in them.  Tried without gain (s18, Zen 4,
     * AVX2 kernels, 1 thread, benchmarks/pointwise_ab.c, thread CPU min of 200 runs alternating
     * both builds in one process, 2026-12-02 17:0x): the whole in-place tiles of one K block
     * applying SiLU inline as they store (tc_sigmoid_avx2 in store_tile_fixed, the same bits),
     * so the out-of-order core could overlap its divides with the next tile's FMAs: 1.02-1.05
     * of this pass's time on 112 -> 672 and 80 -> 480 at 14x14 and 40 -> 240 at 28x28 (1.08
     * on a loaded host).  The pass costs 0.30-0.33 ns a value whatever the layout (16-column
     * blocks, rows of 192, one flat run: ALU-bound, ~9 cycles per 8 lanes; without its divide
     * 0.29-0.31, two vectors interleaved op by op 0.325 on 16-column blocks): 12-20% of those
     * expansions (275 -> 315 us on 112 -> 672 at 14x14, where ReLU costs nothing). */
    job.act_rows = tc_act_deferred(op->epi.act.kind) ? tc_eltwise_kernels_of(ctx)->act_rows : NULL;
    job.ws = workspace;
    job.pack_cols = gemm_pack_cols(op, &job);
    const double c_bytes = (double)op->M * op->N * sizeof(float);
    job.cold_c = !job.uk_inplace || c_bytes < TC_GEMM_COLD_C_BYTES ? GEMM_C_ANY
                 : T == 1 && c_bytes < TC_GEMM_WARM_C_BYTES && !job.act_rows ? GEMM_C_WARM
                                                                  : GEMM_C_COLD;
    /* act_rows over a wide call's columns: 12 rows of at most 512 (24 KiB) are still in L1 */
    job.inplace_wide = job.inplace_wide && (!job.act_rows || job.cold_c == GEMM_C_COLD);
    job.copy_ldb = gemm_copy_ldb(op, &job, kern);
    job.copy_rows_scaled = kern->copy_rows_scaled;
    job.mp = (op->M + MR - 1) / MR;
    /* a last column alone (7x7 = 3 x 16 + 1) stays with the panel before it: the
     * in-place tiles take 17 columns */
    job.np = job.uk_inplace && op->N % NR == 1 && op->N > NR ? op->N / NR : (op->N + NR - 1) / NR;
    /* Pick the thread grid minimising the largest rectangle, counting the
     * B packing that every row range repeats.  Re-measured on the Zen 3 target (s25, native,
     * 2 threads under SCHED_FIFO, lone layers with ReLU, min of 20 rounds x 10 alternating
     * with the grid forced in a second build): SqueezeNet's classifier 512 -> 1000 at 13x13
     * (this rule and the finer cut below: 2 x 4 rectangles) against 2 x 1 1.03, 2 x 2 1.05,
     * 2 x 8 1.04, 1 x 2 0.97 (median 1.04); its 13x13 squeezes and expand1x1s (2 x 4 and
     * 2 x 2) against 2 x 1 1.08, 1 x 2 1.16, 2 x 2 1.07 (sums of the six minima): kept.
     * The 4 cols term holds for the in-place tiles too, though they pack no B: each row range
     * reads all of B.  Tried (h35-2t, 2026-12-05, Xeon KVM guest, AVX2 emulation, 2 threads,
     * mt_inproc.py --fifo, 8 processes x 60 runs, bit-identical; benchmarks/chunk_swap.patch's
     * TC_X_GRID): no such term for in-place B, which takes the 13x13 squeezes 256 / 384 -> 48
     * from 1 x 4 (columns 32 + 48 | 48 + 41, the worker's share one tile call longer) to 2 x 4:
     * 1.21 / 1.22 of their time (40 -> 48, 57 -> 69 us), the whole run 1.006. */
    int best_tm = 1, best_tn = 1;
    double best = -1.0;
    for (int tm = 1; tm <= T; tm++) {
        if (T % tm)
            continue;
        int tn = T / tm;
        if (tm > job.mp || tn > job.np)
            continue;
        /* the largest rectangle's real extent (a 7x7 map's 49 columns in two
         * ranges are 32 + 17, not 2 x 32) */
        double rows = gemm_range_max(job.mp, tm, MR, op->M);
        double cols = gemm_range_max(job.np, tn, NR, op->N);
        double cost = rows * cols + 4.0 * cols + (op->a_packed ? 0.0 : 4.0 * rows);
        if (best < 0 || cost < best) {
            best = cost;
            best_tm = tm;
            best_tn = tn;
        }
    }
    if (T > 1 && job.np > TC_GEMM_FINE_MIN_NP) {
        /* Cut finer than one rectangle per thread (threads claim them
         * dynamically): on a loaded machine a preempted thread then holds up
         * a quarter of its share, not all of it.  Prefer cutting columns: rows
         * would re-pack the same B.  Not where B has at most TC_GEMM_FINE_MIN_NP
         * column panels (see there).  Tried (h35-2t, 2026-12-05, Xeon KVM guest, AVX2
         * emulation, 2 threads, mt_inproc.py --fifo 8 x 60 runs, bit-identical): in-place
         * jobs of at most 16 panels cut into one chunk per panel, so that the 13x13
         * squeezes' 11 panels (5 for one thread, 6 with the 9-column tail for the other)
         * balance by claims: those squeezes 1.038-1.054 of their time, whole run 1.004. */
        int f = job.np / (best_tn * 2);
        if (f > 4)
            f = 4;
        if (f >= 2) {
            best_tn *= f;
        } else {
            /* every row range re-packs B: keep >= ~256 rows per range */
            f = job.mp / (best_tm * 43);
            if (f > 4)
                f = 4;
            if (f >= 2)
                best_tm *= f;
        }
    }
    job.tm = best_tm;
    job.tn = best_tn;
    if (best_tm * best_tn == 1)
        gemm_task(&job, 0, 0, 1);
    else
        tc_parallel_for_dynamic(ctx->pool, (ptrdiff_t)best_tm * best_tn, 1, gemm_task, &job);
}

/* ------------------------------------------------------------------------ */
/* Public drivers                                                           */
/* ------------------------------------------------------------------------ */

int tc_gemm_scaled_b_f32(const tc_ctx *ctx, int M, int N, int K, const float *A, int chan,
                         float *packed_a, const float *B, ptrdiff_t ldb, int trans_b,
                         const float *row_scale, const float *bias, int relu, float *C,
                         float *workspace)
{
    if (chan && trans_b)
        return -1;
    if (chan)
        tc_gemm_pack_a_chan_f32(M, K, A, K, packed_a);
    else
        tc_gemm_pack_a_f32(M, K, A, K, 0, 1.0f, packed_a);
    tc_dense_b db = {B, ldb, trans_b, row_scale};
    tc_activation act;
    memset(&act, 0, sizeof(act));
    act.kind = relu ? TC_ACT_RELU : TC_ACT_NONE;
    tc_gemm_op op = tc_gemm_op_layer(M, N, K, packed_a, tc_pack_b_rowmajor, &db, C, N, bias, NULL,
                                     0, &act);
    op.a_chan = chan;
    tc_gemm_run(ctx, &op, workspace);
    return 0;
}


static tc_epilogue epi_or_none(const tc_epilogue *epi)
{
    tc_epilogue e;
    if (epi)
        return *epi;
    memset(&e, 0, sizeof(e));
    return e;
}

/* packed_a: [ceil(M/MR)][K][MR]  B: [K, N] (ldb)  C: [M, N] (ldc) */
void tc_gemm_packed_a_f32(const tc_ctx *ctx, int M, int N, int K, const float *packed_a,
                          const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate,
                          const tc_epilogue *epi, float *workspace)
{
    tc_dense_b gb = {B, ldb, 0};
    tc_gemm_op op = {.M = M, .N = N, .K = K, .a_packed = packed_a, .pack_b = tc_pack_b_rowmajor,
                     .b_arg = &gb, .C = C, .ldc = ldc, .accumulate = accumulate,
                     .epi = epi_or_none(epi)};
    tc_gemm_run(ctx, &op, workspace);
}

/* A: [M, K] (lda)  packed_b: [ceil(N/NR)][K][NR]  C: [M, N] (ldc) */
void tc_gemm_packed_b_f32(const tc_ctx *ctx, int M, int N, int K, const float *A, ptrdiff_t lda,
                          const float *packed_b, float *C, ptrdiff_t ldc, int accumulate,
                          const tc_epilogue *epi, float *workspace)
{
    rowmajor_a ga = {A, lda, 0, 1.0f};
    tc_gemm_op op = {.M = M, .N = N, .K = K, .pack_a = pack_a_rowmajor, .a_arg = &ga,
                     .b_packed = packed_b, .C = C, .ldc = ldc, .accumulate = accumulate,
                     .epi = epi_or_none(epi)};
    tc_gemm_run(ctx, &op, workspace);
}

/* op(A): [M, K]  op(B): [K, N]  C: [M, N]  workspace: tc_gemm_workspace_size(ctx) floats */
void tc_sgemm_f32(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc,
                  const tc_ctx *ctx, float *workspace)
{
    if (M <= 0 || N <= 0)
        return;
    if (beta != 0.0f && beta != 1.0f) {
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++)
                C[m * ldc + n] *= beta;
    }
    if (K <= 0 || alpha == 0.0f) {
        if (beta == 0.0f)
            for (int m = 0; m < M; m++)
                memset(C + m * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    rowmajor_a ga = {A, lda, trans_a, alpha};
    tc_dense_b gb = {B, ldb, trans_b};
    tc_gemm_op op = {.M = M, .N = N, .K = K, .pack_a = pack_a_rowmajor, .a_arg = &ga,
                     .pack_b = tc_pack_b_rowmajor, .b_arg = &gb, .C = C, .ldc = ldc,
                     .accumulate = beta != 0.0f};
    tc_gemm_run(ctx, &op, workspace);
}

/* ------------------------------------------------------------------------ */
/* Dense layer                                                              */
/* ------------------------------------------------------------------------ */

size_t tc_dense_pack_size(int K, int Nout) { return tc_gemm_pack_b_size(K, Nout); }

/* weight: [Nout, K] (trans_b) or [K, Nout]  packed: B = W^T as [ceil(Nout/NR)][K][NR] */
void tc_dense_pack_f32(int K, int Nout, const float *weight, int trans_b, float *packed)
{
    tc_gemm_pack_b_f32(K, Nout, weight, trans_b ? K : Nout, trans_b, packed);
}

size_t tc_dense_workspace_size(const tc_ctx *ctx, int M, int K, int Nout)
{
    (void)K;
    (void)Nout;
    return M <= 1 ? 0 : tc_gemm_workspace_size(ctx);
}

typedef struct {
    int K, N, act;
    ptrdiff_t ldw;
    const float *a, *w, *bias; /* w: packed panels (gemv_task) or rows (gemv_rows_task) */
    float *y;
    const tc_gemm_kernels *kern;
} gemv_job;

static void gemv_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const gemv_job *g = (const gemv_job *)varg;
    (void)tid;
    g->kern->gemv_panels(g->K, g->a, g->w, (int)begin, (int)end, g->N, g->bias, g->act, g->y);
}

static void gemv_rows_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const gemv_job *g = (const gemv_job *)varg;
    (void)tid;
    g->kern->gemv_rows(g->K, g->a, g->w, g->ldw, (int)begin, (int)end, g->bias, g->act, g->y);
}

/* a: [M, K]  weight: [Nout, K] row-major, read in place  bias: [Nout] or NULL  y: [M, Nout].
 * Memory-bound: each weight row is one contiguous dot product per sample. */
void tc_dense_rows_f32(const tc_ctx *ctx, int M, int K, int Nout, const float *a,
                       const float *weight, const float *bias, int act, float *y)
{
    if (M <= 0 || Nout <= 0)
        return;
    /* each thread streams contiguous ranges of rows, at least ~16 KiB of the weight each */
    ptrdiff_t grain = (ptrdiff_t)(16384 / ((size_t)K + 1) + 8) & ~(ptrdiff_t)7;
    for (int m = 0; m < M; m++) {
        gemv_job g = {K, Nout, act, K, a + (size_t)m * K, weight, bias, y + (size_t)m * Nout,
                      tc_gemm_kernels_of(ctx)};
        tc_parallel_for_dynamic(ctx ? ctx->pool : NULL, Nout, grain, gemv_rows_task, &g);
    }
}

/* a: [M, K]  packed: from tc_dense_pack_f32  bias: [Nout] or NULL  y: [M, Nout] */
void tc_dense_f32(const tc_ctx *ctx, int M, int K, int Nout, const float *a, const float *packed,
                  const float *bias, int act, float *y, float *workspace)
{
    if (M <= 0 || Nout <= 0)
        return;
    if (M == 1 && K > 0) {
        /* GEMV: memory-bound, stream each B panel once, threads over panels */
        gemv_job g = {K, Nout, act, 0, a, packed, bias, y, tc_gemm_kernels_of(ctx)};
        int np = (Nout + NR - 1) / NR;
        ptrdiff_t grain = (ptrdiff_t)(65536 / ((size_t)K * NR) + 1);
        tc_parallel_for_dynamic(ctx ? ctx->pool : NULL, np, grain, gemv_task, &g);
        return;
    }
    tc_epilogue e;
    memset(&e, 0, sizeof(e));
    e.col_bias = bias;
    e.act.kind = act;
    tc_gemm_packed_b_f32(ctx, M, Nout, K, a, K, packed, y, Nout, 0, &e, workspace);
}
