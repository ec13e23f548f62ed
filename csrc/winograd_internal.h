/* winograd_internal.h - pieces shared by winograd.c and winograd_avx2.c.
 *
 * Data layout of one chunk of tiles (see winograd.c):
 *   V: [xi][group][C][w]    transformed input, w = 16 tiles (8 for a short last group)
 *   M: [xi][group][Kp][w]   products, Kp = K rounded up to WG_KR
 *   U: [xi][Kp/WG_KR][C][WG_KR]   packed transformed weights
 * The transforms work on 8 tiles at a time ("lanes").  Which tile sits in which
 * lane of V and M is each ISA's own business (the AVX2 F(4x4) functions use a
 * permuted order that suits their transposes): the GEMM never looks at lanes,
 * and a run never mixes the functions of two ISAs. */
#ifndef TINYCNN_WINOGRAD_INTERNAL_H
#define TINYCNN_WINOGRAD_INTERNAL_H

#include <stddef.h>

#define WG_KR 6     /* output channels per GEMM micro-tile */
#define WG_NR 16    /* tiles per group (GEMM micro-tile width) */
#define WG_LANES 8  /* tiles per transform call */

/* Input transform of 8 tiles of one channel.  Row i of lane l's alpha x alpha
 * patch starts at lp[l] + i * ls[l]; each row may be read up to 8 floats wide
 * (the caller guarantees they are readable).  Writes alpha*alpha vectors of
 * 8 lanes, vector xi at v + xi * vstride. */
typedef void (*wg_input_fn)(const float *const *lp, const ptrdiff_t *ls, float *v,
                            ptrdiff_t vstride);

/* Output transform of 8 tiles of one output channel: alpha*alpha vectors of
 * 8 lanes at m + xi * mstride -> y = act(A^T m A + bias + residual).  Lane l
 * writes rows[l] x cols[l] values at yp[l] + i * ys + j (residual at
 * rp[l] + i * ys + j when rp[l] is not NULL); rows[l] == 0 skips the lane.
 * Returns the lanes (bit l: lane l, whatever the ISA's order inside m) whose
 * A^T m A has a NaN or an infinity among its m x m values, before bias: such
 * a lane is NOT written (its residual, which may be y, is left intact) and the
 * caller recomputes it directly.  One NaN or Inf in a tile's input, or an
 * overflow in a transform, makes at least one value of the tile non-finite. */
typedef unsigned (*wg_output_fn)(const float *m, ptrdiff_t mstride, float bias,
                                 float *const *yp, const float *const *rp, ptrdiff_t ys,
                                 const int *rows, const int *cols, int act);

/* u: [C][WG_KR]  v: [C][w]  ->  m: [WG_KR][w] = u^T v;  w is 8 or 16. */
typedef void (*wg_gemm_fn)(const float *u, const float *v, int C, int w, float *m);

void tc_wg_input4_avx2(const float *const *lp, const ptrdiff_t *ls, float *v, ptrdiff_t vstride);
void tc_wg_input2_avx2(const float *const *lp, const ptrdiff_t *ls, float *v, ptrdiff_t vstride);
unsigned tc_wg_output4_avx2(const float *m, ptrdiff_t mstride, float bias, float *const *yp,
                            const float *const *rp, ptrdiff_t ys, const int *rows,
                            const int *cols, int act);
unsigned tc_wg_output2_avx2(const float *m, ptrdiff_t mstride, float bias, float *const *yp,
                            const float *const *rp, ptrdiff_t ys, const int *rows,
                            const int *cols, int act);
void tc_wg_gemm_avx2(const float *u, const float *v, int C, int w, float *m);

#endif /* TINYCNN_WINOGRAD_INTERNAL_H */
