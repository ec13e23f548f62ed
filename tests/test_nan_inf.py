"""NaN and Inf (issue 6): through every kernel family, fused epilogues included, on both ISAs,
tinycnn puts NaN and +-Inf where onnxruntime does and agrees on the finite values."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import tinycnn
from helpers import ISAS, assert_same_nan_inf, conv_net, make_model, one_node, ort_run, x_for

RNG = np.random.default_rng(6)


def nan_inf(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    u = rng.random(shape)
    x[u < 0.05] = np.nan
    x[(u >= 0.05) & (u < 0.08)] = np.inf
    x[(u >= 0.08) & (u < 0.11)] = -np.inf
    return x


def windows_of(x, k, s):
    """[..., OH, OW, k*k] views of the kxk windows with stride s (no padding)."""
    v = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    return v.reshape(v.shape[:4] + (k * k,))


@pytest.mark.parametrize("shape", [(1, 1, 5, 5), (2, 3, 9, 19), (1, 8, 16, 16), (2, 16, 7, 33)])
def test_nan_and_inf_propagate_like_onnxruntime(shape):
    nodes = [helper.make_node("Relu", ["x"], ["relu"], name="relu"),
             helper.make_node("MaxPool", ["x"], ["maxpool"], kernel_shape=[2, 2], strides=[2, 2], name="mp"),
             helper.make_node("AveragePool", ["x"], ["avgpool"], kernel_shape=[3, 3], name="ap"),
             helper.make_node("GlobalAveragePool", ["x"], ["gap"], name="gap"),
             helper.make_node("Add", ["x", "x"], ["add"], name="add"),
             helper.make_node("Sigmoid", ["x"], ["sigmoid"], name="sig")]
    names = ["relu", "maxpool", "avgpool", "gap", "add", "sigmoid"]
    model = make_model(nodes, [("x", list(shape))], [(n, None) for n in names])
    sess = tinycnn.InferenceSession(model)
    for seed in range(5):
        x = nan_inf(shape, seed)
        ref = dict(zip(names, ort_run(model, {"x": x})))
        got = dict(zip(names, sess.run(None, {"x": x})))
        for name in ("relu", "avgpool", "gap", "add", "sigmoid"):
            np.testing.assert_allclose(got[name], ref[name], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} on {shape} with NaN/Inf, seed {seed}")
        # MaxPool: where a window has no NaN both give its max, +-inf included, exactly.
        # (Which NaNs survive in a window depends on the order the SIMD code visits the taps:
        # onnxruntime's own order is an implementation detail; tinycnn never crashes on them.)
        w = windows_of(x, 2, 2)
        clean = ~np.isnan(w).any(axis=-1)
        np.testing.assert_array_equal(got["maxpool"][clean], ref["maxpool"][clean],
                                      err_msg=f"maxpool on NaN-free windows, {shape}, seed {seed}")
        np.testing.assert_array_equal(got["maxpool"][clean], w.max(axis=-1)[clean])
        all_nan = np.isnan(w).all(axis=-1)
        assert np.isnan(got["maxpool"][all_nan]).all(), "an all-NaN window must give NaN"


def test_maxpool_of_minus_infinity_is_minus_infinity():
    model = one_node("MaxPool", ["x"], {"kernel_shape": [2, 2]}, x_shape=(1, 1, 3, 3))
    x = np.full((1, 1, 3, 3), -np.inf, np.float32)
    ref = ort_run(model, {"x": x})[0]
    got = tinycnn.InferenceSession(model).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("seed", range(3))
def test_nan_and_inf_through_conv_pool_relu_gemm(seed):
    """Every stage a graph output: NaN positions equal onnxruntime's, finite values agree."""
    model = conv_net()
    del model.graph.output[:]
    for name in ("c", "r", "p", "y"):
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    x = x_for(4)
    rng = np.random.default_rng(seed)
    for b, v in ((0, np.nan), (1, np.inf), (2, -np.inf)):  # one special value per image, 3 clean
        x[b, rng.integers(3), rng.integers(8), rng.integers(8)] = v
    ref = ort_run(model, {"x": x})
    got = tinycnn.InferenceSession(model).run(None, {"x": x})
    # Which NaN survives a max-pool window depends on the order the taps are visited (see
    # test_nan_and_inf_propagate_like_onnxruntime): compare the pool on NaN-free windows and
    # the classifier on the images that had no NaN.
    clean = ~np.isnan(windows_of(ref[1], 2, 2)).any(axis=-1)
    got[2], ref[2] = got[2][clean], ref[2][clean]
    got[3], ref[3] = got[3][1:], ref[3][1:]
    for name, g, r in zip("crpy", got, ref):
        assert_same_nan_inf(g, r, what=name)
        finite = np.isfinite(r)
        assert finite.any(), f"{name}: the special values should not reach every output"
        np.testing.assert_allclose(g[finite], r[finite], rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("k", [3, 5])  # F(4x4,3x3) and F(2x2,5x5) at this size
@pytest.mark.parametrize("isa", ISAS)
def test_nan_in_a_winograd_layer_stays_in_its_window(isa, k, monkeypatch):
    monkeypatch.setenv("TINYCNN_ISA", isa)
    w = RNG.normal(size=(64, 64, k, k)).astype(np.float32)
    model = one_node("Conv", ["x", "W"], {"pads": [k // 2] * 4}, {"W": w}, x_shape=(1, 64, 20, 20))
    x = RNG.normal(size=(1, 64, 20, 20)).astype(np.float32)
    x[0, 0, 5, 5] = np.nan
    x[0, 9, 14, 2] = np.inf
    ref = ort_run(model, {"x": x})[0]
    got = tinycnn.InferenceSession(model).run(None, {"x": x})[0]
    assert_same_nan_inf(got, ref, what=f"{k}x{k} conv y {got.shape}")


@pytest.mark.parametrize("isa", ISAS)
def test_nan_and_inf_through_winograd_residual_relu_like_onnxruntime(isa, monkeypatch):
    """Conv (Winograd) + residual Add + Relu, fused at load: NaN, +Inf, -Inf in the input."""
    monkeypatch.setenv("TINYCNN_ISA", isa)
    inits = {"W": (RNG.normal(size=(64, 64, 3, 3)) / 24).astype(np.float32),
             "B": RNG.normal(size=64).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Add", ["c", "x"], ["a"], name="add"),
             helper.make_node("Relu", ["a"], ["y"], name="relu")]
    model = make_model(nodes, [("x", [2, 64, 20, 20])], [("y", None)], inits)
    x = RNG.normal(size=(2, 64, 20, 20)).astype(np.float32)
    x[0, 3, 0, 0], x[0, 9, 7, 8], x[1, 0, 19, 12], x[1, 63, 4, 4] = np.nan, np.inf, -np.inf, np.inf
    ref = ort_run(model, {"x": x})[0]
    got = tinycnn.InferenceSession(model).run(None, {"x": x})[0]
    assert_same_nan_inf(got, ref, what="relu(conv + x)")
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["conv 1x1", "conv 3x3/2", "depthwise", "gemm"])
@pytest.mark.parametrize("isa", ISAS)
def test_fused_relu_keeps_nan_like_onnxruntime(isa, kind, monkeypatch):
    """Conv + Relu and Gemm + Relu are fused at load; onnxruntime's Relu keeps NaN (and so
    must the fused epilogue, whatever the tile: full, short rows, short columns)."""
    monkeypatch.setenv("TINYCNN_ISA", isa)
    c, k = 8, 10
    if kind == "gemm":
        inits = {"W": RNG.normal(size=(k, 37)).astype(np.float32),
                 "B": RNG.normal(size=k).astype(np.float32)}
        inits["B"][3] = np.nan
        first = helper.make_node("Gemm", ["x", "W", "B"], ["c"], transB=1)
        x_shape = (3, 37)
    else:
        group, ks, st = {"conv 1x1": (1, 1, 1), "conv 3x3/2": (1, 3, 2), "depthwise": (c, 3, 1)}[kind]
        k = c if group > 1 else k
        inits = {"W": RNG.normal(size=(k, c // group, ks, ks)).astype(np.float32),
                 "B": RNG.normal(size=k).astype(np.float32)}
        inits["B"][3] = np.nan
        first = helper.make_node("Conv", ["x", "W", "B"], ["c"], group=group, strides=[st, st],
                                 pads=[ks // 2] * 4)
        x_shape = (1, c, 9, 19)
    model = make_model([first, helper.make_node("Relu", ["c"], ["y"])], [("x", list(x_shape))],
                       [("y", None)], inits)
    x = RNG.normal(size=x_shape).astype(np.float32)
    x.reshape(-1)[[5, 40, 77]] = np.nan
    ref = ort_run(model, {"x": x})[0]
    got = tinycnn.InferenceSession(model).run(None, {"x": x})[0]
    assert np.isnan(ref).any()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"{kind}: NaN positions")
    finite = ~np.isnan(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("tap", [(1, 1), (0, 1)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_weight_in_a_3x3_layer_like_onnxruntime(bad, tap):
    """Winograd cannot take such weights (tests/test_winograd.py): the direct convolution runs.
    (Where a non-finite weight meets the zero padding, onnxruntime skips the tap while the
    direct convolution gives 0 * NaN = NaN: compared only for the center tap, which never does.)"""
    w = RNG.normal(size=(64, 64, 3, 3)).astype(np.float32)
    w[5, 7, tap[0], tap[1]] = bad
    model = one_node("Conv", ["x", "W"], {"pads": [1, 1, 1, 1]}, {"W": w}, x_shape=(1, 64, 20, 20))
    x = RNG.normal(size=(1, 64, 20, 20)).astype(np.float32)
    ref = ort_run(model, {"x": x})[0]
    got = tinycnn.InferenceSession(model).run(None, {"x": x})[0]
    if tap != (1, 1):  # the outputs whose windows do not touch the padding
        ref, got = ref[:, :, 1:-1, 1:-1], got[:, :, 1:-1, 1:-1]
    assert_same_nan_inf(got, ref, what=f"conv y with a weight {bad} at tap {tap}")
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-4, atol=1e-4)
