/* The chunk of tiles of the integer Winograd F(2x2, 3x3) (qwinograd.c), compiled twice:
 * portable (qwinograd.c) and with -mavx2 (qwinograd_avx2.c), which differ only in the
 * product's micro-kernel (the job's) and in the output stage, QWG_STORE.  The includer
 * defines QWG_NAME, QWG_EPI_DECL(e) (the loop-invariant part of the output stage of e)
 * and QWG_STORE(acc, e, nr, y) (16 int32 sums, bias not added, to columns [0, nr) of
 * one output pixel); optionally QWG_INPUT16 (a function as input16_ below) and
 * QWG_OUT_TILE(m, ms, e, nr, y, r) (as out_tile_ below, with QWG_EPI_DECL's names in
 * scope), the transforms written for the tier.
 *
 * x: [N, H, W, C] 8-bit   V: [16][chunk][cpad] int16   M: [16][chunk][16] int32
 * All sums are taken modulo 2^32 (uint32_t): each step is a ring operation, and the
 * final value, 4 x the direct convolution's sum, fits int32 (tc_qwinograd_fits). */

/* d = x - x_zp of 16 channels of the 4 x 4 input pixels -> V = B^T d B.
 * B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]. */
static inline void QWG_CAT(input16_, QWG_NAME)(const uint8_t *const *src, int c0, uint8_t flip,
                                               int zp, int16_t *v, size_t vstride)
{
    int16_t d[16][16], a[16][16];
    for (int k = 0; k < 16; k++)
        for (int j = 0; j < 16; j++)
            d[k][j] = (int16_t)((uint8_t)(src[k][c0 + j] ^ flip) - zp);
    for (int col = 0; col < 4; col++)
        for (int j = 0; j < 16; j++) {
            int d0 = d[col][j], d1 = d[4 + col][j], d2 = d[8 + col][j], d3 = d[12 + col][j];
            a[col][j] = (int16_t)(d0 - d2);
            a[4 + col][j] = (int16_t)(d1 + d2);
            a[8 + col][j] = (int16_t)(d2 - d1);
            a[12 + col][j] = (int16_t)(d1 - d3);
        }
    for (int row = 0; row < 4; row++) {
        int16_t *o = v + (size_t)row * 4 * vstride;
        for (int j = 0; j < 16; j++) {
            int a0 = a[row * 4][j], a1 = a[row * 4 + 1][j], a2 = a[row * 4 + 2][j],
                a3 = a[row * 4 + 3][j];
            o[j] = (int16_t)(a0 - a2);
            o[vstride + j] = (int16_t)(a1 + a2);
            o[2 * vstride + j] = (int16_t)(a2 - a1);
            o[3 * vstride + j] = (int16_t)(a1 - a3);
        }
    }
}

#ifndef QWG_INPUT16
#define QWG_INPUT16 QWG_CAT(input16_, QWG_NAME)
#endif

#ifndef QWG_OUT_TILE
/* One tile's Y = A^T M A / 4 (exact) of 16 channels, to its 4 output pixels (row-major in
 * the 2 x 2 tile): y[q] the pixel's first output element, NULL outside the map; r[q] its
 * residual (e->residual).  m: M at the tile, the 16 products ms apart.
 * A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]. */
static inline void QWG_CAT(out_tile_, QWG_NAME)(const uint32_t *m, size_t ms, tc_qepi *e, int nr,
                                                char *const *y, const char *const *r)
{
    int32_t yv[4][TC_QNR];
    for (int j = 0; j < TC_QNR; j++) {
        uint32_t s0[4], s1[4];
        for (int col = 0; col < 4; col++) {
            uint32_t m0 = m[col * ms + j], m1 = m[(4 + col) * ms + j],
                     m2 = m[(8 + col) * ms + j], m3 = m[(12 + col) * ms + j];
            s0[col] = m0 + m1 + m2;
            s1[col] = m1 - m2 - m3;
        }
        yv[0][j] = (int32_t)(s0[0] + s0[1] + s0[2]) / 4;
        yv[1][j] = (int32_t)(s0[1] - s0[2] - s0[3]) / 4;
        yv[2][j] = (int32_t)(s1[0] + s1[1] + s1[2]) / 4;
        yv[3][j] = (int32_t)(s1[1] - s1[2] - s1[3]) / 4;
    }
    for (int q = 0; q < 4; q++) {
        if (!y[q])
            continue;
        e->r = r[q];
        QWG_STORE(yv[q], e, nr, y[q]);
    }
}
#define QWG_OUT_TILE(m, ms, e, nr, y, r) QWG_CAT(out_tile_, QWG_NAME)(m, ms, e, nr, y, r)
#endif

void QWG_NAME(const tc_qwg_job *jb, int t0, int nt, int p0, int p1, int prefetch, char *ws)
{
    const int cpad = jb->cpad, np = (jb->K + TC_QNR - 1) / TC_QNR, chunk = jb->chunk;
    const size_t vstride = (size_t)chunk * cpad;
    int16_t *V = (int16_t *)ws;
    int32_t *M = (int32_t *)(ws + ((16 * vstride * sizeof(int16_t) + 63) & ~(size_t)63));
    const int per_image = jb->tiles_y * jb->tiles_x;
    const size_t image = (size_t)jb->h * jb->w * jb->C;
    const size_t ysz = jb->out->type >= TC_QOUT_S32 ? 4 : 1;
    /* the channels past C read the row of zero points: d = 0 there */
    const uint8_t *zero_row = jb->zero_row;

    /* input transform of the chunk's tiles */
    for (int i = 0; i < nt; i++) {
        int t = t0 + i, img = t / per_image, ty = t % per_image / jb->tiles_x,
            tx = t % jb->tiles_x;
        const uint8_t *src[16], *part[16];
        uint8_t tail[16][16];
        for (int r = 0, k = 0; r < 4; r++)
            for (int s = 0; s < 4; s++, k++) {
                int iy = 2 * ty - jb->pt + r, ix = 2 * tx - jb->pl + s;
                src[k] = iy >= 0 && iy < jb->h && ix >= 0 && ix < jb->w
                             ? jb->x + img * image + ((size_t)iy * jb->w + ix) * jb->C
                             : zero_row;
            }
        int c0 = 0;
        for (; c0 + 16 <= jb->C; c0 += 16)
            QWG_INPUT16(src, c0, jb->flip, jb->x_zero_point, V + (size_t)i * cpad + c0, vstride);
        if (c0 < cpad) { /* the last channels, padded with zero points */
            for (int k = 0; k < 16; k++) {
                for (int j = 0; j < 16; j++)
                    tail[k][j] = c0 + j < jb->C ? src[k][c0 + j] : zero_row[0];
                part[k] = tail[k];
            }
            QWG_INPUT16(part, 0, jb->flip, jb->x_zero_point, V + (size_t)i * cpad + c0, vstride);
        }
    }

    /* per panel of 16 output channels: the 16 products, then the output transform */
    static const int32_t zeros[TC_QNR];
    static const float fzeros[TC_QNR];
    const tc_qepi e32 = {zeros, fzeros, TC_QOUT_S32, 0, 0, 0, NULL, NULL, NULL, NULL, 0};
    const size_t panel = (size_t)cpad * TC_QNR; /* int16 elements */
    const int mr = jb->uk.mr;
    const int calls = (nt + mr - 1) / mr;
    const size_t lines = panel * sizeof(int16_t) / 64;
    for (int p = p0; p < p1; p++) {
        for (int xi = 0; xi < 16; xi++) {
            const int16_t *b = jb->packed + ((size_t)xi * np + p) * panel;
            /* the next panel (the next product's, or the next column panel's first) into L2,
             * a slice per micro-kernel call: the weights come from memory in a network
             * (other layers evicted them), and the hardware prefetcher stops at each 4 KiB
             * page of the 16 panels a column panel reads 16 / np apart */
            const char *next = !prefetch ? NULL
                               : xi < 15 ? (const char *)(b + np * panel)
                               : p + 1 < p1 ? (const char *)(jb->packed + (size_t)(p + 1) * panel)
                                            : NULL;
            for (int r = 0, ri = 0; r < nt; r += mr, ri++) {
                int m = nt - r < mr ? nt - r : mr;
                if (next)
                    for (size_t l = lines * ri / calls; l < lines * (ri + 1) / calls; l++)
                        __builtin_prefetch(next + l * 64, 0, 2);
                /* the kernel's mr rows (the last repeated past m); the other pointers are
                 * never read (filling all TC_QMR_MAX in a loop took 64 instructions a call,
                 * 4% of a 64-channel layer's) */
                const void *rows[TC_QMR_MAX];
                const int16_t *v0 = V + xi * vstride + (size_t)r * cpad;
                if (m == 6 && mr == 6) { /* AVX2's whole tiles: unrolled */
                    rows[0] = v0;
                    rows[1] = v0 + cpad;
                    rows[2] = v0 + 2 * (size_t)cpad;
                    rows[3] = v0 + 3 * (size_t)cpad;
                    rows[4] = v0 + 4 * (size_t)cpad;
                    rows[5] = v0 + 5 * (size_t)cpad;
                } else {
                    for (int q = 0; q < mr; q++)
                        rows[q] = v0 + (size_t)(q < m ? q : m - 1) * cpad;
                }
                jb->uk.fn(1, cpad, rows, m, b, (ptrdiff_t)(panel * sizeof(int16_t)), &e32,
                          TC_QNR, M + ((size_t)xi * chunk + r) * TC_QNR, TC_QNR);
            }
        }
        const int n0 = p * TC_QNR, nr = jb->K - n0 < TC_QNR ? jb->K - n0 : TC_QNR;
        tc_qepi e = {jb->bias + n0, jb->scale + n0, jb->out->type, jb->out->zero_point,
                     jb->out->lo, jb->out->hi, jb->out->residual, NULL, NULL, NULL, 0};
        QWG_EPI_DECL(&e);
        /* the tiles' positions stepped along, not divided out per tile */
        int img = t0 / per_image, ty = t0 % per_image / jb->tiles_x, tx = t0 % jb->tiles_x;
        const size_t ms = (size_t)chunk * TC_QNR, row = (size_t)jb->ow * jb->K * ysz;
        for (int i = 0; i < nt; i++) {
            const uint32_t *m = (const uint32_t *)M + (size_t)i * TC_QNR;
            const int oy = 2 * ty, ox = 2 * tx;
            const size_t at = ((((size_t)img * jb->oh + oy) * jb->ow + ox) * jb->K + n0) * ysz;
            const size_t step = (size_t)jb->K * ysz;
            const int down = oy + 1 < jb->oh, right = ox + 1 < jb->ow;
            char *y[4] = {jb->y + at, right ? jb->y + at + step : NULL,
                          down ? jb->y + at + row : NULL,
                          down && right ? jb->y + at + row + step : NULL};
            const char *r[4] = {NULL, NULL, NULL, NULL};
            if (e.residual)
                for (int q = 0; q < 4; q++)
                    r[q] = y[q] ? (const char *)e.residual->r + (y[q] - jb->y) : NULL;
            QWG_OUT_TILE(m, ms, &e, nr, y, r);
            if (++tx == jb->tiles_x) {
                tx = 0;
                if (++ty == jb->tiles_y) {
                    ty = 0;
                    img++;
                }
            }
        }
    }
}
