/* SqueezeNet's fire module in bands of output rows: squeeze 1x1 -> expand 1x1 and expand
 * 3x3 (each with its activation), both written into their channel slices of the Concat's
 * output, without the squeeze output ever whole in memory and in one parallel call.
 *
 * Unfused, a fire is three steps (at 2 threads three barriers, the squeeze's small work
 * split three ways over few output channels) and the squeeze writes its S x H x W tensor
 * for two readers.  Here each band of `band` output rows is computed from a band of squeeze
 * rows (with the 3x3's halo) kept in a per-thread workspace that stays in L1/L2.  Every
 * stage is the layer's own kernel on a row range:
 *   squeeze:  the GEMM on input rows [i0, i1) (B read in place, ldb = H * W);
 *   expand1x1: the GEMM on the band's own squeeze rows, C = y's e1 slice at row r0
 *             (ldc = H * W);
 *   expand3x3: tc_conv2d_f32 with the layer's algorithm on the band as an image of its
 *             squeeze rows whose top and bottom pads stand for the real pads
 *             (tc_conv_band_image), into the slot, then copied row block by row block into
 *             y's e3 slice.
 * A thread that runs the next band of the same image moves the halo rows it already
 * computed to the front of its band buffer (tc_fused_carry_rows).  The GEMMs sum each output
 * in the unfused order; a Winograd expand3x3 gives the unfused bits when every band but the
 * last starts on a tile row (band a multiple of the tile: tinycnn/ops/fused_fire.py picks
 * multiples of 4), since its tiles are then the whole image's.
 */
#include <stdint.h>
#include <string.h>
#include "conv_internal.h"
#include "gemm_internal.h"

int tc_fire_fused_check(const tc_ir_stage *sq, const tc_ir_stage *e1, const tc_ir_stage *e3,
                        int h, int w, int band, int ky, int c1, int c3)
{
    int OH, OW;
    if (!sq || !e1 || !e3 || band < 1 || !tc_fused_pointwise_ok(sq) || !tc_fused_pointwise_ok(e1))
        return -1;
    if (tc_conv2d_check(&e3->p, e3->algo) || tc_activation_check(e3->act) || e3->p.group != 1 ||
        e3->p.sh != 1 || e3->algo == TC_CONV_ALGO_REFERENCE)
        return -1;
    if (e1->p.C != sq->p.K || e3->p.C != sq->p.K || h < 1 || w < 1)
        return -1;
    if (tc_conv2d_output_hw(&e3->p, h, w, &OH, &OW) || OH != h || OW != w)
        return -1;
    /* the two slices inside y's ky channels, apart */
    if (c1 < 0 || c3 < 0 || c1 + e1->p.K > ky || c3 + e3->p.K > ky ||
        (c1 < c3 + e3->p.K && c3 < c1 + e1->p.K))
        return -1;
    return 0;
}

static size_t fire_up16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Floats of one thread's slot: squeeze band (*sbuf), expand3x3 band (*obuf), its
 * convolution's workspace (*cws), then the GEMM's */
static size_t fire_slot(const tc_ctx *serial, const tc_ir_stage *sq, const tc_ir_stage *e3, int h,
                        int w, int band, size_t *sbuf, size_t *obuf, size_t *cws)
{
    int max_rows = 0;
    size_t max_ws = 0;
    for (int r0 = 0; r0 < h; r0 += band) {
        tc_conv2d_params q;
        int n;
        const int rows = r0 + band < h ? band : h - r0;
        tc_conv_band_image(&e3->p, h, r0, rows, &n, &q);
        const size_t g = tc_conv2d_workspace_size(serial, &q, e3->algo, 1, n, w);
        max_rows = n > max_rows ? n : max_rows;
        max_ws = g > max_ws ? g : max_ws;
    }
    *sbuf = fire_up16((size_t)sq->p.K * max_rows * w);
    *obuf = fire_up16((size_t)e3->p.K * band * w);
    *cws = fire_up16(max_ws);
    return *sbuf + *obuf + *cws + fire_up16(tc_gemm_workspace_size(serial));
}

size_t tc_fire_fused_workspace_size(const tc_ctx *ctx, const tc_ir_stage *sq,
                                    const tc_ir_stage *e1, const tc_ir_stage *e3, int h, int w,
                                    int band)
{
    if (!sq || !e1 || !e3 || band < 1 || h < 1 || w < 1 || tc_conv2d_check(&e3->p, e3->algo))
        return 0;
    tc_ctx serial = *ctx;
    serial.pool = NULL;
    const int threads = ctx->pool ? tc_pool_size(ctx->pool) : 1;
    size_t s, o, c;
    return (size_t)threads * fire_slot(&serial, sq, e3, h, w, band < h ? band : h, &s, &o, &c) +
           16;
}

typedef struct {
    tc_ctx serial;
    const tc_ir_stage *sq, *e1, *e3;
    const float *x;
    float *y, *workspace;
    size_t slot, sbuf_floats, obuf_floats, cws_floats;
    int h, w, band, nbands, ky, c1, c3;
} fire_job;

/* items = (image, band) pairs */
static void fire_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const fire_job *j = (const fire_job *)varg;
    const tc_conv2d_params *p = &j->e3->p;
    const int S = p->C, C0 = j->sq->p.C, K3 = p->K;
    const size_t plane = (size_t)j->h * j->w;
    float *base = (float *)(((uintptr_t)j->workspace + 63) & ~(uintptr_t)63);
    float *sbuf = base + (size_t)tid * j->slot;
    float *obuf = sbuf + j->sbuf_floats;
    float *cws = obuf + j->obuf_floats;
    float *gemm_ws = cws + j->cws_floats;
    int prev_b = -1, prev_i0 = 0, prev_i1 = 0; /* the squeeze rows sbuf holds */
    for (ptrdiff_t it = begin; it < end; it++) {
        const int b = (int)(it / j->nbands), r0 = (int)(it % j->nbands) * j->band;
        const int rows = r0 + j->band < j->h ? j->band : j->h - r0;
        tc_conv2d_params q;
        int n;
        const int i0 = tc_conv_band_image(p, j->h, r0, rows, &n, &q), i1 = i0 + n;
        const ptrdiff_t ld = (ptrdiff_t)n * j->w;
        /* rows [i0, e0) moved over from the previous band of this image: the halo */
        const int e0 = tc_fused_carry_rows(sbuf, S, j->w, prev_b == b, prev_i0, prev_i1, i0, i1);
        if (i1 > e0)
            tc_fused_pointwise(&j->serial, j->sq, (i1 - e0) * j->w,
                               j->x + (size_t)b * C0 * plane + (size_t)e0 * j->w,
                               (ptrdiff_t)plane, sbuf + (size_t)(e0 - i0) * j->w, ld, NULL, 0,
                               gemm_ws);
        prev_b = b, prev_i0 = i0, prev_i1 = i1;
        float *yb = j->y + (size_t)b * j->ky * plane + (size_t)r0 * j->w;
        /* expand1x1 on the band's own rows, straight into its slice */
        tc_fused_pointwise(&j->serial, j->e1, rows * j->w, sbuf + (size_t)(r0 - i0) * j->w, ld,
                           yb + (size_t)j->c1 * plane, (ptrdiff_t)plane, NULL, 0, gemm_ws);
        /* expand3x3 on the band image, then its rows into the slice */
        tc_conv2d_f32(&j->serial, &q, j->e3->algo, 1, n, j->w, sbuf, j->e3->packed, j->e3->bias,
                      NULL, j->e3->act, obuf, cws);
        const size_t blk = (size_t)rows * j->w;
        for (int k = 0; k < K3; k++)
            memcpy(yb + (size_t)(j->c3 + k) * plane, obuf + k * blk, blk * sizeof(float));
    }
}

/* x: [N, C0, H, W] (C0 = sq's C)
 * y: [N, ky, H, W], not overlapping x: channels [c1, c1 + K1) = e1(sq(x)),
 *    [c3, c3 + K3) = e3(sq(x)), the others untouched */
void tc_fire_fused_f32(const tc_ctx *ctx, const tc_ir_stage *sq, const tc_ir_stage *e1,
                       const tc_ir_stage *e3, int n, int h, int w, int band, const float *x,
                       float *y, int ky, int c1, int c3, float *workspace)
{
    if (n < 1 || tc_fire_fused_check(sq, e1, e3, h, w, band, ky, c1, c3))
        return;
    if (band > h)
        band = h;
    fire_job j;
    memset(&j, 0, sizeof(j));
    j.serial = *ctx;
    j.serial.pool = NULL;
    j.sq = sq, j.e1 = e1, j.e3 = e3, j.x = x, j.y = y, j.workspace = workspace;
    j.slot = fire_slot(&j.serial, sq, e3, h, w, band, &j.sbuf_floats, &j.obuf_floats,
                       &j.cws_floats);
    j.h = h, j.w = w, j.band = band, j.ky = ky, j.c1 = c1, j.c3 = c3;
    j.nbands = (h + band - 1) / band;
    tc_parallel_for_dynamic(ctx->pool, (ptrdiff_t)n * j.nbands, 1, fire_task, &j);
}
