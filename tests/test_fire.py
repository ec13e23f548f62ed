"""SqueezeNet's fire modules as one call (graph._fuse_fire, ops/fused_fire.py, csrc/fire.c):
each thread takes a band of rows through every module, one pool job a module.

The kernel against the layers run whole and concatenated (Conv2d.run), which it must match bit
for bit: portable and AVX2 (and AVX-512 where there is one), 1, 2 and 3 threads, both Winograd
tiles, the 1x1 algorithms, one to three modules, maps of 1 row, odd sizes, bands of one tile
row, batch 2; models of fire modules against onnxruntime, fused and not, at 1 to 3 threads,
and the planner's refusals."""
import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from tinycnn import _kernels
from tinycnn.ops import fused_fire
from helpers import kernel_context

CONTEXTS = [(1, "portable"), (2, "portable"), (1, "avx2"), (2, "avx2"), (3, "avx2"),
            (2, "avx512")]


@pytest.fixture(params=CONTEXTS, ids=lambda p: f"{p[1]}-{p[0]}t")
def ctx(request):
    return kernel_context(*request.param)


# (n, C, [(squeeze, expand1, expand3) a module], h, w)
CASES = [
    (1, 64, [(16, 64, 64), (16, 64, 64)], 55, 55),  # SqueezeNet's features.3 + .4
    (1, 64, [(16, 64, 64)], 55, 55),                # features.3 alone
    (1, 32, [(16, 24, 40), (8, 16, 8)], 27, 27),    # 7 rows of tiles: bands of 3 + 4
    (2, 24, [(8, 16, 12), (6, 5, 9)], 13, 9),       # batch 2, odd sizes
    (1, 16, [(8, 8, 8), (4, 8, 8), (8, 4, 4)], 8, 30),  # two rows of tiles: bands of one
    (1, 10, [(6, 7, 13), (5, 3, 3)], 1, 17),        # one row
    (1, 5, [(3, 4, 6), (2, 3, 3)], 3, 1),           # one column
    (1, 12, [(7, 9, 5), (4, 6, 6)], 21, 6),         # a short last band
]


def _case_id(c):
    n, ch, mods, h, w = c
    return f"n{n}c{ch}_" + "_".join("s{}e{}+{}".format(*m) for m in mods) + f"_{h}x{w}"


def _layers(ctx, case, e3_algo, sq_algo, rng):
    n, c, mods, h, w = case

    def conv(k, cin, kk, algo, pads):
        wt = rng.standard_normal((k, cin, kk, kk), dtype=np.float32) / np.float32(kk * np.sqrt(cin))
        b = rng.standard_normal(k, dtype=np.float32)
        return _kernels.Conv2d(ctx, wt, b, algo=algo, pads=pads, activation="Relu")
    layers = []
    for s, k1, k3 in mods:
        layers += [conv(s, c, 1, sq_algo, (0, 0, 0, 0)), conv(k1, s, 1, "1x1", (0, 0, 0, 0)),
                   conv(k3, s, 3, e3_algo, (1, 1, 1, 1))]
        c = k1 + k3
    return layers


def _unfused(layers, x):
    """The layers one after the other, each module's expands concatenated."""
    n, _, h, w = x.shape
    for sq, e1, e3 in zip(layers[::3], layers[1::3], layers[2::3]):
        t = np.empty((n, sq.out_channels, h, w), np.float32)
        sq.run(x, t, None, np.empty(sq.workspace_size(n, h, w), np.float32))
        ys = []
        for e in (e1, e3):
            ys.append(np.empty((n, e.out_channels, h, w), np.float32))
            e.run(t, ys[-1], None, np.empty(e.workspace_size(n, h, w), np.float32))
        x = np.concatenate(ys, axis=1)
    return x


@pytest.mark.parametrize("sq_algo", ["1x1", "1x1_chan"])
@pytest.mark.parametrize("e3_algo", ["winograd_f4x4_3x3", "winograd_f2x2_3x3"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_fire_is_the_layers_and_the_concats_bit_for_bit(ctx, case, e3_algo, sq_algo):
    n, c, mods, h, w = case
    rng = np.random.default_rng(h * w + c + len(mods))
    layers = _layers(ctx, case, e3_algo, sq_algo, rng)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    want = _unfused(layers, x)
    fire = _kernels.Fire(*layers)
    assert fire.modules == len(mods)
    ws = np.full(fire.workspace_size(h, w), np.nan, np.float32)
    y = np.full(want.shape, np.nan, np.float32)
    call = fire.bind(x, y, ws)
    call()
    np.testing.assert_array_equal(y, want)
    y[...] = np.nan
    call()  # again, on the same workspace
    np.testing.assert_array_equal(y, want, err_msg="second run")


def test_fire_mixed_tiles_bit_for_bit():
    """A module with F(2x2) after one with F(4x4): the bands are whole 4-row tiles."""
    ctx = _kernels.Context(3, "avx2" if _kernels.best_isa() != "portable" else "portable")
    rng = np.random.default_rng(7)
    case = (1, 16, [(8, 8, 8), (8, 8, 8)], 23, 19)
    a = _layers(ctx, case, "winograd_f4x4_3x3", "1x1", rng)
    b = _layers(ctx, case, "winograd_f2x2_3x3", "1x1", rng)
    layers = a[:3] + b[3:]
    x = rng.standard_normal((1, 16, 23, 19), dtype=np.float32)
    y = np.full((1, 16, 23, 19), np.nan, np.float32)
    _kernels.Fire(*layers).run(x, y)
    np.testing.assert_array_equal(y, _unfused(layers, x))


def test_refuses_what_is_not_a_fire_module():
    ctx = _kernels.Context(2, "portable")
    rng = np.random.default_rng(0)
    sq, e1, e3, sq2, e12, e32 = _layers(ctx, (1, 8, [(4, 4, 4), (4, 4, 4)], 9, 9),
                                        "winograd_f4x4_3x3", "1x1", rng)
    direct3 = _kernels.Conv2d(ctx, rng.standard_normal((4, 4, 3, 3), dtype=np.float32), None,
                              algo="gemm", pads=(1, 1, 1, 1))
    unpadded = _kernels.Conv2d(ctx, rng.standard_normal((4, 4, 3, 3), dtype=np.float32), None,
                               algo="winograd_f4x4_3x3")
    wide = _kernels.Conv2d(ctx, rng.standard_normal((4, 5, 1, 1), dtype=np.float32), None,
                           algo="1x1")
    for args in ((sq, e1, direct3), (sq, e1, unpadded), (sq, wide, e3), (e3, e1, e3),
                 (sq, e1, e3, wide, e12, e32),  # the second squeeze takes 5 channels, not 4 + 4
                 (sq, e1, e3, sq2, e12), (), (sq, e1, e3) * 9):
        with pytest.raises(ValueError, match="fire"):
            _kernels.Fire(*args)
    fire = _kernels.Fire(sq, e1, e3, sq2, e12, e32)
    with pytest.raises(ValueError, match="channels"):
        fire.bind(np.zeros((1, 7, 9, 9), np.float32), np.zeros((1, 8, 9, 9), np.float32))
    with pytest.raises(ValueError):
        fire.bind(np.zeros((1, 8, 9, 9), np.float32), np.zeros((1, 7, 9, 9), np.float32))


def _fire_model(c, mods, size, batch, rng, extra_output=False):
    """Fire modules in a row, then a 1x1 head; extra_output: the first module's Concat is a
    graph output too."""
    inits, nodes, x, c0 = [], [], "x", c

    def init(name, shape, scale):
        inits.append(numpy_helper.from_array(
            (rng.standard_normal(shape) * scale).astype(np.float32), name))
    for j, (s, k1, k3) in enumerate(mods):
        init(f"ws{j}", (s, c, 1, 1), 1 / np.sqrt(c))
        init(f"bs{j}", (s,), 0.1)
        init(f"w1{j}", (k1, s, 1, 1), 1 / np.sqrt(s))
        init(f"b1{j}", (k1,), 0.1)
        init(f"w3{j}", (k3, s, 3, 3), 1 / (3 * np.sqrt(s)))
        init(f"b3{j}", (k3,), 0.1)
        nodes += [helper.make_node("Conv", [x, f"ws{j}", f"bs{j}"], [f"t{j}"]),
                  helper.make_node("Relu", [f"t{j}"], [f"s{j}"]),
                  helper.make_node("Conv", [f"s{j}", f"w1{j}", f"b1{j}"], [f"u1{j}"]),
                  helper.make_node("Relu", [f"u1{j}"], [f"y1{j}"]),
                  helper.make_node("Conv", [f"s{j}", f"w3{j}", f"b3{j}"], [f"u3{j}"],
                                   pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"u3{j}"], [f"y3{j}"]),
                  helper.make_node("Concat", [f"y1{j}", f"y3{j}"], [f"cat{j}"], axis=1)]
        x, c = f"cat{j}", k1 + k3
    init("wh", (5, c, 1, 1), 1 / np.sqrt(c))
    nodes.append(helper.make_node("Conv", [x, "wh"], ["y"]))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if extra_output:
        outputs.append(helper.make_tensor_value_info("cat0", TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes, "fire",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, c0, *size])],
        outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _session(model, threads, level=None):
    opts = tinycnn.SessionOptions()
    opts.intra_op_num_threads = threads
    if level is not None:
        opts.graph_optimization_level = level
    return tinycnn.InferenceSession(model, opts)


FIRE_LABEL = "Conv+Relu+Conv+Relu+Conv+Relu+Concat"


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("c,mods,size,batch", [
    (64, [(16, 64, 64), (16, 64, 64)], (55, 55), 1),
    (64, [(16, 32, 64), (16, 24, 24)], (57, 61), 2),
    (32, [(16, 32, 32), (16, 24, 24), (16, 24, 32)], (56, 56), 1),
])
def test_model_against_onnxruntime(c, mods, size, batch, threads):
    rng = np.random.default_rng(threads + c + len(mods))
    model = _fire_model(c, mods, size, batch, rng)
    x = rng.standard_normal((batch, c, *size)).astype(np.float32)
    want = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    got, recs = _session(model, threads).run_profiled({"x": x})
    ops = [r["op"] for r in recs]
    assert ops[0] == "+".join([FIRE_LABEL] * len(mods)), ops
    assert len(ops) == 2, ops  # one step, the Concats in it, then the head
    scale = np.abs(want).max()
    np.testing.assert_allclose(got[0], want, rtol=0, atol=2e-5 * scale)
    plain = _session(model, threads, tinycnn.GraphOptimizationLevel.ORT_ENABLE_BASIC).run(
        None, {"x": x})[0]
    np.testing.assert_array_equal(got[0], plain)


@pytest.mark.parametrize("why", ["small map", "one module", "kept output"])
def test_planner_refusals_run_the_layers(why):
    """Below FIRE_MIN_PIXELS, a lone module (FIRE_MIN_MODULES), or an intermediate Concat that
    is a graph output: the convolutions and Concats as separate steps, the same bits as
    unfused."""
    rng = np.random.default_rng(3)
    mods = [(8, 16, 16)] if why == "one module" else [(8, 16, 16), (8, 16, 16)]
    side = 54 if why == "small map" else 55
    assert side * side < fused_fire.FIRE_MIN_PIXELS or why != "small map"
    model = _fire_model(16, mods, (side, side), 1, rng, extra_output=why == "kept output")
    x = rng.standard_normal((1, 16, side, side)).astype(np.float32)
    got, recs = _session(model, 2).run_profiled({"x": x})
    assert len(recs) >= 3 * len(mods) + 1, [r["op"] for r in recs]
    plain = _session(model, 2, tinycnn.GraphOptimizationLevel.ORT_ENABLE_BASIC).run(
        None, {"x": x})
    for a, b in zip(got, plain):
        np.testing.assert_array_equal(a, b)


def test_chained_fire_counts_each_expand3_in_the_conv_chain():
    """graph.conv_chain (which picks the Winograd tile the network can afford) sees a Fire of
    three modules as its three expand 3x3s in a row, as it saw the unfused graph."""
    from tinycnn.graph import conv_chain
    rng = np.random.default_rng(5)
    model = _fire_model(16, [(8, 8, 8), (8, 8, 8), (8, 8, 8)], (9, 9), 1, rng)
    fused = tinycnn.InferenceSession(model)
    fires = [n for n in fused._graph.nodes if n.op_type == "Fire"]
    assert len(fires) == 1 and len(fires[0].attrs["squeeze"]) == 3, fused._graph.nodes
    assert conv_chain(fused._graph.nodes, fused._graph.initializers) == 3
    opts = tinycnn.SessionOptions()
    opts.graph_optimization_level = tinycnn.GraphOptimizationLevel.ORT_ENABLE_BASIC
    plain = tinycnn.InferenceSession(model, opts)
    assert conv_chain(plain._graph.nodes, plain._graph.initializers) == 3
