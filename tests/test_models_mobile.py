"""Mobile networks (issue 12): tinycnn against onnxruntime on exports of models/.

The networks: MobileNetV2, MobileNetV3-Small/-Large, EfficientNet-B0, MnasNet 0.5/1.0,
ShuffleNetV2 x1.0, SqueezeNet 1.1, RegNetY-400MF, GoogLeNet, DenseNet-121.  Every case
exports one model with a dynamic batch (cached per session by the ``onnx_export``
fixture), opens it once in tinycnn and once in onnxruntime, and runs the same N(0, 1)
input (fixed seed) at batch 1 and 2: max|tinycnn - ort| / max|ort| <= 1e-4 and the same
top-1 class in every row.

The matrix: every network with the legacy exporter (opset 17, batch norm folded) and
the dynamo exporter (opset 18, batch norm folded by its optimizer, weights in
``.onnx.data``); batch norm kept for four of them (legacy, opset 17); MobileNetV2 at
opset 9 (Clip with min/max attributes) and MobileNetV3-Small at opset 13 (hard-swish
exported as HardSigmoid * x before opset 14).  ShuffleNetV2's dynamo export uses Split,
which tinycnn lacks until issue 13's ops land: a strict xfail until then.  Dynamo exports
take 15-60 s each here and
GoogLeNet/DenseNet are the largest, so those carry ``slow`` (still run by default).
The terminal summary lists the time of every export and run.
"""
import collections

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from torch import nn

import models
import tinycnn
from helpers import session_options

INPUT_NAME = "input"
RTOL = 1e-4
INPUT_SEED = 1234
MOBILE = sorted(models.MOBILE_MODELS)
LARGE = {"googlenet", "densenet121"}

Case = collections.namedtuple("Case", "name opset dynamo fold_bn", defaults=(17, False, True))

CASES = (
    [Case(name) for name in MOBILE]
    + [Case(name, opset=18, dynamo=True) for name in MOBILE]
    + [Case(name, fold_bn=False) for name in ("mobilenet_v3_large", "efficientnet_b0",
                                              "shufflenet_v2_x1_0", "regnet_y_400mf")]
    + [Case("mobilenet_v2", opset=9), Case("mobilenet_v3_small", opset=13)]
)

# Ops that show each network's distinctive structure in a legacy export (opset >= 14).
SIGNATURE_OPS = {
    "mobilenet_v2": {"Clip"},
    "mobilenet_v3_small": {"HardSwish", "HardSigmoid", "GlobalAveragePool", "Mul"},
    "mobilenet_v3_large": {"HardSwish", "HardSigmoid", "GlobalAveragePool", "Mul"},
    "efficientnet_b0": {"Sigmoid", "Mul", "GlobalAveragePool"},
    "mnasnet0_5": {"ReduceMean", "Add"},
    "mnasnet1_0": {"ReduceMean", "Add"},
    "shufflenet_v2_x1_0": {"Reshape", "Transpose", "Concat"},
    "squeezenet1_1": {"Concat", "MaxPool"},
    "regnet_y_400mf": {"Sigmoid", "Mul", "Add"},
    "googlenet": {"Concat", "MaxPool"},
    "densenet121": {"Concat", "AveragePool"},
}


def _case_id(c):
    exporter = f"dynamo{c.opset}" if c.dynamo else f"op{c.opset}"
    return f"{c.name}-{exporter}-{'bnfold' if c.fold_bn else 'bnkeep'}"


def _params(cases):
    params = []
    for c in cases:
        marks = [pytest.mark.slow] if c.dynamo or c.name in LARGE else []
        params.append(pytest.param(c, id=_case_id(c), marks=marks))
    return params


def _unfoldable_batchnorms(name):
    """BatchNorms that follow no convolution (DenseNet's pre-activation ones after a concat)."""
    with torch.device("meta"):
        model = models.MODELS[name]()
    if name != "densenet121":
        return 0
    return sum(1 for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)
               and n.rsplit(".", 1)[-1] in ("norm1", "norm", "norm5"))


def _check_graph(case, path):
    proto = onnx.load(str(path), load_external_data=False)
    ops = collections.Counter(node.op_type for node in proto.graph.node)
    opset = {o.domain: o.version for o in proto.opset_import}.get("", None)
    assert opset == case.opset, f"{path.name}: opset {opset}, wanted {case.opset}"
    with torch.device("meta"):
        n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in models.MODELS[case.name]().modules())
    want_bn = _unfoldable_batchnorms(case.name) if case.fold_bn else n_bn
    assert ops["BatchNormalization"] == want_bn, (
        f"{path.name}: {ops['BatchNormalization']} BatchNormalization nodes, wanted {want_bn} "
        f"(fold_bn={case.fold_bn})")
    if not case.dynamo and case.opset >= 14:
        missing = SIGNATURE_OPS[case.name] - set(ops)
        assert not missing, f"{path.name}: no {sorted(missing)} in {dict(ops)}"
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param, f"{path.name}: batch dimension is not symbolic: {batch_dim}"


@pytest.mark.parametrize("case", _params(CASES))
def test_mobile_model_matches_onnxruntime(case, onnx_export, timed):
    path = onnx_export(case.name, opset=case.opset, dynamo=case.dynamo, fold_bn=case.fold_bn,
                       batch_dynamic=True)
    _check_graph(case, path)
    label = _case_id(case)
    with timed(f"onnxruntime session {label}"):
        ref = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with timed(f"tinycnn session     {label}"):
        sess = tinycnn.InferenceSession(str(path))

    x_all = np.random.default_rng(INPUT_SEED).standard_normal((2, 3, 224, 224), dtype=np.float32)
    for batch in (1, 2):
        x = x_all[:batch]
        with timed(f"onnxruntime run b{batch}  {label}"):
            (expected,) = ref.run(None, {INPUT_NAME: x})
        with timed(f"tinycnn run b{batch}      {label}"):
            (got,) = sess.run(None, {INPUT_NAME: x})
        got = np.asarray(got)
        assert got.shape == expected.shape == (batch, 1000), \
            f"{label} batch {batch}: shape {got.shape}, onnxruntime {expected.shape}"
        err = np.abs(got - expected).max() / np.abs(expected).max()
        assert err <= RTOL, (f"{label} batch {batch}: max|tinycnn - ort| / max|ort| = "
                             f"{err:.3g} > {RTOL}")
        for row in range(batch):
            top_ort, top_got = expected[row].argmax(), got[row].argmax()
            assert top_got == top_ort, (
                f"{label} batch {batch} row {row}: top-1 {top_got} (ort logit "
                f"{expected[row, top_got]:.6g}), onnxruntime {top_ort} "
                f"(logit {expected[row, top_ort]:.6g})")


# state_dict keys as torchvision's checkpoints name them (Sequential indices included).
TORCHVISION_KEYS = {
    "mobilenet_v2": ["features.0.0.weight", "features.0.1.running_mean",
                     "features.1.conv.0.0.weight", "features.1.conv.1.weight",
                     "features.2.conv.0.0.weight", "features.2.conv.3.running_var",
                     "features.18.1.bias", "classifier.1.weight"],
    "mobilenet_v3_large": ["features.0.0.weight", "features.4.block.2.fc1.weight",
                           "features.4.block.2.fc2.bias", "features.4.block.3.1.running_var",
                           "features.16.0.weight", "classifier.0.weight", "classifier.3.bias"],
    "mobilenet_v3_small": ["features.1.block.0.0.weight", "features.1.block.1.fc1.bias",
                           "features.1.block.2.1.weight", "features.12.1.running_mean",
                           "classifier.3.weight"],
    "efficientnet_b0": ["features.0.0.weight", "features.1.0.block.0.0.weight",
                        "features.1.0.block.1.fc1.weight", "features.2.0.block.3.1.running_mean",
                        "features.6.3.block.2.fc2.bias", "features.8.0.weight",
                        "classifier.1.weight"],
    "mnasnet0_5": ["layers.0.weight", "layers.1.running_var", "layers.8.0.layers.0.weight",
                   "layers.13.0.layers.7.bias", "layers.14.weight", "layers.15.running_mean",
                   "classifier.1.weight"],
    "shufflenet_v2_x1_0": ["conv1.0.weight", "stage2.0.branch1.0.weight",
                           "stage2.0.branch1.3.running_var", "stage3.7.branch2.3.weight",
                           "stage4.3.branch2.6.weight", "conv5.1.bias", "fc.weight"],
    "squeezenet1_1": ["features.0.weight", "features.3.squeeze.weight",
                      "features.12.expand3x3.bias", "classifier.1.weight"],
    "regnet_y_400mf": ["stem.0.weight", "stem.1.running_mean",
                       "trunk_output.block1.block1-0.proj.0.weight",
                       "trunk_output.block1.block1-0.f.se.fc1.weight",
                       "trunk_output.block2.block2-2.f.b.0.weight",
                       "trunk_output.block4.block4-5.f.c.1.running_var", "fc.weight"],
    "googlenet": ["conv1.conv.weight", "conv1.bn.running_mean", "conv3.bn.bias",
                  "inception3a.branch2.1.conv.weight", "inception4e.branch3.0.bn.weight",
                  "inception5b.branch4.1.bn.running_var", "fc.weight"],
    "densenet121": ["features.conv0.weight", "features.norm0.running_mean",
                    "features.denseblock1.denselayer1.norm1.weight",
                    "features.denseblock4.denselayer16.conv2.weight",
                    "features.transition3.conv.weight", "features.norm5.running_var",
                    "classifier.bias"],
}

# Shapes that pin the layout down further (grouped/depthwise convs, SE widths, block widths).
TORCHVISION_SHAPES = {
    "mobilenet_v2": {"features.1.conv.0.0.weight": (32, 1, 3, 3),
                     "features.18.0.weight": (1280, 320, 1, 1)},
    "mobilenet_v3_large": {"features.4.block.2.fc1.weight": (24, 72, 1, 1),
                           "features.13.block.1.0.weight": (672, 1, 5, 5)},
    "efficientnet_b0": {"features.2.0.block.2.fc1.weight": (4, 96, 1, 1),
                        "features.8.0.weight": (1280, 320, 1, 1)},
    "regnet_y_400mf": {"trunk_output.block1.block1-0.f.b.0.weight": (48, 8, 3, 3),
                       "trunk_output.block4.block4-0.f.se.fc1.weight": (52, 440, 1, 1),
                       "fc.weight": (1000, 440)},
    "mnasnet0_5": {"layers.0.weight": (16, 3, 3, 3), "layers.14.weight": (1280, 160, 1, 1)},
    "shufflenet_v2_x1_0": {"stage2.0.branch2.0.weight": (58, 24, 1, 1)},
}


# The thread split: every depthwise kernel (row, flat, channel-block, staged), the banded
# inverted residuals and the GEMMs give an output the same sum whichever thread computes it.
# Networks whose depthwise layers take each kernel (MnasNet's 5x5 at 14x14 and 28x28, the
# staged one; MobileNetV2's banded blocks; EfficientNet-B0's SE path), at 1, 2 and 3 threads
# (3: bands, channel blocks and tiles that do not split evenly), batch 2 ((image, band) items).
@pytest.mark.parametrize("name", ["mnasnet1_0", "mobilenet_v2", "efficientnet_b0"])
def test_mobile_model_gives_the_same_outputs_at_1_2_and_3_threads(name, onnx_export):
    path = onnx_export(name, batch_dynamic=True)
    x = np.random.default_rng(INPUT_SEED).standard_normal((2, 3, 224, 224), dtype=np.float32)
    ref = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (expected,) = ref.run(None, {INPUT_NAME: x})
    outs = {}
    for threads in (1, 2, 3):
        sess = tinycnn.InferenceSession(str(path), session_options(intra_op_num_threads=threads))
        (got,) = sess.run(None, {INPUT_NAME: x})
        outs[threads] = np.asarray(got)
        err = np.abs(outs[threads] - expected).max() / np.abs(expected).max()
        assert err <= RTOL, (f"{name} at {threads} threads: max|tinycnn - ort| / max|ort| = "
                             f"{err:.3g} > {RTOL}")
    for threads in (2, 3):
        np.testing.assert_array_equal(outs[threads], outs[1],
                                      err_msg=f"{name}: {threads} threads against 1")


@pytest.mark.parametrize("name", sorted(TORCHVISION_KEYS))
def test_mobile_state_dict_follows_torchvision(name):
    with torch.device("meta"):
        state = models.MODELS[name]().state_dict()
    missing = [k for k in TORCHVISION_KEYS[name] if k not in state]
    assert not missing, f"{name}: state_dict lacks {missing}"
    for key, shape in TORCHVISION_SHAPES.get(name, {}).items():
        assert tuple(state[key].shape) == shape, f"{name}: {key} {tuple(state[key].shape)} != {shape}"


def test_googlenet_aux_classifiers_are_optional_and_never_run_in_eval():
    with torch.device("meta"):
        with_aux = models.MODELS["googlenet"](aux_logits=True)
    # torchvision's count with the two auxiliary classifiers (a training checkpoint's layout)
    assert models.count_parameters(with_aux) == 13_004_888
    assert "aux1.fc2.weight" in with_aux.state_dict()
    model = models.build("googlenet", aux_logits=True)
    out = model(torch.zeros(1, 3, 64, 64))
    assert isinstance(out, torch.Tensor) and out.shape == (1, 1000)


def test_view_flatten_is_refused_by_models_that_pool_with_mean():
    for name in ("mnasnet0_5", "shufflenet_v2_x1_0"):
        with pytest.raises(ValueError, match="mean"):
            models.build(name, flatten="view", init=False)


@pytest.mark.parametrize("name", MOBILE)
def test_init_randomises_batchnorm_and_keeps_activations_in_range(name):
    """The calibrated init gives every network non-trivial BatchNorms (so folding is tested),
    SE gates spread over (0, 1) rather than saturated, and no exploding activations."""
    model = models.build(name, seed=0)
    for key, bn in model.named_modules():
        if isinstance(bn, nn.BatchNorm2d):
            assert bn.running_mean.abs().max() > 0.01 and (bn.running_var - 1).abs().max() > 0.01, key
            assert (bn.weight - 1).abs().max() > 0.01 and bn.bias.abs().max() > 0.01, key
    gates, peaks = [], {}
    hooks = []
    for key, m in model.named_modules():
        if isinstance(m, (nn.Sigmoid, nn.Hardsigmoid)) and key.endswith("scale_activation"):
            hooks.append(m.register_forward_hook(lambda mod, i, o: gates.append(o.flatten())))
        if isinstance(m, (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU, nn.Conv2d)):
            hooks.append(m.register_forward_hook(
                lambda mod, i, o, key=key: peaks.__setitem__(key, float(o.abs().max()))))
    x = torch.from_numpy(np.random.default_rng(INPUT_SEED).standard_normal(
        (2, 3, 224, 224), dtype=np.float32))
    with torch.no_grad():
        logits = model(x)
    for h in hooks:
        h.remove()
    assert torch.isfinite(logits).all() and logits.std() > 0.01
    worst = max(peaks, key=peaks.get)
    assert peaks[worst] < 1e3, f"{name}: activation of {worst} reaches {peaks[worst]:.3g}"
    if gates:
        g = torch.cat(gates)
        assert 0.1 < g.mean() < 0.9 and g.std() > 0.05, \
            f"{name}: SE gates mean {g.mean():.3f} std {g.std():.3f}"
        assert ((g > 0.01) & (g < 0.99)).float().mean() > 0.5, f"{name}: SE gates saturate"
