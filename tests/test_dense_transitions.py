"""DenseNet's data movement around its 1x1 convolutions: the graph pass that pools before a
1x1 convolution (graph._pool_before_pointwise) is taken where it is exact and left alone
elsewhere; either way the result matches onnxruntime's."""
import numpy as np
import pytest
from onnx import helper

import tinycnn
from helpers import assert_close, make_model, ort_run

C, K = 8, 5


def conv_pool(conv_attrs, pool_attrs, kernel=1, bias=True, shape=(2, C, 10, 12), extra=()):
    """x -> Conv (K outputs, kernel x kernel) -> c -> AveragePool -> y [-> extra nodes]"""
    rng = np.random.default_rng(3)
    inits = {"w": rng.standard_normal((K, C, kernel, kernel)).astype(np.float32)}
    ins = ["x", "w"]
    if bias:
        inits["b"] = rng.standard_normal(K).astype(np.float32)
        ins.append("b")
    nodes = [helper.make_node("Conv", ins, ["c"], **conv_attrs),
             helper.make_node("AveragePool", ["c"], ["y"], **pool_attrs)] + list(extra)
    outs = [("y", None)] + [(n.output[0], None) for n in extra]
    return make_model(nodes, [("x", list(shape))], outs, inits, opset=17)


def run_both(model, shape=(2, C, 10, 12)):
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    sess = tinycnn.InferenceSession(model.SerializeToString())
    got = sess.run(None, {"x": x})
    ref = ort_run(model, {"x": x})
    for g, r in zip(got, ref):
        assert_close(g, r, 1e-5)
    return [(n.op_type, n.name) for n in sess._base.graph.nodes]


POOLED_FIRST = [
    ("DenseNet transition 2x2 s2", {}, dict(kernel_shape=[2, 2], strides=[2, 2]), True),
    ("no bias", {}, dict(kernel_shape=[2, 2], strides=[2, 2]), False),
    ("3x3 s2 window", {}, dict(kernel_shape=[3, 3], strides=[2, 2]), True),
    ("stride only along width", {}, dict(kernel_shape=[1, 2], strides=[1, 2]), True),
    ("auto_pad VALID pool", {}, dict(kernel_shape=[2, 2], strides=[2, 2], auto_pad="VALID"), True),
]


@pytest.mark.parametrize("case", POOLED_FIRST, ids=[c[0] for c in POOLED_FIRST])
def test_pool_moves_before_the_1x1_conv(case):
    name, conv_attrs, pool_attrs, bias = case
    order = run_both(conv_pool(conv_attrs, pool_attrs, bias=bias))
    assert [o for o, _ in order] == ["AveragePool", "Conv"], f"{name}: {order}"


LEFT_ALONE = [
    ("3x3 conv", dict(pads=[1, 1, 1, 1]), dict(kernel_shape=[2, 2], strides=[2, 2]), 3, ()),
    ("1x1 conv with pads", dict(pads=[1, 1, 1, 1]), dict(kernel_shape=[2, 2], strides=[2, 2]), 1, ()),
    ("1x1 conv stride 2", dict(strides=[2, 2]), dict(kernel_shape=[2, 2], strides=[2, 2]), 1, ()),
    # padding averaged in (count_include_pad) or left out changes what the bias contributes
    ("padded pool", {}, dict(kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1],
                             count_include_pad=1), 1, ()),
    ("ceil_mode", {}, dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1), 1, ()),
    ("stride 1 pool", {}, dict(kernel_shape=[2, 2], strides=[1, 1]), 1, ()),
    ("conv output used twice", {}, dict(kernel_shape=[2, 2], strides=[2, 2]), 1,
     (helper.make_node("Relu", ["c"], ["r"]),)),
]


@pytest.mark.parametrize("case", LEFT_ALONE, ids=[c[0] for c in LEFT_ALONE])
def test_pool_stays_after_the_conv_where_it_must(case):
    name, conv_attrs, pool_attrs, kernel, extra = case
    order = run_both(conv_pool(conv_attrs, pool_attrs, kernel=kernel, extra=extra))
    ops = [o for o, _ in order]
    assert ops.index("Conv") < ops.index("AveragePool"), f"{name}: {order}"


def bn_relu(extra_outputs=(), const_params=True, shape=(2, C, 6, 7)):
    """x -> BatchNormalization (randomised statistics) -> b -> Relu -> y"""
    rng = np.random.default_rng(8)
    params = {"s": rng.standard_normal(C), "t": rng.standard_normal(C),
              "m": rng.standard_normal(C), "v": rng.uniform(0.2, 2, C)}
    params = {k: v.astype(np.float32) for k, v in params.items()}
    inputs = [("x", list(shape))]
    if not const_params:
        inputs.append(("v", [C]))
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "t", "m", "v"], ["b"], epsilon=1e-3),
             helper.make_node("Relu", ["b"], ["y"])]
    inits = {k: v for k, v in params.items() if const_params or k != "v"}
    model = make_model(nodes, inputs, [("y", None)] + [(o, None) for o in extra_outputs], inits,
                       opset=17)
    feeds = {"x": rng.standard_normal(shape).astype(np.float32) * 2}
    feeds["x"][0, 1, 2, 3] = np.nan
    feeds["x"][1, 4, 0, 0] = -np.inf
    if not const_params:
        feeds["v"] = params["v"]
    return model, feeds


@pytest.mark.parametrize("case", ["fused", "b also an output", "statistics fed"])
def test_batchnorm_relu_one_pass(case):
    model, feeds = bn_relu(extra_outputs=["b"] if case == "b also an output" else (),
                           const_params=case != "statistics fed")
    sess = tinycnn.InferenceSession(model.SerializeToString())
    labels = [n.label for n in sess._base.graph.nodes]
    assert labels == (["BatchNormalization+Relu"] if case == "fused"
                      else ["BatchNormalization", "Relu"]), f"{case}: {labels}"
    got = sess.run(None, feeds)
    for g, r in zip(got, ort_run(model, feeds)):
        fin = np.isfinite(r)
        np.testing.assert_array_equal(g[~fin], r[~fin], err_msg=f"{case}: NaN and inf")
        assert_close(g[fin], r[fin], 1e-5, case)


def test_fused_batchnorm_refuses_an_activation_it_cannot_apply():
    """tinycnn's own BatchNormalization is reachable from a file: a bad activation is named."""
    model, _ = bn_relu()
    node = model.graph.node[0]
    node.domain = "tinycnn"
    node.attribute.append(helper.make_attribute("activation", "Sigmoid"))
    model.opset_import.append(helper.make_opsetid("tinycnn", 1))
    with pytest.raises(tinycnn.InvalidModel, match=r"BatchNormalization.*activation 'Sigmoid'.*only Relu"):
        tinycnn.InferenceSession(model.SerializeToString())
