/* AVX2 twin of resize.c's plane loops (compiled with -mavx2 -mfma): the same body, with the
 * two-tap columns of linear resizing in gathers. */
#include <immintrin.h>
#include "tinycnn.h"
#include "resize_internal.h"

static void cols2_avx2(const int32_t *idx, const float *w, int out, const float *r, float *y);

#define RESIZE_COLS2 cols2_avx2
#include "resize_impl.h"

/* 8 columns at a time: the interleaved (tap 0, tap 1) pairs of the table split by a lane
 * permutation, each tap's 8 inputs gathered; multiply and add as the scalar loop (no FMA),
 * so the result is the portable one. */
static void cols2_avx2(const int32_t *idx, const float *w, int out, const float *r, float *y)
{
    const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    int j = 0;
    for (; j + 8 <= out; j += 8) {
        __m256i a = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(idx + 2 * j)), split);
        __m256i b = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(idx + 2 * j + 8)), split);
        __m256 wa = _mm256_permutevar8x32_ps(_mm256_loadu_ps(w + 2 * j), split);
        __m256 wb = _mm256_permutevar8x32_ps(_mm256_loadu_ps(w + 2 * j + 8), split);
        __m256i i0 = _mm256_permute2x128_si256(a, b, 0x20), i1 = _mm256_permute2x128_si256(a, b, 0x31);
        __m256 w0 = _mm256_permute2f128_ps(wa, wb, 0x20), w1 = _mm256_permute2f128_ps(wa, wb, 0x31);
        __m256 v = _mm256_add_ps(_mm256_mul_ps(w0, _mm256_i32gather_ps(r, i0, 4)),
                                 _mm256_mul_ps(w1, _mm256_i32gather_ps(r, i1, 4)));
        _mm256_storeu_ps(y + j, v);
    }
    resize_cols2_(idx + 2 * j, w + 2 * j, out - j, r, y + j);
}

const tc_resize_kernels tc_resize_avx2 = {resize_plane_rows_};
