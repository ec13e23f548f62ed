/* winograd.c - stride-1 convolution by Winograd's minimal filtering.
 *
 * F(m x m, r x r): F(4x4,3x3) and F(2x2,5x5) (alpha = m + r - 1 = 6), F(2x2,3x3)
 * (alpha = 4).  Y = A^T [U . V] A, U = G g G^T (weights, packed once),
 * V = B^T d B (input tiles).  The points are Lavin's 0, +-1, +-2 (and
 * infinity) for alpha = 6, so F(4x4,3x3) and F(2x2,5x5) share B^T (the input
 * transform) and differ in G and A^T; their error stays near 1e-6 relative in
 * float32 even at C = 512 (checked in tests/test_winograd.py).  F(2x2,5x5)
 * does 9 products per output and input channel where a direct 5x5 does 25.
 *
 * One run walks the tiles (n, ty, tx flattened) in chunks small enough that
 * the chunk's transformed input V and products M stay in L2/L3.  Per chunk:
 *   1. input transform:  x -> V[xi][group][C][w], 8 tiles per call
 *   2. alpha^2 GEMMs:    M[xi] = U[xi] V[xi], register-tiled WG_KR x WG_NR;
 *                        loop order xi, panel of WG_KR output channels, group:
 *                        each U panel is read once per chunk, V[xi] stays in L2
 *   3. output transform: M[xi][group][Kp][w] -> y with bias, residual and
 *                        activation fused into the only store, 8 tiles per call
 * Threads either run whole chunks each (many chunks: no barriers, V and M stay
 * in one core's caches) or share every phase of each chunk (few chunks: over
 * (group, c), (xi, panel) and (group, k)); see make_plan.  Either way they
 * claim work dynamically: when one core runs slower (a busy or shared
 * machine) the other takes more, instead of waiting for it at every barrier.
 */
#include <math.h>
#include <string.h>
#include "epilogue.h"
#include "tinycnn.h"
#include "winograd_internal.h"

/* ---------------------------------------------------------------------- */
/* Portable transforms and micro-kernel (twins of winograd_avx2.c)         */
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
                          ptrdiff_t ys, const int *rows, const int *cols, int act,
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
                                 const int *rows, const int *cols, int act)
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
                           ptrdiff_t ys, const int *rows, const int *cols, int act)
{
    unsigned bad = flag_lanes(o, 4, INFINITY);
    for (int i = 0; i < 4 * WG_LANES; i++)
        o[i] += bias;
    scatter_lanes(o, 2, yp, rp, ys, rows, cols, act, bad);
    return bad;
}

static unsigned output2_portable(const float *m, ptrdiff_t mstride, float bias,
                                 float *const *yp, const float *const *rp, ptrdiff_t ys,
                                 const int *rows, const int *cols, int act)
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
                                  const int *rows, const int *cols, int act)
{
    float t[2 * 6 * WG_LANES], o[4 * WG_LANES];
    for (int j = 0; j < 6; j++) /* along i: 6 -> 2 rows */
        at62(m + j * mstride, 6 * mstride, t + j * WG_LANES, 6 * WG_LANES);
    for (int i = 0; i < 2; i++) /* along j */
        at62(t + i * 6 * WG_LANES, WG_LANES, o + i * 2 * WG_LANES, WG_LANES);
    return finish_2x2(o, bias, yp, rp, ys, rows, cols, act);
}

/* u: [C][WG_KR]  v: [C][w]  ->  m: [WG_KR][w] */
static void gemm_portable(const float *u, const float *v, int C, int w, float *m)
{
    float acc[WG_KR][WG_NR];
    memset(acc, 0, sizeof(acc));
    for (int c = 0; c < C; c++) {
        const float *vc = v + (ptrdiff_t)c * w;
        for (int r = 0; r < WG_KR; r++) {
            float a = u[c * WG_KR + r];
            for (int l = 0; l < w; l++)
                acc[r][l] += a * vc[l];
        }
    }
    for (int r = 0; r < WG_KR; r++)
        memcpy(m + r * w, acc[r], sizeof(float) * w);
}

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

/* The (r, m) pairs of the file: F(4x4,3x3), F(2x2,3x3), F(2x2,5x5). */
static int supported(int r, int m) { return (r == 3 && (m == 4 || m == 2)) || (r == 5 && m == 2); }

/* The alpha^2 planes of V (of M) are written (read) together by each input
 * (output) transform: one cache line of padding keeps the plane strides off
 * multiples of 4 KiB, which would make them all alias in L1.  (M laid out
 * [group][k][xi][w] instead, contiguous for the output transform, measured
 * 5-10% slower: the GEMM's stores then scatter.) */
#define WG_PLANE_PAD 16

static int round_up(int a, int b) { return (a + b - 1) / b * b; }

/* F(2x2,5x5) also keeps the raw filters, [Kp/WG_KR][C][25][WG_KR], for the
 * direct fallback (recovering a 5x5 filter from U would take more than two
 * rows of G per row, and 5x5 layers are few and small). */
static size_t raw_floats(int K, int C, int r) { return r == 5 ? (size_t)round_up(K, WG_KR) * C * 25 : 0; }

size_t tc_wg_packed_size(int K, int C, int r, int tile)
{
    if (!supported(r, tile))
        return 0;
    int alpha = tile + r - 1;
    return (size_t)alpha * alpha * round_up(K, WG_KR) * C + raw_floats(K, C, r);
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
    if (!supported(r, tile))
        return;
    int alpha = tile + r - 1, Kp = round_up(K, WG_KR);
    wg_pack_job j = {.w = w, .K = K, .C = C, .r = r, .alpha = alpha, .np = Kp / WG_KR,
                     .packed = packed, .raw = packed + (size_t)alpha * alpha * Kp * C};
    tc_parallel_for_dynamic(ctx ? ctx->pool : NULL, j.np, 1, pack_range, &j);
}

/* ---------------------------------------------------------------------- */
/* Driver                                                                 */
/* ---------------------------------------------------------------------- */

typedef struct {
    const float *x;
    int N, C, H, W, K, Kp;
    int pt, pl, r, m, alpha, OH, OW, nty, ntx;
    const float *packed, *raw, *bias, *res; /* raw: the filters, for r = 5 */
    float *y;
    int act;
    float *V, *M;
    ptrdiff_t t0; /* first tile of the chunk */
    int nt, ntp, ng; /* tiles in chunk, padded tiles, groups */
    ptrdiff_t vstride, mstride; /* floats between the planes of V and of M */
    wg_input_fn input;
    wg_output_fn output;
    wg_gemm_fn gemm;
    wg_recover_fn recover;
    wg_direct_fn direct;
} wg_job;

/* Width of group g: 16, or 8 for a last group holding at most 8 tiles. */
static int group_width(const wg_job *j, int g)
{
    return (g == j->ng - 1 && j->nt - g * WG_NR <= WG_LANES) ? WG_LANES : WG_NR;
}

/* How a run is cut into chunks of tiles.  A chunk's V and M should stay in
 * L2/L3 (about WG_CHUNK_BYTES), but hold at least WG_CHUNK_MIN tiles so that
 * each read of U (alpha^2 * Kp * C floats, from L3 or DRAM) feeds enough
 * flops.  Tiles are spread evenly over the chunks: no short last chunk that
 * re-reads all of U for a handful of tiles.  With several threads and enough
 * chunks, each thread runs whole chunks in its own workspace slot (no barrier
 * between the three phases, V and M stay in that core's caches); otherwise
 * the threads share each phase of each chunk. */
#ifndef WG_CHUNK_BYTES
#define WG_CHUNK_BYTES (2L << 20)
#endif
#ifndef WG_CHUNK_MIN
#define WG_CHUNK_MIN 64
#endif
#ifndef WG_CHUNKS_PER_THREAD
#define WG_CHUNKS_PER_THREAD 2 /* least chunks per thread for whole-chunk threading */
#endif

typedef struct {
    ptrdiff_t total;   /* tiles in the run */
    ptrdiff_t per;     /* tiles per chunk, a multiple of 8 (the last may have fewer) */
    ptrdiff_t nchunks;
    int slots;         /* workspace slots: threads running whole chunks, or 1 */
    size_t slot_size;  /* floats per slot */
} wg_plan;

static void get_tiles(int H, int W, int pt, int pl, int pb, int pr, int r, int m,
                      int *OH, int *OW, int *nty, int *ntx)
{
    *OH = H + pt + pb - (r - 1);
    *OW = W + pl + pr - (r - 1);
    *nty = *OH > 0 ? (*OH + m - 1) / m : 0;
    *ntx = *OW > 0 ? (*OW + m - 1) / m : 0;
}

static wg_plan make_plan(ptrdiff_t total, int C, int Kp, int alpha, int nthreads)
{
    wg_plan p;
    long per_tile = (long)alpha * alpha * (C + Kp) * (long)sizeof(float);
    ptrdiff_t t = WG_CHUNK_BYTES / per_tile;
    t = t / WG_NR * WG_NR;
    if (t < WG_CHUNK_MIN)
        t = WG_CHUNK_MIN;
    if (t > 1024)
        t = 1024;
    p.total = total;
    p.nchunks = total > 0 ? (total + t - 1) / t : 1;
    p.slots = 1;
    /* whole chunks per thread re-read U per thread: only while U fits in L3 */
    size_t u_bytes = (size_t)alpha * alpha * Kp * C * sizeof(float);
    if (nthreads > 1 && p.nchunks >= WG_CHUNKS_PER_THREAD * nthreads && u_bytes <= (16u << 20)) {
        /* a multiple of the thread count keeps the threads evenly loaded */
        p.nchunks = (p.nchunks + nthreads - 1) / nthreads * nthreads;
        p.slots = nthreads;
    }
    p.per = (total + p.nchunks - 1) / p.nchunks;
    p.per = (p.per + WG_LANES - 1) / WG_LANES * WG_LANES;
    if (p.per < WG_LANES)
        p.per = WG_LANES;
    p.nchunks = (total + p.per - 1) / p.per;
    /* a chunk of per tiles has per padded tiles: per is a multiple of 8 */
    p.slot_size = (size_t)alpha * alpha * ((size_t)(C + Kp) * p.per + 2 * WG_PLANE_PAD);
    return p;
}

size_t tc_wg_workspace_size(const tc_ctx *ctx, int N, int C, int H, int W, int K,
                                   int pad_t, int pad_l, int pad_b, int pad_r, int r, int tile)
{
    int OH, OW, nty, ntx, alpha = tile + r - 1, Kp = round_up(K, WG_KR);
    get_tiles(H, W, pad_t, pad_l, pad_b, pad_r, r, tile, &OH, &OW, &nty, &ntx);
    if (!supported(r, tile) || OH < 1 || OW < 1 || N < 1)
        return 0;
    wg_plan p = make_plan((ptrdiff_t)N * nty * ntx, C, Kp, alpha,
                          ctx ? tc_pool_size(ctx->pool) : 1);
    return (size_t)p.slots * p.slot_size;
}

/* Where lane l's input patch starts (offset of channel 0) and whether it can
 * be read in place: inside the image, and each of its rows readable 8 floats
 * wide without leaving x (the AVX2 transform loads whole vectors). */
typedef struct {
    ptrdiff_t off;
    int iy0, ix0, valid, inplace;
} wg_in_lane;

static void input_lanes(const wg_job *j, int g, wg_in_lane *lanes)
{
    int a = j->alpha, H = j->H, W = j->W;
    ptrdiff_t per_img = (ptrdiff_t)j->nty * j->ntx;
    for (int l = 0; l < WG_NR; l++) {
        int idx = g * WG_NR + l;
        wg_in_lane *q = &lanes[l];
        q->valid = idx < j->nt;
        if (!q->valid)
            continue;
        ptrdiff_t t = j->t0 + idx;
        int n = (int)(t / per_img), r = (int)(t % per_img);
        q->iy0 = (r / j->ntx) * j->m - j->pt;
        q->ix0 = (r % j->ntx) * j->m - j->pl;
        q->off = (ptrdiff_t)n * j->C * H * W + (ptrdiff_t)q->iy0 * W + q->ix0;
        q->inplace = q->iy0 >= 0 && q->ix0 >= 0 && q->iy0 + a <= H && q->ix0 + a <= W &&
                     (q->ix0 + 8 <= W || q->iy0 + a < H);
    }
}

#ifndef WG_PF_X
#define WG_PF_X 4 /* channels ahead to prefetch input rows (0: off) */
#endif

/* The 8 zero floats a missing tile reads (stride 0). */
static const float wg_zeros[8] = {0};

static void input_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const wg_job *j = (const wg_job *)arg;
    int a = j->alpha, H = j->H, W = j->W, C = j->C, g_cur = -1;
    ptrdiff_t vstride = j->vstride, HW = (ptrdiff_t)H * W;
    wg_in_lane lanes[WG_NR];
    float patch[WG_LANES][6 * 8]; /* zero-padded copies of edge patches */
    const float *lp[WG_LANES];
    ptrdiff_t ls[WG_LANES];
    (void)tid;
    for (ptrdiff_t it = begin; it < end; it++) {
        int g = (int)(it / C), c = (int)(it % C);
        int w = group_width(j, g);
        if (g != g_cur) {
            input_lanes(j, g, lanes);
            g_cur = g;
        }
        float *v = j->V + (ptrdiff_t)g * WG_NR * C + (ptrdiff_t)c * w;
#if WG_PF_X > 0 && (defined(__GNUC__) || defined(__clang__))
        /* The rows of 16 tiles of one channel are 6 short streams that the
         * hardware prefetchers do not follow: fetch those of channel c + WG_PF_X. */
        if (lanes[0].valid && c + WG_PF_X < C) {
            const float *px = j->x + lanes[0].off + (c + WG_PF_X) * HW;
            for (int u = 0; u < a; u++)
                for (int e = 0; e < w * j->m + a - j->m; e += 16)
                    __builtin_prefetch(px + (ptrdiff_t)u * W + e);
        }
#endif
        for (int half = 0; half < w / WG_LANES; half++) {
            for (int l = 0; l < WG_LANES; l++) {
                const wg_in_lane *q = &lanes[half * WG_LANES + l];
                if (!q->valid) {
                    lp[l] = wg_zeros;
                    ls[l] = 0;
                } else if (q->inplace) {
                    lp[l] = j->x + q->off + c * HW;
                    ls[l] = W;
                } else {
                    const float *xc = j->x + q->off - (ptrdiff_t)q->iy0 * W - q->ix0 + c * HW;
                    float *p = patch[l];
                    for (int u = 0; u < a; u++) {
                        int iy = q->iy0 + u;
                        for (int vv = 0; vv < 8; vv++) {
                            int ix = q->ix0 + vv;
                            p[u * 8 + vv] = (vv < a && iy >= 0 && iy < H && ix >= 0 && ix < W)
                                                ? xc[(ptrdiff_t)iy * W + ix] : 0.0f;
                        }
                    }
                    lp[l] = p;
                    ls[l] = 8;
                }
            }
            j->input(lp, ls, v + half * WG_LANES, vstride);
        }
    }
}

static void gemm_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const wg_job *j = (const wg_job *)arg;
    int np = j->Kp / WG_KR, C = j->C;
    (void)tid;
    for (ptrdiff_t it = begin; it < end; it++) {
        int xi = (int)(it / np), p = (int)(it % np);
        const float *u = j->packed + ((ptrdiff_t)xi * np + p) * C * WG_KR;
        const float *v = j->V + (ptrdiff_t)xi * j->vstride;
        float *mm = j->M + (ptrdiff_t)xi * j->mstride;
        for (int g = 0; g < j->ng; g++) {
            int w = group_width(j, g);
            j->gemm(u, v + (ptrdiff_t)g * WG_NR * C, C, w,
                    mm + (ptrdiff_t)g * WG_NR * j->Kp + (ptrdiff_t)p * WG_KR * w);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Direct fallback for the tiles whose Winograd result is not finite        */
/* ---------------------------------------------------------------------- */

/* One NaN or Inf in a tile's input spreads over the whole tile, for every
 * output channel (and a huge finite input can overflow in the transforms),
 * where a direct convolution gives NaN or Inf only at the outputs whose 3x3
 * window holds one.  The output transforms flag such tiles (see wg_output_fn;
 * on finite inputs that costs an integer max per vector of the first stage,
 * or an FMA per output vector) and those are recomputed here, directly.  The
 * raw 3x3 filters are not kept: they come back from U = G g G^T as
 * g = R U R^T, where R G = I takes row 0 of G (times 4 for F(4x4)), the
 * difference of rows 1 and 2 (their middle column) and the last row. */

/* The 3x3 filters of one panel of WG_KR output channels and one input channel
 * (see wg_recover_fn; lanes past WG_KR, and the padding channels past K:
 * zero).  g[0][0], g[0][2], g[2][0] and g[2][2] come back exactly, the others
 * within 5 roundings (U's, the product, 3 sums: 2^-24 each) of the sum of
 * their terms' magnitudes e.  A value within 2^-21 e of zero is zero: a zero
 * weight must stay exactly zero, or an infinite input would give +-Inf where
 * 0 * Inf = NaN (a weight that small next to its neighbours becomes zero). */
static void recover_portable(const float *u, ptrdiff_t plane, int alpha, float *g)
{
    const wg_rrow *R = alpha == 6 ? WG_R4 : WG_R2;
    for (int i = 0; i < 3; i++) {
        for (int jj = 0; jj < 3; jj++) {
            float v[WG_LANES] = {0}, e[WG_LANES] = {0};
            for (int a = 0; a < R[i].n; a++) {
                for (int b = 0; b < R[jj].n; b++) {
                    float f = R[i].r[a] * R[jj].r[b];
                    const float *ub = u + (R[i].a[a] * alpha + R[jj].a[b]) * plane;
                    for (int r = 0; r < WG_KR; r++) {
                        float t = f * ub[r];
                        v[r] += t;
                        e[r] += fabsf(t);
                    }
                }
            }
            for (int r = 0; r < WG_LANES; r++)
                g[(i * 3 + jj) * WG_LANES + r] = fabsf(v[r]) <= e[r] * 0x1p-21f ? 0.0f : v[r];
        }
    }
}

/* acc[i * 4 + jj][8] += sum over the taps of g[dy * 3 + dx][8] * x[i + dy][jj + dx]
 * for the rows x cols outputs of a tile; x: [6][8] its input patch. */
static void direct_acc_portable(const float *g, const float *x, int rows, int cols, float *acc)
{
    for (int i = 0; i < rows; i++) {
        for (int jj = 0; jj < cols; jj++) {
            float *s = acc + (i * 4 + jj) * WG_LANES;
            for (int t = 0; t < 9; t++) {
                float xv = x[(i + t / 3) * 8 + jj + t % 3];
                for (int r = 0; r < WG_LANES; r++)
                    s[r] += g[t * WG_LANES + r] * xv;
            }
        }
    }
}

/* F(2x2,5x5): the 25 taps of a panel's filters, kept raw at packing:
 * raw: [25][WG_KR] -> g: [25][8] (lanes past WG_KR zero). */
static void recover5(const float *raw, float *g)
{
    for (int t = 0; t < 25; t++)
        for (int r = 0; r < WG_LANES; r++)
            g[t * WG_LANES + r] = r < WG_KR ? raw[t * WG_KR + r] : 0.0f;
}

/* As direct_acc_portable, with the 25 taps of a 5x5 filter (a rare path:
 * portable code serves both ISAs). */
static void direct5_acc(const float *g, const float *x, int rows, int cols, float *acc)
{
    for (int i = 0; i < rows; i++) {
        for (int jj = 0; jj < cols; jj++) {
            float *s = acc + (i * 4 + jj) * WG_LANES;
            for (int t = 0; t < 25; t++) {
                float xv = x[(i + t / 5) * 8 + jj + t % 5];
                for (int r = 0; r < WG_LANES; r++)
                    s[r] += g[t * WG_LANES + r] * xv;
            }
        }
    }
}

/* Recomputes, for each channel k = p * WG_KR + r of panel p, the tiles in
 * bad[r] (bit l: tile g * WG_NR + l of the chunk): y = act(direct r x r
 * convolution + bias + residual) at their rows x cols outputs (y and the
 * residual at off[l] + k * OH * OW); ReLU keeps NaN, as in the Winograd
 * epilogue.  The filters of the panel are recovered once per input channel
 * for all the tiles of the group (a single NaN flags up to 4 tiles for all K
 * channels, often in one group), and the sums run over the panel's channels
 * at once, in vectors.  A tile whose outputs are all NaN already (a NaN in
 * every window: nothing can change them) stops there, so an input full of
 * NaN costs about one input channel. */
static void direct_panel(const wg_job *j, int g, int p, const unsigned *bad,
                         const ptrdiff_t *off, const int *rows, const int *cols)
{
    int m = j->m, a = j->alpha, H = j->H, W = j->W, OW = j->OW, C = j->C;
    int k0 = p * WG_KR, nk = j->K - k0 < WG_KR ? j->K - k0 : WG_KR, ntl = 0, nlive;
    ptrdiff_t per_img = (ptrdiff_t)j->nty * j->ntx, HW = (ptrdiff_t)H * W;
    ptrdiff_t plane = (ptrdiff_t)(j->Kp / WG_KR) * C * WG_KR; /* between the planes of U */
    unsigned any = 0;
    struct {
        const float *x; /* channel 0 of the tile's image */
        int l, iy0, ix0, live;
        float acc[16 * WG_LANES]; /* [i * 4 + jj][lane r: channel k0 + r] */
    } tl[WG_NR];
    for (int r = 0; r < nk; r++)
        any |= bad[r];
    for (int l = 0; l < WG_NR; l++) {
        if (!(any >> l & 1))
            continue;
        ptrdiff_t t = j->t0 + g * WG_NR + l;
        int n = (int)(t / per_img), q = (int)(t % per_img);
        tl[ntl].x = j->x + (ptrdiff_t)n * C * HW;
        tl[ntl].l = l;
        tl[ntl].iy0 = (q / j->ntx) * m - j->pt;
        tl[ntl].ix0 = (q % j->ntx) * m - j->pl;
        tl[ntl].live = 1;
        memset(tl[ntl].acc, 0, sizeof(tl[ntl].acc));
        ntl++;
    }
    nlive = ntl;
    for (int c = 0; c < C && nlive > 0; c++) {
        float gk[25 * WG_LANES];
        if (j->r == 5)
            recover5(j->raw + ((ptrdiff_t)p * C + c) * 25 * WG_KR, gk);
        else
            j->recover(j->packed + ((ptrdiff_t)p * C + c) * WG_KR, plane, a, gk);
        for (int e = 0; e < ntl; e++) {
            if (!tl[e].live)
                continue;
            float x[6 * 8]; /* the patch, zero outside the image */
            const float *xc = tl[e].x + c * HW;
            int rws = rows[tl[e].l], cls = cols[tl[e].l];
            for (int u = 0; u < a; u++) {
                int iy = tl[e].iy0 + u;
                for (int v = 0; v < a; v++) {
                    int ix = tl[e].ix0 + v;
                    x[u * 8 + v] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? xc[(ptrdiff_t)iy * W + ix] : 0.0f;
                }
            }
            if (j->r == 5)
                direct5_acc(gk, x, rws, cls, tl[e].acc);
            else
                j->direct(gk, x, rws, cls, tl[e].acc);
            if (c % 8 == 0) { /* all NaN: final (checked every 8 channels) */
                int nan = 0;
                for (int i = 0; i < rws * 4; i += 4)
                    for (int jj = 0; jj < cls; jj++)
                        for (int r = 0; r < nk; r++)
                            nan += tl[e].acc[(i + jj) * WG_LANES + r] != tl[e].acc[(i + jj) * WG_LANES + r];
                if (nan == rws * cls * nk) {
                    tl[e].live = 0;
                    nlive--;
                }
            }
        }
    }
    for (int e = 0; e < ntl; e++) {
        int l = tl[e].l;
        for (int r = 0; r < nk; r++) {
            if (!(bad[r] >> l & 1))
                continue;
            ptrdiff_t o = off[l] + (ptrdiff_t)(k0 + r) * j->OH * OW;
            float *y = j->y + o, bias = j->bias ? j->bias[k0 + r] : 0.0f;
            const float *rs = j->res ? j->res + o : NULL;
            for (int i = 0; i < rows[l]; i++) {
                for (int jj = 0; jj < cols[l]; jj++) {
                    float s = tl[e].acc[(i * 4 + jj) * WG_LANES + r] + bias;
                    if (rs)
                        s += rs[(ptrdiff_t)i * OW + jj];
                    y[(ptrdiff_t)i * OW + jj] = tc_act_f32(j->act, s);
                }
            }
        }
    }
}

static void output_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const wg_job *j = (const wg_job *)arg;
    int m = j->m, OH = j->OH, OW = j->OW, K = j->K, np = j->Kp / WG_KR, g_cur = -1;
    ptrdiff_t mstride = j->mstride, per_img = (ptrdiff_t)j->nty * j->ntx;
    ptrdiff_t plane = (ptrdiff_t)OH * OW, off[WG_NR];
    int rows[WG_NR], cols[WG_NR];
    unsigned valid = 0; /* tiles of the group that exist */
    float *yp[WG_LANES];
    const float *rp[WG_LANES];
    (void)tid;
    for (ptrdiff_t it = begin; it < end; it++) { /* it: group g, panel p of WG_KR channels */
        int g = (int)(it / np), p = (int)(it % np);
        int w = group_width(j, g);
        unsigned bad[WG_KR] = {0}, any = 0; /* tiles to recompute (bit l: tile l of the group) */
        if (g != g_cur) { /* where each tile's outputs go (channel 0) */
            valid = 0;
            for (int l = 0; l < WG_NR; l++) {
                int idx = g * WG_NR + l;
                rows[l] = cols[l] = 0;
                off[l] = 0;
                if (idx >= j->nt)
                    continue;
                ptrdiff_t t = j->t0 + idx;
                int n = (int)(t / per_img), r = (int)(t % per_img);
                int oy0 = (r / j->ntx) * m, ox0 = (r % j->ntx) * m;
                rows[l] = OH - oy0 < m ? OH - oy0 : m;
                cols[l] = OW - ox0 < m ? OW - ox0 : m;
                off[l] = (ptrdiff_t)n * K * plane + (ptrdiff_t)oy0 * OW + ox0;
                valid |= 1u << l;
            }
            g_cur = g;
        }
        for (int k = p * WG_KR; k < K && k < (p + 1) * WG_KR; k++) {
            float b = j->bias ? j->bias[k] : 0.0f;
            const float *mk = j->M + (ptrdiff_t)g * WG_NR * j->Kp + (ptrdiff_t)k * w;
            unsigned bk = 0;
            for (int half = 0; half < w / WG_LANES; half++) {
                int h0 = half * WG_LANES;
                for (int l = 0; l < WG_LANES; l++) {
                    ptrdiff_t o = off[h0 + l] + k * plane;
                    yp[l] = j->y + o;
                    rp[l] = j->res ? j->res + o : NULL;
                }
                bk |= j->output(mk + h0, mstride, b, yp, rp, OW, rows + h0, cols + h0, j->act) << h0;
            }
            bad[k - p * WG_KR] = bk & valid;
            any |= bk & valid;
        }
        if (any) /* rare: see direct_panel */
            direct_panel(j, g, p, bad, off, rows, cols);
    }
}

/* Points the job at chunk [t0, t0 + nt) and workspace ws. */
static void set_chunk(wg_job *j, ptrdiff_t t0, int nt, float *ws)
{
    j->t0 = t0;
    j->nt = nt;
    j->ng = (nt + WG_NR - 1) / WG_NR;
    j->ntp = (j->ng - 1) * WG_NR + group_width(j, j->ng - 1);
    j->vstride = (ptrdiff_t)j->C * j->ntp + WG_PLANE_PAD;
    j->mstride = (ptrdiff_t)j->Kp * j->ntp + WG_PLANE_PAD;
    j->V = ws;
    j->M = ws + (ptrdiff_t)j->alpha * j->alpha * j->vstride;
}

typedef struct {
    const wg_job *job;
    const wg_plan *plan;
    float *workspace;
} wg_chunks;

/* Whole chunks [begin, end), serially, in workspace slot tid. */
static void chunk_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const wg_chunks *cs = (const wg_chunks *)arg;
    const wg_plan *p = cs->plan;
    wg_job j = *cs->job;
    for (ptrdiff_t c = begin; c < end; c++) {
        ptrdiff_t t0 = c * p->per, nt = p->total - t0 < p->per ? p->total - t0 : p->per;
        set_chunk(&j, t0, (int)nt, cs->workspace + (size_t)tid * p->slot_size);
        input_range(&j, tid, 0, (ptrdiff_t)j.ng * j.C);
        gemm_range(&j, tid, 0, (ptrdiff_t)j.alpha * j.alpha * (j.Kp / WG_KR));
        output_range(&j, tid, 0, (ptrdiff_t)j.ng * (j.Kp / WG_KR));
    }
}

/* x: [N, C, H, W]  packed: [alpha^2][Kp/6][C][6] (+ raw filters)  y: [N, K, OH, OW] */
void tc_wg_f32(const tc_ctx *ctx, const float *x, int N, int C, int H, int W,
                     const float *packed, const float *bias, int K,
                     int pad_t, int pad_l, int pad_b, int pad_r, int r, int tile, int act,
                     const float *residual, float *y, float *workspace)
{
    wg_job j;
    tc_pool *pool = ctx ? ctx->pool : NULL;
    memset(&j, 0, sizeof(j));
    if (!supported(r, tile))
        return;
    j.x = x; j.N = N; j.C = C; j.H = H; j.W = W; j.K = K; j.Kp = round_up(K, WG_KR);
    j.pt = pad_t; j.pl = pad_l; j.r = r; j.m = tile; j.alpha = tile + r - 1;
    get_tiles(H, W, pad_t, pad_l, pad_b, pad_r, r, tile, &j.OH, &j.OW, &j.nty, &j.ntx);
    if (j.OH < 1 || j.OW < 1 || N < 1 || K < 1 || C < 1)
        return;
    j.packed = packed; j.bias = bias; j.res = residual; j.y = y; j.act = act;
    j.raw = packed + (size_t)j.alpha * j.alpha * j.Kp * C;
    const tc_wg_kernels *kern = tc_wg_kernels_of(ctx);
    j.input = j.alpha == 6 ? kern->input6 : kern->input4;
    j.output = r == 5 ? kern->output_2x2_5x5 : tile == 4 ? kern->output_4x4_3x3 : kern->output_2x2_3x3;
    j.gemm = kern->gemm;
    j.recover = kern->recover;
    j.direct = kern->direct3;
    wg_plan p = make_plan((ptrdiff_t)N * j.nty * j.ntx, C, j.Kp, j.alpha,
                          ctx ? tc_pool_size(pool) : 1);
    if (p.slots > 1) {
        wg_chunks cs = {&j, &p, workspace};
        tc_parallel_for_dynamic(pool, p.nchunks, 1, chunk_range, &cs);
        return;
    }
    for (ptrdiff_t c = 0; c < p.nchunks; c++) {
        ptrdiff_t t0 = c * p.per, nt = p.total - t0 < p.per ? p.total - t0 : p.per;
        set_chunk(&j, t0, (int)nt, workspace);
        tc_parallel_for_dynamic(pool, (ptrdiff_t)j.ng * C, 8, input_range, &j);
        tc_parallel_for_dynamic(pool, (ptrdiff_t)j.alpha * j.alpha * (j.Kp / WG_KR), 4, gemm_range, &j);
        tc_parallel_for_dynamic(pool, (ptrdiff_t)j.ng * (j.Kp / WG_KR), 2, output_range, &j);
    }
}

const tc_wg_kernels tc_wg_portable = {
    .input6 = input4_portable,
    .input4 = input2_portable,
    .output_4x4_3x3 = output4_portable,
    .output_2x2_3x3 = output2_portable,
    .output_2x2_5x5 = output25_portable,
    .gemm = gemm_portable,
    .recover = recover_portable,
    .direct3 = direct_acc_portable,
};
