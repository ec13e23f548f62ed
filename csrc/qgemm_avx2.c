/* AVX2 micro-kernels of the 8-bit GEMM without VNNI (in the AVX2 rows of dispatch.c's
 * table: every AVX2 tier).  Portable twins: tc_qukernel_s16x2_portable and
 * tc_qukernel_u8s8x2_portable.
 *
 * S16X2: activations and weights are 16-bit, and vpmaddwd multiplies them in pairs
 * straight into 32-bit lanes, so no sum passes through a saturating 16-bit lane.
 * Exact for any weights, but the activation rows are widened to 16 bits first.
 *
 * U8S8X2: activation bytes read in place, vpmaddubsw sums u8 x s8 products in pairs
 * into saturating 16-bit lanes, vpmaddwd by ones widens them: 3 instructions per
 * 4 k x 8 columns against 4 for S16X2.  Exact because the packing (tc_qgemm_pack)
 * keeps every same-sign pair to |w0| + |w1| <= 128 (255 * 128 = 32640 fits int16)
 * and moves the rest of such pairs to a correction pass (tinycnn.h).
 *
 * U7S8: the same 3 instructions over rows of the activations' parts in a window of 128
 * values (7 bits: exact for any int8 weights), then the parts outside it of the tile's own
 * rows over the 4-k groups where some row has one (tinycnn.h).
 *
 * On an AMD EPYC Zen 4 (s16, 2026-12-02, emulated AVX2, 1 thread, thread CPU): vpmaddwd and
 * vpmaddubsw issue 2 per cycle (6.9 per ns in a lone loop, 110 GMAC/s for 16-bit pairs).
 * The main loops replayed as the layers call them: S16X2 6 x 16 in the integer Winograd
 * 82 GMAC/s at cpad 64 (32 steps a call), 87 at 128, 89 at 256 (12 vpmaddwd, 12 vpaddd and
 * 6 vpbroadcastd per 2 k: near the vector pipes' bound); U7S8 4 x 16 paired 138 at K = 1024
 * (the 3 multiplies per 8 k bound it near 146), 4-k loop 110, 6 x 16 about 100.  Unrolling
 * the S16X2 loop by 4 changed nothing there.  In the models (per-step minima against
 * onnxruntime int8, 10:04-10:12) most int8 layers stand at 0.65-0.9 of onnxruntime; the
 * rest are ResNet's 7x7 stem (S16X2, 0.86), the 3x3 stride-2 layers (0.9-1.03), ResNet-50's
 * 1x1 layers with K = 64 and 128 (with the fused add against onnxruntime's conv and add,
 * 0.95-1.05) and MobileNetV2's 1x1 layers (1.0-1.17): per-tile costs (the split, the
 * output stage) over short k, not the main loops.
 * What onnxruntime 1.32 runs for these layers under the AVX2 emulation (h35-qm, 2026-12-05,
 * the Xeon; perf on its pybind library): MlasConvSymKernelAvx2, 4 x 16 tiles read in place
 * from the input, the 4-k step unrolled by 4 with vpmaddubsw, vpmaddwd by ones and vpaddd
 * (saturating, no correction of any kind), an output stage per tile: 576 -> 96 at 14x14 in
 * 110 us (98 GMAC/s), 96 -> 576 in 125, 960 -> 320 at 7x7 in 154 (1t, qconv_layers.py).  The
 * same multiplies per product as the 4-k loops here.  tinycnn's 576 -> 96 (116 us before
 * above_ok) by perf cpu-clock on a loop of the layer: the kernel 90% of the conv's samples
 * (in it the paired 8-k loop 68%, the 4-k loop 17%, the correction pass 9%, stores and setup
 * the rest), the split 9%, the driver 1%: what the paired loop saves over about 80% of the
 * tiles the split's copy and the corrections spend again; at 7x7 (67-100% of the tiles leave
 * the paired widths, u7s8_windows.py) the 4-k loop runs as onnxruntime's with those costs on
 * top (1.00-1.03 of its time).  To go below it: tiles read in place with the few bytes above
 * corrected (no copy), or the paired widths held by more tiles (n34-q2's channel fours, on
 * ResNet's conv2 -> conv3 since h37-q50: tinycnn/qdq.py at _QUAD_MIN_K). */
#include "quant_avx2.h"

static inline __m256i madd_step(__m256i c, __m256i a, __m256i b)
{
    return _mm256_add_epi32(c, _mm256_madd_epi16(a, b));
}

/* a: rows of int16 (lda bytes apart), 2 per lane  b: panel [kpad / 2][16][2] int16 */
static inline __attribute__((always_inline))
TC_QUKERNEL_6x16(s16x2_panel_avx2, 2, madd_step, 0)

/* A kernel NAME over nr columns from the 16-column PANEL: nr > 16 as the panels one after
 * the other (ldb bytes apart), see tc_qepi_panel */
#define TC_QUKERNEL_PANELS(NAME, PANEL)                                                      \
    void NAME(int ntaps, int klen, const void *const *rows, int mr, const void *b,           \
              ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy)               \
    {                                                                                        \
        if (nr <= TC_QNR) {                                                                  \
            PANEL(ntaps, klen, rows, mr, b, ldb, e, nr, y, ldy);                             \
            return;                                                                          \
        }                                                                                    \
        for (int n0 = 0; n0 < nr; n0 += TC_QNR) {                                            \
            tc_qepi ep;                                                                      \
            void *yp = tc_qepi_panel(e, n0, y, &ep);                                         \
            PANEL(ntaps, klen, rows, mr, (const char *)b + n0 / TC_QNR * ldb, ldb, &ep,      \
                  nr - n0 < TC_QNR ? nr - n0 : TC_QNR, yp, ldy);                             \
        }                                                                                    \
    }

static TC_QUKERNEL_PANELS(s16x2_panels_avx2, s16x2_panel_avx2)

/* A block's whole tiles of one panel per call (tc_qepi.tiles): tc_qs16x2_tiles_avx2, in a file of
 * its own (qgemm_tiles_avx2.c, whose header says why).
 * Tried and dropped (s20-q, 2026-12-03, tc_qgemm alone, two builds alternating in one process,
 * thread CPU): the k loop of the S16X2 tiles unrolled whole for kpad 16 (a constant trip
 * count): gcc 12 then reassociated each accumulator's 8 additions into a tree and spilled
 * most of the products (objdump), 16 -> 96 at 112x112 1.29x the time.  The same setup once per
 * call for the 6-row U7S8 kernel's whole panels (bytes_out, its scales per panel; U7S8
 * through TC_QUKERNEL_PANELS copies tc_qepi and sets the store up per panel), same bits:
 * min of 150, 32 -> 192 at 28x28 66.6 / 66.5 us, 144 -> 32 at 28x28 46.1 / 45.9, 144 -> 24
 * at 56x56 152.5 / 152.1, 96 -> 576 at 14x14 116.9 / 117.1: nothing (a first run against an
 * older build read 0.97-0.99, its noise). */

/* one panel: e->tiles tiles in the call (a single-panel product's block: MobileNetV2's and
 * EfficientNet-B0's 32 -> 16 projections at 112x112, where a tile is 6 x 16 x 32 products
 * and the call, the kernel's setup and the driver's step were a fifth of the layer; and the
 * 16 -> 96 expansions' blocks panel by panel, tc_qdriver_run) */
void tc_qukernel_s16x2_avx2(int ntaps, int klen, const void *const *rows, int mr, const void *b,
                            ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy)
{
    if (nr > TC_QNR) {
        s16x2_panels_avx2(ntaps, klen, rows, mr, b, ldb, e, nr, y, ldy);
        return;
    }
    if (e->tiles > 1 && nr == TC_QNR && mr == 6) { /* 8-bit outputs, no residual, one tap */
        tc_qs16x2_tiles_avx2(klen, rows, b, e, e->tiles, y, ldy);
        return;
    }
    if (e->tiles > 1) { /* fewer columns: each tile's rows from the first two (tc_qepi.tiles) */
        const char *a0 = rows[0];
        const ptrdiff_t ld = (const char *)rows[1] - a0;
        for (int i = 0; i < e->tiles; i++) {
            const void *tile[TC_QMR_MAX];
            for (int r = 0; r < TC_QMR_MAX; r++)
                tile[r] = a0 + ((ptrdiff_t)i * mr + (r < mr ? r : mr - 1)) * ld;
            s16x2_panel_avx2(ntaps, klen, tile, mr, b, ldb, e, nr,
                             (char *)y + (ptrdiff_t)i * mr * ldy, ldy);
        }
        return;
    }
    s16x2_panel_avx2(ntaps, klen, rows, mr, b, ldb, e, nr, y, ldy);
}

/* a: rows of uint8, 4 per lane  b: panel [kpad / 4][16][4] int8, then e's corrections */
TC_QUKERNEL_6x16(tc_qukernel_u8s8x2_avx2, 4, tc_maddubs_step_avx2, 1)

/* the part of the lane's bytes above the window (max(a - top, 0) <= 128 - base), whose
 * pair sums reach -32768 at most, where base = 0 and the weights are -128 */
static inline __m256i above_step(__m256i c, __m256i a, __m256i b, __m256i top)
{
    return tc_maddubs_step_avx2(c, _mm256_subs_epu8(a, top), b);
}

/* the parts above and below the window [base, top]: the two pair sums (each exact: the
 * parts are at most 128 - base and base) subtracted in int16, exact too: their difference
 * is the pair's sum of (part above - part below) * w, within [-32768, 32512] for
 * base <= 127 (tinycnn.h) */
static inline __m256i window_step(__m256i c, __m256i above, __m256i below, __m256i b)
{
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(above, b), _mm256_maddubs_epi16(below, b));
    return _mm256_add_epi32(c, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* above_step where the part above may exceed 128 (the paired widths: up to 255 - lim): as
 * two parts, min(part, 127) and the rest (at most 128), each pair sum within int16 */
static inline __m256i above2_step(__m256i c, __m256i a, __m256i b, __m256i top)
{
    __m256i x = _mm256_subs_epu8(a, top), x1 = _mm256_min_epu8(x, _mm256_set1_epi8(127));
    c = tc_maddubs_step_avx2(c, x1, b);
    return tc_maddubs_step_avx2(c, _mm256_subs_epu8(x, x1), b);
}

/* Are the 4 widths of a group (lim[0..3]) all 128 or more?  At base 0 a byte's part above
 * the window, a - lim, is then at most 127: one part, above_step, where above2_step would add
 * a second part that is 0.  MobileNetV2 int8's projections' paired widths have a median of
 * 134-156 (u7s8_windows.py), so most of their corrected groups take the one part.  Measured
 * (h35-qm, 2026-12-05, the Xeon, emulated AVX2 1t, qconv_layers.py --only conv.2/Conv, 16 x 20
 * runs, each checkout against the other, bit-identical): 576 -> 96 at 14x14 0.965-0.969 and
 * 1 / 1.034-1.039 of the base's time, 384 -> 64 / 96 0.979-0.985 and 1 / 1.017-1.021, the
 * projections' sum 0.987 and 1 / 1.014 (the correction pass was 9% of the 576 -> 96 kernel's
 * samples, perf; the 4-row paired loop 68%, the split a tenth of the layer). */
static inline int above_ok(const uint8_t *lim)
{
    uint32_t v;
    memcpy(&v, lim, 4);
    return (v & 0x80808080u) == 0x80808080u;
}

#define PAIRED_ROW(ar, off, c0, c1)                                                          \
    do {                                                                                     \
        __m256i x = tc_bcast32_avx2((ar) + (off)), x4 = tc_bcast32_avx2((ar) + (off) + 4);   \
        c0 = tc_paired_step_avx2(c0, x, x4, b0, b2);                                         \
        c1 = tc_paired_step_avx2(c1, x, x4, b1, b3);                                         \
    } while (0)

/* the window's top at the 4 k of the group at off, base + lim (saturating), 4 times */
#define GROUP_TOP(off) _mm256_adds_epu8(vbase, tc_bcast32_avx2(e->lim + (off)))
#define ABOVE_STEP(c, av, b) above_step(c, av, b, top)
/* at base 0: the part above in two where the widths are the paired ones and one of the
 * group's is below 128 (two: above_ok's test); a width of 128 and more leaves at most 127
 * above (255 - lim), one part */
#define ABOVE_ANY(c, av, b) (two ? above2_step(c, av, b, top) : above_step(c, av, b, top))
#define WINDOW_ROW(ar, off, c0, c1)                                                          \
    do {                                                                                     \
        __m256i av = tc_bcast32_avx2((ar) + (off)), top = GROUP_TOP(off);                    \
        __m256i up = _mm256_subs_epu8(av, top), dn = _mm256_subs_epu8(vbase, av);            \
        c0 = window_step(c0, up, dn, b0);                                                    \
        c1 = window_step(c1, up, dn, b1);                                                    \
    } while (0)

/* row R's correction pass: its groups' parts outside the window into its accumulators */
#define FIX_ROW(R, ar, c0, c1)                                                               \
    do {                                                                                     \
        const int32_t *fk = e->fix_k + (ptrdiff_t)(R) * e->fix_stride;                      \
        for (int i = 0, n = e->row_nfix[R]; i < n; i++) {                                    \
            const ptrdiff_t off = fk[i];                                                     \
            __m256i b0 = _mm256_loadu_si256(bp + off / 2);                                   \
            __m256i b1 = _mm256_loadu_si256(bp + off / 2 + 1);                               \
            WINDOW_ROW(ar, off, c0, c1);                                                     \
        }                                                                                    \
    } while (0)

/* a: rows of the bytes' parts in the window (one tap of klen bytes)  b: panel
 * [klen / 4][16][4] int8; e->hi_rows: the rows themselves, whose parts outside the window
 * run over each row's groups, or (the window at 0: only above it) the tile's.
 * A tile of R = 6 or 4 rows (a constant: one function per height).  4 x 16 for long k
 * (TC_QU7S8_LONG_K): vpmaddubsw, vpmaddwd by ones and vpaddd per product take a register
 * for the ones and one for the product beside the two weight vectors and the broadcast
 * row, and 6 rows' twelve accumulators made 17 (an accumulator spilled: a load and a store
 * per 4 k); lone main loops on the host, thread CPU time, K = 576: 4 x 16 97 GMAC/s (102
 * unrolled by 4) against 6 x 16's 77 and 5 x 16's 86 (2026-12-01 20:35).  Both unrolled by
 * 4: the 6 x 16 loop's spill then costs less (lone loop 75 -> 94 GMAC/s at K = 576, 72 -> 92
 * at K = 96; in MobileNetV2 1t, 21:26, three alternations: expansions 0.984, projections
 * 0.989, model 0.987-0.991).  Tried (s18-q, 2026-12-02): vpmaddwd's ones as a memory operand
 * (inline asm, a load folded into it) to free their register for the 6 x 16 loop: gcc 12
 * still spilled one accumulator there (the same 8 stack accesses in the loop unrolled by 4,
 * objdump), so it was not built.  Tried and dropped (s19-q, 2026-12-02): the weights as
 * vpmaddubsw's memory operand (inline asm, read once per row), no register for them: the
 * unrolled 6 x 16 loop then held its twelve accumulators, the ones, the row and the product
 * in 15 registers (objdump: 8 stack accesses per 16 k -> 0), bit-identical; MobileNetV2 int8
 * per layer in one process against main (qconv_layers.py --against, 8 rounds, 20:46): the
 * 6 x 16 layers 0.97-1.03 (24 -> 144 at 56x56 0.974 and 0.988, 96 -> 576 at 14x14 1.000,
 * 1.008, 1.004), all convolutions 0.996: the loop is bound by its 24 multiplies per 4 k
 * (2 a cycle), not by the spilled accumulator's load and store. */
static inline __attribute__((always_inline)) void u7s8_tile_avx2(
    const int R, int klen, const void *const *rows, int mr, const void *b, const tc_qepi *e,
    int nr, void *y, ptrdiff_t ldy)
{
    /* the sums start at the bias: tc_qstore_6x16_avx2 */
    __m256i c00 = _mm256_loadu_si256((const __m256i *)e->bias), c10 = c00, c20 = c00;
    __m256i c01 = _mm256_loadu_si256((const __m256i *)e->bias + 1), c11 = c01, c21 = c01;
    __m256i c30 = c00, c31 = c01, c40 = c00, c41 = c01, c50 = c00, c51 = c01;
    const __m256i *bk = b;
    /* rows past R: never read (R == 4) */
    const char *a0 = rows[0], *a1 = rows[1], *a2 = rows[2], *a3 = rows[3];
    const char *a4 = rows[R == 6 ? 4 : 3], *a5 = rows[R == 6 ? 5 : 3];
    if (mr == 1) { /* one row (GEMVs: classifiers): not R rows' work for 1 */
        for (ptrdiff_t off = 0; off < klen; off += 4, bk += 2) {
            __m256i av = tc_bcast32_avx2(a0 + off);
            c00 = tc_maddubs_step_avx2(c00, av, _mm256_loadu_si256(bk));
            c01 = tc_maddubs_step_avx2(c01, av, _mm256_loadu_si256(bk + 1));
        }
    } else if (nr <= 8) { /* a last panel's 8 columns (N = 24, 40, ...): half the products */
        for (ptrdiff_t off = 0; off < klen; off += 4, bk += 2) {
            __m256i b0 = _mm256_loadu_si256(bk), av;
            av = tc_bcast32_avx2(a0 + off); c00 = tc_maddubs_step_avx2(c00, av, b0);
            av = tc_bcast32_avx2(a1 + off); c10 = tc_maddubs_step_avx2(c10, av, b0);
            av = tc_bcast32_avx2(a2 + off); c20 = tc_maddubs_step_avx2(c20, av, b0);
            av = tc_bcast32_avx2(a3 + off); c30 = tc_maddubs_step_avx2(c30, av, b0);
            if (R == 6) {
                av = tc_bcast32_avx2(a4 + off); c40 = tc_maddubs_step_avx2(c40, av, b0);
                av = tc_bcast32_avx2(a5 + off); c50 = tc_maddubs_step_avx2(c50, av, b0);
            }
        }
    } else if (R == 4 && e->paired) {
        /* 8 k per step: vpmaddubsw twice and vpaddw before vpmaddwd by ones and vpaddd (5
         * instructions in place of 6, 3 multiplies in place of 4); lone main loops on the
         * host, thread CPU time (2026-12-02 00:03): K = 1024, N = 256, 196 rows 92-96 ->
         * 106-109 GMAC/s; K = 256, N = 128: 86-89 -> 103-110 */
        ptrdiff_t off = 0;
        _Pragma("GCC unroll 2")
        for (; off + 8 <= klen; off += 8, bk += 4) {
            __m256i b0 = _mm256_loadu_si256(bk), b1 = _mm256_loadu_si256(bk + 1);
            __m256i b2 = _mm256_loadu_si256(bk + 2), b3 = _mm256_loadu_si256(bk + 3);
            PAIRED_ROW(a0, off, c00, c01);
            PAIRED_ROW(a1, off, c10, c11);
            PAIRED_ROW(a2, off, c20, c21);
            PAIRED_ROW(a3, off, c30, c31);
        }
        if (off < klen) { /* kpad = 4 mod 8 */
            __m256i b0 = _mm256_loadu_si256(bk), b1 = _mm256_loadu_si256(bk + 1);
            TC_Q4x16_STEP(tc_maddubs_step_avx2, off, b0, b1);
        }
    } else if (R == 4) {
        _Pragma("GCC unroll 4")
        for (ptrdiff_t off = 0; off < klen; off += 4, bk += 2) {
            __m256i b0 = _mm256_loadu_si256(bk), b1 = _mm256_loadu_si256(bk + 1);
            TC_Q4x16_STEP(tc_maddubs_step_avx2, off, b0, b1);
        }
    } else {
        _Pragma("GCC unroll 4")
        for (ptrdiff_t off = 0; off < klen; off += 4, bk += 2) {
            __m256i b0 = _mm256_loadu_si256(bk), b1 = _mm256_loadu_si256(bk + 1);
            TC_Q6x16_STEP(tc_maddubs_step_avx2, off, b0, b1);
        }
    }
    const void *const *rt = e->hi_rows;
    a0 = rt[0];
    a1 = rt[1];
    a2 = rt[2];
    a3 = rt[3];
    a4 = rt[R == 6 ? 4 : 3];
    a5 = rt[R == 6 ? 5 : 3];
    const __m256i *bp = b;
    const __m256i vbase = _mm256_set1_epi8((char)e->base);
    if (e->row_nfix) { /* each row over its own groups (none past mr) */
        FIX_ROW(0, a0, c00, c01);
        FIX_ROW(1, a1, c10, c11);
        FIX_ROW(2, a2, c20, c21);
        FIX_ROW(3, a3, c30, c31);
        if (R == 6) {
            FIX_ROW(4, a4, c40, c41);
            FIX_ROW(5, a5, c50, c51);
        }
    } else { /* base 0: every row over the tile's groups, above the window only */
        for (int i = 0; i < e->nfix; i++) {
            const ptrdiff_t off = e->fix_k[i];
            __m256i b0 = _mm256_loadu_si256(bp + off / 2);
            __m256i b1 = _mm256_loadu_si256(bp + off / 2 + 1), top = GROUP_TOP(off);
            const int two = e->paired && !above_ok(e->lim + off);
            if (mr == 1) {
                __m256i av = tc_bcast32_avx2(a0 + off);
                c00 = ABOVE_ANY(c00, av, b0);
                c01 = ABOVE_ANY(c01, av, b1);
            } else if (R == 4) {
                TC_Q4x16_STEP(ABOVE_ANY, off, b0, b1);
            } else {
                TC_Q6x16_STEP(ABOVE_ANY, off, b0, b1);
            }
        }
    }
    tc_qstore_6x16_avx2(c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, mr, nr, e, y,
                        ldy);
}

/* the panel functions of the two tile heights (6 rows; 4 for long k) */
#define U7S8_PANEL(name, R)                                                                   \
    static inline __attribute__((always_inline)) void name(                                 \
        int ntaps, int klen, const void *const *rows, int mr, const void *b, ptrdiff_t ldb, \
        const tc_qepi *e, int nr, void *y, ptrdiff_t ldy)                                   \
    {                                                                                       \
        (void)ntaps;                                                                        \
        (void)ldb;                                                                          \
        u7s8_tile_avx2(R, klen, rows, mr, b, e, nr, y, ldy);                                \
    }
U7S8_PANEL(u7s8_panel_avx2, 6)
U7S8_PANEL(u7s8_panel4_avx2, 4)

/* the correction lists are the rows' (or the tile's), the same for every panel */
TC_QUKERNEL_PANELS(tc_qukernel_u7s8_avx2, u7s8_panel_avx2)
static TC_QUKERNEL_PANELS(u7s8_4x16_panels_avx2, u7s8_panel4_avx2)

/* One row (a GEMV: the classifiers) over up to TC_QROW_PANELS panels (ldb bytes apart) at
 * once: the one-row loop of u7s8_tile_avx2 with each panel's weights read as a stream of its
 * own, TC_QROW_PANELS streams in place of one at a time (tc_gemv_rows_avx2's GEMV_STREAMS:
 * on the Intel host one core draws more from memory over several pages at once); then each
 * panel's correction pass and store as u7s8_tile_avx2's for mr == 1.  The int32 sums are the
 * same, so are the bits.  Measured (h51-r50, 2026-12-07, the Xeon, emulated AVX2, host load
 * 9-12, benchmarks/steps_ab.py --depth 1 against the base, both orders, bit-identical):
 * ResNet-50 int8's fc (2048 -> 1000, 2 MB of panels) at 2 threads under chrt -f 10, 20-40
 * rounds x 5 runs, 0.905 / 0.897 / 0.945 of its time with this build running the tool and
 * 0.962 / 0.970 the other way (1 / 1.039, 1 / 1.031; 0.13-0.16 ms), whole runs level (a
 * step of 0.14 of 21.7 ms); 1 thread 0.970 and 0.958 (30 rounds, ranges +-4-6%). */
static void u7s8_row_panels_avx2(int klen, const void *const *rows, const void *b,
                                 ptrdiff_t ldb, const tc_qepi *e, int nr, void *y, ptrdiff_t ldy)
{
    const int np = (nr + TC_QNR - 1) / TC_QNR;
    const char *a0 = rows[0];
    __m256i c[TC_QROW_PANELS][2];
    const __m256i *bk[TC_QROW_PANELS];
    for (int s = 0; s < TC_QROW_PANELS; s++) {
        const int q = s < np ? s : np - 1; /* panels past np: the last again, not stored */
        c[s][0] = _mm256_loadu_si256((const __m256i *)(e->bias + q * TC_QNR));
        c[s][1] = _mm256_loadu_si256((const __m256i *)(e->bias + q * TC_QNR) + 1);
        bk[s] = (const __m256i *)((const char *)b + q * ldb);
    }
    for (ptrdiff_t off = 0; off < klen; off += 4) {
        const __m256i av = tc_bcast32_avx2(a0 + off);
        _Pragma("GCC unroll 4")
        for (int s = 0; s < TC_QROW_PANELS; s++) {
            c[s][0] = tc_maddubs_step_avx2(c[s][0], av, _mm256_loadu_si256(bk[s]));
            c[s][1] = tc_maddubs_step_avx2(c[s][1], av, _mm256_loadu_si256(bk[s] + 1));
            bk[s] += 2;
        }
    }
    const uint8_t *hi = e->hi_rows[0];
    const __m256i vbase = _mm256_set1_epi8((char)e->base);
    const __m256i z = _mm256_setzero_si256();
    for (int s = 0; s < np; s++) {
        tc_qepi ep;
        void *yp = tc_qepi_panel(e, s * TC_QNR, y, &ep);
        const __m256i *bp = (const __m256i *)((const char *)b + s * ldb);
        __m256i c00 = c[s][0], c01 = c[s][1], c10 = z, c11 = z;
        if (e->row_nfix) { /* the row's own groups, its parts outside the window */
            FIX_ROW(0, hi, c00, c01);
        } else { /* base 0: above the window only */
            for (int i = 0; i < e->nfix; i++) {
                const ptrdiff_t off = e->fix_k[i];
                __m256i b0 = _mm256_loadu_si256(bp + off / 2);
                __m256i b1 = _mm256_loadu_si256(bp + off / 2 + 1), top = GROUP_TOP(off);
                const int two = e->paired && !above_ok(e->lim + off);
                __m256i av = tc_bcast32_avx2(hi + off);
                c00 = ABOVE_ANY(c00, av, b0);
                c01 = ABOVE_ANY(c01, av, b1);
            }
        }
        tc_qstore_6x16_avx2(c00, c01, c10, c11, z, z, z, z, z, z, z, z, 1,
                            nr - s * TC_QNR < TC_QNR ? nr - s * TC_QNR : TC_QNR, &ep, yp, ldy);
    }
}

void tc_qukernel_u7s8_4x16_avx2(int ntaps, int klen, const void *const *rows, int mr,
                                const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y,
                                ptrdiff_t ldy)
{
    if (mr == 1 && nr > TC_QNR && nr <= TC_QROW_PANELS * TC_QNR) {
        u7s8_row_panels_avx2(klen, rows, b, ldb, e, nr, y, ldy);
        return;
    }
    u7s8_4x16_panels_avx2(ntaps, klen, rows, mr, b, ldb, e, nr, y, ldy);
}

/* the offsets of the 4-k groups at k whose bytes have a bit in mask (one per byte).
 * Tried and left (h37-qmv, 2026-12-05, the Xeon, emulated AVX2 1t, bit-identical): without a
 * branch on the bytes (each of the w bytes' groups written, the count advanced by its bit),
 * as the 14x14 expansions' medians rise 1-5% once the feed changes run by run
 * (benchmarks/qconv_rotate.py): there 0.99-1.00 of the base's rotated medians, and in the
 * network (qsteps.py --input photo, 20 x 10, both orders) those seven steps 0.702 / 0.703 and
 * 0.705 / 0.719 ms, the whole run 5.077 / 5.080 and 5.130 / 5.137: level. */
static inline int emit_groups(uint32_t mask, int k, int32_t *groups, int n)
{
    uint32_t g = (mask | mask >> 1 | mask >> 2 | mask >> 3) & 0x11111111u;
    for (; g; g &= g - 1)
        groups[n++] = k + __builtin_ctz(g);
    return n;
}

/* w (32, 16, 8 or 4) bytes at a (valid of them readable: a buffer filled with base, in the
 * window with part 0, past them), the rest of the register undefined */
static inline __m256i load_part(const uint8_t *a, int w, int valid, int base)
{
    if (valid < w) {
        uint8_t t[32];
        memset(t, base, sizeof(t));
        memcpy(t, a, (size_t)(valid > 0 ? valid : 0));
        return _mm256_loadu_si256((const __m256i *)t);
    }
    if (w == 32)
        return _mm256_loadu_si256((const __m256i *)a);
    if (w == 16)
        return _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a));
    if (w == 8)
        return _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)a));
    int32_t v;
    memcpy(&v, a, 4);
    return _mm256_castsi128_si256(_mm_cvtsi32_si128(v));
}

static inline void store_part(uint8_t *l, int w, __m256i v)
{
    if (w == 32) {
        _mm256_storeu_si256((__m256i *)l, v);
    } else if (w == 16) {
        _mm_storeu_si128((__m128i *)l, _mm256_castsi256_si128(v));
    } else if (w == 8) {
        _mm_storel_epi64((__m128i *)l, _mm256_castsi256_si128(v));
    } else {
        int32_t x = _mm_cvtsi128_si32(_mm256_castsi256_si128(v));
        memcpy(l, &x, 4);
    }
}

/* tc_u7s8_split's twin, row by row: 32 bytes at a time (vpsubusb, vpminub against the
 * widths), then 16, 8 and 4 for the rest of kpad (a multiple of 4); the bytes outside the
 * window where a - base - lim or base - a is not 0 (saturating), 8 groups per mask: a
 * row's own (per_row), or the tile's from the rows' ORed into scratch.
 * The split is 13-15% of a short-K layer's time (MobileNetV2's 24 -> 144 at 56x56, perf,
 * emulated AVX2, 1 thread), and few bytes fall outside (that network's 1x1 layers: 0.0-3.8%
 * of the groups, 0.0-0.8% for all but the 7x7 projections, so most rows and tiles have
 * none).  Tried and dropped (s18-q, 2026-12-02): each row's (or the tile's) offsets ORed
 * into one register, its groups found only where that was not 0 (the row split again, the
 * tile's from scratch), no vpmovmskb per 32 bytes: bit-identical, whole MobileNetV2 int8 in
 * one process against main (subgraph_shapes.py --against, 25 rounds, twice, host loaded
 * at 8) 1.010 [0.986-1.045] and 1.013 [0.983-1.126]: nothing to keep. */
/* in_place's test (K == kpad, base 0): is no byte of the mr rows above lim[k]?  The
 * bytes above ORed over the rows, 32 k at a time (the widths loaded once for the rows) */
static int rows_within_avx2(const void *const *rows, int mr, int kpad, const uint8_t *lim)
{
    __m256i above = _mm256_setzero_si256();
    int k = 0;
    for (; k + 32 <= kpad; k += 32) {
        const __m256i wl = _mm256_loadu_si256((const __m256i *)(lim + k));
        for (int r = 0; r < mr; r++)
            above = _mm256_or_si256(above, _mm256_subs_epu8(
                _mm256_loadu_si256((const __m256i *)((const uint8_t *)rows[r] + k)), wl));
    }
    for (int w; k < kpad; k += w) {
        const int rest = kpad - k;
        w = rest >= 16 ? 16 : rest >= 8 ? 8 : 4;
        const __m256i wl = load_part(lim + k, w, w, 0);
        /* the register's lanes past w: undefined in both, so masked below */
        __m256i part = _mm256_setzero_si256();
        for (int r = 0; r < mr; r++)
            part = _mm256_or_si256(part, _mm256_subs_epu8(
                load_part((const uint8_t *)rows[r] + k, w, w, 0), wl));
        const uint32_t keep = (1u << w) - 1;
        if (tc_nonzero_mask_avx2(part) & keep)
            return 0;
    }
    return _mm256_testz_si256(above, above);
}

int tc_u7s8_split_avx2(const void *const *rows, int mr, int K, int kpad, int base,
                       const uint8_t *lim, int per_row, int in_place, uint8_t *lo,
                       int32_t *groups, int stride, uint8_t *scratch, int *nfix)
{
    if (in_place && rows_within_avx2(rows, mr, kpad, lim)) {
        nfix[0] = 0;
        return 1;
    }
    const __m256i vb = _mm256_set1_epi8((char)base);
    for (int r = 0; r < mr; r++) {
        const uint8_t *a = rows[r];
        uint8_t *l = lo + (size_t)r * kpad;
        int32_t *g = groups + (size_t)r * stride;
        int n = 0, k = 0;
        for (; k + 32 <= K; k += 32) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(a + k));
            __m256i wl = _mm256_loadu_si256((const __m256i *)(lim + k));
            __m256i d = _mm256_subs_epu8(v, vb);
            _mm256_storeu_si256((__m256i *)(l + k), _mm256_min_epu8(d, wl));
            __m256i off = _mm256_or_si256(_mm256_subs_epu8(d, wl), _mm256_subs_epu8(vb, v));
            if (per_row)
                n = emit_groups(tc_nonzero_mask_avx2(off), k, g, n);
            else if (r == 0)
                _mm256_storeu_si256((__m256i *)(scratch + k), off);
            else
                _mm256_storeu_si256((__m256i *)(scratch + k),
                                    _mm256_or_si256(off, _mm256_loadu_si256((const __m256i *)(scratch + k))));
        }
        for (int w; k < kpad; k += w) {
            const int rest = kpad - k;
            w = rest >= 16 ? 16 : rest >= 8 ? 8 : 4;
            __m256i v = load_part(a + k, w, K - k, base), wl = load_part(lim + k, w, w, 0);
            __m256i d = _mm256_subs_epu8(v, vb);
            store_part(l + k, w, _mm256_min_epu8(d, wl));
            __m256i off = _mm256_or_si256(_mm256_subs_epu8(d, wl), _mm256_subs_epu8(vb, v));
            if (per_row)
                n = emit_groups(tc_nonzero_mask_avx2(off) & ((1u << w) - 1), k, g, n);
            else
                store_part(scratch + k, w, r == 0 ? off : _mm256_or_si256(off, load_part(scratch + k, w, w, 0)));
        }
        nfix[r] = n;
    }
    if (per_row)
        return 0;
    int n = 0;
    for (int k = 0, w; k < kpad; k += w) {
        const int rest = kpad - k;
        w = rest >= 32 ? 32 : rest >= 16 ? 16 : rest >= 8 ? 8 : 4;
        const uint32_t keep = w == 32 ? ~0u : (1u << w) - 1;
        n = emit_groups(tc_nonzero_mask_avx2(load_part(scratch + k, w, w, 0)) & keep, k, groups, n);
    }
    nfix[0] = n;
    return 0;
}

/* tc_quant_kernels.widen_run: 32 bytes per step zero-extended by vpmovzxbw (the flip, bit 7,
 * commutes with it), where gcc's SSE2 loop in the fill unpacked 16 with two stores.
 * MobileNetV2's 32 -> 16 projection at 112x112 (S16X2) spent an eighth of its time in the
 * fill (perf, emulated AVX2, 1 thread).  Tried (n26-qpw, 2026-12-04, Zen 4): for uint8 inputs
 * (flip 0) a loop without the xor, 64 bytes a step: 32 -> 16 and 16 -> 96 at 112x112 1.000 and
 * 1.001 of their time (qpw_ab.c, 41 rounds): the stores bound it, not the xor. */
void tc_qwiden_run_avx2(const uint8_t *x, ptrdiff_t n, int flip, int16_t *y)
{
    const __m256i f = _mm256_set1_epi16(flip ? 0x80 : 0);
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x + i)));
        __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x + i + 16)));
        _mm256_storeu_si256((__m256i *)(y + i), _mm256_xor_si256(a, f));
        _mm256_storeu_si256((__m256i *)(y + i + 16), _mm256_xor_si256(b, f));
    }
    if (i + 16 <= n) {
        __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_si256((__m256i *)(y + i), _mm256_xor_si256(a, f));
        i += 16;
    }
    for (; i < n; i++)
        y[i] = (int16_t)(x[i] ^ (flip ? 0x80 : 0));
}
