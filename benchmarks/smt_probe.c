/* smt_probe: do this guest's two vCPUs run on two physical cores right now, or on the two
 * hyperthreads of one (sharing its FMA pipes and its L2)?  The guest's topology cannot say
 * (KVM shows two cores, one thread each); a few milliseconds of measurement can.
 *
 * For each round: an FMA block (12 ymm chains, registers only) and an L2 block (each thread
 * reads its own L2_KB buffer again and again) run first on one thread pinned to CPU 0, then on
 * two threads pinned to CPUs 0 and 1 at once.  Printed per round: the per-thread rate at two
 * threads over the rate at one, for FMA and for L2 reads: ~1.0 / ~1.0 on two cores, ~0.5 for
 * FMA on siblings (one core's two pipes shared), and L2 reads falling to L3's rate when the two
 * buffers (2 x L2_KB) no longer fit one core's L2.
 *
 * Build: gcc -O2 -mavx2 -mfma -pthread benchmarks/smt_probe.c -o /tmp/smt_probe
 * Usage: smt_probe [MS_PER_BLOCK [ROUNDS [L2_KB]]]   (default 5 1 1536)
 * Output, one line per round:  fma 0.99 l2 0.98 (1t fma 75.1 GF/s, l2 110.2 GB/s; 2t cpu0/cpu1
 *     fma 74.0 75.2 l2 108.1 109.9): the last four, each CPU's own rate at two threads (is one
 *     vCPU slower than the other?)
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    int cpu, mode;        /* mode 0: FMA, 1: L2 reads */
    double seconds;
    float *buf;
    size_t n;             /* floats in buf */
    pthread_barrier_t *bar;
    double rate;          /* out: GFLOP/s or GB/s */
    float sink;
} arg_t;

static float fma_loop(double seconds, double *work, double *elapsed)
{
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    __m256 a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    double t0 = now(), t, w = 0;
    do {
        for (int i = 0; i < 4096; i++) {
            a0 = _mm256_fmadd_ps(a0, m, c); a1 = _mm256_fmadd_ps(a1, m, c);
            a2 = _mm256_fmadd_ps(a2, m, c); a3 = _mm256_fmadd_ps(a3, m, c);
            a4 = _mm256_fmadd_ps(a4, m, c); a5 = _mm256_fmadd_ps(a5, m, c);
            a6 = _mm256_fmadd_ps(a6, m, c); a7 = _mm256_fmadd_ps(a7, m, c);
            a8 = _mm256_fmadd_ps(a8, m, c); a9 = _mm256_fmadd_ps(a9, m, c);
            a10 = _mm256_fmadd_ps(a10, m, c); a11 = _mm256_fmadd_ps(a11, m, c);
        }
        w += 4096.0 * 12 * 16;
        t = now();
    } while (t - t0 < seconds);
    *work = w;
    *elapsed = t - t0;
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    return _mm256_cvtss_f32(s);
}

static float read_loop(const float *buf, size_t n, double seconds, double *work, double *elapsed)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    double t0 = now(), t, w = 0;
    do {
        for (size_t i = 0; i < n; i += 32) {
            a0 = _mm256_add_ps(a0, _mm256_load_ps(buf + i));
            a1 = _mm256_add_ps(a1, _mm256_load_ps(buf + i + 8));
            a2 = _mm256_add_ps(a2, _mm256_load_ps(buf + i + 16));
            a3 = _mm256_add_ps(a3, _mm256_load_ps(buf + i + 24));
        }
        w += (double)n * 4;
        t = now();
    } while (t - t0 < seconds);
    *work = w;
    *elapsed = t - t0;
    return _mm256_cvtss_f32(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

static void *body(void *p)
{
    arg_t *a = p;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(a->cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (a->mode == 1)   /* touch the buffer into this core's caches first */
        for (size_t i = 0; i < a->n; i += 16)
            a->buf[i] += 1.0f;
    if (a->bar)
        pthread_barrier_wait(a->bar);
    double work, elapsed;
    a->sink = a->mode == 0 ? fma_loop(a->seconds, &work, &elapsed)
                           : read_loop(a->buf, a->n, a->seconds, &work, &elapsed);
    a->rate = work / elapsed * 1e-9;
    return NULL;
}

static double run(int threads, int mode, double seconds, float **bufs, size_t n, double *sink,
                  double *rates)
{
    pthread_t th[2];
    arg_t a[2];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) {
        a[t] = (arg_t){t, mode, seconds, bufs[t], n, &bar, 0, 0};
        pthread_create(&th[t], NULL, body, &a[t]);
    }
    double r = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        r += a[t].rate / threads;
        if (rates)
            rates[t] = a[t].rate;
        *sink += a[t].sink;
    }
    pthread_barrier_destroy(&bar);
    return r;
}

int main(int argc, char **argv)
{
    double ms = argc > 1 ? atof(argv[1]) : 5;
    int rounds = argc > 2 ? atoi(argv[2]) : 1;
    size_t kb = argc > 3 ? (size_t)atol(argv[3]) : 1536;
    size_t n = kb * 256;
    float *bufs[2];
    for (int t = 0; t < 2; t++) {
        bufs[t] = aligned_alloc(64, n * sizeof(float));
        memset(bufs[t], 0, n * sizeof(float));
    }
    double sink = 0;
    for (int r = 0; r < rounds; r++) {
        double fr[2], lr[2];
        double f1 = run(1, 0, ms * 1e-3, bufs, n, &sink, NULL);
        double f2 = run(2, 0, ms * 1e-3, bufs, n, &sink, fr);
        double l1 = run(1, 1, ms * 1e-3, bufs, n, &sink, NULL);
        double l2 = run(2, 1, ms * 1e-3, bufs, n, &sink, lr);
        printf("fma %.2f l2 %.2f (1t fma %.1f GF/s, l2 %.1f GB/s; 2t cpu0/cpu1 fma %.1f %.1f "
               "l2 %.1f %.1f)\n", f2 / f1, l2 / l1, f1, l1, fr[0], fr[1], lr[0], lr[1]);
    }
    if (sink == 12345.0)
        printf("!\n");
    return 0;
}
