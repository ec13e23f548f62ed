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

/* end of Winograd section */

/* ------------------------------------------------------------------------ */
/* Pooling (pool2d.c)                                                        */
/* ------------------------------------------------------------------------ */

/* Geometry of a 2-D pooling over `nc` independent planes (N*C).  pads are
 * explicit and may be asymmetric; the output size (oh, ow) is chosen by the
 * caller (floor or ceil mode), windows are clipped to the input. */
typedef struct tc_pool2d_desc {
    ptrdiff_t nc;              /* number of planes: N * C */
    int h, w;                  /* input plane */
    int oh, ow;                /* output plane */
    int kh, kw;                /* kernel */
    int sh, sw;                /* strides, >= 1 */
    int pad_t, pad_l, pad_b, pad_r;
    int dh, dw;                /* dilations, >= 1 */
} tc_pool2d_desc;

/* Returns 0, or -1 if the descriptor is invalid (sizes < 1, pads < 0, ...). */
int tc_pool2d_check(const tc_pool2d_desc *d);

/* x: [NC, H, W]  y: [NC, OH, OW]
 * Max over the window taps inside the input, as onnxruntime/MLAS computes it:
 * m = -FLT_MAX, then m = m > v ? m : v over the taps in row-major order, so
 * a NaN survives only as the last tap (onnxruntime's dilated path, not MLAS,
 * seeds with the first tap instead); a window with no tap inside the input
 * gives -FLT_MAX. */
void tc_max_pool2d_f32(const tc_ctx *ctx, const tc_pool2d_desc *d, const float *x, float *y);

/* x: [NC, H, W]  y: [NC, OH, OW]
 * Mean over the window.  count_include_pad = 0: divide by the taps inside
 * the input.  count_include_pad = 1: divide by the taps inside the padded
 * input [-pad_t, H + pad_b) x [-pad_l, W + pad_r); the part of a ceil_mode
 * window hanging past the padded input is not counted (onnxruntime).
 * A window with no tap to divide by gives 0. */
void tc_avg_pool2d_f32(const tc_ctx *ctx, const tc_pool2d_desc *d, int count_include_pad,
                       const float *x, float *y);

/* x: [NC, S]  y: [NC]   (S = product of the spatial dims) */
void tc_global_avg_pool_f32(const tc_ctx *ctx, ptrdiff_t nc, ptrdiff_t s, const float *x, float *y);
/* x: [NC, S]  y: [NC]   same NaN rule as tc_max_pool2d_f32 */
void tc_global_max_pool_f32(const tc_ctx *ctx, ptrdiff_t nc, ptrdiff_t s, const float *x, float *y);

/* end of pooling section */

/* ------------------------------------------------------------------------ */
/* Element-wise, normalisation, softmax, reductions (eltwise.c, norm.c)      */
/* ------------------------------------------------------------------------ */

enum tc_unary_op {
    TC_UNARY_RELU = 0,         /* max(x, 0), NaN stays NaN */
    TC_UNARY_LEAKY_RELU,       /* x < 0 ? alpha * x : x */
    TC_UNARY_SIGMOID,          /* 1 / (1 + exp(-x)) */
    TC_UNARY_HARD_SIGMOID,     /* max(0, min(1, alpha * x + beta)) */
    TC_UNARY_HARD_SWISH,       /* x * max(0, min(1, x / 6 + 1/2)) */
    TC_UNARY_CLIP,             /* min(max(x, alpha), beta), NaN stays NaN */
    TC_UNARY_TANH,
    TC_UNARY_EXP,
    TC_UNARY_NEG,
    TC_UNARY_ABS,
    TC_UNARY_SQRT,
    TC_UNARY_ERF,
    TC_UNARY_COUNT
};

/* x: [n]  y: [n]   y may be x.  Returns -1 for an unknown op. */
int tc_unary_f32(const tc_ctx *ctx, int op, float alpha, float beta, const float *x, float *y, ptrdiff_t n);

enum tc_binary_op {
    TC_BINARY_ADD = 0,
    TC_BINARY_SUB,
    TC_BINARY_MUL,
    TC_BINARY_DIV,
    TC_BINARY_MAX,             /* NaN in either operand gives NaN (onnxruntime) */
    TC_BINARY_MIN,
    TC_BINARY_POW,
    TC_BINARY_PRELU,           /* a < 0 ? b * a : a   (b = slope) */
    TC_BINARY_COUNT
};

#define TC_MAX_DIMS 8

/* a: a_shape  b: b_shape  y: y_shape, all of rank ndim <= TC_MAX_DIMS (the
 * caller left-pads the shorter shape with 1s); every dim of a and b is 1 or
 * equal to y's (numpy broadcasting).  y may be a or b when that operand has
 * y's shape.  Returns -1 for invalid arguments. */
int tc_binary_f32(const tc_ctx *ctx, int op, int ndim, const ptrdiff_t *y_shape,
                  const float *a, const ptrdiff_t *a_shape,
                  const float *b, const ptrdiff_t *b_shape, float *y);

/* x: [N, C, S]  scale, bias, mean, var: [C]  y: [N, C, S]   (inference; y may be x)
 * y = (x - mean) * scale / sqrt(var + eps) + bias */
void tc_batch_norm_f32(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s, const float *x,
                       const float *scale, const float *bias, const float *mean, const float *var,
                       float eps, float *y);

/* x: [N, C, S]  y: [N, C, S]   (y must not overlap x)
 * y = x / (bias + alpha / size * sum of x^2 over channels
 *          c - floor((size-1)/2) .. c + ceil((size-1)/2))^beta   (ONNX LRN) */
void tc_lrn_f32(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s, int size, float alpha,
                float beta, float bias, const float *x, float *y);

/* x: [outer, n, inner]  y: [outer, n, inner]   softmax (or log-softmax) along
 * the middle axis, max-subtracted.  y may be x. */
void tc_softmax_f32(const tc_ctx *ctx, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, int log_softmax,
                    const float *x, float *y);

enum tc_reduce_op {
    TC_REDUCE_MEAN = 0,
    TC_REDUCE_SUM,
    TC_REDUCE_MAX,             /* NaNs ignored (onnxruntime); n = 0 gives -inf */
    TC_REDUCE_MIN,
    TC_REDUCE_COUNT
};

/* x: [outer, n, inner]  y: [outer, inner]   (y must not overlap x)
 * Returns -1 for an unknown op. */
int tc_reduce_f32(const tc_ctx *ctx, int op, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                  const float *x, float *y);

/* end of element-wise section */

#ifdef __cplusplus
}
#endif
#endif /* TINYCNN_H */
