/* The fused activation on 16 lanes (AVX-512F), for the kernels compiled with
 * -mavx512f (gemm_avx512.c, conv_avx512.c, eltwise_avx512.c):
 * - tc_act_avx512: the kinds applied in registers; ReLU at once, any other kind
 *   as AVX2's on both halves (tc_act_avx2, epilogue_avx2.h, is the one definition
 *   of every kind's vector form, so the 16-lane kernels give the 8-lane ones' bits);
 * - the deferred kinds (epilogue.h, tc_act_deferred: Sigmoid, SiLU) as a pass over
 *   rows just stored: the operations of tc_sigmoidf_ / tc_sigmoid_avx2 on 16
 *   lanes, so the bits equal the portable and AVX2 paths'. */
#ifndef TC_EPILOGUE_AVX512_H
#define TC_EPILOGUE_AVX512_H

#include <immintrin.h>
#include "epilogue_avx2.h"

static inline __m512 tc_act_avx512(tc_act_k act, __m512 v)
{
    if (act.kind == TC_ACT_NONE)
        return v;
    if (act.kind == TC_ACT_RELU) /* max(0, v) keeps NaN, as tc_act_f32 */
        return _mm512_max_ps(_mm512_setzero_ps(), v);
    __m256 lo = tc_act_avx2(act, _mm512_castps512_ps256(v));
    __m256 hi = tc_act_avx2(act, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)),
                                               _mm256_castps_pd(hi), 1));
}

#define TC_SV_FN tc_sigmoid_avx512
#define TC_SV __m512
#define TC_SVI __m512i
#define TC_SV_(op) _mm512_##op
#define TC_SV_TOI(v) _mm512_castps_si512(v)
#define TC_SV_TOF(v) _mm512_castsi512_ps(v)
/* AVX-512F has no orps on floats: through the integers */
#define TC_SV_NEGABS(x) _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN)))
/* by x's sign bit (-0 and negative NaNs included), as tc_signbitf_ */
#define TC_SV_SELNEG(x, neg, pos) \
    _mm512_mask_blend_ps(_mm512_cmplt_epi32_mask(_mm512_castps_si512(x), _mm512_setzero_si512()), (pos), (neg))
/* 16 entries: the 8 twice (i's bit 3 is n's lowest, which the entry leaves as it is) */
#define TC_SV_TAB8(i) \
    _mm512_permutexvar_epi32((i), _mm512_broadcast_i64x4(_mm256_setr_epi32(TC_SILU_TAB8)))
#include "sigmoid_vec_body.h"

/* y[i] = sigmoid(x[i]), or SiLU with silu (tc_siluf_); in place when x == y.
 * The tail runs masked: lanes past n are neither read nor written. */
static inline void tc_sigmoid_run_avx512(int silu, const float *x, float *y, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(y + i, tc_sigmoid_avx512(_mm512_loadu_ps(x + i), silu));
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(y + i, m, tc_sigmoid_avx512(_mm512_maskz_loadu_ps(m, x + i), silu));
    }
}

/* tc_act_rows_avx2 on 16 lanes. */
static __attribute__((noinline)) void tc_act_rows_avx512(int kind, float *y, ptrdiff_t ldy, int rows,
                                                         ptrdiff_t cols)
{
    const int silu = kind == TC_ACT_SILU;
    for (int i = 0; i < rows; i++)
        tc_sigmoid_run_avx512(silu, y + i * ldy, y + i * ldy, cols);
}

#endif
