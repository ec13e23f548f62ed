/* AVX-VNNI micro-kernel of the 8-bit GEMM for S8X4 weights (the
 * avxvnni row of dispatch.c's table, chosen by tc_ctx_set_vnni when the CPU has AVX-VNNI; setup.py compiles this
 * file with -mavx2 -mfma -mavxvnni).  Its portable twin is
 * tc_qukernel_s8x4_portable.  vpdpbusd adds the four products of unsigned
 * activation bytes and signed weight bytes straight to 32-bit lanes: exact. */
#include "quant_avx2.h"
#include "qwinograd_internal.h"

static inline __m256i dpbusd_step(__m256i c, __m256i a, __m256i b)
{
    return _mm256_dpbusd_avx_epi32(c, a, b);
}

/* a: rows of uint8 (lda bytes apart), 4 per lane  b: panel [kpad / 4][16][4] int8 */
TC_QUKERNEL_6x16(tc_qukernel_s8x4_avxvnni, 4, dpbusd_step, 0)

/* The row of the 8-bit kernels' table (dispatch.c) on this VNNI tier: AVX2's element-wise
 * kernels, vpdpbusd for S8X4 weights. */
const tc_quant_kernels tc_quant_avxvnni = {
    tc_quantize_run_avx2, tc_qadd_run_avx2, tc_qmul_run_avx2, tc_qdw_pair_row_avx2,
    tc_qdw_out_row_avx2,
    {tc_qukernel_s8x4_avxvnni, 6, 16, "s8x4-avxvnni"},
    {tc_qukernel_s16x2_avx2, 6, 16, "s16x2-avx2", 1},
    {tc_qukernel_u8s8x2_avx2, 6, 16, "u8s8x2-avx2"},
    {tc_qukernel_u7s8_avx2, 6, 16, "u7s8-avx2"},
    {tc_qukernel_u7s8_4x16_avx2, 4, 16, "u7s8-4x16-avx2"},
    1,
    tc_qwg_chunk_avx2,
    tc_lookup_run_avx2,
    tc_qgap_sum_avx2,
    tc_u7s8_split_avx2,
    tc_interleave3_avx2,
    tc_max8_taps_avx2,
    tc_qwiden_run_avx2,
};
