/*
 * tinycnn.h - the one public header of tinycnn's C kernels.
 *
 * Conventions (every kernel follows them):
 *   - C99, no Python, no ONNX: raw pointers plus explicit sizes.
 *   - Tensors are dense, row-major, NCHW for images.
 *   - The caller owns every buffer: outputs, packed weights and workspace are
 *     allocated by the caller; sizes come from the *_size() functions.
 *   - No global state.  Everything a kernel needs to know about the machine
 *     (thread pool, instruction set) comes in a `tc_ctx` made by tc_ctx_init.
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
    TC_ISA_AVX2 = 1,     /* x86-64 with AVX2 + FMA (checked by CPUID) */
    TC_ISA_AVX512 = 2    /* AVX2 + FMA + AVX-512F: AVX2's kernels, with AVX-512 GEMM tiles */
};

/* Best instruction set this CPU supports (CPUID) and this build has kernels for. */
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

/* The 8-bit GEMM/convolution kernels' tier above AVX2, a setting independent of enum
 * tc_isa (tc_ctx_set_vnni; with isa AVX2 or AVX512, whose rows share AVX2's 8-bit
 * kernels).  NONE is the AVX2 path every AVX2 + FMA CPU runs (vpmaddwd on 16-bit
 * operands, TC_QFMT_S16X2), what tc_ctx_init gives; AVX (AVX-VNNI, 256-bit) and AVX512
 * (AVX-512 VNNI) run vpdpbusd on TC_QFMT_S8X4.  A CPU may have either without the other. */
enum tc_vnni { TC_VNNI_NONE = 0, TC_VNNI_AVX = 1, TC_VNNI_AVX512 = 2 };

/* Best VNNI tier this CPU supports and this build has kernels for (CPUID): AVX512
 * before AVX. */
int tc_cpu_best_vnni(void);
/* 1 when this CPU and build can run that VNNI tier (NONE: any CPU), else 0. */
int tc_cpu_has_vnni(int vnni);

struct tc_kernel_table; /* private (dispatch.c): the kernels of one instruction set */

typedef struct tc_ctx {
    tc_pool *pool; /* may be NULL: serial */
    int isa;       /* enum tc_isa */
    const struct tc_kernel_table *kernels; /* chosen from isa by tc_ctx_init (and
                                              * tc_ctx_set_vnni for the 8-bit kernels) */
} tc_ctx;

/* Fills ctx with pool (may be NULL) and isa, and picks the kernels of that
 * instruction set, once: every kernel called with ctx dispatches through them.
 * Returns 0, or -1 (and makes ctx portable) when this CPU or build lacks isa.
 * A copy of an initialised ctx with pool = NULL runs the same kernels serially. */
int tc_ctx_init(tc_ctx *ctx, tc_pool *pool, int isa);

/* Chooses ctx's 8-bit kernels' VNNI tier (enum tc_vnni), once, right after tc_ctx_init
 * (dispatch.c); the float kernels stay isa's.  Returns 0, or -1 (the kernels unchanged)
 * when vnni is not NONE and isa is not AVX2 or AVX512, or the CPU or build lacks it. */
int tc_ctx_set_vnni(tc_ctx *ctx, int vnni);

/* Activation fused into the single store of a conv / dense output (every
 * epilogue applies it through tc_act_f32 / tc_act_avx2, csrc/epilogue*.h).
 * NaN in gives NaN out, as onnxruntime's separate ops do. */
enum tc_act {
    TC_ACT_NONE = 0,
    TC_ACT_RELU = 1,     /* max(v, 0) */
    TC_ACT_CLIP,         /* min(max(v, alpha), beta) (= beta when alpha > beta); ReLU6: 0, 6 */
    TC_ACT_LEAKY_RELU,   /* v < 0 ? alpha * v : v */
    TC_ACT_PRELU,        /* v < 0 ? slope[channel] * v : v */
    TC_ACT_HARD_SIGMOID, /* max(0, min(1, alpha * v + beta)) */
    TC_ACT_HARD_SWISH,   /* v * max(0, min(1, alpha * v + beta)): HardSwish is alpha = 1/6,
                            beta = 1/2; x * HardSigmoid(x) takes HardSigmoid's */
    TC_ACT_SIGMOID,      /* 1 / (1 + exp(-v)) */
    TC_ACT_SILU,         /* v * sigmoid(v) (Sigmoid then Mul) */
    TC_ACT_COUNT
};

/* One activation: its kind and parameters.  slope (TC_ACT_PRELU only) has one
 * value per output channel of the convolution; a zeroed struct is no activation. */
typedef struct tc_activation {
    int kind; /* enum tc_act */
    float alpha, beta;
    const float *slope;
} tc_activation;

/* 0 when act (NULL: none) is a known kind with the parameters it needs, else -1. */
int tc_activation_check(const tc_activation *act);

/* ------------------------------------------------------------------------ */
/* GEMM and dense layers (gemm.c, gemm_avx2.c)                              */
/* ------------------------------------------------------------------------ */

/* Packed single-precision GEMM.  The micro-kernel computes an MR x NR tile of
 * C from an A micro-panel ([kc][MR], MR rows interleaved per k) and a B
 * micro-panel ([kc][NR]).  Packed operands are sequences of such panels:
 * panel q of B holds columns q*NR.. at [q][K][NR]; A is packed per K block of
 * the driver (see tc_gemm_pack_a_f32 in gemm.c), panel p holding rows p*MR..;
 * rows/columns past M/N are zero.  C is row-major with leading dimension ldc. */
#define TC_GEMM_MR 6
#define TC_GEMM_NR 16

/* Like tc_parallel_for, but [0, n) is cut into up to 32 chunks of >= grain
 * items that threads claim dynamically, so a descheduled thread does not stall
 * the others.  tid is the executing thread's index in [0, tc_pool_size(pool))
 * (a per-thread workspace slot); a thread may run several chunks.  (threadpool.c) */
void tc_parallel_for_dynamic(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn,
                             void *arg);

/* Epilogue fused into the single store of C:
 *   C = act( A.B [+ C_old if accumulate] + bias[row] + col_bias[col] + residual[row, col] )
 * residual may be the same buffer as C (in-place residual add). */
typedef struct tc_epilogue {
    const float *bias;     /* [M] (one per row of C) or NULL */
    const float *col_bias; /* [N] (one per column of C) or NULL */
    const float *residual; /* [M, N] with leading dimension ldr, or NULL */
    ptrdiff_t ldr;
    tc_activation act;     /* PReLU's slope: one per row of C */
} tc_epilogue;

/* Floats needed to pack A [M, K] (or B [K, N]) into panels. */
size_t tc_gemm_pack_a_size(int M, int K);
size_t tc_gemm_pack_b_size(int K, int N);

/* A: [M, K] with leading dimension lda (trans_a: stored [K, M]).  packed = alpha * A. */
void tc_gemm_pack_a_f32(int M, int K, const float *A, ptrdiff_t lda, int trans_a, float alpha,
                        float *packed);
/* B: [K, N] with leading dimension ldb (trans_b: stored [N, K]). */
void tc_gemm_pack_b_f32(int K, int N, const float *B, ptrdiff_t ldb, int trans_b, float *packed);

/* Floats of workspace the GEMM drivers below need (all threads of ctx). */
size_t tc_gemm_workspace_size(const tc_ctx *ctx);

/* C[M, N] = epilogue(packed_a . B), B: [K, N] row-major with leading dimension ldb.
 * B is packed on the fly, one cache block at a time.  Multi-threaded over
 * ctx's pool; to call it from inside your own parallel loop, pass a copy of
 * ctx with pool = NULL: it then runs serially and needs
 * tc_gemm_workspace_size() of that copy. */
void tc_gemm_packed_a_f32(const tc_ctx *ctx, int M, int N, int K, const float *packed_a,
                          const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate,
                          const tc_epilogue *epi, float *workspace);

/* C[M, N] = epilogue(A . packed_b), A: [M, K] row-major with leading dimension lda. */
void tc_gemm_packed_b_f32(const tc_ctx *ctx, int M, int N, int K, const float *A, ptrdiff_t lda,
                          const float *packed_b, float *C, ptrdiff_t ldc, int accumulate,
                          const tc_epilogue *epi, float *workspace);

/* BLAS-shaped: C = alpha * op(A) . op(B) + beta * C, op(X) = X or X^T.
 * A: op(A) [M, K], B: op(B) [K, N], C: [M, N].  Both operands are packed on
 * the fly into workspace (tc_gemm_workspace_size(ctx) floats). */
void tc_sgemm_f32(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc,
                  const tc_ctx *ctx, float *workspace);

/* Dense layer with a constant weight, packed once:
 *   y[M, Nout] = act(a[M, K] . W^T + bias)
 * weight stored [Nout, K] (trans_b = 1, PyTorch Linear) or [K, Nout] (trans_b = 0). */
size_t tc_dense_pack_size(int K, int Nout);
void tc_dense_pack_f32(int K, int Nout, const float *weight, int trans_b, float *packed);
size_t tc_dense_workspace_size(const tc_ctx *ctx, int M, int K, int Nout);
void tc_dense_f32(const tc_ctx *ctx, int M, int K, int Nout, const float *a, const float *packed,
                  const float *bias, int act, float *y, float *workspace);

/* Same layer with a [Nout, K] row-major weight used in place (no packed copy):
 * the batch-1 GEMV streams it at memory bandwidth; M > 1 rereads it per row. */
void tc_dense_rows_f32(const tc_ctx *ctx, int M, int K, int Nout, const float *a,
                       const float *weight, const float *bias, int act, float *y);

/* end of GEMM section */

/* ------------------------------------------------------------------------ */
/* Convolution: every algorithm behind one interface (conv.c, winograd*.c)  */
/* ------------------------------------------------------------------------ */

/* Geometry of a 2-D convolution (NCHW, weights [K, C/group, KH, KW]). */
typedef struct tc_conv2d_params {
    int C, K;             /* input / output channels */
    int KH, KW;           /* kernel size */
    int sh, sw;           /* strides */
    int pt, pl, pb, pr;   /* pads: top, left, bottom, right */
    int dh, dw;           /* dilations */
    int group;
} tc_conv2d_params;

/* The algorithms, each with the geometries it can compute (tc_conv2d_check).
 * Which one is fastest for a layer is the caller's choice, made once when the
 * layer is planned (tinycnn/ops/conv_algo.py). */
enum tc_conv_algo {
    TC_CONV_ALGO_GEMM = 0,      /* any geometry: im2col folded into the B packing, packed GEMM */
    TC_CONV_ALGO_1X1 = 1,       /* 1x1, stride 1, no pad: B is the input itself */
    TC_CONV_ALGO_DEPTHWISE = 2, /* group == C: a direct kernel per output channel */
    TC_CONV_ALGO_REFERENCE = 3, /* any geometry: plain nested loops summing in double, serial;
                                   the reference every fast path is tested against */
    /* Winograd's minimal filtering F(m x m, r x r) for r x r kernels, stride 1,
     * dilation 1, group 1: the weights are transformed and packed once; a run
     * transforms the input tiles, does one [K x C] by [C x tiles] product per
     * frequency on the GEMM micro-kernel, and transforms back with bias,
     * residual and activation fused into the store.  NaN and Inf in x reach
     * only the outputs whose r x r window holds them, as in a direct
     * convolution: a tile whose Winograd result may not be finite (from those,
     * or an overflow of huge inputs) is recomputed directly (several times the
     * tile's Winograd cost; a tile all of whose outputs are NaN stops early).
     * That needs finite weights with |w| <= 1e38 (F(2x2,3x3) transforms them to
     * up to 2.25 |w|); for other weights use another algorithm. */
    TC_CONV_ALGO_WINOGRAD_2X2_3X3 = 4, /* 4x4 input tiles, 16 products per 4 outputs */
    TC_CONV_ALGO_WINOGRAD_4X4_3X3 = 5, /* 6x6 input tiles, 36 products per 16 outputs */
    TC_CONV_ALGO_WINOGRAD_2X2_5X5 = 6, /* 6x6 input tiles, 36 products per 4 outputs */
    /* group > 1: a direct kernel per block of 4 output channels of a group, vectors of
     * output pixels, 4 weights per input load (grouped_body.h); for groups of few
     * channels (RegNet, ResNeXt), where one GEMM per group is mostly overhead */
    TC_CONV_ALGO_GROUPED = 7,
    TC_CONV_ALGO_1X1_CHAN = 8, /* as 1X1 (the same bits), output channels in the vector lanes
                                  and pixels broadcast: for small maps (7x7, 14x14) */
    /* few input channels (at most 4: the RGB stems), group 1, at most 256 taps C*KH*KW: a
     * direct kernel over a band of output rows, 4 output channels x 24 pixels per register
     * tile, reading a zero-padded phase split copy of the band (conv_stem_body.h) */
    TC_CONV_ALGO_STEM = 9,
    TC_CONV_ALGO_COUNT
};

/* 0 when the parameters are valid and algo can compute them, else -1. */
int tc_conv2d_check(const tc_conv2d_params *p, int algo);

/* Output size; returns -1 (and leaves oh/ow undefined) when it would be empty
 * or the parameters are invalid. */
int tc_conv2d_output_hw(const tc_conv2d_params *p, int h, int w, int *oh, int *ow);

/* Planning, once per layer: floats of the packed weights (0 when
 * tc_conv2d_check fails), then the packing of weight [K, C/group, KH, KW]
 * (on ctx's threads). */
size_t tc_conv2d_pack_size(const tc_conv2d_params *p, int algo);
void tc_conv2d_pack_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                        const float *weight, float *packed);

/* Floats of workspace tc_conv2d_f32 needs for an [n, C, h, w] input with this
 * ctx (it grows with the thread count). */
size_t tc_conv2d_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n,
                                int h, int w);

/* x: [N, C, H, W]  packed: from tc_conv2d_pack_f32  bias: [K] or NULL
 * residual: [N, K, OH, OW] or NULL (may be y; otherwise neither overlaps y)
 * y: [N, K, OH, OW], not overlapping x; or x itself (TC_CONV_ALGO_DEPTHWISE at stride 1 with
 * K == C, the output x's size, pt <= 16 and no residual: written over x in bands)
 * act: NULL (none) or an activation, PReLU's slope [K]
 * y = act(conv(x, weight) + bias + residual); every activation keeps NaN.  Does
 * nothing when tc_conv2d_check or tc_activation_check fails or the output
 * would be empty. */
void tc_conv2d_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h, int w,
                   const float *x, const float *packed, const float *bias, const float *residual,
                   const tc_activation *act, float *y, float *workspace);

/* tc_conv2d_f32 of a 1x1 layer (algo TC_CONV_ALGO_1X1 or 1X1_CHAN) whose output planes lie
 * ldy >= OH * OW floats apart, y[b][k] at y + (b * K + k) * ldy: a channel shuffle's
 * interleaved planes written in place (ShuffleNet: branch outputs as the odd or even
 * channels).  residual stays dense [N, K, OH, OW].  Returns -1 (nothing written) for
 * another algorithm, a smaller ldy or what tc_conv2d_f32 refuses, else 0. */
int tc_conv2d_strided_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h,
                          int w, const float *x, const float *packed, const float *bias,
                          const float *residual, const tc_activation *act, float *y,
                          ptrdiff_t ldy, float *workspace);

/* tc_conv2d_f32 of a depthwise or grouped layer (algo TC_CONV_ALGO_DEPTHWISE or
 * TC_CONV_ALGO_GROUPED) that also writes the mean of each output plane, means: [N, K], as
 * tc_global_avg_pool_f32 of y gives it (same bits), each plane summed right after it is
 * written, while it is in cache: the pool of a squeeze-and-excitation block after the layer
 * (MobileNetV3's depthwise, RegNetY's grouped 3x3), without its pass over y.
 * prefetch: NULL, or prefetch_bytes that the next step reads (the block's dense layers'
 * weights, RegNetY-400MF's 387 KB at 7x7, from L3 after the 1x1 layers' weights have gone
 * through L2): the grouped kernel's tasks prefetch a share each into L2 (never written,
 * only hints; the depthwise kernel ignores them).
 * Returns -1 (nothing written) for another algorithm or what tc_conv2d_f32 refuses, else 0. */
int tc_conv2d_means_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h, int w,
                        const float *x, const float *packed, const float *bias, const float *residual,
                        const tc_activation *act, float *y, float *means, const void *prefetch,
                        size_t prefetch_bytes, float *workspace);

/* The same convolution of x with its channels scaled per image (a squeeze-and-excitation
 * gate folded into the 1x1 projection after it):
 *   y[b] = act(conv(x[b] * scale[b][c], weight) + bias + residual[b])
 * x * scale is not written where tc_conv2d_scaled_mode says TC_SCALED_WEIGHTS (per image, a
 * copy of the packed weights with their columns (input channels) scaled by the gates is made
 * in workspace; packed stays untouched, so concurrent calls may share it) or
 * TC_SCALED_B_COPY (the GEMM driver's copy of each K block of x scaled).  algo: TC_CONV_ALGO_1X1 or
 * 1X1_CHAN; scale: [N, C]; workspace: tc_conv2d_scaled_workspace_size floats (0 for
 * another algorithm).  Returns -1 (nothing written) for another algorithm or what
 * tc_conv2d_f32 refuses, else 0. */
size_t tc_conv2d_scaled_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                                       int n, int h, int w);
/* How tc_conv2d_scaled_f32 applies the gates for an (h, w) input: TC_SCALED_WEIGHTS (a
 * per-image copy of the weights scaled, where K <= OH * OW / 2 per group: other bits than
 * the convolution of x * scale), TC_SCALED_B_COPY (x's rows scaled in the GEMM driver's
 * aligned copy of B) or TC_SCALED_X_COPY (a scaled copy of x in workspace); both of the
 * latter compute x * scale as an element-wise multiply would, so the same bits as
 * tc_conv2d_f32 on it.  -1 for another algorithm or what tc_conv2d_f32 refuses. */
enum { TC_SCALED_WEIGHTS = 1, TC_SCALED_B_COPY = 2, TC_SCALED_X_COPY = 3 };
int tc_conv2d_scaled_mode(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int h, int w);
int tc_conv2d_scaled_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h,
                         int w, const float *x, const float *scale, const float *packed,
                         const float *bias, const float *residual, const tc_activation *act,
                         float *y, float *workspace);

/* Inverted-residual block in bands of output rows (ir_fused.c):
 *   y = project(dw(expand(x))) [+ residual], each stage with its bias and activation,
 * the expanded tensors kept a band of `band` depthwise output rows (with the
 * depthwise halo) at a time in workspace, never whole in memory.  Each stage is a
 * planned layer: its geometry, algorithm and tc_conv2d_pack_f32 weights.  expand and
 * project: 1x1 / 1X1 or 1X1_CHAN, group 1; dw: DEPTHWISE with K == C (any stride,
 * pads, dilation); channels chained.  The result is the three layers' run one after
 * the other, bit for bit, at any band and thread count. */
typedef struct tc_ir_stage {
    tc_conv2d_params p;
    int algo;
    const float *packed;
    const float *bias;       /* [p.K] or NULL */
    const tc_activation *act; /* NULL: none */
} tc_ir_stage;

/* 0 when the stages chain as above and band >= 1, else -1 (the functions below then do nothing). */
int tc_ir_fused_check(const tc_ir_stage *expand, const tc_ir_stage *dw, const tc_ir_stage *project,
                      int h, int w, int band);
/* Floats of workspace for an h x w input with ctx's threads (a band's slot per thread). */
size_t tc_ir_fused_workspace_size(const tc_ctx *ctx, const tc_ir_stage *expand,
                                  const tc_ir_stage *dw, const tc_ir_stage *project, int h, int w,
                                  int band);
/* x: [N, C, H, W]  residual: [N, K2, OH, OW] or NULL  y: [N, K2, OH, OW], overlapping
 * neither x nor residual (later bands read x rows an earlier band's y would cover) */
void tc_ir_fused_f32(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                     const tc_ir_stage *project, int n, int h, int w, int band, const float *x,
                     const float *residual, float *y, float *workspace);

/* The same block, the expansion written channel-blocked for the depthwise (ir_chan8_avx2.c):
 * with ctx's pool its threads claim the 16-channel strips of the expansion and depthwise, then
 * the projection runs as the GEMM splits it (workspace: a strip slot per thread); ctx at
 * TC_ISA_AVX2, expand a 1X1_CHAN layer of at most 320 input channels and a multiple of 8
 * outputs, dw 3x3 or 5x5 at stride 1 or 2 with pads 1 or 2, activations none, ReLU, Clip or
 * HardSwish, an output of 8 to 1024 pixels, at most 4096 padded input pixels.  band (s31,
 * with project): the depthwise's output rows at a time (0: the whole map), the limits then on
 * a band's output pixels and its padded input rows (at least 8 pixels a row).  The pair: 0.
 * 0 when it takes the block, else -1 (the functions below then do nothing).  The result is
 * the three layers' run one after the other, bit for bit. */
int tc_ir_chan8_check(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                      const tc_ir_stage *project, int h, int w, int band);
size_t tc_ir_chan8_workspace_size(const tc_ctx *ctx, const tc_ir_stage *expand,
                                  const tc_ir_stage *dw, const tc_ir_stage *project, int h, int w,
                                  int band);
void tc_ir_chan8_f32(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                     const tc_ir_stage *project, int n, int h, int w, int band, const float *x,
                     const float *residual, float *y, float *workspace);
/* h44-mn: the same block whose projection, at 1 thread, multiplies only the nonzero values of
 * the depthwise output (after a ReLU about half are zeros): sparse from tc_pw_sparse_pack of
 * the projection's weights [K2][E] (row-major), which returns 1 when every weight is finite
 * (only then are the bits the dense product's; 0: do not use it).  Other thread counts run
 * tc_ir_chan8_f32's path.  The same bits as tc_ir_chan8_f32; workspace:
 * tc_ir_chan8_sparse_workspace_size floats.  project->packed may be NULL (h44-mn2: the dense
 * packing never made) where the sparse product runs (1 thread, K2 and E multiples of 8, no
 * PReLU); elsewhere nothing is then computed. */
size_t tc_pw_sparse_pack_size(int K2, int E);
int tc_pw_sparse_pack(int K2, int E, const float *w, float *packed);
size_t tc_ir_chan8_sparse_workspace_size(const tc_ctx *ctx, const tc_ir_stage *expand,
                                         const tc_ir_stage *dw, const tc_ir_stage *project, int h,
                                         int w, int band);
void tc_ir_chan8_sparse_f32(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                            const tc_ir_stage *project, const float *sparse, int n, int h, int w,
                            int band, const float *x, const float *residual, float *y,
                            float *workspace);
/* The expansion and the depthwise alone (the pair before a squeeze-and-excitation, check and
 * workspace_size with project NULL): y [N, E, OH, OW] the depthwise output, means [N, E] or
 * NULL each plane's mean as tc_conv2d_means_f32 gives it.  prefetch: NULL or [prefetch_bytes]
 * the next step reads (the SE's weights), brought into L2 as hints while the pair computes. */
void tc_ir_chan8_pair_f32(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                          int n, int h, int w, const float *x, float *y, float *means,
                          const void *prefetch, size_t prefetch_bytes, float *workspace);

/* SqueezeNet's fire modules, one or several in a row, as one call (fire.c): module j is
 *   y_j = Concat(e1_j(sq_j(x_j)), e3_j(sq_j(x_j))) along channels, x_0 = x, x_j+1 = y_j, y the
 * last module's; each stage with its bias and activation.  st: 3 * modules stages, each
 * module's squeeze, expand 1x1, expand 3x3 in turn: sq and e1 1X1 or 1X1_CHAN layers (group
 * 1, no pads, stride 1), e3 a 3x3 Winograd layer (TC_CONV_ALGO_WINOGRAD_4X4_3X3 or 2X2_3X3)
 * with pads 1, e1's and e3's C == sq's K, each squeeze's C == the module before's e1 K + e3 K.
 * Each of ctx's threads takes a band of whole rows of e3's tiles through every module, one
 * pool job a module; the modules' outputs but the last stay in the bands' slots of workspace.
 * The result is the layers' run one after the other and the Concats, bit for bit. */
#define TC_FIRE_MAX_MODULES 8
/* 0 when the stages are as above, 1 <= modules <= TC_FIRE_MAX_MODULES and h, w >= 1, else -1
 * (the functions below then do nothing). */
int tc_fire_check(const tc_ir_stage *st, int modules, int h, int w);
/* Floats of workspace for an h x w input with ctx's threads (a band's slot per thread). */
size_t tc_fire_workspace_size(const tc_ctx *ctx, const tc_ir_stage *st, int modules, int h,
                              int w);
/* x: [N, C, h, w]  y: [N, the last e1's K + e3's K, h, w], not overlapping x */
void tc_fire_f32(const tc_ctx *ctx, const tc_ir_stage *st, int modules, int n, int h, int w,
                 const float *x, float *y, float *workspace);

/* Pointwise 1x1 -> grouped convolution in bands of output rows (pg_fused.c):
 *   y = gc(pw(x)), each stage with its bias and activation, the pointwise output kept a
 * band of `band` output rows of gc (with its halo) at a time in workspace, never whole in
 * memory.  pw: a planned 1x1 / 1X1 or 1X1_CHAN layer, group 1; gc: TC_CONV_ALGO_GROUPED,
 * or TC_CONV_ALGO_DEPTHWISE with K == C (any stride, pads, dilation), with C == pw's K.  The result is the two layers' run one
 * after the other, bit for bit, at any band and thread count; means: [N, K] or NULL, each
 * output plane's mean as tc_conv2d_means_f32 gives it.  sc (or NULL): a second 1x1 over x
 * (TC_CONV_ALGO_GEMM or 1X1, group 1, no pads, any stride) with gc's output size, into ys:
 * its rows computed in the band whose pointwise just read their input rows (a stage's first
 * block's projection shortcut: x read once), bit for bit its own run; not with a depthwise gc. */
/* 0 when the stages chain as above and band >= 1, else -1 (the functions below then do nothing). */
int tc_pg_fused_check(const tc_ir_stage *pw, const tc_ir_stage *gc, const tc_ir_stage *sc, int h,
                      int w, int band);
/* Floats of workspace for an h x w input with ctx's threads (a band's slot per thread). */
size_t tc_pg_fused_workspace_size(const tc_ctx *ctx, const tc_ir_stage *pw, const tc_ir_stage *gc,
                                  const tc_ir_stage *sc, int h, int w, int band);
/* x: [N, C, H, W]  y: [N, K, OH, OW], not overlapping x  means: [N, K] or NULL
 * ys: [N, sc's K, OH, OW] where sc, overlapping neither x nor y */
void tc_pg_fused_f32(const tc_ctx *ctx, const tc_ir_stage *pw, const tc_ir_stage *gc,
                     const tc_ir_stage *sc, int n, int h, int w, int band, const float *x,
                     float *y, float *means, float *ys, float *workspace);

/* A network's first block in bands of output rows (stem_fused.c):
 *   y = project(dw(stem(x))) [+ stem(x)], each stage with its bias and activation, the stem's
 * and the depthwise's outputs kept a band of `band` depthwise output rows at a time (with the
 * halo) in workspace, never whole in memory.  stem: TC_CONV_ALGO_STEM (few input channels,
 * strided); dw: TC_CONV_ALGO_DEPTHWISE with C == K == stem's K; project: a 1x1 / 1X1_CHAN
 * layer, group 1, C == dw's K.  residual: 1 adds the stem's output to the projection's (the
 * depthwise then keeps the stem's size and project's K is the stem's).  The result is the
 * three layers' run one after the other, bit for bit, at any band and thread count. */
/* 0 when the stages chain as above and band >= 1, else -1 (the functions below then do nothing). */
int tc_stem_fused_check(const tc_ir_stage *stem, const tc_ir_stage *dw, const tc_ir_stage *project,
                        int residual, int h, int w, int band);
/* Floats of workspace for an h x w input with ctx's threads (a band's slot per thread). */
size_t tc_stem_fused_workspace_size(const tc_ctx *ctx, const tc_ir_stage *stem,
                                    const tc_ir_stage *dw, const tc_ir_stage *project, int residual,
                                    int h, int w, int band);
/* x: [N, C, H, W]  y: [N, K2, OH, OW], not overlapping x */
void tc_stem_fused_f32(const tc_ctx *ctx, const tc_ir_stage *stem, const tc_ir_stage *dw,
                       const tc_ir_stage *project, int residual, int n, int h, int w, int band,
                       const float *x, float *y, float *workspace);

/* end of convolution section */

/* ------------------------------------------------------------------------ */
/* Transposed convolution (conv_transpose.c)                                 */
/* ------------------------------------------------------------------------ */

/* 2-D geometry in the same tc_conv2d_params, C = input channels, K = output channels;
 * a 3-D one adds its depth axis in a tc_conv_depth (NULL for 2-D: depth 1, no taps,
 * stride or pad along it).  Weights [C, K/group, KD, KH, KW] (KD = 1: [C, K/group, KH, KW]);
 * pads crop the full output (ONNX ConvTranspose).  An input pixel (iz, iy, ix) and tap
 * (kz, ky, kx) land on oz = iz * sd + kz * dd - pf, oy = iy * sh + ky * dh - pt,
 * ox = ix * sw + kx * dw - pl; the caller chooses od, oh, ow (output_padding and
 * output_shape may make them larger than the taps reach: those pixels get the bias alone).
 * 1-D is 2-D with h = oh = 1. */
typedef struct tc_conv_depth {
    int KD; /* kernel depth */
    int sd; /* stride */
    int dd; /* dilation */
    int pf; /* front pad (the back one only sets od, the caller's choice) */
} tc_conv_depth;

/* Returns 0, or -1 for invalid parameters (those tc_conv2d_check rejects for every
 * algorithm, a depth axis with KD, sd, dd < 1 or pf < 0) or sizes (below 1, or
 * d * h * w beyond INT_MAX); the functions below do nothing then. */
int tc_conv_transpose_check(const tc_conv2d_params *p, const tc_conv_depth *dp, int d, int h, int w, int od,
                            int oh, int ow);

size_t tc_conv_transpose_pack_size(const tc_conv2d_params *p, const tc_conv_depth *dp);
/* weight: [C, K/group, KD, KH, KW]  ->  packed: per group, the GEMM's A panels of W_g^T */
void tc_conv_transpose_pack_f32(const tc_conv2d_params *p, const tc_conv_depth *dp, const float *weight,
                                float *packed);
/* Floats of workspace: K/group * KD * KH * KW * d * h * w (the GEMM's result for one group)
 * + the GEMM's with this ctx (it grows with the thread count). */
size_t tc_conv_transpose_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, const tc_conv_depth *dp,
                                        int d, int h, int w);

/* x: [N, C, D, H, W]  bias: [K] or NULL  y: [N, K, OD, OH, OW]   y = act(conv_transpose(x) + bias)
 * act: an enum tc_act without parameters (NONE, RELU, SIGMOID, SILU).
 * GEMM then col2im, bias and activation applied in col2im's single pass over y; when the
 * taps tile a 2-D output (KH, KW = strides, no pads, dilation 1) in slabs of input rows
 * whose GEMM result stays in cache, or, for groups of K/group * KH * KW <= 8 (a 64 -> 1
 * head), directly: each input pixel's sums stored where they tile the output. */
void tc_conv_transpose_f32(const tc_ctx *ctx, const tc_conv2d_params *p, const tc_conv_depth *dp, int n, int d,
                           int h, int w, int od, int oh, int ow, const float *x, const float *packed,
                           const float *bias, int act, float *y, float *workspace);

/* Same contract with the unpacked weights: plain loops, the reference. */
void tc_conv_transpose_ref_f32(const tc_conv2d_params *p, const tc_conv_depth *dp, int n, int d, int h, int w,
                               int od, int oh, int ow, const float *x, const float *weight, const float *bias,
                               int act, float *y);

/* end of transposed convolution section */

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

/* A convolution whose output only a max pool reads (SqueezeNet's stem -> 3x3/2 MaxPool), as
 * one call (conv.c): the stem's bands of output rows, each pooled in its thread's workspace,
 * the convolution's output never whole in memory.  q: the pool's geometry over each of the
 * K output planes (nc, h, w: ignored, the convolution's OH x OW; oh, ow: the pooled size).
 * 0 when the band path takes them: algo TC_CONV_ALGO_GEMM on a strided or padded layer of
 * few input channels (the stems that tc_conv2d_f32 runs in bands) and a valid pool; else -1. */
int tc_conv2d_maxpool_check(const tc_conv2d_params *p, int algo, const tc_pool2d_desc *q, int h,
                            int w);
/* Floats of workspace for an [n, C, h, w] input with this ctx (0 where the check fails) */
size_t tc_conv2d_maxpool_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                                        const tc_pool2d_desc *q, int h, int w);
/* x: [N, C, H, W]  y: [N, K, q->oh, q->ow], not overlapping x
 * y = maxpool(act(conv(x, weight) + bias)): the same bits as tc_conv2d_f32 then
 * tc_max_pool2d_f32.  Returns -1 (nothing written) where tc_conv2d_maxpool_check or
 * tc_activation_check fails, else 0. */
int tc_conv2d_maxpool_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                          const tc_pool2d_desc *q, int n, int h, int w, const float *x,
                          const float *packed, const float *bias, const tc_activation *act,
                          float *y, float *workspace);

/* Squeeze-and-excitation block (se.c): y = x * act2(w2 . act1(w1 . mean(x) + b1) + b2),
 * the gate one value per (image, channel).
 * x, y: [n][c][s] (y may be x)  w1: [c1][c]  b1: [c1] or NULL  w2: [c][c1]  b2: [c] or NULL
 * workspace: tc_se_workspace_size(n, c, c1) floats.  Returns -1 for invalid arguments. */
size_t tc_se_workspace_size(int n, int c, int c1);
int tc_se_f32(const tc_ctx *ctx, int n, int c, ptrdiff_t s, int c1, const float *x,
              const float *w1, const float *b1, const tc_activation *act1, const float *w2,
              const float *b2, const tc_activation *act2, float *y, float *workspace);

/* The block without its scale: gate[n][c] = act2(w2 . act1(w1 . mean(x) + b1) + b2), for
 * the 1x1 convolution after it to fold in (tc_conv2d_scaled_f32).  workspace:
 * tc_se_gate_workspace_size(n, c, c1) floats.  Returns -1 for invalid arguments. */
size_t tc_se_gate_workspace_size(int n, int c, int c1);
int tc_se_gate_f32(const tc_ctx *ctx, int n, int c, ptrdiff_t s, int c1, const float *x,
                   const float *w1, const float *b1, const tc_activation *act1, const float *w2,
                   const float *b2, const tc_activation *act2, float *gate, float *workspace);

/* tc_se_gate_f32 from the pooled input, means: [n][c] (tc_conv2d_means_f32 of the depthwise
 * layer before the block): no pass over x.  workspace: c1 floats. */
int tc_se_gate_means_f32(const tc_ctx *ctx, int n, int c, int c1, const float *means,
                         const float *w1, const float *b1, const tc_activation *act1,
                         const float *w2, const float *b2, const tc_activation *act2, float *gate,
                         float *workspace);

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
    TC_UNARY_CLIP,             /* min(max(x, alpha), beta) (= beta when alpha > beta), NaN stays NaN */
    TC_UNARY_TANH,
    TC_UNARY_EXP,
    TC_UNARY_NEG,
    TC_UNARY_ABS,
    TC_UNARY_SQRT,
    TC_UNARY_ERF,
    TC_UNARY_LOG,
    TC_UNARY_RECIPROCAL,       /* 1 / x */
    TC_UNARY_SOFTPLUS,         /* log(1 + exp(x)), without overflow */
    TC_UNARY_MISH,             /* x * tanh(softplus(x)) */
    TC_UNARY_ELU,              /* x < 0 ? alpha * (exp(x) - 1) : x */
    TC_UNARY_SELU,             /* beta * (x <= 0 ? alpha * exp(x) - alpha : x)  (beta = gamma) */
    TC_UNARY_GELU,             /* x / 2 * (1 + erf(x / sqrt(2))) */
    TC_UNARY_GELU_TANH,        /* x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))) */
    TC_UNARY_SILU,             /* x * sigmoid(x) */
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
/* The same, then max(y, 0) when relu (a NaN stays NaN, as tc_unary_f32's Relu). */
void tc_batch_norm_act_f32(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s, const float *x,
                           const float *scale, const float *bias, const float *mean,
                           const float *var, float eps, int relu, float *y);

/* x: [planes][n]  y: planes of n floats, y_stride >= n apart (x and y disjoint)
 * y[i * y_stride + k] = x[i * n + k]: a tensor's planes copied into every G-th plane of
 * another (ShuffleNet's channel shuffle, the branch not written there in place); the
 * threads split the planes. */
void tc_copy_planes_f32(const tc_ctx *ctx, ptrdiff_t planes, ptrdiff_t n, const float *x, float *y,
                        ptrdiff_t y_stride);

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

/* Mean/variance normalisation of independent rows, then a per-chunk affine map:
 *   x: [rows, s]  y: [rows, s]  (y may be x)   mean, inv_std: [rows] or NULL
 *   for row r: m = mean(x[r]), v = mean((x[r] - m)^2), inv = 1 / sqrt(v + eps),
 *   y[r][i] = (x[r][i] - m) * inv * scale[j] + bias[j],  j = (r % period) * (s / chunk) + i / chunk
 *   scale, bias: [period * s / chunk]  (bias may be NULL: 0)
 * LayerNormalization: rows = prod(dims before axis), chunk 1, period 1.
 * InstanceNormalization: rows = N*C, s = H*W, chunk s, period C.
 * GroupNormalization: rows = N*G, s = C/G*H*W, chunk H*W, period G (scale, bias per channel).
 * Statistics in two passes (mean, then squares around it).  Returns -1 for invalid sizes
 * (s < 1, chunk not dividing s, period < 1). (normalize.c) */
int tc_normalize_f32(const tc_ctx *ctx, ptrdiff_t rows, ptrdiff_t s, ptrdiff_t chunk, ptrdiff_t period,
                     const float *x, const float *scale, const float *bias, float eps, float *y, float *mean,
                     float *inv_std);

/* end of element-wise section */

/* ------------------------------------------------------------------------ */
/* Resampling (resize.c): Resize and Upsample                               */
/* ------------------------------------------------------------------------ */

/* One axis of a separable resampling: output position j blends the input positions
 * idx[j*taps + t] with weights w[j*taps + t] (t < taps), every idx in [0, in).  Where
 * outside[j] is nonzero (outside may be NULL) the output is `fill` instead (ONNX's
 * tf_crop_and_resize extrapolation). */
typedef struct tc_resample_axis {
    int in, out, taps;
    const int32_t *idx;           /* [out * taps] */
    const float *w;               /* [out * taps] */
    const unsigned char *outside; /* [out] or NULL */
    float fill;
} tc_resample_axis;

/* Floats of workspace tc_resize2d_f32 needs with this ctx (a row per thread, or rows.taps
 * rows when it goes columns first). */
size_t tc_resize2d_workspace_size(const tc_ctx *ctx, const tc_resample_axis *rows, const tc_resample_axis *cols);

/* x: [planes, rows.in, cols.in]  y: [planes, rows.out, cols.out]
 *   y[p][i][j] = sum_s sum_t rows.w[i][s] * cols.w[j][t] * x[p][rows.idx[i][s]][cols.idx[j][t]]
 * computed as the rows' blend first (a row of cols.in values), then the columns'; or, where
 * blends upsample the rows (rows.out > rows.in, at most 4 taps, no `outside` in either
 * table), the columns' first (each input row once) and then the rows' blend.  Nearest tables (one tap of weight 1) read the input row itself; an output row with the
 * same taps as the previous one is a copy of it; an identity column table copies rows.
 * Resampling one axis of [outer, L, inner]: rows = that axis, cols = identity of inner.
 * Returns -1 for invalid tables (an index out of range...). */
int tc_resize2d_f32(const tc_ctx *ctx, ptrdiff_t planes, const tc_resample_axis *rows, const tc_resample_axis *cols,
                    const float *x, float *y, float *workspace);

/* end of resampling section */

/* ------------------------------------------------------------------------ */
/* 8-bit quantized kernels (quant.c, qgemm.c, qconv.c and their twins)      */
/* ------------------------------------------------------------------------ */

/* Conventions of the quantized kernels:
 *   - 8-bit tensors are uint8 or int8 (`is_signed`); their real value is
 *     (q - zero_point) * scale.
 *   - Rounding is onnxruntime's (MLAS on x86): float32 arithmetic, then
 *     round half to even (cvtps2dq under the default MXCSR), so that outputs
 *     agree element for element.  Each function says which float operations
 *     it performs, in which order.
 *   - Convolutions, GEMMs and pools work on channels-last images
 *     ([N, H, W, C]: one row of C bytes per pixel); the element-wise kernels
 *     do not care about layout.
 *   - Accumulation is exact in 32 bits (wrapping as two's complement, as
 *     onnxruntime's); no kernel loses products to 16-bit saturation. */

/* x: [outer, c, inner] float  y: [outer, c, inner] 8-bit
 * y = saturate(RNE(clamp(x / scale[j], lo - zp[j], hi - zp[j])) + zp[j]) with
 * j the channel (nscale == c) or 0 (nscale == 1), lo/hi the type's range: a
 * float32 division, as MLAS; NaN gives lo (the type's minimum).  Returns -1
 * for invalid arguments. */
int tc_quantize_f32(const tc_ctx *ctx, ptrdiff_t outer, ptrdiff_t c, ptrdiff_t inner,
                    const float *x, const float *scale, const int32_t *zero_point, int nscale,
                    int is_signed, void *y);

/* x: [outer, c, inner] of elem_bytes 1 (8-bit, is_signed) or 4 (int32)  y: float
 * y = float(x - zp[j]) * scale[j]  (j as above; the difference in int32). */
int tc_dequantize_f32(const tc_ctx *ctx, ptrdiff_t outer, ptrdiff_t c, ptrdiff_t inner,
                      const void *x, int elem_bytes, int is_signed, const float *scale,
                      const int32_t *zero_point, int nscale, float *y);

/* Parameters of a two-input quantized element-wise op (com.microsoft
 * QLinearAdd, QLinearMul); a, b and y share the element type. */
enum tc_qbinary_op { TC_QBINARY_ADD = 0, TC_QBINARY_MUL = 1 };
typedef struct tc_qbinary_params {
    int op;             /* enum tc_qbinary_op */
    int is_signed;
    float a_scale, b_scale, y_scale;
    int a_zero_point, b_zero_point, y_zero_point;
} tc_qbinary_params;

/* y = a op b with numpy broadcasting, shapes as tc_binary_f32 (rank <= TC_MAX_DIMS,
 * the shorter left-padded with 1s).  The caller merges adjacent dims that
 * broadcast alike (onnxruntime's spans): the innermost dim of a (or b) being
 * 1 selects the scalar-operand formula below.
 *   ADD: ra = a_scale / y_scale, rb = b_scale / y_scale,
 *        f = float(y_zp) - (ra * float(a_zp) + rb * float(b_zp)) (one fused multiply-add),
 *        both vectors:  y = RNE(fma(a, ra, fma(b, rb, f)))
 *        scalar a:      y = RNE(fma(b, rb, f + a * ra))   (and symmetrically)
 *   MUL: r = a_scale * b_scale / y_scale,
 *        y = RNE(float((a - a_zp) * (b - b_zp)) * r + float(y_zp))
 * then saturated to the element type.  y may be a or b when that operand has
 * y's shape.  Returns -1 for invalid arguments. */
int tc_qbinary(const tc_ctx *ctx, const tc_qbinary_params *p, int ndim, const ptrdiff_t *y_shape,
               const void *a, const ptrdiff_t *a_shape, const void *b, const ptrdiff_t *b_shape,
               void *y);

/* x: [n] 8-bit  y: [n]  y[i] = table[(uint8_t)x[i]]  (QLinearSigmoid, QLinearLeakyRelu,
 * requantizing copies: the caller builds the 256-entry table).  y may be x. */
void tc_lookup_u8(const tc_ctx *ctx, const uint8_t *table, const uint8_t *x, ptrdiff_t n,
                  uint8_t *y);

/* x: [n, c, s] -> y: [n, s, c] (channels_last = 1), or back (channels_last = 0),
 * for elements of elem_bytes 1 or 4.  y must not overlap x. */
void tc_transpose_channels(const tc_ctx *ctx, int channels_last, ptrdiff_t n, ptrdiff_t c,
                           ptrdiff_t s, int elem_bytes, const void *x, void *y);

/* Pools over channels-last 8-bit images.  d->nc is the batch N (each image has
 * c channels); the other fields as for the float pools.
 * x: [N, H, W, C]  y: [N, OH, OW, C]
 * Max over the taps inside the input (a window with none gives the type's
 * minimum). */
void tc_max_pool2d_nhwc_8(const tc_ctx *ctx, const tc_pool2d_desc *d, ptrdiff_t c, int is_signed,
                          const void *x, void *y);

/* com.microsoft QLinearAveragePool, as onnxruntime computes it in float32:
 *   m = (sum over the taps inside the input of x_scale * float(x - x_zp)) / count
 *   y = saturate(RNE(m / y_scale + float(y_zp)))
 * count: kh * kw with count_include_pad, else the taps inside the input. */
void tc_qavg_pool2d_nhwc(const tc_ctx *ctx, const tc_pool2d_desc *d, ptrdiff_t c, int is_signed,
                         int count_include_pad, float x_scale, int x_zero_point, float y_scale,
                         int y_zero_point, const void *x, void *y);

/* x: [N, S, C]  y: [N, C]   (com.microsoft QLinearGlobalAveragePool, channels last)
 * acc = sum(x) - x_zp * S (int32), y = saturate(RNE(clamp(float(acc) * r)) + y_zp)
 * with r = x_scale / (y_scale * float(S)).  Returns -1 when onnxruntime refuses
 * the parameters: S >= 2^24, or r outside [2^-32, 256). */
int tc_qglobal_avg_pool_nhwc(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t s, ptrdiff_t c,
                             int is_signed, float x_scale, int x_zero_point, float y_scale,
                             int y_zero_point, const void *x, void *y);

/* -- 8-bit GEMM and convolution ------------------------------------------- */

/* Output stage of a quantized GEMM or convolution, one column (output channel)
 * j at a time, acc being the exact sum of (x - x_zp) * w:
 *   TC_QOUT_U8 / TC_QOUT_S8: y = clamp(RNE(clamp(float(acc + bias[j]) * scale[j],
 *                                 lo - zp, hi - zp)) + zp)   (MLAS's requantization)
 *   TC_QOUT_S32:             y = acc + bias[j]  (ConvInteger, MatMulInteger)
 *   TC_QOUT_F32:             y = float(acc + bias[j]) * scale[j]
 * scale[j] is scale[0] when !per_channel.  lo/hi clamp the 8-bit result within its
 * type: a fused ReLU or Clip (ReLU: lo = zp). */
enum tc_qout_type { TC_QOUT_U8 = 0, TC_QOUT_S8 = 1, TC_QOUT_S32 = 2, TC_QOUT_F32 = 3 };

/* A residual com.microsoft QLinearAdd fused into an 8-bit output stage: q, the value
 * the layer alone would store, is added to r, the residual's element at the same
 * position, by QLinearAdd's formula (tc_qbinary) with q as its A operand (q_is_a)
 * or its B:  y = saturate(RNE(fma(a, ra, fma(b, rb, fixed)))).
 * ra, rb, fixed: as tc_qbinary computes them from the add's scales and zero points. */
typedef struct tc_qresidual {
    const void *r;         /* the output's shape and element type; may be y itself */
    float ra, rb, fixed;
    int q_is_a;
} tc_qresidual;

/* Fills res's constants from the add's parameters (p->op is ignored); res->r is NULL. */
void tc_qresidual_init(tc_qresidual *res, const tc_qbinary_params *p, int q_is_a);

typedef struct tc_qoutput {
    int type;              /* enum tc_qout_type */
    const int32_t *bias;   /* [N] or NULL */
    const float *scale;    /* [N] (per_channel) or [1]; unused for S32 */
    int per_channel;
    int zero_point, lo, hi;
    const tc_qresidual *residual; /* U8 / S8 only, or NULL */
    /* U8 / S8 only, or NULL: 256 bytes, each stored byte b (after the residual) replaced
     * by lut[(uint8_t)b] while the tile is still in cache: a fused com.microsoft
     * QLinearSigmoid, QLinearLeakyRelu or SiLU (tc_lookup_u8's table) */
    const uint8_t *lut;
} tc_qoutput;

/* Layouts of the packed weights, chosen once per layer (tc_qgemm_choose_format).
 *   TC_QFMT_S8X4: weights int8, 4 consecutive k in each 32-bit lane; the
 *     products of unsigned 8-bit activations and signed 8-bit weights summed
 *     four at a time into 32 bits (AVX-VNNI vpdpbusd): exact, no 16-bit step.
 *   TC_QFMT_S16X2: weights int16, 2 k per lane; activations widened to 16 bits
 *     and multiplied pairwise into 32 bits (AVX2 vpmaddwd): exact for any
 *     8-bit weights and zero points.  vpmaddubsw (8-bit products summed in
 *     pairs into a saturating 16-bit lane) is not used: 255 * 127 * 2 > 32767.
 *   TC_QFMT_U8S8X2: S8X4's panels run by AVX2 without VNNI, exactly: vpmaddubsw
 *     sums two byte products into a saturating 16-bit lane, then vpmaddwd by ones
 *     widens the pair sums to 32 bits.  A pair (w0, w1) can leave int16 only if both
 *     weights have the same sign and |w0| + |w1| > 128 (255 * 128 = 32640 fits).
 *     Such a pair is split at pack time: the panel keeps (w0, s * (128 - |w0|)),
 *     s the sign, and the remainder (0, w1 - s * (128 - |w0|)) goes to a correction
 *     list of the panel's 4-k groups that need one, run as a second pass of the same
 *     products over those k only.  Chosen per layer where few groups need it.
 *   TC_QFMT_U7S8: S8X4's panels (any int8 weights) run by AVX2 without VNNI, exactly,
 *     with the split on the activations' side, around a window of 128 values [b, b + 127]
 *     centred on the zero point (b = min(max(zp - 64, 0), 127); above 64 the driver
 *     centres it for the median of the pair's widths, zp - median / 2 in 1 .. 127):
 *       a - b = lo + above - below,  lo = min(max(a - b, 0), 127),
 *       above = max(a - b - 127, 0) <= 128 - b,  below = max(b - a, 0) <= b,
 *     and sum (a - zp) * w = sum (a - b) * w - (zp - b) * colsum(w), the second term in
 *     the bias.  The main pass runs vpmaddubsw on lo (127 * 128 * 2 = 32512 fits int16),
 *     a second pass over the 4-k groups with a byte outside the window (found at run time
 *     once per row block) runs vpmaddubsw on above and on below (each pair sum at most
 *     128 * 128 * 2 in magnitude: only -32768 is reached, which fits) and subtracts the
 *     two in int16, exactly: a byte is above or below, so its (above - below) * w lies in
 *     [-16384, 16256] when b <= 127, the pair's in [-32768, 32512].  Where b = 0 (zero
 *     points <= 64: after a ReLU) only the bytes >= 128 are corrected, over the groups
 *     where one of a 6-row tile's rows has one: 1-15% of the groups of ResNet-50's layers
 *     (against 30-90% of weight groups U8S8X2 corrects).  With b = zp - 64 (inputs from a
 *     projection or a residual Add, zp 110-149) 1-18% of the tile groups of MobileNetV2's
 *     and EfficientNet-B0's expansions (b = 0 would correct 80-100% of them), sparse
 *     outliers better corrected row by row, over each row's own groups (lone layers:
 *     0.83-0.89 of S16X2's time at K = 160-320 against 0.90-0.94 tile by tile; ResNet-50's
 *     b = 0 layers the other way round, 0.85 against 0.89).
 *     The window's width is the weights' per pair of k (the packing's lim, 127 to 255:
 *     lim * (|w0| + |w1|) <= 32767 over every column's same-sign pair), [b, b + lim[k]]
 *     in place of [b, b + 127]: where the weights are small a pair of bytes up to lim
 *     still sums within int16, and fewer groups have a byte outside (MobileNetV2's
 *     projections, b = 0: 0-3% of the tiles' groups against 1-13%).  Reading the rows in
 *     place at b = 0 (no copy of the window parts; the flagged groups corrected by their
 *     window and above parts' sums less the saturated ones) did not pay: MobileNetV2's
 *     projections 1777 us against 1716 with the copy (1t, 2026-12-01 18:41).
 *     From kpad 192 at b = 0 the long kernels add two 4-k steps' pair sums in int16 before
 *     vpmaddwd (3 multiplies per 8 k in place of 4): the packing's second, paired widths
 *     bound the lanes k, k + 1, k + 4, k + 5 together (64 to 255), a part above up to
 *     255 - 64 corrected in two (at most 127, then 128).
 * Every layout can be run by the portable kernels. */
enum tc_qformat { TC_QFMT_S8X4 = 0, TC_QFMT_S16X2 = 1, TC_QFMT_U8S8X2 = 2, TC_QFMT_U7S8 = 3 };

/* The layout the ctx's kernels run fastest for weights (w - w_zp) in
 * [w_min, w_max]: S8X4 needs them in [-128, 127].  Never U8S8X2 (which depends
 * on the weights themselves: tc_qgemm_choose_format_for). */
int tc_qgemm_choose_format(const tc_ctx *ctx, int w_min, int w_max);

/* The layout for these weights w: [N, K] (ldw apart): as tc_qgemm_choose_format,
 * and U8S8X2 on AVX2 without VNNI when at most a quarter of the 4-k groups of
 * its 16-column panels need a correction pass (its cost: one more pass over them). */
int tc_qgemm_choose_format_for(const tc_ctx *ctx, int K, int N, const int16_t *w, ptrdiff_t ldw);

/* The share of U8S8X2's 4-k groups (of its 16-column panels) of these weights that need its
 * correction pass, 0 to 1; tc_qgemm_choose_format_for takes U8S8X2 up to this share. */
#define TC_QGEMM_U8S8X2_MAX_SHARE 0.25
double tc_qgemm_u8s8x2_share(int K, int N, const int16_t *w, ptrdiff_t ldw);

/* Bytes of packed weights for B[K, N] (column sums included); for U8S8X2 the
 * most it can take (every 4-k group corrected): tc_qgemm_pack_size_for is exact. */
size_t tc_qgemm_pack_size(int format, int K, int N);

/* Bytes tc_qgemm_pack writes for these weights. */
size_t tc_qgemm_pack_size_for(int format, int K, int N, const int16_t *w, ptrdiff_t ldw);

/* Bytes of a buffer tc_qgemm_pack filled (the next group's packed weights follow). */
size_t tc_qgemm_packed_size(int format, int K, int N, const void *packed);

/* w: [N, K] row-major with leading dimension ldw, the weights minus their zero
 * point (int16; within [-128, 127] for S8X4) -> packed. */
void tc_qgemm_pack(int format, int K, int N, const int16_t *w, ptrdiff_t ldw, void *packed);

/* Bytes of workspace tc_qgemm needs (all threads of ctx). */
size_t tc_qgemm_workspace_size(const tc_ctx *ctx, int format, int M, int N, int K);

/* a: [M, K] 8-bit rows with leading dimension lda (bytes), int8 when a_signed
 * packed: from tc_qgemm_pack   y: [M, N] with leading dimension ldy (elements)
 * y = output(sum_k (a[m, k] - a_zero_point) * w[n, k]). */
void tc_qgemm(const tc_ctx *ctx, int format, int M, int N, int K, const void *a, ptrdiff_t lda,
              int a_signed, int a_zero_point, const void *packed, const tc_qoutput *out, void *y,
              ptrdiff_t ldy, void *workspace);

/* Convolution over channels-last 8-bit images with the geometry of
 * tc_conv2d_params.  The weights of group g, as [K/group, KH, KW, C/group]
 * rows (k = (ky * KW + kx) * C/group + c), are packed by tc_qgemm_pack one
 * group after the other (group g + 1 at tc_qgemm_packed_size bytes after g's).
 * x: [N, H, W, C]  y: [N, OH, OW, K]   (out->bias, out->scale: [K])
 * Taps in the padding read x_zero_point, i.e. contribute 0. */
size_t tc_qconv2d_workspace_size(const tc_ctx *ctx, int format, const tc_conv2d_params *p,
                                 int n, int h, int w);
void tc_qconv2d(const tc_ctx *ctx, int format, const tc_conv2d_params *p, int n, int h, int w,
                const void *x, int x_signed, int x_zero_point, const void *packed,
                const tc_qoutput *out, void *y, void *workspace);

/* Stems (qstem.c): the same convolution, the same results, for images of few channels
 * (one group, C <= 4, no dilation along x, KH <= 64; any layout but U7S8), without im2col:
 * the input is copied once, padded (and widened for S16X2), into the workspace, and each
 * kernel row of a window is read there in place.  tc_qstem_klen: elements per kernel row,
 * KW * C rounded up to the layout's group, or 0 when the path does not apply.  The weights
 * w: [K, KH, KW, C] are packed by tc_qgemm_pack as [K][KH][klen] rows (klen - KW * C zeros
 * after each kernel row: K = KH * klen).  x: [N, H, W, C]  y: [N, OH, OW, K]. */
int tc_qstem_klen(int format, const tc_conv2d_params *p);
size_t tc_qstem_workspace_size(const tc_ctx *ctx, int format, const tc_conv2d_params *p, int n,
                               int h, int w);
void tc_qstem(const tc_ctx *ctx, int format, const tc_conv2d_params *p, int n, int h, int w,
              const void *x, int x_signed, int x_zero_point, const void *packed,
              const tc_qoutput *out, void *y, void *workspace);

/* Depthwise convolution (group == C == K, KH <= 64), channels last (qdw.c).
 * w: [C][KH][KW] int16, the weights minus their zero point, packed once into
 * tc_qconv2d_depthwise_pack_size bytes; x: [N, H, W, C]  y: [N, OH, OW, C];
 * workspace of the size below (bytes). */
size_t tc_qconv2d_depthwise_pack_size(const tc_conv2d_params *p);
void tc_qconv2d_depthwise_pack(const tc_conv2d_params *p, const int16_t *w, void *packed);
size_t tc_qconv2d_depthwise_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int n,
                                           int h, int w);
void tc_qconv2d_depthwise(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h, int w,
                          const void *x, int x_signed, int x_zero_point, const void *packed,
                          const tc_qoutput *out, void *y, void *workspace);

/* Exact integer Winograd F(2x2, 3x3) of a 3x3, stride-1, undilated, ungrouped 8-bit
 * convolution (qwinograd.c): the same results as tc_qconv2d, bit for bit, with 16
 * products per 2 x 2 output pixels and channel against 36.  Usable when
 * tc_qwinograd_fits: the geometry, and weights w: [K, 3, 3, C] int16 (minus their zero
 * point, within [-255, 255]) with 255 * sum |w[k]| < 2^29 for every k (so that 4 x the
 * sum fits int32).  tc_qwinograd_pack: w -> packed (tc_qwinograd_pack_size bytes).
 * x: [N, H, W, C]  y: [N, OH, OW, K], out as tc_qconv2d's. */
int tc_qwinograd_fits(const tc_conv2d_params *p, const int16_t *w);
size_t tc_qwinograd_pack_size(const tc_conv2d_params *p);
void tc_qwinograd_pack(const tc_conv2d_params *p, const int16_t *w, void *packed);
size_t tc_qwinograd_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h,
                                   int w);
void tc_qwinograd(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h, int w,
                  const void *x, int x_signed, int x_zero_point, const void *packed,
                  const tc_qoutput *out, void *y, void *workspace);

/* end of quantized section */

#ifdef __cplusplus
}
#endif
#endif /* TINYCNN_H */
