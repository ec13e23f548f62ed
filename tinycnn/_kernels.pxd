# The C declarations of csrc/tinycnn.h, all of them in this one file (the .pxi
# files hold wrappers only).  Everything is nogil: the wrappers check their
# arguments with the GIL held, then call these without it.

from libc.stdint cimport int16_t, int32_t, uint8_t

cdef extern from "tinycnn.h" nogil:
    # -- execution context: thread pool and instruction set --------------
    enum:
        TC_ISA_PORTABLE
        TC_ISA_AVX2
        TC_ISA_AVX512
        TC_ACT_NONE
        TC_ACT_RELU
        TC_ACT_CLIP
        TC_ACT_LEAKY_RELU
        TC_ACT_PRELU
        TC_ACT_HARD_SIGMOID
        TC_ACT_HARD_SWISH
        TC_ACT_SIGMOID
        TC_ACT_SILU

    ctypedef struct tc_activation:
        int kind
        float alpha, beta
        const float *slope
    int tc_activation_check(const tc_activation *act)
    enum:
        TC_VNNI_NONE
        TC_VNNI_AVX
        TC_VNNI_AVX512

    int tc_cpu_best_isa()
    int tc_cpu_best_vnni()
    int tc_cpu_has_vnni(int vnni)

    ctypedef struct tc_pool:
        pass
    tc_pool *tc_pool_create(int nthreads)
    void tc_pool_destroy(tc_pool *pool)
    int tc_pool_size(const tc_pool *pool)

    ctypedef void (*tc_range_fn)(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end) noexcept nogil
    void tc_parallel_for(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg)
    void tc_parallel_for_dynamic(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn,
                                 void *arg)

    ctypedef struct tc_ctx:
        tc_pool *pool
        int isa
    int tc_ctx_init(tc_ctx *ctx, tc_pool *pool, int isa)
    int tc_ctx_set_vnni(tc_ctx *ctx, int vnni)

    # -- GEMM and dense layers --------------------------------------------
    size_t tc_gemm_workspace_size(const tc_ctx *ctx)
    void tc_sgemm_f32(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                      ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta, float *C,
                      ptrdiff_t ldc, const tc_ctx *ctx, float *workspace)
    size_t tc_dense_pack_size(int K, int Nout)
    void tc_dense_pack_f32(int K, int Nout, const float *weight, int trans_b, float *packed)
    size_t tc_dense_workspace_size(const tc_ctx *ctx, int M, int K, int Nout)
    void tc_dense_f32(const tc_ctx *ctx, int M, int K, int Nout, const float *a, const float *packed,
                      const float *bias, int act, float *y, float *workspace)
    void tc_dense_rows_f32(const tc_ctx *ctx, int M, int K, int Nout, const float *a,
                           const float *weight, const float *bias, int act, float *y)

    # -- convolution: every algorithm behind one interface ------------------
    ctypedef struct tc_conv2d_params:
        int C, K, KH, KW, sh, sw, pt, pl, pb, pr, dh, dw, group
    enum:
        TC_CONV_ALGO_GEMM
        TC_CONV_ALGO_1X1
        TC_CONV_ALGO_DEPTHWISE
        TC_CONV_ALGO_REFERENCE
        TC_CONV_ALGO_WINOGRAD_2X2_3X3
        TC_CONV_ALGO_WINOGRAD_4X4_3X3
        TC_CONV_ALGO_WINOGRAD_2X2_5X5
        TC_CONV_ALGO_GROUPED
        TC_CONV_ALGO_1X1_CHAN
        TC_CONV_ALGO_STEM
    int tc_conv2d_check(const tc_conv2d_params *p, int algo)
    int tc_conv2d_output_hw(const tc_conv2d_params *p, int h, int w, int *oh, int *ow)
    size_t tc_conv2d_pack_size(const tc_conv2d_params *p, int algo)
    void tc_conv2d_pack_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                            const float *weight, float *packed)
    size_t tc_conv2d_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n,
                                    int h, int w)
    void tc_conv2d_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h, int w,
                       const float *x, const float *packed, const float *bias,
                       const float *residual, const tc_activation *act, float *y,
                       float *workspace)
    int tc_conv2d_strided_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n,
                              int h, int w, const float *x, const float *packed,
                              const float *bias, const float *residual,
                              const tc_activation *act, float *y, ptrdiff_t ldy,
                              float *workspace)
    int tc_conv2d_means_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h,
                            int w, const float *x, const float *packed, const float *bias,
                            const float *residual, const tc_activation *act, float *y,
                            float *means, const void *prefetch, size_t prefetch_bytes,
                            float *workspace)
    size_t tc_conv2d_scaled_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                                           int n, int h, int w)
    int tc_conv2d_scaled_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int n, int h,
                             int w, const float *x, const float *scale, const float *packed,
                             const float *bias, const float *residual, const tc_activation *act,
                             float *y, float *workspace)
    enum:
        TC_SCALED_WEIGHTS
        TC_SCALED_B_COPY
        TC_SCALED_X_COPY
    int tc_conv2d_scaled_mode(const tc_ctx *ctx, const tc_conv2d_params *p, int algo, int h,
                              int w)

    ctypedef struct tc_ir_stage:
        tc_conv2d_params p
        int algo
        const float *packed
        const float *bias
        const tc_activation *act
    int tc_ir_fused_check(const tc_ir_stage *expand, const tc_ir_stage *dw,
                          const tc_ir_stage *project, int h, int w, int band)
    size_t tc_ir_fused_workspace_size(const tc_ctx *ctx, const tc_ir_stage *expand,
                                      const tc_ir_stage *dw, const tc_ir_stage *project, int h,
                                      int w, int band)
    void tc_ir_fused_f32(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                         const tc_ir_stage *project, int n, int h, int w, int band,
                         const float *x, const float *residual, float *y,
                         float *workspace)
    int tc_ir_chan8_check(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                          const tc_ir_stage *project, int h, int w, int band)
    size_t tc_ir_chan8_workspace_size(const tc_ctx *ctx, const tc_ir_stage *expand,
                                      const tc_ir_stage *dw, const tc_ir_stage *project, int h,
                                      int w, int band)
    void tc_ir_chan8_f32(const tc_ctx *ctx, const tc_ir_stage *expand, const tc_ir_stage *dw,
                         const tc_ir_stage *project, int n, int h, int w, int band,
                         const float *x, const float *residual, float *y, float *workspace)
    size_t tc_pw_sparse_pack_size(int K2, int E)
    int tc_pw_sparse_pack(int K2, int E, const float *w, float *packed)
    size_t tc_ir_chan8_sparse_workspace_size(const tc_ctx *ctx, const tc_ir_stage *expand,
                                             const tc_ir_stage *dw, const tc_ir_stage *project,
                                             int h, int w, int band)
    void tc_ir_chan8_sparse_f32(const tc_ctx *ctx, const tc_ir_stage *expand,
                                const tc_ir_stage *dw, const tc_ir_stage *project,
                                const float *sparse, int n, int h, int w, int band,
                                const float *x, const float *residual, float *y, float *workspace)
    void tc_ir_chan8_pair_f32(const tc_ctx *ctx, const tc_ir_stage *expand,
                              const tc_ir_stage *dw, int n, int h, int w, const float *x,
                              float *y, float *means, const void *prefetch,
                              size_t prefetch_bytes, float *workspace)
    enum: TC_FIRE_MAX_MODULES
    int tc_fire_check(const tc_ir_stage *st, int modules, int h, int w)
    size_t tc_fire_workspace_size(const tc_ctx *ctx, const tc_ir_stage *st, int modules, int h,
                                  int w)
    void tc_fire_f32(const tc_ctx *ctx, const tc_ir_stage *st, int modules, int n, int h,
                     int w, const float *x, float *y, float *workspace)
    int tc_pg_fused_check(const tc_ir_stage *pw, const tc_ir_stage *gc, const tc_ir_stage *sc,
                          int h, int w, int band)
    size_t tc_pg_fused_workspace_size(const tc_ctx *ctx, const tc_ir_stage *pw,
                                      const tc_ir_stage *gc, const tc_ir_stage *sc, int h, int w,
                                      int band)
    void tc_pg_fused_f32(const tc_ctx *ctx, const tc_ir_stage *pw, const tc_ir_stage *gc,
                         const tc_ir_stage *sc, int n, int h, int w, int band, const float *x,
                         float *y, float *means, float *ys, float *workspace)

    int tc_stem_fused_check(const tc_ir_stage *stem, const tc_ir_stage *dw,
                            const tc_ir_stage *project, int residual, int h, int w, int band)
    size_t tc_stem_fused_workspace_size(const tc_ctx *ctx, const tc_ir_stage *stem,
                                        const tc_ir_stage *dw, const tc_ir_stage *project,
                                        int residual, int h, int w, int band)
    void tc_stem_fused_f32(const tc_ctx *ctx, const tc_ir_stage *stem, const tc_ir_stage *dw,
                           const tc_ir_stage *project, int residual, int n, int h, int w,
                           int band, const float *x, float *y, float *workspace)

    # -- transposed convolution ----------------------------------------------
    ctypedef struct tc_conv_depth:
        int KD, sd, dd, pf
    int tc_conv_transpose_check(const tc_conv2d_params *p, const tc_conv_depth *dp, int d, int h, int w,
                                int od, int oh, int ow)
    size_t tc_conv_transpose_pack_size(const tc_conv2d_params *p, const tc_conv_depth *dp)
    void tc_conv_transpose_pack_f32(const tc_conv2d_params *p, const tc_conv_depth *dp, const float *weight,
                                    float *packed)
    size_t tc_conv_transpose_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p,
                                            const tc_conv_depth *dp, int d, int h, int w)
    void tc_conv_transpose_f32(const tc_ctx *ctx, const tc_conv2d_params *p, const tc_conv_depth *dp, int n,
                               int d, int h, int w, int od, int oh, int ow, const float *x,
                               const float *packed, const float *bias, int act, float *y,
                               float *workspace)
    void tc_conv_transpose_ref_f32(const tc_conv2d_params *p, const tc_conv_depth *dp, int n, int d, int h,
                                   int w, int od, int oh, int ow, const float *x, const float *weight,
                                   const float *bias, int act, float *y)

    # -- pooling ------------------------------------------------------------
    ctypedef struct tc_pool2d_desc:
        ptrdiff_t nc
        int h, w, oh, ow, kh, kw, sh, sw
        int pad_t, pad_l, pad_b, pad_r
        int dh, dw
    int tc_pool2d_check(const tc_pool2d_desc *d)
    void tc_max_pool2d_f32(const tc_ctx *ctx, const tc_pool2d_desc *d, const float *x, float *y)
    void tc_avg_pool2d_f32(const tc_ctx *ctx, const tc_pool2d_desc *d, int count_include_pad,
                           const float *x, float *y)
    void tc_global_avg_pool_f32(const tc_ctx *ctx, ptrdiff_t nc, ptrdiff_t s, const float *x,
                                float *y)
    void tc_global_max_pool_f32(const tc_ctx *ctx, ptrdiff_t nc, ptrdiff_t s, const float *x,
                                float *y)
    int tc_conv2d_maxpool_check(const tc_conv2d_params *p, int algo, const tc_pool2d_desc *q,
                                int h, int w)
    size_t tc_conv2d_maxpool_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p,
                                            int algo, const tc_pool2d_desc *q, int h, int w)
    int tc_conv2d_maxpool_f32(const tc_ctx *ctx, const tc_conv2d_params *p, int algo,
                              const tc_pool2d_desc *q, int n, int h, int w, const float *x,
                              const float *packed, const float *bias,
                              const tc_activation *act, float *y, float *workspace)
    size_t tc_se_workspace_size(int n, int c, int c1)
    int tc_se_f32(const tc_ctx *ctx, int n, int c, ptrdiff_t s, int c1, const float *x,
                  const float *w1, const float *b1, const tc_activation *act1, const float *w2,
                  const float *b2, const tc_activation *act2, float *y, float *workspace)
    size_t tc_se_gate_workspace_size(int n, int c, int c1)
    int tc_se_gate_f32(const tc_ctx *ctx, int n, int c, ptrdiff_t s, int c1, const float *x,
                       const float *w1, const float *b1, const tc_activation *act1,
                       const float *w2, const float *b2, const tc_activation *act2, float *gate,
                       float *workspace)
    int tc_se_gate_means_f32(const tc_ctx *ctx, int n, int c, int c1, const float *means,
                             const float *w1, const float *b1, const tc_activation *act1,
                             const float *w2, const float *b2, const tc_activation *act2,
                             float *gate, float *workspace)

    # -- element-wise, normalisation, softmax, reductions -------------------
    enum:
        TC_UNARY_RELU
        TC_UNARY_LEAKY_RELU
        TC_UNARY_SIGMOID
        TC_UNARY_HARD_SIGMOID
        TC_UNARY_HARD_SWISH
        TC_UNARY_CLIP
        TC_UNARY_TANH
        TC_UNARY_EXP
        TC_UNARY_NEG
        TC_UNARY_ABS
        TC_UNARY_SQRT
        TC_UNARY_ERF
        TC_UNARY_LOG
        TC_UNARY_RECIPROCAL
        TC_UNARY_SOFTPLUS
        TC_UNARY_MISH
        TC_UNARY_ELU
        TC_UNARY_SELU
        TC_UNARY_GELU
        TC_UNARY_GELU_TANH
        TC_UNARY_SILU
        TC_BINARY_ADD
        TC_BINARY_SUB
        TC_BINARY_MUL
        TC_BINARY_DIV
        TC_BINARY_MAX
        TC_BINARY_MIN
        TC_BINARY_POW
        TC_BINARY_PRELU
        TC_REDUCE_MEAN
        TC_REDUCE_SUM
        TC_REDUCE_MAX
        TC_REDUCE_MIN
        TC_MAX_DIMS
    int tc_unary_f32(const tc_ctx *ctx, int op, float alpha, float beta, const float *x, float *y,
                     ptrdiff_t n)
    int tc_binary_f32(const tc_ctx *ctx, int op, int ndim, const ptrdiff_t *y_shape,
                      const float *a, const ptrdiff_t *a_shape,
                      const float *b, const ptrdiff_t *b_shape, float *y)
    void tc_batch_norm_f32(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s, const float *x,
                           const float *scale, const float *bias, const float *mean,
                           const float *var, float eps, float *y)
    void tc_batch_norm_act_f32(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s,
                               const float *x, const float *scale, const float *bias,
                               const float *mean, const float *var, float eps, int relu, float *y)
    void tc_copy_planes_f32(const tc_ctx *ctx, ptrdiff_t planes, ptrdiff_t n, const float *x,
                            float *y, ptrdiff_t y_stride)
    void tc_lrn_f32(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s, int size, float alpha,
                    float beta, float bias, const float *x, float *y)
    void tc_softmax_f32(const tc_ctx *ctx, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                        int log_softmax, const float *x, float *y)
    int tc_reduce_f32(const tc_ctx *ctx, int op, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                      const float *x, float *y)
    int tc_normalize_f32(const tc_ctx *ctx, ptrdiff_t rows, ptrdiff_t s, ptrdiff_t chunk,
                         ptrdiff_t period, const float *x, const float *scale, const float *bias,
                         float eps, float *y, float *mean, float *inv_std)

    # -- resampling: Resize and Upsample -------------------------------------
    ctypedef struct tc_resample_axis:
        int in_ "in"
        int out, taps
        const int32_t *idx
        const float *w
        const unsigned char *outside
        float fill
    size_t tc_resize2d_workspace_size(const tc_ctx *ctx, const tc_resample_axis *rows,
                                      const tc_resample_axis *cols)
    int tc_resize2d_f32(const tc_ctx *ctx, ptrdiff_t planes, const tc_resample_axis *rows,
                        const tc_resample_axis *cols, const float *x, float *y, float *workspace)

    # -- 8-bit quantized kernels (quant.c, qgemm.c, qconv.c) ---------------
    int tc_quantize_f32(const tc_ctx *ctx, ptrdiff_t outer, ptrdiff_t c, ptrdiff_t inner,
                        const float *x, const float *scale, const int32_t *zero_point, int nscale,
                        int is_signed, void *y)
    int tc_dequantize_f32(const tc_ctx *ctx, ptrdiff_t outer, ptrdiff_t c, ptrdiff_t inner,
                          const void *x, int elem_bytes, int is_signed, const float *scale,
                          const int32_t *zero_point, int nscale, float *y)
    enum:
        TC_QBINARY_ADD
        TC_QBINARY_MUL
    ctypedef struct tc_qbinary_params:
        int op
        int is_signed
        float a_scale, b_scale, y_scale
        int a_zero_point, b_zero_point, y_zero_point
    int tc_qbinary(const tc_ctx *ctx, const tc_qbinary_params *p, int ndim, const ptrdiff_t *y_shape,
                   const void *a, const ptrdiff_t *a_shape, const void *b, const ptrdiff_t *b_shape,
                   void *y)
    void tc_lookup_u8(const tc_ctx *ctx, const uint8_t *table, const uint8_t *x, ptrdiff_t n,
                      uint8_t *y)
    void tc_transpose_channels(const tc_ctx *ctx, int channels_last, ptrdiff_t n, ptrdiff_t c,
                               ptrdiff_t s, int elem_bytes, const void *x, void *y)
    void tc_max_pool2d_nhwc_8(const tc_ctx *ctx, const tc_pool2d_desc *d, ptrdiff_t c, int is_signed,
                              const void *x, void *y)
    void tc_qavg_pool2d_nhwc(const tc_ctx *ctx, const tc_pool2d_desc *d, ptrdiff_t c, int is_signed,
                             int count_include_pad, float x_scale, int x_zero_point, float y_scale,
                             int y_zero_point, const void *x, void *y)
    int tc_qglobal_avg_pool_nhwc(const tc_ctx *ctx, ptrdiff_t n, ptrdiff_t s, ptrdiff_t c,
                                 int is_signed, float x_scale, int x_zero_point, float y_scale,
                                 int y_zero_point, const void *x, void *y)
    enum:
        TC_QOUT_U8
        TC_QOUT_S8
        TC_QOUT_S32
        TC_QOUT_F32
        TC_QFMT_S8X4
        TC_QFMT_S16X2
        TC_QFMT_U8S8X2
        TC_QFMT_U7S8
    ctypedef struct tc_qresidual:
        const void *r
        float ra, rb, fixed
        int q_is_a
    void tc_qresidual_init(tc_qresidual *res, const tc_qbinary_params *p, int q_is_a)
    ctypedef struct tc_qoutput:
        int type
        const int32_t *bias
        const float *scale
        int per_channel
        int zero_point, lo, hi
        const tc_qresidual *residual
        const uint8_t *lut
    int tc_qgemm_choose_format(const tc_ctx *ctx, int w_min, int w_max)
    int tc_qgemm_choose_format_for(const tc_ctx *ctx, int K, int N, const int16_t *w, ptrdiff_t ldw)
    double tc_qgemm_u8s8x2_share(int K, int N, const int16_t *w, ptrdiff_t ldw)
    double TC_QGEMM_U8S8X2_MAX_SHARE
    size_t tc_qgemm_pack_size(int format, int K, int N)
    size_t tc_qgemm_pack_size_for(int format, int K, int N, const int16_t *w, ptrdiff_t ldw)
    void tc_qgemm_pack(int format, int K, int N, const int16_t *w, ptrdiff_t ldw, void *packed)
    size_t tc_qgemm_workspace_size(const tc_ctx *ctx, int format, int M, int N, int K)
    void tc_qgemm(const tc_ctx *ctx, int format, int M, int N, int K, const void *a, ptrdiff_t lda,
                  int a_signed, int a_zero_point, const void *packed, const tc_qoutput *out, void *y,
                  ptrdiff_t ldy, void *workspace)
    size_t tc_qconv2d_workspace_size(const tc_ctx *ctx, int format, const tc_conv2d_params *p,
                                     int n, int h, int w)
    void tc_qconv2d(const tc_ctx *ctx, int format, const tc_conv2d_params *p, int n, int h, int w,
                    const void *x, int x_signed, int x_zero_point, const void *packed,
                    const tc_qoutput *out, void *y, void *workspace)
    int tc_qstem_klen(int format, const tc_conv2d_params *p)
    size_t tc_qstem_workspace_size(const tc_ctx *ctx, int format, const tc_conv2d_params *p,
                                   int n, int h, int w)
    void tc_qstem(const tc_ctx *ctx, int format, const tc_conv2d_params *p, int n, int h, int w,
                  const void *x, int x_signed, int x_zero_point, const void *packed,
                  const tc_qoutput *out, void *y, void *workspace)
    int tc_qwinograd_fits(const tc_conv2d_params *p, const int16_t *w)
    size_t tc_qwinograd_pack_size(const tc_conv2d_params *p)
    void tc_qwinograd_pack(const tc_conv2d_params *p, const int16_t *w, void *packed)
    size_t tc_qwinograd_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h,
                                       int w)
    void tc_qwinograd(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h, int w,
                      const void *x, int x_signed, int x_zero_point, const void *packed,
                      const tc_qoutput *out, void *y, void *workspace)
    size_t tc_qconv2d_depthwise_pack_size(const tc_conv2d_params *p)
    void tc_qconv2d_depthwise_pack(const tc_conv2d_params *p, const int16_t *w, void *packed)
    size_t tc_qconv2d_depthwise_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p,
                                               int n, int h, int w)
    void tc_qconv2d_depthwise(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h, int w,
                              const void *x, int x_signed, int x_zero_point, const void *packed,
                              const tc_qoutput *out, void *y, void *workspace)


# The float GEMM driver with a row-scaled B (the test hook of gemm_internal.h's tc_dense_b row_scale).
cdef extern from "gemm_internal.h" nogil:
    size_t tc_gemm_pack_a_size(int M, int K)
    size_t tc_gemm_pack_a_chan_size(int M, int K)
    int tc_gemm_scaled_b_f32(const tc_ctx *ctx, int M, int N, int K, const float *A, int chan,
                             float *packed_a, const float *B, ptrdiff_t ldb, int trans_b,
                             const float *row_scale, const float *bias, int relu, float *C,
                             float *workspace)


# The 8-bit micro-kernel a ctx runs (tests and benchmarks name it).
cdef extern from "qgemm_internal.h" nogil:
    ctypedef struct tc_qukernel:
        const char *name
    tc_qukernel tc_qukernel_for(const tc_ctx *ctx, int format)
