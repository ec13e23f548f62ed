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

/* Sums of at least this many values take four chains of partial sums (tc_sum_f32_ref_): the
 * planes a squeeze-and-excitation pools (tc_conv2d_means_f32), summed right after they are
 * written, in L1 or L2.  One chain of 8 lanes against four (AVX2, this Zen 4 host, thread CPU
 * time, min of 300, hot): 144 planes of 56x56 42.9 -> 20.4 us, 32 of 112x112 41.8 -> 18.0,
 * 240 of 28x28 13.9 -> 8.3, 672 of 14x14 9.2 -> 7.7; 960 of 7x7 6.8 -> 7.6 (the pairing's
 * adds weigh on 6 vectors): below this the single chain stays. */
#define TC_SUM_WIDE_MIN 128
float tc_sum_f32_ref_(const float *x, ptrdiff_t n);
float tc_max_f32_ref_(const float *x, ptrdiff_t n);

/* The pooling family's kernels for one instruction set: tc_pool2d_portable
 * (pool2d.c) and tc_pool2d_avx2 (pool2d_avx2.c); dispatch.c picks one per
 * tc_ctx.  Both give bit-identical results. */
typedef struct tc_pool2d_kernels {
    void (*max_plane)(const tc_pool2d_desc *d, const float *x, float *y);
    void (*avg_plane)(const tc_pool2d_desc *d, int count_include_pad, const float *x, float *y);
    float (*sum)(const float *x, ptrdiff_t n); /* partial sums as tc_sum_f32_ref_'s */
} tc_pool2d_kernels;

extern const tc_pool2d_kernels tc_pool2d_portable, tc_pool2d_avx2;
const tc_pool2d_kernels *tc_pool2d_kernels_of(const tc_ctx *ctx);

#endif
