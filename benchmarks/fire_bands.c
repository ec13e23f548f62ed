/* fire_bands.c (h45-sq, 2026-12-06): what SqueezeNet's 55x55 fire modules (features.3 and .4:
 * 64 -> 16 -> 64 + 64, 128 -> 16 -> 64 + 64, ReLU) would gain at 2 threads if each thread's
 * share of every activation were its own contiguous tensor ("bands": rows [0, 28) and
 * [28, 55) each stored [C][rows][55] in a separate allocation, a 64 KiB gap between them)
 * instead of its half of every NCHW plane (csrc/threadpool.c, h36-2t: a core loses the lines
 * it wrote when the other core writes next to them, so today each step reads its input from
 * L3).  One build's real kernels (dlopen'ed _kernels*.so, AVX2), one pool of 2 threads,
 * alternating run by run in one process:
 *   planes: today's steps, tc_conv2d_f32 on the pool per layer (the planner's algorithms:
 *           1X1, Winograd F(4x4, 3x3) for the expand3x3s), the input written by rows of
 *           every plane as the stem + pool's bands write it (tc_parallel_for over rows);
 *   bands:  one tc_parallel_for of 2 ranges, each thread its band through both modules: the
 *           squeeze (tc_gemm_packed_a_f32, serial, the 1X1 algorithm's packed weights, the
 *           same GEMM op as the 1X1 path) into a [16][rows + 1][55] buffer whose extra row is
 *           the halo, a barrier, the other band's edge row copied in (16 x 55 floats), the
 *           expand1x1 and the expand3x3 (tc_conv2d_f32 serial, pads 1,0 / 0,1 at the cut:
 *           the same Winograd tiles as the whole map, 28 = 7 tile rows) into the band's
 *           Concat, the next squeeze from it without a barrier.
 * Both write the same bits (checked every run against the first planes run).  Printed: per
 * variant the minimum and median of the modules' wall time (from the prelude's end), per
 * step for planes; the median of per-round ratios bands / planes.
 *   gcc -O2 -mavx2 -mfma -Icsrc benchmarks/fire_bands.c -o /tmp/fire_bands -ldl -lpthread
 *   LD_LIBRARY_PATH=$(python -c "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))") \
 *     LD_PRELOAD=/work/main/exports/libcpuid_avx2.so chrt -f 10 /tmp/fire_bands \
 *     tinycnn/_kernels*.so [ROUNDS] [GAP_KB]
 * GAP_KB: the untouched gap between the two bands' allocations (default 64; 0: band 1's
 * tensors right after band 0's, one boundary each).  Environment switches:
 *   SWAP=1     each thread runs the other band's second module (its squeeze reads the Concat
 *              the other core wrote; one barrier more): the cross-core cost alone;
 *   XPLANES=1  the input stays as today's stem + pool writes it (each thread its rows of
 *              every NCHW plane), the bands' first squeeze reading it there (ldb H * W): what
 *              a fused pair of modules would gain without a banded stem;
 *   REAL=1     that without barriers inside a job (real_task1 / real_task2): two pool jobs,
 *              each band computing its first squeeze's halo row itself from the input;
 *   FIRE=27    features.6 + .7 instead (128 -> 32 -> 128 + 128, 256 -> 32 -> 128 + 128 at
 *              27x27; CUT=16 or 12: band 0's rows, whole F(4x4) tile rows).
 * Measured (h45-sq, 2026-12-06 18:4x-18:5x UTC, the Xeon KVM guest, ref45 = 7a9c84e's build,
 * chrt -f 10, 150-200 rounds a process, bits equal in every run; fma_peak beside 80-91 /
 * 160-178 GFLOP/s CPU, other helpers measuring).  Per-round ratio bands / planes (median;
 * ratio of minima in brackets), 55x55 pair, planes at 2 threads 0.80-0.85 ms (1 thread
 * 1.36-1.46: 1.70-1.73x), bands 0.69-0.75 ms (1.96x of planes at 1 thread):
 *   bands      0.866 0.868 0.871 0.867 0.878 0.873 0.884 (0.854-0.887): ~110 us a run
 *   SWAP=1     0.968 0.978 0.977 0.977 (0.965-0.978): reading the other core's Concat once
 *              gives back ~90 of the ~110 us: the gain is locality, not the fewer job ends
 *   GAP_KB 0   0.890 (0.884) in a slower spell
 *   XPLANES=1  0.892 0.920 0.890 0.897 0.902 0.898 (0.894-0.911)
 *   REAL=1     0.895 0.904 0.896 (0.882-0.905): ~85-90 us of ~0.86 ms
 * 27x27 pair (planes 0.66-0.72 ms at 2 threads, 1.80x over 1 thread already): bands CUT=12
 * 0.864 / 0.950, CUT=16 0.913; REAL=1 CUT=12 0.977 / 0.978, CUT=16 1.013; SWAP=1 1.084.
 * So a fused op for SqueezeNet's two 55x55 fire modules (REAL's two jobs: the first module
 * and the second squeeze per band into band-local buffers, then the halo rows and the second
 * module's expands into the Concat's planes) would take ~90 us off a 2-thread run of ~4.1-4.4
 * ms (~2%), the 27x27 pair ~15 us more: not 0.80 on its own.  To build on
 * benchmarks/fire_module.patch (one module per job, bands of whole tile rows, the halo
 * squeezed by each band, Winograd's output into the Concat's planes: tc_wg_f32_ldy), which
 * applies to 7a9c84e, builds and passes its 175 tests (native and TINYCNN_ISA=avx2); alone it
 * is still level at 2 threads (steps_ab.py --threads 2, chrt, 40 rounds, both orders:
 * features.3 0.948 / 0.949, features.4 1.073 / 1.067, runs 0.998 / 1.000).
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../benchmarks/ab_conv.h"

static int H = 55, W = 55, HW = 55 * 55, CUT = 28; /* FIRE=27: 27, 27, 729, CUT (16) */
static int C0 = 64, SQ = 16, E = 64; /* FIRE=27: 128, 32, 128 */

/* ab_conv.h's convolution entry points (b: its context is ctx_mt) and the GEMM's, the pool's */
typedef struct {
    build b;
    void (*gemm)(const tc_ctx *, int, int, int, const float *, const float *, ptrdiff_t, float *,
                 ptrdiff_t, int, const tc_epilogue *, float *);
    size_t (*gemm_ws)(const tc_ctx *);
    void (*pfor)(tc_pool *, ptrdiff_t, ptrdiff_t, tc_range_fn, void *);
} api;

static api A;
static tc_ctx ctx_mt, ctx_1;
static tc_activation relu = {TC_ACT_RELU, 0, 0, NULL};

typedef struct {
    int C, K, k3;
    float *packed, *bias;
} layer;

static layer mk(int C, int K, int k3, int algo)
{
    layer l = {C, K, k3, NULL, NULL};
    tc_conv2d_params p = {C, K, k3 ? 3 : 1, k3 ? 3 : 1, 1, 1, k3, k3, k3, k3, 1, 1, 1};
    float *w = malloc(sizeof(float) * (size_t)K * C * (k3 ? 9 : 1));
    for (size_t i = 0; i < (size_t)K * C * (k3 ? 9 : 1); i++)
        w[i] = ((float)rand() / RAND_MAX - 0.5f) * (k3 ? 0.2f : 0.5f);
    l.bias = malloc(sizeof(float) * K);
    for (int i = 0; i < K; i++)
        l.bias[i] = ((float)rand() / RAND_MAX - 0.3f) * 0.1f;
    l.packed = aligned_alloc(64, (A.b.pack_size(&p, algo) * sizeof(float) + 63) / 64 * 64);
    A.b.pack(&ctx_1, &p, algo, w, l.packed);
    free(w);
    return l;
}

static tc_conv2d_params prm(const layer *l, int pt, int pb)
{
    tc_conv2d_params p = {l->C, l->K, l->k3 ? 3 : 1, l->k3 ? 3 : 1, 1, 1, pt, l->k3, pb, l->k3,
                          1, 1, 1};
    return p;
}

enum { SQ1, E1A, E3A, SQ2, E1B, E3B, NL };
static layer L[NL];
static int algo3;
static float *src; /* [64][55][55] the modules' input */

/* planes */
static float *X, *S1, *CAT1, *S2, *CAT2, *ws_mt;

typedef struct {
    float *dst;
} rows_arg;

static void write_rows(void *arg, int tid, ptrdiff_t b, ptrdiff_t e)
{
    (void)arg, (void)tid;
    for (int c = 0; c < C0; c++)
        memcpy(X + (size_t)c * HW + b * W, src + (size_t)c * HW + b * W, sizeof(float) * (e - b) * W);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static const tc_ctx *cx = &ctx_mt;

static void run_planes(double *steps)
{
    A.pfor(cx->pool, H, 1, write_rows, NULL);
    double t[7];
    t[0] = now();
    tc_conv2d_params p;
    p = prm(&L[SQ1], 0, 0);
    A.b.conv(cx, &p, TC_CONV_ALGO_1X1, 1, H, W, X, L[SQ1].packed, L[SQ1].bias, NULL, &relu, S1, ws_mt);
    t[1] = now();
    p = prm(&L[E1A], 0, 0);
    A.b.conv(cx, &p, TC_CONV_ALGO_1X1, 1, H, W, S1, L[E1A].packed, L[E1A].bias, NULL, &relu, CAT1, ws_mt);
    t[2] = now();
    p = prm(&L[E3A], 1, 1);
    A.b.conv(cx, &p, algo3, 1, H, W, S1, L[E3A].packed, L[E3A].bias, NULL, &relu, CAT1 + E * HW, ws_mt);
    t[3] = now();
    p = prm(&L[SQ2], 0, 0);
    A.b.conv(cx, &p, TC_CONV_ALGO_1X1, 1, H, W, CAT1, L[SQ2].packed, L[SQ2].bias, NULL, &relu, S2, ws_mt);
    t[4] = now();
    p = prm(&L[E1B], 0, 0);
    A.b.conv(cx, &p, TC_CONV_ALGO_1X1, 1, H, W, S2, L[E1B].packed, L[E1B].bias, NULL, &relu, CAT2, ws_mt);
    t[5] = now();
    p = prm(&L[E3B], 1, 1);
    A.b.conv(cx, &p, algo3, 1, H, W, S2, L[E3B].packed, L[E3B].bias, NULL, &relu, CAT2 + E * HW, ws_mt);
    t[6] = now();
    for (int i = 0; i < 6; i++)
        steps[i] = t[i + 1] - t[i];
    steps[6] = t[6] - t[0];
}

/* bands */
typedef struct {
    int r0, h;
    float *X, *S1, *CAT1, *S2, *CAT2, *ws;
    char *mem;
} band;
static band B[2];
static volatile int bar_count, bar_sense;
static double band_t[2][3];
static int xplanes; /* XPLANES=1: the bands read the first squeeze's input from NCHW planes */
static int swap; /* SWAP=1: each thread runs the other band's second module */

static void barrier(int *local)
{
    *local = !*local;
    if (__atomic_add_fetch(&bar_count, 1, __ATOMIC_ACQ_REL) == 2) {
        __atomic_store_n(&bar_count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&bar_sense, *local, __ATOMIC_RELEASE);
    } else {
        long spins = 0;
        while (__atomic_load_n(&bar_sense, __ATOMIC_ACQUIRE) != *local)
            if (++spins > (1L << 20))
                sched_yield();
    }
}

/* the squeeze into s (own rows at row `off`, ldc (h + 1) * W) */
static void squeeze(const band *b, const layer *l, const float *x, float *s, int off)
{
    tc_epilogue e;
    memset(&e, 0, sizeof(e));
    e.bias = l->bias;
    e.act = relu;
    A.gemm(&ctx_1, l->K, b->h * W, l->C, l->packed, x, (ptrdiff_t)b->h * W, s + off * W,
           (ptrdiff_t)(b->h + 1) * W, 0, &e, b->ws);
}

static void halo(int i, float *s_own, float *s_other, int C)
{
    const band *b = &B[i], *o = &B[1 - i];
    /* band 0's halo: band 1's first row (row 1 of its buffer); band 1's: band 0's last */
    for (int c = 0; c < C; c++) {
        float *dst = s_own + (size_t)c * (b->h + 1) * W + (i == 0 ? b->h : 0) * W;
        const float *sr = s_other + (size_t)c * (o->h + 1) * W + (i == 0 ? 1 : o->h - 1) * W;
        memcpy(dst, sr, sizeof(float) * W);
    }
}

static void expand(const band *b, int i, const float *s, float *cat, const layer *l1, const layer *l3)
{
    tc_epilogue e;
    memset(&e, 0, sizeof(e));
    e.bias = l1->bias;
    e.act = relu;
    const float *own = s + (i == 1 ? W : 0);
    A.gemm(&ctx_1, l1->K, b->h * W, l1->C, l1->packed, own, (ptrdiff_t)(b->h + 1) * W, cat,
           (ptrdiff_t)b->h * W, 0, &e, b->ws);
    tc_conv2d_params p = prm(l3, i == 0 ? 1 : 0, i == 0 ? 0 : 1);
    A.b.conv(&ctx_1, &p, algo3, 1, b->h + 1, W, s, l3->packed, l3->bias, NULL, &relu,
           cat + (size_t)l1->K * b->h * W, b->ws);
}

static void band_task(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    (void)arg, (void)tid;
    if (end - begin != 1) {
        fprintf(stderr, "bands ran inline\n");
        exit(1);
    }
    int i = (int)begin, sense = bar_sense;
    band *b = &B[i];
    if (xplanes) /* the input as today's stem + pool leaves it: this band's rows of every plane */
        for (int c = 0; c < C0; c++)
            memcpy(X + (size_t)c * HW + b->r0 * W, src + (size_t)c * HW + b->r0 * W,
                   sizeof(float) * b->h * W);
    else
        for (int c = 0; c < C0; c++)
            memcpy(b->X + (size_t)c * b->h * W, src + (size_t)c * HW + b->r0 * W,
                   sizeof(float) * b->h * W);
    barrier(&sense);
    band_t[i][0] = now();
    if (xplanes) {
        tc_epilogue e;
        memset(&e, 0, sizeof(e));
        e.bias = L[SQ1].bias;
        e.act = relu;
        A.gemm(&ctx_1, SQ, b->h * W, C0, L[SQ1].packed, X + b->r0 * W, HW, b->S1 + (i == 1) * W,
               (ptrdiff_t)(b->h + 1) * W, 0, &e, b->ws);
    } else
        squeeze(b, &L[SQ1], b->X, b->S1, i == 1);
    barrier(&sense);
    halo(i, b->S1, B[1 - i].S1, SQ);
    expand(b, i, b->S1, b->CAT1, &L[E1A], &L[E3A]);
    if (swap) { /* the second module on the other band: its input from the other core */
        barrier(&sense);
        i = 1 - i;
        b = &B[i];
    }
    squeeze(b, &L[SQ2], b->CAT1, b->S2, i == 1);
    band_t[(int)begin][1] = now();
    barrier(&sense);
    halo(i, b->S2, B[1 - i].S2, SQ);
    expand(b, i, b->S2, b->CAT2, &L[E1B], &L[E3B]);
    band_t[(int)begin][2] = now();
    barrier(&sense);
}

/* REAL=1: no barrier inside a job, so no thread waits on another that the pool may not have
 * started (what a kernel in csrc/ could do): the input in NCHW planes (XPLANES), each band's
 * first squeeze also computing its halo row from it; job 1 the first module and the second
 * squeeze per band, job 2 the halo rows copied from the other band's squeeze and the second
 * module's expands.  Either job run inline (a busy pool) takes both bands in turn. */
static void real_task1(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    (void)arg, (void)tid;
    for (int i = (int)begin; i < end; i++) {
        band *b = &B[i];
        tc_epilogue e;
        memset(&e, 0, sizeof(e));
        e.bias = L[SQ1].bias;
        e.act = relu;
        A.gemm(&ctx_1, SQ, (b->h + 1) * W, C0, L[SQ1].packed, X + (b->r0 - (i == 1)) * W, HW,
               b->S1, (ptrdiff_t)(b->h + 1) * W, 0, &e, b->ws);
        expand(b, i, b->S1, b->CAT1, &L[E1A], &L[E3A]);
        squeeze(b, &L[SQ2], b->CAT1, b->S2, i == 1);
    }
}

static void real_task2(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    (void)arg, (void)tid;
    for (int i = (int)begin; i < end; i++) {
        band *b = &B[i];
        halo(i, b->S2, B[1 - i].S2, SQ);
        expand(b, i, b->S2, b->CAT2, &L[E1B], &L[E3B]);
    }
}

static int real;

static double run_bands(void)
{
    if (real) {
        A.pfor(ctx_mt.pool, H, 1, write_rows, NULL);
        double t0 = now();
        A.pfor(ctx_mt.pool, 2, 1, real_task1, NULL);
        A.pfor(ctx_mt.pool, 2, 1, real_task2, NULL);
        double t1 = now();
        band_t[0][0] = t0, band_t[0][1] = t0; /* no split time */
        return t1 - t0;
    }
    A.pfor(ctx_mt.pool, 2, 1, band_task, NULL);
    double t1 = band_t[0][2] > band_t[1][2] ? band_t[0][2] : band_t[1][2];
    double t0 = band_t[0][0] > band_t[1][0] ? band_t[0][0] : band_t[1][0];
    return t1 - t0;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double med(double *v, int n)
{
    double *c = malloc(sizeof(double) * n);
    memcpy(c, v, sizeof(double) * n);
    qsort(c, n, sizeof(double), cmpd);
    double m = c[n / 2];
    free(c);
    return m;
}

static double mn(double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s BUILD.so [ROUNDS] [GAP_KB]\n", argv[0]);
        return 1;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 200;
    size_t gap = (argc > 3 ? (size_t)atoi(argv[3]) : 64) * 1024;
    if (getenv("FIRE") && atoi(getenv("FIRE")) == 27) { /* features.6 + .7 */
        H = W = 27, HW = 729, C0 = 128, SQ = 32, E = 128;
        CUT = getenv("CUT") ? atoi(getenv("CUT")) : 16;
    }
    ab_libpython();
    load(&A.b, argv[1], 2);
    ctx_mt = A.b.ctx;
    void *h = ab_open(argv[1]); /* dlopen again: the same handle */
    *(void **)&A.gemm = sym(h, "tc_gemm_packed_a_f32");
    *(void **)&A.gemm_ws = sym(h, "tc_gemm_workspace_size");
    *(void **)&A.pfor = sym(h, "tc_parallel_for");
    ab_avx2(h, argv[1], &ctx_1, NULL);
    swap = getenv("SWAP") ? atoi(getenv("SWAP")) : 0;
    xplanes = getenv("XPLANES") ? atoi(getenv("XPLANES")) : 0;
    real = getenv("REAL") ? atoi(getenv("REAL")) : 0;
    algo3 = getenv("ALGO3") ? atoi(getenv("ALGO3")) : TC_CONV_ALGO_WINOGRAD_4X4_3X3;

    srand(45);
    L[SQ1] = mk(C0, SQ, 0, TC_CONV_ALGO_1X1);
    L[E1A] = mk(SQ, E, 0, TC_CONV_ALGO_1X1);
    L[E3A] = mk(SQ, E, 1, algo3);
    L[SQ2] = mk(2 * E, SQ, 0, TC_CONV_ALGO_1X1);
    L[E1B] = mk(SQ, E, 0, TC_CONV_ALGO_1X1);
    L[E3B] = mk(SQ, E, 1, algo3);

    src = aligned_alloc(64, sizeof(float) * C0 * HW);
    for (size_t i = 0; i < (size_t)C0 * HW; i++)
        src[i] = (float)rand() / RAND_MAX > 0.4f ? (float)rand() / RAND_MAX : 0.0f;

    size_t wsn = 0;
    for (int i = 0; i < NL; i++) {
        tc_conv2d_params p = prm(&L[i], L[i].k3, L[i].k3);
        for (int c = 0; c < 2; c++) {
            size_t n = A.b.ws_size(c ? &ctx_1 : &ctx_mt, &p, L[i].k3 ? algo3 : TC_CONV_ALGO_1X1, 1, H, W);
            wsn = n > wsn ? n : wsn;
        }
    }
    ws_mt = aligned_alloc(4096, (wsn * sizeof(float) + 4095) / 4096 * 4096 + 4096);
    X = aligned_alloc(4096, sizeof(float) * C0 * HW + 4096);
    S1 = aligned_alloc(4096, sizeof(float) * SQ * HW + 4096);
    CAT1 = aligned_alloc(4096, sizeof(float) * 2 * E * HW + 4096);
    S2 = aligned_alloc(4096, sizeof(float) * SQ * HW + 4096);
    CAT2 = aligned_alloc(4096, sizeof(float) * 2 * E * HW + 4096);

    /* bands: each band's tensors and workspace in one allocation, `gap` bytes between the two */
    size_t bws = 0;
    for (int i = 0; i < NL; i++) {
        tc_conv2d_params p = prm(&L[i], L[i].k3, 0);
        size_t n = A.b.ws_size(&ctx_1, &p, L[i].k3 ? algo3 : TC_CONV_ALGO_1X1, 1,
                                (CUT > H - CUT ? CUT : H - CUT) + 1, W);
        bws = n > bws ? n : bws;
    }
    size_t gws = A.gemm_ws(&ctx_1);
    bws = bws > gws ? bws : gws;
    size_t rup = 4096 / sizeof(float);
#define RUP(n) (((n) + rup - 1) / rup * rup)
    size_t per[2], total = 0;
    for (int i = 0; i < 2; i++) {
        int hb = i == 0 ? CUT : H - CUT;
        per[i] = RUP((size_t)C0 * hb * W) + 2 * RUP((size_t)SQ * (hb + 1) * W) +
                 2 * RUP((size_t)2 * E * hb * W) + RUP(bws);
        total += per[i];
    }
    char *mem = aligned_alloc(4096, total * sizeof(float) + gap + 4096);
    size_t off = 0;
    for (int i = 0; i < 2; i++) {
        band *b = &B[i];
        b->r0 = i == 0 ? 0 : CUT;
        b->h = i == 0 ? CUT : H - CUT;
        float *p = (float *)(mem + off);
        b->X = p; p += RUP((size_t)C0 * b->h * W);
        b->S1 = p; p += RUP((size_t)SQ * (b->h + 1) * W);
        b->S2 = p; p += RUP((size_t)SQ * (b->h + 1) * W);
        b->CAT1 = p; p += RUP((size_t)2 * E * b->h * W);
        b->CAT2 = p; p += RUP((size_t)2 * E * b->h * W);
        b->ws = p;
        off += per[i] * sizeof(float) + gap;
    }

    /* reference bits: planes, then bands compared per channel and row */
    double st[7];
    run_planes(st);
    float *ref = malloc(sizeof(float) * 2 * E * HW);
    memcpy(ref, CAT2, sizeof(float) * 2 * E * HW);
    double *t1 = malloc(sizeof(double) * rounds * 7), *tp = malloc(sizeof(double) * rounds * 7), *tb = malloc(sizeof(double) * rounds),
           *ratio = malloc(sizeof(double) * rounds), *half = malloc(sizeof(double) * rounds);
    long bad = 0;
    for (int r = -5; r < rounds; r++) {
        double s[7], bt;
        if (r & 1) {
            bt = run_bands();
            run_planes(s);
        } else {
            run_planes(s);
            bt = run_bands();
        }
        if (memcmp(ref, CAT2, sizeof(float) * 2 * E * HW))
            bad++;
        double s1[7];
        cx = &ctx_1;
        run_planes(s1);
        cx = &ctx_mt;
        if (memcmp(ref, CAT2, sizeof(float) * 2 * E * HW))
            bad++;
        for (int i = 0; i < 2; i++)
            for (int c = 0; c < 2 * E; c++)
                if (memcmp(B[i].CAT2 + (size_t)c * B[i].h * W, ref + (size_t)c * HW + B[i].r0 * W,
                           sizeof(float) * B[i].h * W))
                    bad++;
        if (r < 0)
            continue;
        memcpy(tp + r * 7, s, sizeof(s));
        memcpy(t1 + r * 7, s1, sizeof(s1));
        tb[r] = bt;
        ratio[r] = bt / s[6];
        half[r] = (band_t[0][1] - band_t[0][0]) / (s[0] + s[1] + s[2] + s[3]);
    }
    const char *names[7] = {"f3 squeeze", "f3 expand1x1", "f3 expand3x3", "f4 squeeze",
                            "f4 expand1x1", "f4 expand3x3", "modules"};
    printf("algo3 %d, %d rounds, gap %zu KB, swap %d, xplanes %d, real %d, mismatches %ld\n", algo3,
           rounds, gap / 1024, swap, xplanes, real, bad);
    printf("planes per step, min / median us, 2 threads; 1 thread\n");
    for (int i = 0; i < 7; i++) {
        double v[rounds], u[rounds];
        for (int r = 0; r < rounds; r++)
            v[r] = tp[r * 7 + i], u[r] = t1[r * 7 + i];
        printf("  %-13s %7.1f %7.1f; %7.1f %7.1f\n", names[i], 1e6 * mn(v, rounds),
               1e6 * med(v, rounds), 1e6 * mn(u, rounds), 1e6 * med(u, rounds));
    }
    printf("bands modules           %7.1f %7.1f\n", 1e6 * mn(tb, rounds), 1e6 * med(tb, rounds));
    double pm[rounds];
    for (int r = 0; r < rounds; r++)
        pm[r] = tp[r * 7 + 6];
    printf("bands / planes: median of per-round ratios %.3f, of minima %.3f; band 0's time to "
           "the f4 squeeze's end / planes' first four steps (median) %.3f\n",
           med(ratio, rounds), mn(tb, rounds) / mn(pm, rounds), med(half, rounds));
    return bad != 0;
}
