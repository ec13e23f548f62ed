"""Networks of models/ quantized by onnxruntime's own tool (per-channel int8 weights, uint8
activations, calibrated on photographs), in both formats, against onnxruntime running the
same quantized model: dequantized outputs within 2% of the output's range and the same
top-1 class on held-out photographs (issue 15's bar); in practice the integer kernels and
the requantization agree element for element.  tinycnn runs the AVX2 path without VNNI (the
product: TINYCNN_ISA=avx2) everywhere, and the best tier of this CPU in the slow tier."""
import numpy as np
import onnxruntime as ort
import pytest

import tinycnn
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
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    ref_sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
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
