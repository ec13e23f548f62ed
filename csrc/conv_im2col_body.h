/* Body of the im2col B packer, included by conv.c (portable) and conv_avx2.c
 * (same C compiled with -mavx2 -mfma: the fixed-length copies and the stride-2
 * gathers vectorize).  Defines one static function named TC_IM2COL_FN (a tc_pack_b_fn).
 * Needs gemm_internal.h (NR, TC_GEMM_KC) and conv_internal.h (tc_im2col_b). */
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

/* dst[ceil(nc/NR)][kc][NR]: rows k = (c, ki, kj) of [k0, k0+kc), columns
 * n = (oh, ow) of [n0, n0+nc).  The input is phase split (see conv.c), so
 * every tap is a stride-1 window: scratch caches each row's offset (rebuilt
 * when new_k); the 16 columns of a panel are runs within one output row: one
 * run of 16 is a fixed-size copy, a panel straddling output rows is two or
 * more shorter copies. */
static void TC_IM2COL_FN(const void *varg, int k0, int kc, int n0, int nc, float *dst,
                         void *scratch, int new_k)
{
    const tc_im2col_b *g = (const tc_im2col_b *)varg;
    ptrdiff_t *koff = (ptrdiff_t *)scratch; /* [KC] */
    if (new_k) {
        int khw = g->KH * g->KW, c = k0 / khw, r = k0 % khw, ki = r / g->KW, kj = r % g->KW;
        for (int kk = 0; kk < kc; kk++) {
            int ty = ki * g->dh, tx = kj * g->dw;
            koff[kk] = (ptrdiff_t)c * g->cstride +
                       (ptrdiff_t)((ty % g->sh) * g->sw + tx % g->sw) * g->pplane +
                       (ptrdiff_t)(ty / g->sh) * g->wp + tx / g->sw;
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
            rb[nruns++] = (ptrdiff_t)oh * g->wp + ow;
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
            for (int kk = 0; kk < kc; kk++)
                memcpy(dst + (size_t)kk * NR, src + koff[kk], NR * sizeof(float));
            continue;
        }
#ifdef __AVX2__
        /* Panel straddling output rows: each run is a masked 16-wide load
         * (masked-out lanes never fault), the runs are OR-ed together; lanes
         * past nr stay zero. */
        {
            __m256i m0[NR], m1[NR];
            ptrdiff_t off[NR];
            const __m256i lane0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            const __m256i lane1 = _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15);
            for (int r = 0; r < nruns; r++) {
                __m256i lo = _mm256_set1_epi32(rj[r] - 1), hi = _mm256_set1_epi32(rj[r + 1]);
                m0[r] = _mm256_and_si256(_mm256_cmpgt_epi32(lane0, lo), _mm256_cmpgt_epi32(hi, lane0));
                m1[r] = _mm256_and_si256(_mm256_cmpgt_epi32(lane1, lo), _mm256_cmpgt_epi32(hi, lane1));
                off[r] = rb[r] - rj[r];
            }
            for (int kk = 0; kk < kc; kk++) {
                const float *s = g->x + koff[kk];
                __m256 v0 = _mm256_setzero_ps(), v1 = _mm256_setzero_ps();
                for (int r = 0; r < nruns; r++) {
                    v0 = _mm256_or_ps(v0, _mm256_maskload_ps(s + off[r], m0[r]));
                    v1 = _mm256_or_ps(v1, _mm256_maskload_ps(s + off[r] + 8, m1[r]));
                }
                _mm256_storeu_ps(dst + (size_t)kk * NR, v0);
                _mm256_storeu_ps(dst + (size_t)kk * NR + 8, v1);
            }
            continue;
        }
#endif
        for (int kk = 0; kk < kc; kk++) {
            const float *s = g->x + koff[kk];
            float *d = dst + (size_t)kk * NR;
            for (int r = 0; r < nruns; r++) {
                const float *sr = s + rb[r] - rj[r];
                for (int j = rj[r]; j < rj[r + 1]; j++)
                    d[j] = sr[j];
            }
            for (int j = nr; j < NR; j++)
                d[j] = 0.0f;
        }
    }
}
