/* One build's 1x1 GEMM (tc_gemm_scaled_b_f32, the test hook: A packed each call, B a row-major
 * [K, N] read with row stride ldb, bias and ReLU) at several ldb in turn, to see what the
 * L1 sets B's rows fall in cost: rows lines apart by a multiple of 16 (mod 64) share 4 of a
 * 32 KiB 8-way L1's 64 sets.  Thread CPU time, per ldb the min of 20 calls a round, min /
 * median / 25-75% over 41 rounds, alternating.
 *   gcc -O2 -Icsrc -Ibenchmarks benchmarks/gemm_ldb_alias.c -o /tmp/gemm_ldb_alias -ldl
 *   LD_LIBRARY_PATH=$(python -c "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))") \
 *       /tmp/gemm_ldb_alias tinycnn/_kernels*.so M K N LDB [LDB ...]   (up to 8)
 * Measured (h52-rg, 2026-12-07, AMD EPYC Zen 4, AVX2 kernels, 1 thread, load ~5): RegNetY-400MF
 * block1-0's banded 1x1 (csrc/pg_fused.c: 32 -> 48, a band of 16 rows of 112, B read in place
 * from x with ldb = 112 x 112), M 48 K 32 N 1792: ldb 12544 (784 lines, 16 mod 64) median
 * 63.5 us, 1792 (48 mod 64) 63.2, 12800 (32 mod 64) 65.1, against 58.9 at 12560 and 1808
 * (odd line counts, all 64 sets): 0.93 of the time with B's rows spread over the sets. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "tinycnn.h"
#include "ab_dl.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: gemm_ldb_alias BUILD.so M K N LDB [LDB ...]\n");
        return 1;
    }
    ab_libpython();
    void *h = ab_open(argv[1]);
    tc_ctx ctx;
    ab_avx2(h, argv[1], &ctx, NULL);
    int (*gemm)(const tc_ctx *, int, int, int, const float *, int, float *, const float *,
                ptrdiff_t, int, const float *, const float *, int, float *, float *);
    size_t (*ws_size)(const tc_ctx *);
    size_t (*pa_size)(int, int);
    *(void **)&gemm = sym(h, "tc_gemm_scaled_b_f32");
    *(void **)&ws_size = sym(h, "tc_gemm_workspace_size");
    *(void **)&pa_size = sym(h, "tc_gemm_pack_a_size");
    const int M = atoi(argv[2]), K = atoi(argv[3]), N = atoi(argv[4]);
    int nl = argc - 5 < 8 ? argc - 5 : 8;
    long ldbs[8], most = N;
    for (int i = 0; i < nl; i++) {
        ldbs[i] = atol(argv[5 + i]);
        most = ldbs[i] > most ? ldbs[i] : most;
    }
    const size_t nb = (size_t)K * most;
    float *B = aligned_alloc(64, (nb * 4 + 127) / 64 * 64);
    float *A = aligned_alloc(64, ((size_t)M * K * 4 + 127) / 64 * 64);
    float *pa = aligned_alloc(64, (pa_size(M, K) * 4 + 127) / 64 * 64);
    float *ws = aligned_alloc(64, (ws_size(&ctx) * 4 + 127) / 64 * 64);
    float *C = aligned_alloc(64, ((size_t)M * N * 4 + 127) / 64 * 64);
    float *bias = calloc((size_t)M, sizeof(float));
    for (size_t i = 0; i < nb; i++)
        B[i] = (float)(i % 97) * 0.01f - 0.4f;
    for (int i = 0; i < M * K; i++)
        A[i] = (float)(i % 13) * 0.1f - 0.6f;
    enum { ROUNDS = 41, CALLS = 20 };
    static double t[8][ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < nl; i++) {
            double best = 1e9;
            for (int k = 0; k < CALLS; k++) {
                const double a = now();
                gemm(&ctx, M, N, K, A, 0, pa, B, ldbs[i], 0, NULL, bias, 1, C, ws);
                const double d = now() - a;
                best = d < best ? d : best;
            }
            t[i][r] = best;
        }
    for (int i = 0; i < nl; i++) {
        qsort(t[i], ROUNDS, sizeof(double), by_value);
        printf("M %d K %d N %d ldb %ld (lines mod 64: %ld): min %.1f us, median %.1f [%.1f-%.1f], "
               "%.1f GFLOP/s\n", M, K, N, ldbs[i], ldbs[i] / 16 % 64, t[i][0] * 1e6,
               t[i][ROUNDS / 2] * 1e6, t[i][ROUNDS / 4] * 1e6, t[i][3 * ROUNDS / 4] * 1e6,
               2.0 * M * N * K / t[i][ROUNDS / 2] / 1e9);
    }
    return 0;
}
