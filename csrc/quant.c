/* Quantized element-wise kernels, 8-bit pools and layout transposes (portable
 * C; quant_avx2.c has the AVX2 twins of the hot ones).  Every formula is
 * onnxruntime's, operation for operation (tinycnn.h says which). */
#include <string.h>
#include "quant_internal.h"
#include "qwinograd_internal.h"


/* ------------------------------------------------------------------------ */
/* QuantizeLinear, DequantizeLinear                                          */
/* ------------------------------------------------------------------------ */

static void quantize_run(const float *x, ptrdiff_t n, float scale, int zp, int lo, int hi,
                         int is_signed, void *y)
{
    const float flo = (float)(lo - zp), fhi = (float)(hi - zp);
    for (ptrdiff_t i = 0; i < n; i++)
        tc_q8_store(y, i, tc_rne(tc_clampf(x[i] / scale, flo, fhi)) + zp, is_signed);
}

typedef struct quantize_job {
    const tc_ctx *ctx;
    ptrdiff_t c, inner, n;  /* n: all elements; rows of `inner` (the last may be shorter) */
    const float *x, *scale;
    const int32_t *zp;
    int nscale, is_signed;
    void *y;
} quantize_job;

/* per-channel: row r is (outer, channel) = r; per-tensor: rows are chunks */
static void quantize_rows(void *arg, int tid, ptrdiff_t r0, ptrdiff_t r1)
{
    const quantize_job *jb = arg;
    (void)tid;
    const int lo = jb->is_signed ? -128 : 0, hi = jb->is_signed ? 127 : 255;
    for (ptrdiff_t r = r0; r < r1; r++) {
        int j = jb->nscale == 1 ? 0 : (int)(r % jb->c);
        ptrdiff_t i0 = r * jb->inner, len = jb->n - i0 < jb->inner ? jb->n - i0 : jb->inner;
        tc_quant_kernels_of(jb->ctx)->quantize_run(jb->x + i0, len, jb->scale[j], jb->zp[j], lo,
                                                   hi, jb->is_signed, (char *)jb->y + i0);
    }
}

int tc_quantize_f32(const tc_ctx *ctx, ptrdiff_t outer, ptrdiff_t c, ptrdiff_t inner,
                    const float *x, const float *scale, const int32_t *zero_point, int nscale,
                    int is_signed, void *y)
{
    if (outer < 0 || c < 1 || inner < 0 || (nscale != 1 && nscale != c))
        return -1;
    ptrdiff_t n = outer * c * inner;
    quantize_job jb = {ctx, c, inner, n, x, scale, zero_point, nscale, is_signed, y};
    if (n == 0)
        return 0;
    if (nscale == 1) /* per-tensor: chunks of 4096 */
        jb.inner = 4096;
    ptrdiff_t rows = (n + jb.inner - 1) / jb.inner;
    /* A network's input quantization is a run's first job: in profiled runs at 2 threads it
     * takes longer than at 1 (MobileNetV2 int8 0.062 -> 0.104 ms, ResNet-50 int8 0.069 ->
     * 0.105; Zen 3 native, under chrt), likely the worker waking after the gap between runs.
     * Kept threaded: on one thread it took 0.063, but the stem after it 0.45 in place of 0.40
     * and the next layer 0.29 in place of 0.27, the three steps 0.946 against 0.911 ms
     * (MobileNetV2 int8, 2 threads, one process, 20 x 5 runs; n25-q2t). */
    tc_parallel_for(ctx ? ctx->pool : NULL, rows, jb.inner >= 4096 ? 1 : 4096 / jb.inner + 1,
                    quantize_rows, &jb);
    return 0;
}

typedef struct dequantize_job {
    ptrdiff_t c, inner;
    const void *x;
    int elem_bytes, is_signed;
    const float *scale;
    const int32_t *zp;
    int nscale;
    float *y;
} dequantize_job;

static void dequantize_rows(void *arg, int tid, ptrdiff_t r0, ptrdiff_t r1)
{
    const dequantize_job *jb = arg;
    (void)tid;
    for (ptrdiff_t r = r0; r < r1; r++) {
        int j = jb->nscale == 1 ? 0 : (int)(r % jb->c);
        const float s = jb->scale[j];
        const int32_t zp = jb->zp[j];
        float *y = jb->y + r * jb->inner;
        if (jb->elem_bytes == 4) {
            const int32_t *x = (const int32_t *)jb->x + r * jb->inner;
            for (ptrdiff_t i = 0; i < jb->inner; i++)
                y[i] = (float)(int32_t)((uint32_t)x[i] - (uint32_t)zp) * s;
        } else {
            const char *x = (const char *)jb->x + r * jb->inner;
            for (ptrdiff_t i = 0; i < jb->inner; i++)
                y[i] = (float)(tc_q8_load(x, i, jb->is_signed) - zp) * s;
        }
    }
}

int tc_dequantize_f32(const tc_ctx *ctx, ptrdiff_t outer, ptrdiff_t c, ptrdiff_t inner,
                      const void *x, int elem_bytes, int is_signed, const float *scale,
                      const int32_t *zero_point, int nscale, float *y)
{
    if (outer < 0 || c < 1 || inner < 0 || (nscale != 1 && nscale != c) ||
        (elem_bytes != 1 && elem_bytes != 4))
        return -1;
    dequantize_job jb = {c, inner, x, elem_bytes, is_signed, scale, zero_point, nscale, y};
    if (nscale == 1) {
        jb.c = 1;
        jb.inner = outer * c * inner;
        dequantize_rows(&jb, 0, 0, 1);
        return 0;
    }
    tc_parallel_for(ctx ? ctx->pool : NULL, outer * c, inner >= 4096 ? 1 : 4096 / (inner + 1) + 1,
                    dequantize_rows, &jb);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* QLinearAdd, QLinearMul                                                    */
/* ------------------------------------------------------------------------ */

void tc_qadd_run(const tc_qbinary_params *p, const void *a, int a_scalar, const void *b,
                 int b_scalar, void *y, ptrdiff_t n)
{
    float ra, rb;
    const float fixed = tc_qadd_fixed(p, (float)tc_q8_load(a, 0, p->is_signed), a_scalar,
                                      (float)tc_q8_load(b, 0, p->is_signed), b_scalar, &ra, &rb);
    const int lo = p->is_signed ? -128 : 0, hi = p->is_signed ? 127 : 255;
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = fixed;
        if (!b_scalar)
            v = fmaf((float)tc_q8_load(b, i, p->is_signed), rb, v);
        if (!a_scalar)
            v = fmaf((float)tc_q8_load(a, i, p->is_signed), ra, v);
        /* cvtps2dq, then packs to 16 and 8 bits with saturation */
        tc_q8_store(y, i, tc_sat(tc_rne(tc_clampf(v, -2147483520.0f, 2147483520.0f)), lo, hi),
                    p->is_signed);
    }
}

void tc_qresidual_init(tc_qresidual *res, const tc_qbinary_params *p, int q_is_a)
{
    res->r = NULL;
    res->q_is_a = q_is_a;
    res->fixed = tc_qadd_fixed(p, 0.0f, 0, 0.0f, 0, &res->ra, &res->rb);
}

/* the float product rounded, then the zero point added (two roundings, no FMA) */
void tc_qmul_run(const tc_qbinary_params *p, const void *a, const void *b, int b_scalar,
                 void *y, ptrdiff_t n)
{
    const float r = p->a_scale * p->b_scale / p->y_scale;
    const float zc = (float)p->y_zero_point;
    const int lo = p->is_signed ? -128 : 0, hi = p->is_signed ? 127 : 255;
    for (ptrdiff_t i = 0; i < n; i++) {
        int32_t va = tc_q8_load(a, i, p->is_signed) - p->a_zero_point;
        int32_t vb = tc_q8_load(b, b_scalar ? 0 : i, p->is_signed) - p->b_zero_point;
        float v = (float)(va * vb) * r + zc;
        tc_q8_store(y, i, tc_sat(tc_rne(tc_clampf(v, -2147483520.0f, 2147483520.0f)), lo, hi),
                    p->is_signed);
    }
}

typedef struct qbinary_job {
    const tc_ctx *ctx;
    const tc_qbinary_params *p;
    int nd;
    ptrdiff_t shape[TC_MAX_DIMS], sa[TC_MAX_DIMS], sb[TC_MAX_DIMS];
    const char *a, *b;
    char *y;
} qbinary_job;

/* one row = one innermost span of the output */
static void qbinary_rows(void *arg, int tid, ptrdiff_t r0, ptrdiff_t r1)
{
    const qbinary_job *jb = arg;
    (void)tid;
    const int nd = jb->nd;
    const ptrdiff_t inner = jb->shape[nd - 1];
    const int a_scalar = jb->sa[nd - 1] == 0 && inner > 1;
    const int b_scalar = jb->sb[nd - 1] == 0 && inner > 1;
    for (ptrdiff_t r = r0; r < r1; r++) {
        ptrdiff_t rem = r, oa = 0, ob = 0;
        for (int d = nd - 2; d >= 0; d--) {
            ptrdiff_t i = rem % jb->shape[d];
            rem /= jb->shape[d];
            oa += i * jb->sa[d];
            ob += i * jb->sb[d];
        }
        const char *a = jb->a + oa, *b = jb->b + ob;
        char *y = jb->y + r * inner;
        if (jb->p->op == TC_QBINARY_MUL) {
            /* onnxruntime keeps the scalar operand second */
            tc_qbinary_params swapped = *jb->p;
            const tc_qbinary_params *p = jb->p;
            if (a_scalar) {
                swapped.a_scale = jb->p->b_scale;
                swapped.b_scale = jb->p->a_scale;
                swapped.a_zero_point = jb->p->b_zero_point;
                swapped.b_zero_point = jb->p->a_zero_point;
                p = &swapped;
                const char *t = a;
                a = b;
                b = t;
            }
            tc_quant_kernels_of(jb->ctx)->qmul_run(p, a, b, a_scalar || b_scalar, y, inner);
            continue;
        }
        tc_quant_kernels_of(jb->ctx)->qadd_run(jb->p, a, a_scalar, b, b_scalar, y, inner);
    }
}

int tc_qbinary(const tc_ctx *ctx, const tc_qbinary_params *p, int ndim, const ptrdiff_t *y_shape,
               const void *a, const ptrdiff_t *a_shape, const void *b, const ptrdiff_t *b_shape,
               void *y)
{
    if (ndim < 1 || ndim > TC_MAX_DIMS || (p->op != TC_QBINARY_ADD && p->op != TC_QBINARY_MUL))
        return -1;
    qbinary_job jb = {ctx, p, ndim, {0}, {0}, {0}, a, b, y};
    ptrdiff_t ea = 1, eb = 1, rows = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        if ((a_shape[d] != 1 && a_shape[d] != y_shape[d]) ||
            (b_shape[d] != 1 && b_shape[d] != y_shape[d]) || y_shape[d] < 0)
            return -1;
        jb.shape[d] = y_shape[d];
        jb.sa[d] = a_shape[d] == 1 ? 0 : ea;
        jb.sb[d] = b_shape[d] == 1 ? 0 : eb;
        ea *= a_shape[d];
        eb *= b_shape[d];
        if (d < ndim - 1)
            rows *= y_shape[d];
    }
    if (rows == 0 || y_shape[ndim - 1] == 0)
        return 0;
    ptrdiff_t inner = y_shape[ndim - 1];
    tc_parallel_for(ctx ? ctx->pool : NULL, rows, inner >= 8192 ? 1 : 8192 / inner + 1,
                    qbinary_rows, &jb);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Table lookup, layout transposes                                           */
/* ------------------------------------------------------------------------ */

void tc_lookup_run(const uint8_t *table, const uint8_t *x, ptrdiff_t n, uint8_t *y)
{
    for (ptrdiff_t i = 0; i < n; i++)
        y[i] = table[x[i]];
}

typedef struct lookup_job {
    const tc_ctx *ctx;
    const uint8_t *table, *x;
    uint8_t *y;
} lookup_job;

static void lookup_range(void *arg, int tid, ptrdiff_t i0, ptrdiff_t i1)
{
    const lookup_job *jb = arg;
    (void)tid;
    tc_quant_kernels_of(jb->ctx)->lookup_run(jb->table, jb->x + i0, i1 - i0, jb->y + i0);
}

void tc_lookup_u8(const tc_ctx *ctx, const uint8_t *table, const uint8_t *x, ptrdiff_t n,
                  uint8_t *y)
{
    lookup_job jb = {ctx, table, x, y};
    tc_parallel_for(ctx ? ctx->pool : NULL, n, 16384, lookup_range, &jb);
}

typedef struct transpose_job {
    int to_last, elem;
    ptrdiff_t c, s;
    const char *x;
    char *y;
    void (*interleave3)(const uint8_t *x, ptrdiff_t s, ptrdiff_t i0, ptrdiff_t i1, uint8_t *y);
} transpose_job;

/* Bytes of C planes of s positions interleaved into [s, C] pixels, positions [i0, i1):
 * the C of a network's input (3: RGB), where one pass per pixel with C fixed at compile
 * time beats the general loop's strided stores. */
#define INTERLEAVE_BYTES(C)                                                                  \
    for (ptrdiff_t i = i0; i < i1; i++)                                                      \
        for (int ch = 0; ch < (C); ch++)                                                     \
            y[i * (C) + ch] = x[ch * s + i];

static void interleave_bytes(const char *x, ptrdiff_t s, ptrdiff_t c, ptrdiff_t i0,
                             ptrdiff_t i1, char *y)
{
    switch (c) {
    case 2: INTERLEAVE_BYTES(2) break;
    case 3: INTERLEAVE_BYTES(3) break;
    default: INTERLEAVE_BYTES(4) break;
    }
}

void tc_interleave3(const uint8_t *x, ptrdiff_t s, ptrdiff_t i0, ptrdiff_t i1, uint8_t *y)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* a pixel's 3 bytes as one 4-byte store whose last byte the next pixel
     * overwrites (gcc does not vectorize the stride-3 stores) */
    for (; i0 + 1 < i1; i0++) {
        uint32_t v = (uint32_t)x[i0] | (uint32_t)x[s + i0] << 8 | (uint32_t)x[2 * s + i0] << 16;
        memcpy(y + i0 * 3, &v, 4);
    }
#endif
    interleave_bytes((const char *)x, s, 3, i0, i1, (char *)y);
}

/* rows: (image, block of 32 spatial positions) */
static void transpose_rows(void *arg, int tid, ptrdiff_t r0, ptrdiff_t r1)
{
    const transpose_job *jb = arg;
    (void)tid;
    const ptrdiff_t c = jb->c, s = jb->s, nblk = (s + 31) / 32;
    for (ptrdiff_t r = r0; r < r1; r++) {
        ptrdiff_t img = r / nblk, s0 = (r % nblk) * 32, s1 = s0 + 32 < s ? s0 + 32 : s;
        const char *x = jb->x + img * c * s * jb->elem;
        char *y = jb->y + img * c * s * jb->elem;
        if (jb->to_last && jb->elem == 1 && c == 3) {
            jb->interleave3((const uint8_t *)x, s, s0, s1, (uint8_t *)y);
            continue;
        }
        if (jb->to_last && jb->elem == 1 && c >= 2 && c <= 4) {
            interleave_bytes(x, s, c, s0, s1, y);
            continue;
        }
        for (ptrdiff_t ch = 0; ch < c; ch++) {
            for (ptrdiff_t i = s0; i < s1; i++) {
                /* first-layout index ch * s + i, last-layout index i * c + ch */
                ptrdiff_t f = ch * s + i, l = i * c + ch;
                ptrdiff_t from = jb->to_last ? f : l, to = jb->to_last ? l : f;
                if (jb->elem == 1)
                    y[to] = x[from];
                else
                    memcpy(y + to * 4, x + from * 4, 4);
            }
        }
    }
}

void tc_transpose_channels(const tc_ctx *ctx, int channels_last, ptrdiff_t n, ptrdiff_t c,
                           ptrdiff_t s, int elem_bytes, const void *x, void *y)
{
    transpose_job jb = {channels_last, elem_bytes, c, s, x, y,
                        tc_quant_kernels_of(ctx)->interleave3};
    ptrdiff_t nblk = (s + 31) / 32;
    tc_parallel_for(ctx ? ctx->pool : NULL, n * nblk, c >= 512 ? 1 : 512 / (c + 1) + 1,
                    transpose_rows, &jb);
}

/* ------------------------------------------------------------------------ */
/* Pools over channels-last 8-bit images                                     */
/* ------------------------------------------------------------------------ */

void tc_max8_taps(const uint8_t *const *taps, int ntaps, ptrdiff_t n, int npix, ptrdiff_t step,
                  int is_signed, uint8_t *y)
{
    /* int8 as uint8 + 128 (x ^ 0x80 keeps the order) */
    const uint8_t flip = is_signed ? 0x80 : 0;
    for (int p = 0; p < npix; p++, y += n)
        for (ptrdiff_t k = 0; k < n; k++) {
            uint8_t m = taps[0][p * step + k] ^ flip;
            for (int t = 1; t < ntaps; t++) {
                uint8_t v = taps[t][p * step + k] ^ flip;
                m = v > m ? v : m;
            }
            y[k] = m ^ flip;
        }
}

/* MaxPool's taps per call of max8_taps (more: y joins the next call as its first tap) */
#define QPOOL_TAPS 32

typedef struct qpool_job {
    const tc_quant_kernels *k;
    const tc_pool2d_desc *d;
    ptrdiff_t c;
    int is_signed, kind, count_include_pad;
    float x_scale, y_scale;
    int x_zp, y_zp;
    const char *x;
    char *y;
} qpool_job;

enum { QPOOL_MAX = 0, QPOOL_AVG = 1 };

/* rows: output pixels of all images.  Runs of pixels along an output row whose windows
 * lie inside the image across (the same taps, sw pixels on) in one call of max8_taps; the
 * window's taps QPOOL_TAPS at a time, y joining the next call as its first tap; none (all
 * padding): the type's minimum */
static void qpool_max_rows(void *arg, int tid, ptrdiff_t r0, ptrdiff_t r1)
{
    const qpool_job *jb = arg;
    const tc_pool2d_desc *d = jb->d;
    const ptrdiff_t c = jb->c, plane = (ptrdiff_t)d->oh * d->ow;
    (void)tid;
    /* the output columns whose windows lie inside the image across: [in0, in1) */
    const int reach = (d->kw - 1) * d->dw;
    int in0 = (d->pad_l + d->sw - 1) / d->sw;
    int in1 = d->w - 1 - reach + d->pad_l >= 0 ? (d->w - 1 - reach + d->pad_l) / d->sw + 1 : 0;
    in1 = in1 < d->ow ? in1 : d->ow;
    const uint8_t *taps[QPOOL_TAPS];
    for (ptrdiff_t r = r0; r < r1;) {
        ptrdiff_t img = r / plane, pix = r % plane;
        int oy = (int)(pix / d->ow), ox = (int)(pix % d->ow);
        const uint8_t *x = (const uint8_t *)jb->x + img * (ptrdiff_t)d->h * d->w * c;
        uint8_t *m = (uint8_t *)jb->y + r * c;
        int y0 = oy * d->sh - d->pad_t, x0 = ox * d->sw - d->pad_l;
        int npix = 1;
        if (ox >= in0 && ox < in1) {
            ptrdiff_t run = in1 - ox < r1 - r ? in1 - ox : r1 - r;
            npix = (int)run;
        }
        int nt = 0, started = 0;
        for (int ky = 0; ky < d->kh; ky++) {
            int iy = y0 + ky * d->dh;
            if (iy < 0 || iy >= d->h)
                continue;
            for (int kx = 0; kx < d->kw; kx++) {
                int ix = x0 + kx * d->dw;
                if (ix < 0 || ix >= d->w)
                    continue;
                if (nt == QPOOL_TAPS) { /* a window of many taps: one pixel at a time */
                    npix = 1;
                    jb->k->max8_taps(taps, nt, c, 1, 0, jb->is_signed, m);
                    taps[0] = m;
                    nt = 1;
                    started = 1;
                }
                taps[nt++] = x + ((ptrdiff_t)iy * d->w + ix) * c;
            }
        }
        if (nt > 0)
            jb->k->max8_taps(taps, nt, c, npix, (ptrdiff_t)d->sw * c, jb->is_signed, m);
        else if (!started)
            memset(m, jb->is_signed ? 0x80 : 0, (size_t)(npix * c));
        r += npix;
    }
}

/* rows: output pixels of all images */
static void qpool_rows(void *arg, int tid, ptrdiff_t r0, ptrdiff_t r1)
{
    const qpool_job *jb = arg;
    const tc_pool2d_desc *d = jb->d;
    const ptrdiff_t c = jb->c;
    (void)tid;
    float sums[256];
    for (ptrdiff_t r = r0; r < r1; r++) {
        ptrdiff_t img = r / ((ptrdiff_t)d->oh * d->ow), pix = r % ((ptrdiff_t)d->oh * d->ow);
        int oy = (int)(pix / d->ow), ox = (int)(pix % d->ow);
        const char *x = jb->x + img * (ptrdiff_t)d->h * d->w * c;
        char *y = jb->y + r * c;
        int y0 = oy * d->sh - d->pad_t, x0 = ox * d->sw - d->pad_l;
        for (ptrdiff_t c0 = 0; c0 < c; c0 += 256) {
            ptrdiff_t cn = c - c0 < 256 ? c - c0 : 256;
            /* onnxruntime's QLinearAveragePool: windows clipped to the input (not
             * to the padding), taps dequantized and summed in float */
            int ys = y0 > 0 ? y0 : 0, ye = y0 + d->kh < d->h ? y0 + d->kh : d->h;
            int xs = x0 > 0 ? x0 : 0, xe = x0 + d->kw < d->w ? x0 + d->kw : d->w;
            for (ptrdiff_t k = 0; k < cn; k++)
                sums[k] = 0.0f;
            for (int iy = ys; iy < ye; iy++)
                for (int ix = xs; ix < xe; ix++) {
                    const char *px = x + ((ptrdiff_t)iy * d->w + ix) * c + c0;
                    for (ptrdiff_t k = 0; k < cn; k++)
                        sums[k] += jb->x_scale * (float)(tc_q8_load(px, k, jb->is_signed) - jb->x_zp);
                }
            int count = jb->count_include_pad ? d->kh * d->kw : (ye - ys) * (xe - xs);
            const int lo = jb->is_signed ? -128 : 0, hi = jb->is_signed ? 127 : 255;
            for (ptrdiff_t k = 0; k < cn; k++) {
                float m = count > 0 ? sums[k] / (float)count : sums[k];
                float v = m / jb->y_scale + (float)jb->y_zp;
                tc_q8_store(y, c0 + k, tc_sat(tc_rne(tc_clampf(v, -2147483520.0f, 2147483520.0f)),
                                              lo, hi), jb->is_signed);
            }
        }
    }
}

void tc_max_pool2d_nhwc_8(const tc_ctx *ctx, const tc_pool2d_desc *d, ptrdiff_t c, int is_signed,
                          const void *x, void *y)
{
    qpool_job jb = {tc_quant_kernels_of(ctx), d, c, is_signed, QPOOL_MAX, 0, 0.0f, 0.0f, 0, 0, x, y};
    tc_parallel_for(ctx ? ctx->pool : NULL, d->nc * d->oh * d->ow, 16, qpool_max_rows, &jb);
}

void tc_qavg_pool2d_nhwc(const tc_ctx *ctx, const tc_pool2d_desc *d, ptrdiff_t c, int is_signed,
                         int count_include_pad, float x_scale, int x_zero_point, float y_scale,
                         int y_zero_point, const void *x, void *y)
{
    qpool_job jb = {NULL, d, c, is_signed, QPOOL_AVG, count_include_pad, x_scale, y_scale,
                    x_zero_point, y_zero_point, x, y};
    tc_parallel_for(ctx ? ctx->pool : NULL, d->nc * d->oh * d->ow, 16, qpool_rows, &jb);
}

/* x: [rows, ldx] 8-bit, acc: [cn] (cn <= 64)
 * acc[k] += sum over the rows of x[i * ldx + k], wrapping (int32 mod 2^32) */
void tc_qgap_sum(const void *x, ptrdiff_t ldx, ptrdiff_t rows, ptrdiff_t cn, int is_signed,
                 int32_t *acc)
{
    uint32_t a[64];
    for (ptrdiff_t k = 0; k < cn; k++)
        a[k] = (uint32_t)acc[k];
    const char *p = x;
    for (ptrdiff_t i = 0; i < rows; i++, p += ldx)
        for (ptrdiff_t k = 0; k < cn; k++)
            a[k] += (uint32_t)tc_q8_load(p, k, is_signed);
    for (ptrdiff_t k = 0; k < cn; k++)
        acc[k] = (int32_t)a[k];
}

/* The pixel split: at most this many (task, pixel range) partial sums of 64 channels */
#define QGAP_MAX_PARTS 64

typedef struct qgap_job {
    ptrdiff_t s, c, nparts;
    int is_signed, x_zp, y_zp;
    float r;
    const char *x;
    char *y;
    tc_qgap_sum_fn sum;
    int32_t *part;                 /* split: [tasks * nparts][64] partial sums */
} qgap_job;

/* y of one task (image img, channels c0 .. c0 + cn) from its sums of x */
static void qgap_store(const qgap_job *jb, ptrdiff_t img, ptrdiff_t c0, ptrdiff_t cn,
                       const int32_t *sum)
{
    const int lo = jb->is_signed ? -128 : 0, hi = jb->is_signed ? 127 : 255;
    const float flo = (float)(lo - jb->y_zp), fhi = (float)(hi - jb->y_zp);
    const uint32_t bias = (uint32_t)(-(int64_t)jb->x_zp * jb->s);
    for (ptrdiff_t k = 0; k < cn; k++) {
        float v = tc_clampf((float)(int32_t)((uint32_t)sum[k] + bias) * jb->r, flo, fhi);
        tc_q8_store(jb->y, img * jb->c + c0 + k, tc_rne(v) + jb->y_zp, jb->is_signed);
    }
}

/* rows: tasks (image, block of 64 channels) */
static void qgap_rows(void *arg, int tid, ptrdiff_t r0, ptrdiff_t r1)
{
    const qgap_job *jb = arg;
    (void)tid;
    const ptrdiff_t nblk = (jb->c + 63) / 64;
    for (ptrdiff_t r = r0; r < r1; r++) {
        ptrdiff_t img = r / nblk, c0 = (r % nblk) * 64;
        ptrdiff_t cn = jb->c - c0 < 64 ? jb->c - c0 : 64;
        int32_t acc[64] = {0};
        jb->sum(jb->x + img * jb->s * jb->c + c0, jb->c, jb->s, cn, jb->is_signed, acc);
        qgap_store(jb, img, c0, cn, acc);
    }
}

/* rows: (task, pixel range) parts, each summed into its own partial */
static void qgap_parts(void *arg, int tid, ptrdiff_t r0, ptrdiff_t r1)
{
    const qgap_job *jb = arg;
    (void)tid;
    const ptrdiff_t nblk = (jb->c + 63) / 64;
    for (ptrdiff_t r = r0; r < r1; r++) {
        ptrdiff_t t = r / jb->nparts, p = r % jb->nparts;
        ptrdiff_t img = t / nblk, c0 = (t % nblk) * 64;
        ptrdiff_t cn = jb->c - c0 < 64 ? jb->c - c0 : 64;
        ptrdiff_t i0 = jb->s * p / jb->nparts, i1 = jb->s * (p + 1) / jb->nparts;
        int32_t *acc = jb->part + r * 64;
        for (ptrdiff_t k = 0; k < cn; k++)
            acc[k] = 0;
        jb->sum(jb->x + (img * jb->s + i0) * jb->c + c0, jb->c, i1 - i0, cn, jb->is_signed, acc);
    }
}

int tc_qglobal_avg_pool_nhwc(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t s, ptrdiff_t c,
                             int is_signed, float x_scale, int x_zero_point, float y_scale,
                             int y_zero_point, const void *x, void *y)
{
    if (s < 1 || s >= (1 << 24))
        return -1;
    float r = x_scale / (y_scale * (float)s);
    if (!(r >= 0x1.0p-32f && r < 256.0f))
        return -1;
    tc_pool *pool = ctx ? ctx->pool : NULL;
    const ptrdiff_t nblk = (c + 63) / 64, tasks = n * nblk;
    const int nth = pool ? tc_pool_size(pool) : 1;
    qgap_job jb = {s, c, 1, is_signed, x_zero_point, y_zero_point, r, x, y,
                   tc_quant_kernels_of(ctx)->gap_sum, NULL};
    /* few tasks for the threads and enough pixels: split the pixels (2 ranges per thread,
     * at least 256 pixels each), sum the partials in order afterwards */
    ptrdiff_t nparts = 2 * (ptrdiff_t)nth;
    if (nparts > s / 256)
        nparts = s / 256;
    if (nth > 1 && tasks < 2 * nth && nparts > 1 && tasks * nparts <= QGAP_MAX_PARTS) {
        int32_t part[QGAP_MAX_PARTS * 64];
        jb.nparts = nparts;
        jb.part = part;
        tc_parallel_for(pool, tasks * nparts, 1, qgap_parts, &jb);
        for (ptrdiff_t t = 0; t < tasks; t++) {
            ptrdiff_t c0 = (t % nblk) * 64, cn = c - c0 < 64 ? c - c0 : 64;
            uint32_t sum[64] = {0};
            for (ptrdiff_t p = 0; p < nparts; p++)
                for (ptrdiff_t k = 0; k < cn; k++)
                    sum[k] += (uint32_t)part[(t * nparts + p) * 64 + k];
            int32_t acc[64];
            for (ptrdiff_t k = 0; k < cn; k++)
                acc[k] = (int32_t)sum[k];
            qgap_store(&jb, t / nblk, c0, cn, acc);
        }
        return 0;
    }
    tc_parallel_for(pool, tasks, 1, qgap_rows, &jb);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The portable row of the 8-bit kernels' table (dispatch.c)                 */
/* ------------------------------------------------------------------------ */

const tc_quant_kernels tc_quant_portable = {
    quantize_run, tc_qadd_run, tc_qmul_run, tc_qdw_pair_row_portable,
    tc_qdw_out_row_portable,
    {tc_qukernel_s8x4_portable, 6, 16, "s8x4-portable"},
    {tc_qukernel_s16x2_portable, 6, 16, "s16x2-portable"},
    {tc_qukernel_u8s8x2_portable, 6, 16, "u8s8x2-portable"},
    {tc_qukernel_u7s8_portable, 6, 16, "u7s8-portable"},
    {tc_qukernel_u7s8_portable, 4, 16, "u7s8-4x16-portable"},
    0,
    tc_qwg_chunk_portable,
    tc_lookup_run,
    tc_qgap_sum,
    tc_u7s8_split,
    tc_interleave3,
    tc_max8_taps,
};
