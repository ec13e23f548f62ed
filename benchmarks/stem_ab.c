/* stem_ab A.so B.so [rounds] [evict_MB]: the RGB stems of the mobile networks (3 -> 16 / 32
 * channels, 3x3 stride 2, pads 1, at 224x224; TC_CONV_ALGO_STEM, 1 thread) in two builds,
 * alternating, each call timed on the thread's CPU clock after evict_MB (default 32) of other
 * data read (clean lines, as a network's weights): the input (the user's feed, 4 KiB pages as numpy's) comes from memory as in a
 * network, where the run's weights have evicted it.  Prints per layer the medians and the
 * median [25-75%] of the per-round ratios B / A, and whether the outputs are bit-identical.
 * Builds: benchmarks/ab_so.sh CHECKOUT OUT.so (seconds after the first).
 *   gcc -O2 -Icsrc -Ibenchmarks benchmarks/stem_ab.c -o stem_ab -ldl -lm */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "ab_conv.h"

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double q(double *v, int n, double f)
{
    qsort(v, n, sizeof(double), cmpd);
    return v[(int)(f * (n - 1) + 0.5)];
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s A.so B.so [rounds] [evict_MB]\n", argv[0]);
        return 2;
    }
    const int rounds = argc > 3 ? atoi(argv[3]) : 200;
    const size_t evict = (size_t)(argc > 4 ? atoi(argv[4]) : 32) << 20;
    build b[2];
    load(&b[0], argv[1], 1);
    load(&b[1], argv[2], 1);
    const int h = 224, w = 224, Ks[] = {16, 32};
    const size_t xn = 3 * (size_t)h * w;
    float *x = mmap(NULL, xn * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *junk = malloc(evict + 64);
    memset(junk, 1, evict + 64);
    volatile int sink = 0;
    for (size_t i = 0; i < xn; i++)
        x[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    for (int li = 0; li < 2; li++) {
        const int K = Ks[li];
        tc_conv2d_params p = {3, K, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1};
        float *wt = malloc(sizeof(float) * K * 27), *bias = malloc(sizeof(float) * K);
        for (int i = 0; i < K * 27; i++)
            wt[i] = (float)((i * 7919) % 200) * 1e-3f - 0.1f;
        for (int i = 0; i < K; i++)
            bias[i] = 0.01f * i;
        const size_t yn = (size_t)K * 112 * 112;
        float *packed[2], *ws[2], *y[2];
        for (int v = 0; v < 2; v++) {
            packed[v] = aligned_alloc(64, (b[v].pack_size(&p, TC_CONV_ALGO_STEM) + 16) * 4);
            b[v].pack(&b[v].ctx, &p, TC_CONV_ALGO_STEM, wt, packed[v]);
            ws[v] = aligned_alloc(64, (b[v].ws_size(&b[v].ctx, &p, TC_CONV_ALGO_STEM, 1, h, w) + 16) * 4);
            y[v] = aligned_alloc(64, yn * 4);
        }
        tc_activation act = {TC_ACT_RELU, 0, 0, NULL};
        double *t[2] = {malloc(sizeof(double) * rounds), malloc(sizeof(double) * rounds)};
        double *r = malloc(sizeof(double) * rounds);
        for (int it = 0; it < rounds; it++)
            for (int k = 0; k < 2; k++) {
                const int v = (it + k) % 2;
                for (size_t i = 0; i < evict; i += 64) /* read: clean lines, no write-back */
                    sink += junk[i];
                const double t0 = now_us();
                b[v].conv(&b[v].ctx, &p, TC_CONV_ALGO_STEM, 1, h, w, x, packed[v], bias, NULL,
                          &act, y[v], ws[v]);
                t[v][it] = now_us() - t0;
            }
        for (int it = 0; it < rounds; it++)
            r[it] = t[1][it] / t[0][it];
        const int same = !memcmp(y[0], y[1], yn * 4);
        printf("3->%d 3x3/2 @224: A %.1f us  B %.1f us  B/A %.4f [%.4f-%.4f]  %d rounds, evict %zu MB, %s\n",
               K, q(t[0], rounds, 0.5), q(t[1], rounds, 0.5), q(r, rounds, 0.5), q(r, rounds, 0.25),
               q(r, rounds, 0.75), rounds, evict >> 20, same ? "bit-identical" : "OUTPUTS DIFFER");
    }
    return 0;
}
