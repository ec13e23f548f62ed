"""tinycnn.analysis: counts against PyTorch's modules and hand formulas, memory from the plan."""
import numpy as np
import pytest
from onnx import helper

from tinycnn.analysis import analyze, default_shape
from tinycnn.loader import load_model

from helpers import make_model

# The exports of test_models.py (opset 13, legacy exporter, batch norm folded), shared through
# onnx_export's cache; their batch is dynamic, analysed at batch 1 as the README's numbers.
ZOO_EXPORT = dict(opset=13, dynamo=False, batch_dynamic=True, fold_bn=True)


def _conv_relu_relu():
    """x[1,1,8,8] -> Conv(16, k3, p1) -> Relu -> Relu -> y[1,16,8,8]."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu1"),
             helper.make_node("Relu", ["r"], ["y"], name="relu2")]
    return make_model(nodes, [("x", [1, 1, 8, 8])], [("y", [1, 16, 8, 8])],
                      {"w": rng.standard_normal((16, 1, 3, 3)).astype(np.float32)})


def test_peak_memory_follows_the_plan():
    """The ReLUs write in place over the convolution's output: at most x and one 16x8x8 buffer
    are live (a tensor per node output would give 2 x 16x8x8 while relu1 runs)."""
    a = analyze(_conv_relu_relu())
    assert a.peak_activation_bytes == 4 * (1 * 8 * 8 + 16 * 8 * 8)
    assert [layer.steps for layer in a.layers] == [1, 1, 1]


def test_the_callers_model_is_left_as_loaded(tmp_path):
    """Planning rewrites nodes (Identity removal); a loaded Model analysed twice is unchanged."""
    nodes = [helper.make_node("Identity", ["x"], ["i"], name="id"),
             helper.make_node("Relu", ["i"], ["y"], name="relu")]
    path = tmp_path / "id.onnx"
    path.write_bytes(make_model(nodes, [("x", [2, 3, 4, 4])], [("y", [2, 3, 4, 4])]).SerializeToString())
    model = load_model(str(path))
    first = analyze(model)
    assert model.nodes[1].inputs == ["i"]
    assert [layer.name for layer in analyze(model).layers] == [layer.name for layer in first.layers] == ["relu"]
    assert first.layers[0].rf == (1, 1) and first.layers[0].jump == (1, 1)


def test_default_shapes():
    assert default_shape(["N", 3, "H", "W"]) == [1, 3, 224, 224]
    assert default_shape(["N", "C", 32, None], batch=4) == [4, 3, 32, 224]
    assert default_shape(["N", 10]) == [1, 10]


def _pytorch_counts(net):
    """(parameters with batch norm folded into the convolutions, MACs of Conv2d and Linear at
    1x3x224x224) from the PyTorch modules themselves."""
    import torch

    macs = 0

    def count(m, inputs, out):
        nonlocal macs
        if isinstance(m, torch.nn.Conv2d):
            macs += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, torch.nn.Linear):
            macs += out.numel() * m.in_features

    hooks = [m.register_forward_hook(count) for m in net.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        net(torch.zeros(1, 3, 224, 224))
    for h in hooks:
        h.remove()
    # A folded batch norm's scale and shift (2 C) become its convolution's bias (C).
    bn = sum(m.num_features for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    return sum(p.numel() for p in net.parameters()) - bn, macs


@pytest.mark.parametrize("name", ["alexnet", "resnet18", pytest.param("vgg16", marks=pytest.mark.slow)])
def test_counts_match_pytorch(onnx_export, name):
    import torch
    from models import PARAM_COUNTS, build  # the repository's zoo (conftest puts it on the path)

    net = build(name)
    params, macs = _pytorch_counts(net)
    if name != "resnet18":
        assert params == PARAM_COUNTS[name]  # torchvision's published count
    a = analyze(str(onnx_export(name, **ZOO_EXPORT)))
    assert (a.params, a.macs) == (params, macs), name
    assert a.weight_bytes == 4 * params
    convs = [layer for layer in a.layers if layer.op == "Conv"]
    assert len(convs) == sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())
