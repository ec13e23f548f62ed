/* Two builds of tinycnn's C kernels on the same banded inverted-residual block
 * (tc_ir_fused_f32: expansion 1x1 + ReLU -> depthwise + ReLU -> projection [+ residual]),
 * alternating in one process, thread CPU time, 1 thread: the A/B of a change to
 * csrc/ir_fused.c or the kernels it calls without Python or a rebuild of the extension.
 * Synthetic weights; reports min and median per build, B / A, and whether both wrote the same
 * bits.  Each build's csrc/ as one shared library (benchmarks/ab_so.sh; different paths):
 *
 *   benchmarks/ab_so.sh ../ref /tmp/a.so; benchmarks/ab_so.sh . /tmp/b.so
 *   gcc -O2 -Icsrc -Ibenchmarks benchmarks/ir_ab.c -o /tmp/ir_ab -ldl
 *   LD_LIBRARY_PATH=<libpython dir> /tmp/ir_ab /tmp/a.so /tmp/b.so [C.so ..] ROUNDS [C0 E K2 HW KS S BAND ...]
 * More builds (C.so ..) each against A.  AB_THREADS=2: a pool of 2 threads per build, wall
 * time, a 2 ms pause before each burst (the other builds' workers asleep).
 * Without shapes: MnasNet's layers.8.0 (16-48-24 at 112x112, 3x3/2, 4-row bands) and
 * MobileNetV3-Large's features.2 (16-64-24, 3x3/2, 4-row bands), both with ReLU. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "tinycnn.h"
#include "ab_clock.h"
#include "ab_data.h"
#include "ab_dl.h"

typedef struct {
    size_t (*pack_size)(const tc_conv2d_params *, int);
    void (*pack)(const tc_ctx *, const tc_conv2d_params *, int, const float *, float *);
    size_t (*ws_size)(const tc_ctx *, const tc_ir_stage *, const tc_ir_stage *,
                      const tc_ir_stage *, int, int, int);
    void (*run)(const tc_ctx *, const tc_ir_stage *, const tc_ir_stage *, const tc_ir_stage *,
                int, int, int, int, const float *, const float *, float *, float *);
    tc_ctx ctx;
} build;

#define MAXB 8
static int threads = 1; /* AB_THREADS: > 1, a pool per build and the wall clock */

static void load(build *b, const char *path)
{
    void *h = ab_open(path);
    *(void **)&b->pack_size = sym(h, "tc_conv2d_pack_size");
    *(void **)&b->pack = sym(h, "tc_conv2d_pack_f32");
    *(void **)&b->ws_size = sym(h, "tc_ir_fused_workspace_size");
    *(void **)&b->run = sym(h, "tc_ir_fused_f32");
    tc_pool *pool = NULL;
    if (threads > 1) {
        tc_pool *(*create)(int);
        *(void **)&create = sym(h, "tc_pool_create");
        pool = create(threads);
    }
    ab_avx2(h, path, &b->ctx, pool);
}

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}


static const int SHAPES[][7] = {{16, 48, 24, 112, 3, 2, 4}, {16, 64, 24, 112, 3, 2, 4}};

int main(int argc, char **argv)
{
    int nb = 0;
    while (1 + nb < argc && nb < MAXB && strstr(argv[1 + nb], ".so"))
        nb++;
    const int a0 = 2 + nb; /* first shape argument */
    if (nb < 2 || argc < a0 || (argc - a0) % 7) {
        fprintf(stderr, "usage: %s A.so B.so [C.so ..] ROUNDS [C0 E K2 HW KS S BAND ...]\n",
                argv[0]);
        return 2;
    }
    if (getenv("AB_THREADS"))
        threads = atoi(getenv("AB_THREADS"));
    ab_libpython(); /* for a build that is the extension itself */
    build B[MAXB];
    for (int b = 0; b < nb; b++)
        load(&B[b], argv[1 + b]);
    double (*clk)(void) = threads > 1 ? wall : now;
    const int rounds = atoi(argv[a0 - 1]), reps = 10;
    const int ns = argc > a0 ? (argc - a0) / 7 : (int)(sizeof(SHAPES) / sizeof(SHAPES[0]));
    for (int s = 0; s < ns; s++) {
        int v[7];
        for (int i = 0; i < 7; i++)
            v[i] = argc > a0 ? atoi(argv[a0 + 7 * s + i]) : SHAPES[s][i];
        const int C0 = v[0], E = v[1], K2 = v[2], H = v[3], KS = v[4], S = v[5], band = v[6];
        const int pad = KS / 2, OH = (H + 2 * pad - KS) / S + 1;
        tc_conv2d_params pe = {C0, E, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
        tc_conv2d_params pd = {E, E, KS, KS, S, S, pad, pad, pad, pad, 1, 1, E};
        tc_conv2d_params pp = {E, K2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
        srand(s + 1);
        float *we = rnd((size_t)C0 * E, 0.5f), *wd = rnd((size_t)E * KS * KS, 0.5f);
        float *wp = rnd((size_t)E * K2, 0.3f), *be = rnd(E, 0.2f), *bd = rnd(E, 0.2f);
        float *bp = rnd(K2, 0.2f), *x = rnd((size_t)C0 * H * H, 2.0f);
        float *res = S == 1 && C0 == K2 ? x : NULL;
        tc_activation relu = {TC_ACT_RELU, 0.0f, 0.0f, NULL};
        float *y[MAXB], *ws[MAXB];
        double *t[MAXB];
        tc_ir_stage st[MAXB][3];
        for (int b = 0; b < nb; b++) {
            float *pk[3];
            const tc_conv2d_params *ps[3] = {&pe, &pd, &pp};
            const float *ww[3] = {we, wd, wp}, *bb[3] = {be, bd, bp};
            const int algo[3] = {TC_CONV_ALGO_1X1, TC_CONV_ALGO_DEPTHWISE, TC_CONV_ALGO_1X1};
            for (int i = 0; i < 3; i++) {
                pk[i] = floats(B[b].pack_size(ps[i], algo[i]));
                B[b].pack(&B[b].ctx, ps[i], algo[i], ww[i], pk[i]);
                st[b][i] = (tc_ir_stage){*ps[i], algo[i], pk[i], bb[i], i < 2 ? &relu : NULL};
            }
            ws[b] = floats(B[b].ws_size(&B[b].ctx, &st[b][0], &st[b][1], &st[b][2], H, H, band));
            y[b] = floats((size_t)K2 * OH * OH);
            t[b] = malloc(sizeof(double) * rounds * reps);
        }
        for (int round = 0; round < rounds; round++)
            for (int i = 0; i < nb; i++) {
                const int b = round & 1 ? nb - 1 - i : i;
                if (threads > 1) /* the other pools' workers asleep */
                    usleep(2000);
                B[b].run(&B[b].ctx, &st[b][0], &st[b][1], &st[b][2], 1, H, H, band, x, res, y[b],
                         ws[b]);
                for (int rep = 0; rep < reps; rep++) {
                    const double t0 = clk();
                    B[b].run(&B[b].ctx, &st[b][0], &st[b][1], &st[b][2], 1, H, H, band, x, res,
                             y[b], ws[b]);
                    t[b][round * reps + rep] = clk() - t0;
                }
            }
        printf("%d-%d-%d @%d %dx%d/%d band %d, %d thread(s):", C0, E, K2, H, KS, KS, S, band,
               threads);
        double mn0 = 0, md0 = 0;
        for (int b = 0; b < nb; b++) {
            const int same = !memcmp(y[0], y[b], sizeof(float) * K2 * OH * OH);
            qsort(t[b], (size_t)rounds * reps, sizeof(double), cmp);
            const double mn = t[b][0], md = t[b][rounds * reps / 2];
            if (!b)
                mn0 = mn, md0 = md;
            printf("  %c %.1f/%.1f us", 'A' + b, mn * 1e6, md * 1e6);
            if (b)
                printf(" (/A min %.3f med %.3f%s)", mn / mn0, md / md0, same ? "" : " DIFFERENT BITS");
        }
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
