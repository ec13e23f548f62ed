/* Forms of the AVX2 SiLU pass (sigmoid_vec_body.h's x / (1 + exp(-x))) side by side: each
 * variant's in-place pass over N floats in L1, the variants alternating call by call, per round
 * the best of CALLS calls each; per variant the median over rounds of its time per value and of
 * its ratio to variant 0 (the library's form), and its largest relative error against float64 on
 * a dense grid of [-88.7, 88.7] (where the result is normal) plus whether it keeps the library's
 * bits.  Standalone (no tinycnn build):
 *
 *   gcc -O2 -mavx2 -mfma benchmarks/silu_forms.c -o /tmp/silu_forms -lm
 *   /tmp/silu_forms [N [ROUNDS [CALLS]]]      (defaults 3136 300 20)
 *
 * Variants: 0 the degree-5 form that was the library's until s43 (exp(-r) on [-ln2/2, ln2/2],
 * vdivps); 1 its divide as a multiply (a bound, wrong values); 2 vrcpps and one Newton step on
 * the reciprocal; 3 vrcpps, the quotient and one Newton step on it; 4 exp(-c) as 2^(j/8) from an
 * 8-entry table (vpermps) times a degree-3 polynomial, vdivps (the library's form since s43,
 * sigmoid_vec_body.h / tc_siluf_); 5 variant 4 with variant 3's divide; 6 variant 0 without the
 * clamp (a bound); 7 variant 4 with the clamp in the integer domain (vpminud / vpminsd).
 * Measured (h43-ef, 2026-12-06 12:30, Intel Xeon Sapphire Rapids class, AVX2, 3136 values, 200
 * rounds x best of 20, fma_peak 35 GFLOP/s of 75 per thread: a loaded host): 0 0.354 ns a
 * value; ratios 1 0.91, 2 1.18, 3 1.19, 4 0.89, 5 1.04, 6 0.86, 7 0.88; max relative error
 * against float64 (x in [-88.7, 88.7], normal results) 0 4.3e-7, 4 4.0e-7.  The FMA ports'
 * operations bound it (12 on p0 / p1 in 0, 10 in 4 where the table's vpermd and the integer add
 * take p5).  Again at 13:05 (300 rounds, fma_peak 75-88, fast state): 0 0.392 ns, 1 0.918,
 * 2 1.185, 3 1.187, 4 0.893, 5 1.084, 6 0.835, 7 0.875: the integer clamp (the same values
 * as 4's, NaNs and infinities included) 2% of the pass, ~0.4% of EfficientNet-B0, not
 * measurable in the network: not applied. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ab_passes.h"

static inline __m256 den0(__m256 x, int clamp)
{
    const __m256 m = _mm256_set1_ps(12583038.0f);
    __m256 c = clamp ? _mm256_min_ps(_mm256_set1_ps(80.0f), _mm256_max_ps(_mm256_set1_ps(-88.9f), x)) : x;
    __m256 t = _mm256_fmadd_ps(c, _mm256_set1_ps(-1.44269504088896341f), m);
    __m256 r = _mm256_fmadd_ps(_mm256_sub_ps(t, m), _mm256_set1_ps(0.693147182f), c);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(-8.31156783e-3f * 2.0f), r, _mm256_set1_ps(4.18989286e-2f * 2.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(-1.66671529e-1f * 2.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.99991715e-1f * 2.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(-2.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(2.0f));
    __m256 s = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
    return _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.0f));
}

/* the library's form before s43 (sigmoid_vec_body.h, silu) */
static inline __m256 silu0(__m256 x) { return _mm256_div_ps(x, den0(x, 1)); }

static inline __m256 silu1(__m256 x) { return _mm256_mul_ps(x, den0(x, 1)); }

static inline __m256 silu2(__m256 x)
{
    __m256 d = den0(x, 1);
    __m256 g = _mm256_rcp_ps(d);
    g = _mm256_fmadd_ps(_mm256_fnmadd_ps(d, g, _mm256_set1_ps(1.0f)), g, g);
    return _mm256_mul_ps(x, g);
}

static inline __m256 silu3(__m256 x)
{
    __m256 d = den0(x, 1);
    __m256 g = _mm256_rcp_ps(d);
    __m256 q = _mm256_mul_ps(x, g);
    return _mm256_fmadd_ps(_mm256_fnmadd_ps(d, q, x), g, q);
}

static inline __m256 silu6(__m256 x) { return _mm256_div_ps(x, den0(x, 0)); }

/* exp(-c) = 2^(N/8) exp(-r), N = round(-8 c / ln 2), r = c + N ln2 / 8 in [-ln2/16, ln2/16].
 * t = -8 c log2(e) + 1.5 2^23 + 8 B holds N + 8 B (B = 127) in its low bits; t's bits << 20
 * put (N + 8B) >> 3 = n + B in bits 23-31 and j = N & 7 in bits 20-22; adding
 * D[j] = bits(2^(j/8)) - (127 << 23) - (j << 20) - ((B - 126) << 23) leaves 2^(n - 1) 2^(j/8) (the halving
 * as in the library's form: x = -88.9 gives n = 128).  The polynomial is exp(-r) times 2. */
#define TB 127
static float tabd[8];
static __m256 tabv;
static float q3[4];
static void init_table(void)
{
    for (int j = 0; j < 8; j++) {
        float v = (float)exp2((double)j / 8.0);
        int32_t b;
        memcpy(&b, &v, 4);
        b = b - (127 << 23) - (j << 20) - ((TB - 126) << 23);
        memcpy(&tabd[j], &b, 4);
    }
    tabv = _mm256_loadu_ps(tabd);
}

/* 1 + exp(-c) for a c already clamped to [-88.9, 80] */
static inline __m256 den4c(__m256 c)
{
    const __m256 m = _mm256_set1_ps(12582912.0f + 8.0f * TB);
    __m256 t = _mm256_fmadd_ps(c, _mm256_set1_ps(-8.0f * 1.44269504088896341f), m);
    __m256 r = _mm256_fmadd_ps(_mm256_sub_ps(t, m), _mm256_set1_ps(0.693147182f / 8.0f), c);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(q3[3]), r, _mm256_set1_ps(q3[2]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(q3[1]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(q3[0]));
    __m256i ti = _mm256_castps_si256(t);
    __m256i tb = _mm256_castps_si256(_mm256_permutevar8x32_ps(tabv, ti));
    __m256 s = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_slli_epi32(ti, 20), tb));
    return _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.0f));
}

static inline __m256 den4(__m256 x)
{
    return den4c(_mm256_min_ps(_mm256_set1_ps(80.0f), _mm256_max_ps(_mm256_set1_ps(-88.9f), x)));
}

static inline __m256 silu4(__m256 x) { return _mm256_div_ps(x, den4(x)); }

static inline __m256 silu5(__m256 x)
{
    __m256 d = den4(x);
    __m256 g = _mm256_rcp_ps(d);
    __m256 q = _mm256_mul_ps(x, g);
    return _mm256_fmadd_ps(_mm256_fnmadd_ps(d, q, x), g, q);
}

/* variant 4 with the clamp in the integer domain on x's bits: unsigned min with -88.9's bits
 * (negative floats: larger bits are more negative), signed min with 80's (positives) */
static inline __m256 silu7(__m256 x)
{
    __m256i xi = _mm256_castps_si256(x);
    float lo = -88.9f, hi = 80.0f;
    int32_t lob, hib;
    memcpy(&lob, &lo, 4);
    memcpy(&hib, &hi, 4);
    xi = _mm256_min_epu32(xi, _mm256_set1_epi32(lob));
    xi = _mm256_min_epi32(xi, _mm256_set1_epi32(hib));
    return _mm256_div_ps(x, den4c(_mm256_castsi256_ps(xi)));
}

#define PASS(k)                                                                                \
    static __attribute__((noinline)) void pass##k(float *y, long n)                           \
    {                                                                                          \
        for (long i = 0; i + 8 <= n; i += 8)                                                   \
            _mm256_storeu_ps(y + i, silu##k(_mm256_loadu_ps(y + i)));                          \
    }
PASS(0)
PASS(1)
PASS(2)
PASS(3)
PASS(4)
PASS(5)
PASS(6)
PASS(7)
#define NV 8
static const ab_pass_fn passes[NV] = {pass0, pass1, pass2, pass3, pass4, pass5, pass6, pass7};
static const char *names[NV] = {"library (deg 5, div)", "div -> mul (bound)", "rcp + Newton on 1/d",
                                "rcp + Newton on q", "table 2^(j/8) deg 3, div",
                                "table deg 3, rcp+Newton q", "no clamp (bound)",
                                "table deg 3, int clamp"};

/* exp(-r) * 2 on [-ln2/16, ln2/16]: minimax-ish by Chebyshev interpolation at degree 3 */
static void fit_q3(void)
{
    /* least-max relative error: Remez in double over a fine grid (few iterations of a
     * linear solve on 5 alternation points) */
    const double a = -0.0434, b = 0.0434;
    double xs[5];
    for (int i = 0; i < 5; i++)
        xs[i] = (a + b) / 2 + (b - a) / 2 * -cos(M_PI * i / 4);
    double c[4] = {1, -1, 0.5, -1.0 / 6};
    for (int it = 0; it < 30; it++) {
        /* solve sum_k c_k x^k - f(x) = (-1)^i E f(x) (relative) for c, E */
        double A[5][6];
        for (int i = 0; i < 5; i++) {
            double f = exp(-xs[i]);
            for (int k = 0; k < 4; k++)
                A[i][k] = pow(xs[i], k);
            A[i][4] = -((i & 1) ? -1.0 : 1.0) * f;
            A[i][5] = f;
        }
        for (int col = 0; col < 5; col++) {
            int piv = col;
            for (int r = col + 1; r < 5; r++)
                if (fabs(A[r][col]) > fabs(A[piv][col]))
                    piv = r;
            for (int k = 0; k < 6; k++) {
                double tmp = A[col][k];
                A[col][k] = A[piv][k];
                A[piv][k] = tmp;
            }
            for (int r = 0; r < 5; r++)
                if (r != col) {
                    double f = A[r][col] / A[col][col];
                    for (int k = 0; k < 6; k++)
                        A[r][k] -= f * A[col][k];
                }
        }
        for (int k = 0; k < 4; k++)
            c[k] = A[k][5] / A[k][k];
        /* new extrema of the relative error on a grid */
        const int G = 20000;
        double best[5];
        double pos[5];
        for (int i = 0; i < 5; i++)
            best[i] = -1, pos[i] = xs[i];
        /* split [a,b] at midpoints between current points, take the extremum in each part */
        for (int i = 0; i < 5; i++) {
            double lo = i == 0 ? a : (xs[i - 1] + xs[i]) / 2, hi = i == 4 ? b : (xs[i] + xs[i + 1]) / 2;
            for (int g = 0; g <= G; g++) {
                double x = lo + (hi - lo) * g / G;
                double e = fabs((((c[3] * x + c[2]) * x + c[1]) * x + c[0]) / exp(-x) - 1);
                if (e > best[i])
                    best[i] = e, pos[i] = x;
            }
        }
        for (int i = 0; i < 5; i++)
            xs[i] = pos[i];
    }
    double emax = 0;
    for (int g = 0; g <= 100000; g++) {
        double x = a + (b - a) * g / 100000;
        double e = fabs((((c[3] * x + c[2]) * x + c[1]) * x + c[0]) / exp(-x) - 1);
        if (e > emax)
            emax = e;
    }
    for (int k = 0; k < 4; k++)
        q3[k] = (float)(2.0 * c[k]);
    printf("degree-3 fit on [%.4f, %.4f]: %.9g %.9g %.9g %.9g, max rel err %.3g (double)\n", a, b,
           c[0], c[1], c[2], c[3], emax);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 3136;
    int rounds = argc > 2 ? atoi(argv[2]) : 300;
    int calls = argc > 3 ? atoi(argv[3]) : 20;
    fit_q3();
    init_table();
    /* accuracy */
    const long G = 4000000;
    float *gx = aligned_alloc(64, G * sizeof(float)), *gy = aligned_alloc(64, G * sizeof(float)),
          *g0 = aligned_alloc(64, G * sizeof(float));
    for (long i = 0; i < G; i++)
        gx[i] = (float)(-88.7 + 177.4 * (double)i / (G - 1));
    memcpy(g0, gx, G * sizeof(float));
    pass0(g0, G);
    for (int v = 0; v < NV; v++) {
        memcpy(gy, gx, G * sizeof(float));
        passes[v](gy, G);
        double emax = 0, xat = 0;
        long same = 0;
        for (long i = 0; i < G; i++) {
            double xd = gx[i], r = xd / (1 + exp(-xd));
            if (fabs(r) < 1.2e-38)
                continue;
            double e = fabs(gy[i] - r) / fabs(r);
            if (e > emax)
                emax = e, xat = xd;
            same += memcmp(&gy[i], &g0[i], 4) == 0;
        }
        printf("%d %-28s max rel err %.3g at x = %.4f, same bits as 0: %.4f\n", v, names[v], emax,
               xat, (double)same / G);
    }
    ab_time_passes(passes, names, NV, n, rounds, calls);
    return 0;
}
