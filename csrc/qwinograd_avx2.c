/* AVX2 twin of tc_qwg_chunk_portable (qwinograd.c): the same body, compiled with -mavx2
 * (its transforms vectorised by the compiler), with the vector output stage. */
#include "quant_avx2.h"
#include "qwinograd_internal.h"

#define QWG_NAME tc_qwg_chunk_avx2
#define QWG_EPI_DECL(e)                                                                  \
    tc_qepi_avx2 qv = tc_qepi_avx2_load((e)->bias, (e)->scale, (e)->zero_point, (e)->lo,  \
                                        (e)->hi)
#define QWG_STORE(acc, e, nr, y)                                                         \
    tc_qstore_row_avx2(_mm256_loadu_si256((const __m256i *)(acc)),                       \
                       _mm256_loadu_si256((const __m256i *)(acc) + 1), (e)->type, &qv,    \
                       (e)->residual, (e)->r, nr, y)
#include "qwinograd_body.h"
