/* Body of the depthwise direct kernel, included by conv.c (portable) and
 * conv_avx2.c (same C, compiled with -mavx2 -mfma so the ow loops vectorize).
 * Defines one static function named TC_DW_FN (a tc_dw_plane_fn). */
#include "epilogue.h"

/* xp: one zero-padded input plane [Hp][Wp]  w: [KH*KW]  acc: [OW] scratch
 * y: [OH][OW] output plane  residual: [OH][OW] or NULL (may be y) */
static void TC_DW_FN(const float *xp, int Wp, const float *w, int KH, int KW, int sh, int sw,
                     int dh, int dw, float bias, const float *residual, int act, int OH, int OW,
                     float *acc, float *y)
{
    for (int oh = 0; oh < OH; oh++) {
        for (int ow = 0; ow < OW; ow++)
            acc[ow] = 0.0f;
        for (int ki = 0; ki < KH; ki++) {
            const float *row = xp + (ptrdiff_t)(oh * sh + ki * dh) * Wp;
            for (int kj = 0; kj < KW; kj++) {
                const float wv = w[ki * KW + kj];
                const float *src = row + kj * dw;
                if (sw == 1) {
                    for (int ow = 0; ow < OW; ow++)
                        acc[ow] += wv * src[ow];
                } else if (sw == 2) {
                    for (int ow = 0; ow < OW; ow++)
                        acc[ow] += wv * src[2 * ow];
                } else {
                    for (int ow = 0; ow < OW; ow++)
                        acc[ow] += wv * src[(ptrdiff_t)ow * sw];
                }
            }
        }
        float *yr = y + (ptrdiff_t)oh * OW;
        const float *rr = residual ? residual + (ptrdiff_t)oh * OW : NULL;
        for (int ow = 0; ow < OW; ow++) {
            float v = acc[ow] + bias;
            if (rr)
                v += rr[ow];
            yr[ow] = tc_act_f32(act, v);
        }
    }
}
