/* AVX2 twins of the pooling kernels in pool2d.c (compiled with -mavx2 -mfma).
 * The generic plane code of pool2d_impl.h (which gcc vectorises well for
 * stride 1), plus hand-written rows for the 3x3/2 max pool of ResNet, AlexNet
 * and SqueezeNet and for 2x2/2 pools (DenseNet's transitions). */
#include <immintrin.h>
#include <float.h>
#include <math.h>
#include "tinycnn.h"
#include "pool2d_internal.h"

/* Even and odd lanes of the 16 floats a:b, in order. */
static inline __m256 even8(__m256 a, __m256 b)
{
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8));
}
static inline __m256 odd8(__m256 a, __m256 b)
{
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8));
}

/* Column maxima of the window's rows r0, r1, r2 at column c: max(max(r0, r1), r2).  A window
 * clipped to 2 rows passes r2 = r1, to 1 row r1 = r2 = r0: max(m, v) with v the last row
 * again gives m's bits (m is v, or m > v), so the chain of the clipped rows is kept exactly. */
static inline __m256 cmax3(const float *r0, const float *r1, const float *r2, ptrdiff_t c)
{
    return _mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(r0 + c), _mm256_loadu_ps(r1 + c)),
                         _mm256_loadu_ps(r2 + c));
}

/* The column maxima of columns c .. c + 7 where the row's columns end at end (c < end < c + 8):
 * those of its last 8 columns moved down c + 8 - end lanes, the last column repeated above */
static inline __m256 cmax3_end(const float *r0, const float *r1, const float *r2, ptrdiff_t c,
                               ptrdiff_t end)
{
    const __m256i idx = _mm256_min_epi32(
        _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)(c + 8 - end))),
        _mm256_set1_epi32(7));
    return _mm256_permutevar8x32_ps(cmax3(r0, r1, r2, end - 8), idx);
}

/* One step's operands (8 outputs o, from the column maxima of columns 0..7 in a and 8..15 in
 * b) in the lane order [0 1 4 5 | 2 3 6 7] of the outputs, which shufps gives without a
 * lane-crossing permute: the evens (columns 2o), the odds (2o + 1), and the evens rotated to
 * columns 2o + 2 except in lane 7, which holds column 0 (the step before's column 16). */
typedef struct {
    __m256 e, od, r;
} max3s2_step;

static inline max3s2_step max3s2_operands(__m256 a, __m256 b)
{
    max3s2_step s;
    s.e = _mm256_shuffle_ps(a, b, 0x88);  /* columns [0 2 8 10 | 4 6 12 14] */
    s.od = _mm256_shuffle_ps(a, b, 0xdd); /* [1 3 9 11 | 5 7 13 15] */
    s.r = _mm256_permutevar8x32_ps(s.e, _mm256_setr_epi32(1, 4, 3, 6, 5, 2, 7, 0)); /* [2 4 10 12 | 6 8 14 0] */
    return s;
}

/* The step's 8 outputs in order; lane 7 of c16: column 16 */
static inline __m256 max3s2_outputs(max3s2_step s, __m256 c16)
{
    const __m256 m = _mm256_max_ps(_mm256_max_ps(s.e, s.od), _mm256_blend_ps(s.r, c16, 0x80));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xd8));
}

/* A row's steps with a next one (o + 8 <= n and 2o + 32 <= avail) */
static inline int max3s2_lookahead_steps(int n, int avail)
{
    const int la = avail >= 32 ? (avail - 32) / 16 + 1 : 0;
    return la < n / 8 ? la : n / 8;
}

/* The end of a row after its steps with a next one: the window's rows r0, r1, r2 and y at
 * the next step (its column 0 and output 0), s its operands (columns 0..15), r outputs left
 * (r <= 15; columns to 2r readable), the row's columns ending at end, prev the 8 outputs
 * stored last (when r < 8). */
static inline __attribute__((always_inline)) void
max3s2_row_end(const float *r0, const float *r1, const float *r2, float *y, int r,
               ptrdiff_t end, max3s2_step s, __m256 prev)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    if (r >= 8) { /* the step's column 16 and the next step's columns to 2r */
        const __m256 c16 = 24 <= end ? cmax3(r0, r1, r2, 16) : cmax3_end(r0, r1, r2, 16, end);
        const __m256 c24 = 24 > 2 * r ? c16 : 32 <= end ? cmax3(r0, r1, r2, 24)
                                                         : cmax3_end(r0, r1, r2, 24, end);
        const max3s2_step t = max3s2_operands(c16, c24);
        prev = max3s2_outputs(s, t.r);
        _mm256_storeu_ps(y, prev);
        s = t, r -= 8, y += 8;
    }
    if (r > 0) {
        /* the last r < 8 outputs (lanes 0 .. r - 1 of the step's, from its columns 0 .. 2r)
         * after the 8 - r last ones of prev, stored as the row's last 8 */
        const __m256 last = max3s2_outputs(s, s.r);
        const __m256i idx = _mm256_and_si256(_mm256_add_epi32(lane, _mm256_set1_epi32(r)),
                                             _mm256_set1_epi32(7));
        const __m256 from_last = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(7 - r)));
        _mm256_storeu_ps(y + r - 8, _mm256_blendv_ps(_mm256_permutevar8x32_ps(prev, idx),
                                                     _mm256_permutevar8x32_ps(last, idx), from_last));
    }
}

/* 3x3 window, stride 2, no dilation: a row of n >= 8 outputs from the window's rows r0, r1,
 * r2 (cmax3), columns 0 .. 2n readable (2n + 1 <= avail), a: the column maxima of columns
 * 0..7.  Output o is max(max(cm[2o], cm[2o + 1]), cm[2o + 2]) of the column maxima cm: the
 * order of every window's taps, NaN and signed zeros included, as before.
 * 8 outputs a step: its evens, odds and rotated evens from two shufps and one vpermps
 * (max3s2_operands), one vpermpd at the end; the rotated evens' lane 7 (column 16) is the
 * next step's lane 7, so each step builds the next one's operands first (two steps a turn of
 * the loop, the operands changing roles).  The row's last columns (max3s2_row_end): each
 * block of 8 column maxima read once, the last one from the row's last 8 columns moved down
 * (cmax3_end); the last r < 8 outputs stored with the 8 - r before them as the row's last 8.
 * Before (s11b .. s49): the outputs in order, even8 / odd8 (two shufps, two vpermpd), the
 * rotation and column 16's broadcast (two vpermps): 4 lane-crossing permutes a step; the
 * plane's rows through a called row function (vzeroupper each row), the clipped rows' count
 * tested at each step, indexed loads.
 * Tried (s11b, 2026-12-01): two passes per block of output rows, the column maxima into a
 * buffer, then a 3-column stride-2 max from it: 20% slower.  onnxruntime's pools run on
 * channel-blocked (NCHWc) tensors, 8 channels a vector, no shuffles. */
static inline __attribute__((always_inline)) void
max_row_3x3s2_avx2_(const float *r0, const float *r1, const float *r2, float *y, int n,
                    int avail, __m256 a)
{
    const int la = max3s2_lookahead_steps(n, avail);
    max3s2_step s = max3s2_operands(a, cmax3(r0, r1, r2, 8)), t;
    __m256 prev = a; /* the outputs stored last */
    int i = 0;
    for (; i + 2 <= la; i += 2, r0 += 32, r1 += 32, r2 += 32, y += 16) {
        t = max3s2_operands(cmax3(r0, r1, r2, 16), cmax3(r0, r1, r2, 24));
        _mm256_storeu_ps(y, max3s2_outputs(s, t.r));
        s = max3s2_operands(cmax3(r0, r1, r2, 32), cmax3(r0, r1, r2, 40));
        prev = max3s2_outputs(t, s.r);
        _mm256_storeu_ps(y + 8, prev);
    }
    if (i < la) {
        t = max3s2_operands(cmax3(r0, r1, r2, 16), cmax3(r0, r1, r2, 24));
        prev = max3s2_outputs(s, t.r);
        _mm256_storeu_ps(y, prev);
        s = t;
        i++, r0 += 16, r1 += 16, r2 += 16, y += 8;
    }
    max3s2_row_end(r0, r1, r2, y, n - 8 * i, avail - 16 * i, s, prev);
}

/* Two rows of the kernel above at once, output rows i and i + 1 of a plane: windows' rows
 * x0, x1, x2 and x2, x3, x4 (the row they share read once; clipped windows repeat a row as
 * cmax3 does), outputs y0 and y1, a0 and a1 their columns 0..7's maxima.  A third fewer
 * loads of the shared row: the kernel's time is its loads (2026-12-07, Xeon, a row of 55
 * outputs in L1: ~40 cycles, 29 with one row's loads left out, 22 with two; the shuffles
 * replaced by arithmetic 39). */
static inline __attribute__((always_inline)) void
max_rows2_3x3s2_avx2_(const float *x0, const float *x1, const float *x2, const float *x3,
                      const float *x4, float *y0, float *y1, int n, int avail, __m256 a0,
                      __m256 a1)
{
    const int la = max3s2_lookahead_steps(n, avail);
    __m256 m2 = _mm256_loadu_ps(x2 + 8);
    max3s2_step s0 = max3s2_operands(a0, _mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(x0 + 8),
                                                                     _mm256_loadu_ps(x1 + 8)), m2));
    max3s2_step s1 = max3s2_operands(a1, _mm256_max_ps(_mm256_max_ps(m2, _mm256_loadu_ps(x3 + 8)),
                                                       _mm256_loadu_ps(x4 + 8)));
    __m256 prev0 = a0, prev1 = a1;
    int i = 0;
    for (; i < la; i++, x0 += 16, x1 += 16, x2 += 16, x3 += 16, x4 += 16, y0 += 8, y1 += 8) {
        const __m256 c2 = _mm256_loadu_ps(x2 + 16), d2 = _mm256_loadu_ps(x2 + 24);
        const max3s2_step t0 = max3s2_operands(
            _mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(x0 + 16), _mm256_loadu_ps(x1 + 16)), c2),
            _mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(x0 + 24), _mm256_loadu_ps(x1 + 24)), d2));
        prev0 = max3s2_outputs(s0, t0.r);
        _mm256_storeu_ps(y0, prev0);
        s0 = t0;
        const max3s2_step t1 = max3s2_operands(
            _mm256_max_ps(_mm256_max_ps(c2, _mm256_loadu_ps(x3 + 16)), _mm256_loadu_ps(x4 + 16)),
            _mm256_max_ps(_mm256_max_ps(d2, _mm256_loadu_ps(x3 + 24)), _mm256_loadu_ps(x4 + 24)));
        prev1 = max3s2_outputs(s1, t1.r);
        _mm256_storeu_ps(y1, prev1);
        s1 = t1;
    }
    max3s2_row_end(x0, x1, x2, y0, n - 8 * i, avail - 16 * i, s0, prev0);
    max3s2_row_end(x2, x3, x4, y1, n - 8 * i, avail - 16 * i, s1, prev1);
}

/* The row kernel on nr (<= 3) rows rs apart from src (the generic plane's interior).
 * Returns the outputs done. */
static int max_row_3x3s2_avx2(const float *src, ptrdiff_t rs, int nr, float *y, int n, int avail)
{
    if (n < 8 || 2 * n + 1 > avail)
        return 0;
    const float *r1 = nr > 1 ? src + rs : src, *r2 = nr > 2 ? src + 2 * rs : r1;
    max_row_3x3s2_avx2_(src, r1, r2, y, n, avail, cmax3(src, r1, r2, 0));
    return n;
}

/* The first column maxima of a row of a 3x3/2 max pool with one column of left padding
 * (ShuffleNet's and ResNet's 112 -> 56 after the stem), window rows r0, r1, r2: output o
 * reads columns 2o - 1 .. 2o + 1, so the row kernel runs from column -1, its first column
 * maxima (columns -1..6) those of columns 0..7 moved up a lane, -inf entering lane 0
 * (max(-inf, v) = v, v's NaN included: the window's taps in the interior's order).  The
 * kernel needs n >= 8 outputs, 2n <= w (the last window inside the row); it never loads
 * column -1.  The generic path took the first output as a scalar window (a tenth of the
 * pool's samples in ShuffleNet's fused stem + pool) and the last 7 with a masked store. */
static inline __m256 max3s2_l1_first(const float *r0, const float *r1, const float *r2)
{
    const __m256 up = _mm256_permutevar8x32_ps(cmax3(r0, r1, r2, 0), _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6));
    return _mm256_blend_ps(up, _mm256_set1_ps(-INFINITY), 0x01);
}

/* 2x2 window, stride 2, no dilation, nr (<= 2) valid rows: 8 outputs per step
 * from 16 columns, the last step redoing the last 8.  Sums for average
 * pooling (the caller divides), in the portable order: from 0 (max: from
 * -inf), row by row, the even column then the odd.  DenseNet's transitions:
 * the portable loop's strided reads took ~4x this. */
static int row_2x2s2_avx2(const float *src, ptrdiff_t rs, int nr, int is_max, float *y, int n)
{
    if (n < 8)
        return 0;
    for (int o = 0; o < n; o += 8) {
        if (o + 8 > n)
            o = n - 8;
        const float *p = src + 2 * o;
        __m256 m = is_max ? _mm256_set1_ps(-INFINITY) : _mm256_setzero_ps();
        for (int i = 0; i < nr; i++, p += rs) {
            __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
            __m256 e = even8(a, b), od = odd8(a, b);
            m = is_max ? _mm256_max_ps(_mm256_max_ps(m, e), od) : _mm256_add_ps(_mm256_add_ps(m, e), od);
        }
        _mm256_storeu_ps(y + o, m);
    }
    return n;
}

#define TC_POOL_ROW_FAST(src, rs, nr, kw, dw, sw, is_max, y, n, avail)                                 \
    ((is_max) && (sw) == 2 && (dw) == 1 && (kw) == 3 && (nr) <= 3                                   \
         ? max_row_3x3s2_avx2((src), (rs), (nr), (y), (n), (avail))                                    \
     : (sw) == 2 && (dw) == 1 && (kw) == 2 ? row_2x2s2_avx2((src), (rs), (nr), (is_max), (y), (n))       \
                                           : 0)

#include "pool2d_impl.h"

/* A 3x3/2 max pool whose every window lies inside the plane (no pads, or ceil mode's that no
 * window reaches: SqueezeNet's 55 -> 27 and 27 -> 13) and rows of 8 or more outputs: the row
 * kernel straight over the rows, as pool_plane_ would call it, without its per-row edge
 * bookkeeping. */
static void max_plane_avx2(const tc_pool2d_desc *d, const float *x, float *y)
{
    if (d->kh == 3 && d->kw == 3 && d->sh == 2 && d->sw == 2 && d->dh == 1 && d->dw == 1 &&
        d->pad_t == 0 && d->pad_l == 0 && (d->oh - 1) * 2 + 3 <= d->h &&
        (d->ow - 1) * 2 + 3 <= d->w && d->ow >= 8) {
        const ptrdiff_t w = d->w;
        int oy = 0;
        for (; oy + 2 <= d->oh; oy += 2) {
            const float *r0 = x + 2 * oy * w;
            max_rows2_3x3s2_avx2_(r0, r0 + w, r0 + 2 * w, r0 + 3 * w, r0 + 4 * w,
                                  y + oy * d->ow, y + (oy + 1) * d->ow, d->ow, d->w,
                                  cmax3(r0, r0 + w, r0 + 2 * w, 0),
                                  cmax3(r0 + 2 * w, r0 + 3 * w, r0 + 4 * w, 0));
        }
        if (oy < d->oh) {
            const float *r0 = x + 2 * oy * w;
            max_row_3x3s2_avx2_(r0, r0 + w, r0 + 2 * w, y + (ptrdiff_t)oy * d->ow, d->ow, d->w,
                                cmax3(r0, r0 + w, r0 + 2 * w, 0));
        }
        return;
    }
    if (d->kh == 3 && d->kw == 3 && d->sh == 2 && d->sw == 2 && d->dh == 1 && d->dw == 1 &&
        d->pad_l == 1 && d->pad_t <= 1 && 2 * d->ow <= d->w && d->ow >= 8 && d->w >= 23 &&
        2 * (d->oh - 1) - d->pad_t < d->h) {
        /* rows clipped to the plane (every window has 1 row or more), two output rows a call */
        const float *rows[5];
        for (int oy = 0; oy < d->oh; oy += 2) {
            const int pair = oy + 1 < d->oh, hs = 2 * oy - d->pad_t;
            for (int k = 0; k < 3 + 2 * pair; k++) { /* a row past the plane repeats the last */
                const int r = hs + k < 0 ? 0 : hs + k < d->h ? hs + k : d->h - 1;
                rows[k] = x + (ptrdiff_t)r * d->w - 1;
            }
            if (hs < 0) /* the top pad: window rows 0, 1 as 0, 1, 1 */
                rows[0] = rows[1], rows[1] = rows[2];
            float *y0 = y + (ptrdiff_t)oy * d->ow;
            const __m256 a0 = max3s2_l1_first(rows[0] + 1, rows[1] + 1, rows[2] + 1);
            if (pair)
                max_rows2_3x3s2_avx2_(rows[0], rows[1], rows[2], rows[3], rows[4], y0, y0 + d->ow,
                                      d->ow, d->w + 1, a0,
                                      max3s2_l1_first(rows[2] + 1, rows[3] + 1, rows[4] + 1));
            else
                max_row_3x3s2_avx2_(rows[0], rows[1], rows[2], y0, d->ow, d->w + 1, a0);
        }
        return;
    }
    if (d->kh == 3 && d->kw == 3 && d->sh == 2 && d->sw == 2 && d->dh == 1 && d->dw == 1 &&
        d->pad_t == 0 && d->pad_l == 0 && d->w >= 17 && d->h >= 3 && d->ow >= 8 &&
        (d->oh - 1) * 2 < d->h && (d->ow - 1) * 2 < d->w) {
        /* ceil mode (GoogLeNet's 3x3/2 pools): windows past the right and bottom edges only.
         * As pool_plane_ computes them: the ni outputs whose windows lie inside the row through
         * the row kernel (columns first), the rest one clipped window each (pool_one_, row
         * major); here two rows a call while both have their 3 rows. */
        const ptrdiff_t w = d->w;
        const int ni = (d->w - 3) / 2 + 1 < d->ow ? (d->w - 3) / 2 + 1 : d->ow;
        const int full = (d->h - 3) / 2 + 1;
        for (int oy = 0; oy < d->oh;) {
            const float *r0 = x + 2 * oy * w;
            float *y0 = y + (ptrdiff_t)oy * d->ow;
            int rows = 1;
            if (oy + 2 <= full) {
                max_rows2_3x3s2_avx2_(r0, r0 + w, r0 + 2 * w, r0 + 3 * w, r0 + 4 * w, y0,
                                      y0 + d->ow, ni, d->w, cmax3(r0, r0 + w, r0 + 2 * w, 0),
                                      cmax3(r0 + 2 * w, r0 + 3 * w, r0 + 4 * w, 0));
                rows = 2;
            } else { /* the window's rows clipped to the plane */
                const int nr = d->h - 2 * oy < 3 ? d->h - 2 * oy : 3;
                const float *r1 = nr > 1 ? r0 + w : r0, *r2 = nr > 2 ? r1 + w : r1;
                max_row_3x3s2_avx2_(r0, r1, r2, y0, ni, d->w, cmax3(r0, r1, r2, 0));
            }
            for (int k = 0; k < rows; k++, oy++) {
                const int nr = d->h - 2 * oy < 3 ? d->h - 2 * oy : 3;
                for (int ox = ni; ox < d->ow; ox++)
                    y[(ptrdiff_t)oy * d->ow + ox] = pool_one_(d, x, 1, 0, 2 * oy, 0, nr, 0, ox);
            }
        }
        return;
    }
    pool_plane_(d, 1, 0, x, y);
}

static void avg_plane_avx2(const tc_pool2d_desc *d, int count_include_pad, const float *x, float *y)
{
    pool_plane_(d, 0, count_include_pad, x, y);
}

/* Same partial sums, same order as tc_sum_f32_ref_: identical results. */
static float sum_f32_avx2(const float *x, ptrdiff_t n)
{
    __m256 acc = _mm256_setzero_ps();
    ptrdiff_t i = 0;
    if (n >= TC_SUM_WIDE_MIN) {
        __m256 a0 = acc, a1 = acc, a2 = acc, a3 = acc;
        for (; i + 32 <= n; i += 32) {
            a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
            a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
            a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
            a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
        }
        acc = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    }
    for (; i + 8 <= n; i += 8)
        acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + i));
    float a[8];
    _mm256_storeu_ps(a, acc);
    for (; i < n; i++)
        a[i & 7] += x[i];
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

const tc_pool2d_kernels tc_pool2d_avx2 = {
    .max_plane = max_plane_avx2,
    .avg_plane = avg_plane_avx2,
    .sum = sum_f32_avx2,
};
