"""Resize (opsets 10-19) and Upsample (7, 9) against onnxruntime on feature-map sized inputs,
every mode; the resampling kernel's portable and AVX2 twins; bad attributes."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinycnn
from tinycnn import _kernels as K
from tinycnn.ops.resize import axis_table
from helpers import ort_run, rel_diff, requires_avx2, tinycnn_session

RNG = np.random.default_rng(7)


def resize_model(opset, x_shape, attrs, scales=None, sizes=None, roi=None, op="Resize",
                 dtype=TensorProto.FLOAT):
    inits, ins = [], ["x"]
    if op == "Resize" and 11 <= opset < 13:  # roi and scales are required inputs: empty ones
        roi = [] if roi is None else roi
        ins += ["roi", "scales"] + (["sizes"] if sizes is not None else [])
        if scales is None:
            inits.append(numpy_helper.from_array(np.zeros(0, np.float32), "scales"))
    elif op == "Resize" and opset >= 13:
        ins += ["roi" if roi is not None else "", "scales" if scales is not None else ""]
        if sizes is not None:
            ins.append("sizes")
    elif scales is not None and not (op == "Upsample" and opset < 9):
        ins.append("scales")
    if roi is not None:
        inits.append(numpy_helper.from_array(np.array(roi, np.float32), "roi"))
    if scales is not None and "scales" in ins:
        inits.append(numpy_helper.from_array(np.array(scales, np.float32), "scales"))
    if sizes is not None:
        inits.append(numpy_helper.from_array(np.array(sizes, np.int64), "sizes"))
    node = helper.make_node(op, ins, ["y"], **attrs)
    graph = helper.make_graph([node], "resize", [helper.make_tensor_value_info("x", dtype, x_shape)],
                              [helper.make_tensor_value_info("y", dtype, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def check(model, x, rtol=1e-5, threads=1):
    (ref,) = ort_run(model, {"x": x})
    opts = tinycnn.SessionOptions()
    opts.intra_op_num_threads = threads
    (got,) = tinycnn.InferenceSession(model.SerializeToString(), opts).run(None, {"x": x})
    assert got.shape == ref.shape and got.dtype == ref.dtype
    assert rel_diff(got, ref) <= rtol, f"max rel diff {rel_diff(got, ref):.3g}"


COORDINATE_MODES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                    "half_pixel_symmetric"]
SCALES = [(2, 2), (0.5, 0.5), (1.7, 0.6), (3, 1.25), (0.375, 2.5)]


@pytest.mark.parametrize("shape", [(1, 8, 23, 37), (2, 3, 16, 15)])
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("coord", COORDINATE_MODES)
def test_every_mode_with_scales_matches_onnxruntime(shape, scale, coord):
    x = RNG.normal(size=shape).astype(np.float32)
    scales = [1, 1, *scale]
    integral = all(abs(s * d - round(s * d)) < 1e-6 for s, d in zip(np.float32(scale), shape[2:]))
    if coord == "align_corners" and not integral:
        pytest.skip("align_corners with a fractional scale * size: tinycnn follows ONNX's "
                    "reference (see test_align_corners_with_fractional_scales_follows_the_reference)")
    # onnxruntime's nearest path rounds half_pixel_symmetric's coordinates as if exact: at
    # fractional scale * size they land on ties (x.5) that float32 arithmetic misses by 1 ulp
    if coord != "half_pixel_symmetric" or integral:
        for nearest in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"):
            check(resize_model(19, shape, dict(mode="nearest", coordinate_transformation_mode=coord,
                                               nearest_mode=nearest), scales=scales), x)
    check(resize_model(19, shape, dict(mode="linear", coordinate_transformation_mode=coord),
                       scales=scales), x)
    for a, exclude in ((-0.75, 0), (-0.5, 1)):
        check(resize_model(19, shape, dict(mode="cubic", coordinate_transformation_mode=coord,
                                           cubic_coeff_a=a, exclude_outside=exclude),
                           scales=scales), x)
    for mode in ("linear", "cubic"):
        check(resize_model(19, shape, dict(mode=mode, coordinate_transformation_mode=coord,
                                           antialias=1), scales=scales), x)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("coord", ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"])
def test_sizes_and_keep_aspect_ratio_match_onnxruntime(mode, coord):
    x = RNG.normal(size=(1, 4, 21, 30)).astype(np.float32)
    for sizes, policy in (([1, 4, 40, 17], "stretch"), ([1, 4, 1, 61], "stretch"),
                          ([50, 50], "not_larger"), ([50, 50], "not_smaller")):
        attrs = dict(mode=mode, coordinate_transformation_mode=coord)
        if len(sizes) == 2:
            attrs.update(axes=[2, 3], keep_aspect_ratio_policy=policy)
        check(resize_model(18, x.shape, attrs, sizes=sizes), x)


def test_the_hot_cases_match_onnxruntime_at_every_thread_count():
    """Nearest 2x (YOLO's, DBNet's necks) and bilinear from sizes (segmentation heads)."""
    x = RNG.normal(size=(2, 16, 40, 40)).astype(np.float32)
    for threads in (1, 2, 3):
        check(resize_model(13, x.shape, dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                                             nearest_mode="floor"), scales=[1, 1, 2, 2]), x,
              threads=threads)
        check(resize_model(11, x.shape, dict(mode="nearest"), scales=[1, 1, 2, 2]), x, threads=threads)
        check(resize_model(13, x.shape, dict(mode="linear"), sizes=[2, 16, 160, 160]), x,
              threads=threads)
        check(resize_model(13, x.shape, dict(mode="linear", coordinate_transformation_mode="align_corners"),
                           sizes=[2, 16, 79, 80]), x, threads=threads)


@pytest.mark.parametrize("opset,op", [(7, "Upsample"), (9, "Upsample"), (10, "Resize")])
def test_legacy_opsets_match_onnxruntime(opset, op):
    x = RNG.normal(size=(1, 3, 9, 11)).astype(np.float32)
    for mode in ("nearest", "linear"):
        for scales in ([1, 1, 2, 3], [1, 1, 1.5, 2.25]) + (([1, 1, 0.5, 0.75],) if op == "Resize" else ()):
            attrs = dict(mode=mode)
            if op == "Upsample" and opset < 9:
                attrs["scales"] = [float(s) for s in scales]
            check(resize_model(opset, x.shape, attrs, scales=scales, op=op), x)


def test_tf_crop_and_resize_extrapolates_as_onnxruntime():
    x = RNG.normal(size=(1, 2, 12, 14)).astype(np.float32)
    roi = [0, 0, -0.2, 0.3, 1, 1, 0.9, 1.25]
    for mode in ("nearest", "linear", "cubic"):
        attrs = dict(mode=mode, coordinate_transformation_mode="tf_crop_and_resize",
                     extrapolation_value=-3.5)
        check(resize_model(13, x.shape, attrs, sizes=[1, 2, 9, 17], roi=roi), x)
        check(resize_model(18, x.shape, dict(attrs, axes=[3, 2]), sizes=[17, 9],
                           roi=[0.3, -0.2, 1.25, 0.9]), x)


def test_other_axes_and_ranks_match_onnxruntime():
    x5 = RNG.normal(size=(1, 2, 5, 6, 7)).astype(np.float32)
    check(resize_model(13, x5.shape, dict(mode="linear"), scales=[1, 1, 2, 0.5, 1.5]), x5)
    check(resize_model(13, x5.shape, dict(mode="nearest"), scales=[1, 3, 2, 1, 0.5]), x5)
    x2 = RNG.normal(size=(13, 17)).astype(np.float32)
    check(resize_model(13, x2.shape, dict(mode="cubic"), scales=[1.5, 0.7]), x2)
    x3 = RNG.normal(size=(4, 6, 9)).astype(np.float32)
    check(resize_model(13, x3.shape, dict(mode="linear"), sizes=[4, 12, 4]), x3)


def test_nearest_of_uint8_images_matches_onnxruntime():
    x = RNG.integers(0, 256, size=(1, 3, 10, 13)).astype(np.uint8)
    check(resize_model(13, x.shape, dict(mode="nearest"), scales=[1, 1, 2.5, 0.5],
                       dtype=TensorProto.UINT8), x)


def test_align_corners_with_fractional_scales_follows_the_reference():
    """ONNX's reference (and test cases) takes length_resized = scale * length; onnxruntime
    the rounded size.  For 4 -> 2.4 (2 outputs): x = j * 3 / 1.4."""
    idx, w, _ = axis_table("linear", "align_corners", "", 4, 2, 0.6, 0.6 * 4)
    x1 = 3 / 1.4
    assert idx[1].tolist() == [2, 3] and w[0].tolist() == [0, 1] and idx[0][1] == 0
    np.testing.assert_allclose(w[1], [1 - (x1 - 2), x1 - 2], rtol=1e-6)


def test_axis_table_nearest_modes_and_ties():
    # half_pixel, in 4 -> out 8 (scale 2): x = (j + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, ...
    for mode, expect in (("round_prefer_floor", [0, 0, 1, 1, 2, 2, 3, 3]),
                         ("floor", [0, 0, 0, 1, 1, 2, 2, 3]), ("ceil", [0, 1, 1, 2, 2, 3, 3, 3])):
        idx, w, _ = axis_table("nearest", "half_pixel", mode, 4, 8, 2.0, 8.0)
        assert idx[:, 0].tolist() == expect, mode
        assert (w == 1).all()
    # asymmetric, in 3 -> out 2 (scale 2/3): x = 0, 1.5: a tie, down or up
    assert axis_table("nearest", "asymmetric", "round_prefer_floor", 3, 2, 2 / 3, 2.0)[0][:, 0].tolist() == [0, 1]
    assert axis_table("nearest", "asymmetric", "round_prefer_ceil", 3, 2, 2 / 3, 2.0)[0][:, 0].tolist() == [0, 2]


# ---- the kernel: portable and AVX2 twins -------------------------------------------------

def _tables(rng, n_in, n_out, taps, outside=False):
    idx = rng.integers(0, n_in, size=(n_out, taps)).astype(np.int32)
    w = rng.normal(size=(n_out, taps)).astype(np.float32)
    mask = rng.random(n_out) < 0.2 if outside else None
    return (n_in, idx, w, mask, 1.5)


def _check_twins(ctxs, rows, cols, x, what):
    """Resample2d on every context: the first against numpy, the others its bits."""
    t = np.einsum("is,pisk->pik", rows[2], x[:, rows[1], :].astype(np.float64))
    ref = np.einsum("jt,pijt->pij", cols[2], t[:, :, cols[1]])
    if cols[3] is not None:
        ref[:, :, cols[3]] = cols[4]
    if rows[3] is not None:
        ref[:, rows[3], :] = rows[4]
    outs = []
    for ctx in ctxs:
        kernel = K.Resample2d(ctx, rows, cols)
        y = np.empty((x.shape[0], len(rows[1]), len(cols[1])), np.float32)
        kernel.run(x, y, np.empty(kernel.workspace_size(), np.float32))
        outs.append(y)
    np.testing.assert_allclose(outs[0], ref, rtol=1e-5, atol=1e-5, err_msg=what)
    for y in outs[1:]:
        np.testing.assert_array_equal(y, outs[0], err_msg=what)


@requires_avx2
def test_resample_kernel_twins_are_bit_identical_and_match_numpy():
    rng = np.random.default_rng(3)
    ctxs = [K.Context(2, "portable"), K.Context(2, "avx2"), K.Context(1, "avx2")]
    for h, w, oh, ow, th, tw in [(7, 9, 14, 18, 1, 1), (5, 6, 5, 12, 1, 1), (16, 15, 32, 30, 2, 2),
                                 (9, 10, 4, 3, 4, 4), (3, 40, 7, 17, 5, 1), (6, 6, 13, 6, 2, 1)]:
        for outside in (False, True):
            rows, cols = _tables(rng, h, oh, th, outside), _tables(rng, w, ow, tw, outside)
            if (h, w, oh, ow) == (7, 9, 14, 18):  # nearest 2x: one tap of weight 1, j // 2
                rows = (h, (np.arange(oh) // 2)[:, None].astype(np.int32), np.ones((oh, 1), np.float32), None, 0.0)
                cols = (w, (np.arange(ow) // 2)[:, None].astype(np.int32), np.ones((ow, 1), np.float32), None, 0.0)
            if (ow, w) == (6, 6) and tw == 1:  # identity columns
                cols = (w, np.arange(6)[:, None].astype(np.int32), np.ones((6, 1), np.float32), None, 0.0)
            x = rng.normal(size=(3, h, w)).astype(np.float32)
            _check_twins(ctxs, rows, cols, x, f"{h}x{w} -> {oh}x{ow}, taps {th}x{tw}, outside={outside}")


def _linear_table(n_in, n_out):
    """half_pixel linear upsampling: taps floor(x) and floor(x) + 1, clamped to the input."""
    x = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
    i0 = np.minimum(np.floor(x).astype(np.int32), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    f = (x - np.floor(x)).astype(np.float32)
    return (n_in, np.stack([i0, i1], 1).astype(np.int32), np.stack([1 - f, f], 1).astype(np.float32), None, 0.0)


@requires_avx2
def test_upsampling_columns_by_permutes_give_the_gathers_bits():
    """AVX2's two-tap columns pick 8 outputs' inputs from one loaded vector where they lie in
    8 floats (upsampling by 2 to 8 and more), else gather them, near the right end of the row
    too: the same bits as the portable twin, and numpy's values."""
    rng = np.random.default_rng(4)
    ctxs = [K.Context(1, "portable"), K.Context(1, "avx2"), K.Context(2, "avx2")]
    for h, w, oh, ow in [(8, 64, 16, 512), (4, 32, 8, 64), (3, 9, 5, 21), (2, 5, 2, 40),
                         (3, 17, 6, 35), (2, 13, 3, 13)]:
        rows, cols = _linear_table(h, oh), _linear_table(w, ow)
        x = rng.normal(size=(2, h, w)).astype(np.float32)
        _check_twins(ctxs, rows, cols, x, f"{h}x{w} -> {oh}x{ow}")


@requires_avx2
def test_upsampled_rows_go_columns_first_with_the_same_values_on_every_twin():
    """Rows upsampled by blends of at most 4 taps (linear, cubic) are computed columns first,
    each input row resampled once and kept in one of `taps` slots while the output rows read
    it: any order of the row taps (slots reused, evicted, two taps on one row), 1 to 4 taps,
    ranges that start inside a plane (3 threads); 5 taps, `outside` entries and downsampling
    keep the rows-first loop.  Both against numpy, the twins bit for bit."""
    rng = np.random.default_rng(5)
    ctxs = [K.Context(1, "portable"), K.Context(1, "avx2"), K.Context(3, "avx2"),
            K.Context(3, "portable")]
    for h, w, oh, ow, th, tw in [(4, 5, 9, 11, 4, 4), (3, 7, 10, 7, 3, 1), (5, 5, 6, 20, 1, 2),
                                 (6, 9, 13, 9, 2, 3), (4, 6, 9, 6, 5, 2), (3, 4, 8, 8, 2, 2)]:
        for outside in (False, True):
            rows, cols = _tables(rng, h, oh, th, outside), _tables(rng, w, ow, tw, outside)
            if th >= 2:  # a row whose taps read one input row twice (a clamped edge)
                rows[1][1, 1] = rows[1][1, 0]
            x = rng.normal(size=(3, h, w)).astype(np.float32)
            _check_twins(ctxs, rows, cols, x, f"{h}x{w} -> {oh}x{ow}, taps {th}x{tw}, outside={outside}")
    for h, w, oh, ow in [(64, 64, 512, 512), (32, 32, 64, 64), (5, 8, 37, 29)]:
        rows, cols = _linear_table(h, oh), _linear_table(w, ow)
        x = rng.normal(size=(2, h, w)).astype(np.float32)  # 3 threads: ranges start inside planes
        _check_twins(ctxs, rows, cols, x, f"linear {h}x{w} -> {oh}x{ow}")


def test_resample_kernel_refuses_indices_out_of_range():
    ctx = K.Context(1)
    rows = (4, np.array([[0], [4]], np.int32), np.ones((2, 1), np.float32), None, 0.0)
    cols = (4, np.zeros((2, 1), np.int32), np.ones((2, 1), np.float32), None, 0.0)
    with pytest.raises(ValueError, match="indices must lie in"):
        K.Resample2d(ctx, rows, cols)


# ---- bad input ---------------------------------------------------------------------------

def test_bad_resize_attributes_are_refused_naming_the_node():
    shape = (1, 2, 8, 8)
    cases = [
        (dict(mode="bicubic"), dict(scales=[1, 1, 2, 2]), "unknown mode 'bicubic'"),
        (dict(mode="nearest", nearest_mode="round"), dict(scales=[1, 1, 2, 2]), "unknown nearest_mode"),
        (dict(coordinate_transformation_mode="corners"), dict(scales=[1, 1, 2, 2]),
         "unknown coordinate_transformation_mode"),
        (dict(mode="linear"), dict(scales=[1, 1, 0, 2]), r"scales \[1.0, 1.0, 0.0, 2.0\] must be finite and > 0"),
        (dict(mode="linear"), dict(scales=[1, 1, -2, 2]), "must be finite and > 0"),
        (dict(mode="linear"), dict(scales=[1, 2, 2]), "must have 4 values"),
        (dict(mode="linear"), dict(sizes=[1, 2, -3, 8]), "must not be negative"),
        (dict(mode="nearest", antialias=1), dict(scales=[1, 1, 2, 2]), "antialias applies to the linear"),
        (dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize"),
         dict(sizes=[1, 2, 4, 4]), "tf_crop_and_resize needs roi"),
    ]
    for attrs, inputs, message in cases:
        model = resize_model(18, shape, dict(attrs), **inputs)
        model.graph.node[0].name = "up1"
        with pytest.raises(tinycnn.TinyCNNError, match=message) as e:
            tinycnn_session(model)
        assert "'up1' (Resize)" in str(e.value)


def test_a_resize_over_the_session_limits_is_refused_before_allocating():
    model = resize_model(13, (1, 64, 32, 32), dict(mode="nearest"), scales=[1, 1, 512, 512])
    model.graph.node[0].name = "huge"
    with pytest.raises(tinycnn.ResourceLimit, match=r"'huge' \(Resize\): output: shape \(1, 64, 16384, 16384\)"):
        tinycnn_session(model)


def test_upsample_refuses_downscaling():
    model = resize_model(9, (1, 1, 4, 4), dict(mode="nearest"), scales=[1, 1, 0.5, 1], op="Upsample")
    with pytest.raises(tinycnn.TinyCNNError, match="Upsample scales .* must be >= 1"):
        tinycnn_session(model)


# -- a 1x1 convolution after a resize runs before it (graph._conv_before_resize) -------------

def _resize_conv_model(attrs, scales=None, sizes=None, relu=False, shared=False, roi=None,
                       channels=8, k=5):
    """x [N, 8, 6, 7] -> Resize (to `channels`) -> Conv 1x1 (k, bias) [-> Relu fused into it]
    -> y; shared: the resized tensor is also an output."""
    rng = np.random.default_rng(11)
    inits = [numpy_helper.from_array(rng.standard_normal((k, channels, 1, 1)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(k).astype(np.float32), "b")]
    ins = ["x", "roi" if roi is not None else "", "scales" if scales is not None else "",
           "sizes" if sizes is not None else ""]
    for name, v, dt in (("roi", roi, np.float32), ("scales", scales, np.float32),
                        ("sizes", sizes, np.int64)):
        if v is not None:
            inits.append(numpy_helper.from_array(np.array(v, dt), name))
    nodes = [helper.make_node("Resize", ins, ["r"], **attrs),
             helper.make_node("Conv", ["r", "w", "b"], ["c" if relu else "y"])]
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if shared:
        outs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "resize_conv", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 8, 6, 7])], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("attrs,scales,sizes,fused", [
    (dict(mode="linear"), None, [2, 8, 12, 14], True),                     # LRASPP's head
    (dict(mode="linear", coordinate_transformation_mode="align_corners"), [1, 1, 2, 3], None, True),
    (dict(mode="cubic", exclude_outside=1), [1, 1, 1.5, 2], None, True),
    (dict(mode="cubic"), None, [2, 8, 4, 5], True),                        # downsampling
    (dict(mode="nearest", nearest_mode="floor"), [1, 1, 2, 2], None, True),
    (dict(mode="nearest"), [1, 2, 2, 2], None, True),                      # resizes C: at run, first
    (dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize",
          extrapolation_value=0.5), [1, 1, 2, 2], None, False),      # fills: not a blend
])
def test_conv_after_resize_runs_first_and_matches_onnxruntime(attrs, scales, sizes, fused):
    """tinycnn::ConvResize: the 1x1 convolution on the map before the resize, then the resize
    of its K channels: onnxruntime's result within rounding, batch 2, and the session without
    the fusion's; a resize of the channel axis (or of the batch) keeps the graph's order."""
    roi = ([0, 0, -0.2, 0.1, 1, 1, 1.1, 0.9]
           if attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize" else None)
    model = _resize_conv_model(attrs, scales, sizes, roi=roi,
                               channels=16 if scales and scales[1] == 2 else 8)
    x = RNG.standard_normal((2, 8, 6, 7)).astype(np.float32)
    sess = tinycnn_session(model)
    assert [n.op_type for n in sess._base.graph.nodes] == (["ConvResize"] if fused else
                                                           ["Resize", "Conv"])
    (y,) = sess.run(None, {"x": x})
    (ref,) = ort_run(model, {"x": x})
    assert y.shape == ref.shape
    assert rel_diff(y, ref) < 1e-5, f"{attrs} {scales} {sizes}: {rel_diff(y, ref):.2e}"
    plain = tinycnn_session(model, graph_optimization_level=tinycnn.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    assert rel_diff(y, plain.run(None, {"x": x})[0]) < 1e-5


def test_conv_after_resize_with_an_activation_or_a_shared_input_keeps_its_place():
    """Not linear (a fused Relu), or the resized tensor needed as itself: no ConvResize."""
    x = RNG.standard_normal((1, 8, 6, 7)).astype(np.float32)
    for kw in (dict(relu=True), dict(shared=True)):
        model = _resize_conv_model(dict(mode="linear"), [1, 1, 2, 2], **kw)
        sess = tinycnn_session(model)
        assert "ConvResize" not in [n.op_type for n in sess._base.graph.nodes], kw
        for got, ref in zip(sess.run(None, {"x": x}), ort_run(model, {"x": x})):
            assert rel_diff(got, ref) < 1e-5, kw
