/* AVX2 twin of conv_transpose.c's col2im row (compiled with -mavx2 -mfma): the same body. */
#include "tinycnn.h"
#include "conv_transpose_internal.h"
#include "conv_transpose_impl.h"

void tc_conv_transpose_row_avx2_(const tc_conv2d_params *p, int h, int w, int ow, int oy, const float *cols,
                                 float bias, int act, float *y)
{
    conv_transpose_row_(p, h, w, ow, oy, cols, bias, act, y);
}
