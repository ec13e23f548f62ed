"""tinycnn.quantization (the library behind `tinycnn quantize`) and the command: QDQ models
that onnxruntime accepts and runs as tinycnn does, every convolution and Gemm run as integer
ops by tinycnn, parameters by the formulas the module states, and the accuracy report."""
import numpy as np
import onnx
import pytest

import tinycnn
from helpers import make_model, ort_run, residual_net, run_cli
from tinycnn import quantization as Q

from onnx import helper


def feeds_for(n, seed=0):
    rng = np.random.default_rng(seed)
    # smooth, image-like inputs: a low-resolution pattern upsampled, plus a little noise
    out = []
    for _ in range(n):
        low = rng.normal(0, 1, (1, 3, 2, 2)).astype(np.float32)
        x = np.kron(low, np.ones((1, 1, 4, 4), np.float32)) + rng.normal(0, 0.1, (1, 3, 8, 8))
        out.append({"x": x.astype(np.float32)})
    return out


def test_activation_and_weight_parameters_follow_the_stated_formulas():
    s, z = Q.activation_params(0.5, 2.0)       # widened to [0, 2] to hold 0
    assert s == np.float32(2.0 / 255) and z == 0
    s, z = Q.activation_params(-1.0, 3.0)
    assert s == np.float32(4.0 / 255) and z == round(1.0 / (4.0 / 255))
    assert Q.activation_params(0.0, 0.0) == (1.0, 0)
    w = np.array([[[[1.0, -0.5]]], [[[0.0, 0.0]]], [[[-2.0, 0.3]]]], np.float32)   # [3, 1, 1, 2]
    q, scale = Q.weight_params(w, 0)
    np.testing.assert_array_equal(scale, np.array([1 / 127, 1.0, 2 / 127], np.float32))
    np.testing.assert_array_equal(q.reshape(3, 2), [[127, -64], [0, 0], [-127, 19]])
    q, scale = Q.weight_params(w, 0, bits=7)      # onnxruntime's reduce_range: [-64, 64]
    np.testing.assert_array_equal(scale, np.array([1 / 64, 1.0, 2 / 64], np.float32))
    np.testing.assert_array_equal(q.reshape(3, 2), [[64, -32], [0, 0], [-64, 10]])
    with pytest.raises(tinycnn.InvalidArgument, match=r"weight bits must be one of \(8, 7\), got 6"):
        Q.weight_params(w, 0, bits=6)


def _int8_weights(model):
    return [onnx.numpy_helper.to_array(i) for i in model.graph.initializer
            if i.data_type == onnx.TensorProto.INT8 and len(i.dims) >= 2]


def test_seven_bit_weights_stay_within_64_run_as_in_onnxruntime_and_take_u8s8x2_on_avx2():
    m = residual_net()
    q = Q.quantize_qdq(m, feeds_for(6), weight_bits=7)
    ws = _int8_weights(q)
    assert len(ws) == 3                                      # two convolutions and the Gemm
    for w in ws:
        assert np.abs(w.astype(np.int32)).max() == 64       # each tensor's largest channel at 64
        assert w.min() >= -64 and w.max() <= 64
    sess = tinycnn.InferenceSession(q.SerializeToString())
    for feed in feeds_for(3, seed=7):
        got, ref = sess.run(None, feed)[0], ort_run(q, feed)[0]
        assert np.abs(got - ref).max() <= 0.02 * float(ref.max() - ref.min())
        assert (got == ref).mean() >= 0.9
    from tinycnn import _kernels as K
    if "avx2" in K.int8_isas():
        ctx = K.Context(1, "avx2", "none")
        for w in ws:
            w2 = np.ascontiguousarray(w.reshape(w.shape[0], -1).astype(np.int16))
            assert K.qgemm_choose_format_for(ctx, w2) == "u8s8x2"
            assert K.qgemm_choose_format_for(ctx, np.ascontiguousarray(w2.T)) == "u8s8x2"
    with pytest.raises(tinycnn.InvalidArgument, match="weight bits must be one of"):
        Q.quantize_qdq(m, feeds_for(1), weight_bits=4)


@pytest.mark.parametrize("method", ["minmax", "percentile"])
def test_quantized_model_runs_in_onnxruntime_as_in_tinycnn_with_integer_kernels(method):
    m = residual_net()
    q = Q.quantize_qdq(m, feeds_for(6), method)
    sess = tinycnn.InferenceSession(q.SerializeToString())
    ops = [n.op_type for n in sess._graph.nodes]
    assert "Conv" not in ops and "Gemm" not in ops and ops.count("QLinearConv") == 2, ops
    for feed in feeds_for(3, seed=7):
        got = sess.run(None, feed)[0]
        ref = ort_run(q, feed)[0]
        span = float(ref.max() - ref.min())
        assert np.abs(got - ref).max() <= 0.02 * span, method
        assert (got == ref).mean() >= 0.9, method
    loss = Q.accuracy_loss(m, q, feeds_for(4, seed=8))
    assert loss["images"] == 4 and loss["top1_agreement"] >= 0.75, loss
    assert 0 < loss["mean_error_of_range"] < 0.05 and loss["max_error_of_range"] < 0.2, loss


def test_graph_outputs_keep_their_names_and_constants_stay_float():
    m = residual_net()
    q = Q.quantize_qdq(m, feeds_for(2))
    assert [o.name for o in q.graph.output] == ["logits"]
    producers = {o: n.op_type for n in q.graph.node for o in n.output}
    assert producers["logits"] == "DequantizeLinear"
    quantized = {n.input[0] for n in q.graph.node if n.op_type == "QuantizeLinear"}
    assert "c1" not in quantized          # Conv -> Relu: the Relu's output carries the pair
    assert {"x", "r1", "c2", "a2", "r2"} <= quantized
    assert "shp" not in quantized         # an int64 shape computed from the input


def test_bad_arguments_are_refused_with_the_reason():
    with pytest.raises(tinycnn.InvalidArgument, match="opset >= 13"):
        Q.quantize_qdq(residual_net(opset=11), feeds_for(1))
    with pytest.raises(tinycnn.InvalidArgument, match="calibration method"):
        Q.quantize_qdq(residual_net(), feeds_for(1), "entropy")
    with pytest.raises(tinycnn.InvalidArgument, match="at least one input"):
        Q.quantize_qdq(residual_net(), [])


def test_cli_quantize_writes_a_model_onnxruntime_runs_and_reports_the_loss(tmp_path, capsys):
    pytest.importorskip("PIL")
    from PIL import Image
    rng = np.random.default_rng(3)
    for i in range(3):
        low = rng.integers(0, 255, (4, 4, 3), np.uint8)
        Image.fromarray(np.kron(low, np.ones((16, 16, 1), np.uint8))).save(tmp_path / f"p{i}.png")
    src, out = tmp_path / "m.onnx", tmp_path / "q.onnx"
    onnx.save(residual_net(batch=1), src)
    code, stdout, _ = run_cli(capsys, "quantize", str(src), str(tmp_path), "-o", str(out),
                              "--method", "percentile")
    assert code == 0
    assert f"wrote {out}" in stdout and "calibrated on 3 picture(s)" in stdout
    assert "of the output's range" in stdout and "same top-1 on" in stdout
    x = np.random.default_rng(0).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    ref = ort_run(onnx.load(out), {"x": x})[0]
    got = tinycnn.InferenceSession(str(out)).run(None, {"x": x})[0]
    assert np.abs(got - ref).max() <= 0.02 * float(ref.max() - ref.min())


def test_cli_quantize_weight_bits(tmp_path, capsys):
    pytest.importorskip("PIL")
    from PIL import Image
    Image.fromarray(np.random.default_rng(4).integers(0, 255, (32, 32, 3), np.uint8)).save(
        tmp_path / "p.png")
    src, out = tmp_path / "m.onnx", tmp_path / "q.onnx"
    onnx.save(residual_net(batch=1), src)
    code, stdout, _ = run_cli(capsys, "quantize", str(src), str(tmp_path / "p.png"), "-o", str(out),
                              "--weight-bits", "7")
    assert code == 0 and "7-bit weights (int8 in [-64, 64]) per channel" in stdout
    assert all(np.abs(w.astype(np.int32)).max() == 64 for w in _int8_weights(onnx.load(out)))
    code, _, err = run_cli(capsys, "quantize", str(src), str(tmp_path / "p.png"), "-o", str(out),
                           "--weight-bits", "6")
    assert code == 2 and "--weight-bits" in err and "invalid choice: 6" in err


def test_summary_lists_the_quantized_layers_with_their_scales(tmp_path, capsys):
    q = Q.quantize_qdq(residual_net(batch=1), feeds_for(2))
    onnx.save(q, tmp_path / "q.onnx")
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in q.graph.initializer}
    code, out, _ = run_cli(capsys, "summary", str(tmp_path / "q.onnx"))
    assert code == 0
    assert "quantized    3 layer(s) run on 8-bit integer kernels:" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("conv", "fc "))}
    assert rows["conv1"][1] == "QLinearConv+Relu" and rows["conv2"][1] == "QLinearConv+QLinearAdd"
    assert rows["conv1"][2] == f"{float(inits['x_scale']):.4g}"
    assert rows["conv1"][3] == str(int(inits["x_zero_point"]))
    assert rows["fc"][1] == "QGemm" and "per-channel" in " ".join(rows["fc"])
    onnx.save(residual_net(batch=1), tmp_path / "f.onnx")
    code, out, _ = run_cli(capsys, "summary", str(tmp_path / "f.onnx"))
    assert code == 0 and "quantized" not in out


def test_verify_states_tolerances_in_quantization_steps(tmp_path, capsys):
    q = Q.quantize_qdq(residual_net(batch=1), feeds_for(2))
    onnx.save(q, tmp_path / "q.onnx")
    step = float(onnx.numpy_helper.to_array(
        next(i for i in q.graph.initializer if i.name == "logits_scale")))
    code, _, _ = run_cli(capsys, "verify", str(tmp_path / "q.onnx"), "--all-layers",
                         "--save-outputs", str(tmp_path / "ref.npz"))
    assert code == 0
    saved = dict(np.load(tmp_path / "ref.npz"))
    saved["logits"] = saved["logits"] + np.float32(step)          # one step off, every element
    saved["r1_quantized"] = (saved["r1_quantized"].astype(np.int32) + 1).clip(0, 255).astype(np.uint8)
    np.savez(tmp_path / "off.npz", **saved)
    args = ["verify", str(tmp_path / "q.onnx"), "--all-layers", "--load-outputs", str(tmp_path / "off.npz")]
    code, out, _ = run_cli(capsys, *args)
    assert code == 1
    code, out, _ = run_cli(capsys, *args, "--steps", "1")
    assert code == 0, out
    assert "1 quantization step(s) on the" in out
    code, out, _ = run_cli(capsys, *args, "--steps", "0.5")
    assert code == 1 and "logits" in out
