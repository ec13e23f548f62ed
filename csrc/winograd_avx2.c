/* winograd_avx2.c - AVX2/FMA twins of the Winograd transforms in
 * winograd_transform.c (same algorithm, same operation order; only the
 * rounding of fused multiply-adds differs).  Compiled with -mavx2 -mfma; their
 * table, tc_wg_avx2, is picked for a tc_ctx only when the CPU has AVX2 and FMA. */
#include <immintrin.h>
#include "epilogue_avx2.h"
#include "transpose_avx2.h"
#include "winograd_internal.h"

/* 1-D B^T for F(4,3) on 6 vectors (8 tiles each). */
#define BT6(d0, d1, d2, d3, d4, d5, r0, r1, r2, r3, r4, r5)                          \
    do {                                                                               \
        __m256 a_ = _mm256_fnmadd_ps(four, d2, d4), b_ = _mm256_fnmadd_ps(four, d1, d3); \
        __m256 c_ = _mm256_sub_ps(d4, d2), e_ = _mm256_mul_ps(two, _mm256_sub_ps(d3, d1)); \
        r0 = _mm256_fmadd_ps(four, d0, _mm256_fnmadd_ps(five, d2, d4));                 \
        r1 = _mm256_add_ps(a_, b_);                                                    \
        r2 = _mm256_sub_ps(a_, b_);                                                    \
        r3 = _mm256_add_ps(c_, e_);                                                    \
        r4 = _mm256_sub_ps(c_, e_);                                                    \
        r5 = _mm256_fmadd_ps(four, d1, _mm256_fnmadd_ps(five, d3, d5));                 \
    } while (0)

/* 1-D A^T for F(4,3): 6 vectors -> 4. */
#define AT6(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)                                   \
    do {                                                                               \
        __m256 s1_ = _mm256_add_ps(m1, m2), s2_ = _mm256_sub_ps(m1, m2);              \
        __m256 s3_ = _mm256_add_ps(m3, m4), s4_ = _mm256_sub_ps(m3, m4);              \
        o0 = _mm256_add_ps(_mm256_add_ps(m0, s1_), s3_);                               \
        o1 = _mm256_fmadd_ps(two, s4_, s2_);                                           \
        o2 = _mm256_fmadd_ps(four, s3_, s1_);                                          \
        o3 = _mm256_fmadd_ps(eight, s4_, _mm256_add_ps(s2_, m5));                      \
    } while (0)

/* Rows r0..r7 (8 floats each) -> columns c0..c5 (column j of all 8 rows). */
static inline __attribute__((always_inline)) void transpose8x6(__m256 r0, __m256 r1, __m256 r2, __m256 r3, __m256 r4,
                                __m256 r5, __m256 r6, __m256 r7, __m256 *c)
{
    const __m256 in[8] = {r0, r1, r2, r3, r4, r5, r6, r7};
    __m256 out[8];
    tc_transpose8_avx2(in, out);
    for (int j = 0; j < 6; j++)
        c[j] = out[j];
}

/* Within each 128-bit half: rows r0..r3 <-> columns (a 4x4 transpose). */
static inline void transpose4x4x2(__m256 *r)
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    r[0] = _mm256_shuffle_ps(t0, t2, 0x44);
    r[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    r[2] = _mm256_shuffle_ps(t1, t3, 0x44);
    r[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

/* act(row + residual) -> lane l's output row i (4 or 2 floats; a partial tile
 * goes through a small buffer). */
static inline void store_row(__m128 o, float *y, const float *r, int cols, int m, tc_act_k act)
{
    if (cols == m) {
        if (m == 4) {
            if (r)
                o = _mm_add_ps(o, _mm_loadu_ps(r));
            _mm_storeu_ps(y, tc_act_sse(act, o));
        } else {
            if (r)
                o = _mm_add_ps(o, _mm_castsi128_ps(_mm_loadu_si64(r))); /* unaligned 2 floats */
            _mm_storeu_si64(y, _mm_castps_si128(tc_act_sse(act, o)));
        }
        return;
    }
    float buf[4];
    _mm_storeu_ps(buf, o);
    for (int j = 0; j < cols; j++)
        y[j] = tc_act_f32(act, buf[j] + (r ? r[j] : 0.0f));
}

/* The output transforms apply a sigmoid or SiLU (tc_act_deferred) to whole
 * vectors of 8 tiles before they are cut into rows: per stored row it would
 * evaluate 8 lanes for 4 values (F(4x4)) or 2 (F(2x2)), and the calls'
 * divides would not overlap.  Only without a residual, which comes before the
 * activation; the lanes' bits are those of tc_act_f32 either way. */
static __attribute__((noinline)) void act_vectors(tc_act_k act, __m256 *o, int n)
{
    for (int i = 0; i < n; i++)
        o[i] = tc_sigmoid_avx2(o[i], act.kind == TC_ACT_SILU);
}

/* Whether the output transform activates whole vectors (act_vectors). */
static inline int act_early(tc_act_k act, const float *const *rp)
{
    return tc_act_deferred(act.kind) && !rp[0];
}

/* F(4x4) vectors hold their 8 tiles in the order WG_PERM: the order in which
 * 4x4 transposes within 128-bit halves leave 8 tiles that sit side by side in
 * one row of x or y.  The general paths use the same order, so V and M stay
 * consistent whichever path a group takes (the GEMM never looks at lanes). */
static const int WG_PERM[8] = {0, 2, 4, 6, 1, 3, 5, 7};

/* z accumulates 0 * v over the values v of a tile: 0 while all are finite,
 * NaN from the first NaN or infinity on (one FMA per vector of 8 tiles). */
static inline unsigned nonfinite_bits(__m256 z)
{
    return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(z, z, _CMP_UNORD_Q));
}

static void wg_input4_avx2(const float *const *lp, const ptrdiff_t *ls, float *v, ptrdiff_t vstride)
{
    const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f);
    const __m256 five = _mm256_set1_ps(5.0f);
    __m256 t[36]; /* t[i][j'], transformed along j */
    /* 8 tiles side by side in one row: row i of the 8 patches is 34 floats */
    int contig = ls[0] > 0;
    for (int l = 1; l < 8; l++)
        contig &= ls[l] == ls[0] && lp[l] == lp[0] + 4 * l;
    for (int i = 0; i < 6; i++) {
        __m256 c[6];
        if (contig) {
            const float *row = lp[0] + i * ls[0];
            c[0] = _mm256_loadu_ps(row);
            c[1] = _mm256_loadu_ps(row + 8);
            c[2] = _mm256_loadu_ps(row + 16);
            c[3] = _mm256_loadu_ps(row + 24);
            transpose4x4x2(c); /* columns 0..3 */
            /* columns 4, 5 of tile l are columns 0, 1 of tile l + 1 */
            __m256 t0 = _mm256_unpacklo_ps(_mm256_loadu_ps(row + 4), _mm256_loadu_ps(row + 12));
            __m256 t2 = _mm256_unpacklo_ps(_mm256_loadu_ps(row + 20), _mm256_loadu_ps(row + 28));
            c[4] = _mm256_shuffle_ps(t0, t2, 0x44);
            c[5] = _mm256_shuffle_ps(t0, t2, 0xEE);
        } else {
#define ROW(p) _mm256_loadu_ps(lp[WG_PERM[p]] + i * ls[WG_PERM[p]])
            transpose8x6(ROW(0), ROW(1), ROW(2), ROW(3), ROW(4), ROW(5), ROW(6), ROW(7), c);
#undef ROW
        }
        BT6(c[0], c[1], c[2], c[3], c[4], c[5],
            t[6 * i], t[6 * i + 1], t[6 * i + 2], t[6 * i + 3], t[6 * i + 4], t[6 * i + 5]);
    }
    for (int j = 0; j < 6; j++) {
        __m256 r0, r1, r2, r3, r4, r5;
        float *o = v + j * vstride;
        BT6(t[j], t[6 + j], t[12 + j], t[18 + j], t[24 + j], t[30 + j], r0, r1, r2, r3, r4, r5);
        _mm256_storeu_ps(o, r0);
        _mm256_storeu_ps(o + 6 * vstride, r1);
        _mm256_storeu_ps(o + 12 * vstride, r2);
        _mm256_storeu_ps(o + 18 * vstride, r3);
        _mm256_storeu_ps(o + 24 * vstride, r4);
        _mm256_storeu_ps(o + 30 * vstride, r5);
    }
}

static void wg_input2_avx2(const float *const *lp, const ptrdiff_t *ls, float *v, ptrdiff_t vstride)
{
    __m256 t[16]; /* t[i][j'] */
    for (int i = 0; i < 4; i++) {
        __m256 c[4];
        for (int l = 0; l < 4; l++) /* lane l in the low half, lane l+4 in the high half */
            c[l] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lp[l] + i * ls[l])),
                                        _mm_loadu_ps(lp[l + 4] + i * ls[l + 4]), 1);
        transpose4x4x2(c); /* c[j] = column j of lanes 0..3 | 4..7 */
        t[4 * i] = _mm256_sub_ps(c[0], c[2]);
        t[4 * i + 1] = _mm256_add_ps(c[1], c[2]);
        t[4 * i + 2] = _mm256_sub_ps(c[2], c[1]);
        t[4 * i + 3] = _mm256_sub_ps(c[1], c[3]);
    }
    for (int j = 0; j < 4; j++) {
        float *o = v + j * vstride;
        _mm256_storeu_ps(o, _mm256_sub_ps(t[j], t[8 + j]));
        _mm256_storeu_ps(o + 4 * vstride, _mm256_add_ps(t[4 + j], t[8 + j]));
        _mm256_storeu_ps(o + 8 * vstride, _mm256_sub_ps(t[8 + j], t[4 + j]));
        _mm256_storeu_ps(o + 12 * vstride, _mm256_sub_ps(t[4 + j], t[12 + j]));
    }
}

static unsigned wg_output4_avx2(const float *m, ptrdiff_t mstride, float bias, float *const *yp,
                                const float *const *rp, ptrdiff_t ys, const int *rows,
                                const int *cols, tc_act_k act)
{
    const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f);
    const __m256 eight = _mm256_set1_ps(8.0f), b = _mm256_set1_ps(bias);
    const __m256i abs_bits = _mm256_set1_epi32(0x7fffffff);
    __m256 t[24]; /* t[i][j], transformed along i */
    /* Largest |t| of each lane, compared as integers: NaN > Inf > any float. */
    __m256i big = _mm256_setzero_si256();
    for (int j = 0; j < 6; j++) {
        const float *p = m + j * mstride;
        AT6(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 6 * mstride),
            _mm256_loadu_ps(p + 12 * mstride), _mm256_loadu_ps(p + 18 * mstride),
            _mm256_loadu_ps(p + 24 * mstride), _mm256_loadu_ps(p + 30 * mstride),
            t[j], t[6 + j], t[12 + j], t[18 + j]);
        __m256i a0 = _mm256_and_si256(_mm256_castps_si256(t[j]), abs_bits);
        __m256i a1 = _mm256_and_si256(_mm256_castps_si256(t[6 + j]), abs_bits);
        __m256i a2 = _mm256_and_si256(_mm256_castps_si256(t[12 + j]), abs_bits);
        __m256i a3 = _mm256_and_si256(_mm256_castps_si256(t[18 + j]), abs_bits);
        big = _mm256_max_epu32(big, _mm256_max_epu32(_mm256_max_epu32(a0, a1),
                                                     _mm256_max_epu32(a2, a3)));
    }
    /* Checked here, before any store, on the first stage: cheaper than on the
     * outputs and the same test as output4_portable (see WG_T_LIMIT_BITS). */
    unsigned bad_p = (unsigned)_mm256_movemask_ps(
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(big, _mm256_set1_epi32(WG_T_LIMIT_BITS))));
    unsigned bad = 0; /* bit p of bad_p: lane WG_PERM[p] */
    for (int p = 0; bad_p >> p; p++)
        bad |= (bad_p >> p & 1u) << WG_PERM[p];
    /* 8 whole tiles side by side: output row i of the 8 tiles is 32 floats */
    int contig = !bad;
    for (int l = 0; l < 8; l++)
        contig &= rows[l] == 4 && cols[l] == 4 && yp[l] == yp[0] + 4 * l &&
                  (rp[0] ? rp[l] == rp[0] + 4 * l : rp[l] == NULL);
    /* Tried without gain (s18, 2026-12-02): outside the contiguous case, each pair of whole
     * tiles side by side in y (o[q] holds tiles 2q | 2q + 1) stored as 8 floats instead of two
     * store_row calls.  SqueezeNet's layers, where no group is contiguous at 27x27 and 13x13
     * and 3 of 7 are at 55x55: 16->64 at 55, 56, 27, 13 and 32->128 at 27, 13 took 0.98-1.04
     * of the time (in-process A/B, medians of 150, bit-identical).  The per-tile gap between
     * 64x64 (all contiguous, 2.8 us a tile) and 55x55 or 56x56 (3.2-3.6) is not the stores'
     * count. */
    const int early = act_early(act, rp);
    const tc_act_k act_in = act; /* applied by act_vectors when early */
    if (early)
        act = tc_act_of(TC_ACT_NONE);
    /* o[i][q]: output row i of lanes WG_PERM[q] | WG_PERM[q + 4], i.e. of tiles 2q | 2q + 1;
     * without a residual activated here, 8 lanes at a time */
    __m256 o[4][4];
    for (int i = 0; i < 4; i++) {
        const __m256 *q = t + 6 * i;
        AT6(q[0], q[1], q[2], q[3], q[4], q[5], o[i][0], o[i][1], o[i][2], o[i][3]);
        for (int jj = 0; jj < 4; jj++)
            o[i][jj] = _mm256_add_ps(o[i][jj], b);
        if (early)
            act_vectors(act_in, o[i], 4);
        transpose4x4x2(o[i]); /* o[i][p] = row i of lane p | lane p + 4 */
        if (!rp[0])
            for (int jj = 0; jj < 4; jj++)
                o[i][jj] = tc_act_avx2(act, o[i][jj]);
    }
    if (contig) { /* lanes p, p + 4 are tiles 2p, 2p + 1: o[i][p] is y[8p .. 8p+8) of row i */
        for (int i = 0; i < 4; i++) {
            float *y = yp[0] + i * ys;
            const float *r = rp[0] ? rp[0] + i * ys : NULL;
            for (int p = 0; p < 4; p++) {
                __m256 s = o[i][p];
                if (r)
                    s = tc_act_avx2(act, _mm256_add_ps(s, _mm256_loadu_ps(r + 8 * p)));
                _mm256_storeu_ps(y + 8 * p, s);
            }
        }
        return bad;
    }
    /* Lane by lane: each lane's rows straight from o, its pointer and sizes read once (the
     * loop over rows, then lanes, re-read them per row and dispatched each store on them:
     * 106 ns a call at 55x55 against 58 for 8 tiles side by side, s52) */
    for (int p = 0; p < 8; p++) {
        const int l = WG_PERM[p], qd = p & 3;
        const int nr = (bad_p >> p & 1) ? 0 : rows[l], c = cols[l];
        float *y = yp[l];
        if (rp[0]) {
            for (int i = 0; i < nr; i++) {
                __m128 v = p < 4 ? _mm256_castps256_ps128(o[i][qd]) : _mm256_extractf128_ps(o[i][qd], 1);
                store_row(v, y + i * ys, rp[l] + i * ys, c, 4, act);
            }
            continue;
        }
        for (int i = 0; i < nr; i++) {
            __m128 v = p < 4 ? _mm256_castps256_ps128(o[i][qd]) : _mm256_extractf128_ps(o[i][qd], 1);
            float *yi = y + i * ys;
            switch (c) {
            case 4:
                _mm_storeu_ps(yi, v);
                break;
            case 3:
                _mm_storel_pi((__m64 *)yi, v);
                _mm_store_ss(yi + 2, _mm_movehl_ps(v, v));
                break;
            case 2:
                _mm_storel_pi((__m64 *)yi, v);
                break;
            default:
                _mm_store_ss(yi, v);
                break;
            }
        }
    }
    return bad;
}

/* The F(2x2) tail of an output transform: o[2i + j] holds output (i, j) of 8
 * tiles, tile lane_of[p] at position p.  Flags the positions with a NaN or Inf
 * (before bias; see wg_output_fn), adds the bias and stores the others. */
static const int WG_LANE_ID[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static inline unsigned store_2x2(__m256 *o, float bias, const int *lane_of, float *const *yp,
                                 const float *const *rp, ptrdiff_t ys, const int *rows,
                                 const int *cols, tc_act_k act)
{
    const __m256 b = _mm256_set1_ps(bias), zero = _mm256_setzero_ps();
    __m256 z = zero;
    for (int i = 0; i < 4; i++) {
        z = _mm256_fmadd_ps(zero, o[i], z);
        o[i] = _mm256_add_ps(o[i], b);
    }
    if (act_early(act, rp)) {
        act_vectors(act, o, 4);
        act = tc_act_of(TC_ACT_NONE);
    }
    unsigned bad_p = nonfinite_bits(z), bad = 0; /* bit p of bad_p: lane lane_of[p] */
    for (int p = 0; bad_p >> p; p++)
        bad |= (bad_p >> p & 1u) << lane_of[p];
    transpose4x4x2(o); /* o[p] = [y00 y01 y10 y11] of position p | position p + 4 */
    for (int p = 0; p < 8; p++) {
        int l = lane_of[p];
        if (bad_p >> p & 1)
            continue;
        __m128 r = p < 4 ? _mm256_castps256_ps128(o[p]) : _mm256_extractf128_ps(o[p - 4], 1);
        for (int i = 0; i < rows[l]; i++) {
            __m128 ri = i == 0 ? r : _mm_movehl_ps(r, r);
            store_row(ri, yp[l] + i * ys, rp[l] ? rp[l] + i * ys : NULL, cols[l], 2, act);
        }
    }
    return bad;
}

static unsigned wg_output2_avx2(const float *m, ptrdiff_t mstride, float bias, float *const *yp,
                                const float *const *rp, ptrdiff_t ys, const int *rows,
                                const int *cols, tc_act_k act)
{
    __m256 t[8];
    for (int j = 0; j < 4; j++) {
        const float *p = m + j * mstride;
        __m256 m0 = _mm256_loadu_ps(p), m1 = _mm256_loadu_ps(p + 4 * mstride);
        __m256 m2 = _mm256_loadu_ps(p + 8 * mstride), m3 = _mm256_loadu_ps(p + 12 * mstride);
        t[j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        t[4 + j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    __m256 o[4]; /* o[2i + j]: output (i, j) of the 8 lanes (in order) */
    for (int i = 0; i < 2; i++) {
        const __m256 *q = t + 4 * i;
        o[2 * i] = _mm256_add_ps(_mm256_add_ps(q[0], q[1]), q[2]);
        o[2 * i + 1] = _mm256_sub_ps(_mm256_sub_ps(q[1], q[2]), q[3]);
    }
    return store_2x2(o, bias, WG_LANE_ID, yp, rp, ys, rows, cols, act);
}

/* 1-D A^T for F(2,5): 6 vectors -> 2 (the operation order of at62). */
#define AT62(m0, m1, m2, m3, m4, m5, o0, o1)                                          \
    do {                                                                               \
        __m256 s1_ = _mm256_add_ps(m1, m2), s2_ = _mm256_sub_ps(m1, m2);              \
        __m256 s3_ = _mm256_add_ps(m3, m4), s4_ = _mm256_sub_ps(m3, m4);              \
        o0 = _mm256_add_ps(_mm256_add_ps(m0, s1_), s3_);                               \
        o1 = _mm256_add_ps(_mm256_fmadd_ps(two, s4_, s2_), m5);                        \
    } while (0)

/* F(2x2,5x5): the 36 products of 8 tiles -> 2x2 outputs each.  Its V comes
 * from tc_wg_input4_avx2, so position p of a vector holds tile WG_PERM[p]. */
static unsigned wg_output25_avx2(const float *m, ptrdiff_t mstride, float bias,
                                 float *const *yp, const float *const *rp, ptrdiff_t ys,
                                 const int *rows, const int *cols, tc_act_k act)
{
    const __m256 two = _mm256_set1_ps(2.0f);
    __m256 t[12]; /* t[i][j], transformed along i */
    for (int j = 0; j < 6; j++) {
        const float *p = m + j * mstride;
        AT62(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 6 * mstride),
             _mm256_loadu_ps(p + 12 * mstride), _mm256_loadu_ps(p + 18 * mstride),
             _mm256_loadu_ps(p + 24 * mstride), _mm256_loadu_ps(p + 30 * mstride), t[j], t[6 + j]);
    }
    __m256 o[4]; /* o[2i + j]: output (i, j) */
    for (int i = 0; i < 2; i++) {
        const __m256 *q = t + 6 * i;
        AT62(q[0], q[1], q[2], q[3], q[4], q[5], o[2 * i], o[2 * i + 1]);
    }
    return store_2x2(o, bias, WG_PERM, yp, rp, ys, rows, cols, act);
}

const tc_wg_kernels tc_wg_avx2 = {
    .input6 = wg_input4_avx2,
    .input4 = wg_input2_avx2,
    .output_4x4_3x3 = wg_output4_avx2,
    .output_2x2_3x3 = wg_output2_avx2,
    .output_2x2_5x5 = wg_output25_avx2,
    .recover = tc_wg_recover_avx2,
    .direct3 = tc_wg_direct3_avx2,
};
