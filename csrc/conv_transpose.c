/* Transposed convolution (ConvTranspose, 2-D and 3-D) as GEMM then col2im, as darknet and
 * Caffe compose it: per image and group, cols[K/g * KD * KH * KW, D * H * W] = W_g^T . x_g
 * (the packed GEMM, weights packed once), then every output row gathers its taps
 * from cols with the bias and the activation applied in that single pass.  The
 * col2im row lives in conv_transpose_impl.h, compiled here for any CPU and in
 * conv_transpose_avx2.c for AVX2. */
#include <limits.h>
#include <string.h>
#include "tinycnn.h"
#include "conv_transpose_internal.h"
#include "conv_transpose_impl.h"

const tc_conv_transpose_kernels tc_conv_transpose_portable = {conv_transpose_row_, conv_transpose_tile_rows_};

static const tc_conv_depth flat = {1, 1, 1, 0}; /* the depth axis of a 2-D convolution */

static const tc_conv_depth *depth_of(const tc_conv_depth *dp) { return dp ? dp : &flat; }

/* GEMM sizes of one group: M = K/g * KD * KH * KW rows of cols, inner dimension C/g. */
static int group_rows(const tc_conv2d_params *p, const tc_conv_depth *dp)
{
    return p->K / p->group * depth_of(dp)->KD * p->KH * p->KW;
}

static int params_ok(const tc_conv2d_params *p, const tc_conv_depth *dp)
{
    /* the geometry a GEMM convolution takes (every one) is what the transposed one takes */
    if (!p || tc_conv2d_check(p, TC_CONV_ALGO_GEMM))
        return 0;
    dp = depth_of(dp);
    return dp->KD > 0 && dp->sd > 0 && dp->dd > 0 && dp->pf >= 0 &&
           (long long)p->K / p->group * dp->KD * p->KH * p->KW <= INT_MAX;
}

/* Groups of few GEMM rows also keep the weights as given, for the direct path. */
static size_t direct_weights(const tc_conv2d_params *p, const tc_conv_depth *dp)
{
    return group_rows(p, dp) <= TC_CONVT_DIRECT_M ? (size_t)group_rows(p, dp) * p->C : 0;
}

size_t tc_conv_transpose_pack_size(const tc_conv2d_params *p, const tc_conv_depth *dp)
{
    if (!params_ok(p, dp))
        return 0;
    return tc_gemm_pack_a_size(group_rows(p, dp), p->C / p->group) * p->group + direct_weights(p, dp);
}

/* weight: [C, K/g, KD, KH, KW]: group g's rows C/g*g.. are [C/g, M] = the transpose of its A */
void tc_conv_transpose_pack_f32(const tc_conv2d_params *p, const tc_conv_depth *dp, const float *weight,
                                float *packed)
{
    if (!params_ok(p, dp))
        return;
    const int M = group_rows(p, dp), Cg = p->C / p->group;
    const size_t per_group = tc_gemm_pack_a_size(M, Cg);
    for (int g = 0; g < p->group; g++)
        tc_gemm_pack_a_f32(M, Cg, weight + (size_t)g * Cg * M, M, 1, 1.0f, packed + g * per_group);
    memcpy(packed + p->group * per_group, weight, direct_weights(p, dp) * sizeof(float));
}

size_t tc_conv_transpose_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, const tc_conv_depth *dp,
                                        int d, int h, int w)
{
    if (!params_ok(p, dp) || d < 1 || h < 1 || w < 1)
        return 0;
    return (size_t)group_rows(p, dp) * (size_t)d * h * w + tc_gemm_workspace_size(ctx);
}

int tc_conv_transpose_check(const tc_conv2d_params *p, const tc_conv_depth *dp, int d, int h, int w, int od,
                            int oh, int ow)
{
    if (!params_ok(p, dp) || d < 1 || h < 1 || w < 1 || od < 1 || oh < 1 || ow < 1 ||
        (long long)d * h * w > INT_MAX || (long long)od * oh > INT_MAX)
        return -1;
    return 0;
}

/* Rows [0, od * oh) of the K channels of one group (p->K = K/group here); channel k's rows
 * start at y + k * y_plane. */
typedef struct {
    const tc_conv2d_params *p;
    const tc_conv_depth *dp;
    int d, h, w, od, oh, ow, act;
    tc_col2im_row_fn row;
    const float *cols, *bias;
    float *y;
    ptrdiff_t y_plane;
} col2im_job;

static void col2im_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const col2im_job *jb = (const col2im_job *)arg;
    const tc_conv2d_params *p = jb->p;
    const ptrdiff_t block = (ptrdiff_t)jb->dp->KD * p->KH * p->KW * jb->d * jb->h * jb->w;
    const ptrdiff_t rows = (ptrdiff_t)jb->od * jb->oh;
    (void)tid;
    for (ptrdiff_t r = begin; r < end; r++) {
        const int k = (int)(r / rows), oz = (int)(r % rows / jb->oh), oy = (int)(r % jb->oh);
        const float b = jb->bias ? jb->bias[k] : 0.0f;
        float *y = jb->y + k * jb->y_plane + (r % rows) * jb->ow;
        jb->row(p, jb->dp, jb->d, jb->h, jb->w, jb->ow, oz, oy, jb->cols + k * block, b, jb->act, y);
    }
}

/* The taps tile a 2-D output exactly (KH x KW / KH, KW, no pads, dilation 1: DBNet's 2x2/2):
 * every output row comes from one input row, so the image can go through in slabs of input
 * rows whose GEMM result stays in cache, instead of one result as large as the output. */
static int tiles_exactly(const tc_conv2d_params *p, const tc_conv_depth *dp, int d, int h, int w, int od, int oh,
                         int ow)
{
    return dp->KD == 1 && d == 1 && od == 1 && !dp->pf && p->KH == p->sh && p->KW == p->sw && p->dh == 1 &&
           p->dw == 1 && !p->pt && !p->pl && !p->pb && !p->pr && oh == h * p->sh && ow == w * p->sw;
}

/* Input rows [0, h) of one group through the direct path. */
typedef struct {
    const tc_conv2d_params *p;
    int M, cg, w, act;
    tc_convt_tile_rows_fn rows;
    const float *x, *wt, *bias;
    ptrdiff_t plane, out_plane;
    int ow;
    float *y;
} direct_job;

static void direct_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const direct_job *jb = (const direct_job *)arg;
    (void)tid;
    jb->rows(jb->p, jb->M, jb->cg, jb->w, (int)begin, (int)end, jb->x, jb->plane, jb->wt, jb->bias, jb->act, jb->y,
             jb->out_plane, jb->ow);
}

#define SLAB_BYTES (1 << 20) /* GEMM results per slab: about L2-sized */

static void col2im(const tc_ctx *ctx, const tc_conv2d_params *p, const tc_conv_depth *dp, int d, int h, int w,
                   int od, int oh, int ow, const float *cols, const float *bias, int act, float *y,
                   ptrdiff_t y_plane)
{
    col2im_job jb = {p,  dp, d,   h,    w,    od, oh, ow, act, tc_conv_transpose_kernels_of(ctx)->col2im_row,
                     cols, bias, y, y_plane};
    ptrdiff_t row_work = (ptrdiff_t)ow * (1 + dp->KD * p->KH * p->KW / (dp->sd * p->sh * p->sw));
    ptrdiff_t grain = row_work >= (1 << 14) ? 1 : ((1 << 14) + row_work - 1) / row_work;
    tc_parallel_for(ctx ? ctx->pool : NULL, (ptrdiff_t)p->K * od * oh, grain, col2im_range, &jb);
}

void tc_conv_transpose_f32(const tc_ctx *ctx, const tc_conv2d_params *p, const tc_conv_depth *dp, int n, int d,
                           int h, int w, int od, int oh, int ow, const float *x, const float *packed,
                           const float *bias, int act, float *y, float *workspace)
{
    if (tc_conv_transpose_check(p, dp, d, h, w, od, oh, ow))
        return;
    dp = depth_of(dp);
    const int M = group_rows(p, dp), Cg = p->C / p->group, Kg = p->K / p->group;
    const ptrdiff_t vol = (ptrdiff_t)d * h * w, out_vol = (ptrdiff_t)od * oh * ow;
    const size_t per_group = tc_gemm_pack_a_size(M, Cg);
    float *cols = workspace, *gemm_ws = workspace + (size_t)M * vol;
    int slab = h;
    if (tiles_exactly(p, dp, d, h, w, od, oh, ow) && M <= TC_CONVT_DIRECT_M) {
        tc_conv2d_params pg = *p;
        pg.K = Kg;
        const ptrdiff_t row_work = (ptrdiff_t)w * Cg * M;
        for (int i = 0; i < n; i++)
            for (int g = 0; g < p->group; g++) {
                direct_job jb = {&pg, M, Cg, w, act, tc_conv_transpose_kernels_of(ctx)->tile_rows,
                                 x + ((ptrdiff_t)i * p->C + (ptrdiff_t)g * Cg) * vol,
                                 packed + p->group * per_group + (size_t)g * Cg * M, bias ? bias + g * Kg : NULL,
                                 vol, out_vol, ow, y + ((ptrdiff_t)i * p->K + (ptrdiff_t)g * Kg) * out_vol};
                tc_parallel_for(ctx ? ctx->pool : NULL, h, row_work >= (1 << 14) ? 1 : (1 << 14) / row_work + 1,
                                direct_range, &jb);
            }
        return;
    }
    if (tiles_exactly(p, dp, d, h, w, od, oh, ow)) {
        ptrdiff_t rows = SLAB_BYTES / (ptrdiff_t)(sizeof(float) * M * w);
        slab = rows < 1 ? 1 : rows > h ? h : (int)rows;
    }
    for (int i = 0; i < n; i++) {
        const float *xi = x + (ptrdiff_t)i * p->C * vol;
        float *yi = y + (ptrdiff_t)i * p->K * out_vol;
        for (int g = 0; g < p->group; g++) {
            tc_conv2d_params pg = *p;
            pg.K = Kg;
            if (slab == h) { /* one GEMM result for the whole group */
                tc_gemm_packed_a_f32(ctx, M, (int)vol, Cg, packed + g * per_group, xi + (ptrdiff_t)g * Cg * vol,
                                     vol, cols, vol, 0, NULL, gemm_ws);
                col2im(ctx, &pg, dp, d, h, w, od, oh, ow, cols, bias ? bias + g * Kg : NULL, act,
                       yi + (ptrdiff_t)g * Kg * out_vol, out_vol);
                continue;
            }
            for (int iy0 = 0; iy0 < h; iy0 += slab) { /* 2-D, output rows [iy0 * sh, (iy0 + rows) * sh) */
                const int rows = h - iy0 < slab ? h - iy0 : slab;
                const ptrdiff_t cols_n = (ptrdiff_t)rows * w;
                tc_gemm_packed_a_f32(ctx, M, (int)cols_n, Cg, packed + g * per_group,
                                     xi + (ptrdiff_t)g * Cg * vol + (ptrdiff_t)iy0 * w, vol, cols, cols_n, 0, NULL,
                                     gemm_ws);
                col2im(ctx, &pg, dp, 1, rows, w, 1, rows * p->sh, ow, cols, bias ? bias + g * Kg : NULL, act,
                       yi + (ptrdiff_t)g * Kg * out_vol + (ptrdiff_t)iy0 * p->sh * ow, out_vol);
            }
        }
    }
}

/* Plain loops: every input pixel times every tap, added where it lands. */
void tc_conv_transpose_ref_f32(const tc_conv2d_params *p, const tc_conv_depth *dp, int n, int d, int h, int w,
                               int od, int oh, int ow, const float *x, const float *weight, const float *bias,
                               int act, float *y)
{
    if (tc_conv_transpose_check(p, dp, d, h, w, od, oh, ow))
        return;
    dp = depth_of(dp);
    const int Cg = p->C / p->group, Kg = p->K / p->group;
    const ptrdiff_t out_vol = (ptrdiff_t)od * oh * ow;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < p->K; k++)
            for (ptrdiff_t o = 0; o < out_vol; o++)
                y[((ptrdiff_t)i * p->K + k) * out_vol + o] = bias ? bias[k] : 0.0f;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < p->C; c++) {
            const int g = c / Cg;
            for (int iz = 0; iz < d; iz++)
                for (int iy = 0; iy < h; iy++)
                    for (int ix = 0; ix < w; ix++) {
                        const float v = x[((((ptrdiff_t)i * p->C + c) * d + iz) * h + iy) * w + ix];
                        for (int kk = 0; kk < Kg; kk++)
                            for (int kz = 0; kz < dp->KD; kz++)
                                for (int ky = 0; ky < p->KH; ky++)
                                    for (int kx = 0; kx < p->KW; kx++) {
                                        const int oz = iz * dp->sd + kz * dp->dd - dp->pf;
                                        const int oy = iy * p->sh + ky * p->dh - p->pt;
                                        const int ox = ix * p->sw + kx * p->dw - p->pl;
                                        if (oz < 0 || oz >= od || oy < 0 || oy >= oh || ox < 0 || ox >= ow)
                                            continue;
                                        const float wv =
                                            weight[((((ptrdiff_t)c * Kg + kk) * dp->KD + kz) * p->KH + ky) * p->KW +
                                                   kx];
                                        y[((((ptrdiff_t)i * p->K + g * Kg + kk) * od + oz) * oh + oy) * ow + ox] +=
                                            v * wv;
                                    }
                    }
        }
    for (ptrdiff_t o = 0; o < (ptrdiff_t)n * p->K * out_vol; o++)
        y[o] = tc_act_f32(tc_act_of(act), y[o]);
}
