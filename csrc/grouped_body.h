/* Body of the direct kernel for grouped convolutions with few channels per group
 * (RegNet's and ResNeXt's 3x3 layers: 8 in, 8 out per group, dozens of groups),
 * included by conv.c (portable) and conv_avx2.c (AVX2 + FMA) on the vector primitives of
 * depthwise_vec_*.h.  Defines three functions: TC_GC_FN, a tc_gc_block_fn, TC_GC_COPY_FN, a
 * tc_gc_copy_fn (conv_internal.h), and TC_GC_SPLIT_FN, a tc_conv_kernels.split_even_odd.
 *
 * The im2col GEMM spends most of such a layer on overhead: one GEMM per group, each
 * with 8 rows of A (the tile has 6 or 12) and a B panel packed for 72 values of k.
 * Here a block of 4 output channels of one group is computed directly, 3 vectors of
 * output pixels at a time: 12 accumulators; every tap loads 3 vectors of input and
 * broadcasts 4 weights from memory for 12 FMAs, and the 12 independent chains cover the
 * FMA latency.
 *
 * The input is the zero-padded, phase-split copy conv.c makes for strided GEMMs
 * (phase_task): tap (c, ki, kj) of output (oh, ow) reads that copy at a fixed offset
 * from oh * wph + ow, for any stride and dilation.  A row's last vector runs past OW
 * into the padding columns (or the next row, or the slack after the copy): those lanes
 * are computed and not stored. */
#include "epilogue.h"

#define TC_GC_HAS_WLD 1 /* TC_GC_FN takes the weights' tap stride (benchmarks/gc_ab_kernel.c) */

#define TC_GC_KB 4 /* output channels per block */
#define TC_GC_NV 3 /* output vectors computed together: 4 x 3 = 12 accumulators */

#define TC_GC_ACC(j)                                                                     \
    do {                                                                                 \
        const tc_v wj = tc_v_set1(wt[j]);                                                \
        a##j##0 = tc_v_fma(x0, wj, a##j##0);                                             \
        a##j##1 = tc_v_fma(x1, wj, a##j##1);                                             \
        a##j##2 = tc_v_fma(x2, wj, a##j##2);                                             \
    } while (0)

#define TC_GC_ACC2(j)                                                                    \
    do {                                                                                 \
        const tc_v wj = tc_v_set1(wt[j]);                                                \
        a##j##0 = tc_v_fma(x0, wj, a##j##0);                                             \
        a##j##1 = tc_v_fma(x1, wj, a##j##1);                                             \
    } while (0)

/* channel j of the block, vector i of the group: act(acc + bias + residual) */
#define TC_GC_OUT(j, i)                                                                  \
    do {                                                                                 \
        if (j < nk && i < nv) {                                                          \
            const ptrdiff_t o = pos_o[i] + (ptrdiff_t)(j) * plane;                       \
            tc_v v = tc_v_add(a##j##i, tc_v_set1(bias ? bias[j] : 0.0f));                \
            if (residual)                                                                \
                v = tc_v_add(v, pos_full[i] ? tc_v_load(residual + o)                    \
                                            : tc_v_load_masked(residual + o, pos_m[i])); \
            if (!defer)                                                                  \
                v = tc_v_act(act[j], v);                                                 \
            if (pos_full[i])                                                             \
                tc_v_store(y + o, v);                                                    \
            else                                                                         \
                tc_v_store_masked(y + o, pos_m[i], v);                                   \
        }                                                                                \
    } while (0)
#define TC_GC_OUT3(j) TC_GC_OUT(j, 0); TC_GC_OUT(j, 1); TC_GC_OUT(j, 2)
#define TC_GC_OUT2(j) TC_GC_OUT(j, 0); TC_GC_OUT(j, 1)

/* The same where every channel of the block is ReLU, without residual, and the run's
 * vectors store whole (RegNet's and ResNeXt's layers): the same operations in the same
 * order without a branch or an activation switch per vector.  bj: channel j's bias. */
#define TC_GC_RELU(j, i)                                                                 \
    tc_v_store(y + pos_o[i] + (ptrdiff_t)(j) * plane, tc_v_act(relu, tc_v_add(a##j##i, b##j)))
/* vector i of the block's 4 channels */
#define TC_GC_RELU4(i) TC_GC_RELU(0, i); TC_GC_RELU(1, i); TC_GC_RELU(2, i); TC_GC_RELU(3, i)

/* xg: the group's padded phase planes; taps: [ntaps] offsets of tap t from an output's
 * position oh * wph + ow; w: the block's weights, tap t's at w + t * wld (wld >= TC_GC_KB;
 * lane j: its output channel j, zero for j >= nk); bias, act: [nk]; residual: nk planes like
 * y, or NULL;
 * y: nk planes [OH][OW], ldy >= OH * OW apart (a band of rows of taller planes: pg_fused.c).
 * pf: NULL, or pf_lines cache lines to bring into L2 for the next step (gc_task), a share
 * before each run of output vectors: a few at a time, each run's ~450 cycles of FMAs
 * covering their latency (bursts of 55 lines per block cost RegNetY's 7x7 layers 10-15 us
 * each, the line fill buffers full and the kernel's own misses waiting behind them).
 *
 * The output vectors (a row's 8 outputs at a time; a plane of 7x7 has 7 of them, one per
 * row) are taken TC_GC_NV at a time, so that each broadcast weight feeds 3 FMAs and
 * each input load 4: 7 loads per 12 FMAs keeps the loads off the critical path.  A
 * count of vectors that 3 does not divide ends in runs of 2 (8 accumulators, still enough
 * chains to cover the FMA latency): 7 = 3 + 2 + 2 computes 7 vectors where 3 + 3 + 3 (the
 * last ones recomputed) computed 9, 0.78x the FMAs of a 7x7 plane.
 * Zen 3, native, 1 thread (2026-12-03, perf): the runs' FMA loops take ~79% of this
 * kernel's time at 7x7 and run at ~92% of the FMA peak; the rest is the runs' epilogues,
 * and the group's copy (TC_GC_COPY_FN) is ~17% of a 7x7 layer.  Tried and left (in-process
 * A/B against this kernel, gc_ab-style harness, 30-40 calls x 11-15 rounds, same bits):
 * vectors of 8 consecutive outputs of a plane across its rows (stride 1, 3x3, pl = pr = 1,
 * over a copy without padding columns: 25 vectors at 14x14 where these rows take 28, 98
 * where 112 at 28x28), the edge lanes of the kj = 0 and 2 taps zeroed by a lane mask:
 * 1.04 (14x14) and 1.07 (28x28) of the time, 0.99 at 7x7 (gcc spills two of the 12
 * accumulators beside the masks), in runs of 2 vectors 0.977 / 0.977; the masks replaced
 * by three copies of the group's input (the last column zeroed for the kj = 0 taps, the
 * first for kj = 2): 0.95-0.97 at 14x14, 0.99 at 28x28, 1.00 at 7x7 (the copies eat the
 * 11% fewer FMAs); the run's positions from counters instead of divisions: 0.98-1.0.
 * Winograd F(2,3) per group (a prototype: the group's 8 channels interleaved into the
 * lanes, input transform over channels, products over the 8 output channels with the
 * transformed inputs broadcast, 12 tiles at a time in L1; max error 1.4e-6 of outputs
 * ~3): 0.96-0.98 of this kernel's time at 14x14 and 28x28, 1.27 at 7x7 (16 tiles for 49
 * outputs).  Its products take half of this kernel's time for 39% of its FMAs; the
 * interleaving copy and the transforms as much again.
 * Zen 4 (s26, AVX2, 1 thread, benchmarks/gc_ab.c, 20 calls x 9-11 rounds, same bits): the
 * stride-2 layers run at 51-67 GFLOP/s where the stride-1 ones run at 65-86 (104@56 s2
 * 56-65, 104@28 s1 73-86, same outputs and FMAs): perf gives the copy 22% of 104@56 s2 (4x
 * the input values per output, each split into phases), the blocks the rest, at about the
 * stride-1 blocks' speed.  Tried and left: each group's blocks in chunks of 2 or 4 output
 * rows, both blocks of the group per chunk (the group's phase planes, 58 KB at 104@56 s2,
 * re-read from L1 by the second block instead of L2): 1.00-1.14 of the time.  In the network
 * (mt_steps.py --stat min, 10 rounds, per step against onnxruntime's nodes) the grouped
 * layers take about 1.46 ms of RegNetY-400MF's 8.5 (the fused 1x1 + grouped steps less
 * onnxruntime's 1x1 nodes; onnxruntime's grouped nodes 2.32 of 10.4), the stride-2 ones 0.67
 * of it at 60-66 GFLOP/s: the lever left there (the 1x1 layers run level with onnxruntime's).
 * With 8 channels in and out per group and rows of 7 or 14k outputs the AVX2 build runs
 * grouped8_avx2.h instead (the output channels in the lanes: no idle lanes, no phase split). */
static void TC_GC_FN(const float *xg, const ptrdiff_t *taps, int ntaps, int wph, int OH, int OW,
                     ptrdiff_t ldy, const float *w, ptrdiff_t wld, int nk, const float *bias,
                     const float *residual, const tc_act_k *act, float *y, const char *pf,
                     ptrdiff_t pf_lines)
{
    const ptrdiff_t plane = ldy;
    const int rowv = (OW + TC_VL - 1) / TC_VL, total = OH * rowv;
    const int runs = (total + TC_GC_NV - 1) / TC_GC_NV; /* about: the last ones run 2 */
    ptrdiff_t pf_done = 0;
    int defer = 0, relus = nk == TC_GC_KB && !residual;
    for (int j = 0; j < nk; j++) {
        defer |= tc_act_deferred(act[j].kind);
        relus &= act[j].kind == TC_ACT_RELU;
    }
    /* TC_GC_RELU where it applies: RegNetY-400MF's grouped layers, this kernel and its copy
     * (benchmarks/gc_ab.c, AVX2, Zen 3 native, 1 thread, 15 rounds, 2026-12-03) take
     * 0.87-0.94x the time of TC_GC_OUT's stores for all (its branches and activation switch
     * per vector took ~10% of a layer): 0.89 at 7x7, 14x14 and 28x28 stride 1, 0.87-0.94 at
     * stride 2; the same bits */
    const tc_act_k relu = tc_act_of(TC_ACT_RELU);
    const int bs = relus && bias; /* then nk == TC_GC_KB */
    const tc_v b0 = tc_v_set1(bs ? bias[0] : 0.0f), b1 = tc_v_set1(bs ? bias[1] : 0.0f),
               b2 = tc_v_set1(bs ? bias[2] : 0.0f), b3 = tc_v_set1(bs ? bias[3] : 0.0f);
    /* A row's last vector past OW (28, 14, 7 wide) without masked stores (microcoded on
     * AMD: 12-20 cycles each): OW >= TC_VL starts it at OW - TC_VL instead, over lanes
     * the vector before it also wrote (the same values: each lane sums the taps in one
     * order); OW < TC_VL (7x7) stores it whole, its lanes past OW into the next row's
     * start (or rows: OW < 4), which later stores of this call write (runs and their
     * stores go in row order): only vectors that would cross the plane's end are masked.
     * Both would read a residual in y's planes after writing it: masked stores then. */
    const ptrdiff_t ext = (ptrdiff_t)(nk - 1) * plane + (ptrdiff_t)OH * OW;
    const int apart = !residual || residual + ext <= y || y + ext <= residual;
    const int shift = apart && OW >= TC_VL, spill = apart && OW < TC_VL;
    for (int v0 = 0, nv; v0 < total; v0 += nv) {
        const int left = total - v0; /* 4 and 2 (and a lone 1) left: runs of 2 */
        nv = left == 4 || left == 2 ? 2 : left < TC_GC_NV ? left : TC_GC_NV;
        if (pf) { /* this run's share of the lines, all of them by the last run */
            const int run = v0 / TC_GC_NV;
            const ptrdiff_t to = v0 + nv >= total || run + 1 >= runs
                                     ? pf_lines : pf_lines * (run + 1) / runs;
            for (; pf_done < to; pf_done++)
                __builtin_prefetch(pf + pf_done * 64, 0, 2);
        }
        const float *pos_x[TC_GC_NV];
        ptrdiff_t pos_o[TC_GC_NV];
        int pos_full[TC_GC_NV];
        tc_m pos_m[TC_GC_NV];
        for (int i = 0; i < TC_GC_NV; i++) {
            const int v = v0 + (i < nv ? i : nv - 1); /* past the end: recompute the last */
            const int oh = v / rowv;
            int ow0 = v % rowv * TC_VL;
            if (shift && ow0 + TC_VL > OW)
                ow0 = OW - TC_VL;
            pos_x[i] = xg + (ptrdiff_t)oh * wph + ow0;
            pos_o[i] = (ptrdiff_t)oh * OW + ow0;
            pos_full[i] = ow0 + TC_VL <= OW ||
                          (spill && pos_o[i] + TC_VL <= (ptrdiff_t)OH * OW);
            pos_m[i] = tc_m_range(0, OW - ow0);
        }
        const float *xq0 = pos_x[0], *xq1 = pos_x[1], *xq2 = pos_x[2];
        const float *wt = w;
        if (nv <= 2) {
            tc_v a00 = tc_v_set1(0.0f), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
                 a30 = a00, a31 = a00;
            for (int t = 0; t < ntaps; t++, wt += wld) {
                const ptrdiff_t off = taps[t];
                const tc_v x0 = tc_v_load(xq0 + off), x1 = tc_v_load(xq1 + off);
                TC_GC_ACC2(0);
                TC_GC_ACC2(1);
                TC_GC_ACC2(2);
                TC_GC_ACC2(3);
            }
            if (relus && pos_full[0] && (nv < 2 || pos_full[1])) {
                TC_GC_RELU4(0);
                if (nv == 2) {
                    TC_GC_RELU4(1);
                }
                continue;
            }
            TC_GC_OUT2(0);
            TC_GC_OUT2(1);
            TC_GC_OUT2(2);
            TC_GC_OUT2(3);
            continue;
        }
        tc_v a00 = tc_v_set1(0.0f), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00,
             a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
        for (int t = 0; t < ntaps; t++, wt += wld) {
            const ptrdiff_t off = taps[t];
            const tc_v x0 = tc_v_load(xq0 + off), x1 = tc_v_load(xq1 + off),
                       x2 = tc_v_load(xq2 + off);
            TC_GC_ACC(0);
            TC_GC_ACC(1);
            TC_GC_ACC(2);
            TC_GC_ACC(3);
        }
        if (relus && pos_full[0] && pos_full[1] && pos_full[2]) {
            TC_GC_RELU4(0);
            TC_GC_RELU4(1);
            TC_GC_RELU4(2);
            continue;
        }
        TC_GC_OUT3(0);
        TC_GC_OUT3(1);
        TC_GC_OUT3(2);
        TC_GC_OUT3(3);
    }
    if (defer) /* Sigmoid, SiLU: one pass over each plane just written (tc_act_deferred) */
        for (int j = 0; j < nk; j++)
            if (tc_act_deferred(act[j].kind))
                tc_v_act_rows(act[j].kind, y + (ptrdiff_t)j * plane, (ptrdiff_t)OH * OW);
}

#undef TC_GC_ACC
#undef TC_GC_ACC2
#undef TC_GC_OUT
#undef TC_GC_OUT3
#undef TC_GC_OUT2
#undef TC_GC_RELU
#undef TC_GC_RELU4

/* e[i] = s[2 i], i < (n + 1) / 2, and o[i] = s[2 i + 1], i < n / 2: a source row's even and
 * odd columns, one pass, reading s[0 .. n) only (tc_conv_kernels.split_even_odd, and the
 * stride-2 rows of TC_GC_COPY_FN).  From 2 TC_VL values on, a row's tail is its last
 * 2 TC_VL values split again and stored whole over outputs already stored, not masked
 * (vmaskmovps stores are slow on AMD): rows of 56 values 11.4 -> 4.6 ns, of 28 10.6 -> 2.8
 * (AVX2, Zen 4, s19).  From an odd start the pairs' first values are the odd columns. */
static void TC_GC_SPLIT_FN(const float *s, ptrdiff_t n, float *e, float *o)
{
    ptrdiff_t i = 0;
    tc_v ev, od;
    for (; 2 * i + 2 * TC_VL <= n; i += TC_VL) {
        tc_v_load_even_odd(s + 2 * i, &ev, &od);
        tc_v_store(e + i, tc_v_unscramble(ev));
        tc_v_store(o + i, tc_v_unscramble(od));
    }
    const int left = (int)(n - 2 * i); /* 0 .. 2 * TC_VL - 1 values */
    if (left > 0 && i > 0) {
        const ptrdiff_t p = n - 2 * TC_VL;
        tc_v_load_even_odd(s + p, &ev, &od);
        tc_v_store(p % 2 ? o + (p - 1) / 2 : e + p / 2, tc_v_unscramble(ev));
        tc_v_store(p % 2 ? e + (p + 1) / 2 : o + p / 2, tc_v_unscramble(od));
    } else if (left > 0) {
        tc_v_load_even_odd_masked(s + 2 * i, tc_m_range(0, left), tc_m_range(0, left - TC_VL),
                                  &ev, &od);
        tc_v_store_masked(e + i, tc_m_range(0, (left + 1) / 2), tc_v_unscramble(ev));
        tc_v_store_masked(o + i, tc_m_range(0, left / 2), tc_v_unscramble(od));
    }
}

/* The values of one group's zero-padded phase planes that come from x (the copy phase_task
 * makes, without its zeros: the caller's slot holds them from an earlier copy of the same
 * geometry), for column strides 1 and 2.  Source pixel (ih, iw) is padded pixel
 * (ih + pt, iw + pl), phase ((ih + pt) % sh, (iw + pl) % sw) at ((ih + pt) / sh,
 * (iw + pl) / sw); with sw == 2 a source row's even columns all land in one column phase
 * from (pl / 2) on and its odd ones in the other from ((pl + 1) / 2) on.
 * x: [C][h][w]  xp: [C][sh][sw][hph][wph] */
static void TC_GC_COPY_FN(const float *x, int C, int h, int w, int pt, int pl, int sh, int sw,
                          int hph, int wph, float *xp)
{
    const size_t pplane = (size_t)hph * wph;
    const int pe = pl % 2, qe = pl / 2, qo = (pl + 1) / 2;
    /* sw == 2: each row's whole 16-value chunks, then its last 1..15 values: for an even
     * w >= 16 the row's last 16 values again (a chunk overlapping the one before, written
     * twice with the same values: no masks), else masked, the masks made once here and not
     * per row (RegNetY's stride-2 grouped layers: 440 channels of 14-value rows at 14x14) */
    const int whole = w / (2 * TC_VL) * (2 * TC_VL), left = w - whole;
    const int overlap = left > 0 && w % 2 == 0 && w >= 2 * TC_VL;
    const tc_m m_lo = tc_m_range(0, left), m_hi = tc_m_range(0, left - TC_VL);
    const tc_m m_e = tc_m_range(0, (left + 1) / 2), m_o = tc_m_range(0, left / 2);
    const tc_m m_row = tc_m_range(0, w % TC_VL); /* sw == 1, w < TC_VL: the whole row */
    /* Rows shorter than a vector stored whole where the vector ends inside the padded row:
     * its lanes past the row are the zeros of the masked load, on the row's right padding
     * (masked stores are microcoded on AMD; RegNetY's 7x7 grouped layers spent 40% of their
     * time here, 56 masked stores per group).  Likewise each phase of sw == 2's last chunk. */
    const int row_whole = sw == 1 && pl + TC_VL <= wph;
    const int e_whole = qe + whole / 2 + TC_VL <= wph, o_whole = qo + whole / 2 + TC_VL <= wph;
    /* The odd columns' last chunk one column to the left, from the padding column before
     * them (or the chunk before's last value): whole where it ends inside the row, as o_whole
     * does not (RegNetY's 440-channel stride-2 layer, 14-value rows into phases 8 wide: a
     * masked store per row, 6160 per run).  Loaded from s - 1, lane 0 off at the row's start:
     * ev then holds x[i - 1], x[i + 1], ... and od the even columns as before. */
    const int o_left = e_whole && left > 0 && !overlap && (qo >= 1 || whole > 0) &&
                       qo - 1 + whole / 2 + TC_VL <= wph;
    const tc_m m_lo1 = tc_m_range(whole > 0 ? 0 : 1, left + 1),
               m_hi1 = tc_m_range(0, left + 1 - TC_VL);
    for (int c = 0; c < C; c++)
        for (int ih = 0; ih < h; ih++) {
            const int r = ih + pt;
            const float *s = x + ((size_t)c * h + ih) * w;
            float *d = xp + ((size_t)c * sh + r % sh) * sw * pplane + (size_t)(r / sh) * wph;
            int i = 0;
            if (sw == 1) { /* the same with 8-value chunks (RegNetY's 28, 14 and 7) */
                d += pl;
                for (; i + TC_VL <= w; i += TC_VL)
                    tc_v_store(d + i, tc_v_load(s + i));
                if (i < w && w >= TC_VL)
                    tc_v_store(d + w - TC_VL, tc_v_load(s + w - TC_VL));
                else if (i < w && row_whole)
                    tc_v_store(d + i, tc_v_load_masked(s + i, m_row));
                else if (i < w)
                    tc_v_store_masked(d + i, m_row, tc_v_load_masked(s + i, m_row));
                continue;
            }
            float *e = d + (pe ? pplane : 0) + qe, *o = d + (pe ? 0 : pplane) + qo;
            tc_v ev, od;
            for (; i < whole; i += 2 * TC_VL) {
                tc_v_load_even_odd(s + i, &ev, &od);
                tc_v_store(e + i / 2, tc_v_unscramble(ev));
                tc_v_store(o + i / 2, tc_v_unscramble(od));
            }
            if (overlap) {
                i = w - 2 * TC_VL;
                tc_v_load_even_odd(s + i, &ev, &od);
                tc_v_store(e + i / 2, tc_v_unscramble(ev));
                tc_v_store(o + i / 2, tc_v_unscramble(od));
            } else if (o_left) {
                tc_v_load_even_odd_masked(s + i - 1, m_lo1, m_hi1, &ev, &od);
                tc_v_store(e + i / 2, tc_v_unscramble(od));
                tc_v_store(o + i / 2 - 1, tc_v_unscramble(ev));
            } else if (left > 0) {
                tc_v_load_even_odd_masked(s + i, m_lo, m_hi, &ev, &od);
                if (e_whole)
                    tc_v_store(e + i / 2, tc_v_unscramble(ev));
                else
                    tc_v_store_masked(e + i / 2, m_e, tc_v_unscramble(ev));
                if (o_whole)
                    tc_v_store(o + i / 2, tc_v_unscramble(od));
                else
                    tc_v_store_masked(o + i / 2, m_o, tc_v_unscramble(od));
            }
        }
}
