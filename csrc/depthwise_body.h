/* Body of the depthwise convolution kernel over one channel plane, included by
 * conv.c (portable) and conv_avx2.c (AVX2 + FMA).  The body is one; only the
 * 8-lane vector primitives (depthwise_vec_*.h) differ between the two.
 * Defines one static function named TC_DW_FN (a tc_dw_pick_fn: the plane kernel
 * for a layer's geometry).  With
 * TC_DW_UNROLLED 1, 3x3 and 5x5 get functions of their own with the taps
 * unrolled (the AVX2 build; the portable twin keeps to the general ones, which
 * compile in a fraction of the time).
 *
 * Vectorised along the output row, 8 outputs per vector, with 4 output rows in
 * flight (4 independent FMA chains).  The input is read where it lies: no
 * padded copy.  A tap whose 8 lanes fall inside the input row is a plain load;
 * near a border (and on planes narrower than 8, e.g. 7x7) the load is masked
 * to the lanes inside the row, so padding costs nothing but the mask.  Rows
 * above or below the input read `zrow`, a row of zeros, instead of branching.
 * Stride 2 loads 16 floats and keeps the even ones (one shuffle and one
 * permute); other strides gather lane by lane. */
#include <string.h>
#include "epilogue.h"

#ifndef TC_DW_CAT
#define TC_DW_CAT_(a, b) a##b
#define TC_DW_CAT(a, b) TC_DW_CAT_(a, b)
#endif

#define TC_DW_ROWS 4 /* output rows computed together: 4 independent FMA chains */
#ifndef TC_DW_HOLD
#define TC_DW_HOLD 5 /* 3x3 stride 1 with ReLU: the weights held in registers (_k3_taps) */
#endif
/* An input row's pointer at a vector's column, made opaque to the compiler: else GCC computes
 * the (rows x tap columns) load addresses of both the inside and the border path once, spills
 * them to the stack and reloads each before its load (18 lea + 18 stores + 18 loads per 4
 * vectors of 3x3); opaque, each load is the row's register plus the tap's displacement. */
#define TC_DW_OPAQUE(ptr) __asm__("" : "+r"(ptr))

/* acc_r += LOAD(row r) * wv for the R rows in flight */
#define TC_DW_TAP(LOAD)                                  \
    do {                                                 \
        a0 = tc_v_fma(LOAD(r0), wv, a0);                 \
        if (R > 1) {                                     \
            a1 = tc_v_fma(LOAD(r1), wv, a1);             \
            a2 = tc_v_fma(LOAD(r2), wv, a2);             \
            a3 = tc_v_fma(LOAD(r3), wv, a3);             \
        }                                                \
    } while (0)
/* Input row j of those R output rows at stride SW read, loaded as v[kj] per tap column:
 * acc[r] += v[kj] * w[ki][kj] for every output row r that reads it (tap row ki = j - SW r),
 * so that each output still sums its taps in the order (ki, kj) */
#define TC_DW_INPUT_ROW_FMAS(j)                                                   \
    _Pragma("GCC unroll 5") for (int kj = 0; kj < KC; kj++)                       \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                     \
            const int ki = (j) - SW * r;                                          \
            if (ki >= 0 && ki < KC)                                               \
                acc[r] = tc_v_fma(v[kj], tc_v_set1(w[ki * KC + kj]), acc[r]);     \
        }
#define TC_DW_LD(row) tc_v_load((row) + c0)
#define TC_DW_LD_EVEN(row) tc_v_load_even((row) + c0)
#define TC_DW_LD_MASKED(row) tc_v_load_masked((row) + c0, m0)
#define TC_DW_LD_EVEN_MASKED(row) tc_v_load_even_masked((row) + c0, m0, m1)
#define TC_DW_GATHER(row) tc_v_gather((row), c0, sw, W)

/* Output row oh0 + r, r < R, of the vector at column ow0: act(acc + residual). */
#define TC_DW_STORE(r, acc)                                                               \
    do {                                                                                  \
        const ptrdiff_t o = (ptrdiff_t)(oh0 + (r)) * OW + ow0;                            \
        tc_v v = acc;                                                                     \
        if (residual)                                                                     \
            v = tc_v_add(v, full ? tc_v_load(residual + o) : tc_v_load_masked(residual + o, ms)); \
        v = tc_v_act(act, v);                                                             \
        if (full)                                                                         \
            tc_v_store(y + o, v);                                                         \
        else                                                                              \
            tc_v_store_masked(y + o, ms, v);                                              \
    } while (0)
/* The sums of output rows oh0 + r, r < nrows, at the vector of column ow0 (TC_DW_STORE).  A row's
 * partial last vector (ow0 == tail0, taken before the row's others) is stored whole where the
 * row after it follows in the plane and is stored later (more: rows after nrows do, in a later
 * call): its lanes past the row land on that row's first outputs, overwritten after.  Not with
 * a residual (which may be y: tail0 is then -1), nor on the plane's last row (masked: its lanes
 * would land in another channel's plane, or another thread's band).  vmaskmovps stores are
 * microcoded on AMD (4-5 ns each on the Zen 4 host, a plain store 0.4): one per output row
 * was ~10% of 3x3 192@28 (perf, AVX2 emulation) */
#define TC_DW_STORE_ROWS(a0, a1, a2, a3)                                                        \
    do {                                                                                  \
        const tc_m ms = tc_m_range(0, OW - ow0);                                          \
        const int fullv = OW - ow0 >= TC_VL, spill = ow0 == tail0;                        \
        int full = fullv || (spill && (nrows > 1 || more));                               \
        TC_DW_STORE(0, a0);                                                               \
        if (R > 1) {                                                                      \
            full = fullv || (spill && (nrows > 2 || more));                               \
            if (nrows > 1)                                                                \
                TC_DW_STORE(1, a1);                                                       \
            full = fullv || (spill && (nrows > 3 || more));                               \
            if (nrows > 2)                                                                \
                TC_DW_STORE(2, a2);                                                       \
            full = fullv || (spill && more);                                              \
            if (nrows > 3)                                                                \
                TC_DW_STORE(3, a3);                                                       \
        }                                                                                 \
    } while (0)
/* for (ow0 ...) over a row's vectors, the partial last one first where TC_DW_STORE_ROWS stores
 * it whole (tail0), if ON (a constant); the body ends with TC_DW_NEXT_VECTOR (a `continue` may
 * skip it but on the partial vector).  Not in the column-group variant (_s2k3c, inputs past
 * 2 MB, rows of 56 and more): there the wrap cost 1.01-1.03 of 3x3/2 64@112 and 96@112 (lone,
 * 60 rounds, AVX2 emulation; 20% more instructions) */
#define TC_DW_FOR_VECTORS(ON)                                                             \
    const int tail0 = (ON) && !residual && OW > TC_VL && OW % TC_VL ? OW - OW % TC_VL : -1; \
    int ow_end = OW;                                                                      \
    for (int ow0 = tail0 >= 0 ? tail0 : 0; ow0 < ow_end; ow0 += TC_VL)
#define TC_DW_NEXT_VECTOR                                                                 \
    if (ow0 == tail0 && ow_end == OW)                                                     \
        ow_end = tail0, ow0 = -TC_VL;

/* Stride 2, kernel KC x KC (3): the 4 output rows [oh0, oh0 + 4) at NC vectors side by
 * side from column ow0, every tap inside the input rows (no mask), taken input row by input
 * row as TC_DW_BY_INPUT_ROW below: NC times the sums in flight, and each input row read
 * NC * 16 floats at a time.  It pays only where the input streams from beyond L2 (see the
 * plane kernel's pick), not from L2, where the single column's loop is as fast or faster:
 * the gain is the longer runs of each input row, not the FMA chains.  Each output sums its
 * taps in the row kernel's order (same bits).  in[j]: input row j of the 4 * 2 + KC - 2 rows
 * read (or a zero row). */
static inline __attribute__((always_inline)) void TC_DW_CAT(TC_DW_FN, _cols_s2)(
    const int NC, const int KC, const float *const *in, int iw0, int oh0, int nrows, int ow0,
    const float *w, float bias, const float *residual, tc_act_k act, int OW, float *y)
{
    const int R = TC_DW_ROWS, SW = 2, full = 1;
    const tc_m ms = tc_m_range(0, TC_VL);
    tc_v acc[4][TC_DW_ROWS];
    for (int c = 0; c < NC; c++)
        for (int r = 0; r < R; r++)
            acc[c][r] = tc_v_set1(bias);
    _Pragma("GCC unroll 11") for (int j = 0; j < (R - 1) * SW + KC; j++) {
        tc_v v[4][6];
        const float *q = in[j] + iw0;
        TC_DW_OPAQUE(q);
        _Pragma("GCC unroll 4") for (int c = 0; c < NC; c++)
            _Pragma("GCC unroll 3") for (int kj = 0; kj < KC; kj += 2)
                tc_v_load_even_odd(q + c * TC_VL * SW + kj, &v[c][kj], &v[c][kj + 1]);
        _Pragma("GCC unroll 5") for (int kj = 0; kj < KC; kj++)
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
                const int ki = j - SW * r;
                if (ki >= 0 && ki < KC) {
                    const tc_v wv = tc_v_set1(w[ki * KC + kj]);
                    _Pragma("GCC unroll 4") for (int c = 0; c < NC; c++)
                        acc[c][r] = tc_v_fma(v[c][kj], wv, acc[c][r]);
                }
            }
    }
    const int ow_first = ow0;
    _Pragma("GCC unroll 4") for (int c = 0; c < NC; c++) {
        const int ow0 = ow_first + c * TC_VL;
        TC_DW_STORE(0, tc_v_unscramble(acc[c][0]));
        if (nrows > 1)
            TC_DW_STORE(1, tc_v_unscramble(acc[c][1]));
        if (nrows > 2)
            TC_DW_STORE(2, tc_v_unscramble(acc[c][2]));
        if (nrows > 3)
            TC_DW_STORE(3, tc_v_unscramble(acc[c][3]));
    }
}
/* Out of line: inlined, its registers disturbed the row kernel's other paths (3x3/2 192@28,
 * which never takes it, ran 7% slower) */
#define TC_DW_COLS_VARIANT(NAME, NC, KC)                                                          \
    static __attribute__((noinline)) void TC_DW_CAT(TC_DW_FN, NAME)(                              \
        const float *const *in, int iw0, int oh0, int nrows, int ow0, const float *w, float bias, \
        const float *residual, tc_act_k act, int OW, float *y)                                    \
    {                                                                                             \
        TC_DW_CAT(TC_DW_FN, _cols_s2)(NC, KC, in, iw0, oh0, nrows, ow0, w, bias, residual, act,   \
                                      OW, y);                                                     \
    }
#if TC_DW_UNROLLED
TC_DW_COLS_VARIANT(_cols_s2k3x4, 4, 3)
TC_DW_COLS_VARIANT(_cols_s2k3x2, 2, 3)
#endif
#undef TC_DW_COLS_VARIANT

/* Vectors made in registers at this point (AVX2; _pair_k3): without it
 * gcc loaded a row's (or more) inputs ahead, spilled them to the stack and took them back as
 * FMA operands, and sank each row's FMAs past its `r < nrows` test */
#if defined(__AVX2__) && TC_VL == 8
#define TC_DW_PAIR_HERE(a, b) __asm__ volatile("" : "+x"(a), "+x"(b))
#define TC_DW_PAIR_ON 1
#else /* the portable and AVX-512 builds: not measured, they keep one vector at a time */
#define TC_DW_PAIR_HERE(a, b) ((void)0)
#define TC_DW_PAIR_ON 0
#endif
/* 3x3 at stride SW: at 2 on rows split into even and odd columns (_pair_k3 from
 * _split_rows), at 1 on plain rows (_pair_k3 from _rows): the sums acc[c][r] of NV (1 or 2)
 * vectors side by side in TC_DW_ROWS output rows, each bias then its taps in the order (ki, kj)
 * (the row kernel's bits), taken input row by input row, one tap column at a time: 8 sums, 2
 * inputs and a weight in registers.  in[j]: input row j of the (TC_DW_ROWS - 1) * SW + 3 read
 * (or a zero row); off[kj]: the first vector's tap column kj in a row.  The weights broadcast where
 * they are used (TC_DW_OPAQUE), each tap column's inputs and the sums held where made
 * (TC_DW_PAIR_HERE).
 * REWEIGH (n34-ir, 2026-12-05, Intel Xeon, gcc 12, AVX2; now HOLD 0): the weights made opaque
 * again at each input row, so that each use broadcasts its weight anew.  Without it, at stride
 * 1 gcc keeps the 9 weights' broadcasts in registers across the input rows, and 8 sums + 2
 * inputs + 9 weights spill: ~36 stack loads and stores to the pair's 72 FMAs (objdump of
 * dw_plane_avx2_s1k3); the plane kernel ran ~55 GFLOP/s in the stem block (perf,
 * csrc/stem_fused.c).  benchmarks/dw_ab.sh, both orders, 61 rounds, geometric means of
 * new / base, same bits: for every kind, Clip 32@112 in 14-row bands (the stem block's)
 * 0.932, 144@56 0.945 and 0.96, 72@56 in 10-row bands 0.927; ReLU 72@56 in 10-row bands
 * 1.029 and 1.03, 32@112 in 14-row bands 1.048, 144@56 0.993 (with ReLU the base ran as fast
 * as Clip with REWEIGH: Clip's bounds are one more register); so Clip only (its kind a
 * constant here once _plane_k is inlined): Clip 32@112 0.944, 144@56 0.940; ReLU, its code
 * unchanged, 0.997-1.028 (layout).  MobileNetV2 (all Clip; subgraph_shapes.py --against the
 * base, 31 rounds, each order, bit-identical): the stem block 0.990 / 0.986 (0.988), features.3
 * (144@56 in bands) 0.983 / 0.942 (0.962), the whole network 0.985, 0.988, 1.008: level within
 * the noise (the 3x3 stride-1 planes are ~3-4% of its time).  At stride 2 (s22, above
 * _pair_k3): no better.
 * HOLD (n34-dw, 2026-12-05, same host and compiler): with ReLU (MnasNet's stem block and
 * layers.8.1-8.2) the weights 0..HOLD-1 broadcast once and held, the others broadcast again at
 * each input row (through their own opaque pointer): 8 sums + 2 inputs + 5 weights + 1 fresh
 * weight fit the 16 registers.  objdump of dw_plane_avx2_s1k3's ReLU pairs: 8-17 stack loads /
 * stores and 9 broadcasts per 72 FMAs before, 0 and 21 with HOLD 5 (HOLD 6: 2 and 18; 0, as
 * REWEIGH: 0 and 36).  Not in _rows' single vectors: inside, their 9 broadcasts are hoisted
 * out of the vector loop (1 stack op, no broadcast per 36 FMAs); the masked ones (12 stack ops)
 * hardly run with ReLU.  benchmarks/dw_ab.sh against 23dc1bb, 1 thread, AVX2, 3 x 501
 * rounds each order, loaded host, new / base as the geometric mean of both orders' medians,
 * same bits: 32@112 in 12-row bands (the stem block's) 0.980, 0.982, 0.984; 72@56 in 8-row
 * bands (layers.8.1-8.2) 0.958, 0.981, 0.973.  subgraph_shapes.py --against 23dc1bb (51
 * rounds, both orders twice, bit-identical): the stem block 0.963, 0.962 / reversed 1.055,
 * 1.007; layers.8.1-8.2 1.000, 0.998 / 1.009, 1.019; the whole MnasNet (31 rounds) 1.005,
 * 1.007 / 1.013, 1.005: level within the noise; this code's build (09:10, load 2-3): the stem
 * block 1.006 [0.979-1.028] / reversed 1.030 [1.003-1.058], the whole MnasNet 0.993
 * [0.978-0.999] / reversed 1.027 [1.018-1.033] (~0.98-0.99, to confirm).  Tried and left: the
 * taps in (ki, kj) order with each input an FMA's memory operand (8 sums + 1 weight, no
 * spills; 72 input loads per pair instead of 36, half of them across a cache line): 1.31 of
 * the base's time on 32@112 in 12-row bands, 1.13-1.19 on 72@56; HOLD 5 and 6 at stride 2
 * (_split_rows' pairs, ReLU, 8 stack ops before, 0 and 2 after): 48@112 in 4-row bands
 * 1.02-1.05, not taken. */
static inline __attribute__((always_inline)) void TC_DW_CAT(TC_DW_FN, _k3_taps)(
    const int SW, const int NV, const int EDGE, const int HOLD, const float *const *in,
    const ptrdiff_t *off, const float *w, float bias, tc_v acc[2][TC_DW_ROWS])
{
    const int R = TC_DW_ROWS, KC = 3;
    TC_DW_OPAQUE(w);
    for (int c = 0; c < NV; c++)
        for (int r = 0; r < R; r++)
            acc[c][r] = tc_v_set1(bias);
    const float *wr = w; /* weights HOLD.. broadcast again at each input row */
    _Pragma("GCC unroll 9") for (int j = 0; j < (R - 1) * SW + KC; j++) {
        const float *q = in[j];
        TC_DW_OPAQUE(q);
        if (HOLD < KC * KC) /* HOLD 0: every weight broadcast at each use (REWEIGH above) */
            TC_DW_OPAQUE(wr);
        _Pragma("GCC unroll 3") for (int kj = 0; kj < KC; kj++) {
            tc_v v[2];
            _Pragma("GCC unroll 2") for (int c = 0; c < NV; c++) {
                if (EDGE == 1 && c == 0 && kj == 0)
                    v[c] = tc_v_shift_in_zero_lo(tc_v_load(q + off[1]));
                else if (EDGE == 2 && c == 1 && kj == 2)
                    v[c] = tc_v_shift_in_zero_hi(tc_v_load(q + off[1] + TC_VL));
                else
                    v[c] = tc_v_load(q + off[kj] + c * TC_VL);
            }
            if (NV == 2)
                TC_DW_PAIR_HERE(v[0], v[1]);
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
                const int ki = j - SW * r;
                if (ki >= 0 && ki < KC) {
                    const int t = ki * KC + kj;
                    const tc_v wv = tc_v_set1(t < HOLD ? w[t] : wr[t]);
                    _Pragma("GCC unroll 2") for (int c = 0; c < NV; c++)
                        acc[c][r] = tc_v_fma(v[c], wv, acc[c][r]);
                }
            }
        }
    }
    /* the sums made here: else gcc sank each row's FMAs past the caller's `r < nrows` test,
     * keeping every input of the 9 rows live (spilled) until then */
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
        if (NV == 2)
            TC_DW_PAIR_HERE(acc[0][r], acc[1][r]);
}

/* 3x3 at stride SW, 2 on column-split rows (_split_rows below) or 1 (_rows below): the 4 output
 * rows [oh0, oh0 + nrows) at the 2 whole vectors from column ow0, summed by _k3_taps: the row
 * kernel's bits.  At stride 1 (Zen 3, native, 1 thread,
 * benchmarks/dw_ab.sh against 6770cd6's one vector at a time, 31 alternating rounds, same bits,
 * loaded host): 24@112 0.86, 32@112 0.88, 96@112 0.89, 72@56 0.97, 144@56 0.99 (Clip 0.91),
 * 192@28 0.99, 72@56 in 8-row bands 0.94; MnasNet's stem block (benchmarks/subgraph_shapes.py,
 * 21 rounds) 0.976 [0.949-0.985], layers.8 0.99, the whole MnasNet and MobileNetV2 0.997-0.998
 * (within noise).  Tried and left at stride 1: the row's border vectors in pairs too, their
 * loads masked: 1.03-1.12 of one vector at a time on 56- and 112-wide rows, 0.99-1.07 with
 * the masks made only where needed; at stride 2, the first vector's column -1 loaded unmasked
 * from the even phase's last value and zeroed by a blend, so that it pairs: 1.04-1.10 of the
 * masked single vector on 48@112 4-row bands (dw_ab, DW_AB_SPLIT=1 DW_AB_ROWS=8).
 * At stride 2, against one vector at a time (s22, 2026-12-03, Zen 4, AVX2,
 * benchmarks/dw_ab.sh with DW_AB_SPLIT=1 DW_AB_ROWS=7: a 4-row band's planes as ir_fused.c
 * calls them, 41 alternating rounds, same bits; loaded host): 96@112 (56 wide) 0.83-0.86,
 * 48@112 0.82-0.90, 64@112 0.76-0.85, 144@56 (28 wide: one pair a row) 0.93-0.96; 8-row bands
 * 0.84-0.91 and 0.96-0.98.  Blocks (in-process, min of 400 runs, against 1e48dbe): MobileNetV2's
 * features.2 0.98, MnasNet's layers.8.0 0.98-1.00, features.4 1.00 (the depthwise is 10-15% of
 * them).  Tried and left: the row's first vector at pad 1 as a pair too (its column -1 loaded
 * from the even phase's last value, lane 0 zeroed, instead of the masked single vector):
 * 0.98-0.99 of the pairs, within noise; the weights broadcast again at each input row
 * (TC_DW_OPAQUE per row): 0.83-0.96, no better than once per pair.  Its stores are its own:
 * the pair run through the column-split copy kernel's row function (removed since, see
 * _block_pick; its stores testing each vector's width and row) was 1.04-1.14 of this one
 * (dw_ab, same protocol).  Tried again natively (s24, Zen 3, 1 thread, dw_ab.sh built both
 * ways round against ca2579e, 31 rounds, same bits): that lead pair (lane 0 zeroed by a
 * blend) instead of the masked single vector on 48@112 4-row bands 1.06-1.10 of the time. */
static inline __attribute__((always_inline)) void TC_DW_CAT(TC_DW_FN, _pair_k3)(
    const int KIND, const int SW, const int EDGE, int oh0, int nrows, const float *const *in,
    const ptrdiff_t *off, const float *w, float bias, const float *residual, tc_act_k act, int OW,
    int ow0, float *y)
{
    const int R = TC_DW_ROWS;
    if (KIND >= 0)
        act.kind = KIND;
    tc_v acc[2][TC_DW_ROWS];
    /* the weights held in registers: with Clip none (REWEIGH), with ReLU TC_DW_HOLD */
    const int hold = SW != 1 ? 9
                     : act.kind == TC_ACT_CLIP ? 0
                     : act.kind == TC_ACT_RELU ? TC_DW_HOLD : 9;
    TC_DW_CAT(TC_DW_FN, _k3_taps)(SW, 2, EDGE, hold, in, off, w, bias, acc);
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
        if (r >= nrows)
            break;
        _Pragma("GCC unroll 2") for (int c = 0; c < 2; c++) {
            const ptrdiff_t o = (ptrdiff_t)(oh0 + r) * OW + ow0 + c * TC_VL;
            tc_v v = acc[c][r];
            if (residual)
                v = tc_v_add(v, tc_v_load(residual + o));
            tc_v_store(y + o, tc_v_act(act, v));
        }
    }
}

/* R output rows [oh0, oh0 + R) of the plane, R = 1 or 4, horizontal stride SW
 * (1, 2, or 0: p->sw, lane by lane), kernel KC x KC (3, 5, or 0: p->KH x p->KW),
 * dilation DL in both directions with KC (1, or 2: LRASPP's 5x5 of the last stages);
 * all constants after inlining, so that 3x3 and 5x5 unroll their taps.  Only
 * the first nrows are stored: the others are computed to keep R chains in
 * flight (their rows read inside the plane, or zrow). */
static inline __attribute__((always_inline)) void TC_DW_CAT(TC_DW_FN, _rows)(
    const int R, const int SW, const int KC, const int DL, const int COLS, int oh0, int nrows,
    int more, const float *x, int H, int W,
    const float *zrow, const float *w, const tc_conv2d_params *p, float bias,
    const float *residual, tc_act_k act, int OW, float *y)
{
    /* 3x3 and 5x5 run only with square strides and dilations (see TC_DW_FN) */
    const int KH = KC ? KC : p->KH, KW = KC ? KC : p->KW, sh = KC ? SW : p->sh;
    const int dh = KC ? DL : p->dh, dw = KC ? DL : p->dw;
    const int sw = SW ? SW : p->sw, ih0 = oh0 * sh - p->pt;
    /* the floats the 8 lanes of one tap span */
    const int span = SW == 2 ? 2 * TC_VL : (TC_VL - 1) * sw + 1;
    /* input row of output row r, tap row ki; rows above or below the input read zeros */
#define TC_DW_ROW(r, ki)                                                            \
    (ih0 + (r) * sh + (ki) * dh >= 0 && ih0 + (r) * sh + (ki) * dh < H            \
         ? x + (ptrdiff_t)(ih0 + (r) * sh + (ki) * dh) * W                          \
         : zrow)
    /* 3x3 and 5x5: the distinct input rows once for all vectors of the rows;
     * output row r, tap row ki reads in[r * SW + ki * DL], a constant index once
     * unrolled, so the R * KC taps share (R - 1) * SW + (KC - 1) * DL + 1 pointers
     * (6 for 3x3 stride 1) that stay in registers */
    const float *in[(TC_DW_ROWS - 1) * 2 + 4 * 2 + 1];
    if (KC)
        for (int j = 0; j < (R - 1) * SW + (KC - 1) * DL + 1; j++)
            in[j] = ih0 + j >= 0 && ih0 + j < H ? x + (ptrdiff_t)(ih0 + j) * W : zrow;
#define TC_DW_ROWS_OF(ki)                                          \
    const float *r0 = KC ? in[(ki) * DL] : TC_DW_ROW(0, ki), *r1 = r0, *r2 = r0, *r3 = r0; \
    if (R > 1) {                                                    \
        r1 = KC ? in[SW + (ki) * DL] : TC_DW_ROW(1, ki);            \
        r2 = KC ? in[2 * SW + (ki) * DL] : TC_DW_ROW(2, ki);        \
        r3 = KC ? in[3 * SW + (ki) * DL] : TC_DW_ROW(3, ki);        \
    }
    /* 3x3 at stride 1, 3x3 and 5x5 at stride 2: the taps taken input row by input row.
     * Input row j of the (R - 1) * SW + KC the R output rows read is loaded
     * once per tap column (at stride 2 split into even and odd columns once per
     * pair of tap columns) and feeds every output row r that reads it, with tap
     * row ki = j - SW * r: at stride 2 a third fewer rows loaded, and one
     * in-lane shuffle per two taps instead of two cross-lane ones per tap.
     * Output row r still sums its taps in the order (ki, kj), so the result is
     * the tap-by-tap one bit for bit. */
#define TC_DW_BY_INPUT_ROW(MASKED)                                                          \
    _Pragma("GCC unroll 11") for (int j = 0; j < (R - 1) * SW + KC; j++) {                  \
        tc_v v[6];                                                                          \
        const float *q = in[j] + iw0;                                                       \
        TC_DW_OPAQUE(q);                                                                    \
        if (SW == 1) {                                                                      \
            _Pragma("GCC unroll 5") for (int kj = 0; kj < KC; kj++)                         \
                v[kj] = MASKED ? tc_v_load_masked(q + kj, mask0[kj]) : tc_v_load(q + kj);   \
        } else {                                                                            \
            _Pragma("GCC unroll 3") for (int kj = 0; kj < KC; kj += 2) {                    \
                if (MASKED)                                                                 \
                    tc_v_load_even_odd_masked(q + kj, mask0[kj], mask1[kj], &v[kj], &v[kj + 1]); \
                else                                                                        \
                    tc_v_load_even_odd(q + kj, &v[kj], &v[kj + 1]);                         \
            }                                                                               \
        }                                                                                   \
        TC_DW_INPUT_ROW_FMAS(j);                                                            \
    }
    TC_DW_FOR_VECTORS(!COLS) {
        const int iw0 = ow0 * sw - p->pl;
#if TC_DW_UNROLLED
        if (COLS && TC_VL == 8 && KC && DL == 1 && SW == 2 && R == TC_DW_ROWS && iw0 >= 0) {
            const int room = W - iw0 - (KC - 1) - span; /* floats past the first vector's */
            if (KC == 3 && OW - ow0 >= 4 * TC_VL && room >= 3 * TC_VL * SW) {
                TC_DW_CAT(TC_DW_FN, _cols_s2k3x4)(in, iw0, oh0, nrows, ow0, w, bias, residual, act, OW, y);
                ow0 += 3 * TC_VL;
                continue;
            }
            if (KC == 3 && OW - ow0 >= 2 * TC_VL && room >= TC_VL * SW) {
                TC_DW_CAT(TC_DW_FN, _cols_s2k3x2)(in, iw0, oh0, nrows, ow0, w, bias, residual, act, OW, y);
                ow0 += TC_VL;
                continue;
            }
        }
#endif
#if TC_DW_UNROLLED
        if (TC_DW_PAIR_ON && SW == 1 && KC == 3 && DL == 1 && R == TC_DW_ROWS && iw0 >= 0 &&
            ow0 + 2 * TC_VL <= ow_end && iw0 + KC - 1 + 2 * TC_VL <= W &&
            !(ow0 + 3 * TC_VL == ow_end && iw0 + 3 * TC_VL + 1 == W)) {
            /* 3x3 at stride 1: this vector and the next, both inside, side by side (8 sums in
             * flight against 4: the FMA latency hidden).  Not where three vectors are left and
             * the last two make the border pair below: this one then runs alone, inside (an odd
             * count of vectors, 56 wide: 0.95-0.98 of the pair here and the last vector alone,
             * masked; benchmarks/dw_ab.sh, 72@56 and 144@56, same bits) */
            const ptrdiff_t off[3] = {iw0, iw0 + 1, iw0 + 2};
            TC_DW_CAT(TC_DW_FN, _pair_k3)(-1, 1, 0, oh0, nrows, in, off, w, bias, residual, act,
                                          OW, ow0, y);
            ow0 += TC_VL;
            continue;
        }
        if (TC_DW_PAIR_ON && SW == 1 && KC == 3 && DL == 1 && R == TC_DW_ROWS &&
            ow0 + 2 * TC_VL <= ow_end &&
            (iw0 == -1 ? W >= 2 * TC_VL + 1 : iw0 >= 0 && iw0 + 2 * TC_VL + 1 == W)) {
            /* the same pair at a row's border, without masks: its first vector at pad 1 (tap
             * column -1 is column 0's vector shifted one lane up, a zero in lane 0: EDGE 1),
             * or its last two vectors where only the last lane's last tap falls past the row
             * (column W: the vector of columns W - 8.. shifted down, a zero in lane 7: EDGE 2).
             * Those lanes read zeros as the masked loads did, each output's taps in the same
             * order: the same bits.  Where the masked single vectors ran (s28, Zen 4, AVX2,
             * 1 thread, benchmarks/dw_ab.sh against 26b50c0, 21 rounds, median [25-75%]):
             * 32@112 Relu 0.904 [0.895-0.914] and 0.910, in 14-row bands (the stem block's)
             * 0.890; 72@56 0.873 and 0.863, in 10-row bands (MnasNet's layers.8.1-8.2) 0.837-
             * 0.849; 144@56 Clip 0.93-0.96.  (Masked loads in such pairs had lost, above.)  Blocks cut
             * from the networks (subgraph_shapes.py --against 26b50c0, 21 rounds, bit-identical):
             * MnasNet's stem block 0.971 and 0.978, layers.8.1-8.2 0.960 and 0.961, MobileNetV2's
             * stem block 0.966, features.3 0.939; whole networks (25-31 rounds) MnasNet 0.997 and
             * 1.001 [0.993-1.006], MobileNetV2 0.997 and 0.997 [0.992-1.005]: under the noise. */
            const ptrdiff_t off[3] = {iw0, iw0 + 1, iw0 + 2};
            if (iw0 == -1)
                TC_DW_CAT(TC_DW_FN, _pair_k3)(-1, 1, 1, oh0, nrows, in, off, w, bias, residual,
                                              act, OW, ow0, y);
            else
                TC_DW_CAT(TC_DW_FN, _pair_k3)(-1, 1, 2, oh0, nrows, in, off, w, bias, residual,
                                              act, OW, ow0, y);
            ow0 += TC_VL;
            continue;
        }
#endif
        tc_v a0 = tc_v_set1(bias), a1 = a0, a2 = a0, a3 = a0;
        /* every tap (ki, kj): the R rows' pointers r0..r3, column c0, weight wv */
#define TC_DW_FOR_TAPS(BODY)                                   \
    _Pragma("GCC unroll 5") for (int ki = 0; ki < KH; ki++) {  \
        TC_DW_ROWS_OF(ki)                                      \
        const float *wk = w + ki * KW;                         \
        _Pragma("GCC unroll 5") for (int kj = 0; kj < KW; kj++) { \
            const int c0 = iw0 + kj * dw;                      \
            const tc_v wv = tc_v_set1(wk[kj]);                 \
            BODY                                               \
        }                                                      \
    }
        const int inside = iw0 >= 0 && iw0 + (KW - 1) * dw + span <= W;
        if (KC && DL == 1 && (SW == 2 || (SW == 1 && KC == 3))) {
            /* input row by input row (TC_DW_BY_INPUT_ROW); not 5x5 at stride 1:
             * 240@28 and 672@14 ran 3-8% slower so (2026-11-30, AVX2 and
             * AVX-512; 5 row vectors + 4 sums + weights spill) */
            tc_m mask0[5], mask1[5];
            if (!inside)
                for (int kj = 0; kj < KW; kj++) {
                    const int c0 = iw0 + kj;
                    mask0[kj] = tc_m_range(-c0, W - c0);
                    mask1[kj] = tc_m_range(-c0 - TC_VL, W - c0 - TC_VL);
                }
            tc_v acc[TC_DW_ROWS] = {a0, a1, a2, a3};
            if (inside) {
                TC_DW_BY_INPUT_ROW(0)
            } else {
                TC_DW_BY_INPUT_ROW(1)
            }
            a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
            if (SW == 2) {
                a0 = tc_v_unscramble(a0);
                if (R > 1) {
                    a1 = tc_v_unscramble(a1);
                    a2 = tc_v_unscramble(a2);
                    a3 = tc_v_unscramble(a3);
                }
            }
        } else if (SW && inside) {
            /* every tap's lanes inside the row: plain loads */
            if (SW == 1)
                TC_DW_FOR_TAPS(TC_DW_TAP(TC_DW_LD);)
            else
                TC_DW_FOR_TAPS(TC_DW_TAP(TC_DW_LD_EVEN);)
        } else if (SW) {
            /* near a border: only the lanes inside the row are read; the masks of
             * a 3x3 or 5x5 tap column are computed once for all its rows */
            tc_m mask0[5], mask1[5];
            if (KC)
                for (int kj = 0; kj < KW; kj++) {
                    const int c0 = iw0 + kj * dw;
                    mask0[kj] = tc_m_range(-c0, W - c0);
                    mask1[kj] = tc_m_range(-c0 - TC_VL, W - c0 - TC_VL);
                }
            if (SW == 1) {
                TC_DW_FOR_TAPS(const tc_m m0 = KC ? mask0[kj] : tc_m_range(-c0, W - c0);
                               TC_DW_TAP(TC_DW_LD_MASKED);)
            } else {
                TC_DW_FOR_TAPS(const tc_m m0 = KC ? mask0[kj] : tc_m_range(-c0, W - c0);
                               const tc_m m1 = KC ? mask1[kj] : tc_m_range(-c0 - TC_VL, W - c0 - TC_VL);
                               TC_DW_TAP(TC_DW_LD_EVEN_MASKED);)
            }
        } else {
            /* other strides: lane by lane */
            TC_DW_FOR_TAPS(TC_DW_TAP(TC_DW_GATHER);)
        }
#undef TC_DW_FOR_TAPS
        TC_DW_STORE_ROWS(a0, a1, a2, a3);
        TC_DW_NEXT_VECTOR
    }
#undef TC_DW_ROW
#undef TC_DW_ROWS_OF
#undef TC_DW_BY_INPUT_ROW
}

/* The activation's kind made a constant for the stores of KERNEL(KIND, ...) where it is one of
 * the networks' (tc_v_act's switch folds away), else KERNEL(-1, ...) for act.kind: in the row
 * kernels the switch at every store was 4-5% of 3x3 at stride 1 and of the column-split 3x3/2
 * (perf, MobileNetV2, AVX2 emulation) */
#define TC_DW_KIND_CASE(K, KERNEL, ...) case K: KERNEL(K, __VA_ARGS__); break;
#define TC_DW_BY_KIND(kind, KERNEL, ...)                       \
    switch (kind) {                                            \
        TC_DW_KIND_CASE(TC_ACT_NONE, KERNEL, __VA_ARGS__)       \
        TC_DW_KIND_CASE(TC_ACT_RELU, KERNEL, __VA_ARGS__)       \
        TC_DW_KIND_CASE(TC_ACT_CLIP, KERNEL, __VA_ARGS__)       \
        TC_DW_KIND_CASE(TC_ACT_HARD_SWISH, KERNEL, __VA_ARGS__) \
    default:                                                   \
        KERNEL(-1, __VA_ARGS__);                               \
    }

/* All output rows with horizontal stride SW (see above); KIND: act's kind as a constant, or -1. */
static inline __attribute__((always_inline)) void TC_DW_CAT(TC_DW_FN, _plane_k)(
    const int KIND, const int SW, const int KC, const int DL, const int COLS, const float *x, int H,
    int W, const float *zrow, const float *w, const tc_conv2d_params *p, float bias,
    const float *residual, tc_act_k act, int OH, int OW, float *y)
{
    /* Sigmoid, SiLU: stored before activation, then one pass over the rows just
     * written (tc_act_deferred) */
    const int defer = tc_act_deferred(act.kind);
    tc_act_k ract = defer ? tc_act_of(TC_ACT_NONE) : act;
    if (KIND >= 0)
        ract.kind = KIND;
    if (OH == 1) {
        TC_DW_CAT(TC_DW_FN, _rows)(1, SW, KC, DL, COLS, 0, 1, 0, x, H, W, zrow, w, p, bias, residual, ract, OW,
                                   y);
        if (defer)
            tc_v_act_rows(act.kind, y, OW);
        return;
    }
    /* Tried and dropped (n30-eff1, 2026-12-04, Zen 4, AVX2 kernels, 1 thread, steps_ab.py
     * against the base): prefetching the output rows 8 ahead of each group of 4 (planes of at
     * least 56x56, within the plane), for outputs that land on lines out of the caches inside a
     * network: MobileNetV3-Small's features.1 depthwise (16 @ 112 -> 56) 0.977 [0.891-1.114],
     * noise.  What paid on EfficientNet-B0's features.1 was writing over the input instead
     * (conv.c dw_inplace_task). */
    for (int oh = 0; oh < OH; oh += TC_DW_ROWS) {
        int nrows = OH - oh < TC_DW_ROWS ? OH - oh : TC_DW_ROWS;
        TC_DW_CAT(TC_DW_FN, _rows)(TC_DW_ROWS, SW, KC, DL, COLS, oh, nrows, oh + nrows < OH, x, H, W, zrow, w, p, bias, residual,
                                   ract, OW, y);
        if (defer)
            tc_v_act_rows(act.kind, y + (ptrdiff_t)oh * OW, (ptrdiff_t)nrows * OW);
    }
}
#define TC_DW_PLANE_K(KIND, ...) TC_DW_CAT(TC_DW_FN, _plane_k)(KIND, __VA_ARGS__)
/* 3x3 by act's kind (TC_DW_BY_KIND), the others with act.kind */
static inline __attribute__((always_inline)) void TC_DW_CAT(TC_DW_FN, _plane)(
    const int SW, const int KC, const int DL, const int COLS, const float *x, int H, int W,
    const float *zrow, const float *w, const tc_conv2d_params *p, float bias,
    const float *residual, tc_act_k act, int OH, int OW, float *y)
{
    if (KC == 3) {
        TC_DW_BY_KIND(tc_act_deferred(act.kind) ? TC_ACT_NONE : act.kind, TC_DW_PLANE_K, SW, KC, DL,
                      COLS, x, H, W, zrow, w, p, bias, residual, act, OH, OW, y)
    } else {
        TC_DW_PLANE_K(-1, SW, KC, DL, COLS, x, H, W, zrow, w, p, bias, residual, act, OH, OW, y);
    }
}
#undef TC_DW_PLANE_K

/* Small planes (OH * OW <= 64, e.g. 7x7), stride 1, no dilation, OW == W (pads
 * left + right = KW - 1): the row kernel above would spend a masked vector of
 * mostly idle lanes per output row.  Here the plane is one flat row of
 * OH * OW outputs: tap (ki, kj) of output o reads x[o + (ki - pt) * W + kj - pl],
 * one offset for the whole plane, and the lanes whose input column or row
 * falls in the padding are masked off.  The masks are 64-bit maps of the
 * output plane (col[kj] & row[ki]), built once per plane; 4 vectors in flight.
 * KC: 3 unrolled, 0 for p->KH x p->KW (<= TC_DW_FLAT_KMAX). */
#define TC_DW_FLAT_MAX 64
#define TC_DW_FLAT_KMAX 7
static inline __attribute__((always_inline)) void TC_DW_CAT(TC_DW_FN, _flat_plane)(
    const int KC, const float *x, int H, int W, const float *w, const tc_conv2d_params *p, float bias,
    const float *residual, tc_act_k act, int OH, int OW, float *y)
{
    const int KH = KC ? KC : p->KH, KW = KC ? KC : p->KW, n = OH * OW;
    const int defer = tc_act_deferred(act.kind);
    const tc_act_k ract = defer ? tc_act_of(TC_ACT_NONE) : act;
    /* the first k bits */
#define TC_DW_LOW_BITS(k) ((k) >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << (k)) - 1)
    uint64_t col[TC_DW_FLAT_KMAX], row[TC_DW_FLAT_KMAX], rows = 0;
    for (int oh = 0; oh < OH; oh++)
        rows |= (uint64_t)1 << (oh * OW); /* bit 0 of each output row */
    for (int kj = 0; kj < KW; kj++) {
        /* outputs ow of one row whose input column ow + kj - pl is inside [0, W),
         * repeated on every row (one < 2^OW: the product has no carries) */
        const int lo = p->pl - kj > 0 ? p->pl - kj : 0;
        const int hi = W + p->pl - kj < OW ? W + p->pl - kj : OW;
        const uint64_t one = hi > lo ? TC_DW_LOW_BITS(hi) & ~TC_DW_LOW_BITS(lo) : 0;
        col[kj] = one * rows;
    }
    for (int ki = 0; ki < KH; ki++) {
        /* output rows oh whose input row oh + ki - pt is inside [0, H) */
        const int lo = p->pt - ki > 0 ? p->pt - ki : 0;
        const int hi = H + p->pt - ki < OH ? H + p->pt - ki : OH;
        row[ki] = hi > lo ? TC_DW_LOW_BITS(hi * OW) & ~TC_DW_LOW_BITS(lo * OW) : 0;
    }
#undef TC_DW_LOW_BITS
    for (int o0 = 0; o0 < n; o0 += 4 * TC_VL) {
        tc_v a0 = tc_v_set1(bias), a1 = a0, a2 = a0, a3 = a0;
        _Pragma("GCC unroll 5") for (int ki = 0; ki < KH; ki++) {
            _Pragma("GCC unroll 5") for (int kj = 0; kj < KW; kj++) {
                const float *s = x + o0 + (ptrdiff_t)(ki - p->pt) * W + kj - p->pl;
                const uint64_t m = (col[kj] & row[ki]) >> o0;
                const tc_v wv = tc_v_set1(w[ki * KW + kj]);
                a0 = tc_v_fma(tc_v_load_masked(s, tc_m_bits(m)), wv, a0);
                a1 = tc_v_fma(tc_v_load_masked(s + TC_VL, tc_m_bits(m >> TC_VL)), wv, a1);
                a2 = tc_v_fma(tc_v_load_masked(s + 2 * TC_VL, tc_m_bits(m >> 2 * TC_VL)), wv, a2);
                a3 = tc_v_fma(tc_v_load_masked(s + 3 * TC_VL, tc_m_bits(m >> 3 * TC_VL)), wv, a3);
            }
        }
        tc_v acc[4] = {a0, a1, a2, a3};
        for (int j = 0; j < 4 && o0 + j * TC_VL < n; j++) {
            const int o = o0 + j * TC_VL;
            const tc_m ms = tc_m_range(0, n - o);
            tc_v v = acc[j];
            if (residual)
                v = tc_v_add(v, tc_v_load_masked(residual + o, ms));
            v = tc_v_act(ract, v);
            if (n - o >= TC_VL)
                tc_v_store(y + o, v);
            else
                tc_v_store_masked(y + o, ms, v);
        }
    }
    if (defer)
        tc_v_act_rows(act.kind, y, n);
}

/* One function per (stride, kernel) the networks use, and a general one. */
#define TC_DW_VARIANT(NAME, SW, KC, DL, COLS)                                                        \
    static void TC_DW_CAT(TC_DW_FN, NAME)(                                                      \
        const float *x, int H, int W, const float *zrow, const float *w,                        \
        const tc_conv2d_params *p, float bias, const float *residual, tc_act_k act, int OH, int OW,  \
        float *y)                                                                               \
    {                                                                                           \
        TC_DW_CAT(TC_DW_FN, _plane)(SW, KC, DL, COLS, x, H, W, zrow, w, p, bias, residual, act, OH, OW, \
                                    y);                                                         \
    }
#if TC_DW_UNROLLED
TC_DW_VARIANT(_s1k3, 1, 3, 1, 0)
TC_DW_VARIANT(_s2k3, 2, 3, 1, 0)
TC_DW_VARIANT(_s2k3c, 2, 3, 1, 1)
TC_DW_VARIANT(_s1k5, 1, 5, 1, 0)
TC_DW_VARIANT(_s2k5, 2, 5, 1, 0)
TC_DW_VARIANT(_s1k5d2, 1, 5, 2, 0)
#endif
TC_DW_VARIANT(_s1, 1, 0, 1, 0)
TC_DW_VARIANT(_s2, 2, 0, 1, 0)
TC_DW_VARIANT(_sn, 0, 0, 1, 0)
#undef TC_DW_VARIANT

#define TC_DW_FLAT_VARIANT(NAME, KC)                                                               \
    static void TC_DW_CAT(TC_DW_FN, NAME)(                                                         \
        const float *x, int H, int W, const float *zrow, const float *w, const tc_conv2d_params *p, \
        float bias, const float *residual, tc_act_k act, int OH, int OW, float *y)                 \
    {                                                                                              \
        (void)zrow;                                                                                \
        TC_DW_CAT(TC_DW_FN, _flat_plane)(KC, x, H, W, w, p, bias, residual, act, OH, OW, y);       \
    }
#if TC_DW_UNROLLED
TC_DW_FLAT_VARIANT(_flat_k3, 3)
#endif
TC_DW_FLAT_VARIANT(_flat, 0)
#undef TC_DW_FLAT_VARIANT

#if TC_DW_UNROLLED
/* Small planes, TC_VL channels side by side (3x3 and 5x5, stride 1 or 2, no
 * dilation): on 7x7 and 14x14 planes the row kernel spends most of its time on
 * row pointers, masks and partial vectors.  Here TC_VL channels' planes are
 * transposed (tc_v_transpose) into a zero-padded buffer of pixels, one vector
 * of TC_VL channels per pixel; every output pixel is then KC * KC plain FMAs
 * against per-tap weight vectors, 4 pixels in flight, and the result is
 * transposed back into the channel planes, where the residual and the
 * activation are applied as in the row kernel.  A pixel sums bias, then its
 * taps in the order (ki, kj), padding taps included (as zeros): the row
 * kernel's result bit for bit.
 * x: [nc][H][W]  w: [nc][KC][KC]  bias: [>= k0 + nc] or NULL  residual: [nc][OH][OW]
 * or NULL (may be y)  y: [nc][OH][OW], channels k0..k0 + nc - 1, nc <= TC_DW_BLOCK */
#define TC_DW_BLOCK_IN_MAX 961  /* padded input pixels: ((OH - 1) * s + KC) * ((OW - 1) * s + KC) */
#define TC_DW_BLOCK_OUT_MAX 196 /* output pixels */
/* ... and of a band of _block_bands_k3/_k5 (8 lanes only): a whole 28x28 plane at stride 1,
 * 14 of the 28 output rows of a 56x56 plane at stride 2 (31 x 59 padded pixels at 5x5): 58 KiB
 * of padded input and 25 KiB of sums on the stack (see _block_band).  The input was 1024
 * pixels (32 KiB, the L1d), 7-row bands at stride 2: 4 bands each copying and transposing its
 * 3 (5x5) or 1 (3x3) halo rows again.  14-row bands, benchmarks/dw_ab.sh against 59debfb (s26,
 * Zen 4, AVX2, 1 thread, thread CPU time, 21-31 alternating rounds, loaded host, same bits):
 * 5x5/2 72@56 0.930 [0.917-1.012], 0.924 [0.858-1.019], 0.933 [0.890-0.999]; 144@56 SiLU 0.965
 * [0.926-0.994]; 3x3/2 144@56 Clip 0.962 [0.882-1.032], 72@56 0.953 [0.868-1.032]; 5x5 120@28
 * (unchanged: one band either way) 0.994.  The whole 56x56 plane in one band (3584 pixels,
 * 112 KiB) against 14-row bands: 0.96-1.00, not taken (an L2 of 512 KiB on the target). */
#define TC_DW_BAND_IN_MAX 1856
#define TC_DW_BAND_OUT_MAX 784
#define TC_DW_BUF_IN_MAX (TC_VL == 8 ? TC_DW_BAND_IN_MAX : TC_DW_BLOCK_IN_MAX)
#define TC_DW_BUF_OUT_MAX (TC_VL == 8 ? TC_DW_BAND_OUT_MAX : TC_DW_BLOCK_OUT_MAX)
#define TC_DW_ROLL_ROWS 8 /* padded input rows of the rolling buffer (ROLL), a power of 2 */
static inline __attribute__((always_inline)) void TC_DW_CAT(TC_DW_FN, _block_k)(
    const int ROLL, const int KC, const float *x, int H, int W, size_t in_plane, const float *w,
    const tc_conv2d_params *p, const float *bias, const float *residual, const tc_activation *act,
    int k0, int nc, int OH, int OW, size_t out_plane, float *y)
{
    const int s = p->sh, Hp = (OH - 1) * s + KC, Wp = (OW - 1) * s + KC, n = OH * OW;
    const int kind = act ? act->kind : TC_ACT_NONE, defer = tc_act_deferred(kind);
    /* ob: TC_VL spare pixels, read (never stored) by the last transpose back */
    tc_v buf[TC_DW_BUF_IN_MAX], ob[TC_DW_BUF_OUT_MAX + TC_VL], wt[32], r[TC_VL];
    tc_act_k ak[TC_VL];
    float tmp[TC_VL];
    /* output pixel o's first tap in buf; the last group of 8 repeats the last pixel */
    int pix[TC_DW_BUF_OUT_MAX + 7];
    if (!ROLL) {
        for (int oh = 0, o = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++, o++)
                pix[o] = oh * s * Wp + ow * s;
        for (int o = n; o < n + 7; o++)
            pix[o] = pix[n - 1];
    }
    for (int c0 = 0; c0 < nc; c0 += TC_VL) {
        const int m = nc - c0 < TC_VL ? nc - c0 : TC_VL;
        const float *xc = x + c0 * in_plane;
        /* weights and bias as vectors over the channels (lanes past m: 0).  Dropped try (s16,
         * AMD Zen 4 host, AVX2 emulation, 1 thread, lone layers, thread CPU time, 61-81 rounds
         * alternating with main in one process, load 7-9): a tap-major copy of the weights
         * packed after them (tc_conv2d_pack_f32), loaded here instead of transposed: 5x5 1152@7
         * and 960@7 0.98-0.99, 3x3 960@7 and 1152@7 0.92-1.09 (two runs disagreeing), 576@14
         * 1.06: nothing clear for a change of the packed layout.  Also re-measured there: the
         * staged kernel instead of this one on 14x14 at stride 1, 3x3 384@14 to 576@14
         * 1.16-1.22, 5x5 480@14 and 672@14 1.33-1.40: this one stays. */
        for (int t0 = 0; t0 < KC * KC; t0 += TC_VL) {
            const tc_m mk = tc_m_range(0, KC * KC - t0);
            for (int ch = 0; ch < TC_VL; ch++)
                r[ch] = ch < m ? tc_v_load_masked(w + (size_t)(c0 + ch) * KC * KC + t0, mk)
                               : tc_v_zero();
            tc_v_transpose(r);
            for (int q = 0; q < TC_VL; q++)
                wt[t0 + q] = r[q];
        }
        for (int i = 0; i < TC_VL; i++) {
            tmp[i] = i < m && bias ? bias[k0 + c0 + i] : 0.0f;
            ak[i] = defer ? tc_act_of(TC_ACT_NONE) : tc_act_at(act, k0 + c0 + (i < m ? i : 0));
        }
        const tc_v bv = tc_v_load(tmp);
        /* ROLL: output rows 2 at a time, the padded input rows they read copied into a ring of
         * TC_DW_ROLL_ROWS rows just before (stride 2, rows of 15 to 28 outputs); else the
         * whole band at once */
        const int RR = ROLL ? 2 : OH;
        int filled = 0; /* padded rows copied */
        for (int oh0 = 0; oh0 < OH; oh0 += RR) {
        const int rows = OH - oh0 < RR ? OH - oh0 : RR, nn = rows * OW;
        const int ihi = ROLL ? (oh0 + rows - 1) * s + KC : Hp;
        /* the padded buffer: buffer row i is input row i - pt, column j input column j - pl */
        for (int i = filled; i < ihi; i++) {
            tc_v *brow = buf + (ptrdiff_t)(ROLL ? i & (TC_DW_ROLL_ROWS - 1) : i) * Wp;
            const int ih = i - p->pt;
            const int lo = p->pl < Wp ? p->pl : Wp;                        /* first input column */
            const int hi = ih >= 0 && ih < H ? (W + p->pl < Wp ? W + p->pl : Wp) : lo; /* its end */
            for (int j = 0; j < lo; j++)
                brow[j] = tc_v_zero();
            for (int j = hi; j < Wp; j++)
                brow[j] = tc_v_zero();
            for (int j0 = lo; j0 < hi; j0 += TC_VL) {
                /* a row of at least TC_VL pixels ends on a whole vector that
                 * overlaps the one before (the same values written twice) */
                if (j0 + TC_VL > hi && hi - lo >= TC_VL)
                    j0 = hi - TC_VL;
                const int cnt = hi - j0 < TC_VL ? hi - j0 : TC_VL;
                const float *src = xc + (ptrdiff_t)ih * W + (j0 - p->pl);
                if (cnt == TC_VL && m == TC_VL) {
                    /* t, not r: r's variable indices below keep r in memory, and each
                     * transposed vector was stored twice (to buf and to r's stack slot); with
                     * t in registers (here and in the output pass), AVX2 emulation, 1 thread,
                     * thread CPU time, lone layers, 40 rounds alternating in one process with
                     * 15122bd's .so (2026-12-02 14:11, load 7, same bits): 3x3 14x14 0.91-0.98
                     * (576@14 0.92, 480@14 0.91, 672@14 0.93), 576@14/2 0.90, 5x5 14x14 0.93-0.94,
                     * 5x5/2 576@14 0.91, 672@14 0.96, 7x7 0.97-0.98, 5x5 bands 120@28 0.95.
                     * Dropped tries (same protocol, s17): the next block's input planes
                     * prefetched into L1 a few lines per group of pixels, 3x3 1.05, 5x5 1.3-1.5
                     * (its counters spilled the FMA loop's registers); rows narrower than a
                     * vector (7x7) loaded whole where inside x instead of masked, 3x3 1152@7
                     * 0.98-1.0, 5x5 1.00-1.03 (the masked loads' samples were their inputs'
                     * misses) */
                    tc_v t[TC_VL];
                    for (int ch = 0; ch < TC_VL; ch++)
                        t[ch] = tc_v_load(src + ch * in_plane);
                    tc_v_transpose(t);
                    for (int q = 0; q < TC_VL; q++)
                        brow[j0 + q] = t[q];
                } else {
                    const tc_m mk = tc_m_range(0, cnt);
                    tc_v t[TC_VL];
                    for (int ch = 0; ch < TC_VL; ch++)
                        t[ch] = ch < m ? tc_v_load_masked(src + ch * in_plane, mk) : tc_v_zero();
                    tc_v_transpose(t);
                    /* constant indices (the loop unrolled, each store under its test): t stays
                     * in registers, as above (7x7's rows all come this way): 2 x 40-60 rounds,
                     * same protocol, against 043fa95 (14:29, load 9-10): 7x7 3x3 960@7
                     * 0.97-1.00, 1152@7 0.98; 5x5 1152@7 0.965-0.98, 960@7 0.97-0.99 */
                    _Pragma("GCC unroll 8") for (int q = 0; q < TC_VL; q++)
                        if (q < cnt)
                            brow[j0 + q] = t[q];
                }
            }
        }
        /* 7 or 8 output pixels in flight, then 4 for the last ones: each pixel's sum is a chain of
         * KC * KC dependent FMAs, and 4 chains left the FMA units waiting on their latency
         * (AVX2 emulation, 1 thread, lone layers, alternating, same bits: 5x5/2 672@14
         * and 576@14 see the commit) */
        int o0 = 0;
        /* Every group stores all its G sums, those past n (at most 3: pixels n..n+2) into ob's
         * spare vectors, never read back: guarded by o0 + i < n, the stores let GCC keep only 5
         * of the 7 chains of 3x3 in registers (9 weights + 7 sums = 16 ymm), the other 2
         * re-read their taps from spilled copies.  AVX2 emulation, 1 thread, thread CPU time,
         * lone layers, alternating with 6e81e67 (2026-12-01 20:28): 3x3 480@14 and 576@14
         * 0.91, 960@7 0.93, 192@28/2 0.94, 576@14/2 0.95, 240@28/2 0.96; 5x5 unchanged */
#define TC_DW_BLOCK_GROUPS(G, MORE)                                                     \
    for (; o0 + (MORE) < n; o0 += (G)) {                                               \
        const tc_v *src[G];                                                            \
        tc_v a[G];                                                                     \
        for (int i = 0; i < (G); i++)                                                  \
            src[i] = buf + pix[o0 + i], a[i] = bv;                                     \
        _Pragma("GCC unroll 5") for (int ki = 0; ki < KC; ki++)                        \
            _Pragma("GCC unroll 5") for (int kj = 0; kj < KC; kj++) {                  \
                const int d = ki * Wp + kj;                                            \
                const tc_v wv = wt[ki * KC + kj];                                      \
                _Pragma("GCC unroll 8") for (int i = 0; i < (G); i++)                  \
                    a[i] = tc_v_fma(src[i][d], wv, a[i]);                              \
            }                                                                          \
        for (int i = 0; i < (G); i++)                                                  \
            ob[o0 + i] = a[i];                                                         \
    }
        /* 7 pixels in flight, not 8 (7x7: 7 groups of 7, where 8s took 6 groups and a group
         * of 4 for the last pixel; 14x14: 28 groups of 7); the rest (n % 7) by 8 or 4.
         * AVX2 emulation, 1 thread, thread CPU time, lone layers, 4 rounds alternating with
         * integ11's 8s (2026-12-01 18:22-18:27, same bits): 5x5 960@7 0.73-0.75, 1152@7
         * 0.74-0.76, 672@14->7 0.79; 3x3 960@7 0.99, 1152@7 0.97-0.99, 576@14->7 0.98-0.99,
         * 384@14 576@14 672@14 0.98 (min; medians 0.94).  Dropped tries on 5x5 at stride 1
         * (s22, benchmarks/dw_ab.sh against dc40087, AVX2 emulation, 1 thread, 21 rounds, load
         * 4-5, same bits): 7 pixels of one row with each input pixel loaded once per tap row
         * and taken by the up to 5 sums it feeds (5 weights in registers, 16 loads for 35 FMAs
         * instead of 7 + 1 per tap) 1.03-1.07 on 120@28, 240@28, 672@14, 480@14, 1152@7, 960@7
         * (the sums' chains then wait on each other: the loads are not the limit); on the
         * whole 28x28 band, groups of 8 or 12 pixels through this macro 1.4-1.9 (spilled), 8
         * or 10 pixels of one row from one base pointer 1.02-1.05. */
        filled = ihi;
        if (!ROLL) {
        TC_DW_BLOCK_GROUPS(7, 6)
        TC_DW_BLOCK_GROUPS(8, 4)
        TC_DW_BLOCK_GROUPS(4, 0)
        } else {
            /* G outputs of row oh from column ow: tap (ki, kj) of output ow reads ring row
             * (2 oh + ki) & 7 at column 2 ow + kj, one base pointer per tap row (opaque, and the
             * stride a constant: else GCC kept a pointer per tap and output on the stack, a
             * reload per FMA, 1.34 of the bands' time).  Dropped tries (s27, benchmarks/dw_ab.sh
             * against this, AVX2, 1 thread, 21-31 rounds, load 6-9, same bits): groups of 8
             * outputs (8 8 8 4 on 28) 1.04 on 5x5/2 72@56, 1.00 on 3x3/2; each input column of a
             * tap row loaded once and taken by the up to 3 sums it feeds (17 loads, 5 weights in
             * registers for 35 FMAs of 5x5) 5x5/2 72@56 0.98 then 1.08, 144@56 SiLU 1.10, 3x3/2
             * 72@56 0.945 and 0.937 (not taken for 3x3 alone: measure it again) */
#define TC_DW_ROLL_GROUPS(G)                                                            \
    for (; ow + (G) <= OW; ow += (G)) {                                                \
        tc_v a[G];                                                                     \
        for (int i = 0; i < (G); i++)                                                  \
            a[i] = bv;                                                                 \
        _Pragma("GCC unroll 5") for (int ki = 0; ki < KC; ki++) {                      \
            const tc_v *rb = buf + (ptrdiff_t)((oh * 2 + ki) & (TC_DW_ROLL_ROWS - 1)) * Wp + ow * 2; \
            TC_DW_OPAQUE(rb);                                                          \
            _Pragma("GCC unroll 5") for (int kj = 0; kj < KC; kj++) {                  \
                const tc_v wv = wt[ki * KC + kj];                                      \
                _Pragma("GCC unroll 8") for (int i = 0; i < (G); i++)                  \
                    a[i] = tc_v_fma(rb[i * 2 + kj], wv, a[i]);                         \
            }                                                                          \
        }                                                                              \
        for (int i = 0; i < (G); i++)                                                  \
            ob[(oh - oh0) * OW + ow + i] = a[i];                                       \
    }
            for (int oh = oh0; oh < oh0 + rows; oh++) {
                int ow = 0;
                TC_DW_ROLL_GROUPS(7)
                TC_DW_ROLL_GROUPS(4)
                TC_DW_ROLL_GROUPS(1)
            }
#undef TC_DW_ROLL_GROUPS
        }
#undef TC_DW_BLOCK_GROUPS
        /* back to channel planes: residual, activation, store.
         * Where the kernel's time goes on this Zen 4 host (s18, benchmarks/dw_ab.sh: a part
         * skipped against the whole, AVX2, 1 thread, thread CPU time, 31 rounds alternating
         * in one process, load 7-9): the input copy 0.20 of 3x3 576@14, 0.39 of 3x3/2 576@14,
         * 0.17 of 3x3 960@7, 0.14 of 5x5 672@14; the taps' FMAs 0.41, 0.29, 0.36, 0.50; this
         * pass (against one store per 8 pixels) 0.28, 0.21, 0.24, 0.21 (HardSwish; SiLU's
         * deferred pass aside).  Its stores' misses are not the cost: every block's outputs
         * written into one L1-resident block ran 0.97-1.01.  Dropped tries (same protocol,
         * same bits): the 8 x 8 transposes read from memory as 128-bit row halves paired by
         * vinsertf128, two in-lane levels (the second one shuffle and two blends per pair of
         * rows: 12 shuffles, 8 blends, 16 loads instead of 24 shuffles and 8 loads; alone 13.3
         * against 18.1 ns per transpose and its stores), in the copy and here: 3x3/2 576@14
         * 1.07 [1.03-1.09], 5x5 480@14 1.05-1.14, 3x3 576@14 and 960@7 0.98-1.03 (in the copy
         * alone 1.03-1.07, its loads come from L2; here alone 0.97-1.00); here, two in-lane
         * levels leaving channels j and j + 4 in one vector, the activation on it, its halves
         * stored (16 shuffles, 16 128-bit stores instead of 24 and 8): Clip 0.96-0.98, Relu
         * 0.98-1.025, 5x5 1.00-1.015; the activation's parameters taken once (ak[0]) for the
         * kinds that have one set: 0.97-1.00.  The shuffles are not the limit here. */
        for (int o0 = 0; o0 < nn; o0 += TC_VL) {
            /* without a residual (which may be y) the last vector may overlap
             * the one before, as above */
            if (!residual && o0 + TC_VL > nn && nn >= TC_VL)
                o0 = nn - TC_VL;
            const int cnt = nn - o0 < TC_VL ? nn - o0 : TC_VL;
            const tc_m mk = tc_m_range(0, cnt);
            if (!residual && cnt == TC_VL && m == TC_VL) {
                tc_v t[TC_VL]; /* as the copy's: in registers */
                for (int q = 0; q < TC_VL; q++)
                    t[q] = ob[o0 + q];
                tc_v_transpose(t);
                /* every channel's activation has one kind: made a constant per
                 * case, so that tc_v_act's switch folds away (it was a quarter
                 * of the instructions on 960@7) */
#define TC_DW_STORE_ALL(KIND)                                                        \
    for (int ch = 0; ch < TC_VL; ch++) {                                             \
        tc_act_k a = ak[ch];                                                         \
        a.kind = KIND;                                                               \
        tc_v_store(y + (size_t)(c0 + ch) * out_plane + (size_t)oh0 * OW + o0, tc_v_act(a, t[ch]));      \
    }                                                                                \
    break;
                switch (ak[0].kind) {
                case TC_ACT_NONE:
                    TC_DW_STORE_ALL(TC_ACT_NONE)
                case TC_ACT_RELU:
                    TC_DW_STORE_ALL(TC_ACT_RELU)
                case TC_ACT_CLIP:
                    TC_DW_STORE_ALL(TC_ACT_CLIP)
                case TC_ACT_LEAKY_RELU:
                    TC_DW_STORE_ALL(TC_ACT_LEAKY_RELU)
                case TC_ACT_HARD_SWISH:
                    TC_DW_STORE_ALL(TC_ACT_HARD_SWISH)
                default:
                    TC_DW_STORE_ALL(ak[0].kind)
                }
#undef TC_DW_STORE_ALL
                continue;
            }
            for (int q = 0; q < TC_VL; q++)
                r[q] = ob[o0 + q];
            tc_v_transpose(r);
            for (int ch = 0; ch < m; ch++) {
                const size_t off = (size_t)(c0 + ch) * out_plane + (size_t)oh0 * OW + o0;
                tc_v v = r[ch];
                if (residual)
                    v = tc_v_add(v, tc_v_load_masked(residual + off, mk));
                v = tc_v_act(ak[ch], v);
                if (cnt == TC_VL)
                    tc_v_store(y + off, v);
                else
                    tc_v_store_masked(y + off, mk, v);
            }
        }
        }
    }
    if (defer) {
        if (out_plane == (size_t)n)
            tc_v_act_rows(kind, y, (ptrdiff_t)nc * n);
        else
            for (int c = 0; c < nc; c++)
                tc_v_act_rows(kind, y + (size_t)c * out_plane, (ptrdiff_t)n);
    }
}

static void TC_DW_CAT(TC_DW_FN, _block_k3)(const float *x, int H, int W, const float *w,
                                           const tc_conv2d_params *p, const float *bias,
                                           const float *residual, const tc_activation *act, int k0,
                                           int nc, int OH, int OW, float *y)
{
    TC_DW_CAT(TC_DW_FN, _block_k)(0, 3, x, H, W, (size_t)H * W, w, p, bias, residual, act, k0, nc,
                                  OH, OW, (size_t)OH * OW, y);
}
static void TC_DW_CAT(TC_DW_FN, _block_k5)(const float *x, int H, int W, const float *w,
                                           const tc_conv2d_params *p, const float *bias,
                                           const float *residual, const tc_activation *act, int k0,
                                           int nc, int OH, int OW, float *y)
{
    TC_DW_CAT(TC_DW_FN, _block_k)(0, 5, x, H, W, (size_t)H * W, w, p, bias, residual, act, k0, nc,
                                  OH, OW, (size_t)OH * OW, y);
}

/* b output rows per band evened out over the bands of OH rows they make (0 for 0) */
static int TC_DW_CAT(TC_DW_FN, _even_band)(int OH, int b)
{
    if (b <= 0)
        return 0;
    const int nb = (OH + b - 1) / b;
    return (OH + nb - 1) / nb;
}

/* A kernel over output rows [0, OH) of an image of H input rows, planes in_plane and out_plane
 * apart (_block_k, _staged_k with their geometry bound) */
typedef void (*TC_DW_CAT(TC_DW_FN, _rows_fn))(const float *x, int H, int W, size_t in_plane,
                                              const float *w, const tc_conv2d_params *p,
                                              const float *bias, const float *residual,
                                              const tc_activation *act, int k0, int nc, int OH,
                                              int OW, size_t out_plane, float *y);

/* fn band by band of B output rows, each an image of its own input rows (tc_conv_band_image) */
static inline __attribute__((always_inline)) void TC_DW_CAT(TC_DW_FN, _bands)(
    TC_DW_CAT(TC_DW_FN, _rows_fn) fn, int B, const float *x, int H, int W, const float *w,
    const tc_conv2d_params *p, const float *bias, const float *residual, const tc_activation *act,
    int k0, int nc, int OH, int OW, float *y)
{
    for (int oh0 = 0; oh0 < OH; oh0 += B) {
        const int rows = OH - oh0 < B ? OH - oh0 : B;
        tc_conv2d_params q;
        int n;
        const int i0 = tc_conv_band_image(p, H, oh0, rows, &n, &q);
        const size_t o = (size_t)oh0 * OW;
        fn(x + (size_t)i0 * W, n, W, (size_t)H * W, w, &q, bias, residual ? residual + o : NULL,
           act, k0, nc, rows, OW, (size_t)OH * OW, y + o);
    }
}

/* _block_k at KC 3 and 5 as a _rows_fn, for the bands below */
#define TC_DW_BLOCK_ROWS_VARIANT(KC)                                                              \
    static void TC_DW_CAT(TC_DW_FN, _block_k##KC##_rows)(                                         \
        const float *x, int H, int W, size_t in_plane, const float *w, const tc_conv2d_params *p, \
        const float *bias, const float *residual, const tc_activation *act, int k0, int nc,       \
        int OH, int OW, size_t out_plane, float *y)                                               \
    {                                                                                             \
        TC_DW_CAT(TC_DW_FN, _block_k)(0, KC, x, H, W, in_plane, w, p, bias, residual, act, k0, nc,   \
                                      OH, OW, out_plane, y);                                      \
    }
TC_DW_BLOCK_ROWS_VARIANT(3)
TC_DW_BLOCK_ROWS_VARIANT(5)
#undef TC_DW_BLOCK_ROWS_VARIANT

/* Output rows per band of the channel-block kernel on a plane past its buffers for a whole
 * small plane (TC_DW_BLOCK_*): the most whose outputs and padded input rows fit the band
 * buffers (TC_DW_BAND_*), evened out; 0 where not one row fits.  A whole 28x28 plane in one
 * band, where the small plane's buffers took 4 bands of 7 rows, each copying and transposing 4
 * halo rows again (44 padded input rows for 28 output rows, 32 now): benchmarks/dw_ab.sh against
 * 1e48dbe (AVX2 emulation, 1 thread, thread CPU time, 31 rounds alternating in one process,
 * load 4-5, same bits) 120@28 Relu 0.918 [0.909-0.946] and 0.949 [0.909-0.999], 240@28 SiLU
 * 0.923 [0.880-0.966] and 0.937 [0.903-1.044]; 2 bands of 14 rows (784 -> 392 outputs, the
 * band's input 18 KiB where the whole plane's fills the 32 KiB L1d) 0.946-0.966 and 0.980-0.991,
 * 3 bands of 10 (280) 0.980 and 0.980. */
static int TC_DW_CAT(TC_DW_FN, _block_band)(int KC, int S, int OH, int OW)
{
    const long wp = (long)(OW - 1) * S + KC;
    int b = OH;
    while (b > 0 && ((long)b * OW > TC_DW_BUF_OUT_MAX || ((long)(b - 1) * S + KC) * wp > TC_DW_BUF_IN_MAX))
        b--;
    return TC_DW_CAT(TC_DW_FN, _even_band)(OH, b);
}

/* 5x5 (and 3x3 at stride 1 or 2, see _block_pick) on planes past the channel-block kernel's
 * buffers, output rows up to 28 wide (MnasNet's,
 * MobileNetV3-Large's and EfficientNet-B0's 28x28 at stride 1): the kernel band by band of
 * output rows (tc_conv_band_image).  Same bits as the row kernel.  Against onnxruntime in the
 * networks (s21, AVX2 emulation, 1 thread; its nodes min / median of 55 profiled runs, ours
 * benchmarks/dw_ab.sh, 11 rounds, host load 4-5): MobileNetV3-Large's features.5 (120@28, Relu)
 * 87 / 89 us against 97-115, EfficientNet-B0's features.3.1 (240@28) 168 / 173 us plus its SiLU
 * node 77 / 79 against 236 plus 86: a larger loss in time than the 5x5/2 layers' (not
 * profiled yet; on 5x5/2 240@28 the input's transposes were 43% of the channel-block kernel,
 * see _block_pick, and onnxruntime's NCHWc layout needs none). */
#define TC_DW_BLOCK_BANDS_VARIANT(KC)                                                             \
    static void TC_DW_CAT(TC_DW_FN, _block_bands_k##KC)(                                          \
        const float *x, int H, int W, const float *w, const tc_conv2d_params *p,                  \
        const float *bias, const float *residual, const tc_activation *act, int k0, int nc,       \
        int OH, int OW, float *y)                                                                 \
    {                                                                                             \
        TC_DW_CAT(TC_DW_FN, _bands)(TC_DW_CAT(TC_DW_FN, _block_k##KC##_rows),                     \
                                    TC_DW_CAT(TC_DW_FN, _block_band)(KC, p->sh, OH, OW), x, H, W, \
                                    w, p, bias, residual, act, k0, nc, OH, OW, y);                \
    }
TC_DW_BLOCK_BANDS_VARIANT(3)
TC_DW_BLOCK_BANDS_VARIANT(5)
#undef TC_DW_BLOCK_BANDS_VARIANT

/* Stride 2 on planes past the small-plane buffers, output rows 15 to 28 wide (MnasNet's
 * layers.9.0 and MobileNetV3-Large's features.4, 5x5/2 72@56): the channel-block kernel with
 * its padded input in a ring of TC_DW_ROLL_ROWS rows, copied 4 rows before each pair of
 * output rows (ROLL), instead of in bands of 14 output rows whose 31 x 59 padded pixels
 * (58 KiB) overflow the L1d between the copy and the taps.  Same bits. */
#define TC_DW_BLOCK_ROLL_VARIANT(KC)                                                              \
    static void TC_DW_CAT(TC_DW_FN, _block_roll_k##KC)(                                           \
        const float *x, int H, int W, const float *w, const tc_conv2d_params *p,                  \
        const float *bias, const float *residual, const tc_activation *act, int k0, int nc,       \
        int OH, int OW, float *y)                                                                 \
    {                                                                                             \
        TC_DW_CAT(TC_DW_FN, _block_k)(1, KC, x, H, W, (size_t)H * W, w, p, bias, residual, act,   \
                                      k0, nc, OH, OW, (size_t)OH * OW, y);                        \
    }
TC_DW_BLOCK_ROLL_VARIANT(3)
TC_DW_BLOCK_ROLL_VARIANT(5)
#undef TC_DW_BLOCK_ROLL_VARIANT

/* Planes with output rows of TC_VL to TC_DW_STAGE_MAX_OW (14x14, 28x28: the row
 * kernel spends most of a 14-wide plane on masked loads, row pointers and a second,
 * partial vector per row), 3x3 and 5x5, stride 1 or 2, no dilation.  Each channel is
 * copied into a zero-padded buffer (stride 2: split into its 4 phase planes by row and
 * column parity, so that every tap is again a unit-stride read), with row length Wq.
 * The outputs are then computed as one flat row of OH * Wq (Wq - OW of each row
 * discarded): tap (ki, kj) of every output is one offset into the buffer, a plain
 * load, no mask; 4 vectors in flight.  A last pass takes the OW kept outputs of each
 * row, adds the residual, applies the activation and stores them.  The buffer's pads
 * are zeroed once per block of channels; each channel overwrites only its interior.
 * An output sums bias, then its taps in the order (ki, kj), padding taps included
 * (as zeros): the row kernel's result bit for bit.
 * x: [nc][H][W] (channel stride in_plane)  w: [nc][KC][KC]  bias: [>= k0 + nc] or NULL
 * residual: [nc][OH][OW] or NULL (may be y)  y: [nc][OH][OW] (channel stride out_plane, for
 * both), channels k0..k0 + nc - 1 */
#define TC_DW_STAGE_MAX 4608 /* floats of the padded copy (18 KiB of stack) */
#define TC_DW_STAGE_OUT_MAX 1024 /* flat outputs OH * Wq */
#define TC_DW_STAGE_MAX_OW 32
/* floats of the staged buffer for a geometry and phase-row length Wq (phase planes, the last
 * group's overrun, the copy's vector tail); 0 where the kernel does not take it */
static inline long TC_DW_CAT(TC_DW_FN, _stage_floats)(int S, int KC, int OH, long Wq, long *nflat)
{
    const long Hq = ((long)(OH - 1) * S + KC + S - 1) / S;
    const long n = (long)OH * Wq, groups = (n + 4 * TC_VL - 1) / (4 * TC_VL);
    *nflat = n;
    if (n > TC_DW_STAGE_OUT_MAX)
        return 0;
    return (long)(S * S - 1) * Hq * Wq + groups * 4 * TC_VL + (long)(KC - 1) / S * (Wq + 1) + TC_VL;
}
/* The phase-row length: the columns read, at stride 2 rounded up to whole vectors where the
 * buffers still hold the plane (with the buffer's start shifted so that the copy's first
 * column falls on a vector boundary, the copy's stores and 2 of the 5 tap columns' loads are
 * aligned, and the flat rows are whole vectors).  Measured (benchmarks/dw_ab.sh against
 * main, AVX2 emulation, 1 thread, thread CPU time, 21 alternating rounds, loaded host,
 * 2026-12-02 20:43-20:46, same bits; main against itself 0.95-0.99): 5x5/2 72@56 (Wq 30 ->
 * 32) 0.88 0.88 0.92, 144@56 0.96 0.96 0.91 (SiLU) and 0.91 (Relu), 240@28 (Wq already 16)
 * 0.97.  In one process (benchmarks/subgraph_shapes.py --against main, 31 rounds): MnasNet's
 * layers.9.0 depthwise 0.95 [0.91-1.00] (twice), EfficientNet-B0's features.3.0 depthwise
 * 0.94 [0.91-0.98], its whole block 0.97 [0.95-1.03]; layers.10.0 (240@28) 0.99.  Dropped
 * with it: the copy's pairs by a 2-store split (2 whole-vector stores, now aligned)
 * instead of tc_v_split_store's 4 half-vector ones, 1.00-1.015 of this.  (The s15 try below
 * aligned the buffers alone, on rows of 30 floats.)  Also dropped (s19, dw_ab.sh, 21 rounds,
 * same bits): a deferred activation (SiLU) applied to each channel's plane right after its
 * output pass, from L1, instead of over the call's 16 planes after them: 144@56 0.995 and
 * 1.017, 72@56 1.017, 240@28 1.00 (the SiLU's arithmetic bounds that pass, not its reads). */
static inline long TC_DW_CAT(TC_DW_FN, _stage_wq)(int S, int KC, int OH, int OW)
{
    const long wq = ((long)(OW - 1) * S + KC + S - 1) / S, up = (wq + TC_VL - 1) / TC_VL * TC_VL;
    long n, size;
    if (S == 2 && up != wq && (size = TC_DW_CAT(TC_DW_FN, _stage_floats)(S, KC, OH, up, &n)) &&
        size <= TC_DW_STAGE_MAX)
        return up;
    return wq;
}
static inline long TC_DW_CAT(TC_DW_FN, _stage_size)(int S, int KC, int OH, int OW, long *nflat)
{
    return TC_DW_CAT(TC_DW_FN, _stage_floats)(S, KC, OH, TC_DW_CAT(TC_DW_FN, _stage_wq)(S, KC, OH, OW),
                                               nflat);
}
/* Dropped try (s13, 2026-12-02 01:02): at stride 2, pairs of output rows sharing their loads
 * (row oh + 1's tap row ki is row oh's ki + 2: 7 input rows loaded per tap column for 10 rows
 * of taps, 2 rows x 4 vectors of sums) instead of the flat 8 vectors: same bits, but 1.07-1.14
 * of the time (AVX2 emulation, 1 thread, lone 72@56 and 144@56 5x5/2, thread CPU time, 300
 * alternating rounds; a loaded host).
 * Where 5x5/2 240@28 (MnasNet's layers.10.0, 14 outputs wide) spends its time, each part
 * skipped in turn (s15, AVX2 kernels on the host, 1 thread, thread CPU time, lone, 71 us): the
 * taps ~34 us (70% of the FMA peak), the copy ~17 us, the output pass and the rest ~11 us; in
 * the network ORT's NCHWc kernel takes 51-57 us, ours 69-73.  Dropped tries (s15, 2026-12-02
 * 06:15-06:36, same protocol, 40 alternating rounds, same bits): the copy's tail stored
 * whole (its lanes past the row are the masked load's zeros) instead of masked, 1.00-1.04; 8
 * vectors in flight only while 16 are left, then the rest in two groups of 4 to 8 (240@28: 8 8
 * 6 6, not 8 8 8 4), 1.08-1.13; buf and ob aligned to 64 bytes, lone (3 x 40) 72@56 and 144@56
 * 0.94-0.98 but in MnasNet (per step, 4 rounds of 100 profiled runs alternating with main)
 * layers.9.0's 72@56 79-83 us against main's 77-84, 240@28 and 576@14 unchanged.
 * Where 5x5/2 72@56 and 144@56 spend their time (s21, benchmarks/dw_ab.sh, AVX2 emulation, 1
 * thread, 15 rounds, loaded host): without the copy (wrong outputs) 0.66-0.70 of the kernel's
 * time (240@28 0.72), i.e. the copy is a third, bound by its stores; the taps' loads then
 * all aligned (wrong outputs) a further 0.95 (the kj / 2 offsets' vectors crossing cache lines),
 * so the taps are bound by their loads (2 per cycle: 200 loads and 25 broadcasts per 200
 * FMAs).  onnxruntime's NCHWc kernel in the networks, for comparison (per node, min / median
 * of 55 profiled runs): MobileNetV3-Large's features.4 (72@56) 53 / 57 us, ours about 76 lone
 * from L2; EfficientNet-B0's features.3.0 (144@56) 99 / 103 us plus its SiLU node 48 / 50,
 * ours 143-198 plus about 50 (the input, 1.8 MB, from L3).  Dropped tries (same protocol,
 * same bits): channel c + 1's copy into a second buffer, a share of its rows before each
 * group of 8 vectors of channel c's sums (the copy's stores beside the taps' loads), inlined
 * 1.13-1.26 of the time, out of line (one call per group, its state in a struct) 1.15-1.22,
 * the two buffers alone (the whole copy after the sums) 1.05-1.14; channel c + 1's input
 * prefetched into L1 a share per group, 1.06-1.12; 12 vectors in flight instead of 8 (a
 * broadcast per 12 loads), 1.01-1.02.  The copy would go only where the producer writes the
 * phase planes itself (a 1x1 expansion commutes with a permutation of its input's pixels: the
 * block input's C0 channels split instead of the E expanded ones, as csrc/ir_fused.c's
 * column-split bands do).  What such a producer would save, measured (s22, 2026-12-03, a C
 * harness beside benchmarks/dw_ab.sh, AVX2 emulation, 1 thread, thread CPU time, 31 rounds
 * alternating, load 2-5, same bits): an input already column-split (even columns, then odd:
 * what a 1x1 writes from a column-split copy of its C0 channels), copied into the phase planes
 * by plain loads and whole stores instead of the permutes, 0.90-0.92 of this kernel on 72@56,
 * 0.92-0.93 on 144@56, 0.95-0.96 on 240@28: the copy's shuffles are a tenth of the kernel, its
 * loads and stores the rest of the third.  The column-split kernel (_split_s2k5, ir_fused.c's
 * bands) on such an input, with no copy at all, 1.45-1.49 of this kernel (72@56 and 144@56):
 * the flat rows' taps are what make this kernel fast.  The input read from L1 (one plane for
 * every channel) instead of streamed from L2, 0.93-0.95: not the copy's main cost either.
 * Dropped (same protocol): the tail of an even row of 16 columns or more read as the row's
 * last 16 (plain loads, stores overlapping the ones before with the same values) instead of
 * the masked loads, 1.00-1.04 (72@56, 144@56, 240@28).  So a copy-free path needs the
 * producer to write the padded phase planes themselves (pads zero, rows Wq apart); a 1x1
 * writing a compact layout saves under a tenth of this kernel, about 1-2% of the block. */
static inline __attribute__((always_inline)) void TC_DW_CAT(TC_DW_FN, _staged_k)(
    const int S, const int KC, const float *x, int H, int W, size_t in_plane, const float *w,
    const tc_conv2d_params *p, const float *bias, const float *residual,
    const tc_activation *act, int k0, int nc, int OH, int OW, size_t out_plane, float *y)
{
    const int Hp = (OH - 1) * S + KC, Wp = (OW - 1) * S + KC; /* padded rows, columns read */
    const int Hq = (Hp + S - 1) / S, Wq = (int)TC_DW_CAT(TC_DW_FN, _stage_wq)(S, KC, OH, OW);
    const size_t q = (size_t)Hq * Wq;
    long n;
    const long total = TC_DW_CAT(TC_DW_FN, _stage_size)(S, KC, OH, OW, &n);
    const int kind = act ? act->kind : TC_ACT_NONE, defer = tc_act_deferred(kind);
    float bufa[TC_DW_STAGE_MAX + TC_VL] __attribute__((aligned(64)));
    float ob[TC_DW_STAGE_OUT_MAX + 4 * TC_VL] __attribute__((aligned(64)));
    /* stride 2: phase rows of a whole number of vectors, the copy's first stores (column
     * pl / 2 of each phase) on a vector boundary */
    float *const buf = bufa + (S == 2 ? (TC_VL - (p->pl >> 1) % TC_VL) % TC_VL : 0);
    memset(buf, 0, (size_t)total * sizeof(float));
    /* input rows [0, r1) and columns [0, cw) land inside the padded rows and columns read */
    const int r1 = Hp - p->pt < H ? Hp - p->pt : H;
    const int cw = Wp - p->pl < W ? Wp - p->pl : W;
    /* stride 2: the columns [0, 2 jf) of a row split from whole pairs of vectors (ne even and no
     * odd columns in all), the rest by the tail's masks, the same for every row.  Made per row,
     * the masks and branches took most of the copy's time, and the copy 42% of 5x5/2 72@56
     * (perf, AVX2 emulation) */
    const int ne = (cw + 1) / 2, no = cw / 2, jf = cw / (2 * TC_VL) * TC_VL;
    const tc_m tlo = tc_m_range(0, cw - 2 * jf), thi = tc_m_range(0, cw - 2 * jf - TC_VL);
    const tc_m tme = tc_m_range(0, ne - jf), tmo = tc_m_range(0, no - jf);
    (void)ne, (void)no, (void)jf, (void)tlo, (void)thi, (void)tme, (void)tmo;
    for (int c = 0; c < nc; c++) {
        const float *xc = x + (size_t)c * in_plane;
        /* the interior: input row r at padded row r + pt, column j at padded column j + pl */
        for (int r = 0; r < r1; r++) {
            const int i = r + p->pt;
            const float *src = xc + (ptrdiff_t)r * W;
            if (S == 1) {
                float *dst = buf + (size_t)i * Wq + p->pl;
                /* the tail's lanes past cw load as zeros and are stored whole: they land on
                 * pads (zeros again) or on the next row's interior, copied after this one;
                 * the buffer's vector tail holds the last row's overrun */
                for (int j = 0; j < cw; j += TC_VL)
                    tc_v_store(dst + j, cw - j >= TC_VL ? tc_v_load(src + j)
                                                        : tc_v_load_masked(src + j, tc_m_range(0, cw - j)));
            } else {
                /* even input columns go to column phase pl & 1, odd ones to the other: jf of
                 * each from whole pairs of vectors, then the tail (masks made once per call).
                 * Dropped try (s17, AVX2 emulation, 1 thread, thread CPU time, lone layers, 2 x 40
                 * rounds alternating in one process, same bits): a 2-store split (3 shuffles,
                 * 2 stores) instead of tc_v_split_store (2 shuffles, 4 stores), as the
                 * column-split 3x3/2 kernel took (removed in s24): 5x5/2 72@56 0.96 then 1.03, 144@56 0.98 then
                 * 1.02, 240@28 1.00, 576@14 1.02: nothing clear */
                float *row = buf + (size_t)(i & 1) * 2 * q + (size_t)(i >> 1) * Wq;
                float *de = row + (size_t)(p->pl & 1) * q + (p->pl >> 1);
                float *dodd = row + (size_t)((p->pl + 1) & 1) * q + ((p->pl + 1) >> 1);
                tc_v e, o;
                for (int j = 0; j < jf; j += TC_VL)
                    tc_v_split_store(src + 2 * j, de + j, dodd + j);
                if (jf < ne) {
                    tc_v_load_even_odd_masked(src + 2 * jf, tlo, thi, &e, &o);
                    e = tc_v_unscramble(e), o = tc_v_unscramble(o);
                    /* the tail's lanes past the row are the masked load's zeros: stored whole
                     * they land on the row's right pads (zeros) and the next row of the phase
                     * plane (its pads, or its interior, copied after this row); masked only on
                     * a phase plane's last row, whose next is another plane's first.  Dropped
                     * try (s18, benchmarks/dw_ab.sh, 31 rounds, load 9-10, same bits): the tail
                     * read by plain loads (into the next row, but on the plane's last row) and
                     * its lanes past the row zeroed by an AND with tme / tmo instead of the
                     * masked load: 5x5/2 144@56 1.01, 72@56 1.02, 240@28 1.02 of this */
                    if ((i >> 1) < Hq - 1) {
                        tc_v_store(de + jf, e);
                        if (jf < no)
                            tc_v_store(dodd + jf, o);
                    } else {
                        tc_v_store_masked(de + jf, tme, e);
                        if (jf < no)
                            tc_v_store_masked(dodd + jf, tmo, o);
                    }
                }
            }
        }
        const float *wc = w + (size_t)c * KC * KC;
        const tc_v bv = tc_v_set1(bias ? bias[k0 + c] : 0.0f);
        const tc_act_k ak = defer ? tc_act_of(TC_ACT_NONE) : tc_act_at(act, k0 + c);
        const tc_m tail = tc_m_range(0, OW % TC_VL); /* the masked-off lanes of a row's last vector */
        float *yc = y + (size_t)c * out_plane;
        /* rows of whole vectors, no residual, no activation or Relu (or one deferred): each
         * vector of sums goes straight to y (the flat position's row and column counted
         * along), not through ob and the output pass.  dw_ab.sh against the kernel before
         * (AVX2 emulation, 1 thread, 21-31 rounds, same bits; that kernel against itself
         * 0.988-0.993): 5x5/2 72@56 Relu 0.94 0.96 0.97, 240@28 Relu 0.96 0.96 (none 0.90),
         * 144@56 Relu 0.95 0.96, SiLU 0.99 */
        const int direct = Wq % TC_VL == 0 && !residual &&
                           (ak.kind == TC_ACT_NONE || ak.kind == TC_ACT_RELU);
        const int relu = ak.kind == TC_ACT_RELU;
        int drow = 0, dcol = 0;
/* the vector V of sums at output row ROW, column COL: Relu, stored (masked on the plane's
 * last row where it runs past OW) */
#define TC_DW_STAGED_PUT(V, ROW, COL)                                                          \
    {                                                                                          \
        tc_v dv_ = (V);                                                                        \
        if (relu) {                                                                            \
            tc_act_k rk_ = ak;                                                                 \
            rk_.kind = TC_ACT_RELU;                                                            \
            dv_ = tc_v_act(rk_, dv_);                                                          \
        }                                                                                      \
        float *d_ = yc + (ptrdiff_t)(ROW) * OW + (COL);                                        \
        if ((COL) + TC_VL <= OW || (ROW) < OH - 1)                                             \
            tc_v_store(d_, dv_);                                                               \
        else                                                                                   \
            tc_v_store_masked(d_, tail, dv_);                                                  \
    }
#define TC_DW_STAGED_DIRECT(V)                                                                 \
    {                                                                                          \
        if (dcol < OW && drow < OH)                                                            \
            TC_DW_STAGED_PUT(V, drow, dcol)                                                    \
        dcol += TC_VL;                                                                         \
        if (dcol == Wq)                                                                        \
            dcol = 0, drow++;                                                                  \
    }
        /* the same where a row is VPR (2 or 4) vectors: a group's rows and columns are then
         * constants from its first row (o0 / Wq), no position carried from vector to vector
         * (GCC kept drow and dcol on the stack, a store and a reload per vector; perf put 20%
         * of 5x5/2 72@56's samples on those stores).  Against integ20 (s21, AVX2 emulation, 1
         * thread, same bits): dw_ab.sh, 15-21 rounds, 72@56 0.99 0.99 1.01, 144@56 0.98 0.98
         * 0.99 (SiLU), 240@28 0.99 0.98; in one process (subgraph_shapes.py --against, 21
         * rounds, the depthwise node cut from the network) MobileNetV3-Large's features.4
         * 0.962 [0.933-0.972], EfficientNet-B0's features.3.0 0.966 [0.935-1.021], MnasNet's
         * layers.9.0 0.938 [0.929-0.948] and layers.10.0 0.925 [0.898-0.956]; with the expansion
         * before it 0.97-0.99 (the expansion alone 1.00-1.01) */
        const int vpr = direct ? Wq / TC_VL : 0;
#define TC_DW_STAGED_DIRECT_ROWS(VPR, NV, A)                                                   \
    {                                                                                          \
        const int row0_ = (int)(o0 / ((VPR) * TC_VL));                                         \
        _Pragma("GCC unroll 8") for (int v_ = 0; v_ < (NV); v_++) {                            \
            const int row_ = row0_ + v_ / (VPR), col_ = v_ % (VPR) * TC_VL;                    \
            if (row_ < OH && col_ < OW)                                                        \
                TC_DW_STAGED_PUT((A)[v_], row_, col_)                                          \
        }                                                                                      \
    }
        /* 8 vectors in flight, then 4 for the rest (the buffer holds the reads past n) */
        long o0 = 0;
        for (; o0 + 8 * TC_VL <= n; o0 += 8 * TC_VL) {
            tc_v a[8];
            for (int v = 0; v < 8; v++)
                a[v] = bv;
            _Pragma("GCC unroll 5") for (int ki = 0; ki < KC; ki++)
                _Pragma("GCC unroll 5") for (int kj = 0; kj < KC; kj++) {
                    const float *s = buf + (size_t)((ki % S) * S + kj % S) * q +
                                     (size_t)(ki / S) * Wq + kj / S + o0;
                    const tc_v wv = tc_v_set1(wc[ki * KC + kj]);
                    _Pragma("GCC unroll 8") for (int v = 0; v < 8; v++)
                        a[v] = tc_v_fma(tc_v_load(s + v * TC_VL), wv, a[v]);
                }
            if (vpr == 4)
                TC_DW_STAGED_DIRECT_ROWS(4, 8, a)
            else if (vpr == 2)
                TC_DW_STAGED_DIRECT_ROWS(2, 8, a)
            else if (direct) {
                for (int v = 0; v < 8; v++)
                    TC_DW_STAGED_DIRECT(a[v])
            } else {
                for (int v = 0; v < 8; v++)
                    tc_v_store(ob + o0 + v * TC_VL, a[v]);
            }
        }
        for (; o0 < n; o0 += 4 * TC_VL) {
            tc_v a[4] = {bv, bv, bv, bv};
            _Pragma("GCC unroll 5") for (int ki = 0; ki < KC; ki++)
                _Pragma("GCC unroll 5") for (int kj = 0; kj < KC; kj++) {
                    const float *s = buf + (size_t)((ki % S) * S + kj % S) * q +
                                     (size_t)(ki / S) * Wq + kj / S + o0;
                    const tc_v wv = tc_v_set1(wc[ki * KC + kj]);
                    _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++)
                        a[v] = tc_v_fma(tc_v_load(s + v * TC_VL), wv, a[v]);
                }
            const tc_v a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            if (vpr == 4)
                TC_DW_STAGED_DIRECT_ROWS(4, 4, a)
            else if (vpr == 2)
                TC_DW_STAGED_DIRECT_ROWS(2, 4, a)
            else if (direct) {
                TC_DW_STAGED_DIRECT(a0)
                TC_DW_STAGED_DIRECT(a1)
                TC_DW_STAGED_DIRECT(a2)
                TC_DW_STAGED_DIRECT(a3)
            } else {
                tc_v_store(ob + o0, a0);
                tc_v_store(ob + o0 + TC_VL, a1);
                tc_v_store(ob + o0 + 2 * TC_VL, a2);
                tc_v_store(ob + o0 + 3 * TC_VL, a3);
            }
        }
#undef TC_DW_STAGED_DIRECT
#undef TC_DW_STAGED_DIRECT_ROWS
#undef TC_DW_STAGED_PUT
        if (direct)
            continue;
        /* the OW kept outputs of each row: residual, activation, store */
        const float *rc = residual ? residual + (size_t)c * out_plane : NULL;
        /* the activation's kind made a constant per case, so that tc_v_act's switch folds away
         * (a jump per vector: 13% of 5x5/2 72@56 went to this pass, perf, AVX2 emulation) */
#define TC_DW_STAGED_OUT(KIND)                                                                 \
    {                                                                                          \
        tc_act_k a = ak;                                                                       \
        a.kind = KIND;                                                                         \
        for (int oh = 0; oh < OH; oh++)                                                        \
            for (int ow = 0; ow < OW; ow += TC_VL) {                                           \
                const ptrdiff_t o = (ptrdiff_t)oh * OW + ow;                                   \
                /* without a residual (which may be y), a row's last vector is stored whole   \
                 * but for the plane's last row: its extra lanes land on the next row's first \
                 * outputs, stored after it */                                                 \
                const int full = OW - ow >= TC_VL || (!rc && oh < OH - 1);                     \
                const tc_m ms = tail;                                                          \
                tc_v v = tc_v_load(ob + (size_t)oh * Wq + ow);                                 \
                if (rc)                                                                        \
                    v = tc_v_add(v, full ? tc_v_load(rc + o) : tc_v_load_masked(rc + o, ms));  \
                v = tc_v_act(a, v);                                                            \
                if (full)                                                                      \
                    tc_v_store(yc + o, v);                                                     \
                else                                                                           \
                    tc_v_store_masked(yc + o, ms, v);                                          \
            }                                                                                  \
    }                                                                                          \
    break;
        switch (ak.kind) {
        case TC_ACT_NONE:
            TC_DW_STAGED_OUT(TC_ACT_NONE)
        case TC_ACT_RELU:
            TC_DW_STAGED_OUT(TC_ACT_RELU)
        case TC_ACT_CLIP:
            TC_DW_STAGED_OUT(TC_ACT_CLIP)
        case TC_ACT_HARD_SWISH:
            TC_DW_STAGED_OUT(TC_ACT_HARD_SWISH)
        default:
            TC_DW_STAGED_OUT(ak.kind)
        }
#undef TC_DW_STAGED_OUT
    }
    if (defer) {
        if (out_plane == (size_t)OH * OW)
            tc_v_act_rows(kind, y, (ptrdiff_t)nc * out_plane);
        else
            for (int c = 0; c < nc; c++)
                tc_v_act_rows(kind, y + (size_t)c * out_plane, (ptrdiff_t)OH * OW);
    }
}
#define TC_DW_STAGED_VARIANT(NAME, S, KC)                                                          \
    static void TC_DW_CAT(TC_DW_FN, NAME)(const float *x, int H, int W, const float *w,            \
                                          const tc_conv2d_params *p, const float *bias,            \
                                          const float *residual, const tc_activation *act, int k0, \
                                          int nc, int OH, int OW, float *y)                        \
    {                                                                                              \
        TC_DW_CAT(TC_DW_FN, _staged_k)(S, KC, x, H, W, (size_t)H * W, w, p, bias, residual, act,   \
                                       k0, nc, OH, OW, (size_t)OH * OW, y);                        \
    }
TC_DW_STAGED_VARIANT(_staged_s1k3, 1, 3)
TC_DW_STAGED_VARIANT(_staged_s1k5, 1, 5)
TC_DW_STAGED_VARIANT(_staged_s2k5, 2, 5)
#undef TC_DW_STAGED_VARIANT

/* Output rows per band of the staged kernel where the whole plane does not fit its buffers:
 * the most that fit, evened out over the bands; 0 where not one row fits */
static int TC_DW_CAT(TC_DW_FN, _stage_band)(int S, int KC, int OH, int OW)
{
    long n, size = 0;
    int b = OH;
    while (b > 0 && !((size = TC_DW_CAT(TC_DW_FN, _stage_size)(S, KC, b, OW, &n)) &&
                      size <= TC_DW_STAGE_MAX))
        b--;
    return TC_DW_CAT(TC_DW_FN, _even_band)(OH, b);
}

static void TC_DW_CAT(TC_DW_FN, _staged_s1k5_rows)(const float *x, int H, int W, size_t in_plane,
                                                   const float *w, const tc_conv2d_params *p,
                                                   const float *bias, const float *residual,
                                                   const tc_activation *act, int k0, int nc,
                                                   int OH, int OW, size_t out_plane, float *y)
{
    TC_DW_CAT(TC_DW_FN, _staged_k)(1, 5, x, H, W, in_plane, w, p, bias, residual, act, k0, nc, OH,
                                   OW, out_plane, y);
}

/* 5x5 at stride 1 on planes too wide (or tall) for the staged buffers (LRASPP's 64x64 and
 * DBNet's 80x80 at 5x5): the staged kernel band by band of output rows (tc_conv_band_image).
 * Same bits as the row kernel. */
static void TC_DW_CAT(TC_DW_FN, _staged_s1k5_bands)(const float *x, int H, int W, const float *w,
                                                    const tc_conv2d_params *p, const float *bias,
                                                    const float *residual, const tc_activation *act,
                                                    int k0, int nc, int OH, int OW, float *y)
{
    TC_DW_CAT(TC_DW_FN, _bands)(TC_DW_CAT(TC_DW_FN, _staged_s1k5_rows),
                                TC_DW_CAT(TC_DW_FN, _stage_band)(1, 5, OH, OW), x, H, W, w, p, bias,
                                residual, act, k0, nc, OH, OW, y);
}

/* The staged kernel for a layer, or NULL.  Measured against the row kernel (AVX2, 1 thread,
 * lone layers alternating, 2026-12-01, same bits): 5x5 480@14 0.68, 5x5/2 240@28 0.78-0.86,
 * 5x5 120@28 0.80, 5x5/2 72@56 0.90; 3x3 384@14 and 480@14 0.87; but 3x3 192@28 1.08 and
 * 3x3 at stride 2 1.03-1.2 (the row kernel's 28-wide rows are whole vectors, and its
 * stride-2 loads already split even and odd columns): 3x3 only at stride 1 up to 2 vectors
 * wide.  5x5 at stride 1 on wider (or taller) planes in bands of output rows (2026-12-01,
 * 1 thread, thread CPU time, alternating, same bits): 40@112 0.80, 120@56 0.85, 120@64
 * 0.85, 120@80 0.87, 16@160 0.80, 8@320 (3-row bands) 0.87-0.95; not 5x5/2 past 32 wide
 * (144@112 0.97-1.0), nor 3x3/2 (1.2-1.35: copying the phase planes costs more than the
 * shuffles they save).  AVX2 only: AVX-512's 16 lanes were not measured. */
static tc_dw_block_fn TC_DW_CAT(TC_DW_FN, _staged_pick)(const tc_conv2d_params *p, int H, int W,
                                                        int OH, int OW)
{
    (void)H, (void)W;
    const int k = p->KH == p->KW && (p->KH == 3 || p->KH == 5) ? p->KH : 0, s = p->sh;
    long n;
    if (TC_VL != 8 || !k || p->sh != p->sw || (s != 1 && s != 2) || p->dh != 1 || p->dw != 1 ||
        OW < TC_VL)
        return NULL;
    const long size = TC_DW_CAT(TC_DW_FN, _stage_size)(s, k, OH, OW, &n);
    const int whole = size && size <= TC_DW_STAGE_MAX && OW <= TC_DW_STAGE_MAX_OW;
    if (k == 5 && s == 1 && !whole)
        return TC_DW_CAT(TC_DW_FN, _stage_band)(s, k, OH, OW) ? TC_DW_CAT(TC_DW_FN, _staged_s1k5_bands)
                                                               : NULL;
    if (!whole || (k == 3 && (s != 1 || OW > 2 * TC_VL)))
        return NULL;
    if (s == 2)
        return TC_DW_CAT(TC_DW_FN, _staged_s2k5);
    return k == 3 ? TC_DW_CAT(TC_DW_FN, _staged_s1k3) : TC_DW_CAT(TC_DW_FN, _staged_s1k5);
}

/* The channel-block kernel for a layer, or NULL (then the plane kernel runs):
 * 3x3 or 5x5, square stride 1 or 2, no dilation, planes that fit the buffers,
 * output rows at most 14 wide (AVX-512's 16 lanes not measured at the later steps).
 * First only rows narrower than a vector (2026-11-30, 1 thread, alternating with the row
 * kernel: AVX-512 576@14->7 s2 6.2 -> 14.0 GFLOP/s, 960@7 12.3 -> 19.0,
 * 1152@7 5x5 15.3 -> 27.6, 576@14 s1 21.5 -> 23.3; AVX2 576@14->7 s2 7.5 -> 9.5,
 * 960@7 13.0 -> 13.7, but 576@14 s1 16.6 -> 15.9: 14 wide is 2 vectors there).
 * With 8 pixels in flight (2026-12-01 17:46, AVX2 emulation, 1 thread, thread CPU time,
 * alternating with the staged kernel, 3 rounds) also 3x3 at stride 1 up to 14 wide: 480@14
 * 0.97, 672@14 0.96-0.97, 384@14 0.96; then not 5x5 (672@14 1.01-1.03), but with 7 pixels
 * in flight 5x5 too (2026-12-01 18:27, same protocol, against integ11's staged kernel: 672@14
 * 0.72-0.73, 480@14 0.72), and stride 2 from 28 wide to 14 (18:44, 4 rounds, against integ11's
 * row and staged kernels: 3x3 192@28 and 240@28 0.88, 5x5 240@28 0.87; a 29x29 padded input
 * is 30 KB of buffer on AVX2).  5x5 at stride 1 on wider planes up to 28 wide in bands of
 * output rows (_block_bands_k5; 2026-12-01 20:47, AVX2 emulation, 1 thread, thread CPU time,
 * lone layers, 3 rounds alternating with 6e81e67's staged kernel, same bits): 120@28 0.90-0.91,
 * 240@28 0.92-0.95, 120@17 0.79; in MnasNet (per step, min of 40, 21:21) 120@28 0.92.  Not at
 * stride 2: 72@56 0.97-0.98 and 144@56 1.01 lone, but MnasNet's 72@56 1.04 in the network
 * (the staged kernel reads one plane at a time, the bands 8 planes' rows, twice for the halo);
 * 40@33 0.84 lone.  Those stride-2 choices, made under AVX2 emulation (the column-split copy
 * kernel for 3x3/2 rows 8 to 14 wide, then removed; the staged kernel for 5x5/2 up to 32 wide),
 * lose on the AVX2 target itself (s24, AMD EPYC Zen 3, native, 1 thread, thread CPU time, same
 * bits): lone layers, all kernels alternating in one process, 15-21 rounds, median, channel-block
 * kernel / the kernel it replaces: whole planes 3x3/2 192@28 Clip 0.74-0.78, 240@28 0.78 (SiLU
 * 0.82, HardSwish 0.75), 96@28 0.75, 5x5/2 240@28 0.80-0.83, 96@28 0.79, 144@28 SiLU 0.83; in
 * bands, 5x5/2 72@56 0.90, 144@56 0.91, 3x3/2 144@56 0.94 (against the row kernel), 72@56 0.91.
 * In the networks (benchmarks/subgraph_shapes.py --against ca2579e, 21 rounds, median
 * [25-75%]): the depthwise with its activation cut alone, MnasNet's layers.9.0 (72@56 5x5/2)
 * 0.941 [0.932-0.947], layers.10.0 (240@28 5x5/2) 0.883 [0.871-0.893], EfficientNet-B0's
 * features.3.0 (144@56 5x5/2 + SiLU) 0.978 [0.955-0.986], features.4.0 (240@28 3x3/2 + SiLU)
 * 0.935 [0.913-0.953]; whole blocks, MnasNet's layers.9.0 0.966 and 0.992, layers.10.0 0.961,
 * MobileNetV2's features.7 0.982, MobileNetV3-Large's features.4 0.975 and .7 0.969,
 * MobileNetV3-Small's features.4 0.961, EfficientNet-B0's features.3.0 0.994 and .4.0 0.991.
 * 3x3 at stride 1 on planes 15 to 28 wide in bands too (s26, where the row kernel ran; a whole
 * 28x28 plane is one band of 30 x 30 padded pixels): benchmarks/dw_ab.sh against abc2ea2 (Zen 4,
 * AVX2, 1 thread, 21 alternating rounds, loaded host, same bits) 192@28 Clip 0.920 [0.895-0.948]
 * and 0.927 [0.905-0.940], Relu 0.957, none 0.934; 64@28 Relu 0.934; 58@28 (a last block of 2
 * channels) 1.026 and 0.976, 116@28 1.000.
 * In the network (benchmarks/subgraph_shapes.py --against abc2ea2, 21 rounds, bit-identical):
 * MobileNetV2's features.5 depthwise (192@28, Clip) 0.958 [0.949-0.975]; ShuffleNetV2's
 * stage2.1 depthwise (58@28) 1.000; whole MobileNetV2 1.004, ShuffleNetV2 0.990 (noise).
 * Measured on the Zen 4 host only: natively on Zen 3 (s24, see _split_pick) this kernel ran
 * 1.6 times the column-split one on 112-wide bands where the Zen 4 host has them level, so
 * re-measure it on the target before relying on it (to revert: `(k == 5 || p->sh == 2) &&`
 * in the band test below). */
static tc_dw_block_fn TC_DW_CAT(TC_DW_FN, _block_pick)(const tc_conv2d_params *p, int H, int W,
                                                       int OH, int OW)
{
    (void)H, (void)W;
    const int k = p->KH == p->KW && (p->KH == 3 || p->KH == 5) ? p->KH : 0;
    const long hp = (long)(OH - 1) * p->sh + k, wp = (long)(OW - 1) * p->sw + k;
    const int narrow = OW <= 14;
    if (!k || p->sh != p->sw || (p->sh != 1 && p->sh != 2) || p->dh != 1 || p->dw != 1)
        return TC_DW_CAT(TC_DW_FN, _staged_pick)(p, H, W, OH, OW);
    if (!narrow || (long)OH * OW > TC_DW_BLOCK_OUT_MAX || hp * wp > TC_DW_BLOCK_IN_MAX) {
        /* stride 1 or 2 (tested above) */
        if (TC_VL == 8 && p->sh == 2 && !narrow && OW <= 28)
            return k == 3 ? TC_DW_CAT(TC_DW_FN, _block_roll_k3)
                          : TC_DW_CAT(TC_DW_FN, _block_roll_k5);
        if (TC_VL == 8 && OW <= 28 && TC_DW_CAT(TC_DW_FN, _block_band)(k, p->sh, OH, OW))
            return k == 3 ? TC_DW_CAT(TC_DW_FN, _block_bands_k3)
                          : TC_DW_CAT(TC_DW_FN, _block_bands_k5);
        return TC_DW_CAT(TC_DW_FN, _staged_pick)(p, H, W, OH, OW);
    }
    return k == 3 ? TC_DW_CAT(TC_DW_FN, _block_k3) : TC_DW_CAT(TC_DW_FN, _block_k5);
}
#endif

/* Stride 2 on column-split rows, for csrc/ir_fused.c's expansion bands: each input row holds
 * its even columns, then its odd ones (column j at j / 2, or at (W + 1) / 2 + j / 2 for odd j).
 * Tap column kj of output column ow reads input column 2 ow - pl + kj: one phase, at index
 * ow + floor((kj - pl) / 2), so every tap is a unit-stride load of 8 outputs' inputs: no
 * shuffles (the row kernel's stride-2 loads split 16 floats per pair of taps, then unscramble
 * the sums).  Lanes outside the phase's columns load zeros, as the row kernel's padding.
 * The taps are taken input row by input row as TC_DW_BY_INPUT_ROW, and each output sums
 * bias, then its taps in the order (ki, kj): the row kernel's result bit for bit.
 * Same contract as tc_dw_plane_fn but x's layout; zrow: [W] zeros. */
static inline __attribute__((always_inline)) void TC_DW_CAT(TC_DW_FN, _split_rows)(
    const int KIND, const int KC, int oh0, int nrows, int more, const float *x, int H, int W,
    const float *zrow, const float *w, const tc_conv2d_params *p, float bias,
    const float *residual, tc_act_k act, int OW, float *y)
{
    const int R = TC_DW_ROWS, SW = 2, ih0 = oh0 * SW - p->pt, ne = (W + 1) / 2, no = W / 2;
    if (KIND >= 0)
        act.kind = KIND;
    const float *in[(TC_DW_ROWS - 1) * 2 + 5];
    for (int j = 0; j < (R - 1) * SW + KC; j++)
        in[j] = ih0 + j >= 0 && ih0 + j < H ? x + (ptrdiff_t)(ih0 + j) * W : zrow;
    TC_DW_FOR_VECTORS(1) {
        ptrdiff_t off[5];
        tc_m mk[5];
        int inside = 1, pair = TC_DW_PAIR_ON && KC == 3 && ow0 + 2 * TC_VL <= ow_end;
        for (int kj = 0; kj < KC; kj++) {
            const int c = 2 * ow0 - p->pl + kj, ph = c & 1, idx = (c - ph) / 2;
            const int n = ph ? no : ne;
            off[kj] = (ph ? ne : 0) + idx;
            inside &= idx >= 0 && idx + TC_VL <= n;
            pair &= idx >= 0 && idx + 2 * TC_VL <= n;
        }
        if (pair) {
            /* 3x3: this vector and the next, both inside and whole, side by side */
            TC_DW_CAT(TC_DW_FN, _pair_k3)(KIND, 2, 0, oh0, nrows, in, off, w, bias, residual, act,
                                          OW, ow0, y);
            ow0 += TC_VL;
            continue;
        }
        /* the masks only near a border (made for every vector, they were ~10% of 3x3/2) */
        if (!inside)
            for (int kj = 0; kj < KC; kj++) {
                const int c = 2 * ow0 - p->pl + kj, ph = c & 1, idx = (c - ph) / 2;
                mk[kj] = tc_m_range(-idx, (ph ? no : ne) - idx);
            }
        tc_v acc[TC_DW_ROWS];
        for (int r = 0; r < R; r++)
            acc[r] = tc_v_set1(bias);
#define TC_DW_SPLIT_BY_INPUT_ROW(MASKED)                                                    \
    _Pragma("GCC unroll 11") for (int j = 0; j < (R - 1) * SW + KC; j++) {                  \
        const float *q = in[j];                                                             \
        TC_DW_OPAQUE(q);                                                                    \
        tc_v v[5];                                                                          \
        _Pragma("GCC unroll 5") for (int kj = 0; kj < KC; kj++)                             \
            v[kj] = MASKED ? tc_v_load_masked(q + off[kj], mk[kj]) : tc_v_load(q + off[kj]); \
        TC_DW_INPUT_ROW_FMAS(j);                                                            \
    }
        if (inside) {
            TC_DW_SPLIT_BY_INPUT_ROW(0)
        } else {
            TC_DW_SPLIT_BY_INPUT_ROW(1)
        }
#undef TC_DW_SPLIT_BY_INPUT_ROW
        TC_DW_STORE_ROWS(acc[0], acc[1], acc[2], acc[3]);
        TC_DW_NEXT_VECTOR
    }
}

#define TC_DW_SPLIT_VARIANT(NAME, KC)                                                             \
    static void TC_DW_CAT(TC_DW_FN, NAME)(const float *x, int H, int W, const float *zrow,        \
                                          const float *w, const tc_conv2d_params *p, float bias,  \
                                          const float *residual, tc_act_k act, int OH, int OW,    \
                                          float *y)                                               \
    {                                                                                             \
        const int defer = tc_act_deferred(act.kind);                                              \
        const tc_act_k ract = defer ? tc_act_of(TC_ACT_NONE) : act;                               \
        for (int oh = 0; oh < OH; oh += TC_DW_ROWS) {                                             \
            const int nrows = OH - oh < TC_DW_ROWS ? OH - oh : TC_DW_ROWS;                        \
            TC_DW_BY_KIND(ract.kind, TC_DW_SPLIT_ROWS, KC, oh, nrows, oh + nrows < OH, x, H, W, zrow, w, p, bias,  \
                          residual, ract, OW, y)                                                  \
            if (defer)                                                                            \
                tc_v_act_rows(act.kind, y + (ptrdiff_t)oh * OW, (ptrdiff_t)nrows * OW);           \
        }                                                                                         \
    }
#define TC_DW_SPLIT_ROWS(KIND, ...) TC_DW_CAT(TC_DW_FN, _split_rows)(KIND, __VA_ARGS__)
TC_DW_SPLIT_VARIANT(_split_s2k3, 3)
TC_DW_SPLIT_VARIANT(_split_s2k5, 5)
#undef TC_DW_SPLIT_VARIANT
#undef TC_DW_SPLIT_ROWS

/* The column-split plane kernel (above) for a layer, or NULL: 3x3 and 5x5 at stride 2, no
 * dilation, output rows over 2 vectors (a tc_dw_pick_fn; the caller lays out the input so).
 * Banded blocks alone (benchmarks/ir_fused_shapes.py's, AVX2 emulation, 1 thread, thread CPU
 * time, alternating with the row kernel on unsplit rows, 2026-12-01 17:07, same bits):
 * 16-48-24 112 s2 0.98, 16-64-24 112 s2 0.96, 16-96-24 112 s2 0.95, 24-144-32 56 s2 0.96,
 * 24-72-40 56 5x5 s2 0.96; but 40-240-80 28 5x5 s2 (14 outputs wide: a whole vector and a
 * masked one per row) 1.08, where the staged kernel runs.  Still ahead on the Zen 3 target of
 * the channel-block kernel in bands on unsplit rows (which would spare the band's column-split
 * copy): 4-row bands 56 outputs wide (s24, native, 1 thread, lone, 21 alternating rounds),
 * 48@112 6.0 against 9.8 us, 64@112 HardSwish 9.0 against 13.5, 96@112 Clip 14.3 against 21.3,
 * where the copy of the C0 input channels costs about 2.5 us a band (perf, MnasNet's layers.8.0).
 * On the Zen 4 host (s26, AVX2 emulation, 1 thread, 21 alternating rounds in one process: this
 * kernel on rows copied column-split against the channel-block kernel in bands, its stride-2
 * limit raised from 28 to 64 outputs a row, on the same rows unsplit, 9-row planes, same bits)
 * the two ran level: 48@112 0.999 [0.985-1.019], 64@112 0.974 [0.932-0.988], 96@112 0.982
 * [0.950-1.042] of this kernel's time, where the band's copy (7% of layers.8.0, perf) would
 * go.  Not taken: the target's numbers above are the judge; on a Zen 4 it is the lead. */
static tc_dw_plane_fn TC_DW_CAT(TC_DW_FN, _split_pick)(const tc_conv2d_params *p, int H, int W,
                                                       int OH, int OW)
{
    (void)H, (void)W, (void)OH;
    if (p->KH != p->KW || (p->KH != 3 && p->KH != 5) || p->sh != 2 || p->sw != 2 || p->dh != 1 ||
        p->dw != 1 || OW <= 2 * TC_VL)
        return NULL;
    return p->KH == 3 ? TC_DW_CAT(TC_DW_FN, _split_s2k3) : TC_DW_CAT(TC_DW_FN, _split_s2k5);
}

/* The kernel for one layer's planes, picked once per call of the layer, not per plane
 * (a 7x7 plane is a few hundred instructions).  Its contract (tc_dw_plane_fn):
 * x: [H][W] one input plane  zrow: [W] zeros  w: [KH][KW]  residual: [OH][OW]
 * or NULL (may be y)  y: [OH][OW]
 * y = act(conv(x, w) + bias + residual), p's strides, pads and dilations. */
static tc_dw_plane_fn TC_DW_FN(const tc_conv2d_params *p, int H, int W, int OH, int OW)
{
    /* the unrolled kernels: square kernel and strides, no dilation */
    const int k = p->KH == p->KW && (p->KH == 3 || p->KH == 5) && p->sh == p->sw && p->dh == 1 &&
                          p->dw == 1
                      ? p->KH
                      : 0;
    (void)k; /* unused in the portable build */
    (void)H;
    /* small planes: the flat kernel where it computes fewer vectors than the
     * row kernel (groups of 4 vectors against groups of 4 rows of
     * ceil(OW / TC_VL) vectors): 7x7 on 16 lanes (4 against 8), not on 8 (8 and 8).
     * Not 5x5: 1152@7x7 5x5 measured 6% slower flat on AVX-512 (2026-11-30, load 4;
     * 25 taps x 4 lane masks exceed the mask registers) */
    if (p->sh == 1 && p->sw == 1 && p->dh == 1 && p->dw == 1 && OW == W && OH <= TC_DW_FLAT_MAX &&
        OW <= TC_DW_FLAT_MAX && OH * OW <= TC_DW_FLAT_MAX && p->KH <= TC_DW_FLAT_KMAX &&
        p->KW <= TC_DW_FLAT_KMAX && p->KH * p->KW <= 9 &&
        (OH * OW + 4 * TC_VL - 1) / (4 * TC_VL) * 4 <
            (OH + TC_DW_ROWS - 1) / TC_DW_ROWS * TC_DW_ROWS * ((OW + TC_VL - 1) / TC_VL)) {
#if TC_DW_UNROLLED
        if (k == 3)
            return TC_DW_CAT(TC_DW_FN, _flat_k3);
#endif
        return TC_DW_CAT(TC_DW_FN, _flat);
    }
#if TC_DW_UNROLLED
    if (p->sw == 1 && k == 3)
        return TC_DW_CAT(TC_DW_FN, _s1k3);
    /* stride 2 with column groups (_cols_s2) where the layer's input does not fit L2 (2 MiB
     * here): lone layers, 1 thread, 2026-12-01, thread CPU time, alternating, same bits:
     * 3x3/2 48@112 (2.4 MB) 0.84, 96@112 0.80-0.88, 144@56 (1.8 MB) 0.94; EfficientNet-B0's
     * 96@112 in the network 0.87.  From L2 it loses: 16@112 (0.8 MB) 1.06, 8@224 1.03, and
     * MobileNetV2's banded blocks (csrc/ir_fused.c, band inputs under 640 KB) 1.01-1.02 of
     * the block.  Not 5x5: 3 vectors side by side ran 1.09 (144@112) and 1.25 (72@128,
     * LRASPP's features.4) of the time. */
    const int cols = (double)p->C * H * W * sizeof(float) >= 2.0 * 1024 * 1024;
    if (p->sw == 2 && k == 3)
        return cols ? TC_DW_CAT(TC_DW_FN, _s2k3c) : TC_DW_CAT(TC_DW_FN, _s2k3);
    if (p->sw == 1 && k == 5)
        return TC_DW_CAT(TC_DW_FN, _s1k5);
    if (p->sw == 2 && k == 5)
        return TC_DW_CAT(TC_DW_FN, _s2k5);
    /* LRASPP-MobileNetV3's last stages: 5x5 at dilation 2, stride 1, taps unrolled
     * instead of the general kernel's loops (960@32x32 + HardSwish, AVX2 emulation,
     * 2026-12-01, alternating, loaded host: 0.86 of the time at 1 thread, 0.83 at 2; same
     * bits) */
    if (p->KH == 5 && p->KW == 5 && p->sh == 1 && p->sw == 1 && p->dh == 2 && p->dw == 2)
        return TC_DW_CAT(TC_DW_FN, _s1k5d2);
#endif
    if (p->sw == 1)
        return TC_DW_CAT(TC_DW_FN, _s1);
    if (p->sw == 2)
        return TC_DW_CAT(TC_DW_FN, _s2);
    return TC_DW_CAT(TC_DW_FN, _sn);
}

#undef TC_DW_ROWS
#undef TC_DW_BLOCK_IN_MAX
#undef TC_DW_BLOCK_OUT_MAX
#undef TC_DW_BAND_IN_MAX
#undef TC_DW_BAND_OUT_MAX
#undef TC_DW_BUF_IN_MAX
#undef TC_DW_BUF_OUT_MAX
#undef TC_DW_STAGE_MAX
#undef TC_DW_STAGE_OUT_MAX
#undef TC_DW_STAGE_MAX_OW
#undef TC_DW_FLAT_MAX
#undef TC_DW_FLAT_KMAX
#undef TC_DW_TAP
#undef TC_DW_INPUT_ROW_FMAS
#undef TC_DW_LD
#undef TC_DW_LD_EVEN
#undef TC_DW_LD_MASKED
#undef TC_DW_LD_EVEN_MASKED
#undef TC_DW_GATHER
#undef TC_DW_STORE
#undef TC_DW_STORE_ROWS
#undef TC_DW_FOR_VECTORS
#undef TC_DW_NEXT_VECTOR
#undef TC_DW_OPAQUE
#undef TC_DW_PAIR_HERE
#undef TC_DW_PAIR_ON
#undef TC_DW_BY_KIND
#undef TC_DW_KIND_CASE
