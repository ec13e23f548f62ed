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

/* end of pooling section */

/* ------------------------------------------------------------------------ */
/* Element-wise, normalisation, softmax, reductions (eltwise.c, norm.c)      */
/* ------------------------------------------------------------------------ */

/* end of element-wise section */

#ifdef __cplusplus
}
#endif
#endif /* TINYCNN_H */
