/* Thread pool and CPU feature detection.
 *
 * A persistent pool of nthreads-1 workers; the calling thread runs range 0.
 * Dispatch is a generation counter: the caller publishes a job and bumps the
 * generation, workers spin on it for a while (so back-to-back kernels of one
 * inference dispatch in well under a microsecond), then sleep on a condvar so
 * an idle pool does not burn cores.
 *
 * One job at a time: a second caller (another Python thread, or a kernel
 * called from inside a worker) that finds the pool busy runs its loop inline.
 * After fork() the workers do not exist in the child: the pool remembers its
 * creator's pid and runs everything inline in any other process.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#include "tinycnn.h"

/* Spin iterations before a worker goes to sleep (~100-200 us on x86): long
 * enough to bridge the Python glue between two kernels of one inference. */
#define TC_POOL_SPIN 40000

struct tc_pool {
    int nthreads;
    pid_t owner_pid;
    pthread_t *threads;
    int nstarted;

    pthread_mutex_t mutex;
    pthread_cond_t wake;

    /* job, written by the caller before the generation bump */
    tc_range_fn fn;
    void *arg;
    ptrdiff_t n;
    int nchunks;

    unsigned generation; /* atomically bumped per job */
    int sleepers;        /* workers waiting on `wake` */
    int done;            /* workers finished with the current job */
    int busy;            /* try-lock: 1 while a caller owns the pool */
    int stop;
};

typedef struct {
    tc_pool *pool;
    int tid;
} tc_worker_arg;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

int tc_cpu_best_isa(void)
{
#if defined(__x86_64__) && defined(TC_HAVE_AVX2_SOURCES) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return TC_ISA_AVX2;
#endif
    return TC_ISA_PORTABLE;
}

static void run_chunk(tc_pool *p, int chunk)
{
    ptrdiff_t b = p->n * chunk / p->nchunks;
    ptrdiff_t e = p->n * (chunk + 1) / p->nchunks;
    if (e > b)
        p->fn(p->arg, chunk, b, e);
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
        int spins = 0;
        while ((gen = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE)) == seen &&
               spins < TC_POOL_SPIN) {
            cpu_relax();
            spins++;
        }
        if (gen == seen) {
            pthread_mutex_lock(&p->mutex);
            __atomic_add_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
            while ((gen = __atomic_load_n(&p->generation, __ATOMIC_SEQ_CST)) == seen &&
                   !__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST))
                pthread_cond_wait(&p->wake, &p->mutex);
            __atomic_sub_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
            pthread_mutex_unlock(&p->mutex);
        }
        if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
            break;
        seen = gen;
        if (tid < p->nchunks)
            run_chunk(p, tid);
        __atomic_add_fetch(&p->done, 1, __ATOMIC_ACQ_REL);
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
            __atomic_add_fetch(&pool->generation, 1, __ATOMIC_SEQ_CST);
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

void tc_parallel_for(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg)
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
    if (nchunks > pool->nthreads)
        nchunks = pool->nthreads;

    pool->fn = fn;
    pool->arg = arg;
    pool->n = n;
    pool->nchunks = (int)nchunks;
    __atomic_store_n(&pool->done, 0, __ATOMIC_RELAXED);
    /* seq_cst bump, then read sleepers: pairs with the worker's sleepers++ then
     * generation read, so either the worker sees the job or we see it asleep. */
    __atomic_add_fetch(&pool->generation, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&pool->sleepers, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }

    run_chunk(pool, 0);

    int workers = pool->nthreads - 1, spins = 0;
    while (__atomic_load_n(&pool->done, __ATOMIC_ACQUIRE) < workers) {
        if (++spins < TC_POOL_SPIN)
            cpu_relax();
        else
            sched_yield();
    }
    __atomic_store_n(&pool->busy, 0, __ATOMIC_RELEASE);
}
