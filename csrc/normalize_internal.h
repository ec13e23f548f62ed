/* Private to normalize.c and normalize_avx2.c: the normalisation family's kernel table. */
#ifndef TC_NORMALIZE_INTERNAL_H
#define TC_NORMALIZE_INTERNAL_H
#include "tinycnn.h"

/* One row: y = (x - mean) * inv_std * scale[i / chunk] + bias[i / chunk], its mean and
 * inv_std returned (normalize_impl.h). */
typedef void (*tc_normalize_row_fn)(const float *x, float *y, ptrdiff_t s, ptrdiff_t chunk, const float *scale,
                                    const float *bias, float eps, float *mean, float *inv);

/* The family's kernels for one instruction set: tc_normalize_portable (normalize.c) and
 * tc_normalize_avx2 (normalize_avx2.c); dispatch.c picks one per tc_ctx.  Both give
 * identical results. */
typedef struct tc_normalize_kernels {
    tc_normalize_row_fn row;
} tc_normalize_kernels;

extern const tc_normalize_kernels tc_normalize_portable, tc_normalize_avx2;
const tc_normalize_kernels *tc_normalize_kernels_of(const tc_ctx *ctx);

#endif
