"""`tinycnn verify`: against onnxruntime live or against saved outputs (without onnxruntime),
inputs from files, every layer, and the first divergence found window by window."""
import dataclasses
import json
import re
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

from tinycnn.cli import models
from tinycnn.cli.verify import compare, windows

from helpers import DIGIT_SAMPLES, make_model, ort_run, run_cli

import onnxruntime  # noqa: F401  (a test extra: missing means a broken install)
MODEL = models.DIGITS_MODEL


class _Perturbed:
    """A tinycnn session whose copy of one tensor is nudged: what a kernel bug looks like."""

    def __init__(self, sess, tensor, delta):
        self.sess, self.tensor, self.delta = sess, tensor, delta

    def run(self, names, feeds):
        outs = self.sess.run(names, feeds)
        names = names or [o.name for o in self.sess.get_outputs()]
        return [o + self.delta if n == self.tensor else o for n, o in zip(names, outs)]


# ---- verify ----

def test_compare_numbers():
    ref = np.array([1.0, -2.0, 0.0, 100.0], np.float32)
    ours = ref + np.array([1e-5, 0.0, 2e-5, 0.05], np.float32)
    row = compare(ours, ref, atol=1e-4, rtol=1e-4)
    assert not row["ok"]
    assert row["max_abs"] == pytest.approx(0.05, rel=1e-3)
    assert row["need_rtol"] == pytest.approx((0.05 - 1e-4) / 100.0, rel=1e-2)
    assert row["need_atol"] == pytest.approx(0.05 - 1e-4 * 100.0, rel=1e-2)
    assert compare(ours, ref, atol=1e-4, rtol=row["need_rtol"] * 1.01)["ok"]
    nan = compare(np.array([np.nan, 1.0]), np.array([0.5, 1.0]), 1e-4, 1e-4)
    assert not nan["ok"] and "NaN" in nan["note"]


def test_verify_good_model(capsys):
    code, out, err = run_cli(capsys, "verify", MODEL)
    assert code == 0, out + err
    assert "all 1 tensors within tolerance" in out
    assert re.search(r"top-5\s+agree", out), out


def test_verify_all_layers_json(capsys):
    code, out, err = run_cli(capsys, "verify", MODEL, "--all-layers", "--json", "--input-shape", "3,1,8,8")
    assert code == 0, err
    report = json.loads(out)
    ops = [t["op"] for t in report["tensors"]]
    assert ops.count("Conv") == 6 and ops[-1] == "Gemm", ops
    assert all(t["ok"] and t["max_abs"] < 1e-4 for t in report["tensors"])
    assert report["first_divergence"] is None and report["top5"]["tinycnn"] == report["top5"]["onnxruntime"]


def test_verify_reports_first_divergence(capsys, monkeypatch, tmp_path):
    import onnx

    model = onnx.load(MODEL)
    conv3 = [n for n in model.graph.node if n.op_type == "Conv"][2]
    real = models.tinycnn_session
    monkeypatch.setattr(models, "tinycnn_session",
                        lambda *a, **k: _Perturbed(real(*a, **k), conv3.output[0], 1e-2))
    x = np.random.default_rng(1).random((1, 8, 8), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    code, out, err = run_cli(capsys, "verify", MODEL, "--all-layers", "--input", tmp_path / "x.npy")
    assert code == 1, out + err
    assert f"first divergence at node {conv3.name} (Conv)" in out, out
    row = next(line for line in out.splitlines() if line.startswith(conv3.name + " "))
    assert "FAIL" in row and "1.00e-02" in row, row


def test_verify_tiny_tolerance_and_image_input(capsys):
    sample = str(DIGIT_SAMPLES / "digit_5.png")
    code, out, err = run_cli(capsys, "verify", MODEL, "--input", sample)
    assert code == 0, out + err
    code, out, err = run_cli(capsys, "verify", MODEL, "--input", sample, "--atol", "0", "--rtol", "0", "--json")
    report = json.loads(out)
    exact = all(t["max_abs"] == 0 for t in report["tensors"])
    assert code == (0 if exact else 1)


def test_verify_without_onnxruntime(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    code, out, err = run_cli(capsys, "verify", MODEL)
    assert code == 2
    assert err.strip() == ("tinycnn: error: this needs onnxruntime: pip install tinycnn[verify] "
                           "(or compare with saved outputs: --load-outputs FILE.npz)")


def test_verify_bad_npy(capsys, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((2, 3, 4), np.float32))
    code, out, err = run_cli(capsys, "verify", MODEL, "--input", tmp_path / "wrong.npy")
    assert code == 2 and "wrong.npy" in err and len(err.strip().splitlines()) == 1


# ---- saved references: --save-outputs, --load-outputs (no onnxruntime needed) ----

def _no_onnxruntime(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # any import of it fails


def test_save_then_load_without_onnxruntime(capsys, monkeypatch, tmp_path):
    ref = tmp_path / "ref.npz"
    code, out, err = run_cli(capsys, "verify", MODEL, "--input-shape", "2,1,8,8", "--save-outputs", ref)
    assert code == 0, out + err
    saved = np.load(ref)
    assert sorted(saved.files) == ["image", "logits"]
    assert saved["image"].shape == (2, 1, 8, 8) and saved["image"].dtype == np.float32
    np.testing.assert_array_equal(saved["logits"], ort_run(MODEL, {"image": saved["image"]})[0])

    _no_onnxruntime(monkeypatch)
    code, out, err = run_cli(capsys, "verify", MODEL, "--load-outputs", ref)
    assert code == 0, out + err
    assert f"inputs       image 2x1x8x8 (from {ref})" in out
    assert f"reference    {ref}" in out and "all 1 tensors within tolerance" in out
    assert "|tinycnn - reference| <= atol + rtol * |reference|" in out
    assert re.search(r"top-5\s+agree: tinycnn \[.*\], reference \[", out), out


def test_load_outputs_finds_a_difference(capsys, monkeypatch, tmp_path):
    x = np.random.default_rng(3).standard_normal((1, 1, 8, 8)).astype(np.float32)
    (logits,) = ort_run(MODEL, {"image": x})
    logits[0, 4] += 0.5
    np.savez(tmp_path / "off.npz", image=x, logits=logits)
    _no_onnxruntime(monkeypatch)
    code, out, err = run_cli(capsys, "verify", MODEL, "--load-outputs", tmp_path / "off.npz", "--json")
    assert code == 1, err
    report = json.loads(out)
    (row,) = report["tensors"]
    assert report["reference"] == str(tmp_path / "off.npz") and not report["ok"]
    assert row["tensor"] == "logits" and row["max_abs"] == pytest.approx(0.5, rel=1e-3)
    assert report["first_divergence"] == {"node": "/7/Gemm", "op": "Gemm", "tensor": "logits"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy exporter, on purpose: opset 13
def test_load_outputs_from_pytorch(capsys, monkeypatch, tmp_path):
    """A reference computed by PyTorch itself, outputs only, with the input given apart."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(8, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 2 * 2, 5)).eval()
    x = torch.randn(1, 3, 8, 8)
    path = tmp_path / "net.onnx"
    torch.onnx.export(net, (x,), path, dynamo=False, opset_version=13, input_names=["x"], output_names=["y"])
    with torch.no_grad():
        y = net(x).numpy()
    np.save(tmp_path / "x.npy", x.numpy())
    np.savez(tmp_path / "torch.npz", y=y)
    _no_onnxruntime(monkeypatch)
    code, out, err = run_cli(capsys, "verify", path, "--input", tmp_path / "x.npy", "--load-outputs",
                             tmp_path / "torch.npz", "--json")
    assert code == 0, out + err
    assert json.loads(out)["tensors"][0]["max_abs"] < 1e-4


def test_load_outputs_errors(capsys, tmp_path):
    np.savez(tmp_path / "wrong.npz", scores=np.zeros((1, 10), np.float32))
    code, out, err = run_cli(capsys, "verify", MODEL, "--load-outputs", tmp_path / "wrong.npz")
    assert code == 2
    assert err.strip() == f"tinycnn: error: --load-outputs {tmp_path / 'wrong.npz'}: no tensor 'logits' (it holds scores)"
    np.savez(tmp_path / "with_input.npz", image=np.zeros((1, 1, 8, 8), np.float32), logits=np.zeros((1, 10), np.float32))
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
    code, out, err = run_cli(capsys, "verify", MODEL, "--load-outputs", tmp_path / "with_input.npz",
                             "--input", tmp_path / "x.npy")
    assert code == 2 and "holds the inputs its outputs were computed from; drop --input" in err
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really")
    code, out, err = run_cli(capsys, "verify", MODEL, "--load-outputs", tmp_path / "junk.npz")
    assert code == 2 and "junk.npz: not an .npz of arrays" in err
    code, out, err = run_cli(capsys, "verify", MODEL, "--load-outputs", tmp_path / "a.npz", "--save-outputs",
                             tmp_path / "b.npz")
    assert code == 2 and "not allowed with argument" in err
    code, out, err = run_cli(capsys, "verify", MODEL, "--save-outputs", tmp_path / "b.npy")
    assert code == 2 and "the file name must end in .npz" in err


def test_all_layers_saved_and_loaded(capsys, monkeypatch, tmp_path):
    ref = tmp_path / "layers.npz"
    code, out, err = run_cli(capsys, "verify", MODEL, "--all-layers", "--save-outputs", ref, "--json")
    assert code == 0, err
    compared = [t["tensor"] for t in json.loads(out)["tensors"]]
    assert len(compared) == 16 and set(np.load(ref).files) == set(compared) | {"image"}
    _no_onnxruntime(monkeypatch)
    code, out, err = run_cli(capsys, "verify", MODEL, "--all-layers", "--load-outputs", ref, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [t["tensor"] for t in report["tensors"]] == compared and report["not_in_reference"] == 0


# ---- --input FILE.npz: models with several inputs ----

def _two_input_model(path):
    """a[N, 3, 8, 8] and b[N, 3] -> Conv(a) + b (broadcast over H, W) -> y."""
    w = np.random.default_rng(0).standard_normal((3, 3, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["a", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Unsqueeze", ["b", "axes"], ["b4"], name="unsq"),
             helper.make_node("Add", ["c", "b4"], ["y"], name="add")]
    model = make_model(nodes, [("a", ["N", 3, 8, 8]), ("b", ["N", 3])], [("y", ["N", 3, 8, 8])],
                       {"w": w, "axes": np.array([2, 3], np.int64)})
    onnx.save(model, path)
    return str(path)


def test_input_npz_for_several_inputs(capsys, tmp_path):
    model = _two_input_model(tmp_path / "two.onnx")
    rng = np.random.default_rng(1)
    feeds = {"a": rng.standard_normal((2, 3, 8, 8)).astype(np.float32),
             "b": rng.standard_normal((2, 3)).astype(np.float32)}
    np.savez(tmp_path / "in.npz", **feeds)
    ref = tmp_path / "ref.npz"
    code, out, err = run_cli(capsys, "verify", model, "--input", tmp_path / "in.npz", "--all-layers",
                             "--save-outputs", ref)
    assert code == 0, out + err
    assert "inputs       a 2x3x8x8, b 2x3\n" in out
    saved = np.load(ref)
    np.testing.assert_array_equal(saved["a"], feeds["a"])
    np.testing.assert_allclose(saved["y"], ort_run(model, feeds)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arrays,message", [
    ({"a": np.zeros((1, 3, 8, 8), np.float32)}, "missing input(s) ['b'] (the model's inputs: a, b)"),
    ({"a": np.zeros((1, 3, 8, 8), np.float32), "b": np.zeros((1, 3), np.float32), "c": np.zeros(1)},
     "no input named ['c'] (the model's inputs: a, b)"),
    ({"a": np.zeros((1, 3, 9, 8), np.float32), "b": np.zeros((1, 3), np.float32)},
     "input 'a' has shape [1, 3, 9, 8], the model declares ['N', 3, 8, 8]"),
    ({"a": np.zeros((1, 3, 8, 8), np.float32), "b": np.zeros((1, 3, 1), np.float32)},
     "input 'b' has shape [1, 3, 1], the model declares ['N', 3]"),
    ({"a": np.zeros((1, 3, 8, 8)), "b": np.zeros((1, 3), np.float32)},
     "input 'a' is float64, the model takes float32"),
])
def test_input_npz_errors(capsys, tmp_path, arrays, message):
    model = _two_input_model(tmp_path / "two.onnx")
    np.savez(tmp_path / "in.npz", **arrays)
    code, out, err = run_cli(capsys, "verify", model, "--input", tmp_path / "in.npz")
    assert code == 2
    assert err.strip() == f"tinycnn: error: {tmp_path / 'in.npz'}: {message}"


# ---- --first-divergence ----

BROKEN = "/3/Relu"  # the ReLU inside the first residual block of the digits model


@pytest.fixture
def broken_relu():
    """tinycnn's Relu kernel made to add 0.01 at one node: the difference flows on downstream,
    as a real kernel bug's would."""
    from tinycnn import _kernels, ops

    defs = ops._TABLE[("", "Relu")]
    real = defs[0]

    def Relu(n, X):
        if n.node.name != BROKEN:
            return real.fn(n, X)
        ctx = n.ctx

        def run(x, y):
            _kernels.unary(ctx, "relu", x, y, 0.0, 0.0)
            y += np.float32(0.01)
        return n.emit(run, [X], [(X.shape, np.float32)])
    defs[0] = dataclasses.replace(real, fn=Relu)
    try:
        yield
    finally:
        defs[0] = real


def test_windows_cut_in_order():
    tensors = {"a": (np.float32, 40), "b": (np.float32, 30), "c": (np.float32, 100), "d": (np.float32, 10)}
    assert windows(tensors, 70) == [["a", "b"], ["c"], ["d"]]
    assert windows(tensors, 1000) == [["a", "b", "c", "d"]]


def test_first_divergence_finds_the_injected_node(capsys, broken_relu):
    code, out, err = run_cli(capsys, "verify", MODEL, "--all-layers", "--json")
    assert code == 1
    every = json.loads(out)
    order = [t["tensor"] for t in every["tensors"]]
    assert every["first_divergence"]["node"] == BROKEN
    assert sum(not t["ok"] for t in every["tensors"]) > 3, "the difference should flow downstream"

    # Windows of 5 kB: the digits model's first tensors (16x8x8 float32, 4 kB) one per run.
    code, out, err = run_cli(capsys, "verify", MODEL, "--first-divergence", "--window-mb", "0.005", "--json")
    assert code == 1, err
    report = json.loads(out)
    assert report["first_divergence"] == every["first_divergence"]
    first = order.index(every["first_divergence"]["tensor"])
    rows = report["tensors"]
    assert [t["tensor"] for t in rows] == order[:first + 1], "stops at the first difference"
    assert all(t["ok"] for t in rows[:first]) and not rows[first]["ok"]
    assert report["search"] == {"runs": first + 1, "largest_window_bytes": 16 * 8 * 8 * 4,
                                "window_limit_bytes": 5000}

    # One window (the default 256 MB) finds the same node in one run.
    code, out, err = run_cli(capsys, "verify", MODEL, "--first-divergence")
    assert code == 1
    assert f"first divergence at node {BROKEN} (Relu)" in out
    assert re.search(r"search\s+\d+ tensors compared in 1 run\(s\) of both engines", out), out


def test_first_divergence_against_a_saved_reference(capsys, monkeypatch, broken_relu, tmp_path):
    ref = tmp_path / "layers.npz"
    code, out, err = run_cli(capsys, "verify", MODEL, "--all-layers", "--save-outputs", ref, "--seed", "7")
    assert code == 1  # tinycnn is broken, onnxruntime's tensors are saved all the same
    _no_onnxruntime(monkeypatch)
    code, out, err = run_cli(capsys, "verify", MODEL, "--first-divergence", "--window-mb", "0.005",
                             "--load-outputs", ref, "--json")
    assert code == 1, err
    assert json.loads(out)["first_divergence"]["node"] == BROKEN


def test_first_divergence_clean_model(capsys):
    code, out, err = run_cli(capsys, "verify", MODEL, "--first-divergence", "--window-mb", "0.01", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] and len(report["tensors"]) == 16 and report["search"]["runs"] > 1
    assert report["top5"]["tinycnn"] == report["top5"]["onnxruntime"]
    code, out, err = run_cli(capsys, "verify", MODEL, "--first-divergence", "--save-outputs", "x.npz")
    assert code == 2 and "--save-outputs with --first-divergence" in err
