/* Private helpers shared by pool2d.c and pool2d_avx2.c. */
#ifndef TC_POOL2D_INTERNAL_H
#define TC_POOL2D_INTERNAL_H
#include "tinycnn.h"

/* Taps i in [0, k) with 0 <= start + i*dil < limit are exactly [*lo, *hi). */
static inline void tc_tap_range_(int start, int k, int dil, int limit, int *lo, int *hi)
{
    int a, b;
    if (dil == 1) { /* the common case, without the divisions */
        a = start < 0 ? -start : 0;
        b = limit - start <= 0 ? 0 : limit - start;
    } else {
        a = start < 0 ? (-start + dil - 1) / dil : 0;
        b = limit - start <= 0 ? 0 : (limit - start + dil - 1) / dil;
    }
    if (b > k)
        b = k;
    if (a > b)
        a = b;
    *lo = a;
    *hi = b;
}

ptrdiff_t tc_pool_grain_(ptrdiff_t work_per_plane);

float tc_sum_f32_ref_(const float *x, ptrdiff_t n);
float tc_max_f32_ref_(const float *x, ptrdiff_t n);

/* The pooling family's kernels for one instruction set: tc_pool2d_portable
 * (pool2d.c) and tc_pool2d_avx2 (pool2d_avx2.c); dispatch.c picks one per
 * tc_ctx.  Both give bit-identical results. */
typedef struct tc_pool2d_kernels {
    void (*max_plane)(const tc_pool2d_desc *d, const float *x, float *y);
    void (*avg_plane)(const tc_pool2d_desc *d, int count_include_pad, const float *x, float *y);
    float (*sum)(const float *x, ptrdiff_t n); /* eight partial sums, as tc_sum_f32_ref_ */
} tc_pool2d_kernels;

extern const tc_pool2d_kernels tc_pool2d_portable, tc_pool2d_avx2;
const tc_pool2d_kernels *tc_pool2d_kernels_of(const tc_ctx *ctx);

#endif
