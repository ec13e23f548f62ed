/* winograd_fallback_avx2.c - AVX2/FMA twins of the fallback's inner kernels in
 * winograd_fallback.c: the 3x3 filters recovered from the transformed weights,
 * and the direct 3x3 sums of one tile (same operation order; only the rounding
 * of fused multiply-adds differs).  Compiled with -mavx2 -mfma. */
#include <immintrin.h>
#include "winograd_internal.h"

void tc_wg_direct3_avx2(const float *g, const float *x, int rows, int cols, float *acc)
{
    __m256 gt[9];
    for (int t = 0; t < 9; t++)
        gt[t] = _mm256_loadu_ps(g + 8 * t);
    for (int i = 0; i < rows; i++) {
        for (int jj = 0; jj < cols; jj++) {
            float *s = acc + (i * 4 + jj) * 8;
            __m256 a = _mm256_loadu_ps(s);
            for (int t = 0; t < 9; t++)
                a = _mm256_fmadd_ps(gt[t], _mm256_broadcast_ss(x + (i + t / 3) * 8 + jj + t % 3), a);
            _mm256_storeu_ps(s, a);
        }
    }
}

void tc_wg_recover_avx2(const float *u, ptrdiff_t plane, int alpha, float *g)
{
    const wg_rrow *R = alpha == 6 ? WG_R4 : WG_R2;
    const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 tol = _mm256_set1_ps(0x1p-21f);
    for (int i = 0; i < 3; i++) {
        for (int jj = 0; jj < 3; jj++) {
            __m256 v = _mm256_setzero_ps(), e = v;
            for (int a = 0; a < R[i].n; a++) {
                for (int b = 0; b < R[jj].n; b++) {
                    const float *ub = u + (R[i].a[a] * alpha + R[jj].a[b]) * plane;
                    __m256 t = _mm256_mul_ps(_mm256_set1_ps(R[i].r[a] * R[jj].r[b]),
                                             _mm256_maskload_ps(ub, six));
                    v = _mm256_add_ps(v, t);
                    e = _mm256_add_ps(e, _mm256_and_ps(t, abs_mask));
                }
            }
            /* |v| <= 2^-21 e: zero (see tc_wg_recover_portable) */
            __m256 zero_it = _mm256_cmp_ps(_mm256_and_ps(v, abs_mask), _mm256_mul_ps(e, tol), _CMP_LE_OQ);
            _mm256_storeu_ps(g + (i * 3 + jj) * 8, _mm256_andnot_ps(zero_it, v));
        }
    }
}
