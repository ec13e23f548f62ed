/* The 8-lane vector primitives of depthwise_body.h in AVX2 + FMA
 * (conv_avx2.c); depthwise_vec_portable.h is their plain C twin. */
#ifndef TC_DEPTHWISE_VEC_H
#define TC_DEPTHWISE_VEC_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include "epilogue_avx2.h"

#define TC_VL 8
typedef __m256 tc_v;
typedef __m256i tc_m; /* a lane is on where its sign bit is */

/* the lanes i with lo <= i < hi */
static inline tc_m tc_m_range(int lo, int hi)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    lo = lo < -1 ? -1 : lo; /* lo - 1 below must not overflow */
    return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx),
                            _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1)));
}

/* lane i on where bit i of bits is: bit i shifted to the lane's sign bit, the
 * only bit maskload and maskstore read */
static inline tc_m tc_m_bits(uint64_t bits)
{
    const __m256i to_sign = _mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24);
    return _mm256_sllv_epi32(_mm256_set1_epi32((int)(uint32_t)bits), to_sign);
}

static inline tc_v tc_v_set1(float a) { return _mm256_set1_ps(a); }
static inline tc_v tc_v_zero(void) { return _mm256_setzero_ps(); }
static inline tc_v tc_v_load(const float *p) { return _mm256_loadu_ps(p); }

/* [a0 a2 b0 b2 | a4 a6 b4 b6] -> [a0 a2 a4 a6 b0 b2 b4 b6] */
static inline tc_v tc_evens(__m256 a, __m256 b)
{
    __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* p[0], p[2], ..., p[14] */
static inline tc_v tc_v_load_even(const float *p)
{
    return tc_evens(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8));
}

/* masked-off lanes are neither read nor fault */
static inline tc_v tc_v_load_masked(const float *p, tc_m m) { return _mm256_maskload_ps(p, m); }

static inline tc_v tc_v_load_even_masked(const float *p, tc_m lo, tc_m hi)
{
    return tc_evens(_mm256_maskload_ps(p, lo), _mm256_maskload_ps(p + 8, hi));
}

/* Stride 2 without a cross-lane permute per tap: *e = p[0], p[2], ..., p[14]
 * and *o = p[1], p[3], ..., p[15] in the lane order [0 1 4 5 2 3 6 7] (one
 * in-lane shuffle each); a sum of such vectors is put in order once, by
 * tc_v_unscramble, before it is stored. */
static inline void tc_v_split_even_odd(__m256 a, __m256 b, tc_v *e, tc_v *o)
{
    *e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    *o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
}
static inline void tc_v_load_even_odd(const float *p, tc_v *e, tc_v *o)
{
    tc_v_split_even_odd(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), e, o);
}
static inline void tc_v_load_even_odd_masked(const float *p, tc_m lo, tc_m hi, tc_v *e, tc_v *o)
{
    tc_v_split_even_odd(_mm256_maskload_ps(p, lo), _mm256_maskload_ps(p + 8, hi), e, o);
}
static inline tc_v tc_v_unscramble(tc_v v)
{
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* [0, v0, ..., v6] and [v1, ..., v7, 0]: a row's vector one column to the left or right, the
 * column past the row's border a zero (the 3x3 pair at a border, depthwise_body.h's EDGE) */
static inline tc_v tc_v_shift_in_zero_lo(tc_v v)
{
    const __m256 lo = _mm256_permute2f128_ps(v, v, 0x08); /* [0 | v0..v3] */
    return _mm256_castsi256_ps(
        _mm256_alignr_epi8(_mm256_castps_si256(v), _mm256_castps_si256(lo), 12));
}
static inline tc_v tc_v_shift_in_zero_hi(tc_v v)
{
    const __m256 hi = _mm256_permute2f128_ps(v, v, 0x81); /* [v4..v7 | 0] */
    return _mm256_castsi256_ps(
        _mm256_alignr_epi8(_mm256_castps_si256(hi), _mm256_castps_si256(v), 4));
}

/* e[0..7] = p[0], p[2], ..., p[14] and o[0..7] = p[1], p[3], ..., p[15], in order: one
 * cross-lane permute per 8 floats and 128-bit stores of its halves, where the loads, split and
 * unscramble above take two shuffles per 8 (the stores are not shuffles) */
static inline void tc_v_split_store(const float *p, float *e, float *o)
{
    const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256 a = _mm256_permutevar8x32_ps(_mm256_loadu_ps(p), idx);
    const __m256 b = _mm256_permutevar8x32_ps(_mm256_loadu_ps(p + 8), idx);
    _mm_storeu_ps(e, _mm256_castps256_ps128(a));
    _mm_storeu_ps(e + 4, _mm256_castps256_ps128(b));
    _mm_storeu_ps(o, _mm256_extractf128_ps(a, 1));
    _mm_storeu_ps(o + 4, _mm256_extractf128_ps(b, 1));
}
/* lane i: row[c0 + i*s] when that column is inside [0, W), else 0 */
static inline tc_v tc_v_gather(const float *row, int c0, int s, int W)
{
    float t[8];
    for (int i = 0; i < 8; i++) {
        ptrdiff_t c = (ptrdiff_t)c0 + (ptrdiff_t)i * s;
        t[i] = c >= 0 && c < W ? row[c] : 0.0f;
    }
    return _mm256_loadu_ps(t);
}

/* r[i][j] <-> r[j][i]: 8 rows of 8 lanes */
static inline void tc_v_transpose(tc_v r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

static inline tc_v tc_v_fma(tc_v a, tc_v b, tc_v c) { return _mm256_fmadd_ps(a, b, c); }
static inline tc_v tc_v_add(tc_v a, tc_v b) { return _mm256_add_ps(a, b); }
static inline tc_v tc_v_act(tc_act_k act, tc_v v) { return tc_act_avx2(act, v); }
/* the deferred kinds' pass over rows just stored (epilogue.h, tc_act_deferred) */
static inline void tc_v_act_rows(int kind, float *y, ptrdiff_t n) { tc_act_rows_avx2(kind, y, n, 1, n); }
static inline void tc_v_store(float *p, tc_v v) { _mm256_storeu_ps(p, v); }
/* vmaskmovps stores are microcoded on AMD, but the ones left here are cold on the mobile suite:
 * perf (s20, 2026-12-03, AVX2 emulation, 1 thread, MobileNetV2, MnasNet, ShuffleNetV2, RegNetY,
 * EfficientNet-B0, MobileNetV3-Large) found no sample on a masked store in the depthwise,
 * grouped or stem kernels (their masked loads: 1-12% of a kernel, at most 0.3% of a network);
 * the hot ones were the GEMM's edge rows (gemm_avx2.c, store_lanes). */
static inline void tc_v_store_masked(float *p, tc_m m, tc_v v) { _mm256_maskstore_ps(p, m, v); }

#endif
