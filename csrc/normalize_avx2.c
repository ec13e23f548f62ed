/* AVX2 twin of normalize.c's row loop (compiled with -mavx2 -mfma): the same body. */
#include "tinycnn.h"
#include "normalize_internal.h"
#include "normalize_impl.h"

void tc_normalize_row_avx2_(const float *x, float *y, ptrdiff_t s, ptrdiff_t chunk, const float *scale,
                            const float *bias, float eps, float *mean, float *inv)
{
    normalize_row_(x, y, s, chunk, scale, bias, eps, mean, inv);
}
