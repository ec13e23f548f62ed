"""A stem and the max pool after it as one call (graph._fuse_conv_maxpool, ops/fused_cp.py,
csrc/conv.c tc_conv2d_maxpool_f32): bands of the stem's rows pooled in each thread's buffer.

The kernel against the layer run whole then pooled (Conv2d.run, bind_max_pool2d), which it
must match bit for bit, and against a numpy pool of the layer's output: every ISA, 1 and 2
threads, SqueezeNet's and ResNet's stem geometry, pool pads, ceil mode, dilation, stride 1
and 3, planes smaller than a band, batch 2; a Conv -> Relu -> MaxPool model against
onnxruntime, fused and not."""
import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from tinycnn import _kernels
from test_depthwise import ctx  # noqa: F401  (every ISA, 1 and 2 threads)
from test_pool import out_size, ref_pool

# (n, C, K, h, w, conv kernel, conv stride, conv pads, pool kernel, stride, pads, dilation, ceil)
CASES = [
    (1, 3, 64, 224, 224, 3, 2, (0, 0, 0, 0), 3, 2, (0, 0, 0, 0), 1, 1),    # SqueezeNet 1.1
    (1, 3, 16, 70, 64, 7, 2, (3, 3, 3, 3), 3, 2, (1, 1, 1, 1), 1, 0),      # ResNet, smaller
    (2, 3, 8, 37, 41, 3, 2, (1, 1, 1, 1), 2, 2, (0, 0, 0, 0), 1, 0),
    (1, 4, 12, 50, 33, 5, 2, (2, 2, 2, 2), 3, 1, (1, 1, 1, 1), 1, 0),      # a "same" pool
    (2, 1, 6, 61, 23, 3, 2, (0, 1, 1, 0), 3, 3, (0, 0, 0, 0), 1, 1),
    (1, 3, 8, 80, 40, 3, 2, (1, 1, 1, 1), 3, 2, (2, 1, 0, 1), 2, 0),      # dilated, pads
    (1, 3, 4, 5, 5, 3, 2, (1, 1, 1, 1), 3, 2, (1, 1, 1, 1), 1, 1),        # a 3x3 plane
    (1, 2, 10, 300, 9, 3, 2, (1, 0, 1, 0), 3, 2, (0, 0, 2, 1), 1, 1),     # tall, windows in pads
]
ACTS = [dict(activation="Relu"), dict(activation=""), dict(activation="Clip", alpha=0.0, beta=6.0)]


def _case_id(c):
    return "n{}c{}k{}_{}x{}_k{}s{}_pool{}s{}p{}d{}{}".format(
        *c[:7], c[8], c[9], "".join(map(str, c[10])), c[11], "ceil" if c[12] else "")


@pytest.mark.parametrize("algo", ["gemm", "stem"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_fused_is_the_layer_then_the_pool_bit_for_bit(ctx, case, algo):
    """Both banded stems: the GEMM's and the direct kernel's (tc_stem_rows_f32)."""
    n, c, k, h, w, ck, cs, cpads, pk, ps, ppads, pd, ceil = case
    rng = np.random.default_rng(sum(map(int, case[:7])))
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((k, c, ck, ck), dtype=np.float32) / np.float32(ck * np.sqrt(c))
    for act in ACTS:
        layer = _kernels.Conv2d(ctx, wt, rng.standard_normal(k, dtype=np.float32), algo=algo,
                                strides=(cs, cs), pads=cpads, **act)
        t = np.empty(layer.output_shape(n, h, w), np.float32)
        layer.run(x, t, None, np.empty(layer.workspace_size(n, h, w), np.float32))
        oh = out_size(t.shape[2], pk, ps, ppads[0], ppads[2], pd, ceil)
        ow = out_size(t.shape[3], pk, ps, ppads[1], ppads[3], pd, ceil)
        geometry = ((pk, pk), (ps, ps), ppads, (pd, pd))
        want = np.empty((n, k, oh, ow), np.float32)
        _kernels.bind_max_pool2d(ctx, t, want, *geometry)()
        np.testing.assert_array_equal(want, ref_pool(t, oh, ow, *geometry, "max"),
                                      err_msg="the unfused pool against numpy")
        assert layer.maxpool_supported(h, w, *geometry, oh, ow)
        ws = np.empty(layer.maxpool_workspace_size(h, w, *geometry, oh, ow), np.float32)
        y = np.full(want.shape, np.nan, np.float32)
        call = layer.bind_maxpool(x, y, *geometry, ws)
        call()
        np.testing.assert_array_equal(y, want, err_msg=f"fused, activation {act}")
        y[...] = np.nan
        call()  # again, on the same workspace
        np.testing.assert_array_equal(y, want, err_msg=f"fused, second run, activation {act}")


def test_refuses_what_it_does_not_band():
    ctx = _kernels.Context(1, "portable")
    rng = np.random.default_rng(0)
    geometry = ((3, 3), (2, 2), (0, 0, 0, 0), (1, 1))
    # a 1x1 layer, a layer of many input channels, an unstrided unpadded 3x3
    for c, kk, algo, stride in ((3, 1, "1x1", 1), (16, 3, "gemm", 2), (3, 3, "gemm", 1)):
        layer = _kernels.Conv2d(ctx, rng.standard_normal((8, c, kk, kk), dtype=np.float32),
                                None, algo=algo, strides=(stride, stride))
        assert not layer.maxpool_supported(20, 20, *geometry, 4, 4)
        x = np.zeros((1, c, 20, 20), np.float32)
        with pytest.raises(ValueError, match="not a banded stem"):
            layer.bind_maxpool(x, np.zeros((1, 8, 4, 4), np.float32), *geometry)
    layer = _kernels.Conv2d(ctx, rng.standard_normal((8, 3, 3, 3), dtype=np.float32), None,
                            algo="gemm", strides=(2, 2))
    with pytest.raises(ValueError, match="channels"):
        layer.bind_maxpool(np.zeros((1, 4, 20, 20), np.float32),
                           np.zeros((1, 8, 4, 4), np.float32), *geometry)
    with pytest.raises(ValueError, match="must be"):
        layer.bind_maxpool(np.zeros((1, 3, 20, 20), np.float32),
                           np.zeros((1, 7, 4, 4), np.float32), *geometry)


def _stem_model(c, k, size, conv_attrs, pool_attrs, rng):
    w = rng.standard_normal((k, c, 3, 3)).astype(np.float32) / np.float32(3 * np.sqrt(c))
    b = rng.standard_normal(k).astype(np.float32)
    w2 = rng.standard_normal((5, k, 1, 1)).astype(np.float32) / np.float32(np.sqrt(k))
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["t"], **conv_attrs),
             helper.make_node("Relu", ["t"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], **pool_attrs),
             helper.make_node("Conv", ["p", "w2"], ["y"])]
    graph = helper.make_graph(
        nodes, "stem", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, *size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
         numpy_helper.from_array(w2, "w2")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("c,k,size,conv_attrs,pool_attrs", [
    (3, 64, (113, 97), dict(strides=[2, 2]), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    (3, 24, (64, 80), dict(strides=[2, 2], pads=[1, 1, 1, 1]),
     dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    (1, 8, (33, 35), dict(strides=[2, 2], pads=[0, 1, 1, 0]), dict(kernel_shape=[2, 2], strides=[2, 2])),
])
def test_model_against_onnxruntime(c, k, size, conv_attrs, pool_attrs, threads):
    rng = np.random.default_rng(threads + k)
    model = _stem_model(c, k, size, conv_attrs, pool_attrs, rng)
    x = rng.standard_normal((1, c, *size)).astype(np.float32)
    want = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    opts = tinycnn.SessionOptions()
    opts.intra_op_num_threads = threads
    s = tinycnn.InferenceSession(model, opts)
    got, recs = s.run_profiled({"x": x})
    assert [r["op"] for r in recs][0] == "Conv+Relu+MaxPool", [r["op"] for r in recs]
    scale = np.abs(want).max()
    np.testing.assert_allclose(got[0], want, rtol=0, atol=2e-6 * scale)
    opts.graph_optimization_level = tinycnn.GraphOptimizationLevel.ORT_ENABLE_BASIC
    plain = tinycnn.InferenceSession(model, opts).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got[0], plain)
