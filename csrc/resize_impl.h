/* The plane loops of the separable resampling kernel (Resize, Upsample), written
 * once and compiled twice: by resize.c (any CPU) and resize_avx2.c (-mavx2 -mfma).
 * No contraction under -std=c99: both give identical results. */
#ifndef TC_RESIZE_IMPL_H
#define TC_RESIZE_IMPL_H
#include <string.h>
#include "tinycnn.h"
#include "resize_internal.h"

/* t[k] = sum_s w[s] * x[idx[s] * ld + k] for k < n: the taps of one output row blended
 * over whole input rows (a contiguous, vectorisable loop per tap). */
static void resize_blend_rows_(const float *restrict x, ptrdiff_t ld, const int32_t *idx, const float *w,
                               int taps, ptrdiff_t n, float *restrict t)
{
    const float *r0 = x + (ptrdiff_t)idx[0] * ld;
    const float w0 = w[0];
    if (taps == 2) {
        const float *r1 = x + (ptrdiff_t)idx[1] * ld;
        const float w1 = w[1];
        for (ptrdiff_t k = 0; k < n; k++)
            t[k] = w0 * r0[k] + w1 * r1[k];
        return;
    }
    for (ptrdiff_t k = 0; k < n; k++)
        t[k] = w0 * r0[k];
    for (int s = 1; s < taps; s++) {
        const float *rs = x + (ptrdiff_t)idx[s] * ld;
        const float ws = w[s];
        for (ptrdiff_t k = 0; k < n; k++)
            t[k] += ws * rs[k];
    }
}

/* y[j] = w[2j] * r[idx[2j]] + w[2j+1] * r[idx[2j+1]] for j < out: two taps per column
 * (linear); r holds n floats.  A compilation may define its own (AVX2: permutes and gathers)
 * before including this file. */
static inline void resize_cols2_(const int32_t *restrict idx, const float *restrict w, int out,
                                 const float *restrict r, int n, float *restrict y)
{
    (void)n;
    for (int j = 0; j < out; j++)
        y[j] = w[2 * j] * r[idx[2 * j]] + w[2 * j + 1] * r[idx[2 * j + 1]];
}
#ifndef RESIZE_COLS2
#define RESIZE_COLS2 resize_cols2_
#endif

/* y[j] = sum_t cols.w[j][t] * r[cols.idx[j][t]] for j < cols.out: one output row from one
 * (blended) input row r, by the shape of the column table. */
static void resize_cols_(const tc_resample_axis *cols, int kind, const float *restrict r, float *restrict y)
{
    const int out = cols->out, taps = cols->taps;
    const int32_t *idx = cols->idx;
    const float *w = cols->w;
    switch (kind) {
    case TC_RESAMPLE_IDENTITY:
        memcpy(y, r, (size_t)out * sizeof(float));
        break;
    case TC_RESAMPLE_NEAREST_2X: /* y[2j] = y[2j+1] = r[j] */
        for (int j = 0; j < out / 2; j++) {
            const float v = r[j];
            y[2 * j] = v;
            y[2 * j + 1] = v;
        }
        break;
    case TC_RESAMPLE_NEAREST:
        for (int j = 0; j < out; j++)
            y[j] = r[idx[j]];
        break;
    default:
        if (taps == 2) {
            RESIZE_COLS2(idx, w, out, r, cols->in, y);
        } else {
            for (int j = 0; j < out; j++) {
                const int32_t *ij = idx + (ptrdiff_t)j * taps;
                const float *wj = w + (ptrdiff_t)j * taps;
                float a = wj[0] * r[ij[0]];
                for (int t = 1; t < taps; t++)
                    a += wj[t] * r[ij[t]];
                y[j] = a;
            }
        }
        break;
    }
    if (cols->outside)
        for (int j = 0; j < out; j++)
            if (cols->outside[j])
                y[j] = cols->fill;
}

/* Output rows [i0, i1) of one plane: x [rows.in, cols.in] -> y [rows.out, cols.out].
 * t: cols.in floats of workspace.  A row with the same taps as the previous one
 * (nearest upsampling) is a copy of it. */
static void resize_plane_rows_(const tc_resample_axis *rows, const tc_resample_axis *cols, int row_kind,
                               int col_kind, const float *x, float *y, int i0, int i1, float *t)
{
    const ptrdiff_t in_w = cols->in, out_w = cols->out;
    const int taps = rows->taps;
    for (int i = i0; i < i1; i++) {
        float *yi = y + (ptrdiff_t)i * out_w;
        const int32_t *ri = rows->idx + (ptrdiff_t)i * taps;
        const float *wi = rows->w + (ptrdiff_t)i * taps;
        if (rows->outside && rows->outside[i]) {
            for (ptrdiff_t j = 0; j < out_w; j++)
                yi[j] = rows->fill;
            continue;
        }
        if (i > i0 && !(rows->outside && rows->outside[i - 1]) &&
            memcmp(ri, ri - taps, (size_t)taps * sizeof(*ri)) == 0 &&
            memcmp(wi, wi - taps, (size_t)taps * sizeof(*wi)) == 0) {
            memcpy(yi, yi - out_w, (size_t)out_w * sizeof(float));
            continue;
        }
        const float *r;
        if (row_kind == TC_RESAMPLE_NEAREST || row_kind == TC_RESAMPLE_NEAREST_2X ||
            row_kind == TC_RESAMPLE_IDENTITY) {
            r = x + (ptrdiff_t)ri[0] * in_w; /* one tap of weight 1: the input row itself */
        } else if (col_kind == TC_RESAMPLE_IDENTITY && !cols->outside) {
            resize_blend_rows_(x, in_w, ri, wi, taps, in_w, yi); /* straight into the output */
            continue;
        } else {
            resize_blend_rows_(x, in_w, ri, wi, taps, in_w, t);
            r = t;
        }
        resize_cols_(cols, col_kind, r, yi);
    }
}

/* Output rows [i0, i1) of one plane, columns first (see tc_resize2d_f32): each input row a
 * tap reads is resampled along the columns once into one of rows.taps slots of h, kept while
 * the next output rows read it too (upsampling: ~in of them per plane instead of out), and
 * each output row blends its taps' slots as resize_blend_rows_ blends input rows.  Not
 * for tables with `outside` entries (a blend of fills is not the fill).
 * h: rows.taps * cols.out floats of workspace. */
static void resize_plane_cols_first_(const tc_resample_axis *rows, const tc_resample_axis *cols, int col_kind,
                                     const float *x, float *y, int i0, int i1, float *h)
{
    const ptrdiff_t in_w = cols->in, out_w = cols->out;
    const int taps = rows->taps;
    int32_t tag[TC_RESIZE_COLS_FIRST_TAPS], slot[TC_RESIZE_COLS_FIRST_TAPS];
    for (int s = 0; s < taps; s++)
        tag[s] = -1; /* the input row slot s holds */
    for (int i = i0; i < i1; i++) {
        const int32_t *ri = rows->idx + (ptrdiff_t)i * taps;
        for (int s = 0; s < taps; s++) {
            int f = 0;
            while (f < taps && tag[f] != ri[s])
                f++;
            if (f == taps) {
                /* a slot no tap of this row reads: one exists, as the row reads at most
                 * taps distinct input rows and this one has no slot */
                for (f = 0; f < taps; f++) {
                    int needed = 0;
                    for (int u = 0; u < taps; u++)
                        needed |= tag[f] == ri[u];
                    if (!needed)
                        break;
                }
                resize_cols_(cols, col_kind, x + (ptrdiff_t)ri[s] * in_w, h + (ptrdiff_t)f * out_w);
                tag[f] = ri[s];
            }
            slot[s] = f;
        }
        resize_blend_rows_(h, out_w, slot, rows->w + (ptrdiff_t)i * taps, taps, out_w, y + (ptrdiff_t)i * out_w);
    }
}

#endif
