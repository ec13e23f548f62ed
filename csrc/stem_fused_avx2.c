/* The projection of a stem block's band (stem_fused.c) when it has 16 output channels and
 * no activation (MobileNetV3-Large's 16 -> 16 with the stem's output as residual;
 * MobileNetV2's and MnasNet's 32 -> 16): C[16][N] = A[16][K] B[K][N] (+ bias) (+ residual),
 * B, C and the residual each K / 16 planes of N contiguous floats (ldb, ldc, ldr apart),
 * A the layer's GEMM-packed weights ([3][K][TC_GEMM_MR], zero rows 16 and 17).
 *
 * The GEMM runs this as in-place strips (gemm_avx2.c ukernel_inplace_avx2): per 16 columns a
 * call for the two 6-row panels and another for the last 4 rows, each panel only K = 16 FMA
 * steps between its prologue and its epilogue.  Here one call per band: per 16 columns the
 * three panels inline, the strip loop inside.  Each output the GEMM panel's operations in
 * their order (acc from +0, k ascending by FMA, then + bias, then + residual): the same bits
 * (tests/test_stem_fused.py against the three layers unfused).  No portable twin: elsewhere
 * stem_fused.c runs the GEMM.
 *
 * Measured (h45-v3, 2026-12-06 18:5x, Intel Xeon, AVX2 kernels, 1 thread, benchmarks/sf_ab.c,
 * 32 MB read before each call, 200-300 rounds, both orders, median of per-round ratios; a
 * loaded host): against the GEMM strips MobileNetV3-Large's 3-16-16 + residual block (20-row
 * bands) 0.92-0.93 of its time (0.916, 0.919, 0.929, 0.929; reversed 1/1.076 - 1/1.108),
 * MobileNetV2's 3-32-16 (12-row bands) 0.97-0.985 (0.964-0.985; reversed 1/1.020 - 1/1.029);
 * bit-identical.  Tried and left: each strip prefetching (T0) the B, residual and C lines of
 * the strip 1, 2 or 4 ahead: 0.94-0.96 against the GEMM where this is 0.92 (the L2 streamer
 * already follows the planes); K = 16 a constant (the K loop unrolled whole): level (0.923-0.931
 * against 0.929-0.933); 4 x 24 tiles (benchmarks/sp_tile424.patch): 0.97-0.98, slower than
 * these strips.  Inside the networks (steps_ab.py against ref45, bit-identical, medians
 * of per-round ratios, each order): MobileNetV3-Large at 1 thread (120 rounds x 5) the block
 * (features.0) 0.930 / 0.920, features.2 after it 1.005 / 1.007 (~+3 us), the run 1.002 / 0.997
 * (its rounds' spread 1-3%: ~30 us of 7-10 ms is below it); at 2 threads (chrt -f 10, 60 x 5)
 * the block 0.891 / 0.877, features.2 1.040 / 1.006; MnasNet's layers.0 at 2 threads 0.934
 * (10 x 5); MobileNetV2's features.0 at 1 thread 0.96-0.97 by minima.
 * sp_panel is gemm_avx2.c's panel16_fixed without its prefetches, later-K-block and activation
 * variants: both run panel16_avx2.h's K loop and store (the lead, at integration: gemm_avx2.o's
 * code unchanged by objdump -d; this file's sf_ab.c against its own first form, 600 rounds x 4
 * alternating orders: 0.991-1.008 a block, level, the same bits). */
#include <immintrin.h>
#include <stddef.h>
#include "conv_internal.h"
#include "gemm_internal.h"
#include "panel16_avx2.h"

#if TC_GEMM_MR != 6
#error "the panels below are 6 + 6 + 4 rows: TC_GEMM_MR 6"
#endif

/* R rows (6 or 4) x 16 columns: a [K][MR], b row k at b + k ldb; the GEMM strips' K loop
 * and store (panel16_avx2.h) without their prefetches, C, activation */
static inline __attribute__((always_inline)) void
sp_panel(const int R, int K, const float *a, const float *b, ptrdiff_t ldb, const float *bias,
         const float *res, ptrdiff_t ldr, float *c, ptrdiff_t ldc, const int HAS_BIAS,
         const int HAS_RES)
{
    __m256 acc[12];
#pragma GCC unroll 12
    for (int j = 0; j < 2 * R; j++)
        acc[j] = _mm256_setzero_ps();
    const int kc = K, pf_a = 0, pf_b = 0, ADD_C = 0;
    TC_PANEL16_K();
    const tc_act_k act = {TC_ACT_NONE, 0.0f, 0.0f};
    TC_PANEL16_STORE();
}

static inline __attribute__((always_inline)) void
sp_run(const float *a, int K, int N, const float *b, ptrdiff_t ldb, const float *bias,
       const float *res, ptrdiff_t ldr, float *c, ptrdiff_t ldc, const int HAS_BIAS,
       const int HAS_RES)
{
    const float *a1 = a + (size_t)K * MR, *a2 = a1 + (size_t)K * MR;
    /* no offset on a NULL bias or residual (the sanitizer build's pointer checks) */
    const float *bias1 = HAS_BIAS ? bias + MR : NULL, *bias2 = HAS_BIAS ? bias + 2 * MR : NULL;
    for (int n = 0; n < N; n += 16) {
        const float *r0 = HAS_RES ? res + n : NULL, *r1 = HAS_RES ? r0 + MR * ldr : NULL;
        const float *r2 = HAS_RES ? r1 + MR * ldr : NULL;
        sp_panel(MR, K, a, b + n, ldb, bias, r0, ldr, c + n, ldc, HAS_BIAS, HAS_RES);
        sp_panel(MR, K, a1, b + n, ldb, bias1, r1, ldr, c + MR * ldc + n, ldc, HAS_BIAS, HAS_RES);
        sp_panel(16 - 2 * MR, K, a2, b + n, ldb, bias2, r2, ldr, c + 2 * MR * ldc + n, ldc,
                 HAS_BIAS, HAS_RES);
    }
}

#define TC_SP(NAME, HAS_BIAS, HAS_RES)                                                             \
    static void NAME(const float *a, int K, int N, const float *b, ptrdiff_t ldb,                  \
                     const float *bias, const float *res, ptrdiff_t ldr, float *c, ptrdiff_t ldc) \
    {                                                                                              \
        sp_run(a, K, N, b, ldb, bias, res, ldr, c, ldc, HAS_BIAS, HAS_RES);                        \
    }
TC_SP(sp_plain, 0, 0)
TC_SP(sp_bias, 1, 0)
TC_SP(sp_res, 0, 1)
TC_SP(sp_bias_res, 1, 1)

void tc_stem_project16_avx2(const float *a, int K, int N, const float *b, ptrdiff_t ldb,
                            const float *bias, const float *res, ptrdiff_t ldr, float *c,
                            ptrdiff_t ldc)
{
    if (bias && res)
        sp_bias_res(a, K, N, b, ldb, bias, res, ldr, c, ldc);
    else if (bias)
        sp_bias(a, K, N, b, ldb, bias, res, ldr, c, ldc);
    else if (res)
        sp_res(a, K, N, b, ldb, bias, res, ldr, c, ldc);
    else
        sp_plain(a, K, N, b, ldb, bias, res, ldr, c, ldc);
}
