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

/* Column-wise max over nr rows of 8 floats at p (chained like the scalar code). */
static inline __m256 vmax_rows(const float *p, ptrdiff_t rs, int nr)
{
    __m256 m = _mm256_loadu_ps(p);
    for (int i = 1; i < nr; i++)
        m = _mm256_max_ps(m, _mm256_loadu_ps(p + i * rs));
    return m;
}

/* Column maxima of the 3 rows (nr = 3, the common interior case, unrolled) or nr rows. */
static inline __m256 vmax3(const float *p, ptrdiff_t rs)
{
    return _mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + rs)), _mm256_loadu_ps(p + 2 * rs));
}

/* 3x3 window, stride 2, no dilation, nr (<= 3) valid rows: 8 outputs per step.
 * Output o takes columns 2o, 2o+1, 2o+2 of the column maxima; the maxima of
 * columns 16..23 are carried to the next step.  The steps after the carried
 * ones read 17 columns each, the last redoing the last 8 outputs (rewriting
 * some with the same values): rows 13 or 27 wide
 * (SqueezeNet) left 5 or 3 outputs per row to one scalar window each.
 * Returns the outputs done.
 * Tried (s11b, 2026-12-01): two passes per block of output rows, the column maxima of
 * each window's three rows into a buffer (one flat run per row), then a 3-column
 * stride-2 max from it (6 or 4 loads, 1-3 shuffles per 8 outputs): 20% slower on
 * SqueezeNet's 27x27 and 55x55 planes and ShuffleNet's 112x112 pad 1 (in L1 too:
 * 180 vs 148 ns a 27x27 plane), the stores and reloads costing more than the shuffles
 * saved.  onnxruntime's pools run on channel-blocked (NCHWc) tensors: 8 channels per
 * vector, no shuffles (SqueezeNet's 256-channel pool: 20 us vs this row's 43).
 * spill: the last r < 8 outputs stored as a whole vector, lanes r .. 7 landing on the next
 * output row, which the caller (max_plane_avx2, rows in order) writes after this one: a
 * vmaskmovps store is microcoded on AMD.  Zen 3, native, 1 thread, thread CPU time, min of 41
 * rounds x 20 alternating with the masked store, 2026-12-03 14:2x (/tmp harness over
 * tc_max_pool2d_f32, same bits): SqueezeNet's 256 x 27x27 -> 13x13 36.9 -> 27.6 us (0.75;
 * onnxruntime's node 24), its stem's 64 x 111 -> 55 85.6 -> 74.7 (0.87); 128 x 55 -> 27 (no
 * tail) and ResNet's 112 -> 56 pad 1 unchanged.  In the network (subgraph_shapes.py --against
 * the base, 21 rounds): features.7's Concat -> features.8's pool 0.779 [0.759-0.803], the
 * fused stem + pool 0.989 [0.941-1.055]; SqueezeNet whole 0.997, 0.998 and 1.006 (21-31
 * rounds: ~10-20 us of 7.3 ms is below the noise), 2 threads (alt.py) 0.979 and 0.985. */
static inline __attribute__((always_inline)) int
max_row_3x3s2_from_avx2(const float *src, ptrdiff_t rs, int nr, float *y, int n, int avail,
                        __m256 a, int spill)
{
    const __m256i rot1 = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
    int o = 0;
    for (; o + 8 <= n && 2 * o + 24 <= avail; o += 8) {
        const float *p = src + 2 * o;
        __m256 b, c;
        if (nr == 3) {
            b = vmax3(p + 8, rs);
            c = vmax3(p + 16, rs);
        } else {
            b = vmax_rows(p + 8, rs, nr);
            c = vmax_rows(p + 16, rs, nr);
        }
        __m256 e = even8(a, b), od = odd8(a, b);
        /* columns 2o+2: the evens shifted by one, column 16 entering last */
        __m256 e2 = _mm256_blend_ps(_mm256_permutevar8x32_ps(e, rot1), _mm256_permutevar8x32_ps(c, _mm256_setzero_si256()), 0x80);
        _mm256_storeu_ps(y + o, _mm256_max_ps(_mm256_max_ps(e, od), e2));
        a = c;
    }
    if (o < n && n - o < 8) {
        /* the last r < 8 outputs from the carried maxima a (columns 2o .. 2o + 7) and one
         * step of the row's last 8 columns, 2n - 7 .. 2n, moved down to lanes 0 .. 2r - 8
         * of b (columns 2o + 8 ..): 3 loads instead of the 9 of a step redoing the last 8
         * outputs.  The same maxima in the same order as the carried steps; lanes r .. 7
         * are not stored. */
        const int r = n - o;
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const float *q = src + 2 * n - 7;
        __m256 bq = nr == 3 ? vmax3(q, rs) : vmax_rows(q, rs, nr);
        __m256 b = _mm256_permutevar8x32_ps(bq, _mm256_min_epi32(
            _mm256_add_epi32(lane, _mm256_set1_epi32(15 - 2 * r)), _mm256_set1_epi32(7)));
        __m256 e = even8(a, b), od = odd8(a, b);
        __m256 e2 = _mm256_permutevar8x32_ps(e, rot1); /* lane 7 is past the row */
        const __m256 m = _mm256_max_ps(_mm256_max_ps(e, od), e2);
        if (spill) /* lanes r .. 7 land on the next row, which the caller writes after this one */
            _mm256_storeu_ps(y + o, m);
        else
            _mm256_maskstore_ps(y + o, _mm256_cmpgt_epi32(_mm256_set1_epi32(r), lane), m);
        return n;
    }
    for (; o < n; o += 8) { /* without the carry: columns 2o .. 2o + 16 (2n + 1 <= avail) */
        if (o + 8 > n)
            o = n - 8;
        const float *p = src + 2 * o;
        __m256 a0 = nr == 3 ? vmax3(p, rs) : vmax_rows(p, rs, nr);
        __m256 b0 = nr == 3 ? vmax3(p + 8, rs) : vmax_rows(p + 8, rs, nr);
        __m256 c0 = nr == 3 ? vmax3(p + 9, rs) : vmax_rows(p + 9, rs, nr); /* lane 7: column 16 */
        __m256 e = even8(a0, b0), od = odd8(a0, b0);
        __m256 e2 = _mm256_blend_ps(_mm256_permutevar8x32_ps(e, rot1), c0, 0x80);
        _mm256_storeu_ps(y + o, _mm256_max_ps(_mm256_max_ps(e, od), e2));
    }
    return n;
}

static inline __attribute__((always_inline)) int
max_row_3x3s2_spill_avx2(const float *src, ptrdiff_t rs, int nr, float *y, int n, int avail, int spill)
{
    if (n < 8 || 2 * n + 1 > avail)
        return 0;
    return max_row_3x3s2_from_avx2(src, rs, nr, y, n, avail,
                                   nr == 3 ? vmax3(src, rs) : vmax_rows(src, rs, nr), spill);
}

static int max_row_3x3s2_avx2(const float *src, ptrdiff_t rs, int nr, float *y, int n, int avail)
{
    return max_row_3x3s2_spill_avx2(src, rs, nr, y, n, avail, 0);
}

/* A whole row of a 3x3/2 max pool with one column of left padding (ShuffleNet's and ResNet's
 * 112 -> 56 after the stem): output o reads columns 2o - 1 .. 2o + 1 of src, so the row
 * kernel runs from column -1, its first column maxima (columns -1..6) loaded as columns 0..7
 * moved up a lane, -inf entering lane 0 (max(-inf, v) = v, v's NaN included: the window's
 * taps in the interior's order).  n >= 8 outputs, 2n <= w (the last window inside the row),
 * w >= 23 (the first step carried, never loading column -1).  The generic path took the first
 * output as a scalar window (a tenth of the pool's samples in ShuffleNet's fused stem + pool)
 * and the last 7 with a masked store. */
static void max_row_3x3s2_l1_avx2(const float *src, ptrdiff_t rs, int nr, float *y, int n, int w,
                                  int spill)
{
    const __m256 c0 = nr == 3 ? vmax3(src, rs) : vmax_rows(src, rs, nr);
    const __m256 up = _mm256_permutevar8x32_ps(c0, _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6));
    const __m256 a = _mm256_blend_ps(up, _mm256_set1_ps(-INFINITY), 0x01);
    max_row_3x3s2_from_avx2(src - 1, rs, nr, y, n, w + 1, a, spill);
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
        for (int oy = 0; oy < d->oh; oy++)
            max_row_3x3s2_spill_avx2(x + (ptrdiff_t)2 * oy * d->w, d->w, 3, y + (ptrdiff_t)oy * d->ow,
                                     d->ow, d->w, oy + 1 < d->oh);
        return;
    }
    if (d->kh == 3 && d->kw == 3 && d->sh == 2 && d->sw == 2 && d->dh == 1 && d->dw == 1 &&
        d->pad_l == 1 && d->pad_t <= 1 && 2 * d->ow <= d->w && d->ow >= 8 && d->w >= 23 &&
        2 * (d->oh - 1) - d->pad_t < d->h) {
        for (int oy = 0; oy < d->oh; oy++) { /* rows clipped to the plane, every row >= 1 */
            const int hs = 2 * oy - d->pad_t, i0 = hs < 0 ? -hs : 0;
            const int i1 = d->h - hs < 3 ? d->h - hs : 3;
            max_row_3x3s2_l1_avx2(x + (ptrdiff_t)(hs + i0) * d->w, d->w, i1 - i0,
                                  y + (ptrdiff_t)oy * d->ow, d->ow, d->w, oy + 1 < d->oh);
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
