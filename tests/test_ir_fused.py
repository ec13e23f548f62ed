"""The banded inverted-residual block (csrc/ir_fused.c, _kernels.IRFused) against its three
layers run one after the other (Conv2d), which it must match bit for bit: every ISA, 1 and 2
threads, stride 1 and 2, 3x3 and 5x5, pads, each activation, with and without the residual,
odd sizes, batch 2, band heights from 1 row to the whole plane."""
import numpy as np
import pytest

from tinycnn import _kernels
from test_depthwise import ctx  # noqa: F401  (every ISA, AVX-512's depthwise included)


ACTS = [("", None, None), ("Relu", None, None), ("Clip", 0.0, 6.0), ("HardSwish", None, None),
        ("SiLU", None, None), ("Sigmoid", None, None), ("LeakyRelu", 0.1, None), ("PRelu", None, None)]


def _layers(ctx, rng, c0, e, k2, ks, stride, pads, acts, pw_algo="1x1"):
    def act(i, k):
        name, alpha, beta = acts[i]
        slope = rng.uniform(-0.5, 0.5, k).astype(np.float32) if name == "PRelu" else None
        return dict(activation=name, alpha=alpha, beta=beta, slope=slope)
    w1 = rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0))
    wd = rng.standard_normal((e, 1, ks, ks), dtype=np.float32) / np.float32(ks)
    w2 = rng.standard_normal((k2, e, 1, 1), dtype=np.float32) / np.float32(np.sqrt(e))
    bias = lambda k: rng.standard_normal(k, dtype=np.float32)  # noqa: E731
    expand = _kernels.Conv2d(ctx, w1, bias(e), algo=pw_algo, **act(0, e))
    dw = _kernels.Conv2d(ctx, wd, bias(e), algo="depthwise", strides=(stride, stride), pads=pads,
                         group=e, **act(1, e))
    project = _kernels.Conv2d(ctx, w2, bias(k2), algo=pw_algo, **act(2, k2))
    return expand, dw, project


def _unfused(layers, x, residual):
    expand, dw, project = layers
    n, _, h, w = x.shape
    t1 = np.empty(expand.output_shape(n, h, w), np.float32)
    expand.run(x, t1, None, np.empty(expand.workspace_size(n, h, w), np.float32))
    t2 = np.empty(dw.output_shape(n, h, w), np.float32)
    dw.run(t1, t2, None, np.empty(dw.workspace_size(n, h, w), np.float32))
    y = np.empty(project.output_shape(*t2.shape[:1], *t2.shape[2:]), np.float32)
    project.run(t2, y, residual, np.empty(project.workspace_size(n, *t2.shape[2:]), np.float32))
    return y


CASES = [  # (n, c0, e, k2, h, w, ks, stride, pads)
    (1, 8, 24, 8, 13, 11, 3, 1, (1, 1, 1, 1)),
    (2, 5, 30, 7, 17, 9, 3, 2, (1, 1, 1, 1)),
    (1, 16, 40, 16, 15, 15, 5, 1, (2, 2, 2, 2)),
    (2, 6, 20, 9, 16, 19, 5, 2, (2, 2, 2, 2)),
    (1, 8, 16, 8, 7, 7, 3, 1, (0, 0, 0, 0)),
    (1, 4, 12, 6, 10, 13, 3, 2, (0, 1, 1, 0)),
    (1, 3, 9, 5, 1, 1, 3, 1, (1, 1, 1, 1)),
    # stride 2 on rows over 2 vectors: the column-split depthwise (odd widths, uneven pads)
    (1, 6, 20, 9, 13, 41, 5, 2, (2, 2, 2, 2)),
    (2, 5, 30, 7, 11, 38, 3, 2, (0, 1, 1, 0)),
    (1, 4, 12, 6, 9, 39, 3, 2, (1, 0, 0, 1)),
    # 3x3 at stride 2 on rows of 3 to 7 vectors: 2 whole vectors side by side after the masked
    # first one (pad 1) or from the first (pad 0), a single one before the row's partial last
    # or at its end, the partial last stored whole (MobileNetV2's 112 and 56 wide, at a fraction)
    (1, 4, 12, 6, 9, 75, 3, 2, (1, 1, 1, 1)),
    (1, 3, 10, 5, 7, 112, 3, 2, (1, 1, 1, 1)),
    (2, 5, 9, 4, 6, 56, 3, 2, (0, 0, 1, 1)),
    (1, 3, 8, 5, 10, 66, 3, 2, (1, 0, 0, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}e{}k{}_{}x{}_k{}s{}p{}".format(
    *c[:8], "".join(map(str, c[8]))))
def test_fused_block_is_the_unfused_one_bit_for_bit(ctx, case):
    n, c0, e, k2, h, w, ks, stride, pads = case
    rng = np.random.default_rng(sum(map(int, case[:8])))
    for acts in [(ACTS[2], ACTS[2], ACTS[0]), (ACTS[3], ACTS[3], ACTS[0]),
                 (ACTS[4], ACTS[4], ACTS[1]), (ACTS[6], ACTS[7], ACTS[5])]:
        layers = _layers(ctx, rng, c0, e, k2, ks, stride, pads, acts)
        x = rng.standard_normal((n, c0, h, w), dtype=np.float32)
        oh, ow = layers[1].output_shape(n, h, w)[2:]
        with_residual = k2 == c0 and (oh, ow) == (h, w)
        for residual in [None] + ([x] if with_residual else []):
            want = _unfused(layers, x, residual)
            for band in sorted({1, 2, 3, 5, oh, oh + 4}):
                f = _kernels.IRFused(*layers, band)
                y = np.full(want.shape, np.nan, np.float32)
                f.run(x, y, residual, np.empty(f.workspace_size(h, w), np.float32))
                np.testing.assert_array_equal(
                    y, want, err_msg=f"y of the fused block, band {band}, acts {acts}, "
                                     f"residual {residual is not None}")


# (c0, e, k2, h, w, ks, stride, dilation): LRASPP's and MobileNetV2's blocks at a fraction of
# their size, and a dilated one (LRASPP's last stage)
CARRY_GRID = [(16, 64, 24, 40, 36, 3, 2, 1), (24, 72, 24, 29, 32, 3, 1, 1),
              (40, 120, 40, 23, 17, 5, 1, 1), (24, 48, 24, 21, 21, 3, 1, 2),
              (16, 40, 8, 26, 19, 5, 2, 1)]


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("case", CARRY_GRID, ids=lambda c: "c{}e{}k{}_{}x{}_k{}s{}d{}".format(*c))
def test_fused_block_carrying_the_halo_between_bands_is_the_unfused_one(case, threads):
    """A thread's next band takes the halo rows of the expansion from its previous band (the
    copy runs downwards where that band was shorter: the first, clipped one): bit for bit the
    unfused layers at every band height, over two images, on 1 to 3 threads."""
    c0, e, k2, h, w, ks, stride, dil = case
    ctx = _kernels.Context(threads, "auto")
    rng = np.random.default_rng(sum(case))
    pad = dil * (ks // 2)
    w1 = rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0))
    wd = rng.standard_normal((e, 1, ks, ks), dtype=np.float32) / np.float32(ks)
    w2 = rng.standard_normal((k2, e, 1, 1), dtype=np.float32) / np.float32(np.sqrt(e))
    layers = (_kernels.Conv2d(ctx, w1, rng.standard_normal(e, dtype=np.float32), algo="1x1",
                              activation="Relu"),
              _kernels.Conv2d(ctx, wd, rng.standard_normal(e, dtype=np.float32), algo="depthwise",
                              strides=(stride, stride), pads=(pad,) * 4, dilations=(dil, dil),
                              group=e, activation="HardSwish"),
              _kernels.Conv2d(ctx, w2, rng.standard_normal(k2, dtype=np.float32), algo="1x1"))
    x = rng.standard_normal((2, c0, h, w), dtype=np.float32)
    oh, ow = layers[1].output_shape(2, h, w)[2:]
    residual = x if (k2, oh, ow) == (c0, h, w) else None
    want = _unfused(layers, x, residual)
    for band in sorted({1, 2, 3, 4, 7, oh // 2, oh - 1, oh}):
        f = _kernels.IRFused(*layers, band)
        y = np.full(want.shape, np.nan, np.float32)
        f.run(x, y, residual, np.empty(f.workspace_size(h, w), np.float32))
        np.testing.assert_array_equal(y, want, err_msg=f"y of the fused block, band {band}, "
                                                       f"{threads} thread(s)")


def test_fused_block_with_channel_lane_pointwise(ctx):
    rng = np.random.default_rng(7)
    layers = _layers(ctx, rng, 24, 72, 24, 3, 1, (1, 1, 1, 1), (ACTS[2], ACTS[2], ACTS[0]),
                     pw_algo="1x1_chan")
    x = rng.standard_normal((1, 24, 14, 14), dtype=np.float32)
    want = _unfused(layers, x, x)
    f = _kernels.IRFused(*layers, 4)
    y = f.run(x, np.empty_like(want), x, None)
    np.testing.assert_array_equal(y, want)


def test_fused_block_refuses_layers_that_do_not_chain(ctx):
    rng = np.random.default_rng(1)
    expand, dw, project = _layers(ctx, rng, 8, 16, 8, 3, 1, (1, 1, 1, 1), (ACTS[0],) * 3)
    with pytest.raises(ValueError, match="ir_fused: .*do not chain|ir_fused: .*that chain"):
        _kernels.IRFused(dw, expand, project, 4)
    with pytest.raises(ValueError, match="band 0"):
        _kernels.IRFused(expand, dw, project, 0)
    f = _kernels.IRFused(expand, dw, project, 4)
    x = rng.standard_normal((1, 8, 9, 9), dtype=np.float32)
    with pytest.raises(ValueError, match="y"):
        f.run(x, np.empty((1, 8, 8, 8), np.float32))
    with pytest.raises(ValueError, match="x"):
        f.run(x, x)


# ---- the graph: tinycnn::InvertedResidual (graph._fuse_inverted_residual, ops/fused_ir.py) ----

import json  # noqa: E402

from onnx import helper  # noqa: E402

import tinycnn  # noqa: E402
from tinycnn.ops import fused_ir  # noqa: E402
from helpers import make_model, ort_run, assert_close, session_options  # noqa: E402


def ir_model(c0=16, e=96, k2=16, hw=64, ks=3, stride=1, act="Clip", residual=True,
             extra_output=False, seed=0):
    """Conv 1x1 + act -> depthwise + act -> Conv 1x1 [+ x], MobileNetV2's block."""
    rng = np.random.default_rng(seed)
    p = ks // 2

    def w(*shape):
        return (rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float32)
    inits = {"w1": w(e, c0, 1, 1), "b1": w(e), "w2": w(e, 1, ks, ks), "b2": w(e),
             "w3": w(k2, e, 1, 1), "b3": w(k2)}

    def activation(src, dst):
        if act == "Clip":
            return [helper.make_node("Clip", [src, "lo", "hi"], [dst])]
        if act == "SiLU":  # EfficientNet's x * Sigmoid(x)
            return [helper.make_node("Sigmoid", [src], [src + "s"]),
                    helper.make_node("Mul", [src, src + "s"], [dst])]
        return [helper.make_node(act, [src], [dst])]
    inits.update(lo=np.float32(0), hi=np.float32(6))
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["e0"], name="expand")]
    nodes += activation("e0", "e1")
    nodes += [helper.make_node("Conv", ["e1", "w2", "b2"], ["d0"], name="dw", group=e,
                               pads=[p] * 4, strides=[stride] * 2)]
    nodes += activation("d0", "d1")
    last = "y" if not residual else "p"
    nodes += [helper.make_node("Conv", ["d1", "w3", "b3"], [last], name="project")]
    if residual:
        nodes += [helper.make_node("Add", ["p", "x"], ["y"])]
    outputs = [("y", None)] + ([("d1", None)] if extra_output else [])
    return make_model(nodes, [("x", ["N", c0, hw, hw])], outputs, inits, opset=14)


def ir_nodes(sess):
    return [n for n in sess._base.graph.nodes if n.op_type == "InvertedResidual"]


@pytest.mark.parametrize("kw", [dict(), dict(ks=5, stride=2, residual=False, k2=24),
                                dict(act="HardSwish", hw=67), dict(act="Relu", stride=2, hw=65,
                                                                    residual=False)],
                         ids=["mv2", "5x5s2", "hswish_odd", "relu_s2_odd"])
@pytest.mark.parametrize("threads", [1, 2])
def test_block_fused_in_bands_matches_onnxruntime_and_the_unfused_plan(kw, threads):
    model = ir_model(**kw)
    data = model.SerializeToString()
    x = np.random.default_rng(5).standard_normal((2, 16, kw.get("hw", 64), kw.get("hw", 64)),
                                                 dtype=np.float32)
    sess = tinycnn.InferenceSession(data, session_options(intra_op_num_threads=threads))
    (node,) = ir_nodes(sess)
    assert node.name == "expand"
    got = sess.run(None, {"x": x})[0]
    assert_close(got, ort_run(model, {"x": x})[0], 1e-4, what="y")
    saved = fused_ir.IR_FUSE_MIN_BYTES
    fused_ir.IR_FUSE_MIN_BYTES = float("inf")
    try:
        plain = tinycnn.InferenceSession(data, session_options(intra_op_num_threads=threads))
        want = plain.run(None, {"x": x})[0]
    finally:
        fused_ir.IR_FUSE_MIN_BYTES = saved
    np.testing.assert_array_equal(got, want, err_msg="banded y vs the three convolutions'")
    (_, records) = sess.run_profiled({"x": x})
    assert [r["op"] for r in records if r["node"] == "expand"] == [node.label], \
        "the banded block is one kernel call"


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_band_rows_come_in_whole_depthwise_passes_within_the_budget(threads):
    """band_rows on MobileNetV2's and LRASPP's fused blocks: bands of a multiple of DW_ROWS
    rows wherever their count still splits equally over the threads, and never past the
    byte budget by more than that rounding up."""
    blocks = [(96, 112, 56, 56, 3, 2), (144, 56, 56, 56, 3, 1), (144, 56, 28, 28, 3, 2),
              (64, 256, 128, 128, 3, 2), (72, 128, 128, 128, 3, 1), (72, 128, 64, 64, 5, 2),
              (240, 64, 32, 32, 3, 2), (672, 32, 32, 32, 5, 1), (8, 9, 5, 5, 3, 2)]
    for e, w, ow, oh, kh, stride in blocks:
        band = fused_ir.band_rows(e, w, ow, oh, kh, stride, 1, threads)
        assert 1 <= band <= oh, (e, w, oh, band)
        up = -(-band // fused_ir.DW_ROWS) * fused_ir.DW_ROWS
        if up < oh and -(-oh // up) % threads == 0:
            assert band % fused_ir.DW_ROWS == 0, (e, w, oh, band, threads)
        # the band before rounding up: at least band - (DW_ROWS - 1) rows
        fits = max(1, band - (fused_ir.DW_ROWS - 1)) if band % fused_ir.DW_ROWS == 0 else band
        rows_in = (fits - 1) * stride + kh
        assert 4 * e * (rows_in * w + fits * ow) <= fused_ir.band_budget(stride, w) or fits == 1, \
            (e, w, oh, band)


def test_bands_makespan_follows_the_pools_claims():
    """Rows per thread as tc_parallel_for_dynamic hands out the bands (thread t from band
    nbands t / threads on), a band paying `pad` per row its depthwise pass rounds up."""
    assert fused_ir.bands_makespan(112, 12, 1, 0.0) == 112
    assert fused_ir.bands_makespan(112, 12, 2, 0.0) == 60  # 5 x 12 against 4 x 12 + 4
    assert fused_ir.bands_makespan(112, 8, 2, 0.0) == 56
    assert fused_ir.bands_makespan(28, 3, 2, 0.5) == 17.5  # 5 bands of 3 (+ 0.5 each)
    assert fused_ir.bands_makespan(28, 4, 2, 0.5) == 16    # 7 bands: the first free takes the 7th
    assert fused_ir.bands_makespan(10, 4, 3, 0.0) == 4


def test_band_rows_at_2_threads_even_out_the_rows_of_the_two_shares():
    """MobileNetV2's / MnasNet's 112x112 first block (32 channels): bands of 12 rows split 60 +
    52 rows over 2 threads; the bands of 8 split 56 + 56.  Elsewhere the 2-thread bands split
    no worse than the 1-thread ones would."""
    assert fused_ir.band_rows(32, 112, 112, 112, 3, 1, 1, 1) == 12
    band = fused_ir.band_rows(32, 112, 112, 112, 3, 1, 1, 2)
    assert band % fused_ir.DW_ROWS == 0 and fused_ir.bands_makespan(112, band, 2, 0.0) == 56
    for e, w, ow, oh, kh, stride in [(96, 112, 56, 56, 3, 2), (144, 56, 56, 56, 3, 1),
                                     (144, 56, 28, 28, 3, 2), (72, 56, 28, 28, 5, 2),
                                     (120, 28, 28, 28, 5, 1), (72, 56, 56, 56, 3, 1)]:
        one, two = (fused_ir.band_rows(e, w, ow, oh, kh, stride, 1, t) for t in (1, 2))
        assert (fused_ir.bands_makespan(oh, two, 2, 0.0)
                <= fused_ir.bands_makespan(oh, one, 2, 0.0)), (e, w, oh, one, two)


def test_block_below_the_size_threshold_runs_unfused_and_matches_onnxruntime():
    model = ir_model(e=32, hw=20)  # 51 KB expanded: three convolutions
    x = np.random.default_rng(6).standard_normal((2, 16, 20, 20), dtype=np.float32)
    sess = tinycnn.InferenceSession(model.SerializeToString())
    assert len(ir_nodes(sess)) == 1
    assert_close(sess.run(None, {"x": x})[0], ort_run(model, {"x": x})[0], 1e-4, what="y")


@pytest.mark.parametrize("c0,stride,banded",
                         [(24, 1, True), (24, 2, False), (16, 2, True), (32, 1, False)],
                         ids=["shallow_s1", "shallow_s2", "shallower_s2", "deeper_s1"])
def test_blocks_of_a_megabyte_run_in_bands_where_shallow(c0, stride, banded, monkeypatch):
    """72 x 56 x 56 expanded floats (0.9 MB, under IR_FUSE_MIN_BYTES): in bands when the
    expansion has at most IR_FUSE_SHALLOW_C0 input channels and the depthwise stride 1
    (MobileNetV3-Large's features.3), or at most IR_FUSE_S2_SHALLOW_C0 and stride 2
    (MobileNetV3-Small's features.2), else the three convolutions; either way as ORT.  The
    chan8 block left out (on AVX2 it takes the stride-2 blocks' 28x28 output at 1 and, since
    n31-2t, at 2 threads, E = 72 included)."""
    assert 4 * 72 * 56 * 56 < fused_ir.IR_FUSE_MIN_BYTES
    monkeypatch.setattr(fused_ir, "_plan_chan8", lambda *a: None)
    model = ir_model(c0=c0, e=72, k2=c0, hw=56, stride=stride, act="Relu", residual=stride == 1)
    x = np.random.default_rng(8).standard_normal((1, c0, 56, 56), dtype=np.float32)
    sess = tinycnn.InferenceSession(model.SerializeToString())
    (node,) = ir_nodes(sess)
    got, records = sess.run_profiled({"x": x})
    calls = [r["op"] for r in records if r["node"] == "expand"]
    assert len(calls) == (1 if banded else 3), calls
    assert_close(got[0], ort_run(model, {"x": x})[0], 1e-4, what="y")


def test_block_with_an_intermediate_output_is_not_fused():
    model = ir_model(extra_output=True)
    sess = tinycnn.InferenceSession(model.SerializeToString())
    assert ir_nodes(sess) == []
    x = np.random.default_rng(7).standard_normal((1, 16, 64, 64), dtype=np.float32)
    for g, r in zip(sess.run(None, {"x": x}), ort_run(model, {"x": x})):
        assert_close(g, r, 1e-4)


def test_profile_names_the_block_after_its_first_node_and_counts_its_flops(tmp_path):
    model = ir_model()
    so = session_options(enable_profiling=True)
    so.profile_file_prefix = str(tmp_path / "prof")
    sess = tinycnn.InferenceSession(model.SerializeToString(), so)
    x = np.zeros((1, 16, 64, 64), np.float32)
    sess.run(None, {"x": x})
    events = json.load(open(sess.end_profiling()))
    names = {e["name"] for e in events if e.get("cat") == "Node"}
    assert "expand_kernel_time" in names
    assert not {"dw_kernel_time", "project_kernel_time"} & names
    # 64x64 pixels: 16->96 expansion, 96 3x3 taps, 96->16 projection, 2 FLOPs a MAC
    want = 2 * 4096 * (16 * 96 + 96 * 9 + 96 * 16)
    (_, records) = sess.run_profiled({"x": x})
    assert sum(r["flops"] or 0 for r in records if r["node"] == "expand") == want


# ---- the whole block, its expansion channel-blocked (csrc/ir_chan8_avx2.c) ----

CHAN8_CASES = [  # (n, c0, e, k2, h, w, stride[, kernel]): MobileNetV2's 28x28, 14x14, 7x7,
    # stride 2, odd; MobileNetV3-Large's E % 16 == 8 (200, 184); MnasNet's 5x5 (layers.9.0 at
    # 56x56 / 2 with E = 72, .9.1 120@28, .10.0 240@28 / 2, .10.1 480@14, .12.0 576@14 / 2), odd
    (1, 32, 192, 32, 28, 28, 1), (1, 64, 384, 64, 14, 14, 1), (1, 96, 576, 96, 14, 14, 1),
    (1, 160, 960, 160, 7, 7, 1), (1, 32, 192, 64, 28, 28, 2), (1, 96, 576, 160, 14, 14, 2),
    (2, 8, 48, 8, 13, 11, 1), (2, 16, 32, 24, 9, 15, 2), (1, 5, 16, 5, 3, 3, 1),
    (1, 80, 200, 80, 14, 14, 1), (1, 80, 184, 80, 14, 14, 1), (2, 8, 24, 8, 5, 7, 2),
    (1, 24, 72, 40, 56, 56, 2, 5), (1, 40, 120, 40, 28, 28, 1, 5), (1, 40, 240, 80, 28, 28, 2, 5),
    (1, 80, 480, 80, 14, 14, 1, 5), (1, 96, 576, 192, 14, 14, 2, 5), (2, 8, 40, 8, 11, 13, 1, 5),
    (2, 16, 24, 24, 9, 15, 2, 5), (1, 5, 8, 5, 4, 3, 1, 5),
    # n32-mnas: 49 = 6 q + 1 pixels as 4 x 6 + 5 x 5 (MnasNet's 7x7 5x5 and 3x3 blocks, E % 16
    # == 8), 25 as 5 x 5 alone, 91 = 11 x 6 + 5 x 5, 19 (< 25: the 1-pixel tile)
    (1, 192, 1152, 192, 7, 7, 1, 5), (1, 192, 1152, 320, 7, 7, 1), (1, 16, 40, 16, 7, 7, 1),
    (1, 8, 32, 8, 5, 5, 1), (2, 8, 24, 8, 7, 13, 1, 5), (1, 8, 16, 8, 1, 19, 1),
    # h40-mn: the depthwise's groups of 7 pixels in one row (each input vector loaded once a
    # kernel row) beside groups across rows: 21 outputs a row at 5x5 / 2 (every group in a row),
    # 22 at 5x5 and 15 at 3x3 (three and two in a row, then one across)
    (1, 16, 32, 16, 9, 41, 2, 5), (1, 8, 24, 8, 3, 22, 1, 5), (2, 8, 16, 8, 4, 15, 1),
    # h48-mn2: at 2+ threads each thread's first strip claim reads the input rows first: two
    # images of MnasNet's layers.12.0, odd rows and columns at stride 2
    (2, 96, 576, 192, 14, 14, 2, 5), (2, 24, 48, 24, 15, 9, 2),
    # h53-mn: 7x7-sized expansions whose x is past 32 KB (C 49 floats; C = 192 above): an odd
    # C with E % 16 == 8 (x packed for the tiles, h53-v3), two images at 6x7 (E < 256: unpacked)
    (1, 171, 344, 96, 7, 7, 1, 5), (2, 200, 216, 48, 6, 7, 1),
]


def _numpy_block(x, w1, b1, wd, bd, w2, b2, stride, acts, residual):
    """The block in float64 numpy: 1x1, KC x KC depthwise (pads KC // 2), 1x1, each with its
    activation."""
    def act(v, a):
        name, alpha, beta = a
        if name == "Relu":
            return np.maximum(v, 0)
        if name == "Clip":
            return np.clip(v, alpha, beta)
        if name == "HardSwish":
            return v * np.clip(v / 6 + 0.5, 0, 1)
        return v
    x = x.astype(np.float64)
    t = act(np.einsum("ec,nchw->nehw", w1[:, :, 0, 0], x) + b1[None, :, None, None], acts[0])
    n, e, h, w = t.shape
    kc = wd.shape[2]
    tp = np.pad(t, ((0, 0), (0, 0), (kc // 2, kc // 2), (kc // 2, kc // 2)))
    oh, ow = (h - 1) // stride + 1, (w - 1) // stride + 1
    d = np.zeros((n, e, oh, ow)) + bd[None, :, None, None]
    for ki in range(kc):
        for kj in range(kc):
            d += wd[None, :, 0, ki, kj, None, None] * tp[:, :, ki:ki + (oh - 1) * stride + 1:stride,
                                                        kj:kj + (ow - 1) * stride + 1:stride]
    d = act(d, acts[1])
    y = act(np.einsum("ke,nehw->nkhw", w2[:, :, 0, 0], d) + b2[None, :, None, None], acts[2])
    return y if residual is None else y + residual


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("case", CHAN8_CASES,
                         ids=lambda c: "n{}c{}e{}k{}_{}x{}s{}".format(*c) + "k5" * (len(c) > 7))
def test_chan8_block_is_the_unfused_one_bit_for_bit(case, threads):
    """At 1 thread and with a pool (s30: the threads claim the 16-channel strips, then split the
    projection; n32-2t: where OW >= 8 and 2 rows a thread, a band of output rows per thread
    instead, uneven bands at 9x15 / 2 and 13x11 with 3 threads): the three layers' bits at 1
    thread, and the float64 block within 1e-4."""
    _check_chan8_block(case, threads, 0)


@pytest.mark.parametrize("threads", [2, 3])
def test_chan8_bands_at_2_threads_split_evenly_within_the_padded_rows(threads):
    """fused_ir.chan8_band_mt (n33-2t): a band count every thread gets a run of, the busiest
    thread's input rows (halo included) the fewest, within tc_ir_chan8_check's 4096 padded
    input pixels and 1024 output pixels a band."""
    assert fused_ir.chan8_band_mt(56, 56, 112, 3, 2, 2) == 14  # 4 bands: 2 + 2, not 5 of 12
    for oh, ow, w, kc, s in [(56, 56, 112, 3, 2), (128, 128, 256, 3, 2), (60, 60, 120, 5, 2),
                             (40, 40, 40, 3, 1), (9, 8, 8, 3, 1)]:
        band = fused_ir.chan8_band_mt(oh, ow, w, kc, s, threads)
        nb = -(-oh // band)
        assert nb >= threads and band * ow <= 1024, (oh, band)
        assert ((band - 1) * s + kc) * (w + kc - 1) <= 4096, (oh, band)
        ins = [(min(band, oh - b * band) - 1) * s + kc for b in range(nb)]
        shares = [sum(ins[nb * t // threads:nb * (t + 1) // threads]) for t in range(threads)]
        assert max(shares) - min(shares) <= (band - 1) * s + kc, (oh, band, shares)
    assert fused_ir.chan8_band_mt(1, 8, 2, 3, 2, 2) is None


@pytest.mark.parametrize("threads", [1, 2])
def test_112x112_stride_2_block_runs_chan8_in_bands(threads, monkeypatch):
    """The 112x112 stride-2 blocks (MobileNetV2's features.2 at a third of its width): chan8 in
    bands at 1 thread (s31) and at 2 (n33-2t: each thread a run of the bands), the three
    layers' bits and onnxruntime's values."""
    model = ir_model(c0=16, e=32, k2=24, hw=112, stride=2, residual=False, act="Relu")
    data = model.SerializeToString()
    x = np.random.default_rng(12).standard_normal((1, 16, 112, 112), dtype=np.float32)
    so = session_options(intra_op_num_threads=threads)
    planned = []
    real = fused_ir._plan_chan8

    def spy(n, X, stages, R, band=0):
        fused = real(n, X, stages, R, band)
        planned.append((band, fused is not None))
        return fused
    monkeypatch.setattr(fused_ir, "_plan_chan8", spy)
    sess = tinycnn.InferenceSession(data, so)
    got = sess.run(None, {"x": x})
    band, taken = planned[0]
    assert band > 0 and (threads == 1 or band == 14), planned
    assert taken == (sess._ctx.isa == "avx2"), planned
    assert_close(got[0], ort_run(model, {"x": x})[0], 1e-4, what="y")
    monkeypatch.setattr(fused_ir, "_plan_chan8", lambda *a, **k: None)
    monkeypatch.setattr(fused_ir, "IR_FUSE_MIN_BYTES", float("inf"))
    want = tinycnn.InferenceSession(data, so).run(None, {"x": x})
    np.testing.assert_array_equal(got[0], want[0], err_msg="chan8 bands vs the three layers'")


CHAN8_BAND_CASES = [  # (n, c0, e, k2, h, w, stride, kernel, band): s31, the block in bands of
    # output rows: MobileNetV2's features.2 (16-96-24 at 112x112 / 2) and .4 (24-144-32 at
    # 56x56 / 2), MobileNetV3-Large's features.2 (16-64-24), MnasNet's layers.8.0 (16-48-24) and
    # .9.0 (5x5), stride 1 with its residual, a last band shorter than the others, odd sizes,
    # one band more than half the map, E % 16 == 8, bands of one row
    (1, 16, 96, 24, 112, 112, 2, 3, 8), (1, 24, 144, 32, 56, 56, 2, 3, 4),
    (1, 16, 64, 24, 112, 112, 2, 3, 5), (1, 16, 48, 24, 112, 112, 2, 3, 16),
    (1, 24, 72, 40, 56, 56, 2, 5, 6), (1, 24, 144, 24, 56, 56, 1, 3, 8),
    (2, 8, 48, 8, 23, 19, 1, 3, 3), (2, 16, 32, 24, 23, 17, 2, 3, 5), (2, 8, 40, 8, 13, 11, 1, 5, 2),
    (1, 16, 24, 24, 25, 17, 2, 5, 1), (1, 8, 24, 8, 30, 30, 2, 3, 11), (1, 8, 16, 8, 16, 8, 1, 3, 15),
    (1, 8, 16, 8, 12, 9, 1, 5, 1), (1, 24, 72, 24, 56, 56, 1, 3, 14), (1, 16, 32, 16, 9, 16, 2, 3, 1),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CHAN8_BAND_CASES,
                         ids=lambda c: "n{}c{}e{}k{}_{}x{}s{}k{}b{}".format(*c))
def test_chan8_block_in_bands_is_the_unfused_one_bit_for_bit(case, threads):
    """s31: in bands of output rows (each band's expansion computes the input rows it reads):
    the three layers' bits at 1 thread, and the float64 block within 1e-4."""
    _check_chan8_block(case[:8], threads, case[8])


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("kc,stride", [(3, 1), (3, 2), (5, 1), (5, 2)])
def test_chan8_rows_sharing_their_halo_rows_are_the_unfused_ones(kc, stride, threads):
    """h38-mv2: in rows (2+ threads) with an expansion of 32+ channels the bands share their halo
    rows, each expanded by whichever band beside publishes it first, the other copying it: at
    heights 1-15, bands of 1, 2, 4 rows and the whole map, E % 16 == 8, two images (the second's
    rows not shared), each run 6 times (a race would show as other bits): the three layers' bits
    at 1 thread."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    rng = np.random.default_rng(kc * 10 + stride + threads)
    ctx1 = _kernels.Context(1, "avx2")
    ctx = _kernels.Context(threads, "avx2")
    kw = dict(activation="Clip", alpha=0.0, beta=6.0)
    for c0, e, w in [(32, 48, 9), (40, 40, 16)]:
        w1 = rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0))
        wd = rng.standard_normal((e, 1, kc, kc), dtype=np.float32) / np.float32(kc)
        w2 = rng.standard_normal((8, e, 1, 1), dtype=np.float32) / np.float32(np.sqrt(e))
        b1, bd = (rng.standard_normal(e, dtype=np.float32) for _ in range(2))
        dw1, dw = (_kernels.Conv2d(c, wd, bd, algo="depthwise", strides=(stride, stride),
                                   pads=(kc // 2,) * 4, group=e, **kw) for c in (ctx1, ctx))
        project1, project = (_kernels.Conv2d(c, w2, None, algo="1x1") for c in (ctx1, ctx))
        rows = _kernels.Conv2d(ctx1, w1, b1, algo="1x1", **kw)
        lanes = _kernels.Conv2d(ctx, w1, b1, algo="1x1_chan", **kw)
        for h in range(1, 16):
            x = rng.standard_normal((2, c0, h, w), dtype=np.float32)
            want = _unfused((rows, dw1, project1), x, None)
            for band in [0, 1, 2, 4]:
                block = _kernels.IRChan8(lanes, dw, project, band)
                if not block.takes(h, w):
                    continue
                ws = np.empty(block.workspace_size(h, w), np.float32)
                for rep in range(6):
                    got = block.run(x, np.full_like(want, np.nan), None, ws)
                    np.testing.assert_array_equal(got, want, err_msg=f"c0 {c0} e {e} {h}x{w} "
                                                  f"band {band} run {rep}")


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_chan8_depthwise_planes_with_padded_strides_leave_the_gaps_unread(threads, sparse):
    """h42-mn: the depthwise output the projection reads lies in the workspace with its planes a
    whole odd number of cache lines apart where a plane is not a multiple of 16 floats (49 -> 80,
    196 -> 208; at 2+ threads the rows mode's bands too, 98 -> 112), so that the GEMM reads it in
    place without its aligned copy: the workspace filled with NaN (the gaps never written), the
    three layers' bits, 1 pixel row to whole maps, batch 2, a residual, 1-3 threads; sparse
    (h44-mn): with the projection over the nonzero values (h45-mn: at 2-3 threads too, per
    band in rows, by groups and pixel parts with strips)."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    rng = np.random.default_rng(42 + threads)
    ctx1 = _kernels.Context(1, "avx2")
    ctx = _kernels.Context(threads, "avx2")
    kw = dict(activation="Clip", alpha=0.0, beta=6.0)
    for n, c0, e, k2, h, w, stride, kc, band in [
            (1, 24, 144, 24, 7, 7, 1, 5, 0), (2, 16, 40, 16, 7, 7, 1, 3, 0),
            (1, 32, 96, 32, 14, 14, 1, 3, 0), (2, 24, 72, 40, 14, 14, 2, 5, 0),
            (1, 8, 24, 8, 1, 19, 1, 3, 0), (1, 16, 48, 16, 13, 11, 1, 3, 0),
            (2, 8, 32, 8, 9, 15, 1, 5, 0), (1, 16, 48, 24, 28, 28, 2, 3, 3),
            (1, 8, 24, 8, 21, 13, 1, 3, 2),
            # a last band whose planes are wider than the whole bands' (rows of 8 in bands of
            # 4: 32 pixels a plane, the last 3 rows' 24 -> 48; rows of 14 in bands of 16): the
            # workspace sized for it (ir_fused.c chan8_ldd_room)
            (1, 8, 16, 8, 11, 8, 1, 3, 4), (2, 8, 16, 8, 15, 8, 1, 5, 4),
            (1, 16, 48, 16, 31, 14, 1, 3, 16)]:
        w1 = rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0))
        wd = rng.standard_normal((e, 1, kc, kc), dtype=np.float32) / np.float32(kc)
        w2 = rng.standard_normal((k2, e, 1, 1), dtype=np.float32) / np.float32(np.sqrt(e))
        b1, bd, b2 = (rng.standard_normal(k, dtype=np.float32) for k in (e, e, k2))
        dw1, dw = (_kernels.Conv2d(c, wd, bd, algo="depthwise", strides=(stride, stride),
                                   pads=(kc // 2,) * 4, group=e, **kw) for c in (ctx1, ctx))
        project1, project = (_kernels.Conv2d(c, w2, b2, algo="1x1") for c in (ctx1, ctx))
        rows = _kernels.Conv2d(ctx1, w1, b1, algo="1x1", **kw)
        lanes = _kernels.Conv2d(ctx, w1, b1, algo="1x1_chan", **kw)
        block = _kernels.IRChan8(lanes, dw, project, band, w2 if sparse else None)
        assert block.takes(h, w) and block.sparse == sparse, (h, w, band)
        x = rng.standard_normal((n, c0, h, w), dtype=np.float32)
        for residual in [None] + ([x] if stride == 1 and k2 == c0 else []):
            want = _unfused((rows, dw1, project1), x, residual)
            ws = np.full(block.workspace_size(h, w), np.nan, np.float32)
            for rep in range(2):
                got = block.run(x, np.full_like(want, np.nan), residual, ws)
                np.testing.assert_array_equal(got, want, err_msg=f"{n}x{c0}-{e}-{k2} {h}x{w} "
                                              f"s{stride} k{kc} band {band} run {rep}")


def _check_chan8_block(case, threads, band, sparse=False):
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    n, c0, e, k2, h, w, stride = case[:7]
    kc = case[7] if len(case) > 7 else 3
    rng = np.random.default_rng(sum(case))
    ctx1 = _kernels.Context(1, "avx2")
    ctx = _kernels.Context(threads, "avx2")
    for acts in [(ACTS[2], ACTS[2], ACTS[0]), (ACTS[1], ACTS[1], ACTS[0]),
                 (ACTS[0], ACTS[0], ACTS[0]), (ACTS[3], ACTS[3], ACTS[0])]:
        kw = [dict(activation=a[0], alpha=a[1], beta=a[2]) for a in acts]
        w1 = rng.standard_normal((e, c0, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c0))
        wd = rng.standard_normal((e, 1, kc, kc), dtype=np.float32) / np.float32(kc)
        w2 = rng.standard_normal((k2, e, 1, 1), dtype=np.float32) / np.float32(np.sqrt(e))
        b1, bd, b2 = (rng.standard_normal(k, dtype=np.float32) for k in (e, e, k2))
        dw1, dw = (_kernels.Conv2d(c, wd, bd, algo="depthwise", strides=(stride, stride),
                                   pads=(kc // 2,) * 4, group=e, **kw[1]) for c in (ctx1, ctx))
        project1, project = (_kernels.Conv2d(c, w2, b2, algo="1x1", **kw[2]) for c in (ctx1, ctx))
        rows = _kernels.Conv2d(ctx1, w1, b1, algo="1x1", **kw[0])
        lanes = _kernels.Conv2d(ctx, w1, b1, algo="1x1_chan", **kw[0])
        x = rng.standard_normal((n, c0, h, w), dtype=np.float32)
        block = _kernels.IRChan8(lanes, dw, project, band, w2 if sparse else None)
        assert block.takes(h, w) and block.sparse == sparse
        with_residual = stride == 1 and k2 == c0
        for residual in [None] + ([x] if with_residual else []):
            want = _unfused((rows, dw1, project1), x, residual)
            got = block.run(x, np.full_like(want, np.nan), residual,
                            np.empty(block.workspace_size(h, w), np.float32))
            np.testing.assert_array_equal(got, want, err_msg=f"{acts}, residual {residual is not None}")
            ref = _numpy_block(x, w1, b1, wd, bd, w2, b2, stride, acts, residual)
            np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("case", CHAN8_CASES + [c[:8] + (c[8],) for c in CHAN8_BAND_CASES],
                         ids=lambda c: "n{}c{}e{}k{}_{}x{}s{}".format(*c)
                         + "".join(f"_{v}" for v in c[7:]))
def test_chan8_block_with_its_projection_over_the_nonzero_values_is_bit_identical(case, threads):
    """h44-mn: the projection multiplying only the depthwise output's nonzero values
    (csrc/pw_sparse_avx2.c; h45-mn: at 2-3 threads per band in rows, with strips by output
    channel groups over the threads, a group in pixel parts where the groups are fewer: 320
    outputs 4 groups, 192 2, 24 1 in 2-3 parts): the three layers' bits with every
    activation (ReLU's and Clip's zeros skipped, none and HardSwish with few), a residual, two
    images, bands, K2 of 5 (not a multiple of 8: the dense path), E % 16 == 8, 1-row bands."""
    _check_chan8_block(case[:8], threads, case[8] if len(case) > 8 else 0, sparse=True)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("case", [(1, 96, 328, 96, 7, 7, 1), (2, 16, 1000, 24, 5, 7, 1),
                                  (1, 8, 392, 8, 3, 3, 1), (1, 24, 344, 104, 9, 11, 2)],
                         ids=lambda c: "n{}c{}e{}k{}_{}x{}s{}".format(*c))
def test_sparse_projection_walks_k_blocks_that_start_off_a_byte_of_the_mask(case, threads):
    """h49-mv2: the sparse projection walks each pixel's nonzero bits in words of up to 64 k
    (one walk a pass of 64 where the pass starts on a byte of the mask): K blocks of 164 (E 328),
    250 (E 1000), 196 (E 392) and 172 (E 344) start their second and later blocks 2-4 bits into
    a byte, so a pass there is a word of 60-62 bits and a short one, and the last pass of a
    block is shorter than a word; 9-35 pixels, batch 2, stride 2, 1-3 threads: the three
    layers' bits (the dense projection's) with every activation and a residual."""
    _check_chan8_block(case, threads, 0, sparse=True)


def test_sparse_projection_is_not_taken_with_weights_that_are_not_finite():
    """0 x inf is a NaN the dense product keeps: such weights leave the block dense."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    ctx = _kernels.Context(1, "avx2")
    rng = np.random.default_rng(5)
    mk = lambda *s: rng.standard_normal(s, dtype=np.float32)  # noqa: E731
    lanes = _kernels.Conv2d(ctx, mk(48, 8, 1, 1), None, algo="1x1_chan", activation="Relu")
    dw = _kernels.Conv2d(ctx, mk(48, 1, 3, 3), None, algo="depthwise", pads=(1, 1, 1, 1),
                         group=48, activation="Relu")
    x = mk(1, 8, 9, 9)
    for bad in (np.inf, np.nan):
        w2 = mk(8, 48, 1, 1)
        w2[3, 7] = bad
        project = _kernels.Conv2d(ctx, w2, None, algo="1x1")
        ys = []
        for sparse in (w2, None):
            block = _kernels.IRChan8(lanes, dw, project, 0, sparse)
            assert not block.sparse
            ys.append(block.run(x, np.empty((1, 8, 9, 9), np.float32), None,
                                np.empty(block.workspace_size(9, 9), np.float32)))
        assert np.isnan(ys[0][0, 3]).any()  # 0 x inf or x nan somewhere in the plane
        np.testing.assert_array_equal(ys[0], ys[1])


def test_chan8_block_refuses_what_it_does_not_run():
    ctx = _kernels.Context(1, "avx2") if _kernels.best_isa() in ("avx2", "avx512") else None
    if ctx is None:
        pytest.skip("CPU lacks AVX2/FMA")
    rng = np.random.default_rng(3)
    mk = lambda *s: rng.standard_normal(s, dtype=np.float32)  # noqa: E731
    lanes = _kernels.Conv2d(ctx, mk(48, 8, 1, 1), None, algo="1x1_chan")
    rows = _kernels.Conv2d(ctx, mk(48, 8, 1, 1), None, algo="1x1")
    project = _kernels.Conv2d(ctx, mk(8, 48, 1, 1), None, algo="1x1")
    dw3 = _kernels.Conv2d(ctx, mk(48, 1, 3, 3), None, algo="depthwise", pads=(1, 1, 1, 1), group=48)
    dw5 = _kernels.Conv2d(ctx, mk(48, 1, 5, 5), None, algo="depthwise", pads=(2, 2, 2, 2), group=48)
    dw5p1 = _kernels.Conv2d(ctx, mk(48, 1, 5, 5), None, algo="depthwise", pads=(1, 1, 1, 1),
                            group=48)
    dw7 = _kernels.Conv2d(ctx, mk(48, 1, 7, 7), None, algo="depthwise", pads=(3, 3, 3, 3), group=48)
    dw3s2 = _kernels.Conv2d(ctx, mk(48, 1, 3, 3), None, algo="depthwise", strides=(2, 2),
                            pads=(1, 1, 1, 1), group=48)
    assert _kernels.IRChan8(lanes, dw3, project).takes(14, 14)
    assert not _kernels.IRChan8(rows, dw3, project).takes(14, 14)  # packed as row panels
    assert _kernels.IRChan8(lanes, dw5, project).takes(14, 14)
    assert not _kernels.IRChan8(lanes, dw5p1, project).takes(14, 14)  # pads not KC / 2
    assert not _kernels.IRChan8(lanes, dw7, project).takes(14, 14)
    assert not _kernels.IRChan8(lanes, dw3, project).takes(56, 56)  # past its buffers
    assert _kernels.IRChan8(lanes, dw3s2, project).takes(56, 56)  # 28x28 out, 58x58 padded
    assert not _kernels.IRChan8(lanes, dw3s2, project).takes(112, 112)
    assert _kernels.IRChan8(lanes, dw3s2, project, 8).takes(112, 112)  # s31: in bands of 8 rows
    assert not _kernels.IRChan8(lanes, dw3s2, project, 40).takes(112, 112)  # 81 x 114 padded
    assert _kernels.IRChan8(lanes, dw3, project, 16).takes(56, 56)
    assert not _kernels.IRChan8(lanes, dw3, project, 2).takes(6, 6)  # a band's rows of 6 pixels
    with pytest.raises(ValueError):
        _kernels.IRChan8(lanes, dw3, project, -1)
    lanes40 = _kernels.Conv2d(ctx, mk(40, 8, 1, 1), None, algo="1x1_chan")  # E % 16 == 8
    lanes44 = _kernels.Conv2d(ctx, mk(44, 8, 1, 1), None, algo="1x1_chan")
    dw40 = _kernels.Conv2d(ctx, mk(40, 1, 3, 3), None, algo="depthwise", pads=(1, 1, 1, 1), group=40)
    dw44 = _kernels.Conv2d(ctx, mk(44, 1, 3, 3), None, algo="depthwise", pads=(1, 1, 1, 1), group=44)
    assert _kernels.IRChan8(lanes40, dw40, _kernels.Conv2d(ctx, mk(8, 40, 1, 1), None,
                                                           algo="1x1")).takes(14, 14)
    assert not _kernels.IRChan8(lanes44, dw44, _kernels.Conv2d(ctx, mk(8, 44, 1, 1), None,
                                                               algo="1x1")).takes(14, 14)
    assert not _kernels.IRChan8(lanes, dw3, project).takes(2, 2)  # fewer than 8 outputs
    hswish = _kernels.Conv2d(ctx, mk(48, 8, 1, 1), None, algo="1x1_chan", activation="HardSwish")
    silu = _kernels.Conv2d(ctx, mk(48, 8, 1, 1), None, algo="1x1_chan", activation="SiLU")
    assert _kernels.IRChan8(hswish, dw3, project).takes(14, 14)
    assert _kernels.IRChan8(silu, dw3, project).takes(14, 14)  # SiLU in the lanes too
    portable = _kernels.Context(1, "portable")
    lanes_p = _kernels.Conv2d(portable, mk(48, 8, 1, 1), None, algo="1x1_chan")
    dw_p = _kernels.Conv2d(portable, mk(48, 1, 3, 3), None, algo="depthwise", pads=(1, 1, 1, 1),
                           group=48)
    project_p = _kernels.Conv2d(portable, mk(8, 48, 1, 1), None, algo="1x1")
    assert not _kernels.IRChan8(lanes_p, dw_p, project_p).takes(14, 14)
    with pytest.raises(ValueError):
        _kernels.IRChan8(lanes, dw3, project).run(np.zeros((1, 8, 56, 56), np.float32),
                                                   np.zeros((1, 8, 56, 56), np.float32))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kw", [dict(c0=32, e=192, k2=32, hw=28),
                                dict(c0=32, e=192, k2=64, hw=28, stride=2, residual=False),
                                dict(c0=16, e=96, k2=16, hw=14, act="Relu"),
                                dict(c0=40, e=240, k2=80, hw=28, stride=2, residual=False,
                                     act="HardSwish"),
                                dict(c0=40, e=120, k2=40, hw=28, ks=5, act="Relu"),
                                dict(c0=80, e=200, k2=80, hw=14, act="HardSwish"),
                                dict(c0=24, e=144, k2=40, hw=28, stride=2, residual=False,
                                     act="SiLU", ks=5),
                                dict(c0=40, e=240, k2=40, hw=14, act="SiLU")],
                         ids=["28x28", "28x28s2", "14x14relu", "28x28s2hswish", "28x28k5",
                              "14x14e200", "28x28s2k5silu", "14x14silu"])
def test_small_block_at_1_thread_runs_chan8_as_the_unfused_plan(kw, threads, monkeypatch):
    """At 1 and 2 threads (n31-2t: at 2 threads 5x5 and E % 16 == 8 too) the chan8 block, the
    three layers' bits."""
    model = ir_model(**kw)
    data = model.SerializeToString()
    hw = kw["hw"]
    x = np.random.default_rng(9).standard_normal((1, kw["c0"], hw, hw), dtype=np.float32)
    so = session_options(intra_op_num_threads=threads)
    sess = tinycnn.InferenceSession(data, so)
    (node,) = ir_nodes(sess)
    got, records = sess.run_profiled({"x": x})
    calls = [r["op"] for r in records if r["node"] == "expand"]
    assert len(calls) == (1 if sess._ctx.isa == "avx2" else 3), calls
    assert_close(got[0], ort_run(model, {"x": x})[0], 1e-4, what="y")
    monkeypatch.setattr(fused_ir, "_plan_chan8", lambda *a: None)
    plain = tinycnn.InferenceSession(data, so)
    want, plain_records = plain.run_profiled({"x": x})
    np.testing.assert_array_equal(got[0], want[0], err_msg="chan8 y vs the three convolutions'")
    plain_calls = [r["op"] for r in plain_records if r["node"] == "expand"]
    assert len(plain_calls) == 3


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_7x7_block_runs_chan8_at_1_and_2_threads(threads, monkeypatch):
    # fused_ir._CHAN8_MIN_PIXELS_1T (n32-mnas, at 2 threads since n33-2t): the 7x7 blocks run
    # the chan8 block, the three layers' bits; past 2 threads (no chan8) the three layers
    model = ir_model(c0=32, e=192, k2=32, hw=7)
    data = model.SerializeToString()
    x = np.random.default_rng(4).standard_normal((1, 32, 7, 7), dtype=np.float32)
    so = session_options(intra_op_num_threads=threads)
    sess = tinycnn.InferenceSession(data, so)
    got, records = sess.run_profiled({"x": x})
    chan8 = threads <= 2 and sess._ctx.isa == "avx2"
    assert len([r for r in records if r["node"] == "expand"]) == (1 if chan8 else 3)
    assert_close(got[0], ort_run(model, {"x": x})[0], 1e-4, what="y")
    monkeypatch.setattr(fused_ir, "_plan_chan8", lambda *a: None)
    want = tinycnn.InferenceSession(data, so).run(None, {"x": x})
    np.testing.assert_array_equal(got[0], want[0], err_msg="7x7 y vs the three convolutions'")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("act,k2,hw,ks", [("Relu", 96, 7, 5), ("Clip", 96, 14, 3), ("Relu", 80, 7, 3),
                                          ("Relu", 32, 7, 3), ("Relu", 96, 16, 3),
                                          ("Relu", 192, 7, 3)])
def test_block_plans_its_projection_over_the_nonzero_values_at_1_thread(act, k2, hw, ks, threads,
                                                                        monkeypatch):
    """h44-mn (fused_ir._sparse_weights): a chan8 block whose depthwise ends in a ReLU or a
    Clip from 0, with K2 >= IR_SPARSE_MIN_K2 output channels, multiplies only the depthwise
    output's nonzero values at 1 thread: the bits of the dense projection and onnxruntime's
    values; not with 32 outputs (the 6 FMA chains of 2 strips lose), nor past
    IR_SPARSE_MAX_PIXELS, nor past IR_SPARSE_MAX_THREADS; at 2 threads (h45-mn) up to
    IR_SPARSE_MAX_E_MT expanded channels (E = 6 K2: 576 yes, 1152 no)."""
    model = ir_model(c0=k2, e=6 * k2, k2=k2, hw=hw, ks=ks, act=act)
    data = model.SerializeToString()
    x = np.random.default_rng(9).standard_normal((1, k2, hw, hw), dtype=np.float32)
    so = session_options(intra_op_num_threads=threads)
    planned = []
    real = fused_ir._sparse_weights

    def spy(n, stages, pixels):
        w = real(n, stages, pixels)
        planned.append(w is not None)
        return w
    monkeypatch.setattr(fused_ir, "_sparse_weights", spy)
    unpacked = []
    real_project = fused_ir._unpacked_project

    def spy_project(n, X, stage):
        p = real_project(n, X, stage)
        unpacked.append(p.layer.packs)
        return p
    monkeypatch.setattr(fused_ir, "_unpacked_project", spy_project)
    if hw == 16:
        monkeypatch.setattr(fused_ir, "IR_SPARSE_MAX_PIXELS", 255)
    got = tinycnn.InferenceSession(data, so).run(None, {"x": x})
    if tinycnn.InferenceSession(data, so)._ctx.isa != "avx2":
        assert planned == [] or not any(planned)
    else:
        assert planned == [threads <= fused_ir.IR_SPARSE_MAX_THREADS
                           and k2 >= fused_ir.IR_SPARSE_MIN_K2 and hw < 16
                           and (threads == 1 or 6 * k2 <= fused_ir.IR_SPARSE_MAX_E_MT)] * len(
            planned) and planned
    # h44-mn2: a sparse projection's layer is made without its dense packing
    assert unpacked == [False] * sum(planned)
    assert_close(got[0], ort_run(model, {"x": x})[0], 1e-4, what="y")
    monkeypatch.setattr(fused_ir, "IR_SPARSE_PROJECT", False)
    want = tinycnn.InferenceSession(data, so).run(None, {"x": x})
    np.testing.assert_array_equal(got[0], want[0], err_msg="sparse projection vs dense")


@pytest.mark.parametrize("case", [(2, 16, 96, 96, 7, 7, 3, "Relu"), (1, 24, 48, 16, 9, 5, 5, "Clip"),
                                  (1, 8, 40, 8, 3, 11, 3, "Relu", 1)],
                         ids=lambda c: "n{}c{}e{}k{}_{}x{}_kernel{}".format(*c)
                         + "".join(f"_{v}" for v in c[7:]))
def test_chan8_sparse_block_with_a_projection_made_without_its_dense_packing(case):
    """h44-mn2: the sparse block never reads the projection's dense packing, so the planner
    makes that layer with pack=False: the same bits as the block with the packed layer (two
    images, a residual, 1-row bands, E % 16 == 8; h45-mn: at 2 threads too); such a layer
    cannot run, nor go into a block that would read its packing (no sparse weights, weights
    not finite, K2 not a multiple of 8)."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    n, c0, e, k2, h, w, kc, act = case[:8]
    band = case[8] if len(case) > 8 else 0
    rng = np.random.default_rng(11)
    mk = lambda *s: rng.standard_normal(s, dtype=np.float32)  # noqa: E731
    ctx = _kernels.Context(1, "avx2")
    kw = dict(activation=act) if act == "Relu" else dict(activation=act, alpha=0.0, beta=6.0)
    lanes = _kernels.Conv2d(ctx, mk(e, c0, 1, 1), mk(e), algo="1x1_chan", **kw)
    dw = _kernels.Conv2d(ctx, mk(e, 1, kc, kc), mk(e), algo="depthwise",
                         pads=(kc // 2,) * 4, group=e, **kw)
    w2, b2 = mk(k2, e, 1, 1), mk(k2)
    packed = _kernels.Conv2d(ctx, w2, b2, algo="1x1")
    bare = _kernels.Conv2d(ctx, w2, b2, algo="1x1", pack=False)
    assert packed.packs and not bare.packs
    x = mk(n, c0, h, w)
    with pytest.raises(ValueError, match="pack=False"):
        bare.run(x[:, :1].repeat(e, 1), np.empty((n, k2, h, w), np.float32))
    want_block = _kernels.IRChan8(lanes, dw, packed, band, w2)
    block = _kernels.IRChan8(lanes, dw, bare, band, w2)
    assert block.sparse and block.takes(h, w)
    for residual in [None] + ([x] if k2 == c0 else []):
        for rep in range(2):
            ws = np.full(block.workspace_size(h, w), np.nan, np.float32)
            got = block.run(x, np.empty((n, k2, h, w), np.float32), residual, ws)
            want = want_block.run(x, np.empty((n, k2, h, w), np.float32), residual)
            np.testing.assert_array_equal(got, want, err_msg=f"{case} run {rep}")
    with pytest.raises(ValueError, match="pack=False"):
        _kernels.IRChan8(lanes, dw, bare, band)
    with pytest.raises(ValueError, match="pack=False"):
        _kernels.IRFused(lanes, dw, bare, 1)
    bad = w2.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="finite"):
        _kernels.IRChan8(lanes, dw, _kernels.Conv2d(ctx, bad, b2, algo="1x1", pack=False),
                         band, bad)
    ctx2 = _kernels.Context(2, "avx2")
    lanes2 = _kernels.Conv2d(ctx2, mk(e, c0, 1, 1), None, algo="1x1_chan", **kw)
    dw2 = _kernels.Conv2d(ctx2, mk(e, 1, kc, kc), None, algo="depthwise", pads=(kc // 2,) * 4,
                          group=e, **kw)
    block2 = _kernels.IRChan8(lanes2, dw2, _kernels.Conv2d(ctx2, w2, b2, algo="1x1", pack=False),
                              band, w2)
    want2 = _kernels.IRChan8(lanes2, dw2, _kernels.Conv2d(ctx2, w2, b2, algo="1x1"), band, w2)
    assert block2.sparse and block2.takes(h, w)
    for rep in range(2):
        ws = np.full(block2.workspace_size(h, w), np.nan, np.float32)
        got = block2.run(x, np.empty((n, k2, h, w), np.float32), None, ws)
        want = want2.run(x, np.empty((n, k2, h, w), np.float32), None)
        np.testing.assert_array_equal(got, want, err_msg=f"{case} 2 threads run {rep}")
    w5 = mk(k2 + 4, e, 1, 1)
    with pytest.raises(ValueError, match="pack=False"):
        _kernels.IRChan8(lanes, dw, _kernels.Conv2d(ctx, w5, None, algo="1x1", pack=False),
                         band, w5)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("c0,e,k2,stride,band_1t", [(24, 144, 24, 1, 14), (24, 72, 24, 1, 14),
                                                    (24, 144, 32, 2, 14), (24, 72, 40, 2, 0)])
def test_56x56_blocks_chan8_bands_at_1_thread(c0, e, k2, stride, band_1t, threads, monkeypatch):
    """h53-mv (fused_ir._CHAN8_S1_BANDS, _CHAN8_WHOLE_MAX_BYTES_1T): at 1 thread the 56x56
    blocks of stride 1 (MobileNetV2's features.3, MnasNet's layers.8.1-8.2) run the chan8 block
    in bands of 14 rows, and a stride-2 one that could run whole but whose depthwise output is
    past the budget (MobileNetV2's features.4, E = 144: 451 KB) in bands too; E = 72 stays
    whole; at 2 threads stride 1 is not planned here (the banded block) and stride 2 runs
    whole.  The values onnxruntime's within 1e-4, the bits those of the block without chan8."""
    model = ir_model(c0=c0, e=e, k2=k2, hw=56, stride=stride, residual=stride == 1 and c0 == k2)
    data = model.SerializeToString()
    x = np.random.default_rng(5).standard_normal((1, c0, 56, 56), dtype=np.float32)
    so = session_options(intra_op_num_threads=threads)
    bands = []
    real = fused_ir._chan8_band

    def spy(n, X, stages):
        b = real(n, X, stages)
        bands.append(b)
        return b
    monkeypatch.setattr(fused_ir, "_chan8_band", spy)
    got = tinycnn.InferenceSession(data, so).run(None, {"x": x})
    want_band = band_1t if threads == 1 else (None if stride == 1 else 0)
    assert bands == [want_band]
    assert_close(got[0], ort_run(model, {"x": x})[0], 1e-4, what="y")
    monkeypatch.setattr(fused_ir, "_plan_chan8", lambda *a: None)
    want = tinycnn.InferenceSession(data, so).run(None, {"x": x})
    np.testing.assert_array_equal(got[0], want[0], err_msg="chan8 bands vs the block without")
