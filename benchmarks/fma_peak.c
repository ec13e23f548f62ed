/* fma_peak: measure this machine's single-precision FMA peak, in GFLOP/s.
 *
 * Each thread keeps 12 independent ymm accumulators and updates them with
 * vfmadd in a loop: 12 chains hide the FMA latency (4-5 cycles) on two FMA
 * pipes, so the loop is bound by FMA throughput alone. One FMA on 8 floats
 * counts as 16 flops. Nothing touches memory in the hot loop.
 *
 * Build: gcc -O2 -mavx2 -mfma -pthread fma_peak.c -o fma_peak
 * Usage: fma_peak [SECONDS_PER_TRIAL [TRIALS [THREADS...]]]   (default 0.3 3 1 2)
 * Output, one line per thread count (best of TRIALS):
 *     threads=2 gflops=190.42 cpu_gflops=191.87
 * gflops divides by wall time; cpu_gflops sums each thread's flops per second
 * of its own CPU time, which stays right when other processes share the cores
 * (it is what the cores can do, not what we got of them).
 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12
#define INNER 4096 /* iterations between clock reads */

typedef struct {
    pthread_barrier_t *start;
    double seconds;   /* run at least this long */
    long long flops;  /* out */
    double elapsed;   /* out, wall seconds */
    double cpu;       /* out, this thread's CPU seconds */
    float sink;       /* out: keeps the accumulators alive */
} probe_arg;

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_seconds(void) { return clock_seconds(CLOCK_MONOTONIC); }

static void *probe(void *p)
{
    probe_arg *arg = (probe_arg *)p;
    /* acc = acc * a + b converges to b / (1 - a) = 1: no overflow, no denormals. */
    const __m256 a = _mm256_set1_ps(0.999f);
    const __m256 b = _mm256_set1_ps(0.001f);
    __m256 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm256_set1_ps((float)i);

    pthread_barrier_wait(arg->start);
    double c0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    double t0 = now_seconds(), t1;
    long long outer = 0;
    do {
        for (int it = 0; it < INNER; it++) {
            /* written out so each accumulator stays in its own register */
            acc[0] = _mm256_fmadd_ps(acc[0], a, b);
            acc[1] = _mm256_fmadd_ps(acc[1], a, b);
            acc[2] = _mm256_fmadd_ps(acc[2], a, b);
            acc[3] = _mm256_fmadd_ps(acc[3], a, b);
            acc[4] = _mm256_fmadd_ps(acc[4], a, b);
            acc[5] = _mm256_fmadd_ps(acc[5], a, b);
            acc[6] = _mm256_fmadd_ps(acc[6], a, b);
            acc[7] = _mm256_fmadd_ps(acc[7], a, b);
            acc[8] = _mm256_fmadd_ps(acc[8], a, b);
            acc[9] = _mm256_fmadd_ps(acc[9], a, b);
            acc[10] = _mm256_fmadd_ps(acc[10], a, b);
            acc[11] = _mm256_fmadd_ps(acc[11], a, b);
        }
        outer++;
        t1 = now_seconds();
    } while (t1 - t0 < arg->seconds);

    float out[8];
    __m256 s = acc[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm256_add_ps(s, acc[i]);
    _mm256_storeu_ps(out, s);
    arg->sink = out[0];
    arg->flops = outer * (long long)INNER * CHAINS * 16;
    arg->elapsed = t1 - t0;
    arg->cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    return NULL;
}

/* Runs `nthreads` probes started together; returns total GFLOP/s over wall time
 * (and, in *cpu_gflops, over each thread's CPU time), or -1 on error. */
static double trial(int nthreads, double seconds, double *cpu_gflops)
{
    pthread_t tid[64];
    probe_arg args[64];
    pthread_barrier_t start;
    if (nthreads < 1 || nthreads > 64)
        return -1.0;
    if (pthread_barrier_init(&start, NULL, (unsigned)nthreads) != 0)
        return -1.0;
    for (int t = 0; t < nthreads; t++) {
        args[t].start = &start;
        args[t].seconds = seconds;
        if (pthread_create(&tid[t], NULL, probe, &args[t]) != 0) {
            fprintf(stderr, "fma_peak: pthread_create failed\n");
            exit(1);
        }
    }
    double flops = 0.0, elapsed = 0.0, sink = 0.0;
    *cpu_gflops = 0.0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        flops += (double)args[t].flops;
        if (args[t].cpu > 0.0)
            *cpu_gflops += (double)args[t].flops / args[t].cpu * 1e-9;
        if (args[t].elapsed > elapsed)
            elapsed = args[t].elapsed; /* the slowest thread bounds the wall time */
        sink += args[t].sink;
    }
    pthread_barrier_destroy(&start);
    if (sink != sink) /* never true; reading sink keeps the work observable */
        fprintf(stderr, "fma_peak: NaN\n");
    return flops / elapsed * 1e-9;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    int trials = argc > 2 ? atoi(argv[2]) : 3;
    int default_threads[2] = {1, 2};
    int nthread_counts = argc > 3 ? argc - 3 : 2;
    if (seconds <= 0.0 || trials < 1) {
        fprintf(stderr, "usage: fma_peak [SECONDS_PER_TRIAL [TRIALS [THREADS...]]]\n");
        return 2;
    }
    for (int k = 0; k < nthread_counts; k++) {
        int nthreads = argc > 3 ? atoi(argv[3 + k]) : default_threads[k];
        double best = -1.0, best_cpu = 0.0;
        for (int r = 0; r < trials; r++) {
            double cpu_g;
            double g = trial(nthreads, seconds, &cpu_g);
            if (g > best)
                best = g;
            if (cpu_g > best_cpu)
                best_cpu = cpu_g;
        }
        if (best < 0.0) {
            fprintf(stderr, "fma_peak: bad thread count %d\n", nthreads);
            return 2;
        }
        printf("threads=%d gflops=%.2f cpu_gflops=%.2f\n", nthreads, best, best_cpu);
        fflush(stdout);
    }
    return 0;
}
