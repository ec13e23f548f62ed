"""Whole networks: tinycnn against onnxruntime on exports of the model zoo (models/).

Every case exports one model (cached per session by the ``onnx_export`` fixture), opens
it once in tinycnn and once in onnxruntime, and runs the same N(0, 1) input (fixed seed)
at batch 1 and batch 2 through both sessions (batch-dynamic exports, one session per
runtime).  Every output must satisfy max|tinycnn - ort| / max|ort| <= 1e-4, and every
batch row must have the same top-1 class.

The matrix (exports dominate the cost, so it is trimmed to what adds coverage):

- every classic model (AlexNet, VGG, ResNet) once: legacy exporter, opset 13, batch norm
  folded, torch.flatten;
- resnet18, alexnet and vgg11_bn additionally at opsets 9, 11 and 17, each export
  varying batch-norm folding (folded / BatchNormalization kept) and the flatten idiom
  (Flatten / the Shape-Gather-Unsqueeze-Concat-Reshape chain of ``x.view``), so that
  both settings of both switches meet several opsets;
- the dynamo exporter (opset 18, weights in ``.onnx.data``) on resnet18 (twice:
  BN folded by its optimizer, and kept), alexnet and vgg11;
- one static-batch export (batch 1 only): its ``view`` flatten is a constant Reshape.

Only resnet18 and alexnet at opset 13 are in the fast tier (``-m "not slow"``): the other
cases are marked ``slow`` (each costs an export; all of them run in the full suite and CI).
The terminal summary lists the time of every export and every run.
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
from models.export import INPUT_NAME, OUTPUT_NAME
import tinycnn

REPO_ROOT = pathlib.Path(models.__file__).resolve().parent.parent
RTOL = 1e-4
INPUT_SEED = 1234
# AlexNet, VGG and ResNet; the mobile networks and issue 13's families have their own files
# (test_models_mobile.py, test_models_dense*.py).
CLASSIC_MODELS = [name for name in models.MODELS if name not in models.MOBILE_MODELS
                  and name not in models.DENSE_MODELS and name != "convnext_tiny"]
BN_MODELS = {name for name in CLASSIC_MODELS if "resnet" in name or name.endswith("_bn")}

Case = collections.namedtuple(
    "Case", "name opset dynamo fold_bn flatten batch_dynamic",
    defaults=(13, False, True, "flatten", True))


def _case_id(c):
    parts = [c.name, f"{'dynamo' if c.dynamo else 'op'}{c.opset}"]
    if c.name in BN_MODELS:
        parts.append("bnfold" if c.fold_bn else "bnkeep")
    parts.append(c.flatten)
    if not c.batch_dynamic:
        parts.append("static")
    return "-".join(parts)


CASES = (
    [Case(name) for name in CLASSIC_MODELS]
    + [
        Case("resnet18", opset=9, fold_bn=False, flatten="view"),
        Case("resnet18", opset=11, flatten="view"),
        Case("resnet18", opset=17, fold_bn=False),
        Case("alexnet", opset=9, flatten="view"),
        Case("alexnet", opset=11),
        Case("alexnet", opset=17, flatten="view"),
        Case("vgg11_bn", opset=9, fold_bn=False),
        Case("vgg11_bn", opset=11, flatten="view"),
        Case("vgg11_bn", opset=17, fold_bn=False, flatten="view"),
        Case("resnet18", opset=18, dynamo=True),
        Case("resnet18", opset=18, dynamo=True, fold_bn=False, flatten="view"),
        Case("alexnet", opset=18, dynamo=True),
        Case("vgg11", opset=18, dynamo=True, flatten="view"),
        Case("resnet18", opset=11, flatten="view", batch_dynamic=False),
    ]
)


# The fast tier's networks: a ResNet (batch norm folded, residual Add+Relu, 1x1 and 3x3/2 convs,
# Winograd) and AlexNet (11x11/4 and 5x5 convs, big Gemms), legacy exporter at opset 13.
FAST_CASES = {Case("resnet18"), Case("alexnet")}


def _params(cases):
    params = []
    for c in cases:
        marks = [] if c in FAST_CASES else [pytest.mark.slow]
        params.append(pytest.param(c, id=_case_id(c), marks=marks))
    return params


def _export(onnx_export, case):
    return onnx_export(case.name, opset=case.opset, dynamo=case.dynamo, fold_bn=case.fold_bn,
                       flatten=case.flatten, batch_dynamic=case.batch_dynamic)


def _input(batch):
    rng = np.random.default_rng(INPUT_SEED)
    return rng.standard_normal((2, 3, 224, 224), dtype=np.float32)[:batch]


def _check_graph(case, path):
    """The export really has the features this case is meant to cover."""
    proto = onnx.load(str(path), load_external_data=False)
    ops = collections.Counter(node.op_type for node in proto.graph.node)
    opset = {o.domain: o.version for o in proto.opset_import}.get("", None)
    assert opset == case.opset, f"{path.name}: opset {opset}, wanted {case.opset}"
    if case.name in BN_MODELS:
        has_bn = ops["BatchNormalization"] > 0
        assert has_bn != case.fold_bn, f"{path.name}: fold_bn={case.fold_bn} but ops {dict(ops)}"
    else:
        assert ops["BatchNormalization"] == 0
    if not case.dynamo:
        if case.flatten == "flatten":
            assert ops["Flatten"] == 1, f"{path.name}: no Flatten in {dict(ops)}"
        elif case.batch_dynamic:
            assert ops["Shape"] == 1 and ops["Reshape"] == 1, f"{path.name}: ops {dict(ops)}"
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert (batch_dim.dim_param != "") == case.batch_dynamic, f"{path.name}: batch dim {batch_dim}"
    if case.dynamo:
        data = path.with_name(path.name + ".data")
        assert data.is_file(), f"{path.name}: external data file {data.name} is missing"
        external = [t for t in proto.graph.initializer
                    if t.data_location == onnx.TensorProto.EXTERNAL]
        assert external, f"{path.name}: no initializer stored as external data"
        assert {e.value for t in external for e in t.external_data if e.key == "location"} \
            == {data.name}


@pytest.mark.parametrize("case", _params(CASES))
def test_model_matches_onnxruntime(case, onnx_export, timed):
    path = _export(onnx_export, case)
    _check_graph(case, path)
    label = _case_id(case)

    with timed(f"onnxruntime session {label}"):
        ref = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with timed(f"tinycnn session     {label}"):
        sess = tinycnn.InferenceSession(str(path))

    assert [i.name for i in sess.get_inputs()] == [INPUT_NAME]
    assert [o.name for o in sess.get_outputs()] == [o.name for o in ref.get_outputs()]

    for batch in ((1, 2) if case.batch_dynamic else (1,)):
        x = _input(batch)
        with timed(f"onnxruntime run b{batch}  {label}"):
            expected = ref.run(None, {INPUT_NAME: x})
        with timed(f"tinycnn run b{batch}      {label}"):
            got = sess.run(None, {INPUT_NAME: x})

        assert len(got) == len(expected), f"{label}: {len(got)} outputs, wanted {len(expected)}"
        for out, g, e in zip(ref.get_outputs(), got, expected):
            g = np.asarray(g)
            assert g.shape == e.shape, f"{label} batch {batch}: output {out.name} has shape {g.shape}, onnxruntime {e.shape}"
            err = np.abs(g - e).max() / np.abs(e).max()
            assert err <= RTOL, (f"{label} batch {batch}: output {out.name} {e.shape}: "
                                 f"max|tinycnn - ort| / max|ort| = {err:.3g} > {RTOL}")
        logits_got, logits_ort = np.asarray(got[0]), expected[0]
        for row in range(batch):
            top_ort, top_got = logits_ort[row].argmax(), logits_got[row].argmax()
            assert top_got == top_ort, (
                f"{label} batch {batch} row {row}: top-1 {top_got} "
                f"(ort logit {logits_ort[row, top_got]:.6g}), onnxruntime {top_ort} "
                f"(logit {logits_ort[row, top_ort]:.6g})")


@pytest.mark.parametrize("name", sorted(models.PARAM_COUNTS))
def test_parameter_counts_match_torchvision(name):
    with torch.device("meta"):
        model = models.MODELS[name]()
    assert models.count_parameters(model) == models.PARAM_COUNTS[name]


# A few state_dict keys as torchvision names them (VGG indices count ReLU/pool/BN too).
TORCHVISION_KEYS = {
    "alexnet": ["features.0.weight", "features.10.bias", "classifier.1.weight", "classifier.6.bias"],
    "vgg11": ["features.0.weight", "features.18.bias", "classifier.0.weight", "classifier.6.bias"],
    "vgg16_bn": ["features.1.running_mean", "features.40.weight", "features.41.running_var",
                 "classifier.6.weight"],
    "vgg19": ["features.34.weight", "classifier.3.weight"],
    "resnet18": ["conv1.weight", "bn1.num_batches_tracked", "layer2.0.downsample.0.weight",
                 "layer2.0.downsample.1.running_var", "layer4.1.bn2.bias", "fc.weight"],
    "resnet50": ["layer1.0.downsample.0.weight", "layer4.2.conv3.weight", "layer4.2.bn3.running_mean"],
    "resnet101": ["layer3.22.conv2.weight"],
}


@pytest.mark.parametrize("name", sorted(TORCHVISION_KEYS))
def test_state_dict_keys_follow_torchvision(name):
    with torch.device("meta"):
        keys = models.MODELS[name]().state_dict().keys()
    missing = [k for k in TORCHVISION_KEYS[name] if k not in keys]
    assert not missing, f"{name}: state_dict lacks {missing}"


@pytest.mark.slow  # three ResNet-18 builds
def test_init_is_deterministic_and_folds_nontrivial_batchnorm():
    a, b = models.build("resnet18", seed=3), models.build("resnet18", seed=3)
    for (key, ta), tb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(ta, tb), f"{key} differs between two builds with seed 3"
    c = models.build("resnet18", seed=4)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)
    bn = a.layer1[0].bn1
    assert bn.running_mean.abs().max() > 0.01 and (bn.running_var - 1).abs().max() > 0.01
    assert (bn.weight - 1).abs().max() > 0.01 and bn.bias.abs().max() > 0.01


@pytest.mark.slow  # one more export, in a subprocess
def test_export_cli_writes_checkable_model(tmp_path):
    out = tmp_path / "resnet18.onnx"
    subprocess.run(
        [sys.executable, "-m", "models.export", "resnet18", "--opset", "11", "--size", "64",
         "--no-fold-bn", "--flatten", "view", "-o", str(out)],
        cwd=REPO_ROOT, check=True, capture_output=True, text=True)
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    ops = {node.op_type for node in proto.graph.node}
    assert "BatchNormalization" in ops and "Reshape" in ops
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 64, 64]


@pytest.mark.slow  # a subprocess that imports torch
def test_export_cli_rejects_dynamo_below_opset_18(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "models.export", "alexnet", "--dynamo", "--opset", "13",
         "-o", str(tmp_path / "x.onnx")],
        cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode != 0 and "opset" in result.stderr
