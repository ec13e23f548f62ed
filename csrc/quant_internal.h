/* Private to the quantized kernels (quant*.c, qgemm*.c, qconv*.c): onnxruntime's
 * rounding as scalar helpers, the GEMM micro-kernel contract and the SIMD
 * twins' entry points. */
#ifndef TC_QUANT_INTERNAL_H
#define TC_QUANT_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include "tinycnn.h"

/* Round half to even, as cvtps2dq under the default MXCSR, for |v| < 2^31
 * (callers clamp first). */
static inline int32_t tc_rne(float v)
{
    return (int32_t)lrintf(v);
}

/* MLAS's clamp order: max(v, lo) then min(v, hi) as maxps/minps, so a NaN
 * becomes lo. */
static inline float tc_clampf(float v, float lo, float hi)
{
    v = v > lo ? v : lo;
    return v < hi ? v : hi;
}

static inline int32_t tc_sat(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* QLinearAdd's ratios and constant part, as onnxruntime (MLAS) computes them:
 * ra = a_scale / y_scale, rb = b_scale / y_scale,
 * fixed = float(y_zp) - (ra * float(a_zp) + rb * float(b_zp)) with the product sum as
 * one fused multiply-add (as its compiler contracts it), plus a scalar operand's
 * a * ra (or b * rb), multiplied then added. */
static inline float tc_qadd_fixed(const tc_qbinary_params *p, float a_value, int a_scalar,
                                  float b_value, int b_scalar, float *ra, float *rb)
{
    *ra = p->a_scale / p->y_scale;
    *rb = p->b_scale / p->y_scale;
    float fixed = (float)p->y_zero_point -
                  fmaf(*ra, (float)p->a_zero_point, *rb * (float)p->b_zero_point);
    if (a_scalar)
        fixed = fixed + a_value * *ra;
    if (b_scalar)
        fixed = fixed + b_value * *rb;
    return fixed;
}

static inline int32_t tc_q8_load(const void *p, ptrdiff_t i, int is_signed)
{
    return is_signed ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}

static inline void tc_q8_store(void *p, ptrdiff_t i, int32_t v, int is_signed)
{
    if (is_signed)
        ((int8_t *)p)[i] = (int8_t)v;
    else
        ((uint8_t *)p)[i] = (uint8_t)v;
}

/* ---- GEMM micro-kernels ------------------------------------------------- */

/* Packed weights come in panels of QNR = 16 output channels; a micro-kernel
 * computes up to QMR_MAX rows (pixels) by one or two panels. */
#define TC_QNR 16
#define TC_QMR_MAX 12
/* Panels a one-row product (a GEMV: the classifiers) takes per kernel call, their weights
 * read as that many streams (tc_qdriver_run; qgemm_avx2.c u7s8_row_panels_avx2); -D for an A/B */
#ifndef TC_QROW_PANELS
#define TC_QROW_PANELS 4
#endif

/* k values per 32-bit lane of a packed panel: 2 (S16X2) or 4 (S8X4, U8S8X2). */
static inline int tc_qfmt_group(int format) { return format == TC_QFMT_S16X2 ? 2 : 4; }
/* bytes per element of packed weights and packed activation rows */
static inline int tc_qfmt_elem(int format) { return format == TC_QFMT_S16X2 ? 2 : 1; }
static inline int tc_qfmt_kpad(int format, int K)
{
    int g = tc_qfmt_group(format);
    return (K + g - 1) / g * g;
}

/* Output stage of a micro-kernel's columns: effective bias (the input zero point
 * folded in) and scale expanded per column. */
typedef struct tc_qepi {
    const int32_t *bias;  /* [nr] */
    const float *scale;   /* [nr] */
    int type;             /* enum tc_qout_type */
    int zero_point, lo, hi;
    const tc_qresidual *residual; /* or NULL */
    const void *r;        /* the residual at the tile's first element (y's layout) */
    /* U8S8X2: the panel's correction pass, nfix 4-k groups: fix_k[i] the group's first
     * k (an offset in the taps' concatenated klen elements), fix_w[i] its [QNR][4]
     * weights */
    const int32_t *fix_k;
    const int8_t *fix_w;
    int nfix;
    /* U7S8: rows holds each byte's part in the window [base, base + 127] (tc_u7s8_base),
     * min(max(a - base, 0), 127); hi_rows the tile's rows themselves (TC_QMR_MAX pointers,
     * one tap).  Row r's correction pass runs the panel's own weights over its row_nfix[r]
     * 4-k groups at byte offsets fix_k[r * fix_stride + i] (or, row_nfix NULL, only with
     * base 0, every row over the tile's nfix groups at fix_k[i]) with the parts outside:
     * max(a - base - 127, 0) above the window, minus max(base - a, 0) below it */
    const void *const *hi_rows;
    const int *row_nfix;  /* [TC_QMR_MAX], 0 past mr; or NULL */
    int fix_stride, base;
    /* U7S8: the window's width per k (tc_u7s8_limits): [base, base + lim[k]] in place of
     * [base, base + 127] above, where the weights allow more */
    const uint8_t *lim;
    /* every |scale| of the call below 1 (tc_qscales_below1), or 0 when not known: the AVX2
     * byte store then leaves the float clamp to the packs (exact, tc_requant8_hi_avx2) */
    int scale_below1;
    /* U7S8 at base 0 with lim the packing's paired widths (tc_qgemm_pack): two 4-k steps'
     * pair sums may be added in int16 before vpmaddwd (the long kernels), and a part above
     * the window reaches 255 - lim, corrected as two parts of at most 127 and 128 */
    int paired;
    /* a kernel with tc_qukernel.tiles (the AVX2 S16X2 one): this many whole tiles of mr rows
     * in the call (0 or 1: one), one tap, their rows evenly spaced (a block's rows, no taps):
     * tile i's row r at rows[0] + (i * mr + r) * (rows[1] - rows[0]) bytes, the kernel
     * reading only those two pointers (the driver fills no others for the call), its outputs
     * i * mr rows of y further down (8-bit outputs without a residual only) */
    int tiles;
} tc_qepi;

/* 1 when |scale[j]| < 1 for every j < n (NaN: 0): a requantized sum |acc * scale| is then
 * below 2^31, within the float -> int32 conversion without a clamp */
static inline int tc_qscales_below1(const float *scale, int n)
{
    for (int j = 0; j < n; j++)
        if (!(scale[j] < 1.0f && scale[j] > -1.0f))
            return 0;
    return 1;
}

/* U7S8's window of the activations (in the unsigned domain) for zero point zp:
 * [base, base + 127] centred on zp, so that the bytes of a layer whose input is spread
 * around a mid-range zero point mostly fall in it.  base <= 127 keeps every sum of the
 * correction pass within int16 (tinycnn.h); zp <= 64 gives base 0, the low 7 bits. */
/* e's columns from n0 on (a kernel's next panel) to *ep; returns y's address of column n0 */
static inline void *tc_qepi_panel(const tc_qepi *e, int n0, void *y, tc_qepi *ep)
{
    const int ysz = e->type >= TC_QOUT_S32 ? 4 : 1;
    *ep = *e;
    ep->bias += n0;
    ep->scale += n0;
    if (e->residual)
        ep->r = (const char *)e->r + (ptrdiff_t)n0 * ysz;
    return (char *)y + (ptrdiff_t)n0 * ysz;
}

/* The base tc_qdriver_run takes around a mid-range zero point is qgemm.c's u7s8_mid_base
 * since h51-q (with the residual streams' channels in pairs, tinycnn/qdq.py); this one is its
 * start, and the window at 0.  Tried and left then (n34-q, 2026-12-05,
 * benchmarks/u7s8_mid_base.patch, now applied): around a mid-range
 * zero point the window centred for the median of the pair's widths (146-159 on MobileNetV2
 * int8's expansions, where zp - 64 centres 127 and the rest reaches above zp only), base =
 * zp - median / 2 in 1 .. 127, the same bits.  A numpy count on a photograph: 0.7-3.1% of
 * the K >= 64 expansions' row groups with a byte outside at zp - 64, 0.5-2.5% so (noise
 * 0.3-1.5% and 0.1-1.1%; EfficientNet-B0's mostly fewer, two layers more).  Measured (the
 * Xeon, emulated AVX2 1t, both orders against the base): MobileNetV2's K >= 64 expansions
 * summed 0.993 / 0.988 (qsteps.py --input photo, 30 rounds), whole runs (int8_inputs.py, 40
 * rounds) noise 1.004 / 0.993, photo 0.996 / 0.991; EfficientNet-B0 (30 rounds) 1.001 /
 * 1.000 and 1.001 / 0.997: level, the correction pass of those layers being little of them. */
static inline int tc_u7s8_base(int zp)
{
    return zp <= 64 ? 0 : zp - 64 > 127 ? 127 : zp - 64;
}

/* The fused residual QLinearAdd of one element: q requantized, r the residual. */
static inline int32_t tc_qresidual_add(const tc_qresidual *res, int32_t q, int32_t r, int lo,
                                       int hi)
{
    float a = (float)(res->q_is_a ? q : r), b = (float)(res->q_is_a ? r : q);
    float v = fmaf(a, res->ra, fmaf(b, res->rb, res->fixed));
    return tc_sat(tc_rne(tc_clampf(v, -2147483520.0f, 2147483520.0f)), lo, hi);
}

/* rows: ntaps x TC_QMR_MAX row pointers, rows[t * TC_QMR_MAX + r] the klen elements of
 * tap t of row r (uint8 for S8X4, int16 for S16X2; klen a multiple of the format's
 * group); pointers of rows r >= mr repeat row mr - 1's.  A GEMM's rows are one tap of
 * kpad elements; a convolution's may point into the image itself, one tap per kernel
 * position (an indirect convolution: no im2col copy).
 * b: packed panels [ntaps * klen / g][QNR][g], panel j at b + j * ldb bytes
 * y: rows of the output with leading dimension ldy (elements); columns [0, nr) of the
 * tile are stored (nr <= the kernel's nr). */
typedef void (*tc_qukernel_fn)(int ntaps, int klen, const void *const *rows, int mr,
                               const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y,
                               ptrdiff_t ldy);

/* A micro-kernel and its tile: mr <= TC_QMR_MAX rows, nr = 16 or 32 columns; name for
 * tests and benchmarks ("s16x2-avx2", "s8x4-avx512vnni", ...). */
typedef struct tc_qukernel {
    tc_qukernel_fn fn;
    int mr, nr;
    const char *name;
    int tiles; /* fn runs tc_qepi.tiles tiles per call */
} tc_qukernel;

/* The scalar output stage (portable kernels and the SIMD kernels' tails).
 * acc: [mr][ldacc] (uint32: the sums wrap as two's complement). */
void tc_qstore_tile(const uint32_t *acc, int ldacc, int mr, int nr, const tc_qepi *e, void *y,
                    ptrdiff_t ldy);

/* 6 x 16 portable twins of the SIMD kernels (same layouts, same results) */
void tc_qukernel_s8x4_portable(int ntaps, int klen, const void *const *rows, int mr,
    const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy);
void tc_qukernel_s16x2_portable(int ntaps, int klen, const void *const *rows, int mr,
    const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy);
/* U8S8X2: the pairs summed into saturating 16-bit lanes as vpmaddubsw does, so a
 * packing that let a pair saturate would show here too */
void tc_qukernel_u8s8x2_portable(int ntaps, int klen, const void *const *rows, int mr,
    const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy);
/* U7S8: rows of the bytes' parts in the window, then the parts outside it of e->hi_rows
 * over e's groups */
void tc_qukernel_u7s8_portable(int ntaps, int klen, const void *const *rows, int mr,
    const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy);

/* CPU features of the 8-bit kernels: AVX-VNNI (256-bit vpdpbusd) and AVX-512 VNNI
 * (512-bit, with AVX-512 F, BW and VL). */
int tc_cpu_has_avxvnni(void);
int tc_cpu_has_avx512vnni(void);

#ifdef TC_HAVE_AVX2_SOURCES
/* 6 x 16, qgemm_avx2.c and qgemm_avxvnni.c */
void tc_qukernel_s16x2_avx2(int ntaps, int klen, const void *const *rows, int mr,
    const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy);
void tc_qukernel_u8s8x2_avx2(int ntaps, int klen, const void *const *rows, int mr,
    const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy);
void tc_qukernel_u7s8_avx2(int ntaps, int klen, const void *const *rows, int mr,
    const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy);
/* qgemm_tiles_avx2.c: tc_qukernel_s16x2_avx2's ntiles whole 6 x 16 tiles of one panel (one tap,
 * bytes out, no residual; rows as tc_qepi.tiles says) */
void tc_qs16x2_tiles_avx2(int klen, const void *const *rows, const void *b, const tc_qepi *e,
                          int ntiles, char *y, ptrdiff_t ldy);
/* 4 x 16, qgemm_avx2.c: U7S8 over long k */
void tc_qukernel_u7s8_4x16_avx2(int ntaps, int klen, const void *const *rows, int mr,
    const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy);
void tc_qukernel_s8x4_avxvnni(int ntaps, int klen, const void *const *rows, int mr,
    const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy);
/* 12 x 32, qgemm_avx512vnni.c */
void tc_qukernel_s8x4_avx512vnni(int ntaps, int klen, const void *const *rows, int mr,
    const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy);
/* quant_avx2.c: the hot element-wise kernels */
void tc_quantize_run_avx2(const float *x, ptrdiff_t n, float scale, int zp, int lo, int hi,
                          int is_signed, void *y);
void tc_qadd_run_avx2(const tc_qbinary_params *p, const void *a, int a_scalar, const void *b,
                      int b_scalar, void *y, ptrdiff_t n);
void tc_qmul_run_avx2(const tc_qbinary_params *p, const void *a, const void *b, int b_scalar,
                      void *y, ptrdiff_t n);
#endif
/* QLinearAdd of n outputs (a_scalar / b_scalar: that operand is one element for all);
 * the portable twin of tc_qadd_run_avx2, which runs its tails. */
void tc_qadd_run(const tc_qbinary_params *p, const void *a, int a_scalar, const void *b,
                 int b_scalar, void *y, ptrdiff_t n);
/* QLinearMul of n outputs (b_scalar: b is one element for all; a scalar a is swapped into
 * b by the caller, as onnxruntime does); the portable twin of tc_qmul_run_avx2. */
void tc_qmul_run(const tc_qbinary_params *p, const void *a, const void *b, int b_scalar,
                 void *y, ptrdiff_t n);
/* y[i] = table[x[i]], n bytes (y may be x); the portable twin of tc_lookup_run_avx2. */
void tc_lookup_run(const uint8_t *table, const uint8_t *x, ptrdiff_t n, uint8_t *y);
#ifdef TC_HAVE_AVX2_SOURCES
void tc_lookup_run_avx2(const uint8_t *table, const uint8_t *x, ptrdiff_t n, uint8_t *y);
#endif
/* x: [rows, ldx] 8-bit, acc: [cn] (cn <= 64): acc[k] += the sum of column k over the rows,
 * wrapping (int32 mod 2^32); the portable twin of tc_qgap_sum_avx2. */
typedef void (*tc_qgap_sum_fn)(const void *x, ptrdiff_t ldx, ptrdiff_t rows, ptrdiff_t cn,
                               int is_signed, int32_t *acc);
void tc_qgap_sum(const void *x, ptrdiff_t ldx, ptrdiff_t rows, ptrdiff_t cn, int is_signed,
                 int32_t *acc);
#ifdef TC_HAVE_AVX2_SOURCES
void tc_qgap_sum_avx2(const void *x, ptrdiff_t ldx, ptrdiff_t rows, ptrdiff_t cn, int is_signed,
                      int32_t *acc);
#endif
/* The depthwise convolution by output rows (qdw.c): the geometry its two steps share.
 * C channels (cp: rounded up to 16), input width w, output width ow, left pad pl,
 * stride sw and dilation dw along x, KH kernel rows, np pairs of taps per kernel row,
 * cols columns of a pair row, which are the columns u = v * ustep of the image's
 * (ustep = gcd(sw, 2 dw): the others are never read). */
/* ring rows hold TC_QDW_OVER pixels' columns of zeros past cols (for blocks of
 * pixels that overhang the end of a row) */
#define TC_QDW_OVER 3
typedef struct tc_qdw_geom {
    int C, cp, w, ow, pl, sw, dw, KH, np, ustep;
    ptrdiff_t cols;
    int scale_below1; /* tc_qscales_below1 of the C scales (the AVX2 byte store's clamp) */
} tc_qdw_geom;

/* One pair row (qdw.c's layout) from an input row x ([w][C], unsigned or, x_signed, int8),
 * its bytes as they are (the zero point is in the bias): columns outside the image read
 * zero_row (C bytes of the zero point). */
typedef void (*tc_qdw_pair_row_fn)(const uint8_t *x, const uint8_t *zero_row, int x_signed,
                                   const tc_qdw_geom *g, int16_t *prow);
/* One output row ([ow][C] of out->type, r its residual or NULL): prows[ky] the pair row of
 * kernel row ky or NULL (outside the image); w: packed weights; bias, scale: [cp]. */
typedef void (*tc_qdw_out_row_fn)(const int16_t *const *prows, const int16_t *w,
                                  const tc_qdw_geom *g, const int32_t *bias, const float *scale,
                                  const tc_qoutput *out, const void *r, void *y);
void tc_qdw_pair_row_portable(const uint8_t *x, const uint8_t *zero_row, int x_signed,
                              const tc_qdw_geom *g, int16_t *prow);
void tc_qdw_out_row_portable(const int16_t *const *prows, const int16_t *w, const tc_qdw_geom *g,
                             const int32_t *bias, const float *scale, const tc_qoutput *out,
                             const void *r, void *y);
#ifdef TC_HAVE_AVX2_SOURCES
void tc_qdw_pair_row_avx2(const uint8_t *x, const uint8_t *zero_row, int x_signed,
                          const tc_qdw_geom *g, int16_t *prow);
void tc_qdw_out_row_avx2(const int16_t *const *prows, const int16_t *w, const tc_qdw_geom *g,
                         const int32_t *bias, const float *scale, const tc_qoutput *out,
                         const void *r, void *y);
#endif

/* U7S8's split of one tile's rows (the GEMM driver, qgemm.c): rows[r], r < mr, of K bytes
 * -> their parts in the window [base, base + lim[k]], min(max(a - base, 0), lim[k]), to
 * lo + r * kpad (0 from K to kpad), and the byte offsets (a multiple of 4) of the 4-k
 * groups holding a byte outside the window: per_row, row r's to groups + r * stride
 * (nfix[r] of them), else the tile's, where any of its rows has one, to groups (nfix[0]).
 * scratch: kpad bytes.  in_place (base 0, the tile's groups, K == kpad): first only test
 * the rows, and where no byte is above the window (lo would be the rows themselves) write
 * nothing to lo, set nfix[0] = 0 and return 1; else (and without in_place) split, return 0.
 * The portable one (qgemm.c) and its AVX2 twin (qgemm_avx2.c). */
typedef int (*tc_u7s8_split_fn)(const void *const *rows, int mr, int K, int kpad, int base,
                                const uint8_t *lim, int per_row, int in_place, uint8_t *lo,
                                int32_t *groups, int stride, uint8_t *scratch, int *nfix);
int tc_u7s8_split(const void *const *rows, int mr, int K, int kpad, int base, const uint8_t *lim,
                  int per_row, int in_place, uint8_t *lo, int32_t *groups, int stride,
                  uint8_t *scratch, int *nfix);
/* U7S8 at base 0 with the paired widths, a tile read in place (qgemm_u7s8_steps_avx2.c):
 * rows[r], r < mr, of kpad bytes (zero past K) against the paired widths pl and the pair's l
 * (kpad each): the byte offsets of the 8-k steps below kpad & ~7 where some row has a byte
 * above pl, plus 1 where one is above l too, in increasing order to steps (kpad / 8 at most);
 * returns their count.  The kernel (tc_quant_kernels.u7s8_steps) takes them as tc_qepi's
 * fix_k / nfix with lim = l. */
typedef int (*tc_u7s8_scan_fn)(const void *const *rows, int mr, int kpad, const uint8_t *pl,
                               const uint8_t *l, int32_t *steps);
#ifdef TC_HAVE_AVX2_SOURCES
int tc_u7s8_scan_avx2(const void *const *rows, int mr, int kpad, const uint8_t *pl,
                      const uint8_t *l, int32_t *steps);
void tc_qukernel_u7s8_steps_avx2(int ntaps, int klen, const void *const *rows, int mr,
                                 const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y,
                                 ptrdiff_t ldy);
int tc_u7s8_split_avx2(const void *const *rows, int mr, int K, int kpad, int base,
                       const uint8_t *lim, int per_row, int in_place, uint8_t *lo,
                       int32_t *groups, int stride, uint8_t *scratch, int *nfix);
#endif

/* qwinograd_internal.h */
struct tc_qwg_job;
typedef void (*tc_qwg_chunk_fn)(const struct tc_qwg_job *jb, int t0, int nt, int p0, int p1,
                                int prefetch, char *ws);

/* The 8-bit kernels of one tier, a row of dispatch.c's table chosen once (tc_ctx_init,
 * tc_ctx_set_vnni): element-wise runs, the depthwise convolution's two steps (qdw.c), and the
 * GEMM micro-kernel of each packed layout.  s8x4_native: the S8X4 kernel is a SIMD one
 * (vpdpbusd), so 8-bit weights should be packed S8X4 rather than S16X2. */
typedef struct tc_quant_kernels {
    void (*quantize_run)(const float *x, ptrdiff_t n, float scale, int zp, int lo, int hi,
                         int is_signed, void *y);
    void (*qadd_run)(const tc_qbinary_params *p, const void *a, int a_scalar, const void *b,
                     int b_scalar, void *y, ptrdiff_t n);
    void (*qmul_run)(const tc_qbinary_params *p, const void *a, const void *b, int b_scalar,
                     void *y, ptrdiff_t n);
    tc_qdw_pair_row_fn dw_pair_row;
    tc_qdw_out_row_fn dw_out_row;
    tc_qukernel s8x4, s16x2, u8s8x2, u7s8;
    /* U7S8 where kpad >= TC_QU7S8_LONG_K (the tier's fastest tile there) */
    tc_qukernel u7s8_long;
    int s8x4_native;
    /* the integer Winograd's chunk of tiles (qwinograd.c); NULL: the portable one */
    tc_qwg_chunk_fn wg_chunk;
    /* y[i] = table[x[i]]: tc_lookup_u8 and the output stages' lookups (tc_qoutput.lut) */
    void (*lookup_run)(const uint8_t *table, const uint8_t *x, ptrdiff_t n, uint8_t *y);
    /* QLinearGlobalAveragePool's column sums (tc_qgap_sum) */
    tc_qgap_sum_fn gap_sum;
    /* U7S8's split of a tile's rows (tc_u7s8_split) */
    tc_u7s8_split_fn u7s8_split;
    /* three byte planes x, x + s, x + 2 s interleaved into pixels [i0, i1) of y (3 bytes
     * each): a network's RGB input to channels last (tc_transpose_channels) */
    void (*interleave3)(const uint8_t *x, ptrdiff_t s, ptrdiff_t i0, ptrdiff_t i1, uint8_t *y);
    /* the byte maxima of MaxPool's windows over a run of pixels (tc_max8_taps) */
    void (*max8_taps)(const uint8_t *const *taps, int ntaps, ptrdiff_t n, int npix,
                      ptrdiff_t step, int is_signed, uint8_t *y);
    /* y[i] = x[i] ^ flip as int16 (flip 0 or 0x80): S16X2's rows of a 1x1 convolution
     * (tc_qwiden_run); NULL: the fill's own loop */
    void (*widen_run)(const uint8_t *x, ptrdiff_t n, int flip, int16_t *y);
    /* U7S8's long kernels at base 0 over tiles read in place, the steps above the paired
     * widths at the pair's (tc_u7s8_scan_fn); NULL: every tile split (tc_u7s8_split) */
    tc_u7s8_scan_fn u7s8_scan;
    tc_qukernel_fn u7s8_steps;
} tc_quant_kernels;

/* tc_quant_kernels.max8_taps: npix pixels of n bytes, pixel p's taps at taps[t] + p * step
 * (ntaps >= 1 of them; with npix 1, y may be one), y [npix][n]: y[p][k] = max over t of
 * taps[t][p * step + k], as int8 when is_signed, else uint8.  quant.c, quant_avx2.c */
void tc_max8_taps(const uint8_t *const *taps, int ntaps, ptrdiff_t n, int npix, ptrdiff_t step,
                  int is_signed, uint8_t *y);
void tc_qwiden_run_avx2(const uint8_t *x, ptrdiff_t n, int flip, int16_t *y);
void tc_max8_taps_avx2(const uint8_t *const *taps, int ntaps, ptrdiff_t n, int npix,
                       ptrdiff_t step, int is_signed, uint8_t *y);

/* quant.c, quant_avx2.c, qgemm_avxvnni.c, qgemm_avx512vnni.c */
/* tc_quant_kernels.interleave3: quant.c, quant_avx2.c */
void tc_interleave3(const uint8_t *x, ptrdiff_t s, ptrdiff_t i0, ptrdiff_t i1, uint8_t *y);
void tc_interleave3_avx2(const uint8_t *x, ptrdiff_t s, ptrdiff_t i0, ptrdiff_t i1, uint8_t *y);

extern const tc_quant_kernels tc_quant_portable, tc_quant_avx2, tc_quant_avxvnni,
    tc_quant_avx512vnni;
const tc_quant_kernels *tc_quant_kernels_of(const tc_ctx *ctx);

/* The output stage per column, for ncols >= N columns (padding columns repeat the last):
 * bias[n] = out's bias - a_zero_point * colsum[n] (wrapping; colsum NULL: the bias alone),
 * scale[n] = out's scale of column n (0 for int32 outputs, which take no scale). */
static inline void tc_qout_columns(const tc_qoutput *out, int N, int ncols, int a_zero_point,
                                   const int32_t *colsum, int32_t *bias, float *scale)
{
    for (int n = 0; n < ncols; n++) {
        int nn = n < N ? n : N - 1;
        uint32_t b = out->bias ? (uint32_t)out->bias[nn] : 0u;
        if (colsum)
            b -= (uint32_t)a_zero_point * (uint32_t)colsum[n];
        bias[n] = (int32_t)b;
        scale[n] = out->type == TC_QOUT_S32 ? 0.0f : out->per_channel ? out->scale[nn] : out->scale[0];
    }
}

/* U7S8's channel pairing at plan time (qgemm.c): order [K] reordered so that adjacent
 * channels share wide windows; pos, neg [K][N] the int8 weights' positive and negative
 * parts by input channel. */
void tc_qpair_channels(const uint8_t *pos, const uint8_t *neg, int K, int N, int wide,
                       int32_t *order);
/* ... and in runs of four for the long kernels' paired widths (workspace: sums 2 N int16,
 * bound K int32) */
void tc_qquad_channels(const uint8_t *pos, const uint8_t *neg, int K, int N, int32_t *order,
                       int16_t *sums, int32_t *bound);

#endif /* TC_QUANT_INTERNAL_H */
