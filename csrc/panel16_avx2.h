/* One row panel (R <= TC_GEMM_MR rows) by 16 columns of a 1x1 layer's GEMM with B read in
 * place (rows ldb floats apart), written once for gemm_avx2.c's strips (panel16_fixed) and
 * stem_fused_avx2.c's 16-channel projection: the K loop (acc from +0, k ascending by FMA, A
 * packed [kc][MR]) and the store (acc (+ C) (+ bias) (+ residual), the activation), each
 * output's operations in that order whichever caller: the same bits.  Needs AVX2 and FMA. */
#ifndef TC_PANEL16_AVX2_H
#define TC_PANEL16_AVX2_H
#include <immintrin.h>
#include <stddef.h>
#include "epilogue_avx2.h"
#include "gemm_internal.h"

#ifndef TC_GEMM_PF_B_HINT
#define TC_GEMM_PF_B_HINT _MM_HINT_T0
#endif

/* acc[2i], acc[2i + 1] += a[k][i] b[k][0..16) for k < kc ascending (the callers start acc at
 * +0); with pf_a a prefetch of A pf_a floats ahead each k, else with pf_b one of B's row pf_b
 * floats ahead.  A statement macro, not a function: gemm_avx2.c's code is the same as when the
 * loop stood in panel16_fixed (objdump -d), where an inlined function with acc by pointer made
 * other register choices. */
#define TC_PANEL16_STEP(PF, PFB)                                                                  \
    do {                                                                                          \
        if (PF)                                                                                   \
            _mm_prefetch((const char *)(ak + pf_a), _MM_HINT_T0);                                 \
        if (PFB)                                                                                  \
            _mm_prefetch((const char *)(bk + pf_b), TC_GEMM_PF_B_HINT);                           \
        const __m256 b0 = _mm256_loadu_ps(bk), b1 = _mm256_loadu_ps(bk + 8);                      \
        _Pragma("GCC unroll 6") for (int i = 0; i < R; i++)                                       \
        {                                                                                         \
            const __m256 av = _mm256_broadcast_ss(ak + i);                                        \
            acc[2 * i] = _mm256_fmadd_ps(av, b0, acc[2 * i]);                                     \
            acc[2 * i + 1] = _mm256_fmadd_ps(av, b1, acc[2 * i + 1]);                             \
        }                                                                                         \
        ak += MR;                                                                                 \
        bk += ldb;                                                                                \
    } while (0)
/* with acc, R, kc, a, b, ldb, pf_a, pf_b in scope */
#define TC_PANEL16_K()                                                                            \
    do {                                                                                          \
        const float *ak = a, *bk = b;                                                             \
        if (pf_a) {                                                                               \
            _Pragma("GCC unroll 4") for (int k = 0; k < kc; k++) TC_PANEL16_STEP(1, 0);           \
        } else if (pf_b) {                                                                        \
            _Pragma("GCC unroll 4") for (int k = 0; k < kc; k++) TC_PANEL16_STEP(0, 1);           \
        } else {                                                                                  \
            _Pragma("GCC unroll 4") for (int k = 0; k < kc; k++) TC_PANEL16_STEP(0, 0);           \
        }                                                                                         \
    } while (0)

/* c[i] = act(((acc[i] (+ c[i])) (+ bias[i])) (+ res[i])) for R rows ldc / ldr apart, with
 * acc, R, c, ldc, bias, res, ldr, act, HAS_BIAS, HAS_RES, ADD_C in scope (a macro for the
 * reason above) */
#define TC_PANEL16_STORE()                                                                        \
    do {                                                                                          \
        float *ci = c;                                                                            \
        _Pragma("GCC unroll 6") for (int i = 0; i < R; i++, ci += ldc)                            \
        {                                                                                         \
            __m256 r0 = acc[2 * i], r1 = acc[2 * i + 1];                                          \
            if (ADD_C) {                                                                          \
                r0 = _mm256_add_ps(r0, _mm256_loadu_ps(ci));                                      \
                r1 = _mm256_add_ps(r1, _mm256_loadu_ps(ci + 8));                                  \
            }                                                                                     \
            if (HAS_BIAS) {                                                                       \
                const __m256 bi = _mm256_broadcast_ss(bias + i);                                  \
                r0 = _mm256_add_ps(r0, bi);                                                       \
                r1 = _mm256_add_ps(r1, bi);                                                       \
            }                                                                                     \
            if (HAS_RES) {                                                                        \
                r0 = _mm256_add_ps(r0, _mm256_loadu_ps(res + i * ldr));                           \
                r1 = _mm256_add_ps(r1, _mm256_loadu_ps(res + i * ldr + 8));                       \
            }                                                                                     \
            _mm256_storeu_ps(ci, tc_act_avx2(act, r0));                                           \
            _mm256_storeu_ps(ci + 8, tc_act_avx2(act, r1));                                       \
        }                                                                                         \
    } while (0)

#endif
