/* AVX2 twin of conv_transpose.c's col2im row (compiled with -mavx2 -mfma): the same body,
 * with the 2-tap interleave of the 2x2/2 case in unpack instructions. */
#include <immintrin.h>
#include "conv_transpose_internal.h"
#include "epilogue_avx2.h"

static void interleave_avx2(const float *src, ptrdiff_t plane, int kw, int w, float bias, int act, float *y);

#define CONV_TRANSPOSE_INTERLEAVE interleave_avx2
#include "conv_transpose_impl.h"

static void interleave_avx2(const float *src, ptrdiff_t plane, int kw, int w, float bias, int act, float *y)
{
    if (kw != 2) {
        conv_transpose_interleave_(src, plane, kw, w, bias, act, y);
        return;
    }
    const __m256 b = _mm256_set1_ps(bias);
    const float *s0 = src, *s1 = src + plane;
    int ix = 0;
    for (; ix + 8 <= w; ix += 8) {
        __m256 a = tc_act_avx2(tc_act_of(act), _mm256_add_ps(b, _mm256_loadu_ps(s0 + ix)));
        __m256 c = tc_act_avx2(tc_act_of(act), _mm256_add_ps(b, _mm256_loadu_ps(s1 + ix)));
        __m256 lo = _mm256_unpacklo_ps(a, c), hi = _mm256_unpackhi_ps(a, c); /* a0 c0 a1 c1 | a4 c4 a5 c5 */
        _mm256_storeu_ps(y + 2 * ix, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(y + 2 * ix + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
    if (ix < w)
        conv_transpose_interleave_(src + ix, plane, 2, w - ix, bias, act, y + 2 * ix);
}

const tc_conv_transpose_kernels tc_conv_transpose_avx2 = {conv_transpose_row_, conv_transpose_tile_rows_};
