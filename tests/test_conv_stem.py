"""The stems' two paths against a float64 numpy convolution: the GEMM's (conv.c stem_run: few
input channels, strided or padded, in bands of output rows, each band's phase copy and GEMM on
one thread) and the direct kernel's (algo "stem", conv_stem_body.h: bands of rows, 4 output
channels x 24 pixels per tile, a row's last tile 1-3 vectors, the last masked): 1-4 input channels, 8-64 outputs, 3x3 / 5x5 / 7x7, strides 1-3, pads, dilation,
one band, several, a short last one, one-row bands (rows past 1024 pixels), batch 2, every
stem activation, a residual (also in place); both ISAs at 1 and 2 threads (ctx), and the
portable and AVX2 twins against each other."""
import zlib

import numpy as np
import pytest

from helpers import assert_close
from test_activation_epilogue import sigmoid
from test_conv import np_conv
from tinycnn import _kernels

# (n, c, h, w, K, kernel, strides, pads, dilations): output rows per band = ceil(1024 / OW)
STEMS = [
    (2, 3, 200, 45, 32, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),   # MobileNet-like: 45+45+10 rows
    (1, 1, 150, 33, 8, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),    # gray, stride 1: 5 bands
    (2, 4, 121, 39, 24, (7, 7), (2, 2), (3, 3, 3, 3), (1, 1)),   # ResNet-like 7x7
    (1, 3, 111, 111, 64, (3, 3), (2, 2), (0, 0, 0, 0), (1, 1)),  # SqueezeNet-like, no pad
    (1, 2, 9, 2100, 16, (3, 3), (2, 2), (0, 0, 0, 0), (1, 1)),   # OW 1049: one row per band
    (2, 3, 97, 61, 16, (3, 3), (1, 2), (0, 2, 1, 0), (2, 1)),    # asymmetric pads, dilation
    (1, 3, 100, 40, 12, (5, 5), (3, 3), (2, 2, 2, 2), (1, 1)),   # stride 3
    (2, 3, 37, 53, 10, (3, 3), (2, 2), (1, 0, 0, 1), (1, 1)),    # 10 = 4 + 4 + 2 channels, OW 27
    (1, 3, 33, 101, 7, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),    # 7 = 4 + 3, OW 51 = 2 x 24 + 3
]

ALGOS = ["gemm", "stem"]

# name, kwargs, numpy form of the activation
ACTS = [
    ("", {}, lambda v, s: v),
    ("Relu", {}, lambda v, s: np.maximum(v, 0)),
    ("Clip", dict(alpha=0.0, beta=6.0), lambda v, s: np.clip(v, 0, 6)),
    ("HardSwish", {}, lambda v, s: v * np.clip(v / 6 + 0.5, 0, 1)),
    ("SiLU", {}, lambda v, s: v * sigmoid(v)),
    ("PRelu", {}, lambda v, s: np.where(v < 0, s[None, :, None, None] * v, v)),
]


def stem_id(case):
    n, c, h, w, K, k, s, p, d = case
    return f"n{n}c{c}{h}x{w}K{K}k{k[0]}s{s[0]}{s[1]}p{''.join(map(str, p))}d{d[0]}{d[1]}"


def stem_inputs(case, act):
    n, c, h, w, K, kernel, strides, pads, dilations = case
    rng = np.random.default_rng(zlib.crc32(f"{stem_id(case)} {act}".encode()))
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((K, c) + kernel, dtype=np.float32) * 0.3
    bias = rng.standard_normal(K, dtype=np.float32)
    slope = rng.standard_normal(K, dtype=np.float32) if act == "PRelu" else None
    return rng, x, wt, bias, slope


def run_stem(ctx, case, act, kw, x, wt, bias, slope, residual=None, in_place=False, algo="gemm"):
    n, c, h, w, K, kernel, strides, pads, dilations = case
    conv = _kernels.Conv2d(ctx, wt, bias, algo=algo, strides=strides, pads=pads,
                           dilations=dilations, activation=act, slope=slope, **kw)
    shape = conv.output_shape(n, h, w)
    if in_place:
        y = residual.copy()
        return conv.run(x, y, y)
    return conv.run(x, np.full(shape, 7.0, np.float32), residual)


@pytest.mark.parametrize("case", STEMS, ids=[stem_id(c) for c in STEMS])
@pytest.mark.parametrize("act", ACTS, ids=[a[0] or "none" for a in ACTS])
@pytest.mark.parametrize("algo", ALGOS)
def test_stem_against_numpy(ctx, case, act, algo):
    name, kw, ref_fn = act
    n, c, h, w, K, kernel, strides, pads, dilations = case
    rng, x, wt, bias, slope = stem_inputs(case, name)
    v = np_conv(x, wt, bias, strides, pads, dilations, 1)
    y = run_stem(ctx, case, name, kw, x, wt, bias, slope, algo=algo)
    assert_close(y, ref_fn(v, slope), 1e-5, f"{algo} stem {stem_id(case)} {name or 'none'} ({ctx})")


RESIDUAL_CASES = STEMS[:3] + STEMS[4:5] + STEMS[-1:]


@pytest.mark.parametrize("case", RESIDUAL_CASES, ids=[stem_id(c) for c in RESIDUAL_CASES])
@pytest.mark.parametrize("in_place", [False, True], ids=["residual", "residual-is-y"])
@pytest.mark.parametrize("algo", ALGOS)
def test_stem_residual(ctx, case, in_place, algo):
    rng, x, wt, bias, _ = stem_inputs(case, "Relu")
    n, c, h, w, K, kernel, strides, pads, dilations = case
    v = np_conv(x, wt, bias, strides, pads, dilations, 1)
    r = rng.standard_normal(v.shape, dtype=np.float32)
    y = run_stem(ctx, case, "Relu", {}, x, wt, bias, None, r, in_place, algo=algo)
    assert_close(y, np.maximum(v + r, 0), 1e-5, f"{algo} stem {stem_id(case)} + residual ({ctx})")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("algo", ALGOS)
def test_stem_twins_agree(threads, algo):
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    for case in STEMS:
        for name, kw, _ in ACTS:
            _, x, wt, bias, slope = stem_inputs(case, name)
            ys = [run_stem(_kernels.Context(threads, isa), case, name, kw, x, wt, bias, slope,
                           algo=algo) for isa in ("portable", "avx2")]
            assert_close(ys[1], ys[0], 1e-5, f"avx2 vs portable: {algo} stem {stem_id(case)} {name}")


def test_stem_algo_limits():
    """The direct stem takes group 1, at most 4 input channels and 256 taps C*KH*KW."""
    ctx = _kernels.Context(1, "auto")
    for shape, group in [((8, 5, 3, 3), 1), ((9, 1, 3, 3), 3), ((8, 3, 10, 10), 1)]:
        wt = np.ones(shape, np.float32)
        with pytest.raises(ValueError, match="cannot compute"):
            _kernels.Conv2d(ctx, wt, None, algo="stem", strides=(2, 2), group=group)
    _kernels.Conv2d(ctx, np.ones((8, 4, 8, 8), np.float32), None, algo="stem", strides=(2, 2))
