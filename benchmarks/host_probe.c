/* host_probe: a few milliseconds that say what this host's cores deliver right now, for the
 * benchmarks that label each round with the host's state (bench.py / bench_int8.py
 * --probe-ms: a probe before and after every round) and for host_state.py (which work a slow
 * state takes most from).
 *
 * Kinds (each thread its own work: registers, or its own buffer):
 *   0 fma   12 independent ymm vfmadd chains, registers only (fma_peak.c's loop): GFLOP/s
 *   1 madd  the int8 kernels' multiply pair on ports 0 / 1: 12 chains of vpmaddubsw, vpmaddwd,
 *           vpaddd (u8 x s8 products, pair sums, widening, accumulate): G products/s
 *   2 l1    256-bit reads of the thread's own 16 KiB buffer (L1-resident): GB/s
 *   3 l2    the same of a 1 MiB buffer (L2-resident): GB/s
 *   4 big   the same of a 64 MiB buffer (past the L2: the L3 or memory): GB/s
 * A rate is the thread's work per second of its own CPU time, summed over the threads (as
 * fma_peak.c's cpu_gflops): what the cores do while we hold them, not how much of them we got.
 *
 * Build: gcc -O2 -mavx2 -mfma -pthread -shared -fPIC host_probe.c -o host_probe.so
 * C entry: double hp_probe(int kind, double seconds, int threads): the rate, or -1 for a bad
 * argument or a failed allocation.  Buffers are allocated and touched on first use and kept
 * (a probe of 20 ms must not page 64 MiB in); one caller at a time.
 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { HP_FMA, HP_MADD, HP_L1, HP_L2, HP_BIG, HP_KINDS };
enum { HP_MAX_THREADS = 16 };

static const size_t buffer_bytes[HP_KINDS] = {0, 0, (size_t)16 << 10, (size_t)1 << 20,
                                              (size_t)64 << 20};
static unsigned char *buffers[HP_KINDS][HP_MAX_THREADS];

/* the threads start together, or not at all (go < 0: a thread could not be created) */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go;
};

typedef struct {
    int kind;
    double seconds;
    unsigned char *buf;
    struct gate *gate;
    double rate;   /* out: work per CPU second */
    int sink;      /* out: keeps the results observable */
} job;

static double seconds_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define REPEAT12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define INNER 2048   /* iterations between clock reads */

/* returns work units done; *sink from the registers */
static double run_fma(double seconds, int *sink)
{
    const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
#define DECL(i) __m256 f##i = _mm256_set1_ps((float)(i));
    REPEAT12(DECL)
#undef DECL
    double t0 = seconds_of(CLOCK_MONOTONIC), n = 0;
    do {
        for (int it = 0; it < INNER; it++) {
#define STEP(i) f##i = _mm256_fmadd_ps(f##i, m, c);
            REPEAT12(STEP)
#undef STEP
        }
        n += (double)INNER * 12 * 16;   /* 8 lanes x 2 flops */
    } while (seconds_of(CLOCK_MONOTONIC) - t0 < seconds);
    __m256 s = _mm256_setzero_ps();
#define SUM(i) s = _mm256_add_ps(s, f##i);
    REPEAT12(SUM)
#undef SUM
    *sink = (int)_mm256_cvtss_f32(s);
    return n;
}

static double run_madd(double seconds, int *sink)
{
    const __m256i w = _mm256_set1_epi8(3), one = _mm256_set1_epi16(1);
#define DECL(i) __m256i q##i = _mm256_set1_epi8((char)(i + 1));
    REPEAT12(DECL)
#undef DECL
    double t0 = seconds_of(CLOCK_MONOTONIC), n = 0;
    do {
        for (int it = 0; it < INNER; it++) {
#define STEP(i) q##i = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q##i, w), one), q##i);
            REPEAT12(STEP)
#undef STEP
        }
        n += (double)INNER * 12 * 32;   /* 32 u8 x s8 products per vpmaddubsw */
    } while (seconds_of(CLOCK_MONOTONIC) - t0 < seconds);
    __m256i s = _mm256_setzero_si256();
#define SUM(i) s = _mm256_xor_si256(s, q##i);
    REPEAT12(SUM)
#undef SUM
    *sink = _mm256_cvtsi256_si32(s);
    return n;
}

static double run_reads(const unsigned char *buf, size_t bytes, double seconds, int *sink)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    double t0 = seconds_of(CLOCK_MONOTONIC), n = 0;
    do {
        for (size_t off = 0; off < bytes; off += 128) {
            const __m256i *p = (const __m256i *)(buf + off);
            a0 = _mm256_or_si256(a0, _mm256_load_si256(p));
            a1 = _mm256_or_si256(a1, _mm256_load_si256(p + 1));
            a2 = _mm256_or_si256(a2, _mm256_load_si256(p + 2));
            a3 = _mm256_or_si256(a3, _mm256_load_si256(p + 3));
        }
        n += (double)bytes;
    } while (seconds_of(CLOCK_MONOTONIC) - t0 < seconds);
    *sink = _mm256_cvtsi256_si32(_mm256_or_si256(_mm256_or_si256(a0, a1), _mm256_or_si256(a2, a3)));
    return n;
}

static void *run_job(void *p)
{
    job *j = (job *)p;
    pthread_mutex_lock(&j->gate->mu);
    while (!j->gate->go)
        pthread_cond_wait(&j->gate->cv, &j->gate->mu);
    int go = j->gate->go;
    pthread_mutex_unlock(&j->gate->mu);
    if (go < 0)
        return NULL;
    double c0 = seconds_of(CLOCK_THREAD_CPUTIME_ID), work;
    switch (j->kind) {
    case HP_FMA: work = run_fma(j->seconds, &j->sink); break;
    case HP_MADD: work = run_madd(j->seconds, &j->sink); break;
    default: work = run_reads(j->buf, buffer_bytes[j->kind], j->seconds, &j->sink); break;
    }
    double cpu = seconds_of(CLOCK_THREAD_CPUTIME_ID) - c0;
    j->rate = cpu > 0 ? work / cpu * 1e-9 : 0;
    return NULL;
}

double hp_probe(int kind, double seconds, int threads)
{
    if (kind < 0 || kind >= HP_KINDS || threads < 1 || threads > HP_MAX_THREADS || !(seconds > 0))
        return -1.0;
    for (int t = 0; t < threads && buffer_bytes[kind]; t++) {
        if (!buffers[kind][t]) {
            buffers[kind][t] = aligned_alloc(64, buffer_bytes[kind]);
            if (!buffers[kind][t])
                return -1.0;
            memset(buffers[kind][t], t + 1, buffer_bytes[kind]);
        }
    }
    pthread_t tid[HP_MAX_THREADS];
    job jobs[HP_MAX_THREADS];
    struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    int started = 1;
    for (int t = 0; t < threads; t++)
        jobs[t] = (job){kind, seconds, buffers[kind][t], &gate, 0.0, 0};
    while (started < threads && pthread_create(&tid[started], NULL, run_job, &jobs[started]) == 0)
        started++;
    pthread_mutex_lock(&gate.mu);
    gate.go = started < threads ? -1 : 1;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    if (started < threads) {
        for (int t = 1; t < started; t++)
            pthread_join(tid[t], NULL);
        return -1.0;
    }
    run_job(&jobs[0]);   /* the caller is thread 0 */
    double rate = jobs[0].rate;
    for (int t = 1; t < threads; t++) {
        pthread_join(tid[t], NULL);
        rate += jobs[t].rate;
    }
    return rate;
}
