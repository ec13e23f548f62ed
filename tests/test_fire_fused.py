"""SqueezeNet's fire module (squeeze 1x1 -> expand 1x1 and expand 3x3 -> Concat) as one node
(graph._fuse_fire, ops/fused_fire.py) run in bands of rows (csrc/fire_fused.c,
_kernels.FireFused).

The kernel against its three layers run one after the other (Conv2d) and concatenated with
numpy, which it must match bit for bit: every ISA, 1 and 2 threads, odd sizes, batch 2, the
expand3x3 as Winograd F(4x4) and F(2x2) (bands multiples of 4) and as the GEMM (any band),
either concat order; hand-built fire modules against onnxruntime and against the session
without the pass; SqueezeNet 1.1 at full depth against onnxruntime and its unfused run."""
import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from tinycnn import _kernels
from tinycnn.ops import fused_fire
from test_depthwise import ctx  # noqa: F401  (every ISA, 1 and 2 threads)
from test_pg_fused import _session


def _fire(ctx, rng, c0, s, k1, k3, e3_algo, sq_algo="1x1", e1_algo="1x1", act="Relu"):
    def w(k, c, kh):
        return rng.standard_normal((k, c, kh, kh), dtype=np.float32) / np.float32(kh * np.sqrt(c))

    def b(k):
        return rng.standard_normal(k, dtype=np.float32) * np.float32(0.1)
    sq = _kernels.Conv2d(ctx, w(s, c0, 1), b(s), algo=sq_algo, activation=act)
    e1 = _kernels.Conv2d(ctx, w(k1, s, 1), b(k1), algo=e1_algo, activation=act)
    e3 = _kernels.Conv2d(ctx, w(k3, s, 3), b(k3), algo=e3_algo, pads=(1, 1, 1, 1),
                         activation=act)
    return sq, e1, e3


def _run(layer, x):
    n, _, h, w = x.shape
    y = np.empty(layer.output_shape(n, h, w), np.float32)
    layer.run(x, y, None, np.empty(layer.workspace_size(n, h, w), np.float32))
    return y


def _unfused(sq, e1, e3, x, e1_first):
    t = _run(sq, x)
    a, b = _run(e1, t), _run(e3, t)
    return np.concatenate((a, b) if e1_first else (b, a), axis=1)


CASES = [  # (n, c0, s, k1, k3, h, w)
    (1, 64, 16, 64, 64, 23, 21),    # SqueezeNet's fire2, smaller
    (2, 24, 8, 16, 24, 13, 13),
    (1, 12, 6, 8, 10, 17, 9),
    (2, 5, 3, 4, 7, 6, 11),
    (1, 16, 8, 8, 8, 1, 1),
    (1, 7, 4, 5, 3, 4, 2),
]
E3_ALGOS = ["winograd_f4x4_3x3", "winograd_f2x2_3x3", "gemm"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}s{}e{}-{}_{}x{}".format(*c))
@pytest.mark.parametrize("e3_algo", E3_ALGOS)
def test_fused_fire_is_the_unfused_one_bit_for_bit(ctx, case, e3_algo):
    n, c0, s, k1, k3, h, w = case
    rng = np.random.default_rng(sum(case))
    x = rng.standard_normal((n, c0, h, w), dtype=np.float32)
    for sq_algo, e1_algo, act, e1_first in [("1x1", "1x1", "Relu", True),
                                            ("1x1_chan", "1x1", "", False),
                                            ("1x1", "1x1_chan", "SiLU", True)]:
        sq, e1, e3 = _fire(ctx, rng, c0, s, k1, k3, e3_algo, sq_algo, e1_algo, act)
        want = _unfused(sq, e1, e3, x, e1_first)
        c1, c3 = (0, k1) if e1_first else (k3, 0)
        bands = {4, 8, h, h + 4} | ({1, 2, 3, 5} if e3_algo == "gemm" else set())
        for band in sorted(bands):
            f = _kernels.FireFused(sq, e1, e3, band, k1 + k3, c1, c3)
            ws = np.empty(f.workspace_size(h, w), np.float32)
            y = np.full(want.shape, np.nan, np.float32)
            f.run(x, y, ws)
            np.testing.assert_array_equal(
                y, want, err_msg=f"y of the fused fire, band {band}, {sq_algo} -> {e1_algo}, "
                                 f"{e3_algo}, act {act!r}, e1 first {e1_first}")


def test_fused_fire_leaves_the_other_channels_alone():
    ctx = _kernels.Context(2, "portable")
    rng = np.random.default_rng(3)
    sq, e1, e3 = _fire(ctx, rng, 8, 4, 5, 6, "gemm")
    x = rng.standard_normal((1, 8, 9, 7), dtype=np.float32)
    want = _unfused(sq, e1, e3, x, True)
    y = np.full((1, 14, 9, 7), 7.0, np.float32)
    _kernels.FireFused(sq, e1, e3, 4, 14, 1, 8).run(x, y)
    np.testing.assert_array_equal(y[:, 1:6], want[:, :5], err_msg="e1's slice")
    np.testing.assert_array_equal(y[:, 8:], want[:, 5:], err_msg="e3's slice")
    assert (y[:, 0] == 7).all() and (y[:, 6:8] == 7).all(), "channels outside the slices"


def test_fused_fire_refuses_what_does_not_chain():
    ctx = _kernels.Context(1, "portable")
    rng = np.random.default_rng(0)
    sq, e1, e3 = _fire(ctx, rng, 8, 4, 6, 6, "gemm")
    with pytest.raises(ValueError, match="fire_fused"):
        _kernels.FireFused(sq, e1, e3, 4, 12, 0, 3)  # overlapping slices
    with pytest.raises(ValueError, match="fire_fused"):
        _kernels.FireFused(sq, e1, e3, 4, 11, 0, 6)  # past y's channels
    with pytest.raises(ValueError, match="fire_fused"):
        _kernels.FireFused(sq, e3, e1, 4, 12, 0, 6)  # the 3x3 as the 1x1
    wide = _kernels.Conv2d(ctx, np.ones((6, 4, 3, 3), np.float32), algo="gemm")  # no pads
    with pytest.raises(ValueError, match="fire_fused"):
        _kernels.FireFused(sq, e1, wide, 4, 12, 0, 6)
    other = _kernels.Conv2d(ctx, np.ones((6, 5, 1, 1), np.float32), algo="1x1")  # 5 inputs
    with pytest.raises(ValueError, match="fire_fused"):
        _kernels.FireFused(sq, other, e3, 4, 12, 0, 6)
    f = _kernels.FireFused(sq, e1, e3, 4, 12, 0, 6)
    with pytest.raises(ValueError, match="channels"):
        f.run(np.zeros((1, 9, 8, 8), np.float32), np.zeros((1, 12, 8, 8), np.float32))
    with pytest.raises(ValueError, match="y"):
        f.run(np.zeros((1, 8, 8, 8), np.float32), np.zeros((1, 12, 4, 8), np.float32))


# -- in a graph --------------------------------------------------------------------------------

def fire_model(c0, s, k1, k3, hw, e1_first=True, fires=2):
    """x -> fires x (squeeze 1x1 + Relu -> expand 1x1 + Relu, expand 3x3 + Relu -> Concat)."""
    rng = np.random.default_rng(5)
    nodes, inits, x, c = [], {}, "x", c0
    for i in range(fires):
        inits.update({
            f"ws{i}": rng.standard_normal((s, c, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c)),
            f"bs{i}": rng.standard_normal(s, dtype=np.float32) * 0.1,
            f"w1{i}": rng.standard_normal((k1, s, 1, 1), dtype=np.float32) / np.float32(np.sqrt(s)),
            f"b1{i}": rng.standard_normal(k1, dtype=np.float32) * 0.1,
            f"w3{i}": rng.standard_normal((k3, s, 3, 3), dtype=np.float32) / np.float32(3 * np.sqrt(s)),
            f"b3{i}": rng.standard_normal(k3, dtype=np.float32) * 0.1})
        y = "y" if i == fires - 1 else f"f{i}"
        nodes += [helper.make_node("Conv", [x, f"ws{i}", f"bs{i}"], [f"s0{i}"]),
                  helper.make_node("Relu", [f"s0{i}"], [f"s{i}"]),
                  helper.make_node("Conv", [f"s{i}", f"w1{i}", f"b1{i}"], [f"a0{i}"]),
                  helper.make_node("Relu", [f"a0{i}"], [f"a{i}"]),
                  helper.make_node("Conv", [f"s{i}", f"w3{i}", f"b3{i}"], [f"c0{i}"],
                                   pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c0{i}"], [f"c{i}"]),
                  helper.make_node("Concat", [f"a{i}", f"c{i}"] if e1_first else
                                   [f"c{i}", f"a{i}"], [y], axis=1)]
        x, c = y, k1 + k3
    graph = helper.make_graph(nodes, "fire", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", c0, hw, hw])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _fire_nodes(sess):
    return [n for n in sess._base.graph.nodes if n.op_type == "Fire"]


def _count_banded(monkeypatch):
    banded, plan = [], fused_fire._plan_banded

    def counting(*args):
        step = plan(*args)
        if step is not None:
            banded.append(step)
        return step
    monkeypatch.setattr(fused_fire, "_plan_banded", counting)
    return banded


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("hw,e1_first", [(13, True), (27, False), (6, True)])
def test_fire_in_a_graph_matches_onnxruntime_and_the_unfused_session(monkeypatch, threads, hw,
                                                                     e1_first):
    import tinycnn.graph as graph
    model = fire_model(24, 8, 16, 16, hw, e1_first)
    x = np.random.default_rng(2).standard_normal((2, 24, hw, hw), dtype=np.float32)
    ref = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    banded = _count_banded(monkeypatch)
    sess = _session(model, threads)
    y = sess.run(None, {"x": x})[0]
    assert len(_fire_nodes(sess)) == 2 and len(banded) >= 2
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    monkeypatch.setattr(graph, "_fuse_fire", lambda g, keep: None)
    apart = _session(model, threads)
    assert not _fire_nodes(apart)
    np.testing.assert_array_equal(y, apart.run(None, {"x": x})[0])


def test_fire_not_fused_when_the_squeeze_output_is_read_elsewhere():
    m = __import__("onnx").load_from_string(fire_model(8, 4, 8, 8, 9, fires=1))
    m.graph.output.append(helper.make_tensor_value_info("s0", TensorProto.FLOAT, None))
    sess = tinycnn.InferenceSession(m.SerializeToString())
    assert not _fire_nodes(sess)
    x = np.random.default_rng(0).standard_normal((1, 8, 9, 9), dtype=np.float32)
    ref = onnxruntime.InferenceSession(m.SerializeToString(),
                                       providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for got, want in zip(sess.run(None, {"x": x}), ref):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("threads", [1, 2])
def test_squeezenet_fused_matches_onnxruntime_and_unfused(onnx_export, monkeypatch, threads):
    """Every fire module fused and banded; batch 2 at full depth within 1e-4 of onnxruntime and
    the unfused run's bits."""
    import tinycnn.graph as graph
    path = str(onnx_export("squeezenet1_1", batch_dynamic=True))
    x = np.random.default_rng(1234).standard_normal((2, 3, 224, 224), dtype=np.float32)
    ref = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
        None, {"input": x})[0]
    banded = _count_banded(monkeypatch)
    sess = _session(path, threads)
    y = sess.run(None, {"input": x})[0]
    assert len(_fire_nodes(sess)) == 8 and len(banded) >= 8
    err = np.abs(y - ref).max() / np.abs(ref).max()
    assert err <= 1e-4, f"squeezenet1_1: rel err {err:.3g}"
    monkeypatch.setattr(graph, "_fuse_fire", lambda g, keep: None)
    np.testing.assert_array_equal(y, _session(path, threads).run(None, {"input": x})[0])
