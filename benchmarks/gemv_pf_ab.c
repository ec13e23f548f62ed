/* The classifier's GEMV (tc_gemv_rows_avx2's loop: a [Nout, K] weight read in place, rows
 * after rows) with its weights cold, variants against one row at a time without prefetch
 * ("0,0", the first), in one process, alternating call by call.  "S,n": n streams of rows
 * (n = 2, 3, 4, 6, 8), rows i, i + N / n, ... a K chunk at a time, each row's sums in the
 * order of one row alone (h38-mn: taken as tc_gemv_rows_avx2's GEMV_STREAMS).  The L2
 * streamer follows a stream only inside a 4 KiB page: a 5 KB row crosses one or two page
 * boundaries, where the stream starts again from demand misses.  A variant "P,H" prefetches,
 * at the start of each row, the first line of every page the row's range P pages further on
 * touches (H: 0 T0, 1 T1, 2 T2, 3 NTA; P = 0: none), one or two prefetches a row.  "L,P,H":
 * every line P pages ahead, one per 64 bytes (the kernel's loads: two lines an iteration).
 * Before each call: MODE=mem 64 MB written (the weights in memory), MODE=l3 (default) the
 * weights read, then 16 MB of other data written (the weights in L3, past L2), MODE=flush 16 MB
 * written, then every line of the weights flushed from all caches (clflush; h39-mn: on the Intel
 * host of 2026-12-06, 300 MB of L3, 64 MB written at times left them in L3 (MODE=mem 183-189 us,
 * as MODE=l3) and at others not (434-545 us); clflush always sends them to memory).
 *   gcc -O2 -mavx2 -mfma -Ibenchmarks benchmarks/gemv_pf_ab.c -o /tmp/gemv_pf_ab
 *   [MODE=mem] /tmp/gemv_pf_ab ROUNDS K NOUT VARIANT...   (e.g. 100 1280 1000 0,0 S,4 2,1 L,4,1)
 * Prints per variant the median thread-CPU time of a call (us), its 25-75% range, the ratio of
 * the per-round times to the first variant's (median [25-75%]) and whether the outputs are
 * bit-identical to the first's. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ab_clock.h"

typedef struct {
    int every_line, pages, hint, streams;
} variant;

static inline void pf(const char *p, int hint)
{
    switch (hint) {
    case 0: _mm_prefetch(p, _MM_HINT_T0); break;
    case 1: _mm_prefetch(p, _MM_HINT_T1); break;
    case 2: _mm_prefetch(p, _MM_HINT_T2); break;
    default: _mm_prefetch(p, _MM_HINT_NTA); break;
    }
}

static inline __m128 hsum4(__m256 x0, __m256 x1, __m256 x2, __m256 x3)
{
    __m256 s01 = _mm256_hadd_ps(x0, x1);
    __m256 s23 = _mm256_hadd_ps(x2, x3);
    __m256 s = _mm256_hadd_ps(s01, s23);
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

/* tc_gemv_rows_avx2's sums (no bias, no activation), with the variant's prefetches */
static __attribute__((noinline)) void gemv(int K, const float *a, const float *w, int N,
                                           float *y, variant v)
{
    const ptrdiff_t ahead = (ptrdiff_t)v.pages * 4096;
    const char *end = (const char *)(w + (size_t)N * K);
    for (int n = 0; n < N; n++) {
        const float *wn = w + (size_t)n * K;
        if (v.pages && !v.every_line) {
            /* the first line of each page [wn + ahead, wn + K + ahead) touches */
            const char *p0 = (const char *)wn + ahead, *p1 = (const char *)(wn + K) + ahead;
            for (const char *p = p0; p < p1 && p < end;
                 p = (const char *)(((uintptr_t)p | 4095) + 1))
                pf(p, v.hint);
        }
        __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
        __m256 c2 = _mm256_setzero_ps(), c3 = _mm256_setzero_ps();
        int k = 0;
        for (; k + 32 <= K; k += 32) {
            if (v.every_line) {
                const char *p = (const char *)(wn + k) + ahead;
                if (p < end) {
                    pf(p, v.hint);
                    pf(p + 64, v.hint);
                }
            }
            c0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(wn + k), c0);
            c1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(wn + k + 8), c1);
            c2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 16), _mm256_loadu_ps(wn + k + 16), c2);
            c3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 24), _mm256_loadu_ps(wn + k + 24), c3);
        }
        c0 = _mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3));
        for (; k + 8 <= K; k += 8)
            c0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(wn + k), c0);
        const __m256 z = _mm256_setzero_ps();
        float t = _mm_cvtss_f32(hsum4(c0, z, z, z));
        for (; k < K; k++)
            t += a[k] * wn[k];
        y[n] = t;
    }
}

/* one row's sums as gemv's, the S rows n, n + N / S, ... (S ranges of rows, each a stream of
 * its own) a K chunk at a time: each row's sums in gemv's order, the same bits */
static __attribute__((noinline)) void gemv_streams(int K, const float *a, const float *w, int N,
                                                   float *y, const int S)
{
    const int step = (N + S - 1) / S;
    for (int i = 0; i < step; i++) {
        const float *wn[8];
        int rows[8], ns = 0;
        for (int s = 0; s < S; s++)
            if (s * step + i < N) {
                rows[ns] = s * step + i;
                wn[ns] = w + (size_t)rows[ns] * K;
                ns++;
            }
        __m256 c[8][4];
        for (int s = 0; s < 8; s++)
            for (int q = 0; q < 4; q++)
                c[s][q] = _mm256_setzero_ps();
        int k = 0;
        for (; k + 32 <= K; k += 32) {
#pragma GCC unroll 8
            for (int s = 0; s < S; s++)
                if (s < ns)
#pragma GCC unroll 4
                    for (int q = 0; q < 4; q++)
                        c[s][q] = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8 * q),
                                                  _mm256_loadu_ps(wn[s] + k + 8 * q), c[s][q]);
        }
        for (int s = 0; s < ns; s++) {
            __m256 c0 = _mm256_add_ps(_mm256_add_ps(c[s][0], c[s][1]),
                                      _mm256_add_ps(c[s][2], c[s][3]));
            int kk = k;
            for (; kk + 8 <= K; kk += 8)
                c0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + kk), _mm256_loadu_ps(wn[s] + kk), c0);
            const __m256 z = _mm256_setzero_ps();
            float t = _mm_cvtss_f32(hsum4(c0, z, z, z));
            for (; kk < K; kk++)
                t += a[kk] * wn[s][kk];
            y[rows[s]] = t;
        }
    }
}

static float *floats(size_t n)
{
    return aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s ROUNDS K NOUT VARIANT...\n", argv[0]);
        return 2;
    }
    const int rounds = atoi(argv[1]), K = atoi(argv[2]), N = atoi(argv[3]);
    const int nv = argc - 4 < 16 ? argc - 4 : 16;
    const int mem = getenv("MODE") && !strcmp(getenv("MODE"), "mem");
    const int flush = getenv("MODE") && !strcmp(getenv("MODE"), "flush");
    variant var[16];
    for (int i = 0; i < nv; i++) {
        int x[3] = {0, 0, 0}, c = sscanf(argv[4 + i], "%d,%d,%d", &x[0], &x[1], &x[2]);
        var[i] = c == 3 ? (variant){1, x[1], x[2], 0} : (variant){0, x[0], x[1], 0};
        if (argv[4 + i][0] == 'S') /* S,n: n streams of rows */
            var[i] = (variant){0, 0, 0, atoi(argv[4 + i] + 2)};
    }
    float *w = floats((size_t)N * K), *a = floats(K), *y = floats((size_t)nv * N);
    for (size_t i = 0; i < (size_t)N * K; i++)
        w[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
    for (int i = 0; i < K; i++)
        a[i] = rand() / (float)RAND_MAX;
    const size_t evict_n = (mem ? 64u : 16u) << 18; /* floats: 64 or 16 MB */
    float *ev = floats(evict_n);
    double *t = calloc((size_t)rounds * nv, sizeof(double));
    volatile float sink = 0;
    for (int r = 0; r < rounds; r++)
        for (int j = 0; j < nv; j++) {
            const int i = (r & 1) ? nv - 1 - j : j; /* each order in turn */
            if (!mem && !flush) {
                float s = 0;
                for (size_t q = 0; q < (size_t)N * K; q += 16)
                    s += w[q];
                sink += s;
            }
            for (size_t q = 0; q < evict_n; q += 16)
                ev[q] = (float)q;
            if (flush) {
                for (size_t q = 0; q < (size_t)N * K; q += 16)
                    _mm_clflush(w + q);
                _mm_mfence();
            }
            const double t0 = now();
            if (var[i].streams == 2)
                gemv_streams(K, a, w, N, y + (size_t)i * N, 2);
            else if (var[i].streams == 3)
                gemv_streams(K, a, w, N, y + (size_t)i * N, 3);
            else if (var[i].streams == 4)
                gemv_streams(K, a, w, N, y + (size_t)i * N, 4);
            else if (var[i].streams == 6)
                gemv_streams(K, a, w, N, y + (size_t)i * N, 6);
            else if (var[i].streams == 8)
                gemv_streams(K, a, w, N, y + (size_t)i * N, 8);
            else
                gemv(K, a, w, N, y + (size_t)i * N, var[i]);
            t[(size_t)i * rounds + r] = now() - t0;
        }
    double *ratio = calloc(rounds, sizeof(double)), *s = calloc(rounds, sizeof(double));
    printf("GEMV %d -> %d (%.1f MB), %s, %d rounds, thread CPU us: median [25-75%%], ratio to "
           "the first\n", K, N, (double)N * K * 4 / 1e6, mem ? "weights in memory (64 MB written)"
           : flush ? "weights flushed from the caches (clflush)"
           : "weights in L3 (16 MB written after them)", rounds);
    for (int i = 0; i < nv; i++) {
        memcpy(s, t + (size_t)i * rounds, rounds * sizeof(double));
        qsort(s, rounds, sizeof(double), cmp);
        for (int r = 0; r < rounds; r++)
            ratio[r] = t[(size_t)i * rounds + r] / t[r];
        qsort(ratio, rounds, sizeof(double), cmp);
        const int same = !memcmp(y, y + (size_t)i * N, (size_t)N * sizeof(float));
        if (var[i].streams)
            printf("  S,%d:", var[i].streams);
        else
            printf("  %s%d,%d:", var[i].every_line ? "L," : "", var[i].pages, var[i].hint);
        printf(" %7.1f [%7.1f-%7.1f]  ratio %.3f [%.3f-%.3f]  %s\n",
               s[rounds / 2] * 1e6,
               s[rounds / 4] * 1e6, s[3 * rounds / 4] * 1e6, ratio[rounds / 2],
               ratio[rounds / 4], ratio[3 * rounds / 4], same ? "bit-identical" : "DIFFERENT");
    }
    return 0;
}
