/* Forced into a file (gcc -include benchmarks/no_prefetch.h, relink_variant.py): every software
 * prefetch of that file compiled out (_mm_prefetch and __builtin_prefetch become nothing; the
 * address is still evaluated), the same FMAs and stores, so the same bits.  A diagnostic, for
 * what a file's prefetches are worth inside a network (h50-pf). */
#include <immintrin.h>
#undef _mm_prefetch
#define _mm_prefetch(p, h) ((void)(p))
#define __builtin_prefetch(...) ((void)0)
