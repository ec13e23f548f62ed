/* Pooling plane kernels, written once and compiled twice: by pool2d.c
 * (portable) and by pool2d_avx2.c (-mavx2 -mfma).  Both give bit-identical
 * results: the taps of every window are visited in row-major order. */
#ifndef TC_POOL2D_IMPL_H
#define TC_POOL2D_IMPL_H
#include <float.h>
#include <math.h>
#include "pool2d_internal.h"

#if defined(__GNUC__)
#define TC_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define TC_ALWAYS_INLINE static inline
#endif

/* An ISA file may define TC_POOL_ROW_FAST(src, rs, nr, kw, dw, sw, is_max, y, n, avail)
 * returning how many leading outputs of an interior row it computed (max pooling
 * only; avail = floats readable from src in each row). */
#ifndef TC_POOL_ROW_FAST
#define TC_POOL_ROW_FAST(src, rs, nr, kw, dw, sw, is_max, y, n, avail) 0
#endif

/* One output, clipped to the input (borders). */
TC_ALWAYS_INLINE float pool_one_(const tc_pool2d_desc *d, const float *x, int is_max, int cip, int hs, int i0,
                                 int i1, int hcount_pad, int ox)
{
    int ws = ox * d->sw - d->pad_l, j0, j1;
    tc_tap_range_(ws, d->kw, d->dw, d->w, &j0, &j1);
    const float *row = x + (ptrdiff_t)(hs + i0 * d->dh) * d->w + ws;
    if (is_max) {
        if (i0 >= i1 || j0 >= j1)
            return -FLT_MAX; /* a window entirely in the padding: onnxruntime's value */
        float m = -INFINITY;  /* a window of -inf gives -inf */
        for (int i = i0; i < i1; i++, row += (ptrdiff_t)d->dh * d->w)
            for (int j = j0; j < j1; j++) {
                float v = row[j * d->dw];
                m = m > v ? m : v; /* maxps(m, v): NaN survives only as the last tap */
            }
        return m;
    }
    float s = 0.0f;
    for (int i = i0; i < i1; i++, row += (ptrdiff_t)d->dh * d->w)
        for (int j = j0; j < j1; j++)
            s += row[j * d->dw];
    int cnt;
    if (cip) {
        int q0, q1;
        tc_tap_range_(ws + d->pad_l, d->kw, d->dw, d->w + d->pad_l + d->pad_r, &q0, &q1);
        cnt = hcount_pad * (q1 - q0);
    } else {
        cnt = (i1 - i0) * (j1 - j0);
    }
    return cnt > 0 ? s / (float)cnt : 0.0f;
}

/* Interior outputs of one row: every column tap is inside the input.
 * Long rows: vectorised over the outputs, taps outermost.  Short rows (late
 * layers, 7..14 wide): one output at a time in a register.  Both visit the
 * taps of a window in row-major order, so they agree bit for bit. */
TC_ALWAYS_INLINE void pool_row_interior_(const float *restrict src, ptrdiff_t rstride, int nrows, int kw, int dw,
                                         int sw, int is_max, float *restrict y, int n)
{
    const float init = is_max ? -INFINITY : 0.0f;
    if (n < 16) {
        for (int o = 0; o < n; o++) {
            const float *restrict s = src + (ptrdiff_t)o * sw;
            float m = init;
            for (int i = 0; i < nrows; i++, s += rstride)
                for (int j = 0; j < kw; j++) {
                    float v = s[j * dw];
                    m = is_max ? (m > v ? m : v) : m + v;
                }
            y[o] = m;
        }
        return;
    }
    for (int o = 0; o < n; o++)
        y[o] = init;
    for (int i = 0; i < nrows; i++, src += rstride)
        for (int j = 0; j < kw; j++) {
            const float *restrict s = src + j * dw;
            if (is_max)
                for (int o = 0; o < n; o++) {
                    float v = s[(ptrdiff_t)o * sw], m = y[o];
                    y[o] = m > v ? m : v;
                }
            else
                for (int o = 0; o < n; o++)
                    y[o] += s[(ptrdiff_t)o * sw];
        }
}

/* The common shapes get constant kernel width, dilation and stride. */
TC_ALWAYS_INLINE void pool_row_dispatch_(const float *src, ptrdiff_t rs, int nr, int kw, int dw, int sw, int is_max,
                                         float *y, int n)
{
    if (dw == 1 && sw == 2 && kw == 2)
        pool_row_interior_(src, rs, nr, 2, 1, 2, is_max, y, n);
    else if (dw == 1 && sw == 2 && kw == 3)
        pool_row_interior_(src, rs, nr, 3, 1, 2, is_max, y, n);
    else if (dw == 1 && sw == 1 && kw == 3)
        pool_row_interior_(src, rs, nr, 3, 1, 1, is_max, y, n);
    else if (sw == 1)
        pool_row_interior_(src, rs, nr, kw, dw, 1, is_max, y, n);
    else if (sw == 2)
        pool_row_interior_(src, rs, nr, kw, dw, 2, is_max, y, n);
    else
        pool_row_interior_(src, rs, nr, kw, dw, sw, is_max, y, n);
}

TC_ALWAYS_INLINE void pool_plane_(const tc_pool2d_desc *d, int is_max, int cip, const float *x, float *y)
{
    const int keff_w = (d->kw - 1) * d->dw + 1;
    /* interior columns: ws >= 0 and ws + keff_w <= W */
    int ox0 = (d->pad_l + d->sw - 1) / d->sw;
    int ox1 = d->w - keff_w + d->pad_l >= 0 ? (d->w - keff_w + d->pad_l) / d->sw + 1 : 0;
    if (ox1 > d->ow)
        ox1 = d->ow;
    if (ox0 > ox1)
        ox0 = ox1;
    const int ph = d->h + d->pad_t + d->pad_b;
    for (int oy = 0; oy < d->oh; oy++) {
        int hs = oy * d->sh - d->pad_t, i0, i1, p0, p1;
        tc_tap_range_(hs, d->kh, d->dh, d->h, &i0, &i1);
        tc_tap_range_(hs + d->pad_t, d->kh, d->dh, ph, &p0, &p1);
        float *yr = y + (ptrdiff_t)oy * d->ow;
        for (int ox = 0; ox < ox0; ox++)
            yr[ox] = pool_one_(d, x, is_max, cip, hs, i0, i1, p1 - p0, ox);
        if (ox1 > ox0 && i1 > i0) {
            const float *src = x + (ptrdiff_t)(hs + i0 * d->dh) * d->w + (ox0 * d->sw - d->pad_l);
            const ptrdiff_t rs = (ptrdiff_t)d->dh * d->w;
            int n = ox1 - ox0, nr = i1 - i0;
            int done = TC_POOL_ROW_FAST(src, rs, nr, d->kw, d->dw, d->sw, is_max, yr + ox0, n,
                                        d->w - (ox0 * d->sw - d->pad_l));
            src += (ptrdiff_t)done * d->sw;
            n -= done;
            if (n > 0)
                pool_row_dispatch_(src, rs, nr, d->kw, d->dw, d->sw, is_max, yr + ox0 + done, n);
            if (!is_max) {
                int cnt = cip ? (p1 - p0) * d->kw : nr * d->kw;
                for (int o = ox0; o < ox1; o++)
                    yr[o] = yr[o] / (float)cnt;
            }
        } else {
            for (int ox = ox0; ox < ox1; ox++)
                yr[ox] = pool_one_(d, x, is_max, cip, hs, i0, i1, p1 - p0, ox);
        }
        for (int ox = ox1; ox < d->ow; ox++)
            yr[ox] = pool_one_(d, x, is_max, cip, hs, i0, i1, p1 - p0, ox);
    }
}

#endif
