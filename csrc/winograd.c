/* winograd.c - the driver of the Winograd convolutions (F(4x4,3x3),
 * F(2x2,3x3), F(2x2,5x5); their transforms: winograd_transform.c and
 * winograd_avx2.c, the non-finite fallback: winograd_fallback.c).
 *
 * One run walks the tiles (n, ty, tx flattened) in chunks small enough that
 * the chunk's transformed input V and products M stay in L2/L3.  Per chunk:
 *   1. input transform:  x -> V[xi][group][C][WG_NR], 8 tiles per call
 *   2. alpha^2 GEMMs:    M[xi] = U[xi] V[xi] on the GEMM micro-kernel (MR x NR
 *                        = WG_KR x WG_NR tiles); loop order xi, panel of WG_KR
 *                        output channels, group: each U panel is read once per
 *                        chunk, V[xi] stays in L2
 *   3. output transform: M[xi][group][Kp][w] -> y with bias, residual and
 *                        activation fused into the only store, 8 tiles per call
 * Threads either run whole chunks each (from WG_WHOLE_MIN_TILES tiles per thread:
 * no barriers, V and M stay in one core's caches) or share every phase of each
 * chunk (fewer tiles: over (group, c), (xi, panel) and (group, k)); see
 * make_plan.  Either way they
 * claim work dynamically: when one core runs slower (a busy or shared
 * machine) the other takes more, instead of waiting for it at every barrier.
 */
#include <string.h>
#include "tinycnn.h"
#include "winograd_internal.h"

/* The alpha^2 planes of V (of M) are written (read) together by each input
 * (output) transform: one cache line of padding keeps the plane strides off
 * multiples of 4 KiB, which would make them all alias in L1.  (M laid out
 * [group][k][xi][w] instead, contiguous for the output transform, measured
 * 5-10% slower: the GEMM's stores then scatter.) */
#define WG_PLANE_PAD 16

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
/* On the Zen 4 host (1 MiB L2) smaller chunks won nothing: SqueezeNet's 16->64 at 55x55
 * (196 tiles, 2 chunks of 11.5 KiB a tile) took 0.713-0.718 ms with 1 MiB, 512 KiB (and
 * WG_CHUNK_MIN 32) and 256 KiB (16) against 0.730 with 2 MiB (medians of 200 alternating
 * bursts in one process, AVX2, 1 thread, loaded host, s18 2026-12-02).
 * Nor in the network, where the workspace might evict the next layer's input (s22,
 * 2026-12-03, the budget read from the environment in an experiment build, sessions planned
 * and run with their own budget, alternated in one process, medians of 10 runs per round,
 * 21 rounds, per-round ratios to 2 MiB / 64 with their 25-75% range): SqueezeNet 1.1 whole,
 * 1 MiB / 64 1.005 [0.965-1.029], 512 KiB / 64 1.006 [0.962-1.023], 512 KiB / 32 0.998
 * (and 0.974 [0.953-1.015] in an earlier run), 256 KiB / 16 0.976 [0.931-1.053]; its fire
 * block 64 -> 16 -> 64 + 64 at 55x55 0.94-1.02 with ranges 0.84-1.18; DenseNet-121 whole
 * (7 rounds) 512 KiB / 32 0.992 [0.976-1.023], 1 MiB / 64 1.022 [0.979-1.031].  Same bits
 * (each tile's arithmetic does not depend on its chunk).  Running each fire block's
 * expand 3x3 before its expand 1x1 (the node order swapped in the model, so that the next
 * squeeze finds the later half of its input in L2): 1.007 [0.968-1.043]; the 55x55 16->64
 * layers on the GEMM instead: fire block 1.39x, network 0.98-1.03.
 * Again on the Zen 3 target (512 KiB L2, native, 2026-12-03, SqueezeNet 1.1 whole, sessions
 * with their own budget alternated in one process under SCHED_FIFO, 20-24 rounds of 6 runs,
 * ratios to 2 MiB / 64): 1 thread 512 KiB / 32 1.003 [0.958-1.014], 256 KiB / 16 1.009
 * [0.938-1.148] (control 2 MiB again 0.991); 2 threads, with whole chunks per thread below,
 * 512 KiB / 32 0.967 [0.921-1.048] (control 0.982 [0.934-1.052]): kept.
 * Again on the Xeon KVM guest (h42-sq, 2026-12-06 09:5x, 2 MiB L2 per core, AVX2, 1 thread,
 * steps_ab.py against the base, 80 rounds, bit-identical), in case the host's slow state (the
 * 55x55 fire modules 1.60-1.66x slower there, onnxruntime's 1.25-1.27x: steps_vs_ort.py --split)
 * were L2 taken from us: 1 MiB (55x55: 80 + 80 + 36 tiles) with the host mostly slow (fma_peak
 * 54-62) features.3 / .4 0.981 / 0.991, run 0.995; 512 KiB with it mostly fast (70-75) 1.018 /
 * 1.023, run 1.002: within the noise either way, kept. */
#ifndef WG_CHUNK_BYTES
#define WG_CHUNK_BYTES (2L << 20)
#endif
#ifndef WG_CHUNK_MIN
#define WG_CHUNK_MIN 64
#endif
#ifndef WG_CHUNKS_PER_THREAD
#define WG_CHUNKS_PER_THREAD 2 /* chunks per thread from which chunks keep the byte budget */
#endif
/* Threads run whole chunks (each its own V and M) from this many tiles per thread; with
 * fewer tiles they share the phases of one chunk.  On the Zen 3 target (2 vCPUs, 512 KiB
 * private L2, native, 2026-12-03, each layer alone at 1 and 2 threads under SCHED_FIFO,
 * medians of 10 rounds of 10 runs) sharing the phases hands V and M from one core's L2 to
 * the other's between phases and 2 threads gained nothing: SqueezeNet 1.1's 16->64 at
 * 55x55 (196 tiles, 2 chunks) 0.47 ms at 1 thread, 0.55 at 2 sharing, 0.32-0.33 in whole
 * chunks (one per thread); its 32->128 at 27x27 (49 tiles, 1 chunk) 0.41 / 0.415 sharing /
 * 0.34-0.35 in chunks of 16 or 32 + 17.  At 13x13 (16 tiles) 8 + 8 lost to sharing
 * (0.29 against 0.235, 1 thread 0.30): half-width products, U read twice.  Before, whole
 * chunks needed WG_CHUNKS_PER_THREAD chunks per thread within the budget.
 * Tried and dropped for the 16-tile layers: one chunk, each thread transforming all of the
 * input into its own V and running the products and outputs of its half of the output
 * channel panels (no barrier, U read half by each): SqueezeNet's 48->192 and 64->256 at
 * 13x13, 2 threads, 0.163 / 0.203 ms against 0.166 / 0.197 sharing the phases.
 * The same split (every tile, half the output channel panels per thread, tc_parallel_for) for
 * the 49 tiles of 27x27, where whole chunks of 25 + 24 give one thread 2 groups of products
 * (16 + 9 tiles) and the other 1.5 (16 + 8): dropped too (s25, Zen 3, native, 2 threads under
 * SCHED_FIFO, 32->128 with ReLU, a C harness alternating both builds, min of 20 rounds x 10,
 * three runs): 1.06-1.22 of the whole chunks' time.  Also on the target, each layer alone:
 * F(2x2) against F(4x4) at 13x13 (48->192, 64->256) 1.72-1.75x the time at 1 thread and
 * 1.83-1.98x at 2, 32->128 at 27x27 1.67x / 1.40x; the prefetch distances WG_PF_U 256 / 512 /
 * 2048 and WG_PF_X 0 / 8 on SqueezeNet's four 3x3 shapes (8 MB written before each run, x
 * read back) 0.96-1.06 of the time, as much as two runs of one build differ: kept.
 * Tried and left (n33-2t, 2026-12-05, Xeon KVM guest, AVX2 emulation, 2 threads): SqueezeNet's
 * 55x55 expand3x3 (196 tiles, whole chunks of 98 + 98) ran the caller's chunk 7-16 us longer
 * than the worker's in 3 of 4 layers (pool_trace.py, SCHED_FIFO, the fastest 30% of 300 runs;
 * the top half holds 28 output rows, the bottom 27 of them valid); the even chunks cut to whole
 * 8-tile halves with the rest to the last (96 + 100; 27x27's 49 tiles 24 + 25), by a switch
 * alternating run by run in one process (mt_inproc.py --fifo, 6 x 60 runs, bit-identical):
 * the 55x55 layers 1.072 / 1.078 in one run, 1.001 / 0.985 in the next (the switch's off
 * value as control: 1.016 / 1.003), the 27x27 ones 1.057 / 1.057 and 0.980 / 0.993 (control
 * 1.010 / 1.004): level within the noise, not kept.
 * Tried and left (n34-2t, 2026-12-05, same host, 2 threads): each thread's share of the 55x55
 * layers (98 tiles, 1.13 MB of V and M) run as two chunks of 48 + 50 (V and M 0.55 MB), in case
 * the share's workspace evicted the expand 1x1's half of the Concat before the next squeeze
 * read it (benchmarks/wg_split_shares.patch): steps_ab.py --threads 2 under chrt -f 10, 20
 * rounds, bit-identical, new / old: the squeezes after it level (features.3 1.000, .4 1.012),
 * the split layers 1.000 / 0.960, the whole run 1.025 [1.014-1.035], and the 13x13
 * expand3x3s, whose code it does not change (shared phases), 1.13-1.24.  Not the layout
 * (n34-arena, benchmarks/arena_ab.py): the patch moves no arena offset; it shrinks arena +
 * workspace 4.42 -> 3.55 MB, so the tail past the first 2 MiB falls on 4 KiB pages, and the
 * base with only its first 2 MiB on huge pages (huge_first2mb.patch) is level (whole run 1.009):
 * the cost is in the patch's code or the rebuilt library's code placement.
 * Tried and left (h38-sq, 2026-12-05 20:3x-20:4x, same host, AVX2 emulation, 2 threads,
 * SCHED_FIFO, benchmarks/env_steps_ab.py, one session a process, step minima over 150 runs,
 * medians of 6-8 processes a variant, bit-identical; benchmarks/wg_13x13_shares.patch): the
 * 16-tile layers (SqueezeNet's 13x13 expand3x3s, 48 -> 192 and 64 -> 256) sharing phases hand
 * M from the core that ran a frequency's products to the one that runs a panel's outputs
 * (~110 KB a thread from the other core).  (1) Each thread transforming all of the input into
 * its own V and running the products and outputs of its half of the output channel panels (no
 * barrier, M in its own L2; Zen 3's try above, now on the Xeon): 1.063 / 1.008 / 1.044 / 1.023
 * of the shared phases' time (features.9-12, 98-157 us), sum of the steps 1.011.  (2) The
 * shared products claimed panel-major (it = p * alpha^2 + xi), so that the thread running a
 * panel's products also runs its outputs: 1.21-1.29, sum 1.039 -- U (1.3 / 2.4 MB, from L3) is
 * then read panel by panel across the frequencies, against WG_PF_U's order.  These layers
 * scale 1.80-1.97x already (1 thread 176 / 180 / 295 / 286 us): not where 2 threads lose.
 * Per fire module against onnxruntime's own scaling (benchmarks/qsteps_mt.py --fifo --depth 2,
 * 3 processes x 150 runs, step minima, 20:50): the 13x13 modules (features.9-12) 1.62-1.75x
 * against its 1.54-1.69x (none lost); what 2 threads lose against its scaling is at 55x55,
 * features.3 25 us (1.68x / 1.82x) and .4 48 us (1.70x / 1.95x), and features.6 16 us.
 * Tried and left (h42-sq, 2026-12-06, same host; benchmarks/wg_tail_chunks.patch): each
 * thread's whole-chunk share cut on 16-tile groups into a head and two one-group tail chunks
 * that a faster thread may take, bit-identical: under load (CFS, nice -20) SqueezeNet 0.988
 * (median of 10 A/B runs), ResNet-18 ~0.98, DenseNet-121 0.91-0.97; with FIFO bursts SqueezeNet
 * level (the steps' minima too: the 55x55 layers scale 1.79-1.97x there), ResNet-18 ~3.5%
 * slower (the tails read its 594 KB U again from L3), DenseNet ~2% faster. */
#ifndef WG_WHOLE_MIN_TILES
#define WG_WHOLE_MIN_TILES 24
#endif

typedef struct {
    ptrdiff_t total;   /* tiles in the run */
    ptrdiff_t per;     /* tiles per chunk, a multiple of 8 (the last may have fewer), or
                          total / threads rounded up (one chunk per thread) */
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
    int even = 0; /* one chunk per thread, the tiles split evenly */
    if (nthreads > 1 && total >= (ptrdiff_t)WG_WHOLE_MIN_TILES * nthreads && u_bytes <= (16u << 20)) {
        /* a multiple of the thread count keeps the threads evenly loaded */
        if (p.nchunks < WG_CHUNKS_PER_THREAD * nthreads)
            p.nchunks = nthreads;
        p.nchunks = (p.nchunks + nthreads - 1) / nthreads * nthreads;
        p.slots = nthreads;
        even = p.nchunks == nthreads;
    }
    p.per = (total + p.nchunks - 1) / p.nchunks;
    if (even) { /* 49 tiles: 25 + 24, not 32 + 17; M holds round_up(per, 8) tiles */
        p.slot_size = (size_t)alpha * alpha *
                      ((size_t)C * tc_wg_round_up((int)p.per, WG_NR) +
                       (size_t)Kp * tc_wg_round_up((int)p.per, WG_LANES) + 2 * WG_PLANE_PAD);
        return p;
    }
    /* Whole groups of 16 tiles per chunk where that stays within the byte
     * budget: only the last chunk then ends in a short group, whose half-width
     * products are slow (DenseNet's 128->32 at 56x56, 196 tiles: 72+72+52 ->
     * 80+80+36, 1.26 -> 1.14 ms, AVX2 1 thread); else multiples of 8, which
     * keep chunks forced over the budget (WG_CHUNK_MIN) from growing further
     * and leaving a sliver (256->256 at 56x56: 56+56+56+28, not 64+64+64+4). */
    ptrdiff_t per16 = (p.per + WG_NR - 1) / WG_NR * WG_NR;
    if (p.slots == 1 && p.nchunks > 1 && per16 <= WG_CHUNK_BYTES / per_tile)
        p.per = per16;
    else
        p.per = (p.per + WG_LANES - 1) / WG_LANES * WG_LANES;
    if (p.per < WG_LANES)
        p.per = WG_LANES;
    p.nchunks = (total + p.per - 1) / p.per;
    /* per is a multiple of 8: M holds per tiles, V whole groups of WG_NR */
    p.slot_size = (size_t)alpha * alpha *
                  ((size_t)C * tc_wg_round_up((int)p.per, WG_NR) + (size_t)Kp * p.per + 2 * WG_PLANE_PAD);
    return p;
}

size_t tc_wg_workspace_size(const tc_ctx *ctx, int N, int C, int H, int W, int K,
                                   int pad_t, int pad_l, int pad_b, int pad_r, int r, int tile)
{
    int OH, OW, nty, ntx, alpha = tile + r - 1, Kp = tc_wg_round_up(K, WG_KR);
    get_tiles(H, W, pad_t, pad_l, pad_b, pad_r, r, tile, &OH, &OW, &nty, &ntx);
    if (!tc_wg_supported(r, tile) || OH < 1 || OW < 1 || N < 1)
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
    int u0, u1, v0, v1; /* not in place: the patch's rows [u0, u1) x columns [v0, v1) lie in x */
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
        q->u0 = q->iy0 < 0 ? -q->iy0 : 0;
        q->u1 = H - q->iy0 < a ? H - q->iy0 : a;
        q->v0 = q->ix0 < 0 ? -q->ix0 : 0;
        q->v1 = W - q->ix0 < a ? W - q->ix0 : a;
    }
}

#ifndef WG_PF_X
#define WG_PF_X 4 /* channels ahead to prefetch input rows (0: off) */
#endif

/* rows x n floats (n <= 6) of x, rows W apart -> p, rows 8 apart.  Once per
 * channel for every tile that overlaps the padding: at 14x14 that is 12 of
 * the 16 F(4x4) tiles, and an element-wise loop took ~1/6 of the layer. */
static inline void copy_rows(float *p, const float *x, ptrdiff_t W, int rows, int n)
{
    for (int r = 0; r < rows; r++, p += 8, x += W) {
        int v = 0;
        if (n >= 4) {
            memcpy(p, x, 4 * sizeof(float));
            v = 4;
        }
        for (; v < n; v++)
            p[v] = x[v];
    }
}

/* The 8 zero floats a missing tile reads (stride 0). */
static const float wg_zeros[8] = {0};

static void input_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const wg_job *j = (const wg_job *)arg;
    int a = j->alpha, H = j->H, W = j->W, C = j->C, g_cur = -1;
    ptrdiff_t vstride = j->vstride, HW = (ptrdiff_t)H * W;
    wg_in_lane lanes[WG_NR];
    /* Zero-padded copies of the patches not read in place, one per lane: the
     * zeros are written once per group, the part inside x once per channel. */
    float patch[WG_NR][6 * 8];
    const float *lp[WG_LANES];
    ptrdiff_t ls[WG_LANES];
    (void)tid;
    for (ptrdiff_t it = begin; it < end; it++) {
        int g = (int)(it / C), c = (int)(it % C);
        int w = group_width(j, g);
        if (g != g_cur) {
            input_lanes(j, g, lanes);
            for (int l = 0; l < WG_NR; l++)
                if (lanes[l].valid && !lanes[l].inplace)
                    memset(patch[l], 0, sizeof(patch[l]));
            g_cur = g;
        }
        float *v = j->V + ((ptrdiff_t)g * C + c) * WG_NR;
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
                    float *p = patch[half * WG_LANES + l];
                    if (q->u0 < q->u1 && q->v0 < q->v1) {
                        /* x at the patch's row u0, column v0 */
                        const float *xc = j->x + (q->off + c * HW + (ptrdiff_t)q->u0 * W + q->v0);
                        copy_rows(p + q->u0 * 8 + q->v0, xc, W, q->u1 - q->u0, q->v1 - q->v0);
                    }
                    lp[l] = p;
                    ls[l] = 8;
                }
            }
            j->input(lp, ls, v + half * WG_LANES, vstride);
        }
    }
}

/* U comes from L3 or DRAM once per chunk, each panel by its first group: the
 * products prefetch 4 KiB ahead on it, about one DRAM latency of FMAs (with
 * the GEMM's 1 KiB, VGG's and ResNet's 3x3 layers ran 1-6% slower). */
#ifndef WG_PF_U
#define WG_PF_U 1024
#endif

/* The products of a chunk, M[xi] = U[xi] V[xi], on the GEMM micro-kernel: for
 * each frequency xi and panel p of WG_KR output channels, one MR x NR tile per
 * group of 16 tiles (NR/2 wide for a short last group), over all C input
 * channels at once (kc = C: U's panels are laid out for that).  Loop order xi,
 * panel, group: each U panel is read once per chunk and stays in L1 while the
 * groups of V[xi] stream from L2. */
static void gemm_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    static const tc_tile_epi store_only; /* no bias, residual or activation */
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
            tc_ukernel_fn uk = w == WG_NR ? j->gemm->tile : j->gemm->tile_half;
            float *mg = mm + (ptrdiff_t)g * WG_NR * j->Kp + (ptrdiff_t)p * WG_KR * w; /* ldc = w */
            uk(C, u, v + (ptrdiff_t)g * WG_NR * C, mg, w, WG_KR, w, TC_UK_FIRST | TC_UK_LAST,
               &store_only, WG_PF_U);
        }
    }
}

static void output_range(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const wg_job *j = (const wg_job *)arg;
    int m = j->m, OH = j->OH, OW = j->OW, K = j->K, np = j->Kp / WG_KR, g_cur = -1;
    ptrdiff_t mstride = j->mstride, per_img = (ptrdiff_t)j->nty * j->ntx;
    ptrdiff_t plane = j->ldy, off[WG_NR];
    int rows[WG_NR], cols[WG_NR];
    unsigned valid = 0; /* tiles of the group that exist */
    float *yp[WG_LANES];
    const float *rp[WG_LANES] = {NULL}; /* set per call only with a residual */
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
            const tc_act_k act = tc_act_at(j->act, k);
            const float *mk = j->M + (ptrdiff_t)g * WG_NR * j->Kp + (ptrdiff_t)k * w;
            unsigned bk = 0;
            float *yk = j->y + k * plane;
            const float *rk = j->res ? j->res + k * plane : NULL;
            for (int half = 0; half < w / WG_LANES; half++) {
                int h0 = half * WG_LANES;
                for (int l = 0; l < WG_LANES; l++)
                    yp[l] = yk + off[h0 + l];
                if (rk)
                    for (int l = 0; l < WG_LANES; l++)
                        rp[l] = rk + off[h0 + l];
                bk |= j->output(mk + h0, mstride, b, yp, rp, OW, rows + h0, cols + h0, act) << h0;
            }
            bad[k - p * WG_KR] = bk & valid;
            any |= bk & valid;
        }
        if (any) /* rare: see winograd_fallback.c */
            tc_wg_direct_panel(j, g, p, bad, off, rows, cols);
    }
}

/* Points the job at chunk [t0, t0 + nt) and workspace ws. */
static void set_chunk(wg_job *j, ptrdiff_t t0, int nt, float *ws)
{
    j->t0 = t0;
    j->nt = nt;
    j->ng = (nt + WG_NR - 1) / WG_NR;
    ptrdiff_t ntp = (ptrdiff_t)(j->ng - 1) * WG_NR + group_width(j, j->ng - 1); /* tiles of M */
    j->vstride = (ptrdiff_t)j->C * j->ng * WG_NR + WG_PLANE_PAD;
    j->mstride = (ptrdiff_t)j->Kp * ntp + WG_PLANE_PAD;
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

/* x: [N, C, H, W]  packed: [alpha^2][Kp/6][C][6] (+ raw filters)  y: [N, K, OH, OW] with its
 * planes ldy floats apart (0: OH * OW) */
static void wg_run(const tc_ctx *ctx, const float *x, int N, int C, int H, int W,
                   const float *packed, const float *bias, int K,
                   int pad_t, int pad_l, int pad_b, int pad_r, int r, int tile, const tc_activation *act,
                   const float *residual, float *y, ptrdiff_t ldy, float *workspace)
{
    wg_job j;
    tc_pool *pool = ctx ? ctx->pool : NULL;
    memset(&j, 0, sizeof(j));
    if (!tc_wg_supported(r, tile))
        return;
    j.x = x; j.N = N; j.C = C; j.H = H; j.W = W; j.K = K; j.Kp = tc_wg_round_up(K, WG_KR);
    j.pt = pad_t; j.pl = pad_l; j.r = r; j.m = tile; j.alpha = tile + r - 1;
    get_tiles(H, W, pad_t, pad_l, pad_b, pad_r, r, tile, &j.OH, &j.OW, &j.nty, &j.ntx);
    if (j.OH < 1 || j.OW < 1 || N < 1 || K < 1 || C < 1)
        return;
    j.packed = packed; j.bias = bias; j.res = residual; j.y = y; j.act = act;
    j.ldy = ldy ? ldy : (ptrdiff_t)j.OH * j.OW;
    j.raw = packed + (size_t)j.alpha * j.alpha * j.Kp * C;
    const tc_wg_kernels *kern = tc_wg_kernels_of(ctx);
    j.input = j.alpha == 6 ? kern->input6 : kern->input4;
    j.output = r == 5 ? kern->output_2x2_5x5 : tile == 4 ? kern->output_4x4_3x3 : kern->output_2x2_3x3;
    j.recover = kern->recover;
    j.direct = kern->direct3;
    j.gemm = tc_gemm_kernels_of(ctx);
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

void tc_wg_f32(const tc_ctx *ctx, const float *x, int N, int C, int H, int W,
               const float *packed, const float *bias, int K,
               int pad_t, int pad_l, int pad_b, int pad_r, int r, int tile, const tc_activation *act,
               const float *residual, float *y, float *workspace)
{
    wg_run(ctx, x, N, C, H, W, packed, bias, K, pad_t, pad_l, pad_b, pad_r, r, tile, act, residual,
           y, 0, workspace);
}

void tc_wg_f32_ldy(const tc_ctx *ctx, const float *x, int N, int C, int H, int W,
                   const float *packed, const float *bias, int K, int pad_t, int pad_l, int pad_b,
                   int pad_r, int r, int tile, const tc_activation *act, const float *residual,
                   float *y, ptrdiff_t ldy, float *workspace)
{
    int OH, OW, nty, ntx;
    get_tiles(H, W, pad_t, pad_l, pad_b, pad_r, r, tile, &OH, &OW, &nty, &ntx);
    if (ldy < (ptrdiff_t)OH * OW)
        return;
    wg_run(ctx, x, N, C, H, W, packed, bias, K, pad_t, pad_l, pad_b, pad_r, r, tile, act, residual,
           y, ldy, workspace);
}
