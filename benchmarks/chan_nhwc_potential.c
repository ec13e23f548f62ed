/* What an expansion 1x1 that writes its output channel-blocked ([E/8][H*W][8], "NHWC8") could
 * save its depthwise, before building it: one build's real kernels (tc_conv2d_f32 from a
 * dlopen'ed _kernels*.so: the 1x1 row tiles and the depthwise channel-block kernel, both on
 * NCHW) against two prototypes written here, all alternating in one process (thread CPU time):
 *   chan: the expansion as channel-lane tiles (16 channels x 6 pixels, 12 accumulators, per K
 *         step 2 loads of packed weights and 6 broadcasts of the input: the row tile's
 *         arithmetic with the roles of A and B swapped), bias and Clip, stored NHWC8 as it is
 *         made (no transpose);
 *   dwc:  the 3x3 stride-1 depthwise (pad 1, Clip) reading that NHWC8 tensor: the padded pixel
 *         buffer of each 8-channel block filled by plain vector copies where the real kernel
 *         (depthwise_body.h _block_k) transposes 8 x 8 blocks of the planes; then its FMA loop
 *         (7 pixels in flight) and its transposes back to the NCHW planes, unchanged.
 *   chain: also the projection on the NHWC8 depthwise output (the depthwise storing its sums
 *         without the transposes back; the projection as channel-lane tiles on broadcasts of
 *         that tensor, the residual transposed to NHWC8 first, the output transposed to NCHW
 *         last; its K blocks as the row path's), against the real depthwise + projection.
 * Every output is checked against the real kernels' bits (the same FMA sequence per output).
 *
 * Measured (s27, Zen 4 host, AVX2, 1 thread, medians of 20 rounds x 10 runs alternating in one
 * process, 2026-12-04 08:01, load 8-11 on 2 cores; all bits the same), new / real:
 *   expansion (chan NHWC8)     32 -> 192 @28 0.868, 64 -> 384 @14 0.943, 96 -> 576 @14 0.952,
 *                              160 -> 960 @7 1.015
 *   depthwise (NHWC8 in)       0.843, 0.741, 0.723, 0.634
 *   expansion + depthwise      0.858, 0.885, 0.902, 0.948
 *   dw + project (chain)       0.972, 1.050, 0.998, 1.132
 *   the three layers           0.933, 1.006, 0.978, 1.080
 * With CHAN_STRIDE=2 (the depthwise at stride 2; the projection back to C channels, no residual:
 * not the networks' projections), same protocol: expansion + depthwise 32 -> 192 @28/2 0.860
 * (MobileNetV2's features.7), 96 -> 576 @14/2 0.922 (features.14); depthwise alone 0.835, 0.623.
 * The expansion's last N % 6 pixels run S strips at a time (one pixel of one strip alone, 2 FMA
 * chains: the expansion 1.186 at 7x7, 1.000 at 96 -> 576 @14), the projection's broadcasts 8
 * k at a time from one base (k / 8 and k % 8 per k: the chain 1.05-1.39).  So the lead is the
 * first half: an expansion writing NHWC8 for a depthwise that reads it, the projection as now
 * (NCHW; the chain only where M = 32, the row tiles' 2-row panel): about 0.2 ms of MobileNetV2's
 * ~6.8 at 1 thread (features.5 to .17), the same bits.

 *   gcc -O3 -mavx2 -mfma -Icsrc benchmarks/chan_nhwc_potential.c -o /tmp/chan_nhwc -ldl
 *   LD_LIBRARY_PATH=$(python -c "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))") \
 *       /tmp/chan_nhwc tinycnn/_kernels*.so ROUNDS [C E HW ...]   (default: 96 576 14)
 * (C and E multiples of 16, maps up to 28x28: the prototypes' buffers and packing; CHAN_STRIDE=2:
 * the depthwise at stride 2, the projection without residual, as the stride-2 blocks)
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tinycnn.h"
#include "ab_conv.h"
#include "ab_clock.h"
#include "transpose_avx2.h"

static float *floats(size_t n) { return aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64); }

static inline __m256 clip6(__m256 v)
{
    return _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(6.0f));
}

/* pixels [n0, n0 + NT) of the S 16-channel strips from m0: chan_expand's sequence per output */
static inline __attribute__((always_inline)) void chan_tail(const int NT, const int S, int C, int N,
                                                            int n0, int m0, const float *wp,
                                                            const float *bias, const float *x,
                                                            float *y)
{
    __m256 acc[4][2][5];
    for (int q = 0; q < S; q++)
        for (int j = 0; j < NT; j++)
            acc[q][0][j] = acc[q][1][j] = _mm256_setzero_ps();
    const float *xk = x + n0, *ak = wp + (size_t)m0 * C;
    for (int k = 0; k < C; k++, xk += N, ak += 16)
#pragma GCC unroll 5
        for (int j = 0; j < NT; j++) {
            const __m256 bj = _mm256_broadcast_ss(xk + j);
#pragma GCC unroll 4
            for (int q = 0; q < S; q++) {
                acc[q][0][j] = _mm256_fmadd_ps(bj, _mm256_load_ps(ak + (size_t)q * 16 * C), acc[q][0][j]);
                acc[q][1][j] = _mm256_fmadd_ps(bj, _mm256_load_ps(ak + (size_t)q * 16 * C + 8), acc[q][1][j]);
            }
        }
    for (int q = 0; q < S; q++) {
        const int m = m0 + 16 * q;
        const __m256 b0 = _mm256_loadu_ps(bias + m), b1 = _mm256_loadu_ps(bias + m + 8);
        for (int j = 0; j < NT; j++) {
            _mm256_store_ps(y + (size_t)m * N + (size_t)(n0 + j) * 8, clip6(_mm256_add_ps(acc[q][0][j], b0)));
            _mm256_store_ps(y + (size_t)(m + 8) * N + (size_t)(n0 + j) * 8, clip6(_mm256_add_ps(acc[q][1][j], b1)));
        }
    }
}

/* wp: [E/16][C][16] (weight k of channel m at wp[(m/16) C 16 + k 16 + m % 16])  x: [C][N]
 * y: [E/8][N][8] = clip(bias + W x), each output from zero, k ascending, then bias, then Clip:
 * the row tile's sequence (store_tile_fixed) */
static void chan_expand(int C, int E, int N, const float *wp, const float *bias, const float *x,
                        float *y)
{
    for (int m0 = 0; m0 < E; m0 += 16) {
        const float *a = wp + (size_t)m0 * C;
        const __m256 b0 = _mm256_loadu_ps(bias + m0), b1 = _mm256_loadu_ps(bias + m0 + 8);
        float *y0 = y + (size_t)m0 * N, *y1 = y0 + (size_t)8 * N;
        int n0 = 0;
        for (; n0 + 6 <= N; n0 += 6) {
            __m256 lo[6], hi[6];
            for (int j = 0; j < 6; j++)
                lo[j] = hi[j] = _mm256_setzero_ps();
            const float *xk = x + n0, *ak = a;
#pragma GCC unroll 4
            for (int k = 0; k < C; k++, xk += N, ak += 16) {
                const __m256 a0 = _mm256_load_ps(ak), a1 = _mm256_load_ps(ak + 8);
#pragma GCC unroll 6
                for (int j = 0; j < 6; j++) {
                    const __m256 bj = _mm256_broadcast_ss(xk + j);
                    lo[j] = _mm256_fmadd_ps(bj, a0, lo[j]);
                    hi[j] = _mm256_fmadd_ps(bj, a1, hi[j]);
                }
            }
#pragma GCC unroll 6
            for (int j = 0; j < 6; j++) {
                _mm256_store_ps(y0 + (size_t)(n0 + j) * 8, clip6(_mm256_add_ps(lo[j], b0)));
                _mm256_store_ps(y1 + (size_t)(n0 + j) * 8, clip6(_mm256_add_ps(hi[j], b1)));
            }
        }
    }
    /* the last N % 6 pixels (196 = 32 x 6 + 4, 49 = 8 x 6 + 1) of S strips at a time: at least
     * 8 FMA chains (one pixel of one strip alone is 2 chains, bound by the FMA latency: 1.19 of
     * the row tiles' time at 7x7 so, 1.00 at 14x14) */
    const int n0 = N - N % 6, nt = N % 6;
    int m0 = 0;
#define TAILS(NT, S)                                                         \
    for (; m0 + 16 * (S) <= E; m0 += 16 * (S))                               \
        chan_tail(NT, S, C, N, n0, m0, wp, bias, x, y);
    switch (nt) {
    case 1: TAILS(1, 4) TAILS(1, 1) break;
    case 2: TAILS(2, 2) TAILS(2, 1) break;
    case 3: TAILS(3, 1) break;
    case 4: TAILS(4, 1) break;
    case 5: TAILS(5, 1) break;
    default: break;
    }
#undef TAILS
}

/* r transposed in place (transpose_avx2.h's) */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8];
    tc_transpose8_avx2(r, t);
    memcpy(r, t, sizeof(t));
}

/* 3x3, stride 1, pad 1, Clip: x [E/8][H W][8]  w: [E][9]  bias: [E]  y: [E][H W] (NCHW).
 * Per pixel: bias, then the taps in the order (ki, kj): the real kernel's bits. */
static void dw_nhwc8(int E, int H, int W, int S, const float *x, const float *w, const float *bias,
                     float *y, int out8)
{
    const int OH = (H - 1) / S + 1, OW = (W - 1) / S + 1;
    const int Hp = H + 2, Wp = W + 2, n = OH * OW, nin = H * W;
    static __m256 buf[(28 + 2) * (28 + 2) + 8], ob[784 + 8];
    __m256 wt[9];
    static int pix[784 + 8];
    for (int oh = 0, o = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++, o++)
            pix[o] = oh * S * Wp + ow * S;
    for (int o = n; o < n + 8; o++)
        pix[o] = pix[n - 1];
    for (int i = 0; i < Hp * Wp; i++)
        buf[i] = _mm256_setzero_ps();
    for (int c0 = 0; c0 < E; c0 += 8) {
        float tw[8];
        for (int t = 0; t < 9; t++) {
            for (int ch = 0; ch < 8; ch++)
                tw[ch] = w[(size_t)(c0 + ch) * 9 + t];
            wt[t] = _mm256_loadu_ps(tw);
        }
        const __m256 bv = _mm256_loadu_ps(bias + c0);
        const float *xc = x + (size_t)c0 * nin;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                buf[(i + 1) * Wp + j + 1] = _mm256_load_ps(xc + (size_t)(i * W + j) * 8);
        int o0 = 0;
        for (; o0 < n; o0 += 7) {
            const __m256 *src[7];
            __m256 a[7];
            for (int i = 0; i < 7; i++)
                src[i] = buf + pix[o0 + i], a[i] = bv;
#pragma GCC unroll 3
            for (int ki = 0; ki < 3; ki++)
#pragma GCC unroll 3
                for (int kj = 0; kj < 3; kj++) {
                    const int d = ki * Wp + kj;
                    const __m256 wv = wt[ki * 3 + kj];
#pragma GCC unroll 7
                    for (int i = 0; i < 7; i++)
                        a[i] = _mm256_fmadd_ps(src[i][d], wv, a[i]);
                }
            for (int i = 0; i < 7; i++)
                ob[o0 + i] = a[i];
        }
        if (out8) { /* NHWC8 out: no transpose back */
            float *yc = y + (size_t)c0 * n;
            for (int o = 0; o < n; o++)
                _mm256_store_ps(yc + (size_t)o * 8, clip6(ob[o]));
            continue;
        }
        for (int q0 = 0; q0 < n; q0 += 8) {
            if (q0 + 8 > n)
                q0 = n - 8;
            __m256 t[8];
            for (int q = 0; q < 8; q++)
                t[q] = ob[q0 + q];
            transpose8(t);
            for (int ch = 0; ch < 8; ch++)
                _mm256_storeu_ps(y + (size_t)(c0 + ch) * n + q0, clip6(t[ch]));
        }
    }
}

/* [M][N] planes <-> [M/8][N][8] (M a multiple of 8, N >= 8) */
static void to_nhwc8(int M, int N, const float *x, float *y)
{
    for (int c0 = 0; c0 < M; c0 += 8)
        for (int q0 = 0; q0 < N; q0 += 8) {
            if (q0 + 8 > N)
                q0 = N - 8;
            __m256 t[8];
            for (int ch = 0; ch < 8; ch++)
                t[ch] = _mm256_loadu_ps(x + (size_t)(c0 + ch) * N + q0);
            transpose8(t);
            for (int q = 0; q < 8; q++)
                _mm256_store_ps(y + (size_t)c0 * N + (size_t)(q0 + q) * 8, t[q]);
        }
}
static void from_nhwc8(int M, int N, const float *x, float *y)
{
    for (int c0 = 0; c0 < M; c0 += 8)
        for (int q0 = 0; q0 < N; q0 += 8) {
            if (q0 + 8 > N)
                q0 = N - 8;
            __m256 t[8];
            for (int q = 0; q < 8; q++)
                t[q] = _mm256_load_ps(x + (size_t)c0 * N + (size_t)(q0 + q) * 8);
            transpose8(t);
            for (int ch = 0; ch < 8; ch++)
                _mm256_storeu_ps(y + (size_t)(c0 + ch) * N + q0, t[ch]);
        }
}

/* The projection on an NHWC8 input d [K/8][N][8]: wp [M/16][K][16], bias [M], residual r8 (NHWC8)
 * or NULL; out t8 [M/16 x 2][N][8].  K in the row path's blocks (tc_gemm_kstep): per output,
 * t = (acc_1 + bias) + r, then t = acc_b + t for each later block: the row tiles' sequence
 * (store_tile_fixed, then ADD_C), the blocks of one tile run back to back. */
static void chan_project(int K, int M, int N, int kstep, const float *wp, const float *bias,
                         const float *d, const float *r8, float *t8)
{
    /* strips outer, as the expansion.  Pixel panels outer (the panel's K x 6 inputs in L1 across
     * the strips, the weights streaming from L2) was slower: dw + project 1.27 and 1.23 of
     * NCHW's at 96 -> 576 @14 and 32 -> 192 @28, against 1.14 and 1.05 so (10 rounds) */
    for (int m0 = 0; m0 < M; m0 += 16) {
        const float *a = wp + (size_t)m0 * K;
        const __m256 b0 = _mm256_loadu_ps(bias + m0), b1 = _mm256_loadu_ps(bias + m0 + 8);
        float *y0 = t8 + (size_t)m0 * N, *y1 = y0 + (size_t)8 * N;
        const float *r0 = r8 ? r8 + (size_t)m0 * N : NULL, *r1 = r0 ? r0 + (size_t)8 * N : NULL;
        for (int n0 = 0; n0 < N; n0 += 6) {
            const int np = N - n0 < 6 ? N - n0 : 6;
            __m256 tl[6], th[6];
            for (int k0 = 0; k0 < K; k0 += kstep) {
                const int k1 = k0 + kstep < K ? k0 + kstep : K;
                __m256 lo[6], hi[6];
                for (int j = 0; j < 6; j++)
                    lo[j] = hi[j] = _mm256_setzero_ps();
                const float *ak = a + (size_t)k0 * 16;
                if (np == 6 && k0 % 8 == 0 && (k1 - k0) % 8 == 0) {
                    /* 8 k at a time from one base: the 6 pixels' 8 channels, 3 lines */
                    for (int kb = k0; kb < k1; kb += 8, ak += 128) {
                        const float *dk = d + (size_t)kb * N + (size_t)n0 * 8;
#pragma GCC unroll 8
                        for (int kk = 0; kk < 8; kk++) {
                            const __m256 a0 = _mm256_load_ps(ak + kk * 16), a1 = _mm256_load_ps(ak + kk * 16 + 8);
#pragma GCC unroll 6
                            for (int j = 0; j < 6; j++) {
                                const __m256 bj = _mm256_broadcast_ss(dk + j * 8 + kk);
                                lo[j] = _mm256_fmadd_ps(bj, a0, lo[j]);
                                hi[j] = _mm256_fmadd_ps(bj, a1, hi[j]);
                            }
                        }
                    }
                } else {
                    for (int k = k0; k < k1; k++, ak += 16) {
                        const __m256 a0 = _mm256_load_ps(ak), a1 = _mm256_load_ps(ak + 8);
                        const float *dk = d + (size_t)(k / 8) * N * 8 + (size_t)n0 * 8 + k % 8;
                        for (int j = 0; j < np; j++) {
                            const __m256 bj = _mm256_broadcast_ss(dk + j * 8);
                            lo[j] = _mm256_fmadd_ps(bj, a0, lo[j]);
                            hi[j] = _mm256_fmadd_ps(bj, a1, hi[j]);
                        }
                    }
                }
                for (int j = 0; j < np; j++) {
                    if (k0 == 0) {
                        tl[j] = _mm256_add_ps(lo[j], b0), th[j] = _mm256_add_ps(hi[j], b1);
                        if (r0) {
                            tl[j] = _mm256_add_ps(tl[j], _mm256_load_ps(r0 + (size_t)(n0 + j) * 8));
                            th[j] = _mm256_add_ps(th[j], _mm256_load_ps(r1 + (size_t)(n0 + j) * 8));
                        }
                    } else {
                        tl[j] = _mm256_add_ps(lo[j], tl[j]), th[j] = _mm256_add_ps(hi[j], th[j]);
                    }
                }
            }
            for (int j = 0; j < np; j++) {
                _mm256_store_ps(y0 + (size_t)(n0 + j) * 8, tl[j]);
                _mm256_store_ps(y1 + (size_t)(n0 + j) * 8, th[j]);
            }
        }
    }
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof(double), cmp);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    if (argc < 3 || (argc - 3) % 3) {
        fprintf(stderr, "usage: %s BUILD.so ROUNDS [C E HW ...]\n", argv[0]);
        return 2;
    }
    ab_libpython();
    build b;
    load(&b, argv[1], 1);
    const int rounds = atoi(argv[2]), reps = 10;
    const int S = getenv("CHAN_STRIDE") ? atoi(getenv("CHAN_STRIDE")) : 1; /* the depthwise's */
    const int ns = argc > 3 ? (argc - 3) / 3 : 1;
    for (int s = 0; s < ns; s++) {
        const int C = argc > 3 ? atoi(argv[3 + 3 * s]) : 96, E = argc > 3 ? atoi(argv[4 + 3 * s]) : 576;
        const int H = argc > 3 ? atoi(argv[5 + 3 * s]) : 14, N = H * H;
        const int OH = (H - 1) / S + 1, N2 = OH * OH; /* the depthwise's output */
        if (E % 16 || C % 16 || H > 28) {
            fprintf(stderr, "C and E multiples of 16, maps up to 28x28\n");
            return 2;
        }
        tc_conv2d_params pe = {C, E, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
        tc_conv2d_params pd = {E, E, 3, 3, S, S, 1, 1, 1, 1, 1, 1, E};
        tc_conv2d_params pp = {E, C, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
        float *w1 = floats((size_t)C * E), *b1 = floats(E), *w2 = floats((size_t)E * 9), *b2 = floats(E);
        float *w3 = floats((size_t)C * E), *b3 = floats(C), *wp3 = floats((size_t)C * E);
        float *x = floats((size_t)C * N), *wp = floats((size_t)C * E);
        srand(s + 1);
        for (size_t i = 0; i < (size_t)C * E; i++)
            w1[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.2f, w3[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
        for (int i = 0; i < E * 9; i++)
            w2[i] = (rand() / (float)RAND_MAX - 0.5f);
        for (int i = 0; i < E; i++)
            b1[i] = rand() / (float)RAND_MAX - 0.3f, b2[i] = rand() / (float)RAND_MAX - 0.5f;
        for (int i = 0; i < C; i++)
            b3[i] = rand() / (float)RAND_MAX - 0.5f;
        for (size_t i = 0; i < (size_t)C * N; i++)
            x[i] = rand() / (float)RAND_MAX;
        for (int m = 0; m < E; m++)
            for (int k = 0; k < C; k++)
                wp[(size_t)(m / 16) * C * 16 + k * 16 + m % 16] = w1[(size_t)m * C + k];
        for (int m = 0; m < C; m++)
            for (int k = 0; k < E; k++)
                wp3[(size_t)(m / 16) * E * 16 + k * 16 + m % 16] = w3[(size_t)m * E + k];
        const int nkb = (E + 319) / 320, kstep = (E + nkb - 1) / nkb; /* tc_gemm_kstep */
        float *pk1 = floats(b.pack_size(&pe, TC_CONV_ALGO_1X1));
        float *pk2 = floats(b.pack_size(&pd, TC_CONV_ALGO_DEPTHWISE));
        float *pk3 = floats(b.pack_size(&pp, TC_CONV_ALGO_1X1));
        b.pack(&b.ctx, &pe, TC_CONV_ALGO_1X1, w1, pk1);
        b.pack(&b.ctx, &pd, TC_CONV_ALGO_DEPTHWISE, w2, pk2);
        b.pack(&b.ctx, &pp, TC_CONV_ALGO_1X1, w3, pk3);
        const size_t wsn = b.ws_size(&b.ctx, &pe, TC_CONV_ALGO_1X1, 1, H, H) +
                           b.ws_size(&b.ctx, &pd, TC_CONV_ALGO_DEPTHWISE, 1, H, H) +
                           b.ws_size(&b.ctx, &pp, TC_CONV_ALGO_1X1, 1, OH, OH);
        float *ws = floats(wsn + 16);
        float *e_row = floats((size_t)E * N), *e_chan = floats((size_t)E * N);
        float *d_row = floats((size_t)E * N), *d_chan = floats((size_t)E * N), *d8 = floats((size_t)E * N);
        float *y_row = floats((size_t)C * N), *y_chan = floats((size_t)C * N);
        float *r8 = floats((size_t)C * N), *t8 = floats((size_t)C * N);
        tc_activation clip = {TC_ACT_CLIP, 0.0f, 6.0f, NULL};
        enum { V = 6 };
        double *t[V];
        for (int i = 0; i < V; i++)
            t[i] = malloc(sizeof(double) * rounds * reps);
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < V; i++) {
                const int v = r & 1 ? V - 1 - i : i;
                for (int q = -1; q < reps; q++) {
                    const double t0 = now();
                    if (v == 0)
                        b.conv(&b.ctx, &pe, TC_CONV_ALGO_1X1, 1, H, H, x, pk1, b1, NULL, &clip, e_row, ws);
                    else if (v == 1)
                        chan_expand(C, E, N, wp, b1, x, e_chan);
                    else if (v == 2)
                        b.conv(&b.ctx, &pd, TC_CONV_ALGO_DEPTHWISE, 1, H, H, e_row, pk2, b2, NULL, &clip,
                               d_row, ws);
                    else if (v == 3)
                        dw_nhwc8(E, H, H, S, e_chan, w2, b2, d_chan, 0);
                    else if (v == 4)
                        b.conv(&b.ctx, &pp, TC_CONV_ALGO_1X1, 1, OH, OH, d_row, pk3, b3, S == 1 ? x : NULL,
                               NULL, y_row, ws);
                    else {
                        dw_nhwc8(E, H, H, S, e_chan, w2, b2, d8, 1);
                        if (S == 1)
                            to_nhwc8(C, N, x, r8);
                        chan_project(E, C, N2, kstep, wp3, b3, d8, S == 1 ? r8 : NULL, t8);
                        from_nhwc8(C, N2, t8, y_chan);
                    }
                    if (q >= 0)
                        t[v][r * reps + q] = now() - t0;
                }
            }
        int same_e = 1;
        for (int m = 0; m < E && same_e; m++)
            for (int n = 0; n < N; n++)
                if (memcmp(&e_row[(size_t)m * N + n], &e_chan[(size_t)(m / 8) * N * 8 + n * 8 + m % 8], 4)) {
                    same_e = 0;
                    break;
                }
        const int same_d = !memcmp(d_row, d_chan, sizeof(float) * E * N2);
        const int same_y = !memcmp(y_row, y_chan, sizeof(float) * C * N2);
        double m[V];
        for (int i = 0; i < V; i++)
            m[i] = median(t[i], rounds * reps);
        printf("%4d -> %4d @%2d/%d  expand: row %6.1f us, chan NHWC8 %6.1f (%.3f, %s)  dw: NCHW %5.1f, "
               "NHWC8 in %5.1f (%.3f, %s)  dw + project: NCHW %6.1f, NHWC8 chain %6.1f (%.3f, %s)  "
               "expand + dw: %.3f  block: %.3f\n",
               C, E, H, S, m[0] * 1e6, m[1] * 1e6, m[1] / m[0], same_e ? "same bits" : "DIFFERENT BITS",
               m[2] * 1e6, m[3] * 1e6, m[3] / m[2], same_d ? "same bits" : "DIFFERENT BITS",
               (m[2] + m[4]) * 1e6, m[5] * 1e6, m[5] / (m[2] + m[4]),
               same_y ? "same bits" : "DIFFERENT BITS", (m[1] + m[3]) / (m[0] + m[2]),
               (m[1] + m[5]) / (m[0] + m[2] + m[4]));
        fflush(stdout);
    }
    return 0;
}
