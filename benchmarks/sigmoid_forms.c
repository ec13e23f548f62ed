/* Forms of the AVX2 Sigmoid pass side by side (h44-v3): each variant's in-place pass over N
 * floats in L1, the variants alternating call by call (the order reversed every other round),
 * per round the best of CALLS calls each; per variant the median over rounds of its time per
 * value and of its ratio to variant 0, its largest relative error against float64 on a dense
 * grid of [-87.3, 87.3] (where the result is normal), the largest absolute error where it is
 * denormal (x in [-103.9, -87.3]), and the share of values with variant 1's bits.
 * Compiled against the tree's headers (variant 1 is the library's tc_sigmoid_avx2, whatever the
 * checkout holds), no library build:
 *
 *   gcc -O2 -mavx2 -mfma -Icsrc benchmarks/sigmoid_forms.c -o /tmp/sigmoid_forms -lm
 *   /tmp/sigmoid_forms [N [ROUNDS [CALLS]]]      (defaults 3136 300 20)
 *
 * Variants: 0 the library's form until s44 (exp(-|x|) of degree 5 on [-ln2/2, ln2/2], 2^n by
 * the shift, g = 1 / (1 + e), e g or g by the sign: 16 operations, 14 on p0 / p1); 1 the
 * library's tc_sigmoid_avx2 (since s44: exp(-|x|) as 2^(j/8) from the SiLU's 8-entry table
 * times a degree-3 polynomial, num / (1 + e) with num = 1 or e by the sign: 15, 11 on p0 / p1);
 * 2 variant 1's exp with variant 0's tail (g, e g, the select: 16); 3 1 / (1 + exp(-x)) as the
 * SiLU (x clamped to [-88.9, 80], 13 operations: a bound, no gradual underflow below x = -88.7,
 * where it gives 0).
 * Measured (h44-v3, 2026-12-06 15:33-15:38, Intel Xeon Sapphire Rapids class, AVX2, nice -20,
 * fma_peak 62-65 / 80 GFLOP/s wall / CPU at 1 thread: a loaded host), ratio to 0, median
 * [25-75%]: 3136 values, 200 rounds x best of 20: 1 0.870 [0.854-0.876], 2 0.943, 3 0.753;
 * again 300 rounds: 1 0.872 [0.866-0.877] (0.321 against 0.372 ns a value), 2 0.943, 3 0.766;
 * 672000 values (YOLOv8n's 80 x 8400 class scores, past L2), 30 rounds x best of 3: 1 0.864
 * [0.858-0.873], 2 0.941, 3 0.762.  Largest relative error against float64 where the result is
 * normal: 0 4.13e-7 (x = -87.04), 1 and 2 4.01e-7 (x = -86.35), 3 3.99e-7; |x| <= 20: 3.06e-7,
 * 2.86e-7, 2.86e-7, 2.12e-7; denormal results: 0 4.2e-45, 1 4.4e-45, 3 2.9e-39 (zeros).  The
 * numerator select (1 against 2) is worth 7%; dropping gradual underflow (3) 12% more, not
 * taken (tests/test_sigmoid_epilogue.py keeps the denormals). */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ab_passes.h"
#include "epilogue_avx2.h"

#define TC_2M24_ 5.9604644775390625e-8f

/* the library's sigmoid until s44, written out */
static inline __m256 sig0(__m256 x)
{
    const __m256 magic = _mm256_set1_ps(12583063.0f);
    __m256 a = _mm256_max_ps(_mm256_set1_ps(-104.0f), _mm256_or_ps(x, _mm256_set1_ps(-0.0f)));
    __m256 t = _mm256_fmadd_ps(a, _mm256_set1_ps(1.44269504088896341f), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693147182f), a);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(8.31156783e-3f * TC_2M24_), r, _mm256_set1_ps(4.18989286e-2f * TC_2M24_));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.66671529e-1f * TC_2M24_));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.99991715e-1f * TC_2M24_));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TC_2M24_));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TC_2M24_));
    __m256 s = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
    __m256 e = _mm256_mul_ps(p, s);
    __m256 g = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    return _mm256_blendv_ps(g, _mm256_mul_ps(e, g), x);
}

static inline __m256 sig1(__m256 x) { return tc_sigmoid_avx2(x, 0); }

/* p and s of variant 1 (e = p s) */
static inline void ps1(__m256 x, __m256 *pp, __m256 *ss)
{
    const __m256 m = _mm256_set1_ps(12584128.0f);
    __m256 a = _mm256_max_ps(_mm256_set1_ps(-104.0f), _mm256_or_ps(x, _mm256_set1_ps(-0.0f)));
    __m256 t = _mm256_fmadd_ps(a, _mm256_set1_ps(8.0f * 1.44269504088896341f), m);
    __m256 r = _mm256_fmadd_ps(_mm256_sub_ps(t, m), _mm256_set1_ps(-0.693147182f / 8.0f), a);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(-TC_EXP8_C3 * TC_2M25), r, _mm256_set1_ps(TC_EXP8_C2 * TC_2M25));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(2.0f * TC_2M25));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(2.0f * TC_2M25));
    __m256i ti = _mm256_castps_si256(t);
    *pp = p;
    *ss = _mm256_castsi256_ps(_mm256_add_epi32(
        _mm256_slli_epi32(ti, 20), _mm256_permutevar8x32_epi32(_mm256_setr_epi32(TC_SILU_TAB8), ti)));
}

static inline __m256 sig2(__m256 x)
{
    __m256 p, s;
    ps1(x, &p, &s);
    __m256 e = _mm256_mul_ps(p, s);
    __m256 g = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    return _mm256_blendv_ps(g, _mm256_mul_ps(e, g), x);
}

static inline __m256 sig3(__m256 x)
{
    const __m256 m = _mm256_set1_ps(12583928.0f);
    __m256 c = _mm256_min_ps(_mm256_set1_ps(80.0f), _mm256_max_ps(_mm256_set1_ps(-88.9f), x));
    __m256 t = _mm256_fmadd_ps(c, _mm256_set1_ps(-8.0f * 1.44269504088896341f), m);
    __m256 r = _mm256_fmadd_ps(_mm256_sub_ps(t, m), _mm256_set1_ps(0.693147182f / 8.0f), c);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(TC_EXP8_C3), r, _mm256_set1_ps(TC_EXP8_C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(-2.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(2.0f));
    __m256i ti = _mm256_castps_si256(t);
    __m256 s = _mm256_castsi256_ps(_mm256_add_epi32(
        _mm256_slli_epi32(ti, 20), _mm256_permutevar8x32_epi32(_mm256_setr_epi32(TC_SILU_TAB8), ti)));
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.0f)));
}

#define PASS(k)                                                                                \
    static __attribute__((noinline)) void pass##k(float *y, long n)                           \
    {                                                                                          \
        for (long i = 0; i + 8 <= n; i += 8)                                                   \
            _mm256_storeu_ps(y + i, sig##k(_mm256_loadu_ps(y + i)));                           \
    }
PASS(0)
PASS(1)
PASS(2)
PASS(3)
#define NV 4
static const ab_pass_fn passes[NV] = {pass0, pass1, pass2, pass3};
static const char *names[NV] = {"s43 (deg 5, 1/(1+e), e g)", "library (table, num/(1+e))",
                                "table, 1/(1+e), e g", "1/(1+exp(-x)) (bound)"};

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 3136;
    int rounds = argc > 2 ? atoi(argv[2]) : 300;
    int calls = argc > 3 ? atoi(argv[3]) : 20;
    /* accuracy: a dense grid of [-110, 110] */
    const long G = 4400000;
    float *gx = aligned_alloc(64, G * sizeof(float)), *gy = aligned_alloc(64, G * sizeof(float)),
          *g1 = aligned_alloc(64, G * sizeof(float));
    for (long i = 0; i < G; i++)
        gx[i] = (float)(-110.0 + 220.0 * (double)i / (G - 1));
    memcpy(g1, gx, G * sizeof(float));
    pass1(g1, G);
    for (int v = 0; v < NV; v++) {
        memcpy(gy, gx, G * sizeof(float));
        passes[v](gy, G);
        double emax = 0, xat = 0, e20 = 0, dmax = 0;
        long same = 0;
        for (long i = 0; i < G; i++) {
            double xd = gx[i], r = 1.0 / (1.0 + exp(-xd));
            same += memcmp(&gy[i], &g1[i], 4) == 0;
            if (r < 1.1754943508222875e-38) {
                double d = fabs(gy[i] - r);
                if (d > dmax)
                    dmax = d;
                continue;
            }
            double e = fabs(gy[i] - r) / r;
            if (e > emax)
                emax = e, xat = xd;
            if (fabs(xd) <= 20 && e > e20)
                e20 = e;
        }
        printf("%d %-28s max rel err %.3g at x = %.4f (|x| <= 20: %.3g), denormal abs %.3g, "
               "1's bits %.4f\n",
               v, names[v], emax, xat, e20, dmax, (double)same / G);
    }
    ab_time_passes(passes, names, NV, n, rounds, calls);
    return 0;
}
