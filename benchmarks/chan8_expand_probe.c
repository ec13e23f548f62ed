/* chan8_expand alone (csrc/ir_chan8_avx2.c: every 16-channel strip's expansion of one map into
 * the depthwise's padded pixel buffers, no depthwise), hot, 1 thread, on the thread's CPU clock:
 * GFLOP/s of the real x (its C rows N floats apart) and of x's rows all at one address (ldx 0:
 * every broadcast from one L1-hot row, the K loop's bound without x's traffic), in rotation in
 * one process (medians); with benchmarks/chan8_pack_x.patch applied also x packed for the tiles
 * (chan8_pack_x) and the packing's own time.  Built against a checkout's csrc (the file included):
 *   gcc -O3 -std=gnu11 -mavx2 -mfma -DTC_HAVE_AVX2_SOURCES -Icsrc -Ibenchmarks \
 *       benchmarks/chan8_expand_probe.c -o /tmp/chan8_expand_probe -lm
 *   /tmp/chan8_expand_probe E C H ACT CALLS [ROUNDS]    e.g. 576 96 14 2 50 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir_chan8_avx2.c"
#include "ab_clock.h"

void tc_fused_plane_means(const tc_ctx *ctx, const float *y, ptrdiff_t nplanes, size_t plane,
                          float *means)
{
    (void)ctx, (void)y, (void)nplanes, (void)plane, (void)means;
    abort();
}

static float frand(void) { return rand() / (float)RAND_MAX - 0.5f; }

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s E C H ACT CALLS [ROUNDS]\n", argv[0]);
        return 2;
    }
    const int E = atoi(argv[1]), C = atoi(argv[2]), H = atoi(argv[3]), kind = atoi(argv[4]);
    const int calls = atoi(argv[5]), R = argc > 6 ? atoi(argv[6]) : 31, N = H * H;
    const size_t E16 = (size_t)(E + 15) / 16 * 16, Wp = H + 2;
    const size_t bstride = (((size_t)H + 2) * Wp + 8 + 1) & ~(size_t)1;
    float *x = aligned_alloc(64, ((size_t)C * N + 16) * sizeof(float));
    float *a = aligned_alloc(64, E16 * C * sizeof(float)), *bias = malloc(E16 * sizeof(float));
    __m256 *buf = aligned_alloc(64, 2 * bstride * sizeof(__m256));
    int *pin = malloc(((size_t)N + 8) * sizeof(int));
    srand(1);
    for (size_t i = 0; i < (size_t)C * N; i++)
        x[i] = frand();
    for (size_t i = 0; i < E16 * C; i++)
        a[i] = frand() * 0.3f;
    for (size_t i = 0; i < E16; i++)
        bias[i] = frand();
    for (int i = 0, o = 0; i < H; i++)
        for (int j = 0; j < H; j++, o++)
            pin[o] = (i + 1) * (int)Wp + j + 1;
    memset(buf, 0, 2 * bstride * sizeof(__m256));
    tc_act_k act = {kind, 0.0f, 6.0f};
    float *xp = aligned_alloc(64, ((size_t)C * N + 16) * sizeof(float));
#ifdef TC_CHAN8_PACK_MIN_FLOATS
    chan8_pack_x(C, N, (size_t)N, x, xp);
    const int variants = 4;
#define PROBE_PACK(...) chan8_pack_x(__VA_ARGS__)
#define PROBE_EXPAND(C, E16, N, ldx, packed, ...) chan8_expand(C, E16, N, ldx, packed, __VA_ARGS__)
#else /* the base's file: no packed layout */
    const int variants = 2;
#define PROBE_PACK(...) (void)0
#define PROBE_EXPAND(C, E16, N, ldx, packed, ...) chan8_expand(C, E16, N, ldx, __VA_ARGS__)
#endif
    double *t[4];
    for (int v = 0; v < 4; v++)
        t[v] = malloc(R * sizeof(double));
    for (int rep = 0; rep < R; rep++)
        for (int q = 0; q < variants; q++) {
            const int v = (q + rep) % variants; /* 0 x, 1 ldx 0, 2 packed, 3 the packing */
            const double t0 = now();
            for (int it = 0; it < calls; it++) {
                if (v == 3) {
                    PROBE_PACK(C, N, (size_t)N, x, xp);
                    continue;
                }
                for (int m = 0; m < E; m += 16)
                    PROBE_EXPAND(C, E - m < 16 ? E - m : 16, N, v == 1 ? 0 : (size_t)N, v == 2,
                                 a + (size_t)m * C, bias + m, act, v == 2 ? xp : x, pin,
                                 (float *)buf, (float *)(buf + bstride), NULL, 0);
            }
            t[v][rep] = (now() - t0) / calls;
        }
    for (int v = 0; v < variants; v++)
        qsort(t[v], (size_t)R, sizeof(double), cmp);
    const double gf = 2.0 * C * E * N * 1e-9;
    static const char *name[3] = {"x", "ldx 0", "packed"};
    printf("%d-%d@%d act %d:", C, E, H, kind);
    for (int v = 0; v < (variants > 2 ? 3 : 2); v++)
        printf("  %s %.2f us (%.1f GF/s, min %.1f)", name[v], t[v][R / 2] * 1e6,
               gf / t[v][R / 2], gf / t[v][0]);
    if (variants > 3)
        printf("  packing %.2f us", t[3][R / 2] * 1e6);
    printf("\n");
    return 0;
}
