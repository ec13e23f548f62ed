/* Exact integer Winograd F(2x2, 3x3) for 8-bit 3x3 stride-1 convolutions.
 *
 * Y = A^T [ (G' g G'^T) . (B^T d B) ] A / 4 with d = x - x_zp and G' = 2 G:
 *   G' = [[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]]   (integer)
 *   B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
 *   A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
 * Bounds: |d| <= 255; V = B^T d B sums 4 of them, |V| <= 1020; U = G' g G'^T weights
 * (at most) 9 taps by 1, |U| <= 9 * 255 = 2295; so U and V are int16 and a pair of
 * products (vpmaddwd) is at most 2 * 2295 * 1020 < 2^31.  The 16 sums over channels wrap
 * in 32 bits, as does the output transform, but they are ring operations modulo 2^32 and
 * the result, 4 x the direct convolution's sum, fits int32 when 255 * sum |w| < 2^29 for
 * every output channel (tc_qwinograd_fits): the division by 4 is then exact and the
 * output equals the direct path's bit for bit, through the same output stage.
 *
 * Cost: 16 products per 4 output pixels and channel against 36, through the S16X2
 * micro-kernel of the tier (16 products per vpmaddwd).  Work: chunks of tiles (2 x 2
 * output pixels) whose transformed input (16 x chunk x cpad int16) stays in L2; for each
 * panel of 16 output channels the 16 products of the chunk, then the output transform
 * and the output stage.  Threads take chunks of tiles, or on small maps of panels too
 * (chunk_count).
 */
#include <string.h>
#include "qwinograd_internal.h"

#define QWG_NAME tc_qwg_chunk_portable
#define QWG_EPI_DECL(e) (void)0
#define QWG_STORE(acc, e, nr, y) tc_qstore_tile((const uint32_t *)(acc), TC_QNR, 1, nr, e, y, 0)
#include "qwinograd_body.h"

/* Packed weights above this many bytes are not expected to stay in L2 from one chunk of
 * tiles to the next (the AVX2 targets' L2: 512 KiB to 2 MiB) */
#define TC_QWG_L2_BYTES (1 << 20)

static int cpad_of(int C)
{
    return (C + 15) / 16 * 16;
}

int tc_qwinograd_fits(const tc_conv2d_params *p, const int16_t *w)
{
    if (p->KH != 3 || p->KW != 3 || p->sh != 1 || p->sw != 1 || p->dh != 1 || p->dw != 1 ||
        p->group != 1 || p->C < 1 || p->K < 1)
        return 0;
    for (int k = 0; k < p->K; k++) {
        int64_t s = 0;
        for (size_t i = 0; i < (size_t)9 * p->C; i++) {
            int v = w[(size_t)k * 9 * p->C + i];
            if (v < -255 || v > 255)
                return 0;
            s += v < 0 ? -v : v;
        }
        if (255 * s >= (int64_t)1 << 29)
            return 0;
    }
    return 1;
}

size_t tc_qwinograd_pack_size(const tc_conv2d_params *p)
{
    size_t np = (size_t)(p->K + TC_QNR - 1) / TC_QNR;
    return (size_t)16 * np * cpad_of(p->C) * TC_QNR * sizeof(int16_t);
}

void tc_qwinograd_pack(const tc_conv2d_params *p, const int16_t *w, void *packed)
{
    const int C = p->C, K = p->K, cpad = cpad_of(C), np = (K + TC_QNR - 1) / TC_QNR;
    int16_t *out = packed;
    memset(out, 0, tc_qwinograd_pack_size(p));
    static const int G[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};
    for (int k = 0; k < K; k++)
        for (int c = 0; c < C; c++) {
            int g[3][3], t[4][3];
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                    g[ky][kx] = w[(((size_t)k * 3 + ky) * 3 + kx) * C + c];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 3; j++)
                    t[i][j] = G[i][0] * g[0][j] + G[i][1] * g[1][j] + G[i][2] * g[2][j];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                    int u = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
                    size_t at = ((((size_t)(i * 4 + j) * np + k / TC_QNR) * (cpad / 2) + c / 2) *
                                     TC_QNR + k % TC_QNR) * 2 + c % 2;
                    out[at] = (int16_t)u;
                }
        }
}

/* Chunks of tiles: the transformed input (16 x chunk x cpad int16) within 192 KiB, but
 * at least 48 tiles (each chunk streams all the packed weights, 16/9 of the direct
 * path's: wide layers on small maps are bound by that).  The groups of mr tiles (the
 * micro-kernel's rows; the last may be short) are dealt evenly over the chunks: 49 tiles
 * in two chunks are 24 + 25, not 48 + 1.  With several threads, many chunks are rounded
 * to a multiple of the threads (each thread a contiguous run of them); few (maps of 14 x
 * 14 and less) are not split further, the threads split the panels instead: each
 * streams its share of the weights rather than all of them (2 threads, 256 channels at
 * 14 x 14: 4 MiB less traffic).  Tried and dropped (s16, AMD EPYC Zen 4, 1 MiB L2, emulated
 * AVX2 1t, in the model, thread CPU min per step, 4 alternated processes): at least 64
 * tiles (one chunk of 49 on a 14 x 14 map of 256 channels: its 2 MiB of weights streamed
 * once) ResNet-18's layer3 0.982-0.984, ResNet-50's layer3 conv2 0.97, but its transformed
 * input, 401 KiB, leaves no room for the panels in the targets' 512 KiB L2; 12288 / cpad
 * up to 192 tiles (fewer chunks at 56 x 56 and 28 x 28): within 0.5%. */
static int chunk_count(const tc_ctx *ctx, const tc_conv2d_params *p, int ntiles, int *npchunks)
{
    int threads = ctx && ctx->pool ? tc_pool_size(ctx->pool) : 1;
    int mr = tc_quant_kernels_of(ctx)->s16x2.mr, groups = (ntiles + mr - 1) / mr;
    int t = 6144 / cpad_of(p->C), np = (p->K + TC_QNR - 1) / TC_QNR;
    t = t < 48 ? 48 : t > 96 ? 96 : t;
    int n = (ntiles + t - 1) / t;
    *npchunks = 1;
    if (threads > 1 && n < 2 * threads)
        *npchunks = threads < np ? threads : np;
    else
        n = (n + threads - 1) / threads * threads;
    return n < groups ? n : groups;
}

/* Tiles [*t0, *t0 + *nt) of chunk c of n */
static void chunk_range(int ntiles, int mr, int n, int c, int *t0, int *nt)
{
    int groups = (ntiles + mr - 1) / mr;
    int g0 = (int)((long)groups * c / n), g1 = (int)((long)groups * (c + 1) / n);
    *t0 = g0 * mr;
    *nt = (g1 * mr < ntiles ? g1 * mr : ntiles) - *t0;
}

/* The most tiles of a chunk (the workspace's) */
static int chunk_tiles(const tc_ctx *ctx, const tc_conv2d_params *p, int ntiles)
{
    int mr = tc_quant_kernels_of(ctx)->s16x2.mr, npc, n = chunk_count(ctx, p, ntiles, &npc);
    return ((ntiles + mr - 1) / mr + n - 1) / n * mr;
}

static int tiles_of(const tc_conv2d_params *p, int n, int h, int w, int *oh, int *ow)
{
    if (tc_conv2d_output_hw(p, h, w, oh, ow) != 0)
        return 0;
    return n * ((*oh + 1) / 2) * ((*ow + 1) / 2);
}

static size_t shared_bytes(const tc_conv2d_params *p)
{
    size_t np = (size_t)(p->K + TC_QNR - 1) / TC_QNR;
    return ((np * TC_QNR * (sizeof(int32_t) + sizeof(float)) + cpad_of(p->C)) + 63) & ~(size_t)63;
}

size_t tc_qwinograd_workspace_size(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h,
                                   int w)
{
    int oh, ow, ntiles = tiles_of(p, n, h, w, &oh, &ow);
    if (ntiles <= 0)
        return 0;
    int threads = ctx && ctx->pool ? tc_pool_size(ctx->pool) : 1;
    return shared_bytes(p) + 64 +
           (size_t)threads * tc_qwg_thread_bytes(chunk_tiles(ctx, p, ntiles), cpad_of(p->C));
}

/* out->lut over channels [c0, c1) of the output pixels of tiles [t0, t0 + nt) (8-bit
 * outputs), in cache */
static void chunk_lookup(const tc_qwg_job *jb, int t0, int nt, int c0, int c1)
{
    void (*run)(const uint8_t *, const uint8_t *, ptrdiff_t, uint8_t *) =
        tc_quant_kernels_of(jb->ctx)->lookup_run;
    const int per_image = jb->tiles_y * jb->tiles_x;
    for (int t = t0; t < t0 + nt; t++) {
        int img = t / per_image, ty = t % per_image / jb->tiles_x, tx = t % jb->tiles_x;
        for (int q = 0; q < 4; q++) {
            int oy = 2 * ty + q / 2, ox = 2 * tx + q % 2;
            if (oy >= jb->oh || ox >= jb->ow)
                continue;
            uint8_t *y = (uint8_t *)jb->y + (((size_t)img * jb->oh + oy) * jb->ow + ox) * jb->K + c0;
            run(jb->out->lut, y, c1 - c0, y);
        }
    }
}

static void qwg_chunks(void *arg, int tid, ptrdiff_t c0, ptrdiff_t c1)
{
    const tc_qwg_job *jb = arg;
    tc_qwg_chunk_fn fn = tc_quant_kernels_of(jb->ctx)->wg_chunk;
    if (!fn)
        fn = tc_qwg_chunk_portable;
    const int np = (jb->K + TC_QNR - 1) / TC_QNR;
    for (ptrdiff_t c = c0; c < c1; c++) { /* task c: panel chunk c / nchunks, tile chunk c % nchunks */
        int t0, nt, pc = (int)(c / jb->nchunks);
        int p0 = (int)((long)np * pc / jb->npchunks), p1 = (int)((long)np * (pc + 1) / jb->npchunks);
        chunk_range(jb->ntiles, jb->uk.mr, jb->nchunks, (int)(c % jb->nchunks), &t0, &nt);
        /* the weights come from L2 after the thread's first chunk, if they fit in it */
        fn(jb, t0, nt, p0, p1, c == c0 || jb->prefetch_all, jb->ws + (size_t)tid * jb->ws_thread);
        if (jb->out->lut && jb->out->type <= TC_QOUT_S8)
            chunk_lookup(jb, t0, nt, p0 * TC_QNR, p1 * TC_QNR < jb->K ? p1 * TC_QNR : jb->K);
    }
}

void tc_qwinograd(const tc_ctx *ctx, const tc_conv2d_params *p, int n, int h, int w,
                  const void *x, int x_signed, int x_zero_point, const void *packed,
                  const tc_qoutput *out, void *y, void *workspace)
{
    int oh, ow, ntiles = tiles_of(p, n, h, w, &oh, &ow);
    if (ntiles <= 0)
        return;
    const int np = (p->K + TC_QNR - 1) / TC_QNR, cpad = cpad_of(p->C);
    char *ws = workspace;
    int32_t *bias = (int32_t *)ws;
    float *scale = (float *)(bias + (size_t)np * TC_QNR);
    uint8_t *zero_row = (uint8_t *)(scale + (size_t)np * TC_QNR);
    tc_qout_columns(out, p->K, np * TC_QNR, 0, NULL, bias, scale);   /* zero point: in the transform */
    int zp = x_signed ? x_zero_point + 128 : x_zero_point;
    /* bytes whose (b ^ flip) is the zero point */
    memset(zero_row, x_signed ? (zp ^ 0x80) : zp, (size_t)cpad);
    tc_qwg_job jb;
    memset(&jb, 0, sizeof(jb));
    jb.ctx = ctx;
    jb.n = n;
    jb.h = h;
    jb.w = w;
    jb.C = p->C;
    jb.K = p->K;
    jb.oh = oh;
    jb.ow = ow;
    jb.pt = p->pt;
    jb.pl = p->pl;
    jb.tiles_y = (oh + 1) / 2;
    jb.tiles_x = (ow + 1) / 2;
    jb.ntiles = ntiles;
    jb.chunk = chunk_tiles(ctx, p, ntiles);
    jb.cpad = cpad;
    jb.x = x;
    jb.flip = x_signed ? 0x80 : 0;
    jb.x_zero_point = zp;
    jb.zero_row = zero_row;
    jb.packed = packed;
    jb.out = out;
    jb.bias = bias;
    jb.scale = scale;
    jb.uk = tc_quant_kernels_of(ctx)->s16x2;
    jb.prefetch_all = tc_qwinograd_pack_size(p) > TC_QWG_L2_BYTES;
    jb.y = y;
    jb.ws = (char *)(((uintptr_t)ws + shared_bytes(p) + 63) & ~(uintptr_t)63);
    jb.ws_thread = tc_qwg_thread_bytes(jb.chunk, cpad);
    jb.nchunks = chunk_count(ctx, p, ntiles, &jb.npchunks);
    /* static: each thread a contiguous run of chunks (chunk_count rounds them to a multiple
     * of the threads).  Tried and dropped (s18, Zen 4, emulated AVX2, load 7-9): the chunks
     * claimed dynamically (tc_parallel_for_dynamic, so that a caller whose worker is
     * descheduled takes the worker's unclaimed chunks, each call prefetching its weights):
     * ResNet-18 int8 at 2 threads, both builds alternating in one process, 80 x 5 runs, twice:
     * wall per run B / A median 0.999 and 1.020 (25-75% 0.73-1.34), minima 14.18 / 14.26 and
     * 13.85 / 13.92 ms; no difference the load lets through.  Again on the Zen 4 host
     * (n27-r50q, 2026-12-04, 2 threads under SCHED_FIFO, one process switching run by run,
     * 6 x 40-50 runs, per-step wall medians, benchmarks/mt_inproc.py): ResNet-18's 56x56
     * layers (10 chunks) 0.90 in one run, 0.98 and 1.007 in two others, ResNet-50's 1.006 and
     * 1.026; the 28x28 and 14x14 layers (6 and 2 x 2 tasks, every claim then prefetching its
     * weights) 1.00-1.015; both networks 0.997-1.005.  The claims pay only where one thread
     * runs slower (the host's state, not the chunk). */
    tc_parallel_for(ctx ? ctx->pool : NULL, (ptrdiff_t)jb.npchunks * jb.nchunks, 1, qwg_chunks,
                    &jb);
}
