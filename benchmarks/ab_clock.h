/* The A/B harnesses' clock and sort (dw_ab.c, gc_ab.c): the calling thread's CPU time, which
 * a shared host's preemptions do not count, and doubles in ascending order for medians. */
#ifndef AB_CLOCK_H
#define AB_CLOCK_H
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
#endif
