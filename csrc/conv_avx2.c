/* AVX2 builds of the depthwise kernel and the im2col packer: the depthwise
 * body (depthwise_body.h) on AVX2 vector primitives; the im2col body
 * (conv_im2col_body.h) is plain C that vectorizes 8-wide with -mavx2 -mfma. */
#include <stddef.h>
#include "conv_internal.h"
#include "depthwise_vec_avx2.h"

#define TC_DW_FN dw_plane_avx2
#define TC_DW_UNROLLED 1
#include "depthwise_body.h"

#define TC_IM2COL_FN pack_b_im2col_avx2
#include "conv_im2col_body.h"

/* shared with the AVX-512 row (conv_avx512.c) */
void tc_pack_b_im2col_avx2(const void *arg, int k0, int kc, int n0, int nc, float *dst,
                           void *scratch, int new_k)
{
    pack_b_im2col_avx2(arg, k0, kc, n0, nc, dst, scratch, new_k);
}

const tc_conv_kernels tc_conv_avx2 = {
    .dw_pick = dw_plane_avx2,
    .dw_block_pick = dw_plane_avx2_block_pick,
    .pack_b_im2col = pack_b_im2col_avx2,
};
