/* One RegNet grouped layer (batch 1, 3x3, pads 1, 8 channels per group, bias and ReLU) timed
 * with two checkouts' AVX2 grouped kernels in one process, alternating rounds on the thread's
 * CPU clock (benchmarks/gc_ab.sh builds it).  Each run is conv.c's gc_task at 1 thread: per
 * group, the copy of its inputs into the zero-padded phase planes, then its two blocks of 4
 * output channels (no means, no prefetch).  Prints both medians and GFLOP/s, the per-round
 * ratio b/a (median [25-75%]), the ratio of the minima, and whether the outputs are
 * bit-identical.  The whole-layer Python numbers stay the judge.  GC_AB_GC8=b: B runs its
 * channels-in-lanes kernel (csrc/grouped8_avx2.h: per group the copy into zero-padded planes,
 * then its 8 output channels at once) instead of its blocks; GC_AB_GC8=ab: A's and B's gc8.
 *
 *     gc_ab C H STRIDE CALLS [ROUNDS]     (RegNetY-400MF: 48 112 2, 104 56 2, 104 28 1,
 *                                          208 28 2, 208 14 1, 440 14 2, 440 7 1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "conv_internal.h"
#include "ab_clock.h"

typedef void (*ab_gc_block_fn)(const float *xg, const ptrdiff_t *taps, int ntaps, int wph, int OH,
                               int OW, ptrdiff_t ldy, const float *w, int nk, const float *bias,
                               const float *residual, const tc_act_k *act, float *y,
                               const char *pf, ptrdiff_t pf_lines); /* gc_ab_kernel.c's */
typedef void (*ab_gc8_fn)(const float *x, int h, int w, int s, int hp, int wp, float *xp,
                          const ptrdiff_t *taps, const float *w8, const float *bias,
                          const tc_act_k *act, float *y, int OH, int OW); /* gc_ab_kernel.c */
void pick_a(ab_gc_block_fn *block, tc_gc_copy_fn *copy, ab_gc8_fn *gc8);
void pick_b(ab_gc_block_fn *block, tc_gc_copy_fn *copy, ab_gc8_fn *gc8);

#define GW 8 /* channels per group */
#define KB 4 /* output channels per block (grouped_body.h's TC_GC_KB) */
#define NTAPS (GW * 9)

typedef struct {
    int C, h, w, s, OH, OW, hph, wph;
    ptrdiff_t taps[NTAPS];
    ptrdiff_t taps8[NTAPS]; /* gc8's: in the padded planes [8][h + 2][w + 2] */
    const float *w8;        /* gc8's weights: per group [72][8] */
    ab_gc8_fn gc8;          /* non-NULL: run each group by it */
} layer;

static void run(ab_gc_block_fn block, tc_gc_copy_fn copy, const layer *l, const float *x,
                const float *w, const float *bias, float *xg, float *y)
{
    const ptrdiff_t plane = (ptrdiff_t)l->OH * l->OW;
    tc_act_k acts[GW];
    for (int i = 0; i < GW; i++)
        acts[i] = tc_act_of(TC_ACT_RELU);
    for (int g = 0; g < l->C / GW && l->gc8; g++)
        l->gc8(x + (size_t)g * GW * l->h * l->w, l->h, l->w, l->s, l->h + 2, l->w + 2, xg,
               l->taps8, l->w8 + (size_t)g * GW * NTAPS, bias + g * GW, acts,
               y + (size_t)g * GW * plane, l->OH, l->OW);
    for (int g = 0; g < l->C / GW && !l->gc8; g++) {
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
            for (int kj = 0; kj < 3; kj++, t++) {
                l.taps8[t] = ((ptrdiff_t)c * (l.h + 2) + ki) * (l.w + 2) + kj;
                l.taps[t] = (ptrdiff_t)(c * cstride + ((ki % l.s) * l.s + kj % l.s) * pplane) +
                            (ki / l.s) * l.wph + kj / l.s;
            }
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
    float *w8 = aligned_alloc(64, (size_t)l.C * NTAPS * 4); /* per group [t][8] */
    for (int g = 0; g < l.C / GW; g++)
        for (int b = 0; b < GW / KB; b++)
            for (int tt = 0; tt < NTAPS; tt++)
                for (int j = 0; j < KB; j++)
                    w8[((size_t)g * NTAPS + tt) * GW + b * KB + j] =
                        w[((size_t)g * GW + b * KB) * NTAPS + tt * KB + j];
    ab_gc_block_fn ba, bb;
    tc_gc_copy_fn ca, cb;
    ab_gc8_fn ga, gb;
    pick_a(&ba, &ca, &ga), pick_b(&bb, &cb, &gb);
    layer la = l, lb = l;
    const char *gc8 = getenv("GC_AB_GC8");
    const int both = gc8 && !strcmp(gc8, "ab");
    la.gc8 = both ? ga : NULL, la.w8 = w8;
    lb.gc8 = gc8 ? gb : NULL, lb.w8 = w8;
    if (gc8 && (!gb || (both && !ga) || l.s > 2 || (l.OW != 7 && l.OW % 14))) {
        fprintf(stderr, "GC_AB_GC8: %s no gc8 kernel, or it does not take rows of %d\n",
                both ? "A or B has" : "B has", l.OW);
        return 2;
    }
    run(ba, ca, &la, x, w, bias, xa, ya), run(bb, cb, &lb, x, w, bias, xb, yb);
    const int same = !memcmp(ya, yb, ny * 4);
    double *ta = malloc(rounds * sizeof(double)), *tb = malloc(rounds * sizeof(double)),
           *r = malloc(rounds * sizeof(double));
    for (int i = 0; i < rounds; i++) {
        const double t0 = now();
        for (int c = 0; c < calls; c++)
            run(ba, ca, &la, x, w, bias, xa, ya);
        const double t1 = now();
        for (int c = 0; c < calls; c++)
            run(bb, cb, &lb, x, w, bias, xb, yb);
        const double t2 = now();
        ta[i] = (t1 - t0) / calls, tb[i] = (t2 - t1) / calls;
    }
    ab_ratios(ta, tb, r, rounds);
    const double ma = ta[rounds / 2], mb = tb[rounds / 2], flop = 2.0 * l.C * NTAPS * l.OH * l.OW;
    printf("%4d@%-3d s%d  a %7.1f us (%5.1f GFLOP/s)  b %7.1f us (%5.1f GFLOP/s)  b/a %.3f "
           "[%.3f-%.3f]  min %.3f  same=%d\n", l.C, l.h, l.s, ma * 1e6, flop / ma * 1e-9,
           mb * 1e6, flop / mb * 1e-9, r[rounds / 2], r[rounds / 4], r[3 * rounds / 4],
           tb[0] / ta[0], same);
    return 0;
}
