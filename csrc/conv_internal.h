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

/* im2col of one group, as a GEMM B packer (see conv_im2col_body.h). */
typedef struct {
    const float *x; /* input of one group: [Cg][sh][sw][hph][wp] phase planes, zero padded */
    size_t cstride; /* floats per channel: sh * sw * pplane */
    size_t pplane;  /* floats per phase plane: hph * wp */
    int wp;         /* row length of a phase plane */
    int OW, KH, KW, sh, sw, dh, dw;
} tc_im2col_b;

void tc_pack_b_im2col_portable(const void *arg, int k0, int kc, int n0, int nc, float *dst,
                               void *scratch, int new_k);
#ifdef TC_HAVE_AVX2_SOURCES
void tc_pack_b_im2col_avx2(const void *arg, int k0, int kc, int n0, int nc, float *dst,
                           void *scratch, int new_k);
#endif

#endif
