/* Two builds of tinycnn's C kernels on the same int8 1x1 convolutions (tc_qconv2d), alternating
 * in one process, thread CPU time: the A/B of an int8 GEMM change without Python or a rebuild of
 * the extension (pointwise_ab.c's float twin).  Synthetic data: 8-bit weights N(0, 1) scaled per
 * output channel to a largest |w| of 127 (as real per-channel weights: S16X2 where the network's
 * layers take it), inputs after a ReLU (zero point 0: 40% zeros, the rest |N(0, 60)| up to 255:
 * more bytes past U7S8's windows than the network's own) or around a mid-range zero point
 * (144 + N(0, 25)); the format chosen as tinycnn/ops/qmatmul.py does (U7S8 for more than 16
 * outputs and a zero point <= 32 or more than 32 channels, else tc_qgemm_choose_format_for's).
 * Reports the minima, the median of the rounds' B / A with its 25-75% range, and whether both
 * wrote the same bytes.  On the shared Zen 4 host (load 5-7) the ranges are +-3-5%: it finds
 * changes of 5% and more; smaller ones need qconv_layers.py in both orders (n26-qpw).
 *
 *   gcc -O2 -Icsrc benchmarks/qpw_ab.c -o /tmp/qpw_ab -ldl -lm
 *   /tmp/qpw_ab A.so B.so ROUNDS [C K HW ZP RES ...]   (RES 1: a fused residual add)
 * A.so / B.so: the files of csrc compiled as setup.py does plus -fPIC, linked with gcc -shared.
 * Without shapes: MobileNetV2's 1x1 layers from 112x112 to 28x28.
 * QPW_SPREAD=S and QPW_HOT=H (inputs around a zero point > 0: N(zp, S), default S = 25, and a
 * share H of the bytes at 0 or 255, default 0: the outliers U7S8 corrects row by row).
 * QPW_THREADS=N in the environment: each build runs on a pool of its own of N threads, timed
 * on the wall clock (the minimum then says most: a shared host preempts), a pause of 1 ms
 * between the builds' bursts so that the other pool's spinning worker has gone to sleep.
 * QPW_SWAP=1 (with QPW_THREADS=2): before each call, untimed, the pool writes the output in
 * swapped halves (the worker the first, the caller the second: lines the other core holds
 * modified, as where a network's arena hands a layer a buffer the other thread wrote last);
 * QPW_SWAP=2 copies the input back in swapped halves too.  Each call is then timed alone.
 * Measured (n31-q, 2026-12-04, Zen 4, AVX2 kernels, chrt -f 10, min of 40 rounds, load 5-6,
 * us, SWAP 0 / 1 / 2): 24 -> 144 at 56x56 (zp 144, S16X2) 92.8 / 101.8 / 104.5, 16 -> 96 at
 * 112x112 166.8 / 194.0 / 182.5, 96 -> 24 at 56x56 (U7S8) 59.2 / 57.5 / 63.3; a second run of
 * SWAP 0 / 1 alone: 81.6 / 81.2, 155.8 / 155.8.  In int8 MobileNetV2 at 2 threads the 56x56
 * expansions take 0.87 of their 1-thread time (24 -> 144: 155 -> 135 us, mt_inproc.py t1,t2
 * --fifo) where alone they take 0.55 (150.6 -> 83.2): the lines' owners explain at most a
 * tenth of that. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tinycnn.h"
#include "ab_clock.h"
#include "ab_dl.h"

typedef struct {
    int (*choose)(const tc_ctx *, int, int, const int16_t *, ptrdiff_t);
    size_t (*pack_size_for)(int, int, int, const int16_t *, ptrdiff_t);
    void (*pack)(int, int, int, const int16_t *, ptrdiff_t, void *);
    size_t (*ws_size)(const tc_ctx *, int, const tc_conv2d_params *, int, int, int);
    void (*conv)(const tc_ctx *, int, const tc_conv2d_params *, int, int, int, const void *, int,
                 int, const void *, const tc_qoutput *, void *, void *);
    void (*res_init)(tc_qresidual *, const tc_qbinary_params *, int);
    tc_pool *(*pool_create)(int);
    void (*parallel_for)(tc_pool *, ptrdiff_t, ptrdiff_t, tc_range_fn, void *);
    tc_ctx ctx;
} build;

/* QPW_SWAP=1: before each call the output is written by the build's pool in swapped halves
 * (chunk 0, the caller's, the second half of the bytes; chunk 1 the first), as in a network
 * where the arena gives this layer a buffer the other thread wrote last in the layer before */
typedef struct {
    char *y;
    size_t bytes;
    char *x;            /* QPW_SWAP=2: the input too, copied back from x0 in swapped halves */
    const char *x0;
    size_t xbytes;
} swap_job;

static void swap_writer(void *arg, int tid, ptrdiff_t i0, ptrdiff_t i1)
{
    const swap_job *j = arg;
    (void)tid;
    for (ptrdiff_t i = i0; i < i1; i++) {
        size_t h = j->bytes / 2, at = i == 0 ? h : 0, len = i == 0 ? j->bytes - h : h;
        memset(j->y + at, (int)i + 1, len);
        if (j->x) {
            h = j->xbytes / 2, at = i == 0 ? h : 0, len = i == 0 ? j->xbytes - h : h;
            memcpy(j->x + at, j->x0 + at, len);
        }
    }
}

static void load(build *b, const char *path)
{
    void *h = ab_open(path);
    *(void **)&b->choose = sym(h, "tc_qgemm_choose_format_for");
    *(void **)&b->pack_size_for = sym(h, "tc_qgemm_pack_size_for");
    *(void **)&b->pack = sym(h, "tc_qgemm_pack");
    *(void **)&b->ws_size = sym(h, "tc_qconv2d_workspace_size");
    *(void **)&b->conv = sym(h, "tc_qconv2d");
    *(void **)&b->res_init = sym(h, "tc_qresidual_init");
    *(void **)&b->pool_create = sym(h, "tc_pool_create");
    *(void **)&b->parallel_for = sym(h, "tc_parallel_for");
    const char *th = getenv("QPW_THREADS");
    ab_avx2(h, path, &b->ctx, th && atoi(th) > 1 ? b->pool_create(atoi(th)) : NULL);
}

static double gauss(void)
{
    double u = (rand() + 1.0) / (RAND_MAX + 2.0), v = (rand() + 1.0) / (RAND_MAX + 2.0);
    return sqrt(-2 * log(u)) * cos(6.283185307 * v);
}

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void layer(build *B, int rounds, int C, int K, int HW, int zp, int res)
{
    const int wall = B[0].ctx.pool != NULL;
    const int M = HW * HW, runs = 10;
    const char *sw = getenv("QPW_SWAP");
    const int swap = sw && B[0].ctx.pool ? atoi(sw) : 0;
    uint8_t *x = malloc((size_t)M * C), *r = malloc((size_t)M * K);
    int16_t *w = malloc((size_t)K * C * 2);
    int32_t *bias = malloc(K * 4);
    float *scale = malloc(K * 4);
    const char *sp = getenv("QPW_SPREAD"), *ht = getenv("QPW_HOT");
    const double spread = sp ? atof(sp) : 25, hot = ht ? atof(ht) : 0;
    for (size_t i = 0; i < (size_t)M * C; i++) {
        double v = zp == 0 ? (rand() % 10 < 4 ? 0 : fabs(gauss()) * 60) : zp + gauss() * spread;
        if (zp && hot > 0 && rand() < hot * RAND_MAX) /* an outlier at either end */
            v = rand() % 2 ? 255 : 0;
        x[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v));
    }
    for (size_t i = 0; i < (size_t)M * K; i++)
        r[i] = (uint8_t)(128 + gauss() * 20);
    uint8_t *x0 = malloc((size_t)M * C);
    memcpy(x0, x, (size_t)M * C);
    int wmin = 0, wmax = 0;
    double *g = malloc((size_t)C * sizeof(double));
    for (int k = 0; k < K; k++) { /* symmetric per channel: each channel's largest |w| 127 */
        double most = 1e-9;
        for (int c = 0; c < C; c++) {
            g[c] = gauss();
            most = fabs(g[c]) > most ? fabs(g[c]) : most;
        }
        for (int c = 0; c < C; c++) {
            int16_t v = (int16_t)lrint(g[c] / most * 127);
            w[k * C + c] = v;
            wmin = v < wmin ? v : wmin;
            wmax = v > wmax ? v : wmax;
        }
    }
    free(g);
    for (int k = 0; k < K; k++) {
        bias[k] = (rand() % 4000) - 2000;
        double spread = 0.5 + (rand() % 100) / 100.0;
        scale[k] = (float)(0.4 / (sqrt(C) * 30 * (zp ? 25 : 50)) * 255 * spread);
    }
    tc_conv2d_params p = {C, K, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    tc_qbinary_params qp;
    memset(&qp, 0, sizeof(qp));
    qp.a_scale = 0.05f; qp.b_scale = 0.04f; qp.y_scale = 0.06f;
    qp.a_zero_point = 128; qp.b_zero_point = 128; qp.y_zero_point = 128;
    tc_qresidual rs;
    B[0].res_init(&rs, &qp, 1);
    rs.r = r;
    tc_qoutput out = {TC_QOUT_U8, bias, scale, 1, res ? 128 : 0, 0, 255, res ? &rs : NULL, NULL};
    int fmt = B[0].choose(&B[0].ctx, C, K, w, C);
    if (fmt == TC_QFMT_S16X2 && K >= 17 && wmin >= -128 && wmax <= 127 && (zp <= 32 || C >= 33))
        fmt = TC_QFMT_U7S8;
    void *packed[2], *ws[2], *y[2];
    for (int b = 0; b < 2; b++) {
        packed[b] = aligned_alloc(64, (B[b].pack_size_for(fmt, C, K, w, C) + 63) / 64 * 64);
        B[b].pack(fmt, C, K, w, C, packed[b]);
        size_t wsz = B[b].ws_size(&B[b].ctx, fmt, &p, 1, HW, HW);
        ws[b] = aligned_alloc(64, (wsz + 63) / 64 * 64 + 64);
        y[b] = malloc((size_t)M * K);
    }
    double *ratio = malloc(rounds * sizeof(double)), best[2] = {1e9, 1e9};
    for (int i = 0; i < rounds; i++) {
        double t[2];
        for (int o = 0; o < 2; o++) {
            int b = (i + o) % 2;
            if (wall) {
                struct timespec pause = {0, 1000000};
                nanosleep(&pause, NULL);
            }
            double t0 = wall ? wall_now() : now();
            if (swap) {
                double sum = 0;
                for (int j = 0; j < runs; j++) {
                    swap_job sj = {y[b], (size_t)M * K, swap > 1 ? (char *)x : NULL, (const char *)x0,
                                   (size_t)M * C};
                    B[b].parallel_for(B[b].ctx.pool, 2, 1, swap_writer, &sj);
                    t0 = wall ? wall_now() : now();
                    B[b].conv(&B[b].ctx, fmt, &p, 1, HW, HW, x, 0, zp, packed[b], &out, y[b],
                              ws[b]);
                    sum += (wall ? wall_now() : now()) - t0;
                }
                t[b] = sum / runs;
            } else {
                for (int j = 0; j < runs; j++)
                    B[b].conv(&B[b].ctx, fmt, &p, 1, HW, HW, x, 0, zp, packed[b], &out, y[b],
                              ws[b]);
                t[b] = ((wall ? wall_now() : now()) - t0) / runs;
            }
            best[b] = t[b] < best[b] ? t[b] : best[b];
        }
        ratio[i] = t[1] / t[0];
    }
    qsort(ratio, rounds, sizeof(double), cmp);
    int same = !memcmp(y[0], y[1], (size_t)M * K);
    static const char *fn[] = {"s8x4", "s16x2", "u8s8x2", "u7s8"};
    printf("%4d -> %4d at %3dx%-3d zp %3d%s %-6s A %7.1f us  B %7.1f us (min)  "
           "B/A %.3f [%.3f-%.3f]  same=%d\n",
           C, K, HW, HW, zp, res ? " +res" : "     ", fmt >= 0 && fmt < 4 ? fn[fmt] : "?",
           best[0] * 1e6, best[1] * 1e6, ratio[rounds / 2], ratio[rounds / 4],
           ratio[rounds * 3 / 4], same);
    fflush(stdout);
    free(x); free(x0); free(r); free(w); free(bias); free(scale); free(ratio);
    for (int b = 0; b < 2; b++) {
        free(packed[b]); free(ws[b]); free(y[b]);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s A.so B.so ROUNDS [C K HW ZP RES ...]\n", argv[0]);
        return 1;
    }
    build B[2];
    load(&B[0], argv[1]);
    load(&B[1], argv[2]);
    int rounds = atoi(argv[3]);
    static const int def[][5] = {{32, 16, 112, 0, 0},  {16, 96, 112, 144, 0}, {96, 24, 56, 0, 0},
                                 {24, 144, 56, 144, 0}, {144, 24, 56, 0, 1},   {144, 32, 28, 0, 0},
                                 {32, 192, 28, 144, 0}, {192, 32, 28, 0, 1}};
    if (argc > 4) {
        for (int i = 4; i + 4 < argc; i += 5)
            layer(B, rounds, atoi(argv[i]), atoi(argv[i + 1]), atoi(argv[i + 2]), atoi(argv[i + 3]),
                  atoi(argv[i + 4]));
    } else {
        for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
            layer(B, rounds, def[i][0], def[i][1], def[i][2], def[i][3], def[i][4]);
    }
    return 0;
}
