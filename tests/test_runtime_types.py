"""Run-time tensors other than float32 (issue 14): int64, int32, float64, bool and uint8
graphs through the element-wise, comparison, logic, Where, Cast, Max/Min, reduction and
data-movement ops, with onnxruntime's results; float16 models computed in float32 inside."""
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from helpers import ort_run, rel_diff, tinycnn_session

RNG = np.random.default_rng(17)


def graph_model(nodes, inputs, outputs, opset=17, initializers=None):
    """inputs {name: array}: graph inputs of their dtypes and shapes; outputs: names (types
    from onnx's shape inference, for onnxruntime)."""
    vis = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
           for k, v in inputs.items()]
    graph = helper.make_graph(nodes, "types", vis, [helper.make_empty_tensor_value_info(o) for o in outputs],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return onnx.shape_inference.infer_shapes(model)


def check(model, feeds):
    refs = ort_run(model, feeds)
    gots = tinycnn_session(model).run(None, feeds)
    for name, got, ref in zip([o.name for o in model.graph.output], gots, refs):
        assert got.dtype == ref.dtype, f"{name}: {got.dtype} != {ref.dtype}"
        assert got.shape == ref.shape, f"{name}: {got.shape} != {ref.shape}"
        if got.dtype.kind == "f":
            np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-12, err_msg=name)
        else:
            np.testing.assert_array_equal(got, ref, err_msg=name)


INT_TYPES = [np.int64, np.int32, np.float64]


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_arithmetic_and_comparisons_of_other_types(dtype):
    a = RNG.integers(-50, 50, size=(3, 4, 5)).astype(dtype)
    b = RNG.integers(1, 9, size=(4, 5)).astype(dtype) * np.where(RNG.random((4, 5)) < 0.5, -1, 1).astype(dtype)
    nodes = [helper.make_node(op, ["a", "b"], [op.lower()]) for op in
             ("Add", "Sub", "Mul", "Div", "Max", "Min", "Equal", "Less", "Greater", "LessOrEqual",
              "GreaterOrEqual")]
    nodes += [helper.make_node("Neg", ["a"], ["neg"]), helper.make_node("Abs", ["a"], ["abs"]),
              helper.make_node("Where", ["less", "a", "b"], ["where"]),
              helper.make_node("ReduceSum", ["a", "axes"], ["rsum"], keepdims=0),
              helper.make_node("ReduceMax", ["a"], ["rmax"], axes=[0, 2]),
              helper.make_node("Concat", ["a", "mul"], ["cat"], axis=1),
              helper.make_node("Transpose", ["a"], ["tr"], perm=[2, 0, 1]),
              helper.make_node("Slice", ["a", "st", "en"], ["sl"]),
              helper.make_node("Gather", ["a", "idx"], ["ga"], axis=2),
              helper.make_node("Split", ["a"], ["s0", "s1"], axis=1),
              helper.make_node("Tile", ["b", "rep"], ["ti"]),
              helper.make_node("Expand", ["b", "shp"], ["ex"])]
    outs = [n.output[0] for n in nodes] + ["s1"]
    inits = {"axes": np.array([1]), "st": np.array([1, 0]), "en": np.array([3, 2]), "idx": np.array([4, 0, -1]),
             "rep": np.array([2, 1]), "shp": np.array([2, 4, 5])}
    model = graph_model(nodes, {"a": a, "b": b}, outs, opset=13, initializers=inits)
    check(model, {"a": a, "b": b})


def test_integer_division_truncates_and_integer_pow_goes_through_double():
    a = np.array([7, -7, 7, -7, 0, 9], np.int32)
    b = np.array([2, 2, -2, -2, 3, -4], np.int32)
    e = np.array([2, 3, 0, 1, 5, 2], np.int64)
    f = np.array([0.5, 2, 1.5, 3, 2, 0], np.float32)
    nodes = [helper.make_node("Div", ["a", "b"], ["div"]), helper.make_node("Pow", ["a", "e"], ["powi"]),
             helper.make_node("Pow", ["a", "f"], ["powf"]), helper.make_node("Pow", ["f", "e"], ["powfe"])]
    check(graph_model(nodes, {"a": a, "b": b, "e": e, "f": f}, ["div", "powi", "powf", "powfe"], opset=15),
          {"a": a, "b": b, "e": e, "f": f})


def test_logic_and_bool_reductions():
    p = RNG.random((4, 6)) < 0.5
    q = RNG.random((6,)) < 0.5
    nodes = [helper.make_node("And", ["p", "q"], ["and"]), helper.make_node("Or", ["p", "q"], ["or"]),
             helper.make_node("Xor", ["p", "q"], ["xor"]), helper.make_node("Not", ["p"], ["not"]),
             helper.make_node("ReduceMax", ["p", "ax"], ["any"], keepdims=1),
             helper.make_node("Where", ["p", "i", "j"], ["w"])]
    check(graph_model(nodes, {"p": p, "q": q}, ["and", "or", "xor", "not", "any", "w"], opset=20,
                      initializers={"ax": np.array([1]), "i": np.arange(6, dtype=np.int32),
                                    "j": -np.ones((4, 1), np.int32)}), {"p": p, "q": q})


def test_casts_between_types_match_onnxruntime():
    x = np.array([-2.7, -0.5, 0.0, 0.4, 1.5, 2.5, 200.9, 65504.0, 7e4], np.float32)
    targets = {"i64": TensorProto.INT64, "i32": TensorProto.INT32, "u8": TensorProto.UINT8,
               "b": TensorProto.BOOL, "f64": TensorProto.DOUBLE, "f16": TensorProto.FLOAT16}
    nodes = [helper.make_node("Cast", ["x"], [k], to=t) for k, t in targets.items()]
    nodes += [helper.make_node("Cast", ["i64"], ["back"], to=TensorProto.FLOAT),
              helper.make_node("Cast", ["f16"], ["f16_back"], to=TensorProto.FLOAT),
              helper.make_node("Cast", ["b"], ["b_int"], to=TensorProto.INT32)]
    xs = x[:-3]  # float to uint8 beyond 255 and to int beyond float16's range are undefined
    check(graph_model(nodes, {"x": xs}, list(targets) + ["back", "f16_back", "b_int"]), {"x": xs})


def test_uint8_images_move_through_data_ops():
    img = RNG.integers(0, 256, size=(1, 3, 8, 10)).astype(np.uint8)
    nodes = [helper.make_node("Transpose", ["img"], ["hwc"], perm=[0, 2, 3, 1]),
             helper.make_node("Pad", ["img", "pads"], ["pad"]),
             helper.make_node("Resize", ["img", "", "sc"], ["up"], mode="nearest"),
             helper.make_node("Cast", ["img"], ["f"], to=TensorProto.FLOAT)]
    check(graph_model(nodes, {"img": img}, ["hwc", "pad", "up", "f"], opset=13,
                      initializers={"pads": np.array([0, 0, 1, 2, 0, 0, 1, 2]),
                                    "sc": np.array([1, 1, 2, 2], np.float32)}), {"img": img})


def test_shape_arithmetic_on_a_fed_int64_tensor_runs_at_run_time():
    """A center-crop style graph: the crop computed from a fed int64 shape at every run."""
    shape = np.array([4, 6], np.int64)
    x = RNG.normal(size=(8, 8)).astype(np.float32)
    nodes = [helper.make_node("Shape", ["x"], ["xs"]), helper.make_node("Sub", ["xs", "want"], ["d"]),
             helper.make_node("Div", ["d", "two"], ["start"]), helper.make_node("Max", ["start", "zero"], ["st"]),
             helper.make_node("Mul", ["st", "want"], ["prod"])]
    check(graph_model(nodes, {"x": x, "want": shape}, ["st", "prod"], opset=13,
                      initializers={"two": np.array(2, np.int64), "zero": np.array([0, 0], np.int64)}),
          {"x": x, "want": shape})


# ---- float16 models ----------------------------------------------------------------------------

def to_float16(model, keep_io_types=False):
    """onnxconverter-common's convert_float_to_float16 (what users run on their models)."""
    float16 = pytest.importorskip("onnxconverter_common.float16",
                                  reason="pip install onnxconverter-common for the float16 tests")
    with warnings.catch_warnings():  # "the float32 number 1e-09 will be truncated to 1e-07"
        warnings.simplefilter("ignore", UserWarning)
        return float16.convert_float_to_float16(model, keep_io_types=keep_io_types)


@pytest.mark.slow
def test_a_float16_resnet18_matches_onnxruntime(onnx_export):
    model = onnx.load(str(onnx_export("resnet18", opset=17)))
    reference = tinycnn.InferenceSession(model.SerializeToString())
    for keep_io in (False, True):
        m16 = to_float16(model, keep_io)
        x = RNG.normal(size=(1, 3, 224, 224)).astype(np.float32)
        feed = x if keep_io else x.astype(np.float16)
        (ref16,) = ort_run(m16, {"input": feed})
        session = tinycnn.InferenceSession(m16.SerializeToString())
        assert session.get_inputs()[0].type == ("tensor(float)" if keep_io else "tensor(float16)")
        (got,) = session.run(None, {"input": feed})
        assert got.dtype == ref16.dtype == (np.float32 if keep_io else np.float16)
        # onnxruntime rounds every layer's output to float16; tinycnn keeps float32 inside (the
        # weights alone are float16 values): no further from the float32 network than onnxruntime
        assert rel_diff(got, ref16) <= 5e-3, rel_diff(got, ref16)
        (full,) = reference.run(None, {"input": feed.astype(np.float32)})
        assert rel_diff(got, full) <= rel_diff(ref16, full) + 1e-3, (rel_diff(got, full), rel_diff(ref16, full))


def test_float16_feeds_are_checked_and_outputs_declared_float16():
    x = RNG.normal(size=(2, 5)).astype(np.float16)
    w = RNG.normal(size=(5, 3)).astype(np.float16)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["r"]),
             helper.make_node("Cast", ["r"], ["r32"], to=TensorProto.FLOAT)]
    model = graph_model(nodes, {"x": x}, ["r", "r32"], initializers={"w": w})
    check_dtypes = ort_run(model, {"x": x})
    got = tinycnn_session(model).run(None, {"x": x})
    assert [g.dtype for g in got] == [c.dtype for c in check_dtypes] == [np.float16, np.float32]
    np.testing.assert_allclose(got[0], check_dtypes[0], rtol=2e-3, atol=1e-3)
    with pytest.raises(tinycnn.TinyCNNError, match=r"input 'x' has dtype float32; the model expects tensor\(float16\)"):
        tinycnn_session(model).run(None, {"x": x.astype(np.float32)})
