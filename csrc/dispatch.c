/* Instruction-set dispatch: the one place that knows which kernels exist for
 * which instruction set.  Each kernel family (GEMM, convolution, Winograd,
 * pooling, element-wise, normalisation, resampling, transposed convolution,
 * 8-bit quantized) exports one table of function pointers per ISA from its own
 * files (tc_gemm_portable in gemm.c, tc_gemm_avx2 in gemm_avx2.c, ...);
 * tc_ctx_init picks the row of the table below once, and the kernels find
 * their family's entry through tc_<family>_kernels_of(ctx).
 *
 * Adding a kernel family: its tables in its files, a member in
 * tc_kernel_table, an entry in each row, a tc_<family>_kernels_of below.
 * Adding an instruction set: its files (setup.py compiles *_<isa>.c with its
 * flags), a row, its CPUID test in tc_cpu_best_isa.  A row may reuse another
 * set's families (AVX-512 keeps AVX2's except the GEMM).
 *
 * The 8-bit kernels have a second, independent axis: a VNNI extension
 * (vpdpbusd) on top of the AVX2 or AVX-512 row.  tc_ctx_set_vnni swaps the row
 * for its twin below whose only difference is the quant member. */
#include "conv_internal.h"
#include "conv_transpose_internal.h"
#include "eltwise_internal.h"
#include "gemm_internal.h"
#include "normalize_internal.h"
#include "pool2d_internal.h"
#include "quant_internal.h"
#include "resize_internal.h"
#include "tinycnn.h"
#include "winograd_internal.h"

struct tc_kernel_table {
    const tc_gemm_kernels *gemm;
    const tc_conv_kernels *conv;
    const tc_wg_kernels *winograd;
    const tc_pool2d_kernels *pool2d;
    const tc_eltwise_kernels *eltwise;
    const tc_normalize_kernels *normalize;
    const tc_resize_kernels *resize;
    const tc_conv_transpose_kernels *conv_transpose;
    const tc_quant_kernels *quant;   /* 8-bit; its VNNI tiers are the rows' twins below */
};

static const struct tc_kernel_table portable = {
    &tc_gemm_portable, &tc_conv_portable, &tc_wg_portable, &tc_pool2d_portable,
    &tc_eltwise_portable, &tc_normalize_portable, &tc_resize_portable, &tc_conv_transpose_portable,
    &tc_quant_portable,
};

/* The *_avx2.c files are compiled only for x86-64 (setup.py defines
 * TC_HAVE_AVX2_SOURCES then), with -mavx2 -mfma. */
#ifdef TC_HAVE_AVX2_SOURCES
static const struct tc_kernel_table avx2 = {
    &tc_gemm_avx2, &tc_conv_avx2, &tc_wg_avx2, &tc_pool2d_avx2, &tc_eltwise_avx2,
    &tc_normalize_avx2, &tc_resize_avx2, &tc_conv_transpose_avx2, &tc_quant_avx2,
};

/* AVX2's row with the GEMM tiles in zmm registers (gemm_avx512.c): the GEMM, the
 * 1x1 and im2col convolutions and Winograd's products run on them; the depthwise
 * kernel (conv_avx512.c) and Sigmoid and SiLU (standalone and fused,
 * eltwise_avx512.c) on 16 lanes.  The other families stay AVX2's until a
 * measurement shows AVX-512 pays for them (the 8-bit kernels' 512-bit tier is
 * AVX-512 VNNI, chosen by tc_ctx_set_vnni). */
static const struct tc_kernel_table avx512 = {
    &tc_gemm_avx512, &tc_conv_avx512, &tc_wg_avx2, &tc_pool2d_avx2, &tc_eltwise_avx512,
    &tc_normalize_avx2, &tc_resize_avx2, &tc_conv_transpose_avx2, &tc_quant_avx2,
};

/* The AVX2 and AVX-512 rows with the 8-bit GEMM and convolution on a VNNI extension
 * (tc_ctx_set_vnni picks them; AVX2 without VNNI is the tier the project targets). */
static const struct tc_kernel_table avx2_avxvnni = {
    &tc_gemm_avx2, &tc_conv_avx2, &tc_wg_avx2, &tc_pool2d_avx2, &tc_eltwise_avx2,
    &tc_normalize_avx2, &tc_resize_avx2, &tc_conv_transpose_avx2, &tc_quant_avxvnni,
};
static const struct tc_kernel_table avx2_avx512vnni = {
    &tc_gemm_avx2, &tc_conv_avx2, &tc_wg_avx2, &tc_pool2d_avx2, &tc_eltwise_avx2,
    &tc_normalize_avx2, &tc_resize_avx2, &tc_conv_transpose_avx2, &tc_quant_avx512vnni,
};
static const struct tc_kernel_table avx512_avxvnni = {
    &tc_gemm_avx512, &tc_conv_avx512, &tc_wg_avx2, &tc_pool2d_avx2, &tc_eltwise_avx512,
    &tc_normalize_avx2, &tc_resize_avx2, &tc_conv_transpose_avx2, &tc_quant_avxvnni,
};
static const struct tc_kernel_table avx512_avx512vnni = {
    &tc_gemm_avx512, &tc_conv_avx512, &tc_wg_avx2, &tc_pool2d_avx2, &tc_eltwise_avx512,
    &tc_normalize_avx2, &tc_resize_avx2, &tc_conv_transpose_avx2, &tc_quant_avx512vnni,
};

int tc_cpu_best_isa(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        if (__builtin_cpu_supports("avx512f"))
            return TC_ISA_AVX512;
        return TC_ISA_AVX2;
    }
#endif
    return TC_ISA_PORTABLE;
}

static const struct tc_kernel_table *table_of_isa(int isa)
{
    switch (isa) {
    case TC_ISA_AVX512: return &avx512;
    case TC_ISA_AVX2: return &avx2;
    case TC_ISA_PORTABLE: return &portable;
    default: return NULL;
    }
}
#else
int tc_cpu_best_isa(void) { return TC_ISA_PORTABLE; }

static const struct tc_kernel_table *table_of_isa(int isa)
{
    return isa == TC_ISA_PORTABLE ? &portable : NULL;
}
#endif

/* A row that misses a family (one added after the row was written: rows are brace
 * lists) would hand a NULL table to that family's kernels; tc_ctx_init refuses such a
 * row.  The assertion makes whoever adds a member come here. */
_Static_assert(sizeof(struct tc_kernel_table) == 9 * sizeof(void *),
               "a kernel family was added: check it in row_complete");

static int row_complete(const struct tc_kernel_table *t)
{
    return t->gemm && t->conv && t->winograd && t->pool2d && t->eltwise && t->normalize
        && t->resize && t->conv_transpose && t->quant;
}

int tc_ctx_init(tc_ctx *ctx, tc_pool *pool, int isa)
{
    const struct tc_kernel_table *t = isa <= tc_cpu_best_isa() ? table_of_isa(isa) : NULL;
    if (t && !row_complete(t))
        t = NULL;
    ctx->pool = pool;
    ctx->isa = t ? isa : TC_ISA_PORTABLE;
    ctx->kernels = t ? t : &portable;
    return t ? 0 : -1;
}

int tc_ctx_set_vnni(tc_ctx *ctx, int vnni)
{
    if (vnni == TC_VNNI_NONE)
        return 0;
#ifdef TC_HAVE_AVX2_SOURCES
    /* Each extension is tested for itself: AVX-512 VNNI does not imply AVX-VNNI
     * (Cascade Lake has the first only), nor the reverse (Alder Lake). */
    int has = (vnni == TC_VNNI_AVX || vnni == TC_VNNI_AVX512) && tc_cpu_has_vnni(vnni);
    const struct tc_kernel_table *twin = NULL;
    if (ctx->kernels == &avx2)
        twin = vnni == TC_VNNI_AVX ? &avx2_avxvnni : &avx2_avx512vnni;
    else if (ctx->kernels == &avx512)
        twin = vnni == TC_VNNI_AVX ? &avx512_avxvnni : &avx512_avx512vnni;
    if (has && twin && row_complete(twin)) {
        ctx->kernels = twin;
        return 0;
    }
#endif
    return -1;
}

/* NULL ctx (or one not made by tc_ctx_init): portable. */
static const struct tc_kernel_table *table_of(const tc_ctx *ctx)
{
    return ctx && ctx->kernels ? ctx->kernels : &portable;
}

const tc_gemm_kernels *tc_gemm_kernels_of(const tc_ctx *ctx) { return table_of(ctx)->gemm; }
const tc_conv_kernels *tc_conv_kernels_of(const tc_ctx *ctx) { return table_of(ctx)->conv; }
const tc_wg_kernels *tc_wg_kernels_of(const tc_ctx *ctx) { return table_of(ctx)->winograd; }
const tc_pool2d_kernels *tc_pool2d_kernels_of(const tc_ctx *ctx) { return table_of(ctx)->pool2d; }
const tc_eltwise_kernels *tc_eltwise_kernels_of(const tc_ctx *ctx) { return table_of(ctx)->eltwise; }
const tc_normalize_kernels *tc_normalize_kernels_of(const tc_ctx *ctx) { return table_of(ctx)->normalize; }
const tc_resize_kernels *tc_resize_kernels_of(const tc_ctx *ctx) { return table_of(ctx)->resize; }
const tc_conv_transpose_kernels *tc_conv_transpose_kernels_of(const tc_ctx *ctx)
{
    return table_of(ctx)->conv_transpose;
}
const tc_quant_kernels *tc_quant_kernels_of(const tc_ctx *ctx) { return table_of(ctx)->quant; }
