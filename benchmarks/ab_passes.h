/* Timing of in-place float passes side by side (silu_forms.c, sigmoid_forms.c): per round each
 * variant's best of CALLS calls over N values refilled in [-8, 8] outside the clock, the order
 * of the variants reversed every other round; then per variant the median over rounds of its
 * time per value (and its minimum) and of its ratio to variant 0 (with quartiles).  Wall time
 * (CLOCK_MONOTONIC): the pass is short and run at nice -20 beside nothing of its own. */
#ifndef AB_PASSES_H
#define AB_PASSES_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*ab_pass_fn)(float *, long);

static double ab_pass_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int ab_pass_cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void ab_time_passes(const ab_pass_fn *passes, const char *const *names, int nv, long n,
                           int rounds, int calls)
{
    float *buf = aligned_alloc(64, (size_t)(n + 64) * sizeof(float));
    double *t = malloc(sizeof(double) * rounds * nv), *ratio = malloc(sizeof(double) * rounds),
           *sorted = malloc(sizeof(double) * rounds);
    if (!buf || !t || !ratio || !sorted) {
        fprintf(stderr, "ab_time_passes: out of memory\n");
        exit(1);
    }
    for (int r = 0; r < rounds; r++)
        for (int v0 = 0; v0 < nv; v0++) {
            const int v = (r & 1) ? nv - 1 - v0 : v0;
            double best = 1e30;
            for (int c = 0; c < calls; c++) {
                for (long i = 0; i < n; i++)
                    buf[i] = (float)((i * 7919 % 1601) - 800) / 100.0f;
                const double t0 = ab_pass_now();
                passes[v](buf, n);
                const double dt = ab_pass_now() - t0;
                if (dt < best)
                    best = dt;
            }
            t[v * rounds + r] = best;
        }
    printf("N %ld, %d rounds x best of %d calls; ns per value median [min], ratio to 0 median "
           "[25-75%%]\n",
           n, rounds, calls);
    for (int v = 0; v < nv; v++) {
        for (int r = 0; r < rounds; r++)
            ratio[r] = t[v * rounds + r] / t[r];
        qsort(ratio, rounds, sizeof(double), ab_pass_cmp);
        memcpy(sorted, t + v * rounds, sizeof(double) * rounds);
        qsort(sorted, rounds, sizeof(double), ab_pass_cmp);
        printf("%d %-28s %.4f [%.4f] ns/value  ratio %.3f [%.3f-%.3f]\n", v, names[v],
               sorted[rounds / 2] * 1e9 / n, sorted[0] * 1e9 / n, ratio[rounds / 2],
               ratio[rounds / 4], ratio[3 * rounds / 4]);
    }
    free(buf), free(t), free(ratio), free(sorted);
}
#endif
