/* The AVX2 SiLU pass (epilogue_avx2.h tc_act_rows_avx2) over the shapes the networks call it on,
 * hot in L1, alone: one panel (ROWS x COLS at leading dimension LDY) passed over 40 times a
 * timing (SiLU of SiLU stays finite), best of 5, 300 rounds with the shapes' order reversed every
 * other round; per shape the median ns a value and its 25-75% range.  The shapes are those a perf
 * probe on tc_act_rows_avx2 (rows / cols / ldy) saw in EfficientNet-B0 at 1 thread, AVX2: the
 * GEMM driver's panels of 32 and 17 columns (gemm.c act_rows after each call), its 480-column
 * blocks, the depthwise's flat bands (rows of 224 = two 112-pixel rows), plus a flat 3840.
 * Compiled against the tree's headers, no library build:
 *   gcc -O3 -mavx2 -mfma -std=c99 -fno-strict-aliasing -Icsrc benchmarks/act_rows_panels.c \
 *       -o /tmp/act_rows_panels -lm && /tmp/act_rows_panels
 * Measured (h52-v3, 2026-12-07 16:51, Zen 4, load 24): panels of 32 columns at ldy 196 0.320
 * [0.311-0.327], ldy 32 0.293, ldy 49 0.304, ldy 1008 0.310, 12 rows at ldy 3136 0.343; 17
 * columns at 49 0.413; 12 x 480 at 3136 0.282; a flat 3840 0.279; a flat 224 (one call) 0.371.
 * Two variants measured then (not kept here, not applied): two rows of a 16-column panel loaded
 * together, their four sigmoids, then the four stores: 0.78-0.84 of the pass's time on 16-column
 * panels, but no GEMM call in the networks has them; any row's vectors in groups of four the
 * same way: 1.10-1.36 (register spills). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ab_clock.h"
#include "epilogue_avx2.h"

#define CALLS 40
#define ROUNDS 300

/* ns a value: the panel written from init, then CALLS passes, best of 5 */
static double once(float *y, ptrdiff_t ldy, int rows, int cols, const float *init)
{
    double best = 1e9;
    for (int c = 0; c < 5; c++) {
        for (int i = 0; i < rows; i++)
            memcpy(y + i * ldy, init + i * cols, cols * sizeof(float));
        double t = now();
        for (int q = 0; q < CALLS; q++)
            tc_act_rows_avx2(TC_ACT_SILU, y, ldy, rows, cols);
        t = now() - t;
        if (t < best)
            best = t;
    }
    return best / ((double)CALLS * rows * cols) * 1e9;
}

int main(void)
{
    static const int sh[][3] = {{120, 32, 196}, {120, 32, 32}, {120, 32, 49}, {48, 32, 1008},
                                {12, 32, 3136}, {120, 17, 49}, {12, 480, 3136}, {1, 3840, 3840},
                                {1, 224, 224}};
    enum { NS = sizeof(sh) / sizeof(sh[0]) };
    float *y = aligned_alloc(64, 4 * 200000), *init = malloc(4 * 200000);
    if (!y || !init)
        return 1;
    for (int i = 0; i < 200000; i++)
        init[i] = ((i * 7919) % 2001 - 1000) * 0.006f;
    static double t[NS][ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        for (int s = 0; s < NS; s++) {
            int k = (r & 1) ? NS - 1 - s : s;
            t[k][r] = once(y, sh[k][2], sh[k][0], sh[k][1], init);
        }
    for (int s = 0; s < NS; s++) {
        qsort(t[s], ROUNDS, sizeof(double), cmp);
        printf("%4d rows x %4d cols ldy %5d: %.3f ns/value [%.3f-%.3f]\n", sh[s][0], sh[s][1],
               sh[s][2], t[s][ROUNDS / 2], t[s][ROUNDS / 4], t[s][3 * ROUNDS / 4]);
    }
    free(y);
    free(init);
    return 0;
}
