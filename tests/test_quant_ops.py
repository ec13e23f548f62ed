"""Every quantized op against onnxruntime, element for element: QuantizeLinear and
DequantizeLinear (ties, saturation, NaN, zero points at the limits of their types),
QLinearConv (groups, depthwise, strides, pads, dilations, 1-D, int8), the GEMMs, the
com.microsoft element-wise ops and pools, 8-bit MaxPool, the channels-last conversions
between quantized and float ops, the QDQ rewriting, and the errors of bad parameters.
Each runs on the AVX2 path without VNNI (forced: TINYCNN_ISA=avx2) and on the portable one,
and on this CPU's VNNI tier when it has one."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from helpers import ort_run, session_options
from tinycnn import _kernels

TIERS = sorted({"portable", "avx2", _kernels.best_int8_isa()}, key=_kernels.INT8_ISAS.index)

TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.uint8): TensorProto.UINT8,
         np.dtype(np.int8): TensorProto.INT8, np.dtype(np.int32): TensorProto.INT32}


@pytest.fixture(autouse=True, params=TIERS)
def tier(request, monkeypatch):
    """Every session of the test runs this 8-bit tier (a tier above the CPU's is skipped)."""
    if request.param not in _kernels.int8_isas():
        pytest.skip(f"CPU lacks {request.param}")
    monkeypatch.setenv("TINYCNN_ISA", _kernels.INT8_ISA_SETTINGS[request.param])
    return request.param


def model(nodes, inputs, outputs, inits=(), opset=13):
    """inputs/outputs: [(name, dtype, shape)]; inits: {name: array}."""
    def vi(name, dtype, shape):
        return helper.make_tensor_value_info(name, TYPES[np.dtype(dtype)], shape)
    graph = helper.make_graph(nodes, "q", [vi(*i) for i in inputs], [vi(*o) for o in outputs],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(inits).items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def run_both(m, feeds):
    sess = tinycnn.InferenceSession(m.SerializeToString())
    return sess.run(None, feeds), ort_run(m, feeds)


def assert_same(m, feeds, what=""):
    got, ref = run_both(m, feeds)
    for g, r, o in zip(got, ref, m.graph.output):
        assert g.dtype == r.dtype and g.shape == r.shape, f"{what} {o.name}: {g.dtype}{g.shape} vs {r.dtype}{r.shape}"
        diff = g != r
        assert not diff.any(), (f"{what} {o.name}: {diff.sum()} of {g.size} elements differ from "
                                f"onnxruntime (max |diff| {np.abs(g.astype(np.float64) - r).max()})")
    return got


def scalar(v, dtype):
    return np.array(v, dtype)


# ---- QuantizeLinear / DequantizeLinear ----------------------------------------------------

@pytest.mark.parametrize("dtype,zp", [(np.uint8, 0), (np.uint8, 255), (np.uint8, 128),
                                      (np.int8, -128), (np.int8, 127), (np.int8, 0)])
def test_quantize_linear_ties_saturation_and_nan_as_onnxruntime(dtype, zp):
    s = np.float32(0.25)
    ties = (np.arange(-600, 600) + 0.5).astype(np.float32) * s      # x / s exactly k + 0.5
    x = np.concatenate([ties, [np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0, -0.0]]).astype(np.float32)
    m = model([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])],
              [("x", np.float32, [x.size])], [("y", dtype, [x.size])],
              {"s": scalar(s, np.float32), "z": scalar(zp, dtype)})
    assert_same(m, {"x": x})


def test_quantize_and_dequantize_per_axis_as_onnxruntime():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 6, 5, 3)) * 4).astype(np.float32)
    s = (rng.random(6) * 0.1 + 0.01).astype(np.float32)
    z = rng.integers(-20, 20, 6).astype(np.int8)
    m = model([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
               helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)],
              [("x", np.float32, x.shape)], [("q", np.int8, x.shape), ("y", np.float32, x.shape)],
              {"s": s, "z": z})
    assert_same(m, {"x": x})


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32])
def test_dequantize_linear_as_onnxruntime(dtype):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype)
    x = rng.integers(max(info.min, -2 ** 20), min(info.max, 2 ** 20), (3, 100), endpoint=True)
    x = x.astype(dtype)
    x.flat[:2] = info.min, info.max
    zp = 0 if dtype == np.int32 else int(rng.integers(info.min, info.max))
    m = model([helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"])],
              [("x", dtype, x.shape)], [("y", np.float32, x.shape)],
              {"s": scalar(0.0173, np.float32), "z": scalar(zp, dtype)})
    assert_same(m, {"x": x})


def test_dynamic_quantize_linear_as_onnxruntime():
    rng = np.random.default_rng(2)
    for x in (rng.standard_normal((4, 33)).astype(np.float32) * 3,
              np.abs(rng.standard_normal(50)).astype(np.float32), np.zeros(7, np.float32)):
        m = model([helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])],
                  [("x", np.float32, x.shape)],
                  [("y", np.uint8, x.shape), ("s", np.float32, []), ("z", np.uint8, [])])
        assert_same(m, {"x": x}, f"x {x.shape}")


# ---- QLinearConv, ConvInteger ------------------------------------------------------------------

def qconv_model(x_shape, w, x_dtype, stride, pads, dil, group, bias=True, per_channel=True,
                seed=0, y_zp=None):
    rng = np.random.default_rng(seed)
    k = w.shape[0]
    ws = (rng.random(k if per_channel else 1) * 0.01 + 0.002).astype(np.float32)
    inits = {"xs": scalar(0.02, np.float32), "xz": scalar(7 if x_dtype == np.uint8 else -3, x_dtype),
             "w": w, "ws": ws, "wz": np.zeros(k if per_channel else (), w.dtype),
             "ys": scalar(0.05, np.float32),
             "yz": scalar(y_zp if y_zp is not None else (100 if x_dtype == np.uint8 else 5), x_dtype)}
    ins = ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"]
    if bias:
        inits["b"] = rng.integers(-3000, 3000, k).astype(np.int32)
        ins.append("b")
    nd = len(x_shape) - 2
    node = helper.make_node("QLinearConv", ins, ["y"], strides=[stride] * nd, pads=pads,
                            dilations=[dil] * nd, group=group)
    return model([node], [("x", x_dtype, x_shape)], [("y", x_dtype, None)], inits, opset=10)


CONV_CASES = [  # x shape, (K, C/group, kernel...), stride, pads, dilation, group
    ((1, 3, 17, 19), (8, 3, 7, 7), 2, [3, 3, 3, 3], 1, 1),
    ((2, 16, 9, 9), (24, 16, 3, 3), 1, [1, 1, 1, 1], 1, 1),
    ((1, 32, 10, 12), (32, 1, 3, 3), 1, [1, 1, 1, 1], 1, 32),      # depthwise
    ((1, 24, 11, 11), (24, 1, 5, 5), 2, [2, 2, 2, 2], 1, 24),      # depthwise 5x5 stride 2
    ((1, 12, 8, 8), (18, 4, 3, 3), 1, [0, 1, 2, 0], 2, 3),         # groups, dilation
    ((1, 64, 7, 7), (40, 64, 1, 1), 1, [0, 0, 0, 0], 1, 1),        # pointwise
    ((1, 64, 8, 8), (16, 64, 1, 1), 2, [0, 0, 0, 0], 1, 1),        # strided pointwise
    ((2, 5, 30), (7, 5, 4), 2, [1, 2], 1, 1),                      # 1-D
]


@pytest.mark.parametrize("x_dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_qlinearconv_as_onnxruntime(case, x_dtype):
    x_shape, w_shape, stride, pads, dil, group = CONV_CASES[case]
    rng = np.random.default_rng(case)
    w = rng.integers(-127, 128, w_shape).astype(np.int8)
    info = np.iinfo(x_dtype)
    x = rng.integers(info.min, info.max, x_shape, endpoint=True).astype(x_dtype)
    m = qconv_model(x_shape, w, x_dtype, stride, pads, dil, group, bias=case % 2 == 0,
                    per_channel=case != 1, seed=case)
    assert_same(m, {"x": x}, f"case {case}")


def test_qlinearconv_uint8_weights_with_a_zero_point_as_onnxruntime():
    rng = np.random.default_rng(9)
    w = rng.integers(0, 256, (12, 6, 3, 3)).astype(np.uint8)
    x = rng.integers(0, 256, (1, 6, 9, 9)).astype(np.uint8)
    m = qconv_model(x.shape, w, np.uint8, 1, [1, 1, 1, 1], 1, 1, per_channel=False)
    for init in m.graph.initializer:
        if init.name == "wz":
            init.CopyFrom(numpy_helper.from_array(np.array(131, np.uint8), "wz"))
    assert_same(m, {"x": x})


def test_conv_integer_as_onnxruntime():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (1, 4, 9, 8)).astype(np.uint8)
    w = rng.integers(0, 256, (6, 4, 3, 3)).astype(np.uint8)
    m = model([helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], pads=[1, 0, 1, 2])],
              [("x", np.uint8, x.shape)], [("y", np.int32, None)],
              {"w": w, "xz": scalar(131, np.uint8), "wz": scalar(77, np.uint8)}, opset=10)
    assert_same(m, {"x": x})


# ---- GEMMs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("a_shape,b_shape", [((5, 37), (37, 23)), ((2, 3, 64), (64, 40)),
                                             ((1, 512), (512, 1000))])
def test_qlinear_matmul_and_matmul_integer_as_onnxruntime(a_shape, b_shape):
    rng = np.random.default_rng(a_shape[-1])
    a = rng.integers(0, 256, a_shape).astype(np.uint8)
    b = rng.integers(-128, 128, b_shape).astype(np.int8)
    n = b_shape[-1]
    inits = {"b": b, "as": scalar(0.03, np.float32), "az": scalar(120, np.uint8),
             "bs": (rng.random(n) * 0.02 + 0.001).astype(np.float32), "bz": np.zeros(n, np.int8),
             "ys": scalar(0.4, np.float32), "yz": scalar(90, np.uint8)}
    m = model([helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"]),
               helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["i"])],
              [("a", np.uint8, a_shape)], [("y", np.uint8, None), ("i", np.int32, None)], inits)
    assert_same(m, {"a": a})


@pytest.mark.parametrize("with_c,float_out,trans_b", [(True, False, 1), (False, False, 0),
                                                      (True, True, 1)])
def test_qgemm_as_onnxruntime(with_c, float_out, trans_b):
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (3, 50)).astype(np.uint8)
    b = rng.integers(-128, 128, (20, 50) if trans_b else (50, 20)).astype(np.int8)
    inits = {"b": b, "as": scalar(0.02, np.float32), "az": scalar(128, np.uint8),
             "bs": (rng.random(20) * 0.02 + 0.001).astype(np.float32), "bz": np.zeros(20, np.int8),
             "c": rng.integers(-5000, 5000, 20).astype(np.int32),
             "ys": scalar(0.3, np.float32), "yz": scalar(128, np.uint8)}
    ins = ["a", "as", "az", "b", "bs", "bz", "c" if with_c else ""]
    if not float_out:
        ins += ["ys", "yz"]
    node = helper.make_node("QGemm", ins, ["y"], domain="com.microsoft", alpha=0.75, transB=trans_b)
    m = model([node], [("a", np.uint8, a.shape)], [("y", np.float32 if float_out else np.uint8, None)],
              inits)
    assert_same(m, {"a": a})


# ---- element-wise and pools -------------------------------------------------------------------

def binary_model(op, a_shape, b_shape, dtype, b_const=None):
    lo = -128 if dtype == np.int8 else 0
    inits = {"as": scalar(0.05, np.float32), "az": scalar(lo + 120, dtype),
             "bs": scalar(0.031, np.float32), "bz": scalar(lo + 7, dtype),
             "cs": scalar(0.07, np.float32), "cz": scalar(lo + 131, dtype)}
    inputs = [("a", dtype, a_shape)]
    if b_const is not None:
        inits["b"] = b_const
    else:
        inputs.append(("b", dtype, b_shape))
    node = helper.make_node(op, ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["y"],
                            domain="com.microsoft")
    return model([node], inputs, [("y", dtype, None)], inits)


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("a_shape,b_shape", [((2, 8, 5, 5), (2, 8, 5, 5)), ((1, 16, 6, 7), (1, 16, 1, 1)),
                                             ((3, 70), (1,)), ((1,), (4, 9)), ((4, 1, 6), (5, 1))])
def test_qlinear_add_and_mul_as_onnxruntime(op, dtype, a_shape, b_shape):
    rng = np.random.default_rng(6)
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, a_shape, endpoint=True).astype(dtype)
    b = rng.integers(info.min, info.max, b_shape, endpoint=True).astype(dtype)
    assert_same(binary_model(op, a_shape, b_shape, dtype), {"a": a, "b": b}, f"{a_shape} {b_shape}")


@pytest.mark.parametrize("op,attrs", [("QLinearSigmoid", {}), ("QLinearLeakyRelu", {"alpha": 0.13})])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_lookup_ops_as_onnxruntime(op, attrs, dtype):
    info = np.iinfo(dtype)
    x = np.arange(info.min, info.max + 1).astype(dtype).reshape(1, 4, 8, 8)
    node = helper.make_node(op, ["x", "xs", "xz", "ys", "yz"], ["y"], domain="com.microsoft", **attrs)
    m = model([node], [("x", dtype, x.shape)], [("y", dtype, x.shape)],
              {"xs": scalar(0.061, np.float32), "xz": scalar(info.min + 130, dtype),
               "ys": scalar(0.0041, np.float32), "yz": scalar(info.min + 3, dtype)})
    assert_same(m, {"x": x})


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("sigmoid_first", [False, True])
def test_sigmoid_times_its_input_fuses_into_one_table_exactly_as_onnxruntime(dtype, sigmoid_first):
    """QLinearMul(x, QLinearSigmoid(x)) (SiLU) runs as one tinycnn::QLinearSigmoidMul lookup;
    every byte of x against onnxruntime's two steps, scales that round ties and saturate."""
    info = np.iinfo(dtype)
    x = np.arange(info.min, info.max + 1).astype(dtype).reshape(1, 4, 8, 8)
    sig = helper.make_node("QLinearSigmoid", ["x", "xs", "xz", "ss", "sz"], ["s"],
                           domain="com.microsoft")
    ab = ["s", "ss", "sz", "x", "xs", "xz"] if sigmoid_first else ["x", "xs", "xz", "s", "ss", "sz"]
    mul = helper.make_node("QLinearMul", ab + ["ys", "yz"], ["y"], domain="com.microsoft")
    m = model([sig, mul], [("x", dtype, x.shape)], [("y", dtype, x.shape)],
              {"xs": scalar(0.061, np.float32), "xz": scalar(info.min + 130, dtype),
               "ss": scalar(1 / 255, np.float32), "sz": scalar(info.min, dtype),
               "ys": scalar(0.03, np.float32), "yz": scalar(info.min + 10, dtype)})
    sess = tinycnn.InferenceSession(m.SerializeToString())
    assert [n.op_type for n in sess._graph.nodes] == ["QLinearSigmoidMul"]
    assert_same(m, {"x": x})


LOOKUP_CONVS = [  # x shape, (K, C/group, kH, kW), stride, pads, group
    ((2, 5, 9, 11), (7, 5, 3, 3), 2, [1, 1, 1, 1], 1),      # stem-like, odd channels
    ((1, 19, 8, 7), (19, 1, 3, 3), 1, [1, 1, 1, 1], 19),    # depthwise
    ((2, 24, 6, 6), (37, 24, 1, 1), 1, [0, 0, 0, 0], 1),    # expand 1x1
    ((1, 16, 9, 9), (16, 16, 3, 3), 1, [1, 1, 1, 1], 1),    # 3x3 (the integer Winograd)
    ((1, 6, 7, 7), (9, 2, 3, 3), 1, [1, 0, 1, 0], 3),       # groups
]


@pytest.mark.parametrize("case", range(len(LOOKUP_CONVS)))
@pytest.mark.parametrize("lookup", ["silu", "silu_sigmoid_first", "QLinearSigmoid", "QLinearLeakyRelu"])
@pytest.mark.parametrize("dtype,zps", [(np.uint8, (0, 255, 0)), (np.uint8, (255, 0, 128)),
                                       (np.int8, (-128, 127, 0)), (np.int8, (127, -128, -1))])
@pytest.mark.parametrize("threads", [1, 2])
def test_lookup_after_a_convolution_fuses_into_its_output_stage_as_onnxruntime(
        case, lookup, dtype, zps, threads):
    """QLinearConv -> QLinearSigmoid [-> QLinearMul by the conv's output] (SiLU, the SE
    gate) or QLinearLeakyRelu runs as one convolution that looks its bytes up; element for
    element as onnxruntime, zero points at the type's limits, batch 2, odd channel counts."""
    x_shape, w_shape, stride, pads, group = LOOKUP_CONVS[case]
    rng = np.random.default_rng(30 + case)
    info = np.iinfo(dtype)
    k = w_shape[0]
    yz, sz, mz = zps
    inits = {"xs": scalar(0.02, np.float32), "xz": scalar(info.min + 9, dtype),
             "w": rng.integers(-127, 128, w_shape).astype(np.int8),
             "ws": (rng.random(k) * 0.01 + 0.002).astype(np.float32), "wz": np.zeros(k, np.int8),
             "ys": scalar(0.047, np.float32), "yz": scalar(yz, dtype),
             "b": rng.integers(-3000, 3000, k).astype(np.int32),
             "ss": scalar(1 / 256, np.float32), "sz": scalar(sz, dtype),
             "ms": scalar(0.021, np.float32), "mz": scalar(mz, dtype)}
    nodes = [helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"],
                              ["c"], strides=[stride] * 2, pads=pads, group=group)]
    if lookup == "QLinearLeakyRelu":
        nodes.append(helper.make_node(lookup, ["c", "ys", "yz", "ms", "mz"], ["y"],
                                      domain="com.microsoft", alpha=0.1))
    else:
        nodes.append(helper.make_node("QLinearSigmoid", ["c", "ys", "yz", "ss", "sz"],
                                      ["s" if lookup != "QLinearSigmoid" else "y"],
                                      domain="com.microsoft"))
    if lookup.startswith("silu"):
        ab = [["c", "ys", "yz", "s", "ss", "sz"], ["s", "ss", "sz", "c", "ys", "yz"]][lookup != "silu"]
        nodes.append(helper.make_node("QLinearMul", ab + ["ms", "mz"], ["y"], domain="com.microsoft"))
    m = model(nodes, [("x", dtype, x_shape)], [("y", dtype, None)], inits)
    x = rng.integers(info.min, info.max, x_shape, endpoint=True).astype(dtype)
    opts = tinycnn.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = tinycnn.InferenceSession(m.SerializeToString(), opts)
    assert [n.op_type for n in sess._graph.nodes] == ["QLinearConv"]
    assert sess._graph.nodes[0].attrs["lookup"] in ("QLinearSigmoidMul", lookup)
    got, ref = sess.run(None, {"x": x})[0], ort_run(m, {"x": x})[0]
    assert got.dtype == ref.dtype and got.shape == ref.shape
    assert np.array_equal(got, ref), f"{(got != ref).sum()} of {got.size} differ from onnxruntime"


def test_a_convolution_whose_output_is_also_used_elsewhere_keeps_its_lookup_apart():
    """The lookup fuses only where the convolution's 8-bit output has no other use."""
    rng = np.random.default_rng(40)
    inits = {"xs": scalar(0.02, np.float32), "xz": scalar(3, np.uint8),
             "w": rng.integers(-127, 128, (8, 4, 1, 1)).astype(np.int8),
             "ws": scalar(0.004, np.float32), "ys": scalar(0.05, np.float32),
             "yz": scalar(120, np.uint8), "ss": scalar(1 / 256, np.float32),
             "sz": scalar(0, np.uint8), "wz": scalar(0, np.int8)}
    nodes = [helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["c"]),
             helper.make_node("QLinearSigmoid", ["c", "ys", "yz", "ss", "sz"], ["y"],
                              domain="com.microsoft")]
    m = model(nodes, [("x", np.uint8, (1, 4, 5, 5))], [("y", np.uint8, None), ("c", np.uint8, None)],
              inits)
    sess = tinycnn.InferenceSession(m.SerializeToString())
    assert [n.op_type for n in sess._graph.nodes] == ["QLinearConv", "QLinearSigmoid"]
    assert_same(m, {"x": rng.integers(0, 256, (1, 4, 5, 5)).astype(np.uint8)})


def test_qlinear_pools_and_concat_as_onnxruntime():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (2, 10, 9, 11)).astype(np.uint8)
    inits = {"xs": scalar(0.05, np.float32), "xz": scalar(12, np.uint8),
             "ys": scalar(0.037, np.float32), "yz": scalar(140, np.uint8),
             "s2": scalar(0.05, np.float32), "z2": scalar(12, np.uint8)}
    nodes = [helper.make_node("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["gap"],
                              domain="com.microsoft", channels_last=0),
             helper.make_node("QLinearAveragePool", ["x", "xs", "xz", "ys", "yz"], ["ap"],
                              domain="com.microsoft", kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1], count_include_pad=0),
             helper.make_node("QLinearAveragePool", ["x", "xs", "xz", "ys", "yz"], ["apc"],
                              domain="com.microsoft", kernel_shape=[2, 3], strides=[2, 1],
                              pads=[0, 1, 1, 0], count_include_pad=1, ceil_mode=1),
             helper.make_node("QLinearConcat", ["ys", "yz", "x", "xs", "xz", "x", "s2", "z2"],
                              ["cat"], domain="com.microsoft", axis=1),
             helper.make_node("MaxPool", ["x"], ["mp"], kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1])]
    m = model(nodes, [("x", np.uint8, x.shape)],
              [(o, np.uint8, None) for o in ("gap", "ap", "apc", "cat", "mp")], inits)
    assert_same(m, {"x": x})


def test_int8_max_pool_as_onnxruntime():
    rng = np.random.default_rng(8)
    x = rng.integers(-128, 128, (1, 3, 10, 10)).astype(np.int8)
    m = model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 2],
                                dilations=[2, 1], pads=[1, 0, 2, 1])],
              [("x", np.int8, x.shape)], [("y", np.int8, None)], {}, opset=12)
    assert_same(m, {"x": x})


# ---- layouts, QDQ rewriting ---------------------------------------------------------------------

def test_channels_last_tensors_meet_float_and_shape_ops_in_onnx_layout():
    """A quantized convolution's channels-last output read by a broadcasting QLinearAdd, an
    8-bit Reshape (converted first), a DequantizeLinear and a graph output."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((1, 6, 7, 5)).astype(np.float32)
    w = rng.integers(-127, 128, (8, 6, 3, 3)).astype(np.int8)
    inits = {"xs": scalar(0.03, np.float32), "xz": scalar(128, np.uint8), "w": w,
             "ws": (rng.random(8) * 0.02 + 0.001).astype(np.float32), "wz": np.zeros(8, np.int8),
             "ys": scalar(0.05, np.float32), "yz": scalar(100, np.uint8),
             "c": rng.integers(0, 256, (1, 8, 1, 1)).astype(np.uint8), "shape": np.array([1, 8, 35], np.int64)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["yq"],
                              pads=[1, 1, 1, 1]),
             helper.make_node("QLinearAdd", ["yq", "ys", "yz", "c", "xs", "xz", "ys", "yz"], ["aq"],
                              domain="com.microsoft"),
             helper.make_node("Reshape", ["aq", "shape"], ["r"]),
             helper.make_node("DequantizeLinear", ["aq", "ys", "yz"], ["f"]),
             helper.make_node("Relu", ["f"], ["out"])]
    m = model(nodes, [("x", np.float32, x.shape)],
              [("yq", np.uint8, None), ("r", np.uint8, None), ("out", np.float32, None)], inits)
    assert_same(m, {"x": x})


def qdq_conv_model(activation, rng):
    """x -> Q -> DQ -> Conv(DQ(w), DQ(b)) [-> activation] -> Q -> DQ -> Add(itself) -> Q -> DQ."""
    w = rng.integers(-127, 128, (8, 4, 3, 3)).astype(np.int8)
    ws = (rng.random(8) * 0.02 + 0.005).astype(np.float32)
    xs = np.float32(0.04)
    inits = {"xs": scalar(xs, np.float32), "xz": scalar(120, np.uint8), "w": w, "ws": ws,
             "wz": np.zeros(8, np.int8), "b": rng.integers(-500, 500, 8).astype(np.int32),
             "bs": (xs * ws).astype(np.float32), "bz": np.zeros(8, np.int32),
             "ys": scalar(0.06, np.float32), "yz": scalar(0 if activation else 110, np.uint8),
             "zs": scalar(0.09, np.float32), "zz": scalar(3, np.uint8),
             "lo": scalar(0.0, np.float32), "hi": scalar(6.0, np.float32)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xf"]),
             helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wf"], axis=0),
             helper.make_node("DequantizeLinear", ["b", "bs", "bz"], ["bf"], axis=0),
             helper.make_node("Conv", ["xf", "wf", "bf"], ["c"], pads=[1, 1, 1, 1])]
    last = "c"
    if activation == "Relu":
        nodes.append(helper.make_node("Relu", ["c"], ["a"]))
        last = "a"
    elif activation == "Clip":
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["a"]))
        last = "a"
    nodes += [helper.make_node("QuantizeLinear", [last, "ys", "yz"], ["yq"]),
              helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["yf"]),
              helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["yf2"]),
              helper.make_node("Add", ["yf", "yf2"], ["s"]),
              helper.make_node("QuantizeLinear", ["s", "zs", "zz"], ["sq"]),
              helper.make_node("DequantizeLinear", ["sq", "zs", "zz"], ["out"])]
    return model(nodes, [("x", np.float32, [1, 4, 9, 9])], [("out", np.float32, None)], inits)


@pytest.mark.parametrize("activation", [None, "Relu", "Clip"])
def test_qdq_groups_run_as_integer_ops_like_onnxruntime(activation):
    rng = np.random.default_rng(11)
    m = qdq_conv_model(activation, rng)
    sess = tinycnn.InferenceSession(m.SerializeToString())
    ops = [(n.domain, n.op_type) for n in sess._graph.nodes]
    assert ("", "Conv") not in ops and ("", "Add") not in ops, ops
    assert ("com.microsoft", "QLinearAdd") in ops
    x = rng.standard_normal((1, 4, 9, 9)).astype(np.float32)
    got, ref = sess.run(None, {"x": x})[0], ort_run(m, {"x": x})[0]
    # onnxruntime keeps Conv -> Clip in float when the Clip is not absorbed by the
    # quantization range: allow a few one-step differences there
    steps = np.abs(got - ref) / 0.09
    assert steps.max() <= (1 + 1e-3 if activation == "Clip" else 1e-3), steps.max()
    assert (got == ref).mean() >= (0.97 if activation == "Clip" else 1.0)


def test_qdq_groups_stay_float_below_optimization_level_2():
    rng = np.random.default_rng(12)
    m = qdq_conv_model(None, rng)
    opts = tinycnn.SessionOptions()
    opts.graph_optimization_level = tinycnn.GraphOptimizationLevel.ORT_ENABLE_BASIC
    sess = tinycnn.InferenceSession(m.SerializeToString(), opts)
    assert "Conv" in [n.op_type for n in sess._graph.nodes]
    x = rng.standard_normal((1, 4, 9, 9)).astype(np.float32)
    got, ref = sess.run(None, {"x": x})[0], ort_run(m, {"x": x})[0]
    assert np.abs(got - ref).max() <= 0.09 * 1.001


# ---- bad parameters: a clear error naming the node, at load --------------------------------------

def dq_model(scale, zp, x_dtype=np.uint8, axis=None):
    attrs = {} if axis is None else {"axis": axis}
    return model([helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], name="dq", **attrs)],
                 [("x", x_dtype, [2, 3])], [("y", np.float32, [2, 3])], {"s": scale, "z": zp})


@pytest.mark.parametrize("scale,why", [(0.0, "positive and finite"), (-0.5, "positive and finite"),
                                       (np.nan, "positive and finite"), (np.inf, "positive and finite")])
def test_bad_scales_are_refused_at_load(scale, why):
    with pytest.raises(tinycnn.InvalidModel, match=rf"node 'dq' \(DequantizeLinear\).*{why}"):
        tinycnn.InferenceSession(dq_model(scalar(scale, np.float32), scalar(3, np.uint8)).SerializeToString())


def test_per_axis_scales_of_the_wrong_length_are_refused_at_load():
    m = dq_model(np.full(4, 0.1, np.float32), np.zeros(4, np.uint8), axis=1)
    with pytest.raises(tinycnn.InvalidModel, match=r"node 'dq' \(DequantizeLinear\): per-axis "
                                                   r"x_scale \(4,\) must have 3 values"):
        tinycnn.InferenceSession(m.SerializeToString())


def test_zero_points_outside_their_type_are_refused_at_load():
    """A zero point of 300 cannot be a uint8: its tensor must have the quantized type."""
    m = dq_model(scalar(0.1, np.float32), scalar(300, np.int32))
    with pytest.raises(tinycnn.InvalidModel, match=r"node 'dq' \(DequantizeLinear\): x_zero_point has "
                                                   r"type int32 .* \[300\] is outside uint8's range"):
        tinycnn.InferenceSession(m.SerializeToString())


def test_a_dequantize_of_another_type_than_its_quantize_is_refused_at_load():
    m = model([helper.make_node("QuantizeLinear", ["x", "s", "zu"], ["q"], name="q"),
               helper.make_node("DequantizeLinear", ["q", "s", "zs"], ["y"], name="dq")],
              [("x", np.float32, [4])], [("y", np.float32, [4])],
              {"s": scalar(0.1, np.float32), "zu": scalar(3, np.uint8), "zs": scalar(3, np.int8)})
    with pytest.raises(tinycnn.InvalidModel, match=r"node 'dq' \(DequantizeLinear\): reads 'q' as "
                                                   r"int8 .* node 'q' \(QuantizeLinear\) writes it as uint8"):
        tinycnn.InferenceSession(m.SerializeToString())


@pytest.mark.parametrize("op", ["DequantizeLinear", "QuantizeLinear"])
def test_blocked_quantization_is_refused_naming_the_node(op):
    """block_size (opset 21: one scale per block of the axis) is not implemented: refused with
    the node, the op and the block size, not run as per-axis quantization."""
    x_dtype, y_dtype = (np.uint8, np.float32) if op == "DequantizeLinear" else (np.float32, np.uint8)
    m = model([helper.make_node(op, ["x", "s", "z"], ["y"], name="blk", axis=1, block_size=2)],
              [("x", x_dtype, [2, 4])], [("y", y_dtype, [2, 4])],
              {"s": np.full((2, 2), 0.1, np.float32), "z": np.full((2, 2), 3, np.uint8)}, opset=21)
    m.ir_version = 10
    feeds = {"x": np.arange(8, dtype=x_dtype).reshape(2, 4)}
    ort_run(m, feeds)   # a valid model: onnxruntime runs it
    with pytest.raises(tinycnn.UnsupportedOperator,
                       match=rf"node 'blk' \({op}\): blocked quantization \(block_size=2\) "
                             r"is not supported"):
        tinycnn.InferenceSession(m.SerializeToString()).run(None, feeds)


def test_bad_qlinearconv_parameters_name_the_node():
    rng = np.random.default_rng(13)
    w = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    m = qconv_model((1, 3, 8, 8), w, np.uint8, 1, [1, 1, 1, 1], 1, 1)
    m.graph.node[0].name = "conv"
    for init in m.graph.initializer:
        if init.name == "ws":
            init.CopyFrom(numpy_helper.from_array(np.array([0.1, 0.2, -0.1, 0.3], np.float32), "ws"))
    with pytest.raises(tinycnn.InvalidModel, match=r"node 'conv' \(QLinearConv\): w scale must be "
                                                   r"positive and finite, got \[-0.1"):
        tinycnn.InferenceSession(m.SerializeToString())


def qdq_conv(rng, inits, nodes, name, x, x_scale, k, cin, group, kernel, out, out_scale,
             out_zp, relu6):
    """A QDQ convolution x -> out (k outputs, per-channel int8 weights, an int32 bias), with
    a ReLU6 (Clip 0..6) when relu6, onto inits and nodes."""
    w = rng.integers(-127, 128, (k, cin, kernel, kernel)).astype(np.int8)
    ws = (rng.random(k) * 0.01 + 0.002).astype(np.float32)
    bs = (np.float32(inits[x_scale]) * ws).astype(np.float32)
    inits.update({f"{name}w": w, f"{name}ws": ws, f"{name}wz": np.zeros(k, np.int8),
                  f"{name}b": rng.integers(-2000, 2000, k).astype(np.int32),
                  f"{name}bs": bs, f"{name}bz": np.zeros(k, np.int32)})
    nodes.extend([
        helper.make_node("DequantizeLinear", [f"{name}w", f"{name}ws", f"{name}wz"],
                         [f"{name}wf"], axis=0),
        helper.make_node("DequantizeLinear", [f"{name}b", f"{name}bs", f"{name}bz"],
                         [f"{name}bf"], axis=0),
        helper.make_node("Conv", [x, f"{name}wf", f"{name}bf"], [f"{name}c"], group=group,
                         pads=[kernel // 2] * 4)])
    last = f"{name}c"
    if relu6:
        nodes.append(helper.make_node("Clip", [last, "lo", "hi"], [f"{name}a"]))
        last = f"{name}a"
    nodes.extend([helper.make_node("QuantizeLinear", [last, out_scale, out_zp], [f"{name}q"]),
                  helper.make_node("DequantizeLinear", [f"{name}q", out_scale, out_zp],
                                   [out])])


def qdq_chain_inits():
    """The scales and zero points of qdq_block_model and qdq_bottleneck_model: x's, the
    ReLU6's (zero point 0) and the residual sum's, and the Clip's bounds."""
    return {"xs": scalar(0.05, np.float32), "xz": scalar(128, np.uint8),
            "rs": scalar(6 / 255, np.float32), "rz": scalar(0, np.uint8),
            "lo": scalar(0.0, np.float32), "hi": scalar(6.0, np.float32),
            "ys": scalar(0.07, np.float32), "yz": scalar(125, np.uint8)}


def qdq_residual_out(nodes, residual, last):
    """x's residual sum of last (or last itself) as the output out"""
    if residual:
        nodes += [helper.make_node("Add", [last, "xf"], ["s"]),
                  helper.make_node("QuantizeLinear", ["s", "ys", "yz"], ["sq"]),
                  helper.make_node("DequantizeLinear", ["sq", "ys", "yz"], ["out"])]


def qdq_block_model(rng, e=24, c=8, residual=True):
    """An inverted residual in QDQ: 1x1 c -> e, ReLU6; depthwise 3x3, ReLU6; 1x1 e -> c (after
    a ReLU6: activations with zero point 0), plus x when residual."""
    inits, nodes = qdq_chain_inits(), []
    nodes.append(helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]))
    nodes.append(helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xf"]))
    qdq_conv(rng, inits, nodes, "e", "xf", "xs", e, c, 1, 1, "ef", "rs", "rz", True)
    qdq_conv(rng, inits, nodes, "d", "ef", "rs", e, 1, e, 3, "df", "rs", "rz", True)
    qdq_conv(rng, inits, nodes, "p", "df", "rs", c, e, 1, 1, "pf" if residual else "out", "xs",
             "xz", False)
    qdq_residual_out(nodes, residual, "pf")
    return model(nodes, [("x", np.float32, [1, c, 7, 7])], [("out", np.float32, None)], inits)


def qdq_bottleneck_model(rng, c=384, e=128, hw=16, residual=True):
    """ResNet's bottleneck in QDQ: 1x1 c -> e, ReLU6; 3x3 e -> e, ReLU6; 1x1 e -> c (more
    outputs than qdq._PAIR_MAX_OUTPUTS), plus x when residual."""
    inits, nodes = qdq_chain_inits(), []
    nodes.append(helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]))
    nodes.append(helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xf"]))
    qdq_conv(rng, inits, nodes, "a", "xf", "xs", e, c, 1, 1, "af", "rs", "rz", True)
    qdq_conv(rng, inits, nodes, "b", "af", "rs", e, e, 1, 3, "bf", "rs", "rz", True)
    qdq_conv(rng, inits, nodes, "p", "bf", "rs", c, e, 1, 1, "pf" if residual else "out", "xs",
             "xz", False)
    qdq_residual_out(nodes, residual, "pf")
    return model(nodes, [("x", np.float32, [1, c, hw, hw])], [("out", np.float32, None)], inits)


@pytest.mark.parametrize("residual", [False, True])
def test_channels_between_convolutions_reordered_for_u7s8_give_the_same_bytes(residual,
                                                                              monkeypatch):
    """qdq._pair_channels permutes the expansion's outputs, the depthwise channels and the
    projection's inputs alike: the same outputs, bit for bit, as without it (and as
    onnxruntime's, one step at most)."""
    from tinycnn import qdq
    rng = np.random.default_rng(21)
    m = qdq_block_model(rng, residual=residual)
    x = (rng.standard_normal((1, 8, 7, 7)) * 3).astype(np.float32)
    sess = tinycnn.InferenceSession(m.SerializeToString())
    paired = [n for n in sess._graph.nodes if any(i.endswith("_paired") for i in n.inputs)]
    assert len(paired) == 3, [n.name for n in sess._graph.nodes]
    got = sess.run(None, {"x": x})[0]
    monkeypatch.setattr(qdq, "_PAIR_MAX_OUTPUTS", 0)
    plain = tinycnn.InferenceSession(m.SerializeToString())
    assert not any(i.endswith("_paired") for n in plain._graph.nodes for i in n.inputs)
    want = plain.run(None, {"x": x})[0]
    assert np.array_equal(got, want), f"{(got != want).sum()} of {got.size} outputs differ"
    ref = ort_run(m, {"x": x})[0]
    step = 0.07 if residual else 0.05
    assert np.abs(got - ref).max() <= step * 1.001


@pytest.mark.parametrize("residual", [False, True])
def test_bottleneck_channels_in_fours_for_u7s8_give_the_same_bytes(residual, monkeypatch):
    """ResNet's bottleneck (384 outputs, K 128, 16 x 16 pixels: the long U7S8 kernels):
    qdq._pair_channels puts conv2's outputs and conv3's inputs in fours, and conv1's outputs
    and conv2's inputs (_kernels.qquad_channels); the same outputs, bit for bit, with either
    or neither (and onnxruntime's within one step), on an input whose bytes fill the ReLU6's
    range (corrections run)."""
    from tinycnn import qdq
    rng = np.random.default_rng(34)
    m = qdq_bottleneck_model(rng, residual=residual)
    x = (rng.standard_normal((1, 384, 16, 16)) * 4).astype(np.float32)
    monkeypatch.setattr(qdq, "_QUAD_MAX_TAPS", 9)   # conv1 -> conv2 too
    sess = tinycnn.InferenceSession(m.SerializeToString())
    def permuted(sess):
        return sum(any(i.endswith("_paired") for i in n.inputs) for n in sess._graph.nodes)
    assert permuted(sess) == 3, [n.inputs for n in sess._graph.nodes]
    got = sess.run(None, {"x": x})[0]
    monkeypatch.setattr(qdq, "_QUAD_MAX_TAPS", 1)   # conv2 -> conv3 only
    sess = tinycnn.InferenceSession(m.SerializeToString())
    assert permuted(sess) == 2
    assert np.array_equal(sess.run(None, {"x": x})[0], got)
    monkeypatch.setattr(qdq, "_QUAD_MIN_K", 1 << 30)
    plain = tinycnn.InferenceSession(m.SerializeToString())
    assert permuted(plain) == 0
    want = plain.run(None, {"x": x})[0]
    assert np.array_equal(got, want), f"{(got != want).sum()} of {got.size} outputs differ"
    ref = ort_run(m, {"x": x})[0]
    step = 0.07 if residual else 0.05
    assert np.abs(got - ref).max() <= step * 1.001


def qdq_stage_model(rng, cin=64, c=128, e=32, hw=8):
    """A ResNet stage in QDQ onto a classifier: block 0 (1x1 cin -> e, 3x3, 1x1 e -> c) plus a
    1x1 downsample of x, block 1 (1x1 c -> e, 3x3, 1x1 e -> c) plus block 0's sum; the sums
    at zero point 0 (the ReLU after each add, as onnxruntime's quantizer leaves it), then a
    global average pool, Flatten and a Gemm (transB) to 10 classes."""
    inits, nodes = qdq_chain_inits(), []
    inits.update({"ss": scalar(0.1, np.float32), "sz": scalar(0, np.uint8),
                  "xz0": scalar(0, np.uint8), "gs": scalar(0.05, np.float32),
                  "os": scalar(0.2, np.float32), "oz": scalar(128, np.uint8)})
    nodes.append(helper.make_node("QuantizeLinear", ["x", "xs", "xz0"], ["xq"]))
    nodes.append(helper.make_node("DequantizeLinear", ["xq", "xs", "xz0"], ["xf"]))
    qdq_conv(rng, inits, nodes, "d", "xf", "xs", c, cin, 1, 1, "df", "ys", "yz", False)
    x, xs = "xf", "xs"
    for b, k in ((0, cin), (1, c)):
        qdq_conv(rng, inits, nodes, f"a{b}", x, xs, e, k, 1, 1, f"a{b}f", "rs", "rz", True)
        qdq_conv(rng, inits, nodes, f"b{b}", f"a{b}f", "rs", e, e, 1, 3, f"b{b}f", "rs", "rz",
                 True)
        qdq_conv(rng, inits, nodes, f"p{b}", f"b{b}f", "rs", c, e, 1, 1, f"p{b}f", "ys", "yz",
                 False)
        nodes += [helper.make_node("Add", [f"p{b}f", "df" if b == 0 else x], [f"s{b}"]),
                  helper.make_node("QuantizeLinear", [f"s{b}", "ss", "sz"], [f"s{b}q"]),
                  helper.make_node("DequantizeLinear", [f"s{b}q", "ss", "sz"], [f"s{b}f"])]
        x, xs = f"s{b}f", "ss"
    w = rng.integers(-127, 128, (10, c)).astype(np.int8)
    inits.update({"gw": w, "gws": scalar(0.01, np.float32), "gwz": scalar(0, np.int8),
                  "gb": rng.integers(-2000, 2000, 10).astype(np.int32),
                  "gbs": scalar(0.05 * 0.01, np.float32), "gbz": scalar(0, np.int32)})
    nodes += [helper.make_node("GlobalAveragePool", [x], ["g"]),
              helper.make_node("QuantizeLinear", ["g", "gs", "sz"], ["gq"]),
              helper.make_node("DequantizeLinear", ["gq", "gs", "sz"], ["gf"]),
              helper.make_node("Flatten", ["gf"], ["fl"]),
              helper.make_node("QuantizeLinear", ["fl", "gs", "sz"], ["flq"]),
              helper.make_node("DequantizeLinear", ["flq", "gs", "sz"], ["flf"]),
              helper.make_node("DequantizeLinear", ["gw", "gws", "gwz"], ["gwf"]),
              helper.make_node("DequantizeLinear", ["gb", "gbs", "gbz"], ["gbf"]),
              helper.make_node("Gemm", ["flf", "gwf", "gbf"], ["o"], transB=1),
              helper.make_node("QuantizeLinear", ["o", "os", "oz"], ["oq"]),
              helper.make_node("DequantizeLinear", ["oq", "os", "oz"], ["out"])]
    return model(nodes, [("x", np.float32, [1, cin, hw, hw])], [("out", np.float32, None)],
                 inits)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_residual_stream_channels_in_fours_give_the_same_bytes(threads, monkeypatch):
    """qdq._stream_channels puts a stage's stream (the downsample's output, both blocks'
    conv3 + add outputs) in one order of fours: the producers' outputs, block 1's conv1 inputs
    and the classifier's inputs (through the pool and Flatten) move alike; the same outputs,
    bit for bit, as without it (and onnxruntime's within one step), on an input whose bytes
    fill the stream's range."""
    from tinycnn import qdq
    rng = np.random.default_rng(38)
    m = qdq_stage_model(rng)
    x = (rng.standard_normal((1, 64, 8, 8)) * 4).astype(np.float32)
    opts = tinycnn.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = tinycnn.InferenceSession(m.SerializeToString(), opts)
    moved = {n.op_type: n for n in sess._graph.nodes
             if any(i.startswith("gw") and i.endswith("_paired") for i in n.inputs)}
    assert list(moved) == ["QGemm"], [n.inputs for n in sess._graph.nodes]
    a1 = [n for n in sess._graph.nodes if n.inputs[3:4] and n.inputs[3].startswith("a1w")]
    assert len(a1) == 1 and a1[0].inputs[3].endswith("_paired"), a1
    got = sess.run(None, {"x": x})[0]
    monkeypatch.setattr(qdq, "_stream_channels", lambda g, keep: None)
    plain = tinycnn.InferenceSession(m.SerializeToString(), opts)
    assert not any(i.startswith(("gw", "a1w")) and i.endswith("_paired")
                   for n in plain._graph.nodes for i in n.inputs)
    want = plain.run(None, {"x": x})[0]
    assert np.array_equal(got, want), f"{(got != want).sum()} of {got.size} outputs differ"
    ref = ort_run(m, {"x": x})[0]
    assert np.abs(got - ref).max() <= 0.2 * 1.001


def qdq_linear_stream_model(rng, cin=16, c=40, e=72, hw=9, batch=1):
    """MobileNetV2's linear bottlenecks in QDQ: a 1x1 cin -> c (no activation: the stream at a
    mid-range zero point), an inverted residual (1x1 c -> e, ReLU6; depthwise 3x3, ReLU6; 1x1
    e -> c) plus that, and a second expansion 1x1 c -> e (ReLU6) reading the sum; the two
    expansions' weights small in every other input channel (pairs of a small and a large
    channel take U7S8's widest windows)."""
    inits, nodes = qdq_chain_inits(), []
    inits.update({"ts": scalar(0.06, np.float32), "tz": scalar(131, np.uint8),
                  "ss": scalar(0.08, np.float32), "sz": scalar(122, np.uint8)})
    nodes.append(helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]))
    nodes.append(helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xf"]))
    qdq_conv(rng, inits, nodes, "t", "xf", "xs", c, cin, 1, 1, "tf", "ts", "tz", False)
    qdq_conv(rng, inits, nodes, "e1", "tf", "ts", e, c, 1, 1, "e1f", "rs", "rz", True)
    qdq_conv(rng, inits, nodes, "d1", "e1f", "rs", e, 1, e, 3, "d1f", "rs", "rz", True)
    qdq_conv(rng, inits, nodes, "p1", "d1f", "rs", c, e, 1, 1, "p1f", "ts", "tz", False)
    nodes += [helper.make_node("Add", ["p1f", "tf"], ["s"]),
              helper.make_node("QuantizeLinear", ["s", "ss", "sz"], ["sq"]),
              helper.make_node("DequantizeLinear", ["sq", "ss", "sz"], ["sf"])]
    qdq_conv(rng, inits, nodes, "e2", "sf", "ss", e, c, 1, 1, "out", "rs", "rz", True)
    for w in ("e1w", "e2w"):
        inits[w][:, 1::2] //= 9
    return model(nodes, [("x", np.float32, [batch, cin, hw, hw])], [("out", np.float32, None)],
                 inits)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("hw, batch", [(9, 1), (7, 2)])
def test_linear_stream_channels_in_pairs_give_the_same_bytes(threads, hw, batch, monkeypatch):
    """qdq._stream_channels puts a stream at a mid-range zero point (the first 1x1's output
    and the block's projection + add output) in pairs for its two expansions (U7S8 around the
    zero point, the pair's widths): the producers' outputs and both expansions' inputs move
    alike; the same outputs, bit for bit, as without it (and onnxruntime's within one step),
    on an input whose bytes fill the stream's range (corrections above and below the window
    run), at 1-3 threads, batch 1 and 2, odd widths."""
    from tinycnn import qdq
    rng = np.random.default_rng(51)
    m = qdq_linear_stream_model(rng, hw=hw, batch=batch)
    x = (rng.standard_normal((batch, 16, hw, hw)) * 6).astype(np.float32)
    opts = session_options(intra_op_num_threads=threads)
    sess = tinycnn.InferenceSession(m.SerializeToString(), opts)
    def moved(sess):   # (e1, d1 and p1 move by _pair_channels' chain too)
        return {n.inputs[3].split("_")[0] for n in sess._graph.nodes
                if n.inputs[3:4] and n.inputs[3].endswith(("_paired", "_paired_"))}
    assert {"tw", "e2w"} <= moved(sess), [n.inputs for n in sess._graph.nodes]
    got = sess.run(None, {"x": x})[0]
    monkeypatch.setattr(qdq, "_MID_ZP", 255)
    plain = tinycnn.InferenceSession(m.SerializeToString(), opts)
    assert not {"tw", "e2w"} & moved(plain)
    want = plain.run(None, {"x": x})[0]
    assert np.array_equal(got, want), f"{(got != want).sum()} of {got.size} outputs differ"
    ref = ort_run(m, {"x": x})[0]
    assert np.abs(got - ref).max() <= 6 / 255 * 1.001


def qdq_stem_model(rng, c=32, hw=12, second=1, batch=1):
    """ResNet's stem in QDQ: 3x3 conv 3 -> c, ReLU6; a 3x3 stride-2 max pool (the same scale
    and zero point 0); two readers of the pool's output, 1x1 c -> 16 and c -> 48 (conv1 and
    the downsample; that one second x second, or None: no second reader), each an output."""
    inits, nodes = qdq_chain_inits(), []
    nodes.append(helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]))
    nodes.append(helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xf"]))
    qdq_conv(rng, inits, nodes, "s", "xf", "xs", c, 3, 1, 3, "sf", "rs", "rz", True)
    nodes += [helper.make_node("MaxPool", ["sf"], ["mp"], kernel_shape=[3, 3], strides=[2, 2],
                               pads=[1, 1, 1, 1]),
              helper.make_node("QuantizeLinear", ["mp", "rs", "rz"], ["mpq"]),
              helper.make_node("DequantizeLinear", ["mpq", "rs", "rz"], ["mpf"])]
    qdq_conv(rng, inits, nodes, "a", "mpf", "rs", 16, c, 1, 1, "out", "rs", "rz", True)
    outs = [("out", np.float32, None)]
    if second:
        qdq_conv(rng, inits, nodes, "d", "mpf", "rs", 48, c, 1, second, "out2", "ys", "yz",
                 False)
        outs.append(("out2", np.float32, None))
    return model(nodes, [("x", np.float32, [batch, 3, hw, hw])], outs, inits)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("hw, batch", [(12, 1), (17, 1), (17, 2)])
def test_stem_channels_shared_by_two_readers_in_pairs_give_the_same_bytes(threads, hw, batch,
                                                                          monkeypatch):
    """qdq._pair_shared_channels reorders the stem's output channels (through the max pool)
    in pairs for both 1x1 readers: the stem's weights and both readers' inputs move alike; the
    same outputs, bit for bit, as without it (and onnxruntime's within one step), on an input
    whose bytes fill the ReLU6's range (corrections run)."""
    from tinycnn import qdq
    rng = np.random.default_rng(48)
    m = qdq_stem_model(rng, hw=hw, batch=batch)
    x = (rng.standard_normal((batch, 3, hw, hw)) * 6).astype(np.float32)
    opts = session_options(intra_op_num_threads=threads)
    sess = tinycnn.InferenceSession(m.SerializeToString(), opts)

    def moved(sess):
        return sorted(i[0] for n in sess._graph.nodes for i in n.inputs[3:4]
                      if i.endswith("_paired"))
    assert moved(sess) == ["a", "d", "s"], [n.inputs for n in sess._graph.nodes]
    got = sess.run(None, {"x": x})
    monkeypatch.setattr(qdq, "_pair_shared_channels", lambda g, keep: None)
    plain = tinycnn.InferenceSession(m.SerializeToString(), opts)
    assert moved(plain) == []
    want = plain.run(None, {"x": x})
    ref = ort_run(m, {"x": x})
    for name, g, w, r, step in zip(("out", "out2"), got, want, ref, (6 / 255, 0.07)):
        assert np.array_equal(g, w), f"{name}: {(g != w).sum()} of {g.size} outputs differ"
        assert np.abs(g - r).max() <= step * 1.001, name


@pytest.mark.parametrize("second", [None, 3])
def test_stem_channels_with_one_reader_or_a_3x3_reader_keep_the_file_order(second):
    """A max pool's output read by one 1x1 convolution alone, or by a 3x3 one too, keeps the
    stem's channel order (_pair_shared_channels: two readers at least, all of them 1x1)."""
    rng = np.random.default_rng(48)
    m = qdq_stem_model(rng, second=second)
    sess = tinycnn.InferenceSession(m.SerializeToString())
    assert not any(i.endswith("_paired") for n in sess._graph.nodes for i in n.inputs)
    x = (rng.standard_normal((1, 3, 12, 12)) * 6).astype(np.float32)
    for g, r, step in zip(sess.run(None, {"x": x}), ort_run(m, {"x": x}), (6 / 255, 0.07)):
        assert np.abs(g - r).max() <= step * 1.001


def test_residual_stream_wider_than_the_limit_keeps_the_file_order(monkeypatch):
    """A stream wider than qdq._STREAM_MAX_C channels keeps the file's order (the search's
    cost at load): no producer, reader or classifier weight moves, the outputs the same."""
    from tinycnn import qdq
    rng = np.random.default_rng(38)
    m = qdq_stage_model(rng)
    x = (rng.standard_normal((1, 64, 8, 8)) * 4).astype(np.float32)
    want = tinycnn.InferenceSession(m.SerializeToString()).run(None, {"x": x})[0]
    monkeypatch.setattr(qdq, "_STREAM_MAX_C", 8)
    sess = tinycnn.InferenceSession(m.SerializeToString())
    assert not any(i.startswith(("gw", "a1w")) and i.endswith("_paired")
                   for n in sess._graph.nodes for i in n.inputs)
    assert np.array_equal(sess.run(None, {"x": x})[0], want)
