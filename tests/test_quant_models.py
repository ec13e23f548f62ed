"""Networks of models/ quantized by onnxruntime's own tool (per-channel int8 weights, uint8
activations, calibrated on photographs), in both formats, against onnxruntime running the
same quantized model (its int8 weights handed to it as uint8 + 128, helpers.exact_int8_for_ort:
the same products, without its saturating byte kernel on CPUs without VNNI): dequantized outputs within 2% of the output's range and the same
top-1 class on held-out photographs (issue 15's bar); in practice the integer kernels and
the requantization agree element for element.  tinycnn runs the AVX2 path without VNNI (the
product: TINYCNN_ISA=avx2) everywhere, and the best tier of this CPU in the slow tier."""
import numpy as np
import pytest

import tinycnn
from helpers import ort_session
from models.quantize import calibration_images

from tinycnn import _kernels

SLOW = pytest.mark.slow
NETWORKS = ["resnet18", pytest.param("resnet50", marks=SLOW),
            pytest.param("mobilenet_v2", marks=SLOW), pytest.param("efficientnet_b0", marks=SLOW)]
TIERS = ["avx2", pytest.param(_kernels.best_int8_isa(), marks=SLOW, id="best")]


@pytest.mark.parametrize("isa", TIERS)
@pytest.mark.parametrize("fmt", ["qdq", "qoperator"])
@pytest.mark.parametrize("name", NETWORKS)
def test_quantized_network_matches_onnxruntime(name, fmt, isa, quantized_export, timed,
                                               monkeypatch):
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    monkeypatch.setenv("TINYCNN_ISA", _kernels.INT8_ISA_SETTINGS[isa])
    path = quantized_export(name, fmt)
    ref_sess = ort_session(path)
    sess = tinycnn.InferenceSession(str(path))
    assert sess._ctx.int8_isa == isa
    ops = {n.op_type for n in sess._graph.nodes}
    assert "QLinearConv" in ops and "Conv" not in ops, f"{name} {fmt}: not run as integer ops: {ops}"
    inp = ref_sess.get_inputs()[0].name
    exact = []
    for i, x in enumerate(calibration_images(3, seed=1234)):   # not the calibration crops
        with timed(f"onnxruntime {name} {fmt}"):
            ref = ref_sess.run(None, {inp: x})[0]
        with timed(f"tinycnn {name} {fmt}"):
            got = sess.run(None, {inp: x})[0]
        span = float(ref.max() - ref.min())
        assert span > 0
        worst = float(np.abs(got - ref).max()) / span
        assert worst <= 0.02, f"{name} {fmt} image {i}: max |diff| is {worst:.2%} of the range"
        assert got.argmax() == ref.argmax(), f"{name} {fmt} image {i}: top-1 differs"
        exact.append(float((got == ref).mean()))
    assert min(exact) >= 0.99, f"{name} {fmt}: exactly equal outputs {exact}"


@pytest.mark.parametrize("fmt", ["qdq", pytest.param("qoperator", marks=SLOW)])
def test_seven_bit_weights_run_exactly_as_onnxruntime_on_the_avx2_byte_kernel(
        fmt, quantized_export, monkeypatch):
    """quantize_static's reduce_range (weights within [-64, 64], its advice for CPUs without
    VNNI): every layer's weights pack as u8s8x2 (vpmaddubsw without a correction pass), and
    the outputs equal onnxruntime's element for element wherever its requantization does."""
    if _kernels.best_isa() not in ("avx2", "avx512"):
        pytest.skip("CPU lacks AVX2/FMA")
    import onnx
    monkeypatch.setenv("TINYCNN_ISA", "avx2")
    path = quantized_export("resnet18", fmt, reduce_range=True)
    ctx = _kernels.Context(1, "avx2", "none")
    weights = [onnx.numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer
               if i.data_type == onnx.TensorProto.INT8 and len(i.dims) == 4]
    assert len(weights) == 20
    for w in weights:
        assert -64 <= int(w.min()) and int(w.max()) <= 64
        w2 = np.ascontiguousarray(w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1), np.int16)
        assert _kernels.qgemm_choose_format_for(ctx, w2) == "u8s8x2"
    ref_sess = ort_session(path)
    sess = tinycnn.InferenceSession(str(path))
    inp = ref_sess.get_inputs()[0].name
    for i, x in enumerate(calibration_images(2, seed=99)):
        ref, got = ref_sess.run(None, {inp: x})[0], sess.run(None, {inp: x})[0]
        assert got.argmax() == ref.argmax(), f"image {i}: top-1 differs"
        assert float((got == ref).mean()) >= 0.99, f"image {i}: {float((got == ref).mean()):.3f} equal"
        assert float(np.abs(got - ref).max()) <= 0.02 * float(ref.max() - ref.min())
