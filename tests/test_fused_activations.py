"""The graph pass that fuses an activation into the convolution before it (graph._fuse_conv):
each pattern is recognised (one tinycnn::Conv left) and the result matches onnxruntime's,
NaN included, for a depthwise and a dense convolution; patterns it must not take stay apart."""
import numpy as np
import pytest
from onnx import helper

import tinycnn
from helpers import assert_close, make_model, ort_run

K = 6


def conv_graph(act_nodes, depthwise, extra_inits=(), opset=17):
    """x [2, 6, 9, 8] -> Conv (3x3 pad 1, depthwise or dense) -> c -> act_nodes -> y"""
    rng = np.random.default_rng(5)
    group = K if depthwise else 1
    inits = {"w": rng.standard_normal((K, K // group, 3, 3)).astype(np.float32),
             "b": rng.standard_normal(K).astype(np.float32)}
    inits.update(dict(extra_inits))
    conv = helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], group=group)
    return make_model([conv] + act_nodes, [("x", [2, K, 9, 8])], [("y", [2, K, 9, 8])], inits,
                      opset=opset)


def node(op, ins, outs=("y",), **attrs):
    return helper.make_node(op, list(ins), list(outs), **attrs)


# name, activation nodes, extra initializers, opset, activation the fused Conv takes
PATTERNS = [
    ("Relu", [node("Relu", ["c"])], {}, 17, "Relu"),
    ("ReLU6 opset 11+", [node("Clip", ["c", "lo", "hi"])],
     {"lo": np.float32(0), "hi": np.float32(6)}, 17, "Clip"),
    ("Clip max only", [node("Clip", ["c", "", "hi"])], {"hi": np.float32(0.5)}, 17, "Clip"),
    ("Clip opset 6", [node("Clip", ["c"], min=-0.5, max=0.7)], {}, 6, "Clip"),
    ("LeakyRelu", [node("LeakyRelu", ["c"], alpha=0.2)], {}, 17, "LeakyRelu"),
    ("PRelu per channel", [node("PRelu", ["c", "s"])],
     {"s": np.linspace(-1, 1, K, dtype=np.float32).reshape(K, 1, 1)}, 17, "PRelu"),
    ("PRelu one slope", [node("PRelu", ["c", "s"])], {"s": np.array([0.3], np.float32)}, 17, "PRelu"),
    ("HardSigmoid", [node("HardSigmoid", ["c"], alpha=0.25, beta=0.4)], {}, 17, "HardSigmoid"),
    ("HardSwish", [node("HardSwish", ["c"])], {}, 17, "HardSwish"),
    ("Sigmoid", [node("Sigmoid", ["c"])], {}, 17, "Sigmoid"),
    ("SiLU as Sigmoid then Mul", [node("Sigmoid", ["c"], ["g"]), node("Mul", ["c", "g"])], {}, 17, "SiLU"),
    ("SiLU, Mul operands swapped", [node("Sigmoid", ["c"], ["g"]), node("Mul", ["g", "c"])], {}, 17, "SiLU"),
    ("x * HardSigmoid(x)", [node("HardSigmoid", ["c"], ["g"], alpha=1 / 6, beta=0.5),
                            node("Mul", ["c", "g"])], {}, 13, "HardSwish"),
]


def fused_convs(sess):
    return [n for n in sess._base.graph.nodes if n.op_type == "Conv"]


@pytest.mark.parametrize("depthwise", [True, False], ids=["depthwise", "dense"])
@pytest.mark.parametrize("pattern", PATTERNS, ids=[p[0] for p in PATTERNS])
def test_activation_fused_into_conv(pattern, depthwise):
    name, act_nodes, inits, opset, activation = pattern
    model = conv_graph(act_nodes, depthwise, inits, opset)
    x = np.random.default_rng(1).standard_normal((2, K, 9, 8)).astype(np.float32) * 3
    x[0, 2, 4, 4] = np.nan
    x[1, 3, 0, 0] = np.nan
    sess = tinycnn.InferenceSession(model.SerializeToString())
    convs = fused_convs(sess)
    assert len(sess._base.graph.nodes) == 1 and len(convs) == 1, \
        f"{name}: not one fused node: {[(n.op_type, n.domain) for n in sess._base.graph.nodes]}"
    assert convs[0].attrs.get("activation") == activation, f"{name}: {convs[0].attrs}"
    (got,) = sess.run(None, {"x": x})
    (ref,) = ort_run(model, {"x": x})
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"{name}: NaN positions")
    fin = ~np.isnan(ref)
    assert_close(got[fin], ref[fin], 1e-4, name)


NOT_FUSED = [
    # the Sigmoid's output is also a graph output
    ("gate also an output", [node("Sigmoid", ["c"], ["g"]), node("Mul", ["c", "g"])], ["g"]),
    # the conv's output is used by a third node
    ("x used elsewhere", [node("Sigmoid", ["c"], ["g"]), node("Mul", ["c", "g"], ["m"]),
                          node("Add", ["m", "c"])], []),
    # a gate of something else: Mul(c, Sigmoid(c2)) (the squeeze-and-excitation shape)
    ("gate of another value", [node("Relu", ["c"], ["c2"]), node("Sigmoid", ["c2"], ["g"]),
                               node("Mul", ["c", "g"])], []),
]


@pytest.mark.parametrize("case", NOT_FUSED, ids=[c[0] for c in NOT_FUSED])
def test_patterns_left_alone_still_run_right(case):
    name, act_nodes, extra_outputs = case
    model = conv_graph(act_nodes, True)
    for o in extra_outputs:
        model.graph.output.append(helper.make_tensor_value_info(o, 1, None))
    sess = tinycnn.InferenceSession(model.SerializeToString())
    assert all(n.attrs.get("activation", "") in ("", "Relu") for n in fused_convs(sess)), name
    x = np.random.default_rng(2).standard_normal((2, K, 9, 8)).astype(np.float32)
    for got, ref in zip(sess.run(None, {"x": x}), ort_run(model, {"x": x})):
        assert_close(got, ref, 1e-5, name)
