/* Pooling: max / average 2-D with explicit pads and dilations, global pools.
 * The plane kernels live in pool2d_impl.h, compiled here for any CPU and in
 * pool2d_avx2.c for AVX2. */
#include <float.h>
#include <math.h>
#include "tinycnn.h"
#include "pool2d_internal.h"
#include "pool2d_impl.h"

int tc_pool2d_check(const tc_pool2d_desc *d)
{
    if (!d || d->nc < 0 || d->h < 1 || d->w < 1 || d->oh < 0 || d->ow < 0 || d->kh < 1 || d->kw < 1 ||
        d->sh < 1 || d->sw < 1 || d->dh < 1 || d->dw < 1 || d->pad_t < 0 || d->pad_l < 0 ||
        d->pad_b < 0 || d->pad_r < 0)
        return -1;
    return 0;
}

/* Work per parallel item (one plane) decides how many planes a thread takes:
 * small tensors stay on one thread. */
ptrdiff_t tc_pool_grain_(ptrdiff_t work_per_plane)
{
    const ptrdiff_t target = 1 << 15;
    if (work_per_plane < 1)
        work_per_plane = 1;
    return work_per_plane >= target ? 1 : (target + work_per_plane - 1) / work_per_plane;
}

static void max_plane_portable(const tc_pool2d_desc *d, const float *x, float *y)
{
    pool_plane_(d, 1, 0, x, y);
}

static void avg_plane_portable(const tc_pool2d_desc *d, int count_include_pad, const float *x, float *y)
{
    pool_plane_(d, 0, count_include_pad, x, y);
}

typedef struct {
    const tc_pool2d_desc *d;
    const float *x;
    float *y;
    int count_include_pad;
    int is_max;
    const tc_pool2d_kernels *kern;
} pool_job;

/* Plane after plane, in order.  Tried (s12, 2026-12-01), reverted: bands of output rows
 * from the last band up, planes last to first, so as to read first what the producer wrote
 * last (still in L2) and leave LRU evicting lines already used.  SqueezeNet's stem pool
 * (64 x 111 x 111, 3x3/2) alone on freshly written inputs: 159 vs 141 us (slower), in the
 * network 221-246 vs 201-222 us: the in-network time is not L2 misses of the stem's output.
 * At 2 threads the planes are split (SqueezeNet's features.5 128 planes, features.8 256: one
 * contiguous half each), and those pools already scale as well as onnxruntime's (h39-sq,
 * 2026-12-06, Xeon KVM guest, AVX2 emulation, benchmarks/qsteps_mt.py --fifo --depth 2, 3 x
 * 150 runs, step minima: features.5 66 -> 48 us, onnxruntime 61 -> 57; features.8 29 -> 25,
 * onnxruntime 22 -> 28).  Tried and dropped (benchmarks/env_steps_ab.py --fifo against the base,
 * one session a process, step minima over 150 runs, bit-identical):
 * (1) bands of output rows, band t of every plane to thread t, so that each thread reads the
 * rows its half of the producer (the GEMM's column chunks, the Winograd's tile rows) wrote
 * and writes those the next squeeze's column chunks read (benchmarks/pool_row_bands.patch):
 * features.8 1.86, features.5 1.11 of their time (26 -> 49 us, 48 -> 54): each thread then
 * reads 1.5 KB pieces of each plane instead of one stream, and the two threads write a shared
 * cache line in every output plane (13x13: 256 of them);
 * (2) the next plane's first 4 KB prefetched (prefetcht1) before each plane, split jobs only
 * (benchmarks/pool_next_plane_pf.patch): SqueezeNet's features.8 0.81-0.85 (25 -> 21 us, three
 * runs, both orders), features.5 0.97-1.01, GoogLeNet's max pools 0.95-1.02, but
 * DenseNet-121's transition pools (2x2/2 average) 1.02-1.03, 1.00-1.09 and 1.16-1.26: ~5 us a
 * SqueezeNet run, below its noise, not kept. */
static void pool_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const pool_job *jb = (const pool_job *)arg;
    const tc_pool2d_desc *d = jb->d;
    const ptrdiff_t in_sz = (ptrdiff_t)d->h * d->w, out_sz = (ptrdiff_t)d->oh * d->ow;
    (void)tid;
    for (ptrdiff_t p = begin; p < end; p++) {
        const float *x = jb->x + p * in_sz;
        float *y = jb->y + p * out_sz;
        if (jb->is_max)
            jb->kern->max_plane(d, x, y);
        else
            jb->kern->avg_plane(d, jb->count_include_pad, x, y);
    }
}

static void pool_run(const tc_ctx *ctx, const tc_pool2d_desc *d, int is_max, int cip, const float *x, float *y)
{
    pool_job jb = {d, x, y, cip, is_max, tc_pool2d_kernels_of(ctx)};
    if (tc_pool2d_check(d) != 0 || d->nc == 0 || d->oh == 0 || d->ow == 0)
        return;
    ptrdiff_t work = (ptrdiff_t)d->oh * d->ow * d->kh * d->kw;
    tc_parallel_for(ctx ? ctx->pool : NULL, d->nc, tc_pool_grain_(work), pool_range, &jb);
}

void tc_max_pool2d_f32(const tc_ctx *ctx, const tc_pool2d_desc *d, const float *x, float *y)
{
    pool_run(ctx, d, 1, 0, x, y);
}

void tc_avg_pool2d_f32(const tc_ctx *ctx, const tc_pool2d_desc *d, int count_include_pad, const float *x,
                       float *y)
{
    pool_run(ctx, d, 0, count_include_pad != 0, x, y);
}

/* ---- global pools ------------------------------------------------------ */

typedef struct {
    const float *x;
    float *y;
    ptrdiff_t s;
    int is_max;
    const tc_pool2d_kernels *kern;
} gpool_job;

float tc_sum_f32_ref_(const float *x, ptrdiff_t n)
{
    /* Eight partial sums: vectorizable and a little more accurate.  From TC_SUM_WIDE_MIN
     * values, 32 over the blocks of 32 first (four independent chains of 8 lanes, paired
     * into the 8: a single chain waits on each add's latency), then the 8 over the rest. */
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    if (n >= TC_SUM_WIDE_MIN) {
        float w[32] = {0};
        for (; i + 32 <= n; i += 32)
            for (int k = 0; k < 32; k++)
                w[k] += x[i + k];
        for (int k = 0; k < 8; k++)
            acc[k] = (w[k] + w[8 + k]) + (w[16 + k] + w[24 + k]);
    }
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += x[i + k];
    for (; i < n; i++)
        acc[i & 7] += x[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

float tc_max_f32_ref_(const float *x, ptrdiff_t n)
{
    if (n == 0)
        return -FLT_MAX;
    float m = -INFINITY;
    for (ptrdiff_t i = 0; i < n; i++)
        m = m > x[i] ? m : x[i];
    return m;
}

static void gpool_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const gpool_job *jb = (const gpool_job *)arg;
    (void)tid;
    for (ptrdiff_t p = begin; p < end; p++) {
        const float *x = jb->x + p * jb->s;
        float r;
        if (jb->is_max) /* a sequential chain: the NaN rule depends on the order */
            r = tc_max_f32_ref_(x, jb->s);
        else
            r = jb->kern->sum(x, jb->s) / (float)jb->s;
        jb->y[p] = r;
    }
}

static void gpool_run(const tc_ctx *ctx, int is_max, ptrdiff_t nc, ptrdiff_t s, const float *x, float *y)
{
    gpool_job jb = {x, y, s, is_max, tc_pool2d_kernels_of(ctx)};
    if (nc <= 0)
        return;
    tc_parallel_for(ctx ? ctx->pool : NULL, nc, tc_pool_grain_(s), gpool_range, &jb);
}

void tc_global_avg_pool_f32(const tc_ctx *ctx, ptrdiff_t nc, ptrdiff_t s, const float *x, float *y)
{
    gpool_run(ctx, 0, nc, s, x, y);
}

void tc_global_max_pool_f32(const tc_ctx *ctx, ptrdiff_t nc, ptrdiff_t s, const float *x, float *y)
{
    gpool_run(ctx, 1, nc, s, x, y);
}

const tc_pool2d_kernels tc_pool2d_portable = {
    .max_plane = max_plane_portable,
    .avg_plane = avg_plane_portable,
    .sum = tc_sum_f32_ref_,
};
