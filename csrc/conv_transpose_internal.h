/* Private helpers shared by conv_transpose.c and conv_transpose_avx2.c. */
#ifndef TC_CONV_TRANSPOSE_INTERNAL_H
#define TC_CONV_TRANSPOSE_INTERNAL_H
#include "tinycnn.h"

#ifdef TC_HAVE_AVX2_SOURCES
void tc_conv_transpose_row_avx2_(const tc_conv2d_params *p, int h, int w, int ow, int oy, const float *cols,
                                 float bias, int act, float *y);
#endif

#endif
