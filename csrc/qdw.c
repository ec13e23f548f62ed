/* 8-bit depthwise convolution (group == C == K) over channels-last images, by
 * output rows, from "pair rows" of the input.
 *
 * A pair row is one input row made ready for vpmaddwd: its bytes as int16 (int8 inputs
 * sign-extended, no flip needed), with each column u holding, for every channel c, the
 * pair (x[u - pl][c], x[u - pl + dw][c]).  Taps kx = 2j and 2j + 1 of output pixel ox are
 * then the pair at column u = ox * sw + 2j * dw: one 16-bit multiply-add of two taps for
 * 8 channels, with no shuffle in the inner loop (an odd KW pairs its last tap with a
 * weight of 0).  Only the columns some pixel reads are built (every other one at stride 2).
 * The input zero point comes in through the bias, as in the GEMM:
 *   sum (x - zp) * w = sum x * w - zp * sum w
 * where columns outside the image read bytes of the zero point (their terms cancel) and
 * kernel rows outside it are skipped, their share zp * (sum of the row's weights) given
 * back in that output row's bias.  Building the rows without centring them (a vpsubw less
 * per 16 channels of a column) took lone MobileNetV2-shaped 3x3 layers (emulated AVX2,
 * 1 thread, median thread CPU us of 300, 3 alternated rounds, 2026-12-02 00:31, centred /
 * not): 96 at 112x112 stride 2 193-197 / 186-192, 144 at 56x56 stride 2 73-75 / 68-70,
 * 144 at 56x56 227-229 / 221-232, 32 at 112x112 211-212 / 202-215, 14x14 and 7x7 within
 * 1 us.
 * A pair row is built once and serves the KH output rows that read it (a ring of
 * (KH - 1) * dh + 1 rows per thread, slot = iy mod size).  The sums are the exact
 * int32 sums of (x - zp) * w (modulo 2^32, as the bias), requantized as the GEMM's
 * output stage does.
 *
 * Pair row: [cols][Cp / 8][8 channels][2] int16, Cp = C rounded up to 16
 * (channels >= C are 0).  Packed weights: [Cp / 16][KH][np][16][2] int16, np =
 * (KW + 1) / 2 pairs of taps (2j, 2j + 1), the missing tap's weight 0; then their sums,
 * [KH][Cp] int32 per kernel row and [Cp] over the kernel (the zero point's terms).
 */
#include <string.h>
#include "quant_internal.h"

static inline int qdw_cpad(int c) { return (c + 15) / 16 * 16; }
static inline int qdw_npairs(const tc_conv2d_params *p) { return (p->KW + 1) / 2; }

static int gcd(int a, int b) { return b ? gcd(b, a % b) : a; }

/* columns read by the taps: u = ox * sw + 2j * dw, multiples of ustep */
static inline int qdw_ustep(const tc_conv2d_params *p) { return gcd(p->sw, 2 * p->dw); }
static inline ptrdiff_t qdw_cols(const tc_conv2d_params *p, int ow)
{
    return ((ptrdiff_t)(ow - 1) * p->sw + (ptrdiff_t)2 * (qdw_npairs(p) - 1) * p->dw) /
           qdw_ustep(p) + 1;
}

/* a ring row's columns: TC_QDW_OVER more pixels' worth of zeros past the built ones, for
 * the kernels' blocks of pixels that overhang the row's end (their extra outputs dropped) */
static inline ptrdiff_t qdw_row_cols(const tc_conv2d_params *p, int ow)
{
    return qdw_cols(p, ow) + (ptrdiff_t)TC_QDW_OVER * (p->sw / qdw_ustep(p));
}

/* the packed weights' bytes, before their sums */
static inline size_t qdw_weight_bytes(const tc_conv2d_params *p)
{
    return (size_t)qdw_cpad(p->C) * p->KH * qdw_npairs(p) * 2 * sizeof(int16_t);
}

size_t tc_qconv2d_depthwise_pack_size(const tc_conv2d_params *p)
{
    return qdw_weight_bytes(p) + (size_t)(p->KH + 1) * qdw_cpad(p->C) * sizeof(int32_t);
}

/* the sums of the packed weights: [KH][Cp] of each kernel row, then [Cp] of all */
static inline const int32_t *qdw_wsums(const tc_conv2d_params *p, const void *packed)
{
    return (const int32_t *)((const char *)packed + qdw_weight_bytes(p));
}

/* w: [C][KH][KW] int16 (the weights minus their zero point) */
void tc_qconv2d_depthwise_pack(const tc_conv2d_params *p, const int16_t *w, void *packed)
{
    const int cp = qdw_cpad(p->C), np = qdw_npairs(p), ntaps = p->KH * p->KW;
    int32_t *sums = (int32_t *)qdw_wsums(p, packed);
    for (int c = 0; c < cp; c++) {
        sums[(ptrdiff_t)p->KH * cp + c] = 0;
        for (int ky = 0; ky < p->KH; ky++) {
            int32_t s = 0;
            for (int kx = 0; c < p->C && kx < p->KW; kx++)
                s += w[(ptrdiff_t)c * ntaps + ky * p->KW + kx];
            sums[(ptrdiff_t)ky * cp + c] = s;
            sums[(ptrdiff_t)p->KH * cp + c] += s;
        }
    }
    int16_t *o = packed;
    for (int cb = 0; cb < cp; cb += 16)
        for (int ky = 0; ky < p->KH; ky++)
            for (int j = 0; j < np; j++)
                for (int c = cb; c < cb + 16; c++)
                    for (int e = 0; e < 2; e++) {
                        int kx = 2 * j + e;
                        *o++ = kx < p->KW && c < p->C ? w[(ptrdiff_t)c * ntaps + ky * p->KW + kx]
                                                      : 0;
                    }
}

void tc_qdw_pair_row_portable(const uint8_t *x, const uint8_t *zero_row, int x_signed,
                              const tc_qdw_geom *g, int16_t *prow)
{
    for (ptrdiff_t u = 0; u < g->cols; u++) {
        ptrdiff_t ia = u * g->ustep - g->pl, ib = ia + g->dw;
        const uint8_t *a = ia >= 0 && ia < g->w ? x + ia * g->C : zero_row;
        const uint8_t *b = ib >= 0 && ib < g->w ? x + ib * g->C : zero_row;
        int16_t *o = prow + u * 2 * g->cp;
        for (int c = 0; c < g->cp; c++) {
            int va = 0, vb = 0;
            if (c < g->C) {
                va = x_signed ? (int8_t)a[c] : a[c];
                vb = x_signed ? (int8_t)b[c] : b[c];
            }
            o[2 * c] = (int16_t)va;
            o[2 * c + 1] = (int16_t)vb;
        }
    }
}

static void dw_store(int32_t acc, ptrdiff_t c, const tc_qoutput *out, const float *scale,
                     const void *r, void *y);

void tc_qdw_out_row_portable(const int16_t *const *prows, const int16_t *w, const tc_qdw_geom *g,
                             const int32_t *bias, const float *scale, const tc_qoutput *out,
                             const void *r, void *y)
{
    const ptrdiff_t cp2 = 2 * (ptrdiff_t)g->cp;
    for (int ox = 0; ox < g->ow; ox++) {
        const ptrdiff_t at = (ptrdiff_t)ox * g->C;
        for (int c = 0; c < g->C; c++) {
            const int16_t *wc = w + (ptrdiff_t)(c / 16) * g->KH * g->np * 32 + 2 * (c % 16);
            uint32_t acc = (uint32_t)bias[c];
            for (int ky = 0; ky < g->KH; ky++) {
                if (!prows[ky])
                    continue;
                const int16_t *pr = prows[ky] + (ptrdiff_t)ox * (g->sw / g->ustep) * cp2 + 2 * c;
                for (int j = 0; j < g->np; j++) {
                    const int16_t *pp = pr + (ptrdiff_t)j * (2 * g->dw / g->ustep) * cp2;
                    const int16_t *ww = wc + (ptrdiff_t)(ky * g->np + j) * 32;
                    acc += (uint32_t)(pp[0] * ww[0] + pp[1] * ww[1]);
                }
            }
            dw_store((int32_t)acc, at + c, out, scale - at, r, y);
        }
    }
}

/* one output element of out->type from its int32 sum (bias included) */
static void dw_store(int32_t acc, ptrdiff_t c, const tc_qoutput *out, const float *scale,
                     const void *r, void *y)
{
    switch (out->type) {
    case TC_QOUT_S32:
        ((int32_t *)y)[c] = acc;
        break;
    case TC_QOUT_F32:
        ((float *)y)[c] = (float)acc * scale[c];
        break;
    default: {
        const float flo = (float)(out->lo - out->zero_point), fhi = (float)(out->hi - out->zero_point);
        int32_t q = tc_rne(tc_clampf((float)acc * scale[c], flo, fhi)) + out->zero_point;
        int is_signed = out->type == TC_QOUT_S8;
        if (out->residual)
            q = tc_qresidual_add(out->residual, q, tc_q8_load(r, c, is_signed),
                                 is_signed ? -128 : 0, is_signed ? 127 : 255);
        tc_q8_store(y, c, q, is_signed);
    }
    }
}

typedef struct qdw_job {
    const tc_ctx *ctx;
    const tc_conv2d_params *p;
    tc_qdw_geom g;
    int h, oh, x_signed, zp;
    const uint8_t *x, *zero_row;
    const int16_t *weight;
    const tc_qoutput *out;
    const int32_t *bias;
    const float *scale;
    char *ring; /* per thread: ring rows of int16, ring tags, a border row's bias [cp] */
    size_t ring_stride; /* from one thread's ring to the next's: its bytes and a gap */
    int ring_rows;
    char *y;
} qdw_job;

/* rows: output rows of all images */
static void qdw_rows(void *arg, int tid, ptrdiff_t r0, ptrdiff_t r1)
{
    const qdw_job *jb = arg;
    const tc_conv2d_params *p = jb->p;
    const tc_qdw_geom *g = &jb->g;
    const tc_quant_kernels *k = tc_quant_kernels_of(jb->ctx);
    const ptrdiff_t row_elems = qdw_row_cols(p, g->ow) * 2 * g->cp, cy = (ptrdiff_t)g->ow * g->C;
    const size_t ysz = jb->out->type >= TC_QOUT_S32 ? 4 : 1;
    int16_t *ring = (int16_t *)(jb->ring + (size_t)tid * jb->ring_stride);
    ptrdiff_t *tags = (ptrdiff_t *)(ring + (size_t)jb->ring_rows * row_elems);
    int32_t *border_bias = (int32_t *)(tags + jb->ring_rows);
    const int16_t *prows[64];
    for (int s = 0; s < jb->ring_rows; s++) {
        tags[s] = -1;
        memset(ring + s * row_elems + g->cols * 2 * g->cp, 0,
               (size_t)(row_elems - g->cols * 2 * g->cp) * sizeof(int16_t));
    }
    for (ptrdiff_t r = r0; r < r1; r++) {
        ptrdiff_t img = r / jb->oh;
        int oy = (int)(r % jb->oh), outside = 0;
        for (int ky = 0; ky < p->KH; ky++) {
            int iy = oy * p->sh - p->pt + ky * p->dh;
            if (iy < 0 || iy >= jb->h) {
                prows[ky] = NULL;
                outside = 1;
                continue;
            }
            ptrdiff_t tag = img * jb->h + iy;
            int s = iy % jb->ring_rows;
            int16_t *row = ring + s * row_elems;
            if (tags[s] != tag) {
                k->dw_pair_row(jb->x + tag * g->w * g->C, jb->zero_row, jb->x_signed, g, row);
                tags[s] = tag;
            }
            prows[ky] = row;
        }
        const int32_t *bias = jb->bias;
        if (outside && jb->zp) { /* the skipped kernel rows' share of the zero point back */
            const int32_t *sums = qdw_wsums(p, jb->weight);
            memcpy(border_bias, jb->bias, (size_t)g->cp * sizeof(int32_t));
            for (int ky = 0; ky < p->KH; ky++)
                for (int c = 0; !prows[ky] && c < g->cp; c++)
                    border_bias[c] = (int32_t)((uint32_t)border_bias[c] +
                                               (uint32_t)sums[(ptrdiff_t)ky * g->cp + c] *
                                                   (uint32_t)jb->zp);
            bias = border_bias;
        }
        const void *res = jb->out->residual ? (const char *)jb->out->residual->r + r * cy * ysz
                                            : NULL;
        char *y = jb->y + r * cy * ysz;
        k->dw_out_row(prows, jb->weight, g, bias, jb->scale, jb->out, res, y);
        if (jb->out->lut && ysz == 1) /* the fused lookup, over the row while it is in cache */
            k->lookup_run(jb->out->lut, (const uint8_t *)y, cy, (uint8_t *)y);
    }
}

/* Bytes between the end of one thread's ring and the start of the next's.  Adjacent rings (the
 * base) ran the second thread's rows at up to twice the first's time: its ring's first row lies
 * just past the first thread's last, which the first thread streams through every KH output
 * rows; most likely the hardware prefetch from that stream pulls the first 16-32 KiB of the
 * second ring into the first core each time, and the lines move between the cores at every row
 * the second thread builds there (not shown beyond the gap's effect). Measured (n28-q,
 * 2026-12-04, Zen 4, emulated AVX2, tc_qconv2d_depthwise alone at 2 threads under chrt -f 10,
 * per-chunk wall times, us, caller / worker; the gap 0 / 16 / 32 / 48 KiB): 144 at 56x56 67 /
 * 118, 66 / 85, 66 / 65, 80 / 65; 192 at 28x28 25 / 56, 25 / 34, 25 / 25, 26 / 25; 96 at
 * 112x112 stride 2 57 / 127, 58 / 62, 57 / 56, 57 / 54 (the worker was the slow one whichever
 * rows it took, the caller when the rings were swapped).  int8 MobileNetV2 at 2 threads
 * (mt_inproc.py, SCHED_FIFO, 6 x 40 runs alternating in one process) 0.953 [0.920-0.994] of its
 * time with 64 KiB: the 112x112-28x28 depthwise steps 0.55-0.80 of theirs, the 14x14 and 7x7
 * ones unchanged.  The same gap between the threads' slots of the int8 GEMM (packed rows, row
 * pointers and the U7S8 split) and of the integer Winograd: MobileNetV2 0.985 [0.937-1.028],
 * ResNet-18 1.004 [0.977-1.043] and 1.001 [0.981-1.026]: not kept (their slots are not rebuilt
 * row by row).  The GEMM's was kept later, measured again under SCHED_FIFO with tighter
 * ranges (n31-q: TC_QSLOT_GAP in qgemm.c, int8 MobileNetV2 at 2 threads 0.978-0.992). */
#define TC_QDW_RING_GAP 65536

static size_t qdw_ring_bytes(const tc_conv2d_params *p, int ow, int *rows)
{
    *rows = (p->KH - 1) * p->dh + 1;
    size_t b = (size_t)*rows * (qdw_row_cols(p, ow) * 2 * qdw_cpad(p->C) * sizeof(int16_t) +
                                sizeof(ptrdiff_t)) +
               (size_t)qdw_cpad(p->C) * sizeof(int32_t);
    return (b + 63) / 64 * 64;
}

size_t tc_qconv2d_depthwise_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int n,
                                           int h, int w)
{
    int oh, ow, rows;
    (void)n;
    if (tc_conv2d_output_hw(p, h, w, &oh, &ow) != 0)
        return 0;
    int threads = ctx && ctx->pool ? tc_pool_size(ctx->pool) : 1;
    /* bias and scales expanded to Cp, the row of zero points, the rings and the gaps between */
    return (size_t)qdw_cpad(p->C) * (sizeof(int32_t) + sizeof(float)) + (size_t)p->C + 128 +
           (size_t)threads * qdw_ring_bytes(p, ow, &rows) +
           (size_t)(threads - 1) * TC_QDW_RING_GAP;
}

void tc_qconv2d_depthwise(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h, int w,
                          const void *x, int x_signed, int x_zero_point, const void *packed,
                          const tc_qoutput *out, void *y, void *workspace)
{
    int oh, ow;
    if (tc_conv2d_output_hw(p, h, w, &oh, &ow) != 0 || n <= 0 || p->KH > 64)
        return;
    const int cp = qdw_cpad(p->C);
    char *ws = (char *)(((uintptr_t)workspace + 63) / 64 * 64);
    int32_t *bias = (int32_t *)ws;
    float *scale = (float *)(bias + cp);
    uint8_t *zero_row = (uint8_t *)(scale + cp);
    char *ring = (char *)(((uintptr_t)(zero_row + p->C) + 63) / 64 * 64);
    tc_qout_columns(out, p->C, cp, 0, NULL, bias, scale);
    memset(zero_row, x_zero_point & 0xff, (size_t)p->C);
    qdw_job jb;
    memset(&jb, 0, sizeof(jb));
    jb.ctx = ctx;
    jb.p = p;
    jb.g.C = p->C;
    jb.g.cp = cp;
    jb.g.w = w;
    jb.g.ow = ow;
    jb.g.pl = p->pl;
    jb.g.sw = p->sw;
    jb.g.dw = p->dw;
    jb.g.KH = p->KH;
    jb.g.np = qdw_npairs(p);
    jb.g.ustep = qdw_ustep(p);
    jb.g.cols = qdw_cols(p, ow);
    jb.g.scale_below1 = tc_qscales_below1(scale, p->C);
    const int32_t *wsum = qdw_wsums(p, packed) + (ptrdiff_t)p->KH * cp;
    for (int c = 0; c < cp; c++) /* bias - zp * sum w, wrapping as the sums do */
        bias[c] = (int32_t)((uint32_t)bias[c] - (uint32_t)wsum[c] * (uint32_t)x_zero_point);
    jb.h = h;
    jb.oh = oh;
    jb.x_signed = x_signed;
    jb.zp = x_zero_point;
    jb.x = x;
    jb.zero_row = zero_row;
    jb.weight = packed;
    jb.out = out;
    jb.bias = bias;
    jb.scale = scale;
    jb.ring = ring;
    jb.ring_stride = qdw_ring_bytes(p, ow, &jb.ring_rows) + TC_QDW_RING_GAP;
    jb.y = y;
    /* a thread takes a contiguous run of rows: each pair row is built once per run.  Tried
     * and dropped (n28-q, 2026-12-04): at least 8 rows a thread, so that a 7x7 map runs on one
     * (split 3 + 4, the threads build 10 pair rows for 7, and in int8 MobileNetV2 at 2 threads
     * those steps took 1.4-1.6x their 1-thread time in mt_inproc.py's profile): the whole
     * network 0.996 [0.978-1.005] and 1.003 [0.992-1.012] (ab_threads.py --fifo, 30 x 10, against
     * TC_QDW_RING_GAP's build): level.  Tried and dropped (n29-q, 2026-12-04, Zen 4, emulated
     * AVX2, host load 40-60): channel blocks on maps of at most 14 output rows (each thread all
     * rows of its channels, pair rows built once; a geometry with a pixel stride apart from its
     * channel count, blocks of 64 output bytes so no line is written by both threads).  Alone
     * (benchmarks/qdw_mt.c, chrt -f 10, min of 300, 2 threads, us, rows / channels) the same or
     * worse: 384 at 14x14 13.6 / 13.2-14.2, 960 at 7x7 14.3-15.8 / 14.4-14.9, 576 at 14x14 s2
     * 9.3-9.5 / 9.6-10.8 (in loaded moments up to 1.6x); per chunk the threads' halves ran
     * 11.9 / 11.4 us by rows but 8.2 / 11.4 by channels at 960 x 7x7 (the worker's half slower,
     * the caller waiting 3.4 us), and 0.7-1.6 us of the call (1 thread) is the serial setup
     * before the chunks (tc_qout_columns, the bias loop: grows with C).  In the network (int8
     * MobileNetV2, mt_inproc.py --fifo, 10 x 40 runs alternating in one process) 1.043
     * [1.011-1.081] of its time: those depthwise steps 1.09-1.52x, and the projections after
     * them 1.12-1.17x: the expansions before and projections after split by pixel rows, so
     * each thread's rows are in its own core's cache; channel halves read and leave half of
     * every row in the other core's.  A channel split would need its neighbours split the
     * same way (a fused expansion-depthwise-projection by channel blocks does not exist). */
    ptrdiff_t per_row = (ptrdiff_t)ow * cp * p->KH * jb.g.np;
    tc_parallel_for(ctx ? ctx->pool : NULL, (ptrdiff_t)n * oh, 16384 / per_row + 1, qdw_rows,
                    &jb);
}
