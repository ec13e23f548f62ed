"""The squeeze-and-excitation block as one node (graph._fuse_se, ops/se.py, csrc/se.c).

The kernel against numpy on a grid (every ISA, 1 and 2 threads, batch 1 and 2, in place);
hand-built SE graphs against onnxruntime, fused (both Mul operand orders, each hidden and
gate activation the networks use) and the shapes the pass must refuse to fuse (a gate, hidden
or pooled value used elsewhere, a Mul with another tensor, a gate that broadcasts over the
channels); the gates folded into the 1x1 convolution after the block (graph._fold_se_gate:
tinycnn::SqueezeExciteGate, then the GEMM scaling its weights, csrc/conv.c
tc_conv2d_scaled_f32) against the unfolded convolution of x * g and against onnxruntime; and
the networks with SE blocks (EfficientNet-B0, MobileNetV3-Small, RegNetY-400MF) fused in every
block and matching onnxruntime."""
import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from tinycnn import _kernels
from helpers import HAVE_AVX2, HAVE_AVX512

CONTEXTS = [(1, "portable"), (2, "portable")] + \
    ([(1, "avx2"), (2, "avx2")] if HAVE_AVX2 else []) + ([(1, "avx512")] if HAVE_AVX512 else [])


def _np_act(name, v, alpha=None, beta=None):
    if name == "Relu":
        return np.maximum(v, 0)
    if name == "Sigmoid":
        return 1 / (1 + np.exp(-v))
    if name == "SiLU":
        return v / (1 + np.exp(-v))
    if name == "HardSigmoid":
        return np.clip(v * (0.2 if alpha is None else alpha) + (0.5 if beta is None else beta), 0, 1)
    if name == "HardSwish":
        return v * np.clip(v / 6 + 0.5, 0, 1)
    assert name == ""
    return v


@pytest.mark.parametrize("threads,isa", CONTEXTS, ids=[f"{i}-{t}t" for t, i in CONTEXTS])
@pytest.mark.parametrize("act,gate", [("Relu", "Sigmoid"), ("SiLU", "Sigmoid"),
                                      ("Relu", "HardSigmoid"), ("", "Sigmoid")])
def test_se_kernel_matches_numpy(threads, isa, act, gate):
    ctx = _kernels.Context(threads, isa)
    rng = np.random.default_rng(12)
    for n, c, h, w, c1 in [(1, 16, 7, 7, 4), (2, 72, 28, 28, 24), (1, 40, 1, 1, 10), (2, 3, 5, 9, 1)]:
        x = rng.standard_normal((n, c, h, w), dtype=np.float32)
        w1 = (rng.standard_normal((c1, c)) / np.sqrt(c)).astype(np.float32)
        w2 = (rng.standard_normal((c, c1)) / np.sqrt(c1)).astype(np.float32)
        b1 = rng.standard_normal(c1, dtype=np.float32)
        b2 = None if c1 == 1 else rng.standard_normal(c, dtype=np.float32)
        se = _kernels.SqueezeExcite(ctx, w1, b1, w2, b2, activation=act, gate=gate)
        x64 = x.astype(np.float64)
        hidden = _np_act(act, x64.mean((2, 3)) @ w1.T + b1)
        g = _np_act(gate, hidden @ w2.T + (0 if b2 is None else b2))
        ref = x64 * g[:, :, None, None]
        y = se.run(x, np.full_like(x, np.nan))
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5, err_msg=f"{(n, c, h, w, c1)}")
        xi = x.copy()
        se.run(xi, xi)   # in place
        np.testing.assert_array_equal(xi, y)


def test_se_kernel_refuses_bad_shapes():
    ctx = _kernels.Context(1, "portable")
    w1, w2 = np.ones((4, 16), np.float32), np.ones((16, 4), np.float32)
    with pytest.raises(ValueError, match=r"w1 \(4, 16\) must be \[C1, C\] and w2 \(15, 4\)"):
        _kernels.SqueezeExcite(ctx, w1, None, np.ones((15, 4), np.float32), None)
    with pytest.raises(ValueError, match="unknown activation 'PRelu'"):
        _kernels.SqueezeExcite(ctx, w1, None, w2, None, activation="PRelu")
    se = _kernels.SqueezeExcite(ctx, w1, None, w2, None)
    x = np.ones((1, 8, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"x must be \[N, 16, \*spatial\]"):
        se.run(x, np.empty_like(x))


# -- hand-built SE graphs --------------------------------------------------------------

C, C1 = 24, 6


def se_model(act="Relu", gate="Sigmoid", swap=False, extra_output=None, other_mul=False,
             gate_channels=C, pool_used=False):
    """x -> Conv 3x3 (the producer) -> t; SE on t; Mul; then Relu.  Options make it unfusable."""
    rng = np.random.default_rng(5)
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("w0", rng.standard_normal((C, 3, 3, 3), dtype=np.float32) * 0.3),
        ("w1", rng.standard_normal((C1, C, 1, 1), dtype=np.float32) * 0.3),
        ("b1", rng.standard_normal(C1, dtype=np.float32)),
        ("w2", rng.standard_normal((gate_channels, C1, 1, 1), dtype=np.float32) * 0.3),
        ("b2", rng.standard_normal(gate_channels, dtype=np.float32))]]
    nodes = [helper.make_node("Conv", ["x", "w0"], ["t"], pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["t"], ["p"]),
             helper.make_node("Conv", ["p", "w1", "b1"], ["h0"])]
    if act == "SiLU":
        nodes += [helper.make_node("Sigmoid", ["h0"], ["hs"]), helper.make_node("Mul", ["h0", "hs"], ["h"])]
    elif act:
        nodes += [helper.make_node(act, ["h0"], ["h"])]
    else:
        nodes[-1].output[0] = "h"
    nodes += [helper.make_node("Conv", ["h", "w2", "b2"], ["g0"]),
              helper.make_node(gate, ["g0"], ["g"])]
    other = "t2" if other_mul else "t"
    if other_mul:
        nodes.append(helper.make_node("Relu", ["t"], ["t2"]))
    nodes.append(helper.make_node("Mul", ["g", other] if swap else [other, "g"], ["s"]))
    nodes.append(helper.make_node("Relu", ["s"], ["y"]))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if pool_used:
        nodes.append(helper.make_node("Neg", ["p"], ["pn"]))
        extra_output = "pn"
    if extra_output:
        outputs.append(helper.make_tensor_value_info(extra_output, TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "se", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 3, 10, 10])], outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def se_nodes(sess):
    """The SE blocks run as one node, folded into the next convolution or not."""
    return [n for n in sess._base.graph.nodes if n.op_type in ("SqueezeExcite", "SqueezeExciteGate")]


def folded_convs(sess):
    return [n for n in sess._base.graph.nodes if n.op_type == "Conv" and len(n.inputs) > 5]


def run_both(model, batch=2):
    x = np.random.default_rng(3).standard_normal((batch, 3, 10, 10), dtype=np.float32)
    data = model.SerializeToString()
    ref = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    sess = tinycnn.InferenceSession(data)
    out = sess.run(None, {"x": x})
    for r, o in zip(ref, out):
        np.testing.assert_allclose(o, r, rtol=1e-4, atol=1e-5 * np.abs(r).max())
    return sess


@pytest.mark.parametrize("act,gate,swap", [("Relu", "Sigmoid", False), ("Relu", "Sigmoid", True),
                                           ("SiLU", "Sigmoid", False), ("Relu", "HardSigmoid", True),
                                           ("", "Sigmoid", False)])
def test_se_block_fused_matches_onnxruntime(act, gate, swap):
    sess = run_both(se_model(act, gate, swap))
    fused = se_nodes(sess)
    assert len(fused) == 1, [(n.op_type, n.label) for n in sess._base.graph.nodes]
    assert fused[0].attrs["gate"] == gate
    assert fused[0].attrs["activation"] == (act or "")


@pytest.mark.parametrize("why,kwargs", [
    ("gate used elsewhere", dict(extra_output="g")),
    ("hidden used elsewhere", dict(extra_output="h")),
    ("pool used elsewhere", dict(pool_used=True)),
    ("Mul with another tensor", dict(other_mul=True)),
    ("gate broadcast over channels", dict(gate_channels=1)),
])
def test_se_block_refused(why, kwargs):
    sess = run_both(se_model(**kwargs))
    assert se_nodes(sess) == [], why


# -- the networks --------------------------------------------------------------------------

@pytest.mark.parametrize("name,blocks", [("efficientnet_b0", 16), ("mobilenet_v3_small", 9),
                                         ("regnet_y_400mf", 16)])
def test_networks_run_every_se_block_fused(onnx_export, name, blocks):
    path = onnx_export(name, batch_dynamic=True)  # the export test_models_mobile.py makes
    x = np.random.default_rng(1234).standard_normal((2, 3, 224, 224), dtype=np.float32)
    ref = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input": x})[0]
    sess = tinycnn.InferenceSession(str(path))
    assert len(se_nodes(sess)) == blocks
    assert len(folded_convs(sess)) == blocks   # every block's projection is a 1x1 convolution
    y = sess.run(None, {"input": x})[0]
    err = np.abs(y - ref).max() / np.abs(ref).max()
    assert err <= 1e-4, f"{name}: rel err {err:.3g}"



# -- the gates folded into the 1x1 convolution after the block ------------------------------

def _gates(rng, n, c):
    return rng.uniform(0.0, 1.0, (n, c)).astype(np.float32)


@pytest.mark.parametrize("threads,isa", CONTEXTS, ids=[f"{i}-{t}t" for t, i in CONTEXTS])
@pytest.mark.parametrize("algo", ["1x1", "1x1_chan"])
def test_scaled_conv_matches_conv_of_scaled_input(threads, isa, algo):
    """Conv2d.run(scale=g) == the same layer on x * g: several K blocks (C > 320), row blocks
    (K > 120), column blocks (HW > 512), maps small and large, batch 2, bias, residual and
    an activation; the packed weights stay as they were (a second run gives the same)."""
    ctx = _kernels.Context(threads, isa)
    rng = np.random.default_rng(21)
    for n, c, k, h, w, act in [(2, 672, 160, 7, 7, ""), (2, 120, 40, 28, 28, "Relu"),
                               (1, 960, 160, 32, 32, ""), (2, 16, 24, 23, 25, "HardSwish"),
                               (2, 350, 130, 14, 14, "")]:
        weight = (rng.standard_normal((k, c, 1, 1)) / np.sqrt(c)).astype(np.float32)
        bias = rng.standard_normal(k).astype(np.float32)
        layer = _kernels.Conv2d(ctx, weight, bias, algo=algo, activation=act)
        x = rng.standard_normal((n, c, h, w), dtype=np.float32)
        g = _gates(rng, n, c)
        r = rng.standard_normal((n, k, h, w), dtype=np.float32)
        ws = np.empty(layer.workspace_size(n, h, w, scaled=True), np.float32)
        assert ws.size > layer.workspace_size(n, h, w)   # room for a scaled copy of the weights
        ref = layer.run(x * g[:, :, None, None], np.empty((n, k, h, w), np.float32), r, ws)
        y = layer.run(x, np.full((n, k, h, w), np.nan, np.float32), r, ws, scale=g)
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max(),
                                   err_msg=f"{algo} {(n, c, k, h, w)}")
        again = layer.run(x, np.empty_like(y), r, ws, scale=g)
        np.testing.assert_array_equal(again, y)
        inplace = r.copy()
        layer.run(x, inplace, inplace, ws, scale=g)   # the residual is y
        np.testing.assert_array_equal(inplace, y)


_CONTEXTS3 = CONTEXTS + ([(3, "avx2")] if HAVE_AVX2 else [])


@pytest.mark.parametrize("threads,isa", _CONTEXTS3, ids=[f"{i}-{t}t" for t, i in _CONTEXTS3])
@pytest.mark.parametrize("algo", ["1x1", "1x1_chan"])
def test_scaled_conv_scaling_x_is_the_mul_before_it(threads, isa, algo):
    """Where K > HW / 2 the gates scale x's rows, not the weights: on AVX2's row tiles in the
    GEMM driver's aligned copy of each K block of B (scaled_mode "b_copy", maps of up to 64
    pixels whatever their rows' alignment), else in a scaled copy of x ("x_copy"): bit for
    bit the layer on x * g, the Mul step it replaces.  7x7 with two K blocks (C > 320) and a
    17th column, 8x8 and 4x4 (rows of whole lines, copied only to be scaled), 14x14 / 13x13
    (past the copy), 1 input channel, rows of 1 and odd maps, batch 2, residual and
    activations, 1-3 threads."""
    ctx = _kernels.Context(threads, isa)
    rng = np.random.default_rng(22)
    for n, c, k, h, w, act in [(2, 440, 440, 7, 7, ""), (1, 672, 160, 7, 7, "Relu"),
                               (2, 208, 208, 14, 14, ""), (1, 672, 112, 14, 14, "Relu"),
                               (2, 96, 120, 13, 13, "HardSwish"), (1, 40, 100, 8, 8, ""),
                               (2, 1, 8, 3, 3, ""),
                               (2, 24, 40, 1, 9, "HardSwish"), (1, 33, 70, 5, 7, "Relu"),
                               (2, 96, 64, 4, 4, "")]:
        assert 2 * k > h * w
        weight = (rng.standard_normal((k, c, 1, 1)) / np.sqrt(c)).astype(np.float32)
        bias = rng.standard_normal(k).astype(np.float32)
        layer = _kernels.Conv2d(ctx, weight, bias, algo=algo, activation=act)
        mode = layer.scaled_mode(h, w)
        expect = "b_copy" if isa == "avx2" and algo == "1x1" and h * w <= 64 else "x_copy"
        assert mode == expect, (algo, h, w)
        x = rng.standard_normal((n, c, h, w), dtype=np.float32)
        g = _gates(rng, n, c)
        r = rng.standard_normal((n, k, h, w), dtype=np.float32)
        ws = np.empty(layer.workspace_size(n, h, w, scaled=True), np.float32)
        xg = x * g[:, :, None, None]
        ref = layer.run(xg, np.empty((n, k, h, w), np.float32), r, ws)
        x0 = x.copy()
        y = layer.run(x, np.full((n, k, h, w), np.nan, np.float32), r, ws, scale=g)
        np.testing.assert_array_equal(y, ref, err_msg=f"{algo} {mode} {(n, c, k, h, w)}")
        np.testing.assert_array_equal(x, x0)   # x itself is not scaled
        inplace = r.copy()
        layer.run(x, inplace, inplace, ws, scale=g)   # the residual is y
        np.testing.assert_array_equal(inplace, y)


def test_scaled_mode_weights_where_k_is_at_most_half_the_pixels():
    ctx = _kernels.Context(1, "avx2" if HAVE_AVX2 else "portable")
    layer = _kernels.Conv2d(ctx, np.ones((40, 120, 1, 1), np.float32), algo="1x1")
    assert layer.scaled_mode(28, 28) == "weights"
    assert layer.scaled_mode(9, 9) == "weights"        # 40 <= 81 / 2
    assert layer.scaled_mode(8, 8) != "weights"        # 40 > 64 / 2
    assert _kernels.Conv2d(ctx, np.ones((4, 8, 3, 3), np.float32), algo="gemm").scaled_mode(5, 5) is None


def test_scaled_conv_refuses_other_algorithms_and_shapes():
    ctx = _kernels.Context(1, "portable")
    x = np.ones((2, 8, 5, 5), np.float32)
    y = np.empty((2, 4, 5, 5), np.float32)
    layer = _kernels.Conv2d(ctx, np.ones((4, 8, 1, 1), np.float32), algo="gemm")
    with pytest.raises(ValueError, match="scale needs algo '1x1' or '1x1_chan', not 'gemm'"):
        layer.run(x, y, scale=np.ones((2, 8), np.float32))
    layer = _kernels.Conv2d(ctx, np.ones((4, 8, 1, 1), np.float32), algo="1x1")
    with pytest.raises(ValueError, match="scale"):
        layer.run(x, y, scale=np.ones((1, 8), np.float32))


@pytest.mark.parametrize("threads,isa", CONTEXTS, ids=[f"{i}-{t}t" for t, i in CONTEXTS])
def test_se_gate_kernel_is_the_scale_of_se(threads, isa):
    """run_gate gives the gates run() multiplies by (x * gate == run's y, bit for bit)."""
    ctx = _kernels.Context(threads, isa)
    rng = np.random.default_rng(4)
    for n, c, h, w, c1 in [(2, 72, 28, 28, 24), (1, 960, 7, 7, 240)]:
        w1 = (rng.standard_normal((c1, c)) / np.sqrt(c)).astype(np.float32)
        w2 = (rng.standard_normal((c, c1)) / np.sqrt(c1)).astype(np.float32)
        se = _kernels.SqueezeExcite(ctx, w1, None, w2, rng.standard_normal(c, dtype=np.float32),
                                    activation="Relu", gate="HardSigmoid")
        x = rng.standard_normal((n, c, h, w), dtype=np.float32)
        g = se.run_gate(x, np.full((n, c, 1, 1), np.nan, np.float32))
        np.testing.assert_array_equal(x * g, se.run(x, np.empty_like(x)))


def test_se_gate_bound_call_reads_its_buffers_at_every_call():
    """bind_gate (a plan step), with and without pooled means: each call gives run_gate's
    gates for the values in x (or means) then."""
    ctx = _kernels.Context(1)
    rng = np.random.default_rng(5)
    n, c, c1 = 2, 12, 4
    se = _kernels.SqueezeExcite(ctx, rng.standard_normal((c1, c), dtype=np.float32), None,
                                rng.standard_normal((c, c1), dtype=np.float32), None)
    x, means = np.empty((n, c, 3, 3), np.float32), np.empty((n, c), np.float32)
    g, g_means = np.empty((n, c, 1, 1), np.float32), np.empty((n, c, 1, 1), np.float32)
    plain, pooled = se.bind_gate(x, g), se.bind_gate(x, g_means, means=means)
    for seed in (1, 2):
        x[...] = np.random.default_rng(seed).standard_normal(x.shape)
        means[...] = x.mean(axis=(2, 3))
        plain()
        pooled()
        np.testing.assert_array_equal(g, se.run_gate(x, np.empty_like(g)))
        np.testing.assert_array_equal(g_means, se.run_gate(x, np.empty_like(g), means=means))
    with pytest.raises(ValueError, match="gate"):
        se.bind_gate(x, np.empty((n, c + 1), np.float32))


def se_project_model(gate="Sigmoid", act="Relu", hw=10, c=24, k=16, residual=False,
                     depthwise=False, group=1):
    """x -> Conv 3x3 (c channels) -> t; SE on t (gate); Mul; Conv 1x1 (k) [+ x's 1x1 shortcut];
    the MobileNetV3 / EfficientNet block tail.  depthwise: t = a depthwise 3x3 (+ HardSwish)
    of a 1x1 expansion of x, as in those blocks; group > 1: a grouped 3x3 there instead (c /
    group channels per group, + Relu: RegNetY's)."""
    rng = np.random.default_rng(8)
    c1 = max(c // 4, 1)
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("w0", rng.standard_normal((c, 1 if depthwise else c // group if group > 1 else 3, 3, 3),
                                   dtype=np.float32) * 0.3),
        ("we", rng.standard_normal((c, 3, 1, 1), dtype=np.float32)),
        ("w1", rng.standard_normal((c1, c, 1, 1), dtype=np.float32) * 0.3),
        ("b1", rng.standard_normal(c1, dtype=np.float32)),
        ("w2", rng.standard_normal((c, c1, 1, 1), dtype=np.float32) * 0.3),
        ("b2", rng.standard_normal(c, dtype=np.float32)),
        ("wp", (rng.standard_normal((k, c, 1, 1)) / np.sqrt(c)).astype(np.float32)),
        ("bp", rng.standard_normal(k, dtype=np.float32)),
        ("ws", rng.standard_normal((k, 3, 1, 1), dtype=np.float32))]]
    nodes = [helper.make_node("Conv", ["x", "w0"], ["t"], pads=[1, 1, 1, 1])]
    if depthwise:
        nodes = [helper.make_node("Conv", ["x", "we"], ["e"]),
                 helper.make_node("Conv", ["e", "w0"], ["t0"], pads=[1, 1, 1, 1], group=c),
                 helper.make_node("HardSwish", ["t0"], ["t"])]
    elif group > 1:
        nodes = [helper.make_node("Conv", ["x", "we"], ["e"]),
                 helper.make_node("Conv", ["e", "w0"], ["t0"], pads=[1, 1, 1, 1], group=group),
                 helper.make_node("Relu", ["t0"], ["t"])]
    nodes += [helper.make_node("GlobalAveragePool", ["t"], ["p"]),
             helper.make_node("Conv", ["p", "w1", "b1"], ["h0"]),
             helper.make_node(act, ["h0"], ["h"]),
             helper.make_node("Conv", ["h", "w2", "b2"], ["g0"]),
             helper.make_node(gate, ["g0"], ["g"]),
             helper.make_node("Mul", ["t", "g"], ["s"]),
             helper.make_node("Conv", ["s", "wp", "bp"], ["y0" if residual else "y"])]
    if residual:
        nodes += [helper.make_node("Conv", ["x", "ws"], ["sc"]),
                  helper.make_node("Add", ["y0", "sc"], ["y"])]
    graph = helper.make_graph(nodes, "se_project", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 3, hw, hw])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("isa", ["portable"] + (["avx2"] if HAVE_AVX2 else []))
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("gate,residual,hw,k", [
    ("Sigmoid", False, 10, 16), ("HardSigmoid", False, 10, 16), ("Sigmoid", True, 10, 16),
    ("HardSigmoid", True, 33, 40),
    ("Sigmoid", True, 3, 40),     # K > 2 HW: the convolution keeps a Mul before it
])
def test_se_folded_into_projection_matches_onnxruntime(monkeypatch, isa, threads, gate, residual,
                                                       hw, k):
    """The gates folded into the projection: one SqueezeExciteGate and a Conv taking it, equal
    to onnxruntime and to tinycnn without the fusions, batch 2."""
    monkeypatch.setenv("TINYCNN_ISA", isa)
    model = se_project_model(gate, hw=hw, k=k, residual=residual).SerializeToString()
    x = np.random.default_rng(3).standard_normal((2, 3, hw, hw), dtype=np.float32)
    ref = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    options = tinycnn.SessionOptions()
    options.intra_op_num_threads = threads
    sess = tinycnn.InferenceSession(model, options)
    assert [n.op_type for n in se_nodes(sess)] == ["SqueezeExciteGate"]
    assert len(folded_convs(sess)) == 1
    y = sess.run(None, {"x": x})[0]
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    options.graph_optimization_level = tinycnn.GraphOptimizationLevel.ORT_ENABLE_BASIC
    plain = tinycnn.InferenceSession(model, options).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, plain, rtol=1e-5, atol=1e-6 * np.abs(plain).max())


def test_se_not_folded_into_a_strided_or_shared_consumer():
    """A projection that is not a plain 1x1 (a stride), or a gated value used twice, keeps
    the SqueezeExcite node."""
    m = se_project_model()
    conv = m.graph.node[-1]
    conv.attribute.append(helper.make_attribute("strides", [2, 2]))
    sess = run_both(m)
    assert [n.op_type for n in se_nodes(sess)] == ["SqueezeExcite"]
    m = se_project_model()
    m.graph.node.append(helper.make_node("Relu", ["s"], ["s2"]))
    m.graph.output.append(helper.make_tensor_value_info("s2", TensorProto.FLOAT, None))
    sess = run_both(m)
    assert [n.op_type for n in se_nodes(sess)] == ["SqueezeExcite"]
    assert folded_convs(sess) == []


def test_folded_se_session_shared_by_threads_matches_serial():
    """Runs at once on one session (2 kernel threads each) share the packed projection
    weights: each scales them into its own workspace, so every result is the serial one."""
    import threading
    model = se_project_model("HardSigmoid", hw=20, c=48, k=40, residual=True).SerializeToString()
    options = tinycnn.SessionOptions()
    options.intra_op_num_threads = 2
    sess = tinycnn.InferenceSession(model, options)
    assert len(folded_convs(sess)) == 1
    rng = np.random.default_rng(9)
    feeds = [rng.standard_normal((b, 3, 20, 20), dtype=np.float32) for b in (1, 2, 1, 2, 3, 1)]
    serial = [sess.run(None, {"x": x})[0] for x in feeds]
    results = [[None] * len(feeds) for _ in range(6)]
    start = threading.Barrier(6)

    def worker(t):
        start.wait()
        for rep in range(3 * len(feeds)):
            i = (t + rep) % len(feeds)
            results[t][i] = sess.run(None, {"x": feeds[i]})[0]
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for t in range(6):
        for i, ref in enumerate(serial):
            np.testing.assert_array_equal(results[t][i], ref, err_msg=f"thread {t}, feed {i}")


# -- the pool of the gates summed by the depthwise convolution before the block --------------

def _run_with_means(ctx, rng, layer, n, h, res, label):
    """layer on an n x C x h x h input (and a residual when res), with and without means:
    checks y the same and the means the global average pool of y bit for bit; (y, means)."""
    x = rng.standard_normal((n, layer.in_channels, h, h), dtype=np.float32)
    oshape = layer.output_shape(n, h, h)
    r = rng.standard_normal(oshape, dtype=np.float32) if res else None
    ws = np.empty(layer.workspace_size(n, h, h), np.float32)
    ref = layer.run(x, np.empty(oshape, np.float32), r, ws)
    m = np.full(oshape[:2], np.nan, np.float32)
    y = layer.run(x, np.empty(oshape, np.float32), r, ws, means=m)
    np.testing.assert_array_equal(y, ref, err_msg=f"y {label}")
    pooled = np.empty(oshape[:2] + (1, 1), np.float32)
    _kernels.global_avg_pool(ctx, y, pooled)
    np.testing.assert_array_equal(m, pooled.reshape(oshape[:2]), err_msg=f"means {label}")
    np.testing.assert_allclose(m, y.mean(axis=(2, 3)), rtol=1e-5, atol=1e-5)
    # prefetching what the next step reads (the grouped kernel's hints into L2; the depthwise
    # one ignores them): the same bits, the prefetched array untouched
    nxt = rng.standard_normal(4099, dtype=np.float32)
    keep = nxt.copy()
    m2 = np.full(oshape[:2], np.nan, np.float32)
    y2 = np.empty(oshape, np.float32)
    layer.bind(x, y2, r, ws, means=m2, prefetch=nxt)()
    np.testing.assert_array_equal(y2, ref, err_msg=f"y with prefetch {label}")
    np.testing.assert_array_equal(m2, m, err_msg=f"means with prefetch {label}")
    np.testing.assert_array_equal(nxt, keep, err_msg=f"prefetched array {label}")
    return y, m


@pytest.mark.parametrize("threads,isa", CONTEXTS, ids=[f"{i}-{t}t" for t, i in CONTEXTS])
def test_depthwise_means_are_the_global_pool_of_its_output(threads, isa):
    """Conv2d.run(means=m) (csrc/conv.c tc_conv2d_means_f32): y as without means, and m the
    global average pool of y bit for bit; the gates from those means (run_gate(means=m)) the
    gates from x, bit for bit.  3x3 and 5x5, strides 1 and 2, dilation 2, planes small and
    large, channel counts in and out of the 8-channel blocks, batch 2, a residual."""
    ctx = _kernels.Context(threads, isa)
    rng = np.random.default_rng(17)
    for n, c, h, ks, st, dl, act, res in [(2, 72, 28, 3, 1, 1, "Relu", False),
                                          (1, 120, 33, 5, 2, 1, "HardSwish", False),
                                          (2, 13, 9, 3, 2, 1, "", True),
                                          (1, 96, 32, 5, 1, 2, "HardSwish", False),
                                          (2, 24, 7, 3, 1, 1, "Clip", True)]:
        p = (ks // 2) * dl
        w = rng.standard_normal((c, 1, ks, ks), dtype=np.float32)
        layer = _kernels.Conv2d(ctx, w, rng.standard_normal(c, dtype=np.float32), algo="depthwise",
                                strides=(st, st), pads=(p, p, p, p), dilations=(dl, dl), group=c,
                                activation=act)
        y, m = _run_with_means(ctx, rng, layer, n, h, res, (n, c, h, ks, st, dl))
        c1 = max(c // 4, 1)
        se = _kernels.SqueezeExcite(ctx, rng.standard_normal((c1, c), dtype=np.float32),
                                    None, rng.standard_normal((c, c1), dtype=np.float32), None,
                                    activation="Relu", gate="HardSigmoid")
        g = se.run_gate(y, np.empty((n, c, 1, 1), np.float32))
        gm = se.run_gate(y, np.full((n, c, 1, 1), np.nan, np.float32), means=m)
        np.testing.assert_array_equal(gm, g, err_msg=f"gates {(n, c, h)}")


@pytest.mark.parametrize("threads,isa", CONTEXTS, ids=[f"{i}-{t}t" for t, i in CONTEXTS])
def test_grouped_means_are_the_global_pool_of_its_output(threads, isa):
    """The grouped kernel's means (RegNetY's SE input): y as without means, m the global
    average pool of y bit for bit.  8 channels per group (RegNetY) at strides 1 and 2, odd
    planes, 4 -> 6 channels per group (blocks of 4 and 2), SiLU (applied in a pass after
    each block), a residual, batch 2."""
    ctx = _kernels.Context(threads, isa)
    rng = np.random.default_rng(19)
    for n, c, k, g, h, st, act, res in [(1, 48, 48, 6, 15, 2, "Relu", False),
                                        (2, 104, 104, 13, 7, 1, "Relu", True),
                                        (1, 20, 30, 5, 9, 1, "SiLU", False),
                                        (2, 16, 16, 2, 12, 2, "", True)]:
        w = rng.standard_normal((k, c // g, 3, 3), dtype=np.float32)
        layer = _kernels.Conv2d(ctx, w, rng.standard_normal(k, dtype=np.float32), algo="grouped",
                                strides=(st, st), pads=(1, 1, 1, 1), group=g, activation=act)
        _run_with_means(ctx, rng, layer, n, h, res, (n, c, k, g, h, st))


def test_prefetch_refused_without_means():
    """Conv2d.bind(prefetch=...) only with means (the step before a gate), of an array."""
    ctx = _kernels.Context(1, "portable")
    x = np.ones((1, 16, 5, 5), np.float32)
    layer = _kernels.Conv2d(ctx, np.ones((16, 8, 3, 3), np.float32), algo="grouped", group=2,
                            pads=(1, 1, 1, 1))
    y, m = np.empty_like(x), np.empty((1, 16), np.float32)
    with pytest.raises(ValueError, match="prefetch needs means"):
        layer.bind(x, y, prefetch=np.ones(64, np.float32))
    with pytest.raises(ValueError, match="prefetch needs means"):
        layer.bind(x, y, means=m, prefetch=np.ones((8, 8), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="prefetch needs means"):
        layer.bind(x, y, means=m, prefetch=b"bytes")


def test_squeeze_excite_weights_are_w1_and_w2():
    """SqueezeExcite.weights, what the gates read (and the step before prefetches), holds
    w1 and w2: .w1 and .w2 are views of it."""
    rng = np.random.default_rng(23)
    w1, w2 = rng.standard_normal((5, 19), dtype=np.float32), rng.standard_normal((19, 5), dtype=np.float32)
    se = _kernels.SqueezeExcite(_kernels.Context(1, "portable"), w1, None, w2, None)
    np.testing.assert_array_equal(se.w1, w1)
    np.testing.assert_array_equal(se.w2, w2)
    assert np.shares_memory(se.w1, se.weights) and np.shares_memory(se.w2, se.weights)
    assert se.weights.size >= w1.size + w2.size


def test_depthwise_means_refused_elsewhere():
    ctx = _kernels.Context(1, "portable")
    x = np.ones((2, 8, 5, 5), np.float32)
    layer = _kernels.Conv2d(ctx, np.ones((4, 8, 1, 1), np.float32), algo="1x1")
    with pytest.raises(ValueError, match="means needs algo 'depthwise'"):
        layer.run(x, np.empty((2, 4, 5, 5), np.float32), means=np.empty((2, 4), np.float32))
    dw = _kernels.Conv2d(ctx, np.ones((8, 1, 3, 3), np.float32), algo="depthwise", group=8,
                         pads=(1, 1, 1, 1))
    with pytest.raises(ValueError, match="means"):
        dw.run(x, np.empty_like(x), means=np.empty((2, 4), np.float32))
    se = _kernels.SqueezeExcite(ctx, np.ones((2, 8), np.float32), None, np.ones((8, 2), np.float32),
                                None)
    with pytest.raises(ValueError, match="means"):
        se.run_gate(x, np.empty((2, 8, 1, 1), np.float32), means=np.empty((1, 8), np.float32))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("layer", ["depthwise", "grouped"])
def test_se_pooled_by_the_depthwise_layer_matches_onnxruntime(monkeypatch, threads, layer):
    """graph._se_pool_in_depthwise: the depthwise (or grouped, 8 channels per group) Conv
    writes the means as a second output and the SqueezeExciteGate takes them; the outputs are
    those of the session without that pass, bit for bit, and onnxruntime's, batch 2."""
    import tinycnn.graph as graph
    kind = dict(depthwise=True) if layer == "depthwise" else dict(group=4)
    model = se_project_model("HardSigmoid", hw=12, c=32, k=16, residual=True,
                             **kind).SerializeToString()
    x = np.random.default_rng(3).standard_normal((2, 3, 12, 12), dtype=np.float32)
    ref = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    options = tinycnn.SessionOptions()
    options.intra_op_num_threads = threads
    sess = tinycnn.InferenceSession(model, options)
    (gate,) = se_nodes(sess)
    dw = [nd for nd in sess._base.graph.nodes if gate.inputs[0] in nd.outputs]
    assert len(dw) == 1 and dw[0].outputs[1] == gate.inputs[5]
    y = sess.run(None, {"x": x})[0]
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    monkeypatch.setattr(graph, "_se_pool_in_depthwise", lambda g: None)
    apart = tinycnn.InferenceSession(model, options)
    assert len(se_nodes(apart)[0].inputs) <= 5
    np.testing.assert_array_equal(y, apart.run(None, {"x": x})[0])


def test_session_with_prefetching_se_is_freed_without_the_garbage_collector():
    """The grouped Conv whose step prefetches the gate's weights (NodeContext.reads_next)
    looks them up in the planner's dict, never through the NodeContext (its sink, the
    planner, holds the records and their steps: a cycle): a session and everything its
    plan holds (layers, packed weights) go when its last reference does, not at the
    garbage collector's next pass."""
    import gc
    model = se_project_model("HardSigmoid", hw=12, c=32, k=16, residual=True,
                             group=4).SerializeToString()
    x = np.random.default_rng(3).standard_normal((2, 3, 12, 12), dtype=np.float32)

    def ours():
        return sum(1 for o in gc.get_objects()
                   if str(getattr(type(o), "__module__", "")).startswith("tinycnn"))

    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        before = ours()
        sess = tinycnn.InferenceSession(model)
        (gate,) = se_nodes(sess)
        assert any(gate.inputs[5] in nd.outputs for nd in sess._base.graph.nodes), \
            "the grouped Conv no longer pools the gate's input: the test lost its subject"
        sess.run(None, {"x": x})
        sess.run(None, {"x": x})
        del sess, gate
        left = ours() - before
    finally:
        if enabled:
            gc.enable()
    assert left == 0, f"{left} tinycnn objects outlive the session until the collector runs"


@pytest.mark.parametrize("threads", [1, 2])
def test_efficientnet_first_block_writes_its_depthwise_in_place(threads):
    """EfficientNet-B0's stem and features.1 (3 -> 32 at stride 2 + SiLU, 3x3 depthwise + SiLU
    whose 1.6 MB output is past L2, SE 32 -> 8 -> 32, projection 32 -> 16): the depthwise writes
    over the stem's output, which dies there (ops/conv.py _dw_in_place), and the outputs match
    onnxruntime's."""
    rng = np.random.default_rng(30)

    def t(name, *shape, scale=0.3):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    def silu(x, y):
        return [helper.make_node("Sigmoid", [x], [y + "_s"]), helper.make_node("Mul", [x, y + "_s"], [y])]
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1])] + silu("c0", "a0")
    nodes += [helper.make_node("Conv", ["a0", "w1", "b1"], ["c1"], kernel_shape=[3, 3], group=32,
                               pads=[1, 1, 1, 1])] + silu("c1", "a1")
    nodes += [helper.make_node("GlobalAveragePool", ["a1"], ["p"]),
              helper.make_node("Conv", ["p", "ws1", "bs1"], ["h"], kernel_shape=[1, 1])] + silu("h", "ha")
    nodes += [helper.make_node("Conv", ["ha", "ws2", "bs2"], ["g"], kernel_shape=[1, 1]),
              helper.make_node("Sigmoid", ["g"], ["gs"]), helper.make_node("Mul", ["a1", "gs"], ["sc"]),
              helper.make_node("Conv", ["sc", "w2", "b2"], ["y"], kernel_shape=[1, 1])]
    inits = [t("w0", 32, 3, 3, 3), t("b0", 32), t("w1", 32, 1, 3, 3), t("b1", 32),
             t("ws1", 8, 32, 1, 1), t("bs1", 8), t("ws2", 32, 8, 1, 1), t("bs2", 32),
             t("w2", 16, 32, 1, 1), t("b2", 16)]
    graph = helper.make_graph(nodes, "effb0_first", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 3, 224, 224])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    so = tinycnn.SessionOptions()
    so.intra_op_num_threads = threads
    sess = tinycnn.InferenceSession(model.SerializeToString(), so)
    got = sess.run(None, {"x": x})[0]
    ref = onnxruntime.InferenceSession(model.SerializeToString(),
                                       providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    err = np.abs(got - ref).max() / np.abs(ref).max()
    assert err < 1e-4, err
    plan, _ = sess._plan_for({"x": x}, ("y",), None)
    in_place = [s for s in plan.steps if s.inputs and s.outputs
                and s.outputs[0].storage is s.inputs[0].storage
                and s.outputs[0].shape == (1, 32, 112, 112)]
    assert len(in_place) == 1, [s.label for s in plan.steps]


# -- the chan8 pair before a gate prefetching the gate's weights -----------------------------

@pytest.mark.skipif(not HAVE_AVX2, reason="CPU lacks AVX2/FMA")
@pytest.mark.parametrize("threads", [1, 2])
def test_chan8_pair_prefetch_keeps_its_bits(threads):
    """IRChan8Pair.bind(prefetch=array) (csrc/ir_chan8_avx2.c: the strips' expansion tiles
    prefetch their share of the array's lines into L2): y and the means those of the pair
    without it, the array untouched; arrays of 1 line, an odd count of floats, more lines than
    the tiles' K steps (the rest after each strip), 14x14, 7x7 (its 5 x 5 tiles), E % 16 == 8,
    batch 2 (the last image prefetches)."""
    ctx = _kernels.Context(threads, "avx2")
    rng = np.random.default_rng(29)
    for c0, e, h, k, s, act in [(112, 672, 14, 3, 1, "HardSwish"), (160, 960, 7, 5, 1, "HardSwish"),
                                (40, 200, 14, 3, 1, ""), (24, 72, 28, 5, 2, "Relu")]:
        wa = rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0))
        wb = rng.standard_normal((e, 1, k, k), dtype=np.float32) / np.float32(k)
        lanes = _kernels.Conv2d(ctx, wa, rng.standard_normal(e, dtype=np.float32),
                                algo="1x1_chan", activation=act)
        dw = _kernels.Conv2d(ctx, wb, rng.standard_normal(e, dtype=np.float32),
                             algo="depthwise", strides=(s, s), pads=(k // 2,) * 4, group=e,
                             activation=act)
        pair = _kernels.IRChan8Pair(lanes, dw)
        assert pair.takes(h, h)
        x = rng.standard_normal((2, c0, h, h), dtype=np.float32)
        ws = np.empty(pair.workspace_size(h, h), np.float32)
        want = np.empty(dw.output_shape(2, h, h), np.float32)
        want_m = np.empty(want.shape[:2], np.float32)
        pair.run(x, want, want_m, ws)
        for size in (16, 4099, 2 * e * e // 4 + 7):
            nxt = rng.standard_normal(size, dtype=np.float32)
            keep = nxt.copy()
            got, got_m = np.full_like(want, np.nan), np.full_like(want_m, np.nan)
            pair.bind(x, got, got_m, ws, prefetch=nxt)()
            label = (c0, e, h, k, s, size)
            np.testing.assert_array_equal(got, want, err_msg=f"y {label}")
            np.testing.assert_array_equal(got_m, want_m, err_msg=f"means {label}")
            np.testing.assert_array_equal(nxt, keep, err_msg=f"prefetched array {label}")


@pytest.mark.skipif(not HAVE_AVX2, reason="CPU lacks AVX2/FMA")
def test_chan8_pair_prefetch_refuses_other_objects():
    ctx = _kernels.Context(1, "avx2")
    wa, wb = np.ones((16, 8, 1, 1), np.float32), np.ones((16, 1, 3, 3), np.float32)
    pair = _kernels.IRChan8Pair(_kernels.Conv2d(ctx, wa, algo="1x1_chan"),
                                _kernels.Conv2d(ctx, wb, algo="depthwise", pads=(1, 1, 1, 1),
                                                group=16))
    x, y = np.ones((1, 8, 8, 8), np.float32), np.empty((1, 16, 8, 8), np.float32)
    for bad in (np.ones((8, 8), np.float32)[:, ::2], b"bytes"):
        with pytest.raises(ValueError, match="prefetch needs a C-contiguous array"):
            pair.bind(x, y, prefetch=bad)


@pytest.mark.skipif(not HAVE_AVX2, reason="CPU lacks AVX2/FMA")
@pytest.mark.parametrize("threads", [1, 2])
def test_chan8_pair_prefetches_its_gate_weights(monkeypatch, threads):
    """fused_ir.plan_chan8_pair: the pair whose means an SE gate reads (MobileNetV3's
    blocks) binds with the gate's weights (SqueezeExcite.weights, NodeContext.reads_next) as
    its prefetch at 1 and 2 threads (PAIR_PREFETCH_MAX_THREADS), and without it past that
    count; the outputs those of the session without it, bit for bit, and onnxruntime's."""
    import types
    from tinycnn.ops import fused_ir
    seen, real = [], fused_ir.K

    class Spy:
        def __init__(self, *args):
            self.pair = real.IRChan8Pair(*args)
            self.takes, self.workspace_size = self.pair.takes, self.pair.workspace_size

        def bind(self, *args, **kwargs):
            seen.append(kwargs.get("prefetch"))
            return self.pair.bind(*args, **kwargs)

    spy = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real)
                                   if not k.startswith("__")})
    spy.IRChan8Pair = Spy
    monkeypatch.setattr(fused_ir, "K", spy)
    model = se_project_model("HardSigmoid", hw=14, c=48, k=24, depthwise=True).SerializeToString()
    x = np.random.default_rng(5).standard_normal((1, 3, 14, 14), dtype=np.float32)
    options = tinycnn.SessionOptions()
    options.intra_op_num_threads = threads
    monkeypatch.setenv("TINYCNN_ISA", "avx2")
    sess = tinycnn.InferenceSession(model, options)
    y = sess.run(None, {"x": x})[0]
    assert seen, "no chan8 pair planned: the test lost its subject"
    assert all(p is not None and p.nbytes >= 2 * 48 * 12 * 4 for p in seen), seen
    ref = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    monkeypatch.setattr(fused_ir, "PAIR_PREFETCH_MAX_THREADS", threads - 1)
    seen.clear()
    np.testing.assert_array_equal(y, tinycnn.InferenceSession(model, options).run(
        None, {"x": x})[0])
    assert seen and all(p is None for p in seen), seen
