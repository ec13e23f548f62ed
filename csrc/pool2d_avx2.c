/* AVX2 twins of the pooling kernels in pool2d.c (compiled with -mavx2 -mfma). */
#include <immintrin.h>
#include <float.h>
#include "tinycnn.h"
#include "pool2d_internal.h"

void tc_max_pool2d_plane_avx2_(const tc_pool2d_desc *d, const float *x, float *y)
{
    tc_max_pool2d_plane_fast_(d, x, y);
}

void tc_avg_pool2d_plane_avx2_(const tc_pool2d_desc *d, int count_include_pad, const float *x, float *y)
{
    tc_avg_pool2d_plane_ref_(d, count_include_pad, x, y);
}

float tc_sum_f32_avx2_(const float *x, ptrdiff_t n)
{
    return tc_sum_f32_ref_(x, n);
}

float tc_max_f32_avx2_(const float *x, ptrdiff_t n)
{
    return tc_max_f32_ref_(x, n);
}
