/* Does prefetching the NEXT step's weights during a compute-bound step pay?  A 1x1 layer (C -> K at
 * HW x HW, bias + Clip, tc_conv2d_f32 algo 1X1) then a classifier GEMV (Kd -> Nd,
 * tc_dense_rows_f32, weights read in place), as a network ends (MobileNetV2: 320 -> 1280 at 7x7
 * then 1280 -> 1000), each round after 64 MB written (the weights in memory); with L3=1 the GEMV's
 * weights, 4 MB of other data and the layer's weights are read after the eviction (the GEMV's
 * weights mostly in L3, as inside a network); with FLUSH=1 (h39-mn) the GEMV's and the layer's
 * weights then flushed from every cache (clflush): in memory even where a 300 MB L3 keeps them
 * past the 64 MB (the Intel host of 2026-12-06).  Variants, alternating per round: 0 none; a
 * positive CHUNK: that many lines of the GEMV's weights prefetched after each tile call of the
 * GEMM driver; a negative -M: one line every M + 1 k steps inside the in-place strips' K loop
 * (panel16_fixed), from the start of the weights on.  Needs a build with next_pf.patch:
 *   git apply benchmarks/next_pf.patch && AB_SO_CACHE=/tmp/xpf bash benchmarks/ab_so.sh . /tmp/x.so
 *   git checkout csrc/gemm.c csrc/gemm_avx2.c
 *   gcc -O2 -Icsrc -Ibenchmarks benchmarks/next_pf_ab.c -o /tmp/next_pf_ab -ldl
 *   LD_LIBRARY_PATH=<libpython dir> [L3=1] [LEAD=n] /tmp/next_pf_ab /tmp/x.so ROUNDS C K HW Kd Nd \
 *       HINT(0 T0, 1 T1, 2 T2, 3 NTA) VARIANT...
 * Prints per variant the median layer, GEMV and total time (thread CPU) and the total's 25-75%.
 * Results (n31-pf, h39-mn): csrc/gemm_avx2.c, the comment above panel16_fixed. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tinycnn.h"
#include "ab_conv.h"
#include "ab_clock.h"

static float *floats(size_t n) { return aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64); }

int main(int argc, char **argv)
{
    if (argc < 10) {
        fprintf(stderr, "usage: %s X.so ROUNDS C K HW Kd Nd HINT VARIANT...\n", argv[0]);
        return 2;
    }
    ab_libpython();
    build B;
    load(&B, argv[1], 1);
    void *h = ab_open(argv[1]);
    const char **xp = sym(h, "tc_xpf_ptr"), **xcur = sym(h, "tc_xpf_cur"), **xend = sym(h, "tc_xpf_end");
    long *xl = sym(h, "tc_xpf_lines"), *xa = sym(h, "tc_xpf_at"), *xc = sym(h, "tc_xpf_chunk");
    int *xh = sym(h, "tc_xpf_hint"), *xmask = sym(h, "tc_xpf_mask");
    *(int *)sym(h, "tc_xpf_lead") = getenv("LEAD") ? atoi(getenv("LEAD")) : 0;
    void (*dense)(const tc_ctx *, int, int, int, const float *, const float *, const float *, int,
                  float *);
    *(void **)&dense = sym(h, "tc_dense_rows_f32");
    const int rounds = atoi(argv[2]), C = atoi(argv[3]), K = atoi(argv[4]), H = atoi(argv[5]);
    const int Kd = atoi(argv[6]), Nd = atoi(argv[7]), hint = atoi(argv[8]);
    const int nv = argc - 9 < 16 ? argc - 9 : 16;
    long var[16];
    for (int i = 0; i < nv; i++)
        var[i] = atol(argv[9 + i]);
    const size_t N = (size_t)H * H, wd_n = (size_t)Kd * Nd;
    tc_conv2d_params p = {C, K, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    float *w = floats((size_t)C * K), *x = floats(C * N), *bias = floats(K), *y = floats(K * N);
    for (size_t i = 0; i < (size_t)C * K; i++)
        w[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
    for (size_t i = 0; i < C * N; i++)
        x[i] = rand() / (float)RAND_MAX;
    for (int i = 0; i < K; i++)
        bias[i] = 0.1f;
    float *packed = floats(B.pack_size(&p, TC_CONV_ALGO_1X1));
    B.pack(&B.ctx, &p, TC_CONV_ALGO_1X1, w, packed);
    float *ws = floats(B.ws_size(&B.ctx, &p, TC_CONV_ALGO_1X1, 1, H, H) + 16);
    float *wd = floats(wd_n), *a = floats(Kd), *yd = floats(Nd), *bd = floats(Nd);
    for (size_t i = 0; i < wd_n; i++)
        wd[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
    for (int i = 0; i < Kd; i++)
        a[i] = rand() / (float)RAND_MAX;
    memset(bd, 0, (size_t)Nd * sizeof(float));
    const size_t evn = (64u << 20) / sizeof(float);
    float *ev = calloc(evn, sizeof(float));
    tc_activation act = {TC_ACT_CLIP, 0.0f, 6.0f, NULL};
    double *tc = malloc(sizeof(double) * rounds * nv), *td = malloc(sizeof(double) * rounds * nv);
    double *tt = malloc(sizeof(double) * rounds);
    for (int r = 0; r < rounds; r++)
        for (int vi = 0; vi < nv; vi++) {
            const int v = (r & 1) ? nv - 1 - vi : vi;
            volatile float s = 0.0f;
            for (size_t q = 0; q < evn; q += 16)
                ev[q] += 1.0f;
            if (getenv("L3")) {
                for (size_t q = 0; q < wd_n; q += 16)
                    s += wd[q];
                for (size_t q = 0; q < (4u << 20) / sizeof(float); q += 16)
                    s += ev[q + (8u << 20)];
                for (size_t q = 0; q < (size_t)C * K; q += 16)
                    s += packed[q];
            }
            if (getenv("FLUSH")) {
                for (size_t q = 0; q < wd_n; q += 16)
                    _mm_clflush(wd + q);
                for (size_t q = 0; q < B.pack_size(&p, TC_CONV_ALGO_1X1); q += 16)
                    _mm_clflush(packed + q);
                _mm_mfence();
            }
            for (size_t q = 0; q < C * N; q += 16)
                s += x[q];
            *xp = var[v] > 0 ? (const char *)wd : NULL;
            *xl = (long)(wd_n * sizeof(float) / 64);
            *xa = 0;
            *xc = var[v];
            *xh = hint;
            *xcur = (const char *)wd;
            *xend = var[v] < 0 ? (const char *)(wd + wd_n) : (const char *)wd;
            *xmask = var[v] < 0 ? (int)-var[v] : 3;
            const double t0 = now();
            B.conv(&B.ctx, &p, TC_CONV_ALGO_1X1, 1, H, H, x, packed, bias, NULL, &act, y, ws);
            const double t1 = now();
            if (r == 0)
                fprintf(stderr, "variant %ld: %ld lines after calls, %ld in the strips, of %ld\n",
                        var[v], *xa, (long)(*xcur - (const char *)wd) / 64, *xl);
            *xp = NULL;
            *xend = NULL;
            dense(&B.ctx, 1, Kd, Nd, a, wd, bd, 0, yd);
            const double t2 = now();
            tc[v * rounds + r] = (t1 - t0) * 1e6;
            td[v * rounds + r] = (t2 - t1) * 1e6;
        }
    for (int v = 0; v < nv; v++) {
        for (int r = 0; r < rounds; r++)
            tt[r] = tc[v * rounds + r] + td[v * rounds + r];
        qsort(tc + v * rounds, rounds, sizeof(double), cmp);
        qsort(td + v * rounds, rounds, sizeof(double), cmp);
        qsort(tt, rounds, sizeof(double), cmp);
        printf("variant %5ld: layer %7.1f  gemv %7.1f  total %7.1f [%7.1f-%7.1f] us\n", var[v],
               tc[v * rounds + rounds / 2], td[v * rounds + rounds / 2], tt[rounds / 2],
               tt[rounds / 4], tt[3 * rounds / 4]);
    }
    return 0;
}
