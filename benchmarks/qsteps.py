"""Per step of a network, tinycnn against onnxruntime in one process, 1 thread: the minimum
(or --stat median) over many runs of each step's time (tinycnn: the thread's CPU clock around
each call of a profiled run, the steps of one node summed; onnxruntime: its profiler's per-node
times, wall clock, whose minimum a loaded host moves little).  The minima of two engines'
steps compare where the profilers' sums do not (a wall-clock profile on a shared host inflates
the small steps).  Steps are matched by the ONNX
node name they start with (onnxruntime's fused nodes keep the first node's name plus a suffix).
onnxruntime's node times carry its profiler's own work (its KernelScope formats the inputs' and
outputs' shapes and builds the event's strings inside the timed span): >= 3.1 us a QLinearConv
node (ort_node_span.py), 0.22 ms of MobileNetV2 int8's 6.3 ms; --ort-span-us takes it off each
node (the steps' sums then match the whole runs' ratio, qwhole_gap.py).
With the AVX2 emulation env:
  LD_PRELOAD=.../libcpuid_avx2.so CPUID_AVX2_SITES=... TINYCNN_ISA=avx2 PYTHONPATH=<checkout>:<ort_avx2> \
  python benchmarks/qsteps.py MODEL.onnx [--rounds 20 --runs 10] [--against CHECKOUT] [--input photo]
      [--ort-span-us 3.14] [--fold-adds]"""
import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time

import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinycnn  # noqa: E402
from bench import INPUTS, input_feed  # noqa: E402
from subgraph_shapes import other_build  # noqa: E402


def thread_clock_runs(sess, feed, runs):
    """runs profiled runs of a tinycnn session, each step timed on the thread's CPU clock
    (its profiler reads time.perf_counter_ns): yields each run's records"""
    real = time.perf_counter_ns
    time.perf_counter_ns = time.thread_time_ns
    try:
        for _ in range(runs):
            yield sess.run_profiled(feed)[1]
    finally:
        time.perf_counter_ns = real


def tc_times(sess, feed, runs, all_):
    """each node's time per run (the sum of its steps) appended to all_[node]"""
    for recs in thread_clock_runs(sess, feed, runs):
        per = collections.defaultdict(float)
        for r in recs:
            per[r["node"]] += r["seconds"] * 1e3
        for k, v in per.items():
            all_.setdefault(k, []).append(v)


def _add_producers(model):
    """{Add node name: the node producing its first input, past QuantizeLinear and
    DequantizeLinear} of an ONNX model (tinycnn fuses a residual add into that convolution)"""
    import onnx
    g = onnx.load(model, load_external_data=False).graph
    prod = {o: nd for nd in g.node for o in nd.output}
    out = {}
    for nd in g.node:
        if nd.op_type != "Add" or not nd.input:
            continue
        p = prod.get(nd.input[0])
        while p is not None and p.op_type in ("QuantizeLinear", "DequantizeLinear"):
            p = prod.get(p.input[0])
        if p is not None:
            out[nd.name] = p.name
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--against", metavar="CHECKOUT")
    ap.add_argument("--stat", choices=("min", "median"), default="min")
    ap.add_argument("--input", choices=INPUTS, default="relu",
                    help="the feed (bench.input_feed): default max(noise, 0)")
    ap.add_argument("--ort-span-us", type=float, default=0.0,
                    help="us taken off each onnxruntime node time: its profiler's in-span work "
                         "(ort_node_span.py; default 0, the times as profiled)")
    ap.add_argument("--fold-adds", action="store_true",
                    help="count each onnxruntime Add node (its QLinearAdd) in the step of the "
                         "node producing its first input through Q/DQ: tinycnn's convolution "
                         "with the residual add fused (ResNet's conv3)")
    a = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "p")
    os_ = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    i = os_.get_inputs()[0]
    feed = {i.name: input_feed(a.input, [d if isinstance(d, int) else 1 for d in i.shape])}
    pkgs = [("tinycnn", tinycnn)] + ([("against", other_build(a.against))] if a.against else [])
    tcs = {}
    for k, pkg in pkgs:
        o = pkg.SessionOptions()
        o.intra_op_num_threads = 1
        tcs[k] = pkg.InferenceSession(a.model, o)
    mins = {k: {} for k in tcs}
    for r in range(a.rounds):
        for _ in range(a.runs):
            os_.run(None, feed)
        for k, s in (tcs.items() if r % 2 == 0 else reversed(list(tcs.items()))):
            tc_times(s, feed, a.runs, mins[k])
    stat = min if a.stat == "min" else statistics.median
    mins = {k: {n: stat(v) for n, v in d.items()} for k, d in mins.items()}
    ev = json.load(open(os_.end_profiling()))
    oall = {}
    for e in ev:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            oall.setdefault(e["name"][:-len("_kernel_time")], []).append(
                (e["dur"] - a.ort_span_us) / 1e3)
    om = {n: stat(v) for n, v in oall.items()}
    # onnxruntime's node -> the tinycnn step whose name is its prefix (longest)
    keys = sorted(mins["tinycnn"], key=len, reverse=True)
    og = collections.defaultdict(float)
    unmatched = 0.0
    fold = _add_producers(a.model) if a.fold_adds else {}
    for n, t in om.items():
        k = next((k for k in keys if n.startswith(k)), None)
        if k is None and fold.get(n) in mins["tinycnn"]:
            k = fold[n]
        if k is None:
            unmatched += t
        else:
            og[k] += t
    tot = collections.Counter()
    hdr = f"{'step':52s} {'tinycnn':>8s}" + (" against" if a.against else "") + f" {'ort':>8s} {'tc/ort':>6s}"
    print(hdr)
    for k in mins["tinycnn"]:
        t = mins["tinycnn"][k]
        o = og.get(k, 0.0)
        tot["tinycnn"] += t
        tot["ort"] += o
        line = f"{k[-52:]:52s} {t:8.3f}"
        if a.against:
            tot["against"] += mins["against"].get(k, 0.0)
            line += f" {mins['against'].get(k, 0.0):8.3f}"
        print(line + f" {o:8.3f} {t / o if o else float('nan'):6.2f}")
    print(f"{'SUM (' + a.stat + ')':52s} {tot['tinycnn']:8.3f}" + (f" {tot['against']:8.3f}" if a.against else "")
          + f" {tot['ort']:8.3f} {tot['tinycnn'] / tot['ort']:6.2f}   (ort unmatched {unmatched:.3f}: "
          f"with it {tot['tinycnn'] / (tot['ort'] + unmatched):.2f}; tinycnn's steps hold what "
          "it fused, onnxruntime's residual QLinearAdds among them)")


if __name__ == "__main__":
    main()
