/* The chan8 block's depthwise alone (csrc/ir_chan8_avx2.c dw8: the strips' 16-channel calls over
 * E channels of one band, from its padded NHWC8 buffers, as chan8_strips makes them) with two
 * checkouts' ir_chan8_avx2.c alternating in one process, 1 thread, on the thread's CPU clock
 * (benchmarks/dw8_ab.sh builds it).  chan8_ab.c times the strips, whose expansion is 60-85% of
 * their time: a few % of the depthwise drown there; here the two builds of one code read
 * 1.000 [0.997-1.003] with the host at load 50 (h52-mn, 2026-12-07).  The buffers hold random
 * values (the same for every call, hot in L1 / L2 as the expansion leaves them); prints both
 * medians per band, the per-round ratio b/a (median [25-75%]), the ratio of the minima, and
 * whether the outputs are bit-identical.
 *
 *     dw8_ab W KC STRIDE BAND E CALLS ROUNDS
 * W: the square input's width, BAND: output rows (the planned band; OH for the whole map), E:
 * channels (a multiple of 8).  MnasNet's layers.8.0 (48@112 3x3/2, 12-row bands):
 * dw8_ab 112 3 2 12 48 20 41; its 7x7 blocks: dw8_ab 7 5 1 7 1152 10 41. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ab_clock.h"

typedef void (*dw_fn)(int, int, int, int, int, const __m256 *, size_t, const float *,
                      const float *, int, float *, size_t, __m256 *, const int *);
void dw8_a(int, int, int, int, int, const __m256 *, size_t, const float *, const float *, int,
           float *, size_t, __m256 *, const int *);
void dw8_b(int, int, int, int, int, const __m256 *, size_t, const float *, const float *, int,
           float *, size_t, __m256 *, const int *);
int setup_a(int, int, int, int, int, int, __m256 *, size_t, int *, int *, int *);

/* the strips' only call outside the file, with means (never here) */
void tc_fused_plane_means(const void *ctx, const float *y, ptrdiff_t nplanes, size_t plane,
                          float *means)
{
    (void)ctx, (void)y, (void)nplanes, (void)plane, (void)means;
}

static float frand(void) { return (float)(rand() % 2001) / 1000.f - 1.f; }

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: %s W KC STRIDE BAND E CALLS ROUNDS\n", argv[0]);
        return 2;
    }
    const int W = atoi(argv[1]), KC = atoi(argv[2]), s = atoi(argv[3]), band = atoi(argv[4]);
    const int E = atoi(argv[5]), calls = atoi(argv[6]), R = atoi(argv[7]);
    const int OW = (W - 1) / s + 1, Wp = W + KC - 1, n = band * OW;
    const int rows = (band - 1) * s + KC;
    if (E % 8 || n < 8 || band > OW) {
        fprintf(stderr, "E a multiple of 8, at least 8 output pixels, BAND <= the output rows\n");
        return 2;
    }
    /* ir_fused.c chan8_slot_floats' buffers: two padded pixel buffers, ob, pix, pin */
    const size_t bstride = ((size_t)rows * Wp + 8 + 1) & ~(size_t)1;
    __m256 *buf = aligned_alloc(64, 2 * bstride * sizeof(__m256));
    __m256 *ob = aligned_alloc(64, (size_t)(n + 16) * sizeof(__m256));
    int *pix = malloc((size_t)(n + 16) * sizeof(int));
    int *pin = malloc((size_t)rows * W * sizeof(int)), i1;
    setup_a(KC, W, W, s, 0, band, buf, bstride, pix, pin, &i1);
    /* the insides (the expansion's) random, the borders as the setup zeroed them */
    float *fb = (float *)buf;
    for (size_t v = 0; v < 2 * bstride; v++) {
        const size_t t = v % bstride;
        const int col = (int)(t % Wp), row = (int)(t / Wp), row0 = -(KC / 2);
        if (row < rows && col >= KC / 2 && col < W + KC / 2 && row0 + row >= 0 && row0 + row < W)
            for (int l = 0; l < 8; l++)
                fb[v * 8 + l] = frand();
    }
    float *w = malloc((size_t)E * KC * KC * sizeof(float)), *bias = malloc(E * sizeof(float));
    for (int i = 0; i < E * KC * KC; i++)
        w[i] = frand();
    for (int i = 0; i < E; i++)
        bias[i] = 0.1f * frand();
    const size_t ldy = (size_t)n;
    float *ys[2];
    for (int v = 0; v < 2; v++)
        ys[v] = aligned_alloc(64, ((size_t)E * ldy * sizeof(float) + 63) & ~(size_t)63);
    double *t[2], *ratio = malloc(R * sizeof(double));
    t[0] = malloc(R * sizeof(double)), t[1] = malloc(R * sizeof(double));
    for (int r = 0; r < R; r++) {
        for (int k = 0; k < 2; k++) {
            const int v = (r + k) & 1; /* each build first in every other round */
            const dw_fn f = v ? dw8_b : dw8_a;
            const double t0 = now();
            for (int c = 0; c < calls; c++)
                for (int e0 = 0; e0 < E; e0 += 16) /* one strip's 16 (or last 8) channels */
                    f(KC, s, E - e0 < 16 ? E - e0 : 16, Wp, n, buf, bstride,
                      w + (size_t)e0 * KC * KC, bias + e0, 1, ys[v] + (size_t)e0 * ldy, ldy, ob,
                      pix);
            t[v][r] = (now() - t0) / calls;
        }
    }
    const int same = !memcmp(ys[0], ys[1], (size_t)E * ldy * sizeof(float));
    ab_ratios(t[0], t[1], ratio, R);
    printf("%4d@%-3d k%d/%d band %3d  a %8.2f us  b %8.2f us  b/a %.3f [%.3f-%.3f]  min %.3f"
           "  same=%d\n", E, W, KC, s, band, t[0][R / 2] * 1e6, t[1][R / 2] * 1e6, ratio[R / 2],
           ratio[R / 4], ratio[3 * R / 4], t[1][0] / t[0][0], same);
    return 0;
}
