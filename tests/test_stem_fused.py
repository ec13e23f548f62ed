"""The banded first block, stem -> depthwise -> projection [+ the stem's output]
(csrc/stem_fused.c, _kernels.StemFused), against its three layers run one after the other
(Conv2d), which it must match bit for bit: every ISA, 1 to 3 threads, the networks' stems
(3x3 stride 2 pad 1, 3 -> 16 or 32), odd sizes, batch 2, each activation, with and without
the residual, band heights from 1 row to the whole plane; then the graph's
tinycnn::StemBlock against onnxruntime and the unfused plan."""
import numpy as np
import pytest

from tinycnn import _kernels
from test_depthwise import ctx  # noqa: F401  (every ISA, AVX-512's depthwise included)


ACTS = [("", None, None), ("Relu", None, None), ("Clip", 0.0, 6.0), ("HardSwish", None, None),
        ("SiLU", None, None), ("PRelu", None, None)]


def _layers(ctx, rng, c, k, k2, ks=3, stride=2, dw_ks=3, dw_stride=1, acts=(2, 2, 0)):
    def act(i, n):
        name, alpha, beta = ACTS[acts[i]]
        slope = rng.uniform(-0.5, 0.5, n).astype(np.float32) if name == "PRelu" else None
        return dict(activation=name, alpha=alpha, beta=beta, slope=slope)
    ws = rng.standard_normal((k, c, ks, ks), dtype=np.float32) / np.float32(ks * np.sqrt(c))
    wd = rng.standard_normal((k, 1, dw_ks, dw_ks), dtype=np.float32) / np.float32(dw_ks)
    wp = rng.standard_normal((k2, k, 1, 1), dtype=np.float32) / np.float32(np.sqrt(k))
    bias = lambda n: rng.standard_normal(n, dtype=np.float32)  # noqa: E731
    stem = _kernels.Conv2d(ctx, ws, bias(k), algo="stem", strides=(stride, stride),
                           pads=(ks // 2,) * 4, **act(0, k))
    dw = _kernels.Conv2d(ctx, wd, bias(k), algo="depthwise", strides=(dw_stride, dw_stride),
                         pads=(dw_ks // 2,) * 4, group=k, **act(1, k))
    project = _kernels.Conv2d(ctx, wp, bias(k2), algo="1x1", **act(2, k2))
    return stem, dw, project


def _unfused(layers, x, residual):
    stem, dw, project = layers
    n, _, h, w = x.shape
    t1 = np.empty(stem.output_shape(n, h, w), np.float32)
    stem.run(x, t1, None, np.empty(stem.workspace_size(n, h, w), np.float32))
    t2 = np.empty(dw.output_shape(n, *t1.shape[2:]), np.float32)
    dw.run(t1, t2, None, np.empty(dw.workspace_size(n, *t1.shape[2:]), np.float32))
    y = np.empty(project.output_shape(n, *t2.shape[2:]), np.float32)
    project.run(t2, y, t1 if residual else None,
                np.empty(project.workspace_size(n, *t2.shape[2:]), np.float32))
    return y


CASES = [  # (n, c, k, k2, h, w, dw_ks, dw_stride, residual)
    (1, 3, 32, 16, 40, 36, 3, 1, False),   # MobileNetV2 / MnasNet, a fraction of 224
    (2, 3, 16, 16, 33, 47, 3, 1, True),    # MobileNetV3-Large: the stem's output added
    (1, 3, 24, 8, 23, 19, 5, 1, False),
    (1, 4, 8, 12, 29, 30, 3, 2, False),
    (1, 1, 5, 5, 9, 7, 3, 1, True),
]


def _assert_bands(layers, x, residual, bands, what):
    """StemFused at each band height (bands: of the output's height): the unfused layers' bits"""
    want = _unfused(layers, x, residual)
    h, w = x.shape[2:]
    for band in bands(want.shape[2]):
        f = _kernels.StemFused(*layers, band, residual)
        y = np.full(want.shape, np.nan, np.float32)
        f.run(x, y, np.empty(f.workspace_size(h, w), np.float32))
        np.testing.assert_array_equal(y, want, err_msg=f"{what}, band {band}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}k{}k{}_{}x{}_dw{}s{}r{}".format(*c))
def test_fused_first_block_is_the_unfused_one_bit_for_bit(ctx, case):
    n, c, k, k2, h, w, dw_ks, dw_stride, residual = case
    rng = np.random.default_rng(sum(map(int, case)))
    for acts in [(2, 2, 0), (3, 1, 0), (4, 4, 1), (5, 3, 2)]:
        layers = _layers(ctx, rng, c, k, k2, dw_ks=dw_ks, dw_stride=dw_stride, acts=acts)
        x = rng.standard_normal((n, c, h, w), dtype=np.float32)
        _assert_bands(layers, x, residual,
                      lambda oh: sorted({1, 2, 3, 4, 5, oh // 2, oh - 1, oh, oh + 3} - {0}),
                      f"y of the fused first block, acts {acts}")


@pytest.mark.parametrize("threads", [2, 3])
def test_fused_first_block_on_threads_carries_the_halo_and_matches(threads):
    """58 columns: the GEMM's projection; 64 (32 out, bands of even rows): on the AVX2 table
    the 16-channel projection's kernel (stem_fused_avx2.c)"""
    ctx = _kernels.Context(threads, "auto")
    rng = np.random.default_rng(threads)
    for residual, k, k2, w in [(False, 32, 16, 58), (True, 16, 16, 58), (True, 16, 16, 64),
                               (False, 32, 16, 64)]:
        layers = _layers(ctx, rng, 3, k, k2, acts=(3, 1, 0))
        x = rng.standard_normal((2, 3, 62, w), dtype=np.float32)
        _assert_bands(layers, x, residual, lambda oh: (1, 2, 3, 4, 8, 13, 16, 31),
                      f"{w} columns, {threads} threads")


PROJECT16_CASES = [  # (n, c, k, h, w, residual): 16 outputs, bands of 16k pixels and others
    (2, 3, 16, 32, 64, True),     # MobileNetV3-Large's 16 -> 16 + residual, 32 columns
    (1, 3, 32, 48, 32, False),    # MobileNetV2's 32 -> 16, 16 columns
    (1, 3, 24, 20, 96, False),    # K 24, 48 columns
    (2, 3, 16, 30, 34, True),     # 17 columns: bands of 16 rows only
    (1, 4, 5, 18, 32, False),     # K 5
    (1, 3, 16, 2, 32, True),      # 1 output row
]


@pytest.mark.parametrize("case", PROJECT16_CASES,
                         ids=lambda c: "n{}c{}k{}_{}x{}_r{}".format(*c))
@pytest.mark.parametrize("with_bias", [True, False])
def test_fused_first_block_16_channel_projection_is_the_gemms_bit_for_bit(ctx, case, with_bias):
    """tc_conv_kernels.stem_project16 (stem_fused_avx2.c) where it applies (16 outputs, no
    activation, bands of a multiple of 16 pixels), the GEMM elsewhere: the unfused bits."""
    n, c, k, h, w, residual = case
    rng = np.random.default_rng(sum(map(int, case)) + with_bias)
    for acts in [(3, 1, 0), (2, 2, 0), (3, 1, 1)]:
        stem, dw, project = _layers(ctx, rng, c, k, 16, acts=acts)
        if not with_bias:
            wp = rng.standard_normal((16, k, 1, 1), dtype=np.float32) / np.float32(np.sqrt(k))
            project = _kernels.Conv2d(ctx, wp, None, algo="1x1",
                                      activation=ACTS[acts[2]][0])
        x = rng.standard_normal((n, c, h, w), dtype=np.float32)
        _assert_bands((stem, dw, project), x, residual,
                      lambda oh: sorted({1, 2, 3, 4, 8, 16, oh - 1, oh} - {0}),
                      f"acts {acts}, bias {with_bias}")


def test_fused_first_block_refuses_layers_that_do_not_chain():
    ctx = _kernels.Context(1, "auto")
    rng = np.random.default_rng(3)
    stem, dw, project = _layers(ctx, rng, 3, 16, 8)
    with pytest.raises(ValueError, match="stem_fused"):
        _kernels.StemFused(stem, dw, project, 4, True)   # 8 channels out: no residual of 16
    with pytest.raises(ValueError, match="stem_fused"):
        _kernels.StemFused(dw, dw, project, 4)           # not a stem
    with pytest.raises(ValueError, match="stem_fused"):
        _kernels.StemFused(stem, dw, project, 0)
    other = _layers(ctx, rng, 3, 24, 8)[1]
    with pytest.raises(ValueError, match="stem_fused"):
        _kernels.StemFused(stem, other, project, 4)      # 24 depthwise channels after 16
    f = _kernels.StemFused(stem, dw, project, 4)
    with pytest.raises(ValueError, match="channels"):
        f.run(np.zeros((1, 4, 16, 16), np.float32), np.zeros((1, 8, 8, 8), np.float32))
    with pytest.raises(ValueError, match="y"):
        f.run(np.zeros((1, 3, 16, 16), np.float32), np.zeros((1, 8, 16, 16), np.float32))


# ---- the graph: tinycnn::StemBlock (graph._fuse_stem_block, ops/fused_stem.py) ----

from onnx import helper  # noqa: E402

import tinycnn  # noqa: E402
from tinycnn.ops import fused_stem  # noqa: E402
from helpers import make_model, ort_run, assert_close, session_options  # noqa: E402


def stem_model(k=32, k2=16, act="Clip", residual=False, extra_output=False, seed=0):
    """Conv 3 -> k 3x3/2 + act -> depthwise 3x3 + act -> Conv 1x1 k -> k2 [+ the stem's output]:
    MobileNetV2's first block (MobileNetV3-Large's with the residual)."""
    rng = np.random.default_rng(seed)

    def w(*shape):
        return (rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float32)
    inits = {"w1": w(k, 3, 3, 3), "b1": w(k), "w2": w(k, 1, 3, 3), "b2": w(k),
             "w3": w(k2, k, 1, 1), "b3": w(k2), "lo": np.float32(0), "hi": np.float32(6)}

    def activation(src, dst):
        if act == "Clip":
            return [helper.make_node("Clip", [src, "lo", "hi"], [dst])]
        return [helper.make_node(act, [src], [dst])]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["s0"], name="stem", pads=[1] * 4,
                              strides=[2, 2])]
    nodes += activation("s0", "s1")
    nodes += [helper.make_node("Conv", ["s1", "w2", "b2"], ["d0"], name="dw", group=k,
                               pads=[1] * 4)]
    nodes += activation("d0", "d1")
    last = "p" if residual else "y"
    nodes += [helper.make_node("Conv", ["d1", "w3", "b3"], [last], name="project")]
    if residual:
        nodes += [helper.make_node("Add", ["p", "s1"], ["y"])]
    outputs = [("y", None)] + ([("s1", None)] if extra_output else [])
    return make_model(nodes, [("x", ["N", 3, "H", "W"])], outputs, inits, opset=14)


def stem_nodes(sess):
    return [n for n in sess._base.graph.nodes if n.op_type == "StemBlock"]


@pytest.fixture
def avx2(monkeypatch):
    """The direct stem kernel (algo 'stem') is planned on AVX2 alone."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("no AVX2")
    monkeypatch.setenv("TINYCNN_ISA", "avx2")


@pytest.mark.parametrize("kw,hw", [(dict(), (224, 224)), (dict(k=16, act="HardSwish", residual=True),
                                                           (226, 198))],
                         ids=["mv2", "mv3_residual"])
@pytest.mark.parametrize("threads", [1, 2])
def test_first_block_fused_in_bands_matches_onnxruntime_and_the_unfused_plan(avx2, monkeypatch,
                                                                             kw, hw, threads):
    monkeypatch.setattr(fused_stem, "STEM_FUSE_MIN_BYTES", 0)
    model = stem_model(**kw)
    data = model.SerializeToString()
    x = np.random.default_rng(5).standard_normal((2, 3) + hw, dtype=np.float32)
    sess = tinycnn.InferenceSession(data, session_options(intra_op_num_threads=threads))
    (node,) = stem_nodes(sess)
    assert node.name == "stem"
    got, records = sess.run_profiled({"x": x})
    assert [r["op"] for r in records if r["node"] == "stem"] == [node.label], \
        "the banded block is one kernel call"
    assert_close(got[0], ort_run(model, {"x": x})[0], 1e-4, what="y")
    monkeypatch.setattr(fused_stem, "STEM_FUSE_MIN_BYTES", float("inf"))
    plain = tinycnn.InferenceSession(data, session_options(intra_op_num_threads=threads))
    (_, records) = plain.run_profiled({"x": x})
    assert len([r for r in records if r["node"] == "stem"]) == 3, "unfused: three convolutions"
    np.testing.assert_array_equal(got[0], plain.run(None, {"x": x})[0],
                                  err_msg="banded y vs the three convolutions'")


def test_first_block_below_the_size_threshold_runs_unfused_and_matches_onnxruntime(avx2):
    model = stem_model(k=16)  # 16 x 56 x 56 stem outputs, 200 KB
    x = np.random.default_rng(6).standard_normal((1, 3, 112, 112), dtype=np.float32)
    sess = tinycnn.InferenceSession(model.SerializeToString())
    assert len(stem_nodes(sess)) == 1
    (_, records) = sess.run_profiled({"x": x})
    assert len([r for r in records if r["node"] == "stem"]) == 3
    assert_close(sess.run(None, {"x": x})[0], ort_run(model, {"x": x})[0], 1e-4, what="y")


def test_first_block_whose_stem_output_is_kept_is_not_fused():
    model = stem_model(extra_output=True)
    sess = tinycnn.InferenceSession(model.SerializeToString())
    assert stem_nodes(sess) == []
    x = np.random.default_rng(7).standard_normal((1, 3, 64, 64), dtype=np.float32)
    for g, r in zip(sess.run(None, {"x": x}), ort_run(model, {"x": x})):
        assert_close(g, r, 1e-4)


def test_first_block_cost_counts_the_three_convolutions(avx2):
    model = stem_model()
    sess = tinycnn.InferenceSession(model.SerializeToString())
    x = np.zeros((1, 3, 64, 64), np.float32)
    (_, records) = sess.run_profiled({"x": x})
    # 32x32 outputs: 27 taps x 32 stem channels, 9 x 32 depthwise, 32 -> 16, 2 FLOPs a MAC
    want = 2 * 1024 * (27 * 32 + 9 * 32 + 32 * 16)
    assert sum(r["flops"] or 0 for r in records if r["node"] == "stem") == want
