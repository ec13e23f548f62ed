"""Ops whose semantics changed between opsets: one model per side of each change, against onnxruntime."""
import numpy as np
import pytest
from onnx import helper

import tinycnn
from helpers import assert_close, make_model, ort_run

RNG = np.random.default_rng(1)
X = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)


def check(nodes, out_shape, opset, inits=None):
    model = make_model(nodes, [("x", list(X.shape))], [("y", out_shape)], inits or {}, opset=opset)
    got = tinycnn.InferenceSession(model).run(None, {"x": X})[0]
    ref = ort_run(model, {"x": X})[0]
    assert_close(got, ref, what=f"opset {opset}")


@pytest.mark.parametrize("opset", [7, 11, 13, 17])
def test_reducemean_axes_attribute(opset):
    check([helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=1)], None, opset)


@pytest.mark.parametrize("opset", [18, 21])
def test_reducemean_axes_input(opset):
    check([helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)], None, opset,
          {"axes": np.array([1, 3], np.int64)})


@pytest.mark.parametrize("opset", [7, 11, 12])
def test_squeeze_unsqueeze_axes_attribute(opset):
    check([helper.make_node("ReduceMean", ["x"], ["m"], axes=[3], keepdims=1),
           helper.make_node("Squeeze", ["m"], ["s"], axes=[3]),
           helper.make_node("Unsqueeze", ["s"], ["y"], axes=[0])], None, opset)


@pytest.mark.parametrize("opset", [13, 18, 21])
def test_squeeze_unsqueeze_axes_input(opset):
    check([helper.make_node("ReduceMean", ["x", "a3"] if opset >= 18 else ["x"], ["m"], keepdims=1,
                            **({} if opset >= 18 else {"axes": [3]})),
           helper.make_node("Squeeze", ["m", "a3"], ["s"]),
           helper.make_node("Unsqueeze", ["s", "a0"], ["y"])], None, opset,
          {"a3": np.array([3], np.int64), "a0": np.array([0], np.int64)})


@pytest.mark.parametrize("opset", [7, 10])
def test_clip_min_max_attributes(opset):
    check([helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.7)], None, opset)


@pytest.mark.parametrize("opset", [11, 13, 21])
def test_clip_min_max_inputs(opset):
    check([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], None, opset,
          {"lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)})
    check([helper.make_node("Clip", ["x", "", "hi"], ["y"])], None, opset,
          {"hi": np.array(0.1, np.float32)})


@pytest.mark.parametrize("opset", [7, 10])
def test_pad_attributes(opset):
    check([helper.make_node("Pad", ["x"], ["y"], pads=[0, 0, 1, 2, 0, 0, 2, 1], value=1.5)],
          None, opset)


@pytest.mark.parametrize("opset,mode", [(11, "constant"), (13, "reflect"), (18, "edge"), (21, "constant")])
def test_pad_inputs(opset, mode):
    check([helper.make_node("Pad", ["x", "pads", "v"], ["y"], mode=mode)], None, opset,
          {"pads": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64), "v": np.array(1.5, np.float32)})


@pytest.mark.parametrize("opset,axis", [(9, 0), (9, 2), (11, -1), (13, -3), (21, 4)])
def test_flatten_axis(opset, axis):
    check([helper.make_node("Flatten", ["x"], ["y"], axis=axis)], None, opset)


@pytest.mark.parametrize("opset", [7, 11, 12])
@pytest.mark.parametrize("axis", [None, 1, 2, -1])
def test_softmax_before_13_flattens_at_axis(opset, axis):
    kw = {} if axis is None else {"axis": axis}
    check([helper.make_node("Softmax", ["x"], ["y"], **kw)], None, opset)
    check([helper.make_node("LogSoftmax", ["x"], ["y"], **kw)], None, opset)


@pytest.mark.parametrize("opset", [13, 21])
@pytest.mark.parametrize("axis", [None, 1, 2, -1])
def test_softmax_from_13_is_along_one_axis(opset, axis):
    kw = {} if axis is None else {"axis": axis}
    check([helper.make_node("Softmax", ["x"], ["y"], **kw)], None, opset)


@pytest.mark.parametrize("opset", [7, 9])
def test_slice_attributes(opset):
    check([helper.make_node("Slice", ["x"], ["y"], starts=[1, -3], ends=[3, 100], axes=[1, 3])],
          None, opset)


@pytest.mark.parametrize("opset", [10, 13])
def test_slice_inputs_with_steps(opset):
    check([helper.make_node("Slice", ["x", "s", "e", "a", "st"], ["y"])], None, opset,
          {"s": np.array([2, 4], np.int64), "e": np.array([0, -100], np.int64),
           "a": np.array([1, 3], np.int64), "st": np.array([-1, -2], np.int64)})
