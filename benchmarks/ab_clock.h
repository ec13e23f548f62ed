/* The A/B harnesses' clock and sort (dw_ab.c, gc_ab.c, chan8_ab.c, ...): the calling thread's
 * CPU time, which a shared host's preemptions do not count, and doubles in ascending order for
 * medians. */
#ifndef AB_CLOCK_H
#define AB_CLOCK_H
#include <stdlib.h>
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
/* r[i] = b[i] / a[i] (round i's ratio of B's time to A's), then r, a and b each sorted
 * ascending: medians and quartiles by index */
static void ab_ratios(double *a, double *b, double *r, int n)
{
    for (int i = 0; i < n; i++)
        r[i] = b[i] / a[i];
    qsort(r, (size_t)n, sizeof(double), cmp);
    qsort(a, (size_t)n, sizeof(double), cmp);
    qsort(b, (size_t)n, sizeof(double), cmp);
}
#endif
