"""The depthwise kernel (csrc/depthwise_body.h) against the reference convolution (plain loops
summing in double, csrc/conv.c) on a grid of shapes with a fixed seed: every ISA (portable, AVX2,
AVX-512), 1 and 2 threads; planes narrower than a vector, borders, padding wider than the kernel,
strides 1, 2 and 3, dilation, channel multipliers, batch 2, bias, residual and ReLU.  The
AVX-512 form runs the same FMAs per output as the AVX2 one: the two are compared bit for bit."""
import itertools
import zlib

import numpy as np
import pytest

from tinycnn import _kernels
from helpers import HAVE_AVX512, kernel_context, run_conv_variant
from conftest import KERNEL_CONTEXTS

requires_avx512 = pytest.mark.skipif(not HAVE_AVX512, reason="CPU lacks AVX-512F")


# tests/conftest.py's contexts (portable and AVX2, 1 and 2 threads) and AVX-512's, whose
# depthwise kernel is its own (csrc/conv_avx512.c)
@pytest.fixture(params=KERNEL_CONTEXTS + [(1, "avx512"), (2, "avx512")],
                ids=lambda p: f"{p[1]}-{p[0]}t")
def ctx(request):
    return kernel_context(*request.param)


# (h, w): 1 pixel, narrower than a vector (7), one vector +- 1, the mobile networks' planes,
# odd sizes where the last vector is partial, a tall and a wide plane; small planes of at
# most 64 outputs that take the flat kernel at stride 1 (7x7 on 16 lanes; 5x5, 5x3 on 8 and
# 16; 8x8 = 64 outputs, the limit)
PLANES = [(1, 1), (7, 7), (9, 8), (14, 14), (5, 17), (28, 28), (3, 40), (23, 9),
          (5, 5), (5, 3), (8, 8)]
# (kernel, strides, pads, dilations)
GEOMETRIES = [
    ((3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),   # MobileNet's stride-1 layers
    ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),   # and its stride-2 layers
    ((3, 3), (2, 2), (0, 0, 1, 1), (1, 1)),   # TF "SAME" at stride 2: pads below/right only
    ((5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),   # EfficientNet / MnasNet 5x5
    ((5, 5), (2, 2), (2, 2, 2, 2), (1, 1)),
    ((3, 3), (1, 1), (0, 0, 0, 0), (1, 1)),   # no padding
    ((3, 3), (1, 2), (4, 0, 2, 5), (1, 1)),   # pads wider than the kernel, mixed strides
    ((5, 3), (2, 1), (3, 1, 0, 2), (2, 2)),   # dilated, non-square
    ((5, 5), (1, 1), (4, 4, 4, 4), (2, 2)),   # LRASPP's dilated 5x5 (its own unrolled kernel)
    ((5, 5), (1, 1), (1, 3, 2, 0), (2, 2)),   # the same, uneven pads
    ((3, 3), (3, 3), (1, 2, 2, 1), (1, 1)),   # stride 3: the lane-by-lane gather
    # the flat kernel's geometries (stride 1, pads left + right = KW - 1): pads on one side,
    # taller output than input (rows of zeros above and below), the general kernel (3x5, 1x1)
    ((3, 3), (1, 1), (0, 0, 2, 2), (1, 1)),
    ((3, 3), (1, 1), (2, 1, 3, 1), (1, 1)),
    ((3, 5), (1, 1), (0, 1, 2, 3), (1, 1)),
    ((1, 1), (1, 1), (0, 0, 0, 0), (1, 1)),
]
VARIANTS = ["bias", "nobias-relu", "residual-relu", "residual-is-y"]


def dw_case_id(plane, geom, mult, n):
    (h, w), (k, s, p, d) = plane, geom
    return (f"{h}x{w}-k{k[0]}{k[1]}s{s[0]}{s[1]}p{''.join(map(str, p))}d{d[0]}{d[1]}"
            f"-m{mult}-n{n}")


def output_hw(h, w, kernel, strides, pads, dilations):
    (kh, kw), (sh, sw), (pt, pl, pb, pr), (dh, dw) = kernel, strides, pads, dilations
    return (h + pt + pb - dh * (kh - 1) - 1) // sh + 1, (w + pl + pr - dw * (kw - 1) - 1) // sw + 1


# every (plane, geometry) pair with a non-empty output, then channel multipliers and batch 2
CASES = [(plane, geom, 1, 1) for plane, geom in itertools.product(PLANES, GEOMETRIES)
         if min(output_hw(*plane, *geom)) >= 1]
CASES += [((14, 14), GEOMETRIES[0], 2, 2), ((9, 8), GEOMETRIES[4], 3, 2)]


@pytest.mark.parametrize("case", CASES, ids=[dw_case_id(*c) for c in CASES])
def test_depthwise_matches_the_reference(ctx, case):
    (h, w), (kernel, strides, pads, dilations), mult, n = case
    c = 5
    rng = np.random.default_rng(zlib.crc32(dw_case_id(*case).encode()))
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((c * mult, 1) + kernel, dtype=np.float32)
    geom = dict(strides=strides, pads=pads, dilations=dilations, group=c)
    for variant in VARIANTS:
        bias = None if variant == "nobias-relu" else rng.standard_normal(c * mult, dtype=np.float32)
        relu = variant != "bias"
        ref_conv = _kernels.Conv2d(ctx, wt, bias, algo="reference", relu=relu, **geom)
        conv = _kernels.Conv2d(ctx, wt, bias, algo="depthwise", relu=relu, **geom)
        shape = conv.output_shape(n, h, w)
        residual = rng.standard_normal(shape, dtype=np.float32) if "residual" in variant else None
        ref = ref_conv.run(x, np.empty(shape, np.float32), residual=residual)
        y = run_conv_variant(conv, x, shape, variant, residual)
        err = np.abs(y.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30)
        assert err <= 1e-5, f"depthwise {dw_case_id(*case)} {variant} ({ctx}): rel err {err:.3g}"


def test_depthwise_writes_nothing_past_its_output(ctx):
    """y as a window of a larger buffer (7x7: every vector is partial and masked)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 3, 7, 7), dtype=np.float32)
    wt = rng.standard_normal((3, 1, 3, 3), dtype=np.float32)
    conv = _kernels.Conv2d(ctx, wt, None, algo="depthwise", pads=(1, 1, 1, 1), group=3)
    buf = np.full(3 * 49 + 16, 7.0, dtype=np.float32)
    y = buf[:3 * 49].reshape(1, 3, 7, 7)
    conv.run(x, y)
    assert (buf[3 * 49:] == 7.0).all(), f"guard cells overwritten: {buf[3 * 49:]}"
    ref = _kernels.Conv2d(ctx, wt, None, algo="reference", pads=(1, 1, 1, 1), group=3)
    np.testing.assert_allclose(y, ref.run(x, np.empty_like(y)), rtol=1e-5, atol=1e-5)


# Rows whose last vector is partial (OW % 8 != 0, OW > 8): the row kernels store it whole where
# the next row of the plane is stored after it, masked on the plane's last row.  (h, w), kernel,
# stride: 3x3 and 5x5 at strides 1 and 2 with 20, 28 and 44 outputs a row, one output row, and
# a tall plane over 4 passes of 4 rows with a 3-row tail.
TAIL_CASES = [((5, 28), 3, 1), ((3, 44), 3, 1), ((1, 20), 3, 1), ((15, 20), 3, 1),
              ((6, 56), 3, 2), ((9, 40), 3, 2), ((3, 88), 5, 2), ((7, 44), 5, 1), ((1, 28), 5, 1)]


@pytest.mark.parametrize("case", TAIL_CASES, ids=[f"{h}x{w}-k{k}s{s}" for (h, w), k, s in TAIL_CASES])
@pytest.mark.parametrize("activation", ["Relu", "Sigmoid"])
def test_depthwise_partial_row_ends_stay_in_their_plane(ctx, case, activation):
    """y as a window of a larger buffer: the guard cells after the last plane keep their value,
    every output matches the reference (with and without a residual, also y itself)."""
    (h, w), k, s = case
    c = 3
    rng = np.random.default_rng(zlib.crc32(f"tail {case}".encode()))
    x = rng.standard_normal((1, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((c, 1, k, k), dtype=np.float32)
    bias = rng.standard_normal(c, dtype=np.float32)
    geom = dict(strides=(s, s), pads=(k // 2,) * 4, group=c, activation=activation)
    conv = _kernels.Conv2d(ctx, wt, bias, algo="depthwise", **geom)
    ref_conv = _kernels.Conv2d(ctx, wt, bias, algo="reference", **geom)
    shape = conv.output_shape(1, h, w)
    size = int(np.prod(shape))
    residual = rng.standard_normal(shape, dtype=np.float32)
    for variant in ("none", "residual", "residual-is-y"):
        res = None if variant == "none" else residual
        buf = np.full(size + 16, 7.0, dtype=np.float32)
        y = buf[:size].reshape(shape)
        if variant == "residual-is-y":
            y[...] = residual
            res = y
        ref = ref_conv.run(x, np.empty(shape, np.float32), residual=None if res is None else res.copy())
        conv.run(x, y, residual=res)
        label = f"depthwise {case} {activation} {variant} ({ctx})"
        assert (buf[size:] == 7.0).all(), f"{label}: guard cells overwritten: {buf[size:]}"
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5, err_msg=label)


def test_depthwise_nan_reaches_only_its_windows(ctx):
    """A NaN input pixel makes NaN exactly the outputs whose window holds it."""
    x = np.ones((1, 2, 14, 14), dtype=np.float32)
    x[0, 1, 5, 9] = np.nan
    wt = np.full((2, 1, 3, 3), 0.5, dtype=np.float32)
    conv = _kernels.Conv2d(ctx, wt, None, algo="depthwise", pads=(1, 1, 1, 1), group=2)
    y = conv.run(x, np.empty((1, 2, 14, 14), np.float32))
    expected = np.zeros((1, 2, 14, 14), bool)
    expected[0, 1, 4:7, 8:11] = True
    np.testing.assert_array_equal(np.isnan(y), expected)


# the activations of the epilogue seam, with (alpha, beta) where they take them
DW_ACTIVATIONS = [("", {}), ("Relu", {}), ("Clip", dict(alpha=0.0, beta=6.0)),
                  ("HardSwish", {}), ("HardSigmoid", {}), ("Sigmoid", {}), ("SiLU", {}),
                  ("LeakyRelu", dict(alpha=0.1)), ("PRelu", {})]


@requires_avx512
@pytest.mark.parametrize("activation,args", DW_ACTIVATIONS, ids=[a or "none" for a, _ in DW_ACTIVATIONS])
def test_depthwise_avx512_is_bit_identical_to_avx2(activation, args):
    """Every (plane, geometry) of the grid with each activation and a residual: the 16-lane
    kernel gives AVX2's bits (same FMA order per output, the activation applied by AVX2's
    code on both halves)."""
    c = 5
    contexts = [_kernels.Context(1, "avx2"), _kernels.Context(1, "avx512")]
    for case in CASES:
        (h, w), (kernel, strides, pads, dilations), mult, n = case
        rng = np.random.default_rng(zlib.crc32(dw_case_id(*case).encode()))
        x = rng.standard_normal((n, c, h, w), dtype=np.float32)
        wt = rng.standard_normal((c * mult, 1) + kernel, dtype=np.float32)
        bias = rng.standard_normal(c * mult, dtype=np.float32)
        extra = dict(args)
        if activation == "PRelu":
            extra["slope"] = rng.standard_normal(c * mult, dtype=np.float32)
        geom = dict(strides=strides, pads=pads, dilations=dilations, group=c)
        outs = []
        for ctx in contexts:
            conv = _kernels.Conv2d(ctx, wt, bias, algo="depthwise", activation=activation,
                                   **geom, **extra)
            shape = conv.output_shape(n, h, w)
            residual = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
            outs.append(conv.run(x, np.full(shape, np.nan, np.float32), residual=residual))
        np.testing.assert_array_equal(outs[1], outs[0],
                                      err_msg=f"depthwise {dw_case_id(*case)} {activation or 'none'}")


# the channel-block kernel of small planes (output rows narrower than a vector): channel
# counts that leave partial blocks of 16 and of 8, per-channel PReLU slopes, a residual
BLOCK_CASES = [((7, 7), (3, 3), 1), ((14, 14), (3, 3), 2), ((7, 7), (5, 5), 1),
               ((14, 14), (5, 5), 2), ((14, 14), (3, 3), 1), ((9, 13), (3, 3), 2)]


@pytest.mark.parametrize("channels", [37, 8, 1])
@pytest.mark.parametrize("case", BLOCK_CASES, ids=[f"{h}x{w}-k{k[0]}s{s}" for (h, w), k, s in BLOCK_CASES])
def test_depthwise_channel_blocks_match_the_reference(ctx, case, channels):
    (h, w), kernel, stride = case
    c = channels
    rng = np.random.default_rng(zlib.crc32(f"{case}{c}".encode()))
    x = rng.standard_normal((2, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((c, 1) + kernel, dtype=np.float32)
    bias = rng.standard_normal(c, dtype=np.float32)
    slope = rng.standard_normal(c, dtype=np.float32)
    geom = dict(strides=(stride, stride), pads=(kernel[0] // 2,) * 4, group=c)
    for activation, extra in [("", {}), ("Relu", {}), ("PRelu", dict(slope=slope)),
                              ("SiLU", {}), ("Clip", dict(alpha=0.0, beta=6.0)),
                              ("HardSwish", {}), ("HardSigmoid", {})]:
        ref_conv = _kernels.Conv2d(ctx, wt, bias, algo="reference", activation=activation,
                                   **geom, **extra)
        conv = _kernels.Conv2d(ctx, wt, bias, algo="depthwise", activation=activation,
                               **geom, **extra)
        shape = conv.output_shape(2, h, w)
        residual = rng.standard_normal(shape, dtype=np.float32)
        # no residual (the stores that overlap the vector before), a residual, y itself
        for variant in ("none", "residual", "residual-is-y"):
            res = None if variant == "none" else residual
            ref = ref_conv.run(x, np.empty(shape, np.float32), residual=res)
            y = run_conv_variant(conv, x, shape, variant, res)
            err = np.abs(y.astype(np.float64) - ref).max() / np.abs(ref).max()
            assert err <= 1e-5, (f"depthwise {case} c={c} {activation} {variant} ({ctx}): "
                                 f"rel err {err:.3g}")


# The grid of the mobile networks' depthwise layers and their neighbours: (plane, channels)
# from 1x1 to 112x112 (7, 14, 28, 56 and odd sizes), channel counts from 1 to 960 with
# non-multiples of 8 and of 16 (partial channel blocks), 3x3 and 5x5 at stride 1 and 2 with
# pads 0-2, symmetric and not; each case takes one activation of the epilogue in turn (with
# and without a residual, batch 2), so that every kernel (row, flat, channel-block) meets
# every activation somewhere on the grid.
NET_PLANES = [((1, 1), 960), ((7, 7), 960), ((7, 7), 13), ((14, 14), 576), ((14, 14), 37),
              ((13, 15), 24), ((28, 28), 192), ((27, 29), 9), ((56, 56), 144), ((57, 55), 3),
              ((112, 112), 32), ((111, 113), 1)]
NET_GEOMETRIES = [((3, 3), 1, (1, 1, 1, 1)), ((3, 3), 2, (1, 1, 1, 1)), ((3, 3), 2, (0, 0, 1, 1)),
                  ((3, 3), 1, (0, 2, 2, 0)), ((5, 5), 1, (2, 2, 2, 2)), ((5, 5), 2, (2, 2, 2, 2)),
                  ((5, 5), 2, (1, 2, 2, 1)), ((3, 3), 2, (2, 0, 0, 2))]
NET_CASES = [(plane, c, geom) for (plane, c), geom in itertools.product(NET_PLANES, NET_GEOMETRIES)
             if min(output_hw(*plane, geom[0], (geom[1],) * 2, geom[2], (1, 1))) >= 1]


def net_case_id(plane, c, geom):
    (h, w), (k, s, p) = plane, geom
    return f"{h}x{w}-c{c}-k{k[0]}s{s}p{''.join(map(str, p))}"


@pytest.mark.parametrize("case", NET_CASES, ids=[net_case_id(*c) for c in NET_CASES])
def test_depthwise_network_grid_matches_the_reference(ctx, case):
    plane, c, (kernel, s, pads) = case
    (h, w), n = plane, 2
    i = NET_CASES.index(case)
    rng = np.random.default_rng(zlib.crc32(net_case_id(*case).encode()))
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((c, 1) + kernel, dtype=np.float32)
    bias = rng.standard_normal(c, dtype=np.float32)
    activation, extra = DW_ACTIVATIONS[i % len(DW_ACTIVATIONS)]
    if activation == "PRelu":
        extra = dict(slope=rng.standard_normal(c, dtype=np.float32))
    geom = dict(strides=(s, s), pads=pads, group=c, activation=activation, **extra)
    assert_matches_reference(ctx, x, wt, bias, geom, rng, ("none", "residual"), net_case_id(*case))


def assert_matches_reference(ctx, x, wt, bias, geom, rng, variants, label):
    """The depthwise kernel's outputs within 1e-5 (relative to the largest) of the reference
    convolution's, in each variant of run_conv_variant (with a random residual)."""
    n, _, h, w = x.shape
    ref_conv = _kernels.Conv2d(ctx, wt, bias, algo="reference", **geom)
    conv = _kernels.Conv2d(ctx, wt, bias, algo="depthwise", **geom)
    shape = conv.output_shape(n, h, w)
    residual = rng.standard_normal(shape, dtype=np.float32)
    for variant in variants:
        res = None if variant == "none" else residual
        ref = ref_conv.run(x, np.empty(shape, np.float32), residual=res)
        y = run_conv_variant(conv, x, shape, variant, res)
        err = np.abs(y.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30)
        assert err <= 1e-5, (f"depthwise {label} {geom['activation'] or 'none'} {variant} "
                             f"({ctx}): rel err {err:.3g}")


# The staged kernel (AVX2: planes with output rows of 8 to 32, 5x5 at stride 1 and 2, 3x3 at
# stride 1 up to 16 wide): each channel copied into a zero-padded buffer (4 phase planes at
# stride 2) and computed as one flat row.  Output widths at its limits (8, 16 and 17 for 3x3,
# 32 and 33 for 5x5), odd sizes, pads on one side only or wider on one side, the largest
# buffer it takes (56x56 at stride 2), partial blocks of 16 channels, batch 2.  At stride 2 the
# phase rows are rounded up to whole vectors and the buffer shifted by the left pad where that
# still fits (57x57: 31 -> 32 floats), not where it does not (61x62: 33 floats, 31 rows of
# outputs); left pads 0 to 3 (the shift for pads 1 and 3 aligns one column phase, not the
# other).  5x5 at stride 1
# with output rows of 15 to 28 (16x16, 17x17, 27x29, 28x28 here) now take the channel-block kernel
# in bands of output rows instead: the same cases cover its bands, pads and last band.  Its band
# holds a whole plane up to 28x28 (784 outputs, 1024 padded input pixels): taller planes take 2
# bands (40x28, 57x24), 4 with a shorter last one (90x27).
STAGED_PLANES = [(8, 8), (9, 11), (14, 14), (16, 16), (17, 17), (13, 15), (28, 28), (32, 32),
                 (33, 33), (27, 29), (56, 56), (63, 64), (57, 57), (61, 62), (40, 28), (57, 24),
                 (90, 27)]
STAGED_GEOMETRIES = [((3, 3), 1, (1, 1, 1, 1)), ((3, 3), 1, (0, 2, 2, 0)), ((3, 3), 1, (0, 0, 0, 0)),
                     ((5, 5), 1, (2, 2, 2, 2)), ((5, 5), 1, (1, 3, 0, 2)), ((5, 5), 2, (2, 2, 2, 2)),
                     ((5, 5), 2, (1, 2, 2, 1)), ((5, 5), 2, (0, 0, 3, 3)), ((5, 5), 2, (2, 1, 2, 3)),
                     ((5, 5), 2, (1, 3, 2, 1))]
STAGED_CASES = [(plane, geom) for plane, geom in itertools.product(STAGED_PLANES, STAGED_GEOMETRIES)
                if min(output_hw(*plane, geom[0], (geom[1],) * 2, geom[2], (1, 1))) >= 1]


def staged_case_id(plane, geom):
    (h, w), (k, s, p) = plane, geom
    return f"{h}x{w}-k{k[0]}s{s}p{''.join(map(str, p))}"


def staged_inputs(case, c=37, n=2, cases=None):
    plane, (kernel, s, pads) = case
    rng = np.random.default_rng(zlib.crc32(staged_case_id(*case).encode()))
    x = rng.standard_normal((n, c) + plane, dtype=np.float32)
    wt = rng.standard_normal((c, 1) + kernel, dtype=np.float32)
    bias = rng.standard_normal(c, dtype=np.float32)
    activation, extra = DW_ACTIVATIONS[(cases or STAGED_CASES).index(case) % len(DW_ACTIVATIONS)]
    if activation == "PRelu":
        extra = dict(slope=rng.standard_normal(c, dtype=np.float32))
    geom = dict(strides=(s, s), pads=pads, group=c, activation=activation, **extra)
    return x, wt, bias, geom, rng


@pytest.mark.parametrize("case", STAGED_CASES, ids=[staged_case_id(*c) for c in STAGED_CASES])
def test_depthwise_staged_planes_match_the_reference(ctx, case):
    x, wt, bias, geom, rng = staged_inputs(case)
    assert_matches_reference(ctx, x, wt, bias, geom, rng, ("none", "residual", "residual-is-y"),
                             staged_case_id(*case))


@requires_avx512
def test_depthwise_staged_planes_are_bit_identical_to_the_row_kernel():
    """The staged kernel sums bias, then every tap in the order (ki, kj), padding taps as
    zeros, as the row kernel does: AVX2's staged outputs equal the AVX-512 row kernel's bit
    for bit (AVX-512 does not take the staged kernel).  With and without a residual: without
    one, a row's last vector is stored whole into an output filled with NaN."""
    assert_avx2_matches_avx512_rows(STAGED_CASES, lambda plane: 37)


# 3x3 at stride 2 on narrow planes, the grid of the column-split copy kernel (AVX2: output rows
# 8 to 14 wide, each input row copied as its even then its odd columns; removed in session 24,
# where the channel-block kernel ran faster on the Zen 3 target): output widths 6 to 16, odd
# input sizes, pads 0, 1 and 2 on the left and none on the right, output heights that leave 1 to
# 3 rows in the last group of 4, partial blocks of 16 channels, batch 2, every activation.  They
# now take the channel-block kernel, whole (up to 14 outputs wide) or in bands of output rows
# (15 and 16 wide), so these cases cover its stride-2 geometries too.
SPLITBUF_PLANES = [(15, 15), (16, 16), (17, 17), (28, 28), (21, 26), (27, 27), (9, 20), (14, 14),
                   (13, 13), (12, 30), (10, 31), (13, 29)]
SPLITBUF_GEOMETRIES = [((3, 3), 2, (1, 1, 1, 1)), ((3, 3), 2, (0, 0, 1, 1)), ((3, 3), 2, (2, 2, 0, 0)),
                       ((3, 3), 2, (0, 0, 0, 0))]
SPLITBUF_CASES = [(plane, geom) for plane, geom in itertools.product(SPLITBUF_PLANES, SPLITBUF_GEOMETRIES)
                  if min(output_hw(*plane, geom[0], (geom[1],) * 2, geom[2], (1, 1))) >= 1]


@pytest.mark.parametrize("case", SPLITBUF_CASES, ids=[staged_case_id(*c) for c in SPLITBUF_CASES])
def test_depthwise_column_split_planes_match_the_reference(ctx, case):
    x, wt, bias, geom, rng = staged_inputs(case, cases=SPLITBUF_CASES)
    assert_matches_reference(ctx, x, wt, bias, geom, rng, ("none", "residual", "residual-is-y"),
                             staged_case_id(*case))


@requires_avx512
def test_depthwise_column_split_planes_are_bit_identical_to_the_row_kernel():
    """The channel-block kernel on these planes sums bias, then its taps in the order (ki, kj),
    as the row kernel does: AVX2 at 1 and 2 threads equals AVX-512 bit for bit, with and
    without a residual."""
    assert_avx2_matches_avx512_rows(SPLITBUF_CASES, lambda plane: 37)


# Wide planes: the staged kernel's 5x5 at stride 1 in bands of output rows (past one band:
# bands that split the plane evenly and not, pads beyond the image); the row kernel's stride-2
# column groups (4 or 2 vectors side by side, 3x3; taken where the input is
# 2 MiB or more, so each case has that many channels): widths where the groups end at the
# row's last whole vector, one short of it, or a masked vector after them; pads left 0, 1, 2;
# batch 2.  Compared with the reference, then AVX2 at 1 and 2 threads with the AVX-512 row
# kernel bit for bit (AVX-512 takes neither the bands nor the column groups).
WIDE_PLANES = [(9, 113), (12, 112), (8, 70), (7, 57), (20, 81), (5, 160), (61, 40)]
WIDE_GEOMETRIES = [((3, 3), 2, (1, 1, 1, 1)), ((3, 3), 2, (0, 0, 1, 1)), ((3, 3), 2, (2, 2, 0, 0)),
                   ((5, 5), 2, (2, 2, 2, 2)), ((5, 5), 2, (1, 1, 3, 3)), ((5, 5), 1, (2, 2, 2, 2)),
                   ((5, 5), 1, (0, 1, 4, 3)), ((3, 3), 1, (1, 1, 1, 1))]
WIDE_CASES = [(plane, geom) for plane, geom in itertools.product(WIDE_PLANES, WIDE_GEOMETRIES)
              if min(output_hw(*plane, geom[0], (geom[1],) * 2, geom[2], (1, 1))) >= 1]


def wide_channels(plane):
    """channels enough for an input of 2 MiB (the column groups' threshold), and 3 more"""
    return -(-(2 << 20) // (4 * plane[0] * plane[1])) + 3


@pytest.mark.parametrize("case", WIDE_CASES, ids=[staged_case_id(*c) for c in WIDE_CASES])
def test_depthwise_wide_planes_match_the_reference(ctx, case):
    x, wt, bias, geom, rng = staged_inputs(case, c=wide_channels(case[0]), cases=WIDE_CASES)
    assert_matches_reference(ctx, x, wt, bias, geom, rng, ("none", "residual", "residual-is-y"),
                             staged_case_id(*case))


@requires_avx512
def test_depthwise_wide_planes_are_bit_identical_to_the_row_kernel():
    assert_avx2_matches_avx512_rows(WIDE_CASES, wide_channels)


# The channel-block kernel in bands of output rows (AVX2: _block_bands_k3 / _k5, bands of up
# to 31 padded input rows and 784 outputs; at stride 2 on output rows 15 to 28 wide, the
# rolling variant _block_roll_k3 / _k5 instead: a ring of 8 padded input rows, output rows 2 at
# a time, odd heights ending on a lone row).  Stride 2 on planes up to 60 wide (outputs up to 28
# a row): heights that make 2 bands of 14, 2 uneven bands (25 rows: 13 + 12), 3 bands (30 rows
# of a 60-high plane) and one band (40x56: 20 rows).  3x3 at stride 1 on planes 15 to 28 wide
# (whole 28x28 planes, 2 bands of 20 rows of a 40-high plane, a 60-high plane of 16 in bands).
# Pads on one side only, odd widths, channels past a block of 8.
BLOCK_BAND_PLANES = [(56, 56), (50, 56), (60, 60), (40, 55), (57, 53), (56, 33)]
BLOCK_BAND_GEOMETRIES = [((5, 5), 2, (2, 2, 2, 2)), ((5, 5), 2, (1, 1, 3, 3)),
                         ((3, 3), 2, (1, 1, 1, 1)), ((3, 3), 2, (0, 0, 1, 1))]
BLOCK_BAND_S1_PLANES = [(28, 28), (27, 29), (40, 28), (60, 16), (17, 20), (28, 15)]
BLOCK_BAND_S1_GEOMETRIES = [((3, 3), 1, (1, 1, 1, 1)), ((3, 3), 1, (0, 2, 2, 0)),
                            ((3, 3), 1, (0, 0, 0, 0))]
BLOCK_BAND_CASES = (list(itertools.product(BLOCK_BAND_PLANES, BLOCK_BAND_GEOMETRIES)) +
                    list(itertools.product(BLOCK_BAND_S1_PLANES, BLOCK_BAND_S1_GEOMETRIES)))


# 3x3 at stride 1 on rows wider than 28 and their bands (the row kernel): its pairs of vectors
# at a row's borders (depthwise_body.h's EDGE: the row's first vector at pad 1 with column -1
# shifted in as a zero, or its last two where only the last lane's last tap reads column W).
# Widths 17 (the narrowest left pair), 24 and 40 (odd counts of vectors: one alone, inside or
# masked), 32, 48, 56, 64, 112 (left and right pairs), 33 and 57 (a partial last vector), pads
# on one side only (no border pair, or the left one only), short bands of rows; batch 2, with a
# residual and in place.  Run with the block bands' cases below (same checks, 19 channels).
EDGE_PLANES = [(4, 17), (5, 24), (6, 32), (4, 33), (7, 40), (3, 48), (10, 56), (5, 57), (6, 64),
               (9, 112)]
EDGE_GEOMETRIES = [((3, 3), 1, (1, 1, 1, 1)), ((3, 3), 1, (0, 1, 2, 0)), ((3, 3), 1, (1, 0, 0, 2)),
                   ((3, 3), 1, (2, 1, 1, 1))]
EDGE_CASES = list(itertools.product(EDGE_PLANES, EDGE_GEOMETRIES))
ROW_BAND_CASES = BLOCK_BAND_CASES + EDGE_CASES


@pytest.mark.parametrize("case", ROW_BAND_CASES, ids=[staged_case_id(*c) for c in ROW_BAND_CASES])
def test_depthwise_block_bands_match_the_reference(ctx, case):
    x, wt, bias, geom, rng = staged_inputs(case, c=19, cases=ROW_BAND_CASES)
    assert_matches_reference(ctx, x, wt, bias, geom, rng, ("none", "residual", "residual-is-y"),
                             staged_case_id(*case))


@requires_avx512
def test_depthwise_block_bands_are_bit_identical_to_the_row_kernel():
    assert_avx2_matches_avx512_rows(ROW_BAND_CASES, lambda plane: 19)


def assert_avx2_matches_avx512_rows(cases, channels):
    """AVX2 at 1 and 2 threads against the AVX-512 row kernel, bit for bit, each case with
    channels(plane) channels, with and without a residual (without one, into an output
    filled with NaN)."""
    contexts = [_kernels.Context(1, "avx2"), _kernels.Context(2, "avx2"), _kernels.Context(1, "avx512")]
    for case, with_residual in itertools.product(cases, (True, False)):
        x, wt, bias, geom, rng = staged_inputs(case, c=channels(case[0]), cases=cases)
        n, _, h, w = x.shape
        outs = []
        for ctx in contexts:
            conv = _kernels.Conv2d(ctx, wt, bias, algo="depthwise", **geom)
            shape = conv.output_shape(n, h, w)
            residual = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
            outs.append(conv.run(x, np.full(shape, np.nan, np.float32),
                                 residual=residual if with_residual else None))
        for other in outs[1:]:
            np.testing.assert_array_equal(other, outs[0], err_msg=f"depthwise {staged_case_id(*case)} "
                                                                  f"{geom['activation'] or 'none'} "
                                                                  f"residual {with_residual}")


# Threads split planes of 2048 output pixels or more into bands of rows (csrc/conv.c
# dw_band_rows), each band run as a lone image of its input rows whose pads stand for the rows
# outside it.  Output heights around the band cuts (16 rows of 128: two bands of 8 at 2
# threads; 45, 57, 64, 112; 3 and 4 bands at 3 and 4 threads; smaller planes at stride 2 keep
# the channel split), strides 1 and 2, 3x3 and 5x5, pads on one side only, dilation, a channel
# multiplier, batch 2, with and without a residual (also y itself) and every activation: the
# same bits at 1, 2, 3 and 4 threads on each ISA, and 1 thread within 1e-5 of the reference.
BAND_PLANES = [(16, 128), (45, 50), (57, 40), (64, 64), (112, 24), (90, 98)]
BAND_GEOMETRIES = [((3, 3), (1, 1), (1, 1, 1, 1), (1, 1)), ((3, 3), (2, 2), (0, 0, 1, 1), (1, 1)),
                   ((5, 5), (1, 1), (2, 2, 2, 2), (1, 1)), ((5, 5), (2, 2), (1, 3, 3, 1), (1, 1)),
                   ((3, 3), (1, 1), (2, 2, 2, 2), (2, 2))]
BAND_CASES = [(plane, geom, mult) for plane, geom in itertools.product(BAND_PLANES, BAND_GEOMETRIES)
              for mult in (1, 2) if mult == 1 or geom == BAND_GEOMETRIES[0]]


@pytest.mark.parametrize("isa", ["portable", "avx2", pytest.param("avx512", marks=requires_avx512)])
@pytest.mark.parametrize("case", BAND_CASES, ids=[dw_case_id(p, g, m, 2) for p, g, m in BAND_CASES])
def test_depthwise_row_bands_are_bit_identical_across_threads(isa, case):
    if isa == "avx2" and _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    (h, w), (kernel, strides, pads, dilations), mult = case
    c, n = 6, 2
    label = dw_case_id((h, w), case[1], mult, n)
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((c * mult, 1) + kernel, dtype=np.float32)
    bias = rng.standard_normal(c * mult, dtype=np.float32)
    activation, extra = DW_ACTIVATIONS[BAND_CASES.index(case) % len(DW_ACTIVATIONS)]
    if activation == "PRelu":
        extra = dict(slope=rng.standard_normal(c * mult, dtype=np.float32))
    geom = dict(strides=strides, pads=pads, dilations=dilations, group=c, activation=activation,
                **extra)
    serial = _kernels.Context(1, isa)
    assert_matches_reference(serial, x, wt, bias, geom, rng, ("none",), label)
    shape = _kernels.Conv2d(serial, wt, bias, algo="depthwise", **geom).output_shape(n, h, w)
    residual = rng.standard_normal(shape, dtype=np.float32)
    for variant in ("none", "residual", "residual-is-y"):
        res = None if variant == "none" else residual
        outs = [run_conv_variant(_kernels.Conv2d(_kernels.Context(t, isa), wt, bias,
                                                 algo="depthwise", **geom), x, shape, variant, res)
                for t in (1, 2, 3, 4)]
        for t, y in zip((2, 3, 4), outs[1:]):
            np.testing.assert_array_equal(y, outs[0], err_msg=f"depthwise {label} {activation or 'none'} "
                                                              f"{variant} ({isa}): {t} threads "
                                                              f"against 1")


# Written over its own input (y is x: ops/conv.py's in place for large stride-1 layers, the
# input dying there; csrc/conv.c dw_inplace_task runs bands of 16 rows through a stage): the
# same bits as into another array, with the means too, on every ISA and thread count.  Planes
# of 1 band, of exactly 1 and 2, with a partial last band, wider than tall; 3x3, 5x5 and the
# dilated 5x5 (4 rows of padding), SiLU (deferred) and ReLU, batch 2.
IN_PLACE_CASES = [((5, 7), 3, ((3, 3), (1, 1, 1, 1), (1, 1)), "SiLU"),
                  ((16, 16), 2, ((3, 3), (1, 1, 1, 1), (1, 1)), "Relu"),
                  ((32, 20), 3, ((5, 5), (2, 2, 2, 2), (1, 1)), "SiLU"),
                  ((57, 55), 5, ((3, 3), (1, 1, 1, 1), (1, 1)), "SiLU"),
                  ((40, 41), 2, ((5, 5), (4, 4, 4, 4), (2, 2)), ""),
                  ((112, 112), 4, ((3, 3), (1, 1, 1, 1), (1, 1)), "SiLU")]


@pytest.mark.parametrize("case", IN_PLACE_CASES,
                         ids=[f"{h}x{w}-c{c}-k{g[0][0]}d{g[2][0]}-{a or 'none'}"
                              for (h, w), c, g, a in IN_PLACE_CASES])
def test_depthwise_in_place_is_bit_identical(ctx, case):
    (h, w), c, (kernel, pads, dil), activation = case
    rng = np.random.default_rng(h * 1000 + w)
    x = rng.standard_normal((2, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((c, 1) + kernel, dtype=np.float32)
    bias = rng.standard_normal(c, dtype=np.float32)
    conv = _kernels.Conv2d(ctx, wt, bias, algo="depthwise", strides=(1, 1), pads=pads,
                           dilations=dil, group=c, activation=activation)
    assert conv.output_shape(2, h, w) == x.shape
    ws = np.full(conv.workspace_size(2, h, w), np.nan, dtype=np.float32)
    y = np.full(x.shape, np.nan, dtype=np.float32)
    means, means_in_place = np.zeros((2, c), np.float32), np.zeros((2, c), np.float32)
    conv.run(x, y, workspace=ws, means=means)
    xy = x.copy()
    conv.run(xy, xy, workspace=ws, means=means_in_place)
    np.testing.assert_array_equal(xy, y)
    np.testing.assert_array_equal(means_in_place, means)


def test_depthwise_in_place_refuses_a_partial_overlap(ctx):
    """Only the very same array: a y overlapping x shifted by a row is refused, and so is y is
    x where the output is not written in place (stride 2)."""
    wt = np.ones((2, 1, 3, 3), np.float32)
    conv = _kernels.Conv2d(ctx, wt, None, algo="depthwise", pads=(1, 1, 1, 1), group=2)
    buf = np.zeros(2 * 2 * 9 * 8 + 8, np.float32)
    with pytest.raises(ValueError):
        conv.run(buf[:-8].reshape(1, 2, 9, 8), buf[8:].reshape(1, 2, 9, 8))
    s2 = _kernels.Conv2d(ctx, wt, None, algo="depthwise", strides=(2, 2), pads=(1, 1, 1, 1),
                         group=2)
    x = np.zeros((1, 2, 4, 4), np.float32)
    with pytest.raises(ValueError):
        s2.run(x, x.reshape(-1)[:8].reshape(1, 2, 2, 2))
