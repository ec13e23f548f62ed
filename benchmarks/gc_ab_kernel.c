/* One checkout's grouped kernel for benchmarks/gc_ab.sh: grouped_body.h compiled on AVX2
 * primitives under the names TC_GC_FN (gc_a or gc_b) and TC_GC_COPY_FN, exported by PICK.
 * The include path chooses whose headers. */
#include "conv_internal.h"
#include "depthwise_vec_avx2.h"
#include "grouped_body.h"

void PICK(tc_gc_block_fn *block, tc_gc_copy_fn *copy)
{
    *block = TC_GC_FN;
    *copy = TC_GC_COPY_FN;
}
