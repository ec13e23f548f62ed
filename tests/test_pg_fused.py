"""RegNet's "a" (1x1) and "b" (grouped 3x3) layers as one node (graph._fuse_pointwise_grouped,
ops/fused_pg.py) run in bands of output rows (csrc/pg_fused.c, _kernels.PGFused); likewise a
1x1 and a depthwise layer whose output a squeeze-and-excitation reads (EfficientNet's blocks),
in ir_fused.c's bands.

The kernel against its two layers run one after the other (Conv2d), which it must match bit
for bit, output and planes' means: every ISA, 1 and 2 threads, stride 1 and 2, pads, odd
sizes, batch 2, band heights from 1 row to the whole plane; hand-built a -> b -> SE -> c
blocks against onnxruntime and against the session without the pass; RegNetY-400MF at full
depth against onnxruntime and against its unfused run.  The projection shortcut computed in
the pair's bands (graph._fuse_pg_shortcut): bit for bit its own layer's, in blocks and RegNetY
against onnxruntime and the session without that pass."""
import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from tinycnn import _kernels
from tinycnn.ops import fused_pg
from test_depthwise import ctx  # noqa: F401  (every ISA, 1 and 2 threads)

ACTS = [("Relu", None, None), ("", None, None), ("Clip", 0.0, 6.0), ("SiLU", None, None),
        ("PRelu", None, None)]


def _pair(ctx, rng, c0, e, gw, stride, pads, acts, pw_algo="1x1"):
    def act(i, k):
        name, alpha, beta = acts[i]
        slope = rng.uniform(-0.5, 0.5, k).astype(np.float32) if name == "PRelu" else None
        return dict(activation=name, alpha=alpha, beta=beta, slope=slope)
    wa = rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0))
    wb = rng.standard_normal((e, gw, 3, 3), dtype=np.float32) / np.float32(3 * np.sqrt(gw))
    a = _kernels.Conv2d(ctx, wa, rng.standard_normal(e, dtype=np.float32), algo=pw_algo,
                        **act(0, e))
    b = _kernels.Conv2d(ctx, wb, rng.standard_normal(e, dtype=np.float32), algo="grouped",
                        strides=(stride, stride), pads=pads, group=e // gw, **act(1, e))
    return a, b


def _unfused(a, b, x):
    n, _, h, w = x.shape
    t = np.empty(a.output_shape(n, h, w), np.float32)
    a.run(x, t, None, np.empty(a.workspace_size(n, h, w), np.float32))
    y = np.empty(b.output_shape(n, h, w), np.float32)
    m = np.empty(y.shape[:2], np.float32)
    b.run(t, y, None, np.empty(b.workspace_size(n, h, w), np.float32), means=m)
    return y, m


CASES = [  # (n, c0, e, group width, h, w, stride, pads)
    (1, 32, 48, 8, 30, 28, 2, (1, 1, 1, 1)),   # RegNetY-400MF's block1-0, smaller
    (1, 16, 24, 8, 29, 28, 2, (1, 1, 1, 1)),   # the same, an odd height: the bottom pad read
    (2, 16, 24, 8, 13, 11, 1, (1, 1, 1, 1)),
    (2, 12, 32, 8, 17, 19, 2, (1, 1, 1, 1)),
    (1, 8, 16, 4, 9, 23, 2, (0, 1, 1, 0)),
    (1, 6, 12, 4, 10, 7, 1, (0, 0, 0, 0)),
    (1, 5, 32, 16, 11, 13, 2, (1, 1, 1, 1)),
    (2, 3, 16, 8, 1, 1, 1, (1, 1, 1, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}e{}g{}_{}x{}_s{}p{}".format(
    *c[:7], "".join(map(str, c[7]))))
def test_fused_pair_is_the_unfused_one_bit_for_bit(ctx, case):
    n, c0, e, gw, h, w, stride, pads = case
    rng = np.random.default_rng(sum(map(int, case[:7])))
    for acts, pw_algo in [((ACTS[0], ACTS[0]), "1x1"), ((ACTS[2], ACTS[1]), "1x1_chan"),
                          ((ACTS[3], ACTS[4]), "1x1")]:
        a, b = _pair(ctx, rng, c0, e, gw, stride, pads, acts, pw_algo)
        x = rng.standard_normal((n, c0, h, w), dtype=np.float32)
        _assert_bands_match_unfused(a, b, x, (1, 2, 3, 5), f"acts {acts}, {pw_algo}")


def _assert_bands_match_unfused(a, b, x, bands, what):
    """PGFused(a, b) at each band (and the whole plane, and more) gives the unfused pair's
    output and means bit for bit, and the same output without the means."""
    want, want_m = _unfused(a, b, x)
    oh, (h, w) = want.shape[2], x.shape[2:]
    for band in sorted(set(bands) | {oh, oh + 4}):
        f = _kernels.PGFused(a, b, band)
        ws = np.empty(f.workspace_size(h, w), np.float32)
        y = np.full(want.shape, np.nan, np.float32)
        m = np.full(want_m.shape, np.nan, np.float32)
        f.run(x, y, m, ws)
        np.testing.assert_array_equal(y, want, err_msg=f"y of the fused pair, band {band}, {what}")
        np.testing.assert_array_equal(m, want_m, err_msg=f"means of the fused pair, band {band}, {what}")
        y2 = np.full(want.shape, np.nan, np.float32)
        f.run(x, y2, None, ws)  # without the means, on the same workspace
        np.testing.assert_array_equal(y2, want, err_msg=f"y without means, band {band}, {what}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}e{}g{}_{}x{}_s{}p{}".format(
    *c[:7], "".join(map(str, c[7]))))
def test_fused_pair_with_its_shortcut_is_the_unfused_layers_bit_for_bit(ctx, case):
    """The projection shortcut (a 1x1 of x at the grouped layer's stride, bias, no activation)
    computed in the pair's bands: its own layer's bits, the pair's unchanged, every band."""
    n, c0, e, gw, h, w, stride, pads = case
    rng = np.random.default_rng(sum(map(int, case[:7])) + 1)
    a, b = _pair(ctx, rng, c0, e, gw, stride, pads, (ACTS[0], ACTS[0]))
    x = rng.standard_normal((n, c0, h, w), dtype=np.float32)
    want, want_m = _unfused(a, b, x)
    oh, ow = want.shape[2:]
    ks = e + 3
    sc = _kernels.Conv2d(ctx, rng.standard_normal((ks, c0, 1, 1), dtype=np.float32),
                         rng.standard_normal(ks, dtype=np.float32),
                         algo="gemm" if stride > 1 else "1x1", strides=(stride, stride))
    if sc.output_shape(n, h, w)[2:] != (oh, ow):  # pads that change the grouped output's size
        with pytest.raises(ValueError, match="pg_fused"):
            _kernels.PGFused(a, b, 2, sc).run(x, np.empty_like(want), shortcut=np.empty(
                sc.output_shape(n, h, w), np.float32))
        return
    want_s = np.empty(sc.output_shape(n, h, w), np.float32)
    sc.run(x, want_s, None, np.empty(sc.workspace_size(n, h, w), np.float32))
    for band in sorted({1, 2, 3, 5, oh, oh + 4}):
        f = _kernels.PGFused(a, b, band, sc)
        ws = np.empty(f.workspace_size(h, w), np.float32)
        y = np.full(want.shape, np.nan, np.float32)
        m = np.full(want_m.shape, np.nan, np.float32)
        ys = np.full(want_s.shape, np.nan, np.float32)
        f.run(x, y, m, ws, shortcut=ys)
        np.testing.assert_array_equal(y, want, err_msg=f"y with the shortcut, band {band}")
        np.testing.assert_array_equal(m, want_m, err_msg=f"means with the shortcut, band {band}")
        np.testing.assert_array_equal(ys, want_s, err_msg=f"the shortcut, band {band}")
        with pytest.raises(ValueError, match="shortcut"):
            f.run(x, y, m, ws)

# A depthwise second layer (the inverted-residual blocks with a squeeze-and-excitation) runs
# as ir_fused.c's bands without projection: its halo carry, and at stride 2 on planes wide
# enough its column-split depthwise, written in place in y's planes.
DW_CASES = [  # (n, c0, e, h, w, kernel, stride, pads)
    (1, 16, 24, 36, 34, 3, 2, (1, 1, 1, 1)),   # EfficientNet-B0's features.2.0, smaller
    (2, 8, 16, 21, 19, 3, 1, (1, 1, 1, 1)),    # features.2.1
    (1, 12, 20, 29, 31, 5, 2, (2, 2, 2, 2)),   # features.3.0
    (2, 6, 10, 12, 40, 3, 2, (0, 1, 1, 0)),
    (1, 5, 8, 9, 7, 3, 1, (0, 0, 0, 0)),
    (2, 3, 8, 1, 1, 3, 1, (1, 1, 1, 1)),
]


@pytest.mark.parametrize("case", DW_CASES, ids=lambda c: "n{}c{}e{}_{}x{}_k{}s{}p{}".format(
    *c[:7], "".join(map(str, c[7]))))
def test_fused_pointwise_depthwise_is_the_unfused_pair_bit_for_bit(ctx, case):
    n, c0, e, h, w, k, stride, pads = case
    rng = np.random.default_rng(sum(map(int, case[:7])))
    for (act_a, act_b), pw_algo in [((ACTS[3], ACTS[3]), "1x1"), ((ACTS[2], ACTS[1]), "1x1_chan"),
                                    ((ACTS[0], ACTS[4]), "1x1")]:
        def act(name, alpha, beta):
            slope = rng.uniform(-0.5, 0.5, e).astype(np.float32) if name == "PRelu" else None
            return dict(activation=name, alpha=alpha, beta=beta, slope=slope)
        a = _kernels.Conv2d(ctx, rng.standard_normal((e, c0, 1, 1), dtype=np.float32) /
                            np.float32(np.sqrt(c0)), rng.standard_normal(e, dtype=np.float32),
                            algo=pw_algo, **act(*act_a))
        b = _kernels.Conv2d(ctx, rng.standard_normal((e, 1, k, k), dtype=np.float32) / k,
                            rng.standard_normal(e, dtype=np.float32), algo="depthwise",
                            strides=(stride, stride), pads=pads, group=e, **act(*act_b))
        x = rng.standard_normal((n, c0, h, w), dtype=np.float32)
        _assert_bands_match_unfused(a, b, x, (1, 2, 3, 4, 5, 8),
                                    f"acts {act_a[0]}/{act_b[0]}, {pw_algo}")


def test_fused_pair_refuses_what_does_not_chain():
    ctx = _kernels.Context(1, "portable")
    rng = np.random.default_rng(0)
    a, b = _pair(ctx, rng, 8, 16, 8, 1, (1, 1, 1, 1), (ACTS[0], ACTS[0]))
    dw = _kernels.Conv2d(ctx, np.ones((32, 1, 3, 3), np.float32), algo="depthwise", group=16,
                         pads=(1, 1, 1, 1))  # a channel multiplier of 2
    with pytest.raises(ValueError, match="pg_fused"):
        _kernels.PGFused(a, dw, 4)
    other = _kernels.Conv2d(ctx, np.ones((8, 4, 3, 3), np.float32), algo="grouped", group=2,
                            pads=(1, 1, 1, 1))  # 8 input channels, a gives 16
    with pytest.raises(ValueError, match="pg_fused"):
        _kernels.PGFused(a, other, 4)
    f = _kernels.PGFused(a, b, 4)
    with pytest.raises(ValueError, match="channels"):
        f.run(np.zeros((1, 9, 8, 8), np.float32), np.zeros((1, 16, 8, 8), np.float32))
    with pytest.raises(ValueError, match="y"):
        f.run(np.zeros((1, 8, 8, 8), np.float32), np.zeros((1, 16, 4, 8), np.float32))
    with pytest.raises(ValueError, match="means"):
        f.run(np.zeros((1, 8, 8, 8), np.float32), np.zeros((1, 16, 8, 8), np.float32),
              np.zeros((1, 15), np.float32))


# -- in a graph --------------------------------------------------------------------------------

def block_model(c0, e, gw, hw, stride, se=True):
    """x -> a (Conv 1x1 + Relu) -> b (grouped Conv 3x3 + Relu) [-> SE (the pool on b's
    output) -> c (Conv 1x1)]: RegNetY's block without its shortcut."""
    rng = np.random.default_rng(5)
    c1 = max(e // 4, 1)
    arrays = {
        "wa": rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0)),
        "ba": rng.standard_normal(e, dtype=np.float32) * 0.1,
        "wb": rng.standard_normal((e, gw, 3, 3), dtype=np.float32) / np.float32(3 * np.sqrt(gw)),
        "bb": rng.standard_normal(e, dtype=np.float32) * 0.1,
        "w1": rng.standard_normal((c1, e, 1, 1), dtype=np.float32) * 0.3,
        "w2": rng.standard_normal((e, c1, 1, 1), dtype=np.float32) * 0.3,
        "wc": rng.standard_normal((c0, e, 1, 1), dtype=np.float32) / np.float32(np.sqrt(e))}
    nodes = [helper.make_node("Conv", ["x", "wa", "ba"], ["a0"]),
             helper.make_node("Relu", ["a0"], ["a"]),
             helper.make_node("Conv", ["a", "wb", "bb"], ["b0"], pads=[1, 1, 1, 1],
                              strides=[stride, stride], group=e // gw),
             helper.make_node("Relu", ["b0"], ["b" if se else "y"])]
    if se:
        nodes += [helper.make_node("GlobalAveragePool", ["b"], ["p"]),
                  helper.make_node("Conv", ["p", "w1"], ["h0"]),
                  helper.make_node("Relu", ["h0"], ["h"]),
                  helper.make_node("Conv", ["h", "w2"], ["g0"]),
                  helper.make_node("Sigmoid", ["g0"], ["g"]),
                  helper.make_node("Mul", ["b", "g"], ["s"]),
                  helper.make_node("Conv", ["s", "wc"], ["y"])]
    inits = [numpy_helper.from_array(v, k) for k, v in arrays.items()]
    graph = helper.make_graph(nodes, "pg_block", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", c0, hw, hw])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _act_nodes(act, x, y):
    """x -> y through act: SiLU (Sigmoid, Mul), or one node (Relu, HardSwish)"""
    if act == "SiLU":
        return [helper.make_node("Sigmoid", [x], [x + "s"]),
                helper.make_node("Mul", [x, x + "s"], [y])]
    return [helper.make_node(act, [x], [y])]


def dw_block_model(c0, e, hw, k, stride, act="SiLU"):
    """x -> Conv 1x1 + act -> depthwise Conv k x k + act -> SE (the pool on its output) ->
    Conv 1x1: EfficientNet's MBConv without its shortcut (graph._fuse_inverted_residual
    leaves it: the SE stands between depthwise and projection); act SiLU, Relu or HardSwish
    (MobileNetV3's)."""
    rng = np.random.default_rng(7)
    c1 = max(e // 4, 1)
    arrays = {
        "wa": rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0)),
        "ba": rng.standard_normal(e, dtype=np.float32) * 0.1,
        "wb": rng.standard_normal((e, 1, k, k), dtype=np.float32) / np.float32(k),
        "bb": rng.standard_normal(e, dtype=np.float32) * 0.1,
        "w1": rng.standard_normal((c1, e, 1, 1), dtype=np.float32) * 0.3,
        "w2": rng.standard_normal((e, c1, 1, 1), dtype=np.float32) * 0.3,
        "wc": rng.standard_normal((c0, e, 1, 1), dtype=np.float32) / np.float32(np.sqrt(e))}
    p = k // 2
    nodes = [helper.make_node("Conv", ["x", "wa", "ba"], ["a0"]),
             *_act_nodes(act, "a0", "a"),
             helper.make_node("Conv", ["a", "wb", "bb"], ["b0"], pads=[p, p, p, p],
                              strides=[stride, stride], group=e),
             *_act_nodes(act, "b0", "b"),
             helper.make_node("GlobalAveragePool", ["b"], ["p"]),
             helper.make_node("Conv", ["p", "w1"], ["h0"]),
             helper.make_node("Relu", ["h0"], ["h"]),
             helper.make_node("Conv", ["h", "w2"], ["g0"]),
             helper.make_node("Sigmoid", ["g0"], ["g"]),
             helper.make_node("Mul", ["b", "g"], ["s"]),
             helper.make_node("Conv", ["s", "wc"], ["y"])]
    inits = [numpy_helper.from_array(v, k_) for k_, v in arrays.items()]
    graph = helper.make_graph(nodes, "pd_block", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", c0, hw, hw])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("k,stride,hw", [(3, 2, 34), (3, 1, 19), (5, 2, 29)])
def test_fused_pointwise_depthwise_in_a_block_matches_onnxruntime_and_the_unfused_session(
        monkeypatch, threads, k, stride, hw):
    import tinycnn.graph as graph
    model = dw_block_model(12, 24, hw, k, stride)
    x = np.random.default_rng(2).standard_normal((2, 12, hw, hw), dtype=np.float32)
    ref = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    monkeypatch.setattr(fused_pg, "PD_FUSE_MIN_BYTES", 0)  # banded at any size
    banded = _count_planned(monkeypatch)
    sess = _session(model, threads)
    y = sess.run(None, {"x": x})[0]
    assert len(_pg_nodes(sess)) == 1
    assert (len(banded) >= 1) == (stride > 1)  # banded at stride 2 only
    assert all(len(out) == 2 for out in banded)  # the depthwise's output and its means
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    monkeypatch.setattr(fused_pg, "PD_FUSE_MIN_BYTES", float("inf"))  # the two convolutions
    two = _session(model, threads)
    assert len(_pg_nodes(two)) == 1
    np.testing.assert_array_equal(y, two.run(None, {"x": x})[0])
    monkeypatch.setattr(graph, "_fuse_pointwise_grouped", lambda g, keep: None)
    apart = _session(model, threads)
    assert not _pg_nodes(apart)
    np.testing.assert_array_equal(y, apart.run(None, {"x": x})[0])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("e,k,stride,hw,act", [
    (24, 3, 1, 13, "Relu"), (72, 5, 2, 56, "Relu"), (120, 5, 1, 28, "HardSwish"),
    (40, 3, 2, 14, "HardSwish"), (16, 5, 1, 9, "Relu"), (96, 3, 1, 14, "SiLU"),
    (144, 5, 2, 28, "SiLU"), (1152, 3, 1, 7, "SiLU")])
def test_depthwise_pair_at_1_thread_runs_chan8_as_the_two_convolutions(monkeypatch, e, k, stride,
                                                                       hw, act, threads):
    """MobileNetV3-Large's expansion -> depthwise pairs before their SE (features.4-6, .11-.13):
    at 1 and 2 threads (n31-2t) on AVX2 the chan8 pair (fused_ir.plan_chan8_pair,
    csrc/ir_chan8_avx2.c), the depthwise output and its means the two convolutions' bits; ReLU,
    HardSwish and (h53-ef) SiLU, EfficientNet-B0's."""
    from tinycnn.ops import fused_ir
    model = dw_block_model(8, e, hw, k, stride, act)
    x = np.random.default_rng(5).standard_normal((2, 8, hw, hw), dtype=np.float32)
    ref = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    pairs = _count_planned(monkeypatch, fused_ir, "plan_chan8_pair")
    sess = _session(model, threads)
    y = sess.run(None, {"x": x})[0]
    assert len(_pg_nodes(sess)) == 1
    assert (len(pairs) >= 1) == (sess._ctx.isa == "avx2")  # planned again per batch size
    assert all(len(out) == 2 for out in pairs)  # the depthwise's output and its means
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    monkeypatch.setattr(fused_ir, "plan_chan8_pair", lambda *a: None)
    two = _session(model, threads)
    np.testing.assert_array_equal(y, two.run(None, {"x": x})[0])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_chan8_pair_kernel_is_the_two_convolutions_bit_for_bit(threads):
    """With a pool the threads claim the pair's 16-channel strips (each its slot, its tables
    built at its first claim): the 1-thread layers' bits, the means too."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    ctx = _kernels.Context(1, "avx2")
    ctxn = _kernels.Context(threads, "avx2")
    rng = np.random.default_rng(11)
    for (c0, e, h, w, k, s, act) in [(24, 72, 56, 56, 5, 2, "Relu"), (80, 200, 14, 14, 3, 1, "HardSwish"),
                                     (16, 24, 9, 11, 5, 1, ""), (40, 120, 28, 28, 5, 1, "Relu"),
                                     (80, 480, 14, 14, 3, 1, "HardSwish"),
                                     (96, 576, 7, 7, 5, 1, "HardSwish")]:  # n32-mnas: 4x6 + 5x5
        wa = rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0))
        wb = rng.standard_normal((e, 1, k, k), dtype=np.float32) / np.float32(k)
        ba, bb = rng.standard_normal(e, dtype=np.float32), rng.standard_normal(e, dtype=np.float32)
        lanes = _kernels.Conv2d(ctx, wa, ba, algo="1x1_chan", activation=act)
        rows = _kernels.Conv2d(ctx, wa, ba, algo="1x1", activation=act)
        dw = _kernels.Conv2d(ctx, wb, bb, algo="depthwise", strides=(s, s), pads=(k // 2,) * 4,
                             group=e, activation=act)
        lanes_n = _kernels.Conv2d(ctxn, wa, ba, algo="1x1_chan", activation=act)
        dw_n = _kernels.Conv2d(ctxn, wb, bb, algo="depthwise", strides=(s, s),
                               pads=(k // 2,) * 4, group=e, activation=act)
        pair = _kernels.IRChan8Pair(lanes_n, dw_n)
        assert pair.takes(h, w)
        x = rng.standard_normal((2, c0, h, w), dtype=np.float32)
        t = np.empty(rows.output_shape(2, h, w), np.float32)
        rows.run(x, t, None, np.empty(rows.workspace_size(2, h, w), np.float32))
        want = np.empty(dw.output_shape(2, h, w), np.float32)
        want_m = np.empty(want.shape[:2], np.float32)
        dw.run(t, want, None, np.empty(dw.workspace_size(2, h, w), np.float32), means=want_m)
        got, got_m = np.full_like(want, np.nan), np.full_like(want_m, np.nan)
        pair.run(x, got, got_m, np.empty(pair.workspace_size(h, w), np.float32))
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got_m, want_m)
        np.testing.assert_array_equal(pair.run(x, np.full_like(want, np.nan)), want)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_7x7_depthwise_pair_runs_chan8_at_1_and_2_threads(monkeypatch, threads):
    """fused_ir.chan8_min_pixels (n32-mnas, at 2 threads since n33-2t): MobileNetV3's 7x7 pairs
    before their SE run the chan8 pair at 1 and 2 threads (the two convolutions' bits), not
    past 2 (no chan8 there)."""
    from tinycnn.ops import fused_ir
    model = dw_block_model(8, 48, 7, 5, 1, "HardSwish")
    x = np.random.default_rng(6).standard_normal((1, 8, 7, 7), dtype=np.float32)
    pairs = _count_planned(monkeypatch, fused_ir, "plan_chan8_pair")
    sess = _session(model, threads)
    y = sess.run(None, {"x": x})[0]
    assert (len(pairs) >= 1) == (threads <= 2 and sess._ctx.isa == "avx2")
    ref = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    monkeypatch.setattr(fused_ir, "plan_chan8_pair", lambda *a: None)
    np.testing.assert_array_equal(y, _session(model, threads).run(None, {"x": x})[0])


def _session(model, threads):
    options = tinycnn.SessionOptions()
    options.intra_op_num_threads = threads
    return tinycnn.InferenceSession(model, options)


def _pg_nodes(sess):
    return [n for n in sess._base.graph.nodes if n.op_type == "PointwiseGrouped"]


def _count_planned(monkeypatch, module=fused_pg, planner="_plan_banded"):
    """A list that grows by the outputs of each pair module.planner plans (by default: each
    pair planned banded; a session plans again for each new batch size)."""
    planned, plan = [], getattr(module, planner)

    def counting(*args):
        step = plan(*args)
        if step is not None:
            planned.append(step)
        return step
    monkeypatch.setattr(module, planner, counting)
    return planned


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("stride,hw,se", [(1, 13, True), (2, 17, True), (2, 15, False),
                                          (1, 8, False)])
def test_fused_pair_in_a_block_matches_onnxruntime_and_the_unfused_session(
        monkeypatch, threads, stride, hw, se):
    import tinycnn.graph as graph
    model = block_model(12, 24, 8, hw, stride, se)
    x = np.random.default_rng(2).standard_normal((2, 12, hw, hw), dtype=np.float32)
    ref = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    monkeypatch.setattr(fused_pg, "PG_FUSE_MIN_BYTES", 0)  # banded at any size
    banded = _count_planned(monkeypatch)
    sess = _session(model, threads)
    y = sess.run(None, {"x": x})[0]
    assert len(_pg_nodes(sess)) == 1 and len(banded) >= 1
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    monkeypatch.setattr(fused_pg, "PG_FUSE_MIN_BYTES", float("inf"))  # the two convolutions
    two = _session(model, threads)
    assert len(_pg_nodes(two)) == 1
    np.testing.assert_array_equal(y, two.run(None, {"x": x})[0])
    monkeypatch.setattr(graph, "_fuse_pointwise_grouped", lambda g, keep: None)
    apart = _session(model, threads)
    assert not _pg_nodes(apart)
    np.testing.assert_array_equal(y, apart.run(None, {"x": x})[0])


def shortcut_block_model(c0, e, gw, hw, stride, k):
    """RegNetY's first block of a stage: block_model's a -> b -> SE -> c (to k channels) plus
    the projection shortcut (Conv 1x1 of x, stride `stride`), Add, Relu."""
    m = __import__("onnx").load_from_string(block_model(c0, e, gw, hw, stride))
    g = m.graph
    rng = np.random.default_rng(9)
    wc = rng.standard_normal((k, e, 1, 1), dtype=np.float32) / np.float32(np.sqrt(e))
    g.initializer.remove(next(t for t in g.initializer if t.name == "wc"))
    g.initializer.extend([
        numpy_helper.from_array(wc, "wc"),
        numpy_helper.from_array(rng.standard_normal((k, c0, 1, 1), dtype=np.float32) /
                                np.float32(np.sqrt(c0)), "wp"),
        numpy_helper.from_array(rng.standard_normal(k, dtype=np.float32) * 0.1, "bp")])
    g.node[-1].output[0] = "c"
    # the shortcut first, as torchvision's RegNet exports it
    g.node.insert(0, helper.make_node("Conv", ["x", "wp", "bp"], ["p0"], strides=[stride] * 2))
    g.node.extend([helper.make_node("Add", ["p0", "c"], ["s0"]),
                   helper.make_node("Relu", ["s0"], ["y"])])
    return m.SerializeToString()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("stride,hw", [(2, 17), (2, 24), (1, 13)])
def test_shortcut_in_the_pair_matches_onnxruntime_and_the_session_without_it(
        monkeypatch, threads, stride, hw):
    import tinycnn.graph as graph
    model = shortcut_block_model(12, 24, 8, hw, stride, 20)
    x = np.random.default_rng(3).standard_normal((2, 12, hw, hw), dtype=np.float32)
    ref = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    monkeypatch.setattr(fused_pg, "PG_FUSE_MIN_BYTES", 0)  # banded at any size
    monkeypatch.setattr(fused_pg, "PG_SHORTCUT_MIN_BYTES", 0)  # with the shortcut
    banded = _count_planned(monkeypatch)
    sess = _session(model, threads)
    (node,) = _pg_nodes(sess)
    assert len(node.inputs) == 9 and len(node.outputs) == 3 and "shortcut" in node.attrs
    assert not [n for n in sess._base.graph.nodes if n.op_type == "Conv" and n.inputs[0] == "x"]
    y = sess.run(None, {"x": x})[0]
    assert len(banded) >= 1 and len(banded[0]) == 3  # y, means, the shortcut
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    monkeypatch.setattr(fused_pg, "PG_SHORTCUT_MIN_BYTES", float("inf"))  # the shortcut apart
    np.testing.assert_array_equal(y, _session(model, threads).run(None, {"x": x})[0])
    monkeypatch.setattr(fused_pg, "PG_FUSE_MIN_BYTES", float("inf"))  # each apart
    np.testing.assert_array_equal(y, _session(model, threads).run(None, {"x": x})[0])
    monkeypatch.setattr(fused_pg, "PG_FUSE_MIN_BYTES", 0)
    monkeypatch.setattr(graph, "_fuse_pg_shortcut", lambda g, keep: None)
    apart = _session(model, threads)
    assert len(_pg_nodes(apart)[0].outputs) == 2
    np.testing.assert_array_equal(y, apart.run(None, {"x": x})[0])


@pytest.mark.parametrize("extra", ["x read again", "c kept"])
def test_shortcut_not_taken_when_x_or_c_has_another_reader(extra):
    m = __import__("onnx").load_from_string(shortcut_block_model(8, 16, 8, 9, 2, 8))
    if extra == "x read again":
        m.graph.node.extend([helper.make_node("ReduceMean", ["x"], ["r"], keepdims=0)])
    m.graph.output.append(helper.make_tensor_value_info(
        "r" if extra == "x read again" else "c", TensorProto.FLOAT, None))
    sess = tinycnn.InferenceSession(m.SerializeToString())
    assert len(_pg_nodes(sess)[0].outputs) == 2
    x = np.random.default_rng(0).standard_normal((1, 8, 9, 9), dtype=np.float32)
    ref = onnxruntime.InferenceSession(m.SerializeToString(),
                                       providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for got, want in zip(sess.run(None, {"x": x}), ref):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_pair_not_fused_when_the_pointwise_output_is_read_elsewhere():
    model = block_model(8, 16, 8, 9, 1, se=False)
    m = __import__("onnx").load_from_string(model)
    m.graph.output.append(helper.make_tensor_value_info("a", TensorProto.FLOAT, None))
    sess = tinycnn.InferenceSession(m.SerializeToString())
    assert not _pg_nodes(sess)
    x = np.random.default_rng(0).standard_normal((1, 8, 9, 9), dtype=np.float32)
    ref = onnxruntime.InferenceSession(m.SerializeToString(),
                                       providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for got, want in zip(sess.run(None, {"x": x}), ref):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("threads", [1, 2])
def test_regnet_y_400mf_fused_matches_onnxruntime_and_unfused(onnx_export, monkeypatch, threads):
    """Every block's a -> b pair fused; the two widest (block1-0 at 112x112, block2-0 at 56x56)
    banded; batch 2 at full depth within 1e-4 of onnxruntime and the unfused run's bits."""
    path = str(onnx_export("regnet_y_400mf", batch_dynamic=True))
    x = np.random.default_rng(1234).standard_normal((2, 3, 224, 224), dtype=np.float32)
    ref = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
        None, {"input": x})[0]
    banded = _count_planned(monkeypatch)
    sess = _session(path, threads)
    y = sess.run(None, {"input": x})[0]
    assert len(_pg_nodes(sess)) == 16
    assert {out[0].shape[1:] for out in banded} == {(48, 56, 56), (104, 28, 28)}
    err = np.abs(y - ref).max() / np.abs(ref).max()
    assert err <= 1e-4, f"regnet_y_400mf: rel err {err:.3g}"
    monkeypatch.setattr(fused_pg, "PG_FUSE_MIN_BYTES", float("inf"))
    np.testing.assert_array_equal(y, _session(path, threads).run(None, {"input": x})[0])
    # the shortcuts of block1-0, 2-0 and 3-0 in their pairs (block4-0's c is 440 deep), and
    # the same bits without that
    import tinycnn.graph as graph
    assert len([n for n in _pg_nodes(sess) if len(n.outputs) == 3]) == 3
    monkeypatch.setattr(fused_pg, "PG_FUSE_MIN_BYTES", 1_000_000)
    monkeypatch.setattr(graph, "_fuse_pg_shortcut", lambda g, keep: None)
    np.testing.assert_array_equal(y, _session(path, threads).run(None, {"input": x})[0])
