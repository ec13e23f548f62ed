/* One checkout's csrc/ir_chan8_avx2.c under other names (benchmarks/chan8_ab.sh): its strips
 * entry as STRIPS_FN, its rows entry as ROWS_FN. */
#define tc_ir_chan8_strips_avx2 STRIPS_FN
#define tc_ir_chan8_rows_avx2 ROWS_FN
#include "ir_chan8_avx2.c"
