/* winograd_transform.c - the transforms of Winograd's minimal filtering, portable C.
 *
 * F(m x m, r x r): F(4x4,3x3) and F(2x2,5x5) (alpha = m + r - 1 = 6), F(2x2,3x3)
 * (alpha = 4).  Y = A^T [U . V] A, U = G g G^T (weights, packed once),
 * V = B^T d B (input tiles).  The points are Lavin's 0, +-1, +-2 (and
 * infinity) for alpha = 6, so F(4x4,3x3) and F(2x2,5x5) share B^T (the input
 * transform) and differ in G and A^T; their error stays near 1e-6 relative in
 * float32 even at C = 512 (checked in tests/test_winograd.py).  F(2x2,5x5)
 * does 9 products per output and input channel where a direct 5x5 does 25.
 *
 * Here: the input and output transforms of 8 tiles at a time (the twins of
 * winograd_avx2.c), and the weight transform and packing.  The driver that
 * runs them is winograd.c.
 */
#include <math.h>
#include <string.h>
#include "epilogue.h"
#include "tinycnn.h"
#include "winograd_internal.h"

/* ---------------------------------------------------------------------- */
/* Input and output transforms (twins of winograd_avx2.c)                  */
/* ---------------------------------------------------------------------- */

/* 1-D B^T for F(4,3): 6 vectors of 8 lanes at d + i*ds -> r + i*rs. */
static void bt6(const float *d, ptrdiff_t ds, float *r, ptrdiff_t rs)
{
    for (int l = 0; l < WG_LANES; l++) {
        float d0 = d[l], d1 = d[ds + l], d2 = d[2 * ds + l];
        float d3 = d[3 * ds + l], d4 = d[4 * ds + l], d5 = d[5 * ds + l];
        float a = d4 - 4.0f * d2, b = d3 - 4.0f * d1;
        float c = d4 - d2, e = 2.0f * (d3 - d1);
        r[l] = (d4 - 5.0f * d2) + 4.0f * d0;
        r[rs + l] = a + b;
        r[2 * rs + l] = a - b;
        r[3 * rs + l] = c + e;
        r[4 * rs + l] = c - e;
        r[5 * rs + l] = (d5 - 5.0f * d3) + 4.0f * d1;
    }
}

/* 1-D A^T for F(4,3): 6 vectors -> 4. */
static void at6(const float *m, ptrdiff_t ms, float *o, ptrdiff_t os)
{
    for (int l = 0; l < WG_LANES; l++) {
        float m0 = m[l], m1 = m[ms + l], m2 = m[2 * ms + l];
        float m3 = m[3 * ms + l], m4 = m[4 * ms + l], m5 = m[5 * ms + l];
        float s1 = m1 + m2, s2 = m1 - m2, s3 = m3 + m4, s4 = m3 - m4;
        o[l] = (m0 + s1) + s3;
        o[os + l] = s2 + 2.0f * s4;
        o[2 * os + l] = s1 + 4.0f * s3;
        o[3 * os + l] = (s2 + m5) + 8.0f * s4;
    }
}

/* 1-D A^T for F(2,5): 6 vectors -> 2 (o0 as in at6; o1 adds m5). */
static void at62(const float *m, ptrdiff_t ms, float *o, ptrdiff_t os)
{
    for (int l = 0; l < WG_LANES; l++) {
        float m0 = m[l], m1 = m[ms + l], m2 = m[2 * ms + l];
        float m3 = m[3 * ms + l], m4 = m[4 * ms + l], m5 = m[5 * ms + l];
        float s1 = m1 + m2, s2 = m1 - m2, s3 = m3 + m4, s4 = m3 - m4;
        o[l] = (m0 + s1) + s3;
        o[os + l] = (s2 + 2.0f * s4) + m5;
    }
}

static void bt4(const float *d, ptrdiff_t ds, float *r, ptrdiff_t rs)
{
    for (int l = 0; l < WG_LANES; l++) {
        float d0 = d[l], d1 = d[ds + l], d2 = d[2 * ds + l], d3 = d[3 * ds + l];
        r[l] = d0 - d2;
        r[rs + l] = d1 + d2;
        r[2 * rs + l] = d2 - d1;
        r[3 * rs + l] = d1 - d3;
    }
}

static void at4(const float *m, ptrdiff_t ms, float *o, ptrdiff_t os)
{
    for (int l = 0; l < WG_LANES; l++) {
        float m0 = m[l], m1 = m[ms + l], m2 = m[2 * ms + l], m3 = m[3 * ms + l];
        o[l] = (m0 + m1) + m2;
        o[os + l] = (m1 - m2) - m3;
    }
}

/* d[i][j][lane] <- row i, column j of each lane's patch. */
static void gather_lanes(const float *const *lp, const ptrdiff_t *ls, int alpha, float *d)
{
    for (int l = 0; l < WG_LANES; l++)
        for (int i = 0; i < alpha; i++)
            for (int j = 0; j < alpha; j++)
                d[(i * alpha + j) * WG_LANES + l] = lp[l][i * ls[l] + j];
}

/* Lanes whose n values o[i][lane] include one that is NaN or not below
 * limit in magnitude (see wg_output_fn). */
static unsigned flag_lanes(const float *o, int n, float limit)
{
    int ok[WG_LANES];
    unsigned bad = 0;
    for (int l = 0; l < WG_LANES; l++)
        ok[l] = 1;
    for (int i = 0; i < n; i++) /* lanes inner: vectorized */
        for (int l = 0; l < WG_LANES; l++)
            ok[l] &= fabsf(o[i * WG_LANES + l]) < limit; /* false for NaN */
    for (int l = 0; l < WG_LANES; l++)
        bad |= (unsigned)!ok[l] << l;
    return bad;
}

/* o[i][j][lane] -> act(o + residual) at each lane's rows x cols outputs, but
 * for the lanes in skip.  ReLU keeps NaN, like onnxruntime. */
static void scatter_lanes(const float *o, int m, float *const *yp, const float *const *rp,
                          ptrdiff_t ys, const int *rows, const int *cols, tc_act_k act,
                          unsigned skip)
{
    for (int l = 0; l < WG_LANES; l++) {
        if (skip >> l & 1)
            continue;
        for (int i = 0; i < rows[l]; i++) {
            for (int j = 0; j < cols[l]; j++) {
                float s = o[(i * m + j) * WG_LANES + l];
                if (rp[l])
                    s += rp[l][i * ys + j];
                yp[l][i * ys + j] = tc_act_f32(act, s);
            }
        }
    }
}

static void input4_portable(const float *const *lp, const ptrdiff_t *ls, float *v,
                            ptrdiff_t vstride)
{
    float d[36 * WG_LANES], t[36 * WG_LANES];
    gather_lanes(lp, ls, 6, d);
    for (int j = 0; j < 6; j++) /* along i: t[i'][j] = sum_i BT[i'][i] d[i][j] */
        bt6(d + j * WG_LANES, 6 * WG_LANES, t + j * WG_LANES, 6 * WG_LANES);
    for (int i = 0; i < 6; i++) /* along j */
        bt6(t + i * 6 * WG_LANES, WG_LANES, v + i * 6 * vstride, vstride);
}

static void input2_portable(const float *const *lp, const ptrdiff_t *ls, float *v,
                            ptrdiff_t vstride)
{
    float d[16 * WG_LANES], t[16 * WG_LANES];
    gather_lanes(lp, ls, 4, d);
    for (int j = 0; j < 4; j++)
        bt4(d + j * WG_LANES, 4 * WG_LANES, t + j * WG_LANES, 4 * WG_LANES);
    for (int i = 0; i < 4; i++)
        bt4(t + i * 4 * WG_LANES, WG_LANES, v + i * 4 * vstride, vstride);
}

static unsigned output4_portable(const float *m, ptrdiff_t mstride, float bias,
                                 float *const *yp, const float *const *rp, ptrdiff_t ys,
                                 const int *rows, const int *cols, tc_act_k act)
{
    float t[4 * 6 * WG_LANES], o[16 * WG_LANES];
    for (int j = 0; j < 6; j++) /* along i: 6 -> 4 rows */
        at6(m + j * mstride, 6 * mstride, t + j * WG_LANES, 6 * WG_LANES);
    unsigned bad = flag_lanes(t, 24, WG_T_LIMIT);
    for (int i = 0; i < 4; i++) /* along j */
        at6(t + i * 6 * WG_LANES, WG_LANES, o + i * 4 * WG_LANES, WG_LANES);
    for (int i = 0; i < 16 * WG_LANES; i++)
        o[i] += bias;
    scatter_lanes(o, 4, yp, rp, ys, rows, cols, act, bad);
    return bad;
}

/* The F(2x2) tail of an output transform: o[i][j][lane] -> flags (NaN or Inf
 * before bias, see wg_output_fn), bias, and the store of the other lanes. */
static unsigned finish_2x2(float *o, float bias, float *const *yp, const float *const *rp,
                           ptrdiff_t ys, const int *rows, const int *cols, tc_act_k act)
{
    unsigned bad = flag_lanes(o, 4, INFINITY);
    for (int i = 0; i < 4 * WG_LANES; i++)
        o[i] += bias;
    scatter_lanes(o, 2, yp, rp, ys, rows, cols, act, bad);
    return bad;
}

static unsigned output2_portable(const float *m, ptrdiff_t mstride, float bias,
                                 float *const *yp, const float *const *rp, ptrdiff_t ys,
                                 const int *rows, const int *cols, tc_act_k act)
{
    float t[2 * 4 * WG_LANES], o[4 * WG_LANES];
    for (int j = 0; j < 4; j++)
        at4(m + j * mstride, 4 * mstride, t + j * WG_LANES, 4 * WG_LANES);
    for (int i = 0; i < 2; i++)
        at4(t + i * 4 * WG_LANES, WG_LANES, o + i * 2 * WG_LANES, WG_LANES);
    return finish_2x2(o, bias, yp, rp, ys, rows, cols, act);
}

static unsigned output25_portable(const float *m, ptrdiff_t mstride, float bias,
                                  float *const *yp, const float *const *rp, ptrdiff_t ys,
                                  const int *rows, const int *cols, tc_act_k act)
{
    float t[2 * 6 * WG_LANES], o[4 * WG_LANES];
    for (int j = 0; j < 6; j++) /* along i: 6 -> 2 rows */
        at62(m + j * mstride, 6 * mstride, t + j * WG_LANES, 6 * WG_LANES);
    for (int i = 0; i < 2; i++) /* along j */
        at62(t + i * 6 * WG_LANES, WG_LANES, o + i * 2 * WG_LANES, WG_LANES);
    return finish_2x2(o, bias, yp, rp, ys, rows, cols, act);
}

const tc_wg_kernels tc_wg_portable = {
    .input6 = input4_portable,
    .input4 = input2_portable,
    .output_4x4_3x3 = output4_portable,
    .output_2x2_3x3 = output2_portable,
    .output_2x2_5x5 = output25_portable,
    .recover = tc_wg_recover_portable,
    .direct3 = tc_wg_direct3_portable,
};

/* ---------------------------------------------------------------------- */
/* Weight transform and packing                                           */
/* ---------------------------------------------------------------------- */

static const double G4[6][3] = {
    {1.0 / 4, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0, 0, 1},
};
static const double G2[4][3] = {
    {1, 0, 0},
    {0.5, 0.5, 0.5},
    {0.5, -0.5, 0.5},
    {0, 0, 1},
};
static const double G25[6][5] = {
    {1.0 / 4, 0, 0, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3},
    {1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3},
    {0, 0, 0, 0, 1},
};

size_t tc_wg_packed_size(int K, int C, int r, int tile)
{
    if (!tc_wg_supported(r, tile))
        return 0;
    int alpha = tile + r - 1;
    return (size_t)alpha * alpha * tc_wg_round_up(K, WG_KR) * C + tc_wg_raw_floats(K, C, r);
}

#if defined(__GNUC__) || defined(__clang__)
#define WG_INLINE inline __attribute__((always_inline))
#else
#define WG_INLINE inline
#endif

/* u = G g G^T of one r x r filter, in double (the rounding to float of u is the
 * only one).  Inlined with constant alpha and r, so that the loops unroll. */
static WG_INLINE void transform_filter(const double *G, int alpha, int r, const float *g,
                                       double u[6][6])
{
    double t[6][5];
    for (int i = 0; i < alpha; i++) /* t = G g */
        for (int j = 0; j < r; j++) {
            double acc = 0.0;
            for (int q = 0; q < r; q++)
                acc += G[i * r + q] * g[q * r + j];
            t[i][j] = acc;
        }
    for (int i = 0; i < alpha; i++) /* u = t G^T */
        for (int j = 0; j < alpha; j++) {
            double acc = 0.0;
            for (int q = 0; q < r; q++)
                acc += t[i][q] * G[j * r + q];
            u[i][j] = acc;
        }
}

typedef struct {
    const float *w;
    int K, C, r, alpha, np;
    float *packed, *raw;
} wg_pack_job;

/* Output-channel panels [begin, end): for each input channel, the WG_KR
 * channels of a panel land side by side in every plane (lanes past K: 0). */
static void pack_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const wg_pack_job *j = (const wg_pack_job *)arg;
    const int C = j->C, r = j->r, alpha = j->alpha;
    (void)tid;
    for (ptrdiff_t p = begin; p < end; p++) {
        for (int c = 0; c < C; c++) {
            for (int q = 0; q < WG_KR; q++) {
                int k = (int)p * WG_KR + q;
                double u[6][6] = {{0}};
                const float *g = k < j->K ? j->w + ((size_t)k * C + c) * r * r : NULL;
                if (g && alpha == 6 && r == 3)
                    transform_filter(&G4[0][0], 6, 3, g, u);
                else if (g && alpha == 4)
                    transform_filter(&G2[0][0], 4, 3, g, u);
                else if (g)
                    transform_filter(&G25[0][0], 6, 5, g, u);
                for (int xi = 0; xi < alpha * alpha; xi++)
                    j->packed[(((size_t)xi * j->np + p) * C + c) * WG_KR + q] =
                        (float)u[xi / alpha][xi % alpha];
                if (r == 5)
                    for (int t = 0; t < 25; t++)
                        j->raw[(((size_t)p * C + c) * 25 + t) * WG_KR + q] = g ? g[t] : 0.0f;
            }
        }
    }
}

/* w: [K, C, r, r]  ->  packed: [alpha^2][Kp/WG_KR][C][WG_KR] (+ raw filters for r = 5) */
void tc_wg_pack_f32(const tc_ctx *ctx, const float *w, int K, int C, int r, int tile,
                    float *packed)
{
    if (!tc_wg_supported(r, tile))
        return;
    int alpha = tile + r - 1, Kp = tc_wg_round_up(K, WG_KR);
    wg_pack_job j = {.w = w, .K = K, .C = C, .r = r, .alpha = alpha, .np = Kp / WG_KR,
                     .packed = packed, .raw = packed + (size_t)alpha * alpha * Kp * C};
    tc_parallel_for_dynamic(ctx ? ctx->pool : NULL, j.np, 1, pack_range, &j);
}
