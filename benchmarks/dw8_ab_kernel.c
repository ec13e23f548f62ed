/* One checkout's chan8 depthwise (csrc/ir_chan8_avx2.c dw8, the whole file included) exposed to
 * benchmarks/dw8_ab.c under the names DW8_FN / SETUP_FN; dw8_ab.sh builds it once per checkout,
 * renaming the file's other external functions so that two copies link together. */
#include "ir_chan8_avx2.c"

void DW8_FN(int KC, int S, int E, int Wp, int n, const __m256 *buf, size_t bstride, const float *w,
            const float *bias, int relu, float *y, size_t ldy, __m256 *ob, const int *pix)
{
    tc_activation a;
    memset(&a, 0, sizeof a);
    a.kind = relu ? TC_ACT_RELU : TC_ACT_NONE;
    dw8(KC, S, E, Wp, n, buf, bstride, w, bias, tc_act_at(&a, 0), y, ldy, ob, pix);
}

int SETUP_FN(int KC, int H, int W, int s, int oh0, int oh1, __m256 *buf, size_t bstride, int *pix,
             int *pin, int *i1)
{
    return dw8_setup(KC, H, W, s, oh0, oh1, 1, buf, bstride, pix, pin, i1);
}
