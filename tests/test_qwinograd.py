"""The exact integer Winograd F(2x2, 3x3) of 8-bit 3x3 convolutions (csrc/qwinograd.c,
K.QConv2d(format='winograd')): bit-equal to an exact int64 reference and to the direct
path (format 's16x2') on a grid of shapes, weights and activations at their extremes (the
overflow bounds), every output type, fused ReLU and residual QLinearAdd, batches of 2, on
every 8-bit tier (portable and AVX2 at 1 and 2 threads, the VNNI ones, which run the AVX2
chunk)."""
import numpy as np
import pytest

from tinycnn import _kernels as K
from test_quant_kernels import conv_reference, ctx, output_of  # noqa: F401  (every tier)

# (C, K, N, H, W, pad): channels around multiples of 8 and 16, odd maps (partial tiles),
# 1x1 to 57x57, 1 to 130 outputs
SHAPES = [(1, 2, 1, 1, 1, 1), (1, 3, 2, 3, 3, 0), (3, 5, 1, 5, 4, 1), (7, 9, 2, 6, 7, 1),
          (8, 16, 1, 9, 9, 0), (15, 17, 2, 4, 11, 1), (16, 33, 1, 57, 57, 1),
          (17, 31, 2, 13, 5, 1), (31, 130, 1, 8, 9, 1), (33, 64, 2, 14, 14, 1),
          (64, 65, 1, 3, 57, 0), (100, 48, 1, 7, 7, 1), (129, 20, 2, 5, 6, 1),
          (300, 40, 1, 4, 3, 1), (256, 130, 1, 7, 7, 1)]


def _weights(rng, case, k, c):
    kind = case % 4
    if kind == 0:   # int8 weights, zero point 0
        return rng.integers(-128, 128, (k, 3, 3, c)).astype(np.int16)
    if kind == 1:   # uint8 weights minus a zero point: [-255, 255]
        return (rng.integers(0, 256, (k, 3, 3, c)) - int(rng.integers(0, 256))).astype(np.int16)
    if kind == 2:   # the extremes: -128 and 127 (int8, zero point 0)
        return rng.choice(np.array([-128, 127], np.int16), (k, 3, 3, c))
    # uint8 weights at 0 and 255 with zero points 255 and 0: -255 and 255
    return rng.choice(np.array([-255, 255], np.int16), (k, 3, 3, c))


def test_winograd_equals_the_reference_and_the_direct_path(ctx):
    rng = np.random.default_rng(2015)
    for case, (c, k, n, h, w, pad) in enumerate(SHAPES):
        wt = _weights(rng, case, k, c)
        signed = case % 5 == 4
        if case % 3 == 0:   # activations at the bounds everywhere, zero point at the other
            lo_x, hi_x = (-128, 127) if signed else (0, 255)
            v, xz = (lo_x, hi_x) if case % 2 else (hi_x, lo_x)
            x = np.full((n, h, w, c), v, np.int8 if signed else np.uint8)
        else:
            x = rng.integers(-128 if signed else 0, 128 if signed else 256, (n, h, w, c))
            x = x.astype(np.int8 if signed else np.uint8)
            xz = int(rng.integers(-128, 128) if signed else rng.integers(0, 256))
        pads = (pad,) * 4
        acc = conv_reference(x.astype(np.int64), xz, wt, (1, 1), pads, (1, 1), 1)
        assert K.qconv_winograd_fits(wt)
        for dtype in ([np.int32, np.float32] + [np.int8 if signed else np.uint8]):
            bias = rng.integers(-20000, 20000, k).astype(np.int32) if case % 2 else None
            scale = (rng.random(k if case % 3 else 1) * 0.002 + 1e-5).astype(np.float32)
            zp = int(rng.integers(-128, 128)) if dtype == np.int8 else int(rng.integers(0, 256))
            lo, hi = (-128, 127) if dtype == np.int8 else (0, 255)
            if case % 4 == 1:
                lo = zp                                    # a fused ReLU
            ref = output_of(acc + (bias if bias is not None else 0), dtype, scale, zp, lo, hi)
            out = K.QOutput(dtype, bias, None if dtype == np.int32 else scale, zp, lo, hi)
            wg = K.QConv2d(ctx, wt, out, (1, 1), pads, (1, 1), 1, "winograd")
            direct = K.QConv2d(ctx, wt, out, (1, 1), pads, (1, 1), 1, "s16x2")
            assert wg.format == "winograd"
            y = np.empty(wg.output_shape(n, h, w), dtype)
            yd = np.empty_like(y)
            wg.run(x, xz, y)
            direct.run(x, xz, yd)
            where = f"case {case}: C={c} K={k} x {x.shape} {x.dtype} pads {pads} -> {dtype.__name__}"
            assert y.shape == ref.shape, where
            assert np.array_equal(y, ref), f"{where}: {(y != ref).sum()} of {y.size} differ"
            assert np.array_equal(y, yd), f"{where}: differs from the direct path"


def test_winograd_with_a_fused_residual_add(ctx):
    rng = np.random.default_rng(16)
    for case, (c, k, n, h, w) in enumerate([(16, 16, 2, 9, 9), (33, 40, 1, 7, 5),
                                            (64, 17, 2, 14, 14)]):
        signed = case == 1
        dtype = np.int8 if signed else np.uint8
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, (n, h, w, c), endpoint=True).astype(dtype)
        wt = _weights(rng, case, k, c)
        scale = (rng.random(k) * 0.0004 + 1e-5).astype(np.float32)
        zp, az, bz, cz = (int(v) for v in rng.integers(info.min, info.max, 4))
        a_s, b_s, c_s = (float(v) for v in rng.random(3) * 0.1 + 0.01)
        residual = (a_s, az, b_s, bz, c_s, cz, bool(case % 2))
        outs = {}
        for fmt in ("s16x2", "winograd"):
            layer = K.QConv2d(ctx, wt, K.QOutput(dtype, None, scale, zp, residual=residual),
                              (1, 1), (1, 1, 1, 1), (1, 1), 1, fmt)
            r = rng.integers(info.min, info.max, layer.output_shape(n, h, w),
                             endpoint=True).astype(dtype) if fmt == "s16x2" else outs["r"]
            outs["r"] = r
            y = np.empty_like(r)
            layer.run(x, 3, y, residual=r)
            outs[fmt] = y
            if fmt == "winograd":                     # in place: the residual's buffer
                r2 = r.copy()
                layer.run(x, 3, r2, residual=r2)
                assert np.array_equal(r2, y), f"case {case}: in place differs"
        assert np.array_equal(outs["winograd"], outs["s16x2"]), f"case {case}: fused add differs"


def test_winograd_steps_tiles_across_images(ctx):
    """Three odd images (15 x 13: tiles past the bottom and right edges), random 8-bit
    activations and weights: the output stage steps its tiles' positions across the images'
    ends and stores a tile's two pixels of a row together (one alone at the right edge),
    with and without the fused residual add, equal to the direct path."""
    rng = np.random.default_rng(1517)
    n, h, w, c, k = 3, 15, 13, 24, 48
    x = rng.integers(0, 256, (n, h, w, c)).astype(np.uint8)
    wt = rng.integers(-128, 128, (k, 3, 3, c)).astype(np.int16)
    scale = (rng.random(k) * 0.0004 + 1e-5).astype(np.float32)
    bias = rng.integers(-20000, 20000, k).astype(np.int32)
    for residual in (None, (0.05, 120, 0.04, 110, 0.06, 100, True)):
        outs = {}
        r = None
        for fmt in ("s16x2", "winograd"):
            layer = K.QConv2d(ctx, wt, K.QOutput(np.uint8, bias, scale, 100, 60, 255, residual),
                              (1, 1), (1, 1, 1, 1), (1, 1), 1, fmt)
            shape = layer.output_shape(n, h, w)
            if residual is not None and r is None:
                r = rng.integers(0, 256, shape).astype(np.uint8)
            y = np.empty(shape, np.uint8)
            layer.run(x, 97, y, residual=r)
            outs[fmt] = y
        assert np.array_equal(outs["winograd"], outs["s16x2"]), \
            f"residual {residual is not None}: {(outs['winograd'] != outs['s16x2']).sum()} differ"


def test_winograd_at_its_overflow_bound(ctx):
    """255 * sum |w| < 2^29 keeps 4 x the sum within int32: 900 channels of 255-weights
    against activations 255 away from their zero point are exact; 1000 channels are refused."""
    c = 900
    wt = np.full((2, 3, 3, c), 255, np.int16)
    wt[1] = -255
    assert K.qconv_winograd_fits(wt)
    x = np.zeros((1, 3, 3, c), np.uint8)
    acc = conv_reference(x.astype(np.int64), 255, wt, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert abs(acc).max() * 4 > 2 ** 31 - 2 ** 28            # near the bound indeed
    layer = K.QConv2d(ctx, wt, K.QOutput(np.int32), (1, 1), (1, 1, 1, 1), (1, 1), 1, "winograd")
    y = np.empty(layer.output_shape(1, 3, 3), np.int32)
    layer.run(x, 255, y)
    assert np.array_equal(y, acc.astype(np.int32))
    big = np.full((1, 3, 3, 1000), 255, np.int16)
    assert not K.qconv_winograd_fits(big)
    with pytest.raises(ValueError, match="format 'winograd' needs a 3x3 stride-1"):
        K.QConv2d(ctx, big, K.QOutput(np.int32), (1, 1), (1, 1, 1, 1), (1, 1), 1, "winograd")


def test_winograd_refuses_other_geometries(ctx):
    w3 = np.ones((4, 3, 3, 8), np.int16)
    assert not K.qconv_winograd_fits(w3, strides=(2, 2))
    assert not K.qconv_winograd_fits(w3, dilations=(2, 1))
    assert not K.qconv_winograd_fits(np.ones((4, 1, 3, 8), np.int16))
    assert not K.qconv_winograd_fits(np.ones((4, 3, 3, 4), np.int16), group=2)
    with pytest.raises(ValueError, match="winograd"):
        K.QConv2d(ctx, w3, K.QOutput(np.int32), (2, 2), (1, 1, 1, 1), (1, 1), 1, "winograd")


def test_the_planner_takes_winograd_where_it_measured_faster():
    """On AVX2 without VNNI: against S16X2 on every map, against the byte kernels (U8S8X2: 7-bit
    weights; U7S8: 8-bit weights after a ReLU) from 14x14 up; never with VNNI (S8X4), strides
    or few channels."""
    from tinycnn.ops.qconv import _format
    if "avx2" not in K.int8_isas():
        pytest.skip("CPU lacks AVX2")
    avx2 = K.Context(1, *K.parse_isa(K.INT8_ISA_SETTINGS["avx2"]))
    rng = np.random.default_rng(3)
    w8 = rng.choice(np.array([-128, 127], np.int16), (64, 3, 3, 64))      # s16x2 direct
    w7 = rng.integers(-64, 65, (64, 3, 3, 64)).astype(np.int16)            # u8s8x2 direct
    assert K.qgemm_choose_format_for(avx2, w8.reshape(64, -1)) == "s16x2"
    assert K.qgemm_choose_format_for(avx2, w7.reshape(64, -1)) == "u8s8x2"
    one = (1, 1)
    assert _format(avx2, w8, 1, one, one, (1, 64, 7, 7), np.int8, 0) == "winograd"   # s16x2
    assert _format(avx2, w8, 1, one, one, (1, 64, 14, 14)) == "winograd"
    assert _format(avx2, w8, 1, one, one, (1, 64, 7, 7)) == "u7s8"
    assert _format(avx2, w7, 1, one, one, (1, 64, 14, 14)) == "winograd"
    assert _format(avx2, w7, 1, one, one, (1, 64, 7, 7)) is None
    # 8-bit weights whose U8S8X2 corrects a few groups (ResNet-18's 512 at 7x7: a fifth):
    # U7S8 after a ReLU, from more than a 32nd of the groups; U8S8X2 with none (w7)
    w5 = w7.copy().reshape(64, -1)
    w5[:, 0:64:4] = 100
    w5[:, 1:64:4] = 100                 # 16 of the 144 groups of each panel
    w5 = w5.reshape(w7.shape)
    assert K.qgemm_choose_format_for(avx2, w5.reshape(64, -1)) == "u8s8x2"
    assert K.qgemm_u8s8x2_share(w5.reshape(64, -1)) == 16 / 144
    assert K.qgemm_u8s8x2_share(w7.reshape(64, -1)) == 0
    assert _format(avx2, w5, 1, one, one, (1, 64, 7, 7)) == "u7s8"
    assert _format(avx2, w5, 1, one, one, (1, 64, 7, 7), np.uint8, 128) is None
    assert _format(avx2, w5, 1, one, one, (1, 64, 14, 14)) == "winograd"
    # the direct path then: 8-bit weights on uint8 input take U7S8, after a ReLU (a low zero
    # point), or with a mid-range one (its window around it) past 32 channels, so not an
    # image's stem
    assert _format(avx2, w8, 1, (2, 2), one, (1, 64, 28, 28)) == "u7s8"
    assert _format(avx2, w8[:, :, :, :24], 1, one, one, (1, 64, 56, 56)) == "u7s8"
    assert _format(avx2, w8, 1, (2, 2), one, (1, 64, 28, 28), np.uint8, 128) == "u7s8"
    assert _format(avx2, w8, 1, (2, 2), one, (1, 64, 28, 28), np.int8, 0) is None
    assert _format(avx2, w8[:, :1, :1], 1, one, one, (1, 64, 28, 28), np.uint8, 32) == "u7s8"
    assert _format(avx2, w8[:, :1, :1, :40], 1, one, one, (1, 64, 28, 28), np.uint8, 144) \
        == "u7s8"
    # 32 channels and fewer: S16X2, a panel per call over a block's tiles (qgemm.c)
    assert _format(avx2, w8[:, :1, :1, :32], 1, one, one, (1, 64, 28, 28), np.uint8, 144) is None
    assert _format(avx2, w8[:, :1, :1, :24], 1, one, one, (1, 64, 28, 28), np.uint8, 144) is None
    assert _format(avx2, w8[:, :1, :1, :16], 1, one, one, (1, 64, 28, 28), np.uint8, 144) is None
    # one panel of outputs (16): S16X2, the split of the rows shared by no other panel
    assert _format(avx2, w8[:16, :1, :1, :32], 1, one, one, (1, 16, 28, 28)) is None
    assert _format(avx2, w8[:24, :1, :1, :32], 1, one, one, (1, 24, 28, 28)) == "u7s8"
    stem = w8[:32, :, :, :3]
    assert _format(avx2, stem, 1, (2, 2), one, (1, 32, 112, 112), np.uint8, 114) is None
    assert _format(avx2, stem, 1, (2, 2), one, (1, 32, 112, 112), np.uint8, 32) == "u7s8"
    stem7 = rng.choice(np.array([-128, 127], np.int16), (64, 7, 7, 3))   # K = 147, C = 3
    assert _format(avx2, stem7, 1, (2, 2), one, (1, 64, 112, 112), np.uint8, 114) is None
    assert _format(avx2, w7[:, :1, :1], 1, one, one, (1, 64, 28, 28)) is None   # u8s8x2
    for tier in set(K.int8_isas()) & {"avxvnni", "avx512vnni"}:
        vnni = K.Context(1, *K.parse_isa(K.INT8_ISA_SETTINGS[tier]))
        assert _format(vnni, w7, 1, one, one, (1, 64, 56, 56)) is None
