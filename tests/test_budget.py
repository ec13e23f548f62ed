"""benchmarks/budget.py's classification and arithmetic on a tiny model (no timings): each ONNX
node's class, the mapping of fused engine steps onto ONNX nodes, the sharing of a step's time,
and the per-network verdicts."""
import sys
from pathlib import Path

import numpy as np
from onnx import helper

from helpers import make_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import budget  # noqa: E402
from tinycnn.analysis import analyze  # noqa: E402


def _w(*shape):
    return np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32) * 0.1


def tiny():
    """stem 3x3 (3 -> 8), ReLU, depthwise 3x3, 1x1 (8 -> 16) + residual-free HardSwish,
    squeeze-and-excitation (pool, 1x1, ReLU, 1x1, Sigmoid, Mul), grouped 3x3 (groups of 4),
    MaxPool, Add, then the head: pool, Flatten, Gemm"""
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w0"], ["a"], name="stem", kernel_shape=[3, 3], pads=[1] * 4),
        n("Relu", ["a"], ["ar"], name="stem_relu"),
        n("Conv", ["ar", "w1"], ["b"], name="dw", kernel_shape=[3, 3], pads=[1] * 4, group=8),
        n("Conv", ["b", "w2"], ["c"], name="pw", kernel_shape=[1, 1]),
        n("HardSwish", ["c"], ["ch"], name="hs"),
        n("GlobalAveragePool", ["ch"], ["s0"], name="se_pool"),
        n("Conv", ["s0", "w3"], ["s1"], name="se_fc1", kernel_shape=[1, 1]),
        n("Relu", ["s1"], ["s2"], name="se_relu"),
        n("Conv", ["s2", "w4"], ["s3"], name="se_fc2", kernel_shape=[1, 1]),
        n("Sigmoid", ["s3"], ["s4"], name="se_gate"),
        n("Mul", ["ch", "s4"], ["d"], name="se_mul"),
        n("Conv", ["d", "w5"], ["e"], name="grp", kernel_shape=[3, 3], pads=[1] * 4, group=4),
        n("MaxPool", ["e"], ["f"], name="mp", kernel_shape=[2, 2], strides=[2, 2]),
        n("Conv", ["f", "w6"], ["g"], name="k3", kernel_shape=[3, 3], pads=[1] * 4),
        n("Add", ["f", "g"], ["h"], name="add"),
        n("GlobalAveragePool", ["h"], ["p"], name="head_pool"),
        n("Flatten", ["p"], ["q"], name="flat"),
        n("Gemm", ["q", "w7"], ["y"], name="fc", transB=1),
    ]
    inits = {"w0": _w(8, 3, 3, 3), "w1": _w(8, 1, 3, 3), "w2": _w(16, 8, 1, 1),
             "w3": _w(4, 16, 1, 1), "w4": _w(16, 4, 1, 1), "w5": _w(16, 4, 3, 3),
             "w6": _w(16, 16, 3, 3), "w7": _w(10, 16)}
    return make_model(nodes, [("x", [1, 3, 16, 16])], [("y", [1, 10])], inits, opset=17)


def test_classes_and_flops():
    layers = analyze(tiny().SerializeToString()).layers
    cls = budget.classify(layers)
    assert cls == {"stem": "stem", "stem_relu": "eltwise", "dw": "depthwise", "pw": "1x1",
                   "hs": "eltwise", "se_pool": "se", "se_fc1": "se", "se_relu": "se",
                   "se_fc2": "se", "se_gate": "se", "se_mul": "se", "grp": "grouped",
                   "mp": "pool", "k3": "conv", "add": "eltwise", "head_pool": "head",
                   "flat": "head", "fc": "head"}
    macs = {L.name: L.macs for L in layers}
    assert macs["stem"] == 8 * 3 * 9 * 256 and macs["dw"] == 8 * 9 * 256
    assert macs["grp"] == 16 * 4 * 9 * 256 and macs["pw"] == 16 * 8 * 256
    by_name = {L.name: L for L in layers}
    # inputs (weights too) and output, float32
    assert budget.node_bytes(by_name["pw"]) == 4 * (8 * 256 + 16 * 8 + 16 * 256)


def test_cover_and_split():
    layers = analyze(tiny().SerializeToString()).layers
    cls = budget.classify(layers)
    # a fused engine: stem+relu, dw+pw+hs (an inverted residual's pieces), the SE at once,
    # the rest one step each; a reorder step that claims nothing
    claims = {"stem": {"ar"}, "dw": {"ch"}, "se_pool": {"d"}, "grp": {"e"}, "mp": {"f"},
              "k3": {"h"}, "reorder": set(), "head_pool": {"p"}, "fc": {"y"}}
    cov = budget.cover(claims, layers)
    assert sorted(cov["stem"]) == ["stem", "stem_relu"]
    assert sorted(cov["dw"]) == ["dw", "hs", "pw"]
    assert sorted(cov["se_pool"]) == ["se_fc1", "se_fc2", "se_gate", "se_mul", "se_pool",
                                      "se_relu"]
    assert sorted(cov["k3"]) == ["add", "k3"] and cov["reorder"] == []
    assert budget.named_after("se_mul/QuickGeluFusion/", layers) == ["se_mul"]
    assert budget.named_after("ReorderOutput", layers) == []
    # flat is a view: no engine step claims "q", so the Gemm's walk takes it
    assert sorted(cov["fc"]) == ["fc", "flat"]
    flops = {L.name: 2 * L.macs for L in layers}
    unfused = {"dw": 1.0, "pw": 3.0, "hs": 4.0, "stem": 2.0, "stem_relu": 2.0, "k3": 1.0,
               "add": 1.0}
    per = budget.split({"dw": 8.0, "stem": 5.0, "k3": 2.0, "reorder": 0.5, "mp": 1.0},
                       cov, unfused, flops, cls)
    # element-wise nodes in a step with a convolution weigh nothing: the epilogue
    assert per["dw"] == 2.0 and per["pw"] == 6.0 and per["hs"] == 0.0
    assert per["stem"] == 5.0 and per["k3"] == 2.0 and per["add"] == 0.0
    assert per[None] == 0.5 and per["mp"] == 1.0
    c = budget.by_class(per, cls)
    assert c == {"depthwise": 2.0, "1x1": 6.0, "eltwise": 0.0, "stem": 5.0, "conv": 2.0,
                 "layout": 0.5, "pool": 1.0}
    # no unfused times: by FLOPs
    per = budget.split({"dw": 9.0}, {"dw": ["dw", "pw"]}, {}, flops, cls)
    assert abs(per["dw"] / per["pw"] - flops["dw"] / flops["pw"]) < 1e-12


def test_summarize_verdicts():
    roof = {"1x1": 4.0, "depthwise": 0.5, "eltwise": 0.7}
    # onnxruntime 10 ms: target 8; the 1x1 layers' FLOPs at peak 4 ms
    s = budget.summarize({"1x1": 5.0, "depthwise": 1.5, "eltwise": 0.2}, roof, 10.0, 7.9)
    assert s["verdict"] == "met" and abs(s["target_ms"] - 8.0) < 1e-12
    # the measured ratio (median of rounds) decides, when given
    assert budget.summarize({"1x1": 5.0}, roof, 10.0, 7.9, ratio=0.81)["verdict"] != "met"
    s = budget.summarize({"1x1": 5.5, "depthwise": 2.0, "eltwise": 0.5}, roof, 10.0, 8.5)
    assert abs(s["gemm_peak_ms"] - 4.0) < 1e-9 and abs(s["tc_rest_ms"] - 3.0) < 1e-12
    assert abs(s["headroom_ms"] - 4.0) < 1e-9 and abs(s["margin_ms"] - 1.0) < 1e-9
    assert abs(s["need_eff"] - 0.8) < 1e-9 and s["verdict"] == "GEMM"
    # floor: GEMM roofline + the rest at min(ours, roofline) = 4 + 0.5 + 0.5
    assert abs(s["floor_ms"] - 5.0) < 1e-9
    s = budget.summarize({"1x1": 5.0, "depthwise": 3.5, "eltwise": 0.5}, roof, 10.0, 9.0)
    # the rest takes 4 ms of the 8: GEMMs at 100% of peak needed, over the 90% ceiling
    assert abs(s["margin_ms"]) < 1e-9 and abs(s["need_eff"] - 1.0) < 1e-9
    assert abs(s["margin_ceiling_ms"] + 4.0 / 0.9 - 4.0) < 1e-9
    assert s["verdict"] == "GEMM+rest"
    s = budget.summarize({"1x1": 9.0}, {"1x1": 9.0}, 10.0, 9.5)
    assert s["verdict"] == "impossible" and s["floor_ms"] > s["target_ms"]
    # a class faster than its FLOPs at peak (Winograd): its ideal is tinycnn's time
    s = budget.summarize({"conv": 2.0, "1x1": 5.0}, {"conv": 3.0, "1x1": 4.0}, 10.0, 7.5)
    assert abs(s["gemm_peak_ms"] - 6.0) < 1e-9 and abs(s["floor_ms"] - 6.0) < 1e-9


def test_bandwidth_for():
    bw = {1 << 14: 30.0, 1 << 18: 90.0, 1 << 22: 80.0, 1 << 26: 5.0}
    assert budget.bandwidth_for(bw, 1000) == 90.0      # the best size holding it
    assert budget.bandwidth_for(bw, 1 << 20) == 80.0
    assert budget.bandwidth_for(bw, 1 << 30) == 5.0


def test_levers():
    classes = {"1x1": {"tc": 5.0, "ort": 5.5}, "depthwise": {"tc": 1.2, "ort": 1.3},
               "se": {"tc": 0.2, "ort": 0.6}}
    roof = {"1x1": 4.5, "depthwise": 0.4, "se": 0.1}
    over, above = budget.levers(classes, roof)
    # 1x1: 5.0 - 0.8 x 5.5 = 0.6 over; depthwise 1.2 - 0.4 = 0.8 above its ideal (a GEMM class
    # is not a candidate for the second)
    assert over[0] == "1x1" and abs(over[1] - 0.6) < 1e-9
    assert above[0] == "depthwise" and abs(above[1] - 0.8) < 1e-9


def test_roofline_weights_cold():
    layers = analyze(tiny().SerializeToString()).layers
    pw = {L.name: L for L in layers}["pw"]
    assert budget.node_bytes(pw, {"w2"}) == (4 * (8 * 256 + 16 * 256), 4 * 16 * 8)
    bw = {1 << 14: 100.0, 1 << 20: 50.0, 1 << 26: 10.0}
    # GB/s = bytes per ns; ms = ns / 1e6.  Node a: 1e6 FLOPs at 100 GFLOP/s = 10 us, 4000
    # activation bytes at 100 GB/s = 40 ns, 1 MB of weights at 50 (warm) or 10 GB/s (cold,
    # the network's 2.5 MB of weights at the 64 MiB size)
    nodes = [("1x1", 1e6, 4000, 1_000_000), ("depthwise", 0, 8000, 1_500_000)]
    warm = budget.roofline(nodes, 100.0, bw)
    assert abs(warm["1x1"] - 1_004_000 / 50 / 1e6) < 1e-12
    cold = budget.roofline(nodes, 100.0, bw, cold=True)
    assert abs(cold["1x1"] - (4000 / 100 + 1_000_000 / 10) / 1e6) < 1e-12
    assert abs(cold["depthwise"] - (8000 / 100 + 1_500_000 / 10) / 1e6) < 1e-12


def test_print_nodes(capsys):
    res = {"model": "m", "node_names": ["a", "b", "c"],
           "nodes": [("1x1", 2e6, 0, 0), ("depthwise", 1e5, 0, 0), ("1x1", 4e6, 0, 0)],
           "per_node": {"tc": {"a": 0.03, "b": 0.01, "c": 0.05}, "ort": {"a": 0.02, "c": 0.05}}}
    budget.print_nodes(res, "1x1", 100.0)
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [r.split()[0] for r in rows] == ["a", "c"]
    # a: 2 MFLOP at 100 GFLOP/s = 0.02 ms; tinycnn 0.03 = 1.5x ORT and 1.5x its peak time
    assert rows[0].split()[1:] == ["0.030", "0.020", "1.50", "0.020", "1.50"]
