/* Thread pool.
 *
 * A persistent pool of nthreads-1 workers plus the calling thread.  A job is
 * [0, n) cut into at most nthreads static chunks; chunk t runs as
 * fn(arg, t, ...), so t doubles as a per-thread workspace slot.
 *
 * Dispatch: the caller publishes the job in one 64-bit state word
 * (generation << 32 | mask of claimed chunks).  Workers spin on the
 * generation for a while (back-to-back kernels of one inference dispatch in
 * well under a microsecond), then sleep on a condvar so an idle pool burns no
 * core.  Every chunk is claimed with a CAS on the state word, by its own
 * worker or by anyone who finishes early: when a worker is asleep or
 * descheduled (a loaded machine), the caller runs its chunk instead of
 * waiting for it.  A worker that wakes late for an old job fails its CAS and
 * drops whatever it read.
 *
 * One job at a time: a second caller (another Python thread, or a kernel
 * called from inside a worker) that finds the pool busy runs its loop inline.
 * After fork() the workers do not exist in the child: the pool remembers its
 * creator's pid and runs everything inline in any other process.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "tinycnn.h"

/* How long a worker spins before it sleeps: long enough to bridge the Python
 * glue between two kernels of one inference, short enough not to steal a
 * loaded machine's cores (or another thread pool's) for long. */
#define TC_POOL_SPIN_NS 200000L
#define TC_POOL_MAX_CHUNKS 32 /* bits of the claim mask */

struct tc_pool {
    int nthreads;
    pid_t owner_pid;
    pthread_t *threads;
    int nstarted;

    pthread_mutex_t mutex;
    pthread_cond_t wake;

    /* job fields: written by the caller before publishing the state word,
     * read by workers with relaxed atomics and trusted only if their claim
     * CAS then succeeds */
    tc_range_fn fn;
    void *arg;
    ptrdiff_t n;
    int nchunks;
    int by_thread; /* fn gets the executing thread's index instead of the chunk's */

    uint64_t state;      /* generation << 32 | claimed-chunk mask */
    unsigned generation; /* caller side copy of the current generation */
    int completed;       /* chunks finished in the current job */
    int sleepers;        /* workers waiting on `wake` */
    int busy;            /* try-lock: 1 while a caller owns the pool */
    int stop;
};

typedef struct {
    tc_pool *pool;
    int tid;
} tc_worker_arg;

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claims chunk t of generation gen; 0 if taken or the job is gone. */
static int claim(tc_pool *p, unsigned gen, int t)
{
    uint64_t bit = (uint64_t)1 << t;
    uint64_t s = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);
    while ((unsigned)(s >> 32) == gen && !(s & bit)) {
        if (__atomic_compare_exchange_n(&p->state, &s, s | bit, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return 1;
    }
    return 0;
}

static void run_chunk(tc_range_fn fn, void *arg, ptrdiff_t n, int nchunks, int chunk, int tid)
{
    ptrdiff_t b = n * chunk / nchunks;
    ptrdiff_t e = n * (chunk + 1) / nchunks;
    if (e > b)
        fn(arg, tid, b, e);
}

/* Claims and runs chunks of generation gen.  Static jobs (nchunks <= threads)
 * start at the thread's own chunk and pass the chunk index as tid; dynamic
 * jobs start at chunk `first` too (spreading threads over the range) and
 * pass the thread's own index. */
static void help(tc_pool *p, unsigned gen, int self, int first, tc_range_fn fn, void *arg,
                 ptrdiff_t n, int nchunks, int by_thread)
{
    for (int i = 0; i < nchunks; i++) {
        int t = (first + i) % nchunks;
        if (claim(p, gen, t)) {
            run_chunk(fn, arg, n, nchunks, t, by_thread ? self : t);
            __atomic_add_fetch(&p->completed, 1, __ATOMIC_RELEASE);
        }
    }
}

static void *worker_main(void *varg)
{
    tc_worker_arg *wa = (tc_worker_arg *)varg;
    tc_pool *p = wa->pool;
    int tid = wa->tid;
    /* generation is 0 at creation: reading it here could miss a job
     * published before this thread got scheduled */
    unsigned seen = 0;
    free(wa);

    for (;;) {
        unsigned gen;
        long spin_end = now_ns() + TC_POOL_SPIN_NS;
        int spins = 0;
        while ((gen = (unsigned)(__atomic_load_n(&p->state, __ATOMIC_ACQUIRE) >> 32)) == seen) {
            cpu_relax();
            if ((++spins & 255) == 0 && now_ns() > spin_end)
                break;
        }
        if (gen == seen) {
            pthread_mutex_lock(&p->mutex);
            __atomic_add_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
            while ((gen = (unsigned)(__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) >> 32)) == seen &&
                   !__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST))
                pthread_cond_wait(&p->wake, &p->mutex);
            __atomic_sub_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
            pthread_mutex_unlock(&p->mutex);
        }
        if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
            break;
        seen = gen;
        tc_range_fn fn = __atomic_load_n(&p->fn, __ATOMIC_RELAXED);
        void *arg = __atomic_load_n(&p->arg, __ATOMIC_RELAXED);
        ptrdiff_t n = __atomic_load_n(&p->n, __ATOMIC_RELAXED);
        int nchunks = __atomic_load_n(&p->nchunks, __ATOMIC_RELAXED);
        int by_thread = __atomic_load_n(&p->by_thread, __ATOMIC_RELAXED);
        if (tid < nchunks)
            help(p, gen, tid, by_thread ? (int)((long)nchunks * tid / p->nthreads) : tid, fn, arg, n,
                 nchunks, by_thread);
    }
    return NULL;
}

tc_pool *tc_pool_create(int nthreads)
{
    tc_pool *p = (tc_pool *)calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->nthreads = nthreads < 1 ? 1 : nthreads;
    p->owner_pid = getpid();
    if (p->nthreads == 1)
        return p;
    if (pthread_mutex_init(&p->mutex, NULL) != 0) {
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->wake, NULL);
    p->threads = (pthread_t *)calloc((size_t)p->nthreads, sizeof(pthread_t));
    if (!p->threads) {
        tc_pool_destroy(p);
        return NULL;
    }
    for (int t = 1; t < p->nthreads; t++) {
        tc_worker_arg *wa = (tc_worker_arg *)malloc(sizeof(*wa));
        if (!wa) {
            tc_pool_destroy(p);
            return NULL;
        }
        wa->pool = p;
        wa->tid = t;
        if (pthread_create(&p->threads[t - 1], NULL, worker_main, wa) != 0) {
            free(wa);
            tc_pool_destroy(p);
            return NULL;
        }
        p->nstarted++;
    }
    return p;
}

void tc_pool_destroy(tc_pool *pool)
{
    if (!pool)
        return;
    if (pool->nthreads > 1) {
        /* In a forked child the workers are not ours: never signal or join them. */
        if (pool->owner_pid == getpid() && pool->nstarted > 0) {
            pthread_mutex_lock(&pool->mutex);
            __atomic_store_n(&pool->stop, 1, __ATOMIC_SEQ_CST);
            /* a new generation with every chunk claimed: wakes the spinners */
            __atomic_store_n(&pool->state, ((uint64_t)(pool->generation + 1) << 32) | 0xffffffffu,
                             __ATOMIC_SEQ_CST);
            pthread_cond_broadcast(&pool->wake);
            pthread_mutex_unlock(&pool->mutex);
            for (int t = 0; t < pool->nstarted; t++)
                pthread_join(pool->threads[t], NULL);
            pthread_cond_destroy(&pool->wake);
            pthread_mutex_destroy(&pool->mutex);
        }
        free(pool->threads);
    }
    free(pool);
}

int tc_pool_size(const tc_pool *pool) { return pool ? pool->nthreads : 1; }

static void parallel_run(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg,
                         int max_chunks, int by_thread)
{
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    ptrdiff_t nchunks = (n + grain - 1) / grain;
    if (!pool || pool->nthreads <= 1 || nchunks <= 1 || pool->nstarted != pool->nthreads - 1 ||
        pool->owner_pid != getpid() || __atomic_exchange_n(&pool->busy, 1, __ATOMIC_ACQUIRE)) {
        fn(arg, 0, 0, n);
        return;
    }
    if (nchunks > max_chunks)
        nchunks = max_chunks;
    if (nchunks > TC_POOL_MAX_CHUNKS)
        nchunks = TC_POOL_MAX_CHUNKS;

    unsigned gen = ++pool->generation;
    __atomic_store_n(&pool->fn, fn, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->arg, arg, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->n, n, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->nchunks, (int)nchunks, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->by_thread, by_thread, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->completed, 0, __ATOMIC_RELAXED);
    /* seq_cst publish, then read sleepers: pairs with the worker's sleepers++
     * then state read, so either the worker sees the job or we see it asleep. */
    __atomic_store_n(&pool->state, (uint64_t)gen << 32, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&pool->sleepers, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }

    /* our chunk 0, then whatever no worker has claimed yet */
    help(pool, gen, 0, 0, fn, arg, n, (int)nchunks, by_thread);

    /* chunks claimed by workers are still running: spin, then yield the
     * core (on a loaded machine the worker may be waiting for it) */
    int spins = 0;
    while (__atomic_load_n(&pool->completed, __ATOMIC_ACQUIRE) < nchunks) {
        if (++spins < 4096)
            cpu_relax();
        else
            sched_yield();
    }
    __atomic_store_n(&pool->busy, 0, __ATOMIC_RELEASE);
}

void tc_parallel_for(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg)
{
    parallel_run(pool, n, grain, fn, arg, pool ? pool->nthreads : 1, 0);
}

void tc_parallel_for_dynamic(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg)
{
    parallel_run(pool, n, grain, fn, arg, TC_POOL_MAX_CHUNKS, 1);
}
