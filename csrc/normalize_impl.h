/* The row loops of the mean/variance normalisations (LayerNormalization,
 * InstanceNormalization, GroupNormalization), written once and compiled twice:
 * by normalize.c (any CPU) and normalize_avx2.c (-mavx2 -mfma).  The partial
 * sums are spelled out in 8 lanes so that both compilations vectorise them
 * without reassociating anything (no -ffast-math): the two twins give
 * identical results.  The variance is taken around the mean (a second pass), so
 * a large mean costs no precision. */
#ifndef TC_NORMALIZE_IMPL_H
#define TC_NORMALIZE_IMPL_H
#include <math.h>
#include "tinycnn.h"

#define NORM_LANES 8

/* Sum of x[0..n) (squares = 0) or of (x - shift)^2, in 8 float lanes combined as a tree in
 * a fixed order (cheap for the short rows of LayerNorm over channels), then the tail. */
static inline float norm_sum_(const float *restrict x, ptrdiff_t n, float shift, int squares)
{
    float acc[NORM_LANES] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    ptrdiff_t i = 0;
    if (squares) {
        for (; i + NORM_LANES <= n; i += NORM_LANES)
            for (int j = 0; j < NORM_LANES; j++) {
                float d = x[i + j] - shift;
                acc[j] += d * d;
            }
    } else {
        for (; i + NORM_LANES <= n; i += NORM_LANES)
            for (int j = 0; j < NORM_LANES; j++)
                acc[j] += x[i + j];
    }
    float t = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (; i < n; i++) {
        float d = x[i] - shift;
        t += squares ? d * d : x[i];
    }
    return t;
}

/* x, y: [s] one row.  mean and variance over the row (two passes), then
 *   chunk == 1: y[i] = (x[i] - m) * inv * scale[i] + bias[i]
 *   chunk > 1:  y[i] = x[i] * k[c] + t[c] with k = scale[c] * inv, t = bias[c] - m * k, c = i / chunk
 * scale, bias: [s / chunk] (bias may be NULL).  y may be x.  Returns m and inv. */
static void normalize_row_(const float *x, float *y, ptrdiff_t s, ptrdiff_t chunk, const float *scale,
                           const float *bias, float eps, float *mean_out, float *inv_out)
{
    const float m = norm_sum_(x, s, 0.0f, 0) / (float)s;
    const float var = norm_sum_(x, s, m, 1) / (float)s;
    const float inv = 1.0f / sqrtf(var + eps);
    *mean_out = m;
    *inv_out = inv;
    if (chunk == 1) {
        if (bias)
            for (ptrdiff_t i = 0; i < s; i++)
                y[i] = (x[i] - m) * inv * scale[i] + bias[i];
        else
            for (ptrdiff_t i = 0; i < s; i++)
                y[i] = (x[i] - m) * inv * scale[i];
        return;
    }
    for (ptrdiff_t c = 0; c * chunk < s; c++) {
        const float k = scale[c] * inv, t = (bias ? bias[c] : 0.0f) - m * k;
        const float *xc = x + c * chunk;
        float *yc = y + c * chunk;
        for (ptrdiff_t i = 0; i < chunk; i++)
            yc[i] = xc[i] * k + t;
    }
}

#endif
