/* One core's read bandwidth from memory: a buffer (default 5.12 MB, a 1280 x 1000 classifier's
 * weights) flushed from every cache (clflush) before each pass, then summed as 1, 2, 4 .. 32
 * interleaved streams (stream s reads the s-th of equal parts, 32 bytes a step each), thread CPU
 * time, median of ROUNDS.  What tc_gemv_rows_avx2 can reach with its weights in memory.
 *   gcc -O2 -mavx2 benchmarks/read_bw.c -o /tmp/read_bw && chrt -f 10 /tmp/read_bw [ROUNDS [MB]]
 * Measured (h39-mn, Intel Xeon host of 2026-12-06, Sapphire / Emerald Rapids class under KVM,
 * chrt -f 10, 30 rounds; the host's speed moved between runs): 1 stream 632-793 us (6.5-8.1
 * GB/s), 4 372-438 (11.7-13.8), 8 350-429, 16 344-414 (12.4-14.9), 32 375-448.  Each run paired
 * with gemv_pf_ab.c MODE=flush 40 rounds right after: tc_gemv_rows_avx2's four row streams 439
 * against the best plain read's 400 us, 355 against 344: the classifier's GEMV from memory reads
 * within 3-10% of this core's rate. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include "ab_clock.h"

#define NS 6
#define MAXR 1000

int main(int argc, char **argv)
{
    const int rounds = argc > 1 ? atoi(argv[1]) : 30;
    const double mb = argc > 2 ? atof(argv[2]) : 5.12;
    const int S[NS] = {1, 2, 4, 8, 16, 32};
    if (rounds < 1 || rounds > MAXR || mb <= 0) {
        fprintf(stderr, "usage: %s [ROUNDS (1-%d) [MB]]\n", argv[0], MAXR);
        return 2;
    }
    const size_t n = ((size_t)(mb * 1e6) / 4) / 256 * 256; /* floats: 32 streams of 8-float steps */
    float *w = aligned_alloc(4096, (n * sizeof(float) + 4095) / 4096 * 4096);
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(i % 1000) * 1e-3f;
    static double t[NS][MAXR];
    volatile float sink = 0;
    for (int r = 0; r < rounds; r++)
        for (int j = 0; j < NS; j++) {
            const int si = (r & 1) ? NS - 1 - j : j, s = S[si];
            for (size_t q = 0; q < n; q += 16)
                _mm_clflush(w + q);
            _mm_mfence();
            const size_t part = n / s;
            const double t0 = now();
            __m256 acc[32];
            for (int k = 0; k < s; k++)
                acc[k] = _mm256_setzero_ps();
            for (size_t i = 0; i < part; i += 8)
                for (int k = 0; k < s; k++)
                    acc[k] = _mm256_add_ps(acc[k], _mm256_load_ps(w + k * part + i));
            t[si][r] = now() - t0;
            float o[8], z = 0;
            for (int k = 0; k < s; k++) {
                _mm256_storeu_ps(o, acc[k]);
                z += o[0];
            }
            sink += z;
        }
    for (int si = 0; si < NS; si++) {
        qsort(t[si], rounds, sizeof(double), cmp);
        const double m = t[si][rounds / 2];
        printf("streams %2d: %7.1f us  %5.1f GB/s\n", S[si], m * 1e6, n * 4 / m / 1e9);
    }
    return 0;
}
