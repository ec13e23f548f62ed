"""`tinycnn bench` and `profile` on the bundled digits model: exit codes and numbers."""
import json
import re

import numpy as np
import pytest

from tinycnn.cli import models

from helpers import run_cli

MODEL = models.DIGITS_MODEL


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
    records = [{"node": "/0/Conv", "op": "ToChannelsLast", "seconds": 0.0005},
               {"node": "/0/Conv", "op": "Conv+Relu", "seconds": 0.0015},
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
    # the input's layout conversion counts in its node, which keeps its own op's name
    assert nodes[1]["op"] == "Conv+Relu"


def test_profile_real(capsys):
    code, out, err = run_cli(capsys, "profile", MODEL, "--runs", "2", "--json")
    assert code == 0, err
    nodes = json.loads(out)["nodes"]
    assert nodes and abs(sum(n["share"] for n in nodes) - 1.0) < 1e-6
    times = [n["ms"] for n in nodes]
    assert times == sorted(times, reverse=True)
