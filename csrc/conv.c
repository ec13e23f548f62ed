/* 2-D convolution, NCHW float32: the reference, and the planned fast paths.
 *
 *   gemm:      y_g[Kg, OH*OW] = W_g[Kg, Cg*KH*KW] . im2col(x_g); the im2col is
 *              folded into the B packing of the GEMM (a KC x NC block at a
 *              time, from a zero-padded copy of the input so the gather needs
 *              no bounds checks).
 *   1x1:       1x1 stride 1 no pad: B is the input itself, [C, H*W].
 *   depthwise: one input channel per output channel: a direct kernel.
 * Weights are packed once (tc_conv2d_pack_f32); the algorithm is chosen once.
 */
#include <stdint.h>
#include <string.h>
#include "conv_internal.h"
#include "gemm_internal.h"

#define TC_DW_FN tc_conv_dw_plane_portable
#include "conv_dw_body.h"
#undef TC_DW_FN

int tc_conv2d_output_hw(const tc_conv2d_params *p, int h, int w, int *oh, int *ow)
{
    if (p->C <= 0 || p->K <= 0 || p->KH <= 0 || p->KW <= 0 || p->sh <= 0 || p->sw <= 0 ||
        p->dh <= 0 || p->dw <= 0 || p->group <= 0 || p->C % p->group || p->K % p->group ||
        p->pt < 0 || p->pl < 0 || p->pb < 0 || p->pr < 0 || h <= 0 || w <= 0)
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
void tc_conv2d_ref_f32(const tc_conv2d_params *p, int n, int h, int w, const float *x,
                       const float *weight, const float *bias, const float *residual, int act,
                       float *y)
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
                    if (act == TC_ACT_RELU && s < 0.0)
                        s = 0.0;
                    y[o] = (float)s;
                }
        }
}

/* ------------------------------------------------------------------------ */
/* Planning                                                                 */
/* ------------------------------------------------------------------------ */

int tc_conv2d_choose_algo(const tc_conv2d_params *p)
{
    if (p->group > 1 && p->group == p->C)
        return TC_CONV_ALGO_DEPTHWISE;
    if (p->KH == 1 && p->KW == 1 && p->sh == 1 && p->sw == 1 && !p->pt && !p->pl && !p->pb && !p->pr)
        return TC_CONV_ALGO_1X1;
    return TC_CONV_ALGO_GEMM;
}

static size_t group_pack_size(const tc_conv2d_params *p)
{
    return tc_gemm_pack_a_size(p->K / p->group, p->C / p->group * p->KH * p->KW);
}

size_t tc_conv2d_pack_size(const tc_conv2d_params *p, int algo)
{
    if (algo == TC_CONV_ALGO_DEPTHWISE)
        return (size_t)p->K * p->KH * p->KW;
    return group_pack_size(p) * p->group;
}

/* weight: [K, C/group, KH, KW]  packed: per group, A panels of [K/group, C/group*KH*KW] */
void tc_conv2d_pack_f32(const tc_conv2d_params *p, int algo, const float *weight, float *packed)
{
    if (algo == TC_CONV_ALGO_DEPTHWISE) {
        memcpy(packed, weight, tc_conv2d_pack_size(p, algo) * sizeof(float));
        return;
    }
    const int Kg = p->K / p->group, kdim = p->C / p->group * p->KH * p->KW;
    for (int g = 0; g < p->group; g++)
        tc_gemm_pack_a_f32(Kg, kdim, weight + (size_t)g * Kg * kdim, kdim, 0, 1.0f,
                           packed + (size_t)g * group_pack_size(p));
}

static int has_pad(const tc_conv2d_params *p) { return p->pt || p->pl || p->pb || p->pr; }

size_t tc_conv2d_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n,
                                int h, int w)
{
    int OH, OW;
    (void)n;
    if (tc_conv2d_output_hw(p, h, w, &OH, &OW))
        return 0;
    size_t hp = (size_t)h + p->pt + p->pb, wp = (size_t)w + p->pl + p->pr;
    if (algo == TC_CONV_ALGO_DEPTHWISE) {
        int T = ctx ? tc_pool_size(ctx->pool) : 1;
        return (size_t)T * (hp * wp + (size_t)OW + 16);
    }
    size_t ws = tc_gemm_workspace_size(ctx);
    if (algo == TC_CONV_ALGO_GEMM && has_pad(p))
        ws += (size_t)p->C * hp * wp;
    return ws;
}

/* ------------------------------------------------------------------------ */
/* Zero-padded copy of the input                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    const float *x;
    float *xp;
    int h, w, hp, wp, pt, pl;
} pad_job;

/* x: [C, h, w] -> xp: [C, hp, wp], channels [begin, end) */
static void pad_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const pad_job *j = (const pad_job *)varg;
    (void)tid;
    for (ptrdiff_t c = begin; c < end; c++) {
        const float *src = j->x + (size_t)c * j->h * j->w;
        float *dst = j->xp + (size_t)c * j->hp * j->wp;
        memset(dst, 0, (size_t)j->pt * j->wp * sizeof(float));
        for (int i = 0; i < j->h; i++) {
            float *d = dst + (size_t)(j->pt + i) * j->wp;
            memset(d, 0, (size_t)j->pl * sizeof(float));
            memcpy(d + j->pl, src + (size_t)i * j->w, (size_t)j->w * sizeof(float));
            memset(d + j->pl + j->w, 0, (size_t)(j->wp - j->pl - j->w) * sizeof(float));
        }
        size_t below = (size_t)(j->pt + j->h) * j->wp;
        memset(dst + below, 0, ((size_t)j->hp * j->wp - below) * sizeof(float));
    }
}

/* ------------------------------------------------------------------------ */
/* im2col folded into the B packing                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    const float *x; /* zero-padded input of one group: [Cg][hp][wp] */
    size_t plane;   /* hp * wp */
    int wp, OW, KH, KW, sh, sw, dh, dw;
} im2col_b;

/* dst[ceil(nc/NR)][kc][NR]: rows k = (c, ki, kj) of [k0, k0+kc), columns
 * n = (oh, ow) of [n0, n0+nc).  scratch holds each column's offset in the
 * padded plane, so a row costs one table lookup per element; panels whose 16
 * columns are consecutive in memory (stride 1, one output row) are copied. */
static void pack_b_im2col(const void *varg, int k0, int kc, int n0, int nc, float *dst,
                          void *scratch)
{
    const im2col_b *g = (const im2col_b *)varg;
    int *base = (int *)scratch;
    int *contig = base + TC_GEMM_NC;
    int oh = n0 / g->OW, ow = n0 % g->OW;
    for (int j = 0; j < nc; j++) {
        base[j] = oh * g->sh * g->wp + ow * g->sw;
        if (++ow == g->OW) {
            ow = 0;
            oh++;
        }
    }
    const int npan = (nc + NR - 1) / NR;
    for (int q = 0; q < npan; q++) {
        int j0 = q * NR;
        contig[q] = j0 + NR <= nc && base[j0 + NR - 1] - base[j0] == NR - 1;
    }
    const int khw = g->KH * g->KW;
    for (int kk = 0; kk < kc; kk++) {
        int k = k0 + kk, c = k / khw, r = k % khw, ki = r / g->KW, kj = r % g->KW;
        const float *src = g->x + c * g->plane + (size_t)ki * g->dh * g->wp + (size_t)kj * g->dw;
        float *d = dst + (size_t)kk * NR;
        for (int q = 0; q < npan; q++, d += (size_t)kc * NR) {
            const int *bq = base + q * NR;
            if (contig[q]) {
                memcpy(d, src + bq[0], NR * sizeof(float));
            } else {
                int nr = nc - q * NR < NR ? nc - q * NR : NR;
                for (int j = 0; j < nr; j++)
                    d[j] = src[bq[j]];
                for (int j = nr; j < NR; j++)
                    d[j] = 0.0f;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Depthwise                                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    const tc_conv2d_params *p;
    const float *x, *w, *bias, *residual;
    float *y, *ws;
    int h, wd, OH, OW, relu, avx2;
    size_t ws_thread;
} dw_job;

/* items = (image, output channel) pairs */
static void dw_task(void *varg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const dw_job *j = (const dw_job *)varg;
    const tc_conv2d_params *p = j->p;
    const int hp = j->h + p->pt + p->pb, wp = j->wd + p->pl + p->pr, mult = p->K / p->C;
    float *xp = j->ws + (size_t)tid * j->ws_thread;
    float *acc = xp + (size_t)hp * wp;
    for (ptrdiff_t it = begin; it < end; it++) {
        int b = (int)(it / p->K), k = (int)(it % p->K), c = k / mult;
        pad_job pj = {j->x + ((size_t)b * p->C + c) * j->h * j->wd, xp, j->h, j->wd, hp, wp, p->pt, p->pl};
        pad_task(&pj, 0, 0, 1);
        size_t o = ((size_t)b * p->K + k) * j->OH * j->OW;
        const float *res = j->residual ? j->residual + o : NULL;
        const float *wk = j->w + (size_t)k * p->KH * p->KW;
        float bias = j->bias ? j->bias[k] : 0.0f;
#ifdef TC_HAVE_AVX2_SOURCES
        if (j->avx2) {
            tc_conv_dw_plane_avx2(xp, wp, wk, p->KH, p->KW, p->sh, p->sw, p->dh, p->dw, bias, res,
                                  j->relu, j->OH, j->OW, acc, j->y + o);
            continue;
        }
#endif
        tc_conv_dw_plane_portable(xp, wp, wk, p->KH, p->KW, p->sh, p->sw, p->dh, p->dw, bias, res,
                                  j->relu, j->OH, j->OW, acc, j->y + o);
    }
}

/* ------------------------------------------------------------------------ */
/* Entry point                                                              */
/* ------------------------------------------------------------------------ */

/* x: [N, C, H, W]  packed: tc_conv2d_pack_f32  bias: [K] or NULL
 * residual: [N, K, OH, OW] or NULL (may be y)  y: [N, K, OH, OW] */
void tc_conv2d_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h, int w,
                   const float *x, const float *packed, const float *bias, const float *residual,
                   int act, float *y, float *workspace)
{
    int OH, OW;
    if (n <= 0 || tc_conv2d_output_hw(p, h, w, &OH, &OW))
        return;
    tc_pool *pool = ctx ? ctx->pool : NULL;
    const size_t in_img = (size_t)p->C * h * w, out_img = (size_t)p->K * OH * OW;

    if (algo == TC_CONV_ALGO_DEPTHWISE) {
        int hp = h + p->pt + p->pb, wp = w + p->pl + p->pr;
        dw_job j = {p, x, packed, bias, residual, y, workspace, h, w, OH, OW, act == TC_ACT_RELU,
                    ctx && ctx->isa == TC_ISA_AVX2, (size_t)hp * wp + OW + 16};
        tc_parallel_for(pool, (ptrdiff_t)n * p->K, 1, dw_task, &j);
        return;
    }

    const int Cg = p->C / p->group, Kg = p->K / p->group;
    const int N = OH * OW, kdim = Cg * p->KH * p->KW;
    const int padded = algo == TC_CONV_ALGO_GEMM && has_pad(p);
    const int hp = h + p->pt + p->pb, wp = w + p->pl + p->pr;
    float *xpad = workspace;
    float *gemm_ws = padded ? workspace + (size_t)p->C * hp * wp : workspace;

    for (int b = 0; b < n; b++) {
        const float *xs = x + b * in_img;
        if (padded) {
            pad_job pj = {xs, xpad, h, w, hp, wp, p->pt, p->pl};
            tc_parallel_for(pool, p->C, 8, pad_task, &pj);
            xs = xpad;
        }
        for (int g = 0; g < p->group; g++) {
            im2col_b ib;
            tc_dense_b db;
            tc_gemm_op op;
            memset(&op, 0, sizeof(op));
            op.M = Kg;
            op.N = N;
            op.K = kdim;
            op.a_packed = packed + (size_t)g * group_pack_size(p);
            if (algo == TC_CONV_ALGO_1X1) {
                db.B = xs + (size_t)g * Cg * h * w;
                db.ldb = (ptrdiff_t)h * w;
                db.trans = 0;
                op.pack_b = tc_pack_b_rowmajor;
                op.b_arg = &db;
            } else {
                ib.plane = (size_t)hp * wp;
                ib.x = xs + (size_t)g * Cg * ib.plane;
                ib.wp = wp;
                ib.OW = OW;
                ib.KH = p->KH;
                ib.KW = p->KW;
                ib.sh = p->sh;
                ib.sw = p->sw;
                ib.dh = p->dh;
                ib.dw = p->dw;
                op.pack_b = pack_b_im2col;
                op.b_arg = &ib;
            }
            op.C = y + b * out_img + (size_t)g * Kg * N;
            op.ldc = N;
            op.epi.bias = bias ? bias + (size_t)g * Kg : NULL;
            op.epi.residual = residual ? residual + b * out_img + (size_t)g * Kg * N : NULL;
            op.epi.ldr = N;
            op.epi.act = act;
            tc_gemm_run(ctx, &op, gemm_ws);
        }
    }
}
