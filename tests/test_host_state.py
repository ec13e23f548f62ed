"""benchmarks/host_state.py: its rank correlation, the grouping of both engines' steps by
convolution kind, onnxruntime's per-round node times, and the split table on synthetic rounds
(the measurement itself needs the models: not run here)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import host_state  # noqa: E402

A, O = host_state.AVX2, host_state.ORT


def test_spearman():
    assert host_state.spearman([1, 2], [2, 1]) is None
    assert host_state.spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert host_state.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert host_state.spearman([1, 1, 1], [1, 2, 3]) is None          # no spread: no correlation
    # ties take their average rank: ranks x [0.5, 0.5, 2], y [0, 1, 2]
    assert host_state.spearman([5, 5, 9], [1, 2, 3]) == pytest.approx(0.8660254, abs=1e-6)


def test_step_and_node_kinds():
    kinds = {"/layer1/conv2/Conv": "conv 3x3", "/conv1/Conv": "conv 7x7 s2"}
    assert host_state.step_kind("QLinearConv|/layer1/conv2/Conv", kinds) == "conv 3x3"
    assert host_state.step_kind("QLinearConv+QLinearAdd|/layer1/conv2/Conv", kinds) == "conv 3x3"
    assert host_state.step_kind("ToChannelsLast|/conv1/Conv", kinds) == "ToChannelsLast"
    assert host_state.step_kind("QLinearConv|/unknown/Conv", kinds) == "QLinearConv"
    assert host_state.ort_kind("/conv1/Conv_token_1", kinds) == "conv 7x7 s2"
    assert host_state.ort_kind("/layer1/conv2/Conv_token_11", kinds) == "conv 3x3"
    assert host_state.ort_kind("/layer1/layer1.0/Add", kinds) == "Add"
    assert host_state.ort_kind("Transpose", kinds) == "other"


def test_conv_kinds_from_a_model(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [4, 3, 3, 3], [0.0] * 108)
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [4, 4, 1, 1], [0.0] * 16)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w1"], ["h"], name="c3", kernel_shape=[3, 3],
                                            strides=[2, 2], pads=[1, 1, 1, 1]),
                           helper.make_node("Conv", ["h", "w2"], ["y"], name="c1", kernel_shape=[1, 1]),
                           helper.make_node("Relu", ["y"], ["z"], name="r")],
                          "g", [x], [y], [w1, w2])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g), str(path))
    assert host_state.conv_kinds(path) == {"c3": "conv 3x3 s2", "c1": "conv 1x1"}


def _rounds():
    """8 rounds: 4 fast (probes 80, tinycnn 50 ms, onnxruntime 60), 4 slow (probes 60 / l2 halved,
    tinycnn 75, onnxruntime 72)"""
    out = []
    for i in range(8):
        slow = i % 2 == 1
        out.append({"probe": {"fma": 60.0 if slow else 80.0 + i, "madd": 50.0, "l1": 100.0,
                              "l2": 45.0 if slow else 90.0, "big": 10.0},
                    "ms": {A: [75.0 if slow else 50.0] * 2, O: [72.0 if slow else 60.0] * 2},
                    "steps": {"QLinearConv|c3": 30.0 if slow else 20.0, "MaxPool|p": 1.0}})
    return out


def test_series_and_split_table():
    rounds = _rounds()
    kinds = {"c3": "conv 3x3"}
    node_runs = {"c3_token_4": [99.0, 99.0] + [x for r in rounds for x in
                                              [(36.0 if r["ms"][A][0] > 60 else 30.0)] * 2]}
    host_state.attach_ort_steps(rounds, node_runs, 2, 2)
    assert [r["ort_steps"]["c3_token_4"] for r in rounds[:2]] == [30.0, 36.0]
    ser = host_state.series(rounds, kinds)
    assert ser["step conv 3x3"][0][:2] == [20.0, 30.0] and ser["step MaxPool"][0][0] == 1.0
    assert ser["ort step conv 3x3"][0][:2] == [30.0, 36.0] and ser["ort step conv 3x3"][1] is False
    assert ser["probe l2"][1] is True and ser["ratio tinycnn / ort"][0][0] == pytest.approx(50 / 60)
    text = host_state.split_table(rounds, "probe fma", 0.5, kinds)
    rows = {line.split(" fast ")[0].strip(): line for line in text.splitlines()[1:]}
    assert "x 1.383" in rows["probe fma"]                                  # 83 / 60
    assert "x 2.000" in rows["probe l2"] and "x 1.500" in rows["tinycnn int8 run"]
    assert "x 1.200" in rows["onnxruntime int8 run"] and "x 1.200" in rows["ort step conv 3x3"]
    assert "x 1.500" in rows["step conv 3x3"] and "x 1.000" in rows["step MaxPool"]
    # without onnxruntime's nodes in every round: no ort rows
    rounds[0]["ort_steps"] = {}
    assert not any(k.startswith("ort step") for k in host_state.series(rounds, kinds))
