/* Private helpers shared by resize.c and resize_avx2.c. */
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

#ifdef TC_HAVE_AVX2_SOURCES
void tc_resize_plane_rows_avx2_(const tc_resample_axis *rows, const tc_resample_axis *cols, int row_kind,
                                int col_kind, const float *x, float *y, int i0, int i1, float *t);
#endif

#endif
