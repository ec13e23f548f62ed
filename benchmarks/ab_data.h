/* The A/B harnesses' buffers (ir_ab.c, sf_ab.c): floats 64-byte aligned with a line of slack,
 * and such a buffer filled with uniform values in [-scale / 2, scale / 2) from rand(). */
#ifndef AB_DATA_H
#define AB_DATA_H
#include <stdlib.h>

static float *floats(size_t n) { return aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64); }
static float *rnd(size_t n, float scale)
{
    float *p = floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (rand() / (float)RAND_MAX - 0.5f) * scale;
    return p;
}
#endif
