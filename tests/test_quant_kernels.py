"""The 8-bit kernels against an exact integer reference (numpy int64), on a grid of shapes
with a fixed seed: every tier (the `ctx` fixture below: portable and AVX2 without VNNI at 1
and 2 threads, and the AVX-VNNI and AVX-512 VNNI extensions when the CPU has them) and both
packed-weight layouts (S16X2: AVX2's vpmaddwd kernel; S8X4: vpdpbusd on a VNNI context, else
the portable kernel), so the SIMD kernels and their portable twins are held to the same
bit-exact results."""
import itertools

import numpy as np
import pytest

from tinycnn import _kernels as K

QUANT_CONTEXTS = [(1, "portable"), (2, "portable"), (1, "avx2"), (2, "avx2"), (1, "avxvnni"),
                  (1, "avx512vnni"), (2, "avx512vnni")]


@pytest.fixture(params=QUANT_CONTEXTS, ids=lambda p: f"{p[1]}-{p[0]}t")
def ctx(request):
    """A Context per 8-bit tier, each forced explicitly (a tier the CPU lacks is skipped)."""
    threads, isa = request.param
    if isa not in K.int8_isas():
        pytest.skip(f"CPU lacks {isa}")
    return K.Context(threads, *K.parse_isa(K.INT8_ISA_SETTINGS[isa]))


def test_each_tier_runs_its_own_kernels():
    """isa='avx2' (and 'avx512' without a VNNI setting) is the product path (AVX2 + FMA, no
    VNNI): vpmaddwd on 16-bit operands for every weight range; the VNNI settings take 8-bit
    weights to vpdpbusd, on either float row."""
    expect = {"portable": ("s8x4", "s8x4-portable"), "avx2": ("s16x2", "s16x2-avx2"),
              "avxvnni": ("s8x4", "s8x4-avxvnni"), "avx512vnni": ("s8x4", "s8x4-avx512vnni")}
    rows = ["avx2"] + (["avx512"] if K.best_isa() == "avx512" else [])
    runs = [(("portable", "none"), "portable")]
    runs += [((row, "none"), "avx2") for row in rows if "avx2" in K.int8_isas()]
    runs += [((row, v), v) for row in rows for v in ("avxvnni", "avx512vnni") if v in K.int8_isas()]
    for (isa, vnni), tier in runs:
        c = K.Context(1, isa, vnni)
        assert (c.isa, c.int8_isa) == (isa, tier)
        fmt, kernel = expect[tier]
        assert K.qgemm_choose_format(c, -128, 127) == fmt, (isa, vnni)
        assert K.qkernel_name(c, fmt) == kernel, (isa, vnni)
        assert K.qgemm_choose_format(c, -255, 255) == "s16x2", (isa, vnni)
        assert K.qkernel_name(c, "u8s8x2") == ("u8s8x2-portable" if tier == "portable"
                                               else "u8s8x2-avx2"), (isa, vnni)
        assert K.qkernel_name(c, "u7s8") == ("u7s8-portable" if tier == "portable"
                                             else "u7s8-avx2"), (isa, vnni)
    assert K.qkernel_name(K.Context(1, "portable"), "s16x2") == "s16x2-portable"
    assert K.Context(1).int8_isa == K.best_int8_isa()              # auto: the best VNNI too
    assert K.Context(1, K.best_isa()).vnni == "none"               # a named tier: no VNNI
    with pytest.raises(ValueError, match="isa must be 'auto', 'portable', 'avx2' or 'avx512'"):
        K.Context(1, "sse2")
    with pytest.raises(ValueError, match="vnni='avxvnni' needs isa 'avx2' or 'avx512'"):
        K.Context(1, "portable", "avxvnni")
    with pytest.raises(ValueError, match="vnni must be"):
        K.Context(1, "portable", "avx2")


def requantize(acc, scale, zp, lo, hi, dtype):
    """onnxruntime's (MLAS's) requantization: float32 product, clamp, round half to even."""
    f = acc.astype(np.int32).astype(np.float32) * np.asarray(scale, np.float32)
    f = np.minimum(np.maximum(f, np.float32(lo - zp)), np.float32(hi - zp))
    return (np.rint(f).astype(np.int32) + zp).astype(dtype)


def output_of(acc, dtype, scale, zp, lo, hi):
    if dtype == np.int32:
        return acc.astype(np.int32)
    if dtype == np.float32:
        return acc.astype(np.int32).astype(np.float32) * np.asarray(scale, np.float32)
    return requantize(acc, scale, zp, lo, hi, dtype)


def conv_reference(x, xz, w, st, pads, dl, group):
    """Exact sums of (x - xz) * w: x [N, H, W, C], w [K, KH, KW, C/group] -> [N, OH, OW, K]."""
    n, h, wd, c = x.shape
    k, kh, kw, cg = w.shape
    pt, pl, pb, pr = pads
    xp = np.full((n, h + pt + pb, wd + pl + pr, c), xz, np.int64)
    xp[:, pt:pt + h, pl:pl + wd] = x
    oh = (h + pt + pb - dl[0] * (kh - 1) - 1) // st[0] + 1
    ow = (wd + pl + pr - dl[1] * (kw - 1) - 1) // st[1] + 1
    kg = k // group
    acc = np.zeros((n, oh, ow, k), np.int64)
    for g, ky, kx in itertools.product(range(group), range(kh), range(kw)):
        y0, x0 = ky * dl[0], kx * dl[1]
        patch = xp[:, y0:y0 + st[0] * (oh - 1) + 1:st[0], x0:x0 + st[1] * (ow - 1) + 1:st[1],
                   g * cg:(g + 1) * cg] - xz
        acc[..., g * kg:(g + 1) * kg] += np.einsum(
            "nhwc,kc->nhwk", patch, w[g * kg:(g + 1) * kg, ky, kx, :].astype(np.int64))
    return acc


def formats_for(ctx, w):
    fits = w.min() >= -128 and w.max() <= 127
    return ["s8x4", "s16x2", "u8s8x2", "u7s8"] if fits else ["s16x2"]


def random_conv_case(rng, depthwise=False):
    group = 1
    if depthwise:
        c = int(rng.integers(1, 48))
        group, k, cg = c, c, 1
    else:
        group = int(rng.choice([1, 1, 1, 2, 3]))
        cg = int(rng.integers(1, 24))
        c, k = cg * group, int(rng.integers(1, 40)) * group
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    st = tuple(int(v) for v in rng.integers(1, 3, 2))
    dl = tuple(int(v) for v in rng.integers(1, 3, 2))
    pads = tuple(int(v) for v in rng.integers(0, 4, 4))   # pads up to and past the kernel
    n = int(rng.integers(1, 3))
    h = int(rng.integers(dl[0] * (kh - 1) + 1, 13))
    wd = int(rng.integers(dl[1] * (kw - 1) + 1, 13))
    return group, c, k, cg, kh, kw, st, dl, pads, n, h, wd


def assert_layer_exact(layer, x, xz, ref, where):
    """layer.run(x, xz) gives ref exactly (its shape and dtype)."""
    n, h, wd = x.shape[:3]
    y = np.empty(layer.output_shape(n, h, wd), ref.dtype)
    layer.run(x, xz, y)
    assert y.shape == ref.shape, where
    bad = y != ref
    assert not bad.any(), f"{where}: {bad.sum()} of {y.size} differ"


OUT_TYPES = [np.uint8, np.int8, np.int32, np.float32]


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_qconv_is_exact_on_a_grid_of_shapes(ctx, depthwise):
    rng = np.random.default_rng(15)
    for case in range(40):
        group, c, k, cg, kh, kw, st, dl, pads, n, h, wd = random_conv_case(rng, depthwise)
        signed_x = case % 4 == 3
        x = rng.integers(-128 if signed_x else 0, 128 if signed_x else 256, (n, h, wd, c))
        x = x.astype(np.int8 if signed_x else np.uint8)
        xz = int(rng.integers(-128, 128) if signed_x else rng.integers(0, 256))
        if case % 5 == 4:   # uint8 weights with a zero point: values minus it span [-255, 255]
            w = (rng.integers(0, 256, (k, kh, kw, cg)) - int(rng.integers(0, 256))).astype(np.int16)
        else:
            w = rng.integers(-128, 128, (k, kh, kw, cg)).astype(np.int16)
        dtype = OUT_TYPES[case % 4]
        bias = rng.integers(-20000, 20000, k).astype(np.int32) if case % 3 else None
        scale = (rng.random(k if case % 2 else 1) * 0.01 + 1e-4).astype(np.float32)
        zp = int(rng.integers(-128, 128)) if dtype == np.int8 else int(rng.integers(0, 256))
        lo, hi = (-128, 127) if dtype == np.int8 else (0, 255)
        if case % 7 == 6:
            lo = zp                                        # a fused ReLU
        acc = conv_reference(x.astype(np.int64), xz, w, st, pads, dl, group)
        if bias is not None:
            acc = acc + bias
        ref = output_of(acc, dtype, scale, zp, lo, hi)
        for fmt in [None] if depthwise else formats_for(ctx, w):
            out = K.QOutput(dtype, bias, None if dtype == np.int32 else scale, zp, lo, hi)
            layer = K.QConv2d(ctx, w, out, st, pads, dl, group, fmt)
            assert layer.depthwise == depthwise
            assert_layer_exact(layer, x, xz, ref, f"case {case}: {layer.format} C={c} K={k} "
                               f"group={group} kernel {kh}x{kw} strides {st} dilations {dl} "
                               f"pads {pads} x {x.shape} {x.dtype} -> {dtype}")


def test_qdepthwise_whole_channel_blocks_is_exact(ctx):
    """Depthwise layers of 16, 32 and 48 channels (whole blocks of 16: the AVX2 pair rows'
    run over the columns inside the row, tc_qdw_pair_row_avx2) on rows up to 40 wide,
    against the exact reference: strides, dilations, pads past the kernel, rows as narrow
    as the kernel's reach, signed and unsigned inputs."""
    rng = np.random.default_rng(16)
    for case in range(40):
        _, _, _, _, kh, kw, st, dl, pads, n, h, _ = random_conv_case(rng, True)
        c = int(rng.choice([16, 32, 48]))
        wd = int(rng.integers(dl[1] * (kw - 1) + 1, 41))
        signed_x = case % 4 == 3
        x = rng.integers(-128 if signed_x else 0, 128 if signed_x else 256, (n, h, wd, c))
        x = x.astype(np.int8 if signed_x else np.uint8)
        xz = int(rng.integers(-128, 128) if signed_x else rng.integers(0, 256))
        w = rng.integers(-128, 128, (c, kh, kw, 1)).astype(np.int16)
        bias = rng.integers(-20000, 20000, c).astype(np.int32)
        scale = (rng.random(c) * 0.01 + 1e-4).astype(np.float32)
        dtype = np.int32 if case % 5 == 4 else np.uint8
        ref = conv_reference(x.astype(np.int64), xz, w, st, pads, dl, c) + bias
        ref = output_of(ref, dtype, scale, 0, 0, 255)
        out = K.QOutput(dtype, bias, None if dtype == np.int32 else scale, 0, 0, 255)
        layer = K.QConv2d(ctx, w, out, st, pads, dl, c)
        assert layer.depthwise
        assert_layer_exact(layer, x, xz, ref, f"case {case}: C={c} kernel {kh}x{kw} strides {st} "
                           f"dilations {dl} pads {pads} x {x.shape} {x.dtype} -> {ref.dtype}")


def test_products_never_saturate_at_16_bits(ctx):
    """255 x 127 twice is 64770, past int16: a kernel summing byte products in pairs into
    16-bit lanes (vpmaddubsw) would clip it.  Every layout keeps the exact sum."""
    m, kd, n = 7, 64, 33
    a = np.full((m, kd), 255, np.uint8)
    w = np.full((n, kd), 127, np.int16)
    w[1::2] = -128
    for fmt in formats_for(ctx, w):
        layer = K.QGemm(ctx, w, K.QOutput(np.int32), fmt)
        y = np.empty((m, n), np.int32)
        layer.run(a, 0, y)
        ref = a.astype(np.int64) @ w.T.astype(np.int64)
        np.testing.assert_array_equal(y, ref, err_msg=f"format {fmt}")
        assert y.max() == 255 * 127 * kd and y.min() == -255 * 128 * kd


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (1, 64, 1000), (5, 3, 17), (13, 130, 31),
                                   (49, 576, 64), (100, 7, 48), (2, 4608, 40)])
def test_qgemm_tails_of_rows_columns_and_depth(ctx, m, k, n):
    rng = np.random.default_rng(m * 1000 + k + n)
    a = rng.integers(0, 256, (m, k)).astype(np.uint8)
    w = rng.integers(-128, 128, (n, k)).astype(np.int16)
    az = int(rng.integers(0, 256))
    bias = rng.integers(-1000, 1000, n).astype(np.int32)
    acc = (a.astype(np.int64) - az) @ w.T.astype(np.int64) + bias
    scale = np.full(n, 0.003, np.float32)
    for fmt in formats_for(ctx, w):
        for dtype in (np.uint8, np.int32):
            layer = K.QGemm(ctx, w, K.QOutput(dtype, bias, scale, 128), fmt)
            y = np.empty((m, n), dtype)
            layer.run(a, az, y)
            np.testing.assert_array_equal(y, output_of(acc, dtype, scale, 128, 0, 255),
                                          err_msg=f"format {fmt}, {dtype.__name__}")


@pytest.mark.parametrize("top", [np.nextafter(np.float32(1), np.float32(0)), np.float32(1),
                                 np.float32(3.5)])
def test_qgemm_requantizes_sums_near_the_int32_limits(ctx, top):
    """Sums from -2^31 to 2^31 - 1 (a bias at the limits, wrapping as the sums do) with
    scales just below 1 (every output stage may leave the float clamp to the saturating
    packs: |sum * scale| < 2^31), and with one column's scale at 1 or above (the clamp
    needed: 2^31 converts to INT_MIN), whole 6 x 16 tiles and tails, both 8-bit types,
    after a ReLU too, against numpy's clamp-then-round."""
    rng = np.random.default_rng(int(top * 1000))
    m, k, n = 13, 24, 40
    a = rng.integers(0, 256, (m, k)).astype(np.uint8)
    w = rng.integers(-128, 128, (n, k)).astype(np.int16)
    az = 128
    edge = np.array([2**31 - 1, -2**31, 2**31 - 3000, -2**31 + 3000, 0], np.int64)
    bias = edge[rng.integers(0, len(edge), n)].astype(np.int32)
    acc = (a.astype(np.int64) - az) @ w.T.astype(np.int64) + bias
    scale = np.where(rng.random(n) < 0.5, np.nextafter(np.float32(1), np.float32(0)),
                     rng.random(n) * 0.5 + 0.25).astype(np.float32)
    # two columns of zero weights whose sums are the bias itself, at the limit: with a
    # scale of 1 float(2^31 - 1) * 1 and -2^31 * -1 are 2^31, past int32 without the clamp
    w[n // 3] = w[n // 2] = 0
    bias[n // 3], bias[n // 2] = 2**31 - 1, -2**31
    acc = (a.astype(np.int64) - az) @ w.T.astype(np.int64) + bias
    scale[n // 3] = top
    scale[n // 2] = -top   # negative scales too: the same bound on |sum * scale|
    for fmt in formats_for(ctx, w):
        for dtype, zp, lo in ((np.uint8, 128, 0), (np.uint8, 100, 100), (np.int8, -5, -128),
                              (np.int8, 3, 3)):
            hi = np.iinfo(dtype).max
            y = np.empty((m, n), dtype)
            K.QGemm(ctx, w, K.QOutput(dtype, bias, scale, zp, lo, hi), fmt).run(a, az, y)
            ref = output_of(acc, dtype, scale, zp, lo, hi)
            assert np.array_equal(y, ref), \
                f"format {fmt} {dtype.__name__} zp {zp}: {(y != ref).sum()} differ"


@pytest.mark.parametrize("k,n", [(16, 96), (2, 17), (7, 40), (24, 144), (32, 130), (16, 200),
                                 (198, 24), (384, 40), (64, 392), (160, 136), (320, 150),
                                 (321, 40)])
def test_qgemm_of_few_k_and_many_columns(ctx, k, n):
    """S16X2 and U7S8 with kpad <= 320 run up to 8 panels per kernel call (MobileNetV2's
    expansions, its 320 -> 1280), and U7S8 from kpad 192 4-row tiles on AVX2 (MobileNetV2's
    projections: a last half panel at N = 24 and 40): every output type, a mid-range zero
    point, rows and columns with tails, and the fused QLinearAdd, against numpy int64 and the
    separate QLinearAdd."""
    rng = np.random.default_rng(k * 1000 + n)
    m = 61
    a = rng.integers(0, 256, (m, k)).astype(np.uint8)
    w = rng.integers(-128, 128, (n, k)).astype(np.int16)
    az = 144
    bias = rng.integers(-3000, 3000, n).astype(np.int32)
    acc = (a.astype(np.int64) - az) @ w.T.astype(np.int64) + bias
    scale = (rng.random(n) * 0.004 + 1e-4).astype(np.float32)
    for fmt in formats_for(ctx, w):
        for dtype in (np.uint8, np.int8, np.int32, np.float32):
            zp = -5 if dtype == np.int8 else 128
            info = np.iinfo(dtype) if dtype in (np.uint8, np.int8) else None
            layer = K.QGemm(ctx, w, K.QOutput(dtype, bias, scale, zp), fmt)
            y = np.empty((m, n), dtype)
            layer.run(a, az, y)
            ref = output_of(acc, dtype, scale, zp, info.min if info else 0, info.max if info else 0)
            np.testing.assert_array_equal(y, ref, err_msg=f"format {fmt}, {dtype.__name__}")
        # the fused residual add, on both 8-bit types, either operand order, after a ReLU
        for dtype, q_is_a in ((np.uint8, True), (np.int8, False)):
            info = np.iinfo(dtype)
            zp, lo = (128, 130) if dtype == np.uint8 else (-5, -3)
            az_, bz_, cz_ = (120, 130, 125) if dtype == np.uint8 else (12, -13, 2)
            q = np.empty((m, n), dtype)
            K.QGemm(ctx, w, K.QOutput(dtype, bias, scale, zp, lo, info.max), fmt).run(a, az, q)
            r = rng.integers(info.min, info.max, (m, n), endpoint=True).astype(dtype)
            ref = np.empty((m, n), dtype)
            ab = (q, r) if q_is_a else (r, q)
            K.qbinary(ctx, "add", ab[0], 0.05, az_, ab[1], 0.03, bz_, ref, 0.06, cz_, (q.size,),
                      (q.size,), (q.size,))
            out = K.QOutput(dtype, bias, scale, zp, lo, info.max,
                            residual=(0.05, az_, 0.03, bz_, 0.06, cz_, q_is_a))
            y = np.empty((m, n), dtype)
            K.QGemm(ctx, w, out, fmt).run(a, az, y, residual=r)
            assert np.array_equal(y, ref), \
                f"format {fmt} {dtype.__name__} residual: {(y != ref).sum()} differ"


def test_quantize_rounds_half_to_even_saturates_and_maps_nan_to_the_minimum(ctx):
    s = np.float32(0.5)   # x / s is exact: ties stay ties
    x = np.array([0.25, 0.75, 1.25, -0.25, -0.75, 63.75, 200.0, -200.0, np.inf, -np.inf, np.nan]
                 * 3, np.float32)
    for dtype, zp in ((np.uint8, 0), (np.uint8, 255), (np.int8, -128), (np.int8, 127)):
        y = np.empty(x.shape, dtype)
        K.quantize(ctx, x, y, np.array([s], np.float32), np.array([zp], np.int32), x.size, 1, 1)
        lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
        with np.errstate(invalid="ignore"):
            q = np.where(np.isnan(x), lo, np.clip(np.rint(x / s) + zp, lo, hi))
        np.testing.assert_array_equal(y, q.astype(dtype), err_msg=f"{dtype.__name__} zp {zp}")


def test_quantize_per_axis_and_long_runs(ctx):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 5, 7000)) * 3).astype(np.float32)
    scale = (rng.random(5) * 0.05 + 0.01).astype(np.float32)
    zp = rng.integers(0, 256, 5).astype(np.int32)
    y = np.empty(x.shape, np.uint8)
    K.quantize(ctx, x, y, scale, zp, 2, 5, 7000)
    ref = np.clip(np.rint(x / scale[:, None]) + zp[:, None], 0, 255)
    np.testing.assert_array_equal(y, ref.astype(np.uint8))


def test_bound_qgemm_follows_its_buffers(ctx):
    """QGemm.bind (a plan's step: a classifier's GEMV) checks once and runs again over the
    same buffers: new activations give what run() and numpy give, one row and several, with
    the fused residual add read from its buffer at each call; a wrong size is refused."""
    rng = np.random.default_rng(9)
    for m, k, n in [(1, 64, 40), (1, 1280, 100), (7, 96, 24)]:
        w = rng.integers(-128, 128, (n, k)).astype(np.int16)
        bias = rng.integers(-5000, 5000, n).astype(np.int32)
        scale = (rng.random(n) * 0.002 + 1e-4).astype(np.float32)
        layer = K.QGemm(ctx, w, K.QOutput(np.uint8, bias, scale, 7))
        res_layer = K.QGemm(ctx, w, K.QOutput(np.uint8, bias, scale, 7,
                                              residual=(0.05, 3, 0.04, 7, 0.07, 5, True)))
        a = np.empty((m, k), np.uint8)
        y = np.empty((m, n), np.uint8)
        r = np.empty((m, n), np.uint8)
        fused = np.empty((m, n), np.uint8)
        call = layer.bind(a, 5, y, np.empty(layer.workspace_size(m), np.float32))
        res_call = res_layer.bind(a, 5, fused, residual=r)
        for _ in range(3):
            a[...] = rng.integers(0, 256, a.shape)
            r[...] = rng.integers(0, 256, r.shape)
            call()
            res_call()
            acc = (a.astype(np.int64) - 5) @ w.T.astype(np.int64) + bias
            np.testing.assert_array_equal(y, output_of(acc, np.uint8, scale, 7, 0, 255),
                                          err_msg=f"m={m} k={k} n={n}")
            want = np.empty((m, n), np.uint8)
            res_layer.run(a, 5, want, residual=r)
            np.testing.assert_array_equal(fused, want, err_msg=f"residual m={m} k={k} n={n}")
        with pytest.raises(ValueError, match="QGemm: y"):
            layer.bind(a, 5, np.empty((m, n + 1), np.uint8))


def test_bound_quantize_and_dequantize_follow_their_buffers(ctx):
    """bind_quantize / bind_dequantize (a plan's steps) check once and run again over the
    same buffers: new contents give what the unbound calls and numpy give, per tensor and
    per channel, uint8, int8 and int32 inputs; refused sizes and counts name the call."""
    rng = np.random.default_rng(5)
    x = np.empty((3, 4, 10), np.float32)
    scale = (rng.random(4) * 0.05 + 0.01).astype(np.float32)
    for dtype in (np.uint8, np.int8):
        info = np.iinfo(dtype)
        zp = rng.integers(info.min, info.max, 4).astype(np.int32)
        q = np.empty(x.shape, dtype)
        f = np.empty(x.shape, np.float32)
        quant = K.bind_quantize(ctx, x, q, scale, zp, 3, 4, 10)
        dequant = K.bind_dequantize(ctx, q, f, scale[:1], zp[:1], 120, 1, 1)
        for _ in range(3):
            x[...] = rng.standard_normal(x.shape) * 2
            quant()
            ref = np.clip(np.rint(x / scale[:, None]) + zp[:, None], info.min, info.max)
            np.testing.assert_array_equal(q, ref.astype(dtype), err_msg=dtype.__name__)
            dequant()
            np.testing.assert_array_equal(
                f, ((q.astype(np.int32) - zp[0]).astype(np.float32) * scale[0]),
                err_msg=dtype.__name__)
    acc = np.empty(12, np.int32)
    out = np.empty(12, np.float32)
    dequant = K.bind_dequantize(ctx, acc, out, scale[:1], np.zeros(1, np.int32), 12, 1, 1)
    acc[...] = rng.integers(-2**31, 2**31 - 1, 12)
    dequant()
    np.testing.assert_array_equal(out, acc.astype(np.float32) * scale[0])
    with pytest.raises(ValueError, match="quantize: x"):
        K.bind_quantize(ctx, x, np.empty(7, np.uint8), scale[:1], zp[:1], 120, 1, 1)
    with pytest.raises(ValueError, match="dequantize: 4 scales and 1 zero points"):
        K.bind_dequantize(ctx, q, f, scale, zp[:1], 3, 4, 10)


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_fused_residual_add_equals_the_convolution_then_qlinearadd(ctx, depthwise):
    """The output stage's QLinearAdd (ResNet's residual merge) gives what the convolution
    followed by the separate QLinearAdd kernel (tested against onnxruntime) gives."""
    rng = np.random.default_rng(16)
    for case in range(12):
        group, c, k, cg, kh, kw, st, dl, pads, n, h, wd = random_conv_case(rng, depthwise)
        signed = case % 3 == 2
        dtype = np.int8 if signed else np.uint8
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, (n, h, wd, c), endpoint=True).astype(dtype)
        w = rng.integers(-128, 128, (k, kh, kw, cg)).astype(np.int16)
        scale = (rng.random(k) * 0.004 + 1e-4).astype(np.float32)
        zp, az, bz, cz = (int(v) for v in rng.integers(info.min, info.max, 4))
        a_s, b_s, c_s = (float(v) for v in rng.random(3) * 0.1 + 0.01)
        if case % 4 == 3:   # sums past +-2^31 before the saturation to 8 bits
            a_s, c_s = a_s * 1e5, c_s * 1e-5
        conv_is_a = bool(case % 2)
        for fmt in [None] if depthwise else formats_for(ctx, w):
            plain = K.QConv2d(ctx, w, K.QOutput(dtype, None, scale, zp), st, pads, dl, group, fmt)
            shape = plain.output_shape(n, h, wd)
            q = np.empty(shape, dtype)
            plain.run(x, 3, q)
            r = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
            ref = np.empty(shape, dtype)
            a, b = (q, r) if conv_is_a else (r, q)
            K.qbinary(ctx, "add", a, a_s, az, b, b_s, bz, ref, c_s, cz, (q.size,), (q.size,), (q.size,))
            out = K.QOutput(dtype, None, scale, zp, residual=(a_s, az, b_s, bz, c_s, cz, conv_is_a))
            fused = K.QConv2d(ctx, w, out, st, pads, dl, group, fmt)
            y = np.empty(shape, dtype)
            fused.run(x, 3, y, residual=r)
            assert np.array_equal(y, ref), f"case {case} {fused.format}: {(y != ref).sum()} differ"
            fused.run(x, 3, r, residual=r)        # in place: the residual's buffer is the output
            assert np.array_equal(r, ref), f"case {case} {fused.format} in place"



def _residual_and_add(ctx, rng, q, add, q_is_a):
    """A random uint8 residual r for the convolution's output q, and what the separate
    QLinearAdd (scales and zero points add) makes of q and r (q its first operand where
    q_is_a)."""
    a_s, az, b_s, bz, c_s, cz = add
    r = rng.integers(0, 256, q.shape).astype(np.uint8)
    ref = np.empty_like(q)
    a, b = (q, r) if q_is_a else (r, q)
    K.qbinary(ctx, "add", a, a_s, az, b, b_s, bz, ref, c_s, cz, (q.size,), (q.size,), (q.size,))
    return r, ref


def test_fused_residual_add_keeps_ties_clamps_and_both_orders(ctx):
    """The convolution's output stage with the QLinearAdd fused in gives what the convolution
    then the separate QLinearAdd give: power-of-two scales so that many requantized values
    are exact ties, clamps at both ends of [lo, hi], either operand order, 1-13 rows, whole
    and half panels, the 1x1 GEMM's formats and the integer Winograd, in place too, with the
    add's sums below 2^31 and past it.  (Written for a shorter form of the uint8 stage, a
    magic-number rounding without the clamp before the conversion, kept as the record
    benchmarks/qres_short.patch: level in whole runs; its bits are the same.)"""
    rng = np.random.default_rng(45)
    adds = [(0.05, 120, 0.03, 130, 0.06, 125), (0.5, 0, 0.25, 255, 0.125, 7),
            (0.05 * 1e5, 120, 0.03, 130, 0.06 * 1e-5, 125)]   # the last: sums past 2^31
    for case in range(12):
        m, k, n = (1, 6, 7, 12, 13, 37)[case % 6], (64, 256, 24)[case % 3], (16, 24, 48, 32)[case % 4]
        q_is_a = bool(case % 2)
        lo = (0, 90)[case // 6]
        zp = int(rng.integers(0, 256))
        w = rng.integers(-2, 3, (n, 1, 1, k)).astype(np.int16)
        scale = np.float32(2.0) ** -rng.integers(1, 6, n).astype(np.float32)
        bias = rng.integers(-300, 300, n).astype(np.int32)
        x = rng.integers(0, 256, (1, 1, m, k)).astype(np.uint8)
        res = adds[case % 3] + (q_is_a,)
        for fmt in formats_for(ctx, w):
            plain = K.QConv2d(ctx, w, K.QOutput(np.uint8, bias, scale, zp, lo, 255), (1, 1),
                              (0, 0, 0, 0), (1, 1), 1, fmt)
            q = np.empty((1, 1, m, n), np.uint8)
            plain.run(x, 0, q)
            r, ref = _residual_and_add(ctx, rng, q, adds[case % 3], q_is_a)
            fused = K.QConv2d(ctx, w, K.QOutput(np.uint8, bias, scale, zp, lo, 255, residual=res),
                              (1, 1), (0, 0, 0, 0), (1, 1), 1, fmt)
            y = np.empty_like(q)
            fused.run(x, 0, y, residual=r)
            where = f"case {case} {fmt} m={m} k={k} n={n} q_is_a={q_is_a}"
            assert np.array_equal(y, ref), f"{where}: {(y != ref).sum()} differ"
            fused.run(x, 0, r, residual=r)
            assert np.array_equal(r, ref), f"{where} in place"
    for case in range(6):   # the integer Winograd's output stage (ResNet-18's merges)
        c, k, h, wd = (16, 32, 64)[case % 3], (16, 48)[case % 2], 6 + case, 7 + case
        q_is_a = bool(case % 2)
        w = rng.integers(-2, 3, (k, 3, 3, c)).astype(np.int16)
        scale = np.float32(2.0) ** -rng.integers(2, 8, k).astype(np.float32)
        x = rng.integers(0, 256, (2, h, wd, c)).astype(np.uint8)
        zp = int(rng.integers(0, 256))
        plain = K.QConv2d(ctx, w, K.QOutput(np.uint8, None, scale, zp), (1, 1), (1, 1, 1, 1),
                          (1, 1), 1, "winograd")
        q = np.empty(plain.output_shape(2, h, wd), np.uint8)
        plain.run(x, 0, q)
        r, ref = _residual_and_add(ctx, rng, q, adds[case % 3], q_is_a)
        fused = K.QConv2d(ctx, w, K.QOutput(np.uint8, None, scale, zp,
                                            residual=adds[case % 3] + (q_is_a,)),
                          (1, 1), (1, 1, 1, 1), (1, 1), 1, "winograd")
        y = np.empty_like(q)
        fused.run(x, 0, y, residual=r)
        assert np.array_equal(y, ref), f"winograd case {case}: {(y != ref).sum()} differ"


def test_lookup_is_the_table_at_every_length_and_offset(ctx):
    """tc_lookup_u8 (the AVX2 vpshufb cascade and its portable twin): every byte value,
    lengths around its 32-byte steps, unaligned starts, in place."""
    rng = np.random.default_rng(17)
    tables = [rng.integers(0, 256, 256).astype(np.uint8), np.arange(256, dtype=np.uint8)[::-1].copy(),
              np.zeros(256, np.uint8), np.full(256, 255, np.uint8)]
    buf = np.concatenate([np.arange(256), rng.integers(0, 256, 5000)]).astype(np.uint8)
    for t in tables:
        for n, off in itertools.product([0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 256, 4097], [0, 1, 7]):
            x = buf[off:off + n]
            y = np.empty_like(x)
            K.lookup(ctx, t, x, y)
            assert np.array_equal(y, t[x]), f"n={n} offset={off}"
        x = buf.copy()
        K.lookup(ctx, t, x, x)
        assert np.array_equal(x, t[buf]), "in place"


@pytest.mark.parametrize("kind", ["conv", "depthwise", "winograd", "gemm"])
def test_fused_lookup_equals_the_convolution_then_the_lookup(ctx, kind):
    """QOutput(lut=table) (a SiLU or sigmoid fused into the output stage) stores what the
    layer followed by the lookup kernel stores, with and without a fused residual, for
    8-bit outputs of both types."""
    rng = np.random.default_rng(18)
    for case in range(8):
        if kind == "winograd":
            c, k, n, h, wd = int(rng.integers(1, 40)), int(rng.integers(1, 40)), \
                int(rng.integers(1, 3)), int(rng.integers(3, 11)), int(rng.integers(3, 11))
            group, cg, kh, kw, st, dl, pads = 1, c, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)
        elif kind == "gemm":
            m, kk, nn = (int(v) for v in rng.integers(1, 70, 3))
        else:
            group, c, k, cg, kh, kw, st, dl, pads, n, h, wd = random_conv_case(rng, kind == "depthwise")
        signed = case % 3 == 2
        dtype = np.int8 if signed else np.uint8
        info = np.iinfo(dtype)
        table = rng.integers(0, 256, 256).astype(np.uint8)
        zp, az, bz, cz = (int(v) for v in rng.integers(info.min, info.max, 4, endpoint=True))
        a_s, b_s, c_s = (float(v) for v in rng.random(3) * 0.1 + 0.01)
        residual = (a_s, az, b_s, bz, c_s, cz, bool(case % 2)) if case % 4 >= 2 else None
        if kind == "gemm":
            w = rng.integers(-128, 128, (nn, kk)).astype(np.int16)
            scale = (rng.random(nn) * 0.004 + 1e-4).astype(np.float32)
            a = rng.integers(info.min, info.max, (m, kk), endpoint=True).astype(dtype)
            shape = (m, nn)
            layers = [(lambda out, f=f: K.QGemm(ctx, w, out, f)) for f in formats_for(ctx, w)]
            run = lambda layer, y, r: layer.run(a, 3, y, residual=r)
        else:
            w = rng.integers(-128, 128, (k, kh, kw, cg)).astype(np.int16)
            scale = (rng.random(k) * 0.004 + 1e-4).astype(np.float32)
            x = rng.integers(info.min, info.max, (n, h, wd, c), endpoint=True).astype(dtype)
            fmts = ["winograd"] if kind == "winograd" else [None] if kind == "depthwise" \
                else formats_for(ctx, w)
            layers = [(lambda out, f=f: K.QConv2d(ctx, w, out, st, pads, dl, group, f)) for f in fmts]
            run = lambda layer, y, r: layer.run(x, 3, y, residual=r)
        for make in layers:
            plain = make(K.QOutput(dtype, None, scale, zp, residual=residual))
            if kind != "gemm":
                shape = plain.output_shape(n, h, wd)
            r = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype) \
                if residual else None
            q = np.empty(shape, dtype)
            run(plain, q, r)
            ref = table[q.view(np.uint8)].view(dtype)
            fused = make(K.QOutput(dtype, None, scale, zp, residual=residual, lut=table))
            y = np.empty(shape, dtype)
            run(fused, y, r)
            assert np.array_equal(y, ref), f"case {case} {kind}: {(y != ref).sum()} of {y.size} differ"


@pytest.mark.parametrize("elem", [np.uint8, np.float32])
def test_channel_transposes_are_numpy_moveaxis(ctx, elem):
    """[n, c, s] <-> [n, s, c] (the layout conversions of quantized graphs), with the
    interleaving of few channels (a network's RGB input) among them."""
    rng = np.random.default_rng(19)
    for n, c, s in [(1, 3, 224 * 5 + 3), (2, 3, 31), (2, 2, 70), (1, 4, 33), (3, 1, 40),
                    (1, 5, 65), (2, 3, 1), (1, 17, 100)]:
        x = rng.integers(0, 256, (n, c, s)).astype(elem)
        y = np.empty((n, s, c), elem)
        K.transpose_channels(ctx, True, x, y, n, c, s)
        assert np.array_equal(y, np.moveaxis(x, 1, -1)), f"to channels last {n, c, s}"
        back = np.empty_like(x)
        K.transpose_channels(ctx, False, y, back, n, c, s)
        assert np.array_equal(back, x), f"back {n, c, s}"


# The depthwise kernel (qdw.c: pair rows, 16-channel blocks, padded channels, stride-2
# columns) on shapes of MobileNetV2 / EfficientNet-B0 and their awkward neighbours:
# C, H, W, (KH, KW), (sh, sw), pads (top, left, bottom, right), (dh, dw)
DEPTHWISE_GRID = [
    (1, 1, 1, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
    (7, 5, 9, (3, 3), (2, 2), (0, 0, 0, 0), (1, 1)),
    (8, 14, 14, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
    (15, 13, 11, (5, 5), (2, 2), (2, 2, 2, 2), (1, 1)),
    (16, 7, 7, (5, 5), (1, 1), (2, 1, 0, 2), (1, 1)),
    (17, 28, 27, (3, 3), (2, 2), (0, 0, 1, 1), (1, 1)),    # asymmetric, TF's SAME at stride 2
    (31, 9, 12, (5, 5), (1, 1), (1, 2, 2, 1), (2, 2)),
    (32, 113, 113, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
    (33, 20, 3, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
    (48, 113, 113, (3, 3), (2, 2), (0, 0, 1, 1), (1, 1)),
    (64, 9, 10, (2, 4), (1, 2), (0, 1, 1, 2), (1, 1)),      # even kernels: no odd last tap
    (96, 6, 40, (5, 5), (2, 2), (1, 2, 0, 1), (1, 1)),
    (100, 12, 12, (1, 7), (1, 1), (0, 3, 0, 3), (1, 2)),
    (144, 56, 56, (5, 5), (2, 2), (2, 2, 2, 2), (1, 1)),
    (200, 14, 14, (5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),
    (200, 1, 1, (5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),
    (24, 4, 4, (7, 1), (3, 1), (3, 0, 3, 0), (1, 1)),
]


@pytest.mark.parametrize("case", range(len(DEPTHWISE_GRID)))
def test_depthwise_grid_is_exact(ctx, case):
    """Every tier (portable and AVX2 at 1 and 2 threads, ...) against the int64 reference:
    batch 2, zero points at 0, 128 and 255 (int8: -128, 0, 127), weights minus a nonzero
    zero point (spanning [-255, 255]), all output types, fused ReLU, per-tensor scales."""
    c, h, wd, (kh, kw), st, pads, dl = DEPTHWISE_GRID[case]
    rng = np.random.default_rng(1500 + case)
    signed_x = case % 3 == 2
    x = rng.integers(-128 if signed_x else 0, 128 if signed_x else 256, (2, h, wd, c))
    x = x.astype(np.int8 if signed_x else np.uint8)
    xz = ((-128, 0, 127) if signed_x else (0, 128, 255))[case % 3 if not signed_x else case % 4 % 3]
    w_zero = rng.integers(-128, 128, (c, 1, 1, 1)) if case % 2 else 0
    w = (rng.integers(-128, 128, (c, kh, kw, 1)) - w_zero).astype(np.int16)
    acc = conv_reference(x.astype(np.int64), xz, w, st, pads, dl, c)
    bias = rng.integers(-30000, 30000, c).astype(np.int32)
    acc = acc + bias
    scale = (rng.random(c if case % 4 else 1) * 0.002 + 1e-4).astype(np.float32)
    for dtype in OUT_TYPES:
        zp = int(rng.integers(-128, 128)) if dtype == np.int8 else int(rng.integers(0, 256))
        lo, hi = (-128, 127) if dtype == np.int8 else (0, 255)
        if case % 2:
            lo = zp                                        # a fused ReLU
        out = K.QOutput(dtype, bias, None if dtype == np.int32 else scale, zp, lo, hi)
        layer = K.QConv2d(ctx, w, out, st, pads, dl, c)
        assert layer.depthwise
        y = np.empty(layer.output_shape(2, h, wd), dtype)
        layer.run(x, xz, y)
        ref = output_of(acc, dtype, scale, zp, lo, hi)
        bad = y != ref
        where = (f"C={c} {h}x{wd} kernel {kh}x{kw} strides {st} pads {pads} dilations {dl} "
                 f"x {x.dtype} zp {xz} -> {dtype.__name__}")
        assert not bad.any(), f"{where}: {bad.sum()} of {y.size} differ"
        if case % 3 == 0 and dtype in (np.uint8, np.int8):   # a fused residual QLinearAdd
            info = np.iinfo(dtype)
            r = rng.integers(info.min, info.max, y.shape, endpoint=True).astype(dtype)
            add = (0.02, int(rng.integers(info.min, info.max)), 0.03, zp, 0.04, zp, True)
            expect = np.empty(y.shape, dtype)
            K.qbinary(ctx, "add", y, add[0], add[1], r, add[2], add[3], expect, add[4], add[5],
                      (y.size,), (y.size,), (y.size,))
            fused = K.QConv2d(ctx, w, K.QOutput(dtype, bias, scale, zp, lo, hi, residual=add),
                              st, pads, dl, c)
            fused.run(x, xz, r, residual=r)
            assert np.array_equal(r, expect), f"{where} with a fused residual"


def boundary_pairs():
    """Weight pairs (w0, w1) around vpmaddubsw's int16 limit: |w0| + |w1| = 127, 128, 129
    and 255, with -128, in every sign combination (same signs past 128 need the
    U8S8X2 correction; opposite signs never do)."""
    pairs = set()
    for total in (127, 128, 129, 200, 255, 256):
        for m0 in (0, 1, 64, total // 2, total - 128, 127, 128):
            m1 = total - m0
            for s0, s1 in itertools.product((1, -1), repeat=2):
                w0, w1 = s0 * m0, s1 * m1
                if -128 <= w0 <= 127 and -128 <= w1 <= 127:
                    pairs.add((w0, w1))
    return sorted(pairs)


def test_u8s8x2_is_exact_at_the_int16_boundaries(ctx):
    """U8S8X2 against numpy int64 and the portable twin (which saturates each pair at
    16 bits as vpmaddubsw does): every boundary pair at both places of a 4-k lane, in
    columns across two panels, with activations 0 and 255 (the extreme sums), alone
    and through the convolution's indirect taps."""
    pairs = boundary_pairs()
    kd = 4 * len(pairs)
    n = 20
    rng = np.random.default_rng(15)
    w = np.zeros((n, kd), np.int16)
    for j in range(n):
        order = rng.permutation(len(pairs)) if j else np.arange(len(pairs))
        for i, q in enumerate(order):   # pair q in lane i, first or second half
            at = 4 * i + 2 * ((i + j) % 2)
            w[j, at:at + 2] = pairs[q]
    a = np.zeros((8, kd), np.uint8)
    a[0] = 255
    a[2, 0::2] = 255
    a[3, 1::2] = 255
    a[4:] = rng.choice(np.array([0, 255], np.uint8), (4, kd))
    ref = a.astype(np.int64) @ w.T.astype(np.int64)
    portable = K.Context(1, "portable")
    for az in (0, 255):
        for c in (ctx, portable):
            layer = K.QGemm(c, w, K.QOutput(np.int32), "u8s8x2")
            y = np.empty((a.shape[0], n), np.int32)
            layer.run(a, az, y)
            np.testing.assert_array_equal(
                y, ref - az * w.sum(1, dtype=np.int64), err_msg=f"{K.qkernel_name(c, 'u8s8x2')} az={az}")
    # a 3x3 convolution with 16 channels: the indirect taps, corrections in every tap
    cg, kk = 16, 18
    wc = np.zeros((kk, 3, 3, cg), np.int16)
    flat = np.array(pairs * (9 * cg * kk // (2 * len(pairs)) + 1), np.int16).reshape(-1)
    wc.reshape(-1)[:] = flat[rng.permutation(flat.size)[:wc.size]]
    x = rng.choice(np.array([0, 255], np.uint8), (1, 6, 7, cg))
    x[0, :3] = 255
    want = conv_reference(x, 0, wc, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    for c in (ctx, portable):
        layer = K.QConv2d(c, wc, K.QOutput(np.int32), (1, 1), (1, 1, 1, 1), (1, 1), 1, "u8s8x2")
        y = np.empty(layer.output_shape(1, 6, 7), np.int32)
        layer.run(x, 0, y)
        np.testing.assert_array_equal(y, want, err_msg=K.qkernel_name(c, "u8s8x2"))


def test_u7s8_is_exact_for_extreme_weights_and_high_bytes_in_some_rows(ctx):
    """U7S8 against numpy int64: weights -128 and 127 (the high-bit pass's extreme sum,
    128 * -128 * 2 = -32768), mixed with random ones; activations whose high bit is set in
    no row, in one row of a tile, in every row, at K not a multiple of 4 (padding), M and N
    small and odd, zero points 0, 128 and 255; the GEMM and the convolution (1x1 read in
    place, a 3x3 strided one through im2col rows, int8 input)."""
    rng = np.random.default_rng(7)
    for m, n, kd in [(1, 1, 1), (5, 3, 7), (13, 17, 36), (49, 33, 130), (97, 40, 258)]:
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        w[:, ::3] = -128
        w[::2, 1::4] = 127
        a = rng.integers(0, 128, (m, kd)).astype(np.uint8)      # no high bit ...
        a[::7] = 255                                             # ... but in every 7th row
        a[1::5, ::9] = 128
        a[2::6, -1] = 129                                        # the last group, one row
        for az in (0, 128, 255):
            want = a.astype(np.int64) @ w.T.astype(np.int64) - az * w.sum(1, dtype=np.int64)
            y = np.empty((m, n), np.int32)
            K.QGemm(ctx, w, K.QOutput(np.int32), "u7s8").run(a, az, y)
            np.testing.assert_array_equal(y, want, err_msg=f"{K.qkernel_name(ctx, 'u7s8')} "
                                          f"m={m} n={n} k={kd} az={az}")
    for c, k, kh, st, signed in [(16, 21, 1, 1, False), (12, 7, 3, 2, False), (20, 5, 3, 1, True)]:
        w = rng.integers(-128, 128, (k, kh, kh, c)).astype(np.int16)
        w[0], w[-1] = -128, 127
        x = rng.integers(0, 256, (2, 9, 8, c))
        x = (x - 128).astype(np.int8) if signed else x.astype(np.uint8)
        xz = -7 if signed else 5
        p = kh // 2
        want = conv_reference(x, xz, w, (st, st), (p, p, p, p), (1, 1), 1)
        layer = K.QConv2d(ctx, w, K.QOutput(np.int32), (st, st), (p, p, p, p), (1, 1), 1, "u7s8")
        y = np.empty(layer.output_shape(2, 9, 8), np.int32)
        layer.run(x, xz, y)
        np.testing.assert_array_equal(y, want, err_msg=f"{K.qkernel_name(ctx, 'u7s8')} {w.shape}")


def _window_case(rng, m, kd, zp):
    """Activations around zero point zp: mostly in U7S8's window [b, b + 127] (b = zp - 64
    within [0, 127]), with bytes at both edges of it and just outside, 0 and 255 in some rows
    only, and a row of the last group out of it."""
    b = min(max(zp - 64, 0), 127)
    a = rng.integers(b, b + 128, (m, kd)).clip(0, 255).astype(np.uint8)
    edges = np.array([b, min(b + 127, 255), max(b - 1, 0), min(b + 128, 255)], np.uint8)
    a[1::4, ::5] = rng.choice(edges, a[1::4, ::5].shape)
    a[::7, ::3] = 0
    a[3::7, 1::3] = 255
    a[2::6, -1] = 0 if b else 255
    return a


def test_u7s8_window_is_exact_around_mid_range_zero_points(ctx):
    """U7S8's window around the zero point against numpy int64 and S16X2: zero points from 0
    to 255 (windows at [0, 127] up to [127, 254], straddling neither, one or both ends of a
    byte's range), bytes 0 and 255 and either side of the window's edges in some rows of a
    tile; weights -128 and 127 in pairs (the extreme pair sums of the correction pass: 2 * 128
    * -128 above the window at b = 0, 2 * 127 * -128 below it at b = 127) and random ones;
    K not a multiple of 4, partial tiles and panels; the GEMM (rows in place and packed),
    the 1x1 convolution read in place and a padded 3x3 one through im2col rows."""
    rng = np.random.default_rng(11)
    for m, n, kd in [(1, 1, 1), (7, 5, 6), (13, 17, 36), (50, 33, 131), (97, 40, 256)]:
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        w[:, ::3] = -128
        w[::2, 1::4] = 127
        w[-1, :] = -128
        for zp in (0, 33, 64, 65, 100, 128, 190, 191, 192, 255):
            a = _window_case(rng, m, kd, zp)
            want = a.astype(np.int64) @ w.T.astype(np.int64) - zp * w.sum(1, dtype=np.int64)
            for fmt in ("u7s8", "s16x2"):
                y = np.empty((m, n), np.int32)
                K.QGemm(ctx, w, K.QOutput(np.int32), fmt).run(a, zp, y)
                np.testing.assert_array_equal(y, want, err_msg=f"{K.qkernel_name(ctx, fmt)} "
                                              f"m={m} n={n} k={kd} zp={zp}")
    for c, k, kh, st in [(16, 21, 1, 1), (24, 19, 3, 1), (12, 7, 3, 2)]:
        w = rng.integers(-128, 128, (k, kh, kh, c)).astype(np.int16)
        w[0], w[-1] = -128, 127
        for xz in (40, 114, 144, 250):
            x = _window_case(rng, 2 * 9 * 8, c, xz).reshape(2, 9, 8, c)
            p = kh // 2
            want = conv_reference(x, xz, w, (st, st), (p, p, p, p), (1, 1), 1)
            for fmt in ("u7s8", "s16x2"):
                layer = K.QConv2d(ctx, w, K.QOutput(np.int32), (st, st), (p, p, p, p), (1, 1), 1,
                                  fmt)
                y = np.empty(layer.output_shape(2, 9, 8), np.int32)
                layer.run(x, xz, y)
                np.testing.assert_array_equal(
                    y, want, err_msg=f"{K.qkernel_name(ctx, fmt)} {w.shape} xz={xz}")


def test_u8s8x2_is_chosen_on_avx2_where_few_groups_need_a_correction():
    """On AVX2 without VNNI: weights within +-64 (no pair reaches the limit) take U8S8X2,
    weights whose every pair is past it keep S16X2; the portable and VNNI tiers keep S8X4."""
    small = np.random.default_rng(0).integers(-64, 65, (40, 72)).astype(np.int16)
    big = np.full((40, 72), 100, np.int16)
    if "avx2" in K.int8_isas():
        c = K.Context(1, "avx2", "none")
        assert K.qgemm_choose_format_for(c, small) == "u8s8x2"
        assert K.qgemm_choose_format_for(c, big) == "s16x2"
        assert K.QGemm(c, small, K.QOutput(np.int32)).format == "u8s8x2"
    assert K.qgemm_choose_format_for(K.Context(1, "portable"), big) == "s8x4"
    for v in ("avxvnni", "avx512vnni"):
        if v in K.int8_isas():
            assert K.qgemm_choose_format_for(K.Context(1, "avx2", v), big) == "s8x4"


def _tiers_at(threads):
    """A Context per 8-bit tier this CPU runs, at each of the thread counts."""
    return {(isa, t): K.Context(t, *K.parse_isa(K.INT8_ISA_SETTINGS[isa]))
            for isa in ("portable", "avx2", "avx512vnni") if isa in K.int8_isas() for t in threads}


# rows around the tiles (6; 4 for U7S8 from kpad 192) and blocks (48; on one thread up to 60
# rows in one) the tasks are cut into: a last tile of 1 row (7, 49, 61, 97), one block of 49
# and 60 rows, two of 61, blocks that do not divide the threads (145); the maps of 7x7, 14x14
# and 28x28
PARTITION_ROWS = [1, 7, 49, 60, 61, 97, 145, 196, 784]


def test_qgemm_task_split_gives_the_same_result_at_1_2_and_3_threads():
    """The driver's tasks (row blocks of whole tiles dealt evenly, column chunks of whole
    kernel calls): each row and column computed once, exactly, whatever the threads, for
    every layout, the in-place rows, the rows packed once for the column chunks (int8
    activations) and the fused lookup over the chunk's columns."""
    rng = np.random.default_rng(85)
    ctxs = _tiers_at((1, 2, 3))
    table = rng.integers(0, 256, 256).astype(np.uint8)
    for m in PARTITION_ROWS:
        for kd, n in [(24, 5), (64, 161), (576, 40)]:
            w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
            bias = rng.integers(-1000, 1000, n).astype(np.int32)
            scale = (rng.random(n) * 0.003 + 1e-4).astype(np.float32)
            for signed in (False, True):
                dtype = np.int8 if signed else np.uint8
                info = np.iinfo(dtype)
                a = rng.integers(info.min, info.max, (m, kd), endpoint=True).astype(dtype)
                az = int(rng.integers(info.min, info.max))
                acc = (a.astype(np.int64) - az) @ w.T.astype(np.int64) + bias
                want = table[output_of(acc, dtype, scale, 3, info.min, info.max).view(np.uint8)]
                for (isa, t), c in ctxs.items():
                    for fmt in formats_for(c, w):
                        if fmt == "u7s8" and signed:
                            continue
                        layer = K.QGemm(c, w, K.QOutput(dtype, bias, scale, 3, lut=table), fmt)
                        y = np.empty((m, n), dtype)
                        layer.run(a, az, y)
                        assert np.array_equal(y.view(np.uint8), want), \
                            f"{isa} {t} threads {fmt}: m={m} k={kd} n={n} {dtype.__name__}"


def test_u7s8_sparse_row_corrections_over_calls_of_many_panels_are_exact():
    """Around a mid-range zero point U7S8 corrects each row over its own groups outside the
    window, in every panel of a kernel call (up to 8 panels a call where kpad <= 320 and the
    product has more than 60 rows, the columns' bias, scales and residual stepped along per
    panel): sparse outliers (0 and 255) in some rows of a tile and not in others, tiles with
    none, the last group of a row, last tiles of 4 rows and of 1 row, calls of 8 panels and
    fewer, a last half panel, one panel per call (49 rows); int32 and byte outputs and the
    fused residual add; every tier at 1-3 threads against numpy int64 (and the separate
    QLinearAdd)."""
    rng = np.random.default_rng(89)
    ctxs = _tiers_at((1, 2, 3))
    for m, kd, n in [(196, 96, 576), (196, 64, 200), (61, 96, 40), (97, 160, 136),
                     (49, 160, 960), (145, 240, 264)]:
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        w[:, ::5] = -128
        w[::3, 1::7] = 127
        bias = rng.integers(-3000, 3000, n).astype(np.int32)
        scale = (rng.random(n) * 0.002 / np.sqrt(kd) + 1e-5).astype(np.float32)
        for az in (114, 144, 200):
            a = np.clip(np.rint(rng.normal(az, 12, (m, kd))), 0, 255).astype(np.uint8)
            hot = rng.random((m, kd)) < 0.004        # about one outlier in two rows
            a[hot] = rng.choice(np.array([0, 255], np.uint8), hot.sum())
            a[5::11, -1] = 0                         # the last group, alone in its row
            a[3::13, -3] = 255
            acc = (a.astype(np.int64) - az) @ w.T.astype(np.int64) + bias
            q_want = output_of(acc, np.uint8, scale, 128, 0, 255)
            r = rng.integers(0, 256, (m, n)).astype(np.uint8)
            res = (0.05, 120, 0.03, 130, 0.06, 125, True)
            _check_u7s8_sums(ctxs, w, bias, a, az, f"m={m} k={kd} n={n}")
            for (isa, t), c in ctxs.items():
                tag = f"{isa} {t} threads: m={m} k={kd} n={n} zp {az}"
                q = np.empty((m, n), np.uint8)
                K.QGemm(c, w, K.QOutput(np.uint8, bias, scale, 128), "u7s8").run(a, az, q)
                np.testing.assert_array_equal(q, q_want, err_msg=tag)
                want = np.empty((m, n), np.uint8)
                K.qbinary(c, "add", q_want, 0.05, 120, r, 0.03, 130, want, 0.06, 125,
                          (q.size,), (q.size,), (q.size,))
                out = K.QOutput(np.uint8, bias, scale, 128, 0, 255, residual=res)
                K.QGemm(c, w, out, "u7s8").run(a, az, q, residual=r)
                np.testing.assert_array_equal(q, want, err_msg=tag + " residual")


def test_u7s8_short_last_tiles_are_exact():
    """U7S8's 6-row tiles where the product's last tile is short (M = 6t + 1 .. 6t + 5: 196 at
    14x14 leaves 4 rows, run over repeats of the last row; benchmarks/u7s8_short_last_tile.patch
    ran 2 to 4 by the 4-row loop): outliers in the last tile's rows (below and above the window
    in one group, the last group), two rows outside the window in every group, windows at
    bases 0, 36, 80 and 127, weights of -128 and 127, calls of 8 panels, fewer and one (60 rows
    and less: one panel a call), a last half panel; int32 sums and bytes against numpy int64
    in every tier at 1-3 threads."""
    rng = np.random.default_rng(91)
    ctxs = _tiers_at((1, 2, 3))
    for m, kd, n in [(196, 96, 200), (62, 64, 136), (63, 96, 40), (64, 24, 264),
                     (65, 160, 72), (199, 96, 144), (58, 96, 48)]:
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        w[:, ::7] = -128
        w[1::3, 2::5] = 127
        bias = rng.integers(-3000, 3000, n).astype(np.int32)
        scale = (rng.random(n) * 0.002 / np.sqrt(kd) + 1e-5).astype(np.float32)
        for az in (0, 100, 144, 191):
            a = np.clip(np.rint(rng.normal(az, 10, (m, kd))), 0, 255).astype(np.uint8)
            hot = rng.random((m, kd)) < 0.01
            a[hot] = rng.choice(np.array([0, 255], np.uint8), hot.sum())
            last = m - m % 6 if m % 6 else m - 6
            a[last:, 0:4] = [0, 255, 0, 255]            # both sides in one group
            a[m - 1, -1] = 255                           # the last group
            a[last, 4] = 0
            a[6:8] = np.resize(np.array([0, 255], np.uint8), kd)  # every group, two rows
            what = f"m={m} k={kd} n={n}"
            _check_u7s8_sums(ctxs, w, bias, a, az, what)
            want = output_of((a.astype(np.int64) - az) @ w.T.astype(np.int64) + bias,
                             np.uint8, scale, 128, 0, 255)
            for (isa, t), c in ctxs.items():
                q = np.empty((m, n), np.uint8)
                K.QGemm(c, w, K.QOutput(np.uint8, bias, scale, 128), "u7s8").run(a, az, q)
                np.testing.assert_array_equal(q, want, err_msg=f"{isa} {t}t: {what} zp {az}")


def test_u7s8_block_split_kept_across_column_chunks_and_runs():
    """U7S8 at 2 and 3 threads on the late layers' shapes (14x14 and 7x7 rows, one or two row
    blocks, their columns in chunks, row block outer for small panels): a thread that runs
    several column chunks of one row block splits the block once (qgemm.c, split_memo); a
    second run of the same layer on other activations must not find the first run's split.
    Activations after a ReLU (zero point 0: tiles read in place, tiles with bytes past the
    paired widths) and around a mid-range zero point; each run against the exact sums."""
    rng = np.random.default_rng(87)
    ctxs = _tiers_at((2, 3))
    for m, kd, n in [(196, 384, 64), (49, 960, 160), (196, 576, 96), (49, 320, 1280),
                     (196, 64, 384), (196, 96, 576), (196, 112, 672), (1, 1280, 1000)]:
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        bias = rng.integers(-1000, 1000, n).astype(np.int32)
        scale = (rng.random(n) * 0.001 / np.sqrt(kd) + 1e-5).astype(np.float32)
        layers = {k: K.QGemm(c, w, K.QOutput(np.uint8, bias, scale, 3), "u7s8")
                  for k, c in ctxs.items()}
        for az, spread in [(0, 90), (0, 30), (140, 25), (0, 90)]:
            a = np.clip(np.abs(rng.normal(az, spread, (m, kd))), 0, 255).astype(np.uint8)
            if az == 0:
                a[rng.random((m, kd)) < 0.4] = 0
            acc = (a.astype(np.int64) - az) @ w.T.astype(np.int64) + bias
            want = output_of(acc, np.uint8, scale, 3, 0, 255)
            for (isa, t), layer in layers.items():
                y = np.empty((m, n), np.uint8)
                layer.run(a, az, y)
                assert np.array_equal(y, want), \
                    f"{isa} {t} threads: m={m} k={kd} n={n} zp {az} spread {spread}"


def test_u7s8_late_layers_of_large_panels_are_one_block_at_every_thread_count():
    """U7S8 products of at most 60 rows whose panels pass 512 KB (ResNet's layer4 at 7x7: 1x1
    layers of 1-2 MB of weights, the 3x3's 2.4 MB through im2col rows, stride 1 and 2) stay
    one row block at 2 and 3 threads, their columns in chunks (qgemm.c, TC_QU7S8_WHOLE_BYTES);
    just below the bytes and just above the rows they keep two blocks.  Zero point 0 (tiles
    read in place, a photograph's hot channels above the paired widths, a last 1-row tile)
    and a mid-range one; every tier at 1-3 threads against numpy int64, the byte output with
    the fused residual add on the 3x3."""
    rng = np.random.default_rng(146)
    ctxs = _tiers_at((1, 2, 3))
    for m, kd, n in [(49, 2048, 512), (49, 512, 2048), (25, 1024, 520), (60, 4608, 128),
                     (61, 2048, 264), (49, 1024, 511), (49, 512, 1024)]:
        w = rng.integers(-127, 128, (n, kd)).astype(np.int16)
        bias = rng.integers(-5000, 5000, n).astype(np.int32)
        for zp in (0, 0, 130):
            a = rng.integers(max(zp - 60, 0), zp + 80, (m, kd))
            hot = rng.choice(kd, kd // 50, replace=False)
            a[:, hot] = rng.integers(90, 256, (m, hot.size))
            _check_u7s8_sums(ctxs, w, bias, a.astype(np.uint8), zp, f"m={m} k={kd} n={n}")
    c, k = 512, 512
    w = rng.integers(-127, 128, (k, 3, 3, c)).astype(np.int16)
    scale = (rng.random(k) * 0.0002 + 1e-6).astype(np.float32)
    for h, st in [(7, 1), (14, 2), (13, 2)]:
        x = rng.integers(0, 90, (1, h, h, c))
        x[..., rng.choice(c, 12, replace=False)] = rng.integers(100, 256, (1, h, h, 12))
        x = x.astype(np.uint8)
        acc = conv_reference(x.astype(np.int64), 0, w, (st, st), (1, 1, 1, 1), (1, 1), 1)
        q = output_of(acc, np.uint8, scale, 3, 0, 255)
        add = (0.05, 120, 0.03, 130, 0.06, 125)
        for (isa, t), ctx in ctxs.items():
            y32 = np.empty(acc.shape, np.int32)
            layer = K.QConv2d(ctx, w, K.QOutput(np.int32), (st, st), (1, 1, 1, 1), (1, 1), 1,
                              "u7s8")
            layer.run(x, 0, y32)
            assert np.array_equal(y32, acc), f"{isa} {t}t: 3x3 {h}x{h} stride {st}"
            r, ref = _residual_and_add(ctx, rng, q, add, True)
            out = K.QOutput(np.uint8, None, scale, 3, residual=add + (True,))
            layer = K.QConv2d(ctx, w, out, (st, st), (1, 1, 1, 1), (1, 1), 1, "u7s8")
            y = np.empty_like(q)
            layer.run(x, 0, y, residual=r)
            assert np.array_equal(y, ref), f"{isa} {t}t: 3x3 {h}x{h} stride {st}, the add"


def test_u7s8_row_blocks_outer_up_to_a_megabyte_of_panels():
    """U7S8 products over a few row blocks whose column chunks share up to 1 MiB of panels
    (ResNet-50's 14x14 layers: 1024 -> 256, 256 -> 1024, 512 -> 1024, the 3x3's 2304 -> 256
    im2col rows) run a row block's chunks one after the other at 2 and 3 threads (qgemm.c,
    TC_QU7S8_ROWS_OUTER_BYTES); just past 1 MiB the chunks stay outer.  Each layer built once
    and run on two feeds (a thread's block scan must not carry over), zero point 0 with a
    photograph's hot channels above the paired widths and a mid-range zero point, against
    numpy int64 at 1-3 threads."""
    rng = np.random.default_rng(150)
    ctxs = _tiers_at((1, 2, 3))
    for m, kd, n in [(196, 1024, 256), (196, 256, 1024), (196, 512, 1024), (196, 2304, 256),
                     (145, 1024, 264), (197, 1024, 1040)]:
        w = rng.integers(-127, 128, (n, kd)).astype(np.int16)
        bias = rng.integers(-5000, 5000, n).astype(np.int32)
        layers = {k: K.QGemm(c, w, K.QOutput(np.int32, bias), "u7s8") for k, c in ctxs.items()}
        for zp in (0, 0, 130):
            a = rng.integers(max(zp - 60, 0), zp + 80, (m, kd))
            hot = rng.choice(kd, kd // 40, replace=False)
            a[:, hot] = rng.integers(90, 256, (m, hot.size))
            a = a.astype(np.uint8)
            want = (a.astype(np.int64) - zp) @ w.T.astype(np.int64) + bias
            for (isa, t), layer in layers.items():
                y = np.empty((m, n), np.int32)
                layer.run(a, zp, y)
                assert np.array_equal(y, want), f"{isa} {t}t: m={m} k={kd} n={n} zp={zp}"


def test_qconv_task_split_gives_the_same_result_at_1_2_and_3_threads():
    """Convolutions at the late layers' map sizes (7x7 to 28x28) and odd ones, through every
    path of the driver (in place, im2col rows, indirect taps) and the Winograd (chunks of
    tiles, or of panels on small maps), with the fused lookup: equal to the reference at
    1, 2 and 3 threads."""
    rng = np.random.default_rng(86)
    ctxs = _tiers_at((1, 2, 3))
    table = rng.integers(0, 256, 256).astype(np.uint8)
    for (c, k, kh, st, h, wd) in [(16, 40, 1, 1, 7, 7), (32, 161, 1, 2, 14, 14),
                                  (16, 33, 3, 1, 14, 14), (20, 48, 3, 1, 7, 7),
                                  (64, 40, 3, 1, 28, 28), (48, 97, 3, 1, 13, 9),
                                  (32, 200, 3, 1, 8, 8), (24, 40, 3, 1, 6, 10),
                                  (24, 40, 3, 1, 61, 1)]:
        w = rng.integers(-128, 128, (k, kh, kh, c)).astype(np.int16)
        scale = (rng.random(k) * 0.002 + 1e-5).astype(np.float32)
        x = rng.integers(0, 256, (1, h, wd, c)).astype(np.uint8)
        xz = int(rng.integers(0, 256))
        p = kh // 2
        acc = conv_reference(x.astype(np.int64), xz, w, (st, st), (p,) * 4, (1, 1), 1)
        want = table[output_of(acc, np.uint8, scale, 3, 0, 255)]
        for (isa, t), ctx_ in ctxs.items():
            fmts = formats_for(ctx_, w) + (["winograd"] if kh == 3 and st == 1 else [])
            for fmt in fmts:
                layer = K.QConv2d(ctx_, w, K.QOutput(np.uint8, None, scale, 3, lut=table),
                                  (st, st), (p,) * 4, (1, 1), 1, fmt)
                y = np.empty(layer.output_shape(1, h, wd), np.uint8)
                layer.run(x, xz, y)
                assert np.array_equal(y, want), \
                    f"{isa} {t} threads {fmt}: C={c} K={k} {kh}x{kh} stride {st} {h}x{wd}"


@pytest.mark.parametrize("case", range(6))
def test_depthwise_byte_store_with_scales_past_1_and_narrow_ranges(ctx, case):
    """The depthwise byte store starts its sums at the bias and, when every scale is below
    1, leaves the float clamp to the packs; with a scale of 1 or more it clamps (large sums
    then pass hi), and the byte clamp runs only for a range narrower than the type's.
    Against the int64 reference: scales in [0.5, 4) with sums far past the output range,
    lo/hi the type's, a fused ReLU's and a narrow band, 16-pixel rows (blocks of 4) and
    7-pixel ones (pairs and a lone pixel)."""
    rng = np.random.default_rng(2600 + case)
    c, h, wd = ((48, 9, 17), (20, 7, 7), (35, 6, 16))[case % 3]
    signed_x = case % 2 == 1
    x = rng.integers(-128 if signed_x else 0, 128 if signed_x else 256, (1, h, wd, c))
    x = x.astype(np.int8 if signed_x else np.uint8)
    xz = int(rng.integers(-128, 128) if signed_x else rng.integers(0, 256))
    w = rng.integers(-128, 128, (c, 3, 3, 1)).astype(np.int16)
    check_depthwise_bytes(ctx, rng, x, xz, w, 1, (1, 1, 1, 1), f"3x3 C={c} {h}x{wd}")


def check_depthwise_bytes(ctx, rng, x, xz, w, st, pads, what):
    """The depthwise layer of weights w [C, KH, KW, 1] at stride st over x (zero point xz) to
    both 8-bit types, each with a random zero point and bias, scales past 1 (clamped) or all
    below 1, and the type's range, a fused ReLU's and a narrow one: against the int64
    reference."""
    c = w.shape[0]
    acc = conv_reference(x.astype(np.int64), xz, w, (st, st), pads, (1, 1), c)
    bias = rng.integers(-3000, 3000, c).astype(np.int32)
    acc = acc + bias
    for dtype in (np.uint8, np.int8):
        info = np.iinfo(dtype)
        zp = int(rng.integers(info.min, info.max))
        for scale_lo in (0.5, 1e-3):          # scales past 1 (clamped), or all below 1
            scale = (rng.random(c) * 3.5 + scale_lo).astype(np.float32)
            if scale_lo < 0.5:
                scale = (scale * 1e-3).astype(np.float32)
            for lo, hi in ((info.min, info.max), (zp, info.max), (info.min + 40, info.max - 50)):
                out = K.QOutput(dtype, bias, scale, zp, lo, hi)
                layer = K.QConv2d(ctx, w, out, (st, st), pads, (1, 1), c)
                assert layer.depthwise
                y = np.empty(layer.output_shape(x.shape[0], x.shape[1], x.shape[2]), dtype)
                layer.run(x, xz, y)
                ref = output_of(acc, dtype, scale, zp, lo, hi)
                bad = y != ref
                assert not bad.any(), (f"{what} x {x.dtype} zp {xz} -> {dtype.__name__} "
                                       f"zp {zp} [{lo}, {hi}] scales from {scale.min():.3g}: "
                                       f"{bad.sum()} of {y.size} differ")


@pytest.mark.parametrize("case", range(8))
def test_depthwise_3x3_5x5_byte_rows_are_exact(ctx, case):
    """The AVX2 3x3 and 5x5 byte kernels (tc_qdw_out_row_avx2's dwk_rows: whole blocks of 16
    channels, stride 1 or 2, 8-bit outputs without a residual): rows of every length modulo
    4 (blocks of 4 pixels, then 2, then 1), maps as short as the kernel (kernel rows outside
    the image, read with weights of 0), nonzero input zero points, both output types with
    the type's range, a fused ReLU's and a narrow one, scales below 1 and past it.  Against
    the int64 reference."""
    rng = np.random.default_rng(2700 + case)
    k = 3 if case < 4 else 5
    st = 1 + case % 2
    c = (16, 48, 32, 144)[case % 4]
    signed_x = case % 4 >= 2
    for h, wd in ((k, 4 * st + 1), (k + 1, 6 * st + 1), (7, 7), (5, 16), (6, 19), (9, 14)):
        x = rng.integers(-128 if signed_x else 0, 128 if signed_x else 256, (1, h, wd, c))
        x = x.astype(np.int8 if signed_x else np.uint8)
        xz = int(rng.integers(-128, 128) if signed_x else rng.integers(0, 256))
        w = rng.integers(-128, 128, (c, k, k, 1)).astype(np.int16)
        check_depthwise_bytes(ctx, rng, x, xz, w, st, (k // 2,) * 4,
                              f"{k}x{k} s{st} C={c} {h}x{wd}")


def test_depthwise_split_gives_the_same_result_at_1_2_and_3_threads():
    """The depthwise layer's split into runs of rows (each thread rebuilding the pair rows
    its first output rows read): every output once and exact at 1, 2 and 3 threads, on
    small maps too, with int8 inputs, strides, a fused residual add and a fused lookup."""
    rng = np.random.default_rng(87)
    ctxs = _tiers_at((1, 2, 3))
    table = rng.integers(0, 256, 256).astype(np.uint8)
    for case, (c, kh, st, n, h) in enumerate([(160, 3, 1, 1, 7), (100, 5, 1, 1, 14),
                                              (161, 5, 1, 2, 7), (40, 3, 2, 1, 28),
                                              (96, 3, 1, 1, 56), (33, 3, 1, 1, 20)]):
        signed = case % 2 == 1
        dtype = np.int8 if signed else np.uint8
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, (n, h, h, c), endpoint=True).astype(dtype)
        xz = int(rng.integers(info.min, info.max))
        w = rng.integers(-128, 128, (c, kh, kh, 1)).astype(np.int16)
        scale = (rng.random(c) * 0.004 + 1e-4).astype(np.float32)
        p = kh // 2
        acc = conv_reference(x.astype(np.int64), xz, w, (st, st), (p,) * 4, (1, 1), c)
        residual = (0.05, 3, 0.04, -2 if signed else 7, 0.06, 1, False) if case % 3 == 2 else None
        r = None
        for (isa, t), ctx_ in ctxs.items():
            layer = K.QConv2d(ctx_, w, K.QOutput(dtype, None, scale, 3, residual=residual,
                                                 lut=table), (st, st), (p,) * 4, (1, 1), c)
            assert layer.depthwise
            shape = layer.output_shape(n, h, h)
            if r is None:
                r = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype) \
                    if residual else None
                plain = K.QConv2d(K.Context(1, "portable"), w,
                                  K.QOutput(dtype, None, scale, 3, residual=residual),
                                  (st, st), (p,) * 4, (1, 1), c)
                q = np.empty(shape, dtype)
                plain.run(x, xz, q, residual=r)
                if residual is None:
                    assert np.array_equal(q, output_of(acc, dtype, scale, 3, info.min, info.max))
                want = table[q.view(np.uint8)].view(dtype)
            y = np.empty(shape, dtype)
            layer.run(x, xz, y, residual=r)
            assert np.array_equal(y, want), \
                f"{isa} {t} threads: C={c} {kh}x{kh} stride {st} {n}x{h}x{h} {dtype.__name__}"


def _qgap_reference(x, x_scale, x_zp, y_scale, y_zp, signed):
    """QLinearGlobalAveragePool in numpy: the exact int sum, then the float32 output stage."""
    n, s, c = x.shape
    acc = (x.astype(np.int64).sum(axis=1) - x_zp * s).astype(np.int32)
    r = np.float32(x_scale) / (np.float32(y_scale) * np.float32(s))
    lo, hi = (-128, 127) if signed else (0, 255)
    v = np.clip(acc.astype(np.float32) * r, np.float32(lo - y_zp), np.float32(hi - y_zp))
    return (np.rint(v).astype(np.int32) + y_zp).astype(x.dtype)


def test_qglobal_avg_pool_every_tier_and_thread_count_equals_numpy():
    """tc_qglobal_avg_pool_nhwc (the AVX2 column sums in 16 bits and their portable twin, by
    channel blocks or split by pixel ranges across threads) on a grid of channels, pixels,
    images, both types, zero points at the limits and data at the extremes (the 16-bit sums'
    worst case): bit-identical to numpy on every tier at 1-3 threads."""
    ctxs = [(K.Context(t, *K.parse_isa(K.INT8_ISA_SETTINGS[isa])), f"{isa}-{t}t")
            for isa in ("portable", "avx2", "avxvnni", "avx512vnni") if isa in K.int8_isas()
            for t in (1, 2, 3)]
    rng = np.random.default_rng(21)
    case = 0
    for c, s, n, signed in itertools.product([1, 15, 32, 33, 64, 100, 1152],
                                             [1, 49, 196, 3136, 12544], [1, 2], [False, True]):
        if c * s * n > 8_000_000:
            continue
        lo, hi = (-128, 127) if signed else (0, 255)
        dtype = np.int8 if signed else np.uint8
        kind = case % 4
        if kind == 0:
            x = np.full((n, s, c), hi, dtype)
        elif kind == 1:
            x = np.full((n, s, c), lo, dtype)
        else:
            x = rng.integers(lo, hi + 1, (n, s, c)).astype(dtype)
        x_zp, y_zp = [(lo, hi), (hi, lo), (lo, lo), (hi, hi)][(case // 4) % 4]
        x_scale = float(rng.uniform(0.005, 0.05))
        y_scale = x_scale * float(rng.choice([0.3, 1.0, 2.5, 40.0]))
        params = [(x_zp, y_zp, y_scale)]
        if kind < 2:    # extreme data with an unsaturated output: a wrong sum shows
            params.append((0, 0, x_scale * 3.0))
        for x_zp, y_zp, y_scale in params:
            ref = _qgap_reference(x, x_scale, x_zp, y_scale, y_zp, signed)
            for ctx, name in ctxs:
                y = np.empty((n, c), dtype)
                K.qglobal_avg_pool_nhwc(ctx, x, y, n, s, c, x_scale, x_zp, y_scale, y_zp)
                assert np.array_equal(y, ref), \
                    f"c={c} s={s} n={n} signed={signed} zp={x_zp},{y_zp} {name}: " \
                    f"{(y != ref).sum()} differ"
        case += 1


def test_qgemm_of_few_rows_is_exact_on_every_tier_and_layout():
    """The kernels' one-row path (a GEMV: a classifier's rows, a last tile of 1 row) against
    numpy int64 and the portable kernels (the same int32 sums, the same output stage): M = 1
    to 7 (7: a full 6-row tile then a 1-row one), K odd and even (padding, one group, the
    classifiers' 1280), N not a multiple of the 16-column panels, weights at both ends
    (U8S8X2's corrections), bytes outside U7S8's window at zero points 0 and 128, uint8 and
    int8 activations, int32 and requantized uint8 outputs, 1-3 threads."""
    rng = np.random.default_rng(151)
    ctxs = _tiers_at((1, 2, 3))
    portable = K.Context(1, "portable")
    for kd, n in [(1, 1), (7, 17), (64, 40), (131, 33), (1280, 1000)]:
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        w[:, ::5] = -128
        w[::3, 1::4] = 127
        bias = rng.integers(-5000, 5000, n).astype(np.int32)
        scale = (rng.random(n) * 0.002 + 1e-4).astype(np.float32)
        for m in range(1, 8):
            for zp, signed in [(0, False), (128, False), (-3, True)]:
                if signed:
                    a = rng.integers(-128, 128, (m, kd)).astype(np.int8)
                else:
                    a = _window_case(rng, m, kd, zp)
                acc = (a.astype(np.int64) - zp) @ w.T.astype(np.int64) + bias
                for dtype in (np.int32, np.uint8):
                    want = output_of(acc, dtype, scale, 100, 0, 255)
                    out = K.QOutput(dtype, bias, scale, 100)
                    for (isa, t), c in list(ctxs.items()) + [(("portable", 1), portable)]:
                        for fmt in formats_for(c, w):
                            if fmt == "u7s8" and signed:
                                continue
                            y = np.empty((m, n), dtype)
                            K.QGemm(c, w, out, fmt).run(a, zp, y)
                            assert np.array_equal(y, want), \
                                f"{K.qkernel_name(c, fmt)} {t}t: m={m} k={kd} n={n} zp={zp}"


# Stems read in place from a padded copy (tc_qstem): C 1-4, kernels 3x3 to 7x7, strides 1-3,
# pads none, symmetric, asymmetric and past the kernel, a row dilation, odd sizes, batch 2
STEM_CASES = [  # (n, c, h, w, k, kh, kw, strides, pads (t, l, b, r), dilations)
    (1, 3, 23, 21, 64, 7, 7, (2, 2), (3, 3, 3, 3), (1, 1)),     # ResNet's
    (2, 3, 17, 19, 32, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1)),     # MobileNet's
    (1, 3, 15, 16, 24, 3, 3, (2, 2), (0, 1, 1, 0), (1, 1)),     # asymmetric (SAME_UPPER)
    (2, 1, 11, 13, 8, 3, 3, (1, 1), (0, 0, 0, 0), (1, 1)),      # gray, unpadded
    (1, 4, 12, 9, 20, 5, 3, (1, 2), (2, 0, 4, 3), (2, 1)),      # pads past the kernel, dh 2
    (1, 2, 14, 14, 17, 3, 5, (3, 3), (1, 2, 1, 2), (1, 1)),     # stride 3, odd K
    (1, 3, 7, 7, 40, 7, 7, (1, 1), (3, 3, 3, 3), (1, 1)),       # windows mostly padding
]


@pytest.mark.parametrize("case", STEM_CASES, ids=lambda c: f"c{c[1]}k{c[5]}x{c[6]}s{c[7][0]}{c[7][1]}")
def test_stem_is_exact_on_every_tier_layout_and_zero_point(ctx, case):
    """The stem path against numpy int64 and the im2col path: every layout that takes it,
    uint8 input at zero points 0, 255 and mid-range, int8 input, weights at both ends (a
    kernel row's weights meet the copy's spare elements, which must contribute nothing),
    int32 and requantized outputs (a fused ReLU)."""
    n, c, h, wd, k, kh, kw, st, pads, dl = case
    rng = np.random.default_rng(sum(case[:7]))
    w = rng.integers(-128, 128, (k, kh, kw, c)).astype(np.int16)
    w[::3, :, 0] = -128
    w[1::3, :, -1] = 127
    bias = rng.integers(-20000, 20000, k).astype(np.int32)
    scale = (rng.random(k) * 0.002 + 1e-4).astype(np.float32)
    for xz, signed in [(0, False), (255, False), (114, False), (-7, True)]:
        if signed:
            x = rng.integers(-128, 128, (n, h, wd, c)).astype(np.int8)
        else:
            x = rng.integers(0, 256, (n, h, wd, c)).astype(np.uint8)
            x[..., ::2, :] = 255 if xz == 0 else 0    # bytes far from the zero point
        acc = conv_reference(x.astype(np.int64), xz, w, st, pads, dl, 1) + bias
        for fmt in [f for f in formats_for(ctx, w) if f != "u7s8"]:
            for dtype, lo in [(np.int32, 0), (np.uint8, 5)]:
                out = K.QOutput(dtype, bias, scale, 5, lo, 255)
                want = output_of(acc, dtype, scale, 5, lo, 255)
                for stem in (True, False):
                    layer = K.QConv2d(ctx, w, out, st, pads, dl, 1, fmt, stem=stem)
                    assert layer.stem == stem
                    y = np.empty(layer.output_shape(n, h, wd), dtype)
                    layer.run(x, xz, y)
                    bad = y != want
                    assert not bad.any(), (f"stem={stem} {layer.format} x zp {xz} {x.dtype} "
                                           f"-> {dtype.__name__}: {bad.sum()} of {y.size} differ")


def test_stem_is_taken_where_it_applies_and_refused_elsewhere():
    """By default the SIMD tiers take the stem path for one group of at most 4 channels
    without dilation along x (not U7S8's layout, nor the portable tier, whose kernels would
    compute the rows' padding too); stem=True elsewhere is an error naming the geometry."""
    out = K.QOutput(np.int32)
    w3 = np.ones((16, 3, 3, 3), np.int16)
    simd = [K.Context(1, *K.parse_isa(K.INT8_ISA_SETTINGS[isa]))
            for isa in ("avx2", "avx512vnni") if isa in K.int8_isas()]
    for c in simd:
        assert K.QConv2d(c, w3, out, (2, 2), (1, 1, 1, 1)).stem
        assert not K.QConv2d(c, w3, out, (2, 2), (1, 1, 1, 1), stem=False).stem
        assert not K.QConv2d(c, w3, out, dilations=(1, 2)).stem
        assert not K.QConv2d(c, np.ones((16, 3, 3, 5), np.int16), out).stem
        assert not K.QConv2d(c, w3, out, format="u7s8").stem
    portable = K.Context(1, "portable")
    assert not K.QConv2d(portable, w3, out).stem
    assert K.QConv2d(portable, w3, out, stem=True).stem
    with pytest.raises(ValueError, match="stem=True needs .* dilations"):
        K.QConv2d(portable, w3, out, dilations=(1, 2), stem=True)
    with pytest.raises(ValueError, match="stem=True needs .*'u7s8'"):
        K.QConv2d(portable, w3, out, format="u7s8", stem=True)


def test_stem_threads_give_the_same_result():
    """The padded copy split by rows and the tasks over rows of taps: a 224x224 stem (the
    copy's rows over several threads) equal at 1, 2 and 3 threads on every tier."""
    rng = np.random.default_rng(7)
    w = rng.integers(-128, 128, (32, 3, 3, 3)).astype(np.int16)
    x = rng.integers(0, 256, (1, 224, 224, 3)).astype(np.uint8)
    acc = conv_reference(x.astype(np.int64), 114, w, (2, 2), (1, 1, 1, 1), (1, 1), 1)
    for (isa, t), c in _tiers_at((1, 2, 3)).items():
        layer = K.QConv2d(c, w, K.QOutput(np.int32), (2, 2), (1, 1, 1, 1), stem=True)
        y = np.empty(layer.output_shape(1, 224, 224), np.int32)
        layer.run(x, 114, y)
        assert np.array_equal(y, acc), f"{isa} {t} threads {layer.format}"


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qgemm_byte_output_stage_at_its_limits(ctx, dtype):
    """The 8-bit output stage of whole 16-column tiles (AVX2: two rows packed together, the
    clamp done by saturating packs after the rounding) against numpy's clamp-then-round:
    sums scaled past int32 both ways (1e5 x 4e5), ties of the rounding (scale 0.5 on odd
    sums), a fused clamp narrower than the type on both sides and the type's own range,
    zero points at the type's ends, M = 1 to 13 (whole 6-row tiles, odd tails), N = 16 and 48
    (whole panels) and 40 (a last panel of 8 columns)."""
    rng = np.random.default_rng(97)
    lo_t, hi_t = (-128, 127) if dtype == np.int8 else (0, 255)
    for m, kd, n in [(1, 16, 16), (6, 16, 48), (7, 24, 16), (12, 32, 48), (13, 5, 40)]:
        a = rng.integers(0, 256, (m, kd)).astype(np.uint8)
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        bias = rng.integers(-30000, 30000, n).astype(np.int32)
        acc = a.astype(np.int64) @ w.T.astype(np.int64) + bias
        for scale_v in (1e5, 0.5, 3e-3, 1.7e-4):
            scale = np.full(n, scale_v, np.float32)
            scale[::3] *= -1          # negative scales flip the overflow's direction too
            for zp, lo, hi in [(lo_t, lo_t, hi_t), (hi_t, lo_t, hi_t),
                               (lo_t + 20, lo_t + 20, lo_t + 120), (0, lo_t + 3, hi_t - 5)]:
                want = requantize(acc, scale, zp, lo, hi, dtype)
                for fmt in formats_for(ctx, w):
                    y = np.empty((m, n), dtype)
                    K.QGemm(ctx, w, K.QOutput(dtype, bias, scale, zp, lo, hi), fmt).run(a, 0, y)
                    bad = y != want
                    assert not bad.any(), (f"{K.qkernel_name(ctx, fmt)}: m={m} k={kd} n={n} "
                                           f"scale {scale_v} zp {zp} [{lo}, {hi}] "
                                           f"{dtype.__name__}: {bad.sum()} of {y.size} differ")


def test_pointwise_conv_rows_in_one_run_are_exact():
    """1x1 stride-1 unpadded convolutions (MobileNet's expansions and projections), whose
    rows the packed layouts copy as one run over the block's pixels when they need no
    padding (C even for S16X2, a multiple of 4 for the byte layouts) and row by row
    otherwise: C odd, even and a multiple of 4, uint8 and int8 images, 2 images (blocks
    across the images' boundary), every layout and tier at 1-3 threads."""
    rng = np.random.default_rng(87)
    ctxs = _tiers_at((1, 2, 3))
    for c, k, h, wd in [(3, 20, 9, 7), (6, 17, 11, 5), (16, 96, 12, 12), (24, 40, 7, 9)]:
        w = rng.integers(-128, 128, (k, 1, 1, c)).astype(np.int16)
        scale = (rng.random(k) * 0.004 + 1e-4).astype(np.float32)
        bias = rng.integers(-3000, 3000, k).astype(np.int32)
        for signed in (False, True):
            dtype = np.int8 if signed else np.uint8
            info = np.iinfo(dtype)
            x = rng.integers(info.min, info.max, (2, h, wd, c), endpoint=True).astype(dtype)
            xz = int(rng.integers(info.min, info.max))
            acc = conv_reference(x.astype(np.int64), xz, w, (1, 1), (0,) * 4, (1, 1), 1) + bias
            want = output_of(acc, dtype, scale, 5, info.min, info.max)
            for (isa, t), ctx_ in ctxs.items():
                for fmt in formats_for(ctx_, w):
                    if fmt == "u7s8" and signed:
                        continue
                    layer = K.QConv2d(ctx_, w, K.QOutput(dtype, bias, scale, 5), format=fmt)
                    y = np.empty(layer.output_shape(2, h, wd), dtype)
                    layer.run(x, xz, y)
                    bad = y != want
                    assert not bad.any(), (f"{isa} {t} threads {layer.format}: C={c} K={k} "
                                           f"{h}x{wd} {dtype.__name__}: {bad.sum()} differ")


def _pointwise_case(rng, rows, n, c):
    """A 1x1 layer's weights [n, 1, 1, c], a row of rows pixels, its zero point, a bias and
    the exact sums with the bias."""
    w = rng.integers(-128, 128, (n, 1, 1, c)).astype(np.int16)
    x = rng.integers(0, 256, (1, 1, rows, c)).astype(np.uint8)
    xz = int(rng.integers(0, 256))
    bias = rng.integers(-3000, 3000, n).astype(np.int32)
    acc = conv_reference(x.astype(np.int64), xz, w, (1, 1), (0,) * 4, (1, 1), 1) + bias
    return w, x, xz, bias, acc


def _assert_s16x2_layers(ctxs, w, x, xz, output, dtype, want, what):
    """Each context's S16X2 1x1 layer of w with output on x (zero point xz) gives want."""
    for (isa, t), ctx_ in ctxs.items():
        layer = K.QConv2d(ctx_, w, output, format="s16x2")
        y = np.empty(layer.output_shape(1, 1, x.shape[2]), dtype)
        layer.run(x, xz, y)
        bad = y != want
        assert not bad.any(), f"{isa} {t} threads: {what}: {bad.sum()} differ"


def test_single_panel_products_of_many_tiles_are_exact():
    """Products of one panel (16 columns or fewer: MobileNetV2's 32 -> 16 projection), whose
    whole tiles the AVX2 S16X2 kernel takes several to a call: rows around the tiles and
    blocks (PARTITION_ROWS), 8, 13 and 16 columns, both 8-bit outputs, a fused ReLU, and the
    outputs the call leaves to one tile each (int32, a residual: test_fused_residual_add_*),
    every tier at 1-3 threads, against the exact sums."""
    rng = np.random.default_rng(88)
    ctxs = _tiers_at((1, 2, 3))
    for rows, n, c in itertools.product(PARTITION_ROWS, (8, 13, 16), (32, 6)):
        w, x, xz, bias, acc = _pointwise_case(rng, rows, n, c)
        scale = (rng.random(n) * 0.004 + 1e-4).astype(np.float32)
        for dtype, lo, hi in ((np.uint8, 0, 255), (np.uint8, 7, 255), (np.int8, -128, 127),
                              (np.int32, None, None)):
            zp = 7 if dtype == np.uint8 else -3
            _assert_s16x2_layers(ctxs, w, x, xz, K.QOutput(dtype, bias, scale, zp, lo, hi), dtype,
                                 output_of(acc, dtype, scale, zp, lo, hi),
                                 f"{rows} rows C={c} N={n} {dtype.__name__} [{lo}, {hi}]")


def test_s16x2_products_of_few_k_panel_by_panel_are_exact():
    """S16X2 products of up to 32 k over several panels (MobileNetV2's 16 -> 96 and 24 -> 144
    expansions), which the AVX2 driver runs a panel per call over a block's whole tiles
    (s16x2_tiles_avx2, its output stage set up once per call, the tiles' rows found from the
    first two pointers): K = 16, 24, 30 and 32, 40 and 96 columns (a last panel of 8), rows
    around the tiles and blocks, both 8-bit outputs with a fused clamp on both sides, on
    either side alone (a ReLU6's [0, hi]) and the type's range, zero points 0 (the bodies
    without the zero point's add: MobileNetV2's expansions, a ReLU6 over [0, 255]) and at the
    type's ends, scales below 1 and past it (the float clamp above), every tier at 1-3
    threads, against the exact sums."""
    rng = np.random.default_rng(89)
    ctxs = _tiers_at((1, 2, 3))
    for rows, n, c in itertools.product((7, 61, 97, 784), (40, 96), (16, 24, 30, 32)):
        w, x, xz, bias, acc = _pointwise_case(rng, rows, n, c)
        for scale_v in (3e-3, 2.5):
            scale = (rng.random(n) * scale_v + 1e-4).astype(np.float32)
            for dtype, zp, lo, hi in ((np.uint8, 7, 7, 200), (np.uint8, 130, 0, 255),
                                      (np.uint8, 0, 0, 180), (np.uint8, 9, 9, 255),
                                      (np.uint8, 0, 0, 255), (np.uint8, 255, 0, 255),
                                      (np.int8, -3, -128, 127), (np.int8, 5, 5, 100),
                                      (np.int8, -128, -128, 90), (np.int8, 0, -20, 127),
                                      (np.int8, 0, -128, 127), (np.int8, 127, -128, 127)):
                _assert_s16x2_layers(ctxs, w, x, xz, K.QOutput(dtype, bias, scale, zp, lo, hi),
                                     dtype, output_of(acc, dtype, scale, zp, lo, hi),
                                     f"{rows} rows C={c} N={n} scale {scale_v} "
                                     f"{dtype.__name__} zp {zp} [{lo}, {hi}]")


def test_u7s8_wider_windows_of_small_weights_are_exact():
    """U7S8's window is as wide per pair of k as the weights allow (lim * (|w0| + |w1|)
    <= 32767, from 127 for weights of -128 to 255): weights of a different bound per pair
    (the pair sums at int16's edge: same-sign pairs at the bound, the bytes at lim, lim + 1
    and 255), zero points 0, 100 and 200, every tier at 1-3 threads, against numpy int64."""
    rng = np.random.default_rng(43)
    ctxs = _tiers_at((1, 2, 3))
    n = 37
    for kd in (4, 30, 64, 100):
        bound = rng.choice([16, 64, 65, 90, 100, 128], (kd + 1) // 2)
        w = np.empty((n, kd), np.int16)
        for q in range(0, kd, 2):
            hi = int(bound[q // 2])
            w[:, q:q + 2] = rng.integers(-hi, min(hi, 127), (n, min(2, kd - q)), endpoint=True)
            w[q % n, q:q + 2] = hi if hi < 128 else 127  # a same-sign pair at the bound
            w[(q + 1) % n, q:q + 2] = -hi
        pair_most = [max(int(abs(x) + abs(y)) if x * y > 0 else max(abs(x), abs(y))
                         for x, y in zip(w[:, q], w[:, q + 1] if q + 1 < kd else 0 * w[:, q]))
                     for q in range(0, kd, 2)]
        lim = np.repeat([min(32767 // m if m else 255, 255) for m in pair_most], 2)[:kd]
        for zp in (0, 100, 200):
            b = min(max(zp - 64, 0), 127)
            a = rng.integers(b, np.minimum(b + lim, 255), (19, kd), endpoint=True)
            a[1::3] = np.minimum(b + lim, 255)                 # at the window's top
            a[2::5] = np.minimum(b + lim + 1, 255)             # just above it
            a[4::6, ::3] = 255
            a[5::7, 1::2] = 0
            a = a.astype(np.uint8)
            want = (a.astype(np.int64) - zp) @ w.T.astype(np.int64)
            for (isa, t), c in ctxs.items():
                y = np.empty((19, n), np.int32)
                K.QGemm(c, w, K.QOutput(np.int32), "u7s8").run(a, zp, y)
                assert np.array_equal(y, want), (f"{K.qkernel_name(c, 'u7s8')} {t}t: k={kd} "
                                                 f"zp={zp}: {(y != want).sum()} differ")


def test_u7s8_windows_centred_for_their_median_width_are_exact():
    """Around a mid-range zero point U7S8's window starts at zp - (the median of its pair's
    widths) / 2, within 1 .. 127 (qgemm.c, u7s8_mid_base): weights small enough for widths
    up to 255 (the window down to base 1 or up to base 127), mixed with pairs of width 127,
    bytes at 0, 255, the zero point and at random, zero points 65 to 255, K past the long
    kernels' 224 too, every tier at 1-3 threads, against numpy int64."""
    rng = np.random.default_rng(47)
    ctxs = _tiers_at((1, 2, 3))
    n = 35
    for kd in (36, 64, 100, 240):
        for bound in (16, 64, 100):
            w = rng.integers(-bound, bound, (n, kd), endpoint=True).astype(np.int16)
            w[:, : kd // 3] = rng.integers(-128, 128, (n, kd // 3))   # a third at width 127
            w[0, : kd // 3] = -128
            bias = rng.integers(-5000, 5000, n).astype(np.int32)
            for zp in (65, 100, 128, 140, 200, 255):
                a = rng.integers(0, 256, (23, kd))
                a[1::4] = rng.integers(max(zp - 70, 0), min(zp + 70, 255), (len(a[1::4]), kd),
                                       endpoint=True)
                a[2::5, ::3] = 255
                a[3::5, 1::3] = 0
                a[4::6] = zp
                _check_u7s8_sums(ctxs, w, bias, a.astype(np.uint8), zp,
                                 f"k={kd} weights within {bound}")


def test_u7s8_paired_windows_of_long_k_are_exact():
    """From kpad 192 at zero points up to 64 (base 0) the long kernels add two 4-k steps'
    pair sums in int16: the lanes k, k + 1, k + 4, k + 5 share a width lim with lim * (a
    column's positive, or negative, weights of the four) <= 32767, down to 64 for four
    weights of 127 (bytes above it up to 191: corrected in two parts).  Weights at int16's
    edge per lane (four of 127, four of -128, mixed), bytes at lim, lim + 1 and 255, kpad a
    multiple of 8 and not (a last single step), one row (the GEMV path), a last panel of 8
    columns, tiles with a group or two above the paired widths (kept) beside tiles with many
    (split again at the pair's widths); zero point 100 (the pair widths) beside; every tier
    at 1-3 threads against numpy int64."""
    rng = np.random.default_rng(45)
    ctxs = _tiers_at((1, 2, 3))
    for kd, n in [(192, 37), (196, 24), (261, 40), (520, 17)]:
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        for g in range(0, kd, 8):             # one column per 8-k group at a lane's edge
            lanes = [g, g + 1, g + 4, g + 5][: max(0, min(4, kd - g))]
            lanes = [k for k in lanes if k < kd]
            w[g % n, lanes] = 127 if g % 16 else -128
            w[(g + 3) % n, [k + 2 for k in lanes if k + 2 < kd]] = 100
        for m in (1, 19, 61):
            for zp in (0, 64, 100):
                a = rng.integers(0, 60, (m, kd))
                a[1::3] = 64                                   # at the tightest window's top
                a[2::5] = 65                                   # just above it
                a[::4, ::5] = 255                              # a part above of 191
                a[3::7, 2::3] = 129
                if m == 61:  # 8 tiles of 4 rows mostly in the window, the rest not
                    a[:32] = rng.integers(0, 60, (32, kd))
                    a[5, 7] = 255                              # one group above: paired
                    a[9, kd - 3] = 200
                a = a.astype(np.uint8)
                want = (a.astype(np.int64) - zp) @ w.T.astype(np.int64)
                for (isa, t), c in ctxs.items():
                    y = np.empty((m, n), np.int32)
                    K.QGemm(c, w, K.QOutput(np.int32), "u7s8").run(a, zp, y)
                    assert np.array_equal(y, want), (f"{K.qkernel_name(c, 'u7s8')} {t}t: "
                                                     f"k={kd} n={n} m={m} zp={zp}: "
                                                     f"{(y != want).sum()} differ")



def test_u7s8_paired_widths_given_up_per_task_are_exact():
    """At zero point 0 the long kernels try the paired widths on a task's tiles and give them
    up once more than half of those tried had too many groups above them (qgemm.c,
    TC_QU7S8_PAIRED_SHARE); the later tiles are split, or read in place, at the pair's widths
    only.  Weights with a column of 127s (paired widths 64, the pair's 129), 4-row tiles of
    four kinds in runs and mixes: inside the paired widths (I), many bytes between the two
    (P: in place at the pair's widths once given up), bytes above both (S), one group above
    the paired ones (G: kept paired while tried); K a multiple of 4 (in place) and not,
    several blocks, every tier at 1-3 threads against numpy int64."""
    rng = np.random.default_rng(53)
    ctxs = _tiers_at((1, 2, 3))
    n = 40
    for kd in (192, 200, 198, 264):
        w = rng.integers(-127, 128, (n, kd)).astype(np.int16)
        w[0] = 127
        bias = rng.integers(-5000, 5000, n).astype(np.int32)
        for m in (61, 145, 196):
            for seq in ("P", "PPS", "IIIIPPPP", "PPPPIIII", "SPIP", "GGGGPPPPPPPPIIII"):
                a = rng.integers(0, 61, (m, kd))
                for t in range((m + 3) // 4):
                    rows = slice(4 * t, 4 * t + 4)
                    kind = seq[t % len(seq)]
                    if kind == "P":
                        a[rows, t % 3::3] = 65 + (t * 7) % 65      # 65-129: in the pair's
                    elif kind == "S":
                        a[rows, t % 3::3] = 100
                        a[rows, t % 9::9] = 130 + (t * 13) % 126   # above both
                    elif kind == "G":
                        a[4 * t + t % 4, (5 * t) % kd] = 255        # one group above
                a = a.astype(np.uint8)
                _check_u7s8_sums(ctxs, w, bias, a, 0, f"k={kd} m={m} tiles {seq}")


def test_u7s8_steps_read_in_place_are_exact():
    """At zero point 0 with the paired widths the AVX2 tier reads a tile of 2-4 rows in place
    and runs only the 8-k steps with a byte above the paired widths at the pair's widths
    (qgemm_u7s8_steps_avx2.c; a byte above those too in two parts): a photograph's bytes
    above 127 in a few channels of many rows (ResNet-50 int8), such steps first, last, every
    one and none, a byte just above each width and 255, kpad a multiple of 8 and 4 mod 8 (a
    last 4-k group), several panels per call (kpad <= 320) and one, a last half panel, tiles
    of 1-3 rows at the end, a 3x3 convolution through im2col rows; every tier at 1-3 threads
    against numpy int64."""
    rng = np.random.default_rng(59)
    ctxs = _tiers_at((1, 2, 3))
    for kd, n in [(224, 40), (228, 33), (256, 72), (516, 24), (584, 20), (1024, 16)]:
        w = rng.integers(-127, 128, (n, kd)).astype(np.int16)
        w[0, ::8] = 127                       # some low paired widths
        w[1, 1::8] = -127
        bias = rng.integers(-5000, 5000, n).astype(np.int32)
        for m in (49, 62, 63):
            base = rng.integers(0, 80, (m, kd))
            hot = rng.choice(kd, max(1, kd // 40), replace=False)
            for kind in ("hot", "first", "last", "all", "none", "edges", "alternate"):
                a = base.copy()
                if kind == "hot":             # a few channels high in most rows
                    a[:, hot] = rng.integers(90, 256, (m, hot.size))
                    a[::5, hot] = 10
                elif kind == "first":
                    a[::3, :8] = 255
                elif kind == "last":
                    a[1::2, kd - 8:] = 200
                elif kind == "all":
                    a[:, ::4] = rng.integers(100, 256, (m, (kd + 3) // 4))
                elif kind == "edges":         # just above the paired widths, and 255
                    a[::2, ::8] = 129
                    a[1::4, 4::8] = 130
                    a[-1, -1] = 255
                elif kind == "alternate":     # every other 8-k step, the scan's words' ends
                    a[1::3, 3::16] = 200
                    a[2::5, 511:kd:512] = 255
                a = a.astype(np.uint8)
                _check_u7s8_sums(ctxs, w, bias, a, 0, f"k={kd} n={n} m={m} {kind}")
    c = 128                                   # K = 1152 through im2col rows, stride 2
    w = rng.integers(-127, 128, (40, 3, 3, c)).astype(np.int16)
    x = rng.integers(0, 90, (1, 13, 13, c))
    x[..., rng.choice(c, 6, replace=False)] = rng.integers(100, 256, (1, 13, 13, 6))
    x = x.astype(np.uint8)
    want = conv_reference(x.astype(np.int64), 3, w, (2, 2), (1, 1, 1, 1), (1, 1), 1)
    for (isa, t), ctx in ctxs.items():
        layer = K.QConv2d(ctx, w, K.QOutput(np.int32), (2, 2), (1, 1, 1, 1), (1, 1), 1, "u7s8")
        y = np.empty(layer.output_shape(1, 13, 13), np.int32)
        layer.run(x, 3, y)
        assert np.array_equal(y, want), f"{isa} {t}t: 3x3 im2col"


def test_relu_1x1_layers_take_u7s8_over_u8s8x2_from_k_224_or_a_half_panel():
    """On AVX2 without VNNI a 1x1 convolution after a ReLU (uint8, zero point <= 64) whose
    weights U8S8X2 would take (few pairs past 128: MobileNetV2's projections once their
    channels are paired) takes U7S8 from K = 224 (the in-place steps kernel) or with a last
    half panel (N % 16 in 1..8), below 14x14 only from 320 outputs; not at a mid-range zero
    point, not for int8 inputs, not K = 192 with whole panels (ops/qconv.py
    _U7S8_OVER_U8S8X2_K)."""
    from tinycnn.ops.qconv import _format
    if "avx2" not in K.int8_isas():
        pytest.skip("CPU lacks AVX2")
    avx2 = K.Context(1, *K.parse_isa(K.INT8_ISA_SETTINGS["avx2"]))
    rng = np.random.default_rng(61)
    one = (1, 1)
    for n, k, want in [(64, 384, "u7s8"), (320, 960, "u7s8"), (96, 224, "u7s8"),
                       (24, 96, "u7s8"), (40, 144, "u7s8"), (32, 192, None), (64, 216, None)]:
        w = rng.integers(-64, 65, (n, 1, 1, k)).astype(np.int16)
        assert K.qgemm_choose_format_for(avx2, w.reshape(n, -1)) == "u8s8x2"
        assert _format(avx2, w, 1, one, one, (1, n, 14, 14)) == want, (n, k)
        assert _format(avx2, w, 1, one, one, (1, n, 14, 14), np.uint8, 128) is None, (n, k)
        assert _format(avx2, w, 1, one, one, (1, n, 14, 14), np.int8, 0) is None, (n, k)
        small = want if n >= 320 else None    # below 14x14 from 320 outputs only
        assert _format(avx2, w, 1, one, one, (1, n, 7, 7)) == small, (n, k)


def _check_products(rng, ctxs, w, bias, scale, a, zp, fmt, what):
    """fmt's int32 sums of (a - zp) * w + bias, its 8-bit outputs (scale, zero point 3) and
    those with the fused residual add (against qbinary's add of the unfused output to a random
    residual drawn from rng) in every context, against numpy int64."""
    m, n = a.shape[0], w.shape[0]
    acc = (a.astype(np.int64) - zp) @ w.T.astype(np.int64) + bias
    want = output_of(acc, np.uint8, scale, 3, 0, 255)
    r = rng.integers(0, 256, (m, n)).astype(np.uint8)
    what = f"{fmt} {what} zp={zp}"
    for (isa, t), c in ctxs.items():
        y = np.empty((m, n), np.int32)
        K.QGemm(c, w, K.QOutput(np.int32, bias), fmt).run(a, zp, y)
        assert np.array_equal(y, acc), (f"{K.qkernel_name(c, fmt)} {t}t int32: {what}: "
                                        f"{(y != acc).sum()} differ")
        q = np.empty((m, n), np.uint8)
        K.QGemm(c, w, K.QOutput(np.uint8, bias, scale, 3), fmt).run(a, zp, q)
        assert np.array_equal(q, want), f"{isa} {t}t uint8: {what}"
        ref = np.empty((m, n), np.uint8)
        K.qbinary(c, "add", q, 0.05, 3, r, 0.04, 7, ref, 0.07, 5, (q.size,), (q.size,), (q.size,))
        out = K.QOutput(np.uint8, bias, scale, 3, residual=(0.05, 3, 0.04, 7, 0.07, 5, True))
        fused = np.empty((m, n), np.uint8)
        K.QGemm(c, w, out, fmt).run(a, zp, fused, residual=r)
        assert np.array_equal(fused, ref), f"{isa} {t}t fused add: {what}"


def test_u7s8_long_kernels_of_wide_products_are_exact():
    """U7S8 takes the long kernels (AVX2: 4-row tiles, the paired 8-k loop at zero points up
    to 64) from kpad 128 too where the product has at least 256 rows and 256 columns
    (ResNet-50's layer2 conv3, K = 128, N = 512): kpad 128 and 132 (a last single 4-k step),
    a last half panel, rows past a block and a tile, bytes around the paired widths and
    above them, the 8-bit output with the fused residual add; and beside them a product of
    255 rows (the 6-row tiles): every tier at 1-3 threads against numpy int64."""
    rng = np.random.default_rng(46)
    ctxs = _tiers_at((1, 2, 3))
    for kd, n, m in [(128, 264, 257), (132, 256, 262), (130, 256, 255)]:
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        w[::7, ::8] = 127
        bias = rng.integers(-3000, 3000, n).astype(np.int32)
        scale = (rng.random(n) * 0.002 + 1e-4).astype(np.float32)
        for zp in (0, 100):
            a = _window_case(rng, m, kd, zp)
            a[:64] = rng.integers(0, 70, (64, kd))             # tiles mostly in the window
            _check_products(rng, ctxs, w, bias, scale, a, zp, "u7s8", f"k={kd} n={n} m={m}")

def test_products_over_several_calls_of_panels_are_exact():
    """S16X2 and U7S8 products of kpad <= 320 and more rows than a block run a tile over up to
    8 panels per kernel call (qgemm.c TC_QWIDE_PANELS; MobileNetV2's expansions at 14x14 and
    up, 9-36 panels): panels past 8 with a last half panel, rows past a block and a tile, zero
    points 0 and 128 (bytes outside U7S8's window), int32 and 8-bit outputs with the fused
    residual add; every tier at 1-3 threads against numpy int64."""
    rng = np.random.default_rng(48)
    ctxs = _tiers_at((1, 2, 3))
    for kd, n, m in [(96, 200, 197), (64, 392, 61), (20, 152, 150), (24, 136, 784),
                     (320, 200, 97)]:
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        bias = rng.integers(-3000, 3000, n).astype(np.int32)
        scale = (rng.random(n) * 0.002 + 1e-4).astype(np.float32)
        for fmt, zp in (("u7s8", 0), ("u7s8", 128), ("s16x2", 128)):
            a = _window_case(rng, m, kd, zp)
            _check_products(rng, ctxs, w, bias, scale, a, zp, fmt, f"k={kd} n={n} m={m}")


def test_u7s8_gemv_over_several_panels_per_call_is_exact():
    """A product of one row (the classifiers) with panels of more than 8 KiB (kpad > 512)
    runs U7S8's one-row loop over up to 4 panels per call, each panel's weights a stream of
    its own (quant_internal.h TC_QROW_PANELS, qgemm_avx2.c u7s8_row_panels_avx2): 1-4 panels in
    the last call, a last half panel, kpad a multiple of 8 and 4 mod 8, zero points 0 (the
    paired widths, bytes above them corrected in one or two parts) and 100 / 128 (a window
    around them, bytes on both sides), weights at int16's edge per lane, int32 and 8-bit
    outputs with the fused residual add; every tier at 1-3 threads against numpy int64 (and
    kpad 512 beside: one panel per call)."""
    rng = np.random.default_rng(51)
    ctxs = _tiers_at((1, 2, 3))
    for kd, n in [(516, 40), (520, 17), (612, 64), (1028, 70), (2048, 1000), (1280, 49),
                  (512, 100)]:
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        w[::5, ::8] = 127
        w[1::7, 1::8] = -128
        bias = rng.integers(-3000, 3000, n).astype(np.int32)
        scale = (rng.random(n) * 0.002 + 1e-4).astype(np.float32)
        for zp in (0, 100, 128):
            a = _window_case(rng, 1, kd, zp)
            if zp == 0:
                a[0, 5::37] = 255                  # above the paired widths and the pair's
                a[0, 9::41] = 70
            _check_products(rng, ctxs, w, bias, scale, a, zp, "u7s8", f"gemv k={kd} n={n}")


def test_u7s8_split_of_every_row_length_is_exact():
    """U7S8's split of a tile's rows into the window's parts and the groups with a byte
    outside (the AVX2 one: 32 bytes at a time, then 16, 8 and 4; per row around a mid-range
    zero point, per tile at zero point 0) at every K from 1 to 40 and around 64 and 144
    (tails of each width, K not a multiple of 4), bytes outside in the last group too:
    against numpy int64 and the portable twin, 1-3 threads."""
    rng = np.random.default_rng(41)
    ctxs = _tiers_at((1, 2, 3))
    n = 21
    for kd in list(range(1, 41)) + [63, 64, 65, 143, 144, 145]:
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        w[:, -1] = -128
        bias = rng.integers(-5000, 5000, n).astype(np.int32)
        for zp in (0, 128, 200):
            _check_u7s8_sums(ctxs, w, bias, _window_case(rng, 13, kd, zp), zp, f"k={kd}")


def _check_u7s8_sums(ctxs, w, bias, a, zp, what):
    """U7S8's int32 sums of (a - zp) * w + bias against numpy int64 in every context"""
    want = output_of((a.astype(np.int64) - zp) @ w.T.astype(np.int64) + bias, np.int32, None,
                     0, 0, 0)
    for (isa, t), c in ctxs.items():
        y = np.empty((a.shape[0], w.shape[0]), np.int32)
        K.QGemm(c, w, K.QOutput(np.int32, bias), "u7s8").run(a, zp, y)
        assert np.array_equal(y, want), f"{isa} {t}t: {what} zp={zp}"


def test_u7s8_split_with_few_bytes_outside_is_exact():
    """U7S8's split where few bytes fall outside the window (most rows and tiles of
    MobileNetV2's 1x1 layers have none): rows wholly inside it, with one byte outside in one
    row at the start, middle or end of K (a tile's first, a middle and its last row; below or
    above the window), and none at all, against numpy int64."""
    rng = np.random.default_rng(43)
    ctxs = _tiers_at((1, 2))
    n = 19
    for kd in (16, 24, 63, 96, 145, 200):
        w = rng.integers(-128, 128, (n, kd)).astype(np.int16)
        bias = rng.integers(-5000, 5000, n).astype(np.int32)
        for zp in (0, 140):
            b = min(max(zp - 64, 0), 127)
            for row, col in [(None, None), (0, 0), (8, kd // 2), (11, kd - 1), (17, 5 % kd)]:
                a = rng.integers(b, b + 127, (18, kd)).astype(np.uint8)
                if row is not None:
                    a[row, col] = 255 if (row + zp) % 2 == 0 or not b else 0
                _check_u7s8_sums(ctxs, w, bias, a, zp, f"k={kd} outside {row, col}")


def test_u7s8_tiles_read_in_place_only_with_no_byte_above_the_window():
    """At zero point 0 with K a multiple of 4, a tile whose bytes are all inside U7S8's window
    is read in place (no copy of its rows' parts); one byte pair above it anywhere (every
    pair of k: the 32-byte steps and the 16-, 8- and 4-byte tails of the test; the tile's
    first or last row) must send the tile to the split.  Weights with a column of 127s (the
    windows' tops at 129 for a pair, 64 for the long kernels' paired widths) so that a pair
    of 255s read in place would saturate vpmaddubsw.  Rows all inside, tiles mostly above
    then inside (the test given up in a task, then not), a last tile of fewer rows, the 6-
    and 4-row kernels, the 8-bit output with the fused add; every tier at 1-3 threads
    against numpy int64."""
    rng = np.random.default_rng(47)
    ctxs = _tiers_at((1, 2, 3))
    for kd, n in [(4, 24), (20, 17), (44, 32), (60, 24), (144, 24), (196, 33)]:
        w = rng.integers(-127, 128, (n, kd)).astype(np.int16)
        w[0] = 127
        bias = rng.integers(-5000, 5000, n).astype(np.int32)
        base = rng.integers(0, 61, (20, kd)).astype(np.uint8)
        cases = [("inside", base)]
        for k in range(0, kd, 2):
            a = base.copy()
            a[6 if k % 4 else 11, k:k + 2] = 255  # the middle tile's first or last row
            cases.append((f"pair at {k}", a))
        a = rng.integers(0, 61, (150, kd)).astype(np.uint8)
        a[:60, ::7] = 255                         # the first blocks' tiles above, then inside
        cases.append(("above then inside", a))
        a = a[::-1].copy()
        cases.append(("inside then above", a))
        for what, a in cases:
            _check_u7s8_sums(ctxs, w, bias, a, 0, f"k={kd} n={n} {what}")
        scale = (rng.random(n) * 0.002 + 1e-4).astype(np.float32)
        acc = a.astype(np.int64) @ w.T.astype(np.int64) + bias
        r = rng.integers(0, 256, acc.shape).astype(np.uint8)
        for (isa, t), c in ctxs.items():
            ref = np.empty(acc.shape, np.uint8)
            q = output_of(acc, np.uint8, scale, 3, 0, 255).astype(np.uint8)
            K.qbinary(c, "add", q, 0.05, 3, r, 0.04, 7, ref, 0.07, 5, (q.size,), (q.size,),
                      (q.size,))
            out = K.QOutput(np.uint8, bias, scale, 3, residual=(0.05, 3, 0.04, 7, 0.07, 5, True))
            fused = np.empty(acc.shape, np.uint8)
            K.QGemm(c, w, out, "u7s8").run(a, 0, fused, residual=r)
            assert np.array_equal(fused, ref), f"{isa} {t}t fused add: k={kd} n={n}"


@pytest.mark.parametrize("c", [3, 16, 32, 64, 75])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_max_pool_8bit_against_numpy(ctx, c, dtype):
    """8-bit MaxPool over channels-last images: channel counts around the 32- and 16-byte
    blocks, 3x3 stride 2 (ResNet's), 7x7 (49 taps: more than one call of the taps kernel,
    the output joining the next call), dilation with windows wholly in the padding (the
    type's minimum), against numpy's maxima of the padded image."""
    rng = np.random.default_rng(c * 7 + (dtype == np.int8))
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, (2, 11, 9, c), endpoint=True).astype(dtype)
    for ks, st, pads, dl in [((3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
                             ((7, 7), (1, 2), (3, 3, 3, 3), (1, 1)),
                             ((2, 2), (3, 3), (3, 2, 1, 3), (4, 4)),
                             ((1, 2), (1, 1), (2, 0, 0, 1), (1, 1))]:
        (kh, kw), (sh, sw), (pt, pl, pb, pr), (dh, dw) = ks, st, pads, dl
        oh = (11 + pt + pb - (dh * (kh - 1) + 1)) // sh + 1
        ow = (9 + pl + pr - (dw * (kw - 1) + 1)) // sw + 1
        xp = np.full((2, 11 + pt + pb, 9 + pl + pr, c), -1000, np.int32)
        xp[:, pt:pt + 11, pl:pl + 9] = x
        ref = np.full((2, oh, ow, c), -1000, np.int32)
        for ky in range(kh):
            for kx in range(kw):
                tap = xp[:, ky * dh::sh, kx * dw::sw][:, :oh, :ow]
                ref = np.maximum(ref, tap)
        assert (ref == -1000).any() == (ks == (1, 2))
        ref = np.maximum(ref, info.min).astype(dtype)   # all-padding windows: the minimum
        y = np.empty((2, oh, ow, c), dtype)
        K.max_pool2d_nhwc(ctx, x, y, ks, st, pads, dl)
        np.testing.assert_array_equal(y, ref, err_msg=f"kernel {ks} stride {st} dilation {dl}")


def test_qpair_channels_puts_channels_beside_partners_of_opposite_sign():
    """Channels whose weights only one partner offsets (the opposite signs, shuffled): the
    pairing finds every partner, each pair's cost within `wide`, and returns a permutation."""
    rng = np.random.default_rng(5)
    n, half = 24, 40
    a = rng.integers(70, 128, (n, half))
    sign = rng.choice([-1, 1], (n, half))
    w = np.concatenate([a * sign, -(rng.integers(70, 128, (n, half))) * sign], axis=1)
    shuffle = rng.permutation(2 * half)
    w = np.ascontiguousarray(w[:, shuffle]).astype(np.int8)
    perm = K.qpair_channels(w, 128)
    assert perm.dtype == np.int32 and sorted(perm.tolist()) == list(range(2 * half))
    x = w.astype(np.int32)[:, perm]
    pos, neg = np.maximum(x, 0), np.maximum(-x, 0)
    cost = np.maximum(pos[:, 0::2] + pos[:, 1::2], neg[:, 0::2] + neg[:, 1::2]).max(axis=0)
    assert cost.max() <= 128, cost
    assert np.array_equal(np.sort(shuffle[perm].reshape(-1, 2) % half, axis=1)[:, 0],
                          np.sort(shuffle[perm].reshape(-1, 2) % half, axis=1)[:, 1])
    with pytest.raises(ValueError, match="int8"):
        K.qpair_channels(w.astype(np.int16), 128)


def test_qquad_channels_puts_channels_in_fours_that_offset_each_other():
    """Pairs of channels of opposite signs (shuffled): two pairs' same-sign weights stay within
    126 per column, any four holding a channel without its partner past it: fours of two
    pairs found, each at U7S8's paired lanes k, k + 1, k + 4, k + 5 of an 8-k step, and a
    permutation returned."""
    rng = np.random.default_rng(6)
    n, fours = 24, 12
    cols = []
    for _ in range(fours):
        for _ in range(2):
            a = rng.integers(50, 64, n) * rng.choice([-1, 1], n)
            cols += [a, -(np.abs(a) - rng.integers(0, 3, n)) * np.sign(a)]
    w = np.stack(cols, axis=1)
    shuffle = rng.permutation(4 * fours)
    w = np.ascontiguousarray(w[:, shuffle]).astype(np.int8)
    perm = K.qquad_channels(w)
    assert perm.dtype == np.int32 and sorted(perm.tolist()) == list(range(4 * fours))
    x = w.astype(np.int32)[:, perm].reshape(n, -1, 2, 2, 2)   # [n][step][t >> 1][four][t & 1]
    lanes = x.transpose(0, 1, 3, 2, 4).reshape(n, -1, 4)        # [n][four][t]
    cost = np.maximum(np.maximum(lanes, 0).sum(2), np.maximum(-lanes, 0).sum(2)).max(axis=0)
    assert cost.max() <= 126, cost
    # two pairs in each four (which two: any, two pairs' same-sign sums stay within 126)
    found = np.sort(shuffle[perm].reshape(-1, 2, 2, 2).transpose(0, 2, 1, 3).reshape(-1, 4) // 2)
    assert (found[:, 0::2] == found[:, 1::2]).all(), found
    with pytest.raises(ValueError, match="multiple of 8"):
        K.qquad_channels(np.ascontiguousarray(w[:, :12]))
