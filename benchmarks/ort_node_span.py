"""What onnxruntime's profiler adds inside each node's "_kernel_time" span: its KernelScope
starts the span, formats the inputs' types and shapes (a stringstream), runs the kernel, formats
the outputs', builds the event's nine string arguments and only then reads the end time, so
every node's profiled duration carries that work.  Measured on chains of N nodes whose kernels
do almost nothing (a 1x1x1x1 tensor): QLinearConv 1x1 with one channel (nine inputs, as the
int8 networks' convolutions) and Relu (one input), 1 thread, one process, plain and profiled
sessions alternating in bursts:
  per node, plain:    (wall of the N-node chain - wall of the 1-node chain) / (N - 1)
  per node, profiled: the mean of its nodes' profiled durations (the profile's whole us, so
                      also from the spans' sum over a run / N)
  in-span cost:       profiled - plain (what a profiled step sum carries per node)
  --shape C,H,W gives the tensors a real size (the same chain, C channels of HxW).
  LD_PRELOAD=/work/main/exports/libcpuid_avx2.so python benchmarks/ort_node_span.py [--nodes 69]"""
import argparse
import json
import os
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def chain(kind, n, c, h, w):
    """a chain of n nodes of `kind` on a [1, c, h, w] tensor (uint8 for qconv, float for relu)"""
    inits, nodes = [], []
    if kind == "qconv":
        rng = np.random.default_rng(0)
        inits += [numpy_helper.from_array(np.array(0.05, np.float32), "s"),
                  numpy_helper.from_array(np.array(128, np.uint8), "zp"),
                  numpy_helper.from_array(np.full(c, 0.01, np.float32), "ws"),
                  numpy_helper.from_array(np.zeros(c, np.int8), "wzp"),
                  numpy_helper.from_array(rng.integers(-20, 20, (c, c, 1, 1)).astype(np.int8), "w"),
                  numpy_helper.from_array(np.zeros(c, np.int32), "b")]
        elem = TensorProto.UINT8
        for i in range(n):
            nodes.append(helper.make_node("QLinearConv", [f"t{i}", "s", "zp", "w", "ws", "wzp", "s",
                                                          "zp", "b"], [f"t{i + 1}"], name=f"n{i}"))
    else:
        elem = TensorProto.FLOAT
        for i in range(n):
            nodes.append(helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"n{i}"))
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("t0", elem, [1, c, h, w])],
                          [helper.make_tensor_value_info(f"t{n}", elem, [1, c, h, w])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString()


def session(model, profiled):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if profiled:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "p")
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=69)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--burst", type=int, default=20)
    ap.add_argument("--shape", default="1,1,1")
    a = ap.parse_args()
    c, h, w = (int(x) for x in a.shape.split(","))
    for kind in ("qconv", "relu"):
        x = (np.full((1, c, h, w), 130, np.uint8) if kind == "qconv"
             else np.ones((1, c, h, w), np.float32))
        sess = {("plain", n): session(chain(kind, n, c, h, w), False) for n in (1, a.nodes)}
        prof = session(chain(kind, a.nodes, c, h, w), True)
        sess[("prof", a.nodes)] = prof
        wall = {k: [] for k in sess}
        for s in sess.values():
            for _ in range(5):
                s.run(None, {"t0": x})
        keys = list(sess)
        for r in range(a.rounds):
            for k in (keys if r % 2 == 0 else keys[::-1]):
                for _ in range(a.burst):
                    t = time.perf_counter()
                    sess[k].run(None, {"t0": x})
                    wall[k].append((time.perf_counter() - t) * 1e6)
        with open(prof.end_profiling()) as f:
            ev = json.load(f)
        durs = [e["dur"] for e in ev if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
        runs = a.rounds * a.burst + 5
        med = {k: float(np.median(v)) for k, v in wall.items()}
        plain = (med[("plain", a.nodes)] - med[("plain", 1)]) / (a.nodes - 1)
        span = sum(durs) / len(durs)
        print(f"{kind} chain of {a.nodes} on [1,{c},{h},{w}], {runs} runs each: plain run "
              f"{med[('plain', a.nodes)]:.1f} us (1 node {med[('plain', 1)]:.1f}), profiled run "
              f"{med[('prof', a.nodes)]:.1f} us; per node: plain {plain:.2f} us, profiled span "
              f"mean {span:.2f} us (median {np.median(durs):.0f}); in-span profiler cost "
              f"{span - plain:.2f} us/node, x {a.nodes} = {(span - plain) * a.nodes:.0f} us/run")


if __name__ == "__main__":
    main()
