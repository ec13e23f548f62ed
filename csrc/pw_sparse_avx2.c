/* AVX2: a 1x1 projection over an input with many exact zeros (the depthwise output after a
 * ReLU or Clip(0, ..) in an inverted-residual block: about half its values), skipping the
 * products of the zeros.
 *   y [K2][ldy] = act(W [K2][E] . d [E][ldd] + bias + residual), n pixels
 * Each output is the row GEMM's FMA sequence (gemm.c: K blocks of tc_gemm_kstep(E), in each the
 * sum from zero over k ascending; the first block's sum + bias + residual, each later block's
 * sum added to that; the activation last) with the products d[k] w[k] of d[k] == 0 left out:
 * an FMA with a zero product returns its addend (s + (+-0) == s for s != 0, and +0 + -0 == +0:
 * a sum that starts at +0 never becomes -0), so the same bits, as long as no weight is an inf
 * or a NaN (0 inf is a NaN the dense GEMM keeps: tc_pw_sparse_pack says whether all are finite).
 * A NaN in d counts as nonzero.
 * Layout: per pixel a bit per k (1: d[k] nonzero) in msk [n][E / 8 + 8 bytes], made 8 k rows
 * x 8 pixels at a time (the rows' compare masks as an 8 x 8 bit matrix, transposed); per K
 * block, group of 5-6 strips of 16 output channels and pass of TC_PW_SPARSE_KS k rows (their
 * weights, 24 KB, in L1 for all the pixels), each pixel's 10-12 accumulators take 10-12 FMAs
 * per nonzero k (d[k] broadcast from its plane, the packed weights' row k [16 NS]), the bits
 * walked with ctz; the sums kept channel-lane in tot [n8][K2p] (the residual transposed in
 * first), transposed into y's planes with the activation at the end.
 * Lone (benchmarks/pw_sparse_probe.c, half of d zero, 1 thread, AVX2, loaded host, 7-11 rounds,
 * bit-identical): 1152 -> 192 at 7x7 0.80-0.87 of the row GEMM's time (KS 32 0.87, 64 0.80, 96
 * 0.90, 144 0.96, the whole K block 1.07: past L1 the weights' rows come from L2 at each
 * pixel), 1152 -> 320 0.84, 576 -> 96 at 14x14 0.88; every d value nonzero 1.5 (a nonzero costs
 * ~9 cycles for its 12 FMAs: 13 loads and the bit walk's integer work beside them); all zero
 * 0.11 (the fixed cost).  Weights 64-byte aligned (the 384-byte rows' loads split cache lines
 * at 16: 1.3x). */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "epilogue_avx2.h"
#include "gemm_internal.h"
#include "transpose_avx2.h"

/* k rows of a group's weights a pass over the pixels reads (TC_PW_SPARSE_KS x 384 bytes at 96
 * channels: in L1 for every pixel after the first; a pixel's sums go to cb between passes) */
#ifndef TC_PW_SPARSE_KS
#define TC_PW_SPARSE_KS 64
#endif

/* one group of NS strips (16 NS channels from c0) over every pixel, K block (k0, kc), in passes
 * of ks k rows; cb: [n][96] the pixels' sums between passes */
static inline __attribute__((always_inline)) void sp_group(const int NS, int n, int E, int k0,
                                                           int kc, int ks, int first,
                                                           const float *wg, const float *bias,
                                                           int has_res, const float *d,
                                                           size_t ldd, const unsigned char *msk,
                                                           size_t mstride, float *tot,
                                                           size_t ldt, float *cb)
{
    const int kend = k0 + kc;
    for (int k1 = k0; k1 < kend; k1 += ks) {
        const int k2 = kend - k1 < ks ? kend : k1 + ks, last = k2 == kend;
        /* the packed weights lie in memory in the order the passes read them: the next pass's
         * (or the next group's) lines prefetched into L2 over this pass's pixels.  In a network
         * they come from L3 / memory, and the first pixels' scattered rows find no hardware
         * prefetch: lone, with the caches flushed before each call (pw_sparse_probe.c
         * PW_COLD=1, 1152 -> 192 at 7x7) 1.04 of the row GEMM's time without, 0.86 with (two
         * passes ahead 0.87-0.89, into L1 0.87; warm 0.80-0.82 either way) */
        const char *pf = (const char *)(wg + (size_t)(k2 - k0) * 16 * NS);
        const int lines = (k2 - k1) * NS, per = (lines + n - 1) / n;
        for (int p = 0; p < n; p++) {
            for (int l = 0; l < per; l++)
                _mm_prefetch(pf + (size_t)(p * per + l) * 64, _MM_HINT_T1);
            __m256 acc[12];
            float *cp = cb + (size_t)p * TC_PW_SPARSE_GROUP;
#pragma GCC unroll 12
            for (int j = 0; j < 2 * NS; j++)
                acc[j] = k1 == k0 ? _mm256_setzero_ps() : _mm256_loadu_ps(cp + 8 * j);
            const float *dp = d + p;
            const unsigned char *mp = msk + (size_t)p * mstride;
            /* the k rows in words of up to 64 bits (the 8 bytes from k's byte, past k's bit):
             * one bit walk a pass of 64 k that starts on a byte.  A walk's end is the branch a
             * pixel mispredicts (its nonzeros' count varies from pixel to pixel, and no history
             * holds a run's data).  h49-mv2: in words of 32 (two walks a pass) MobileNetV2's
             * 14x14 / 7x7 blocks ran 10-30 us each slower in a run than after the same step on
             * the same data (benchmarks/step_suspects.py --touch code2 against code3); in 64,
             * the same FMAs in the same order: features.11-17 0.95-0.98, the run 0.987-0.989 */
            for (int k = k1, step; k < k2; k += step) {
                uint64_t bits;
                memcpy(&bits, mp + (k >> 3), 8);
                bits >>= (k & 7);
                step = k2 - k < 64 - (k & 7) ? k2 - k : 64 - (k & 7);
                bits &= ~(uint64_t)0 >> (64 - step);
                /* each bit's d row and weights as offsets from the word's first k (h50-mv:
                 * kk = k + ctz, then kk - k0, was 3-4 more integer ops a nonzero beside its
                 * 10-12 FMAs; the same FMAs).  MobileNetV2 at 1 thread, steps_ab.py against the
                 * base, 150 rounds each order: features.11-.13 and .17 0.977-0.986 (geometric
                 * means), .14-.16 0.990-0.992; runs (ab_threads.py --fifo) 0.997 / 0.993 with
                 * bursts of 5 / 20, MnasNet 0.999 / 0.998, 2 threads level */
                const float *dk = dp + (size_t)k * ldd, *wk = wg + (size_t)(k - k0) * 16 * NS;
                while (bits) {
                    const size_t t = (size_t)__builtin_ctzll(bits);
                    bits &= bits - 1;
                    const __m256 v = _mm256_broadcast_ss(dk + t * ldd);
                    const float *w = wk + t * 16 * NS;
#pragma GCC unroll 6
                    for (int s = 0; s < NS; s++) {
                        acc[2 * s] = _mm256_fmadd_ps(v, _mm256_loadu_ps(w + 16 * s), acc[2 * s]);
                        acc[2 * s + 1] =
                            _mm256_fmadd_ps(v, _mm256_loadu_ps(w + 16 * s + 8), acc[2 * s + 1]);
                    }
                }
            }
            if (!last) {
#pragma GCC unroll 12
                for (int j = 0; j < 2 * NS; j++)
                    _mm256_storeu_ps(cp + 8 * j, acc[j]);
                continue;
            }
            float *tp = tot + (size_t)p * ldt;
#pragma GCC unroll 12
            for (int j = 0; j < 2 * NS; j++) {
                __m256 r = acc[j];
                if (first) {
                    if (bias)
                        r = _mm256_add_ps(r, _mm256_loadu_ps(bias + 8 * j));
                    if (has_res)
                        r = _mm256_add_ps(r, _mm256_loadu_ps(tp + 8 * j));
                } else
                    r = _mm256_add_ps(_mm256_loadu_ps(tp + 8 * j), r);
                _mm256_storeu_ps(tp + 8 * j, r);
            }
        }
    }
}

static __attribute__((noinline)) void sp_group_any(int NS, int n, int E, int k0, int kc, int ks,
                                                   int first, const float *wg, const float *bias,
                                                   int has_res, const float *d, size_t ldd,
                                                   const unsigned char *msk, size_t mstride,
                                                   float *tot, size_t ldt, float *cb)
{
    switch (NS) {
#define SP_CASE(ns)                                                                               \
    case ns:                                                                                      \
        sp_group(ns, n, E, k0, kc, ks, first, wg, bias, has_res, d, ldd, msk, mstride, tot, ldt,   \
                 cb);                                                                             \
        break;
        SP_CASE(1) SP_CASE(2) SP_CASE(3) SP_CASE(4) SP_CASE(5) SP_CASE(6)
#undef SP_CASE
    default: break;
    }
}

/* d: [E][ldd] n pixels  packed: tc_pw_sparse_pack's  bias: [K2] or NULL  residual: [K2][ldr]
 * or NULL  y: [K2][ldy]  ws: tc_pw_sparse_ws_floats.  Only the output channels of groups
 * [g0, g1) (tc_pw_sparse_group; h45-mn: a thread's share at 2+ threads, each with its own ws:
 * every output the same FMAs whichever groups a call takes) */
void tc_pw_sparse_part_avx2(int K2, int E, int n, int g0, int g1, const float *packed,
                            const float *bias, const tc_activation *act, const float *d,
                            size_t ldd, const float *residual, size_t ldr, float *y, size_t ldy,
                            float *ws)
{
    if (tc_pw_sparse_check(K2, E, n, act) || g0 < 0 || g1 > tc_pw_sparse_groups(K2) || g0 >= g1)
        return;
    int cs, ce;
    tc_pw_sparse_group(K2, g0, &cs, &ce);
    const int c_lo = cs * 16;
    tc_pw_sparse_group(K2, g1 - 1, &cs, &ce);
    const int c_hi = ce * 16 < K2 ? ce * 16 : K2;
    const size_t n8 = ((size_t)n + 7) & ~(size_t)7, K2p = tc_pw_sparse_k2p(K2), ms = tc_pw_sparse_mstride(E);
    float *tot = ws, *cb = tot + n8 * K2p;
    unsigned char *msk = (unsigned char *)(cb + n8 * TC_PW_SPARSE_GROUP);
    const int ks = TC_PW_SPARSE_KS, kstep = tc_gemm_kstep(E);
    /* each pixel's nonzero bits: per 8 k rows and 8 pixels, the rows' compare masks as the
     * bytes of an 8 x 8 bit matrix, transposed (byte j: pixel j's 8 k) */
    const __m256 zero = _mm256_setzero_ps();
    for (int k8 = 0; k8 < E; k8 += 8)
        for (int p0 = 0; p0 < n; p0 += 8) {
            const int q = p0 + 8 > n ? n - 8 : p0;
            uint64_t x = 0;
            for (int i = 0; i < 8; i++)
                x |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_cmp_ps(
                         _mm256_loadu_ps(d + (size_t)(k8 + i) * ldd + q), zero, _CMP_NEQ_UQ))
                     << (8 * i);
            uint64_t t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
            x ^= t ^ (t << 7);
            t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
            x ^= t ^ (t << 14);
            t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
            x ^= t ^ (t << 28);
            for (int j = 0; j < 8; j++)
                msk[(size_t)(q + j) * ms + k8 / 8] = (unsigned char)(x >> (8 * j));
        }
    /* the residual into tot, channel-lane */
    if (residual)
        for (int c8 = c_lo; c8 < c_hi; c8 += 8)
            for (int p0 = 0; p0 < n; p0 += 8) {
                const int q = p0 + 8 > n ? n - 8 : p0;
                __m256 in[8], out[8];
                for (int i = 0; i < 8; i++)
                    in[i] = _mm256_loadu_ps(residual + (size_t)(c8 + i) * ldr + q);
                tc_transpose8_avx2(in, out);
                for (int j = 0; j < 8; j++)
                    _mm256_storeu_ps(tot + (size_t)(q + j) * K2p + c8, out[j]);
            }
    float bpad[TC_PW_SPARSE_GROUP];
    for (int k0 = 0; k0 < E; k0 += kstep) {
        const int kc = E - k0 < kstep ? E - k0 : kstep;
        for (int gi = g0; gi < g1; gi++) {
            int s0, s1;
            tc_pw_sparse_group(K2, gi, &s0, &s1);
            const size_t c0 = (size_t)s0 * 16, wg = (size_t)(s1 - s0) * 16;
            const float *b = NULL;
            if (bias && k0 == 0) {
                for (size_t c = 0; c < wg; c++)
                    bpad[c] = c0 + c < (size_t)K2 ? bias[c0 + c] : 0.0f;
                b = bpad;
            }
            sp_group_any((int)(wg / 16), n, E, k0, kc, ks, k0 == 0,
                         packed + (size_t)k0 * K2p + c0 * kc, b, residual != NULL, d, ldd, msk,
                         ms, tot + c0, K2p, cb);
        }
    }
    /* tot's pixel rows transposed into y's planes, with the activation */
    const tc_act_k a = tc_act_at(act, 0);
    for (int c8 = c_lo; c8 < c_hi; c8 += 8)
        for (int p0 = 0; p0 < n; p0 += 8) {
            const int q = p0 + 8 > n ? n - 8 : p0;
            __m256 in[8], out[8];
            for (int i = 0; i < 8; i++)
                in[i] = _mm256_loadu_ps(tot + (size_t)(q + i) * K2p + c8);
            tc_transpose8_avx2(in, out);
            for (int j = 0; j < 8; j++)
                _mm256_storeu_ps(y + (size_t)(c8 + j) * ldy + q, tc_act_avx2(a, out[j]));
        }
}

void tc_pw_sparse_avx2(int K2, int E, int n, const float *packed, const float *bias,
                       const tc_activation *act, const float *d, size_t ldd,
                       const float *residual, size_t ldr, float *y, size_t ldy, float *ws)
{
    tc_pw_sparse_part_avx2(K2, E, n, 0, tc_pw_sparse_groups(K2), packed, bias, act, d, ldd,
                           residual, ldr, y, ldy, ws);
}
