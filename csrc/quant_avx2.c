/* AVX2 twins of the hot quantized element-wise kernels (in the AVX2
 * rows of dispatch.c's table): QuantizeLinear, QLinearAdd, QLinearMul (the depthwise
 * convolution's: qdw_avx2.c).  Portable twins: quant.c. */
#include "quant_avx2.h"
#include "qwinograd_internal.h"

/* y = saturate(RNE(clamp(x / scale, lo - zp, hi - zp)) + zp), as quantize_run.
 * Tried and dropped (n32-q, 2026-12-05, Intel Xeon, emulated AVX2): x times the float
 * reciprocal, with the division kept for the vectors where a lane lies within 2^-12 of a
 * half-integer (within the clamp the two differ by at most 3 * 2^-15: the same bytes, tested
 * a few ulps around every (k + 1/2) * scale): MobileNetV2 int8's input (150528 floats, one
 * process against the base, 30 rounds) 1.068 [1.067-1.071] of its time, 27.6 against 25.8
 * us: the division's 4.7 cycles a vector cost less than the check's six vector instructions
 * (rounding, subtraction, absolute value, comparison, test) on the three vector ports. */
void tc_quantize_run_avx2(const float *x, ptrdiff_t n, float scale, int zp, int lo, int hi,
                          int is_signed, void *y)
{
    const __m256 s = _mm256_set1_ps(scale);
    const __m256 flo = _mm256_set1_ps((float)(lo - zp)), fhi = _mm256_set1_ps((float)(hi - zp));
    const __m256i z = _mm256_set1_epi32(zp);
    uint8_t *out = y;
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 f0 = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
        __m256 f1 = _mm256_div_ps(_mm256_loadu_ps(x + i + 8), s);
        f0 = _mm256_min_ps(_mm256_max_ps(f0, flo), fhi);
        f1 = _mm256_min_ps(_mm256_max_ps(f1, flo), fhi);
        __m256i q0 = _mm256_add_epi32(_mm256_cvtps_epi32(f0), z);
        __m256i q1 = _mm256_add_epi32(_mm256_cvtps_epi32(f1), z);
        _mm_storeu_si128((__m128i *)(out + i), tc_pack16_avx2(q0, q1, is_signed));
    }
    const float sflo = (float)(lo - zp), sfhi = (float)(hi - zp);
    for (; i < n; i++)
        tc_q8_store(y, i, tc_rne(tc_clampf(x[i] / scale, sflo, sfhi)) + zp, is_signed);
}

/* 16 8-bit values -> two vectors of 8 floats */
static inline void widen16(const void *p, int is_signed, __m256 *lo, __m256 *hi)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m256i w0 = is_signed ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
    __m256i w1 = is_signed ? _mm256_cvtepi8_epi32(_mm_srli_si128(v, 8))
                           : _mm256_cvtepu8_epi32(_mm_srli_si128(v, 8));
    *lo = _mm256_cvtepi32_ps(w0);
    *hi = _mm256_cvtepi32_ps(w1);
}

/* 16 floats -> 16 bytes at y: clamped into int32's range, rounded to nearest even
 * (cvtps2dq), packed to 16 then 8 bits with saturation, as onnxruntime's */
static inline void store16_rounded(char *y, __m256 v0, __m256 v1, int is_signed)
{
    const __m256 big = _mm256_set1_ps(2147483520.0f), nbig = _mm256_set1_ps(-2147483520.0f);
    v0 = _mm256_min_ps(_mm256_max_ps(v0, nbig), big);
    v1 = _mm256_min_ps(_mm256_max_ps(v1, nbig), big);
    _mm_storeu_si128((__m128i *)y, tc_pack16_avx2(_mm256_cvtps_epi32(v0), _mm256_cvtps_epi32(v1),
                                                  is_signed));
}

/* QLinearAdd as qadd_run (quant.c): two fused multiply-adds per element */
void tc_qadd_run_avx2(const tc_qbinary_params *p, const void *a, int a_scalar, const void *b,
                      int b_scalar, void *y, ptrdiff_t n)
{
    float ra, rb;
    const float fixed = tc_qadd_fixed(p, (float)tc_q8_load(a, 0, p->is_signed), a_scalar,
                                      (float)tc_q8_load(b, 0, p->is_signed), b_scalar, &ra, &rb);
    const __m256 vra = _mm256_set1_ps(ra), vrb = _mm256_set1_ps(rb), vf = _mm256_set1_ps(fixed);
    const char *pa = a, *pb = b;
    char *py = y;
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 v0 = vf, v1 = vf, x0, x1;
        if (!b_scalar) {
            widen16(pb + i, p->is_signed, &x0, &x1);
            v0 = _mm256_fmadd_ps(x0, vrb, v0);
            v1 = _mm256_fmadd_ps(x1, vrb, v1);
        }
        if (!a_scalar) {
            widen16(pa + i, p->is_signed, &x0, &x1);
            v0 = _mm256_fmadd_ps(x0, vra, v0);
            v1 = _mm256_fmadd_ps(x1, vra, v1);
        }
        store16_rounded(py + i, v0, v1, p->is_signed);
    }
    if (i < n)
        tc_qadd_run(p, a_scalar ? pa : pa + i, a_scalar, b_scalar ? pb : pb + i, b_scalar, py + i,
                    n - i);
}

/* 8 8-bit values minus a zero point -> 8 int32 */
static inline __m256i centred8(const char *p, int is_signed, __m256i zp)
{
    __m128i v = _mm_loadl_epi64((const __m128i *)p);
    return _mm256_sub_epi32(is_signed ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v), zp);
}

/* QLinearMul as tc_qmul_run (quant.c): the exact integer product (|a - za| * |b - zb| <=
 * 255 * 255) in float, times the ratio, plus the zero point: two roundings, no FMA */
void tc_qmul_run_avx2(const tc_qbinary_params *p, const void *a, const void *b, int b_scalar,
                      void *y, ptrdiff_t n)
{
    const __m256 r = _mm256_set1_ps(p->a_scale * p->b_scale / p->y_scale);
    const __m256 zc = _mm256_set1_ps((float)p->y_zero_point);
    const __m256i za = _mm256_set1_epi32(p->a_zero_point), zb = _mm256_set1_epi32(p->b_zero_point);
    const __m256i bs = _mm256_set1_epi32(tc_q8_load(b, 0, p->is_signed) - p->b_zero_point);
    const char *pa = a, *pb = b;
    char *py = y;
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i b0 = b_scalar ? bs : centred8(pb + i, p->is_signed, zb);
        __m256i b1 = b_scalar ? bs : centred8(pb + i + 8, p->is_signed, zb);
        __m256i m0 = _mm256_mullo_epi32(centred8(pa + i, p->is_signed, za), b0);
        __m256i m1 = _mm256_mullo_epi32(centred8(pa + i + 8, p->is_signed, za), b1);
        __m256 v0 = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(m0), r), zc);
        __m256 v1 = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(m1), r), zc);
        store16_rounded(py + i, v0, v1, p->is_signed);
    }
    if (i < n)
        tc_qmul_run(p, pa + i, b_scalar ? pb : pb + i, b_scalar, py + i, n - i);
}

/* The AVX2 row of the 8-bit kernels' table (dispatch.c): no VNNI, so S8X4 weights run the
 * portable kernel and tc_qgemm_choose_format packs 8-bit weights S16X2 (vpmaddwd). */
/* y[i] = table[x[i]] (tc_lookup_run's twin), 32 bytes per step by vpshufb, which looks
 * up 16-byte tables and gives 0 where the index byte has its top bit set.  Row h of
 * the table (entries 16h .. 16h + 15) is found by running i = 0 .. 7 over
 * idx = x - 16 i (saturating, signed): for x < 128 (h < 8) idx stays within [0, 127]
 * with x's low nibble while i <= h, and is negative once i > h; bytes x >= 128 are
 * negative throughout.  So XOR-ing the lookups of D[i] = T[i] ^ T[i - 1] (D[0] = T[0])
 * telescopes to T[h].  The upper half does the same with x ^ 0x80 and rows 8 .. 15. */
void tc_lookup_run_avx2(const uint8_t *table, const uint8_t *x, ptrdiff_t n, uint8_t *y)
{
    __m256i d[16];
    for (int i = 0; i < 16; i++) {
        __m128i t = _mm_loadu_si128((const __m128i *)(table + 16 * i));
        if (i % 8)
            t = _mm_xor_si128(t, _mm_loadu_si128((const __m128i *)(table + 16 * (i - 1))));
        d[i] = _mm256_broadcastsi128_si256(t);
    }
    const __m256i sixteen = _mm256_set1_epi8(16), top = _mm256_set1_epi8((char)0x80);
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i lo = _mm256_loadu_si256((const __m256i *)(x + i));
        __m256i hi = _mm256_xor_si256(lo, top);
        __m256i acc = _mm256_xor_si256(_mm256_shuffle_epi8(d[0], lo), _mm256_shuffle_epi8(d[8], hi));
        for (int r = 1; r < 8; r++) {
            lo = _mm256_subs_epi8(lo, sixteen);
            hi = _mm256_subs_epi8(hi, sixteen);
            acc = _mm256_xor_si256(acc, _mm256_shuffle_epi8(d[r], lo));
            acc = _mm256_xor_si256(acc, _mm256_shuffle_epi8(d[8 + r], hi));
        }
        _mm256_storeu_si256((__m256i *)(y + i), acc);
    }
    for (; i < n; i++)
        y[i] = table[x[i]];
}

/* nb blocks of 16 channels (nb, is_signed constants after inlining): rows summed in 16 bits
 * for up to 128 rows at a time (|sum| <= 255 * 128 < 2^15), then widened into acc */
static inline __attribute__((always_inline)) void qgap_blocks(const uint8_t *x, ptrdiff_t ldx,
                                                              ptrdiff_t rows, int nb,
                                                              int is_signed, int32_t *acc)
{
    __m256i a32[8];
    for (int b = 0; b < nb; b++) {
        a32[2 * b] = _mm256_loadu_si256((const __m256i *)(acc + 16 * b));
        a32[2 * b + 1] = _mm256_loadu_si256((const __m256i *)(acc + 16 * b + 8));
    }
    for (ptrdiff_t i0 = 0; i0 < rows; i0 += 128) {
        ptrdiff_t i1 = rows - i0 < 128 ? rows : i0 + 128;
        __m256i a16[4];
        for (int b = 0; b < nb; b++)
            a16[b] = _mm256_setzero_si256();
        const uint8_t *p = x + i0 * ldx;
        for (ptrdiff_t i = i0; i < i1; i++, p += ldx)
            for (int b = 0; b < nb; b++) {
                __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * b));
                a16[b] = _mm256_add_epi16(a16[b], is_signed ? _mm256_cvtepi8_epi16(v)
                                                            : _mm256_cvtepu8_epi16(v));
            }
        for (int b = 0; b < nb; b++) {
            a32[2 * b] = _mm256_add_epi32(a32[2 * b],
                                          _mm256_cvtepi16_epi32(_mm256_castsi256_si128(a16[b])));
            a32[2 * b + 1] = _mm256_add_epi32(
                a32[2 * b + 1], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(a16[b], 1)));
        }
    }
    for (int b = 0; b < nb; b++) {
        _mm256_storeu_si256((__m256i *)(acc + 16 * b), a32[2 * b]);
        _mm256_storeu_si256((__m256i *)(acc + 16 * b + 8), a32[2 * b + 1]);
    }
}

/* tc_qgap_sum's twin: 64, 32 or 16 channels per pass over the rows, the last < 16 scalar */
void tc_qgap_sum_avx2(const void *x, ptrdiff_t ldx, ptrdiff_t rows, ptrdiff_t cn, int is_signed,
                      int32_t *acc)
{
    const uint8_t *p = x;
    ptrdiff_t k = 0;
    for (; k + 64 <= cn; k += 64)
        is_signed ? qgap_blocks(p + k, ldx, rows, 4, 1, acc + k)
                  : qgap_blocks(p + k, ldx, rows, 4, 0, acc + k);
    if (k + 32 <= cn) {
        is_signed ? qgap_blocks(p + k, ldx, rows, 2, 1, acc + k)
                  : qgap_blocks(p + k, ldx, rows, 2, 0, acc + k);
        k += 32;
    }
    if (k + 16 <= cn) {
        is_signed ? qgap_blocks(p + k, ldx, rows, 1, 1, acc + k)
                  : qgap_blocks(p + k, ldx, rows, 1, 0, acc + k);
        k += 16;
    }
    if (k < cn)
        tc_qgap_sum(p + k, ldx, rows, cn - k, is_signed, acc + k);
}

/* vpshufb masks of the 48 bytes of 16 interleaved pixels (3 vectors of 16, k) from plane
 * ch (row 3 k + ch): byte q = 16 k + j is pixel q / 3's where q % 3 == ch, else zero (-128) */
static const int8_t interleave3_masks[9][16] = {
    {0, -128, -128, 1, -128, -128, 2, -128, -128, 3, -128, -128, 4, -128, -128, 5},
    {-128, 0, -128, -128, 1, -128, -128, 2, -128, -128, 3, -128, -128, 4, -128, -128},
    {-128, -128, 0, -128, -128, 1, -128, -128, 2, -128, -128, 3, -128, -128, 4, -128},
    {-128, -128, 6, -128, -128, 7, -128, -128, 8, -128, -128, 9, -128, -128, 10, -128},
    {5, -128, -128, 6, -128, -128, 7, -128, -128, 8, -128, -128, 9, -128, -128, 10},
    {-128, 5, -128, -128, 6, -128, -128, 7, -128, -128, 8, -128, -128, 9, -128, -128},
    {-128, 11, -128, -128, 12, -128, -128, 13, -128, -128, 14, -128, -128, 15, -128, -128},
    {-128, -128, 11, -128, -128, 12, -128, -128, 13, -128, -128, 14, -128, -128, 15, -128},
    {10, -128, -128, 11, -128, -128, 12, -128, -128, 13, -128, -128, 14, -128, -128, 15},
};

/* tc_interleave3's twin: 16 pixels at a time, each 16 bytes of output the OR of three
 * vpshufb (one per plane), the rest by the portable loop */
void tc_interleave3_avx2(const uint8_t *x, ptrdiff_t s, ptrdiff_t i0, ptrdiff_t i1, uint8_t *y)
{
    __m128i m[3][3];
    for (int k = 0; k < 3; k++)
        for (int ch = 0; ch < 3; ch++)
            m[k][ch] = _mm_loadu_si128((const __m128i *)interleave3_masks[3 * k + ch]);
    for (; i0 + 16 <= i1; i0 += 16) {
        const __m128i p0 = _mm_loadu_si128((const __m128i *)(x + i0));
        const __m128i p1 = _mm_loadu_si128((const __m128i *)(x + s + i0));
        const __m128i p2 = _mm_loadu_si128((const __m128i *)(x + 2 * s + i0));
        for (int k = 0; k < 3; k++) {
            __m128i v = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(p0, m[k][0]),
                                                  _mm_shuffle_epi8(p1, m[k][1])),
                                     _mm_shuffle_epi8(p2, m[k][2]));
            _mm_storeu_si128((__m128i *)(y + 3 * i0 + 16 * k), v);
        }
    }
    if (i0 < i1)
        tc_interleave3(x, s, i0, i1, y);
}

/* tc_max8_taps's twin: per pixel 32 bytes of every tap at a time into one register (signed
 * or unsigned byte maxima), the last 32 of n >= 32 once more if n is not a multiple (a
 * maximum taken twice is the same: y as a tap too), under 32 a byte at a time; is_signed a
 * constant in each of the two copies */
static inline __attribute__((always_inline)) void max8_pixels(
    const uint8_t *const *taps, int ntaps, ptrdiff_t n, int npix, ptrdiff_t step,
    int is_signed, uint8_t *y)
{
    const uint8_t flip = is_signed ? 0x80 : 0;
    for (int p = 0; p < npix; p++, y += n) {
        const ptrdiff_t at = p * step;
        if (n < 32) {
            for (ptrdiff_t k = 0; k < n; k++) {
                uint8_t m = taps[0][at + k] ^ flip;
                for (int t = 1; t < ntaps; t++) {
                    uint8_t v = taps[t][at + k] ^ flip;
                    m = v > m ? v : m;
                }
                y[k] = m ^ flip;
            }
            continue;
        }
        for (ptrdiff_t k = 0; k < n; k += 32) {
            k = k + 32 <= n ? k : n - 32;
            __m256i m = _mm256_loadu_si256((const __m256i *)(taps[0] + at + k));
            for (int t = 1; t < ntaps; t++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(taps[t] + at + k));
                m = is_signed ? _mm256_max_epi8(m, v) : _mm256_max_epu8(m, v);
            }
            _mm256_storeu_si256((__m256i *)(y + k), m);
        }
    }
}

void tc_max8_taps_avx2(const uint8_t *const *taps, int ntaps, ptrdiff_t n, int npix,
                       ptrdiff_t step, int is_signed, uint8_t *y)
{
    if (is_signed)
        max8_pixels(taps, ntaps, n, npix, step, 1, y);
    else
        max8_pixels(taps, ntaps, n, npix, step, 0, y);
}

const tc_quant_kernels tc_quant_avx2 = {
    tc_quantize_run_avx2, tc_qadd_run_avx2, tc_qmul_run_avx2, tc_qdw_pair_row_avx2,
    tc_qdw_out_row_avx2,
    {tc_qukernel_s8x4_portable, 6, 16, "s8x4-portable"},
    {tc_qukernel_s16x2_avx2, 6, 16, "s16x2-avx2", 1},
    {tc_qukernel_u8s8x2_avx2, 6, 16, "u8s8x2-avx2"},
    {tc_qukernel_u7s8_avx2, 6, 16, "u7s8-avx2"},
    {tc_qukernel_u7s8_4x16_avx2, 4, 16, "u7s8-4x16-avx2"},
    0,
    tc_qwg_chunk_avx2,
    tc_lookup_run_avx2,
    tc_qgap_sum_avx2,
    tc_u7s8_split_avx2,
    tc_interleave3_avx2,
    tc_max8_taps_avx2,
    tc_qwiden_run_avx2,
    tc_u7s8_scan_avx2,
    tc_qukernel_u7s8_steps_avx2,
};
