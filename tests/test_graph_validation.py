"""Validation at load (issue 6): a malformed graph (undefined inputs, cycles, clashing names) or
an op with out-of-range attributes or mismatched weights is refused naming the node and op;
what can only be checked once the feed is known is checked at run, as clearly."""
import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import tinycnn
from tinycnn import InvalidModel, TinyCNNError, UnsupportedOperator
from helpers import make_model, one_node, ort_run, x_for

RNG = np.random.default_rng(6)


# ---- the graph's structure ---------------------------------------------------------------------

def test_undefined_input_is_named():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r1"),
             helper.make_node("Add", ["a", "ghost"], ["y"], name="add")]
    with pytest.raises(InvalidModel, match="node 'add' \\(Add\\): input 'ghost' is not defined"):
        tinycnn.InferenceSession(make_model(nodes, [("x", [2])], [("y", [2])]))


@pytest.mark.parametrize("nodes,output,cycle", [
    ([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
      helper.make_node("Relu", ["a"], ["b"], name="second"),
      helper.make_node("Relu", ["a"], ["y"], name="out")], "y", "'first', 'second'"),
    # the graph output on the cycle, an omitted optional input on the way in
    ([helper.make_node("Relu", ["x", ""], ["a"], name="r1"),
      helper.make_node("Add", ["a", "b"], ["c"], name="add"),
      helper.make_node("Relu", ["c"], ["b"], name="r2")], "c", "'add', 'r2'"),
], ids=["beside-the-output", "through-the-output"])
def test_cycle_is_refused_naming_the_nodes(nodes, output, cycle):
    with pytest.raises(InvalidModel, match=rf"cycle through nodes \[{cycle}"):
        tinycnn.InferenceSession(make_model(nodes, [("x", [2])], [(output, [2])]))


def test_self_loop_is_refused():
    nodes = [helper.make_node("Add", ["x", "y"], ["y"], name="loop")]
    with pytest.raises(InvalidModel, match="cycle|produced elsewhere"):
        tinycnn.InferenceSession(make_model(nodes, [("x", [2])], [("y", [2])]))


def test_output_produced_twice_and_duplicate_node_names():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="a"),
             helper.make_node("Abs", ["x"], ["y"], name="b")]
    with pytest.raises(InvalidModel, match="node 'b' \\(Abs\\): output 'y' is also produced"):
        tinycnn.InferenceSession(make_model(nodes, [("x", [2])], [("y", [2])]))
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="same"),
             helper.make_node("Abs", ["a"], ["y"], name="same")]
    with pytest.raises(InvalidModel, match="two nodes are named 'same'"):
        tinycnn.InferenceSession(make_model(nodes, [("x", [2])], [("y", [2])]))


def test_unnamed_nodes_never_take_an_explicit_name():
    """Per-node caches are keyed by name: an unnamed node must not collide with 'Relu_1'."""
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="Relu_1"),
             helper.make_node("Relu", ["a"], ["y"])]
    sess = tinycnn.InferenceSession(make_model(nodes, [("x", [2])], [("y", [2])]))
    names = [n.name for n in sess._model.nodes]
    assert len(set(names)) == 2, names


def test_graph_output_not_produced():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r")]
    with pytest.raises(InvalidModel, match="graph output 'zzz' is not produced"):
        tinycnn.InferenceSession(make_model(nodes, [("x", [2])], [("zzz", [2])]))


# ---- attributes and weights of ops ----------------------------------------------------------------

@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("attrs,message", [
    ({"kernel_shape": [0, 2]}, r"kernel_shape=\[0, 2\] must be >= 1"),
    ({"kernel_shape": [2, 2], "strides": [1, 0]}, r"strides=\[1, 0\] must be >= 1"),
    ({"kernel_shape": [2, 2], "dilations": [0, 1]}, r"dilations=\[0, 1\] must be >= 1"),
    ({"kernel_shape": [2, 2], "pads": [0, -1, 0, 0]}, "pads=.* must not be negative"),
    ({"kernel_shape": [2, 2], "pads": [0, 0, 0]}, "pads=.* must have 4 values"),
    ({"kernel_shape": [2, 2, 2]}, "kernel_shape=.* must have 2 values"),
    ({"kernel_shape": [10, 10]}, "does not fit the input's spatial size"),
    ({"kernel_shape": [2, 2], "strides": [1 << 31, 1]}, "32-bit range"),
    ({"kernel_shape": [2, 2], "auto_pad": "SAME_WEIRD"}, "unknown auto_pad"),
    ({}, "kernel_shape is required"),
    ({"kernel_shape": "ab"}, "invalid literal"),
])
def test_pool_attributes_in_range(op, attrs, message):
    with pytest.raises(TinyCNNError, match=f"node 'n0' \\({op}\\).*{message}"):
        tinycnn.InferenceSession(one_node(op, ["x"], attrs))


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_pads_must_be_smaller_than_the_kernel(op):
    """As onnxruntime: a window lying wholly in the padding has no max and no mean."""
    model = one_node(op, ["x"], {"kernel_shape": [2, 3], "pads": [0, 3, 0, 0]})
    with pytest.raises(InvalidModel, match=f"node 'n0' \\({op}\\): pads .* must be smaller than "
                       r"kernel_shape \[2, 3\]"):
        tinycnn.InferenceSession(model)


def test_pool_same_padding_with_dilations_is_refused():
    """onnxruntime pads a dilated SAME pool as if undilated (not the spec): refused, clearly."""
    model = one_node("MaxPool", ["x"], {"kernel_shape": [3, 3], "dilations": [2, 2],
                                        "auto_pad": "SAME_UPPER"})
    with pytest.raises(UnsupportedOperator, match="node 'n0' .*SAME_UPPER with dilations"):
        tinycnn.InferenceSession(model)


@pytest.mark.parametrize("op,attrs", [("MaxPool", {"kernel_shape": [2, 2]}),
                                      ("AveragePool", {"kernel_shape": [2, 2]}),
                                      ("GlobalMaxPool", {}), ("GlobalAveragePool", {})])
def test_empty_spatial_or_channel_feeds_are_refused_naming_the_node(op, attrs):
    node = helper.make_node(op, ["x"], ["y"], name="pool", **attrs)
    sess = tinycnn.InferenceSession(make_model([node], [("x", ["N", "C", "H", "W"])], [("y", None)]))
    assert sess.run(None, {"x": np.zeros((0, 2, 4, 4), np.float32)})[0].shape[0] == 0  # empty batch
    for shape in ((1, 2, 0, 4), (1, 0, 4, 4)):
        with pytest.raises(InvalidModel, match=f"node 'pool' \\({op}\\): input X .* empty"):
            sess.run(None, {"x": np.zeros(shape, np.float32)})


W233 = RNG.normal(size=(4, 2, 3, 3)).astype(np.float32)


@pytest.mark.parametrize("attrs,inits,message", [
    ({"group": 3}, {"W": W233}, "has 2 channels; weight W .* with group=3"),
    ({"group": 0}, {"W": W233}, "group=0"),
    ({}, {"W": np.ones((4, 3, 3, 3), np.float32)}, r"has 2 channels; weight W \(4, 3, 3, 3\)"),
    ({}, {"W": np.ones((4, 2, 3), np.float32)}, "same rank"),
    ({"kernel_shape": [5, 5]}, {"W": W233}, r"kernel_shape=\[5, 5\] disagrees with weight W"),
    ({"strides": [0, 1]}, {"W": W233}, "strides=.* must be >= 1"),
    ({"dilations": [1, -2]}, {"W": W233}, "dilations=.* must be >= 1"),
    ({"pads": [-1, 0, 0, 0]}, {"W": W233}, "must not be negative"),
    ({}, {"W": np.ones((4, 2, 9, 9), np.float32)}, "does not fit"),
])
def test_conv_attributes_and_weight_shapes(attrs, inits, message):
    with pytest.raises(InvalidModel, match=f"node 'n0' \\(Conv\\).*{message}"):
        tinycnn.InferenceSession(one_node("Conv", ["x", "W"], attrs, inits))


def test_conv_bias_size_is_checked():
    inits = {"W": W233, "B": np.ones(3, np.float32)}
    with pytest.raises(InvalidModel, match=r"node 'n0' \(Conv\): bias B \(3,\) must have 4 values"):
        tinycnn.InferenceSession(one_node("Conv", ["x", "W", "B"], {}, inits))

def test_conv_run_time_weight_shapes_are_checked_at_run():
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="n0")
    model = make_model([node], [("x", [1, 2, 8, 8]), ("w", ["K", "C", 3, 3])], [("y", None)])
    sess = tinycnn.InferenceSession(model)
    x = x_for(1, c=2)
    ref = ort_run(model, {"x": x, "w": W233})[0]
    np.testing.assert_allclose(sess.run(None, {"x": x, "w": W233})[0], ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(InvalidModel, match=r"node 'n0' \(Conv\): input X \(1, 2, 8, 8\) has 2 "
                       r"channels; weight W \(4, 3, 3, 3\)"):
        sess.run(None, {"x": x, "w": np.ones((4, 3, 3, 3), np.float32)})


def test_gemm_shapes_are_checked():
    inits = {"B": np.ones((7, 5), np.float32)}
    with pytest.raises(InvalidModel, match=r"node 'n0' \(Gemm\): inner dimensions differ"):
        tinycnn.InferenceSession(one_node("Gemm", ["x", "B"], {}, inits, x_shape=(3, 6)))
    inits = {"B": np.ones((6, 5), np.float32), "C": np.ones(4, np.float32)}
    with pytest.raises(InvalidModel, match=r"node 'n0' \(Gemm\): .*\(4,\).*do not broadcast"):
        tinycnn.InferenceSession(one_node("Gemm", ["x", "B", "C"], {}, inits, x_shape=(3, 6)))


@pytest.mark.parametrize("indices,axis,message", [
    (np.array([2], np.int64), 1, r"indices \[2\] out of range for axis 1 of size 2"),
    (np.array([-3], np.int64), 1, r"indices \[-3\] out of range"),
    (np.array([0], np.int64), 4, "axis=4 is out of range for rank 4"),
    (np.array([0.0], np.float32), 0, "indices have dtype float32"),
])
def test_gather_indices_are_checked_at_load(indices, axis, message):
    model = one_node("Gather", ["x", "i"], {"axis": axis}, {"i": indices})
    with pytest.raises(InvalidModel, match=f"node 'n0' \\(Gather\\): {message}"):
        tinycnn.InferenceSession(model)


def test_gather_indices_are_checked_at_run_when_the_shape_is_dynamic():
    nodes = [helper.make_node("Gather", ["x", "i"], ["y"], axis=1, name="g")]
    model = make_model(nodes, [("x", ["N", "M"])], [("y", None)], {"i": np.array([3], np.int64)})
    sess = tinycnn.InferenceSession(model)   # M is unknown until the first run
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], x[:, [3]])
    with pytest.raises(InvalidModel, match=r"node 'g' \(Gather\): indices \[3\] out of range"):
        sess.run(None, {"x": x[:, :2]})


@pytest.mark.parametrize("target,message", [
    ([7, -1], r"cannot reshape \(1, 2, 8, 8\) \(128 elements\) to \[7, -1\]"),
    ([-1, -1], "more than one -1"),
    ([2, -2, 32], "negative dimension"),
    ([0, 0, 0, 0, 0], "0 at position 4"),
    ([3, 0, 0], "cannot reshape"),
])
def test_reshape_targets_are_checked_at_load(target, message):
    model = one_node("Reshape", ["x", "s"], {}, {"s": np.array(target, np.int64)})
    with pytest.raises(InvalidModel, match=f"node 'n0' \\(Reshape\\): .*{message}"):
        tinycnn.InferenceSession(model)


def test_reshape_target_checked_at_load_with_batch_1_and_at_run_otherwise():
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"], name="r")]
    model = make_model(nodes, [("x", ["N", 6])], [("y", None)], {"s": np.array([4, -1], np.int64)})
    with pytest.raises(InvalidModel, match=r"node 'r' \(Reshape\): cannot reshape \(1, 6\)"):
        tinycnn.InferenceSession(model)   # a symbolic batch is validated at N = 1
    model = make_model(nodes, [("x", ["N", "M"])], [("y", None)], {"s": np.array([2, -1], np.int64)})
    sess = tinycnn.InferenceSession(model)   # nothing checkable at load
    assert sess.run(None, {"x": np.ones((3, 4), np.float32)})[0].shape == (2, 6)
    with pytest.raises(InvalidModel, match=r"node 'r' \(Reshape\): cannot reshape \(3, 3\)"):
        sess.run(None, {"x": np.ones((3, 3), np.float32)})


@pytest.mark.parametrize("op,inputs,attrs,inits,message", [
    ("ConstantOfShape", ["s"], {"value": numpy_helper.from_array(np.zeros(0, np.float32))},
     {"s": np.array([2], np.int64)}, "value must hold one element"),
    ("ConstantOfShape", ["s"], {}, {"s": np.array([2, -3], np.int64)}, "negative dimension"),
    ("Concat", [], {"axis": 0}, {}, "needs at least one input"),
    ("Shape", ["x"], {"start": 1.5}, {}, "invalid attributes or inputs"),
    ("Transpose", ["x"], {"perm": [0, 1, 1, 2]}, {}, "not a permutation"),
    ("Flatten", ["x"], {"axis": 9}, {}, "axis=9 is out of range"),
    ("Squeeze", ["x", "a"], {}, {"a": np.array([1], np.int64)}, "cannot squeeze axis 1"),
    ("Softmax", ["x"], {"axis": 4}, {}, "axis=4 is out of range"),
    ("Slice", ["x", "s", "e", "a", "st"], {},
     {"s": np.array([0], np.int64), "e": np.array([1], np.int64), "a": np.array([0], np.int64),
      "st": np.array([0], np.int64)}, "step of 0"),
    ("Pad", ["x", "p"], {}, {"p": np.array([0, 0, -9, 0, 0, 0, 0, 0], np.int64)}, "remove more"),
    ("Relu", ["x", "x"], {}, {}, "unsupported attributes or inputs"),
    ("Relu", ["x"], {"alpha": 1.0}, {}, "unsupported attributes or inputs"),
])
def test_other_ops_validate_their_attributes(op, inputs, attrs, inits, message):
    with pytest.raises(TinyCNNError, match=f"node 'n0' \\({op}\\).*{message}"):
        tinycnn.InferenceSession(one_node(op, inputs, attrs, inits, opset=15))


def test_attribute_with_unknown_type_is_refused():
    model = one_node("MaxPool", ["x"], {"kernel_shape": [2, 2]})
    data = model.SerializeToString()
    ints_type = bytes([20 << 3 & 0xFF | 0x80, 20 >> 4, onnx.AttributeProto.INTS])  # field 20 = 7
    assert data.count(ints_type) == 1
    # protobuf keeps an unknown enum value aside: the attribute reads as UNDEFINED (no value)
    with pytest.raises(InvalidModel, match="node 'n0' \\(MaxPool\\): attribute kernel_shape is required"):
        tinycnn.InferenceSession(data.replace(ints_type, ints_type[:2] + bytes([99])))
    model.graph.node[0].attribute[0].type = onnx.AttributeProto.INTS
    model.graph.node[0].attribute[0].ref_attr_name = "outer"
    with pytest.raises(InvalidModel, match="reference attribute"):
        tinycnn.InferenceSession(model)

