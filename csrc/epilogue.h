/* The activation of every fused epilogue (GEMM tiles, GEMV, depthwise,
 * Winograd, the reference convolution), scalar form; the AVX2 form is in
 * epilogue_avx2.h.  Adding an activation: a value in enum tc_act (tinycnn.h),
 * a case here and one in tc_act_avx2, and, if it takes parameters, fields
 * next to `act` in tc_epilogue and tc_tile_epi. */
#ifndef TC_EPILOGUE_H
#define TC_EPILOGUE_H

#include "tinycnn.h"

static inline float tc_act_f32(int act, float v)
{
    switch (act) {
    case TC_ACT_RELU:
        return v < 0.0f ? 0.0f : v; /* NaN stays NaN, like onnxruntime */
    default:
        return v;
    }
}

#endif
