/* Private to conv_transpose.c and conv_transpose_avx2.c: the transposed convolution
 * family's kernel table. */
#ifndef TC_CONV_TRANSPOSE_INTERNAL_H
#define TC_CONV_TRANSPOSE_INTERNAL_H
#include "tinycnn.h"

/* One output row (oz, oy) of one channel from its [KD, KH, KW, D, H, W] block of the GEMM's
 * result (conv_transpose_impl.h); dp is never NULL here. */
typedef void (*tc_col2im_row_fn)(const tc_conv2d_params *p, const tc_conv_depth *dp, int d, int h, int w, int ow,
                                 int oz, int oy, const float *cols, float bias, int act, float *y);

/* The direct path (conv_transpose_impl.h): groups of at most this many GEMM rows
 * K/g * KH * KW whose taps tile the output. */
#define TC_CONVT_DIRECT_M 8

/* Input rows [iy0, iy1) of one group straight to the output rows they tile (p->K = K/group):
 * x [C/g, H, W] with channel stride plane, wt [C/g, M], y [K/g, OH, OW] with channel stride
 * out_plane. */
typedef void (*tc_convt_tile_rows_fn)(const tc_conv2d_params *p, int M, int cg, int w, int iy0, int iy1,
                                      const float *x, ptrdiff_t plane, const float *wt, const float *bias, int act,
                                      float *y, ptrdiff_t out_plane, int ow);

/* The family's kernels for one instruction set: tc_conv_transpose_portable
 * (conv_transpose.c) and tc_conv_transpose_avx2 (conv_transpose_avx2.c); dispatch.c picks
 * one per tc_ctx.  Both give identical results. */
typedef struct tc_conv_transpose_kernels {
    tc_col2im_row_fn col2im_row;
    tc_convt_tile_rows_fn tile_rows;
} tc_conv_transpose_kernels;

extern const tc_conv_transpose_kernels tc_conv_transpose_portable, tc_conv_transpose_avx2;
const tc_conv_transpose_kernels *tc_conv_transpose_kernels_of(const tc_ctx *ctx);

#endif
