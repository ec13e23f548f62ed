"""Exports of issue 13's model families are valid ONNX and run in onnxruntime at any size.

FCN-ResNet50, DeepLabV3 and LRASPP on MobileNetV3-Large, ConvNeXt-Tiny, the YOLOv8n-style
detector and the DBNet-style text detector, each exported with the legacy exporter
(opset 17), four of them also with the dynamo exporter (opset 18), batch, height and
width symbolic.  Each export must pass onnx.checker (full check), contain the ops that make the
family what it is (and that tinycnn's op work needs to cover), and give in onnxruntime
the PyTorch model's output (max|ort - torch| / max|torch| <= 1e-4) at two input sizes and
batch 1 and 2.  The sizes are 256x256 and 320x224 (H x W): smaller than the 512x512 and
640x480 these models usually see (FCN-ResNet50 alone costs ~150 GFLOP per 520x520
image), to keep the suite's time down; the graphs do not depend on the size.

Whether tinycnn matches onnxruntime on these exports is tests/test_models_dense.py.
"""
import collections
import pathlib
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

import models
import models.export

REPO_ROOT = pathlib.Path(models.__file__).resolve().parent.parent
INPUT_NAME = "input"
RTOL = 1e-4
SIZES = ((256, 256), (320, 224))
NAMES = sorted(models.DENSE_MODELS) + ["convnext_tiny"]

# ops each export must contain, per exporter: what the family is built from
REQUIRED_OPS = {
    "fcn_resnet50": {"Conv", "Resize", "Shape"},
    "deeplabv3_mobilenet_v3_large": {"Conv", "Resize", "Shape", "HardSwish", "HardSigmoid"},
    "lraspp_mobilenet_v3_large": {"Conv", "Resize", "Shape", "Sigmoid", "Mul"},
    "convnext_tiny": {"Conv", "LayerNormalization", "Erf", "Transpose"},
    "yolov8n": {"Conv", "Resize", "Concat", "Split", "Softmax", "Range", "Expand", "MaxPool"},
    "dbnet_mobilenet_v3": {"Conv", "Resize", "ConvTranspose", "Sigmoid"},
}
# The legacy exporter writes torch.full as ConstantOfShape; dynamo as an Expand.
LEGACY_ONLY_OPS = {"yolov8n": {"ConstantOfShape"}}


def _ids(params):
    return [f"{name}-{'dynamo18' if dynamo else 'op17'}" for name, dynamo in params]


# Every model with the legacy exporter; the dynamo exporter (60-150 s an export here) on
# the four whose dynamo graphs differ most: YOLO's decode, ConvNeXt's LayerNorm/GELU, the
# Resize of a segmentation head and DBNet's ConvTranspose.
DYNAMO = ("convnext_tiny", "dbnet_mobilenet_v3", "lraspp_mobilenet_v3_large", "yolov8n")
PARAMS = [(name, False) for name in NAMES] + [(name, True) for name in DYNAMO]


def export_dense(onnx_export, name, dynamo):
    """The export these tests (and test_models_dense.py) use: batch and size symbolic."""
    return onnx_export(name, opset=18 if dynamo else 17, dynamo=dynamo, batch_dynamic=True,
                       spatial_dynamic=True)


def dense_input(batch, height, width):
    rng = np.random.default_rng(1234 + height * 7 + width)
    return rng.standard_normal((2, 3, height, width), dtype=np.float32)[:batch]


def torch_reference(name, x):
    model = models.build(name)
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return (out["out"] if isinstance(out, dict) else out).numpy()


@pytest.fixture(scope="module")
def torch_outputs():
    """PyTorch outputs at batch 2, per (model, size): built once per model."""
    cache = {}

    def get(name, height, width):
        if (name, height, width) not in cache:
            cache[name, height, width] = torch_reference(name, dense_input(2, height, width))
        return cache[name, height, width]
    return get


def expected_shape(name, batch, height, width):
    if name == "convnext_tiny":
        return (batch, 1000)
    if name == "yolov8n":
        anchors = sum((height // s) * (width // s) for s in (8, 16, 32))
        return (batch, 84, anchors)
    if name == "dbnet_mobilenet_v3":
        return (batch, 1, height, width)
    return (batch, 21, height, width)


@pytest.mark.slow
@pytest.mark.parametrize("name,dynamo", PARAMS, ids=_ids(PARAMS))
def test_dense_export_is_valid_and_runs_in_onnxruntime(name, dynamo, onnx_export,
                                                       torch_outputs, timed):
    path = export_dense(onnx_export, name, dynamo)
    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.load(str(path), load_external_data=False)
    ops = collections.Counter(n.op_type for n in proto.graph.node)
    required = REQUIRED_OPS[name] | (set() if dynamo else LEGACY_ONLY_OPS.get(name, set()))
    missing = required - set(ops)
    assert not missing, f"{path.name}: no {sorted(missing)} among {dict(ops)}"
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert all(isinstance(d, str) for d in dims[:1] + dims[2:]) and dims[1] == 3, \
        f"{path.name}: input dims {dims}, wanted symbolic N, H, W"
    assert [o.name for o in proto.graph.output] == [models.export.output_name(name)]

    label = f"{name}-{'dynamo18' if dynamo else 'op17'}"
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for height, width in SIZES:
        ref = torch_outputs(name, height, width)
        for batch in (1, 2):
            x = dense_input(batch, height, width)
            with timed(f"onnxruntime run b{batch} {height}x{width} {label}"):
                (got,) = sess.run(None, {INPUT_NAME: x})
            assert got.shape == expected_shape(name, batch, height, width), \
                f"{label} {height}x{width} batch {batch}: shape {got.shape}"
            err = np.abs(got - ref[:batch]).max() / np.abs(ref[:batch]).max()
            assert err <= RTOL, (f"{label} {height}x{width} batch {batch}: "
                                 f"max|ort - torch| / max|torch| = {err:.3g}")


def test_resize_sizes_come_from_the_input_shape(onnx_export):
    """torchvision's F.interpolate(size=x.shape[-2:]) exports as Shape -> ... -> Resize(sizes):
    the graph must compute the size, not carry a constant of the traced one."""
    path = export_dense(onnx_export, "lraspp_mobilenet_v3_large", False)
    proto = onnx.load(str(path))
    producer = {out: n for n in proto.graph.node for out in n.output}
    constants = {t.name for t in proto.graph.initializer}
    resizes = [n for n in proto.graph.node if n.op_type == "Resize"]
    assert len(resizes) == 2
    for node in resizes:
        sizes = node.input[3]
        assert sizes and sizes not in constants, f"{node.name}: sizes {sizes!r} is a constant"
        # walk up to a Shape node
        seen, frontier = set(), [sizes]
        while frontier:
            name = frontier.pop()
            if name in seen or name not in producer:
                continue
            seen.add(name)
            frontier.extend(producer[name].input)
        assert any(producer[n].op_type == "Shape" for n in seen), \
            f"{node.name}: its sizes do not come from a Shape"
    attrs = {a.name: a for a in resizes[0].attribute}
    assert attrs["mode"].s == b"linear"


def test_export_checks_sizes_and_outputs(tmp_path):
    with pytest.raises(ValueError, match="multiples of 32"):
        models.export.export("yolov8n", tmp_path / "y.onnx", opset=17, size=(320, 300))
    with pytest.raises(ValueError, match="S or HxW"):
        models.export.export("dbnet_mobilenet_v3", tmp_path / "d.onnx", opset=17, size="3x2x1")
    with pytest.raises(ValueError, match="no flatten"):
        models.build("fcn_resnet50", flatten="view")


def test_export_cli_size_option(tmp_path):
    out = tmp_path / "db.onnx"
    subprocess.run([sys.executable, "-m", "models.export", "dbnet_mobilenet_v3", "--opset", "17",
                    "--size", "96x64", "-o", str(out)], check=True, capture_output=True,
                   cwd=REPO_ROOT)
    proto = onnx.load(str(out))
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 96, 64]
    assert [d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim] == [1, 1, 96, 64]


def test_segmentation_models_follow_torchvision_names():
    keys = {
        "fcn_resnet50": ["backbone.conv1.weight", "backbone.layer4.2.conv2.weight",
                         "classifier.0.weight", "classifier.4.bias", "aux_classifier.4.weight"],
        "deeplabv3_mobilenet_v3_large": [
            "backbone.0.0.weight", "backbone.16.1.running_var",
            "classifier.0.convs.0.0.weight", "classifier.0.convs.3.0.weight",
            "classifier.0.convs.4.1.weight", "classifier.0.project.0.weight",
            "classifier.4.bias", "aux_classifier.0.weight"],
        "lraspp_mobilenet_v3_large": [
            "backbone.4.block.2.fc1.weight", "classifier.cbr.0.weight",
            "classifier.scale.1.weight", "classifier.low_classifier.bias",
            "classifier.high_classifier.weight"],
        "convnext_tiny": ["features.0.0.weight", "features.0.1.bias", "features.1.0.layer_scale",
                          "features.1.0.block.0.weight", "features.1.0.block.2.weight",
                          "features.1.0.block.3.weight", "features.2.0.weight",
                          "features.2.1.weight", "features.5.8.block.5.bias",
                          "classifier.0.weight", "classifier.2.weight"],
    }
    for name, wanted in keys.items():
        with torch.device("meta"):
            model = models.MODELS[name]()
        state = model.state_dict()
        missing = [k for k in wanted if k not in state]
        assert not missing, f"{name}: state_dict lacks {missing}"
    with torch.device("meta"):
        fcn = models.MODELS["fcn_resnet50"]()
    # the dilated backbone: layer4's 3x3 convs trade stride for dilation 4
    conv = fcn.backbone.layer4[1].conv2
    assert conv.dilation == (4, 4) and conv.padding == (4, 4) and conv.stride == (1, 1)
    assert fcn.backbone.layer4[0].conv2.dilation == (2, 2)


def test_yolo_decode_is_the_reference_arithmetic():
    """Boxes are anchor +- the softmax expectation of the bins, times the level's stride."""
    model = models.build("yolov8n")
    x = torch.from_numpy(dense_input(1, 64, 96))
    det = model.model[22]
    feats = {}
    hook = det.register_forward_pre_hook(lambda mod, args: feats.__setitem__("x", args[0]))
    with torch.no_grad():
        out = model(x)
    hook.remove()
    raw = [torch.cat((det.cv2[i](f), det.cv3[i](f)), 1) for i, f in enumerate(feats["x"])]
    # level 0 (stride 8), cell (row 1, column 2): anchor centre (2.5, 1.5) cells
    h, w = raw[0].shape[2:]
    cell = raw[0][0, :, 1, 2]
    bins = cell[:64].view(4, 16).softmax(1)
    dist = (bins * torch.arange(16.0)).sum(1)  # left, top, right, bottom in cells
    x1, y1 = 2.5 - dist[0], 1.5 - dist[1]
    x2, y2 = 2.5 + dist[2], 1.5 + dist[3]
    want = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]) * 8
    col = 1 * w + 2
    torch.testing.assert_close(out[0, :4, col], want, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(out[0, 4:, col], cell[64:].sigmoid())
    assert out.shape == (1, 84, h * w + (h // 2) * (w // 2) + (h // 4) * (w // 4))
