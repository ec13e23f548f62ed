/* One depthwise layer (batch 1, pads k / 2) timed with two checkouts' AVX2 kernels in one
 * process, alternating rounds on the thread's CPU clock (benchmarks/dw_ab.sh builds it).  The
 * kernel is the one conv.c would run at 1 thread: the block kernel of the layer's pick, TC_DW_BLOCK
 * channels per call, else the plane kernel channel by channel.  Prints both medians, the
 * per-round ratio b/a (median [25-75%]), the ratio of the minima, and whether the outputs are
 * bit-identical.  Without the Python build (minutes on a loaded host) a change to the
 * depthwise headers is measured in seconds; the whole-layer Python numbers stay the judge.
 *
 *     dw_ab C H K STRIDE ACT CALLS [ROUNDS]    ACT: enum tc_act (0 none, 1 Relu, 2 Clip 0..6,
 *                                              6 HardSwish, 8 SiLU)
 * With DW_AB_SPLIT=1 in the environment, the column-split plane kernel (_split_pick: stride 2,
 * rows over 2 vectors; ir_fused.c's bands) on the same input read as column-split rows; with
 * DW_AB_ROWS=N, planes of N rows of H columns (a band's rows, as ir_fused.c calls it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "conv_internal.h"
#include "ab_clock.h"

tc_dw_block_fn pick_a(const tc_conv2d_params *p, int H, int W, int OH, int OW);
tc_dw_block_fn pick_b(const tc_conv2d_params *p, int H, int W, int OH, int OW);
tc_dw_plane_fn pickp_a(const tc_conv2d_params *p, int H, int W, int OH, int OW);
tc_dw_plane_fn pickp_b(const tc_conv2d_params *p, int H, int W, int OH, int OW);
tc_dw_plane_fn picks_a(const tc_conv2d_params *p, int H, int W, int OH, int OW);
tc_dw_plane_fn picks_b(const tc_conv2d_params *p, int H, int W, int OH, int OW);

typedef struct {
    tc_dw_block_fn block;
    tc_dw_plane_fn plane;
} kernel;

static void run(kernel k, const tc_conv2d_params *p, const float *x, int H, int W,
                const float *zrow, const float *w, const float *b, const tc_activation *act,
                int OH, int OW, float *y)
{
    const int C = p->C, kk = p->KH * p->KW;
    if (k.block) {
        for (int c0 = 0; c0 < C; c0 += TC_DW_BLOCK) {
            const int nc = C - c0 < TC_DW_BLOCK ? C - c0 : TC_DW_BLOCK;
            k.block(x + (size_t)c0 * H * W, H, W, w + (size_t)c0 * kk, p, b, NULL, act, c0, nc,
                    OH, OW, y + (size_t)c0 * OH * OW);
        }
        return;
    }
    for (int c = 0; c < C; c++)
        k.plane(x + (size_t)c * H * W, H, W, zrow, w + (size_t)c * kk, p, b[c], NULL,
                tc_act_at(act, c), OH, OW, y + (size_t)c * OH * OW);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: %s C H K STRIDE ACT CALLS [ROUNDS]\n", argv[0]);
        return 2;
    }
    const int C = atoi(argv[1]), k = atoi(argv[3]), s = atoi(argv[4]);
    int H = atoi(argv[2]);
    const int kind = atoi(argv[5]), calls = atoi(argv[6]), R = argc > 7 ? atoi(argv[7]) : 31;
    tc_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.C = p.K = p.group = C;
    p.KH = p.KW = k;
    p.sh = p.sw = s;
    p.dh = p.dw = 1;
    p.pt = p.pl = p.pb = p.pr = k / 2;
    const char *hrows = getenv("DW_AB_ROWS");
    const int W = H, OW = (W + 2 * (k / 2) - k) / s + 1;
    if (hrows && atoi(hrows) > 0)
        H = atoi(hrows);
    const int OH = (H + 2 * (k / 2) - k) / s + 1;
    const size_t nx = (size_t)C * H * W, ny = (size_t)C * OH * OW;
    float *x = malloc(nx * sizeof(float)), *w = malloc((size_t)C * k * k * sizeof(float));
    float *b = malloc(C * sizeof(float)), *zrow = calloc(W, sizeof(float));
    float *y[2] = {malloc(ny * sizeof(float)), malloc(ny * sizeof(float))};
    double *t[2] = {malloc(R * sizeof(double)), malloc(R * sizeof(double))};
    double *r = malloc(R * sizeof(double));
    srand(1);
    for (size_t i = 0; i < nx; i++)
        x[i] = rand() / (float)RAND_MAX - 0.5f;
    for (int i = 0; i < C * k * k; i++)
        w[i] = rand() / (float)RAND_MAX - 0.5f;
    for (int i = 0; i < C; i++)
        b[i] = rand() / (float)RAND_MAX;
    tc_activation act = {kind, 0.0f, 6.0f, NULL};
    if (kind == TC_ACT_HARD_SWISH)
        act.alpha = 1.0f / 6.0f, act.beta = 0.5f;
    kernel f[2] = {{pick_a(&p, H, W, OH, OW), pickp_a(&p, H, W, OH, OW)},
                   {pick_b(&p, H, W, OH, OW), pickp_b(&p, H, W, OH, OW)}};
    const char *split_env = getenv("DW_AB_SPLIT");
    const int split = split_env && atoi(split_env);
    if (split) {
        f[0].block = f[1].block = NULL;
        f[0].plane = picks_a(&p, H, W, OH, OW), f[1].plane = picks_b(&p, H, W, OH, OW);
        if (!f[0].plane || !f[1].plane) {
            fprintf(stderr, "no column-split kernel for this layer\n");
            return 2;
        }
    }
    for (int rep = 0; rep < R; rep++)
        for (int v = 0; v < 2; v++) {
            const double t0 = now();
            for (int it = 0; it < calls; it++)
                run(f[v], &p, x, H, W, zrow, w, b, &act, OH, OW, y[v]);
            t[v][rep] = (now() - t0) / calls;
        }
    ab_ratios(t[0], t[1], r, R);
    printf("%4d@%-3d k%d/%d act %d (%s)  a %.2f us  b %.2f us  b/a %.3f [%.3f-%.3f]  min %.3f  same=%d\n",
           C, H, k, s, kind, f[0].block ? "block" : split ? "split" : "plane", t[0][R / 2] * 1e6, t[1][R / 2] * 1e6,
           r[R / 2], r[R / 4], r[3 * R / 4], t[1][0] / t[0][0],
           !memcmp(y[0], y[1], ny * sizeof(float)));
    return 0;
}
