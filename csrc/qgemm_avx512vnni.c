/* AVX-512 VNNI micro-kernel of the 8-bit GEMM for S8X4 weights (the
 * avx512vnni row of dispatch.c's table, chosen by tc_ctx_set_vnni when the CPU has
 * AVX-512 F, BW, VL and VNNI; setup.py compiles
 * this file with -mavx512f -mavx512bw -mavx512vl -mavx512vnni).  Its portable twin is
 * tc_qukernel_s8x4_portable: same packed layout, same results.
 *
 * A 512-bit register holds one k step (4 k x 16 columns) of a panel, so the tile is
 * 12 rows x 2 panels: 24 accumulators, 2 panel loads and 12 broadcasts per step.
 * vpdpbusd adds four unsigned-by-signed byte products straight to 32-bit lanes. */
#include <immintrin.h>
#include <string.h>
#include "quant_internal.h"
#include "qwinograd_internal.h"

static inline __m512i bcast32(const char *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* requantize 16 sums of a row and store nr <= 16 columns; r: the row's residual
 * (a fused QLinearAdd) or NULL */
static inline void store16(__m512i acc, const tc_qepi *e, int j0, int nr, const void *r, void *y)
{
    if (nr <= 0)
        return;
    const __mmask16 m = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    acc = _mm512_add_epi32(acc, _mm512_loadu_si512(e->bias + j0));
    switch (e->type) {
    case TC_QOUT_S32:
        _mm512_mask_storeu_epi32((int32_t *)y + j0, m, acc);
        return;
    case TC_QOUT_F32:
        _mm512_mask_storeu_ps((float *)y + j0, m,
                              _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(e->scale + j0)));
        return;
    default: {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(e->scale + j0));
        f = _mm512_max_ps(f, _mm512_set1_ps((float)(e->lo - e->zero_point)));
        f = _mm512_min_ps(f, _mm512_set1_ps((float)(e->hi - e->zero_point)));
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(e->zero_point));
        if (r) {
            const tc_qresidual *res = e->residual;
            __m128i rb = _mm_maskz_loadu_epi8(m, (const char *)r + j0);
            __m512 rf = _mm512_cvtepi32_ps(e->type == TC_QOUT_S8 ? _mm512_cvtepi8_epi32(rb)
                                                                 : _mm512_cvtepu8_epi32(rb));
            __m512 qf = _mm512_cvtepi32_ps(q);
            __m512 a = res->q_is_a ? qf : rf, b = res->q_is_a ? rf : qf;
            __m512 v = _mm512_fmadd_ps(a, _mm512_set1_ps(res->ra),
                                       _mm512_fmadd_ps(b, _mm512_set1_ps(res->rb),
                                                       _mm512_set1_ps(res->fixed)));
            v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-2147483520.0f)),
                              _mm512_set1_ps(2147483520.0f));
            q = _mm512_cvtps_epi32(v);  /* QLinearAdd saturates to the type */
            q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(e->type == TC_QOUT_S8 ? -128 : 0)),
                                 _mm512_set1_epi32(e->type == TC_QOUT_S8 ? 127 : 255));
        }
        /* within the type's range: truncating to bytes keeps the value */
        _mm_mask_storeu_epi8((char *)y + j0, m, _mm512_cvtepi32_epi8(q));
    }
    }
}

#define ROWS(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)

void tc_qukernel_s8x4_avx512vnni(int ntaps, int klen, const void *const *rows, int mr,
                                 const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y,
                                 ptrdiff_t ldy)
{
#define DECL(r) __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = _mm512_setzero_si512(); \
    const char *a##r;
    ROWS(DECL)
    const char *b0p = b, *b1p = (const char *)b + ldb;
    for (int t = 0; mr == 1 && t < ntaps; t++) { /* one row (GEMVs): not 12 rows' work */
        a0 = rows[t * TC_QMR_MAX];
        for (ptrdiff_t off = 0; off < klen; off += 4, b0p += 64, b1p += 64) {
            __m512i av = bcast32(a0 + off);
            c00 = _mm512_dpbusd_epi32(c00, av, _mm512_loadu_si512(b0p));
            if (nr > 16)
                c01 = _mm512_dpbusd_epi32(c01, av, _mm512_loadu_si512(b1p));
        }
    }
    for (int t = 0; mr > 1 && t < ntaps; t++) {
        const void *const *rt = rows + t * TC_QMR_MAX;
#define ROWPTR(r) a##r = rt[r];
        ROWS(ROWPTR)
        if (nr > 16) {
            for (ptrdiff_t off = 0; off < klen; off += 4, b0p += 64, b1p += 64) {
                __m512i b0 = _mm512_loadu_si512(b0p), b1 = _mm512_loadu_si512(b1p), av;
#define STEP2(r) av = bcast32(a##r + off); c##r##0 = _mm512_dpbusd_epi32(c##r##0, av, b0); \
                 c##r##1 = _mm512_dpbusd_epi32(c##r##1, av, b1);
                ROWS(STEP2)
            }
        } else {
            for (ptrdiff_t off = 0; off < klen; off += 4, b0p += 64) {
                __m512i b0 = _mm512_loadu_si512(b0p), av;
#define STEP1(r) av = bcast32(a##r + off); c##r##0 = _mm512_dpbusd_epi32(c##r##0, av, b0);
                ROWS(STEP1)
            }
        }
    }
    const size_t ysz = e->type >= TC_QOUT_S32 ? 4 : 1;
    __m512i acc[12][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41},
                          {c50, c51}, {c60, c61}, {c70, c71}, {c80, c81}, {c90, c91},
                          {c100, c101}, {c110, c111}};
    for (int r = 0; r < mr; r++) {
        char *yr = (char *)y + r * ldy * ysz;
        const char *rr = e->residual ? (const char *)e->r + r * ldy * ysz : NULL;
        store16(acc[r][0], e, 0, nr < 16 ? nr : 16, rr, yr);
        store16(acc[r][1], e, 16, nr - 16, rr, yr);
    }
}

/* The row of the 8-bit kernels' table (dispatch.c) on this VNNI tier: AVX2's element-wise
 * kernels, vpdpbusd for S8X4 weights. */
const tc_quant_kernels tc_quant_avx512vnni = {
    tc_quantize_run_avx2, tc_qadd_run_avx2, tc_qmul_run_avx2, tc_qdw_pair_row_avx2,
    tc_qdw_out_row_avx2,
    {tc_qukernel_s8x4_avx512vnni, 12, 32, "s8x4-avx512vnni"},
    {tc_qukernel_s16x2_avx2, 6, 16, "s16x2-avx2", 1},
    {tc_qukernel_u8s8x2_avx2, 6, 16, "u8s8x2-avx2"},
    {tc_qukernel_u7s8_avx2, 6, 16, "u7s8-avx2"},
    {tc_qukernel_u7s8_4x16_avx2, 4, 16, "u7s8-4x16-avx2"},
    1,
    tc_qwg_chunk_avx2,
    tc_lookup_run_avx2,
    tc_qgap_sum_avx2,
    tc_u7s8_split_avx2,
    tc_interleave3_avx2,
    tc_max8_taps_avx2,
    tc_qwiden_run_avx2,
};
