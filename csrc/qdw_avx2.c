/* AVX2 twins of the depthwise convolution's two steps (qdw.c, which describes the
 * layouts): building a pair row and computing an output row from KH of them.
 * Portable twins: tc_qdw_pair_row_portable, tc_qdw_out_row_portable. */
#include "quant_avx2.h"

/* 8 channels of two pixels a, b -> 8 centred (a, b) int16 pairs */
static inline __m256i centred_pairs8(__m128i a, __m128i b, int x_signed, __m256i zp)
{
    __m128i ab = _mm_unpacklo_epi8(a, b);
    return _mm256_sub_epi16(x_signed ? _mm256_cvtepi8_epi16(ab) : _mm256_cvtepu8_epi16(ab), zp);
}

void tc_qdw_pair_row_avx2(const uint8_t *x, const uint8_t *zero_row, int x_signed, int zp,
                          const tc_qdw_geom *g, int16_t *prow)
{
    const __m256i vzp = _mm256_set1_epi16((int16_t)zp);
    const int c8 = g->C / 8 * 8;
    uint8_t ta[8], tb[8];
    for (ptrdiff_t u = 0; u < g->cols; u++) {
        ptrdiff_t ia = u * g->ustep - g->pl, ib = ia + g->dw;
        const uint8_t *a = ia >= 0 && ia < g->w ? x + ia * g->C : zero_row;
        const uint8_t *b = ib >= 0 && ib < g->w ? x + ib * g->C : zero_row;
        int16_t *o = prow + u * 2 * g->cp;
        int c = 0;
        for (; c < c8; c += 8)
            _mm256_storeu_si256((__m256i *)(o + 2 * c),
                                centred_pairs8(_mm_loadl_epi64((const __m128i *)(a + c)),
                                               _mm_loadl_epi64((const __m128i *)(b + c)),
                                               x_signed, vzp));
        for (; c < g->cp; c += 8) { /* the last channels, then 0 up to cp */
            if (c < g->C) {
                memset(ta, zp & 0xff, 8);
                memset(tb, zp & 0xff, 8);
                memcpy(ta, a + c, (size_t)(g->C - c));
                memcpy(tb, b + c, (size_t)(g->C - c));
                _mm256_storeu_si256((__m256i *)(o + 2 * c),
                                    centred_pairs8(_mm_loadl_epi64((const __m128i *)ta),
                                                   _mm_loadl_epi64((const __m128i *)tb),
                                                   x_signed, vzp));
            } else {
                _mm256_storeu_si256((__m256i *)(o + 2 * c), _mm256_setzero_si256());
            }
        }
    }
}

/* 16 channels of output pixels [0, ow): the sums of KH x NP pairs of taps per pixel,
 * then the output stage.  KH, NP constants in the common cases, so the loops unroll. */
static inline void out_block16(const int16_t *const *prows, const int16_t *w, const tc_qdw_geom *g,
                               int KH, int NP, int cb, const tc_qepi_avx2 *v,
                               const tc_qoutput *out, int nr, const void *r, void *y)
{
    const ptrdiff_t cp2 = 2 * (ptrdiff_t)g->cp, step = g->sw / g->ustep * cp2;
    const ptrdiff_t jstep = 2 * g->dw / g->ustep * cp2;
    const size_t ysz = out->type >= TC_QOUT_S32 ? 4 : 1;
    const ptrdiff_t ldy = (ptrdiff_t)g->C * ysz;
    const int16_t *pr[64];
    for (int ky = 0; ky < KH; ky++)
        pr[ky] = prows[ky] ? prows[ky] + 2 * cb : NULL;
    char *yo = (char *)y + cb * ysz;
    const char *ro = r ? (const char *)r + cb * ysz : NULL;
    for (int ox = 0; ox < g->ow; ox++) {
        __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
        for (int ky = 0; ky < KH; ky++) {
            if (!pr[ky])
                continue;
            const int16_t *p = pr[ky] + ox * step;
            const __m256i *wk = (const __m256i *)(w + (ptrdiff_t)ky * NP * 32);
            for (int j = 0; j < NP; j++) {
                const __m256i *pp = (const __m256i *)(p + j * jstep);
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_loadu_si256(pp),
                                                                 _mm256_loadu_si256(wk + 2 * j)));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_loadu_si256(pp + 1),
                                                                 _mm256_loadu_si256(wk + 2 * j + 1)));
            }
        }
        tc_qstore_row_avx2(acc0, acc1, out->type, v, out->residual, ro ? ro + ox * ldy : NULL, nr,
                           yo + ox * ldy);
    }
}

void tc_qdw_out_row_avx2(const int16_t *const *prows, const int16_t *w, const tc_qdw_geom *g,
                         const int32_t *bias, const float *scale, const tc_qoutput *out,
                         const void *r, void *y)
{
    for (int cb = 0; cb < g->C; cb += 16) {
        tc_qepi_avx2 v = tc_qepi_avx2_load(bias + cb, scale + cb, out->zero_point, out->lo,
                                           out->hi);
        const int16_t *wc = w + (ptrdiff_t)(cb / 16) * g->KH * g->np * 32;
        int nr = g->C - cb < 16 ? g->C - cb : 16;
        if (g->KH == 3 && g->np == 2)
            out_block16(prows, wc, g, 3, 2, cb, &v, out, nr, r, y);
        else if (g->KH == 5 && g->np == 3)
            out_block16(prows, wc, g, 5, 3, cb, &v, out, nr, r, y);
        else
            out_block16(prows, wc, g, g->KH, g->np, cb, &v, out, nr, r, y);
    }
}
