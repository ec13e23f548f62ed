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
 * and gets  static inline TC_SV TC_SV_FN(TC_SV x, int silu)  = sigmoid(x), or with silu
 * x * sigmoid(x) as tc_siluf_ (its own operations: exp(-x), no select); the parameters are undefined at the end, so the next
 * includer defines its own. */
static inline TC_SV TC_SV_FN(TC_SV x, int silu)
{
    /* SiLU as tc_siluf_: x / (1 + exp(-x)), 13 operations where the sigmoid's way took 16.
     * EfficientNet-B0, Zen 3 native, s24, 2026-12-03 (subgraph_shapes.py --against the base,
     * 15 rounds, tinycnn/against median [25-75%]): 1 thread 0.973 [0.961-0.976].  Output vs
     * onnxruntime, max |diff| / max |y|: 2.0-4.2e-6 at the base, 2.0-4.6e-6 now (3 inputs).
     * Dropped: exp's polynomial at degree 4 (minimax, 2.8e-6 alone; SiLU 3.2e-6, 12
     * operations): EfficientNet-B0 0.952 [0.940-0.961] and within 1.6e-5 of onnxruntime, but
     * YOLOv8n (SiLU after every convolution, test_models_dense) 1.63e-4 from onnxruntime at
     * 256x256, past issue 12's 1e-4 and twice onnxruntime's own optimized/unoptimized spread.
     * What bounds it, Zen 3 native (s25, 2026-12-03; a loop of this over 4096 values in L1,
     * best of 6000 calls per variant alternating, 5 processes; this form 5.1-5.3 TSC cycles
     * per 8 values): the count of operations, not the chains' latency.  Without the divide
     * (a multiply) 0.82-0.83 of its time, without the clamp 0.89-0.90, the polynomial by
     * Estrin (r^2: one operation more, a chain 8 cycles shorter; other bits) 0.95-0.99,
     * vrcpps and a Newton step for the divide (other bits) 1.16-1.18.  The clamp in the
     * integer domain (vpminud with -88.9's bits, then vpminsd with 80's: the same bits for
     * every input, NaNs included, checked on 12288 values) 1.00-1.02.  A table of 2^(j/8)
     * (vpermps) with a degree-3 polynomial counts 13 operations too: not built.  EfficientNet-
     * B0's time in this pass (perf, the whole network): 14.5%. */
    if (silu) {
        const TC_SV m = TC_SV_(set1_ps)(12583038.0f); /* 1.5 * 2^23 + 126 */
        TC_SV c = TC_SV_(min_ps)(TC_SV_(set1_ps)(80.0f), TC_SV_(max_ps)(TC_SV_(set1_ps)(-88.9f), x));
        TC_SV t = TC_SV_(fmadd_ps)(c, TC_SV_(set1_ps)(-1.44269504088896341f), m);
        TC_SV r = TC_SV_(fmadd_ps)(TC_SV_(sub_ps)(t, m), TC_SV_(set1_ps)(0.693147182f), c);
        TC_SV p = TC_SV_(fmadd_ps)(TC_SV_(set1_ps)(-8.31156783e-3f * 2.0f), r, TC_SV_(set1_ps)(4.18989286e-2f * 2.0f));
        p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(-1.66671529e-1f * 2.0f));
        p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(4.99991715e-1f * 2.0f));
        p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(-2.0f));
        p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(2.0f));
        TC_SV s = TC_SV_TOF(TC_SV_(slli_epi32)(TC_SV_TOI(t), 23)); /* 2^(n-1) */
        return TC_SV_(div_ps)(x, TC_SV_(fmadd_ps)(p, s, TC_SV_(set1_ps)(1.0f)));
    }
    const TC_SV magic = TC_SV_(set1_ps)(12583063.0f); /* 1.5 * 2^23 + 151 */
    TC_SV a = TC_SV_(max_ps)(TC_SV_(set1_ps)(-104.0f), TC_SV_NEGABS(x)); /* maxps keeps a NaN second operand */
    TC_SV t = TC_SV_(fmadd_ps)(a, TC_SV_(set1_ps)(1.44269504088896341f), magic);
    TC_SV n = TC_SV_(sub_ps)(t, magic);
    /* fnmadd(n, c, a) = a - n * c rounded once: fmaf(-n, c, a) */
    TC_SV r = TC_SV_(fnmadd_ps)(n, TC_SV_(set1_ps)(0.693147182f), a);
    /* the polynomial times 2^-24 (its coefficients scaled), as tc_expnegabsf_ */
    TC_SV p = TC_SV_(fmadd_ps)(TC_SV_(set1_ps)(8.31156783e-3f * TC_2M24), r, TC_SV_(set1_ps)(4.18989286e-2f * TC_2M24));
    p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(1.66671529e-1f * TC_2M24));
    p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(4.99991715e-1f * TC_2M24));
    p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(TC_2M24));
    p = TC_SV_(fmadd_ps)(p, r, TC_SV_(set1_ps)(TC_2M24));
    TC_SV s = TC_SV_TOF(TC_SV_(slli_epi32)(TC_SV_TOI(t), 23)); /* 2^(n+24) */
    TC_SV e = TC_SV_(mul_ps)(p, s);
    TC_SV d = TC_SV_(add_ps)(TC_SV_(set1_ps)(1.0f), e);
    TC_SV g = TC_SV_(div_ps)(TC_SV_(set1_ps)(1.0f), d);
    return TC_SV_SELNEG(x, TC_SV_(mul_ps)(e, g), g);
}

#undef TC_SV_FN
#undef TC_SV
#undef TC_SVI
#undef TC_SV_
#undef TC_SV_TOI
#undef TC_SV_TOF
#undef TC_SV_NEGABS
#undef TC_SV_SELNEG
