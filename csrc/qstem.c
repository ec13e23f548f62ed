/* 8-bit stems: convolutions of images with few channels (RGB: C <= 4), undilated along x,
 * without im2col.
 *
 * The im2col path (qconv.c) copies every input byte KH * KW / (sh * sw) times into the rows
 * of the GEMM, widened to int16 for S16X2 (the AVX2 layout): for ResNet's 7x7 stride-2 stem
 * a quarter of the layer's time.  Here the input is copied once, widened and padded, into
 * the workspace: [N][pt + H + pb][ld] elements, ld = (pl + W + pr) * C + spare, the padding
 * at the zero point.  A kernel row of an output pixel is then KW * C contiguous elements of
 * that copy, so the GEMM's rows are read in place, one tap per kernel row (the driver's
 * indirect convolution, qgemm.c): KH taps of klen = KW * C rounded up to the format's group
 * (2 or 4 elements).  The few elements past a kernel row (the next pixel's) meet zero
 * weights, and spare keeps them inside the copy.
 *
 * Packed weights: tc_qgemm_pack of [K][KH][klen] rows (w's [K][KH][KW][C] with klen - KW * C
 * zeros after each kernel row), K = KH * klen.
 */
#include <string.h>
#include "qgemm_internal.h"

/* input channels of the stems this path takes, and their kernel rows (taps) */
#define QSTEM_MAX_C 4
#define QSTEM_MAX_TAPS 64
/* elements after each copied row: at least klen - KW * C (< 4) */
#define QSTEM_SPARE 4

int tc_qstem_klen(int format, const tc_conv2d_params *p)
{
    if (p->group != 1 || p->C > QSTEM_MAX_C || p->dw != 1 || p->KH > QSTEM_MAX_TAPS ||
        format == TC_QFMT_U7S8)
        return 0;
    return tc_qfmt_kpad(format, p->KW * p->C);
}

/* The copy's geometry: rows per image, elements per row */
static void copy_geometry(const tc_conv2d_params *p, int h, int w, int *hp, ptrdiff_t *ld)
{
    *hp = p->pt + h + p->pb;
    *ld = (ptrdiff_t)(p->pl + w + p->pr) * p->C + QSTEM_SPARE;
}

static size_t copy_bytes(int format, const tc_conv2d_params *p, int n, int h, int w)
{
    int hp;
    ptrdiff_t ld;
    copy_geometry(p, h, w, &hp, &ld);
    return ((size_t)n * hp * ld * tc_qfmt_elem(format) + 63) & ~(size_t)63;
}

size_t tc_qstem_workspace_size(const tc_ctx *ctx, int format, const tc_conv2d_params *p, int n,
                               int h, int w)
{
    int oh, ow, klen = tc_qstem_klen(format, p);
    if (!klen || tc_conv2d_output_hw(p, h, w, &oh, &ow) != 0)
        return 0;
    return copy_bytes(format, p, n, h, w) + 64 +
           tc_qdriver_workspace_size(ctx, format, n * oh * ow, p->K, p->KH * klen, p->KH);
}

typedef struct stem_copy {
    const tc_conv2d_params *p;
    const uint8_t *x;
    char *dst;
    int h, w, hp, elem, pad;
    uint8_t flip;
    ptrdiff_t ld;
} stem_copy;

/* rows [r0, r1) of the copy (over all images): the input row widened (and flipped) between
 * the zero points of the pads */
static void copy_rows(void *arg, int tid, ptrdiff_t r0, ptrdiff_t r1)
{
    const stem_copy *s = arg;
    const tc_conv2d_params *p = s->p;
    const ptrdiff_t body = (ptrdiff_t)s->w * p->C, left = (ptrdiff_t)p->pl * p->C;
    (void)tid;
    for (ptrdiff_t r = r0; r < r1; r++) {
        char *o = s->dst + r * s->ld * s->elem;
        const ptrdiff_t img = r / s->hp;
        const int iy = (int)(r % s->hp) - p->pt;
        if (iy < 0 || iy >= s->h) {
            put_fill(s->elem, s->pad, (size_t)s->ld, o);
            continue;
        }
        const uint8_t *xr = s->x + (img * s->h + iy) * body;
        put_fill(s->elem, s->pad, (size_t)left, o);
        o += left * s->elem;
        put_bytes(s->elem, xr, (size_t)body, s->flip, o);
        put_fill(s->elem, s->pad, (size_t)(s->ld - left - body), o + body * s->elem);
    }
}

/* The taps' geometry: d->tap_offsets points at offsets, and stem_taps finds the rest
 * behind it (the driver knows only the offsets) */
typedef struct stem_geom {
    ptrdiff_t offsets[QSTEM_MAX_TAPS]; /* of kernel row ky from the window's first, bytes */
    double inv_opix, inv_ow;            /* 1 / (OH * OW), 1 / OW */
} stem_geom;

/* m / d for m + d < 2^32, by a multiplication: the double quotient is within 1 of it
 * (a few times faster than the integer division, and this runs for every row of every
 * tile: a third of a lone 3x3 stem's time with divisions) */
static inline unsigned div_by(unsigned m, unsigned d, double inv)
{
    unsigned q = (unsigned)((double)m * inv);
    q -= q * d > m;
    q += (q + 1) * d <= m;
    return q;
}

/* Rows r0 .. count - 1 of the taps from origin (output pixel ox of row oy of image img):
 * nt (a constant where inlined with one) pointers per output pixel */
static inline __attribute__((always_inline)) void taps_rows(
    const tc_qdriver *d, const ptrdiff_t *offsets, const int nt, unsigned img, unsigned oy,
    unsigned ox, ptrdiff_t xstep, int count, const void **out, int stride)
{
    const tc_conv2d_params *p = d->conv;
    const char *origin = (const char *)d->src +
                         ((ptrdiff_t)img * d->h + (ptrdiff_t)oy * p->sh) * d->src_lda +
                         (ptrdiff_t)ox * xstep;
    for (int r = 0; r < count; r++, origin += xstep) {
        for (int t = 0; t < nt; t++)
            out[t * stride + r] = origin + offsets[t];
        if (++ox == (unsigned)d->ow) { /* the next output row, or image */
            ox = 0;
            if (++oy == (unsigned)d->oh) {
                oy = 0;
                img++;
            }
            origin = (const char *)d->src +
                     ((ptrdiff_t)img * d->h + (ptrdiff_t)oy * p->sh) * d->src_lda - xstep;
        }
    }
}

/* The KH taps of output pixels m .. m + count - 1: their windows' kernel rows in the copy
 * (d->src, rows of d->src_lda bytes, d->h of them per image).  3 and 7 taps (the 3x3 and
 * 7x7 stems) with the tap loop unrolled */
static void stem_taps(const tc_qdriver *d, int m, int count, const void **out, int stride)
{
    const tc_conv2d_params *p = d->conv;
    const stem_geom *g = (const stem_geom *)d->tap_offsets;
    const unsigned opix = (unsigned)d->oh * (unsigned)d->ow;
    unsigned img = div_by((unsigned)m, opix, g->inv_opix), pix = (unsigned)m - img * opix;
    unsigned oy = div_by(pix, (unsigned)d->ow, g->inv_ow), ox = pix - oy * (unsigned)d->ow;
    const ptrdiff_t xstep = (ptrdiff_t)p->sw * p->C * tc_qfmt_elem(d->format);
    if (d->ntaps == 3)
        taps_rows(d, g->offsets, 3, img, oy, ox, xstep, count, out, stride);
    else if (d->ntaps == 7)
        taps_rows(d, g->offsets, 7, img, oy, ox, xstep, count, out, stride);
    else
        taps_rows(d, g->offsets, d->ntaps, img, oy, ox, xstep, count, out, stride);
}

void tc_qstem(const tc_ctx *ctx, int format, const tc_conv2d_params *p, int n, int h, int w,
              const void *x, int x_signed, int x_zero_point, const void *packed,
              const tc_qoutput *out, void *y, void *workspace)
{
    int oh, ow, hp;
    ptrdiff_t ld;
    const int klen = tc_qstem_klen(format, p);
    if (!klen || tc_conv2d_output_hw(p, h, w, &oh, &ow) != 0 || n <= 0)
        return;
    copy_geometry(p, h, w, &hp, &ld);
    const int elem = tc_qfmt_elem(format);
    stem_copy s = {p, x, workspace, h, w, hp, elem, x_signed ? x_zero_point + 128 : x_zero_point,
                   (uint8_t)(x_signed ? 0x80 : 0), ld};
    /* rows of a few microseconds each thread */
    tc_parallel_for(ctx ? ctx->pool : NULL, (ptrdiff_t)n * hp, 16384 / (ld * elem) + 1,
                    copy_rows, &s);

    stem_geom g;
    for (int ky = 0; ky < p->KH; ky++)
        g.offsets[ky] = (ptrdiff_t)ky * p->dh * ld * elem;
    g.inv_opix = 1.0 / ((double)oh * ow);
    g.inv_ow = 1.0 / ow;
    tc_qdriver d;
    memset(&d, 0, sizeof(d));
    d.format = format;
    d.M = n * oh * ow;
    d.N = p->K;
    d.K = p->KH * klen;
    d.kpad = d.K;
    d.packed = packed;
    d.out = out;
    d.y = y;
    d.ldy = p->K;
    d.a_flip = x_signed;
    d.a_zero_point = s.pad;
    d.src = workspace;
    d.src_lda = ld * elem;
    d.conv = p;
    d.h = hp;
    d.w = w;
    d.oh = oh;
    d.ow = ow;
    d.taps = stem_taps;
    d.ntaps = p->KH;
    d.tap_offsets = g.offsets;
    tc_qdriver_run(ctx, &d, (char *)workspace + copy_bytes(format, p, n, h, w) + 64);
}
