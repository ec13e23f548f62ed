/* AVX2 twin of resize.c's plane loops (compiled with -mavx2 -mfma): the same body. */
#include "tinycnn.h"
#include "resize_internal.h"
#include "resize_impl.h"

void tc_resize_plane_rows_avx2_(const tc_resample_axis *rows, const tc_resample_axis *cols, int row_kind,
                                int col_kind, const float *x, float *y, int i0, int i1, float *t)
{
    resize_plane_rows_(rows, cols, row_kind, col_kind, x, y, i0, i1, t);
}
