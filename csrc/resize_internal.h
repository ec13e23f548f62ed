/* Private to resize.c and resize_avx2.c: table shapes and the family's kernel table. */
#ifndef TC_RESIZE_INTERNAL_H
#define TC_RESIZE_INTERNAL_H
#include "tinycnn.h"

/* What a resample table amounts to, found once per call (resize.c): the loops take
 * shortcuts for each. */
enum {
    TC_RESAMPLE_GENERAL = 0,
    TC_RESAMPLE_IDENTITY,   /* out == in, idx[j] == j, weight 1 */
    TC_RESAMPLE_NEAREST,    /* one tap of weight 1 */
    TC_RESAMPLE_NEAREST_2X  /* out == 2 * in, idx[j] == j / 2, weight 1 */
};

/* Output rows [i0, i1) of one plane, t: a row of cols->in floats (resize_impl.h). */
typedef void (*tc_resize_rows_fn)(const tc_resample_axis *rows, const tc_resample_axis *cols, int row_kind,
                                  int col_kind, const float *x, float *y, int i0, int i1, float *t);
/* The same, columns first, h: rows->taps * cols->out floats (resize_impl.h). */
typedef void (*tc_resize_cols_first_fn)(const tc_resample_axis *rows, const tc_resample_axis *cols,
                                        int col_kind, const float *x, float *y, int i0, int i1, float *h);

/* The most row taps the columns-first loop takes (cubic: 4) */
#define TC_RESIZE_COLS_FIRST_TAPS 4

/* The resampling family's kernels for one instruction set: tc_resize_portable (resize.c)
 * and tc_resize_avx2 (resize_avx2.c); dispatch.c picks one per tc_ctx.  Both give
 * identical results. */
typedef struct tc_resize_kernels {
    tc_resize_rows_fn plane_rows;
    tc_resize_cols_first_fn plane_cols_first;
} tc_resize_kernels;

extern const tc_resize_kernels tc_resize_portable, tc_resize_avx2;
const tc_resize_kernels *tc_resize_kernels_of(const tc_ctx *ctx);

#endif
