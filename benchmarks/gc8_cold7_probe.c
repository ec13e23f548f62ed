/* gc8_cold7_probe: RegNetY-400MF's 440@7 grouped 3x3 layer (stride 1, pads 1, ReLU) as conv.c's
 * gc_task runs it at 1 thread (tc_gc8_direct_avx2 per group, the next AHEAD groups' weights
 * prefetched with hint HINT, conv.c's prefetch_l2 being AHEAD 1, HINT 2), with the weights,
 * the input x, the output y or all three flushed from the caches (clflush) before each call:
 * what each costs the layer when it comes from memory.  Minimum over 400 rounds, the thread's
 * CPU clock.  -DPFXY also prefetches the next group's x (read) and y (write).
 *   gcc -O3 -std=gnu11 -fno-strict-aliasing -mavx2 -mfma -Wno-unused-function -Icsrc \
 *       [-DAHEAD=1] [-DHINT=2] [-DPFXY] benchmarks/gc8_cold7_probe.c -o /tmp/gc8_cold7_probe
 * Measured (h43-rg, 2026-12-06 12:4x, Intel Xeon Sapphire Rapids class, KVM, AVX2, nice -20):
 * hot 31.0-32.7 us (the FMA loop alone ~95% of the FMA peak: 30.4-31.5 us with the
 * transposing stores left out, a timing probe; 2888 FMAs a group at 5.4-5.6 FMA/ns would be
 * 29.5), weights cold +6-9 us, x cold +3-4, y cold +3-4, all cold 43.3-47.8 (+12-13); the same
 * with AHEAD 0, 1, 3 or 8, HINT 2 or 3, or PFXY: software prefetch does not move it, and
 * loads instead of the prefetches (a read per line of the next 1 or 4 groups' weights) lose
 * (weights cold 45.9-49.6 us).  In the host's slow state (a run at 12:37): hot 41.3, weights
 * cold 50.5, all cold 61.2.  In the network (cold_steps.py --ort, 20 rounds) these steps
 * (block4-1..5's grouped layers) take 59-61 us against 42 warm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "conv_internal.h"
#include "depthwise_vec_avx2.h"
#include "grouped_body.h"
#include "grouped8_avx2.h"

#ifndef AHEAD
#define AHEAD 1
#endif
#ifndef HINT
#define HINT 2
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void flush(const void *p, size_t n)
{
    for (size_t o = 0; o < n; o += 64)
        _mm_clflush((const char *)p + o);
}

static void pf(const float *p, size_t n, int write)
{
    for (size_t o = 0; o < n * sizeof(float); o += 64) {
        if (write)
            __builtin_prefetch((const char *)p + o, 1, HINT);
        else
            __builtin_prefetch((const char *)p + o, 0, HINT);
    }
}

int main(void)
{
    enum { C = 440, G = C / 8, PLANE = 49, WG = 72 * 8 };
    const size_t nx = (size_t)C * PLANE;
    float *x = aligned_alloc(4096, nx * 4), *y = aligned_alloc(4096, nx * 4 + 64);
    float *w8 = aligned_alloc(4096, (size_t)C * 72 * 4), *bias = aligned_alloc(64, C * 4);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int i = 0; i < C * 72; i++)
        w8[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int i = 0; i < C; i++)
        bias[i] = 0.01f * i;
    tc_act_k act[8];
    for (int k = 0; k < 8; k++)
        act[k].kind = TC_ACT_RELU;
    static const char *names[] = {"hot", "weights cold", "x cold", "y cold", "all cold"};
    double best[5] = {1e9, 1e9, 1e9, 1e9, 1e9};
    for (int r = 0; r < 400; r++)
        for (int v = 0; v < 5; v++) {
            if (v == 1 || v == 4)
                flush(w8, (size_t)C * 72 * 4);
            if (v == 2 || v == 4)
                flush(x, nx * 4);
            if (v == 3 || v == 4)
                flush(y, nx * 4);
            _mm_mfence();
            const double t0 = now();
            for (int g = 0; g < G; g++) {
                for (int a = 1; a <= AHEAD; a++) /* at the first group all AHEAD, then the last */
                    if (g + a < G && (a == AHEAD || g == 0))
                        pf(w8 + (size_t)(g + a) * WG, WG, 0);
#ifdef PFXY
                if (g + 1 < G)
                    pf(x + (size_t)(g + 1) * 8 * PLANE, 8 * PLANE, 0),
                        pf(y + (size_t)(g + 1) * 8 * PLANE, 8 * PLANE, 1);
#endif
                tc_gc8_direct_avx2(x + (size_t)g * 8 * PLANE, NULL, 7, 7, 1, 1, 7, 7, PLANE,
                                   w8 + (size_t)g * WG, bias + g * 8, act,
                                   y + (size_t)g * 8 * PLANE, NULL, 0);
            }
            const double t = now() - t0;
            best[v] = t < best[v] ? t : best[v];
        }
    for (int v = 0; v < 5; v++)
        printf("AHEAD %d HINT %d%s  %-12s %6.1f us\n", AHEAD, HINT,
#ifdef PFXY
               " PFXY",
#else
               "",
#endif
               names[v], best[v] * 1e6);
    return 0;
}
