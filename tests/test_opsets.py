"""Ops whose semantics changed between opsets: one model per side of each change, against
onnxruntime (opset 7 on) or a numpy reference (older opsets, which onnxruntime does not load)."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import tinycnn
from helpers import assert_close, make_model, ort_run, session_options

RNG = np.random.default_rng(5)
X = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)


def run(nodes, opset, inits=None, feeds=None, outputs=("y",), types=None):
    """tinycnn on a model of ``nodes`` fed with x = X; types: {output name: TensorProto type}
    for outputs that are not float.  Returns (model, feeds, outputs)."""
    feeds = {"x": X} if feeds is None else feeds
    model = make_model(nodes, [(k, list(v.shape)) for k, v in feeds.items()],
                       [(o, None) for o in outputs], inits or {}, opset=opset)
    for vi in model.graph.output:
        if types and vi.name in types:
            vi.type.tensor_type.elem_type = types[vi.name]
    return model, feeds, tinycnn.InferenceSession(model).run(None, feeds)


def against_ort(nodes, opset, inits=None, feeds=None, outputs=("y",), types=None):
    model, feeds, got = run(nodes, opset, inits, feeds, outputs, types)
    ref = ort_run(model, feeds)
    for name, g, r in zip(outputs, got, ref):
        if np.issubdtype(r.dtype, np.integer) or r.dtype == bool:
            np.testing.assert_array_equal(g, r, err_msg=f"{name}, opset {opset}")
        else:
            assert_close(g, r, what=f"{name}, opset {opset}")


# ---- ReduceMean, Squeeze/Unsqueeze, Clip, Flatten, Softmax, Slice ------------------------------

@pytest.mark.parametrize("opset", [7, 11, 13, 17])
def test_reducemean_axes_attribute(opset):
    against_ort([helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=1)], opset)


@pytest.mark.parametrize("opset", [18, 21])
def test_reducemean_axes_input(opset):
    against_ort([helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)], opset,
                {"axes": np.array([1, 3], np.int64)})


@pytest.mark.parametrize("opset", [7, 11, 12])
def test_squeeze_unsqueeze_axes_attribute(opset):
    against_ort([helper.make_node("ReduceMean", ["x"], ["m"], axes=[3], keepdims=1),
                 helper.make_node("Squeeze", ["m"], ["s"], axes=[3]),
                 helper.make_node("Unsqueeze", ["s"], ["y"], axes=[0])], opset)


@pytest.mark.parametrize("opset", [13, 18, 21])
def test_squeeze_unsqueeze_axes_input(opset):
    against_ort([helper.make_node("ReduceMean", ["x", "a3"] if opset >= 18 else ["x"], ["m"], keepdims=1,
                                  **({} if opset >= 18 else {"axes": [3]})),
                 helper.make_node("Squeeze", ["m", "a3"], ["s"]),
                 helper.make_node("Unsqueeze", ["s", "a0"], ["y"])], opset,
                {"a3": np.array([3], np.int64), "a0": np.array([0], np.int64)})


@pytest.mark.parametrize("opset", [7, 10])
def test_clip_min_max_attributes(opset):
    against_ort([helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.7)], opset)


@pytest.mark.parametrize("opset", [11, 13, 21])
def test_clip_min_max_inputs(opset):
    against_ort([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], opset,
                {"lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)})
    against_ort([helper.make_node("Clip", ["x", "", "hi"], ["y"])], opset,
                {"hi": np.array(0.1, np.float32)})


@pytest.mark.parametrize("opset,axis", [(9, 0), (9, 2), (11, -1), (13, -3), (21, 4)])
def test_flatten_axis(opset, axis):
    against_ort([helper.make_node("Flatten", ["x"], ["y"], axis=axis)], opset)


@pytest.mark.parametrize("opset", [7, 11, 12])
@pytest.mark.parametrize("axis", [None, 1, 2, -1])
def test_softmax_before_13_flattens_at_axis(opset, axis):
    kw = {} if axis is None else {"axis": axis}
    against_ort([helper.make_node("Softmax", ["x"], ["y"], **kw)], opset)
    against_ort([helper.make_node("LogSoftmax", ["x"], ["y"], **kw)], opset)


@pytest.mark.parametrize("opset", [13, 21])
@pytest.mark.parametrize("axis", [None, 1, 2, -1])
def test_softmax_from_13_is_along_one_axis(opset, axis):
    kw = {} if axis is None else {"axis": axis}
    against_ort([helper.make_node("Softmax", ["x"], ["y"], **kw)], opset)


@pytest.mark.parametrize("opset", [7, 9])
def test_slice_attributes(opset):
    against_ort([helper.make_node("Slice", ["x"], ["y"], starts=[1, -3], ends=[3, 100], axes=[1, 3])], opset)


@pytest.mark.parametrize("opset", [10, 13])
def test_slice_inputs_with_steps(opset):
    against_ort([helper.make_node("Slice", ["x", "s", "e", "a", "st"], ["y"])], opset,
                {"s": np.array([2, 4], np.int64), "e": np.array([0, -100], np.int64),
                 "a": np.array([1, 3], np.int64), "st": np.array([-1, -2], np.int64)})


# ---- binary ops: legacy broadcast=1 with axis (opsets 1-6), numpy broadcasting (7 on) --------

@pytest.mark.parametrize("op,fn", [("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply),
                                   ("Div", np.divide)])
def test_legacy_broadcast_axis_opset6(op, fn):
    b = RNG.uniform(1, 2, 3).astype(np.float32)
    _, _, (got,) = run([helper.make_node(op, ["x", "b"], ["y"], broadcast=1, axis=1)], 6, {"b": b})
    assert_close(got, fn(X, b.reshape(3, 1, 1)), what=f"{op} broadcast axis=1")
    c = RNG.uniform(1, 2, 5).astype(np.float32)   # no axis: trailing alignment
    _, _, (got,) = run([helper.make_node(op, ["x", "c"], ["y"], broadcast=1)], 6, {"c": c})
    assert_close(got, fn(X, c), what=f"{op} broadcast, trailing")


@pytest.mark.parametrize("opset", [7, 13, 14])
def test_numpy_broadcasting_from_opset7(opset):
    b = RNG.uniform(1, 2, (3, 1, 5)).astype(np.float32)
    against_ort([helper.make_node("Mul", ["x", "b"], ["y"])], opset, {"b": b})


def test_legacy_broadcast_is_not_numpy_broadcasting():
    """The same B of 3 values: per channel (axis=1) at opset 6, refused by numpy rules at 7."""
    b = np.arange(3, dtype=np.float32)
    _, _, (got,) = run([helper.make_node("Add", ["x", "b"], ["y"], broadcast=1, axis=1)], 6, {"b": b})
    assert_close(got, X + b.reshape(3, 1, 1))
    with pytest.raises(tinycnn.InvalidModel, match="do not broadcast"):
        run([helper.make_node("Add", ["x", "b"], ["y"])], 7, {"b": b})


# ---- PRelu: per-channel slope (opsets 1-6), unidirectional broadcasting (7 on) ---------------

def test_prelu_slope_per_channel_opset6():
    slope = np.array([0.1, 0.2, 0.3], np.float32)
    _, _, (got,) = run([helper.make_node("PRelu", ["x", "s"], ["y"])], 6, {"s": slope})
    assert_close(got, np.where(X < 0, X * slope.reshape(3, 1, 1), X))


@pytest.mark.parametrize("opset", [7, 9, 16])
def test_prelu_broadcast_from_opset7(opset):
    slope = RNG.uniform(0, 0.5, (3, 1, 1)).astype(np.float32)
    against_ort([helper.make_node("PRelu", ["x", "s"], ["y"])], opset, {"s": slope})


# ---- Concat / Reshape / Pad: attributes that moved or changed ------------------------------

def test_concat_axis_defaults_to_1_before_opset4():
    _, _, (got,) = run([helper.make_node("Concat", ["x", "x"], ["y"])], 3)
    np.testing.assert_array_equal(got, np.concatenate([X, X], axis=1))


@pytest.mark.parametrize("opset", [4, 11, 13])
def test_concat_axis_required_from_opset4(opset):
    against_ort([helper.make_node("Concat", ["x", "x"], ["y"], axis=-1)], opset)


def test_reshape_shape_attribute_before_opset5():
    _, _, (got,) = run([helper.make_node("Reshape", ["x"], ["y"], shape=[0, -1])], 4)
    np.testing.assert_array_equal(got, X.reshape(2, -1))


@pytest.mark.parametrize("opset,allowzero", [(5, 0), (13, 0), (14, 0), (14, 1)])
def test_reshape_shape_input(opset, allowzero):
    attrs = {"allowzero": allowzero} if opset >= 14 else {}
    shape = np.array([0, 3, -1] if not allowzero else [2, 3, 20], np.int64)
    against_ort([helper.make_node("Reshape", ["x", "s"], ["y"], **attrs)], opset, {"s": shape})


def test_pad_paddings_attribute_opset1():
    _, _, (got,) = run([helper.make_node("Pad", ["x"], ["y"], paddings=[0, 0, 1, 2, 0, 0, 3, 0],
                                         value=1.5)], 1)
    np.testing.assert_array_equal(got, np.pad(X, [(0, 0), (0, 0), (1, 3), (2, 0)], constant_values=1.5))


@pytest.mark.parametrize("opset,mode", [(2, "edge"), (7, "reflect"), (7, "constant"), (10, "constant"),
                                        (11, "constant"), (13, "reflect"), (18, "edge"), (19, "wrap"),
                                        (21, "reflect"), (21, "constant")])
def test_pad_modes(opset, mode):
    """pads and value: attributes before opset 11, inputs from 11 (value ignored but for 'constant')."""
    pads = [0, 0, 1, 2, 0, 0, 2, 1]
    if opset < 11:
        nodes, inits = [helper.make_node("Pad", ["x"], ["y"], pads=pads, mode=mode, value=1.5)], {}
    else:
        nodes = [helper.make_node("Pad", ["x", "p", "v"], ["y"], mode=mode)]
        inits = {"p": np.array(pads, np.int64), "v": np.array(1.5, np.float32)}
    against_ort(nodes, opset, inits)


def test_pad_wrap_is_refused_before_opset19():
    with pytest.raises(tinycnn.UnsupportedOperator, match="'wrap' is not supported at opset 18"):
        run([helper.make_node("Pad", ["x", "p"], ["y"], mode="wrap")], 18,
            {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)})


def test_pad_constant_value_computed_at_run_time():
    v = np.array(2.5, np.float32)
    nodes = [helper.make_node("Pad", ["x", "p", "v"], ["y"])]
    model = make_model(nodes, [("x", list(X.shape)), ("v", [])], [("y", None)],
                       {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)}, opset=13)
    got = tinycnn.InferenceSession(model).run(None, {"x": X, "v": v})[0]
    assert_close(got, ort_run(model, {"x": X, "v": v})[0])


# ---- ReduceSum (axes input at 13) and ReduceMax (axes input at 18) -----------------------------

@pytest.mark.parametrize("op,moved", [("ReduceSum", 13), ("ReduceMax", 18)])
@pytest.mark.parametrize("side", ["before", "after"])
def test_reduce_axes_attribute_then_input(op, moved, side):
    if side == "before":
        against_ort([helper.make_node(op, ["x"], ["y"], axes=[1, 3], keepdims=0)], moved - 1)
    else:
        against_ort([helper.make_node(op, ["x", "a"], ["y"], keepdims=1)], moved,
                    {"a": np.array([-1, 1], np.int64)})


# ---- Dropout: training_mode input (opset 12 on) ----------------------------------------------

@pytest.mark.parametrize("opset", [7, 10, 12, 13])
def test_dropout_inference_with_mask(opset):
    nodes = [helper.make_node("Dropout", ["x"], ["y", "m"])]
    model, feeds, (y, m) = run(nodes, opset, outputs=("y", "m"))
    np.testing.assert_array_equal(y, X)
    assert m.dtype == bool and m.all()


def test_dropout_training_mode_with_ratio_zero_is_identity_and_other_ratios_are_refused():
    inits = {"r": np.array(0.0, np.float32), "t": np.array(True)}
    _, _, (y,) = run([helper.make_node("Dropout", ["x", "r", "t"], ["y"])], 13, inits)
    np.testing.assert_array_equal(y, X)
    inits["r"] = np.array(0.5, np.float32)
    with pytest.raises(tinycnn.UnsupportedOperator, match="training-mode Dropout"):
        run([helper.make_node("Dropout", ["x", "r", "t"], ["y"])], 13, inits)


# ---- BatchNormalization: training_mode and its outputs (opset 14 on) --------------------------

def _bn_params():
    return {"s": RNG.uniform(0.5, 1.5, 3).astype(np.float32), "b": RNG.normal(0, 0.1, 3).astype(np.float32),
            "m": RNG.normal(0, 0.1, 3).astype(np.float32), "v": RNG.uniform(0.5, 2, 3).astype(np.float32)}


@pytest.mark.parametrize("opset", [7, 9, 14, 15])
def test_batchnorm_inference(opset):
    attrs = {"spatial": 1} if opset < 9 else {}
    against_ort([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3,
                                  **attrs)], opset, _bn_params())


def test_batchnorm_training_mode_opset15():
    p = _bn_params()
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm", "rv"],
                            training_mode=1, momentum=0.8, epsilon=1e-5)
    _, _, (y, rm, rv) = run([node], 15, p, outputs=("y", "rm", "rv"))
    mean, var = X.mean(axis=(0, 2, 3)), X.var(axis=(0, 2, 3))
    sh = (3, 1, 1)
    ref = (X - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + 1e-5) * p["s"].reshape(sh) + p["b"].reshape(sh)
    assert_close(y, ref, what="y")
    assert_close(rm, p["m"] * 0.8 + mean * 0.2, what="running_mean")
    assert_close(rv, p["v"] * 0.8 + var * 0.2, what="running_var")


# ---- MaxPool's Indices output (storage_order from opset 8) ------------------------------------

@pytest.mark.parametrize("opset,attrs", [
    (8, {"kernel_shape": [2, 2], "strides": [2, 2]}),
    (8, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "storage_order": 1}),
    (12, {"kernel_shape": [2, 3], "strides": [1, 2], "pads": [0, 1, 1, 0]}),
    (12, {"kernel_shape": [2, 2], "dilations": [2, 1], "ceil_mode": 1, "strides": [2, 2]}),
    (22, {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}),
])
def test_maxpool_indices(opset, attrs):
    x = RNG.normal(size=(2, 3, 7, 6) if len(attrs["kernel_shape"]) == 2 else (2, 3, 9)).astype(np.float32)
    against_ort([helper.make_node("MaxPool", ["x"], ["y", "i"], **attrs)], opset, feeds={"x": x},
                outputs=("y", "i"), types={"i": TensorProto.INT64})


# ---- inputs that ONNX allows to be computed at run time ---------------------------------------

@pytest.mark.parametrize("opset", [11, 13])
def test_clip_bounds_at_run_time_and_min_above_max(opset):
    nodes = [helper.make_node("Clip", ["x", "lo", "hi"], ["y"])]
    for lo, hi in ((-0.5, 0.7), (0.5, -0.2)):
        feeds = {"x": X, "lo": np.array(lo, np.float32), "hi": np.array(hi, np.float32)}
        model = make_model(nodes, [("x", list(X.shape)), ("lo", []), ("hi", [])], [("y", None)],
                           opset=opset)
        got = tinycnn.InferenceSession(model).run(None, feeds)[0]
        assert_close(got, ort_run(model, feeds)[0], what=f"Clip({lo}, {hi})")
        assert_close(got, np.minimum(np.maximum(X, lo), hi), what=f"Clip({lo}, {hi}) vs numpy")


@pytest.mark.parametrize("with_bias", [False, True])
def test_conv_weights_at_run_time(with_bias):
    w = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
    feeds = {"x": X, "w": w}
    ins = [("x", list(X.shape)), ("w", list(w.shape))]
    if with_bias:
        feeds["b"] = RNG.normal(size=4).astype(np.float32)
        ins.append(("b", [4]))
    nodes = [helper.make_node("Conv", list(feeds), ["y"], pads=[1, 0, 1, 2], strides=[1, 2])]
    model = make_model(nodes, ins, [("y", None)], opset=11)
    got = tinycnn.InferenceSession(model).run(None, feeds)[0]
    assert_close(got, ort_run(model, feeds)[0])


def test_gather_indices_at_run_time():
    idx = np.array([[0, 2], [-1, 1]], np.int64)
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], axis=1)], [("x", list(X.shape))],
                       [("y", None)], opset=13)
    model.graph.input.append(helper.make_tensor_value_info("i", TensorProto.INT64, [2, 2]))
    got = tinycnn.InferenceSession(model).run(None, {"x": X, "i": idx})[0]
    np.testing.assert_array_equal(got, ort_run(model, {"x": X, "i": idx})[0])


@pytest.mark.parametrize("opset", [7, 11])
def test_conv_1d_keeps_rank_3(opset):
    x = RNG.normal(size=(2, 3, 11)).astype(np.float32)
    w = RNG.normal(size=(4, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[2, 1], dilations=[2])]
    model = make_model(nodes, [("x", list(x.shape))], [("y", None)], {"w": w}, opset=opset)
    got = tinycnn.InferenceSession(model).run(None, {"x": x})[0]
    ref = ort_run(model, {"x": x})[0]
    assert got.shape == ref.shape == (2, 4, 10)
    assert_close(got, ref)


# ---- 3-D pooling (numpy paths); 3-D convolution is refused ------------------------------------

def test_conv3d_is_refused_by_name():
    w = RNG.normal(0, 0.3, (4, 4, 3, 3, 3)).astype(np.float32)
    model = make_model([helper.make_node("Conv", ["x", "w"], ["y"], name="c3")],
                       [("x", [1, 4, 5, 6, 7])], [("y", None)], {"w": w}, opset=13)
    with pytest.raises(tinycnn.UnsupportedOperator, match=r"'c3' \(Conv\): only 1-D and 2-D"):
        tinycnn.InferenceSession(model)


@pytest.mark.parametrize("level", [0, 99])
def test_pools_3d(level):
    x = RNG.normal(size=(2, 4, 5, 6, 7)).astype(np.float32)
    inits = {}
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("MaxPool", ["a"], ["p"], kernel_shape=[2, 3, 2], strides=[2, 2, 1],
                              pads=[0, 1, 1, 1, 1, 0], ceil_mode=1),
             helper.make_node("AveragePool", ["p"], ["y"], kernel_shape=[2, 2, 2], pads=[1, 0, 1, 0, 1, 1],
                              count_include_pad=1)]
    model = make_model(nodes, [("x", list(x.shape))], [("y", None)], inits, opset=13)
    opts = session_options(graph_optimization_level=tinycnn.GraphOptimizationLevel(level))
    got = tinycnn.InferenceSession(model, opts).run(None, {"x": x})[0]
    assert_close(got, ort_run(model, {"x": x})[0], what=f"3-D block, level {level}")
