/* The networks' max pools (tc_max_pool2d_f32, AVX2 kernels, 1 thread) of two builds against
 * each other in one process: per shape, rounds of CALLS calls of each build alternating (which
 * goes first flips every round), the thread's CPU time; prints both medians per call, the
 * per-round ratio b/a (median [25-75%]), the cycles per output row at GHZ (default 3.0) of B,
 * and whether the outputs are bit-identical (memcmp) on random data and on data sprinkled with
 * NaN, -inf, +inf and -0.  The builds are ab_so.sh's libraries (or the extensions' .so, with
 * libpython):
 *   benchmarks/ab_so.sh ../ref /tmp/a.so && benchmarks/ab_so.sh . /tmp/b.so
 *   gcc -O2 -Icsrc benchmarks/maxpool_ab.c -o /tmp/maxpool_ab -ldl
 *   /tmp/maxpool_ab /tmp/a.so /tmp/b.so [ROUNDS [CALLS [SHAPE]]]
 * SHAPE: one shape's name below (default all). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ab_dl.h"
#include "ab_clock.h"

typedef void (*maxpool_fn)(const tc_ctx *, const tc_pool2d_desc *, const float *, float *);

typedef struct {
    const char *name;
    tc_pool2d_desc d; /* nc h w oh ow kh kw sh sw pt pl pb pr dh dw */
} shape;

static const shape shapes[] = {
    /* SqueezeNet 1.1: the fused stem's band (3 pooled rows from 7), features.2 whole,
     * features.5 and .8 */
    {"sq.stem_band", {64, 7, 111, 3, 55, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1}},
    {"sq.band_L1", {4, 7, 111, 3, 55, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1}}, /* 12 KB: in L1 */
    {"sq.rows_L1", {1, 41, 111, 20, 55, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1}}, /* 18 KB, one plane */
    {"rows112_L1", {1, 41, 112, 20, 55, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1}}, /* rows of whole lines */
    {"sq.2", {64, 111, 111, 55, 55, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1}},
    {"sq.5", {128, 55, 55, 27, 27, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1}},
    {"sq.8", {256, 27, 27, 13, 13, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1}},
    {"sq.8_L1", {16, 27, 27, 13, 13, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1}},
    /* ResNet / ShuffleNetV2 stems' pools: 112 -> 56 pad 1 (ResNet's fused band: 2 pooled rows) */
    {"rn.stem_band", {64, 5, 112, 2, 56, 3, 3, 2, 2, 0, 1, 0, 1, 1, 1}},
    {"rn.pool", {64, 112, 112, 56, 56, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}},
    {"shuf.pool", {24, 112, 112, 56, 56, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}},
    /* GoogLeNet: ceil mode 3x3/2 pools, the 2x2/2, the inceptions' 3x3/1 pad 1 */
    {"g.stem_band", {64, 7, 112, 3, 56, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1}}, /* conv1's fused band */
    {"g.pool1", {64, 112, 112, 56, 56, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1}},
    {"g.pool2", {192, 56, 56, 28, 28, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1}},
    {"g.pool3", {480, 28, 28, 14, 14, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1}},
    {"g.pool4", {832, 14, 14, 7, 7, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1}},
    {"g.same28", {256, 28, 28, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}},
    {"g.same14", {512, 14, 14, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}},
    {"g.same7", {832, 7, 7, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}},
};

static void fill(float *x, size_t n, int special)
{
    static const float sp[] = {NAN, -INFINITY, INFINITY, -0.0f, 0.0f};
    for (size_t i = 0; i < n; i++) {
        x[i] = rand() / (float)RAND_MAX - 0.5f;
        if (special && rand() % 7 == 0)
            x[i] = sp[rand() % 5];
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s A.so B.so [ROUNDS [CALLS [SHAPE]]]\n", argv[0]);
        return 2;
    }
    const int R = argc > 3 ? atoi(argv[3]) : 41, calls = argc > 4 ? atoi(argv[4]) : 10;
    const char *only = argc > 5 ? argv[5] : NULL;
    const double ghz = getenv("GHZ") ? atof(getenv("GHZ")) : 3.0;
    ab_libpython();
    void *h[2] = {ab_open(argv[1]), ab_open(argv[2])};
    tc_ctx ctx[2];
    maxpool_fn f[2];
    for (int v = 0; v < 2; v++) {
        ab_avx2(h[v], argv[1 + v], &ctx[v], NULL);
        *(void **)&f[v] = sym(h[v], "tc_max_pool2d_f32");
    }
    double *t[2] = {malloc(R * sizeof(double)), malloc(R * sizeof(double))};
    double *r = malloc(R * sizeof(double));
    printf("%-13s %9s %9s  %-22s %8s  same\n", "shape", "A us", "B us", "B/A [25-75%]", "B cyc/row");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const tc_pool2d_desc *d = &shapes[s].d;
        if (only && strcmp(only, shapes[s].name))
            continue;
        const size_t nx = (size_t)d->nc * d->h * d->w, ny = (size_t)d->nc * d->oh * d->ow;
        float *x = aligned_alloc(64, (nx * 4 + 63) / 64 * 64);
        float *y[2] = {aligned_alloc(64, (ny * 4 + 63) / 64 * 64), aligned_alloc(64, (ny * 4 + 63) / 64 * 64)};
        int same = 1;
        for (int special = 0; special < 2; special++) {
            fill(x, nx, special);
            for (int v = 0; v < 2; v++) {
                memset(y[v], 0x55, ny * 4);
                f[v](&ctx[v], d, x, y[v]);
            }
            same &= !memcmp(y[0], y[1], ny * 4);
        }
        fill(x, nx, 0);
        for (int i = 0; i < R; i++)
            for (int k = 0; k < 2; k++) {
                const int v = (i & 1) ^ k;
                f[v](&ctx[v], d, x, y[v]);
                double t0 = now();
                for (int c = 0; c < calls; c++)
                    f[v](&ctx[v], d, x, y[v]);
                t[v][i] = (now() - t0) / calls;
            }
        ab_ratios(t[0], t[1], r, R);
        char rs[64];
        snprintf(rs, sizeof rs, "%.3f [%.3f-%.3f]", r[R / 2], r[R / 4], r[3 * R / 4]);
        printf("%-13s %9.2f %9.2f  %-22s %8.1f  %d\n", shapes[s].name, t[0][R / 2] * 1e6,
               t[1][R / 2] * 1e6, rs, t[1][R / 2] * ghz * 1e9 / ((double)d->nc * d->oh), same);
        free(x), free(y[0]), free(y[1]);
    }
    return 0;
}
