/* Probe (h48-mv): can a network's classifier read its weights while the layer before it
 * computes?  MobileNetV2's (and MnasNet's, EfficientNet-B0's) tail is a 1x1 320 -> 1280 at 7x7
 * (1.6 MB of weights, FMA-bound), the global average pool, then the 1280 -> 1000 GEMV (5.1 MB,
 * bound by one core's reads from memory: in bench.py's 1-thread method 337 us against 182 warm,
 * cold_steps.py --ort).  Prefetching the GEMV's weights during the layer was measured zero-sum
 * (csrc/gemm_avx2.c above panel16_fixed: lines fetched past L2's 2 MiB did not wait in L3 for the
 * GEMV).  Here, standalone (its own kernels, not the library's; no bits compared), variants of
 * the pair with everything pushed to memory first (64 MB written before each call):
 *   0 sequential: the layer (16-channel strips, 6-pixel channel-lane tiles, K in two blocks of
 *     160, Clip), the 1280 means, then the GEMV over row-major weights as 4 streams (rows r,
 *     r + 250, r + 500, r + 750: tc_gemv_rows_avx2's way), 4 x 8-lane sums a row;
 *   1 chunked: the layer CH output channels at a time; after each chunk its means and the GEMV's
 *     sums over those k for all 1000 rows (each row's 32 lane sums kept in memory between
 *     chunks: per lane the k order of variant 0, so a library version can keep the bits), the
 *     classifier's weights laid out chunk by chunk ([chunk][1000][CH]);
 *   2 chunked + prefetch: 1, and each chunk's GEMV weights prefetched (T2) while its layer
 *     chunk computes, one line every 4 k steps of the tiles, the rest after the chunk's strips;
 *   3 sequential + prefetch: 0, and all the GEMV's weights prefetched (T2) during the layer, one
 *     line every 4 k steps (the recorded experiment's form).
 * Prints per variant the median and minimum time (thread CPU clock) and the median [25-75%] of
 * the per-round ratio to variant 0.  WARM=1: nothing written between calls (the weights in L2 /
 * L3, as when tinycnn runs alone).
 *   gcc -O2 -mavx2 -mfma [-DCH=128] benchmarks/cls_overlap.c -o /tmp/cls_overlap
 *   nice -n -20 /tmp/cls_overlap [ROUNDS]
 * Measured (Intel Xeon, AVX2, 2026-12-07 04:11-04:12, host load 3.2-3.4 from other sessions'
 * builds, 40 rounds; this kernel's layer ~600 us from memory / 500 warm, the library's ~400),
 * median [25-75%] of the per-round ratio to sequential (917-1037 us from memory): CH 64
 * chunked 1.19-1.22 (the 128 KB of lane sums read and written once a chunk), chunked +
 * prefetch 0.985 [0.937-1.046] and 0.992 [0.944-1.046], sequential + prefetch 1.14-1.16 (the
 * recorded experiment, reproduced: worse); CH 128 1.23 / 1.025 / 1.12; CH 256 1.18 / 1.04 /
 * 1.11; CH 320 1.13 / 1.07 / 1.15; warm (CH 64) chunked + prefetch 0.937 [0.915-0.965].  The
 * interleave's prefetch saves about what its lane sums' traffic costs: level from memory, on a
 * loaded host, inside the spread; not built into the library. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define C 320   /* the layer's input channels */
#define M 1280  /* its output channels: the GEMV's K */
#define N 49    /* pixels */
#define R 1000  /* the GEMV's rows */
#define KB 160  /* the layer's K block: x's 160 rows (31 KB) in L1 */
#ifndef CH
#define CH 128  /* output channels a chunk (a multiple of 32 and of 16) */
#endif
#define NV 4

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

/* prefetch state: the next line, lines left, one line every `every` groups of 4 k */
typedef struct {
    const char *p;
    long left;
    int every;
} pf_state;

/* NT pixels from n0, 16 channels (a: [C][16]), k in [k0, k0 + KB): ct [N][16] the sums */
static inline __attribute__((always_inline)) void tile(const int NT, int n0, int k0,
                                                       const float *restrict a,
                                                       const float *restrict x,
                                                       float *restrict ct, pf_state *pf)
{
    const char *p = pf->p;
    long left = pf->left;
    const int every = pf->every;
    int cnt = 0;
    __m256 lo[6], hi[6];
    for (int j = 0; j < NT; j++) {
        lo[j] = k0 ? _mm256_loadu_ps(ct + (n0 + j) * 16) : _mm256_setzero_ps();
        hi[j] = k0 ? _mm256_loadu_ps(ct + (n0 + j) * 16 + 8) : _mm256_setzero_ps();
    }
    const float *ak = a + (size_t)k0 * 16;
    for (int kq = k0; kq < k0 + KB; kq += 4) {
        /* branch-free: a line of a's own when there is nothing left (a branch here kept the
         * sums on the stack) */
        _mm_prefetch(left > 0 ? p : (const char *)ak, _MM_HINT_T2);
        cnt = cnt + 1 == every ? 0 : cnt + 1;
        const int adv = left > 0 && cnt == 0;
        p += adv ? 64 : 0;
        left -= adv;
#pragma GCC unroll 4
        for (int k = kq; k < kq + 4; k++, ak += 16) {
            const __m256 a0 = _mm256_loadu_ps(ak), a1 = _mm256_loadu_ps(ak + 8);
            const float *xk = x + (size_t)k * N + n0;
#pragma GCC unroll 6
            for (int j = 0; j < NT; j++) {
                const __m256 b = _mm256_broadcast_ss(xk + j);
                lo[j] = _mm256_fmadd_ps(b, a0, lo[j]);
                hi[j] = _mm256_fmadd_ps(b, a1, hi[j]);
            }
        }
    }
    for (int j = 0; j < NT; j++) {
        _mm256_storeu_ps(ct + (n0 + j) * 16, lo[j]);
        _mm256_storeu_ps(ct + (n0 + j) * 16 + 8, hi[j]);
    }
    pf->p = p, pf->left = left;
}

/* one strip of 16 output channels: y [16][N] = clip(a x, 0, 6) */
static __attribute__((noinline)) void strip16(const float *restrict a, const float *restrict x,
                                              float *restrict y, pf_state *pf)
{
    static float ct[N * 16] __attribute__((aligned(64)));
    for (int k0 = 0; k0 < C; k0 += KB) {
        for (int n0 = 0; n0 + 6 <= N; n0 += 6)
            tile(6, n0, k0, a, x, ct, pf);
        tile(1, 48, k0, a, x, ct, pf);
    }
    for (int n = 0; n < N; n++)
        for (int c = 0; c < 16; c++) {
            const float v = ct[n * 16 + c];
            y[(size_t)c * N + n] = v < 0 ? 0 : v > 6 ? 6 : v;
        }
}

static void means(const float *y, int m0, int m1, float *mean)
{
    for (int m = m0; m < m1; m++) {
        float s = 0;
        for (int n = 0; n < N; n++)
            s += y[(size_t)m * N + n];
        mean[m] = s / N;
    }
}

/* all R rows of w ([R][ldw]) over k in [0, K): acc [R][32] += (lane sums) */
static void gemv_part(const float *w, size_t ldw, const float *v, int K, float *acc)
{
    for (int r = 0; r < R; r++) {
        const float *wr = w + (size_t)r * ldw;
        float *ar = acc + 32 * r;
        __m256 s0 = _mm256_loadu_ps(ar), s1 = _mm256_loadu_ps(ar + 8),
               s2 = _mm256_loadu_ps(ar + 16), s3 = _mm256_loadu_ps(ar + 24);
        for (int k = 0; k < K; k += 32) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + k), _mm256_loadu_ps(v + k), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + k + 8), _mm256_loadu_ps(v + k + 8), s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + k + 16), _mm256_loadu_ps(v + k + 16), s2);
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + k + 24), _mm256_loadu_ps(v + k + 24), s3);
        }
        _mm256_storeu_ps(ar, s0), _mm256_storeu_ps(ar + 8, s1);
        _mm256_storeu_ps(ar + 16, s2), _mm256_storeu_ps(ar + 24, s3);
    }
}

/* the whole GEMV as 4 streams (rows r + t R / 4): acc [R][32] */
static void gemv4(const float *w, const float *v, float *acc)
{
    const int q = R / 4;
    for (int r = 0; r < q; r++) {
        __m256 s[4][4];
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < 4; i++)
                s[t][i] = _mm256_setzero_ps();
        for (int k = 0; k < M; k += 32)
#pragma GCC unroll 4
            for (int t = 0; t < 4; t++) {
                const float *wr = w + (size_t)(r + t * q) * M + k;
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++)
                    s[t][i] = _mm256_fmadd_ps(_mm256_loadu_ps(wr + 8 * i),
                                              _mm256_loadu_ps(v + k + 8 * i), s[t][i]);
            }
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < 4; i++)
                _mm256_storeu_ps(acc + 32 * (r + t * q) + 8 * i, s[t][i]);
    }
}

static float finish(const float *acc)
{
    float last = 0;
    for (int r = 0; r < R; r++) {
        float s = 0;
        for (int i = 0; i < 32; i++)
            s += acc[32 * r + i];
        last += s;
    }
    return last;
}

static int by_value(const void *p, const void *q)
{
    const double d = *(const double *)p - *(const double *)q;
    return (d > 0) - (d < 0);
}

static double run(int var, const float *a, const float *x, float *y, float *mean,
                  const float *wc, const float *wch, float *acc, float *check)
{
    const long chunk_lines = (long)R * CH * 4 / 64;
    const int groups = (CH / 16) * ((N + 5) / 6 + 1) * (C / 4); /* 4-k groups a chunk */
    const double t0 = now_us();
    memset(acc, 0, sizeof(float) * R * 32);
    if (var == 0 || var == 3) {
        pf_state pf = {(const char *)wc, var == 3 ? (long)R * M * 4 / 64 : 0, 1};
        for (int s = 0; s < M / 16; s++)
            strip16(a + (size_t)s * 16 * C, x, y + (size_t)s * 16 * N, &pf);
        for (; pf.left > 0; pf.left--, pf.p += 64)
            _mm_prefetch(pf.p, _MM_HINT_T2);
        means(y, 0, M, mean);
        gemv4(wc, mean, acc);
    } else {
        for (int c = 0; c < M / CH; c++) {
            const int every = groups / chunk_lines > 1 ? (int)(groups / chunk_lines) : 1;
            pf_state pf = {(const char *)(wch + (size_t)c * R * CH), var == 2 ? chunk_lines : 0,
                           every};
            for (int s = c * CH / 16; s < (c + 1) * CH / 16; s++)
                strip16(a + (size_t)s * 16 * C, x, y + (size_t)s * 16 * N, &pf);
            for (; pf.left > 0; pf.left--, pf.p += 64)
                _mm_prefetch(pf.p, _MM_HINT_T2);
            means(y, c * CH, (c + 1) * CH, mean);
            gemv_part(wch + (size_t)c * R * CH, CH, mean + c * CH, CH, acc);
        }
    }
    *check = finish(acc);
    return now_us() - t0;
}

int main(int argc, char **argv)
{
    const int rounds = argc > 1 ? atoi(argv[1]) : 40;
    if (rounds < 1 || rounds > 10000)
        return 1;
    float *a = aligned_alloc(64, sizeof(float) * M * C), *x = aligned_alloc(64, sizeof(float) * C * N);
    float *y = aligned_alloc(64, sizeof(float) * M * N), *mean = aligned_alloc(64, sizeof(float) * M);
    float *wc = aligned_alloc(64, sizeof(float) * R * M), *wch = aligned_alloc(64, sizeof(float) * R * M);
    float *acc = aligned_alloc(64, sizeof(float) * R * 32);
    const size_t big = (size_t)64 << 20;
    char *junk = malloc(big);
    double *t = malloc(sizeof(double) * NV * rounds), *ratio = malloc(sizeof(double) * NV * rounds);
    if (!a || !x || !y || !mean || !wc || !wch || !acc || !junk || !t || !ratio)
        return 1;
    for (size_t i = 0; i < (size_t)M * C; i++)
        a[i] = (float)((i * 7) % 13) / 13 - 0.4f;
    for (size_t i = 0; i < (size_t)C * N; i++)
        x[i] = (float)((i * 5) % 11) / 11;
    for (size_t i = 0; i < (size_t)R * M; i++)
        wc[i] = (float)((i * 3) % 17) / 17 - 0.5f;
    for (int c = 0; c < M / CH; c++)
        for (int r = 0; r < R; r++)
            memcpy(wch + (size_t)c * R * CH + (size_t)r * CH, wc + (size_t)r * M + c * CH,
                   CH * sizeof(float));
    const int warm = getenv("WARM") != NULL;
    float check[NV];
    for (int rd = 0; rd < rounds; rd++)
        for (int v = 0; v < NV; v++) {
            const int var = (v + rd) % NV;
            if (!warm)
                memset(junk, rd + v, big);
            t[var * rounds + rd] = run(var, a, x, y, mean, wc, wch, acc, &check[var]);
        }
    static const char *names[NV] = {"sequential", "chunked", "chunked + prefetch",
                                    "sequential + prefetch"};
    printf("CH %d, %s, %d rounds (sums %g %g %g %g)\n", CH, warm ? "warm" : "from memory", rounds,
           check[0], check[1], check[2], check[3]);
    for (int v = 0; v < NV; v++)
        for (int rd = 0; rd < rounds; rd++)
            ratio[v * rounds + rd] = t[v * rounds + rd] / t[rd];
    for (int v = 0; v < NV; v++) {
        double *rv = ratio + v * rounds, *tv = t + v * rounds;
        qsort(rv, rounds, sizeof(double), by_value);
        qsort(tv, rounds, sizeof(double), by_value);
        printf("  %-22s median %7.1f us, min %7.1f, / sequential %.3f [%.3f-%.3f]\n", names[v],
               tv[rounds / 2], tv[0], rv[rounds / 2], rv[rounds / 4], rv[3 * rounds / 4]);
    }
    return 0;
}
