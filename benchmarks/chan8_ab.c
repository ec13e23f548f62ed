/* The NHWC8 block's strips (csrc/ir_chan8_avx2.c tc_ir_chan8_strips_avx2: each 16-channel
 * strip's expansion into the depthwise's padded pixel buffers, then its depthwise) with two
 * checkouts' ir_chan8_avx2.c alternating in one process on the thread's CPU clock, 1 thread,
 * the whole map as one band (benchmarks/chan8_ab.sh builds it).  Random weights (the packed
 * layouts filled directly); prints both medians, the per-round ratio b/a (median [25-75%]), the
 * ratio of the minima and whether the depthwise outputs are bit-identical.  A change to the
 * chan8 kernels is measured in seconds without the Python build; the block in the network
 * (steps_ab.py) stays the judge.
 *
 *     chan8_ab E C H KC STRIDE ACT CALLS [ROUNDS]   ACT: enum tc_act (0 none, 1 Relu, 2 Clip
 *                                                   0..6, 6 HardSwish), both stages
 * e.g. MnasNet's layers.10.1 (80-480 at 14x14, 5x5, ReLU): chan8_ab 480 80 14 5 1 1 50 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "ab_clock.h"

typedef void (*strips_fn)(const tc_ctx *, const tc_ir_stage *, const tc_ir_stage *, int, int, int,
                          int, int, int, const float *, float *, float *, float *, int,
                          const char *, ptrdiff_t);
void strips_a(const tc_ctx *, const tc_ir_stage *, const tc_ir_stage *, int, int, int, int, int,
              int, const float *, float *, float *, float *, int, const char *, ptrdiff_t);
void strips_b(const tc_ctx *, const tc_ir_stage *, const tc_ir_stage *, int, int, int, int, int,
              int, const float *, float *, float *, float *, int, const char *, ptrdiff_t);

/* the strips' only call outside the file, with means (never here) */
void tc_fused_plane_means(const tc_ctx *ctx, const float *y, ptrdiff_t nplanes, size_t plane,
                          float *means)
{
    (void)ctx, (void)y, (void)nplanes, (void)plane, (void)means;
    abort();
}

static size_t up16(size_t v) { return (v + 15) & ~(size_t)15; }

static float frand(void) { return rand() / (float)RAND_MAX - 0.5f; }

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: %s E C H KC STRIDE ACT CALLS [ROUNDS]\n", argv[0]);
        return 2;
    }
    const int E = atoi(argv[1]), C = atoi(argv[2]), H = atoi(argv[3]), KC = atoi(argv[4]);
    const int s = atoi(argv[5]), kind = atoi(argv[6]), calls = atoi(argv[7]);
    const int R = argc > 8 ? atoi(argv[8]) : 31, W = H;
    const int OH = (H - 1) / s + 1, OW = (W - 1) / s + 1;
    const size_t n = (size_t)OH * OW, E16 = (size_t)(E + 15) / 16 * 16;
    tc_activation act = {kind, 0.0f, 6.0f, NULL};
    if (kind == TC_ACT_HARD_SWISH)
        act.alpha = 1.0f / 6.0f, act.beta = 0.5f;
    tc_ir_stage ex, dw;
    memset(&ex, 0, sizeof ex);
    memset(&dw, 0, sizeof dw);
    ex.p.C = C, ex.p.K = E, ex.p.KH = ex.p.KW = 1, ex.p.sh = ex.p.sw = 1, ex.p.dh = ex.p.dw = 1;
    ex.p.group = 1;
    dw.p.C = dw.p.K = dw.p.group = E, dw.p.KH = dw.p.KW = KC, dw.p.sh = dw.p.sw = s;
    dw.p.dh = dw.p.dw = 1, dw.p.pt = dw.p.pl = dw.p.pb = dw.p.pr = KC / 2;
    float *xa = malloc((size_t)C * H * W * sizeof(float));
    float *pa = calloc(E16 * C, sizeof(float)), *ba = malloc(E * sizeof(float));
    float *pd = malloc((size_t)E * KC * KC * sizeof(float)), *bd = malloc(E * sizeof(float));
    srand(1);
    for (size_t i = 0; i < (size_t)C * H * W; i++)
        xa[i] = frand();
    for (size_t m = 0; m < (size_t)E; m++) /* [strip][C][16], zeros past E */
        for (int c = 0; c < C; c++)
            pa[(m / 16) * 16 * C + (size_t)c * 16 + m % 16] = frand() * 0.3f;
    for (int i = 0; i < E; i++)
        ba[i] = frand(), bd[i] = frand();
    for (size_t i = 0; i < (size_t)E * KC * KC; i++)
        pd[i] = frand();
    ex.packed = pa, ex.bias = ba, ex.act = &act, ex.algo = TC_CONV_ALGO_1X1;
    dw.packed = pd, dw.bias = bd, dw.act = &act, dw.algo = TC_CONV_ALGO_DEPTHWISE;
    /* ir_fused.c chan8_slot_floats for the whole map */
    const size_t rows = (size_t)(OH - 1) * s + KC;
    const size_t bstride = (rows * (W + KC - 1) + 8 + 1) & ~(size_t)1;
    const size_t slot = up16(2 * bstride * 8 + ((n + 8 + 1) & ~(size_t)1) * 8 + up16(n + 8) +
                             up16(rows * W) + 16 + up16((size_t)C * rows * W));
    float *sl[2], *d[2];
    for (int v = 0; v < 2; v++) {
        sl[v] = aligned_alloc(64, up16(slot) * sizeof(float));
        d[v] = aligned_alloc(64, up16((size_t)E * n) * sizeof(float));
    }
    strips_fn f[2] = {strips_a, strips_b};
    tc_ctx serial;
    memset(&serial, 0, sizeof serial);
    double *t[2] = {malloc(R * sizeof(double)), malloc(R * sizeof(double))};
    double *r = malloc(R * sizeof(double));
    for (int v = 0; v < 2; v++)
        f[v](&serial, &ex, &dw, H, W, 0, OH, 0, E, xa, d[v], NULL, sl[v], 1, NULL, 0);
    for (int rep = 0; rep < R; rep++)
        for (int q = 0; q < 2; q++) {
            const int v = rep % 2 ? 1 - q : q; /* both orders */
            const double t0 = now();
            for (int it = 0; it < calls; it++)
                f[v](&serial, &ex, &dw, H, W, 0, OH, 0, E, xa, d[v], NULL, sl[v], 0, NULL, 0);
            t[v][rep] = (now() - t0) / calls;
        }
    ab_ratios(t[0], t[1], r, R);
    printf("%4d-%-4d@%-3d k%d/%d act %d  a %.2f us  b %.2f us  b/a %.3f [%.3f-%.3f]  min %.3f  "
           "same=%d\n", C, E, H, KC, s, kind, t[0][R / 2] * 1e6, t[1][R / 2] * 1e6, r[R / 2],
           r[R / 4], r[3 * R / 4], t[1][0] / t[0][0],
           !memcmp(d[0], d[1], (size_t)E * n * sizeof(float)));
    return 0;
}
