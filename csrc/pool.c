/* Thread pool and CPU feature detection.
 * Placeholder: serial execution.  The persistent, fork-safe pool replaces it. */
#include <stdlib.h>
#include "tinycnn.h"

struct tc_pool {
    int nthreads;
};

int tc_cpu_best_isa(void)
{
#if defined(__x86_64__) && defined(TC_HAVE_AVX2_SOURCES) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return TC_ISA_AVX2;
#endif
    return TC_ISA_PORTABLE;
}

tc_pool *tc_pool_create(int nthreads)
{
    tc_pool *p = (tc_pool *)calloc(1, sizeof(*p));
    if (p)
        p->nthreads = nthreads < 1 ? 1 : nthreads;
    return p;
}

void tc_pool_destroy(tc_pool *pool) { free(pool); }

int tc_pool_size(const tc_pool *pool) { return pool ? pool->nthreads : 1; }

void tc_parallel_for(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg)
{
    (void)pool;
    (void)grain;
    if (n > 0)
        fn(arg, 0, 0, n);
}
