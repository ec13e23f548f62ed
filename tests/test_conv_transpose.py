"""ConvTranspose against onnxruntime (groups, dilations, strides, pads, output_padding,
output_shape, auto_pad, bias, fused BatchNormalization and ReLU), the kernel against its
plain reference and across instruction sets, and bad attributes."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from tinycnn import _kernels as K
from helpers import HAVE_AVX512, ISAS, ort_run, rel_diff, tinycnn_session

RNG = np.random.default_rng(11)


def convt_model(x_shape, w, b=None, post=(), opset=17, **attrs):
    inits = [numpy_helper.from_array(w, "w")]
    ins = ["x", "w"]
    if b is not None:
        inits.append(numpy_helper.from_array(b, "b"))
        ins.append("b")
    nodes = [helper.make_node("ConvTranspose", ins, ["t"], name="up", **attrs)]
    last = "t"
    for i, kind in enumerate(post):
        if kind == "bn":
            k = w.shape[1] * attrs.get("group", 1)
            for name, v in (("s", RNG.uniform(0.5, 2, k)), ("bb", RNG.normal(size=k)),
                            ("m", RNG.normal(size=k)), ("v", RNG.uniform(0.5, 2, k))):
                inits.append(numpy_helper.from_array(v.astype(np.float32), name))
            nodes.append(helper.make_node("BatchNormalization", [last, "s", "bb", "m", "v"], [f"p{i}"]))
        else:
            nodes.append(helper.make_node("Relu", [last], [f"p{i}"]))
        last = f"p{i}"
    nodes.append(helper.make_node("Identity", [last], ["y"]))
    graph = helper.make_graph(nodes, "convt", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def check(model, x, threads=1, rtol=1e-5, level=None):
    (ref,) = ort_run(model, {"x": x})
    opts = tinycnn.SessionOptions()
    opts.intra_op_num_threads = threads
    if level is not None:
        opts.graph_optimization_level = level
    (got,) = tinycnn.InferenceSession(model.SerializeToString(), opts).run(None, {"x": x})
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert rel_diff(got, ref) <= rtol, f"max rel diff {rel_diff(got, ref):.3g}"


CASES = [  # (x shape, w shape, attrs)
    ((1, 32, 20, 20), (32, 16, 2, 2), dict(strides=[2, 2])),                 # DBNet's 2x2/2
    ((2, 8, 9, 11), (8, 6, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])),
    ((1, 6, 7, 8), (6, 2, 3, 3), dict(group=3, strides=[2, 1], pads=[0, 1, 2, 0])),
    ((1, 4, 6, 6), (4, 5, 3, 2), dict(dilations=[2, 3], strides=[1, 2])),
    ((1, 8, 10, 10), (8, 1, 4, 4), dict(group=8, strides=[2, 2], pads=[1, 1, 1, 1])),  # depthwise 4x4/2
    ((1, 3, 5, 5), (3, 4, 3, 3), dict(strides=[3, 3], output_shape=[17, 16])),
    ((1, 3, 5, 5), (3, 4, 3, 3), dict(strides=[2, 2], output_shape=[10, 10], auto_pad="SAME_UPPER")),
    ((1, 3, 5, 5), (3, 4, 3, 3), dict(strides=[2, 2], output_shape=[10, 9])),
    ((1, 3, 5, 5), (3, 4, 3, 3), dict(strides=[2, 2], output_shape=[10, 9], auto_pad="SAME_LOWER")),
    ((1, 3, 5, 6), (3, 4, 4, 3), dict(strides=[2, 2], auto_pad="SAME_UPPER")),
    ((1, 3, 5, 6), (3, 4, 4, 3), dict(strides=[2, 2], auto_pad="SAME_LOWER")),
    ((1, 3, 5, 6), (3, 4, 3, 3), dict(auto_pad="VALID", strides=[1, 2])),
    ((1, 2, 4, 4), (2, 3, 1, 1), dict(strides=[3, 3])),                      # gaps: the bias alone
    # 1-D and 3-D: odd sizes, groups, dilations, output_padding, pads
    ((2, 3, 11), (3, 4, 3), dict(strides=[2], pads=[1, 0])),
    ((1, 4, 9), (4, 3, 4), dict(group=2, strides=[3], dilations=[2], output_padding=[1])),
    ((1, 2, 7), (2, 5, 2), dict(strides=[2], auto_pad="SAME_LOWER")),
    ((1, 4, 3, 4, 5), (4, 3, 2, 3, 2), dict(group=2, strides=[2, 1, 2], pads=[0, 1, 1, 1, 0, 0])),
    ((2, 3, 5, 3, 4), (3, 2, 3, 3, 3), dict(strides=[2, 2, 1], pads=[1, 1, 1, 1, 1, 1],
                                            output_padding=[1, 0, 0], dilations=[1, 2, 1])),
    ((1, 6, 3, 5, 4), (6, 1, 3, 3, 3), dict(group=6, pads=[1, 1, 1, 1, 1, 1])),   # depthwise 3-D
    ((1, 8, 4, 6, 5), (8, 4, 2, 2, 2), dict(strides=[2, 2, 2])),                  # 2x2x2 / 2 upsampling
    ((1, 3, 3, 3, 3), (3, 2, 3, 3, 3), dict(strides=[2, 2, 2], output_shape=[8, 7, 6],
                                            auto_pad="SAME_UPPER")),
]


@pytest.mark.parametrize("x_shape,w_shape,attrs", CASES)
def test_conv_transpose_matches_onnxruntime(x_shape, w_shape, attrs):
    x = RNG.normal(size=x_shape).astype(np.float32)
    w = RNG.normal(size=w_shape).astype(np.float32)
    b = RNG.normal(size=w_shape[1] * attrs.get("group", 1)).astype(np.float32)
    for threads in (1, 2):
        check(convt_model(x_shape, w, b, **attrs), x, threads)
    check(convt_model(x_shape, w, None, post=("relu",), **attrs), x)  # no bias, the fused ReLU


def test_fused_batchnorm_and_relu_match_onnxruntime():
    """DBNet's head: ConvTranspose -> BatchNormalization -> ReLU, folded into one node."""
    x = RNG.normal(size=(2, 16, 12, 12)).astype(np.float32)
    for group in (1, 2):
        w = RNG.normal(size=(16, 8 // group, 2, 2)).astype(np.float32)
        model = convt_model(x.shape, w, None, post=("bn", "relu"), strides=[2, 2], group=group)
        check(model, x)
        check(model, x, level=0)
    session = tinycnn.InferenceSession(model.SerializeToString())
    assert [n.label for n in session._graph.nodes] == ["ConvTranspose+Relu"]


def test_weights_computed_at_run_time():
    w = RNG.normal(size=(3, 2, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Neg", ["w0"], ["w"]),
             helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2])]
    graph = helper.make_graph(nodes, "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4]),
                                             helper.make_tensor_value_info("w0", TensorProto.FLOAT, w.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    x = RNG.normal(size=(1, 3, 4, 4)).astype(np.float32)
    (ref,) = ort_run(model, {"x": x, "w0": w})
    (got,) = tinycnn.InferenceSession(model.SerializeToString()).run(None, {"x": x, "w0": w})
    assert rel_diff(got, ref) <= 1e-5


def test_packed_weights_are_kept_across_input_sizes(monkeypatch):
    w = RNG.normal(size=(8, 4, 2, 2)).astype(np.float32)
    model = convt_model([1, 8, "h", "w"], w, None, strides=[2, 2])
    session = tinycnn.InferenceSession(model.SerializeToString())
    packed = []
    real = K.ConvTranspose
    monkeypatch.setattr(K, "ConvTranspose", lambda *a, **kw: packed.append(a) or real(*a, **kw))
    for size in (8, 13, 8, 21):
        x = RNG.normal(size=(1, 8, size, size)).astype(np.float32)
        (got,) = session.run(None, {"x": x})
        assert rel_diff(got, ort_run(model, {"x": x})[0]) <= 1e-5
    assert len(packed) == 1  # the first size packs, the others reuse it


# ---- the kernel ---------------------------------------------------------------------------

KERNEL_CASES = [  # C, K, group, kernel, strides, pads (begin..., end...), dilations, input size, extra output
    (8, 6, 1, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), (7, 9), (0, 0)),
    (6, 9, 3, (3, 3), (2, 1), (1, 0, 2, 1), (1, 1), (5, 6), (1, 0)),
    (4, 4, 4, (4, 4), (2, 2), (1, 1, 1, 1), (1, 1), (6, 5), (0, 1)),
    (5, 7, 1, (3, 2), (1, 3), (0, 2, 1, 0), (2, 1), (4, 7), (2, 2)),
    (3, 2, 1, (1, 1), (3, 3), (0, 0, 0, 0), (1, 1), (3, 3), (0, 0)),
    (4, 64, 2, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), (37, 64), (0, 0)),  # slabs of 32 input rows
    # the direct path: taps tile the output, K/g * KH * KW <= 8 (DBNet's 64 -> 1 head)
    (64, 1, 1, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), (9, 37), (0, 0)),
    (6, 4, 2, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), (5, 16), (0, 0)),
    (5, 3, 1, (1, 2), (1, 2), (0, 0, 0, 0), (1, 1), (3, 50), (0, 0)),
    (3, 1, 1, (3, 2), (3, 2), (0, 0, 0, 0), (1, 1), (4, 7), (0, 0)),
    (4, 1, 1, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), (4, 7), (1, 1)),  # output_padding: not direct
    # 3-D: (depth, height, width)
    (4, 6, 2, (2, 3, 2), (2, 1, 2), (0, 1, 1, 1, 0, 0), (1, 1, 1), (3, 4, 5), (0, 0, 0)),
    (3, 5, 1, (3, 2, 3), (2, 2, 1), (1, 0, 2, 0, 1, 1), (2, 1, 2), (4, 3, 5), (1, 1, 0)),
    (6, 6, 6, (3, 3, 3), (1, 1, 1), (1, 1, 1, 1, 1, 1), (1, 1, 1), (5, 4, 3), (0, 0, 0)),  # depthwise
    (4, 8, 1, (2, 2, 2), (2, 2, 2), (0, 0, 0, 0, 0, 0), (1, 1, 1), (3, 5, 9), (0, 0, 0)),  # tiles exactly
    (2, 3, 1, (1, 2, 2), (3, 2, 2), (0, 0, 0, 0, 0, 0), (1, 1, 1), (2, 3, 3), (2, 0, 1)),  # planes of bias alone
]


def _output_size(kernel, strides, pads, dil, size, extra):
    nd = len(kernel)
    return tuple((i - 1) * s + (k - 1) * d + 1 - pads[a] - pads[a + nd] + e
                 for a, (k, s, d, i, e) in enumerate(zip(kernel, strides, dil, size, extra)))


def _numpy_conv_transpose(x, w, b, group, strides, pads, dil, out):
    """Every input pixel times every tap, added where it lands (float64)."""
    n, c = x.shape[:2]
    k = w.shape[1] * group
    cg, kg = c // group, k // group
    y = np.zeros((n, k) + out) + b.reshape((1, -1) + (1,) * len(out))
    for ci in range(c):
        g = ci // cg
        for tap in np.ndindex(*w.shape[2:]):
            for pix in np.ndindex(*x.shape[2:]):
                o = tuple(i * s + t * d - p for i, s, t, d, p in zip(pix, strides, tap, dil, pads))
                if all(0 <= v < m for v, m in zip(o, out)):
                    y[(slice(None), slice(g * kg, (g + 1) * kg)) + o] += \
                        x[(slice(None), ci) + pix][:, None] * w[(ci, slice(None)) + tap]
    return y


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_its_reference_and_numpy_on_every_isa(case):
    c, k, group, kernel, strides, pads, dil, size, extra = case
    rng = np.random.default_rng(5)
    w = rng.normal(size=(c, k // group) + kernel).astype(np.float32)
    b = rng.normal(size=k).astype(np.float32)
    x = rng.normal(size=(2, c) + size).astype(np.float32)
    out = _output_size(kernel, strides, pads, dil, size, extra)
    ref = _numpy_conv_transpose(x, w, b, group, strides, pads, dil, out)
    for isa in ISAS + (["avx512"] if HAVE_AVX512 else []):
        outs = []
        for threads in (1, 3):
            for relu in (False, True):
                layer = K.ConvTranspose(K.Context(threads, isa), w, b, strides=strides, pads=pads,
                                        dilations=dil, group=group, relu=relu)
                y = np.empty((2, k) + out, np.float32)
                layer.run(x, y, np.empty(layer.workspace_size(*size), np.float32))
                want = np.maximum(ref, 0) if relu else ref
                np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4, err_msg=f"{isa} {threads} {relu}")
                y_ref = np.empty_like(y)
                layer.reference(x, y_ref)
                np.testing.assert_allclose(y_ref, want, rtol=1e-4, atol=1e-4)
                if not relu:
                    outs.append(y)
        np.testing.assert_array_equal(outs[1], outs[0], err_msg=f"{isa}: 1 and 3 threads differ")


def test_kernel_refuses_mismatched_arrays_and_geometry():
    ctx = K.Context(1, "portable")
    w3 = np.ones((2, 3, 2, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"3-D takes strides \(3\), pads \(6\) and dilations \(3\)"):
        K.ConvTranspose(ctx, w3, None, strides=(2, 2), pads=(0, 0, 0, 0), dilations=(1, 1))
    layer = K.ConvTranspose(ctx, w3, None, strides=(2, 2, 2), pads=(0,) * 6, dilations=(1, 1, 1))
    with pytest.raises(ValueError, match="x must have 5 dims"):
        layer.run(np.ones((1, 2, 3, 3), np.float32), np.empty((1, 3, 6, 6), np.float32))
    with pytest.raises(ValueError, match="workspace_size takes 3 sizes"):
        layer.workspace_size(3, 3)
    with pytest.raises(ValueError, match="weight must be"):
        K.ConvTranspose(ctx, np.ones((2, 3, 2), np.float32), None)


# ---- bad input ----------------------------------------------------------------------------

def test_bad_conv_transpose_attributes_are_refused_naming_the_node():
    w = np.ones((4, 2, 3, 3), np.float32)
    cases = [
        (dict(strides=[0, 1]), r"strides=\[0, 1\] must be >= 1"),
        (dict(output_padding=[2, 0], strides=[2, 2]), "output_padding=.* must be smaller"),
        (dict(pads=[4, 4, 4, 4]), "crop the whole output"),
        (dict(auto_pad="SAME"), "unknown auto_pad 'SAME'"),
        (dict(group=3), "group=3"),
        (dict(output_shape=[0, 5]), "output_shape=.* must give 2 spatial sizes >= 1"),
    ]
    for attrs, message in cases:
        with pytest.raises(tinycnn.TinyCNNError, match=message) as e:
            tinycnn_session(convt_model((1, 4, 2, 2), w, **attrs))
        assert "'up' (ConvTranspose)" in str(e.value)
    with pytest.raises(tinycnn.TinyCNNError, match=r"bias B \(3,\) must have 2 values"):
        tinycnn_session(convt_model((1, 4, 2, 2), w, np.ones(3, np.float32)))


def test_an_output_over_the_session_limits_is_refused_before_allocating():
    w = np.ones((4, 64, 16, 16), np.float32)
    model = convt_model((1, 4, 512, 512), w, strides=[16, 16])
    with pytest.raises(tinycnn.ResourceLimit, match=r"'up' \(ConvTranspose\): output: shape \(1, 64, 8192, 8192\)"):
        tinycnn_session(model)


def test_four_spatial_dims_are_refused_naming_the_node():
    w = np.ones((2, 3, 2, 2, 2, 2), np.float32)
    with pytest.raises(tinycnn.UnsupportedOperator, match=r"'up' \(ConvTranspose\).*4-D transposed convolution"):
        tinycnn_session(convt_model((1, 2, 3, 3, 3, 3), w))
