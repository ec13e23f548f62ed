/* One checkout's grouped kernel for benchmarks/gc_ab.sh: grouped_body.h compiled on AVX2
 * primitives under the names TC_GC_FN (gc_a or gc_b) and TC_GC_COPY_FN, exported by PICK as an
 * ab_gc_block_fn (the block's weights [ntaps][4], the kernel's signature before it took their
 * tap stride), so that checkouts before and after that change compare; and where the checkout
 * has grouped8_avx2.h (its tc_gc8 functions renamed by gc_ab.sh), one group by it as an
 * ab_gc8_fn (at stride 2 on rows of 14k, on 7x7 outputs and at stride 1 on rows of 14k from
 * the input where it lies, tc_gc8_direct_avx2, where the checkout has it: as its conv.c runs
 * them; stride 1 on an even number of rows of 14 or 28 by Winograd, tc_gc8_wino_avx2, where the
 * checkout has it, unless GC_AB_NO_WINO is set), else NULL.  The include path chooses
 * whose headers. */
#include <stdlib.h>
#include "conv_internal.h"
#include "depthwise_vec_avx2.h"
#include "grouped_body.h"

typedef void (*ab_gc_block_fn)(const float *xg, const ptrdiff_t *taps, int ntaps, int wph, int OH,
                               int OW, ptrdiff_t ldy, const float *w, int nk, const float *bias,
                               const float *residual, const tc_act_k *act, float *y,
                               const char *pf, ptrdiff_t pf_lines);

#ifdef TC_GC_HAS_WLD
static void block_kb(const float *xg, const ptrdiff_t *taps, int ntaps, int wph, int OH, int OW,
                     ptrdiff_t ldy, const float *w, int nk, const float *bias,
                     const float *residual, const tc_act_k *act, float *y, const char *pf,
                     ptrdiff_t pf_lines)
{
    TC_GC_FN(xg, taps, ntaps, wph, OH, OW, ldy, w, TC_GC_KB, nk, bias, residual, act, y, pf,
             pf_lines);
}
#else
#define block_kb TC_GC_FN
#endif

/* one group: x [8][h][w] -> y 8 planes; xp: its padded planes (zeros around kept); w8:
 * [72][8]; taps: [72] offsets in xp (grouped8_avx2.h's) */
typedef void (*ab_gc8_fn)(const float *x, int h, int w, int s, int hp, int wp, float *xp,
                          const ptrdiff_t *taps, const float *w8, const float *bias,
                          const tc_act_k *act, float *y, int OH, int OW);

#if __has_include("grouped8_avx2.h")
#include "grouped8_avx2.h"
static void gc8_group(const float *x, int h, int w, int s, int hp, int wp, float *xp,
                      const ptrdiff_t *taps, const float *w8, const float *bias,
                      const tc_act_k *act, float *y, int OH, int OW)
{
#ifdef TC_GC8_HAS_WINO /* stride 1, an even number of rows of 14 or 28: Winograd, as conv.c */
    if (s == 1 && h % 2 == 0 && (w == 14 || w == 28) && !getenv("GC_AB_NO_WINO")) {
#ifdef TC_GC8_WINO_ROWS
        tc_gc8_wino_avx2(x, h, w, (ptrdiff_t)OH * OW, w8, bias, act, y, NULL, 0, 0, h);
#else
        tc_gc8_wino_avx2(x, h, w, (ptrdiff_t)OH * OW, w8, bias, act, y, NULL, 0);
#endif
        return;
    }
#endif
#ifdef TC_GC8_HAS_DIRECT7 /* 7x7 at stride 1 or 2, stride 1 on rows of 14k: from x, as conv.c */
    if ((OW == 7 && h == 7 * s && w == 7 * s) || (s == 1 && OW % 14 == 0 && h >= 2)) {
        tc_gc8_direct_avx2(x, NULL, h, w, 1, 1, OH, OW, (ptrdiff_t)OH * OW, w8, bias, act, y, NULL,
                           0);
        return;
    }
#endif
#ifdef TC_GC8_HAS_DIRECT /* stride 2, rows of 14k: from x where it lies, as conv.c runs it */
    if (s == 2 && OW % 14 == 0) {
        ptrdiff_t dt[72];
        for (int c = 0, t = 0; c < 8; c++)
            for (int ki = 0; ki < 3; ki++)
                for (int kj = 0; kj < 3; kj++)
                    dt[t++] = ((ptrdiff_t)c * h + ki) * w + kj;
        tc_gc8_direct_avx2(x, dt, h, w, 1, 1, OH, OW, (ptrdiff_t)OH * OW, w8, bias, act, y, NULL,
                           0);
        return;
    }
#endif
    tc_gc8_copy_avx2(x, h, w, 1, 1, hp, wp, xp);
    tc_gc8_avx2(xp, taps, hp, wp, s, OH, OW, (ptrdiff_t)OH * OW, w8, bias, act, y, NULL, 0);
}
#define GC8 gc8_group
#else
#define GC8 NULL
#endif

void PICK(ab_gc_block_fn *block, tc_gc_copy_fn *copy, ab_gc8_fn *gc8)
{
    *block = block_kb;
    *copy = TC_GC_COPY_FN;
    *gc8 = GC8;
}
