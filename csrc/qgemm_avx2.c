/* AVX2 micro-kernel of the 8-bit GEMM for S16X2 weights (in the AVX2 rows of
 * dispatch.c's table: every AVX2 tier).  Its portable twin is tc_qukernel_s16x2_portable.
 *
 * No VNNI: activations and weights are 16-bit, and vpmaddwd multiplies them
 * in pairs straight into 32-bit lanes, so no sum passes through a saturating
 * 16-bit lane (vpmaddubsw's does: 255 * 127 * 2 = 64770 > 32767, which is
 * why onnxruntime keeps weights to 7 bits on such CPUs).  It costs half the
 * throughput of vpmaddubsw + vpmaddwd per instruction pair, and the
 * activation rows are packed to 16 bits first. */
#include "quant_avx2.h"

static inline __m256i madd_step(__m256i c, __m256i a, __m256i b)
{
    return _mm256_add_epi32(c, _mm256_madd_epi16(a, b));
}

/* a: rows of int16 (lda bytes apart), 2 per lane  b: panel [kpad / 2][16][2] int16 */
TC_QUKERNEL_6x16(tc_qukernel_s16x2_avx2, 2, madd_step)
