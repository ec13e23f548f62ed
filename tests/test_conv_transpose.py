"""ConvTranspose against onnxruntime (groups, dilations, strides, pads, output_padding,
output_shape, auto_pad, bias, fused BatchNormalization and ReLU), the kernel against its
plain reference and across instruction sets, and bad attributes."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from tinycnn import _kernels as K
from helpers import ort_run, rel_diff, tinycnn_session

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
]


@pytest.mark.parametrize("x_shape,w_shape,attrs", CASES)
def test_conv_transpose_matches_onnxruntime(x_shape, w_shape, attrs):
    x = RNG.normal(size=x_shape).astype(np.float32)
    w = RNG.normal(size=w_shape).astype(np.float32)
    b = RNG.normal(size=w_shape[1] * attrs.get("group", 1)).astype(np.float32)
    for threads in (1, 2):
        check(convt_model(x_shape, w, b, **attrs), x, threads)
    check(convt_model(x_shape, w, None, **attrs), x)


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


def test_1d_and_3d_match_onnxruntime():
    x1 = RNG.normal(size=(2, 3, 11)).astype(np.float32)
    w1 = RNG.normal(size=(3, 4, 3)).astype(np.float32)
    check(convt_model(x1.shape, w1, np.ones(4, np.float32), strides=[2], pads=[1, 0]), x1)
    x3 = RNG.normal(size=(1, 4, 3, 4, 5)).astype(np.float32)
    w3 = RNG.normal(size=(4, 3, 2, 3, 2)).astype(np.float32)
    check(convt_model(x3.shape, w3, RNG.normal(size=6).astype(np.float32), group=2,
                      strides=[2, 1, 2], pads=[0, 1, 1, 1, 0, 0]), x3)


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
    real = K.ConvTranspose2d
    monkeypatch.setattr(K, "ConvTranspose2d", lambda *a, **kw: packed.append(a) or real(*a, **kw))
    for size in (8, 13, 8, 21):
        x = RNG.normal(size=(1, 8, size, size)).astype(np.float32)
        (got,) = session.run(None, {"x": x})
        assert rel_diff(got, ort_run(model, {"x": x})[0]) <= 1e-5
    assert len(packed) == 1  # the first size packs, the others reuse it


# ---- the kernel ---------------------------------------------------------------------------

KERNEL_CASES = [  # C, K, group, kernel, strides, pads (t, l, b, r), dilations, (h, w), (oh, ow) extra
    (8, 6, 1, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), (7, 9), (0, 0)),
    (6, 9, 3, (3, 3), (2, 1), (1, 0, 2, 1), (1, 1), (5, 6), (1, 0)),
    (4, 4, 4, (4, 4), (2, 2), (1, 1, 1, 1), (1, 1), (6, 5), (0, 1)),
    (5, 7, 1, (3, 2), (1, 3), (0, 2, 1, 0), (2, 1), (4, 7), (2, 2)),
    (3, 2, 1, (1, 1), (3, 3), (0, 0, 0, 0), (1, 1), (3, 3), (0, 0)),
    (4, 64, 2, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), (37, 64), (0, 0)),  # slabs of 32 input rows
]


def _geometry(c, k, group, kernel, strides, pads, dil, hw, extra):
    oh = (hw[0] - 1) * strides[0] + (kernel[0] - 1) * dil[0] + 1 - pads[0] - pads[2] + extra[0]
    ow = (hw[1] - 1) * strides[1] + (kernel[1] - 1) * dil[1] + 1 - pads[1] - pads[3] + extra[1]
    return oh, ow


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_its_reference_and_numpy_on_every_isa(case):
    c, k, group, kernel, strides, pads, dil, hw, extra = case
    rng = np.random.default_rng(5)
    w = rng.normal(size=(c, k // group) + kernel).astype(np.float32)
    b = rng.normal(size=k).astype(np.float32)
    x = rng.normal(size=(2, c) + hw).astype(np.float32)
    oh, ow = _geometry(*case)
    # numpy: scatter every input pixel times every tap
    ref = np.zeros((2, k, oh, ow)) + b.reshape(1, -1, 1, 1)
    cg, kg = c // group, k // group
    for ci in range(c):
        g = ci // cg
        for ky in range(kernel[0]):
            for kx in range(kernel[1]):
                for iy in range(hw[0]):
                    for ix in range(hw[1]):
                        oy = iy * strides[0] + ky * dil[0] - pads[0]
                        ox = ix * strides[1] + kx * dil[1] - pads[1]
                        if 0 <= oy < oh and 0 <= ox < ow:
                            ref[:, g * kg:(g + 1) * kg, oy, ox] += x[:, ci, iy, ix, None] * w[ci, :, ky, kx]
    isas = ["portable"] + (["avx2"] if K.best_isa() == "avx2" else [])
    for isa in isas:
        outs = []
        for threads in (1, 3):
            for relu in (False, True):
                layer = K.ConvTranspose2d(K.Context(threads, isa), w, b, strides=strides, pads=pads,
                                          dilations=dil, group=group, relu=relu)
                y = np.empty((2, k, oh, ow), np.float32)
                layer.run(x, y, np.empty(layer.workspace_size(*hw), np.float32))
                want = np.maximum(ref, 0) if relu else ref
                np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4, err_msg=f"{isa} {threads} {relu}")
                y_ref = np.empty_like(y)
                layer.reference(x, y_ref)
                np.testing.assert_allclose(y_ref, want, rtol=1e-4, atol=1e-4)
                if not relu:
                    outs.append(y)
        np.testing.assert_array_equal(outs[1], outs[0], err_msg=f"{isa}: 1 and 3 threads differ")


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
