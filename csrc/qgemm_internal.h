/* Private to qgemm.c and qconv.c: the driver both run their products through. */
#ifndef TC_QGEMM_INTERNAL_H
#define TC_QGEMM_INTERNAL_H

#include <string.h>
#include "quant_internal.h"

/* Rows per task: a block of QMB rows packed (at most QMB * kpad * 2 bytes,
 * 442 KiB for kpad = 4608) stays in L2 while every panel of the task's
 * columns runs over it. */
#define TC_QMB 48

/* Products of at most this many rows run as one block on one thread (the most a block
 * has): a 7 x 7 map's 49 rows (225 KiB of a 3x3 layer's 512 channels) streams the weights
 * once, not once per block of 30 and 19 rows (2.4 MiB of them, more than L2, twice) */
#define TC_QMB_WHOLE 60

/* Rows per task where a packed row is at most TC_QMB_SHORT_BYTES (all of MobileNetV2 int8's
 * products: K <= 960 bytes, 138 KiB a block) and the block's outputs, with a fused
 * residual's bytes, at most TC_QMB_SHORT_OUT (its layers at 28x28 and over: N <= 192):
 * fewer blocks, so fewer calls and kernel setups over each panel (the 6 x 16 kernels take a
 * panel over all of a block's tiles per call) and fewer refills of the block rows.
 * On the AMD EPYC Zen 3, native (n24-q, 2026-12-03, 48 rows everywhere against, same bits):
 * trial builds with 144 rows for every K (subgraph_shapes.py --against, 60 rounds, 1 thread)
 * MobileNetV2 int8 0.978 / 0.992 / 0.981; 96 rows 0.992 / 1.002, 240 0.995; per layer
 * (qconv_layers.py, min of 120 runs) its 1x1 layers at 28x28 to 112x112 0.97-0.99 at 96
 * rows, 1.02-1.09 at 24.  As committed, against the base build (40 rounds): MobileNetV2 int8
 * 0.990 [0.981-0.997] and 0.983 [0.970-0.995], EfficientNet-B0 int8 0.987, ResNet-18 int8
 * 1.001, ResNet-50 int8 1.002 (20 rounds); 2 threads (alt.py, 20 rounds): MobileNetV2 0.982,
 * 0.989, 1.002, EfficientNet-B0 1.005.  Long rows keep 48: a block of 144 rows of kpad 4608
 * would be 648 KiB, more than the 512 KiB L2.  Without the outputs' bound ResNet-50 int8's
 * layer1 conv3 (64 -> 256 at 56x56, the residual fused: 72 KiB a block) took 1.06-1.08 of
 * the 48-row time (qsteps.py --against, min of 40, three runs), its network 1.009; so did it
 * with 48-row blocks in a workspace laid out for 144 (its U7S8 split area further on): the
 * layout follows the product's own blocks (tc_qdriver.rows_most). */
/* The Intel Xeon's 2 MiB L2 (n32-q, 2026-12-05, emulated AVX2 1t, qconv_layers.py against
 * the base, 10 rounds): TC_QMB_SHORT_OUT 200 KB (MobileNetV2's 14x14 expansions, 55-83 KiB
 * of outputs a block, then in 2 blocks of up to 144 rows, not 5 of 48) level: 0.995-1.000. */
#define TC_QMB_SHORT 144
#define TC_QMB_SHORT_BYTES 1024
#define TC_QMB_SHORT_OUT (40 * 1024)

typedef struct tc_qdriver tc_qdriver;

/* Writes rows m0 .. m0 + mcount of the product's left operand, kpad packed
 * elements each (tc_qpack_row's format), to dst. */
typedef void (*tc_qfill_fn)(const tc_qdriver *d, int m0, int mcount, void *dst);

/* The ntaps pointers of each of rows m .. m + count - 1 (an indirect convolution: one per
 * kernel position or row, into the image or a row of zero points): tap t of row m + r to
 * out[t * stride + r].  A tile's rows at once: one division for all of them. */
typedef void (*tc_qtaps_fn)(const tc_qdriver *d, int m, int count, const void **out, int stride);

struct tc_qdriver {
    int format, M, N, K, kpad;
    /* left operand: rows read in place (direct), packed by fill from src, or taps of an
     * indirect convolution (ntaps taps of kpad / ntaps bytes each) */
    const void *direct;
    ptrdiff_t direct_lda;
    tc_qfill_fn fill;
    tc_qtaps_fn taps;
    int ntaps;
    const uint8_t *zero_row;  /* the indirect convolution's padding: bytes of a_zero_point */
    const ptrdiff_t *tap_offsets; /* [ntaps]: of each tap from its window's first pixel */
    const void *src;
    ptrdiff_t src_lda;
    int a_flip;           /* int8 activations: packed as x ^ 0x80 */
    int a_zero_point;     /* in the packed (unsigned) domain */
    /* convolution geometry for fill (qconv.c) */
    const tc_conv2d_params *conv;
    int h, w, oh, ow, group_c0;
    const void *packed;
    const tc_qoutput *out;
    void *y;
    ptrdiff_t ldy;
    /* set by tc_qdriver_run */
    tc_qukernel uk;
    void (*lookup_run)(const uint8_t *table, const uint8_t *x, ptrdiff_t n, uint8_t *y);
    void (*widen_run)(const uint8_t *x, ptrdiff_t n, int flip, int16_t *y); /* or NULL */
    tc_u7s8_split_fn u7s8_split;
    const int32_t *bias_eff;
    const float *scale_full;
    int scale_below1;     /* tc_qscales_below1 of scale_full */
    char *ws_rows, *ws_ptrs;
    size_t ws_thread, ws_ptrs_thread;
    int shared_rows;      /* all M rows packed once, before the tasks */
    int u7s8_base;        /* U7S8's window of the activations (tc_u7s8_base) */
    const uint8_t *u7s8_lim; /* and its width per k (the packing's, tc_qgemm_pack) */
    int u7s8_paired;      /* u7s8_lim the paired widths: tc_qepi.paired */
    /* and its tiles read in place, the steps above the paired widths at the pair's
     * (tc_quant_kernels.u7s8_scan / u7s8_steps), or NULL */
    tc_u7s8_scan_fn u7s8_scan;
    tc_qukernel_fn u7s8_steps;
    int qmb;              /* rows per block at most: TC_QMB or TC_QMB_SHORT */
    int rows_most;        /* the most a block has (qmb, or up to TC_QMB_WHOLE on one thread) */
    int tiles, nblocks;   /* the task grid (plan_tasks): row blocks of whole tiles */
    int steps, ncchunks;  /* and column chunks of whole kernel calls */
    int columns_outer;    /* task order: column chunk outer, or row block outer */
    struct {              /* U8S8X2's correction section (tc_qgemm_pack) */
        const int32_t *start, *k;
        const int8_t *w;
    } fix;
};

/* Workspace bytes of tc_qdriver_run for these sizes and ctx's threads. */
size_t tc_qdriver_workspace_size(const tc_ctx *ctx, int format, int M, int N, int K, int ntaps);
void tc_qdriver_run(const tc_ctx *ctx, tc_qdriver *d, void *workspace);
tc_qukernel tc_qukernel_for(const tc_ctx *ctx, int format);

/* K activations (uint8; flip: x ^ 0x80) -> kpad elements of the format, zero-padded. */
void tc_qpack_row(int format, const uint8_t *src, int K, int flip, int kpad, void *dst);

/* im2col and stem copies (qconv.c, qstem.c) */
/* n bytes of src to dst as the packed format's elements (flip: x ^ 0x80) */
static inline void put_bytes(int elem, const uint8_t *src, size_t n, uint8_t flip, char *dst)
{
    if (elem == 1) {
        if (!flip && n >= 8 && n <= 32) { /* short runs: two overlapping fixed-size copies */
            if (n >= 16) {
                memcpy(dst, src, 16);
                memcpy(dst + n - 16, src + n - 16, 16);
            } else {
                memcpy(dst, src, 8);
                memcpy(dst + n - 8, src + n - 8, 8);
            }
        } else if (!flip) {
            memcpy(dst, src, n);
        } else {
            for (size_t i = 0; i < n; i++)
                dst[i] = (char)(src[i] ^ flip);
        }
    } else {
        int16_t *o = (int16_t *)dst;
        for (size_t i = 0; i < n; i++)
            o[i] = (int16_t)(src[i] ^ flip);
    }
}

/* n elements of the format, each value */
static inline void put_fill(int elem, int value, size_t n, char *dst)
{
    if (elem == 1) {
        if (n <= 16) { /* the edges of windows: a few bytes */
            for (size_t i = 0; i < n; i++)
                dst[i] = (char)value;
        } else {
            memset(dst, value, n);
        }
    } else {
        int16_t *o = (int16_t *)dst;
        for (size_t i = 0; i < n; i++)
            o[i] = (int16_t)value;
    }
}

#endif /* TC_QGEMM_INTERNAL_H */
