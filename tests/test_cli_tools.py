"""`tinycnn verify`, `bench` and `profile` on the bundled digits model: exit codes and numbers."""
import json
import os
import re
import sys

import numpy as np
import pytest

import tinycnn
from tinycnn import cli
from tinycnn.cli import models
from tinycnn.cli.verify import compare

import onnxruntime  # noqa: F401  (a test extra: missing means a broken install)
MODEL = models.DIGITS_MODEL





def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


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
    sample = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "models", "digits", "samples", "digit_5.png")
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
    assert err.strip() == "tinycnn: error: this needs onnxruntime: pip install tinycnn[verify]"


def test_verify_bad_npy(capsys, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((2, 3, 4), np.float32))
    code, out, err = run_cli(capsys, "verify", MODEL, "--input", tmp_path / "wrong.npy")
    assert code == 2 and "wrong.npy" in err and len(err.strip().splitlines()) == 1


# ---- bench ----

def test_bench_numbers_parse(capsys):
    code, out, err = run_cli(capsys, "bench", MODEL, "--seconds", "0.2", "--batch", "4", "--vs", "onnxruntime")
    assert code == 0, err
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(tinycnn|onnxruntime)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)$", line)
        if m:
            rows[m.group(1)] = [float(g) for g in m.groups()[1:]]
    assert set(rows) == {"tinycnn", "onnxruntime"}, out
    for name, (median, p90, per_s, gflops, runs) in rows.items():
        assert 0 < median <= p90 and runs >= 5, (name, rows[name])
        assert per_s == pytest.approx(4 / (median / 1e3), rel=0.01)
        assert gflops == pytest.approx(2 * 533_824 * 4 / (median / 1e3) / 1e9, rel=0.05)
    ratio = float(re.search(r"median time = ([\d.]+)", out).group(1))
    assert ratio == pytest.approx(rows["tinycnn"][0] / rows["onnxruntime"][0], rel=0.01)


def test_bench_json(capsys):
    code, out, err = run_cli(capsys, "bench", MODEL, "--seconds", "0.1", "--json", "--threads", "1")
    assert code == 0, err
    report = json.loads(out)
    stats = report["engines"]["tinycnn"]
    assert report["macs_per_image"] == 533_824 and stats["runs"] >= 5 and stats["median_ms"] > 0


# ---- profile (a fake session here: the numbers are the CLI's arithmetic) ----

class _FakeProfiled:
    records = [{"node": "/0/Conv", "op": "Conv+Relu", "seconds": 0.002},
               {"node": "/3/conv1/Conv", "op": "Conv+Relu", "seconds": 0.004},
               {"node": "/3/Add", "op": "Add+Relu", "seconds": 0.001},
               {"node": "/7/Gemm", "op": "Gemm", "seconds": 0.001}]

    def run_profiled(self, feeds):
        return [np.zeros((1, 10), np.float32)], [dict(r) for r in self.records]


def test_profile_sorted_with_shares_and_gflops(capsys, monkeypatch):
    monkeypatch.setattr(models, "tinycnn_session", lambda *a, **k: _FakeProfiled())
    code, out, err = run_cli(capsys, "profile", MODEL, "--runs", "3", "--json")
    assert code == 0, err
    nodes = json.loads(out)["nodes"]
    assert [n["node"] for n in nodes] == ["/3/conv1/Conv", "/0/Conv", "/3/Add", "/7/Gemm"]
    assert [round(n["share"], 6) for n in nodes] == [0.5, 0.25, 0.125, 0.125]
    # conv1 of the first residual block: 16*16*9*8*8 = 147,456 MACs in 4 ms.
    assert nodes[0]["gflops"] == pytest.approx(2 * 147_456 / 0.004 / 1e9)
    assert nodes[2]["gflops"] is None
    code, out, err = run_cli(capsys, "profile", MODEL, "--runs", "2")
    assert code == 0
    first = out.splitlines()[1].split()
    assert first[:4] == ["/3/conv1/Conv", "Conv+Relu", "4.000", "50.0%"], out


def test_profile_real(capsys):
    code, out, err = run_cli(capsys, "profile", MODEL, "--runs", "2", "--json")
    assert code == 0, err
    nodes = json.loads(out)["nodes"]
    assert nodes and abs(sum(n["share"] for n in nodes) - 1.0) < 1e-6
    times = [n["ms"] for n in nodes]
    assert times == sorted(times, reverse=True)
