/* Private helpers shared by eltwise.c, norm.c and eltwise_avx2.c. */
#ifndef TC_ELTWISE_INTERNAL_H
#define TC_ELTWISE_INTERNAL_H
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "tinycnn.h"

/* Elements per thread below which element-wise work stays on one thread. */
#define TC_ELTWISE_GRAIN ((ptrdiff_t)1 << 16)

/* c ? a : b without a branch.  gcc will not if-convert a select whose arm
 * does floating-point arithmetic (-ftrapping-math), so loops using ?: on
 * computed values stay scalar; this bitwise form vectorises. */
static inline float tc_sel_(int c, float a, float b)
{
    int32_t m = -(int32_t)(c != 0), ia, ib, r;
    float f;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    r = (ia & m) | (ib & ~m);
    memcpy(&f, &r, 4);
    return f;
}

/* exp(x) in float, within 2 ulp, branch-free so that loops over it vectorise
 * (libm's expf does not).  Round-to-nearest n = x / ln 2 with the 1.5 * 2^23
 * trick, Cody-Waite reduction, Cephes polynomial, 2^n as two factors so that
 * results from denormals to +inf come out right.  NaN gives NaN. */
static inline float tc_expf_(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float xc = tc_sel_(x < -104.0f, -104.0f, tc_sel_(x > 88.75f, 88.75f, x));
    float t = xc * 1.44269504088896341f + magic;
    float n = t - magic;
    int32_t ti, mi;
    memcpy(&ti, &t, 4);
    memcpy(&mi, &magic, 4);
    int32_t ni = ti - mi, n1 = ni / 2, n2 = ni - n1;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* Shifted as unsigned: for a NaN x, n is garbage (the result is x anyway) and a signed
     * shift would overflow, which is undefined behaviour (UBSan). */
    int32_t b1 = (int32_t)((uint32_t)(n1 + 127) << 23), b2 = (int32_t)((uint32_t)(n2 + 127) << 23);
    float s1, s2;
    memcpy(&s1, &b1, 4);
    memcpy(&s2, &b2, 4);
    return p * s1 * s2; /* NaN: r, hence p, is NaN */
}

/* x's sign bit as a condition (-0 and NaNs with the sign set count as negative): the
 * vector forms select with it as it is (blendv), without a comparison. */
static inline int tc_signbitf_(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return (int)(u >> 31);
}

/* SiLU's table: D[j] = bits(2^(j/8)) - (127 << 23) - (j << 20) - (1 << 23), j = 0..7 (2^(j/8)
 * rounded to float), for tc_siluf_, tc_sigmoidf_ and the vector forms (vpermd's table,
 * sigmoid_vec_body.h): added to t's bits shifted left by 20 it leaves 2^(n-1) 2^(j/8), below. */
#define TC_SILU_TAB8                                                                          \
    (int32_t)0xff800000, (int32_t)0xff7b95c2, (int32_t)0xff7837f0, (int32_t)0xff75fed7,       \
        (int32_t)0xff7504f3, (int32_t)0xff75672a, (int32_t)0xff7744fd, (int32_t)0xff7ac0c7

/* exp(-r) times 2 on [-ln2/16, ln2/16], degree 3 (fitted for least maximum relative error,
 * 1.9e-8; its first two coefficients 1 and -1): c3 r^3 + c2 r^2 - 2 r + 2 */
#define TC_EXP8_C3 (-1.66650966e-1f * 2.0f)
#define TC_EXP8_C2 (5.00078499e-1f * 2.0f)
/* 2^-25: a power of two, products with it exact */
#define TC_2M25 2.98023223876953125e-8f

/* sigmoid(x) = num / (1 + e), e = exp(-|x|) in (0, 1] (which cannot overflow), num = 1 for
 * x >= 0 and e below (the sign bit decides: at -0 both give 1/2): one rounding, the
 * numerator a select instead of e times 1 / (1 + e).  e = exp(a), a = -|x| clamped to
 * [-104, 0], as tc_siluf_'s exp(-c) (s44): N = round(8 a / ln 2) in [-1200, 0], r = a - N ln2
 * / 8 in [-ln2/16, ln2/16] (one FMA, ln 2 / 8 one float: N of at most 1200 puts 2.9e-7 into r
 * where e is below 1e-45, 2.4e-7 where the result is still normal), exp(r) of degree 3 (the
 * SiLU's polynomial with its odd terms negated: exp(r) = exp(-(-r)), the same relative
 * error) times 2^-25 (its coefficients scaled, so every step is the unscaled one's exactly,
 * scaled; nothing comes near the denormals), and 2^(N/8) 2^24 = 2^(n+24) 2^(j/8), n = N >> 3
 * in [-150, 0], j = N & 7, from t's bits and TC_SILU_TAB8: t = 8 a log2(e) + 1.5 * 2^23 + 8 *
 * 152 holds N + 1216 (in [16, 1216]) in its low mantissa bits; shifted left by 20, n + 152
 * lands in the exponent and j in the mantissa's top 3 bits, the table's entry swaps j's bits
 * for 2^(j/8)'s mantissa and takes 1 from the exponent: 2^(n+24) 2^(j/8), normal for every n.
 * e = p 2^(n+24) 2^(j/8) is exact but below 2^-126 from x = -87.3, rounded once into the
 * denormals (gradual underflow, as before: 0 from x = -104, where e is under 2^-150), and the
 * quotient once more.  Within 4.0e-7 relative of float64 wherever the result is normal (at
 * x = -86.3; tests/test_sigmoid_epilogue.py), 2.9e-7 for |x| <= 20 (the form before: 4.1e-7 at
 * x = -87, 3.1e-7); denormal results within 4.4e-45 (a few 2^-149).  sigmoid(-inf) = 0, sigmoid(+inf)
 * = 1, NaN gives NaN.  sigmoid_vec_body.h has the same operations on 8 and 16 lanes, bit for
 * bit: 15 vector operations per 8 values, 11 of them on the FMA ports (p0 / p1 on Intel; the
 * table's vpermd, the integer add, the sign's or and the select's blend elsewhere).
 * Until s44 the sigmoid had its own exp(-|x|): a degree-5 polynomial on [-ln2/2, ln2/2] and 2^n
 * by the shift alone (the SiLU's way until s43), then g = 1 / (1 + e) and e g or g selected: 16
 * operations, 14 on p0 / p1.  Measured (benchmarks/sigmoid_forms.c, in-place passes over 3136
 * values in L1, the forms alternating; Intel Xeon, Sapphire Rapids class, AVX2, s44): see
 * sigmoid_vec_body.h.  The history of that form (Zen 4, s19-s24): FMAs in the reduction and the
 * polynomial cut 31 operations to 24; the bias in t, 2^-24 in the coefficients, Horner's form
 * and the sign bit as the select's mask 5 more, the reduction in one FMA one more; the divide
 * as a reciprocal (vrcpps, or a quadratic guess and two Newton steps) was slower and vrcpps
 * differs between vendors (the portable path could not give its bits).  Without an FMA unit
 * fmaf is libm's exact (slower) emulation, still the same bits. */
static inline float tc_sigmoidf_(float x)
{
    static const int32_t tab[8] = {TC_SILU_TAB8};
    const float magic = 12584128.0f; /* 1.5 * 2^23 + 8 * 152 */
    float a = -fabsf(x);
    a = tc_sel_(a < -104.0f, -104.0f, a); /* NaN stays */
    float t = fmaf(a, 8.0f * 1.44269504088896341f, magic);
    float n = t - magic; /* N = round(8 a / ln 2), in [-1200, 0] */
    float r = fmaf(n, -0.693147182f / 8.0f, a);
    float p = fmaf(-TC_EXP8_C3 * TC_2M25, r, TC_EXP8_C2 * TC_2M25);
    p = fmaf(p, r, 2.0f * TC_2M25);
    p = fmaf(p, r, 2.0f * TC_2M25);
    uint32_t ti;
    memcpy(&ti, &t, 4);
    /* for a NaN x the bits are garbage, p (hence the result) NaN */
    uint32_t b = (ti << 20) + (uint32_t)tab[ti & 7]; /* 2^(n+24) 2^(j/8) */
    float s;
    memcpy(&s, &b, 4);
    float e = p * s;
    return tc_sel_(tc_signbitf_(x), e, 1.0f) / fmaf(p, s, 1.0f);
}

/* SiLU x * sigmoid(x) = x / (1 + exp(-x)) as one division, exp(-x) itself (not exp(-|x|)
 * as tc_sigmoidf_): no sign select, no numerator product, 1 + p 2^n in one FMA, the
 * negation in the constants.  x is clamped to [-88.9, 80] for the exponent (80: exp(-80)
 * is below half an ulp of 1, the quotient is x; -88.9: N / 8 = 128.3 at most, so 2^(n-1)
 * stays a float and p 2^(n-1), past FLT_MAX from x = -88.72, is +inf).
 * exp(-c) = 2^(N/8) exp(-r): N = round(-8 c / ln 2) in [-923, 1026], r = c + N ln2 / 8 in
 * [-ln2/16, ln2/16] (one FMA, ln 2 / 8 one float), exp(-r) a degree-3 polynomial (fitted for
 * least maximum relative error, 1.9e-8, its first two coefficients 1 and -1; all times 2 for
 * the 2^(n-1)), and 2^(N/8) = 2^n 2^(j/8), n = N >> 3, j = N & 7, from t's bits and an
 * 8-entry table: t = -8 c log2(e) + 1.5 * 2^23 + 1016 holds N + 1016 (in [93, 2042]) in its
 * low mantissa bits; shifted left by 20, n + 127 lands in the exponent, j in the mantissa's
 * top 3 bits and the rest leaves the word; TC_SILU_TAB8[j] swaps j's bits for 2^(j/8)'s
 * mantissa and takes 1 from the exponent.  Within 4.1e-7 relative of float64 down to
 * x = -88.72 (2.1e-7 for |x| <= 20); below, where exp(-x) is past the floats, -0 (the true
 * value is under 2.7e-37 in magnitude: no gradual underflow here, unlike tc_sigmoidf_).
 * SiLU(-inf) = -inf / inf = NaN and SiLU(+inf) = +inf as onnxruntime's Sigmoid then Mul;
 * SiLU(-0) = -0.
 * 13 vector operations for 8 values, as the degree-5 polynomial over [-ln2/2, ln2/2] it
 * replaces (s43), but 10 of them on the two FMA ports where that took 12 (the table lookup,
 * vpermd, and the integer add run on the third vector port): on the Intel Xeon host (Sapphire
 * Rapids class, AVX2, 2026-12-06; benchmarks/silu_forms.c, in-place pass over 3136 values in
 * L1) 0.89 of the degree-5 form's time; see sigmoid_vec_body.h. */
static inline float tc_siluf_(float x)
{
    static const int32_t tab[8] = {TC_SILU_TAB8};
    const float magic = 12583928.0f; /* 1.5 * 2^23 + 8 * 127 */
    float c = tc_sel_(x < -88.9f, -88.9f, x); /* NaN stays */
    c = tc_sel_(c > 80.0f, 80.0f, c);
    float t = fmaf(c, -8.0f * 1.44269504088896341f, magic);
    float n = t - magic; /* N = round(-8 c / ln 2), in [-923, 1026] */
    float r = fmaf(n, 0.693147182f / 8.0f, c);
    float p = fmaf(TC_EXP8_C3, r, TC_EXP8_C2);
    p = fmaf(p, r, -2.0f);
    p = fmaf(p, r, 2.0f);
    uint32_t ti;
    memcpy(&ti, &t, 4);
    uint32_t b = (ti << 20) + (uint32_t)tab[ti & 7]; /* 2^(n-1) 2^(j/8) */
    float s;
    memcpy(&s, &b, 4);
    return x / fmaf(p, s, 1.0f);
}

/* tanh(x): odd Taylor series below 0.4 (no cancellation), 1 - 2 / (e^2|x| + 1) above. */
static inline float tc_tanhf_(float x)
{
    float a = fabsf(x);
    float x2 = x * x;
    float small = x * (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835 +
                                                                                   x2 * (-1382.0f / 155925))))));
    float big = 1.0f - 2.0f / (tc_expf_(2.0f * a) + 1.0f);
    big = tc_sel_(x < 0.0f, -big, big);
    return tc_sel_(a < 0.4f, small, big); /* NaN falls to big, which is NaN */
}

/* The element-wise family's kernels for one instruction set: tc_eltwise_portable
 * (eltwise.c), tc_eltwise_avx2 (eltwise_avx2.c) and tc_eltwise_avx512
 * (eltwise_avx512.c: Sigmoid and SiLU on 16 lanes); dispatch.c picks one per
 * tc_ctx.  Both give identical results (see eltwise_impl.h). */
typedef struct tc_eltwise_kernels {
    /* One contiguous run of a binary op: y[i] = a[i*sa] op b[i*sb], sa, sb in {0, 1}. */
    void (*binary_run)(int op, const float *a, int sa, const float *b, int sb, float *y, ptrdiff_t n);
    void (*unary_run)(int op, float alpha, float beta, const float *x, float *y, ptrdiff_t n);
    /* y[i] = x[i] / (sqrt(d) * sqrt(sqrt(d))) with d = y[i] on entry (LRN, beta = 0.75) */
    void (*lrn_div_pow075)(const float *x, float *y, ptrdiff_t n);
    /* y = act(y) in place over rows [rows][cols] (leading dimension ldy) for the
     * kinds of tc_act_deferred (epilogue.h): the fused Sigmoid / SiLU pass of the
     * GEMM driver, the same loop as the standalone ops */
    void (*act_rows)(int kind, float *y, ptrdiff_t ldy, int rows, ptrdiff_t cols);
    /* y[r][i] = x[r][i] * q[r] (q_first: q[r] * x[r][i], the operands' order of a Mul whose
     * first input is the broadcast one) over rows [rows][n], contiguous: a
     * squeeze-and-excitation's scale (x * gate), each product the one binary_run gives */
    void (*mul_rows)(const float *x, const float *q, int q_first, float *y, ptrdiff_t rows,
                     ptrdiff_t n);
} tc_eltwise_kernels;

extern const tc_eltwise_kernels tc_eltwise_portable, tc_eltwise_avx2, tc_eltwise_avx512;
const tc_eltwise_kernels *tc_eltwise_kernels_of(const tc_ctx *ctx);

#endif
