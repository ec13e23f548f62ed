/* 8-bit convolution over channels-last images: im2col rows fed to the GEMM
 * driver (qgemm.c).  The depthwise convolution: qdw.c.
 *
 * The GEMM's left operand has one row per output pixel: for each tap (ky, kx)
 * the C/group channels of the input pixel it reads, in that order, which is
 * the order of the packed weights ([K/group, KH, KW, C/group]).  A 1x1,
 * stride-1, unpadded convolution of uint8 input reads the image in place.
 */
#include <string.h>
#include "qgemm_internal.h"

/* rows m0.. (pixels over all images) -> im2col rows of the group at group_c0.  With
 * one group and no dilation the taps of a kernel row are adjacent pixels: one copy,
 * and a window inside the image copies its rows without bounds checks.  The pixel's
 * coordinates advance with the row (no divisions per row). */
static void conv_fill(const tc_qdriver *d, int m0, int mcount, void *dst)
{
    const tc_conv2d_params *p = d->conv;
    const int cg = p->C / p->group, elem = tc_qfmt_elem(d->format);
    const int pad = d->a_zero_point; /* in the flipped (unsigned) domain */
    const uint8_t flip = d->a_flip ? 0x80 : 0;
    const ptrdiff_t opix = (ptrdiff_t)d->oh * d->ow, image = (ptrdiff_t)d->h * d->w * p->C;
    const int rowwise = p->group == 1 && p->dw == 1;
    const size_t run = (size_t)p->KW * cg;   /* elements of one kernel row */
    ptrdiff_t img = m0 / opix, pix = m0 % opix;
    int oy = (int)(pix / d->ow), ox = (int)(pix % d->ow);
    for (int r = 0; r < mcount; r++) {
        const uint8_t *x = (const uint8_t *)d->src + img * image + d->group_c0;
        char *row = (char *)dst + (size_t)r * d->kpad * elem;
        char *o = row;
        const int ix0 = ox * p->sw - p->pl, iy0 = oy * p->sh - p->pt;
        const int inside_x = ix0 >= 0 && ix0 + (p->KW - 1) * p->dw < d->w;
        for (int ky = 0; ky < p->KH; ky++, o += run * elem) {
            int iy = iy0 + ky * p->dh;
            if (iy < 0 || iy >= d->h) {
                put_fill(elem, pad, run, o);
                continue;
            }
            const uint8_t *xr = x + (ptrdiff_t)iy * d->w * p->C;
            if (rowwise && inside_x) {
                put_bytes(elem, xr + (ptrdiff_t)ix0 * p->C, run, flip, o);
            } else if (rowwise) {
                /* taps [k0, k1) inside the row */
                int k0 = ix0 < 0 ? (-ix0 < p->KW ? -ix0 : p->KW) : 0;
                int k1 = d->w - ix0 < p->KW ? d->w - ix0 : p->KW;
                if (k1 < k0)
                    k1 = k0;
                put_fill(elem, pad, (size_t)k0 * cg, o);
                put_bytes(elem, xr + (ptrdiff_t)(ix0 + k0) * p->C, (size_t)(k1 - k0) * cg, flip,
                          o + (size_t)k0 * cg * elem);
                put_fill(elem, pad, (size_t)(p->KW - k1) * cg, o + (size_t)k1 * cg * elem);
            } else {
                for (int kx = 0; kx < p->KW; kx++) {
                    int ix = ix0 + kx * p->dw;
                    char *ok = o + (size_t)kx * cg * elem;
                    if (ix < 0 || ix >= d->w)
                        put_fill(elem, pad, cg, ok);
                    else
                        put_bytes(elem, xr + (ptrdiff_t)ix * p->C, cg, flip, ok);
                }
            }
        }
        put_fill(elem, 0, d->kpad - (size_t)p->KH * run, o);
        if (++ox == d->ow) {
            ox = 0;
            if (++oy == d->oh) {
                oy = 0;
                img++;
            }
        }
    }
}

/* rows m0.. of a 1x1, stride-1, unpadded convolution of one group whose rows need no
 * padding (kpad == C): the block's pixels are contiguous in the image and in dst, one
 * run (no per-row coordinates) */
static void pointwise_fill(const tc_qdriver *d, int m0, int mcount, void *dst)
{
    const uint8_t *x = (const uint8_t *)d->src + (ptrdiff_t)m0 * d->K;
    if (tc_qfmt_elem(d->format) == 2 && d->widen_run)
        d->widen_run(x, (ptrdiff_t)mcount * d->K, d->a_flip, dst);
    else
        put_bytes(tc_qfmt_elem(d->format), x, (size_t)mcount * d->K, d->a_flip ? 0x80 : 0, dst);
}

/* The taps of output pixel (oy, ox) of image img for the indirect convolution: pointers
 * into the image (the group's channels) or to the row of zero points.  A window inside
 * the image adds the taps' offsets (d->tap_offsets) to its first pixel. */
static void conv_taps_row(const tc_qdriver *d, ptrdiff_t img, int oy, int ox, const void **out,
                          int stride)
{
    const tc_conv2d_params *p = d->conv;
    const int y0 = oy * p->sh - p->pt, x0 = ox * p->sw - p->pl;
    const uint8_t *x = (const uint8_t *)d->src + img * (ptrdiff_t)d->h * d->w * p->C + d->group_c0;
    const int ntaps = p->KH * p->KW;
    if (y0 >= 0 && x0 >= 0 && y0 + (p->KH - 1) * p->dh < d->h && x0 + (p->KW - 1) * p->dw < d->w) {
        const uint8_t *origin = x + ((ptrdiff_t)y0 * d->w + x0) * p->C;
        for (int t = 0; t < ntaps; t++)
            out[t * stride] = origin + d->tap_offsets[t];
        return;
    }
    for (int ky = 0, t = 0; ky < p->KH; ky++) {
        int iy = y0 + ky * p->dh;
        for (int kx = 0; kx < p->KW; kx++, t++) {
            int ix = x0 + kx * p->dw;
            out[t * stride] = iy >= 0 && iy < d->h && ix >= 0 && ix < d->w
                                  ? (const void *)(x + ((ptrdiff_t)iy * d->w + ix) * p->C)
                                  : (const void *)d->zero_row;
        }
    }
}

/* rows m .. m + count - 1: the pixel's coordinates advance with the row (divisions once) */
static void conv_taps(const tc_qdriver *d, int m, int count, const void **out, int stride)
{
    const ptrdiff_t opix = (ptrdiff_t)d->oh * d->ow, pix = m % opix;
    ptrdiff_t img = m / opix;
    int oy = (int)(pix / d->ow), ox = (int)(pix % d->ow);
    for (int r = 0; r < count; r++) {
        conv_taps_row(d, img, oy, ox, out + r, stride);
        if (++ox == d->ow) {
            ox = 0;
            if (++oy == d->oh) {
                oy = 0;
                img++;
            }
        }
    }
}

/* Convolutions of uint8 images read in place, without im2col, when a tap's channels
 * are whole 4-byte lanes of the S8X4 kernels and enough of them (16) to outweigh a
 * tap's pointer; fewer go through im2col rows, as do U7S8's (its split of the rows
 * into its window and the bytes outside takes one tap). */
#define MAX_INDIRECT_TAPS 64

static int is_indirect(int format, const tc_conv2d_params *p, int x_signed)
{
    const int cg = p->C / p->group;
    return tc_qfmt_elem(format) == 1 && format != TC_QFMT_U7S8 && !x_signed && cg % 4 == 0 &&
           cg >= 16 &&
           p->KH * p->KW <= MAX_INDIRECT_TAPS;
}

static int is_pointwise(const tc_conv2d_params *p)
{
    return p->KH == 1 && p->KW == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0 && p->pl == 0 &&
           p->pb == 0 && p->pr == 0;
}

size_t tc_qconv2d_workspace_size(const tc_ctx *ctx, int format, const tc_conv2d_params *p,
                                 int n, int h, int w)
{
    int oh, ow;
    if (tc_conv2d_output_hw(p, h, w, &oh, &ow) != 0)
        return 0;
    int kd = p->KH * p->KW * (p->C / p->group), ntaps = p->KH * p->KW;
    /* and the indirect convolution's row of zero points */
    return tc_qdriver_workspace_size(ctx, format, n * oh * ow, p->K / p->group, kd,
                                     ntaps <= MAX_INDIRECT_TAPS ? ntaps : 1) +
           (size_t)p->C + 64;
}

void tc_qconv2d(const tc_ctx *ctx, int format, const tc_conv2d_params *p, int n, int h, int w,
                const void *x, int x_signed, int x_zero_point, const void *packed,
                const tc_qoutput *out, void *y, void *workspace)
{
    int oh, ow;
    if (tc_conv2d_output_hw(p, h, w, &oh, &ow) != 0 || n <= 0)
        return;
    const int cg = p->C / p->group, kg = p->K / p->group, kd = p->KH * p->KW * cg;
    const size_t ysz = out->type >= TC_QOUT_S32 ? 4 : 1;
    /* the row of zero points sits at the end of the workspace */
    uint8_t *zero_row = (uint8_t *)workspace + tc_qconv2d_workspace_size(ctx, format, p, n, h, w) -
                        (size_t)p->C - 64;
    memset(zero_row, x_signed ? x_zero_point + 128 : x_zero_point, (size_t)p->C);
    ptrdiff_t tap_offsets[MAX_INDIRECT_TAPS];
    for (int ky = 0, t = 0; ky < p->KH && p->KH * p->KW <= MAX_INDIRECT_TAPS; ky++)
        for (int kx = 0; kx < p->KW; kx++, t++)
            tap_offsets[t] = ((ptrdiff_t)ky * p->dh * w + (ptrdiff_t)kx * p->dw) * p->C;
    const char *packed_g = packed;
    for (int g = 0; g < p->group; g++) {
        tc_qoutput og = *out;
        tc_qresidual rg;
        if (og.bias)
            og.bias += (ptrdiff_t)g * kg;
        if (og.per_channel)
            og.scale += (ptrdiff_t)g * kg;
        if (og.residual) { /* the group's columns of the residual, as of y */
            rg = *og.residual;
            rg.r = (const char *)rg.r + (size_t)g * kg * ysz;
            og.residual = &rg;
        }
        tc_qdriver d;
        memset(&d, 0, sizeof(d));
        d.format = format;
        d.M = n * oh * ow;
        d.N = kg;
        d.K = kd;
        d.kpad = tc_qfmt_kpad(format, kd);
        d.packed = packed_g;
        packed_g += tc_qgemm_packed_size(format, kd, kg, packed_g);
        d.out = &og;
        d.y = (char *)y + (size_t)g * kg * ysz;
        d.ldy = p->K;
        d.a_flip = x_signed;
        d.a_zero_point = x_signed ? x_zero_point + 128 : x_zero_point;
        d.src = x;
        d.conv = p;
        d.h = h;
        d.w = w;
        d.oh = oh;
        d.ow = ow;
        d.group_c0 = g * cg;
        if (tc_qfmt_elem(format) == 1 && !x_signed && p->group == 1 && cg % 4 == 0 &&
            is_pointwise(p)) {
            d.direct = x;
            d.direct_lda = p->C;
        } else if (is_indirect(format, p, x_signed)) {
            d.taps = conv_taps;
            d.ntaps = p->KH * p->KW;
            d.zero_row = zero_row;
            d.tap_offsets = tap_offsets;
        } else {
            d.fill = p->group == 1 && is_pointwise(p) && d.kpad == kd ? pointwise_fill : conv_fill;
        }
        tc_qdriver_run(ctx, &d, workspace);
    }
}
