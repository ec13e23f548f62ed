/* AVX2 twins of the element-wise loops in eltwise.c (compiled with -mavx2 -mfma). */
#include <immintrin.h>
#include "tinycnn.h"
#include "eltwise_internal.h"
#include "eltwise_impl.h"
#include "epilogue_avx2.h"

static void binary_run_avx2(int op, const float *a, int sa, const float *b, int sb, float *y, ptrdiff_t n)
{
    binary_run_(op, a, sa, b, sb, y, n);
}

/* eltwise_internal.h mul_rows: rows of 8-value vectors times the row's value, the last 1-7
 * values of a row one at a time (rows of 49 at 7x7: 6 vectors and 1); the products of
 * binary_run's loop (one rounding each, the operands in the Mul's order), so the same bits. */
static void mul_rows_avx2(const float *x, const float *q, int q_first, float *y, ptrdiff_t rows,
                          ptrdiff_t n)
{
    for (ptrdiff_t r = 0; r < rows; r++, x += n, y += n) {
        const float s = q[r];
        const __m256 v = _mm256_set1_ps(s);
        ptrdiff_t i = 0;
        if (q_first) {
            for (; i + 8 <= n; i += 8)
                _mm256_storeu_ps(y + i, _mm256_mul_ps(v, _mm256_loadu_ps(x + i)));
            for (; i < n; i++)
                y[i] = s * x[i];
        } else {
            for (; i + 8 <= n; i += 8)
                _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), v));
            for (; i < n; i++)
                y[i] = x[i] * s;
        }
    }
}

static void unary_run_avx2(int op, float alpha, float beta, const float *x, float *y, ptrdiff_t n)
{
    if (op == TC_UNARY_SQRT) {
        /* gcc keeps sqrtf scalar (errno); sqrtps is correctly rounded like it */
        ptrdiff_t i = 0;
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
        for (; i < n; i++)
            y[i] = sqrtf(x[i]);
        return;
    }
    if (op == TC_UNARY_SIGMOID || op == TC_UNARY_SILU) {
        tc_sigmoid_run_avx2(op == TC_UNARY_SILU, x, y, n);
        return;
    }
    unary_run_(op, alpha, beta, x, y, n);
}

static void lrn_div_pow075_avx2(const float *x, float *y, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r = _mm256_sqrt_ps(_mm256_loadu_ps(y + i));
        _mm256_storeu_ps(y + i, _mm256_div_ps(_mm256_loadu_ps(x + i), _mm256_mul_ps(r, _mm256_sqrt_ps(r))));
    }
    for (; i < n; i++) {
        float r = sqrtf(y[i]);
        y[i] = x[i] / (r * sqrtf(r));
    }
}

const tc_eltwise_kernels tc_eltwise_avx2 = {
    .binary_run = binary_run_avx2,
    .unary_run = unary_run_avx2,
    .lrn_div_pow075 = lrn_div_pow075_avx2,
    .act_rows = tc_act_rows_avx2,
    .mul_rows = mul_rows_avx2,
};
