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
 * returning how many leading outputs of an interior row it computed (average
 * pooling: their sums, the caller divides; avail = floats readable from src in
 * each row). */
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

/* Max pooling with a "same" window: stride 1, no dilation, output as large as the input,
 * each pad shorter than the kernel (GoogLeNet's 3x3 pad 1 before each inception's pool
 * projection, YOLO's 5x5 pad 2 SPPF).  Two passes: the maxima of each window's rows per
 * column (cm), then the maxima of kw neighbours in cm.  With ow == w a block of output rows
 * is one flat run of floats, so both passes are long loops that vectorise, where the generic
 * path computes GoogLeNet's 14- and 7-wide rows one scalar window at a time (5x slower than
 * onnxruntime); the columns whose windows cross the left or right edge are redone clipped
 * afterwards.  Every window still ends on its last (bottom-right) tap, so a NaN survives
 * where the row-major order lets it: where that tap is NaN. */
#define TC_POOL_SAME_BLOCK 2048

TC_ALWAYS_INLINE void max_plane_same_(const tc_pool2d_desc *d, const float *x, float *y)
{
    float cm[TC_POOL_SAME_BLOCK];
    const int W = d->w, H = d->h, kh = d->kh, kw = d->kw, pt = d->pad_t, pl = d->pad_l;
    const int pr = kw - 1 - pl, rows = TC_POOL_SAME_BLOCK / W;
    for (int ya = 0; ya < d->oh; ya += rows) {
        const int yb = ya + rows < d->oh ? ya + rows : d->oh, nb = yb - ya;
        for (int oy = ya; oy < yb;) {
            int i0, i1;
            tc_tap_range_(oy - pt, kh, 1, H, &i0, &i1);
            float *restrict c = cm + (ptrdiff_t)(oy - ya) * W;
            if (i0 == 0 && i1 == kh) {
                /* rows whose windows lie wholly inside: one flat run */
                int oe = oy + 1;
                while (oe < yb && oe - pt + kh <= H)
                    oe++;
                const float *restrict r = x + (ptrdiff_t)(oy - pt) * W;
                const ptrdiff_t n = (ptrdiff_t)(oe - oy) * W;
                if (kh == 3) {
                    for (ptrdiff_t k = 0; k < n; k++) {
                        float m = r[k], v = r[k + W];
                        m = m > v ? m : v;
                        v = r[k + 2 * W];
                        c[k] = m > v ? m : v;
                    }
                } else {
                    for (ptrdiff_t k = 0; k < n; k++)
                        c[k] = r[k];
                    for (int i = 1; i < kh; i++)
                        for (ptrdiff_t k = 0; k < n; k++) {
                            float m = c[k], v = r[k + (ptrdiff_t)i * W];
                            c[k] = m > v ? m : v;
                        }
                }
                oy = oe;
                continue;
            }
            const float *restrict r = x + (ptrdiff_t)(oy - pt + i0) * W;
            for (int j = 0; j < W; j++)
                c[j] = r[j];
            for (int i = i0 + 1; i < i1; i++) {
                r += W;
                for (int j = 0; j < W; j++) {
                    float m = c[j], v = r[j];
                    c[j] = m > v ? m : v;
                }
            }
            oy++;
        }
        /* along the rows: flat over the block; output k reads cm[k - pl .. k - pl + kw) */
        float *restrict yo = y + (ptrdiff_t)ya * W;
        const ptrdiff_t lo = pl, hi = (ptrdiff_t)nb * W - pr;
        if (kw == 3) {
            for (ptrdiff_t k = lo; k < hi; k++) {
                float m = cm[k - pl], v = cm[k - pl + 1];
                m = m > v ? m : v;
                v = cm[k - pl + 2];
                yo[k] = m > v ? m : v;
            }
        } else {
            for (ptrdiff_t k = lo; k < hi; k++)
                yo[k] = cm[k - pl];
            for (int j = 1; j < kw; j++)
                for (ptrdiff_t k = lo; k < hi; k++) {
                    float m = yo[k], v = cm[k - pl + j];
                    yo[k] = m > v ? m : v;
                }
        }
        /* the edge columns, clipped (the flat pass wrapped them into the next row) */
        for (int r = 0; r < nb; r++) {
            const float *c = cm + (ptrdiff_t)r * W;
            float *yr = yo + (ptrdiff_t)r * W;
            for (int e = 0; e < pl + pr; e++) {
                int ox = e < pl ? e : W - pr + (e - pl), j0, j1;
                if (ox < 0 || ox >= W)
                    continue; /* a plane narrower than the pads: both edge sets cover it */
                tc_tap_range_(ox - pl, kw, 1, W, &j0, &j1);
                float m = -INFINITY;
                for (int j = ox - pl + j0; j < ox - pl + j1; j++) {
                    float v = c[j];
                    m = m > v ? m : v;
                }
                yr[ox] = m;
            }
        }
    }
}

TC_ALWAYS_INLINE void pool_plane_(const tc_pool2d_desc *d, int is_max, int cip, const float *x, float *y)
{
    if (is_max && d->sw == 1 && d->sh == 1 && d->dw == 1 && d->dh == 1 && d->oh == d->h &&
        d->ow == d->w && d->pad_t < d->kh && d->pad_b < d->kh && d->pad_l < d->kw &&
        d->pad_r < d->kw && d->w <= TC_POOL_SAME_BLOCK) {
        max_plane_same_(d, x, y);
        return;
    }
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
