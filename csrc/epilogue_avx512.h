/* The fused activation on 16 lanes (AVX-512F), for the kernels compiled with
 * -mavx512f (gemm_avx512.c, conv_avx512.c): ReLU at once, any other kind as
 * AVX2's on both halves (tc_act_avx2, epilogue_avx2.h, is the one definition of
 * every kind's vector form, so the 16-lane kernels give the 8-lane ones' bits). */
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

#endif
