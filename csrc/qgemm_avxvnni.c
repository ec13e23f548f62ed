/* AVX-VNNI micro-kernel of the 8-bit GEMM for S8X4 weights (called only when
 * ctx->isa == TC_ISA_AVX2 and the CPU has AVX-VNNI; setup.py compiles this
 * file with -mavx2 -mfma -mavxvnni).  Its portable twin is
 * tc_qukernel_s8x4_portable.  vpdpbusd adds the four products of unsigned
 * activation bytes and signed weight bytes straight to 32-bit lanes: exact. */
#include "quant_avx2.h"

static inline __m256i dpbusd_step(__m256i c, __m256i a, __m256i b)
{
    return _mm256_dpbusd_avx_epi32(c, a, b);
}

/* a: rows of uint8 (lda bytes apart), 4 per lane  b: panel [kpad / 4][16][4] int8 */
TC_QUKERNEL_6x16(tc_qukernel_s8x4_avxvnni, 4, dpbusd_step)
