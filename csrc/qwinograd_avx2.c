/* AVX2 twin of tc_qwg_chunk_portable (qwinograd.c): the same body, compiled with -mavx2,
 * with the two transforms written in vectors and the vector output stage.
 *
 * The transforms as the compiler vectorised the portable body took about a quarter of each
 * Winograd layer (ResNet-18 int8, perf, 2026-12-02): the input one through int16 arrays on
 * the stack, the output one with a signed division by 4 (a shift and a sign fix-up) and
 * three integer divisions per tile for its position, each pixel stored alone. Here the 16
 * input pixels of 16 channels are 16 registers, the division is a shift (the sums are
 * multiples of 4: qwinograd.c), and two pixels of a tile's row are requantized and stored
 * together, as the GEMM kernels' tiles are (tc_qstore_2rows_avx2). */
#include "quant_avx2.h"
#include "qwinograd_internal.h"

/* d = x - x_zp of 16 channels of the 4 x 4 input pixels -> V = B^T d B, each V[xi] to
 * v + xi * vstride; along each row of pixels first, then down the columns (the portable
 * order transposed: the same integers, no stage leaves int16) */
static inline void qwg_input16_avx2(const uint8_t *const *src, int c0, uint8_t flip, int zp,
                                    int16_t *v, size_t vstride)
{
    const __m128i f = _mm_set1_epi8((char)flip);
    const __m256i z = _mm256_set1_epi16((short)zp);
    __m256i t[16];
#define QWG_D(k) _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_xor_si128(                        \
                     _mm_loadu_si128((const __m128i *)(src[k] + c0)), f)), z)
    for (int r = 0; r < 4; r++) {
        __m256i d0 = QWG_D(4 * r), d1 = QWG_D(4 * r + 1), d2 = QWG_D(4 * r + 2),
                d3 = QWG_D(4 * r + 3);
        t[4 * r] = _mm256_sub_epi16(d0, d2);
        t[4 * r + 1] = _mm256_add_epi16(d1, d2);
        t[4 * r + 2] = _mm256_sub_epi16(d2, d1);
        t[4 * r + 3] = _mm256_sub_epi16(d1, d3);
    }
#undef QWG_D
    for (int s = 0; s < 4; s++) {
        __m256i a0 = t[s], a1 = t[4 + s], a2 = t[8 + s], a3 = t[12 + s];
        _mm256_storeu_si256((__m256i *)(v + (size_t)s * vstride), _mm256_sub_epi16(a0, a2));
        _mm256_storeu_si256((__m256i *)(v + (size_t)(4 + s) * vstride), _mm256_add_epi16(a1, a2));
        _mm256_storeu_si256((__m256i *)(v + (size_t)(8 + s) * vstride), _mm256_sub_epi16(a2, a1));
        _mm256_storeu_si256((__m256i *)(v + (size_t)(12 + s) * vstride), _mm256_sub_epi16(a1, a3));
    }
}

/* out_tile_ of qwinograd_body.h: Y = A^T M A / 4 in registers, 8 channels at a time, then
 * the tile's rows of two pixels together where both are in the map and take 16 bytes */
static inline void qwg_out_tile_avx2(const uint32_t *m, size_t ms, tc_qepi *e,
                                     const tc_qepi_avx2 *qv, const tc_qbytes_avx2 *qk, int nr,
                                     char *const *y, const char *const *r)
{
    __m256i yv[4][2];
    for (int h = 0; h < 2; h++) {
        const uint32_t *mh = m + 8 * h;
        __m256i s0[4], s1[4];
        for (int col = 0; col < 4; col++) {
            __m256i m0 = _mm256_loadu_si256((const __m256i *)(mh + col * ms));
            __m256i m1 = _mm256_loadu_si256((const __m256i *)(mh + (4 + col) * ms));
            __m256i m2 = _mm256_loadu_si256((const __m256i *)(mh + (8 + col) * ms));
            __m256i m3 = _mm256_loadu_si256((const __m256i *)(mh + (12 + col) * ms));
            s0[col] = _mm256_add_epi32(_mm256_add_epi32(m0, m1), m2);
            s1[col] = _mm256_sub_epi32(_mm256_sub_epi32(m1, m2), m3);
        }
        /* exact multiples of 4: the arithmetic shift is the portable body's division */
        yv[0][h] = _mm256_srai_epi32(_mm256_add_epi32(_mm256_add_epi32(s0[0], s0[1]), s0[2]), 2);
        yv[1][h] = _mm256_srai_epi32(_mm256_sub_epi32(_mm256_sub_epi32(s0[1], s0[2]), s0[3]), 2);
        yv[2][h] = _mm256_srai_epi32(_mm256_add_epi32(_mm256_add_epi32(s1[0], s1[1]), s1[2]), 2);
        yv[3][h] = _mm256_srai_epi32(_mm256_sub_epi32(_mm256_sub_epi32(s1[1], s1[2]), s1[3]), 2);
    }
    const int bytes = nr == TC_QNR && (e->type == TC_QOUT_U8 || e->type == TC_QOUT_S8);
    for (int q = 0; q < 4; q += 2) {
        if (bytes && y[q + 1]) {
            if (e->residual) /* tc_qstore_2rows_res_avx2 takes the sums with their bias */
                tc_qstore_2rows_res_avx2(_mm256_add_epi32(yv[q][0], qv->bias0),
                                         _mm256_add_epi32(yv[q][1], qv->bias1),
                                         _mm256_add_epi32(yv[q + 1][0], qv->bias0),
                                         _mm256_add_epi32(yv[q + 1][1], qv->bias1), qv, qk,
                                         r[q], r[q + 1], y[q], y[q + 1]);
            else
                tc_qstore_2rows_avx2(yv[q][0], yv[q][1], yv[q + 1][0], yv[q + 1][1], qv, qk,
                                     y[q], y[q + 1]);
            continue;
        }
        for (int i = q; i < q + 2; i++)
            if (y[i])
                tc_qstore_row_avx2(yv[i][0], yv[i][1], e->type, qv, e->residual, r[i], nr, y[i]);
    }
}

#define QWG_NAME tc_qwg_chunk_avx2
#define QWG_INPUT16 qwg_input16_avx2
#define QWG_EPI_DECL(e)                                                                  \
    tc_qepi_avx2 qv = tc_qepi_avx2_load((e)->bias, (e)->scale, (e)->zero_point, (e)->lo,  \
                                        (e)->hi);                                        \
    const tc_qbytes_avx2 qk = tc_qbytes_avx2_load(e)
#define QWG_OUT_TILE(m, ms, e, nr, y, r) qwg_out_tile_avx2(m, ms, e, &qv, &qk, nr, y, r)
#define QWG_STORE(acc, e, nr, y) (void)0 /* QWG_OUT_TILE stores */
#include "qwinograd_body.h"
