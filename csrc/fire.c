/* fire.c - SqueezeNet's fire modules, one or several in a row, in bands of rows: each module a
 * squeeze (1x1) -> expand 1x1 and expand 3x3 (Winograd), their outputs side by side along
 * channels (the Concat), the next module's squeeze reading that Concat.
 *
 * Run as split steps, at 2 threads every step of a 55x55 fire module reads its input from L3:
 * each step writes halves of every NCHW plane, and a core loses the lines it wrote next to the
 * other core's (csrc/threadpool.c, h36-2t).  Here each thread takes a band of rows (whole rows
 * of Winograd tiles) through all the modules, one pool job a module:
 *   job 0:     the first squeeze of the band's rows and a halo row either side, from x's
 *              planes, into the band's own buffer;
 *   job j:     the halo rows of module j's squeeze copied from the neighbouring bands' buffers
 *              (job 0 computed them itself), both expands of the band: into a Concat of the
 *              band's own (band rows x channels) where another module follows, and then that
 *              module's squeeze of the band's rows from it; the last module's into y's planes.
 * Every tile and every GEMM column is the one the whole-image layers compute (the GEMMs' sums
 * do not depend on the columns a call covers; a halo row is a real row), so the result is the
 * layers' run one after the other and the Concats, bit for bit.
 * h41-sq measured one module a job level at 2 threads (benchmarks/fire_module.patch: the next
 * squeeze read the Concat's planes from L3); h45-sq's benchmarks/fire_bands.c the pair of
 * 55x55 modules as above ("REAL") 0.895-0.904 of the split steps' time.
 */
#include <string.h>
#include "tinycnn.h"
#include "conv_internal.h"
#include "winograd_internal.h"

/* The output tile of a 3x3 Winograd algorithm, or 0 */
static int fire_tile(int algo)
{
    int r, tile = tc_wg_tile(algo, &r);
    return r == 3 ? tile : 0;
}

static int pointwise_ok(const tc_ir_stage *s)
{
    const tc_conv2d_params *p = &s->p;
    return tc_fused_pointwise_ok(s) && p->KH == 1 && p->KW == 1 && p->sh == 1 && p->sw == 1 &&
           !(p->pt | p->pl | p->pb | p->pr) && s->packed;
}

static int module_ok(const tc_ir_stage *st)
{
    const tc_ir_stage *sq = &st[0], *e1 = &st[1], *e3 = &st[2];
    const tc_conv2d_params *p = &e3->p;
    if (!pointwise_ok(sq) || !pointwise_ok(e1))
        return 0;
    if (!fire_tile(e3->algo) || tc_conv2d_check(p, e3->algo) || p->KH != 3 || p->KW != 3 ||
        p->sh != 1 || p->sw != 1 || p->dh != 1 || p->dw != 1 || p->group != 1 || p->pt != 1 ||
        p->pl != 1 || p->pb != 1 || p->pr != 1 || !e3->packed || tc_activation_check(e3->act))
        return 0;
    return e1->p.C == sq->p.K && p->C == sq->p.K;
}

int tc_fire_check(const tc_ir_stage *st, int modules, int h, int w)
{
    if (!st || modules < 1 || modules > TC_FIRE_MAX_MODULES || h < 1 || w < 1)
        return -1;
    for (int j = 0; j < modules; j++) {
        if (!module_ok(&st[3 * j]))
            return -1;
        if (j > 0 && st[3 * j].p.C != st[3 * j - 2].p.K + st[3 * j - 1].p.K)
            return -1;
    }
    return 0;
}

typedef struct {
    int nb, nty, m;
    /* floats in a band's slot: the squeeze buffers (two: module j's is read by the neighbours
     * while module j + 1's is written), the band's Concat, the GEMM's and Winograd's workspace */
    size_t s_off[2], c_off, g_off, w_off, slot;
} fire_plan;

/* Band b: output rows [r0, r1) (whole rows of tiles), squeeze rows [i0, i1) (a halo row). */
static void band_rows(const fire_plan *fp, int h, int b, int *r0, int *r1, int *i0, int *i1)
{
    int t0 = (int)((long)b * fp->nty / fp->nb), t1 = (int)((long)(b + 1) * fp->nty / fp->nb);
    *r0 = t0 * fp->m;
    *r1 = t1 * fp->m < h ? t1 * fp->m : h;
    *i0 = *r0 > 0 ? *r0 - 1 : 0;
    *i1 = *r1 < h ? *r1 + 1 : h;
}

static size_t up16(size_t n) { return (n + 15) / 16 * 16; }

/* A 4 KiB gap after each band's slot: a core loses the lines it wrote when the other core
 * writes within about 4 KB of them (benchmarks/l2_gap.c) */
#define FIRE_SLOT_GAP 1024

static fire_plan make_plan(const tc_ctx *serial, int threads, const tc_ir_stage *st, int modules,
                           int h, int w)
{
    fire_plan fp;
    fp.m = 0;
    for (int j = 0; j < modules; j++) {
        int t = fire_tile(st[3 * j + 2].algo);
        fp.m = t > fp.m ? t : fp.m; /* 4 is a multiple of 2: bands of 4-row tiles hold 2-row ones */
    }
    fp.nty = (h + fp.m - 1) / fp.m;
    fp.nb = threads < fp.nty ? threads : fp.nty;
    if (fp.nb < 1)
        fp.nb = 1;
    size_t s_max = 0, c_max = 0, w_max = 0;
    for (int b = 0; b < fp.nb; b++) {
        int r0, r1, i0, i1;
        band_rows(&fp, h, b, &r0, &r1, &i0, &i1);
        for (int j = 0; j < modules; j++) {
            const tc_ir_stage *sq = &st[3 * j], *e1 = &st[3 * j + 1], *e3 = &st[3 * j + 2];
            size_t s = (size_t)sq->p.K * (i1 - i0) * w;
            size_t c = j + 1 < modules ? (size_t)(e1->p.K + e3->p.K) * (r1 - r0) * w : 0;
            size_t ws = tc_wg_workspace_size(serial, 1, sq->p.K, i1 - i0, w, e3->p.K, r0 == 0,
                                             e3->p.pl, r1 == h, e3->p.pr, 3, fire_tile(e3->algo));
            s_max = s > s_max ? s : s_max;
            c_max = c > c_max ? c : c_max;
            w_max = ws > w_max ? ws : w_max;
        }
    }
    fp.s_off[0] = 0;
    fp.s_off[1] = modules > 1 ? up16(s_max) : 0;
    fp.c_off = fp.s_off[1] + up16(s_max);
    fp.g_off = fp.c_off + up16(c_max);
    fp.w_off = fp.g_off + up16(tc_gemm_workspace_size(serial));
    fp.slot = fp.w_off + up16(w_max) + FIRE_SLOT_GAP;
    return fp;
}

static const tc_ctx *serial_of(const tc_ctx *ctx, tc_ctx *buf)
{
    if (!ctx)
        return NULL;
    *buf = *ctx;
    buf->pool = NULL;
    return buf;
}

size_t tc_fire_workspace_size(const tc_ctx *ctx, const tc_ir_stage *st, int modules, int h, int w)
{
    if (tc_fire_check(st, modules, h, w))
        return 0;
    tc_ctx sc;
    const tc_ctx *s = serial_of(ctx, &sc);
    fire_plan fp = make_plan(s, ctx ? tc_pool_size(ctx->pool) : 1, st, modules, h, w);
    return (size_t)fp.nb * fp.slot;
}

typedef struct {
    const tc_ctx *serial;
    const tc_ir_stage *st;
    fire_plan fp;
    int modules, h, w;
    int j; /* the job's module */
    const float *x; /* the image's */
    float *y, *workspace;
} fire_job;

/* Module j's squeeze rows of band b: [Ks][i1 - i0][w] at slot + s_off[j & 1] */
static float *squeezed(const fire_job *j, int b, int module)
{
    return j->workspace + (size_t)b * j->fp.slot + j->fp.s_off[module & 1];
}

static void fire_task(void *arg, int tid, ptrdiff_t begin, ptrdiff_t end)
{
    const fire_job *j = (const fire_job *)arg;
    const int h = j->h, w = j->w, mod = j->j, last = mod + 1 == j->modules;
    const tc_ir_stage *sq = &j->st[3 * mod], *e1 = sq + 1, *e3 = sq + 2;
    const int Ks = sq->p.K, K1 = e1->p.K;
    const ptrdiff_t plane = (ptrdiff_t)h * w;
    (void)tid;
    for (ptrdiff_t b = begin; b < end; b++) {
        float *slot = j->workspace + (size_t)b * j->fp.slot;
        float *S = squeezed(j, (int)b, mod), *gws = slot + j->fp.g_off, *wws = slot + j->fp.w_off;
        int r0, r1, i0, i1;
        band_rows(&j->fp, h, (int)b, &r0, &r1, &i0, &i1);
        const ptrdiff_t ls = (ptrdiff_t)(i1 - i0) * w, lb = (ptrdiff_t)(r1 - r0) * w;
        if (mod == 0) /* the squeeze of the band's rows and halo rows from x's planes */
            tc_fused_pointwise(j->serial, sq, (i1 - i0) * w, j->x + (size_t)i0 * w, plane, S, ls,
                               NULL, 0, gws);
        else /* the halo rows: the neighbours' own rows, computed by the job before */
            for (int side = 0; side < 2; side++) {
                int nbr = (int)b + (side ? 1 : -1), row = side ? r1 : i0, q0, q1, p0, p1;
                if (side ? i1 == r1 : i0 == r0)
                    continue;
                band_rows(&j->fp, h, nbr, &q0, &q1, &p0, &p1);
                const float *src = squeezed(j, nbr, mod) + (size_t)(row - p0) * w;
                float *dst = S + (size_t)(row - i0) * w;
                for (int c = 0; c < Ks; c++)
                    memcpy(dst + c * ls, src + (size_t)c * (p1 - p0) * w, sizeof(float) * w);
            }
        /* the expands: into y's planes (the last module) or the band's own Concat */
        float *y = last ? j->y + (size_t)r0 * w : slot + j->fp.c_off;
        const ptrdiff_t ly = last ? plane : lb;
        tc_fused_pointwise(j->serial, e1, (r1 - r0) * w, S + (size_t)(r0 - i0) * w, ls, y, ly,
                           NULL, 0, gws);
        tc_wg_f32_ldy(j->serial, S, 1, Ks, i1 - i0, w, e3->packed, e3->bias, e3->p.K, r0 == 0,
                      e3->p.pl, r1 == h, e3->p.pr, 3, fire_tile(e3->algo), e3->act, NULL,
                      y + (size_t)K1 * ly, ly, wws);
        if (!last) /* the next module's squeeze of the band's own rows */
            tc_fused_pointwise(j->serial, sq + 3, (r1 - r0) * w, y, lb,
                               squeezed(j, (int)b, mod + 1) + (size_t)(r0 - i0) * w, ls, NULL, 0,
                               gws);
    }
}

void tc_fire_f32(const tc_ctx *ctx, const tc_ir_stage *st, int modules, int n, int h, int w,
                 const float *x, float *y, float *workspace)
{
    if (n < 1 || tc_fire_check(st, modules, h, w))
        return;
    tc_ctx sc;
    fire_job j;
    memset(&j, 0, sizeof(j));
    j.serial = serial_of(ctx, &sc);
    j.st = st;
    j.modules = modules;
    j.fp = make_plan(j.serial, ctx ? tc_pool_size(ctx->pool) : 1, st, modules, h, w);
    j.h = h, j.w = w, j.workspace = workspace;
    const size_t in_img = (size_t)st[0].p.C * h * w;
    const size_t out_img = (size_t)(st[3 * modules - 2].p.K + st[3 * modules - 1].p.K) * h * w;
    for (int img = 0; img < n; img++) {
        j.x = x + img * in_img;
        j.y = y + img * out_img;
        for (j.j = 0; j.j < modules; j.j++)
            tc_parallel_for(ctx ? ctx->pool : NULL, j.fp.nb, 1, fire_task, &j);
    }
}
