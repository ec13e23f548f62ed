/* One checkout's depthwise kernels for benchmarks/dw_ab.sh: depthwise_body.h compiled on AVX2
 * primitives under the names TC_DW_FN (dw_a or dw_b), with its picks exported as PICK (the
 * channel-block, staged and column-split kernels, as conv.c's dw_block_task calls them) and
 * PICKP (the plane kernels).  The include path chooses whose depthwise headers. */
#include "conv_internal.h"
#include "depthwise_vec_avx2.h"
#define TC_DW_UNROLLED 1
#include "depthwise_body.h"

tc_dw_block_fn PICK(const tc_conv2d_params *p, int H, int W, int OH, int OW)
{
    return TC_DW_CAT(TC_DW_FN, _block_pick)(p, H, W, OH, OW);
}
tc_dw_plane_fn PICKP(const tc_conv2d_params *p, int H, int W, int OH, int OW)
{
    return TC_DW_FN(p, H, W, OH, OW);
}
#ifdef PICKS
tc_dw_plane_fn PICKS(const tc_conv2d_params *p, int H, int W, int OH, int OW)
{
    return TC_DW_CAT(TC_DW_FN, _split_pick)(p, H, W, OH, OW);
}
#endif
