/* Private helpers shared by normalize.c and normalize_avx2.c. */
#ifndef TC_NORMALIZE_INTERNAL_H
#define TC_NORMALIZE_INTERNAL_H
#include "tinycnn.h"

#ifdef TC_HAVE_AVX2_SOURCES
void tc_normalize_row_avx2_(const float *x, float *y, ptrdiff_t s, ptrdiff_t chunk, const float *scale,
                            const float *bias, float eps, float *mean, float *inv);
#endif

#endif
