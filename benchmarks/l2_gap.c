/* l2_gap.c: does a core's own freshly written data stay in its L2? (h36-2t, 2026-12-05)
 * T threads (1 or 2), pinned to CPU id (or not: PIN 0), each round: write its part of a buffer
 * (AVX2 stores), meet at a barrier, wait GAP_US in the way KIND says, then read its part back
 * (timed); per thread the median, 25-75% and best GB/s of ROUNDS rounds.
 *   KIND 0  no gap
 *   KIND 1  spin with PAUSE (threadpool.c's cpu_relax loop)
 *   KIND 2  spin without PAUSE (clock reads only)
 *   KIND 3  nanosleep (the vCPU may halt)
 *   KIND 4  spin with PAUSE in bursts of 8, a ~200-cycle chain of multiplies between bursts
 *   KIND 5  thread 0 spins with PAUSE, thread 1 reads through 64 MB of its own (L3 / memory)
 *   KIND 6  thread 0 spins with PAUSE, thread 1 re-reads 1 MB of its own (its L2)
 * Without PLANE_FLOATS each thread's part is one contiguous range.  Environment:
 *   PLANE_FLOATS=P  the buffer is planes of P floats and each thread owns its half of EVERY
 *                   plane (an NCHW tensor split by rows / columns: 3025 = 55x55)
 *   BAND_FLOATS=F   written as csrc/conv.c's cp_task writes the stem + pool's output: F floats
 *                   of each plane in turn, band after band (165 = 3 rows of 55); REVERSE=ID:
 *                   that thread's bands last to first
 *   GUARD_FLOATS=G  each thread's half of a plane ends G floats early (an untouched gap)
 *   SEQ_WRITE=1     thread 1 writes only after thread 0 has written
 *   READ1_NEXT=1    thread 1 reads its half of every plane instead of writing it (SEQ_WRITE:
 *                   after thread 0 has written)
 *   WRITE_PLANES=1  each thread writes whole planes (its half of them: a split by channels),
 *                   then reads its half of every plane as before (half of it the other's)
 *   READ0_ONLY=1    thread 1 writes but does not read
 *   PAGE_OFFSET=B   the buffer starts B bytes past a 4 KiB boundary (else at one)
 * The barriers spin on an atomic without PAUSE (their own cost kept out of the question).
 * Build and run (short; root for chrt):
 *   gcc -O2 -mavx2 -o /tmp/l2_gap benchmarks/l2_gap.c -lpthread
 *   chrt -f 10 /tmp/l2_gap 384 2 1 50 300 1     # KB per thread, threads, KIND, GAP_US, ROUNDS, PIN
 *   PLANE_FLOATS=3025 chrt -f 10 /tmp/l2_gap 387 2 1 50 200 1
 * Measured (Xeon KVM guest, 2 vCPUs, chrt -f 10, 200-300 rounds, GB/s per thread, medians):
 * - contiguous parts stay in L2 whatever the gap: 384 KB per thread, both threads, KIND 0 / 1 /
 *   2 / 4 at 50 us 101.7-101.9, 1 thread alike; PAUSE spinning for 1 ms 102 (no PLE-like
 *   eviction); 1 MB per thread 109.6 at 1 and 2 threads; the other core streaming 64 MB
 *   (KIND 5) or re-reading its own 1 MB (KIND 6) during a 200-1000 us gap 100-102: no eviction
 *   through the other core's traffic.  Only a halted vCPU loses it: nanosleep 50 / 200 / 1000 us
 *   106-110 / 84 / 40 (cuts_mt.py --pause's finding).  Unpinned (PIN 0) alike: 101.7-101.9.
 * - halves of every plane lose it: PLANE_FLOATS=3025 (SqueezeNet's 55x55), 387 KB a thread,
 *   28.8-35 / 33-47 GB/s at 2 threads against 84 for the whole 774 KB at 1 thread; written as
 *   the stem + pool writes it (BAND_FLOATS=165) 35.2 / 36.1 (1 thread 84.0); either thread's
 *   bands reversed 30.1 / 62.7, 37.5 / 34.4.  It is the WRITING that loses it: READ0_ONLY 33.6;
 *   SEQ_WRITE thread 0 (the first writer) 28.8, thread 1 77.0: a core that writes next to lines
 *   the other core holds takes them (its prefetchers run ahead of its stores into the other
 *   core's range).  Larger parts lose less: halves of 8 / 16 / 24 / 96 KB (PLANE_FLOATS 4096 /
 *   8192 / 12100 / 49152) 40-93 / 60-94 / 61-67 / 98; page-aligned halves are no cure (2048
 *   at PAGE_OFFSET 0, one page a thread a plane: 38 / 93).  An untouched gap of ~4 KB at each
 *   end is: 48 KB planes 72 / 95 without, 99 / 99 with GUARD_FLOATS=1024; 55x55 planes 28.8 /
 *   46 without, 46-76 with 256-512, 72 / 67 with 1024 (of 1512 a half).  A split by channels
 *   is no cure for a column-split reader: WRITE_PLANES=1 PLANE_FLOATS=3024 27.5 / 21.3 (the
 *   same run's halves of every plane 90 [40-99] / 30).  Reading next to them takes them too:
 *   READ1_NEXT=1 (thread 1 reads its halves, thread 0 wrote its own) 45 [31-51], after thread 0
 *   has written (SEQ_WRITE) 31.5, as when thread 1 writes them (28.8).
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static float *buf, *big;
static size_t big_n;
static size_t per; /* floats per thread */
static int T, kind, pin, rounds;
static long gap_ns;
static volatile int arrived, phase;
static double *res[2];

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void barrier(void)
{
    int ph = __atomic_load_n(&phase, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL) == T) {
        __atomic_store_n(&arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&phase, ph + 1, __ATOMIC_RELEASE);
    } else {
        while (__atomic_load_n(&phase, __ATOMIC_ACQUIRE) == ph)
            ;
    }
}

static unsigned long chain(unsigned long x)
{
    for (int i = 0; i < 64; i++)
        __asm__ volatile("imul %0, %0" : "+r"(x)); /* 3 cycles each */
    return x;
}

static void gap(int id)
{
    if (kind == 0 || gap_ns <= 0)
        return;
    long end = now_ns() + gap_ns;
    if (kind == 3) {
        struct timespec ts = {0, gap_ns};
        nanosleep(&ts, NULL);
        return;
    }
    unsigned long x = 3;
    if (kind >= 5 && id == 1) {
        size_t n = kind == 5 ? big_n : (1u << 20) / sizeof(float);
        float acc = 0.0f;
        size_t i = 0;
        while (now_ns() < end) {
            for (size_t e = i + 4096; i < e && i < n; i += 16)
                acc += big[i];
            if (i >= n)
                i = 0;
        }
        if (acc == 1.2345f)
            puts("");
        return;
    }
    while (now_ns() < end) {
        if (kind == 1 || kind >= 5) {
            for (int i = 0; i < 256; i++)
                _mm_pause();
        } else if (kind == 4) {
            for (int i = 0; i < 8; i++)
                _mm_pause();
            x = chain(x | 1);
        }
    }
    if (x == 12345)
        puts("");
}

static void *thread_main(void *arg)
{
    int id = (int)(long)arg;
    if (pin) {
        cpu_set_t s;
        CPU_ZERO(&s);
        CPU_SET(id, &s);
        sched_setaffinity(0, sizeof(s), &s);
    }
    float *p = buf + per * id;
    float sink = 0.0f;
    const char *pe = getenv("PLANE_FLOATS"); /* planes of this many floats, each thread its half of each */
    const size_t pf = pe ? (size_t)atol(pe) : 0, np = pf ? per * T / pf : 0;
    const int idle = id == 1 && getenv("READ0_ONLY"); /* thread 1 writes, then leaves the reads to thread 0 */
    for (int r = 0; r < rounds; r++) {
        __m256 v = _mm256_set1_ps((float)r);
        __m256 a = _mm256_setzero_ps(), c = a;
        long t0 = 0;
        size_t bytes = per * sizeof(float);
        if (pf) {
            /* GUARD_FLOATS=G: each thread's half of a plane ends G floats early (an untouched gap) */
            const char *ge = getenv("GUARD_FLOATS");
            const size_t b = pf * id / T, e = pf * (id + 1) / T - (ge ? (size_t)atol(ge) : 0);
            const int seq = getenv("SEQ_WRITE") != NULL; /* thread 1 writes after thread 0 */
            if (seq && id == 1)
                barrier();
            /* BAND_FLOATS=F: written as the stem + pool writes (csrc/conv.c cp_task): bands of F
             * floats of every plane in turn, band after band (REVERSE=ID: that thread's bands last
             * to first); else each plane's part whole, plane after plane */
            const char *bf = getenv("BAND_FLOATS"), *rv = getenv("REVERSE");
            const size_t band = bf ? (size_t)atol(bf) : 0;
            const int by_planes = getenv("WRITE_PLANES") != NULL;
            if (id == 1 && getenv("READ1_NEXT")) { /* thread 1 only reads next to thread 0's lines */
                for (size_t k = 0; k < np; k++)
                    for (size_t i = b; i + 8 <= e; i += 8)
                        a = _mm256_add_ps(a, _mm256_loadu_ps(buf + k * pf + i));
            } else if (by_planes) {
                for (size_t k = np * id / T; k < np * (id + 1) / T; k++)
                    for (size_t i = 0; i + 8 <= pf; i += 8)
                        _mm256_storeu_ps(buf + k * pf + i, v);
            } else if (band) {
                const size_t nb = (e - b + band - 1) / band;
                for (size_t q = 0; q < nb; q++) {
                    const size_t qq = rv && atoi(rv) == id ? nb - 1 - q : q;
                    const size_t b0 = b + qq * band, b1 = b0 + band < e ? b0 + band : e;
                    for (size_t k = 0; k < np; k++)
                        for (size_t i = b0; i < b1; i++)
                            buf[k * pf + i] = (float)r;
                }
            } else {
                for (size_t k = 0; k < np; k++)
                    for (size_t i = b; i + 8 <= e; i += 8)
                        _mm256_storeu_ps(buf + k * pf + i, v);
            }
            if (seq && id == 0)
                barrier();
            barrier();
            gap(id);
            bytes = np * (e - b) * sizeof(float);
            t0 = now_ns();
            for (size_t k = 0; k < np && !idle; k++)
                for (size_t i = b; i + 16 <= e; i += 16) {
                    a = _mm256_add_ps(a, _mm256_loadu_ps(buf + k * pf + i));
                    c = _mm256_add_ps(c, _mm256_loadu_ps(buf + k * pf + i + 8));
                }
        } else {
            for (size_t i = 0; i + 8 <= per; i += 8)
                _mm256_storeu_ps(p + i, v);
            barrier();
            gap(id);
            t0 = now_ns();
            for (size_t i = 0; i + 16 <= per; i += 16) {
                a = _mm256_add_ps(a, _mm256_loadu_ps(p + i));
                c = _mm256_add_ps(c, _mm256_loadu_ps(p + i + 8));
            }
        }
        long t = now_ns() - t0;
        float o[8];
        _mm256_storeu_ps(o, _mm256_add_ps(a, c));
        sink += o[0];
        res[id][r] = (double)bytes / (double)t; /* GB/s */
        barrier();
    }
    if (sink == 1.2345f)
        puts("");
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s KB_PER_THREAD THREADS KIND GAP_US ROUNDS PIN\n", argv[0]);
        return 2;
    }
    per = (size_t)atol(argv[1]) * 1024 / sizeof(float);
    T = atoi(argv[2]);
    kind = atoi(argv[3]);
    gap_ns = atol(argv[4]) * 1000L;
    rounds = atoi(argv[5]);
    pin = atoi(argv[6]);
    if (per < 16 || T < 1 || T > 2 || kind < 0 || kind > 6 || rounds < 4) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    /* PAGE_OFFSET=B: the buffer starts B bytes past a 4 KiB page boundary (else 64-byte aligned) */
    const char *po = getenv("PAGE_OFFSET");
    buf = aligned_alloc(4096, per * T * sizeof(float) + 8192);
    if (buf && po)
        buf += atol(po) / sizeof(float);
    big_n = (64u << 20) / sizeof(float);
    big = calloc(big_n, sizeof(float));
    for (size_t i = 0; big && i < big_n; i += 1024)
        big[i] = 1.0f;
    for (int i = 0; i < T; i++)
        res[i] = calloc((size_t)rounds, sizeof(double));
    if (!buf || !res[0] || !res[T - 1])
        return 1;
    pthread_t t[2];
    for (long i = 0; i < T; i++)
        pthread_create(&t[i], NULL, thread_main, (void *)i);
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < T; i++) {
        qsort(res[i], (size_t)rounds, sizeof(double), cmp);
        printf("KB %zu threads %d kind %d gap %ld us pin %d thread %d: GB/s median %.1f "
               "[%.1f-%.1f] best %.1f\n",
               per * sizeof(float) / 1024, T, kind, gap_ns / 1000, pin, i, res[i][rounds / 2],
               res[i][rounds / 4], res[i][3 * rounds / 4], res[i][rounds - 1]);
    }
    return 0;
}
