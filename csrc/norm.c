/* Normalisations (BatchNormalization, LRN), softmax and reductions. */
#include <math.h>
#include "tinycnn.h"
#include "eltwise_internal.h"
#include "pool2d_internal.h"

static ptrdiff_t grain_for(ptrdiff_t work_per_item, ptrdiff_t target)
{
    if (work_per_item < 1)
        work_per_item = 1;
    return work_per_item >= target ? 1 : (target + work_per_item - 1) / work_per_item;
}

/* ---- BatchNormalization ----------------------------------------------- */

typedef struct {
    ptrdiff_t c, s;
    const float *x, *scale, *bias, *mean, *var;
    float eps;
    int relu;
    float *y;
} bn_job;

static void bn_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const bn_job *jb = (const bn_job *)arg;
    const ptrdiff_t nch = jb->c, s = jb->s; /* locals: y stores could alias *jb for the compiler */
    (void)tid;
    for (ptrdiff_t p = begin; p < end; p++) {
        ptrdiff_t ch = p % nch;
        /* y = x * k + t, folded per channel like onnxruntime */
        const float k = jb->scale[ch] / sqrtf(jb->var[ch] + jb->eps);
        const float t = jb->bias[ch] - jb->mean[ch] * k;
        const float *x = jb->x + p * s;
        float *y = jb->y + p * s;
        if (jb->relu) {
            /* DenseNet's norm + relu before each 1x1: one pass; v < 0 ? 0 : v as Relu (NaN kept) */
            for (ptrdiff_t i = 0; i < s; i++) {
                float v = x[i] * k + t;
                y[i] = v < 0.0f ? 0.0f : v;
            }
        } else {
            for (ptrdiff_t i = 0; i < s; i++)
                y[i] = x[i] * k + t;
        }
    }
}

void tc_batch_norm_f32(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s, const float *x,
                       const float *scale, const float *bias, const float *mean, const float *var,
                       float eps, float *y)
{
    tc_batch_norm_act_f32(ctx, n, c, s, x, scale, bias, mean, var, eps, 0, y);
}

void tc_batch_norm_act_f32(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s, const float *x,
                           const float *scale, const float *bias, const float *mean,
                           const float *var, float eps, int relu, float *y)
{
    bn_job jb = {c, s, x, scale, bias, mean, var, eps, relu != 0, y};
    if (n <= 0 || c <= 0 || s <= 0)
        return;
    tc_parallel_for(ctx ? ctx->pool : NULL, n * c, grain_for(s, TC_ELTWISE_GRAIN), bn_range, &jb);
}

/* ---- LRN --------------------------------------------------------------- */

typedef struct {
    ptrdiff_t c, s;
    int size;
    float alpha, beta, bias;
    const float *x;
    float *y;
    const tc_eltwise_kernels *kern;
} lrn_job;

static void lrn_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const lrn_job *jb = (const lrn_job *)arg;
    const ptrdiff_t s = jb->s, nch = jb->c;
    const int lo = (jb->size - 1) / 2, hi = jb->size - 1 - lo; /* floor, ceil of (size-1)/2 */
    const float a = jb->alpha / (float)jb->size, bias = jb->bias, beta = jb->beta;
    (void)tid;
    for (ptrdiff_t p = begin; p < end; p++) {
        ptrdiff_t ch = p % nch, img = p - ch;
        ptrdiff_t c0 = ch - lo < 0 ? 0 : ch - lo, c1 = ch + hi >= nch ? nch - 1 : ch + hi;
        float *restrict y = jb->y + p * s;
        /* y accumulates the square sum, then becomes the output */
        for (ptrdiff_t i = 0; i < s; i++)
            y[i] = 0.0f;
        for (ptrdiff_t cc = c0; cc <= c1; cc++) {
            const float *restrict xc = jb->x + (img + cc) * s;
            for (ptrdiff_t i = 0; i < s; i++)
                y[i] += xc[i] * xc[i];
        }
        const float *restrict x = jb->x + p * s;
        for (ptrdiff_t i = 0; i < s; i++)
            y[i] = bias + a * y[i];
        if (beta == 0.75f) {
            /* AlexNet's beta: d^-0.75 = 1 / (sqrt(d) * sqrt(sqrt(d))), ~10x cheaper than powf */
            jb->kern->lrn_div_pow075(x, y, s);
        } else {
            for (ptrdiff_t i = 0; i < s; i++)
                y[i] = x[i] * powf(y[i], -beta);
        }
    }
}

void tc_lrn_f32(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s, int size, float alpha, float beta,
                float bias, const float *x, float *y)
{
    lrn_job jb = {c, s, size, alpha, beta, bias, x, y, tc_eltwise_kernels_of(ctx)};
    if (n <= 0 || c <= 0 || s <= 0 || size < 1)
        return;
    tc_parallel_for(ctx ? ctx->pool : NULL, n * c, grain_for(s * (size + 8), TC_ELTWISE_GRAIN), lrn_range, &jb);
}

/* ---- Softmax / LogSoftmax ---------------------------------------------- */

#define SOFTMAX_CHUNK 64

typedef struct {
    ptrdiff_t n, inner, chunks;
    int log;
    const float *x;
    float *y;
} softmax_job;

/* One [n, w] slab, w <= SOFTMAX_CHUNK columns at stride `inner`.  Three
 * passes so that y may alias x: max, sum of exp, write. */
static void softmax_slab(const float *x, float *y, ptrdiff_t n, ptrdiff_t inner, ptrdiff_t w, int log)
{
    float m[SOFTMAX_CHUNK], s[SOFTMAX_CHUNK];
    for (ptrdiff_t j = 0; j < w; j++) {
        m[j] = x[j];
        s[j] = 0.0f;
    }
    for (ptrdiff_t k = 1; k < n; k++)
        for (ptrdiff_t j = 0; j < w; j++) {
            float v = x[k * inner + j];
            m[j] = v > m[j] ? v : m[j];
        }
    if (log) {
        for (ptrdiff_t k = 0; k < n; k++)
            for (ptrdiff_t j = 0; j < w; j++)
                s[j] += tc_expf_(x[k * inner + j] - m[j]);
        for (ptrdiff_t j = 0; j < w; j++)
            s[j] = logf(s[j]);
        /* (x - m) - log(s): folding m + log(s) first would lose the small results */
        for (ptrdiff_t k = 0; k < n; k++)
            for (ptrdiff_t j = 0; j < w; j++)
                y[k * inner + j] = (x[k * inner + j] - m[j]) - s[j];
    } else {
        for (ptrdiff_t k = 0; k < n; k++)
            for (ptrdiff_t j = 0; j < w; j++) {
                float e = tc_expf_(x[k * inner + j] - m[j]);
                y[k * inner + j] = e;
                s[j] += e;
            }
        for (ptrdiff_t j = 0; j < w; j++)
            s[j] = 1.0f / s[j];
        for (ptrdiff_t k = 0; k < n; k++)
            for (ptrdiff_t j = 0; j < w; j++)
                y[k * inner + j] *= s[j];
    }
}

/* One contiguous row (inner == 1): the common classifier case. */
static void softmax_row(const float *x, float *y, ptrdiff_t n, int log)
{
    float m = x[0], s = 0.0f;
    for (ptrdiff_t k = 1; k < n; k++)
        m = x[k] > m ? x[k] : m;
    if (log) {
        for (ptrdiff_t k = 0; k < n; k++)
            s += tc_expf_(x[k] - m);
        const float ls = logf(s);
        for (ptrdiff_t k = 0; k < n; k++)
            y[k] = (x[k] - m) - ls;
    } else {
        for (ptrdiff_t k = 0; k < n; k++) {
            float e = tc_expf_(x[k] - m);
            y[k] = e;
            s += e;
        }
        const float r = 1.0f / s;
        for (ptrdiff_t k = 0; k < n; k++)
            y[k] *= r;
    }
}

static void softmax_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const softmax_job *jb = (const softmax_job *)arg;
    (void)tid;
    if (jb->inner == 1) {
        for (ptrdiff_t o = begin; o < end; o++)
            softmax_row(jb->x + o * jb->n, jb->y + o * jb->n, jb->n, jb->log);
        return;
    }
    for (ptrdiff_t t = begin; t < end; t++) {
        ptrdiff_t o = t / jb->chunks, j0 = (t % jb->chunks) * SOFTMAX_CHUNK;
        ptrdiff_t w = jb->inner - j0 < SOFTMAX_CHUNK ? jb->inner - j0 : SOFTMAX_CHUNK;
        ptrdiff_t off = o * jb->n * jb->inner + j0;
        softmax_slab(jb->x + off, jb->y + off, jb->n, jb->inner, w, jb->log);
    }
}

void tc_softmax_f32(const tc_ctx *ctx, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, int log_softmax,
                    const float *x, float *y)
{
    softmax_job jb = {n, inner, (inner + SOFTMAX_CHUNK - 1) / SOFTMAX_CHUNK, log_softmax != 0, x, y};
    if (outer <= 0 || n <= 0 || inner <= 0)
        return;
    ptrdiff_t w = inner < SOFTMAX_CHUNK ? inner : SOFTMAX_CHUNK;
    tc_parallel_for(ctx ? ctx->pool : NULL, outer * jb.chunks, grain_for(n * w * 8, TC_ELTWISE_GRAIN),
                    softmax_range, &jb);
}

/* ---- Reductions over the middle axis ----------------------------------- */

/* Floats a thread reduces at least (h39-mt, 2026-12-06): a quarter of the element-wise grain, so
 * that MnasNet's ReduceMean (1280 planes of 7x7, 250 KB) is split at 2 threads.  On one thread it
 * took 14 us at 2 threads against 10 at 1 (env_steps_ab.py --fifo): half its input lay in the
 * other core's L2, written there by the 1x1 layer before it, whose row ranges split the channels
 * the same way (the first half the caller's) */
#define TC_REDUCE_GRAIN (TC_ELTWISE_GRAIN / 4)

typedef struct {
    int op;
    ptrdiff_t n, inner;
    const float *x;
    float *y;
    float (*sum)(const float *x, ptrdiff_t n); /* the ISA's, tc_sum_f32_ref_'s bits */
} reduce_job;

static void reduce_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const reduce_job *jb = (const reduce_job *)arg;
    const ptrdiff_t n = jb->n, inner = jb->inner;
    (void)tid;
    for (ptrdiff_t o = begin; o < end; o++) {
        const float *x = jb->x + o * n * inner;
        float *y = jb->y + o * inner;
        if (inner == 1 && (jb->op == TC_REDUCE_MEAN || jb->op == TC_REDUCE_SUM)) {
            float t = jb->sum(x, n); /* eight partial sums, shared with pooling */
            y[0] = jb->op == TC_REDUCE_MEAN ? t * (1.0f / (float)n) : t;
            continue;
        }
        switch (jb->op) {
        case TC_REDUCE_MEAN:
        case TC_REDUCE_SUM:
            for (ptrdiff_t j = 0; j < inner; j++)
                y[j] = 0.0f;
            for (ptrdiff_t k = 0; k < n; k++)
                for (ptrdiff_t j = 0; j < inner; j++)
                    y[j] += x[k * inner + j];
            if (jb->op == TC_REDUCE_MEAN) {
                const float r = 1.0f / (float)n;
                for (ptrdiff_t j = 0; j < inner; j++)
                    y[j] *= r;
            }
            break;
        case TC_REDUCE_MAX:
            for (ptrdiff_t j = 0; j < inner; j++)
                y[j] = -INFINITY;
            for (ptrdiff_t k = 0; k < n; k++)
                for (ptrdiff_t j = 0; j < inner; j++) {
                    float v = x[k * inner + j];
                    y[j] = v > y[j] ? v : y[j];
                }
            break;
        case TC_REDUCE_MIN:
            for (ptrdiff_t j = 0; j < inner; j++)
                y[j] = INFINITY;
            for (ptrdiff_t k = 0; k < n; k++)
                for (ptrdiff_t j = 0; j < inner; j++) {
                    float v = x[k * inner + j];
                    y[j] = v < y[j] ? v : y[j];
                }
            break;
        default:
            break;
        }
    }
}

int tc_reduce_f32(const tc_ctx *ctx, int op, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, const float *x,
                  float *y)
{
    reduce_job jb = {op, n, inner, x, y, tc_pool2d_kernels_of(ctx)->sum};
    if (op < 0 || op >= TC_REDUCE_COUNT || outer < 0 || n < 0 || inner < 0)
        return -1;
    if (outer == 0 || inner == 0)
        return 0;
    tc_parallel_for(ctx ? ctx->pool : NULL, outer, grain_for(n * inner, TC_REDUCE_GRAIN), reduce_range, &jb);
    return 0;
}
