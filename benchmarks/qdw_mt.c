/* qdw_mt.c: the int8 depthwise 3x3 (tc_qconv2d_depthwise, AVX2) alone at 1 and 2 threads, its
 * input rewritten before each call by a pool job of the same threads, by row halves (as the
 * depthwise's own split and a row-block GEMM) or by channel halves (as a GEMM with its column
 * chunks outer), or left warm; the wall-clock minimum of REPS calls.  Whether the split or
 * where the input sits decides the depthwise's 2-thread time.
 *   gcc -O2 -Icsrc benchmarks/qdw_mt.c BUILD/lib.so -o /tmp/qdw_mt -lpthread -Wl,-rpath,BUILD
 *   chrt -f 10 /tmp/qdw_mt C H STRIDE [REPS]
 * (BUILD/lib.so: the files of csrc/ as one gcc -shared library, as for qpw_ab.c.)
 * Measured (n27-q2t, 2026-12-04, Zen 4, chrt -f 10, min of 300), 1 -> 2 threads, us: 384 at
 * 14x14 24.0 -> 14.0-14.2; 144 at 56x56 119 -> 77-79; 192 at 28x28 42.7 -> 30.0-31.2; 32 at
 * 112x112 135 (105 after the channel-half writer) -> 63.6-64.0; 576 at 14x14 stride 2 12.9 ->
 * 9.4-9.6: 1.35-2.1x whichever way the input was written.  In the network the same layers'
 * steps (benchmarks/qsteps_mt.py --fifo, minima) went 1.0-1.3x, some runs slower at 2 threads
 * than at 1: not the split nor the input's placement; to be traced (pool_trace.py).
 * Traced (n28-q, 2026-12-04, each chunk of qdw_rows timed on the wall clock in a copy of the
 * build): the worker's half ran at up to twice the caller's time (144 at 56x56: 113-123
 * against 64-67 us) because its ring lay right after the caller's (TC_QDW_RING_GAP in
 * csrc/qdw.c); with 64 KiB between them, this harness at 2 threads (min us, base / new):
 * 144 at 56x56 112-135 / 66-87, 192 at 28x28 52-68 / 32-39, 96 at 112x112 stride 2 95-112 /
 * 56-67, 32 at 112x112 84-85 / 54-55; 384 at 14x14 18-19 / 18-24 (1 thread 24-25). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include "tinycnn.h"
static double wall(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct { uint8_t *x; int H, C, mode, gen; } wjob;
static void writer(void *arg, int tid, ptrdiff_t b, ptrdiff_t e) {
  wjob *j = arg; (void)tid;
  for (ptrdiff_t i = b; i < e; i++) {
    if (j->mode == 1) { /* rows: i is a row */
      uint8_t *r = j->x + (size_t)i * j->H * j->C; for (int k = 0; k < j->H * j->C; k++) r[k] = (uint8_t)(k + j->gen);
    } else { /* channel halves: i is 0/1 */
      int c0 = j->C * i / 2, c1 = j->C * (i + 1) / 2;
      for (int p = 0; p < j->H * j->H; p++) for (int c = c0; c < c1; c++) j->x[(size_t)p * j->C + c] = (uint8_t)(p + c + j->gen);
    }
  }
}
int main(int argc, char **argv) {
  int C = atoi(argv[1]), H = atoi(argv[2]), S = atoi(argv[3]), reps = argc > 4 ? atoi(argv[4]) : 300;
  tc_conv2d_params p = {C, C, 3, 3, S, S, 1, 1, 1, 1, 1, 1, C};
  int16_t *w = malloc((size_t)C * 9 * 2); for (int i = 0; i < C * 9; i++) w[i] = (int16_t)((i * 37) % 255 - 127);
  void *pk = aligned_alloc(64, (tc_qconv2d_depthwise_pack_size(&p) + 63) / 64 * 64);
  tc_qconv2d_depthwise_pack(&p, w, pk);
  int32_t *bias = calloc(C, 4); float *scale = malloc(C * 4); for (int c = 0; c < C; c++) scale[c] = 0.002f;
  tc_qoutput out = {TC_QOUT_U8, bias, scale, 1, 0, 0, 255, NULL, NULL};
  uint8_t *x = aligned_alloc(64, (size_t)H * H * C + 64), *y = aligned_alloc(64, (size_t)H * H * C + 64);
  memset(x, 1, (size_t)H * H * C);
  for (int th = 1; th <= 2; th++) {
    tc_pool *pool = th > 1 ? tc_pool_create(th) : NULL;
    tc_ctx ctx; tc_ctx_init(&ctx, pool, TC_ISA_AVX2);
    size_t wsz = tc_qconv2d_depthwise_workspace_size(&ctx, &p, 1, H, H);
    void *ws = aligned_alloc(64, (wsz + 63) / 64 * 64 + 64);
    for (int mode = 0; mode < 3; mode++) {
      double best = 1e9; wjob j = {x, H, C, mode, 0};
      for (int r = 0; r < reps; r++) {
        j.gen = r;
        if (mode == 1) tc_parallel_for(pool, H, 1, writer, &j);
        else if (mode == 2) tc_parallel_for(pool, 2, 1, writer, &j);
        double t0 = wall();
        tc_qconv2d_depthwise(&ctx, &p, 1, H, H, x, 0, 0, pk, &out, y, ws);
        double t = wall() - t0; best = t < best ? t : best;
      }
      printf("C %d H %d s %d threads %d input %-9s min %.1f us\n", C, H, S, th, mode == 0 ? "warm" : mode == 1 ? "rows" : "channels", best * 1e6);
    }
  }
  return 0;
}
