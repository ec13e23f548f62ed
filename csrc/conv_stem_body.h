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

#define TC_STEM_CAT_(a, b) a##b
#define TC_STEM_CAT(a, b) TC_STEM_CAT_(a, b)

/* The activation of a tile's epilogue, a constant of each tile function: none, ReLU, Clip
 * (MobileNetV2's ReLU6) or HardSwish (the stems' kinds) inlined without the per-vector switch
 * of tc_v_act, or TC_STEM_ACT_ANY: act[i]'s kind at run time (NULL: none, or a deferred kind).
 * Clip on the ANY path (h54-mv, Zen 3): a fifth of the 3-vector tile's samples in its
 * epilogue's jump tables; its own tiles: MobileNetV2's stem block 0.917 of its time warm
 * (benchmarks/sf_ab.c, 300 rounds), 0.955 in the network at 1 thread (steps_ab.py), the same
 * bits. */
#define TC_STEM_ACT_ANY (-1)

/* One channel's row of a tile out: acc0..acc2 (the first nv) + residual, then the activation
 * (kind, above; act: this channel's), stored to y[0, 8 * (nv - 1) + tail).  The accumulators
 * by value: passed as an array, gcc kept the tile's 12 accumulators in a stack array, stored
 * there once after the broadcast of the bias and again after the taps (24 stores and 12
 * reloads a tile, 6-8% of its samples in ShuffleNet's stem). */
static inline __attribute__((always_inline)) void
TC_STEM_CAT(TC_STEM_TILE_FN, _out)(const tc_v acc0, const tc_v acc1, const tc_v acc2,
                                   const int nv, int tail, const int kind, const tc_act_k *act,
                                   const float *residual, float *y)
{
    const tc_m last = tc_m_range(0, tail);
    for (int v = 0; v < nv; v++) {
        tc_v s = v == 0 ? acc0 : v == 1 ? acc1 : acc2;
        const int full = v < nv - 1 || tail == 8;
        if (residual)
            s = tc_v_add(s, full ? tc_v_load(residual + 8 * v) : tc_v_load_masked(residual + 8 * v, last));
        if (kind == TC_ACT_RELU || kind == TC_ACT_CLIP || kind == TC_ACT_HARD_SWISH) {
            tc_act_k k = *act;
            k.kind = kind; /* a constant: tc_v_act's switch folds away */
            s = tc_v_act(k, s);
        } else if (kind == TC_STEM_ACT_ANY && act) {
            s = tc_v_act(*act, s);
        }
        if (full)
            tc_v_store(y + 8 * v, s);
        else
            tc_v_store_masked(y + 8 * v, last, s);
    }
}

/* One tile: channels [0, nk) of a block (nk <= 4; the packed weights are zero
 * past the last channel), output pixels [0, n) of a row, 8 * (nv - 1) < n <= 8 * nv.
 * x: the row's first output pixel in the phase planes (tap t at x + offs[t], the
 * lanes past n read up to 8 * nv - n floats further: the caller's slack)
 * w: [ntaps][4]  b: [4]  act: [4] or NULL (none, or a deferred kind)
 * residual: like y or NULL  y: nk rows [n], ldy apart
 * kind (a constant): the activation of every channel, TC_STEM_ACT_ANY: act's. */
static inline __attribute__((always_inline)) void
TC_STEM_TILE_FN(const float *x, const ptrdiff_t *offs, int ntaps, const float *w, const float *b,
                const tc_act_k *act, int nk, const float *residual, float *y, ptrdiff_t ldy,
                int n, const int nv, const int kind)
{
    /* four arrays, not one [4][3]: gcc kept a [4][3] array on the stack around the loop */
    tc_v a0[3], a1[3], a2[3], a3[3];
    for (int v = 0; v < nv; v++) {
        a0[v] = tc_v_set1(b[0]);
        a1[v] = tc_v_set1(b[1]);
        a2[v] = tc_v_set1(b[2]);
        a3[v] = tc_v_set1(b[3]);
    }
    int t = 0;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 3
#endif
    do { /* ntaps >= 1: no zero-trip path, for which gcc stored the bias broadcasts */
        const float *xs = x + offs[t];
        tc_v xv[3];
        for (int v = 0; v < nv; v++)
            xv[v] = tc_v_load(xs + 8 * v);
        /* one weight broadcast at a time: 12 accumulators, 3 pixel vectors and 1 weight
         * are the 16 registers (four broadcasts first spilled accumulators in the loop) */
#define TC_STEM_FMA(acc, wi)                                                                 \
    do {                                                                                     \
        const tc_v wv = tc_v_set1(wi);                                                       \
        for (int v = 0; v < nv; v++)                                                         \
            acc[v] = tc_v_fma(wv, xv[v], acc[v]);                                            \
    } while (0)
        TC_STEM_FMA(a0, w[0]);
        TC_STEM_FMA(a1, w[1]);
        TC_STEM_FMA(a2, w[2]);
        TC_STEM_FMA(a3, w[3]);
#undef TC_STEM_FMA
        w += 4;
    } while (++t < ntaps);
    const int tail = n - 8 * (nv - 1); /* lanes of the last vector, 1..8 */
    /* lanes past nv: never read (a copy of the first, so nothing is left unset) */
#define TC_STEM_ACC(a) a[0], nv > 1 ? a[1] : a[0], nv > 2 ? a[2] : a[0]
    TC_STEM_CAT(TC_STEM_TILE_FN, _out)(TC_STEM_ACC(a0), nv, tail, kind, act, residual, y);
    if (nk > 1)
        TC_STEM_CAT(TC_STEM_TILE_FN, _out)(TC_STEM_ACC(a1), nv, tail, kind, act ? act + 1 : NULL,
                                           residual ? residual + ldy : NULL, y + ldy);
    if (nk > 2)
        TC_STEM_CAT(TC_STEM_TILE_FN, _out)(TC_STEM_ACC(a2), nv, tail, kind, act ? act + 2 : NULL,
                                           residual ? residual + 2 * ldy : NULL, y + 2 * ldy);
    if (nk > 3)
        TC_STEM_CAT(TC_STEM_TILE_FN, _out)(TC_STEM_ACC(a3), nv, tail, kind, act ? act + 3 : NULL,
                                           residual ? residual + 3 * ldy : NULL, y + 3 * ldy);
#undef TC_STEM_ACC
}

/* The tile for 3, 2 and 1 vectors and each activation constant, each its own function:
 * inlined into the band loop, gcc kept the pixel position as an index into the planes and
 * spent three address additions per tap on it; as a function the loads are
 * base + offset + constant. */
#define TC_STEM_TILE_NV(nv, kind, sfx)                                                       \
    static __attribute__((noinline)) void TC_STEM_CAT(TC_STEM_TILE_FN, sfx)(                 \
        const float *x, const ptrdiff_t *offs, int ntaps, const float *w, const float *b,     \
        const tc_act_k *act, int nk, const float *residual, float *y, ptrdiff_t ldy, int n)   \
    {                                                                                        \
        TC_STEM_TILE_FN(x, offs, ntaps, w, b, act, nk, residual, y, ldy, n, nv, kind);       \
    }
TC_STEM_TILE_NV(1, TC_STEM_ACT_ANY, 1)
TC_STEM_TILE_NV(2, TC_STEM_ACT_ANY, 2)
TC_STEM_TILE_NV(3, TC_STEM_ACT_ANY, 3)
TC_STEM_TILE_NV(1, TC_ACT_NONE, 1n)
TC_STEM_TILE_NV(2, TC_ACT_NONE, 2n)
TC_STEM_TILE_NV(3, TC_ACT_NONE, 3n)
TC_STEM_TILE_NV(1, TC_ACT_RELU, 1r)
TC_STEM_TILE_NV(2, TC_ACT_RELU, 2r)
TC_STEM_TILE_NV(3, TC_ACT_RELU, 3r)
TC_STEM_TILE_NV(1, TC_ACT_CLIP, 1c)
TC_STEM_TILE_NV(2, TC_ACT_CLIP, 2c)
TC_STEM_TILE_NV(3, TC_ACT_CLIP, 3c)
TC_STEM_TILE_NV(1, TC_ACT_HARD_SWISH, 1h)
TC_STEM_TILE_NV(2, TC_ACT_HARD_SWISH, 2h)
TC_STEM_TILE_NV(3, TC_ACT_HARD_SWISH, 3h)
#undef TC_STEM_TILE_NV

typedef void (*TC_STEM_CAT(TC_STEM_TILE_FN, _t))(const float *, const ptrdiff_t *, int,
                                                 const float *, const float *, const tc_act_k *,
                                                 int, const float *, float *, ptrdiff_t, int);

/* The tiles of 1, 2 and 3 vectors for a block's activations a[0, nk) (NULL: none) */
static void TC_STEM_CAT(TC_STEM_TILE_FN, _pick)(const tc_act_k *a, int nk,
                                                TC_STEM_CAT(TC_STEM_TILE_FN, _t) t[3])
{
#define TC_STEM_PICK(s1, s2, s3)                                                             \
    (t[0] = TC_STEM_CAT(TC_STEM_TILE_FN, s1), t[1] = TC_STEM_CAT(TC_STEM_TILE_FN, s2),       \
     t[2] = TC_STEM_CAT(TC_STEM_TILE_FN, s3))
    int same = 1;
    for (int i = 1; a && i < nk; i++)
        same &= a[i].kind == a[0].kind;
    if (!a)
        TC_STEM_PICK(1n, 2n, 3n);
    else if (same && a[0].kind == TC_ACT_RELU)
        TC_STEM_PICK(1r, 2r, 3r);
    else if (same && a[0].kind == TC_ACT_CLIP)
        TC_STEM_PICK(1c, 2c, 3c);
    else if (same && a[0].kind == TC_ACT_HARD_SWISH)
        TC_STEM_PICK(1h, 2h, 3h);
    else
        TC_STEM_PICK(1, 2, 3);
#undef TC_STEM_PICK
}

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
        TC_STEM_CAT(TC_STEM_TILE_FN, _t) tile[3];
        TC_STEM_CAT(TC_STEM_TILE_FN, _pick)(a, nk, tile);
        const TC_STEM_CAT(TC_STEM_TILE_FN, _t) t1 = tile[0], t2 = tile[1], t3 = tile[2];
        for (int r = 0; r < rows; r++) {
            const float *xr = xp + (size_t)r * wph;
            const ptrdiff_t o = (ptrdiff_t)r * OW;
            int c = 0;
            for (; c + 24 <= OW; c += 24)
                t3(xr + c, offs, ntaps, w, b, a, nk, rk ? rk + o + c : NULL, yk + o + c, ldy, 24);
            const int n = OW - c;
            if (n > 16)
                t3(xr + c, offs, ntaps, w, b, a, nk, rk ? rk + o + c : NULL, yk + o + c, ldy, n);
            else if (n > 8)
                t2(xr + c, offs, ntaps, w, b, a, nk, rk ? rk + o + c : NULL, yk + o + c, ldy, n);
            else if (n > 0)
                t1(xr + c, offs, ntaps, w, b, a, nk, rk ? rk + o + c : NULL, yk + o + c, ldy, n);
        }
        if (deferred) /* the band's rows of these channels, just written */
            for (int i = 0; i < nk; i++)
                tc_v_act_rows(act->kind, yk + (ptrdiff_t)i * ldy, (ptrdiff_t)rows * OW);
    }
}
