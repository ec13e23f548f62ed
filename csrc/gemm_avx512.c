/* AVX-512 micro-kernels of the packed GEMM (compiled with -mavx512f -mavx2 -mfma;
 * their table, tc_gemm_avx512, is picked for a tc_ctx only when the CPU has
 * AVX-512F, AVX2 and FMA).  Same packing as the AVX2 kernels (MR = 6 rows of A,
 * NR = 16 columns of B): one zmm holds a whole row of the tile, so a K step is
 * 6 FMAs where AVX2 needs 12.  Each output is the same sequence of FMAs over k
 * as in ukernel_6x16_avx2, so the two are bit-identical (tests/test_gemm.py).
 * The GEMVs are AVX2's: they stream memory, wider vectors do not help them. */
#include <immintrin.h>
#include "epilogue_avx512.h"
#include "gemm_internal.h"

/* The fused activation on 16 lanes: tc_act_avx512 (epilogue_avx512.h). */
static inline __m512 act_avx512(tc_act_k act, __m512 v) { return tc_act_avx512(act, v); }

/* A whole row of the epilogue in one zmm: the masked lanes (columns past nr)
 * are neither read nor written. */
static inline void store_row16(float *ci, __m512 r, int i, int flags, const tc_tile_epi *e,
                               __mmask16 m)
{
    if (flags & TC_UK_FIRST) {
        if (flags & TC_UK_ACCUM)
            r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, ci));
        if (e->bias)
            r = _mm512_add_ps(r, _mm512_set1_ps(e->bias[i]));
        if (e->col_bias)
            r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, e->col_bias));
        if (e->residual)
            r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, e->residual + i * e->ldr));
    } else {
        r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, ci));
    }
    if (flags & TC_UK_LAST)
        r = act_avx512(tc_act_at(&e->act, i), r);
    _mm512_mask_storeu_ps(ci, m, r);
}

/* a: [kc][6]  b: [kc][16]  c: [mr, nr] (leading dimension ldc).  width: 16, or
 * 8 for the narrow last panel (only the first 8 columns of B are read). */
static inline void ukernel_6xw_avx512(int kc, const float *a, const float *b, float *c,
                                      ptrdiff_t ldc, int mr, int nr, int flags,
                                      const tc_tile_epi *e, int pf_a, int width)
{
    __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps();
    __m512 c3 = _mm512_setzero_ps(), c4 = _mm512_setzero_ps(), c5 = _mm512_setzero_ps();
    const __mmask16 bm = width == 16 ? (__mmask16)0xFFFF : (__mmask16)0x00FF;
    for (int i = 0; i < mr; i++)
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        _mm_prefetch((const char *)(a + pf_a), _MM_HINT_T0);
        __m512 b0 = width == 16 ? _mm512_loadu_ps(b) : _mm512_maskz_loadu_ps(bm, b);
        c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[0]), b0, c0);
        c1 = _mm512_fmadd_ps(_mm512_set1_ps(a[1]), b0, c1);
        c2 = _mm512_fmadd_ps(_mm512_set1_ps(a[2]), b0, c2);
        c3 = _mm512_fmadd_ps(_mm512_set1_ps(a[3]), b0, c3);
        c4 = _mm512_fmadd_ps(_mm512_set1_ps(a[4]), b0, c4);
        c5 = _mm512_fmadd_ps(_mm512_set1_ps(a[5]), b0, c5);
        a += MR;
        b += NR;
    }
    const __m512 rows[MR] = {c0, c1, c2, c3, c4, c5};
    const __mmask16 m = (__mmask16)((1u << nr) - 1u);
    for (int i = 0; i < mr; i++)
        store_row16(c + i * ldc, rows[i], i, flags, e, m);
}

static void ukernel_6x16_avx512(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                int mr, int nr, int flags, const tc_tile_epi *e, int pf_a)
{
    ukernel_6xw_avx512(kc, a, b, c, ldc, mr, nr, flags, e, pf_a, 16);
}

static void ukernel_6x8_avx512(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                               int mr, int nr, int flags, const tc_tile_epi *e, int pf_a)
{
    ukernel_6xw_avx512(kc, a, b, c, ldc, mr, nr, flags, e, pf_a, 8);
}

/* a: [kc][6] and, when na == 2, (a + astride)[kc][6]  b: [kc][16] and, when
 * nb == 2, (b + bstride)[kc][16]  c: [mr <= 6 na, nr <= 16 nb].
 * 6 na x nb accumulators; per K step nb loads of B and 6 na broadcasts of A
 * (folded into the FMAs as {1to16} operands).  6x32 (na 1, nb 2): 8 loads per
 * 12 FMAs; 12x32 (na 2, nb 2): 14 loads per 24 FMAs, FMA-bound with room for
 * the loads of the next step; 12x16 (the narrow last panel): 13 per 12.  Each
 * output is the same FMA sequence over k whatever the tile, and as in
 * ukernel_6x16_avx2 (bit-identical, tests/test_gemm.py). */
static inline __attribute__((always_inline)) void ukernel_tile_avx512(int kc, const float *a, ptrdiff_t astride, const float *b,
                                       ptrdiff_t bstride, float *c, ptrdiff_t ldc, int mr, int nr,
                                       int flags, const tc_tile_epi *e, int pf_a, int na, int nb,
                                       ptrdiff_t ldb, int masked)
{
    /* indexed by constants only (the loops are unrolled), so gcc keeps it in
     * registers; the stores below work on copies */
    __m512 acc[2 * MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < 2 * MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    const float *a1 = a + astride, *b1 = b + bstride;
    /* B in place (masked): lanes past nr are neither read nor stored */
    const __mmask16 bm0 = nr >= NR ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1u);
    const __mmask16 bm1 = nr >= 2 * NR ? (__mmask16)0xFFFF
                          : nr > NR   ? (__mmask16)((1u << (nr - NR)) - 1u)
                                      : (__mmask16)0;
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        if (nb == 2)
            _mm_prefetch((const char *)(c + i * ldc + NR), _MM_HINT_T0);
    }
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        _mm_prefetch((const char *)(a + pf_a), _MM_HINT_T0);
        if (na == 2)
            _mm_prefetch((const char *)(a1 + pf_a), _MM_HINT_T0);
        __m512 x, y;
        if (masked) {
            x = _mm512_maskz_loadu_ps(bm0, b);
            y = nb == 2 ? _mm512_maskz_loadu_ps(bm1, b1) : x;
        } else {
            x = _mm512_loadu_ps(b);
            y = nb == 2 ? _mm512_loadu_ps(b1) : x;
        }
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m512 av = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(av, x, acc[i][0]);
            if (nb == 2)
                acc[i][1] = _mm512_fmadd_ps(av, y, acc[i][1]);
        }
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            if (na == 1)
                break;
            __m512 av = _mm512_set1_ps(a1[i]);
            acc[MR + i][0] = _mm512_fmadd_ps(av, x, acc[MR + i][0]);
            if (nb == 2)
                acc[MR + i][1] = _mm512_fmadd_ps(av, y, acc[MR + i][1]);
        }
        a += MR;
        a1 += MR;
        b += ldb;
        b1 += ldb;
    }
    const __m512 left[2 * MR] = {acc[0][0], acc[1][0], acc[2][0],  acc[3][0],
                                 acc[4][0], acc[5][0], acc[6][0],  acc[7][0],
                                 acc[8][0], acc[9][0], acc[10][0], acc[11][0]};
    const __m512 right[2 * MR] = {acc[0][1], acc[1][1], acc[2][1],  acc[3][1],
                                  acc[4][1], acc[5][1], acc[6][1],  acc[7][1],
                                  acc[8][1], acc[9][1], acc[10][1], acc[11][1]};
    /* rows i of e are rows i of the tile, for all 12 (bias, residual, slope) */
    if (nb == 1) {
        const __mmask16 m = (__mmask16)((1u << nr) - 1u);
        for (int i = 0; i < mr; i++)
            store_row16(c + i * ldc, left[i], i, flags, e, m);
        return;
    }
    const tc_tile_epi e1 = tc_tile_epi_shift(e, 0, NR); /* the right half: columns 16.. */
    const __mmask16 m1 = (__mmask16)((1u << (nr - NR)) - 1u);
    for (int i = 0; i < mr; i++) {
        store_row16(c + i * ldc, left[i], i, flags, e, (__mmask16)0xFFFF);
        store_row16(c + i * ldc + NR, right[i], i, flags, &e1, m1);
    }
}

/* c: [mr, 16 < nr <= 32]: two B panels, one A panel (tc_ukernel_wide_fn) */
static void ukernel_6x32_avx512(int kc, const float *a, const float *b, ptrdiff_t bstride,
                                float *c, ptrdiff_t ldc, int mr, int nr, int flags,
                                const tc_tile_epi *e, int pf_a)
{
    ukernel_tile_avx512(kc, a, 0, b, bstride, c, ldc, mr, nr, flags, e, pf_a, 1, 2, NR, 0);
}

/* c: [6 < mr <= 12, nr <= 32]: two A panels, one or two B panels (tc_ukernel_tall_fn) */
static void ukernel_12x32_avx512(int kc, const float *a, ptrdiff_t astride, const float *b,
                                 ptrdiff_t bstride, float *c, ptrdiff_t ldc, int mr, int nr,
                                 int flags, const tc_tile_epi *e, int pf_a)
{
    if (nr > NR)
        ukernel_tile_avx512(kc, a, astride, b, bstride, c, ldc, mr, nr, flags, e, pf_a, 2, 2, NR, 0);
    else
        ukernel_tile_avx512(kc, a, astride, b, bstride, c, ldc, mr, nr, flags, e, pf_a, 2, 1, NR, 0);
}

/* tc_ukernel_inplace_fn: the same tiles on B read in place, [kc, ldb] */
static void ukernel_inplace_avx512(int kc, const float *a, ptrdiff_t astride, int na,
                                   const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int mr,
                                   int nr, int flags, const tc_tile_epi *e, int pf_a)
{
    if (na == 2 && nr > NR)
        ukernel_tile_avx512(kc, a, astride, b, NR, c, ldc, mr, nr, flags, e, pf_a, 2, 2, ldb, 1);
    else if (na == 2)
        ukernel_tile_avx512(kc, a, astride, b, NR, c, ldc, mr, nr, flags, e, pf_a, 2, 1, ldb, 1);
    else if (nr > NR)
        ukernel_tile_avx512(kc, a, 0, b, NR, c, ldc, mr, nr, flags, e, pf_a, 1, 2, ldb, 1);
    else
        ukernel_tile_avx512(kc, a, 0, b, NR, c, ldc, mr, nr, flags, e, pf_a, 1, 1, ldb, 1);
}

const tc_gemm_kernels tc_gemm_avx512 = {
    .tile = ukernel_6x16_avx512,
    .tile_half = ukernel_6x8_avx512,
    .gemv_panels = tc_gemv_panels_avx2,
    .gemv_rows = tc_gemv_rows_avx2,
    .tile_wide = ukernel_6x32_avx512,
    .tile_tall = ukernel_12x32_avx512,
    .tile_inplace = ukernel_inplace_avx512,
    .tile_chan = tc_gemm_chan_avx2,
};
