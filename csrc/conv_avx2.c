/* AVX2 builds of the depthwise kernel, the grouped kernel and the im2col packer: the
 * depthwise and grouped bodies (depthwise_body.h, grouped_body.h) on AVX2 vector
 * primitives; the im2col body
 * (conv_im2col_body.h) is plain C that vectorizes 8-wide with -mavx2 -mfma. */
#include <stddef.h>
#include "conv_internal.h"
#include "depthwise_vec_avx2.h"

#define TC_DW_FN dw_plane_avx2
#define TC_DW_UNROLLED 1
#include "depthwise_body.h"

#define TC_GC_FN gc_block_avx2
#define TC_GC_COPY_FN gc_copy_avx2
#define TC_GC_SPLIT_FN gc_split_even_odd_avx2
#include "grouped_body.h"
#include "grouped8_avx2.h"

#define TC_STEM_FN stem_band_avx2
#define TC_STEM_TILE_FN stem_tile_avx2
#include "conv_stem_body.h"

#define TC_IM2COL_FN pack_b_im2col_avx2
#include "conv_im2col_body.h"

/* shared with the AVX-512 row (conv_avx512.c) */
void tc_pack_b_im2col_avx2(const void *arg, int k0, int kc, int n0, int nc, float *dst,
                           void *scratch, int new_k)
{
    pack_b_im2col_avx2(arg, k0, kc, n0, nc, dst, scratch, new_k);
}

void tc_gc_block_avx2(const float *xg, const ptrdiff_t *taps, int ntaps, int wph, int OH, int OW,
                      ptrdiff_t ldy, const float *w, ptrdiff_t wld, int nk, const float *bias,
                      const float *residual, const tc_act_k *act, float *y, const char *pf,
                      ptrdiff_t pf_lines)
{
    gc_block_avx2(xg, taps, ntaps, wph, OH, OW, ldy, w, wld, nk, bias, residual, act, y, pf,
                  pf_lines);
}

void tc_gc_copy_avx2(const float *x, int C, int h, int w, int pt, int pl, int sh, int sw, int hph,
                     int wph, float *xp)
{
    gc_copy_avx2(x, C, h, w, pt, pl, sh, sw, hph, wph, xp);
}

void tc_stem_band_avx2(const float *xp, const ptrdiff_t *offs, int ntaps, int wph, int rows, int OW,
                       const float *w, int K, const float *bias, const float *residual,
                       const tc_activation *act, float *y, ptrdiff_t ldy)
{
    stem_band_avx2(xp, offs, ntaps, wph, rows, OW, w, K, bias, residual, act, y, ldy);
}

void tc_take_even_avx2(const float *s, float *d, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i + 8 <= n - 1; i += 8) /* s[2i .. 2i + 15] all inside s[0 .. 2n - 2] */
        _mm256_storeu_ps(d + i, tc_v_load_even(s + 2 * i));
    for (; i < n; i++)
        d[i] = s[2 * i];
}

void tc_split_even_odd_avx2(const float *s, ptrdiff_t n, float *e, float *o)
{
    gc_split_even_odd_avx2(s, n, e, o);
}

const tc_conv_kernels tc_conv_avx2 = {
    .dw_pick = dw_plane_avx2,
    .dw_split_pick = dw_plane_avx2_split_pick,
    .dw_block_pick = dw_plane_avx2_block_pick,
    .pack_b_im2col = pack_b_im2col_avx2,
    .gc_block = gc_block_avx2,
    .gc_copy = gc_copy_avx2,
    .gc8 = tc_gc8_avx2,
    .gc8_copy = tc_gc8_copy_avx2,
    .gc8_direct = tc_gc8_direct_avx2,
    .gc8_wino = tc_gc8_wino_avx2,
    .take_even = tc_take_even_avx2,
    .split_even_odd = tc_split_even_odd_avx2,
    .stem_band = stem_band_avx2,
    .stem_project16 = tc_stem_project16_avx2,
};
