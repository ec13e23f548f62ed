"""Conv2d, every algorithm that can compute each geometry (the reference included), against a
numpy reference, on both ISAs and 1/2 threads."""
import zlib

import numpy as np
import pytest

from tinycnn import _kernels
from helpers import assert_close, run_conv_variant


def np_conv(x, w, b, strides, pads, dilations, group, relu=False, residual=None):
    """Plain numpy convolution in float64: one einsum per kernel tap."""
    n, c, h, wd = x.shape
    K, Cg, KH, KW = w.shape
    (sh, sw), (pt, pl, pb, pr), (dh, dw) = strides, pads, dilations
    OH = (h + pt + pb - dh * (KH - 1) - 1) // sh + 1
    OW = (wd + pl + pr - dw * (KW - 1) - 1) // sw + 1
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    y = np.zeros((n, K, OH, OW))
    Kg = K // group
    for g in range(group):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        wg = w[g * Kg:(g + 1) * Kg].astype(np.float64)
        for ki in range(KH):
            for kj in range(KW):
                patch = xg[:, :, ki * dh: ki * dh + sh * (OH - 1) + 1: sh,
                           kj * dw: kj * dw + sw * (OW - 1) + 1: sw]
                y[:, g * Kg:(g + 1) * Kg] += np.einsum("nchw,kc->nkhw", patch, wg[:, :, ki, kj])
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    if residual is not None:
        y += residual
    if relu:
        y = np.maximum(y, 0)
    return y


# (n, c, h, w, K, kernel, strides, pads, dilations, group)
CASES = [
    (1, 3, 9, 11, 4, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),      # 1x1 fast path
    (2, 5, 7, 6, 7, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),       # 1x1 stride 2
    (1, 4, 8, 8, 6, (1, 1), (1, 1), (1, 0, 2, 1), (1, 1), 1),       # 1x1 with pads
    (1, 3, 10, 9, 8, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (2, 6, 13, 15, 5, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    # stride 2, both column phases deinterleaved in one pass: rows of 41 and 34 (pads 1, 0)
    (1, 3, 9, 41, 5, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    (2, 4, 8, 34, 6, (3, 3), (2, 2), (0, 0, 1, 1), (1, 1), 1),
    # rows of 17 and 16: the split's tail from an odd start (its last 16 values split again,
    # stored over the ones before), and no tail
    (1, 5, 6, 17, 6, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    (1, 5, 7, 16, 6, (3, 3), (2, 2), (0, 1, 1, 0), (1, 1), 1),
    (1, 4, 11, 12, 9, (3, 3), (1, 2), (0, 2, 1, 0), (2, 1), 1),     # asymmetric pads, dilation
    (1, 3, 17, 16, 7, (5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 1),
    (1, 2, 19, 18, 5, (5, 3), (2, 1), (2, 1, 0, 1), (2, 2), 1),
    (1, 3, 23, 21, 10, (7, 7), (2, 2), (3, 3, 3, 3), (1, 1), 1),    # ResNet stem-like
    (1, 3, 35, 31, 6, (11, 11), (4, 4), (2, 2, 2, 2), (1, 1), 1),   # AlexNet stem-like
    (1, 8, 9, 9, 6, (3, 3), (4, 4), (1, 1, 1, 1), (1, 1), 1),
    (1, 8, 10, 7, 6, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2),      # groups
    (1, 16, 14, 14, 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2),   # RegNet-like: 8 per group
    (1, 48, 15, 15, 48, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 6),   # ... stride 2, odd size
    (2, 24, 7, 7, 36, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 3),     # 7x7 planes, 12 out per group
    (1, 20, 9, 10, 30, (3, 3), (1, 2), (0, 2, 1, 0), (2, 1), 5),    # 4 -> 6 per group, dilated
    (1, 12, 11, 13, 12, (5, 5), (3, 3), (2, 2, 2, 2), (1, 1), 3),   # grouped stride 3
    # grouped stride 2, rows longer than two vectors (the row split's loop and masked tail),
    # odd and even left pads, 3 blocks per group (chunked at 2 threads), 2 images
    (1, 16, 13, 37, 24, (3, 3), (2, 2), (0, 1, 2, 0), (1, 1), 2),
    (2, 24, 9, 20, 30, (3, 3), (2, 2), (1, 2, 1, 1), (1, 1), 3),
    # RegNetY's stride-2 rows of 28 (the last 16 values split again, overlapping) and 14
    # (masked); stride-1 rows of 28 and 14 (the last 8 copied again) and 7 (masked)
    (1, 24, 10, 28, 24, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 3),
    (1, 24, 14, 14, 24, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 3),
    (1, 16, 6, 28, 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2),
    # stride-2 rows whose odd columns' last chunk is stored from one column to the left (the
    # padding before them, or the chunk before's last value): left pads 1 and 2 on rows of 14,
    # 27 (16 + 11) and 9; left pad 0 (no padding column: masked as before)
    (1, 16, 9, 14, 16, (3, 3), (2, 2), (1, 2, 1, 1), (1, 1), 2),
    (1, 16, 8, 27, 16, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 2),
    (2, 16, 7, 9, 16, (3, 3), (2, 2), (1, 1, 1, 0), (1, 1), 2),
    (1, 16, 8, 14, 16, (3, 3), (2, 2), (0, 0, 1, 1), (1, 1), 2),
    # grouped planes of 1 and 5 output vectors (a run of 2 recomputing its last; 3 + 2)
    (1, 8, 1, 5, 8, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2),
    (2, 16, 5, 5, 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2),
    (2, 6, 9, 8, 9, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 3),
    (1, 6, 12, 11, 6, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 6),     # depthwise
    (2, 5, 13, 9, 10, (3, 3), (2, 2), (1, 0, 1, 2), (1, 1), 5),     # depthwise x2 multiplier
    (1, 4, 15, 14, 4, (5, 5), (1, 1), (4, 4, 4, 4), (2, 2), 4),     # depthwise dilated
    (1, 4, 16, 17, 4, (3, 3), (3, 3), (0, 1, 2, 0), (1, 1), 4),     # depthwise stride 3
    (1, 1, 5, 5, 1, (5, 5), (1, 1), (0, 0, 0, 0), (1, 1), 1),       # 1x1 output
    (1, 40, 9, 58, 130, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),   # several K/M/N blocks
    (1, 700, 6, 7, 20, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),    # 1x1 with K > KC
    # 1x1 with few output channels, B read in place past the page limit (gemm.c
    # inplace_few_rows): 16 rows on a 55x55 map, 33 and 47 (partial row panels) on small ones
    (1, 130, 55, 55, 16, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (1, 200, 27, 27, 33, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (1, 129, 29, 31, 47, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),
    # strided 1x1 without pads: a dense subsampled copy, then the 1x1 GEMM on it
    (1, 5, 1, 1, 4, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),       # 1 pixel in and out (C > 4: no stem)
    (2, 7, 13, 11, 10, (1, 1), (3, 2), (0, 0, 0, 0), (1, 1), 1),    # odd sizes, strides 3 x 2
    (1, 6, 5, 9, 5, (1, 1), (1, 3), (0, 0, 0, 0), (1, 1), 1),       # columns only
    (1, 12, 9, 14, 9, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 3),     # groups
    (1, 17, 14, 13, 19, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),   # a 7x7 output (49 = 3 x 16 + 1)
    (1, 32, 57, 58, 48, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),   # RegNet-like, 29x29 output
    (1, 330, 8, 8, 13, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),    # K > KC
]


def case_id(case):
    n, c, h, w, K, k, s, p, d, g = case
    return f"n{n}c{c}{h}x{w}K{K}k{k[0]}x{k[1]}s{s[0]}{s[1]}p{''.join(map(str, p))}d{d[0]}{d[1]}g{g}"


def algos_for(case):
    n, c, h, w, K, kernel, strides, pads, dilations, group = case
    return _kernels.conv2d_algos(c, K, kernel, strides, pads, dilations, group)


def test_every_case_has_a_fast_path_besides_the_reference():
    for case in CASES:
        algos = algos_for(case)
        assert "reference" in algos and "gemm" in algos, f"{case_id(case)}: {algos}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
@pytest.mark.parametrize("variant", ["bias", "nobias-relu", "residual-relu", "residual-is-y"])
def test_conv2d(ctx, case, variant):
    n, c, h, w, K, kernel, strides, pads, dilations, group = case
    rng = np.random.default_rng(zlib.crc32(case_id(case).encode()))
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((K, c // group) + kernel, dtype=np.float32)
    bias = None if variant == "nobias-relu" else rng.standard_normal(K, dtype=np.float32)
    relu = variant != "bias"
    ref = None
    for algo in algos_for(case):
        conv = _kernels.Conv2d(ctx, wt, bias, algo=algo, strides=strides, pads=pads,
                               dilations=dilations, group=group, relu=relu)
        assert (conv.in_channels, conv.out_channels, conv.algo) == (c, K, algo)
        shape = conv.output_shape(n, h, w)
        if ref is None:
            residual = rng.standard_normal(shape, dtype=np.float32) if "residual" in variant else None
            ref = np_conv(x, wt, bias, strides, pads, dilations, group, relu, residual)
        assert shape == ref.shape
        name = f"Conv2d[{algo}] {case_id(case)} {variant}"
        y = run_conv_variant(conv, x, shape, variant, residual)
        assert_close(y, ref, 1e-4 if algo.startswith("winograd") else 1e-5, name)


@pytest.mark.parametrize("c", [5, 700])        # one K block, and several (partial sums in C)
@pytest.mark.parametrize("K", [1, 2, 5, 6, 7, 11])
@pytest.mark.parametrize("pixels", [1, 7, 8, 9, 15, 17, 31])
def test_every_partial_tile_applies_the_whole_epilogue(ctx, c, K, pixels):
    """A 1x1 conv is the GEMM itself: K output channels are its rows (MR = 6), the pixels its
    columns (NR = 16), so these sizes give every short row panel and every short column
    panel, each with bias, residual and ReLU, and the cells past the tile left untouched."""
    rng = np.random.default_rng(1000 * c + 10 * K + pixels)
    x = rng.standard_normal((1, c, 1, pixels), dtype=np.float32)
    wt = rng.standard_normal((K, c, 1, 1), dtype=np.float32)
    bias = rng.standard_normal(K, dtype=np.float32)
    residual = rng.standard_normal((1, K, 1, pixels), dtype=np.float32)
    conv = _kernels.Conv2d(ctx, wt, bias, algo="1x1", relu=True)
    ref = np_conv(x, wt, bias, (1, 1), (0, 0, 0, 0), (1, 1), 1, True, residual)
    # y is a window of a larger buffer: a store past the tile would show in the guard cells
    buf = np.full((K + 1) * pixels + 16, 7.0, dtype=np.float32)
    y = buf[:K * pixels].reshape(1, K, 1, pixels)
    conv.run(x, y, residual=residual, workspace=np.empty(conv.workspace_size(1, 1, pixels), np.float32))
    assert_close(y, ref, 1e-5, f"1x1 conv c={c} K={K} pixels={pixels}")
    assert (buf[K * pixels:] == 7.0).all(), "the GEMM wrote past the end of its output"


@pytest.mark.parametrize("hw", [(7, 7), (5, 3), (14, 14), (9, 28), (1, 7), (6, 8)])
@pytest.mark.parametrize("residual_kind", [None, "apart", "is-y"])
def test_grouped_rows_past_a_vector_stay_in_the_output(ctx, hw, residual_kind):
    """The grouped kernel stores a row's last vector whole: from OW - 8 on for rows of 8 or
    more, into the next row's start for shorter ones (the plane's last row masked), masked
    when the residual is y.  y is a window of a larger buffer: nothing may land past it."""
    h, w = hw
    c, K, group = 16, 24, 2
    rng = np.random.default_rng(h * 100 + w)
    x = rng.standard_normal((1, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((K, c // group, 3, 3), dtype=np.float32)
    bias = rng.standard_normal(K, dtype=np.float32)
    conv = _kernels.Conv2d(ctx, wt, bias, algo="grouped", pads=(1, 1, 1, 1), group=group,
                           relu=True)
    residual = None if residual_kind is None else rng.standard_normal((1, K, h, w), dtype=np.float32)
    ref = np_conv(x, wt, bias, (1, 1), (1, 1, 1, 1), (1, 1), group, True, residual)
    buf = np.full(K * h * w + 16, 7.0, dtype=np.float32)
    y = buf[:K * h * w].reshape(1, K, h, w)
    if residual_kind == "is-y":
        y[...] = residual
        residual = y
    conv.run(x, y, residual=residual,
             workspace=np.empty(conv.workspace_size(1, h, w), np.float32))
    assert_close(y, ref, 1e-5, f"grouped {h}x{w} residual {residual_kind}")
    assert (buf[K * h * w:] == 7.0).all(), "the grouped kernel wrote past the end of its output"


@pytest.mark.parametrize("hw,stride", [((7, 7), 1), ((14, 14), 1), ((5, 28), 1), ((14, 14), 2),
                                       ((13, 13), 2), ((6, 56), 2), ((9, 7), 1), ((28, 28), 2),
                                       ((7, 28), 2), ((1, 14), 1), ((2, 42), 1)])
@pytest.mark.parametrize("act", ["Relu", "Relu-nobias", "HardSwish", "Sigmoid", ""])
def test_grouped_eight_channels_in_lanes_same_bits(hw, stride, act):
    """8 in, 8 out per group, rows of 7 or 14k outputs: with two groups or more per thread
    the AVX2 build runs each group with its channels in the lanes (csrc/grouped8_avx2.h), with
    fewer (2 groups at 2 threads: each group's two blocks of 4 channels split) the block
    kernel (grouped_body.h): the same sums in the same order, the same bits; also each output
    plane's mean and the reference within float accuracy.  At stride 2 on rows of 14k the
    group's input is read where it lies, its taps on the pads left out (tc_gc8_direct_avx2; an
    odd height reads the bottom pad); at stride 1 on rows of 14k from 2 rows on too, each run's
    edges compiled in (gc8_runq; one row takes the copy); at stride 1 on an even number of rows
    of 14 or 28 (14x14 here) by Winograd on whole groups at every thread count (no block kernel:
    test_grouped_eight_channels_winograd_at_stride_1)."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    h, w = hw
    c = K = 16
    rng = np.random.default_rng(h * 1000 + w * 10 + stride)
    x = rng.standard_normal((1, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((K, 8, 3, 3), dtype=np.float32)
    bias = None if act.endswith("nobias") else rng.standard_normal(K, dtype=np.float32)
    out = {}
    for threads in (1, 2):
        conv = _kernels.Conv2d(_kernels.Context(threads, "avx2"), wt, bias, algo="grouped",
                               strides=(stride, stride), pads=(1, 1, 1, 1), group=2,
                               activation=act.split("-")[0])
        shape = conv.output_shape(1, h, w)
        buf = np.full(int(np.prod(shape)) + 16, 7.0, dtype=np.float32)
        y = buf[:-16].reshape(shape)
        means = np.empty((1, K), np.float32)
        conv.run(x, y, workspace=np.empty(conv.workspace_size(1, h, w), np.float32), means=means)
        assert (buf[-16:] == 7.0).all(), f"{threads} threads wrote past the output"
        out[threads] = (y.copy(), means)
    assert out[1][0].tobytes() == out[2][0].tobytes(), f"{hw} s{stride} {act}: not the same bits"
    assert out[1][1].tobytes() == out[2][1].tobytes(), f"{hw} s{stride} {act}: means differ"
    if act.startswith("Relu"):
        ref = np_conv(x, wt, bias, (stride, stride), (1, 1, 1, 1), (1, 1), 2, True)
        assert_close(out[1][0], ref, 1e-5, f"grouped8 {hw} s{stride} {act}")
        assert_close(out[1][1], ref.mean(axis=(2, 3)), 1e-5, f"grouped8 means {hw} s{stride}")


def _grouped8_same_bits(x, wt, bias, act, stride, pads, what, runs=(1, 2, 3)):
    """The grouped (8 channels a group) Conv2d of x at each of `runs` (thread counts on AVX2, or
    "portable": 1 thread of the portable build): {run: (y, plane means)}, each run checked not
    to write past its output, and every AVX2 thread count's outputs and means the same bits."""
    n, c, h, w = x.shape
    out = {}
    for run in runs:
        ctx = _kernels.Context(1, "portable") if run == "portable" else \
            _kernels.Context(run, "avx2")
        conv = _kernels.Conv2d(ctx, wt, bias, algo="grouped", strides=(stride, stride),
                               pads=pads, group=c // 8, activation=act.split("-")[0])
        shape = conv.output_shape(n, h, w)
        buf = np.full(int(np.prod(shape)) + 16, 7.0, dtype=np.float32)
        y = buf[:-16].reshape(shape)
        means = np.empty((n, c), np.float32)
        conv.run(x, y, workspace=np.empty(conv.workspace_size(n, h, w), np.float32), means=means)
        assert (buf[-16:] == 7.0).all(), f"{what}: {run} wrote past the output"
        out[run] = (y.copy(), means)
    threads = [r for r in runs if r != "portable"]
    for t in threads[1:]:
        assert out[threads[0]][0].tobytes() == out[t][0].tobytes(), \
            f"{what}: {t} threads, not the same bits"
        assert out[threads[0]][1].tobytes() == out[t][1].tobytes(), \
            f"{what}: {t} threads, means differ"
    return out


@pytest.mark.parametrize("hw,stride,pads", [((7, 7), 1, (1, 1, 1, 1)), ((14, 14), 2, (1, 1, 1, 1)),
                                            ((14, 14), 2, (0, 0, 1, 1)), ((7, 7), 1, (2, 2, 0, 0)),
                                            ((13, 13), 2, (1, 1, 1, 1)), ((8, 7), 1, (1, 1, 0, 1))])
@pytest.mark.parametrize("act", ["Relu", "Relu-nobias", "", "Sigmoid"])
def test_grouped_eight_channels_7x7_from_the_input_same_bits(hw, stride, pads, act):
    """7x7 outputs at stride 1 (a 7x7 input) or 2 (14x14), pads 1 on every side: the AVX2
    build reads each group's input where it lies, the taps on the pads left out at compile
    time (grouped8_avx2.h gc8_run7, no padded copy); other pads and sizes with 7 outputs a row
    take the copy.  Batch 2, 4 groups: at 1 and 2 threads the channels-in-lanes kernel, at 3
    (fewer than 2 groups a thread) the block kernel (grouped_body.h): the same bits, the same
    plane means; ReLU against the numpy reference."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    h, w = hw
    n, c = 2, 32
    rng = np.random.default_rng(h * 1000 + w * 10 + stride + sum(pads))
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    x[:, :, 0, :] *= 100.0  # a border row and column far from the rest: a pad tap would show
    x[:, :, :, -1] *= -100.0
    wt = rng.standard_normal((c, 8, 3, 3), dtype=np.float32)
    bias = None if act.endswith("nobias") else rng.standard_normal(c, dtype=np.float32)
    out = _grouped8_same_bits(x, wt, bias, act, stride, pads, f"{hw} s{stride} {pads} {act}")
    assert out[1][0].shape[3] == 7
    if act.startswith("Relu"):
        ref = np_conv(x, wt, bias, (stride, stride), pads, (1, 1), c // 8, True)
        assert_close(out[1][0], ref, 1e-5, f"grouped8 7x7 {hw} s{stride} {pads} {act}")
        assert_close(out[1][1], ref.mean(axis=(2, 3)), 1e-5, f"grouped8 7x7 means {hw}")


@pytest.mark.parametrize("hw", [(2, 14), (4, 14), (6, 14), (14, 14), (2, 28), (28, 28), (8, 28)])
@pytest.mark.parametrize("act", ["Relu", "Relu-nobias", "", "HardSwish", "Sigmoid"])
def test_grouped_eight_channels_winograd_at_stride_1(hw, act):
    """8 in, 8 out per group, stride 1, pads 1, an even number of rows of 14 or 28 outputs: the
    AVX2 build runs each group by Winograd F(2x2, 3x3) (grouped8_avx2.h gc8w_run), at every
    thread count on whole groups (1, 2, 3 threads; 8 groups over batch 2, or 2 groups of one
    image, fewer than 2 a thread, where other layers split a group's channels: the same bits,
    the same plane means); within float accuracy of the numpy reference (not the direct kernel's bits).
    Batch 2; the border rows and columns far from the rest, so that a tile reading a pad
    wrongly, or a wrong tile's lane, would show."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    h, w = hw
    n, c = (2, 32) if w == 14 else (1, 16)  # 8 groups, or 2: at 2 and 3 threads whole still
    rng = np.random.default_rng(h * 100 + w + len(act))
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    x[:, :, 0, :] *= 10.0
    x[:, :, :, -1] *= -10.0
    wt = rng.standard_normal((c, 8, 3, 3), dtype=np.float32)
    bias = None if act.endswith("nobias") else rng.standard_normal(c, dtype=np.float32)
    out = _grouped8_same_bits(x, wt, bias, act, 1, (1, 1, 1, 1), f"{hw} {act}")
    # the portable build's block kernel gives the direct summation's bits (as the AVX2 direct
    # kernels do, test above): Winograd's differ somewhere, so this shows it ran
    direct = _grouped8_same_bits(x, wt, bias, act, 1, (1, 1, 1, 1), f"{hw} {act}", ("portable",))
    assert out[1][0].tobytes() != direct["portable"][0].tobytes(), \
        f"{hw} {act}: the direct kernel's bits, Winograd did not run"
    ref = np_conv(x, wt, bias, (1, 1), (1, 1, 1, 1), (1, 1), c // 8, False)
    name = act.split("-")[0]
    if name == "Relu":
        ref = np.maximum(ref, 0)
    elif name == "Sigmoid":
        ref = 1 / (1 + np.exp(-ref))
    elif name == "HardSwish":
        ref = ref * np.clip(ref / 6 + 0.5, 0, 1)
    tol = 3e-5 if name == "Sigmoid" else 2e-6  # the Sigmoid's own approximation
    assert_close(out[1][0], ref, tol, f"grouped8 Winograd {hw} {act}")
    assert_close(out[1][1], ref.mean(axis=(2, 3)), tol, f"grouped8 Winograd means {hw} {act}")


@pytest.mark.parametrize("hw,groups", [((4, 14), 3), ((14, 14), 5), ((28, 28), 13), ((6, 28), 3)])
@pytest.mark.parametrize("act", ["Relu", "", "Sigmoid"])
def test_grouped_eight_channels_winograd_odd_groups_split_at_2_threads(hw, groups, act):
    """An odd number of Winograd groups (RegNetY-400MF's 104@28: 13) at 2 threads: the middle
    group runs as two items of its tile rows, one a thread (conv.c grouped_run, j.split; 14
    rows: 6 + 8, 28: 14 + 14), its plane means taken once both halves are
    stored; with a deferred activation (Sigmoid) each half's rows only.  The same bits and
    means as 1 and 3 threads (whole groups), and within float accuracy of numpy's."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    h, w = hw
    c = 8 * groups
    rng = np.random.default_rng(h * 100 + w + groups + len(act))
    x = rng.standard_normal((1, c, h, w), dtype=np.float32)
    x[:, :, 0, :] *= 10.0
    x[:, :, h // 2, :] *= -10.0  # the rows at the halves' seam far from the rest
    wt = rng.standard_normal((c, 8, 3, 3), dtype=np.float32)
    bias = rng.standard_normal(c, dtype=np.float32)
    out = _grouped8_same_bits(x, wt, bias, act, 1, (1, 1, 1, 1), f"{hw} {groups} groups {act}")
    ref = np_conv(x, wt, bias, (1, 1), (1, 1, 1, 1), (1, 1), groups, act == "Relu")
    if act == "Sigmoid":
        ref = 1 / (1 + np.exp(-ref))
    tol = 3e-5 if act == "Sigmoid" else 2e-6
    assert_close(out[2][0], ref, tol, f"grouped8 Winograd split {hw} {groups} {act}")
    assert_close(out[2][1], ref.mean(axis=(2, 3)), tol, f"grouped8 Winograd split means {hw} {act}")


@pytest.mark.parametrize("geometry,algos", [
    # in_channels, out_channels, kernel, strides, pads, dilations, group
    ((4, 8, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1), ["1x1", "1x1_chan", "stem"]),
    ((4, 8, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1), ["stem"]),
    ((4, 8, (1, 1), (1, 1), (0, 1, 0, 0), (1, 1), 1), ["stem"]),
    ((8, 8, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 8), ["depthwise", "grouped"]),
    ((8, 16, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 8), ["depthwise", "grouped"]),
    ((8, 8, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 4), ["grouped"]),
    ((4, 8, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
     ["winograd_f2x2_3x3", "winograd_f4x4_3x3", "stem"]),
    ((4, 8, (3, 3), (1, 1), (0, 2, 1, 0), (1, 1), 1),
     ["winograd_f2x2_3x3", "winograd_f4x4_3x3", "stem"]),
    ((4, 8, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1), ["stem"]),
    ((4, 8, (3, 3), (1, 1), (1, 1, 1, 1), (2, 2), 1), ["stem"]),
    ((4, 8, (5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 1), ["winograd_f2x2_5x5", "stem"]),
    ((4, 8, (3, 5), (1, 1), (1, 2, 1, 2), (1, 1), 1), ["stem"]),
    ((5, 8, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1), []),                # 5 input channels
    ((4, 8, (9, 9), (2, 2), (1, 1, 1, 1), (1, 1), 1), []),                # 324 taps
    ((1, 1, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1), ["1x1", "1x1_chan", "depthwise", "stem"]),
])
def test_each_algo_computes_the_geometries_it_can(ctx, geometry, algos):
    """Besides the reference and the GEMM (any geometry), which algorithms a geometry has,
    and a clear error for the others."""
    c, k, kernel, strides, pads, dilations, group = geometry
    got = _kernels.conv2d_algos(*geometry)
    assert got == ["reference", "gemm"] + algos, f"conv2d_algos{geometry}"
    w = np.ones((k, c // group) + kernel, np.float32)
    for algo in set(_kernels.CONV_ALGOS) - set(got):
        with pytest.raises(ValueError, match=f"algo '{algo}' cannot compute {c}->{k} channels, "
                                             f"kernel {kernel[0]}x{kernel[1]}"):
            _kernels.Conv2d(ctx, w, None, algo=algo, strides=strides, pads=pads,
                            dilations=dilations, group=group)


def test_conv_errors(ctx):
    conv = _kernels.Conv2d(ctx, np.ones((2, 3, 5, 5), np.float32), None, algo="gemm")
    with pytest.raises(ValueError, match="empty"):
        conv.output_shape(1, 4, 4)
    with pytest.raises(ValueError, match="channels"):
        conv.run(np.zeros((1, 4, 8, 8), np.float32), np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"y has shape \(1, 2, 5, 4\), expected \(1, 2, 4, 4\)"):
        conv.run(np.zeros((1, 3, 8, 8), np.float32), np.zeros((1, 2, 5, 4), np.float32))
    with pytest.raises(ValueError, match="workspace has 1 elements, needs"):
        conv.run(np.zeros((1, 3, 8, 8), np.float32), np.zeros((1, 2, 4, 4), np.float32),
                 workspace=np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="unknown algo 'fft'"):
        _kernels.Conv2d(ctx, np.ones((2, 3, 5, 5), np.float32), None, algo="fft")
    with pytest.raises(ValueError, match="weight must be float32"):
        _kernels.Conv2d(ctx, np.ones((2, 3, 5, 5)), None, algo="gemm")
    buf = np.zeros(3 * 64 + 2 * 16, np.float32)
    x, y = buf[:3 * 64].reshape(1, 3, 8, 8), buf[3 * 64 - 8:3 * 64 + 24].reshape(1, 2, 4, 4)
    with pytest.raises(ValueError, match="must not overlap x"):
        conv.run(x, y)
