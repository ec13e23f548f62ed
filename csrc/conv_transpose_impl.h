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

/* One output row of one channel:
 *   y[ox] = act(bias + sum over taps (ky, kx) and input pixels (iy, ix) with
 *           iy * sh + ky * dh - pt == oy and ix * sw + kx * dw - pl == ox of cols[ky][kx][iy][ix])
 * cols: this channel's [KH, KW, H, W] block of the GEMM's result.  Each tap's input row
 * is added at its stride into the row (a scatter without conflicts: the row is this
 * thread's), then the activation is applied while the row is in cache. */
static void conv_transpose_row_(const tc_conv2d_params *p, int h, int w, int ow, int oy, const float *cols,
                                float bias, int act, float *restrict y)
{
    const ptrdiff_t plane = (ptrdiff_t)h * w;
    if (p->KH == p->sh && p->KW == p->sw && p->dh == 1 && p->dw == 1 && p->pl == 0 && ow == w * p->sw) {
        /* The taps tile the output (DBNet's 2x2/2): one tap per pixel, a single store. */
        const int t = oy + p->pt, ky = t % p->sh, iy = t / p->sh;
        if (iy < h) {
            const float *src = cols + (ptrdiff_t)ky * p->KW * plane + (ptrdiff_t)iy * w;
            CONV_TRANSPOSE_INTERLEAVE(src, plane, p->KW, w, bias, act, y);
            return;
        }
    }
    for (int ox = 0; ox < ow; ox++)
        y[ox] = bias;
    for (int ky = 0; ky < p->KH; ky++) {
        const int t = oy + p->pt - ky * p->dh;
        if (t < 0 || t % p->sh)
            continue;
        const int iy = t / p->sh;
        if (iy >= h)
            continue;
        for (int kx = 0; kx < p->KW; kx++) {
            const float *restrict src = cols + ((ptrdiff_t)ky * p->KW + kx) * plane + (ptrdiff_t)iy * w;
            /* ox = ix * sw + off for ix in [ix0, ix1) landing in [0, ow) */
            const int off = kx * p->dw - p->pl;
            int ix0 = off >= 0 ? 0 : (-off + p->sw - 1) / p->sw;
            int ix1 = ow - off <= 0 ? 0 : (ow - off + p->sw - 1) / p->sw;
            if (ix1 > w)
                ix1 = w;
            if (p->sw == 1) {
                for (int ix = ix0; ix < ix1; ix++)
                    y[ix + off] += src[ix];
            } else {
                for (int ix = ix0; ix < ix1; ix++)
                    y[ix * p->sw + off] += src[ix];
            }
        }
    }
    if (act != TC_ACT_NONE)
        for (int ox = 0; ox < ow; ox++)
            y[ox] = tc_act_f32(tc_act_of(act), y[ox]);
}

#endif
