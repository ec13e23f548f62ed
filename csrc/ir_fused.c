/* Inverted-residual block in bands of output rows: expansion 1x1 -> depthwise ->
 * projection 1x1 [+ residual], without writing the expanded tensors to memory.
 *
 * The unfused block writes the expanded tensor (E x H x W, 1.8 MB at 56x56 with
 * E = 144) and the depthwise output, then reads each back: past L2 both trips go
 * to memory.  Here each band of `band` depthwise output rows is computed from a
 * band of expansion rows (with the depthwise halo) kept in a per-thread
 * workspace that stays in L2, and projected at once into y.  Every stage is the
 * layer's own kernel on a row range:
 *   expansion:  the GEMM on input rows [i0, i1) (B read in place, ldb = H * W);
 *   depthwise:  tc_conv2d_f32 on the band as an image of i1 - i0 rows whose top
 *               and bottom pads stand for the rows outside it (or the real pads);
 *   projection: the GEMM on the band, C = y at row r0 (ldc = OH * OW).
 * A thread that runs the next band of the same image moves the halo rows it already
 * expanded to the front of its workspace and expands only the new rows (lone blocks, AVX2
 * emulation, 1 thread, best band, 2026-12-01: 0.93 of the time that expanded them again at
 * 24-72-24 128x128 and 24-144-24 56x56, 0.95-0.98 on the stride-2 blocks).
 * Without a projection (tc_ir_fused_run's project NULL: pg_fused.c's pointwise -> depthwise
 * pairs, whose depthwise output a squeeze-and-excitation reads) each band's depthwise rows go
 * straight into y's planes, and the planes' means are summed after the last band.
 * Each output sums its terms in the unfused order, so the result is the unfused
 * path's bit for bit at any band height and thread count.  Bands are spread
 * over the threads, each running the kernels serially on its own workspace.
 */
#include <stdint.h>
#include <string.h>
#include "conv_internal.h"
#include "gemm_internal.h"
#include "epilogue.h"
#include "pool2d_internal.h"

int tc_fused_pointwise_ok(const tc_ir_stage *s)
{
    return (s->algo == TC_CONV_ALGO_1X1 || s->algo == TC_CONV_ALGO_1X1_CHAN) &&
           !tc_conv2d_check(&s->p, s->algo) && s->p.group == 1 && !tc_activation_check(s->act);
}

int tc_ir_fused_check(const tc_ir_stage *expand, const tc_ir_stage *dw, const tc_ir_stage *project,
                      int h, int w, int band)
{
    int OH, OW;
    if (!expand || !dw || band < 1 || !tc_fused_pointwise_ok(expand) ||
        (project && !tc_fused_pointwise_ok(project)))
        return -1;
    if (dw->algo != TC_CONV_ALGO_DEPTHWISE || tc_conv2d_check(&dw->p, dw->algo) ||
        dw->p.K != dw->p.C || tc_activation_check(dw->act))
        return -1;
    if (expand->p.K != dw->p.C || (project && project->p.C != dw->p.K))
        return -1;
    return tc_conv2d_output_hw(&dw->p, h, w, &OH, &OW);
}

/* Floats rounded up to a cache line, so that each buffer of a slot starts on one */
static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Floats of the expansion band: the depthwise input rows of `band` output rows, halo included */
static size_t expand_band_size(const tc_conv2d_params *p, int h, int w, int band)
{
    const size_t rows = (size_t)(band - 1) * p->sh + (size_t)(p->KH - 1) * p->dh + 1;
    return up16((size_t)p->C * (rows < (size_t)h ? rows : (size_t)h) * w);
}

/* The depthwise plane kernel over column-split rows (even input columns, then odd ones) where
 * the layer has one (stride 2), else NULL.  The expansion then writes its band so: it reads
 * the block input's band rows copied column-split (C0 channels, a fraction of the E it
 * writes), and the depthwise loads each tap as one unit-stride vector, no shuffles. */
static tc_dw_plane_fn split_plane(const tc_ctx *ctx, const tc_ir_stage *dw, int h, int w, int OW)
{
    const tc_conv_kernels *kern = tc_conv_kernels_of(ctx);
    return kern->dw_split_pick ? kern->dw_split_pick(&dw->p, h, w, 0, OW) : NULL;
}

/* Floats of one thread's slot: band state, expansion band, depthwise band, zero row, GEMM workspace,
 * and with a column-split depthwise the block input's band rows */
static size_t slot_size(const tc_ctx *serial, const tc_ir_stage *expand, const tc_ir_stage *dw,
                        int h, int w, int OW, int band)
{
    const size_t e = expand_band_size(&dw->p, h, w, band);
    const size_t xs = split_plane(serial, dw, h, w, OW) ? up16(e / dw->p.C * expand->p.C) : 0;
    return TC_FUSED_STATE_FLOATS + e + up16((size_t)dw->p.K * band * OW) + up16((size_t)w) +
           up16(tc_gemm_workspace_size(serial)) + xs;
}

/* The threads' slots lie back to back.  Tried (n29-gap, 2026-12-04, Zen 4, AVX2 kernels): a 64 KiB
 * gap between them, as TC_QDW_RING_GAP in csrc/qdw.c has for the int8 depthwise's rings, here and
 * in every other float "slot per thread" layout (stem_fused.c, pg_fused.c, conv.c's grouped
 * kernel, winograd.c's whole chunks, gemm.c's TC_GEMM_WS_THREAD): the patch is
 * benchmarks/slot_gap.patch (bit-identical, 1 thread unchanged).  No per-thread imbalance to
 * remove: this block alone at 2 threads (benchmarks/ir_ab.c, AB_THREADS=2, minima of 150-300 runs)
 * 16-96-24 at 112x112 /2 341 us with gaps 0/16/32/64 KiB alike, 0.51 of its 1-thread 669 us
 * (24-144-24 at 56x56 286 / 564); later runs on the busy host scattered up to 20% between two
 * copies of one build (24-144-32 at 56x56 /2: 273, 266 us without the gap and 214, 211 with it in
 * one run, 214, 216 and 206, 211 in the next); the 1x1 layers (pointwise_ab.c, PW_THREADS=2, 12
 * shapes 7x7-56x56) 1.001 of gap 0's sum of minima.  Whole networks at 2 threads against the base
 * (ab_threads.py --fifo, 15 x 10, new/old of burst minima): MobileNetV2 0.982, 0.981, 0.994;
 * MnasNet 0.996; EfficientNet-B0 1.013, 0.991, 0.988; V3-Large 1.003; RegNetY-400MF 0.981; under
 * CFS (50 x 10, burst medians) 0.978-1.022, 25-75% ranges +-5-10%: level, not kept.  Why the int8
 * rings gained and these slots do not is untraced. */
size_t tc_ir_fused_workspace_size(const tc_ctx *ctx, const tc_ir_stage *expand,
                                  const tc_ir_stage *dw, const tc_ir_stage *project, int h, int w,
                                  int band)
{
    int OH, OW;
    if (tc_ir_fused_check(expand, dw, project, h, w, band) ||
        tc_conv2d_output_hw(&dw->p, h, w, &OH, &OW))
        return 0;
    tc_ctx serial = *ctx;
    serial.pool = NULL;
    const int threads = ctx->pool ? tc_pool_size(ctx->pool) : 1;
    return (size_t)threads * slot_size(&serial, expand, dw, h, w, OW, band < OH ? band : OH) + 16;
}

/* C [M, N] (ldc) = epi(packed . B [K, N] (ldb)) with the layer's packed weights */
void tc_fused_pointwise(const tc_ctx *serial, const tc_ir_stage *s, int N, const float *B,
                        ptrdiff_t ldb, float *C, ptrdiff_t ldc, const float *residual,
                        ptrdiff_t ldr, float *gemm_ws)
{
    tc_dense_b db = {B, ldb, 0};
    tc_gemm_op op = tc_gemm_op_layer(s->p.K, N, s->p.C, s->packed, tc_pack_b_rowmajor, &db, C, ldc,
                                     s->bias, residual, ldr, s->act);
    op.a_chan = s->algo == TC_CONV_ALGO_1X1_CHAN;
    tc_gemm_run(serial, &op, gemm_ws);
}

/* ebuf: [E][prev rows] (expansion rows [p0, p1) of the image, when `valid`) becomes
 * [E][i1 - i0] whose rows [i0, return value) are moved there from the old band; the caller
 * expands the rest.  The copy of a few halo rows costs less than their C0-deep GEMM.
 * Channel c moves from c (p1 - p0) w + (i0 - p0) w to c (i1 - i0) w: in ascending order
 * where the new band is no longer than the old, else descending (channel c's target then
 * starts at or past the end of channel c - 1's old rows, c (p1 - p0) w): never over rows
 * not yet moved. */
int tc_fused_carry_rows(float *ebuf, int E, int w, int valid, int p0, int p1, int i0, int i1)
{
    if (!valid || i0 < p0 || i0 >= p1 || i1 < p1)
        return i0;
    const size_t old_ld = (size_t)(p1 - p0) * w, new_ld = (size_t)(i1 - i0) * w;
    const size_t off = (size_t)(i0 - p0) * w, len = (size_t)(p1 - i0) * w * sizeof(float);
    if (new_ld <= old_ld)
        for (int c = 0; c < E; c++)
            memmove(ebuf + c * new_ld, ebuf + c * old_ld + off, len);
    else
        for (int c = E - 1; c >= 0; c--)
            memmove(ebuf + c * new_ld, ebuf + c * old_ld + off, len);
    return p1;
}

void tc_fused_state_reset(const tc_ctx *ctx, void *workspace, size_t slot)
{
    float *slots = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    const int threads = ctx->pool ? tc_pool_size(ctx->pool) : 1;
    for (int t = 0; t < threads; t++)
        ((tc_fused_state *)(slots + (size_t)t * slot))->b = -1;
}

typedef struct {
    tc_ctx serial;
    const tc_ir_stage *expand, *dw, *project;
    const float *x, *residual;
    float *y, *workspace;
    size_t slot;
    tc_dw_plane_fn split; /* the column-split depthwise, or NULL */
    void (*split_even_odd)(const float *s, ptrdiff_t n, float *e, float *o);
    int h, w, OH, OW, band, nbands;
} ir_job;

/* items = (image, band) pairs */
static void ir_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const ir_job *j = (const ir_job *)varg;
    const tc_conv2d_params *p = &j->dw->p;
    const int E = p->C, K2 = j->project ? j->project->p.K : E, C0 = j->expand->p.C;
    const size_t in_plane = (size_t)j->h * j->w, out_plane = (size_t)j->OH * j->OW;
    /* slots from the first cache line of workspace on, each a whole number of lines */
    float *base = (float *)(((uintptr_t)j->workspace + 63) & ~(uintptr_t)63);
    tc_fused_state *st = (tc_fused_state *)(base + (size_t)tid * j->slot);
    float *ebuf = (float *)st + TC_FUSED_STATE_FLOATS;
    float *dbuf = ebuf + expand_band_size(p, j->h, j->w, j->band);
    float *zrow = dbuf + up16((size_t)E * j->band * j->OW);
    float *gemm_ws = zrow + up16((size_t)j->w);
    float *xs = gemm_ws + up16(tc_gemm_workspace_size(&j->serial)); /* with j->split */
    const int ne = (j->w + 1) / 2;
    memset(zrow, 0, (size_t)j->w * sizeof(float));
    for (ptrdiff_t it = begin; it < end; it++) {
        const int b = (int)(it / j->nbands), r0 = (int)(it % j->nbands) * j->band;
        const int r1 = r0 + j->band < j->OH ? r0 + j->band : j->OH, rows = r1 - r0;
        /* the band as an image of its input rows [i0, i1): pads stand for the rows outside it */
        tc_conv2d_params q;
        int n;
        const int i0 = tc_conv_band_image(p, j->h, r0, rows, &n, &q), i1 = i0 + n;
        const float *xb = j->x + (size_t)b * C0 * in_plane;
        /* rows [i0, e0) carried over from the previous band of this image, when this
         * thread ran it (in this chunk or its last one): the halo is not expanded twice */
        const int e0 = tc_fused_carry_rows(ebuf, E, j->w, st->b == b, st->i0, st->i1, i0, i1);
        const ptrdiff_t ld = (ptrdiff_t)(i1 - i0) * j->w;
        if (j->split) {
            /* the new rows column-split, then expanded: the expansion rows come out split.
             * The copy's loads wait on memory (perf, AVX2: 55% of its samples), but prefetching
             * the next band's rows into L2 here did not pay (s13, 2026-12-02 00:20, per step,
             * min of 60, alternating: MobileNetV2 features.2 0.99, features.4 1.01, MnasNet
             * layers.8.0 1.01, MobileNetV3-Large features.2 1.01).
             * Nor does moving the split into the expansion's output stage (s27, Zen 4, AVX2
             * kernels, 1 thread, benchmarks/ir_ab.c against the base, 30 rounds x 10, median of
             * the block's time, 4-row bands; a timing mock-up with wrong outputs, not kept):
             * without this copy at all (the expansion reading x in place, its output unsplit)
             * 16-48-24 at 112x112 (MnasNet's layers.8.0) 0.976, 16-64-24 (V3-Large's
             * features.2) 0.943, 16-96-24 (MobileNetV2's features.2) 0.984: the copy's whole
             * share; the same with the strip kernel deinterleaving each row of its 6x16 tile
             * before the stores (2 vshufps + 2 vpermpd per 16 outputs, what a split store
             * costs) 0.999, 0.989 and 1.020: the store would permute E rows where this copy
             * permutes C0 (3-6 times fewer), beside the tile's FMAs.  The control (the base
             * against itself rebuilt) 0.992-1.000.  What is left of the copy: 1-2% of
             * MnasNet's layers.8.0, under 0.2% of the network. */
            const size_t n_new = (size_t)(i1 - e0) * j->w;
            for (int k = 0; k < C0; k++)
                for (int i = e0; i < i1; i++) {
                    float *d = xs + k * n_new + (size_t)(i - e0) * j->w;
                    j->split_even_odd(xb + k * in_plane + (size_t)i * j->w, j->w, d, d + ne);
                }
            tc_fused_pointwise(&j->serial, j->expand, (int)n_new, xs, (ptrdiff_t)n_new,
                               ebuf + (size_t)(e0 - i0) * j->w, ld, NULL, 0, gemm_ws);
        } else {
            tc_fused_pointwise(&j->serial, j->expand, (i1 - e0) * j->w,
                               xb + (size_t)e0 * j->w, (ptrdiff_t)in_plane,
                               ebuf + (size_t)(e0 - i0) * j->w, ld, NULL, 0, gemm_ws);
        }
        st->b = b, st->i0 = i0, st->i1 = i1;
        /* the depthwise band: in dbuf [E][rows OW], or without a projection in y's planes */
        const size_t dplane = (size_t)rows * j->OW;
        float *dout = j->project ? dbuf : j->y + (size_t)b * E * out_plane + (size_t)r0 * j->OW;
        const size_t dld = j->project ? dplane : out_plane;
        if (j->split) {
            /* Dropped try (s29, Zen 4, AVX2 kernels, 1 thread, benchmarks/ir_ab.c against
             * integ29 43c707b, 21 rounds, same bits, load 40-50): before each channel's call,
             * the next channel's band rows (i1 - i0 rows of w floats, 4 KB at 112 wide)
             * prefetched into L1 (prefetcht0, one per line): MnasNet's layers.8.0 (16-48-24)
             * 1.047 min / 1.069 median of the time, MobileNetV3-Large's features.2 (16-64-24)
             * 1.040 / 1.056; the control (the base's ir_fused.c relinked) 1.005 / 1.012 and
             * 1.012 / 1.079.  The rows come from L2 fast enough; the prefetches only add work. */
            for (int c = 0; c < E; c++)
                j->split(ebuf + c * ld, i1 - i0, j->w, zrow,
                         j->dw->packed + (size_t)c * p->KH * p->KW, &q,
                         j->dw->bias ? j->dw->bias[c] : 0.0f, NULL, tc_act_at(j->dw->act, c),
                         rows, j->OW, dout + c * dld);
        } else {
            tc_conv2d_f32(&j->serial, &q, TC_CONV_ALGO_DEPTHWISE, 1, i1 - i0, j->w, ebuf,
                          j->dw->packed, j->dw->bias, NULL, j->dw->act, dbuf, zrow);
            if (!j->project)
                for (int c = 0; c < E; c++)
                    memcpy(dout + c * dld, dbuf + c * dplane, dplane * sizeof(float));
        }
        if (!j->project)
            continue;
        const size_t o = (size_t)b * K2 * out_plane + (size_t)r0 * j->OW;
        tc_fused_pointwise(&j->serial, j->project, rows * j->OW, dbuf, (ptrdiff_t)rows * j->OW,
                           j->y + o, (ptrdiff_t)out_plane, j->residual ? j->residual + o : NULL,
                           (ptrdiff_t)out_plane, gemm_ws);
    }
}

typedef struct {
    const float *y;
    float *means;
    size_t plane;
    float (*sum)(const float *x, ptrdiff_t n);
} means_job;

/* items = planes */
static void means_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const means_job *j = (const means_job *)varg;
    (void)tid;
    for (ptrdiff_t it = begin; it < end; it++)
        j->means[it] = j->sum(j->y + (size_t)it * j->plane, (ptrdiff_t)j->plane) / (float)j->plane;
}

void tc_fused_plane_means(const tc_ctx *ctx, const float *y, ptrdiff_t nplanes, size_t plane,
                          float *means)
{
    means_job j = {y, means, plane, tc_pool2d_kernels_of(ctx)->sum};
    tc_parallel_for(ctx->pool, nplanes, 1, means_task, &j);
}

/* x: [N, C0, H, W] (C0 = expand's C)  residual: [N, K2, OH, OW] or NULL, not y
 * y: [N, K2, OH, OW], overlapping neither x nor residual; without project (NULL) y is the
 * depthwise output [N, E, OH, OW] and means ([N, E] or NULL) its planes' means */
void tc_ir_fused_run(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                     const tc_ir_stage *project, int n, int h, int w, int band, const float *x,
                     const float *residual, float *y, float *means, float *workspace)
{
    int OH, OW;
    if (n < 1 || tc_ir_fused_check(expand, dw, project, h, w, band) ||
        tc_conv2d_output_hw(&dw->p, h, w, &OH, &OW))
        return;
    if (band > OH)
        band = OH;
    ir_job j;
    memset(&j, 0, sizeof(j));
    j.serial = *ctx;
    j.serial.pool = NULL;
    j.expand = expand, j.dw = dw, j.project = project;
    j.x = x, j.residual = residual, j.y = y, j.workspace = workspace;
    j.slot = slot_size(&j.serial, expand, dw, h, w, OW, band);
    j.split = split_plane(&j.serial, dw, h, w, OW);
    j.split_even_odd = tc_conv_kernels_of(&j.serial)->split_even_odd;
    j.h = h, j.w = w, j.OH = OH, j.OW = OW, j.band = band;
    j.nbands = (OH + band - 1) / band;
    tc_fused_state_reset(ctx, workspace, j.slot);
    tc_parallel_for_dynamic(ctx->pool, (ptrdiff_t)n * j.nbands, 1, ir_task, &j);
    if (means && !project)
        tc_fused_plane_means(ctx, y, (ptrdiff_t)n * dw->p.K, (size_t)OH * OW, means);
}

void tc_ir_fused_f32(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                     const tc_ir_stage *project, int n, int h, int w, int band, const float *x,
                     const float *residual, float *y, float *workspace)
{
    if (project)
        tc_ir_fused_run(ctx, expand, dw, project, n, h, w, band, x, residual, y, NULL, workspace);
}

/* ------------------------------------------------------------------------ */
/* The whole block with the expansion written channel-blocked for the       */
/* depthwise, its strips over ctx's threads (ir_chan8_avx2.c)              */
/* ------------------------------------------------------------------------ */

#ifdef TC_HAVE_AVX2_SOURCES
void tc_ir_chan8_strips_ld_avx2(const tc_ctx *serial, const tc_ir_stage *expand,
                                const tc_ir_stage *dw, int h, int w, int oh0, int oh1, int m0,
                                int m1, const float *x, float *d, size_t ldd, float *means,
                                float *slot, int setup, const char *pf, ptrdiff_t pf_lines);
void tc_ir_chan8_rows_avx2(const tc_ctx *serial, const tc_ir_stage *expand, const tc_ir_stage *dw,
                           int h, int w, int oh0, int oh1, const float *x, float *d, size_t ldd,
                           float *slot, const tc_chan8_halo *halo);
#endif

/* h42-mn: floats between the planes of d (the depthwise output of n pixels the projection
 * reads) where one thread writes d and reads it back: n rounded up to a whole odd number of
 * cache lines (49 -> 80, 196 -> 208, 98 -> 112; n % 16 == 0 as it is), the leading dimension
 * the GEMM's in-place tiles read best: at 7x7 they read d so without their aligned copy of it
 * (gemm.c gemm_copy_ldb: a memcpy per row, 1152 of 196 bytes at MnasNet's 7x7 blocks), at 14x14
 * every 16-column load within one line instead of half of them across two (the copy did not
 * pay there).  The same FMAs: the same bits.  Lone blocks (random weights, AVX2, Relu, one
 * process, the two layouts alternating by a getenv switch, 40 rounds, min of 10 runs a round,
 * 2026-12-06 09:2x, fma_peak 58-87 GFLOP/s), padded / n: 1 thread 192-1152-192 at 7x7 (5x5)
 * 0.983, 192-1152-320 (3x3) 0.989, 96-576-192 at 14x14 / 2 0.986, 160-960-160 at 7x7 0.971,
 * 80-480-80 at 14x14 0.988, 96-576-96 0.989, 64-384-64 0.987; 2 threads in rows (each thread's
 * own d, chan8_rows_task) 80-480-80 0.981, 96-576-96 0.982, 64-384-64 0.979.  But the strips at
 * 2+ threads (a d both threads wrote, the projection split by the GEMM over both) lost with it:
 * the 7x7 blocks 1.017-1.056, 96-576-192 1.028-1.034 (each thread's copy brings the other
 * core's half of d in one sweep; the tiles reading it in place wait on those lines): the
 * strips keep n there (chan8_run).  In the networks (benchmarks/steps_ab.py against the base
 * b7e13c6, 1 thread, 100 rounds x 5, each order, a loaded host: fma_peak 35-76 GFLOP/s):
 * MnasNet's layers.10-.13 0.987-0.994 this / base and 1.008-1.012 base / this (the unchanged
 * layers.9 1.009 / 1.010), the run 0.992 / 0.996; MobileNetV2's features.7-.17 0.977-0.997 /
 * 1.012-1.041 (features.5-.6 0.997-1.006), V3-Large level; at 2 threads the host too loaded
 * to tell (run medians 3x the minima). */
static size_t chan8_ldd_room(size_t n);

static size_t chan8_ldd(size_t n)
{
    return n % 16 == 0 ? n : chan8_ldd_room(n);
}

/* n rounded up to a whole odd number of cache lines: the floats a plane of d takes in the
 * workspace for bands of up to n pixels, as chan8_ldd(m) <= chan8_ldd_room(n) for every m <= n
 * (a band's last rows, m < n, may need a plane wider than chan8_ldd(n) where n is a multiple
 * of 16: rows of 8 in bands of 4 rows, the last of 3: 24 -> 48 against 32) */
static size_t chan8_ldd_room(size_t n)
{
    size_t lines = (n + 15) / 16;
    lines += lines % 2 == 0;
    return lines * 16;
}

/* the kinds the channel-lane epilogues take: one set of parameters for every channel */
static int chan8_act_ok(const tc_activation *a)
{
    return !a || a->kind == TC_ACT_NONE || a->kind == TC_ACT_RELU || a->kind == TC_ACT_CLIP ||
           a->kind == TC_ACT_HARD_SWISH || a->kind == TC_ACT_SILU;
}

/* the output rows of chan8's bands (s31): band, or the whole map (band 0 or OH at most) */
static int chan8_band(int band, int OH)
{
    return band > 0 && band < OH ? band : OH;
}

int tc_ir_chan8_check(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                      const tc_ir_stage *project, int h, int w, int band)
{
    const tc_conv2d_params *q = dw ? &dw->p : NULL;
    int OH, OW;
#ifndef TC_HAVE_AVX2_SOURCES
    return -1;
#endif
    if (!ctx || ctx->isa != TC_ISA_AVX2 || tc_ir_fused_check(expand, dw, project, h, w, 1))
        return -1;
    if (expand->algo != TC_CONV_ALGO_1X1_CHAN || expand->p.C > TC_GEMM_KC || expand->p.K % 8 ||
        !chan8_act_ok(expand->act) || !chan8_act_ok(dw->act))
        return -1;
    const int P = q->KH / 2;
    if ((q->KH != 3 && q->KH != 5) || q->KW != q->KH || q->sh != q->sw || (q->sh != 1 && q->sh != 2) ||
        q->dh != 1 || q->dw != 1 || q->pt != P || q->pl != P || q->pb != P || q->pr != P)
        return -1;
    if (band < 0 || tc_conv2d_output_hw(q, h, w, &OH, &OW) || OH * OW < 8)
        return -1;
    /* in bands (s31, with a projection alone: the pair's means sum whole planes), each band of
     * at least 8 pixels (its last row alone: OW >= 8), the slot's padded rows at most 4096 */
    const int rb = chan8_band(band, OH);
    if (rb < OH && (!project || OW < 8))
        return -1;
    if (rb * OW > 1024 || (size_t)((rb - 1) * q->sh + q->KH) * (w + 2 * P) > 4096)
        return -1;
    return 0;
}

/* a thread's floats for tc_ir_chan8_strips_avx2 on a band of rb output rows (n pixels): the
 * depthwise's two padded pixel buffers (one strip of 16 channels, 8 floats a pixel), its sums
 * (8 floats each), pix, pin, then the band's C input rows packed for the expansion's tiles
 * (after a line holding where they came from); a whole number of cache lines */
static size_t chan8_slot_floats(int C, int w, int kc, int s, int rb, size_t n)
{
    const size_t rows = (size_t)(rb - 1) * s + kc;
    const size_t bstride = (rows * (w + kc - 1) + 8 + 1) & ~(size_t)1;
    return up16(2 * bstride * 8 + ((n + 8 + 1) & ~(size_t)1) * 8 + up16(n + 8) +
                up16(rows * w) + 16 + up16((size_t)C * rows * w));
}

/* At 2+ threads a block with a projection, planned whole (band 0), runs in rows (n32-2t): the
 * output rows cut into one band per thread, each thread its band's strips then its band's
 * projection, serially, on a d of its own: one job, no barrier between the strips and the
 * projection, and no thread reads the other's d (with the strips claimed by channels, each
 * thread's half of the projection read d's other half from the other core).  It pays the halo:
 * each band expands the input rows it reads (28x28, 3x3 stride 1: 16 of 28 rows a thread).
 * Measured (2026-12-05, Xeon KVM guest, AVX2 emulation, 2 threads, bit-identical): before it,
 * pool_trace.py (SCHED_FIFO) put MobileNetV2's chan8 blocks at 1.25x their 1-thread CPU time,
 * of which the threads' idle at the job ends was 21 of 325 us on features.5.  Rows / strips:
 * ab_threads.py --fifo (one process, 40 rounds x 10 runs) MobileNetV2 0.966 [0.948-0.986],
 * MnasNet 0.954 [0.947-0.967], V3-Large 0.990 [0.961-1.012] (V3-Small, no block in rows,
 * 1.005); pool_ab.py --nice -20 (15 rounds in 3 sets of processes, bench.py's method) 0.970
 * [0.951-0.990], 0.959 [0.952-0.978], 0.986 [0.965-0.993].  Per step (mt_inproc.py, a switch,
 * 400 runs): the repeated 28x28 and 14x14 blocks 0.87-0.93, the first of each stage and the
 * stride-2 ones 0.97-1.02.
 * Pairs (no projection) in rows too, tried and dropped (n33-2t, 2026-12-05, Xeon KVM guest,
 * AVX2 emulation, 2 threads, bit-identical, the means summed whole plane by plane after the
 * rows job as the strips sum them): each thread its band's strips into a d of its own, copied
 * into y's planes, then tc_fused_plane_means over the pool.  MobileNetV3-Large (ab_threads.py
 * --fifo against the base, 40 rounds x 10 runs) 1.038 [1.008-1.079] and 1.051 [1.020-1.081]
 * (the same build with the strips: 1.001, 1.011); per step (mt_inproc.py, a switch, 6
 * processes x 60 runs under FIFO) the pairs rows / strips: features.4 (24-72 at 56x56, 5x5/2,
 * the 3 + 2 strips) 127 / 113 us, .5 128 / 94, .6 109 / 91, .11 145 / 115, .12 251 / 200; the
 * SE-scaled projections after them 0.94-0.98 (y's rows in the core that reads them).  The halo
 * (the expansion's input rows: +5% at features.4, +14% at .5, .6, .11, .12), the copy and the
 * second job cost more than the strips' idle.
 * Bands planned (n33-2t, fused_ir.chan8_band_mt: the 112x112 stride-2 blocks): each thread a
 * contiguous run of the bands (tc_parallel_for), each band as above.
 * Where MobileNetV2's 2 threads go (h37-mv2, 2026-12-05 17:1x-17:3x, Xeon KVM guest, AVX2
 * emulation, chrt -f 10, base ab8bdde): per step against onnxruntime (qsteps_mt.py --depth 2, 3
 * processes x 200 runs, minima) the 112x112-28x28 blocks scale 1.78-1.96x (onnxruntime
 * 1.62-1.95x) and run 0.63-0.79 of its time; the 14x14 and 7x7 ones 1.58-1.73x, 0.78-0.91 (the
 * same as at 1 thread).  cold_steps.py --threads 2 (40 rounds): warm too the 14x14 blocks scale
 * only 1.63-1.78x, the 7x7 ones 1.52-1.53x: the partition, not data found cold.  pool_trace.py
 * (base, 300 runs, fastest 30%): 235-247 us a run of idle at job ends (4.2 ms), in rows jobs
 * 103 (the caller's band 5-9% slower than the worker's at 14x14 and features.2, 12-26 us; the
 * stride-2 ones the worker's, which expands one input row more: 10-11 us), the GEMM jobs 60
 * (the 7x7 projections and features.18, caller slower again: 9-21 us), the strips 31.  Tried
 * (benchmarks/chan8_strips_pcols.patch, getenv switches; mt_inproc.py --fifo, 6 processes x 60
 * runs, bit-identical), strips against rows: TC_X_P=1 the whole-map blocks back on strips +
 * the GEMM's split: on a quiet host MnasNet 1.016 [0.975-1.058] of the run (its 28x28 / 14x14
 * blocks 1.09-1.29), MobileNetV2's 28x28 1.18-1.35, 14x14 1.05-1.20 (features.7 0.91 in one
 * run, level in the next); only when the worker stands aside (a loaded host: 2 threads at 8 ms,
 * one thread doing both chunks with their halos) strips win (MobileNetV2 0.79-0.92 per block).
 * TC_X_P=2 the strips' projection split by pixel halves (each thread all the weights) instead
 * of the GEMM's row halves: 7x7 blocks 1.06-1.13.  TC_X_R=1 the rows' chunks reversed (the
 * caller the bottom band): the idle 103 -> 47-62 us but the slower side stays (features.12
 * caller 291 / worker 275 us -> 294 / 294), run 1.00-1.04: not the thread, not kept.
 * The 7x7 blocks in rows too (benchmarks/chan8_rows_7x7.patch, TC_X_7=1: bands of 4 + 3 rows,
 * 9 of 7 input rows expanded): MobileNetV2's features.15-.17 1.19-1.22, .14 1.03, run 1.032
 * [1.003-1.062].  MnasNet (qsteps_mt.py --depth 3, same method): every block scales better than
 * onnxruntime's (1.65-1.88x against 1.41-1.80x), 0.66-0.91 of its time at 2 threads.
 * The strips' projection (ctx's GEMM: 2 row ranges at 7x7) cut in 2-3 times as many row ranges
 * claimed by the threads, so that the slower caller holds less at the end
 * (benchmarks/gemm_rows_finer.patch, TC_X_G=2 / 3): features.14-.17 1.03-1.07 / 1.07-1.13, run
 * 1.022 / 1.030 (each range reads all of d again).  Nor is the slower side the caller's vCPU:
 * the caller pinned to either vCPU, the worker to the other (os.sched_setaffinity, 300 runs x
 * 2 each), idle 154-208 us a run against 209-230 unpinned, wall 4.22-4.29 against 4.30-4.33 ms,
 * which thread ends last still changing from step to step.
 * The rows of a thread's band (the planned band), or 0 where strips stay (a pair, OW < 8 as
 * tc_ir_chan8_check's bands, fewer than 2 rows a thread). */
static int chan8_rows_band(const tc_ctx *ctx, const tc_ir_stage *project, int OH, int OW, int rb)
{
    const int threads = ctx->pool ? tc_pool_size(ctx->pool) : 1;
    if (threads < 2 || !project || OW < 8)
        return 0;
    if (rb < OH) /* bands planned: each thread a contiguous run of them */
        return rb;
    return OH < 2 * threads ? 0 : (OH + threads - 1) / threads;
}

/* h38-mv2: in rows, the bands of image 0 share their halo rows (tc_chan8_halo: each row
 * expanded once where the band beside has published it in time, else by both; never a wait)
 * from this expansion depth on.  Each band expands the rows the band beside needs first and
 * publishes them, its other rows, then takes the rows it needs from the band beside: the thread
 * that runs ahead finds the other's rows not yet there and expands them itself, so the shared
 * work goes to the faster thread (the caller's band was 5-9% slower at 14x14, the worker's at
 * stride 2, where it read one input row more).  Measured (2026-12-05 20:3x, Xeon KVM guest,
 * AVX2 emulation, 2 threads, against the base 4474f1a, bit-identical, host at load 5-6):
 * MobileNetV2 pool_ab.py --nice -20 (20-24 rounds, 3-4 sets of processes) 0.961 [0.946-0.991],
 * 0.967 (the base / this 1.034 [1.010-1.052]), 0.955 [0.944-0.971]; ab_threads.py --fifo
 * (40 x 10) 0.947 [0.936-0.956], the other order 1.009 (geometric mean 0.969);
 * env_steps_ab.py --fifo (8 processes each, 150 runs) run medians 4.14-4.42 against 4.37-4.55
 * ms, step minima features.7 0.964, .9-.13 0.971-0.985, .5 1.009, sum 0.989.  MnasNet
 * pool_ab.py 0.992 [0.965-1.014], 0.988; ab_threads.py 0.988 and (other order) 1.012.
 * From 64 (the 14x14 blocks only; features.5-.7's 32 and MnasNet's 40 left out) MobileNetV2
 * 1.002 [0.990-1.018] and 1.003 of the base (pool_ab.py), MnasNet 1.000; from 24 (features.4,
 * MnasNet's layers.9.0 too) 0.971 [0.946-0.992] where 32 read 0.955, MnasNet 0.990: 32 kept.
 * How often the rows were there (a counting copy of this build, 200 runs at 2 threads): the
 * lower band (the worker's) found the upper band's rows 98% of the time in MobileNetV2 (40136
 * of 40800 strips' edges, chrt -f 10; 97.5% under CFS), 99% in MnasNet; the upper band (the
 * caller's) found the lower band's 72% (MobileNetV2, FIFO), 56% (CFS), 95% (MnasNet): the
 * worker starts each job later, so the caller still expands ~54 of its rows' strips a run
 * (~20 us at most).  Tried and left: each band's exported rows a strip ahead, straight into
 * the edge (benchmarks/chan8_halo_ahead.patch, bit-identical): MobileNetV2 pool_ab.py --nice -20
 * (24 rounds, 4 sets of processes, a sanitizer build running beside) 0.997 [0.990-1.020] of
 * this, MnasNet 0.999 (the worker off its core at times: 8.3 ms runs): level. */
#define TC_CHAN8_SHARE_MIN_C 32
/* floats left between two edges' rows: each edge has one writer, and a core loses the lines it
 * has just written when the other core touches lines within ~4 KB of them (benchmarks/l2_gap.c) */
#define TC_CHAN8_EDGE_GAP 1024

/* the band count of the rows mode where its bands share their halo rows, else 0: at least two
 * bands, each band's input rows overlapping only the bands next to it (rbt s >= KC - s) */
static int chan8_share_bands(const tc_ir_stage *expand, const tc_ir_stage *dw, int OH, int rbt)
{
    const int s = dw->p.sh, KC = dw->p.KH, nbt = rbt ? (OH + rbt - 1) / rbt : 0;
    return nbt >= 2 && expand->p.C >= TC_CHAN8_SHARE_MIN_C && rbt * s >= KC - s ? nbt : 0;
}

/* floats of an edge's ready flags (ints) and of its rows: the larger half of the KC - s rows
 * two bands share, every strip's, then the gap */
static size_t chan8_ready_floats(const tc_ir_stage *expand)
{
    return up16(((size_t)expand->p.K + 15) / 16);
}
static size_t chan8_edge_floats(const tc_ir_stage *expand, const tc_ir_stage *dw, int w)
{
    const size_t er = (size_t)(dw->p.KH - dw->p.sh + 1) / 2;
    return up16(((size_t)expand->p.K + 15) / 16 * er * w * 16) + TC_CHAN8_EDGE_GAP;
}

/* Floats of the workspace before the threads' slots: with strips, d (a band's, with project)
 * and the GEMM's (ctx's threads); in rows, per thread its band's d and a serial GEMM's
 * (*rows_d, *rows_gemm), then the shared halo rows' edges (2 a pair of bands: their ready
 * flags, then their rows); the larger of the two. */
static size_t chan8_prefix(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                           const tc_ir_stage *project, int w, int OH, int OW, int rb,
                           size_t *rows_d, size_t *rows_gemm)
{
    const size_t E = (size_t)expand->p.K;
    const size_t strips = (project ? up16(E * chan8_ldd_room((size_t)rb * OW)) : 0) +
                          up16(tc_gemm_workspace_size(ctx));
    const int rbt = chan8_rows_band(ctx, project, OH, OW, rb);
    const int nbt = chan8_share_bands(expand, dw, OH, rbt);
    tc_ctx serial = *ctx;
    serial.pool = NULL;
    *rows_d = rbt ? up16(E * chan8_ldd_room((size_t)rbt * OW)) : 0;
    *rows_gemm = rbt ? up16(tc_gemm_workspace_size(&serial)) : 0;
    const size_t rows = (size_t)tc_pool_size(ctx->pool) * (*rows_d + *rows_gemm) +
                        (nbt ? (size_t)2 * (nbt - 1) *
                                   (chan8_ready_floats(expand) + chan8_edge_floats(expand, dw, w))
                             : 0);
    return rbt && rows > strips ? rows : strips;
}

size_t tc_ir_chan8_workspace_size(const tc_ctx *ctx, const tc_ir_stage *expand,
                                  const tc_ir_stage *dw, const tc_ir_stage *project, int h, int w,
                                  int band)
{
    if (tc_ir_chan8_check(ctx, expand, dw, project, h, w, band))
        return 0;
    int OH, OW;
    tc_conv2d_output_hw(&dw->p, h, w, &OH, &OW);
    const int threads = ctx->pool ? tc_pool_size(ctx->pool) : 1, rb = chan8_band(band, OH);
    const size_t n = (size_t)rb * OW;
    size_t rows_d, rows_gemm;
    /* chan8_prefix, a slot per thread, alignment */
    return chan8_prefix(ctx, expand, dw, project, w, OH, OW, rb, &rows_d, &rows_gemm) +
           (size_t)threads * chan8_slot_floats(expand->p.C, w, dw->p.KH, dw->p.sh, rb, n) + 64;
}

#ifdef TC_HAVE_AVX2_SOURCES
#define CHAN8_READY 64
/* chan8_run's projection prefetch: only weights this large (the 64 x 384 of MobileNetV2's
 * features.8 and up; its 56x56 / 28x28 blocks' 9-24 KB read 1.005-1.014 with it, noise or the
 * hints' cost) */
#define CHAN8_PF_PROJECT_MIN_BYTES (64 * 1024)
/* ... and at most this large (h53-mv): on the Zen 3 target's 512 KiB L2 the 7x7 blocks' weights
 * (0.6-1.5 MB: MobileNetV2's features.15-.17, MnasNet's layers.12-13) prefetched during the
 * expansion, which streams its own weights of that size, lost: per step in the network (1
 * thread, 2026-12-07, load 8-10, one build with the prefetch switched off by an environment
 * probe between alternating bursts, 60-80 rounds x 5, median of per-round ratios [25-75%],
 * controls 0.995-1.011, bit-identical) without it MobileNetV2's features.15 0.968
 * [0.931-1.020], .16 0.964 [0.940-0.980], .17 0.980 [0.952-1.042], MnasNet's layers.12.1
 * 0.983, 12.2 0.993, 12.3 0.981, 13.0 0.984 [0.949-1.004]; the 14x14 blocks' 154-221 KB
 * (MobileNetV2's features.11-.13, MnasNet's layers.10-11) 0.990-1.007 either way, kept.
 * Capped at 2048 lines (128 KB) instead: the 7x7 blocks 0.979-0.989. */
#define CHAN8_PF_PROJECT_MAX_BYTES (384 * 1024)
/* h50-pf: 0 leaves the projection's prefetch out (a diagnostic switch) */
#ifndef TC_CHAN8_PF_PROJECT
#define TC_CHAN8_PF_PROJECT 1
#endif
typedef struct {
    const tc_ctx *serial;
    const tc_ir_stage *expand, *dw;
    const float *x;
    float *d, *means, *slots;
    size_t slot;
    int h, w, oh0, oh1;
    /* per thread index: its slot's tables and borders built for this band (each strip claim
     * re-built them: ~1 us, a claim of one strip 4-10 us of work); cleared at each new band */
    unsigned char ready[CHAN8_READY];
    /* in rows (chan8_rows_band): rbt rows a band, nbt bands an image; per thread index its d
     * (rows_d floats) then its GEMM's (rows_gemm) from rows_ws */
    const tc_ir_stage *project;
    const float *residual;
    float *y, *rows_ws;
    size_t in, out, rows_d, rows_gemm;
    int OH, OW, rbt, nbt;
    /* image 0's shared halo rows (chan8_share_bands), or NULL: edge k's ready flags at
     * halo_ready + k ready_floats, its rows at halo_rows + k edge_floats (edge 2 t: band t's
     * rows for band t + 1, 2 t + 1: band t + 1's for band t) */
    int *halo_ready;
    float *halo_rows;
    size_t ready_floats, edge_floats;
    /* a pair's: NULL, or pf_lines cache lines the next step reads, shared over the strips */
    const char *pf;
    ptrdiff_t pf_lines, strips;
    size_t ldd; /* strips: floats between d's planes */
    int multi;  /* strips: ctx's pool has 2+ threads (chan8_read_rows) */
    /* h45-mn: the projection over d's nonzero values (pw_sparse_avx2.c), or NULL: its packed
     * weights, per thread index a workspace of sp_stride floats from sp_ws; at 2+ threads with
     * strips, its sp_n pixels (y and the residual at sp_y, sp_res) cut into the items
     * (group, part) of sp_parts pixel parts a group */
    const float *sparse, *sp_res;
    float *sp_ws, *sp_y;
    size_t sp_stride;
    int sp_n, sp_parts;
} chan8_job;

/* the input rows [*r0, *r1) band t of the rows mode reads (as dw8_setup counts them) */
static void chan8_band_rows(const chan8_job *j, int t, int *r0, int *r1)
{
    const tc_conv2d_params *q = &j->dw->p;
    const int oh0 = t * j->rbt, oh1 = oh0 + j->rbt < j->OH ? oh0 + j->rbt : j->OH;
    const int a = oh0 * q->sh - q->KH / 2, b = (oh1 - 1) * q->sh - q->KH / 2 + q->KH;
    *r0 = a < 0 ? 0 : a, *r1 = b > j->h ? j->h : b;
}

/* edge k's rows [r0, r1) (and its buffers) between bands t and t + 1 (k 2 t: band t's, k
 * 2 t + 1: band t + 1's): the rows both read split at the middle, the upper half band t's */
static tc_chan8_edge chan8_edge(const chan8_job *j, int k)
{
    int a0, a1, b0, b1;
    chan8_band_rows(j, k / 2, &a0, &a1);
    chan8_band_rows(j, k / 2 + 1, &b0, &b1);
    const int sb = a1 > b0 ? a1 : b0, mid = b0 + (sb - b0 + 1) / 2;
    tc_chan8_edge g = {k % 2 ? mid : b0, k % 2 ? sb : mid, j->halo_rows + k * j->edge_floats,
                       j->halo_ready + k * j->ready_floats};
    return g;
}

/* band t's halo (tc_chan8_halo): what it shares with the bands above and below */
static void chan8_band_halo(const chan8_job *j, int t, tc_chan8_halo *hl)
{
    int i0, i1;
    chan8_band_rows(j, t, &i0, &i1);
    const tc_chan8_edge top = {i0, i0, NULL, NULL}, bottom = {i1, i1, NULL, NULL};
    hl->in[0] = t > 0 ? chan8_edge(j, 2 * t - 2) : top;
    hl->out[0] = t > 0 ? chan8_edge(j, 2 * t - 1) : top;
    hl->out[1] = t < j->nbt - 1 ? chan8_edge(j, 2 * t) : bottom;
    hl->in[1] = t < j->nbt - 1 ? chan8_edge(j, 2 * t + 1) : bottom;
}

/* items: (image, band) pairs of the rows mode; tc_parallel_for: tid is the chunk's index */
static void chan8_rows_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    chan8_job *j = (chan8_job *)varg;
    const size_t np = (size_t)j->OH * j->OW;
    float *d = j->rows_ws + (size_t)tid * (j->rows_d + j->rows_gemm), *gws = d + j->rows_d;
    for (ptrdiff_t i = begin; i < end; i++) {
        const int b = (int)(i / j->nbt), oh0 = (int)(i % j->nbt) * j->rbt;
        const int oh1 = oh0 + j->rbt < j->OH ? oh0 + j->rbt : j->OH;
        if (oh0 >= oh1)
            continue;
        const int m = (oh1 - oh0) * j->OW;
        const size_t o = b * j->out + (size_t)oh0 * j->OW, ldd = chan8_ldd((size_t)m);
        tc_chan8_halo hl;
        if (j->halo_ready && b == 0)
            chan8_band_halo(j, (int)(i % j->nbt), &hl);
        tc_ir_chan8_rows_avx2(j->serial, j->expand, j->dw, j->h, j->w, oh0, oh1, j->x + b * j->in,
                              d, ldd, j->slots + (size_t)tid * j->slot,
                              j->halo_ready && b == 0 ? &hl : NULL);
        if (j->sparse)
            tc_pw_sparse_avx2(j->project->p.K, j->expand->p.K, m, j->sparse, j->project->bias,
                              j->project->act, d, ldd, j->residual ? j->residual + o : NULL, np,
                              j->y + o, np, j->sp_ws + (size_t)tid * j->sp_stride);
        else
            tc_fused_pointwise(j->serial, j->project, m, d, (ptrdiff_t)ldd, j->y + o,
                               (ptrdiff_t)np, j->residual ? j->residual + o : NULL,
                               (ptrdiff_t)np, gws);
    }
}

/* pixel k of the sp_parts parts of n pixels: multiples of 8 but the last */
static int chan8_sparse_pixel(int n, int parts, int k)
{
    return k >= parts ? n : (int)(((int64_t)n * k / parts) & ~(int64_t)7);
}

/* h45-mn: items (group, part) of the sparse projection of the strips' d (each output's FMAs
 * those of one call over every group and pixel: the same bits); tc_parallel_for: tid is the
 * chunk's index.  With one part a group, a chunk's groups in one call (d's nonzero bits found
 * once a chunk). */
static void chan8_sparse_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const chan8_job *j = (const chan8_job *)varg;
    const tc_ir_stage *pr = j->project;
    const int K2 = pr->p.K, E = j->expand->p.K, P = j->sp_parts;
    float *ws = j->sp_ws + (size_t)tid * j->sp_stride;
    if (P == 1) {
        tc_pw_sparse_part_avx2(K2, E, j->sp_n, (int)begin, (int)end, j->sparse, pr->bias, pr->act,
                               j->d, j->ldd, j->sp_res, (size_t)j->OH * j->OW, j->sp_y,
                               (size_t)j->OH * j->OW, ws);
        return;
    }
    for (ptrdiff_t i = begin; i < end; i++) {
        const int g = (int)(i / P), part = (int)(i % P);
        const int p0 = chan8_sparse_pixel(j->sp_n, P, part);
        const int p1 = chan8_sparse_pixel(j->sp_n, P, part + 1);
        tc_pw_sparse_part_avx2(K2, E, p1 - p0, g, g + 1, j->sparse, pr->bias, pr->act, j->d + p0,
                               j->ldd, j->sp_res ? j->sp_res + p0 : NULL, (size_t)j->OH * j->OW,
                               j->sp_y + p0, (size_t)j->OH * j->OW, ws);
    }
}

/* h48-mn2: every cache line of the input rows [r0, r1) of x's C planes of h x w read once, in
 * order (loads, not prefetches: nothing kept) */
static void chan8_read_rows(const float *x, int C, int h, int w, int r0, int r1)
{
    for (int c = 0; c < C; c++) {
        const char *p = (const char *)(x + ((size_t)c * h + r0) * w);
        const char *e = (const char *)(x + ((size_t)c * h + r1) * w);
        for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < e; p += 64)
            (void)*(const volatile char *)p;
    }
}

/* items: 16-channel strips (the last of E % 16 == 8: 8 channels).  h48-mn2: at 2+ threads each
 * thread's first claim of a band reads the band's input rows line by line before its strips:
 * half of x's lines were written by the other core, and the expansion's reads (a pixel tile
 * over all C planes) fetch them a few at a time (a traced build, MnasNet 2 threads, chrt -f 10,
 * 3000 runs, the variants interleaved by job: layers.12.0's first chunk 20-24 us against 7.5
 * for the same strip warm, of which reading x beforehand took 3.6-4.5 us and removed 5.5-12.5;
 * the 7x7 blocks' first chunks, 2 strips, 13.4 us against 7.4 warm: x 2.1-3.6 us of it, read
 * in a loop or by demand alike: there (3-4 lines a plane) it is not read first) */
#define CHAN8_READ_MIN_FLOATS 128
static void chan8_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    chan8_job *j = (chan8_job *)varg;
    const int E = j->expand->p.K, m1 = (int)end * 16;
    /* only thread tid reads or writes ready[tid] */
    const int setup = tid >= CHAN8_READY || !j->ready[tid];
    if (setup && j->multi) {
        const tc_conv2d_params *q = &j->dw->p;
        int r0 = j->oh0 * q->sh - q->KH / 2, r1 = (j->oh1 - 1) * q->sh - q->KH / 2 + q->KH;
        r0 = r0 < 0 ? 0 : r0, r1 = r1 > j->h ? j->h : r1;
        if ((r1 - r0) * j->w >= CHAN8_READ_MIN_FLOATS)
            chan8_read_rows(j->x, j->expand->p.C, j->h, j->w, r0, r1);
    }
    /* these strips' share of the lines to prefetch */
    const ptrdiff_t l0 = j->pf ? j->pf_lines * begin / j->strips : 0,
                    l1 = j->pf ? j->pf_lines * end / j->strips : 0;
    tc_ir_chan8_strips_ld_avx2(j->serial, j->expand, j->dw, j->h, j->w, j->oh0, j->oh1,
                               (int)begin * 16, m1 < E ? m1 : E, j->x, j->d, j->ldd, j->means,
                               j->slots + (size_t)tid * j->slot, setup,
                               j->pf ? j->pf + l0 * 64 : NULL, l1 - l0);
    if (setup && tid < CHAN8_READY)
        j->ready[tid] = 1;
}
#endif

/* x: [N, C, H, W]  residual: [N, K2, OH, OW] or NULL  y: [N, K2, OH, OW]; without project
 * (tc_ir_chan8_pair_f32) y: [N, E, OH, OW] the depthwise output, means [N, E] or NULL its
 * planes' means.  With ctx's pool (s30): the 16-channel strips of the expansion + depthwise
 * claimed by its threads, then the projection as ctx's GEMM splits it: the same bits as on one
 * thread (no sum is split).  band (s31, with project): output rows at a time, the strips then
 * the projection of each band (each pixel's projection sums E in the same order).  At 2+
 * threads with project: in rows, a band per thread or (bands planned) a run of bands per
 * thread (chan8_rows_band), the same bits. */
static void chan8_run(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                      const tc_ir_stage *project, const float *sparse, int n, int h, int w,
                      int band, const float *x, const float *residual, float *y, float *means,
                      const void *prefetch, size_t prefetch_bytes, float *workspace)
{
    if (n < 1 || tc_ir_chan8_check(ctx, expand, dw, project, h, w, band))
        return;
#ifdef TC_HAVE_AVX2_SOURCES
    int OH, OW;
    tc_conv2d_output_hw(&dw->p, h, w, &OH, &OW);
    tc_ctx serial = *ctx;
    serial.pool = NULL;
    const int rb = chan8_band(band, OH);
    const size_t np = (size_t)OH * OW, E = (size_t)expand->p.K, nb = (size_t)rb * OW;
    float *ws = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    float *gemm_ws = ws + (project ? up16(E * chan8_ldd_room(nb)) : 0); /* ws: d with project */
    size_t rows_d, rows_gemm;
    chan8_job j = {&serial, expand, dw, NULL, NULL, NULL,
                   ws + chan8_prefix(ctx, expand, dw, project, w, OH, OW, rb, &rows_d,
                                     &rows_gemm),
                   chan8_slot_floats(expand->p.C, w, dw->p.KH, dw->p.sh, rb, nb), h, w, 0, OH,
                   {0}};
    const size_t in = (size_t)expand->p.C * h * w;
    const size_t out = (size_t)(project ? project->p.K : dw->p.K) * np;
    const int rbt = chan8_rows_band(ctx, project, OH, OW, rb);
    /* h44-mn: the projection over d's nonzero values only (pw_sparse_avx2.c), its workspaces
     * (one a thread, h45-mn) after the block's.  h45-mn: at 2+ threads in rows each thread's
     * bands (chan8_rows_task), with strips its groups of output channels (chan8_sparse_task);
     * where the planner takes it at 2 threads: fused_ir.IR_SPARSE_MAX_E_MT */
    float *sp_ws = NULL;
    if (sparse && project && !tc_pw_sparse_check(project->p.K, (int)E, 8, project->act)) {
        const uintptr_t a = (uintptr_t)(workspace + tc_ir_chan8_workspace_size(
                                                        ctx, expand, dw, project, h, w, band));
        sp_ws = (float *)((a + 63) & ~(uintptr_t)63);
        j.sparse = sparse, j.sp_ws = sp_ws;
        j.sp_stride = up16(tc_pw_sparse_ws_floats(project->p.K, (int)E, (int)nb));
    }
    /* h44-mn2: a projection without its dense packing (packed NULL: the sparse one only) runs
     * nothing where the sparse product does not take the block (IRChan8 refuses it there) */
    if (project && !project->packed && !sp_ws)
        return;
    if (rbt) {
        j.project = project, j.residual = residual, j.y = y, j.in = in, j.out = out;
        j.OH = OH, j.OW = OW, j.rbt = rbt, j.nbt = (OH + rbt - 1) / rbt;
        j.rows_d = rows_d, j.rows_gemm = rows_gemm, j.rows_ws = ws, j.x = x;
        if (chan8_share_bands(expand, dw, OH, rbt)) { /* the edges after the threads' d + GEMM */
            const int edges = 2 * (j.nbt - 1);
            j.ready_floats = chan8_ready_floats(expand);
            j.edge_floats = chan8_edge_floats(expand, dw, w);
            j.halo_ready = (int *)(ws + (size_t)tc_pool_size(ctx->pool) * (rows_d + rows_gemm));
            j.halo_rows = (float *)j.halo_ready + edges * j.ready_floats;
            memset(j.halo_ready, 0, edges * j.ready_floats * sizeof(float));
        }
        tc_parallel_for(ctx->pool, (ptrdiff_t)n * j.nbt, 1, chan8_rows_task, &j);
        return;
    }
    j.strips = (ptrdiff_t)((E + 15) / 16);
    j.multi = ctx->pool && tc_pool_size(ctx->pool) > 1;
    for (int b = 0; b < n; b++) {
        j.x = x + b * in;
        j.means = means ? means + (size_t)b * E : NULL;
        if (!project) { /* the whole map (tc_ir_chan8_check) */
            j.d = y + b * out, j.ldd = np;
            /* the last image's strips prefetch what the next step reads */
            j.pf = b == n - 1 && prefetch_bytes ? (const char *)prefetch : NULL;
            j.pf_lines = j.pf ? (ptrdiff_t)((prefetch_bytes + 63) / 64) : 0;
            tc_parallel_for_dynamic(ctx->pool, (ptrdiff_t)((E + 15) / 16), 1, chan8_task, &j);
            continue;
        }
        j.d = ws;
        for (int oh0 = 0; oh0 < OH; oh0 += rb) {
            j.oh0 = oh0, j.oh1 = oh0 + rb < OH ? oh0 + rb : OH;
            if (rb < OH) /* another band: other rows in the slots' tables and borders */
                memset(j.ready, 0, sizeof j.ready);
            const int m = (j.oh1 - oh0) * OW;
            const size_t o = b * out + (size_t)oh0 * OW;
            j.ldd = tc_pool_size(ctx->pool) == 1 ? chan8_ldd((size_t)m) : (size_t)m;
            /* h37-mn: at 1 thread the first band's strips prefetch the projection's packed
             * weights into L2 as they compute (the pair's SE prefetch, chan8_expand_k: at most
             * TC_CHAN8_PF_TILE lines a tile, the first lines first; 7x7 blocks get ~2 / 3 of
             * 1152 x 192), where the GEMM found them in L3 (benchmarks/cold_steps.py, MnasNet:
             * 12.1-12.3 +36-47 us each in the network over warm).  MnasNet's chan8 blocks inside
             * the network (steps_ab.py against the base, 50 rounds, each order, bit-identical):
             * 10.1-13.0 0.981-0.998 / base 1.002-1.030.  Tried and left (same tool, 40 rounds,
             * against this): 32 lines a tile 1.003-1.018 on the 7x7 blocks; every line (no cap
             * at the tiles' room: the rest after each strip's tiles, while its depthwise runs)
             * 12.0-13.0 1.011-1.041: more lines in flight slow the expansion more than they
             * save the GEMM.  h37-mn2: the next chan8 block's first expansion strip (1-12 KB)
             * prefetched before the last band's projection, MnasNet level (1.011 / base 1.009,
             * 81 rounds; benchmarks/chan8_next_strip.patch).  h39-mt: at 2 threads (the 7x7
             * blocks, strips) each thread's strips prefetching the half of the packed weights its
             * GEMM chunk reads (the row halves of every K block; benchmarks/chan8_pf_mt.patch,
             * TC_X_PF2, bit-identical): MnasNet env_steps_ab.py --fifo 8 rounds x 150 runs,
             * layers.12.x 0.997-1.001, sum of steps 1.001: level, so the weights' arrival is not
             * what the 2-thread projections lose (~147 us a half beside 162 us of strips,
             * pool_trace.py).  The patch's TC_X_SOLO (the halves one after the other on the
             * caller) and TC_X_ONE (one range on one thread) did not settle whether the halves
             * lose time to running side by side: in their processes the steps they leave alone
             * ran 0.95-1.09 and 1.12-1.24 of the base's (three runs of 6-8 rounds). */
            const size_t pbytes =
                (sp_ws ? tc_pw_sparse_pack_size(project->p.K, (int)E)
                       : tc_conv2d_pack_size(&project->p, project->algo)) * sizeof(float);
            j.pf = TC_CHAN8_PF_PROJECT && tc_pool_size(ctx->pool) == 1 && b == 0 && oh0 == 0 &&
                           pbytes >= CHAN8_PF_PROJECT_MIN_BYTES &&
                           pbytes <= CHAN8_PF_PROJECT_MAX_BYTES
                       ? (const char *)(sp_ws ? sparse : project->packed)
                       : NULL;
            j.pf_lines = j.pf ? (ptrdiff_t)((pbytes + 63) / 64) : 0;
            tc_parallel_for_dynamic(ctx->pool, (ptrdiff_t)((E + 15) / 16), 1, chan8_task, &j);
            if (sp_ws && tc_pool_size(ctx->pool) > 1) {
                /* h45-mn: the groups over the threads (as the GEMM splits the dense one by
                 * rows), a group in pixel parts where the groups are fewer than the threads */
                const int G = tc_pw_sparse_groups(project->p.K), T = tc_pool_size(ctx->pool);
                int P = G < T ? (T + G - 1) / G : 1;
                while (P > 1 && m / P < 16)
                    P--;
                j.project = project, j.OH = OH, j.OW = OW;
                j.sp_n = m, j.sp_parts = P, j.sp_y = y + o;
                j.sp_res = residual ? residual + o : NULL;
                tc_parallel_for(ctx->pool, (ptrdiff_t)G * P, 1, chan8_sparse_task, &j);
            } else if (sp_ws)
                tc_pw_sparse_avx2(project->p.K, (int)E, m, sparse, project->bias, project->act,
                                  ws, j.ldd, residual ? residual + o : NULL, np, y + o, np, sp_ws);
            else
                tc_fused_pointwise(ctx, project, m, ws, (ptrdiff_t)j.ldd, y + o, (ptrdiff_t)np,
                                   residual ? residual + o : NULL, (ptrdiff_t)np, gemm_ws);
        }
    }
#else
    (void)x, (void)residual, (void)y, (void)means, (void)workspace;
#endif
}

void tc_ir_chan8_f32(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                     const tc_ir_stage *project, int n, int h, int w, int band, const float *x,
                     const float *residual, float *y, float *workspace)
{
    if (project)
        chan8_run(ctx, expand, dw, project, NULL, n, h, w, band, x, residual, y, NULL, NULL, 0,
                  workspace);
}

/* h44-mn: the projection's weights packed for tc_pw_sparse_avx2 (per K block of the row GEMM,
 * tc_gemm_kstep(E), per group of up to TC_PW_SPARSE_GROUP channels: [kc][group width], the
 * channels past K2 zero) */
size_t tc_pw_sparse_pack_size(int K2, int E)
{
    return K2 < 1 || E < 1 ? 0 : tc_pw_sparse_k2p(K2) * (size_t)E;
}

int tc_pw_sparse_pack(int K2, int E, const float *w, float *packed)
{
    const size_t K2p = tc_pw_sparse_k2p(K2);
    const int kstep = tc_gemm_kstep(E);
    int finite = 1;
    for (int k0 = 0; k0 < E; k0 += kstep) {
        const int kc = E - k0 < kstep ? E - k0 : kstep;
        for (int gi = 0; gi < tc_pw_sparse_groups(K2); gi++) {
            int s0, s1;
            tc_pw_sparse_group(K2, gi, &s0, &s1);
            const size_t c0 = (size_t)s0 * 16, wg = (size_t)(s1 - s0) * 16;
            float *g = packed + (size_t)k0 * K2p + c0 * (size_t)kc;
            for (int k = 0; k < kc; k++)
                for (size_t c = 0; c < wg; c++) {
                    const float v = c0 + c < (size_t)K2 ? w[(c0 + c) * (size_t)E + k0 + k] : 0.0f;
                    finite &= v - v == 0.0f;
                    g[(size_t)k * wg + c] = v;
                }
        }
    }
    return finite;
}

size_t tc_pw_sparse_ws_floats(int K2, int E, int n)
{
    const size_t n8 = ((size_t)n + 7) & ~(size_t)7;
    return n8 * tc_pw_sparse_mstride(E) / 4 + n8 * tc_pw_sparse_k2p(K2) +
           n8 * TC_PW_SPARSE_GROUP + 16;
}

int tc_pw_sparse_check(int K2, int E, int n, const tc_activation *act)
{
    if (K2 < 8 || K2 % 8 || E < 8 || E % 8 || n < 8)
        return -1;
    return act && act->kind == TC_ACT_PRELU ? -1 : 0;
}

size_t tc_ir_chan8_sparse_workspace_size(const tc_ctx *ctx, const tc_ir_stage *expand,
                                         const tc_ir_stage *dw, const tc_ir_stage *project, int h,
                                         int w, int band)
{
    int OH, OW;
    const size_t base = tc_ir_chan8_workspace_size(ctx, expand, dw, project, h, w, band);
    if (!base || !project || tc_conv2d_output_hw(&dw->p, h, w, &OH, &OW))
        return base;
    /* h45-mn: one a thread (the rows mode's bands and the strips' parts are no longer than
     * the band's rb rows), on a cache line each */
    const int rb = chan8_band(band, OH), threads = ctx->pool ? tc_pool_size(ctx->pool) : 1;
    return base + (size_t)threads * up16(tc_pw_sparse_ws_floats(project->p.K, expand->p.K,
                                                                rb * OW)) + 16;
}

void tc_ir_chan8_sparse_f32(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                            const tc_ir_stage *project, const float *sparse, int n, int h, int w,
                            int band, const float *x, const float *residual, float *y,
                            float *workspace)
{
    if (project)
        chan8_run(ctx, expand, dw, project, sparse, n, h, w, band, x, residual, y, NULL, NULL, 0,
                  workspace);
}

void tc_ir_chan8_pair_f32(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                          int n, int h, int w, const float *x, float *y, float *means,
                          const void *prefetch, size_t prefetch_bytes, float *workspace)
{
    chan8_run(ctx, expand, dw, NULL, NULL, n, h, w, 0, x, NULL, y, means, prefetch,
              prefetch ? prefetch_bytes : 0, workspace);
}
