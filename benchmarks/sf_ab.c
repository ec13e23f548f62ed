/* Two or more builds of tinycnn's C kernels on the banded stem block (tc_stem_fused_f32: the RGB
 * stem 3x3/2 -> depthwise 3x3 -> projection 1x1 [+ the stem's output]) at 224x224, alternating in
 * one process, 1 thread, thread CPU time: the A/B of a change to csrc/stem_fused.c, the direct
 * stem (conv_stem_body.h, conv.c) or the GEMM tiles the projection runs, without Python or a
 * rebuild of the extension.  Before each timed call EVICT_MB (default 32) of other data are read,
 * as a network's weights evict its feed between runs (0: everything warm).  Synthetic weights;
 * per build min and median, and the median [25-75%] of the per-round ratios to A; whether every
 * build wrote A's bits.  SF_WARM (a sum): after the eviction read back 1 the input, 2 the
 * build's workspace, 4 its output (what the cold call pays for each).  Each build's csrc/ as
 * one shared library (benchmarks/ab_so.sh):
 *
 *   benchmarks/ab_so.sh ../ref /tmp/a.so; benchmarks/ab_so.sh . /tmp/b.so
 *   gcc -O2 -Icsrc -Ibenchmarks benchmarks/sf_ab.c -o /tmp/sf_ab -ldl
 *   /tmp/sf_ab /tmp/a.so /tmp/b.so [C.so ..] ROUNDS [EVICT_MB [K1 K2 RES ACT BAND ...]]
 * ACT: 0 none, 1 ReLU, 2 Clip(0, 6), 3 HardSwish (the stem's and the depthwise's).
 * Without shapes: MobileNetV2's / MnasNet's block (3 -> 32, 32 -> 16, Clip / ReLU, 12-row bands,
 * fused_ir.band_rows') and MobileNetV3-Large's (3 -> 16 HardSwish, 16 -> 16 + the stem's output,
 * the depthwise ReLU as its own: here the one ACT for both, 20-row bands). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tinycnn.h"
#include "ab_clock.h"
#include "ab_data.h"
#include "ab_dl.h"

typedef struct {
    size_t (*pack_size)(const tc_conv2d_params *, int);
    void (*pack)(const tc_ctx *, const tc_conv2d_params *, int, const float *, float *);
    size_t (*ws_size)(const tc_ctx *, const tc_ir_stage *, const tc_ir_stage *,
                      const tc_ir_stage *, int, int, int, int);
    void (*run)(const tc_ctx *, const tc_ir_stage *, const tc_ir_stage *, const tc_ir_stage *,
                int, int, int, int, int, const float *, float *, float *);
    tc_ctx ctx;
} build;

#define MAXB 8

static void load(build *b, const char *path)
{
    void *h = ab_open(path);
    *(void **)&b->pack_size = sym(h, "tc_conv2d_pack_size");
    *(void **)&b->pack = sym(h, "tc_conv2d_pack_f32");
    *(void **)&b->ws_size = sym(h, "tc_stem_fused_workspace_size");
    *(void **)&b->run = sym(h, "tc_stem_fused_f32");
    ab_avx2(h, path, &b->ctx, NULL);
}


/* K1 K2 RES ACT BAND */
static const int SHAPES[][5] = {{32, 16, 0, 2, 12}, {16, 16, 1, 3, 20}};

int main(int argc, char **argv)
{
    int nb = 0;
    while (1 + nb < argc && nb < MAXB && strstr(argv[1 + nb], ".so"))
        nb++;
    const int a0 = 2 + nb; /* ROUNDS */
    if (nb < 2 || argc <= a0 - 1 || (argc > a0 + 1 && (argc - a0 - 1) % 5)) {
        fprintf(stderr, "usage: %s A.so B.so [C.so ..] ROUNDS [EVICT_MB [K1 K2 RES ACT BAND ...]]\n",
                argv[0]);
        return 2;
    }
    ab_libpython(); /* for a build that is the extension itself */
    build B[MAXB];
    for (int b = 0; b < nb; b++)
        load(&B[b], argv[1 + b]);
    const int rounds = atoi(argv[a0 - 1]);
    const size_t evict = (size_t)(argc > a0 ? atoi(argv[a0]) : 32) << 20;
    const int warm = getenv("SF_WARM") ? atoi(getenv("SF_WARM")) : 0;
    char *junk = malloc(evict + 64);
    memset(junk, 1, evict + 64);
    volatile int sink = 0;
    const int ns = argc > a0 + 1 ? (argc - a0 - 1) / 5 : (int)(sizeof(SHAPES) / sizeof(SHAPES[0]));
    const int H = 224, SH = 112;
    for (int s = 0; s < ns; s++) {
        int v[5];
        for (int i = 0; i < 5; i++)
            v[i] = argc > a0 + 1 ? atoi(argv[a0 + 1 + 5 * s + i]) : SHAPES[s][i];
        const int K1 = v[0], K2 = v[1], res = v[2], band = v[4];
        static const tc_activation acts[4] = {{TC_ACT_NONE, 0, 0, NULL},
                                              {TC_ACT_RELU, 0, 0, NULL},
                                              {TC_ACT_CLIP, 0, 6, NULL},
                                              {TC_ACT_HARD_SWISH, 1.0f / 6, 0.5f, NULL}};
        const tc_activation *act = v[3] > 0 && v[3] < 4 ? &acts[v[3]] : NULL;
        tc_conv2d_params ps = {3, K1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1};
        tc_conv2d_params pd = {K1, K1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, K1};
        tc_conv2d_params pp = {K1, K2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
        srand(s + 1);
        float *w1 = rnd((size_t)K1 * 27, 0.5f), *w2 = rnd((size_t)K1 * 9, 0.5f);
        float *w3 = rnd((size_t)K1 * K2, 0.3f), *b1 = rnd(K1, 0.2f), *b2 = rnd(K1, 0.2f);
        float *b3 = rnd(K2, 0.2f), *x = rnd((size_t)3 * H * H, 2.0f);
        const size_t yn = (size_t)K2 * SH * SH;
        float *y[MAXB], *ws[MAXB];
        size_t wsn[MAXB];
        double *t[MAXB];
        tc_ir_stage st[MAXB][3];
        for (int b = 0; b < nb; b++) {
            const tc_conv2d_params *pv[3] = {&ps, &pd, &pp};
            const float *ww[3] = {w1, w2, w3}, *bb[3] = {b1, b2, b3};
            const int algo[3] = {TC_CONV_ALGO_STEM, TC_CONV_ALGO_DEPTHWISE, TC_CONV_ALGO_1X1};
            for (int i = 0; i < 3; i++) {
                float *pk = floats(B[b].pack_size(pv[i], algo[i]));
                B[b].pack(&B[b].ctx, pv[i], algo[i], ww[i], pk);
                st[b][i] = (tc_ir_stage){*pv[i], algo[i], pk, bb[i], i < 2 ? act : NULL};
            }
            const size_t n = B[b].ws_size(&B[b].ctx, &st[b][0], &st[b][1], &st[b][2], res, H, H, band);
            if (!n) {
                fprintf(stderr, "%s: the block does not apply\n", argv[1 + b]);
                return 1;
            }
            ws[b] = floats(n);
            wsn[b] = n;
            y[b] = floats(yn);
            t[b] = malloc(sizeof(double) * rounds);
        }
        for (int round = 0; round < rounds; round++)
            for (int i = 0; i < nb; i++) {
                const int b = round & 1 ? nb - 1 - i : i;
                for (size_t k = 0; k < evict; k += 64) /* read: clean lines, no write-back */
                    sink += junk[k];
                const float *back[3] = {x, ws[b], y[b]};
                const size_t backn[3] = {(size_t)3 * H * H, wsn[b], yn};
                for (int i = 0; i < 3; i++)
                    for (size_t k = 0; warm >> i & 1 && k < backn[i]; k += 16)
                        sink += back[i][k] > 0;
                const double t0 = now();
                B[b].run(&B[b].ctx, &st[b][0], &st[b][1], &st[b][2], res, 1, H, H, band, x, y[b],
                         ws[b]);
                t[b][round] = now() - t0;
            }
        printf("3-%d-%d%s act %d band %d, evict %zu MB, warm %d, %d rounds:", K1, K2,
               res ? " +res" : "", v[3], band, evict >> 20, warm, rounds);
        double *r = malloc(sizeof(double) * rounds);
        for (int b = 0; b < nb; b++) {
            const int same = !memcmp(y[0], y[b], sizeof(float) * yn);
            for (int i = 0; i < rounds; i++)
                r[i] = t[b][i] / t[0][i];
            qsort(r, rounds, sizeof(double), cmp);
            double *u = malloc(sizeof(double) * rounds);
            memcpy(u, t[b], sizeof(double) * rounds);
            qsort(u, rounds, sizeof(double), cmp);
            printf("  %c %.1f/%.1f us", 'A' + b, u[0] * 1e6, u[rounds / 2] * 1e6);
            if (b)
                printf(" (/A %.3f [%.3f-%.3f]%s)", r[rounds / 2], r[rounds / 4], r[3 * rounds / 4],
                       same ? "" : " DIFFERENT BITS");
            free(u);
        }
        free(r);
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
