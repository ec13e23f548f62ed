/* The element-wise family on AVX-512 (compiled with -mavx512f -mavx2 -mfma):
 * Sigmoid and SiLU, standalone and as the GEMM driver's deferred epilogue, on
 * 16 lanes (epilogue_avx512.h, the same bits as AVX2's); everything else is
 * AVX2's (tc_eltwise_avx2). */
#include <immintrin.h>
#include "eltwise_internal.h"
#include "epilogue_avx512.h"

static void binary_run_avx512(int op, const float *a, int sa, const float *b, int sb, float *y, ptrdiff_t n)
{
    tc_eltwise_avx2.binary_run(op, a, sa, b, sb, y, n);
}

static void unary_run_avx512(int op, float alpha, float beta, const float *x, float *y, ptrdiff_t n)
{
    if (op == TC_UNARY_SIGMOID || op == TC_UNARY_SILU)
        tc_sigmoid_run_avx512(op == TC_UNARY_SILU, x, y, n);
    else
        tc_eltwise_avx2.unary_run(op, alpha, beta, x, y, n);
}

static void mul_rows_avx512(const float *x, const float *q, int q_first, float *y,
                            ptrdiff_t rows, ptrdiff_t n)
{
    tc_eltwise_avx2.mul_rows(x, q, q_first, y, rows, n);
}

static void lrn_div_pow075_avx512(const float *x, float *y, ptrdiff_t n)
{
    tc_eltwise_avx2.lrn_div_pow075(x, y, n);
}

const tc_eltwise_kernels tc_eltwise_avx512 = {
    .binary_run = binary_run_avx512,
    .unary_run = unary_run_avx512,
    .lrn_div_pow075 = lrn_div_pow075_avx512,
    .act_rows = tc_act_rows_avx512,
    .mul_rows = mul_rows_avx512,
};
