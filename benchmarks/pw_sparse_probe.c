/* The 1x1 projection of an inverted-residual block over a depthwise output with exact zeros
 * (after its ReLU: about half the values), dense (tc_conv2d_f32, TC_CONV_ALGO_1X1: the row GEMM)
 * against csrc/pw_sparse_avx2.c (the zeros' products skipped, the same FMA sequence otherwise),
 * one build, alternating by round (which goes first too), thread CPU time, 1 thread: the
 * medians of the per-round minima, their ratio sparse / dense [25-75%] and whether both wrote the
 * same bits.  The input's zero fraction is an argument (the measured networks' are printed by
 * benchmarks/relu_zeros.py).
 *   benchmarks/ab_so.sh . /tmp/tc_sp.so
 *   gcc -O2 -mavx2 -mfma -Icsrc benchmarks/pw_sparse_probe.c /tmp/tc_sp.so -o /tmp/pw_sparse_probe -lm
 *   LD_LIBRARY_PATH=/tmp /tmp/pw_sparse_probe E K2 H ZEROS RESIDUAL [CALLS ROUNDS]
 * e.g. MnasNet's layers.12.1 projection: pw_sparse_probe 1152 192 7 0.5 1
 * PW_COLD=1: 32 MB written before each call (the weights then come from memory). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tinycnn.h"
#include "ab_clock.h"

size_t tc_pw_sparse_pack_size(int K2, int E);
int tc_pw_sparse_pack(int K2, int E, const float *w, float *packed);
size_t tc_pw_sparse_ws_floats(int K2, int E, int n);
void tc_pw_sparse_avx2(int K2, int E, int n, const float *packed, const float *bias,
                       const tc_activation *act, const float *d, size_t ldd,
                       const float *residual, size_t ldr, float *y, size_t ldy, float *ws);

static double gauss(void)
{
    double u = (rand() + 1.0) / (RAND_MAX + 2.0), v = (rand() + 1.0) / (RAND_MAX + 2.0);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s E K2 H ZEROS RESIDUAL [CALLS ROUNDS]\n", argv[0]);
        return 2;
    }
    const int E = atoi(argv[1]), K2 = atoi(argv[2]), H = atoi(argv[3]);
    const double z = atof(argv[4]);
    const int res = atoi(argv[5]), calls = argc > 6 ? atoi(argv[6]) : 20;
    const int R = argc > 7 ? atoi(argv[7]) : 31, n = H * H;
    tc_ctx ctx;
    if (tc_ctx_init(&ctx, NULL, TC_ISA_AVX2)) {
        fprintf(stderr, "no AVX2\n");
        return 1;
    }
    tc_conv2d_params p = {E, K2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    float *d = malloc(sizeof(float) * E * n), *w = malloc(sizeof(float) * K2 * E);
    float *b = malloc(sizeof(float) * K2), *r = malloc(sizeof(float) * K2 * n);
    float *yd = malloc(sizeof(float) * K2 * n), *ys = malloc(sizeof(float) * K2 * n);
    size_t zeros = 0;
    for (int i = 0; i < E * n; i++) {
        const int zero = rand() < z * RAND_MAX;
        d[i] = zero ? 0.0f : (float)fabs(gauss());
        zeros += zero;
    }
    for (int i = 0; i < K2 * E; i++)
        w[i] = (float)(0.05 * gauss());
    for (int i = 0; i < K2; i++)
        b[i] = (float)(0.1 * gauss());
    for (int i = 0; i < K2 * n; i++)
        r[i] = (float)gauss();
    float *pd = malloc(sizeof(float) * tc_conv2d_pack_size(&p, TC_CONV_ALGO_1X1));
    tc_conv2d_pack_f32(&ctx, &p, TC_CONV_ALGO_1X1, w, pd);
    float *ps = aligned_alloc(64, (sizeof(float) * tc_pw_sparse_pack_size(K2, E) + 63) / 64 * 64);
    if (!tc_pw_sparse_pack(K2, E, w, ps))
        fprintf(stderr, "weights not finite\n");
    float *wsd = malloc(sizeof(float) * (tc_conv2d_workspace_size(&ctx, &p, TC_CONV_ALGO_1X1, 1, H, H) + 16));
    float *wss = malloc(sizeof(float) * tc_pw_sparse_ws_floats(K2, E, n));
    const float *rr = res ? r : NULL;
    double *ta = malloc(sizeof(double) * R), *tb = malloc(sizeof(double) * R),
           *rt = malloc(sizeof(double) * R);
    const int cold = getenv("PW_COLD") && atoi(getenv("PW_COLD"));
    const size_t junk_n = (size_t)8 << 20;
    float *junk = cold ? calloc(junk_n, sizeof(float)) : NULL;
    for (int round = 0; round < R; round++) {
        for (int o = 0; o < 2; o++) {
            const int sparse = (round + o) % 2;
            double best = 1e9;
            for (int c = 0; c < calls; c++) {
                if (cold) /* the caches flushed: the weights from memory, as in a network */
                    for (size_t i = 0; i < junk_n; i++)
                        junk[i] += 1.0f;
                const double t0 = now();
                if (sparse)
                    tc_pw_sparse_avx2(K2, E, n, ps, b, NULL, d, n, rr, n, ys, n, wss);
                else
                    tc_conv2d_f32(&ctx, &p, TC_CONV_ALGO_1X1, 1, H, H, d, pd, b, rr, NULL, yd,
                                  wsd);
                const double t = now() - t0;
                best = t < best ? t : best;
            }
            (sparse ? tb : ta)[round] = best;
        }
    }
    const int same = memcmp(yd, ys, sizeof(float) * K2 * n) == 0;
    double maxd = 0;
    for (int i = 0; i < K2 * n; i++)
        maxd = fmax(maxd, fabs(yd[i] - ys[i]));
    ab_ratios(ta, tb, rt, R);
    const double gf = 2.0 * E * K2 * n * 1e-9;
    printf("%d -> %d at %dx%d, zeros %.3f, residual %d: dense %.1f us (%.0f GF/s), sparse %.1f us, "
           "sparse/dense %.3f [%.3f-%.3f], bit-identical %d (max |diff| %.3g)\n",
           E, K2, H, H, (double)zeros / (E * n), res, ta[R / 2] * 1e6, gf / ta[R / 2],
           tb[R / 2] * 1e6, rt[R / 2], rt[R / 4], rt[3 * R / 4], same, maxd);
    return 0;
}
