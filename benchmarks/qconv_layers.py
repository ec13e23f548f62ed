"""Each convolution of a QDQ int8 network alone (cut from the quantized tensor before its
DequantizeLinear to the QuantizeLinear after it, its weights kept), fed the activations a run
of the whole network gives there (the share of bytes a U7S8 split sends to its correction pass
depends on them), 1 thread, one process.  Only the convolution's own step is timed, not the
layout changes at the cut's ends: tinycnn's QLinearConv step on the thread's CPU clock (a
profiled run), onnxruntime's QLinearConv node by its profiler; the minimum of each over
--rounds x --runs runs, rounds alternating.  With --against CHECKOUT, that checkout's build too
(a kernel change's A/B per layer; on the Zen 4 host loaded at 8, minima of 120 runs still
moved by 5-20% between two runs of one layer: repeat, and decide on whole networks with
subgraph_shapes.py --against).  With the AVX2 emulation env:
  LD_PRELOAD=.../libcpuid_avx2.so CPUID_AVX2_SITES=... TINYCNN_ISA=avx2 PYTHONPATH=<checkout>:<ort_avx2> \
  python benchmarks/qconv_layers.py MODEL-int8-qdq.onnx [--only SUBSTR] [--against CHECKOUT]"""
import argparse
import importlib
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import shape_inference

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
from bench import INPUTS, input_feed  # noqa: E402
from qsteps import thread_clock_runs  # noqa: E402
from subgraph_shapes import other_build  # noqa: E402


def tc_conv_min(sess, feed, runs, best):
    """the minimum time (ms) of the session's convolution step over runs profiled runs"""
    for recs in thread_clock_runs(sess, feed, runs):
        best = min(best, sum(r["seconds"] for r in recs if r["op"].startswith("QLinearConv")) * 1e3)
    return best


def ort_conv_min(path):
    ev = json.load(open(path))
    ts = [e["dur"] / 1e3 for e in ev if e.get("cat") == "Node" and
          e.get("args", {}).get("op_name") == "QLinearConv"]
    return min(ts) if ts else float("nan")


def conv_blocks(model):
    """(name, quantized input, quantized output) of each Conv between DQ and Q"""
    prod = {o: n for n in model.graph.node for o in n.output}
    cons = {}
    for n in model.graph.node:
        for i in n.input:
            cons.setdefault(i, []).append(n)
    out = []
    for n in model.graph.node:
        if n.op_type != "Conv":
            continue
        dq = prod.get(n.input[0])
        if dq is None or dq.op_type != "DequantizeLinear":
            continue
        t, y = dq.input[0], n.output[0]
        while len(cons.get(y, [])) == 1 and cons[y][0].op_type in ("Relu", "Clip"):
            y = cons[y][0].output[0]
        qs = [c for c in cons.get(y, []) if c.op_type == "QuantizeLinear"]
        if len(qs) == 1:
            out.append((n.name or y, t, qs[0].output[0]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--only", help="layers whose name contains this")
    ap.add_argument("--against", metavar="CHECKOUT")
    ap.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE",
                    help="a constant of this build changed first (a threshold A/B against "
                    "--against of the same checkout), e.g. ops.qmatmul._U7S8_MIN_CHANNELS=16")
    ap.add_argument("--input", choices=INPUTS, default="relu",
                    help="the network's feed (bench.input_feed): default max(noise, 0)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    for item in a.set:
        name, value = item.split("=", 1)
        mod, attr = name.rsplit(".", 1)
        setattr(importlib.import_module("tinycnn." + mod), attr, int(value))
    m = shape_inference.infer_shapes(onnx.load(a.model))
    blocks = conv_blocks(m)
    if a.only:
        blocks = [b for b in blocks if a.only in b[0]]
    # the activations at each block's input: one run of the whole network
    full = onnx.load(a.model)
    have = {o.name for o in full.graph.output}
    vi = {v.name: v for v in m.graph.value_info}
    for _, t, _ in blocks:
        if t not in have and t in vi:
            full.graph.output.append(vi[t])
            have.add(t)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(full.SerializeToString(), so, providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    x = input_feed(a.input, [d if isinstance(d, int) else 1 for d in i.shape])
    acts = dict(zip([o.name for o in s.get_outputs()], s.run(None, {i.name: x})))
    pkgs = [("tinycnn", tinycnn)] + ([("against", other_build(a.against))] if a.against else [])
    tmpd = tempfile.mkdtemp()
    inferred = os.path.join(tmpd, "inferred.onnx")
    onnx.save(m, inferred)
    sums = {}
    for name, t, y in blocks:
        sub = os.path.join(tmpd, "sub.onnx")
        onnx.utils.extract_model(inferred, sub, [t], [y])
        po = ort.SessionOptions()
        po.intra_op_num_threads = 1
        po.inter_op_num_threads = 1
        po.enable_profiling = True
        po.profile_file_prefix = os.path.join(tmpd, "p")
        eng = {"ort": ort.InferenceSession(sub, po, providers=["CPUExecutionProvider"])}
        for k, pkg in pkgs:
            ts = pkg.SessionOptions()
            ts.intra_op_num_threads = 1
            eng[k] = pkg.InferenceSession(sub, ts)
        feed = {t: acts[t]}
        ys = {k: e.run(None, feed)[0] for k, e in eng.items()}
        best = {k: 1e9 for k in eng}
        order = list(eng)
        for r in range(a.rounds):
            for k in order if r % 2 == 0 else order[::-1]:
                if k == "ort":
                    for _ in range(a.runs):
                        eng[k].run(None, feed)
                else:
                    best[k] = tc_conv_min(eng[k], feed, a.runs, best[k])
        best["ort"] = ort_conv_min(eng["ort"].end_profiling())
        for k, v in best.items():
            sums[k] = sums.get(k, 0.0) + v
        conv = next(n for n in m.graph.node if (n.name or n.output[0]) == name)
        attrs = {at.name: onnx.helper.get_attribute_value(at) for at in conv.attribute}
        ks = attrs.get("kernel_shape", [0])[0]
        shape = (f"{tuple(acts[t].shape[1:])}->{ys['ort'].shape[1]} k{ks} "
                 f"s{attrs.get('strides', [1])[0]} g{attrs.get('group', 1)}")
        ms = " ".join(f"{k} {v * 1e3:7.1f}" for k, v in best.items())
        line = f"{name[-28:]:28s} {shape:30s} us: {ms}  tc/ort {best['tinycnn'] / best['ort']:5.2f}"
        if a.against:
            same = np.array_equal(ys["tinycnn"], ys["against"])
            line += f"  tc/against {best['tinycnn'] / best['against']:5.3f} same={same}"
        print(line, flush=True)
    print("sum us: " + " ".join(f"{k} {v * 1e3:.1f}" for k, v in sums.items())
          + f"  tc/ort {sums['tinycnn'] / sums['ort']:.3f}"
          + (f"  tc/against {sums['tinycnn'] / sums['against']:.3f}" if a.against else ""))


if __name__ == "__main__":
    main()
