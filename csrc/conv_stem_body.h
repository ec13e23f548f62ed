/* The direct stem kernel (TC_CONV_ALGO_STEM), written once on the 8-lane
 * primitives of depthwise_vec_*.h and compiled twice: conv.c (portable) and
 * conv_avx2.c.  Define TC_STEM_FN before including.
 *
 * A stem (RGB in, 16..64 channels out, 3x3 stride 2) has a reduction of only
 * C*KH*KW = 27 taps: the GEMM path spent a quarter of its time around its
 * micro-kernel (im2col packing, the driver, 6-row A panels on 16 or 32
 * channels).  Here a register tile is 4 output channels x 24 output pixels of
 * one row (12 accumulators): per tap, 3 loads of 8 pixels straight from the
 * band's zero-padded phase planes (the stride folded into the phase split, so
 * the pixels of a tap are contiguous) and 4 weight broadcasts; bias,
 * residual and activation on the way out.  A row's last tile is 1..3 vectors,
 * the last one masked. */

/* One tile: channels [0, nk) of a block (nk <= 4; the packed weights are zero
 * past the last channel), output pixels [0, n) of a row, 8 * (nv - 1) < n <= 8 * nv.
 * x: the row's first output pixel in the phase planes (tap t at x + offs[t], the
 * lanes past n read up to 8 * nv - n floats further: the caller's slack)
 * w: [ntaps][4]  b: [4]  act: [4] or NULL (none, or a deferred kind)
 * residual: like y or NULL  y: nk rows [n], ldy apart */
static inline __attribute__((always_inline)) void
TC_STEM_TILE_FN(const float *x, const ptrdiff_t *offs, int ntaps, const float *w, const float *b,
                const tc_act_k *act, int nk, const float *residual, float *y, ptrdiff_t ldy,
                int n, const int nv)
{
    tc_v acc[4][3];
    for (int i = 0; i < 4; i++)
        for (int v = 0; v < nv; v++)
            acc[i][v] = tc_v_set1(b[i]);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 3
#endif
    for (int t = 0; t < ntaps; t++, w += 4) {
        const float *xs = x + offs[t];
        tc_v xv[3];
        for (int v = 0; v < nv; v++)
            xv[v] = tc_v_load(xs + 8 * v);
        for (int i = 0; i < 4; i++) {
            const tc_v wi = tc_v_set1(w[i]);
            for (int v = 0; v < nv; v++)
                acc[i][v] = tc_v_fma(wi, xv[v], acc[i][v]);
        }
    }
    const tc_m last = tc_m_range(0, n - 8 * (nv - 1));
    for (int i = 0; i < nk; i++) {
        float *yi = y + (ptrdiff_t)i * ldy;
        const float *ri = residual ? residual + (ptrdiff_t)i * ldy : NULL;
        for (int v = 0; v < nv; v++) {
            tc_v s = acc[i][v];
            const int full = v < nv - 1 || n == 8 * nv;
            if (ri)
                s = tc_v_add(s, full ? tc_v_load(ri + 8 * v) : tc_v_load_masked(ri + 8 * v, last));
            if (act)
                s = tc_v_act(act[i], s);
            if (full)
                tc_v_store(yi + 8 * v, s);
            else
                tc_v_store_masked(yi + 8 * v, last, s);
        }
    }
}

/* The tile for 3, 2 and 1 vectors, each its own function: inlined into the band loop, gcc
 * kept the pixel position as an index into the planes and spent three address additions
 * per tap on it; as a function the loads are base + offset + constant. */
#define TC_STEM_CAT_(a, b) a##b
#define TC_STEM_CAT(a, b) TC_STEM_CAT_(a, b)
#define TC_STEM_TILE_NV(nv)                                                                  \
    static __attribute__((noinline)) void TC_STEM_CAT(TC_STEM_TILE_FN, nv)(                  \
        const float *x, const ptrdiff_t *offs, int ntaps, const float *w, const float *b,     \
        const tc_act_k *act, int nk, const float *residual, float *y, ptrdiff_t ldy, int n)   \
    {                                                                                        \
        TC_STEM_TILE_FN(x, offs, ntaps, w, b, act, nk, residual, y, ldy, n, nv);             \
    }
TC_STEM_TILE_NV(1)
TC_STEM_TILE_NV(2)
TC_STEM_TILE_NV(3)
#undef TC_STEM_TILE_NV

/* One band of rows of one image, every output channel.
 * xp: the band's phase planes, output pixel (r, c) of the band at xp + r * wph + c, tap t
 * at offs[t] from there  w: [ceil(K / 4)][ntaps][4] (tc_conv2d_pack_f32)  bias: [K] or NULL
 * residual: like y or NULL  y: [K] planes ldy apart, the band's first row at y
 * (rows x OW floats each) */
static void TC_STEM_FN(const float *xp, const ptrdiff_t *offs, int ntaps, int wph, int rows, int OW,
                       const float *w, int K, const float *bias, const float *residual,
                       const tc_activation *act, float *y, ptrdiff_t ldy)
{
    const int deferred = act && tc_act_deferred(act->kind);
    for (int k0 = 0; k0 < K; k0 += 4, w += (size_t)ntaps * 4) {
        const int nk = K - k0 < 4 ? K - k0 : 4;
        float b[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        tc_act_k ak[4];
        for (int i = 0; i < nk; i++) {
            b[i] = bias ? bias[k0 + i] : 0.0f;
            ak[i] = tc_act_at(act, k0 + i);
        }
        const tc_act_k *a = act && !deferred ? ak : NULL;
        float *yk = y + (ptrdiff_t)k0 * ldy;
        const float *rk = residual ? residual + (ptrdiff_t)k0 * ldy : NULL;
        for (int r = 0; r < rows; r++) {
            const float *xr = xp + (size_t)r * wph;
            const ptrdiff_t o = (ptrdiff_t)r * OW;
            int c = 0;
            for (; c + 24 <= OW; c += 24)
                TC_STEM_CAT(TC_STEM_TILE_FN, 3)(xr + c, offs, ntaps, w, b, a, nk, rk ? rk + o + c : NULL,
                                yk + o + c, ldy, 24);
            const int n = OW - c;
            if (n > 16)
                TC_STEM_CAT(TC_STEM_TILE_FN, 3)(xr + c, offs, ntaps, w, b, a, nk, rk ? rk + o + c : NULL,
                                yk + o + c, ldy, n);
            else if (n > 8)
                TC_STEM_CAT(TC_STEM_TILE_FN, 2)(xr + c, offs, ntaps, w, b, a, nk, rk ? rk + o + c : NULL,
                                yk + o + c, ldy, n);
            else if (n > 0)
                TC_STEM_CAT(TC_STEM_TILE_FN, 1)(xr + c, offs, ntaps, w, b, a, nk, rk ? rk + o + c : NULL,
                                yk + o + c, ldy, n);
        }
        if (deferred) /* the band's rows of these channels, just written */
            for (int i = 0; i < nk; i++)
                tc_v_act_rows(act->kind, yk + (ptrdiff_t)i * ldy, (ptrdiff_t)rows * OW);
    }
}
