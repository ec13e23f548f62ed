/* Pointwise 1x1 -> grouped convolution in bands of output rows (RegNetY's "a" and "b"
 * layers: 1x1 + ReLU, then a 3x3 of 8-channel groups + ReLU, stride 1 or 2), without
 * writing the pointwise output to memory.
 *
 * Unfused, the 1x1 writes its output (E x H x W: 2.4 MB at RegNetY-400MF's block1-0, 48 x
 * 112 x 112) past L2 and the grouped layer reads it back from there, group by group.
 * Here each band of `band` grouped output rows is computed from a band of pointwise rows
 * (with the 3x3 halo) kept in a per-thread workspace that stays in L2.  Every stage is the
 * layer's own kernel on a row range (a depthwise gc: ir_fused.c's bands, no projection):
 *   pointwise: the GEMM on input rows [i0, i1) (B read in place, ldb = H * W);
 *   grouped:   the grouped kernel on the band as an image of i1 - i0 rows whose top and
 *              bottom pads stand for the real pads (tc_conv_band_image), writing its rows
 *              in place in y's planes (tc_conv_grouped_rows_f32);
 *   means:     (optional) each output plane's mean, summed after all bands, whole planes,
 *              with the global average pool's sum, as tc_conv2d_means_f32 gives them;
 *   shortcut:  (optional) a 1x1 reading x with the grouped layer's output size (a stage's
 *              first block's strided projection), its band of rows computed right after the
 *              pointwise read the same input rows: x read once, not once more from memory.
 * A thread that runs the next band of the same image moves the halo rows it already
 * computed to the front of its band buffer and computes only the new ones.  Each output
 * sums its terms in the unfused order (the zero pads add +0 where they did), so the result
 * is the unfused layers' bit for bit at any band height and thread count.
 */
#include <stdint.h>
#include <string.h>
#include "conv_internal.h"
#include "gemm_internal.h"

/* A depthwise gc (K == C) runs as the inverted-residual block's first two stages
 * (ir_fused.c: its halo carry and its column-split stride-2 depthwise), without projection */
static int pg_depthwise(const tc_ir_stage *gc)
{
    return gc && gc->algo == TC_CONV_ALGO_DEPTHWISE;
}

/* sc: a 1x1 (GEMM or 1X1 algo), group 1, no pads, over pw's input, gc's output size */
static int pg_shortcut_ok(const tc_ir_stage *pw, const tc_ir_stage *gc, const tc_ir_stage *sc,
                          int h, int w)
{
    const tc_conv2d_params *q = &sc->p;
    int OH, OW, SH, SW;
    return (sc->algo == TC_CONV_ALGO_GEMM || sc->algo == TC_CONV_ALGO_1X1) &&
           !tc_conv2d_check(q, sc->algo) && !tc_activation_check(sc->act) && q->KH == 1 &&
           q->KW == 1 && q->group == 1 && !(q->pt | q->pl | q->pb | q->pr) && q->C == pw->p.C &&
           !tc_conv2d_output_hw(&gc->p, h, w, &OH, &OW) &&
           !tc_conv2d_output_hw(q, h, w, &SH, &SW) && SH == OH && SW == OW;
}

int tc_pg_fused_check(const tc_ir_stage *pw, const tc_ir_stage *gc, const tc_ir_stage *sc, int h,
                      int w, int band)
{
    int OH, OW;
    if (pg_depthwise(gc))
        return sc ? -1 : tc_ir_fused_check(pw, gc, NULL, h, w, band);
    if (!pw || !gc || band < 1 || !tc_fused_pointwise_ok(pw) || gc->algo != TC_CONV_ALGO_GROUPED ||
        tc_conv2d_check(&gc->p, gc->algo) || tc_activation_check(gc->act) || pw->p.K != gc->p.C ||
        (sc && !pg_shortcut_ok(pw, gc, sc, h, w)))
        return -1;
    return tc_conv2d_output_hw(&gc->p, h, w, &OH, &OW);
}

static size_t pg_up16(size_t n) { return (n + 15) & ~(size_t)15; }

/* The geometry of every band: the most input rows one takes and the most workspace its
 * grouped run needs (the first and last bands have pads, the others none). */
static void pg_band_max(const tc_ctx *serial, const tc_conv2d_params *p, int h, int w, int OH,
                        int band, int *max_rows, size_t *max_gws)
{
    *max_rows = 0, *max_gws = 0;
    for (int r0 = 0; r0 < OH; r0 += band) {
        tc_conv2d_params q;
        int n;
        const int rows = r0 + band < OH ? band : OH - r0;
        tc_conv_band_image(p, h, r0, rows, &n, &q);
        const size_t g = tc_conv2d_workspace_size(serial, &q, TC_CONV_ALGO_GROUPED, 1, n, w);
        *max_rows = n > *max_rows ? n : *max_rows;
        *max_gws = g > *max_gws ? g : *max_gws;
    }
}

/* Floats of one thread's slot: band state, pointwise band (*ebuf), grouped workspace (*gws),
 * the shortcut's input band (*sbuf: its band rows' pixels, sc's C of them), GEMM's */
static size_t pg_slot(const tc_ctx *serial, const tc_ir_stage *pw, const tc_ir_stage *gc,
                      const tc_ir_stage *sc, int h, int w, int OH, int OW, int band, size_t *ebuf,
                      size_t *gws, size_t *sbuf)
{
    int rows;
    pg_band_max(serial, &gc->p, h, w, OH, band, &rows, gws);
    *gws = pg_up16(*gws);
    *ebuf = pg_up16((size_t)pw->p.K * rows * w);
    *sbuf = sc ? pg_up16((size_t)sc->p.C * band * OW) : 0;
    return TC_FUSED_STATE_FLOATS + *ebuf + *gws + *sbuf + pg_up16(tc_gemm_workspace_size(serial));
}

size_t tc_pg_fused_workspace_size(const tc_ctx *ctx, const tc_ir_stage *pw, const tc_ir_stage *gc,
                                  const tc_ir_stage *sc, int h, int w, int band)
{
    int OH, OW;
    if (pg_depthwise(gc))
        return sc ? 0 : tc_ir_fused_workspace_size(ctx, pw, gc, NULL, h, w, band);
    if (tc_pg_fused_check(pw, gc, sc, h, w, band) || tc_conv2d_output_hw(&gc->p, h, w, &OH, &OW))
        return 0;
    tc_ctx serial = *ctx;
    serial.pool = NULL;
    const int threads = ctx->pool ? tc_pool_size(ctx->pool) : 1;
    size_t ebuf, gws, sbuf;
    return (size_t)threads * pg_slot(&serial, pw, gc, sc, h, w, OH, OW, band < OH ? band : OH,
                                     &ebuf, &gws, &sbuf) + 16;
}

typedef struct {
    tc_ctx serial;
    const tc_ir_stage *pw, *gc, *sc;
    const float *x;
    float *y, *ys, *workspace;
    size_t slot, ebuf_floats, gws_floats, sbuf_floats;
    int h, w, OH, OW, band, nbands;
    void (*take_even)(const float *s, float *d, ptrdiff_t n);
} pg_job;

/* The shortcut's output rows [r0, r0 + rows) of image b: its input pixels (rows r sh, columns
 * q sw) copied into sbuf as the unfused layer's dense copy has them (conv.c subsample_task),
 * then its GEMM over them, each output summed as there */
static void pg_shortcut_rows(const pg_job *j, int b, int r0, int rows, float *sbuf, float *gemm_ws)
{
    const tc_conv2d_params *q = &j->sc->p;
    const size_t in_plane = (size_t)j->h * j->w, out_plane = (size_t)j->OH * j->OW;
    const size_t ld = (size_t)rows * j->OW;
    const float *xb = j->x + (size_t)b * q->C * in_plane + (size_t)r0 * q->sh * j->w;
    for (int c = 0; c < q->C; c++)
        for (int i = 0; i < rows; i++)
            tc_take_strided(j->take_even, xb + c * in_plane + (size_t)i * q->sh * j->w,
                            sbuf + c * ld + (size_t)i * j->OW, j->OW, q->sw);
    tc_fused_pointwise(&j->serial, j->sc, (int)ld, sbuf, (ptrdiff_t)ld,
                       j->ys + (size_t)b * q->K * out_plane + (size_t)r0 * j->OW,
                       (ptrdiff_t)out_plane, NULL, 0, gemm_ws);
}

/* items = (image, band) pairs */
static void pg_band_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const pg_job *j = (const pg_job *)varg;
    const tc_conv2d_params *p = &j->gc->p;
    const int E = p->C, K = p->K, C0 = j->pw->p.C;
    const size_t in_plane = (size_t)j->h * j->w, out_plane = (size_t)j->OH * j->OW;
    float *base = (float *)(((uintptr_t)j->workspace + 63) & ~(uintptr_t)63);
    tc_fused_state *st = (tc_fused_state *)(base + (size_t)tid * j->slot);
    float *ebuf = (float *)st + TC_FUSED_STATE_FLOATS;
    float *gws = ebuf + j->ebuf_floats;
    float *sbuf = gws + j->gws_floats;
    float *gemm_ws = sbuf + j->sbuf_floats;
    for (ptrdiff_t it = begin; it < end; it++) {
        const int b = (int)(it / j->nbands), r0 = (int)(it % j->nbands) * j->band;
        const int rows = r0 + j->band < j->OH ? j->band : j->OH - r0;
        tc_conv2d_params q;
        int n;
        const int i0 = tc_conv_band_image(p, j->h, r0, rows, &n, &q), i1 = i0 + n;
        const size_t ld = (size_t)n * j->w;
        /* rows [i0, e0) moved over from this thread's previous band of this image: the halo */
        const int e0 = tc_fused_carry_rows(ebuf, E, j->w, st->b == b, st->i0, st->i1, i0, i1);
        if (i1 > e0)
            tc_fused_pointwise(&j->serial, j->pw, (i1 - e0) * j->w,
                               j->x + (size_t)b * C0 * in_plane + (size_t)e0 * j->w,
                               (ptrdiff_t)in_plane, ebuf + (size_t)(e0 - i0) * j->w,
                               (ptrdiff_t)ld, NULL, 0, gemm_ws);
        st->b = b, st->i0 = i0, st->i1 = i1;
        /* the band's input rows were just read: the shortcut's from them */
        if (j->sc)
            pg_shortcut_rows(j, b, r0, rows, sbuf, gemm_ws);
        /* the band's rows straight into y's planes */
        tc_conv_grouped_rows_f32(&j->serial, &q, n, j->w, ebuf, j->gc->packed, j->gc->bias,
                                 j->gc->act, j->y + (size_t)b * K * out_plane +
                                 (size_t)r0 * j->OW, (ptrdiff_t)out_plane, gws);
    }
}

/* x: [N, C0, H, W] (C0 = pw's C)  y: [N, K, OH, OW], not overlapping x
 * means: [N, K] or NULL  ys: [N, sc's K, OH, OW] (sc's output) where sc, overlapping neither */
void tc_pg_fused_f32(const tc_ctx *ctx, const tc_ir_stage *pw, const tc_ir_stage *gc,
                     const tc_ir_stage *sc, int n, int h, int w, int band, const float *x,
                     float *y, float *means, float *ys, float *workspace)
{
    int OH, OW;
    if (pg_depthwise(gc)) {
        if (!sc)
            tc_ir_fused_run(ctx, pw, gc, NULL, n, h, w, band, x, NULL, y, means, workspace);
        return;
    }
    if (n < 1 || tc_pg_fused_check(pw, gc, sc, h, w, band) || (sc && !ys) ||
        tc_conv2d_output_hw(&gc->p, h, w, &OH, &OW))
        return;
    if (band > OH)
        band = OH;
    pg_job j;
    memset(&j, 0, sizeof(j));
    j.serial = *ctx;
    j.serial.pool = NULL;
    j.pw = pw, j.gc = gc, j.sc = sc, j.x = x, j.y = y, j.ys = ys, j.workspace = workspace;
    j.take_even = tc_conv_kernels_of(ctx)->take_even;
    j.slot = pg_slot(&j.serial, pw, gc, sc, h, w, OH, OW, band, &j.ebuf_floats, &j.gws_floats,
                     &j.sbuf_floats);
    j.h = h, j.w = w, j.OH = OH, j.OW = OW, j.band = band;
    j.nbands = (OH + band - 1) / band;
    tc_fused_state_reset(ctx, workspace, j.slot);
    tc_parallel_for_dynamic(ctx->pool, (ptrdiff_t)n * j.nbands, 1, pg_band_task, &j);
    if (means)
        tc_fused_plane_means(ctx, y, (ptrdiff_t)n * gc->p.K, (size_t)OH * OW, means);
}
