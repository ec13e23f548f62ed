/* AVX2 build of the depthwise direct kernel (the body in conv_dw_body.h is
 * plain C; compiled here with -mavx2 -mfma its ow loops vectorize 8-wide). */
#include <stddef.h>
#include "conv_internal.h"

#define TC_DW_FN tc_conv_dw_plane_avx2
#include "conv_dw_body.h"
