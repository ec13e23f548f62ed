/* Body of the vector sigmoid, included by epilogue_avx2.h (8 lanes) and
 * epilogue_avx512.h (16 lanes): tc_sigmoidf_'s operations step by step (its fmaf
 * as FMA, nothing else contracted), so every width gives the portable bits.  The
 * includer defines
 *   TC_SV_FN        the function's name
 *   TC_SV, TC_SVI   the float and integer vector types
 *   TC_SV_(op)      the intrinsic of op (add_ps, fmadd_ps ...): _mm256_##op or _mm512_##op
 *   TC_SV_TOI(v), TC_SV_TOF(v)   bit casts float <-> integer vector
 *   TC_SV_NEGABS(x) -|x|,  TC_SV_SELNEG(x, neg, pos)  neg where x's sign bit is set, else
 *                   pos (tc_signbitf_: -0 and negative NaNs take neg)
 *   TC_SV_TAB8(i)   TC_SILU_TAB8[i & 7] in every lane (vpermd)
 * and gets  static inline TC_SV TC_SV_FN(TC_SV x, int silu)  = sigmoid(x), or with silu
 * x * sigmoid(x) as tc_siluf_ (its own operations: exp(-x), no select); the parameters are undefined at the end, so the next
 * includer defines its own. */
static inline TC_SV TC_SV_FN(TC_SV x, int silu)
{
    /* SiLU as tc_siluf_: x / (1 + exp(-x)), 13 operations where the sigmoid's way took 16, 10
     * of them on the FMA ports (p0 / p1 on Intel; the table's vpermd and the integer add go to
     * p5).  What bounds it on the Intel Xeon host (Sapphire Rapids class, AVX2 only, s43,
     * 2026-12-06; benchmarks/silu_forms.c: in-place passes over 3136 values in L1, the forms
     * alternating, 200 rounds x best of 20): the FMA ports' operations, as on Zen 3.  The
     * form before this one (exp(-r) of degree 5 on [-ln2/2, ln2/2], 2^n by the shift alone: 12
     * operations on p0 / p1) 0.354 ns a value; without its divide (a multiply) 0.91 of that,
     * without its clamp 0.86, vrcpps + a Newton step for the divide 1.18-1.19 (on the
     * reciprocal or on the quotient), this one (2^(j/8) from the table, degree 3) 0.89.
     * The same form's history on Zen 3 (native, s24-s25, 2026-12-03): x / (1 + exp(-x))
     * instead of the sigmoid's way, EfficientNet-B0 0.973 [0.961-0.976]; dropped there: exp at
     * degree 4 without a table (minimax, 2.8e-6 alone): EfficientNet-B0 0.952 but YOLOv8n
     * (test_models_dense) 1.63e-4 from onnxruntime, past issue 12's 1e-4; vrcpps + Newton
     * 1.16-1.18; the polynomial by Estrin 0.95-0.99 (other bits); the clamp in the integer
     * domain 1.00-1.02.  EfficientNet-B0's time in this pass (perf, Zen 3): 14.5%. */
    if (silu) {
        const TC_SV m = TC_SV_(set1_ps)(12583928.0f); /* 1.5 * 2^23 + 8 * 127 */
        TC_SV c = TC_SV_(min_ps)(TC_SV_(set1_ps)(80.0f), TC_SV_(max_ps)(TC_SV_(set1_ps)(-88.9f), x));
        TC_SV t = TC_SV_(fmadd_ps)(c, TC_SV_(set1_ps)(-8.0f * 1.44269504088896341f), m);
        TC_SV r = TC_SV_(fmadd_ps)(TC_SV_(sub_ps)(t, m), TC_SV_(set1_ps)(0.693147182f / 8.0f), c);
        TC_SV p = TC_SV_(fmadd_ps)(TC_SV_(set1_ps)(TC_EXP8_C3), r, TC_SV_(set1_ps)(TC_EXP8_C2));
        p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(-2.0f));
        p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(2.0f));
        const TC_SVI ti = TC_SV_TOI(t);
        /* 2^(n-1) 2^(j/8): t's bits << 20 plus the table's entry j (TC_SILU_TAB8) */
        TC_SV s = TC_SV_TOF(TC_SV_(add_epi32)(TC_SV_(slli_epi32)(ti, 20), TC_SV_TAB8(ti)));
        return TC_SV_(div_ps)(x, TC_SV_(fmadd_ps)(p, s, TC_SV_(set1_ps)(1.0f)));
    }
    /* the sigmoid as tc_sigmoidf_: num / (1 + e), e = exp(-|x|) by the same table, num = 1 or
     * e by x's sign bit; 15 operations, 11 on the FMA ports (the form before: 16, 14).  On the
     * Intel Xeon host (s44, 2026-12-06; benchmarks/sigmoid_forms.c, in-place passes, 3136
     * values in L1 and 672000 past L2) 0.864-0.872 of the form before's time; the same table
     * with the form before's tail (1 / (1 + e), then e g or g) 0.94. */
    const TC_SV m = TC_SV_(set1_ps)(12584128.0f); /* 1.5 * 2^23 + 8 * 152 */
    TC_SV a = TC_SV_(max_ps)(TC_SV_(set1_ps)(-104.0f), TC_SV_NEGABS(x)); /* maxps keeps a NaN second operand */
    TC_SV t = TC_SV_(fmadd_ps)(a, TC_SV_(set1_ps)(8.0f * 1.44269504088896341f), m);
    TC_SV r = TC_SV_(fmadd_ps)(TC_SV_(sub_ps)(t, m), TC_SV_(set1_ps)(-0.693147182f / 8.0f), a);
    TC_SV p = TC_SV_(fmadd_ps)(TC_SV_(set1_ps)(-TC_EXP8_C3 * TC_2M25), r, TC_SV_(set1_ps)(TC_EXP8_C2 * TC_2M25));
    p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(2.0f * TC_2M25));
    p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(2.0f * TC_2M25));
    const TC_SVI ti = TC_SV_TOI(t);
    /* 2^(n+24) 2^(j/8): t's bits << 20 plus the table's entry j (TC_SILU_TAB8) */
    TC_SV s = TC_SV_TOF(TC_SV_(add_epi32)(TC_SV_(slli_epi32)(ti, 20), TC_SV_TAB8(ti)));
    TC_SV num = TC_SV_SELNEG(x, TC_SV_(mul_ps)(p, s), TC_SV_(set1_ps)(1.0f));
    return TC_SV_(div_ps)(num, TC_SV_(fmadd_ps)(p, s, TC_SV_(set1_ps)(1.0f)));
}

#undef TC_SV_FN
#undef TC_SV
#undef TC_SVI
#undef TC_SV_
#undef TC_SV_TOI
#undef TC_SV_TOF
#undef TC_SV_NEGABS
#undef TC_SV_SELNEG
#undef TC_SV_TAB8
