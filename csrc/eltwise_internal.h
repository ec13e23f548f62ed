/* Private helpers shared by eltwise.c, norm.c and eltwise_avx2.c. */
#ifndef TC_ELTWISE_INTERNAL_H
#define TC_ELTWISE_INTERNAL_H
#include "tinycnn.h"

/* Elements per thread below which element-wise work stays on one thread. */
#define TC_ELTWISE_GRAIN ((ptrdiff_t)1 << 16)

/* One contiguous run of a binary op: y[i] = a[i*sa] op b[i*sb], sa, sb in {0, 1}. */
void tc_binary_run_ref_(int op, const float *a, int sa, const float *b, int sb, float *y, ptrdiff_t n);
void tc_unary_run_ref_(int op, float alpha, float beta, const float *x, float *y, ptrdiff_t n);

#ifdef TC_HAVE_AVX2_SOURCES
/* Return 1 when handled, 0 to fall back to the reference. */
int tc_binary_run_avx2_(int op, const float *a, int sa, const float *b, int sb, float *y, ptrdiff_t n);
int tc_unary_run_avx2_(int op, float alpha, float beta, const float *x, float *y, ptrdiff_t n);
#endif

#endif
