/* wg_ab A.so B.so ROUNDS [C K HW ...] (h52-sq): pointwise_ab.c's harness on 3x3 pad-1 layers
 * (default algorithm PW_ALGO=5, Winograd F(4x4,3x3); ReLU; without shapes SqueezeNet's four expand
 * 3x3s), two builds alternating in one process, thread CPU time; same environment as
 * pointwise_ab.c (PW_EVICT, PW_WARM, PW_THREADS, PW_ALGO_B; PW_MODE R: a residual, then ReLU).
 *   gcc -O2 -Icsrc -Ibenchmarks benchmarks/wg_ab.c -o /tmp/wg_ab -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tinycnn.h"
#include "ab_conv.h"

static int wall;
static double now(void)
{
    struct timespec t;
    clock_gettime(wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float *floats(size_t n) { return aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64); }

static const int SHAPES[][3] = {{16, 64, 55}, {32, 128, 27}, {48, 192, 13}, {64, 256, 13}};

int main(int argc, char **argv)
{
    if (argc < 4 || (argc - 4) % 3) {
        fprintf(stderr, "usage: %s A.so B.so ROUNDS [C K HW ...]\n", argv[0]);
        return 2;
    }
    ab_libpython(); /* the builds are Python extensions */
    const char *mode = getenv("PW_MODE") ? getenv("PW_MODE") : "";
    const int algo_a = getenv("PW_ALGO") ? atoi(getenv("PW_ALGO")) : TC_CONV_ALGO_WINOGRAD_4X4_3X3;
    const int algo_b = getenv("PW_ALGO_B") ? atoi(getenv("PW_ALGO_B")) : algo_a;
    const int threads = getenv("PW_THREADS") ? atoi(getenv("PW_THREADS")) : 1;
    const size_t evict_n = getenv("PW_EVICT") ? (size_t)atol(getenv("PW_EVICT")) / sizeof(float) : 0;
    const int warm = getenv("PW_WARM") ? atoi(getenv("PW_WARM")) : 0;
    float *evict = evict_n ? calloc(evict_n, sizeof(float)) : NULL;
    wall = threads > 1;
    build B[2];
    load(&B[0], argv[1], threads);
    load(&B[1], argv[2], threads);
    const int rounds = atoi(argv[3]), reps = 10;
    const int ns = argc > 4 ? (argc - 4) / 3 : (int)(sizeof(SHAPES) / sizeof(SHAPES[0]));
    double sum[2] = {0.0, 0.0};
    for (int s = 0; s < ns; s++) {
        const int C = argc > 4 ? atoi(argv[4 + 3 * s]) : SHAPES[s][0];
        const int K = argc > 4 ? atoi(argv[5 + 3 * s]) : SHAPES[s][1];
        const int H = argc > 4 ? atoi(argv[6 + 3 * s]) : SHAPES[s][2];
        const size_t N = (size_t)H * H;
        tc_conv2d_params p = {C, K, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        float *w = floats((size_t)C * K * 9), *x = floats(C * N), *bias = floats(K), *res = floats(K * N);
        srand(s + 1);
        for (size_t i = 0; i < (size_t)C * K * 9; i++)
            w[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
        for (size_t i = 0; i < C * N; i++)
            x[i] = rand() / (float)RAND_MAX - 0.5f;
        for (int i = 0; i < K; i++)
            bias[i] = rand() / (float)RAND_MAX - 0.5f;
        for (size_t i = 0; i < K * N; i++)
            res[i] = rand() / (float)RAND_MAX - 0.5f;
        tc_activation act = {TC_ACT_CLIP, 0.0f, 6.0f, NULL};
        int use_act = 1;
        act.kind = TC_ACT_RELU;
        switch (mode[0]) {
        case 'c': use_act = 1; break;
        case 'r': use_act = 1; act.kind = TC_ACT_RELU; break;
        case 's': use_act = 1; act.kind = TC_ACT_SILU; break;
        case 'n': use_act = 1; act.kind = TC_ACT_NONE; break;
        case 'R': use_act = 0; act.kind = TC_ACT_RELU; break; /* residual, then ReLU */
        default: break;
        }
        const float *r = use_act ? NULL : res;
        float *packed[2], *ws[2], *y[2];
        double *t[2];
        const int algo[2] = {algo_a, algo_b};
        for (int b = 0; b < 2; b++) {
            packed[b] = floats(B[b].pack_size(&p, algo[b]));
            B[b].pack(&B[b].ctx, &p, algo[b], w, packed[b]);
            ws[b] = floats(B[b].ws_size(&B[b].ctx, &p, algo[b], 1, H, H));
            y[b] = floats(K * N);
            t[b] = malloc(sizeof(double) * rounds * reps);
        }
        for (int round = 0; round < rounds; round++)
            for (int i = 0; i < 2; i++) {
                const int b = round & 1 ? 1 - i : i; /* ABBAAB...: no position favoured */
                B[b].conv(&B[b].ctx, &p, algo[b], 1, H, H, x, packed[b], bias, r, &act, y[b],
                          ws[b]);
                for (int rep = 0; rep < reps; rep++) {
                    if (evict_n) {
                        volatile float sink = 0.0f;
                        for (size_t q = 0; q < evict_n; q += 16)
                            evict[q] += 1.0f;
                        for (size_t q = 0; (warm & 1) && q < C * N; q += 16)
                            sink += x[q];
                        for (size_t q = 0; (warm & 2) && q < B[b].pack_size(&p, algo[b]); q += 16)
                            sink += packed[b][q];
                        for (size_t q = 0; (warm & 4) && q < K * N; q += 16)
                            y[b][q] = 0.0f;
                        for (size_t q = 0; (warm & 8) && q < K * N; q += 16)
                            sink += res[q];
                        (void)sink;
                    }
                    const double t0 = now();
                    B[b].conv(&B[b].ctx, &p, algo[b], 1, H, H, x, packed[b], bias, r, &act,
                              y[b], ws[b]);
                    t[b][round * reps + rep] = now() - t0;
                }
            }
        const int same = !memcmp(y[0], y[1], sizeof(float) * K * N);
        double mn[2], md[2];
        for (int b = 0; b < 2; b++) {
            qsort(t[b], (size_t)rounds * reps, sizeof(double), by_value);
            mn[b] = t[b][0];
            md[b] = t[b][rounds * reps / 2];
            sum[b] += mn[b];
        }
        const double flops = 18.0 * C * K * N;
        printf("%5d -> %-5d @%-3d A %7.1f us (%5.1f GF/s) med %7.1f  B %7.1f us (%5.1f GF/s) med "
               "%7.1f  B/A min %.3f med %.3f %s\n",
               C, K, H, mn[0] * 1e6, flops / mn[0] / 1e9, md[0] * 1e6, mn[1] * 1e6,
               flops / mn[1] / 1e9, md[1] * 1e6, mn[1] / mn[0], md[1] / md[0],
               same ? "same bits" : "DIFFERENT BITS");
        fflush(stdout);
        for (int b = 0; b < 2; b++) {
            free(packed[b]);
            free(ws[b]);
            free(y[b]);
            free(t[b]);
        }
        free(w);
        free(x);
        free(bias);
        free(res);
    }
    printf("sum of minima: A %.1f us  B %.1f us  B/A %.3f\n", sum[0] * 1e6, sum[1] * 1e6,
           sum[1] / sum[0]);
    return 0;
}
