/* The AVX2 S16X2 kernel's whole-tile calls (tc_qukernel_s16x2_avx2, tc_qepi.tiles): ntiles whole
 * 6 x 16 tiles of one panel, one tap, bytes out without a residual, the output stage's constants
 * set up once per call and the loop over the tiles holding nothing else.  Portable twin:
 * tc_qukernel_s16x2_portable (same results).
 *
 * History.  s20-q (2026-12-03): a panel per call over a block's tiles, against a tile's six
 * panels per call, MobileNetV2's 16 -> 96 expansion at 112x112 (K = 16, zero point 144; tc_qgemm
 * alone, two builds alternating in one process, thread CPU, 100 runs) 0.91-0.92.  n26-qpw
 * (2026-12-04, AMD EPYC Zen 4, emulated AVX2): the tiles' rows from the first two pointers
 * (tc_qepi.tiles; the driver fills no others), then one body per output type (SIGNED), scale
 * range (BELOW1: no float clamp) and side of the byte clamp (CLAMP: a ReLU6's [0, hi] needs the
 * min alone, the unsigned pack being its floor), each a compile-time constant as gemm_avx2.c's
 * strip16_fixed, chosen once per call, and the k loop unrolled by 2 (no spill: objdump).  Same
 * bytes.  MobileNetV2 int8, each layer with its own activations (qconv_layers.py, 8 rounds, run
 * from each checkout against the other), these bodies against the base / the base against them:
 * 32 -> 16 at 112x112 0.911 / 1.078-1.091 (94 against 102-103 us, onnxruntime 90), 16 -> 96 at
 * 112x112 0.973 / 1.056, 24 -> 144 at 56x56 0.91-0.98 / 1.048-1.050, 32 -> 192 at 28x28
 * 0.995 / 1.019-1.025; whole network (subgraph_shapes.py, 60 rounds each way) 1.006
 * [0.977-1.058] / 0.999 [0.965-1.022]: the 30-35 us are below its noise on the loaded host.
 * The same bodies inside qgemm_avx2.c took the U7S8 expansions around a mid-range zero point
 * (64 -> 384, 96 -> 576, 160 -> 960), whose code they do not touch, to 1.015-1.02 of their time
 * in both orders (with only the rows' change there, 1.00; loops aligned to 64 in the U7S8
 * kernel or in its split did not help): those kernels are sensitive to where they land, so the
 * bodies live here, qgemm_avx2.c's code as with the rows' change alone.  (Those runs: csrc
 * linked by hand without -fwrapv; the setup.py build of this commit against the base's, same
 * measures, 03:35 UTC: 32 -> 16 0.918 / 1.086, 16 -> 96 0.977 / 1.030, the other layers
 * 0.96-1.04 either way, whole network 0.993 [0.967-1.009] / 1.012 [0.992-1.043].)
 * h49-q (2026-12-07, the Xeon, emulated AVX2 1t): the 16 -> 96 expansion at 112x112 is
 * s16x2_tiles_100 for 91% of its samples (perf), and a tile (6 x 16, K = 16) issues 252 vector
 * ALU instructions: 96 vpmaddwd, 96 vpaddd, the output stage's 36 conversions and multiplies
 * and 24 packs, adds, permutes: 84 cycles over the three vector ports against ~93 measured
 * (347 us over 12544 tile calls at 3.375 GHz, fma_peak's clock): the body runs within ~10% of
 * its ports' bound, and an exact product of 8-bit activations by any 8-bit weights needs
 * vpmaddwd's 2 instructions per 16 products (the weights leave no pair within U8S8X2's int16
 * bound: its share 1.0 on both 112x112 layers; U7S8 reads 1.56x / 1.72x S16X2's time there
 * on a photograph, qconv_layers.py --set).  A zero point of 0 (MobileNetV2's expansions: a
 * ReLU6 over [0, 255]) drops the zero point's two vpaddsw per two rows (ZP0): below. */
#include "quant_avx2.h"

static inline __m256i madd_step(__m256i c, __m256i a, __m256i b)
{
    return _mm256_add_epi32(c, _mm256_madd_epi16(a, b));
}

/* Two whole rows of 16 bytes from a tile's sums (bias in them), every choice of
 * tc_qstore_2rows_clamp_avx2 a compile-time constant: BELOW1 (every scale below 1: no float
 * clamp, else min(f, hi - zp)), SIGNED, the byte clamp after the saturating packs only on
 * the side where [lo, hi] is narrower than the type (CLAMP bit 0: max with lo, bit 1: min with
 * hi; a ReLU6's lo = 0 needs none: the unsigned pack's own floor), and ZP0 (a zero point of 0:
 * no saturating add of it to the int16 values).  The same bytes.
 * ZP0 measured (h49-q, 2026-12-07, the Xeon, emulated AVX2 1t, bit-identical): qpw_ab.c (60
 * rounds, output zero point 0, each build first in turn) 16 -> 96 at 112x112 0.983
 * [0.961-0.996] and 1 / 1.023 [1.008-1.039] (348 -> 341 us, min), 24 -> 144 at 56x56 0.982 and
 * 1 / 1.017, 32 -> 192 at 28x28 0.990 and 1 / 1.011; MobileNetV2 int8 in the network
 * (qsteps.py --input photo, 20 x 10, two runs each order) the six S16X2 expansions summed
 * 0.984, 1.010, 0.989, 0.973 of their time (16 -> 96 0.974, 1.000, 0.977, 0.965). */
static inline __attribute__((always_inline)) void store_2rows_fixed(
    const int BELOW1, const int SIGNED, const int CLAMP, const int ZP0, __m256i a0, __m256i a1,
    __m256i b0, __m256i b1, __m256 s0, __m256 s1, __m256 fhi, __m256i zp16, __m256i lo8,
    __m256i hi8, char *y0, char *y1)
{
    const __m256i z = _mm256_setzero_si256();
    if (BELOW1) {
        a0 = tc_requant8_nc_avx2(a0, z, s0);
        a1 = tc_requant8_nc_avx2(a1, z, s1);
        b0 = tc_requant8_nc_avx2(b0, z, s0);
        b1 = tc_requant8_nc_avx2(b1, z, s1);
    } else {
        a0 = tc_requant8_hi_avx2(a0, z, s0, fhi);
        a1 = tc_requant8_hi_avx2(a1, z, s1, fhi);
        b0 = tc_requant8_hi_avx2(b0, z, s0, fhi);
        b1 = tc_requant8_hi_avx2(b1, z, s1, fhi);
    }
    __m256i wa = _mm256_packs_epi32(a0, a1), wb = _mm256_packs_epi32(b0, b1);
    if (!ZP0) {
        wa = _mm256_adds_epi16(wa, zp16);
        wb = _mm256_adds_epi16(wb, zp16);
    }
    __m256i q = SIGNED ? _mm256_packs_epi16(wa, wb) : _mm256_packus_epi16(wa, wb);
    if (CLAMP & 1)
        q = SIGNED ? _mm256_max_epi8(q, lo8) : _mm256_max_epu8(q, lo8);
    if (CLAMP & 2)
        q = SIGNED ? _mm256_min_epi8(q, hi8) : _mm256_min_epu8(q, hi8);
    q = _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm_storeu_si128((__m128i *)y0, _mm256_castsi256_si128(q));
    _mm_storeu_si128((__m128i *)y1, _mm256_extracti128_si256(q, 1));
}

/* ntiles whole 6 x 16 tiles of one panel (tile i's row r at rows[0] + (6 * i + r) *
 * (rows[1] - rows[0]) bytes, as tc_qepi.tiles says; its outputs 6 * i rows down), one tap,
 * bytes out without a residual: the output stage's constants set up once per call, the loop
 * over the tiles holding nothing else (through s16x2_panel_avx2 each tile copied and tested
 * the output stage again).  MobileNetV2's 16 -> 96 expansion at 112x112 (K = 16, zero
 * point 144) a panel per call over a block's tiles this way, against a tile's six panels per
 * call (tc_qgemm alone, two builds alternating in one process, thread CPU, 100 runs,
 * 2026-12-03): 0.91-0.92.  One body per (BELOW1, SIGNED, CLAMP, ZP0) of store_2rows_fixed, chosen
 * once per call. */
static inline __attribute__((always_inline)) void s16x2_tiles_body(
    const int BELOW1, const int SIGNED, const int CLAMP, const int ZP0, int klen,
    const void *const *rows, const void *b, const tc_qepi *e, int ntiles, char *y, ptrdiff_t ldy)
{
    const __m256i bias0 = _mm256_loadu_si256((const __m256i *)e->bias);
    const __m256i bias1 = _mm256_loadu_si256((const __m256i *)e->bias + 1);
    const __m256 s0 = _mm256_loadu_ps(e->scale), s1 = _mm256_loadu_ps(e->scale + 8);
    const __m256 fhi = _mm256_set1_ps((float)(e->hi - e->zero_point));
    const __m256i zp16 = _mm256_set1_epi16((short)e->zero_point);
    const __m256i lo8 = _mm256_set1_epi8((char)e->lo), hi8 = _mm256_set1_epi8((char)e->hi);
    const ptrdiff_t end = (ptrdiff_t)klen * 2; /* bytes of a row: int16 */
    const char *a0 = rows[0];
    const ptrdiff_t ld = (const char *)rows[1] - a0; /* evenly spaced (tc_qepi.tiles) */
    for (int t = 0; t < ntiles; t++, a0 += 6 * ld, y += 6 * ldy) {
        /* the rows' addresses from the first's: no pointers to fill or load */
        const char *a1 = a0 + ld, *a2 = a0 + 2 * ld, *a3 = a0 + 3 * ld, *a4 = a0 + 4 * ld;
        const char *a5 = a0 + 5 * ld;
        __m256i c00 = bias0, c10 = bias0, c20 = bias0, c30 = bias0, c40 = bias0, c50 = bias0;
        __m256i c01 = bias1, c11 = bias1, c21 = bias1, c31 = bias1, c41 = bias1, c51 = bias1;
        const __m256i *bk = b;
        _Pragma("GCC unroll 2")
        for (ptrdiff_t off = 0; off < end; off += 4, bk += 2) {
            __m256i b0 = _mm256_loadu_si256(bk), b1 = _mm256_loadu_si256(bk + 1);
            TC_Q6x16_STEP(madd_step, off, b0, b1);
        }
        store_2rows_fixed(BELOW1, SIGNED, CLAMP, ZP0, c00, c01, c10, c11, s0, s1, fhi, zp16, lo8,
                          hi8, y, y + ldy);
        store_2rows_fixed(BELOW1, SIGNED, CLAMP, ZP0, c20, c21, c30, c31, s0, s1, fhi, zp16, lo8,
                          hi8, y + 2 * ldy, y + 3 * ldy);
        store_2rows_fixed(BELOW1, SIGNED, CLAMP, ZP0, c40, c41, c50, c51, s0, s1, fhi, zp16, lo8,
                          hi8, y + 4 * ldy, y + 5 * ldy);
    }
}

#define S16X2_TILES(B1, SG, CL, Z)                                                           \
    static void s16x2_tiles_##B1##SG##CL##Z(int klen, const void *const *rows, const void *b, \
                                            const tc_qepi *e, int ntiles, char *y,           \
                                            ptrdiff_t ldy)                                   \
    {                                                                                        \
        s16x2_tiles_body(B1, SG, CL, Z, klen, rows, b, e, ntiles, y, ldy);                   \
    }
#define S16X2_TILES_CLAMPS(B1, SG, Z)                                                        \
    S16X2_TILES(B1, SG, 0, Z) S16X2_TILES(B1, SG, 1, Z) S16X2_TILES(B1, SG, 2, Z)            \
    S16X2_TILES(B1, SG, 3, Z)
S16X2_TILES_CLAMPS(0, 0, 0)
S16X2_TILES_CLAMPS(0, 1, 0)
S16X2_TILES_CLAMPS(1, 0, 0)
S16X2_TILES_CLAMPS(1, 1, 0)
S16X2_TILES_CLAMPS(0, 0, 1)
S16X2_TILES_CLAMPS(0, 1, 1)
S16X2_TILES_CLAMPS(1, 0, 1)
S16X2_TILES_CLAMPS(1, 1, 1)

typedef void (*s16x2_tiles_fn)(int klen, const void *const *rows, const void *b,
                               const tc_qepi *e, int ntiles, char *y, ptrdiff_t ldy);

#define S16X2_TILES_ROW(B1, SG, Z)                                                           \
    {s16x2_tiles_##B1##SG##0##Z, s16x2_tiles_##B1##SG##1##Z, s16x2_tiles_##B1##SG##2##Z,     \
     s16x2_tiles_##B1##SG##3##Z}

void tc_qs16x2_tiles_avx2(int klen, const void *const *rows, const void *b, const tc_qepi *e,
                          int ntiles, char *y, ptrdiff_t ldy)
{
    /* [BELOW1][SIGNED][ZP0][CLAMP] */
    static const s16x2_tiles_fn fns[2][2][2][4] = {
        {{S16X2_TILES_ROW(0, 0, 0), S16X2_TILES_ROW(0, 0, 1)},
         {S16X2_TILES_ROW(0, 1, 0), S16X2_TILES_ROW(0, 1, 1)}},
        {{S16X2_TILES_ROW(1, 0, 0), S16X2_TILES_ROW(1, 0, 1)},
         {S16X2_TILES_ROW(1, 1, 0), S16X2_TILES_ROW(1, 1, 1)}}};
    const int sg = e->type == TC_QOUT_S8;
    const int clamp = (e->lo > (sg ? -128 : 0)) | (e->hi < (sg ? 127 : 255)) << 1;
    fns[e->scale_below1 != 0][sg][e->zero_point == 0][clamp](klen, rows, b, e, ntiles, y,
                                                              ldy);
}
