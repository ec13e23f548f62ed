/* A network's first block in bands of output rows: the RGB stem (a direct stem, few input
 * channels, strided) -> depthwise -> projection 1x1 [+ the stem's output as residual], without
 * writing the stem's or the depthwise's output whole (MobileNetV2, MnasNet: 32 x 112 x 112,
 * 1.6 MB each; MobileNetV3-Large: 16 x 112 x 112 and its residual).
 *
 * Unfused, the stem writes its tensor, the depthwise reads it and writes its own, the
 * projection reads that: past L2 (1 MiB here, 512 KiB on the AVX2 target) each trip goes to
 * L3 or memory.  Here each band of `band` depthwise output rows is computed from a band of
 * stem rows (with the depthwise halo) kept in a per-thread slot that stays in L2:
 *   stem:       tc_stem_rows_f32 on stem rows [i0, i1), into the slot (ld = (i1 - i0) * SW);
 *   depthwise:  tc_conv2d_f32 on the band as an image of i1 - i0 rows whose top and bottom
 *               pads stand for the rows outside it (or the real pads), as ir_fused.c;
 *   projection: the GEMM on the band, C = y at row r0 (ldc = OH * OW), the residual the
 *               stem's rows [r0, r1) in the slot.
 * A thread's next band of the same image moves the halo rows it already computed to the front
 * of its slot (tc_fused_carry_rows).  Each output sums its terms in the unfused order: the
 * result is the three layers' bit for bit at any band height and thread count.
 *
 * Where its time goes (n34-ir, 2026-12-05, Intel Xeon, AVX2 kernels, 1 thread, MobileNetV2's
 * 3-32-16 block in 12-row bands, benchmarks/sf_ab.c with 32 MB read before each call, ~640 us;
 * perf with the cpu-clock event, no hardware counters under this KVM): the stem's tiles 43%
 * (~84 GFLOP/s; the 16-pixel row tails' 2-vector tile a fifth of that), the depthwise 22% (~55
 * GFLOP/s), the projection's strips 24% (~89 GFLOP/s; its 4-row panel 9% slower a row than the
 * 6-row ones), the stem's phase copy 5%, its input prefetches 3-4% (waiting for fill buffers,
 * see conv.c stem_direct_band), the carried rows' memmove 1%.  Cold, against everything warm:
 * ~75 us (613 against 687 us, medians of 150), of which read back after the eviction the
 * workspace (its first band's slot) ~50 us, the output ~30, the input ~10 (SF_WARM).
 * MobileNetV3-Large's block (h44-st, 2026-12-06, the same host, AVX2, 1 thread, 3-16-16 with
 * the residual in 20-row bands, sf_ab.c warm, perf cpu-clock, 2000 calls, ~400 us): the
 * stem's tiles 38% (3-vector 31.5, the 2-vector tail 6: 5.4 MMAC at ~55 GFLOP/s, ~70% of the
 * FMA peak), its phase copy 8% (tc_split_even_odd 6.9, phase_task 1.5), tc_stem_rows /
 * stem_band 4%, the depthwise 19% (1.8 MMAC, ~47 GFLOP/s), the projection's strips 25% (3.2
 * MMAC, ~64 GFLOP/s: K = 16 as 6 + 6 + 4 rows, the 4-row panel 6.5% against 9.2% for each
 * 6-row one, in proportion to its rows; a first profile of 400 calls had said 9.4 against
 * 8.4), the GEMM's in-place kernel 3%.  Cold (32 MB read
 * before each call, 100 calls) 427 against 390 us (min), spread over the kernels in the same
 * shares; inside the network (cold_steps.py, 20 rounds) 451 against 410 warm.  Against
 * onnxruntime (mt_steps.py --stat min, 1 thread: its stem Conv + HardSwish 0.238 ms, its
 * features.1 0.183; this block 0.382): the stem with its copy (~0.17 ms) ~0.7 of onnxruntime's
 * stem, the depthwise + projection + residual (~0.18 ms) ~1.0 of its features.1.  The three
 * layers unfused (graph._fuse_stem_block off, mt_steps.py --depth 4 --stat min, 20 rounds,
 * twice, chrt -f 10, loaded host), tinycnn / onnxruntime per layer at 1 thread and 2: the stem
 * 0.81, 0.90 and 0.80, 0.98; the depthwise 0.84, 0.91 and 0.78, 0.85; the 16 -> 16 projection
 * with its residual 1.32, 1.11 and 1.01, 1.09.  So the part furthest from 0.8 is that
 * projection (a GEMM of K = 16 rows, C = 16 deep, on the GEMM strips of csrc/gemm_avx2.c,
 * which read the band in place: per 16-column strip two 6-row panels and a 4-row one, each
 * with its epilogue (residual, store) over only 16 FMA steps; the stem's 4 x 24 tile with
 * ntaps = 16 at one plane apart would fill the 16 rows exactly: not tried, the residual's row
 * stride differs from the output's and the sums would start from the bias, other bits), then
 * the 16-channel depthwise; the stem is nearest.  Since h45-v3 a projection of 16 outputs
 * without activation runs on a kernel of its own where the AVX2 table has one
 * (stem_fused_avx2.c: the GEMM panels' operations, one call a band, the same bits): this
 * block 0.92-0.93 of its time, MobileNetV2's 0.97-0.985 (sf_ab.c). */
#include <stdint.h>
#include <string.h>
#include "conv_internal.h"
#include "gemm_internal.h"

int tc_stem_fused_check(const tc_ir_stage *stem, const tc_ir_stage *dw, const tc_ir_stage *project,
                        int residual, int h, int w, int band)
{
    int SH, SW, OH, OW;
    if (!stem || !dw || !project || band < 1 || !tc_fused_pointwise_ok(project))
        return -1;
    if (stem->algo != TC_CONV_ALGO_STEM || tc_conv2d_check(&stem->p, stem->algo) ||
        tc_activation_check(stem->act) || tc_conv2d_output_hw(&stem->p, h, w, &SH, &SW) ||
        !tc_stem_rows_workspace_size(&stem->p, h, w))
        return -1;
    if (dw->algo != TC_CONV_ALGO_DEPTHWISE || tc_conv2d_check(&dw->p, dw->algo) ||
        dw->p.K != dw->p.C || tc_activation_check(dw->act))
        return -1;
    if (stem->p.K != dw->p.C || project->p.C != dw->p.K ||
        tc_conv2d_output_hw(&dw->p, SH, SW, &OH, &OW))
        return -1;
    if (residual && (OH != SH || OW != SW || project->p.K != stem->p.K))
        return -1;
    return 0;
}

static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Floats of the stem band: the depthwise input rows of `band` output rows, halo included */
static size_t stem_band_size(const tc_conv2d_params *dwp, int SH, int SW, int band)
{
    const size_t rows = (size_t)(band - 1) * dwp->sh + (size_t)(dwp->KH - 1) * dwp->dh + 1;
    return up16((size_t)dwp->C * (rows < (size_t)SH ? rows : (size_t)SH) * SW);
}

/* Floats of one thread's slot: band state, stem band, depthwise band, zero row, GEMM workspace, the
 * stem's own workspace */
static size_t slot_size(const tc_ctx *serial, const tc_ir_stage *stem, const tc_ir_stage *dw,
                        int h, int w, int SH, int SW, int OW, int band)
{
    return TC_FUSED_STATE_FLOATS + stem_band_size(&dw->p, SH, SW, band) +
           up16((size_t)dw->p.K * band * OW) +
           up16((size_t)SW) + up16(tc_gemm_workspace_size(serial)) +
           up16(tc_stem_rows_workspace_size(&stem->p, h, w));
}

size_t tc_stem_fused_workspace_size(const tc_ctx *ctx, const tc_ir_stage *stem,
                                    const tc_ir_stage *dw, const tc_ir_stage *project, int residual,
                                    int h, int w, int band)
{
    int SH, SW, OH, OW;
    if (tc_stem_fused_check(stem, dw, project, residual, h, w, band))
        return 0;
    tc_conv2d_output_hw(&stem->p, h, w, &SH, &SW);
    tc_conv2d_output_hw(&dw->p, SH, SW, &OH, &OW);
    tc_ctx serial = *ctx;
    serial.pool = NULL;
    const int threads = ctx->pool ? tc_pool_size(ctx->pool) : 1;
    return (size_t)threads * slot_size(&serial, stem, dw, h, w, SH, SW, OW, band < OH ? band : OH) +
           16;
}

/* The projection's own kernel (tc_conv_kernels.stem_project16: 16 outputs, no activation, one
 * K block of the GEMM's packing, bands of a multiple of 16 pixels), or NULL: the GEMM */
static tc_stem_project16_fn project16(const tc_ctx *ctx, const tc_ir_stage *project)
{
    const tc_stem_project16_fn f = tc_conv_kernels_of(ctx)->stem_project16;
    if (!f || project->algo != TC_CONV_ALGO_1X1 || project->p.K != 16 ||
        tc_gemm_kstep(project->p.C) != project->p.C ||
        (project->act && project->act->kind != TC_ACT_NONE))
        return NULL;
    return f;
}

typedef struct {
    tc_ctx serial;
    tc_stem_project16_fn project16;
    const tc_ir_stage *stem, *dw, *project;
    const float *x;
    float *y, *workspace;
    size_t slot;
    int residual, h, w, SH, SW, OH, OW, band, nbands;
} sf_job;

/* items = (image, band) pairs */
static void sf_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const sf_job *j = (const sf_job *)varg;
    const tc_conv2d_params *p = &j->dw->p;
    const int E = p->C, K2 = j->project->p.K, C0 = j->stem->p.C;
    const size_t in_plane = (size_t)j->h * j->w, out_plane = (size_t)j->OH * j->OW;
    float *base = (float *)(((uintptr_t)j->workspace + 63) & ~(uintptr_t)63);
    tc_fused_state *st = (tc_fused_state *)(base + (size_t)tid * j->slot);
    float *sbuf = (float *)st + TC_FUSED_STATE_FLOATS;
    float *dbuf = sbuf + stem_band_size(p, j->SH, j->SW, j->band);
    float *zrow = dbuf + up16((size_t)E * j->band * j->OW);
    float *gemm_ws = zrow + up16((size_t)j->SW);
    float *stem_ws = gemm_ws + up16(tc_gemm_workspace_size(&j->serial));
    memset(zrow, 0, (size_t)j->SW * sizeof(float));
    for (ptrdiff_t it = begin; it < end; it++) {
        const int b = (int)(it / j->nbands), r0 = (int)(it % j->nbands) * j->band;
        const int r1 = r0 + j->band < j->OH ? r0 + j->band : j->OH, rows = r1 - r0;
        tc_conv2d_params q;
        int n;
        const int i0 = tc_conv_band_image(p, j->SH, r0, rows, &n, &q), i1 = i0 + n;
        const int e0 = tc_fused_carry_rows(sbuf, E, j->SW, st->b == b, st->i0, st->i1, i0, i1);
        const ptrdiff_t ld = (ptrdiff_t)(i1 - i0) * j->SW;
        tc_stem_rows_f32(&j->serial, &j->stem->p, j->h, j->w, j->x + (size_t)b * C0 * in_plane,
                         e0, i1, j->stem->packed, j->stem->bias, j->stem->act,
                         sbuf + (size_t)(e0 - i0) * j->SW, ld, stem_ws);
        st->b = b, st->i0 = i0, st->i1 = i1;
        tc_conv2d_f32(&j->serial, &q, TC_CONV_ALGO_DEPTHWISE, 1, i1 - i0, j->SW, sbuf,
                      j->dw->packed, j->dw->bias, NULL, j->dw->act, dbuf, zrow);
        const size_t o = (size_t)b * K2 * out_plane + (size_t)r0 * j->OW;
        if (j->project16 && rows * j->OW % 16 == 0)
            j->project16(j->project->packed, E, rows * j->OW, dbuf, (ptrdiff_t)rows * j->OW,
                         j->project->bias, j->residual ? sbuf + (size_t)(r0 - i0) * j->SW : NULL,
                         ld, j->y + o, (ptrdiff_t)out_plane);
        else
            tc_fused_pointwise(&j->serial, j->project, rows * j->OW, dbuf,
                               (ptrdiff_t)rows * j->OW, j->y + o, (ptrdiff_t)out_plane,
                               j->residual ? sbuf + (size_t)(r0 - i0) * j->SW : NULL, ld,
                               gemm_ws);
    }
}

void tc_stem_fused_f32(const tc_ctx *ctx, const tc_ir_stage *stem, const tc_ir_stage *dw,
                       const tc_ir_stage *project, int residual, int n, int h, int w, int band,
                       const float *x, float *y, float *workspace)
{
    if (n < 1 || tc_stem_fused_check(stem, dw, project, residual, h, w, band))
        return;
    sf_job j;
    memset(&j, 0, sizeof(j));
    tc_conv2d_output_hw(&stem->p, h, w, &j.SH, &j.SW);
    tc_conv2d_output_hw(&dw->p, j.SH, j.SW, &j.OH, &j.OW);
    if (band > j.OH)
        band = j.OH;
    j.serial = *ctx;
    j.serial.pool = NULL;
    j.project16 = project16(ctx, project);
    j.stem = stem, j.dw = dw, j.project = project;
    j.x = x, j.y = y, j.workspace = workspace;
    j.residual = residual != 0;
    j.h = h, j.w = w, j.band = band;
    j.slot = slot_size(&j.serial, stem, dw, h, w, j.SH, j.SW, j.OW, band);
    j.nbands = (j.OH + band - 1) / band;
    tc_fused_state_reset(ctx, workspace, j.slot);
    tc_parallel_for_dynamic(ctx->pool, (ptrdiff_t)n * j.nbands, 1, sf_task, &j);
}
