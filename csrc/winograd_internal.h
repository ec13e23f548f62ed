/* winograd_internal.h - pieces shared by the Winograd files:
 *   winograd.c            the driver: chunk planning, the three phases, threads
 *   winograd_transform.c  the portable input/output transforms, the weight
 *                         transform and packing
 *   winograd_avx2.c       the AVX2 twins of the transforms
 *   winograd_fallback.c   the direct recomputation of non-finite tiles (and
 *                         winograd_fallback_avx2.c, its AVX2 inner kernels)
 * The products run on the GEMM micro-kernel (gemm_internal.h).
 *
 * Data layout of one chunk of tiles (see winograd.c), in the GEMM's packed
 * conventions (A micro-panels [kc][MR], B micro-panels [kc][NR], kc = C):
 *   U: [xi][Kp/WG_KR][C][WG_KR]   packed transformed weights: A panels
 *   V: [xi][group][C][WG_NR]      transformed input: B panels of 16 tiles (a
 *                                 short last group fills only its first 8 columns)
 *   M: [xi][group][Kp][w]         products, Kp = K rounded up to WG_KR, w = 16
 *                                 tiles (8 for a short last group)
 * The transforms work on 8 tiles at a time ("lanes").  Which tile sits in which
 * lane of V and M is each ISA's own business (the AVX2 F(4x4) functions use a
 * permuted order that suits their transposes): the GEMM never looks at lanes,
 * and a run never mixes the functions of two ISAs. */
#ifndef TINYCNN_WINOGRAD_INTERNAL_H
#define TINYCNN_WINOGRAD_INTERNAL_H

#include <stddef.h>
#include "gemm_internal.h"
#include "tinycnn.h"

#define WG_KR TC_GEMM_MR /* output channels per product tile: a GEMM A panel */
#define WG_NR TC_GEMM_NR /* tiles per group: a GEMM B panel */
#define WG_LANES 8       /* tiles per transform call */

/* The (r, m) pairs: F(4x4,3x3), F(2x2,3x3), F(2x2,5x5). */
static inline int tc_wg_supported(int r, int m)
{
    return (r == 3 && (m == 4 || m == 2)) || (r == 5 && m == 2);
}

static inline int tc_wg_round_up(int a, int b) { return (a + b - 1) / b * b; }

/* F(2x2,5x5) also keeps the raw filters, [Kp/WG_KR][C][25][WG_KR], after the
 * transformed ones, for the direct fallback (recovering a 5x5 filter from U
 * would take more than two rows of G per row, and 5x5 layers are few and small). */
static inline size_t tc_wg_raw_floats(int K, int C, int r)
{
    return r == 5 ? (size_t)tc_wg_round_up(K, WG_KR) * C * 25 : 0;
}

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
 * result may not be finite: such a lane is NOT written (its residual, which
 * may be y, is left intact) and the caller recomputes it directly.  F(2x2):
 * a NaN or +-Inf among the 4 values of A^T m A (before bias).  F(4x4): the
 * same test on T = A^T m, the first of the two 1-D stages (a non-finite value
 * of T reaches some output, and every output comes from T), with also
 * |T| >= 2^123 flagged, where the second stage (|coefficients| summing to at
 * most 19) could overflow.  One NaN or Inf in a tile's input, or an overflow
 * in a transform, always flags the tile. */
#define WG_T_LIMIT_BITS 0x7cffffff /* largest float below 2^123 */
#define WG_T_LIMIT 0x1p123f
typedef unsigned (*wg_output_fn)(const float *m, ptrdiff_t mstride, float bias,
                                 float *const *yp, const float *const *rp, ptrdiff_t ys,
                                 const int *rows, const int *cols, tc_act_k act);

/* Row i of R (3 x alpha, R G = I): g row i = sum over its n taps of
 * r[t] * (G g) row a[t]. */
typedef struct {
    int n, a[2];
    float r[2];
} wg_rrow;

static const wg_rrow WG_R4[3] = {{1, {0, 0}, {4.0f, 0.0f}}, {2, {1, 2}, {-3.0f, 3.0f}},
                                 {1, {5, 0}, {1.0f, 0.0f}}};
static const wg_rrow WG_R2[3] = {{1, {0, 0}, {1.0f, 0.0f}}, {2, {1, 2}, {1.0f, -1.0f}},
                                 {1, {3, 0}, {1.0f, 0.0f}}};

/* g: [9][8] <- the 3x3 filters g[k][c] = R U R^T of the WG_KR channels k of a
 * panel (lanes 6, 7: zero), from u: U[0][panel][c][0] of the packed weights,
 * planes xi of U plane floats apart (see tc_wg_recover_portable). */
typedef void (*wg_recover_fn)(const float *u, ptrdiff_t plane, int alpha, float *g);

/* Direct fallback (see tc_wg_direct_panel), 8 output channels at a
 * time: acc[i * 4 + j][8] += sum over the 9 taps t = 3 dy + dx of
 * g[t][8] * x[(i + dy) * 8 + j + dx] for the rows x cols outputs of a tile. */
typedef void (*wg_direct_fn)(const float *g, const float *x, int rows, int cols, float *acc);

/* The entry points of tc_conv2d_*_f32 for the Winograd algorithms: r x r
 * kernels (r = 3, 5), stride 1, dilation 1, group 1; (r, tile) one of (3, 2),
 * (3, 4), (5, 2), else sizes 0 and nothing done.  Contracts: tinycnn.h. */

/* Floats of the packed weights: (tile+r-1)^2 * roundup(K, 6) * C, plus
 * 25 * roundup(K, 6) * C for r = 5 (the raw filters, for the NaN fallback). */
size_t tc_wg_packed_size(int K, int C, int r, int tile);

/* w: [K, C, r, r]  ->  packed: [(tile+r-1)^2][roundup(K,6)/6][C][6] (+ raw filters)
 * (transformed in double precision, on ctx's threads; padding rows are zero). */
void tc_wg_pack_f32(const tc_ctx *ctx, const float *w, int K, int C, int r, int tile,
                    float *packed);

size_t tc_wg_workspace_size(const tc_ctx *ctx, int N, int C, int H, int W, int K, int pad_t,
                            int pad_l, int pad_b, int pad_r, int r, int tile);

/* x: [N, C, H, W]  y: [N, K, OH, OW], OH = H + pad_t + pad_b - (r - 1), ... */
void tc_wg_f32(const tc_ctx *ctx, const float *x, int N, int C, int H, int W,
               const float *packed, const float *bias, int K, int pad_t, int pad_l, int pad_b,
               int pad_r, int r, int tile, const tc_activation *act, const float *residual, float *y,
               float *workspace);
/* tc_wg_f32 with y's (and the residual's) planes ldy >= OH * OW floats apart (an image K * ldy
 * floats): the rows of a band of bigger planes (fire.c).  The same bits as tc_wg_f32. */
void tc_wg_f32_ldy(const tc_ctx *ctx, const float *x, int N, int C, int H, int W,
                   const float *packed, const float *bias, int K, int pad_t, int pad_l, int pad_b,
                   int pad_r, int r, int tile, const tc_activation *act, const float *residual,
                   float *y, ptrdiff_t ldy, float *workspace);

/* The Winograd family's kernels for one instruction set: tc_wg_portable
 * (winograd_transform.c) and tc_wg_avx2 (winograd_avx2.c); dispatch.c picks
 * one per tc_ctx.  input6 serves F(4x4,3x3) and F(2x2,5x5) (the same B^T).
 * The products take the GEMM family's micro-kernels of the same ctx. */
typedef struct tc_wg_kernels {
    wg_input_fn input6, input4;                           /* alpha = 6, 4 */
    wg_output_fn output_4x4_3x3, output_2x2_3x3, output_2x2_5x5;
    wg_recover_fn recover;
    wg_direct_fn direct3;
} tc_wg_kernels;

extern const tc_wg_kernels tc_wg_portable, tc_wg_avx2;
const tc_wg_kernels *tc_wg_kernels_of(const tc_ctx *ctx);

/* The fallback's inner kernels (winograd_fallback.c, winograd_fallback_avx2.c). */
void tc_wg_recover_portable(const float *u, ptrdiff_t plane, int alpha, float *g);
void tc_wg_direct3_portable(const float *g, const float *x, int rows, int cols, float *acc);
void tc_wg_recover_avx2(const float *u, ptrdiff_t plane, int alpha, float *g);
void tc_wg_direct3_avx2(const float *g, const float *x, int rows, int cols, float *acc);

/* One run of tc_wg_f32, pointed at one chunk of tiles (winograd.c). */
typedef struct {
    const float *x;
    int N, C, H, W, K, Kp;
    int pt, pl, r, m, alpha, OH, OW, nty, ntx;
    const float *packed, *raw, *bias, *res; /* raw: the filters, for r = 5 */
    float *y;
    ptrdiff_t ldy; /* floats between the planes of y and of the residual (OH * OW, or more:
                      a band of rows of bigger planes, fire.c); an image is K of them */
    const tc_activation *act; /* NULL: none */
    float *V, *M;
    ptrdiff_t t0; /* first tile of the chunk */
    int nt, ng; /* tiles in chunk, groups */
    ptrdiff_t vstride, mstride; /* floats between the planes of V and of M */
    wg_input_fn input;
    wg_output_fn output;
    wg_recover_fn recover;
    wg_direct_fn direct;
    const tc_gemm_kernels *gemm; /* the products' micro-kernels */
} wg_job;

/* Recomputes directly, for each channel k = p * WG_KR + r of output panel p,
 * the tiles in bad[r] (bit l: tile g * WG_NR + l of the chunk), whose outputs
 * (channel 0) start at off[l], rows[l] x cols[l] of them (winograd_fallback.c). */
void tc_wg_direct_panel(const wg_job *j, int g, int p, const unsigned *bad, const ptrdiff_t *off,
                        const int *rows, const int *cols);

#endif /* TINYCNN_WINOGRAD_INTERNAL_H */
