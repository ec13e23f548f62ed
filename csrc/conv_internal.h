/* Private to conv.c, conv_avx2.c and conv_avx512.c: the convolution family's kernel table. */
#ifndef TC_CONV_INTERNAL_H
#define TC_CONV_INTERNAL_H

#include <stddef.h>
#include "gemm_internal.h"

/* Depthwise kernel over one channel plane, see depthwise_body.h.
 * x: [H][W]  zrow: [W] zeros  w: [KH][KW]  residual: [OH][OW] or NULL  y: [OH][OW] */
typedef void (*tc_dw_plane_fn)(const float *x, int H, int W, const float *zrow, const float *w,
                               const tc_conv2d_params *p, float bias, const float *residual,
                               tc_act_k act, int OH, int OW, float *y);
/* The plane kernel for a layer's geometry, picked once per call (depthwise_body.h). */
typedef tc_dw_plane_fn (*tc_dw_pick_fn)(const tc_conv2d_params *p, int H, int W, int OH, int OW);

/* Depthwise kernel over nc <= TC_DW_BLOCK channels at once (small planes, see
 * depthwise_body.h), channels k0..k0 + nc - 1 of a layer without channel multiplier.
 * x: [nc][H][W]  w: [nc][KH][KW]  bias: [K] or NULL  residual: [nc][OH][OW] or NULL
 * y: [nc][OH][OW] */
#define TC_DW_BLOCK 16
typedef void (*tc_dw_block_fn)(const float *x, int H, int W, const float *w,
                               const tc_conv2d_params *p, const float *bias, const float *residual,
                               const tc_activation *act, int k0, int nc, int OH, int OW, float *y);
/* The block kernel for a layer's geometry, or NULL (then tc_dw_pick_fn's). */
typedef tc_dw_block_fn (*tc_dw_block_pick_fn)(const tc_conv2d_params *p, int H, int W, int OH,
                                              int OW);

/* One block of up to 4 output channels of a grouped convolution, see grouped_body.h.
 * xg: the group's zero-padded phase planes  taps: [ntaps] offsets from oh * wph + ow
 * w: [ntaps][4]  bias, act: [nk]  residual: like y or NULL
 * y: nk planes [OH][OW], ldy >= OH * OW floats apart
 * pf: NULL or pf_lines cache lines prefetched into L2 along the way (only hints) */
typedef void (*tc_gc_block_fn)(const float *xg, const ptrdiff_t *taps, int ntaps, int wph, int OH,
                               int OW, ptrdiff_t ldy, const float *w, ptrdiff_t wld, int nk,
                               const float *bias,
                               const float *residual, const tc_act_k *act, float *y,
                               const char *pf, ptrdiff_t pf_lines);

/* The values from x of one group's zero-padded phase planes, column stride 1 or 2 (the
 * zeros are left as they are), see grouped_body.h.  x: [C][h][w]  xp: [C][sh][sw][hph][wph] */
typedef void (*tc_gc_copy_fn)(const float *x, int C, int h, int w, int pt, int pl, int sh, int sw,
                              int hph, int wph, float *xp);

/* One group of a grouped 3x3 convolution of 8 input and 8 output channels per group, its
 * output channels in the lanes (grouped8_avx2.h): xp the group's zero-padded planes
 * [8][hp][wp] (a tc_gc8_copy_fn's), stride S (1 or 2) both ways, rows of OW = 7 or a multiple
 * of 14 outputs; taps: [72] tap (c, ki, kj)'s offset (c * hp + ki) * wp + kj; w: [72][8]
 * the group's weights as conv.c packs them for 8 channels per group; bias: [8] or NULL; act:
 * [8]; y: 8 planes [OH][OW] ldy apart; pf, pf_lines: as tc_gc_block_fn's. */
typedef void (*tc_gc8_fn)(const float *xp, const ptrdiff_t *taps, int hp, int wp, int S, int OH,
                          int OW, ptrdiff_t ldy, const float *w, const float *bias,
                          const tc_act_k *act, float *y, const char *pf, ptrdiff_t pf_lines);

/* x: [8][h][w] -> xp: [8][hp][wp], x at rows pt.., columns pl.., zeros around */
typedef void (*tc_gc8_copy_fn)(const float *x, int h, int w, int pt, int pl, int hp, int wp,
                               float *xp);

/* The same at stride 2 on rows of 14k outputs, pads pt, pl above and left and at most 1 on
 * every side, reading the group's input x [8][h][w] where it lies (no padded copy); taps: [72]
 * tap (c, ki, kj)'s offset (c * h + ki) * w + kj; the rest as tc_gc8_fn's. */
typedef void (*tc_gc8_direct_fn)(const float *x, const ptrdiff_t *taps, int h, int w, int pt,
                                 int pl, int OH, int OW, ptrdiff_t ldy, const float *w8,
                                 const float *bias, const tc_act_k *act, float *y,
                                 const char *pf, ptrdiff_t pf_lines);

/* One group (8 in, 8 out channels) x [8][h][w] at stride 1, pads 1 on every side, h even and w
 * 14 or 28, by Winograd F(2x2, 3x3) (grouped8_avx2.h gc8w_run): not the direct kernels' bits,
 * but each 2x2 tile its own sums, so output rows [r0, r1) (even; 0, h: the whole planes) get
 * the whole group's bits there; y (the planes' first row), ldy .. pf_lines as tc_gc8_fn's. */
typedef void (*tc_gc8_wino_fn)(const float *x, int h, int w, ptrdiff_t ldy, const float *w8,
                               const float *bias, const tc_act_k *act, float *y, const char *pf,
                               ptrdiff_t pf_lines, int r0, int r1);

/* One band of output rows of a direct stem (TC_CONV_ALGO_STEM), see conv_stem_body.h.
 * xp: the band's zero-padded phase planes, output pixel (r, c) at xp + r * wph + c and its
 * tap t at offs[t] from there (the last vector of a row reads up to 8 floats past its last
 * pixel)  w: [ceil(K / 4)][ntaps][4]  bias: [K] or NULL  residual: like y or NULL
 * y: K planes ldy apart, the band's first row at y (rows x OW) */
typedef void (*tc_stem_band_fn)(const float *xp, const ptrdiff_t *offs, int ntaps, int wph, int rows,
                                int OW, const float *w, int K, const float *bias,
                                const float *residual, const tc_activation *act, float *y,
                                ptrdiff_t ldy);

/* C[16][N] = A[16][K] B[K][N] (+ bias[16]) (+ residual), no activation, N a multiple of 16:
 * a the GEMM-packed weights of a 1x1 layer of 16 outputs and K <= TC_GEMM_KC inputs
 * ([3][K][TC_GEMM_MR]); B, C, residual: planes of N floats, ldb / ldc / ldr apart; bias,
 * residual: NULL or not.  The GEMM's bits (see stem_fused_avx2.c). */
typedef void (*tc_stem_project16_fn)(const float *a, int K, int N, const float *b, ptrdiff_t ldb,
                                     const float *bias, const float *res, ptrdiff_t ldr, float *c,
                                     ptrdiff_t ldc);

/* im2col of one group, as a GEMM B packer (see conv_im2col_body.h). */
typedef struct {
    const float *x; /* input of one group: [Cg][sh][sw][hph][wp] phase planes, zero padded */
    size_t cstride; /* floats per channel: sh * sw * pplane */
    size_t pplane;  /* floats per phase plane: hph * wp */
    int wp;         /* row length of a phase plane */
    int OW, KH, KW, sh, sw, dh, dw;
} tc_im2col_b;

/* The convolution family's kernels for one instruction set: tc_conv_portable
 * (conv.c), tc_conv_avx2 (conv_avx2.c) and tc_conv_avx512 (conv_avx512.c: its
 * own depthwise kernel, AVX2's im2col packer); dispatch.c picks one per tc_ctx. */
typedef struct tc_conv_kernels {
    tc_dw_pick_fn dw_pick;
    tc_dw_block_pick_fn dw_block_pick; /* NULL: no block kernel (the portable build) */
    /* The plane kernel over column-split input rows (even columns, then odd: see
     * depthwise_body.h's _split_rows), or NULL where the geometry has none */
    tc_dw_pick_fn dw_split_pick;
    tc_pack_b_fn pack_b_im2col; /* arg: a tc_im2col_b */
    tc_gc_block_fn gc_block;
    tc_gc_copy_fn gc_copy;
    tc_gc8_fn gc8;           /* NULL: none (the portable build) */
    tc_gc8_copy_fn gc8_copy;
    tc_gc8_direct_fn gc8_direct; /* NULL: none */
    tc_gc8_wino_fn gc8_wino;     /* NULL: none */
    /* d[i] = s[2 * i], i < n: a row of a stride-2 phase copy (reads s[0 .. 2n - 2]) */
    void (*take_even)(const float *s, float *d, ptrdiff_t n);
    /* e[i] = s[2 * i], i < (n + 1) / 2, and o[i] = s[2 * i + 1], i < n / 2: a row of a
     * stride-2 phase copy, both column phases in one pass (reads s[0 .. n)) */
    void (*split_even_odd)(const float *s, ptrdiff_t n, float *e, float *o);
    tc_stem_band_fn stem_band;
    /* The 16-channel projection of a stem block's band (stem_fused_avx2.c), or NULL: the GEMM */
    tc_stem_project16_fn stem_project16;
} tc_conv_kernels;

extern const tc_conv_kernels tc_conv_portable, tc_conv_avx2, tc_conv_avx512;
void tc_pack_b_im2col_avx2(const void *arg, int k0, int kc, int n0, int nc, float *dst,
                           void *scratch, int new_k);
void tc_gc_block_avx2(const float *xg, const ptrdiff_t *taps, int ntaps, int wph, int OH, int OW,
                      ptrdiff_t ldy, const float *w, ptrdiff_t wld, int nk, const float *bias,
                      const float *residual, const tc_act_k *act, float *y, const char *pf,
                      ptrdiff_t pf_lines);
void tc_gc_copy_avx2(const float *x, int C, int h, int w, int pt, int pl, int sh, int sw, int hph,
                     int wph, float *xp);
void tc_gc8_avx2(const float *xp, const ptrdiff_t *taps, int hp, int wp, int S, int OH, int OW,
                 ptrdiff_t ldy, const float *w, const float *bias, const tc_act_k *act, float *y,
                 const char *pf, ptrdiff_t pf_lines);
void tc_gc8_copy_avx2(const float *x, int h, int w, int pt, int pl, int hp, int wp, float *xp);
void tc_gc8_direct_avx2(const float *x, const ptrdiff_t *taps, int h, int w, int pt, int pl,
                        int OH, int OW, ptrdiff_t ldy, const float *w8, const float *bias,
                        const tc_act_k *act, float *y, const char *pf, ptrdiff_t pf_lines);
void tc_gc8_wino_avx2(const float *x, int h, int w, ptrdiff_t ldy, const float *w8,
                      const float *bias, const tc_act_k *act, float *y, const char *pf,
                      ptrdiff_t pf_lines, int r0, int r1);
void tc_stem_band_avx2(const float *xp, const ptrdiff_t *offs, int ntaps, int wph, int rows, int OW,
                       const float *w, int K, const float *bias, const float *residual,
                       const tc_activation *act, float *y, ptrdiff_t ldy);
void tc_stem_project16_avx2(const float *a, int K, int N, const float *b, ptrdiff_t ldb,
                            const float *bias, const float *res, ptrdiff_t ldr, float *c,
                            ptrdiff_t ldc);
void tc_take_even_avx2(const float *s, float *d, ptrdiff_t n);
void tc_split_even_odd_avx2(const float *s, ptrdiff_t n, float *e, float *o);
const tc_conv_kernels *tc_conv_kernels_of(const tc_ctx *ctx);

/* d[q] = s[q * sw], q < n: a row of a strided 1x1's input, copied dense (take_even at sw 2) */
static inline void tc_take_strided(void (*take_even)(const float *, float *, ptrdiff_t),
                                   const float *s, float *d, int n, int sw)
{
    if (sw == 2)
        take_even(s, d, n);
    else
        for (int q = 0; q < n; q++)
            d[q] = s[(ptrdiff_t)q * sw];
}

/* Winograd's (r, output tile) of an algorithm, or 0 (conv.c, fire.c). */
static inline int tc_wg_tile(int algo, int *r)
{
    switch (algo) {
    case TC_CONV_ALGO_WINOGRAD_2X2_3X3: *r = 3; return 2;
    case TC_CONV_ALGO_WINOGRAD_4X4_3X3: *r = 3; return 4;
    case TC_CONV_ALGO_WINOGRAD_2X2_5X5: *r = 5; return 2;
    default: *r = 0; return 0;
    }
}

/* Output rows [oh0, oh0 + rows) of a convolution over an image of H input rows, run as an image
 * of their own input rows whose top and bottom pads stand for the rows outside it (or for the
 * real pads): returns its first input row, sets its count of rows *n and its parameters *q.
 * The depthwise bands (conv.c's row bands at 2+ threads, depthwise_body.h's channel-block
 * bands) and the fused inverted-residual blocks (ir_fused.c) all cut their bands so. */
static inline int tc_conv_band_image(const tc_conv2d_params *p, int H, int oh0, int rows, int *n,
                                     tc_conv2d_params *q)
{
    const int lo = oh0 * p->sh - p->pt;
    const int hi = (oh0 + rows - 1) * p->sh - p->pt + (p->KH - 1) * p->dh + 1;
    const int i0 = lo < 0 ? 0 : lo > H ? H : lo, i1 = hi > H ? H : hi < i0 ? i0 : hi;
    *q = *p;
    q->pt = i0 - lo;
    q->pb = hi - i1;
    *n = i1 - i0;
    return i0;
}

/* tc_conv2d_f32 of a grouped layer (TC_CONV_ALGO_GROUPED) over one image, without residual,
 * whose output planes lie ldy >= OH * OW floats apart: a band of output rows written in place
 * into taller planes (pg_fused.c).  workspace: tc_conv2d_workspace_size's for n = 1. */
void tc_conv_grouped_rows_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int h, int w,
                              const float *x, const float *packed, const float *bias,
                              const tc_activation *act, float *y, ptrdiff_t ldy,
                              float *workspace);

/* A direct stem's (TC_CONV_ALGO_STEM) output rows [oh0, oh1) of one image x [C][h][w], on the
 * calling thread (serial: no pool), bit for bit tc_conv2d_f32's: K planes ldy apart from y (its
 * row oh0).  workspace: tc_stem_rows_workspace_size floats (0: not a stem's geometry). */
size_t tc_stem_rows_workspace_size(const tc_conv2d_params *p, int h, int w);
void tc_stem_rows_f32(const tc_ctx *serial, const tc_conv2d_params *p, int h, int w,
                      const float *x, int oh0, int oh1, const float *packed, const float *bias,
                      const tc_activation *act, float *y, ptrdiff_t ldy, float *workspace);

/* The fused bands' shared steps (ir_fused.c; pg_fused.c uses them too).  Whether stage s is
 * a 1x1 layer those bands can run (0 or 1). */
int tc_fused_pointwise_ok(const tc_ir_stage *s);
/* C [M, N] (ldc) = epi(packed . B [K, N] (ldb)) on N pixels with stage s's packed weights,
 * bias, activation and residual ([M, N] (ldr) or NULL), on one thread */
void tc_fused_pointwise(const tc_ctx *serial, const tc_ir_stage *s, int N, const float *B,
                        ptrdiff_t ldb, float *C, ptrdiff_t ldc, const float *residual,
                        ptrdiff_t ldr, float *gemm_ws);
/* ebuf: [E][p1 - p0] rows of a band before (when valid) -> [E][i1 - i0]: moves the rows the
 * new band [i0, i1) shares with the old one [p0, p1) to its front; returns the first row
 * the caller still computes (i0 when none moved) */
int tc_fused_carry_rows(float *ebuf, int E, int w, int valid, int p0, int p1, int i0, int i1);
/* The rows a thread's slot holds from the last band it ran: image b, rows [i0, i1) (b < 0:
 * none).  It heads the slot (TC_FUSED_STATE_FLOATS floats, one cache line), so that a thread
 * that runs the next band of the image in its next chunk carries the halo over too: at 2
 * threads each band is a chunk of its own.  tc_fused_state_reset empties the slots of ctx's
 * threads (`slot` floats apart from workspace's first 64-byte boundary on) before a job. */
typedef struct {
    int b, i0, i1;
} tc_fused_state;
#define TC_FUSED_STATE_FLOATS 16
void tc_fused_state_reset(const tc_ctx *ctx, void *workspace, size_t slot);
/* A chan8 band's halo rows shared with the bands beside it (ir_fused.c's rows mode, h38-mv2):
 * input rows [r0, r1) of every 16-channel strip, rows: [strips][r1 - r0][w][16] floats (a
 * pixel's channels 0-7 then 8-15), ready[strip] set (release) once the strip's rows are there.
 * out[0] / out[1]: the rows the band expands for the band above / below it; in[0] / in[1]: the
 * rows it takes from them where ready (acquire), else expands itself.  The band's input rows
 * [i0, i1) in order: in[0], out[0], its other rows, out[1], in[1] (empty edges: r0 == r1). */
typedef struct {
    int r0, r1;
    float *rows;
    int *ready;
} tc_chan8_edge;
typedef struct {
    tc_chan8_edge out[2], in[2];
} tc_chan8_halo;
/* means[i] = the mean of plane i of y (nplanes planes of `plane` floats), as
 * tc_conv2d_means_f32 sums them (the global average pool's sum), over ctx's threads */
void tc_fused_plane_means(const tc_ctx *ctx, const float *y, ptrdiff_t nplanes, size_t plane,
                          float *means);
/* tc_ir_fused_f32, whose project may be NULL (tc_ir_fused_check and its workspace size take
 * it so too): y is then the depthwise output [N, E, OH, OW], its bands written in place in
 * y's planes, and means ([N, E] or NULL) its planes' means as tc_conv2d_means_f32 gives them
 * (pg_fused.c's pointwise -> depthwise pairs) */
void tc_ir_fused_run(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                     const tc_ir_stage *project, int n, int h, int w, int band, const float *x,
                     const float *residual, float *y, float *means, float *workspace);

/* h44-mn: a 1x1 projection over the nonzero values of its input only (pw_sparse_avx2.c; the
 * packing and sizes in ir_fused.c).  Output channels a pixel's pass keeps in registers. */
#define TC_PW_SPARSE_GROUP 96
/* K2 rounded up to whole 16-channel strips */
static inline size_t tc_pw_sparse_k2p(int K2) { return ((size_t)K2 + 15) & ~(size_t)15; }
/* the groups of 16-channel strips a pass keeps in registers: as even as they come, at most 6
 * strips each (320 channels: 4 x 5, not 6 + 6 + 6 + 2); group g is strips [*s0, *s1) */
static inline void tc_pw_sparse_group(int K2, int g, int *s0, int *s1)
{
    const int strips = (int)(tc_pw_sparse_k2p(K2) / 16), G = (strips + 5) / 6;
    *s0 = strips * g / G, *s1 = strips * (g + 1) / G;
}
static inline int tc_pw_sparse_groups(int K2) { return ((int)(tc_pw_sparse_k2p(K2) / 16) + 5) / 6; }
/* bytes of a pixel's nonzero bits (E / 8, 8 more for the 8-byte reads past the last) */
static inline size_t tc_pw_sparse_mstride(int E) { return ((size_t)E / 8 + 8 + 3) & ~(size_t)3; }
/* floats of tc_pw_sparse_avx2's workspace for n pixels */
size_t tc_pw_sparse_ws_floats(int K2, int E, int n);
/* 0 where tc_pw_sparse_avx2 takes the shape (K2 and E multiples of 8, n >= 8, no PReLU) */
int tc_pw_sparse_check(int K2, int E, int n, const tc_activation *act);
/* y [K2][ldy] = act(W d + bias + residual [K2][ldr]) over n pixels of d [E][ldd], packed:
 * tc_pw_sparse_pack's (all weights finite): the row GEMM's bits (gemm.c, its K blocks) with
 * the products of d's zeros left out.  ws: tc_pw_sparse_ws_floats. */
void tc_pw_sparse_avx2(int K2, int E, int n, const float *packed, const float *bias,
                       const tc_activation *act, const float *d, size_t ldd,
                       const float *residual, size_t ldr, float *y, size_t ldy, float *ws);
/* the same for the output channels of groups [g0, g1) only (a thread's share) */
void tc_pw_sparse_part_avx2(int K2, int E, int n, int g0, int g1, const float *packed,
                            const float *bias, const tc_activation *act, const float *d,
                            size_t ldd, const float *residual, size_t ldr, float *y, size_t ldy,
                            float *ws);

#endif
