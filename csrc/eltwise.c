/* Element-wise unary and broadcasting binary operators.  The loops live in
 * eltwise_impl.h, compiled here for any CPU and in eltwise_avx2.c for AVX2. */
#include <math.h>
#include <string.h>
#include "tinycnn.h"
#include "eltwise_internal.h"
#include "eltwise_impl.h"
#include "epilogue.h"

/* ---- unary ------------------------------------------------------------- */

static void unary_run_portable(int op, float alpha, float beta, const float *x, float *y, ptrdiff_t n)
{
    unary_run_(op, alpha, beta, x, y, n);
}

typedef struct {
    int op;
    float alpha, beta;
    const float *x;
    float *y;
    const tc_eltwise_kernels *kern;
} unary_job;

static void unary_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const unary_job *jb = (const unary_job *)arg;
    (void)tid;
    jb->kern->unary_run(jb->op, jb->alpha, jb->beta, jb->x + begin, jb->y + begin, end - begin);
}

int tc_unary_f32(const tc_ctx *ctx, int op, float alpha, float beta, const float *x, float *y, ptrdiff_t n)
{
    unary_job jb = {op, alpha, beta, x, y, tc_eltwise_kernels_of(ctx)};
    if (op < 0 || op >= TC_UNARY_COUNT || n < 0)
        return -1;
    /* Transcendentals cost ~10x a relu: give them smaller grains. */
    ptrdiff_t grain = (op == TC_UNARY_RELU || op == TC_UNARY_NEG || op == TC_UNARY_ABS ||
                       op == TC_UNARY_CLIP || op == TC_UNARY_LEAKY_RELU)
                          ? TC_ELTWISE_GRAIN
                          : TC_ELTWISE_GRAIN / 8;
    if (n > 0)
        tc_parallel_for(ctx ? ctx->pool : NULL, n, grain, unary_range, &jb);
    return 0;
}

/* ---- strided plane copy ------------------------------------------------ */

typedef struct {
    ptrdiff_t n, y_stride;
    const float *x;
    float *y;
} copy_planes_job;

static void copy_planes_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const copy_planes_job *jb = (const copy_planes_job *)arg;
    (void)tid;
    for (ptrdiff_t i = begin; i < end; i++)
        memcpy(jb->y + i * jb->y_stride, jb->x + i * jb->n, (size_t)jb->n * sizeof(float));
}

void tc_copy_planes_f32(const tc_ctx *ctx, ptrdiff_t planes, ptrdiff_t n, const float *x, float *y,
                        ptrdiff_t y_stride)
{
    copy_planes_job jb = {n, y_stride, x, y};
    if (planes <= 0 || n <= 0)
        return;
    /* 32 KB a task at least.  s28 (Zen 4 guest, workers spinning through a run, a job's
     * start 0.3-0.6 us): in ShuffleNetV2 at 2 threads the 13 copies (45-180 KB: 58 planes of
     * 784 floats, 116 of 196, 232 of 49; 25-44 us each, their data cold) ran on one thread
     * with the old 256 KB grain, 378 us of a 3.1 ms run (benchmarks/pool_trace.py); split in
     * two they take 12-30 us.  ShuffleNetV2 2 threads in alternating processes
     * (benchmarks/pool_ab.py, nice -20, 30 rounds): new / old 0.969 [0.961-0.979] and 0.965
     * [0.938-1.017] (control 1.000 / 1.015); 64 KB tasks (the 45 KB copies still on one
     * thread) 0.972 / 0.969, 16 KB 0.960 (the same splits here); nice 0 beside load 0.968
     * [0.816-1.096] (control 1.009).  An earlier host found no gain at 64 KB (~4.4 us a copy,
     * a worker's wake-up as long). */
    const ptrdiff_t grain = ((ptrdiff_t)1 << 13) / n + 1;
    tc_parallel_for(ctx ? ctx->pool : NULL, planes, grain, copy_planes_range, &jb);
}

/* ---- binary ------------------------------------------------------------ */

static void binary_run_portable(int op, const float *a, int sa, const float *b, int sb, float *y,
                                ptrdiff_t n)
{
    binary_run_(op, a, sa, b, sb, y, n);
}

/* The portable twin of eltwise_avx2.c's: LRN with beta = 0.75 (norm.c). */
static void lrn_div_pow075_portable(const float *x, float *y, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        float r = sqrtf(y[i]);
        y[i] = x[i] / (r * sqrtf(r));
    }
}

static void mul_rows_portable(const float *x, const float *q, int q_first, float *y,
                              ptrdiff_t rows, ptrdiff_t n)
{
    for (ptrdiff_t r = 0; r < rows; r++)
        if (q_first)
            binary_run_portable(TC_BINARY_MUL, q + r, 0, x + r * n, 1, y + r * n, n);
        else
            binary_run_portable(TC_BINARY_MUL, x + r * n, 1, q + r, 0, y + r * n, n);
}

const tc_eltwise_kernels tc_eltwise_portable = {
    .binary_run = binary_run_portable,
    .unary_run = unary_run_portable,
    .lrn_div_pow075 = lrn_div_pow075_portable,
    .act_rows = tc_act_rows_f32,
    .mul_rows = mul_rows_portable,
};

/* After collapsing: dims[k] of y, with per-input strides in elements (0 where
 * broadcast).  The innermost dim has strides 0 or 1. */
typedef struct {
    int op, nd;
    /* 1: a Mul of rows by one value a row (nd == 2, one input [rows][n], the other [rows][1]),
     * run a whole number of rows per mul_rows call; 2: the same with a the per-row values */
    int rows_mul;
    const tc_eltwise_kernels *kern;
    ptrdiff_t dims[TC_MAX_DIMS];
    ptrdiff_t sa[TC_MAX_DIMS], sb[TC_MAX_DIMS];
    const float *a, *b;
    float *y;
} binary_job;

static void binary_run(const binary_job *jb, const float *a, const float *b, float *y, ptrdiff_t n)
{
    int sa = jb->sa[jb->nd - 1] != 0, sb = jb->sb[jb->nd - 1] != 0;
    jb->kern->binary_run(jb->op, a, sa, b, sb, y, n);
}

/* binary_range's per-row Mul (rows_mul): a part row at either end through binary_run, the
 * whole rows between in one mul_rows call */
static void mul_rows_range(const binary_job *jb, ptrdiff_t begin, ptrdiff_t end)
{
    const ptrdiff_t inner = jb->dims[1];
    const int qa = jb->rows_mul == 2; /* a holds the per-row values */
    const float *x = qa ? jb->b : jb->a, *q = qa ? jb->a : jb->b;
    ptrdiff_t i = begin, r = begin / inner, c = begin % inner;
    while (i < end) {
        if (c == 0 && end - i >= inner) {
            ptrdiff_t rows = (end - i) / inner;
            jb->kern->mul_rows(x + r * inner, q + r, qa, jb->y + i, rows, inner);
            i += rows * inner;
            r += rows;
            continue;
        }
        ptrdiff_t len = inner - c < end - i ? inner - c : end - i;
        if (qa)
            binary_run(jb, q + r, x + r * inner + c, jb->y + i, len);
        else
            binary_run(jb, x + r * inner + c, q + r, jb->y + i, len);
        i += len;
        r++;
        c = 0;
    }
}

/* Flat element range [begin, end) of y, walked row by row of the innermost dim. */
static void binary_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const binary_job *jb = (const binary_job *)arg;
    if (jb->rows_mul) {
        (void)tid;
        mul_rows_range(jb, begin, end);
        return;
    }
    const int nd = jb->nd;
    const ptrdiff_t inner = jb->dims[nd - 1];
    ptrdiff_t coord[TC_MAX_DIMS];
    ptrdiff_t oa = 0, ob = 0, rest = begin / inner, col = begin % inner;
    (void)tid;
    for (int k = nd - 2; k >= 0; k--) {
        coord[k] = rest % jb->dims[k];
        rest /= jb->dims[k];
        oa += coord[k] * jb->sa[k];
        ob += coord[k] * jb->sb[k];
    }
    ptrdiff_t i = begin;
    while (i < end) {
        ptrdiff_t len = inner - col;
        if (len > end - i)
            len = end - i;
        binary_run(jb, jb->a + oa + col * jb->sa[nd - 1], jb->b + ob + col * jb->sb[nd - 1], jb->y + i, len);
        i += len;
        col = 0;
        /* odometer step over the outer dims */
        for (int k = nd - 2; k >= 0; k--) {
            oa += jb->sa[k];
            ob += jb->sb[k];
            if (++coord[k] < jb->dims[k])
                break;
            oa -= coord[k] * jb->sa[k];
            ob -= coord[k] * jb->sb[k];
            coord[k] = 0;
        }
    }
}

int tc_binary_f32(const tc_ctx *ctx, int op, int ndim, const ptrdiff_t *y_shape, const float *a,
                  const ptrdiff_t *a_shape, const float *b, const ptrdiff_t *b_shape, float *y)
{
    binary_job jb;
    int fa[TC_MAX_DIMS], fb[TC_MAX_DIMS]; /* 1 where the input has the full dim */
    ptrdiff_t total = 1;
    int nd = 0;

    if (op < 0 || op >= TC_BINARY_COUNT || ndim < 0 || ndim > TC_MAX_DIMS)
        return -1;
    for (int k = 0; k < ndim; k++) {
        if (y_shape[k] < 0 || (a_shape[k] != 1 && a_shape[k] != y_shape[k]) ||
            (b_shape[k] != 1 && b_shape[k] != y_shape[k]))
            return -1;
        total *= y_shape[k];
    }
    if (total == 0)
        return 0;
    /* Drop dims of size 1, merge neighbours broadcast the same way in both inputs. */
    for (int k = 0; k < ndim; k++) {
        if (y_shape[k] == 1)
            continue;
        int ka = a_shape[k] != 1, kb = b_shape[k] != 1;
        if (nd > 0 && fa[nd - 1] == ka && fb[nd - 1] == kb) {
            jb.dims[nd - 1] *= y_shape[k];
        } else {
            jb.dims[nd] = y_shape[k];
            fa[nd] = ka;
            fb[nd] = kb;
            nd++;
        }
    }
    if (nd == 0) {
        jb.dims[0] = 1;
        fa[0] = fb[0] = 1;
        nd = 1;
    }
    ptrdiff_t ra = 1, rb = 1;
    for (int k = nd - 1; k >= 0; k--) {
        jb.sa[k] = fa[k] ? ra : 0;
        jb.sb[k] = fb[k] ? rb : 0;
        if (fa[k])
            ra *= jb.dims[k];
        if (fb[k])
            rb *= jb.dims[k];
    }
    jb.op = op;
    jb.kern = tc_eltwise_kernels_of(ctx);
    jb.nd = nd;
    /* A squeeze-and-excitation's scale, x [N, C, HW] * gate [N, C, 1]: rows of HW (49 at 7x7)
     * went one binary_run call each (~10 ns a row of call, switch and loop set-up beside a
     * 49-value row's ~5 ns of work; MobileNetV3-Large's 960 x 49 scale 10.6 us) */
    jb.rows_mul = 0;
    if (op == TC_BINARY_MUL && nd == 2 && jb.dims[1] > 1) {
        if (jb.sa[0] == jb.dims[1] && jb.sa[1] == 1 && jb.sb[0] == 1 && jb.sb[1] == 0)
            jb.rows_mul = 1;
        else if (jb.sb[0] == jb.dims[1] && jb.sb[1] == 1 && jb.sa[0] == 1 && jb.sa[1] == 0)
            jb.rows_mul = 2;
    }
    jb.a = a;
    jb.b = b;
    jb.y = y;
    /* A quarter of the unary grain: RegNetY-400MF's SE products (x * gate, 208 x 14 x 14 =
     * 40768 and 440 x 7 x 7 values) ran on one thread at 2 threads, 3.7 us each, 13 a run
     * (benchmarks/pool_trace.py, 2026-12-03); an empty region costs ~0.3 us. */
    ptrdiff_t grain = op == TC_BINARY_POW ? TC_ELTWISE_GRAIN / 8 : TC_ELTWISE_GRAIN / 4;
    tc_parallel_for(ctx ? ctx->pool : NULL, total, grain, binary_range, &jb);
    return 0;
}
