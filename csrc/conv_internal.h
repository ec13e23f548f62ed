/* Private to conv.c and conv_avx2.c. */
#ifndef TC_CONV_INTERNAL_H
#define TC_CONV_INTERNAL_H

#include <stddef.h>

/* Depthwise direct kernel over one channel plane, see conv_dw_body.h. */
void tc_conv_dw_plane_portable(const float *xp, int Wp, const float *w, int KH, int KW, int sh,
                               int sw, int dh, int dw, float bias, const float *residual, int relu,
                               int OH, int OW, float *acc, float *y);
#ifdef TC_HAVE_AVX2_SOURCES
void tc_conv_dw_plane_avx2(const float *xp, int Wp, const float *w, int KH, int KW, int sh, int sw,
                           int dh, int dw, float bias, const float *residual, int relu, int OH,
                           int OW, float *acc, float *y);
#endif

#endif
