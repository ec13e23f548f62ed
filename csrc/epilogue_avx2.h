/* AVX2 form of the fused activation (see epilogue.h): the same operations as
 * tc_act_f32, lane by lane (sigmoid as tc_sigmoidf_: FMA exactly where it has fmaf).
 * Included by the *_avx2.c files only. */
#ifndef TC_EPILOGUE_AVX2_H
#define TC_EPILOGUE_AVX2_H

#include <immintrin.h>
#include "epilogue.h"

/* tc_expf_ on 8 lanes, step by step the same operations. */
static inline __m256 tc_exp_avx2(__m256 x)
{
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    /* clamp as tc_sel_: NaN compares false and stays x */
    __m256 xc = _mm256_blendv_ps(x, _mm256_set1_ps(88.75f), _mm256_cmp_ps(x, _mm256_set1_ps(88.75f), _CMP_GT_OQ));
    xc = _mm256_blendv_ps(xc, _mm256_set1_ps(-104.0f), _mm256_cmp_ps(x, _mm256_set1_ps(-104.0f), _CMP_LT_OQ));
    __m256 t = _mm256_add_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256i ni = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(magic));
    /* n1 = ni / 2 rounded toward zero, n2 = ni - n1 */
    __m256i n1 = _mm256_srai_epi32(_mm256_add_epi32(ni, _mm256_srli_epi32(ni, 31)), 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    __m256 r = _mm256_sub_ps(xc, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(-2.12194440e-4f)));
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, _mm256_mul_ps(r, r)), r), _mm256_set1_ps(1.0f));
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* min(1, max(0, t)); maxps/minps return their second operand when one is NaN */
static inline __m256 tc_clamp01_avx2(__m256 t)
{
    return _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_setzero_ps(), t));
}

/* tc_sigmoidf_ on 8 lanes, the same operations (FMA where it has fmaf), so the bits equal
 * the portable path's. */
#define TC_SV_FN tc_sigmoid_avx2
#define TC_SV __m256
#define TC_SVI __m256i
#define TC_SV_(op) _mm256_##op
#define TC_SV_TOI(v) _mm256_castps_si256(v)
#define TC_SV_TOF(v) _mm256_castsi256_ps(v)
#define TC_SV_NEGABS(x) _mm256_or_ps((x), _mm256_set1_ps(-0.0f))
#define TC_SV_SELNEG(x, neg, pos) _mm256_blendv_ps((pos), (neg), (x)) /* by x's sign bit */
#define TC_SV_TAB8(i) _mm256_permutevar8x32_epi32(_mm256_setr_epi32(TC_SILU_TAB8), (i))
#include "sigmoid_vec_body.h"

/* The lanes past n < 8 of a short run, through a buffer on the stack: masked loads and stores
 * (vmaskmovps) are microcoded on AMD (Zen 4 under AVX2: a 17-column GEMM panel's pass, 16 + 1
 * masked, took 20 cycles per 8 values against 10 for 16 columns). */
static inline void tc_sigmoid_short_avx2(int silu, const float *x, float *y, ptrdiff_t n)
{
    float b[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (ptrdiff_t i = 0; i < n; i++)
        b[i] = x[i];
    _mm256_storeu_ps(b, tc_sigmoid_avx2(_mm256_loadu_ps(b), silu));
    for (ptrdiff_t i = 0; i < n; i++)
        y[i] = b[i];
}

/* y[i] = sigmoid(x[i]), or SiLU with silu (tc_siluf_); in place when x == y.
 * Independent iterations: the divides and the polynomials of neighbouring
 * vectors overlap, which a call per register (a GEMM row store) never gets.
 * Every lane as tc_sigmoidf_ / tc_siluf_, the same bits.  A tail past the last full
 * vector is the run's last 8 values, loaded before any store (in place they are still
 * x's) and stored last: the values it shares with the vector before come out the same.
 * Not masked: a GEMM panel of 14x14's 196 = 12 x 16 + 4 columns or 7x7's 17 would
 * pay vmaskmovps, microcoded on AMD; not scalar: an exp and a divide per value.
 * Tried and dropped (s20, Zen 4, AVX2, in-place SiLU, best of 1500 calls per variant,
 * 2026-12-03 00:30): unrolled by 2 or 4 vectors 0.99 of this loop's time on flat runs of
 * 12544 and 50176 values; software-pipelined (the exp of the next vector issued beside the
 * divide of the one before) 0.95-0.96 flat, 0.97-1.04 over GEMM blocks of 16 or 32
 * columns (the act_rows calls; 1.5-4.6k values a call, the ~0.4 us of the thread clock
 * in each time); the divide as a multiply (other bits) 0.93: the divide's latency is not
 * what bounds the pass.  On the target (AMD EPYC Zen 3, native, s23, 2026-12-03; this pass is
 * 16.6% of EfficientNet-B0's run at 1 thread, perf): 0.33-0.35 ns per value in L1, 8.4 cycles
 * a vector; three vectors in lock-step (every step for all three before the next, same bits)
 * 0.94-1.0 flat but 1.05 over GEMM blocks of 4 x 196, and as one stream across the rows 1.4;
 * three calls of this one in a row 0.99; vrcpps and a Newton step for the divide (other bits)
 * 1.30; one divide for two vectors' denominators 1.08. */
static inline void tc_sigmoid_run_avx2(int silu, const float *x, float *y, ptrdiff_t n)
{
    if (n < 8) {
        tc_sigmoid_short_avx2(silu, x, y, n);
        return;
    }
    const __m256 xt = _mm256_loadu_ps(x + n - 8);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(y + i, tc_sigmoid_avx2(_mm256_loadu_ps(x + i), silu));
    }
    if (i < n)
        _mm256_storeu_ps(y + n - 8, tc_sigmoid_avx2(xt, silu));
}

/* The deferred kinds (tc_act_deferred) on rows [rows][cols] of y (leading
 * dimension ldy), in place: the pass GEMM drivers and the depthwise kernel
 * run over rows they have just stored, instead of a call per register.
 * Rows of 4 to 7 (a 14x14 map's last 4 GEMM columns) go two rows per vector:
 * columns [0, 4) and [cols - 4, cols) of both rows, all loaded before the stores.
 * Tried and dropped (s24, Zen 3 native, 2026-12-03): a block of whole rows (ldy == cols,
 * 7x7's 49 columns) as one run with one overlapping tail, the same bits; EfficientNet-B0's
 * features.6.0 to 8 (7x7) tinycnn/against 0.999 [0.988-1.008], 21 rounds. */
static __attribute__((noinline)) void tc_act_rows_avx2(int kind, float *y, ptrdiff_t ldy, int rows,
                                                       ptrdiff_t cols)
{
    const int silu = kind == TC_ACT_SILU;
    int i = 0;
    if (cols >= 4 && cols < 8)
        for (; i + 2 <= rows; i += 2) {
            float *r0 = y + i * ldy, *r1 = r0 + ldy;
            const __m256 a = _mm256_set_m128(_mm_loadu_ps(r1), _mm_loadu_ps(r0));
            const __m256 b =
                _mm256_set_m128(_mm_loadu_ps(r1 + cols - 4), _mm_loadu_ps(r0 + cols - 4));
            const __m256 sa = tc_sigmoid_avx2(a, silu);
            _mm_storeu_ps(r0, _mm256_castps256_ps128(sa));
            _mm_storeu_ps(r1, _mm256_extractf128_ps(sa, 1));
            if (cols > 4) {
                const __m256 sb = tc_sigmoid_avx2(b, silu);
                _mm_storeu_ps(r0 + cols - 4, _mm256_castps256_ps128(sb));
                _mm_storeu_ps(r1 + cols - 4, _mm256_extractf128_ps(sb, 1));
            }
        }
    for (; i < rows; i++)
        tc_sigmoid_run_avx2(silu, y + i * ldy, y + i * ldy, cols);
}

/* Sigmoid and SiLU per register, out of line (the Winograd and transposed
 * convolutions' stores): their exp inlined into every store made gcc stop
 * inlining the GEMM micro-kernel's row stores, which then spilled the
 * accumulators.  The cheap kinds stay inline. */
static __attribute__((noinline)) __m256 tc_act_avx2_sigmoid(tc_act_k a, __m256 v)
{
    return tc_sigmoid_avx2(v, a.kind == TC_ACT_SILU);
}

/* max(0, v), not max(v, 0): maxps returns its second operand when one is NaN,
 * and every activation keeps NaN (onnxruntime, the portable path). */
static inline __m256 tc_act_avx2(tc_act_k a, __m256 v)
{
    switch (a.kind) {
    case TC_ACT_RELU:
        return _mm256_max_ps(_mm256_setzero_ps(), v);
    case TC_ACT_CLIP:
        return _mm256_min_ps(_mm256_set1_ps(a.beta), _mm256_max_ps(_mm256_set1_ps(a.alpha), v));
    case TC_ACT_LEAKY_RELU:
        return _mm256_blendv_ps(v, _mm256_mul_ps(_mm256_set1_ps(a.alpha), v),
                                _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
    case TC_ACT_HARD_SIGMOID:
        return tc_clamp01_avx2(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(a.alpha), v), _mm256_set1_ps(a.beta)));
    case TC_ACT_HARD_SWISH:
        return _mm256_mul_ps(v, tc_clamp01_avx2(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(a.alpha), v),
                                                              _mm256_set1_ps(a.beta))));
    case TC_ACT_SIGMOID:
    case TC_ACT_SILU:
        return tc_act_avx2_sigmoid(a, v);
    default:
        return v;
    }
}

/* The same on 4 lanes. */
static inline __m128 tc_act_sse(tc_act_k a, __m128 v)
{
    if (a.kind == TC_ACT_RELU)
        return _mm_max_ps(_mm_setzero_ps(), v);
    if (a.kind == TC_ACT_NONE)
        return v;
    return _mm256_castps256_ps128(tc_act_avx2(a, _mm256_castps128_ps256(v)));
}

#endif
