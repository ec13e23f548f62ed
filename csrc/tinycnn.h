/*
 * tinycnn.h - the one public header of tinycnn's C kernels.
 *
 * Conventions (every kernel follows them):
 *   - C99, no Python, no ONNX: raw pointers plus explicit sizes.
 *   - Tensors are dense, row-major, NCHW for images.
 *   - The caller owns every buffer: outputs, packed weights and workspace are
 *     allocated by the caller; sizes come from the *_size() functions.
 *   - No global state.  Everything a kernel needs to know about the machine
 *     (thread pool, instruction set) comes in a `tc_ctx`.
 *   - `ctx` may be NULL: serial, portable C.
 */
#ifndef TINYCNN_H
#define TINYCNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Execution context: thread pool and instruction set                        */
/* ------------------------------------------------------------------------ */

enum tc_isa {
    TC_ISA_PORTABLE = 0, /* plain C, any CPU */
    TC_ISA_AVX2 = 1      /* x86-64 with AVX2 + FMA (checked by CPUID) */
};

/* Best instruction set this CPU supports (CPUID). */
int tc_cpu_best_isa(void);

typedef struct tc_pool tc_pool;

/* A pool of nthreads-1 workers; the calling thread is the nthreads-th.
 * Returns NULL on failure.  nthreads <= 1 gives a pool that runs inline. */
tc_pool *tc_pool_create(int nthreads);
void tc_pool_destroy(tc_pool *pool);
int tc_pool_size(const tc_pool *pool);

/* fn(arg, tid, begin, end) over [0, n) split into contiguous ranges of at
 * least `grain` items, one range per thread at most.  Runs inline when pool is
 * NULL, n is small, or the pool is busy with another caller. */
typedef void (*tc_range_fn)(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end);
void tc_parallel_for(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg);

typedef struct tc_ctx {
    tc_pool *pool; /* may be NULL: serial */
    int isa;       /* enum tc_isa, chosen by the caller (at most tc_cpu_best_isa()) */
} tc_ctx;

/* Fused epilogue applied before the single store of a conv / dense output. */
enum tc_act { TC_ACT_NONE = 0, TC_ACT_RELU = 1 };

/* ------------------------------------------------------------------------ */
/* GEMM and dense layers (gemm.c, gemm_avx2.c)                              */
/* ------------------------------------------------------------------------ */

/* end of GEMM section */

/* ------------------------------------------------------------------------ */
/* Convolution: reference and im2col/GEMM paths (conv.c)                    */
/* ------------------------------------------------------------------------ */

/* end of convolution section */

/* ------------------------------------------------------------------------ */
/* Winograd F(4x4,3x3) convolution (winograd.c, winograd_avx2.c)            */
/* ------------------------------------------------------------------------ */

/* 3x3 convolution, stride 1, dilation 1, group 1, by Winograd's minimal
 * filtering: F(4x4,3x3) (tile = 4, 6x6 input tiles, 36 products per tile) or
 * F(2x2,3x3) (tile = 2, 4x4 input tiles, 16 products).  The weights are
 * transformed and packed once (tc_winograd3x3_pack_f32); each run transforms
 * the input tiles, does one [K x C] by [C x tiles] GEMM per frequency point,
 * and transforms back with bias, residual and activation fused into the store. */

/* Floats of the packed weights: (tile+2)^2 * roundup(K, 6) * C. */
size_t tc_winograd3x3_packed_size(int K, int C, int tile);

/* w: [K, C, 3, 3]  ->  packed: [(tile+2)^2][roundup(K,6)/6][C][6]
 * (transformed in double precision; padding rows are zero). */
void tc_winograd3x3_pack_f32(const float *w, int K, int C, int tile, float *packed);

/* Floats of workspace tc_winograd3x3_f32 needs with this ctx (its thread count). */
size_t tc_winograd3x3_workspace_size(const tc_ctx *ctx, int N, int C, int H, int W, int K,
                                     int pad_t, int pad_l, int pad_b, int pad_r, int tile);

/* x: [N, C, H, W]  packed: from tc_winograd3x3_pack_f32  bias: [K] or NULL
 * residual: [N, K, OH, OW] or NULL (may equal y)  y: [N, K, OH, OW]
 * OH = H + pad_t + pad_b - 2, OW = W + pad_l + pad_r - 2 (both >= 1).
 * y = act(conv(x, w) + bias + residual). */
void tc_winograd3x3_f32(const tc_ctx *ctx, const float *x, int N, int C, int H, int W,
                        const float *packed, const float *bias, int K,
                        int pad_t, int pad_l, int pad_b, int pad_r, int tile, int act,
                        const float *residual, float *y, float *workspace);

/* end of Winograd section */

/* ------------------------------------------------------------------------ */
/* Pooling (pool2d.c)                                                        */
/* ------------------------------------------------------------------------ */

/* end of pooling section */

/* ------------------------------------------------------------------------ */
/* Element-wise, normalisation, softmax, reductions (eltwise.c, norm.c)      */
/* ------------------------------------------------------------------------ */

/* end of element-wise section */

#ifdef __cplusplus
}
#endif
#endif /* TINYCNN_H */
