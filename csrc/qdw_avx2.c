/* AVX2 twins of the depthwise convolution's two steps (qdw.c, which describes the
 * layouts): building a pair row and computing an output row from KH of them.
 * Portable twins: tc_qdw_pair_row_portable, tc_qdw_out_row_portable.
 * Tried and dropped (n24-q, 2026-12-03, AMD EPYC Zen 3, native, 1 thread, same bits): the
 * loops' int indices (ox, the kernel rows, the pairs, the channel blocks) as ptrdiff_t, so that
 * gcc under Python's -fwrapv drops their sign extensions (objdump: movslq 101 -> 49).  Lone
 * MobileNetV2 int8 depthwise layers (qconv_layers.py --against the base, min of 160-200 runs,
 * twice): 96 at 112x112 s2 0.93-0.94, 144 at 56x56 0.95-0.97, 192 at 28x28 0.95-0.99, but
 * 14x14 0.99-1.02 and 960 at 7x7 0.99-1.07; all 16 summed 0.974-0.986 (a -fno-wrapv build of
 * the file: 0.995).  The whole network (subgraph_shapes.py --against, 60 rounds, twice):
 * 1.004 [0.995-1.015], 1.002 [0.992-1.012]: the 15-25 us are below its noise. */
#include "quant_avx2.h"

/* 16 bytes of two pixels a, b -> 16 (a, b) int16 pairs at o */
static inline void pairs16(const uint8_t *a, const uint8_t *b, int x_signed, int16_t *o)
{
    __m128i va = _mm_loadu_si128((const __m128i *)a), vb = _mm_loadu_si128((const __m128i *)b);
    __m128i lo = _mm_unpacklo_epi8(va, vb), hi = _mm_unpackhi_epi8(va, vb);
    _mm256_storeu_si256((__m256i *)o, x_signed ? _mm256_cvtepi8_epi16(lo) : _mm256_cvtepu8_epi16(lo));
    _mm256_storeu_si256((__m256i *)o + 1,
                        x_signed ? _mm256_cvtepi8_epi16(hi) : _mm256_cvtepu8_epi16(hi));
}

/* one column of a pair row: channels [0, C) of pixels a and b, then 0 up to cp */
static inline void pair_column(const uint8_t *a, const uint8_t *b, int x_signed, int C, int cp,
                               int16_t *o)
{
    int c = 0;
    for (; c + 16 <= C; c += 16)
        pairs16(a + c, b + c, x_signed, o + 2 * c);
    if (c < C) { /* the last channels through a buffer of zeros */
        uint8_t ta[16] = {0}, tb[16] = {0};
        memcpy(ta, a + c, (size_t)(C - c));
        memcpy(tb, b + c, (size_t)(C - c));
        pairs16(ta, tb, x_signed, o + 2 * c);
        c += 16;
    }
    for (; c < cp; c += 16) {
        _mm256_storeu_si256((__m256i *)(o + 2 * c), _mm256_setzero_si256());
        _mm256_storeu_si256((__m256i *)(o + 2 * c) + 1, _mm256_setzero_si256());
    }
}

static inline void pair_row(const uint8_t *x, const uint8_t *zero_row, int x_signed,
                            const tc_qdw_geom *g, int16_t *prow)
{
    const ptrdiff_t C = g->C, cp2 = 2 * (ptrdiff_t)g->cp;
    /* the columns whose two pixels are inside the row, [u0, u1), where C is whole blocks of
     * 16: one pointer step per column, no tests, no tail.  The rows were a fifth to a third
     * of the layer (pair rows alone, 1 thread: 32 at 112x112 28%, 96 at 112x112 stride 2
     * 35%, 144 at 56x56 21%, 960 at 7x7 17%); this way, AMD EPYC Zen 3 native, the layer
     * alone (the kernels of two builds alternating, 21 rounds, min / median of per-round
     * ratios, same bytes, 2026-12-03): 32 at 112x112 0.88 / 0.79, 144 at 56x56 0.91 / 0.89,
     * 96 at 112x112 s2 0.88 / 0.86, 192 at 28x28 0.92 / 0.94, 384 at 14x14 0.95 / 0.94, 960
     * at 7x7 0.97 / 0.98.  In int8 MobileNetV2 (qsteps.py --against, min of 100 runs):
     * features.1-7's depthwise steps 0.85-0.95 of their time, the network's steps 0.988.
     * Tried on top (qdw_ab.sh, 21 rounds): at stride 1, each pixel loaded once for the two
     * columns holding it (channel blocks outer): 0.99-1.02 at 112x112 to 14x14, dropped */
    ptrdiff_t u0 = g->cols, u1 = g->cols;
    if (C % 16 == 0 && g->w - 1 + g->pl - g->dw >= 0) {
        u0 = (g->pl + g->ustep - 1) / g->ustep;
        u1 = (g->w - 1 + g->pl - g->dw) / g->ustep + 1;
        u1 = u1 < g->cols ? u1 : g->cols;
        u0 = u0 < u1 ? u0 : u1;
    }
    for (ptrdiff_t u = 0; u < g->cols; u++) {
        if (u == u0 && u0 < u1) {
            const ptrdiff_t step = g->ustep * C;
            const uint8_t *a = x + (u * g->ustep - g->pl) * C, *b = a + g->dw * C;
            int16_t *o = prow + u * cp2;
            for (; u < u1; u++, a += step, b += step, o += cp2)
                for (ptrdiff_t c = 0; c < C; c += 16)
                    pairs16(a + c, b + c, x_signed, o + 2 * c);
            if (u == g->cols)
                break;
        }
        ptrdiff_t ia = u * g->ustep - g->pl, ib = ia + g->dw;
        const uint8_t *a = ia >= 0 && ia < g->w ? x + ia * C : zero_row;
        const uint8_t *b = ib >= 0 && ib < g->w ? x + ib * C : zero_row;
        pair_column(a, b, x_signed, g->C, g->cp, prow + u * cp2);
    }
}

void tc_qdw_pair_row_avx2(const uint8_t *x, const uint8_t *zero_row, int x_signed,
                          const tc_qdw_geom *g, int16_t *prow)
{
    if (x_signed) /* the signedness a constant in each copy of the loop */
        pair_row(x, zero_row, 1, g, prow);
    else
        pair_row(x, zero_row, 0, g, prow);
}

/* 16 channels of output pixels [0, ow): the sums of KH x NP pairs of taps per pixel,
 * then the output stage.  KH, NP and the column steps (CS per pixel, JS per pair of taps;
 * 0: g's) are constants in the common cases, so the loops unroll: always inlined, since
 * GCC 12 otherwise kept one generic copy (14 vpmaddwd in the object, the loops over the
 * pairs of taps with run-time bounds and steps); inlined at the five call sites, lone 3x3
 * layers (emulated AVX2, 1 thread, thread CPU ns per pixel and 16 channels, min of 300,
 * 3 alternated rounds, 2026-12-02 00:13, before / after): 32 at 112x112 8.35-8.54 /
 * 7.54-7.65, 144 at 56x56 7.98-8.10 / 7.24-7.26, 288 at 28x28 8.22-8.32 / 7.60-7.65,
 * 576 at 14x14 8.96-9.05 / 8.23-8.28.  blk4: four neighbouring pixels computed together
 * share their weight loads and the pair-row columns they have in common (at stride 1,
 * pixel ox + 2 reads pixel ox's second pair's column).  Tried and dropped (n25-qir, Zen 3
 * native, 1 thread, the layer alone, two builds' kernels alternating, 21 rounds, same bytes):
 * the kernel-row loop with a constant trip count (3) where every kernel row is inside the
 * image: 1.11-1.17x the time (32 at 112x112, 144 at 56x56, 96 at 112x112 s2, 192 at 28x28). */
static inline __attribute__((always_inline)) void
out_block16(const int16_t *const *prows, const int16_t *w, const tc_qdw_geom *g, int KH, int NP,
            int CS, int JS, int blk4, int cb, const tc_qepi_avx2 *vb, int below1,
            const tc_qoutput *out, int nr, const void *r, void *y)
{
    /* the sums start at the bias (wrapping, as the store would add it): the stores' v has
     * none; with every scale of the layer below 1 the byte stores leave the float clamp to
     * the packs (tc_requant8_nc_avx2), as the GEMM's do.  Lone MobileNetV2 layers (its
     * weights, warm, emulated AVX2 1t, thread CPU min of 300, 3 alternated processes,
     * 2026-12-02 04:02, load 10, before / after): 32 at 112x112 196.5-199.4 / 195.3-195.5
     * us, 144 at 56x56 211.7-212.3 / 207.3-208.3, 384 at 14x14 37.9 / 36.5-36.7, 96 at
     * 112x112 stride 2 175.5-178.5 / 174.7-178.5; in the network within its noise */
    const __m256i bias0 = vb->bias0, bias1 = vb->bias1;
    tc_qepi_avx2 v0 = *vb;
    v0.bias0 = v0.bias1 = _mm256_setzero_si256();
    const tc_qepi_avx2 *v = &v0;
    const ptrdiff_t cp2 = 2 * (ptrdiff_t)g->cp;
    const ptrdiff_t step = (CS ? CS : g->sw / g->ustep) * cp2;
    const ptrdiff_t jstep = (JS ? JS : 2 * g->dw / g->ustep) * cp2;
    const size_t ysz = out->type >= TC_QOUT_S32 ? 4 : 1;
    const ptrdiff_t ldy = (ptrdiff_t)g->C * ysz;
    const int16_t *pr[64];
    int nk = 0;
    const __m256i *wr[64];
    for (int ky = 0; ky < KH; ky++)
        if (prows[ky]) { /* the kernel rows inside the image, and their weights */
            pr[nk] = prows[ky] + 2 * cb;
            wr[nk++] = (const __m256i *)(w + (ptrdiff_t)ky * NP * 32);
        }
    char *yo = (char *)y + cb * ysz;
    const char *ro = r ? (const char *)r + cb * ysz : NULL;
    /* whole blocks of 16 channels of bytes without a residual: 2 pixels' requantization,
     * packs and clamp together (tc_qstore_2rows_avx2), the same bytes as the row store */
    const int k8 = nr == 16 && !out->residual &&
                   (out->type == TC_QOUT_U8 || out->type == TC_QOUT_S8);
    const tc_qbytes_avx2 k = tc_qbytes_avx2_set(out->type, out->zero_point, out->lo, out->hi,
                                                NULL);
    int ox = 0;
    /* blocks of 4 pixels; the last may overhang the row (TC_QDW_OVER zero columns) */
    for (; blk4 && ox < g->ow; ox += 4) {
        /* named accumulators: an array would live in memory */
        __m256i a00 = bias0, a01 = bias1, a10 = bias0, a11 = bias1, a20 = bias0;
        __m256i a21 = bias1, a30 = bias0, a31 = bias1;
        for (int k = 0; k < nk; k++) {
            const int16_t *p = pr[k] + ox * step;
            for (int j = 0; j < NP; j++) {
                __m256i w0 = _mm256_loadu_si256(wr[k] + 2 * j);
                __m256i w1 = _mm256_loadu_si256(wr[k] + 2 * j + 1);
#define QDW_PIXEL(q, c0, c1)                                                                 \
    do {                                                                                     \
        const __m256i *pp = (const __m256i *)(p + (q) * step + j * jstep);                  \
        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_loadu_si256(pp), w0));           \
        c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_loadu_si256(pp + 1), w1));       \
    } while (0)
                QDW_PIXEL(0, a00, a01);
                QDW_PIXEL(1, a10, a11);
                QDW_PIXEL(2, a20, a21);
                QDW_PIXEL(3, a30, a31);
#undef QDW_PIXEL
            }
        }
        char *yq = yo + ox * ldy;
        const char *rq = ro ? ro + ox * ldy : NULL;
        const int left = g->ow - ox;
        if (k8 && left >= 4) { /* 16 bytes per pixel, two pixels at a time */
            tc_qstore_2rows_clamp_avx2(a00, a01, a10, a11, v, &k, !below1, yq, yq + ldy);
            tc_qstore_2rows_clamp_avx2(a20, a21, a30, a31, v, &k, !below1, yq + 2 * ldy,
                                       yq + 3 * ldy);
            continue;
        }
        tc_qstore_row_avx2(a00, a01, out->type, v, out->residual, rq, nr, yq);
        if (left > 1)
            tc_qstore_row_avx2(a10, a11, out->type, v, out->residual, rq ? rq + ldy : NULL, nr,
                               yq + ldy);
        if (left > 2)
            tc_qstore_row_avx2(a20, a21, out->type, v, out->residual, rq ? rq + 2 * ldy : NULL,
                               nr, yq + 2 * ldy);
        if (left > 3)
            tc_qstore_row_avx2(a30, a31, out->type, v, out->residual, rq ? rq + 3 * ldy : NULL,
                               nr, yq + 3 * ldy);
    }
    for (; k8 && ox + 2 <= g->ow; ox += 2) { /* rows under 16 pixels: pairs, stored together */
        __m256i a00 = bias0, a01 = bias1, a10 = bias0, a11 = bias1;
        for (int k = 0; k < nk; k++) {
            const int16_t *p = pr[k] + ox * step;
            for (int j = 0; j < NP; j++) {
                const __m256i *pp = (const __m256i *)(p + j * jstep);
                const __m256i *pq = (const __m256i *)(p + step + j * jstep);
                __m256i w0 = _mm256_loadu_si256(wr[k] + 2 * j);
                __m256i w1 = _mm256_loadu_si256(wr[k] + 2 * j + 1);
                a00 = _mm256_add_epi32(a00, _mm256_madd_epi16(_mm256_loadu_si256(pp), w0));
                a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(_mm256_loadu_si256(pp + 1), w1));
                a10 = _mm256_add_epi32(a10, _mm256_madd_epi16(_mm256_loadu_si256(pq), w0));
                a11 = _mm256_add_epi32(a11, _mm256_madd_epi16(_mm256_loadu_si256(pq + 1), w1));
            }
        }
        tc_qstore_2rows_clamp_avx2(a00, a01, a10, a11, v, &k, !below1, yo + ox * ldy,
                                   yo + (ox + 1) * ldy);
    }
    for (; ox < g->ow; ox++) {
        __m256i acc0 = bias0, acc1 = bias1;
        for (int k = 0; k < nk; k++) {
            const int16_t *p = pr[k] + ox * step;
            for (int j = 0; j < NP; j++) {
                const __m256i *pp = (const __m256i *)(p + j * jstep);
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_loadu_si256(pp),
                                                                 _mm256_loadu_si256(wr[k] + 2 * j)));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_loadu_si256(pp + 1),
                                                                 _mm256_loadu_si256(wr[k] + 2 * j + 1)));
            }
        }
        tc_qstore_row_avx2(acc0, acc1, out->type, v, out->residual, ro ? ro + ox * ldy : NULL, nr,
                           yo + ox * ldy);
    }
}

/* The 3x3 and 5x5 kernels (NP = 2 or 3 pairs of taps per kernel row) at stride 1 or 2 (one
 * column per pixel; JS: the pair row's columns from one pair of a pixel's taps to the next,
 * 2 at stride 1, 1 at stride 2), whole blocks of 16 channels of bytes without a residual:
 * MobileNetV2's and EfficientNet-B0's depthwise layers.  The kernel rows always KH (a row
 * outside the image reads another one with weights of 0: the same sums), the column step,
 * JS, the byte store's clamps and signedness constants, so that one copy per case keeps its
 * 8 sums, the kernel row's 2 NP weight vectors and the output stage's constants in
 * registers, with no test inside a row but the block loop's.  Pixels in blocks of 4 (a
 * load and vpmaddwd per pixel and pair of taps, the weights loaded once per kernel row and
 * block), then 2, then 1: no overhang.
 * Measured (n26-qdw, AMD EPYC Zen 4 emulating the AVX2 target, 2026-12-04, same bytes): the
 * layer alone against out_block16 (qdw_ab, 15 rounds, median of per-round ratios) 0.71-0.78
 * at 3x3 (32 at 112x112 to 960 at 7x7, strides 1 and 2), 5x5 0.66-0.76 at 28x28 to 56x56
 * but 672 at 14x14 stride 2 0.89 and 1152 at 7x7 0.82: on 7-row maps the zero-weighted
 * rows are 6 of 35.  Tried: 5x5 rows with 3 kernel rows inside the image through copies of
 * 3 rows of 3 pairs (16 more copies, the object 152 -> 187 KB): against these, 1152 at 7x7
 * 0.92, 672 at 14x14 0.96 (stride 2 0.97), 240 at 28x28 1.00, about 20 us of EfficientNet-
 * B0's 7.7 ms (qdw_ab, 15-21 rounds): not taken.  The 3x3 block of 4
 * pixels is 171 instructions (48 vpmaddwd, 48 vpaddd, 24 of requantization, about 10 of
 * packs and clamps, 12 weight loads): about 8 vector operations per pixel and 16 channels
 * above the 24 of the sums; its remaining waste is the odd tap's weight of 0 (6 vpmaddwd
 * for 9 taps).  The pair rows are now about a fifth of the layer (32 at 112x112). */
#define DWK_KEEP(c) __asm__("" : "+x"(c))
/* pixel q's pairs of taps from kernel row p: the sums in registers as they go (without
 * DWK_KEEP GCC reassociates each pixel's chain of additions into a tree over all its
 * products, computed first and spilled: 1.3x the time) */
#define DWK_TAPS(q, c0, c1, p)                                                               \
    do {                                                                                     \
        _Pragma("GCC unroll 3") for (int j = 0; j < NP; j++) {                              \
            const __m256i *pp = (const __m256i *)((p) + ((q) + j * JS) * cs);                \
            c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_loadu_si256(pp), wv[2 * j])); \
            c1 = _mm256_add_epi32(c1,                                                        \
                                  _mm256_madd_epi16(_mm256_loadu_si256(pp + 1), wv[2 * j + 1])); \
            DWK_KEEP(c0);                                                                    \
            DWK_KEEP(c1);                                                                    \
        }                                                                                    \
    } while (0)
#define DWK_WEIGHTS(wk)                                                                      \
    __m256i wv[6];                                                                           \
    _Pragma("GCC unroll 6") for (int j = 0; j < 2 * NP; j++)                                \
        wv[j] = _mm256_load_si256((wk) + j)

static inline __attribute__((always_inline)) void
dwk_row(const int16_t *const *pk, const __m256i *const *wk, int KH, ptrdiff_t cs, int JS,
        int ow, int clamp_hi, int clamp8, int is_signed, const tc_qepi_avx2 *v,
        const tc_qbytes_avx2 *kb, char *y, ptrdiff_t ldy)
{
    const int NP = (KH + 1) / 2;
    const __m256i bias0 = v->bias0, bias1 = v->bias1;
    tc_qepi_avx2 v0 = *v;
    v0.bias0 = v0.bias1 = _mm256_setzero_si256(); /* in the sums already */
    tc_qbytes_avx2 k = *kb;
    k.clamp8 = clamp8;
    k.is_signed = is_signed;
    const int16_t *p[5];
#pragma GCC unroll 5
    for (int r = 0; r < KH; r++)
        p[r] = pk[r];
    /* each kernel row's weights, its pixels' taps (the statements), then adv columns on */
#define DWK_ROWS(adv, ...)                                                                   \
    _Pragma("GCC unroll 5") for (int r = 0; r < KH; r++) {                                  \
        DWK_WEIGHTS(wk[r]);                                                                  \
        __VA_ARGS__;                                                                         \
        p[r] += (adv) * cs;                                                                  \
    }
    int ox = 0;
    for (; ox + 4 <= ow; ox += 4, y += 4 * ldy) {
        __m256i a00 = bias0, a01 = bias1, a10 = bias0, a11 = bias1;
        __m256i a20 = bias0, a21 = bias1, a30 = bias0, a31 = bias1;
        DWK_ROWS(4, DWK_TAPS(0, a00, a01, p[r]); DWK_TAPS(1, a10, a11, p[r]);
                 DWK_TAPS(2, a20, a21, p[r]); DWK_TAPS(3, a30, a31, p[r]));
        tc_qstore_2rows_clamp_avx2(a00, a01, a10, a11, &v0, &k, clamp_hi, y, y + ldy);
        tc_qstore_2rows_clamp_avx2(a20, a21, a30, a31, &v0, &k, clamp_hi, y + 2 * ldy,
                                   y + 3 * ldy);
    }
    if (ox + 2 <= ow) {
        __m256i a00 = bias0, a01 = bias1, a10 = bias0, a11 = bias1;
        DWK_ROWS(2, DWK_TAPS(0, a00, a01, p[r]); DWK_TAPS(1, a10, a11, p[r]));
        tc_qstore_2rows_clamp_avx2(a00, a01, a10, a11, &v0, &k, clamp_hi, y, y + ldy);
        ox += 2, y += 2 * ldy;
    }
    if (ox < ow) { /* the last pixel stored twice over itself */
        __m256i a00 = bias0, a01 = bias1;
        DWK_ROWS(1, DWK_TAPS(0, a00, a01, p[r]));
        tc_qstore_2rows_clamp_avx2(a00, a01, a00, a01, &v0, &k, clamp_hi, y, y);
    }
#undef DWK_ROWS
}
#undef DWK_TAPS
#undef DWK_WEIGHTS
#undef DWK_KEEP

/* dwk_row's copies: KH (3 or 5), JS, clamp_hi, clamp8, is_signed constants */
static void dwk_rows(const int16_t *const *prows, const int16_t *w, const tc_qdw_geom *g,
                     const int32_t *bias, const float *scale, const tc_qoutput *out, int JS,
                     void *y)
{
    const int KH = g->KH, NP = g->np;
    const ptrdiff_t cs = 2 * (ptrdiff_t)g->cp, ldy = g->C;
    const tc_qbytes_avx2 kb = tc_qbytes_avx2_set(out->type, out->zero_point, out->lo, out->hi,
                                                 NULL);
    const int mode = (JS == 1) | !g->scale_below1 << 1 | kb.clamp8 << 2 | kb.is_signed << 3 |
                     (KH == 5) << 4;
    /* a kernel row outside the image: another row's columns times these zeros */
    __m256i zw[6];
    for (int j = 0; j < 6; j++)
        zw[j] = _mm256_setzero_si256();
    const int16_t *any = NULL;
    for (int r = 0; r < KH; r++)
        any = any ? any : prows[r];
    for (int cb = 0; cb < g->C; cb += 16) {
        const tc_qepi_avx2 v = tc_qepi_avx2_load(bias + cb, scale + cb, out->zero_point,
                                                 out->lo, out->hi);
        const __m256i *wc = (const __m256i *)(w + (ptrdiff_t)cb * KH * NP * 2);
        const int16_t *pk[5] = {NULL};
        const __m256i *wk[5] = {NULL};
        for (int r = 0; r < KH; r++) {
            pk[r] = (prows[r] ? prows[r] : any) + 2 * cb;
            wk[r] = prows[r] ? wc + 2 * NP * r : zw;
        }
        char *yc = (char *)y + cb;
        switch (mode) {
#define DWK_CASE(m)                                                                          \
    case m:                                                                                  \
        dwk_row(pk, wk, ((m) & 16) ? 5 : 3, cs, ((m) & 1) ? 1 : 2, g->ow, ((m) >> 1) & 1,    \
                ((m) >> 2) & 1, ((m) >> 3) & 1, &v, &kb, yc, ldy);                           \
        break
#define DWK_CASES(m) DWK_CASE(m); DWK_CASE((m) + 1); DWK_CASE((m) + 2); DWK_CASE((m) + 3)
            DWK_CASES(0); DWK_CASES(4); DWK_CASES(8); DWK_CASES(12);
            DWK_CASES(16); DWK_CASES(20); DWK_CASES(24); DWK_CASES(28);
#undef DWK_CASES
#undef DWK_CASE
        }
    }
}

void tc_qdw_out_row_avx2(const int16_t *const *prows, const int16_t *w, const tc_qdw_geom *g,
                         const int32_t *bias, const float *scale, const tc_qoutput *out,
                         const void *r, void *y)
{
    /* column steps per pixel and per pair of taps: 1, 2 at stride 1; 1, 1 at stride 2 */
    const int cs = g->sw / g->ustep, js = 2 * g->dw / g->ustep;
    /* blocks of 4 pixels on rows of 16 or more: measured (thread time, emulated AVX2,
     * 2026-12-01) 0.68-0.95x the time of pixel by pixel at 28x28 to 112x112, but
     * 1.01-1.11x at 7x7 and 14x14 with 576-1152 channels (the overhanging block wastes
     * up to 1/7 of the sums there).  Tried (2026-12-02 00:33, inlined kernels): on rows
     * under 16 the blocks that fit (ox + 4 <= ow), then the pairs: 384 and 576 at 14x14
     * 2-3% slower, 960 at 7x7 within noise (27.5 / 26.4-29.0 us min): dropped */
    const int blk = g->ow >= 16;
    const int below1 = g->scale_below1;
    /* 3x3 and 5x5 to bytes without a residual: dwk_rows; the rest out_block16's way */
    int inside = 0;
    for (int ky = 0; ky < g->KH; ky++)
        inside |= prows[ky] != NULL;
    if ((g->KH == 3 || g->KH == 5) && g->np == (g->KH + 1) / 2 && cs == 1 &&
        (js == 2 || js == 1) && g->C % 16 == 0 && !out->residual &&
        (out->type == TC_QOUT_U8 || out->type == TC_QOUT_S8) && inside) {
        dwk_rows(prows, w, g, bias, scale, out, js, y);
        return;
    }
    for (int cb = 0; cb < g->C; cb += 16) {
        tc_qepi_avx2 v = tc_qepi_avx2_load(bias + cb, scale + cb, out->zero_point, out->lo,
                                           out->hi);
        const int16_t *wc = w + (ptrdiff_t)(cb / 16) * g->KH * g->np * 32;
        int nr = g->C - cb < 16 ? g->C - cb : 16;
        if (g->KH == 3 && g->np == 2 && cs == 1 && js == 2)
            out_block16(prows, wc, g, 3, 2, 1, 2, blk, cb, &v, below1, out, nr, r, y);
        else if (g->KH == 3 && g->np == 2 && cs == 1 && js == 1)
            out_block16(prows, wc, g, 3, 2, 1, 1, blk, cb, &v, below1, out, nr, r, y);
        else if (g->KH == 5 && g->np == 3 && cs == 1 && js == 2)
            out_block16(prows, wc, g, 5, 3, 1, 2, blk, cb, &v, below1, out, nr, r, y);
        else if (g->KH == 5 && g->np == 3 && cs == 1 && js == 1)
            out_block16(prows, wc, g, 5, 3, 1, 1, blk, cb, &v, below1, out, nr, r, y);
        else
            out_block16(prows, wc, g, g->KH, g->np, 0, 0, blk, cb, &v, below1, out, nr, r, y);
    }
}
