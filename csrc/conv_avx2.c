/* AVX2 builds of the direct depthwise kernel and the im2col packer: their
 * bodies (conv_dw_body.h, conv_im2col_body.h) are plain C; compiled here with
 * -mavx2 -mfma the inner loops vectorize 8-wide. */
#include <stddef.h>
#include "conv_internal.h"

#define TC_DW_FN dw_plane_avx2
#include "conv_dw_body.h"

#define TC_IM2COL_FN pack_b_im2col_avx2
#include "conv_im2col_body.h"

const tc_conv_kernels tc_conv_avx2 = {
    .dw_plane = dw_plane_avx2,
    .pack_b_im2col = pack_b_im2col_avx2,
};
