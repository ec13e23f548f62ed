/* One checkout's csrc/ir_chan8_avx2.c under other names (benchmarks/chan8_ab.sh): its strips
 * entry as STRIPS_FN, its rows entry as ROWS_FN (and, since h42-mn, its strips entry with d's
 * plane stride as STRIPS_FN_ld, so that two such checkouts link side by side). */
#define CHAN8_AB_CAT2(a, b) a##b
#define CHAN8_AB_CAT(a, b) CHAN8_AB_CAT2(a, b)
#define tc_ir_chan8_strips_avx2 STRIPS_FN
#define tc_ir_chan8_strips_ld_avx2 CHAN8_AB_CAT(STRIPS_FN, _ld)
#define tc_ir_chan8_rows_avx2 ROWS_FN
#include "ir_chan8_avx2.c"
