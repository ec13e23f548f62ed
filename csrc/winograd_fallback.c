/* winograd_fallback.c - the direct recomputation of the Winograd tiles whose
 * result may not be finite.
 *
 * One NaN or Inf in a tile's input spreads over the whole tile, for every
 * output channel (and a huge finite input can overflow in the transforms),
 * where a direct convolution gives NaN or Inf only at the outputs whose 3x3
 * window holds one.  The output transforms flag such tiles (see wg_output_fn;
 * on finite inputs that costs an integer max per vector of the first stage,
 * or an FMA per output vector) and those are recomputed here, directly.  The
 * raw 3x3 filters are not kept: they come back from U = G g G^T as
 * g = R U R^T, where R G = I takes row 0 of G (times 4 for F(4x4)), the
 * difference of rows 1 and 2 (their middle column) and the last row.  The
 * driver (winograd.c) calls tc_wg_direct_panel for the flagged tiles of one
 * group and one panel of output channels. */
#include <math.h>
#include <string.h>
#include "epilogue.h"
#include "tinycnn.h"
#include "winograd_internal.h"

/* The 3x3 filters of one panel of WG_KR output channels and one input channel
 * (see wg_recover_fn; lanes past WG_KR, and the padding channels past K:
 * zero).  g[0][0], g[0][2], g[2][0] and g[2][2] come back exactly, the others
 * within 5 roundings (U's, the product, 3 sums: 2^-24 each) of the sum of
 * their terms' magnitudes e.  A value within 2^-21 e of zero is zero: a zero
 * weight must stay exactly zero, or an infinite input would give +-Inf where
 * 0 * Inf = NaN (a weight that small next to its neighbours becomes zero). */
void tc_wg_recover_portable(const float *u, ptrdiff_t plane, int alpha, float *g)
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
void tc_wg_direct3_portable(const float *g, const float *x, int rows, int cols, float *acc)
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

/* As tc_wg_direct3_portable, with the 25 taps of a 5x5 filter (a rare path:
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
 * residual at off[l] + k * ldy); ReLU keeps NaN, as in the Winograd
 * epilogue.  The filters of the panel are recovered once per input channel
 * for all the tiles of the group (a single NaN flags up to 4 tiles for all K
 * channels, often in one group), and the sums run over the panel's channels
 * at once, in vectors.  A tile whose outputs are all NaN already (a NaN in
 * every window: nothing can change them) stops there, so an input full of
 * NaN costs about one input channel. */
void tc_wg_direct_panel(const wg_job *j, int g, int p, const unsigned *bad, const ptrdiff_t *off,
                        const int *rows, const int *cols)
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
            ptrdiff_t o = off[l] + (ptrdiff_t)(k0 + r) * j->ldy;
            float *y = j->y + o, bias = j->bias ? j->bias[k0 + r] : 0.0f;
            const tc_act_k act = tc_act_at(j->act, k0 + r);
            const float *rs = j->res ? j->res + o : NULL;
            for (int i = 0; i < rows[l]; i++) {
                for (int jj = 0; jj < cols[l]; jj++) {
                    float s = tl[e].acc[(i * 4 + jj) * WG_LANES + r] + bias;
                    if (rs)
                        s += rs[(ptrdiff_t)i * OW + jj];
                    y[(ptrdiff_t)i * OW + jj] = tc_act_f32(act, s);
                }
            }
        }
    }
}
