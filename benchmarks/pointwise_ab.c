/* Two builds of tinycnn's C kernels on the same 1x1 convolutions, alternating in one process:
 * the A/B of a GEMM change without Python between the calls (a Conv2d.run from Python costs
 * about as much as a small layer) and without a second process (two processes of one build
 * differ by up to 15% on the shared Zen 4 host).  Thread CPU time (wall time with threads),
 * min and median of rounds x 10 runs per build, and whether both builds wrote the same bits.
 *
 *   gcc -O2 -Icsrc benchmarks/pointwise_ab.c -o /tmp/pointwise_ab -ldl
 *   cp ../main/tinycnn/_kernels*.so /tmp/a.so; cp tinycnn/_kernels*.so /tmp/b.so
 *   LD_LIBRARY_PATH=$(python -c "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))") \
 *       /tmp/pointwise_ab /tmp/a.so /tmp/b.so 20 [C K HW ...]
 *
 * A variant of a -D constant (TC_GEMM_MC, TC_GEMM_KC, TC_GEMM_PF_A_INPLACE...) needs no Cython:
 * the files of csrc/ compiled as setup.py does (-O3 -std=c99 -fno-strict-aliasing, -mavx2 -mfma on
 * *_avx2.c, -DTC_HAVE_AVX2_SOURCES=1) plus -fPIC into one gcc -shared .so, then conv.c,
 * conv_avx2.c, dispatch.c, gemm.c and gemm_avx2.c again with the -D and linked as a second one.
 * The two paths must differ (dlopen hands out one handle per path).  Without shapes: the 1x1
 * layers of MobileNetV2, MnasNet, EfficientNet-B0 and MobileNetV3-Large on 14x14 and 7x7
 * maps.  Each layer has a bias; where K > C (an expansion) a Clip(0, 6), else a residual.
 * Environment:
 *   PW_MODE    c: Clip for every layer, r: ReLU, s: SiLU, n: bias only (no residual),
 *              R: a residual, then ReLU
 *   PW_ALGO    the enum tc_conv_algo (1: 1X1, the default; 8: 1X1_CHAN)
 *   PW_ALGO_B  build B's algorithm where it differs (two algorithms of one build: the same .so
 *              copied to two paths)
 *   PW_THREADS a pool of that many threads (wall time)
 *   PW_EVICT   bytes written before each timed run (L2 is 1 MiB on the Zen 4 host)
 *   PW_KERNEL  3: 3x3 layers with pads 1 instead (h52-sq; default algorithm 5, Winograd F(4x4);
 *              without shapes SqueezeNet's four expand3x3s; PW_MODE r for their ReLU)
 *   PW_WARM    after the eviction, read back: 1 x, 2 the packed weights, 4 y (written), 8 the
 *              residual (a sum of these)
 * The builds' AVX2 kernels run whatever the CPU has beyond (tc_ctx_init with TC_ISA_AVX2);
 * no onnxruntime here (pointwise_shapes.py compares with it). */
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

static const int SHAPES[][3] = {
    {192, 64, 14},   {64, 384, 14},  {384, 64, 14},   {384, 96, 14},  {96, 576, 14},
    {576, 96, 14},   {80, 480, 14},  {480, 80, 14},   {112, 672, 14}, {672, 112, 14},
    {576, 160, 7},   {672, 160, 7},  {160, 960, 7},   {960, 160, 7},  {960, 320, 7},
    {320, 1280, 7},  {192, 1152, 7}, {1152, 192, 7},  {1152, 320, 7}};
static const int SHAPES3[][3] = {{16, 64, 55}, {32, 128, 27}, {48, 192, 13}, {64, 256, 13}};

int main(int argc, char **argv)
{
    if (argc < 4 || (argc - 4) % 3) {
        fprintf(stderr, "usage: %s A.so B.so ROUNDS [C K HW ...]\n", argv[0]);
        return 2;
    }
    ab_libpython(); /* the builds are Python extensions */
    const char *mode = getenv("PW_MODE") ? getenv("PW_MODE") : "";
    const int ks = getenv("PW_KERNEL") && atoi(getenv("PW_KERNEL")) == 3 ? 3 : 1;
    const int algo_a = getenv("PW_ALGO") ? atoi(getenv("PW_ALGO"))
                       : ks == 3 ? TC_CONV_ALGO_WINOGRAD_4X4_3X3 : TC_CONV_ALGO_1X1;
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
    const int (*shapes)[3] = ks == 3 ? SHAPES3 : SHAPES;
    const int ns = argc > 4 ? (argc - 4) / 3
                   : ks == 3 ? (int)(sizeof(SHAPES3) / sizeof(SHAPES3[0]))
                             : (int)(sizeof(SHAPES) / sizeof(SHAPES[0]));
    double sum[2] = {0.0, 0.0};
    for (int s = 0; s < ns; s++) {
        const int C = argc > 4 ? atoi(argv[4 + 3 * s]) : shapes[s][0];
        const int K = argc > 4 ? atoi(argv[5 + 3 * s]) : shapes[s][1];
        const int H = argc > 4 ? atoi(argv[6 + 3 * s]) : shapes[s][2];
        const size_t N = (size_t)H * H;
        const int pd = ks / 2;
        tc_conv2d_params p = {C, K, ks, ks, 1, 1, pd, pd, pd, pd, 1, 1, 1};
        float *w = floats((size_t)C * K * ks * ks), *x = floats(C * N), *bias = floats(K), *res = floats(K * N);
        srand(s + 1);
        for (size_t i = 0; i < (size_t)C * K * ks * ks; i++)
            w[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
        for (size_t i = 0; i < C * N; i++)
            x[i] = rand() / (float)RAND_MAX - 0.5f;
        for (int i = 0; i < K; i++)
            bias[i] = rand() / (float)RAND_MAX - 0.5f;
        for (size_t i = 0; i < K * N; i++)
            res[i] = rand() / (float)RAND_MAX - 0.5f;
        tc_activation act = {TC_ACT_CLIP, 0.0f, 6.0f, NULL};
        int use_act = K > C;
        switch (mode[0]) {
        case 'c': use_act = 1; break;
        case 'r': use_act = 1; act.kind = TC_ACT_RELU; break;
        case 's': use_act = 1; act.kind = TC_ACT_SILU; break;
        case 'n': use_act = 1; act.kind = TC_ACT_NONE; break;
        case 'R': use_act = 0; act.kind = TC_ACT_RELU; break;
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
        const double flops = 2.0 * C * K * N * ks * ks;
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
