/* AVX-512 build of the depthwise kernel: the depthwise body (depthwise_body.h)
 * on 16-lane primitives (depthwise_vec_avx512.h), compiled with -mavx512f.
 * The im2col packer stays AVX2's: it moves memory, wider vectors do not help it; so does
 * the grouped kernel, whose rows of 7 or 14 outputs would leave 16 lanes half empty. */
#include <stddef.h>
#include "conv_internal.h"
#include "depthwise_vec_avx512.h"

#define TC_DW_FN dw_plane_avx512
#define TC_DW_UNROLLED 1
#include "depthwise_body.h"

const tc_conv_kernels tc_conv_avx512 = {
    .dw_pick = dw_plane_avx512,
    .dw_split_pick = dw_plane_avx512_split_pick,
    .dw_block_pick = dw_plane_avx512_block_pick,
    .pack_b_im2col = tc_pack_b_im2col_avx2,
    .gc_block = tc_gc_block_avx2,
    .gc_copy = tc_gc_copy_avx2,
    .gc8 = tc_gc8_avx2,
    .gc8_copy = tc_gc8_copy_avx2,
    .gc8_direct = tc_gc8_direct_avx2,
    .gc8_wino = tc_gc8_wino_avx2,
    .take_even = tc_take_even_avx2,
    .split_even_odd = tc_split_even_odd_avx2,
    .stem_band = tc_stem_band_avx2,
};
