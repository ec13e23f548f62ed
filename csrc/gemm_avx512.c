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

/* a: [kc][6]  b: [kc][16] and (b + bstride)[kc][16]  c: [mr, 16 < nr <= 32].
 * 12 zmm accumulators: per K step 2 loads of B and 6 broadcasts of A feed 12
 * FMAs (FMA-bound; the single-panel tile is bound by its 7 loads per 6 FMAs). */
static void ukernel_6x32_avx512(int kc, const float *a, const float *b, ptrdiff_t bstride,
                                float *c, ptrdiff_t ldc, int mr, int nr, int flags,
                                const tc_tile_epi *e, int pf_a)
{
    __m512 c00 = _mm512_setzero_ps(), c10 = _mm512_setzero_ps(), c20 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c40 = _mm512_setzero_ps(), c50 = _mm512_setzero_ps();
    __m512 c01 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c31 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    const float *b1 = b + bstride;
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        _mm_prefetch((const char *)(a + pf_a), _MM_HINT_T0);
        __m512 x = _mm512_loadu_ps(b), y = _mm512_loadu_ps(b1), av;
        av = _mm512_set1_ps(a[0]);
        c00 = _mm512_fmadd_ps(av, x, c00);
        c01 = _mm512_fmadd_ps(av, y, c01);
        av = _mm512_set1_ps(a[1]);
        c10 = _mm512_fmadd_ps(av, x, c10);
        c11 = _mm512_fmadd_ps(av, y, c11);
        av = _mm512_set1_ps(a[2]);
        c20 = _mm512_fmadd_ps(av, x, c20);
        c21 = _mm512_fmadd_ps(av, y, c21);
        av = _mm512_set1_ps(a[3]);
        c30 = _mm512_fmadd_ps(av, x, c30);
        c31 = _mm512_fmadd_ps(av, y, c31);
        av = _mm512_set1_ps(a[4]);
        c40 = _mm512_fmadd_ps(av, x, c40);
        c41 = _mm512_fmadd_ps(av, y, c41);
        av = _mm512_set1_ps(a[5]);
        c50 = _mm512_fmadd_ps(av, x, c50);
        c51 = _mm512_fmadd_ps(av, y, c51);
        a += MR;
        b += NR;
        b1 += NR;
    }
    /* the right half as a tile of its own: its columns start 16 further */
    tc_tile_epi e1 = *e;
    e1.col_bias = e->col_bias ? e->col_bias + NR : NULL;
    e1.residual = e->residual ? e->residual + NR : NULL;
    const __m512 left[MR] = {c00, c10, c20, c30, c40, c50};
    const __m512 right[MR] = {c01, c11, c21, c31, c41, c51};
    const __mmask16 m1 = (__mmask16)((1u << (nr - NR)) - 1u);
    for (int i = 0; i < mr; i++) {
        store_row16(c + i * ldc, left[i], i, flags, e, (__mmask16)0xFFFF);
        store_row16(c + i * ldc + NR, right[i], i, flags, &e1, m1);
    }
}

const tc_gemm_kernels tc_gemm_avx512 = {
    .tile = ukernel_6x16_avx512,
    .tile_half = ukernel_6x8_avx512,
    .gemv_panels = tc_gemv_panels_avx2,
    .gemv_rows = tc_gemv_rows_avx2,
    .tile_wide = ukernel_6x32_avx512,
};
