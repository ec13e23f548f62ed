/* Transposed 2-D convolution (ConvTranspose) as GEMM then col2im, as darknet and
 * Caffe compose it: per image and group, cols[K/g * KH * KW, H * W] = W_g^T . x_g
 * (the packed GEMM, weights packed once), then every output row gathers its taps
 * from cols with the bias and the activation applied in that single pass.  The
 * col2im row lives in conv_transpose_impl.h, compiled here for any CPU and in
 * conv_transpose_avx2.c for AVX2. */
#include <string.h>
#include "tinycnn.h"
#include "conv_transpose_internal.h"
#include "conv_transpose_impl.h"

const tc_conv_transpose_kernels tc_conv_transpose_portable = {conv_transpose_row_};

/* GEMM sizes of one group: M = K/g * KH * KW rows of cols, inner dimension C/g. */
static int group_rows(const tc_conv2d_params *p) { return p->K / p->group * p->KH * p->KW; }

size_t tc_conv_transpose2d_pack_size(const tc_conv2d_params *p)
{
    return tc_gemm_pack_a_size(group_rows(p), p->C / p->group) * p->group;
}

/* weight: [C, K/g, KH, KW]: group g's rows C/g*g.. are [C/g, M] = the transpose of its A */
void tc_conv_transpose2d_pack_f32(const tc_conv2d_params *p, const float *weight, float *packed)
{
    const int M = group_rows(p), Cg = p->C / p->group;
    const size_t per_group = tc_gemm_pack_a_size(M, Cg);
    for (int g = 0; g < p->group; g++)
        tc_gemm_pack_a_f32(M, Cg, weight + (size_t)g * Cg * M, M, 1, 1.0f, packed + g * per_group);
}

size_t tc_conv_transpose2d_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int h, int w)
{
    return (size_t)group_rows(p) * (size_t)h * w + tc_gemm_workspace_size(ctx);
}

int tc_conv_transpose2d_check(const tc_conv2d_params *p, int h, int w, int oh, int ow)
{
    /* the geometry a GEMM convolution takes (every one) is what the transposed one takes */
    if (!p || tc_conv2d_check(p, TC_CONV_ALGO_GEMM) || h < 1 || w < 1 || oh < 1 || ow < 1)
        return -1;
    return 0;
}

/* Rows [0, oh) of the K channels of one group (p->K = K/group here); channel k's rows start
 * at y + k * y_plane. */
typedef struct {
    const tc_conv2d_params *p;
    int h, w, oh, ow, act;
    tc_col2im_row_fn row;
    const float *cols, *bias;
    float *y;
    ptrdiff_t y_plane;
} col2im_job;

static void col2im_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const col2im_job *jb = (const col2im_job *)arg;
    const tc_conv2d_params *p = jb->p;
    const ptrdiff_t block = (ptrdiff_t)p->KH * p->KW * jb->h * jb->w;
    (void)tid;
    for (ptrdiff_t r = begin; r < end; r++) {
        const int k = (int)(r / jb->oh), oy = (int)(r % jb->oh);
        const float b = jb->bias ? jb->bias[k] : 0.0f;
        float *y = jb->y + k * jb->y_plane + (ptrdiff_t)oy * jb->ow;
        jb->row(p, jb->h, jb->w, jb->ow, oy, jb->cols + k * block, b, jb->act, y);
    }
}

/* The taps tile the output exactly (KH x KW / KH, KW, no pads, dilation 1: DBNet's 2x2/2):
 * every output row comes from one input row, so the image can go through in slabs of input
 * rows whose GEMM result stays in cache, instead of one result as large as the output. */
static int tiles_exactly(const tc_conv2d_params *p, int h, int w, int oh, int ow)
{
    return p->KH == p->sh && p->KW == p->sw && p->dh == 1 && p->dw == 1 && !p->pt && !p->pl && !p->pb &&
           !p->pr && oh == h * p->sh && ow == w * p->sw;
}

#define SLAB_BYTES (1 << 20) /* GEMM results per slab: about L2-sized */

static void col2im(const tc_ctx *ctx, const tc_conv2d_params *p, int h, int w, int oh, int ow, const float *cols,
                   const float *bias, int act, float *y, ptrdiff_t y_plane)
{
    col2im_job jb = {p, h, w, oh, ow, act, tc_conv_transpose_kernels_of(ctx)->col2im_row, cols, bias, y, y_plane};
    ptrdiff_t row_work = (ptrdiff_t)ow * (1 + p->KH * p->KW / (p->sh * p->sw));
    ptrdiff_t grain = row_work >= (1 << 14) ? 1 : ((1 << 14) + row_work - 1) / row_work;
    tc_parallel_for(ctx ? ctx->pool : NULL, (ptrdiff_t)p->K * oh, grain, col2im_range, &jb);
}

void tc_conv_transpose2d_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h, int w, int oh, int ow,
                             const float *x, const float *packed, const float *bias, int act, float *y,
                             float *workspace)
{
    if (tc_conv_transpose2d_check(p, h, w, oh, ow))
        return;
    const int M = group_rows(p), Cg = p->C / p->group, Kg = p->K / p->group;
    const ptrdiff_t hw = (ptrdiff_t)h * w, out_plane = (ptrdiff_t)oh * ow;
    const size_t per_group = tc_gemm_pack_a_size(M, Cg);
    float *cols = workspace, *gemm_ws = workspace + (size_t)M * hw;
    int slab = h;
    if (tiles_exactly(p, h, w, oh, ow)) {
        ptrdiff_t rows = SLAB_BYTES / (ptrdiff_t)(sizeof(float) * M * w);
        slab = rows < 1 ? 1 : rows > h ? h : (int)rows;
    }
    for (int i = 0; i < n; i++) {
        const float *xi = x + (ptrdiff_t)i * p->C * hw;
        float *yi = y + (ptrdiff_t)i * p->K * out_plane;
        for (int g = 0; g < p->group; g++) {
            for (int iy0 = 0; iy0 < h; iy0 += slab) {
                const int rows = h - iy0 < slab ? h - iy0 : slab;
                const ptrdiff_t cols_n = (ptrdiff_t)rows * w;
                tc_gemm_packed_a_f32(ctx, M, (int)cols_n, Cg, packed + g * per_group,
                                     xi + (ptrdiff_t)g * Cg * hw + (ptrdiff_t)iy0 * w, hw, cols, cols_n, 0, NULL,
                                     gemm_ws);
                /* this slab's output rows: [iy0 * sh, (iy0 + rows) * sh) of the group's channels
                 * (the whole output when not slabbed) */
                const int oy0 = slab == h ? 0 : iy0 * p->sh, orows = slab == h ? oh : rows * p->sh;
                tc_conv2d_params pg = *p;
                pg.K = Kg;
                col2im(ctx, &pg, rows, w, orows, ow, cols, bias ? bias + g * Kg : NULL, act,
                       yi + (ptrdiff_t)g * Kg * out_plane + (ptrdiff_t)oy0 * ow, out_plane);
            }
        }
    }
}

/* Plain loops: every input pixel times every tap, added where it lands. */
void tc_conv_transpose2d_ref_f32(const tc_conv2d_params *p, int n, int h, int w, int oh, int ow, const float *x,
                                 const float *weight, const float *bias, int act, float *y)
{
    if (tc_conv_transpose2d_check(p, h, w, oh, ow))
        return;
    const int Cg = p->C / p->group, Kg = p->K / p->group;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < p->K; k++)
            for (ptrdiff_t o = 0; o < (ptrdiff_t)oh * ow; o++)
                y[((ptrdiff_t)i * p->K + k) * oh * ow + o] = bias ? bias[k] : 0.0f;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < p->C; c++) {
            const int g = c / Cg;
            for (int iy = 0; iy < h; iy++)
                for (int ix = 0; ix < w; ix++) {
                    const float v = x[(((ptrdiff_t)i * p->C + c) * h + iy) * w + ix];
                    for (int kk = 0; kk < Kg; kk++)
                        for (int ky = 0; ky < p->KH; ky++)
                            for (int kx = 0; kx < p->KW; kx++) {
                                const int oy = iy * p->sh + ky * p->dh - p->pt;
                                const int ox = ix * p->sw + kx * p->dw - p->pl;
                                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow)
                                    continue;
                                const float wv = weight[(((ptrdiff_t)c * Kg + kk) * p->KH + ky) * p->KW + kx];
                                y[(((ptrdiff_t)i * p->K + g * Kg + kk) * oh + oy) * ow + ox] += v * wv;
                            }
                }
        }
    for (ptrdiff_t o = 0; o < (ptrdiff_t)n * p->K * oh * ow; o++)
        y[o] = tc_act_f32(tc_act_of(act), y[o]);
}
