/* AVX2 twin of resize.c's plane loops (compiled with -mavx2 -mfma): the same body, with the
 * two-tap columns of linear resizing in permutes of one loaded vector (or gathers). */
#include <immintrin.h>
#include "tinycnn.h"
#include "resize_internal.h"

static void cols2_avx2(const int32_t *idx, const float *w, int out, const float *r, int n, float *y);

#define RESIZE_COLS2 cols2_avx2
#include "resize_impl.h"

/* 8 columns at a time: the interleaved (tap 0, tap 1) pairs of the table split by a lane
 * permutation; where all 16 taps read r[b .. b + 8) (upsampling: 8 outputs of an 8x resize
 * read 2 inputs, of a 2x one 5), b the first tap, those 8 floats are loaded once and each
 * tap's inputs picked by a lane permutation, else each tap's 8 inputs are gathered (a
 * gather of 8 costs several times a permute).  Multiply and add as the scalar loop (no
 * FMA), so the result is the portable one.  LRASPP's 21 x 64x64 -> 512x512 (AVX2 emulation,
 * 1 thread, 2026-12-01, lone Resize alternating with the gathers, loaded host): 0.83 of the
 * gathers' time; its 128 x 32x32 -> 64x64 0.94. */
static void cols2_avx2(const int32_t *idx, const float *w, int out, const float *r, int n, float *y)
{
    const __m256i not_lane = _mm256_set1_epi32(~7);
    const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    int j = 0;
    for (; j + 8 <= out; j += 8) {
        __m256i a = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(idx + 2 * j)), split);
        __m256i b = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(idx + 2 * j + 8)), split);
        __m256 wa = _mm256_permutevar8x32_ps(_mm256_loadu_ps(w + 2 * j), split);
        __m256 wb = _mm256_permutevar8x32_ps(_mm256_loadu_ps(w + 2 * j + 8), split);
        __m256i i0 = _mm256_permute2x128_si256(a, b, 0x20), i1 = _mm256_permute2x128_si256(a, b, 0x31);
        __m256 w0 = _mm256_permute2f128_ps(wa, wb, 0x20), w1 = _mm256_permute2f128_ps(wa, wb, 0x31);
        const int base = idx[2 * j];
        __m256 v0, v1;
        if (base <= n - 8) {
            const __m256i bv = _mm256_set1_epi32(base);
            __m256i d0 = _mm256_sub_epi32(i0, bv), d1 = _mm256_sub_epi32(i1, bv);
            if (_mm256_testz_si256(_mm256_or_si256(d0, d1), not_lane)) {
                const __m256 rv = _mm256_loadu_ps(r + base);
                v0 = _mm256_permutevar8x32_ps(rv, d0);
                v1 = _mm256_permutevar8x32_ps(rv, d1);
            } else {
                v0 = _mm256_i32gather_ps(r, i0, 4);
                v1 = _mm256_i32gather_ps(r, i1, 4);
            }
        } else {
            v0 = _mm256_i32gather_ps(r, i0, 4);
            v1 = _mm256_i32gather_ps(r, i1, 4);
        }
        __m256 v = _mm256_add_ps(_mm256_mul_ps(w0, v0), _mm256_mul_ps(w1, v1));
        _mm256_storeu_ps(y + j, v);
    }
    resize_cols2_(idx + 2 * j, w + 2 * j, out - j, r, n, y + j);
}

const tc_resize_kernels tc_resize_avx2 = {resize_plane_rows_, resize_plane_cols_first_};
