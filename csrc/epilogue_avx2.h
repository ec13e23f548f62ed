/* AVX2 form of the fused activation (see epilogue.h): same results as
 * tc_act_f32, lane by lane.  Included by the *_avx2.c files only. */
#ifndef TC_EPILOGUE_AVX2_H
#define TC_EPILOGUE_AVX2_H

#include <immintrin.h>
#include "epilogue.h"

/* max(0, v), not max(v, 0): maxps returns its second operand when one is NaN,
 * and ReLU keeps NaN (onnxruntime, the portable path). */
static inline __m256 tc_act_avx2(int act, __m256 v)
{
    switch (act) {
    case TC_ACT_RELU:
        return _mm256_max_ps(_mm256_setzero_ps(), v);
    default:
        return v;
    }
}

/* The same on 4 lanes. */
static inline __m128 tc_act_sse(int act, __m128 v)
{
    switch (act) {
    case TC_ACT_RELU:
        return _mm_max_ps(_mm_setzero_ps(), v);
    default:
        return v;
    }
}

#endif
