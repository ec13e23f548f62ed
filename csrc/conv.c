/* 2-D convolution, NCHW float32: every algorithm behind one interface.
 *
 *   reference: plain nested loops summing in double.
 *   gemm:      y_g[Kg, OH*OW] = W_g[Kg, Cg*KH*KW] . im2col(x_g); the im2col is
 *              folded into the B packing of the GEMM (a KC x NC block at a
 *              time, from a zero-padded copy of the input so the gather needs
 *              no bounds checks); stems (few input channels, strided or
 *              padded) in bands of output rows, each band's copy and GEMM
 *              on one thread (stem_run); a strided 1x1 without pads gathers
 *              a dense [C, OH*OW] copy and runs the 1x1 GEMM on it.
 *   1x1:       1x1 stride 1 no pad: B is the input itself, [C, H*W].
 *   1x1_chan:  the same GEMM on channel-lane tiles (gemm_internal.h,
 *              tc_ukernel_chan_fn): output channels in the vector lanes,
 *              pixels broadcast from x, for small maps (7x7: N = 49).
 *   depthwise: one input channel per output channel: a direct kernel reading
 *              the input where it lies (depthwise_body.h).
 *   grouped:   group > 1: a direct kernel per block of 4 output channels of a
 *              group over the zero-padded copy of its inputs (grouped_body.h).
 *   winograd:  F(2x2,3x3), F(4x4,3x3), F(2x2,5x5) (winograd.c).
 *   stem:      few input channels (the RGB stems): bands of output rows, each
 *              band's phase copy (L1-sized) and a direct kernel of 4 output
 *              channels x 24 pixels per register tile on one thread
 *              (conv_stem_body.h, stem_direct_run).
 * Weights are packed once (tc_conv2d_pack_f32) for the algorithm the caller
 * chose once (tinycnn/ops/conv_algo.py).
 */
#include <float.h>
#include <stdint.h>
#include <string.h>
#include "conv_internal.h"
#include "epilogue.h"
#include "pool2d_internal.h"
#include "winograd_internal.h"

#include "depthwise_vec_portable.h"
#define TC_DW_FN dw_plane_portable
#define TC_DW_UNROLLED 0
#include "depthwise_body.h"
#undef TC_DW_FN

#define TC_GC_FN gc_block_portable
#define TC_GC_COPY_FN gc_copy_portable
#define TC_GC_SPLIT_FN split_even_odd_portable
#include "grouped_body.h"
#undef TC_GC_FN
#undef TC_GC_COPY_FN
#undef TC_GC_SPLIT_FN

#define TC_STEM_FN stem_band_portable
#define TC_STEM_TILE_FN stem_tile_portable
#include "conv_stem_body.h"
#undef TC_STEM_FN
#undef TC_STEM_TILE_FN

/* The direct stem's limits: input channels, taps C*KH*KW (its offsets on the stack) */
#define TC_STEM_MAX_C 4
#define TC_STEM_MAX_TAPS 256

static int params_ok(const tc_conv2d_params *p)
{
    return p->C > 0 && p->K > 0 && p->KH > 0 && p->KW > 0 && p->sh > 0 && p->sw > 0 &&
           p->dh > 0 && p->dw > 0 && p->group > 0 && !(p->C % p->group) && !(p->K % p->group) &&
           p->pt >= 0 && p->pl >= 0 && p->pb >= 0 && p->pr >= 0;
}

static int has_pad(const tc_conv2d_params *p) { return p->pt || p->pl || p->pb || p->pr; }

int tc_conv2d_check(const tc_conv2d_params *p, int algo)
{
    int r, tile = tc_wg_tile(algo, &r);
    if (!params_ok(p))
        return -1;
    switch (algo) {
    case TC_CONV_ALGO_GEMM:
    case TC_CONV_ALGO_REFERENCE:
        return 0;
    case TC_CONV_ALGO_1X1:
    case TC_CONV_ALGO_1X1_CHAN:
        return p->KH == 1 && p->KW == 1 && p->sh == 1 && p->sw == 1 && !has_pad(p) ? 0 : -1;
    case TC_CONV_ALGO_DEPTHWISE:
        return p->group == p->C ? 0 : -1;
    case TC_CONV_ALGO_GROUPED:
        return p->group > 1 ? 0 : -1;
    case TC_CONV_ALGO_STEM:
        return p->group == 1 && p->C <= TC_STEM_MAX_C &&
                       (size_t)p->C * p->KH * p->KW <= TC_STEM_MAX_TAPS
                   ? 0
                   : -1;
    default:
        if (!tile)
            return -1;
        return p->KH == r && p->KW == r && p->sh == 1 && p->sw == 1 && p->dh == 1 &&
                       p->dw == 1 && p->group == 1
                   ? 0
                   : -1;
    }
}

int tc_activation_check(const tc_activation *act)
{
    if (!act)
        return 0;
    if (act->kind < 0 || act->kind >= TC_ACT_COUNT)
        return -1;
    return act->kind == TC_ACT_PRELU && !act->slope ? -1 : 0;
}

int tc_conv2d_output_hw(const tc_conv2d_params *p, int h, int w, int *oh, int *ow)
{
    if (!params_ok(p) || h <= 0 || w <= 0)
        return -1;
    long eh = (long)h + p->pt + p->pb - (long)p->dh * (p->KH - 1) - 1;
    long ew = (long)w + p->pl + p->pr - (long)p->dw * (p->KW - 1) - 1;
    if (eh < 0 || ew < 0)
        return -1;
    *oh = (int)(eh / p->sh + 1);
    *ow = (int)(ew / p->sw + 1);
    return 0;
}

/* x: [N, C, H, W]  w: [K, C/group, KH, KW]  y: [N, K, OH, OW] */
static void conv2d_reference(const tc_conv2d_params *p, int n, int h, int w, const float *x,
                             const float *weight, const float *bias, const float *residual,
                             const tc_activation *act, float *y)
{
    int OH, OW;
    if (tc_conv2d_output_hw(p, h, w, &OH, &OW))
        return;
    const int Cg = p->C / p->group, Kg = p->K / p->group;
    for (int b = 0; b < n; b++)
        for (int k = 0; k < p->K; k++) {
            const int g = k / Kg;
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double s = bias ? bias[k] : 0.0;
                    for (int c = 0; c < Cg; c++)
                        for (int ki = 0; ki < p->KH; ki++) {
                            int ih = oh * p->sh - p->pt + ki * p->dh;
                            if (ih < 0 || ih >= h)
                                continue;
                            for (int kj = 0; kj < p->KW; kj++) {
                                int iw = ow * p->sw - p->pl + kj * p->dw;
                                if (iw < 0 || iw >= w)
                                    continue;
                                s += (double)x[(((size_t)b * p->C + g * Cg + c) * h + ih) * w + iw] *
                                     weight[(((size_t)k * Cg + c) * p->KH + ki) * p->KW + kj];
                            }
                        }
                    size_t o = (((size_t)b * p->K + k) * OH + oh) * OW + ow;
                    if (residual)
                        s += residual[o];
                    y[o] = tc_act_f32(tc_act_at(act, k), (float)s);
                }
        }
}

/* ------------------------------------------------------------------------ */
/* Planning                                                                 */
/* ------------------------------------------------------------------------ */

static size_t group_pack_size(const tc_conv2d_params *p, int algo)
{
    const int Kg = p->K / p->group, kdim = p->C / p->group * p->KH * p->KW;
    return algo == TC_CONV_ALGO_1X1_CHAN ? tc_gemm_pack_a_chan_size(Kg, kdim)
                                         : tc_gemm_pack_a_size(Kg, kdim);
}

/* The grouped kernel's: per group, per block of TC_GC_KB output channels,
 * [C/group * KH * KW][TC_GC_KB] (zero past the group's last channel); with 8 channels in and
 * out per group (grouped_w8), per group [C/group * KH * KW][8], the two blocks side by side */
static int grouped_w8(const tc_conv2d_params *p)
{
    return p->C == 8 * p->group && p->K == 8 * p->group;
}

static size_t grouped_pack_size(const tc_conv2d_params *p)
{
    const size_t blocks = (size_t)(p->K / p->group + TC_GC_KB - 1) / TC_GC_KB;
    return (size_t)p->group * blocks * (p->C / p->group) * p->KH * p->KW * TC_GC_KB;
}

/* The weights as they are: [K, C/group, KH, KW] */
static size_t weight_size(const tc_conv2d_params *p)
{
    return (size_t)p->K * (p->C / p->group) * p->KH * p->KW;
}

size_t tc_conv2d_pack_size(const tc_conv2d_params *p, int algo)
{
    int r, tile = tc_wg_tile(algo, &r);
    if (tc_conv2d_check(p, algo))
        return 0;
    if (tile)
        return tc_wg_packed_size(p->K, p->C, r, tile);
    if (algo == TC_CONV_ALGO_DEPTHWISE || algo == TC_CONV_ALGO_REFERENCE)
        return weight_size(p);
    if (algo == TC_CONV_ALGO_GROUPED || algo == TC_CONV_ALGO_STEM) /* STEM: one group */
        return grouped_pack_size(p);
    return group_pack_size(p, algo) * p->group;
}

/* weight: [K, C/group, KH, KW]  packed: per group, A panels of [K/group, C/group*KH*KW];
 * the weights themselves (depthwise, reference); Winograd's transformed weights */
void tc_conv2d_pack_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                        const float *weight, float *packed)
{
    int r, tile = tc_wg_tile(algo, &r);
    if (tc_conv2d_check(p, algo))
        return;
    if (tile) {
        tc_wg_pack_f32(ctx, weight, p->K, p->C, r, tile, packed);
        return;
    }
    if (algo == TC_CONV_ALGO_DEPTHWISE || algo == TC_CONV_ALGO_REFERENCE) {
        memcpy(packed, weight, weight_size(p) * sizeof(float));
        return;
    }
    const int Kg = p->K / p->group, kdim = p->C / p->group * p->KH * p->KW;
    if (algo == TC_CONV_ALGO_GROUPED && grouped_w8(p)) {
        /* tap t of the group's channel kk at [g][t][kk]: grouped8_avx2.h's vectors; the
         * block kernel reads block b's at [g][t][4 b + j] (wld 8) */
        for (int g = 0; g < p->group; g++)
            for (int t = 0; t < kdim; t++)
                for (int kk = 0; kk < 8; kk++)
                    packed[((size_t)g * kdim + t) * 8 + kk] =
                        weight[((size_t)g * 8 + kk) * kdim + t];
        return;
    }
    if (algo == TC_CONV_ALGO_GROUPED || algo == TC_CONV_ALGO_STEM) {
        /* tap t = (c * KH + ki) * KW + kj of block channel j at [t][j]: weight's own order
         * (TC_GC_KB = 4 channels per block, as the stem's tile) */
        for (int k0 = 0, g = 0; g < p->group; g++)
            for (int b = 0; b * TC_GC_KB < Kg; b++, k0 += TC_GC_KB)
                for (int t = 0; t < kdim; t++)
                    for (int j = 0; j < TC_GC_KB; j++) {
                        const int kk = b * TC_GC_KB + j; /* channel within the group */
                        packed[((size_t)k0 * kdim) + (size_t)t * TC_GC_KB + j] =
                            kk < Kg ? weight[((size_t)g * Kg + kk) * kdim + t] : 0.0f;
                    }
        return;
    }
    for (int g = 0; g < p->group; g++) {
        const float *wg = weight + (size_t)g * Kg * kdim;
        float *pg = packed + (size_t)g * group_pack_size(p, algo);
        if (algo == TC_CONV_ALGO_1X1_CHAN)
            tc_gemm_pack_a_chan_f32(Kg, kdim, wg, kdim, pg);
        else
            tc_gemm_pack_a_f32(Kg, kdim, wg, kdim, 0, 1.0f, pg);
    }
}

/* The GEMM path reads a zero-padded, phase-split copy of the input unless the
 * conv has no pads and stride 1 (then it reads x itself). */
/* Floats after the grouped kernel's phase planes that a row's last vector may read
 * (at most a vector's width past the last plane), zeroed each run. */
#define TC_GC_SLACK 16

static size_t grouped_taps(const tc_conv2d_params *p)
{
    return (size_t)(p->C / p->group) * p->KH * p->KW;
}

/* Floats of one thread's slot of the grouped kernel: one group's zero-padded phase planes
 * and the slack, rounded to a cache line */
static size_t grouped_slot_floats(const tc_conv2d_params *p, int h, int w)
{
    const size_t hp = (size_t)h + p->pt + p->pb, wp = (size_t)w + p->pl + p->pr;
    const size_t planes = (size_t)(p->C / p->group) * p->sh * p->sw *
                          ((hp + p->sh - 1) / p->sh) * ((wp + p->sw - 1) / p->sw);
    return (planes + TC_GC_SLACK + 15) / 16 * 16;
}

/* A strided 1x1 without pads: its dense copy (subsample_task), not a phase-split one */
static int pointwise_strided(const tc_conv2d_params *p, int algo)
{
    return algo == TC_CONV_ALGO_GEMM && p->KH == 1 && p->KW == 1 && !has_pad(p) &&
           (p->sh > 1 || p->sw > 1);
}

static int needs_phase_copy(const tc_conv2d_params *p, int algo)
{
    return (algo == TC_CONV_ALGO_GEMM && (has_pad(p) || p->sh > 1 || p->sw > 1)) ||
           algo == TC_CONV_ALGO_GROUPED;
}

/* The RGB stems (3 -> 16..64 channels, 3x3 or 7x7, stride 2 at 224x224) run in
 * bands of output rows (stem_run): per band, a thread phase-copies just the
 * input rows the band reads, into its own slot (about 50 KB, L1/L2), then runs
 * a serial GEMM over the band's columns.  The whole-image path made one
 * 600 KB phase copy, single-threaded (3 channels), before the GEMM, which then
 * read it back from L2/L3.  Taken when the depth fits one KC block (B packed
 * once per band) and the input has few channels. */
#define TC_STEM_BAND_COLS 1024 /* output pixels per band: ~9 rows of 112 */

/* Output rows per band of a stem, or 0: not a stem (whole-image path). */
static int stem_band_rows(const tc_conv2d_params *p, int algo, int OW)
{
    if (algo != TC_CONV_ALGO_GEMM || p->group != 1 || p->C > TC_STEM_MAX_C ||
        (size_t)p->C * p->KH * p->KW > TC_GEMM_KC || !(has_pad(p) || p->sh > 1 || p->sw > 1))
        return 0;
    return OW >= TC_STEM_BAND_COLS ? 1 : (TC_STEM_BAND_COLS + OW - 1) / OW;
}

/* Floats of one thread's slot of a stem: its band's phase planes (rounded to a
 * cache line), then a serial GEMM's workspace. */
static size_t stem_slot_floats(const tc_conv2d_params *p, int rows, int w)
{
    const size_t hb = (size_t)(rows - 1) * p->sh + (size_t)(p->KH - 1) * p->dh + 1;
    const size_t wp = (size_t)w + p->pl + p->pr;
    const size_t planes = (size_t)p->C * p->sh * p->sw * ((hb + p->sh - 1) / p->sh) *
                          ((wp + p->sw - 1) / p->sw);
    return (planes + 15) / 16 * 16 + tc_gemm_workspace_size(NULL);
}

/* The direct stem's bands (stem_direct_run): as many output rows as keep the band's phase
 * planes within TC_STEM_BAND_FLOATS (L1: the planes are read once per block of 4 output
 * channels), at least one. */
#define TC_STEM_BAND_FLOATS 6144
#define TC_STEM_SLACK 16 /* floats a row's last vector may read past the planes */
#ifndef TC_STEM_PF_BANDS
#define TC_STEM_PF_BANDS 3 /* the input rows prefetched this many bands ahead */
#endif

static size_t stem_direct_planes(const tc_conv2d_params *p, int rows, int w)
{
    const size_t hb = (size_t)(rows - 1) * p->sh + (size_t)(p->KH - 1) * p->dh + 1;
    const size_t wph = ((size_t)w + p->pl + p->pr + p->sw - 1) / p->sw;
    return (size_t)p->C * p->sh * p->sw * ((hb + p->sh - 1) / p->sh) * wph;
}

static int stem_direct_rows(const tc_conv2d_params *p, int w, int OH)
{
    int rows = OH;
    while (rows > 1 && stem_direct_planes(p, rows, w) > TC_STEM_BAND_FLOATS)
        rows = rows * 3 / 4 < rows - 1 ? rows * 3 / 4 : rows - 1;
    return rows;
}

/* Floats of one thread's slot: the band's planes and the slack, a multiple of 16. */
static size_t stem_direct_slot(const tc_conv2d_params *p, int rows, int w)
{
    return (stem_direct_planes(p, rows, w) + TC_STEM_SLACK + 15) / 16 * 16;
}

/* dw_inplace_task's bands (see there) */
#define TC_DW_INPLACE_ROWS 16
static int dw_in_place(const tc_conv2d_params *p, int h, int w, int OH, int OW)
{
    return p->K == p->C && p->sh == 1 && p->sw == 1 && OH == h && OW == w &&
           p->pt <= TC_DW_INPLACE_ROWS;
}

static size_t dw_stage_floats(int OW)
{
    return ((size_t)2 * TC_DW_INPLACE_ROWS * OW + 15) / 16 * 16;
}

size_t tc_conv2d_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n,
                                int h, int w)
{
    int OH, OW, r, tile = tc_wg_tile(algo, &r);
    if (tc_conv2d_check(p, algo) || tc_conv2d_output_hw(p, h, w, &OH, &OW) || n < 1)
        return 0;
    if (tile)
        return tc_wg_workspace_size(ctx, n, p->C, h, w, p->K, p->pt, p->pl, p->pb, p->pr, r, tile);
    if (algo == TC_CONV_ALGO_REFERENCE)
        return 0;
    size_t hp = (size_t)h + p->pt + p->pb, wp = (size_t)w + p->pl + p->pr;
    if (algo == TC_CONV_ALGO_DEPTHWISE) /* a row of zeros, read in place of rows above or below
                                          * x; written over x: a stage per thread */
        return (size_t)w + (dw_in_place(p, h, w, OH, OW)
                                ? 16 + (size_t)tc_pool_size(ctx ? ctx->pool : NULL) * dw_stage_floats(OW)
                                : 0);
    if (algo == TC_CONV_ALGO_GROUPED) /* the tap offsets, then a slot per thread (grouped_run) */
        return grouped_taps(p) * (sizeof(ptrdiff_t) / sizeof(float)) + 16 +
               (size_t)tc_pool_size(ctx ? ctx->pool : NULL) * (grouped_slot_floats(p, h, w) + 1);
    const int rows = stem_band_rows(p, algo, OW);
    if (rows)
        return (size_t)tc_pool_size(ctx ? ctx->pool : NULL) * stem_slot_floats(p, rows, w) + 16;
    if (algo == TC_CONV_ALGO_STEM) {
        const int drows = stem_direct_rows(p, w, OH);
        return (size_t)tc_pool_size(ctx ? ctx->pool : NULL) * stem_direct_slot(p, drows, w) + 16;
    }
    size_t ws = tc_gemm_workspace_size(ctx);
    if (pointwise_strided(p, algo))
        ws += (size_t)p->C * OH * OW;
    else if (needs_phase_copy(p, algo))
        ws += (size_t)p->C * p->sh * p->sw * ((hp + p->sh - 1) / p->sh) * ((wp + p->sw - 1) / p->sw);
    return ws;
}

/* ------------------------------------------------------------------------ */
/* Zero-padded, phase-split copy of the input (GEMM path)                  */
/* ------------------------------------------------------------------------ */

/* Zero-padded, phase-split copy for strided convolutions: padded pixel (r, c)
 * goes to phase (r % sh, c % sw) at (r / sh, c / sw).  Tap (ki, kj) of output
 * (oh, ow) then reads phase ((ki*dh) % sh, (kj*dw) % sw) at
 * (oh + ki*dh / sh, ow + kj*dw / sw): a stride-1 problem, so the im2col
 * packer copies contiguous runs instead of gathering.  Phases no tap reads are
 * skipped. */
typedef struct {
    const float *x;
    float *xp; /* [C][sh][sw][hph][wph] */
    int h, w, pt, pl, sh, sw, hph, wph;
    unsigned char used[64]; /* [sh*sw] when sh*sw <= 64, else all used */
    void (*take_even)(const float *s, float *d, ptrdiff_t n);
    void (*split_even_odd)(const float *s, ptrdiff_t n, float *e, float *o);
} phase_job;

static int phase_used(const phase_job *j, int ph)
{
    return ph >= 64 || j->used[ph];
}

static void zero_floats(float *d, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        d[i] = 0.0f;
}

/* Both column phases of phase row pr of channel c when sw == 2, one pass over each source
 * row: source column s is padded column s + pl, phase (s + pl) % 2, at (s + pl) / 2, so
 * the even source columns all land in one phase from (pl / 2) on and the odd ones in the
 * other from ((pl + 1) / 2) on (both within wph: 2 * wph >= w + pl). */
static void phase_rows_split(const phase_job *j, const float *src, ptrdiff_t c, int pr)
{
    const size_t pplane = (size_t)j->hph * j->wph;
    float *d0 = j->xp + ((size_t)c * j->sh * 2 + (size_t)pr * 2) * pplane;
    float *de = j->pl % 2 ? d0 + pplane : d0, *dodd = j->pl % 2 ? d0 : d0 + pplane;
    const int qe = j->pl / 2, qo = (j->pl + 1) / 2, ne = (j->w + 1) / 2, no = j->w / 2;
    for (int i = 0; i < j->hph; i++) {
        float *re = de + (size_t)i * j->wph, *ro = dodd + (size_t)i * j->wph;
        const int ih = i * j->sh + pr - j->pt;
        if (ih < 0 || ih >= j->h) {
            memset(re, 0, (size_t)j->wph * sizeof(float));
            memset(ro, 0, (size_t)j->wph * sizeof(float));
            continue;
        }
        zero_floats(re, qe);
        zero_floats(ro, qo);
        j->split_even_odd(src + (size_t)ih * j->w, j->w, re + qe, ro + qo);
        zero_floats(re + qe + ne, j->wph - qe - ne);
        zero_floats(ro + qo + no, j->wph - qo - no);
    }
}

static void phase_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const phase_job *j = (const phase_job *)varg;
    const size_t pplane = (size_t)j->hph * j->wph;
    (void)tid;
    for (ptrdiff_t c = begin; c < end; c++) {
        const float *src = j->x + (size_t)c * j->h * j->w;
        for (int pr = 0; pr < j->sh; pr++) {
            if (j->sw == 2 && phase_used(j, pr * 2) && phase_used(j, pr * 2 + 1)) {
                phase_rows_split(j, src, c, pr);
                continue;
            }
            for (int pc = 0; pc < j->sw; pc++) {
                int ph = pr * j->sw + pc;
                if (!phase_used(j, ph))
                    continue;
                float *dst = j->xp + ((size_t)c * j->sh * j->sw + ph) * pplane;
                /* padded column of phase column q: q*sw + pc; valid source columns */
                int q0 = 0, q1 = j->wph; /* q with 0 <= q*sw + pc - pl < w */
                while (q0 < j->wph && q0 * j->sw + pc - j->pl < 0)
                    q0++;
                while (q1 > q0 && (q1 - 1) * j->sw + pc - j->pl >= j->w)
                    q1--;
                for (int i = 0; i < j->hph; i++) {
                    float *d = dst + (size_t)i * j->wph;
                    int ih = i * j->sh + pr - j->pt;
                    if (ih < 0 || ih >= j->h) {
                        memset(d, 0, (size_t)j->wph * sizeof(float));
                        continue;
                    }
                    /* source column of phase column q: q*sw + pc - pl */
                    const float *srow = src + (size_t)ih * j->w;
                    const ptrdiff_t c0 = (ptrdiff_t)pc - j->pl;
                    for (int q = 0; q < q0; q++)
                        d[q] = 0.0f;
                    if (j->sw == 1) {
                        if (q1 > q0)
                            memcpy(d + q0, srow + q0 + c0, (size_t)(q1 - q0) * sizeof(float));
                    } else if (j->sw == 2) {
                        if (q1 > q0)
                            j->take_even(srow + 2 * (ptrdiff_t)q0 + c0, d + q0, q1 - q0);
                    } else {
                        for (int q = q0; q < q1; q++)
                            d[q] = srow[(ptrdiff_t)q * j->sw + c0];
                    }
                    for (int q = q1; q < j->wph; q++)
                        d[q] = 0.0f;
                }
            }
        }
    }
}

/* A 1x1 layer with strides and no pads reads every sh-th row and sw-th column of x: gathered
 * once into a dense [C, OH * OW] copy, it is the 1x1 GEMM of that copy (B read in place, or
 * packed row by row as for the unstrided layers) instead of the im2col packing of a
 * phase-split copy.  x: [C, h, w]  xs: [C, oh * ow]
 * The copy is bound by its reads (perf: 58% of its samples on the loads; take_even 1.3% of
 * RegNetY-400MF's samples, its four projections).  Its largest, block1-0's (32 x 112 x 112,
 * which the stem wrote just before and the pair after it reads again), runs 0.18-0.21 ms in
 * the network against onnxruntime's 0.148 (steps_vs_ort.py minima); alone, warm, the step
 * takes 191 us against 132 for the same 1x1 on the copy (1-thread CPU time, min of 200).
 * Tried and left (s34, Intel Xeon, AVX2 emulation, 1 thread, steps_ab.py --against the base, 30 rounds, per step median [25-75%], the same bits): the rows in the reverse of
 * the order the stem wrote them (bottom row first, channels last to first, to read what is
 * still in L2 before the misses evict it) block1-0's proj 1.069 [1.041-1.114], block2-0's
 * 1.059; a prefetch of the row 4 output rows ahead 0.975 [0.943-1.000] at block1-0 but
 * 1.01-1.04 at the other three (steps it does not touch read 1.025 in the same run): level.
 * What would pay is not reading x twice: the proj's rows computed in pg_fused's bands of
 * block1-0, where the pair's 1x1 reads the same input rows (a graph change). */
typedef struct {
    const float *x;
    float *xs;
    int h, w, oh, ow, sh, sw;
    void (*take_even)(const float *s, float *d, ptrdiff_t n);
} subsample_job;

static void subsample_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const subsample_job *j = (const subsample_job *)varg;
    (void)tid;
    for (ptrdiff_t c = begin; c < end; c++)
        for (int i = 0; i < j->oh; i++) {
            const float *s = j->x + ((size_t)c * j->h + (size_t)i * j->sh) * j->w;
            tc_take_strided(j->take_even, s, j->xs + ((size_t)c * j->oh + i) * j->ow, j->ow,
                            j->sw);
        }
}

/* Marks in j->used the phases some tap of p reads (all of them past 64 phases). */
static void phase_mark_used(const tc_conv2d_params *p, phase_job *j)
{
    if (p->sh * p->sw > 64)
        memset(j->used, 1, sizeof(j->used));
    for (int ki = 0; ki < p->KH; ki++)
        for (int kj = 0; kj < p->KW; kj++) {
            int ph = (ki * p->dh % p->sh) * p->sw + kj * p->dw % p->sw;
            if (ph < 64)
                j->used[ph] = 1;
        }
}

/* ------------------------------------------------------------------------ */
/* im2col folded into the B packing                                         */
/* ------------------------------------------------------------------------ */

static void take_even_portable(const float *s, float *d, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        d[i] = s[2 * i];
}

#define TC_IM2COL_FN pack_b_im2col_portable
#include "conv_im2col_body.h"
#undef TC_IM2COL_FN

const tc_conv_kernels tc_conv_portable = {
    .dw_pick = dw_plane_portable,
    .dw_split_pick = dw_plane_portable_split_pick,
    .pack_b_im2col = pack_b_im2col_portable,
    .gc_block = gc_block_portable,
    .gc_copy = gc_copy_portable,
    .take_even = take_even_portable,
    .split_even_odd = split_even_odd_portable,
    .stem_band = stem_band_portable,
};

/* ------------------------------------------------------------------------ */
/* Depthwise                                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    const tc_conv2d_params *p;
    const float *x, *w, *bias, *residual, *zrow;
    float *y;
    int h, wd, OH, OW;
    const tc_activation *act;
    tc_dw_plane_fn plane;
    tc_dw_block_fn block;
    float *means;       /* [N, K] or NULL: each output plane's mean (tc_conv2d_means_f32) */
    float (*sum)(const float *x, ptrdiff_t n); /* the global average pool's sum */
    /* dw_band_task: bands of band_rows output rows, each band's kernel picked by pick */
    int bands, band_rows;
    tc_dw_pick_fn pick;
    float *stage; /* dw_inplace_task: per thread, two bands of TC_DW_INPLACE_ROWS output rows */
} dw_job;

/* means[0 .. nc) of planes y[0 .. nc) (out_plane floats each): summed right after they are
 * written, while in L1 or L2, with sum, as tc_global_avg_pool_f32 sums them (same bits).
 * The depthwise and the grouped kernels' (tc_conv2d_means_f32). */
static void plane_means(float (*sum)(const float *x, ptrdiff_t n), const float *y,
                        size_t out_plane, int nc, float *means)
{
    for (int i = 0; i < nc; i++)
        means[i] = sum(y + (size_t)i * out_plane, (ptrdiff_t)out_plane) / (float)out_plane;
}

/* items = (image, block of TC_DW_BLOCK channels) pairs; no channel multiplier */
static void dw_block_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const dw_job *j = (const dw_job *)varg;
    const tc_conv2d_params *p = j->p;
    const int nblk = (p->K + TC_DW_BLOCK - 1) / TC_DW_BLOCK;
    const size_t in_plane = (size_t)j->h * j->wd, out_plane = (size_t)j->OH * j->OW;
    (void)tid;
    for (ptrdiff_t it = begin; it < end; it++) {
        const int b = (int)(it / nblk), k0 = (int)(it % nblk) * TC_DW_BLOCK;
        const int nc = p->K - k0 < TC_DW_BLOCK ? p->K - k0 : TC_DW_BLOCK;
        const size_t o = ((size_t)b * p->K + k0) * out_plane;
        j->block(j->x + ((size_t)b * p->C + k0) * in_plane, j->h, j->wd,
                 j->w + (size_t)k0 * p->KH * p->KW, p, j->bias, j->residual ? j->residual + o : NULL,
                 j->act, k0, nc, j->OH, j->OW, j->y + o);
        if (j->means)
            plane_means(j->sum, j->y + o, out_plane, nc, j->means + (size_t)b * p->K + k0);
    }
}

/* Output rows per band of a depthwise layer split over the threads by rows, or 0: split by
 * channels.  The 1x1 GEMMs around it split their pixels (C's columns) over the threads, each
 * thread about one contiguous range, rows [0, OH / T) for the first: a channel split reads
 * half of each plane from the other core's cache and leaves half of its own output there for
 * the next layer, a split into T bands of rows keeps both where they are (the halo rows
 * aside).  Bands of whole TC_DW_ROWS passes (4 rows).  Measured (AVX2 emulation, 2 threads,
 * min per step of 360 profiled runs, main and this alternating, loaded host, 2026-12-01
 * 20:40-20:50): the 1x1 projection after the band split 0.76-0.91 of its time at 56x56 and
 * 112x112 (MnasNet's layers.6, 8.1, 8.2, MobileNetV2's features.1), the depthwise itself
 * 0.95-1.07; on 28x28 planes the depthwise lost 1.07-1.21 (a band of a 28x28 plane is a
 * few hundred cycles: the per-call costs weigh) and the projection after it gained at most
 * 0.92, so planes under TC_DW_BAND_MIN_PIXELS keep the channel split.  Whole planes also
 * where the layer takes their means (tc_conv2d_means_f32).  Again at s20 (2026-12-03 00:56,
 * AVX2 emulation, both cores ours under SCHED_FIFO, the host in a slow spell where MobileNetV2's
 * 28x28 blocks ran slower at 2 threads than at 1): TC_DW_BAND_MIN_PIXELS 768 (its 28x28
 * depthwise layers in two bands, so the 1x1 GEMMs' pixel halves stay on their thread), whole
 * MobileNetV2 at 2 threads, both builds in one process alternating, bands / channels 1.017,
 * 1.021, 1.025 (same bits): left at 2048. */
#define TC_DW_BAND_MIN_ROWS 16
#define TC_DW_BAND_MIN_PIXELS 2048
#define TC_DW_BAND_PASS 4
static int dw_band_rows(const tc_pool *pool, int OH, int OW, const float *means)
{
    const int T = tc_pool_size(pool);
    if (T < 2 || means || OH < TC_DW_BAND_MIN_ROWS || (long)OH * OW < TC_DW_BAND_MIN_PIXELS)
        return 0;
    const int rows = ((OH + T - 1) / T + TC_DW_BAND_PASS - 1) / TC_DW_BAND_PASS * TC_DW_BAND_PASS;
    return rows < OH ? rows : 0;
}

/* The band of output rows [r0, r1) of a plane as an image of its input rows [*i0, *i1): the
 * pads of q stand for the rows outside it (or are the real ones) */
/* items = (image, band of rows, output channel) triples, bands outermost in an image */
static void dw_band_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const dw_job *j = (const dw_job *)varg;
    const tc_conv2d_params *p = j->p;
    const int mult = p->K / p->C;
    const size_t in_plane = (size_t)j->h * j->wd, out_plane = (size_t)j->OH * j->OW;
    int cur = -1, r0 = 0, r1 = 0, i0 = 0, n = 0; /* the band whose geometry q and plane hold */
    tc_conv2d_params q;
    tc_dw_plane_fn plane = NULL;
    (void)tid;
    for (ptrdiff_t it = begin; it < end; it++) {
        const int k = (int)(it % p->K), band = (int)(it / p->K % j->bands);
        const int b = (int)(it / ((ptrdiff_t)p->K * j->bands));
        if (band != cur) {
            cur = band;
            r0 = band * j->band_rows;
            r1 = r0 + j->band_rows < j->OH ? r0 + j->band_rows : j->OH;
            i0 = tc_conv_band_image(p, j->h, r0, r1 - r0, &n, &q);
            /* the kernel for the band as a lone image of its rows */
            plane = j->pick(&q, n, j->wd, r1 - r0, j->OW);
        }
        const float *xc = j->x + ((size_t)b * p->C + k / mult) * in_plane + (size_t)i0 * j->wd;
        const size_t o = ((size_t)b * p->K + k) * out_plane + (size_t)r0 * j->OW;
        plane(xc, n, j->wd, j->zrow, j->w + (size_t)k * p->KH * p->KW, &q,
              j->bias ? j->bias[k] : 0.0f, j->residual ? j->residual + o : NULL,
              tc_act_at(j->act, k), r1 - r0, j->OW, j->y + o);
    }
}

/* A depthwise layer written over its own input (y == x: the planner's in place, ops/conv.py,
 * where x dies at this step): stride 1, K == C, the output the input's size, no residual.
 * Each plane runs in bands of TC_DW_INPLACE_ROWS output rows into a thread's stage (two bands,
 * in L1), a band's rows copied over x once the next band, the last to read them, is computed.
 * Inside a network the output then lands on the lines the input just came through instead of
 * lines last used a run ago (EfficientNet-B0's features.1: 32 x 112 x 112, 1.6 MB, past L2).
 * The bands are lone images of their rows (tc_conv_band_image), as dw_band_task's: the same
 * bits as the whole plane.  Measured (n30-eff1, 2026-12-04, Zen 4, AVX2 kernels, 1 thread,
 * steps_ab.py against the base in one process, a loaded host, median [25-75%] of 30-60 rounds):
 * EfficientNet-B0's features.1 depthwise 0.786 [0.748-0.858] / 0.807 / 0.839 (245 against 307
 * us), the projection after it 0.73-0.88 (its input no longer pushed out by the output's
 * lines).  Also measured, then left out (a fused node's fallback, whose intermediates ops/conv.py
 * does not write over): features.2.1's 144 @ 56x56 (1.8 MB) in its group 0.973-0.992, level. */
/* items = (image, channel) pairs */
static void dw_inplace_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const dw_job *j = (const dw_job *)varg;
    const tc_conv2d_params *p = j->p;
    const int R = TC_DW_INPLACE_ROWS, OH = j->OH, OW = j->OW;
    const size_t plane = (size_t)OH * OW, band_floats = (size_t)R * OW;
    float *stage = j->stage + (size_t)tid * dw_stage_floats(OW);
    for (ptrdiff_t it = begin; it < end; it++) {
        const int b = (int)(it / p->K), k = (int)(it % p->K);
        const size_t o = ((size_t)b * p->K + k) * plane;
        float *yc = j->y + o; /* == x's plane k */
        int r0 = 0;
        for (int band = 0; r0 < OH; band++, r0 += R) {
            const int r1 = r0 + R < OH ? r0 + R : OH;
            tc_conv2d_params q;
            int n;
            const int i0 = tc_conv_band_image(p, j->h, r0, r1 - r0, &n, &q);
            const tc_dw_plane_fn plane_fn = j->pick(&q, n, j->wd, r1 - r0, OW);
            plane_fn(j->x + o + (size_t)i0 * j->wd, n, j->wd, j->zrow, j->w + (size_t)k * p->KH * p->KW,
                     &q, j->bias ? j->bias[k] : 0.0f, NULL, tc_act_at(j->act, k), r1 - r0, OW,
                     stage + (size_t)(band & 1) * band_floats);
            /* the band before: its input rows [r0 - R, r0) are read by no band after this one */
            if (band > 0)
                memcpy(yc + (size_t)(r0 - R) * OW, stage + (size_t)((band - 1) & 1) * band_floats,
                       band_floats * sizeof(float));
        }
        const int last = (OH - 1) / R;
        memcpy(yc + (size_t)last * R * OW, stage + (size_t)(last & 1) * band_floats,
               (size_t)(OH - last * R) * OW * sizeof(float));
        if (j->means)
            plane_means(j->sum, yc, plane, 1, j->means + (size_t)b * p->K + k);
    }
}

/* items = (image, output channel) pairs */
static void dw_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const dw_job *j = (const dw_job *)varg;
    const tc_conv2d_params *p = j->p;
    const int mult = p->K / p->C;
    const size_t in_plane = (size_t)j->h * j->wd, out_plane = (size_t)j->OH * j->OW;
    (void)tid;
    /* (image b, channel k) stepped from begin, not divided out per item: on
     * 7x7 planes the divisions cost as much as a third of the plane */
    int b = (int)(begin / p->K), k = (int)(begin % p->K), c = k / mult, m = k % mult;
    for (ptrdiff_t it = begin; it < end; it++) {
        const float *xc = j->x + ((size_t)b * p->C + c) * in_plane;
        size_t o = ((size_t)b * p->K + k) * out_plane;
        const float *res = j->residual ? j->residual + o : NULL;
        const float *wk = j->w + (size_t)k * p->KH * p->KW;
        float bias = j->bias ? j->bias[k] : 0.0f;
        j->plane(xc, j->h, j->wd, j->zrow, wk, p, bias, res, tc_act_at(j->act, k), j->OH, j->OW,
                 j->y + o);
        if (j->means)
            plane_means(j->sum, j->y + o, out_plane, 1, j->means + (size_t)b * p->K + k);
        if (++m == mult)
            m = 0, c++;
        if (++k == p->K)
            k = 0, c = 0, b++;
    }
}

/* ------------------------------------------------------------------------ */
/* Grouped                                                                  */
/* ------------------------------------------------------------------------ */

/* Each task copies one group's inputs (zero-padded phase planes, phase_task) into its
 * thread's slot of the workspace and runs that group's blocks of output channels from
 * there, while the copy is in L1 or L2: a copy of the whole input first (1.3 MB at
 * RegNetY's 104 channels at 56x56) left the kernels to read it back from L3.
 * The stride-2 layers cost more than a stride-1 layer of the same output: RegNetY's
 * 48 channels 112x112 -> 56x56 394 us vs 260 us for 56x56 -> 56x56 (104 channels 56 -> 28:
 * 201 vs 160 us; 1 thread, AVX2, hot).  Tried (s12, 2026-12-01), no change, reverted:
 * prefetching the next group's inputs into L2 across this group's blocks (in the network
 * 427-442 vs 436-468 us), and bands of output rows, every block per band, so that the
 * group's 416 KB copy is read from L1 once rather than from L2 per block (384 vs 382 us
 * alone).  perf (48 channels, 112x112, stride 2): the copy's even/odd split is a third
 * of the layer (23%, the block 44%), its time on the loads of x and the stores to the
 * slot; with the prefetch it fell to 17% and the block rose to 50%: the read of the 2.4 MB
 * input from past L2 costs the same wherever it is issued.  What would pay: the producer
 * (the 1x1 before it) and this layer in bands of rows, so that x is read from L2. */
typedef struct {
    const tc_conv2d_params *p;
    const float *x, *packed, *bias, *residual;
    const ptrdiff_t *taps;
    const tc_activation *act;
    float *y, *slots;
    int *primed;          /* [threads]: the thread's slot holds its zeros (this run) */
    size_t slot, cstride; /* floats per thread's slot, per channel of its copy */
    int h, w, wph, OH, OW, blocks, chunks, per_chunk;
    ptrdiff_t ldy;        /* floats between y's planes (OH * OW, or more: a band of rows) */
    phase_job pj; /* x, xp set per task */
    tc_gc_block_fn block;
    tc_gc_copy_fn copy; /* NULL: phase_task each time (column strides past 2) */
    tc_gc8_fn gc8;      /* non-NULL: each group by it (gc8_applies), over gc8_copy's planes */
    tc_gc8_copy_fn gc8_copy;
    tc_gc8_direct_fn gc8_direct; /* non-NULL: gc8 at stride 2 from x itself (gc8_direct_applies) */
    tc_gc8_wino_fn gc8_wino;     /* non-NULL: each group by it instead (gc8_wino_applies) */
    int hp8, wp8;       /* its planes' height and width: the padded input's */
    int w8;             /* the weights packed 8 channels per tap (grouped_w8) */
    float *means;       /* [N, K] or NULL: each output plane's mean (tc_conv2d_means_f32) */
    float (*sum)(const float *x, ptrdiff_t n); /* the global average pool's sum */
    const char *prefetch; /* NULL, or prefetch_lines cache lines the next step reads */
    ptrdiff_t prefetch_lines, items;
    ptrdiff_t split; /* >= 0: that (image, group) in two items of its tile rows (gc8_wino) */
    int *halves;     /* how many of split's two items are done (its means after both) */
} gc_job;

/* Does the kernels' gc8 (grouped8_avx2.h) take this layer: 8 in, 8 out per group, 3x3,
 * undilated, stride 1 or 2 both ways, rows of 7 or a multiple of 14 outputs, no residual */
static int gc8_applies(const tc_conv2d_params *p, int OW, const float *residual)
{
    return p->C == 8 * p->group && p->K == 8 * p->group && p->KH == 3 && p->KW == 3 &&
           p->dh == 1 && p->dw == 1 && p->sh == p->sw && (p->sh == 1 || p->sh == 2) &&
           (OW == 7 || OW % 14 == 0) && !residual;
}

/* ... and reads x where it lies, without the padded copy (tc_gc8_direct_fn): stride 2 on rows
 * of 14k, pads of at most 1 (a band's, tc_conv_band_image: 0 or 1 above and below).  There
 * the copy (the whole input, 4x the output's pixels) took 15-27% of a layer; RegNetY-400MF's
 * stride-2 layers alone (gc_ab.sh GC_AB_GC8=ab against the copy, 30 calls x 11 rounds, median
 * [25-75%], the same bits): 48@112 0.731 [0.720-0.750], 104@56 0.827 [0.821-0.840], 208@28
 * 0.854 [0.793-0.864].  At stride 1 (208@14 0.973, 104@28 1.043; with edge runs compiled
 * per left / right edge and the kj taps unrolled 0.961 / 0.980, where the base against itself
 * reads 0.98-0.99) and on rows of 7 (its 2x7 runs all edges: 1.46-1.51) the copy stayed,
 * until h40-rg (2026-12-06) compiled every run's edges into its own function with no common
 * broadcasts (grouped8_avx2.h gc8_runq): 7x7 at stride 1 and 2 (14x14 in) 0.71-0.77 of the
 * copy's time, stride 1 on rows of 14k 0.82-0.88 (pads 1 on every side, 2 rows or more). */
static int gc8_direct_applies(const tc_conv2d_params *p, int h, int w, int OW)
{
    const int pads1 = p->pt == 1 && p->pl == 1 && p->pb == 1 && p->pr == 1;
    if (OW == 7) /* 7x7 at stride 1, 14x14 at 2: grouped8_avx2.h gc8_runq */
        return h == 7 * p->sh && w == 7 * p->sh && pads1;
    if (p->sh == 1) /* rows of 14k at stride 1, 2 rows or more: gc8_runq */
        return OW % 14 == 0 && h >= 2 && pads1;
    return p->sh == 2 && OW % 14 == 0 && p->pt <= 1 && p->pl <= 1 && p->pb <= 1 && p->pr <= 1;
}

/* ... and by Winograd F(2x2, 3x3) (grouped8_avx2.h gc8w_run, tc_gc8_wino_fn): stride 1, pads 1
 * on every side, an even number of rows of 14 or 28 (RegNetY-400MF's 104@28 and 208@14): whole
 * images only, since a band of pg_fused.c (tc_conv_band_image) has no pad on a side where it
 * is cut, so that a band's bits stay the unbanded layer's.  Not the direct kernel's bits
 * (another summation; the error against onnxruntime at full depth: tests/test_pg_fused.py's
 * RegNetY-400MF).  Measured
 * (h41-rg, 2026-12-06, Intel Xeon, AVX2, 1 thread, benchmarks/gc_ab.sh against the base's
 * direct gc8_runq, 30 calls x 15 rounds, median of the per-round ratios [25-75%], a loaded
 * host): 208@14 0.90 [0.87-0.97] / 0.93, 104@28 0.82-0.86: its 16 products per tile and
 * channel pair (36 direct) at the FMA peak, the transforms (V stored per tile row with the
 * tiles in the lanes, M per tile) ~half of its time. */
static int gc8_wino_applies(const tc_conv2d_params *p, int h, int w, int OW)
{
    return p->sh == 1 && OW == w && h >= 2 && h % 2 == 0 && (w == 14 || w == 28) &&
           p->pt == 1 && p->pl == 1 && p->pb == 1 && p->pr == 1;
}

/* n floats from w into L2 (hints only), a prefetch per 64-byte line */
static inline void prefetch_l2(const float *w, size_t n)
{
    for (size_t o = 0; o < n * sizeof(float); o += 64)
        __builtin_prefetch((const char *)w + o, 0, 2);
}

/* items = (image, group, chunk of its blocks of output channels) */
static void gc_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const gc_job *j = (const gc_job *)varg;
    const tc_conv2d_params *p = j->p;
    const int Cg = p->C / p->group, Kg = p->K / p->group, ntaps = (int)grouped_taps(p);
    const ptrdiff_t plane = (ptrdiff_t)j->OH * j->OW, ldy = j->ldy;
    const size_t in_img = (size_t)p->C * j->h * j->w, out_img = (size_t)p->K * ldy;
    float *xg = j->slots + (size_t)tid * j->slot;
    phase_job pj = j->pj;
    pj.xp = xg;
    for (ptrdiff_t it = begin; it < end; it++) {
        ptrdiff_t ig = it / j->chunks; /* image * group + group */
        int r0 = 0, r1 = j->OH;        /* its output rows (gc8_wino) */
        if (j->split >= 0 && it >= j->split) { /* items split, split + 1: its two halves */
            ig = it == j->split ? it : it - 1;
            const int mid = j->OH / 4 * 2;
            r0 = it == j->split + 1 ? mid : 0;
            r1 = it == j->split ? mid : j->OH;
        }
        const int b = (int)(ig / p->group), g = (int)(ig % p->group);
        const int blk0 = (int)(it % j->chunks) * j->per_chunk;
        const int blk1 = blk0 + j->per_chunk < j->blocks ? blk0 + j->per_chunk : j->blocks;
        pj.x = j->x + b * in_img + (size_t)g * Cg * j->h * j->w;
        if (j->gc8) { /* the whole group (chunks == 1), see grouped8_avx2.h */
            const int in_place = j->gc8_direct || j->gc8_wino; /* x read where it lies */
            if (!in_place && !j->primed[tid]) { /* the zeros around the copies, once a run */
                memset(xg, 0, (size_t)8 * j->hp8 * j->wp8 * sizeof(float));
                j->primed[tid] = 1;
            }
            if (!in_place)
                j->gc8_copy(pj.x, j->h, j->w, p->pt, p->pl, j->hp8, j->wp8, xg);
            const size_t wgroup = (size_t)j->blocks * ntaps * TC_GC_KB;
            if (g + 1 < p->group) /* the next group's weights into L2, as below */
                prefetch_l2(j->packed + (g + 1) * wgroup, wgroup);
            const int k0 = g * Kg;
            const size_t o = b * out_img + (size_t)k0 * ldy;
            tc_act_k acts[8];
            for (int c = 0; c < 8; c++)
                acts[c] = tc_act_at(j->act, k0 + c);
            const ptrdiff_t pf0 = j->prefetch_lines * it / j->items,
                            pf1 = j->prefetch_lines * (it + 1) / j->items;
            if (j->gc8_wino)
                j->gc8_wino(pj.x, j->h, j->w, ldy, j->packed + g * wgroup,
                            j->bias ? j->bias + k0 : NULL, acts, j->y + o,
                            j->prefetch ? j->prefetch + pf0 * 64 : NULL, pf1 - pf0, r0, r1);
            else if (j->gc8_direct)
                j->gc8_direct(pj.x, j->taps, j->h, j->w, p->pt, p->pl, j->OH, j->OW, ldy,
                              j->packed + g * wgroup, j->bias ? j->bias + k0 : NULL, acts,
                              j->y + o, j->prefetch ? j->prefetch + pf0 * 64 : NULL, pf1 - pf0);
            else
                j->gc8(xg, j->taps, j->hp8, j->wp8, p->sh, j->OH, j->OW, ldy,
                       j->packed + g * wgroup, j->bias ? j->bias + k0 : NULL, acts, j->y + o,
                       j->prefetch ? j->prefetch + pf0 * 64 : NULL, pf1 - pf0);
            /* a split group's means once both halves are stored (acq_rel: the other's stores
             * seen), by whichever finished last: the whole planes' sums, the same bits */
            if (j->means && (ig != j->split || __atomic_add_fetch(j->halves, 1, __ATOMIC_ACQ_REL) == 2))
                plane_means(j->sum, j->y + o, (size_t)plane, 8, j->means + (size_t)b * p->K + k0);
            continue;
        }
        if (j->copy && j->primed[tid]) { /* the same positions as the first copy's */
            j->copy(pj.x, Cg, j->h, j->w, pj.pt, pj.pl, pj.sh, pj.sw, pj.hph, pj.wph, xg);
        } else {
            phase_task(&pj, tid, 0, Cg);
            j->primed[tid] = 1;
        }
        /* this item's share of the lines to prefetch, spread over its blocks */
        const ptrdiff_t pf0 = j->prefetch_lines * it / j->items,
                        pf1 = j->prefetch_lines * (it + 1) / j->items;
        for (int blk = blk0; blk < blk1; blk++) {
            const ptrdiff_t l0 = pf0 + (pf1 - pf0) * (blk - blk0) / (blk1 - blk0),
                            l1 = pf0 + (pf1 - pf0) * (blk - blk0 + 1) / (blk1 - blk0);
            const int k0 = g * Kg + blk * TC_GC_KB;
            const int nk = Kg - blk * TC_GC_KB < TC_GC_KB ? Kg - blk * TC_GC_KB : TC_GC_KB;
            /* the next block's weights (this group's or the next group's: the packing's
             * order) into L2 while this block computes (18 lines: 4 channels x 8 inputs x
             * 3x3): a layer's weights come from L3 at every run (RegNetY's grouped steps at
             * 14x14 and 7x7 lost 10-12 us each to them against a hot layer alone) */
            const size_t nb = (size_t)g * j->blocks + blk + 1;
            const float *wb = j->packed + ((size_t)g * j->blocks + blk) * ntaps * TC_GC_KB;
            if (j->w8) { /* the blocks side by side: the next group's at the first block */
                wb = j->packed + ((size_t)g * j->blocks) * ntaps * TC_GC_KB + blk * TC_GC_KB;
                if (blk == blk0 && g + 1 < p->group)
                    prefetch_l2(j->packed + (g + 1) * (size_t)ntaps * 8, (size_t)ntaps * 8);
            } else if (nb < (size_t)p->group * j->blocks) {
                prefetch_l2(j->packed + nb * ntaps * TC_GC_KB, (size_t)ntaps * TC_GC_KB);
            }
            const size_t o = b * out_img + (size_t)k0 * ldy;
            tc_act_k acts[TC_GC_KB];
            for (int c = 0; c < nk; c++)
                acts[c] = tc_act_at(j->act, k0 + c);
            j->block(xg, j->taps, ntaps, j->wph, j->OH, j->OW, ldy, wb,
                     j->w8 ? 8 : TC_GC_KB, nk,
                     j->bias ? j->bias + k0 : NULL, j->residual ? j->residual + o : NULL, acts,
                     j->y + o, j->prefetch ? j->prefetch + l0 * 64 : NULL, l1 - l0);
            if (j->means) /* the block's planes while in L1 (ldy == plane) */
                plane_means(j->sum, j->y + o, (size_t)plane, nk, j->means + (size_t)b * p->K + k0);
        }
    }
}

/* workspace: the tap offsets, a flag per thread, then per thread a slot (64-byte aligned):
 * one group's phase planes, then the slack a row's last vector may read, zeroed once per
 * run.  A thread's first task of the run writes its slot whole (phase_task), the next ones
 * only the values from x (gc_copy): the zeros around them stay.  y's planes ldy apart (means
 * only with ldy == OH * OW).  prefetch: NULL, or prefetch_bytes the next step reads from
 * memory (tc_conv2d_means_f32). */
static void grouped_run(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h, int w,
                        const float *x, const float *packed, const float *bias,
                        const float *residual, const tc_activation *act, float *y, int OH,
                        int OW, ptrdiff_t ldy, float *means, const void *prefetch,
                        size_t prefetch_bytes, float *workspace)
{
    tc_pool *pool = ctx ? ctx->pool : NULL;
    const int sh = p->sh, sw = p->sw, hp = h + p->pt + p->pb, wp = w + p->pl + p->pr;
    const int hph = (hp + sh - 1) / sh, wph = (wp + sw - 1) / sw;
    const size_t pplane = (size_t)hph * wph, cstride = pplane * sh * sw;
    const int Cg = p->C / p->group, Kg = p->K / p->group, threads = tc_pool_size(pool);
    const size_t ntaps = grouped_taps(p);
    ptrdiff_t *taps = (ptrdiff_t *)(void *)workspace;
    size_t t = 0;
    for (int c = 0; c < Cg; c++)
        for (int ki = 0; ki < p->KH; ki++)
            for (int kj = 0; kj < p->KW; kj++) {
                const int ph = (ki * p->dh % sh) * sw + kj * p->dw % sw;
                taps[t++] = (ptrdiff_t)(c * cstride + ph * pplane) +
                            (ptrdiff_t)(ki * p->dh / sh) * wph + kj * p->dw / sw;
            }
    gc_job j;
    memset(&j, 0, sizeof(j));
    j.p = p, j.x = x, j.packed = packed, j.bias = bias, j.residual = residual, j.taps = taps;
    j.act = act, j.y = y, j.cstride = cstride, j.slot = grouped_slot_floats(p, h, w);
    j.primed = (int *)(void *)(taps + ntaps);
    memset(j.primed, 0, (size_t)threads * sizeof(int));
    j.slots = (float *)(((uintptr_t)(j.primed + threads) + 63) & ~(uintptr_t)63);
    j.h = h, j.w = w, j.wph = wph, j.OH = OH, j.OW = OW, j.ldy = ldy;
    j.blocks = (Kg + TC_GC_KB - 1) / TC_GC_KB;
    /* fewer groups than 2 per thread: each group's blocks in chunks, each copying the
     * group's inputs again, rather than threads left idle */
    const ptrdiff_t groups = (ptrdiff_t)n * p->group;
    /* Winograd where it applies, at every thread count (so each group whole: the same bits) */
    const int wino = tc_conv_kernels_of(ctx)->gc8_wino && gc8_applies(p, OW, residual) &&
                     gc8_wino_applies(p, h, w, OW);
    j.chunks = groups >= 2 * threads || wino ? 1 : (int)((2 * threads + groups - 1) / groups);
    j.chunks = j.chunks < j.blocks ? j.chunks : j.blocks;
    j.per_chunk = (j.blocks + j.chunks - 1) / j.chunks;
    j.chunks = (j.blocks + j.per_chunk - 1) / j.per_chunk;
    j.block = tc_conv_kernels_of(ctx)->gc_block;
    j.copy = sw <= 2 ? tc_conv_kernels_of(ctx)->gc_copy : NULL;
    j.w8 = grouped_w8(p);
    if (tc_conv_kernels_of(ctx)->gc8 && j.chunks == 1 && gc8_applies(p, OW, residual)) {
        j.gc8 = tc_conv_kernels_of(ctx)->gc8;
        j.gc8_copy = tc_conv_kernels_of(ctx)->gc8_copy;
        j.hp8 = hp, j.wp8 = wp; /* 8 planes of hp x wp fit the slot's phase planes */
        if (tc_conv_kernels_of(ctx)->gc8_direct && gc8_direct_applies(p, h, w, OW))
            j.gc8_direct = tc_conv_kernels_of(ctx)->gc8_direct, j.hp8 = h, j.wp8 = w;
        if (wino)
            j.gc8_wino = tc_conv_kernels_of(ctx)->gc8_wino, j.hp8 = h, j.wp8 = w;
        for (int c = 0, t = 0; c < 8; c++) /* its taps' offsets in them (or in x) */
            for (int ki = 0; ki < 3; ki++)
                for (int kj = 0; kj < 3; kj++)
                    taps[t++] = ((ptrdiff_t)c * j.hp8 + ki) * j.wp8 + kj;
    }
    j.means = means;
    j.sum = tc_pool2d_kernels_of(ctx)->sum;
    phase_job *pj = &j.pj;
    pj->h = h, pj->w = w, pj->pt = p->pt, pj->pl = p->pl, pj->sh = sh, pj->sw = sw;
    pj->hph = hph, pj->wph = wph;
    pj->take_even = tc_conv_kernels_of(ctx)->take_even;
    pj->split_even_odd = tc_conv_kernels_of(ctx)->split_even_odd;
    memset(pj->used, 1, sizeof(pj->used)); /* a row's last vector may read any phase */
    for (int i = 0; i < threads; i++)
        memset(j.slots + i * j.slot + (size_t)Cg * cstride, 0, TC_GC_SLACK * sizeof(float));
    j.items = groups * j.chunks;
    /* An odd number of Winograd groups at 2 threads: the middle one in two items of its tile
     * rows, so that each thread's static share (the pool's chunks start at items / 2) is half
     * the groups.  RegNetY-400MF's 104@28 layers (13 groups) ran 7 on one thread, 6 on the
     * other: ~10 us idle at each one's end (pool_trace.py, h47-rg). */
    int halves = 0;
    j.split = -1;
    j.halves = &halves;
    if (j.gc8_wino && threads == 2 && groups % 2 && OH >= 4) {
        j.split = groups / 2;
        j.items = groups + 1;
    }
    j.prefetch = prefetch_bytes ? (const char *)prefetch : NULL;
    j.prefetch_lines = (ptrdiff_t)((prefetch_bytes + 63) / 64);
    tc_parallel_for_dynamic(pool, j.items, 1, gc_task, &j);
}

void tc_conv_grouped_rows_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int h, int w,
                              const float *x, const float *packed, const float *bias,
                              const tc_activation *act, float *y, ptrdiff_t ldy,
                              float *workspace)
{
    int OH, OW;
    if (tc_conv2d_check(p, TC_CONV_ALGO_GROUPED) || tc_conv2d_output_hw(p, h, w, &OH, &OW) ||
        ldy < (ptrdiff_t)OH * OW)
        return;
    grouped_run(ctx, p, 1, h, w, x, packed, bias, NULL, act, y, OH, OW, ldy, NULL, NULL, 0,
                workspace);
}

/* ------------------------------------------------------------------------ */
/* Stems: bands of output rows (see stem_band_rows)                        */
/* ------------------------------------------------------------------------ */

/* A stem's bands (both paths): items are (image, band) pairs, each thread phase-copies its
 * band into its own slot of ws */
typedef struct {
    const tc_conv2d_params *p;
    const float *x;
    float *ws;
    size_t slot;  /* floats per thread */
    phase_job pj; /* the whole-image geometry; x, xp, pt, hph set per band */
    int h, w, OH, OW, rows, bands;
} stem_bands;

/* One band, once copied: its image, output rows [oh0, oh1), the phase copy xp with its
 * geometry pj, and the next band's input rows [r0, r1) of the same image (empty if none) */
typedef struct {
    phase_job pj;
    float *xp;
    int b, oh0, oh1, r0, r1;
} stem_band;

typedef struct {
    stem_bands s;
    const tc_ctx *serial; /* the caller's kernels, no pool: each band's GEMM runs on its thread */
    const float *packed, *bias, *residual;
    const tc_activation *act;
    float *y;
} stem_job;

/* The im2col packer of one band, which also prefetches (into L2) the next
 * band's input rows, a slice per packed panel: the copy of a band otherwise
 * waits on the input (the user's feed, 600 KB, evicted by the rest of the
 * network) while the GEMM before it leaves the memory idle. */
typedef struct {
    tc_im2col_b ib; /* first: the packer's own argument */
    tc_pack_b_fn pack;
    const char *pf[TC_STEM_MAX_C]; /* next band's rows in each channel, or NULL */
    size_t pf_bytes;
    int N;
} stem_b;

static void stem_pack_b(const void *varg, int k0, int kc, int n0, int nc, float *dst,
                        void *scratch, int new_k)
{
    const stem_b *sb = (const stem_b *)varg;
    sb->pack(&sb->ib, k0, kc, n0, nc, dst, scratch, new_k);
    if (!sb->pf[0])
        return;
    /* this panel's share of the lines, stateless: [n0, n0 + nc) of N */
    const size_t lines = (sb->pf_bytes + 63) / 64;
    const size_t l0 = lines * (size_t)n0 / sb->N, l1 = lines * (size_t)(n0 + nc) / sb->N;
    for (int c = 0; c < TC_STEM_MAX_C && sb->pf[c]; c++)
        for (size_t l = l0; l < l1; l++)
            __builtin_prefetch(sb->pf[c] + l * 64, 0, 2);
}

/* Output rows [oh0, oh1) of image b, phase-copied into thread tid's slot.  A band
 * of output rows [oh0, oh1) reads padded rows [oh0*sh, (oh1-1)*sh + (KH-1)*dh]: as oh0*sh is a
 * multiple of sh, the phase copy of that sub-image is a slice of the whole image's (pt
 * shifted). */
static void stem_band_at(const stem_bands *s, int tid, int b, int oh0, int oh1, stem_band *bd)
{
    const tc_conv2d_params *p = s->p;
    const int hb = (oh1 - 1 - oh0) * p->sh + (p->KH - 1) * p->dh + 1; /* padded rows read */
    bd->b = b, bd->oh0 = oh0, bd->oh1 = oh1;
    bd->xp = s->ws + (size_t)tid * s->slot;
    bd->pj = s->pj;
    bd->pj.x = s->x + (size_t)bd->b * p->C * s->h * s->w;
    bd->pj.xp = bd->xp;
    bd->pj.pt = p->pt - oh0 * p->sh;
    bd->pj.hph = (hb + p->sh - 1) / p->sh;
    phase_task(&bd->pj, 0, 0, p->C);
    bd->r0 = bd->r1 = 0;
    if (oh1 < s->OH) {
        const int r0 = oh1 * p->sh - p->pt, r1 = r0 + hb;
        bd->r0 = r0 < 0 ? 0 : r0;
        bd->r1 = r1 > s->h ? s->h : r1;
    }
}

/* Item it = (image, band) of s's bands of s->rows rows */
static void stem_band_copy(const stem_bands *s, int tid, ptrdiff_t it, stem_band *bd)
{
    const int oh0 = (int)(it % s->bands) * s->rows;
    stem_band_at(s, tid, (int)(it / s->bands), oh0,
                 oh0 + s->rows < s->OH ? oh0 + s->rows : s->OH, bd);
}

/* A stem's bands of `rows` output rows over an h x w input: geometry and per-thread slots
 * of `slot` floats in workspace (64-byte aligned) */
static void stem_bands_init(const tc_ctx *ctx, const tc_conv2d_params *p, const float *x, int h,
                            int w, int OH, int OW, int rows, float *workspace, size_t slot,
                            stem_bands *s)
{
    s->p = p, s->x = x;
    s->ws = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    s->slot = slot;
    s->h = h, s->w = w, s->OH = OH, s->OW = OW, s->rows = rows;
    s->bands = (OH + rows - 1) / rows;
    phase_job *pj = &s->pj;
    pj->h = h, pj->w = w, pj->pl = p->pl, pj->sh = p->sh, pj->sw = p->sw;
    pj->wph = (w + p->pl + p->pr + p->sw - 1) / p->sw;
    pj->take_even = tc_conv_kernels_of(ctx)->take_even;
    pj->split_even_odd = tc_conv_kernels_of(ctx)->split_even_odd;
    phase_mark_used(p, pj);
}

/* The GEMM of a copied band bd: its output rows' K planes at C, ldc floats apart */
static void stem_band_gemm(const stem_job *j, const stem_band *bd, float *C, ptrdiff_t ldc,
                           const float *residual, ptrdiff_t ldr)
{
    const stem_bands *s = &j->s;
    const tc_conv2d_params *p = s->p;
    const size_t pplane = (size_t)bd->pj.hph * bd->pj.wph;
    stem_b sb;
    memset(&sb, 0, sizeof(sb));
    sb.ib = (tc_im2col_b){bd->xp, pplane * p->sh * p->sw, pplane, bd->pj.wph, s->OW, p->KH,
                          p->KW, p->sh, p->sw, p->dh, p->dw};
    sb.pack = tc_conv_kernels_of(j->serial)->pack_b_im2col;
    sb.N = (bd->oh1 - bd->oh0) * s->OW;
    if (bd->r1 > bd->r0) {
        sb.pf_bytes = (size_t)(bd->r1 - bd->r0) * s->w * sizeof(float);
        for (int c = 0; c < p->C; c++)
            sb.pf[c] = (const char *)(bd->pj.x + ((size_t)c * s->h + bd->r0) * s->w);
    }
    tc_gemm_op op = tc_gemm_op_layer(p->K, sb.N, p->C * p->KH * p->KW, j->packed, stem_pack_b,
                                     &sb, C, ldc, j->bias, residual, ldr, j->act);
    tc_gemm_run(j->serial, &op, bd->xp + (s->slot - tc_gemm_workspace_size(NULL)));
}

static void stem_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const stem_job *j = (const stem_job *)varg;
    const stem_bands *s = &j->s;
    const size_t N = (size_t)s->OH * s->OW, out_img = (size_t)s->p->K * N;
    for (ptrdiff_t it = begin; it < end; it++) {
        stem_band bd;
        stem_band_copy(s, tid, it, &bd);
        const size_t o = bd.b * out_img + (size_t)bd.oh0 * s->OW;
        stem_band_gemm(j, &bd, j->y + o, (ptrdiff_t)N, j->residual ? j->residual + o : NULL,
                       (ptrdiff_t)N);
    }
}

/* A stem's job with the caller's kernels run serially in each band (serial: ctx's copy) */
static void stem_job_init(stem_job *j, tc_ctx *serial, const tc_ctx *ctx, const float *packed,
                          const float *bias, const float *residual, const tc_activation *act,
                          float *y)
{
    if (ctx) {
        *serial = *ctx;
        serial->pool = NULL;
    }
    memset(j, 0, sizeof(*j));
    j->serial = ctx ? serial : NULL;
    j->packed = packed, j->bias = bias, j->residual = residual, j->act = act, j->y = y;
}

/* workspace: one stem_slot_floats slot per thread */
static void stem_run(const tc_ctx *ctx, const tc_conv2d_params *p, int rows, int n, int h, int w,
                     const float *x, const float *packed, const float *bias,
                     const float *residual, const tc_activation *act, float *y, int OH, int OW,
                     float *workspace)
{
    tc_ctx serial;
    stem_job j;
    stem_job_init(&j, &serial, ctx, packed, bias, residual, act, y);
    stem_bands_init(ctx, p, x, h, w, OH, OW, rows, workspace, stem_slot_floats(p, rows, w), &j.s);
    tc_parallel_for_dynamic(ctx ? ctx->pool : NULL, (ptrdiff_t)n * j.s.bands, 1, stem_task, &j);
}

/* ------------------------------------------------------------------------ */
/* A stem and the max pool after it (tc_conv2d_maxpool_f32)                 */
/* ------------------------------------------------------------------------ */

/* SqueezeNet's stem writes 64 x 111 x 111 floats (3.2 MB, past L2) that only its 3x3/2 max
 * pool reads.  Here each thread computes bands of the stem's rows into a buffer of its own
 * (a few hundred KB, L2) and pools them there: the stem's output never goes to memory and
 * back (the stem's rows by the GEMM bands, or by the direct kernel, tc_stem_rows_f32, on
 * its own L1-sized sub-bands).  Consecutive bands of a thread share the rows their windows
 * overlap on (1 of 3 at 3x3/2): carried to the top of the buffer, not recomputed; only a
 * thread's first band computes them.  Lone layers with 32 MB written between runs (AVX2
 * emulation, 1 thread, thread CPU time, 60 alternating runs, 2026-12-02 03:57, loaded host), fused / stem then
 * pool, median and min: SqueezeNet's 3->64 3x3/2 + 3x3/2 0.54 / 0.60, ResNet's 7x7/2 pad 3
 * + 3x3/2 pad 1 0.77 / 0.85.  In SqueezeNet (one process alternating ORT and both sessions,
 * 03:38) the fused step took 0.53 / 0.65 of the two it replaces. */

/* Pooled rows per band: as many as make about TC_CP_BAND_COLS new stem outputs.  Half the
 * stem's own bands (TC_STEM_BAND_COLS): SqueezeNet's buffer 195 KB, not 312 KB.  In the model
 * (AVX2 emulation, 1 thread, one process alternating both builds, 3 x 80 runs, 04:25, quiet
 * host): the fused step 1.01-1.04 of its time with 1024 (an A/A of one build: 1.02), the
 * fire module after it 0.89-0.95 (its expand3x3), the sum of the step medians 0.96-0.98
 * (A/A: 1.00).  256 against 512 (04:29, same method): the fused step 1.03-1.04, the sum of
 * the step medians 1.005-1.019: nothing more. */
#define TC_CP_BAND_COLS 512
static int cp_band_rows(const tc_pool2d_desc *q, int OW)
{
    const int r = (TC_CP_BAND_COLS + q->sh * OW - 1) / (q->sh * OW);
    return r < 1 ? 1 : r > q->oh ? q->oh : r;
}

/* The stem's rows [*s0, *s1) that pooled rows [r0, r1) read, clipped to [0, OH) */
static void cp_conv_rows(const tc_pool2d_desc *q, int OH, int r0, int r1, int *s0, int *s1)
{
    const int a = r0 * q->sh - q->pad_t;
    const int b = (r1 - 1) * q->sh - q->pad_t + (q->kh - 1) * q->dh + 1;
    *s0 = a < 0 ? 0 : a > OH ? OH : a;
    *s1 = b > OH ? OH : b < *s0 ? *s0 : b;
}

/* Rows of a band buffer: the most any band's pooled rows read */
static int cp_buffer_rows(const tc_pool2d_desc *q, int OH, int R)
{
    const int rows = (R - 1) * q->sh + (q->kh - 1) * q->dh + 1;
    return rows < OH ? rows : OH;
}

int tc_conv2d_maxpool_check(const tc_conv2d_params *p, int algo, const tc_pool2d_desc *q, int h,
                            int w)
{
    int OH, OW;
    if (!q || tc_conv2d_check(p, algo) || tc_conv2d_output_hw(p, h, w, &OH, &OW) ||
        !(stem_band_rows(p, algo, OW) || algo == TC_CONV_ALGO_STEM))
        return -1;
    tc_pool2d_desc d = *q;
    d.nc = 1, d.h = OH, d.w = OW;
    return tc_pool2d_check(&d) || d.oh < 1 || d.ow < 1 ? -1 : 0;
}

/* Floats of a thread's band buffer: K planes of cp_buffer_rows x OW, a multiple of 16 */
static size_t cp_buffer_floats(const tc_conv2d_params *p, const tc_pool2d_desc *q, int OH, int OW)
{
    return ((size_t)p->K * cp_buffer_rows(q, OH, cp_band_rows(q, OW)) * OW + 15) / 16 * 16;
}

/* Floats of a thread's stem slot: the GEMM band's (stem_slot_floats) or the direct stem's
 * (tc_stem_rows_f32's workspace, which aligns its own start), a multiple of 16 */
static size_t cp_stem_slot(const tc_conv2d_params *p, int algo, int rows, int h, int w)
{
    if (algo == TC_CONV_ALGO_STEM)
        return (tc_stem_rows_workspace_size(p, h, w) + 15) / 16 * 16;
    return stem_slot_floats(p, rows, w);
}

size_t tc_conv2d_maxpool_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                                        const tc_pool2d_desc *q, int h, int w)
{
    int OH, OW;
    if (tc_conv2d_maxpool_check(p, algo, q, h, w) || tc_conv2d_output_hw(p, h, w, &OH, &OW))
        return 0;
    const int rows = cp_buffer_rows(q, OH, cp_band_rows(q, OW));
    return (size_t)tc_pool_size(ctx ? ctx->pool : NULL) *
               (cp_stem_slot(p, algo, rows, h, w) + cp_buffer_floats(p, q, OH, OW)) + 16;
}

typedef struct {
    stem_job sj; /* the stem's geometry and GEMM (its s.rows: the buffer's rows) */
    const tc_pool2d_desc *q;
    void (*max_plane)(const tc_pool2d_desc *d, const float *x, float *y);
    int R, bands, threads;
    int direct; /* the direct stem (tc_stem_rows_f32 in the thread's slot), not the GEMM */
    size_t buf; /* floats of a thread's buffer; the buffers follow every thread's stem slot */
} cp_job;

/* items = (image, band of R pooled rows); each thread one contiguous range (tc_parallel_for),
 * so that a band finds the rows it shares with the one before in its buffer */
static void cp_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const cp_job *j = (const cp_job *)varg;
    const stem_bands *s = &j->sj.s;
    const tc_pool2d_desc *q = j->q;
    const int K = s->p->K, OW = s->OW, PH = q->oh, PW = q->ow;
    const ptrdiff_t ld = (ptrdiff_t)s->rows * OW; /* plane stride of the buffer */
    float *buf = s->ws + (size_t)j->threads * s->slot + (size_t)tid * j->buf;
    int held_b = -1, held0 = 0, held1 = 0; /* the buffer holds rows [held0, held1) of image held_b */
    for (ptrdiff_t it = begin; it < end; it++) {
        const int b = (int)(it / j->bands), r0 = (int)(it % j->bands) * j->R;
        const int r1 = r0 + j->R < PH ? r0 + j->R : PH;
        float *y = j->sj.y + ((size_t)b * K * PH + r0) * PW;
        int s0, s1;
        cp_conv_rows(q, s->OH, r0, r1, &s0, &s1);
        if (s1 <= s0) { /* every window in the padding: onnxruntime's value */
            for (int k = 0; k < K; k++)
                for (ptrdiff_t i = 0; i < (ptrdiff_t)(r1 - r0) * PW; i++)
                    y[(size_t)k * PH * PW + i] = -FLT_MAX;
            held_b = -1;
            continue;
        }
        int c0 = s0; /* rows [s0, c0) carried from the band before */
        if (held_b == b && held0 <= s0 && s0 < held1) {
            c0 = held1;
            if (s0 > held0)
                for (int k = 0; k < K; k++)
                    memmove(buf + k * ld, buf + k * ld + (ptrdiff_t)(s0 - held0) * OW,
                            (size_t)(held1 - s0) * OW * sizeof(float));
        }
        if (s1 > c0 && j->direct) {
            const tc_conv2d_params *p = s->p;
            tc_stem_rows_f32(j->sj.serial, p, s->h, s->w, s->x + (size_t)b * p->C * s->h * s->w,
                             c0, s1, j->sj.packed, j->sj.bias, j->sj.act,
                             buf + (ptrdiff_t)(c0 - s0) * OW, ld, s->ws + (size_t)tid * s->slot);
        } else if (s1 > c0) {
            stem_band bd;
            stem_band_at(s, tid, b, c0, s1, &bd);
            stem_band_gemm(&j->sj, &bd, buf + (ptrdiff_t)(c0 - s0) * OW, ld, NULL, 0);
        }
        held_b = b, held0 = s0, held1 = s1;
        tc_pool2d_desc d = *q;
        d.nc = 1, d.h = s1 - s0, d.w = OW, d.oh = r1 - r0, d.ow = PW;
        d.pad_t = s0 - (r0 * q->sh - q->pad_t), d.pad_b = 0; /* max: windows clipped to h */
        for (int k = 0; k < K; k++)
            j->max_plane(&d, buf + k * ld, y + (size_t)k * PH * PW);
    }
}

int tc_conv2d_maxpool_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                          const tc_pool2d_desc *q, int n, int h, int w, const float *x,
                          const float *packed, const float *bias, const tc_activation *act,
                          float *y, float *workspace)
{
    int OH, OW;
    if (n < 1 || tc_conv2d_maxpool_check(p, algo, q, h, w) || tc_activation_check(act) ||
        tc_conv2d_output_hw(p, h, w, &OH, &OW))
        return -1;
    tc_ctx serial;
    cp_job j;
    memset(&j, 0, sizeof(j));
    stem_job_init(&j.sj, &serial, ctx, packed, bias, NULL, act, y);
    j.q = q;
    j.max_plane = tc_pool2d_kernels_of(ctx)->max_plane;
    j.R = cp_band_rows(q, OW);
    j.bands = (q->oh + j.R - 1) / j.R;
    j.buf = cp_buffer_floats(p, q, OH, OW);
    j.threads = tc_pool_size(ctx ? ctx->pool : NULL);
    j.direct = algo == TC_CONV_ALGO_STEM;
    const int rows = cp_buffer_rows(q, OH, j.R);
    stem_bands_init(ctx, p, x, h, w, OH, OW, rows, workspace, cp_stem_slot(p, algo, rows, h, w),
                    &j.sj.s);
    tc_parallel_for(ctx ? ctx->pool : NULL, (ptrdiff_t)n * j.bands, 1, cp_task, &j);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Direct stems (TC_CONV_ALGO_STEM)                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    stem_bands s;
    const float *packed, *bias, *residual;
    const tc_activation *act;
    float *y;
    tc_stem_band_fn band;
    /* tap t of output (r, c): in plane planes[t] of the band's (channel c * sh * sw + phase),
     * at r * wph + c + inplane[t] */
    int planes[TC_STEM_MAX_TAPS];
    ptrdiff_t inplane[TC_STEM_MAX_TAPS];
    int ntaps;
} stem_direct_job;

/* Output rows [bd->oh0, bd->oh1) of copied band bd: K planes ldy apart from y (the band's
 * first row), residual likewise or NULL */
static void stem_direct_band(const stem_direct_job *j, const stem_band *bd, float *y,
                             const float *residual, ptrdiff_t ldy)
{
    const stem_bands *s = &j->s;
    const tc_conv2d_params *p = s->p;
    ptrdiff_t offs[TC_STEM_MAX_TAPS];
    const ptrdiff_t pplane = (ptrdiff_t)bd->pj.hph * bd->pj.wph;
    for (int t = 0; t < j->ntaps; t++)
        offs[t] = j->planes[t] * pplane + j->inplane[t];
    /* the next band's input rows [r0, r1) of each channel, prefetched (into L2) a slice
     * per block of 4 output channels: the input (the user's feed, evicted by the rest
     * of the network) otherwise stalls the next band's copy.  The copy's loads still take
     * 74-78% of its samples (perf, AMD Zen 4: MobileNetV3-Small's stem in the network, and
     * alone with 32 MB written between runs), the copy a fifth of the stem's kernel time.
     * Tried and dropped (s17): the slices before each of the first half of the blocks
     * instead of after each block (the last slice otherwise has no time to arrive): the
     * copy's share unchanged (2.2% -> 2.1% of samples against the tile's 7.8%), lone stems
     * alternating with 32 MB written before each run, median of 200: 3 -> 16 HardSwish
     * 545 -> 545 us, 3 -> 32 SiLU 720 -> 703 (noise).
     * n29-cold (2026-12-04, Zen 4, AVX2): inside the networks the cold feed still cost the
     * stem 25-120 us (benchmarks/cold_steps.py: the stem with its input read just before it,
     * MobileNetV3-Large 212 -> 164 us, -Small 186 -> 161, V2's block 668 -> 597, MnasNet's
     * 700 -> 579).  A band is 3 output rows (4-5 us) here, so the next band's rows, the
     * last slice issued just before its copy, arrive late: the rows TC_STEM_PF_BANDS bands
     * ahead now (the first band: all of them up to there).  benchmarks/stem_ab.c (32 MB
     * read before each call, 300 rounds alternating, median [25-75%] of B / A; the same build
     * against itself 1.027 [0.984-1.086] and 1.052 [0.996-1.095] for the two layers): 3 -> 16
     * 1 band ahead (the rows beyond this band's) 0.983, 2 0.969, 3 0.936 [0.866-1.003],
     * 4 0.946 [0.868-1.017]; 3 -> 32 1.036, 0.979, 0.983 [0.919-1.086], 0.978 [0.902-1.046].
     * In the networks at 3 (benchmarks/steps_ab.py against the base, 60 rounds, the stem's
     * group median [25-75%], min new / old): MobileNetV3-Small 0.959 [0.833-1.028], 169 / 197
     * us; -Large 0.988 [0.921-1.059], 375 / 410; MnasNet 0.963 [0.893-1.017], 532 / 557; V2
     * 0.990 [0.921-1.072], 609 / 625; whole networks (subgraph_shapes.py, 41 rounds) 0.984 -
     * 1.002, within noise.  Bit-identical (a prefetch).
     * Tried and dropped (n30-eff1, 2026-12-04, Zen 4, AVX2 kernels, 1 thread, steps_ab.py
     * against the base, 30-40 rounds, median [25-75%]): also prefetching the stem's output
     * rows, per block of 4 channels its planes' rows of the band ahead (the K planes are more
     * store streams than the hardware follows): 2 bands ahead into L1 EfficientNet-B0's stem
     * 1.082 [1.045-1.108] (43 KB a band: L1 thrashed); 1 band ahead into L2 0.984
     * [0.940-1.013], MobileNetV3-Small's 1.025 [0.925-1.065]: noise.
     * n34-ir (2026-12-05, Intel Xeon, AVX2 kernels, 1 thread): perf (cpu-clock; no hardware
     * counters under this KVM) puts 2-4% of the banded stem block's samples on the instruction
     * after these prefetches (they wait for free fill buffers).  Fewer of them (a variant
     * TC_STEM_PF_STEP: every 2nd / 4th line / none), benchmarks/sf_ab.c (MobileNetV2's 3-32-16
     * block and V3-Large's 3-16-16 + residual, 32 MB read before each call, 300 rounds, each
     * order, geometric mean of variant / this): 1.03 / 1.03 / 1.04 and 1.02 / 1.00 / 1.01;
     * TC_STEM_PF_BANDS 2 / 4 / 6 1.016 / 1.013 / 1.008 and 1.018 / 1.024 / 1.020: every line,
     * 3 bands ahead, kept. */
    const char *pf = NULL;
    size_t pf_lines = 0;
    int r0 = 0, r1 = 0;
    if (bd->oh1 < s->OH) {
        /* TC_STEM_PF_BANDS ahead: the rows that band reads beyond the one before it (the
         * first band: the rows of all the bands up to it) */
        const int R = bd->oh1 - bd->oh0, span = (p->KH - 1) * p->dh + 1 - p->pt;
        r0 = (bd->oh0 + (bd->oh0 == 0 ? 1 : TC_STEM_PF_BANDS) * R - 1) * p->sh + span;
        r1 = (bd->oh0 + (TC_STEM_PF_BANDS + 1) * R - 1) * p->sh + span;
        r0 = r0 < 0 ? 0 : r0;
        r1 = r1 > s->h ? s->h : r1;
    }
    if (r1 > r0) {
        pf = (const char *)(bd->pj.x + (size_t)r0 * s->w);
        pf_lines = ((size_t)(r1 - r0) * s->w * sizeof(float) + 63) / 64;
    }
    const int blocks = (p->K + 3) / 4;
    for (int bk = 0; bk < blocks; bk++) {
        const int k0 = bk * 4, nk = p->K - k0 < 4 ? p->K - k0 : 4;
        tc_activation a;
        if (j->act) { /* PRelu: this block's slopes */
            a = *j->act;
            if (a.slope)
                a.slope += k0;
        }
        const size_t ok = (size_t)k0 * ldy;
        j->band(bd->xp, offs, j->ntaps, bd->pj.wph, bd->oh1 - bd->oh0, s->OW,
                j->packed + (size_t)k0 * j->ntaps, nk, j->bias ? j->bias + k0 : NULL,
                residual ? residual + ok : NULL, j->act ? &a : NULL, y + ok, ldy);
        for (int c = 0; pf && c < p->C; c++) {
            const char *pc = pf + (size_t)c * s->h * s->w * sizeof(float);
            for (size_t l = pf_lines * bk / blocks; l < pf_lines * (bk + 1) / blocks; l++)
                __builtin_prefetch(pc + l * 64, 0, 2);
        }
    }
}

/* items = (image, band) pairs (stem_band_copy) */
static void stem_direct_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const stem_direct_job *j = (const stem_direct_job *)varg;
    const stem_bands *s = &j->s;
    const size_t plane = (size_t)s->OH * s->OW, out_img = (size_t)s->p->K * plane;
    for (ptrdiff_t it = begin; it < end; it++) {
        stem_band bd;
        stem_band_copy(s, tid, it, &bd);
        const size_t o = bd.b * out_img + (size_t)bd.oh0 * s->OW;
        stem_direct_band(j, &bd, j->y + o, j->residual ? j->residual + o : NULL,
                         (ptrdiff_t)plane);
    }
}

/* j for a direct stem over x (h x w images), `threads` slots of workspace (64-byte aligned) */
static void stem_direct_init(stem_direct_job *j, const tc_ctx *ctx, const tc_conv2d_params *p,
                             int h, int w, const float *x, const float *packed, const float *bias,
                             const float *residual, const tc_activation *act, float *y, int OH,
                             int OW, float *workspace, int threads)
{
    memset(j, 0, sizeof(*j));
    j->packed = packed, j->bias = bias, j->residual = residual, j->act = act, j->y = y;
    const int rows = stem_direct_rows(p, w, OH);
    stem_bands_init(ctx, p, x, h, w, OH, OW, rows, workspace, stem_direct_slot(p, rows, w), &j->s);
    j->band = tc_conv_kernels_of(ctx)->stem_band;
    phase_job *pj = &j->s.pj;
    memset(pj->used, 1, sizeof(pj->used)); /* a row's last vector may read any phase */
    /* tap (c, ki, kj) of output (r, c'): phase ((ki dh) % sh, (kj dw) % sw) of channel c, at
     * row r + ki dh / sh, column c' + kj dw / sw */
    for (int c = 0, t = 0; c < p->C; c++)
        for (int ki = 0; ki < p->KH; ki++)
            for (int kj = 0; kj < p->KW; kj++, t++) {
                j->planes[t] = c * p->sh * p->sw + (ki * p->dh % p->sh) * p->sw + kj * p->dw % p->sw;
                j->inplane[t] = (ptrdiff_t)(ki * p->dh / p->sh) * pj->wph + kj * p->dw / p->sw;
            }
    j->ntaps = p->C * p->KH * p->KW;
    /* the slack a row's last vector reads: finite, though those lanes are never stored */
    for (int i = 0; i < threads; i++)
        memset(j->s.ws + i * j->s.slot + stem_direct_planes(p, rows, w), 0,
               TC_STEM_SLACK * sizeof(float));
}

/* workspace: one stem_direct_slot per thread (64-byte aligned) */
static void stem_direct_run(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h, int w,
                            const float *x, const float *packed, const float *bias,
                            const float *residual, const tc_activation *act, float *y, int OH,
                            int OW, float *workspace)
{
    tc_pool *pool = ctx ? ctx->pool : NULL;
    stem_direct_job j;
    stem_direct_init(&j, ctx, p, h, w, x, packed, bias, residual, act, y, OH, OW, workspace,
                     tc_pool_size(pool));
    tc_parallel_for_dynamic(pool, (ptrdiff_t)n * j.s.bands, 1, stem_direct_task, &j);
}

size_t tc_stem_rows_workspace_size(const tc_conv2d_params *p, int h, int w)
{
    int OH, OW;
    if (tc_conv2d_check(p, TC_CONV_ALGO_STEM) || tc_conv2d_output_hw(p, h, w, &OH, &OW))
        return 0;
    return stem_direct_slot(p, stem_direct_rows(p, w, OH), w) + 16;
}

void tc_stem_rows_f32(const tc_ctx *serial, const tc_conv2d_params *p, int h, int w,
                      const float *x, int oh0, int oh1, const float *packed, const float *bias,
                      const tc_activation *act, float *y, ptrdiff_t ldy, float *workspace)
{
    int OH, OW;
    if (tc_conv2d_output_hw(p, h, w, &OH, &OW))
        return;
    stem_direct_job j;
    stem_direct_init(&j, serial, p, h, w, x, packed, bias, NULL, act, NULL, OH, OW, workspace, 1);
    for (int r = oh0; r < oh1; r += j.s.rows) {
        stem_band bd;
        stem_band_at(&j.s, 0, 0, r, r + j.s.rows < oh1 ? r + j.s.rows : oh1, &bd);
        stem_direct_band(&j, &bd, y + (size_t)(r - oh0) * OW, NULL, ldy);
    }
}

/* ------------------------------------------------------------------------ */
/* Entry point                                                              */
/* ------------------------------------------------------------------------ */

/* The packed weights of one group with column k scaled by s[k] (tc_conv2d_scaled_f32):
 * a copy, so the weights packed once stay as they are and concurrent calls may share them.
 * Both 1x1 layouts are, per K block of the driver, panels [kc][width] (width MR or
 * TC_GEMM_CH), so each panel is one contiguous multiply by the block's gates spread
 * [kc][width], on the ISA's element-wise loop, threads over the panels. */
typedef struct {
    const float *src, *spread;
    float *dst;
    int K, kstep, width, panels;
    size_t mp; /* rows of a K block: panels * width */
    void (*mul)(int op, const float *a, int sa, const float *b, int sb, float *y, ptrdiff_t n);
} kscale_job;

static void kscale_task(void *arg, int tid, ptrdiff_t i0, ptrdiff_t i1)
{
    const kscale_job *j = (const kscale_job *)arg;
    (void)tid;
    for (ptrdiff_t i = i0; i < i1; i++) {
        const int k0 = (int)(i / j->panels) * j->kstep, p = (int)(i % j->panels);
        const int kc = j->K - k0 < j->kstep ? j->K - k0 : j->kstep;
        const size_t off = (size_t)k0 * j->mp + (size_t)p * kc * j->width;
        j->mul(TC_BINARY_MUL, j->src + off, 1, j->spread + (size_t)k0 * j->width, 1, j->dst + off,
               (ptrdiff_t)kc * j->width);
    }
}

/* Floats scale_weights needs: the copy (64-byte aligned, as packed weights are), then the
 * gates spread over a panel's width */
static size_t scaled_weights_size(const tc_conv2d_params *p, int algo)
{
    return 16 + (group_pack_size(p, algo) + 15) / 16 * 16 + (size_t)(p->C / p->group) * TC_GEMM_CH;
}

/* The gates of a 1x1 layer (tc_conv2d_scaled_f32) folded into a copy of its K x C weights
 * where that costs less than scaling its C x N input: K <= N / 2 per group (the rule ops/conv.py
 * _folds_gate measured, 2026-12-01); elsewhere B's rows are scaled, in the GEMM driver's aligned
 * copy of B where it makes one (7x7 maps on AVX2), else in a scaled copy of x, which is what the
 * element-wise Mul before the layer computed: the same bits as that Mul. */
static int scale_weights_pays(const tc_conv2d_params *p, int N)
{
    return 2 * (p->K / p->group) <= N;
}

static const float *scale_weights(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                                  const float *packed, const float *s, float *ws)
{
    const int Kg = p->K / p->group, kdim = p->C / p->group;
    const int width = algo == TC_CONV_ALGO_1X1_CHAN ? TC_GEMM_CH : MR;
    float *dst = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
    float *spread = dst + (group_pack_size(p, algo) + 15) / 16 * 16;
    for (int k = 0; k < kdim; k++)
        for (int i = 0; i < width; i++)
            spread[(size_t)k * width + i] = s[k];
    kscale_job j = {packed, spread, dst, kdim, tc_gemm_kstep(kdim), width,
                    (Kg + width - 1) / width, 0, tc_eltwise_kernels_of(ctx)->binary_run};
    j.mp = (size_t)j.panels * width;
    const ptrdiff_t tasks = (ptrdiff_t)((kdim + j.kstep - 1) / j.kstep) * j.panels;
    tc_parallel_for_dynamic(ctx ? ctx->pool : NULL, tasks, 16384 / ((ptrdiff_t)j.kstep * width) + 1,
                            kscale_task, &j);
    return dst;
}

/* x: [N, C, H, W]  packed: tc_conv2d_pack_f32  bias: [K] or NULL
 * residual: [N, K, OH, OW] or NULL (may be y)  y: [N, K, OH, OW]
 * scale: [N, C] or NULL (1X1 and 1X1_CHAN only): x's channels scaled per image; workspace
 * then tc_conv2d_scaled_workspace_size
 * ldy: floats from one plane of y to the next (image to image: K * ldy); 0 for OH * OW.
 * Only the 1X1 GEMMs take another (their C's ldc); their callers check it. */
static void conv2d_run(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h, int w,
                       const float *x, const float *scale, const float *packed, const float *bias,
                       const float *residual, const tc_activation *act, float *y, float *means,
                       ptrdiff_t ldy, float *workspace)
{
    int OH, OW, r, tile = tc_wg_tile(algo, &r);
    if (n <= 0 || tc_conv2d_check(p, algo) || tc_conv2d_output_hw(p, h, w, &OH, &OW) ||
        tc_activation_check(act))
        return;
    if (tile) {
        tc_wg_f32(ctx, x, n, p->C, h, w, packed, bias, p->K, p->pt, p->pl, p->pb, p->pr, r, tile,
                  act, residual, y, workspace);
        return;
    }
    if (algo == TC_CONV_ALGO_REFERENCE) {
        conv2d_reference(p, n, h, w, x, packed, bias, residual, act, y);
        return;
    }
    tc_pool *pool = ctx ? ctx->pool : NULL;
    const size_t in_img = (size_t)p->C * h * w, out_img = (size_t)p->K * OH * OW;

    if (algo == TC_CONV_ALGO_DEPTHWISE) {
        memset(workspace, 0, (size_t)w * sizeof(float));
        const tc_conv_kernels *kern = tc_conv_kernels_of(ctx);
        dw_job j = {p, x, packed, bias, residual, workspace, y, h, w, OH, OW, act,
                    kern->dw_pick(p, h, w, OH, OW),
                    p->K == p->C && kern->dw_block_pick ? kern->dw_block_pick(p, h, w, OH, OW) : NULL,
                    means, tc_pool2d_kernels_of(ctx)->sum};
        if (x == y && !residual && dw_in_place(p, h, w, OH, OW)) {
            j.pick = kern->dw_pick;
            j.stage = (float *)(((uintptr_t)(workspace + w) + 63) & ~(uintptr_t)63);
            tc_parallel_for_dynamic(pool, (ptrdiff_t)n * p->K, 1, dw_inplace_task, &j);
        } else if (j.block) {
            tc_parallel_for_dynamic(pool, (ptrdiff_t)n * ((p->K + TC_DW_BLOCK - 1) / TC_DW_BLOCK), 1,
                                    dw_block_task, &j);
        } else if ((j.band_rows = dw_band_rows(pool, OH, OW, means)) > 0) {
            j.bands = (OH + j.band_rows - 1) / j.band_rows;
            j.pick = kern->dw_pick;
            tc_parallel_for_dynamic(pool, (ptrdiff_t)n * j.bands * p->K, 1, dw_band_task, &j);
        } else {
            tc_parallel_for_dynamic(pool, (ptrdiff_t)n * p->K, 1, dw_task, &j);
        }
        return;
    }
    if (algo == TC_CONV_ALGO_GROUPED) {
        grouped_run(ctx, p, n, h, w, x, packed, bias, residual, act, y, OH, OW,
                    (ptrdiff_t)OH * OW, means, NULL, 0, workspace);
        return;
    }

    if (algo == TC_CONV_ALGO_STEM) {
        stem_direct_run(ctx, p, n, h, w, x, packed, bias, residual, act, y, OH, OW, workspace);
        return;
    }
    const int rows = stem_band_rows(p, algo, OW);
    if (rows) {
        stem_run(ctx, p, rows, n, h, w, x, packed, bias, residual, act, y, OH, OW, workspace);
        return;
    }
    const int Cg = p->C / p->group, Kg = p->K / p->group;
    const int N = OH * OW, kdim = Cg * p->KH * p->KW;
    const int strided1x1 = pointwise_strided(p, algo);
    const int phased = !strided1x1 && needs_phase_copy(p, algo);
    const int hp = h + p->pt + p->pb, wp = w + p->pl + p->pr;
    /* geometry of what the packer reads: phase planes, or x itself */
    const int sh = phased ? p->sh : 1, sw = phased ? p->sw : 1;
    const int hph = (hp + sh - 1) / sh, wph = (wp + sw - 1) / sw;
    const size_t pplane = (size_t)hph * wph, cstride = pplane * sh * sw;
    float *xpad = workspace;
    float *gemm_ws = phased ? workspace + (size_t)p->C * cstride
                     : strided1x1 ? workspace + (size_t)p->C * N : workspace;
    subsample_job sj = {x, xpad, h, w, OH, OW, p->sh, p->sw, tc_conv_kernels_of(ctx)->take_even};
    phase_job pj;
    memset(&pj, 0, sizeof(pj));
    if (phased) {
        pj.h = h, pj.w = w, pj.pt = p->pt, pj.pl = p->pl, pj.sh = sh, pj.sw = sw;
        pj.hph = hph, pj.wph = wph, pj.xp = xpad;
        pj.take_even = tc_conv_kernels_of(ctx)->take_even;
        pj.split_even_odd = tc_conv_kernels_of(ctx)->split_even_odd;
        phase_mark_used(p, &pj);
    }

    for (int b = 0; b < n; b++) {
        const float *xs = x + b * in_img;
        if (phased) {
            pj.x = xs;
            tc_parallel_for_dynamic(pool, p->C, 8, phase_task, &pj);
            xs = xpad;
        } else if (strided1x1) {
            sj.x = xs;
            tc_parallel_for_dynamic(pool, p->C, 8, subsample_task, &sj);
            xs = xpad;
        }
        for (int g = 0; g < p->group; g++) {
            tc_im2col_b ib;
            tc_dense_b db;
            tc_gemm_op op;
            memset(&op, 0, sizeof(op));
            op.M = Kg;
            op.N = N;
            op.K = kdim;
            op.a_packed = packed + (size_t)g * group_pack_size(p, algo);
            const float *gates = scale ? scale + (size_t)b * p->C + (size_t)g * Cg : NULL;
            if (gates && scale_weights_pays(p, N)) { /* the gates in a copy of the weights */
                op.a_packed = scale_weights(ctx, p, algo, op.a_packed, gates,
                                            workspace + tc_gemm_workspace_size(ctx));
                gates = NULL;
            }
            op.a_chan = algo == TC_CONV_ALGO_1X1_CHAN;
            if (algo == TC_CONV_ALGO_1X1 || algo == TC_CONV_ALGO_1X1_CHAN || strided1x1) {
                db.B = xs + (size_t)g * Cg * N;
                db.ldb = N;
                db.trans = 0;
                db.row_scale = gates;
                op.pack_b = tc_pack_b_rowmajor;
                op.b_arg = &db;
                if (gates && !tc_gemm_b_copied(ctx, &op)) {
                    /* x * gates first (the Mul it replaces), B read from it; else the
                     * gates scale the driver's copy of B (the same products) */
                    db.row_scale = NULL;
                    float *xg = workspace + tc_gemm_workspace_size(ctx);
                    const ptrdiff_t xs2[2] = {Cg, N}, gs2[2] = {Cg, 1};
                    tc_binary_f32(ctx, TC_BINARY_MUL, 2, xs2, db.B, xs2, gates, gs2, xg);
                    db.B = xg;
                }
            } else {
                ib.x = phased ? xs + (size_t)g * Cg * cstride : xs + (size_t)g * Cg * h * w;
                ib.cstride = phased ? cstride : (size_t)h * w;
                ib.pplane = pplane;
                ib.wp = phased ? wph : w;
                ib.OW = OW;
                ib.KH = p->KH;
                ib.KW = p->KW;
                ib.sh = sh;
                ib.sw = sw;
                ib.dh = p->dh;
                ib.dw = p->dw;
                op.pack_b = tc_conv_kernels_of(ctx)->pack_b_im2col;
                op.b_arg = &ib;
            }
            op.ldc = ldy ? ldy : N;
            op.C = y + (b * (size_t)p->K + (size_t)g * Kg) * op.ldc;
            op.epi.bias = bias ? bias + (size_t)g * Kg : NULL;
            op.epi.residual = residual ? residual + b * out_img + (size_t)g * Kg * N : NULL;
            op.epi.ldr = N;
            if (act) {
                op.epi.act = *act;
                if (act->slope) /* this group's channels */
                    op.epi.act.slope += (size_t)g * Kg;
            }
            tc_gemm_run(ctx, &op, gemm_ws);
        }
    }
}

void tc_conv2d_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h, int w,
                   const float *x, const float *packed, const float *bias, const float *residual,
                   const tc_activation *act, float *y, float *workspace)
{
    conv2d_run(ctx, p, algo, n, h, w, x, NULL, packed, bias, residual, act, y, NULL, 0, workspace);
}

/* x .. workspace: tc_conv2d_f32's, y's planes ldy floats apart (algo 1X1 or 1X1_CHAN) */
int tc_conv2d_strided_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h,
                          int w, const float *x, const float *packed, const float *bias,
                          const float *residual, const tc_activation *act, float *y,
                          ptrdiff_t ldy, float *workspace)
{
    int OH, OW;
    if ((algo != TC_CONV_ALGO_1X1 && algo != TC_CONV_ALGO_1X1_CHAN) || n <= 0 ||
        tc_conv2d_check(p, algo) || tc_conv2d_output_hw(p, h, w, &OH, &OW) ||
        tc_activation_check(act) || ldy < (ptrdiff_t)OH * OW)
        return -1;
    conv2d_run(ctx, p, algo, n, h, w, x, NULL, packed, bias, residual, act, y, NULL, ldy,
               workspace);
    return 0;
}

/* x .. workspace: tc_conv2d_f32's (algo TC_CONV_ALGO_DEPTHWISE or GROUPED)  means: [N, K]
 * prefetch: NULL or [prefetch_bytes], read by the grouped kernel's tasks only as hints */
int tc_conv2d_means_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h, int w,
                        const float *x, const float *packed, const float *bias, const float *residual,
                        const tc_activation *act, float *y, float *means, const void *prefetch,
                        size_t prefetch_bytes, float *workspace)
{
    int OH, OW;
    if ((algo != TC_CONV_ALGO_DEPTHWISE && algo != TC_CONV_ALGO_GROUPED) || !means || n <= 0 ||
        tc_conv2d_check(p, algo) ||
        tc_conv2d_output_hw(p, h, w, &OH, &OW) || tc_activation_check(act))
        return -1;
    if (algo == TC_CONV_ALGO_GROUPED)
        grouped_run(ctx, p, n, h, w, x, packed, bias, residual, act, y, OH, OW,
                    (ptrdiff_t)OH * OW, means, prefetch, prefetch ? prefetch_bytes : 0, workspace);
    else
        conv2d_run(ctx, p, algo, n, h, w, x, NULL, packed, bias, residual, act, y, means, 0,
                   workspace);
    return 0;
}

size_t tc_conv2d_scaled_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                                       int n, int h, int w)
{
    if (algo != TC_CONV_ALGO_1X1 && algo != TC_CONV_ALGO_1X1_CHAN)
        return 0;
    const size_t ws = tc_conv2d_workspace_size(ctx, p, algo, n, h, w);
    const size_t xg = (size_t)(p->C / p->group) * h * w; /* a group's scaled copy of x */
    const size_t sw = scaled_weights_size(p, algo);
    return ws ? ws + (sw > xg ? sw : xg) : 0;
}

int tc_conv2d_scaled_mode(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int h, int w)
{
    int OH, OW;
    if ((algo != TC_CONV_ALGO_1X1 && algo != TC_CONV_ALGO_1X1_CHAN) || tc_conv2d_check(p, algo) ||
        tc_conv2d_output_hw(p, h, w, &OH, &OW))
        return -1;
    const int N = OH * OW;
    if (scale_weights_pays(p, N))
        return TC_SCALED_WEIGHTS;
    /* conv2d_run's GEMM of one group, as far as tc_gemm_b_copied looks */
    const float one = 1.0f;
    tc_dense_b db = {&one, N, 0, &one};
    tc_gemm_op op;
    memset(&op, 0, sizeof(op));
    op.M = p->K / p->group;
    op.N = N;
    op.K = p->C / p->group;
    op.a_chan = algo == TC_CONV_ALGO_1X1_CHAN;
    op.pack_b = tc_pack_b_rowmajor;
    op.b_arg = &db;
    return tc_gemm_b_copied(ctx, &op) ? TC_SCALED_B_COPY : TC_SCALED_X_COPY;
}

/* x: [N, C, H, W]  scale: [N, C]  the rest as tc_conv2d_f32's: per image (and group), where
 * the weights are the smaller (scale_weights_pays) the packed weights' columns (input
 * channels) scaled by the image's gates into workspace, then the GEMM on x itself, so x *
 * scale is never written: (W diag(g)) x rounds differently from W (g x), within an ulp or so
 * of each product.  Elsewhere x's rows scaled (the products g x, as an element-wise Mul
 * before the layer gives them, so the same bits as that Mul and the layer): in the GEMM
 * driver's aligned copy of each K block where it makes one (tc_gemm_b_copied: 7x7 maps on
 * AVX2), else into a copy in workspace. */
int tc_conv2d_scaled_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h,
                         int w, const float *x, const float *scale, const float *packed,
                         const float *bias, const float *residual, const tc_activation *act,
                         float *y, float *workspace)
{
    int OH, OW;
    if ((algo != TC_CONV_ALGO_1X1 && algo != TC_CONV_ALGO_1X1_CHAN) || !scale || n <= 0 ||
        tc_conv2d_check(p, algo) || tc_conv2d_output_hw(p, h, w, &OH, &OW) ||
        tc_activation_check(act))
        return -1;
    conv2d_run(ctx, p, algo, n, h, w, x, scale, packed, bias, residual, act, y, NULL, 0, workspace);
    return 0;
}
