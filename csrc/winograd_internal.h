/* winograd_internal.h - pieces shared by winograd.c and winograd_avx2.c.
 *
 * Data layout of one chunk of tiles (see winograd.c):
 *   V: [xi][group][C][w]    transformed input, w = 16 tiles (8 for a short last group)
 *   M: [xi][group][Kp][w]   products, Kp = K rounded up to WG_KR
 *   U: [xi][Kp/WG_KR][C][WG_KR]   packed transformed weights
 * The transforms work on 8 tiles at a time ("lanes"). */
#ifndef TINYCNN_WINOGRAD_INTERNAL_H
#define TINYCNN_WINOGRAD_INTERNAL_H

#include <stddef.h>

#define WG_KR 6     /* output channels per GEMM micro-tile */
#define WG_NR 16    /* tiles per group (GEMM micro-tile width) */
#define WG_LANES 8  /* tiles per transform call */

/* d: [alpha][alpha][8] input patches of 8 tiles -> alpha*alpha vectors of 8,
 * vector xi stored at v + xi * vstride. */
typedef void (*wg_input_fn)(const float *d, float *v, ptrdiff_t vstride);
/* m: alpha*alpha vectors of 8 at m + xi * mstride -> o: [tile][tile][8], plus bias. */
typedef void (*wg_output_fn)(const float *m, ptrdiff_t mstride, float bias, float *o);
/* u: [C][WG_KR]  v: [C][w]  ->  m: [WG_KR][w] = u^T v;  w is 8 or 16. */
typedef void (*wg_gemm_fn)(const float *u, const float *v, int C, int w, float *m);

void tc_wg_input4_avx2(const float *d, float *v, ptrdiff_t vstride);
void tc_wg_input2_avx2(const float *d, float *v, ptrdiff_t vstride);
void tc_wg_output4_avx2(const float *m, ptrdiff_t mstride, float bias, float *o);
void tc_wg_output2_avx2(const float *m, ptrdiff_t mstride, float bias, float *o);
void tc_wg_gemm_avx2(const float *u, const float *v, int C, int w, float *m);

#endif /* TINYCNN_WINOGRAD_INTERNAL_H */
