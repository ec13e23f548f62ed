/* Body of the im2col B packer, included by conv.c (portable) and conv_avx2.c
 * (same C compiled with -mavx2 -mfma: the fixed-length copies and the stride-2
 * gathers vectorize).  Defines one function named TC_IM2COL_FN.
 * Needs gemm_internal.h (NR, TC_GEMM_KC) and conv_internal.h (tc_im2col_b). */
#include <string.h>

/* dst[ceil(nc/NR)][kc][NR]: rows k = (c, ki, kj) of [k0, k0+kc), columns
 * n = (oh, ow) of [n0, n0+nc).  scratch caches each row's offset in the padded
 * input (rebuilt when new_k).  The 16 columns of a panel are split into runs
 * within one output row (src offset base + j*sw): one run of 16 is a fixed-size
 * copy, a panel straddling output rows is two or more shorter runs. */
void TC_IM2COL_FN(const void *varg, int k0, int kc, int n0, int nc, float *dst, void *scratch,
                  int new_k)
{
    const tc_im2col_b *g = (const tc_im2col_b *)varg;
    ptrdiff_t *koff = (ptrdiff_t *)scratch; /* [KC] */
    const int sw = g->sw;
    if (new_k) {
        int khw = g->KH * g->KW, c = k0 / khw, r = k0 % khw, ki = r / g->KW, kj = r % g->KW;
        for (int kk = 0; kk < kc; kk++) {
            koff[kk] = (ptrdiff_t)c * g->plane + (ptrdiff_t)ki * g->dh * g->wp + (ptrdiff_t)kj * g->dw;
            if (++kj == g->KW) {
                kj = 0;
                if (++ki == g->KH) {
                    ki = 0;
                    c++;
                }
            }
        }
    }
    int oh = n0 / g->OW, ow = n0 % g->OW;
    for (int j0 = 0; j0 < nc; j0 += NR, dst += (size_t)kc * NR) {
        const int nr = nc - j0 < NR ? nc - j0 : NR;
        /* runs of this panel: [rj[r], rj[r+1]) from src offset rb[r] */
        int rj[NR + 1], nruns = 0;
        ptrdiff_t rb[NR];
        for (int j = 0; j < nr;) {
            int len = g->OW - ow < nr - j ? g->OW - ow : nr - j;
            rj[nruns] = j;
            rb[nruns++] = (ptrdiff_t)oh * g->sh * g->wp + (ptrdiff_t)ow * sw;
            j += len;
            ow += len;
            if (ow == g->OW) {
                ow = 0;
                oh++;
            }
        }
        rj[nruns] = nr;
        if (nruns == 1 && nr == NR) {
            const float *src = g->x + rb[0];
            if (sw == 1) {
                for (int kk = 0; kk < kc; kk++)
                    memcpy(dst + (size_t)kk * NR, src + koff[kk], NR * sizeof(float));
            } else if (sw == 2) {
                for (int kk = 0; kk < kc; kk++) {
                    const float *s = src + koff[kk];
                    float *d = dst + (size_t)kk * NR;
                    for (int j = 0; j < NR; j++)
                        d[j] = s[2 * j];
                }
            } else {
                for (int kk = 0; kk < kc; kk++) {
                    const float *s = src + koff[kk];
                    float *d = dst + (size_t)kk * NR;
                    for (int j = 0; j < NR; j++)
                        d[j] = s[(ptrdiff_t)j * sw];
                }
            }
            continue;
        }
        for (int kk = 0; kk < kc; kk++) {
            const float *s = g->x + koff[kk];
            float *d = dst + (size_t)kk * NR;
            for (int r = 0; r < nruns; r++) {
                const float *sr = s + rb[r] - (ptrdiff_t)rj[r] * sw;
                for (int j = rj[r]; j < rj[r + 1]; j++)
                    d[j] = sr[(ptrdiff_t)j * sw];
            }
            for (int j = nr; j < NR; j++)
                d[j] = 0.0f;
        }
    }
}
