/* The vector primitives of depthwise_body.h on 16 lanes in AVX-512F
 * (conv_avx512.c); depthwise_vec_avx2.h holds the same operations on 8 lanes,
 * depthwise_vec_portable.h in plain C.  Masks are __mmask16: a masked-off lane
 * is neither read nor written (and cannot fault). */
#ifndef TC_DEPTHWISE_VEC_H
#define TC_DEPTHWISE_VEC_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include "epilogue_avx512.h"

#define TC_VL 16
typedef __m512 tc_v;
typedef __mmask16 tc_m;

/* the lanes i with lo <= i < hi */
static inline tc_m tc_m_range(int lo, int hi)
{
    lo = lo < 0 ? 0 : lo > TC_VL ? TC_VL : lo;
    hi = hi < 0 ? 0 : hi > TC_VL ? TC_VL : hi;
    return (tc_m)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* lane i on where bit i of bits is */
static inline tc_m tc_m_bits(uint64_t bits) { return (tc_m)(bits & 0xffffu); }

static inline tc_v tc_v_set1(float a) { return _mm512_set1_ps(a); }
static inline tc_v tc_v_zero(void) { return _mm512_setzero_ps(); }
static inline tc_v tc_v_load(const float *p) { return _mm512_loadu_ps(p); }

/* the even lanes of a then b: [a0 a2 ... a14 b0 b2 ... b14] */
static inline tc_v tc_evens(__m512 a, __m512 b)
{
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a, idx, b);
}

/* p[0], p[2], ..., p[30] */
static inline tc_v tc_v_load_even(const float *p)
{
    return tc_evens(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 16));
}

static inline tc_v tc_v_load_masked(const float *p, tc_m m) { return _mm512_maskz_loadu_ps(m, p); }

static inline tc_v tc_v_load_even_masked(const float *p, tc_m lo, tc_m hi)
{
    return tc_evens(_mm512_maskz_loadu_ps(lo, p), _mm512_maskz_loadu_ps(hi, p + 16));
}

/* *e = p[0], p[2], ..., p[30], *o = p[1], p[3], ..., p[31], in order (a
 * two-source permute is one instruction here: nothing for tc_v_unscramble to do) */
static inline void tc_v_split_even_odd(__m512 a, __m512 b, tc_v *e, tc_v *o)
{
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *e = tc_evens(a, b);
    *o = _mm512_permutex2var_ps(a, odd, b);
}
static inline void tc_v_load_even_odd(const float *p, tc_v *e, tc_v *o)
{
    tc_v_split_even_odd(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 16), e, o);
}
static inline void tc_v_load_even_odd_masked(const float *p, tc_m lo, tc_m hi, tc_v *e, tc_v *o)
{
    tc_v_split_even_odd(_mm512_maskz_loadu_ps(lo, p), _mm512_maskz_loadu_ps(hi, p + 16), e, o);
}
static inline tc_v tc_v_unscramble(tc_v v) { return v; }

/* [0, v0, ..., v14] and [v1, ..., v15, 0] (depthwise_body.h's EDGE; unused at 16 lanes) */
static inline tc_v tc_v_shift_in_zero_lo(tc_v v)
{
    const __m512i idx = _mm512_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
    return _mm512_maskz_permutexvar_ps((__mmask16)0xFFFE, idx, v);
}
static inline tc_v tc_v_shift_in_zero_hi(tc_v v)
{
    const __m512i idx = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 15);
    return _mm512_maskz_permutexvar_ps((__mmask16)0x7FFF, idx, v);
}
/* e[0..15] = p[0], p[2], ..., p[30] and o[0..15] = p[1], p[3], ..., p[31] */
static inline void tc_v_split_store(const float *p, float *e, float *o)
{
    tc_v ve, vo;
    tc_v_load_even_odd(p, &ve, &vo);
    _mm512_storeu_ps(e, ve);
    _mm512_storeu_ps(o, vo);
}
/* lane i: row[c0 + i*s] when that column is inside [0, W), else 0 */
static inline tc_v tc_v_gather(const float *row, int c0, int s, int W)
{
    float t[TC_VL];
    for (int i = 0; i < TC_VL; i++) {
        ptrdiff_t c = (ptrdiff_t)c0 + (ptrdiff_t)i * s;
        t[i] = c >= 0 && c < W ? row[c] : 0.0f;
    }
    return _mm512_loadu_ps(t);
}

/* r[i][j] <-> r[j][i]: 16 rows of 16 lanes (pairs of floats, then of
 * doubles, then 128-bit quarters twice) */
static inline void tc_v_transpose(tc_v r[16])
{
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        const __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
        const __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
        u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    /* u[4q + k], lane quarter L: column 4L + k of rows 4q..4q+3 */
    for (int k = 0; k < 4; k++) {
        const __m512 a = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88);
        const __m512 b = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD);
        const __m512 c = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
        const __m512 d = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
        r[k] = _mm512_shuffle_f32x4(a, c, 0x88);
        r[k + 8] = _mm512_shuffle_f32x4(a, c, 0xDD);
        r[k + 4] = _mm512_shuffle_f32x4(b, d, 0x88);
        r[k + 12] = _mm512_shuffle_f32x4(b, d, 0xDD);
    }
}

static inline tc_v tc_v_fma(tc_v a, tc_v b, tc_v c) { return _mm512_fmadd_ps(a, b, c); }
static inline tc_v tc_v_add(tc_v a, tc_v b) { return _mm512_add_ps(a, b); }

static inline tc_v tc_v_act(tc_act_k act, tc_v v) { return tc_act_avx512(act, v); }
static inline void tc_v_act_rows(int kind, float *y, ptrdiff_t n) { tc_act_rows_avx512(kind, y, n, 1, n); }
static inline void tc_v_store(float *p, tc_v v) { _mm512_storeu_ps(p, v); }
static inline void tc_v_store_masked(float *p, tc_m m, tc_v v) { _mm512_mask_storeu_ps(p, m, v); }

#endif
