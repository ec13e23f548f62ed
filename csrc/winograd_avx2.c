/* winograd_avx2.c - AVX2/FMA twins of the Winograd transforms and GEMM
 * micro-kernel in winograd.c (same algorithm, same operation order; only the
 * rounding of fused multiply-adds differs).  Compiled with -mavx2 -mfma and
 * called only when ctx->isa == TC_ISA_AVX2. */
#include <immintrin.h>
#include "winograd_internal.h"

/* 1-D B^T for F(4,3) on 6 vectors (8 tiles each). */
#define BT6(d0, d1, d2, d3, d4, d5, r0, r1, r2, r3, r4, r5)                          \
    do {                                                                               \
        __m256 a_ = _mm256_fnmadd_ps(four, d2, d4), b_ = _mm256_fnmadd_ps(four, d1, d3); \
        __m256 c_ = _mm256_sub_ps(d4, d2), e_ = _mm256_mul_ps(two, _mm256_sub_ps(d3, d1)); \
        r0 = _mm256_fmadd_ps(four, d0, _mm256_fnmadd_ps(five, d2, d4));                 \
        r1 = _mm256_add_ps(a_, b_);                                                    \
        r2 = _mm256_sub_ps(a_, b_);                                                    \
        r3 = _mm256_add_ps(c_, e_);                                                    \
        r4 = _mm256_sub_ps(c_, e_);                                                    \
        r5 = _mm256_fmadd_ps(four, d1, _mm256_fnmadd_ps(five, d3, d5));                 \
    } while (0)

/* 1-D A^T for F(4,3): 6 vectors -> 4. */
#define AT6(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)                                   \
    do {                                                                               \
        __m256 s1_ = _mm256_add_ps(m1, m2), s2_ = _mm256_sub_ps(m1, m2);              \
        __m256 s3_ = _mm256_add_ps(m3, m4), s4_ = _mm256_sub_ps(m3, m4);              \
        o0 = _mm256_add_ps(_mm256_add_ps(m0, s1_), s3_);                               \
        o1 = _mm256_fmadd_ps(two, s4_, s2_);                                           \
        o2 = _mm256_fmadd_ps(four, s3_, s1_);                                          \
        o3 = _mm256_fmadd_ps(eight, s4_, _mm256_add_ps(s2_, m5));                      \
    } while (0)

void tc_wg_input4_avx2(const float *d, float *v, ptrdiff_t vstride)
{
    const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f);
    const __m256 five = _mm256_set1_ps(5.0f);
    __m256 t[36];
    for (int j = 0; j < 6; j++) {
        const float *p = d + j * 8;
        BT6(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 48), _mm256_loadu_ps(p + 96),
            _mm256_loadu_ps(p + 144), _mm256_loadu_ps(p + 192), _mm256_loadu_ps(p + 240),
            t[j], t[6 + j], t[12 + j], t[18 + j], t[24 + j], t[30 + j]);
    }
    for (int i = 0; i < 6; i++) {
        __m256 r0, r1, r2, r3, r4, r5;
        const __m256 *q = t + 6 * i;
        float *o = v + 6 * i * vstride;
        BT6(q[0], q[1], q[2], q[3], q[4], q[5], r0, r1, r2, r3, r4, r5);
        _mm256_storeu_ps(o, r0);
        _mm256_storeu_ps(o + vstride, r1);
        _mm256_storeu_ps(o + 2 * vstride, r2);
        _mm256_storeu_ps(o + 3 * vstride, r3);
        _mm256_storeu_ps(o + 4 * vstride, r4);
        _mm256_storeu_ps(o + 5 * vstride, r5);
    }
}

void tc_wg_input2_avx2(const float *d, float *v, ptrdiff_t vstride)
{
    __m256 t[16];
    for (int j = 0; j < 4; j++) {
        const float *p = d + j * 8;
        __m256 d0 = _mm256_loadu_ps(p), d1 = _mm256_loadu_ps(p + 32);
        __m256 d2 = _mm256_loadu_ps(p + 64), d3 = _mm256_loadu_ps(p + 96);
        t[j] = _mm256_sub_ps(d0, d2);
        t[4 + j] = _mm256_add_ps(d1, d2);
        t[8 + j] = _mm256_sub_ps(d2, d1);
        t[12 + j] = _mm256_sub_ps(d1, d3);
    }
    for (int i = 0; i < 4; i++) {
        const __m256 *q = t + 4 * i;
        float *o = v + 4 * i * vstride;
        _mm256_storeu_ps(o, _mm256_sub_ps(q[0], q[2]));
        _mm256_storeu_ps(o + vstride, _mm256_add_ps(q[1], q[2]));
        _mm256_storeu_ps(o + 2 * vstride, _mm256_sub_ps(q[2], q[1]));
        _mm256_storeu_ps(o + 3 * vstride, _mm256_sub_ps(q[1], q[3]));
    }
}

void tc_wg_output4_avx2(const float *m, ptrdiff_t mstride, float bias, float *o)
{
    const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f);
    const __m256 eight = _mm256_set1_ps(8.0f), b = _mm256_set1_ps(bias);
    __m256 t[24];
    for (int j = 0; j < 6; j++) {
        const float *p = m + j * mstride;
        AT6(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 6 * mstride),
            _mm256_loadu_ps(p + 12 * mstride), _mm256_loadu_ps(p + 18 * mstride),
            _mm256_loadu_ps(p + 24 * mstride), _mm256_loadu_ps(p + 30 * mstride),
            t[j], t[6 + j], t[12 + j], t[18 + j]);
    }
    for (int i = 0; i < 4; i++) {
        __m256 o0, o1, o2, o3;
        const __m256 *q = t + 6 * i;
        AT6(q[0], q[1], q[2], q[3], q[4], q[5], o0, o1, o2, o3);
        _mm256_storeu_ps(o + (4 * i + 0) * 8, _mm256_add_ps(o0, b));
        _mm256_storeu_ps(o + (4 * i + 1) * 8, _mm256_add_ps(o1, b));
        _mm256_storeu_ps(o + (4 * i + 2) * 8, _mm256_add_ps(o2, b));
        _mm256_storeu_ps(o + (4 * i + 3) * 8, _mm256_add_ps(o3, b));
    }
}

void tc_wg_output2_avx2(const float *m, ptrdiff_t mstride, float bias, float *o)
{
    const __m256 b = _mm256_set1_ps(bias);
    __m256 t[8];
    for (int j = 0; j < 4; j++) {
        const float *p = m + j * mstride;
        __m256 m0 = _mm256_loadu_ps(p), m1 = _mm256_loadu_ps(p + 4 * mstride);
        __m256 m2 = _mm256_loadu_ps(p + 8 * mstride), m3 = _mm256_loadu_ps(p + 12 * mstride);
        t[j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        t[4 + j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    for (int i = 0; i < 2; i++) {
        const __m256 *q = t + 4 * i;
        _mm256_storeu_ps(o + (2 * i) * 8,
                         _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(q[0], q[1]), q[2]), b));
        _mm256_storeu_ps(o + (2 * i + 1) * 8,
                         _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(q[1], q[2]), q[3]), b));
    }
}

/* u: [C][6]  v: [C][16]  ->  m: [6][16].  12 accumulators, 2 loads and 6
 * broadcasts per channel. */
static void gemm_6x16(const float *u, const float *v, int C, float *m)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int c = 0; c < C; c++) {
        __m256 b0 = _mm256_loadu_ps(v), b1 = _mm256_loadu_ps(v + 8), a;
        a = _mm256_broadcast_ss(u + 0);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(u + 1);
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(u + 2);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(u + 3);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(u + 4);
        c40 = _mm256_fmadd_ps(a, b0, c40);
        c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(u + 5);
        c50 = _mm256_fmadd_ps(a, b0, c50);
        c51 = _mm256_fmadd_ps(a, b1, c51);
        u += 6;
        v += 16;
    }
    _mm256_storeu_ps(m + 0, c00);
    _mm256_storeu_ps(m + 8, c01);
    _mm256_storeu_ps(m + 16, c10);
    _mm256_storeu_ps(m + 24, c11);
    _mm256_storeu_ps(m + 32, c20);
    _mm256_storeu_ps(m + 40, c21);
    _mm256_storeu_ps(m + 48, c30);
    _mm256_storeu_ps(m + 56, c31);
    _mm256_storeu_ps(m + 64, c40);
    _mm256_storeu_ps(m + 72, c41);
    _mm256_storeu_ps(m + 80, c50);
    _mm256_storeu_ps(m + 88, c51);
}

/* u: [C][6]  v: [C][8]  ->  m: [6][8] (the short last group). */
static void gemm_6x8(const float *u, const float *v, int C, float *m)
{
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    for (int c = 0; c < C; c++) {
        __m256 b = _mm256_loadu_ps(v);
        c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(u + 0), b, c0);
        c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(u + 1), b, c1);
        c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(u + 2), b, c2);
        c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(u + 3), b, c3);
        c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(u + 4), b, c4);
        c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(u + 5), b, c5);
        u += 6;
        v += 8;
    }
    _mm256_storeu_ps(m + 0, c0);
    _mm256_storeu_ps(m + 8, c1);
    _mm256_storeu_ps(m + 16, c2);
    _mm256_storeu_ps(m + 24, c3);
    _mm256_storeu_ps(m + 32, c4);
    _mm256_storeu_ps(m + 40, c5);
}

void tc_wg_gemm_avx2(const float *u, const float *v, int C, int w, float *m)
{
    if (w == 16)
        gemm_6x16(u, v, C, m);
    else
        gemm_6x8(u, v, C, m);
}
