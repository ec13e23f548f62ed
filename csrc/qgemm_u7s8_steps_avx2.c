/* U7S8 at base 0 with the paired widths (the long kernels' 4 x 16 tiles after a ReLU), a
 * tile's rows read in place, no split copy and no correction pass: the paired 8-k step
 * (qgemm_avx2.c, u7s8_tile_avx2) wherever none of the tile's bytes of the step is above the
 * paired widths, and elsewhere (the step's listed by tc_u7s8_scan_avx2) two 4-k steps at the
 * pair's widths: the bytes themselves where none is above those either, else min(a, lim)
 * and the part above, max(a - lim, 0) <= 128 (each pair sum within int16, tinycnn.h).  The
 * int32 sums are exact either way: the same bits as the split's path.
 * Portable twin: the split's path (tc_u7s8_split + tc_qukernel_u7s8_portable), the same sums.
 *
 * Why (h36-q, 2026-12-05, the Xeon, emulated AVX2 1t): on a photograph ResNet-50 int8's bytes
 * above 127 fall in a few channels of many neighbouring pixels, so most 4-row tiles of its
 * conv1 / conv3 / downsample / im2col 3x3 layers had more than 1 / TC_QU7S8_PAIRED_FIX of their
 * groups above the paired widths: each such tile was tested, copied twice (split at the
 * paired widths, then at the pair's) and run by the 4-k loop over all its k, 4 multiplies per
 * 8 k in place of 3; the tiles that kept the paired widths corrected their groups above in two
 * parts (4 more multiplies a group).  Here only the steps with a byte above leave the paired
 * loop, 4 multiplies each (8 more with a part above the pair's widths).
 * Where the time goes (h37-q50, perf cpu-clock, ResNet-50 int8 on a photograph, this kernel
 * 42% of the run): the paired loop 62% of its samples, the listed steps' 4-k loop 15%, the
 * steps between them (leaving and re-entering the paired loop) 11%, setup and stores the rest.
 * Tried and left (h37-q50, benchmarks/u7s8_step_lists.patch): tiles with more than 1 / 8 of
 * their steps listed take their paired steps from a list the scan also writes (no exit from
 * the paired loop per listed step, each loop's count known at its start), the listed ones
 * after; against main (qsteps.py --input photo, 12 x 10 runs, one order) 1.017 of the steps'
 * time, the conv3 layers level (1.005-1.017), layer4.0's 3x3 1.109 (the paired loop indexed
 * from the list: as the off-indexed loop noted above steps_panel); the same build never
 * taking the lists 1.012 (the scan's extra writes; the first-named build reads ~1% slow). */
#include "quant_avx2.h"

#define STEPS_PAIRED_ROW(ar, c0, c1)                                                          \
    do {                                                                                     \
        __m256i x = tc_bcast32_avx2((ar) + off), x4 = tc_bcast32_avx2((ar) + off + 4);       \
        c0 = tc_paired_step_avx2(c0, x, x4, b0, b2);                                         \
        c1 = tc_paired_step_avx2(c1, x, x4, b1, b3);                                         \
    } while (0)

/* one row's 4-k group at o: the bytes where none is above the pair's widths (plain),
 * else min(a, lim) and the part above */
#define STEPS_GROUP_ROW(ar, c0, c1)                                                          \
    do {                                                                                     \
        __m256i x = tc_bcast32_avx2((ar) + o);                                               \
        if (above) {                                                                         \
            __m256i up = _mm256_subs_epu8(x, top);                                           \
            x = _mm256_min_epu8(x, top);                                                     \
            c0 = tc_maddubs_step_avx2(c0, up, b0);                                           \
            c1 = tc_maddubs_step_avx2(c1, up, b1);                                           \
        }                                                                                    \
        c0 = tc_maddubs_step_avx2(c0, x, b0);                                                \
        c1 = tc_maddubs_step_avx2(c1, x, b1);                                                \
    } while (0)

/* rows: the tile's 4 rows (pointers past mr repeat the last), klen bytes each, in place;
 * b: panel [klen / 4][16][4] int8; e->fix_k: the e->nfix steps leaving the paired loop
 * (tc_u7s8_scan_avx2: offsets of 8-k steps, bit 0 where a byte is above the pair's widths
 * too), increasing; e->lim: the pair's widths [klen]; a 4-k group past the last whole 8-k
 * step (klen = 4 mod 8) at the pair's widths */
static inline __attribute__((always_inline)) void steps_panel(int klen, const void *const *rows,
                                                              const void *b, const tc_qepi *e,
                                                              int mr, int nr, void *y,
                                                              ptrdiff_t ldy)
{
    __m256i c00 = _mm256_loadu_si256((const __m256i *)e->bias), c10 = c00, c20 = c00;
    __m256i c01 = _mm256_loadu_si256((const __m256i *)e->bias + 1), c11 = c01, c21 = c01;
    __m256i c30 = c00, c31 = c01;
    const char *a0 = rows[0], *a1 = rows[1], *a2 = rows[2], *a3 = rows[3];
    const __m256i *bk = b;
    const int32_t *leave = e->fix_k;
    const ptrdiff_t k8 = klen & ~7;
    ptrdiff_t off = 0;
    for (int i = 0;; i++) {
        const ptrdiff_t end = i < e->nfix ? (ptrdiff_t)(leave[i] & ~7) : k8;
        /* as u7s8_tile_avx2's paired loop: the panel's pointer advanced, no index from off
         * (an address computed from off per step took the K = 2048 and 4608 layers to
         * 1.08-1.14 of its time) */
        _Pragma("GCC unroll 2")
        for (; off < end; off += 8, bk += 4) {
            __m256i b0 = _mm256_loadu_si256(bk), b1 = _mm256_loadu_si256(bk + 1);
            __m256i b2 = _mm256_loadu_si256(bk + 2), b3 = _mm256_loadu_si256(bk + 3);
            STEPS_PAIRED_ROW(a0, c00, c01);
            STEPS_PAIRED_ROW(a1, c10, c11);
            STEPS_PAIRED_ROW(a2, c20, c21);
            STEPS_PAIRED_ROW(a3, c30, c31);
        }
        /* the step at off leaves the paired loop: a listed one (two groups), or past the
         * last whole step (kpad = 4 mod 8) a group not scanned, taken with its part above */
        const int last = i == e->nfix;
        if (last && k8 == klen)
            break;
        const int above = last || (leave[i] & 1);
        for (ptrdiff_t o = off, stop = last ? klen : off + 8; o < stop; o += 4, bk += 2) {
            __m256i b0 = _mm256_loadu_si256(bk), b1 = _mm256_loadu_si256(bk + 1);
            const __m256i top = tc_bcast32_avx2(e->lim + o);
            STEPS_GROUP_ROW(a0, c00, c01);
            STEPS_GROUP_ROW(a1, c10, c11);
            STEPS_GROUP_ROW(a2, c20, c21);
            STEPS_GROUP_ROW(a3, c30, c31);
        }
        if (last)
            break;
        off += 8;
    }
    const __m256i z = _mm256_setzero_si256();
    tc_qstore_6x16_avx2(c00, c01, c10, c11, c20, c21, c30, c31, z, z, z, z, mr, nr, e, y, ldy);
}

/* tc_quant_kernels.u7s8_steps: nr columns as panels ldb bytes apart (the same steps for each) */
void tc_qukernel_u7s8_steps_avx2(int ntaps, int klen, const void *const *rows, int mr,
                                 const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y,
                                 ptrdiff_t ldy)
{
    (void)ntaps;
    if (nr <= TC_QNR) {
        steps_panel(klen, rows, b, e, mr, nr, y, ldy);
        return;
    }
    for (int n0 = 0; n0 < nr; n0 += TC_QNR) {
        tc_qepi ep;
        void *yp = tc_qepi_panel(e, n0, y, &ep);
        steps_panel(klen, rows, (const char *)b + n0 / TC_QNR * ldb, &ep, mr,
                    nr - n0 < TC_QNR ? nr - n0 : TC_QNR, yp, ldy);
    }
}

/* w = 32 or 8 bytes at p (8: the register's lanes past them undefined) */
static inline __m256i load_w(const uint8_t *p, int w)
{
    return w == 32 ? _mm256_loadu_si256((const __m256i *)p)
                   : _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)p));
}

/* one bit per 8-k step of the w bytes in x (4, or w = 8: 1) where one of them is not 0 */
static inline uint64_t step_bits(__m256i x, int w)
{
    const __m256i zero = _mm256_cmpeq_epi64(x, _mm256_setzero_si256());
    return ~(uint64_t)_mm256_movemask_pd(_mm256_castsi256_pd(zero)) & (w == 32 ? 0xfu : 1u);
}

/* the 8-k steps of the mr rows' w bytes at k with a byte above pl (*ml: above l too), a bit
 * each */
static inline uint64_t above_steps(const void *const *rows, int mr, int k, const uint8_t *pl,
                                   const uint8_t *l, int w, uint64_t *ml)
{
    const __m256i wp = load_w(pl + k, w), wl = load_w(l + k, w);
    __m256i ap = _mm256_setzero_si256(), al = ap;
    for (int r = 0; r < mr; r++) {
        const __m256i v = load_w((const uint8_t *)rows[r] + k, w);
        ap = _mm256_or_si256(ap, _mm256_subs_epu8(v, wp));
        al = _mm256_or_si256(al, _mm256_subs_epu8(v, wl));
    }
    *ml = step_bits(al, w);
    return step_bits(ap, w);
}

/* tc_quant_kernels.u7s8_scan (quant_internal.h), 32 bytes at a time, then 8: the steps of 512
 * bytes as the bits of a word, then listed bit by bit (a loop's exit per word; no branch on
 * the bytes of each 32).  Before (h38-qmv's base) a branch per 32 bytes on any step above and
 * one per step listed: once the feed changes run by run (a network, where the branch
 * predictor does not learn a layer's pattern) those cost more than the steps kernel's own.
 * Measured (h38-qmv, 2026-12-05, the Xeon, emulated AVX2 1t, MobileNetV2 int8 on a
 * photograph, bit-identical): benchmarks/qblock_rotate.py (a block cut so that the pairing
 * applies, the projection's step, 20 rounds, medians against the base's scan; rotated feeds /
 * the same feed) 576 -> 96 at 14x14 0.952 / 0.991, 960 -> 160 and 960 -> 320 at 7x7 0.960 /
 * 1.004 and 0.977 / 1.001; cut alone in the file's order (qconv_rotate.py, against the base,
 * two runs) 576 -> 96 rotated 122.6-123.1 -> 116.6-116.9 us, same feed 112.9-113.2 ->
 * 114.0-114.2; in the network (qsteps.py --input photo, 40 x 10, both orders, step minima)
 * the ten K >= 384 projections 0.981 / 0.968, the whole run's steps 1.000 / 0.997.  Tried:
 * each step's entry written and the count advanced by its bit (4 stores per 32 bytes, no
 * loop): cut alone the same within 1 us. */
int tc_u7s8_scan_avx2(const void *const *rows, int mr, int kpad, const uint8_t *pl,
                      const uint8_t *l, int32_t *steps)
{
    const int k8 = kpad & ~7;
    int n = 0;
    for (int k0 = 0; k0 < k8; k0 += 512) {
        const int kend = k8 - k0 > 512 ? k0 + 512 : k8;
        uint64_t mp = 0, ml = 0;
        for (int k = k0, w; k < kend; k += w) {
            w = kend - k >= 32 ? 32 : 8;
            uint64_t tl, tp = above_steps(rows, mr, k, pl, l, w, &tl);
            mp |= tp << ((k - k0) / 8);
            ml |= tl << ((k - k0) / 8);
        }
        for (; mp; mp &= mp - 1) {
            const int s = __builtin_ctzll(mp);
            steps[n++] = k0 + 8 * s + (int)((ml >> s) & 1);
        }
    }
    return n;
}
