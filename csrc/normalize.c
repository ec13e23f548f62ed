/* Mean/variance normalisations: LayerNormalization, InstanceNormalization and
 * GroupNormalization are one kernel over independent rows, with a per-chunk
 * affine transform (tinycnn.h says how each op maps onto it).  The row loop
 * lives in normalize_impl.h, compiled here for any CPU and in normalize_avx2.c
 * for AVX2. */
#include "tinycnn.h"
#include "eltwise_internal.h"
#include "normalize_internal.h"
#include "normalize_impl.h"

const tc_normalize_kernels tc_normalize_portable = {normalize_row_};

typedef struct {
    ptrdiff_t s, chunk, period;
    tc_normalize_row_fn row;
    const float *x, *scale, *bias;
    float eps;
    float *y, *mean, *inv_std;
} normalize_job;

static void normalize_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const normalize_job *jb = (const normalize_job *)arg;
    const ptrdiff_t s = jb->s, per_row = s / jb->chunk;
    (void)tid;
    for (ptrdiff_t r = begin; r < end; r++) {
        const ptrdiff_t j0 = (r % jb->period) * per_row;
        const float *bias = jb->bias ? jb->bias + j0 : NULL;
        float m, inv;
        jb->row(jb->x + r * s, jb->y + r * s, s, jb->chunk, jb->scale + j0, bias, jb->eps, &m, &inv);
        if (jb->mean)
            jb->mean[r] = m;
        if (jb->inv_std)
            jb->inv_std[r] = inv;
    }
}

int tc_normalize_f32(const tc_ctx *ctx, ptrdiff_t rows, ptrdiff_t s, ptrdiff_t chunk, ptrdiff_t period,
                     const float *x, const float *scale, const float *bias, float eps, float *y, float *mean,
                     float *inv_std)
{
    normalize_job jb = {s, chunk, period, tc_normalize_kernels_of(ctx)->row, x, scale, bias, eps, y, mean,
                        inv_std};
    if (rows < 0 || s < 1 || chunk < 1 || s % chunk || period < 1 || !x || !scale || !y)
        return -1;
    if (rows == 0)
        return 0;
    ptrdiff_t grain = s >= TC_ELTWISE_GRAIN / 4 ? 1 : (TC_ELTWISE_GRAIN / 4 + s - 1) / s;
    tc_parallel_for(ctx ? ctx->pool : NULL, rows, grain, normalize_range, &jb);
    return 0;
}
