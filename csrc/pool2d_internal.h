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

#ifdef TC_HAVE_AVX2_SOURCES
void tc_max_pool2d_plane_avx2_(const tc_pool2d_desc *d, const float *x, float *y);
void tc_avg_pool2d_plane_avx2_(const tc_pool2d_desc *d, int count_include_pad, const float *x, float *y);
float tc_sum_f32_avx2_(const float *x, ptrdiff_t n);
#endif

#endif
