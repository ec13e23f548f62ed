/* AVX2 twin of normalize.c's row loop (compiled with -mavx2 -mfma): the same body. */
#include "tinycnn.h"
#include "normalize_internal.h"
#include "normalize_impl.h"

const tc_normalize_kernels tc_normalize_avx2 = {normalize_row_};
