/* The AVX2 output stage of the quantized kernels (included by quant_avx2.c,
 * qgemm_avx2.c and qgemm_avxvnni.c, compiled with -mavx2 -mfma): 16 columns
 * of 32-bit sums, held in two registers (columns 0-7 and 8-15), to their
 * output type.  The same operations as tc_qstore_tile, eight lanes at a time. */
#ifndef TC_QUANT_AVX2_H
#define TC_QUANT_AVX2_H

#include <immintrin.h>
#include <string.h>
#include "quant_internal.h"

/* Loop-invariant parts of tc_qepi as vectors. */
typedef struct tc_qepi_avx2 {
    __m256i bias0, bias1, zp;
    __m256 scale0, scale1, flo, fhi;
} tc_qepi_avx2;

static inline tc_qepi_avx2 tc_qepi_avx2_load(const int32_t *bias, const float *scale,
                                             int zero_point, int lo, int hi)
{
    tc_qepi_avx2 v;
    v.bias0 = _mm256_loadu_si256((const __m256i *)bias);
    v.bias1 = _mm256_loadu_si256((const __m256i *)(bias + 8));
    v.scale0 = _mm256_loadu_ps(scale);
    v.scale1 = _mm256_loadu_ps(scale + 8);
    v.zp = _mm256_set1_epi32(zero_point);
    v.flo = _mm256_set1_ps((float)(lo - zero_point));
    v.fhi = _mm256_set1_ps((float)(hi - zero_point));
    return v;
}

/* requantize 8 sums (bias already added): max, min, then round half to even */
static inline __m256i tc_requant8_avx2(__m256i acc, __m256 scale, const tc_qepi_avx2 *v)
{
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale);
    f = _mm256_min_ps(_mm256_max_ps(f, v->flo), v->fhi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), v->zp);
}

/* 16 int32 in [-128, 255] (columns 0-7 in a, 8-15 in b) -> 16 bytes in order */
static inline __m128i tc_pack16_avx2(__m256i a, __m256i b, int is_signed)
{
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
    __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
    return is_signed ? _mm_packs_epi16(lo, hi) : _mm_packus_epi16(lo, hi);
}

/* The fused residual QLinearAdd of 8 requantized values q and residuals r (int32). */
static inline __m256i tc_qresidual_add8_avx2(const tc_qresidual *res, __m256i q, __m256i r)
{
    __m256 qf = _mm256_cvtepi32_ps(q), rf = _mm256_cvtepi32_ps(r);
    __m256 a = res->q_is_a ? qf : rf, b = res->q_is_a ? rf : qf;
    __m256 f = _mm256_fmadd_ps(a, _mm256_set1_ps(res->ra),
                               _mm256_fmadd_ps(b, _mm256_set1_ps(res->rb),
                                               _mm256_set1_ps(res->fixed)));
    f = _mm256_min_ps(_mm256_max_ps(f, _mm256_set1_ps(-2147483520.0f)),
                      _mm256_set1_ps(2147483520.0f));
    return _mm256_cvtps_epi32(f);  /* saturated to 8 bits by tc_pack16_avx2 */
}

/* Store columns [0, nr) of one row: acc0/acc1 are the raw sums (no bias); r: the
 * row's residual (a fused QLinearAdd) or NULL. */
static inline void tc_qstore_row_avx2(__m256i acc0, __m256i acc1, int type,
                                      const tc_qepi_avx2 *v, const tc_qresidual *res,
                                      const void *r, int nr, void *y)
{
    acc0 = _mm256_add_epi32(acc0, v->bias0);
    acc1 = _mm256_add_epi32(acc1, v->bias1);
    if (type == TC_QOUT_U8 || type == TC_QOUT_S8) {
        __m256i q0 = tc_requant8_avx2(acc0, v->scale0, v), q1 = tc_requant8_avx2(acc1, v->scale1, v);
        if (res) {
            uint8_t tmp[16];
            const void *rp = r;
            if (nr < 16) {
                memcpy(tmp, r, nr);
                rp = tmp;
            }
            __m128i rb = _mm_loadu_si128((const __m128i *)rp);
            __m256i r0 = type == TC_QOUT_S8 ? _mm256_cvtepi8_epi32(rb) : _mm256_cvtepu8_epi32(rb);
            rb = _mm_srli_si128(rb, 8);
            __m256i r1 = type == TC_QOUT_S8 ? _mm256_cvtepi8_epi32(rb) : _mm256_cvtepu8_epi32(rb);
            q0 = tc_qresidual_add8_avx2(res, q0, r0);
            q1 = tc_qresidual_add8_avx2(res, q1, r1);
        }
        __m128i q = tc_pack16_avx2(q0, q1, type == TC_QOUT_S8);
        if (nr == 16) {
            _mm_storeu_si128((__m128i *)y, q);
        } else {
            uint8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, q);
            memcpy(y, tmp, nr);
        }
        return;
    }
    float tf[16];
    int32_t ti[16];
    void *dst = nr == 16 ? y : (type == TC_QOUT_S32 ? (void *)ti : (void *)tf);
    if (type == TC_QOUT_S32) {
        _mm256_storeu_si256((__m256i *)dst, acc0);
        _mm256_storeu_si256((__m256i *)dst + 1, acc1);
    } else {
        _mm256_storeu_ps((float *)dst, _mm256_mul_ps(_mm256_cvtepi32_ps(acc0), v->scale0));
        _mm256_storeu_ps((float *)dst + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(acc1), v->scale1));
    }
    if (nr < 16)
        memcpy(y, dst, (size_t)nr * 4);
}

/* 4 unaligned bytes as a broadcast lane */
static inline __m256i tc_bcast32_avx2(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* c + the int32 sums of a's unsigned bytes times b's signed ones, 4 k per lane (vpmaddubsw's int16
 * pair sums widened by vpmaddwd against 1) */
static inline __m256i tc_maddubs_step_avx2(__m256i c, __m256i a, __m256i b)
{
    return _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b),
                                                 _mm256_set1_epi16(1)));
}

/* two 4-k steps of one row, their pair sums added in int16 (U7S8's paired widths) */
static inline __m256i tc_paired_step_avx2(__m256i c, __m256i a, __m256i a4, __m256i b, __m256i b4)
{
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(a, b), _mm256_maddubs_epi16(a4, b4));
    return _mm256_add_epi32(c, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* the bytes of x that are not 0, one bit each */
static inline uint32_t tc_nonzero_mask_avx2(__m256i x)
{
    return ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_setzero_si256()));
}

/* One k step of the 4 x 16 tile (U7S8's for long k): a broadcast lane of each of the 4 rows
 * (at byte off) times the two 8-column halves b0, b1. */
#define TC_Q4x16_STEP(STEP, off, b0, b1)                                                     \
    do {                                                                                     \
        __m256i av;                                                                          \
        av = tc_bcast32_avx2(a0 + (off)); c00 = STEP(c00, av, b0); c01 = STEP(c01, av, b1); \
        av = tc_bcast32_avx2(a1 + (off)); c10 = STEP(c10, av, b0); c11 = STEP(c11, av, b1); \
        av = tc_bcast32_avx2(a2 + (off)); c20 = STEP(c20, av, b0); c21 = STEP(c21, av, b1); \
        av = tc_bcast32_avx2(a3 + (off)); c30 = STEP(c30, av, b0); c31 = STEP(c31, av, b1); \
    } while (0)

/* The same step of the 6 x 16 tile */
#define TC_Q6x16_STEP(STEP, off, b0, b1)                                                     \
    do {                                                                                     \
        __m256i av;                                                                          \
        TC_Q4x16_STEP(STEP, off, b0, b1);                                                    \
        av = tc_bcast32_avx2(a4 + (off)); c40 = STEP(c40, av, b0); c41 = STEP(c41, av, b1); \
        av = tc_bcast32_avx2(a5 + (off)); c50 = STEP(c50, av, b0); c51 = STEP(c51, av, b1); \
    } while (0)

#define TC_Q6x16_ROWS(t)                                                                     \
    const void *const *rt = rows + (t) * TC_QMR_MAX;                                         \
    const char *a0 = rt[0], *a1 = rt[1], *a2 = rt[2], *a3 = rt[3], *a4 = rt[4];              \
    const char *a5 = rt[5]

/* The GEMM micro-kernels' 6 x 16 tile: twelve accumulators kept in named variables
 * (an array whose address is taken would live in memory), tap after tap.
 * STEP(c, a, b) accumulates a's products with b into c.  FIX (U8S8X2): then the
 * panel's correction pass, the same products over e->nfix 4-k groups. */
#define TC_QUKERNEL_6x16(NAME, KSTEP, STEP, FIX)                                             \
    void NAME(int ntaps, int klen, const void *const *rows, int mr, const void *b,             \
              ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy)               \
    {                                                                                        \
        (void)ldb;                                                                           \
        /* the sums start at the columns' bias (wrapping, as the store would add it) */      \
        __m256i c00 = _mm256_loadu_si256((const __m256i *)e->bias), c10 = c00, c20 = c00;    \
        __m256i c01 = _mm256_loadu_si256((const __m256i *)e->bias + 1), c11 = c01, c21 = c01; \
        __m256i c30 = c00, c31 = c01, c40 = c00, c41 = c01, c50 = c00, c51 = c01;            \
        const __m256i *bk = b;                                                               \
        /* a tap holds klen elements of 4 / KSTEP bytes: 4 bytes (one lane) per step */     \
        const ptrdiff_t end = (ptrdiff_t)klen * 4 / KSTEP;                                   \
        if (mr == 1) { /* one row (GEMVs: classifiers): not 6 rows' work for 1 */          \
            for (int t = 0; t < ntaps; t++) {                                                \
                const char *a0 = rows[t * TC_QMR_MAX];                                       \
                for (ptrdiff_t off = 0; off < end; off += 4, bk += 2) {                      \
                    __m256i av = tc_bcast32_avx2(a0 + off);                                  \
                    c00 = STEP(c00, av, _mm256_loadu_si256(bk));                             \
                    c01 = STEP(c01, av, _mm256_loadu_si256(bk + 1));                         \
                }                                                                            \
            }                                                                                \
            for (int i = 0; FIX && i < e->nfix; i++) {                                       \
                int t = e->fix_k[i] / klen;                                                  \
                const char *a0 = (const char *)rows[t * TC_QMR_MAX] + (e->fix_k[i] - t * klen); \
                const __m256i *bf = (const __m256i *)(e->fix_w + (size_t)i * 4 * TC_QNR);    \
                __m256i av = tc_bcast32_avx2(a0);                                            \
                c00 = STEP(c00, av, _mm256_loadu_si256(bf));                                 \
                c01 = STEP(c01, av, _mm256_loadu_si256(bf + 1));                             \
            }                                                                                \
        } else {                                                                             \
            for (int t = 0; t < ntaps; t++) {                                                \
                TC_Q6x16_ROWS(t);                                                            \
                for (ptrdiff_t off = 0; off < end; off += 4, bk += 2) {                      \
                    __m256i b0 = _mm256_loadu_si256(bk), b1 = _mm256_loadu_si256(bk + 1);   \
                    TC_Q6x16_STEP(STEP, off, b0, b1);                                        \
                }                                                                            \
            }                                                                                \
            /* the corrections come in increasing k: a division per tap, not per group */ \
            for (int i = 0, t0 = 0, t1 = 0; FIX && i < e->nfix;) {                            \
                int t = e->fix_k[i] / klen;                                                  \
                TC_Q6x16_ROWS(t);                                                            \
                for (t0 = t * klen, t1 = t0 + klen; i < e->nfix && e->fix_k[i] < t1; i++) {  \
                    const ptrdiff_t off = e->fix_k[i] - t0;                                  \
                    const __m256i *bf = (const __m256i *)(e->fix_w + (size_t)i * 4 * TC_QNR); \
                    __m256i b0 = _mm256_loadu_si256(bf), b1 = _mm256_loadu_si256(bf + 1);   \
                    TC_Q6x16_STEP(STEP, off, b0, b1);                                        \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        tc_qstore_6x16_avx2(c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, mr,  \
                            nr, e, y, ldy);                                                  \
    }

/* 8 sums (bias added) scaled and rounded, clamped above only: min(f, hi - zp) keeps the
 * conversion in range upwards; below, a float under -2^31 converts to INT_MIN, which the
 * saturating packs of tc_qstore_2rows_avx2 take to lo as the clamp would have.  Rounding
 * then clamping to integer bounds is clamping then rounding: the same bytes. */
static inline __m256i tc_requant8_hi_avx2(__m256i acc, __m256i bias, __m256 scale, __m256 fhi)
{
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc, bias)), scale);
    return _mm256_cvtps_epi32(_mm256_min_ps(f, fhi));
}

/* tc_requant8_hi_avx2 without the clamp, where |scale| < 1 (tc_qscales_below1): |f| is
 * then below 2^31 (float(acc) is at most 2^31 in magnitude, and its product with a scale
 * below 1 at most 2^31 - 128), so the conversion never leaves int32 and the saturating
 * packs, monotone with hi a fixed point, take anything above hi - zp to hi: the same bytes */
static inline __m256i tc_requant8_nc_avx2(__m256i acc, __m256i bias, __m256 scale)
{
    return _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc, bias)), scale));
}

/* The byte stage's constants, set up once per tile: the zero point as int16 and as a
 * float, [lo, hi] as bytes, and the fused residual add's coefficients (res, or NULL). */
typedef struct tc_qbytes_avx2 {
    __m256i zp16, lo8, hi8;
    __m256 zpf, ra, rb, fixed;
    const tc_qresidual *res;
    int is_signed;
    /* [lo, hi] narrower than the type's (a fused activation): the byte max / min after the
     * packs; the type's whole range is the packs' own saturation.  Tried (n26-qpw,
     * 2026-12-04): two flags, the max only where lo is above the type's minimum and the min
     * only where hi is below its maximum (a ReLU6's lo = 0 is the unsigned pack's own
     * floor): the same bytes, but MobileNetV2's 14x14 expansions (U7S8 around the zero
     * point, their ReLU6 on one side) took 1.04-1.08 of their time (qconv_layers.py --against
     * the base, 8 rounds, one order; 1.00 again without it), which the saved byte max does
     * not explain: more likely the kernels' code laid out otherwise, as with the S16X2 tiles'
     * constant bodies (qgemm_avx2.c).  Not kept. */
    int clamp8;
} tc_qbytes_avx2;

static inline tc_qbytes_avx2 tc_qbytes_avx2_set(int type, int zero_point, int lo, int hi,
                                                 const tc_qresidual *res)
{
    tc_qbytes_avx2 k;
    k.zp16 = _mm256_set1_epi16((short)zero_point);
    k.lo8 = _mm256_set1_epi8((char)lo);
    k.hi8 = _mm256_set1_epi8((char)hi);
    k.zpf = _mm256_set1_ps((float)zero_point);
    k.res = res;
    k.ra = k.rb = k.fixed = _mm256_setzero_ps();
    if (res) {
        k.ra = _mm256_set1_ps(res->ra);
        k.rb = _mm256_set1_ps(res->rb);
        k.fixed = _mm256_set1_ps(res->fixed);
    }
    k.is_signed = type == TC_QOUT_S8;
    k.clamp8 = k.is_signed ? lo > -128 || hi < 127 : lo > 0 || hi < 255;
    return k;
}

static inline tc_qbytes_avx2 tc_qbytes_avx2_load(const tc_qepi *e)
{
    return tc_qbytes_avx2_set(e->type, e->zero_point, e->lo, e->hi, e->residual);
}

/* int16 words of two rows (per 128-bit lane: 4 of row a, 4 of a's second half or of row b,
 * as _mm256_packs_epi32 leaves them) -> bytes saturated by the pack, clamped to [lo, hi]
 * when clamp and k->clamp8, dwords permuted back to row order: the low 128 bits row a's,
 * the high row b's (16 columns each), or for 8-column rows (wa = wb) a's 8 bytes then b's. */
static inline __m256i tc_qpack_rows_avx2(__m256i wa, __m256i wb, const tc_qbytes_avx2 *k,
                                         int clamp)
{
    __m256i q = k->is_signed ? _mm256_packs_epi16(wa, wb) : _mm256_packus_epi16(wa, wb);
    if (clamp && k->clamp8)
        q = k->is_signed ? _mm256_min_epi8(_mm256_max_epi8(q, k->lo8), k->hi8)
                         : _mm256_min_epu8(_mm256_max_epu8(q, k->lo8), k->hi8);
    return _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Two whole rows (16 columns each) of 8-bit outputs without a residual: 32 values packed
 * together, the clamp to [lo, hi] done by the saturating packs (int16 with the zero point
 * added, then bytes) and a byte max / min, one permutation and two 16-byte stores.
 * a0/a1: row 0's columns 0-7 / 8-15, b0/b1 row 1's. */
static inline __attribute__((always_inline)) void tc_qstore_2rows_clamp_avx2(
    __m256i a0, __m256i a1, __m256i b0, __m256i b1, const tc_qepi_avx2 *v,
    const tc_qbytes_avx2 *k, int clamp_hi, void *y0, void *y1)
{
    if (clamp_hi) {
        a0 = tc_requant8_hi_avx2(a0, v->bias0, v->scale0, v->fhi);
        a1 = tc_requant8_hi_avx2(a1, v->bias1, v->scale1, v->fhi);
        b0 = tc_requant8_hi_avx2(b0, v->bias0, v->scale0, v->fhi);
        b1 = tc_requant8_hi_avx2(b1, v->bias1, v->scale1, v->fhi);
    } else { /* scales below 1 (tc_qscales_below1): no clamp at all, as tc_requant8_nc_avx2 */
        a0 = tc_requant8_nc_avx2(a0, v->bias0, v->scale0);
        a1 = tc_requant8_nc_avx2(a1, v->bias1, v->scale1);
        b0 = tc_requant8_nc_avx2(b0, v->bias0, v->scale0);
        b1 = tc_requant8_nc_avx2(b1, v->bias1, v->scale1);
    }
    /* per 128-bit lane: [a 0-3, a 8-11 | a 4-7, a 12-15] as int16, then the zero point */
    __m256i wa = _mm256_adds_epi16(_mm256_packs_epi32(a0, a1), k->zp16);
    __m256i wb = _mm256_adds_epi16(_mm256_packs_epi32(b0, b1), k->zp16);
    __m256i q = tc_qpack_rows_avx2(wa, wb, k, 1);
    _mm_storeu_si128((__m128i *)y0, _mm256_castsi256_si128(q));
    _mm_storeu_si128((__m128i *)y1, _mm256_extracti128_si256(q, 1));
}

static inline void tc_qstore_2rows_avx2(__m256i a0, __m256i a1, __m256i b0, __m256i b1,
                                        const tc_qepi_avx2 *v, const tc_qbytes_avx2 *k,
                                        void *y0, void *y1)
{
    tc_qstore_2rows_clamp_avx2(a0, a1, b0, b1, v, k, 1, y0, y1);
}

/* 8 sums (bias added) requantized and clamped to [lo, hi], as floats: round(f) + zp is
 * float(tc_requant8_avx2's q) exactly (small integers), without the conversion to int32
 * and back that the residual add would need */
static inline __m256 tc_requant8_f_avx2(__m256i acc, __m256 scale, __m256 flo, __m256 fhi,
                                        __m256 zpf)
{
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale);
    f = _mm256_min_ps(_mm256_max_ps(f, flo), fhi);
    return _mm256_add_ps(_mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zpf);
}

/* 8 sums (bias added) requantized with scale, then the residual add of k->res with the
 * residual bytes r8 (the low 8 of the register), tc_qresidual_add8_avx2's
 * fmaf(a, ra, fmaf(b, rb, fixed)) in the add's operand order, as int32 */
static inline __m256i tc_qres_add8_avx2(__m256i acc, __m256 scale, const tc_qepi_avx2 *v,
                                        const tc_qbytes_avx2 *k, __m128i r8)
{
    __m256 qf = tc_requant8_f_avx2(acc, scale, v->flo, v->fhi, k->zpf);
    __m256 rf = _mm256_cvtepi32_ps(k->is_signed ? _mm256_cvtepi8_epi32(r8) : _mm256_cvtepu8_epi32(r8));
    __m256 a = k->res->q_is_a ? qf : rf, b = k->res->q_is_a ? rf : qf;
    __m256 f = _mm256_fmadd_ps(a, k->ra, _mm256_fmadd_ps(b, k->rb, k->fixed));
    /* only the clamp above: below -2^31 (and NaN, which vminps passes on as its second
     * operand) converts to INT_MIN, which the packs saturate to the type's minimum, as
     * tc_qresidual_add's clamp to -2147483520 and saturation would */
    return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_set1_ps(2147483520.0f), f));
}

/* Two whole rows (16 columns each) of 8-bit outputs with the fused residual add, straight
 * from the accumulators (bias added): each row's 16 residual bytes read before the two
 * rows are stored (r may be y), the 32 results saturated by the packs as
 * tc_qstore_row_avx2's. */
static inline void tc_qstore_2rows_res_avx2(__m256i a0, __m256i a1, __m256i b0, __m256i b1,
                                            const tc_qepi_avx2 *v, const tc_qbytes_avx2 *k,
                                            const void *r0, const void *r1, void *y0, void *y1)
{
    __m128i ar = _mm_loadu_si128((const __m128i *)r0), br = _mm_loadu_si128((const __m128i *)r1);
    a0 = tc_qres_add8_avx2(a0, v->scale0, v, k, ar);
    a1 = tc_qres_add8_avx2(a1, v->scale1, v, k, _mm_srli_si128(ar, 8));
    b0 = tc_qres_add8_avx2(b0, v->scale0, v, k, br);
    b1 = tc_qres_add8_avx2(b1, v->scale1, v, k, _mm_srli_si128(br, 8));
    __m256i q = tc_qpack_rows_avx2(_mm256_packs_epi32(a0, a1), _mm256_packs_epi32(b0, b1), k, 0);
    _mm_storeu_si128((__m128i *)y0, _mm256_castsi256_si128(q));
    _mm_storeu_si128((__m128i *)y1, _mm256_extracti128_si256(q, 1));
}

/* Two rows of 8 columns (a last half panel: N = 24, 40, ...) of 8-bit outputs, a and b
 * the sums (bias added) of row 0 and row 1: requantized as tc_qstore_2rows_avx2's, or with
 * the residual add (k->res; r0, r1 the rows' residuals, read before the stores) as
 * tc_qstore_2rows_res_avx2's; 8 bytes stored per row. */
static inline void tc_qstore_2rows8_avx2(__m256i a, __m256i b, const tc_qepi_avx2 *v,
                                         const tc_qbytes_avx2 *k, const void *r0,
                                         const void *r1, void *y0, void *y1)
{
    __m256i w;
    if (k->res) {
        a = tc_qres_add8_avx2(a, v->scale0, v, k, _mm_loadl_epi64((const __m128i *)r0));
        b = tc_qres_add8_avx2(b, v->scale0, v, k, _mm_loadl_epi64((const __m128i *)r1));
        w = _mm256_packs_epi32(a, b);
    } else {
        a = tc_requant8_hi_avx2(a, _mm256_setzero_si256(), v->scale0, v->fhi);
        b = tc_requant8_hi_avx2(b, _mm256_setzero_si256(), v->scale0, v->fhi);
        w = _mm256_adds_epi16(_mm256_packs_epi32(a, b), k->zp16);
    }
    /* dwords: a 0-3, b 0-3, a 0-3, b 0-3 | a 4-7, b 4-7, ... */
    __m128i q2 = _mm256_castsi256_si128(tc_qpack_rows_avx2(w, w, k, !k->res));
    _mm_storel_epi64((__m128i *)y0, q2);
    _mm_storel_epi64((__m128i *)y1, _mm_unpackhi_epi64(q2, q2));
}

/* The GEMM micro-kernels' store: mr rows of acc[r][0..1]. */
static inline void tc_qstore_tile_avx2(__m256i acc[6][2], int mr, int nr, const tc_qepi *e,
                                       void *y, ptrdiff_t ldy)
{
    tc_qepi_avx2 v = tc_qepi_avx2_load(e->bias, e->scale, e->zero_point, e->lo, e->hi);
    if (nr == 16 && !e->residual && (e->type == TC_QOUT_U8 || e->type == TC_QOUT_S8)) {
        /* whole 16-column rows of bytes, two at a time (a lone last row the row way) */
        const tc_qbytes_avx2 k = tc_qbytes_avx2_load(e);
        char *yr = y;
        if (mr == 6) { /* constant indices: the accumulators stay in registers */
            tc_qstore_2rows_avx2(acc[0][0], acc[0][1], acc[1][0], acc[1][1], &v, &k, yr,
                                 yr + ldy);
            tc_qstore_2rows_avx2(acc[2][0], acc[2][1], acc[3][0], acc[3][1], &v, &k,
                                 yr + 2 * ldy, yr + 3 * ldy);
            tc_qstore_2rows_avx2(acc[4][0], acc[4][1], acc[5][0], acc[5][1], &v, &k,
                                 yr + 4 * ldy, yr + 5 * ldy);
            return;
        }
        int r = 0;
        for (; r + 2 <= mr; r += 2)
            tc_qstore_2rows_avx2(acc[r][0], acc[r][1], acc[r + 1][0], acc[r + 1][1], &v, &k,
                                 yr + r * ldy, yr + (r + 1) * ldy);
        if (r < mr)
            tc_qstore_row_avx2(acc[r][0], acc[r][1], e->type, &v, NULL, NULL, nr, yr + r * ldy);
        return;
    }
    const size_t ysz = e->type >= TC_QOUT_S32 ? 4 : 1;
    for (int r = 0; r < mr; r++)
        tc_qstore_row_avx2(acc[r][0], acc[r][1], e->type, &v, e->residual,
                           e->residual ? (const char *)e->r + r * ldy * ysz : NULL, nr,
                           (char *)y + r * ldy * ysz);
}

/* The 6 x 16 kernels' store, inlined into each, of sums that started at the bias (one
 * addition fewer per accumulator: at K = 16 a ninth of them).  The common case (6 or 4 whole
 * rows of 16 bytes, no residual) straight from the twelve accumulator registers, without
 * a call or a spill of the tile to memory (at K = 16 the call and the spill were about a
 * tenth of a 1x1 layer's time); the rest, the bias taken out again, through
 * tc_qstore_tile_avx2. */
static inline __attribute__((always_inline)) void tc_qstore_6x16_avx2(
    __m256i c00, __m256i c01, __m256i c10, __m256i c11, __m256i c20, __m256i c21, __m256i c30,
    __m256i c31, __m256i c40, __m256i c41, __m256i c50, __m256i c51, int mr, int nr,
    const tc_qepi *e, void *y, ptrdiff_t ldy)
{
    if (mr == 6 && nr == 16 && e->type == TC_QOUT_S32 && !e->residual) {
        /* the sums themselves (the integer Winograd's products: a ninth of a 64-channel
         * layer's instructions went to the general store) */
        int32_t *yr = y;
        _mm256_storeu_si256((__m256i *)yr, c00);
        _mm256_storeu_si256((__m256i *)yr + 1, c01);
        _mm256_storeu_si256((__m256i *)(yr + ldy), c10);
        _mm256_storeu_si256((__m256i *)(yr + ldy) + 1, c11);
        _mm256_storeu_si256((__m256i *)(yr + 2 * ldy), c20);
        _mm256_storeu_si256((__m256i *)(yr + 2 * ldy) + 1, c21);
        _mm256_storeu_si256((__m256i *)(yr + 3 * ldy), c30);
        _mm256_storeu_si256((__m256i *)(yr + 3 * ldy) + 1, c31);
        _mm256_storeu_si256((__m256i *)(yr + 4 * ldy), c40);
        _mm256_storeu_si256((__m256i *)(yr + 4 * ldy) + 1, c41);
        _mm256_storeu_si256((__m256i *)(yr + 5 * ldy), c50);
        _mm256_storeu_si256((__m256i *)(yr + 5 * ldy) + 1, c51);
        return;
    }
    const int whole = mr == 6 || mr == 4; /* U7S8's tiles are 4 x 16 */
    if (whole && nr == 16 && !e->residual && (e->type == TC_QOUT_U8 || e->type == TC_QOUT_S8)) {
        tc_qepi_avx2 v = tc_qepi_avx2_load(e->bias, e->scale, e->zero_point, e->lo, e->hi);
        v.bias0 = v.bias1 = _mm256_setzero_si256(); /* in the sums already */
        const tc_qbytes_avx2 k = tc_qbytes_avx2_load(e);
        char *yr = y;
        /* two copies, each with a constant clamp_hi: the branch once per tile */
        if (e->scale_below1) {
            tc_qstore_2rows_clamp_avx2(c00, c01, c10, c11, &v, &k, 0, yr, yr + ldy);
            tc_qstore_2rows_clamp_avx2(c20, c21, c30, c31, &v, &k, 0, yr + 2 * ldy, yr + 3 * ldy);
            if (mr == 6)
                tc_qstore_2rows_clamp_avx2(c40, c41, c50, c51, &v, &k, 0, yr + 4 * ldy,
                                           yr + 5 * ldy);
        } else {
            tc_qstore_2rows_avx2(c00, c01, c10, c11, &v, &k, yr, yr + ldy);
            tc_qstore_2rows_avx2(c20, c21, c30, c31, &v, &k, yr + 2 * ldy, yr + 3 * ldy);
            if (mr == 6)
                tc_qstore_2rows_avx2(c40, c41, c50, c51, &v, &k, yr + 4 * ldy, yr + 5 * ldy);
        }
        return;
    }
    if (whole && nr == 16 && e->residual && (e->type == TC_QOUT_U8 || e->type == TC_QOUT_S8)) {
        /* ResNet's residual merges: the same, with the add (lone ResNet-50 64->256 at 56x56:
         * through tc_qstore_tile_avx2 the add cost a third of the layer) */
        tc_qepi_avx2 v = tc_qepi_avx2_load(e->bias, e->scale, e->zero_point, e->lo, e->hi);
        const tc_qbytes_avx2 k = tc_qbytes_avx2_load(e);
        const char *r = e->r;
        char *yr = y;
        tc_qstore_2rows_res_avx2(c00, c01, c10, c11, &v, &k, r, r + ldy, yr, yr + ldy);
        tc_qstore_2rows_res_avx2(c20, c21, c30, c31, &v, &k, r + 2 * ldy, r + 3 * ldy,
                                 yr + 2 * ldy, yr + 3 * ldy);
        if (mr == 6)
            tc_qstore_2rows_res_avx2(c40, c41, c50, c51, &v, &k, r + 4 * ldy, r + 5 * ldy,
                                     yr + 4 * ldy, yr + 5 * ldy);
        return;
    }
    if (whole && nr == 8 && (e->type == TC_QOUT_U8 || e->type == TC_QOUT_S8)) {
        /* a last half panel (N = 24: MobileNetV2's and EfficientNet-B0's projections) */
        tc_qepi_avx2 v = tc_qepi_avx2_load(e->bias, e->scale, e->zero_point, e->lo, e->hi);
        const tc_qbytes_avx2 k = tc_qbytes_avx2_load(e);
        const char *r = e->residual ? (const char *)e->r : (const char *)y;
        char *yr = y;
        tc_qstore_2rows8_avx2(c00, c10, &v, &k, r, r + ldy, yr, yr + ldy);
        tc_qstore_2rows8_avx2(c20, c30, &v, &k, r + 2 * ldy, r + 3 * ldy, yr + 2 * ldy,
                              yr + 3 * ldy);
        if (mr == 6)
            tc_qstore_2rows8_avx2(c40, c50, &v, &k, r + 4 * ldy, r + 5 * ldy, yr + 4 * ldy,
                                  yr + 5 * ldy);
        return;
    }
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)e->bias);
    const __m256i b1 = _mm256_loadu_si256((const __m256i *)e->bias + 1);
    __m256i acc[6][2] = {{_mm256_sub_epi32(c00, b0), _mm256_sub_epi32(c01, b1)},
                         {_mm256_sub_epi32(c10, b0), _mm256_sub_epi32(c11, b1)},
                         {_mm256_sub_epi32(c20, b0), _mm256_sub_epi32(c21, b1)},
                         {_mm256_sub_epi32(c30, b0), _mm256_sub_epi32(c31, b1)},
                         {_mm256_sub_epi32(c40, b0), _mm256_sub_epi32(c41, b1)},
                         {_mm256_sub_epi32(c50, b0), _mm256_sub_epi32(c51, b1)}};
    tc_qstore_tile_avx2(acc, mr, nr, e, y, ldy);
}

#endif /* TC_QUANT_AVX2_H */
