/* gc8w_lanes_probe: the grouped 3x3 Winograd's product step (csrc/grouped8_avx2.h gc8w_e2x7:
 * the 8 output channels in the lanes, each tile's V broadcast, 1792 FMAs for 2 tile rows of
 * 7 tiles) against the same sums with the tiles in the lanes (a row of 7 tiles in one vector,
 * its 8th lane idle: 2048 FMAs) and U broadcast per (input, output) channel, KB output
 * channels a block with both tile rows' V in registers (KB 4: 6 loads per 8 FMAs against 15
 * per 14), both hot in L1, alternating in rounds on the thread's CPU clock; prints per round
 * band of the two kernels' combined FMA rate (the host's fast and slow states) the median
 * ratio tiles-in-lanes / channels-in-lanes [25-75%].  Timing only (the M layouts differ).
 *   gcc -O3 -std=gnu11 -fno-strict-aliasing -mavx2 -mfma -Wno-unused-function -DKB=4 \
 *       -Icsrc benchmarks/gc8w_lanes_probe.c -o /tmp/gc8w_lanes_probe
 *   nice -n -20 /tmp/gc8w_lanes_probe [CALLS_PER_ROUND=200] [ROUNDS=30000]
 * Measured (h43-rg, 2026-12-06 12:3x, Intel Xeon Sapphire Rapids class, KVM, 30000 rounds of
 * 200 calls): KB 4 in the fast state (18546 rounds at >= 5.2 FMA/ns) 1.144 [1.144-1.145]:
 * both at 5.59 FMA/ns, the FMA peak, so the fewer loads and uops per FMA buy nothing there and
 * the idle lane costs its 8/7; in the slowest rounds (< 4.0 FMA/ns, 1511 rounds) 0.978
 * [0.916-1.043]: the host's slow state (slower L1 reads) slows the broadcast-per-FMA kernel
 * 1.55x against 1.33x, still not a win; a second run (12:35, the host mostly slow: 23864 of
 * 30000 rounds under 4.0 FMA/ns) 0.973 [0.951-1.016] there, 1.144 in its 2972 fast rounds.
 * KB 8 (V once, 8 broadcasts per 8 FMAs) 1.225, KB 2 1.295 in the fast state.  A row of 7
 * tiles leaves a lane idle at 14x14 whatever the packing (49 tiles take 7 vectors); at 28x28
 * 4 tile rows of 14 would fill 7 vectors, but those 2 layers are ~2% of the network. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "conv_internal.h"
#include "depthwise_vec_avx2.h"
#include "grouped_body.h"
#include "grouped8_avx2.h"

#ifndef KB
#define KB 4
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* M[p][k][2][8] = sum over c of U[p][c][k] V[r][p][c][lanes], r the 2 tile rows
 * (GC8W_VROW(8) apart), U as gc8w_weights lays it out ([16][8 in][8 out]) */
static __attribute__((noinline)) void tl_e2(const float *V, const float *U, float *M)
{
    for (int p = 0; p < 16; p++) {
#pragma GCC unroll 8
        for (int kb = 0; kb < 8; kb += KB) {
            __m256 acc[KB][2];
#pragma GCC unroll 8
            for (int k = 0; k < KB; k++)
                acc[k][0] = acc[k][1] = _mm256_setzero_ps();
            const float *u = U + (size_t)p * 64 + kb;
            const float *v = V + (size_t)p * 64;
            __asm__("" : "+r"(u), "+r"(v));
#pragma GCC unroll 8
            for (int c = 0; c < 8; c++) {
                const __m256 v0 = _mm256_load_ps(v + c * 8),
                             v1 = _mm256_load_ps(v + GC8W_VROW(8) + c * 8);
#pragma GCC unroll 8
                for (int k = 0; k < KB; k++) {
                    const __m256 b = _mm256_broadcast_ss(u + c * 8 + k);
                    acc[k][0] = _mm256_fmadd_ps(b, v0, acc[k][0]);
                    acc[k][1] = _mm256_fmadd_ps(b, v1, acc[k][1]);
                }
            }
#pragma GCC unroll 8
            for (int k = 0; k < KB; k++) {
                _mm256_store_ps(M + ((size_t)p * 8 + kb + k) * 16, acc[k][0]);
                _mm256_store_ps(M + ((size_t)p * 8 + kb + k) * 16 + 8, acc[k][1]);
            }
        }
    }
}

static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const int N = argc > 1 ? atoi(argv[1]) : 200, R = argc > 2 ? atoi(argv[2]) : 30000;
    static float U[16 * 64] __attribute__((aligned(32)));
    static float V[2 * GC8W_VROW(8)] __attribute__((aligned(32)));
    static float M[16 * 8 * 16] __attribute__((aligned(32)));
    for (int i = 0; i < 16 * 64; i++)
        U[i] = (float)rand() / RAND_MAX;
    for (int i = 0; i < 2 * GC8W_VROW(8); i++)
        V[i] = (float)rand() / RAND_MAX;
    double *ra = malloc(R * sizeof(double)), *rf = malloc(R * sizeof(double));
    for (int r = 0; r < R; r++) {
        double a = 0, b = 0;
        for (int half = 0; half < 2; half++) { /* both orders, alternating by round */
            const int tl = (half ^ r) & 1;
            const double t0 = now();
            for (int i = 0; i < N; i++) {
                (tl ? tl_e2 : gc8w_e2x7)(V, U, M);
                __asm__ volatile("" ::"r"(M) : "memory");
            }
            *(tl ? &b : &a) = (now() - t0) / N * 1e9;
        }
        ra[r] = b / a, rf[r] = (1792 + 2048) / (a + b);
    }
    static const double band[][2] = {{5.2, 99}, {4.8, 5.2}, {4.4, 4.8}, {4.0, 4.4}, {0, 4.0}};
    double *s = malloc(R * sizeof(double));
    for (int k = 0; k < 5; k++) {
        int n = 0;
        for (int r = 0; r < R; r++)
            if (rf[r] >= band[k][0] && rf[r] < band[k][1])
                s[n++] = ra[r];
        if (!n)
            continue;
        qsort(s, n, sizeof(double), cmp);
        printf("KB %d, rounds at %.1f-%.1f FMA/ns: %5d, tiles / channels in lanes %.3f [%.3f-%.3f]\n",
               KB, band[k][0], band[k][1], n, s[n / 2], s[n / 4], s[3 * n / 4]);
    }
    return 0;
}
