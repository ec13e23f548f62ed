/* One RegNet grouped layer (batch 1, 3x3, pads 1, 8 channels per group, bias and ReLU) timed
 * with two checkouts' AVX2 grouped kernels in one process, alternating rounds on the thread's
 * CPU clock (benchmarks/gc_ab.sh builds it).  Each run is conv.c's gc_task at 1 thread: per
 * group, the copy of its inputs into the zero-padded phase planes, then its two blocks of 4
 * output channels (no means, no prefetch).  Prints both medians and GFLOP/s, the per-round
 * ratio b/a (median [25-75%]), the ratio of the minima, and whether the outputs are
 * bit-identical.  The whole-layer Python numbers stay the judge.
 *
 *     gc_ab C H STRIDE CALLS [ROUNDS]     (RegNetY-400MF: 48 112 2, 104 56 2, 104 28 1,
 *                                          208 28 2, 208 14 1, 440 14 2, 440 7 1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "conv_internal.h"
#include "ab_clock.h"

void pick_a(tc_gc_block_fn *block, tc_gc_copy_fn *copy);
void pick_b(tc_gc_block_fn *block, tc_gc_copy_fn *copy);

#define GW 8 /* channels per group */
#define KB 4 /* output channels per block (grouped_body.h's TC_GC_KB) */
#define NTAPS (GW * 9)

typedef struct {
    int C, h, w, s, OH, OW, hph, wph;
    ptrdiff_t taps[NTAPS];
} layer;

static void run(tc_gc_block_fn block, tc_gc_copy_fn copy, const layer *l, const float *x,
                const float *w, const float *bias, float *xg, float *y)
{
    const ptrdiff_t plane = (ptrdiff_t)l->OH * l->OW;
    tc_act_k acts[KB];
    for (int i = 0; i < KB; i++)
        acts[i] = tc_act_of(TC_ACT_RELU);
    for (int g = 0; g < l->C / GW; g++) {
        copy(x + (size_t)g * GW * l->h * l->w, GW, l->h, l->w, 1, 1, l->s, l->s, l->hph, l->wph,
             xg);
        for (int b = 0; b < GW / KB; b++) {
            const int k0 = g * GW + b * KB;
            block(xg, l->taps, NTAPS, l->wph, l->OH, l->OW, plane, w + (size_t)k0 * NTAPS, KB,
                  bias + k0, NULL, acts, y + (size_t)k0 * plane, NULL, 0);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: gc_ab C H STRIDE CALLS [ROUNDS]\n");
        return 2;
    }
    layer l;
    l.C = atoi(argv[1]) / GW * GW, l.h = l.w = atoi(argv[2]), l.s = atoi(argv[3]);
    const int calls = atoi(argv[4]), rounds = argc > 5 ? atoi(argv[5]) : 21;
    l.OH = l.OW = (l.h - 1) / l.s + 1;
    l.hph = (l.h + 2 + l.s - 1) / l.s, l.wph = (l.w + 2 + l.s - 1) / l.s;
    const size_t pplane = (size_t)l.hph * l.wph, cstride = pplane * l.s * l.s;
    int t = 0; /* conv.c grouped_run's tap offsets */
    for (int c = 0; c < GW; c++)
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++)
                l.taps[t++] = (ptrdiff_t)(c * cstride + ((ki % l.s) * l.s + kj % l.s) * pplane) +
                              (ki / l.s) * l.wph + kj / l.s;
    const size_t nx = (size_t)l.C * l.h * l.w, ny = (size_t)l.C * l.OH * l.OW;
    const size_t slot = GW * cstride + 64; /* and the slack a row's last vector reads */
    float *x = aligned_alloc(64, nx * 4 + 64), *w = aligned_alloc(64, (size_t)l.C * NTAPS * 4);
    float *bias = aligned_alloc(64, (size_t)l.C * 4 + 64);
    float *xa = calloc(slot, 4), *xb = calloc(slot, 4); /* the zeros stay: gc_copy's contract */
    float *ya = aligned_alloc(64, ny * 4 + 64), *yb = aligned_alloc(64, ny * 4 + 64);
    srand(1);
    for (size_t i = 0; i < nx; i++)
        x[i] = rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < (size_t)l.C * NTAPS; i++)
        w[i] = rand() / (float)RAND_MAX - 0.5f;
    for (int i = 0; i < l.C; i++)
        bias[i] = 0.1f * (i % 7) - 0.3f;
    tc_gc_block_fn ba, bb;
    tc_gc_copy_fn ca, cb;
    pick_a(&ba, &ca), pick_b(&bb, &cb);
    run(ba, ca, &l, x, w, bias, xa, ya), run(bb, cb, &l, x, w, bias, xb, yb);
    const int same = !memcmp(ya, yb, ny * 4);
    double *ta = malloc(rounds * sizeof(double)), *tb = malloc(rounds * sizeof(double)),
           *r = malloc(rounds * sizeof(double));
    for (int i = 0; i < rounds; i++) {
        const double t0 = now();
        for (int c = 0; c < calls; c++)
            run(ba, ca, &l, x, w, bias, xa, ya);
        const double t1 = now();
        for (int c = 0; c < calls; c++)
            run(bb, cb, &l, x, w, bias, xb, yb);
        const double t2 = now();
        ta[i] = (t1 - t0) / calls, tb[i] = (t2 - t1) / calls, r[i] = tb[i] / ta[i];
    }
    qsort(r, rounds, sizeof(double), cmp);
    qsort(ta, rounds, sizeof(double), cmp);
    qsort(tb, rounds, sizeof(double), cmp);
    const double ma = ta[rounds / 2], mb = tb[rounds / 2], flop = 2.0 * l.C * NTAPS * l.OH * l.OW;
    printf("%4d@%-3d s%d  a %7.1f us (%5.1f GFLOP/s)  b %7.1f us (%5.1f GFLOP/s)  b/a %.3f "
           "[%.3f-%.3f]  min %.3f  same=%d\n", l.C, l.h, l.s, ma * 1e6, flop / ma * 1e-9,
           mb * 1e6, flop / mb * 1e-9, r[rounds / 2], r[rounds / 4], r[3 * rounds / 4],
           tb[0] / ta[0], same);
    return 0;
}
