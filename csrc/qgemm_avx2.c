/* AVX2 micro-kernels of the 8-bit GEMM without VNNI (in the AVX2 rows of dispatch.c's
 * table: every AVX2 tier).  Portable twins: tc_qukernel_s16x2_portable and
 * tc_qukernel_u8s8x2_portable.
 *
 * S16X2: activations and weights are 16-bit, and vpmaddwd multiplies them in pairs
 * straight into 32-bit lanes, so no sum passes through a saturating 16-bit lane.
 * Exact for any weights, but the activation rows are widened to 16 bits first.
 *
 * U8S8X2: activation bytes read in place, vpmaddubsw sums u8 x s8 products in pairs
 * into saturating 16-bit lanes, vpmaddwd by ones widens them: 3 instructions per
 * 4 k x 8 columns against 4 for S16X2.  Exact because the packing (tc_qgemm_pack)
 * keeps every same-sign pair to |w0| + |w1| <= 128 (255 * 128 = 32640 fits int16)
 * and moves the rest of such pairs to a correction pass (tinycnn.h). */
#include "quant_avx2.h"

static inline __m256i madd_step(__m256i c, __m256i a, __m256i b)
{
    return _mm256_add_epi32(c, _mm256_madd_epi16(a, b));
}

static inline __m256i maddubs_step(__m256i c, __m256i a, __m256i b)
{
    return _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b),
                                                 _mm256_set1_epi16(1)));
}

/* a: rows of int16 (lda bytes apart), 2 per lane  b: panel [kpad / 2][16][2] int16 */
TC_QUKERNEL_6x16(tc_qukernel_s16x2_avx2, 2, madd_step, 0)

/* a: rows of uint8, 4 per lane  b: panel [kpad / 4][16][4] int8, then e's corrections */
TC_QUKERNEL_6x16(tc_qukernel_u8s8x2_avx2, 4, maddubs_step, 1)
