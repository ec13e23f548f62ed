"""Pooling kernels against a plain numpy reference and onnxruntime."""
import itertools

import numpy as np
import pytest

from tinycnn import _kernels
from helpers import ort_node, requires_avx2

FLT_MAX = np.finfo(np.float32).max


def out_size(n, k, s, p0, p1, d, ceil_mode):
    """ONNX / onnxruntime output size; a ceil_mode window must start inside the input or the left pad."""
    keff = (k - 1) * d + 1
    span = n + p0 + p1 - keff
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= n + p0:
        o -= 1
    return o


def taps(o, n, k, s, p0, p1, d):
    """Row (or column) indices of every window tap, and masks: inside the input, inside the padded input."""
    idx = np.arange(o)[:, None] * s - p0 + np.arange(k)[None, :] * d
    return idx, (idx >= 0) & (idx < n), (idx >= -p0) & (idx < n + p1)


def ref_pool(x, oh, ow, kernel, strides, pads, dil, mode, count_include_pad=0):
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr), (dh, dw) = kernel, strides, pads, dil
    r, rin, rpad = taps(oh, h, kh, sh, pt, pb, dh)
    q, qin, qpad = taps(ow, w, kw, sw, pl, pr, dw)
    g = x[:, :, np.clip(r, 0, h - 1)][:, :, :, :, np.clip(q, 0, w - 1)]  # [N, C, OH, KH, OW, KW]
    mask = rin[:, :, None, None] & qin[None, None, :, :]
    cnt = mask.sum(axis=(1, 3))
    if mode == "max":
        y = np.where(mask, g, -np.inf).max(axis=(3, 5))
        return np.where(cnt > 0, y, -FLT_MAX).astype(np.float32)
    s = np.where(mask, g, 0).astype(np.float64).sum(axis=(3, 5))
    if count_include_pad:
        cnt = rpad.sum(1)[:, None] * qpad.sum(1)[None, :]
    return np.where(cnt > 0, s / np.maximum(cnt, 1), 0).astype(np.float32)


PAD_CASES = ["none", "sym", "asym", "big_right"]


def make_pads(case, kh, kw, dh, dw):
    eh, ew = (kh - 1) * dh, (kw - 1) * dw  # pads up to keff-1 keep at least one window sane
    if case == "none":
        return (0, 0, 0, 0)
    if case == "sym":
        return (min(1, eh), min(2, ew), min(1, eh), min(2, ew))
    if case == "asym":
        return (min(2, eh), 0, 0, min(1, ew))
    return (0, min(1, ew), eh, ew)  # windows made almost only of right/bottom padding


@pytest.mark.parametrize("k,s,d", list(itertools.product([1, 2, 3, 5, 7, 11], [1, 2, 4], [1, 2])))
def test_pool2d_grid(ctx, k, s, d):
    rng = np.random.default_rng(1000 * k + 10 * s + d)
    kh, kw = k, max(1, k - 1) if k > 2 else k  # non-square kernels too
    for pad_case, ceil_mode in itertools.product(PAD_CASES, [0, 1]):
        pads = make_pads(pad_case, kh, kw, d, d)
        keff_h, keff_w = (kh - 1) * d + 1, (kw - 1) * d + 1
        h = keff_h + int(rng.integers(0, 6)) + (1 if s > 1 else 0)
        w = keff_w + int(rng.integers(0, 7))
        x = rng.standard_normal((2, 3, h, w)).astype(np.float32)
        oh = out_size(h, kh, s, pads[0], pads[2], d, ceil_mode)
        ow = out_size(w, kw, s, pads[1], pads[3], d, ceil_mode)
        geo = dict(kernel=(kh, kw), strides=(s, s), pads=pads, dil=(d, d))
        what = f"x {x.shape} -> ({oh}, {ow}) kernel {(kh, kw)} stride {s} pads {pads} dil {d} ceil {ceil_mode}"
        y = np.empty((2, 3, oh, ow), np.float32)
        _kernels.max_pool2d(ctx, x, y, (kh, kw), (s, s), pads, (d, d))
        np.testing.assert_array_equal(y, ref_pool(x, oh, ow, mode="max", **geo), err_msg=f"max_pool2d y, {what}")
        for cip in (0, 1):
            y = np.empty((2, 3, oh, ow), np.float32)
            _kernels.avg_pool2d(ctx, x, y, (kh, kw), (s, s), pads, (d, d), cip)
            np.testing.assert_allclose(y, ref_pool(x, oh, ow, mode="avg", count_include_pad=cip, **geo),
                                       rtol=1e-5, atol=1e-6, err_msg=f"avg_pool2d y (cip={cip}), {what}")


@pytest.mark.parametrize("shape", [(1, 64, 112, 112), (2, 8, 17, 23), (1, 3, 8, 8), (1, 5, 224, 224)])
def test_max_pool_3x3_s2_resnet_shapes(ctx, shape):
    """The ResNet stem pool (3x3, stride 2, pad 1) and its neighbours, odd sizes included."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(np.float32)
    for pads, ceil_mode in [((1, 1, 1, 1), 0), ((0, 0, 0, 0), 0), ((0, 0, 0, 0), 1), ((1, 0, 0, 1), 1)]:
        h, w = shape[2:]
        oh = out_size(h, 3, 2, pads[0], pads[2], 1, ceil_mode)
        ow = out_size(w, 3, 2, pads[1], pads[3], 1, ceil_mode)
        y = np.empty(shape[:2] + (oh, ow), np.float32)
        _kernels.max_pool2d(ctx, x, y, (3, 3), (2, 2), pads, (1, 1))
        ref = ref_pool(x, oh, ow, (3, 3), (2, 2), pads, (1, 1), "max")
        np.testing.assert_array_equal(y, ref, err_msg=f"max_pool2d y, x {shape} pads {pads} ceil {ceil_mode}")
        y = np.empty(shape[:2] + (oh, ow), np.float32)
        _kernels.avg_pool2d(ctx, x, y, (3, 3), (2, 2), pads, (1, 1), 1)
        ref = ref_pool(x, oh, ow, (3, 3), (2, 2), pads, (1, 1), "avg", 1)
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6, err_msg=f"avg_pool2d y, x {shape} pads {pads}")


def test_window_entirely_in_padding(ctx):
    # 2x2 input, kernel 2 dilated by 3, pads 1: the only window's taps are -1 and 2, both outside
    x = np.ones((1, 1, 2, 2), np.float32)
    y = np.empty((1, 1, 1, 1), np.float32)
    _kernels.max_pool2d(ctx, x, y, (2, 2), (1, 1), (1, 1, 1, 1), (3, 3))
    assert y[0, 0, 0, 0] == -FLT_MAX
    for cip in (0, 1):
        _kernels.avg_pool2d(ctx, x, y, (2, 2), (1, 1), (1, 1, 1, 1), (3, 3), cip)
        assert y[0, 0, 0, 0] == 0.0


def test_max_pool_nan_rule(ctx):
    """onnxruntime (MLAS) rule: m = m > v ? m : v from -FLT_MAX, so only a NaN last tap survives."""
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    x[0, 0, 0, 0] = np.nan
    x[0, 0, 1, 1] = np.nan
    y = np.empty((1, 1, 3, 3), np.float32)
    _kernels.max_pool2d(ctx, x, y, (2, 2), (1, 1), (0, 0, 0, 0), (1, 1))
    expect = np.array([[np.nan, 6, 7], [9, 10, 11], [13, 14, 15]], np.float32)  # what onnxruntime gives
    np.testing.assert_array_equal(y[0, 0], expect)
    xa = np.full((1, 1, 3, 3), np.nan, np.float32)
    ya = np.empty((1, 1, 2, 2), np.float32)
    _kernels.max_pool2d(ctx, xa, ya, (2, 2), (1, 1), (0, 0, 0, 0), (1, 1))
    assert np.isnan(ya).all()


def test_nan_rule_matches_onnxruntime(ctx):
    """Non-dilated MaxPool and GlobalMaxPool, where onnxruntime uses MLAS: a NaN survives as the last tap."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 2, 12, 12)).astype(np.float32)
    x[0, 0, ::3, ::4] = np.nan
    x[0, 1, 2::3, 2::2] = np.nan  # last taps of 3x3/2 windows
    for k in (2, 3):
        expect = ort_pool("MaxPool", x, kernel_shape=[k, k], strides=[2, 2])
        y = np.empty(expect.shape, np.float32)
        _kernels.max_pool2d(ctx, x, y, (k, k), (2, 2), (0, 0, 0, 0), (1, 1))
        np.testing.assert_array_equal(np.isnan(y), np.isnan(expect), err_msg=f"max_pool2d {k}x{k}/2 NaN positions")
    # pad 1 (the AVX2 row from column -1 with -inf in its first lane, 24 columns and more)
    x = rng.standard_normal((1, 2, 11, 30)).astype(np.float32)
    x[0, 0, ::3, ::4] = np.nan
    x[0, 1, 1::2, 1::2] = np.nan  # last taps of the pad-1 windows
    expect = ort_pool("MaxPool", x, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    y = np.empty(expect.shape, np.float32)
    _kernels.max_pool2d(ctx, x, y, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1))
    # the first and last pooled rows and the last column left out: there onnxruntime visits
    # the taps of the padded windows in another order (the portable path differs there too)
    np.testing.assert_array_equal(np.isnan(y[..., 1:-1, :-1]), np.isnan(expect[..., 1:-1, :-1]),
                                  err_msg="max_pool2d 3x3/2 pad 1 NaN positions")
    x = np.array([np.nan, 1, 5, 2, 3, 4, 0, 1, 2, 3], np.float32).reshape(1, 1, 10)
    y = np.empty((1, 1, 1), np.float32)
    _kernels.global_max_pool(ctx, x, y)
    assert y[0, 0, 0] == 5.0


@pytest.mark.parametrize("shape", [(2, 3, 7, 7), (1, 512, 7, 7), (2, 16, 1, 1), (1, 4, 3, 5, 6), (3, 2, 9),
                                   (1, 64, 56, 56)])
def test_global_pools(ctx, shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32) + 0.5
    yshape = shape[:2] + (1,) * (len(shape) - 2)
    y = np.empty(yshape, np.float32)
    _kernels.global_avg_pool(ctx, x, y)
    axes = tuple(range(2, len(shape)))
    np.testing.assert_allclose(y, x.astype(np.float64).mean(axis=axes, keepdims=True), rtol=1e-5, atol=1e-6,
                               err_msg=f"global_avg_pool y, x {shape}")
    _kernels.global_max_pool(ctx, x, y)
    np.testing.assert_array_equal(y, x.max(axis=axes, keepdims=True), err_msg=f"global_max_pool y, x {shape}")


def test_bound_pools_read_their_buffers_at_every_call(ctx):
    """bind_max_pool2d, bind_avg_pool2d, bind_global_pool (plan steps): each call gives the
    eager function's y for the values in x then."""
    x = np.empty((2, 3, 7, 6), np.float32)
    geo = ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1))
    cases = [(_kernels.bind_max_pool2d, _kernels.max_pool2d, (2, 3, 4, 3), geo),
             (_kernels.bind_avg_pool2d, _kernels.avg_pool2d, (2, 3, 4, 3), geo + (0,)),
             (_kernels.bind_global_pool, _kernels.global_max_pool, (2, 3, 1, 1), (True,)),
             (_kernels.bind_global_pool, _kernels.global_avg_pool, (2, 3, 1, 1), (False,))]
    for bind, eager, out, args in cases:
        y = np.empty(out, np.float32)
        call = bind(ctx, x, y, *args)
        for seed in (1, 2):
            x[...] = np.random.default_rng(seed).standard_normal(x.shape)
            call()
            ref = eager(ctx, x, np.empty_like(y), *(args if bind is not _kernels.bind_global_pool
                                                     else ()))
            np.testing.assert_array_equal(y, ref, err_msg=f"{eager.__name__}")


def test_bad_arguments():
    x = np.zeros((1, 2, 5, 5), np.float32)
    with pytest.raises(ValueError, match="x"):
        _kernels.max_pool2d(None, x.astype(np.float64), np.zeros((1, 2, 2, 2), np.float32), (2, 2), (2, 2),
                            (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="agree"):
        _kernels.max_pool2d(None, x, np.zeros((1, 3, 2, 2), np.float32), (2, 2), (2, 2), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="pads"):
        _kernels.avg_pool2d(None, x, np.zeros((1, 2, 2, 2), np.float32), (2, 2), (2, 2), (0, 0), (1, 1), 0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.global_avg_pool(None, np.zeros((1, 2, 5, 5), np.float32)[:, :, ::2], np.zeros((1, 2, 1, 1),
                                                                                               np.float32))
    with pytest.raises(ValueError, match="y"):
        _kernels.global_max_pool(None, x, np.zeros((1, 2, 1, 2), np.float32))


# ---- onnxruntime ------------------------------------------------------------

def ort_pool(op, x, **attrs):
    return ort_node(op, [x], opset=19, **attrs)


ORT_CASES = [
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    dict(kernel_shape=[2, 3], strides=[2, 1], pads=[1, 0, 0, 2]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[2, 1, 0, 2], ceil_mode=1),
    dict(kernel_shape=[3, 2], strides=[2, 3], pads=[1, 1, 1, 1], dilations=[2, 2], ceil_mode=1),
    dict(kernel_shape=[5, 5], strides=[3, 3], pads=[2, 2, 2, 2], ceil_mode=1),
    dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], dilations=[2, 1]),
]


@pytest.mark.parametrize("case", range(len(ORT_CASES)))
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool0", "AveragePool1"])
def test_pool2d_matches_onnxruntime(ctx, op, case):
    attrs = dict(ORT_CASES[case])
    rng = np.random.default_rng(case)
    x = rng.standard_normal((2, 3, 11, 10)).astype(np.float32)
    onnx_op = op.rstrip("01")
    if onnx_op == "AveragePool":
        attrs["count_include_pad"] = int(op[-1])
    expect = ort_pool(onnx_op, x, **attrs)
    k = tuple(attrs["kernel_shape"])
    s = tuple(attrs.get("strides", (1, 1)))
    p = attrs.get("pads", [0, 0, 0, 0])
    pads = (p[0], p[1], p[2], p[3])  # ONNX [t, l, b, r] order is ours
    d = tuple(attrs.get("dilations", (1, 1)))
    oh = out_size(11, k[0], s[0], p[0], p[2], d[0], attrs.get("ceil_mode", 0))
    ow = out_size(10, k[1], s[1], p[1], p[3], d[1], attrs.get("ceil_mode", 0))
    assert expect.shape == (2, 3, oh, ow), f"output size rule disagrees with onnxruntime for {attrs}"
    y = np.empty(expect.shape, np.float32)
    if onnx_op == "MaxPool":
        _kernels.max_pool2d(ctx, x, y, k, s, pads, d)
        np.testing.assert_array_equal(y, expect, err_msg=f"max_pool2d y vs onnxruntime, {attrs}")
    else:
        _kernels.avg_pool2d(ctx, x, y, k, s, pads, d, attrs["count_include_pad"])
        np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-6, err_msg=f"avg_pool2d y vs onnxruntime, {attrs}")


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pools_match_onnxruntime(ctx, op):
    x = np.random.default_rng(5).standard_normal((2, 16, 7, 9)).astype(np.float32)
    expect = ort_pool(op, x)
    y = np.empty(expect.shape, np.float32)
    (_kernels.global_avg_pool if op == "GlobalAveragePool" else _kernels.global_max_pool)(ctx, x, y)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-6, err_msg=f"{op} y vs onnxruntime")


@requires_avx2
def test_isa_paths_agree_bitwise():
    """The AVX2 pooling twins must give exactly the portable answers."""
    rng = np.random.default_rng(78)
    cases = [((2, 5, 41, 37), k, s, pads) for k, s, pads in
             [(3, 2, (1, 1, 1, 1)), (2, 2, (0, 0, 0, 0)), (3, 1, (1, 1, 1, 1)), (5, 3, (2, 1, 0, 2))]]
    # rows of 13 and 27 outputs (SqueezeNet's 3x3/2 pools: the AVX2 rows' overlapping last
    # step), 2x2/2 rows of 8..28 outputs (DenseNet's transitions)
    cases += [((1, 3, h, h), 3, 2, (0, 0, 0, 0)) for h in (27, 55, 18)]
    # one column of left padding on rows of 8+ outputs (ShuffleNet's 112 -> 56 after its stem):
    # the AVX2 row from column -1, -inf in its first lane
    cases += [((1, 3, h, w), 3, 2, pads) for h, w in ((9, 112), (6, 24), (7, 47))
              for pads in ((1, 1, 1, 1), (0, 1, 1, 0))]
    cases += [((1, 3, h, w), 2, 2, pads) for h, w in ((56, 56), (16, 17), (28, 23))
              for pads in ((0, 0, 0, 0), (1, 1, 0, 1))]
    for shape, k, s, pads in cases:
        x = rng.standard_normal(shape).astype(np.float32)
        oh = out_size(shape[2], k, s, pads[0], pads[2], 1, 1)
        ow = out_size(shape[3], k, s, pads[1], pads[3], 1, 1)
        ys = {}
        for isa in ("portable", "avx2"):
            c = _kernels.Context(1, isa)
            ym, ya = np.empty(shape[:2] + (oh, ow), np.float32), np.empty(shape[:2] + (oh, ow), np.float32)
            _kernels.max_pool2d(c, x, ym, (k, k), (s, s), pads, (1, 1))
            _kernels.avg_pool2d(c, x, ya, (k, k), (s, s), pads, (1, 1), 1)
            yg = np.empty(shape[:2] + (1, 1), np.float32)
            _kernels.global_avg_pool(c, x, yg)
            ys[isa] = (ym, ya, yg)
        for name, p, a in zip(("max_pool2d", "avg_pool2d", "global_avg_pool"), ys["portable"], ys["avx2"]):
            np.testing.assert_array_equal(a, p, err_msg=f"{name} x {shape} k{k} s{s} pads {pads}: "
                                                         "avx2 differs from portable")


SAME_S1 = [((1, 480, 14, 14), 3, (1, 1, 1, 1)), ((1, 832, 7, 7), 3, (1, 1, 1, 1)),
           ((2, 5, 20, 20), 5, (2, 2, 2, 2)), ((1, 3, 1, 1), 3, (1, 1, 1, 1)),
           ((1, 2, 2, 1), 3, (0, 2, 2, 0)), ((1, 2, 9, 300), 4, (1, 2, 2, 1)),
           ((1, 2, 70, 40), 2, (0, 0, 1, 1)), ((1, 1, 3, 2500), 3, (1, 1, 1, 1))]


@pytest.mark.parametrize("shape,k,pads", SAME_S1, ids=[f"{s}-k{k}-p{p}" for s, k, p in SAME_S1])
def test_max_pool_same_stride_1(ctx, shape, k, pads):
    """Stride-1 max pools whose output is the input's size (GoogLeNet's 3x3 pad 1 before each
    pool projection, YOLO's 5x5 pad 2), planes narrower than the pads and wider than a block
    of rows included, against the numpy reference; NaN positions against onnxruntime where
    the plane is at least a kernel wide."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape).astype(np.float32)
    h, w = shape[2:]
    geo = dict(kernel=(k, k), strides=(1, 1), pads=pads, dil=(1, 1))
    y = np.empty(shape, np.float32)
    _kernels.max_pool2d(ctx, x, y, (k, k), (1, 1), pads, (1, 1))
    np.testing.assert_array_equal(y, ref_pool(x, h, w, mode="max", **geo), err_msg=f"max_pool2d y, x {shape} k {k} pads {pads}")
    if min(h, w) < k:
        return  # onnxruntime answers windows of a plane smaller than the kernel with another rule
    x[..., ::3, ::2] = np.nan
    expect = ort_pool("MaxPool", x, kernel_shape=[k, k], strides=[1, 1], pads=list(pads))
    _kernels.max_pool2d(ctx, x, y, (k, k), (1, 1), pads, (1, 1))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expect), err_msg=f"max_pool2d NaN positions, x {shape} k {k}")


@pytest.mark.parametrize("pads", [(0, 0, 0, 0), (1, 1, 1, 1), (0, 1, 2, 0)])
def test_max_pool_3x3_s2_every_width(ctx, pads):
    """SqueezeNet's (ceil mode) and ShuffleNet's (pad 1) 3x3/2 max pools on planes 1 to 33
    wide, odd heights: the AVX2 rows' short and overlapping steps and the borders, at 1 and
    2 threads (ctx), against the numpy reference."""
    rng = np.random.default_rng(33)
    for w in range(1, 34):
        h = 3 + w % 4
        x = rng.standard_normal((1, 6, h, w)).astype(np.float32)
        for ceil_mode in (0, 1):
            if w + pads[1] + pads[3] < 3:
                continue  # no window fits the padded row
            oh = out_size(h, 3, 2, pads[0], pads[2], 1, ceil_mode)
            ow = out_size(w, 3, 2, pads[1], pads[3], 1, ceil_mode)
            y = np.empty((1, 6, oh, ow), np.float32)
            _kernels.max_pool2d(ctx, x, y, (3, 3), (2, 2), pads, (1, 1))
            ref = ref_pool(x, oh, ow, (3, 3), (2, 2), pads, (1, 1), "max")
            np.testing.assert_array_equal(y, ref, err_msg=f"max_pool2d y, x {x.shape} pads {pads} ceil {ceil_mode}")



def chain_max(m, v):
    """maxps(m, v) as the kernels chain it: m > v ? m : v (a NaN v wins, a NaN m loses)"""
    return np.where(m > v, m, v)


def ref_max3s2_columns_first(x, pad, pad_b, pad_r=0):
    """The AVX2 3x3/2 max rows' order (pool2d_avx2.c, every output of a row in the row kernel):
    each column's maximum of the window's rows (rows clipped to the plane, chained top down),
    then max(max(cm[2o], cm[2o + 1]), cm[2o + 2]); pad: one column and row of padding at the
    left and top (that column's maximum -inf), pad_b rows at the bottom; pad_r (no pad, ceil
    mode): the outputs whose windows cross the right edge one clipped window each, row major
    (pool2d_impl.h pool_one_).  Exact for NaN, infinities and signed zeros."""
    h, w = x.shape[-2:]
    oh = (h + pad + pad_b - 3) // 2 + 1
    ow = (w + pad + pad_r - 3) // 2 + 1
    ni = (w + pad - 3) // 2 + 1
    xp = np.concatenate([np.full(x.shape[:-1] + (pad,), -np.inf, np.float32), x], axis=-1)
    y = np.empty(x.shape[:-2] + (oh, ow), np.float32)
    for i in range(oh):
        rows = xp[..., max(2 * i - pad, 0):min(2 * i - pad + 3, h), :]
        cm = rows[..., 0, :]
        for k in range(1, rows.shape[-2]):
            cm = chain_max(cm, rows[..., k, :])
        if pad:
            cm[..., 0] = -np.inf
        e, o, e2 = cm[..., 0:2 * ni:2], cm[..., 1:2 * ni:2], cm[..., 2:2 * ni + 1:2]
        y[..., i, :ni] = chain_max(chain_max(e, o), e2)
        for j in range(ni, ow):
            m = np.full(x.shape[:-2], -np.inf, np.float32)
            for k in range(rows.shape[-2]):
                for c in range(2 * j, min(2 * j + 3, w)):
                    m = chain_max(m, rows[..., k, c])
            y[..., i, j] = m
    return y


@requires_avx2
@pytest.mark.parametrize("pad,pad_b,pad_r", [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 1)])
def test_max_pool_3x3_s2_avx2_rows_keep_their_order(pad, pad_b, pad_r):
    """The AVX2 3x3/2 max pools that run every output through the row kernels (no padding and
    every window inside the plane; one column and row of left / top padding, 2 ow <= w, w >=
    23; ceil mode's windows past the right and bottom edges, pad_b = pad_r = 1), two output
    rows a call and the odd one alone, give the bits of their order, columns first, on inputs
    full of NaN, infinities and signed zeros: output widths 8 to 40 (every step count and
    last-step length), 1-row planes, odd and even output heights, windows clipped at the top
    and the bottom, at 1 and 2 threads."""
    rng = np.random.default_rng(50 + 2 * pad + pad_b + 4 * pad_r)
    special = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0], np.float32)
    for ow in range(8, 41):
        w = 2 * ow + 1 - pad + int(rng.integers(0, 2))
        if pad and w < 23:
            continue
        for h in (3, 4, 5, 7, 12, 13):
            x = rng.standard_normal((1, 5, h, w)).astype(np.float32)
            hit = rng.random(x.shape) < 0.15
            x[hit] = rng.choice(special, int(hit.sum()))
            want = ref_max3s2_columns_first(x, pad, pad_b, pad_r)
            for threads in (1, 2):
                y = np.empty(want.shape, np.float32)
                _kernels.max_pool2d(_kernels.Context(threads, "avx2"), x, y, (3, 3), (2, 2),
                                    (pad, pad, pad_b, pad_r), (1, 1))
                np.testing.assert_array_equal(y.view(np.uint32), want.view(np.uint32),
                                              err_msg=f"max_pool2d bits, x {x.shape} pads "
                                                      f"{(pad, pad, pad_b, pad_r)} {threads} threads")


# Pools large enough (N * C planes above the plane grain, pool2d.c tc_pool_grain_) that 2 and 3
# threads split them: SqueezeNet's two ceil-mode pools, padding on every side, dilation,
# asymmetric strides, 1-wide planes, a 2x2/2 pool (DenseNet's average), batch 2 with an odd
# channel count (the split inside an image).
SPLIT_CASES = [
    ((1, 256, 27, 27), (3, 3), (2, 2), (0, 0, 0, 0), (1, 1)),     # SqueezeNet features.8
    ((1, 128, 55, 55), (3, 3), (2, 2), (0, 0, 0, 0), (1, 1)),     # features.5
    ((2, 151, 9, 11), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
    ((2, 301, 8, 64), (2, 2), (2, 2), (0, 0, 0, 0), (1, 1)),
    ((1, 3000, 12, 1), (2, 1), (2, 1), (0, 0, 0, 0), (1, 1)),
    ((2, 201, 11, 17), (9, 3), (2, 2), (6, 1, 0, 1), (1, 1)),
    ((1, 121, 30, 19), (3, 3), (3, 2), (2, 0, 1, 2), (2, 1)),
    ((2, 63, 57, 29), (5, 5), (2, 2), (2, 2, 2, 2), (1, 1)),
]


@pytest.mark.parametrize("isa", ["portable", "avx2"])
@pytest.mark.parametrize("case", SPLIT_CASES, ids=[f"{c[0]}-k{c[1]}-s{c[2]}-p{c[3]}-d{c[4]}" for c in SPLIT_CASES])
def test_pools_split_between_threads_match_one_thread(isa, case):
    """At 2 and 3 threads a pool split between the threads gives the 1-thread bits (max, NaN
    inputs, average with and without the padding counted, floor and ceil mode), and the
    1-thread answer the numpy reference's."""
    if isa == "avx2" and _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    shape, kernel, strides, pads, dil = case
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    xn = x.copy()
    xn[..., ::5, ::3] = np.nan
    contexts = {t: _kernels.Context(t, isa) for t in (1, 2, 3)}
    for ceil_mode in (0, 1):
        oh = out_size(shape[2], kernel[0], strides[0], pads[0], pads[2], dil[0], ceil_mode)
        ow = out_size(shape[3], kernel[1], strides[1], pads[1], pads[3], dil[1], ceil_mode)
        geo = dict(kernel=kernel, strides=strides, pads=pads, dil=dil)
        what = f"x {shape} -> ({oh}, {ow}) {geo} ceil {ceil_mode} {isa}"
        for name, inp, cip in [("max", x, None), ("max nan", xn, None), ("avg", x, 0), ("avg cip", x, 1)]:
            ys = {}
            for t, c in contexts.items():
                y = np.full(shape[:2] + (oh, ow), 7.0, np.float32)
                if cip is None:
                    _kernels.max_pool2d(c, inp, y, kernel, strides, pads, dil)
                else:
                    _kernels.avg_pool2d(c, inp, y, kernel, strides, pads, dil, cip)
                ys[t] = y
            for t in (2, 3):
                np.testing.assert_array_equal(ys[t], ys[1], err_msg=f"{name} at {t} threads vs 1, {what}")
            if name == "max":
                np.testing.assert_array_equal(ys[1], ref_pool(x, oh, ow, mode="max", **geo), err_msg=f"{name}, {what}")
            elif name != "max nan":
                np.testing.assert_allclose(ys[1], ref_pool(x, oh, ow, mode="avg", count_include_pad=cip, **geo),
                                           rtol=1e-5, atol=1e-6, err_msg=f"{name}, {what}")
