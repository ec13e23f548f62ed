/* The col2im loop of the transposed convolution, written once and compiled twice:
 * by conv_transpose.c (any CPU) and conv_transpose_avx2.c (-mavx2 -mfma).  No
 * contraction under -std=c99: both give identical results. */
#ifndef TC_CONV_TRANSPOSE_IMPL_H
#define TC_CONV_TRANSPOSE_IMPL_H
#include "epilogue.h"

/* y[ix * kw + kx] = act(bias + src[kx * plane + ix]) for ix < w, kx < kw: kw input rows
 * interleaved into one output row.  Each compilation may define its own (AVX2: kw == 2
 * with unpack instructions) before including this file; the plain loop otherwise. */
static inline void conv_transpose_interleave_(const float *restrict src, ptrdiff_t plane, int kw, int w,
                                              float bias, int act, float *restrict y)
{
    for (int kx = 0; kx < kw; kx++) {
        const float *restrict s = src + kx * plane;
        for (int ix = 0; ix < w; ix++) {
            float v = bias + s[ix];
            y[ix * kw + kx] = tc_act_f32(tc_act_of(act), v);
        }
    }
}
#ifndef CONV_TRANSPOSE_INTERLEAVE
#define CONV_TRANSPOSE_INTERLEAVE conv_transpose_interleave_
#endif

/* Adds one tap plane's input row src (w pixels) into output row y at stride sw from off:
 * ox = ix * sw + off for the ix landing in [0, ow) (a scatter without conflicts: the row
 * is this thread's). */
static inline void conv_transpose_add_row_(const float *restrict src, int w, int sw, int off, int ow,
                                           float *restrict y)
{
    int ix0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int ix1 = ow - off <= 0 ? 0 : (ow - off + sw - 1) / sw;
    if (ix1 > w)
        ix1 = w;
    if (sw == 1) {
        for (int ix = ix0; ix < ix1; ix++)
            y[ix + off] += src[ix];
    } else {
        for (int ix = ix0; ix < ix1; ix++)
            y[ix * sw + off] += src[ix];
    }
}

/* One output row (oz, oy) of one channel:
 *   y[ox] = act(bias + sum over taps (kz, ky, kx) and input pixels (iz, iy, ix) landing
 *           on (oz, oy, ox) of cols[kz][ky][kx][iz][iy][ix])
 * cols: this channel's [KD, KH, KW, D, H, W] block of the GEMM's result.  Each tap's input
 * row is added at its stride into the row, then the activation is applied while the row
 * is in cache. */
static void conv_transpose_row_(const tc_conv2d_params *p, const tc_conv_depth *dp, int d, int h, int w, int ow,
                                int oz, int oy, const float *cols, float bias, int act, float *restrict y)
{
    const ptrdiff_t plane = (ptrdiff_t)h * w, vol = plane * d, taps2 = (ptrdiff_t)p->KH * p->KW;
    /* the depth taps that reach plane oz: at most one when they do not overlap (KD <= sd, as
     * in every 2-D case) */
    int kz_one = -1, iz_one = 0, n_kz = 0;
    for (int kz = 0; kz < dp->KD; kz++) {
        const int t = oz + dp->pf - kz * dp->dd;
        if (t >= 0 && t % dp->sd == 0 && t / dp->sd < d) {
            n_kz++;
            kz_one = kz;
            iz_one = t / dp->sd;
        }
    }
    if (n_kz == 1 && p->KH == p->sh && p->KW == p->sw && p->dh == 1 && p->dw == 1 && p->pl == 0 &&
        ow == w * p->sw) {
        /* The taps tile the row (DBNet's 2x2/2): one tap per pixel, a single store. */
        const int t = oy + p->pt, ky = t % p->sh, iy = t / p->sh;
        if (iy < h) {
            const float *src = cols + ((ptrdiff_t)kz_one * taps2 + (ptrdiff_t)ky * p->KW) * vol +
                               (ptrdiff_t)iz_one * plane + (ptrdiff_t)iy * w;
            CONV_TRANSPOSE_INTERLEAVE(src, vol, p->KW, w, bias, act, y);
            return;
        }
    }
    for (int ox = 0; ox < ow; ox++)
        y[ox] = bias;
    for (int kz = 0; kz < dp->KD && n_kz; kz++) {
        const int tz = oz + dp->pf - kz * dp->dd;
        if (tz < 0 || tz % dp->sd || tz / dp->sd >= d)
            continue;
        const float *cz = cols + (ptrdiff_t)kz * taps2 * vol + (ptrdiff_t)(tz / dp->sd) * plane;
        for (int ky = 0; ky < p->KH; ky++) {
            const int t = oy + p->pt - ky * p->dh;
            if (t < 0 || t % p->sh || t / p->sh >= h)
                continue;
            const int iy = t / p->sh;
            for (int kx = 0; kx < p->KW; kx++)
                conv_transpose_add_row_(cz + ((ptrdiff_t)ky * p->KW + kx) * vol + (ptrdiff_t)iy * w, w, p->sw,
                                        kx * p->dw - p->pl, ow, y);
        }
    }
    if (act != TC_ACT_NONE)
        for (int ox = 0; ox < ow; ox++)
            y[ox] = tc_act_f32(tc_act_of(act), y[ox]);
}

/* The direct path of a transposed convolution whose taps tile the output (KH, KW = strides,
 * no pads, dilation 1, 2-D) and whose group has few GEMM rows M = K/g * KH * KW <=
 * TC_CONVT_DIRECT_M (DBNet's 64 -> 1 head: M = 4): the GEMM would pack all of x to fill a
 * micro-kernel with few rows; here a run of up to CHUNK_PX pixels of an input row gets its
 * M sums over the channels (each channel's run read in one sequential pass: a few pixels
 * of every channel at a time would keep too many memory streams open), and they go
 * straight to the output rows they tile.
 *   x: the group's [C/g, H, W] (channel stride plane)   wt: [C/g, M] (the weights as given)
 *   y: the group's [K/g, OH, OW] (channel stride out_plane); input rows [iy0, iy1). */
#define CHUNK_PX 256

static inline void conv_transpose_tile_sums_(int M, int cg, int n, const float *restrict x, ptrdiff_t plane,
                                             const float *restrict wt, float acc[][CHUNK_PX])
{
    for (int m = 0; m < M; m++)
        for (int j = 0; j < n; j++)
            acc[m][j] = 0.0f;
    for (int c = 0; c < cg; c++) {
        const float *restrict xs = x + c * plane;
        const float *restrict wc = wt + c * M;
        for (int j = 0; j < n; j++) {
            const float v = xs[j];
            for (int m = 0; m < M; m++)
                acc[m][j] += wc[m] * v;
        }
    }
}

static void conv_transpose_tile_rows_(const tc_conv2d_params *p, int M, int cg, int w, int iy0, int iy1,
                                      const float *x, ptrdiff_t plane, const float *wt, const float *bias, int act,
                                      float *y, ptrdiff_t out_plane, int ow)
{
    const int taps = p->KH * p->KW, kg = M / taps;
    float acc[TC_CONVT_DIRECT_M][CHUNK_PX];
    for (int iy = iy0; iy < iy1; iy++)
        for (int ix0 = 0; ix0 < w; ix0 += CHUNK_PX) {
            const int n = w - ix0 < CHUNK_PX ? w - ix0 : CHUNK_PX;
            const float *xb = x + (ptrdiff_t)iy * w + ix0;
            switch (M) { /* M known to the compiler: its loop unrolled inside the vector one */
            case 1: conv_transpose_tile_sums_(1, cg, n, xb, plane, wt, acc); break;
            case 2: conv_transpose_tile_sums_(2, cg, n, xb, plane, wt, acc); break;
            case 4: conv_transpose_tile_sums_(4, cg, n, xb, plane, wt, acc); break;
            case 8: conv_transpose_tile_sums_(8, cg, n, xb, plane, wt, acc); break;
            default: conv_transpose_tile_sums_(M, cg, n, xb, plane, wt, acc); break;
            }
            for (int k = 0; k < kg; k++)
                for (int ky = 0; ky < p->KH; ky++)
                    CONV_TRANSPOSE_INTERLEAVE(acc[k * taps + ky * p->KW], CHUNK_PX, p->KW, n, bias ? bias[k] : 0.0f,
                                              act, y + k * out_plane + ((ptrdiff_t)iy * p->sh + ky) * ow +
                                                       (ptrdiff_t)ix0 * p->sw);
        }
}
#undef CHUNK_PX

#endif
