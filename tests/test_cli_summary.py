"""`tinycnn summary`: parameters, MACs, receptive fields and totals, against hand counts and the
published numbers of AlexNet, VGG-16 and ResNet-18."""
import json
import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tinycnn import cli
from tinycnn.analysis import analyze


def _init(name, shape, rng):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def small_graph():
    """x[1,3,32,32] -> Conv(8,k3,s2,p1) -> Relu -> MaxPool(k2,s2) -> Conv(16,k3,g2,d2,p2)
    -> GlobalAveragePool -> Flatten -> Gemm(10)."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="conv2", kernel_shape=[3, 3], group=2,
                         dilations=[2, 2], pads=[2, 2, 2, 2]),
        helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1),
    ]
    inits = [_init("w1", [8, 3, 3, 3], rng), _init("b1", [8], rng), _init("w2", [16, 4, 3, 3], rng),
             _init("wf", [10, 16], rng), _init("bf", [10], rng)]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="handmade")


def test_small_graph_by_hand():
    a = analyze(small_graph())
    by = {layer.name: layer for layer in a.layers}
    # conv1: 16x16 output; conv2 on 8x8 with dilation 2, pad 2: 8x8 output.
    assert by["conv1"].out_shape == [1, 8, 16, 16]
    assert by["pool1"].out_shape == [1, 8, 8, 8]
    assert by["conv2"].out_shape == [1, 16, 8, 8]
    assert by["fc"].out_shape == [1, 10]
    assert by["conv1"].params == 8 * 3 * 9 + 8
    assert by["conv2"].params == 16 * 4 * 9
    assert by["fc"].params == 160 + 10
    assert a.params == 224 + 576 + 170
    assert by["conv1"].macs == 8 * 3 * 9 * 16 * 16
    assert by["conv2"].macs == 16 * (8 // 2) * 9 * 8 * 8
    assert by["fc"].macs == 10 * 16
    assert by["pool1"].macs == 0 and by["relu1"].macs == 0
    assert a.macs == 8 * 3 * 9 * 256 + 16 * 4 * 9 * 64 + 160
    # Receptive field / jump: conv1 3/2, pool 3+1*2=5/4, conv2 (dilated k3 = 5 taps span) 5+2*2*4=21/4.
    assert (by["conv1"].rf, by["conv1"].jump) == ((3, 3), (2, 2))
    assert (by["relu1"].rf, by["relu1"].jump) == ((3, 3), (2, 2))
    assert (by["pool1"].rf, by["pool1"].jump) == ((5, 5), (4, 4))
    assert (by["conv2"].rf, by["conv2"].jump) == ((21, 21), (4, 4))
    assert by["gap"].rf == (21 + 7 * 4, 21 + 7 * 4)
    # Peak activations: while conv1 runs, x (1*3*32*32) and c1 (8*16*16) are live; that is the max.
    assert a.peak_activation_bytes == 4 * (3 * 32 * 32 + 8 * 16 * 16)
    assert a.weight_bytes == 4 * a.params
    assert a.opsets == {"ai.onnx": 13} and a.producer == "handmade"
    # Batch 4: four times the work, the same parameters.
    a4 = analyze(small_graph(), {"x": [4, 3, 32, 32]})
    assert a4.macs == 4 * a.macs and a4.params == a.params


def test_summary_command_prints_table_and_totals(tmp_path, capsys):
    path = tmp_path / "small.onnx"
    onnx.save(small_graph(), path)
    assert cli.main(["summary", str(path), "--input-shape", "2,3,32,32"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("conv2"))
    assert "k3 s1 p2 d2 g2" in row and "2x16x8x8" in row and "576" in row, row
    assert re.search(r"parameters\s+970\b", out), out
    macs = 2 * (8 * 3 * 9 * 256 + 16 * 4 * 9 * 64 + 160)
    assert re.search(rf"MACs\s+{macs:,}\b", out), out
    assert "opsets       ai.onnx 13" in out and "producer     handmade" in out


def test_summary_json(tmp_path, capsys):
    path = tmp_path / "small.onnx"
    onnx.save(small_graph(), path)
    assert cli.main(["summary", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["params"] == 970 and report["macs"] == 8 * 3 * 9 * 256 + 16 * 4 * 9 * 64 + 160
    conv2 = next(layer for layer in report["layers"] if layer["node"] == "conv2")
    assert conv2["output"] == [1, 16, 8, 8] and conv2["rf"] == [21, 21] and conv2["jump"] == [4, 4]
    assert report["inputs"] == {"x": [1, 3, 32, 32]}


def test_plot(tmp_path, capsys):
    import matplotlib  # noqa: F401
    path = tmp_path / "small.onnx"
    onnx.save(small_graph(), path)
    png = tmp_path / "maps.png"
    assert cli.main(["summary", str(path), "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input_shape(tmp_path, capsys):
    path = tmp_path / "small.onnx"
    onnx.save(small_graph(), path)
    assert cli.main(["summary", str(path), "--input-shape", "1,3,banana"]) == 2
    assert "--input-shape" in capsys.readouterr().err


# ---- the published numbers, on exports of the models/ zoo ----

def _totals(capsys, path):
    assert cli.main(["summary", path]) == 0
    out = capsys.readouterr().out
    params = int(re.search(r"^parameters\s+([\d,]+)", out, re.M).group(1).replace(",", ""))
    gmacs = re.search(r"^MACs\s+[\d,]+\s+\((\d+\.\d\d) GMACs", out, re.M).group(1)
    return params, gmacs, out


@pytest.mark.parametrize("name,params,gmacs", [
    ("alexnet", 61_100_840, "0.71"),
    ("resnet18", 11_684_712, "1.81"),  # batch norm folded into the convolutions' biases
    pytest.param("vgg16", 138_357_544, "15.47", marks=pytest.mark.slow),
])
def test_known_models(onnx_export, capsys, name, params, gmacs):
    """The models/ exports of test_models.py (opset 13, batch dynamic: summarised at batch 1)."""
    got_params, got_gmacs, out = _totals(capsys, str(onnx_export(name, batch_dynamic=True)))
    assert (got_params, got_gmacs) == (params, gmacs), f"{name}:\n{out}"


def test_alexnet_layers(onnx_export):
    a = analyze(str(onnx_export("alexnet", batch_dynamic=True)))
    convs = [layer for layer in a.layers if layer.op == "Conv"]
    first = convs[0]
    assert first.out_shape == [1, 64, 55, 55]
    assert first.macs == 64 * 3 * 11 * 11 * 55 * 55
    assert (first.rf, first.jump) == ((11, 11), (4, 4))
    # conv5's receptive field in torchvision's AlexNet is 163 pixels with a jump of 16.
    assert (convs[4].rf, convs[4].jump) == ((163, 163), (16, 16))
    assert a.weight_bytes == 4 * 61_100_840


def _upsampling_graph():
    """x[1,3,32,32] -> Conv(8, k3 s2 p1) -> ConvTranspose(4, k2 s2) -> Resize(nearest, x2): a
    decoder's shape, down then up."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("ConvTranspose", ["c", "wt"], ["t"], name="up", strides=[2, 2]),
             helper.make_node("Resize", ["t", "", "scales"], ["r"], name="resize", mode="nearest")]
    inits = [_init("w", [8, 3, 3, 3], rng), _init("wt", [8, 4, 2, 2], rng),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
    graph = helper.make_graph(nodes, "up", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("r", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_receptive_field_through_transposed_convolution_and_resize(tmp_path, capsys):
    """Through the registrations' windows: ConvTranspose k2 s2 sees ceil(2 / 2) = 1 input pixel
    per output at a jump of 1/2; Resize x2 nearest 1 pixel at 1/2.  By hand: conv RF 3 jump 2,
    then RF 3 + (1 - 1) * 2 = 3 jump 1, then RF 3 jump 1/2."""
    path = tmp_path / "up.onnx"
    onnx.save(_upsampling_graph(), path)
    code = cli.main(["summary", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = {layer["node"]: layer for layer in json.loads(out)["layers"]}
    assert (rows["conv"]["rf"], rows["conv"]["jump"]) == ([3, 3], [2, 2])
    up = rows["up"]
    assert (up["output"], up["rf"], up["jump"]) == ([1, 4, 32, 32], [3, 3], [1, 1])
    assert up["params"] == 8 * 4 * 2 * 2 and up["macs"] == 8 * 4 * 2 * 2 * 16 * 16  # C_in*C_out*k*k per input pixel
    resize = rows["resize"]
    assert (resize["output"], resize["rf"], resize["jump"]) == ([1, 4, 64, 64], [3, 3], [0.5, 0.5])
    assert resize["params"] == 0, "Resize's scales are a shape input, not a parameter"
